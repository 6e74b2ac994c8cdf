//! One module per subcommand (as in xsv): each turns its parsed arguments into a validated
//! configuration once, runs the pipeline and writes the result.

pub mod analyze;
pub mod compare;
pub mod generate;
pub mod ip_ranges;
pub mod merge;
pub mod report;
