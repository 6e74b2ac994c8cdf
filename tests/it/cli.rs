//! The command line end to end: the README's quick start on the shipped sample data (golden
//! files; `FLOWCOST_BLESS=1` rewrites them), every output format, standard input, exit codes,
//! and the JSON contract's strict round trip.

use std::io::{Read, Write};
use std::path::Path;

use flowcost::analysis::{Counting, WarningKind};
use flowcost::report::Report;

use crate::support::{analyze_json, bin, files_under, run, stderr, stdout};

const SAMPLE_GZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
const SAMPLE_PARQUET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/parquet");

pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("FLOWCOST_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {name}: run FLOWCOST_BLESS=1 cargo test"));
    if want != actual {
        let diff: Vec<String> = want
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  want: {a}\n  got:  {b}", i + 1))
            .collect();
        panic!(
            "{name} differs from the golden file (FLOWCOST_BLESS=1 to accept):\n{}",
            diff.join("\n")
        );
    }
}

/// Paths differ between checkouts; the golden files hold them relative.
pub fn relative(s: &str) -> String {
    s.replace(concat!(env!("CARGO_MANIFEST_DIR"), "/"), "")
}

#[test]
fn quick_start_table_matches_golden() {
    let o = run(&["analyze", SAMPLE_GZ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).is_empty(),
        "no progress bar or chatter when stderr is not a terminal"
    );
    golden("sample-table.txt", &relative(&stdout(&o)));
}

#[test]
fn json_markdown_and_csv_match_golden() {
    for (fmt, name) in [
        ("json", "sample.json"),
        ("markdown", "sample.md"),
        ("csv", "sample.csv"),
    ] {
        let o = run(&["analyze", "-q", "--format", fmt, SAMPLE_GZ]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        golden(name, &relative(&stdout(&o)));
    }
}

#[test]
fn the_sample_matches_its_truth_in_both_formats() {
    let truth: flowcost::generate::Truth = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample-data/truth.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for p in [SAMPLE_GZ, SAMPLE_PARQUET] {
        let r = analyze_json(&[p]);
        assert_eq!(r.analysis.classes, truth.nat, "{p}");
    }
}

#[test]
fn json_is_a_strict_round_trip() {
    let o = run(&["analyze", "-q", "--format", "json", SAMPLE_GZ]);
    let text = stdout(&o);
    let r: Report = serde_json::from_str(&text).expect("deny_unknown_fields parse");
    assert_eq!(r.schema, "flowcost.analyze/1");
    let again = serde_json::to_string_pretty(&r).unwrap() + "\n";
    if again != text {
        let at = again
            .bytes()
            .zip(text.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "serialise(parse(x)) != x near: {:?} vs {:?}",
            &again[at.saturating_sub(80)..(at + 80).min(again.len())],
            &text[at.saturating_sub(80)..(at + 80).min(text.len())]
        );
    }
    // an unknown field is refused: the schema is a contract
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["analysis"]["surprise"] = serde_json::json!(1);
    assert!(serde_json::from_value::<Report>(v).is_err());
}

#[test]
fn output_file_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        SAMPLE_GZ,
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).is_empty());
    let from_file: Report = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    // one gzip object through standard input gives the same records as from its path
    let one = std::fs::read_dir(SAMPLE_GZ)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let one = find_first_file(&one);
    let by_path = analyze_json(&[
        "--client-side-estimate",
        "--region",
        "us-east-1",
        one.to_str().unwrap(),
    ]);
    let mut child = bin()
        .args([
            "analyze",
            "-q",
            "--format",
            "json",
            "--client-side-estimate",
            "--region",
            "us-east-1",
            "-",
        ])
        .stdin(std::fs::File::open(&one).unwrap())
        .output()
        .unwrap();
    assert!(child.status.success(), "{}", stderr(&child));
    let by_stdin: Report = serde_json::from_slice(&std::mem::take(&mut child.stdout)).unwrap();
    assert_eq!(by_stdin.analysis.classes, by_path.analysis.classes);
    assert_eq!(
        by_stdin.analysis.quality.lines,
        by_path.analysis.quality.lines
    );
    assert!(from_file.analysis.total > 0);
}

#[test]
fn a_pipe_named_as_a_path_is_read_as_a_stream() {
    // as `flowcost analyze <(zcat …)` names one; gzip and Parquet alike
    for sample in [SAMPLE_GZ, SAMPLE_PARQUET] {
        let one = find_first_file(Path::new(sample));
        let args = ["--client-side-estimate", "--region", "us-east-1"];
        let by_path = analyze_json(&[&args[..], &[one.to_str().unwrap()]].concat());
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: mkfifo is not available here");
            return;
        }
        let writer = {
            let (fifo, one) = (fifo.clone(), one.clone());
            std::thread::spawn(move || {
                let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
                std::io::copy(&mut std::fs::File::open(one).unwrap(), &mut pipe).unwrap();
            })
        };
        let (by_pipe, code) =
            crate::support::analyze_json_code(&[&args[..], &[fifo.to_str().unwrap()]].concat());
        writer.join().unwrap();
        assert_eq!(code, Some(0), "{sample}");
        assert_eq!(by_pipe.analysis.classes, by_path.analysis.classes);
        assert_eq!(
            by_pipe.analysis.quality.lines,
            by_path.analysis.quality.lines
        );
        assert!(by_pipe.analysis.quality.complete);
    }
}

fn find_first_file(p: &Path) -> std::path::PathBuf {
    if p.is_file() {
        return p.to_path_buf();
    }
    let mut entries: Vec<_> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    find_first_file(&entries[0])
}

#[test]
fn exit_codes_are_as_documented() {
    // 2: usage
    assert_eq!(
        run(&["analyze", "/nonexistent/path"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["analyze", "--month", "2026-13", SAMPLE_GZ])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["analyze", "--pull-window", "soon", SAMPLE_GZ])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["analyze", "--nat-ip", "not-an-ip", SAMPLE_GZ])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["bogus-command"]).status.code(), Some(2));
    // 3: no NAT identified
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.log");
    std::fs::write(&f, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 1 eni-a 10.0.0.5 52.216.8.1 1 443 6 1 100 1788220800 1788220860 ACCEPT OK\n").unwrap();
    let o = run(&["analyze", "--region", "us-east-1", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("--client-side-estimate"));
    // 0 with the estimate, and 2 without a region to price it
    assert_eq!(
        run(&[
            "analyze",
            "--client-side-estimate",
            "--region",
            "us-east-1",
            f.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(&["analyze", "--client-side-estimate", f.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    use std::io::Write;
    let header = "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start region\n";
    let member = |body: &str| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    let mut data = member(&format!(
        "{header}eni-nat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 100 1788220800 us-east-1\n"
    ));
    data.extend(member(
        "eni-nat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 23 1788220900 us-east-1\n",
    ));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("two-members.log.gz");
    std::fs::write(&f, data).unwrap();
    let r = analyze_json(&[f.to_str().unwrap()]);
    assert_eq!(r.analysis.classes.s3.download, 123);
    assert_eq!(
        r.analysis.quality.files[0].format,
        Some(flowcost::source::Encoding::Gzip)
    );
}

/// The runs a run's spill note (`FLOWCOST_SHOW_SPILL`) says it wrote.
pub fn spill_runs(note: &str) -> u64 {
    note.split("spilled to disk: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no spill note: {note}"))
}

/// A budget of one ENI makes every worker spill after every input (and every chunk of a split
/// text input): the report must be the same byte for byte, and the spill directory gone.
#[test]
fn spilling_eni_tables_to_disk_changes_nothing_in_the_report() {
    use crate::support::{spec, world};
    use flowcost::generate::{Encoding, FieldSet};
    let w = world(&spec(61, FieldSet::V7), &[Encoding::Gz, Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    crate::bad_input::concatenated(&w, &big);
    let big = big.display().to_string();
    for (path, extra) in [
        (w.path(Encoding::Gz), vec![]),
        (big, vec!["--chunk-size", "8192"]),
    ] {
        let mut base = vec!["analyze", "--format", "json", "-q", "-j", "2", &path];
        base.extend_from_slice(&extra);
        let kept = run(&base);
        assert!(kept.status.success(), "{}", stderr(&kept));
        let tmp = tempfile::tempdir().unwrap();
        let tmp_path = tmp.path().display().to_string();
        let mut spilled_args = base.clone();
        spilled_args.extend_from_slice(&["--max-enis-in-memory", "1", "--temp-dir", &tmp_path]);
        let spilled = bin()
            .args(&spilled_args)
            .env("FLOWCOST_SHOW_SPILL", "1")
            .output()
            .unwrap();
        assert!(spilled.status.success(), "{}", stderr(&spilled));
        let note = stderr(&spilled);
        let runs = spill_runs(&note);
        assert!(runs > 1, "{path}: {note}");
        assert_eq!(stdout(&kept), stdout(&spilled), "{path}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        // the table walked whole on one thread, and in three parts of its runs on three
        let mut one = base.clone();
        one[5] = "1";
        let one = run(&one);
        assert_eq!(stdout(&kept), stdout(&one), "{path} -j 1");
        spilled_args[5] = "3";
        let three = run(&spilled_args);
        assert!(three.status.success(), "{}", stderr(&three));
        assert_eq!(stdout(&kept), stdout(&three), "{path} -j 3, spilled");
    }
}

/// `args` run with `--max-enis-in-memory budget` and a spill directory of its own, its size
/// printed (`FLOWCOST_SHOW_SPILL`), `stdin` given: it succeeds and leaves the directory empty.
fn with_budget(args: &[&str], budget: &str, stdin: Option<&Path>) -> std::process::Output {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.args(args)
        .args(["--max-enis-in-memory", budget, "--temp-dir"])
        .arg(tmp.path())
        .env("FLOWCOST_SHOW_SPILL", "1");
    if let Some(f) = stdin {
        cmd.stdin(std::fs::File::open(f).unwrap());
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "{args:?}"
    );
    o
}

/// `text` gzipped (fast) into `dest`.
fn gzip_to(text: &str, dest: &Path) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    std::fs::write(dest, enc.finish().unwrap()).unwrap();
}

/// One large input read by one worker (at `-j 1`, or from standard input, which is never
/// split) spills its ENI tables as it goes, after each block of text and each batch of
/// Parquet rows its reader hands over, not only at its end: with a budget of one ENI it
/// spills more than once and its report is the one read without a budget, byte for byte.
/// Text on disk (over a block, 1 MiB), gzip inflated whole, plain and gzip text piped in (the
/// gzip stream's records and spilled runs held apart until its last check), a Parquet export
/// on disk and piped in.
/// (Until 2026-12-06 such an input's table grew with its every ENI: a month in one file at
/// `-j 1`, or piped in, was read in memory without bound.)
#[test]
fn one_large_input_read_by_one_worker_spills_as_it_goes() {
    use crate::support::{spec, world};
    use flowcost::generate::{Encoding, FieldSet};
    let w = world(
        &spec(61, FieldSet::V7),
        &[Encoding::Text, Encoding::Parquet],
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let text = crate::bad_input::concatenated(&w, &big);
    assert!(
        text.len() > 2 * flowcost::format::text::BLOCK,
        "{}",
        text.len()
    );
    let gz = dir.path().join("big.log.gz");
    gzip_to(&text, &gz);
    let export = dir.path().join("export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let (big, gz, export) = (big.as_path(), gz.as_path(), export.as_path());
    let cases = [
        ("text", big, false),
        ("gzip", gz, false),
        ("text piped in", big, true),
        ("gzip piped in", gz, true),
        ("parquet", export, false),
        ("parquet piped in", export, true),
    ];
    for (what, file, piped) in cases {
        let path = match piped {
            true => "-".to_string(),
            false => file.display().to_string(),
        };
        let mut args = vec!["analyze", "--format", "json", "-q", "-j", "1"];
        args.extend(["--region", &w.truth.region, &path]);
        let stdin = piped.then_some(file);
        let free = with_budget(&args, "0", stdin);
        let spilled = with_budget(&args, "1", stdin);
        let runs = spill_runs(&stderr(&spilled));
        assert!(
            runs > 1,
            "{what}: spilled {runs} times: {}",
            stderr(&spilled)
        );
        assert_eq!(stdout(&spilled), stdout(&free), "{what}");
        let r: Report = serde_json::from_slice(&spilled.stdout).unwrap();
        assert!(r.analysis.quality.lines.counted > 1000, "{what}");
        let size = std::fs::metadata(file).unwrap().len();
        assert_eq!(r.analysis.quality.files[0].size, size, "{what}");
    }
}

/// A Parquet file piped in that is longer than what is held in memory (16 MiB) is written
/// to an unnamed file under `--temp-dir` (nothing left there) and read from it: the answer
/// the file gives read by path, and the one its records give without the padding column
/// that makes it long. (Until 2026-12-07 it was held in memory, and refused past 1 GiB.)
#[test]
fn a_long_parquet_stream_is_spooled_and_read_as_its_file() {
    use crate::support::{spec, world};
    use flowcost::generate::{Encoding, FieldSet};
    let w = world(&spec(62, FieldSet::V5), &[Encoding::Parquet]);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let long = dir.path().join("long.parquet");
    let over = flowcost::source::WHOLE_GZIP_MAX + (1 << 20);
    crate::support::padded_parquet(&export, &long, over);
    let args = [
        "analyze",
        "--format",
        "json",
        "-q",
        "--region",
        &w.truth.region,
    ];
    let by_path = |file: &Path| analyze_json(&[&args[4..], &[file.to_str().unwrap()]].concat());
    let (long_by_path, export_by_path) = (by_path(&long), by_path(&export));
    // (read in one piece, and, in parts of 4 KiB, a part a worker, as the file on disk is)
    for parts in [&[][..], &["-j", "2", "--chunk-size", "4096"]] {
        let piped = with_budget(&[&args[..], parts, &["-"]].concat(), "0", Some(&long));
        let piped: Report = serde_json::from_slice(&piped.stdout).unwrap();
        for by_path in [&long_by_path, &export_by_path] {
            let what = format!("{parts:?} {}", by_path.analysis.quality.files[0].path);
            assert_eq!(piped.analysis.classes, by_path.analysis.classes, "{what}");
            assert_eq!(piped.analysis.by_day, by_path.analysis.by_day, "{what}");
            let lines = |r: &Report| r.analysis.quality.lines.clone();
            assert_eq!(lines(&piped), lines(by_path), "{what}");
        }
        assert!(piped.analysis.quality.lines.counted > 1000);
        let size = std::fs::metadata(&long).unwrap().len();
        assert_eq!(piped.analysis.quality.files[0].size, size, "{parts:?}");
    }
}

/// One large text input split among workers spills each chunk's table as the chunk is read,
/// a block (1 MiB) at a time, not only at the chunk's end: chunks of 3 MB of three blocks
/// each, with a budget of one ENI, spill at least twice a chunk (spilled only at their ends
/// and where two workers' tables merge, they could spill at most once a chunk and once a
/// merge, fewer times than twice the chunks), and the report is the one read without a
/// budget, byte for byte. Plain text and gzip (inflated by the reader thread, its chunks'
/// runs held until its last check), and a text whose layout changes after its first chunks
/// (read again whole: the runs the chunks spilled are dropped, not counted twice).
/// (Until 2026-12-07 a chunk's table grew with the ENIs of its 4 MiB: a million NODATA lines
/// of as many ENIs took 108 MB at `-j 2`, 29 MB at `-j 1`.)
#[test]
fn a_large_text_input_split_among_workers_spills_as_its_chunks_are_read() {
    use crate::support::{spec, world};
    use flowcost::generate::{Encoding, FieldSet, Spec};
    let w = world(
        &Spec {
            days: 1,
            tasks_per_day: 300,
            ..spec(62, FieldSet::V7)
        },
        &[Encoding::Text],
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let text = crate::bad_input::concatenated(&w, &big);
    const CHUNK: usize = 3_000_000;
    const { assert!(CHUNK > 2 * flowcost::format::text::BLOCK) };
    let chunks = text.len().div_ceil(CHUNK) as u64;
    assert!(chunks >= 8, "split: {} bytes", text.len());
    let gz = dir.path().join("big.log.gz");
    gzip_to(&text, &gz);
    // and the text followed by a header of another layout and its lines: the chunks' results,
    // their runs spilled at pauses among them, are dropped and the file read again whole
    let v5 = world(&spec(63, FieldSet::V5), &[Encoding::Text]);
    let mixed = dir.path().join("mixed.log");
    let v5_text = crate::bad_input::concatenated(&v5, &dir.path().join("v5.log"));
    std::fs::write(&mixed, text.clone() + &v5_text).unwrap();
    let chunk = CHUNK.to_string();
    for file in [&big, &gz, &mixed] {
        let path = file.display().to_string();
        let mut args = vec!["analyze", "--format", "json", "-q", "-j", "2"];
        args.extend(["--chunk-size", &chunk, "--region", &w.truth.region, &path]);
        let free = with_budget(&args, "0", None);
        let spilled = with_budget(&args, "1", None);
        let runs = spill_runs(&stderr(&spilled));
        assert!(
            runs >= 2 * chunks,
            "{path}: {chunks} chunks spilled {runs} times: {}",
            stderr(&spilled)
        );
        assert_eq!(stdout(&spilled), stdout(&free), "{path}");
        let r: Report = serde_json::from_slice(&spilled.stdout).unwrap();
        assert!(r.analysis.quality.lines.counted > 10_000, "{path}");
    }
}

/// Under a low limit on open files (48: the walks then merge 8 runs at a time, where a fixed
/// 64 could not open them), a run that spills many tables still finishes, with the same
/// report as without the limit.
#[cfg(unix)]
#[test]
fn a_low_open_file_limit_costs_merge_passes_not_the_run() {
    use crate::support::{spec, world};
    use flowcost::generate::{Encoding, FieldSet};
    use std::os::unix::process::CommandExt;
    let w = world(&spec(61, FieldSet::V7), &[Encoding::Gz]);
    let path = w.path(Encoding::Gz);
    let args = [
        "analyze",
        "--format",
        "json",
        "-q",
        "-j",
        "2",
        "--max-enis-in-memory",
        "1",
        &path,
    ];
    let free = run(&args);
    assert!(free.status.success(), "{}", stderr(&free));
    let mut limited = bin();
    limited.args(args).env("FLOWCOST_SHOW_SPILL", "1");
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limit.
    unsafe {
        limited.pre_exec(|| {
            let r = libc::rlimit {
                rlim_cur: 48,
                rlim_max: 48,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &r) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let limited = limited.output().unwrap();
    assert!(limited.status.success(), "{}", stderr(&limited));
    let note = stderr(&limited);
    let runs = spill_runs(&note);
    assert!(runs > 64, "{note}");
    assert_eq!(stdout(&free), stdout(&limited));
}

#[test]
fn a_temp_dir_that_is_not_a_directory_is_a_usage_error() {
    let o = run(&["analyze", "--temp-dir", "/no/such/dir", SAMPLE_GZ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--temp-dir"));
}

/// Ctrl-C in the middle of a run that has spilled: exit 130 and no run files left behind.
/// One input is a named pipe nobody writes to, so the run is still going when interrupted.
#[cfg(unix)]
#[test]
fn an_interrupted_run_removes_its_spilled_tables() {
    use crate::support::files_under;
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for (i, f) in files_under(Path::new(SAMPLE_GZ)).iter().enumerate() {
        std::fs::copy(f, inputs.join(format!("{i:04}.log.gz"))).unwrap();
    }
    let fifo = inputs.join("zz-never-written.log");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    let mut child = bin()
        .args(["analyze", "-q", "-j", "2", "--max-enis-in-memory", "1"])
        .arg("--temp-dir")
        .arg(&spill)
        .arg(&inputs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&spill).unwrap().count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no spill directory appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
}

/// A partial result of a period its logs cover none of carries the mark its merge alone
/// gives (exit 10), where a partial of a period they cover carries none.
#[test]
fn a_partial_of_a_period_its_logs_cover_none_of_is_marked_as_its_merge_is() {
    let nat = analyze_json(&[SAMPLE_GZ]).analysis.gateways[0].eni.clone();
    let dir = tempfile::tempdir().unwrap();
    let partial = |name: &str, range: &[&str]| {
        let out = dir.path().join(name).display().to_string();
        let mut args = vec!["analyze", "-q", "--nat-eni", &nat, "--partial-out", &out];
        args.extend_from_slice(range);
        args.push(SAMPLE_GZ);
        (run(&args), out)
    };
    let (o, empty) = partial("december.fcp", &["--month", "2026-12"]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("NO LOGGED TIME: the logs cover none of the period (2026-12-01T00:00:00Z .. 2027-01-01T00:00:00Z)"), "{e}");
    assert!(
        e.contains(
            "the partial result was written, marked as showing none of its period's traffic (exit 10)"
        ),
        "{e}"
    );
    let merged = run(&["merge", "-q", "--format", "json", &empty]);
    assert_eq!(merged.status.code(), Some(10), "{}", stderr(&merged));
    // the sample's day, asked for as a range: covered, no mark
    let (o, day) = partial(
        "day.fcp",
        &["--since", "2026-09-01", "--until", "2026-09-02"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("NO LOGGED TIME"), "{}", stderr(&o));
    let merged = run(&["merge", "-q", "--format", "json", &day]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
}

#[test]
fn an_empty_window_with_the_nat_named_is_a_report_of_zero_bytes() {
    // the sample's NAT ENI, and a window with no record in it (the sample is 2026-09-01)
    let r = analyze_json(&[SAMPLE_GZ]);
    let nat = r.analysis.gateways[0].eni.clone();
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--nat-eni",
        &nat,
        "--month",
        "2026-12",
        SAMPLE_GZ,
    ]);
    // (written, and marked: nothing logged in the month is no finding of zero bytes)
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("NO LOGGED TIME: the logs cover none of the period (2026-12-01T00:00:00Z .. 2027-01-01T00:00:00Z)"), "{e}");
    assert!(
        e.contains("marked as showing none of its period's traffic (exit 10)"),
        "{e}"
    );
    let z: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(z.analysis.total, 0);
    assert_eq!(z.analysis.method.counting, Counting::NatEni);
    let notes = z.analysis.quality.notes.join("\n");
    assert!(
        notes.contains("No record falls in the time range"),
        "{notes}"
    );
    assert!(notes.contains("the data spans 2026-09-01"), "{notes}");
    // both notes are warnings, by kind in the JSON
    let kinds: Vec<WarningKind> = (z.analysis.quality.warnings.iter())
        .map(|w| w.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            WarningKind::GivenNatsNotCounted,
            WarningKind::NoRecordInTimeRange
        ]
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        json["analysis"]["quality"]["warnings"][1]["kind"],
        "no_record_in_time_range"
    );
    assert!(stderr(&o).contains("NOTHING COUNTED"), "{}", stderr(&o));
    // which says where the named gateway went, once
    let said = stderr(&o).matches("appear in no counted record").count();
    assert_eq!(said, 1, "{}", stderr(&o));
    // the table says so on its first line
    let o = run(&[
        "analyze",
        "--nat-eni",
        &nat,
        "--month",
        "2026-12",
        SAMPLE_GZ,
    ]);
    assert!(
        stdout(&o).starts_with("NOTHING COUNTED: "),
        "{}",
        stdout(&o)
    );

    // a mistyped or stale ENI while other ENIs show NAT translation: no report of zero bytes
    // (exit 3), the message naming it and the ENIs that do translate
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--nat-eni",
        "eni-typo",
        SAMPLE_GZ,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the NAT gateways given (eni-typo) appear in no counted record"),
        "{err}"
    );
    let mut translating: Vec<&str> = r.analysis.gateways.iter().map(|g| g.eni.as_str()).collect();
    translating.sort();
    assert!(
        err.contains(&format!("--nat-eni {}", translating.join(","))),
        "{err}"
    );
    // one of them named with it, the other translating unnamed: the typo stands for the
    // other, whose bytes would be missing (exit 3, the flag to pass naming both)
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--nat-eni",
        &format!("eni-typo,{}", translating[0]),
        SAMPLE_GZ,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "the NAT gateway(s) given eni-typo appear in no counted record, while {}, not given, shows NAT address translation",
            translating[1]
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("--nat-eni {}", translating.join(","))),
        "{err}"
    );

    // a task's ENI named for the gateway: it is in the records, but shows no address
    // translation while the gateways do; its own traffic was the report, exit 0 (exit 3 now,
    // naming the ENIs that translate); beside a real gateway, the same
    let task = r.analysis.top_clients[0].enis[0].clone();
    for given in [task.clone(), format!("{task},{}", translating[0])] {
        let o = run(&["analyze", "-q", "--nat-eni", &given, SAMPLE_GZ]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "the NAT gateway ENI(s) given {task} show no NAT address translation in any record"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("--nat-eni {}", translating.join(","))),
            "{err}"
        );
    }

    // several ENIs in one `--nat-eni`, separated by commas, are the same as one flag each;
    // a value that is no ENI id (two ids with a space, a NAT gateway's `nat-…` id) is refused
    // before anything is read, where it would have given zero bytes with a warning
    let enis: Vec<&str> = r.analysis.gateways.iter().map(|g| g.eni.as_str()).collect();
    let mut each = vec!["analyze", "-q", "--format", "json"];
    for e in &enis {
        each.extend(["--nat-eni", e]);
    }
    let listed = enis.join(",");
    let one = ["analyze", "-q", "--format", "json", "--nat-eni", &listed];
    let (a, b) = (
        run(&[&each[..], &[SAMPLE_GZ]].concat()),
        run(&[&one[..], &[SAMPLE_GZ]].concat()),
    );
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    let given: Report = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(given.analysis.total, r.analysis.total);
    for bad in [
        "eni-0a1b2c3d eni-0f9e8d7c",
        "nat-0a1b2c3d4e5f60718",
        "eni-",
        "eni-0a;b",
    ] {
        let o = run(&["analyze", "-q", "--nat-eni", bad, SAMPLE_GZ]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not an ENI id"),
            "{bad}: {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{bad}");
    }

    // without the NAT named, an empty window says why first, and never that no ENI looks
    // like a NAT in data that has one
    let o = run(&["analyze", "--month", "2026-12", SAMPLE_GZ]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(err.contains("no record in the time range"), "{err}");
    assert!(err.contains("the data spans 2026-09-01"), "{err}");
    assert!(!err.contains("No ENI in the data looks like"), "{err}");
}

#[test]
fn input_that_parses_to_nothing_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("passwd");
    std::fs::write(
        &f,
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
    )
    .unwrap();
    let o = run(&["analyze", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(err.contains("0 of 2 lines parsed"), "{err}");
    assert!(err.contains("expected 14 fields"), "{err}");
    assert!(err.contains("--fields"), "{err}");
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let o = run(&["analyze", empty.to_str().unwrap()]);
    assert!(stderr(&o).contains("no line at all"), "{}", stderr(&o));
    // with the estimate asked for, the report itself says nothing was counted
    let o = run(&[
        "analyze",
        "--client-side-estimate",
        "--region",
        "us-east-1",
        f.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).starts_with("NOTHING COUNTED: "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn impossible_flags_are_usage_errors() {
    for args in [
        vec!["analyze", "-j", "100000", SAMPLE_GZ],
        vec!["analyze", "-j", "0", SAMPLE_GZ],
        vec!["analyze", "--concurrency", "100000", SAMPLE_GZ],
        vec!["analyze", "--since", "2026-02-30", SAMPLE_GZ],
        vec!["analyze", "--since", "2026-09-31", SAMPLE_GZ],
        vec!["analyze", "--until", "2026-9-1", SAMPLE_GZ],
        vec!["analyze", "--month", "2026-9", SAMPLE_GZ],
        vec!["analyze", "--read-timeout", "forever", SAMPLE_GZ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(stderr(&run(&["analyze", "-j", "100000", SAMPLE_GZ]))
        .contains("--threads must be between 1 and"));
    // the ip-ranges document is read while the inputs are listed: its error is still told
    // before theirs, and a flag's before a missing input's, as when one followed the other
    let dir = tempfile::tempdir().unwrap();
    let (bad, gone) = (dir.path().join("bad.json"), dir.path().join("gone"));
    std::fs::write(&bad, "{").unwrap();
    let (bad, gone) = (bad.to_str().unwrap(), gone.to_str().unwrap());
    let o = run(&["analyze", "--ip-ranges", bad, gone]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.json") && !stderr(&o).contains("gone"));
    let o = run(&["analyze", "--since", "2026-02-30", gone]);
    assert!(stderr(&o).contains("2026-02-30") && !stderr(&o).contains("gone"));
    let o = run(&["analyze", gone]);
    assert!(stderr(&o).contains("gone"), "{}", stderr(&o));
    // compare: a bad period says what is wrong, a reversed one is not taken for a path
    for (before, why) in [
        ("2026-09-01..2026-02-30", "`2026-02-30` is not a date"),
        ("2026-09-05..2026-09-01", "ends before it starts"),
    ] {
        let o = run(&[
            "compare", "--before", before, "--after", "2026-09", SAMPLE_GZ,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
    }
    // overlapping periods: a warning, and the comparison still runs
    let o = run(&[
        "compare",
        "--before",
        "2026-09-01..2026-09-01",
        "--after",
        "2026-09-01T12:00..2026-09-02",
        "-q",
        "--format",
        "json",
        SAMPLE_GZ,
    ]);
    assert!(stderr(&o).contains("periods overlap"), "{}", stderr(&o));
}

#[test]
fn the_same_data_given_twice_is_read_once() {
    let once = analyze_json(&[SAMPLE_GZ]);
    let total = once.analysis.total;
    // the same folder twice, and the whole sample (each delivery as gzip and as Parquet)
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data");
    for args in [vec![SAMPLE_GZ, SAMPLE_GZ], vec![sample]] {
        let o = run(&[&["analyze", "-q", "--format", "json"][..], &args[..]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r.analysis.total, total, "{args:?}");
        assert_eq!(
            r.analysis.quality.files.len(),
            once.analysis.quality.files.len()
        );
        assert!(stderr(&o).contains("read once"), "{}", stderr(&o));
        assert!(r
            .analysis
            .quality
            .notes
            .iter()
            .any(|n| n.contains("read once")));
    }
    // a copy under another name
    let dir = tempfile::tempdir().unwrap();
    let one = find_first_file(Path::new(SAMPLE_GZ));
    std::fs::copy(&one, dir.path().join("a.log.gz")).unwrap();
    std::fs::copy(&one, dir.path().join("b.log.gz")).unwrap();
    let r = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--client-side-estimate",
        "--region",
        "us-east-1",
        dir.path().to_str().unwrap(),
    ]);
    let r: Report =
        serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&r)));
    assert_eq!(r.analysis.quality.files.len(), 1);
    assert!(r
        .analysis
        .quality
        .notes
        .iter()
        .any(|n| n.contains("same bytes")));
    // the sample's deliveries under names of no AWS form, each beside its decompressed copy
    // (`gunzip -k`), some compressed again apart: the answer of the gzip files alone
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let files = files_under(Path::new(SAMPLE_GZ));
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(f, dir.path().join(format!("{i:03}.gz"))).unwrap();
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        std::fs::write(plain.join(format!("{i:03}")), &text).unwrap();
        if i % 3 == 0 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&text).unwrap();
            std::fs::write(
                dir.path().join(format!("{i:03}.fast.gz")),
                e.finish().unwrap(),
            )
            .unwrap();
        }
    }
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--region",
        "us-east-1",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.analysis.total, total);
    assert_eq!(r.analysis.quality.files.len(), files.len());
    let copies = files.len() + files.len().div_ceil(3);
    let note = format!("{copies} input(s) hold the same text as another");
    assert!(stderr(&o).contains(&note), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn symbolic_links_inside_folders() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let files: Vec<_> = crate::support::files_under(Path::new(SAMPLE_GZ));
    std::fs::copy(&files[0], logs.join("sub/a.log.gz")).unwrap();
    std::fs::copy(&files[1], outside.join("b.log.gz")).unwrap();
    symlink(logs.join("sub/a.log.gz"), logs.join("again.log.gz")).unwrap(); // inside: read once
    symlink(&logs, logs.join("sub/loop")).unwrap(); // a loop
    symlink(dir.path().join("nothing.log"), logs.join("gone.log")).unwrap(); // dangling
    symlink(outside.join("b.log.gz"), logs.join("ext.log.gz")).unwrap(); // outside
    let args = [
        "analyze",
        "-q",
        "--format",
        "json",
        "--client-side-estimate",
        "--region",
        "us-east-1",
    ];
    let o = run(&[&args[..], &[logs.to_str().unwrap()]].concat());
    // the dangling link is an input that could not be read: reported, the run incomplete
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = r
        .analysis
        .quality
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("gone.log")));
    let err = stderr(&o);
    assert!(err.contains("not followed"), "{err}");
    assert!(err.contains("walked once"), "{err}");
    // --follow reads the link that leaves the folder
    let o = run(&[&args[..], &["--follow", logs.to_str().unwrap()]].concat());
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.analysis.quality.files.len(), 3);
    // a link named on the command line is followed
    let o = run(&[&args[..], &[logs.join("ext.log.gz").to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_month_over_one_day_of_logs_projects_from_the_day() {
    let plain = analyze_json(&[SAMPLE_GZ]);
    let month = analyze_json(&["--month", "2026-09", SAMPLE_GZ]);
    assert_eq!(month.analysis.period.days, 30.0);
    assert_eq!(month.analysis.period.covered_days, 1.0);
    assert_eq!(
        month.cost.s3_gateway_endpoint_savings.per_30_days,
        plain.cost.s3_gateway_endpoint_savings.per_30_days,
        "the same logs project the same saving, whatever the period asked for"
    );
    assert!(month
        .analysis
        .quality
        .notes
        .iter()
        .any(|n| n.contains("The logs cover 1.00 of the 30.00 days")));
    let o = run(&["analyze", "--month", "2026-09", SAMPLE_GZ]);
    assert!(
        stdout(&o).contains("the logs cover 1.00 of 30.00 days"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    // the reader goes away after the first line (as `| head -1` does)
    let mut child = bin()
        .args(["analyze", "-q", "--format", "json", SAMPLE_GZ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// The binary with none of the user's AWS configuration.
fn without_aws() -> std::process::Command {
    let mut c = bin();
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1");
    c
}

#[test]
fn s3_failures_read_as_one_plain_sentence() {
    // nothing listens on this port
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let args = [
        "analyze",
        "--connect-timeout",
        "1s",
        "--path-style",
        "--endpoint-url",
        &closed,
        "s3://bucket/",
    ];
    // no credentials anywhere
    let o = without_aws().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no AWS credentials found: use --profile"),
        "{err}"
    );
    assert!(err.len() < 300, "one sentence, not an SDK dump: {err}");
    // credentials, but no endpoint there
    let o = without_aws()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("cannot reach the S3 endpoint {closed}")),
        "{err}"
    );
    assert!(err.len() < 300, "{err}");
    // -v adds the SDK's detail
    let o = without_aws().args(args).arg("-v").output().unwrap();
    assert!(stderr(&o).contains("SDK detail:"), "{}", stderr(&o));
    // an unknown profile is refused up front, a known one accepted
    let o = without_aws()
        .args(["analyze", "--profile", "nosuchprofile", "s3://bucket/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--profile nosuchprofile: no such profile"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(
        &cfg,
        "[default]\nregion = us-east-1\n[profile finops]\nregion = eu-west-1\n",
    )
    .unwrap();
    let o = without_aws()
        .env("AWS_CONFIG_FILE", &cfg)
        .args([
            "analyze",
            "--profile",
            "finops",
            "-q",
            "--format",
            "json",
            SAMPLE_GZ,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The long flags a `--help` text lists.
fn listed_flags(help: &str) -> std::collections::BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let t = t
                .strip_prefix("-")
                .filter(|r| !r.starts_with('-'))
                .map_or(t, |r| r.split_once(", ").map_or(t, |x| x.1));
            t.strip_prefix("--")
                .map(|f| f.split([' ', '=', '<']).next().unwrap_or("").to_string())
        })
        .filter(|f| !f.is_empty())
        .collect()
}

#[test]
fn each_help_lists_exactly_the_flags_its_command_accepts() {
    use clap::CommandFactory;
    let cli = flowcost::cli::Cli::command();
    for sub in ["analyze", "compare", "report", "generate"] {
        let o = run(&[sub, "--help"]);
        assert!(o.status.success());
        let listed = listed_flags(&stdout(&o));
        // what the parser knows, hidden flags aside
        let known: std::collections::BTreeSet<String> = cli
            .find_subcommand(sub)
            .unwrap()
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(String::from))
            .chain(["help".to_string()])
            .collect();
        assert_eq!(listed, known, "{sub} --help");
        // and every listed flag is taken by the parser (a value where it wants one)
        for f in &listed {
            let arg = cli
                .find_subcommand(sub)
                .unwrap()
                .get_arguments()
                .find(|a| a.get_long() == Some(f.as_str()));
            let takes_value = arg.is_some_and(|a| a.get_action().takes_values());
            let mut args = vec![sub.to_string(), format!("--{f}")];
            if takes_value {
                args.push("x".into());
            }
            args.push("--help".into());
            let o = bin().args(&args).output().unwrap();
            assert!(
                !stderr(&o).contains("unexpected argument"),
                "{sub} --{f}: {}",
                stderr(&o)
            );
        }
    }
    let help = |sub: &str| listed_flags(&stdout(&run(&[sub, "--help"])));
    for f in ["format", "output"] {
        assert!(
            !help("report").contains(f),
            "report writes a folder: no --{f}"
        );
        assert!(help("compare").contains(f) && help("analyze").contains(f));
    }
    for f in ["since", "until", "month"] {
        assert!(
            !help("compare").contains(f),
            "compare takes --before/--after: no --{f}"
        );
        assert!(help("report").contains(f) && help("analyze").contains(f));
    }
}

/// Run a command line on a pseudo-terminal of 80 columns (util-linux `script`), returning
/// what the terminal received; `None` (with a note) where `script` is missing.
fn on_terminal(command: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("typescript");
    let o = std::process::Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("stty cols 80 rows 24; {command}"))
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .output();
    match o {
        Ok(_) => Some(std::fs::read(&log).unwrap_or_default()),
        Err(_) => {
            eprintln!(
                "NOTE: util-linux `script` is missing: the terminal progress test is not run"
            );
            None
        }
    }
}

#[test]
fn the_progress_bar_fits_the_terminal_and_an_interrupt_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    let bin = env!("CARGO_BIN_EXE_flowcost");
    let o = run(&[
        "generate",
        "-o",
        w.to_str().unwrap(),
        "--days",
        "2",
        "--tasks-per-day",
        "200",
        "--encoding",
        "text",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = w.join("text");
    let Some(tty) = on_terminal(&format!(
        "{bin} analyze -j 1 {} > /dev/null",
        text.display()
    )) else {
        return;
    };
    let shown = String::from_utf8_lossy(&tty);
    // every frame of the bar is one line of at most 80 columns, with the time left
    let frames: Vec<&str> = shown
        .split(['\r', '\n'])
        .map(|f| f.trim_start_matches("\u{1b}[2K"))
        .filter(|f| f.contains(" files"))
        .collect();
    assert!(!frames.is_empty(), "a bar was drawn: {shown:?}");
    for f in &frames {
        assert!(
            f.chars().count() <= 80,
            "{} columns: {f:?}",
            f.chars().count()
        );
        assert!(f.contains(" left"), "an ETA: {f:?}");
    }
    // interrupted: the terminal is left without a bar (standard input that stays open for
    // seconds keeps the run going however fast the files are read)
    let Some(tty) = on_terminal(&format!(
        "sleep 5 | timeout -s INT 0.5 {bin} analyze -j 1 {} - > /dev/null",
        text.display()
    )) else {
        return;
    };
    let shown = String::from_utf8_lossy(&tty);
    // (the log ends with the recorder's own `Script done` line)
    let shown = shown.rsplit_once("Script done").map_or(&*shown, |x| x.0);
    let tail = shown.trim_end_matches(['\r', '\n']);
    assert!(
        tail.ends_with("\r\u{1b}[2K"),
        "the last thing drawn clears the line: {:?}",
        &tail[tail.len().saturating_sub(120)..]
    );
}
