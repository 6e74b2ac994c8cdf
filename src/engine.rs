//! The ingest engine: runs source → format → account over all inputs on a rayon pool, one
//! accumulator per worker and target, merged at the end. A run has one target; `compare` and
//! `report --change-at` have one per period, so that each input is read and decoded once and
//! its records handed to every period that wants them (a [`Fan`] of sinks). Shows an indicatif
//! progress bar on stderr when asked to (a terminal, not `--quiet`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::account::{
    Accumulator, BadLine, FileSink, FileStats, LineCounts, Params, EXAMPLES_PER_FILE,
};
use crate::classify::IpRanges;
use crate::format::text::Sink;
use crate::format::text::{Blocks, Decoder};
use crate::format::{parquet, text, Layout, Malformed, Record};
use crate::report::own::OwnOutput;
use crate::source::s3::{Again, Body, Downloads};
use crate::source::{self, gunzip, Encoding, Failure, FailureKind, Input, Location, Opened};
use crate::spill::{Run, Spill};
use ::parquet::file::reader::Length as _;

/// Default size of the chunks a large text input is cut into; inputs of at least
/// [`SPLIT_FACTOR`] chunks on disk are parsed by several workers.
pub const CHUNK: usize = 4 << 20;
pub const SPLIT_FACTOR: u64 = 8;

/// Hand the memory the C allocator holds free back to the system. glibc keeps what is freed
/// in the arena of the thread that allocated it: after two workers' accumulators merge, the
/// NAT clients' lists of the one merged in are free but still counted in the process's
/// memory, and the more workers, the more such arenas (BENCHMARKS.md, "Memory and the thread
/// count"). Called after the large merges of the workers' accumulators. Elsewhere than on
/// glibc, nothing to do.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What one chunk of a split input (or part of a Parquet file) reported: its lines (rows),
/// whether the input must be read again in one piece (a header changed the layout, a part
/// failed), and each target's line accounting.
struct ChunkInfo {
    index: usize,
    lines: u64,
    again: bool,
    targets: Vec<ChunkCounts>,
}

impl ChunkInfo {
    /// The report of chunk `index`, from the sinks that read it.
    fn of(index: usize, lines: u64, again: bool, sink: Fan) -> ChunkInfo {
        let targets = (sink.take().into_iter())
            .map(|s| ChunkCounts {
                counts: s.counts,
                examples: s.malformed_examples,
                skipdata: s.skipdata_windows,
            })
            .collect();
        ChunkInfo {
            index,
            lines,
            again,
            targets,
        }
    }
}

/// One target's line accounting of a chunk.
struct ChunkCounts {
    counts: LineCounts,
    examples: Vec<BadLine>,
    skipdata: u64,
}

/// One accumulation the engine feeds: its parameters (the period's time filter among them)
/// and the spill store its ENI tables move to (none: all in memory).
pub struct Target<'a> {
    pub params: &'a Params,
    pub spill: Option<&'a Spill>,
}

impl Target<'_> {
    /// Whether this target reads `input`: every local one, and an S3 object when the listing
    /// of the target's own period would have kept it (its key's delivery time in the period,
    /// with the listing's margins).
    pub fn takes(&self, input: &Input) -> bool {
        input.in_period(self.params.run.since, self.params.run.until)
    }

    fn relieve(&self, acc: &mut Accumulator) {
        if let Some(s) = self.spill {
            s.relieve(acc);
        }
    }
}

/// A worker's state: one accumulator per target, in the targets' order.
struct Accs(Vec<Accumulator>);

impl Accs {
    fn new(targets: &[Target]) -> Accs {
        Accs(
            targets
                .iter()
                .map(|t| Accumulator::new(t.params).deferring())
                .collect(),
        )
    }

    fn merge(&mut self, o: Accs) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            a.merge(b);
        }
    }

    /// Inputs read into these accumulators (those of the target that took the most).
    fn inputs_read(&self) -> usize {
        self.0
            .iter()
            .map(|a| a.inputs.files.len())
            .max()
            .unwrap_or(0)
    }
}

/// One set of accumulators per thread of the pool, taken by the thread of that index for each
/// input it reads: as many sets as threads, each growing its tables once, merged at the end.
/// (Rayon's `fold` made one set per piece of its split of the inputs, 21 at two threads on
/// the benchmark world, each learning the NAT gateways' clients again: BENCHMARKS.md, "Issue
/// 14, fourteenth step".) Which thread reads which input changes no total: accumulators merge
/// associatively and commutatively (the engine's tests compare thread counts).
struct Workers<T> {
    sets: Vec<Mutex<Option<T>>>,
    /// The sets of inputs read while their thread's set was taken: a thread waiting inside a
    /// split input's parallel parse may take another input of the run meanwhile.
    extra: Mutex<Vec<T>>,
}

impl<T> Workers<T> {
    fn new(threads: usize) -> Workers<T> {
        Workers {
            sets: (0..threads).map(|_| Mutex::new(None)).collect(),
            extra: Mutex::new(Vec::new()),
        }
    }

    /// Run `f` on this thread's set (made by `new` the first time), or on a set of its own if
    /// this thread's is taken further up its stack.
    fn with(&self, new: impl Fn() -> T, f: impl FnOnce(&mut T)) {
        let set = rayon::current_thread_index().and_then(|i| self.sets.get(i));
        let guard = set.and_then(|m| match m.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        });
        match guard {
            Some(mut g) => f(g.get_or_insert_with(new)),
            None => {
                let mut own = new();
                f(&mut own);
                let mut extra = self.extra.lock().unwrap_or_else(PoisonError::into_inner);
                extra.push(own);
            }
        }
    }

    /// Every set, in the threads' order, then the extra ones.
    fn into_all(self) -> Vec<T> {
        let inner = |m: Mutex<Option<T>>| m.into_inner().unwrap_or_else(PoisonError::into_inner);
        let extra = self
            .extra
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        self.sets
            .into_iter()
            .filter_map(inner)
            .chain(extra)
            .collect()
    }
}

/// Runs spilled from the tables of one input's records, with their target's place: kept or
/// dropped with the records ([`Engine::keep_runs`], [`Engine::discard_runs`]).
type Runs = Vec<(usize, Run)>;

/// Spill `acc`'s table to `store` where it is over the worker's share, the run held in `runs`
/// (with its target's place `t`) to be kept or dropped with the input's records.
fn spill_held(store: &Spill, t: usize, acc: &mut Accumulator, runs: &mut Runs) {
    runs.extend(store.spill_if_over(acc).map(|r| (t, r)));
}

/// The sinks of the targets that take one input: each record, header and bad line decoded
/// once is handed to each of them (each keeps its own line accounting and time filter).
pub struct Fan<'a> {
    sinks: Vec<FileSink<'a>>,
    /// What a reader's pause does ([`Sink::pause`]).
    spills: SpillsAtPauses<'a>,
}

/// The tables of one input (or one chunk or part of a split input) spilled as it is read, at
/// the reader's pauses, so that one long input (a month in one file at `-j 1`, standard input,
/// a Parquet file of one row group, a 4 MiB chunk of a large VPC's lines) is read within the
/// worker's share of the ENI budget, as the inputs of a run are.
struct SpillsAtPauses<'a> {
    /// The spill store of each sink's target (none: the target keeps its tables).
    stores: Vec<Option<(usize, &'a Spill)>>,
    /// Where the runs go where the input's records are held apart until it is known good (a
    /// gzip stream, a split input's parts), to be kept or dropped with them; else they are
    /// kept at once.
    held: Option<&'a mut Runs>,
}

impl Fan<'_> {
    fn set_format(&mut self, enc: Encoding) {
        for s in &mut self.sinks {
            s.stats.format = Some(enc);
        }
    }

    fn set_size(&mut self, size: u64) {
        for s in &mut self.sinks {
            s.stats.size = size;
        }
    }

    /// Close the input in every target (see [`FileSink::finish`]).
    fn finish(self, error: Option<Failure>) {
        for s in self.sinks {
            s.finish(error.clone());
        }
    }

    /// Each target's statistics, in order.
    fn take(self) -> Vec<FileStats> {
        self.sinks.into_iter().map(FileSink::take).collect()
    }
}

impl Sink for Fan<'_> {
    #[inline]
    fn record(&mut self, rec: &Record<'_>) {
        for s in &mut self.sinks {
            s.record(rec);
        }
    }
    fn defers(&self) -> bool {
        self.sinks.iter().all(FileSink::defers)
    }
    fn flows(&self) -> bool {
        self.sinks.iter().any(FileSink::flows)
    }
    #[inline]
    fn upcoming(&mut self, recs: &[Record<'_>]) {
        for s in &mut self.sinks {
            s.upcoming(recs);
        }
    }
    fn malformed(&mut self, line: u64, why: Malformed) {
        for s in &mut self.sinks {
            s.malformed(line, why.clone());
        }
    }
    fn header(&mut self) {
        for s in &mut self.sinks {
            s.header();
        }
    }
    fn blank(&mut self) {
        for s in &mut self.sinks {
            s.blank();
        }
    }
    fn layout(&mut self, fields: usize) {
        for s in &mut self.sinks {
            s.layout(fields);
        }
    }
    /// Spill each table over its worker's share (the sink lends its accumulator only then:
    /// [`FileSink::lend`]).
    fn pause(&mut self) {
        let spills = &mut self.spills;
        for (s, store) in self.sinks.iter_mut().zip(&spills.stores) {
            let Some((t, store)) = *store else { continue };
            if !store.is_over(s.enis()) {
                continue;
            }
            match &mut spills.held {
                Some(runs) => s.lend(|acc| spill_held(store, t, acc, runs)),
                None => s.lend(|acc| store.relieve(acc)),
            }
        }
    }
}

/// Everything the engine needs besides the inputs.
pub struct Engine<'a> {
    pub ranges: &'a IpRanges,
    pub layout: &'a Layout,
    /// What to accumulate, one accumulator each (at least one).
    pub targets: &'a [Target<'a>],
    /// Region for inputs whose records and paths do not name one (`--region`).
    pub default_region: Option<u16>,
    pub threads: Option<usize>,
    pub progress: bool,
    /// Chunk size for splitting large text inputs ([`CHUNK`] by default).
    pub chunk: usize,
    /// Downloads of an S3 object again, when the inputs include S3 objects.
    pub again: Option<Again>,
    /// Where a Parquet stream too long to hold in memory is spooled (`--temp-dir`).
    pub spool: &'a std::path::Path,
}

struct Progress {
    bar: ProgressBar,
    files_done: AtomicU64,
    files: u64,
}

impl Progress {
    /// A bar over `total` bytes of `files` inputs, on stderr where `show` (the one an
    /// interrupt clears, [`clear_progress`]), else hidden.
    fn new(show: bool, total: u64, files: u64) -> Progress {
        let bar = match show {
            true => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            false => ProgressBar::hidden(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed:>4} {wide_bar} {binary_bytes:>10}/{binary_total_bytes} {binary_bytes_per_sec:>12} {eta:>4} left  {msg}",
            )
            .expect("valid template"),
        );
        if show {
            if let Ok(mut b) = ACTIVE_BAR.lock() {
                *b = Some(bar.clone());
            }
        }
        Progress {
            bar,
            files_done: AtomicU64::new(0),
            files,
        }
    }

    /// Take the bar off the terminal: the inputs are read.
    fn finish(&self) {
        self.bar.finish_and_clear();
        if let Ok(mut b) = ACTIVE_BAR.lock() {
            *b = None;
        }
    }

    fn file_done(&self) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        // short enough for an 80-column terminal beside the bar
        self.bar.set_message(format!("{done}/{} files", self.files));
    }
}

/// Open a downloaded object's body: a whole one from its bytes (with the failure that stopped
/// its download, if one did; of a Parquet one, perhaps only the ranges its decoder reads), a
/// larger one as a stream, a large Parquet one by the ranges its decoder reads, one not
/// requested as its failure; with the whole object, which holds its download slot until it
/// is dropped.
fn open_download(
    body: Body,
    spool: &std::path::Path,
    counter: impl FnMut(u64) + Send + 'static,
) -> (std::io::Result<Opened>, Option<source::s3::Whole>) {
    match body {
        Body::Ranged(r) => (source::open_ranged(r, spool, counter), None),
        Body::Whole(mut w) => {
            let (failure, held) = (w.failure.take(), w.held.take());
            let bytes = w.bytes.clone();
            let opened = source::open_received(bytes, failure, held, spool, counter);
            (opened, Some(w))
        }
        Body::Stream(r) => (source::open_stream(Box::new(r), spool, counter), None),
        Body::Skipped(f) => (Err(f.into_io()), None),
    }
}

/// The bytes of `input` the progress bar counts once a Parquet file opened from it is read
/// by position: a local file's size. A stream (standard input, a pipe, an S3 object), even
/// one spooled to disk, counts its bytes as they arrive.
fn positional_bytes(input: &Input) -> u64 {
    match input.location {
        Location::File(_) => input.size,
        _ => 0,
    }
}

/// The progress bar on screen, so that an interrupt can clear it ([`clear_progress`]).
static ACTIVE_BAR: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// Take the progress bar off the terminal for good (the signal handler calls this before
/// the process exits, so no half-drawn bar is left behind).
pub fn clear_progress() {
    if let Some(bar) = ACTIVE_BAR.lock().ok().and_then(|mut b| b.take()) {
        bar.finish_and_clear();
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
}

impl Engine<'_> {
    /// Read every input (local ones, and downloads started by the S3 source) and return the
    /// merged accumulator of each target, in the targets' order.
    pub fn run(&self, inputs: &[Input], remote: Option<Downloads>) -> Vec<Accumulator> {
        let (remote_files, remote_bytes) = remote.as_ref().map_or((0, 0), |r| (r.objects, r.bytes));
        let total: u64 = inputs.iter().map(|i| i.size).sum::<u64>() + remote_bytes;
        let progress = Progress::new(self.progress, total, inputs.len() as u64 + remote_files);
        let new = || Accs::new(self.targets);
        // merging in a sixteenth of the inputs or more frees enough to hand back (16 to 19
        // times a run on the benchmark worlds; trimming after every merge cost a third of
        // the time at eight threads)
        let large = (progress.files / 16).max(1) as usize;
        let merge = |mut a: Accs, b: Accs| {
            let worth_trimming = b.inputs_read() >= large;
            a.merge(b);
            self.relieve(&mut a);
            if worth_trimming {
                release_free_memory();
            }
            a
        };
        let work = || {
            let workers = Workers::new(rayon::current_num_threads());
            let local = || {
                inputs.par_iter().for_each(|input| {
                    workers.with(new, |accs| {
                        let (counter, read) = self.counter(&progress);
                        let opened = source::open(input, self.spool, counter);
                        self.ingest(input, opened, &read, accs, &progress);
                        self.relieve(accs);
                    })
                })
            };
            let downloads = || {
                let Some(d) = remote else { return };
                d.fetched.par_bridge().for_each(|(input, body)| {
                    workers.with(new, |accs| {
                        let (counter, read) = self.counter(&progress);
                        // a whole object holds its download slot until it is decoded
                        let (opened, _hold) = open_download(body, self.spool, counter);
                        self.ingest(&input, opened, &read, accs, &progress);
                        self.relieve(accs);
                    })
                })
            };
            rayon::join(local, downloads);
            let started = std::time::Instant::now();
            // merged pairwise on the pool (as many sets as threads: a tree, not a chain)
            let all = (workers.into_all().into_par_iter().reduce_with(merge)).unwrap_or_else(new);
            crate::pipeline::timing("merging the threads' accumulators (pairwise)", started);
            all
        };
        let accs = match self.threads {
            Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
                Ok(pool) => pool.install(work),
                Err(_) => work(),
            },
            None => work(),
        };
        progress.finish();
        let mut accs = accs.0;
        accs.iter_mut().for_each(Accumulator::settle);
        accs
    }

    /// Spill each accumulator whose ENI table has grown past this worker's share of its
    /// target's budget.
    fn relieve(&self, accs: &mut Accs) {
        for (acc, t) in accs.0.iter_mut().zip(self.targets) {
            t.relieve(acc);
        }
    }

    /// The sinks of the targets that take `input` ([`Target::takes`]), each starting from
    /// `stats`, their tables spilled as the input is read ([`SpillsAtPauses`]); `held`: where
    /// the runs go while the input's records are held apart (else they are kept at once).
    fn fan<'s>(
        &'s self,
        accs: &'s mut Accs,
        input: &Input,
        stats: &FileStats,
        region: Option<u16>,
        held: Option<&'s mut Runs>,
    ) -> Fan<'s> {
        let tag = |t: &Target| t.params.flow_logs.tag(&input.display);
        let (sinks, stores) = (accs.0.iter_mut().zip(self.targets).enumerate())
            .filter(|(_, (_, t))| t.takes(input))
            .map(|(i, (acc, t))| {
                let sink =
                    (acc.file(self.ranges, t.params, stats.clone(), region)).of_flow_log(tag(t));
                (sink, t.spill.map(|s| (i, s)))
            })
            .unzip();
        Fan {
            sinks,
            spills: SpillsAtPauses { stores, held },
        }
    }

    /// A progress callback for raw bytes read, and the running count it keeps.
    fn counter(&self, progress: &Progress) -> (impl FnMut(u64) + Send + 'static, Arc<AtomicU64>) {
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let bar = progress.bar.clone();
        (
            move |n| {
                counter.fetch_add(n, Ordering::Relaxed);
                bar.inc(n);
            },
            read,
        )
    }

    /// Decode one opened input into the accumulators of the targets that take it.
    fn ingest(
        &self,
        input: &Input,
        opened: std::io::Result<Opened>,
        read: &AtomicU64,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        let region = input
            .region_hint()
            .and_then(|r| self.ranges.region_id(r))
            .or(self.default_region);
        let mut stats = FileStats {
            path: input.display.clone(),
            size: input.size,
            etag: input.etag.clone(),
            ..Default::default()
        };
        if let Ok(Opened::Own(kind)) = opened {
            if input.location == Location::Stdin {
                stats.size = read.load(Ordering::Relaxed);
            }
            self.record_own(input, stats, kind, accs);
            progress.file_done();
            return;
        }
        // (one worker reads a large input whole, its tables spilled at the reader's pauses:
        // `Engine::fan`)
        let split_at = |size: u64| {
            size >= self.chunk as u64 * SPLIT_FACTOR && rayon::current_num_threads() > 1
        };
        let split = split_at(input.size);
        // A whole input in memory is read like a stream where it must be split.
        let opened = match opened {
            Ok(Opened::Memory(m, enc)) if split => Ok(Opened::Text(Box::new(m), enc)),
            other => other,
        };
        if let Ok(Opened::Text(_, _)) = &opened {
            // (a layout change mid-file reads it again from its start)
            if split && self.can_read_again(input) {
                let Ok(Opened::Text(reader, enc)) = opened else {
                    unreachable!("matched above")
                };
                return self.ingest_split(input, reader, enc, stats, region, accs, progress);
            }
        }
        let unread = Unread {
            stats,
            region,
            read,
        };
        // (a Parquet stream is judged by what arrived: standard input's size is known only then)
        match opened {
            Ok(Opened::ParquetFile(f)) if split_at(input.size.max(f.len())) => {
                let size = positional_bytes(input);
                self.ingest_parquet(input, f, Opened::ParquetFile, size, unread, accs, progress)
            }
            Ok(Opened::ParquetBytes(b)) if split_at(input.size.max(b.len())) => {
                self.ingest_parquet(input, b, Opened::ParquetBytes, 0, unread, accs, progress)
            }
            opened => self.decode_whole(input, opened, &unread, accs, progress),
        }
    }

    /// Decode an opened input in one piece ([`Engine::decode`]) and count it done.
    fn decode_whole(
        &self,
        input: &Input,
        opened: std::io::Result<Opened>,
        at: &Unread,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        self.decode(input, opened, &at.stats, at.region, at.read, accs, progress);
        progress.file_done();
    }

    /// Read a large Parquet input a part a worker (consecutive row groups holding about
    /// [`Engine::chunk`] bytes of the columns read), as a split text input is read: each
    /// part's records in accumulators of their own, their tables spilled as they grow, the
    /// parts' line accounting added up in file order. Where the file has no row group, fails
    /// before its first row, or any part fails, it is decoded in one piece (`whole`
    /// makes it an opened input again), so that what is counted and said of a broken file is
    /// what reading it whole gives. `progress_bytes`: the input's bytes the progress bar
    /// counts once it is read (a local file's; a download counts its own).
    #[allow(clippy::too_many_arguments)]
    fn ingest_parquet<T: parquet::ChunkSource + Clone + Send + Sync + 'static>(
        &self,
        input: &Input,
        src: T,
        whole: fn(T) -> Opened,
        progress_bytes: u64,
        at: Unread,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        let flows = crate::account::samples_flows(&input.display);
        let prepared = parquet::prepare(&src, self.layout.keep, flows, |_| {}).ok();
        let planned = prepared.map(|file| {
            let parts = file.parts(Some(self.chunk as u64));
            (file, parts)
        });
        // (a file of one part is read through the same path, on this worker: prepared once)
        let Some((file, groups)) = planned.filter(|(_, parts)| !parts.is_empty()) else {
            return self.decode_whole(input, Ok(whole(src)), &at, accs, progress);
        };
        // (the input's name: its sample of lines names it, as the whole input's would)
        let part_stats = FileStats {
            path: input.display.clone(),
            ..FileStats::default()
        };
        // (a part spills at the reader's pauses too: a file of one large row group is one
        // part; its runs are kept or dropped with the file's)
        let read = |a: &mut Accs, runs: &mut Runs, index: usize, part: parquet::Part| {
            let mut sink = self.fan(a, input, &part_stats, at.region, Some(runs));
            let parts = std::slice::from_ref(&part);
            let (rows, failed) = match parquet::decode_parts(src.clone(), &file, parts, &mut sink) {
                Ok(rows) => (rows, false),
                Err((rows, _)) => (rows, true),
            };
            ChunkInfo::of(index, rows, failed, sink)
        };
        let (part, mut infos, runs) =
            self.fold_parts(groups.into_iter().enumerate().par_bridge(), read);
        if infos.iter().any(|i| i.again) {
            self.discard_runs(runs);
            drop(part);
            return self.decode_whole(input, Ok(whole(src)), &at, accs, progress);
        }
        infos.sort_by_key(|i| i.index);
        let mut stats = FileStats {
            format: Some(Encoding::Parquet),
            ..at.stats
        };
        if input.location == Location::Stdin {
            stats.size = at.read.load(Ordering::Relaxed);
        }
        let taking = self.taking(input);
        let each = (0..taking.len()).map(|k| stitched(stats.clone(), &infos, k, None));
        self.keep_parts(taking, each.collect(), runs, part, accs);
        progress.bar.inc(progress_bytes);
        progress.file_done();
    }

    /// Decode one opened input, in one piece, into the accumulators of the targets that take
    /// it. A gzip stream is checked only at each member's end, after its records were decoded:
    /// they go to accumulators of their own, merged in unless a member turns out damaged
    /// ([`gunzip::discredits`]), when they are dropped and what precedes the damaged member is
    /// read again where it can be ([`Engine::after_damaged_member`]).
    #[allow(clippy::too_many_arguments)]
    fn decode(
        &self,
        input: &Input,
        opened: std::io::Result<Opened>,
        stats: &FileStats,
        region: Option<u16>,
        read: &AtomicU64,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        let checked_late = matches!(opened, Ok(Opened::Text(_, Encoding::Gzip)));
        let mut staging = checked_late.then(|| Accs::new(self.targets));
        // the runs the staged records' tables spilled: kept with them, or dropped with them
        let mut staged_runs = Vec::new();
        let held = checked_late.then_some(&mut staged_runs);
        let into = staging.as_mut().unwrap_or(accs);
        let mut sink = self.fan(into, input, stats, region, held);
        let mut discredited = None;
        let error = match opened {
            Err(e) => Some(cannot_open(&e)),
            Ok(Opened::Memory(m, enc)) => {
                sink.set_format(enc);
                text::decode_slice(m.bytes(), self.layout, &mut sink);
                None
            }
            Ok(Opened::Text(reader, enc)) => {
                sink.set_format(enc);
                text::decode(reader, self.layout, &mut sink)
                    .err()
                    .map(|(line, e)| {
                        discredited = gunzip::discredited_after(&e).map(|n| (n, e.to_string()));
                        stream_stopped(enc.as_str(), line, &e)
                    })
            }
            Ok(Opened::ParquetFile(f)) => {
                sink.set_format(Encoding::Parquet);
                progress.bar.inc(positional_bytes(input));
                parquet::decode(f, self.layout.keep, &mut sink)
                    .err()
                    .map(|(rows, e)| parquet_stopped(rows, &e))
            }
            Ok(Opened::ParquetBytes(b)) => {
                sink.set_format(Encoding::Parquet);
                parquet::decode(b, self.layout.keep, &mut sink)
                    .err()
                    .map(|(rows, e)| parquet_stopped(rows, &e))
            }
            // (taken apart in `ingest`; here only if a file changed between two opens)
            Ok(Opened::Own(_)) => Some(Failure::new(
                FailureKind::Io,
                "the input changed while it was read",
            )),
        };
        if input.location == Location::Stdin {
            sink.set_size(read.load(Ordering::Relaxed));
        }
        let dropped = match (error, discredited) {
            (Some(f), Some(trusted)) if checked_late => Some((sink.take(), f, trusted)),
            (error, _) => {
                sink.finish(error);
                None
            }
        };
        match (dropped, staging) {
            (Some((stats, f, trusted)), _) => {
                self.discard_runs(staged_runs);
                self.after_damaged_member(input, stats, f, trusted, region, accs, progress)
            }
            (None, Some(staged)) => {
                self.keep_runs(staged_runs);
                accs.merge(staged)
            }
            (None, None) => {}
        }
    }

    /// A gzip stream found damaged in a member after some of its text was decoded (the
    /// records decoded dropped; `trusted`: the members before the damaged one, each checked,
    /// and what the damage said): a local file is read again up to the damaged member, so
    /// that what came before it counts, as it does where a whole input is inflated at once,
    /// and so is an S3 object, downloaded again; standard input cannot be read again, and none
    /// of its records count.
    #[allow(clippy::too_many_arguments)]
    fn after_damaged_member(
        &self,
        input: &Input,
        stats: Vec<FileStats>,
        f: Failure,
        (members, damage): (usize, String),
        region: Option<u16>,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        let again = self.can_read_again(input);
        let Some(first) = stats.first().filter(|_| members > 0 && again) else {
            return self.record_discredited(input, stats, f, accs);
        };
        let fresh = not_yet_read(first);
        let s = if members == 1 { "" } else { "s" };
        let why = Failure::new(
            f.kind,
            format!("{damage}; the {members} member{s} before it were read again and counted, none of its own records nor any after it"),
        );
        let opened = source::open_first_members(input, self.again.as_ref(), members, why.into_io());
        let unread = AtomicU64::new(0); // a file or an object: its size is known
        self.decode(input, opened, &fresh, region, &unread, accs, progress);
    }

    /// One of flowcost's own outputs found among the inputs: not read, listed with its kind
    /// in the stats of each target that takes it.
    fn record_own(&self, input: &Input, stats: FileStats, kind: OwnOutput, accs: &mut Accs) {
        let taking = (0..self.targets.len()).filter(|&t| self.targets[t].takes(input));
        for t in taking {
            accs.0[t].inputs.files.push(FileStats {
                skipped: Some(kind),
                ..stats.clone()
            });
        }
    }

    /// An input whose gzip stream was found damaged after some of its records were decoded:
    /// none of them counted (dropped with the accumulators they went to), its stats (`stats`,
    /// one per target taking it) say so, with `f`'s kind and message.
    fn record_discredited(
        &self,
        input: &Input,
        stats: Vec<FileStats>,
        f: Failure,
        accs: &mut Accs,
    ) {
        let taking = (0..self.targets.len()).filter(|&t| self.targets[t].takes(input));
        for (t, read) in taking.zip(stats) {
            let lines = read.counts.lines;
            accs.0[t].inputs.files.push(FileStats {
                counts: LineCounts::default(),
                malformed_examples: Vec::new(),
                skipdata_windows: 0,
                failure: Some(f.kind),
                error: Some(format!(
                    "{}; none of its {lines} lines were counted (a streamed gzip member is checked only at its end)",
                    f.message
                )),
                ..read
            });
        }
    }

    /// Read a large text input on one thread (reading and decompressing) while the pool
    /// parses its chunks. The layout of every chunk is the one named by the file's first line;
    /// should a later header change it, the chunks' results are dropped and the file is read
    /// again in one piece.
    #[allow(clippy::too_many_arguments)]
    fn ingest_split(
        &self,
        input: &Input,
        mut reader: Box<dyn std::io::BufRead + Send>,
        format: Encoding,
        mut stats: FileStats,
        region: Option<u16>,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        stats.format = Some(format);
        let chunk_size = self.chunk;
        let mut blocks = Blocks::default();
        let first = blocks.next(&mut reader, chunk_size);
        let layout = self.first_layout(&blocks, &first);
        let (rx, reader_thread) = read_chunks(blocks, reader, first, chunk_size);
        let (part, mut infos, runs) = self.parse_chunks(rx, input, region, &layout);
        let read_error = match reader_thread.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(std::io::Error::other("reader thread failed")),
        };
        if infos.iter().any(|i| i.again) {
            // A header mid-file changed the layout: read the file again, in one piece.
            self.discard_runs(runs);
            self.reread_whole(input, stats, region, accs, progress);
            progress.file_done();
            return;
        }
        infos.sort_by_key(|i| i.index);
        let discredited = (read_error.as_ref())
            .and_then(|e| gunzip::discredited_after(e).map(|n| (n, e.to_string())));
        let failure = read_error.map(|e| {
            let lines = infos.iter().map(|i| i.lines).sum();
            stream_stopped(format.as_str(), lines, &e)
        });
        let taking = self.taking(input);
        let each: Vec<FileStats> = (0..taking.len())
            .map(|k| stitched(stats.clone(), &infos, k, failure.as_ref()))
            .collect();
        if let (Some(trusted), Some(f)) = (discredited, failure) {
            // a member found damaged after its records were parsed: the chunks' results go
            self.discard_runs(runs);
            self.after_damaged_member(input, each, f, trusted, region, accs, progress);
            progress.file_done();
            return;
        }
        self.keep_parts(taking, each, runs, part, accs);
        progress.file_done();
    }

    /// The targets that take `input` ([`Target::takes`]), by their place.
    fn taking(&self, input: &Input) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&t| self.targets[t].takes(input))
            .collect()
    }

    /// A split input's results kept: its stats (`each`, one per target of `taking`), the
    /// runs its parts spilled, and the accumulators of its records.
    fn keep_parts(
        &self,
        taking: Vec<usize>,
        each: Vec<FileStats>,
        runs: Runs,
        part: Accs,
        accs: &mut Accs,
    ) {
        for (t, stats) in taking.into_iter().zip(each) {
            accs.0[t].inputs.files.push(stats);
        }
        self.keep_runs(runs);
        accs.merge(part);
    }

    /// Runs spilled from an input's records held apart (a split input's parts, a gzip
    /// stream's records; with their target), kept with the records.
    fn keep_runs(&self, runs: Runs) {
        for (i, run) in runs {
            if let Some(s) = self.targets[i].spill {
                s.keep(vec![run]);
            }
        }
    }

    /// The runs a split input's chunks spilled (with their target), removed: the input's
    /// results are dropped.
    fn discard_runs(&self, runs: Runs) {
        for (i, run) in runs {
            if let Some(s) = self.targets[i].spill {
                s.discard(vec![run]);
            }
        }
    }

    /// Parse a split input's chunks on the pool as they come: the accumulators of its
    /// records, each chunk's line accounting, and the runs spilled from the chunks' tables
    /// (with their target), kept only once the file is known to have one layout.
    fn parse_chunks(
        &self,
        rx: Chunks,
        input: &Input,
        region: Option<u16>,
        layout: &Layout,
    ) -> (Accs, Vec<ChunkInfo>, Runs) {
        // (the input's name: its sample of lines names it, as the whole input's would)
        let chunk_stats = FileStats {
            path: input.display.clone(),
            ..FileStats::default()
        };
        // (a chunk spills at the decoder's pauses, a block at a time; its runs are kept or
        // dropped with the input's)
        let parse = |a: &mut Accs, runs: &mut Runs, index: usize, chunk: Vec<u8>| {
            let mut sink = self.fan(a, input, &chunk_stats, region, Some(runs));
            let mut d = Decoder::new(layout);
            d.feed_in_blocks(&chunk, &mut sink);
            ChunkInfo::of(index, d.lines, d.layout_changes > 0, sink)
        };
        self.fold_parts(rx.into_iter().par_bridge(), parse)
    }

    /// Read the numbered parts of one input on the pool (`read` one part into an
    /// accumulator, and any run it spills as it reads into the runs given): the accumulators
    /// of its records, each part's report, and the runs spilled from the parts' tables (with
    /// their target), for the caller to keep or discard once the whole input is known good.
    fn fold_parts<P: Send>(
        &self,
        parts: impl ParallelIterator<Item = (usize, P)>,
        read: impl Fn(&mut Accs, &mut Runs, usize, P) -> ChunkInfo + Sync + Send,
    ) -> (Accs, Vec<ChunkInfo>, Runs) {
        let spill_over = |a: &mut Accs, runs: &mut Runs| {
            for (i, (acc, t)) in a.0.iter_mut().zip(self.targets).enumerate() {
                if let Some(store) = t.spill {
                    spill_held(store, i, acc, runs);
                }
            }
        };
        let new = || (Accs::new(self.targets), Vec::new(), Vec::new());
        parts
            .fold(new, |(mut a, mut infos, mut runs), (index, part)| {
                infos.push(read(&mut a, &mut runs, index, part));
                spill_over(&mut a, &mut runs);
                (a, infos, runs)
            })
            .reduce(new, |(mut a, mut ia, mut ra), (b, ib, rb)| {
                a.merge(b);
                ia.extend(ib);
                ra.extend(rb);
                spill_over(&mut a, &mut ra);
                (a, ia, ra)
            })
    }

    /// The first line of a split input's first block, if a header: the layout of its
    /// chunks; else the run's.
    fn first_layout(
        &self,
        blocks: &Blocks,
        first: &std::io::Result<Option<std::ops::Range<usize>>>,
    ) -> Layout {
        if let Ok(Some(r)) = first {
            let block = blocks.get(r.clone());
            let end = memchr::memchr(b'\n', block).unwrap_or(block.len());
            let mut csv = Vec::new();
            let line = match text::unwrap_csv(&block[..end], &mut csv) {
                true => &csv[..],
                false => &block[..end],
            };
            if let Ok(text::Line::Header(h)) = text::parse_line(line, self.layout) {
                // (reading the fields the run reads, as a decoder of the whole input does:
                // a bad value in another field is no malformed line in either)
                return h.projected(self.layout.keep);
            }
        }
        self.layout.clone()
    }

    /// A split input whose layout changed mid-file, read again from its start in one piece.
    fn reread_whole(
        &self,
        input: &Input,
        stats: FileStats,
        region: Option<u16>,
        accs: &mut Accs,
        progress: &Progress,
    ) {
        let fresh = not_yet_read(&stats);
        let opened = match self.open_again(input) {
            Ok(Opened::ParquetFile(_) | Opened::ParquetBytes(_) | Opened::Own(_)) => {
                Err(Failure::new(FailureKind::Io, "the input changed while it was read").into_io())
            }
            opened => opened,
        };
        // (a split input is a file or an object: its size is known)
        let unread = AtomicU64::new(0);
        self.decode(input, opened, &fresh, region, &unread, accs, progress);
    }

    /// Whether `input` can be read again from its start: a regular file, or an S3 object
    /// where the run can download objects again ([`Again`]); not standard input.
    fn can_read_again(&self, input: &Input) -> bool {
        match input.location {
            Location::S3 { .. } => self.again.is_some(),
            _ => input.rereadable(),
        }
    }

    /// `input` opened again from its start: a local file, or an S3 object downloaded again
    /// (the version listed).
    fn open_again(&self, input: &Input) -> std::io::Result<Opened> {
        match (&input.location, &self.again) {
            (Location::S3 { .. }, Some(again)) => {
                source::open_stream(Box::new(again.stream(input)), self.spool, |_| {})
            }
            _ => source::open(input, self.spool, |_| {}),
        }
    }
}

/// An input about to be read: its stats before a line is read, its region, and the bytes
/// read of it so far.
struct Unread<'r> {
    stats: FileStats,
    region: Option<u16>,
    /// The bytes read so far (the size of standard input, once read).
    read: &'r AtomicU64,
}

/// A split input's chunks, numbered, as its reader hands them over.
type Chunks = std::sync::mpsc::Receiver<(usize, Vec<u8>)>;

/// A split input's reader: a thread that cuts the stream into runs of whole lines of about
/// `chunk_size` bytes, from `first` on, each numbered, into a channel of four. On a read
/// error it sends the whole lines it holds, then ends with the error.
fn read_chunks(
    mut blocks: Blocks,
    mut reader: Box<dyn std::io::BufRead + Send>,
    first: std::io::Result<Option<std::ops::Range<usize>>>,
    chunk_size: usize,
) -> (Chunks, std::thread::JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(4);
    let reader_thread = std::thread::spawn(move || -> std::io::Result<()> {
        let mut next = first;
        let mut index = 0;
        loop {
            let r = match next {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(()),
                Err(e) => {
                    if let Some(r) = blocks.whole_lines_left() {
                        let _ = tx.send((index, blocks.get(r).to_vec()));
                    }
                    return Err(e);
                }
            };
            if tx.send((index, blocks.get(r).to_vec())).is_err() {
                return Ok(());
            }
            index += 1;
            next = blocks.next(&mut reader, chunk_size);
        }
    });
    (rx, reader_thread)
}

/// One target's stats of a split input: its chunks' counts added (`infos` in file order,
/// `k` the target's place among those taking the input), their malformed lines' examples
/// numbered from the file's start (the first [`EXAMPLES_PER_FILE`]), and the reader's
/// failure, if it stopped early.
fn stitched(
    mut stats: FileStats,
    infos: &[ChunkInfo],
    k: usize,
    failure: Option<&Failure>,
) -> FileStats {
    let mut offset = 0u64;
    for i in infos {
        let c = &i.targets[k];
        stats.counts.add(&c.counts);
        stats.skipdata_windows += c.skipdata;
        for b in &c.examples {
            if stats.malformed_examples.len() < EXAMPLES_PER_FILE {
                stats.malformed_examples.push(BadLine {
                    line: b.line + offset,
                    reason: b.reason.clone(),
                });
            }
        }
        offset += i.lines;
    }
    if let Some(f) = failure {
        stats.failure = Some(f.kind);
        stats.error = Some(f.message.clone());
    }
    stats
}

/// An input's stats before a line of it is read again: its name, size and ETag.
fn not_yet_read(stats: &FileStats) -> FileStats {
    FileStats {
        path: stats.path.clone(),
        size: stats.size,
        etag: stats.etag.clone(),
        ..Default::default()
    }
}

/// An input that could not be opened.
fn cannot_open(e: &std::io::Error) -> Failure {
    Failure::new(FailureKind::of(e), format!("cannot open: {e}"))
}

/// A text stream that stopped before its end.
fn stream_stopped(encoding: &str, line: u64, e: &std::io::Error) -> Failure {
    let at = match line {
        0 => "before its first line".to_string(),
        n => format!("after line {n}"),
    };
    Failure::new(
        FailureKind::of(e),
        format!("{encoding} stream stopped {at}: {e}"),
    )
}

/// A Parquet input that could not be decoded to its end.
fn parquet_stopped(rows: u64, e: &parquet::ParquetFailure) -> Failure {
    Failure::new(
        FailureKind::Corrupt,
        format!("parquet stopped after row {rows}: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each thread keeps one set for every input it takes; a thread that takes an input while
    /// its set is in use further up its stack gets a set of its own, kept, not lost.
    #[test]
    fn workers_keep_one_set_a_thread_and_lose_no_input() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let workers: Workers<Vec<u32>> = pool.install(|| Workers::new(2));
        pool.install(|| {
            (0..1000u32).into_par_iter().for_each(|i| {
                workers.with(Vec::new, |set| {
                    set.push(i);
                    if i % 100 == 0 {
                        // taken again on the same thread: a set of its own
                        workers.with(Vec::new, |inner| inner.push(i + 1000));
                    }
                })
            })
        });
        let sets = workers.into_all();
        let sizes: Vec<usize> = sets.iter().map(Vec::len).collect();
        let inner = sets
            .iter()
            .filter(|s| matches!(s[..], [i] if i >= 1000))
            .count();
        assert_eq!(inner, 10, "{sizes:?}");
        assert!(sets.len() - inner <= 2, "a set a thread: {sizes:?}");
        let mut all: Vec<u32> = sets.into_iter().flatten().collect();
        all.sort_unstable();
        let want: Vec<u32> = (0..1000)
            .chain((0..1000).step_by(100).map(|i| i + 1000))
            .collect();
        assert_eq!(all, want);
    }

    #[test]
    fn a_split_inputs_stats_are_its_chunks_in_file_order() {
        let bad = |line: u64| BadLine {
            line,
            reason: format!("bad {line}"),
        };
        let chunk = |index, lines, malformed: u64, examples: Vec<BadLine>| ChunkInfo {
            index,
            lines,
            again: false,
            targets: vec![ChunkCounts {
                counts: LineCounts {
                    lines,
                    malformed,
                    ..Default::default()
                },
                examples,
                skipdata: index as u64,
            }],
        };
        let infos = [
            chunk(0, 10, 2, vec![bad(2), bad(10)]),
            chunk(1, 5, 1, vec![bad(1)]),
            chunk(2, 7, 0, vec![]),
            chunk(3, 4, 1, vec![bad(4)]),
        ];
        let start = FileStats {
            path: "big.log".into(),
            ..Default::default()
        };
        let s = stitched(start.clone(), &infos, 0, None);
        assert_eq!(
            (s.counts.lines, s.counts.malformed, s.skipdata_windows),
            (26, 4, 6)
        );
        let lines: Vec<u64> = s.malformed_examples.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 10, 11, 26], "numbered from the file's start");
        assert_eq!(s.malformed_examples[2].reason, "bad 1");
        assert_eq!((s.error, s.failure), (None, None));

        // the first examples only, however many chunks have some; a reader's failure kept
        let many: Vec<ChunkInfo> = (0..EXAMPLES_PER_FILE + 3)
            .map(|i| chunk(i, 3, 1, vec![bad(3)]))
            .collect();
        let failure = Failure::new(FailureKind::CutShort, "cut short");
        let s = stitched(start, &many, 0, Some(&failure));
        assert_eq!(s.malformed_examples.len(), EXAMPLES_PER_FILE);
        assert_eq!(
            s.malformed_examples.last().unwrap().line,
            3 * EXAMPLES_PER_FILE as u64
        );
        assert_eq!(s.error.as_deref(), Some("cut short"));
        assert_eq!(s.failure, Some(FailureKind::CutShort));
    }

    /// Outside any pool (no thread index), every call gets a set of its own.
    #[test]
    fn workers_outside_a_pool_keep_each_set() {
        let workers: Workers<Vec<u32>> = Workers::new(1);
        workers.with(Vec::new, |s| s.push(1));
        workers.with(Vec::new, |s| s.push(2));
        assert_eq!(workers.into_all(), vec![vec![1], vec![2]]);
    }
}
