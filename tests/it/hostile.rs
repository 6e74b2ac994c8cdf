//! Hostile names in the logs (ECS services, subnets, ENI ids, file names) for every output:
//! the terminal table carries no control character, Markdown no markup, CSV no formula, JSON
//! the exact value; from text and from Parquet (whose strings may hold newlines too).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

use crate::support::{run, stderr, stdout};

const T: i64 = 1_788_220_800;
/// Names that try every trick: markup, a link, a formula, terminal escapes, a newline that
/// would end a table row and start a heading.
const SERVICE: &str = "<script>alert(1)</script>\u{1b}]0;pwned\u{7}";
const SUBNET: &str = "=HYPERLINK(\"http://evil\")";
const TASK: &str = "[x](javascript:alert(2))\u{1b}[2J";
const NEWLINE_NAME: &str = "svc\n# Injected heading\n| fake | row |";

/// The rows: a NAT's four legs for one client, and the client's own two records.
fn rows(service: &str) -> Vec<[String; 15]> {
    // (ENI, srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr, bytes); the client's rows carry the names
    let flows: [(&str, &str, &str, &str, &str, u64); 6] = [
        (
            "eni-nat",
            "10.0.1.5",
            "10.0.0.10",
            "10.0.1.5",
            "52.216.8.1",
            1_000,
        ),
        (
            "eni-nat",
            "10.0.0.10",
            "52.216.8.1",
            "10.0.0.10",
            "52.216.8.1",
            1_000,
        ),
        (
            "eni-nat",
            "52.216.8.1",
            "10.0.0.10",
            "52.216.8.1",
            "10.0.0.10",
            90_000,
        ),
        (
            "eni-nat",
            "10.0.0.10",
            "10.0.1.5",
            "52.216.8.1",
            "10.0.1.5",
            90_000,
        ),
        (
            "eni-task",
            "10.0.1.5",
            "52.216.8.1",
            "10.0.1.5",
            "52.216.8.1",
            1_000,
        ),
        (
            "eni-task",
            "52.216.8.1",
            "10.0.1.5",
            "52.216.8.1",
            "10.0.1.5",
            90_000,
        ),
    ];
    flows
        .iter()
        .map(|&(eni, src, dst, ps, pd, b)| {
            let (subnet, svc, task) = if eni == "eni-task" {
                (SUBNET, service, TASK)
            } else {
                ("subnet-pub", "-", "-")
            };
            [
                eni,
                src,
                dst,
                ps,
                pd,
                &b.to_string(),
                &T.to_string(),
                &(T + 60).to_string(),
                "ACCEPT",
                "OK",
                "us-east-1",
                "use1-az1",
                subnet,
                svc,
                task,
            ]
            .map(String::from)
        })
        .collect()
}

const NAMES: [&str; 15] = [
    "interface-id",
    "srcaddr",
    "dstaddr",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "region",
    "az-id",
    "subnet-id",
    "ecs-service-name",
    "ecs-task-id",
];

fn write_text(dir: &Path) -> std::path::PathBuf {
    // (text tokens cannot hold spaces or newlines; everything else goes)
    let svc = SERVICE.replace(' ', "");
    let mut s = NAMES.join(" ") + "\n";
    for r in rows(&svc) {
        s += &(r.join(" ") + "\n");
    }
    let f = dir.join("=cmd|' <img src=x onerror=alert(3)>.log");
    std::fs::write(&f, s).unwrap();
    f
}

fn write_parquet(dir: &Path) -> std::path::PathBuf {
    let rows = rows(&format!("{SERVICE}{NEWLINE_NAME}"));
    let cols: Vec<(String, ArrayRef)> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let name = n.replace('-', "_");
            let vals: Vec<&str> = rows.iter().map(|r| r[i].as_str()).collect();
            let a: ArrayRef = if matches!(*n, "bytes" | "start" | "end") {
                Arc::new(Int64Array::from(
                    vals.iter()
                        .map(|v| v.parse::<i64>().unwrap())
                        .collect::<Vec<_>>(),
                ))
            } else {
                Arc::new(StringArray::from(
                    vals.iter()
                        .map(|v| (*v != "-").then_some(*v))
                        .collect::<Vec<_>>(),
                ))
            };
            (name, a)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let f = dir.join("hostile\u{1b}[31m.log.parquet");
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&f).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    f
}

/// Cells of a CSV text (RFC 4180 quoting).
fn csv_cells(text: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',' | '\n', false) => cells.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    cells.push(cur);
    cells
}

fn assert_safe_csv(what: &str, text: &str) {
    for cell in csv_cells(text) {
        let formula =
            cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
        assert!(!formula, "{what}: a formula cell {cell:?}");
        assert!(!cell.contains('\u{1b}'), "{what}: ESC in {cell:?}");
    }
}

fn assert_safe_md(what: &str, md: &str) {
    for raw in ["<script", "<img", "](javascript", "\u{1b}", "\u{7}"] {
        assert!(!md.contains(raw), "{what}: raw `{raw:?}`");
    }
    for line in md.lines() {
        assert!(!line.starts_with("# Injected"), "{what}: injected heading");
        assert!(!line.starts_with("| fake"), "{what}: injected row");
    }
}

#[test]
fn hostile_names_are_inert_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    for input in [write_text(dir.path()), write_parquet(dir.path())] {
        let p = input.to_str().unwrap();
        let what = |f: &str| format!("{f} of {}", input.display());
        let go = |fmt: &str| {
            let o = run(&["analyze", "-q", "--format", fmt, "--nat-eni", "eni-nat", p]);
            assert!(o.status.success(), "{}", stderr(&o));
            stdout(&o)
        };
        let table = go("table");
        assert!(!table.contains(['\u{1b}', '\u{7}']), "{}", what("table"));
        assert!(table.contains("\\x1b"), "the escape is shown, not sent");
        let md = go("markdown");
        assert_safe_md(&what("markdown"), &md);
        assert!(
            md.contains("&lt;script&gt;alert(1)"),
            "the name is shown, escaped: {md}"
        );
        assert_safe_csv(&what("csv"), &go("csv"));
        let json: flowcost::report::Report = serde_json::from_str(&go("json")).unwrap();
        let services: Vec<&str> = json
            .analysis
            .by_ecs_service
            .iter()
            .map(|g| g.key.as_str())
            .collect();
        assert!(
            services.iter().any(|s| s.starts_with("<script>")),
            "{services:?}"
        );
        // the monthly folder
        let out = dir.path().join("out");
        let o = run(&[
            "report",
            "-q",
            "--nat-eni",
            "eni-nat",
            "-d",
            out.to_str().unwrap(),
            p,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert_safe_md(&what("report.md"), &md);
        assert!(
            md.contains("\\[x\\](javascript") || md.contains("HYPERLINK"),
            "{md}"
        );
        let clients = std::fs::read_to_string(out.join("top-clients.csv")).unwrap();
        assert!(
            clients.contains("'=HYPERLINK"),
            "the subnet is there, as text: {clients}"
        );
        for e in std::fs::read_dir(&out).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "csv") {
                assert_safe_csv(
                    &what(&path.display().to_string()),
                    &std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        for raw in ["<script>alert", "<img src=x", "\u{1b}"] {
            assert!(!html.contains(raw), "{}: raw {raw:?}", what("report.html"));
        }
    }
}

#[test]
fn credentials_in_urls_are_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_text(dir.path());
    let out = dir.path().join("out");
    // a local input, so the endpoint is never contacted; it is only recorded
    let o = run(&[
        "report",
        "-q",
        "--nat-eni",
        "eni-nat",
        "--endpoint-url",
        "http://user:hunter2@127.0.0.1:9",
        "-d",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["report.md", "report.html", "report.json"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!text.contains("hunter2"), "{f} records the password");
        assert!(text.contains("REDACTED@127.0.0.1"), "{f}");
    }
}

#[test]
fn hostile_ecs_task_services_and_flow_log_ids_are_inert() {
    // a NAT-only generated world whose describe-tasks output names every service with markup
    // and escapes, read beside a second flow log whose id in the file names carries markup
    use flowcost::generate::{Encoding, FieldSet};
    let mut s = crate::support::spec(18, FieldSet::V5);
    s.nat_only = true;
    s.tasks_per_day = 20;
    let w = crate::support::world(&s, &[Encoding::Gz]);
    let mut tasks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.ecs_tasks()).unwrap()).unwrap();
    for t in tasks["tasks"].as_array_mut().unwrap() {
        t["group"] = format!("service:{SERVICE}").into();
    }
    let dir = tempfile::tempdir().unwrap();
    let tasks_file = dir.path().join("tasks.json");
    std::fs::write(&tasks_file, serde_json::to_vec(&tasks).unwrap()).unwrap();
    let second = dir.path().join("second");
    std::fs::create_dir(&second).unwrap();
    for f in crate::support::files_under(Path::new(&w.path(Encoding::Gz))) {
        let name = f.file_name().unwrap().to_str().unwrap();
        let name = name.replace(
            flowcost::generate::FLOW_LOG_ID,
            "fl-<img src=x onerror=alert(3)>",
        );
        // the same records, other bytes (so that identical-content dedup does not take them)
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(second.join(name)).unwrap(),
            flate2::Compression::best(),
        );
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap()),
            &mut text,
        )
        .unwrap();
        std::io::Write::write_all(&mut gz, &text).unwrap();
        gz.finish().unwrap();
    }
    let gz = w.path(Encoding::Gz);
    for fmt in ["markdown", "csv", "table"] {
        let o = run(&[
            "analyze",
            "-q",
            "--format",
            fmt,
            "--ecs-tasks",
            tasks_file.to_str().unwrap(),
            &gz,
            second.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        let out = stdout(&o);
        match fmt {
            "csv" => assert_safe_csv(fmt, &out),
            _ => {
                assert!(
                    out.contains("alert(1)"),
                    "{fmt}: the service is shown: {out}"
                );
                assert!(
                    out.contains("onerror"),
                    "{fmt}: the flow log is named: {out}"
                );
                if fmt == "markdown" {
                    assert_safe_md(fmt, &out);
                } else {
                    // the terminal shows markup as it is, and no control character
                    assert!(
                        !out.contains(['\u{1b}', '\u{7}']),
                        "{fmt}: a control character"
                    );
                }
            }
        }
    }
}

#[test]
fn an_error_quoting_the_data_sends_no_control_character() {
    // the NAT ENI that translates has an escape sequence in its id, and the one named is
    // absent: the error names the translating ENI, shown escaped, never sent
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("nat.log");
    let mut body =
        String::from("interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start region\n");
    body += "eni-\u{1b}[2Jnat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 100 1788220800 us-east-1\n";
    std::fs::write(&f, body).unwrap();
    let o = run(&[
        "analyze",
        "-q",
        "--nat-eni",
        "eni-typo",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("eni-\\x1b[2Jnat"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[cfg(unix)]
#[test]
fn a_note_naming_a_file_sends_no_control_character() {
    // a file named with an escape sequence, its gzip copy and an archive of that name: the
    // notes that name them are shown escaped on stderr
    let dir = tempfile::tempdir().unwrap();
    let name = "a\u{1b}[2J<b>";
    let text = "version interface-id srcaddr dstaddr bytes start end action log-status\n\
                5 eni-1 10.0.0.1 52.216.8.1 10 1788220800 1788220860 ACCEPT OK\n";
    std::fs::write(dir.path().join(name), text).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    std::fs::write(dir.path().join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.path().join(format!("{name}.zip")), b"PK\x03\x04").unwrap();
    let o = run(&[
        "analyze",
        "--client-side-estimate",
        "--region",
        "us-east-1",
        dir.path().to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("a\\x1b[2J<b>.zip") && err.contains("same text"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn inputs_named_in_the_repeats_warning_are_shown_escaped() {
    // two files named with an escape sequence and markup hold the same records: the warning
    // that names them is escaped on stderr, in the table and in Markdown
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "version interface-id srcaddr dstaddr srcport dstport protocol bytes start end action log-status\n",
    );
    for i in 0..2000 {
        text += &format!(
            "5 eni-1 10.0.0.{} 52.216.8.1 {} 443 6 {} {} {} ACCEPT OK\n",
            i % 200,
            1024 + i,
            100 + i * 7,
            1788220800 + i,
            1788220860 + i
        );
    }
    for name in ["a\u{1b}[2J<script>x", "b\u{1b}]0;t\u{7}<script>y"] {
        std::fs::write(dir.path().join(name), &text).unwrap();
        // (a byte more each: not the same bytes, which would be read once)
        text.push('\n');
    }
    let d = dir.path().to_str().unwrap();
    let base = [
        "analyze",
        "--client-side-estimate",
        "--region",
        "us-east-1",
        d,
    ];
    let o = run(&base);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.starts_with("REPEATED RECORDS: "), "{out}");
    assert!(out.contains("a\\x1b[2J<script>x and "), "{out}");
    for s in [&out, &err] {
        assert!(!s.contains('\u{1b}') && !s.contains('\u{7}'), "{s:?}");
    }
    let o = run(&[&base[..], &["--format", "markdown"]].concat());
    let md = stdout(&o);
    assert!(md.starts_with("> **REPEATED RECORDS: "), "{md}");
    assert!(!md.contains("<script>") && !md.contains('\u{1b}'), "{md}");
}
