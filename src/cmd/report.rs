//! `flowcost report`: analyse a period (a month, or `--since/--until`), optionally split it
//! at a change for a before/after comparison (the whole and both parts from one pass over
//! the inputs) and read the previous report for month over
//! month, then write the report folder (`report::monthly` renders it). Timings go to stderr
//! only, so the files stay byte-identical across reruns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::ReportArgs;
use crate::cmd::analyze::{self, Config};
use crate::cmd::merge::PartialInputs;
use crate::error::{Error, Outcome};
use crate::report::compare::{compare, uncovered_side, Comparison};
use crate::report::monthly::{self, MonthlyReport, Parts, ALL_FILES};
use crate::report::Report;
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

/// The file `--previous` names: a report folder's `report.json`, or the file given.
fn previous_file(p: &str) -> PathBuf {
    let mut path = PathBuf::from(p);
    if path.is_dir() {
        path.push("report.json");
    }
    path
}

fn read_previous(p: &str) -> Result<MonthlyReport, Error> {
    let path = previous_file(p);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Usage(format!("--previous {}: {e}", path.display())))?;
    monthly::parse_previous(&text)
        .map_err(|e| Error::Usage(format!("--previous {}: {e}", path.display())))
}

/// Write the folder's files all or nothing: each to a temporary name of its own first (two
/// runs writing one folder at once never share one), and only when every one is written are
/// they renamed into place and the stale files of an earlier run removed. On a failure (a full disk) the temporary files go, and the folder keeps what it
/// held before (a folder this run created is removed again if it is left empty).
fn write_folder(dir: &Path, files: &[(String, Vec<u8>)], stale: &[PathBuf]) -> Result<(), Error> {
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|err| Error::Io {
        context: format!("creating {}", dir.display()),
        err,
    })?;
    // (a temporary file dropped before it is renamed is removed)
    let remove_if_created = || {
        if created {
            let _ = std::fs::remove_dir(dir);
        }
    };
    let mut written = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        let tmp = crate::output::temp_in(dir).and_then(|mut t| {
            t.write_all(bytes)
                .and_then(|()| t.as_file().sync_all())
                .map(|()| t)
        });
        match tmp {
            Ok(tmp) => written.push((tmp, path)),
            Err(err) => {
                drop(written);
                remove_if_created();
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
    }
    let mut written = written.into_iter();
    for (tmp, path) in written.by_ref() {
        if let Err(e) = tmp.persist(&path) {
            drop(written);
            remove_if_created();
            return Err(Error::Io {
                context: format!("moving {} into place", path.display()),
                err: e.error,
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

/// `--change-at`: the instant, or what is wrong with it.
fn change_at(w: &str) -> Result<i64, Error> {
    time::parse_instant(w).ok_or_else(|| {
        Error::Usage(format!(
            "--change-at {w}: expected YYYY-MM-DD[THH:MM[:SS]] or epoch seconds, from 1970 to 9999"
        ))
    })
}

/// The bounds of the period `--change-at` splits (the time range given, else the data's in
/// whole hours), when the change is inside it.
fn split_bounds(w: &str, at: i64, from: Option<i64>, to: Option<i64>) -> Result<(i64, i64), Error> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Error::Usage(
            "--change-at: the period is empty (no records)".into(),
        ));
    };
    if at <= from || at >= to {
        return Err(Error::Usage(format!(
            "--change-at {w}: not inside the period {} .. {}",
            time::format_instant(from),
            time::format_instant(to)
        )));
    }
    Ok((from, to))
}

/// A side of the change: the period's configuration over `since .. until`, quietly.
fn side(cfg: &Config, since: i64, until: i64) -> Config {
    Config {
        progress: false,
        ..cfg.with_period(since, until)
    }
}

/// The period's report and, with a change (`--change-at`, as given and parsed), the
/// before/after comparison, from the flow logs: each input is read once, the whole period
/// and the parts before and after the change taking its records in the same pass.
fn from_logs(
    cfg: &Config,
    change: Option<(&str, i64)>,
    top: usize,
) -> Result<(Report, Option<Comparison>), Error> {
    let Some((w, at)) = change else {
        return Ok((crate::pipeline::run(cfg)?, None));
    };
    let r = &cfg.run;
    let runs = [
        r.clone(),
        Arc::new(r.with_period(r.since, Some(at))),
        Arc::new(r.with_period(Some(at), r.until)),
    ];
    crate::pipeline::with_timelines(cfg, |cfg| {
        let [whole, before, after]: [_; 3] = crate::pipeline::read_periods(cfg, &runs)?
            .try_into()
            .unwrap_or_else(|_| unreachable!("one result per period"));
        let report = crate::pipeline::finish(cfg, whole)?;
        let p = &report.analysis.period;
        let (from, to) = split_bounds(w, at, p.from, p.to)?;
        let before = crate::pipeline::finish(&side(cfg, from, at), before)?;
        let after = crate::pipeline::finish(&side(cfg, at, to), after)?;
        Ok((report, Some(compared(w, before, after, top)?)))
    })
}

/// [`from_logs`] from partial results: the period's partials merged, and those before and
/// after the change.
fn from_partials(
    parts: &PartialInputs,
    cfg: &Config,
    change: Option<(&str, i64)>,
    top: usize,
) -> Result<(Report, Option<Comparison>), Error> {
    let report = parts.report(cfg.run.since, cfg.run.until, true)?;
    let Some((w, at)) = change else {
        return Ok((report, None));
    };
    let p = &report.analysis.period;
    let (from, to) = split_bounds(w, at, p.from, p.to)?;
    let before = parts.report(Some(from), Some(at), true)?;
    let after = parts.report(Some(at), Some(to), true)?;
    Ok((report, Some(compared(w, before, after, top)?)))
}

/// The sides of `--change-at` (as given: `w`) compared, where both have a per-day figure: a
/// side whose logs cover none of its time (the change at the end of the logs, say) is refused
/// as `compare` refuses it, rather than shown as every byte gone.
fn compared(w: &str, before: Report, after: Report, top: usize) -> Result<Comparison, Error> {
    if let Some(why) = uncovered_side(&before, &after) {
        return Err(Error::Uncovered(format!("--change-at {w}: {why}")));
    }
    Ok(compare(before, after, None, top))
}

/// The report folder: `--out-dir`, else `flowcost-report-<label>`.
fn out_dir(args: &ReportArgs, label: &str) -> PathBuf {
    PathBuf::from(args.out_dir.clone().unwrap_or_else(|| {
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
    }))
}

/// Before anything is read: the report folder is one, or can be made, and writing it
/// replaces (or removes as stale) no file the run reads: an input, a document, the bill, or
/// the previous report (`--previous` naming the folder written to).
fn check_out_dir(args: &ReportArgs, cfg: &Config, dir: &Path) -> Result<(), Error> {
    let previous = args.previous.as_deref().map(previous_file);
    let mut reads = args.base.reads(cfg);
    reads
        .documents
        .extend(previous.as_deref().and_then(Path::to_str));
    crate::output::check_folder("--out-dir", dir)?;
    for name in ALL_FILES {
        let file = dir.join(name);
        if std::fs::metadata(&file).is_ok_and(|m| m.is_dir()) {
            // (found only when renaming, after the files before it were in place)
            return Err(Error::Usage(format!(
                "--out-dir {}: {name} there is a folder, where the report writes a file",
                dir.display()
            )));
        }
        crate::output::refuse_overwriting("--out-dir", &file, &reads)?;
    }
    Ok(())
}

/// Run `flowcost report`.
pub fn run(args: &ReportArgs) -> Result<Outcome, Error> {
    let started = std::time::Instant::now();
    let base =
        crate::cmd::merge::with_partial_folders(&args.base.with(&args.time, &Default::default()))?;
    let cfg = Config::from_args(&base)?;
    let change = match &args.change_at {
        None => None,
        Some(w) => Some((w.as_str(), change_at(w)?)),
    };
    if let (Some((w, at)), Some(_), Some(_)) = (change, cfg.run.since, cfg.run.until) {
        // a change outside the time range given is refused before anything is read
        split_bounds(w, at, cfg.run.since, cfg.run.until)?;
    }
    let previous = args.previous.as_deref().map(read_previous).transpose()?;
    let label = label(args, &cfg);
    let dir = out_dir(args, &label);
    check_out_dir(args, &cfg, &dir)?;
    // daily (or any) partial results instead of logs: the period's are merged
    let partials = PartialInputs::of(&base)?.map(|p| p.with_context_of(&cfg));
    let (report, comparison) = match partials {
        Some(parts) => from_partials(&parts, &cfg, change, args.base.top)?,
        None => from_logs(&cfg, change, args.base.top)?,
    };
    let outcome = analyze::outcome(&report);
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
    for text in &doc.history_left_out {
        // (a label from the previous report's file: nothing in it reaches the terminal)
        eprintln!("flowcost: warning: {}", crate::report::escape::clean(text));
    }
    let files = doc.render_files()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_folder_is_written_whole_and_its_temporary_files_never_stay() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("2026-09");
        let files = vec![
            ("report.md".to_string(), b"# September".to_vec()),
            ("by-day.csv".to_string(), b"day,bytes".to_vec()),
        ];
        let stale = [dir.join("history.csv")];
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&stale[0], "from an earlier run").unwrap();
        write_folder(&dir, &files, &stale).unwrap();
        assert_eq!(names(&dir), ["by-day.csv", "report.md"]);
        assert_eq!(
            std::fs::read(dir.join("report.md")).unwrap(),
            b"# September"
        );
        // a file that cannot be moved into place (a folder stands at its name): an error,
        // no temporary file left, the stale file of the earlier run kept
        std::fs::write(&stale[0], "from an earlier run").unwrap();
        std::fs::remove_file(dir.join("by-day.csv")).unwrap();
        std::fs::create_dir(dir.join("by-day.csv")).unwrap();
        std::fs::write(dir.join("by-day.csv").join("x"), "").unwrap();
        let err = write_folder(&dir, &files, &stale).unwrap_err().to_string();
        assert!(err.contains("moving"), "{err}");
        assert_eq!(names(&dir), ["by-day.csv", "history.csv", "report.md"]);
        // a folder this run would create, where no file can be written: nothing is left
        let blocked = root.path().join("blocked");
        std::fs::write(&blocked, "a file").unwrap();
        assert!(write_folder(&blocked.join("sub"), &files, &[]).is_err());
        assert_eq!(names(root.path()), ["2026-09", "blocked"]);
    }

    #[test]
    fn two_runs_writing_one_folder_at_once_each_write_whole_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let run = |b: u8| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let files: Vec<(String, Vec<u8>)> = (ALL_FILES.iter())
                    .map(|n| (n.to_string(), vec![b; 64 << 10]))
                    .collect();
                for _ in 0..40 {
                    write_folder(&dir, &files, &[]).unwrap();
                }
            })
        };
        let (a, b) = (run(b'a'), run(b'b'));
        a.join().unwrap();
        b.join().unwrap();
        for name in ALL_FILES {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(bytes.len(), 64 << 10, "{name}");
            assert!(
                bytes.iter().all(|&x| x == bytes[0]),
                "{name} mixes two runs"
            );
        }
        assert_eq!(names(&dir).len(), ALL_FILES.len());
    }
}
