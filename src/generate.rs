//! Synthetic worlds with a known answer. `flowcost generate` simulates Fargate tasks that pull
//! images and talk to S3, DynamoDB, other AWS services and the internet through two NAT
//! gateways (plus an EC2 instance that bypasses the NAT, intra-VPC chatter, rejected scans,
//! NODATA and SKIPDATA), writes the flow logs as AWS delivers them (S3 key layout, header
//! line, text / gzip / Parquet, v2 / v5 / v7 field sets), and writes `truth.json`: the true
//! NAT bytes computed from the simulated flows, never by reading the files back.
//!
//! Remote addresses are picked from ip-ranges.json and checked with a naive linear
//! longest-prefix scan written here, independent of the classifier under test.

mod vpc;
mod world;
mod write;

pub use world::{build, Truth, World, FLOW_LOG_ID};
pub use write::{write_cur, write_world, write_world_with};

/// Field sets the generator can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldSet {
    V2,
    V5,
    V7,
}

/// The aggregation interval of a simulated flow log (AWS offers these two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interval {
    #[default]
    OneMinute,
    /// AWS's default.
    TenMinutes,
}

impl Interval {
    pub fn seconds(self) -> i64 {
        match self {
            Interval::OneMinute => 60,
            Interval::TenMinutes => 600,
        }
    }
}

/// Encodings the generator can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Text,
    Gz,
    Parquet,
}

impl Encoding {
    pub fn dir(self) -> &'static str {
        match self {
            Encoding::Text => "text",
            Encoding::Gz => "gz",
            Encoding::Parquet => "parquet",
        }
    }
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Text => ".log",
            Encoding::Gz => ".log.gz",
            Encoding::Parquet => ".log.parquet",
        }
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub seed: u64,
    /// First second (UTC midnight).
    pub start: i64,
    pub days: u32,
    pub tasks_per_day: u32,
    pub volume: f64,
    pub fields: FieldSet,
    pub nat_only: bool,
    /// From this second on, an S3 gateway endpoint carries the tasks' same-region S3 traffic
    /// (it leaves the NAT path; the task ENIs log it with traffic-path 7)...
    pub s3_endpoint_at: Option<i64>,
    /// ...except in this subnet, whose route table was left without the endpoint.
    pub endpoint_skips_subnet: Option<String>,
    /// Tasks as a busy Fargate service has them: addresses drawn from a small pool per subnet
    /// and reused as tasks stop, short-lived (5–30 minutes) and long-lived (1–12 hours)
    /// tasks, images of 50 MB to 2 GB, and application S3 traffic that starts while the
    /// layers are still downloading.
    pub reuse: bool,
    /// The flow log's aggregation interval in seconds: 60, or AWS's default 600 (a record
    /// per connection and interval, its bytes the connection's share of the interval).
    pub interval: Interval,
}

/// SplitMix64: a tiny deterministic generator, so the same seed gives the same world on
/// every platform and every version of every crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (hi exclusive, hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.range(0, v.len() as u64) as usize]
    }
}
