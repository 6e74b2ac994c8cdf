//! `flowcost report`: analyse a period (a month, or `--since/--until`), optionally split it
//! at a change for a before/after comparison and read the previous report for month over
//! month, then write the report folder (`report::monthly` renders it). Timings go to stderr
//! only, so the files stay byte-identical across reruns.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::cmd::analyze::{self, Config};
use crate::cmd::merge::PartialInputs;
use crate::error::{Error, Outcome};
use crate::report::compare::compare;
use crate::report::monthly::{self, MonthlyReport, Parts, ALL_FILES};
use crate::time;

/// The period's label: the month, or the first and last day.
fn label(args: &ReportArgs, cfg: &Config) -> String {
    if let Some(m) = &args.time.month {
        return m.clone();
    }
    let day = |t: i64| time::format_instant(t).get(..10).unwrap_or("").to_string();
    match (cfg.run.since, cfg.run.until) {
        (Some(s), Some(u)) if s % 86_400 == 0 && u % 86_400 == 0 => {
            format!("{}..{}", day(s), day(u - 1))
        }
        (Some(s), Some(u)) => format!("{}..{}", time::format_instant(s), time::format_instant(u)),
        (Some(s), None) => format!("from {}", time::format_instant(s)),
        (None, Some(u)) => format!("until {}", time::format_instant(u)),
        (None, None) => "all data".into(),
    }
}

fn read_previous(p: &str) -> Result<MonthlyReport, Error> {
    let mut path = PathBuf::from(p);
    if path.is_dir() {
        path.push("report.json");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Usage(format!("--previous {}: {e}", path.display())))?;
    monthly::parse_previous(&text)
        .map_err(|e| Error::Usage(format!("--previous {}: {e}", path.display())))
}

/// Write the folder's files all or nothing: each to a temporary name first, and only when
/// every one is written are they renamed into place and the stale files of an earlier run
/// removed. On a failure (a full disk) the temporary files go, and the folder keeps what it
/// held before (a folder this run created is removed again if it is left empty).
fn write_folder(dir: &Path, files: &[(String, Vec<u8>)], stale: &[PathBuf]) -> Result<(), Error> {
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|err| Error::Io {
        context: format!("creating {}", dir.display()),
        err,
    })?;
    let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
    let undo = |written: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in written {
            let _ = std::fs::remove_file(tmp);
        }
        if created {
            let _ = std::fs::remove_dir(dir);
        }
    };
    for (name, bytes) in files {
        let tmp = dir.join(format!(".{name}.tmp"));
        let path = dir.join(name);
        let result = std::fs::write(&tmp, bytes);
        written.push((tmp, path.clone()));
        if let Err(err) = result {
            undo(&written);
            return Err(Error::Io {
                context: format!(
                    "writing {} (nothing in {} was changed)",
                    path.display(),
                    dir.display()
                ),
                err,
            });
        }
    }
    for (i, (tmp, path)) in written.iter().enumerate() {
        if let Err(err) = std::fs::rename(tmp, path) {
            undo(&written[i..]);
            return Err(Error::Io {
                context: format!("moving {} into place", path.display()),
                err,
            });
        }
    }
    for p in stale {
        if p.exists() {
            std::fs::remove_file(p).map_err(|err| Error::Io {
                context: format!("removing the stale {}", p.display()),
                err,
            })?;
        }
    }
    Ok(())
}

/// Run `flowcost report`.
pub fn run(args: &ReportArgs) -> Result<Outcome, Error> {
    let started = std::time::Instant::now();
    let base = args.base.with(&args.time, &Default::default());
    let cfg = Config::from_args(&base)?;
    // daily (or any) partial results instead of logs: the period's are merged
    let partials = PartialInputs::of(&base)?;
    let period_report = |cfg: &Config| match &partials {
        Some(p) => p.report(cfg.run.since, cfg.run.until, true),
        None => crate::pipeline::run(cfg),
    };
    let previous = args.previous.as_deref().map(read_previous).transpose()?;
    let label = label(args, &cfg);
    let report = period_report(&cfg)?;
    let outcome = analyze::outcome(&report);
    let comparison = match &args.change_at {
        None => None,
        Some(w) => {
            let at = time::parse_instant(w).ok_or_else(|| {
                Error::Usage(format!(
                    "--change-at {w}: expected YYYY-MM-DD[THH:MM[:SS]] or epoch seconds"
                ))
            })?;
            let p = &report.analysis.period;
            let (from, to) = match (p.from, p.to) {
                (Some(f), Some(t)) => (f, t),
                _ => {
                    return Err(Error::Usage(
                        "--change-at: the period is empty (no records)".into(),
                    ))
                }
            };
            if at <= from || at >= to {
                return Err(Error::Usage(format!(
                    "--change-at {w}: not inside the period {} .. {}",
                    time::format_instant(from),
                    time::format_instant(to)
                )));
            }
            let side = |s: i64, u: i64| Config {
                progress: false,
                ..cfg.with_period(s, u)
            };
            let before = period_report(&side(from, at))?;
            let after = period_report(&side(at, to))?;
            Some(compare(before, after, None, args.base.top))
        }
    };
    let doc = monthly::build(Parts {
        label: label.clone(),
        command: std::env::args()
            .skip(1)
            .map(|w| crate::report::escape::redact(&w).into_owned())
            .collect(),
        report,
        previous,
        comparison,
    });
    let files = doc.render_files()?;
    let dir = PathBuf::from(args.out_dir.clone().unwrap_or_else(|| {
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("flowcost-report-{safe}")
    }));
    let stale: Vec<PathBuf> = ALL_FILES
        .iter()
        .filter(|stale| !doc.files.iter().any(|f| f == *stale))
        .map(|f| dir.join(f))
        .collect();
    write_folder(&dir, &files, &stale)?;
    if !args.base.quiet {
        eprintln!(
            "flowcost: report for {label} written to {} ({} files) in {:.2}s",
            dir.display(),
            files.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(outcome)
}
