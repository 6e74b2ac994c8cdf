//! `flowcost ip-ranges update|show` against a local HTTP server, with a private cache folder.

use flowcost::analysis::WarningKind;
use std::io::{Read, Write};
use std::net::TcpListener;

use crate::support::{bin, stderr, stdout};

/// Serve `body` at every path, on loopback, for the life of the test process.
fn serve(body: Vec<u8>) -> String {
    serve_counted(body).0
}

/// [`serve`], with the count of requests answered.
pub(crate) fn serve_counted(
    body: Vec<u8>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ip-ranges.json", l.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
    });
    (url, count)
}

fn doc(token: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "syncToken": token, "createDate": "2030-01-01-00-00-00",
        "prefixes": [
            {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
            {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"}
        ],
        "ipv6_prefixes": []
    }))
    .unwrap()
}

fn run(cache: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("FLOWCOST_CACHE_DIR", cache)
        .output()
        .unwrap()
}

#[test]
fn update_keeps_newer_copies_and_analyze_uses_the_newest() {
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let o = run(c, &["ip-ranges", "show"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("source:      embedded snapshot"));
    assert!(stdout(&o).contains("syncToken:   1787411825"));

    // older than what is in use: refused, nothing saved
    let old = serve(doc("1000"));
    let o = run(c, &["ip-ranges", "update", "--url", &old]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("already up to date"));
    assert!(
        !c.join("ip-ranges").exists()
            || std::fs::read_dir(c.join("ip-ranges")).unwrap().count() == 0
    );

    // not an ip-ranges document: refused
    let junk = serve(b"{\"hello\": 1}".to_vec());
    let o = run(c, &["ip-ranges", "update", "--url", &junk]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // no server there: a network failure (5), not a usage error
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}/ip-ranges.json")
    };
    let o = run(c, &["ip-ranges", "update", "--url", &closed]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));

    // newer: saved; then newer still: both kept, the newest used
    for token in ["2000000000", "2000000001"] {
        let url = serve(doc(token));
        let o = run(c, &["ip-ranges", "update", "--url", &url]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("-> {token}")),
            "{}",
            stdout(&o)
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(c.join("ip-ranges"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["ip-ranges-2000000000.json", "ip-ranges-2000000001.json"]
    );
    let o = run(c, &["ip-ranges", "show"]);
    assert!(
        stdout(&o).contains("syncToken:   2000000001"),
        "{}",
        stdout(&o)
    );
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
    let o = run(c, &["analyze", "-q", "--format", "json", sample]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.inputs.ip_ranges.sync_token, "2000000001");
    // --ip-ranges URL overrides the cache
    let url = serve(doc("42"));
    let o = run(
        c,
        &[
            "analyze",
            "-q",
            "--format",
            "json",
            "--ip-ranges",
            &url,
            sample,
        ],
    );
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.inputs.ip_ranges.sync_token, "42");
}

#[test]
fn show_counts_match_the_published_snapshot() {
    let Some(shared) = crate::support::shared() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let older = shared.join("ip-ranges-older.json");
    let o = run(
        cache.path(),
        &["ip-ranges", "show", "--ip-ranges", older.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // the counts ip-ranges.SOURCES.md gives for this file
    assert!(out.contains("syncToken:   1755827900"), "{out}");
    assert!(out.contains("prefixes:    9153 IPv4, 3968 IPv6"), "{out}");
    let s3 = out
        .lines()
        .find(|l| l.starts_with("S3 ") && !l.starts_with("S3 regions"))
        .unwrap();
    assert_eq!(
        s3.split_whitespace().collect::<Vec<_>>(),
        vec!["S3", "335", "320"]
    );
    assert!(out.contains("S3 regions:  41 "), "{out}");
}

#[test]
fn a_document_without_s3_ranges_of_the_nats_region_is_said() {
    // the embedded document without its S3 ranges (as a hand-cut one, or one older than a
    // region): every S3 byte counted as aws-other, "$0.00" saved, nothing on stderr
    let doc: serde_json::Value = serde_json::from_slice(flowcost::classify::EMBEDDED).unwrap();
    let mut cut = doc.clone();
    for list in ["prefixes", "ipv6_prefixes"] {
        let kept: Vec<serde_json::Value> = (cut[list].as_array().unwrap().iter())
            .filter(|p| p["service"] != "S3")
            .cloned()
            .collect();
        cut[list] = kept.into();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.json");
    std::fs::write(&path, cut.to_string()).unwrap();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/gz");
    let args = |ranges: &str| {
        let o = run(
            dir.path(),
            &[
                "analyze",
                "-q",
                "--format",
                "json",
                "--ip-ranges",
                ranges,
                sample,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
        (r, stderr(&o))
    };
    let (r, err) = args(path.to_str().unwrap());
    assert_eq!(r.analysis.classes.s3.total(), 0);
    let says = "The ip-ranges document in use holds no S3 range of us-east-1, where";
    assert!(err.contains(&format!("flowcost: warning: {says}")), "{err}");
    let q = &r.analysis.quality;
    let kinds: Vec<WarningKind> = q.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WarningKind::NoS3Ranges]);
    assert!(q.warnings[0].message.starts_with(says));
    assert!(q.notes.contains(&q.warnings[0].message));
    // the whole document: S3 counted, nothing said
    let whole = dir.path().join("whole.json");
    std::fs::write(&whole, doc.to_string()).unwrap();
    let (r, err) = args(whole.to_str().unwrap());
    assert!(r.analysis.classes.s3.total() > 0);
    assert!(!err.contains("warning"), "{err}");
    assert!(r.analysis.quality.warnings.is_empty());
}

/// Jobs that update one shared cache at once (a fleet starting together) each save a whole
/// copy: the cache ends with one complete document, and every job succeeds.
#[test]
fn updates_running_at_once_leave_one_whole_copy() {
    let prefixes: Vec<serde_json::Value> = (0..20_000u32)
        .map(|i| {
            serde_json::json!({"ip_prefix": format!("{}.{}.{}.0/24", 20 + i / 65_536, (i / 256) % 256, i % 256),
                "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"})
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({
        "syncToken": "2000000002", "createDate": "2030-01-01-00-00-00",
        "prefixes": prefixes, "ipv6_prefixes": []
    }))
    .unwrap();
    let url = serve(body.clone());
    // (rounds: how the jobs' writes interleave is up to the scheduler)
    for _ in 0..8 {
        let cache = tempfile::tempdir().unwrap();
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                bin()
                    .args(["ip-ranges", "update", "--url", &url])
                    .env("FLOWCOST_CACHE_DIR", cache.path())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for j in jobs {
            let o = j.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let dir = cache.path().join("ip-ranges");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["ip-ranges-2000000002.json"]);
        assert_eq!(std::fs::read(dir.join(&names[0])).unwrap(), body);
    }
}
