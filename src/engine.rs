//! The ingest engine: runs source → format → account over all inputs on a rayon pool, one
//! accumulator per worker, merged at the end. Shows an indicatif progress bar on stderr when
//! asked to (a terminal, not `--quiet`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::account::{Accumulator, FileStats, Params};
use crate::classify::IpRanges;
use crate::format::{parquet, text, Layout};
use crate::source::{self, Input, Location, Opened};

/// Everything the engine needs besides the inputs.
pub struct Engine<'a> {
    pub ranges: &'a IpRanges,
    pub layout: &'a Layout,
    pub params: &'a Params,
    /// Region for inputs whose records and paths do not name one (`--region`).
    pub default_region: Option<u16>,
    pub threads: Option<usize>,
    pub progress: bool,
}

struct Progress {
    bar: ProgressBar,
    files_done: AtomicU64,
    records: AtomicU64,
    files: u64,
    started: Instant,
}

impl Progress {
    fn file_done(&self, records: u64) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        let recs = self.records.fetch_add(records, Ordering::Relaxed) + records;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{done}/{} files, {recs} records, {:.0} records/s",
            self.files,
            recs as f64 / secs
        ));
    }
}

impl Engine<'_> {
    /// Read every input and return the merged accumulator.
    pub fn run(&self, inputs: &[Input]) -> Accumulator {
        let total: u64 = inputs.iter().map(|i| i.size).sum();
        let bar = if self.progress {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}  {msg}")
                .expect("valid template"),
        );
        let progress = Progress {
            bar,
            files_done: AtomicU64::new(0),
            records: AtomicU64::new(0),
            files: inputs.len() as u64,
            started: Instant::now(),
        };
        let work = || {
            inputs
                .par_iter()
                .fold(
                    || Accumulator::new(self.params),
                    |mut acc, input| {
                        self.ingest(input, &mut acc, &progress);
                        acc
                    },
                )
                .reduce(
                    || Accumulator::new(self.params),
                    |mut a, b| {
                        a.merge(b);
                        a
                    },
                )
        };
        let acc = match self.threads {
            Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
                Ok(pool) => pool.install(work),
                Err(_) => work(),
            },
            None => work(),
        };
        progress.bar.finish_and_clear();
        acc
    }

    /// Read one input into `acc`.
    fn ingest(&self, input: &Input, acc: &mut Accumulator, progress: &Progress) {
        let region = input
            .region_hint()
            .and_then(|r| self.ranges.region_id(r))
            .or(self.default_region);
        let stats = FileStats {
            path: input.display.clone(),
            size: input.size,
            ..Default::default()
        };
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let bar = progress.bar.clone();
        let mut sink = acc.file(self.ranges, self.params, stats, region);
        let error = match source::open(input, move |n| {
            counter.fetch_add(n, Ordering::Relaxed);
            bar.inc(n);
        }) {
            Err(e) => Some(format!("cannot open: {e}")),
            Ok(Opened::Text(reader, enc)) => {
                sink.stats.format = enc.name().into();
                text::decode(reader, self.layout, &mut sink)
                    .err()
                    .map(|(line, e)| {
                        format!("{} stream stopped after line {line}: {e}", enc.name())
                    })
            }
            Ok(Opened::ParquetFile(f)) => {
                sink.stats.format = "parquet".into();
                progress.bar.inc(input.size);
                parquet::decode(f, &mut sink)
                    .err()
                    .map(|(rows, e)| format!("parquet stopped after row {rows}: {e}"))
            }
            Ok(Opened::ParquetBytes(b)) => {
                sink.stats.format = "parquet".into();
                parquet::decode(b, &mut sink)
                    .err()
                    .map(|(rows, e)| format!("parquet stopped after row {rows}: {e}"))
            }
        };
        if input.location == Location::Stdin {
            sink.stats.size = read.load(Ordering::Relaxed);
        }
        let records = sink.stats.counts.lines;
        sink.finish(error);
        progress.file_done(records);
    }
}
