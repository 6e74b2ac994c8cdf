//! The monthly report: a folder a platform team files every month. `report.json` (schema
//! `flowcost.report/1`, embedding the full `flowcost.analyze/1` report), `report.md`, a
//! self-contained `report.html`, CSV tables and SVG charts. Pure: [`build`] assembles the
//! document and [`MonthlyReport::files`] renders every file to bytes; the command writes them.
//!
//! Reproducible by construction: nothing here reads a clock, and every list is in a fixed
//! order, so the same inputs and flags give byte-identical files.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::charts::{self, Chart, ChartError};
use super::compare::{measures, pct_change as pct, signed_pct, Comparison, Measure};
use super::csv::esc as csv_esc;
use super::escape::md as md_esc;
use super::own::{self, csv_head};
use super::{dollars, html, human, per_30_dollars, text::Table, Format, Report};
use crate::analysis::{Analysis, ClassBytes, ClientsSource, Counting, EcrBasis, Legs};
use crate::classify::Class;

/// The JSON schema identifier; bump the number on any incompatible change.
pub const SCHEMA: &str = "flowcost.report/1";

/// Months kept in `history` (month over month).
pub const HISTORY: usize = 12;

/// The figures of one report period that month-over-month needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSummary {
    pub label: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: f64,
    /// The days the logs cover.
    #[serde(default)]
    pub covered_days: f64,
    /// The logs show none of the period's traffic ([`super::uncovered_summary`]: they cover
    /// none of it, or its records are all REJECT): no figure of it is one, so no month over
    /// month is drawn from it or to it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub uncovered: bool,
    /// NAT-processed bytes of each class in the period, in `Class::ALL` order.
    pub class_bytes: Vec<(String, u64)>,
    pub total_bytes: u64,
    /// Each measure per day, each NAT gateway at the rate of its own logs' span as the cost
    /// is projected (absent from the reports of a flowcost before it was kept: their bytes
    /// over `covered_days` stand in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<super::compare::PerDay>,
    pub ecr_layer_bytes: u64,
    /// False when the logs could not show the ECR share (`analysis.ecr.basis` unknown):
    /// `ecr_layer_bytes` is then no figure, and the trend leaves it out.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ecr_known: bool,
    pub task_starts: u64,
    /// How the NAT bytes were counted (absent from the reports of a flowcost before it was
    /// kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counting: Option<crate::analysis::Counting>,
    /// Where the ECR estimate's task starts came from (absent from the reports of a flowcost
    /// before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecr_basis: Option<crate::analysis::EcrBasis>,
    /// The ECR estimate's pull window, in seconds (absent from the reports of a flowcost
    /// before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_window_seconds: Option<i64>,
    pub nat_processing_cost: f64,
    pub nat_processing_cost_per_30_days: f64,
    pub s3_endpoint_savings_per_30_days: f64,
    pub price_table_date: String,
    /// The NAT data-processing price the costs were computed with (absent from the reports
    /// of a flowcost before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_price: Option<crate::cost::NatPrice>,
    pub ip_ranges_sync_token: String,
    /// The bill's figures of the period, when one was given (`--cur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed: Option<BilledSummary>,
    /// The first line of each warning the period's report opened with (inputs not read in
    /// full, records read twice, a split period): its figures are then not the whole truth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What the bill says of a period: its NAT data processing cost, the share of it the flow
/// logs explain, and the S3 gateway endpoint's saving priced from it (net of discounts), in
/// the bill's currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BilledSummary {
    pub currency: crate::bill::Currency,
    pub billed_cost: f64,
    pub coverage_percent: Option<f64>,
    pub billed_s3_savings: f64,
    /// The coverage is over the days billed in full, not every day of the period (some
    /// day the bill does not cover, or covers in part).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub some_days: bool,
}

impl BilledSummary {
    fn of(rec: &crate::bill::Reconciliation) -> BilledSummary {
        BilledSummary {
            currency: rec.currency,
            billed_cost: rec.billed_cost,
            coverage_percent: rec.coverage_percent,
            billed_s3_savings: rec.billed_s3_savings,
            some_days: rec.billed_until.is_some() || !rec.days_not_billed.is_empty(),
        }
    }
}

impl PeriodSummary {
    fn of(label: &str, r: &Report) -> PeriodSummary {
        let a = &r.analysis;
        PeriodSummary {
            label: label.to_string(),
            from: a.period.from.map(crate::time::format_instant),
            to: a.period.to.map(crate::time::format_instant),
            days: a.period.days,
            covered_days: if a.period.covered_days > 0.0 {
                a.period.covered_days
            } else {
                a.period.days
            },
            uncovered: super::uncovered_summary(a).is_some(),
            class_bytes: Class::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), a.classes.get(*c).total()))
                .collect(),
            total_bytes: a.total,
            per_day: Some(super::compare::PerDay::of(r)),
            ecr_layer_bytes: a.ecr.bytes,
            ecr_known: a.ecr.basis.is_known(),
            task_starts: a.ecr.task_starts,
            counting: Some(a.method.counting),
            ecr_basis: Some(a.ecr.basis),
            pull_window_seconds: Some(a.ecr.pull_window_seconds),
            nat_processing_cost: r.cost.nat_processing.period,
            nat_processing_cost_per_30_days: r.cost.nat_processing.per_30_days,
            s3_endpoint_savings_per_30_days: r.cost.s3_gateway_endpoint_savings.per_30_days,
            price_table_date: r.cost.price_table_date.clone(),
            nat_price: Some(crate::cost::NatPrice::of(&r.cost)),
            ip_ranges_sync_token: r.inputs.ip_ranges.sync_token.clone(),
            billed: r.reconciliation.as_ref().map(BilledSummary::of),
            warnings: (super::warnings_of(r).iter())
                .filter_map(|w| w.lines().next())
                .map(|w| w.trim_end_matches(':').to_string())
                .collect(),
        }
    }

    fn bytes_of(&self, measure: Measure) -> u64 {
        match measure {
            Measure::Total => self.total_bytes,
            Measure::EcrLayers => self.ecr_layer_bytes,
            m => self
                .class_bytes
                .iter()
                .find(|(k, _)| k == m.as_str())
                .map_or(0, |(_, v)| *v),
        }
    }

    /// Whether its figures per day can follow from its bytes, as a previous report's must
    /// before a trend is drawn from them: finite and not below zero, the days covered
    /// included (none, or whole seconds), and no measure above 24 times its bytes a day (a
    /// gateway's logs cover an hour at least, whole hours).
    fn check(&self) -> Result<(), String> {
        let days = self.covered_days;
        if !(days.is_finite() && (days == 0.0 || days * 86_400.0 >= 1.0 - 1e-9)) {
            return Err(format!("{}: covered_days {days:e}", self.label));
        }
        let Some(p) = &self.per_day else {
            return Ok(());
        };
        for m in Measure::ALL {
            let (v, bytes) = (p.get(m), self.bytes_of(m));
            if !(v.is_finite() && v >= 0.0 && v <= bytes as f64 * 24.0 * (1.0 + 1e-9)) {
                return Err(format!(
                    "{}: {} per day {v:e} from {bytes} bytes",
                    self.label,
                    m.as_str()
                ));
            }
        }
        Ok(())
    }

    /// Bytes per day of a measure: as a comparison has them, where the document keeps them
    /// (older documents: its bytes over the days its logs cover, or over its period).
    pub fn per_day(&self, measure: Measure) -> f64 {
        if let Some(p) = &self.per_day {
            return p.get(measure);
        }
        let d = if self.covered_days > 0.0 {
            self.covered_days
        } else {
            self.days
        };
        if d > 0.0 {
            self.bytes_of(measure) as f64 / d
        } else {
            0.0
        }
    }
}

/// One measure, this period against the previous one, normalised per day (periods differ
/// in length: 28 to 31 days).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendRow {
    pub measure: Measure,
    pub previous_per_day: f64,
    pub this_per_day: f64,
    pub percent: Option<f64>,
}

/// Month over month against the previous report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trend {
    pub previous: String,
    pub rows: Vec<TrendRow>,
    pub nat_cost_per_30_days: (f64, f64),
    pub s3_savings_per_30_days: (f64, f64),
    /// Set when the two reports were priced or classified with different tables.
    pub caveats: Vec<String>,
}

/// One NAT ENI's coverage of the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatCoverage {
    pub eni: String,
    pub az: Option<String>,
    pub days_with_traffic: u32,
    pub days_in_period: u32,
}

/// A flow-log field that was not logged and would sharpen the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingField {
    pub fields: String,
    pub would_give: String,
}

/// One problem with one input, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputIssue {
    pub path: String,
    pub line: Option<u64>,
    pub problem: String,
}

/// The data-quality review: what the figures rest on and what is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub nat_enis: Vec<NatCoverage>,
    pub nat_enis_given_not_seen: Vec<String>,
    pub missing_fields: Vec<MissingField>,
    pub issues: Vec<InputIssue>,
    /// Issues beyond those listed (the list keeps the first of each input, up to a limit).
    pub issues_not_listed: u64,
}

/// The whole monthly report document (`report.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyReport {
    pub schema: String,
    pub flowcost_version: String,
    pub title: String,
    /// The command line that made it (argv after the program name), to rerun it.
    pub command: Vec<String>,
    pub summary: PeriodSummary,
    /// Earlier periods, oldest first, from the previous report (month over month).
    pub history: Vec<PeriodSummary>,
    pub trend: Option<Trend>,
    /// The previous report's periods that were no earlier periods (a report of this period,
    /// or of a later or overlapping one, given to `--previous`), left out of `history` and
    /// `trend`, each said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history_left_out: Vec<String>,
    pub review: Review,
    /// The files of the folder, in the order written.
    pub files: Vec<String>,
    pub analysis: Report,
    /// Before and after a change inside the period, when asked (`--change-at`).
    pub comparison: Option<Comparison>,
}

/// The data-quality review: each NAT ENI's days with traffic, the fields the logs lack and
/// what they would give, and the inputs' problems.
fn review(r: &Report) -> Review {
    let a = &r.analysis;
    let (issues, issues_not_listed) = input_issues(a);
    Review {
        nat_enis: nat_coverage(a),
        nat_enis_given_not_seen: a.quality.given_nat_enis_not_seen.clone(),
        missing_fields: missing_fields(a),
        issues,
        issues_not_listed,
    }
}

/// Each NAT ENI's days with traffic (on either leg) of the period's days, by ENI.
fn nat_coverage(a: &Analysis) -> Vec<NatCoverage> {
    let days_in_period = a.period.days.ceil().max(0.0) as u32;
    let mut nat_enis: Vec<NatCoverage> = a
        .gateways
        .iter()
        .map(|g| NatCoverage {
            eni: g.eni.clone(),
            az: g.az.clone(),
            days_with_traffic: g.days_private_leg + g.days_public_leg,
            days_in_period,
        })
        .collect();
    nat_enis.sort_by(|x, y| x.eni.cmp(&y.eni));
    nat_enis
}

/// The fields whose absence the analysis shows, each with what it would give.
fn missing_fields(a: &Analysis) -> Vec<MissingField> {
    let tp = &a.s3_egress_traffic_path;
    let lacking = [
        (
            a.method.legs != Legs::Private
                && a.method.counting == Counting::NatEni
                // (counted on public legs, yet clients named by the NAT's legs: a NAT of
                // NAT64 clients alone, whose pkt-* fields are logged)
                && !(a.method.legs == Legs::Public
                    && a.clients_source == ClientsSource::NatPrivateLegs),
            "pkt-srcaddr, pkt-dstaddr",
            "the NAT's private legs: which clients, subnets and services send the bytes",
        ),
        (
            // (a report of before 2026-12-06 says not why: there the absence is assumed)
            !a.cross_az.known
                && (a.cross_az.unknown.is_empty()
                    || a.cross_az.unknown.iter().any(|u| u.is_az_id())),
            "az-id",
            "the cross-AZ charge of clients using a NAT in another AZ",
        ),
        (
            // no service named for any client (they group as `unknown`), while some client's
            // own ENI is logged (a NAT's records alone carry no ECS names): a top client's,
            // or any other the ECR estimate took task starts from
            a.by_ecs_service.iter().all(|g| g.key == "unknown")
                && (a.by_ecs_service.is_empty()
                    || a.top_clients.iter().any(|c| !c.enis.is_empty())
                    || matches!(
                        a.ecr.basis,
                        EcrBasis::TaskEnis | EcrBasis::TaskEnisAndNatPrivateLegs
                    )),
            "ecs-service-name, ecs-task-id (format v7)",
            "bytes by ECS service and an ECR estimate per service",
        ),
        (
            tp.via_vpc_resource + tp.via_gateway_endpoint + tp.other == 0,
            "traffic-path (format v5)",
            "proof of which path the tasks' S3 traffic takes (NAT or gateway endpoint)",
        ),
    ];
    (lacking.into_iter())
        .filter(|(missing, _, _)| *missing)
        .map(|(_, fields, would_give)| MissingField {
            fields: fields.into(),
            would_give: would_give.into(),
        })
        .collect()
}

/// The inputs' problems, at most [`ISSUES_LISTED`]: each input's error and its malformed
/// lines' examples, in input order; and how many more there were (the malformed lines
/// without an example among them).
fn input_issues(a: &Analysis) -> (Vec<InputIssue>, u64) {
    let mut issues = Vec::new();
    let mut not_listed = 0u64;
    for f in &a.quality.files {
        if let Some(e) = &f.error {
            issues.push(InputIssue {
                path: f.path.clone(),
                line: None,
                problem: e.clone(),
            });
        }
        for b in &f.malformed_examples {
            issues.push(InputIssue {
                path: f.path.clone(),
                line: Some(b.line),
                problem: b.reason.clone(),
            });
        }
        not_listed += f
            .counts
            .malformed
            .saturating_sub(f.malformed_examples.len() as u64);
    }
    if issues.len() > ISSUES_LISTED {
        not_listed += (issues.len() - ISSUES_LISTED) as u64;
        issues.truncate(ISSUES_LISTED);
    }
    (issues, not_listed)
}

/// The most input problems the review lists.
const ISSUES_LISTED: usize = 200;

/// What the command hands over to be assembled.
pub struct Parts {
    pub label: String,
    pub command: Vec<String>,
    pub report: Report,
    pub previous: Option<MonthlyReport>,
    pub comparison: Option<Comparison>,
}

/// Assemble the document.
pub fn build(p: Parts) -> MonthlyReport {
    let summary = PeriodSummary::of(&p.label, &p.report);
    let (history, history_left_out) = match &p.previous {
        None => (Vec::new(), Vec::new()),
        Some(prev) => history_after(prev, &summary),
    };
    let trend = (history.last())
        .filter(|last| !last.uncovered && !summary.uncovered)
        .map(|last| trend(last, &summary));
    let mut doc = MonthlyReport {
        schema: SCHEMA.into(),
        flowcost_version: env!("CARGO_PKG_VERSION").into(),
        title: format!("{}{}", super::own::REPORT_TITLE, p.label),
        command: p.command,
        summary,
        history,
        trend,
        history_left_out,
        review: review(&p.report),
        files: Vec::new(),
        analysis: p.report,
        comparison: p.comparison,
    };
    doc.files = doc
        .planned_charts()
        .into_iter()
        .chain(doc.planned_tables())
        .chain(["report.json", "report.md", "report.html"].map(String::from))
        .collect();
    doc
}

/// The history a report of period `this` following `prev` carries: `prev`'s periods and its
/// own that end before `this` starts (a period of unknown bounds is kept), the last
/// [`HISTORY`] of them; and each one left out, said: a report of the same period given again
/// (a rerun) would otherwise be its own previous month, "no change", and a later one would
/// make the month over month run backwards.
fn history_after(prev: &MonthlyReport, this: &PeriodSummary) -> (Vec<PeriodSummary>, Vec<String>) {
    let bound = |t: &Option<String>| t.as_deref().and_then(crate::time::parse_instant);
    let starts = bound(&this.from);
    let (mut kept, mut left_out) = (Vec::new(), Vec::new());
    for m in prev.history.iter().chain([&prev.summary]) {
        match (bound(&m.to), starts) {
            (Some(end), Some(start)) if end > start.saturating_add(crate::time::PERIODS_MAY_SHARE) => {
                left_out.push(format!(
                    "--previous: {} ({} .. {}) is no earlier period: it does not end before this report's period ({} .. {}) starts, so it is left out of the history and of month over month.",
                    m.label,
                    m.from.as_deref().unwrap_or("?"),
                    m.to.as_deref().unwrap_or("?"),
                    this.from.as_deref().unwrap_or("?"),
                    this.to.as_deref().unwrap_or("?"),
                ))
            }
            _ => kept.push(m.clone()),
        }
    }
    let skip = kept.len().saturating_sub(HISTORY);
    (kept.into_iter().skip(skip).collect(), left_out)
}

/// This period against the last: each measure per day (the ECR layers only where both
/// periods know them), the costs and savings per 30 days, and the caveats of a different
/// price table or ip-ranges document.
fn trend(last: &PeriodSummary, summary: &PeriodSummary) -> Trend {
    let rows = measures()
        .filter(|m| *m != Measure::EcrLayers || (last.ecr_known && summary.ecr_known))
        .map(|m| TrendRow {
            measure: m,
            previous_per_day: last.per_day(m),
            this_per_day: summary.per_day(m),
            percent: pct(last.per_day(m), summary.per_day(m)),
        })
        .collect();
    Trend {
        previous: last.label.clone(),
        rows,
        nat_cost_per_30_days: (
            last.nat_processing_cost_per_30_days,
            summary.nat_processing_cost_per_30_days,
        ),
        s3_savings_per_30_days: (
            last.s3_endpoint_savings_per_30_days,
            summary.s3_endpoint_savings_per_30_days,
        ),
        caveats: caveats(last, summary),
    }
}

/// What makes this period's figures and the last one's not comparable as they stand: the
/// last report's own warnings, NAT bytes counted another way, other prices (table or NAT
/// price), ECR estimates from other records or over another pull window, other ip-ranges.
/// Facts a report of an older flowcost did not keep are not compared.
fn caveats(last: &PeriodSummary, summary: &PeriodSummary) -> Vec<String> {
    let (earlier, now) = (last.label.as_str(), "this report");
    let mut caveats: Vec<String> = (last.warnings.iter())
        .map(|w| {
            format!(
                "{earlier}'s report opened with a warning, so its figures are not the whole truth and the change against them is not the traffic's alone: {w}"
            )
        })
        .collect();
    if let (Some(a), Some(b)) = (last.counting, summary.counting) {
        caveats.extend(crate::analysis::countings_differ((earlier, a), (now, b)));
    }
    if last.price_table_date != summary.price_table_date {
        caveats.push(format!(
            "Prices differ: {earlier} used the table of {}, this report the table of {}.",
            last.price_table_date, summary.price_table_date
        ));
    }
    if let (Some(a), Some(b)) = (&last.nat_price, &summary.nat_price) {
        caveats.extend(a.differs(earlier, b, now));
    }
    if let (Some(a), Some(b)) = (last.ecr_basis, summary.ecr_basis) {
        caveats.extend(crate::analysis::ecr_bases_differ((earlier, a), (now, b)));
    }
    if let (Some(a), Some(b)) = (last.pull_window_seconds, summary.pull_window_seconds) {
        caveats.extend(crate::analysis::pull_windows_differ((earlier, a), (now, b)));
    }
    if last.ip_ranges_sync_token != summary.ip_ranges_sync_token {
        caveats.push(format!(
            "IP ranges differ: {earlier} used syncToken {}, this report {}; addresses AWS moved between services count in different classes.",
            last.ip_ranges_sync_token, summary.ip_ranges_sync_token
        ));
    }
    caveats
}

/// Parse a previous `report.json`, refusing other schemas with a clear message.
pub fn parse_previous(text: &str) -> Result<MonthlyReport, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(format!(
                "schema `{other}`, expected `{SCHEMA}` (a report.json written by `flowcost report`)"
            ))
        }
        None => return Err("no `schema` field: not a flowcost report.json".into()),
    }
    let doc: MonthlyReport =
        serde_json::from_value(v).map_err(|e| format!("does not match {SCHEMA}: {e}"))?;
    for s in std::iter::once(&doc.summary).chain(&doc.history) {
        s.check()
            .map_err(|e| format!("{e}: not as flowcost writes a report.json"))?;
    }
    Ok(doc)
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

impl MonthlyReport {
    fn planned_charts(&self) -> Vec<String> {
        let mut v = vec!["daily-nat-bytes.svg".to_string()];
        if self
            .analysis
            .analysis
            .top_clients
            .iter()
            .any(|c| c.classes.s3.total() > 0)
        {
            v.push("top-s3-clients.svg".into());
        }
        if self.comparison.is_some() {
            v.push("before-after.svg".into());
        }
        if self.trend.is_some() {
            v.push("month-over-month.svg".into());
        }
        v
    }

    fn planned_tables(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "by-class.csv",
            "by-day.csv",
            "by-subnet.csv",
            "top-clients.csv",
            "gateways.csv",
            "inputs.csv",
        ]
        .map(String::from)
        .to_vec();
        if self.trend.is_some() {
            v.push("history.csv".into());
        }
        if self.comparison.is_some() {
            v.push("before-after.csv".into());
        }
        if self.analysis.inventory.is_some() {
            v.extend(["endpoint-plan.sh", "endpoint-plan.tf"].map(String::from));
        }
        v
    }

    /// Draw the charts.
    pub fn charts(&self) -> Result<Vec<Chart>, ChartError> {
        let a = &self.analysis.analysis;
        let mut out = vec![charts::daily_by_class(&charts::days_of(a))?];
        if a.top_clients.iter().any(|c| c.classes.s3.total() > 0) {
            out.push(charts::top_s3_clients(&a.top_clients, 10)?);
        }
        let classes: Vec<Measure> = Measure::ALL
            .into_iter()
            .filter(|m| m.class().is_some())
            .collect();
        let class_names: Vec<&str> = classes.iter().map(|m| m.as_str()).collect();
        if let Some(c) = &self.comparison {
            out.push(charts::grouped_per_day(
                "before-after.svg",
                "NAT bytes per day by class, before and after the change",
                &class_names,
                &before_after_series(c, &classes),
            )?);
        }
        if self.trend.is_some() {
            out.push(charts::grouped_per_day(
                "month-over-month.svg",
                "NAT bytes per day by class, month over month",
                &class_names,
                &self.monthly_series(&classes),
            )?);
        }
        Ok(out)
    }

    /// The month-over-month chart's series: up to three months before this one and this
    /// one, oldest first, each its label and its bytes per day of each class.
    fn monthly_series(&self, classes: &[Measure]) -> Vec<(String, Vec<f64>)> {
        let earlier = self.history.len().saturating_sub(3);
        (self.history[earlier..].iter())
            .chain([&self.summary])
            .map(|m| {
                (
                    // (no control character in an SVG document: XML forbids most of them)
                    super::escape::clean(&m.label).into_owned(),
                    classes.iter().map(|c| m.per_day(*c)).collect(),
                )
            })
            .collect()
    }

    /// The CSV tables: (file name, contents).
    pub fn tables(&self) -> Vec<(String, String)> {
        let a = &self.analysis.analysis;
        let mut out = vec![
            ("by-class.csv".into(), self.by_class_table()),
            ("by-day.csv".into(), by_day_table(a)),
            ("by-subnet.csv".into(), by_subnet_table(a)),
            ("top-clients.csv".into(), top_clients_table(a)),
            ("gateways.csv".into(), gateways_table(a)),
            ("inputs.csv".into(), inputs_table(a)),
        ];
        if self.trend.is_some() {
            out.push(("history.csv".into(), self.history_table()));
        }
        if let Some(c) = &self.comparison {
            out.push(("before-after.csv".into(), c.render(Format::Csv)));
        }
        if let Some(inv) = &self.analysis.inventory {
            let sh = super::plan::shell_script(&inv.plan, super::dollars);
            out.push(("endpoint-plan.sh".into(), sh));
            out.push(("endpoint-plan.tf".into(), super::plan::terraform(&inv.plan)));
        }
        out
    }

    /// `by-class.csv`: each class's bytes and NAT cost.
    fn by_class_table(&self) -> String {
        let r = &self.analysis;
        let mut t = format!(
            "{}total_bytes,nat_cost_period_usd,nat_cost_per_30_days_usd\n",
            csv_head::BY_CLASS
        );
        for c in Class::ALL {
            let ud = r.analysis.classes.get(c);
            let m = r.cost.by_class.get(c.as_str()).copied().unwrap_or_default();
            let _ = writeln!(
                t,
                "{},{},{},{},{:.6},{:.6}",
                c.as_str(),
                ud.upload,
                ud.download,
                ud.total(),
                m.period,
                m.per_30_days
            );
        }
        t
    }

    /// `history.csv`: the months before and this one.
    fn history_table(&self) -> String {
        let mut t = format!("{}{},total_bytes,ecr_layer_bytes,task_starts,nat_cost_usd,nat_cost_per_30_days_usd,price_table_date,ip_ranges_sync_token\n", csv_head::HISTORY, own::by_class_columns());
        for m in self.history.iter().chain([&self.summary]) {
            let _ = writeln!(
                t,
                "{},{},{},{},{},{},{},{},{:.6},{:.6},{},{}",
                csv_esc(&m.label),
                opt(&m.from),
                opt(&m.to),
                m.days,
                m.class_bytes
                    .iter()
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                m.total_bytes,
                if m.ecr_known {
                    m.ecr_layer_bytes.to_string()
                } else {
                    "unknown".into()
                },
                m.task_starts,
                m.nat_processing_cost,
                m.nat_processing_cost_per_30_days,
                csv_esc(&m.price_table_date),
                csv_esc(&m.ip_ranges_sync_token)
            );
        }
        t
    }

    /// `report.json`.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises") + "\n"
    }

    /// `report.md`: the title and period, a summary, the charts, the analysis, the trend and
    /// the comparison where there are some, the review, the inputs, how to reproduce it, and
    /// the method.
    pub fn markdown(&self, charts: &[Chart]) -> String {
        let mut out = String::new();
        self.title_md(&mut out);
        self.summary_md(&mut out);
        out.push_str("## Charts\n\n");
        for c in charts {
            let _ = writeln!(out, "![{}]({})\n", c.title, c.file);
        }
        // The analysis itself, one heading level down.
        out.push_str("## Analysis\n\n");
        demoted(&mut out, &self.analysis.render(Format::Markdown));
        if let Some(t) = &self.trend {
            self.trend_md(t, &mut out);
        }
        if let Some(c) = &self.comparison {
            out.push_str("## Before and after the change\n\n");
            demoted(&mut out, &c.render(Format::Markdown));
        }
        self.review_md(&mut out);
        self.inputs_md(&mut out);
        self.reproduce_md(&mut out);
        self.method_md(&mut out);
        out
    }

    /// The title, a run's warnings (records read twice, inputs not read in full), and what
    /// the figures stand on.
    fn title_md(&self, out: &mut String) {
        let r = &self.analysis;
        let s = &self.summary;
        let _ = writeln!(out, "# {}\n", self.title);
        for text in super::warnings_of(r) {
            super::write_warning(out, &text, true);
        }
        for text in &self.history_left_out {
            super::write_warning(out, text, true);
        }
        let _ = writeln!(
            out,
            "Period {} .. {} UTC ({:.2} days). flowcost {}, {} inputs ({}), IP ranges syncToken {} (created {}), prices of {}.\n",
            s.from.as_deref().unwrap_or("?"),
            s.to.as_deref().unwrap_or("?"),
            s.days,
            self.flowcost_version,
            r.inputs.files,
            human(r.inputs.bytes),
            r.inputs.ip_ranges.sync_token,
            r.inputs.ip_ranges.create_date,
            r.cost.price_table_date
        );
    }

    /// The summary: NAT bytes and cost, the S3 and ECR savings, DynamoDB, the trend and
    /// the comparison's verdict in a line each.
    fn summary_md(&self, out: &mut String) {
        let r = &self.analysis;
        let a = &r.analysis;
        out.push_str("## Summary\n\n");
        let share = |b: u64| b as f64 * 100.0 / a.total.max(1) as f64;
        let _ = writeln!(
            out,
            "- NAT gateways processed {} in the period: {} of data-processing charges ({} per 30 days).",
            human(a.total),
            dollars(r.cost.nat_processing.period),
            per_30_dollars(&r.cost, r.cost.nat_processing.per_30_days)
        );
        let _ = writeln!(
            out,
            "- S3 in the NAT's region: {} ({:.1}%). An S3 gateway endpoint (free) would save {} per 30 days.",
            human(a.classes.s3.total()),
            share(a.classes.s3.total()),
            per_30_dollars(&r.cost, r.cost.s3_gateway_endpoint_savings.per_30_days)
        );
        let bill = self.summary.billed.as_ref().map(billed_line);
        let dynamodb = (a.classes.dynamodb.total() > 0).then(|| {
            format!(
                "DynamoDB: {}; a DynamoDB gateway endpoint would save {} per 30 days.",
                human(a.classes.dynamodb.total()),
                per_30_dollars(
                    &r.cost,
                    r.cost.dynamodb_gateway_endpoint_savings.per_30_days
                )
            )
        });
        let trend = match (&self.trend, self.history.last()) {
            (Some(t), _) => trend_line(t),
            (None, Some(last)) => Some(format!(
                "Against {}: no month over month, since the logs show none of {} traffic.",
                md_esc(&last.label),
                match self.summary.uncovered {
                    true => "this period's",
                    false => "that period's",
                }
            )),
            (None, None) => None,
        };
        let verdict = (self.comparison.iter()).flat_map(|c| c.verdict.summary.iter().take(3));
        let lines = (bill.into_iter())
            .chain([ecr_line(r)])
            .chain(dynamodb)
            .chain(trend)
            .chain(verdict.map(|l| md_esc(l).into_owned()));
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }

    /// Month over month: per-day figures against the previous period, the caveats, and
    /// the earlier periods.
    fn trend_md(&self, t: &Trend, out: &mut String) {
        let s = &self.summary;
        // (a previous report's label is whatever its report.json says; a table escapes its
        // cells itself)
        let _ = writeln!(
            out,
            "## Month over month (against {})\n",
            md_esc(&t.previous)
        );
        let mut tb = Table::new(&["per day", &t.previous, &s.label, "change"]);
        for row in &t.rows {
            tb.row(vec![
                row.measure.as_str().to_string(),
                human(row.previous_per_day as u64),
                human(row.this_per_day as u64),
                signed_pct(row.percent),
            ]);
        }
        tb.row(vec![
            "NAT cost / 30 days".into(),
            dollars(t.nat_cost_per_30_days.0),
            dollars(t.nat_cost_per_30_days.1),
            signed_pct(pct(t.nat_cost_per_30_days.0, t.nat_cost_per_30_days.1)),
        ]);
        tb.row(vec![
            "S3 endpoint savings / 30 days".into(),
            dollars(t.s3_savings_per_30_days.0),
            dollars(t.s3_savings_per_30_days.1),
            signed_pct(pct(t.s3_savings_per_30_days.0, t.s3_savings_per_30_days.1)),
        ]);
        tb.render(true, out);
        for c in &t.caveats {
            let _ = writeln!(out, "- {}", md_esc(c));
        }
        if self.history.len() > 1 {
            let _ = writeln!(out, "\nEarlier periods:\n");
            let mut tb = Table::new(&["period", "days", "s3/day", "total/day", "NAT cost"]);
            for m in self.history.iter().chain([s]) {
                tb.row(vec![
                    m.label.clone(),
                    format!("{:.2}", m.days),
                    human(m.per_day(Measure::S3) as u64),
                    human(m.per_day(Measure::Total) as u64),
                    dollars(m.nat_processing_cost),
                ]);
            }
            tb.render(true, out);
        }
        out.push('\n');
    }

    /// The inputs: counts, S3 listings, and the first of them by name.
    fn inputs_md(&self, out: &mut String) {
        let r = &self.analysis;
        let a = &r.analysis;
        out.push_str("## Inputs\n\n");
        let _ = writeln!(
            out,
            "{} inputs, {} ({} bytes); every input with its size{} is in `inputs.csv` and `report.json`.\n",
            r.inputs.files,
            human(r.inputs.bytes),
            r.inputs.bytes,
            if r.inputs.s3.is_empty() { "" } else { " and ETag" }
        );
        for l in &r.inputs.s3 {
            let _ = writeln!(
                out,
                "- s3://{}: {} objects, {} under {} prefixes",
                md_esc(&l.bucket),
                l.objects,
                human(l.bytes),
                l.prefixes.len()
            );
        }
        let mut tb = Table::new(&["input", "format", "size"]);
        const SHOWN: usize = 25;
        for f in a.quality.files.iter().take(SHOWN) {
            let format = match (f.format, f.skipped) {
                (_, Some(k)) => format!("not read: {}", k.describe()),
                (e, None) => e.map_or("", |e| e.as_str()).to_string(),
            };
            tb.row(vec![f.path.clone(), format, human(f.size)]);
        }
        tb.render(true, out);
        if a.quality.files.len() > SHOWN {
            let _ = writeln!(
                out,
                "... and {} more (see `inputs.csv`).\n",
                a.quality.files.len() - SHOWN
            );
        }
    }

    /// The command and the data versions that reproduce the report.
    fn reproduce_md(&self, out: &mut String) {
        let r = &self.analysis;
        out.push_str("## How to reproduce\n\n");
        let _ = writeln!(
            out,
            "- Command: flowcost {}",
            md_esc(&self.command.join(" "))
        );
        let _ = writeln!(
            out,
            "- flowcost {}; IP ranges from {} (syncToken {}, createDate {}); price table of {} ({}).\n",
            self.flowcost_version,
            md_esc(&r.inputs.ip_ranges.source),
            md_esc(&r.inputs.ip_ranges.sync_token),
            md_esc(&r.inputs.ip_ranges.create_date),
            r.cost.price_table_date,
            r.cost.price_table_source
        );
    }

    /// How the figures are made, in prose.
    fn method_md(&self, out: &mut String) {
        let r = &self.analysis;
        let a = &r.analysis;
        out.push_str("## Method\n\n");
        let _ = writeln!(
            out,
            "Every byte a NAT gateway processes appears in two flow-log records of the NAT's own network interface: one between the client and the NAT, one between the NAT and the remote address. flowcost counts each byte once, on one leg per NAT interface and UTC day ({} here; the private leg, when the `pkt-*` fields are logged, also tells which client sent it), and keeps the other leg as a cross-check. The remote address is classified with AWS's published IP ranges: S3 and DynamoDB in the NAT's own region are the bytes a free gateway endpoint would take off the NAT; S3 in other regions, other AWS services and the internet stay. Rejected traffic, NODATA and SKIPDATA records are counted apart, and every line read is reconciled in the data-quality section.\n",
            a.method.legs
        );
        let _ = writeln!(
            out,
            "ECR image layers are served from S3, so they are part of the S3 class. The ECR figure is an estimate: the S3 download bytes of each new task in the {} seconds after its first record (a task pulls its image when it starts), capped by what the NAT saw for that address; it measured above the true figure by a few percent on generated worlds. Money is NAT data processing at ${:.3} per GB ({}) from the price table of {}; per-30-day figures scale the period linearly, and the savings leave out the NAT's hourly charge, which an endpoint does not remove.",
            a.ecr.pull_window_seconds,
            r.cost.prices.nat_per_gb,
            r.cost.gb_definition,
            r.cost.price_table_date
        );
    }

    fn review_md(&self, out: &mut String) {
        let v = &self.review;
        out.push_str("## Data quality review\n\n");
        nat_coverage_md(v, out);
        // time no input was read for, and hours without any record: the period's totals
        // lack the first, and may lack the second
        let period = &self.analysis.analysis.period;
        let notes = [
            crate::analysis::unread_note(&period.unread),
            crate::analysis::gaps_note(&period.gaps),
        ];
        for n in notes.iter().flatten() {
            let _ = writeln!(out, "- {n}");
        }
        if v.missing_fields.is_empty() {
            out.push_str("- Every field the analysis can use was logged.\n");
        }
        for m in &v.missing_fields {
            let them = if m.fields.contains(',') { "them" } else { "it" };
            let _ = writeln!(
                out,
                "- Not logged: {}. Adding {them} would give {}.",
                m.fields, m.would_give
            );
        }
        let l = &self.analysis.analysis.quality.lines;
        let _ = writeln!(
            out,
            "- NODATA records (no traffic in the window): {}; SKIPDATA records (AWS dropped records): {}; malformed lines: {}.",
            l.nodata, l.skipdata, l.malformed
        );
        issues_md(v, out);
        out.push('\n');
    }

    /// Every file of the folder, rendered: (name, bytes), in `self.files` order.
    pub fn render_files(&self) -> Result<Vec<(String, Vec<u8>)>, ChartError> {
        let charts = self.charts()?;
        let md = self.markdown(&charts);
        let page = html::page(&self.title, &md, &charts);
        let mut out: Vec<(String, Vec<u8>)> = charts
            .iter()
            .map(|c| (c.file.clone(), c.svg.clone().into_bytes()))
            .collect();
        out.extend(self.tables().into_iter().map(|(n, t)| (n, t.into_bytes())));
        out.push(("report.json".into(), self.json().into_bytes()));
        out.push(("report.md".into(), md.into_bytes()));
        out.push(("report.html".into(), page.into_bytes()));
        debug_assert_eq!(
            out.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            self.files.iter().map(String::as_str).collect::<Vec<_>>()
        );
        Ok(out)
    }
}

/// Append a Markdown document without its title line, every heading one level down.
fn demoted(out: &mut String, doc: &str) {
    // (a warning may stand above the title: it is kept, the title dropped)
    let mut titled = false;
    for line in doc.lines() {
        if !titled && line.starts_with("# ") {
            titled = true;
            continue;
        }
        if line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
}

/// Every file name a report folder can hold (to clear stale ones from an earlier run).
pub const ALL_FILES: [&str; 17] = [
    "daily-nat-bytes.svg",
    "top-s3-clients.svg",
    "before-after.svg",
    "month-over-month.svg",
    "by-class.csv",
    "by-day.csv",
    "by-subnet.csv",
    "top-clients.csv",
    "gateways.csv",
    "inputs.csv",
    "history.csv",
    "before-after.csv",
    "endpoint-plan.sh",
    "endpoint-plan.tf",
    "report.json",
    "report.md",
    "report.html",
];

fn yes() -> bool {
    true
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_true(v: &bool) -> bool {
    *v
}

/// A row's bytes of each class, in `Class::ALL` order, as CSV cells.
fn class_cells(c: &ClassBytes) -> String {
    Class::ALL
        .iter()
        .map(|k| c.get(*k).total().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `by-day.csv`: each day's bytes by class.
fn by_day_table(a: &Analysis) -> String {
    let mut t = format!(
        "{}{},total_bytes\n",
        csv_head::BY_DAY,
        own::by_class_columns()
    );
    for (day, c) in charts::days_of(a) {
        let _ = writeln!(t, "{day},{},{}", class_cells(&c), c.total());
    }
    t
}

/// `by-subnet.csv`: each client subnet's bytes by class.
fn by_subnet_table(a: &Analysis) -> String {
    let mut t = format!(
        "{}{},total_bytes\n",
        csv_head::BY_SUBNET,
        own::by_class_columns()
    );
    for g in &a.by_subnet {
        let _ = writeln!(
            t,
            "{},{},{}",
            csv_esc(&g.key),
            class_cells(&g.classes),
            g.total
        );
    }
    t
}

/// `top-clients.csv`: the top clients, who they are and their bytes by class.
fn top_clients_table(a: &Analysis) -> String {
    let mut t = format!(
        "{}{},total_bytes\n",
        csv_head::TOP_CLIENTS,
        own::by_class_columns()
    );
    for c in &a.top_clients {
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{}",
            csv_esc(&c.name()),
            csv_esc(&c.enis.join(" ")),
            csv_esc(opt(&c.subnet)),
            csv_esc(opt(&c.az)),
            csv_esc(opt(&c.ecs_service)),
            csv_esc(opt(&c.ecs_task)),
            class_cells(&c.classes),
            c.total
        );
    }
    t
}

/// `gateways.csv`: each NAT gateway, its bytes by class and the days of each leg counted.
fn gateways_table(a: &Analysis) -> String {
    let mut t = format!(
        "{}{},total_bytes,days_private_leg,days_public_leg\n",
        csv_head::GATEWAYS,
        own::by_class_columns()
    );
    for g in &a.gateways {
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{}",
            csv_esc(&g.eni),
            csv_esc(&g.private_ips.join(" ")),
            csv_esc(opt(&g.az)),
            csv_esc(opt(&g.subnet)),
            class_cells(&g.classes),
            g.total,
            g.days_private_leg,
            g.days_public_leg
        );
    }
    t
}

/// `inputs.csv`: each input, its lines and what became of them.
fn inputs_table(a: &Analysis) -> String {
    let mut t = format!(
        "{}lines,counted,malformed,nodata,skipdata,error,skipped\n",
        csv_head::INPUTS
    );
    for f in &a.quality.files {
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{},{},{},{}",
            csv_esc(&f.path),
            f.format.map_or("", |e| e.as_str()),
            f.size,
            csv_esc(opt(&f.etag)),
            f.counts.lines,
            f.counts.counted,
            f.counts.malformed,
            f.counts.nodata,
            f.counts.skipdata,
            csv_esc(opt(&f.error)),
            f.skipped.map_or("", |k| k.as_str())
        );
    }
    t
}

/// The before/after chart's two series: each side's label and dates (`before (2026-09-01 ..
/// 2026-09-15)`), and its bytes per day of each class.
fn before_after_series(c: &Comparison, classes: &[Measure]) -> Vec<(String, Vec<f64>)> {
    fn day(x: &Option<String>) -> &str {
        x.as_deref().and_then(|x| x.get(..10)).unwrap_or("?")
    }
    let per_day = |m: &Measure, after: bool| {
        let change = c.changes.iter().find(|ch| ch.measure == *m);
        change.map_or(0.0, |ch| match after {
            false => ch.before_per_day,
            true => ch.after_per_day,
        })
    };
    [(&c.before, false), (&c.after, true)]
        .into_iter()
        .map(|(s, after)| {
            (
                format!("{} ({} .. {})", s.label, day(&s.from), day(&s.to)),
                classes.iter().map(|m| per_day(m, after)).collect(),
            )
        })
        .collect()
}

/// The summary's line on the bill: what it charged for NAT data processing, how much of it
/// the flow logs hold, and what an S3 gateway endpoint would have saved of it.
fn billed_line(b: &BilledSummary) -> String {
    format!(
        "The bill (Cost and Usage Report): {} of NAT data processing in the period, {} of it in the flow logs{}; an S3 gateway endpoint would have saved {} of it.",
        super::money(b.billed_cost, b.currency),
        b.coverage_percent
            .map_or("none".into(), |c| format!("{c:.1}%")),
        match b.some_days && b.coverage_percent.is_some() {
            true => " on the days billed in full",
            false => "",
        },
        super::money(b.billed_s3_savings, b.currency)
    )
}

/// The summary's line on the ECR image layers: the estimate and its share of the savings, or
/// why there is none.
fn ecr_line(r: &Report) -> String {
    let a = &r.analysis;
    match a.ecr.basis.is_known() {
        true => format!(
            "ECR image layers (estimate): {} from {} task starts, {} per 30 days of the savings.",
            human(a.ecr.bytes),
            a.ecr.task_starts,
            dollars(r.cost.ecr_layer_share_of_savings.per_30_days)
        ),
        false => format!(
            "ECR image layers: unknown ({}).",
            md_esc(a.ecr.unknown_reason.as_deref().unwrap_or(""))
        ),
    }
}

/// The summary's line on the month before, as Markdown: S3 through the NAT per day, then and now.
fn trend_line(t: &Trend) -> Option<String> {
    let row = t.rows.iter().find(|x| x.measure == Measure::S3)?;
    Some(format!(
        "Against {}: S3 through the NAT {}/day, was {}/day ({}).",
        md_esc(&t.previous),
        human(row.this_per_day as u64),
        human(row.previous_per_day as u64),
        signed_pct(row.percent)
    ))
}

/// The review's NAT ENIs: a table of their days with traffic, and a line for each ENI with
/// fewer days than the period's or given but not seen.
fn nat_coverage_md(v: &Review, out: &mut String) {
    let mut tb = Table::new(&["NAT ENI", "AZ", "days with traffic", "days in period"]);
    for n in &v.nat_enis {
        tb.row(vec![
            n.eni.clone(),
            n.az.clone().unwrap_or_else(|| "-".into()),
            n.days_with_traffic.to_string(),
            n.days_in_period.to_string(),
        ]);
    }
    tb.render(true, out);
    for n in &v.nat_enis {
        if n.days_with_traffic < n.days_in_period {
            let _ = writeln!(
                out,
                "- NAT ENI {} carried traffic on {} of {} days: unless it was idle (or created or deleted in the period), its flow log has gaps and those days are missing from the totals.",
                md_esc(&n.eni), n.days_with_traffic, n.days_in_period
            );
        }
    }
    for e in &v.nat_enis_given_not_seen {
        let _ = writeln!(
            out,
            "- NAT ENI {} was given but has no records in the inputs: is its flow log missing?",
            md_esc(e)
        );
    }
}

/// The review's inputs with problems (the first ones), each `path[:line]: problem`.
fn issues_md(v: &Review, out: &mut String) {
    if v.issues.is_empty() {
        return;
    }
    out.push_str("\nInputs with problems (first ones):\n\n");
    for i in &v.issues {
        let at = match i.line {
            Some(n) => format!("{}:{n}", i.path),
            None => i.path.clone(),
        };
        let _ = writeln!(out, "- {}: {}", md_esc(&at), md_esc(&i.problem));
    }
    if v.issues_not_listed > 0 {
        let _ = writeln!(out, "- ... and {} more.", v.issues_not_listed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{BadLine, FileStats};

    use crate::report::sample;

    /// The sample's report as if of the `n`th 30-day period after its own.
    fn of_period(n: i64) -> Report {
        let mut r = sample();
        let p = &mut r.analysis.period;
        let shift = n * 30 * 86_400;
        (p.from, p.to) = (p.from.map(|t| t + shift), p.to.map(|t| t + shift));
        r
    }

    #[test]
    fn a_report_carries_the_last_periods_and_says_what_changed_since_the_last() {
        let parts = |label: &str, previous| Parts {
            label: label.into(),
            command: vec![],
            report: of_period(label[5..].parse().unwrap()),
            previous,
            comparison: None,
        };
        let first = build(parts("2025-01", None));
        assert!(first.history.is_empty() && first.trend.is_none());
        // a period the logs cover none of has no month over month, nor the one after it
        let mut empty = parts("2025-02", Some(first.clone()));
        let p = &mut empty.report.analysis.period;
        (p.first_start, p.last_end, p.covered_days) = (None, None, 0.0);
        let empty = build(empty);
        assert!(empty.summary.uncovered && empty.trend.is_none());
        let said =
            "Against 2025-01: no month over month, since the logs show none of this period's traffic.";
        assert!(empty.markdown(&[]).contains(said));
        let next = build(parts("2025-03", Some(empty)));
        assert_eq!(next.history.len(), 2);
        assert!(!next.summary.uncovered && next.trend.is_none());
        assert!(next.markdown(&[]).contains(
            "Against 2025-02: no month over month, since the logs show none of that period's traffic."
        ));
        let mut prev = first;
        for month in 2..=14 {
            prev = build(parts(&format!("2025-{month:02}"), Some(prev)));
        }
        // fourteen periods: the last twelve before this one are kept, oldest first
        assert_eq!(prev.history.len(), HISTORY);
        assert_eq!(prev.history[0].label, "2025-02");
        assert_eq!(prev.history[HISTORY - 1].label, "2025-13");
        let trend = prev.trend.as_ref().unwrap();
        assert_eq!(trend.previous, "2025-13");
        assert!(trend.caveats.is_empty(), "the same prices and ip-ranges");
        assert!(trend
            .rows
            .iter()
            .all(|r| r.previous_per_day == r.this_per_day));
        let mut last = prev.summary.clone();
        last.price_table_date = "2020-01-01".into();
        last.ip_ranges_sync_token = "1".into();
        let t = super::trend(&last, &prev.summary);
        assert_eq!(t.caveats.len(), 2);
        assert!(t.caveats[0].starts_with("Prices differ: 2025-14 used the table of 2020-01-01"));
        assert!(prev.history_left_out.is_empty());
        // one table, but another price per GB, or another GB: said; a report without the
        // price (an older flowcost's) is not compared
        let price = prev.summary.nat_price.clone().expect("kept");
        for other in [
            crate::cost::NatPrice {
                per_gb: price.per_gb * 2.0,
                ..price.clone()
            },
            crate::cost::NatPrice {
                gb_unit: crate::cost::GbUnit::Gb,
                ..price.clone()
            },
        ] {
            let mut last = prev.summary.clone();
            last.nat_price = Some(other.clone());
            let t = super::trend(&last, &prev.summary);
            assert_eq!(t.caveats.len(), 1, "{:?}", t.caveats);
            let want = format!(
                "NAT prices differ: 2025-14 was costed at {other}, this report at {price};"
            );
            assert!(t.caveats[0].starts_with(&want), "{}", t.caveats[0]);
        }
        let mut longer = prev.summary.clone();
        longer.pull_window_seconds = Some(600);
        let t = super::trend(&longer, &prev.summary);
        assert_eq!(t.caveats.len(), 1, "{:?}", t.caveats);
        assert!(
            t.caveats[0].starts_with("ECR pull windows differ: 2025-14 counted a task's S3 downloads in the 600s after its first record, this report in the 180s"),
            "{}",
            t.caveats[0]
        );
        let mut estimated = prev.summary.clone();
        estimated.counting = Some(crate::analysis::Counting::ClientSideEstimate);
        let t = super::trend(&estimated, &prev.summary);
        assert_eq!(t.caveats.len(), 1, "{:?}", t.caveats);
        assert!(
            t.caveats[0].starts_with(
                "COUNTED DIFFERENTLY: 2025-14 was estimated from the clients' own records"
            ),
            "{}",
            t.caveats[0]
        );
        let mut warned = prev.summary.clone();
        warned.warnings = vec!["INCOMPLETE: 3 of 250 inputs could not be read in full".into()];
        let t = super::trend(&warned, &prev.summary);
        assert_eq!(t.caveats.len(), 1, "{:?}", t.caveats);
        assert!(t.caveats[0].starts_with("2025-14's report opened with a warning"));
        assert!(t.caveats[0].ends_with(": INCOMPLETE: 3 of 250 inputs could not be read in full"));
        let mut legs = prev.summary.clone();
        legs.ecr_basis = Some(crate::analysis::EcrBasis::NatPrivateLegs);
        let t = super::trend(&legs, &prev.summary);
        assert_eq!(t.caveats.len(), 1, "{:?}", t.caveats);
        assert!(t.caveats[0].starts_with("ECR estimates made differently: 2025-14 found task starts from the NAT's private legs alone"), "{}", t.caveats[0]);
        let mut older = prev.summary.clone();
        older.nat_price = None;
        older.ecr_basis = None;
        older.pull_window_seconds = None;
        older.counting = None;
        older.per_day = None;
        assert!(super::trend(&older, &prev.summary).caveats.is_empty());
        // its bytes per day: over the days its logs cover
        let d = older.covered_days;
        assert_eq!(
            older.per_day(Measure::S3),
            older.bytes_of(Measure::S3) as f64 / d
        );
        assert_eq!(older.per_day(Measure::Total), older.total_bytes as f64 / d);
        let doc = serde_json::to_value(&older).unwrap();
        for key in [
            "nat_price",
            "pull_window_seconds",
            "counting",
            "warnings",
            "ecr_basis",
            "per_day",
        ] {
            assert!(doc.get(key).is_none(), "{key}");
        }
        assert_eq!(serde_json::from_value::<PeriodSummary>(doc).unwrap(), older);
        // a previous report's figures per day must follow from its bytes, in its summary and
        // its history
        let text = |doc: &MonthlyReport| serde_json::to_string(doc).unwrap();
        assert!(super::parse_previous(&text(&prev)).is_ok());
        let refused = |f: &dyn Fn(&mut MonthlyReport)| {
            let mut forged = prev.clone();
            f(&mut forged);
            super::parse_previous(&text(&forged)).unwrap_err()
        };
        let e = refused(&|d| d.summary.per_day.as_mut().unwrap().s3 = 1e308);
        assert!(e.starts_with("2025-14: s3 per day 1e308 from "), "{e}");
        assert!(
            e.ends_with(" bytes: not as flowcost writes a report.json"),
            "{e}"
        );
        let e = refused(&|d| d.history[3].per_day.as_mut().unwrap().total = -1.0);
        assert!(e.starts_with("2025-05: total per day -1e0 from "), "{e}");
        let e = refused(&|d| {
            d.summary.per_day = None;
            d.summary.covered_days = 1e-300;
        });
        assert!(e.starts_with("2025-14: covered_days 1e-300"), "{e}");
        assert_eq!(
            price.to_string(),
            "$0.045 per GB of 2^30 bytes in us-east-1"
        );
    }

    /// A previous report of this period (a rerun), or of a later one, is no earlier period:
    /// left out of the history and the trend, which go on against the periods before it, and
    /// said first thing in the report; one of unknown bounds is kept.
    #[test]
    fn a_previous_report_of_this_period_or_later_is_left_out_and_said() {
        let parts = |label: &str, n: i64, previous| Parts {
            label: label.into(),
            command: vec![],
            report: of_period(n),
            previous,
            comparison: None,
        };
        let august = build(parts("2025-08", 0, None));
        let september = build(parts("2025-09", 1, Some(august)));
        // September again, from the report of September
        let again = build(parts("2025-09", 1, Some(september.clone())));
        let labels = |r: &MonthlyReport| {
            r.history
                .iter()
                .map(|m| m.label.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(&again), ["2025-08"]);
        assert_eq!(again.trend.as_ref().unwrap().previous, "2025-08");
        assert_eq!(again.history_left_out.len(), 1);
        assert!(
            again.history_left_out[0].starts_with("--previous: 2025-09 (")
                && again.history_left_out[0].contains(") is no earlier period:"),
            "{:?}",
            again.history_left_out
        );
        let md = again.markdown(&[]);
        let said = md.find("--previous: 2025-09 (").unwrap();
        assert!(said < md.find("## Summary").unwrap(), "{md}");
        // August after September: nothing earlier is left, so no month over month
        let backwards = build(parts("2025-08", 0, Some(september.clone())));
        assert!(backwards.history.is_empty() && backwards.trend.is_none());
        assert_eq!(backwards.history_left_out.len(), 2);
        // October after September: as ever
        let october = build(parts("2025-10", 2, Some(september.clone())));
        assert_eq!(labels(&october), ["2025-08", "2025-09"]);
        assert!(october.history_left_out.is_empty());
        // a period of unknown bounds is kept
        let mut open = september;
        open.summary.to = None;
        let after_open = build(parts("2025-09", 1, Some(open)));
        assert_eq!(labels(&after_open), ["2025-08", "2025-09"]);
        // the document reads back with the field, and without it
        let back: MonthlyReport = serde_json::from_str(&again.json()).unwrap();
        assert_eq!(back, again);
        assert!(!october.json().contains("history_left_out"));
    }

    #[test]
    fn the_review_lists_each_inputs_problems_up_to_its_bound() {
        let mut r = sample();
        let a = &mut r.analysis;
        assert_eq!(input_issues(a), (vec![], 0), "the sample reads cleanly");
        let mut broken = FileStats {
            path: "a.log.gz".into(),
            error: Some("gzip stream stopped".into()),
            malformed_examples: vec![BadLine {
                line: 7,
                reason: "bytes: not a number".into(),
            }],
            ..Default::default()
        };
        broken.counts.malformed = 5;
        a.quality.files = vec![broken.clone()];
        let (issues, more) = input_issues(a);
        let lines: Vec<Option<u64>> = issues.iter().map(|i| i.line).collect();
        assert_eq!(
            lines,
            [None, Some(7)],
            "the input's error first, then its lines"
        );
        assert_eq!(issues[1].problem, "bytes: not a number");
        assert_eq!(more, 4, "malformed lines without an example");
        // 150 inputs of two problems each: 200 listed, the other 100 and 600 lines counted
        a.quality.files = vec![broken; 150];
        let (issues, more) = input_issues(a);
        assert_eq!(issues.len(), ISSUES_LISTED);
        assert_eq!(more, 100 + 150 * 4);
    }

    #[test]
    fn the_review_names_only_the_fields_the_logs_lack() {
        let r = sample();
        let named = |a: &Analysis| -> Vec<String> {
            missing_fields(a).into_iter().map(|m| m.fields).collect()
        };
        let before = named(&r.analysis);
        let mut a = r.analysis.clone();
        a.cross_az.known = !a.cross_az.known;
        let after = named(&a);
        assert_ne!(
            before.contains(&"az-id".to_string()),
            after.contains(&"az-id".to_string())
        );
        assert_eq!(
            before.iter().filter(|f| *f != "az-id").collect::<Vec<_>>(),
            after.iter().filter(|f| *f != "az-id").collect::<Vec<_>>()
        );
        // counted on public legs while the NAT's legs name clients (a NAT of NAT64 clients
        // alone): pkt-* is logged, not named
        let pkt = "pkt-srcaddr, pkt-dstaddr".to_string();
        let mut b = r.analysis.clone();
        b.method.legs = Legs::Public;
        b.clients_source = ClientsSource::NatPrivateLegs;
        assert!(!named(&b).contains(&pkt));
        b.clients_source = ClientsSource::ClientOwnRecords;
        assert!(named(&b).contains(&pkt));
        // clients whose ENIs are logged, none under a service: the ECS fields are named
        let ecs = "ecs-service-name, ecs-task-id (format v7)".to_string();
        assert!(!named(&r.analysis).contains(&ecs), "the sample has them");
        let mut c = r.analysis.clone();
        let unknown = c.by_ecs_service.iter().map(|g| g.classes).fold(
            crate::analysis::ClassBytes::default(),
            |mut all, g| {
                all.add_all(&g);
                all
            },
        );
        c.by_ecs_service = vec![crate::analysis::GroupRow {
            key: "unknown".into(),
            classes: unknown,
            total: unknown.total(),
        }];
        assert!(named(&c).contains(&ecs));
        // also when the top clients' ENIs are not logged but other clients' are (the ECR
        // estimate took task starts from them)
        c.top_clients.iter_mut().for_each(|t| t.enis.clear());
        for basis in [EcrBasis::TaskEnis, EcrBasis::TaskEnisAndNatPrivateLegs] {
            c.ecr.basis = basis;
            assert!(named(&c).contains(&ecs), "{basis:?}");
        }
        // unless no client's own ENI is logged (NAT-only logs)
        for basis in [EcrBasis::NatPrivateLegs, EcrBasis::Unknown] {
            c.ecr.basis = basis;
            assert!(!named(&c).contains(&ecs), "{basis:?}");
        }
        // unknown for a reason other than az-id (NAT-only logs, no pkt-*): not named
        use crate::analysis::CrossAzUnknown as U;
        a.cross_az.known = false;
        for (why, named_az) in [
            (vec![U::ClientsNotLogged], false),
            (vec![U::NoClients], false),
            (vec![U::NatAz, U::ClientsNotLogged], true),
            (vec![U::ClientAz], true),
            (vec![], true),
        ] {
            a.cross_az.unknown = why.clone();
            assert_eq!(
                named(&a).contains(&"az-id".to_string()),
                named_az,
                "{why:?}"
            );
        }
    }
}
