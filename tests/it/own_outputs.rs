//! flowcost's own outputs among the flow logs (a monthly job writing its report into the
//! folder it reads): every output of every command is recognised and skipped by name, the
//! figures are those of the logs alone, and `--strict` does not fail on them.

use std::path::{Path, PathBuf};

use flowcost::generate::{Encoding, FieldSet};
use flowcost::report::own::OwnOutput;
use flowcost::report::Report;

use crate::support::{analyze_json, analyze_json_code, files_under, run, spec, stderr, world};

/// Run flowcost; it must exit with `code`. Its standard output.
fn expect(code: i32, args: &[&str]) -> Vec<u8> {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
    o.stdout
}

/// Write every kind of output flowcost makes of `logs` into `out` (reports in each format,
/// incomplete ones and ones that counted nothing, comparisons, a partial result, two report
/// folders with every table).
fn write_every_output(logs: &str, w: &crate::support::GenWorld, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let file = |name: &str| out.join(name).display().to_string();
    for (fmt, ext) in [
        ("table", "txt"),
        ("json", "json"),
        ("csv", "csv"),
        ("markdown", "md"),
    ] {
        let text = expect(0, &["analyze", "-q", "--format", fmt, logs]);
        std::fs::write(file(&format!("analyze.{ext}")), text).unwrap();
        let text = expect(
            0,
            &[
                "compare",
                "-q",
                "--format",
                fmt,
                "--before",
                "2026-09-01..2026-09-01",
                "--after",
                "2026-09-02..2026-09-02",
                logs,
            ],
        );
        std::fs::write(file(&format!("compare.{ext}")), text).unwrap();
    }
    // incomplete (a gzip file cut short) and counted nothing (a NAT gateway that is not there)
    let elsewhere = tempfile::tempdir().unwrap();
    let cut = elsewhere.path().join("cut.log.gz");
    let gz = std::fs::read(&files_under(Path::new(logs))[0]).unwrap();
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    for fmt in ["table", "markdown"] {
        let text = expect(
            7,
            &[
                "analyze",
                "-q",
                "--format",
                fmt,
                logs,
                cut.to_str().unwrap(),
            ],
        );
        assert!(text.starts_with(b"INCOMPLETE") || text.starts_with(b"> **INCOMPLETE"));
        std::fs::write(file(&format!("incomplete-{fmt}.log")), text).unwrap();
        let text = expect(
            10,
            &[
                "analyze",
                "-q",
                "--format",
                fmt,
                "--nat-eni",
                "eni-0",
                "--since",
                "2030-01-01",
                logs,
            ],
        );
        assert!(String::from_utf8_lossy(&text).contains("NOTHING COUNTED"));
        std::fs::write(file(&format!("nothing-{fmt}")), text).unwrap();
    }
    expect(
        0,
        &["analyze", "-q", logs, "--partial-out", &file("day-partial")],
    );
    let mut args = vec![
        "report".to_string(),
        "-q".into(),
        "-d".into(),
        file("report"),
        "--change-at".into(),
        "2026-09-02".into(),
    ];
    args.extend(w.inventory_args());
    args.push(logs.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect(0, &args);
    let previous = file("report/report.json");
    expect(
        0,
        &[
            "report",
            "-q",
            "-d",
            &file("again"),
            "--previous",
            &previous,
            logs,
        ],
    );
}

/// The kind flowcost's own output in `path` is (by its extension), or `None` for files it
/// never reads from a folder and does not recognise (charts, the endpoint plan's scripts).
fn kind_of(path: &Path) -> Option<OwnOutput> {
    let name = path.file_name().unwrap().to_str().unwrap();
    Some(match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => OwnOutput::Csv,
        Some("json") => OwnOutput::Json,
        Some("md") => OwnOutput::Markdown,
        Some("html") => OwnOutput::Html,
        Some("txt") => OwnOutput::Table,
        None if name.contains("partial") => OwnOutput::Partial,
        Some("log") | None if name.contains("markdown") => OwnOutput::Markdown,
        Some("log") | None => OwnOutput::Table,
        Some("svg" | "sh" | "tf") => return None,
        Some(other) => panic!("an output with an unexpected extension: {other}"),
    })
}

/// The analysis without what naming the inputs changes: the inputs' list, and the notes on
/// own outputs and on copies (a report's tables written twice are the same bytes).
fn figures(r: &Report) -> String {
    let mut a = r.analysis.clone();
    a.quality.files.retain(|f| f.skipped.is_none());
    (a.quality.notes).retain(|n| !n.contains("flowcost's own output") && !n.contains("same bytes"));
    serde_json::to_string(&a).unwrap()
}

/// Check that of each set of `files` with the same bytes (read once) exactly one is listed
/// in `r`, skipped as its kind; returns how many sets.
fn listed_once_by_content(r: &Report, files: &[&(PathBuf, Option<OwnOutput>)]) -> usize {
    let mut by_content: std::collections::BTreeMap<Vec<u8>, Vec<&(PathBuf, Option<OwnOutput>)>> =
        Default::default();
    for f in files {
        by_content
            .entry(std::fs::read(&f.0).unwrap())
            .or_default()
            .push(f);
    }
    for same in by_content.values() {
        let listed: Vec<_> = (r.analysis.quality.files.iter())
            .filter(|s| same.iter().any(|(p, _)| Path::new(&s.path) == p))
            .collect();
        assert_eq!(listed.len(), 1, "{same:?}");
        assert!(
            listed[0].skipped.is_some() && listed[0].skipped == same[0].1,
            "{same:?}"
        );
    }
    by_content.len()
}

#[test]
fn own_outputs_among_logs_are_skipped() {
    let w = world(&spec(61, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let gz = w.path(Encoding::Gz);
    for f in files_under(Path::new(&gz)) {
        let to = logs.join(f.strip_prefix(&gz).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, to).unwrap();
    }
    let logs_s = logs.to_str().unwrap();
    let alone = analyze_json(&[logs_s]);
    let out = logs.join("flowcost");
    write_every_output(logs_s, &w, &out);
    let written: Vec<(PathBuf, Option<OwnOutput>)> = files_under(&out)
        .into_iter()
        .map(|p| {
            let k = kind_of(&p);
            (p, k)
        })
        .collect();
    assert!(written.len() > 30, "{written:?}");
    let kind_of_path = |r: &Report, p: &Path| {
        (r.analysis.quality.files.iter())
            .find(|f| Path::new(&f.path) == p)
            .map(|f| f.skipped)
    };

    // a report folder written among them lists them, each with its kind
    let again = dir.path().join("again");
    let o = run(&["report", "-q", "-d", again.to_str().unwrap(), logs_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inputs = std::fs::read_to_string(again.join("inputs.csv")).unwrap();
    let table = out.join("analyze.txt").display().to_string();
    let row = (inputs.lines())
        .find(|l| l.starts_with(&format!("{table},")))
        .unwrap_or_else(|| panic!("{inputs}"));
    assert!(row.ends_with(",0,0,0,0,0,,table"), "{row}");

    // the folder: what it reads of them is skipped, by kind; the figures are the logs'
    let (mixed, code) = analyze_json_code(&["--strict", logs_s]);
    assert_eq!(code, Some(0));
    assert_eq!(figures(&mixed), figures(&alone));
    let read_in_folders = |p: &Path| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            None | Some("csv" | "txt" | "log")
        )
    };
    let in_folder: Vec<_> = written.iter().filter(|(p, _)| read_in_folders(p)).collect();
    for (p, _) in written.iter().filter(|(p, _)| !read_in_folders(p)) {
        assert_eq!(kind_of_path(&mixed, p), None, "{}", p.display());
    }
    let skipped = listed_once_by_content(&mixed, &in_folder);
    assert!(skipped >= 15, "{skipped}");
    let note = (mixed.analysis.quality.notes.iter())
        .find(|n| n.contains("flowcost's own output"))
        .expect("a note names them");
    assert!(note.starts_with(&format!("{skipped} input(s)")), "{note}");
    assert!(mixed.analysis.quality.flow_logs.is_none(), "one flow log");

    // named one by one (a partial named is refused: it is meant for `merge`)
    let aws_logs = logs.join("AWSLogs").display().to_string();
    let mut args = vec!["--strict".to_string(), aws_logs];
    args.extend(
        (written.iter())
            .filter(|(_, k)| k.is_some_and(|k| k != OwnOutput::Partial))
            .map(|(p, _)| p.display().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (named, code) = analyze_json_code(&args);
    assert_eq!(code, Some(0));
    assert_eq!(figures(&named), figures(&alone));
    let recognised: Vec<_> = (written.iter())
        .filter(|(_, k)| k.is_some_and(|k| k != OwnOutput::Partial))
        .collect();
    assert!(listed_once_by_content(&named, &recognised) > skipped);

    // alone, they are nothing to analyse, and the message says what they are
    let table = out.join("analyze.txt");
    let o = run(&["analyze", "-q", table.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("analyze.txt (a table report)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn own_output_on_standard_input_is_skipped() {
    let text = "flowcost: NAT gateway traffic and gateway-endpoint savings\n=====\nPeriod: ...\n";
    let mut c = crate::support::bin();
    c.args(["analyze", "-q", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("- (a table report)"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("flowcost merge"),
        "no partial: no advice to merge"
    );
}

/// A flow log that a report's title follows (text concatenated after the logs) is read as a
/// flow log: only an input that starts as flowcost's output is skipped.
#[test]
fn a_log_with_report_text_after_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.log");
    let log = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
               2 1 eni-nat 10.0.0.10 52.216.8.1 1 2 6 1 100 1788220800 1788220860 ACCEPT OK\n\
               flowcost: NAT gateway traffic and gateway-endpoint savings\n";
    std::fs::write(&f, log).unwrap();
    let (r, code) = analyze_json_code(&[
        "--region",
        "us-east-1",
        "--nat-eni",
        "eni-nat",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.quality.lines.lines, 3);
    assert_eq!(r.analysis.quality.lines.counted, 1);
    assert!(r.analysis.quality.files[0].skipped.is_none());
}
