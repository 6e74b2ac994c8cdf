//! Spill store: keeps the account stage's memory bounded however many ENIs the input holds.
//! When a worker's ENI table grows past its share of the budget, the engine moves it, sorted
//! by ENI, to a run file in a private temporary directory. [`Stored`] reads the runs and the
//! table that stayed in memory back as one table, merged and in ENI order, which is how the
//! analysis reads ENIs anyway ([`EniSource`]). Merging is the aggregates' own associative
//! merge, so where and how often the engine spilled changes nothing in the result.
//!
//! Besides the source stage, this is the one module that touches files; it is driven by the
//! engine, never by the pure stages. A run is a little-endian `u64` item count followed by
//! items, each a `u32` length and a postcard-encoded `(ENI, aggregate)` pair. The files live
//! only as long as the run: the directory is removed when [`Stored`] (or [`Spill`]) is dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

use crate::account::{Accumulator, EniAgg, EniKey, EniSource, PartedSource};

/// Default budget: ENI aggregates held in memory by all workers together (each takes about
/// 1.2 KB with its table entry, so about 10 MB). Measured in BENCHMARKS.md: peak RSS the same
/// at 1× and 4× the data, at no measurable cost in time.
pub const DEFAULT_BUDGET: usize = 8_192;
/// Runs merged in one pass at least and at most (each an open file, a read buffer and a
/// decoded head at a time): [`fan_in`] picks within these from the open-file limit.
const FAN_IN_MIN: usize = 8;
const FAN_IN_MAX: usize = 256;
/// Files the rest of a run may hold open while the runs merge (standard streams, the notes'
/// scratch file, the report), kept out of the open-file limit.
const OTHER_FILES: u64 = 32;
/// Read and write buffer of a run file.
const RUN_BUFFER: usize = 32 << 10;
/// A worker's share of the budget is at least this (or the whole budget, if smaller), so that
/// many threads do not spill after every file.
const MIN_SHARE: usize = 2_048;

/// Spill directories of this process that still exist, for [`remove_live_dirs`]. Run files
/// are written under its read lock, so that removing takes the write lock and finds no file
/// half made.
static LIVE: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Remove every spill directory this process still has: for a signal handler, just before
/// the process exits without running destructors.
pub fn remove_live_dirs() {
    if let Ok(mut live) = LIVE.write() {
        for d in live.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A spill directory, removed (and forgotten by [`LIVE`]) when dropped.
struct SpillDir(tempfile::TempDir);

impl SpillDir {
    fn new(parent: &Path) -> io::Result<SpillDir> {
        // Made under the lock, so that a signal handler cannot miss a directory just made.
        let mut live = LIVE
            .write()
            .map_err(|_| io::Error::other("spill registry poisoned"))?;
        let d = tempfile::Builder::new()
            .prefix("flowcost-spill-")
            .tempdir_in(parent)?;
        live.push(d.path().to_path_buf());
        Ok(SpillDir(d))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.write() {
            live.retain(|p| p != self.0.path());
        }
    }
}

/// One run file of sorted `(ENI, aggregate)` pairs.
#[derive(Debug)]
pub struct Run {
    path: PathBuf,
    items: u64,
    /// Every [`INDEX_EVERY`]th item's key, byte offset and number (from 0): where a reader
    /// of a part of the ENIs starts.
    index: Vec<(EniKey, u64, u64)>,
}

/// Items of a run between two entries of its index.
const INDEX_EVERY: u64 = 64;

/// The engine's spill store.
pub struct Spill {
    parent: PathBuf,
    budget: usize,
    /// ENIs that stay in memory: the given NAT gateways (sorted).
    resident: Vec<String>,
    dir: OnceLock<io::Result<SpillDir>>,
    runs: Mutex<Vec<Run>>,
    next: AtomicU64,
    /// Why spilling stopped, once it has (tables then stay in memory).
    failure: OnceLock<String>,
    /// Bytes written to run files so far.
    pub bytes_written: AtomicU64,
    /// Runs the walks merge in one pass ([`fan_in`]); past that, [`Spill::finish`] merges
    /// the smallest first.
    fan_in: usize,
    /// Threads the analysis may walk the table on, each a part of the ENIs ([`Stored`]).
    walkers: usize,
}

/// Runs merged in one pass: half the process's open-file limit past [`OTHER_FILES`], within
/// [`FAN_IN_MIN`]..=[`FAN_IN_MAX`] (Linux's usual limit of 1,024 gives 256, macOS's 256 gives
/// 96, a limit of 48 gives 8: a low limit costs merge passes, not the run). The more runs
/// the walks merge as they read, the fewer are rewritten before the analysis, on one
/// thread: of a month's 135 runs, a fixed 64 had 72 rewritten.
fn fan_in() -> usize {
    #[cfg(unix)]
    let soft = {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the limit into `r`, a valid rlimit, and nothing else.
        match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } {
            // (`rlim_t` is not 64 bits on every Unix)
            #[allow(clippy::unnecessary_cast)]
            0 => r.rlim_cur as u64,
            _ => 0,
        }
    };
    #[cfg(not(unix))]
    let soft = 0u64;
    let share = (soft / 2).saturating_sub(OTHER_FILES);
    share.clamp(FAN_IN_MIN as u64, FAN_IN_MAX as u64) as usize
}

impl Spill {
    /// A store that spills under `parent` (a directory is made there at the first spill)
    /// once the workers' tables hold more than `budget` ENIs together; 0 never spills.
    /// `resident` ENIs (the NAT gateways given by the user) are not spilled.
    pub fn new(parent: &Path, budget: usize, resident: &[String]) -> Spill {
        let mut resident = resident.to_vec();
        resident.sort();
        Spill {
            parent: parent.to_path_buf(),
            budget,
            resident,
            dir: OnceLock::new(),
            runs: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            failure: OnceLock::new(),
            bytes_written: AtomicU64::new(0),
            fan_in: fan_in(),
            walkers: 1,
        }
    }

    /// The same store, its table read back in `n` parts of about as many ENIs each (at
    /// least one), each on a thread of its own.
    pub fn with_walkers(mut self, n: usize) -> Spill {
        self.walkers = n.max(1);
        self
    }

    /// The same store merging at most `n` runs in one pass (at least two).
    pub fn with_fan_in(mut self, n: usize) -> Spill {
        self.fan_in = n.max(2);
        self
    }

    /// Why spilling stopped, if it did (tables then stay in memory: nothing is lost).
    pub fn failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    /// Runs written so far.
    pub fn runs(&self) -> usize {
        self.runs.lock().map_or(0, |r| r.len())
    }

    fn limit(&self) -> usize {
        (self.budget / rayon::current_num_threads().max(1)).max(self.budget.min(MIN_SHARE))
    }

    /// Move `acc`'s ENI table to a run when it is over this worker's share of the budget.
    pub fn relieve(&self, acc: &mut Accumulator) {
        if let Some(run) = self.spill_if_over(acc) {
            if let Ok(mut runs) = self.runs.lock() {
                runs.push(run);
            }
        }
    }

    /// Whether a table of `enis` aggregates is over this worker's share of the budget (and
    /// spilling still works): what [`Spill::spill_if_over`] spills.
    pub fn is_over(&self, enis: usize) -> bool {
        self.budget != 0 && enis > self.limit() && self.failure.get().is_none()
    }

    /// Like [`Spill::relieve`], but the run is handed back to be kept ([`Spill::keep`]) or
    /// dropped ([`Spill::discard`]) later: for partial results that may be thrown away.
    pub fn spill_if_over(&self, acc: &mut Accumulator) -> Option<Run> {
        if !self.is_over(acc.table.len()) {
            return None;
        }
        // NAT gateways stay: they are few, seen in every file, and the largest aggregates
        // (a map of clients each), so writing them with every run would cost the most. Should
        // they fill half the share, the data is unlike that and everything goes.
        let limit = self.limit();
        acc.settle();
        let mut resident = 0;
        let table = acc.table.take_sorted_except(|key, a| {
            let eni = crate::account::eni_of_key(key);
            let nat = a.has_nat_ip
                || a.private_side().translated_records > 0
                || self
                    .resident
                    .binary_search_by(|r| r.as_str().cmp(eni))
                    .is_ok();
            resident += nat as usize;
            nat && resident <= limit / 2
        });
        if table.is_empty() {
            return None;
        }
        match self.write(&table) {
            Ok(run) => Some(run),
            Err(e) => {
                // Keep the table in memory (nothing lost) and stop spilling.
                acc.table.extend(table);
                let _ = self.failure.set(format!(
                    "cannot spill ENI tables under {}: {e}",
                    self.parent.display()
                ));
                None
            }
        }
    }

    /// Keep runs made by [`Spill::spill_if_over`].
    pub fn keep(&self, more: Vec<Run>) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.extend(more);
        }
    }

    /// Delete runs made by [`Spill::spill_if_over`] whose contents are no longer wanted.
    pub fn discard(&self, runs: Vec<Run>) {
        for r in runs {
            let _ = std::fs::remove_file(&r.path);
        }
    }

    /// Write a run of `(key, aggregate)` pairs that `fill` hands over in key order (made
    /// elsewhere: a partial file's ENI table), and keep it with the others.
    pub fn import(
        &self,
        fill: impl FnOnce(&mut dyn FnMut(&str, &EniAgg) -> io::Result<()>) -> io::Result<()>,
    ) -> io::Result<()> {
        let path = self.new_path()?;
        let _writing = LIVE.read();
        let mut w = RunWriter::create(&path)?;
        fill(&mut |k, a| w.push_str(k, a))?;
        let (run, bytes) = w.finish(path)?;
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        self.keep(vec![run]);
        Ok(())
    }

    fn dir(&self) -> io::Result<&Path> {
        let dir = self.dir.get_or_init(|| SpillDir::new(&self.parent));
        match dir {
            Ok(d) => Ok(d.path()),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }

    fn new_path(&self) -> io::Result<PathBuf> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Ok(self.dir()?.join(format!("run-{n:06}")))
    }

    fn write(&self, table: &[(EniKey, Box<EniAgg>)]) -> io::Result<Run> {
        let path = self.new_path()?;
        let _writing = LIVE.read();
        let mut w = RunWriter::create(&path)?;
        for (k, a) in table {
            w.push(k, a)?;
        }
        let (run, bytes) = w.finish(path)?;
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        Ok(run)
    }

    /// Everything the engine left: `acc`'s table (moved out) and the runs, merged down to at
    /// most the fan-in ([`fan_in`]), to be read back in ENI order.
    pub fn finish(self, acc: &mut Accumulator) -> io::Result<Stored> {
        let memory = acc.take_sorted();
        let mut runs = std::mem::take(
            &mut *self
                .runs
                .lock()
                .map_err(|_| io::Error::other("spill runs poisoned"))?,
        );
        let window = acc.run.pull_window;
        // Merge the smallest runs, just enough of them to leave the fan-in (the walks merge
        // those as they read): what is rewritten here, before the analysis and on one
        // thread, is the least it can be.
        let fan_in = self.fan_in;
        while runs.len() > fan_in {
            let k = (runs.len() - fan_in + 1).min(fan_in);
            runs.sort_by_key(|r| std::cmp::Reverse(r.items));
            let group: Vec<Run> = runs.split_off(runs.len() - k);
            let path = self.new_path()?;
            let _writing = LIVE.read();
            let mut w = RunWriter::create(&path)?;
            let mut err = None;
            merge_scan(window, &[], &group, Range::ALL, &mut |k, a| {
                if err.is_none() {
                    err = w.push_str(k, a).err();
                }
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            runs.push(w.finish(path)?.0);
            for r in group {
                let _ = std::fs::remove_file(&r.path);
            }
        }
        let dir = match self.dir.into_inner() {
            Some(Ok(d)) => Some(d),
            _ => None,
        };
        // each part's walk opens every run: no more parts than the fan-in's files allow
        let parts = self.walkers.min(fan_in / runs.len().max(1)).max(1);
        let bounds = split_points(&memory, &runs, parts);
        Ok(Stored {
            memory,
            runs,
            window,
            dir,
            bounds,
        })
    }
}

/// The ENI table after a run of the engine: what stayed in memory and the spilled runs.
pub struct Stored {
    memory: Vec<(EniKey, Box<EniAgg>)>,
    runs: Vec<Run>,
    window: i64,
    dir: Option<SpillDir>,
    /// Where each part of the ENIs after the first begins (ENI ids, increasing).
    bounds: Vec<EniKey>,
}

/// The ENIs of one part of a table: from `from` (included) until `until` (excluded), each
/// end open where `None`.
#[derive(Clone, Copy)]
struct Range<'k> {
    from: Option<&'k EniKey>,
    until: Option<&'k EniKey>,
}

impl Range<'_> {
    const ALL: Range<'static> = Range {
        from: None,
        until: None,
    };

    fn before_end(&self, k: &EniKey) -> bool {
        self.until.is_none_or(|u| k < u)
    }
}

/// Where `parts` parts of about as many items each begin, after the first: ENI ids (an ENI's
/// keys of several flow logs, which sort after its id, stay in one part), increasing, from a
/// sample of the memory table's keys and the runs' indexes.
fn split_points(memory: &[(EniKey, Box<EniAgg>)], runs: &[Run], parts: usize) -> Vec<EniKey> {
    if parts < 2 {
        return Vec::new();
    }
    // every INDEX_EVERYth key of the memory table, as of the runs
    let every = INDEX_EVERY as usize;
    let mut keys: Vec<(&EniKey, u64)> = (memory.iter().step_by(every))
        .map(|(k, _)| (k, INDEX_EVERY))
        .collect();
    for r in runs {
        keys.extend(r.index.iter().map(|(k, _, _)| (k, INDEX_EVERY)));
    }
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let total: u64 = keys.iter().map(|k| k.1).sum();
    let mut bounds: Vec<EniKey> = Vec::with_capacity(parts - 1);
    let (mut seen, mut next) = (0u64, 1u64);
    for (k, n) in keys {
        if next < parts as u64 && seen >= total * next / parts as u64 {
            let eni = crate::account::eni_of_key(k);
            if bounds.last().is_none_or(|b| b.as_str() < eni) {
                bounds.push(EniKey::new(eni));
            }
            next += 1;
        }
        seen += n;
    }
    bounds
}

impl Stored {
    /// Spilled runs left to merge while reading.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Remove the run files now and free the in-memory table on a background thread (it
    /// holds an allocation per ENI; freeing them takes milliseconds the report need not wait
    /// for, and the process may exit before that thread is done).
    pub fn release(self) {
        let Stored { memory, dir, .. } = self;
        drop(dir);
        std::thread::spawn(move || drop(memory));
    }

    /// The ENIs of part `i` (of [`PartedSource::parts`]).
    fn range(&self, i: usize) -> Range<'_> {
        Range {
            from: i.checked_sub(1).and_then(|j| self.bounds.get(j)),
            until: self.bounds.get(i),
        }
    }
}

impl PartedSource for Stored {
    fn parts(&self) -> usize {
        self.bounds.len() + 1
    }

    fn scan_part(&self, i: usize, f: &mut dyn FnMut(&str, &EniAgg)) -> io::Result<()> {
        let range = self.range(i);
        merge_scan(self.window, &self.memory, &self.runs, range, f)
    }

    fn scratch(&self) -> io::Result<Option<File>> {
        EniSource::scratch(self)
    }
}

impl EniSource for Stored {
    fn scan(&self, f: &mut dyn FnMut(&str, &EniAgg)) -> io::Result<()> {
        merge_scan(self.window, &self.memory, &self.runs, Range::ALL, f)
    }

    fn parted(&self) -> Option<&dyn PartedSource> {
        (!self.bounds.is_empty()).then_some(self as &dyn PartedSource)
    }

    /// An unnamed file in the spill directory (gone when closed), when the table spilled.
    fn scratch(&self) -> io::Result<Option<File>> {
        match &self.dir {
            Some(d) if !self.runs.is_empty() => tempfile::tempfile_in(d.path()).map(Some),
            _ => Ok(None),
        }
    }
}

struct RunWriter {
    w: BufWriter<File>,
    items: u64,
    bytes: u64,
    buf: Vec<u8>,
    index: Vec<(EniKey, u64, u64)>,
}

impl RunWriter {
    fn create(path: &Path) -> io::Result<RunWriter> {
        let mut w = BufWriter::with_capacity(RUN_BUFFER, File::create(path)?);
        w.write_all(&0u64.to_le_bytes())?;
        Ok(RunWriter {
            w,
            items: 0,
            bytes: 8,
            buf: Vec::new(),
            index: Vec::new(),
        })
    }

    fn push(&mut self, k: &EniKey, a: &EniAgg) -> io::Result<()> {
        self.push_str(k.as_str(), a)
    }

    fn push_str(&mut self, k: &str, a: &EniAgg) -> io::Result<()> {
        self.buf.clear();
        self.buf = postcard::to_extend(&(k, a), std::mem::take(&mut self.buf))
            .map_err(io::Error::other)?;
        let len = u32::try_from(self.buf.len()).map_err(io::Error::other)?;
        if self.items % INDEX_EVERY == 0 {
            self.index.push((EniKey::new(k), self.bytes, self.items));
        }
        self.w.write_all(&len.to_le_bytes())?;
        self.w.write_all(&self.buf)?;
        self.items += 1;
        self.bytes += 4 + u64::from(len);
        Ok(())
    }

    /// Write the item count and close; the run and the bytes written.
    fn finish(self, path: PathBuf) -> io::Result<(Run, u64)> {
        let mut f = self.w.into_inner().map_err(|e| e.into_error())?;
        f.seek(io::SeekFrom::Start(0))?;
        f.write_all(&self.items.to_le_bytes())?;
        Ok((
            Run {
                path,
                items: self.items,
                index: self.index,
            },
            self.bytes,
        ))
    }
}

struct RunReader {
    r: BufReader<File>,
    left: u64,
    buf: Vec<u8>,
    path: PathBuf,
    /// Items before this key are passed over (a reader of a part of the ENIs), until the
    /// first one at or past it.
    from: Option<EniKey>,
}

impl RunReader {
    /// A reader of `run` from the first item at or past `from` (the first, if `None`): it
    /// starts at the last indexed item before `from`.
    fn open(run: &Run, from: Option<&EniKey>) -> io::Result<RunReader> {
        let mut r = BufReader::with_capacity(RUN_BUFFER, File::open(&run.path)?);
        let mut n = [0u8; 8];
        r.read_exact(&mut n)?;
        let mut left = u64::from_le_bytes(n);
        if left != run.items {
            return Err(bad(&run.path, "item count differs from what was written"));
        }
        if let Some(from) = from {
            let i = run.index.partition_point(|(k, _, _)| k < from);
            if let Some((_, offset, number)) = i.checked_sub(1).map(|i| &run.index[i]) {
                r.seek(io::SeekFrom::Start(*offset))?;
                left = run.items.saturating_sub(*number);
            }
        }
        Ok(RunReader {
            r,
            left,
            buf: Vec::new(),
            path: run.path.clone(),
            from: from.cloned(),
        })
    }

    fn next(&mut self) -> io::Result<Option<(EniKey, EniAgg)>> {
        while self.left > 0 {
            let mut n = [0u8; 4];
            self.r.read_exact(&mut n)?;
            let len = u32::from_le_bytes(n) as usize;
            let (from, path) = (self.from.as_ref(), &self.path);
            // read where the reader holds it when it holds all of it (most items), else copied
            let item = match self.r.buffer().get(..len) {
                Some(held) => {
                    let item = read_item(held, from, path)?;
                    self.r.consume(len);
                    item
                }
                None => {
                    let mut buf = std::mem::take(&mut self.buf);
                    buf.resize(len, 0);
                    self.r.read_exact(&mut buf)?;
                    let item = read_item(&buf, from, path);
                    self.buf = buf;
                    item?
                }
            };
            self.left -= 1;
            if item.is_some() {
                self.from = None;
                return Ok(item);
            }
        }
        Ok(None)
    }
}

/// The item encoded in `b`, or `None` if its key is before `from` (its aggregate then not
/// decoded).
fn read_item(b: &[u8], from: Option<&EniKey>, path: &Path) -> io::Result<Option<(EniKey, EniAgg)>> {
    let fail = |e: postcard::Error| bad(path, &e.to_string());
    if let Some(from) = from {
        let (k, _) = postcard::take_from_bytes::<&str>(b).map_err(fail)?;
        if k < from.as_str() {
            return Ok(None);
        }
    }
    let (k, a): (&str, EniAgg) = postcard::from_bytes(b).map_err(fail)?;
    Ok(Some((EniKey::new(k), a)))
}

fn bad(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("spill run {}: {why}", path.display()),
    )
}

/// Call `f` once per ENI, in ENI order, with its aggregate merged from the sorted `memory`
/// table and every run.
fn merge_scan(
    window: i64,
    memory: &[(EniKey, Box<EniAgg>)],
    runs: &[Run],
    range: Range,
    f: &mut dyn FnMut(&str, &EniAgg),
) -> io::Result<()> {
    let lo = range
        .from
        .map_or(0, |k| memory.partition_point(|m| &m.0 < k));
    let hi = lo + memory[lo..].partition_point(|m| range.before_end(&m.0));
    let memory = &memory[lo..hi];
    let mut m = Merger {
        readers: runs
            .iter()
            .map(|r| RunReader::open(r, range.from))
            .collect::<io::Result<Vec<_>>>()?,
        heads: Vec::new(),
        heap: BinaryHeap::new(),
        memory,
        next_in_memory: 0,
    };
    for i in 0..m.readers.len() {
        m.heads.push(None);
        m.advance(i)?;
    }
    if let Some((k, _)) = memory.first() {
        m.heap.push(Reverse((k.clone(), m.readers.len())));
    }
    while let Some(Reverse((key, i))) = m.heap.pop() {
        if !range.before_end(&key) {
            break; // (the runs' keys past the part's end: another part's)
        }
        let mut head = m.take(i)?;
        while m.heap.peek().is_some_and(|Reverse((k, _))| *k == key) {
            let Some(Reverse((_, j))) = m.heap.pop() else {
                break;
            };
            let other = m.take(j)?;
            let mut merged = head.into_owned();
            merged.merge(*other.into_owned(), window);
            head = Head::Owned(merged);
        }
        match &head {
            Head::Owned(a) => f(&key, a),
            Head::Memory(a) => f(&key, a),
        }
    }
    Ok(())
}

/// The state of a k-way merge: one decoded head per run and a cursor into the memory table
/// (source number `readers.len()`), with the smallest next keys on a heap.
struct Merger<'m> {
    readers: Vec<RunReader>,
    heads: Vec<Option<Box<EniAgg>>>,
    heap: BinaryHeap<Reverse<(EniKey, usize)>>,
    memory: &'m [(EniKey, Box<EniAgg>)],
    next_in_memory: usize,
}

/// How many aggregates of the memory table ahead of the one read the merge asks for what
/// they point to (and twice as far, for the aggregates themselves).
const AHEAD: usize = 4;

enum Head<'m> {
    Owned(Box<EniAgg>),
    Memory(&'m EniAgg),
}

impl Head<'_> {
    fn into_owned(self) -> Box<EniAgg> {
        match self {
            Head::Owned(a) => a,
            Head::Memory(a) => Box::new(a.clone()),
        }
    }
}

impl<'m> Merger<'m> {
    /// Decode run `i`'s next item into its head and put its key on the heap.
    fn advance(&mut self, i: usize) -> io::Result<()> {
        if let Some((k, a)) = self.readers[i].next()? {
            self.heap.push(Reverse((k, i)));
            self.heads[i] = Some(Box::new(a));
        }
        Ok(())
    }

    /// The current item of source `i`, moving that source on.
    fn take(&mut self, i: usize) -> io::Result<Head<'m>> {
        if i == self.readers.len() {
            let memory = self.memory;
            let a = &*memory[self.next_in_memory].1;
            self.next_in_memory += 1;
            // the aggregates ahead asked of the memory (most left the cache long ago), and
            // what the nearer ones point to
            if let Some((_, a)) = memory.get(self.next_in_memory + 2 * AHEAD) {
                a.prefetch();
            }
            if let Some((_, a)) = memory.get(self.next_in_memory + AHEAD) {
                a.prefetch_heap();
            }
            if let Some((k, _)) = memory.get(self.next_in_memory) {
                self.heap.push(Reverse((k.clone(), i)));
            }
            return Ok(Head::Memory(a));
        }
        let a = self.heads[i]
            .take()
            .ok_or_else(|| io::Error::other("spill merge lost its place"))?;
        self.advance(i)?;
        Ok(Head::Owned(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Dir, Params, PartedSource};
    use crate::classify::Class;

    fn agg(i: u64, j: u64) -> Box<EniAgg> {
        let mut a = EniAgg::default();
        a.records = i + j;
        a.reject_bytes = i * j;
        a.public
            .add(i as u32 % 3, Class::S3, Dir::Download, 1000 + i);
        Box::new(a)
    }

    fn table(s: &dyn EniSource) -> Vec<(String, EniAgg)> {
        let mut v = Vec::new();
        s.scan(&mut |k, a| v.push((k.to_string(), a.clone())))
            .unwrap();
        v
    }

    fn fill(spill: &Spill, whole: &mut Accumulator) -> Accumulator {
        let params = Params::default();
        let mut last = Accumulator::new(&params);
        for i in 0..100u64 {
            let mut acc = Accumulator::new(&params);
            for j in (i % 7..40).step_by(3) {
                acc.table
                    .insert(EniKey::new(&format!("eni-{j:03}")), agg(i, j));
            }
            let mut copy = Accumulator::new(&params);
            copy.table = acc.table.clone();
            whole.merge(copy);
            spill.relieve(&mut acc);
            last.merge(acc);
        }
        last
    }

    /// A hundred tables spilled with a budget of one ENI: the store's directory, the same
    /// tables merged in memory, and what the store gives back.
    fn spilled() -> (tempfile::TempDir, Accumulator, Stored) {
        spilled_with(64)
    }

    fn spilled_with(fan_in: usize) -> (tempfile::TempDir, Accumulator, Stored) {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 1, &[]).with_fan_in(fan_in);
        let mut whole = Accumulator::new(&Params::default());
        let mut left = fill(&spill, &mut whole);
        assert_eq!(spill.runs(), 100);
        let stored = spill.finish(&mut left).unwrap();
        (dir, whole, stored)
    }

    #[test]
    fn many_runs_merge_back_to_the_same_table() {
        let (_dir, whole, stored) = spilled();
        // of the hundred runs, the 37 smallest were merged into one: just enough
        assert_eq!(stored.runs(), 64);
        let got = table(&stored);
        assert_eq!(got.len(), 40);
        assert_eq!(got, table(&whole));
    }

    #[test]
    fn runs_within_the_fan_in_are_not_rewritten_and_any_fan_in_gives_the_table() {
        let (_dir, whole, stored) = spilled_with(256);
        assert_eq!(stored.runs(), 100);
        assert_eq!(table(&stored), table(&whole));
        // merged two at a time, down to two
        let (_dir, _, stored) = spilled_with(2);
        assert_eq!(stored.runs(), 2);
        assert_eq!(table(&stored), table(&whole));
    }

    /// Items larger than a run reader's buffer (a NAT gateway's aggregate may be), among
    /// small ones, read back as whole as those it holds whole.
    #[test]
    fn items_past_the_read_buffer_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 1, &[]);
        let params = Params::default();
        let (mut whole, mut left) = (Accumulator::new(&params), Accumulator::new(&params));
        let mut largest = 0;
        for i in 0..6u64 {
            let mut acc = Accumulator::new(&params);
            for j in 0..30u64 {
                let mut a = agg(i, j);
                if j % 7 == i % 7 {
                    for day in 0..6_000u32 {
                        let bytes = u64::from(day) * 1_000_003 + j;
                        a.public.add(day, Class::S3, Dir::Upload, bytes);
                    }
                }
                largest = largest.max(postcard::to_allocvec(&a).unwrap().len());
                acc.table.insert(EniKey::new(&format!("eni-{j:03}")), a);
            }
            let mut copy = Accumulator::new(&params);
            copy.table = acc.table.clone();
            whole.merge(copy);
            spill.relieve(&mut acc);
            left.merge(acc);
        }
        assert!(largest > RUN_BUFFER, "{largest}");
        assert_eq!(spill.runs(), 6);
        let stored = spill.finish(&mut left).unwrap();
        assert_eq!(table(&stored), table(&whole));
    }

    /// A table in parts (runs of many items each, the memory table, ENIs with keys of
    /// several flow logs): the parts read in order are the table read whole, whatever their
    /// number, each ENI's keys in one part, and a reader of a later part starts from the
    /// runs' indexes, not their first items.
    #[test]
    fn parts_read_in_order_are_the_table() {
        let keys: Vec<String> = (0..400u64)
            .flat_map(|j| {
                let eni = format!("eni-{j:03x}");
                match j % 5 {
                    0 => vec![
                        crate::account::tagged_key(&eni, 0, &mut String::new()).to_string(),
                        crate::account::tagged_key(&eni, 1, &mut String::new()).to_string(),
                    ],
                    _ => vec![eni],
                }
            })
            .collect();
        for walkers in 1..6 {
            let dir = tempfile::tempdir().unwrap();
            let spill = Spill::new(dir.path(), 1, &[]).with_walkers(walkers);
            let params = Params::default();
            let (mut whole, mut left) = (Accumulator::new(&params), Accumulator::new(&params));
            for i in 0..5u64 {
                let mut acc = Accumulator::new(&params);
                for (j, k) in keys.iter().enumerate().skip(i as usize).step_by(2) {
                    acc.table.insert(EniKey::new(k), agg(i, j as u64));
                }
                let mut copy = Accumulator::new(&params);
                copy.table = acc.table.clone();
                whole.merge(copy);
                if i < 4 {
                    spill.relieve(&mut acc);
                }
                left.merge(acc);
            }
            let stored = spill.finish(&mut left).unwrap();
            assert!(stored.runs() == 4 && !stored.memory.is_empty());
            assert_eq!(stored.bounds.len(), walkers - 1, "{:?}", stored.bounds);
            let want = table(&whole);
            let mut got = Vec::new();
            let mut firsts = Vec::new();
            let eni = |k: &str| crate::account::eni_of_key(k).to_string();
            for i in 0..stored.parts() {
                let mut part = Vec::new();
                stored
                    .scan_part(i, &mut |k, a| part.push((k.to_string(), a.clone())))
                    .unwrap();
                if let (Some(last), Some(first)) = (got.last(), part.first()) {
                    let (last, first): (&(String, EniAgg), &(String, EniAgg)) = (last, first);
                    assert_ne!(eni(&last.0), eni(&first.0), "an ENI in two parts");
                }
                firsts.extend(part.first().map(|p| p.0.clone()));
                got.extend(part);
            }
            assert_eq!(got, want, "{walkers} parts");
            for (first, bound) in firsts.iter().skip(1).zip(&stored.bounds) {
                assert!(first.starts_with(bound.as_str()), "{first} {bound:?}");
            }
            // a part's reader of a run begins past its first indexed items
            if let Some(b) = stored.bounds.last() {
                let r = RunReader::open(&stored.runs[0], Some(b)).unwrap();
                assert!(r.left <= stored.runs[0].items - INDEX_EVERY);
            }
        }
    }

    /// Each part's walk opens every run, so the parts together open no more runs than the
    /// fan-in allows: fewer parts than walkers where the runs are many.
    #[test]
    fn parts_open_no_more_runs_than_the_fan_in() {
        for (fan_in, walkers) in [(4, 8), (8, 3), (64, 8), (2, 2)] {
            let dir = tempfile::tempdir().unwrap();
            let spill = Spill::new(dir.path(), 1, &[])
                .with_fan_in(fan_in)
                .with_walkers(walkers);
            let mut whole = Accumulator::new(&Params::default());
            let mut left = fill(&spill, &mut whole);
            let stored = spill.finish(&mut left).unwrap();
            let open = stored.parts() * stored.runs();
            assert!(
                open <= fan_in.max(stored.runs()),
                "{fan_in} {walkers}: {open}"
            );
            assert!(stored.parts() <= walkers);
            assert_eq!(table(&stored), table(&whole), "{fan_in} {walkers}");
        }
    }

    #[test]
    fn the_fan_in_follows_the_open_file_limit_within_its_bounds() {
        let n = fan_in();
        assert!((FAN_IN_MIN..=FAN_IN_MAX).contains(&n), "{n}");
    }

    #[test]
    fn a_damaged_run_is_an_error_not_a_wrong_table() {
        let (_dir, _, stored) = spilled();
        let run = &stored.runs[0].path;
        let len = std::fs::metadata(run).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(run)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        assert!(stored.scan(&mut |_, _| {}).is_err());
    }

    /// A run cut short under a table in parts: the part that reads the damage fails (and
    /// with it the walk), whichever part that is.
    #[test]
    fn a_damaged_run_fails_the_part_that_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 1, &[]).with_walkers(3);
        let mut whole = Accumulator::new(&Params::default());
        let mut left = fill(&spill, &mut whole);
        let stored = spill.finish(&mut left).unwrap();
        assert!(stored.parts() > 1);
        let run = &stored.runs[0].path;
        let len = std::fs::metadata(run).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(run).unwrap();
        file.set_len(len * 3 / 4).unwrap();
        let failed = (0..stored.parts())
            .filter(|&i| stored.scan_part(i, &mut |_, _| {}).is_err())
            .count();
        assert!(failed >= 1);
        assert!(stored.scan(&mut |_, _| {}).is_err());
    }

    #[test]
    fn without_a_usable_directory_tables_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not-there");
        let spill = Spill::new(&missing, 1, &[]);
        let mut whole = Accumulator::new(&Params::default());
        let mut left = fill(&spill, &mut whole);
        assert!(spill.failure().unwrap().contains("not-there"));
        assert_eq!(spill.runs(), 0);
        let stored = spill.finish(&mut left).unwrap();
        assert_eq!(table(&stored), table(&whole));
    }

    #[test]
    fn given_nat_enis_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 4, &["eni-002".into()]);
        let mut acc = Accumulator::new(&Params::default());
        for j in 0..10 {
            acc.table
                .insert(EniKey::new(&format!("eni-{j:03}")), agg(1, j));
        }
        spill.relieve(&mut acc);
        assert_eq!(spill.runs(), 1);
        assert_eq!(
            acc.table
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["eni-002"]
        );
    }
}
