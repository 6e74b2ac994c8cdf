//! `flowcost compare`: two periods of one input (read once: both periods take their records
//! in one pass), or two inputs, analysed with the same options, then compared
//! (`report::compare`), with an optional exit gate for pipelines.

use std::path::Path;

use crate::cli::CompareArgs;
use crate::cmd::analyze::{self, Config};
use crate::cmd::merge::PartialInputs;
use crate::error::{Error, Outcome};
use crate::report::compare::{compare, sides_warnings, uncovered_side, Threshold};
use crate::report::Report;
use crate::time;

/// Whether an argument is meant as a period rather than a path (`A..B`, or starts like a
/// date or month and names no existing file).
fn looks_like_period(s: &str) -> bool {
    let dateish =
        s.len() >= 6 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit) && s.as_bytes()[4] == b'-';
    (s.contains("..") || dateish) && !std::path::Path::new(s).exists()
}

/// A period argument, or what is wrong with it.
fn period_or_why(s: &str, flag: &str) -> Result<(i64, i64), Error> {
    if let Some((a, b)) = s.split_once("..") {
        let bad = |x: &str| {
            Error::Usage(format!(
                "{flag} {s}: `{x}` is not a date or instant (YYYY-MM-DD[THH:MM[:SS]], a real day of its month)"
            ))
        };
        time::parse_instant(a.trim()).ok_or_else(|| bad(a.trim()))?;
        time::parse_instant(b.trim()).ok_or_else(|| bad(b.trim()))?;
        return parse_period(s).ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {s}: the range ends before it starts (the end day is included)"
            ))
        });
    }
    parse_period(s).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} {s}: expected a month YYYY-MM or a range A..B (YYYY-MM-DD, end day included)"
        ))
    })
}

/// Parse `A..B` (B's day included when it is a date), or a month `YYYY-MM`.
pub fn parse_period(s: &str) -> Option<(i64, i64)> {
    if let Some((a, b)) = s.split_once("..") {
        let from = time::parse_instant(a.trim())?;
        let b = b.trim();
        let date_only = b.len() == 10 && b.as_bytes()[4] == b'-';
        let to = time::parse_instant(b)? + if date_only { 86_400 } else { 0 };
        return (to > from).then_some((from, to));
    }
    time::month_range(s)
}

/// One side of a comparison made of its own inputs: its configuration, and its partial
/// results when those are its inputs.
struct Side {
    cfg: Config,
    partials: Option<PartialInputs>,
}

impl Side {
    fn of(args: &crate::cli::AnalyzeArgs) -> Result<Side, Error> {
        let args = &crate::cmd::merge::with_partial_folders(args)?;
        let cfg = Config::from_args(args)?;
        Ok(Side {
            partials: PartialInputs::of(args)?.map(|p| p.with_context_of(&cfg)),
            cfg,
        })
    }

    fn report(&self) -> Result<Report, Error> {
        match &self.partials {
            Some(p) => p.report(self.cfg.run.since, self.cfg.run.until, true),
            None => crate::pipeline::run(&self.cfg),
        }
    }
}

/// What is compared: two periods of the same inputs (read once, both periods taking their
/// records in the same pass), or two sets of inputs.
enum Sides {
    Periods {
        before: Config,
        after: Config,
        partials: Option<PartialInputs>,
    },
    Sets(Side, Side),
}

impl Sides {
    /// The configuration the output settings come from.
    fn after(&self) -> &Config {
        match self {
            Sides::Periods { after, .. } => after,
            Sides::Sets(_, a) => &a.cfg,
        }
    }

    /// The configurations of both sides.
    fn configs(&self) -> [&Config; 2] {
        match self {
            Sides::Periods { before, after, .. } => [before, after],
            Sides::Sets(b, a) => [&b.cfg, &a.cfg],
        }
    }

    /// The reports of both sides.
    fn reports(&self) -> Result<(Report, Report), Error> {
        match self {
            Sides::Periods {
                before,
                after,
                partials: Some(p),
            } => {
                let of = |c: &Config| p.report(c.run.since, c.run.until, true);
                Ok((of(before)?, of(after)?))
            }
            Sides::Periods {
                before,
                after,
                partials: None,
            } => {
                let mut two = crate::pipeline::run_periods(&[before.clone(), after.clone()])?;
                let after = two.pop().expect("two periods");
                let before = two.pop().expect("two periods");
                Ok((before, after))
            }
            Sides::Sets(b, a) => Ok((b.report()?, a.report()?)),
        }
    }
}

/// What `--before` or `--after` gives: a period first, perhaps, then inputs.
type Given = (Option<(i64, i64)>, Vec<String>);

/// `--before`'s or `--after`'s values (`flag`) read: a period where the first looks like one,
/// and the inputs.
fn given(v: &[String], flag: &str) -> Result<Given, Error> {
    Ok(match v.split_first() {
        Some((first, rest)) if looks_like_period(first) => {
            (Some(period_or_why(first, flag)?), rest.to_vec())
        }
        Some(_) => (None, v.to_vec()),
        None => (None, Vec::new()),
    })
}

/// A warning (not an error) where the two periods overlap: the comparison mixes them.
fn warn_if_overlapping((bf, bt): (i64, i64), (af, at): (i64, i64)) {
    if bf < at && af < bt {
        eprintln!(
            "flowcost: warning: the before and after periods overlap ({} .. {} and {} .. {}): the comparison mixes the two",
            time::format_instant(bf),
            time::format_instant(bt),
            time::format_instant(af),
            time::format_instant(at)
        );
    }
}

/// The configurations of both sides. `--before`/`--after` take either one period each
/// (the inputs then follow, anywhere on the line; clap hands trailing ones to `--after`) or
/// the inputs of each side.
fn sides(c: &CompareArgs) -> Result<Sides, Error> {
    let (pb, xb) = given(&c.before, "--before")?;
    let (pa, xa) = given(&c.after, "--after")?;
    match (pb, pa) {
        (Some(before), Some(after)) => {
            warn_if_overlapping(before, after);
            periods(c, before, after, [xb, xa].concat())
        }
        (None, None) => sets(c, xb, xa),
        _ => Err(Error::Usage(
            "give periods to both --before and --after, or inputs to both".into(),
        )),
    }
}

/// Two periods of one set of inputs: those given without a flag and those after the periods.
fn periods(
    c: &CompareArgs,
    (bf, bt): (i64, i64),
    (af, at): (i64, i64),
    after_periods: Vec<String>,
) -> Result<Sides, Error> {
    let inputs = [c.base.inputs.clone(), after_periods].concat();
    if inputs.is_empty() {
        return Err(Error::Usage(
            "--before and --after are periods: give the inputs too".into(),
        ));
    }
    let mut args = c.base.with(&Default::default(), &c.out);
    args.inputs = inputs;
    let args = crate::cmd::merge::with_partial_folders(&args)?;
    let cfg = Config::from_args(&args)?;
    Ok(Sides::Periods {
        before: cfg.with_period(bf, bt),
        after: cfg.with_period(af, at),
        partials: PartialInputs::of(&args)?.map(|p| p.with_context_of(&cfg)),
    })
}

/// Two sets of inputs, one a side; they may share none.
fn sets(c: &CompareArgs, before: Vec<String>, after: Vec<String>) -> Result<Sides, Error> {
    if !c.base.inputs.is_empty() {
        return Err(Error::Usage(
            "--before and --after name the inputs of each side: give no other inputs".into(),
        ));
    }
    let base = c.base.with(&Default::default(), &c.out);
    let (mut b, mut a) = (base.clone(), base);
    b.inputs = before;
    a.inputs = after;
    let (b, a) = (Side::of(&b)?, Side::of(&a)?);
    let shared = shared_between(&b.cfg, &a.cfg);
    if let Some(first) = shared.first() {
        return Err(Error::Usage(format!(
            "the before and after inputs share {} input(s) ({first}{}): their records would count on both sides; give each side its own inputs, or the inputs once with a period to each of --before and --after",
            shared.len(),
            if shared.len() > 1 { ", …" } else { "" }
        )));
    }
    Ok(Sides::Sets(b, a))
}

/// The inputs two sides' configurations share: the same files, and S3 prefixes one inside
/// the other (they are listed later, so they share their objects).
fn shared_between(b: &Config, a: &Config) -> Vec<String> {
    let mut shared = crate::source::shared_inputs(&b.inputs, &a.inputs);
    for (x, y) in (b.s3_urls.iter()).flat_map(|x| a.s3_urls.iter().map(move |y| (x, y))) {
        if x.bucket == y.bucket
            && (x.prefix.starts_with(&y.prefix) || y.prefix.starts_with(&x.prefix))
        {
            shared.push(format!("s3://{}/{}", y.bucket, y.prefix));
        }
    }
    shared
}

/// Run `flowcost compare`.
pub fn run(c: &CompareArgs) -> Result<Outcome, Error> {
    let gate = match &c.fail_if_s3_via_nat_above {
        None => None,
        Some(s) => Some((s.as_str(), Threshold::parse(s).ok_or_else(|| Error::Usage(format!("--fail-if-s3-via-nat-above {s}: expected bytes per day (5GiB) or a percentage (5%)")))?)),
    };
    let sides = sides(c)?;
    if let Some(out) = &sides.after().output {
        let [before, after] = sides.configs();
        let mut reads = c.base.reads(before);
        reads.cfgs.push(after);
        (reads.inputs).extend(c.before.iter().chain(&c.after).map(String::as_str));
        crate::output::check("-o", Path::new(out), &reads)?;
    }
    let after_cfg = sides.after().clone();
    let (before, after) = sides.reports()?;
    for w in sides_warnings(&before, &after) {
        eprintln!("flowcost: warning: {w}");
    }
    if let Some(why) = uncovered_side(&before, &after) {
        return Err(Error::Uncovered(why));
    }
    let outcome = analyze::outcome(&before).and(analyze::outcome(&after));
    let cmp = compare(before, after, gate, c.base.top);
    crate::output::write(&cmp.render(after_cfg.format), after_cfg.output.as_deref())?;
    match &cmp.gate {
        Some(g) if g.failed => Err(Error::Gate(format!(
            "S3 still crossing the NAT after the change: {:.0} B/day, above the limit of {:.0} B/day (--fail-if-s3-via-nat-above {})",
            g.s3_left_per_day, g.limit_bytes_per_day, g.threshold
        ))),
        _ => Ok(outcome),
    }
}
