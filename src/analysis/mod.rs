//! Applies ACCOUNTING.md §3–5 to the merged per-ENI aggregates: decides which ENIs are NAT
//! gateways, counts each NAT-processed byte once (one leg per NAT ENI and day), attributes
//! bytes to clients, subnets and AZs, and estimates the ECR image-layer share. No I/O of its
//! own: it reads ENIs through [`EniSource`], and where the source spilled to disk, its notes
//! of each ENI (`views.rs`) go to the scratch file the source hands it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::account::{
    cells_present, is_zero, uncell, Accumulator, Client, Dir, EniAgg, EniSource, FileStats, FxMap,
    LineCounts, Name, Oddities, Openings, PartedSource, PrivateSide, Session, Sessions, Span,
    StartRules, DAY, LAYER_STREAMS,
};
use crate::classify::{Class, IpRanges};
use crate::config::RunConfig;
use crate::overlap::{FlowLogOverlap, OneFlowLogPerEni};
use crate::source::FailureKind;

mod addresses;
mod views;
use addresses::{several_vpcs, ByAddress, ClientKey, Vpc};
use views::{TaskView, TaskViews};

/// Upload and download bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpDown {
    pub upload: u64,
    pub download: u64,
}

impl UpDown {
    pub fn total(&self) -> u64 {
        self.upload + self.download
    }
    fn add(&mut self, dir: Dir, b: u64) {
        match dir {
            Dir::Upload => self.upload += b,
            Dir::Download => self.download += b,
        }
    }
    fn add_all(&mut self, o: &UpDown) {
        self.upload += o.upload;
        self.download += o.download;
    }
}

/// Bytes per destination class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClassBytes {
    pub s3: UpDown,
    pub dynamodb: UpDown,
    pub s3_other_region: UpDown,
    pub aws_other: UpDown,
    pub internet: UpDown,
}

impl ClassBytes {
    pub fn get(&self, c: Class) -> &UpDown {
        match c {
            Class::S3 => &self.s3,
            Class::Dynamodb => &self.dynamodb,
            Class::S3OtherRegion => &self.s3_other_region,
            Class::AwsOther => &self.aws_other,
            Class::Internet => &self.internet,
        }
    }
    pub fn get_mut(&mut self, c: Class) -> &mut UpDown {
        match c {
            Class::S3 => &mut self.s3,
            Class::Dynamodb => &mut self.dynamodb,
            Class::S3OtherRegion => &mut self.s3_other_region,
            Class::AwsOther => &mut self.aws_other,
            Class::Internet => &mut self.internet,
        }
    }
    pub fn total(&self) -> u64 {
        Class::ALL.iter().map(|c| self.get(*c).total()).sum()
    }
    pub fn add_all(&mut self, o: &ClassBytes) {
        for c in Class::ALL {
            self.get_mut(c).add_all(o.get(c));
        }
    }
}

/// How the NAT figures were obtained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub counting: Counting,
    pub nat_source: NatSource,
    pub legs: Legs,
}

named_enum!(
    /// What the NAT bytes were counted on.
    Counting {
        /// On NAT gateway ENIs.
        NatEni = "nat-eni",
        /// No NAT ENI in the data: summed from the clients' own records (an estimate, may
        /// include traffic that did not cross a NAT).
        ClientSideEstimate = "client-side-estimate",
    }
);

named_enum!(
    /// How the NAT ENIs were known.
    NatSource {
        /// `--nat-eni`, `--nat-ip`, `--nat-file`.
        Given = "given",
        /// Address translation seen in the `pkt-*` fields.
        Detected = "detected",
        /// No NAT ENI (a client-side estimate).
        None = "none",
    }
);

named_enum!(
    /// The NAT legs counted.
    Legs {
        /// The private legs (`pkt-*` fields; they name the clients).
        Private = "private",
        /// The public legs.
        Public = "public",
        /// Private on some ENI-days, public on others.
        Mixed = "mixed",
    }
);

named_enum!(
    /// Where the top clients come from.
    ClientsSource {
        /// The NAT's private legs.
        NatPrivateLegs = "nat-private-legs",
        /// The clients' own records (may include traffic that did not cross a NAT).
        ClientOwnRecords = "client-own-records",
    }
);

/// One NAT gateway ENI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    pub eni: String,
    pub private_ips: Vec<String>,
    pub az: Option<String>,
    pub subnet: Option<String>,
    pub region: Option<String>,
    pub classes: ClassBytes,
    pub total: u64,
    /// Days counted on private legs / on public legs.
    pub days_private_leg: u32,
    pub days_public_leg: u32,
    /// On days where both legs were logged: the counted leg's sum and the other's.
    pub cross_check: Option<CrossCheck>,
    pub rejected_records: u64,
    pub rejected_bytes: u64,
    /// The time this gateway's logs cover (its first record's start to its last record's
    /// end, its NODATA windows and REJECT records included, widened to whole hours, inside
    /// the time filter): what its per-30-day figures project from.
    #[serde(default)]
    pub covered_seconds: u64,
    /// The gateway this ENI belongs to and its VPC, from the inventory (`--inventory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// NAT bytes counted per UTC day (what the bill is reconciled against).
    #[serde(default)]
    pub daily: BTreeMap<crate::time::Day, u64>,
    /// The S3 bytes of this gateway's public legs in regions other than its own, by region:
    /// where a region taken wrongly sent them (absent when there are none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub s3_other_regions: BTreeMap<String, u64>,
    /// The NAT64 legs' bytes in `total` (IPv6 clients through `64:ff9b::/96`, counted with
    /// the private legs; absent when there are none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nat64_bytes: u64,
}

/// Both legs' sums over the days where both were present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossCheck {
    pub counted_leg: u64,
    pub other_leg: u64,
    /// Whether the legs agree on every day within [`LEG_TOLERANCE_PERCENT`] (or
    /// [`LEG_TOLERANCE_BYTES`]); the days they do not are in `days_apart`.
    #[serde(default = "yes")]
    pub agrees: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days_apart: Vec<LegDay>,
}

/// One NAT ENI-day whose two legs disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegDay {
    pub day: String,
    pub counted_leg: u64,
    pub other_leg: u64,
}

/// How far apart the two legs of a NAT ENI-day may be before the report flags them: both
/// legs see the same bytes, so beyond a few percent one of them is missing records.
pub const LEG_TOLERANCE_PERCENT: u64 = 5;
/// ... and never flagged below this difference (a flow split across a day boundary).
pub const LEG_TOLERANCE_BYTES: u64 = 4096;

/// Whether two legs' sums are within the tolerance.
pub fn legs_agree(a: u64, b: u64) -> bool {
    let diff = a.abs_diff(b);
    diff <= LEG_TOLERANCE_BYTES || diff * 100 <= a.max(b) * LEG_TOLERANCE_PERCENT
}

/// NAT bytes of one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRow {
    pub day: String,
    pub classes: ClassBytes,
    pub total: u64,
}

/// NAT bytes of one group (subnet, AZ, ECS service).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRow {
    pub key: String,
    pub classes: ClassBytes,
    pub total: u64,
}

/// One client of the NAT path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRow {
    pub ip: String,
    /// The client's VPC, where the clients are of several VPCs (an address alone then does
    /// not name a client: two VPCs may hold the same address); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// ENIs that had this address (Fargate reuses addresses across tasks).
    pub enis: Vec<String>,
    pub subnet: Option<String>,
    pub az: Option<String>,
    pub ecs_service: Option<String>,
    /// ECS task id of the (first) ENI, when the logs carry ECS fields.
    pub ecs_task: Option<String>,
    pub classes: ClassBytes,
    pub total: u64,
}

impl ClientRow {
    /// The client as reports name it: its address, and its VPC where the row has one (the
    /// clients are of several VPCs, so the address alone does not name it).
    pub fn name(&self) -> Cow<'_, str> {
        match &self.vpc {
            Some(vpc) => Cow::Owned(format!("{} in {vpc}", self.ip)),
            None => Cow::Borrowed(&self.ip),
        }
    }

    /// The order of the top clients: most S3 bytes first, then most bytes, then by address.
    pub fn by_s3(a: &ClientRow, b: &ClientRow) -> std::cmp::Ordering {
        (b.classes.s3.total().cmp(&a.classes.s3.total()))
            .then(b.total.cmp(&a.total))
            .then(a.ip.cmp(&b.ip))
    }
}

/// The data's span in words, `the data spans FROM .. TO`, for the messages that say no
/// record fell in the time range.
pub fn data_spans((from, to): (i64, i64)) -> String {
    format!(
        "the data spans {} .. {}",
        crate::time::format_instant(from),
        crate::time::format_instant(to)
    )
}

/// ECR image-layer estimate (ACCOUNTING.md §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecr {
    /// What the estimate rests on; `unknown` (with `unknown_reason`) when nothing in the
    /// logs can show task starts, so that no figure is given for it.
    pub basis: EcrBasis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    pub method: String,
    pub pull_window_seconds: i64,
    pub task_starts: u64,
    pub pulls: u64,
    pub bytes: u64,
    pub bytes_per_pull: u64,
    /// Share of the NAT `s3` class, in per mille of bytes (0..=1000).
    pub share_of_s3_permille: u64,
    pub by_service: Vec<EcrService>,
    /// Pull-window S3 bytes of tasks whose S3 traffic did not cross a NAT.
    pub not_via_nat_bytes: u64,
}

/// Where the ECR estimate's task starts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EcrBasis {
    /// The tasks' own ENIs: each new task ENI is a start.
    TaskEnis,
    /// The NAT's private legs alone (no task ENI logged for those addresses): a client
    /// address active again after an idle gap is a start.
    NatPrivateLegs,
    /// Both: task ENIs where logged, the NAT's private legs for the other addresses.
    TaskEnisAndNatPrivateLegs,
    /// Neither: no task ENI records, and no `pkt-*` fields to tell the clients apart on
    /// the NAT's records.
    Unknown,
}

impl EcrBasis {
    pub fn is_known(self) -> bool {
        self != EcrBasis::Unknown
    }

    /// For people: where the task starts came from.
    pub fn describe(self) -> &'static str {
        match self {
            EcrBasis::TaskEnis => "from the tasks' own ENIs",
            EcrBasis::NatPrivateLegs => {
                "from the NAT's private legs alone (a client address active again after an idle gap is a start)"
            }
            EcrBasis::TaskEnisAndNatPrivateLegs => {
                "from the tasks' own ENIs and, for other addresses, the NAT's private legs"
            }
            EcrBasis::Unknown => "not at all (the logs cannot show it)",
        }
    }
}

/// Where two ECR estimates (of `this` and `that`: a period, a side) rest on different
/// grounds, that said: one the logs could not make (its layers are no figure), or two made
/// from different records, whose change is partly the method's.
pub fn ecr_bases_differ(
    (this, a): (&str, EcrBasis),
    (that, b): (&str, EcrBasis),
) -> Option<String> {
    if a == b {
        return None;
    }
    Some(match (a.is_known(), b.is_known()) {
        (true, true) => format!(
            "ECR estimates made differently: {this} found task starts {}, {that} {}; the change in ECR image layers is partly the method's.",
            a.describe(),
            b.describe()
        ),
        _ => {
            let unknown = if a.is_known() { that } else { this };
            format!(
                "ECR image layers are not compared: {unknown}'s logs cannot show them (no task ENI records, and no pkt-* fields to tell the NAT's clients apart)."
            )
        }
    })
}

/// ECR pulls of one ECS service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcrService {
    pub service: String,
    pub pulls: u64,
    pub bytes: u64,
}

/// Cross-AZ bytes between clients and the NAT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossAz {
    /// Whether az-id of both NAT and clients was known for any byte.
    pub known: bool,
    pub bytes: u64,
    pub by_pair: Vec<GroupRow>,
    /// Why not, when not known: what the records lack (absent when known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<CrossAzUnknown>,
}

/// What keeps the cross-AZ bytes from being known ([`CrossAz::unknown`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossAzUnknown {
    /// No NAT gateway's ENI is in the records.
    NoNat,
    /// The NAT gateways' records count no byte (idle, or outside the time range).
    NoTraffic,
    /// The NAT gateways' records name no client: no `pkt-*` fields.
    NoClients,
    /// The NAT gateways' records carry no `az-id`, and no `--inventory` names their AZ.
    NatAz,
    /// No client's own ENI is logged (NAT-only logs), and no `--inventory` places them.
    ClientsNotLogged,
    /// The clients' own records carry no `az-id`.
    ClientAz,
}

impl CrossAzUnknown {
    /// What it means, for people.
    pub fn why(self) -> &'static str {
        match self {
            CrossAzUnknown::NoNat => "no NAT gateway's ENI is logged",
            CrossAzUnknown::NoTraffic => "no byte through the NAT gateways was counted",
            CrossAzUnknown::NoClients => {
                "the NAT gateways' records name no client (no pkt-srcaddr/pkt-dstaddr)"
            }
            CrossAzUnknown::NatAz => {
                "the NAT gateways' records carry no az-id (nor does an --inventory name their AZ)"
            }
            CrossAzUnknown::ClientsNotLogged => {
                "no client's own ENI is logged (log the clients' subnets too, or give --inventory to place them by subnet)"
            }
            CrossAzUnknown::ClientAz => "the clients' own records carry no az-id",
        }
    }

    /// The reasons, joined for a sentence.
    pub fn joined(reasons: &[CrossAzUnknown]) -> String {
        let all: Vec<&str> = reasons.iter().map(|r| r.why()).collect();
        all.join("; ")
    }

    /// Whether `az-id` is what the records lack.
    pub fn is_az_id(self) -> bool {
        matches!(self, CrossAzUnknown::NatAz | CrossAzUnknown::ClientAz)
    }
}

/// Time covered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub first_start: Option<i64>,
    pub last_end: Option<i64>,
    /// The analysed period (the filter if given, else the data's span), seconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub days: f64,
    /// The days the logs cover (the span of the counted records, NODATA windows and REJECT
    /// records of every interface, in whole hours, inside the filter): per-day and
    /// per-30-day figures divide by this (per NAT gateway where there are gateways), never by
    /// the length of the period asked for.
    #[serde(default)]
    pub covered_days: f64,
    /// Runs of [`GAP_HOURS`] hours or more inside the data's span (within the time filter) in
    /// which no record of any interface starts: hours whose logs may be missing, counted in
    /// `covered_days` all the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// Stretches of the period that no input was read for (between merged partials' time
    /// ranges, or at the ends of a period the partials do not fill): certain holes, not
    /// guesses, so they are left out of `covered_days`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<Unread>,
}

/// A stretch of the period no input was read for, `[from, to)` in Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unread {
    pub from: i64,
    pub to: i64,
}

impl Unread {
    /// Its length in hours.
    pub fn hours(&self) -> f64 {
        (self.to - self.from) as f64 / HOUR as f64
    }
}

/// Seconds of `[first, last]`, widened to whole UTC hours (a log that starts at 00:03 with
/// records every few minutes covers the hour from 00:00), inside the time filter, less the
/// stretches no input was read for ([`RunConfig::unread`]).
fn covered(first: Option<i64>, last: Option<i64>, opt: &RunConfig) -> u64 {
    hour_span(first, last, opt).map_or(0, |(f, l)| {
        let unread: i64 = unread_within(&opt.unread, f, l).map(|(a, b)| b - a).sum();
        (l - f - unread) as u64
    })
}

/// The parts of the stretches no input was read for (disjoint, in order) that lie inside
/// `[f, l)`.
fn unread_within(unread: &[(i64, i64)], f: i64, l: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
    (unread.iter())
        .map(move |&(a, b)| (a.max(f), b.min(l)))
        .filter(|(a, b)| b > a)
}

const HOUR: i64 = 3600;

/// `[first, last]` widened to whole UTC hours and clipped to the time filter, if not empty.
fn hour_span(first: Option<i64>, last: Option<i64>, opt: &RunConfig) -> Option<(i64, i64)> {
    let (f, l) = (first?, last?);
    let f = f.div_euclid(HOUR) * HOUR;
    let l = (l + HOUR - 1).div_euclid(HOUR) * HOUR;
    let f = opt.since.map_or(f, |s| f.max(s));
    let l = opt.until.map_or(l, |u| l.min(u));
    (l > f).then_some((f, l))
}

/// The fewest whole UTC hours in a row without a record of any interface that the report
/// points out ([`Period::gaps`]). A flow log writes a record for every interval of every
/// interface it logs (NODATA where no packet passed), so such hours are more likely hours
/// whose logs were not given (files left out, a delivery outage) than hours without traffic;
/// but logs filtered before they were given (only S3 flows, say) have quiet hours too, so the
/// time covered still runs from the first record to the last, and the gaps are a note.
pub const GAP_HOURS: u32 = 6;

/// The fewest hours of a [`Gap`] that splits the period ([`Period::split`]): 45 days, the
/// farthest a record may start from the time its delivery's name carries
/// ([`crate::format::DELIVERY_WINDOW`]). No delivery outage lasts that long, and a flow log
/// writes records for every interface it logs, so records on both sides of such a gap are
/// either logs of times far apart given together or records whose times are wrong.
pub const SPLIT_HOURS: u32 = (crate::format::DELIVERY_WINDOW / HOUR) as u32;

impl Period {
    /// The gaps of [`SPLIT_HOURS`] or more: the records fall into stretches that far apart,
    /// and the time covered, which runs from the first record to the last, counts the empty
    /// time between them. None in a period a month long.
    pub fn split(&self) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().filter(|g| g.hours >= SPLIT_HOURS)
    }

    /// The stretches of time the [`Period::split`] gaps leave, `[from, to)` in whole hours,
    /// in order: one (the records' span) where nothing splits it, none without records.
    pub fn stretches(&self) -> Vec<(i64, i64)> {
        let hour = |t: i64, up: i64| (t + up).div_euclid(HOUR) * HOUR;
        let (Some(first), Some(last)) = (self.first_start, self.last_end) else {
            return Vec::new();
        };
        let mut from = self.from.map_or(hour(first, 0), |f| f.max(hour(first, 0)));
        let to = self
            .to
            .map_or(hour(last, HOUR - 1), |t| t.min(hour(last, HOUR - 1)));
        let mut out = Vec::new();
        for g in self.split() {
            out.push((from, g.from));
            from = g.from + i64::from(g.hours) * HOUR;
        }
        if to > from {
            out.push((from, to));
        }
        out
    }
}

/// A run of hours without a record ([`GAP_HOURS`] or more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// Its first hour, Unix seconds.
    pub from: i64,
    pub hours: u32,
}

/// The runs of at least [`GAP_HOURS`] whole hours of `[from, to)` (whole hours, seconds) in
/// which no record starts (`hours`: the hours in which one does). None where no hour is
/// known (an accumulator that did not note them).
fn gaps(hours: &BTreeSet<u32>, from: i64, to: i64) -> Vec<Gap> {
    let hour = |t: i64| u32::try_from(t.div_euclid(HOUR)).ok();
    let (Some(a), Some(b)) = (hour(from), hour(to)) else {
        return Vec::new();
    };
    if hours.is_empty() || b <= a {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut next = a;
    for h in hours.range(a..b).copied().chain([b]) {
        if h - next >= GAP_HOURS {
            out.push(Gap {
                from: next as i64 * HOUR,
                hours: h - next,
            });
        }
        next = h + 1;
    }
    out
}

/// Inputs that could not be read in full (ACCOUNTING.md §7): the figures are a lower bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incomplete {
    /// Inputs not read to their end, of all inputs.
    pub inputs: u64,
    pub of_inputs: u64,
    /// Their size (as listed or found on disk).
    pub bytes: u64,
    /// The first and last delivery times their names carry (AWS's key layout), when they do:
    /// roughly the span of time whose records are missing.
    pub first_key_time: Option<String>,
    pub last_key_time: Option<String>,
    /// By kind of failure, each with its first input (by name) and what happened to it.
    pub by_kind: Vec<FailureCount>,
}

/// Counted records read more than once, as a sample of the records' lines found them
/// ([`crate::account::Repeats`]): the same records in two inputs (exports whose periods
/// overlap, a file beside a copy cut differently), or twice in one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeated {
    /// One counted record's line in this many was sampled.
    pub sample_rate: u64,
    /// Sampled lines read more than once, and their copies beyond the first.
    pub sampled_lines: u64,
    pub sampled_copies: u64,
    /// The records counted more than once and their bytes, estimated from the sample (the
    /// sampled copies' bytes times the rate: noisy where a few records carry most bytes).
    pub estimated_records: u64,
    pub estimated_bytes: u64,
    /// The sampled copies' bytes in thousandths of the sampled lines' (copies included):
    /// the share of the counted bytes read more than once, steadier than `estimated_bytes`.
    #[serde(default)]
    pub share_permille: u64,
    /// The pairs of inputs sharing most sampled lines (up to three), by name; an input
    /// named twice holds lines twice itself.
    pub examples: Vec<RepeatedIn>,
    /// Flows recorded twice at a time in the inputs without a flow-log id, where the sample
    /// of flows found some: two flow logs on the same network interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_twice: Option<RecordedTwice>,
}

/// Flows whose records overlap in time, which one flow log never writes
/// ([`crate::account::Repeats`]'s sample of flows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedTwice {
    /// One flow in this many was sampled.
    pub sample_rate: u64,
    /// Sampled flows of two records or more, and of those the flows recorded twice.
    pub sampled_flows: u64,
    pub sampled_flows_twice: u64,
    /// The bytes of the sampled flows, and of those the bytes counted beyond one recording
    /// of each; their ratio in thousandths (what share of the bytes of the inputs without a
    /// flow-log id is counted twice, estimated: a ratio is steadier than a scaled sum when a
    /// few flows carry most bytes).
    pub sampled_bytes: u64,
    pub sampled_bytes_twice: u64,
    pub share_permille: u64,
    /// The inputs holding most sampled flows recorded twice (up to three).
    pub inputs: Vec<TwiceIn>,
}

/// An input holding flows recorded twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwiceIn {
    pub input: String,
    pub sampled_flows: u64,
}

/// Two inputs holding the same lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedIn {
    pub inputs: [String; 2],
    pub sampled_lines: u64,
}

impl Repeated {
    /// What the samples found, if any line was read twice or flows were recorded twice.
    pub fn of(f: &crate::account::RepeatsFound) -> Option<Repeated> {
        let recorded_twice = f.twice.as_ref().map(|t| RecordedTwice {
            sample_rate: t.rate,
            sampled_flows: t.flows,
            sampled_flows_twice: t.twice,
            sampled_bytes: t.bytes,
            sampled_bytes_twice: t.extra_bytes,
            share_permille: permille(t.extra_bytes, t.bytes),
            inputs: (t.inputs.iter())
                .map(|(input, n)| TwiceIn {
                    input: input.clone(),
                    sampled_flows: *n,
                })
                .collect(),
        });
        (f.copies > 0 || recorded_twice.is_some()).then(|| Repeated {
            sample_rate: f.rate,
            sampled_lines: f.lines,
            sampled_copies: f.copies,
            estimated_records: f.copies.saturating_mul(f.rate),
            estimated_bytes: f.copies_bytes.saturating_mul(f.rate),
            share_permille: permille(f.copies_bytes, f.bytes),
            examples: (f.pairs.iter())
                .map(|(a, b, n)| RepeatedIn {
                    inputs: [a.clone(), b.clone()],
                    sampled_lines: *n,
                })
                .collect(),
            recorded_twice,
        })
    }
}

/// `part` in thousandths of `whole` (rounded down; 0 of nothing).
fn permille(part: u64, whole: u64) -> u64 {
    (u128::from(part) * 1000)
        .checked_div(u128::from(whole))
        .map_or(0, |p| p as u64)
}

/// Inputs that failed in one way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureCount {
    pub kind: crate::source::FailureKind,
    pub inputs: u64,
    pub example: String,
}

impl Incomplete {
    /// The inputs of `files` that stopped short, or `None` when every one was read in full.
    pub fn of(files: &[FileStats]) -> Option<Incomplete> {
        use crate::source::FailureKind;
        let failed: Vec<&FileStats> = files.iter().filter(|f| f.error.is_some()).collect();
        if failed.is_empty() {
            return None;
        }
        let mut kinds: BTreeMap<FailureKind, (u64, String)> = BTreeMap::new();
        for f in &failed {
            let k = kinds
                .entry(f.failure.unwrap_or(FailureKind::Io))
                .or_insert_with(|| {
                    (
                        0,
                        format!("{}: {}", f.path, f.error.as_deref().unwrap_or("")),
                    )
                });
            k.0 += 1;
        }
        let times: Vec<i64> = failed
            .iter()
            .filter_map(|f| crate::source::s3::key_time(&f.path))
            .collect();
        let mut by_kind: Vec<FailureCount> = kinds
            .into_iter()
            .map(|(kind, (inputs, example))| FailureCount {
                kind,
                inputs,
                example,
            })
            .collect();
        by_kind.sort_by(|a, b| b.inputs.cmp(&a.inputs).then(a.kind.cmp(&b.kind)));
        Some(Incomplete {
            inputs: failed.len() as u64,
            of_inputs: files.len() as u64,
            bytes: failed.iter().map(|f| f.size).sum(),
            first_key_time: times.iter().min().map(|t| crate::time::format_instant(*t)),
            last_key_time: times.iter().max().map(|t| crate::time::format_instant(*t)),
            by_kind,
        })
    }
}

/// Data-quality section (ACCOUNTING.md §7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quality {
    pub lines: LineCounts,
    /// Every line is in one bucket and every input was read in full.
    pub reconciled: bool,
    /// Every input was read to its end (exit 0); else `incomplete` says what was not.
    #[serde(default = "yes")]
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
    /// Counted records whose lines were read more than once (exit 8): every figure may be
    /// too high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeated: Option<Repeated>,
    pub files: Vec<FileStats>,
    pub files_with_errors: u64,
    pub oddities: Oddities,
    pub records_without_bytes: u64,
    pub skipdata_windows: u64,
    pub given_nat_enis_not_seen: Vec<String>,
    /// With NAT gateways given: ENIs that show NAT address translation but were not counted
    /// as NAT gateways (the best few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translating_enis_not_counted: Vec<String>,
    pub notes: Vec<String>,
    /// The notes that say the figures may be wrong in a way the data alone cannot settle,
    /// each under a kind a program can act on (its message is also among `notes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Where the inputs come from several flow logs: each one's part, and what was set aside
    /// where two recorded the same ENI in the same hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_logs: Option<FlowLogOverlap>,
}

/// A note of the data-quality section that is also a warning (on stderr, and by its kind in
/// JSON for a scheduled run to act on): the figures may be wrong, and the data cannot tell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
}

/// What a [`Warning`] is about: a stable name in the JSON contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The ip-ranges document was made over [`RANGES_STALE_DAYS`] before the last record:
    /// the S3 and DynamoDB figures may be too low.
    StaleIpRanges,
    /// The ip-ranges document holds no S3 range of a region where the NAT gateways carried
    /// bytes: S3 there is counted as another class.
    NoS3Ranges,
    /// Most of the NAT gateways' S3 bytes went to S3 outside their region (often a region
    /// taken wrongly): none of it is what a gateway endpoint saves.
    S3OutsideRegion,
    /// None of the NAT gateways given is in a counted record: every NAT figure is zero.
    GivenNatsNotCounted,
    /// No record falls in the time range asked for.
    NoRecordInTimeRange,
    /// Some NAT gateways show rejected records only, for hours, while the others carried
    /// bytes: a flow log of rejected traffic only may be all that logs them, and every
    /// figure then lacks what passed through them.
    NatRejectedOnly,
}

impl WarningKind {
    pub const ALL: [WarningKind; 6] = [
        WarningKind::StaleIpRanges,
        WarningKind::NoS3Ranges,
        WarningKind::S3OutsideRegion,
        WarningKind::GivenNatsNotCounted,
        WarningKind::NoRecordInTimeRange,
        WarningKind::NatRejectedOnly,
    ];

    /// Whether the warning says why a report counted nothing: told within its `NOTHING
    /// COUNTED` line ([`crate::report::nothing_counted`]), not on a line of its own.
    pub fn explains_nothing_counted(self) -> bool {
        matches!(
            self,
            WarningKind::GivenNatsNotCounted | WarningKind::NoRecordInTimeRange
        )
    }
}

impl Quality {
    /// Whether a warning of `kind` was given.
    pub fn warns(&self, kind: WarningKind) -> bool {
        self.warnings.iter().any(|w| w.kind == kind)
    }
}

/// Same-region S3 upload bytes of client ENIs by the `traffic-path` they logged (v5+).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPaths {
    /// `1`: through a resource in the VPC (a NAT gateway).
    pub via_vpc_resource: u64,
    /// `2` or `7`: a gateway endpoint.
    pub via_gateway_endpoint: u64,
    pub other: u64,
    pub not_logged: u64,
}

impl TrafficPaths {
    fn add(&mut self, o: &TrafficPaths) {
        self.via_vpc_resource += o.via_vpc_resource;
        self.via_gateway_endpoint += o.via_gateway_endpoint;
        self.other += o.other;
        self.not_logged += o.not_logged;
    }
}

/// Rejected traffic, never in savings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejected {
    pub nat_records: u64,
    pub nat_bytes: u64,
    pub other_records: u64,
    pub other_bytes: u64,
    /// The time the NAT gateways' logs cover, from their first record's start to their last
    /// one's end (NODATA windows and REJECT records included, inside the time filter, not
    /// widened): where they counted no byte but rejected some, whether their flow log is one
    /// of rejected traffic only ([`nat_rejected_only`]).
    #[serde(default)]
    pub nat_logged_seconds: u64,
}

/// The analysis of all inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub method: Method,
    pub nat_region: Option<String>,
    pub classes: ClassBytes,
    pub total: u64,
    pub gateways: Vec<Gateway>,
    pub by_day: Vec<DayRow>,
    pub by_subnet: Vec<GroupRow>,
    pub by_az: Vec<GroupRow>,
    pub by_ecs_service: Vec<GroupRow>,
    /// Where `top_clients` comes from.
    pub clients_source: ClientsSource,
    pub top_clients: Vec<ClientRow>,
    pub ecr: Ecr,
    pub cross_az: CrossAz,
    pub s3_egress_traffic_path: TrafficPaths,
    pub rejected: Rejected,
    pub period: Period,
    pub quality: Quality,
}

/// Bytes per `days` days of what `of` takes of each NAT gateway's classes, each gateway at
/// the rate of the time its own logs cover (ACCOUNTING §6: a gateway logged all month and
/// one logged for a day each project from their own span). Where no gateway is known, or a
/// gateway's logs cover no time, `all` (or the gateway's share) goes at the rate of
/// `covered_days`, the days the run's logs cover; none when those are none. The one rule
/// every per-day and per-30-day figure follows, so that a table's rows agree.
pub fn rate(
    gateways: &[Gateway],
    covered_days: f64,
    of: &dyn Fn(&ClassBytes) -> u64,
    all: u64,
    days: f64,
) -> f64 {
    let over = |d: f64| (d > 0.0).then(|| days / d);
    let whole = over(covered_days).unwrap_or(0.0);
    if gateways.is_empty() {
        return all as f64 * whole;
    }
    (gateways.iter())
        .map(|g| {
            let d = g.covered_seconds as f64 / DAY as f64;
            of(&g.classes) as f64 * over(d).unwrap_or(whole)
        })
        .sum()
}

/// A gateway ENI of these classes whose records cover `covered_seconds` (for tests).
#[cfg(test)]
pub(crate) fn gateway_of(eni: &str, classes: ClassBytes, covered_seconds: u64) -> Gateway {
    Gateway {
        eni: eni.into(),
        private_ips: Vec::new(),
        az: None,
        subnet: None,
        region: None,
        total: classes.total(),
        classes,
        days_private_leg: 0,
        days_public_leg: 1,
        cross_check: None,
        rejected_records: 0,
        rejected_bytes: 0,
        covered_seconds,
        nat_gateway: None,
        vpc: None,
        daily: BTreeMap::new(),
        s3_other_regions: BTreeMap::new(),
        nat64_bytes: 0,
    }
}

/// An ENI that may be a NAT gateway, with the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub eni: String,
    pub translated_records: u64,
    /// Bytes of those translated records (private legs naming a public remote).
    pub translated_bytes: u64,
    pub public_bytes: u64,
    pub internal_bytes: u64,
    pub private_peers: usize,
    pub local_ips: Vec<IpAddr>,
}

/// What explains finding no NAT gateway: how the lines were counted, the first malformed
/// line, the time filter and what the data covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoNatContext {
    pub lines: LineCounts,
    /// `path:line: reason` of the first malformed line.
    pub first_malformed: Option<String>,
    pub time_filter: bool,
    /// First start and last end of every dated record, in the time range or not.
    pub data_span: Option<(i64, i64)>,
    /// Inputs that could not be read in full: the likeliest reason of all.
    pub incomplete: Option<Incomplete>,
    /// `path: why` of an input whose records all lack a field the figures need, where no
    /// input's records count in full ([`crate::account::FileStats::mark_lacking`]).
    pub lacking: Option<String>,
    /// Counted records without an interface id (Transit Gateway logs have none).
    pub no_interface: u64,
    /// The note on flowcost's own outputs found among the inputs and not read, if any.
    pub own_outputs: Option<String>,
    /// ENIs whose records are all REJECT, for an hour or more: the NAT gateways may be among
    /// them, under a flow log of rejected traffic only.
    pub rejecting: RejectingEnis,
}

/// The non-NAT ENIs whose records are all REJECT, none accepted, over an hour or more
/// ([`REJECTED_ONLY_MIN_SPAN`]): where no NAT gateway is found, the gateways may be among
/// them, logged by a flow log of traffic type REJECT (a security team's), which shows
/// nothing of what passed through them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejectingEnis {
    pub count: u64,
    /// Those of most rejected records (at most [`RejectingEnis::SHOWN`]), most first, then
    /// by ENI: `(rejected records, ENI)`.
    pub examples: Vec<(u64, String)>,
}

impl RejectingEnis {
    /// How many are named.
    pub const SHOWN: usize = 3;

    /// Note `eni` if its records are all REJECT over an hour or more.
    fn note(&mut self, eni: &str, a: &EniAgg) {
        let span = a.logged().seconds();
        if a.records > 0 || a.reject_records == 0 || span < REJECTED_ONLY_MIN_SPAN as u64 {
            return;
        }
        self.count += 1;
        self.examples.push((a.reject_records, eni.to_string()));
        self.keep_shown();
    }

    /// Add those of `later` (another part of the walk).
    fn append(&mut self, later: RejectingEnis) {
        self.count += later.count;
        self.examples.extend(later.examples);
        self.keep_shown();
    }

    fn keep_shown(&mut self) {
        (self.examples).sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.examples.truncate(RejectingEnis::SHOWN);
    }
}

/// Why the analysis could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("no NAT gateway ENI found in the data")]
    NoNat {
        candidates: Vec<Candidate>,
        context: Box<NoNatContext>,
    },
    #[error("{bytes} bytes to S3 ranges have no known NAT region, so same-region S3 (removable by a gateway endpoint) cannot be told from other-region S3: pass --region")]
    UnknownRegion { bytes: u64 },
    #[error("reading the spilled ENI tables back: {0}")]
    Spill(#[from] std::io::Error),
    /// NAT gateways were named and the records counted say they are stale, mistyped or not
    /// logged ([`GivenAbsent`]): a report of their bytes would be wrong, too low or zero.
    #[error("{0}")]
    GivenNatsAbsent(Box<GivenAbsent>),
    /// The account stage left out the timeline of a client that turns out to be NAT-only
    /// ([`crate::account::Guess`]): the inputs must be read again, building every timeline.
    #[error("the timeline of NAT client {0} was left out, but no logged ENI of its VPC holds that address")]
    TimelineLeftOut(IpAddr),
}

/// Format a day number as `YYYY-MM-DD`.
pub fn day_string(day: u32) -> String {
    crate::time::Day(day).to_string()
}

fn sorted_groups(map: BTreeMap<String, ClassBytes>) -> Vec<GroupRow> {
    let mut v: Vec<GroupRow> = map
        .into_iter()
        .map(|(key, classes)| GroupRow {
            key,
            total: classes.total(),
            classes,
        })
        .collect();
    v.sort_by(|a, b| b.total.cmp(&a.total).then(a.key.cmp(&b.key)));
    v
}

/// A candidate's rank: a NAT forwards what it receives, so public and internal volumes
/// match, from many peers.
fn candidate_score(c: &Candidate) -> (u64, u128) {
    let (lo, hi) = (
        c.public_bytes.min(c.internal_bytes),
        c.public_bytes.max(c.internal_bytes).max(1),
    );
    (
        c.translated_records,
        (lo as u128 * 1000 / hi as u128) * c.private_peers as u128,
    )
}

/// The candidates kept: the best, ranked, then by ENI.
const CANDIDATES: usize = 5;

/// Keep the [`CANDIDATES`] best candidates (ranked, then by ENI).
fn best_candidates(v: &mut Vec<Candidate>) {
    v.sort_by(|a, b| {
        candidate_score(b)
            .cmp(&candidate_score(a))
            .then(a.eni.cmp(&b.eni))
    });
    v.truncate(CANDIDATES);
}

/// Put candidate `c` of ENI `eni` among `kept` (the best so far, ranked as
/// [`best_candidates`] ranks them) if it ranks there, completed by `fill` only then.
fn rank_candidate(
    kept: &mut Vec<Candidate>,
    mut c: Candidate,
    eni: &str,
    fill: impl FnOnce(&mut Candidate),
) {
    let score = candidate_score(&c);
    let at = kept.partition_point(|k| {
        let sk = candidate_score(k);
        sk > score || (sk == score && k.eni.as_str() <= eni)
    });
    if at < CANDIDATES {
        c.eni = eni.to_string();
        fill(&mut c);
        kept.insert(at, c);
        kept.truncate(CANDIDATES);
    }
}

/// What the analysis keeps of a client address from the non-NAT ENIs that had it.
#[derive(Default)]
struct AddressInfo {
    /// Subnet, AZ and ECS task of the first of those ENIs (in ENI order): the aggregates'
    /// interned names, shared rather than copied (an entry for nearly every task ENI).
    subnet: Option<Name>,
    az: Option<Name>,
    ecs_task: Option<Box<str>>,
    /// ECS services of all of them.
    services: BTreeSet<Name>,
}

impl AddressInfo {
    /// Note that the non-NAT ENI of aggregate `a` had address `ip` (in the ENI's VPC): the
    /// first ENI's names, every ENI's service.
    fn note(addresses: &mut ByAddress<AddressInfo>, ip: &IpAddr, a: &EniAgg) {
        let info = addresses.entry(*ip, &a.meta.vpc, || AddressInfo {
            subnet: a.meta.subnet.clone(),
            az: a.meta.az.clone(),
            ecs_task: a.meta.ecs_task.clone(),
            services: BTreeSet::new(),
        });
        if let Some(s) = &a.meta.ecs_service {
            if !info.services.contains(s) {
                info.services.insert(s.clone());
            }
        }
    }

    /// The one ECS service of each address whose ENIs name one, and only one.
    fn one_service_each(addresses: &ByAddress<AddressInfo>) -> ByAddress<Name> {
        addresses.filter_map(|info| match info.services.len() {
            1 => info.services.first().cloned(),
            _ => None,
        })
    }

    /// Add `later`'s notes, of ENIs after those of `addresses`: an address's names stay
    /// those of its first ENI, its services are all of them.
    fn append(addresses: &mut ByAddress<AddressInfo>, later: ByAddress<AddressInfo>) {
        addresses.append(later, |info, l| info.services.extend(l.services));
    }
}

/// The walk over all ENIs: which are NATs, what needs each ENI once and no answer from the
/// others, and notes of the rest for the steps after it.
#[derive(Default)]
struct FirstPass {
    /// NAT ENIs (few), whole, in ENI order.
    nat: Vec<(String, EniAgg)>,
    given_seen: BTreeSet<String>,
    candidates: Vec<Candidate>,
    unknown_region_all: u64,
    rejected_other: (u64, u64),
    addresses: ByAddress<AddressInfo>,
    /// The addresses non-NAT ENIs had only as the ends of their NAT64 legs (an IPv6-only
    /// task's own address): they describe a NAT gateway's NAT64 clients, but no task start or
    /// pull is read from them (those clients' pulls are estimated from the NAT's legs).
    nat64_addresses: ByAddress<AddressInfo>,
    /// Non-NAT ENIs' own public traffic by their first address and their VPC (the clients,
    /// when no NAT private legs name them).
    own_clients: ByAddress<ClassBytes>,
    paths: TrafficPaths,
    first_start: Option<i64>,
    last_end: Option<i64>,
    records_without_bytes: u64,
    any_ecs: bool,
    /// The non-NAT ENIs, noted for the steps that need this walk's answers first.
    views: TaskViews,
    /// The non-NAT ENIs of rejected records only, for an hour or more.
    rejecting: RejectingEnis,
    /// Every ENI's public cells and bytes by region, for `--client-side-estimate` when no
    /// NAT is found (only then).
    client_side_cells: FxMap<u64, u64>,
    client_region_bytes: BTreeMap<u16, u64>,
}

impl FirstPass {
    /// Walk every ENI once: NAT ENIs are those named (`--nat-eni`, or holding a `--nat-ip`)
    /// if any are, else those that show address translation. A table in parts is walked a
    /// part a thread, and the walks of the parts joined in order.
    fn walk(enis: &dyn EniSource, opt: &RunConfig) -> Result<FirstPass, std::io::Error> {
        if let Some(parted) = enis.parted().filter(|p| p.parts() > 1) {
            return FirstPass::walk_parts(parted, opt);
        }
        // without a scratch file (none made, or none to be had) the notes stay in memory
        let mut first = FirstPass::noting_in(enis.scratch().ok().flatten());
        enis.scan(&mut |eni, a| first.visit(eni, a, opt))?;
        Ok(first)
    }

    /// [`FirstPass::walk`] of a table in parts: each part on a thread of its own (the first
    /// on this one), then each walk added to the ones before.
    fn walk_parts(enis: &dyn PartedSource, opt: &RunConfig) -> Result<FirstPass, std::io::Error> {
        let walk = |i: usize| -> Result<FirstPass, std::io::Error> {
            let mut first = FirstPass::noting_in(enis.scratch().ok().flatten());
            enis.scan_part(i, &mut |eni, a| first.visit(eni, a, opt))?;
            Ok(first)
        };
        let walks: Vec<Result<FirstPass, std::io::Error>> = std::thread::scope(|s| {
            let later: Vec<_> = (1..enis.parts())
                .map(|i| s.spawn(move || walk(i)))
                .collect();
            let mut walks = vec![walk(0)];
            for h in later {
                walks.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            walks
        });
        let mut walks = walks.into_iter();
        let mut first = walks.next().unwrap_or_else(|| Ok(FirstPass::default()))?;
        for later in walks {
            first.append(later?);
        }
        Ok(first)
    }

    /// A walk that notes the non-NAT ENIs in `scratch` (in memory if `None`).
    fn noting_in(scratch: Option<std::fs::File>) -> FirstPass {
        FirstPass {
            views: TaskViews::new(scratch),
            ..FirstPass::default()
        }
    }

    /// One ENI of the walk.
    fn visit(&mut self, eni: &str, a: &EniAgg, opt: &RunConfig) {
        let given = opt.nats_given();
        let named = opt.nat_enis.iter().any(|e| e == eni);
        let is_nat = match given {
            true => named || a.has_nat_ip,
            false => a.private_side().translated_records > 0,
        };
        if opt.client_side_estimate {
            self.add_client_side(a);
        }
        self.add(eni, a, named, is_nat)
    }

    /// Add `later`, the walk of the ENIs after this one's: what the walk of both would be.
    fn append(&mut self, later: FirstPass) {
        let FirstPass {
            nat,
            given_seen,
            candidates,
            unknown_region_all,
            rejected_other,
            addresses,
            nat64_addresses,
            own_clients,
            paths,
            first_start,
            last_end,
            records_without_bytes,
            any_ecs,
            views,
            rejecting,
            client_side_cells,
            client_region_bytes,
        } = later;
        self.rejecting.append(rejecting);
        self.nat.extend(nat);
        self.given_seen.extend(given_seen);
        self.candidates.extend(candidates);
        best_candidates(&mut self.candidates);
        self.unknown_region_all += unknown_region_all;
        self.rejected_other.0 += rejected_other.0;
        self.rejected_other.1 += rejected_other.1;
        // an address's subnet, AZ and task are those of its first ENI: this walk's
        AddressInfo::append(&mut self.addresses, addresses);
        AddressInfo::append(&mut self.nat64_addresses, nat64_addresses);
        (self.own_clients).append(own_clients, |c, later| c.add_all(&later));
        self.paths.add(&paths);
        self.first_start = self.first_start.into_iter().chain(first_start).min();
        self.last_end = self.last_end.max(last_end);
        self.records_without_bytes += records_without_bytes;
        self.any_ecs |= any_ecs;
        self.views.append(views);
        for (k, b) in client_side_cells {
            *self.client_side_cells.entry(k).or_insert(0) += b;
        }
        for (r, b) in client_region_bytes {
            *self.client_region_bytes.entry(r).or_insert(0) += b;
        }
    }

    /// An ENI's public cells and bytes by region, for the client-side estimate.
    fn add_client_side(&mut self, a: &EniAgg) {
        for (k, b) in a.public.iter() {
            *self.client_side_cells.entry(k).or_insert(0) += b;
        }
        if let Some(r) = a.meta.region {
            *self.client_region_bytes.entry(r).or_insert(0) += a.public.values().sum::<u64>();
        }
    }

    /// Keep `eni` among the best candidates if it ranks there (described only then: most
    /// ENIs of a VPC-wide log qualify, few rank).
    fn add_candidate(&mut self, eni: &str, a: &EniAgg) {
        let p = a.private_side();
        let c = Candidate {
            eni: String::new(),
            translated_records: p.translated_records,
            translated_bytes: 0,
            public_bytes: a.public.values().sum(),
            // (a NAT64 leg is forwarded between a client and a public remote too)
            internal_bytes: p.internal_bytes + p.nat64.values().sum::<u64>(),
            private_peers: p.peers.items.len(),
            local_ips: Vec::new(),
        };
        rank_candidate(&mut self.candidates, c, eni, |c| {
            c.translated_bytes = p.private.values().sum();
            c.local_ips = a.local_ips.items.clone();
        });
    }

    /// Add one ENI; `given` says whether the user named it as a NAT, `is_nat` whether it is
    /// one.
    fn add(&mut self, eni: &str, a: &EniAgg, given: bool, is_nat: bool) {
        if given {
            self.given_seen.insert(eni.to_string());
        }
        let p = a.private_side();
        let forwards = p.internal_bytes > 0 || !p.nat64.is_empty();
        if p.translated_records > 0 || (forwards && !a.public.is_empty()) {
            self.add_candidate(eni, a);
        }
        self.unknown_region_all += a.s3_unknown_region;
        // the time the logs cover: NODATA windows and rejections included, as a gateway's
        let logged = a.logged();
        if let Some(t) = logged.first() {
            self.first_start = Some(self.first_start.map_or(t, |f| f.min(t)));
        }
        if let Some(t) = logged.last() {
            self.last_end = Some(self.last_end.map_or(t, |l| l.max(t)));
        }
        self.records_without_bytes += a.no_bytes_records;
        self.any_ecs |= a.meta.ecs_task.is_some();
        if is_nat {
            self.nat.push((eni.to_string(), a.clone()));
            return;
        }
        self.rejected_other.0 += a.reject_records;
        self.rejected_other.1 += a.reject_bytes;
        self.rejecting.note(eni, a);
        self.views.push(&TaskView::of(eni, a));
        for ip in &a.local_ips.items {
            AddressInfo::note(&mut self.addresses, ip, a);
        }
        for ip in TaskView::nat64_ends_of(a) {
            AddressInfo::note(&mut self.nat64_addresses, ip, a);
        }
        if let Some(ip) = a.local_ips.items.first() {
            let e = (self.own_clients).entry(*ip, &a.meta.vpc, ClassBytes::default);
            for (k, b) in a.public.iter() {
                let (_, class, dir) = uncell(k);
                e.get_mut(class).add(dir, b);
            }
        }
        let p = a.s3_egress_by_path;
        self.paths.via_vpc_resource += p[0];
        self.paths.via_gateway_endpoint += p[1];
        self.paths.other += p[2];
        self.paths.not_logged += p[3];
    }
}

/// One NAT ENI counted (ACCOUNTING.md §3): each day on its private legs where it has them,
/// else on its public legs, and the other leg of the days with both as a cross-check.
struct CountedNat {
    gateway: Gateway,
    by_day: BTreeMap<u32, ClassBytes>,
}

/// A NAT ENI's private legs as counted: its translated legs, and its NAT64 legs (IPv6
/// clients to `64:ff9b::/96`) on the days the translated legs are counted or no public leg
/// is logged; on the other days its public legs hold the NAT64 traffic (as IPv4), and
/// without `pkt-*` fields its IPv4 clients' legs show no translation, so a day's NAT64 legs
/// alone would leave those out. Returns the cells and the NAT64 bytes among them.
fn private_legs_counted(side: &PrivateSide, public_days: &BTreeSet<u32>) -> (Vec<(u64, u64)>, u64) {
    let translated: BTreeSet<u32> = side.private.days().collect();
    let counted = |day: u32| translated.contains(&day) || !public_days.contains(&day);
    let nat64: Vec<(u64, u64)> = (side.nat64.iter())
        .filter(|(k, _)| counted(uncell(*k).0))
        .collect();
    let nat64_bytes = nat64.iter().map(|c| c.1).sum();
    let mut cells: Vec<(u64, u64)> = side.private.iter().collect();
    cells.extend(nat64);
    (cells, nat64_bytes)
}

/// The AZ id of a NAT ENI by the inventory: the AZ its address serves (a regional gateway),
/// else its gateway's subnet's.
fn inventory_az(eni: &str, opt: &RunConfig) -> Option<String> {
    let g = opt.inventory.gateway_of_eni(eni)?;
    let own = g.addresses.iter().find(|a| a.eni == eni)?.az_id.clone();
    own.or_else(|| {
        let s = opt.inventory.subnet(g.subnet.as_deref()?)?;
        s.az_id.clone().or_else(|| s.az.clone())
    })
}

/// How many of `days` are days: the records without a start are tallied under
/// [`crate::account::NO_DAY`], which is no day of the period.
fn dated_days<'d>(days: impl Iterator<Item = &'d u32>) -> u32 {
    days.filter(|&&d| d != crate::account::NO_DAY).count() as u32
}

fn count_nat_eni(eni: &str, a: &EniAgg, ranges: &IpRanges, opt: &RunConfig) -> CountedNat {
    let gw = opt.inventory.gateway_of_eni(eni);
    let public_days: BTreeSet<u32> = a.public.days().collect();
    let (private_legs, nat64) = private_legs_counted(a.private_side(), &public_days);
    let private_days: BTreeSet<u32> = private_legs.iter().map(|(k, _)| uncell(*k).0).collect();
    let logged = a.logged();
    let mut t = LegTally::default();
    for &(k, b) in &private_legs {
        t.add(k, b);
        let day = uncell(k).0;
        if public_days.contains(&day) {
            t.both(day, b, 0);
        }
    }
    for (k, b) in a.public.iter() {
        let day = uncell(k).0;
        match private_days.contains(&day) {
            true => t.both(day, 0, b),
            false => t.add(k, b),
        }
    }
    CountedNat {
        gateway: Gateway {
            eni: eni.to_string(),
            private_ips: a.local_ips.items.iter().map(|i| i.to_string()).collect(),
            az: (a.meta.az.as_deref().map(String::from)).or_else(|| inventory_az(eni, opt)),
            subnet: (a.meta.subnet.as_deref().map(String::from))
                .or_else(|| gw.and_then(|g| g.subnet.clone())),
            nat_gateway: gw.map(|g| g.id.clone()),
            vpc: (a.meta.vpc.as_deref().map(String::from))
                .or_else(|| gw.and_then(|g| g.vpc.clone())),
            daily: (t.by_day.iter())
                .map(|(d, c)| (crate::time::Day(*d), c.total()))
                .collect(),
            region: a.meta.region.map(|r| ranges.regions[r as usize].clone()),
            s3_other_regions: (a.s3_elsewhere.0.iter())
                .map(|(r, b)| (ranges.regions[*r as usize].clone(), *b))
                .collect(),
            nat64_bytes: nat64,
            total: t.classes.total(),
            classes: t.classes,
            days_private_leg: dated_days(private_days.iter()),
            days_public_leg: dated_days(public_days.difference(&private_days)),
            cross_check: t.cross_check(),
            rejected_records: a.reject_records,
            rejected_bytes: a.reject_bytes,
            covered_seconds: covered(logged.first(), logged.last(), opt),
        },
        by_day: t.by_day,
    }
}

/// Add the bytes of a cell key (day, class, direction) to the classes' totals and the day's.
fn add_cell(classes: &mut ClassBytes, by_day: &mut BTreeMap<u32, ClassBytes>, key: u64, b: u64) {
    let (day, class, dir) = uncell(key);
    classes.get_mut(class).add(dir, b);
    by_day.entry(day).or_default().get_mut(class).add(dir, b);
}

/// A NAT ENI's bytes as they are counted (by class, and by day), and both its legs' bytes on
/// the days that log both: the leg counted and the other, for the cross-check.
#[derive(Default)]
struct LegTally {
    classes: ClassBytes,
    by_day: BTreeMap<u32, ClassBytes>,
    /// Each day's bytes of the leg counted and of the other, on days with both.
    legs: BTreeMap<u32, (u64, u64)>,
}

impl LegTally {
    /// Count the bytes of a cell key (day, class, direction).
    fn add(&mut self, key: u64, b: u64) {
        add_cell(&mut self.classes, &mut self.by_day, key, b);
    }

    /// Note a day's bytes of the leg counted and of the other, where both are logged.
    fn both(&mut self, day: u32, counted: u64, other: u64) {
        let legs = self.legs.entry(day).or_default();
        legs.0 += counted;
        legs.1 += other;
    }

    /// The two legs set side by side (none when no day logs both), with the days on which they
    /// differ by more than the tolerance.
    fn cross_check(&self) -> Option<CrossCheck> {
        let counted: u64 = self.legs.values().map(|l| l.0).sum();
        let other: u64 = self.legs.values().map(|l| l.1).sum();
        (counted > 0 || other > 0).then(|| {
            let days_apart: Vec<LegDay> = (self.legs.iter())
                .filter(|(_, (c, o))| !legs_agree(*c, *o))
                .map(|(d, (c, o))| LegDay {
                    day: day_string(*d),
                    counted_leg: *c,
                    other_leg: *o,
                })
                .collect();
            CrossCheck {
                counted_leg: counted,
                other_leg: other,
                agrees: days_apart.is_empty(),
                days_apart,
            }
        })
    }
}

/// The VPC of each NAT ENI of `nat`, in its order: its records' `vpc-id`, else the
/// inventory's gateway's.
fn nat_vpcs(nat: &[(String, EniAgg)], opt: &RunConfig) -> Vec<Vpc> {
    (nat.iter())
        .map(|(eni, a)| {
            (a.meta.vpc.clone()).or_else(|| {
                let vpc = opt.inventory.gateway_of_eni(eni)?.vpc.as_deref()?;
                Some(Name::from(vpc))
            })
        })
        .collect()
}

/// Client addresses of the NAT's private legs that no record of their own describes: their
/// subnet and AZ by the inventory's subnet prefixes (NAT-only logs name no client subnet),
/// among the subnets of the NAT gateway's VPC where it is known.
fn place_by_inventory(
    addresses: &mut ByAddress<AddressInfo>,
    (nat, vpcs): (&[(String, EniAgg)], &[Vpc]),
    inventory: &crate::inventory::ec2::Ec2Inventory,
) {
    if inventory.subnets.is_empty() {
        return;
    }
    for ((_, a), vpc) in nat.iter().zip(vpcs) {
        for (ip, ..) in a.client_cells() {
            let known = (addresses.find(&ip, vpc.as_deref())).is_some_and(|m| m.1.subnet.is_some());
            if let (false, Some(s)) = (known, inventory.subnet_of_ip_in(ip, vpc.as_deref())) {
                let m = addresses.entry(ip, vpc, AddressInfo::default);
                m.subnet = Some(Name::from(s.id.as_str()));
                m.az =
                    m.az.take()
                        .or_else(|| s.az_id.as_deref().map(Name::from))
                        .or_else(|| s.az.as_deref().map(Name::from));
            }
        }
    }
}

/// The NAT's private legs by client address, and the share that crossed AZs (where both
/// the NAT's and the client's AZ are known).
fn attribute_to_clients(
    (nat, vpcs): (&[(String, EniAgg)], &[Vpc]),
    addresses: &ByAddress<AddressInfo>,
    opt: &RunConfig,
) -> (BTreeMap<ClientKey, ClassBytes>, CrossAz) {
    let mut clients: BTreeMap<ClientKey, ClassBytes> = BTreeMap::new();
    let mut cross = CrossAz::default();
    let mut cross_pairs: BTreeMap<String, ClassBytes> = BTreeMap::new();
    let mut seen = AzSeen::default();
    for ((eni, a), vpc) in nat.iter().zip(vpcs) {
        let nat_az = (a.meta.az.as_deref().map(String::from)).or_else(|| inventory_az(eni, opt));
        // this NAT's cross-AZ bytes by the client's AZ, named as pairs after its clients
        let mut from: BTreeMap<&str, ClassBytes> = BTreeMap::new();
        // a client at a time: its entries looked up once, not once a cell
        for (ip, cells) in a.clients() {
            let mut present = cells_present(cells).peekable();
            if present.peek().is_none() {
                continue;
            }
            let to = clients.entry((ip, vpc.clone())).or_default();
            let client = addresses.find(&ip, vpc.as_deref()).map(|m| m.1);
            let client_az = client.and_then(|m| m.az.as_deref());
            seen.note(nat_az.is_some(), client.is_some(), client_az.is_some());
            let mut crossing = match (nat_az.as_deref(), client_az) {
                (Some(naz), Some(caz)) => {
                    cross.known = true;
                    (naz != caz).then(|| from.entry(caz).or_default())
                }
                _ => None,
            };
            for (class, dir, b) in present {
                to.get_mut(class).add(dir, b);
                if let Some(pair) = crossing.as_deref_mut() {
                    cross.bytes += b;
                    pair.get_mut(class).add(dir, b);
                }
            }
        }
        for (caz, c) in from {
            let naz = nat_az.as_deref().unwrap_or_default();
            (cross_pairs.entry(format!("{caz} -> {naz}")).or_default()).add_all(&c);
        }
    }
    cross.by_pair = sorted_groups(cross_pairs);
    if !cross.known {
        cross.unknown = match nat.is_empty() {
            true => vec![CrossAzUnknown::NoNat],
            false if nat.iter().all(|(_, a)| a.records == 0) => vec![CrossAzUnknown::NoTraffic],
            false => seen.reasons(),
        };
    }
    (clients, cross)
}

/// What [`attribute_to_clients`] saw of the AZs of the NAT gateways and their clients.
#[derive(Default)]
struct AzSeen {
    client: bool,
    nat_az: bool,
    client_logged: bool,
    client_az: bool,
}

impl AzSeen {
    fn note(&mut self, nat_az: bool, client_logged: bool, client_az: bool) {
        self.client = true;
        self.nat_az |= nat_az;
        self.client_logged |= client_logged;
        self.client_az |= client_az;
    }

    /// Why no byte's AZs were both known.
    fn reasons(&self) -> Vec<CrossAzUnknown> {
        if !self.client {
            return vec![CrossAzUnknown::NoClients];
        }
        let mut out = Vec::new();
        if !self.nat_az {
            out.push(CrossAzUnknown::NatAz);
        }
        match (self.client_logged, self.client_az) {
            (false, _) => out.push(CrossAzUnknown::ClientsNotLogged),
            (true, false) => out.push(CrossAzUnknown::ClientAz),
            // (NAT gateways of a known AZ, and clients of a known AZ, but never together:
            // the clients of the gateways whose AZ is known are those not described)
            (true, true) if out.is_empty() => out.push(CrossAzUnknown::ClientAz),
            (true, true) => {}
        }
        out
    }
}

/// Subnet, AZ and ECS service(s) of a client, from its ENIs' records.
fn describe(
    addresses: &ByAddress<AddressInfo>,
    client: &ClientKey,
) -> (Option<String>, Option<String>, Option<String>) {
    let (subnet, az, svc) = describe_borrowed(addresses, client);
    (
        subnet.map(String::from),
        az.map(String::from),
        svc.map(String::from),
    )
}

/// [`describe`] without copying what the addresses' notes hold (several services joined
/// are the one new string).
fn describe_borrowed<'m>(
    addresses: &'m ByAddress<AddressInfo>,
    (ip, vpc): &ClientKey,
) -> (Option<&'m str>, Option<&'m str>, Option<Cow<'m, str>>) {
    let m = addresses.find(ip, vpc.as_deref()).map(|m| m.1);
    let subnet = m.and_then(|m| m.subnet.as_deref());
    let az = m.and_then(|m| m.az.as_deref());
    let services: Vec<&str> = m
        .into_iter()
        .flat_map(|m| m.services.iter().map(|s| &**s))
        .collect();
    let svc = match services.len() {
        0 => None,
        1 => Some(Cow::Borrowed(services[0])),
        _ => Some(Cow::Owned(services.join("+"))),
    };
    (subnet, az, svc)
}

type Groups = BTreeMap<String, ClassBytes>;

/// The clients' bytes by subnet, by AZ and by ECS service (`unknown` where not known),
/// grouped under borrowed names (a client at a time, no copy of them) and named once a group.
fn group_clients(
    clients: &BTreeMap<ClientKey, ClassBytes>,
    addresses: &ByAddress<AddressInfo>,
) -> (Groups, Groups, Groups) {
    let mut groups: [BTreeMap<Cow<str>, ClassBytes>; 3] = Default::default();
    for (client, cb) in clients {
        let (subnet, az, svc) = describe_borrowed(addresses, client);
        let keys = [subnet.map(Cow::Borrowed), az.map(Cow::Borrowed), svc];
        for (g, key) in groups.iter_mut().zip(keys) {
            let key = key.unwrap_or(Cow::Borrowed("unknown"));
            match g.get_mut(&key) {
                Some(c) => c.add_all(cb),
                None => {
                    g.insert(key, *cb);
                }
            }
        }
    }
    let [by_subnet, by_az, by_svc] =
        groups.map(|g| g.into_iter().map(|(k, c)| (k.into_owned(), c)).collect());
    (by_subnet, by_az, by_svc)
}

/// The `top` clients by S3 bytes, then all bytes, then address, each with its key. Ranks by
/// bytes first and describes only those that can make the list (the address tie-break needs
/// their text), not every client. Their ENIs are filled in from the walk's notes
/// ([`TaskViews`]). A row names its VPC where the clients are of several.
fn top_clients(
    clients: &BTreeMap<ClientKey, ClassBytes>,
    addresses: &ByAddress<AddressInfo>,
    top: usize,
) -> Vec<(ClientKey, ClientRow)> {
    let rank = |cb: &ClassBytes| {
        (
            std::cmp::Reverse(cb.s3.total()),
            std::cmp::Reverse(cb.total()),
        )
    };
    let several = several_vpcs(clients.keys());
    let mut ranked: Vec<(&ClientKey, &ClassBytes)> = clients.iter().collect();
    ranked.sort_by_key(|c| rank(c.1));
    if let Some(last) = top.checked_sub(1).and_then(|i| ranked.get(i)) {
        let cut = rank(last.1);
        let keep = ranked.partition_point(|c| rank(c.1) <= cut);
        ranked.truncate(keep);
    } else if top == 0 {
        ranked.clear();
    }
    let mut rows: Vec<(ClientKey, ClientRow)> = ranked
        .into_iter()
        .map(|(key, cb)| {
            let (ip, vpc) = key;
            let (subnet, az, ecs_service) = describe(addresses, key);
            let row = ClientRow {
                ip: ip.to_string(),
                vpc: vpc.as_deref().filter(|_| several).map(String::from),
                enis: Vec::new(),
                subnet,
                az,
                ecs_service,
                ecs_task: (addresses.find(ip, vpc.as_deref()))
                    .and_then(|m| m.1.ecs_task.as_deref().map(String::from)),
                total: cb.total(),
                classes: *cb,
            };
            (key.clone(), row)
        })
        .collect();
    rows.sort_by(|a, b| ClientRow::by_s3(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    rows
}

/// The least time (seconds from the first record's start to the last one's end) records all
/// REJECT must span to be taken for logs that show no traffic that passed (a flow log of
/// traffic type REJECT) rather than a quiet stretch of a flow log of all traffic in which
/// only rejections happened (the shipped sample's first five minutes): an hour, in which a
/// NAT gateway in use passes traffic, and AWS delivers a flow log's records several times.
pub const REJECTED_ONLY_MIN_SPAN: i64 = 3600;

/// Whether the records of period `p` show no traffic that passed: they are all REJECT
/// ([`LineCounts::rejected_only`]), spanning an hour or more ([`REJECTED_ONLY_MIN_SPAN`]).
/// Its figures are unknown, not zero.
pub fn no_accepted_traffic(lines: &LineCounts, p: &Period) -> bool {
    let span = (p.first_start.zip(p.last_end)).map_or(0, |(f, l)| l.saturating_sub(f));
    lines.rejected_only() && span >= REJECTED_ONLY_MIN_SPAN
}

/// What the NAT gateways' records show of the traffic that passed through them: whether
/// any did, how many records they rejected, and the time their logs cover. A report's
/// ([`NatRecords::of`]), or a partial result's, from its table and the NAT ENIs named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatRecords {
    pub gateways: usize,
    pub any_accepted: bool,
    pub rejected: u64,
    /// From their first record's start to their last one's end, not widened.
    pub logged_seconds: u64,
}

impl NatRecords {
    pub fn of(a: &Analysis) -> NatRecords {
        NatRecords {
            gateways: a.gateways.len(),
            any_accepted: a.total > 0,
            rejected: a.rejected.nat_records,
            logged_seconds: a.rejected.nat_logged_seconds,
        }
    }

    /// Whether they show no traffic that passed through the gateways, while other
    /// interfaces' records may: the gateways counted nothing, rejected some, and their logs
    /// span an hour or more ([`REJECTED_ONLY_MIN_SPAN`]). A flow log of rejected traffic only
    /// on their subnets (a security team's) beside one of all traffic on the clients' leaves
    /// them so; their zeros are then no figure, and nothing is projected from them
    /// (ACCOUNTING §7). Gateways idle for as long, whose flow log records all traffic, look
    /// the same: the mark says so, and a flow log of all traffic on their ENIs settles it.
    pub fn rejected_only(&self) -> bool {
        self.gateways > 0
            && !self.any_accepted
            && self.rejected > 0
            && self.logged_seconds >= REJECTED_ONLY_MIN_SPAN as u64
    }
}

/// Whether a report's NAT gateways show no traffic that passed through them
/// ([`NatRecords::rejected_only`]).
pub fn nat_rejected_only(a: &Analysis) -> bool {
    NatRecords::of(a).rejected_only()
}

/// Whether a report's logs show no traffic that passed: its records are all REJECT
/// ([`no_accepted_traffic`]), or its NAT gateways' are ([`nat_rejected_only`]). Its figures
/// are unknown, not zero, and nothing projects per 30 days.
pub fn shows_no_accepted_traffic(a: &Analysis) -> bool {
    no_accepted_traffic(&a.quality.lines, &a.period) || nat_rejected_only(a)
}

/// The period: the time filter's bounds, else the data's span in whole UTC hours (as
/// coverage is measured), and the days the logs cover within it.
pub fn period_of(
    first_start: Option<i64>,
    last_end: Option<i64>,
    opt: &RunConfig,
    hours: &BTreeSet<u32>,
) -> Period {
    let from = opt.since.or(first_start.map(|t| t.div_euclid(3600) * 3600));
    let to = opt
        .until
        .or(last_end.map(|t| (t + 3599).div_euclid(3600) * 3600));
    let days = match (from, to) {
        (Some(f), Some(t)) if t > f => (t - f) as f64 / DAY as f64,
        _ => 0.0,
    };
    Period {
        first_start,
        last_end,
        from,
        to,
        days,
        covered_days: covered(first_start, last_end, opt) as f64 / DAY as f64,
        gaps: hour_span(first_start, last_end, opt).map_or_else(Vec::new, |(f, l)| {
            gaps(&hours_or_unread(hours, &opt.unread, f, l), f, l)
        }),
        unread: match (from, to) {
            (Some(f), Some(t)) => unread_within(&opt.unread, f, t)
                .map(|(from, to)| Unread { from, to })
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// The hours in which a record starts, and those of `[f, l)` that no input was read for:
/// an unread stretch is pointed out as such, not as a run of hours without records.
fn hours_or_unread<'a>(
    hours: &'a BTreeSet<u32>,
    unread: &[(i64, i64)],
    f: i64,
    l: i64,
) -> Cow<'a, BTreeSet<u32>> {
    let mut stretches = unread_within(unread, f, l).peekable();
    if stretches.peek().is_none() {
        return Cow::Borrowed(hours);
    }
    let hour = |t: i64| u32::try_from(t.div_euclid(HOUR)).unwrap_or(u32::MAX);
    let mut all = hours.clone();
    for (a, b) in stretches {
        all.extend(hour(a)..hour(b + HOUR - 1));
    }
    Cow::Owned(all)
}

/// The note on the period's [`gaps`], if it has any (the first three named).
pub fn gaps_note(gaps: &[Gap]) -> Option<String> {
    const NAMED: usize = 3;
    if gaps.is_empty() {
        return None;
    }
    let hours: u64 = gaps.iter().map(|g| u64::from(g.hours)).sum();
    let mut named: Vec<String> = (gaps.iter().take(NAMED))
        .map(|g| format!("{} for {} h", crate::time::format_instant(g.from), g.hours))
        .collect();
    if gaps.len() > NAMED {
        named.push(format!("and {} more", gaps.len() - NAMED));
    }
    Some(format!(
        "No record of any interface in {hours} hours inside the logs' span ({}): if the logs of those hours are missing (files left out, a delivery outage), the per-day and per-30-day figures are too low, for the time covered they divide by counts those hours; give those logs, or narrow the period (--since/--until) to the hours logged.",
        named.join(", ")
    ))
}

/// The note on the period's stretches no input was read for, if it has any (the first
/// three named).
pub fn unread_note(unread: &[Unread]) -> Option<String> {
    const NAMED: usize = 3;
    if unread.is_empty() {
        return None;
    }
    let mut named: Vec<String> = (unread.iter().take(NAMED))
        .map(|u| {
            format!(
                "{} for {} h",
                crate::time::format_instant(u.from),
                u.hours()
            )
        })
        .collect();
    if unread.len() > NAMED {
        named.push(format!("and {} more", unread.len() - NAMED));
    }
    Some(format!(
        "No partial covers {} hours of the period ({}): no input was read for them (a daily run that failed?), so the period's totals lack them, and they are left out of the time covered, from which the per-day and per-30-day figures project; give a partial of that time to complete the period.",
        unread.iter().map(Unread::hours).sum::<f64>(),
        named.join(", ")
    ))
}

/// The note on the inputs that are flowcost's own outputs (reports, CSV tables, partial
/// results found among the logs), not read, if there are any (the first three named).
pub fn own_outputs_note(files: &[FileStats]) -> Option<String> {
    const NAMED: usize = 3;
    let own: Vec<(&str, crate::report::own::OwnOutput)> = (files.iter())
        .filter_map(|f| Some((f.path.as_str(), f.skipped?)))
        .collect();
    if own.is_empty() {
        return None;
    }
    let mut named: Vec<String> = (own.iter().take(NAMED))
        .map(|(path, kind)| format!("{path} ({})", kind.describe()))
        .collect();
    if own.len() > NAMED {
        named.push(format!("and {} more", own.len() - NAMED));
    }
    let merge = match own
        .iter()
        .any(|(_, k)| *k == crate::report::own::OwnOutput::Partial)
    {
        true => " Partial results are merged with `flowcost merge FILE...`.",
        false => "",
    };
    Some(format!(
        "{} input(s) are flowcost's own output, not flow logs, and were not read: {}. (Keep reports and partial results outside the folders and prefixes the flow logs are read from.){merge}",
        own.len(),
        named.join(", ")
    ))
}

/// What the data-quality notes are written from.
struct NoteFacts<'a> {
    flow_logs: Option<&'a FlowLogOverlap>,
    client_side: bool,
    /// Some NAT ENI-day was counted on private legs / only on public legs.
    any_private: bool,
    any_public: bool,
    /// The NAT gateways' records name some client (their `pkt-*` fields are logged).
    nat_names_clients: bool,
    /// Why the cross-AZ bytes are not known (empty: they are).
    cross_az_unknown: &'a [CrossAzUnknown],
    skipdata_windows: u64,
    gateways: &'a [Gateway],
    period: &'a Period,
    lines: &'a LineCounts,
    odd: &'a Oddities,
    files_with_errors: u64,
    files: &'a [FileStats],
    /// NAT gateways were named, and none of them is in the counted records.
    given: bool,
    no_nat: bool,
    candidates: &'a [Candidate],
    opt: &'a RunConfig,
    dated: Span,
    /// When the ip-ranges document was made, if its `createDate` reads as a time.
    ranges_created: Option<i64>,
    /// The regions of NAT bytes in which the ip-ranges document has no S3 range.
    regions_without_s3: &'a [String],
}

/// How much older than the records an ip-ranges document may be before the report says so:
/// AWS adds ranges to its services every few weeks (S3 gained 106 prefixes from August 2025 to
/// August 2026), and traffic to addresses added after the document counts as `internet` or
/// `aws-other`, understating what endpoints would save.
pub const RANGES_STALE_DAYS: i64 = 90;

/// When an ip-ranges document was made, from its `createDate` (`YYYY-MM-DD-HH-MM-SS`).
fn ranges_created(ranges: &IpRanges) -> Option<i64> {
    let n: Vec<i64> = (ranges.create_date.split('-'))
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, d, hh, mm, ss] = n[..] else {
        return None;
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = crate::time::days_from_civil(y, m as u32, d as u32);
    Some(day * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The note on NAT gateways whose S3 bytes go mostly to S3 outside their region, where that is
/// a tenth of their bytes or more: none of it is what a gateway endpoint saves, and the usual
/// cause is a region taken wrongly (v2 logs carry no `region`; files not named as AWS
/// delivers them give none; `--region` then decides).
fn other_region_s3_note(gateways: &[Gateway]) -> Option<String> {
    let sum = |c: Class| -> u64 { gateways.iter().map(|g| g.classes.get(c).total()).sum() };
    let (here, elsewhere) = (sum(Class::S3), sum(Class::S3OtherRegion));
    let total: u64 = gateways.iter().map(|g| g.total).sum();
    if elsewhere <= here || elsewhere.saturating_mul(10) < total || total == 0 {
        return None;
    }
    let mut regions: Vec<&str> = (gateways.iter())
        .filter_map(|g| g.region.as_deref())
        .collect();
    regions.sort_unstable();
    regions.dedup();
    let pct = |b: u64| b as f64 * 100.0 / total as f64;
    Some(format!(
        "Most of the NAT gateways' S3 bytes went to S3 in regions other than the gateways' own ({}): {:.1}% of their bytes, against {:.1}% to S3 in their region. An S3 gateway endpoint serves only its own region's S3, so it saves none of the former. If the gateways are in another region (logs without a region field, in files not named as AWS delivers them, take it from --region), analyse again with --region set to theirs{}.",
        match regions.is_empty() {
            true => "unknown".to_string(),
            false => regions.join(", "),
        },
        pct(elsewhere),
        pct(here),
        where_s3_went(gateways)
    ))
}

/// The NAT gateways' NAT64 traffic counted on their private legs, where there is some: how
/// much, and what is not known of it.
fn nat64_note(gateways: &[Gateway]) -> Option<String> {
    let nat64: u64 = gateways.iter().map(|g| g.nat64_bytes).sum();
    let total: u64 = gateways.iter().map(|g| g.total).sum();
    if nat64 == 0 || total == 0 {
        return None;
    }
    let mut enis: Vec<&str> = (gateways.iter())
        .filter(|g| g.nat64_bytes > 0)
        .map(|g| g.eni.as_str())
        .collect();
    enis.sort_unstable();
    Some(format!(
        "NAT64: {nat64} B ({:.1}% of the NAT bytes, on {}) came from IPv6 clients through 64:ff9b::/96 and are counted with the private legs, classed by the IPv4 address each such address holds. Where pkt-* is logged these clients are attributed from the NAT's legs, as IPv4 clients are, but without their subnet or ENI (their own ENIs' records of this traffic are not joined to them), and their image pulls are estimated from those legs.",
        nat64 as f64 * 100.0 / total as f64,
        enis.join(", ")
    ))
}

/// Where the gateways' public legs' S3 of other regions went, the region with the most first
/// (`: of it, 97.0% went to eu-west-1, 3.0% to us-west-2`, up to three), or nothing.
fn where_s3_went(gateways: &[Gateway]) -> String {
    let mut by_region: BTreeMap<&str, u64> = BTreeMap::new();
    for (r, b) in gateways.iter().flat_map(|g| &g.s3_other_regions) {
        *by_region.entry(r).or_default() += b;
    }
    let total: u64 = by_region.values().sum();
    let mut regions: Vec<(&str, u64)> = by_region.into_iter().collect();
    regions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shares: Vec<String> = (regions.iter().take(3))
        .enumerate()
        .map(|(i, (r, b))| {
            let pct = *b as f64 * 100.0 / total as f64;
            match i {
                0 => format!("{pct:.1}% went to {r}"),
                _ => format!("{pct:.1}% to {r}"),
            }
        })
        .collect();
    match shares.is_empty() {
        true => String::new(),
        false => format!(
            " (of the S3 their public legs sent outside it, {})",
            shares.join(", ")
        ),
    }
}

/// The note on an ip-ranges document made over [`RANGES_STALE_DAYS`] before the last record.
fn stale_ranges_note(created: Option<i64>, last: Option<i64>) -> Option<String> {
    let days = (last? - created?).div_euclid(86_400);
    (days > RANGES_STALE_DAYS).then(|| format!(
        "The ip-ranges document in use was made {days} days before the last record: AWS adds address ranges to its services every few weeks, and traffic to addresses added since is counted as internet or aws-other, so the S3 and DynamoDB figures may be too low. Run `flowcost ip-ranges update` (or pass a current --ip-ranges) and analyse again."
    ))
}

/// The report's notes on method and data quality, and which of them are warnings.
#[derive(Debug, Default)]
struct Notes {
    notes: Vec<String>,
    warnings: Vec<Warning>,
}

impl Notes {
    fn push(&mut self, note: String) {
        self.notes.push(note);
    }

    /// A note that is also a warning of `kind`.
    fn warn(&mut self, kind: WarningKind, message: String) {
        self.notes.push(message.clone());
        self.warnings.push(Warning { kind, message });
    }
}

impl Extend<String> for Notes {
    fn extend<I: IntoIterator<Item = String>>(&mut self, notes: I) {
        self.notes.extend(notes);
    }
}

/// The report's notes on method and data quality, in a fixed order, the warnings among them
/// said so: how the bytes were counted, what the records say of their own completeness, the
/// time they cover, the inputs, the ip-ranges document, and why nothing was counted.
fn quality_notes(f: &NoteFacts) -> Notes {
    let mut notes = Notes::default();
    method_notes(f, &mut notes);
    record_notes(f, &mut notes);
    coverage_notes(f, &mut notes);
    input_notes(f, &mut notes);
    ranges_warnings(f, &mut notes);
    nothing_counted_warnings(f, &mut notes);
    notes
}

/// How the NAT bytes were counted: which flow logs, from which ENIs and legs, NAT64, and
/// whether cross-AZ traffic can be measured.
fn method_notes(f: &NoteFacts, notes: &mut Notes) {
    notes.extend(f.flow_logs.map(crate::overlap::note));
    if f.client_side {
        notes.push("No NAT gateway ENI is in the data: NAT figures are an ESTIMATE summed from the clients' own records, which may include traffic that did not cross a NAT.".to_string());
    }
    // (not where no NAT ENI-day was counted at all: an idle gateway has no leg to count)
    if !f.any_private && f.any_public && !f.client_side {
        notes.push(match f.nat_names_clients {
            // (NAT64 legs name their IPv6 clients where pkt-* is logged, but translate no
            // IPv4 address)
            true => "No IPv4 address translation seen: the NAT gateways' clients are IPv6 clients of NAT64 alone, so NAT bytes were counted on public legs, which hold their traffic; the clients are attributed from the NAT64 legs.",
            false => "No pkt-srcaddr/pkt-dstaddr translation seen: NAT bytes were counted on public legs, and clients cannot be attributed from the NAT's records (add pkt-* fields to the flow log format).",
        }.to_string());
    }
    if f.any_private && f.any_public {
        notes.push("Some NAT ENI-days had only public legs (no pkt-* fields): those days are counted on public legs.".to_string());
    }
    notes.extend(nat64_note(f.gateways));
    if !f.cross_az_unknown.is_empty() && !f.client_side {
        notes.push(format!(
            "Cross-AZ charges cannot be measured: {}.",
            CrossAzUnknown::joined(f.cross_az_unknown)
        ));
    }
}

/// What the records say of their own completeness: SKIPDATA windows, and NAT ENIs whose two
/// legs disagree.
fn record_notes(f: &NoteFacts, notes: &mut Notes) {
    if f.skipdata_windows > 0 {
        notes.push(format!("{} SKIPDATA records: AWS dropped records in those windows, so the figures are a lower bound.", f.skipdata_windows));
    }
    for g in f.gateways {
        if let Some(cc) = g.cross_check.as_ref().filter(|c| !c.agrees) {
            let d = &cc.days_apart[0];
            notes.push(format!(
                "The two legs of NAT ENI {} disagree on {} day(s) by more than {} % (e.g. {}: {} B counted on the private legs, {} B on the other): the counted figure was used, and the logs of that ENI may be partial.",
                g.eni,
                cc.days_apart.len(),
                LEG_TOLERANCE_PERCENT,
                d.day,
                d.counted_leg,
                d.other_leg
            ));
        }
    }
}

/// The time the logs cover against the period asked for, time no partial read, and long runs
/// without any record.
fn coverage_notes(f: &NoteFacts, notes: &mut Notes) {
    if f.period.days > 0.0 && f.period.covered_days < f.period.days * 0.9 && f.lines.counted > 0 {
        notes.push(format!(
            "The logs cover {:.2} of the {:.2} days of the period: per-day and per-30-day figures are projected from the time covered (per NAT gateway), not from the period asked for.",
            f.period.covered_days, f.period.days
        ));
    }
    notes.extend(short_gateways_note(f.gateways, f.period.covered_days));
    notes.extend(idle_gateways_note(f.gateways));
    if let Some(w) = rejecting_gateways_warning(f.gateways) {
        notes.warn(WarningKind::NatRejectedOnly, w);
    }
    notes.extend(unread_note(&f.period.unread));
    if let Some(note) = gaps_note(&f.period.gaps) {
        notes.push(note);
    }
}

/// NAT gateways whose own logs (records, NODATA windows, rejections) cover under 90 % of the
/// time the logs cover (`covered_days`): each projects from its own time ([`rate`]), which is
/// right for a flow log turned on late and too high for a gateway only quiet at the ends of
/// the period whose NODATA records were left out of the logs given; said, so that a reader
/// can tell which.
pub fn short_gateways_note(gateways: &[Gateway], covered_days: f64) -> Option<String> {
    let run = covered_days * 24.0;
    let short = gateways
        .iter()
        .filter(|g| g.covered_seconds > 0 && (g.covered_seconds as f64 / 3600.0) < run * 0.9);
    named_with_hours(short).map(|(n, named)| format!(
        "The records of {n} of the {} NAT gateway ENIs cover under 90 % of the {run:.0} hours the logs cover: {named}. Each gateway's per-day and per-30-day figures project from the time its own records (NODATA windows included) cover, which is right where its flow log was turned on late or off early, and too high where it was only quiet at the ends of the period and its NODATA records were left out of the logs given.",
        gateways.len(),
    ))
}

/// How many `gateways` there are, and the first five by ENI with their hours covered
/// (`eni-… (18 h)`, then `and N more`); none without any.
fn named_with_hours<'a>(gateways: impl Iterator<Item = &'a Gateway>) -> Option<(usize, String)> {
    const NAMED: usize = 5;
    let all: Vec<String> = gateways
        .map(|g| format!("{} ({:.0} h)", g.eni, g.covered_seconds as f64 / 3600.0))
        .collect();
    let more = match all.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    (!all.is_empty()).then(|| (all.len(), all[..all.len().min(NAMED)].join(", ") + &more))
}

/// NAT gateways whose logs cover some time (NODATA windows, rejected records) but hold no
/// counted byte: logged and idle, so their zeros are figures, not a gateway missing from
/// the logs; said, with their hours, as the gateway table shows only the zeros. Where some
/// of them have rejected records, the note says too that a flow log of rejected traffic
/// only leaves a gateway so: then its zeros are no figure.
pub fn idle_gateways_note(gateways: &[Gateway]) -> Option<String> {
    let idle = (gateways.iter()).filter(|g| g.total == 0 && g.covered_seconds > 0);
    // (those a warning names already, [`rejecting_gateways_warning`], are left to it)
    let warned = |g: &Gateway| any_bytes(gateways) && rejecting_for_hours(g);
    let rejecting = (gateways.iter())
        .filter(|g| g.total == 0 && g.covered_seconds > 0 && g.rejected_records > 0)
        .filter(|g| !warned(g))
        .count();
    let unless = match rejecting {
        0 => String::new(),
        n => format!(" Unless a flow log of rejected traffic only (traffic type REJECT) is all that logs {n} of them, which have rejected records: then what passed through those is unknown, not zero; a flow log of traffic type ALL on their ENIs shows it."),
    };
    named_with_hours(idle).map(|(n, named)| format!(
        "{n} NAT gateway ENI(s) were logged but carried no counted byte: {named}. Their records are NODATA windows (AWS writes one for each interval an interface is idle) or rejected ones only, so their figures are zero.{unless}"
    ))
}

/// The least time a NAT gateway's logs of rejected records only must cover
/// ([`Gateway::covered_seconds`], whole hours) for a warning beside gateways that carried
/// bytes: three hours, more than an hour of records however they fall on the hours (as the
/// mark of a run's, [`REJECTED_ONLY_MIN_SPAN`]).
const REJECTING_GATEWAY_MIN_COVER: u64 = 3 * 3600;

/// Whether some of these gateways carried a counted byte.
fn any_bytes(gateways: &[Gateway]) -> bool {
    gateways.iter().any(|g| g.total > 0)
}

/// Whether a gateway shows rejected records only, for hours ([`REJECTING_GATEWAY_MIN_COVER`]).
fn rejecting_for_hours(g: &Gateway) -> bool {
    g.total == 0 && g.rejected_records > 0 && g.covered_seconds >= REJECTING_GATEWAY_MIN_COVER
}

/// NAT gateways of rejected records only, for hours, beside gateways that carried bytes: a
/// flow log of rejected traffic only (a security team's, on their subnets) may be all that
/// logs them, and then every figure lacks what passed through them, with nothing to tell
/// from an idle gateway's records. Where no gateway carried a byte, the report's mark says
/// it instead ([`NatRecords::rejected_only`]).
pub fn rejecting_gateways_warning(gateways: &[Gateway]) -> Option<String> {
    if !any_bytes(gateways) {
        return None;
    }
    let rejecting = gateways.iter().filter(|g| rejecting_for_hours(g));
    named_with_hours(rejecting).map(|(n, named)| format!(
        "{n} of the {} NAT gateway ENIs show rejected records only, for hours, while the others carried bytes: {named}. If a flow log of rejected traffic only (traffic type REJECT: a security team's on their subnets, say) is all that logs them, what passed through them is missing from every figure, which are then too low; a flow log of traffic type ALL on their ENIs shows it. If they were idle, under a flow log of all traffic, their zeros are right.",
        gateways.len()
    ))
}

/// Records that fit no figure, inputs not read to the end, and flowcost's own outputs among
/// the inputs.
fn input_notes(f: &NoteFacts, notes: &mut Notes) {
    if f.odd.no_interface > 0 {
        notes.push(format!("{} counted records have no interface-id (Transit Gateway flow logs, for one, have none): they cannot be a NAT gateway's records and add to no figure.", f.odd.no_interface));
    }
    if f.odd.unknown_region > 0 {
        notes.push(format!("{} records name a region the ip-ranges data does not know: the region of their input's path, or --region, was used for them.", f.odd.unknown_region));
    }
    if f.files_with_errors > 0 {
        notes.push(format!(
            "{} input(s) could not be read to the end: their figures cover what was read.",
            f.files_with_errors
        ));
    }
    notes.extend(own_outputs_note(f.files));
}

/// The ip-ranges document against the records: made long before them, without S3 ranges of
/// a region the NAT gateways used, or S3 bytes that went mostly to other regions.
fn ranges_warnings(f: &NoteFacts, notes: &mut Notes) {
    if let Some(note) = stale_ranges_note(f.ranges_created, f.dated.last()) {
        notes.warn(WarningKind::StaleIpRanges, note);
    }
    if !f.regions_without_s3.is_empty() {
        notes.warn(WarningKind::NoS3Ranges, format!(
            "The ip-ranges document in use holds no S3 range of {}, where the NAT gateways carried bytes: S3 traffic there is counted as aws-other or internet, so the S3 figures and what an S3 gateway endpoint would save are too low. The document is older than the region, or cut down; run `flowcost ip-ranges update` (or pass AWS's whole current document with --ip-ranges) and analyse again.",
            f.regions_without_s3.join(", ")
        ));
    }
    if let Some(note) = other_region_s3_note(f.gateways) {
        notes.warn(WarningKind::S3OutsideRegion, note);
    }
}

/// Why a report counted nothing: the NAT gateways given are in no counted record, or no record
/// falls in the time range.
fn nothing_counted_warnings(f: &NoteFacts, notes: &mut Notes) {
    if f.given && f.no_nat && !f.client_side {
        let named = f.opt.named_nats();
        let looks: Vec<&str> = f
            .candidates
            .iter()
            .filter(|c| c.translated_records > 0)
            .map(|c| c.eni.as_str())
            .collect();
        notes.warn(WarningKind::GivenNatsNotCounted, format!(
            "The NAT gateways given ({}) appear in no counted record{}, so every NAT figure is zero. {}",
            named.join(", "),
            if f.opt.time_filtered() { " in the time range" } else { "" },
            if looks.is_empty() {
                "No ENI in the data shows NAT address translation.".to_string()
            } else {
                format!("ENIs that show NAT address translation: {}.", looks.join(", "))
            }
        ));
    }
    if f.lines.counted == 0 && f.lines.outside_time > 0 {
        let span = (f.dated.first().zip(f.dated.last()))
            .map(|s| format!("; {}", data_spans(s)))
            .unwrap_or_default();
        notes.warn(
            WarningKind::NoRecordInTimeRange,
            format!(
                "No record falls in the time range: {} records are outside it{span}.",
                f.lines.outside_time
            ),
        );
    }
}

impl Method {
    /// How the NAT bytes were counted: from NAT ENIs (given or detected) or estimated from
    /// the clients' own records; on which legs.
    fn of(client_side: bool, given: bool, any_private: bool, any_public: bool) -> Method {
        Method {
            counting: match client_side {
                true => Counting::ClientSideEstimate,
                false => Counting::NatEni,
            },
            nat_source: match (client_side, given) {
                (true, _) => NatSource::None,
                (false, true) => NatSource::Given,
                (false, false) => NatSource::Detected,
            },
            legs: match (any_private, any_public) {
                (true, true) => Legs::Mixed,
                (true, false) => Legs::Private,
                _ => Legs::Public,
            },
        }
    }
}

/// The error when no NAT ENI is found: the best candidates, and what the data looked like
/// (for a message that says why).
fn no_nat(
    acc: &Accumulator,
    files: &[FileStats],
    lines: &LineCounts,
    (candidates, rejecting): (Vec<Candidate>, RejectingEnis),
    opt: &RunConfig,
) -> AnalysisError {
    let first_malformed = files.iter().find_map(|f| {
        f.malformed_examples
            .first()
            .map(|b| format!("{}:{}: {}", f.path, b.line, b.reason))
    });
    AnalysisError::NoNat {
        candidates,
        context: Box::new(NoNatContext {
            lines: lines.clone(),
            first_malformed,
            time_filter: opt.time_filtered(),
            data_span: acc.inputs.dated.first().zip(acc.inputs.dated.last()),
            // (inputs of no record are what the count of lines parsed explains; inputs lost
            // are the likeliest reason of all)
            incomplete: Incomplete::of(&lost(files)),
            lacking: only_lacking(files),
            no_interface: acc.inputs.odd.no_interface,
            own_outputs: own_outputs_note(files),
            rejecting,
        }),
    }
}

/// The inputs of `files` but those read in full that hold no record, or records without
/// a field the figures need ([`FailureKind::NoRecord`], [`FailureKind::LackingFields`]: what
/// they hold says why, not that they could not be reached).
fn lost(files: &[FileStats]) -> Vec<FileStats> {
    (files.iter())
        .filter(|f| {
            !matches!(
                f.failure,
                Some(FailureKind::NoRecord | FailureKind::LackingFields)
            )
        })
        .cloned()
        .collect()
}

/// `path: why` of the first input (by path) whose every record lacks a field the figures
/// need, where no input has records that count in full ([`FileStats::mark_lacking`]).
fn only_lacking(files: &[FileStats]) -> Option<String> {
    let lacking = |f: &&FileStats| f.failure == Some(FailureKind::LackingFields);
    let usable = |f: &&FileStats| !lacking(f) && f.counts.counted > 0;
    if files.iter().any(|f| usable(&f)) {
        return None;
    }
    (files.iter().find(lacking))
        .map(|f| format!("{}: {}", f.path, f.error.as_deref().unwrap_or("")))
}

/// Named NAT gateways that the counted records say are wrong: none of them is in any counted
/// record while other records were counted, or some named by `--nat-eni`/`--nat-file` (not
/// from an inventory) are missing while ENIs not named show NAT address translation (a
/// gateway made anew has a new ENI), or some found show no translation in any record while
/// ENIs not named do (an instance's or a task's ENI named for a gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenAbsent {
    /// The NAT gateways named (ENIs, then addresses), as given.
    pub given: Vec<String>,
    /// The named ones in no counted record (all of `given` when none was found).
    pub absent: Vec<String>,
    /// The named ones found.
    pub seen: Vec<String>,
    /// The named ones found that show no NAT address translation in any record (while
    /// [`GivenAbsent::translating`] do): an instance's, a task's or a load balancer's ENI
    /// named by mistake, not a gateway's.
    pub silent: Vec<String>,
    /// ENIs not named that show NAT address translation, sorted.
    pub translating: Vec<String>,
    /// Records counted (on any ENI).
    pub counted: u64,
    /// Whether a time range was asked for.
    pub in_range: bool,
}

impl GivenAbsent {
    /// The refusal, if the named gateways, the records counted and the ENIs that translate
    /// call for one. A window in which nothing at all was counted is no refusal: it is a
    /// report of zero that says so on its first line.
    fn check(
        nat: &[(String, EniAgg)],
        candidates: &[Candidate],
        counted: u64,
        opt: &RunConfig,
    ) -> Option<GivenAbsent> {
        let is_nat = |eni: &str| is_nat_eni(nat, eni);
        let mut translating = translating_not_nat(nat, candidates);
        translating.sort();
        // (a gateway of the inventory is one by right, whatever its records show)
        let silent: Vec<String> = (nat.iter())
            .filter(|(e, a)| {
                a.private_side().translated_records == 0
                    && opt.inventory.gateway_of_eni(e).is_none()
            })
            .map(|(e, _)| e.clone())
            .collect();
        let (absent, refuse) = if nat.is_empty() {
            (opt.named_nats(), counted > 0)
        } else {
            // an inventory lists the gateways of every VPC it was taken in: those of
            // others are absent by right (those it lacks are named in its notes)
            let absent: Vec<String> = (opt.nat_enis.iter())
                .filter(|e| !is_nat(e) && opt.inventory.gateway_of_eni(e).is_none())
                .cloned()
                .collect();
            let refuted = !absent.is_empty() || !silent.is_empty();
            let refuse = refuted && !translating.is_empty();
            (absent, refuse)
        };
        refuse.then(|| GivenAbsent {
            given: opt.named_nats(),
            absent,
            seen: nat.iter().map(|n| n.0.clone()).collect(),
            silent,
            translating,
            counted,
            in_range: opt.time_filtered(),
        })
    }
}

/// Whether `eni` is one of the NAT gateways' ENIs (`nat` is sorted by ENI).
fn is_nat_eni(nat: &[(String, EniAgg)], eni: &str) -> bool {
    nat.binary_search_by(|n| n.0.as_str().cmp(eni)).is_ok()
}

/// The candidates that show NAT address translation but are not among the NAT gateways
/// counted, in rank order.
fn translating_not_nat(nat: &[(String, EniAgg)], candidates: &[Candidate]) -> Vec<String> {
    (candidates.iter())
        .filter(|c| c.translated_records > 0 && !is_nat_eni(nat, &c.eni))
        .map(|c| c.eni.clone())
        .collect()
}

impl std::fmt::Display for GivenAbsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let range = if self.in_range {
            " in the time range"
        } else {
            ""
        };
        let (absent, translating) = (self.absent.join(", "), self.translating.join(", "));
        let shows = if self.translating.len() == 1 {
            "shows"
        } else {
            "show"
        };
        let mut name: Vec<&str> = (self.seen.iter())
            .filter(|e| !self.silent.contains(e))
            .chain(&self.translating)
            .map(String::as_str)
            .collect();
        name.sort();
        if !self.silent.is_empty() {
            let silent = self.silent.join(", ");
            let also = match self.absent.is_empty() {
                true => String::new(),
                false => format!(" (and {absent}, also given, appear in no counted record{range})"),
            };
            return write!(f, "the NAT gateway ENI(s) given {silent} show no NAT address translation in any record{range}, while {translating}, not given, {shows} it{also}: {silent} may be the ENI of an instance, a task or a load balancer, named by mistake, and the bytes of {translating} would be missing from every figure. Name every ENI that translates (--nat-eni {}), or leave --nat-eni/--nat-ip/--nat-file/--inventory out to detect them. No report was written.", name.join(","));
        }
        if !self.seen.is_empty() {
            return write!(f, "the NAT gateway(s) given {absent} appear in no counted record{range}, while {translating}, not given, {shows} NAT address translation: a gateway made anew has a new ENI, so {absent} may be stale or mistyped, and the bytes of {translating} would be missing from every figure. Name every ENI that translates (--nat-eni {}), or leave --nat-eni/--nat-ip/--nat-file/--inventory out to detect them. No report was written.", name.join(","));
        }
        let given = self.given.join(", ");
        if !self.translating.is_empty() {
            return write!(f, "the NAT gateways given ({given}) appear in no counted record{range}, while {translating} {shows} NAT address translation: a gateway made anew has a new ENI, so the names given may be stale or mistyped. Name the ENIs that translate (--nat-eni {}), or leave --nat-eni/--nat-ip/--nat-file/--inventory out to detect them. No report was written.", self.translating.join(","));
        }
        write!(f, "the NAT gateways given ({given}) appear in no counted record{range}, though {} records of other ENIs were counted, so every NAT figure would be zero. The names may be stale (a gateway made anew has a new ENI) or mistyped; the flow logs may not cover the gateways' ENIs (then --client-side-estimate estimates the NAT bytes from the clients' own records); or the gateways carried nothing in the period. No ENI shows NAT address translation to tell which (that needs pkt-srcaddr and pkt-dstaddr in the logs); leave --nat-eni/--nat-ip/--nat-file/--inventory out to detect the gateways from their traffic. No report was written.", self.counted)
    }
}

/// Where two ECR estimates (of `this` and `that`: a period, a side) were made with other pull
/// windows, that said: their layer bytes differ by more than the pulls.
pub fn pull_windows_differ((this, a): (&str, i64), (that, b): (&str, i64)) -> Option<String> {
    (a != b).then(|| format!(
        "ECR pull windows differ: {this} counted a task's S3 downloads in the {a}s after its first record, {that} in the {b}s: the change in ECR image layers is not the change in pulls alone."
    ))
}

/// Where two analyses (of `this` and `that`: a period, a side) counted NAT bytes in other
/// ways (on the NAT gateways' ENIs, or estimated from the clients' own records where no NAT
/// ENI was logged), that said: their figures do not measure the same thing.
pub fn countings_differ(
    (this, a): (&str, Counting),
    (that, b): (&str, Counting),
) -> Option<String> {
    (a != b).then(|| {
        format!(
            "COUNTED DIFFERENTLY: {this} was {}, {that} {}; the change is not the NAT's alone.",
            counted(a),
            counted(b)
        )
    })
}

/// How NAT bytes counted `c`'s way were counted, for [`countings_differ`].
fn counted(c: Counting) -> &'static str {
    match c {
        Counting::NatEni => "counted on the NAT gateways' ENIs",
        Counting::ClientSideEstimate => {
            "estimated from the clients' own records (no NAT gateway ENI in its logs: the estimate includes their traffic that did not cross a NAT)"
        }
    }
}

/// Finish the analysis of an accumulator whose ENI table is all in memory.
pub fn analyse(
    acc: &Accumulator,
    ranges: &IpRanges,
    opt: &RunConfig,
) -> Result<Analysis, AnalysisError> {
    analyse_from(acc, acc, ranges, opt)
}

/// Finish the analysis: `acc` for the inputs' statistics, `enis` for the ENI table (the
/// accumulator's own, or one partly spilled to disk). The table is walked once, in ENI order
/// (roles, sums, per-address summaries, the clients' own traffic in case no NAT ENI is
/// logged, and a few packed bytes of each non-NAT ENI); task starts and pull bytes per
/// address and the top clients' ENIs are then read from those notes (`TaskViews`: where
/// the table spilled, so do they), so that what is kept in memory grows with NAT gateways
/// and client addresses, not with ENIs.
pub fn analyse_from(
    acc: &Accumulator,
    enis: &dyn EniSource,
    ranges: &IpRanges,
    opt: &RunConfig,
) -> Result<Analysis, AnalysisError> {
    let (files, mut lines) = files_and_lines(acc);
    let (one_per_eni, flow_logs) = one_flow_log_per_eni(acc, enis, opt, &mut lines)?;
    let enis: &dyn EniSource = match &one_per_eni {
        Some(o) => o,
        None => enis,
    };
    let given = opt.nats_given();
    let first = FirstPass::walk(enis, opt)?;
    let FirstPass {
        nat,
        given_seen,
        mut candidates,
        unknown_region_all,
        rejected_other,
        addresses,
        nat64_addresses,
        own_clients,
        paths,
        first_start,
        last_end,
        records_without_bytes,
        any_ecs,
        mut views,
        rejecting,
        client_side_cells,
        client_region_bytes,
    } = first;
    best_candidates(&mut candidates);
    let client_side = counted_on(
        (&nat, &candidates, unknown_region_all, rejecting),
        (acc, &files, &lines),
        opt,
    )?;

    let rejected = Rejected {
        other_records: rejected_other.0 + acc.inputs.odd.no_interface_rejected,
        other_bytes: rejected_other.1 + acc.inputs.odd.no_interface_rejected_bytes,
        ..Default::default()
    };
    let mut totals = NatTotals::of(&nat, rejected, ranges, opt);
    // the logged non-NAT ENIs' addresses, before the inventory places others
    let enis_seen = addresses.filter_map(|_| Some(()));
    let nat64_services = AddressInfo::one_service_each(&nat64_addresses);
    let mut addresses = addresses;
    AddressInfo::append(&mut addresses, nat64_addresses);
    let vpcs = nat_vpcs(&nat, opt);
    place_by_inventory(&mut addresses, (&nat, &vpcs), &opt.inventory);
    let (mut clients, cross) = attribute_to_clients((&nat, &vpcs), &addresses, opt);
    let clients_source = if !clients.is_empty() {
        ClientsSource::NatPrivateLegs
    } else {
        // v2 data: the clients' own records (may include traffic not through a NAT)
        clients = own_clients.into_clients().collect();
        ClientsSource::ClientOwnRecords
    };
    let (by_subnet, by_az, by_svc) = group_clients(&clients, &addresses);
    let mut top = top_clients(&clients, &addresses, opt.top);

    // Second step, over the first walk's notes of the non-NAT ENIs: ECR task starts and pull
    // bytes per address (which need the data's start, whether ECS fields exist and the NAT's
    // S3 downloads per client) and the top clients' ENIs; without NAT ENIs, the clients' own
    // traffic as the estimate.
    let data_start = first_start.unwrap_or(0);
    let seen = (enis_seen, nat64_services);
    let mut ecr = EcrEstimate::new((&nat, vpcs), seen, any_ecs, data_start, opt);
    count_starts_and_top_enis(&mut views, &mut ecr, &mut top)?;
    if client_side {
        totals.add_client_side(client_side_cells, client_region_bytes);
    }
    let NatTotals {
        classes,
        by_day,
        gateways,
        any_private,
        any_public,
        rejected,
        region_bytes,
    } = totals;
    // Third step, only where some address's pulls add up to more than the NAT saw: each
    // pull's share of it.
    if ecr.settle() {
        views.for_each(|v| ecr.share(v))?;
    }
    check_guess(acc, &nat, &ecr)?;
    let ecr = ecr.finish(&classes, opt);

    let period = period_of(first_start, last_end, opt, &acc.inputs.hours);
    let quality = QualityFacts {
        acc,
        opt,
        given,
        given_seen: &given_seen,
        candidates: &candidates,
        nat: &nat,
        client_side,
        any_private,
        any_public,
        clients_source,
        cross_az_unknown: &cross.unknown,
        gateways: &gateways,
        period: &period,
        records_without_bytes,
        ranges_created: ranges_created(ranges),
        regions_without_s3: regions_without_s3(&region_bytes, ranges),
    }
    .quality(files, lines, flow_logs);
    let total = classes.total();
    Ok(Analysis {
        method: Method::of(client_side, given, any_private, any_public),
        nat_region: busiest_region(&region_bytes, ranges),
        classes,
        total,
        gateways,
        by_day: day_rows(by_day),
        by_subnet: sorted_groups(by_subnet),
        by_az: sorted_groups(by_az),
        by_ecs_service: sorted_groups(by_svc),
        clients_source,
        top_clients: top.into_iter().map(|(_, row)| row).collect(),
        ecr,
        cross_az: cross,
        s3_egress_traffic_path: paths,
        rejected,
        period,
        quality,
    })
}

/// Inputs from several flow logs: each ENI counted from one of those that recorded it (the
/// records of the others set aside in `lines`), and the summary the report shows when there
/// is more than one flow log or some recorded nothing.
fn one_flow_log_per_eni<'a>(
    acc: &'a Accumulator,
    enis: &'a dyn EniSource,
    opt: &'a RunConfig,
    lines: &mut LineCounts,
) -> Result<(Option<OneFlowLogPerEni<'a>>, Option<FlowLogOverlap>), AnalysisError> {
    if acc.inputs.flow_logs.ids().is_empty() {
        return Ok((None, None));
    }
    let (one, summary) = OneFlowLogPerEni::new(
        enis,
        &acc.inputs.flow_logs,
        &acc.inputs.flow_log_fields,
        opt.flow_log_id.as_deref(),
        opt.pull_window,
    )?;
    lines.set_aside_duplicates(summary.records_set_aside, summary.rejected_set_aside);
    // named inputs of one flow log and some that recorded nothing: one flow log
    let shown = summary.flow_logs.len() > 1 || summary.enis > 0;
    Ok((Some(one), shown.then_some(summary)))
}

/// Where the NAT bytes are counted: `false` on the NAT gateways' ENIs, `true` on the
/// clients' own records (`--client-side-estimate` with no NAT ENI logged). Named NAT
/// gateways that the records say are wrong are an error ([`GivenAbsent`]); a window in
/// which nothing was counted is a report of zero that says so; detection that finds none is
/// an error, and so are S3 bytes of a region unknown.
fn counted_on(
    (nat, candidates, unknown_region_all, rejecting): (
        &[(String, EniAgg)],
        &[Candidate],
        u64,
        RejectingEnis,
    ),
    (acc, files, lines): (&Accumulator, &[FileStats], &LineCounts),
    opt: &RunConfig,
) -> Result<bool, AnalysisError> {
    let given = opt.nats_given();
    let client_side = nat.is_empty() && opt.client_side_estimate;
    if nat.is_empty() && !opt.client_side_estimate && !given {
        let found = (candidates.to_vec(), rejecting);
        return Err(no_nat(acc, files, lines, found, opt));
    }
    if given && !client_side {
        if let Some(e) = GivenAbsent::check(nat, candidates, lines.counted, opt) {
            return Err(AnalysisError::GivenNatsAbsent(Box::new(e)));
        }
    }
    let unknown: u64 = if client_side {
        unknown_region_all
    } else {
        nat.iter().map(|(_, a)| a.s3_unknown_region).sum()
    };
    if unknown > 0 {
        return Err(AnalysisError::UnknownRegion { bytes: unknown });
    }
    Ok(client_side)
}

/// The guess that left some clients' timelines out while reading, checked: none of them is
/// a NAT-only client (held by no logged ENI), or the inputs must be read again.
fn check_guess(
    acc: &Accumulator,
    nat: &[(String, EniAgg)],
    ecr: &EcrEstimate<'_>,
) -> Result<(), AnalysisError> {
    let Some(g) = &acc.guess else {
        return Ok(());
    };
    for ((_, a), vpc) in nat.iter().zip(&ecr.nat_vpcs) {
        let clients = a.private_side().by_client.keys();
        if let Some(ip) = g.failed(clients, |ip| ecr.enis_seen.holds(ip, vpc.as_deref())) {
            return Err(AnalysisError::TimelineLeftOut(ip));
        }
    }
    Ok(())
}

/// The region whose S3 bytes the NAT gateways carried most of (ties: the first in the
/// ranges' order).
/// The regions of `region_bytes` (NAT bytes by the NAT's region) in which `ranges` has no
/// S3 range: a region newer than the document, or a document cut down by hand.
fn regions_without_s3(region_bytes: &BTreeMap<u16, u64>, ranges: &IpRanges) -> Vec<String> {
    (region_bytes.iter())
        .filter(|(_, &b)| b > 0)
        .map(|(r, _)| &ranges.regions[*r as usize])
        .filter(|r| !ranges.s3_regions.contains(r))
        .cloned()
        .collect()
}

fn busiest_region(region_bytes: &BTreeMap<u16, u64>, ranges: &IpRanges) -> Option<String> {
    region_bytes
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(r, _)| ranges.regions[*r as usize].clone())
}

/// What the data quality of a run is judged on, besides its inputs' counts.
struct QualityFacts<'a> {
    acc: &'a Accumulator,
    /// When the ip-ranges document was made ([`ranges_created`]).
    ranges_created: Option<i64>,
    opt: &'a RunConfig,
    /// NAT gateways were named (`--nat-eni`, `--nat-ip`).
    given: bool,
    /// The named NAT ENIs found in the records.
    given_seen: &'a BTreeSet<String>,
    candidates: &'a [Candidate],
    nat: &'a [(String, EniAgg)],
    client_side: bool,
    /// Some NAT ENI-day was counted on private legs / only on public legs.
    any_private: bool,
    any_public: bool,
    clients_source: ClientsSource,
    cross_az_unknown: &'a [CrossAzUnknown],
    gateways: &'a [Gateway],
    period: &'a Period,
    records_without_bytes: u64,
    /// The regions of NAT bytes in which the ip-ranges document has no S3 range.
    regions_without_s3: Vec<String>,
}

impl QualityFacts<'_> {
    /// The run's data quality: how every line was counted, which inputs were not read in
    /// full, what the settings named that the data lacks, what translates without being
    /// counted, and the notes ([`quality_notes`]).
    fn quality(
        self,
        files: Vec<FileStats>,
        lines: LineCounts,
        flow_logs: Option<FlowLogOverlap>,
    ) -> Quality {
        let (acc, opt) = (self.acc, self.opt);
        let incomplete = Incomplete::of(&files);
        let files_with_errors = files.iter().filter(|f| f.error.is_some()).count() as u64;
        let given_nat_enis_not_seen: Vec<String> = (opt.nat_enis.iter())
            .filter(|e| !self.given_seen.contains(e.as_str()))
            .cloned()
            .collect();
        let skipdata_windows: u64 = files.iter().map(|f| f.skipdata_windows).sum();
        let translating_enis_not_counted: Vec<String> = match self.given {
            false => Vec::new(),
            true => translating_not_nat(self.nat, self.candidates),
        };
        let Notes { notes, warnings } = quality_notes(&NoteFacts {
            flow_logs: flow_logs.as_ref(),
            client_side: self.client_side,
            any_private: self.any_private,
            any_public: self.any_public,
            nat_names_clients: self.clients_source == ClientsSource::NatPrivateLegs,
            cross_az_unknown: self.cross_az_unknown,
            skipdata_windows,
            gateways: self.gateways,
            period: self.period,
            lines: &lines,
            odd: &acc.inputs.odd,
            files_with_errors,
            files: &files,
            given: self.given,
            no_nat: self.nat.is_empty(),
            candidates: self.candidates,
            opt,
            dated: acc.inputs.dated,
            ranges_created: self.ranges_created,
            regions_without_s3: &self.regions_without_s3,
        });
        Quality {
            reconciled: lines.accounted() == lines.lines && incomplete.is_none(),
            complete: incomplete.is_none(),
            incomplete,
            repeated: Repeated::of(&acc.inputs.repeats.found()),
            lines,
            files_with_errors,
            records_without_bytes: self.records_without_bytes,
            skipdata_windows,
            files,
            oddities: acc.inputs.odd.clone(),
            given_nat_enis_not_seen,
            translating_enis_not_counted,
            notes,
            warnings,
            flow_logs,
        }
    }
}

/// The inputs' stats in path order (an input of no record marked failed,
/// [`FileStats::mark_no_record`], one of records lacking a field the figures need
/// [`FileStats::mark_lacking`]), and their lines' accounting summed.
pub fn files_and_lines(acc: &Accumulator) -> (Vec<FileStats>, LineCounts) {
    let mut files = acc.inputs.files.clone();
    files.iter_mut().for_each(FileStats::mark_unusable);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut lines = LineCounts::default();
    for f in &files {
        lines.add(&f.counts);
    }
    (files, lines)
}

/// The classes of each UTC day, in day order.
fn day_rows(by_day: BTreeMap<u32, ClassBytes>) -> Vec<DayRow> {
    by_day
        .into_iter()
        .map(|(d, c)| DayRow {
            day: day_string(d),
            total: c.total(),
            classes: c,
        })
        .collect()
}

/// The NAT ENIs' figures summed: classes, days, gateways, which legs were counted, rejects,
/// and bytes by region (the NAT's region is the one with the most).
struct NatTotals {
    classes: ClassBytes,
    by_day: BTreeMap<u32, ClassBytes>,
    gateways: Vec<Gateway>,
    /// Some NAT ENI-day was counted on private legs / only on public legs.
    any_private: bool,
    any_public: bool,
    rejected: Rejected,
    region_bytes: BTreeMap<u16, u64>,
}

impl NatTotals {
    /// Count each NAT ENI ([`count_nat_eni`]) and sum; `rejected` holds the other ENIs'
    /// rejects already.
    fn of(
        nat: &[(String, EniAgg)],
        rejected: Rejected,
        ranges: &IpRanges,
        opt: &RunConfig,
    ) -> NatTotals {
        let mut t = NatTotals {
            classes: ClassBytes::default(),
            by_day: BTreeMap::new(),
            gateways: Vec::with_capacity(nat.len()),
            any_private: false,
            any_public: false,
            rejected,
            region_bytes: BTreeMap::new(),
        };
        let mut logged = crate::account::Span::default();
        for (eni, a) in nat {
            let counted = count_nat_eni(eni, a, ranges, opt);
            let g = &counted.gateway;
            t.any_private |= g.days_private_leg > 0;
            t.any_public |= g.days_public_leg > 0;
            t.classes.add_all(&g.classes);
            for (day, c) in counted.by_day {
                t.by_day.entry(day).or_default().add_all(&c);
            }
            if let Some(r) = a.meta.region {
                *t.region_bytes.entry(r).or_insert(0) += g.total;
            }
            t.rejected.nat_records += a.reject_records;
            t.rejected.nat_bytes += a.reject_bytes;
            t.gateways.push(counted.gateway);
            logged.merge(a.logged());
        }
        t.rejected.nat_logged_seconds = logged.seconds();
        t
    }

    /// Without NAT ENIs in the data: the clients' own public-side cells as the estimate,
    /// and their bytes by region.
    fn add_client_side(
        &mut self,
        cells: impl IntoIterator<Item = (u64, u64)>,
        region_bytes: impl IntoIterator<Item = (u16, u64)>,
    ) {
        for (k, b) in cells {
            add_cell(&mut self.classes, &mut self.by_day, k, b);
        }
        for (r, b) in region_bytes {
            *self.region_bytes.entry(r).or_insert(0) += b;
        }
    }
}

/// The second step, over the first walk's notes of the non-NAT ENIs: each one's task starts
/// and pull bytes counted for the ECR estimate, and its ENI id given to the top clients
/// whose address it holds.
fn count_starts_and_top_enis(
    views: &mut TaskViews,
    ecr: &mut EcrEstimate,
    top: &mut [(ClientKey, ClientRow)],
) -> Result<(), AnalysisError> {
    let mut top_index: ByAddress<usize> = ByAddress::default();
    for (i, ((ip, vpc), _)) in top.iter().enumerate() {
        top_index.entry(*ip, vpc, || i);
    }
    views.for_each(|v| {
        ecr.count(v);
        let ends = v.nat64_ends.iter().filter(|e| !v.ips.contains(e));
        for ip in v.ips.iter().chain(ends) {
            if let Some((_, &i)) = top_index.find(ip, v.vpc) {
                top[i].1.enis.push(v.eni.to_string());
            }
        }
    })?;
    Ok(())
}

/// What starts a task on the NAT's private legs, for the longest record of any NAT ENI
/// ([`StartRules`]): the rules of all the input, never less strict than those the clients'
/// state was kept under.
fn nat_leg_rules(nat: &[(String, EniAgg)]) -> StartRules {
    let interval = nat
        .iter()
        .map(|(_, a)| a.private_side().longest_record)
        .max()
        .unwrap_or(0);
    StartRules::for_longest_record(interval)
}

/// The task starts in one session of a NAT-only address, with their pull bytes: the
/// session's first record, then every AWS API opening that looks like an image pull
/// ([`Openings::pull_at`]) at least a pull window after the last start, with `quiet` minutes
/// before it (their pull windows never overlap, so no byte counts twice). `held` says when a
/// task known from `--ecs-tasks` held the address: no other task started then.
fn nat_leg_pulls(
    s: &Session,
    openings: &Openings,
    window: i64,
    quiet: i64,
    held: impl Fn(i64) -> bool,
) -> Vec<(i64, u64)> {
    let mut out = vec![(s.first(), s.pull.bytes())];
    let mut last = s.first();
    for t in openings.starts(s.first(), s.last, quiet) {
        if t < last.saturating_add(window) || held(t) {
            continue;
        }
        if let Some(bytes) = openings.pull_at(t, window) {
            out.push((t, bytes));
            last = t;
        }
    }
    out
}

/// What the NAT-leg method measured on generated worlds (README, "How ECR is estimated").
const NAT_LEGS_MEASURED: &str = "; measured on generated worlds, with and without address reuse and --ecs-tasks: 0-4 % above the truth";

/// A NAT's client as [`EcrEstimate`] joins pulls to it: its address and its VPC's number in
/// the NAT's S3 downloads by client ([`ByAddress::find_number`]).
type NatClient = (IpAddr, u32);

/// The ECR image-layer estimate (ACCOUNTING.md §5), built over the notes of the non-NAT
/// ENIs ([`TaskView`]): [`EcrEstimate::count`] sums each client address's pull-window bytes;
/// where they add up to more than the NAT saw as S3 downloads for the address, a second
/// pass ([`EcrEstimate::share`]) gives each pull its share of that.
struct EcrEstimate<'a> {
    opt: &'a RunConfig,
    nat: &'a [(String, EniAgg)],
    /// The VPC of each NAT ENI of `nat`, in its order: its clients are addresses in it.
    nat_vpcs: Vec<Vpc>,
    /// Addresses of the logged non-NAT ENIs (in their VPCs): their tasks are counted from
    /// their own records; the NAT's other clients from its private legs.
    enis_seen: ByAddress<()>,
    /// The ECS service of each NAT64 client whose own ENI names one (and one only): its
    /// pulls, found on the NAT's legs, are that service's.
    nat64_services: ByAddress<Name>,
    /// Task starts and pulls found on the NAT's private legs, and what makes one.
    nat_leg_starts: u64,
    rules: StartRules,
    any_ecs: bool,
    data_start: i64,
    /// S3 download bytes per client on the NAT path (when private legs exist).
    nat_s3: ByAddress<u64>,
    attributable: bool,
    tasks: u64,
    /// Pull-window pulls and bytes per client and ECS service, of the pulls joined to the
    /// NAT: `client → [(service, pulls, bytes)]` (a client by its address and its VPC's
    /// number in `nat_s3`).
    per_ip_service: FxMap<NatClient, Vec<(String, u64, u64)>>,
    /// Clients whose pulls add up to more than the NAT saw, shared out pull by pull:
    /// `client → (what the NAT saw, the pulls' sum)`.
    capped: FxMap<NatClient, (u64, u64)>,
    not_via_nat: u64,
    pulls: u64,
    total: u64,
    by_service: BTreeMap<String, (u64, u64)>,
}

impl<'a> EcrEstimate<'a> {
    /// `seen`: the addresses logged non-NAT ENIs hold, and the ECS service of those they
    /// describe only as the ends of their NAT64 legs.
    fn new(
        (nat, nat_vpcs): (&'a [(String, EniAgg)], Vec<Vpc>),
        seen: (ByAddress<()>, ByAddress<Name>),
        any_ecs: bool,
        data_start: i64,
        opt: &'a RunConfig,
    ) -> Self {
        let mut nat_s3: ByAddress<u64> = ByAddress::default();
        for ((_, a), vpc) in nat.iter().zip(&nat_vpcs) {
            for (ip, class, dir, b) in a.client_cells() {
                if class == Class::S3 && dir == Dir::Download {
                    *nat_s3.entry(ip, vpc, || 0) += b;
                }
            }
        }
        let attributable = !nat_s3.is_empty()
            || nat
                .iter()
                .any(|(_, a)| !a.private_side().by_client.is_empty());
        let (enis_seen, nat64_services) = seen;
        EcrEstimate {
            opt,
            nat,
            nat_vpcs,
            enis_seen,
            nat64_services,
            nat_leg_starts: 0,
            rules: nat_leg_rules(nat),
            any_ecs,
            data_start,
            nat_s3,
            attributable,
            tasks: 0,
            per_ip_service: FxMap::default(),
            capped: FxMap::default(),
            not_via_nat: 0,
            pulls: 0,
            total: 0,
            by_service: BTreeMap::new(),
        }
    }

    /// A non-NAT ENI's pull: `None` when it is no new task; else its pull-window bytes and
    /// the NAT's client to join on when the pull is on the NAT path.
    fn pull(&self, a: &TaskView) -> Option<(u64, Option<NatClient>)> {
        let is_task = !self.any_ecs || a.is_task;
        let first = a.first?;
        if !is_task || first < self.data_start + self.opt.grace {
            return None;
        }
        // (without the NAT's clients nothing caps a pull: the address alone groups them)
        let client = a.ips.first().and_then(|&ip| match self.attributable {
            true => (self.nat_s3.find_number(&ip, a.vpc)).map(|(vpc, _)| (ip, vpc)),
            false => Some((ip, 0)),
        });
        Some((a.pull_bytes, client))
    }

    fn count(&mut self, a: &TaskView) {
        let Some((bytes, client)) = self.pull(a) else {
            return;
        };
        self.tasks += 1;
        if bytes == 0 {
            return;
        }
        let Some(client) = client else {
            self.not_via_nat += bytes;
            return;
        };
        let svc = Self::service_of(self.opt, a);
        let list = self.per_ip_service.entry(client).or_default();
        match list.iter_mut().find(|e| e.0 == svc) {
            Some(e) => {
                e.1 += 1;
                e.2 += bytes;
            }
            None => list.push((svc.to_string(), 1, bytes)),
        }
    }

    /// After [`EcrEstimate::count`]: count the pulls of every address whose pulls fit within
    /// what the NAT saw as its S3 downloads; say whether others need [`EcrEstimate::share`].
    fn settle(&mut self) -> bool {
        for (client, list) in std::mem::take(&mut self.per_ip_service) {
            let sum: u64 = list.iter().map(|e| e.2).sum();
            // never more than the NAT saw as S3 downloads for that client
            let cap = if self.attributable {
                let (ip, vpc) = client;
                self.nat_s3.at(&ip, vpc).copied().unwrap_or(0)
            } else {
                sum
            };
            if sum > cap {
                self.capped.insert(client, (cap, sum));
                continue;
            }
            for (svc, pulls, bytes) in list {
                self.pulls += pulls;
                self.total += bytes;
                let e = self.by_service.entry(svc).or_insert((0, 0));
                e.0 += pulls;
                e.1 += bytes;
            }
        }
        !self.capped.is_empty()
    }

    /// A pull on a capped address: its share of what the NAT saw, in proportion to its bytes.
    fn share(&mut self, a: &TaskView) {
        let Some((b, Some(client))) = self.pull(a) else {
            return;
        };
        let Some(&(cap, sum)) = self.capped.get(&client) else {
            return;
        };
        if b == 0 {
            return;
        }
        let b = (b as u128 * cap as u128 / sum as u128) as u64;
        self.pulls += 1;
        self.total += b;
        let svc = Self::service_of(self.opt, a);
        let e = match self.by_service.get_mut(svc) {
            Some(e) => e,
            None => self.by_service.entry(svc.to_string()).or_insert((0, 0)),
        };
        e.0 += 1;
        e.1 += b;
    }

    /// The ECS service of a task ENI: its own ECS fields, else the `--ecs-tasks` task with
    /// its ENI id, else `unknown`.
    fn service_of<'s>(opt: &'s RunConfig, a: &TaskView<'s>) -> &'s str {
        a.service
            .or_else(|| {
                let first = a.first?;
                let ip = a.ips.first()?;
                opt.tasks.ecs().service_at(*ip, first)
            })
            .unwrap_or("unknown")
    }

    /// Task starts of the addresses no logged ENI holds, from the NAT's private legs: each
    /// session after the data's first `grace` seconds is a start, its pull-window S3
    /// downloads the pull (they crossed the NAT by construction, so no cap is needed).
    fn count_nat_legs(&mut self) {
        // sessions kept apart at a shorter gap (the rules of part of the input) are joined
        // here at the gap of all of it (exact: clusters at a larger gap are unions of those
        // at the smaller one)
        let StartRules { gap, quiet } = self.rules;
        let window = self.opt.pull_window;
        // each client's state where it lies (copying it all would double the run's peak
        // memory on a month of NAT-only logs); joined only for an address behind several NATs
        // of one VPC (the same address in two VPCs is two clients)
        let mut by_ip: FxMap<ClientKey, SmallVec<[&Client; 1]>> = FxMap::default();
        for ((_, a), vpc) in self.nat.iter().zip(&self.nat_vpcs) {
            for (ip, client) in &a.private_side().by_client {
                if !self.enis_seen.holds(ip, vpc.as_deref()) {
                    by_ip.entry((*ip, vpc.clone())).or_default().push(client);
                }
            }
        }
        let since = self.data_start + self.opt.grace;
        for ((ip, vpc), clients) in by_ip {
            let mut sessions = Sessions::default();
            for c in &clients {
                sessions.merge(c.sessions.clone(), window, gap);
            }
            let joined;
            let openings = match clients.as_slice() {
                [one] => &one.openings,
                several => {
                    let mut o = Openings::default();
                    for c in several {
                        o.merge(c.openings.clone(), window, quiet);
                    }
                    joined = o;
                    &joined
                }
            };
            for s in sessions.iter() {
                let held = |t| self.opt.tasks.ecs().service_at(ip, t).is_some();
                for (start, bytes) in nat_leg_pulls(s, openings, window, quiet, held) {
                    if start >= since {
                        self.count_nat_leg_start((ip, vpc.as_deref()), start, bytes);
                    }
                }
            }
        }
    }

    /// A task start at `start` on the NAT-only address `ip` (in `vpc`), with `bytes` of pull.
    fn count_nat_leg_start(&mut self, (ip, vpc): (IpAddr, Option<&str>), start: i64, bytes: u64) {
        self.tasks += 1;
        self.nat_leg_starts += 1;
        if bytes == 0 {
            return;
        }
        let svc = (self.opt.tasks.ecs().service_at(ip, start))
            .or_else(|| self.nat64_services.find(&ip, vpc).map(|s| &**s.1))
            .unwrap_or("unknown")
            .to_string();
        self.pulls += 1;
        self.total += bytes;
        let e = self.by_service.entry(svc).or_insert((0, 0));
        e.0 += 1;
        e.1 += bytes;
    }

    /// What the estimate rests on, and why not, when nothing does.
    fn basis(&self) -> (EcrBasis, Option<String>) {
        let enis = !self.enis_seen.is_empty() || self.tasks > self.nat_leg_starts;
        let nat_legs = (self.nat.iter().zip(&self.nat_vpcs)).any(|((_, a), vpc)| {
            (a.private_side().by_client.keys()).any(|ip| !self.enis_seen.holds(ip, vpc.as_deref()))
        });
        match (enis, nat_legs) {
            (true, true) => (EcrBasis::TaskEnisAndNatPrivateLegs, None),
            (true, false) => (EcrBasis::TaskEnis, None),
            (false, true) => (EcrBasis::NatPrivateLegs, None),
            (false, false) => (
                EcrBasis::Unknown,
                Some(
                    "no task ENI is logged, and the NAT ENIs' records carry no pkt-* fields, so the clients cannot be told apart: log the tasks' subnets too, or add pkt-srcaddr and pkt-dstaddr to the NAT ENIs' flow log format"
                        .into(),
                ),
            ),
        }
    }

    fn finish(mut self, classes: &ClassBytes, opt: &RunConfig) -> Ecr {
        self.count_nat_legs();
        let (basis, unknown_reason) = self.basis();
        let s3_down = classes.s3.download;
        let total = self.total.min(s3_down);
        let s3_total = classes.s3.total();
        let pulls = self.pulls;
        let mut by_service: Vec<EcrService> = self
            .by_service
            .into_iter()
            .map(|(service, (pulls, bytes))| EcrService {
                service,
                pulls,
                bytes,
            })
            .collect();
        by_service.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.service.cmp(&b.service)));
        let task_enis = format!(
            "S3 download bytes on each new task ENI in the {}s after its first record (tasks: {}; ENIs first seen within {}s of the data's start are left out as possibly older){}; capped by the S3 download bytes the NAT saw for that address and in total.",
            opt.pull_window,
            if self.any_ecs { "ENIs with ECS task fields" } else { "every non-NAT ENI" },
            opt.grace,
            if self.attributable { ", joined to the NAT's private legs by address" } else { ", assumed to use the NAT (no pkt-* fields to confirm)" }
        );
        let nat_legs = format!(
            "from the NAT's private legs alone: a client address that had no record for {} minutes or more (or none yet) starts a task, as does an AWS API exchange after {} quiet minutes followed within a minute by S3 downloads on {} connections or more, and its S3 downloads through the NAT in the next {}s are the image pull (starts within {}s of the data's start are left out as possibly older){}.",
            self.rules.gap / 60,
            self.rules.quiet,
            LAYER_STREAMS,
            opt.pull_window,
            opt.grace,
            NAT_LEGS_MEASURED
        );
        let method = match basis {
            EcrBasis::TaskEnis => task_enis,
            EcrBasis::NatPrivateLegs => format!("Task starts {nat_legs}"),
            EcrBasis::TaskEnisAndNatPrivateLegs => format!(
                "{task_enis} For the {} task starts on addresses no logged ENI holds: {nat_legs}",
                self.nat_leg_starts
            ),
            EcrBasis::Unknown => "unknown: no task starts can be seen in these logs.".into(),
        };
        Ecr {
            basis,
            unknown_reason,
            method,
            pull_window_seconds: opt.pull_window,
            task_starts: self.tasks,
            pulls,
            bytes: total,
            bytes_per_pull: total.checked_div(pulls).unwrap_or(0),
            share_of_s3_permille: permille(total, s3_total),
            by_service,
            not_via_nat_bytes: self.not_via_nat,
        }
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::account::Params;
    use crate::format::{text, Layout};

    const H: &str = "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start end action log-status region az-id subnet-id\n";
    /// 2026-09-01T00:00:00Z
    const T: i64 = 1_788_220_800;
    const S3: &str = "52.216.8.1";

    #[test]
    fn a_nat_enis_legs_are_tallied_once_and_set_side_by_side_where_both_are_logged() {
        use crate::account::{cell, Dir};
        let mut t = LegTally::default();
        assert_eq!(t.cross_check(), None, "no day logs both legs");
        // day 1: the private leg counted (1 MB of S3 down), the public leg beside it (0.9 MB);
        // day 2: only the public leg, 300 KB of internet up, counted
        t.add(cell(1, Class::S3, Dir::Download), 1_000_000);
        t.both(1, 1_000_000, 0);
        t.both(1, 0, 900_000);
        t.add(cell(2, Class::Internet, Dir::Upload), 300_000);
        assert_eq!(t.classes.s3.download, 1_000_000);
        assert_eq!(t.classes.internet.upload, 300_000);
        assert_eq!(t.classes.total(), 1_300_000);
        let days: Vec<(u32, u64)> = t.by_day.iter().map(|(d, c)| (*d, c.total())).collect();
        assert_eq!(days, [(1, 1_000_000), (2, 300_000)]);
        let check = t.cross_check().unwrap();
        assert_eq!((check.counted_leg, check.other_leg), (1_000_000, 900_000));
        assert!(!check.agrees, "10 % apart");
        assert_eq!(check.days_apart.len(), 1);
        assert_eq!(check.days_apart[0].day, day_string(1));
        // within 5 %: the legs agree
        t.both(1, 0, 60_000);
        let check = t.cross_check().unwrap();
        assert!(check.agrees && check.days_apart.is_empty());
    }

    #[test]
    fn named_nat_gateways_the_records_refute_are_refused() {
        let cand = |eni: &str, translated: u64| Candidate {
            eni: eni.into(),
            translated_records: translated,
            translated_bytes: 0,
            public_bytes: 0,
            internal_bytes: 0,
            private_peers: 0,
            local_ips: Vec::new(),
        };
        let nats = |enis: &[&str]| -> Vec<(String, EniAgg)> {
            enis.iter()
                .map(|e| (e.to_string(), EniAgg::translating(3)))
                .collect()
        };
        let named = |enis: &[&str]| RunConfig {
            nat_enis: enis.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        let translating = [cand("eni-new", 5), cand("eni-quiet", 0)];
        // none found, records counted, nothing translates (flow logs without pkt-*): refused
        let e = GivenAbsent::check(&[], &[cand("eni-x", 0)], 10, &named(&["eni-old"])).unwrap();
        assert_eq!(
            (e.absent.clone(), e.translating.clone()),
            (vec!["eni-old".to_string()], vec![])
        );
        let m = e.to_string();
        assert!(m.starts_with("the NAT gateways given (eni-old) appear in no counted record, though 10 records of other ENIs were counted"), "{m}");
        assert!(m.contains("--client-side-estimate"), "{m}");
        // ... but a window in which nothing was counted is a report of zero
        assert_eq!(GivenAbsent::check(&[], &[], 0, &named(&["eni-old"])), None);
        // none found while another translates: refused, naming it
        let m = GivenAbsent::check(&[], &translating, 10, &named(&["eni-old"]))
            .unwrap()
            .to_string();
        assert!(
            m.contains("while eni-new shows NAT address translation"),
            "{m}"
        );
        assert!(m.contains("(--nat-eni eni-new)"), "{m}");
        // one of two found, the other missing while an ENI not named translates: refused,
        // the flag to pass naming the one found and the one that translates
        let seen = nats(&["eni-a"]);
        let m = GivenAbsent::check(&seen, &translating, 10, &named(&["eni-old", "eni-a"]))
            .unwrap()
            .to_string();
        assert!(m.starts_with("the NAT gateway(s) given eni-old appear in no counted record, while eni-new, not given, shows NAT address translation"), "{m}");
        assert!(m.contains("(--nat-eni eni-a,eni-new)"), "{m}");
        // the same with nothing else translating: the gateway may be idle, a report
        let quiet = [cand("eni-quiet", 0)];
        assert_eq!(
            GivenAbsent::check(&seen, &quiet, 10, &named(&["eni-old", "eni-a"])),
            None
        );
        // every named one found, another translating: a subset asked for, a report
        assert_eq!(
            GivenAbsent::check(&seen, &translating, 10, &named(&["eni-a"])),
            None
        );
        // a named ENI found that shows no translation while one not named does: no NAT
        // gateway (a task's ENI named by mistake), refused, the flag naming those that do
        let task = vec![("eni-task".to_string(), EniAgg::default())];
        let e = GivenAbsent::check(&task, &translating, 10, &named(&["eni-task"])).unwrap();
        assert_eq!(
            (e.silent.clone(), e.absent.clone()),
            (vec!["eni-task".to_string()], vec![])
        );
        let m = e.to_string();
        assert!(m.starts_with("the NAT gateway ENI(s) given eni-task show no NAT address translation in any record, while eni-new, not given, shows it: eni-task may be the ENI of an instance"), "{m}");
        assert!(m.contains("(--nat-eni eni-new)"), "{m}");
        // beside a gateway that translates, and one missing: both said, the flag keeps the
        // gateway
        let mixed = [nats(&["eni-a"]), task.clone()].concat();
        let m = GivenAbsent::check(
            &mixed,
            &translating,
            10,
            &named(&["eni-a", "eni-task", "eni-old"]),
        )
        .unwrap()
        .to_string();
        assert!(
            m.contains("(and eni-old, also given, appear in no counted record)"),
            "{m}"
        );
        assert!(m.contains("(--nat-eni eni-a,eni-new)"), "{m}");
        // nothing else translating (logs without pkt-*, or only that ENI): a report
        assert_eq!(
            GivenAbsent::check(&task, &quiet, 10, &named(&["eni-task"])),
            None
        );
        // an inventory's gateway is one whatever its records show
        let mut inv = crate::inventory::ec2::Ec2Inventory::default();
        inv.nat_gateways.push(crate::inventory::ec2::NatGateway {
            id: "nat-1".into(),
            vpc: None,
            subnet: None,
            state: None,
            connectivity: None,
            availability_mode: None,
            addresses: vec![crate::inventory::ec2::NatAddress {
                eni: "eni-task".into(),
                private_ip: None,
                public_ip: None,
                az_id: None,
            }],
        });
        let from_inventory = RunConfig {
            inventory: std::sync::Arc::new(inv),
            ..named(&["eni-task"])
        };
        assert_eq!(
            GivenAbsent::check(&task, &translating, 10, &from_inventory),
            None
        );
        // a NAT found that translates is not counted among those not given
        let both = nats(&["eni-a", "eni-new"]);
        assert_eq!(
            GivenAbsent::check(
                &both,
                &translating,
                10,
                &named(&["eni-old", "eni-a", "eni-new"])
            ),
            None
        );
    }

    #[test]
    fn client_side_cells_add_to_the_classes_days_and_regions() {
        let mut t = NatTotals::of(&[], Rejected::default(), ranges(), &RunConfig::default());
        assert_eq!((t.classes.total(), t.gateways.len()), (0, 0));
        let cells = [
            (crate::account::cell(20_000, Class::S3, Dir::Download), 70),
            (crate::account::cell(20_000, Class::S3, Dir::Upload), 5),
            (
                crate::account::cell(20_001, Class::Internet, Dir::Download),
                25,
            ),
        ];
        t.add_client_side(cells, [(3u16, 60), (1, 40), (3, 1)]);
        assert_eq!(t.classes.s3.download, 70);
        assert_eq!(t.classes.s3.upload, 5);
        assert_eq!(t.classes.total(), 100);
        let days: Vec<(u32, u64)> = t.by_day.iter().map(|(d, c)| (*d, c.total())).collect();
        assert_eq!(days, [(20_000, 75), (20_001, 25)]);
        let regions: Vec<(u16, u64)> = t.region_bytes.into_iter().collect();
        assert_eq!(regions, [(1, 40), (3, 61)]);
    }

    fn ranges() -> &'static IpRanges {
        static R: OnceLock<IpRanges> = OnceLock::new();
        R.get_or_init(IpRanges::embedded)
    }

    /// A record: ENI, src, dst, pkt-src, pkt-dst, bytes, start (60 s long), AZ.
    fn rec(f: (&str, &str, &str, &str, &str, u64, i64, &str)) -> String {
        let (eni, src, dst, psrc, pdst, bytes, start, az) = f;
        format!(
            "{eni} {src} {dst} {psrc} {pdst} {bytes} {start} {} ACCEPT OK us-east-1 {az} subnet-x\n",
            start + 60
        )
    }

    /// Interfaces of rejected records only, over an hour or more, are noted, those of most
    /// rejections named first; one accepted record, or rejections over less than an hour,
    /// and an interface is not.
    #[test]
    fn interfaces_of_rejected_records_only_for_an_hour_are_noted() {
        let reject = |eni: &str, start: i64| {
            rec((
                eni,
                "198.51.100.7",
                "10.0.0.10",
                "198.51.100.7",
                "10.0.0.10",
                40,
                start,
                "use1-az1",
            ))
            .replace(" ACCEPT ", " REJECT ")
        };
        let mut body = H.to_string();
        // (each record ends a minute after its start: two an hour apart span 61 minutes)
        for (eni, n) in [
            ("eni-a", 2),
            ("eni-b", 3),
            ("eni-c", 2),
            ("eni-d", 4),
            ("eni-e", 2),
        ] {
            for i in 0..n {
                body += &reject(eni, T + i * 3600);
            }
        }
        body += &reject("eni-short", T);
        body += &reject("eni-short", T + 3000);
        body += &reject("eni-accepts", T);
        body += &reject("eni-accepts", T + 7200);
        body += &rec((
            "eni-accepts",
            "10.0.1.5",
            S3,
            "10.0.1.5",
            S3,
            9,
            T,
            "use1-az1",
        ));
        let mut r = RejectingEnis::default();
        for (eni, a) in enis(&body) {
            r.note(&eni, &a);
        }
        assert_eq!(r.count, 5);
        let named: Vec<(u64, &str)> = r.examples.iter().map(|(n, e)| (*n, e.as_str())).collect();
        assert_eq!(named, [(4, "eni-d"), (3, "eni-b"), (2, "eni-a")]);
        // the walk of another part of the table adds to it
        r.append(RejectingEnis {
            count: 1,
            examples: vec![(9, "eni-z".into())],
        });
        assert_eq!(r.count, 6);
        assert_eq!(r.examples[0], (9, "eni-z".to_string()));
        assert_eq!(r.examples.len(), RejectingEnis::SHOWN);
    }

    /// The ENIs of a text body, in ENI order.
    fn enis(body: &str) -> Vec<(String, EniAgg)> {
        let params = Params::new(Arc::new(RunConfig::default()));
        let mut acc = Accumulator::new(&params);
        let mut sink = acc.file(ranges(), &params, FileStats::default(), None);
        text::decode_slice(body.as_bytes(), &Layout::default_v2(), &mut sink);
        sink.finish(None);
        let mut v: Vec<(String, EniAgg)> = acc
            .table
            .drain()
            .map(|(k, a)| (k.to_string(), *a))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// A task at 10.0.1.5 uploading `up` bytes to S3 through the NAT (10.0.0.10) at `t`: the
    /// private leg (with pkt-*) and the public leg; `public_only` leaves the private one out.
    fn upload(up: u64, t: i64, public_only: bool) -> String {
        let private = rec((
            "eni-nat",
            "10.0.1.5",
            "10.0.0.10",
            "10.0.1.5",
            S3,
            up,
            t,
            "use1-az1",
        ));
        let public = rec((
            "eni-nat",
            "10.0.0.10",
            S3,
            "10.0.0.10",
            S3,
            up,
            t,
            "use1-az1",
        ));
        match public_only {
            true => public,
            false => private + &public,
        }
    }

    #[test]
    fn a_nat_eni_counts_each_day_on_one_leg_and_checks_the_other() {
        // day 1: both legs (private counted, public the cross-check); day 2: public only
        let body = H.to_string() + &upload(100, T, false) + &upload(300, T + DAY, true);
        let e = enis(&body);
        let c = count_nat_eni("eni-nat", &e[0].1, ranges(), &RunConfig::default());
        let g = &c.gateway;
        assert_eq!((g.total, g.classes.s3.upload), (400, 400));
        assert_eq!((g.days_private_leg, g.days_public_leg), (1, 1));
        let cc = g.cross_check.as_ref().unwrap();
        assert_eq!((cc.counted_leg, cc.other_leg, cc.agrees), (100, 100, true));
        let days: Vec<(u32, u64)> = c.by_day.iter().map(|(d, b)| (*d, b.total())).collect();
        let d0 = T.div_euclid(DAY) as u32;
        assert_eq!(days, vec![(d0, 100), (d0 + 1, 300)]);
        // legs that disagree by more than the tolerance name the day
        let body = H.to_string()
            + &rec((
                "eni-nat",
                "10.0.1.5",
                "10.0.0.10",
                "10.0.1.5",
                S3,
                10_000,
                T,
                "use1-az1",
            ))
            + &rec((
                "eni-nat",
                "10.0.0.10",
                S3,
                "10.0.0.10",
                S3,
                20_000,
                T,
                "use1-az1",
            ));
        let e = enis(&body);
        let c = count_nat_eni("eni-nat", &e[0].1, ranges(), &RunConfig::default());
        let cc = c.gateway.cross_check.unwrap();
        assert!(!cc.agrees);
        assert_eq!(cc.days_apart[0].day, "2026-09-01");
    }

    /// Records without a start are counted on their leg, in no day: the days a gateway's legs
    /// were counted on are the period's days only.
    #[test]
    fn a_nat_enis_undated_records_are_counted_on_no_day() {
        let undated = |s: String| s.replace(&format!(" {T} "), " - ");
        let body = H.to_string() + &upload(100, T, false) + &undated(upload(40, T, false));
        let e = enis(&body);
        let c = count_nat_eni("eni-nat", &e[0].1, ranges(), &RunConfig::default());
        let g = &c.gateway;
        assert_eq!((g.total, g.classes.s3.upload), (140, 140));
        assert_eq!((g.days_private_leg, g.days_public_leg), (1, 0));
        // only undated public legs: counted, on no day
        let body = H.to_string() + &undated(upload(70, T, true));
        let e = enis(&body);
        let g = count_nat_eni("eni-nat", &e[0].1, ranges(), &RunConfig::default()).gateway;
        assert_eq!((g.total, g.days_private_leg, g.days_public_leg), (70, 0, 0));
    }

    /// NAT64 legs (an IPv6 client to S3's 52.216.8.1 as `64:ff9b::34d8:801`) count with the
    /// private legs on the days those are counted and on days without any other leg, and
    /// not on days counted on public legs, which hold them already.
    #[test]
    fn nat64_legs_count_where_the_private_legs_do() {
        let nat64 = |bytes: u64, t: i64| {
            let (c, r) = ("2600:1f18:1:2::10", "64:ff9b::34d8:801");
            rec(("eni-nat", c, r, c, r, bytes, t, "use1-az1"))
        };
        let public = |bytes: u64, t: i64| upload(bytes, t, true);
        let body = H.to_string()
            // day 1: a translated leg, the public legs of both clients, a NAT64 leg
            + &upload(100, T, false)
            + &public(200, T)
            + &nat64(200, T)
            // day 2: public legs only (no pkt-* seen), a NAT64 leg
            + &public(300, T + DAY)
            + &nat64(200, T + DAY)
            // day 3: a NAT64 leg alone
            + &nat64(50, T + 2 * DAY);
        let e = enis(&body);
        let c = count_nat_eni("eni-nat", &e[0].1, ranges(), &RunConfig::default());
        let g = &c.gateway;
        assert_eq!(
            (g.total, g.classes.s3.upload, g.nat64_bytes),
            (650, 650, 250)
        );
        assert_eq!((g.days_private_leg, g.days_public_leg), (2, 1));
        let cc = g.cross_check.as_ref().unwrap();
        assert_eq!((cc.counted_leg, cc.other_leg, cc.agrees), (300, 300, true));
        let days: Vec<(u32, u64)> = c.by_day.iter().map(|(d, b)| (*d, b.total())).collect();
        let d0 = T.div_euclid(DAY) as u32;
        assert_eq!(days, vec![(d0, 300), (d0 + 1, 300), (d0 + 2, 50)]);
        let side = e[0].1.private_side();
        assert_eq!((side.nat64_records, side.translated_records), (3, 1));
        // a forged aggregate's NAT64 cell past the byte bound is refused
        let mut forged = e[0].1.clone();
        let mut side = forged.private_side().clone();
        side.nat64.add(d0, Class::S3, Dir::Upload, u64::MAX / 2);
        forged.set_private_side(side);
        assert!(forged.check(ranges().regions.len()).is_err());
    }

    /// A table read in parts by a test: its ENIs in order, and where each part after the
    /// first begins.
    struct Parted {
        table: Vec<(String, EniAgg)>,
        bounds: Vec<&'static str>,
    }

    impl EniSource for Parted {
        fn scan(&self, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()> {
            (0..self.parts()).try_for_each(|i| self.scan_part(i, f))
        }
        fn parted(&self) -> Option<&dyn PartedSource> {
            Some(self)
        }
    }

    impl PartedSource for Parted {
        fn parts(&self) -> usize {
            self.bounds.len() + 1
        }
        fn scan_part(&self, i: usize, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()> {
            let from = i.checked_sub(1).map(|j| self.bounds[j]);
            let until = self.bounds.get(i).copied();
            for (k, a) in &self.table {
                if from.is_none_or(|b| k.as_str() >= b) && until.is_none_or(|u| k.as_str() < u) {
                    f(k, a);
                }
            }
            Ok(())
        }
        fn scratch(&self) -> std::io::Result<Option<std::fs::File>> {
            Ok(None)
        }
    }

    /// The first walk in parts, each on a thread, joined: the same analysis as the walk of
    /// the whole table, wherever the parts begin (an address shared by ENIs on both sides
    /// of a bound takes its first ENI's subnet and AZ and all their services; candidates,
    /// NAT gateways and notes come in ENI order), with NAT gateways found or given.
    #[test]
    fn the_walk_in_parts_is_the_walk_whole() {
        let h = "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start end action \
                 log-status region az-id subnet-id ecs-service-name\n";
        let line = |eni: &str, src: &str, dst: &str, psrc: &str, pdst: &str, b: u64, t: i64| {
            let (az, subnet, svc) = match eni {
                "eni-c1" => ("use1-az1", "subnet-1", "web"),
                "eni-c2" => ("use1-az2", "subnet-2", "api"),
                "eni-c3" => ("use1-az2", "subnet-2", "-"),
                _ => ("use1-az1", "subnet-0", "-"),
            };
            format!(
                "{eni} {src} {dst} {psrc} {pdst} {b} {t} {} ACCEPT OK us-east-1 {az} {subnet} {svc}\n",
                t + 60
            )
        };
        let mut body = h.to_string();
        for (i, t) in [T, T + 600, T + DAY].into_iter().enumerate() {
            let n = i as u64 + 1;
            for (nat, nat_ip, client) in [
                ("eni-nat-a", "10.0.0.10", "10.0.1.5"),
                ("eni-nat-b", "10.0.0.11", "10.0.2.7"),
            ] {
                body += &line(nat, client, nat_ip, client, S3, 1000 * n, t);
                body += &line(nat, nat_ip, S3, nat_ip, S3, 1000 * n, t);
                body += &line(nat, S3, nat_ip, S3, client, 5000 * n, t);
            }
            // the same address on two task ENIs (one after the other), and a third task
            body += &line("eni-c1", "10.0.1.5", S3, "-", "-", 300 * n, t);
            body += &line("eni-c2", "10.0.1.5", S3, "-", "-", 700 * n, t);
            body += &line("eni-c3", "10.0.2.7", "10.0.1.5", "-", "-", 50 * n, t);
            body += &line("eni-c3", "10.0.2.7", S3, "-", "-", 90 * n, t);
        }
        let params = Params::new(Arc::new(RunConfig::default()));
        let mut acc = Accumulator::new(&params);
        let mut sink = acc.file(ranges(), &params, FileStats::default(), None);
        text::decode_slice(body.as_bytes(), &Layout::default_v2(), &mut sink);
        sink.finish(None);
        acc.settle();
        let mut table: Vec<(String, EniAgg)> = acc
            .table
            .iter()
            .map(|(k, a)| (k.to_string(), a.clone()))
            .collect();
        table.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(table.len(), 5);
        let given = RunConfig {
            nat_enis: vec!["eni-nat-b".into()],
            ..RunConfig::default()
        };
        for opt in [RunConfig::default(), given] {
            let whole = serde_json::to_string(&analyse(&acc, ranges(), &opt).unwrap()).unwrap();
            let shared = ["subnet-1", "api", "web"];
            let found = opt.nat_enis.is_empty();
            assert!(
                !found || shared.iter().all(|s| whole.contains(s)),
                "{whole}"
            );
            for bounds in [
                vec!["eni-c2"],
                vec!["eni-c1", "eni-c2", "eni-c3", "eni-nat-a", "eni-nat-b"],
                vec!["eni-a", "eni-nat"],
                vec!["eni-z"],
            ] {
                let parted = Parted {
                    table: table.clone(),
                    bounds: bounds.clone(),
                };
                let got = analyse_from(&acc, &parted, ranges(), &opt).unwrap();
                assert_eq!(serde_json::to_string(&got).unwrap(), whole, "{bounds:?}");
            }
        }
    }

    #[test]
    fn clients_are_attributed_with_their_cross_az_share() {
        let body = H.to_string()
            + &upload(100, T, false)
            + &rec((
                "eni-nat",
                "10.0.2.7",
                "10.0.0.10",
                "10.0.2.7",
                S3,
                40,
                T,
                "use1-az1",
            ));
        let nat = enis(&body);
        let mut addresses: ByAddress<AddressInfo> = ByAddress::default();
        for (ip, az) in [("10.0.1.5", "use1-az1"), ("10.0.2.7", "use1-az2")] {
            addresses
                .entry(ip.parse().unwrap(), &None, AddressInfo::default)
                .az = Some(az.into());
        }
        let vpcs = vec![None; nat.len()];
        let (clients, cross) =
            attribute_to_clients((&nat, &vpcs), &addresses, &RunConfig::default());
        let bytes: Vec<(String, u64)> = clients
            .iter()
            .map(|((ip, _), c)| (ip.to_string(), c.total()))
            .collect();
        assert_eq!(bytes, [("10.0.1.5".into(), 100), ("10.0.2.7".into(), 40)]);
        assert!(cross.known);
        assert_eq!(cross.bytes, 40);
        assert_eq!(cross.by_pair[0].key, "use1-az2 -> use1-az1");
        // without the clients' AZ, cross-AZ is unknown
        let none = ByAddress::default();
        let (_, cross) = attribute_to_clients((&nat, &vpcs), &none, &RunConfig::default());
        assert!(!cross.known);
    }

    fn s3_bytes(up: u64, other: u64) -> ClassBytes {
        let mut c = ClassBytes::default();
        c.s3.upload = up;
        c.internet.download = other;
        c
    }

    proptest::proptest! {
        /// Ranking candidates one at a time, in any order, keeps what ranking them all
        /// keeps, and completes only those it keeps.
        #[test]
        fn candidates_ranked_one_at_a_time_are_the_best_of_all(
            scores in proptest::collection::vec((0u64..3, 0u64..4, 0u64..4, 0usize..3), 0..40),
            order in proptest::collection::vec(proptest::prelude::any::<u32>(), 40),
        ) {
            let all: Vec<Candidate> = (scores.iter().enumerate())
                .map(|(i, &(translated_records, public_bytes, internal_bytes, private_peers))| {
                    Candidate {
                        eni: format!("eni-{i:03}"),
                        translated_records,
                        translated_bytes: i as u64,
                        public_bytes,
                        internal_bytes,
                        private_peers,
                        local_ips: vec![IpAddr::from([10, 0, 0, i as u8])],
                    }
                })
                .collect();
            let mut shuffled = all.clone();
            shuffled.sort_by_key(|c| order[c.translated_bytes as usize]);
            let mut kept = Vec::new();
            for c in shuffled {
                let bare = Candidate {
                    eni: String::new(),
                    translated_bytes: 0,
                    local_ips: Vec::new(),
                    ..c.clone()
                };
                rank_candidate(&mut kept, bare, &c.eni, |k| {
                    k.translated_bytes = c.translated_bytes;
                    k.local_ips = c.local_ips.clone();
                });
            }
            let mut best = all;
            best_candidates(&mut best);
            proptest::prop_assert_eq!(kept, best);
        }
    }

    #[test]
    fn top_clients_rank_by_s3_then_all_bytes_then_address() {
        let clients: BTreeMap<ClientKey, ClassBytes> = [
            ("10.0.0.9", s3_bytes(50, 0)),
            ("10.0.0.3", s3_bytes(50, 10)),
            ("10.0.0.20", s3_bytes(50, 10)),
            ("10.0.0.4", s3_bytes(70, 0)),
        ]
        .into_iter()
        .map(|(ip, c)| ((ip.parse().unwrap(), None), c))
        .collect();
        let ips = |n| -> Vec<String> {
            top_clients(&clients, &ByAddress::default(), n)
                .into_iter()
                .map(|r| r.1.ip)
                .collect()
        };
        assert_eq!(ips(3), ["10.0.0.4", "10.0.0.20", "10.0.0.3"]);
        assert_eq!(ips(10).len(), 4);
        assert!(ips(0).is_empty());
        let grouped = group_clients(&clients, &ByAddress::default());
        assert_eq!(grouped.0["unknown"].total(), 240);
    }

    #[test]
    fn gaps_are_runs_of_six_hours_or_more_without_a_record() {
        let h0 = (T / HOUR) as u32;
        let hours: BTreeSet<u32> = [0, 1, 7, 12, 13, 30].iter().map(|h| h0 + h).collect();
        let at = |h: u32| T + i64::from(h) * HOUR;
        // 2..7 is five hours (not one), 8..12 four, 14..30 sixteen; to the end of hour 40, ten
        let g = gaps(&hours, T, at(41));
        let got: Vec<(i64, u32)> = g.iter().map(|g| (g.from, g.hours)).collect();
        assert_eq!(got, [(at(14), 16), (at(31), 10)]);
        // only inside the span asked for, from its first hour
        let g = gaps(&hours, at(20), at(30));
        assert_eq!(
            g,
            [Gap {
                from: at(20),
                hours: 10
            }]
        );
        assert!(gaps(&hours, T, at(2)).is_empty());
        // no hours noted: nothing known, nothing pointed out
        assert!(gaps(&BTreeSet::new(), T, at(100)).is_empty());
        assert_eq!(gaps_note(&[]), None);
        let note = gaps_note(&[
            Gap {
                from: at(14),
                hours: 16,
            },
            Gap {
                from: at(31),
                hours: 10,
            },
        ]);
        assert!(note
            .unwrap()
            .starts_with("No record of any interface in 26 hours"));
    }

    #[test]
    fn gaps_of_45_days_or_more_split_the_period_into_stretches() {
        let h0 = (T / HOUR) as u32;
        let split = SPLIT_HOURS;
        assert_eq!(split, 45 * 24);
        // hours 0..3, then hour 3 + 1,080 (a gap of exactly 45 days), then one hour more than
        // 44 days later (a gap of 1,079 hours: no split), then 3,000 hours later
        let third = 3 + split + 1 + (split - 1);
        let marks = [0, 1, 2, 3 + split, third, third + 1 + 3000];
        let hours: BTreeSet<u32> = marks.iter().map(|h| h0 + h).collect();
        let at = |h: u32| T + i64::from(h) * HOUR;
        let opt = RunConfig::default();
        let p = period_of(Some(T + 60), Some(at(third + 3001) + 60), &opt, &hours);
        let got: Vec<u32> = p.split().map(|g| g.hours).collect();
        assert_eq!(got, [split, 3000]);
        assert_eq!(
            p.stretches(),
            [
                (T, at(3)),
                (at(3 + split), at(third + 1)),
                (at(third + 3001), at(third + 3002))
            ]
        );
        let s = crate::report::split_summary(&p).unwrap();
        assert!(
            s.starts_with("SPLIT PERIOD: the records fall into 3 stretches"),
            "{s}"
        );
        assert!(s.contains("the 170.0 days between them"), "{s}");
        assert!(
            s.contains("\n  2026-09-01T00:00:00Z .. 2026-09-01T03:00:00Z (3 h)"),
            "{s}"
        );
        // inside a time filter, the stretches start and end at the filter where it cuts them
        let opt = RunConfig {
            since: Some(T + 3600),
            until: Some(at(third + 3001) + 1800),
            ..RunConfig::default()
        };
        let p = period_of(Some(T + 60), Some(at(third + 3001) + 60), &opt, &hours);
        let s = p.stretches();
        assert_eq!((s[0].0, s[2].1), (T + 3600, at(third + 3001) + 1800));
        // none without records, one where nothing splits them
        let p = period_of(None, None, &RunConfig::default(), &BTreeSet::new());
        assert!(p.stretches().is_empty());
        assert_eq!(crate::report::split_summary(&p), None);
        let p = period_of(Some(T), Some(at(5)), &RunConfig::default(), &hours);
        assert_eq!(p.stretches(), [(T, at(5))]);
        assert_eq!(crate::report::split_summary(&p), None);
    }

    #[test]
    fn the_period_is_the_filter_or_the_data_in_whole_hours() {
        let p = period_of(
            Some(T + 180),
            Some(T + 5 * 3600 + 600),
            &RunConfig::default(),
            &BTreeSet::new(),
        );
        assert_eq!((p.from, p.to), (Some(T), Some(T + 6 * 3600)));
        assert_eq!((p.days, p.covered_days), (0.25, 0.25));
        let month = RunConfig {
            since: Some(T),
            until: Some(T + 30 * DAY),
            ..Default::default()
        };
        let p = period_of(
            Some(T + 180),
            Some(T + 5 * 3600 + 600),
            &month,
            &BTreeSet::new(),
        );
        assert_eq!((p.from, p.to, p.days), (Some(T), Some(T + 30 * DAY), 30.0));
        assert_eq!(p.covered_days, 0.25);
        assert_eq!(
            period_of(None, None, &month, &BTreeSet::new()).covered_days,
            0.0
        );
    }

    #[test]
    fn time_no_input_was_read_for_is_not_covered_and_not_a_gap() {
        // a month whose partials left days 2, 10 and the last unread; records on days 1–9
        let h = |d: i64, hour: i64| T + d * DAY + hour * 3600;
        let month = RunConfig {
            since: Some(T),
            until: Some(T + 30 * DAY),
            unread: vec![
                (h(1, 0), h(2, 0)),
                (h(9, 0), h(10, 0)),
                (h(29, 0), h(30, 0)),
            ],
            ..Default::default()
        };
        let hours: BTreeSet<u32> = (0..9 * 24)
            .filter(|x| !(24..48).contains(x))
            .map(|x| ((T + x * 3600) / 3600) as u32)
            .collect();
        let p = period_of(Some(T + 60), Some(h(8, 23) + 600), &month, &hours);
        // the span of the records (9 days), less day 2; day 10 and the last lie past it
        assert_eq!(p.covered_days, 8.0);
        let unread: Vec<(i64, i64)> = p.unread.iter().map(|u| (u.from, u.to)).collect();
        assert_eq!(unread, month.unread, "all of them named");
        assert!(p.gaps.is_empty(), "{:?}", p.gaps);
        // a stretch cut by the filter is named and left out only inside it
        let part = RunConfig {
            since: Some(h(1, 12)),
            until: Some(h(9, 0)),
            ..month.clone()
        };
        let p = period_of(Some(T + 60), Some(h(8, 23) + 600), &part, &hours);
        assert_eq!(p.covered_days, 7.0);
        let unread: Vec<(i64, i64)> = p.unread.iter().map(|u| (u.from, u.to)).collect();
        assert_eq!(unread, [(h(1, 12), h(2, 0))]);
        // without the stretches, day 2 is a gap and counts as covered
        let none = RunConfig {
            unread: Vec::new(),
            ..month
        };
        let p = period_of(Some(T + 60), Some(h(8, 23) + 600), &none, &hours);
        assert_eq!(p.covered_days, 9.0);
        assert_eq!(p.gaps.len(), 1);
        let note = unread_note(&[Unread {
            from: h(1, 0),
            to: h(2, 0),
        }])
        .unwrap();
        assert!(
            note.starts_with("No partial covers 24 hours of the period ("),
            "{note}"
        );
        assert_eq!(unread_note(&[]), None);
    }

    #[test]
    fn the_method_says_how_nat_bytes_were_counted() {
        let m = Method::of(false, true, true, false);
        assert_eq!(
            (m.counting, m.nat_source, m.legs),
            (Counting::NatEni, NatSource::Given, Legs::Private)
        );
        let m = Method::of(true, false, false, false);
        assert_eq!(
            (m.counting, m.nat_source, m.legs),
            (Counting::ClientSideEstimate, NatSource::None, Legs::Public)
        );
        assert_eq!(Method::of(false, false, true, true).legs, Legs::Mixed);
    }

    #[test]
    fn an_ip_ranges_document_made_long_before_the_records_is_noted() {
        let mut r = IpRanges::embedded();
        let made = ranges_created(&r).unwrap();
        assert_eq!(r.create_date, "2026-08-22-15-17-05");
        assert_eq!(
            made, 1_787_411_825,
            "the embedded document's syncToken is its time"
        );
        let day = 86_400;
        // the sample's records, ten days after: no note; 90 days after: none; 91: one
        assert_eq!(stale_ranges_note(Some(made), Some(made + 10 * day)), None);
        assert_eq!(
            stale_ranges_note(Some(made), Some(made + 91 * day - 1)),
            None
        );
        let n = stale_ranges_note(Some(made), Some(made + 91 * day)).unwrap();
        assert!(
            n.starts_with("The ip-ranges document in use was made 91 days before the last record"),
            "{n}"
        );
        assert!(n.contains("flowcost ip-ranges update"), "{n}");
        // records older than the document, no records, a date that is none: no note
        assert_eq!(stale_ranges_note(Some(made), Some(made - 400 * day)), None);
        assert_eq!(stale_ranges_note(Some(made), None), None);
        for bad in [
            "",
            "2026-08-22",
            "2026-13-22-00-00-00",
            "x-08-22-00-00-00",
            "2026-08-22-00-00-00-00",
        ] {
            r.create_date = bad.into();
            assert_eq!(ranges_created(&r), None, "{bad}");
        }
    }

    #[test]
    fn quality_notes_say_what_the_data_lacks() {
        let opt = RunConfig {
            nat_enis: vec!["eni-gone".into()],
            ..Default::default()
        };
        let period = period_of(Some(T), Some(T + 3600), &opt, &BTreeSet::new());
        let lines = LineCounts {
            counted: 10,
            ..Default::default()
        };
        use crate::report::own::OwnOutput;
        let own: Vec<FileStats> = [
            ("a.csv", Some(OwnOutput::Csv)),
            ("b", Some(OwnOutput::Partial)),
            ("c.log", None),
            ("d.txt", Some(OwnOutput::Table)),
            ("e.csv", Some(OwnOutput::Csv)),
            ("f.txt", Some(OwnOutput::Table)),
        ]
        .map(|(path, skipped)| FileStats {
            path: path.into(),
            skipped,
            ..Default::default()
        })
        .to_vec();
        let facts = NoteFacts {
            flow_logs: None,
            client_side: false,
            any_private: false,
            any_public: true,
            nat_names_clients: false,
            cross_az_unknown: &[CrossAzUnknown::NatAz, CrossAzUnknown::ClientAz],
            skipdata_windows: 2,
            gateways: &[],
            period: &period,
            lines: &lines,
            odd: &Oddities::default(),
            files_with_errors: 1,
            files: &own,
            given: true,
            no_nat: true,
            candidates: &[],
            opt: &opt,
            dated: Span::default(),
            ranges_created: Some(0),
            regions_without_s3: &[],
        };
        let Notes { notes, warnings } = quality_notes(&facts);
        assert!(notes.iter().any(|n| n.starts_with(
            "5 input(s) are flowcost's own output, not flow logs, and were not read: a.csv (a CSV table), b (a partial result), d.txt (a table report), and 2 more."
        ) && n.ends_with("merged with `flowcost merge FILE...`.")));
        let has = |s: &str| notes.iter().any(|n| n.contains(s));
        assert!(has("No pkt-srcaddr/pkt-dstaddr translation seen"));
        assert!(has("Cross-AZ charges cannot be measured: the NAT gateways' records carry no az-id (nor does an --inventory name their AZ); the clients' own records carry no az-id."));
        assert!(has("2 SKIPDATA records"));
        assert!(has("1 input(s) could not be read to the end"));
        assert!(has(
            "The NAT gateways given (eni-gone) appear in no counted record"
        ));
        // a warning, its message one of the notes; no other note warns here
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, [WarningKind::GivenNatsNotCounted]);
        assert!(notes.contains(&warnings[0].message));
        assert!(!has("The logs cover"), "{notes:?}");
        // a month asked for, an hour logged: the projection is named
        let month = RunConfig {
            since: Some(T),
            until: Some(T + 30 * DAY),
            ..Default::default()
        };
        let period = period_of(Some(T), Some(T + 3600), &month, &BTreeSet::new());
        let Notes { notes, warnings } = quality_notes(&NoteFacts {
            period: &period,
            ..facts
        });
        assert!(notes
            .iter()
            .any(|n| n.contains("The logs cover 0.04 of the 30.00 days")));
        assert!(!warnings.iter().any(|w| w.kind == WarningKind::NoS3Ranges));
        // NAT bytes in a region without S3 ranges: named
        let regions = ["sa-west-1".to_string()];
        let Notes { notes, warnings } = quality_notes(&NoteFacts {
            regions_without_s3: &regions,
            ..facts
        });
        let w = warnings.iter().find(|w| w.kind == WarningKind::NoS3Ranges);
        assert!(w.is_some_and(|w| w.message.starts_with(
            "The ip-ranges document in use holds no S3 range of sa-west-1, where the NAT gateways carried bytes"
        ) && notes.contains(&w.message)));
        // a note of each group at once: in the groups' order (how the bytes were counted, the
        // records' completeness, the time covered, the inputs, the ip-ranges document, why
        // nothing was counted)
        let Notes { notes, warnings } = quality_notes(&NoteFacts {
            cross_az_unknown: &[],
            files: &[],
            period: &period,
            ranges_created: None,
            regions_without_s3: &regions,
            ..facts
        });
        let at = |s: &str| notes.iter().position(|n| n.starts_with(s));
        let order = [
            "No pkt-srcaddr/pkt-dstaddr translation seen",
            "2 SKIPDATA records",
            "The logs cover 0.04 of the 30.00 days",
            "1 input(s) could not be read to the end",
            "The ip-ranges document in use holds no S3 range of sa-west-1",
            "The NAT gateways given (eni-gone) appear in no counted record",
        ]
        .map(|s| at(s).unwrap_or_else(|| panic!("{s}: {notes:?}")));
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(notes.len(), order.len(), "{notes:?}");
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [WarningKind::NoS3Ranges, WarningKind::GivenNatsNotCounted]
        );
    }

    /// A warning's kind is written in JSON by a name the README gives, and read back.
    #[test]
    fn warning_kinds_are_named_in_json_as_documented() {
        let readme = include_str!("../../README.md");
        for k in WarningKind::ALL {
            let v = serde_json::to_value(k).unwrap();
            let name = v.as_str().expect("a name").to_string();
            assert_eq!(serde_json::from_value::<WarningKind>(v).unwrap(), k);
            assert!(readme.contains(&format!("`{name}`")), "{name}");
        }
    }

    /// Gateways whose records cover under 90 % of the run's time are named (at most five),
    /// with their hours; those covering 90 % or more, or no time, are not.
    #[test]
    fn gateways_covering_less_than_the_run_are_noted() {
        let g = |eni: &str, hours: u64| gateway_of(eni, ClassBytes::default(), hours * 3600);
        assert_eq!(
            short_gateways_note(&[g("eni-a", 44), g("eni-b", 48)], 2.0),
            None
        );
        assert_eq!(short_gateways_note(&[g("eni-a", 0)], 2.0), None);
        let note = short_gateways_note(&[g("eni-a", 48), g("eni-b", 18)], 2.0).unwrap();
        assert!(note.starts_with("The records of 1 of the 2 NAT gateway ENIs cover under 90 % of the 48 hours the logs cover: eni-b (18 h). Each gateway's"), "{note}");
        // a gateway of no byte logged for some time is idle, and said to be; one of bytes or of
        // no time is not
        let mut busy = ClassBytes::default();
        busy.internet.upload = 1;
        let idle = [
            g("eni-a", 0),
            g("eni-b", 5),
            gateway_of("eni-c", busy, 3600),
        ];
        let note = idle_gateways_note(&idle).unwrap();
        assert!(
            note.starts_with(
                "1 NAT gateway ENI(s) were logged but carried no counted byte: eni-b (5 h). "
            ),
            "{note}"
        );
        assert_eq!(idle_gateways_note(&idle[2..]), None);
        assert!(!note.contains("traffic type REJECT"), "{note}");
        // one of rejected records: a flow log of rejected traffic only is named as the other
        // way a gateway shows nothing that passed
        let mut rejecting = idle.clone();
        rejecting[1].rejected_records = 4;
        rejecting[1].covered_seconds = 2 * 3600;
        let note = idle_gateways_note(&rejecting).unwrap();
        assert!(note.ends_with("so their figures are zero. Unless a flow log of rejected traffic only (traffic type REJECT) is all that logs 1 of them, which have rejected records: then what passed through those is unknown, not zero; a flow log of traffic type ALL on their ENIs shows it."), "{note}");
        // rejected records only for hours beside a gateway of bytes: a warning, which the
        // note leaves them to; for under three whole hours, or with no gateway of bytes, none
        assert_eq!(
            rejecting_gateways_warning(&rejecting),
            None,
            "two whole hours"
        );
        rejecting[1].covered_seconds = 3 * 3600;
        let warned = rejecting_gateways_warning(&rejecting).unwrap();
        assert!(warned.starts_with("1 of the 3 NAT gateway ENIs show rejected records only, for hours, while the others carried bytes: eni-b (3 h). "), "{warned}");
        let note = idle_gateways_note(&rejecting).unwrap();
        assert!(
            note.starts_with(
                "1 NAT gateway ENI(s) were logged but carried no counted byte: eni-b (3 h). "
            ) && !note.contains("Unless"),
            "{note}"
        );
        rejecting[1].rejected_records = 0;
        assert_eq!(rejecting_gateways_warning(&rejecting), None, "NODATA only");
        rejecting[1].rejected_records = 4;
        assert_eq!(
            rejecting_gateways_warning(&rejecting[..2]),
            None,
            "no gateway of bytes"
        );
        let many: Vec<Gateway> = (0..7).map(|i| g(&format!("eni-{i}"), 10 + i)).collect();
        let note = short_gateways_note(&many, 30.0).unwrap();
        assert!(note.contains(": eni-0 (10 h), eni-1 (11 h), eni-2 (12 h), eni-3 (13 h), eni-4 (14 h) and 2 more. "), "{note}");
        // the rate of each gateway: its bytes over its own time, or the run's where it has none
        let mut c = ClassBytes::default();
        c.s3.download = 1_000;
        let two = [gateway_of("eni-a", c, 86_400), gateway_of("eni-b", c, 0)];
        let s3 = |c: &ClassBytes| c.s3.total();
        assert_eq!(rate(&two, 4.0, &s3, 0, 1.0), 1_000.0 + 250.0);
        assert_eq!(rate(&[], 4.0, &s3, 2_000, 30.0), 15_000.0);
        assert_eq!(rate(&[], 0.0, &s3, 2_000, 30.0), 0.0);
    }

    /// NAT gateways whose S3 bytes go mostly to other regions (a region taken wrongly, or
    /// buckets far away) are noted with their region and both shares; S3 mostly in their
    /// region, or other-region S3 a small part of their bytes, is not.
    #[test]
    fn s3_bytes_mostly_in_other_regions_are_noted() {
        let gateway = |region: Option<&str>, here: u64, elsewhere: u64, internet: u64| {
            let mut classes = ClassBytes::default();
            classes.s3.download = here;
            classes.s3_other_region.download = elsewhere;
            classes.internet.upload = internet;
            Gateway {
                region: region.map(String::from),
                ..gateway_of("eni-a", classes, 3600)
            }
        };
        let wrong = [gateway(Some("us-west-2"), 0, 986, 14)];
        let note = other_region_s3_note(&wrong).expect("noted");
        assert!(note.starts_with(
            "Most of the NAT gateways' S3 bytes went to S3 in regions other than the gateways' own (us-west-2): 98.6% of their bytes, against 0.0% to S3 in their region."
        ), "{note}");
        // two gateways: their regions once each, the shares of their bytes together
        let two = [
            gateway(Some("us-west-2"), 100, 500, 0),
            gateway(Some("eu-west-1"), 0, 300, 100),
        ];
        let note = other_region_s3_note(&two).expect("noted");
        assert!(
            note.contains("(eu-west-1, us-west-2): 80.0% of their bytes, against 10.0%"),
            "{note}"
        );
        assert!(note.ends_with("with --region set to theirs."), "{note}");
        // where their S3 went, the region with the most first, at most three
        let mut named = two.clone();
        named[0].s3_other_regions = [("eu-central-1".into(), 20), ("us-east-1".into(), 480)].into();
        named[1].s3_other_regions = [
            ("us-east-1".into(), 290),
            ("ap-south-1".into(), 5),
            ("sa-east-1".into(), 5),
        ]
        .into();
        let note = other_region_s3_note(&named).expect("noted");
        assert!(
            note.ends_with("with --region set to theirs (of the S3 their public legs sent outside it, 96.2% went to us-east-1, 2.5% to eu-central-1, 0.6% to ap-south-1)."),
            "{note}"
        );
        assert!(other_region_s3_note(&[gateway(None, 0, 5, 0)])
            .unwrap()
            .contains("(unknown)"));
        // S3 mostly in the region, other-region S3 under a tenth of the bytes, nothing: none
        assert_eq!(other_region_s3_note(&[gateway(None, 60, 50, 0)]), None);
        assert_eq!(other_region_s3_note(&[gateway(None, 0, 9, 91)]), None);
        assert_eq!(other_region_s3_note(&[gateway(None, 0, 0, 0)]), None);
        assert_eq!(other_region_s3_note(&[]), None);
        // and quality_notes carries it
        let period = period_of(
            Some(T),
            Some(T + 3600),
            &RunConfig::default(),
            &BTreeSet::new(),
        );
        let Notes { notes, warnings } = quality_notes(&NoteFacts {
            flow_logs: None,
            client_side: false,
            any_private: true,
            any_public: false,
            nat_names_clients: true,
            cross_az_unknown: &[],
            skipdata_windows: 0,
            gateways: &wrong,
            period: &period,
            lines: &LineCounts::default(),
            odd: &Oddities::default(),
            files_with_errors: 0,
            files: &[],
            given: false,
            no_nat: false,
            candidates: &[],
            opt: &RunConfig::default(),
            dated: Span::default(),
            ranges_created: None,
            regions_without_s3: &[],
        });
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].kind, WarningKind::S3OutsideRegion);
        assert!(notes.contains(&warnings[0].message), "{notes:?}");
    }

    #[test]
    fn regions_of_nat_bytes_without_s3_ranges_are_found() {
        let doc = |s3_region: &str| {
            format!(
                r#"{{"syncToken":"1","createDate":"2026-08-01-00-00-00","prefixes":[
                {{"ip_prefix":"3.5.0.0/16","region":"{s3_region}","service":"S3","network_border_group":"x"}},
                {{"ip_prefix":"3.6.0.0/16","region":"us-east-1","service":"EC2","network_border_group":"x"}},
                {{"ip_prefix":"3.7.0.0/16","region":"sa-west-1","service":"EC2","network_border_group":"x"}}],
                "ipv6_prefixes":[]}}"#
            )
        };
        let ranges = IpRanges::parse(doc("us-east-1").as_bytes(), "t").unwrap();
        let id = |r: &str| ranges.region_id(r).unwrap();
        let bytes = BTreeMap::from([(id("us-east-1"), 10), (id("sa-west-1"), 5)]);
        assert_eq!(regions_without_s3(&bytes, &ranges), ["sa-west-1"]);
        // a region without NAT bytes is no matter
        let bytes = BTreeMap::from([(id("us-east-1"), 10), (id("sa-west-1"), 0)]);
        assert!(regions_without_s3(&bytes, &ranges).is_empty());
        assert!(regions_without_s3(&BTreeMap::new(), &ranges).is_empty());
    }
}
