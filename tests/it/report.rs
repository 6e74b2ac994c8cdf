//! `flowcost report`: the folder of a generated month matches the generator's truth (totals,
//! every day, the before/after split, the subnet left behind, the charts' bars), reruns are
//! byte-identical, month over month carries the history forward, everything from the input
//! is escaped in the HTML, and the page renders in a real headless Chromium with its charts.

use std::path::{Path, PathBuf};

use flowcost::analysis::ClassBytes;
use flowcost::classify::Class;
use flowcost::generate::{Encoding, FieldSet, Truth};
use flowcost::report::compare::Measure;
use flowcost::report::monthly::MonthlyReport;

use crate::cli::{golden, relative};
use crate::support::{gateways_per_day, near, run, spec, stderr, world, GenWorld};

const LEFT_BEHIND: &str = "subnet-0d44dd44dd44dd44d";
/// 2026-08-01T00:00:00Z
const AUG: i64 = 1_785_542_400;

fn month_world(start: i64, days: u32, endpoint_at: Option<i64>) -> GenWorld {
    let mut s = spec(77, FieldSet::V7);
    s.start = start;
    s.days = days;
    s.tasks_per_day = 3;
    s.volume = 0.02;
    s.s3_endpoint_at = endpoint_at;
    s.endpoint_skips_subnet = endpoint_at.map(|_| LEFT_BEHIND.to_string());
    world(&s, &[Encoding::Gz])
}

fn september() -> &'static GenWorld {
    static W: std::sync::OnceLock<GenWorld> = std::sync::OnceLock::new();
    // 2026-09-15: the S3 gateway endpoint is added, one subnet left without it
    W.get_or_init(|| month_world(1_788_220_800, 30, Some(1_789_430_400)))
}

/// The report of two days of September (a small world of its own) against the `previous`
/// report, written in `out`.
fn two_days_of_september_after(previous: &str, out: &Path) -> MonthlyReport {
    let sep = month_world(1_788_220_800, 2, None);
    let logs = sep.path(Encoding::Gz);
    report(&["--month", "2026-09", "--previous", previous, &logs], out)
}

fn report(args: &[&str], out: &Path) -> MonthlyReport {
    let mut full = vec!["report", "-q", "-d", out.to_str().unwrap()];
    full.extend_from_slice(args);
    let o = run(&full);
    assert!(o.status.success(), "flowcost {full:?}: {}", stderr(&o));
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    let doc: MonthlyReport = serde_json::from_str(&text).expect("report.json parses");
    assert_eq!(
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
        text,
        "report.json round-trips strictly"
    );
    doc
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn s3_days(t: &Truth, from: &str, to: &str) -> f64 {
    let days: Vec<u64> = t
        .nat_by_day
        .iter()
        .filter(|(d, _)| d.as_str() >= from && d.as_str() < to)
        .map(|(_, c)| c.s3.total())
        .collect();
    days.iter().sum::<u64>() as f64
}

#[test]
fn monthly_report_matches_the_truth() {
    let w = september();
    let out = tempfile::tempdir().unwrap();
    let doc = report(
        &[
            "--month",
            "2026-09",
            "--change-at",
            "2026-09-15",
            &w.path(Encoding::Gz),
        ],
        out.path(),
    );
    let t = &w.truth;
    let a = &doc.analysis.analysis;
    assert_eq!(a.classes, t.nat);
    assert_eq!(doc.summary.total_bytes, t.nat_total);
    assert_eq!(doc.summary.days, 30.0);
    for c in Class::ALL {
        let got = doc
            .summary
            .class_bytes
            .iter()
            .find(|(k, _)| k == c.as_str())
            .unwrap()
            .1;
        assert_eq!(got, t.nat.get(c).total(), "{}", c.as_str());
    }
    // every day of the month, in by-day.csv, against the truth (zero where none)
    let csv = read(out.path(), "by-day.csv");
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(head[0], "day");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 30, "one row per day of September");
    for r in &rows {
        let want = t.nat_by_day.get(r[0]).copied().unwrap_or_default();
        for (i, c) in Class::ALL.iter().enumerate() {
            assert_eq!(head[i + 1], format!("{}_bytes", c.as_str()));
            assert_eq!(
                r[i + 1].parse::<u64>().unwrap(),
                want.get(*c).total(),
                "{} {}",
                r[0],
                c.as_str()
            );
        }
        assert_eq!(r[6].parse::<u64>().unwrap(), want.total());
    }
    // the daily chart has one S3 bar per day with S3 (plus its legend swatch)
    let svg = read(out.path(), "daily-nat-bytes.svg");
    let s3_days_count = t.nat_by_day.values().filter(|c| c.s3.total() > 0).count();
    assert_eq!(svg.matches("fill=\"#E8590C\"").count(), s3_days_count + 1);
    // before/after at the endpoint's day: the true S3 bytes on each side, per day with each
    // gateway over its own logs' span, and exactly the subnet left without the endpoint
    let c = doc.comparison.as_ref().expect("comparison");
    for (side, r, (from, to)) in [
        (&c.before, &c.reports.before, ("2026-09-01", "2026-09-15")),
        (&c.after, &c.reports.after, ("2026-09-15", "2026-10-01")),
    ] {
        let (bytes, per_day) = gateways_per_day(r, |c| c.s3.total());
        assert_eq!(bytes as f64, s3_days(t, from, to));
        assert!(near(side.per_day.s3, per_day), "{per_day} {side:?}");
    }
    let left: Vec<&str> = c
        .verdict
        .s3_left_by_subnet
        .iter()
        .map(|g| g.key.as_str())
        .collect();
    assert_eq!(left, vec![LEFT_BEHIND]);
    // the folder holds exactly the files the document lists
    let mut files = doc.files.clone();
    files.sort();
    assert_eq!(listing(out.path()), files);
    for f in [
        "before-after.svg",
        "top-s3-clients.svg",
        "report.html",
        "inputs.csv",
    ] {
        assert!(doc.files.iter().any(|x| x == f), "{f}");
    }
    // NAT ENI coverage: each gateway of the truth, days with traffic within the month, and
    // every day with NAT bytes in the truth carried by some gateway; the v7 world logs every
    // field the analysis uses
    let enis: Vec<&str> = doc.review.nat_enis.iter().map(|n| n.eni.as_str()).collect();
    let mut want: Vec<&str> = t.nat_enis.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(enis, want);
    for n in &doc.review.nat_enis {
        assert_eq!(n.days_in_period, 30);
        assert!(
            n.days_with_traffic > 0 && n.days_with_traffic <= 30,
            "{n:?}"
        );
    }
    let busy_days = t.nat_by_day.values().filter(|c| c.total() > 0).count() as u32;
    let covered: u32 = doc
        .review
        .nat_enis
        .iter()
        .map(|n| n.days_with_traffic)
        .sum();
    assert!(
        covered >= busy_days && busy_days == 30,
        "{covered} {busy_days}"
    );
    assert_eq!(doc.review.missing_fields, vec![]);
    let md = read(out.path(), "report.md");
    assert!(md.contains(LEFT_BEHIND));
    assert!(md.contains("## Method") && md.contains("## Data quality review"));
    assert!(md.contains(
        "![NAT-processed bytes per day (UTC), by destination class](daily-nat-bytes.svg)"
    ));
    // inputs are listed with sizes
    let inputs = read(out.path(), "inputs.csv");
    assert_eq!(inputs.lines().count() as u64, doc.analysis.inputs.files + 1);
}

#[test]
fn reruns_are_byte_identical_and_stale_files_go() {
    let w = september();
    let out = tempfile::tempdir().unwrap();
    let p = w.path(Encoding::Gz);
    let args = [
        "--month",
        "2026-09",
        "--change-at",
        "2026-09-15",
        p.as_str(),
    ];
    report(&args, out.path());
    let first: Vec<(String, Vec<u8>)> = listing(out.path())
        .into_iter()
        .map(|n| {
            let b = std::fs::read(out.path().join(&n)).unwrap();
            (n, b)
        })
        .collect();
    report(&["-j", "1", "--month", "2026-09", p.as_str()], out.path());
    assert!(
        !out.path().join("before-after.svg").exists(),
        "a chart of an earlier run's flags is removed"
    );
    report(&args, out.path());
    for (n, b) in &first {
        let again = std::fs::read(out.path().join(n)).unwrap();
        assert!(again == *b, "{n} differs between identical runs");
    }
    assert_eq!(listing(out.path()).len(), first.len());
}

#[test]
fn month_over_month_carries_the_history() {
    let aug = month_world(AUG, 31, None);
    let sep = september();
    let (da, db, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = report(&["--month", "2026-08", &aug.path(Encoding::Gz)], da.path());
    assert!(a.trend.is_none() && a.history.is_empty());
    let prev = da.path().display().to_string();
    let b = report(
        &[
            "--month",
            "2026-09",
            "--previous",
            &prev,
            &sep.path(Encoding::Gz),
        ],
        db.path(),
    );
    let t = b.trend.as_ref().expect("trend");
    assert_eq!(t.previous, "2026-08");
    let row = |m: &str| t.rows.iter().find(|r| r.measure.as_str() == m).unwrap();
    // the true bytes, per day with each gateway over its own logs' span
    let month = |m: &MonthlyReport, of: fn(&ClassBytes) -> u64, all: u64| {
        let (bytes, per_day) = gateways_per_day(&m.analysis, of);
        assert_eq!(bytes, all);
        per_day
    };
    let s3 = |c: &ClassBytes| c.s3.total();
    let all = |c: &ClassBytes| c.total();
    let want = month(&a, s3, aug.truth.nat.s3.total());
    assert!(near(row("s3").previous_per_day, want), "{want} {t:?}");
    let want = month(&b, s3, sep.truth.nat.s3.total());
    assert!(near(row("s3").this_per_day, want), "{want} {t:?}");
    let want = month(&a, all, aug.truth.nat_total);
    assert!(near(row("total").previous_per_day, want), "{want} {t:?}");
    let pct = row("s3").percent.unwrap();
    let want =
        (row("s3").this_per_day - row("s3").previous_per_day) * 100.0 / row("s3").previous_per_day;
    assert!((pct - want).abs() < 1e-9);
    assert!(pct < 0.0, "the endpoint took S3 off the NAT in September");
    assert_eq!(b.history, vec![a.summary.clone()]);
    assert!(b.files.iter().any(|f| f == "month-over-month.svg"));
    assert_eq!(read(db.path(), "history.csv").lines().count(), 3);
    assert!(read(db.path(), "report.md").contains("## Month over month (against 2026-08)"));
    // a third month carries both earlier periods
    let oct = month_world(1_790_812_800, 2, None);
    let september_report = db.path().join("report.json").display().to_string();
    let c = report(
        &[
            "--month",
            "2026-10",
            "--previous",
            &september_report,
            &oct.path(Encoding::Gz),
        ],
        dc.path(),
    );
    assert_eq!(c.history, vec![a.summary.clone(), b.summary.clone()]);
    assert!(c.history_left_out.is_empty());
    // September again after September (a rerun given its own report): September is no
    // earlier period, so it is left out, said on stderr and first in the report, and the
    // month over month is against August
    let again = tempfile::tempdir().unwrap();
    let mut full = vec!["report", "-q", "-d", again.path().to_str().unwrap()];
    let sep_path = sep.path(Encoding::Gz);
    full.extend([
        "--month",
        "2026-09",
        "--previous",
        &september_report,
        &sep_path,
    ]);
    let o = run(&full);
    assert!(o.status.success(), "{}", stderr(&o));
    let said =
        "--previous: 2026-09 (2026-09-01T00:00:00Z .. 2026-10-01T00:00:00Z) is no earlier period";
    assert!(
        stderr(&o).contains(&format!("flowcost: warning: {said}")),
        "{}",
        stderr(&o)
    );
    let d: MonthlyReport = serde_json::from_str(&read(again.path(), "report.json")).unwrap();
    assert_eq!(d.history, vec![a.summary]);
    assert_eq!(d.trend.as_ref().unwrap().previous, "2026-08");
    assert_eq!(d.history_left_out.len(), 1);
    let md = read(again.path(), "report.md");
    assert!(
        md.find(said).unwrap() < md.find("## Summary").unwrap(),
        "{md}"
    );
    assert_eq!(read(again.path(), "history.csv").lines().count(), 3);
    // a previous report's label with a terminal escape in it reaches stderr written out
    let forged = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&read(db.path(), "report.json")).unwrap();
    doc["summary"]["label"] = "2026-09\u{1b}[2J".into();
    let forged_json = forged.path().join("report.json");
    std::fs::write(&forged_json, doc.to_string()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "report",
        "-q",
        "-d",
        out.path().to_str().unwrap(),
        "--month",
        "2026-09",
        "--previous",
        forged_json.to_str().unwrap(),
        &sep_path,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains('\u{1b}'), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--previous: 2026-09\\x1b[2J ("),
        "{}",
        stderr(&o)
    );
    // something that is not a report.json is refused, naming what it is
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "-o",
        &dc.path().join("analyze.json").display().to_string(),
        &sep.path(Encoding::Gz),
    ]);
    assert!(o.status.success());
    let o = run(&[
        "report",
        "-q",
        "-d",
        &dc.path().join("x").display().to_string(),
        "--previous",
        &dc.path().join("analyze.json").display().to_string(),
        &sep.path(Encoding::Gz),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("flowcost.analyze/1"), "{}", stderr(&o));
}

#[test]
fn an_unknown_ecr_share_is_no_figure_in_the_report_or_its_history() {
    // NAT ENIs only, v2 format: the clients cannot be told apart, so the ECR share is unknown
    let natonly_v2 = |start: i64| {
        let mut s = spec(78, FieldSet::V2);
        s.start = start;
        s.days = 2;
        s.tasks_per_day = 3;
        s.volume = 0.02;
        s.nat_only = true;
        world(&s, &[Encoding::Gz])
    };
    let (aug, sep) = (natonly_v2(AUG), natonly_v2(1_788_220_800));
    let mut nat: Vec<String> = Vec::new();
    for e in &aug.truth.nat_enis {
        nat.extend(["--nat-eni".into(), e.clone()]);
    }
    let nat: Vec<&str> = nat.iter().map(|s| s.as_str()).collect();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = report(
        &[&["--month", "2026-08", &aug.path(Encoding::Gz)][..], &nat].concat(),
        da.path(),
    );
    assert!(!a.summary.ecr_known);
    let md = read(da.path(), "report.md");
    assert!(md.contains("ECR image layers: unknown"), "{md}");
    let prev = da.path().display().to_string();
    let b = report(
        &[
            &[
                "--month",
                "2026-09",
                "--previous",
                &prev,
                &sep.path(Encoding::Gz),
            ][..],
            &nat,
        ]
        .concat(),
        db.path(),
    );
    let t = b.trend.as_ref().unwrap();
    assert!(t.rows.iter().any(|r| r.measure == Measure::S3));
    assert!(!t.rows.iter().any(|r| r.measure == Measure::EcrLayers));
    let history = read(db.path(), "history.csv");
    assert!(
        history.lines().nth(1).unwrap().contains(",unknown,"),
        "{history}"
    );
}

/// A hand-written log whose ECS names, file name and a malformed line carry markup.
fn hostile_input(dir: &Path) -> PathBuf {
    let sub = dir.join("logs <b>bold</b>");
    std::fs::create_dir_all(&sub).unwrap();
    let t = 1_788_220_800i64;
    let mut s = String::from(
        "version interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start end action log-status region az-id subnet-id ecs-service-name ecs-task-id\n",
    );
    let nat = |src: &str, dst: &str, psrc: &str, pdst: &str, b: u64| {
        format!("7 eni-nat {src} {dst} {psrc} {pdst} {b} {t} {} ACCEPT OK us-east-1 use1-az1 subnet-pub - -\n", t + 60)
    };
    s += &nat("10.0.1.5", "10.0.0.10", "10.0.1.5", "52.216.8.1", 1_000);
    s += &nat("10.0.0.10", "52.216.8.1", "10.0.0.10", "52.216.8.1", 1_000);
    s += &nat("52.216.8.1", "10.0.0.10", "52.216.8.1", "10.0.0.10", 90_000);
    s += &nat("10.0.0.10", "10.0.1.5", "52.216.8.1", "10.0.1.5", 90_000);
    let evil = "<script>alert(1)</script>";
    s += &format!("7 eni-task 10.0.1.5 52.216.8.1 10.0.1.5 52.216.8.1 1000 {t} {} ACCEPT OK us-east-1 use1-az1 subnet-<i>x</i> {evil} [x](javascript:alert(2))\n", t + 60);
    s += "7 eni-bad <img src=x onerror=alert(3)> broken line\n";
    let f = sub.join("flow<script>.log");
    std::fs::write(&f, s).unwrap();
    sub
}

#[test]
fn html_escapes_everything_from_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_input(dir.path());
    let out = dir.path().join("out");
    let doc = report(&["--nat-eni", "eni-nat", input.to_str().unwrap()], &out);
    assert_eq!(doc.analysis.analysis.classes.s3.total(), 91_000);
    let html = read(&out, "report.html");
    for raw in [
        "<script",
        "<img",
        "<b>",
        "<i>",
        "<a ",
        "javascript:alert(2)\"",
    ] {
        assert!(!html.contains(raw), "raw `{raw}` in report.html");
    }
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the ECS name is shown, escaped"
    );
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt;"),
        "the path is shown, escaped"
    );
    assert!(html.contains("Content-Security-Policy"));
    for svg in ["daily-nat-bytes.svg", "top-s3-clients.svg"] {
        let s = read(&out, svg);
        assert!(!s.contains("<script") && !s.contains("<i>"), "{svg}");
    }
}

#[test]
fn report_md_of_the_sample_matches_golden() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
    report(&[sample], &out);
    let md = read(&out, "report.md").replace(&out.display().to_string(), "OUT");
    golden("report-sample.md", &relative(&md));
}

/// Debian's chromium, from `FLOWCOST_TEST_CHROMIUM` (CI sets it). The test using it is
/// ignored by a plain `cargo test`; asked for with `--ignored`, it needs the browser.
fn chromium() -> Option<String> {
    match std::env::var("FLOWCOST_TEST_CHROMIUM") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => panic!(
            "FLOWCOST_TEST_CHROMIUM is not set: eval \"$(bash .ci/browser)\" first (CI does; see .ci/run)"
        ),
    }
}

fn headless(browser: &str, profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium")
}

#[test]
#[ignore = "needs Chromium: eval \"$(bash .ci/browser)\" then cargo test -- --ignored"]
fn html_renders_in_headless_chromium_with_its_charts() {
    let Some(browser) = chromium() else { return };
    let w = september();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    report(
        &[
            "--month",
            "2026-09",
            "--change-at",
            "2026-09-15",
            &w.path(Encoding::Gz),
        ],
        &out,
    );
    let page = out.join("report.html");
    let dom = headless(&browser, &dir.path().join("p1"), &["--dump-dom"], &page);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    for id in ["daily-nat-bytes", "top-s3-clients", "before-after"] {
        assert!(
            dom_text.contains(&format!("<figure id=\"{id}\"><svg")),
            "chart {id} in the rendered DOM"
        );
    }
    assert!(
        dom_text.matches("<rect").count() > 60,
        "the charts' bars are in the DOM"
    );
    let shot = dir.path().join("report.png");
    let o = headless(
        &browser,
        &dir.path().join("p2"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,3200",
        ],
        &page,
    );
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    // Keep the screenshot for people to look at.
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshot.png");
    let _ = std::fs::copy(&shot, &keep);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    assert!(bpp >= 3, "an RGB screenshot");
    // Rows holding the S3 colour of the charts, grouped into bands: one per chart.
    let mut rows_with_s3 = Vec::new();
    for y in 0..info.height as usize {
        let row = &buf[y * info.line_size..(y + 1) * info.line_size];
        let n = row
            .chunks(bpp)
            .filter(|p| p[0] == 0xe8 && p[1] == 0x59 && p[2] == 0x0c)
            .count();
        if n > 0 {
            rows_with_s3.push((y, n));
        }
    }
    let pixels: usize = rows_with_s3.iter().map(|r| r.1).sum();
    assert!(pixels > 20_000, "S3 bars are drawn: {pixels} pixels");
    let mut bands = 0;
    let mut last = None;
    for (y, _) in &rows_with_s3 {
        if last.is_none_or(|l| y - l > 40) {
            bands += 1;
        }
        last = Some(*y);
    }
    assert!(
        bands >= 3,
        "three charts visible in the page, found {bands} bands"
    );
    eprintln!("screenshot kept at {}", keep.display());

    // At 1280 px the page keeps within its column: long input paths wrap (or scroll inside
    // their table), so nothing is drawn in the margins beside the page (1104 px wide with its
    // padding: 88 px of background on each side).
    let wide = dir.path().join("wide.png");
    let o = headless(
        &browser,
        &dir.path().join("p3"),
        &[
            &format!("--screenshot={}", wide.display()),
            "--window-size=1280,6000",
        ],
        &page,
    );
    assert!(o.status.success());
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&wide).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    let mut stray = 0;
    for y in 0..info.height as usize {
        let row = &buf[y * info.line_size..(y + 1) * info.line_size];
        for x in (info.width as usize - 60)..info.width as usize {
            let p = &row[x * bpp..x * bpp + 3];
            if p != [0xf8, 0xf9, 0xfa] {
                stray += 1;
            }
        }
    }
    assert_eq!(
        stray, 0,
        "content overflows into the right margin at 1280 px"
    );
    let html = read(&out, "report.html");
    assert!(
        html.contains("<ul>\n<li>of which ECR image layers"),
        "the ECR line is nested under the S3 saving"
    );
}

#[test]
fn flags_that_make_no_sense_for_a_folder_are_refused() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for extra in [
        ["--format", "json"],
        ["--output", "x.txt"],
        ["--change-at", "2031-01-01"],
    ] {
        let o = run(&[
            "report",
            "-q",
            "-d",
            out.to_str().unwrap(),
            extra[0],
            extra[1],
            sample,
        ]);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
    }
    assert!(
        !out.join("report.json").exists(),
        "nothing written on a usage error"
    );
}

#[test]
fn a_report_that_cannot_be_written_leaves_the_folder_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
    report(&[sample], &out);
    let before: Vec<(String, Vec<u8>)> = listing(&out)
        .into_iter()
        .map(|n| {
            let b = std::fs::read(out.join(&n)).unwrap();
            (n, b)
        })
        .collect();
    // a disk that fills up: files may not grow past 64 KiB (report.json is larger)
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flowcost"))
        .args(["report", "-q", "--pull-window", "5m", "-d"])
        .arg(&out)
        .arg(sample)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing in"), "{}", stderr(&o));
    let after: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            let b = std::fs::read(out.join(&n)).unwrap();
            (n, b)
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let mut before = before;
    before.sort();
    assert_eq!(
        after, before,
        "the earlier report is intact and no temporary file is left"
    );
    // a new folder that could not be written is not left behind
    let fresh = dir.path().join("fresh");
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flowcost"))
        .args(["report", "-q", "-d"])
        .arg(&fresh)
        .arg(sample)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!fresh.exists());
}

#[test]
fn daily_partials_make_the_month_the_raw_logs_make() {
    // one partial a day, as a daily scheduled job writes them; the month's report (with its
    // before/after split at the endpoint's day) from them equals the one from the logs
    let w = september();
    let logs = w.path(Encoding::Gz);
    let parts_dir = tempfile::tempdir().unwrap();
    let parts = crate::support::daily_partials(&logs, 1_788_220_800, 30, parts_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let split = ["--month", "2026-09", "--change-at", "2026-09-15"];
    let mut from_logs = report(
        &[&split[..], &[logs.as_str()]].concat(),
        &dir.path().join("logs"),
    );
    let args: Vec<&str> = split
        .iter()
        .copied()
        .chain(parts.iter().map(|p| p.as_str()))
        .collect();
    let mut from_parts = report(&args, &dir.path().join("parts"));
    from_logs.command.clear();
    from_parts.command.clear();
    assert_eq!(
        serde_json::to_string_pretty(&from_parts).unwrap(),
        serde_json::to_string_pretty(&from_logs).unwrap()
    );
    // settings travel with the partials: a flag that would change them is refused, and a
    // split inside a day's partial cannot be made from it
    let o = run(&[&["report", "-q", "--pull-window", "5m"][..], &args].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("carry the settings"), "{}", stderr(&o));
    let mut noon: Vec<&str> = vec![
        "report",
        "-q",
        "--month",
        "2026-09",
        "--change-at",
        "2026-09-15T12:00",
    ];
    noon.extend(parts.iter().map(|p| p.as_str()));
    let o = run(&noon);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("across the period's bounds"),
        "{}",
        stderr(&o)
    );
}

/// A previous report that opened with a warning (here an input cut short: its figures a lower
/// bound) is kept with its first line, and this month's trend against it says so.
#[test]
fn a_previous_report_that_opened_with_a_warning_is_said_in_the_trend() {
    let aug = month_world(AUG, 2, None);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("aug");
    let files = crate::support::files_under(Path::new(&aug.path(Encoding::Gz)));
    for (i, f) in files.iter().enumerate() {
        std::fs::create_dir_all(&logs).unwrap();
        let bytes = std::fs::read(f).unwrap();
        let keep = if i == 0 { bytes.len() / 2 } else { bytes.len() };
        let name = f.file_name().unwrap();
        std::fs::write(logs.join(name), &bytes[..keep]).unwrap();
    }
    let (da, db) = (dir.path().join("r-aug"), dir.path().join("r-sep"));
    let o = run(&[
        "report",
        "-q",
        "-d",
        da.to_str().unwrap(),
        "--month",
        "2026-08",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let b = two_days_of_september_after(da.to_str().unwrap(), &db);
    let warned = &b.history[0].warnings;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].starts_with("INCOMPLETE: 1 of "), "{warned:?}");
    let caveats = &b.trend.as_ref().unwrap().caveats;
    let want = format!("2026-08's report opened with a warning, so its figures are not the whole truth and the change against them is not the traffic's alone: {}", warned[0]);
    assert_eq!(caveats, std::slice::from_ref(&want));
    assert!(read(&db, "report.md").contains(&want));
    assert!(b.summary.warnings.is_empty(), "September was read in full");
}

/// A previous report's label is whatever its report.json says: in this report's Markdown (the
/// summary's line, the month-over-month heading and tables) it is text, never markup or HTML,
/// and no control character reaches the report or the SVG charts (XML forbids them).
#[test]
fn a_previous_reports_label_is_text_in_the_markdown_and_the_charts() {
    let aug = month_world(AUG, 2, None);
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("r-aug"), dir.path().join("r-sep"));
    report(&["--month", "2026-08", &aug.path(Encoding::Gz)], &da);
    let mut doc: serde_json::Value = serde_json::from_str(&read(&da, "report.json")).unwrap();
    let hostile = "<script>alert(1)</script>|x\u{1b}[2J";
    doc["summary"]["label"] = hostile.into();
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, doc.to_string()).unwrap();
    let b = two_days_of_september_after(forged.to_str().unwrap(), &db);
    assert_eq!(
        b.trend.as_ref().unwrap().previous,
        hostile,
        "kept as it was in JSON"
    );
    let md = read(&db, "report.md");
    assert!(!md.contains("<script") && !md.contains('\u{1b}'), "{md}");
    let shown = "&lt;script&gt;alert(1)&lt;/script&gt;\\|x\\\\x1b\\[2J";
    assert!(
        md.contains(&format!("## Month over month (against {shown})")),
        "{md}"
    );
    assert!(md.contains(&format!("- Against {shown}:")), "{md}");
    assert!(md.contains(&format!("| per day | {shown} |")), "{md}");
    // a third month: the earlier periods' table (whose rows a table escapes itself) names it
    // once escaped, not twice
    let oct = month_world(1_790_812_800, 2, None);
    let dc = dir.path().join("r-oct");
    let sep_json = db.join("report.json").display().to_string();
    report(
        &[
            "--month",
            "2026-10",
            "--previous",
            &sep_json,
            &oct.path(Encoding::Gz),
        ],
        &dc,
    );
    let md = read(&dc, "report.md");
    assert!(md.contains(&format!("| {shown} | ")), "{md}");
    assert!(!md.contains("&amp;lt;"), "{md}");
    for chart in b.files.iter().filter(|f| f.ends_with(".svg")) {
        let svg = read(&db, chart);
        assert!(
            !svg.contains('\u{1b}') && !svg.contains("<script"),
            "{chart}"
        );
    }
}

/// A month whose second NAT gateway's flow log was turned on 30 hours in: the trend's rows per
/// day take each gateway at the rate of its own logs' span, as the NAT cost per 30 days
/// projects it, for this month and (through its `report.json`) the previous one, so that the
/// month over month's rows agree with its cost.
#[test]
fn the_trend_rows_and_the_30_day_cost_project_alike() {
    let mut s = spec(59, FieldSet::V5);
    s.start = AUG;
    let aug = world(&s, &[Encoding::Text]);
    let (aug_late, sep_late) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on = |w: &GenWorld, dir: &Path| {
        let until = w.truth.start + 30 * 3600;
        crate::support::with_flow_log_on_late(w, &w.truth.nat_enis[1], until, dir)
    };
    on(&aug, aug_late.path());
    s.start = 1_788_220_800;
    let sep = world(&s, &[Encoding::Text]);
    on(&sep, sep_late.path());
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = report(
        &["--month", "2026-08", aug_late.path().to_str().unwrap()],
        da.path(),
    );
    let prev = da.path().display().to_string();
    let b = report(
        &[
            "--month",
            "2026-09",
            "--previous",
            &prev,
            sep_late.path().to_str().unwrap(),
        ],
        db.path(),
    );
    let t = b.trend.as_ref().expect("trend");
    let total = t
        .rows
        .iter()
        .find(|r| r.measure.as_str() == "total")
        .unwrap();
    let priced = |per_day: f64, m: &MonthlyReport| {
        let p = m.summary.nat_price.as_ref().unwrap();
        per_day * 30.0 / p.gb_unit.bytes() * p.per_gb
    };
    let (prev_cost, this_cost) = t.nat_cost_per_30_days;
    assert!(near(priced(total.previous_per_day, &a), prev_cost), "{t:?}");
    assert!(near(priced(total.this_per_day, &b), this_cost), "{t:?}");
    // the late gateway at its own rate: more than the month's bytes over the days covered
    assert!(total.this_per_day > b.summary.total_bytes as f64 / b.summary.covered_days);
}
