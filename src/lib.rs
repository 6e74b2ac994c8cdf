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

/// A contract's enum whose variants are named once: the name serde writes and reads is the
/// one `as_str` and `Display` give (the JSON, CSV and tables spell it alike). Attributes
/// before the name (docs, more derives) go on the enum.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }
        impl $name {
            /// The name in the JSON contract.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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
pub mod output;
pub mod overlap;
pub mod partial;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod source;
pub mod spill;
pub mod time;
