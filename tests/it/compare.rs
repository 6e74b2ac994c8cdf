//! `flowcost compare` on a generated world where an S3 gateway endpoint was added mid-period
//! and one subnet was left without it: the true drop, exactly that subnet named, the
//! traffic-path confirmation, and the exit gate both ways.

use flowcost::generate::{Encoding, FieldSet};
use flowcost::report::compare::Comparison;

use crate::support::{gateways_per_day, near, run, spec, stderr, world, GenWorld};

const LEFT_BEHIND: &str = "subnet-0d44dd44dd44dd44d";

fn endpoint_world() -> GenWorld {
    let mut s = spec(51, FieldSet::V5);
    s.days = 4;
    s.s3_endpoint_at = Some(s.start + 2 * 86_400); // 2026-09-03
    s.endpoint_skips_subnet = Some(LEFT_BEHIND.into());
    world(&s, &[Encoding::Gz])
}

fn compare_json(args: &[&str]) -> Comparison {
    let mut full = vec!["compare", "-q", "--format", "json"];
    full.extend_from_slice(args);
    let o = run(&full);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let c: Comparison = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&c).unwrap() + "\n",
        text,
        "strict round trip"
    );
    c
}

#[test]
fn compare_reports_the_true_drop_and_the_subnet_left_behind() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let c = compare_json(&[
        "--before",
        "2026-09-01..2026-09-02",
        "--after",
        "2026-09-03..2026-09-04",
        &p,
    ]);
    let s3 = |d: &str| w.truth.nat_by_day[d].s3.total();
    assert_eq!((c.before.days, c.after.days), (2.0, 2.0));
    // each side's true S3 bytes, per day with each gateway over its own logs' span
    let side = |r: &flowcost::report::Report, days: [&str; 2]| {
        let (bytes, per_day) = gateways_per_day(r, |c| c.s3.total());
        assert_eq!(bytes, s3(days[0]) + s3(days[1]));
        per_day
    };
    let before = side(&c.reports.before, ["2026-09-01", "2026-09-02"]);
    let after = side(&c.reports.after, ["2026-09-03", "2026-09-04"]);
    assert!(near(c.before.per_day.s3, before), "{before} {:?}", c.before);
    assert!(near(c.after.per_day.s3, after), "{after} {:?}", c.after);
    let (before, after) = (c.before.per_day.s3, c.after.per_day.s3);
    let drop = c.verdict.s3_drop_percent.unwrap();
    assert!((drop - (before - after) * 100.0 / before).abs() < 1e-9);
    assert!(drop > 30.0, "the endpoint took most S3 off the NAT: {drop}");
    let left: Vec<&str> = c
        .verdict
        .s3_left_by_subnet
        .iter()
        .map(|g| g.key.as_str())
        .collect();
    assert_eq!(
        left,
        vec![LEFT_BEHIND],
        "exactly the subnet without the endpoint"
    );
    assert!(c
        .verdict
        .s3_left_clients
        .iter()
        .all(|cl| cl.subnet.as_deref() == Some(LEFT_BEHIND)));
    assert_eq!(c.verdict.traffic_path_confirms, Some(true));
    assert!(c.verdict.summary.iter().any(|s| s.contains(LEFT_BEHIND)));
    assert!(
        c.verdict.s3_other_region_per_day > 0.0,
        "S3 in other regions is called out"
    );
    // the nested reports hold the true bytes
    assert_eq!(
        c.reports.after.analysis.classes.s3.total(),
        s3("2026-09-03") + s3("2026-09-04")
    );
}

#[test]
fn the_gate_fails_and_passes() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let base = [
        "compare",
        "-q",
        "--before",
        "2026-09-01..2026-09-02",
        "--after",
        "2026-09-03..2026-09-04",
    ];
    let gate = |t: &str| {
        let mut a = base.to_vec();
        a.extend(["--fail-if-s3-via-nat-above", t, p.as_str()]);
        run(&a)
    };
    assert_eq!(gate("99%").status.code(), Some(0));
    let o = gate("1%");
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("above the limit"));
    assert_eq!(gate("1TiB").status.code(), Some(0));
    assert_eq!(gate("1").status.code(), Some(6));
    assert_eq!(gate("lots").status.code(), Some(2));
}

#[test]
fn two_inputs_can_be_compared_too() {
    let before = world(&spec(52, FieldSet::V5), &[Encoding::Gz, Encoding::Parquet]);
    let mut s = spec(52, FieldSet::V5);
    s.start += s.days as i64 * 86_400;
    s.s3_endpoint_at = Some(s.start);
    let after = world(&s, &[Encoding::Gz]);
    let c = compare_json(&[
        "--before",
        &before.path(Encoding::Gz),
        "--after",
        &after.path(Encoding::Gz),
    ]);
    assert!(
        c.after.per_day.s3 < c.before.per_day.s3 / 10.0,
        "{} vs {}",
        c.after.per_day.s3,
        c.before.per_day.s3
    );
    assert!(c.verdict.s3_left_by_subnet.is_empty());
    assert_eq!(c.reports.before.analysis.classes, before.truth.nat);
    assert_eq!(c.reports.after.analysis.classes, after.truth.nat);

    // one folder on both sides (it compared itself: no change, exit 0), or a file of the
    // before side reached again on the after side through another path: refused
    let b = before.path(Encoding::Gz);
    let one = crate::support::files_under(std::path::Path::new(&b))[3].clone();
    let via = format!("{b}/../gz/{}", one.strip_prefix(&b).unwrap().display());
    // and the same deliveries as Parquet, or copied into another folder: refused alike
    let copy = tempfile::tempdir().unwrap();
    for f in crate::support::files_under(std::path::Path::new(&b)) {
        std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
    }
    let copied = copy.path().display().to_string();
    for (after_side, named) in [
        (b.clone(), "share "),
        (via.clone(), "share 1 input(s)"),
        (before.path(Encoding::Parquet), "share "),
        (copied.clone(), "share "),
    ] {
        let o = run(&["compare", "-q", "--before", &b, "--after", &after_side]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("the before and after inputs {named}")),
            "{err}"
        );
        assert!(err.contains("would count on both sides"), "{err}");
        assert!(o.stdout.is_empty());
    }
    // the same logs under other names are not known as the same inputs, but both sides then
    // hold records of the same time: compared, and said to overlap before any figure (the
    // two worlds of two days each, one after the other, are not)
    let renamed = tempfile::tempdir().unwrap();
    for (n, f) in crate::support::files_under(std::path::Path::new(&b))
        .iter()
        .enumerate()
    {
        std::fs::copy(f, renamed.path().join(format!("export-{n:04}.log.gz"))).unwrap();
    }
    let renamed = renamed.path().display().to_string();
    let said = "OVERLAPPING LOGS: both sides hold records from 2026-09-01T";
    for (after_side, overlaps) in [(&renamed, true), (&after.path(Encoding::Gz), false)] {
        let o = run(&["compare", "-q", "--before", &b, "--after", after_side]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = crate::support::stdout(&o);
        assert_eq!(out.starts_with(said), overlaps, "{out}");
        assert_eq!(out.contains(said), overlaps, "{out}");
        let warned = format!("flowcost: warning: {said}");
        assert_eq!(stderr(&o).contains(&warned), overlaps, "{}", stderr(&o));
    }
    // S3 prefixes one inside the other (listing `logs/a` lists `logs/ab…` too), before any
    // request; prefixes apart are not refused for that
    let o = run(&[
        "compare",
        "--before",
        "s3://b/logs/2026/09",
        "--after",
        "s3://b/logs/",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("share 1 input(s) (s3://b/logs/)"),
        "{}",
        stderr(&o)
    );
    let apart = [
        "--before",
        "s3://b/logs/2026/09",
        "--after",
        "s3://b/logs/2026/10",
    ];
    let o = run(&[
        &[
            "compare",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--path-style",
        ][..],
        &apart,
    ]
    .concat());
    assert!(
        !stderr(&o).contains("would count on both sides"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn compare_takes_partials_as_it_takes_logs() {
    // daily partials of the endpoint world, compared by period and as two input sets
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let dir = tempfile::tempdir().unwrap();
    let parts = crate::support::daily_partials(&p, 1_788_220_800, 4, dir.path());
    let periods = [
        "--before",
        "2026-09-01..2026-09-02",
        "--after",
        "2026-09-03..2026-09-04",
    ];
    let from_logs = compare_json(&[&periods[..], &[p.as_str()]].concat());
    let args: Vec<&str> = periods
        .iter()
        .copied()
        .chain(parts.iter().map(|s| s.as_str()))
        .collect();
    let from_parts = compare_json(&args);
    assert_eq!(
        serde_json::to_string(&from_parts).unwrap(),
        serde_json::to_string(&from_logs).unwrap()
    );
    // two input sets: the first two days' partials against the last two's
    let sets = compare_json(&[
        "--before", &parts[0], &parts[1], "--after", &parts[2], &parts[3],
    ]);
    assert_eq!(sets.before.days, 2.0);
    assert_eq!(sets.after.per_day.s3, from_logs.after.per_day.s3);
}

/// Sides costed at different NAT prices, or estimating ECR layers with other pull windows
/// (partials made with another price per GB, another `--pull-window`): the change in cost or
/// in layers is then not the traffic's alone, and the verdict says so; sides of one setting
/// say nothing of it.
#[test]
fn sides_made_with_other_prices_or_pull_windows_are_said() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let dir = tempfile::tempdir().unwrap();
    let parts = crate::support::daily_partials(&p, 1_788_220_800, 2, dir.path());
    let dearer = dir.path().join("dearer.fcp").display().to_string();
    let o = run(&[
        "analyze",
        "-q",
        &p,
        "--since",
        "2026-09-03",
        "--until",
        "2026-09-04",
        "--nat-price-per-gb",
        "0.09",
        "--pull-window",
        "10m",
        "--partial-out",
        &dearer,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = |c: &Comparison| {
        (c.verdict.summary.iter())
            .filter(|s| s.starts_with("NAT prices differ") || s.starts_with("ECR pull windows"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let same = compare_json(&["--before", &parts[0], "--after", &parts[1]]);
    assert!(said(&same).is_empty(), "{:?}", same.verdict.summary);
    let other = compare_json(&["--before", &parts[0], "--after", &dearer]);
    assert_eq!(
        said(&other),
        [
            "NAT prices differ: the before side was costed at $0.045 per GB of 2^30 bytes in us-east-1, the after side at $0.09 per GB of 2^30 bytes in us-east-1; the change in cost is not the change in traffic alone.",
            "ECR pull windows differ: the before side counted a task's S3 downloads in the 180s after its first record, the after side in the 600s: the change in ECR image layers is not the change in pulls alone."
        ]
    );
}

/// ECR layers are compared only where both sides' logs show them: against NAT-only logs of
/// the default v2 fields (no task ENI, no `pkt-*`: the layers are no figure) the table shows
/// none for that side and no change, and the verdict says why; two sides whose estimates rest
/// on different records (the NAT's private legs alone, the tasks' own ENIs) are said too.
#[test]
fn ecr_layers_are_compared_only_on_like_grounds() {
    let side = |fields: FieldSet, start: i64| {
        let mut s = spec(54, fields);
        (s.start, s.days, s.nat_only) = (start, 1, true);
        world(&s, &[Encoding::Gz])
    };
    let v2 = side(FieldSet::V2, 1_788_220_800);
    let v5 = side(FieldSet::V5, 1_788_307_200);
    let mut full = spec(54, FieldSet::V5);
    (full.start, full.days) = (1_788_393_600, 1);
    let full = world(&full, &[Encoding::Gz]);
    let nats = v2.truth.nat_enis.join(",");
    let (b, a) = (v2.path(Encoding::Gz), full.path(Encoding::Gz));
    let c = compare_json(&["--nat-eni", &nats, "--before", &b, "--after", &a]);
    assert!(!c.changes.iter().any(|x| x.measure.as_str() == "ecr-layers"));
    let not = "ECR image layers are not compared: the before side's logs cannot show them";
    assert!(
        c.verdict.summary.iter().any(|s| s.starts_with(not)),
        "{:?}",
        c.verdict.summary
    );
    let o = run(&[
        "compare",
        "-q",
        "--nat-eni",
        &nats,
        "--before",
        &b,
        "--after",
        &a,
    ]);
    let text = crate::support::stdout(&o);
    let row = text
        .lines()
        .find(|l| l.starts_with("ecr-layers"))
        .expect("a row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "-", "{row}");
    assert_eq!(cells.len(), 4, "no change: {row}");
    // the NAT's private legs alone against the tasks' own ENIs
    let c = compare_json(&["--before", &v5.path(Encoding::Gz), "--after", &a]);
    assert!(c.changes.iter().any(|x| x.measure.as_str() == "ecr-layers"));
    let made = "ECR estimates made differently: the before side found task starts from the NAT's private legs alone";
    assert!(
        c.verdict.summary.iter().any(|s| s.starts_with(made)),
        "{:?}",
        c.verdict.summary
    );
}

/// Partials of two ip-ranges documents (a month's daily runs pinned to the document of its
/// month) are compared, each side with its own document (one given, the other built in), and
/// the verdict says they differ; a document found nowhere is asked for by its syncToken.
/// The built-in ip-ranges document under another syncToken and createDate, written in `dir`:
/// its path, and the built-in one's syncToken and createDate.
fn ranges_doc(dir: &std::path::Path, token: &str, created: &str) -> (String, String, String) {
    let built_in = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/ip-ranges.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(built_in).unwrap()).unwrap();
    let was = |k: &str| doc[k].as_str().unwrap().to_string();
    let (t, c) = (was("syncToken"), was("createDate"));
    doc["syncToken"] = token.into();
    doc["createDate"] = created.into();
    let path = dir.join(format!("ip-ranges-{token}.json"));
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    (path.display().to_string(), t, c)
}

/// A partial of `logs` over `[since, until)` made with `extra` flags, written in `dir` as
/// `name`.
fn partial_of(
    logs: &str,
    dir: &std::path::Path,
    name: &str,
    range: [&str; 2],
    extra: &[&str],
) -> String {
    let out = dir.join(name).display().to_string();
    let mut args = vec![
        "analyze", "-q", logs, "--since", range[0], "--until", range[1],
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--partial-out", &out]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn sides_classified_with_two_ip_ranges_documents_are_compared_and_said() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let dir = tempfile::tempdir().unwrap();
    let (later, token, created) = ranges_doc(dir.path(), "1790000000", "2026-09-21-00-00-00");
    let day = |d: &str, until: &str, extra: &[&str]| {
        partial_of(&p, dir.path(), &format!("{d}.fcp"), [d, until], extra)
    };
    let before = day("2026-09-01", "2026-09-02", &[]);
    let after = day("2026-09-03", "2026-09-04", &["--ip-ranges", &later]);
    let c = compare_json(&[
        "--ip-ranges",
        &later,
        "--before",
        &before,
        "--after",
        &after,
    ]);
    let said = format!(
        "IP ranges differ: the before side was classified with the ip-ranges document of syncToken {token} (created {created}), the after side with syncToken 1790000000 (created 2026-09-21-00-00-00)"
    );
    assert!(
        c.verdict.summary.iter().any(|s| s.starts_with(&said)),
        "{:?}",
        c.verdict.summary
    );
    let o = run(&["compare", "-q", "--before", &before, "--after", &after]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("syncToken 1790000000"),
        "{}",
        stderr(&o)
    );
    // one document on both sides: nothing said
    let same = compare_json(&[
        "--before",
        &before,
        "--after",
        &day("2026-09-04", "2026-09-05", &[]),
    ]);
    assert!(!same
        .verdict
        .summary
        .iter()
        .any(|s| s.starts_with("IP ranges differ")));
}

/// An ip-ranges document given by URL is downloaded once a process, however many steps use
/// it (the settings' checks, each side of a comparison); the same document under two names
/// is one document for logs.
#[test]
fn an_ip_ranges_url_is_downloaded_once_a_run() {
    use std::sync::atomic::Ordering::SeqCst;
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = ranges_doc(dir.path(), "1790000000", "2026-09-21-00-00-00");
    let (url, asked) = crate::ip_ranges::serve_counted(std::fs::read(&file).unwrap());
    let given = ["--ip-ranges", url.as_str()];
    let before = partial_of(
        &p,
        dir.path(),
        "a.fcp",
        ["2026-09-01", "2026-09-02"],
        &given,
    );
    assert_eq!(asked.load(SeqCst), 1);
    let after = partial_of(
        &p,
        dir.path(),
        "b.fcp",
        ["2026-09-03", "2026-09-04"],
        &given,
    );
    assert_eq!(asked.load(SeqCst), 2);
    let c = compare_json(&[&given[..], &["--before", &before, "--after", &after]].concat());
    assert_eq!(asked.load(SeqCst), 3, "one download for the comparison");
    let token = |r: &flowcost::report::Report| r.inputs.ip_ranges.sync_token.clone();
    assert_eq!(token(&c.reports.before), "1790000000");
    assert_eq!(token(&c.reports.after), "1790000000");
    // the URL and the file it serves, given for logs: one document, classified with once
    let o = run(&[&["analyze", "-q", &p][..], &given, &["--ip-ranges", &file]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(asked.load(SeqCst), 4);
}

/// Partials of two months, each made with its own ip-ranges document and neither document
/// cached here nor built in: both given with `--ip-ranges`, each side is read with its own;
/// one given, the other side's is asked for by its syncToken. Logs take one document only.
#[test]
fn two_ip_ranges_documents_given_serve_each_side_its_own() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let dir = tempfile::tempdir().unwrap();
    let (earlier, _, _) = ranges_doc(dir.path(), "1787000000", "2026-08-18-00-00-00");
    let (later, _, _) = ranges_doc(dir.path(), "1790000000", "2026-09-21-00-00-00");
    let before = partial_of(
        &p,
        dir.path(),
        "a.fcp",
        ["2026-09-01", "2026-09-02"],
        &["--ip-ranges", &earlier],
    );
    let after = partial_of(
        &p,
        dir.path(),
        "b.fcp",
        ["2026-09-03", "2026-09-04"],
        &["--ip-ranges", &later],
    );
    let sides = ["--before", before.as_str(), "--after", after.as_str()];
    let c = compare_json(
        &[
            &["--ip-ranges", &later, "--ip-ranges", &earlier][..],
            &sides,
        ]
        .concat(),
    );
    let token = |r: &flowcost::report::Report| r.inputs.ip_ranges.sync_token.clone();
    assert_eq!(token(&c.reports.before), "1787000000");
    assert_eq!(token(&c.reports.after), "1790000000");
    assert!(c.verdict.summary.iter().any(|s| s.starts_with("IP ranges differ: the before side was classified with the ip-ranges document of syncToken 1787000000")));
    // one of them given: the other is asked for
    let o = run(&[&["compare", "-q", "--ip-ranges", &later][..], &sides].concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let said = "syncToken 1787000000 (created 2026-08-18-00-00-00, SHA-256";
    assert!(stderr(&o).contains(said), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "which is neither {later} nor cached here nor built in"
        )),
        "{}",
        stderr(&o)
    );
    // logs are classified with one: two documents refused, one given twice is one
    let o = run(&[
        "analyze",
        "-q",
        &p,
        "--ip-ranges",
        &later,
        "--ip-ranges",
        &earlier,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("logs are classified with one ip-ranges document"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "analyze",
        "-q",
        "--format",
        "json",
        &p,
        "--ip-ranges",
        &later,
        "--ip-ranges",
        &later,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(token(&r), "1790000000");
}

/// A side whose logs hold no NAT gateway ENI is, with `--client-side-estimate`, an estimate
/// from the clients' own records; against a side counted on the NATs' ENIs its figures measure
/// something else, which the comparison says first, in the verdict and on stderr. Two sides
/// counted alike say nothing of it.
#[test]
fn sides_counted_differently_are_said_first() {
    let mut s = spec(53, FieldSet::V5);
    s.days = 2;
    let w = world(&s, &[Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (dir.path().join("before"), dir.path().join("after"));
    std::fs::create_dir_all(&before).unwrap();
    std::fs::create_dir_all(&after).unwrap();
    for f in crate::support::files_under(std::path::Path::new(&w.path(Encoding::Text))) {
        let name = f.file_name().unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        match f.to_str().unwrap().contains("/2026/09/02/") {
            false => std::fs::write(before.join(name), text).unwrap(),
            true => {
                let kept: Vec<&str> = (text.lines())
                    .filter(|l| !w.truth.nat_enis.iter().any(|e| l.contains(e.as_str())))
                    .collect();
                std::fs::write(after.join(name), kept.join("\n") + "\n").unwrap();
            }
        }
    }
    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());
    let args = [
        "compare",
        "--client-side-estimate",
        "--before",
        b,
        "--after",
        a,
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = "COUNTED DIFFERENTLY: the before side was counted on the NAT gateways' ENIs, the after side estimated from the clients' own records";
    assert!(
        crate::support::stdout(&o).starts_with(said),
        "{}",
        crate::support::stdout(&o)
    );
    assert!(
        stderr(&o).contains(&format!("flowcost: warning: {said}")),
        "{}",
        stderr(&o)
    );
    let c = compare_json(&args[1..]);
    assert!(
        c.verdict.summary[1].starts_with(said),
        "{:?}",
        c.verdict.summary
    );
    // the whole world split by day: counted on the NATs' ENIs on both sides
    let p = w.path(Encoding::Text);
    let alike = compare_json(&[
        "--before",
        "2026-09-01..2026-09-01",
        "--after",
        "2026-09-02..2026-09-02",
        &p,
    ]);
    assert!(
        !alike
            .verdict
            .summary
            .iter()
            .any(|s| s.starts_with("COUNTED")),
        "{:?}",
        alike.verdict.summary
    );
}

/// The world of [`endpoint_world`] as text and Parquet, and flags that make the engine spill
/// its ENI tables (a budget of 8 ENIs) and split inputs of 8 KiB or more into chunks of 1 KiB
/// (a Parquet file into parts of row groups holding 1 KiB of the columns read) on two
/// workers.
fn stressed() -> (GenWorld, [&'static str; 6]) {
    let mut s = spec(51, FieldSet::V5);
    s.days = 4;
    s.s3_endpoint_at = Some(s.start + 2 * 86_400);
    s.endpoint_skips_subnet = Some(LEFT_BEHIND.into());
    let w = world(&s, &[Encoding::Text, Encoding::Parquet]);
    let flags = [
        "--max-enis-in-memory",
        "8",
        "--chunk-size",
        "1024",
        "--threads",
        "2",
    ];
    (w, flags)
}

/// A report as JSON text, for comparing whole reports.
fn json(r: &flowcost::report::Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

#[test]
fn periods_read_in_one_pass_are_the_runs_over_each_period() {
    // compare reads each input once, both periods taking its records in the same pass; each
    // period's report must be the very report of a run over that period alone, also with a
    // day between the periods, ENI tables spilling and inputs split into chunks (text) or
    // parts (the world's Parquet deliveries exported into one file)
    let (w, flags) = stressed();
    let text = w.path(Encoding::Text);
    let big = crate::support::files_under(std::path::Path::new(&text))
        .iter()
        .filter(|f| f.metadata().unwrap().len() >= 8 * 1024)
        .count();
    assert!(big > 0, "some inputs are split");
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("vpc-export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let export = export.display().to_string();
    for p in [text, export] {
        let mut args = vec![
            "--before",
            "2026-09-01..2026-09-01",
            "--after",
            "2026-09-03..2026-09-04",
            p.as_str(),
        ];
        args.extend(flags);
        let c = compare_json(&args);
        let alone = |since: &str, until: &str| {
            let mut a = vec!["--since", since, "--until", until, p.as_str()];
            a.extend(flags);
            crate::support::analyze_json(&a)
        };
        assert_eq!(
            json(&c.reports.before),
            json(&alone("2026-09-01", "2026-09-02")),
            "{p}"
        );
        assert_eq!(
            json(&c.reports.after),
            json(&alone("2026-09-03", "2026-09-05")),
            "{p}"
        );
        assert!(c.reports.before.analysis.quality.lines.outside_time > 0);
    }
}

#[test]
fn report_change_at_reads_once_and_splits_exactly() {
    // report --change-at: the whole period and both sides in one pass, each the report of a
    // run over its own range (with the range given, and without one: the data's hours)
    let (w, flags) = stressed();
    let p = w.path(Encoding::Text);
    let dir = tempfile::tempdir().unwrap();
    let alone = |range: &[&str]| {
        let mut a = range.to_vec();
        a.push(p.as_str());
        a.extend(flags);
        crate::support::analyze_json(&a)
    };
    for (k, range) in [
        &["--since", "2026-09-01", "--until", "2026-09-05"][..],
        &[][..],
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.path().join(k.to_string());
        let mut a = vec![
            "report",
            "-q",
            "-d",
            out.to_str().unwrap(),
            "--change-at",
            "2026-09-03T06:00",
            p.as_str(),
        ];
        a.extend(range);
        a.extend(flags);
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: flowcost::report::monthly::MonthlyReport =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(json(&doc.analysis), json(&alone(range)), "{range:?}");
        let from = flowcost::time::format_instant(doc.analysis.analysis.period.from.unwrap());
        let to = flowcost::time::format_instant(doc.analysis.analysis.period.to.unwrap());
        let cmp = doc.comparison.unwrap();
        let before = alone(&["--since", &from, "--until", "2026-09-03T06:00"]);
        let after = alone(&["--since", "2026-09-03T06:00", "--until", &to]);
        assert_eq!(json(&cmp.reports.before), json(&before), "{range:?}");
        assert_eq!(json(&cmp.reports.after), json(&after), "{range:?}");
    }
}

/// A side whose inputs read records twice: the comparison opens with that side's warning
/// (table and Markdown), exits 8, and is still known as flowcost's own output.
#[test]
fn a_side_reading_records_twice_is_said_first() {
    let before = world(&spec(53, FieldSet::V5), &[Encoding::Gz]);
    let after = world(&spec(54, FieldSet::V5), &[Encoding::Gz]);
    // the before side's deliveries, and all of their text again as one export of the flow log
    let twice = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    for f in crate::support::files_under(std::path::Path::new(&before.path(Encoding::Gz))) {
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap()),
            &mut text,
        )
        .unwrap();
    }
    let name = format!(
        "111122223333_vpcflowlogs_us-east-1_{}_20260901T0000Z_export.log",
        flowcost::generate::FLOW_LOG_ID
    );
    std::fs::write(twice.path().join(name), text).unwrap();
    for (format, opens) in [
        ("table", "REPEATED RECORDS: "),
        ("markdown", "> **REPEATED RECORDS: "),
    ] {
        let o = run(&[
            "compare",
            "-q",
            "--format",
            format,
            "--before",
            &before.path(Encoding::Gz),
            twice.path().to_str().unwrap(),
            "--after",
            &after.path(Encoding::Gz),
        ]);
        assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
        let out = crate::support::stdout(&o);
        assert!(out.starts_with(opens), "{out}");
        assert!(out.contains("(the before side's inputs)"), "{out}");
        assert!(!out.contains("(the after side's inputs)"), "{out}");
        assert!(
            flowcost::report::own::recognise(out.as_bytes()).is_some(),
            "{format}: not known as flowcost's own output"
        );
    }
}

/// What a side's per-day row comes to per 30 days at its NAT price, in dollars.
fn priced_per_30_days(per_day: f64, r: &flowcost::report::Report) -> f64 {
    per_day * 30.0 / r.cost.gb_unit.bytes() * r.cost.prices.nat_per_gb
}

/// One NAT gateway's flow log turned on 30 hours into a 2-day side: its logs cover 18 hours.
/// Each per-day row takes each gateway at the rate of its own logs' span, as the NAT cost
/// per 30 days projects it (ACCOUNTING §6), so that the rows of one table agree; before, the
/// bytes went over the run's 2 days and the cost over each gateway's span, and the table's
/// total and cost moved apart.
#[test]
fn per_day_rows_and_the_30_day_cost_project_alike() {
    let before = world(&spec(58, FieldSet::V5), &[Encoding::Text]);
    let mut s = spec(58, FieldSet::V5);
    s.start += 2 * 86_400;
    let w = world(&s, &[Encoding::Text]);
    assert!(w.truth.nat_enis.len() >= 2, "{:?}", w.truth.nat_enis);
    let late = tempfile::tempdir().unwrap();
    let until = w.truth.start + 30 * 3600;
    crate::support::with_flow_log_on_late(&w, &w.truth.nat_enis[1], until, late.path());
    let c = compare_json(&[
        "--before",
        &before.path(Encoding::Text),
        "--after",
        late.path().to_str().unwrap(),
    ]);
    let (rb, ra) = (&c.reports.before, &c.reports.after);
    let span = |r: &flowcost::report::Report, eni: &str| {
        let g = r.analysis.gateways.iter().find(|g| g.eni == eni).unwrap();
        g.covered_seconds
    };
    assert!(span(ra, &w.truth.nat_enis[1]) <= 18 * 3600);
    assert!(span(ra, &w.truth.nat_enis[0]) > 40 * 3600);
    assert_eq!(c.after.covered_days, 2.0);
    for (s, r) in [(&c.before, rb), (&c.after, ra)] {
        let cost = priced_per_30_days(s.per_day.total, r);
        assert!(near(cost, s.nat_cost_per_30_days), "{cost} {s:?}");
        let s3 = priced_per_30_days(s.per_day.s3, r);
        assert!(near(s3, s.s3_cost_per_30_days), "{s3} {s:?}");
    }
    // each gateway's bytes over its own span, the bytes true: all of the before side's, and
    // on the after side those of the gateway logged throughout
    let (bytes, per_day) = gateways_per_day(rb, |c| c.total());
    assert_eq!(bytes, before.truth.nat_total);
    assert!(near(c.before.per_day.total, per_day));
    let (_, per_day) = gateways_per_day(ra, |c| c.total());
    assert!(near(c.after.per_day.total, per_day));
    let whole = &w.truth.nat_enis[0];
    let g0 = ra
        .analysis
        .gateways
        .iter()
        .find(|g| &g.eni == whole)
        .unwrap();
    assert_eq!(g0.total, w.truth.nat_by_gateway[whole].total());
    // the late gateway at its own rate: more than the side's bytes over the run's 2 days
    assert!(c.after.per_day.total > ra.analysis.total as f64 / 2.0 * 1.05);
    // and said, with its hours
    let short = |r: &flowcost::report::Report| {
        (r.analysis.quality.notes.iter())
            .find(|n| n.contains("NAT gateway ENIs cover under 90 %"))
            .cloned()
    };
    let note = short(ra).expect("noted");
    let hours = span(ra, &w.truth.nat_enis[1]) / 3600;
    let named = format!(": {} ({hours} h).", w.truth.nat_enis[1]);
    assert!(note.contains(&named), "{note}");
    // in the verdict, with its side
    let said = |side: &str| {
        (c.verdict.summary.iter()).find(|s| s.starts_with(&format!("{side}: The records of")))
    };
    assert!(
        said("After").is_some_and(|s| s.contains(&named)),
        "{:?}",
        c.verdict.summary
    );
    assert_eq!(said("Before").is_some(), short(rb).is_some());
}

/// One NAT gateway idle for the first 30 hours of a 2-day world with its flow log on all
/// along (a NODATA record for every 10-minute window, as AWS writes for an idle interface):
/// its logs cover the whole 48 hours, and it projects from them (ACCOUNTING §6: the time
/// the logs cover); without those NODATA records (its flow log turned on late) the same
/// bytes project from its own 18 hours, and a note names it.
#[test]
fn a_gateway_idle_but_logged_projects_over_the_time_its_logs_cover() {
    let w = world(&spec(59, FieldSet::V5), &[Encoding::Text]);
    let eni = &w.truth.nat_enis[1];
    let until = w.truth.start + 30 * 3600;
    let (idle, late) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    crate::support::with_gateway_quiet_until(&w, eni, until, idle.path());
    crate::support::with_flow_log_on_late(&w, eni, until, late.path());
    let (ri, rl) = (
        crate::support::analyze_json(&[idle.path().to_str().unwrap()]),
        crate::support::analyze_json(&[late.path().to_str().unwrap()]),
    );
    let gateway = |r: &flowcost::report::Report| {
        (r.analysis.gateways.iter())
            .find(|g| &g.eni == eni)
            .cloned()
            .unwrap()
    };
    let (gi, gl) = (gateway(&ri), gateway(&rl));
    assert_eq!(gi.classes, gl.classes, "the same bytes counted");
    assert_eq!(ri.analysis.classes, rl.analysis.classes);
    assert!(gl.covered_seconds <= 18 * 3600, "{}", gl.covered_seconds);
    assert_eq!(ri.analysis.period.covered_days, 2.0);
    assert_eq!(gi.covered_seconds, 2 * 86_400, "the idle hours logged");
    // every NODATA line written is counted as one
    let windows = ((until - w.truth.start) / 600) as u64;
    let nodata = |r: &flowcost::report::Report| r.analysis.quality.lines.nodata;
    assert_eq!(nodata(&ri), nodata(&rl) + windows);
    // the S3 saving per 30 days: each gateway's S3 bytes × 30 over its own days
    for r in [&ri, &rl] {
        let (_, per_day) = gateways_per_day(r, |c| c.s3.total());
        let money = priced_per_30_days(per_day, r);
        let said = r.cost.s3_gateway_endpoint_savings.per_30_days;
        assert!(near(money, said), "{money} {said}");
    }
    // so the idle side projects the gateway's bytes over 2 days, the late side over 18 hours
    let s3 = gi.classes.s3.total() as f64;
    let share = |r: &flowcost::report::Report, g: &flowcost::analysis::Gateway| {
        priced_per_30_days(s3 * 86_400.0 / g.covered_seconds as f64, r)
    };
    assert!(share(&rl, &gl) > share(&ri, &gi) * 2.5);
    let short = |r: &flowcost::report::Report| {
        (r.analysis.quality.notes.iter())
            .any(|n| n.contains("NAT gateway ENIs cover under 90 %") && n.contains(eni.as_str()))
    };
    assert!(short(&rl) && !short(&ri));
}

/// A NAT gateway's NODATA window far from the rest of the logs (a stray file of another
/// time) is time its logs cover only as the run's is: the run's span takes it too, so the
/// stretches far apart are said and the run exits 9, rather than the gateway projecting its
/// bytes over two months with exit 0.
#[test]
fn a_stray_nodata_window_splits_the_period_rather_than_thinning_a_gateway() {
    let w = world(&spec(59, FieldSet::V5), &[Encoding::Text]);
    let eni = &w.truth.nat_enis[1];
    let dir = tempfile::tempdir().unwrap();
    crate::support::with_flow_log_on_late(&w, eni, w.truth.start, dir.path());
    let t = w.truth.start - 60 * 86_400;
    let head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    let line = format!(
        "2 111122223333 {eni} - - - - - - - {t} {} - NODATA",
        t + 600
    );
    std::fs::write(dir.path().join("stray.log"), format!("{head}\n{line}\n")).unwrap();
    let args = [
        "analyze",
        "-q",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r.analysis.period.split().next().is_some());
    let g = (r.analysis.gateways.iter())
        .find(|g| &g.eni == eni)
        .unwrap();
    assert_eq!(r.analysis.period.first_start, Some(t));
    assert!(g.covered_seconds > 60 * 86_400, "{}", g.covered_seconds);
}

/// A NAT gateway named with `--nat-eni` whose logs hold only its NODATA windows was logged
/// and carried nothing: a report of its zeros, with the gateway listed and a note saying so,
/// not the refusal that a name in no record at all gets (stale or mistyped).
#[test]
fn a_named_gateway_logged_idle_is_a_report_of_zero() {
    let dir = tempfile::tempdir().unwrap();
    let head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    let lines = [
        "2 111122223333 eni-0a1b2c3d4e5f60718 - - - - - - - 1788220800 1788221400 - NODATA",
        "2 111122223333 eni-0a1b2c3d4e5f60718 - - - - - - - 1788224400 1788225000 - NODATA",
        "2 111122223333 eni-0c0c0c0c0c0c0c0c0 10.0.1.5 52.216.8.1 40000 443 6 2 100 1788220800 1788220860 ACCEPT OK",
    ];
    let log = dir.path().join("idle.log");
    std::fs::write(&log, format!("{head}\n{}\n", lines.join("\n"))).unwrap();
    let log = log.to_str().unwrap();
    let named = [
        "--nat-eni",
        "eni-0a1b2c3d4e5f60718",
        "--region",
        "us-east-1",
    ];
    let o = run(&[&["analyze", "-q", "--format", "json", log][..], &named].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let g = &r.analysis.gateways;
    assert_eq!(
        (g.len(), g[0].total, g[0].covered_seconds),
        (1, 0, 2 * 3600)
    );
    let said = "1 NAT gateway ENI(s) were logged but carried no counted byte: eni-0a1b2c3d4e5f60718 (2 h).";
    assert!(
        r.analysis.quality.notes.iter().any(|n| n.starts_with(said)),
        "{:?}",
        r.analysis.quality.notes
    );
    // a name in no record at all is refused, as before
    let other = [
        "--nat-eni",
        "eni-0f0f0f0f0f0f0f0f0",
        "--region",
        "us-east-1",
    ];
    let o = run(&[&["analyze", "-q", log][..], &other].concat());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

/// A side whose logs cover none of its time has no per-day figure: with the NAT gateways
/// named, a period without records is a report of zero bytes, and compared it showed every
/// byte gone ("-100 %", exit 0, a gate passed); a side whose records have no start showed
/// the same. Either side so is refused (exit 3, the side and the cause said), gate or not.
#[test]
fn a_side_whose_logs_cover_none_of_its_time_is_refused() {
    let w = endpoint_world();
    let p = w.path(Encoding::Gz);
    let nats = w.truth.nat_enis.join(",");
    let periods = |before: &str, after: &str, gate: bool| {
        let mut a = vec!["compare", "-q", "--nat-eni", &nats];
        a.extend(["--before", before, "--after", after]);
        if gate {
            a.extend(["--fail-if-s3-via-nat-above", "99%"]);
        }
        a.push(&p);
        run(&a)
    };
    let (logged, empty) = ("2026-09-01..2026-09-02", "2026-09-20..2026-09-21");
    for gate in [false, true] {
        let o = periods(logged, empty, gate);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
        let e = stderr(&o);
        assert!(
            e.contains("the after side's logs cover none of its time (2026-09-20T00:00:00Z .. 2026-09-22T00:00:00Z): none of its records is in it"),
            "{e}"
        );
        assert!(e.contains("fall outside its period)"), "{e}");
    }
    let o = periods(empty, logged, false);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("the before side's logs cover none of its time"));
    // both sides logged: compared as before
    assert_eq!(
        periods(logged, "2026-09-03..2026-09-04", true)
            .status
            .code(),
        Some(0)
    );
    // a monthly report whose change falls after the logs end: refused, no folder written
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = run(&[
        "report",
        "-q",
        "-d",
        out.to_str().unwrap(),
        "--nat-eni",
        &nats,
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-10",
        "--change-at",
        "2026-09-06",
        &p,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--change-at 2026-09-06: the after side's logs cover none of its time"),
        "{e}"
    );
    assert!(!out.exists());

    // two sets of inputs, the after side's records without a start
    let text = world(&spec(51, FieldSet::V5), &[Encoding::Text]);
    let undated = tempfile::tempdir().unwrap();
    for (i, f) in crate::support::files_under(std::path::Path::new(&text.path(Encoding::Text)))
        .iter()
        .enumerate()
    {
        let body = std::fs::read_to_string(f).unwrap();
        let mut lines = body.lines();
        let names: Vec<&str> = lines.next().unwrap().split(' ').collect();
        let at = names.iter().position(|n| *n == "start").unwrap();
        let drop = |l: &str| {
            let t: Vec<&str> = l
                .split(' ')
                .enumerate()
                .filter(|(j, _)| *j != at)
                .map(|x| x.1)
                .collect();
            t.join(" ") + "\n"
        };
        let out: String = std::iter::once(names.join(" "))
            .chain(lines.map(str::to_string))
            .map(|l| drop(&l))
            .collect();
        std::fs::write(undated.path().join(format!("undated-{i}.log")), out).unwrap();
    }
    let u = undated.path().to_str().unwrap();
    let t = text.path(Encoding::Text);
    let nats = text.truth.nat_enis.join(",");
    let o = run(&[
        "compare",
        "-q",
        "--nat-eni",
        &nats,
        "--before",
        &t,
        "--after",
        u,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("the after side's logs cover none of its time"),
        "{e}"
    );
    assert!(e.contains("counted records have no start"), "{e}");
    // (no period was given the side: none is named, where its records' ends made one)
    assert!(
        e.contains("the after side's logs cover none of its time: its "),
        "{e}"
    );
}

/// Logs of rejected traffic only (a flow log of traffic type REJECT) show nothing of what
/// passed through the NAT gateways: without them named, the run says so before any NAT
/// question (exit 3); named, the report of zero bytes is marked (exit 10, per-30-day figures
/// unknown), and so is a partial of it; compared, such a side is refused (exit 3), where a
/// report of zeros showed every S3 byte gone.
#[test]
fn logs_of_rejected_traffic_only_are_no_finding_of_zero() {
    let text = world(&spec(52, FieldSet::V5), &[Encoding::Text]);
    let all = text.path(Encoding::Text);
    let rejected = tempfile::tempdir().unwrap();
    let mut kept = 0;
    for (i, f) in crate::support::files_under(std::path::Path::new(&all))
        .iter()
        .enumerate()
    {
        let body = std::fs::read_to_string(f).unwrap();
        let mut lines = body.lines();
        let head = lines.next().unwrap();
        let rejects: Vec<&str> = lines.filter(|l| l.contains(" REJECT ")).collect();
        if rejects.is_empty() {
            continue;
        }
        kept += rejects.len();
        let out = std::iter::once(head).chain(rejects).collect::<Vec<_>>();
        let name = format!("rejected-{i}.log");
        std::fs::write(rejected.path().join(name), out.join("\n") + "\n").unwrap();
    }
    assert!(kept > 10, "the world has rejections: {kept}");
    let r = rejected.path().to_str().unwrap();
    let o = run(&["analyze", "-q", r]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "no record was counted: the {kept} records read are all REJECT, none accepted"
        )),
        "{e}"
    );
    assert!(!e.contains("cannot tell which ENIs"), "{e}");

    // (no record counted, and files not named as AWS names them: the region is given)
    let nats = text.truth.nat_enis.join(",");
    let named = ["-q", "--region", "us-east-1", "--nat-eni", &nats];
    let o = run(&[&["analyze"][..], &named, &[r]].concat());
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let report = crate::support::stdout(&o);
    let mut first = report.lines().filter(|l| !l.is_empty());
    assert!(first.next().unwrap().starts_with("NOTHING COUNTED: "));
    assert!(first.next().unwrap().starts_with(&format!(
        "NO ACCEPTED TRAFFIC: the {kept} records of the period are all REJECT"
    )));
    assert!(report.contains("unknown per 30 days"), "{report}");
    assert!(stderr(&o).contains("marked as showing none of its period's traffic (exit 10)"));
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("rejected.fcp").display().to_string();
    let o = run(&[&["analyze"][..], &named, &["--partial-out", &part, r]].concat());
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let o = run(&["merge", "-q", &part]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));

    let o = run(&[&["compare"][..], &named, &["--before", &all, "--after", r]].concat());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "the after side's logs show none of its traffic: its {kept} records are all REJECT"
        )),
        "{e}"
    );
    // the same logs with their accepted records: no mark
    let o = run(&[&["analyze"][..], &named, &[&all]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
