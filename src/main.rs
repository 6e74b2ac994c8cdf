//! The `flowcost` binary: parse the command line, run the subcommand, map errors to exit codes.

use clap::Parser;
use flowcost::cli::{Cli, Command};
use flowcost::cmd;
use flowcost::error::Outcome;

fn main() {
    let cli = Cli::parse();
    flowcost::format::parquet::quiet_guarded_panics();
    // Interrupted (Ctrl-C, SIGTERM, SIGHUP): remove spilled ENI tables, exit 130.
    let _ = ctrlc::set_handler(|| {
        flowcost::spill::remove_live_dirs();
        // leave no progress bar behind on the terminal
        flowcost::engine::clear_progress();
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprint!("\r\x1b[2K");
        }
        std::process::exit(130);
    });
    let result = match &cli.command {
        Command::Analyze(a) => cmd::analyze::run(&a.args(), &a.scale),
        Command::Merge(m) => cmd::merge::run(m),
        Command::Compare(c) => cmd::compare::run(c),
        Command::Report(r) => cmd::report::run(r),
        Command::Generate(g) => cmd::generate::run(g).map(|()| Outcome::Complete),
        Command::IpRanges(c) => cmd::ip_ranges::run(c).map(|()| Outcome::Complete),
    };
    if std::env::var_os("FLOWCOST_PRINT_PEAK_RSS").is_some() {
        // for the memory-bound tests: the process's own high-water mark, as the kernel saw it
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(l) = status.lines().find(|l| l.starts_with("VmHWM:")) {
                eprintln!("flowcost: {l}");
            }
        }
    }
    match result {
        Ok(outcome) => std::process::exit(outcome.exit_code()),
        // the reader went away (`flowcost … | head`): stop quietly, as other Unix tools do
        Err(flowcost::error::Error::Io { err, .. })
            if err.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            std::process::exit(0)
        }
        Err(e) => {
            // an error may quote the data (ENI ids, names): no control character reaches
            // the terminal
            let said = flowcost::report::escape::clean_lines(e.to_string());
            eprintln!("flowcost: {said}");
            std::process::exit(e.exit_code());
        }
    }
}
