//! The `flowcost` binary: parse the command line, run the subcommand, map errors to exit codes.

use clap::Parser;
use flowcost::cli::{Cli, Command};
use flowcost::cmd;

fn main() {
    let cli = Cli::parse();
    // Interrupted (Ctrl-C, SIGTERM, SIGHUP): remove spilled ENI tables, exit 130.
    let _ = ctrlc::set_handler(|| {
        flowcost::spill::remove_live_dirs();
        std::process::exit(130);
    });
    let result = match &cli.command {
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Compare(c) => cmd::compare::run(c),
        Command::Report(r) => cmd::report::run(r),
        Command::Generate(g) => cmd::generate::run(g),
        Command::IpRanges(c) => cmd::ip_ranges::run(c),
    };
    if let Err(e) = result {
        eprintln!("flowcost: {e}");
        std::process::exit(e.exit_code());
    }
}
