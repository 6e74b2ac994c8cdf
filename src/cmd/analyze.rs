//! `flowcost analyze`: validate the flags into a [`Config`] once, run the
//! [`crate::pipeline`], write the report and map the outcome to an exit code.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use crate::analysis::WarningKind;
use crate::bill::Bill;
use crate::classify::IpRanges;
use crate::cli::{AnalyzeArgs, ScaleArgs};
use crate::config::{KnownTasks, RunConfig};
use crate::cost::PriceTable;
use crate::error::{Error, Outcome};
use crate::format::{fields, Layout};
pub use crate::pipeline::Config;
use crate::pipeline::Shard;
use crate::report::{escape, incomplete_summary, repeated_summary, split_summary};
use crate::report::{Format, Report};
use crate::source;
use crate::source::s3::{S3Options, S3Url};
use crate::time;

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
    num.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .and_then(|v| v.checked_mul(mult))
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|err| Error::Io {
        context: format!("reading {what} {path}"),
        err,
    })
}

/// The VPC inventory of `--inventory` files (name and contents).
pub fn inventory_of(
    files: &[(&str, Vec<u8>)],
) -> Result<crate::inventory::ec2::Ec2Inventory, Error> {
    let mut inventory = crate::inventory::ec2::Ec2Inventory::default();
    for (f, bytes) in files {
        let added = inventory
            .add_json(bytes)
            .map_err(|e| Error::Usage(format!("--inventory {f}: {e}")))?;
        if added.total() == 0 && !bytes.trim_ascii().is_empty() {
            // every resource already given by an earlier file: harmless, but say so
            eprintln!("flowcost: note: --inventory {f} describes nothing not already given");
        }
    }
    Ok(inventory)
}

impl Config {
    /// The settings of `analyze`, each checked once: a bad flag is a usage error here, before
    /// any input is read.
    pub fn from_args(a: &AnalyzeArgs) -> Result<Config, Error> {
        let Gateways {
            nat_enis,
            nat_ips,
            inventory,
        } = Gateways::of(a)?;
        let ecs_tasks = ecs_tasks_of(a)?;
        let (ranges, listed) = ranges_and_inputs(a);
        let ranges = ranges?;
        check_region(a, &ranges)?;
        let layout = layout_of(a)?;
        let (since, until) = time_range(a)?;
        let pull_window = pull_window_of(a)?;
        let prices = prices_of(a)?;
        check_limits(a)?;
        let temp_dir = temp_dir_of(a.temp_dir.as_deref())?;
        let (source::Expanded { inputs, notes }, s3_urls) = listed?;
        let s3 = s3_options_of(a)?;
        let bill = bill_of(a, &s3)?;
        Ok(Config {
            inputs,
            input_notes: notes,
            s3_urls,
            s3,
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
                inventory: Arc::new(inventory),
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
            shard: None,
            max_enis_in_memory: a.max_enis_in_memory,
            temp_dir,
            bill,
            timelines: crate::pipeline::Timelines::All,
        })
    }
}

/// The ip-ranges document and the inputs listed, the first parsed on a thread while the
/// second are listed (each takes a few milliseconds of a run that waits for both); the
/// document's error, if any, is the first told.
fn ranges_and_inputs(a: &AnalyzeArgs) -> (Result<IpRanges, Error>, Listed) {
    std::thread::scope(|s| {
        let ranges = s.spawn(|| crate::cmd::ip_ranges::in_use(ip_ranges_flag(a)?));
        let listed = inputs_of(a);
        let ranges = ranges
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (ranges, listed)
    })
}

/// The `--ip-ranges` document the run's settings are checked against. Logs are classified
/// with one; partial results made with different documents may be given several (each is
/// read with the one it names, `merge::ranges_of`), and the first serves the checks.
fn ip_ranges_flag(a: &AnalyzeArgs) -> Result<Option<&str>, Error> {
    let partials = || (a.inputs.iter()).all(|i| crate::partial::is_partial_file(i));
    match crate::cmd::ip_ranges::one_for_logs(&a.ip_ranges) {
        Err(_) if !a.inputs.is_empty() && partials() => Ok(a.ip_ranges.first().map(String::as_str)),
        r => r,
    }
}

/// `--region`, which must be a region of the ip-ranges document.
fn check_region(a: &AnalyzeArgs, ranges: &IpRanges) -> Result<(), Error> {
    match &a.region {
        Some(r) if ranges.region_id(r).is_none() => Err(usage(format!(
            "--region {r}: not a region in the ip-ranges data"
        ))),
        _ => Ok(()),
    }
}

/// Where spilled runs go: `--temp-dir` (`flag`), which must be a folder, or the system's.
pub(crate) fn temp_dir_of(flag: Option<&str>) -> Result<std::path::PathBuf, Error> {
    match flag {
        Some(d) if !std::path::Path::new(d).is_dir() => {
            Err(usage(format!("--temp-dir {d}: not a directory")))
        }
        Some(d) => Ok(d.into()),
        None => Ok(std::env::temp_dir()),
    }
}

/// The S3 client's settings, timeouts checked.
fn s3_options_of(a: &AnalyzeArgs) -> Result<S3Options, Error> {
    Ok(S3Options {
        profile: a.profile.clone(),
        endpoint_url: a.endpoint_url.clone(),
        path_style: a.path_style,
        request_payer: a.request_payer,
        concurrency: a.concurrency,
        fallback_region: a.region.clone(),
        connect_timeout: parse_timeout(&a.connect_timeout, "--connect-timeout")?,
        read_timeout: parse_timeout(&a.read_timeout, "--read-timeout")?,
    })
}

/// The bill `--cur` names, read (from S3 too, with the run's S3 settings), if any.
fn bill_of(a: &AnalyzeArgs, s3: &S3Options) -> Result<Option<Arc<Bill>>, Error> {
    if a.cur.is_empty() {
        return Ok(None);
    }
    let bill = source::cur::read_bill(&a.cur, s3).map_err(|e| usage(format!("--cur: {e}")))?;
    Ok(Some(Arc::new(bill)))
}

fn usage(m: String) -> Error {
    Error::Usage(m)
}

/// Whether `s` has the shape of an ENI id: `eni-` and ASCII letters or digits (AWS's are 8 or
/// 17 hex digits; test data uses names). A `nat-…` gateway id, a stray comma or a space is not.
fn looks_like_eni(s: &str) -> bool {
    s.strip_prefix("eni-")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The NAT gateways the settings name: `--nat-eni`, `--nat-ip`, `--nat-file` (a list of
/// ENIs and addresses, or `describe-nat-gateways` JSON) and the `--inventory` files' NAT
/// gateways.
#[derive(Debug)]
struct Gateways {
    nat_enis: Vec<String>,
    nat_ips: Vec<IpAddr>,
    inventory: crate::inventory::ec2::Ec2Inventory,
}

impl Gateways {
    fn of(a: &AnalyzeArgs) -> Result<Gateways, Error> {
        let mut nat_enis = a.nat_eni.clone();
        if let Some(bad) = nat_enis.iter().find(|e| !looks_like_eni(e)) {
            return Err(usage(format!(
                "--nat-eni {bad}: not an ENI id (`eni-` and letters or digits, as `eni-0a1b2c3d4e5f60718`); a NAT gateway's `nat-…` id is read from --inventory or --nat-file (the JSON of `aws ec2 describe-nat-gateways`)"
            )));
        }
        let mut nat_ips: Vec<IpAddr> = Vec::new();
        for ip in &a.nat_ip {
            nat_ips.push(
                ip.parse()
                    .map_err(|_| usage(format!("--nat-ip {ip}: not an IP address")))?,
            );
        }
        let mut inventory_files: Vec<(&str, Vec<u8>)> = Vec::new();
        for f in &a.inventory {
            inventory_files.push((f, read(f, "--inventory").map_err(|e| usage(e.to_string()))?));
        }
        let nat_file = match &a.nat_file {
            Some(f) => Some((f, read(f, "--nat-file").map_err(|e| usage(e.to_string()))?)),
            None => None,
        };
        let nat_file = match nat_file {
            // JSON: the output of `aws ec2 describe-nat-gateways`
            Some((f, bytes)) if bytes.trim_ascii_start().starts_with(b"{") => {
                inventory_files.push((f, bytes));
                None
            }
            other => other,
        };
        let inventory = inventory_of(&inventory_files)?;
        nat_enis.extend(inventory.nat_enis());
        if let Some((f, bytes)) = nat_file {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for line in text.lines() {
                let item = line.split('#').next().unwrap_or("").trim();
                if item.is_empty() {
                    continue;
                }
                match item.parse::<IpAddr>() {
                    Ok(ip) => nat_ips.push(ip),
                    Err(_) if looks_like_eni(item) => nat_enis.push(item.to_string()),
                    Err(_) => {
                        return Err(usage(format!(
                            "--nat-file {f}: `{item}` is neither an IP address nor an ENI id"
                        )))
                    }
                }
            }
        }
        // each once, in the order first given
        let mut seen = std::collections::HashSet::new();
        nat_enis.retain(|e| seen.insert(e.clone()));
        let mut seen = std::collections::HashSet::new();
        nat_ips.retain(|ip| seen.insert(*ip));
        Ok(Gateways {
            nat_enis,
            nat_ips,
            inventory,
        })
    }
}

/// The ECS tasks of the `--ecs-tasks` files; a file without one usable task is refused.
fn ecs_tasks_of(a: &AnalyzeArgs) -> Result<crate::inventory::EcsTasks, Error> {
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
    Ok(ecs_tasks)
}

/// The field layout of headerless text (`--fields`, else AWS's default), projected on the
/// fields the engine reads.
fn layout_of(a: &AnalyzeArgs) -> Result<Layout, Error> {
    Ok(match &a.fields {
        None => Layout::default_v2(),
        Some(spec) => {
            let names = fields::parse_field_list(spec);
            if names.is_empty() {
                return Err(usage("--fields: no field names".into()));
            }
            Layout::new(names)
        }
    }
    .projected(fields::ENGINE_FIELDS))
}

/// The time filter: `--month`, or `--since`/`--until`; an empty range is refused.
fn time_range(a: &AnalyzeArgs) -> Result<(Option<i64>, Option<i64>), Error> {
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
                                "{flag} {s}: expected YYYY-MM-DD[THH:MM[:SS]] or epoch seconds, from 1970 to 9999"
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
    Ok((since, until))
}

/// `--pull-window`: seconds, or `90s`/`5m`/`1h`, at most a day.
fn pull_window_of(a: &AnalyzeArgs) -> Result<i64, Error> {
    match &a.pull_window {
        None => Ok(crate::config::DEFAULT_PULL_WINDOW),
        Some(w) => parse_duration(w)
            .filter(|v| *v <= crate::config::MAX_PULL_WINDOW)
            .ok_or_else(|| {
                usage(format!(
                    "--pull-window {w}: expected seconds or 90s/5m/1h, at most a day"
                ))
            }),
    }
}

/// The price table: `--prices`, else the embedded one.
fn prices_of(a: &AnalyzeArgs) -> Result<PriceTable, Error> {
    match &a.prices {
        None => Ok(PriceTable::embedded()),
        Some(p) => {
            let table: PriceTable =
                serde_json::from_slice(&read(p, "--prices").map_err(|e| usage(e.to_string()))?)
                    .map_err(|e| usage(format!("--prices {p}: {e}")))?;
            table
                .check()
                .map_err(|e| usage(format!("--prices {p}: {e}")))?;
            Ok(table)
        }
    }
}

/// The numeric settings' bounds: `--nat-price-per-gb`, `--threads`, `--concurrency`.
fn check_limits(a: &AnalyzeArgs) -> Result<(), Error> {
    if a.nat_price_per_gb
        .is_some_and(|v| !(0.0..crate::cost::MAX_PRICE).contains(&v))
    {
        return Err(usage(format!(
            "--nat-price-per-gb must be between 0 and {}",
            crate::cost::MAX_PRICE
        )));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_threads = (4 * cores).max(8);
    if a.threads.is_some_and(|t| t == 0 || t > max_threads) {
        return Err(usage(format!(
            "--threads must be between 1 and {max_threads} (4 x the {cores} cores here)"
        )));
    }
    if !(1..=1024).contains(&a.concurrency) {
        return Err(usage("--concurrency must be between 1 and 1024".into()));
    }
    Ok(())
}

/// The inputs listed, and the S3 prefixes among them.
type Listed = Result<(source::Expanded, Vec<S3Url>), Error>;

/// The inputs named, expanded (folders walked, duplicates found), the notes of that, and
/// the S3 prefixes; the AWS profile named must exist, and `-` be given at most once.
fn inputs_of(a: &AnalyzeArgs) -> Listed {
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
    let expanded = source::expand(&a.inputs, a.follow)?;
    let mut s3_urls = Vec::new();
    for i in a.inputs.iter().filter(|i| i.starts_with("s3://")) {
        s3_urls.push(
            S3Url::parse(i).ok_or_else(|| usage(format!("{i}: expected s3://bucket[/prefix]")))?,
        );
    }
    if (expanded.inputs.iter())
        .filter(|i| i.location == source::Location::Stdin)
        .count()
        > 1
    {
        return Err(usage("`-` (standard input) can be given once".into()));
    }
    Ok((expanded, s3_urls))
}

/// Tell stderr what an incomplete report missed (the report itself says it first too), and
/// the outcome for the exit code.
pub fn outcome(report: &Report) -> Outcome {
    let q = &report.analysis.quality;
    // none of them found is a report only where nothing was counted, which the warning below
    // says with its note
    if !q.warns(WarningKind::GivenNatsNotCounted) {
        for e in &q.given_nat_enis_not_seen {
            eprintln!("flowcost: warning: the NAT ENI {e} given appears in no counted record");
        }
    }
    if q.lines.counted == 0 {
        eprintln!(
            "flowcost: warning: {}",
            crate::report::nothing_counted(report)
        );
    }
    if let Some(m) = malformed_summary(q) {
        eprintln!("flowcost: warning: {}", escape::clean_lines(m));
    }
    // (those saying why nothing was counted are in its warning above)
    for w in (q.warnings.iter()).filter(|w| !w.kind.explains_nothing_counted()) {
        eprintln!("flowcost: warning: {}", w.message);
    }
    marked(
        [
            (
                q.incomplete.as_ref().map(incomplete_summary),
                Outcome::Incomplete,
            ),
            (split_summary(&report.analysis.period), Outcome::Split),
            (q.repeated.as_ref().map(repeated_summary), Outcome::Repeated),
            (
                crate::report::uncovered_summary(&report.analysis),
                Outcome::Uncovered,
            ),
        ],
        "report",
    )
}

/// The marks of a partial result, as its merge alone would find them again: inputs not read
/// in full (or of no record), a period split by empty months (the records' span: the
/// analysis is the merge's), records read more than once; and its line counts, which
/// [`uncovered_partial`] needs once the accumulator is written.
fn partial_marks(
    acc: &crate::account::Accumulator,
    run: &RunConfig,
) -> ([(Option<String>, Outcome); 3], crate::account::LineCounts) {
    let (files, lines) = crate::analysis::files_and_lines(acc);
    let incomplete = crate::analysis::Incomplete::of(&files);
    let dated = &acc.inputs.dated;
    let period = crate::analysis::period_of(dated.first(), dated.last(), run, &acc.inputs.hours);
    let repeats = crate::analysis::Repeated::of(&acc.inputs.repeats.found());
    let marks = [
        (
            incomplete.as_ref().map(incomplete_summary),
            Outcome::Incomplete,
        ),
        (split_summary(&period), Outcome::Split),
        (repeats.as_ref().map(repeated_summary), Outcome::Repeated),
    ];
    (marks, lines)
}

/// A partial result's mark of a period whose traffic its logs show none of, as its merge
/// alone would find it: from what its ENI table says (the time its ENIs' logs cover, as the
/// analysis takes it, and its NAT gateways' records), and its `lines`.
fn uncovered_partial(
    table: &crate::pipeline::PartialTable,
    lines: &crate::account::LineCounts,
    run: &RunConfig,
) -> (Option<String>, Outcome) {
    let no_hours = std::collections::BTreeSet::new();
    let logged = &table.logged;
    let period = crate::analysis::period_of(logged.first(), logged.last(), run, &no_hours);
    (
        crate::report::uncovered_of(&period, lines, &table.nat),
        Outcome::Uncovered,
    )
}

/// The malformed lines of a run, for stderr (where an unattended run's log keeps them; the
/// report has them at its foot): how many, in how many inputs, and the first.
fn malformed_summary(q: &crate::analysis::Quality) -> Option<String> {
    let n = q.lines.malformed;
    if n == 0 {
        return None;
    }
    let bad: Vec<_> = (q.files.iter())
        .filter(|f| f.counts.malformed > 0)
        .collect();
    let first = (bad.first())
        .and_then(|f| f.malformed_examples.first().map(|b| (f, b)))
        .map(|(f, b)| format!("; the first: {}:{}: {}", f.path, b.line, b.reason))
        .unwrap_or_default();
    Some(format!(
        "{n} malformed line(s) of {} read, in {} input(s), are in no figure{first} (the data-quality section lists them; --strict makes any fatal)",
        q.lines.lines,
        bad.len()
    ))
}

/// Tell stderr the summary of each mark a written result carries (`marks`: each summary, if
/// it carries that mark), then, once, what was written and the exit code of the worst mark;
/// the outcome.
fn marked(marks: impl IntoIterator<Item = (Option<String>, Outcome)>, written: &str) -> Outcome {
    let mut worst = Outcome::Complete;
    let mut how = Vec::new();
    for (summary, mark) in marks {
        if let Some(s) = summary {
            eprintln!("flowcost: {}", escape::clean_lines(s));
            how.push(mark.describe());
            worst = worst.and(mark);
        }
    }
    if !how.is_empty() {
        eprintln!(
            "flowcost: the {written} was written, marked {} (exit {})",
            how.join(" and "),
            worst.exit_code()
        );
    }
    worst
}

/// Run `flowcost analyze`.
pub fn run(args: &AnalyzeArgs, scale: &ScaleArgs) -> Result<Outcome, Error> {
    let started = std::time::Instant::now();
    crate::cmd::merge::refuse_partials(&args.inputs)?;
    let mut cfg = Config::from_args(args)?;
    crate::pipeline::timing(
        "the settings, ip-ranges and the local inputs' list (serial)",
        started,
    );
    if let Some(s) = &scale.shard {
        let shard = Shard::parse(s).ok_or_else(|| {
            Error::Usage(format!(
                "--shard {s}: expected K/N with 0 <= K < N (shard K of N, counted from 0)"
            ))
        })?;
        let roots = &args.inputs;
        let listing = Shard::listing_of(cfg.inputs.iter().map(|i| below_root(&i.display, roots)));
        cfg.inputs
            .retain(|i| shard.takes(below_root(&i.display, roots)));
        cfg.shard = Some(Shard { listing, ..shard });
    }
    let outputs = [("--partial-out", &scale.partial_out), ("-o", &cfg.output)];
    for (flag, path) in outputs
        .into_iter()
        .filter_map(|(f, p)| Some((f, p.as_deref()?)))
    {
        crate::output::check(flag, Path::new(path), &args.reads(&cfg))?;
    }
    if let Some(path) = &scale.partial_out {
        let read = crate::pipeline::read(&cfg)?;
        let (marks, lines) = partial_marks(&read.acc, &cfg.run);
        let inputs = read.acc.inputs.files.len();
        let table = crate::pipeline::write_partial(&cfg, read, path)?;
        if !args.quiet {
            eprintln!("flowcost: wrote the partial result of {inputs} inputs to {path}");
        }
        let uncovered = uncovered_partial(&table, &lines, &cfg.run);
        return Ok(marked(
            marks.into_iter().chain([uncovered]),
            "partial result",
        ));
    }
    let started = std::time::Instant::now();
    let report = crate::pipeline::run(&cfg)?;
    let rendering = std::time::Instant::now();
    crate::output::write(&report.render(cfg.format), cfg.output.as_deref())?;
    crate::pipeline::timing("rendering and writing the report (serial)", rendering);
    if cfg.progress {
        eprintln!(
            "flowcost: {} inputs in {:.2}s",
            cfg.inputs.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(outcome(&report))
}

/// An input's name below the input it was found under (`logs/` gives `2026/09/01/x.gz` for
/// `logs/2026/09/01/x.gz`), so that machines with the data at different places shard alike;
/// the name as given for an input given itself.
fn below_root<'a>(display: &'a str, roots: &[String]) -> &'a str {
    roots
        .iter()
        .filter(|r| !r.starts_with("s3://") && r.as_str() != display)
        .filter_map(|r| {
            let rest = display.strip_prefix(r.trim_end_matches('/'))?;
            rest.strip_prefix('/').map(|rest| (r.len(), rest))
        })
        .max_by_key(|(len, _)| *len)
        .map_or(display, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The `analyze` settings of a command line (after `flowcost analyze`).
    fn args(line: &[&str]) -> AnalyzeArgs {
        let all = ["flowcost", "analyze"].iter().chain(line);
        match crate::cli::Cli::try_parse_from(all).unwrap().command {
            crate::cli::Command::Analyze(c) => c.base.with(&c.time, &c.out),
            other => panic!("{other:?}"),
        }
    }

    /// The message of a usage error.
    fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn the_time_range_is_a_month_or_since_until_and_never_empty() {
        let (s, u) = time_range(&args(&["--month", "2026-02", "x"])).unwrap();
        assert_eq!(u.unwrap() - s.unwrap(), 28 * 86_400);
        assert_eq!(time_range(&args(&["x"])).unwrap(), (None, None));
        let (s, u) = time_range(&args(&["--since", "2026-09-01", "x"])).unwrap();
        assert_eq!((s.is_some(), u), (true, None));
        let m = refused(time_range(&args(&[
            "--since",
            "2026-09-02",
            "--until",
            "2026-09-02",
            "x",
        ])));
        assert!(m.contains("time range is empty"), "{m}");
        let m = refused(time_range(&args(&["--month", "2026-13", "x"])));
        assert!(m.starts_with("--month 2026-13"), "{m}");
        let m = refused(time_range(&args(&["--until", "<script>", "x"])));
        assert!(m.starts_with("--until <script>: expected"), "{m}");
        // 2^63 either way: refused, not a period of "-0.00 days"
        let m = refused(time_range(&args(&["--since=-9223372036854775808", "x"])));
        assert!(m.ends_with("from 1970 to 9999"), "{m}");
        let m = refused(time_range(&args(&["--until", "9223372036854775807", "x"])));
        assert!(
            m.starts_with("--until 9223372036854775807: expected"),
            "{m}"
        );
        let m = refused(time_range(&args(&["--month", "0000-01", "x"])));
        assert!(m.starts_with("--month 0000-01"), "{m}");
    }

    #[test]
    fn a_price_table_with_a_price_no_region_charges_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let table = |region: &str, field: &str, value: &str| {
            let mut t: serde_json::Value = serde_json::from_str(crate::cost::EMBEDDED).unwrap();
            t["regions"][region][field] = serde_json::from_str(value).unwrap();
            let p = dir.path().join(format!("{region}-{field}-{value}.json"));
            std::fs::write(&p, t.to_string()).unwrap();
            p.display().to_string()
        };
        // as shipped, and with a price of zero (a free tier, say): priced
        let ok = table("us-east-1", "nat_per_gb", "0");
        assert_eq!(
            prices_of(&args(&["--prices", &ok, "x"])).unwrap().regions["us-east-1"].nat_per_gb,
            0.0
        );
        // below zero (a savings of minus dollars, exit 0 before), a thousand dollars a GB
        // or more (savings of $inf), in any field of any region: refused, naming it
        for (region, field, value) in [
            ("us-east-1", "nat_per_gb", "-0.045"),
            ("eu-west-1", "endpoint_per_az_hour", "1e308"),
            ("us-east-1", "cross_az_per_gb_each_way", "1000"),
        ] {
            let p = table(region, field, value);
            let m = refused(prices_of(&args(&["--prices", &p, "x"])));
            assert!(
                m.starts_with(&format!("--prices {p}: {region}: {field} is ")),
                "{m}"
            );
            assert!(m.ends_with("not a price between 0 and 1000 USD"), "{m}");
            // (as written: 1e308 not as its 309 digits)
            assert!(m.contains(&format!(" is {value}, ")), "{m}");
        }
        // a number JSON cannot hold is no table at all
        let p = dir.path().join("nan.json");
        std::fs::write(&p, crate::cost::EMBEDDED.replacen("0.045", "NaN", 1)).unwrap();
        let m = refused(prices_of(&args(&["--prices", p.to_str().unwrap(), "x"])));
        assert!(m.starts_with("--prices "), "{m}");
        assert!(crate::cost::PriceTable::embedded().check().is_ok());
    }

    #[test]
    fn numeric_settings_are_bounded() {
        assert!(check_limits(&args(&["x"])).is_ok());
        for (flag, value, says) in [
            ("--concurrency", "0", "--concurrency must be"),
            ("--concurrency", "1025", "--concurrency must be"),
            ("--threads", "0", "--threads must be"),
            ("--threads", "100000", "--threads must be"),
            ("--nat-price-per-gb", "-1", "--nat-price-per-gb must be"),
            ("--nat-price-per-gb", "NaN", "--nat-price-per-gb must be"),
            ("--nat-price-per-gb", "inf", "--nat-price-per-gb must be"),
        ] {
            let m = refused(check_limits(&args(&[&format!("{flag}={value}"), "x"])));
            assert!(m.starts_with(says), "{flag} {value}: {m}");
        }
        assert_eq!(
            pull_window_of(&args(&["--pull-window", "5m", "x"])).unwrap(),
            300
        );
        let m = refused(pull_window_of(&args(&["--pull-window", "2d", "x"])));
        assert!(m.contains("at most a day"), "{m}");
    }

    #[test]
    fn nat_gateways_come_from_flags_and_a_list_file() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("nats.txt");
        std::fs::write(
            &list,
            "# ours\neni-b  # the second\n10.0.9.9\n\neni-a\n10.0.9.9\n",
        )
        .unwrap();
        let list = list.to_str().unwrap();
        let g = Gateways::of(&args(&["--nat-eni", "eni-a", "--nat-file", list, "x"])).unwrap();
        // each once, in the order given
        assert_eq!(g.nat_enis, ["eni-a", "eni-b"]);
        assert_eq!(g.nat_ips, ["10.0.9.9".parse::<IpAddr>().unwrap()]);
        std::fs::write(dir.path().join("bad.txt"), "eni-a\nnat-0123\n").unwrap();
        let bad = dir.path().join("bad.txt");
        let m = refused(Gateways::of(&args(&[
            "--nat-file",
            bad.to_str().unwrap(),
            "x",
        ])));
        assert!(m.contains("`nat-0123` is neither"), "{m}");
        let m = refused(Gateways::of(&args(&["--nat-ip", "10.0.0.300", "x"])));
        assert!(m.starts_with("--nat-ip 10.0.0.300"), "{m}");
    }
}
