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
    mark_rows(r, &mut out);
    out
}

/// The marks that say the figures may be wrong, which a table read by a program would
/// otherwise not carry (the exit code and stderr do): the inputs not read in full, in all
/// and by kind of failure; the records read more than once; the hours of each gap that
/// splits the period; a period whose traffic its logs show none of (none of it covered, or
/// its records all REJECT). No row where the run carries no such mark.
fn mark_rows(r: &Report, out: &mut String) {
    let q = &r.analysis.quality;
    if let Some(i) = &q.incomplete {
        out.push_str(&format!("quality,incomplete,all,inputs,{}\n", i.inputs));
        out.push_str(&format!("quality,incomplete,all,bytes,{}\n", i.bytes));
        for k in &i.by_kind {
            let kind = k.kind.as_str();
            out.push_str(&format!("quality,incomplete,{kind},inputs,{}\n", k.inputs));
        }
    }
    if let Some(rep) = &q.repeated {
        for (m, v) in [
            ("estimated_records", rep.estimated_records),
            ("estimated_bytes", rep.estimated_bytes),
            ("share_permille", rep.share_permille),
        ] {
            out.push_str(&format!("quality,repeated,,{m},{v}\n"));
        }
        if let Some(t) = &rep.recorded_twice {
            let share = t.share_permille;
            out.push_str(&format!("quality,recorded-twice,,share_permille,{share}\n"));
        }
    }
    for g in r.analysis.period.split() {
        let from = crate::time::format_instant(g.from);
        out.push_str(&format!("quality,split,{from},hours,{}\n", g.hours));
    }
    if crate::report::uncovered_summary(&r.analysis).is_some() {
        let days = r.analysis.period.days;
        out.push_str(&format!("quality,uncovered,,period_days,{days:.4}\n"));
    }
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
        classes(out, "client", &c.name(), &c.classes);
    }
}

/// The money: NAT processing, the gateway endpoints' savings, the ECR layers' share, cross-AZ.
/// Where the logs cover no time (no record dated) nothing projects, and the per-30-day rows
/// are left out, as an unknown ECR estimate's are: no figure stands for them.
fn cost_rows(r: &Report, out: &mut String) {
    let c = &r.cost;
    let m = |out: &mut String, key: &str, metric: &str, v: String| {
        if metric == "usd_per_30_days" && !c.projects() {
            return;
        }
        out.push_str(&format!("{},{},,{},{}\n", "cost", esc(key), esc(metric), v));
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{FailureCount, Gap, Incomplete, Repeated};
    use crate::source::FailureKind;

    /// Logs that cover no time project nothing: no per-30-day row, every other row kept.
    #[test]
    fn no_row_per_30_days_where_no_record_is_dated() {
        let mut r = crate::report::sample();
        let dated = render(&r);
        let per_30 = |t: &str| {
            t.lines()
                .filter(|l| l.contains(",usd_per_30_days,"))
                .count()
        };
        assert_eq!(per_30(&dated), 5);
        (r.analysis.period.covered_days, r.cost.covered_days) = (0.0, 0.0);
        let instant = render(&r);
        assert_eq!(per_30(&instant), 0);
        assert_eq!(instant.lines().count(), dated.lines().count() - 5);
        // and where no record in the period asked for is dated, the mark's row
        (r.analysis.period.first_start, r.analysis.period.last_end) = (None, None);
        let undated = render(&r);
        assert_eq!(undated.lines().count(), dated.lines().count() - 5 + 1);
        assert!(undated.ends_with("quality,uncovered,,period_days,1.0000\n"));
        assert!(undated.contains("coverage,logs,,days,0.0000\n"));
    }

    /// The marks a run carries are rows of the table, none where it carries none.
    #[test]
    fn the_marks_of_a_run_are_rows() {
        let marks = |r: &Report| -> Vec<String> {
            (render(r).lines())
                .filter(|l| {
                    [
                        "incomplete",
                        "repeated",
                        "recorded-twice",
                        "split",
                        "uncovered",
                    ]
                    .iter()
                    .any(|m| l.starts_with(&format!("quality,{m},")))
                })
                .map(str::to_string)
                .collect()
        };
        let mut r = crate::report::sample();
        assert!(marks(&r).is_empty());
        let q = &mut r.analysis.quality;
        q.incomplete = Some(Incomplete {
            inputs: 3,
            of_inputs: 9,
            bytes: 1234,
            first_key_time: None,
            last_key_time: None,
            by_kind: vec![
                FailureCount {
                    kind: FailureKind::LackingFields,
                    inputs: 2,
                    example: "a, \"b\"".into(),
                },
                FailureCount {
                    kind: FailureKind::CutShort,
                    inputs: 1,
                    example: "c".into(),
                },
            ],
        });
        q.repeated = Some(Repeated {
            sample_rate: 128,
            sampled_lines: 2,
            sampled_copies: 2,
            estimated_records: 256,
            estimated_bytes: 4096,
            share_permille: 12,
            examples: vec![],
            recorded_twice: None,
        });
        r.analysis.period.gaps = vec![
            Gap {
                from: 1_788_220_800,
                hours: 2000,
            },
            Gap {
                from: 1_790_000_000,
                hours: 7,
            },
        ];
        assert_eq!(
            marks(&r),
            [
                "quality,incomplete,all,inputs,3",
                "quality,incomplete,all,bytes,1234",
                "quality,incomplete,lacking-fields,inputs,2",
                "quality,incomplete,cut-short,inputs,1",
                "quality,repeated,,estimated_records,256",
                "quality,repeated,,estimated_bytes,4096",
                "quality,repeated,,share_permille,12",
                "quality,split,2026-09-01T00:00:00Z,hours,2000",
            ]
        );
    }
}
