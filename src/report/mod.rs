//! Report stage: the versioned JSON document (the contract for pipelines) and its renderings
//! as a terminal table, Markdown and CSV; the before/after comparison; the monthly report
//! folder (Markdown, HTML, CSV, SVG charts); and those outputs recognised where they are found
//! among the inputs ([`own`]). Pure: renders to strings.

pub mod charts;
pub mod compare;
mod csv;
pub mod escape;
pub mod html;
pub mod monthly;
pub mod own;
pub mod plan;
mod text;

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::cost::Cost;

/// The JSON schema identifier; bump the number on any incompatible change.
pub const SCHEMA: &str = "flowcost.analyze/1";

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

/// The ip-ranges document used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangesUsed {
    pub source: String,
    pub sync_token: String,
    pub create_date: String,
}

/// What went in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub files: u64,
    pub bytes: u64,
    pub ip_ranges: RangesUsed,
    pub since: Option<String>,
    pub until: Option<String>,
    pub region_flag: Option<String>,
    /// What was listed under each `s3://` argument.
    #[serde(default)]
    pub s3: Vec<crate::source::s3::Listing>,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    pub flowcost_version: String,
    pub inputs: Inputs,
    pub analysis: Analysis,
    pub cost: Cost,
    /// What the VPC inventory (`--inventory`) adds: gateways by id, route tables, the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<crate::plan::InventoryReport>,
    /// The bill beside the flow logs (`--cur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<crate::bill::Reconciliation>,
}

impl Report {
    pub fn new(inputs: Inputs, analysis: Analysis, cost: Cost) -> Report {
        Report {
            schema: SCHEMA.to_string(),
            flowcost_version: env!("CARGO_PKG_VERSION").to_string(),
            inputs,
            analysis,
            cost,
            inventory: None,
            reconciliation: None,
        }
    }

    /// Render in a format.
    pub fn render(&self, f: Format) -> String {
        match f {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self).expect("report serialises");
                s.push('\n');
                s
            }
            Format::Table => escape::clean_lines(text::render(self, false)),
            Format::Markdown => escape::clean_lines(text::render(self, true)),
            Format::Csv => csv::render(self),
        }
    }
}

/// What an incomplete run missed, for people: how many inputs, why, and the time they
/// would have covered (the first line of every human rendering, and the stderr summary).
pub fn incomplete_summary(i: &crate::analysis::Incomplete) -> String {
    let mut s = format!(
        "INCOMPLETE: {} of {} inputs ({}) could not be read in full, so every figure is a lower bound",
        i.inputs,
        i.of_inputs,
        human(i.bytes)
    );
    if let (Some(a), Some(b)) = (&i.first_key_time, &i.last_key_time) {
        s.push_str(&format!(" (their deliveries span {a} .. {b})"));
    }
    s.push(':');
    for k in &i.by_kind {
        s.push_str(&format!(
            "\n  {}: {} input(s), e.g. {}",
            k.kind.describe(),
            k.inputs,
            k.example
        ));
    }
    s
}

/// What a run that read records more than once found, for people: how many, in which
/// inputs, and what to do (the first line of every human rendering, and the stderr summary).
pub fn repeated_summary(r: &crate::analysis::Repeated) -> String {
    const HEAD: &str = "REPEATED RECORDS: ";
    let mut s = String::new();
    if r.sampled_copies > 0 {
        s = format!(
            "{HEAD}about {} counted records (about {:.1}% of the counted bytes) were read more than once (a sample of one line in {} found {} lines read again), so the figures may be too high; give each record once (leave out one of two exports whose periods overlap, or a copy of another input):",
            r.estimated_records,
            r.share_permille as f64 / 10.0,
            r.sample_rate,
            r.sampled_copies
        );
    }
    for e in &r.examples {
        let [a, b] = &e.inputs;
        let n = e.sampled_lines;
        match a == b {
            true => s.push_str(&format!("\n  {a} holds {n} sampled line(s) twice")),
            false => s.push_str(&format!("\n  {a} and {b} share {n} sampled line(s)")),
        }
    }
    if let Some(t) = &r.recorded_twice {
        s.push_str(match s.is_empty() {
            true => HEAD,
            false => "\n",
        });
        s.push_str(&recorded_twice_summary(t));
    }
    s
}

/// Flows recorded twice, for [`repeated_summary`].
fn recorded_twice_summary(t: &crate::analysis::RecordedTwice) -> String {
    let mut s = format!(
        "about {:.1}% of the bytes of the inputs without a flow-log id were counted twice: {} of the {} sampled flows of two records or more (one flow in {}) have records whose times overlap, which one flow log never writes (one record per flow and aggregation window), so two flow logs record the same network interfaces and their figures may be up to twice too high; give one flow log's inputs at a time, or its S3 deliveries (their names carry the flow-log id, and one flow log per interface is counted):",
        t.share_permille as f64 / 10.0,
        t.sampled_flows_twice,
        t.sampled_flows,
        t.sample_rate
    );
    for i in &t.inputs {
        s.push_str(&format!(
            "\n  {} holds {} of those flows",
            i.input, i.sampled_flows
        ));
    }
    s
}

/// What a period split by gaps of [`crate::analysis::SPLIT_HOURS`] or more holds, for
/// people: its stretches (the first three), the empty time between them, and what to do
/// (the first line of every human rendering, and the stderr summary); `None` when nothing
/// splits it.
pub fn split_summary(p: &crate::analysis::Period) -> Option<String> {
    const NAMED: usize = 3;
    let empty_hours: u64 = p.split().map(|g| u64::from(g.hours)).sum();
    if empty_hours == 0 {
        return None;
    }
    let stretches = p.stretches();
    let span = |&(a, b): &(i64, i64)| {
        let t = crate::time::format_instant;
        format!("\n  {} .. {} ({} h)", t(a), t(b), (b - a) / 3600)
    };
    let mut s = format!(
        "SPLIT PERIOD: the records fall into {} stretches of time at least {} days apart, and the time covered runs from the first record to the last, so the per-day and per-30-day figures also divide by the {:.1} days between them, in which no record of any interface starts; analyse each stretch apart (--since/--until), or, where one is a few records whose times are wrong, leave it out the same way:",
        stretches.len(),
        crate::analysis::SPLIT_HOURS / 24,
        empty_hours as f64 / 24.0
    );
    s.extend(stretches.iter().take(NAMED).map(span));
    if stretches.len() > NAMED {
        s.push_str(&format!("\n  and {} more", stretches.len() - NAMED));
    }
    Some(s)
}

/// The warnings a report's figures stand under (records read twice, a period split by
/// empty months, inputs not read in full), each as its summary: what a human rendering
/// shows before any figure.
pub fn warnings_of(r: &Report) -> Vec<String> {
    let q = &r.analysis.quality;
    let repeated = q.repeated.as_ref().map(repeated_summary);
    (repeated.into_iter())
        .chain(split_summary(&r.analysis.period))
        .chain(q.incomplete.as_ref().map(incomplete_summary))
        .chain(uncovered_summary(&r.analysis))
        .collect()
}

/// Write a warning as a human rendering opens with it: as it is in a table, a bold quote
/// (its lines escaped) in Markdown; a blank line after.
pub fn write_warning(out: &mut String, text: &str, md: bool) {
    use std::fmt::Write as _;
    if md {
        let lines: Vec<_> = text.lines().map(escape::md).collect();
        let _ = writeln!(out, "> **{}**\n", lines.join("  \n> "));
    } else {
        let _ = writeln!(out, "{text}\n");
    }
}

/// Why a report counted nothing, for its first line: the lines read and where they went,
/// and the warnings that explain it.
pub fn nothing_counted(r: &Report) -> String {
    let q = &r.analysis.quality;
    let l = &q.lines;
    // (records without a start are in no time range: named where there are some)
    let undated = match l.undated {
        0 => String::new(),
        n => format!(", {n} without a start"),
    };
    let mut s = format!(
        "NOTHING COUNTED: of {} lines read, none was counted ({} malformed, {} outside the time range{undated}, {} NODATA/SKIPDATA, {} REJECT); every figure below is zero.",
        l.lines,
        l.malformed,
        l.outside_time,
        l.nodata + l.skipdata,
        l.rejected
    );
    for w in (q.warnings.iter()).filter(|w| w.kind.explains_nothing_counted()) {
        s.push(' ');
        s.push_str(&w.message);
    }
    s
}

/// Bytes in binary units, e.g. `1.50 GiB`.
pub fn human(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// Dollars with cents (or more digits under a cent).
/// An amount of a bill in its currency: as [`dollars`] in US dollars, else followed by the
/// currency's code (`1234.50 INR`).
pub fn money(v: f64, currency: crate::bill::Currency) -> String {
    if currency == crate::bill::Currency::USD {
        return dollars(v);
    }
    match v != 0.0 && v.abs() < 0.01 {
        true => format!("{v:.4} {currency}"),
        false => format!("{v:.2} {currency}"),
    }
}

pub fn dollars(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// A per-30-day amount, or `unknown` where the logs cover no time to project from (no record
/// dated: the projection is 0 there, which is no finding of a cost of nothing).
pub fn per_30_dollars(c: &crate::cost::Cost, per_30_days: f64) -> String {
    match c.projects() {
        true => dollars(per_30_days),
        false => "unknown".into(),
    }
}

/// A period's bounds as a message names them after the word `period`: ` (FROM .. TO)`,
/// ` (from FROM)`, ` (until TO)`, or nothing where it has none.
pub fn period_asked(p: &crate::analysis::Period) -> String {
    let at = crate::time::format_instant;
    bounds_said(p.from.map(at), p.to.map(at))
}

/// Bounds as a message names them after a word: ` (FROM .. TO)`, ` (from FROM)`,
/// ` (until TO)`, or nothing where there is none.
pub fn bounds_said(from: Option<String>, to: Option<String>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!(" ({f} .. {t})"),
        (Some(f), None) => format!(" (from {f})"),
        (None, Some(t)) => format!(" (until {t})"),
        (None, None) => String::new(),
    }
}

/// What a report whose logs show none of its period's traffic is, for people (the first
/// lines of every human rendering, and the stderr summary): every figure unknown rather than
/// zero. Its logs cover none of the period, or its records, or its NAT gateways', are all
/// REJECT ([`uncovered_of`]).
pub fn uncovered_summary(a: &crate::analysis::Analysis) -> Option<String> {
    let nat = crate::analysis::NatRecords::of(a);
    uncovered_of(&a.period, &a.quality.lines, &nat)
}

/// The mark of a period whose traffic its logs show none of, from the period, the line
/// counts and the NAT gateways' records (all a partial result has too): its logs cover none
/// of it ([`no_logged_time`]), the records of the period `lines` counts are all REJECT
/// ([`crate::analysis::no_accepted_traffic`]), or the NAT gateways' are
/// ([`crate::analysis::NatRecords::rejected_only`]).
pub fn uncovered_of(
    p: &crate::analysis::Period,
    lines: &crate::account::LineCounts,
    nat: &crate::analysis::NatRecords,
) -> Option<String> {
    no_logged_time(p)
        .or_else(|| {
            crate::analysis::no_accepted_traffic(lines, p).then(|| format!(
                "NO ACCEPTED TRAFFIC: the {} records of the period are all REJECT, none accepted: the flow log captures rejected traffic only (its traffic type is REJECT), or nothing but traffic they rejected reached the NAT gateways; what passed through them is unknown, not zero, and no figure is projected per 30 days. A flow log of traffic type ALL (or ACCEPT) on their ENIs, or on their VPC or subnets, shows it; a flow log's traffic type cannot be changed, so create one.",
                lines.rejected
            ))
        })
        .or_else(|| {
            nat.rejected_only().then(|| format!(
                "NO ACCEPTED TRAFFIC: the {} records of the {} NAT gateway ENI(s) are all REJECT, none accepted, over {:.1} hours, while {} records of other interfaces were counted: the flow log that records the NAT gateways captures rejected traffic only (its traffic type is REJECT: a security team's flow log on their subnets, say), so what passed through them is unknown, not zero, and no figure is projected per 30 days. A flow log of traffic type ALL (or ACCEPT) on their ENIs or subnets shows it; only if they were idle, and their flow log records all traffic, are their zeros right.",
                nat.rejected,
                nat.gateways,
                nat.logged_seconds as f64 / 3600.0,
                lines.counted,
            ))
        })
}

/// A period its logs cover none of, said: `None` where the logs cover some of it, where a
/// counted record in it is dated (records all of one instant cover no time, but were
/// logged), or where no time range was asked for (a run of undated records only has no
/// period: the mark of its inputs says why).
fn no_logged_time(p: &crate::analysis::Period) -> Option<String> {
    let asked = p.from.is_some() || p.to.is_some();
    if p.covered_days > 0.0 || p.first_start.is_some() || !asked {
        return None;
    }
    let span = period_asked(p);
    Some(format!(
        "NO LOGGED TIME: the logs cover none of the period{span}: nothing in it was logged, so every figure is unknown, not zero (nothing logged is not nothing passed), and none is projected per 30 days; give the period's logs (a flow log that was off, or deliveries not given, leave a period so)."
    ))
}

/// The shipped sample's report (the golden JSON of the integration tests), for unit tests.
#[cfg(test)]
pub(crate) fn sample() -> Report {
    serde_json::from_str(include_str!("../../tests/golden/sample.json")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A period is marked as not covered only where a time range was asked for, no counted
    /// record in it is dated and the logs cover none of it; or where its records are all
    /// REJECT.
    #[test]
    fn a_period_its_logs_cover_none_of_is_marked_only_so() {
        let mut a = sample().analysis;
        assert_eq!(uncovered_summary(&a), None, "the sample covers its day");
        a.period.covered_days = 0.0;
        assert_eq!(
            uncovered_summary(&a),
            None,
            "records of one instant: logged"
        );
        (a.period.first_start, a.period.last_end) = (None, None);
        let said = uncovered_summary(&a).unwrap();
        assert!(said.starts_with(
            "NO LOGGED TIME: the logs cover none of the period (2026-09-01T00:00:00Z .. 2026-09-02T00:00:00Z): "
        ));
        a.period.to = None;
        let said = uncovered_summary(&a).unwrap();
        assert!(said.contains("period (from 2026-09-01T00:00:00Z): "));
        (a.period.from, a.period.to) = (None, Some(86_400));
        let said = uncovered_summary(&a).unwrap();
        assert!(said.contains("period (until 1970-01-02T00:00:00Z): "));
        a.period.to = None;
        assert_eq!(uncovered_summary(&a), None, "no range asked for");
        (a.period.from, a.period.covered_days) = (Some(0), 0.5);
        assert_eq!(uncovered_summary(&a), None, "some time covered");
        // covered, but by records all REJECT (over two hours): no traffic that passed is logged
        let t = 1_788_220_800;
        (a.period.first_start, a.period.last_end) = (Some(t), Some(t + 7200));
        let l = &mut a.quality.lines;
        (l.counted, l.rejected, l.nodata) = (0, 36, 3);
        let said = uncovered_summary(&a).unwrap();
        assert!(
            said.starts_with("NO ACCEPTED TRAFFIC: the 36 records of the period are all REJECT"),
            "{said}"
        );
        // rejections alone for less than an hour: a quiet stretch, no mark
        a.period.last_end = Some(t + 3599);
        assert_eq!(uncovered_summary(&a), None, "minutes");
        a.period.last_end = Some(t + 3600);
        assert!(uncovered_summary(&a).is_some());
        // an idle gateway, logged (NODATA windows only): zero is a finding
        a.quality.lines.rejected = 0;
        assert_eq!(uncovered_summary(&a), None, "idle, logged");
        // some traffic counted beside rejections
        (a.quality.lines.counted, a.quality.lines.rejected) = (1, 36);
        assert_eq!(uncovered_summary(&a), None, "one accepted");
    }

    /// The NAT gateways' records all REJECT over an hour or more, while other interfaces'
    /// records count (a security team's REJECT flow log on their subnets), are marked as
    /// showing none of their traffic; bytes counted at a gateway, or rejections of minutes,
    /// are not.
    #[test]
    fn nat_gateways_of_rejected_records_only_are_marked() {
        let mut a = sample().analysis;
        assert!(a.total > 0 && !a.gateways.is_empty());
        assert_eq!(
            uncovered_summary(&a),
            None,
            "the sample's gateways carry bytes"
        );
        a.rejected.nat_records = 40;
        a.rejected.nat_logged_seconds = 7200;
        assert_eq!(
            uncovered_summary(&a),
            None,
            "bytes counted beside the rejections"
        );
        a.total = 0;
        let said = uncovered_summary(&a).unwrap();
        let n = a.gateways.len();
        assert!(
            said.starts_with(&format!("NO ACCEPTED TRAFFIC: the 40 records of the {n} NAT gateway ENI(s) are all REJECT, none accepted, over 2.0 hours, while {} records of other interfaces were counted", a.quality.lines.counted)),
            "{said}"
        );
        assert!(crate::analysis::shows_no_accepted_traffic(&a));
        a.rejected.nat_logged_seconds = 3599;
        assert_eq!(uncovered_summary(&a), None, "minutes of rejections");
        a.rejected.nat_logged_seconds = 3600;
        assert!(uncovered_summary(&a).is_some());
        a.rejected.nat_records = 0;
        assert_eq!(
            uncovered_summary(&a),
            None,
            "idle gateways, logged (NODATA only)"
        );
        a.rejected.nat_records = 40;
        a.gateways.clear();
        assert_eq!(
            uncovered_summary(&a),
            None,
            "no gateway: the clients' estimate"
        );
    }
}
