//! The run as a library: a validated [`Config`] in, a [`Report`] out. It lists the S3
//! inputs, runs the [`Engine`] over every input, finishes the spill store, analyses, prices
//! and describes the inputs, each a step of its own; `cmd` only turns flags into a
//! [`Config`], calls [`run`], writes the result and maps the outcome to an exit code.
//! (Notes and warnings still go to stderr from here.)

use std::sync::Arc;

use crate::account::{Accumulator, FileStats, FlowLogs, Params};
use crate::analysis::{self, AnalysisError};
use crate::classify::IpRanges;
use crate::config::RunConfig;
use crate::cost::{self, GbUnit, PriceTable};
use crate::engine::Engine;
use crate::error::Error;
use crate::format::Layout;
use crate::report::{Format, Inputs, RangesUsed, Report};
use crate::source::s3::{ListFilter, S3Options, S3Source, S3Url};
use crate::source::{self, Input};
use crate::spill::Spill;
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
    /// Spill budget in ENIs (0: never) and where to spill.
    pub max_enis_in_memory: usize,
    pub temp_dir: std::path::PathBuf,
}

impl Config {
    /// The same run over another time range (a `compare` or `report --change-at` period).
    pub fn with_period(&self, since: i64, until: i64) -> Config {
        Config {
            run: Arc::new(self.run.with_period(Some(since), Some(until))),
            ..self.clone()
        }
    }
}

/// Build the report for a configuration (everything but writing it).
pub fn run(cfg: &Config) -> Result<Report, Error> {
    let mut notes = cfg.input_notes.clone();
    let mut listings = Vec::new();
    let s3 = match cfg.s3_urls.is_empty() {
        true => None,
        false => Some(S3Source::new(cfg.s3.clone())?),
    };
    let objects = match &s3 {
        None => Vec::new(),
        Some(src) => list_objects(cfg, src, &mut listings, &mut notes)?,
    };
    let params = params_for(cfg, &objects, &mut notes);
    let spill = Spill::new(&cfg.temp_dir, cfg.max_enis_in_memory, &cfg.run.nat_enis);
    let mut acc = accumulate(cfg, &params, s3.as_ref(), objects, &spill)?;
    if cfg.strict {
        first_bad_input(&acc)?;
    }
    let inputs = describe_inputs(cfg, &acc, listings);
    let runs = spill.runs();
    let written = spill
        .bytes_written
        .load(std::sync::atomic::Ordering::Relaxed);
    let stored = spill.finish(&mut acc).map_err(|err| Error::Io {
        context: "merging the spilled ENI tables".into(),
        err,
    })?;
    for n in &notes {
        eprintln!("flowcost: note: {n}");
    }
    let mut analysis =
        analysis::analyse_from(&acc, &stored, &cfg.ranges, &cfg.run).map_err(analysis_error)?;
    if (runs > 0 && cfg.progress) || std::env::var_os("FLOWCOST_SHOW_SPILL").is_some() {
        eprintln!(
            "flowcost: ENI tables spilled to disk: {runs} runs, {} (--max-enis-in-memory {})",
            crate::report::human(written),
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
    Ok(Report::new(inputs, analysis, cost))
}

/// The account stage's parameters: the run's settings, and the flow logs the inputs come
/// from (known once the S3 listing is). Notes a `--flow-log-id` no input comes from.
fn params_for(cfg: &Config, objects: &[Input], notes: &mut Vec<String>) -> Params {
    let names = || cfg.inputs.iter().chain(objects).map(|i| i.display.as_str());
    if let Some(id) = &cfg.run.flow_log_id {
        if !names().any(|n| source::flow_log_id(n) == Some(id)) {
            notes.push(format!(
                "--flow-log-id {id}: no input comes from this flow log (no delivery file name holds it)"
            ));
        }
    }
    Params {
        flow_logs: FlowLogs::of_inputs(names()),
        ..Params::new(cfg.run.clone())
    }
}

/// Read every input (local ones and the listed S3 objects) through the engine.
fn accumulate(
    cfg: &Config,
    params: &Params,
    s3: Option<&S3Source>,
    objects: Vec<Input>,
    spill: &Spill,
) -> Result<Accumulator, Error> {
    let remote = s3.map(|src| {
        let bytes = objects.iter().map(|o| o.size).sum();
        let count = objects.len() as u64;
        crate::source::s3::Downloads {
            fetched: src.fetch(objects),
            objects: count,
            bytes,
            stats: src.stats.clone(),
        }
    });
    let engine = Engine {
        spill: Some(spill),
        ranges: &cfg.ranges,
        layout: &cfg.layout,
        params,
        default_region: cfg.region.as_deref().and_then(|r| cfg.ranges.region_id(r)),
        threads: cfg.threads,
        progress: cfg.progress,
        chunk: cfg.chunk,
    };
    let acc = engine.run(&cfg.inputs, remote);
    if let Some(why) = spill.failure() {
        eprintln!("flowcost: warning: {why}; the ENI tables stayed in memory");
    }
    if let Some(e) = s3.and_then(|s| s.take_fatal()) {
        return Err(e.into());
    }
    Ok(acc)
}

/// With `--strict`: the first input (by path) that failed or had a malformed line, as an
/// error.
fn first_bad_input(acc: &Accumulator) -> Result<(), Error> {
    let mut files: Vec<&FileStats> = acc.inputs.files.iter().collect();
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
        AnalysisError::Spill(err) => Error::Io {
            context: "reading the spilled ENI tables back".into(),
            err,
        },
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
/// dropping duplicates; `listings` gets what each listing found.
fn list_objects(
    cfg: &Config,
    src: &S3Source,
    listings: &mut Vec<crate::source::s3::Listing>,
    notes: &mut Vec<String>,
) -> Result<Vec<Input>, Error> {
    let filter = ListFilter {
        since: cfg.run.since,
        until: cfg.run.until,
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
        listings.push(listing);
    }
    source::dedup(&mut objects, notes);
    Ok(objects)
}
