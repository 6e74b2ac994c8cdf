//! `flowcost merge`: open the partial files, refuse any that do not belong together (other
//! settings, an input read twice, overlapping time ranges), find the ip-ranges document they
//! were made with, and finish the run they are parts of: the same report one `analyze` over
//! all their inputs writes.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use crate::classify::IpRanges;
use crate::cli::{AnalyzeArgs, MergeArgs};
use crate::cmd::analyze::outcome;
use crate::config::{KnownTasks, RunConfig};
use crate::error::{Error, Outcome};
use crate::format::{fields, Layout};
use crate::partial::{self, Partial};
use crate::pipeline::{self, partial_error, Config};
use crate::report::own::OwnOutput;
use crate::report::Format;

/// Run `flowcost merge`.
pub fn run(m: &MergeArgs) -> Result<Outcome, Error> {
    let partials = partial_files(&m.partials, m.quiet)?;
    let mut parts = Vec::with_capacity(partials.len());
    for p in &partials {
        parts.push(Partial::open(p).map_err(|err| partial_error(p, err))?);
    }
    partial::check_compatible(&parts).map_err(Error::Usage)?;
    let range = pipeline::merged_range(&parts);
    let ranges = ranges_of(&parts, &m.ip_ranges)?;
    let mut cfg = config(&parts, range, ranges, m.temp_dir.as_deref(), m.quiet)?;
    cfg.format = m.out.format.unwrap_or(Format::Table);
    cfg.output = m.out.output.clone();
    let mut files = Vec::new();
    for f in &m.inventory {
        let bytes = std::fs::read(f).map_err(|err| Error::Io {
            context: format!("reading --inventory {f}"),
            err,
        })?;
        files.push((f.as_str(), bytes));
    }
    let inventory = crate::cmd::analyze::inventory_of(&files)?;
    if !inventory.is_empty() {
        let mut run = (*cfg.run).clone();
        run.inventory = Arc::new(inventory);
        cfg.run = Arc::new(run);
    }
    if !m.cur.is_empty() {
        let bill = crate::source::cur::read_bill(&m.cur, &cfg.s3)
            .map_err(|e| Error::Usage(format!("--cur: {e}")))?;
        cfg.bill = Some(Arc::new(bill));
    }
    if let Some(out) = &cfg.output {
        let reads = crate::output::Reads {
            cfgs: vec![&cfg],
            inputs: Vec::new(),
            documents: (partials.iter().chain(&m.inventory).chain(&m.ip_ranges))
                .map(String::as_str)
                .collect(),
        };
        crate::output::check("-o", Path::new(out), &reads)?;
    }
    let read = pipeline::read_partials(&cfg, parts)?;
    let report = pipeline::finish(&cfg, read)?;
    crate::output::write(&report.render(cfg.format), cfg.output.as_deref())?;
    Ok(outcome(&report))
}

/// The partial files `merge` is given: a file as it is, a folder as the partial files below
/// it ([`partials_in`]).
fn partial_files(args: &[String], quiet: bool) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        match Path::new(a).is_dir() {
            true => out.extend(partials_in(a, false, quiet)?.unwrap_or_default()),
            false => out.push(a.clone()),
        }
    }
    Ok(out)
}

/// The inputs of `report` or `compare` with each folder of partial results replaced by its
/// partial files ([`partials_in`]); other folders stay, to be read as flow logs.
pub fn with_partial_folders(a: &AnalyzeArgs) -> Result<AnalyzeArgs, Error> {
    let mut inputs = Vec::with_capacity(a.inputs.len());
    for i in &a.inputs {
        match Path::new(i).is_dir() {
            true => match partials_in(i, true, a.quiet)? {
                Some(p) => inputs.extend(p),
                None => inputs.push(i.clone()),
            },
            false => inputs.push(i.clone()),
        }
    }
    Ok(AnalyzeArgs {
        inputs,
        ..a.clone()
    })
}

/// The partial files below the folder `dir` ([`partial::folder`]), the other files there named
/// on stderr unless `quiet`. With `logs_may`, a folder that holds flow logs, or no partial, is
/// `None` (it is read as logs); without, either is refused. A file named like the partials
/// beside it (their extension) that is not one is refused: a day's partial left empty or
/// overwritten would otherwise leave its time out of the report.
fn partials_in(dir: &str, logs_may: bool, quiet: bool) -> Result<Option<Vec<String>>, Error> {
    let folder = match (partial::folder(Path::new(dir), logs_may), logs_may) {
        (Ok(f), _) => f,
        (Err(_), true) => return Ok(None),
        (Err(why), false) => {
            return Err(Error::Usage(format!(
                "{dir} is given as a folder of partial results, but {why}"
            )))
        }
    };
    match (folder.partials.is_empty(), logs_may) {
        (true, true) => return Ok(None),
        (true, false) => {
            return Err(Error::Usage(format!(
                "{dir} holds no partial result (a file written by `analyze --partial-out`)"
            )))
        }
        (false, _) => {}
    }
    let ext = |p: &str| Path::new(p).extension().map(|e| e.to_ascii_lowercase());
    let named_like = (folder.others.iter()).find(|(o, kind)| {
        let e = ext(o);
        kind.is_none() && e.is_some() && folder.partials.iter().any(|p| ext(p) == e)
    });
    if let Some((o, _)) = named_like {
        return Err(Error::Usage(format!(
            "{o} is named like the partial results beside it but is not one (empty, or not written by `analyze --partial-out`): the time it should cover would be left out; write it again, or move it out of {dir}"
        )));
    }
    note_others(dir, &folder.others, quiet);
    Ok(Some(folder.partials))
}

/// Say on stderr which files among the partial results in `dir` were not read.
fn note_others(dir: &str, others: &[(String, Option<OwnOutput>)], quiet: bool) {
    if quiet || others.is_empty() {
        return;
    }
    let named: Vec<String> = (others.iter().take(3))
        .map(|(p, kind)| match kind {
            Some(k) => format!("{p} ({})", k.describe()),
            None => p.clone(),
        })
        .collect();
    let more = match others.len() {
        n if n > named.len() => format!(" and {} more", n - named.len()),
        _ => String::new(),
    };
    eprintln!(
        "flowcost: note: {}",
        crate::report::escape::clean(&format!(
            "{} file(s) among the partial results in {dir} are not partial results, and were not read: {}{more}",
            others.len(),
            named.join(", ")
        ))
    );
}

/// Refuses inputs of `analyze` that are partial files, or folders of them: it reads logs, and
/// would count a partial's lines as malformed and what it holds as nothing, with exit 0.
pub fn refuse_partials(inputs: &[String]) -> Result<(), Error> {
    if let Some(p) = inputs.iter().find(|i| partial::is_partial_file(i)) {
        return Err(Error::Usage(format!(
            "{p} is a partial result, not a flow log: merge partials with `flowcost merge`, or give them (and only them) to `report` or `compare`"
        )));
    }
    let of_partials = |i: &&String| {
        let dir = Path::new(i.as_str());
        dir.is_dir() && partial::folder(dir, true).is_ok_and(|f| !f.partials.is_empty())
    };
    match inputs.iter().find(of_partials) {
        Some(d) => Err(Error::Usage(format!(
            "{d} holds partial results, not flow logs: merge them with `flowcost merge {d}`, or give the folder to `report` or `compare`"
        ))),
        None => Ok(()),
    }
}

/// The configuration the partials were made with, over the time range `range`, with the
/// ip-ranges document they name (`ranges`: [`ranges_of`] finds it).
pub fn config(
    parts: &[Partial],
    (since, until): (Option<i64>, Option<i64>),
    ranges: Arc<IpRanges>,
    temp_dir: Option<&str>,
    quiet: bool,
) -> Result<Config, Error> {
    let s = &parts[0].header.settings;
    let nat_ips = (s.nat_ips.iter())
        .map(|ip| {
            ip.parse().map_err(|_| {
                Error::Usage(format!(
                    "{}: a NAT address that is not one: {ip}",
                    parts[0].path
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let layout = match s.fields.is_empty() {
        true => Layout::default_v2(),
        false => Layout::new(s.fields.clone()),
    }
    .projected(fields::ENGINE_FIELDS);
    let temp_dir = crate::cmd::analyze::temp_dir_of(temp_dir)?;
    Ok(Config {
        inputs: Vec::new(),
        input_notes: Vec::new(),
        s3_urls: Vec::new(),
        s3: Default::default(),
        accounts: Vec::new(),
        ranges,
        layout,
        run: Arc::new(RunConfig {
            nat_enis: s.nat_enis.clone(),
            nat_ips,
            since,
            until,
            unread: partial::unread(parts, (since, until)),
            pull_window: s.pull_window,
            grace: s.grace,
            top: s.top,
            client_side_estimate: s.client_side_estimate,
            flow_log_id: s.flow_log_id.clone(),
            tasks: KnownTasks::new(s.ecs_tasks.clone()),
            inventory: Default::default(),
        }),
        region: s.region.clone(),
        prices: s.prices.clone(),
        nat_price_per_gb: s.nat_price_per_gb,
        gb_unit: s.gb_unit,
        format: Format::Table,
        output: None,
        threads: None,
        strict: s.strict,
        progress: !quiet && std::io::stderr().is_terminal(),
        chunk: crate::engine::CHUNK,
        shard: None,
        max_enis_in_memory: crate::spill::DEFAULT_BUDGET,
        temp_dir,
        bill: None,
        timelines: crate::pipeline::Timelines::All,
    })
}

/// The ip-ranges document the partials were made with (the first's identity: they were
/// checked to agree): one given with `--ip-ranges`, else a cached copy or the built-in one
/// with its syncToken, checked by SHA-256. It keeps the source the partials name, so the
/// report reads as the one run's would.
fn ranges_of(parts: &[Partial], flags: &[String]) -> Result<Arc<IpRanges>, Error> {
    let id = &parts[0].header.settings.ip_ranges;
    // the documents given (every one read, once a process: a bad one is an error whichever
    // side needs it), then the cached copies of its syncToken, then the built-in one, each
    // read only where none before was it: each side of a comparison finds its own
    let mut given = Vec::new();
    for f in flags {
        given.push(crate::cmd::ip_ranges::load(f)?);
    }
    let cached = (crate::cmd::ip_ranges::cached().into_iter())
        .filter(|(token, _)| token.to_string() == id.sync_token)
        .filter_map(|(_, path)| {
            let bytes = std::fs::read(&path).ok()?;
            IpRanges::parse(&bytes, &path.display().to_string()).ok()
        });
    let built_in = std::iter::once_with(IpRanges::embedded);
    let mut candidates = given.into_iter().chain(cached).chain(built_in);
    match candidates.find(|r| r.digest == id.sha256) {
        Some(mut r) => {
            r.source = id.source.clone();
            Ok(Arc::new(r))
        }
        None => Err(Error::Usage(format!(
            "the partials were made with the ip-ranges document of syncToken {} (created {}, SHA-256 {}){}: give that document with --ip-ranges (once for each document, where partials were made with several)",
            id.sync_token,
            id.create_date,
            id.sha256,
            match flags {
                [] => ", which is neither cached here nor built in".into(),
                given => format!(
                    ", which is neither {} nor cached here nor built in",
                    given.join(" nor ")
                ),
            }
        ))),
    }
}

/// Partial files given where logs are expected (`report`, `compare`): every input is one.
/// The settings then come from the partials, so flags that would change them are refused.
#[derive(Clone)]
pub struct PartialInputs {
    paths: Vec<String>,
    ip_ranges: Vec<String>,
    temp_dir: Option<String>,
    /// The VPC inventory and the bill of the command (they name, plan and reconcile; they do
    /// not change what the partials counted).
    inventory: std::sync::Arc<crate::inventory::ec2::Ec2Inventory>,
    bill: Option<std::sync::Arc<crate::bill::Bill>>,
}

impl PartialInputs {
    /// `Some` when every input of `a` is a partial file (and there is one at least).
    /// Partials among logs are refused: read as logs, their lines would count as malformed
    /// and what they hold as nothing, with exit 0.
    pub fn of(a: &AnalyzeArgs) -> Result<Option<PartialInputs>, Error> {
        let (partials, logs): (Vec<&String>, Vec<&String>) =
            a.inputs.iter().partition(|i| partial::is_partial_file(i));
        match (partials.first(), logs.first()) {
            (None, _) => return Ok(None),
            (Some(p), Some(l)) => {
                return Err(Error::Usage(format!(
                    "{p} is a partial result and {l} is not: partials and logs are not read together; write a partial of the logs (analyze --partial-out) and give partials only"
                )))
            }
            (Some(_), None) => {}
        }
        let setting = [
            ("--pull-window", a.pull_window.is_some()),
            ("--nat-eni", !a.nat_eni.is_empty()),
            ("--nat-ip", !a.nat_ip.is_empty()),
            ("--nat-file", a.nat_file.is_some()),
            ("--ecs-tasks", !a.ecs_tasks.is_empty()),
            ("--flow-log-id", a.flow_log_id.is_some()),
            ("--client-side-estimate", a.client_side_estimate),
            ("--fields", a.fields.is_some()),
            ("--region", a.region.is_some()),
            ("--prices", a.prices.is_some()),
            ("--nat-price-per-gb", a.nat_price_per_gb.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given);
        if let Some((flag, _)) = setting {
            return Err(Error::Usage(format!(
                "{flag}: the inputs are partial results, which carry the settings they were made with"
            )));
        }
        Ok(Some(PartialInputs {
            paths: a.inputs.clone(),
            ip_ranges: a.ip_ranges.clone(),
            temp_dir: a.temp_dir.clone(),
            inventory: Default::default(),
            bill: None,
        }))
    }

    /// The same partials, reported with the VPC inventory and the bill `cfg` was given.
    pub fn with_context_of(mut self, cfg: &Config) -> PartialInputs {
        self.inventory = cfg.run.inventory.clone();
        self.bill = cfg.bill.clone();
        self
    }

    /// The report of the partials inside `[since, until)` (all of them when open), over that
    /// range: what one run over their inputs and that range would report.
    pub fn report(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        quiet: bool,
    ) -> Result<crate::report::Report, Error> {
        let mut parts = Vec::new();
        for p in &self.paths {
            let part = Partial::open(p).map_err(|err| partial_error(p, err))?;
            let (s, u) = (part.header.since, part.header.until);
            let inside = since.is_none_or(|since| s.is_some_and(|s| s >= since))
                && until.is_none_or(|until| u.is_some_and(|u| u <= until));
            let outside = since.is_some_and(|since| u.is_some_and(|u| u <= since))
                || until.is_some_and(|until| s.is_some_and(|s| s >= until));
            match (inside, outside) {
                (true, _) => parts.push(part),
                (false, true) => {}
                (false, false) => {
                    return Err(Error::Usage(format!(
                        "{p} covers {} .. {}, across the period's bounds: give partials of whole days inside it",
                        s.map_or("the start".into(), crate::time::format_instant),
                        u.map_or("the end".into(), crate::time::format_instant)
                    )))
                }
            }
        }
        if parts.is_empty() {
            return Err(Error::Usage(
                "no partial file covers the period asked for".into(),
            ));
        }
        partial::check_compatible(&parts).map_err(Error::Usage)?;
        let range = match (since, until) {
            (None, None) => pipeline::merged_range(&parts),
            r => r,
        };
        let ranges = ranges_of(&parts, &self.ip_ranges)?;
        let mut cfg = config(&parts, range, ranges, self.temp_dir.as_deref(), quiet)?;
        if !self.inventory.is_empty() {
            let mut run = (*cfg.run).clone();
            run.inventory = self.inventory.clone();
            cfg.run = std::sync::Arc::new(run);
        }
        cfg.bill = self.bill.clone();
        pipeline::finish(&cfg, pipeline::read_partials(&cfg, parts)?)
    }
}
