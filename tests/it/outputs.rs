//! Where results are written: never over a file the run reads (a log, in a folder or named;
//! a document; the bill; a partial; the previous report), whatever the command; a pipe or a
//! descriptor's name written through, not replaced by a regular file.

use std::path::Path;

use flowcost::generate::{Encoding, FieldSet};

use crate::support::{files_under, run, spec, stderr, stdout, world};

/// Run flowcost expecting exit 2 and a refusal naming a file the run reads; every file of
/// `kept` must hold the bytes it held before.
fn refused(args: &[&str], kept: &[&Path]) {
    let before: Vec<Vec<u8>> = kept.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains("this run reads that file"),
        "{args:?}: {}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty(), "{args:?}");
    for (p, b) in kept.iter().zip(before) {
        assert_eq!(
            std::fs::read(p).unwrap(),
            b,
            "{args:?}: {} changed",
            p.display()
        );
    }
}

#[test]
fn no_command_writes_over_a_file_it_reads() {
    let w = world(&spec(61, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let log = files_under(Path::new(&logs))[0].clone();
    let log_s = log.display().to_string();
    let tasks = w.ecs_tasks();
    let gateways = w.inventory("nat-gateways.json");
    let bill = files_under(Path::new(&w.cur("csv")))[0].clone();
    let cur = w.cur("csv");
    let parts = tempfile::tempdir().unwrap();
    let daily = crate::support::daily_partials(&logs, 1_788_220_800, 2, parts.path());
    let part = Path::new(&daily[0]);
    // analyze: a log found in the folder, by its path and through a link to it; a document
    for out in ["-o", "--partial-out"] {
        refused(&["analyze", "-q", &logs, out, &log_s], &[&log]);
    }
    #[cfg(unix)]
    {
        let link = parts.path().join("link.txt");
        std::os::unix::fs::symlink(&log, &link).unwrap();
        refused(
            &["analyze", "-q", &logs, "-o", link.to_str().unwrap()],
            &[&log],
        );
    }
    refused(
        &["analyze", "-q", &logs, "--ecs-tasks", &tasks, "-o", &tasks],
        &[Path::new(&tasks)],
    );
    refused(
        &[
            "analyze",
            "-q",
            &logs,
            "--inventory",
            &gateways,
            "-o",
            &gateways,
        ],
        &[Path::new(&gateways)],
    );
    // a file of the bill's folder
    let bill_s = bill.display().to_string();
    refused(
        &["analyze", "-q", &logs, "--cur", &cur, "-o", &bill_s],
        &[&bill],
    );
    // compare: an input of either side
    refused(
        &[
            "compare",
            "-q",
            "--before",
            "2026-09-01..2026-09-01",
            "--after",
            "2026-09-02..2026-09-02",
            &logs,
            "-o",
            &log_s,
        ],
        &[&log],
    );
    // merge: one of the partials
    refused(
        &["merge", "-q", &daily[0], &daily[1], "-o", &daily[1]],
        &[part, Path::new(&daily[1])],
    );
    // report: a report folder holding an input under one of its names, and a report folder
    // that is the previous month's
    let folder = tempfile::tempdir().unwrap();
    let inside = folder.path().join("by-day.csv");
    std::fs::copy(&log, &inside).unwrap();
    let folder_s = folder.path().display().to_string();
    refused(&["report", "-q", &folder_s, "-d", &folder_s], &[&inside]);
    let previous = tempfile::tempdir().unwrap();
    let previous_s = previous.path().display().to_string();
    let o = run(&[
        "report",
        "-q",
        &logs,
        "--month",
        "2026-09",
        "-d",
        &previous_s,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let last = previous.path().join("report.json");
    refused(
        &[
            "report",
            "-q",
            &logs,
            "--month",
            "2026-09",
            "--previous",
            &previous_s,
            "-d",
            &previous_s,
        ],
        &[&last],
    );
    // an output that is no input is written, over an older one as well
    let fine = parts.path().join("report.json");
    for _ in 0..2 {
        let o = run(&[
            "analyze",
            "-q",
            &logs,
            "--format",
            "json",
            "-o",
            fine.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(std::fs::read_to_string(&fine).unwrap().starts_with('{'));
    }
}

#[test]
fn a_descriptor_or_a_pipe_named_as_the_output_is_written_through() {
    let w = world(&spec(62, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let direct = run(&["analyze", "-q", "--format", "json", &logs]);
    assert_eq!(direct.status.code(), Some(0), "{}", stderr(&direct));
    // /dev/fd/1 is the process's standard output, a pipe here: the report comes through it.
    // (Not /dev/stdout, which a build that replaced its output would replace for the whole
    // machine where the tests run as root; no file can be made in /dev/fd. Which names are
    // descriptors' is for the unit tests of `output`.)
    #[cfg(target_os = "linux")]
    {
        let o = run(&[
            "analyze",
            "-q",
            "--format",
            "json",
            &logs,
            "-o",
            "/dev/fd/1",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), stdout(&direct));
        // a partial result through a named pipe: read from it whole, and the pipe stays one
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("partial.fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.is_ok_and(|s| s.success()) {
            let reader = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::read(fifo).unwrap())
            };
            let o = run(&[
                "analyze",
                "-q",
                &logs,
                "--partial-out",
                fifo.to_str().unwrap(),
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            // (before the reader is joined: a pipe replaced was never opened, and its reader
            // waits for ever)
            let meta = std::fs::symlink_metadata(&fifo).unwrap();
            assert!(!meta.is_file(), "the pipe was replaced by a file");
            let bytes = reader.join().unwrap();
            let kept = dir.path().join("partial.fcp");
            std::fs::write(&kept, &bytes).unwrap();
            assert!(flowcost::partial::is_partial_file(kept.to_str().unwrap()));
            let merged = run(&["merge", "-q", "--format", "json", kept.to_str().unwrap()]);
            assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
        } else {
            eprintln!("note: no mkfifo here; the named pipe's case is not tried");
        }
    }
}

#[test]
fn an_output_that_cannot_be_written_fails_the_run_before_it_reads() {
    // a log of malformed lines with --strict fails when read (exit 4): the outputs' checks
    // come first (exit 2)
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, "not a flow log\n").unwrap();
    let bad = bad.to_str().unwrap();
    let afile = dir.path().join("afile");
    std::fs::write(&afile, "x").unwrap();
    let afile = afile.to_str().unwrap();
    let missing = dir.path().join("no-such-folder").join("out.json");
    let missing = missing.to_str().unwrap();
    let under_a_file = format!("{afile}/out.json");
    // a report folder where a folder stands at one of the report's names
    let holed = dir.path().join("holed");
    std::fs::create_dir_all(holed.join("by-day.csv")).unwrap();
    let holed = holed.to_str().unwrap();
    let o = run(&["analyze", "-q", "--strict", bad]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    for (args, flag) in [
        (vec!["analyze", "-q", "--strict", bad, "-o", missing], "-o"),
        (
            vec!["analyze", "-q", "--strict", bad, "-o", &under_a_file],
            "-o",
        ),
        (
            vec!["analyze", "-q", "--strict", bad, "--partial-out", missing],
            "--partial-out",
        ),
        (
            vec![
                "compare", "-q", "--strict", "--before", bad, "--after", afile, "-o", missing,
            ],
            "-o",
        ),
        (
            vec!["report", "-q", "--strict", bad, "-d", afile],
            "--out-dir",
        ),
        (
            vec!["report", "-q", "--strict", bad, "-d", &under_a_file],
            "--out-dir",
        ),
        (
            vec!["report", "-q", "--strict", bad, "-d", holed],
            "--out-dir",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // merge: its partials are opened first (they are small), but nothing is merged
    let w = world(&spec(63, FieldSet::V5), &[Encoding::Gz]);
    let parts = crate::support::daily_partials(&w.path(Encoding::Gz), 1_788_220_800, 1, dir.path());
    let o = run(&["merge", "-q", &parts[0], "-o", missing]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!Path::new(missing).exists());
}

/// A monthly job that writes its report into the folder it reads replaces last month's the
/// next time (the report among the inputs is skipped unread), in every format and as a report
/// folder; the figures are the logs' alone.
#[test]
fn a_report_written_into_the_folder_it_reads_is_replaced_the_next_time() {
    let w = world(&spec(64, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let alone = run(&["analyze", "-q", "--format", "json", &logs]);
    assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
    for (format, name) in [
        ("table", "report.txt"),
        ("csv", "report.csv"),
        ("markdown", "report.md"),
        ("json", "report.json"),
    ] {
        let out = Path::new(&logs).join(name);
        let out = out.to_str().unwrap();
        for _ in 0..2 {
            let o = run(&["analyze", "-q", "--format", format, &logs, "-o", out]);
            assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        }
        let o = run(&["analyze", "-q", "--format", "json", &logs]);
        let (a, b): (flowcost::report::Report, flowcost::report::Report) = (
            serde_json::from_slice(&alone.stdout).unwrap(),
            serde_json::from_slice(&o.stdout).unwrap(),
        );
        assert_eq!(a.analysis.classes, b.analysis.classes, "{format}");
        assert_eq!(a.analysis.gateways, b.analysis.gateways, "{format}");
    }
    for _ in 0..2 {
        let o = run(&["report", "-q", &logs, "--month", "2026-09", "-d", &logs]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}
