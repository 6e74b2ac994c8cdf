//! The before/after comparison (ACCOUNTING.md §8): two reports side by side, normalised per
//! day (and per task start), the change per class, and a verdict a person can act on: where
//! S3 still crosses the NAT after the change, S3 in other regions no gateway endpoint can
//! take, and whether the tasks' `traffic-path` confirms the switch. Schema
//! `flowcost.compare/1`. Pure: builds and renders values.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::own;
use super::text::Table;
use super::{dollars, human, Format, Report};
use crate::analysis::{ClassBytes, ClientRow, GroupRow, TrafficPaths};
use crate::classify::Class;
use crate::time::format_instant;

/// The JSON schema identifier of a comparison.
pub const SCHEMA: &str = "flowcost.compare/1";

/// Bytes per day, by class (floats: a normalisation, not a count).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PerDay {
    pub s3: f64,
    pub dynamodb: f64,
    pub s3_other_region: f64,
    pub aws_other: f64,
    pub internet: f64,
    pub total: f64,
    pub ecr_layers: f64,
}

impl PerDay {
    /// A report's bytes per day of the time its logs cover, not of the period asked for:
    /// each NAT gateway at the rate of its own logs' span, as its cost is projected per 30 days
    /// ([`crate::analysis::rate`]), so that the rows agree with the cost's; the ECR layers
    /// at the rate of the S3 class they are part of.
    pub(super) fn of(r: &Report) -> PerDay {
        let a = &r.analysis;
        let d = coverage(a);
        let rate = |of: &dyn Fn(&ClassBytes) -> u64, all: u64| {
            crate::analysis::rate(&a.gateways, d, of, all, 1.0)
        };
        let c = |cl: Class| rate(&|g| g.get(cl).total(), a.classes.get(cl).total());
        let s3 = c(Class::S3);
        PerDay {
            s3,
            dynamodb: c(Class::Dynamodb),
            s3_other_region: c(Class::S3OtherRegion),
            aws_other: c(Class::AwsOther),
            internet: c(Class::Internet),
            total: rate(&|g| g.total(), a.total),
            ecr_layers: match a.classes.s3.total() {
                0 if d > 0.0 => a.ecr.bytes as f64 / d,
                0 => 0.0,
                s3_bytes => a.ecr.bytes as f64 * s3 / s3_bytes as f64,
            },
        }
    }
    pub(super) fn get(&self, m: Measure) -> f64 {
        match m {
            Measure::S3 => self.s3,
            Measure::Dynamodb => self.dynamodb,
            Measure::S3OtherRegion => self.s3_other_region,
            Measure::AwsOther => self.aws_other,
            Measure::Internet => self.internet,
            Measure::EcrLayers => self.ecr_layers,
            Measure::Total => self.total,
        }
    }
}

/// The days a report's logs cover (the period's length for documents without it).
fn coverage(a: &crate::analysis::Analysis) -> f64 {
    if a.period.covered_days > 0.0 {
        a.period.covered_days
    } else {
        a.period.days
    }
}

named_enum!(
    /// Which side of the comparison a [`Side`] is.
    SideLabel {
        Before = "before",
        After = "after",
    }
);

/// One side of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    pub label: SideLabel,
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: f64,
    /// The days its logs cover: the per-day figures divide by this.
    #[serde(default)]
    pub covered_days: f64,
    pub per_day: PerDay,
    pub task_starts: u64,
    /// S3 NAT bytes per task start, where tasks were seen starting.
    pub s3_per_task_start: Option<f64>,
    pub nat_cost_per_30_days: f64,
    pub s3_cost_per_30_days: f64,
    pub s3_egress_traffic_path: TrafficPaths,
    /// Where the ECR estimate's task starts came from; `unknown`: `per_day.ecr_layers` is no
    /// figure (absent from a comparison of a flowcost before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecr_basis: Option<crate::analysis::EcrBasis>,
}

impl Side {
    /// Whether the side's ECR layers are a figure.
    fn ecr_known(&self) -> bool {
        self.ecr_basis.is_none_or(|b| b.is_known())
    }
}

impl Side {
    fn of(label: SideLabel, r: &Report) -> Side {
        let a = &r.analysis;
        Side {
            label,
            from: a.period.from.map(format_instant),
            to: a.period.to.map(format_instant),
            days: a.period.days,
            covered_days: coverage(a),
            per_day: PerDay::of(r),
            task_starts: a.ecr.task_starts,
            s3_per_task_start: (a.ecr.task_starts > 0)
                .then(|| a.classes.s3.total() as f64 / a.ecr.task_starts as f64),
            nat_cost_per_30_days: r.cost.nat_processing.per_30_days,
            s3_cost_per_30_days: r.cost.s3_gateway_endpoint_savings.per_30_days,
            s3_egress_traffic_path: a.s3_egress_traffic_path.clone(),
            ecr_basis: Some(a.ecr.basis),
        }
    }
}

/// The change of one measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub measure: Measure,
    pub before_per_day: f64,
    pub after_per_day: f64,
    pub delta_per_day: f64,
    pub percent: Option<f64>,
}

/// What to do about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Drop of the `s3` class per day, percent (negative: it grew).
    pub s3_drop_percent: Option<f64>,
    pub s3_left_per_day: f64,
    /// After the change: client subnets, AZs and clients whose S3 still crosses a NAT
    /// (their route tables lack the endpoint), largest first.
    pub s3_left_by_subnet: Vec<GroupRow>,
    pub s3_left_by_az: Vec<GroupRow>,
    pub s3_left_clients: Vec<ClientRow>,
    /// With the VPC inventory: the route tables still sending S3 through a NAT without the
    /// S3 gateway endpoint after the change (the after side's endpoint plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s3_route_tables_without_endpoint: Vec<String>,
    /// S3 in other regions after the change: no gateway endpoint can take it.
    pub s3_other_region_per_day: f64,
    /// `Some(true)` when the tasks' S3 egress moved from traffic-path 1 (NAT) to a gateway
    /// endpoint (2/7); `None` when traffic-path is not logged.
    pub traffic_path_confirms: Option<bool>,
    pub summary: Vec<String>,
}

/// The pipeline gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub threshold: String,
    pub limit_bytes_per_day: f64,
    pub s3_left_per_day: f64,
    pub failed: bool,
}

/// Both full reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    pub before: Report,
    pub after: Report,
}

/// The comparison document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub schema: String,
    pub flowcost_version: String,
    pub before: Side,
    pub after: Side,
    pub changes: Vec<Change>,
    pub verdict: Verdict,
    pub gate: Option<Gate>,
    pub reports: Reports,
}

/// A gate threshold: bytes per day, or a percentage of the before period's S3 per day.
#[derive(Clone, Debug, PartialEq)]
pub enum Threshold {
    BytesPerDay(f64),
    Percent(f64),
}

impl Threshold {
    /// Parse `5%`, `123456`, `200MB`, `5GiB`, `1.5TB`.
    pub fn parse(s: &str) -> Option<Threshold> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            return p
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| *v >= 0.0)
                .map(Threshold::Percent);
        }
        let units: [(&str, f64); 9] = [
            ("KiB", 1024.0),
            ("MiB", 1024f64.powi(2)),
            ("GiB", 1024f64.powi(3)),
            ("TiB", 1024f64.powi(4)),
            ("KB", 1e3),
            ("MB", 1e6),
            ("GB", 1e9),
            ("TB", 1e12),
            ("B", 1.0),
        ];
        for (u, m) in units {
            if let Some(n) = s.strip_suffix(u) {
                return n
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v >= 0.0)
                    .map(|v| Threshold::BytesPerDay(v * m));
            }
        }
        s.parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .map(Threshold::BytesPerDay)
    }
}

named_enum!(
    /// A measure compared per day: a class (by the class's own name), the total of the
    /// classes, or the ECR estimate.
    Measure {
        S3 = "s3",
        Dynamodb = "dynamodb",
        S3OtherRegion = "s3-other-region",
        AwsOther = "aws-other",
        Internet = "internet",
        Total = "total",
        EcrLayers = "ecr-layers",
    }
);

impl Measure {
    /// Every measure, in the order of the tables: the classes, the total, the ECR estimate.
    pub const ALL: [Measure; 7] = [
        Measure::S3,
        Measure::Dynamodb,
        Measure::S3OtherRegion,
        Measure::AwsOther,
        Measure::Internet,
        Measure::Total,
        Measure::EcrLayers,
    ];

    /// The class measured, for the five class measures.
    pub fn class(self) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == self.as_str())
    }
}

/// The measures compared per day.
pub(super) fn measures() -> impl Iterator<Item = Measure> {
    Measure::ALL.into_iter()
}

/// Percent change from `before` to `after` (none when `before` is zero).
pub(super) fn pct_change(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| (after - before) * 100.0 / before)
}

/// Compare two reports: the per-day change of each measure, where S3 still crosses the NAT
/// after the change, whether `traffic-path` confirms the switch, a summary in sentences,
/// and the gate's verdict.
pub fn compare(
    before: Report,
    after: Report,
    gate: Option<(&str, Threshold)>,
    top: usize,
) -> Comparison {
    let b = Side::of(SideLabel::Before, &before);
    let a = Side::of(SideLabel::After, &after);
    let an = &after.analysis;
    let by_subnet = with_s3_largest_first(&an.by_subnet);
    let by_az = with_s3_largest_first(&an.by_az);
    let clients: Vec<ClientRow> = an
        .top_clients
        .iter()
        .filter(|c| c.classes.s3.total() > 0)
        .take(top)
        .cloned()
        .collect();
    let confirms = path_confirms(&b.s3_egress_traffic_path, &a.s3_egress_traffic_path);
    let drop = pct_change(b.per_day.s3, a.per_day.s3).map(|p| -p);
    let summary = summary(&before, &after, (&b, &a), &by_subnet, drop, confirms);
    let s3_route_tables_without_endpoint: Vec<String> = (after.inventory.as_ref())
        .map(|i| {
            (i.plan.iter())
                .filter(|p| p.service == crate::plan::Service::S3)
                .map(|p| p.route_table.clone())
                .collect()
        })
        .unwrap_or_default();
    let gate = gate.map(|(text, t)| gate_of(text, t, &b, &a));
    Comparison {
        schema: SCHEMA.to_string(),
        flowcost_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: Verdict {
            s3_drop_percent: drop,
            s3_left_per_day: a.per_day.s3,
            s3_left_by_subnet: by_subnet,
            s3_left_by_az: by_az,
            s3_left_clients: clients,
            s3_route_tables_without_endpoint,
            s3_other_region_per_day: a.per_day.s3_other_region,
            traffic_path_confirms: confirms,
            summary,
        },
        changes: changes(&b, &a),
        before: b,
        after: a,
        gate,
        reports: Reports { before, after },
    }
}

/// Each measure per day, before and after.
fn changes(b: &Side, a: &Side) -> Vec<Change> {
    let ecr = b.ecr_known() && a.ecr_known();
    measures()
        .filter(|m| ecr || *m != Measure::EcrLayers)
        .map(|m| {
            let (x, y) = (b.per_day.get(m), a.per_day.get(m));
            Change {
                measure: m,
                before_per_day: x,
                after_per_day: y,
                delta_per_day: y - x,
                percent: pct_change(x, y),
            }
        })
        .collect()
}

/// The groups with S3 bytes, the largest S3 first (then by key).
fn with_s3_largest_first(rows: &[GroupRow]) -> Vec<GroupRow> {
    let mut v: Vec<GroupRow> = rows
        .iter()
        .filter(|g| g.classes.s3.total() > 0)
        .cloned()
        .collect();
    v.sort_by(|x, y| {
        (y.classes.s3.total())
            .cmp(&x.classes.s3.total())
            .then(x.key.cmp(&y.key))
    });
    v
}

/// Whether the tasks' `traffic-path` shows their S3 egress moving to a gateway endpoint:
/// some after, and a smaller share via a VPC resource (the NAT) than before; `None` where
/// `traffic-path` is not logged.
fn path_confirms(tb: &TrafficPaths, ta: &TrafficPaths) -> Option<bool> {
    let logged = tb.via_vpc_resource
        + tb.via_gateway_endpoint
        + ta.via_vpc_resource
        + ta.via_gateway_endpoint
        > 0;
    let nat_share = |t: &TrafficPaths| {
        t.via_vpc_resource as f64 / (t.via_vpc_resource + t.via_gateway_endpoint).max(1) as f64
    };
    logged.then(|| ta.via_gateway_endpoint > 0 && nat_share(ta) < nat_share(tb))
}

/// The gate (`--fail-if-s3-above`): S3 left per day against a limit in bytes a day or in
/// percent of before.
fn gate_of(text: &str, t: Threshold, b: &Side, a: &Side) -> Gate {
    let limit = match t {
        Threshold::BytesPerDay(v) => v,
        Threshold::Percent(p) => b.per_day.s3 * p / 100.0,
    };
    Gate {
        threshold: text.to_string(),
        limit_bytes_per_day: limit,
        s3_left_per_day: a.per_day.s3,
        failed: a.per_day.s3 > limit,
    }
}

/// The verdict in sentences: S3's change, the bill's, the subnets S3 still leaves by,
/// uneven coverage, S3 of other regions, and what `traffic-path` says.
fn summary(
    before: &Report,
    after: &Report,
    (b, a): (&Side, &Side),
    by_subnet: &[GroupRow],
    drop: Option<f64>,
    confirms: Option<bool>,
) -> Vec<String> {
    let mut summary = vec![s3_change((b, a), drop)];
    summary.extend(sides_warnings(before, after));
    if let (Some(rb), Some(ra)) = (&before.reconciliation, &after.reconciliation) {
        summary.push(billed_change((b, rb), (a, ra)));
    }
    summary.extend(subnets_left(after, a, by_subnet));
    summary.extend(coverage_differs(b, a));
    summary.extend(short_gateways(before, after));
    summary.extend(made_differently(before, after));
    if a.per_day.s3_other_region > 0.0 {
        summary.push(format!(
            "S3 in other regions: {}/day after the change. No gateway endpoint can take it (same-region only).",
            human(a.per_day.s3_other_region as u64)
        ));
    }
    summary.push(traffic_path_says((b, a), confirms));
    summary
}

/// Each side's NAT gateways whose records cover under 90 % of the time its logs cover
/// ([`crate::analysis::short_gateways_note`]): its per-day figures take them at their own
/// rate, as its cost per 30 days does.
fn short_gateways<'a>(before: &'a Report, after: &'a Report) -> impl Iterator<Item = String> + 'a {
    [("Before", before), ("After", after)]
        .into_iter()
        .filter_map(|(side, r)| {
            let a = &r.analysis;
            crate::analysis::short_gateways_note(&a.gateways, a.period.covered_days)
                .map(|note| format!("{side}: {note}"))
        })
}

/// How the two sides were made differently, where they were (sides of partial results carry
/// their own settings): classified with other ip-ranges documents, ECR estimates from other
/// records or over other pull windows, costs at other NAT prices. Each makes part of a change
/// the method's, not the traffic's.
fn made_differently(before: &Report, after: &Report) -> Vec<String> {
    const B: &str = "the before side";
    const A: &str = "the after side";
    let (rb, ra) = (&before.inputs.ip_ranges, &after.inputs.ip_ranges);
    let ranges = (rb.sync_token != ra.sync_token).then(|| format!(
        "IP ranges differ: {B} was classified with the ip-ranges document of syncToken {} (created {}), {A} with syncToken {} (created {}); addresses AWS moved between services count in different classes.",
        rb.sync_token, rb.create_date, ra.sync_token, ra.create_date
    ));
    let (eb, ea) = (&before.analysis.ecr, &after.analysis.ecr);
    let price = |r: &Report| crate::cost::NatPrice::of(&r.cost);
    (ranges.into_iter())
        .chain(crate::analysis::ecr_bases_differ(
            (B, eb.basis),
            (A, ea.basis),
        ))
        .chain(price(before).differs(B, &price(after), A))
        .chain(crate::analysis::pull_windows_differ(
            (B, eb.pull_window_seconds),
            (A, ea.pull_window_seconds),
        ))
        .collect()
}

/// What makes the two sides' figures not comparable as they stand, said first thing (and on
/// stderr): they were counted differently (one on the NAT gateways' ENIs, one estimated from
/// the clients' own records), or their logs overlap ([`logs_overlap`]).
pub fn sides_warnings(before: &Report, after: &Report) -> Vec<String> {
    let counting = |r: &Report| r.analysis.method.counting;
    let differently = crate::analysis::countings_differ(
        ("the before side", counting(before)),
        ("the after side", counting(after)),
    );
    (differently.into_iter())
        .chain(logs_overlap(before, after).map(overlap_said))
        .collect()
}

/// Why a side cannot be compared, where its logs show none of its time's traffic: no counted
/// record in it is dated (its format lacks `start`, or no record falls in its period; with
/// the NAT gateways named, a period without records is a report of zero bytes), or its
/// records, or its NAT gateways', are all REJECT (a flow log of rejected traffic only). Its
/// per-day figures would divide by nothing, or be zeros that are no finding, and a comparison
/// would show every byte gone ("-100 %"): the sides are refused instead.
pub fn uncovered(label: SideLabel, r: &Report) -> Option<String> {
    let a = &r.analysis;
    // the bounds the side was given, not those its records' times would make (a side whose
    // records have an `end` but no `start` would read as a period "until" their last end)
    let span = super::bounds_said(r.inputs.since.clone(), r.inputs.until.clone());
    let side = label.as_str();
    if a.period.covered_days > 0.0 {
        let lines = &a.quality.lines;
        if crate::analysis::no_accepted_traffic(lines, &a.period) {
            return Some(format!(
                "the {side} side's logs show none of its traffic{span}: its {} records are all REJECT, none accepted (a flow log of rejected traffic only, or NAT gateways that saw nothing else), so it has no figure of what passed and cannot be compared; give it the logs of a flow log of traffic type ALL or ACCEPT",
                lines.rejected
            ));
        }
        return crate::analysis::nat_rejected_only(a).then(|| format!(
            "the {side} side's logs show none of its NAT gateways' traffic{span}: their {} records are all REJECT, none accepted, while other interfaces' records were counted (a flow log of rejected traffic only on their subnets), so it has no figure of what passed through them and cannot be compared; give it the logs of a flow log of traffic type ALL or ACCEPT on them",
            a.rejected.nat_records
        ));
    }
    let l = &a.quality.lines;
    let why = match (l.counted, l.undated + l.outside_time) {
        (0, 0) => "it holds no record".to_string(),
        (0, _) => {
            let parts = [
                (l.outside_time, "fall outside its period"),
                (l.undated, "have no start"),
            ];
            let said: Vec<String> = (parts.iter().filter(|p| p.0 > 0))
                .map(|(n, what)| format!("{n} records {what}"))
                .collect();
            format!("none of its records is in it ({})", said.join(", "))
        }
        (n, _) => match a.period.first_start {
            None => format!(
                "its {n} counted records have no start (the flow log's format leaves it out)"
            ),
            Some(t) => format!(
                "its {n} counted records start and end at {}, which is no time",
                format_instant(t)
            ),
        },
    };
    Some(format!(
        "the {side} side's logs cover none of its time{span}: {why}, so it has no per-day figure and cannot be compared; give it logs whose records are dated and fall in its period"
    ))
}

/// Why two sides cannot be compared, where one of them covers none of its time
/// ([`uncovered`]: the before side's reason first).
pub fn uncovered_side(before: &Report, after: &Report) -> Option<String> {
    let sides = [(SideLabel::Before, before), (SideLabel::After, after)];
    sides.into_iter().find_map(|(l, r)| uncovered(l, r))
}

/// The stretch of time both sides hold records of (each side's first record's start to its
/// last one's end), where it is longer than [`crate::time::PERIODS_MAY_SHARE`]: the same
/// logs given to both sides, or logs of one period given to the other, which make a change
/// look smaller.
pub fn logs_overlap(before: &Report, after: &Report) -> Option<(i64, i64)> {
    let span = |r: &Report| (r.analysis.period.first_start).zip(r.analysis.period.last_end);
    let ((bf, bt), (af, at)) = (span(before)?, span(after)?);
    let (from, to) = (bf.max(af), bt.min(at));
    (to.saturating_sub(from) > crate::time::PERIODS_MAY_SHARE).then_some((from, to))
}

/// What [`logs_overlap`] found, said.
pub fn overlap_said((from, to): (i64, i64)) -> String {
    format!(
        "OVERLAPPING LOGS: both sides hold records from {} to {} ({:.1} hours): the comparison mixes the two periods, and a change made between them shows as less than it was; give each side the logs of its own period, or all the logs once with a period to each of --before and --after.",
        format_instant(from),
        format_instant(to),
        (to - from) as f64 / 3600.0
    )
}

/// S3 through the NAT per day on either side, and its drop (`None`: there was none before).
fn s3_change((b, a): (&Side, &Side), drop: Option<f64>) -> String {
    match drop {
        Some(d) => format!(
            "S3 through the NAT: {}/day before, {}/day after ({}{:.1}%).",
            human(b.per_day.s3 as u64),
            human(a.per_day.s3 as u64),
            if d >= 0.0 { "-" } else { "+" },
            d.abs()
        ),
        None => "No S3 crossed the NAT before the change.".into(),
    }
}

/// The billed NAT data processing per day on either side, and the billed S3 savings still
/// open after: per day of the side's period the bill covers (an export not refreshed for its
/// last days would otherwise read as less processing).
fn billed_change(
    (b, rb): (&Side, &crate::bill::Reconciliation),
    (a, ra): (&Side, &crate::bill::Reconciliation),
) -> String {
    let per_day = |cost: f64, days: f64, rec: &crate::bill::Reconciliation| {
        let days = match rec.billed_days() {
            Some(n) if n <= 0.0 => return "none in the bill".to_string(),
            Some(n) => days.min(n),
            None => days,
        };
        format!(
            "{}/day",
            super::money(cost / days.max(f64::MIN_POSITIVE), rec.currency)
        )
    };
    format!(
        "Billed NAT data processing (the Cost and Usage Report): {} before, {} after; billed S3 savings still open {}.",
        per_day(rb.billed_cost, b.days, rb),
        per_day(ra.billed_cost, a.days, ra),
        per_day(ra.billed_s3_savings, a.days, ra)
    )
}

/// Each subnet S3 still crosses the NAT from after the change: its bytes per day, its share
/// of what is left, and its route table where the inventory names it.
fn subnets_left(after: &Report, a: &Side, by_subnet: &[GroupRow]) -> Vec<String> {
    let s3_left = after.analysis.classes.s3.total().max(1) as f64;
    let inventory = after.inventory.as_ref();
    let table_of = |subnet: &str| {
        inventory
            .and_then(|i| i.subnets.iter().find(|s| s.subnet == subnet))
            .and_then(|s| s.route_table.clone())
    };
    (by_subnet.iter())
        .map(|g| {
            format!(
                "S3 still crosses the NAT from subnet {}: {}/day ({:.1}% of what is left). Its route table{} lacks the S3 gateway endpoint.",
                g.key,
                human((g.classes.s3.total() as f64 * a.per_day.s3 / s3_left) as u64),
                g.classes.s3.total() as f64 * 100.0 / s3_left,
                table_of(&g.key).map_or(String::new(), |t| format!(" ({t})"))
            )
        })
        .collect()
}

/// A side whose logs cover under half its period, or under half what the other's cover of
/// theirs, said so.
fn coverage_differs(b: &Side, a: &Side) -> Option<String> {
    let share = |s: &Side| match s.days > 0.0 {
        true => s.covered_days / s.days,
        false => 1.0,
    };
    let (cb, ca) = (share(b), share(a));
    (cb < 0.5 || ca < 0.5 || cb.max(ca) > 2.0 * cb.min(ca)).then(|| format!(
        "Coverage differs: the logs cover {:.2} of the {:.2} days before and {:.2} of the {:.2} days after; per-day figures divide by the days covered, but a side with little coverage may not be typical.",
        b.covered_days, b.days, a.covered_days, a.days
    ))
}

/// What `traffic-path` says of the tasks' S3 egress (`confirms`: whether it moved to a
/// gateway endpoint; `None`: not logged).
fn traffic_path_says((b, a): (&Side, &Side), confirms: Option<bool>) -> String {
    let (tb, ta) = (&b.s3_egress_traffic_path, &a.s3_egress_traffic_path);
    match confirms {
        Some(true) => format!(
            "traffic-path confirms it: the tasks' S3 egress via a VPC resource (1, the NAT) went from {} to {}, via a gateway endpoint (2/7) from {} to {}.",
            human(tb.via_vpc_resource),
            human(ta.via_vpc_resource),
            human(tb.via_gateway_endpoint),
            human(ta.via_gateway_endpoint)
        ),
        Some(false) => "traffic-path does not show the tasks' S3 egress moving to a gateway endpoint (2/7).".into(),
        None => "traffic-path is not logged: add it (v5) to see the switch confirmed per task.".into(),
    }
}

pub(super) fn signed_pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |v| format!("{v:+.1}%"))
}

fn signed_bytes(v: f64) -> String {
    format!(
        "{}{}",
        if v < 0.0 { "-" } else { "+" },
        human(v.abs() as u64)
    )
}

impl Comparison {
    /// Render in a format.
    pub fn render(&self, f: Format) -> String {
        match f {
            Format::Json => {
                serde_json::to_string_pretty(self).expect("comparison serialises") + "\n"
            }
            Format::Csv => {
                let mut out = format!("{}delta_per_day,percent\n", own::csv_head::COMPARE);
                for c in &self.changes {
                    let _ = writeln!(
                        out,
                        "{},{:.0},{:.0},{:.0},{}",
                        c.measure.as_str(),
                        c.before_per_day,
                        c.after_per_day,
                        c.delta_per_day,
                        c.percent.map_or(String::new(), |p| format!("{p:.3}"))
                    );
                }
                out
            }
            Format::Table | Format::Markdown => {
                super::escape::clean_lines(self.text(f == Format::Markdown))
            }
        }
    }

    fn text(&self, md: bool) -> String {
        let mut out = String::new();
        self.side_warnings(md, &mut out);
        self.title_and_periods(md, &mut out);
        self.per_day_table(md, &mut out);
        self.verdict_text(md, &mut out);
        out
    }

    /// Each side's warnings, then what makes the sides not comparable ([`sides_warnings`]),
    /// before any figure.
    fn side_warnings(&self, md: bool, out: &mut String) {
        for (side, r) in [
            ("before", &self.reports.before),
            ("after", &self.reports.after),
        ] {
            for text in super::warnings_of(r) {
                let text = format!("{text}\n  (the {side} side's inputs)");
                super::write_warning(out, &text, md);
            }
        }
        for w in sides_warnings(&self.reports.before, &self.reports.after) {
            super::write_warning(out, &w, md);
        }
    }

    /// The title, and each side's period and the time its logs cover.
    fn title_and_periods(&self, md: bool, out: &mut String) {
        let li = if md { "- " } else { "" };
        if md {
            let _ = writeln!(out, "# {}\n", super::own::COMPARE_TITLE);
        } else {
            let t = super::own::COMPARE_TITLE;
            let _ = writeln!(out, "{t}\n{}", "=".repeat(t.len()));
        }
        let period = |s: &Side| {
            format!(
                "{} .. {} ({:.2} days; logs cover {:.2})",
                s.from.as_deref().unwrap_or("?"),
                s.to.as_deref().unwrap_or("?"),
                s.days,
                s.covered_days
            )
        };
        let _ = writeln!(out, "{li}Before: {}", period(&self.before));
        let _ = writeln!(out, "{li}After:  {}\n", period(&self.after));
    }

    /// Each measure per day before and after, the NAT cost per 30 days and S3 per task start.
    fn per_day_table(&self, md: bool, out: &mut String) {
        let (b, a) = (&self.before, &self.after);
        let rows: Vec<[String; 5]> = self
            .changes
            .iter()
            .map(|c| {
                [
                    c.measure.as_str().to_string(),
                    human(c.before_per_day as u64),
                    human(c.after_per_day as u64),
                    signed_bytes(c.delta_per_day),
                    signed_pct(c.percent),
                ]
            })
            .chain(
                (!self.changes.iter().any(|c| c.measure == Measure::EcrLayers)).then(|| {
                    let layers = |s: &Side| match s.ecr_known() {
                        true => human(s.per_day.ecr_layers as u64),
                        false => "-".into(),
                    };
                    [
                        Measure::EcrLayers.as_str().into(),
                        layers(b),
                        layers(a),
                        String::new(),
                        String::new(),
                    ]
                }),
            )
            .chain([
                [
                    "NAT cost / 30 days".into(),
                    dollars(b.nat_cost_per_30_days),
                    dollars(a.nat_cost_per_30_days),
                    format!(
                        "{}{}",
                        if a.nat_cost_per_30_days < b.nat_cost_per_30_days {
                            "-"
                        } else {
                            "+"
                        },
                        dollars((a.nat_cost_per_30_days - b.nat_cost_per_30_days).abs())
                    ),
                    signed_pct(pct_change(b.nat_cost_per_30_days, a.nat_cost_per_30_days)),
                ],
                [
                    "S3 per task start".into(),
                    b.s3_per_task_start.map_or("-".into(), |v| human(v as u64)),
                    a.s3_per_task_start.map_or("-".into(), |v| human(v as u64)),
                    String::new(),
                    String::new(),
                ],
            ])
            .collect();
        let mut t = Table::new(&["per day", "before", "after", "change", "%"]);
        for r in rows {
            t.row(r.to_vec());
        }
        t.render(md, out);
    }

    /// The verdict: its summary, the clients whose S3 still crosses a NAT, and the gate.
    fn verdict_text(&self, md: bool, out: &mut String) {
        let li = if md { "- " } else { "" };
        out.push_str(if md {
            "\n## Verdict\n\n"
        } else {
            "\nVerdict\n-------\n"
        });
        let esc = |s: &str| -> String {
            if md {
                super::escape::md(s).into_owned()
            } else {
                super::escape::clean(s).into_owned()
            }
        };
        for s in &self.verdict.summary {
            let _ = writeln!(out, "{li}{}", esc(s));
        }
        if !self.verdict.s3_left_clients.is_empty() {
            let _ = writeln!(out, "{li}Clients whose S3 still crosses the NAT:");
            for c in &self.verdict.s3_left_clients {
                let _ = writeln!(
                    out,
                    "{}  {} {} {} {}: {}",
                    if md { "  -" } else { "" },
                    esc(&c.name()),
                    esc(c.enis.first().map(String::as_str).unwrap_or("-")),
                    esc(c.subnet.as_deref().unwrap_or("-")),
                    esc(c.ecs_service.as_deref().unwrap_or("-")),
                    human(c.classes.s3.total())
                );
            }
        }
        if let Some(g) = &self.gate {
            let _ = writeln!(
                out,
                "{li}Gate --fail-if-s3-via-nat-above {}: {}/day left against a limit of {}/day: {}",
                g.threshold,
                human(g.s3_left_per_day as u64),
                human(g.limit_bytes_per_day as u64),
                if g.failed { "FAILED" } else { "passed" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ClassBytes;

    /// A side is refused only where its logs cover no time, and the reason names what its
    /// records were: none in its period, without a start, or all of one instant.
    #[test]
    fn a_side_covering_no_time_is_refused_with_its_cause() {
        let mut r = crate::report::sample();
        assert_eq!(uncovered(SideLabel::After, &r), None);
        // (the period the side was given is named, not one its records make)
        r.inputs.since = Some("2026-09-01T00:00:00Z".into());
        r.inputs.until = Some("2026-09-02T00:00:00Z".into());
        r.analysis.period.covered_days = 0.0;
        let said = uncovered(SideLabel::After, &r).unwrap();
        assert!(said.starts_with("the after side's logs cover none of its time (2026-09-01T00:00:00Z .. 2026-09-02T00:00:00Z): its 6322 counted records start and end at 2026-09-01T00:02:00Z, which is no time, so"), "{said}");
        r.analysis.period.first_start = None;
        let said = uncovered(SideLabel::Before, &r).unwrap();
        assert!(said.contains("before side's logs cover none of its time (2026-09-01T00:00:00Z .. 2026-09-02T00:00:00Z): its 6322 counted records have no start"), "{said}");
        let l = &mut r.analysis.quality.lines;
        (l.counted, l.outside_time, l.undated) = (0, 7, 2);
        let said = uncovered(SideLabel::After, &r).unwrap();
        assert!(said.contains(": none of its records is in it (7 records fall outside its period, 2 records have no start), so"), "{said}");
        r.analysis.quality.lines.undated = 0;
        let said = uncovered(SideLabel::After, &r).unwrap();
        assert!(
            said.contains("(7 records fall outside its period), so"),
            "{said}"
        );
        r.analysis.quality.lines.outside_time = 0;
        let said = uncovered(SideLabel::After, &r).unwrap();
        assert!(said.contains(": it holds no record, so"), "{said}");
        r.inputs.until = None;
        let said = uncovered(SideLabel::After, &r).unwrap();
        assert!(said.contains("none of its time (from 2026-09-01T00:00:00Z): it holds"));
        // records all REJECT, however long the time they cover: no traffic that passed
        let mut r = crate::report::sample();
        let l = &mut r.analysis.quality.lines;
        (l.counted, l.rejected) = (0, 40);
        let said = uncovered(SideLabel::Before, &r).unwrap();
        assert!(said.starts_with("the before side's logs show none of its traffic: its 40 records are all REJECT, none accepted"), "{said}");
    }

    fn paths(vpc: u64, endpoint: u64) -> TrafficPaths {
        TrafficPaths {
            via_vpc_resource: vpc,
            via_gateway_endpoint: endpoint,
            ..Default::default()
        }
    }

    #[test]
    fn traffic_path_confirms_a_move_to_the_endpoint_only() {
        assert_eq!(
            path_confirms(&paths(0, 0), &paths(0, 0)),
            None,
            "not logged"
        );
        assert_eq!(path_confirms(&paths(100, 0), &paths(10, 90)), Some(true));
        // the endpoint carries some, but no larger share than before
        assert_eq!(path_confirms(&paths(50, 50), &paths(60, 40)), Some(false));
        // nothing through the endpoint after, however little through the NAT
        assert_eq!(path_confirms(&paths(100, 0), &paths(1, 0)), Some(false));
    }

    #[test]
    fn each_class_is_measured_under_its_own_name() {
        let classes: Vec<Class> = Measure::ALL.iter().filter_map(|m| m.class()).collect();
        assert_eq!(
            classes,
            Class::ALL,
            "the five class measures, in the classes' order"
        );
        for m in Measure::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(
                json,
                format!("\"{m}\""),
                "serde and Display spell {m:?} alike"
            );
            assert_eq!(serde_json::from_str::<Measure>(&json).unwrap(), m);
        }
        assert_eq!(Measure::EcrLayers.class(), None);
        assert_eq!(Measure::Total.class(), None);
    }

    fn side(days: f64, covered_days: f64) -> Side {
        Side {
            label: SideLabel::Before,
            from: None,
            to: None,
            days,
            covered_days,
            per_day: PerDay::default(),
            task_starts: 0,
            s3_per_task_start: None,
            nat_cost_per_30_days: 0.0,
            s3_cost_per_30_days: 0.0,
            s3_egress_traffic_path: TrafficPaths::default(),
            ecr_basis: None,
        }
    }

    /// ECR layers are compared only where both sides' logs can show them: a side whose
    /// basis is unknown has no figure (its zero is no measurement), so no change is made of
    /// it; a comparison of a flowcost before the basis was kept compares them as it did.
    #[test]
    fn ecr_layers_are_compared_only_where_both_sides_know_them() {
        use crate::analysis::EcrBasis;
        let with = |basis: Option<EcrBasis>, layers: f64| Side {
            ecr_basis: basis,
            per_day: PerDay {
                ecr_layers: layers,
                ..PerDay::default()
            },
            ..side(1.0, 1.0)
        };
        let has_ecr =
            |b: &Side, a: &Side| (changes(b, a).iter()).any(|c| c.measure == Measure::EcrLayers);
        let known = with(Some(EcrBasis::TaskEnis), 5.0);
        let unknown = with(Some(EcrBasis::Unknown), 0.0);
        assert!(has_ecr(&known, &known));
        assert!(!has_ecr(&unknown, &known));
        assert!(!has_ecr(&known, &unknown));
        assert!(has_ecr(&with(None, 0.0), &known), "an older document");
        assert_eq!(changes(&unknown, &known).len(), measures().count() - 1);
    }

    /// The sides' logs overlap when both hold records of more than an hour in common: the
    /// same logs on both sides, or one side's period inside the other's; records of one side
    /// ending minutes into the other's, or sides without records, say nothing. The text
    /// output opens with it, and the verdict says it too.
    #[test]
    fn overlapping_logs_are_said_past_an_hour() {
        let at = |first: i64, last: i64| {
            let mut r = crate::report::sample();
            r.analysis.period.first_start = Some(first);
            r.analysis.period.last_end = Some(last);
            r
        };
        let day = 1_788_220_800;
        let overlap = |b: Report, a: Report| logs_overlap(&b, &a);
        assert_eq!(
            overlap(at(day, day + 86_400), at(day, day + 86_400)),
            Some((day, day + 86_400))
        );
        assert_eq!(
            overlap(at(day, day + 86_400), at(day + 600, day + 7_000)),
            Some((day + 600, day + 7_000))
        );
        assert_eq!(overlap(at(day, day + 3_600), at(day, day + 3_600)), None);
        assert_eq!(
            overlap(at(day, day + 86_400), at(day + 85_800, day + 172_800)),
            None
        );
        assert_eq!(
            overlap(at(day + 86_400, day + 90_000), at(day, day + 3_600)),
            None
        );
        let mut none = at(day, day + 86_400);
        none.analysis.period.first_start = None;
        assert_eq!(overlap(none, at(day, day + 86_400)), None);
        let (b, a) = (at(day, day + 86_400), at(day + 43_200, day + 129_600));
        let cmp = compare(b, a, None, 10);
        let said = "OVERLAPPING LOGS: both sides hold records from 2026-09-01T12:00:00Z to 2026-09-02T00:00:00Z (12.0 hours)";
        assert!(
            cmp.verdict.summary[1].starts_with(said),
            "{:?}",
            cmp.verdict.summary
        );
        for f in [Format::Table, Format::Markdown] {
            let text = cmp.render(f);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap();
            assert!(first.contains("OVERLAPPING LOGS"), "{f:?}: {first}");
        }
    }

    /// Coverage is said to differ where a side's logs cover under half its period (or one
    /// side's share is over twice the other's); a side of no days counts as covered.
    #[test]
    fn coverage_differs_under_half_or_twice_the_other() {
        let differs = |b: Side, a: Side| coverage_differs(&b, &a).is_some();
        assert!(!differs(side(10.0, 10.0), side(10.0, 6.0)));
        assert!(differs(side(10.0, 10.0), side(10.0, 4.9)), "under half");
        assert!(
            differs(side(10.0, 4.0), side(10.0, 10.0)),
            "under half before"
        );
        assert!(
            !differs(side(10.0, 5.0), side(2.0, 2.0)),
            "exactly half, and 1.0 against 0.5 is not over twice"
        );
        assert!(!differs(side(10.0, 6.0), side(2.0, 2.0)), "1.0 against 0.6");
        assert!(
            !differs(side(0.0, 0.0), side(10.0, 9.0)),
            "no days: covered"
        );
        let said = coverage_differs(&side(10.0, 10.0), &side(3.0, 1.0)).unwrap();
        assert!(said.starts_with(
            "Coverage differs: the logs cover 10.00 of the 10.00 days before and 1.00 of the 3.00 days after;"
        ));
    }

    #[test]
    fn groups_are_kept_with_s3_the_largest_first() {
        let row = |key: &str, s3: u64| {
            let mut classes = ClassBytes::default();
            classes.s3.download = s3;
            classes.internet.download = 7;
            GroupRow {
                key: key.into(),
                total: classes.total(),
                classes,
            }
        };
        let rows = [row("b", 5), row("none", 0), row("a", 5), row("c", 9)];
        let keys: Vec<String> = (with_s3_largest_first(&rows).into_iter())
            .map(|g| g.key)
            .collect();
        assert_eq!(keys, ["c", "a", "b"]);
    }
}
