//! Account stage: folds records into per-ENI aggregates, without yet knowing which ENIs are
//! NAT gateways, so that one streaming pass serves detection, exact counting and attribution.
//! Accumulators are built per worker and merged associatively and commutatively
//! ([`Accumulator::merge`]), so any split of the input gives the same result. A table grows
//! with distinct ENIs × active days and distinct NAT clients, never with records; the engine
//! moves tables that outgrow their budget to [`crate::spill`], which is why the analysis reads
//! ENIs only through [`EniSource`].
//!
//! The rules of ACCOUNTING.md §3 are applied in [`crate::analysis`] once all input is in.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::classify::{Class, IpRanges, LookupCache};
use crate::config::RunConfig;
use crate::format::{
    is_private, nat64_v4, Action, Entry, Field, LogStatus, Malformed, Record, Sink,
    DELIVERY_WINDOW, MAX_RECORD_SPAN,
};
use crate::hint::{prefetch, prefetch_value};

mod cells;
mod clients;
mod repeats;
pub use cells::{Cells, ForeignKey};
pub use clients::{
    Client, ClientCells, Legs, Openings, Session, Sessions, StartRules, TaskStarts, IDLE_GAP,
    LAYER_STREAMS, QUIET_MINUTES,
};
pub use repeats::{Found as RepeatsFound, Repeats};

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Day number used when a record has no `start`.
pub const NO_DAY: u32 = u32::MAX;
/// How many malformed-line locations each file keeps.
pub const EXAMPLES_PER_FILE: usize = 5;
const MAX_LOCAL_IPS: usize = 8;
/// The most translated legs an accumulator's aggregates hold before adding them to their
/// clients ([`Legs`]; about 10 MB), however many ENIs hold them.
const LEGS_HELD: usize = if cfg!(test) { 4 } else { 1 << 18 };
const MAX_PEERS: usize = 64;

/// Direction relative to the remote: upload goes to it, download comes from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Upload = 0,
    Download = 1,
}

/// Key of a (day, class, direction) cell.
#[inline]
pub fn cell(day: u32, class: Class, dir: Dir) -> u64 {
    ((day as u64) << 8) | ((class as u64) << 1) | dir as u64
}

/// Inverse of [`cell`].
pub fn uncell(key: u64) -> (u32, Class, Dir) {
    let class = Class::ALL[((key >> 1) & 0x7f) as usize];
    let dir = if key & 1 == 0 {
        Dir::Upload
    } else {
        Dir::Download
    };
    ((key >> 8) as u32, class, dir)
}

/// What the account stage needs to know before reading: the run's settings, and what the
/// run's inputs share.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub run: Arc<RunConfig>,
    /// The bytes all inputs of the run may still add (shared by every worker).
    pub budget: RunBudget,
    /// The flow logs the inputs come from, when more than one: each ENI's records are then
    /// kept apart per flow log ([`FlowLogs`]).
    pub flow_logs: FlowLogs,
    /// Leave out the timelines of clients that look like logged ENIs ([`Guess`]): for runs
    /// that analyse what they read (not for partial files, whose merges cannot read again).
    pub guess_timelines: bool,
}

impl Params {
    /// For a run with these settings (no input budget, one flow log).
    pub fn new(run: Arc<RunConfig>) -> Params {
        Params {
            run,
            ..Default::default()
        }
    }
}

/// Between an ENI id and its flow-log tag in the ENI table's keys, when a run's inputs come
/// from several flow logs (a control character, never part of an ENI id).
pub const TAG_SEP: char = '\x1f';

/// The flow logs a run's inputs come from, named by the flow-log id in AWS's delivery file
/// names (`…_vpcflowlogs_<region>_fl-…_…`); inputs without one (exports, renamed files,
/// standard input) form one group of their own, named `""`. With two or more, every record
/// is tagged with its flow log, so that an ENI recorded by two of them (a security team's
/// and a cost team's flow log on one VPC) can be counted once ([`crate::overlap`]). With
/// one, nothing is tagged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowLogs {
    ids: Vec<Box<str>>,
}

impl FlowLogs {
    /// The most flow logs told apart (tags are four hex digits).
    const MAX: usize = 0xffff;

    /// The flow logs of inputs with these names: none unless there are at least two.
    pub fn of_inputs<'a>(names: impl IntoIterator<Item = &'a str>) -> FlowLogs {
        let mut ids = std::collections::BTreeSet::new();
        let mut without = false;
        for n in names {
            match crate::source::flow_log_id(n) {
                Some(id) => {
                    ids.insert(id);
                }
                None => without = true,
            }
        }
        let mut ids: Vec<Box<str>> = ids.into_iter().map(Into::into).collect();
        if without {
            ids.push("".into());
        }
        if ids.len() < 2 || ids.len() > Self::MAX {
            ids.clear();
        }
        FlowLogs { ids }
    }

    /// The flow-log ids (`""`: inputs without one), by tag; empty when nothing is tagged.
    pub fn ids(&self) -> &[Box<str>] {
        &self.ids
    }

    /// The tag of an input with this name, when records are tagged.
    pub fn tag(&self, name: &str) -> Option<u16> {
        if self.ids.is_empty() {
            return None;
        }
        let id = crate::source::flow_log_id(name).unwrap_or("");
        self.ids.iter().position(|i| &**i == id).map(|p| p as u16)
    }
}

/// The ENI table key of `eni`'s records from the flow log tagged `tag`, written into `buf`.
/// A separator inside `eni` (only in a forged id) is written as `\x1e`, so that every key
/// splits back into its own ENI and tag.
pub fn tagged_key<'b>(eni: &str, tag: u16, buf: &'b mut String) -> &'b str {
    use std::fmt::Write;
    buf.clear();
    if eni.contains(TAG_SEP) {
        buf.extend(eni.chars().map(|c| if c == TAG_SEP { '\x1e' } else { c }));
    } else {
        buf.push_str(eni);
    }
    buf.push(TAG_SEP);
    let _ = write!(buf, "{tag:04x}");
    buf
}

/// An ENI table key split into the ENI and its flow-log tag, if it has one.
pub fn split_key(key: &str) -> Option<(&str, u16)> {
    let (eni, tag) = key.rsplit_once(TAG_SEP)?;
    (tag.len() == 4)
        .then(|| u16::from_str_radix(tag, 16).ok())
        .flatten()
        .map(|t| (eni, t))
}

/// The ENI of an ENI table key, without its flow-log tag where it has one.
pub fn eni_of_key(key: &str) -> &str {
    split_key(key).map_or(key, |(eni, _)| eni)
}

/// The most bytes one run counts, in all records together: 2^62 (4 EiB). Every sum the
/// engine and the analysis make covers each record at most a few times, so with this bound
/// no `u64` sum can wrap. A record that would pass it is malformed ("the run's total would
/// pass 2^62 bytes"); no real deployment comes within a million times of it.
pub const RUN_BYTES_MAX: u64 = 1 << 62;

/// How much a sink takes from the [`RunBudget`] at a time, so that workers touch the shared
/// counter once per 64 GiB rather than once per record.
const BUDGET_GRANT: u64 = 1 << 36;

/// What is left of [`RUN_BYTES_MAX`] for a run, shared by its workers.
#[derive(Clone, Debug)]
pub struct RunBudget(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Default for RunBudget {
    fn default() -> Self {
        RunBudget::new(RUN_BYTES_MAX)
    }
}

impl RunBudget {
    pub fn new(bytes: u64) -> RunBudget {
        RunBudget(std::sync::Arc::new(bytes.into()))
    }

    /// Take `want` bytes if that many are left.
    fn take(&self, want: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.0
            .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(want))
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.0
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Per-input line accounting: every line read lands in exactly one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineCounts {
    pub lines: u64,
    pub headers: u64,
    pub blank: u64,
    pub malformed: u64,
    pub nodata: u64,
    pub skipdata: u64,
    pub rejected: u64,
    pub outside_time: u64,
    pub undated: u64,
    pub counted: u64,
    /// Records of an ENI from a second flow log that recorded it in the same hours as the one
    /// counted ([`crate::overlap`]; run totals only, each input's counts are as read).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate_flow_log: u64,
    /// Of the counted records, those of inputs (or parts of one read apart) none of whose
    /// counted records has a field the figures need: not line categories of their own (each
    /// is also counted above). A flow log whose custom format leaves the field out writes
    /// such inputs; AWS's default format has every one.
    #[serde(default, skip_serializing_if = "Without::is_empty")]
    pub without: Without,
}

/// Counted records of inputs none of whose records has a field the figures need, by field
/// (an input may lack several): [`LineCounts::without`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Without {
    /// Without `interface-id`: on no ENI, so in no NAT gateway's figures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interface_id: u64,
    /// Without `srcaddr` or `dstaddr`: no leg, no class.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub addresses: u64,
    /// Without `bytes`: nothing to add up.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
    /// Without `start`: in no day, and in no period to project from.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: u64,
}

impl Without {
    pub fn is_empty(&self) -> bool {
        *self == Without::default()
    }

    fn add(&mut self, o: &Without) {
        self.interface_id += o.interface_id;
        self.addresses += o.addresses;
        self.bytes += o.bytes;
        self.start += o.start;
    }

    /// Its counts, in the order of [`Without::FIELDS`].
    pub fn counts(&self) -> [u64; 4] {
        [self.interface_id, self.addresses, self.bytes, self.start]
    }

    /// The fields, as a flow log's format names them, of [`Without::counts`].
    pub const FIELDS: [&'static str; 4] = ["interface-id", "srcaddr/dstaddr", "bytes", "start"];
}

pub(crate) fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl LineCounts {
    /// Whether the records read in the period are all REJECT (some are, none was counted): a
    /// flow log of rejected traffic only (traffic type REJECT), or NAT gateways that saw
    /// nothing but traffic they rejected; either way what passed through them is unknown.
    pub fn rejected_only(&self) -> bool {
        self.counted == 0 && self.rejected > 0
    }

    pub fn add(&mut self, o: &LineCounts) {
        self.lines += o.lines;
        self.headers += o.headers;
        self.blank += o.blank;
        self.malformed += o.malformed;
        self.nodata += o.nodata;
        self.skipdata += o.skipdata;
        self.rejected += o.rejected;
        self.outside_time += o.outside_time;
        self.undated += o.undated;
        self.counted += o.counted;
        self.duplicate_flow_log += o.duplicate_flow_log;
        self.without.add(&o.without);
    }
    /// Move records set aside as a second flow log's (accepted, rejected) to their bucket.
    pub fn set_aside_duplicates(&mut self, accepted: u64, rejected: u64) {
        let accepted = accepted.min(self.counted);
        let rejected = rejected.min(self.rejected);
        self.counted -= accepted;
        self.rejected -= rejected;
        self.duplicate_flow_log += accepted + rejected;
    }
    /// Sum of all reasons; equals `lines` when nothing was lost.
    pub fn accounted(&self) -> u64 {
        self.headers
            + self.blank
            + self.malformed
            + self.nodata
            + self.skipdata
            + self.rejected
            + self.outside_time
            + self.undated
            + self.counted
            + self.duplicate_flow_log
    }
}

/// One malformed line's location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

/// Everything known about one input file (or object) after reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStats {
    pub path: String,
    /// How the input was encoded; `""` in JSON for an input that could not be opened.
    #[serde(with = "format_or_empty")]
    pub format: Option<crate::source::Encoding>,
    pub size: u64,
    pub counts: LineCounts,
    pub malformed_examples: Vec<BadLine>,
    /// Set when the input could not be read to its end (truncated gzip, broken Parquet,
    /// I/O error): the counts cover what was read before.
    pub error: Option<String>,
    /// What kind of failure `error` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<crate::source::FailureKind>,
    pub skipdata_windows: u64,
    /// The S3 object's ETag, for objects read from S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Set when the input is one of flowcost's own outputs (a report, a CSV table, a partial
    /// result found among the logs): not read, no line counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<crate::report::own::OwnOutput>,
}

impl FileStats {
    /// Whether the input was read in full and every line of it but headers and blank lines
    /// is malformed (at least one): no flow log, whatever its name says.
    pub fn holds_no_record(&self) -> bool {
        let c = &self.counts;
        (self.error.is_none() && self.skipped.is_none())
            && c.malformed > 0
            && c.malformed + c.headers + c.blank == c.lines
    }

    /// Mark an input that [`FileStats::holds_no_record`] as one not read
    /// ([`crate::source::FailureKind::NoRecord`]), saying why by its first malformed line:
    /// its lines stay in the line counts, and the run is incomplete, where they were malformed
    /// lines at the foot of a report with exit 0.
    fn mark_no_record(&mut self) {
        if !self.holds_no_record() {
            return;
        }
        let first = (self.malformed_examples.first())
            .map(|b| format!(" (line {}: {})", b.line, b.reason))
            .unwrap_or_default();
        self.failure = Some(crate::source::FailureKind::NoRecord);
        self.error = Some(format!(
            "none of its {} lines is a flow-log record{first}",
            self.counts.malformed
        ));
    }

    /// The fields that every record of the input that would count lacks, as a flow log's
    /// format names them ([`Without::FIELDS`]; records without a `start` under a time filter
    /// are `undated`, not counted): what a flow log whose custom format leaves them out
    /// writes. Empty where no record would count, or where some record has each field.
    pub fn lacking(&self) -> Vec<&'static str> {
        let c = &self.counts;
        let [interface, addresses, bytes, start] = c.without.counts();
        let records = [c.counted, c.counted, c.counted, c.counted + c.undated];
        let without = [interface, addresses, bytes, start + c.undated];
        (Without::FIELDS.iter().zip(records.into_iter().zip(without)))
            .filter(|(_, (n, w))| *n > 0 && w >= n)
            .map(|(f, _)| *f)
            .collect()
    }

    /// Mark an input read in full whose every record lacks a field the figures need
    /// ([`FileStats::lacking`]) as one not read
    /// ([`crate::source::FailureKind::LackingFields`]): its records stay counted (they still
    /// show which ENIs translate addresses and who their clients are), but what they lack is
    /// missing from the figures, which a report of zero bytes with exit 0 would hide.
    pub fn mark_lacking(&mut self) {
        if self.error.is_some() || self.skipped.is_some() {
            return;
        }
        let lacking = self.lacking();
        let Some((last, rest)) = lacking.split_last() else {
            return;
        };
        let fields = match rest.is_empty() {
            true => last.to_string(),
            false => format!("{} or {last}", rest.join(", ")),
        };
        self.failure = Some(crate::source::FailureKind::LackingFields);
        self.error = Some(format!(
            "none of its {} records has {fields}, which the figures need (the flow log's format leaves {} out)",
            self.counts.counted + self.counts.undated,
            if lacking.len() == 1 { "it" } else { "them" }
        ));
    }

    /// [`FileStats::mark_no_record`] and [`FileStats::mark_lacking`]: an input read in full
    /// that is of no use to the figures becomes a failed one.
    pub fn mark_unusable(&mut self) {
        self.mark_no_record();
        self.mark_lacking();
    }
}

/// [`FileStats::format`] in JSON: the encoding's name, or `""` when unknown.
mod format_or_empty {
    use crate::source::Encoding;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Encoding>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(e) => e.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Encoding>, D::Error> {
        let name = String::deserialize(d)?;
        if name.is_empty() {
            return Ok(None);
        }
        Encoding::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&name)).map(Some)
    }
}

/// ECR pull window state of one ENI: S3 download bytes by record start, kept only while
/// inside `[first, first + window)`. Merging keeps the same invariant, so it is associative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullWindow {
    pub first: i64,
    pub entries: Vec<(i64, u64)>,
}

impl Default for PullWindow {
    fn default() -> Self {
        PullWindow {
            first: i64::MAX,
            entries: Vec::new(),
        }
    }
}

impl PullWindow {
    fn observe(&mut self, t: i64, window: i64) {
        if t < self.first {
            self.first = t;
            let limit = t.saturating_add(window);
            self.entries.retain(|e| e.0 < limit);
        }
    }
    fn add(&mut self, t: i64, bytes: u64, window: i64) {
        self.observe(t, window);
        if t < self.first.saturating_add(window) {
            match self.entries.iter_mut().find(|e| e.0 == t) {
                Some(e) => e.1 += bytes,
                None => {
                    clients::grow(&mut self.entries);
                    self.entries.push((t, bytes))
                }
            }
        }
    }
    fn merge(&mut self, o: PullWindow, window: i64) {
        self.observe(o.first, window);
        for (t, b) in o.entries {
            self.add(t, b, window);
        }
    }
    /// Bytes in the window.
    pub fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.1).sum()
    }
}

/// A name shared by many ENIs (subnet, AZ, VPC, ECS cluster or service), stored once per
/// accumulator ([`Accumulator::names`]).
pub type Name = std::sync::Arc<str>;

/// Descriptive fields of an ENI, from the first record that carried each (the smallest
/// value, so that merging is order-independent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(deserialize_with = "interned::name")]
    pub subnet: Option<Name>,
    #[serde(deserialize_with = "interned::name")]
    pub az: Option<Name>,
    #[serde(deserialize_with = "interned::name")]
    pub vpc: Option<Name>,
    pub region: Option<u16>,
    #[serde(deserialize_with = "interned::name")]
    pub ecs_cluster: Option<Name>,
    #[serde(deserialize_with = "interned::name")]
    pub ecs_service: Option<Name>,
    pub ecs_task: Option<Box<str>>,
}

impl Meta {
    /// Keep the least of each name seen: the record's subnet, AZ, VPC and ECS names.
    #[inline(always)]
    fn settle_names(&mut self, r: &Record<'_>, names: &mut rustc_hash::FxHashSet<Name>) {
        set_name(&mut self.subnet, r.name(Field::SubnetId), names);
        set_name(&mut self.az, r.name(Field::AzId), names);
        set_name(&mut self.vpc, r.name(Field::VpcId), names);
        set_name(&mut self.ecs_cluster, r.name(Field::EcsClusterName), names);
        set_name(&mut self.ecs_service, r.name(Field::EcsServiceName), names);
        set_once(&mut self.ecs_task, r.name(Field::EcsTaskId));
    }
}

/// Names read back (spilled runs, partial files) are shared through a table of each thread:
/// a subnet, AZ or VPC is named by thousands of ENIs, and reading one back is then a lookup,
/// not two allocations and a copy (what reading an `Arc<str>` costs).
mod interned {
    use std::cell::RefCell;

    use serde::de::{Deserializer, Error, Unexpected, Visitor};

    use super::Name;

    /// Names a thread keeps at most; past that, a name read is its own (a file of hostile
    /// names cannot grow the table without bound).
    const MAX: usize = 1 << 14;

    /// Names a thread read last, compared by their bytes before the table is asked: the
    /// ENIs of a run are read in order, and their names repeat from one to the next (a VPC,
    /// a few AZs and subnets), so most reads neither check UTF-8 nor hash.
    const RECENT: usize = 16;

    thread_local! {
        static NAMES: RefCell<rustc_hash::FxHashSet<Name>> = RefCell::default();
        static RECENT_NAMES: RefCell<(Vec<Name>, usize)> = RefCell::default();
    }

    /// The name of bytes `b` (`None` if they are not UTF-8), shared as [`intern`] shares it.
    fn intern_bytes(b: &[u8]) -> Option<Name> {
        RECENT_NAMES.with_borrow_mut(|(recent, next)| {
            if let Some(n) = recent.iter().find(|n| n.as_bytes() == b) {
                return Some(n.clone());
            }
            let n = intern(std::str::from_utf8(b).ok()?);
            match recent.get_mut(*next) {
                Some(slot) => *slot = n.clone(),
                None => recent.push(n.clone()),
            }
            *next = (*next + 1) % RECENT;
            Some(n)
        })
    }

    fn intern(s: &str) -> Name {
        NAMES.with_borrow_mut(|names| match names.get(s) {
            Some(n) => n.clone(),
            None => {
                let n: Name = s.into();
                if names.len() < MAX {
                    names.insert(n.clone());
                }
                n
            }
        })
    }

    struct NameVisitor;

    impl<'de> Visitor<'de> for NameVisitor {
        type Value = Option<Name>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a name or nothing")
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        /// Read as bytes (written as a string: the same encoding), checked as UTF-8 only
        /// when no recent name has them.
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_bytes(self)
        }
        fn visit_bytes<E: Error>(self, b: &[u8]) -> Result<Self::Value, E> {
            match intern_bytes(b) {
                Some(n) => Ok(Some(n)),
                None => Err(E::invalid_value(Unexpected::Bytes(b), &self)),
            }
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(intern(s)))
        }
    }

    /// An optional name, shared with the same name read before on this thread.
    pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Name>, D::Error> {
        d.deserialize_option(NameVisitor)
    }

    #[cfg(test)]
    mod tests {
        use super::super::Meta;

        /// A name read back equals the one written, and two reads share one allocation;
        /// past the table's bound names are still read whole.
        #[test]
        fn names_read_back_are_equal_and_shared() {
            let m = Meta {
                subnet: Some("subnet-0a1b".into()),
                az: Some("use1-az4".into()),
                ecs_service: Some("<script>".into()),
                ..Meta::default()
            };
            let bytes = postcard::to_allocvec(&m).unwrap();
            let a: Meta = postcard::from_bytes(&bytes).unwrap();
            let b: Meta = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(a, m);
            assert!(std::sync::Arc::ptr_eq(
                a.subnet.as_ref().unwrap(),
                b.subnet.as_ref().unwrap()
            ));
            let json = serde_json::to_string(&m).unwrap();
            let c: Meta = serde_json::from_str(&json).unwrap();
            assert_eq!(c, m);
            let escaped: Meta = serde_json::from_str(
                r#"{"subnet":"a\"b","az":null,"vpc":null,"region":null,"ecs_cluster":null,"ecs_service":null,"ecs_task":null}"#,
            )
            .unwrap();
            assert_eq!(escaped.subnet.as_deref(), Some("a\"b"));
            for i in 0..super::MAX + 10 {
                let m = Meta {
                    vpc: Some(format!("vpc-{i}").into()),
                    ..Meta::default()
                };
                let back: Meta = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
                assert_eq!(back, m);
            }
            super::NAMES.with_borrow(|n| assert!(n.len() <= super::MAX));
        }

        /// Names are read as bytes and checked as UTF-8 unless a recent name has the same
        /// bytes: bytes that are not UTF-8 are refused, before and after recent names, and
        /// names read more times than the recent ones hold are still shared and whole.
        #[test]
        fn names_that_are_not_utf8_are_refused() {
            let m = Meta {
                subnet: Some("s\u{e9}q".into()),
                ..Meta::default()
            };
            let good = postcard::to_allocvec(&m).unwrap();
            let at = good
                .windows(4)
                .position(|w| w == "s\u{e9}q".as_bytes())
                .unwrap();
            let mut bad = good.clone();
            bad[at + 1] = 0xff; // half of the two-byte é, then a lone continuation byte
            assert!(postcard::from_bytes::<Meta>(&bad).is_err());
            assert_eq!(postcard::from_bytes::<Meta>(&good).unwrap(), m);
            assert!(postcard::from_bytes::<Meta>(&bad).is_err());
            let mut first = None;
            for i in 0..3 * super::RECENT {
                let other = Meta {
                    az: Some(format!("az-{i}").into()),
                    ..Meta::default()
                };
                let back: Meta =
                    postcard::from_bytes(&postcard::to_allocvec(&other).unwrap()).unwrap();
                assert_eq!(back, other);
                let again: Meta = postcard::from_bytes(&good).unwrap();
                assert_eq!(again, m);
                let n = again.subnet.unwrap();
                let kept = first.get_or_insert_with(|| n.clone());
                assert!(std::sync::Arc::ptr_eq(kept, &n));
            }
        }
    }
}

impl Meta {
    fn merge(&mut self, o: Meta) {
        // min of the options gives a result independent of merge order
        fn pick<T: Ord>(a: &mut Option<T>, b: Option<T>) {
            if let Some(b) = b {
                if a.as_ref().is_none_or(|a| b < *a) {
                    *a = Some(b);
                }
            }
        }
        pick(&mut self.subnet, o.subnet);
        pick(&mut self.az, o.az);
        pick(&mut self.vpc, o.vpc);
        pick(&mut self.ecs_cluster, o.ecs_cluster);
        pick(&mut self.ecs_service, o.ecs_service);
        pick(&mut self.ecs_task, o.ecs_task);
        if let Some(r) = o.region {
            if self.region.is_none_or(|s| r < s) {
                self.region = Some(r);
            }
        }
    }
}

/// Whether two short strings are equal ([`crate::format::same_bytes`]).
#[inline]
fn same(a: &str, b: &str) -> bool {
    crate::format::same_bytes(a.as_bytes(), b.as_bytes())
}

/// Keep the least of the values seen (a value equal to the kept one, the usual case, is
/// settled without ordering them).
#[inline]
fn set_once(slot: &mut Option<Box<str>>, v: Option<&str>) {
    if let Some(v) = v {
        if slot.as_deref().is_none_or(|s| !same(v, s) && v < s) {
            *slot = Some(v.into());
        }
    }
}

/// [`set_once`] for a shared name, interned in `names`. Inlined (five calls a record, most
/// of them a comparison that changes nothing); the interning is not.
#[inline(always)]
fn set_name(slot: &mut Option<Name>, v: Option<&str>, names: &mut rustc_hash::FxHashSet<Name>) {
    if let Some(v) = v {
        if slot.as_deref().is_none_or(|s| !same(v, s) && v < s) {
            *slot = Some(intern_name(v, names));
        }
    }
}

/// `v` as the name `names` holds, added if new.
#[inline(never)]
fn intern_name(v: &str, names: &mut rustc_hash::FxHashSet<Name>) -> Name {
    match names.get(v) {
        Some(n) => n.clone(),
        None => {
            let n: Name = v.into();
            names.insert(n.clone());
            n
        }
    }
}

/// Small sorted set with a cap (beyond it, `overflow` says more were seen).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedSet {
    pub items: Vec<IpAddr>,
    pub overflow: bool,
}

impl CappedSet {
    /// Keeps the `cap` smallest addresses seen, so the kept set is independent of order;
    /// `true` when `ip` was not in the set and now is.
    #[inline(always)]
    fn insert(&mut self, ip: &IpAddr, cap: usize) -> bool {
        // most inserts repeat an ENI's one local address: an equality test answers them
        if self.items.first() == Some(ip) {
            return false;
        }
        self.insert_searching(ip, cap)
    }

    /// [`CappedSet::insert`] past its first item.
    #[inline(never)]
    fn insert_searching(&mut self, ip: &IpAddr, cap: usize) -> bool {
        match self.items.binary_search(ip) {
            Ok(_) => false,
            Err(pos) if pos < cap => {
                self.items.insert(pos, *ip);
                if self.items.len() > cap {
                    self.items.pop();
                    self.overflow = true;
                }
                true
            }
            Err(_) => {
                self.overflow = true;
                false
            }
        }
    }
    fn merge(&mut self, o: CappedSet, cap: usize) {
        self.overflow |= o.overflow;
        for ip in o.items {
            self.insert(&ip, cap);
        }
    }
}

/// The time span of an ENI's records, without the space of two `Option`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    first: i64,
    last: i64,
}

impl Default for Span {
    fn default() -> Self {
        Span {
            first: i64::MAX,
            last: i64::MIN,
        }
    }
}

impl Span {
    /// The earliest record start, if any record had one.
    pub fn first(&self) -> Option<i64> {
        (self.first != i64::MAX).then_some(self.first)
    }
    /// The latest record end (or start), if any.
    pub fn last(&self) -> Option<i64> {
        (self.last != i64::MIN).then_some(self.last)
    }
    /// Seconds from its first start to its last end; 0 for a span of nothing.
    pub fn seconds(&self) -> u64 {
        (self.first().zip(self.last())).map_or(0, |(f, l)| l.saturating_sub(f).max(0) as u64)
    }
    /// Widen the span to cover `o` too.
    pub fn merge(&mut self, o: Span) {
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }

    /// Widen the span to a window from `start` to `end` (or `start` alone).
    fn take(&mut self, start: i64, end: Option<i64>) {
        self.first = self.first.min(start);
        self.last = self.last.max(end.unwrap_or(start).max(start));
    }
}

/// What an ENI's records with two private ends add up to: the private legs it translated
/// (a NAT gateway's) and its internal traffic. Most ENIs (Fargate tasks) have none, so this
/// lives in its own allocation, made on the first such record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateSide {
    /// Records translated by this ENI (private `srcaddr`/`dstaddr`, public `pkt-*` end): the
    /// private legs of a NAT gateway. `cell → bytes`.
    pub private: Cells,
    /// The same private legs by client address, one entry per client with every class and
    /// direction in it (fewer, denser entries than a key per cell): `client → [class][dir] →
    /// bytes`.
    pub by_client: FxMap<IpAddr, Client>,
    pub internal_bytes: u64,
    pub internal_records: u64,
    /// Records showing NAT address translation (evidence for detection).
    pub translated_records: u64,
    /// The longest `end - start` of those records (at most an hour): about the flow log's
    /// aggregation interval (60 or 600 seconds), which idle gaps must exceed to mean anything.
    #[serde(default)]
    pub longest_record: i64,
    /// Distinct private peers in internal records (evidence for v2 candidates).
    pub peers: CappedSet,
    /// NAT64 legs: records between an IPv6 address and a `64:ff9b::/96` one (the IPv4
    /// remote it holds, [`crate::format::nat64_v4`]), by that remote's class: `cell → bytes`.
    /// On a NAT gateway's ENI the private legs of its IPv6 clients, elsewhere a client's own
    /// view of that traffic; which it is, the analysis decides.
    pub nat64: Cells,
    pub nat64_records: u64,
    /// The other ends of the NAT64 legs (the addresses that are not `64:ff9b::`), the
    /// [`MAX_LOCAL_IPS`] least: on a client's own ENI its own IPv6 address, to which the
    /// analysis joins the NAT gateways' NAT64 clients (their subnet, AZ and ECS names), as it
    /// joins IPv4 clients by [`EniAgg::local_ips`]; on a NAT gateway's, some of its clients.
    #[serde(default)]
    pub nat64_ends: CappedSet,
}

impl PrivateSide {
    /// A translated private leg's share of the side's own state: its bytes in the cell of
    /// its day (of start `t`), class and direction, its count, and its `end - start`
    /// (`longest`, already within 0..=3600). Its client's share is [`Client::record`].
    fn translated(&mut self, t: Option<i64>, class: Class, dir: Dir, bytes: u64, longest: i64) {
        let day = t.map_or(NO_DAY, |t| t.div_euclid(DAY) as u32);
        self.private.add(day, class, dir, bytes);
        self.translated_records += 1;
        self.longest_record = self.longest_record.max(longest);
    }

    /// A NAT64 leg's share of the side's own state, as [`PrivateSide::translated`]'s: its
    /// bytes in its NAT64 cell, its count, its `end - start`, and its client as a peer (as an
    /// internal record's: evidence for a NAT gateway of IPv6 clients alone, which the logs
    /// cannot show translating).
    fn nat64_leg(
        &mut self,
        t: Option<i64>,
        class: Class,
        dir: Dir,
        bytes: u64,
        longest: i64,
        client: &IpAddr,
    ) {
        let day = t.map_or(NO_DAY, |t| t.div_euclid(DAY) as u32);
        self.nat64.add(day, class, dir, bytes);
        self.nat64_records += 1;
        self.longest_record = self.longest_record.max(longest);
        self.peers.insert(client, MAX_PEERS);
    }

    /// A leg's share of its client's state (cells, sessions, openings; `at` its start and
    /// the task stretch it falls in), under the rules the side's longest record asks for.
    fn client_leg(
        &mut self,
        client: IpAddr,
        at: Option<(i64, u32)>,
        class: Class,
        dir: Dir,
        bytes: u64,
        window: i64,
    ) {
        let rules = StartRules::for_longest_record(self.longest_record);
        (self.by_client.entry(client).or_default()).record(at, class, dir, bytes, window, rules)
    }

    fn merge(&mut self, o: PrivateSide, window: i64) {
        self.private.merge(o.private);
        self.longest_record = self.longest_record.max(o.longest_record);
        let rules = StartRules::for_longest_record(self.longest_record);
        for (ip, client) in o.by_client {
            self.by_client
                .entry(ip)
                .or_default()
                .merge(client, window, rules);
        }
        self.internal_bytes += o.internal_bytes;
        self.internal_records += o.internal_records;
        self.translated_records += o.translated_records;
        self.peers.merge(o.peers, MAX_PEERS);
        self.nat64.merge(o.nat64);
        self.nat64_records += o.nat64_records;
        self.nat64_ends.merge(o.nat64_ends, MAX_LOCAL_IPS);
    }
}

static NO_PRIVATE_SIDE: std::sync::LazyLock<PrivateSide> =
    std::sync::LazyLock::new(PrivateSide::default);

/// All that one ENI's records add up to. Kept small (one per Fargate task start): the
/// private-side state is boxed apart and made only when needed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniAgg {
    pub span: Span,
    /// The span of the ENI's records that were not counted but show its flow log on: its
    /// NODATA windows and its REJECT records (inside the time filter). With [`EniAgg::span`],
    /// the time its logs cover ([`EniAgg::logged`]): a NAT gateway quiet at the ends of a
    /// period is still logged there, and projects from all of it (ACCOUNTING §6).
    pub quiet: Span,
    pub records: u64,
    /// Records with one private and one public end: `cell → bytes`. On a NAT ENI these are
    /// public legs; elsewhere, the ENI's own traffic with the remote.
    pub public: Cells,
    /// Shared, so that the analysis keeps a NAT gateway's aggregate (its clients' state is
    /// most of the run's memory) without copying it; written only while unshared.
    side: Option<std::sync::Arc<PrivateSide>>,
    pub reject_bytes: u64,
    pub reject_records: u64,
    /// Private addresses seen as this ENI's own end of public-side records.
    pub local_ips: CappedSet,
    /// A `--nat-ip` address appeared in this ENI's records.
    pub has_nat_ip: bool,
    pub meta: Meta,
    pub pull: PullWindow,
    /// S3-range bytes whose NAT region was unknown (cannot split `s3`/`s3-other-region`).
    pub s3_unknown_region: u64,
    pub no_bytes_records: u64,
    /// Same-region S3 upload bytes of this ENI's own records by `traffic-path`: `1` (through
    /// a resource in the VPC, such as a NAT gateway), `2`/`7` (gateway endpoint), other
    /// values, not logged.
    pub s3_egress_by_path: [u64; 4],
    /// Bytes of this ENI's own records with S3 of another region than the record's, by that
    /// region (its index in the ip-ranges document): on a NAT gateway whose region was taken
    /// wrongly, where its S3 traffic really went.
    pub s3_elsewhere: RegionBytes,
    /// Translated private legs not yet added to their clients ([`Legs`]): the account
    /// stage's alone, settled ([`EniAgg::settle`]) before the aggregate is merged, moved out
    /// of its accumulator or read; never written.
    #[serde(skip)]
    legs: Legs,
}

impl EniAgg {
    /// Ask the memory for the aggregate's cache lines (a hint, nothing is read).
    #[inline]
    pub(crate) fn prefetch(&self) {
        prefetch_value(self);
    }

    /// Ask the memory for what the aggregate points to and a record reads first: the first
    /// line of its local addresses, and its private side (a hint, as [`EniAgg::prefetch`]).
    #[inline]
    pub(crate) fn prefetch_heap(&self) {
        prefetch(self.local_ips.items.as_ptr().cast::<u8>());
        if let Some(side) = &self.side {
            prefetch_value(&**side);
        }
    }

    /// Then what the private side points to and a record reads first: its peers' first line.
    #[inline]
    fn prefetch_side_heap(&self) {
        if let Some(side) = &self.side {
            prefetch(side.peers.items.as_ptr().cast::<u8>());
        }
    }

    /// The time the ENI's logs cover: its counted records' span widened by its NODATA
    /// windows and REJECT records ([`EniAgg::quiet`]).
    pub fn logged(&self) -> Span {
        let mut s = self.span;
        s.merge(self.quiet);
        s
    }

    /// The private-side state (empty for an ENI without private-to-private records).
    pub fn private_side(&self) -> &PrivateSide {
        assert!(
            self.legs.is_empty(),
            "an aggregate read before it was settled"
        );
        self.side.as_deref().unwrap_or(&NO_PRIVATE_SIDE)
    }

    /// A counted record's share of the ENI's own state: its count, span, pull-window
    /// observation and least region.
    #[inline(always)]
    fn observe(&mut self, r: &Record<'_>, region: Option<u16>, window: i64) {
        self.records += 1;
        if r.bytes.is_none() {
            self.no_bytes_records += 1;
        }
        if let Some(t) = r.start {
            self.span.first = self.span.first.min(t);
            self.pull.observe(t, window);
        }
        if let Some(t) = r.end.or(r.start) {
            self.span.last = self.span.last.max(t);
        }
        if self.meta.region.is_none() || region.is_some_and(|r| Some(r) < self.meta.region) {
            self.meta.region = region.or(self.meta.region);
        }
    }

    /// Add the legs gathered ([`Legs`]) to their clients.
    pub fn settle(&mut self, window: i64) {
        self.settle_guessing(window, None);
    }

    /// [`EniAgg::settle`], leaving out the timelines of the clients `guess` holds.
    #[inline(never)]
    fn settle_guessing(&mut self, window: i64, guess: Option<&mut Guess>) {
        if !self.legs.is_empty() {
            let side = std::sync::Arc::make_mut(self.side.get_or_insert_with(Default::default));
            self.legs.settle(side, window, guess);
        }
    }

    /// Whether this ENI's local addresses may be taken for logged ENIs' ([`Guess`]): it is
    /// not a NAT by what it has shown so far, and its local set holds every address seen.
    fn looks_logged(&self) -> bool {
        !self.has_nat_ip
            && !self.local_ips.overflow
            && self.legs.is_empty()
            && self.private_side().translated_records == 0
    }

    /// This aggregate with `side` for its private side (for tests of the analysis).
    #[cfg(test)]
    pub fn set_private_side(&mut self, side: PrivateSide) {
        *self.private_side_mut() = side;
    }

    /// An aggregate whose records show `n` translated records (for tests of the analysis).
    #[cfg(test)]
    pub fn translating(n: u64) -> EniAgg {
        let mut a = EniAgg::default();
        a.private_side_mut().translated_records = n;
        a
    }

    fn private_side_mut(&mut self) -> &mut PrivateSide {
        std::sync::Arc::make_mut(self.side.get_or_insert_with(Default::default))
    }

    /// Whether an aggregate read from elsewhere (a partial file) is one this code could have
    /// made: cell keys naming a class, a region of the `regions` known, byte counts within
    /// the run bound, client states in shape. What would otherwise index out of bounds or
    /// wrap a sum is refused here, so the analysis never meets it.
    pub fn check(&self, regions: usize) -> Result<(), &'static str> {
        let cells_ok = |m: &Cells| m.values().all(|v| v <= RUN_BYTES_MAX);
        if !cells_ok(&self.public) {
            return Err("a cell past the byte bound");
        }
        let elsewhere = self.s3_elsewhere.0.iter().map(|e| e.0);
        if (self.meta.region.into_iter().chain(elsewhere)).any(|r| r as usize >= regions) {
            return Err("a region the ip-ranges document does not have");
        }
        let small = |v: u64| v <= RUN_BYTES_MAX;
        if ![self.reject_bytes, self.s3_unknown_region]
            .into_iter()
            .chain(self.s3_egress_by_path)
            .chain(self.s3_elsewhere.0.iter().map(|e| e.1))
            .chain(self.pull.entries.iter().map(|e| e.1))
            .all(small)
        {
            return Err("a byte count past the bound");
        }
        let side = self.private_side();
        if !cells_ok(&side.private) || !cells_ok(&side.nat64) || !small(side.internal_bytes) {
            return Err("a private-leg cell past the byte bound");
        }
        for c in side.by_client.values() {
            c.check()?;
        }
        Ok(())
    }

    /// The non-zero private-leg cells of every client: `(client, class, direction, bytes)`.
    pub fn client_cells(&self) -> impl Iterator<Item = (IpAddr, Class, Dir, u64)> + '_ {
        self.clients()
            .flat_map(|(ip, cells)| cells_present(cells).map(move |(c, d, b)| (ip, c, d, b)))
    }

    /// The clients of its private legs with their bytes by class and direction, a client at
    /// a time (in no order; see [`cells_present`]).
    pub fn clients(&self) -> impl Iterator<Item = (IpAddr, &ClientCells)> + '_ {
        (self.private_side().by_client.iter()).map(|(ip, client)| (*ip, &client.cells))
    }
}

/// A client's cells that hold bytes: `(class, direction, bytes)`.
pub fn cells_present(cells: &ClientCells) -> impl Iterator<Item = (Class, Dir, u64)> + '_ {
    Class::ALL.into_iter().flat_map(move |class| {
        [Dir::Upload, Dir::Download]
            .into_iter()
            .map(move |dir| (class, dir, cells[class.index()][dir as usize]))
            .filter(|c| c.2 > 0)
    })
}

impl EniAgg {
    /// Fold `o` (the same ENI's aggregate from other input) into `self`; `window` is the
    /// pull window. Associative and commutative.
    pub fn merge(&mut self, mut o: EniAgg, window: i64) {
        self.settle(window);
        o.settle(window);
        self.span.merge(o.span);
        self.quiet.merge(o.quiet);
        self.records += o.records;
        self.public.merge(o.public);
        match (&mut self.side, o.side) {
            (Some(a), Some(b)) => {
                let b = std::sync::Arc::try_unwrap(b).unwrap_or_else(|b| (*b).clone());
                std::sync::Arc::make_mut(a).merge(b, window)
            }
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
        self.reject_bytes += o.reject_bytes;
        self.reject_records += o.reject_records;
        self.local_ips.merge(o.local_ips, MAX_LOCAL_IPS);
        self.has_nat_ip |= o.has_nat_ip;
        self.meta.merge(o.meta);
        self.pull.merge(o.pull, window);
        self.s3_unknown_region += o.s3_unknown_region;
        self.no_bytes_records += o.no_bytes_records;
        for (a, b) in self.s3_egress_by_path.iter_mut().zip(o.s3_egress_by_path) {
            *a += b;
        }
        for (r, b) in o.s3_elsewhere.0 {
            self.s3_elsewhere.add(r, b);
        }
    }
}

/// Bytes by region (an index in the ip-ranges document), in the order first met: a few
/// regions at most, so a short list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionBytes(pub Vec<(u16, u64)>);

impl RegionBytes {
    pub fn add(&mut self, region: u16, bytes: u64) {
        match self.0.iter_mut().find(|(r, _)| *r == region) {
            Some((_, b)) => *b += bytes,
            None => self.0.push((region, bytes)),
        }
    }
}

/// Records of one kind the engine cannot place, counted for data quality.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oddities {
    /// Counted records missing `srcaddr` or `dstaddr`.
    pub no_address: u64,
    /// Counted records with two public ends (not from a VPC ENI's point of view).
    pub both_public: u64,
    /// Counted records without `interface-id`.
    pub no_interface: u64,
    /// REJECT records without `interface-id`, and their bytes (in the rejected totals).
    #[serde(default)]
    pub no_interface_rejected: u64,
    #[serde(default)]
    pub no_interface_rejected_bytes: u64,
    /// Records whose `region` is not a region of the ip-ranges data (the input's path or
    /// `--region` was used for them).
    #[serde(default)]
    pub unknown_region: u64,
}

impl Oddities {
    fn merge(&mut self, o: &Oddities) {
        self.no_address += o.no_address;
        self.both_public += o.both_public;
        self.no_interface += o.no_interface;
        self.no_interface_rejected += o.no_interface_rejected;
        self.no_interface_rejected_bytes += o.no_interface_rejected_bytes;
        self.unknown_region += o.unknown_region;
    }
}

/// An ENI id as a map key, held inline when it is short (AWS ids, `eni-` and 17 hex digits,
/// are 21 bytes; 26 with a flow-log tag), so comparing keys during a lookup reads no second
/// allocation. It hashes,
/// compares and borrows as the `str` it holds, so maps keyed by it are searched with `&str`.
#[derive(Clone)]
pub struct EniKey(KeyRepr);

/// The longest key held inline.
const INLINE: usize = 30;

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl EniKey {
    pub fn new(s: &str) -> EniKey {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            EniKey(KeyRepr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            EniKey(KeyRepr::Heap(s.into()))
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: `new` is the only constructor; it copies a whole `&str` into the first
            // `len` bytes, which therefore are valid UTF-8 (the fields are private).
            KeyRepr::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            KeyRepr::Heap(s) => s,
        }
    }
}

impl PartialOrd for EniKey {
    fn partial_cmp(&self, o: &EniKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for EniKey {
    fn cmp(&self, o: &EniKey) -> std::cmp::Ordering {
        self.as_str().cmp(o.as_str())
    }
}

impl std::ops::Deref for EniKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for EniKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for EniKey {
    fn eq(&self, o: &EniKey) -> bool {
        self.as_str() == o.as_str()
    }
}

impl Eq for EniKey {}

impl std::hash::Hash for EniKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl std::fmt::Debug for EniKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The mergeable state of the account stage: what the records add up to per ENI (the
/// [`EniTable`]) and what the inputs were ([`InputStats`]), under the run's settings.
#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    /// The settings the records were accumulated with.
    pub run: Arc<RunConfig>,
    pub table: EniTable,
    pub inputs: InputStats,
    /// ENIs whose aggregates may hold legs not yet added to their clients ([`Legs`]), and
    /// how many legs they hold together (at most [`LEGS_HELD`]).
    pending: Vec<EniKey>,
    legs_held: usize,
    /// Whether those legs wait for [`Accumulator::settle`] (the engine's accumulators, so
    /// that a batch spans inputs), rather than being settled as each input's sink closes.
    defer: bool,
    /// The clients whose timelines are left out, when the run allows it ([`Guess`]).
    pub guess: Option<Guess>,
    /// The remotes' ip-ranges lookups, kept from input to input (handed to each input's
    /// sink, and back); no part of what the records add up to.
    lookups: LookupCache,
    /// What the open input's counted records lacked so far ([`FileSink::note_missing`]).
    open: OpenInput,
}

/// What the counted records of an accumulator's open input lacked: the accumulator's counts
/// of records without an interface and without an address when it opened, whether a record
/// of it had bytes (the first to have some takes a grant of the run's budget), and how many
/// had neither an interface nor an address (the accumulator counts those of an interface
/// only). With the hours noted (a counted record with a start notes one), what
/// [`LineCounts::without`] is made of when the input's sink closes, at no cost to a record.
/// (Here, not in the sink: the sink's fields are the hot loop's.)
#[derive(Clone, Copy, Debug, Default)]
struct OpenInput {
    odd_before: (u64, u64),
    some_bytes: bool,
    unaddressed: u64,
}

/// The most addresses a [`Guess`] holds: past it, no more are taken for logged ENIs' (the
/// guess only saves work; this bounds its memory).
const GUESS_MAX: usize = 1 << 20;

/// The clients' timelines (sessions and openings, [`Client`]) are read by the analysis only
/// for the addresses no logged non-NAT ENI holds: the NAT-only clients. Where the tasks' own
/// ENIs are logged, as in a VPC-wide flow log, building them is most of the clients' work
/// and of a month's memory, for nothing. Which addresses end up held by a logged ENI is known
/// only at the end (an ENI keeps its eight smallest local addresses, and NATs are told by all
/// their records), so this is a guess: a client whose address is, when its legs are added, the
/// one local address so far of an ENI that [looks logged](EniAgg::looks_logged) (a task's ENI)
/// gets its cells only, and is remembered in `skipped`. The analysis checks the guess
/// ([`Guess::failed`]); where it failed, the run reads its inputs again building every
/// timeline.
#[derive(Clone, Debug, Default)]
pub struct Guess {
    /// IPv4 addresses seen as local addresses of ENIs that looked logged at the time.
    held: rustc_hash::FxHashSet<u32>,
    /// Clients whose timelines were left out.
    pub skipped: rustc_hash::FxHashSet<IpAddr>,
}

impl Guess {
    fn merge(&mut self, o: Guess) {
        self.held.extend(o.held);
        self.skipped.extend(o.skipped);
    }

    /// The one local address of an ENI that looks logged.
    fn hold(&mut self, ip: &IpAddr) {
        if let (IpAddr::V4(a), true) = (ip, self.held.len() < GUESS_MAX) {
            self.held.insert(u32::from(*a));
        }
    }

    /// An address no longer taken for a logged ENI's (its ENI showed another).
    fn release(&mut self, ip: &IpAddr) {
        if let IpAddr::V4(a) = ip {
            self.held.remove(&u32::from(*a));
        }
    }

    /// Whether the timeline of client `ip` is left out (and so remembered).
    pub(crate) fn skips(&mut self, ip: u32) -> bool {
        let skip = self.held.contains(&ip);
        if skip {
            self.skipped.insert(IpAddr::V4(ip.into()));
        }
        skip
    }

    /// The first client whose timeline was left out although the analysis needs it: an
    /// address of a NAT's clients (`nat_clients`) that no logged ENI holds (`seen`).
    pub fn failed<'a>(
        &self,
        mut nat_clients: impl Iterator<Item = &'a IpAddr>,
        seen: impl Fn(&IpAddr) -> bool,
    ) -> Option<IpAddr> {
        nat_clients
            .find(|ip| self.skipped.contains(*ip) && !seen(ip))
            .copied()
    }
}

/// Per-ENI aggregates, and the names they share. The aggregates sit in slots, in the order
/// their ENIs came, found by ENI through an index: a sink takes the aggregate of the ENI it
/// reads out of its slot and puts it back by the slot's number, so that a run of another
/// ENI's records costs one search of the index ([`FileSink`]).
#[derive(Clone, Debug, Default)]
pub struct EniTable {
    /// Each ENI's slot.
    index: FxMap<EniKey, u32>,
    /// Each ENI and its aggregate (boxed: the table stays small, a pointer per ENI, so
    /// growing it copies little); the aggregate is out only while a sink holds it.
    slots: Vec<(EniKey, Option<Box<EniAgg>>)>,
    /// Shared names (subnets, AZs, VPCs, ECS clusters and services), each stored once.
    pub names: rustc_hash::FxHashSet<Name>,
}

/// What the inputs were: each one's line accounting, the records that fit no ENI, the span
/// of the data, and the flow logs they come from.
#[derive(Clone, Debug, Default)]
pub struct InputStats {
    pub files: Vec<FileStats>,
    pub odd: Oddities,
    /// The span of every record with a `start`, inside the time filter or not: what the data
    /// covers, for messages about an empty time range.
    pub dated: Span,
    /// The flow logs the records are tagged with (see [`Params::flow_logs`]), and the most
    /// fields an input of each was written with.
    pub flow_logs: FlowLogs,
    pub flow_log_fields: Vec<u32>,
    /// The UTC hours (Unix seconds / 3600) in which some record inside the time filter starts,
    /// of any status. A long run of hours without one is time whose logs may be missing
    /// ([`crate::analysis::Period::gaps`] points such runs out): inside the filter only, so
    /// that daily partials merged without one of their days show that day as such.
    pub hours: std::collections::BTreeSet<u32>,
    /// A sample of the counted records' lines, to find records given twice.
    pub repeats: Repeats,
}

impl EniTable {
    /// How many ENIs the table holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table holds no ENI.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The slot of `eni`, made (with an empty aggregate) if the table has none.
    fn slot_of(&mut self, eni: &str) -> u32 {
        if let Some(&slot) = self.index.get(eni) {
            return slot;
        }
        self.push(EniKey::new(eni), Box::default())
    }

    /// A new ENI's slot, holding `agg`.
    fn push(&mut self, key: EniKey, agg: Box<EniAgg>) -> u32 {
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 ENIs in memory");
        self.index.insert(key.clone(), slot);
        self.slots.push((key, Some(agg)));
        slot
    }

    /// The slot of `eni`, if the table has it.
    #[inline]
    fn slot(&self, eni: &str) -> Option<u32> {
        self.index.get(eni).copied()
    }

    /// Ask the memory for the aggregate in `slot`, if no sink holds it (see
    /// [`FileSink::upcoming`]): a hint, nothing changes.
    #[inline]
    fn prefetch(&self, slot: u32) -> Option<&EniAgg> {
        let agg = self.slots.get(slot as usize)?.1.as_deref()?;
        agg.prefetch();
        Some(agg)
    }

    /// The aggregate of `eni`, if the table has it (and no sink holds it).
    pub fn get_mut(&mut self, eni: &str) -> Option<&mut EniAgg> {
        let slot = *self.index.get(eni)?;
        self.slots[slot as usize].1.as_deref_mut()
    }

    /// Add `agg` as `key`'s aggregate, replacing any it had.
    pub fn insert(&mut self, key: EniKey, agg: Box<EniAgg>) {
        match self.index.get(&*key) {
            Some(&slot) => self.slots[slot as usize].1 = Some(agg),
            None => {
                self.push(key, agg);
            }
        }
    }

    /// Every ENI and its aggregate, in no order. (No sink holds one: a sink borrows the
    /// whole accumulator, and puts its aggregate back when it closes.)
    pub fn iter(&self) -> impl Iterator<Item = (&EniKey, &EniAgg)> {
        (self.slots.iter()).map(|(k, a)| (k, a.as_deref().expect(HELD_BACK)))
    }

    /// Every ENI and its aggregate, moved out, in no order (the table is left empty).
    pub fn drain(&mut self) -> impl Iterator<Item = (EniKey, Box<EniAgg>)> {
        self.index.clear();
        (std::mem::take(&mut self.slots).into_iter()).map(|(k, a)| (k, a.expect(HELD_BACK)))
    }

    /// Fold another table of the same run in; `window` is the pull window.
    fn merge(&mut self, mut o: EniTable, window: i64) {
        for (k, v) in o.drain() {
            match self.get_mut(&k) {
                Some(a) => a.merge(*v, window),
                None => self.insert(k, v),
            }
        }
        self.names.extend(o.names);
    }

    /// Move out, sorted by ENI, the ENIs for which `stay` is false.
    pub fn take_sorted_except(
        &mut self,
        mut stay: impl FnMut(&str, &EniAgg) -> bool,
    ) -> Vec<(EniKey, Box<EniAgg>)> {
        let mut v = Vec::with_capacity(self.len());
        self.index.clear();
        for (k, a) in std::mem::take(&mut self.slots) {
            let a = a.expect(HELD_BACK);
            if stay(&k, &a) {
                self.insert(k, a);
            } else {
                v.push((k, a));
            }
        }
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Why every slot of a table read whole holds its aggregate.
const HELD_BACK: &str = "an aggregate put back by the sink that held it";

impl Extend<(EniKey, Box<EniAgg>)> for EniTable {
    fn extend<I: IntoIterator<Item = (EniKey, Box<EniAgg>)>>(&mut self, items: I) {
        for (k, a) in items {
            self.insert(k, a);
        }
    }
}

impl InputStats {
    fn merge(&mut self, mut o: InputStats) {
        self.files.extend(std::mem::take(&mut o.files));
        self.odd.merge(&o.odd);
        self.dated.merge(o.dated);
        if self.flow_logs.ids().is_empty() {
            self.flow_logs = o.flow_logs;
        }
        if self.flow_log_fields.len() < o.flow_log_fields.len() {
            self.flow_log_fields.resize(o.flow_log_fields.len(), 0);
        }
        for (a, b) in self.flow_log_fields.iter_mut().zip(o.flow_log_fields) {
            *a = (*a).max(b);
        }
        if self.hours.len() < o.hours.len() {
            std::mem::swap(&mut self.hours, &mut o.hours);
        }
        self.hours.extend(o.hours);
        self.repeats.merge(std::mem::take(&mut o.repeats));
    }
}

impl Accumulator {
    pub fn new(params: &Params) -> Self {
        Accumulator {
            run: params.run.clone(),
            table: EniTable::default(),
            inputs: InputStats {
                flow_logs: params.flow_logs.clone(),
                flow_log_fields: vec![0; params.flow_logs.ids().len()],
                ..Default::default()
            },
            pending: Vec::new(),
            legs_held: 0,
            defer: false,
            guess: params.guess_timelines.then(Guess::default),
            lookups: LookupCache::default(),
            open: OpenInput::default(),
        }
    }

    /// An accumulator of no ENIs holding only what `inputs` say (a partial file's statistics).
    pub fn of_inputs(run: Arc<RunConfig>, inputs: InputStats) -> Self {
        Accumulator {
            run,
            table: EniTable::default(),
            inputs,
            pending: Vec::new(),
            legs_held: 0,
            defer: false,
            guess: None,
            lookups: LookupCache::default(),
            open: OpenInput::default(),
        }
    }

    /// An accumulator whose sinks leave what they gather ([`Legs`]) for
    /// [`Accumulator::settle`], which its owner must call before the table is read (the
    /// engine: merging, spilling and moving the table out settle it too).
    pub fn deferring(mut self) -> Self {
        self.defer = true;
        self
    }

    /// Fold `o` into `self`. Associative and commutative (files are ordered by path later).
    /// Both must come from one run: accumulators of different settings never meet in one
    /// process (partial results from elsewhere are checked before they are merged).
    pub fn merge(&mut self, mut o: Accumulator) {
        assert_eq!(
            self.run.pull_window, o.run.pull_window,
            "accumulators of one run"
        );
        self.settle();
        o.settle();
        self.table.merge(o.table, self.run.pull_window);
        self.inputs.merge(o.inputs);
        match (&mut self.guess, o.guess) {
            (Some(g), Some(o)) => g.merge(o),
            (g @ None, o) => *g = o,
            (Some(_), None) => {}
        }
    }

    /// Move the ENI table out, sorted by ENI, leaving an empty one (for the spill store).
    pub fn take_sorted(&mut self) -> Vec<(EniKey, Box<EniAgg>)> {
        self.settle();
        self.table.take_sorted_except(|_, _| false)
    }

    /// Settle every aggregate ([`EniAgg::settle`]): what the account stage gathered is
    /// added where it belongs. Done when the engine is through, and before a table is
    /// moved out.
    pub fn settle(&mut self) {
        let window = self.run.pull_window;
        self.legs_held = 0;
        for k in self.pending.drain(..) {
            if let Some(a) = self.table.get_mut(&k) {
                a.settle_guessing(window, self.guess.as_mut());
            }
        }
    }
    /// A sink for one file; `file_region` is the region from the input's path, if any.
    pub fn file<'a>(
        &'a mut self,
        ranges: &'a IpRanges,
        params: &'a Params,
        stats: FileStats,
        file_region: Option<u16>,
    ) -> FileSink<'a> {
        let lookups = std::mem::take(&mut self.lookups).for_ranges(ranges);
        let starts = match crate::source::delivery_time(&stats.path) {
            Some(t) => t - DELIVERY_WINDOW..=t + DELIVERY_WINDOW,
            None => i64::MIN..=i64::MAX,
        };
        let flows = samples_flows(&stats.path);
        self.open = OpenInput {
            odd_before: (self.inputs.odd.no_interface, self.inputs.odd.no_address),
            ..OpenInput::default()
        };
        FileSink {
            acc: self,
            ranges,
            params,
            stats,
            file_region,
            last_region: None,
            allowance: 0,
            tag: None,
            key: String::new(),
            current: None,
            eni_held: false,
            region_held: false,
            lookups,
            names_settled: false,
            entries: EntrySlots::default(),
            hour: u32::MAX,
            repeats_input: None,
            flows,
            fields: 0,
            starts,
        }
    }
}

/// Whether the records of the input at `path` are sampled by flow ([`Sink::flows`]): its name
/// carries no flow-log id (an export, not one of AWS's deliveries).
pub fn samples_flows(path: &str) -> bool {
    crate::source::flow_log_id(path).is_none()
}

/// Every ENI's aggregate, each once and in ENI order: the analysis reads ENIs only through
/// this, so that the table can be an [`Accumulator`]'s or partly on disk
/// ([`crate::spill::Stored`]).
pub trait EniSource {
    /// Call `f` with each ENI and its aggregate, in ascending ENI order.
    fn scan(&self, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()>;

    /// A scratch file for what a reader notes per ENI, where the aggregates are not all in
    /// memory (so that those notes need not be either); `None` where they are.
    fn scratch(&self) -> std::io::Result<Option<std::fs::File>> {
        Ok(None)
    }

    /// The same table in parts that may be read at once, on threads of their own; `None`
    /// where it is read whole.
    fn parted(&self) -> Option<&dyn PartedSource> {
        None
    }
}

/// An ENI table in parts of consecutive ENIs (each ENI in one part), read each on its own,
/// and in the order of the parts, every ENI once in ascending order as [`EniSource::scan`].
pub trait PartedSource: Sync {
    /// How many parts.
    fn parts(&self) -> usize;

    /// Call `f` with each ENI of part `i` and its aggregate, in ascending ENI order.
    fn scan_part(&self, i: usize, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()>;

    /// As [`EniSource::scratch`], for the reader of one part.
    fn scratch(&self) -> std::io::Result<Option<std::fs::File>>;
}

impl EniSource for Accumulator {
    fn scan(&self, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()> {
        let mut v: Vec<(&EniKey, &EniAgg)> = self.table.iter().collect();
        assert!(
            v.iter().all(|(_, a)| a.legs.is_empty()),
            "an accumulator read before it was settled"
        );
        v.sort_unstable_by_key(|e| e.0);
        for (k, a) in v {
            f(k, a);
        }
        Ok(())
    }
}

/// Feeds one input's records into an [`Accumulator`], keeping that input's [`FileStats`].
pub struct FileSink<'a> {
    acc: &'a mut Accumulator,
    ranges: &'a IpRanges,
    params: &'a Params,
    pub stats: FileStats,
    file_region: Option<u16>,
    last_region: Option<(String, Option<u16>)>,
    /// Bytes taken from the run's budget and not yet used by a record.
    allowance: u64,
    /// The input's flow-log tag, when records are tagged, and the key buffer it needs.
    tag: Option<u16>,
    key: String,
    /// The last record's ENI's slot and its aggregate, held out of the table while records
    /// of that ENI follow one another (they come in runs): one lookup a run, not one a
    /// record. Put back in its slot when another ENI comes, and when the sink is dropped.
    current: Option<(u32, Box<EniAgg>)>,
    /// The remotes' ip-ranges lookups, the accumulator's while the sink is open.
    lookups: LookupCache,
    /// The names of the input's previous row were a record's, settled in the aggregate held
    /// now: a row repeating them ([`Record::same_names`]) has nothing to settle.
    names_settled: bool,
    /// The input's previous row was a record of the ENI held in `current`: a row repeating
    /// its ENI ([`Record::same_interface`]) is that ENI's without comparing the ids.
    eni_held: bool,
    /// The input's previous row was a record whose region is `last_region`'s: a row
    /// repeating it ([`Record::same_region`]) is that region's without comparing the names.
    region_held: bool,
    /// The slots of the ENIs the reader named by dictionary entry ([`Record::interface_entry`]):
    /// an ENI's id looked up in the table once an entry, not once a run of its records.
    entries: EntrySlots,
    /// The hour last noted in [`InputStats::hours`] (records come in runs of one hour).
    hour: u32,
    /// The input's id in [`InputStats::repeats`] and its flow log's salt, once a line of it
    /// is sampled.
    repeats_input: Option<(u32, u64)>,
    /// The starts a record of this input may have: within [`DELIVERY_WINDOW`] of the
    /// delivery time its AWS name carries, any for other names.
    starts: std::ops::RangeInclusive<i64>,
    /// Whether the input's name carries no flow-log id ([`Sink::flows`]).
    flows: bool,
    /// The fields of the records that follow ([`Sink::layout`]).
    fields: u32,
}

/// The table slot of each entry of the reader's current `interface-id` dictionary found so
/// far ([`crate::format::Entry`]); a record of another dictionary starts it anew. Slots stay
/// where they are while a sink is open (only a whole accumulator's owner moves them).
#[derive(Default)]
struct EntrySlots {
    /// The dictionary's number (0: none yet; numbers start at 1).
    dict: u64,
    slots: Vec<u32>,
}

/// An entry whose slot is not known yet.
const NO_SLOT: u32 = u32::MAX;

/// Entries past this many are looked up by their ENI's id every time: the room kept here is
/// bounded whatever a file's dictionary holds.
const MAX_ENTRIES: u32 = 1 << 16;

impl EntrySlots {
    /// The slot of the ENI named by `e`, if found before.
    #[inline]
    fn get(&self, e: Option<Entry>) -> Option<u32> {
        let e = e.filter(|e| e.dict.get() == self.dict)?;
        (self.slots.get(e.entry as usize).copied()).filter(|&s| s != NO_SLOT)
    }

    /// `slot` is the slot of the ENI named by `e`.
    #[inline]
    fn note(&mut self, e: Option<Entry>, slot: u32) {
        let Some(e) = e.filter(|e| e.entry < MAX_ENTRIES) else {
            return;
        };
        if e.dict.get() != self.dict {
            self.dict = e.dict.get();
            self.slots.clear();
        }
        let i = e.entry as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, NO_SLOT);
        }
        self.slots[i] = slot;
    }
}

/// The aggregate of `eni`, held in `current` (see [`FileSink`]); the one held before, if
/// another ENI's, goes back to its slot. With it, its slot, and `true` when it was not the one
/// held. `known`: the reader said `eni` is the held one's; `found`: `eni`'s slot, if known.
#[inline(always)]
fn hold<'s>(
    current: &'s mut Option<(u32, Box<EniAgg>)>,
    table: &mut EniTable,
    eni: &str,
    known: bool,
    found: Option<u32>,
) -> (&'s mut EniAgg, u32, bool) {
    let switched = !current.as_ref().is_some_and(|(slot, _)| {
        known
            || match found {
                Some(s) => *slot == s,
                None => same(table.slots[*slot as usize].0.as_str(), eni),
            }
    });
    if switched {
        if let Some((slot, a)) = current.take() {
            table.slots[slot as usize].1 = Some(a);
        }
        let slot = found.unwrap_or_else(|| table.slot_of(eni));
        let agg = table.slots[slot as usize].1.take();
        *current = Some((slot, agg.expect("an aggregate held by one sink at a time")));
    }
    let (slot, agg) = current.as_mut().expect("an aggregate held");
    (agg, *slot, switched)
}

impl FileSink<'_> {
    /// Tag this input's records with its flow log (see [`FlowLogs::tag`]).
    pub fn of_flow_log(mut self, tag: Option<u16>) -> Self {
        self.tag = tag;
        self
    }

    /// Close the input: record an error if it stopped early, and hand the stats over.
    pub fn finish(mut self, error: Option<crate::source::Failure>) {
        self.note_missing();
        if let Some(f) = error {
            self.stats.failure = Some(f.kind);
            self.stats.error = Some(f.message);
        }
        let stats = std::mem::take(&mut self.stats);
        self.acc.inputs.files.push(stats);
    }

    /// The ENI aggregates in the accumulator's table now.
    pub fn enis(&self) -> usize {
        self.acc.table.len()
    }

    /// Lend the accumulator to `f` between two records, the input still open: the engine
    /// spills its ENI table there, so that one long input (a month in one file, standard
    /// input, any large input read by one worker) stays within the worker's share of the
    /// table. What the sink holds out of the table goes back first (the aggregate of the
    /// current run of records), and what it knew of the table's slots is forgotten (the
    /// dictionary entries' slots; the ENI and names held), since `f` may move every slot.
    pub fn lend<R>(&mut self, f: impl FnOnce(&mut Accumulator) -> R) -> R {
        if let Some((slot, a)) = self.current.take() {
            self.acc.table.slots[slot as usize].1 = Some(a);
        }
        self.entries = EntrySlots::default();
        self.eni_held = false;
        self.names_settled = false;
        f(self.acc)
    }

    /// Close a part of an input (a chunk of a large file): its stats are handed back for the
    /// caller to combine, not recorded.
    pub fn take(mut self) -> FileStats {
        self.note_missing();
        std::mem::take(&mut self.stats)
    }

    /// Count the records of this sink in [`LineCounts::without`] for each field the figures
    /// need that none of them had.
    fn note_missing(&mut self) {
        let odd = &self.acc.inputs.odd;
        let c = &mut self.stats.counts;
        let n = c.counted;
        let all = |lacking: bool| if lacking && n > 0 { n } else { 0 };
        let open = &self.acc.open;
        let (interface, address) = open.odd_before;
        let no_address = odd.no_address.saturating_sub(address) + open.unaddressed;
        c.without.add(&Without {
            interface_id: all(odd.no_interface.saturating_sub(interface) >= n),
            addresses: all(no_address >= n),
            bytes: all(!open.some_bytes),
            // (a counted record with a start notes its hour)
            start: all(self.hour == u32::MAX),
        });
    }

    /// Use `bytes` of the run's budget; `false` when the run's total would pass
    /// [`RUN_BYTES_MAX`].
    #[inline]
    fn spend(&mut self, bytes: u64) -> bool {
        if bytes > self.allowance && !self.grant(bytes) {
            return false;
        }
        self.allowance -= bytes;
        true
    }

    /// Take a grant of the run's budget for `bytes` (a larger one, where the budget has
    /// it, so that this is rare); `false` when the run's total would pass the bound.
    #[cold]
    fn grant(&mut self, bytes: u64) -> bool {
        // (a record with bytes: the first asks for a grant, `allowance` being 0)
        self.acc.open.some_bytes = true;
        let budget = &self.params.budget;
        let grant = bytes.max(BUDGET_GRANT);
        if budget.take(grant) {
            self.allowance += grant;
        } else if budget.take(bytes) {
            self.allowance += bytes;
        } else {
            return false;
        }
        true
    }

    /// The region id of a record's `region` value; a value the ip-ranges data does not know
    /// falls back to the input's region (its path, or `--region`) and is counted. A record
    /// whose reader says the value is the previous row's ([`Record::same_region`]) takes the
    /// one held.
    fn region_of(&mut self, r: &Record<'_>) -> Option<u16> {
        let known = std::mem::take(&mut self.region_held) && r.same_region;
        let id = match &self.last_region {
            // the row before's value, which was one (else none is held): the name itself is
            // not read (the reader may have left it in its column)
            Some((_, id)) if known => *id,
            _ => {
                let Some(name) = r.region() else {
                    return self.file_region;
                };
                match &self.last_region {
                    Some((n, id)) if same(n, name) => *id,
                    _ => self.learn_region(name),
                }
            }
        };
        self.region_held = true;
        if id.is_none() {
            self.acc.inputs.odd.unknown_region += 1;
        }
        id.or(self.file_region)
    }

    /// A region name other than the last one's: its id, now the one held.
    #[cold]
    fn learn_region(&mut self, name: &str) -> Option<u16> {
        let id = self.ranges.region_id(name);
        self.last_region = Some((name.to_string(), id));
        id
    }

    /// A NODATA window of an ENI (the line counted already): the ENI's flow log was on, and
    /// nothing passed. Where the window is dated as a record must be (its span and start as
    /// [`FileSink::admit`] checks them) and starts inside the time filter, it widens the
    /// ENI's [`EniAgg::quiet`] span, so that a NAT gateway idle at the ends of a period
    /// projects over the time its logs cover, not over its traffic's.
    #[cold]
    #[inline(never)]
    fn quiet_window(&mut self, r: &Record<'_>) {
        let (Some(eni), Some(start)) = (r.interface_id, r.start) else {
            return;
        };
        let dated = r
            .end
            .is_none_or(|e| (0..=MAX_RECORD_SPAN).contains(&e.saturating_sub(start)))
            && self.starts.contains(&start)
            && self.params.run.in_time(start);
        if !dated {
            return;
        }
        let eni = match self.tag {
            None => eni,
            Some(t) => tagged_key(eni, t, &mut self.key),
        };
        let found = self.entries.get(r.interface_entry);
        let (agg, slot, switched) = hold(&mut self.current, &mut self.acc.table, eni, false, found);
        if switched && found.is_none() {
            self.entries.note(r.interface_entry, slot);
        }
        agg.quiet.take(start, r.end);
    }

    /// Count a record's line, and say whether the record goes on to be accounted: not a
    /// NODATA or SKIPDATA window, lasting from `start` to `end` at most [`MAX_RECORD_SPAN`]
    /// (else the line is malformed; the hour it starts in is noted where it does and is inside
    /// the time filter), inside the time filter (its dates noted either way), and within the
    /// run's byte bound (past it, the line is malformed).
    #[inline(always)]
    fn admit(&mut self, r: &Record<'_>) -> bool {
        self.stats.counts.lines += 1;
        let span_ok = match (r.start, r.end) {
            (Some(s), Some(e)) => (0..=MAX_RECORD_SPAN).contains(&e.saturating_sub(s)),
            _ => true,
        };
        let start_ok = r.start.is_none_or(|s| self.starts.contains(&s));
        if let (true, true, Some(t)) = (span_ok, start_ok, r.start) {
            if self.params.run.in_time(t) {
                self.note_hour(t);
            }
        }
        let c = &mut self.stats.counts;
        match r.status {
            LogStatus::NoData => {
                c.nodata += 1;
                return false;
            }
            LogStatus::SkipData => {
                c.skipdata += 1;
                self.stats.skipdata_windows += 1;
                return false;
            }
            LogStatus::Ok => {}
        }
        if !span_ok {
            return self.refuse(Malformed::TimeSpan);
        }
        if !start_ok {
            return self.refuse(Malformed::OutsideDelivery);
        }
        if let Some(t) = r.start {
            let d = &mut self.acc.inputs.dated;
            d.first = d.first.min(t);
            d.last = d.last.max(r.end.unwrap_or(t));
        }
        let run = &self.params.run;
        if run.time_filtered() {
            let Some(t) = r.start else {
                c.undated += 1;
                return false;
            };
            if !run.in_time(t) {
                c.outside_time += 1;
                return false;
            }
        }
        if !self.spend(r.bytes.unwrap_or(0)) {
            return self.refuse(Malformed::RunTotal);
        }
        true
    }

    /// Note the UTC hour of a record starting at `t` among the hours the logs cover.
    #[inline]
    fn note_hour(&mut self, t: i64) {
        let Ok(h) = u32::try_from(t.div_euclid(3600)) else {
            return;
        };
        if h != self.hour {
            self.hour = h;
            self.acc.inputs.hours.insert(h);
        }
    }

    /// The record just admitted to the line count is malformed after all, for `why`.
    #[cold]
    fn refuse(&mut self, why: Malformed) -> bool {
        self.stats.counts.lines -= 1;
        self.malformed(self.stats.counts.lines + 1, why);
        false
    }

    /// Note a counted record's fingerprint ([`Repeats`]), under its layout's field count.
    #[inline(never)]
    fn note_line(&mut self, r: &Record<'_>) {
        let Some(mut fp) = crate::format::Fingerprint::of(r) else {
            return;
        };
        // (one record in one layout, as a sampled flow's records are told apart: a text line
        // and a Parquet row of as many fields are copies, a second flow log's record of the
        // same window in another layout is left to the sample of flows)
        fp.hash = crate::format::hash_words(&[fp.hash], u64::from(self.fields));
        let (id, salt) = self.repeats_input();
        let bytes = r.bytes.unwrap_or(0);
        self.acc.inputs.repeats.note(fp, salt, bytes, id);
    }

    /// The input's id in [`InputStats::repeats`] and its flow log's salt.
    fn repeats_input(&mut self) -> (u32, u64) {
        let repeats = &mut self.acc.inputs.repeats;
        *self.repeats_input.get_or_insert_with(|| {
            let flow_log = crate::source::flow_log_id(&self.stats.path).unwrap_or("");
            (repeats.input(&self.stats.path), repeats::salt(flow_log))
        })
    }

    /// Note a counted record of a sampled flow ([`Repeats::note_flow`]).
    #[inline(never)]
    fn note_flow(&mut self, r: &Record<'_>) {
        let (Some(flow), Some(start), Some(end)) = (r.fingerprint, r.start, r.end) else {
            return;
        };
        let (id, _) = self.repeats_input();
        let bytes = r.bytes.unwrap_or(0);
        // (one record of a flow in one layout: its copies are one, a second flow log's
        // record of the same window in another layout is another; not `packets`, which a
        // reader may leave unread)
        let record = [start as u64, end as u64, bytes];
        let record = crate::format::hash_words(&record, u64::from(self.fields));
        let eni = r.interface_id.map_or(0, repeats::eni_hash);
        (self.acc.inputs.repeats).note_flow(flow, eni, record, (start, end), bytes, id);
    }

    /// A record without `interface-id`: counted (or rejected) apart, in no ENI's figures.
    #[cold]
    fn without_interface(&mut self, r: &Record<'_>) {
        let (c, odd) = (&mut self.stats.counts, &mut self.acc.inputs.odd);
        if r.action == Action::Reject {
            c.rejected += 1;
            odd.no_interface_rejected += 1;
            odd.no_interface_rejected_bytes += r.bytes.unwrap_or(0);
        } else {
            c.counted += 1;
            odd.no_interface += 1;
            if r.srcaddr.is_none() || r.dstaddr.is_none() {
                self.acc.open.unaddressed += 1;
            }
        }
    }
}

/// Where a counted record's bytes go, once its ENI's aggregate is held: the parts of the
/// sink the two kinds of record ([`Booking::private_pair`], [`Booking::public_leg`]) write
/// or read besides the aggregate, and the record's region and bytes.
struct Booking<'s> {
    acc: &'s mut Accumulator,
    lookups: &'s mut LookupCache,
    ranges: &'s IpRanges,
    params: &'s Params,
    region: Option<u16>,
    bytes: u64,
}

impl Booking<'_> {
    /// A record with two private ends: a NAT's translated leg (its remote in `pkt-*`: the
    /// destination of an upload, the source of a download), added to the client's legs; or
    /// internal traffic, with its peers noted as evidence.
    #[inline(always)]
    fn private_pair(
        &mut self,
        agg: &mut EniAgg,
        r: &Record<'_>,
        eni: &str,
        src: &IpAddr,
        dst: &IpAddr,
    ) {
        // (`pkt-srcaddr` read only where `pkt-dstaddr` says nothing, each where it is held:
        // either may be deferred, and a copy of these 17-byte values through the stack was
        // read back before its stores had landed)
        let translated = match r.pkt_dst_ref() {
            Some(pd) if pd != dst && !is_private(pd) => Some((pd, src, Dir::Upload)),
            _ => match r.pkt_src_ref() {
                Some(ps) if ps != src && !is_private(ps) => Some((ps, dst, Dir::Download)),
                _ => None,
            },
        };
        let Some((remote, client, dir)) = translated else {
            let side = agg.private_side_mut();
            side.internal_records += 1;
            side.internal_bytes += self.bytes;
            side.peers.insert(src, MAX_PEERS);
            side.peers.insert(dst, MAX_PEERS);
            return;
        };
        let (bytes, window) = (self.bytes, self.params.run.pull_window);
        let class = self.class_of(agg, remote);
        let longest = longest_of(r);
        let stretch = self.stretch(client, r.start);
        match *client {
            // the leg waits in the aggregate, its private side untouched until the batch
            // is added ([`Legs`])
            IpAddr::V4(c) => {
                let leg = clients::Leg {
                    client: u32::from(c),
                    stretch,
                    t: r.start,
                    bytes,
                    longest: longest as u16,
                    class,
                    dir,
                };
                let acc = &mut *self.acc;
                let (n, full) = agg.legs.push(leg);
                if n == 1 {
                    acc.pending.push(EniKey::new(eni));
                }
                acc.legs_held += 1;
                if full {
                    acc.legs_held = acc.legs_held.saturating_sub(n);
                    agg.settle_guessing(window, acc.guess.as_mut());
                } else if acc.legs_held >= LEGS_HELD {
                    // many ENIs translating (not what NAT gateways' logs look like): memory
                    // stays bounded all the same
                    agg.settle_guessing(window, acc.guess.as_mut());
                    acc.settle();
                }
            }
            IpAddr::V6(_) => {
                let side = agg.private_side_mut();
                side.translated(r.start, class, dir, bytes, longest);
                let at = r.start.map(|t| (t, stretch));
                side.client_leg(*client, at, class, dir, bytes, window);
            }
        }
    }

    /// A record with one private end (`local`) and one public (`remote`): the ENI's own
    /// traffic with the remote (on a NAT, its public leg), by day, class and direction; its
    /// local address noted; an S3 record's path and pull window.
    #[inline(always)]
    fn public_leg(
        &mut self,
        agg: &mut EniAgg,
        r: &Record<'_>,
        local: &IpAddr,
        remote: &IpAddr,
        dir: Dir,
    ) {
        let bytes = self.bytes;
        let class = self.class_of(agg, remote);
        let day = r.start.map_or(NO_DAY, |t| t.div_euclid(DAY) as u32);
        agg.public.add(day, class, dir, bytes);
        if agg.local_ips.insert(local, MAX_LOCAL_IPS) {
            self.guess_logged(agg, r);
        }
        if class == Class::S3OtherRegion {
            self.note_elsewhere(agg, remote);
        }
        if class != Class::S3 {
            return;
        }
        match dir {
            Dir::Upload => {
                let i = match r.traffic_path() {
                    Some(1) => 0,
                    Some(2) | Some(7) => 1,
                    Some(_) => 2,
                    None => 3,
                };
                agg.s3_egress_by_path[i] += bytes;
            }
            Dir::Download => {
                if let (None | Some(1), Some(t)) = (r.traffic_path(), r.start) {
                    agg.pull.add(t, bytes, self.params.run.pull_window);
                }
            }
        }
    }

    /// A record with no private end, or with a NAT64 one: a NAT64 leg (an end in
    /// `64:ff9b::/96`, never a public leg: its bytes cross the NAT's public side again as
    /// IPv4), a NAT's translated leg of an IPv6 client (its remote a NAT64 address in
    /// `pkt-*`), or two public addresses (counted apart).
    #[cold]
    #[inline(never)]
    fn without_private_end(
        &mut self,
        agg: &mut EniAgg,
        r: &Record<'_>,
        eni: &str,
        src: &IpAddr,
        dst: &IpAddr,
    ) {
        let leg = match (nat64_v4(src), nat64_v4(dst)) {
            (None, Some(remote)) => Some((remote, Dir::Upload)),
            (Some(remote), None) => Some((remote, Dir::Download)),
            _ => None,
        };
        if let Some((remote, dir)) = leg {
            let client = if dir == Dir::Upload { src } else { dst };
            return self.nat64_leg(agg, r, IpAddr::V4(remote), client, dir);
        }
        let nat64 = |a: Option<&IpAddr>| a.and_then(nat64_v4).is_some();
        if nat64(r.pkt_dst_ref()) || nat64(r.pkt_src_ref()) {
            self.private_pair(agg, r, eni, src, dst);
        } else {
            self.acc.inputs.odd.both_public += 1;
        }
    }

    /// A NAT64 leg between `client` and the IPv4 `remote` its NAT64 address holds. To a
    /// private remote (another VPC, on premises) it is internal traffic, as an IPv4 client's
    /// translated leg to one is; else the private side's NAT64 cells, and where the layout
    /// logs `pkt-*` its client's state, as an IPv4 client's is (without it clients are
    /// attributed from their own records, and a NAT64 client here alone would take their
    /// place). Either way `client` is noted among the legs' ends ([`PrivateSide::nat64_ends`]).
    fn nat64_leg(
        &mut self,
        agg: &mut EniAgg,
        r: &Record<'_>,
        remote: IpAddr,
        client: &IpAddr,
        dir: Dir,
    ) {
        agg.private_side_mut()
            .nat64_ends
            .insert(client, MAX_LOCAL_IPS);
        if is_private(&remote) {
            let side = agg.private_side_mut();
            side.internal_records += 1;
            side.internal_bytes += self.bytes;
            return;
        }
        let class = self.class_of(agg, &remote);
        let (bytes, window) = (self.bytes, self.params.run.pull_window);
        let stretch = self.stretch(client, r.start);
        let side = agg.private_side_mut();
        side.nat64_leg(r.start, class, dir, bytes, longest_of(r), client);
        if r.pkt_dst_ref().is_some() {
            let at = r.start.map(|t| (t, stretch));
            side.client_leg(*client, at, class, dir, bytes, window);
        }
    }

    /// The stretch of `--ecs-tasks` task starts that `client`'s record starting at `t` falls
    /// in (0 without a start).
    #[inline(always)]
    fn stretch(&self, client: &IpAddr, t: Option<i64>) -> u32 {
        t.map_or(0, |t| self.params.run.tasks.starts().stretch(client, t))
    }

    /// The class of `remote`'s bytes in the record's region; S3's bytes of an unknown
    /// region are counted apart (they cannot be split into `s3` and `s3-other-region`).
    #[inline(always)]
    fn class_of(&mut self, agg: &mut EniAgg, remote: &IpAddr) -> Class {
        let info = self.lookups.lookup(self.ranges, remote);
        if self.region.is_none() && self.ranges.is_s3_info(info) {
            agg.s3_unknown_region += self.bytes;
        }
        self.ranges.class_of(info, self.region)
    }

    /// S3 of another region: which one (looked up again; such bytes are rare where the
    /// region is right).
    #[cold]
    fn note_elsewhere(&mut self, agg: &mut EniAgg, remote: &IpAddr) {
        if let Some(info) = self.lookups.lookup(self.ranges, remote) {
            agg.s3_elsewhere.add(info.region, self.bytes);
        }
    }

    /// A new local address of `agg`'s: an ENI of one address that looks logged (not a NAT)
    /// lends it to the guess of which clients' records are logged; one of several takes
    /// its addresses back (its local set may yet drop some: not a guess worth its risk).
    #[cold]
    fn guess_logged(&mut self, agg: &EniAgg, r: &Record<'_>) {
        let Some(g) = &mut self.acc.guess else {
            return;
        };
        let named = || (self.params.run.nat_enis.iter()).any(|n| Some(&**n) == r.interface_id);
        match agg.local_ips.items.as_slice() {
            [one] if agg.looks_logged() && !named() => g.hold(one),
            [_] => {}
            several => several.iter().for_each(|ip| g.release(ip)),
        }
    }
}

/// A record's `end - start` within 0..=3600 (0 without both): what its flow log's
/// aggregation interval is taken from.
#[inline(always)]
fn longest_of(r: &Record<'_>) -> i64 {
    match (r.start, r.end) {
        (Some(s), Some(e)) => e.saturating_sub(s).clamp(0, 3600),
        _ => 0,
    }
}

impl Drop for FileSink<'_> {
    fn drop(&mut self) {
        self.params.budget.give_back(self.allowance);
        self.acc.lookups = std::mem::take(&mut self.lookups);
        if let Some((slot, a)) = self.current.take() {
            self.acc.table.slots[slot as usize].1 = Some(a);
        }
        if !self.acc.defer {
            self.acc.settle();
        }
    }
}

impl Sink for FileSink<'_> {
    /// The layout's field count, kept for the input's flow log: by its tag, or where the
    /// run's inputs are of one flow log (no tags), as its one count, which a partial file
    /// carries so that a merge choosing between flow logs sees their fields.
    fn layout(&mut self, fields: usize) {
        let fields = fields.min(u32::MAX as usize) as u32;
        self.fields = fields;
        let counts = &mut self.acc.inputs.flow_log_fields;
        let slot = match self.tag {
            Some(t) => counts.get_mut(t as usize),
            None if self.acc.inputs.flow_logs.ids().is_empty() => {
                if counts.is_empty() {
                    counts.push(0);
                }
                counts.first_mut()
            }
            None => None,
        };
        if let Some(f) = slot {
            *f = (*f).max(fields);
        }
    }
    fn header(&mut self) {
        self.names_settled = false;
        self.eni_held = false;
        self.region_held = false;
        self.stats.counts.lines += 1;
        self.stats.counts.headers += 1;
    }
    fn blank(&mut self) {
        self.names_settled = false;
        self.eni_held = false;
        self.region_held = false;
        self.stats.counts.lines += 1;
        self.stats.counts.blank += 1;
    }
    fn malformed(&mut self, line: u64, why: Malformed) {
        self.names_settled = false;
        self.eni_held = false;
        self.region_held = false;
        self.stats.counts.lines += 1;
        self.stats.counts.malformed += 1;
        if self.stats.malformed_examples.len() < EXAMPLES_PER_FILE {
            self.stats.malformed_examples.push(BadLine {
                line,
                reason: why.to_string(),
            });
        }
    }

    /// The fields a reader may defer are read through the record's accessors.
    fn defers(&self) -> bool {
        true
    }

    /// Flows are sampled in the inputs whose names carry no flow-log id: where the names
    /// tell flow logs apart, [`crate::overlap`] keeps one per ENI.
    fn flows(&self) -> bool {
        self.flows
    }

    /// The aggregates of the ENIs whose runs start among `recs` are asked of the memory at
    /// once: a file's rows go from ENI to ENI, most of them touched once a file, so each run
    /// of a cold ENI otherwise waits for its index entry, its slot and its aggregate in turn.
    fn upcoming(&mut self, recs: &[Record<'_>]) {
        if self.tag.is_some() {
            return; // (tagged keys are built per record; not worth building twice)
        }
        // first the aggregates themselves, then what they point to (once their lines came),
        // then what that points to
        let mut found: [Option<&EniAgg>; 64] = [None; 64];
        let mut n = 0;
        for r in recs {
            if let (false, Some(eni)) = (r.same_interface, r.interface_id) {
                let slot = self.entries.get(r.interface_entry).or_else(|| {
                    let slot = self.acc.table.slot(eni)?;
                    self.entries.note(r.interface_entry, slot);
                    Some(slot)
                });
                if let Some(agg) = slot.and_then(|s| self.acc.table.prefetch(s)) {
                    if let Some(f) = found.get_mut(n) {
                        *f = Some(agg);
                        n += 1;
                    }
                }
            }
        }
        for agg in found[..n].iter().flatten() {
            agg.prefetch_heap();
        }
        for agg in found[..n].iter().flatten() {
            agg.prefetch_side_heap();
        }
    }

    fn record(&mut self, r: &Record<'_>) {
        let settled = std::mem::take(&mut self.names_settled);
        let eni_held = std::mem::take(&mut self.eni_held);
        let region = self.region_of(r);
        if !self.admit(r) {
            if r.status == LogStatus::NoData {
                self.quiet_window(r);
            }
            return;
        }
        if r.fingerprint.is_some() {
            match r.flow {
                false => self.note_line(r),
                true => self.note_flow(r),
            }
        }
        let Some(eni) = r.interface_id else {
            self.without_interface(r);
            return;
        };
        let eni = match self.tag {
            None => eni,
            Some(t) => tagged_key(eni, t, &mut self.key),
        };
        let known = eni_held && r.same_interface;
        let found = match known {
            true => None,
            false => self.entries.get(r.interface_entry),
        };
        let table = &mut self.acc.table;
        let (agg, slot, switched) = hold(&mut self.current, table, eni, known, found);
        if switched && found.is_none() {
            self.entries.note(r.interface_entry, slot);
        }
        self.eni_held = true;
        let bytes = r.bytes.unwrap_or(0);
        if r.action == Action::Reject {
            self.stats.counts.rejected += 1;
            agg.reject_records += 1;
            agg.reject_bytes += bytes;
            if let Some(t) = r.start {
                agg.quiet.take(t, r.end);
            }
            return;
        }
        self.stats.counts.counted += 1;
        agg.observe(r, region, self.params.run.pull_window);
        // the names of a row repeating the last one's, which were settled in this
        // aggregate, change nothing (settling keeps the least value seen)
        if !(settled && r.same_names && !switched) {
            agg.meta.settle_names(r, &mut self.acc.table.names);
        }
        self.names_settled = true;

        // (the addresses are looked at where the record holds them: copies of these 17-byte
        // values through the stack cost more than the work done with them)
        let (Some(src), Some(dst)) = (&r.srcaddr, &r.dstaddr) else {
            self.acc.inputs.odd.no_address += 1;
            return;
        };
        let nat_ips = &self.params.run.nat_ips;
        if !nat_ips.is_empty() && (nat_ips.contains(src) || nat_ips.contains(dst)) {
            agg.has_nat_ip = true;
        }
        let mut book = Booking {
            acc: self.acc,
            lookups: &mut self.lookups,
            ranges: self.ranges,
            params: self.params,
            region,
            bytes,
        };
        match (is_private(src), is_private(dst)) {
            (true, true) => book.private_pair(agg, r, eni, src, dst),
            (true, false) if nat64_v4(dst).is_none() => {
                book.public_leg(agg, r, src, dst, Dir::Upload)
            }
            (false, true) if nat64_v4(src).is_none() => {
                book.public_leg(agg, r, dst, src, Dir::Download)
            }
            _ => book.without_private_end(agg, r, eni, src, dst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_keys_split_back_and_sort_by_eni() {
        let mut buf = String::new();
        let k = tagged_key("eni-0a1b2c3d4e5f60718", 7, &mut buf).to_string();
        assert_eq!(split_key(&k), Some(("eni-0a1b2c3d4e5f60718", 7)));
        assert!(k.len() <= INLINE, "held inline");
        assert_eq!(split_key("eni-plain"), None);
        // a forged id holding the separator cannot pose as another ENI's key
        let forged = tagged_key("eni-a\x1f0000", 1, &mut buf).to_string();
        assert_eq!(split_key(&forged), Some(("eni-a\x1e0000", 1)));
        // every key of one ENI sorts before any longer ENI id it prefixes
        let mut keys: Vec<String> = [("eni-a", 1), ("eni-ab", 0), ("eni-a", 0), ("eni-a0", 0)]
            .iter()
            .map(|(e, t)| tagged_key(e, *t, &mut buf).to_string())
            .collect();
        keys.sort();
        let enis: Vec<&str> = keys.iter().map(|k| split_key(k).unwrap().0).collect();
        assert_eq!(enis, ["eni-a", "eni-a", "eni-a0", "eni-ab"]);
    }

    #[test]
    fn flow_logs_are_told_apart_only_when_several() {
        let d = |id: &str| format!("x/1_vpcflowlogs_us-east-1_{id}_20260901T0005Z_h.log.gz");
        let one = FlowLogs::of_inputs([d("fl-1").as_str(), d("fl-1").as_str()]);
        assert!(one.ids().is_empty());
        assert_eq!(one.tag(&d("fl-1")), None);
        let two = FlowLogs::of_inputs([d("fl-2").as_str(), "export.log", d("fl-1").as_str()]);
        let ids: Vec<&str> = two.ids().iter().map(|i| &**i).collect();
        assert_eq!(ids, ["fl-1", "fl-2", ""]);
        assert_eq!(two.tag(&d("fl-2")), Some(1));
        assert_eq!(two.tag("-"), Some(2));
    }

    proptest::proptest! {
        /// The slotted table behaves as a map from ENI to aggregate, whatever is inserted,
        /// replaced, held by a sink, moved out or merged in: checked against a `BTreeMap`.
        #[test]
        fn the_eni_table_is_a_map(
            ops in proptest::collection::vec((0u8..5, 0u8..12, 1u64..1000), 0..80),
        ) {
            let agg = |n: u64| Box::new(EniAgg { records: n, ..EniAgg::default() });
            let name = |e: u8| format!("eni-{e:02}");
            let mut table = EniTable::default();
            let mut model = std::collections::BTreeMap::<String, u64>::new();
            let mut held: Option<(u32, Box<EniAgg>)> = None;
            for (op, e, n) in ops {
                let eni = name(e);
                match op {
                    0 => {
                        // a sink's put-back restores what the model kept for the ENI held
                        if let Some((slot, a)) = held.take() {
                            table.slots[slot as usize].1 = Some(a);
                        }
                        table.insert(EniKey::new(&eni), agg(n));
                        model.insert(eni, n);
                    }
                    1 => {
                        let (a, _, _) = hold(&mut held, &mut table, &eni, false, None);
                        a.records += n;
                        *model.entry(eni).or_default() += n;
                    }
                    2 => {
                        if let Some((slot, a)) = held.take() {
                            table.slots[slot as usize].1 = Some(a);
                        }
                        let out = table.take_sorted_except(|k, _| k.ends_with(['0', '2', '4']));
                        let keys: Vec<String> = out.iter().map(|(k, _)| k.to_string()).collect();
                        let mut sorted = keys.clone();
                        sorted.sort();
                        proptest::prop_assert_eq!(&keys, &sorted);
                        for (k, a) in out {
                            proptest::prop_assert_eq!(model.remove(k.as_str()), Some(a.records));
                        }
                    }
                    3 => {
                        if let Some((slot, a)) = held.take() {
                            table.slots[slot as usize].1 = Some(a);
                        }
                        let mut other = EniTable::default();
                        other.insert(EniKey::new(&eni), agg(n));
                        table.merge(other, 0);
                        *model.entry(eni).or_default() += n;
                    }
                    _ => {
                        // an ENI a sink holds is not found in the table
                        let in_table = table.get_mut(&eni).map(|a| a.records);
                        let is_held = held.as_ref().is_some_and(|(slot, _)| {
                            table.slots[*slot as usize].0.as_str() == eni
                        });
                        let expected = if is_held { None } else { model.get(&eni).copied() };
                        proptest::prop_assert_eq!(in_table, expected);
                    }
                }
            }
            if let Some((slot, a)) = held.take() {
                table.slots[slot as usize].1 = Some(a);
            }
            proptest::prop_assert_eq!(table.len(), model.len());
            let mut all: Vec<(String, u64)> =
                table.iter().map(|(k, a)| (k.to_string(), a.records)).collect();
            all.sort();
            proptest::prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
        }

        /// The word-at-a-time equality is `==`, at every length and place of a difference.
        #[test]
        fn short_string_equality_is_eq(
            a in "[a-c]{0,70}", i in 0usize..70, c in proptest::char::range('a', 'c'),
        ) {
            let mut b: Vec<char> = a.chars().collect();
            if i < b.len() {
                b[i] = c;
            }
            let b: String = b.into_iter().collect();
            proptest::prop_assert_eq!(same(&a, &b), a == b);
            proptest::prop_assert_eq!(same(&a, &a[..a.len() / 2]), a.is_empty());
        }
    }

    /// The ENI table of `acc`, by key.
    fn sorted_table(mut acc: Accumulator) -> Vec<(String, EniAgg)> {
        let mut v: Vec<(String, EniAgg)> = (acc.table.drain())
            .map(|(k, a)| (k.to_string(), *a))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// One row of [`reader_hints_change_nothing`]'s inputs: ENI, subnet, task, rejected,
    /// malformed, region (each an index into a few values, or none).
    type Row = (u8, Option<u8>, Option<u8>, bool, bool, Option<u8>);

    /// The region, subnet and task of rows, as a reader that left them in their columns
    /// gives them ([`crate::format::Later`]).
    struct Columns(Vec<[Option<&'static str>; 3]>);

    impl<'a> crate::format::Later<'a> for Columns {
        fn text(&self, f: Field, row: usize) -> Option<&'a str> {
            let i = match f {
                Field::Region => 0,
                Field::SubnetId => 1,
                Field::EcsTaskId => 2,
                _ => panic!("{f:?} was not deferred"),
            };
            self.0[row][i]
        }
        fn ip(&self, f: Field, _: usize) -> Option<&'a IpAddr> {
            panic!("{f:?} was not deferred")
        }
        fn int(&self, f: Field, _: usize) -> Option<u64> {
            panic!("{f:?} was not deferred")
        }
    }

    /// Feed `rows` to a fresh accumulator, with the reader's hints set truthfully (the row's
    /// names, ENI or region equal the previous row's, a malformed row's included) or never,
    /// and the region and names left in their columns or not.
    fn accumulate(rows: &[Row], hinted: bool, deferred: bool) -> (Vec<(String, EniAgg)>, Oddities) {
        static R: std::sync::OnceLock<IpRanges> = std::sync::OnceLock::new();
        let ranges = R.get_or_init(IpRanges::embedded);
        let params = Params::new(Arc::new(RunConfig::default()));
        let mut acc = Accumulator::new(&params);
        let enis = ["eni-a", "eni-b", "eni-c"];
        let subnets = ["subnet-1", "subnet-0", "subnet-2"];
        let tasks = ["t2", "t1", "t0"];
        // (one the ip-ranges data does not know)
        let regions = ["us-east-1", "eu-west-1", "xx-nowhere-1"];
        let columns = Columns(
            rows.iter()
                .map(|&(_, subnet, task, _, _, region)| {
                    [
                        region.map(|r| regions[r as usize % 3]),
                        subnet.map(|s| subnets[s as usize % 3]),
                        task.map(|t| tasks[t as usize % 3]),
                    ]
                })
                .collect(),
        );
        let mut sink = acc.file(ranges, &params, FileStats::default(), None);
        let (mut before, mut before_eni, mut before_region) = (None, None, None);
        // the ENIs named by dictionary entry, a new dictionary every seven rows, in which
        // each entry names another ENI than in the one before
        let dicts: Vec<_> = (0..=rows.len() / 7)
            .map(|_| Entry::new_dictionary())
            .collect();
        let entry = |i: usize, eni: u8| Entry {
            dict: dicts[i / 7],
            entry: (eni as usize % 3 + i / 7) as u32 % 3,
        };
        for (i, &(eni, subnet, task, reject, bad, region)) in rows.iter().enumerate() {
            let names = (subnet, task);
            let r = Record {
                interface_id: Some(enis[eni as usize % 3]),
                region: region.map(|r| regions[r as usize % 3]),
                srcaddr: "10.0.0.5".parse().ok(),
                dstaddr: "52.216.8.1".parse().ok(),
                bytes: Some(100),
                start: Some(1_788_220_800),
                subnet_id: subnet.map(|s| subnets[s as usize % 3]),
                ecs_task_id: task.map(|t| tasks[t as usize % 3]),
                action: if reject {
                    Action::Reject
                } else {
                    Action::Accept
                },
                same_names: hinted && before == Some(names),
                same_interface: hinted && before_eni == Some(eni % 3),
                same_region: hinted && before_region == Some(region.map(|r| r % 3)),
                interface_entry: hinted.then(|| entry(i, eni)),
                ..Record::default()
            };
            let r = match deferred {
                false => r,
                true => Record {
                    region: None,
                    subnet_id: None,
                    ecs_task_id: None,
                    deferred: Some(crate::format::Deferred {
                        fields: crate::format::FieldSet::of(&[
                            Field::Region,
                            Field::SubnetId,
                            Field::EcsTaskId,
                        ]),
                        row: i as u32,
                        from: &columns,
                    }),
                    ..r
                },
            };
            before = Some(names);
            before_eni = Some(eni % 3);
            before_region = Some(region.map(|r| r % 3));
            if bad {
                sink.malformed(i as u64 + 1, Malformed::BadUtf8);
            } else {
                sink.record(&r);
            }
        }
        drop(sink);
        let odd = acc.inputs.odd.clone();
        (sorted_table(acc), odd)
    }

    proptest::proptest! {
        /// A row repeating the names of the row before skips settling them only when they
        /// were settled in the same aggregate, and one repeating its ENI skips comparing
        /// the ids only when the ENI held is that row's: the hints never change what is
        /// counted (a malformed or rejected row in between, or another ENI, makes the
        /// names settle and the ids compare). Nor does a reader leaving the names and the
        /// region in their columns, nor one naming each ENI by a dictionary entry whose
        /// meaning changes with the dictionary ([`Record::interface_entry`]).
        #[test]
        fn reader_hints_change_nothing(
            rows in proptest::collection::vec(
                (0u8..3, proptest::option::of(0u8..3), proptest::option::of(0u8..3),
                 proptest::bool::weighted(0.2), proptest::bool::weighted(0.2),
                 proptest::option::of(0u8..3)),
                0..40,
            ),
        ) {
            let plain = accumulate(&rows, false, false);
            proptest::prop_assert_eq!(&accumulate(&rows, true, false), &plain);
            // and the fields a reader left in their columns are read where they are
            proptest::prop_assert_eq!(&accumulate(&rows, true, true), &plain);
            proptest::prop_assert_eq!(&accumulate(&rows, false, true), &plain);
        }
    }

    #[test]
    fn entry_slots_hold_one_dictionary_at_a_time() {
        let (d1, d2) = (Entry::new_dictionary(), Entry::new_dictionary());
        let e = |dict, entry| Some(Entry { dict, entry });
        let mut s = EntrySlots::default();
        assert_eq!(s.get(e(d1, 0)), None);
        s.note(e(d1, 3), 7);
        assert_eq!(s.get(e(d1, 3)), Some(7));
        assert_eq!(s.get(e(d1, 2)), None, "an entry not noted");
        assert_eq!(s.get(e(d2, 3)), None, "another dictionary's entry 3");
        s.note(e(d2, 0), 9);
        assert_eq!(s.get(e(d2, 0)), Some(9));
        assert_eq!(s.get(e(d1, 3)), None, "the dictionary before is forgotten");
        // a row without an entry, and entries past the bound, are not held
        s.note(None, 1);
        assert_eq!(s.get(None), None);
        s.note(e(d2, MAX_ENTRIES), 4);
        assert_eq!(s.get(e(d2, MAX_ENTRIES)), None);
        assert!(s.slots.len() <= MAX_ENTRIES as usize);
    }

    /// Feed `records` to one sink of a fresh accumulator of `run`'s settings; the sink's
    /// stats and the settled accumulator come back.
    fn through_a_sink(run: RunConfig, records: &[Record<'_>]) -> (FileStats, Accumulator) {
        through_a_file("", run, records)
    }

    fn through_a_file(
        path: &str,
        run: RunConfig,
        records: &[Record<'_>],
    ) -> (FileStats, Accumulator) {
        static R: std::sync::OnceLock<IpRanges> = std::sync::OnceLock::new();
        let ranges = R.get_or_init(IpRanges::embedded);
        let params = Params::new(Arc::new(run));
        let mut acc = Accumulator::new(&params);
        let stats = FileStats {
            path: path.into(),
            ..FileStats::default()
        };
        let mut sink = acc.file(ranges, &params, stats, None);
        for r in records {
            sink.record(r);
        }
        let stats = sink.take();
        (stats, acc)
    }

    #[test]
    fn admit_counts_each_line_once_and_notes_its_dates() {
        let rec = |status, start: Option<i64>| Record {
            interface_id: Some("eni-a"),
            srcaddr: "10.0.0.5".parse().ok(),
            dstaddr: "52.216.8.1".parse().ok(),
            bytes: Some(10),
            start,
            end: start.map(|t| t + 60),
            status,
            ..Record::default()
        };
        let run = RunConfig {
            since: Some(1_000),
            until: Some(2_000),
            ..RunConfig::default()
        };
        let records = [
            rec(LogStatus::NoData, Some(1_500)),
            rec(LogStatus::SkipData, Some(1_500)),
            rec(LogStatus::Ok, None),
            rec(LogStatus::Ok, Some(999)),
            rec(LogStatus::Ok, Some(2_000)),
            rec(LogStatus::Ok, Some(1_000)),
        ];
        let (stats, acc) = through_a_sink(run, &records);
        let c = &stats.counts;
        assert_eq!(c.lines, 6);
        assert_eq!((c.nodata, c.skipdata, stats.skipdata_windows), (1, 1, 1));
        assert_eq!((c.undated, c.outside_time, c.counted), (1, 2, 1));
        // the dates of the OK records, inside the filter or not
        assert_eq!(
            (acc.inputs.dated.first(), acc.inputs.dated.last()),
            (Some(999), Some(2_060))
        );
        let table = sorted_table(acc);
        assert_eq!(table.len(), 1);
        assert_eq!(
            (table[0].1.records, table[0].1.public.values().sum::<u64>()),
            (1, 10)
        );
    }

    /// An input whose every record lacks a field the figures need (a flow log's custom
    /// format without it, values left out or null) is marked failed, naming the fields; one
    /// record holding the field spares the input.
    #[test]
    fn an_input_whose_records_all_lack_a_needed_field_is_marked() {
        let t = 1_788_220_800;
        let full = Record {
            interface_id: Some("eni-a"),
            srcaddr: "10.0.0.5".parse().ok(),
            dstaddr: "52.216.8.1".parse().ok(),
            bytes: Some(10),
            start: Some(t),
            end: Some(t + 60),
            ..Record::default()
        };
        let no_bytes = Record {
            bytes: None,
            ..full.clone()
        };
        let no_start = Record {
            start: None,
            ..full.clone()
        };
        let no_dst = Record {
            dstaddr: None,
            ..full.clone()
        };
        let bare = Record {
            interface_id: None,
            srcaddr: None,
            bytes: None,
            ..full.clone()
        };
        let nodata = Record {
            status: LogStatus::NoData,
            bytes: None,
            ..full.clone()
        };
        let marked = |run: RunConfig, records: &[Record<'_>]| {
            let (mut stats, _) = through_a_sink(run, records);
            stats.mark_unusable();
            (stats.lacking(), stats.failure, stats.error, stats.counts)
        };
        let plain = RunConfig::default;
        // fields lacking in every counted record, and the message naming them
        let (lacking, failure, error, c) =
            marked(plain(), &[no_bytes.clone(), bare.clone(), nodata.clone()]);
        assert_eq!(lacking, ["bytes"]);
        assert_eq!(failure, Some(crate::source::FailureKind::LackingFields));
        assert_eq!(
            error.as_deref(),
            Some("none of its 2 records has bytes, which the figures need (the flow log's format leaves it out)")
        );
        // (counted for the fields no record has, not record by record)
        let w = Without {
            bytes: 2,
            ..Without::default()
        };
        assert_eq!((c.counted, c.nodata, c.without), (2, 1, w));
        let (lacking, _, error, _) = marked(plain(), std::slice::from_ref(&bare));
        assert_eq!(lacking, ["interface-id", "srcaddr/dstaddr", "bytes"]);
        assert!(error.unwrap().contains(
            "has interface-id, srcaddr/dstaddr or bytes, which the figures need (the flow log's format leaves them out)"
        ));
        assert_eq!(
            marked(plain(), std::slice::from_ref(&no_dst)).0,
            ["srcaddr/dstaddr"]
        );
        assert_eq!(
            marked(plain(), std::slice::from_ref(&no_start)).0,
            ["start"]
        );
        // one record with each field spares the input; none counted, nothing to say
        for records in [
            vec![
                no_bytes.clone(),
                no_start.clone(),
                no_dst.clone(),
                full.clone(),
            ],
            vec![
                no_bytes.clone(),
                no_start.clone(),
                no_dst.clone(),
                bare.clone(),
            ],
            vec![nodata.clone()],
            vec![],
        ] {
            let n = records.len();
            let (lacking, failure, error, _) = marked(plain(), &records);
            assert!(
                lacking.is_empty() && failure.is_none() && error.is_none(),
                "{n}"
            );
        }
        // under a time filter records without a start are undated, not counted: alone they
        // lack the start still, beside one dated in the range they do not
        let run = || RunConfig {
            since: Some(t - 3600),
            until: Some(t + 3600),
            ..RunConfig::default()
        };
        let (lacking, _, _, c) = marked(run(), &[no_start.clone(), no_start.clone()]);
        assert_eq!((lacking, c.undated, c.counted), (vec!["start"], 2, 0));
        assert!(marked(run(), &[no_start.clone(), full.clone()])
            .0
            .is_empty());
        // an input that failed keeps its own failure
        let (mut stats, _) = through_a_sink(plain(), &[no_bytes]);
        stats.error = Some("cut short".into());
        stats.failure = Some(crate::source::FailureKind::CutShort);
        stats.mark_unusable();
        assert_eq!(stats.failure, Some(crate::source::FailureKind::CutShort));
    }

    #[test]
    fn a_record_ending_before_its_start_or_lasting_over_an_hour_is_malformed() {
        // one such time stretched its NAT gateway's covered time, and every projection shrank
        let t = 1_788_220_800;
        let rec = |start: Option<i64>, end: Option<i64>| Record {
            interface_id: Some("eni-a"),
            srcaddr: "10.0.0.5".parse().ok(),
            dstaddr: "52.216.8.1".parse().ok(),
            bytes: Some(10),
            start,
            end,
            ..Record::default()
        };
        let records = [
            rec(Some(t), Some(t)),
            rec(Some(t), Some(t + MAX_RECORD_SPAN)),
            rec(Some(t), None),
            rec(None, Some(t + 60)),
            rec(Some(t), Some(t - 1)),
            rec(Some(t), Some(t + MAX_RECORD_SPAN + 1)),
            rec(Some(t), Some(4_102_444_000)),
            rec(Some(1_300_000_000), Some(t)),
            rec(Some(t), Some(t + 60)),
        ];
        let (stats, acc) = through_a_sink(RunConfig::default(), &records);
        let c = &stats.counts;
        assert_eq!((c.lines, c.counted, c.malformed), (9, 5, 4));
        let lines: Vec<u64> = stats.malformed_examples.iter().map(|b| b.line).collect();
        assert_eq!(lines, [5, 6, 7, 8]);
        let why = Malformed::TimeSpan.to_string();
        assert!(stats.malformed_examples.iter().all(|b| b.reason == why));
        // neither the data's span nor the ENI's takes their times
        assert_eq!(
            (acc.inputs.dated.first(), acc.inputs.dated.last()),
            (Some(t), Some(t + MAX_RECORD_SPAN))
        );
        let table = sorted_table(acc);
        assert_eq!(table[0].1.records, 5);
        assert_eq!(
            (table[0].1.span.first(), table[0].1.span.last()),
            (Some(t), Some(t + MAX_RECORD_SPAN))
        );
    }

    #[test]
    fn a_record_starting_far_from_its_deliverys_time_is_malformed() {
        // a delivery named for 2026-09-02T00:00Z holds the records of the minutes before it;
        // a record of 2096 in it stretched the period to seventy years
        let t = 1_788_307_200;
        let rec = |start: i64| Record {
            interface_id: Some("eni-a"),
            srcaddr: "10.0.0.5".parse().ok(),
            dstaddr: "52.216.8.1".parse().ok(),
            bytes: Some(10),
            start: Some(start),
            end: Some(start + 60),
            ..Record::default()
        };
        let records = [
            rec(t - 300),
            rec(t - DELIVERY_WINDOW),
            rec(t + DELIVERY_WINDOW),
            rec(t - DELIVERY_WINDOW - 1),
            rec(t + DELIVERY_WINDOW + 1),
            rec(3_997_000_000),
            rec(1_300_000_000),
        ];
        let name = "a/111122223333_vpcflowlogs_us-east-1_fl-0f1e2d3c4b5a69788_20260902T0000Z_604ac5ce.log.gz";
        let (stats, acc) = through_a_file(name, RunConfig::default(), &records);
        let c = &stats.counts;
        assert_eq!((c.lines, c.counted, c.malformed), (7, 3, 4));
        let lines: Vec<u64> = stats.malformed_examples.iter().map(|b| b.line).collect();
        assert_eq!(lines, [4, 5, 6, 7]);
        let why = Malformed::OutsideDelivery.to_string();
        assert!(stats.malformed_examples.iter().all(|b| b.reason == why));
        assert_eq!(
            (acc.inputs.dated.first(), acc.inputs.dated.last()),
            (Some(t - DELIVERY_WINDOW), Some(t + DELIVERY_WINDOW + 60))
        );
        // the hours noted are the counted records' only
        let hours: Vec<u32> = acc.inputs.hours.iter().copied().collect();
        assert_eq!(hours.len(), 3, "{hours:?}");
        // under any other name the same records are all counted
        for other in [
            "export.log",
            "a/111122223333_vpcflowlogs_us-east-1_fl-0f1e2d3c4b5a69788_20260902T0000Z_export.log",
        ] {
            let (stats, _) = through_a_file(other, RunConfig::default(), &records);
            assert_eq!(
                (stats.counts.counted, stats.counts.malformed),
                (7, 0),
                "{other}"
            );
        }
    }

    /// A record of ENI `eni` from `start` to `end` with this status and action (a task's
    /// S3 upload of 10 bytes, where it is counted).
    fn dated(
        eni: Option<&'static str>,
        status: LogStatus,
        action: Action,
        start: i64,
        end: i64,
    ) -> Record<'static> {
        Record {
            interface_id: eni,
            srcaddr: "10.0.0.5".parse().ok(),
            dstaddr: "52.216.8.1".parse().ok(),
            bytes: Some(10),
            start: Some(start),
            end: Some(end),
            status,
            action,
            ..Record::default()
        }
    }

    #[test]
    fn the_hours_of_records_of_any_status_are_noted_once() {
        let t = 1_788_220_800;
        let rec = |status, start, end| dated(Some("eni-a"), status, Action::Accept, start, end);
        let run = RunConfig {
            since: Some(t),
            until: Some(t + 6 * 3600),
            ..RunConfig::default()
        };
        let records = [
            rec(LogStatus::Ok, t, t + 60),
            rec(LogStatus::Ok, t + 120, t + 180),
            rec(LogStatus::NoData, t + 5 * 3600, t + 5 * 3600 + 60),
            rec(LogStatus::Ok, t + 7 * 3600, t + 7 * 3600 + 60), // outside the filter
            rec(LogStatus::Ok, t + 9 * 3600, t),                 // malformed: not noted
        ];
        let (stats, acc) = through_a_sink(run, &records);
        assert_eq!((stats.counts.malformed, stats.counts.outside_time), (1, 1));
        let h = (t / 3600) as u32;
        let hours: Vec<u32> = acc.inputs.hours.iter().copied().collect();
        assert_eq!(hours, [h, h + 5], "inside the time filter only");
    }

    /// An ENI's NODATA windows and REJECT records (inside the time filter, dated as records
    /// must be) widen the time its logs cover, not its counted records' span: a NAT gateway
    /// idle at the start of a period was logged there all the same.
    #[test]
    fn nodata_windows_and_rejections_widen_the_time_an_enis_logs_cover() {
        let t = 1_788_220_800;
        let rec = dated;
        let (q, ok, nodata) = (Some("eni-q"), LogStatus::Ok, LogStatus::NoData);
        let (accept, reject) = (Action::Accept, Action::Reject);
        let h = 3600;
        let run = RunConfig {
            since: Some(t),
            until: Some(t + 8 * h),
            ..RunConfig::default()
        };
        let records = [
            rec(q, nodata, accept, t - h, t - h + 600), // before the filter: not taken
            rec(q, nodata, accept, t, t + 600),
            rec(Some("eni-idle"), nodata, accept, t, t + 600),
            rec(q, ok, accept, t + 3 * h, t + 3 * h + 60),
            rec(q, ok, reject, t + 5 * h, t + 5 * h + 60),
            rec(q, nodata, accept, t + 7 * h, t + 6 * h), // ends before it starts: not taken
            rec(None, nodata, accept, t + 7 * h, t + 7 * h + 60),
            rec(q, nodata, accept, t + 9 * h, t + 9 * h + 60), // after the filter
        ];
        let (stats, acc) = through_a_sink(run, &records);
        assert_eq!((stats.counts.nodata, stats.counts.counted), (6, 1));
        let table = sorted_table(acc);
        let of = |eni: &str| table.iter().find(|(k, _)| k == eni).unwrap().1.clone();
        let a = of("eni-q");
        assert_eq!((a.records, a.reject_records), (1, 1));
        assert_eq!(
            (a.span.first(), a.span.last()),
            (Some(t + 3 * h), Some(t + 3 * h + 60))
        );
        assert_eq!(
            (a.quiet.first(), a.quiet.last()),
            (Some(t), Some(t + 5 * h + 60))
        );
        assert_eq!(
            (a.logged().first(), a.logged().last()),
            (Some(t), Some(t + 5 * h + 60))
        );
        // an interface only idle is an ENI of no record, its logs' time kept
        let idle = of("eni-idle");
        assert_eq!(
            (idle.records, idle.span.first(), idle.quiet.first()),
            (0, None, Some(t))
        );
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn a_public_s3_leg_is_kept_by_traffic_path_and_its_downloads_by_pull_window() {
        let rec = |up: bool, path: Option<u8>, bytes: u64| {
            let (local, remote) = ("10.0.0.5".parse().ok(), "52.216.8.1".parse().ok());
            Record {
                interface_id: Some("eni-a"),
                region: Some("us-east-1"),
                srcaddr: if up { local } else { remote },
                dstaddr: if up { remote } else { local },
                bytes: Some(bytes),
                start: Some(1_788_220_800),
                traffic_path: path,
                ..Record::default()
            }
        };
        let records = [
            rec(true, Some(1), 1),
            rec(true, Some(2), 2),
            rec(true, Some(7), 4),
            rec(true, Some(5), 8),
            rec(true, None, 16),
            rec(false, Some(1), 32),
            rec(false, None, 64),
            rec(false, Some(2), 128),
        ];
        let (_, acc) = through_a_sink(RunConfig::default(), &records);
        let table = sorted_table(acc);
        let a = &table[0].1;
        assert_eq!(a.s3_egress_by_path, [1, 2 + 4, 8, 16]);
        let pulled: u64 = a.pull.entries.iter().map(|e| e.1).sum();
        assert_eq!(
            pulled,
            32 + 64,
            "a download through a gateway endpoint is no pull"
        );
        assert_eq!(a.public.values().sum::<u64>(), 255);
        assert_eq!(a.s3_unknown_region, 0);
    }

    /// One record of [`a_sink_per_record_adds_up_as_one_sink`]: ENI, day, kind of ends
    /// (public side either way, a NAT's private leg either way, internal), remote, bytes,
    /// client, minute of the day.
    type Flow = (u8, u8, u8, u8, u64, u8, u16);

    /// How [`table_of`] reads its flows.
    #[derive(Clone, Copy)]
    enum Sinks {
        /// One sink for all.
        One,
        /// A sink per record, each settling as it closes: every leg added at once.
        PerRecord,
        /// A sink per `n` records into an accumulator that settles only at the end, as the
        /// engine's (its sinks settle a batch of [`Legs::batch`] legs, three in tests).
        Deferred(usize),
    }

    /// The `end - start` of a flow's record, from its minute: 0 to 6 minutes.
    fn record_length(minute: u16) -> i64 {
        i64::from(minute % 7) * 60
    }

    /// The table with every client in the form the analysis reads ([`Client::as_read`]).
    fn as_read(mut table: Vec<(String, EniAgg)>) -> Vec<(String, EniAgg)> {
        let window = RunConfig::default().pull_window;
        for (_, a) in &mut table {
            if a.side.is_some() {
                let side = a.private_side_mut();
                let rules = StartRules::for_longest_record(side.longest_record);
                for c in side.by_client.values_mut() {
                    c.as_read(window, rules);
                }
            }
        }
        table
    }

    /// The ENI table after `flows`, read as `sinks` says.
    fn table_of(flows: &[Flow], sinks: Sinks) -> Vec<(String, EniAgg)> {
        static R: std::sync::OnceLock<IpRanges> = std::sync::OnceLock::new();
        let ranges = R.get_or_init(IpRanges::embedded);
        let params = Params::new(Arc::new(RunConfig::default()));
        let mut acc = Accumulator::new(&params);
        let remotes = ["52.216.8.1", "3.5.0.9", "8.8.8.8", "54.231.0.3"];
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let groups: Vec<&[Flow]> = match sinks {
            Sinks::One => vec![flows],
            Sinks::PerRecord => flows.chunks(1).collect(),
            Sinks::Deferred(n) => {
                acc = acc.deferring();
                flows.chunks(n.max(1)).collect()
            }
        };
        for group in groups {
            let mut sink = acc.file(ranges, &params, FileStats::default(), None);
            for &(eni, day, kind, remote, bytes, client, minute) in group {
                let remote = remotes[remote as usize % remotes.len()];
                let client = ["10.0.1.7", "10.0.1.8", "10.0.2.1", "fd00::7"][client as usize % 4];
                let nat = "10.0.0.9";
                let (src, dst, psrc, pdst) = match kind % 5 {
                    0 => (client, remote, None, None),
                    1 => (remote, client, None, None),
                    2 => (client, nat, Some(client), Some(remote)),
                    3 => (nat, client, Some(remote), Some(client)),
                    _ => (client, nat, None, None),
                };
                let start = 1_788_220_800 + i64::from(day % 4) * 40_000 + i64::from(minute) * 60;
                sink.record(&Record {
                    interface_id: Some(["eni-a", "eni-b", "eni-c"][eni as usize % 3]),
                    srcaddr: ip(src),
                    dstaddr: ip(dst),
                    pkt_srcaddr: psrc.and_then(ip),
                    pkt_dstaddr: pdst.and_then(ip),
                    bytes: Some(bytes),
                    start: Some(start),
                    end: Some(start + record_length(minute)),
                    region: Some("us-east-1"),
                    ..Record::default()
                });
            }
        }
        if let Sinks::Deferred(_) = sinks {
            acc.settle();
        }
        sorted_table(acc)
    }

    proptest::proptest! {
        /// What a sink keeps for the aggregate it holds (see [`FileSink`]) all reaches the
        /// table, whenever the ENI changes or the sink closes: a sink per record (each
        /// closing at once) gives the same table as one sink for all, and as sinks whose
        /// translated legs wait, across sinks, in batches ([`Legs`]).
        #[test]
        fn a_sink_per_record_adds_up_as_one_sink(
            flows in proptest::collection::vec(
                (0u8..3, 0u8..4, 0u8..5, 0u8..4,
                 proptest::prop_oneof![proptest::strategy::Just(0u64), 0u64..5000],
                 0u8..4, 0u16..90),
                0..60,
            ),
            per_sink in 1usize..20,
        ) {
            // (clients compared as the analysis reads them: batches settle with different
            // longest records known, so their state may differ in what it could drop early)
            let one = as_read(table_of(&flows, Sinks::One));
            proptest::prop_assert_eq!(&one, &as_read(table_of(&flows, Sinks::PerRecord)));
            proptest::prop_assert_eq!(&one, &as_read(table_of(&flows, Sinks::Deferred(per_sink))));
            // and nothing was dropped: the cells hold every byte of the records
            let cells: u64 = one.iter()
                .map(|(_, a)| a.public.values().sum::<u64>()
                    + a.private_side().private.values().sum::<u64>())
                .sum();
            let counted: u64 = flows.iter().filter(|f| f.2 % 5 < 4).map(|f| f.4).sum();
            proptest::prop_assert_eq!(cells, counted);
            // nor a translated record's count or length
            let translated = || flows.iter().filter(|f| matches!(f.2 % 5, 2 | 3));
            let (records, longest) = one.iter().fold((0, 0), |(n, l), (_, a)| {
                let p = a.private_side();
                (n + p.translated_records, p.longest_record.max(l))
            });
            proptest::prop_assert_eq!(records, translated().count() as u64);
            let expected = translated().map(|f| record_length(f.6)).max().unwrap_or(0);
            proptest::prop_assert_eq!(longest, expected);
        }
    }

    /// An aggregate whose translated legs were added reads back from its serialised form
    /// (a spill run's, a partial file's) equal to itself: what the legs' buffer keeps for
    /// speed (its batch size) is no part of it.
    #[test]
    fn a_settled_aggregate_reads_back_equal() {
        let flows: Vec<Flow> = (0..7u8)
            .map(|i| (0, 0, 2 + i % 2, 0, 100 + u64::from(i), i, u16::from(i)))
            .collect();
        let table = table_of(&flows, Sinks::One);
        assert!(table[0].1.private_side().translated_records == 7);
        for (_, a) in table {
            let back: EniAgg = postcard::from_bytes(&postcard::to_allocvec(&a).unwrap()).unwrap();
            assert_eq!(back, a);
        }
    }

    #[test]
    fn cells_round_trip() {
        for class in Class::ALL {
            for dir in [Dir::Upload, Dir::Download] {
                assert_eq!(uncell(cell(20_000, class, dir)), (20_000, class, dir));
            }
        }
    }

    #[test]
    fn pull_window_is_order_independent() {
        let w = 300;
        let events = [(1000, 5), (1300, 7), (1100, 3), (900, 11), (1199, 2)];
        let mut a = PullWindow::default();
        for (t, b) in events {
            a.add(t, b, w);
        }
        let mut b = PullWindow::default();
        for (t, bytes) in events.iter().rev() {
            b.add(*t, *bytes, w);
        }
        let mut c = PullWindow::default();
        let mut d = PullWindow::default();
        c.add(1300, 7, w);
        c.add(900, 11, w);
        d.add(1000, 5, w);
        d.add(1100, 3, w);
        d.add(1199, 2, w);
        c.merge(d, w);
        // window [900, 1200): 900, 1000, 1100, 1199
        assert_eq!(a.bytes(), 21);
        assert_eq!(b.bytes(), 21);
        assert_eq!(c.bytes(), 21);
    }
}
