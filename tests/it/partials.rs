//! Partial results: shards and days of a run, merged, give the one run's report byte for
//! byte; merge refuses partials that do not belong together, and damaged files.

use proptest::prelude::*;

use flowcost::generate::{Encoding, FieldSet};

use crate::support::{run, spec, stderr, world, GenWorld};

/// `analyze` over `world`'s gzip inputs with `extra` flags, as JSON.
fn one_run(w: &GenWorld, extra: &[&str]) -> Vec<u8> {
    let p = w.path(Encoding::Gz);
    let mut args = vec!["analyze", "-q", "--format", "json", &p];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    o.stdout
}

/// Write a partial of `world` with `extra` flags to `out`.
fn partial(w: &GenWorld, out: &str, extra: &[&str]) {
    let p = w.path(Encoding::Gz);
    let mut args = vec!["analyze", "-q", &p, "--partial-out", out];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "a partial run prints no report");
}

/// A partial of `world` for each `(since, until)` range, written into `dir`; their paths.
fn partials_of(w: &GenWorld, dir: &std::path::Path, ranges: &[(&str, &str)]) -> Vec<String> {
    (ranges.iter())
        .map(|(since, until)| {
            let out = dir.join(since).display().to_string();
            partial(w, &out, &["--since", since, "--until", until]);
            out
        })
        .collect()
}

/// `parts` merge, and give `want`'s report byte for byte.
fn assert_merges_to(parts: &[String], want: &[u8]) {
    let o = merge(parts);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(want)
    );
}

fn merge(parts: &[String]) -> std::process::Output {
    let mut args = vec!["merge", "-q", "--format", "json"];
    args.extend(parts.iter().map(|s| s.as_str()));
    run(&args)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]
    #[test]
    fn any_sharding_merged_is_the_one_run(seed in 1u64..1_000, n in 1u64..=7) {
        let mut s = spec(seed, FieldSet::V5);
        s.tasks_per_day = 20;
        let w = world(&s, &[Encoding::Gz]);
        let want = one_run(&w, &[]);
        let dir = tempfile::tempdir().unwrap();
        let parts: Vec<String> = (0..n)
            .map(|k| {
                let out = dir.path().join(format!("p{k}.part")).display().to_string();
                partial(&w, &out, &["--shard", &format!("{k}/{n}")]);
                out
            })
            .collect();
        let o = merge(&parts);
        prop_assert!(o.status.success(), "{}", stderr(&o));
        prop_assert_eq!(String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&want));
    }
}

#[test]
fn shards_read_every_input_exactly_once() {
    let w = world(&spec(31, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let mut seen: Vec<String> = Vec::new();
    for k in 0..4 {
        let out = dir.path().join(format!("p{k}")).display().to_string();
        partial(&w, &out, &["--shard", &format!("{k}/4")]);
        let p = flowcost::partial::Partial::open(&out).unwrap();
        seen.extend(p.header.inputs.iter().map(|i| i.name.clone()));
    }
    let all = flowcost::partial::Partial::open(&{
        let out = dir.path().join("all").display().to_string();
        partial(&w, &out, &[]);
        out
    })
    .unwrap();
    let mut want: Vec<String> = all.header.inputs.iter().map(|i| i.name.clone()).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    // three of the four merged: refused, naming the one missing, not a report short of a
    // quarter of the inputs with exit 0; all four merge
    let shard = |k: u32| dir.path().join(format!("p{k}")).display().to_string();
    let o = merge(&[shard(0), shard(1), shard(3)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("cut into 4, and 1 of the 4 is missing (shard 2/4)"),
        "{e}"
    );
    assert!(merge(&[shard(0), shard(1), shard(2), shard(3)])
        .status
        .success());
    // a partial run writes no report: output flags make no sense with it
    let p = w.path(Encoding::Gz);
    let o = run(&[
        "analyze",
        "-q",
        &p,
        "--partial-out",
        "x.fcp",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for bad in ["4/4", "1/0", "x", "0/3/4"] {
        let p = w.path(Encoding::Gz);
        let o = run(&["analyze", "-q", &p, "--shard", bad]);
        assert_eq!(o.status.code(), Some(2), "--shard {bad}");
        assert!(stderr(&o).contains("--shard"), "{}", stderr(&o));
    }
}

#[test]
fn days_merged_are_the_run_over_their_union() {
    // a task ENI's records and pull windows cross midnight; files near midnight hold records
    // of both days, so both daily runs read them
    let w = world(&spec(32, FieldSet::V5), &[Encoding::Gz]);
    let want = one_run(&w, &["--since", "2026-09-01", "--until", "2026-09-03"]);
    let dir = tempfile::tempdir().unwrap();
    let days = partials_of(
        &w,
        dir.path(),
        &[("2026-09-01", "2026-09-02"), ("2026-09-02", "2026-09-03")],
    );
    assert_merges_to(&days, &want);
}

#[test]
fn hours_without_any_record_are_pointed_out_and_carried_by_partials() {
    // the files of the second day's first twelve hours left out: the report says which hours
    // have no record (counted as covered all the same), and daily partials carry the hours
    let w = world(&spec(34, FieldSet::V5), &[Encoding::Gz]);
    let mut starts = Vec::new();
    for f in crate::support::files_under(std::path::Path::new(&w.path(Encoding::Gz))) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let left_out = (0..12).any(|h| name.contains(&format!("_20260902T{h:02}")));
        if left_out {
            std::fs::remove_file(&f).unwrap();
            continue;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap()),
            &mut text,
        )
        .unwrap();
        // v5: `start` is the 11th field
        starts.extend(
            text.lines()
                .skip(1)
                .filter_map(|l| l.split(' ').nth(10).and_then(|t| t.parse::<i64>().ok())),
        );
    }
    // the runs of six hours or more without a record, from the records themselves
    let hours: std::collections::BTreeSet<i64> = starts.iter().map(|t| t / 3600).collect();
    let (first, last) = (*hours.first().unwrap(), *hours.last().unwrap());
    let mut want_gaps = Vec::new();
    let mut next = first;
    for &h in hours.iter().skip(1).chain([last + 1].iter()) {
        if h - next >= 6 {
            want_gaps.push((next * 3600, (h - next) as u32));
        }
        next = h + 1;
    }
    let t = flowcost::time::parse_instant("2026-09-02T00:00").unwrap();
    assert!(
        matches!(want_gaps[..], [(from, h)] if from == t && (10..=12).contains(&h)),
        "{want_gaps:?}"
    );
    let range = ["--since", "2026-09-01", "--until", "2026-09-03"];
    let want = one_run(&w, &range);
    let r: flowcost::report::Report = serde_json::from_slice(&want).unwrap();
    let got: Vec<(i64, u32)> = (r.analysis.period.gaps.iter())
        .map(|g| (g.from, g.hours))
        .collect();
    assert_eq!(got, want_gaps);
    assert_eq!(r.analysis.period.covered_days, 2.0, "counted as covered");
    let notes = &r.analysis.quality.notes;
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("No record of any interface in")),
        "{notes:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let days = crate::support::daily_partials(&w.path(Encoding::Gz), t - 86_400, 2, dir.path());
    assert_merges_to(&days, &want);
}

#[test]
fn a_day_missing_among_daily_partials_is_left_out_of_the_time_covered() {
    // the partials of a three-day world's first and last days merged: no input was read for
    // the second day (every partial reads every local file, so only their time ranges say
    // what was read), which is said so and left out of the time covered: the projections
    // divide by two days, not three
    let mut s = spec(35, FieldSet::V5);
    s.days = 3;
    let w = world(&s, &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2, d3) = ("2026-09-01", "2026-09-02", "2026-09-03");
    let days = partials_of(&w, dir.path(), &[(d1, d2), (d3, "2026-09-04")]);
    let o = merge(&days);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let at = |d: &str| flowcost::time::parse_instant(d).unwrap();
    let unread = |r: &flowcost::report::Report| -> Vec<(i64, i64)> {
        (r.analysis.period.unread.iter())
            .map(|u| (u.from, u.to))
            .collect()
    };
    assert_eq!(unread(&r), [(at(d2), at(d3))]);
    assert!(
        r.analysis.period.gaps.is_empty(),
        "said as unread, not as a gap"
    );
    assert_eq!(r.analysis.period.days, 3.0);
    assert_eq!(r.analysis.period.covered_days, 2.0);
    let notes = &r.analysis.quality.notes;
    assert!(
        (notes.iter()).any(|n| n.starts_with("No partial covers 24 hours of the period")),
        "{notes:?}"
    );
    // against runs over the logs: each gateway with records on both days covers what one
    // run over the three days says it covers, less the day no partial read; the money of the
    // period is the two days' own runs' summed
    let run_over = |since: &str, until: &str| -> flowcost::report::Report {
        serde_json::from_slice(&one_run(&w, &["--since", since, "--until", until])).unwrap()
    };
    let (one, three, all) = (
        run_over(d1, d2),
        run_over(d3, "2026-09-04"),
        run_over(d1, "2026-09-04"),
    );
    let covered = |r: &flowcost::report::Report, eni: &str| {
        (r.analysis.gateways.iter())
            .find(|x| x.eni == eni)
            .map(|x| x.covered_seconds)
    };
    let mut both = 0;
    for g in &r.analysis.gateways {
        if covered(&one, &g.eni).is_some() && covered(&three, &g.eni).is_some() {
            assert_eq!(
                Some(g.covered_seconds + 86_400),
                covered(&all, &g.eni),
                "{}",
                g.eni
            );
            both += 1;
        }
    }
    assert!(both > 0);
    let got = &r.cost.s3_gateway_endpoint_savings;
    let (one, three) = (
        &one.cost.s3_gateway_endpoint_savings,
        &three.cost.s3_gateway_endpoint_savings,
    );
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(one.period > 0.0 && three.period > 0.0);
    assert!(near(got.period, one.period + three.period), "{got:?}");
    // the same partials as the inputs of a longer period's report: its last day unread too
    let out = dir.path().join("report").display().to_string();
    let (since, until) = ("--since", "--until");
    let o = run(&[
        "report",
        "-q",
        since,
        d1,
        until,
        "2026-09-05",
        "-d",
        &out,
        &days[0],
        &days[1],
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: flowcost::report::monthly::MonthlyReport =
        serde_json::from_slice(&std::fs::read(format!("{out}/report.json")).unwrap()).unwrap();
    let r = doc.analysis;
    // the monthly report's review of what the figures rest on says so too
    let md = std::fs::read_to_string(format!("{out}/report.md")).unwrap();
    let review = &md[md.find("## Data quality review").unwrap()..];
    let review = &review[..review.find("\n## ").unwrap_or(review.len())];
    assert!(
        review.contains("\n- No partial covers 48 hours of the period"),
        "{review}"
    );
    assert_eq!(
        unread(&r),
        [(at(d2), at(d3)), (at("2026-09-04"), at("2026-09-05"))]
    );
    assert_eq!(r.analysis.period.covered_days, 2.0);
}

#[test]
fn partials_among_logs_are_refused() {
    // read as logs, a partial's lines counted as malformed and what it holds as nothing, with
    // exit 0: a month's report over daily partials and one day's logs reported that day alone
    let w = world(&spec(37, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let day = partials_of(&w, dir.path(), &[("2026-09-01", "2026-09-02")]).remove(0);
    let logs = w.path(Encoding::Gz);
    let out = dir.path().join("report").display().to_string();
    for args in [
        vec!["analyze", "-q", &day],
        vec!["analyze", "-q", &logs, &day],
        vec!["report", "-q", "-d", &out, &day, &logs],
        vec![
            "compare",
            "-q",
            "--before",
            "2026-09-01..2026-09-01",
            "--after",
            "2026-09-02..2026-09-02",
            &logs,
            &day,
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let want = format!("{day} is a partial result");
        assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    assert!(!std::path::Path::new(&out).exists());
    // partials alone are still read where partials are taken
    let o = run(&["report", "-q", "-d", &out, &day]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn merge_refuses_partials_that_do_not_belong_together() {
    let w = world(&spec(33, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    partial(&w, &at("a"), &["--shard", "0/2"]);
    partial(&w, &at("b"), &["--shard", "1/2", "--pull-window", "5m"]);
    partial(&w, &at("all"), &[]);
    partial(
        &w,
        &at("day"),
        &["--since", "2026-09-01", "--until", "2026-09-02"],
    );
    partial(
        &w,
        &at("late"),
        &["--since", "2026-09-01T12:00", "--until", "2026-09-03"],
    );
    let refused = |parts: &[&str], why: &str| {
        let parts: Vec<String> = parts.iter().map(|p| at(p)).collect();
        let o = merge(&parts);
        assert_eq!(o.status.code(), Some(2), "{parts:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
        assert!(stderr(&o).contains(why), "{parts:?}: {}", stderr(&o));
    };
    refused(&["a", "b"], "different settings: --pull-window");
    refused(&["a", "all"], "it would count twice");
    refused(&["a"], "cut into 2, and 1 of the 2 is missing (shard 1/2)");
    refused(&["a", "a"], "given twice");
    refused(&["day", "late"], "overlap");
    refused(&["day", "all"], "open time range");
    // a day made after an `ip-ranges update`: both documents named, and the way out
    let mut newer: serde_json::Value =
        serde_json::from_slice(flowcost::classify::EMBEDDED).unwrap();
    newer["syncToken"] = "1999999999".into();
    newer["createDate"] = "2026-09-02-00-00-00".into();
    let doc = at("ip-ranges-newer.json");
    std::fs::write(&doc, serde_json::to_vec(&newer).unwrap()).unwrap();
    let range = ["--since", "2026-09-02", "--until", "2026-09-03"];
    partial(
        &w,
        &at("day2"),
        &[&range[..], &["--ip-ranges", &doc]].concat(),
    );
    refused(
        &["day", "day2"],
        "different settings: the ip-ranges document (--ip-ranges) (syncToken 1787411825, created",
    );
    refused(
        &["day", "day2"],
        ", against syncToken 1999999999, created 2026-09-02-00-00-00). Partials merge only when",
    );
    partial(&w, &at("day2"), &range);
    let o = merge(&[at("day"), at("day2")]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// One flow log's deliveries read twice, as gzip text into one partial and as Parquet into
/// another of the same time range: every record would count twice, so merge refuses them,
/// naming both partials and a delivery; the gzip shards alone merge.
#[test]
fn merge_refuses_one_delivery_in_two_encodings() {
    let w = world(&spec(35, FieldSet::V5), &[Encoding::Gz, Encoding::Parquet]);
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    partial(&w, &at("gz0"), &["--shard", "0/2"]);
    partial(&w, &at("gz1"), &["--shard", "1/2"]);
    let pq = w.path(Encoding::Parquet);
    let o = run(&["analyze", "-q", &pq, "--partial-out", &at("pq")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merge(&[at("gz0"), at("gz1"), at("pq")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("one AWS delivery") && e.contains(".parquet"),
        "{e}"
    );
    assert!(e.contains(&at("pq")), "{e}");
    assert!(merge(&[at("gz0"), at("gz1")]).status.success());
}

/// Two flow logs on one VPC, each in partials of its own: the default format's with the flow
/// log's id in its names, and one with more fields whose files were renamed (no id). The
/// merge counts each ENI from the flow log with more fields, as one run over both does, and
/// says so with their field counts: each partial carries its one flow log's field count.
#[test]
fn merged_flow_logs_are_chosen_by_their_fields_as_in_one_run() {
    let v2 = world(&spec(36, FieldSet::V2), &[Encoding::Gz]);
    let v5 = world(&spec(36, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("renamed");
    std::fs::create_dir(&renamed).unwrap();
    let mut files: Vec<std::path::PathBuf> = walkdir(std::path::Path::new(&v5.path(Encoding::Gz)));
    files.sort();
    for (n, f) in files.iter().enumerate() {
        std::fs::copy(f, renamed.join(format!("export-{n:04}.log.gz"))).unwrap();
    }
    let (named, renamed) = (v2.path(Encoding::Gz), renamed.display().to_string());
    let nat: Vec<String> = (v5.truth.nat_enis.iter())
        .flat_map(|e| ["--nat-eni".to_string(), e.clone()])
        .collect();
    let analyze = |inputs: &[&str], extra: &[&str]| {
        let mut args = vec!["analyze", "-q"];
        args.extend(nat.iter().map(String::as_str));
        args.extend_from_slice(inputs);
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let want = analyze(&[&named, &renamed], &["--format", "json"]);
    let at = |name: &str| dir.path().join(name).display().to_string();
    analyze(&[&named], &["--partial-out", &at("named.part")]);
    analyze(&[&renamed], &["--partial-out", &at("renamed.part")]);
    let report: serde_json::Value = serde_json::from_slice(&want).unwrap();
    let logs = &report["analysis"]["quality"]["flow_logs"]["flow_logs"];
    assert_eq!(logs[0]["fields"], 14, "{logs}");
    assert_eq!(logs[1]["fields"], 29, "{logs}");
    assert_eq!(logs[1]["enis_set_aside"], 0, "{logs}");
    assert_merges_to(&[at("named.part"), at("renamed.part")], &want);
}

/// Every file under `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        match p.is_dir() {
            true => out.extend(walkdir(&p)),
            false => out.push(p),
        }
    }
    out
}

/// The offset of the newline that ends a partial file's header (its second line); the
/// checksummed body follows it.
fn header_end(bytes: &[u8]) -> usize {
    let mut newlines = bytes.iter().enumerate().filter(|b| *b.1 == b'\n');
    newlines.nth(1).unwrap().0
}

/// The partial format after this flowcost's.
const LATER: &str = "flowcost.partial/12";

#[test]
fn merge_refuses_damaged_or_foreign_files() {
    let w = world(&spec(34, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good").display().to_string();
    partial(&w, &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let header_end = header_end(&bytes);
    let variants: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let i = header_end + (b.len() - header_end) / 2;
                b[i] ^= 0x40;
                b
            },
            "not a usable partial file",
        ),
        (
            "cut",
            bytes[..bytes.len() - 100].to_vec(),
            "not a usable partial file",
        ),
        (
            "later",
            {
                let mut b = format!("{LATER}\n").into_bytes();
                b.extend_from_slice(&bytes[flowcost::partial::FORMAT.len() + 1..]);
                b
            },
            "format flowcost.partial/12 (this flowcost reads flowcost.partial/11)",
        ),
        (
            "earlier",
            {
                let mut b = b"flowcost.partial/7\n".to_vec();
                b.extend_from_slice(&bytes[flowcost::partial::FORMAT.len() + 1..]);
                b
            },
            "format flowcost.partial/7 (this flowcost reads flowcost.partial/11)",
        ),
        (
            "report",
            b"{\"schema\": \"flowcost.report/1\"}\n".to_vec(),
            "no flowcost.partial/11 first line",
        ),
        ("empty", Vec::new(), "no flowcost.partial/11 first line"),
    ];
    for (name, b, why) in variants {
        let p = dir.path().join(name).display().to_string();
        std::fs::write(&p, b).unwrap();
        let o = merge(std::slice::from_ref(&p));
        assert_eq!(o.status.code(), Some(4), "{name}");
        assert!(o.stdout.is_empty(), "{name}");
        assert!(stderr(&o).contains(why), "{name}: {}", stderr(&o));
    }
    // and the good one alone is the one run
    let o = merge(&[good]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&one_run(&w, &[]))
    );
}

#[test]
#[ignore = "needs PySpark (Spark in local mode on Java 17): eval \"$(bash .ci/spark)\""]
fn spark_runs_the_shards_and_its_merge_is_the_one_run() {
    let Ok(python) = std::env::var("FLOWCOST_TEST_PYSPARK") else {
        eprintln!(
            "NOTE: FLOWCOST_TEST_PYSPARK is not set: skipping the Spark test (see .ci/spark)"
        );
        return;
    };
    let w = world(&spec(35, FieldSet::V5), &[Encoding::Gz]);
    let want = one_run(&w, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scale/spark/flowcost_spark.py");
    let o = std::process::Command::new(python)
        .arg(script)
        .args(["--master", "local[2]", "--shards", "5", "--flowcost"])
        .arg(env!("CARGO_BIN_EXE_flowcost"))
        .arg("--out")
        .arg(&out)
        .args(["--", &w.path(Encoding::Gz), "--format", "json"])
        .env(
            "FLOWCOST_CACHE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/no-such-cache"),
        )
        .output()
        .expect("run the Spark driver");
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&out).unwrap()),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn a_forged_partial_with_a_valid_checksum_is_refused_not_trusted() {
    // a partial file is input like any other: one written by hand, with the right checksum,
    // holding what flowcost could never have made, is refused (exit 4), never a panic or a
    // wrapped sum
    use flowcost::account::{cell, Dir, EniAgg, InputStats};
    use flowcost::classify::Class;
    use sha2::Digest;
    let w = world(&spec(36, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good").display().to_string();
    partial(&w, &good, &[]);
    let header = flowcost::partial::Partial::open(&good).unwrap().header;
    let write_one = |name: &str, a: &EniAgg| {
        let path = dir.path().join(name);
        let mut h = header.clone();
        h.enis = 1;
        flowcost::partial::write(&path, &h, &InputStats::default(), |f| {
            f("eni-forged", a);
            Ok(())
        })
        .unwrap();
        path
    };
    let refused = |path: &std::path::Path, why: &str| {
        let o = merge(&[path.display().to_string()]);
        assert_eq!(
            o.status.code(),
            Some(4),
            "{}: {}",
            path.display(),
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(why),
            "{}: {}",
            path.display(),
            stderr(&o)
        );
    };
    let forge = |name: &str, a: EniAgg, why: &str| refused(&write_one(name, &a), why);
    let mut a = EniAgg::default();
    a.meta.region = Some(60_000);
    forge("region", a, "a region the ip-ranges document does not have");
    let mut a = EniAgg::default();
    a.s3_elsewhere.add(60_000, 1);
    forge(
        "s3-region",
        a,
        "a region the ip-ranges document does not have",
    );
    let mut a = EniAgg::default();
    a.s3_elsewhere.add(0, u64::MAX);
    forge("s3-bytes", a, "a byte count past the bound");
    let mut a = EniAgg::default();
    a.public.add_key(0, u64::MAX).unwrap();
    forge("bytes", a, "past the byte bound");
    // a cell key whose class bits name no class: written as a valid one, then its first
    // byte changed and the body's checksum made again (the code cannot hold such a key)
    let day = 0x2_3456u32;
    let mut a = EniAgg::default();
    a.public.add(day, Class::Internet, Dir::Upload, 0x0bad_f00d);
    let path = write_one("cell-key", &a);
    let mut bytes = std::fs::read(&path).unwrap();
    let varint = |mut v: u64| {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    };
    let want = [
        varint(cell(day, Class::Internet, Dir::Upload)),
        varint(0x0bad_f00d),
    ]
    .concat();
    let at = bytes.windows(want.len()).position(|w| w == want).unwrap();
    assert_eq!(bytes[at], 0x88, "the key's low seven bits: class 4, upload");
    bytes[at] = 0x80 | 0x7e; // class bits 63
    let body = 1 + header_end(&bytes);
    let end = bytes.len() - 32;
    let sum = sha2::Sha256::digest(&bytes[body..end]);
    bytes[end..].copy_from_slice(&sum);
    std::fs::write(&path, &bytes).unwrap();
    refused(&path, "a value flowcost never writes");
    // settings out of range in the header
    let mut h = header.clone();
    h.settings.pull_window = i64::MIN;
    let path = dir.path().join("window");
    flowcost::partial::write(&path, &h, &InputStats::default(), |_| Ok(())).unwrap_err();
    h.enis = 0;
    flowcost::partial::write(&path, &h, &InputStats::default(), |_| Ok(())).unwrap();
    refused(&path, "settings out of range");
    // a price table with a price no region charges (below zero), as `--prices` refuses it
    let mut h = header.clone();
    h.enis = 0;
    if let Some(p) = h.settings.prices.regions.values_mut().next() {
        p.nat_per_gb = -0.045;
    }
    flowcost::partial::write(&path, &h, &InputStats::default(), |_| Ok(())).unwrap();
    refused(&path, "settings out of range");
    // a time range no flag can give (its length would wrap)
    for (since, until) in [(Some(i64::MIN), Some(0)), (None, Some(i64::MAX))] {
        let mut h = header.clone();
        (h.since, h.until, h.enis) = (since, until, 0);
        flowcost::partial::write(&path, &h, &InputStats::default(), |_| Ok(())).unwrap();
        refused(&path, "a time range outside the years 1970-9999");
    }
}

#[test]
fn the_container_scripts_shard_upload_and_merge() {
    // scale/shard.sh and scale/merge.sh (what the Batch and Kubernetes recipes run), with a
    // stand-in for the AWS CLI that keeps "S3" in a folder
    let w = world(&spec(37, FieldSet::V5), &[Encoding::Gz]);
    let want = one_run(&w, &[]);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake_aws = bin.join("aws");
    std::fs::write(
        &fake_aws,
        r#"#!/bin/sh
# aws s3 cp [--only-show-errors] [--recursive] SRC DST, with s3://X kept in $FAKE_S3/X
[ "$1 $2" = "s3 cp" ] || exit 64
shift 2
rec=
while [ "${1#--}" != "$1" ]; do [ "$1" = "--recursive" ] && rec=1; shift; done
map() { case "$1" in s3://*) echo "$FAKE_S3/${1#s3://}" ;; *) echo "$1" ;; esac; }
src=$(map "$1"); dst=$(map "$2")
mkdir -p "$(dirname "$dst")"
if [ -n "$rec" ]; then mkdir -p "$dst" && cp -R "$src/." "$dst"; else cp "$src" "$dst"; fi
"#,
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&fake_aws)
        .status()
        .unwrap();
    let flowcost_dir = std::path::Path::new(env!("CARGO_BIN_EXE_flowcost"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        flowcost_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s3 = dir.path().join("s3");
    let script = |name: &str| format!("{}/scale/{name}", env!("CARGO_MANIFEST_DIR"));
    let sh = |args: &[&str], index: Option<u32>| {
        let mut c = std::process::Command::new("sh");
        c.args(args).env("PATH", &path).env("FAKE_S3", &s3).env(
            "FLOWCOST_CACHE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/no-such-cache"),
        );
        if let Some(k) = index {
            c.env("JOB_COMPLETION_INDEX", k.to_string());
        }
        c.output().unwrap()
    };
    let logs = w.path(Encoding::Gz);
    for k in 0..3 {
        let o = sh(
            &[&script("shard.sh"), "s3://reports/run", "3", "--", &logs],
            Some(k),
        );
        assert!(o.status.success(), "shard {k}: {}", stderr(&o));
    }
    // with a shard missing, merge refuses
    let parts = s3.join("reports/run");
    let kept = std::fs::read(parts.join("part-00002.fcp")).unwrap();
    std::fs::remove_file(parts.join("part-00002.fcp")).unwrap();
    let merge_sh = || {
        let args = [
            &script("merge.sh"),
            "s3://reports/run",
            "3",
            "s3://reports/r.json",
        ];
        sh(&args, None)
    };
    let o = merge_sh();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    std::fs::write(parts.join("part-00002.fcp"), kept).unwrap();
    let o = merge_sh();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(s3.join("reports/r.json")).unwrap()),
        String::from_utf8_lossy(&want)
    );
}

/// A folder of daily partials (in a subfolder, beside a month's report folder, a merge's JSON
/// and a job's empty marker file) given to `merge`, `report` or `compare` is read as the
/// partials in it: the same output as naming them, the other files named on stderr and not
/// read. A file named like the partials that is not one is refused (a day's partial left
/// empty would leave its day out), one cut inside the format's first line fails as cut, and
/// `analyze` of the folder is refused.
#[test]
fn a_folder_of_partials_is_read_as_its_partials() {
    let w = world(&spec(38, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    let month = parts.join("2026-09");
    std::fs::create_dir_all(&month).unwrap();
    let day = |d: &str| month.join(format!("{d}.fcp")).display().to_string();
    for (since, until) in [("2026-09-01", "2026-09-02"), ("2026-09-02", "2026-09-03")] {
        partial(&w, &day(since), &["--since", since, "--until", until]);
    }
    let days = vec![day("2026-09-01"), day("2026-09-02")];
    let parts_s = parts.display().to_string();
    let named = merge(&days);
    assert!(named.status.success(), "{}", stderr(&named));

    // a report folder and a merge's output written among them, and a job's marker
    let report_of = |inputs: &[&str], out: &std::path::Path| {
        let mut args = vec!["report", "-q", "-d", out.to_str().unwrap()];
        args.extend_from_slice(inputs);
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        doc.as_object_mut().unwrap().remove("command");
        let csv = std::fs::read_to_string(out.join("by-day.csv")).unwrap();
        (doc, csv)
    };
    let in_folder = report_of(&[&parts_s], &parts.join("report"));
    let named_days: Vec<&str> = days.iter().map(String::as_str).collect();
    assert_eq!(in_folder, report_of(&named_days, &dir.path().join("r")));
    std::fs::write(parts.join("september.json"), &named.stdout).unwrap();
    std::fs::write(parts.join("_SUCCESS"), "").unwrap();

    let o = run(&["merge", "--format", "json", &parts_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, named.stdout, "the folder merges as its partials");
    let err = stderr(&o);
    let note = format!("among the partial results in {parts_s} are not partial results");
    assert!(err.contains(&note), "{err}");
    assert!(
        err.contains("_SUCCESS"),
        "the file of no kind named first: {err}"
    );
    // the report folder, written again from the folder it now lies in, is the same
    assert_eq!(report_of(&[&parts_s], &parts.join("report")), in_folder);
    let compare = |inputs: &[&str]| {
        let mut args = vec!["compare", "-q", "--format", "json"];
        args.extend_from_slice(&["--before", "2026-09-01..2026-09-01"]);
        args.extend_from_slice(&["--after", "2026-09-02..2026-09-02"]);
        args.extend_from_slice(inputs);
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o.stdout
    };
    assert_eq!(compare(&[&parts_s]), compare(&named_days));

    let o = run(&["analyze", "-q", &parts_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds partial results, not flow logs"));

    // a day's partial left empty, or cut inside the format's first line
    let third = day("2026-09-03");
    std::fs::write(&third, "").unwrap();
    for args in [
        vec!["merge", "-q", &parts_s],
        vec![
            "report",
            "-q",
            "-d",
            dir.path().join("r3").to_str().unwrap(),
            &parts_s,
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let want = format!("{third} is named like the partial results beside it");
        assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    }
    std::fs::write(&third, "flowcost.part").unwrap();
    let o = run(&["merge", "-q", &parts_s]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains(&third), "{}", stderr(&o));

    // a folder holding no partial is refused by merge
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = run(&["merge", "-q", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no partial result"));
}

/// A period that has not ended when the run starts (or ended under an hour before) may be
/// short of records AWS has yet to deliver: the report says so in its notes, and a partial
/// of it carries the note to the merge (a daily partial made just after midnight).
#[test]
fn a_period_not_over_is_said_and_carried_by_its_partial() {
    let w = world(&spec(39, FieldSet::V5), &[Encoding::Gz]);
    let range = ["--since", "2026-09-01", "--until", "2099-01-01"];
    let said = |r: &flowcost::report::Report| {
        (r.analysis.quality.notes.iter())
            .filter(|n| {
                n.starts_with("The period ends at 2099-01-01T00:00:00Z, after this run started")
            })
            .count()
    };
    let p = w.path(Encoding::Gz);
    let mut args = vec![p.as_str()];
    args.extend_from_slice(&range);
    assert_eq!(said(&crate::support::analyze_json(&args)), 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("open.fcp").display().to_string();
    partial(&w, &out, &range);
    let o = merge(&[out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(said(&merged), 1);
    // a period over for an hour and more says nothing of it
    let past = crate::support::analyze_json(&[&p, "--until", "2026-09-02"]);
    assert!(!past
        .analysis
        .quality
        .notes
        .iter()
        .any(|n| n.contains("this run started")));
}
