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
                class.as_str()
            ));
        }
    }
}

/// The report as one long table, its rows by section.
pub fn render(r: &Report) -> String {
    let mut out = format!("{}\n", super::own::csv_head::ANALYZE);
    class_rows(r, &mut out);
    cost_rows(r, &mut out);
    volume_and_quality_rows(r, &mut out);
    out
}

/// The bytes by class of the total, each gateway, day, subnet, AZ, ECS service and top client.
fn class_rows(r: &Report, out: &mut String) {
    let a = &r.analysis;
    classes(out, "total", "all", &a.classes);
    for g in &a.gateways {
        classes(out, "gateway", &g.eni, &g.classes);
    }
    for d in &a.by_day {
        classes(out, "day", &d.day, &d.classes);
    }
    for (name, rows) in [
        ("subnet", &a.by_subnet),
        ("az", &a.by_az),
        ("ecs-service", &a.by_ecs_service),
    ] {
        for g in rows {
            classes(out, name, &g.key, &g.classes);
        }
    }
    for c in &a.top_clients {
        classes(out, "client", &c.ip, &c.classes);
    }
}

/// The money: NAT processing, the gateway endpoints' savings, the ECR layers' share, cross-AZ.
fn cost_rows(r: &Report, out: &mut String) {
    let m = |out: &mut String, key: &str, metric: &str, v: String| {
        out.push_str(&format!("{},{},,{},{}\n", "cost", esc(key), esc(metric), v));
    };
    let c = &r.cost;
    m(
        out,
        "nat-processing",
        "usd_period",
        format!("{:.4}", c.nat_processing.period),
    );
    m(
        out,
        "nat-processing",
        "usd_per_30_days",
        format!("{:.4}", c.nat_processing.per_30_days),
    );
    m(
        out,
        "s3-gateway-endpoint-savings",
        "usd_period",
        format!("{:.4}", c.s3_gateway_endpoint_savings.period),
    );
    m(
        out,
        "s3-gateway-endpoint-savings",
        "usd_per_30_days",
        format!("{:.4}", c.s3_gateway_endpoint_savings.per_30_days),
    );
    m(
        out,
        "dynamodb-gateway-endpoint-savings",
        "usd_per_30_days",
        format!("{:.4}", c.dynamodb_gateway_endpoint_savings.per_30_days),
    );
    for (key, money) in [
        ("ecr-layers", &c.ecr_layer_share_of_savings),
        ("cross-az", &c.cross_az),
    ] {
        m(out, key, "usd_period", format!("{:.4}", money.period));
        m(
            out,
            key,
            "usd_per_30_days",
            format!("{:.4}", money.per_30_days),
        );
    }
}

/// Volumes apart from money (the cost rows hold only dollars), the days covered, and the
/// lines' accounting.
fn volume_and_quality_rows(r: &Report, out: &mut String) {
    let a = &r.analysis;
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
}
