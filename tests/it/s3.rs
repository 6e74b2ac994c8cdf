//! The S3 source against a real S3-compatible server on loopback (moto's server mode, started
//! by `.ci/s3-server`; `FLOWCOST_TEST_S3` points at it). They are ignored by a plain
//! `cargo test` (which says so, with the reason); `.ci/run` runs them with `--ignored`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use aws_sdk_s3::config::{Credentials, Region};
use flowcost::generate::{Encoding, FieldSet};
use flowcost::report::Report;
use flowcost::source::FailureKind;

use crate::proxy::{Proxy, Rules};
use crate::support::{analyze_json, bin, spec, stderr, stdout, world};

/// The test server. These tests are `#[ignore]`d (a plain `cargo test` counts them as
/// ignored, with the reason); asked for with `--ignored`, they need the server.
fn endpoint() -> Option<String> {
    match std::env::var("FLOWCOST_TEST_S3") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => panic!(
            "the S3 tests need a server: eval \"$(bash .ci/s3-server)\" first (CI always does)"
        ),
    }
}

/// A bucket name of its own for this run (the server may outlive a test run).
fn bucket(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

fn client(endpoint: &str) -> (tokio::runtime::Runtime, aws_sdk_s3::Client) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    (rt, aws_sdk_s3::Client::from_conf(conf))
}

/// The key a default-layout key has in the Hive-compatible layout (with hourly partitions).
fn hive_key(key: &str) -> String {
    // AWSLogs/<acct>/vpcflowlogs/<region>/YYYY/MM/DD/<file>
    let p: Vec<&str> = key.split('/').collect();
    let file = p[7];
    let hour = file
        .split('_')
        .find(|x| x.len() == 14 && x.as_bytes()[8] == b'T')
        .map_or("00", |x| &x[9..11]);
    format!(
        "AWSLogs/aws-account-id={}/aws-service=vpcflowlogs/aws-region={}/year={}/month={}/day={}/hour={hour}/{file}",
        p[1], p[3], p[4], p[5], p[6]
    )
}

/// Upload every file under `dir` to `bucket` below `prefix`; returns the count.
fn upload(endpoint: &str, bucket: &str, dir: &Path, prefix: &str, hive: bool) -> usize {
    let (rt, c) = client(endpoint);
    let files = crate::support::files_under(dir);
    rt.block_on(async {
        let _ = c.create_bucket().bucket(bucket).send().await;
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let key = format!("{prefix}{}", if hive { hive_key(&rel) } else { rel });
            let body = aws_sdk_s3::primitives::ByteStream::from(std::fs::read(f).unwrap());
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send()
                .await
                .unwrap();
        }
    });
    files.len()
}

/// `flowcost <sub> -q --path-style --endpoint-url <endpoint>` with the test server's
/// credentials and nothing of the user's AWS configuration.
fn s3_cmd(endpoint: &str, sub: &str) -> std::process::Command {
    let mut c = bin();
    c.args([sub, "-q", "--path-style", "--endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    c
}

fn s3_run(endpoint: &str, args: &[&str]) -> Output {
    s3_cmd(endpoint, "analyze")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap()
}

/// [`s3_run`] reading its inputs in parts ([`crate::support::IN_PARTS`]), saying on stderr
/// how many runs its tables spilled (`FLOWCOST_SHOW_SPILL`).
fn s3_in_parts(endpoint: &str, args: &[&str]) -> Output {
    s3_cmd(endpoint, "analyze")
        .args(["--format", "json"])
        .args(crate::support::IN_PARTS)
        .args(args)
        .env("FLOWCOST_SHOW_SPILL", "1")
        .output()
        .unwrap()
}

fn s3_json(endpoint: &str, args: &[&str]) -> Report {
    let o = s3_run(endpoint, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The file name of an input path or key.
fn name(p: &str) -> String {
    p.rsplit('/').next().unwrap().to_string()
}

/// Same answer as the local run: the analysis byte for byte except the listed sources, and
/// every file's counts by name.
fn assert_same(s3: &Report, local: &Report) {
    let strip = |r: &Report| {
        let mut v = serde_json::to_value(&r.analysis).unwrap();
        v["quality"]["files"] = serde_json::Value::Null;
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(strip(s3), strip(local));
    let files = |r: &Report| -> BTreeMap<String, String> {
        r.analysis
            .quality
            .files
            .iter()
            .map(|f| {
                (
                    name(&f.path),
                    serde_json::to_string(&(&f.counts, &f.format, f.size)).unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(files(s3), files(local));
    assert!(
        s3.analysis.quality.files.iter().all(|f| f.etag.is_some()),
        "every object's ETag is reported"
    );
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn default_and_hive_layouts_read_the_same_as_local_disk() {
    let Some(ep) = endpoint() else { return };
    let layouts = bucket("layouts");
    let w = world(&spec(41, FieldSet::V5), &[Encoding::Gz, Encoding::Parquet]);
    let local = analyze_json(&[&w.path(Encoding::Gz)]);
    let n = upload(&ep, &layouts, &w.dir.path().join("gz"), "default/", false);
    upload(&ep, &layouts, &w.dir.path().join("gz"), "hive/", true);
    upload(
        &ep,
        &layouts,
        &w.dir.path().join("parquet"),
        "parquet/",
        false,
    );
    let d = s3_json(&ep, &[&format!("s3://{layouts}/default/")]);
    assert_same(&d, &local);
    assert_eq!(d.inputs.s3[0].objects as usize, n);
    assert_eq!(
        d.inputs.s3[0].prefixes,
        vec!["default/AWSLogs/111122223333/vpcflowlogs/us-east-1/".to_string()]
    );
    let h = s3_json(&ep, &[&format!("s3://{layouts}/hive/")]);
    assert_same(&h, &local);
    assert!(h.inputs.s3[0].prefixes[0].contains("aws-region=us-east-1/"));
    let p = s3_json(&ep, &[&format!("s3://{layouts}/parquet/")]);
    assert_eq!(p.analysis.classes, w.truth.nat, "Parquet objects from S3");
    // S3 and local inputs mixed
    let half = s3_json(
        &ep,
        &[
            &format!("s3://{layouts}/default/"),
            &w.path(Encoding::Parquet),
        ],
    );
    let mut twice = w.truth.nat;
    twice.add_all(&w.truth.nat);
    assert_eq!(half.analysis.classes, twice);
    // an archive among the deliveries is not read, and a note names it
    let gz = w.dir.path().join("gz");
    upload(&ep, &layouts, &gz, "archived/", false);
    let first = crate::support::files_under(&gz)[0].clone();
    let rel = first.strip_prefix(&gz).unwrap().with_file_name("week.zip");
    let key = format!("archived/{}", rel.to_string_lossy().replace('\\', "/"));
    let (rt, c) = client(&ep);
    rt.block_on(async {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"PK\x03\x04 a zip");
        c.put_object()
            .bucket(&layouts)
            .key(&key)
            .body(body)
            .send()
            .await
            .unwrap();
    });
    let a = s3_json(&ep, &[&format!("s3://{layouts}/archived/")]);
    assert_eq!(a.analysis.classes, w.truth.nat);
    let note = format!(
        "1 archive(s) under s3://{layouts}/archived/ were not read (e.g. s3://{layouts}/{key})"
    );
    assert!(
        a.analysis
            .quality
            .notes
            .iter()
            .any(|n| n.starts_with(&note)),
        "{:?}",
        a.analysis.quality.notes
    );
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn listing_pages_past_a_thousand_keys() {
    let Some(ep) = endpoint() else { return };
    let paged = bucket("paged");
    let mut s = spec(42, FieldSet::V5);
    s.days = 6;
    s.tasks_per_day = 10;
    let w = world(&s, &[Encoding::Gz]);
    let n = upload(&ep, &paged, &w.dir.path().join("gz"), "", false);
    assert!(n > 1000, "{n} objects");
    let proxy = Proxy::start(&ep, Rules::default());
    let r = s3_json(&proxy.url, &[&format!("s3://{paged}")]);
    assert_eq!(r.inputs.s3[0].objects as usize, n);
    assert_same(&r, &analyze_json(&[&w.path(Encoding::Gz)]));
    let full_lists = proxy
        .seen()
        .iter()
        .filter(|l| l.contains("list-type=2") && !l.contains("delimiter"))
        .count();
    assert!(
        full_lists >= 2,
        "the listing needed continuation: {full_lists} pages"
    );
}

/// A server whose listing never advances (every page truncated, with the token it was
/// handed back) fails the listing, said, where the run would list forever; so does one whose
/// page says more follow but gives no token to ask for them (the rest would be left out,
/// unsaid); a server that lists every key twice has each object read once, the same answer.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_listing_that_never_advances_or_repeats_its_keys() {
    let Some(ep) = endpoint() else { return };
    let relisted = bucket("relisted");
    let w = world(&spec(45, FieldSet::V5), &[Encoding::Gz]);
    upload(&ep, &relisted, &w.dir.path().join("gz"), "", false);
    let at = format!("s3://{relisted}");
    let forever = Rules {
        list_again: u32::MAX,
        ..Default::default()
    };
    let p = Proxy::start(&ep, forever);
    let mut c = s3_cmd(&p.url, "analyze");
    c.args(["--format", "json", &at]);
    let o = output_within(c, 120);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{e}");
    assert!(e.contains("did not advance"), "{e}");
    assert!(o.stdout.is_empty());
    // a page said to be followed by more, with no token to ask for them: the rest unlisted
    let p = Proxy::start(
        &ep,
        Rules {
            list_no_token: true,
            ..Default::default()
        },
    );
    let mut c = s3_cmd(&p.url, "analyze");
    c.arg(&at);
    let o = output_within(c, 120);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{e}");
    assert!(e.contains("gives no continuation token"), "{e}");
    let twice = Rules {
        list_again: 1,
        ..Default::default()
    };
    let p = Proxy::start(&ep, twice);
    let local = analyze_json(&[&w.path(Encoding::Gz)]);
    let r = s3_json(&p.url, &[&at]);
    let said = (r.analysis.quality.notes.iter())
        .find(|n| n.contains("named twice"))
        .expect("the keys listed twice are said");
    assert!(
        said.contains("by an S3 listing that returned the key twice"),
        "{said}"
    );
    let notes_but = |r: &Report| {
        let mut r = r.clone();
        r.analysis
            .quality
            .notes
            .retain(|n| !n.contains("named twice"));
        r
    };
    assert_same(&notes_but(&r), &local);
    let gets = object_gets(&p);
    let distinct: std::collections::BTreeSet<&String> = gets.iter().collect();
    assert_eq!(gets.len(), distinct.len(), "each object fetched once");
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_time_range_lists_only_the_days_it_needs() {
    let Some(ep) = endpoint() else { return };
    let pruned = bucket("pruned");
    let mut s = spec(43, FieldSet::V5);
    s.days = 6;
    s.tasks_per_day = 4;
    let w = world(&s, &[Encoding::Gz]);
    upload(&ep, &pruned, &w.dir.path().join("gz"), "", false);
    upload(&ep, &pruned, &w.dir.path().join("gz"), "h/", true);
    // 2026-09-03 and 2026-09-04 of 2026-09-01 .. 2026-09-06
    let range = ["--since", "2026-09-03", "--until", "2026-09-05"];
    let mut local_args = range.to_vec();
    let lp = w.path(Encoding::Gz);
    local_args.push(&lp);
    let local = analyze_json(&local_args);
    for (url, hive) in [
        (&format!("s3://{pruned}/AWSLogs/"), false),
        (&format!("s3://{pruned}/h/"), true),
    ] {
        let proxy = Proxy::start(&ep, Rules::default());
        let mut args = range.to_vec();
        args.push(url);
        let r = s3_json(&proxy.url, &args);
        assert_eq!(r.analysis.classes, local.analysis.classes, "{url}");
        assert_eq!(
            r.analysis.quality.lines.counted, local.analysis.quality.lines.counted,
            "{url}"
        );
        let days: Vec<String> = r.inputs.s3[0]
            .prefixes
            .iter()
            .map(|p| p.rsplit('/').nth(1).unwrap().to_string())
            .collect();
        let want = if hive {
            ["day=02", "day=03", "day=04", "day=05"]
        } else {
            ["02", "03", "04", "05"]
        };
        assert_eq!(days, want, "one day of margin each side");
        let seen = proxy.seen();
        let full: Vec<&String> = seen
            .iter()
            .filter(|l| l.contains("list-type=2") && !l.contains("delimiter"))
            .collect();
        assert_eq!(full.len(), 4, "{url}: one listing per day folder: {full:?}");
        assert!(
            !seen.iter().any(|l| l.contains("%2F2026%2F09%2F01")
                || l.contains("day%3D01")
                || l.contains("day=01")),
            "day 1 never listed"
        );
        let gets = seen
            .iter()
            .filter(|l| l.starts_with("GET ") && !l.contains("list-type"))
            .count() as u64;
        assert_eq!(gets, r.inputs.s3[0].objects, "one GET per listed object");
        assert!(
            gets * 2 < local.analysis.quality.files.len() as u64,
            "far fewer objects than the six days hold"
        );
    }
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn faults_are_survived_or_reported_by_key() {
    let Some(ep) = endpoint() else { return };
    let faults = bucket("faults");
    let w = world(&spec(44, FieldSet::V5), &[Encoding::Gz]);
    upload(&ep, &faults, &w.dir.path().join("gz"), "", false);
    let local = analyze_json(&[&w.path(Encoding::Gz)]);
    // a key in the middle of the listing
    let victim = {
        let r = s3_json(&ep, &[&format!("s3://{faults}")]);
        let f = &r.analysis.quality.files[r.analysis.quality.files.len() / 2];
        name(&f.path)
    };

    // a 503 SlowDown storm: retried with backoff, same answer
    let p = Proxy::start(
        &ep,
        Rules {
            slowdown: 12,
            ..Default::default()
        },
    );
    assert_same(&s3_json(&p.url, &[&format!("s3://{faults}")]), &local);

    // a body cut mid-stream, twice: resumed with Range GETs, same answer
    let p = Proxy::start(
        &ep,
        Rules {
            cut: Some((victim.clone(), 2)),
            ..Default::default()
        },
    );
    let r = s3_json(&p.url, &[&format!("s3://{faults}")]);
    assert_same(&r, &local);
    assert!(p.seen().iter().filter(|l| l.contains(&victim)).count() >= 3);

    // cut every time: reported by key, everything else counted, the report marked
    // incomplete (exit 7); fatal under --strict
    let p = Proxy::start(
        &ep,
        Rules {
            cut: Some((victim.clone(), 1000)),
            ..Default::default()
        },
    );
    let o = s3_run(&p.url, &[&format!("s3://{faults}")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let bad: Vec<_> = r
        .analysis
        .quality
        .files
        .iter()
        .filter(|f| f.error.is_some())
        .collect();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].path.ends_with(&victim));
    assert!(
        bad[0].error.as_ref().unwrap().contains("cut"),
        "{:?}",
        bad[0].error
    );
    assert_eq!(bad[0].failure, Some(FailureKind::CutShort));
    assert_eq!(
        r.analysis.quality.files.len(),
        local.analysis.quality.files.len()
    );
    let q = &r.analysis.quality;
    assert!(!q.complete && !q.reconciled);
    let inc = q.incomplete.as_ref().unwrap();
    assert_eq!((inc.inputs, inc.by_kind.len()), (1, 1));
    assert!(stderr(&o).contains("INCOMPLETE: 1 of"), "{}", stderr(&o));
    let o = s3_run(&p.url, &["--strict", &format!("s3://{faults}")]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains(&victim));

    // an object that vanished between listing and download
    let p = Proxy::start(
        &ep,
        Rules {
            vanish: Some(victim.clone()),
            ..Default::default()
        },
    );
    let o = s3_run(&p.url, &[&format!("s3://{faults}")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let bad: Vec<_> = r
        .analysis
        .quality
        .files
        .iter()
        .filter(|f| f.error.is_some())
        .collect();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].error.as_ref().unwrap().contains("NoSuchKey"));
    assert_eq!(bad[0].failure, Some(FailureKind::NotFound));

    // access denied names the missing permission and stops the run
    let p = Proxy::start(
        &ep,
        Rules {
            deny_list: true,
            ..Default::default()
        },
    );
    let o = s3_run(&p.url, &[&format!("s3://{faults}")]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("s3:ListBucket"), "{}", stderr(&o));
    let p = Proxy::start(
        &ep,
        Rules {
            deny_get: true,
            ..Default::default()
        },
    );
    let o = s3_run(&p.url, &[&format!("s3://{faults}")]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("s3:GetObject"), "{}", stderr(&o));

    // a bucket that does not exist
    let o = s3_run(&ep, &["s3://no-such-bucket-here/"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn monthly_report_reads_s3_and_lists_its_objects() {
    let Some(ep) = endpoint() else { return };
    let b = bucket("report");
    let w = world(&spec(43, FieldSet::V7), &[Encoding::Gz]);
    let n = upload(&ep, &b, &w.dir.path().join("gz"), "", false);
    let out = tempfile::tempdir().unwrap();
    let (local_dir, s3_dir) = (out.path().join("local"), out.path().join("s3"));
    let run = |dir: &Path, input: &str| {
        let o = s3_cmd(&ep, "report")
            .args(["--month", "2026-09", "-d", dir.to_str().unwrap(), input])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
        serde_json::from_str::<flowcost::report::monthly::MonthlyReport>(&text).unwrap()
    };
    let local = run(&local_dir, &w.path(Encoding::Gz));
    let remote = run(&s3_dir, &format!("s3://{b}/"));
    assert_eq!(remote.summary, local.summary);
    assert_eq!(remote.analysis.analysis.classes, w.truth.nat);
    for f in [
        "by-day.csv",
        "by-class.csv",
        "top-clients.csv",
        "daily-nat-bytes.svg",
    ] {
        assert_eq!(
            std::fs::read(s3_dir.join(f)).unwrap(),
            std::fs::read(local_dir.join(f)).unwrap(),
            "{f}"
        );
    }
    let inputs = std::fs::read_to_string(s3_dir.join("inputs.csv")).unwrap();
    let rows: Vec<&str> = inputs.lines().skip(1).collect();
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r.starts_with(&format!("s3://{b}/"))));
    assert!(
        rows.iter()
            .all(|r| r.split(',').nth(3).is_some_and(|e| !e.is_empty())),
        "every object's ETag is in inputs.csv"
    );
    let md = std::fs::read_to_string(s3_dir.join("report.md")).unwrap();
    assert!(md.contains(&format!("- s3://{b}: {n} objects")), "{md}");
}

/// The object GETs a proxy saw, by request line (each object's path, with any query).
fn object_gets(proxy: &Proxy) -> Vec<String> {
    let mut v: Vec<String> = proxy
        .seen()
        .into_iter()
        .filter(|l| l.starts_with("GET ") && !l.contains("list-type"))
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn compare_and_change_at_fetch_each_object_once() {
    // both periods of a comparison (and the whole month with both sides of a change) come
    // from one listing and one GET per object: exactly the objects the runs over each period
    // alone fetch together, and the same figures as those runs
    let Some(ep) = endpoint() else { return };
    let b = bucket("onepass");
    let mut s = spec(51, FieldSet::V5);
    s.days = 4;
    s.s3_endpoint_at = Some(s.start + 2 * 86_400);
    let w = world(&s, &[Encoding::Gz]);
    let n = upload(&ep, &b, &w.dir.path().join("gz"), "", false);
    let url = format!("s3://{b}/");
    let gets_of = |sub: &str, args: &[&str]| {
        let proxy = Proxy::start(&ep, Rules::default());
        let o = s3_cmd(&proxy.url, sub).args(args).output().unwrap();
        assert!(o.status.success(), "{sub} {args:?}: {}", stderr(&o));
        (object_gets(&proxy), o.stdout)
    };
    let once = |gets: &[String]| {
        let mut unique = gets.to_vec();
        unique.dedup();
        assert_eq!(unique.len(), gets.len(), "an object fetched twice");
    };
    // compare, with a day between the periods that neither reads
    let (gets, out) = gets_of(
        "compare",
        &[
            "--format",
            "json",
            "--before",
            "2026-09-01..2026-09-01",
            "--after",
            "2026-09-03..2026-09-04",
            &url,
        ],
    );
    once(&gets);
    let c: flowcost::report::compare::Comparison = serde_json::from_slice(&out).unwrap();
    let (before, b_out) = gets_of(
        "analyze",
        &[
            "--format",
            "json",
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-02",
            &url,
        ],
    );
    let (after, a_out) = gets_of(
        "analyze",
        &[
            "--format",
            "json",
            "--since",
            "2026-09-03",
            "--until",
            "2026-09-05",
            &url,
        ],
    );
    let mut union: Vec<String> = before.iter().chain(&after).cloned().collect();
    union.sort();
    union.dedup();
    assert_eq!(gets, union, "the objects of either period, each once");
    assert!(
        gets.len() * 5 < n * 4,
        "most of the day between the periods is not fetched: {} of {n}",
        gets.len()
    );
    let alone = |o: &[u8]| serde_json::from_slice::<Report>(o).unwrap().analysis;
    let strip = |mut a: flowcost::analysis::Analysis| {
        a.quality.files.clear();
        serde_json::to_string(&a).unwrap()
    };
    assert_eq!(strip(c.reports.before.analysis), strip(alone(&b_out)));
    assert_eq!(strip(c.reports.after.analysis), strip(alone(&a_out)));
    // report --change-at: the month and both sides, one GET per object of the month
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (gets, _) = gets_of(
        "report",
        &[
            "--month",
            "2026-09",
            "--change-at",
            "2026-09-03",
            "-d",
            d,
            &url,
        ],
    );
    once(&gets);
    let (month, _) = gets_of("analyze", &["--month", "2026-09", &url]);
    assert_eq!(gets, month);
}

/// An object larger than what is gathered whole (`WHOLE_GZIP_MAX`) is streamed chunk by chunk
/// into the decoder instead, with the same answer as the file on disk.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_object_is_streamed_with_the_same_answer() {
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(43, FieldSet::V5), &[Encoding::Text]);
    let text = larger_than_whole(&w);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    std::fs::write(&big, &text).unwrap();
    let local = analyze_json(&[big.to_str().unwrap()]);
    let b = bucket("large");
    upload(&ep, &b, dir.path(), "big/", false);
    let s3 = s3_json(&ep, &[&format!("s3://{b}/big/")]);
    assert_same(&s3, &local);
    assert!(s3.analysis.quality.files[0].size > flowcost::source::WHOLE_GZIP_MAX);
    assert!(local.analysis.quality.lines.counted > 50_000);
}

/// A Parquet object larger than what is gathered whole (`WHOLE_GZIP_MAX`), named as Parquet,
/// is fetched by the ranges its decoder reads (its footer, then the column chunks of the
/// fields read), written at their offsets to an unnamed file under `--temp-dir` and read from
/// it by position: the answer of the file on disk, without the bytes of the columns not read.
/// (Until 2026-12-07 it was downloaded whole: held in memory and refused past 1 GiB, then
/// spooled whole.) Ranges cut short resume; cut every time, answered with other bytes than
/// asked (a server that ignores ranges), gone since the listing, or a server that dies or
/// stalls after its footer, the object fails and none of it counts.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_long_parquet_object_is_fetched_by_the_ranges_it_reads() {
    let Some(ep) = endpoint() else { return };
    let over = flowcost::source::WHOLE_GZIP_MAX + (1 << 20);
    let (w, _dir, long) = padded_object(44, "long/long.parquet", over);
    let size = std::fs::metadata(&long).unwrap().len();
    let b = bucket("long-parquet");
    upload(&ep, &b, long.parent().unwrap(), "long/", false);
    let local = analyze_json(&[long.to_str().unwrap()]);
    let spool = tempfile::tempdir().unwrap();
    let url = format!("s3://{b}/long/");
    let mut args = vec!["--temp-dir", spool.path().to_str().unwrap(), &url];
    // every GET of the object asks for a range, and all of them together bring back less
    // than the unread padding column leaves: the footer and the columns read
    let p = Proxy::start(&ep, Rules::default());
    let s3 = s3_json(&p.url, &args);
    assert_same(&s3, &local);
    assert_eq!(s3.analysis.quality.files[0].size, size);
    fetched_by_ranges(&p, &long);
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
    // its ranges cut mid-stream twice: resumed, the same answer
    let p = Proxy::start(&ep, cut("long.parquet", 2));
    assert_same(&s3_json(&p.url, &args), &local);
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
    // cut every time, or answered whole where a range was asked for: the object fails (exit
    // 7; the NAT gateways and region named, for a report of nothing read), none of it counts
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni", e]);
    }
    args.extend(["--region", &w.truth.region]);
    let ignored = Rules {
        drop_range: true,
        ..Default::default()
    };
    let vanished = Rules {
        vanish: Some("long.parquet".into()),
        ..Default::default()
    };
    // (a server that stops listening once the footer came)
    let dies = Rules {
        die_after_gets: Some(1),
        ..Default::default()
    };
    for (rules, kind, says) in [
        (
            cut("long.parquet", 1000),
            FailureKind::CutShort,
            "download cut",
        ),
        (ignored, FailureKind::Io, "answered with other bytes"),
        (vanished, FailureKind::NotFound, "vanished"),
        (dies, FailureKind::Unreachable, "GetObject failed"),
    ] {
        let p = Proxy::start(&ep, rules);
        let o = s3_run(&p.url, &args);
        assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        let file = &r.analysis.quality.files[0];
        assert_eq!(file.failure, Some(kind), "{file:?}");
        assert!(
            file.error.as_deref().unwrap_or("").contains(says),
            "{file:?}"
        );
        assert_eq!(r.analysis.quality.lines.counted, 0);
        assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
    }
    // a server that stalls after the footer's GET: each range times out, is resumed and
    // times out again, and the object fails as timed out (a watchdog, not a speed bound)
    let stalls = Rules {
        stall_after_gets: Some(1),
        ..Default::default()
    };
    let p = Proxy::start(&ep, stalls);
    let mut c = s3_cmd(&p.url, "analyze");
    c.args([
        "--format",
        "json",
        "--read-timeout",
        "300ms",
        "--connect-timeout",
        "300ms",
    ]);
    c.args(&args);
    let o = output_within(c, 300);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let file = &r.analysis.quality.files[0];
    assert_eq!(file.failure, Some(FailureKind::Timeout), "{file:?}");
    assert_eq!(r.analysis.quality.lines.counted, 0);
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
}

/// A Parquet object of AWS's usual sizes (over 4 MiB, up to `WHOLE_GZIP_MAX`) is fetched by
/// the ranges its decoder reads (its footer, then the column chunks of the fields read) into
/// a buffer of its size before it is handed over: the answer of the file on disk, without
/// the bytes of the columns not read; ranges cut short resume, cut every time the object
/// fails and none of it counts.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_parquet_object_is_fetched_by_its_footer_and_the_columns_read() {
    let Some(ep) = endpoint() else { return };
    let (w, dir, padded) = padded_object(47, "small/vpc.log.parquet", 5 << 20);
    let size = std::fs::metadata(&padded).unwrap().len();
    assert!(size > flowcost::source::s3::RANGED_FROM && size < flowcost::source::WHOLE_GZIP_MAX);
    let b = bucket("small-parquet");
    upload(&ep, &b, padded.parent().unwrap(), "small/", false);
    let local = analyze_json(&[padded.to_str().unwrap()]);
    let url = format!("s3://{b}/small/");
    let p = Proxy::start(&ep, Rules::default());
    assert_same(&s3_json(&p.url, &[&url]), &local);
    fetched_by_ranges(&p, &padded);
    let p = Proxy::start(&ep, cut("vpc.log.parquet", 2));
    assert_same(&s3_json(&p.url, &[&url]), &local);
    // a smaller one (its unread stretches too short to skip) is one GET of all of it
    let (tiny, export) = (dir.path().join("tiny"), dir.path().join("export.parquet"));
    std::fs::create_dir(&tiny).unwrap();
    std::fs::copy(&export, tiny.join("export.parquet")).unwrap();
    assert!(std::fs::metadata(&export).unwrap().len() < flowcost::source::s3::RANGED_FROM);
    upload(&ep, &b, &tiny, "tiny/", false);
    let p = Proxy::start(&ep, Rules::default());
    let by_path = analyze_json(&[tiny.to_str().unwrap()]);
    assert_same(&s3_json(&p.url, &[&format!("s3://{b}/tiny/")]), &by_path);
    let sent = p.sent_for("export.parquet");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].range, None);
    let mut args = vec![url.as_str()];
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni", e]);
    }
    args.extend(["--region", &w.truth.region]);
    let p = Proxy::start(&ep, cut("vpc.log.parquet", 1000));
    let o = s3_run(&p.url, &args);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let file = &r.analysis.quality.files[0];
    assert_eq!(file.failure, Some(FailureKind::CutShort), "{file:?}");
    assert_eq!(r.analysis.quality.lines.counted, 0);
}

/// A large object named as Parquet that is not (a text), or whose footer is broken, is read
/// whole as any large object is: the text's answer, the broken file's failure, each as on
/// disk.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_object_misnamed_or_broken_as_parquet_reads_as_on_disk() {
    let Some(ep) = endpoint() else { return };
    let w = world(
        &spec(45, FieldSet::V5),
        &[Encoding::Text, Encoding::Parquet],
    );
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text").join("records.log.parquet");
    std::fs::create_dir(text.parent().unwrap()).unwrap();
    std::fs::write(&text, larger_than_whole(&w)).unwrap();
    let export = dir.path().join("export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let broken = dir.path().join("broken").join("footer.parquet");
    std::fs::create_dir(broken.parent().unwrap()).unwrap();
    let over = flowcost::source::WHOLE_GZIP_MAX + (1 << 20);
    crate::support::padded_parquet(&export, &broken, over);
    // the footer's length made to claim more than the file holds
    let mut body = std::fs::read(&broken).unwrap();
    let n = body.len();
    body[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&broken, &body).unwrap();
    let b = bucket("misnamed-parquet");
    upload(&ep, &b, dir.path(), "", false);
    let local = analyze_json(&[text.to_str().unwrap()]);
    assert!(local.analysis.quality.lines.counted > 50_000);
    assert_same(&s3_json(&ep, &[&format!("s3://{b}/text/")]), &local);
    let mut args: Vec<String> = Vec::new();
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni".to_string(), e.clone()]);
    }
    args.extend(["--region".to_string(), w.truth.region.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let on_disk = [args.as_slice(), &[broken.to_str().unwrap()]].concat();
    let (local, code) = crate::support::analyze_json_code(&on_disk);
    assert_eq!(code, Some(7));
    let url = format!("s3://{b}/broken/");
    let o = s3_run(&ep, &[args.as_slice(), &[url.as_str()]].concat());
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let s3: Report = serde_json::from_slice(&o.stdout).unwrap();
    let file = |r: &Report| {
        let f = &r.analysis.quality.files[0];
        (f.failure, f.error.clone(), f.counts.clone())
    };
    assert_eq!(file(&s3), file(&local));
}

/// A generated world (`seed`), its Parquet export (`export.parquet` in the folder returned)
/// and the export padded past `at_least` bytes with a column flowcost does not read, at
/// `name` under the folder: its records counted on disk.
fn padded_object(
    seed: u64,
    name: &str,
    at_least: u64,
) -> (
    crate::support::GenWorld,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let w = world(&spec(seed, FieldSet::V5), &[Encoding::Parquet]);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let padded = dir.path().join(name);
    std::fs::create_dir_all(padded.parent().unwrap()).unwrap();
    crate::support::padded_parquet(&export, &padded, at_least);
    let local = analyze_json(&[padded.to_str().unwrap()]);
    assert!(local.analysis.quality.lines.counted > 1000);
    (w, dir, padded)
}

/// Every GET of `file`'s object through the proxy asked for a range, and all of them
/// together brought back no more than its footer and the columns read: all but the padding
/// column's chunks ([`padded_object`]), and the footer's first 64 KiB.
fn fetched_by_ranges(p: &Proxy, file: &Path) {
    let name = file.file_name().unwrap().to_str().unwrap();
    let sent = p.sent_for(name);
    assert!(sent.len() >= 2, "{sent:?}");
    assert!(sent.iter().all(|s| s.range.is_some()), "{sent:?}");
    let fetched: usize = sent.iter().map(|s| s.body).sum();
    let size = std::fs::metadata(file).unwrap().len();
    let most = size - column_bytes(file, "padding") + (64 << 10);
    assert!(fetched as u64 <= most, "{fetched} of {size} bytes fetched");
}

/// The bytes of a Parquet file's column `name`, in all its row groups, by its footer.
fn column_bytes(path: &Path, name: &str) -> u64 {
    use parquet::file::reader::FileReader;
    let f = std::fs::File::open(path).unwrap();
    let r = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    (r.metadata().row_groups().iter())
        .flat_map(|g| g.columns())
        .filter(|c| c.column_path().string() == name)
        .map(|c| c.compressed_size() as u64)
        .sum()
}

/// Proxy rules cutting the bodies of GETs of `key` mid-stream, `times` times.
fn cut(key: &str, times: u32) -> Rules {
    Rules {
        cut: Some((key.to_string(), times)),
        ..Default::default()
    }
}

/// A Parquet export under a prefix, of eight chunks or more, is read a part a worker as the
/// file on disk is (its tables spilled as the parts are read); one with a broken page in a
/// middle row group is read again whole from the bytes downloaded, and says what the file on
/// disk read whole says.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_parquet_object_is_read_a_part_a_worker() {
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Parquet]);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("good").join("vpc-export.parquet");
    std::fs::create_dir_all(export.parent().unwrap()).unwrap();
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let broken = dir.path().join("broken").join("vpc-export.parquet");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    crate::support::break_a_middle_row_group(&export, &broken);
    let b = bucket("large-parquet");
    upload(&ep, &b, dir.path(), "", false);
    let local = analyze_json(&["-j", "1", export.to_str().unwrap()]);
    let o = s3_in_parts(&ep, &[&format!("s3://{b}/good/")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same(&serde_json::from_slice(&o.stdout).unwrap(), &local);
    let runs = crate::cli::spill_runs(&stderr(&o));
    assert!(runs > 1, "spilled {runs} times");
    let (local, code) = crate::support::analyze_json_code(&["-j", "1", broken.to_str().unwrap()]);
    assert_eq!(code, Some(7));
    let o = s3_in_parts(&ep, &[&format!("s3://{b}/broken/")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let s3: Report = serde_json::from_slice(&o.stdout).unwrap();
    // (the same but for the input's name in the incomplete run's example)
    assert_eq!(s3.analysis.classes, local.analysis.classes);
    assert_eq!(s3.analysis.by_day, local.analysis.by_day);
    let file = |r: &Report| {
        let f = &r.analysis.quality.files[0];
        (serde_json::to_string(&f.counts).unwrap(), f.error.clone())
    };
    assert_eq!(file(&s3), file(&local));
}

/// Two generated worlds' text deliveries, each concatenated: the v5 one alone, the v2 one
/// followed by it (a header mid-text changes the layout), and the arguments naming both
/// worlds' NAT gateways and their region.
fn v2_then_v5() -> (String, String, Vec<String>) {
    let v2 = world(&spec(32, FieldSet::V2), &[Encoding::Text]);
    let v5 = world(&spec(33, FieldSet::V5), &[Encoding::Text]);
    let scratch = tempfile::tempdir().unwrap();
    let a = crate::bad_input::concatenated(&v2, &scratch.path().join("v2.log"));
    let b = crate::bad_input::concatenated(&v5, &scratch.path().join("v5.log"));
    let mut args: Vec<String> = Vec::new();
    for e in v2.truth.nat_enis.iter().chain(&v5.truth.nat_enis) {
        args.extend(["--nat-eni".into(), e.clone()]);
    }
    args.extend(["--region".into(), "us-east-1".into()]);
    (b.clone(), a + &b, args)
}

/// A large text object is split among workers as a file on disk is (its tables spilled as its
/// chunks are read), and one whose layout changes mid-object (v2 records, then a v5 header
/// and v5 records) is downloaded again and read in one piece: each as the file on disk is.
/// (Until 2026-12-06 only files on disk were split; an object was read by one worker.) Read
/// by one worker, each object spills its tables as it goes.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_text_object_is_split_among_workers() {
    let Some(ep) = endpoint() else { return };
    let (v5, mixed_text, args) = v2_then_v5();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["one", "mixed"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let one = dir.path().join("one").join("big.log");
    std::fs::write(&one, v5).unwrap();
    let mixed = dir.path().join("mixed").join("mixed.log");
    std::fs::write(&mixed, mixed_text).unwrap();
    let bucket = bucket("large-text");
    upload(&ep, &bucket, dir.path(), "", false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for (sub, path) in [("one", &one), ("mixed", &mixed)] {
        let local = analyze_json(&[&args[..], &["-j", "1", path.to_str().unwrap()]].concat());
        let url = format!("s3://{bucket}/{sub}/");
        let o = s3_in_parts(&ep, &[&args[..], &[&*url]].concat());
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
        let s3: Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_same(&s3, &local);
        assert_eq!(s3.analysis.quality.lines.malformed, 0, "{sub}");
        // (the mixed object's chunks and their runs are dropped; it is read again whole)
        let runs = crate::cli::spill_runs(&stderr(&o));
        assert!(runs > 1 || sub == "mixed", "{sub}: spilled {runs} times");
        // one worker: each object read whole, its tables spilled as it goes (the mixed one
        // too: one decoder follows the layout's change, nothing is read again)
        let alone = ["-j", "1", "--max-enis-in-memory", "1"];
        let o = s3_cmd(&ep, "analyze")
            .args(["--format", "json"])
            .args(alone)
            .args([&args[..], &[&*url]].concat())
            .env("FLOWCOST_SHOW_SPILL", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
        assert_same(&serde_json::from_slice(&o.stdout).unwrap(), &local);
        let runs = crate::cli::spill_runs(&stderr(&o));
        assert!(runs > 1, "{sub}, one worker: spilled {runs} times");
    }
}

/// A large text object whose layout changes mid-object is downloaded again to be read whole;
/// should the endpoint die after the first download, the second fails: the object is reported
/// not read (exit 7, the report incomplete), none of the first pass's records count, and the
/// run ends (it does not wait, nor panic). With one worker there is no second download: the
/// same dying endpoint costs nothing.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn an_endpoint_dying_before_a_second_download_fails_that_object() {
    let Some(ep) = endpoint() else { return };
    let (_, mixed_text, nat) = v2_then_v5();
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("mixed.log");
    std::fs::write(&mixed, mixed_text).unwrap();
    let bucket = bucket("dies-before-again");
    upload(&ep, &bucket, dir.path(), "", false);
    let nat: Vec<&str> = nat.iter().map(String::as_str).collect();
    let local = analyze_json(&[&nat[..], &["-j", "1", mixed.to_str().unwrap()]].concat());
    let url = format!("s3://{bucket}/");
    let args = [&nat[..], &["--format", "json", &url]].concat();
    let dying = || {
        Proxy::start(
            &ep,
            Rules {
                die_after_gets: Some(1),
                ..Default::default()
            },
        )
    };
    let parts = ["-j", "2", "--chunk-size", "4096"];
    let p = dying();
    let mut c = s3_cmd(&p.url, "analyze");
    c.args(parts).args(&args);
    let o = output_within(c, 300);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let q = &r.analysis.quality;
    assert_eq!(q.files.len(), 1);
    let error = q.files[0].error.as_deref().unwrap_or_default();
    assert!(error.starts_with("cannot open: "), "{:?}", q.files[0]);
    assert_eq!(q.files[0].failure, Some(FailureKind::Unreachable));
    assert!(q.files[0].etag.is_some());
    assert_eq!(q.lines.counted, 0, "{:?}", q.lines);
    assert_eq!(r.analysis.total, 0);
    assert!(!q.complete && q.incomplete.is_some());
    // one worker follows the layout's change in one pass: one download, the file's report
    let p = dying();
    let mut c = s3_cmd(&p.url, "analyze");
    c.args(["-j", "1"]).args(&args);
    let o = output_within(c, 300);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same(&serde_json::from_slice(&o.stdout).unwrap(), &local);
}

/// The text files of `w` as one text (one header), then copies of their records
/// ([`crate::support::copy_of_records`]) until it is larger than what is gathered whole.
fn larger_than_whole(w: &crate::support::GenWorld) -> Vec<u8> {
    let mut text = Vec::new();
    for f in crate::support::files_under(Path::new(&w.path(Encoding::Text))) {
        let body = std::fs::read(f).unwrap();
        // the first file keeps its header; the rest add records
        let skip = if text.is_empty() {
            0
        } else {
            body.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1)
        };
        text.extend_from_slice(&body[skip..]);
    }
    let records = text.clone();
    let header_end = records.iter().position(|&b| b == b'\n').unwrap() + 1;
    for k in 1.. {
        if (text.len() as u64) > flowcost::source::WHOLE_GZIP_MAX + (1 << 20) {
            break;
        }
        text.extend(crate::support::copy_of_records(&records[header_end..], k));
    }
    text
}

/// A large gzip object is inflated as it streams in, so its check comes after its records
/// were decoded: one that fails it counts none of them, the others as on disk.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_gzip_object_that_fails_its_check_counts_none_of_its_records() {
    use std::io::Write;
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(44, FieldSet::V5), &[Encoding::Text]);
    let text = larger_than_whole(&w);
    // stored blocks: as large compressed as the text, so that it is streamed
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(&text).unwrap();
    let mut data = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.log.gz"), &data).unwrap();
    let n = data.len();
    data[n - 6] ^= 1;
    std::fs::write(dir.path().join("bad.log.gz"), &data).unwrap();
    let good_alone = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("good.log.gz"),
        good_alone.path().join("good.log.gz"),
    )
    .unwrap();
    let local = analyze_json(&[good_alone.path().to_str().unwrap()]);
    let b = bucket("large-gz");
    upload(&ep, &b, dir.path(), "big/", false);
    let o = s3_run(&ep, &[&format!("s3://{b}/big/")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let s3: Report = serde_json::from_slice(&o.stdout).unwrap();
    let q = &s3.analysis.quality;
    let bad = q
        .files
        .iter()
        .find(|f| f.path.ends_with("bad.log.gz"))
        .unwrap();
    assert!(bad.size > flowcost::source::WHOLE_GZIP_MAX);
    assert_eq!(bad.failure, Some(FailureKind::Corrupt));
    assert_eq!(bad.counts, Default::default());
    let said = bad.error.as_deref().unwrap();
    assert!(said.contains("lines were counted"), "{said}");
    assert_eq!(q.lines, local.analysis.quality.lines);
    assert_eq!(s3.analysis.total, local.analysis.total);
    assert!(local.analysis.quality.lines.counted > 50_000);
}

/// A large gzip object of several members, one of them damaged after the first two: the
/// object is downloaded again up to that member, so that the two count, as they do for the
/// same file on disk.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_large_gzip_object_keeps_the_members_before_a_damaged_one() {
    use std::io::Write;
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(45, FieldSet::V5), &[Encoding::Text]);
    let text = larger_than_whole(&w);
    let half = text[..text.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let header_end = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let last = &text[header_end..header_end + 20_000];
    let last = &last[..=last.iter().rposition(|&b| b == b'\n').unwrap()];
    let mut data = Vec::new();
    for part in [&text[..half], &text[half..], last] {
        // stored blocks: as large compressed as the text, so that it is streamed
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(part).unwrap();
        data.extend(gz.finish().unwrap());
    }
    let n = data.len();
    data[n - 6] ^= 1; // the third member's check
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("multi.log.gz"), &data).unwrap();
    let (local, code) = crate::support::analyze_json_code(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(7));
    let b = bucket("members");
    upload(&ep, &b, dir.path(), "big/", false);
    let o = s3_run(&ep, &[&format!("s3://{b}/big/")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let s3: Report = serde_json::from_slice(&o.stdout).unwrap();
    let (bad, was) = (
        &s3.analysis.quality.files[0],
        &local.analysis.quality.files[0],
    );
    assert!(bad.size > flowcost::source::WHOLE_GZIP_MAX);
    assert_eq!(bad.failure, Some(FailureKind::Corrupt));
    // (read again, the object keeps its ETag in the report: it was lost until 2026-12-06)
    assert!(bad.etag.is_some(), "{bad:?}");
    let said = bad.error.as_deref().unwrap();
    assert!(
        said.contains("gzip member 3 is damaged")
            && said.contains("the 2 members before it were read again and counted"),
        "{said}"
    );
    assert_eq!(said, was.error.as_deref().unwrap());
    assert_eq!(bad.counts, was.counts);
    let lines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(bad.counts.lines, lines);
    assert_eq!(s3.analysis.quality.lines, local.analysis.quality.lines);
    assert_eq!(s3.analysis.total, local.analysis.total);
    assert!(s3.analysis.total > 0);
}

/// Run with a watchdog: a hang fails the test instead of holding CI (a liveness bound, far
/// above what the run needs, not a speed assertion).
fn output_within(mut c: std::process::Command, limit_secs: u64) -> Output {
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(limit_secs)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("flowcost did not finish within {limit_secs} s: it hangs");
        }
    }
}

/// The report and stderr of a run that must end incomplete (exit 7), and the failure kinds.
fn incomplete_run(url: &str, bucket: &str, extra: &[&str]) -> (Report, String) {
    let mut c = s3_cmd(url, "analyze");
    c.args(["--format", "json", "--concurrency", "4"])
        .args(extra)
        .arg(format!("s3://{bucket}"));
    let o = output_within(c, 300);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    (serde_json::from_slice(&o.stdout).unwrap(), err)
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_dead_endpoint_gives_an_incomplete_report_summarised_in_one_message() {
    let Some(ep) = endpoint() else { return };
    let b = bucket("dies");
    let w = world(&spec(45, FieldSet::V5), &[Encoding::Gz]);
    let n = upload(&ep, &b, &w.dir.path().join("gz"), "", false) as u64;
    assert!(n > 40, "the world has {n} objects");
    let p = Proxy::start(
        &ep,
        Rules {
            die_after_gets: Some(6),
            ..Default::default()
        },
    );
    // without the NAT named, what was read may show none: the lost inputs are the message
    let o = output_within(
        {
            let mut c = s3_cmd(&p.url, "analyze");
            c.args(["--concurrency", "4", &format!("s3://{b}")]);
            c
        },
        300,
    );
    if o.status.code() != Some(7) {
        assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
        assert!(
            stderr(&o).starts_with("flowcost: INCOMPLETE: "),
            "{}",
            stderr(&o)
        );
    }
    let p = Proxy::start(
        &ep,
        Rules {
            die_after_gets: Some(6),
            ..Default::default()
        },
    );
    let nat: Vec<&str> = w
        .truth
        .nat_enis
        .iter()
        .flat_map(|e| ["--nat-eni", e.as_str()])
        .collect();
    let (r, err) = incomplete_run(&p.url, &b, &nat);
    let q = &r.analysis.quality;
    let inc = q.incomplete.as_ref().expect("marked incomplete");
    assert!(!q.complete && !q.reconciled);
    // every listed object is either read or listed as not read: none is lost silently
    assert_eq!(q.files.len() as u64, n);
    assert_eq!(inc.of_inputs, n);
    let read = q.files.iter().filter(|f| f.error.is_none()).count() as u64;
    assert_eq!(read + inc.inputs, n);
    assert!((1..=6).contains(&read), "read {read}");
    assert_eq!(inc.by_kind[0].kind, FailureKind::Unreachable, "{inc:?}");
    assert!(inc.first_key_time.is_some() && inc.last_key_time.is_some());
    // once the endpoint is gone the rest are not requested, and all of it reads as one
    // summary, not a line per object
    assert!(p.seen().len() < (n as usize), "{} requests", p.seen().len());
    assert!(err.contains("endpoint unreachable:"), "{err}");
    assert!(err.lines().count() < 10, "{err}");
    // the table says so first
    let p = Proxy::start(
        &ep,
        Rules {
            die_after_gets: Some(6),
            ..Default::default()
        },
    );
    let mut c = s3_cmd(&p.url, "analyze");
    c.args(&nat).arg(format!("s3://{b}"));
    let o = output_within(c, 300);
    assert_eq!(o.status.code(), Some(7));
    assert!(stdout(&o).starts_with("INCOMPLETE: "), "{}", stdout(&o));
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_stalled_endpoint_times_out_and_is_reported() {
    let Some(ep) = endpoint() else { return };
    let b = bucket("stalls");
    let w = world(&spec(46, FieldSet::V5), &[Encoding::Gz]);
    let n = upload(&ep, &b, &w.dir.path().join("gz"), "", false) as u64;
    let p = Proxy::start(
        &ep,
        Rules {
            stall_after_gets: Some(5),
            ..Default::default()
        },
    );
    let mut args = vec!["--read-timeout", "300ms", "--connect-timeout", "300ms"];
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni", e.as_str()]);
    }
    let (r, err) = incomplete_run(&p.url, &b, &args);
    let q = &r.analysis.quality;
    let inc = q.incomplete.as_ref().expect("marked incomplete");
    assert_eq!(q.files.len() as u64, n);
    assert_eq!(inc.by_kind[0].kind, FailureKind::Timeout, "{inc:?}");
    assert!(err.contains("timed out:"), "{err}");
    // the flags are checked
    let o = s3_run(&ep, &["--read-timeout", "0s", &format!("s3://{b}")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_bill_under_an_s3_prefix_reads_as_the_local_one() {
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(65, FieldSet::V5), &[Encoding::Gz]);
    let b = bucket("bill");
    let n = upload(
        &ep,
        &b,
        &w.dir.path().join("cur").join("parquet"),
        "exports/nat/",
        false,
    );
    assert_eq!(n, 1);
    let logs = w.path(Encoding::Gz);
    let local = analyze_json(&[&logs, "--cur", &w.cur("parquet")]);
    let remote = s3_json(&ep, &[&logs, "--cur", &format!("s3://{b}/exports/")]);
    assert_eq!(remote.reconciliation, local.reconciliation);
    assert!(remote.reconciliation.is_some());
    // a prefix with no export under it is refused, naming it
    let o = s3_run(&ep, &[&logs, "--cur", &format!("s3://{b}/nothing/")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no .csv"), "{}", stderr(&o));
}

/// A bill under an S3 prefix whose server stalls, dies or denies its objects: the run is
/// refused (exit 2), naming the object and why, within the timeouts; never a report that
/// reconciles against part of the bill, never a wait without end.
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn a_bill_from_a_failing_server_refuses_the_run() {
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(66, FieldSet::V5), &[Encoding::Gz]);
    let b = bucket("bill-fails");
    let cur = w.dir.path().join("cur").join("parquet");
    assert_eq!(upload(&ep, &b, &cur, "exports/", false), 1);
    let logs = w.path(Encoding::Gz);
    let faults = [
        (
            Rules {
                stall_after_gets: Some(0),
                ..Default::default()
            },
            "timed out",
        ),
        (
            Rules {
                die_after_gets: Some(0),
                ..Default::default()
            },
            "",
        ),
        (
            Rules {
                deny_get: true,
                ..Default::default()
            },
            "s3:GetObject",
        ),
    ];
    for (rules, why) in faults {
        let shown = format!("{rules:?}");
        let p = Proxy::start(&ep, rules);
        let mut c = s3_cmd(&p.url, "analyze");
        c.args([
            "--read-timeout",
            "300ms",
            "--connect-timeout",
            "300ms",
            &logs,
        ]);
        c.args(["--cur", &format!("s3://{b}/exports/")]);
        let o = output_within(c, 300);
        assert_eq!(o.status.code(), Some(2), "{shown}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{shown}");
        let err = stderr(&o);
        assert!(
            err.contains("--cur") && err.contains(".parquet"),
            "{shown}: {err}"
        );
        assert!(err.contains(why), "{shown}: {err}");
    }
}

/// A report and a partial result written among the logs are skipped by name, as in a local
/// folder, and the figures are the logs'. (Beside an `AWSLogs/` folder only its flow-log tree
/// is listed; inside it, or under a prefix without one, every key is.)
#[test]
#[ignore = "needs an S3 server: eval \"$(bash .ci/s3-server)\" then cargo test -- --ignored"]
fn own_outputs_under_the_prefix_are_skipped() {
    use flowcost::report::own::OwnOutput;
    let Some(ep) = endpoint() else { return };
    let w = world(&spec(62, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let local = analyze_json(&[&logs]);
    let b = bucket("own");
    upload(&ep, &b, Path::new(&logs), "logs/", false);
    let out = tempfile::tempdir().unwrap();
    let csv = crate::support::run(&["analyze", "-q", "--format", "csv", &logs]);
    assert!(csv.status.success());
    std::fs::write(out.path().join("report.csv"), &csv.stdout).unwrap();
    let partial = out.path().join("day1").display().to_string();
    let o = crate::support::run(&["analyze", "-q", &logs, "--partial-out", &partial]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = crate::support::files_under(Path::new(&logs)).remove(0);
    let day = first.parent().unwrap().strip_prefix(&logs).unwrap();
    let day = day.to_str().unwrap().replace('\\', "/");
    upload(&ep, &b, out.path(), &format!("logs/{day}/"), false);
    let s3 = s3_json(&ep, &["--strict", &format!("s3://{b}/logs/")]);
    let skipped: BTreeMap<String, Option<OwnOutput>> = (s3.analysis.quality.files.iter())
        .filter(|f| f.skipped.is_some())
        .map(|f| (name(&f.path), f.skipped))
        .collect();
    assert_eq!(
        skipped,
        BTreeMap::from([
            ("day1".to_string(), Some(OwnOutput::Partial)),
            ("report.csv".to_string(), Some(OwnOutput::Csv)),
        ])
    );
    let mut s3 = s3;
    s3.analysis.quality.files.retain(|f| f.skipped.is_none());
    (s3.analysis.quality.notes).retain(|n| !n.contains("flowcost's own output"));
    assert_same(&s3, &local);
}
