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

/// One client address's private legs through one NAT ENI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub cells: ClientCells,
    pub sessions: Sessions,
    #[serde(default)]
    pub openings: Openings,
}

impl Client {
    /// A private-leg record of `bytes` to or from a remote of `class`, starting at `t` (if
    /// known), in the known-start stretch `stretch`.
    pub(super) fn record(
        &mut self,
        t: Option<i64>,
        class: Class,
        dir: Dir,
        bytes: u64,
        window: i64,
        stretch: u32,
    ) {
        self.cells[class.index()][dir as usize] += bytes;
        let Some(t) = t else { return };
        let s3_download = match (class, dir) {
            (Class::S3, Dir::Download) => bytes,
            _ => 0,
        };
        self.sessions
            .observe(t, s3_download, window, IDLE_GAP, stretch);
        self.openings
            .observe(t, class == Class::AwsOther, s3_download, window);
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

    /// Fold the same address's state from other input in.
    pub(super) fn merge(&mut self, o: Client, window: i64) {
        for (m, c) in self.cells.iter_mut().zip(o.cells) {
            m[0] += c[0];
            m[1] += c[1];
        }
        self.sessions.merge(o.sessions, window, IDLE_GAP);
        self.openings.merge(o.openings, window);
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
    /// (as [`Client::record`] each, in order of client and arrival); then empty the buffer
    /// (its room kept for the next batch).
    pub(super) fn settle(&mut self, side: &mut super::PrivateSide, window: i64) {
        // each leg's share of the side's own state, and its place in the order: sorted as
        // plain integers (client, then the order the legs came in, which is mostly time
        // order), far cheaper than sorting the legs themselves
        let mut order = Vec::with_capacity(self.legs.len());
        for (i, l) in self.legs.iter().enumerate() {
            side.translated(l.t, l.class, l.dir, l.bytes, i64::from(l.longest));
            order.push((l.client as u64) << 32 | i as u64);
        }
        order.sort_unstable();
        for run in order.chunk_by(|a, b| a >> 32 == b >> 32) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from((run[0] >> 32) as u32));
            let client = side.by_client.entry(ip).or_default();
            for &o in run {
                let l = &self.legs[o as u32 as usize];
                client.record(l.t, l.class, l.dir, l.bytes, window, l.stretch);
            }
        }
        self.legs.clear();
        self.limit = Self::batch(side.by_client.len());
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
/// before them could still claim. Records only ever fill minutes, so what is dropped as no
/// longer possible stays impossible: merging is associative and the state stays small (an
/// always-busy address keeps its bitmap alone, a word per hour or so).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Openings {
    /// Minutes with a record: word `w` holds minutes `64 w .. 64 w + 63`.
    words: Words,
    /// Start times of AWS API records, at most one (the earliest) per minute, sorted.
    api: Vec<i64>,
    /// S3 download records by start, sorted by start: `(start, bytes, records)`.
    s3: SmallVec<[(i64, u64, u32); 1]>,
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
                self.0.push((k, bits));
                return;
            }
        }
        match self.0.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.0[i].1 |= bits,
            Err(i) => self.0.insert(i, (k, bits)),
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
        match self.s3.iter().all(|e| e.1 <= super::RUN_BYTES_MAX) {
            true => Ok(()),
            false => Err("a client's byte count past the bound"),
        }
    }

    /// The activity of the `n` (at most 64) minutes from `lo`: bit `i` for minute `lo + i`.
    #[inline]
    fn span_bits(&self, lo: i64, n: u32) -> u64 {
        let (w, off) = (lo.div_euclid(64), lo.rem_euclid(64) as u32);
        let word = |k: i64| self.words.get(k);
        let mut bits = word(w) >> off;
        if off > 0 && off + n > 64 {
            bits |= word(w + 1) << (64 - off);
        }
        match n {
            64.. => bits,
            _ => bits & ((1 << n) - 1),
        }
    }

    /// Whether the `n` minutes before `m` have no record.
    fn quiet_before(&self, m: i64, n: i64) -> bool {
        let mut lo = m - n;
        while lo < m {
            let k = (m - lo).min(64);
            if self.span_bits(lo, k as u32) != 0 {
                return false;
            }
            lo += k;
        }
        true
    }

    fn set(&mut self, m: i64) {
        self.words.set(m.div_euclid(64), 1 << m.rem_euclid(64));
    }

    /// Whether an opening could still claim S3 bytes starting at `t`: some minute that could
    /// hold an opening at or before `t` and less than `window` before it has quiet minutes
    /// before it.
    fn claimable(&self, t: i64, window: i64) -> bool {
        const Q: i64 = QUIET_MINUTES;
        let (mut m, to) = (minute(t.saturating_sub(window - 1)), minute(t));
        // minutes m .. m + n - 1 at a time, with the Q before them: minute m + i can open
        // when none of bits i .. i + Q - 1 (minutes m + i - Q .. m + i - 1) is set
        while m <= to {
            let n = (to - m + 1).min(64 - Q);
            let bits = self.span_bits(m - Q, (n + Q) as u32);
            let busy = (0..Q).fold(0, |b, j| b | bits >> j);
            if !busy & ((1 << n) - 1) != 0 {
                return true;
            }
            m += n;
        }
        false
    }

    /// An AWS API opening is possible at `t`: quiet minutes before, and no earlier one in
    /// its minute.
    fn opens(&self, t: i64) -> bool {
        self.quiet_before(minute(t), QUIET_MINUTES)
    }

    fn observe(&mut self, t: i64, api: bool, s3_download: u64, window: i64) {
        self.set(minute(t));
        if api && self.opens(t) {
            let i = match self.api.last() {
                Some(c) if *c < t => self.api.len(),
                _ => self.api.partition_point(|c| *c < t),
            };
            if self.api.get(i) != Some(&t) {
                self.api.insert(i, t);
            }
        }
        if s3_download > 0 && self.claimable(t, window) {
            // (records mostly come in time order: look at the end first)
            let i = match self.s3.last() {
                Some(e) if e.0 < t => self.s3.len(),
                _ => self.s3.partition_point(|e| e.0 < t),
            };
            match self.s3.get_mut(i) {
                Some(e) if e.0 == t => {
                    e.1 += s3_download;
                    e.2 += 1;
                }
                _ => self.s3.insert(i, (t, s3_download, 1)),
            }
        }
        let kept = self.api.len() + self.s3.len();
        if kept >= 16 && kept.is_power_of_two() {
            self.prune(window);
        }
    }

    /// Drop what the minutes now filled have made impossible.
    fn prune(&mut self, window: i64) {
        let mut api = std::mem::take(&mut self.api);
        api.retain(|&t| self.opens(t));
        api.dedup_by_key(|t| minute(*t));
        self.api = api;
        let mut s3 = std::mem::take(&mut self.s3);
        s3.retain(|e| self.claimable(e.0, window));
        self.s3 = s3;
    }

    /// Fold the same address's openings from other input in.
    pub fn merge(&mut self, o: Openings, window: i64) {
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
        let mut s3 = std::mem::take(&mut self.s3);
        s3.extend(o.s3);
        s3.sort_unstable_by_key(|e| e.0);
        let mut out: SmallVec<[(i64, u64, u32); 1]> = SmallVec::with_capacity(s3.len());
        for (t, b, n) in s3 {
            match out.last_mut() {
                Some(e) if e.0 == t => {
                    e.1 += b;
                    e.2 += n;
                }
                _ => out.push((t, b, n)),
            }
        }
        self.s3 = out;
        self.prune(window);
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
        let i = self.s3.partition_point(|e| e.0 < from);
        self.s3[i..]
            .iter()
            .take_while(|e| e.0 < from.saturating_add(window))
            .fold((0, 0), |(b, n), e| (b + e.1, n + e.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        fn sessions_are_the_same_in_any_order_and_split(
            events in proptest::collection::vec((0i64..20_000, 0u64..4), 1..60),
            cut in 0usize..60,
            cuts in proptest::collection::vec(0i64..20_000, 0..4),
        ) {
            let (w, g) = (180, 900);
            let ip: IpAddr = "10.0.1.5".parse().unwrap();
            let starts = TaskStarts::new([(ip, cuts.clone())].into_iter().collect());
            let mut seq = Sessions::default();
            for &(t, b) in &events {
                seq.observe(t, b, w, g, starts.stretch(&ip, t));
            }
            let (x, y) = events.split_at(cut.min(events.len()));
            let mut p = Sessions::default();
            for &(t, b) in x {
                p.observe(t, b, w, g, starts.stretch(&ip, t));
            }
            let mut q = Sessions::default();
            for &(t, b) in y.iter().rev() {
                q.observe(t, b, w, g, starts.stretch(&ip, t));
            }
            p.merge(q, w, g);
            let want = naive_sessions(&events, w, g, &cuts);
            proptest::prop_assert_eq!(sessions_of(&seq), want.clone());
            proptest::prop_assert_eq!(sessions_of(&p), want);
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
        fn openings_are_the_same_in_any_order_and_split(
            events in proptest::collection::vec((-3_000i64..20_000, proptest::bool::ANY, 0u64..4), 1..80),
            cut in 0usize..80,
            quiet in 2i64..5,
            w in 60i64..5_000,
        ) {
            let mut seq = Openings::default();
            for &(t, api, b) in &events {
                seq.observe(t, api, b, w);
            }
            let (x, y) = events.split_at(cut.min(events.len()));
            let mut p = Openings::default();
            for &(t, api, b) in x {
                p.observe(t, api, b, w);
            }
            let mut q = Openings::default();
            for &(t, api, b) in y.iter().rev() {
                q.observe(t, api, b, w);
            }
            p.merge(q, w);
            let want = naive_openings(&events, w, quiet);
            proptest::prop_assert_eq!(openings_of(&seq, w, quiet), want.clone());
            proptest::prop_assert_eq!(openings_of(&p, w, quiet), want);
        }
    }

    #[test]
    fn a_task_on_a_just_freed_address_opens_with_an_api_exchange() {
        let (w, mut o, mut s) = (180, Openings::default(), Sessions::default());
        let mut rec = |t: i64, api: bool, b: u64| {
            o.observe(t, api, b, w);
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
        o.observe(3_600 + 200, false, 1_000, w);
        assert_eq!(o.pull_at(3_780, w), None);
        o.observe(3_600 + 230, false, 500, w);
        assert_eq!(o.pull_at(3_780, w), Some(11_500));
        // a longer aggregation interval asks for more quiet minutes
        assert_eq!(openings_of(&o, w, 4), vec![(0, 5)]);
        // the busy task's state stays small: only its first minutes could open anything
        assert!(o.s3.iter().all(|e| e.0 < 240 || e.0 >= 3_780), "{o:?}");
        assert_eq!(o.api, [0, 3_780]);
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
            o.observe(t, true, 10, 180);
        }
        assert!(o.words.0.len() <= 6, "{:?}", o.words.0.len());
        let starts: Vec<i64> = o.starts(i64::MIN, i64::MAX, 2).collect();
        assert!(starts.contains(&1_788_220_800));
        assert!(o.pull_at(i64::MAX, 180).is_none());
    }
}
