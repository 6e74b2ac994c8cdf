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
}

/// How a command that wrote its result ended, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Every input was read in full (exit 0).
    Complete,
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
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Complete => exit::OK,
            Outcome::Incomplete => exit::INCOMPLETE,
            Outcome::Split => exit::SPLIT,
            Outcome::Repeated => exit::REPEATED,
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
            Error::NoNat(..) | Error::GivenNatsAbsent(_) => exit::NO_NAT,
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
    let l = &ctx.lines;
    let parsed = l.lines - l.malformed - l.headers - l.blank;
    let span = ctx.data_span.map(|(f, t)| {
        format!(
            "the data spans {} .. {}",
            crate::time::format_instant(f),
            crate::time::format_instant(t)
        )
    });
    if let Some(i) = &ctx.incomplete {
        return format!(
            "{}\nWhat was read ({} lines, {} counted) shows no NAT gateway, so no report was written. Read the inputs again once they can be reached, or name the NAT gateways (--nat-eni/--nat-ip) to report what was read.",
            crate::report::incomplete_summary(i),
            l.lines,
            l.counted
        );
    }
    let own = match &ctx.own_outputs {
        Some(note) => format!("\n{note}"),
        None => String::new(),
    };
    if l.lines == 0 {
        return format!("nothing to analyse: the inputs hold no line at all{own}");
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
        return s;
    }
    if l.counted == 0 && l.outside_time > 0 {
        return format!(
            "no record in the time range: {} records are outside it{}.\nWiden --since/--until/--month, or name the NAT gateways (--nat-eni/--nat-ip) to get a report of zero bytes for the period.",
            l.outside_time,
            span.map(|s| format!("; {s}")).unwrap_or_default()
        );
    }
    if l.counted > 0 && ctx.no_interface == l.counted {
        return format!(
            "none of the {} counted records has an interface-id: these are not flow logs of network interfaces (Transit Gateway flow logs, for one, carry no NAT gateway traffic). flowcost needs the flow logs of the NAT gateways' ENIs (or of the VPC or subnets they are in).",
            l.counted
        );
    }
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
            span.map(|s| format!(" ({s})")).unwrap_or_default()
        ));
    }
    if c.is_empty() {
        s.push_str("No ENI in the data looks like a NAT gateway.\n");
    } else {
        s.push_str("Most likely candidates (a NAT forwards about as many bytes to private peers as to public remotes):\n");
        for x in c {
            s.push_str(&format!(
                "  {}  public-side {} B, private-side {} B, private peers {}, own IPs {}\n",
                x.eni,
                x.public_bytes,
                x.internal_bytes,
                x.private_peers,
                if x.local_ips.is_empty() {
                    "-".to_string()
                } else {
                    let ips: Vec<String> = x.local_ips.iter().map(|i| i.to_string()).collect();
                    ips.join(",")
                }
            ));
        }
        s.push_str(&format!(
            "Pass them with --nat-eni {} (repeatable), or --nat-ip ADDRESS, or --nat-file FILE.\n",
            c[0].eni
        ));
    }
    s.push_str("Or, if no NAT ENI is logged at all, --client-side-estimate sums the clients' own records (labelled an estimate).");
    s
}
