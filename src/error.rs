//! The error type of the command line, and its exit codes (documented in the README).

use crate::analysis::Candidate;

/// Exit codes.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Unexpected failure (writing the output, ...).
    pub const FAILURE: i32 = 1;
    /// Usage or configuration error: bad flag value, unreadable --ip-ranges/--prices file,
    /// missing input, region needed.
    pub const USAGE: i32 = 2;
    /// The NAT gateway ENIs could not be identified; candidates are listed.
    pub const NO_NAT: i32 = 3;
    /// `--strict` and some input was malformed, truncated or unreadable.
    pub const BAD_INPUT: i32 = 4;
    /// The inputs could not be reached: S3 access denied, bucket missing, endpoint down.
    pub const UNREACHABLE: i32 = 5;
    /// `compare --fail-if-s3-via-nat-above`: the S3 bytes left on the NAT exceed the gate.
    pub const GATE: i32 = 6;
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
    #[error("{}", no_nat_message(.0))]
    NoNat(Vec<Candidate>),
    #[error("{0}")]
    Region(String),
    #[error("--strict: {0}")]
    Strict(String),
    #[error(transparent)]
    S3(#[from] crate::source::s3::S3Error),
    #[error("{0}")]
    Gate(String),
    #[error(transparent)]
    Chart(#[from] crate::report::charts::ChartError),
    #[error("{context}: {err}")]
    Io {
        context: String,
        err: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Source(_)
            | Error::Ranges(_)
            | Error::Cost(_)
            | Error::Region(_) => exit::USAGE,
            Error::NoNat(_) => exit::NO_NAT,
            Error::Strict(_) => exit::BAD_INPUT,
            Error::S3(_) => exit::UNREACHABLE,
            Error::Gate(_) => exit::GATE,
            Error::Io { .. } | Error::Chart(_) => exit::FAILURE,
        }
    }
}

fn no_nat_message(c: &[Candidate]) -> String {
    let mut s = String::from(
        "cannot tell which ENIs are NAT gateways: no record shows NAT address translation \
         (pkt-srcaddr/pkt-dstaddr differing from a private srcaddr/dstaddr toward a public address).\n",
    );
    if c.is_empty() {
        s.push_str("No ENI in the data looks like a NAT gateway.\n");
    } else {
        s.push_str("Most likely candidates (a NAT forwards about as many bytes to private peers as to public remotes):\n");
        for x in c {
            s.push_str(&format!(
                "  {}  translated records {}, public-side {} B, private-side {} B, private peers {}, own IPs {}\n",
                x.eni,
                x.translated_records,
                x.public_bytes,
                x.internal_bytes,
                x.private_peers,
                if x.local_ips.is_empty() { "-".to_string() } else { x.local_ips.join(",") }
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
