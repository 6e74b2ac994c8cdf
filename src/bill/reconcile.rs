//! The bill beside the flow logs: per NAT gateway and UTC day, the billed data processing
//! (converted to bytes with the report's GB convention) against the NAT bytes the flow logs
//! counted, the coverage, what the logs miss, and the savings priced from the bill: each
//! gateway's billed processing cost times the S3 (DynamoDB) share its logs measured.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Bill, Billed, Currency, Usage};
use crate::analysis::Analysis;
use crate::cost::Cost;

/// Coverage under this percentage flags a day as under-covered; over the other bound, as
/// more than billed (a wrong GB convention, or a second flow log counted).
pub const UNDER: f64 = 90.0;
pub const OVER: f64 = 110.0;

/// One day of one gateway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRecon {
    pub day: String,
    /// The bill's own usage amount (GB), and it in bytes by the report's GB convention.
    pub billed_gb: f64,
    pub billed_bytes: u64,
    pub billed_cost: f64,
    pub flow_log_bytes: u64,
    pub coverage_percent: Option<f64>,
}

/// One gateway (or, without resource ids or an inventory, one account and region, or all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRecon {
    pub gateway: String,
    pub enis: Vec<String>,
    pub billed_gb: f64,
    pub billed_bytes: u64,
    pub billed_cost: f64,
    pub flow_log_bytes: u64,
    pub coverage_percent: Option<f64>,
    /// The S3 and DynamoDB shares of this gateway's flow-log NAT bytes, and the billed
    /// processing cost they stand for (none without flow-log bytes to measure a share).
    pub s3_share: Option<f64>,
    pub billed_s3_savings: Option<f64>,
    pub billed_dynamodb_savings: Option<f64>,
    pub days: Vec<DayRecon>,
}

/// The reconciliation section of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconciliation {
    /// How billed GB became bytes.
    pub gb_convention: String,
    /// What a line of the reconciliation stands for.
    pub granularity: Granularity,
    pub from: String,
    pub to: String,
    pub billed_gb: f64,
    pub billed_bytes: u64,
    pub billed_cost: f64,
    pub flow_log_bytes: u64,
    pub coverage_percent: Option<f64>,
    pub gateways: Vec<GatewayRecon>,
    /// Billed gateways with no flow-log bytes at all.
    pub gateways_not_logged: Vec<String>,
    /// Gateways with flow-log bytes on days the bill covers and no billed bytes (the bill is
    /// another account's or region's): left out of the total coverage.
    #[serde(default)]
    pub gateways_not_billed: Vec<String>,
    /// Gateway-days whose coverage is under [`UNDER`] percent, `gateway day`.
    pub days_under_covered: Vec<String>,
    /// Days of the period on which the flow logs counted NAT bytes and the bill has no NAT
    /// processing row at all (an export not refreshed yet, or another period's): left out of
    /// every coverage.
    #[serde(default)]
    pub days_not_billed: Vec<String>,
    /// The UTC days of the period on which the bill has NAT processing rows: what billed
    /// amounts per day divide by (absent in reports of earlier versions).
    #[serde(default)]
    pub days_billed: Option<u64>,
    /// Where the bill's NAT processing rows end, when that is within a day of the period on
    /// which the flow logs go on (an export refreshed during the day): that day is billed in
    /// part, and left out of every coverage.
    #[serde(default)]
    pub billed_until: Option<String>,
    /// Savings priced from the bill, beside the flow-log-priced figure of the cost section.
    pub billed_s3_savings: f64,
    pub billed_dynamodb_savings: f64,
    pub flow_log_priced_s3_savings: f64,
    /// Discounts on NAT data processing in the period (EDP, private rates, bundles: line
    /// item types ending in `Discount`), as an amount taken off; the billed savings are net
    /// of them, at the share they take of the bill's NAT processing cost.
    #[serde(default)]
    pub billed_discounts: f64,
    /// The currency of every `billed_cost` and billed saving (ISO 4217): the bill's own, or
    /// US dollars where it states none. The flow-log-priced figure is in US dollars.
    #[serde(default = "usd")]
    pub currency: Currency,
    /// Whether the bill stated its currency or US dollars were assumed.
    #[serde(default)]
    pub currency_source: CurrencySource,
    pub notes: Vec<String>,
}

impl Reconciliation {
    /// The days of the period the bill covers, a day billed in part counted to its last hour
    /// (`None` in reports of versions that did not say).
    pub fn billed_days(&self) -> Option<f64> {
        let days = self.days_billed? as f64;
        let until = self
            .billed_until
            .as_deref()
            .and_then(crate::time::parse_instant);
        let unbilled = until.map_or(0.0, |t| 1.0 - t.rem_euclid(86_400) as f64 / 86_400.0);
        Some((days - unbilled).max(0.0))
    }
}

fn usd() -> Currency {
    Currency::USD
}

named_enum!(
    /// What a line of a [`Reconciliation`] stands for.
    Granularity {
        /// A NAT gateway (the bill has resource ids, the inventory names the logs' gateways).
        Gateway = "gateway",
        /// An account and region (the export has no resource ids).
        AccountRegion = "account-region",
        /// Every NAT gateway (no inventory maps the logs' ENIs to gateway ids).
        Total = "total",
    }
);

/// Where [`Reconciliation::currency`] comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CurrencySource {
    /// The bill's rows state it.
    Bill,
    /// No row states one (no currency column in the export): US dollars, AWS's default.
    #[default]
    Assumed,
}

fn day_name(day: i64) -> String {
    crate::analysis::day_string(day.clamp(0, u32::MAX as i64) as u32)
}

fn coverage(flow: u64, billed: u64) -> Option<f64> {
    (billed > 0).then(|| flow as f64 * 100.0 / billed as f64)
}

/// The usage of `b` inside `[lo, hi)`: its days, and its longer rows prorated by overlap.
fn within(b: &Billed, lo: i64, hi: i64) -> (BTreeMap<i64, Usage>, Usage, bool) {
    let days: BTreeMap<i64, Usage> = (b.days.iter())
        .filter(|(d, _)| **d * 86_400 >= lo && **d * 86_400 < hi)
        .map(|(d, u)| (*d, *u))
        .collect();
    let mut spans = Usage::default();
    let mut prorated = false;
    for (s, e, u) in &b.spans {
        let overlap = (e.min(&hi) - s.max(&lo)).max(0) as f64;
        let share = overlap / (e - s) as f64;
        prorated |= share > 0.0 && share < 1.0;
        spans.add(Usage {
            gb: u.gb * share,
            cost: u.cost * share,
            off: u.off * share,
        });
    }
    (days, spans, prorated)
}

/// What every line of a reconciliation is measured by: the period, the bytes of a billed GB,
/// the share of the billed cost its discounts leave, the days the bill covers, and the one
/// of them it covers in part ([`billed_in_part`]).
struct Frame<'b> {
    range: (i64, i64),
    unit: f64,
    keep: f64,
    billed_days: &'b BTreeSet<i64>,
    part_day: Option<i64>,
}

impl Frame<'_> {
    /// Whether the bill covers all of `day`, so that its flow-log bytes are comparable.
    fn compares(&self, day: i64) -> bool {
        self.billed_days.contains(&day) && self.part_day != Some(day)
    }
}

/// A line's flow-log and billed bytes of the days the bill covers in full ([`Frame::compares`]):
/// what its coverage compares.
#[derive(Clone, Copy, Default)]
struct Compared {
    flow: u64,
    billed: u64,
}

/// One line of the reconciliation from billed usage and the flow-log gateways it stands for,
/// and what its coverage compares.
fn line(
    name: &str,
    billed: &[&Billed],
    logs: &[&crate::analysis::Gateway],
    frame: &Frame<'_>,
    prorated: &mut bool,
) -> (GatewayRecon, Compared) {
    let (unit, keep) = (frame.unit, frame.keep);
    let bytes = |gb: f64| (gb * unit).round() as u64;
    // each day's usage billed and bytes logged
    let mut days: BTreeMap<i64, (Usage, u64)> = BTreeMap::new();
    let total = billed_days_of(billed, frame.range, &mut days, prorated);
    let Logged {
        flow,
        mut compared,
        s3,
        dynamo,
        all,
    } = Logged::of(logs, frame, &mut days);
    let share = |part: u64| (all > 0).then(|| part as f64 / all as f64);
    // the line's own discounts, then the account's share of those written apart
    let net = (total.cost - total.off.clamp(0.0, total.cost.max(0.0))) * keep;
    let billed_bytes = bytes(total.gb);
    compared.billed = billed_bytes;
    if let Some(u) = frame.part_day.and_then(|d| days.get(&d)) {
        compared.billed = billed_bytes.saturating_sub(bytes(u.0.gb));
    }
    let line = GatewayRecon {
        gateway: name.to_string(),
        enis: logs.iter().map(|g| g.eni.clone()).collect(),
        billed_gb: total.gb,
        billed_bytes,
        billed_cost: total.cost,
        flow_log_bytes: flow,
        coverage_percent: coverage(compared.flow, compared.billed),
        s3_share: share(s3),
        billed_s3_savings: share(s3).map(|s| s * net),
        billed_dynamodb_savings: share(dynamo).map(|s| s * net),
        days: days
            .into_iter()
            .map(|(d, (u, f))| DayRecon {
                day: day_name(d),
                billed_gb: u.gb,
                billed_bytes: bytes(u.gb),
                billed_cost: u.cost,
                flow_log_bytes: f,
                coverage_percent: coverage(f, bytes(u.gb)).filter(|_| frame.part_day != Some(d)),
            })
            .collect(),
    };
    (line, compared)
}

/// A line's billed usage within `range`, in all (rows longer than a day in proportion,
/// `prorated` then set) and each day's in `days`.
fn billed_days_of(
    billed: &[&Billed],
    range: (i64, i64),
    days: &mut BTreeMap<i64, (Usage, u64)>,
    prorated: &mut bool,
) -> Usage {
    let mut total = Usage::default();
    for b in billed {
        let (d, spans, p) = within(b, range.0, range.1);
        *prorated |= p;
        total.add(spans);
        for (day, u) in d {
            days.entry(day).or_default().0.add(u);
            total.add(u);
        }
    }
    total
}

/// What a line's NAT ENIs logged: their bytes in the range (and on the days compared with
/// the bill), and their S3, DynamoDB and total bytes, for the shares of the savings.
#[derive(Default)]
struct Logged {
    flow: u64,
    compared: Compared,
    s3: u64,
    dynamo: u64,
    all: u64,
}

impl Logged {
    /// The ENIs' bytes, each day's added to `days`.
    fn of(
        logs: &[&crate::analysis::Gateway],
        frame: &Frame<'_>,
        days: &mut BTreeMap<i64, (Usage, u64)>,
    ) -> Logged {
        let range = frame.range;
        let mut l = Logged::default();
        for g in logs {
            for (day, v) in &g.daily {
                if let Some(t) = day.start().filter(|t| *t >= range.0 && *t < range.1) {
                    let day = t.div_euclid(86_400);
                    days.entry(day).or_default().1 += v;
                    l.flow += v;
                    if frame.compares(day) {
                        l.compared.flow += v;
                    }
                }
            }
            l.s3 += g.classes.s3.total();
            l.dynamo += g.classes.dynamodb.total();
            l.all += g.total;
        }
        l
    }
}

/// The UTC days within `[lo, hi)` on which some NAT usage row of the bill lies (a row longer
/// than a day covers each day it overlaps), and the first and last instant of its rows.
fn billed_days(bill: &Bill, (lo, hi): (i64, i64)) -> (BTreeSet<i64>, Option<(i64, i64)>) {
    let mut days = BTreeSet::new();
    let mut span: Option<(i64, i64)> = None;
    let mut note = |s: i64, e: i64| {
        span = Some(span.map_or((s, e), |(a, b)| (a.min(s), b.max(e))));
    };
    for b in bill.gateways.values().chain(bill.unattributed.values()) {
        for d in b.days.keys() {
            note(d * 86_400, (d + 1) * 86_400);
            if *d * 86_400 >= lo && *d * 86_400 < hi {
                days.insert(*d);
            }
        }
        for (s, e, _) in &b.spans {
            note(*s, *e);
            let (from, to) = ((*s).max(lo), (*e).min(hi));
            if from < to {
                days.extend(from.div_euclid(86_400)..=(to - 1).div_euclid(86_400));
            }
        }
    }
    (days, span)
}

/// Reconcile `bill` with the analysis over the analysis's period (the time range given, else
/// the whole days its records span).
pub fn reconcile(bill: &Bill, a: &Analysis, cost: &Cost) -> Reconciliation {
    let p = &a.period;
    let lo = p
        .from
        .or(p.first_start.map(|t| t.div_euclid(86_400) * 86_400))
        .unwrap_or(0);
    let hi =
        p.to.or(p.last_end.map(|t| (t.div_euclid(86_400) + 1) * 86_400))
            .unwrap_or(lo);
    let unit = cost.gb_unit.bytes();
    let mut notes: Vec<String> = (bill.notes.iter())
        .map(|n| format!("Bill files: {n}."))
        .collect();
    let mut prorated = false;
    let discounts = discounts_of(bill, (lo, hi), &mut prorated);
    let keep = discounts.keep;
    let (billed_days, bill_span) = billed_days(bill, (lo, hi));
    let part = billed_in_part(bill, a.period.last_end.map(|t| t.min(hi)), &billed_days);
    let frame = Frame {
        range: (lo, hi),
        unit,
        keep,
        billed_days: &billed_days,
        part_day: part.map(|(day, _)| day),
    };
    let (granularity, lines) = lines_of(bill, a, &frame, &mut notes, &mut prorated);
    let (gateways, compared): (Vec<GatewayRecon>, Vec<Compared>) = lines.into_iter().unzip();
    let days_not_billed = days_not_billed(a, &frame);
    notes.extend(not_billed_note(&days_not_billed, bill_span));
    notes.extend(part.map(|(day, end)| part_note(day, end)));
    if prorated {
        notes.push("Some bill rows cover more than a day (a monthly export): they count in proportion to their overlap with the period and are in no day's row.".into());
    }
    let (currency, currency_source) = currency_of(bill, &mut notes);
    notes.extend(discounts_note(bill, &discounts, currency));
    if bill.other_nat_rows > 0 {
        notes.push(format!("{} NatGateway-Bytes rows of other kinds (credits, refunds, taxes) are left out: the billed figures are usage at the rates charged.", bill.other_nat_rows));
    }
    notes.push(gb_note(cost.gb_unit));
    let flags = flags_of(&gateways, &compared, &mut notes);
    let billed_bytes = gateways.iter().map(|g| g.billed_bytes).sum();
    let flow_log_bytes = gateways.iter().map(|g| g.flow_log_bytes).sum();
    Reconciliation {
        gb_convention: cost.gb_unit.name().to_string(),
        granularity,
        from: crate::time::format_instant(lo),
        to: crate::time::format_instant(hi),
        billed_gb: gateways.iter().map(|g| g.billed_gb).sum(),
        billed_bytes,
        billed_cost: gateways.iter().map(|g| g.billed_cost).sum(),
        flow_log_bytes,
        coverage_percent: coverage(
            (gateways.iter().zip(&compared))
                .filter(|(g, _)| g.billed_bytes > 0)
                .map(|(_, c)| c.flow)
                .sum(),
            compared.iter().map(|c| c.billed).sum(),
        ),
        billed_s3_savings: gateways.iter().filter_map(|g| g.billed_s3_savings).sum(),
        billed_dynamodb_savings: gateways
            .iter()
            .filter_map(|g| g.billed_dynamodb_savings)
            .sum(),
        flow_log_priced_s3_savings: cost.s3_gateway_endpoint_savings.period,
        billed_discounts: discounts.total,
        currency,
        currency_source,
        gateways_not_logged: flags.not_logged,
        gateways_not_billed: flags.not_billed,
        days_under_covered: flags.under_covered,
        days_not_billed,
        days_billed: Some(billed_days.len() as u64),
        billed_until: part.map(|(_, end)| crate::time::format_instant(end)),
        gateways,
        notes,
    }
}

/// The lines of a reconciliation and their granularity: one per gateway where the bill has
/// resource ids and the inventory names the logs' gateways, else one per account and region
/// (no resource ids) or one total (no gateway ids), with the note that says which.
fn lines_of(
    bill: &Bill,
    a: &Analysis,
    frame: &Frame<'_>,
    notes: &mut Vec<String>,
    prorated: &mut bool,
) -> (Granularity, Vec<(GatewayRecon, Compared)>) {
    let named = a.gateways.iter().any(|g| g.nat_gateway.is_some());
    if bill.resource_ids && !bill.gateways.is_empty() && named {
        let ids: BTreeSet<&str> = (bill.gateways.keys().map(String::as_str))
            .chain(a.gateways.iter().filter_map(|g| g.nat_gateway.as_deref()))
            .collect();
        let lines = ids
            .into_iter()
            .map(|id| {
                let billed: Vec<&Billed> = bill.gateways.get(id).into_iter().collect();
                let logs: Vec<&crate::analysis::Gateway> = (a.gateways.iter())
                    .filter(|g| g.nat_gateway.as_deref() == Some(id))
                    .collect();
                line(id, &billed, &logs, frame, prorated)
            })
            .collect();
        let unnamed: Vec<&str> = (a.gateways.iter())
            .filter(|g| g.nat_gateway.is_none())
            .map(|g| g.eni.as_str())
            .collect();
        if !unnamed.is_empty() {
            notes.push(format!(
                "NAT ENIs without a gateway id in the inventory are not reconciled: {}.",
                unnamed.join(", ")
            ));
        }
        (Granularity::Gateway, lines)
    } else {
        let billed: Vec<&Billed> = bill
            .gateways
            .values()
            .chain(bill.unattributed.values())
            .collect();
        let logs: Vec<&crate::analysis::Gateway> = a.gateways.iter().collect();
        let (name, g) = if !bill.resource_ids || bill.gateways.is_empty() {
            notes.push("The bill has no resource ids (the export was made without INCLUDE_RESOURCES): it is reconciled per account and region; per-gateway figures need that setting.".into());
            let keys: Vec<&str> = bill.unattributed.keys().map(String::as_str).collect();
            (keys.join(" "), Granularity::AccountRegion)
        } else {
            notes.push("The flow logs' NAT ENIs have no gateway ids (give --inventory with `aws ec2 describe-nat-gateways`): the bill is reconciled as one total.".into());
            ("all NAT gateways".to_string(), Granularity::Total)
        };
        (g, vec![line(&name, &billed, &logs, frame, prorated)])
    }
}

/// Which GB the bill's amounts were read as, and what the other reading would change.
fn gb_note(unit: crate::cost::GbUnit) -> String {
    match unit {
        crate::cost::GbUnit::Gib => format!(
            "Billed GB are read as 2^30 bytes, the GB AWS bills data processing in (the report's --gb-unit); read as 10^9 bytes, the coverage would be {:.1} % higher.",
            (1_073_741_824.0 / 1e9 - 1.0) * 100.0
        ),
        crate::cost::GbUnit::Gb => format!(
            "Billed GB are read as 10^9 bytes (--gb-unit gb); AWS bills data processing in GB of 2^30 bytes, so the coverage reads {:.1} % higher than with the default.",
            (1_073_741_824.0 / 1e9 - 1.0) * 100.0
        ),
    }
}

/// The gateways and days a reconciliation flags, each list with its note.
struct Flags {
    not_logged: Vec<String>,
    not_billed: Vec<String>,
    under_covered: Vec<String>,
}

/// Flag the lines' gateways billed but not logged, logged but not billed, their days under
/// [`UNDER`] percent, and those over [`OVER`] percent (`compared`: each line's bytes of the
/// days the bill covers in full).
fn flags_of(gateways: &[GatewayRecon], compared: &[Compared], notes: &mut Vec<String>) -> Flags {
    let gateways_not_logged: Vec<String> = (gateways.iter())
        .filter(|g| g.billed_bytes > 0 && g.flow_log_bytes == 0)
        .map(|g| g.gateway.clone())
        .collect();
    let days_under_covered: Vec<String> = (gateways.iter())
        .filter(|g| g.flow_log_bytes > 0)
        .flat_map(|g| {
            g.days
                .iter()
                .filter(|d| d.coverage_percent.is_some_and(|c| c < UNDER))
                .map(move |d| format!("{} {}", g.gateway, d.day))
        })
        .collect();
    let gateways_not_billed: Vec<String> = (gateways.iter().zip(compared))
        .filter(|(g, c)| g.billed_bytes == 0 && c.flow > 0)
        .map(|(g, _)| g.gateway.clone())
        .collect();
    if !gateways_not_billed.is_empty() {
        notes.push(format!(
            "In the flow logs but not in the bill: {} (the bill is another account's or region's: a shared VPC's NAT gateways, for one, are billed to the account that owns the VPC): left out of the total coverage.",
            gateways_not_billed.join(", ")
        ));
    }
    if !gateways_not_logged.is_empty() {
        notes.push(format!(
            "Billed, but in no flow-log record: {} (no flow log on the gateway's ENI, or logs not given): their savings are not in the billed figure.",
            gateways_not_logged.join(", ")
        ));
    }
    if !days_under_covered.is_empty() {
        notes.push(format!(
            "Days the flow logs cover under {UNDER:.0} % of the bill (logs started late, SKIPDATA, a disabled flow log, or files missing): {}.",
            days_under_covered.join(", ")
        ));
    }
    let over: Vec<String> = (gateways.iter())
        .filter(|g| g.coverage_percent.is_some_and(|c| c > OVER))
        .map(|g| g.gateway.clone())
        .collect();
    if !over.is_empty() {
        notes.push(format!(
            "The flow logs count more than the bill for {} (over {OVER:.0} %): check the GB convention and that each NAT ENI is logged once.",
            over.join(", ")
        ));
    }
    Flags {
        not_logged: gateways_not_logged,
        not_billed: gateways_not_billed,
        under_covered: days_under_covered,
    }
}

/// The bill's currency and where it comes from, with the notes a reader needs: none stated
/// (US dollars assumed), some rows without it, or a currency other than the list prices'.
fn currency_of(bill: &Bill, notes: &mut Vec<String>) -> (Currency, CurrencySource) {
    let Some((code, _)) = bill.currency else {
        if bill.nat_rows > 0 {
            notes.push("The bill states no currency (its export has no line_item_currency_code or BillingCurrency column): its costs are read as US dollars, AWS's default billing currency; add the column to the export to have this checked.".into());
        }
        return (Currency::USD, CurrencySource::Assumed);
    };
    if bill.rows_without_currency > 0 {
        notes.push(format!(
            "{} NatGateway-Bytes rows state no currency: read as {code}, the currency of the others.",
            bill.rows_without_currency
        ));
    }
    if code != Currency::USD {
        notes.push(format!(
            "The bill is in {code}: billed costs and billed savings are in {code}; the cost section and the flow-log-priced savings are at AWS's list prices in US dollars (not converted)."
        ));
    }
    (code, CurrencySource::Bill)
}

/// The discounts on NAT processing within `range`: those written as rows of their own (at
/// most the whole billed cost there) with the share of the cost they leave, which every line
/// keeps; and, with them, those in the usage rows' own discount columns (each line's at most
/// its cost), with the share of the cost all of them leave.
fn discounts_of(bill: &Bill, range: (i64, i64), prorated: &mut bool) -> Discounts {
    let in_range = |b: &Billed, prorated: &mut bool| {
        let (days, spans, p) = within(b, range.0, range.1);
        *prorated |= p;
        let mut all = spans;
        days.values().for_each(|u| all.add(*u));
        all
    };
    let lines: Vec<Usage> = (bill.gateways.values())
        .chain(bill.unattributed.values())
        .map(|b| in_range(b, &mut false))
        .collect();
    let gross: f64 = lines.iter().map(|u| u.cost).sum();
    let own: f64 = (lines.iter())
        .map(|u| u.off.clamp(0.0, u.cost.max(0.0)))
        .sum();
    let apart = in_range(&bill.discounts, prorated)
        .cost
        .clamp(0.0, gross.max(0.0));
    let left = |off: f64| match gross > 0.0 {
        true => 1.0 - off / gross,
        false => 1.0,
    };
    let total = (apart + (gross - apart) * (1.0 - left(own))).min(gross.max(0.0));
    Discounts {
        total,
        keep: left(apart),
        keep_all: left(total),
    }
}

/// [`discounts_of`]'s answer: the amount of every discount, the share of the cost the
/// account's discounts written apart leave, and the share all of them leave.
struct Discounts {
    total: f64,
    keep: f64,
    keep_all: f64,
}

/// What the discounts on NAT processing do to the billed savings, when there are any.
fn discounts_note(bill: &Bill, d: &Discounts, currency: Currency) -> Vec<String> {
    let (discounts, keep) = (d.total, d.keep_all);
    if bill.discount_rows + bill.discounted_rows == 0 || discounts <= 0.0 {
        return Vec::new();
    }
    let rows = match (bill.discount_rows, bill.discounted_rows) {
        (r, 0) => format!("{r} rows of EDP, private-rate, bundled or other discounts"),
        (0, d) => format!("the discount columns of {d} usage rows"),
        (r, d) => format!("{r} discount rows and the discount columns of {d} usage rows"),
    };
    let how = match (bill.discount_rows, bill.discounted_rows) {
        (_, 0) => "at that share for every gateway (AWS writes discount rows per account and usage type, not per gateway)",
        (0, _) => "each gateway's by its own rows' discounts",
        _ => "each gateway's by its own rows' discounts, then at the share the discount rows (per account and usage type) take",
    };
    let mut notes = vec![format!(
        "Discounts on NAT data processing ({rows}) take {} ({:.1}%) off its billed cost in the period: the billed savings are net of them, {how}; the cost section's list-price figures are not.",
        crate::report::money(discounts, currency),
        (1.0 - keep) * 100.0
    )];
    if keep < 0.005 {
        notes.push("NAT data processing is all but free here (a Network Firewall bundle, for one, waives it gigabyte for gigabyte): an S3 gateway endpoint saves next to nothing on it, whatever the list price says.".into());
    }
    notes
}

/// The days of the period on which the analysis's NAT gateways counted bytes and no NAT usage
/// row of the bill lies.
fn days_not_billed(a: &Analysis, frame: &Frame<'_>) -> Vec<String> {
    let (lo, hi) = frame.range;
    let logged: BTreeSet<i64> = (a.gateways.iter())
        .flat_map(|g| g.daily.iter())
        .filter(|(_, v)| **v > 0)
        .filter_map(|(day, _)| day.start().filter(|t| *t >= lo && *t < hi))
        .map(|t| t.div_euclid(86_400))
        .collect();
    (logged.difference(frame.billed_days))
        .map(|d| day_name(*d))
        .collect()
}

/// The day within which the bill's rows of a day or less end, and that end, where the flow
/// logs' records (`logs_end`, within the period) go on past it: an hourly export refreshed
/// during the day holds that day's processing only up to its last refresh, so the day would
/// read as the flow logs counting more than the bill.
fn billed_in_part(
    bill: &Bill,
    logs_end: Option<i64>,
    billed_days: &BTreeSet<i64>,
) -> Option<(i64, i64)> {
    let end = bill.rows_end.filter(|e| e.rem_euclid(86_400) != 0)?;
    let day = end.div_euclid(86_400);
    (logs_end.is_some_and(|t| t > end) && billed_days.contains(&day)).then_some((day, end))
}

/// What a day billed in part means, and what is done with it.
fn part_note(day: i64, end: i64) -> String {
    format!(
        "The bill's NAT processing rows end at {}, within {}, and the flow logs go on past it: the export was refreshed during that day (AWS updates it through the day), or no gateway processed data after that hour. {} is billed in part: it is left out of the coverage (its billed cost still counts).",
        crate::time::format_instant(end),
        day_name(day),
        day_name(day)
    )
}

/// What days without a bill row mean: the export is another period's, or not refreshed yet.
fn not_billed_note(days: &[String], span: Option<(i64, i64)>) -> Option<String> {
    let (first, last) = (days.first()?, days.last()?);
    let rows = match span {
        Some((s, e)) => format!(
            "its NAT processing rows run from {} to {}",
            crate::time::format_instant(s),
            crate::time::format_instant(e)
        ),
        _ => "it has no NAT processing row".into(),
    };
    Some(format!(
        "The bill has no NAT processing on {} day(s) of the period on which the flow logs counted NAT bytes ({first} .. {last}): {rows}. The export may not be refreshed yet (AWS updates it through the day and finalises it after the month) or be another period's; those days are left out of the coverage.",
        days.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_billed_in_part_where_the_rows_end_within_it_and_the_logs_go_on() {
        let day = 20_698;
        let noon = day * 86_400 + 43_200;
        let billed: BTreeSet<i64> = [day - 1, day].into();
        let bill = |end: i64| Bill {
            rows_end: Some(end),
            ..Bill::default()
        };
        let part = |b: &Bill, logs_end: i64| billed_in_part(b, Some(logs_end), &billed);
        assert_eq!(part(&bill(noon), noon + 600), Some((day, noon)));
        // the logs stop where the bill does, or before it
        assert_eq!(part(&bill(noon), noon), None);
        assert_eq!(part(&bill(noon), noon - 3_600), None);
        // rows to midnight: the day is whole
        assert_eq!(
            part(&bill((day + 1) * 86_400), (day + 1) * 86_400 + 600),
            None
        );
        // a day outside the period's billed days (the bill runs past the period)
        assert_eq!(part(&bill(noon + 86_400), noon + 2 * 86_400), None);
        assert_eq!(billed_in_part(&Bill::default(), Some(noon), &billed), None);
        assert_eq!(billed_in_part(&bill(noon), None, &billed), None);
    }
}
