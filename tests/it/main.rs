//! The integration tests, in one binary: hand-computed accounting rules, generated worlds
//! against their truth, the public samples in ../shared, bad input, properties, and the CLI
//! end to end with golden files, the monthly report folder (and its page in headless Chromium) (`FLOWCOST_BLESS=1 cargo test` rewrites them).

mod bad_input;
mod bill;
mod cli;
mod compare;
mod flow_logs;
mod hostile;
mod inventory;
mod ip_ranges;
mod outputs;
mod own_outputs;
mod partials;
mod properties;
mod proxy;
mod report;
mod rules;
mod s3;
mod samples;
mod support;
mod worlds;
