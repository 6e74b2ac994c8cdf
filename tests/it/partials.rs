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
    let days: Vec<String> = [("2026-09-01", "2026-09-02"), ("2026-09-02", "2026-09-03")]
        .iter()
        .map(|(since, until)| {
            let out = dir.path().join(since).display().to_string();
            partial(&w, &out, &["--since", since, "--until", until]);
            out
        })
        .collect();
    let o = merge(&days);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&want)
    );
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
    refused(&["a", "a"], "given twice");
    refused(&["day", "late"], "overlap");
    refused(&["day", "all"], "open time range");
}

#[test]
fn merge_refuses_damaged_or_foreign_files() {
    let w = world(&spec(34, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good").display().to_string();
    partial(&w, &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let header_end = bytes
        .iter()
        .enumerate()
        .filter(|b| *b.1 == b'\n')
        .nth(1)
        .unwrap()
        .0;
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
                let mut b = b"flowcost.partial/2\n".to_vec();
                b.extend_from_slice(&bytes[19..]);
                b
            },
            "format flowcost.partial/2",
        ),
        (
            "report",
            b"{\"schema\": \"flowcost.report/1\"}\n".to_vec(),
            "no flowcost.partial/1 first line",
        ),
        ("empty", Vec::new(), "no flowcost.partial/1 first line"),
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
