//! CSV rendering: one long, tidy table (`section,key,class,metric,value`) that loads into any
//! spreadsheet or dataframe without knowing the report's shape.

use super::Report;
use crate::analysis::ClassBytes;
use crate::classify::Class;

pub(super) fn esc(s: &str) -> String {
    super::escape::csv(s).into_owned()
}

fn classes(out: &mut String, section: &str, key: &str, c: &ClassBytes) {
    for class in Class::ALL {
        let ud = c.get(class);
        for (m, v) in [("upload_bytes", ud.upload), ("download_bytes", ud.download)] {
            out.push_str(&format!(
                "{},{},{},{m},{v}\n",
                esc(section),
                esc(key),
                class.name()
            ));
        }
    }
}

pub fn render(r: &Report) -> String {
    let a = &r.analysis;
    let mut out = format!("{}\n", super::own::csv_head::ANALYZE);
    classes(&mut out, "total", "all", &a.classes);
    for g in &a.gateways {
        classes(&mut out, "gateway", &g.eni, &g.classes);
    }
    for d in &a.by_day {
        classes(&mut out, "day", &d.day, &d.classes);
    }
    for (name, rows) in [
        ("subnet", &a.by_subnet),
        ("az", &a.by_az),
        ("ecs-service", &a.by_ecs_service),
    ] {
        for g in rows {
            classes(&mut out, name, &g.key, &g.classes);
        }
    }
    for c in &a.top_clients {
        classes(&mut out, "client", &c.ip, &c.classes);
    }
    let m = |out: &mut String, key: &str, metric: &str, v: String| {
        out.push_str(&format!("{},{},,{},{}\n", "cost", esc(key), esc(metric), v));
    };
    let c = &r.cost;
    m(
        &mut out,
        "nat-processing",
        "usd_period",
        format!("{:.4}", c.nat_processing.period),
    );
    m(
        &mut out,
        "nat-processing",
        "usd_per_30_days",
        format!("{:.4}", c.nat_processing.per_30_days),
    );
    m(
        &mut out,
        "s3-gateway-endpoint-savings",
        "usd_period",
        format!("{:.4}", c.s3_gateway_endpoint_savings.period),
    );
    m(
        &mut out,
        "s3-gateway-endpoint-savings",
        "usd_per_30_days",
        format!("{:.4}", c.s3_gateway_endpoint_savings.per_30_days),
    );
    m(
        &mut out,
        "dynamodb-gateway-endpoint-savings",
        "usd_per_30_days",
        format!("{:.4}", c.dynamodb_gateway_endpoint_savings.per_30_days),
    );
    for (key, money) in [
        ("ecr-layers", &c.ecr_layer_share_of_savings),
        ("cross-az", &c.cross_az),
    ] {
        m(&mut out, key, "usd_period", format!("{:.4}", money.period));
        m(
            &mut out,
            key,
            "usd_per_30_days",
            format!("{:.4}", money.per_30_days),
        );
    }
    // volumes apart from money: the cost section holds only dollars
    // (an ECR estimate that is unknown has no rows: no figure stands for it)
    let ecr_known = a.ecr.basis.is_known();
    for (key, metric, v) in [
        ("ecr-layers", "bytes", a.ecr.bytes),
        ("ecr-layers", "pulls", a.ecr.pulls),
        ("cross-az", "bytes", a.cross_az.bytes),
    ] {
        if key == "ecr-layers" && !ecr_known {
            continue;
        }
        out.push_str(&format!("volume,{key},,{metric},{v}\n"));
    }
    out.push_str(&format!(
        "coverage,period,,days,{:.4}\ncoverage,logs,,days,{:.4}\n",
        a.period.days, a.period.covered_days
    ));
    let q = &a.quality.lines;
    for (k, v) in [
        ("lines", q.lines),
        ("headers", q.headers),
        ("blank", q.blank),
        ("malformed", q.malformed),
        ("nodata", q.nodata),
        ("skipdata", q.skipdata),
        ("rejected", q.rejected),
        ("outside_time", q.outside_time),
        ("undated", q.undated),
        ("counted", q.counted),
        ("duplicate_flow_log", q.duplicate_flow_log),
    ] {
        if k != "duplicate_flow_log" || v > 0 {
            out.push_str(&format!("quality,lines,,{k},{v}\n"));
        }
    }
    out
}
