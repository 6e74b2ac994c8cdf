//! The run as a library: a validated [`Config`] in, a [`Report`] out. It lists the S3
//! inputs, runs the [`Engine`] over every input, finishes the spill store, analyses, prices
//! and describes the inputs, each a step of its own; `cmd` only turns flags into a
//! [`Config`], calls [`run`], writes the result and maps the outcome to an exit code.
//! (Notes and warnings still go to stderr from here.)

use std::sync::Arc;

use crate::account::{Accumulator, EniSource, FileStats, FlowLogs, InputStats, Params, Span};
use crate::analysis::{self, AnalysisError};
use crate::classify::IpRanges;
use crate::config::RunConfig;
use crate::cost::{self, GbUnit, PriceTable};
use crate::engine::{Engine, Target};
use crate::error::Error;
use crate::format::Layout;
use crate::partial::{self, Header, InputId, Partial, RangesId, Settings, TagMap};
use crate::report::{Format, Inputs, RangesUsed, Report};
use crate::source::s3::Listing;
use crate::source::s3::{ListFilter, S3Options, S3Source, S3Url};
use crate::source::{self, Input};
use crate::spill::{Spill, Stored};
use crate::time;

/// A validated `analyze` configuration.
#[derive(Clone)]
pub struct Config {
    pub inputs: Vec<Input>,
    /// What finding the inputs decided (duplicates read once, links not followed).
    pub input_notes: Vec<String>,
    pub s3_urls: Vec<S3Url>,
    pub s3: S3Options,
    pub accounts: Vec<String>,
    pub ranges: Arc<IpRanges>,
    pub layout: Layout,
    pub run: Arc<RunConfig>,
    pub region: Option<String>,
    pub prices: PriceTable,
    pub nat_price_per_gb: Option<f64>,
    pub gb_unit: GbUnit,
    pub format: Format,
    pub output: Option<String>,
    pub threads: Option<usize>,
    pub strict: bool,
    pub progress: bool,
    pub chunk: usize,
    /// Read only this share of the inputs (`--shard`).
    pub shard: Option<Shard>,
    /// Spill budget in ENIs (0: never) and where to spill.
    pub max_enis_in_memory: usize,
    pub temp_dir: std::path::PathBuf,
    /// The bill's NAT data processing (`--cur`), to reconcile the report with.
    pub bill: Option<Arc<crate::bill::Bill>>,
    /// Which NAT clients' timelines reading builds (set by [`with_timelines`]).
    pub timelines: Timelines,
}

impl Config {
    /// The same run over another time range (a `compare` or `report --change-at` period).
    pub fn with_period(&self, since: i64, until: i64) -> Config {
        Config {
            run: Arc::new(self.run.with_period(Some(since), Some(until))),
            ..self.clone()
        }
    }

    /// Threads the analysis walks the ENI table on: those of `-j` (every core's by default,
    /// as the engine's).
    pub fn walkers(&self) -> usize {
        self.threads.unwrap_or_else(rayon::current_num_threads)
    }
}

/// A deterministic share of the inputs (`--shard K/N`): an input belongs to shard
/// `hash(name) mod N`, by a hash that never changes between runs, machines or versions
/// (64-bit FNV-1a), so shards 0..N-1 read every input exactly once without talking.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
    /// What the run's inputs were before they were cut ([`Shard::listing_of`]): the same for
    /// every shard of one run, so that merge can tell the shards of one run from another's.
    #[serde(default)]
    pub listing: u64,
}

impl Shard {
    /// `K/N` with `0 <= K < N <= 1_000_000`.
    pub fn parse(s: &str) -> Option<Shard> {
        let (k, n) = s.split_once('/')?;
        let (k, n) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
        (k < n && n <= 1_000_000).then_some(Shard { k, n, listing: 0 })
    }

    /// Whether the input named `name` (a path below its input root, or an S3 key) is this
    /// shard's.
    pub fn takes(&self, name: &str) -> bool {
        Shard::hash(name) % self.n == self.k
    }

    /// 64-bit FNV-1a of an input's name.
    fn hash(name: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    /// A digest of the names an input list is cut by, whatever their order (a sum of each
    /// name's hash, mixed): shards of one run that listed the same inputs have the same.
    pub fn listing_of<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
        names.fold(0u64, |sum, name| {
            sum.wrapping_add(crate::format::hash_words(&[Shard::hash(name)], 0x5ead))
        })
    }
}

/// Build the report for a configuration (everything but writing it).
pub fn run(cfg: &Config) -> Result<Report, Error> {
    with_timelines(cfg, |cfg| finish(cfg, read(cfg)?))
}

/// Build the reports of several periods of one configuration's inputs (each period a
/// [`Config::with_period`] of it), reading every input once ([`read_periods`]).
pub fn run_periods(periods: &[Config]) -> Result<Vec<Report>, Error> {
    let Some(first) = periods.first() else {
        return Ok(Vec::new());
    };
    let runs: Vec<Arc<RunConfig>> = periods.iter().map(|c| c.run.clone()).collect();
    with_timelines(first, |first| {
        read_periods(first, &runs)?
            .into_iter()
            .zip(periods)
            .map(|(read, cfg)| finish(cfg, read))
            .collect()
    })
}

/// Run `f` (which reads `cfg`'s inputs and analyses them) leaving out the timelines of
/// clients that look like logged ENIs ([`crate::account::Guess`]); where the analysis finds
/// one of them NAT-only after all, say so and run it again building every timeline. The
/// answer is the same either way; the guess saves most of the clients' work and memory where
/// the tasks' own ENIs are logged. Inputs that cannot be read twice (standard input, a pipe)
/// and `FLOWCOST_TIMELINES=all` (the tests compare both) build every timeline from the start.
pub fn with_timelines<T>(
    cfg: &Config,
    f: impl Fn(&Config) -> Result<T, Error>,
) -> Result<T, Error> {
    let f = |timelines| {
        f(&Config {
            timelines,
            ..cfg.clone()
        })
    };
    let all = std::env::var("FLOWCOST_TIMELINES").is_ok_and(|v| v == "all");
    if all || !cfg.inputs.iter().all(Input::rereadable) {
        return f(Timelines::All);
    }
    match f(Timelines::Guess) {
        Err(Error::TimelineLeftOut(why)) => {
            eprintln!("flowcost: reading the inputs again: {why} (it was taken for a logged ENI's; every client's timeline is built this time)");
            f(Timelines::Again)
        }
        r => r,
    }
}

/// Which NAT clients' timelines the account stage builds ([`crate::account::Guess`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timelines {
    /// Every client's (partial files, whose merges cannot read the inputs again).
    #[default]
    All,
    /// All but those of clients that look like logged ENIs, a guess the analysis checks.
    Guess,
    /// Every client's, reading the inputs a second time after a failed guess (the notes on
    /// how the inputs were found were told the first time).
    Again,
}

/// What reading the inputs left: their statistics (in `acc`, whose ENI table has moved to
/// `stored`), the ENI table, the notes on how the inputs were found, and the S3 listings.
pub struct Accumulated {
    pub acc: Accumulator,
    pub stored: Stored,
    pub notes: Vec<String>,
    pub listings: Vec<Listing>,
    /// Spill runs made while reading, and their bytes (for a line on stderr).
    pub spill_runs: usize,
    pub spill_written: u64,
    /// [`Shard::listing_of`] the S3 objects listed, where the run is a shard.
    pub s3_listing: u64,
}

/// List the S3 inputs, read every input through the engine (checking `--strict`), and
/// finish the spill store.
pub fn read(cfg: &Config) -> Result<Accumulated, Error> {
    let mut read = read_periods(cfg, std::slice::from_ref(&cfg.run))?;
    Ok(read.pop().expect("one period, one result"))
}

/// [`read`] for several time ranges of the same inputs at once (the periods of `compare` and
/// of `report --change-at`, each a [`RunConfig`] differing only in its time range): S3 is
/// listed once over the span of them all, and each input fetched and decoded once, its
/// records handed to every period that takes the input (each with its own time filter, line
/// accounting, run budget and spill store, which gets an equal share of
/// `--max-enis-in-memory`). One [`Accumulated`] per period, in their order; they share the
/// notes and the S3 listings.
pub fn read_periods(cfg: &Config, periods: &[Arc<RunConfig>]) -> Result<Vec<Accumulated>, Error> {
    let mut notes = cfg.input_notes.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let last_end = periods.iter().filter_map(|r| r.until).max();
    notes.extend(last_end.and_then(|until| crate::time::still_arriving(until, now)));
    let mut listings = Vec::new();
    let s3 = match cfg.s3_urls.is_empty() {
        true => None,
        false => Some(S3Source::new(cfg.s3.clone())?),
    };
    let (mut objects, s3_listing) = match &s3 {
        None => (Vec::new(), 0),
        Some(src) => list_objects(cfg, src, span_of(periods), &mut listings, &mut notes)?,
    };
    // what falls between two periods is listed but read by none
    objects.retain(|o| periods.iter().any(|r| o.in_period(r.since, r.until)));
    let flow_logs = flow_logs_for(cfg, &objects, &mut notes);
    let params: Vec<Params> = periods
        .iter()
        .map(|run| Params {
            flow_logs: flow_logs.clone(),
            guess_timelines: cfg.timelines == Timelines::Guess,
            ..Params::new(run.clone())
        })
        .collect();
    let share = cfg.max_enis_in_memory.div_ceil(periods.len().max(1));
    let spills: Vec<Spill> = periods
        .iter()
        .map(|_| Spill::new(&cfg.temp_dir, share, &cfg.run.nat_enis).with_walkers(cfg.walkers()))
        .collect();
    let started = std::time::Instant::now();
    let accs = accumulate(cfg, &params, &spills, s3.as_ref(), objects)?;
    timing("reading, decoding and accumulating the inputs", started);
    if cfg.timelines != Timelines::Again {
        tell(&notes);
    }
    accs.into_iter()
        .zip(spills)
        .map(|(acc, spill)| {
            let (notes, listings) = (notes.clone(), listings.clone());
            let mut a = settle(cfg, spill, acc, notes, listings, "the spilled ENI tables")?;
            a.s3_listing = s3_listing;
            Ok(a)
        })
        .collect()
}

/// With `FLOWCOST_TIMINGS` set, how long a step took, on stderr (for benchmarks: the
/// serial share of a run).
pub(crate) fn timing(step: &str, started: std::time::Instant) {
    if std::env::var_os("FLOWCOST_TIMINGS").is_some() {
        eprintln!(
            "flowcost: timing: {step}: {:.3} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// The notes on how the inputs were found, on stderr (once however many periods share them),
/// their control characters escaped (they quote file names and keys).
fn tell(notes: &[String]) {
    for n in notes {
        eprintln!("flowcost: note: {}", crate::report::escape::clean(n));
    }
}

/// The time range that holds every period (open at an end if one of them is).
fn span_of(periods: &[Arc<RunConfig>]) -> (Option<i64>, Option<i64>) {
    let since = periods.iter().map(|r| r.since).collect::<Option<Vec<_>>>();
    let until = periods.iter().map(|r| r.until).collect::<Option<Vec<_>>>();
    (
        since.and_then(|v| v.into_iter().min()),
        until.and_then(|v| v.into_iter().max()),
    )
}

/// Check `--strict` and finish the spill store: what the analysis reads.
fn settle(
    cfg: &Config,
    spill: Spill,
    mut acc: Accumulator,
    notes: Vec<String>,
    listings: Vec<Listing>,
    tables: &str,
) -> Result<Accumulated, Error> {
    if cfg.strict {
        first_bad_input(&acc)?;
    }
    let spill_runs = spill.runs();
    let spill_written = spill
        .bytes_written
        .load(std::sync::atomic::Ordering::Relaxed);
    let started = std::time::Instant::now();
    let stored = spill.finish(&mut acc).map_err(|err| Error::Io {
        context: format!("merging {tables}"),
        err,
    })?;
    timing(
        "settling and sorting the table, merging spilled runs (serial)",
        started,
    );
    Ok(Accumulated {
        acc,
        stored,
        notes,
        listings,
        spill_runs,
        spill_written,
        s3_listing: 0,
    })
}

/// Analyse what was read, price it and describe the inputs.
pub fn finish(cfg: &Config, a: Accumulated) -> Result<Report, Error> {
    let Accumulated {
        acc,
        stored,
        notes,
        listings,
        spill_runs,
        spill_written,
        s3_listing: _,
    } = a;
    let inputs = describe_inputs(cfg, &acc, listings);
    let started = std::time::Instant::now();
    let mut analysis =
        analysis::analyse_from(&acc, &stored, &cfg.ranges, &cfg.run).map_err(analysis_error)?;
    timing("the analysis (serial)", started);
    if (spill_runs > 0 && cfg.progress) || std::env::var_os("FLOWCOST_SHOW_SPILL").is_some() {
        eprintln!(
            "flowcost: ENI tables spilled to disk: {spill_runs} runs, {} (--max-enis-in-memory {})",
            crate::report::human(spill_written),
            cfg.max_enis_in_memory
        );
    }
    stored.release();
    analysis.quality.notes.extend(notes);
    let region = pricing_region(cfg, &analysis, &acc)?;
    let cost = cost::price(
        &analysis,
        &cfg.prices,
        &region,
        cfg.nat_price_per_gb,
        cfg.gb_unit,
    )?;
    let inventory = &cfg.run.inventory;
    let plan =
        (!inventory.is_empty()).then(|| crate::plan::build(&analysis, inventory, &cost, &region));
    let reconciliation = cfg
        .bill
        .as_ref()
        .map(|b| crate::bill::reconcile(b, &analysis, &cost));
    let mut report = Report::new(inputs, analysis, cost);
    report.inventory = plan;
    report.reconciliation = reconciliation;
    Ok(report)
}

const FLOW_LOG_ID_NOTE: &str = "--flow-log-id ";

/// A note when `--flow-log-id` names a flow log no input (by these names) comes from.
fn flow_log_id_note<'a>(cfg: &Config, mut names: impl Iterator<Item = &'a str>) -> Option<String> {
    let id = cfg.run.flow_log_id.as_ref()?;
    (!names.any(|n| source::flow_log_id(n) == Some(id))).then(|| {
        format!(
            "{FLOW_LOG_ID_NOTE}{id}: no input comes from this flow log (no delivery file name holds it)"
        )
    })
}

/// The flow logs the inputs come from (known once the S3 listing is). Notes a
/// `--flow-log-id` no input comes from.
fn flow_logs_for(cfg: &Config, objects: &[Input], notes: &mut Vec<String>) -> FlowLogs {
    let names = || cfg.inputs.iter().chain(objects).map(|i| i.display.as_str());
    notes.extend(flow_log_id_note(cfg, names()));
    FlowLogs::of_inputs(names())
}

/// Read every input (local ones and the listed S3 objects) through the engine, once, into
/// an accumulator per period (`params` and `spills` in the periods' order).
fn accumulate(
    cfg: &Config,
    params: &[Params],
    spills: &[Spill],
    s3: Option<&S3Source>,
    objects: Vec<Input>,
) -> Result<Vec<Accumulator>, Error> {
    let remote = s3.map(|src| {
        let bytes = objects.iter().map(|o| o.size).sum();
        let count = objects.len() as u64;
        // a Parquet object's column chunks read, from its footer: the fields the engine
        // keeps, and the ports where its records' flows are sampled
        let keep = cfg.layout.keep;
        let plan: crate::source::s3::Plan = std::sync::Arc::new(move |input, footer| {
            let flows = crate::account::samples_flows(&input.display);
            crate::format::parquet::chunk_ranges(footer, keep, flows)
        });
        crate::source::s3::Downloads {
            fetched: src.fetch(objects, Some(plan)),
            objects: count,
            bytes,
            stats: src.stats.clone(),
        }
    });
    let targets: Vec<Target> = params
        .iter()
        .zip(spills)
        .map(|(params, spill)| Target {
            params,
            spill: Some(spill),
        })
        .collect();
    let engine = Engine {
        targets: &targets,
        ranges: &cfg.ranges,
        layout: &cfg.layout,
        default_region: cfg.region.as_deref().and_then(|r| cfg.ranges.region_id(r)),
        threads: cfg.threads,
        progress: cfg.progress,
        chunk: cfg.chunk,
        again: s3.map(S3Source::again),
        spool: &cfg.temp_dir,
    };
    let accs = engine.run(&cfg.inputs, remote);
    let failures: std::collections::BTreeSet<String> =
        spills.iter().filter_map(Spill::failure).collect();
    for why in failures {
        eprintln!("flowcost: warning: {why}; the ENI tables stayed in memory");
    }
    if let Some(e) = s3.and_then(|s| s.take_fatal()) {
        return Err(e.into());
    }
    Ok(accs)
}

/// With `--strict`: the first input (by path) that failed or had a malformed line, as an
/// error.
fn first_bad_input(acc: &Accumulator) -> Result<(), Error> {
    let mut files: Vec<FileStats> = acc.inputs.files.clone();
    files.iter_mut().for_each(FileStats::mark_lacking);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        if let Some(e) = &f.error {
            return Err(Error::Strict(format!("{}: {e}", f.path)));
        }
        if let Some(b) = f.malformed_examples.first() {
            return Err(Error::Strict(format!(
                "{}:{}: {} ({} malformed lines in this file)",
                f.path, b.line, b.reason, f.counts.malformed
            )));
        }
    }
    Ok(())
}

fn analysis_error(e: AnalysisError) -> Error {
    match e {
        AnalysisError::NoNat {
            candidates,
            context,
        } => Error::NoNat(candidates, context),
        e @ AnalysisError::UnknownRegion { .. } => Error::Region(e.to_string()),
        e @ AnalysisError::GivenNatsAbsent(_) => Error::GivenNatsAbsent(e.to_string()),
        AnalysisError::Spill(err) => Error::Io {
            context: "reading the spilled ENI tables back".into(),
            err,
        },
        e @ AnalysisError::TimelineLeftOut(_) => Error::TimelineLeftOut(e.to_string()),
    }
}

/// The region whose prices apply: the NAT's from its records, else `--region`, else the one
/// region the inputs' key paths name (a window with no record still prices at its region's
/// rates).
fn pricing_region(
    cfg: &Config,
    analysis: &analysis::Analysis,
    acc: &Accumulator,
) -> Result<String, Error> {
    let path_regions: std::collections::BTreeSet<&str> = acc
        .inputs
        .files
        .iter()
        .filter_map(|f| source::region_from_key(&f.path))
        .collect();
    let path_region = match path_regions.len() {
        1 => path_regions.first().map(|r| r.to_string()),
        _ => None,
    };
    analysis
        .nat_region
        .clone()
        .or_else(|| cfg.region.clone())
        .or(path_region)
        .ok_or_else(|| {
            Error::Region(
                "no region in the records or paths: pass --region to choose prices".into(),
            )
        })
}

/// What the report says of its inputs: how many, how big, which ip-ranges, which period.
fn describe_inputs(
    cfg: &Config,
    acc: &Accumulator,
    listings: Vec<crate::source::s3::Listing>,
) -> Inputs {
    Inputs {
        files: acc.inputs.files.len() as u64,
        bytes: acc.inputs.files.iter().map(|f| f.size).sum(),
        ip_ranges: RangesUsed {
            source: crate::report::escape::redact(&cfg.ranges.source).into_owned(),
            sync_token: cfg.ranges.sync_token.clone(),
            create_date: cfg.ranges.create_date.clone(),
        },
        since: cfg.run.since.map(time::format_instant),
        until: cfg.run.until.map(time::format_instant),
        region_flag: cfg.region.clone(),
        s3: listings,
    }
}

/// List the objects under every S3 URL of the configuration (with a spinner on a terminal),
/// dropping duplicates, and keep the shard's; `listings` gets what each listing found. The
/// objects, and [`Shard::listing_of`] those listed where the run is a shard (else 0).
fn list_objects(
    cfg: &Config,
    src: &S3Source,
    (since, until): (Option<i64>, Option<i64>),
    listings: &mut Vec<crate::source::s3::Listing>,
    notes: &mut Vec<String>,
) -> Result<(Vec<Input>, u64), Error> {
    let filter = ListFilter {
        since,
        until,
        accounts: cfg.accounts.clone(),
        regions: cfg.region.iter().cloned().collect(),
    };
    let mut objects = Vec::new();
    for url in &cfg.s3_urls {
        let bar = if cfg.progress {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let name = format!("s3://{}/{}", url.bucket, url.prefix);
        bar.set_message(format!("listing {name}"));
        let (inputs, listing) = src.list_with(url, &filter, &|n| {
            bar.set_message(format!("listing {name}: {n} objects"));
        })?;
        bar.finish_and_clear();
        if cfg.progress {
            eprintln!("flowcost: listed {name}: {} objects", inputs.len());
        }
        objects.extend(inputs);
        notes.extend(source::archives_note(
            &listing.archives,
            &format!("under {name}"),
        ));
        listings.push(listing);
    }
    source::dedup(&mut objects, notes);
    let mut listing = 0;
    if let Some(shard) = cfg.shard {
        listing = Shard::listing_of(objects.iter().map(|o| s3_key(&o.display)));
        objects.retain(|o| shard.takes(s3_key(&o.display)));
    }
    Ok((objects, listing))
}

impl Config {
    /// The settings a partial file records (and merge requires to agree).
    pub fn settings(&self) -> Settings {
        let r = &self.run;
        Settings {
            pull_window: r.pull_window,
            grace: r.grace,
            top: r.top,
            client_side_estimate: r.client_side_estimate,
            flow_log_id: r.flow_log_id.clone(),
            nat_enis: r.nat_enis.clone(),
            nat_ips: r.nat_ips.iter().map(|i| i.to_string()).collect(),
            fields: self.layout.names.clone(),
            region: self.region.clone(),
            ecs_tasks: r.tasks.ecs().clone(),
            ip_ranges: RangesId {
                sync_token: self.ranges.sync_token.clone(),
                create_date: self.ranges.create_date.clone(),
                sha256: self.ranges.digest.clone(),
                source: crate::report::escape::redact(&self.ranges.source).into_owned(),
            },
            prices: self.prices.clone(),
            nat_price_per_gb: self.nat_price_per_gb,
            gb_unit: self.gb_unit,
            strict: self.strict,
        }
    }
}

/// What a partial file's ENI table says of the time its logs cover and of its NAT gateways'
/// records, as the analysis of a merge of it alone would find them.
pub struct PartialTable {
    /// The time its ENIs' logs cover ([`crate::account::EniAgg::logged`]).
    pub logged: Span,
    /// The records of the NAT gateways named (`--nat-eni`, `--nat-file`, `--nat-ip`,
    /// `--inventory`), each
    /// flow log's records of an ENI taken together.
    pub nat: crate::analysis::NatRecords,
}

impl PartialTable {
    /// Read off the ENI table, in one scan.
    fn of(stored: &Stored, run: &RunConfig) -> std::io::Result<(u64, PartialTable)> {
        let (mut enis, mut logged) = (0u64, Span::default());
        let (mut nat, mut nat_enis, mut nat_logged) = (
            crate::analysis::NatRecords::default(),
            std::collections::BTreeSet::new(),
            Span::default(),
        );
        let given = run.nats_given();
        stored.scan(&mut |key, agg| {
            enis += 1;
            logged.merge(agg.logged());
            if !given {
                return;
            }
            let eni = crate::account::split_key(key).map_or(key, |(e, _)| e);
            if agg.has_nat_ip || run.nat_enis.iter().any(|e| e == eni) {
                if !nat_enis.contains(eni) {
                    nat_enis.insert(eni.to_string());
                }
                nat.any_accepted |= agg.records > 0;
                nat.rejected += agg.reject_records;
                nat_logged.merge(agg.logged());
            }
        })?;
        nat.gateways = nat_enis.len();
        nat.logged_seconds = nat_logged.seconds();
        Ok((enis, PartialTable { logged, nat }))
    }
}

/// Write what reading the inputs left as a partial file (`analyze --partial-out`); what its
/// ENI table says of its marks ([`PartialTable`]).
pub fn write_partial(cfg: &Config, a: Accumulated, path: &str) -> Result<PartialTable, Error> {
    let io = |err| Error::Io {
        context: format!("writing the partial file {path}"),
        err,
    };
    let (enis, table) = PartialTable::of(&a.stored, &cfg.run).map_err(io)?;
    let stats = &a.acc.inputs;
    let header = Header {
        flowcost_version: env!("CARGO_PKG_VERSION").to_string(),
        settings: cfg.settings(),
        since: cfg.run.since,
        until: cfg.run.until,
        shard: cfg.shard.map(|s| Shard {
            listing: s.listing.wrapping_add(a.s3_listing),
            ..s
        }),
        inputs: stats
            .files
            .iter()
            .map(|f| InputId {
                name: f.path.clone(),
                size: f.size,
                etag: f.etag.clone(),
            })
            .collect(),
        notes: a.notes.clone(),
        listings: a.listings.clone(),
        flow_logs: stats
            .flow_logs
            .ids()
            .iter()
            .map(|i| i.to_string())
            .collect(),
        enis,
    };
    partial::write(std::path::Path::new(path), &header, stats, |f| {
        a.stored.scan(f)
    })
    .map_err(io)?;
    a.stored.release();
    Ok(table)
}

/// The time range partials cover together: theirs, if they share one (shards of a run),
/// else from the earliest start to the latest end (days of a month).
pub fn merged_range(parts: &[Partial]) -> (Option<i64>, Option<i64>) {
    let first = parts
        .first()
        .map_or((None, None), |p| (p.header.since, p.header.until));
    if parts
        .iter()
        .all(|p| (p.header.since, p.header.until) == first)
    {
        return first;
    }
    (
        parts.iter().filter_map(|p| p.header.since).min(),
        parts.iter().filter_map(|p| p.header.until).max(),
    )
}

/// Read partial files (checked by [`partial::check_compatible`]) into what reading all
/// their inputs in one run would have left: their ENI tables become spill runs, merged
/// k-way as the analysis reads them, so memory stays bounded however many there are.
pub fn read_partials(cfg: &Config, parts: Vec<Partial>) -> Result<Accumulated, Error> {
    let names: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.header.inputs.iter().map(|i| i.name.as_str()))
        .collect();
    let global = FlowLogs::of_inputs(names.iter().copied());
    let id_note = flow_log_id_note(cfg, names.iter().copied());
    let tag_maps: Vec<TagMap> = (parts.iter())
        .map(|p| p.tag_map(&global, cfg.ranges.regions.len()))
        .collect();
    let spill = Spill::new(&cfg.temp_dir, cfg.max_enis_in_memory, &[]).with_walkers(cfg.walkers());
    let mut acc = Accumulator::new(&Params {
        flow_logs: global,
        ..Params::new(cfg.run.clone())
    });
    let (mut notes, mut listings) = (Vec::new(), Vec::new());
    let mut files = Vec::new();
    for (p, tags) in parts.into_iter().zip(&tag_maps) {
        add_new(&mut notes, &p.header.notes);
        add_new(&mut listings, &p.header.listings);
        let mut s = import(&spill, p, tags)?;
        files.append(&mut s.files);
        let fields = std::mem::take(&mut s.flow_log_fields);
        let inputs = InputStats {
            flow_logs: acc.inputs.flow_logs.clone(),
            flow_log_fields: fields,
            ..s
        };
        acc.merge(Accumulator::of_inputs(cfg.run.clone(), inputs));
    }
    acc.inputs.files = partial::combine_same_inputs(files);
    // whether any input comes from the --flow-log-id flow log is a question for all of them
    notes.retain(|n| !n.starts_with(FLOW_LOG_ID_NOTE));
    notes.extend(id_note);
    tell(&notes);
    let mut read = settle(cfg, spill, acc, notes, listings, "the partials' ENI tables")?;
    // (importing the partials is not spilling: no line on stderr for it)
    read.spill_runs = 0;
    Ok(read)
}

/// The items of `more` that `into` lacks, added in order.
fn add_new<T: PartialEq + Clone>(into: &mut Vec<T>, more: &[T]) {
    for x in more {
        if !into.contains(x) {
            into.push(x.clone());
        }
    }
}

/// A partial's ENI table imported into the spill store as a run (its flow-log tags mapped by
/// `tags`), and its inputs' statistics.
fn import(spill: &Spill, p: Partial, tags: &TagMap) -> Result<InputStats, Error> {
    let path = p.path.clone();
    let mut stats = None;
    spill
        .import(|f| {
            stats = Some(p.read_body(tags, f)?);
            Ok(())
        })
        .map_err(|err| partial_error(&path, err))?;
    Ok(stats.expect("read_body ran"))
}

/// The key of an S3 input's display name (`s3://bucket/key`).
fn s3_key(display: &str) -> &str {
    display
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .map_or(display, |(_, key)| key)
}

/// A partial file that cannot be read: missing or unreadable is a usage error (as a missing
/// input is), damaged a bad input.
pub fn partial_error(path: &str, err: std::io::Error) -> Error {
    match err.kind() {
        std::io::ErrorKind::InvalidData => Error::Partial(err.to_string()),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            Error::Usage(format!("{path}: {err}"))
        }
        _ => Error::Io {
            context: format!("reading the partial file {path}"),
            err,
        },
    }
}
