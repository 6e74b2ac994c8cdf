//! The settings of one run that shape what is accumulated and how it is analysed, validated
//! once (by `cmd`, from the flags) and shared read-only by every stage: the account stage
//! ([`crate::account::Params::run`], [`crate::account::Accumulator::run`]), the overlap and
//! spill stages, and the analysis. Nothing else holds a copy of any of them.

use std::net::IpAddr;

use crate::account::TaskStarts;
use crate::inventory::ec2::Ec2Inventory;
use crate::inventory::EcsTasks;

/// What one run counts and how.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// NAT gateway ENIs given (`--nat-eni`, `--nat-file`); empty: detect them.
    pub nat_enis: Vec<String>,
    /// NAT gateway addresses given (`--nat-ip`, `--nat-file`).
    pub nat_ips: Vec<IpAddr>,
    /// Keep records with `since <= start < until` (seconds, UTC).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Stretches `[from, to)` of the time range that no input was read for, sorted: the
    /// holes between merged partials' time ranges (a daily run that failed, say). The
    /// analysis leaves them out of the time covered. Empty for a run over logs, which reads
    /// its whole range.
    pub unread: Vec<(i64, i64)>,
    /// ECR pull window after a task's first record, seconds.
    pub pull_window: i64,
    /// ENIs first seen within this many seconds of the data's start may predate it and are
    /// not counted as task starts.
    pub grace: i64,
    /// Rows of the top-clients table.
    pub top: usize,
    /// Estimate NAT bytes from client-side records where no NAT ENI is logged.
    pub client_side_estimate: bool,
    /// The flow log to count where two recorded the same ENI (`--flow-log-id`).
    pub flow_log_id: Option<String>,
    /// ECS tasks given with `--ecs-tasks`.
    pub tasks: KnownTasks,
    /// The VPC as `aws ec2 describe-…` described it (`--inventory`, or JSON in `--nat-file`):
    /// names gateways and subnets, places client addresses the logs do not describe, and
    /// feeds the endpoint plan. Empty when none was given.
    pub inventory: std::sync::Arc<Ec2Inventory>,
}

/// ECS tasks as `aws ecs describe-tasks` described them (`--ecs-tasks`), which label task
/// starts with their service where the flow logs carry no ECS fields, and their start times
/// per address, derived once, which cut the sessions on the NAT's legs.
#[derive(Clone, Debug, Default)]
pub struct KnownTasks {
    ecs: EcsTasks,
    starts: TaskStarts,
}

impl KnownTasks {
    pub fn new(ecs: EcsTasks) -> Self {
        KnownTasks {
            starts: TaskStarts::new(ecs.starts()),
            ecs,
        }
    }

    /// The tasks.
    pub fn ecs(&self) -> &EcsTasks {
        &self.ecs
    }

    /// Their start times per address.
    pub fn starts(&self) -> &TaskStarts {
        &self.starts
    }
}

/// The pull window when none is given: 3 minutes (README, "How ECR is estimated").
pub const DEFAULT_PULL_WINDOW: i64 = 180;
/// The longest pull window taken: a day (an image pull takes minutes).
pub const MAX_PULL_WINDOW: i64 = 86_400;
/// The grace period after the data's start: 10 minutes.
pub const DEFAULT_GRACE: i64 = 600;
/// Rows of the top-clients table when none is given.
pub const DEFAULT_TOP: usize = 10;

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            nat_enis: Vec::new(),
            nat_ips: Vec::new(),
            since: None,
            until: None,
            unread: Vec::new(),
            pull_window: DEFAULT_PULL_WINDOW,
            grace: DEFAULT_GRACE,
            top: DEFAULT_TOP,
            client_side_estimate: false,
            flow_log_id: None,
            tasks: KnownTasks::default(),
            inventory: Default::default(),
        }
    }
}

impl RunConfig {
    /// Whether a record starting at `t` is inside the time filter (`since` ≤ `t` < `until`).
    pub fn in_time(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// Whether the run is limited to a time range (`--since`, `--until`, `--month`).
    #[inline]
    pub fn time_filtered(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether NAT gateways were named (`--nat-eni`, `--nat-ip`, `--nat-file`), rather than
    /// left to be detected.
    pub fn nats_given(&self) -> bool {
        !self.nat_enis.is_empty() || !self.nat_ips.is_empty()
    }

    /// The NAT gateways named, as given: the ENIs, then the addresses.
    pub fn named_nats(&self) -> Vec<String> {
        (self.nat_enis.iter().cloned())
            .chain(self.nat_ips.iter().map(|i| i.to_string()))
            .collect()
    }

    /// The same run over another time range (a `compare` or `report --change-at` period).
    pub fn with_period(&self, since: Option<i64>, until: Option<i64>) -> Self {
        RunConfig {
            since,
            until,
            ..self.clone()
        }
    }
}
