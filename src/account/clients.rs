//! The NAT's private legs per client address: bytes by class and direction, and the times
//! the address was active, from which the analysis reads task starts and their image pulls
//! when the tasks' own ENIs are not logged (README, "How ECR is estimated"). Every state
//! here merges associatively, so any split of the input gives the same starts.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::{Dir, PullWindow};
use crate::classify::Class;

/// A client's private-leg bytes through one NAT ENI, by class and direction.
pub type ClientCells = [[u64; 2]; 5];

/// How long a client address must go without a record on the NAT's private legs before its
/// next record counts as a new task's start (Fargate hands a stopped task's address to a
/// later task). Chosen by measurement on generated worlds with address reuse (README, "How
/// ECR is estimated").
pub const IDLE_GAP: i64 = 900;

/// The quiet whole minutes before an AWS API exchange that let it open a task on an address
/// already in a session (the least the analysis asks; it asks more where the flow log
/// aggregates over longer intervals). Chosen by measurement, as [`IDLE_GAP`].
pub const QUIET_MINUTES: i64 = 2;

/// S3 download records (connections) starting within a minute of an AWS API opening that
/// make it an image pull.
pub const LAYER_STREAMS: u32 = 3;

/// What makes a task start on a NAT's private legs, for a flow log whose records span up to
/// `longest` seconds (about its aggregation interval): the idle gap ([`IDLE_GAP`]) and the
/// quiet minutes before an AWS API opening ([`QUIET_MINUTES`]), or, where the log aggregates
/// over longer intervals, twice the interval and two minutes, and twice the interval (an
/// active client may show no record for up to two intervals).
///
/// Both grow with `longest`, and `longest` only grows as records come in: the rules of part
/// of the input are never stricter than those of all of it. So the clients' state may drop,
/// as it goes, what the rules known so far already rule out (a session joined at a longer
/// gap, an S3 download no opening with that many quiet minutes could claim): the analysis,
/// which applies the rules of all the input, finds the same starts and pulls. That is what
/// keeps a month of a busy NAT gateway's clients in bounded memory under 10-minute
/// aggregation, whose quiet minutes would otherwise keep nearly every S3 download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartRules {
    /// Seconds without a record that end a session.
    pub gap: i64,
    /// Whole minutes without a record that must precede an AWS API opening.
    pub quiet: i64,
}

impl StartRules {
    /// The rules for records spanning up to `longest` seconds (taken within 0..=3600).
    pub fn for_longest_record(longest: i64) -> StartRules {
        let longest = longest.clamp(0, 3600);
        StartRules {
            gap: IDLE_GAP.max(2 * longest + 120),
            quiet: QUIET_MINUTES.max((2 * longest + 59) / 60),
        }
    }
}

/// One client address's private legs through one NAT ENI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub cells: ClientCells,
    pub sessions: Sessions,
    #[serde(default)]
    pub openings: Openings,
}

impl Client {
    /// A private-leg record of `bytes` to or from a remote of `class`, with its start and the
    /// known-start stretch that lies in (`at`, if the start is known), kept for pull window
    /// `window` under `rules`.
    pub(super) fn record(
        &mut self,
        at: Option<(i64, u32)>,
        class: Class,
        dir: Dir,
        bytes: u64,
        window: i64,
        rules: StartRules,
    ) {
        self.cells[class.index()][dir as usize] += bytes;
        let Some((t, stretch)) = at else { return };
        let s3_download = match (class, dir) {
            (Class::S3, Dir::Download) => bytes,
            _ => 0,
        };
        self.sessions
            .observe(t, s3_download, window, rules.gap, stretch);
        self.openings.observe(
            t,
            class == Class::AwsOther,
            s3_download,
            window,
            rules.quiet,
        );
    }

    /// The form the analysis reads, pruned under `rules` (those of all its ENI's records):
    /// the sessions joined at their gap, the openings without what they rule out. The same
    /// records give the same form whatever order and batches they came in, where the state
    /// itself may still hold what a part's less strict rules could not yet drop.
    #[cfg(test)]
    pub(super) fn as_read(&mut self, window: i64, rules: StartRules) {
        let mut sessions = Sessions::default();
        sessions.merge(std::mem::take(&mut self.sessions), window, rules.gap);
        self.sessions = sessions;
        self.openings.prune(window, rules.quiet);
    }

    /// In shape (see [`super::EniAgg::check`]).
    pub(super) fn check(&self) -> Result<(), &'static str> {
        let bound = super::RUN_BYTES_MAX;
        if self.cells.iter().flatten().any(|v| *v > bound)
            || self
                .sessions
                .iter()
                .flat_map(|s| &s.pull.entries)
                .any(|e| e.1 > bound)
        {
            return Err("a client's byte count past the bound");
        }
        self.openings.check()
    }

    /// Fold the same address's state from other input in, under the rules of both.
    pub(super) fn merge(&mut self, o: Client, window: i64, rules: StartRules) {
        for (m, c) in self.cells.iter_mut().zip(o.cells) {
            m[0] += c[0];
            m[1] += c[1];
        }
        self.sessions.merge(o.sessions, window, rules.gap);
        self.openings.merge(o.openings, window, rules.quiet);
    }
}

/// A NAT's translated private legs of IPv4 clients, waiting to be added to their clients.
/// Such legs come in no order of client (a file holds a few records each of about a thousand
/// clients, out of tens of thousands), and adding each as it comes fetches its client's
/// state, a few cache lines in a table larger than the cache, once per record: measured, a
/// third of the run's time went there. Gathered and added in order of client and start, a
/// client's state is fetched once per batch and its records arrive in time order. Adding
/// is order-independent (the property tests of [`Sessions`] and [`Openings`]), so the
/// batches change nothing but the time.
#[derive(Clone, Debug, Default)]
pub struct Legs {
    legs: Vec<Leg>,
    /// How many to gather before adding them ([`Legs::batch`] of the clients known at the
    /// last batch's end; 0 before the first).
    limit: usize,
}

/// Equal when they hold the same legs: the batch size is a matter of speed, not of content
/// (an aggregate read back from a partial file has none yet).
impl PartialEq for Legs {
    fn eq(&self, o: &Legs) -> bool {
        self.legs == o.legs
    }
}

impl Eq for Legs {}

/// One translated private leg of an IPv4 client: what [`Client::record`] and the private
/// side's cells and counts take from its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Leg {
    pub client: u32,
    pub stretch: u32,
    pub t: Option<i64>,
    pub bytes: u64,
    /// The record's `end - start` in seconds, within 0..=3600 (see
    /// [`super::PrivateSide::longest_record`]).
    pub longest: u16,
    pub class: Class,
    pub dir: Dir,
}

impl Legs {
    /// How many legs to gather before adding them, for a NAT ENI with `clients` clients:
    /// about four per client (so that each client's state is fetched for several), within
    /// bounds that keep the buffer small (at most 65,536 legs of 40 bytes, 2.6 MB, an ENI).
    pub(super) fn batch(clients: usize) -> usize {
        if cfg!(test) {
            // the unit tests' few records make batches, and settle them in the sink too
            return 3;
        }
        (4 * clients).clamp(4_096, 65_536)
    }

    /// Gather a leg: the number of legs now held, and whether the batch is full.
    #[inline]
    pub(super) fn push(&mut self, leg: Leg) -> (usize, bool) {
        self.legs.push(leg);
        let n = self.legs.len();
        let limit = match self.limit {
            0 => Self::batch(0),
            l => l,
        };
        (n, n >= limit)
    }

    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Add every leg to `side`: its cells and counts, and its client in `side.by_client`
    /// (as [`Client::record`] each, in order of client and arrival; only its cells where
    /// `guess` leaves the client's timeline out); then empty the buffer (its room kept for
    /// the next batch).
    pub(super) fn settle(
        &mut self,
        side: &mut super::PrivateSide,
        window: i64,
        mut guess: Option<&mut super::Guess>,
    ) {
        // each leg's share of the side's own state, and its place in the order: sorted as
        // plain integers (client, then the order the legs came in, which is mostly time
        // order), far cheaper than sorting the legs themselves
        let mut order = Vec::with_capacity(self.legs.len());
        for (i, l) in self.legs.iter().enumerate() {
            side.translated(l.t, l.class, l.dir, l.bytes, i64::from(l.longest));
            order.push((l.client as u64) << 32 | i as u64);
        }
        sort_by_upper_half(&mut order);
        let rules = StartRules::for_longest_record(side.longest_record);
        for run in order.chunk_by(|a, b| a >> 32 == b >> 32) {
            let address = (run[0] >> 32) as u32;
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(address));
            let client = side.by_client.entry(ip).or_default();
            let cells_only = guess.as_mut().is_some_and(|g| g.skips(address));
            for &o in run {
                let l = &self.legs[o as u32 as usize];
                match cells_only {
                    true => client.cells[l.class.index()][l.dir as usize] += l.bytes,
                    false => {
                        let at = l.t.map(|t| (t, l.stretch));
                        client.record(at, l.class, l.dir, l.bytes, window, rules);
                    }
                }
            }
        }
        self.legs.clear();
        self.limit = Self::batch(side.by_client.len());
    }
}

/// Sort `keys` by their upper 32 bits, keeping equal ones in their order: a radix sort, 11
/// bits a pass from the lowest, a pass skipped where every key has the same digit (a batch's
/// clients share their upper bits). On keys whose lower half counts up, as the legs' order
/// does, the same as sorting them whole, at a fixed cost a key.
fn sort_by_upper_half(keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    let mut other = vec![0u64; keys.len()];
    let mut shift = 32;
    while shift < 64 {
        let digit = |k: u64| ((k >> shift) & MASK) as usize;
        let mut counts = [0usize; 1 << BITS];
        for &k in keys.iter() {
            counts[digit(k)] += 1;
        }
        if !counts.contains(&keys.len()) {
            let mut at = 0;
            for c in counts.iter_mut() {
                (*c, at) = (at, at + *c);
            }
            for &k in keys.iter() {
                let d = digit(k);
                other[counts[d]] = k;
                counts[d] += 1;
            }
            std::mem::swap(keys, &mut other);
        }
        shift += BITS;
    }
}

/// The times a client address was active, as sessions: runs of records with less than
/// [`IDLE_GAP`] between one and the next. Each keeps the S3 download bytes of its first
/// pull window, by record start, so that a session's first minutes can be read as a task's
/// image pull. Merging is associative: a session is a cluster of record times joined at
/// gaps under the threshold, and its span says all about which clusters join.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions(SmallVec<[Session; 1]>);

/// One session: its first record's start (`pull.first`), its last record's start, the S3
/// download bytes in `[first, first + window)`, and the stretch of time between two known
/// task starts on its address that it lies in ([`TaskStarts`]; 0 without them): sessions
/// of different stretches never join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub last: i64,
    pub pull: PullWindow,
    #[serde(default)]
    pub stretch: u32,
}

/// Task starts known per address (from `--ecs-tasks`): each one cuts the address's records
/// into a before and an after, so that a task taking an address soon after another is a
/// start of its own even without an idle gap.
#[derive(Clone, Debug, Default)]
pub struct TaskStarts(std::sync::Arc<HashMap<IpAddr, Vec<i64>>>);

impl TaskStarts {
    /// From each address's task start times (any order).
    pub fn new(mut starts: HashMap<IpAddr, Vec<i64>>) -> TaskStarts {
        for v in starts.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        TaskStarts(std::sync::Arc::new(starts))
    }

    /// The stretch of `ip`'s time that `t` falls in: how many known starts are at or before it.
    #[inline]
    pub(super) fn stretch(&self, ip: &IpAddr, t: i64) -> u32 {
        if self.0.is_empty() {
            return 0;
        }
        self.0
            .get(ip)
            .map_or(0, |v| v.partition_point(|s| *s <= t) as u32)
    }
}

impl Session {
    pub fn first(&self) -> i64 {
        self.pull.first
    }
}

impl Sessions {
    /// The sessions in time order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.0.iter()
    }

    /// A record starting at `t`, with `s3_download` bytes of same-region S3 downloads.
    fn observe(&mut self, t: i64, s3_download: u64, window: i64, gap: i64, stretch: u32) {
        let v = &mut self.0;
        let i = match v.last() {
            Some(s) if s.first() <= t => v.len(),
            _ => v.partition_point(|s| s.first() <= t),
        };
        let joins_prev =
            i > 0 && v[i - 1].stretch == stretch && t.saturating_sub(v[i - 1].last) < gap;
        let joins_next =
            i < v.len() && v[i].stretch == stretch && v[i].first().saturating_sub(t) < gap;
        let at = match (joins_prev, joins_next) {
            (true, true) => {
                let next = v.remove(i);
                let prev = &mut v[i - 1];
                prev.last = prev.last.max(next.last);
                prev.pull.merge(next.pull, window);
                i - 1
            }
            (true, false) => i - 1,
            (false, true) => i,
            (false, false) => {
                v.insert(
                    i,
                    Session {
                        last: t,
                        pull: PullWindow::default(),
                        stretch,
                    },
                );
                i
            }
        };
        let s = &mut v[at];
        s.last = s.last.max(t);
        if s3_download > 0 {
            s.pull.add(t, s3_download, window);
        } else {
            s.pull.observe(t, window);
        }
    }

    /// Fold `o` in: both in time order, sessions closer than `gap` joined.
    pub fn merge(&mut self, o: Sessions, window: i64, gap: i64) {
        if o.0.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.0);
        all.extend(o.0);
        all.sort_by_key(|s| s.first());
        let mut out: SmallVec<[Session; 1]> = SmallVec::with_capacity(all.len());
        for s in all {
            match out.last_mut() {
                Some(p) if p.stretch == s.stretch && s.first().saturating_sub(p.last) < gap => {
                    p.last = p.last.max(s.last);
                    p.pull.merge(s.pull, window);
                }
                _ => out.push(s),
            }
        }
        self.0 = out;
    }
}

/// What it takes to see a task start on an address that is never idle for [`IDLE_GAP`]
/// (a task that takes a stopped task's address within minutes): an exchange with an AWS API
/// (`aws-other`: ECR's endpoints hand out the token and the manifest) after [`QUIET_MINUTES`]
/// whole minutes without a record, followed within a minute by S3 downloads on
/// [`LAYER_STREAMS`] connections or more (image layers come down in parallel; an application
/// fetching the one object a queue message names does not look like that). Kept: the
/// minutes with a record (a sparse bitmap, in words of 64 minutes, so that records years
/// apart cost a word each), the earliest AWS API record of each minute that is still
/// preceded by quiet minutes, and the S3 downloads that such a minute within the pull window
/// before them could still claim, all under the quiet minutes of the [`StartRules`] known so
/// far. Records only ever fill minutes, and the rules only ever ask for more quiet minutes,
/// so what is dropped as no longer possible stays impossible: merging is associative, and an
/// always-busy address keeps its bitmap alone (a word per hour or so).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Openings {
    /// Minutes with a record: word `w` holds minutes `64 w .. 64 w + 63`.
    words: Words,
    /// Start times of AWS API records, at most one (the earliest) per minute, sorted.
    api: Vec<i64>,
    /// S3 download records by start.
    s3: S3Downloads,
}

/// S3 download records of one address by start, one entry per start second: `(start, bytes,
/// records)`, sorted. Most of a client's state over a month is these, so an entry takes 16
/// bytes (bytes and records packed in one word), the rare one that does not fit (2^56 bytes
/// or more, 256 records or more in one second) a list of its own; the lists grow by a
/// quarter at a time. Serialised as the plain list of triples in start order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct S3Downloads {
    /// `(start, bytes << 8 | records)`.
    packed: Vec<(i64, u64)>,
    /// Entries too large to pack.
    large: Vec<(i64, u64, u32)>,
}

const PACKED_BYTES: u64 = 1 << 56;
const PACKED_RECORDS: u32 = 1 << 8;

#[inline]
fn pack(bytes: u64, records: u32) -> Option<u64> {
    (bytes < PACKED_BYTES && records < PACKED_RECORDS).then_some(bytes << 8 | u64::from(records))
}

#[inline]
fn unpack(v: u64) -> (u64, u32) {
    (v >> 8, (v & 0xff) as u32)
}

/// Room for one more in `v`, a quarter more at a time (not double: a month of a client's
/// state is hundreds of entries in each list, and most stay).
#[inline]
pub(super) fn grow<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(4));
    }
}

/// The same for a list with room inline.
#[inline]
fn grow_inline<A: smallvec::Array>(v: &mut SmallVec<A>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(4));
    }
}

impl S3Downloads {
    fn len(&self) -> usize {
        self.packed.len() + self.large.len()
    }

    /// Every entry as `(start, bytes, records)`, in start order.
    fn entries(&self) -> impl Iterator<Item = (i64, u64, u32)> + '_ {
        let packed = self.packed.iter().map(|&(t, v)| {
            let (b, n) = unpack(v);
            (t, b, n)
        });
        let (mut packed, mut large) = (packed.peekable(), self.large.iter().copied().peekable());
        std::iter::from_fn(move || match (packed.peek(), large.peek()) {
            (Some(a), Some(b)) if b.0 < a.0 => large.next(),
            (Some(_), _) => packed.next(),
            (None, _) => large.next(),
        })
    }

    /// A record starting at `t` with `bytes` of downloads. Records mostly come in time
    /// order, so the end is looked at first.
    fn add(&mut self, t: i64, bytes: u64) {
        let i = match self.packed.last() {
            Some(e) if e.0 < t => self.packed.len(),
            _ => self.packed.partition_point(|e| e.0 < t),
        };
        if let Some(e) = self.packed.get_mut(i).filter(|e| e.0 == t) {
            let (b, n) = unpack(e.1);
            let b = b.saturating_add(bytes);
            match pack(b, n + 1) {
                Some(v) => e.1 = v,
                None => {
                    self.packed.remove(i);
                    self.add_large(t, b, n + 1);
                }
            }
            return;
        }
        if !self.large.is_empty() && self.large.binary_search_by_key(&t, |e| e.0).is_ok() {
            return self.add_large(t, bytes, 1);
        }
        match pack(bytes, 1) {
            Some(v) => {
                grow(&mut self.packed);
                self.packed.insert(i, (t, v));
            }
            None => self.add_large(t, bytes, 1),
        }
    }

    /// Add to the large entry of `t` (made if none).
    fn add_large(&mut self, t: i64, bytes: u64, records: u32) {
        match self.large.binary_search_by_key(&t, |e| e.0) {
            Ok(i) => {
                let e = &mut self.large[i];
                e.1 = e.1.saturating_add(bytes);
                e.2 = e.2.saturating_add(records);
            }
            Err(i) => {
                grow(&mut self.large);
                self.large.insert(i, (t, bytes, records));
            }
        }
    }

    /// From entries in any order, those of a start joined (sums saturate: a partial file's
    /// entries are checked against the run bound after reading, [`Openings::check`]).
    fn from_entries(mut all: Vec<(i64, u64, u32)>) -> S3Downloads {
        all.sort_unstable_by_key(|e| e.0);
        let mut joined: Vec<(i64, u64, u32)> = Vec::with_capacity(all.len());
        for (t, b, n) in all {
            match joined.last_mut() {
                Some(e) if e.0 == t => {
                    e.1 = e.1.saturating_add(b);
                    e.2 = e.2.saturating_add(n);
                }
                _ => joined.push((t, b, n)),
            }
        }
        let mut out = S3Downloads {
            packed: Vec::with_capacity(joined.len()),
            large: Vec::new(),
        };
        for (t, b, n) in joined {
            match pack(b, n) {
                Some(v) => out.packed.push((t, v)),
                None => out.large.push((t, b, n)),
            }
        }
        out
    }

    /// Keep the entries whose start passes `keep`.
    fn retain(&mut self, mut keep: impl FnMut(i64) -> bool) {
        self.packed.retain(|e| keep(e.0));
        self.large.retain(|e| keep(e.0));
    }

    /// Bytes and records starting in `[from, to)`.
    fn sum(&self, from: i64, to: i64) -> (u64, u32) {
        let i = self.packed.partition_point(|e| e.0 < from);
        let (mut b, mut n) =
            self.packed[i..]
                .iter()
                .take_while(|e| e.0 < to)
                .fold((0u64, 0u32), |(b, n), e| {
                    let (eb, en) = unpack(e.1);
                    (b.saturating_add(eb), n.saturating_add(en))
                });
        let j = self.large.partition_point(|e| e.0 < from);
        for e in self.large[j..].iter().take_while(|e| e.0 < to) {
            b = b.saturating_add(e.1);
            n = n.saturating_add(e.2);
        }
        (b, n)
    }
}

impl Serialize for S3Downloads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // (with its length: postcard, the spill runs' and partial files' encoding, needs it)
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for e in self.entries() {
            seq.serialize_element(&e)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for S3Downloads {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<S3Downloads, D::Error> {
        Vec::<(i64, u64, u32)>::deserialize(d).map(S3Downloads::from_entries)
    }
}

/// The words of a minute bitmap, sorted by key: 16 bytes a word and no hashing (records
/// mostly come in time order, so the last word is looked at first; others are found by
/// binary search). Read from a partial file in any order, they are sorted and joined.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct Words(SmallVec<[(i64, u64); 2]>);

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Words, D::Error> {
        let mut v = Vec::<(i64, u64)>::deserialize(d)?;
        v.sort_unstable_by_key(|e| e.0);
        let mut out: Vec<(i64, u64)> = Vec::with_capacity(v.len());
        for (k, w) in v {
            match out.last_mut() {
                Some(e) if e.0 == k => e.1 |= w,
                _ => out.push((k, w)),
            }
        }
        Ok(Words(out.into()))
    }
}

impl Words {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The word with key `k` (0 when absent).
    #[inline]
    fn get(&self, k: i64) -> u64 {
        match self.0.last() {
            Some(&(last, w)) if last == k => return w,
            Some(&(last, _)) if last < k => return 0,
            None => return 0,
            _ => {}
        }
        match self.0.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.0[i].1,
            Err(_) => 0,
        }
    }

    /// Set `bits` in the word with key `k`.
    #[inline]
    fn set(&mut self, k: i64, bits: u64) {
        match self.0.last_mut() {
            Some(e) if e.0 == k => {
                e.1 |= bits;
                return;
            }
            Some(e) if e.0 > k => {}
            _ => {
                grow_inline(&mut self.0);
                self.0.push((k, bits));
                return;
            }
        }
        match self.0.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.0[i].1 |= bits,
            Err(i) => {
                grow_inline(&mut self.0);
                self.0.insert(i, (k, bits))
            }
        }
    }

    /// Join another bitmap's words in.
    fn merge(&mut self, o: Words) {
        if o.0.is_empty() {
            return;
        }
        if self.0.last().is_none_or(|l| l.0 < o.0[0].0) {
            self.0.extend(o.0);
            return;
        }
        let mine = std::mem::take(&mut self.0);
        let mut out = SmallVec::with_capacity(mine.len() + o.0.len());
        let (mut a, mut b) = (mine.into_iter().peekable(), o.0.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let (x, y) = (a.next(), b.next());
                    x.zip(y).map(|(x, y)| (x.0, x.1 | y.1))
                }
                (Some(x), Some(y)) if x.0 < y.0 => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            out.extend(next);
        }
        self.0 = out;
    }
}

#[inline]
fn minute(t: i64) -> i64 {
    t.div_euclid(60)
}

impl Openings {
    /// In shape: byte counts within the run bound (times index nothing, and every sum of
    /// them saturates).
    fn check(&self) -> Result<(), &'static str> {
        match self.s3.entries().all(|e| e.1 <= super::RUN_BYTES_MAX) {
            true => Ok(()),
            false => Err("a client's byte count past the bound"),
        }
    }

    /// The last minute in `lo..=hi` with a record, if any.
    fn last_busy(&self, lo: i64, hi: i64) -> Option<i64> {
        let (first, last) = (lo.div_euclid(64), hi.div_euclid(64));
        let mut k = last;
        while k >= first {
            let mut bits = self.words.get(k);
            if k == last && hi.rem_euclid(64) < 63 {
                bits &= (1 << (hi.rem_euclid(64) + 1)) - 1;
            }
            if k == first {
                bits &= !0 << lo.rem_euclid(64);
            }
            if bits != 0 {
                return Some(k * 64 + 63 - i64::from(bits.leading_zeros()));
            }
            k -= 1;
        }
        None
    }

    /// Whether the `n` minutes before `m` have no record.
    fn quiet_before(&self, m: i64, n: i64) -> bool {
        n <= 0 || self.last_busy(m - n, m - 1).is_none()
    }

    fn set(&mut self, m: i64) {
        self.words.set(m.div_euclid(64), 1 << m.rem_euclid(64));
    }

    /// Whether an opening could still claim S3 bytes starting at `t`: some minute that could
    /// hold an opening at or before `t` and less than `window` before it has `quiet` minutes
    /// without a record before it.
    fn claimable(&self, t: i64, window: i64, quiet: i64) -> bool {
        let (mut m, to) = (minute(t.saturating_sub(window - 1)), minute(t));
        while m <= to {
            match self.last_busy(m - quiet, m - 1) {
                None => return true,
                // no minute up to `b + quiet` has that many quiet minutes before it
                Some(b) => m = b + quiet + 1,
            }
        }
        false
    }

    /// An AWS API opening is possible at `t`: `quiet` minutes without a record before it.
    fn opens(&self, t: i64, quiet: i64) -> bool {
        self.quiet_before(minute(t), quiet)
    }

    /// A record starting at `t`: an AWS API exchange or not, with `s3_download` bytes of
    /// same-region S3 downloads, under openings that ask for `quiet` minutes.
    fn observe(&mut self, t: i64, api: bool, s3_download: u64, window: i64, quiet: i64) {
        self.set(minute(t));
        if api && self.opens(t, quiet) {
            let i = match self.api.last() {
                Some(c) if *c < t => self.api.len(),
                _ => self.api.partition_point(|c| *c < t),
            };
            if self.api.get(i) != Some(&t) {
                grow(&mut self.api);
                self.api.insert(i, t);
            }
        }
        if s3_download > 0 && self.claimable(t, window, quiet) {
            self.s3.add(t, s3_download);
        }
        let kept = self.api.len() + self.s3.len();
        if kept >= 16 && kept.is_power_of_two() {
            self.prune(window, quiet);
        }
    }

    /// Drop what the minutes now filled have made impossible for openings that ask for
    /// `quiet` minutes.
    fn prune(&mut self, window: i64, quiet: i64) {
        let mut api = std::mem::take(&mut self.api);
        api.retain(|&t| self.opens(t, quiet));
        api.dedup_by_key(|t| minute(*t));
        self.api = api;
        let mut s3 = std::mem::take(&mut self.s3);
        s3.retain(|t| self.claimable(t, window, quiet));
        self.s3 = s3;
    }

    /// Fold the same address's openings from other input in, keeping what openings that
    /// ask for `quiet` minutes could use.
    pub fn merge(&mut self, o: Openings, window: i64, quiet: i64) {
        if o.words.is_empty() {
            return;
        }
        if self.words.is_empty() {
            *self = o;
            return;
        }
        self.words.merge(o.words);
        self.api.extend(o.api);
        self.api.sort_unstable();
        self.api.dedup();
        let all = self.s3.entries().chain(o.s3.entries()).collect();
        self.s3 = S3Downloads::from_entries(all);
        self.prune(window, quiet);
    }

    /// The AWS API openings in `(after, until]` with `quiet` whole minutes without a record
    /// before them (at least [`QUIET_MINUTES`]), in time order.
    pub fn starts(&self, after: i64, until: i64, quiet: i64) -> impl Iterator<Item = i64> + '_ {
        let i = self.api.partition_point(|t| *t <= after);
        let earlier = i.checked_sub(1).map(|k| self.api[k]);
        self.api[i..]
            .iter()
            .copied()
            .take_while(move |t| *t <= until)
            .scan(earlier, |prev, t| {
                let first_of_minute = prev.is_none_or(|p| minute(p) != minute(t));
                *prev = Some(t);
                Some(first_of_minute.then_some(t))
            })
            .flatten()
            .filter(move |t| self.quiet_before(minute(*t), quiet.max(QUIET_MINUTES)))
    }

    /// The image pull of the opening at `t`: the S3 download bytes in its pull window, if it
    /// has [`LAYER_STREAMS`] S3 download records or more in its first minute.
    pub fn pull_at(&self, t: i64, window: i64) -> Option<u64> {
        let (_, streams) = self.s3_after(t, 60);
        (streams >= LAYER_STREAMS).then(|| self.s3_after(t, window).0)
    }

    /// S3 download bytes and records starting in `[from, from + window)`.
    fn s3_after(&self, from: i64, window: i64) -> (u64, u32) {
        self.s3.sum(from, from.saturating_add(window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The radix sort orders by the upper half and keeps the order of equal upper halves
        /// (so legs numbered in order come out as sorting them whole would put them), whatever
        /// bits the upper halves differ in.
        #[test]
        fn sorting_by_the_upper_half_is_stable(
            uppers in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..3000),
            spread in 0u32..32,
            lowers in proptest::collection::vec(proptest::prelude::any::<u32>(), 3000),
        ) {
            // upper halves of `spread` varying bits above a fixed part
            let keep = if spread == 0 { 0 } else { u32::MAX >> (32 - spread) };
            let keys: Vec<u64> = uppers
                .iter()
                .zip(&lowers)
                .map(|(u, l)| u64::from(0x0a00_0000 | (u & keep)) << 32 | u64::from(*l))
                .collect();
            let mut radix = keys.clone();
            sort_by_upper_half(&mut radix);
            let mut stable = keys.clone();
            stable.sort_by_key(|k| k >> 32);
            proptest::prop_assert_eq!(&radix, &stable);
            // numbered in order, as the legs are: the same as a whole sort
            let mut numbered: Vec<u64> =
                keys.iter().enumerate().map(|(i, k)| k & !0xffff_ffff | i as u64).collect();
            let mut whole = numbered.clone();
            whole.sort_unstable();
            sort_by_upper_half(&mut numbered);
            proptest::prop_assert_eq!(numbered, whole);
        }
    }

    /// Sessions as (first, last, pull-window bytes).
    fn sessions_of(s: &Sessions) -> Vec<(i64, i64, u64)> {
        s.iter()
            .map(|s| (s.first(), s.last, s.pull.bytes()))
            .collect()
    }

    /// The sessions of a set of record times, found the plain way: sorted, cut at gaps and
    /// at the known task starts `cuts`.
    fn naive_sessions(
        events: &[(i64, u64)],
        window: i64,
        gap: i64,
        cuts: &[i64],
    ) -> Vec<(i64, i64, u64)> {
        let mut e = events.to_vec();
        e.sort();
        let mut out: Vec<(i64, i64, u64)> = Vec::new();
        let stretch = |t: i64| cuts.iter().filter(|c| **c <= t).count();
        for (t, b) in e {
            match out.last_mut() {
                Some(s) if t - s.1 < gap && stretch(s.1) == stretch(t) => {
                    s.1 = t;
                    if t < s.0 + window {
                        s.2 += b;
                    }
                }
                _ => out.push((t, t, b)),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        /// ... and whatever gap each part was kept under, as long as none is longer than
        /// the analysis's, which joins them at its own ([`StartRules`]).
        fn sessions_are_the_same_in_any_order_and_split(
            events in proptest::collection::vec((0i64..20_000, 0u64..4), 1..60),
            cut in 0usize..60,
            cuts in proptest::collection::vec(0i64..20_000, 0..4),
            g in proptest::prop_oneof![proptest::strategy::Just(IDLE_GAP), IDLE_GAP..3_000],
            kept in proptest::collection::vec(0i64..10_000, 4),
        ) {
            let w = 180;
            // the gaps each part is kept under: IDLE_GAP ..= g
            let k: Vec<i64> = kept.iter().map(|k| IDLE_GAP + k % (g - IDLE_GAP + 1)).collect();
            let ip: IpAddr = "10.0.1.5".parse().unwrap();
            let starts = TaskStarts::new([(ip, cuts.clone())].into_iter().collect());
            let mut seq = Sessions::default();
            for &(t, b) in &events {
                seq.observe(t, b, w, k[0], starts.stretch(&ip, t));
            }
            let (x, y) = events.split_at(cut.min(events.len()));
            let mut p = Sessions::default();
            for &(t, b) in x {
                p.observe(t, b, w, k[1], starts.stretch(&ip, t));
            }
            let mut q = Sessions::default();
            for &(t, b) in y.iter().rev() {
                q.observe(t, b, w, k[2], starts.stretch(&ip, t));
            }
            p.merge(q, w, k[3]);
            // as the analysis reads them: joined at its gap
            let read = |s: Sessions| {
                let mut all = Sessions::default();
                all.merge(s, w, g);
                sessions_of(&all)
            };
            let want = naive_sessions(&events, w, g, &cuts);
            proptest::prop_assert_eq!(read(seq), want.clone());
            proptest::prop_assert_eq!(read(p), want);
        }
    }

    #[test]
    fn longer_records_ask_for_longer_gaps_and_more_quiet_minutes() {
        let r = StartRules::for_longest_record;
        assert_eq!(
            r(0),
            StartRules {
                gap: IDLE_GAP,
                quiet: QUIET_MINUTES
            }
        );
        assert_eq!(
            r(60),
            StartRules {
                gap: IDLE_GAP,
                quiet: 2
            }
        );
        assert_eq!(
            r(599),
            StartRules {
                gap: 1_318,
                quiet: 20
            }
        );
        // within an hour, whatever a partial file says
        assert_eq!(r(i64::MAX), r(3_600));
        assert_eq!(r(i64::MIN), r(0));
        // never less strict for a longer record: what was dropped under the rules of part
        // of the input stays dropped under those of all of it
        let mut prev = r(0);
        for l in 0..=3_700 {
            let now = r(l);
            assert!(now.gap >= prev.gap && now.quiet >= prev.quiet, "{l}");
            prev = now;
        }
    }

    #[test]
    fn a_reused_address_after_an_idle_gap_is_a_new_session() {
        let mut s = Sessions::default();
        // a task: records every 5 minutes for an hour, 900 bytes of S3 in its first minute
        for k in 0..13 {
            s.observe(k * 300, if k == 0 { 900 } else { 7 }, 180, IDLE_GAP, 0);
        }
        // the address idle for 20 minutes, then a second task pulls 500 bytes
        s.observe(3600 + 1200, 500, 180, IDLE_GAP, 0);
        s.observe(3600 + 1260, 0, 180, IDLE_GAP, 0);
        assert_eq!(sessions_of(&s), vec![(0, 3600, 900), (4800, 4860, 500)]);
    }

    /// Openings as (start, pull bytes), over all time, at `quiet` minutes.
    fn openings_of(o: &Openings, w: i64, quiet: i64) -> Vec<(i64, u64)> {
        o.starts(i64::MIN, i64::MAX, quiet)
            .map(|t| (t, o.s3_after(t, w).0))
            .collect()
    }

    /// The same, found the plain way from every record: `(start, AWS API?, S3 download)`.
    fn naive_openings(events: &[(i64, bool, u64)], w: i64, quiet: i64) -> Vec<(i64, u64)> {
        let busy = |m: i64| events.iter().any(|e| minute(e.0) == m);
        let mut out: Vec<(i64, u64)> = Vec::new();
        let mut api: Vec<i64> = events.iter().filter(|e| e.1).map(|e| e.0).collect();
        api.sort();
        for t in api {
            let m = minute(t);
            if out.last().is_some_and(|o| minute(o.0) == m) || (1..=quiet).any(|k| busy(m - k)) {
                continue;
            }
            let bytes = events
                .iter()
                .filter(|e| e.0 >= t && e.0 < t + w)
                .map(|e| e.2)
                .sum();
            out.push((t, bytes));
        }
        out
    }

    proptest::proptest! {
        #[test]
        /// ... and whatever quiet minutes each part was kept under, as long as none asks for
        /// more than the analysis ([`StartRules`]).
        fn openings_are_the_same_in_any_order_and_split(
            events in proptest::collection::vec((-3_000i64..20_000, proptest::bool::ANY, 0u64..4), 1..80),
            cut in 0usize..80,
            quiet in proptest::prop_oneof![2i64..5, 5i64..130],
            kept in proptest::collection::vec(0i64..1_000, 4),
            w in 60i64..5_000,
        ) {
            // the quiet minutes each part is kept under: 2 ..= quiet
            let k: Vec<i64> = kept.iter().map(|k| QUIET_MINUTES + k % (quiet - 1)).collect();
            let mut seq = Openings::default();
            for &(t, api, b) in &events {
                seq.observe(t, api, b, w, k[0]);
            }
            let (x, y) = events.split_at(cut.min(events.len()));
            let mut p = Openings::default();
            for &(t, api, b) in x {
                p.observe(t, api, b, w, k[1]);
            }
            let mut q = Openings::default();
            for &(t, api, b) in y.iter().rev() {
                q.observe(t, api, b, w, k[2]);
            }
            p.merge(q, w, k[3]);
            let want = naive_openings(&events, w, quiet);
            proptest::prop_assert_eq!(openings_of(&seq, w, quiet), want.clone());
            proptest::prop_assert_eq!(openings_of(&p, w, quiet), want);
        }
    }

    #[test]
    fn a_task_on_a_just_freed_address_opens_with_an_api_exchange() {
        let (w, mut o, mut s) = (180, Openings::default(), Sessions::default());
        let mut rec = |t: i64, api: bool, b: u64| {
            o.observe(t, api, b, w, QUIET_MINUTES);
            s.observe(t, b, w, IDLE_GAP, 0);
        };
        // a task: records every 2 minutes for an hour (AWS API calls among them), S3 downloads
        // a minute after each API call
        for k in 0..30 {
            rec(k * 120, k % 3 == 0, 0);
            rec(k * 120 + 60, false, 5);
        }
        // the address is freed and taken 3 minutes later: token and manifest, then layers
        rec(3_600 + 180, true, 0);
        rec(3_600 + 190, false, 4_000);
        rec(3_600 + 250, false, 6_000);
        rec(3_600 + 400, false, 9); // application traffic after the pull window
        assert_eq!(s.iter().count(), 1, "never idle for IDLE_GAP");
        assert_eq!(openings_of(&o, w, 2), vec![(0, 5), (3_780, 10_000)]);
        // one or two downloads in its first minute are an application's fetch (one object,
        // perhaps cut in two by the aggregation interval); three at once are layers
        assert_eq!(o.pull_at(3_780, w), None);
        o.observe(3_600 + 200, false, 1_000, w, QUIET_MINUTES);
        assert_eq!(o.pull_at(3_780, w), None);
        o.observe(3_600 + 230, false, 500, w, QUIET_MINUTES);
        assert_eq!(o.pull_at(3_780, w), Some(11_500));
        // a longer aggregation interval asks for more quiet minutes
        assert_eq!(openings_of(&o, w, 4), vec![(0, 5)]);
        // the busy task's state stays small: only its first minutes could open anything
        assert!(o.s3.entries().all(|e| e.0 < 240 || e.0 >= 3_780), "{o:?}");
        assert_eq!(o.api, [0, 3_780]);
    }

    proptest::proptest! {
        /// The packed list holds what a plain map of start → (bytes, records) holds, in any
        /// order of adding, however large the bytes or many the records of one second; its
        /// form is one for the same records (equal after any order, and after a round trip
        /// through its serialised form).
        #[test]
        fn s3_downloads_hold_what_a_map_holds(
            adds in proptest::collection::vec(
                (0i64..40, proptest::prop_oneof![0u64..1_000, (1u64 << 50)..(1u64 << 58)]), 0..80),
            repeats in 0usize..300,
            keep_odd in proptest::bool::ANY,
            from in 0i64..40, len in 0i64..40,
        ) {
            // one second with many records (past what an entry packs)
            let mut adds = adds;
            adds.extend(std::iter::repeat_n((7, 3), repeats));
            let mut want: std::collections::BTreeMap<i64, (u64, u32)> = Default::default();
            let mut fwd = S3Downloads::default();
            for &(t, b) in &adds {
                let e = want.entry(t).or_default();
                e.0 += b;
                e.1 += 1;
                fwd.add(t, b);
            }
            let mut back = S3Downloads::default();
            for &(t, b) in adds.iter().rev() {
                back.add(t, b);
            }
            let entries: Vec<_> = want.iter().map(|(t, e)| (*t, e.0, e.1)).collect();
            proptest::prop_assert_eq!(fwd.entries().collect::<Vec<_>>(), entries.clone());
            proptest::prop_assert_eq!(&fwd, &back);
            proptest::prop_assert_eq!(&fwd, &S3Downloads::from_entries(entries.clone()));
            let bytes = postcard::to_allocvec(&fwd).unwrap();
            proptest::prop_assert_eq!(&fwd, &postcard::from_bytes::<S3Downloads>(&bytes).unwrap());
            let sum = want.range(from..from + len).fold((0, 0), |s, (_, e)| (s.0 + e.0, s.1 + e.1));
            proptest::prop_assert_eq!(fwd.sum(from, from + len), sum);
            fwd.retain(|t| (t % 2 == 1) == keep_odd);
            let kept: Vec<_> = entries.into_iter().filter(|e| (e.0 % 2 == 1) == keep_odd).collect();
            proptest::prop_assert_eq!(fwd.entries().collect::<Vec<_>>(), kept);
        }
    }

    #[test]
    fn ten_minute_records_keep_no_download_a_busy_address_could_not_open() {
        // a long-lived task under 10-minute aggregation: a connection's record every ten
        // minutes, and every seven an AWS API call followed by the fetch of one object
        let run = |rules: StartRules| {
            let mut c = Client::default();
            let (api, s3, other) = (Class::AwsOther, Class::S3, Class::Internet);
            for k in 0..300 {
                c.record(Some((k * 600, 0)), other, Dir::Download, 100, 180, rules);
                c.record(Some((k * 420 + 5, 0)), api, Dir::Upload, 10, 180, rules);
                c.record(
                    Some((k * 420 + 20, 0)),
                    s3,
                    Dir::Download,
                    5_000,
                    180,
                    rules,
                );
            }
            c
        };
        // two quiet minutes happen between records: each fetch could follow an opening
        let short = run(StartRules::for_longest_record(0));
        assert!(
            short.openings.s3.len() >= 250,
            "{}",
            short.openings.s3.len()
        );
        // twenty never do (but before the first record), and records that span ten
        // minutes ask for twenty
        let long = run(StartRules::for_longest_record(599));
        assert_eq!((long.openings.s3.len(), long.openings.api.len()), (1, 1));
        assert_eq!(long.sessions.iter().count(), 1);
        assert_eq!(long.cells, short.cells);
    }

    #[test]
    fn a_partial_files_downloads_that_add_up_past_the_bound_are_refused() {
        // five entries of one second at 2^62 bytes each: joined on reading, they saturate
        // rather than wrap to a small number that would pass the check
        let big = (7i64, 1u64 << 62, 1u32);
        let s3 = postcard::to_allocvec(&vec![big; 5]).unwrap();
        let s3: S3Downloads = postcard::from_bytes(&s3).unwrap();
        assert_eq!(s3.entries().collect::<Vec<_>>(), [(7, u64::MAX, 5)]);
        let o = Openings {
            s3,
            ..Openings::default()
        };
        assert!(o.check().is_err());
        assert_eq!(o.s3.sum(0, 10), (u64::MAX, 5));
    }

    #[test]
    fn records_years_apart_cost_a_word_each() {
        // a start from a broken clock (1970, or far in the future) next to today's records
        let mut o = Openings::default();
        for t in [
            0,
            -59,
            1_788_220_800,
            9_000_000_000_000_000,
            i64::MIN,
            i64::MAX,
        ] {
            o.observe(t, true, 10, 180, QUIET_MINUTES);
        }
        assert!(o.words.0.len() <= 6, "{:?}", o.words.0.len());
        let starts: Vec<i64> = o.starts(i64::MIN, i64::MAX, 2).collect();
        assert!(starts.contains(&1_788_220_800));
        assert!(o.pull_at(i64::MAX, 180).is_none());
    }
}
