//! `flowcost merge`: open the partial files, refuse any that do not belong together (other
//! settings, an input read twice, overlapping time ranges), find the ip-ranges document they
//! were made with, and finish the run they are parts of: the same report one `analyze` over
//! all their inputs writes.

use std::io::IsTerminal;
use std::sync::Arc;

use crate::classify::IpRanges;
use crate::cli::MergeArgs;
use crate::cmd::analyze::{outcome, write_out};
use crate::config::{KnownTasks, RunConfig};
use crate::error::{Error, Outcome};
use crate::format::{fields, Layout};
use crate::partial::{self, Partial, RangesId};
use crate::pipeline::{self, partial_error, Config};
use crate::report::Format;

/// Run `flowcost merge`.
pub fn run(m: &MergeArgs) -> Result<Outcome, Error> {
    let mut parts = Vec::with_capacity(m.partials.len());
    for p in &m.partials {
        parts.push(Partial::open(p).map_err(|err| partial_error(p, err))?);
    }
    partial::check_compatible(&parts).map_err(Error::Usage)?;
    let cfg = config(m, &parts)?;
    let read = pipeline::read_partials(&cfg, parts)?;
    let report = pipeline::finish(&cfg, read)?;
    write_out(&report.render(cfg.format), cfg.output.as_deref())?;
    Ok(outcome(&report))
}

/// The configuration the partials were made with, their time ranges joined, and this
/// command's output flags.
fn config(m: &MergeArgs, parts: &[Partial]) -> Result<Config, Error> {
    let s = &parts[0].header.settings;
    let (since, until) = pipeline::merged_range(parts);
    let mut nat_ips = Vec::new();
    for ip in &s.nat_ips {
        nat_ips.push(ip.parse().map_err(|_| {
            Error::Usage(format!(
                "{}: a NAT address that is not one: {ip}",
                parts[0].path
            ))
        })?);
    }
    let layout = match s.fields.is_empty() {
        true => Layout::default_v2(),
        false => Layout::new(s.fields.clone()),
    }
    .projected(fields::ENGINE_FIELDS);
    let temp_dir = match &m.temp_dir {
        Some(d) if !std::path::Path::new(d).is_dir() => {
            return Err(Error::Usage(format!("--temp-dir {d}: not a directory")));
        }
        Some(d) => d.into(),
        None => std::env::temp_dir(),
    };
    Ok(Config {
        inputs: Vec::new(),
        input_notes: Vec::new(),
        s3_urls: Vec::new(),
        s3: Default::default(),
        accounts: Vec::new(),
        ranges: Arc::new(ranges_of(&s.ip_ranges, m.ip_ranges.as_deref())?),
        layout,
        run: Arc::new(RunConfig {
            nat_enis: s.nat_enis.clone(),
            nat_ips,
            since,
            until,
            pull_window: s.pull_window,
            grace: s.grace,
            top: s.top,
            client_side_estimate: s.client_side_estimate,
            flow_log_id: s.flow_log_id.clone(),
            tasks: KnownTasks::new(s.ecs_tasks.clone()),
        }),
        region: s.region.clone(),
        prices: s.prices.clone(),
        nat_price_per_gb: s.nat_price_per_gb,
        gb_unit: s.gb_unit,
        format: m.out.format.unwrap_or(Format::Table),
        output: m.out.output.clone(),
        threads: None,
        strict: s.strict,
        progress: !m.quiet && std::io::stderr().is_terminal(),
        chunk: crate::engine::CHUNK,
        shard: None,
        max_enis_in_memory: crate::spill::DEFAULT_BUDGET,
        temp_dir,
    })
}

/// The ip-ranges document with this identity: `--ip-ranges`, else a cached copy or the
/// built-in one with its syncToken, checked by SHA-256. It keeps the source the partials
/// name, so the report reads as the one run's would.
fn ranges_of(id: &RangesId, flag: Option<&str>) -> Result<IpRanges, Error> {
    let mut candidates: Vec<IpRanges> = Vec::new();
    match flag {
        Some(f) => candidates.push(crate::cmd::ip_ranges::load(f)?),
        None => {
            for (token, path) in crate::cmd::ip_ranges::cached() {
                if token.to_string() == id.sync_token {
                    if let Ok(bytes) = std::fs::read(&path) {
                        if let Ok(r) = IpRanges::parse(&bytes, &path.display().to_string()) {
                            candidates.push(r);
                        }
                    }
                }
            }
            candidates.push(IpRanges::embedded());
        }
    }
    match candidates.into_iter().find(|r| r.digest == id.sha256) {
        Some(mut r) => {
            r.source = id.source.clone();
            Ok(r)
        }
        None => Err(Error::Usage(format!(
            "the partials were made with the ip-ranges document of syncToken {} (created {}, SHA-256 {}){}: give that document with --ip-ranges",
            id.sync_token,
            id.create_date,
            id.sha256,
            match flag {
                Some(f) => format!(", and {f} is another"),
                None => ", which is neither cached here nor built in".into(),
            }
        ))),
    }
}
