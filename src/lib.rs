//! flowcost: reads AWS VPC flow logs and tells how much of the NAT gateway bill is S3 traffic
//! (above all ECR image layers) that a free S3 gateway endpoint would take off the NAT path.
//!
//! The pipeline, one module per stage: [`source`] (find and open inputs) → [`format`]
//! (decode text/gzip/Parquet into [`format::Record`]s) → [`classify`] (ip-ranges lookup) →
//! [`account`] (mergeable per-ENI aggregates) → [`overlap`] (one flow log per ENI) →
//! [`analysis`] (NAT rules, attribution, ECR) →
//! [`cost`] (prices) → [`report`] (JSON/table/Markdown/CSV). [`engine`] runs the first stages
//! in parallel; [`pipeline`] is the whole run as a library call, configured by
//! [`config::RunConfig`]; [`generate`] writes synthetic worlds with known answers; [`cmd`]
//! holds the subcommands.

pub mod account;
pub mod analysis;
pub mod bill;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod cost;
pub mod engine;
pub mod error;
pub mod format;
pub mod generate;
pub mod hint;
pub mod inventory;
pub mod overlap;
pub mod partial;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod source;
pub mod spill;
pub mod time;
