//! Records given twice, found by two samples of the counted records:
//!
//! - **lines** ([`crate::format::Fingerprint`]: records, by a hash of their interface, flow,
//!   times and bytes, the same from a text line and a Parquet row), kept by that hash, the
//!   layout's field count and the flow log the record comes from, so that a record read again
//!   (two exports whose periods overlap, a file holding its records twice, a copy cut
//!   differently from its original, one export as text and as Parquet) is seen. AWS writes
//!   one record per flow, interface and aggregation window, so within one flow log two such
//!   records of a layout that names the flow are one record counted twice;
//! - **flows** of the inputs without a flow-log id ([`crate::format::flow_mark`]: the
//!   interface and the 5-tuple), each with a few of its distinct records. One flow log's
//!   records of a flow lie in windows that do not overlap; two flow logs on one interface (a
//!   security team's and a cost team's, exported without their ids, in other layouts or other
//!   windows, so that no line repeats) record it twice, and their records cover each other
//!   ([`Flow::twice`]). Records of flow logs that the inputs' names tell apart are left to
//!   [`crate::overlap`].
//!
//! Each sample is bounded: past [`MAX_KEPT`] items (lines) or [`MAX_FLOWS`] items the least sample level kept rises by one
//! and the items below it are dropped. Merging keeps the union at the least level that fits,
//! which is the level one sample of all the records would have reached, so any split of the
//! input gives the same sample (a property test says so), and a line's copies (a flow's
//! records), kept or dropped together, are counted exactly.

use std::collections::hash_map::Entry;

use serde::{Deserialize, Serialize};

use super::FxMap;
use crate::format::{Fingerprint, MIN_SAMPLE_LEVEL};

/// The most items a sample holds: a month of records (about 100 M) is sampled one line in
/// 8,192, enough to see an overlap of some 50,000 records. (14,336 items is what the standard
/// hash map holds in 16,384 slots, about 0.5 MB of lines; the slots of items dropped as the
/// level rises may make it take 32,768 once.)
pub const MAX_KEPT: usize = if cfg!(test) { 64 } else { 14_336 };

/// Sampled flows recorded twice that make a finding ([`Found::twice`]), at least, and at
/// least one in [`TWICE_ONE_IN`] of the sampled flows of two records or more: a flow whose
/// times are wrong, or a 5-tuple used again within a window by a writer that does not
/// aggregate as AWS does (the generator's worlds have some 4 in 100,000), is not a second
/// flow log; a second flow log on one interface in a hundred is.
pub const MIN_FLOWS_TWICE: u64 = 2;
pub const TWICE_ONE_IN: u64 = 100;

/// What is known of one sampled line: its level, how many times it was read, the bytes of
/// its record, and the two first of the inputs holding it (by name; `NONE` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    level: u8,
    count: u32,
    bytes: u64,
    inputs: [u32; 2],
}

/// The records a sampled flow keeps at most ([`Flow`]).
pub const KEPT_RECORDS: usize = 4;

/// The most sampled flows held (fewer than lines: each keeps [`KEPT_RECORDS`] records, about
/// 170 bytes).
pub const MAX_FLOWS: usize = if cfg!(test) { 32 } else { 4_096 };

/// One record of a sampled flow: a hash of what tells one record from another (its times
/// and bytes, and the number of fields of its layout: copies of a line are one
/// record, a second flow log's record of the same window in another layout another), its
/// times and bytes, and the first input holding it by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Rec {
    id: u64,
    start: i64,
    end: i64,
    bytes: u64,
    input: u32,
}

/// What is known of one sampled flow: its level, a hash of its interface ([`eni_hash`]),
/// and of its distinct records (by `id`) the [`KEPT_RECORDS`] of least `id`, in that order
/// (a sample of them that any order of reading and merging keeps alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flow {
    level: u8,
    len: u8,
    eni: u64,
    recs: [Rec; KEPT_RECORDS],
}

/// The hash of an interface's id by which sampled flows are counted per interface
/// ([`Tally`]).
pub fn eni_hash(eni: &str) -> u64 {
    salt(eni)
}

const NONE: u32 = u32::MAX;

const NO_REC: Rec = Rec {
    id: 0,
    start: 0,
    end: 0,
    bytes: 0,
    input: NONE,
};

/// An item of a [`Sample`]: its level, how another item of its key is added to it, and its
/// inputs' ids.
trait Item: Copy {
    /// The most items a sample of them holds.
    const MAX: usize;
    fn level(&self) -> u8;
    /// Add `o` (its inputs' ids already this sample's; `names` orders inputs by name).
    fn absorb(&mut self, o: &Self, names: &[Box<str>]);
    fn inputs_mut(&mut self) -> impl Iterator<Item = &mut u32>;
}

impl Item for Seen {
    const MAX: usize = MAX_KEPT;
    fn level(&self) -> u8 {
        self.level
    }
    fn absorb(&mut self, o: &Self, names: &[Box<str>]) {
        self.count = self.count.saturating_add(o.count);
        for &i in o.inputs.iter().filter(|&&i| i != NONE) {
            keep_first(&mut self.inputs, i, names);
        }
    }
    fn inputs_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.inputs.iter_mut().filter(|i| **i != NONE)
    }
}

impl Item for Flow {
    const MAX: usize = MAX_FLOWS;
    fn level(&self) -> u8 {
        self.level
    }
    fn absorb(&mut self, o: &Self, names: &[Box<str>]) {
        let by_name = |a: u32, b: u32| match names[a as usize] <= names[b as usize] {
            true => a,
            false => b,
        };
        // (both lists on the stack: no allocation a sampled record)
        let (mine, theirs) = (usize::from(self.len), usize::from(o.len));
        let mut both = [NO_REC; 2 * KEPT_RECORDS];
        both[..mine].copy_from_slice(&self.recs[..mine]);
        both[mine..mine + theirs].copy_from_slice(&o.recs[..theirs]);
        let all = &mut both[..mine + theirs];
        all.sort_unstable_by_key(|r| (r.id, r.start, r.end, r.bytes));
        let mut n = 0;
        for &r in all.iter() {
            match n > 0 && self.recs[n - 1].id == r.id {
                true => self.recs[n - 1].input = by_name(self.recs[n - 1].input, r.input),
                false if n < KEPT_RECORDS => {
                    self.recs[n] = r;
                    n += 1;
                }
                false => break,
            }
        }
        self.len = n as u8;
    }
    fn inputs_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.recs[..usize::from(self.len)]
            .iter_mut()
            .map(|r| &mut r.input)
    }
}

impl Flow {
    fn recs(&self) -> &[Rec] {
        &self.recs[..usize::from(self.len)]
    }

    /// Whether the flow was recorded twice at a time: two of its records overlap by more than
    /// half the shorter one (one flow log's windows do not overlap at all; a timestamp off by
    /// a little makes two touch, not cover each other).
    fn twice(&self) -> bool {
        let recs = self.recs();
        (recs.iter().enumerate()).any(|(i, a)| {
            recs[i + 1..].iter().any(|b| {
                let overlap = a.end.min(b.end).saturating_sub(a.start.max(b.start));
                let shorter = (a.end.saturating_sub(a.start)).min(b.end.saturating_sub(b.start));
                overlap > 0 && overlap.saturating_mul(2) > shorter
            })
        })
    }

    /// The bytes of its records kept.
    fn bytes(&self) -> u64 {
        self.recs()
            .iter()
            .fold(0u64, |s, r| s.saturating_add(r.bytes))
    }
}

/// Items by key, those below the least level kept dropped, at most [`MAX_KEPT`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sample<V> {
    level: u8,
    kept: FxMap<u64, V>,
}

impl<V> Default for Sample<V> {
    fn default() -> Self {
        Sample {
            level: MIN_SAMPLE_LEVEL,
            kept: FxMap::default(),
        }
    }
}

impl<V: Item> Sample<V> {
    /// Add `v` (its inputs' ids already this sample's owner's, whose names are `names`) to
    /// the item `key`, making room first where it is new and the sample full ([`Item::MAX`] items):
    /// the least level kept rises until the item fits or falls below it. The map never
    /// holds more than that, so it does not grow past its room for them.
    #[inline]
    fn add(&mut self, key: u64, v: V, names: &[Box<str>]) {
        if v.level() < self.level {
            return;
        }
        if self.kept.len() >= V::MAX && !self.kept.contains_key(&key) {
            self.make_room(v.level());
            if v.level() < self.level {
                return;
            }
        }
        match self.kept.entry(key) {
            Entry::Vacant(e) => {
                e.insert(v);
            }
            Entry::Occupied(mut e) => e.get_mut().absorb(&v, names),
        }
    }

    /// Raise the level until a new item of `level` fits (or falls below it).
    #[cold]
    fn make_room(&mut self, level: u8) {
        while self.kept.len() + usize::from(level >= self.level) > V::MAX {
            self.raise(self.level + 1);
        }
    }

    fn raise(&mut self, least: u8) {
        if least > self.level {
            self.level = least;
            self.kept.retain(|_, s| s.level() >= least);
        }
    }

    /// Fold `o` in, its inputs' ids mapped by `id` (associative and commutative).
    fn merge(&mut self, o: Sample<V>, id: impl Fn(u32) -> u32, names: &[Box<str>]) {
        self.raise(o.level);
        for (k, mut v) in o.kept {
            // (ids in name order stay in name order: the names are the same)
            v.inputs_mut().for_each(|i| *i = id(*i));
            self.add(k, v, names);
        }
    }

    /// Whether every item is at or above the level, the level a sample's, and the items at
    /// most [`Item::MAX`].
    fn holds_together(&self) -> bool {
        self.kept.len() <= V::MAX
            && self.level >= MIN_SAMPLE_LEVEL
            && self.level < 64
            && self.kept.values().all(|v| v.level() >= self.level)
    }
}

/// The samples of counted lines and flows, and the names of the inputs they met. Stored (in
/// partial files) as [`Stored`]: its items in hash order, so that one sample is one text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct Repeats {
    lines: Sample<Seen>,
    flows: Sample<Flow>,
    names: Vec<Box<str>>,
    ids: FxMap<Box<str>, u32>,
}

/// [`Repeats`] as stored: each line as `(hash, level, count, bytes, input, input)`, each flow
/// as `(hash, level, interface hash, records)` (its records in line-hash order).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    level: u8,
    lines: Vec<(u64, u8, u32, u64, u32, u32)>,
    flow_level: u8,
    flows: Vec<(u64, u8, u64, Vec<Rec>)>,
    names: Vec<Box<str>>,
}

impl From<Repeats> for Stored {
    fn from(r: Repeats) -> Stored {
        let mut lines: Vec<_> = (r.lines.kept.into_iter())
            .map(|(k, s)| (k, s.level, s.count, s.bytes, s.inputs[0], s.inputs[1]))
            .collect();
        lines.sort_unstable_by_key(|l| l.0);
        let mut flows: Vec<_> = (r.flows.kept.into_iter())
            .map(|(k, f)| (k, f.level, f.eni, f.recs().to_vec()))
            .collect();
        flows.sort_unstable_by_key(|f| f.0);
        Stored {
            level: r.lines.level,
            lines,
            flow_level: r.flows.level,
            flows,
            names: r.names,
        }
    }
}

impl TryFrom<Stored> for Repeats {
    type Error = &'static str;
    fn try_from(s: Stored) -> Result<Repeats, &'static str> {
        const BAD: &str = "a sample of lines or flows that does not hold together";
        let ids: FxMap<Box<str>, u32> = (s.names.iter().enumerate())
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let lines = (s.lines.into_iter())
            .map(|(k, level, count, bytes, a, b)| {
                let inputs = [a, b];
                let seen = Seen {
                    level,
                    count,
                    bytes,
                    inputs,
                };
                (k, seen)
            })
            .collect();
        let flows = (s.flows.into_iter())
            .map(|(k, level, eni, recs)| {
                let mut flow = Flow {
                    level,
                    len: u8::try_from(recs.len()).map_err(|_| BAD)?,
                    eni,
                    recs: [NO_REC; KEPT_RECORDS],
                };
                (flow.recs.get_mut(..recs.len()).ok_or(BAD)?).copy_from_slice(&recs);
                Ok((k, flow))
            })
            .collect::<Result<_, &'static str>>()?;
        let r = Repeats {
            lines: Sample {
                level: s.level,
                kept: lines,
            },
            flows: Sample {
                level: s.flow_level,
                kept: flows,
            },
            ids,
            names: s.names,
        };
        match r.is_consistent() {
            true => Ok(r),
            false => Err(BAD),
        }
    }
}

/// The salt of a flow log's lines in the sample: lines of two flow logs never meet.
pub fn salt(flow_log: &str) -> u64 {
    flow_log
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .rotate_left(29)
}

/// What the samples say: the lines read more than once, and the flows recorded twice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Sampled lines read more than once, and the copies read beyond the first of each.
    pub lines: u64,
    pub copies: u64,
    /// The bytes of those copies' records, and of every sampled line's records.
    pub copies_bytes: u64,
    pub bytes: u64,
    /// One record in this many was sampled.
    pub rate: u64,
    /// Pairs of inputs holding a repeated line, with how many sampled lines they share,
    /// most shared first (an input named twice holds lines twice itself).
    pub pairs: Vec<(String, String, u64)>,
    /// Flows recorded twice, where enough sampled flows were ([`MIN_FLOWS_TWICE`]).
    pub twice: Option<FoundTwice>,
}

/// What the sample of flows found: flows recorded twice at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundTwice {
    /// One flow in this many was sampled.
    pub rate: u64,
    /// Sampled flows of two records or more, and of those the flows recorded twice.
    pub flows: u64,
    pub twice: u64,
    /// The bytes of every sampled flow, and of those the bytes beyond one recording's.
    pub bytes: u64,
    pub extra_bytes: u64,
    /// The inputs holding most sampled flows recorded twice (up to three), with how many.
    pub inputs: Vec<(String, u64)>,
}

impl Repeats {
    /// The id of the input named `name`, for [`Repeats::note`].
    pub fn input(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// Note a counted record's fingerprint (`salt`: its flow log's), read from input `input`.
    #[inline]
    pub fn note(&mut self, fp: Fingerprint, salt: u64, bytes: u64, input: u32) {
        let seen = Seen {
            level: fp.level,
            count: 1,
            bytes,
            inputs: [input, NONE],
        };
        (self.lines).add(fp.hash ^ salt, seen, &self.names);
    }

    /// Note a counted record of the sampled flow `flow` ([`crate::format::flow_mark`]) on the
    /// interface of hash `eni` ([`eni_hash`]), told from the flow's other records by `record`
    /// ([`Rec`]), lasting `times`, read from input `input`.
    #[inline]
    pub fn note_flow(
        &mut self,
        flow: std::num::NonZeroU64,
        eni: u64,
        record: u64,
        times: (i64, i64),
        bytes: u64,
        input: u32,
    ) {
        let mut f = Flow {
            level: crate::format::flow_level(flow),
            len: 1,
            eni,
            recs: [NO_REC; KEPT_RECORDS],
        };
        f.recs[0] = Rec {
            id: record,
            start: times.0,
            end: times.1,
            bytes,
            input,
        };
        (self.flows).add(flow.get(), f, &self.names);
    }

    /// Fold `o` in (associative and commutative).
    pub fn merge(&mut self, o: Repeats) {
        let map: Vec<u32> = o.names.iter().map(|n| self.input(n)).collect();
        let id = |i: u32| map[i as usize];
        (self.lines).merge(o.lines, id, &self.names);
        (self.flows).merge(o.flows, id, &self.names);
    }

    /// The lines read more than once, the flows recorded twice, and where.
    pub fn found(&self) -> Found {
        let mut f = Found {
            rate: 1u64 << self.lines.level.min(63),
            twice: self.twice(),
            ..Found::default()
        };
        let mut pairs: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for s in self.lines.kept.values() {
            f.bytes = (f.bytes).saturating_add(u64::from(s.count).saturating_mul(s.bytes));
            if s.count < 2 {
                continue;
            }
            let extra = u64::from(s.count - 1);
            f.lines += 1;
            f.copies += extra;
            f.copies_bytes = f.copies_bytes.saturating_add(extra.saturating_mul(s.bytes));
            let [a, b] = s.inputs.map(|i| &*self.names[i as usize]);
            *pairs.entry((a, b)).or_default() += 1;
        }
        f.pairs = most(pairs)
            .map(|((a, b), n)| (a.to_string(), b.to_string(), n))
            .collect();
        f
    }

    /// The flows recorded twice, if enough were ([`Tally::found`]).
    fn twice(&self) -> Option<FoundTwice> {
        let mut t = FoundTwice {
            rate: 1u64 << self.flows.level.min(63),
            ..FoundTwice::default()
        };
        let mut tally = Tally::default();
        for f in self.flows.kept.values() {
            let bytes = f.bytes();
            t.bytes = t.bytes.saturating_add(bytes);
            if f.len < 2 {
                continue;
            }
            let twice = f.twice();
            let mut holding: Vec<u32> = f.recs().iter().map(|r| r.input).collect();
            holding.sort_unstable();
            holding.dedup();
            tally.add(&holding, f.eni, twice);
            if twice {
                // (a flow recorded twice: one recording's bytes are about half)
                t.extra_bytes = t.extra_bytes.saturating_add(bytes / 2);
            }
        }
        (t.flows, t.twice) = tally.all;
        let inputs = (tally.by_input.iter())
            .filter(|(_, &(_, twice))| twice > 0)
            .map(|(&i, &(_, twice))| (&*self.names[i as usize], twice))
            .collect();
        t.inputs = most(inputs).map(|(a, n)| (a.to_string(), n)).collect();
        tally.found().then_some(t)
    }

    /// Whether every sampled item and input name is consistent (a sample read back from a
    /// file: input ids inside the names, one id a name, levels at or above the sample's).
    fn is_consistent(&self) -> bool {
        let n = self.names.len() as u32;
        self.ids.len() == self.names.len()
            && self.lines.holds_together()
            && self.flows.holds_together()
            && self.lines.kept.values().all(|s| {
                s.count >= 1
                    && s.inputs[0] < n
                    && (s.inputs[1] < n || (s.inputs[1] == NONE && s.count == 1))
            })
            && self.flows.kept.values().all(|f| {
                let recs = f.recs();
                !recs.is_empty()
                    && recs.windows(2).all(|w| w[0].id < w[1].id)
                    && recs.iter().all(|r| r.input < n && r.start <= r.end)
            })
    }
}

/// Whether `twice` sampled flows recorded twice among `flows` of two records or more make a
/// finding ([`MIN_FLOWS_TWICE`], [`TWICE_ONE_IN`]).
fn enough(twice: u64, flows: u64) -> bool {
    twice >= MIN_FLOWS_TWICE && twice.saturating_mul(TWICE_ONE_IN) >= flows
}

/// Whether `twice` sampled flows recorded twice among one input's or interface's `flows` of
/// two records or more make a finding: at least [`MIN_FLOWS_TWICE`], and half of them.
fn mostly_twice(twice: u64, flows: u64) -> bool {
    twice >= MIN_FLOWS_TWICE && twice.saturating_mul(2) >= flows
}

/// The sampled flows of two records or more, and of them those recorded twice: in all, by
/// input holding a record of theirs, and by interface.
#[derive(Debug, Default)]
struct Tally {
    all: (u64, u64),
    by_input: FxMap<u32, (u64, u64)>,
    by_eni: FxMap<u64, (u64, u64)>,
}

impl Tally {
    /// A flow whose records are in `inputs` (each once), on interface `eni`.
    fn add(&mut self, inputs: &[u32], eni: u64, twice: bool) {
        let count = |(flows, t): &mut (u64, u64)| {
            *flows += 1;
            *t += u64::from(twice);
        };
        count(&mut self.all);
        inputs
            .iter()
            .for_each(|&i| count(self.by_input.entry(i).or_default()));
        count(self.by_eni.entry(eni).or_default());
    }

    /// Whether the flows recorded twice make a finding: one in a hundred of all of them
    /// ([`enough`]), or most of those of one input or of one interface ([`mostly_twice`]). A
    /// second flow log on a few interfaces (one on the NAT gateway's ENI beside the VPC's) is
    /// under one flow in a hundred of a VPC of much internal traffic, but those interfaces'
    /// flows are all recorded twice, and its inputs hold them alone where it was exported
    /// alone.
    fn found(&self) -> bool {
        let mostly = |&(flows, twice): &(u64, u64)| mostly_twice(twice, flows);
        enough(self.all.1, self.all.0)
            || self.by_input.values().any(mostly)
            || self.by_eni.values().any(mostly)
    }
}

/// The entries of `counts` most counted first (then by key), the first three.
fn most<K: Ord>(counts: std::collections::BTreeMap<K, u64>) -> impl Iterator<Item = (K, u64)> {
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    v.into_iter().take(3)
}

/// Keep in `two` the two first of its inputs and `input` by name (a multiset: an input may
/// be there twice), so that which inputs a line names does not depend on the order read.
fn keep_first(two: &mut [u32; 2], input: u32, names: &[Box<str>]) {
    let before = |b: u32| b == NONE || names[input as usize] < names[b as usize];
    if before(two[0]) {
        two[1] = two[0];
        two[0] = input;
    } else if before(two[1]) {
        two[1] = input;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(hash: u64, level: u8) -> Fingerprint {
        Fingerprint { hash, level }
    }

    /// Note each line of `reads` (`(hash, level, input name)`) into one sample.
    fn sample(reads: &[(u64, u8, &str)]) -> Repeats {
        let mut r = Repeats::default();
        for &(h, l, name) in reads {
            let id = r.input(name);
            r.note(fp(h, l), 0, h % 1000, id);
        }
        r
    }

    #[test]
    fn a_line_read_twice_is_found_with_its_inputs() {
        let l = MIN_SAMPLE_LEVEL;
        let r = sample(&[
            (1, l, "b"),
            (2, l, "b"),
            (3, l + 3, "b"),
            (2, l, "a"),
            (3, l + 3, "c"),
            (3, l + 3, "c"),
            (4, l - 1, "a"), // below the sample
            (4, l - 1, "a"),
        ]);
        let f = r.found();
        assert_eq!((f.lines, f.copies, f.rate), (2, 3, 1 << l));
        assert_eq!(f.copies_bytes, 2 + 2 * 3);
        assert_eq!(
            f.pairs,
            vec![("a".into(), "b".into(), 1), ("b".into(), "c".into(), 1)]
        );
        assert!(r.is_consistent());
    }

    #[test]
    fn lines_of_two_flow_logs_never_meet() {
        let mut r = Repeats::default();
        let id = r.input("x");
        let l = MIN_SAMPLE_LEVEL;
        r.note(fp(7, l), salt("fl-a"), 1, id);
        r.note(fp(7, l), salt("fl-b"), 1, id);
        r.note(fp(7, l), salt(""), 1, id);
        assert_eq!(r.found().lines, 0);
        r.note(fp(7, l), salt("fl-b"), 1, id);
        assert_eq!(r.found().pairs, vec![("x".into(), "x".into(), 1)]);
    }

    #[test]
    fn the_sample_stays_bounded_and_its_copies_exact() {
        // every line twice, far more lines than the sample holds
        let reads: Vec<(u64, u8, &str)> = (0..2000u64)
            .flat_map(|h| {
                let level = MIN_SAMPLE_LEVEL + (h.trailing_zeros() as u8).min(20);
                [(h, level, "a"), (h, level, "b")]
            })
            .collect();
        let r = sample(&reads);
        assert!(r.lines.kept.len() <= MAX_KEPT);
        let f = r.found();
        assert!(f.rate > 1 << MIN_SAMPLE_LEVEL);
        // each line kept was kept with both of its copies
        assert_eq!(f.lines, f.copies);
        assert_eq!(f.lines, r.lines.kept.len() as u64);
        assert_eq!(f.pairs, vec![("a".into(), "b".into(), f.lines)]);
    }

    /// A flow mark of level `level` for flow `k` (its hash's leading zeros are the level).
    fn mark(k: u64, level: u8) -> std::num::NonZeroU64 {
        std::num::NonZeroU64::new(((1u64 << 63) >> level) | (k << 1) | 1).unwrap()
    }

    /// A record of a flow: `(flow, level, start, end, input name)`; it is told from others
    /// by its flow, times and input's layout (`b` inputs write another layout than `a` ones).
    type FlowRead<'a> = (u64, u8, i64, i64, &'a str);

    fn note_flows(r: &mut Repeats, reads: &[FlowRead<'_>]) {
        for &(k, level, start, end, name) in reads {
            let layout = u64::from(name.starts_with('b'));
            let record = (k << 40) ^ ((start as u64) << 20) ^ ((end as u64) << 1) ^ layout;
            let id = r.input(name);
            r.note_flow(mark(k, level), k % 7, record, (start, end), 100, id);
        }
    }

    fn flows(reads: &[FlowRead<'_>]) -> Repeats {
        let mut r = Repeats::default();
        note_flows(&mut r, reads);
        r
    }

    /// Records of `flows` flows in one-minute windows from `from` (each flow in `input`),
    /// and in ten-minute windows from `ten` where given.
    fn windows<'a>(
        ks: std::ops::Range<u64>,
        one: &'a str,
        ten: Option<&'a str>,
    ) -> Vec<FlowRead<'a>> {
        let l = MIN_SAMPLE_LEVEL;
        let mut v = Vec::new();
        for k in ks {
            for w in 0..10 {
                v.push((k, l, 1_000 + w * 60, 1_000 + w * 60 + 59, one));
            }
            if let Some(ten) = ten {
                v.push((k, l, 1_000, 1_599, ten));
            }
        }
        v
    }

    #[test]
    fn a_flow_recorded_by_two_flow_logs_is_found_and_one_flow_log_is_not() {
        // one flow log: windows that follow each other (touching in a second) are one recording
        let one = flows(&windows(0..10, "a", None));
        let f = one.found();
        assert_eq!(f.twice, None);
        // a second flow log with ten-minute windows over the same flows
        let two = flows(&windows(0..10, "a", Some("b")));
        let t = two.found().twice.expect("found");
        assert_eq!((t.flows, t.twice, t.rate), (10, 10, 1 << MIN_SAMPLE_LEVEL));
        assert_eq!(t.inputs, vec![("a".into(), 10), ("b".into(), 10)]);
        assert_eq!((t.bytes, t.extra_bytes), (10 * 4 * 100, 10 * 2 * 100));
        // the same lines read twice are copies (the sample of lines), not a second recording
        let mut copies = windows(0..10, "a", None);
        copies.extend(windows(0..10, "a2", None));
        assert_eq!(flows(&copies).found().twice, None);
        // the same windows written in another layout are
        let mut layouts = windows(0..10, "a", None);
        layouts.extend(windows(0..10, "b", None));
        assert_eq!(flows(&layouts).found().twice.map(|t| t.twice), Some(10));
        // a timestamp a little off makes two windows touch, not cover each other
        let jitter: Vec<FlowRead> = (0..10)
            .flat_map(|k| [(k, 7, 0, 59, "a"), (k, 7, 55, 119, "a")])
            .collect();
        assert_eq!(flows(&jitter).found().twice, None);
    }

    #[test]
    fn a_few_flows_recorded_twice_among_many_are_no_finding() {
        // one flow recorded twice is not enough
        let mut reads = windows(0..1, "a", Some("b"));
        assert_eq!(flows(&reads).found().twice, None);
        // two are, among up to a hundred times as many flows
        reads.extend(windows(1..2, "a", Some("b")));
        assert!(flows(&reads).found().twice.is_some());
        reads.extend(windows(2..30, "a", None));
        let r = flows(&reads);
        assert_eq!(r.found().twice.map(|t| (t.flows, t.twice)), Some((30, 2)));
        // fewer than one in a hundred are not
        assert!(enough(2, 200) && enough(3, 300) && !enough(2, 201) && !enough(1, 1));
        assert!(mostly_twice(2, 4) && mostly_twice(5, 10) && mostly_twice(3, 3));
        assert!(!mostly_twice(2, 5) && !mostly_twice(1, 1) && !mostly_twice(0, 0));
    }

    /// Flows recorded twice under one in a hundred of all are a finding where they are most
    /// of one input's flows, or of one interface's; two strays among many are not.
    #[test]
    fn most_flows_of_one_input_or_interface_recorded_twice_are_a_finding() {
        // 10,000 flows of one flow log on 1,000 interfaces, all in input 0
        let base = || {
            let mut t = Tally::default();
            (0..10_000).for_each(|k| t.add(&[0], k % 1000, false));
            t
        };
        let mut strays = base();
        strays.add(&[0], 3, true);
        strays.add(&[0], 4, true);
        assert!(!strays.found());
        // a second flow log on one interface, exported with the first: that interface's
        let mut one_eni = base();
        (0..5).for_each(|_| one_eni.add(&[0], 5_000, true));
        assert!(one_eni.found());
        // ... but half of its flows recorded once: still most of them
        one_eni.add(&[0], 5_000, false);
        assert!(one_eni.found());
        // a second flow log on 30 interfaces with a flow each, exported alone: its input's
        let mut own_input = base();
        (0..30).for_each(|k| own_input.add(&[0, 1], 5_000 + k, true));
        assert!(own_input.found());
        assert_eq!(own_input.all, (10_030, 30));
        // the same flows in input 0 alone: one in a hundred of nothing, neither
        let mut mixed = base();
        (0..30).for_each(|k| mixed.add(&[0], 5_000 + k, true));
        assert!(!mixed.found());
        // a hundredth of all is found as before
        let mut many = base();
        (0..102).for_each(|k| many.add(&[0], k, true));
        assert!(many.found());
    }

    proptest! {
        /// Any split of the reads, merged in any grouping, gives the sample one reader of all
        /// of them gives (what is found, and the inputs named).
        #[test]
        fn merged_parts_are_one_sample(
            reads in prop::collection::vec((0u64..150, 0u8..1, 0usize..4), 0..400),
            flow_reads in prop::collection::vec((0u64..60, 0i64..40, 0i64..3, 0usize..4), 0..400),
            cuts in prop::collection::vec(0usize..400, 0..5),
            reverse in any::<bool>(),
        ) {
            let names = ["d", "a", "c", "b"];
            let reads: Vec<(u64, u8, &str)> = reads
                .into_iter()
                // one level a line, as a record's is
                .map(|(h, _, n)| (h, MIN_SAMPLE_LEVEL + (h % 7) as u8, names[n]))
                .collect();
            let flow_reads: Vec<FlowRead> = flow_reads
                .into_iter()
                // one level a flow; windows of 60 s, some of 120 s over two
                .map(|(k, w, long, n)| {
                    let level = MIN_SAMPLE_LEVEL + (k % 5) as u8;
                    (k, level, w * 60, w * 60 + 59 + 60 * i64::from(long == 2), names[n])
                })
                .collect();
            let whole = {
                let mut r = sample(&reads);
                note_flows(&mut r, &flow_reads);
                r
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(reads.len())).collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([reads.len()]) {
                let mut part = sample(&reads[from..c]);
                // the flows' records cut at the same shares of their list
                let at = |i: usize| flow_reads.len() * i / reads.len().max(1);
                note_flows(&mut part, &flow_reads[at(from)..at(c).max(at(from))]);
                parts.push(part);
                from = c;
            }
            if reads.is_empty() {
                note_flows(&mut parts[0], &flow_reads);
            }
            if reverse {
                parts.reverse();
            }
            let merged = parts.into_iter().reduce(|mut a, b| { a.merge(b); a }).unwrap();
            prop_assert_eq!(merged.lines.level, whole.lines.level);
            prop_assert_eq!(merged.flows.level, whole.flows.level);
            prop_assert_eq!(merged.found(), whole.found());
            prop_assert!(merged.is_consistent());
            // stored and read back whole
            let text = serde_json::to_string(&merged).unwrap();
            let back: Repeats = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &merged);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }

    #[test]
    fn a_stored_sample_that_does_not_hold_together_is_refused() {
        let stored = |lines: &str, flows: &str, names: &str| {
            format!(
                r#"{{"level":7,"lines":[{lines}],"flow_level":7,"flows":[{flows}],"names":[{names}]}}"#
            )
        };
        let rec = |id: u64, start: i64, end: i64, input: u32| {
            format!(r#"{{"id":{id},"start":{start},"end":{end},"bytes":1,"input":{input}}}"#)
        };
        let flow = |recs: &[String]| format!("[5,7,9,[{}]]", recs.join(","));
        for bad in [
            stored("[1,7,2,0,0,1]", "", r#""a""#), // no second input
            stored("[1,6,1,0,0,4294967295]", "", r#""a""#), // below the level
            stored("[1,7,2,0,0,0]", "", r#""a","a""#), // a name twice
            r#"{"level":2,"lines":[],"flow_level":7,"flows":[],"names":[]}"#.into(),
            r#"{"level":64,"lines":[],"flow_level":7,"flows":[],"names":[]}"#.into(),
            r#"{"level":7,"lines":[],"flow_level":6,"flows":[],"names":[]}"#.into(),
            stored("", "[5,6,9,[]]", ""), // a flow of no record
            stored("", &format!("[5,7,[{}]]", rec(1, 0, 1, 0)), r#""a""#), // no interface
            stored("", &flow(&[rec(2, 0, 1, 0), rec(1, 0, 1, 0)]), r#""a""#), // out of order
            stored("", &flow(&[rec(1, 0, 1, 0), rec(1, 0, 1, 0)]), r#""a""#), // a record twice
            stored("", &flow(&[rec(1, 5, 1, 0)]), r#""a""#), // ends before it starts
            stored("", &flow(&[rec(1, 0, 1, 1)]), r#""a""#), // no such input
            stored(
                "",
                &flow(&(1..=5).map(|l| rec(l, 0, 1, 0)).collect::<Vec<_>>()),
                r#""a""#,
            ),
        ] {
            assert!(serde_json::from_str::<Repeats>(&bad).is_err(), "{bad}");
        }
        let good = stored(
            "[1,7,2,0,0,0]",
            &flow(&[rec(1, 0, 60, 0), rec(2, 0, 60, 0)]),
            r#""a""#,
        );
        let r = serde_json::from_str::<Repeats>(&good).unwrap();
        assert_eq!(r.found().copies, 1);
        assert_eq!(r.flows.kept[&5].recs().len(), 2);
    }
}
