//! Command-line definition (clap). Each subcommand's arguments live here; its behaviour lives
//! in `cmd/`.

use clap::{Args, Parser, Subcommand};

use crate::cost::GbUnit;
use crate::report::Format;

#[derive(Parser, Debug)]
#[command(name = "flowcost", version, about = "How much of your NAT gateway bill is S3 and ECR image layers that a free gateway endpoint would remove", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // built once per process
pub enum Command {
    /// Analyse flow logs: NAT bytes by destination class, ECR estimate, endpoint savings.
    Analyze(AnalyzeCmd),
    /// Compare two periods (or two sets of inputs): did a network change take S3 off the NAT?
    Compare(CompareArgs),
    /// Write the monthly report folder: report.md, a self-contained report.html, report.json,
    /// CSV tables and SVG charts; month over month with --previous.
    Report(ReportArgs),
    /// Merge partial results (`analyze --partial-out`) into the report one `analyze` over all
    /// their inputs would write.
    Merge(MergeArgs),
    /// Write a deterministic synthetic world of flow logs plus its true answer.
    Generate(GenerateArgs),
    /// Keep AWS's ip-ranges.json fresh: `update` downloads it into the cache, `show` tells
    /// what `analyze` uses.
    #[command(name = "ip-ranges", subcommand)]
    IpRanges(IpRangesCommand),
}

#[derive(Subcommand, Debug)]
pub enum IpRangesCommand {
    /// Download the current ip-ranges.json, validate it and keep it in the cache (earlier
    /// copies are kept too).
    Update {
        /// Where to download it from.
        #[arg(long, default_value = crate::classify::IP_RANGES_URL)]
        url: String,
    },
    /// Print the ip-ranges in use: source, syncToken, createDate, prefixes per service.
    Show {
        /// Show this file or URL instead of the one `analyze` would use.
        #[arg(long = "ip-ranges", value_name = "FILE|URL")]
        ip_ranges: Option<String>,
    },
}

/// The time range of a command that analyses one period.
#[derive(Args, Debug, Clone, Default)]
pub struct TimeArgs {
    /// Keep records whose start is at or after this instant (UTC; `YYYY-MM-DD[THH:MM[:SS]]` or epoch seconds; from 1970 to 9999).
    #[arg(long)]
    pub since: Option<String>,
    /// Keep records whose start is before this instant (UTC).
    #[arg(long)]
    pub until: Option<String>,
    /// A calendar month in UTC, `YYYY-MM` (instead of --since/--until).
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub month: Option<String>,
}

/// Where a command that prints one result writes it.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Output format [default: table].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the result to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<String>,
}

/// `flowcost analyze`: the shared arguments, a time range and an output.
#[derive(Args, Debug, Clone)]
pub struct AnalyzeCmd {
    #[command(flatten)]
    pub base: AnalyzeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

/// Scale-out: a share of the inputs, and partial results instead of a report.
#[derive(Args, Debug, Clone, Default)]
pub struct ScaleArgs {
    /// Write a partial result to FILE instead of the report, for `flowcost merge`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["output", "format"])]
    pub partial_out: Option<String>,
    /// Read only shard K of N (K from 0): files by their path below the input given, S3
    /// objects by key, by a stable hash; shards 0..N-1 read every input exactly once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
}

/// `flowcost merge`: partial files in, one report out.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Partial files written by `analyze --partial-out` (with the same settings).
    #[arg(required = true, value_name = "PARTIAL")]
    pub partials: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// The ip-ranges document the partials were made with, if this machine does not have it
    /// (in its cache, or built in); several may be given, the one the partials name is used.
    #[arg(long = "ip-ranges", value_name = "FILE|URL")]
    pub ip_ranges: Vec<String>,
    /// Where to keep the partials' ENI tables while merging [default: the system's].
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<String>,
    /// The VPC inventory (as for `analyze`): names gateways and subnets and writes the
    /// endpoint plan; it does not change what the partials counted.
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<String>,
    /// A Cost and Usage Report to reconcile with (as for `analyze`; local files and folders).
    #[arg(long = "cur", value_name = "FILE|DIR")]
    pub cur: Vec<String>,
    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl AnalyzeArgs {
    /// These arguments with a time range and an output.
    pub fn with(&self, time: &TimeArgs, out: &OutputArgs) -> AnalyzeArgs {
        AnalyzeArgs {
            since: time.since.clone(),
            until: time.until.clone(),
            month: time.month.clone(),
            format: out.format,
            output: out.output.clone(),
            ..self.clone()
        }
    }
}

impl AnalyzeArgs {
    /// The documents these arguments name for reading (NAT file, inventory, bill, ECS tasks,
    /// ip-ranges, prices), which no output may replace.
    pub fn documents(&self) -> Vec<&str> {
        let one = [&self.nat_file, &self.prices];
        (self.inventory.iter())
            .chain(&self.ip_ranges)
            .chain(&self.cur)
            .chain(&self.ecs_tasks)
            .chain(one.into_iter().flatten())
            .map(String::as_str)
            .collect()
    }

    /// What these arguments read, for the checks of an output ([`crate::output::Reads`]).
    pub fn reads<'a>(&'a self, cfg: &'a crate::pipeline::Config) -> crate::output::Reads<'a> {
        crate::output::Reads {
            cfgs: vec![cfg],
            inputs: self.inputs.iter().map(String::as_str).collect(),
            documents: self.documents(),
        }
    }
}

impl AnalyzeCmd {
    /// All of it as the one set of arguments the configuration is validated from.
    pub fn args(&self) -> AnalyzeArgs {
        self.base.with(&self.time, &self.out)
    }
}

/// What every command that reads flow logs takes (inputs, NAT hints, layout, prices, S3,
/// engine settings); each command adds the groups it uses.
#[derive(Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// Files, folders (read recursively), `-` for standard input, or `s3://bucket[/prefix]`.
    /// Text, gzip and Parquet are recognised by content.
    pub inputs: Vec<String>,
    /// A NAT gateway ENI (repeatable, or several separated by commas). Default: detected
    /// from pkt-* address translation.
    #[arg(long = "nat-eni", value_name = "ENI", value_delimiter = ',')]
    pub nat_eni: Vec<String>,
    /// A NAT gateway private IP (repeatable, or several separated by commas); ENIs whose
    /// records carry it are NAT ENIs.
    #[arg(long = "nat-ip", value_name = "IP", value_delimiter = ',')]
    pub nat_ip: Vec<String>,
    /// A file of NAT ENIs and/or IPs, one per line (`#` comments allowed), or the JSON of
    /// `aws ec2 describe-nat-gateways` (read as --inventory).
    #[arg(long = "nat-file", value_name = "FILE")]
    pub nat_file: Option<String>,
    /// The JSON of `aws ec2 describe-nat-gateways`, `describe-route-tables`,
    /// `describe-subnets` or `describe-vpc-endpoints` (repeatable): NAT gateways by `nat-…`
    /// id (their ENIs are the NAT ENIs), subnets with their route tables, client subnets by
    /// address, and the endpoint plan. See README, "The VPC inventory".
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<String>,
    /// A Cost and Usage Report (repeatable): a file or folder of CUR 2.0 / Data Exports,
    /// legacy CUR or FOCUS 1.2 rows, CSV, gzip CSV or Parquet. The report reconciles the
    /// billed NAT data processing with the flow logs. See README, "Reconciling with the bill".
    #[arg(long = "cur", value_name = "FILE|DIR")]
    pub cur: Vec<String>,
    /// The output of `aws ecs describe-tasks` (repeatable): labels task starts with their ECS
    /// service where the flow logs carry no ECS fields (by task address and time).
    #[arg(long = "ecs-tasks", value_name = "FILE")]
    pub ecs_tasks: Vec<String>,
    /// Where two flow logs recorded the same ENI at the same time, count this one's records
    /// (default: the flow log written with more fields).
    #[arg(long = "flow-log-id", value_name = "fl-ID")]
    pub flow_log_id: Option<String>,
    /// When no NAT ENI is in the data, sum the clients' own records as a labelled estimate.
    #[arg(long)]
    pub client_side_estimate: bool,
    /// Field layout for text without a header line: an AWS format string
    /// (`${version} ${srcaddr} ...`) or a list of names. Default: the v2 default format.
    #[arg(long, value_name = "SPEC")]
    pub fields: Option<String>,
    /// ip-ranges.json to classify with (a file or an http(s) URL). Default: the newest copy
    /// fetched by `flowcost ip-ranges update`, else the snapshot built into the binary.
    /// Partial results made with different documents (`report`, `compare`) may be given
    /// several: each side is read with the one it was made with.
    #[arg(long = "ip-ranges", value_name = "FILE|URL")]
    pub ip_ranges: Vec<String>,
    /// The NAT's region when neither the records (`region` field) nor the S3 key path say.
    #[arg(long)]
    pub region: Option<String>,
    /// The time range (from [`TimeArgs`], where the command has one).
    #[arg(skip)]
    pub since: Option<String>,
    #[arg(skip)]
    pub until: Option<String>,
    #[arg(skip)]
    pub month: Option<String>,
    /// ECR pull window after a task ENI's first record: seconds, or with a unit (`90s`, `5m`)
    /// [default: 3m].
    #[arg(long)]
    pub pull_window: Option<String>,
    /// Price table JSON (same shape as data/prices.json) replacing the built-in one.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<String>,
    /// NAT data-processing price per GB, overriding the table.
    #[arg(long, value_name = "USD")]
    pub nat_price_per_gb: Option<f64>,
    /// What a GB is when pricing.
    #[arg(long, value_enum, default_value = "gib")]
    pub gb_unit: GbUnit,
    /// Where the result goes (from [`OutputArgs`], where the command has them).
    #[arg(skip)]
    pub format: Option<Format>,
    #[arg(skip)]
    pub output: Option<String>,
    /// Rows in the top-clients table.
    #[arg(long, default_value_t = crate::config::DEFAULT_TOP)]
    pub top: usize,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// ENI aggregates held in memory by all workers together (about 1.2 KB each); beyond
    /// it the engine moves them to sorted files in the temporary directory and merges them
    /// back for the report, which comes out the same. 0: never spill.
    #[arg(long, value_name = "N", default_value_t = crate::spill::DEFAULT_BUDGET)]
    pub max_enis_in_memory: usize,
    /// Directory for spilled ENI tables and for Parquet streams and S3 objects over 16 MiB
    /// (their ranges read) while they are read [default: the system's, e.g. $TMPDIR or /tmp].
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<String>,
    /// Inside input folders, follow symbolic links that lead outside the folder too (links
    /// that stay inside are always followed; paths on the command line always are).
    #[arg(long, short = 'L')]
    pub follow: bool,
    /// Fail (exit 4) on any malformed line or unreadable input instead of counting it.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Only this AWS account's logs under `s3://` prefixes (repeatable).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Vec<String>,
    /// AWS profile for S3 (default: the standard chain: environment, profile, SSO, roles).
    #[arg(long)]
    pub profile: Option<String>,
    /// Add the AWS SDK's own error detail to S3 error messages.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// S3-compatible endpoint (also `AWS_ENDPOINT_URL`).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Path-style S3 addressing (`endpoint/bucket/key`), as most S3-compatible stores want.
    #[arg(long)]
    pub path_style: bool,
    /// Pay for the requests on a requester-pays bucket.
    #[arg(long)]
    pub request_payer: bool,
    /// Concurrent S3 downloads.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Longest wait for an S3 connection (seconds, or `500ms`, `10s`, `1m`); each attempt
    /// is retried as the AWS SDK's standard mode does (6 attempts in all).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub connect_timeout: String,
    /// Longest wait for the next bytes of an S3 response, headers or body; a download that
    /// stalls longer is resumed where it stopped, then reported as not read.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub read_timeout: String,
    /// Chunk size in bytes for parsing one large text input on several workers (inputs of
    /// eight chunks or more are split). For tests and benchmarks.
    #[arg(long, hide = true, default_value_t = crate::engine::CHUNK)]
    pub chunk_size: usize,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The period before the change (`2026-09-01..2026-09-14`, end day included; `2026-09`;
    /// instants `2026-09-14T12:00..2026-09-15`), or the inputs holding it.
    #[arg(long, num_args = 1.., required = true, value_name = "PERIOD|PATH")]
    pub before: Vec<String>,
    /// The period after the change, or the inputs holding it.
    #[arg(long, num_args = 1.., required = true, value_name = "PERIOD|PATH")]
    pub after: Vec<String>,
    /// Exit 6 when S3 bytes still crossing the NAT after the change exceed this: bytes per
    /// day (`5GiB`, `200MB`, `123456`) or a percentage of the before period's per-day S3 (`5%`).
    #[arg(long, value_name = "BYTES_OR_PERCENT")]
    pub fail_if_s3_via_nat_above: Option<String>,
    #[command(flatten)]
    pub base: AnalyzeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Folder to write the report into (created; the files of an earlier report there are
    /// replaced). Default: `flowcost-report-<period>`.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub out_dir: Option<String>,
    /// The previous period's `report.json` (or its folder): adds month over month, and carries
    /// the earlier months' figures forward (up to 12).
    #[arg(long, value_name = "FILE|DIR")]
    pub previous: Option<String>,
    /// An instant inside the period when the network changed (e.g. the S3 gateway endpoint
    /// was added): adds a before/after comparison split there.
    #[arg(long, value_name = "WHEN")]
    pub change_at: Option<String>,
    #[command(flatten)]
    pub base: AnalyzeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Folder to write the world into (created).
    #[arg(long, short = 'o')]
    pub out: String,
    /// Random seed: the same seed gives the same files, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day (UTC, `YYYY-MM-DD`).
    #[arg(long, default_value = "2026-09-01")]
    pub start: String,
    /// Days to simulate.
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Fargate task starts per day.
    #[arg(long, default_value_t = 40)]
    pub tasks_per_day: u32,
    /// Multiply every flow's size (scales the bytes, not the record count).
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
    /// Encodings to write (repeatable): text, gz, parquet.
    #[arg(long = "encoding", value_enum, default_values_t = vec![crate::generate::Encoding::Gz])]
    pub encodings: Vec<crate::generate::Encoding>,
    /// Field set: v2 (default format, no pkt-*), v5 (with pkt-*, region, az-id,
    /// traffic-path), v7 (v5 plus the ECS fields).
    #[arg(long, value_enum, default_value = "v5")]
    pub fields: crate::generate::FieldSet,
    /// Log only the NAT ENIs (no task ENI records).
    #[arg(long)]
    pub nat_only: bool,
    /// Tasks as a busy Fargate service has them: addresses reused from a small pool per
    /// subnet, tasks of 5 minutes to 12 hours, images of 50 MB to 2 GB, application S3
    /// traffic during the image pull, and queue workers that fetch an S3 object after an
    /// AWS API call.
    #[arg(long)]
    pub address_reuse: bool,
    /// The flow log's aggregation interval: 60 seconds, or AWS's default of 600 (records of
    /// long connections then span ten minutes, and an active address may show none for
    /// minutes)
    #[arg(long, value_enum, default_value = "60")]
    pub aggregation_interval: crate::generate::Interval,
    /// Add an S3 gateway endpoint at this instant (UTC): from then on the tasks' same-region
    /// S3 traffic leaves the NAT path.
    #[arg(long, value_name = "WHEN")]
    pub s3_endpoint_at: Option<String>,
    /// A subnet whose route table does not get the endpoint (its S3 traffic stays on the NAT).
    #[arg(long, value_name = "SUBNET_ID", requires = "s3_endpoint_at")]
    pub endpoint_skips_subnet: Option<String>,
}

/// The command-line names of the core types' values (the types themselves know nothing of
/// clap): each value's name and, where it helps, a line of help.
macro_rules! value_enum {
    ($t:ty { $($v:path => $name:literal $(: $help:literal)?),+ $(,)? }) => {
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($v),+]
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $($v => clap::builder::PossibleValue::new($name)$(.help($help))?),+
                })
            }
        }
    };
}

value_enum!(Format {
    Format::Table => "table",
    Format::Json => "json",
    Format::Csv => "csv",
    Format::Markdown => "markdown",
});

value_enum!(GbUnit {
    GbUnit::Gib => "gib": "2^30 bytes: the unit AWS uses when it bills data (\"GB\" on the bill)",
    GbUnit::Gb => "gb": "10^9 bytes",
});

value_enum!(crate::generate::FieldSet {
    crate::generate::FieldSet::V2 => "v2",
    crate::generate::FieldSet::V5 => "v5",
    crate::generate::FieldSet::V7 => "v7",
});

value_enum!(crate::generate::Interval {
    crate::generate::Interval::OneMinute => "60",
    crate::generate::Interval::TenMinutes => "600",
});

value_enum!(crate::generate::Encoding {
    crate::generate::Encoding::Text => "text",
    crate::generate::Encoding::Gz => "gz",
    crate::generate::Encoding::Parquet => "parquet",
});
