//! `flowcost analyze`: validate the configuration, run the engine, finish the analysis,
//! price it and write the report.

use std::io::{IsTerminal, Write};
use std::net::IpAddr;

use std::sync::Arc;

use crate::account::{FlowLogs, Params};
use crate::analysis::{self, AnalysisError};
use crate::classify::IpRanges;
use crate::cli::AnalyzeArgs;
use crate::config::{KnownTasks, RunConfig};
use crate::cost::{self, GbUnit, PriceTable};
use crate::engine::Engine;
use crate::error::{Error, Outcome};
use crate::format::{fields, Layout};
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

/// Parse a timeout: `30`, `30s`, `500ms`, `1m`, between 1 ms and 1 hour.
pub fn parse_timeout(s: &str, flag: &str) -> Result<std::time::Duration, Error> {
    let t = s.trim();
    let d = match t.strip_suffix("ms") {
        Some(ms) => ms.parse::<u64>().ok().map(std::time::Duration::from_millis),
        None => parse_duration(t).map(|v| std::time::Duration::from_secs(v as u64)),
    };
    d.filter(|d| !d.is_zero() && *d <= std::time::Duration::from_secs(3600))
        .ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {s}: expected a duration between 1ms and 1h (e.g. 500ms, 30s, 2m)"
            ))
        })
}

/// Parse `300`, `90s`, `5m`, `1h` into seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1),
        'm' => (&s[..s.len() - 1], 60),
        'h' => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    num.parse::<i64>().ok().filter(|v| *v > 0).map(|v| v * mult)
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|err| Error::Io {
        context: format!("reading {what} {path}"),
        err,
    })
}

impl Config {
    pub fn from_args(a: &AnalyzeArgs) -> Result<Config, Error> {
        let usage = |m: String| Error::Usage(m);
        let mut nat_enis = a.nat_eni.clone();
        let mut nat_ips: Vec<IpAddr> = Vec::new();
        for ip in &a.nat_ip {
            nat_ips.push(
                ip.parse()
                    .map_err(|_| usage(format!("--nat-ip {ip}: not an IP address")))?,
            );
        }
        if let Some(f) = &a.nat_file {
            let text =
                String::from_utf8_lossy(&read(f, "--nat-file").map_err(|e| usage(e.to_string()))?)
                    .into_owned();
            for line in text.lines() {
                let item = line.split('#').next().unwrap_or("").trim();
                if item.is_empty() {
                    continue;
                }
                match item.parse::<IpAddr>() {
                    Ok(ip) => nat_ips.push(ip),
                    Err(_) if item.starts_with("eni-") => nat_enis.push(item.to_string()),
                    Err(_) => {
                        return Err(usage(format!(
                            "--nat-file {f}: `{item}` is neither an IP address nor an ENI id"
                        )))
                    }
                }
            }
        }
        let mut ecs_tasks = crate::inventory::EcsTasks::default();
        for f in &a.ecs_tasks {
            let added = ecs_tasks
                .add_json(&read(f, "--ecs-tasks").map_err(|e| usage(e.to_string()))?)
                .map_err(|e| usage(format!("--ecs-tasks {f}: {e}")))?;
            if added == 0 {
                return Err(usage(format!(
                    "--ecs-tasks {f}: no task with a private address and a start time"
                )));
            }
        }
        let ranges = crate::cmd::ip_ranges::in_use(a.ip_ranges.as_deref())?;
        if let Some(r) = &a.region {
            if ranges.region_id(r).is_none() {
                return Err(usage(format!(
                    "--region {r}: not a region in the ip-ranges data"
                )));
            }
        }
        let layout = match &a.fields {
            None => Layout::default_v2(),
            Some(spec) => {
                let names = fields::parse_field_list(spec);
                if names.is_empty() {
                    return Err(usage("--fields: no field names".into()));
                }
                Layout::new(names)
            }
        }
        .projected(fields::ENGINE_FIELDS);
        let (since, until) = match &a.month {
            Some(m) => {
                let (s, u) = time::month_range(m)
                    .ok_or_else(|| usage(format!("--month {m}: expected YYYY-MM")))?;
                (Some(s), Some(u))
            }
            None => {
                let p = |v: &Option<String>, flag: &str| -> Result<Option<i64>, Error> {
                    v.as_ref()
                        .map(|s| {
                            time::parse_instant(s).ok_or_else(|| {
                                usage(format!(
                                    "{flag} {s}: expected YYYY-MM-DD[THH:MM[:SS]] or epoch seconds"
                                ))
                            })
                        })
                        .transpose()
                };
                (p(&a.since, "--since")?, p(&a.until, "--until")?)
            }
        };
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                return Err(usage(
                    "the time range is empty: --until must be after --since".into(),
                ));
            }
        }
        let pull_window = match &a.pull_window {
            None => crate::config::DEFAULT_PULL_WINDOW,
            Some(w) => parse_duration(w).ok_or_else(|| {
                usage(format!("--pull-window {w}: expected seconds or 90s/5m/1h"))
            })?,
        };
        let prices = match &a.prices {
            None => PriceTable::embedded(),
            Some(p) => {
                serde_json::from_slice(&read(p, "--prices").map_err(|e| usage(e.to_string()))?)
                    .map_err(|e| usage(format!("--prices {p}: {e}")))?
            }
        };
        if a.nat_price_per_gb
            .is_some_and(|v| !(0.0..1000.0).contains(&v))
        {
            return Err(usage(
                "--nat-price-per-gb must be between 0 and 1000".into(),
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let max_threads = (4 * cores).max(8);
        if a.threads.is_some_and(|t| t == 0 || t > max_threads) {
            return Err(usage(format!(
                "--threads must be between 1 and {max_threads} (4 x the {cores} cores here)"
            )));
        }
        let temp_dir = match &a.temp_dir {
            Some(d) if !std::path::Path::new(d).is_dir() => {
                return Err(usage(format!("--temp-dir {d}: not a directory")));
            }
            Some(d) => d.into(),
            None => std::env::temp_dir(),
        };
        if a.inputs.is_empty() {
            return Err(usage(
                "no inputs: give files, folders, `-` or s3:// prefixes".into(),
            ));
        }
        crate::source::s3::set_verbose(a.verbose);
        if let Some(p) = &a.profile {
            if !crate::source::s3::profile_exists(p) {
                return Err(usage(format!(
                    "--profile {p}: no such profile in the AWS config or credentials file (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE)"
                )));
            }
        }
        let source::Expanded { inputs, notes } = source::expand(&a.inputs, a.follow)?;
        let mut s3_urls = Vec::new();
        for i in a.inputs.iter().filter(|i| i.starts_with("s3://")) {
            s3_urls.push(
                S3Url::parse(i)
                    .ok_or_else(|| usage(format!("{i}: expected s3://bucket[/prefix]")))?,
            );
        }
        if !(1..=1024).contains(&a.concurrency) {
            return Err(usage("--concurrency must be between 1 and 1024".into()));
        }
        if inputs
            .iter()
            .filter(|i| i.location == source::Location::Stdin)
            .count()
            > 1
        {
            return Err(usage("`-` (standard input) can be given once".into()));
        }
        Ok(Config {
            inputs,
            input_notes: notes,
            s3_urls,
            s3: S3Options {
                profile: a.profile.clone(),
                endpoint_url: a.endpoint_url.clone(),
                path_style: a.path_style,
                request_payer: a.request_payer,
                concurrency: a.concurrency,
                fallback_region: a.region.clone(),
                connect_timeout: parse_timeout(&a.connect_timeout, "--connect-timeout")?,
                read_timeout: parse_timeout(&a.read_timeout, "--read-timeout")?,
            },
            accounts: a.account.clone(),
            ranges: Arc::new(ranges),
            layout,
            run: Arc::new(RunConfig {
                nat_enis,
                nat_ips,
                since,
                until,
                pull_window,
                top: a.top,
                client_side_estimate: a.client_side_estimate,
                flow_log_id: a.flow_log_id.clone(),
                tasks: KnownTasks::new(ecs_tasks),
                ..Default::default()
            }),
            region: a.region.clone(),
            prices,
            nat_price_per_gb: a.nat_price_per_gb,
            gb_unit: a.gb_unit,
            format: a.format.unwrap_or(Format::Table),
            output: a.output.clone(),
            threads: a.threads,
            strict: a.strict,
            progress: !a.quiet && std::io::stderr().is_terminal(),
            chunk: a.chunk_size.max(4096),
            max_enis_in_memory: a.max_enis_in_memory,
            temp_dir,
        })
    }
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
pub fn report(cfg: &Config) -> Result<Report, Error> {
    let spill = Spill::new(&cfg.temp_dir, cfg.max_enis_in_memory, &cfg.run.nat_enis);
    let mut listings = Vec::new();
    let mut input_notes = cfg.input_notes.clone();
    let s3 = if cfg.s3_urls.is_empty() {
        None
    } else {
        Some(S3Source::new(cfg.s3.clone())?)
    };
    let objects = match &s3 {
        None => Vec::new(),
        Some(src) => list_objects(cfg, src, &mut listings, &mut input_notes)?,
    };
    // the flow logs the inputs come from, known once the S3 listing is
    let names = || {
        cfg.inputs
            .iter()
            .chain(&objects)
            .map(|i| i.display.as_str())
    };
    let params = Params {
        flow_logs: FlowLogs::of_inputs(names()),
        ..Params::new(cfg.run.clone())
    };
    if let Some(id) = &cfg.run.flow_log_id {
        if !names().any(|n| source::flow_log_id(n) == Some(id)) {
            input_notes.push(format!(
                "--flow-log-id {id}: no input comes from this flow log (no delivery file name holds it)"
            ));
        }
    }
    let remote = s3.as_ref().map(|src| {
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
        spill: Some(&spill),
        ranges: &cfg.ranges,
        layout: &cfg.layout,
        params: &params,
        default_region: cfg.region.as_deref().and_then(|r| cfg.ranges.region_id(r)),
        threads: cfg.threads,
        progress: cfg.progress,
        chunk: cfg.chunk,
    };
    let mut acc = engine.run(&cfg.inputs, remote);
    if let Some(why) = spill.failure() {
        eprintln!("flowcost: warning: {why}; the ENI tables stayed in memory");
    }
    if let Some(e) = s3.as_ref().and_then(|s| s.take_fatal()) {
        return Err(e.into());
    }
    if cfg.strict {
        let mut files = acc.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in &files {
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
    }
    let bytes: u64 = acc.files.iter().map(|f| f.size).sum();
    let files = acc.files.len() as u64;
    let runs = spill.runs();
    let written = spill
        .bytes_written
        .load(std::sync::atomic::Ordering::Relaxed);
    let stored = spill.finish(&mut acc).map_err(|err| Error::Io {
        context: "merging the spilled ENI tables".into(),
        err,
    })?;
    for n in &input_notes {
        eprintln!("flowcost: note: {n}");
    }
    let mut analysis =
        analysis::analyse_from(&acc, &stored, &cfg.ranges, &cfg.run).map_err(|e| match e {
            AnalysisError::NoNat {
                candidates,
                context,
            } => Error::NoNat(candidates, context),
            e @ AnalysisError::UnknownRegion { .. } => Error::Region(e.to_string()),
            AnalysisError::Spill(err) => Error::Io {
                context: "reading the spilled ENI tables back".into(),
                err,
            },
        })?;
    if (runs > 0 && cfg.progress) || std::env::var_os("FLOWCOST_SHOW_SPILL").is_some() {
        eprintln!(
            "flowcost: ENI tables spilled to disk: {runs} runs, {} (--max-enis-in-memory {})",
            crate::report::human(written),
            cfg.max_enis_in_memory
        );
    }
    stored.release();
    analysis.quality.notes.extend(input_notes);
    // the NAT's region from its records, else the flag, else the one region the inputs'
    // key paths name (a window with no record still prices at its region's rates)
    let path_regions: std::collections::BTreeSet<&str> = acc
        .files
        .iter()
        .filter_map(|f| source::region_from_key(&f.path))
        .collect();
    let path_region = match path_regions.len() {
        1 => path_regions.first().map(|r| r.to_string()),
        _ => None,
    };
    let region = analysis
        .nat_region
        .clone()
        .or_else(|| cfg.region.clone())
        .or(path_region)
        .ok_or_else(|| {
            Error::Region(
                "no region in the records or paths: pass --region to choose prices".into(),
            )
        })?;
    let cost = cost::price(
        &analysis,
        &cfg.prices,
        &region,
        cfg.nat_price_per_gb,
        cfg.gb_unit,
    )?;
    let inputs = Inputs {
        files,
        bytes,
        ip_ranges: RangesUsed {
            source: crate::report::escape::redact(&cfg.ranges.source).into_owned(),
            sync_token: cfg.ranges.sync_token.clone(),
            create_date: cfg.ranges.create_date.clone(),
        },
        since: cfg.run.since.map(time::format_instant),
        until: cfg.run.until.map(time::format_instant),
        region_flag: cfg.region.clone(),
        s3: listings,
    };
    Ok(Report::new(inputs, analysis, cost))
}

/// Tell stderr what an incomplete report missed (the report itself says it first too), and
/// the outcome for the exit code.
pub fn outcome(report: &Report) -> Outcome {
    let q = &report.analysis.quality;
    match q
        .notes
        .iter()
        .find(|n| n.starts_with("The NAT gateways given"))
    {
        Some(n) => eprintln!("flowcost: warning: {n}"),
        None => {
            for e in &q.given_nat_enis_not_seen {
                eprintln!("flowcost: warning: the NAT ENI {e} given appears in no counted record");
            }
        }
    }
    if q.lines.counted == 0 {
        eprintln!(
            "flowcost: warning: {}",
            crate::report::nothing_counted(report)
        );
    }
    if let Some(i) = &report.analysis.quality.incomplete {
        eprintln!("flowcost: {}", crate::report::incomplete_summary(i));
        eprintln!(
            "flowcost: the report was written, marked incomplete (exit {})",
            crate::error::exit::INCOMPLETE
        );
    }
    Outcome::of(report.analysis.quality.complete)
}

/// Run `flowcost analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<Outcome, Error> {
    let cfg = Config::from_args(args)?;
    let started = std::time::Instant::now();
    let report = report(&cfg)?;
    let text = report.render(cfg.format);
    match &cfg.output {
        Some(path) => std::fs::write(path, text).map_err(|err| Error::Io {
            context: format!("writing {path}"),
            err,
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).map_err(|err| Error::Io {
                context: "writing standard output".into(),
                err,
            })?;
        }
    }
    if cfg.progress {
        eprintln!(
            "flowcost: {} inputs in {:.2}s",
            cfg.inputs.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(outcome(&report))
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
