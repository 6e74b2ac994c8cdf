//! The error type of the command line, and its exit codes (documented in the README).

use crate::analysis::{Candidate, NoNatContext};

/// Exit codes.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Unexpected failure (writing the output, ...).
    pub const FAILURE: i32 = 1;
    /// Usage or configuration error: bad flag value, unreadable --ip-ranges/--prices file,
    /// missing input, region needed.
    pub const USAGE: i32 = 2;
    /// The NAT gateway ENIs could not be identified (candidates are listed), or the records
    /// refute those named ([`crate::analysis::GivenAbsent`]: absent, or found without any
    /// translation, while ENIs not named translate).
    pub const NO_NAT: i32 = 3;
    /// `--strict` and some input was malformed, truncated or unreadable.
    pub const BAD_INPUT: i32 = 4;
    /// The inputs could not be reached: S3 access denied, bucket missing, endpoint down; or
    /// inputs could not be read in full and what was read gives nothing to report.
    pub const UNREACHABLE: i32 = 5;
    /// `compare --fail-if-s3-via-nat-above`: the S3 bytes left on the NAT exceed the gate.
    pub const GATE: i32 = 6;
    /// The result was written, but some input could not be read in full (a failed S3
    /// object, a truncated file): every figure is a lower bound.
    pub const INCOMPLETE: i32 = 7;
    /// The result was written, but the inputs hold some records more than once (two
    /// overlapping exports, say): every figure may be too high.
    pub const REPEATED: i32 = 8;
    /// The result was written, but the records fall into stretches of time far apart (a
    /// record with wrong times, logs of months apart given together): per-day and
    /// per-30-day figures divide by the empty time between them too.
    pub const SPLIT: i32 = 9;
    /// The result was written, but its logs cover none of its period (no record in it is
    /// dated: the NAT gateways named and no log of the period given, say): every figure is
    /// unknown, not zero.
    pub const UNCOVERED: i32 = 10;
}

/// How a command that wrote its result ended, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Every input was read in full (exit 0).
    Complete,
    /// Written, but its logs show none of its period's traffic (exit 10): they cover none of
    /// it, or log rejected traffic only; every figure unknown, not zero. After the others: an
    /// input not read in full, a record without a start, is what leaves a period so, and
    /// their marks say it.
    Uncovered,
    /// Written, but some input was not read in full (exit 7).
    Incomplete,
    /// Written, but the records fall into stretches far apart (exit 9; before 7: reading
    /// the inputs again does not mend it).
    Split,
    /// Written, but some records were read more than once (exit 8; before 7: figures that
    /// may be too high are not even a lower bound).
    Repeated,
}

impl Outcome {
    pub fn of(complete: bool) -> Outcome {
        if complete {
            Outcome::Complete
        } else {
            Outcome::Incomplete
        }
    }

    /// Both parts' outcome: the worse.
    pub fn and(self, o: Outcome) -> Outcome {
        self.max(o)
    }

    /// How a written result with this outcome is marked, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Incomplete => "incomplete",
            Outcome::Split => "as covering stretches of time far apart",
            Outcome::Repeated => "as counting records more than once",
            Outcome::Uncovered => "as showing none of its period's traffic",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Complete => exit::OK,
            Outcome::Incomplete => exit::INCOMPLETE,
            Outcome::Split => exit::SPLIT,
            Outcome::Repeated => exit::REPEATED,
            Outcome::Uncovered => exit::UNCOVERED,
        }
    }
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error(transparent)]
    Ranges(#[from] crate::classify::RangesError),
    #[error(transparent)]
    Cost(#[from] crate::cost::CostError),
    #[error("{}", no_nat_message(.0, .1))]
    NoNat(Vec<Candidate>, Box<NoNatContext>),
    /// The NAT gateways named are stale, mistyped or not logged ([`crate::analysis::GivenAbsent`]).
    #[error("{0}")]
    GivenNatsAbsent(String),
    /// A `compare` side whose logs cover none of its time ([`crate::report::compare::uncovered`]).
    #[error("{0}")]
    Uncovered(String),
    #[error("{0}")]
    Region(String),
    #[error("--strict: {0}")]
    Strict(String),
    /// A partial file that cannot be used (damaged, cut short, another format or version).
    #[error("{0}")]
    Partial(String),
    #[error(transparent)]
    S3(#[from] crate::source::s3::S3Error),
    #[error("{0}")]
    Gate(String),
    /// A download failed (no network, a server error, a timeout).
    #[error("{0}")]
    Network(String),
    #[error(transparent)]
    Chart(#[from] crate::report::charts::ChartError),
    #[error("{context}: {err}")]
    Io {
        context: String,
        err: std::io::Error,
    },
    /// A client's timeline was left out while reading, and the analysis needs it: the
    /// pipeline reads the inputs again ([`crate::pipeline::run`]), so this never ends a run.
    #[error("{0}")]
    TimelineLeftOut(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Source(_)
            | Error::Ranges(_)
            | Error::Cost(_)
            | Error::Region(_) => exit::USAGE,
            // what was read shows no NAT because inputs were lost: that is the failure
            Error::NoNat(_, ctx) if ctx.incomplete.is_some() => exit::UNREACHABLE,
            Error::NoNat(..) | Error::GivenNatsAbsent(_) | Error::Uncovered(_) => exit::NO_NAT,
            Error::Strict(_) | Error::Partial(_) => exit::BAD_INPUT,
            Error::S3(_) | Error::Network(_) => exit::UNREACHABLE,
            Error::Gate(_) => exit::GATE,
            Error::Io { .. } | Error::Chart(_) | Error::TimelineLeftOut(_) => exit::FAILURE,
        }
    }
}

/// Why nothing could be counted: the actual cause first (no lines, nothing parsed, nothing
/// in the time range), then the NAT advice where it applies.
fn no_nat_message(c: &[Candidate], ctx: &NoNatContext) -> String {
    cause_before_nats(ctx).unwrap_or_else(|| nat_advice(c, ctx))
}

/// The data's span, `the data spans FROM .. TO`, where it has one.
fn data_span(ctx: &NoNatContext) -> Option<String> {
    ctx.data_span.map(crate::analysis::data_spans)
}

/// A cause that comes before any NAT gateway question, where there is one: inputs not read in
/// full, no line at all, no line parsed, no record in the time range, records all REJECT, no
/// record of an interface.
fn cause_before_nats(ctx: &NoNatContext) -> Option<String> {
    let l = &ctx.lines;
    let parsed = l.lines - l.malformed - l.headers - l.blank;
    if let Some(i) = &ctx.incomplete {
        return Some(format!(
            "{}\nWhat was read ({} lines, {} counted) shows no NAT gateway, so no report was written. Read the inputs again once they can be reached, or name the NAT gateways (--nat-eni/--nat-ip) to report what was read.",
            crate::report::incomplete_summary(i),
            l.lines,
            l.counted
        ));
    }
    let own = match &ctx.own_outputs {
        Some(note) => format!("\n{note}"),
        None => String::new(),
    };
    if l.lines == 0 {
        return Some(format!(
            "nothing to analyse: the inputs hold no line at all{own}"
        ));
    }
    if parsed == 0 {
        let mut s = format!("0 of {} lines parsed as flow-log records", l.lines);
        if let Some(m) = &ctx.first_malformed {
            s.push_str(&format!(" (first: {m})"));
        }
        s.push_str(
            ".\nGive --fields with the flow log's format if the text has no header line, and check that the inputs are VPC flow logs.",
        );
        s.push_str(&own);
        return Some(s);
    }
    if l.counted == 0 && l.outside_time > 0 {
        return Some(format!(
            "no record in the time range: {} records are outside it{}.\nWiden --since/--until/--month, or name the NAT gateways (--nat-eni/--nat-ip) to get a report of zero bytes for the period.",
            l.outside_time,
            data_span(ctx).map(|s| format!("; {s}")).unwrap_or_default()
        ));
    }
    if l.rejected_only() {
        return Some(format!(
            "no record was counted: the {} records read are all REJECT, none accepted: the flow log captures rejected traffic only (its traffic type is REJECT), or the ENIs it logs saw nothing else, and rejected traffic never shows what passed through a NAT gateway.\nflowcost needs a flow log of traffic type ALL (or ACCEPT) on the NAT gateways' ENIs, or on their VPC or subnets; a flow log's traffic type cannot be changed, so create one.",
            l.rejected
        ));
    }
    if l.counted > 0 && ctx.no_interface == l.counted {
        return Some(format!(
            "none of the {} counted records has an interface-id: these are not flow logs of network interfaces (Transit Gateway flow logs, for one, carry no NAT gateway traffic). flowcost needs the flow logs of the NAT gateways' ENIs (or of the VPC or subnets they are in).",
            l.counted
        ));
    }
    if let Some(why) = &ctx.lacking {
        return Some(format!(
            "no record of the inputs holds every field the figures need: {why}.\nflowcost needs interface-id, srcaddr, dstaddr, bytes and start in each record (and pkt-srcaddr, pkt-dstaddr to name the NAT gateways' clients): AWS's default format has the first five; a custom format must list them, and a flow log's format cannot be changed, so create one that does.{own}"
        ));
    }
    None
}

/// No ENI shows NAT address translation: what was skipped, the likeliest candidates `c` and
/// how to name them, or the client-side estimate.
fn nat_advice(c: &[Candidate], ctx: &NoNatContext) -> String {
    let l = &ctx.lines;
    let mut s = String::from(
        "cannot tell which ENIs are NAT gateways: no record shows NAT address translation \
         (pkt-srcaddr/pkt-dstaddr differing from a private srcaddr/dstaddr toward a public address).\n",
    );
    if l.malformed > 0 || l.outside_time > 0 {
        s.push_str(&format!(
            "Of {} lines, {} were counted, {} malformed and {} outside the time range{}.\n",
            l.lines,
            l.counted,
            l.malformed,
            l.outside_time,
            data_span(ctx)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ));
    }
    match c.first() {
        None => s.push_str("No ENI in the data looks like a NAT gateway.\n"),
        Some(first) => {
            s.push_str("Most likely candidates (a NAT forwards about as many bytes to private peers as to public remotes):\n");
            for x in c {
                s.push_str(&candidate_line(x));
            }
            s.push_str(&format!(
                "Pass them with --nat-eni {} (repeatable), or --nat-ip ADDRESS, or --nat-file FILE.\n",
                first.eni
            ));
        }
    }
    if let Some(r) = rejecting_enis(&ctx.rejecting) {
        s.push_str(&r);
    }
    s.push_str("Or, if no NAT ENI is logged at all, --client-side-estimate sums the clients' own records (labelled an estimate).");
    s
}

/// The ENIs of rejected records only, for an hour or more, where there are some: the NAT
/// gateways may be among them, under a flow log of traffic type REJECT.
fn rejecting_enis(r: &crate::analysis::RejectingEnis) -> Option<String> {
    let (first, more) = r.examples.split_first()?;
    let mut named = format!("{} ({} REJECT records)", first.1, first.0);
    for (records, eni) in more {
        named.push_str(&format!(", {eni} ({records})"));
    }
    let others = r.count.saturating_sub(r.examples.len() as u64);
    if others > 0 {
        named.push_str(&format!(" and {others} more"));
    }
    Some(format!(
        "{} ENI(s) show REJECT records only, none accepted, over an hour or more: {named}. If the NAT gateways are among them, a flow log of traffic type REJECT (a security team's) is all that logs them, and it shows nothing of what passed through them: they need a flow log of traffic type ALL (or ACCEPT) on their ENIs, subnets or VPC.\n",
        r.count
    ))
}

/// One candidate's line: its ENI, bytes on either side, private peers and own addresses.
fn candidate_line(x: &Candidate) -> String {
    let ips: Vec<String> = x.local_ips.iter().map(|i| i.to_string()).collect();
    format!(
        "  {}  public-side {} B, private-side {} B, private peers {}, own IPs {}\n",
        x.eni,
        x.public_bytes,
        x.internal_bytes,
        x.private_peers,
        match ips.is_empty() {
            true => "-".to_string(),
            false => ips.join(","),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::LineCounts;

    fn lines(lines: u64, malformed: u64, counted: u64, outside_time: u64) -> LineCounts {
        LineCounts {
            lines,
            malformed,
            counted,
            outside_time,
            ..Default::default()
        }
    }

    /// The cause that comes first is named, and the NAT advice only where none does.
    #[test]
    fn the_first_cause_is_named_before_any_nat_advice() {
        let ctx = |l: LineCounts, no_interface: u64| NoNatContext {
            lines: l,
            no_interface,
            data_span: Some((0, 3600)),
            ..Default::default()
        };
        let cause = |c: &NoNatContext| cause_before_nats(c).unwrap_or_default();
        assert!(cause(&ctx(lines(0, 0, 0, 0), 0)).starts_with("nothing to analyse"));
        assert!(cause(&ctx(lines(3, 3, 0, 0), 0)).starts_with("0 of 3 lines parsed"));
        assert!(cause(&ctx(lines(3, 0, 0, 3), 0)).starts_with(
            "no record in the time range: 3 records are outside it; the data spans 1970-01-01T00:00:00Z .. 1970-01-01T01:00:00Z."
        ));
        assert!(cause(&ctx(lines(3, 0, 3, 0), 3)).starts_with("none of the 3 counted records"));
        // records all REJECT: a flow log of rejected traffic only, said before any NAT advice
        let rejected = LineCounts {
            rejected: 5,
            ..lines(6, 0, 0, 0)
        };
        assert!(cause(&ctx(rejected, 0)).starts_with(
            "no record was counted: the 5 records read are all REJECT, none accepted"
        ));
        let one_accepted = LineCounts {
            rejected: 5,
            ..lines(6, 0, 1, 0)
        };
        assert_eq!(cause_before_nats(&ctx(one_accepted, 0)), None);
        // some records of an interface counted, or some in the time range: the NATs' question
        assert_eq!(cause_before_nats(&ctx(lines(3, 0, 3, 0), 2)), None);
        assert_eq!(cause_before_nats(&ctx(lines(4, 1, 2, 1), 0)), None);
        let advice = no_nat_message(&[], &ctx(lines(4, 1, 2, 1), 0));
        assert!(advice.starts_with("cannot tell which ENIs are NAT gateways"));
        assert!(advice.contains(
            "Of 4 lines, 2 were counted, 1 malformed and 1 outside the time range (the data spans"
        ));
        assert!(advice.contains("No ENI in the data looks like a NAT gateway.\n"));
        assert!(advice.ends_with("(labelled an estimate)."));
    }

    /// The candidates are listed in their order, the first named in the flag to pass.
    #[test]
    fn candidates_are_listed_and_the_first_offered() {
        let candidate = |eni: &str, ips: &[&str]| Candidate {
            eni: eni.into(),
            translated_records: 0,
            translated_bytes: 0,
            public_bytes: 10,
            internal_bytes: 12,
            private_peers: 3,
            local_ips: ips.iter().map(|i| i.parse().unwrap()).collect(),
        };
        let c = [
            candidate("eni-1", &["10.0.0.10", "10.0.0.11"]),
            candidate("eni-2", &[]),
        ];
        let advice = nat_advice(&c, &NoNatContext::default());
        let listed = "  eni-1  public-side 10 B, private-side 12 B, private peers 3, own IPs 10.0.0.10,10.0.0.11\n  eni-2  public-side 10 B, private-side 12 B, private peers 3, own IPs -\nPass them with --nat-eni eni-1 (repeatable)";
        assert!(advice.contains(listed), "{advice}");
        assert!(!advice.contains("Of "), "no line was skipped");
    }
}
