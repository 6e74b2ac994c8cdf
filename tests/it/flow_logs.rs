//! Two flow logs on the same ENIs (ACCOUNTING.md §7): a second flow log recording the same
//! traffic never doubles a byte; one flow log per ENI is counted (the one with more fields,
//! or `--flow-log-id`, among those that recorded the accepted traffic), the rest set aside
//! and reported; flow logs at different times are all counted; an export without flow-log
//! ids beside an S3 delivery is caught too. Records
//! read twice within one flow log (exports whose periods overlap, a file holding its records
//! twice) are found by a sample of their lines, and the run says so (exit 8).

use std::path::Path;

use flowcost::generate::{Encoding, FieldSet, FLOW_LOG_ID};

use crate::support::{analyze_json, analyze_json_code, files_under, parquet_export, spec, world};

/// Copy the flow logs under a world's folder `from` into `to` (not its bill, `cur/`), the
/// flow-log id in their names replaced by `id`; `pick` chooses the files.
fn copy_as(from: &Path, to: &Path, id: &str, pick: impl Fn(&Path) -> bool) -> usize {
    let mut n = 0;
    for f in files_under(from).into_iter().filter(|f| pick(f)) {
        let rel = f.strip_prefix(from).unwrap().to_str().unwrap();
        if rel.starts_with("cur/") {
            continue;
        }
        let dst = to.join(rel.replace(FLOW_LOG_ID, id));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dst).unwrap();
        n += 1;
    }
    n
}

/// The text of the gzip files under `from` (not the bill's), each without its header line,
/// in path order; and the header (the layout, for `--fields`).
fn texts_of(from: &Path) -> (String, Vec<String>) {
    let mut header = String::new();
    let logs = files_under(from).into_iter().filter(|f| {
        f.to_str().unwrap().ends_with(".gz") && !f.strip_prefix(from).unwrap().starts_with("cur")
    });
    let texts = logs
        .map(|f| {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap()),
                &mut text,
            )
            .unwrap();
            let (first, rest) = text.split_once('\n').unwrap();
            header = first.to_string();
            rest.to_string()
        })
        .collect();
    (header, texts)
}

/// Write the gzip files under `from` into `to` as a CloudWatch Logs export would hold them:
/// plain text, without the header line, under names without a flow-log id. Returns the
/// header (the layout, for `--fields`).
fn export_of(from: &Path, to: &Path) -> String {
    let (header, texts) = texts_of(from);
    for (n, text) in texts.iter().enumerate() {
        let dst = to.join(format!("export/part-{n:05}.log"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(dst, text).unwrap();
    }
    header
}

const OTHER: &str = "fl-00000000000000b0b";

#[test]
fn a_second_flow_log_on_the_same_enis_is_counted_once_from_the_richer_one() {
    // the same world written twice: by a cost team's v5 flow log and a security team's v2 one
    let v5 = world(&spec(41, FieldSet::V5), &[Encoding::Gz]);
    let v2 = world(&spec(41, FieldSet::V2), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    copy_as(v5.dir.path(), dir.path(), FLOW_LOG_ID, |_| true);
    copy_as(v2.dir.path(), &dir.path().join("security"), OTHER, |_| true);
    let alone = analyze_json(&[&v5.path(Encoding::Gz)]);
    let v2_alone = {
        let mut args = vec![v2.path(Encoding::Gz)];
        for e in &v2.truth.nat_enis {
            args.extend(["--nat-eni".to_string(), e.clone()]);
        }
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        analyze_json(&args)
    };
    let r = analyze_json(&[dir.path().to_str().unwrap()]);
    let a = &r.analysis;
    // not doubled: exactly the truth, and the v5 run's answer in every figure
    assert_eq!(a.classes, v5.truth.nat);
    assert_eq!(a.total, v5.truth.nat_total);
    assert_eq!(a.ecr, alone.analysis.ecr);
    assert_eq!(a.by_subnet, alone.analysis.by_subnet);
    assert_eq!(a.top_clients, alone.analysis.top_clients);
    assert_eq!(a.rejected, alone.analysis.rejected);
    // every record of the v2 flow log set aside, and the lines still reconcile
    let q = &a.quality;
    let l2 = &v2_alone.analysis.quality.lines;
    assert_eq!(q.lines.duplicate_flow_log, l2.counted + l2.rejected);
    assert_eq!(q.lines.counted, alone.analysis.quality.lines.counted);
    assert!(q.reconciled);
    let fl = q.flow_logs.as_ref().expect("flow logs reported");
    assert_eq!(fl.records_set_aside, l2.counted);
    assert_eq!(fl.enis_partly_covered, 0);
    let ids: Vec<(&str, u32)> = fl
        .flow_logs
        .iter()
        .map(|f| (f.id.as_str(), f.fields))
        .collect();
    assert_eq!(ids, vec![(OTHER, 14), (FLOW_LOG_ID, 29)]);
    assert_eq!(fl.flow_logs[0].enis_counted, 0);
    assert_eq!(fl.flow_logs[1].enis_set_aside, 0);
    assert_eq!(fl.enis, fl.flow_logs[0].enis_set_aside);
    assert!(fl.enis > 0);
    let note = q
        .notes
        .iter()
        .find(|n| n.contains("recorded by more than one flow log"))
        .expect("a data-quality note");
    assert!(note.contains(FLOW_LOG_ID) && note.contains(OTHER), "{note}");

    // --flow-log-id chooses the v2 flow log: its answer (NAT named, as v2 needs)
    let mut args = vec![
        dir.path().to_str().unwrap().to_string(),
        "--flow-log-id".into(),
        OTHER.into(),
    ];
    for e in &v2.truth.nat_enis {
        args.extend(["--nat-eni".to_string(), e.clone()]);
    }
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let r = analyze_json(&args);
    assert_eq!(r.analysis.classes, v2.truth.nat);
    assert_eq!(r.analysis.rejected, v2_alone.analysis.rejected);
    let l = &r.analysis.quality.lines;
    assert_eq!(l.counted, l2.counted);
    let fl = r.analysis.quality.flow_logs.unwrap();
    assert_eq!(fl.flow_logs[1].enis_counted, 0);
}

/// A security team's flow log of rejected traffic only (traffic type REJECT), of a richer
/// format than the cost team's flow log of all traffic, never displaces it: chosen for the
/// ENIs both recorded (the NAT gateways among them), it set every byte that passed aside
/// and the report said "$0.00" with exit 0.
#[test]
fn a_flow_log_of_rejected_traffic_only_never_displaces_one_of_all_traffic() {
    let all = world(&spec(43, FieldSet::V5), &[Encoding::Gz]);
    let rich = world(&spec(43, FieldSet::V7), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    copy_as(all.dir.path(), dir.path(), FLOW_LOG_ID, |_| true);
    // the v7 flow log's rejected records only, under another flow-log id (the deliveries'
    // names, in the order `texts_of` reads them)
    let from = rich.dir.path();
    let names = (files_under(from).into_iter()).filter(|f| {
        f.to_str().unwrap().ends_with(".gz") && !f.strip_prefix(from).unwrap().starts_with("cur")
    });
    let (header, texts) = texts_of(from);
    let mut rejected = 0;
    for (text, f) in texts.iter().zip(names) {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(" REJECT ")).collect();
        if lines.is_empty() {
            continue;
        }
        rejected += lines.len();
        let name = f.file_name().unwrap().to_str().unwrap();
        let name = name.replace(FLOW_LOG_ID, OTHER).replace(".gz", "");
        let body = std::iter::once(header.as_str())
            .chain(lines)
            .collect::<Vec<_>>();
        std::fs::write(dir.path().join(name), body.join("\n") + "\n").unwrap();
    }
    assert!(rejected > 10, "{rejected} rejections");
    let alone = analyze_json(&[&all.path(Encoding::Gz)]);
    let mut nats = Vec::new();
    for e in &all.truth.nat_enis {
        nats.extend(["--nat-eni", e.as_str()]);
    }
    let d = dir.path().to_str().unwrap();
    for named in [&nats[..], &[]] {
        let r = analyze_json(&[&[d][..], named].concat());
        let a = &r.analysis;
        assert_eq!(a.classes, all.truth.nat);
        assert_eq!(a.ecr, alone.analysis.ecr);
        assert_eq!(a.rejected, alone.analysis.rejected);
        let l = &a.quality.lines;
        assert_eq!(l.counted, alone.analysis.quality.lines.counted);
        // the REJECT flow log's records are the ones set aside (the other holds them too)
        assert_eq!(l.duplicate_flow_log, rejected as u64);
        let fl = a.quality.flow_logs.as_ref().expect("flow logs reported");
        assert_eq!(fl.records_set_aside, 0);
        assert_eq!(fl.rejected_set_aside, rejected as u64);
    }
    // even named by --flow-log-id, it is not chosen over the records that passed
    let r = analyze_json(&[&[d, "--flow-log-id", OTHER][..], &nats].concat());
    assert_eq!(r.analysis.classes, all.truth.nat);
}

#[test]
fn flow_logs_that_follow_each_other_are_both_counted() {
    // one flow log for the first day, another from the second: nothing doubled, nothing lost
    let w = world(&spec(42, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let day1 = |f: &Path| f.to_str().unwrap().contains("/2026/09/01/");
    let a = copy_as(w.dir.path(), dir.path(), FLOW_LOG_ID, day1);
    let b = copy_as(w.dir.path(), dir.path(), OTHER, |f| !day1(f));
    assert!(a > 0 && b > 0);
    let r = analyze_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(r.analysis.classes, w.truth.nat);
    let q = &r.analysis.quality;
    assert_eq!(q.lines.duplicate_flow_log, 0);
    let fl = q.flow_logs.as_ref().unwrap();
    assert_eq!(fl.enis, 0);
    assert!(q
        .notes
        .iter()
        .any(|n| n.contains("none recorded an ENI at the same time")));
    // and the same with the ENI tables spilled to disk
    let r2 = analyze_json(&[dir.path().to_str().unwrap(), "--max-enis-in-memory", "16"]);
    assert_eq!(r2.analysis.classes, w.truth.nat);
    assert_eq!(r2.analysis.ecr, r.analysis.ecr);
}

#[test]
fn an_export_without_flow_log_ids_beside_the_delivery_is_caught() {
    let w = world(&spec(43, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    copy_as(w.dir.path(), dir.path(), FLOW_LOG_ID, |_| true);
    let header = export_of(w.dir.path(), dir.path());
    for extra in [&[][..], &["--max-enis-in-memory", "16"][..]] {
        let mut args = vec![dir.path().to_str().unwrap(), "--fields", &header];
        args.extend_from_slice(extra);
        let r = analyze_json(&args);
        assert_eq!(r.analysis.classes, w.truth.nat, "{extra:?}");
        let fl = r.analysis.quality.flow_logs.as_ref().unwrap();
        assert_eq!(fl.flow_logs.len(), 2);
        assert_eq!(fl.flow_logs[1].id, "", "inputs without an id come last");
        assert!(fl.enis > 0);
        // equal fields and records: the tie goes to the delivery's flow log (the lower tag)
        assert_eq!(fl.flow_logs[1].enis_counted, 0);
        assert!(r.analysis.quality.reconciled);
    }
}

/// Records of a 2-day world's export, cut into exports whose periods overlap: what the
/// runs say. Exports carry no flow-log id, so they are one flow log; their shared lines are
/// records read twice.
#[test]
fn records_read_twice_are_found_and_the_run_says_so() {
    let w = world(&spec(47, FieldSet::V5), &[Encoding::Gz]);
    let (header, texts) = texts_of(w.dir.path());
    let n = texts.len();
    let (a_to, b_from) = (n * 6 / 10, n * 4 / 10);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, parts: &[String]| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, parts.concat()).unwrap();
        p.display().to_string()
    };
    let whole = write("whole/all.log", &texts);
    let a = write("overlap/a.log", &texts[..a_to]);
    let b = write("overlap/b.log", &texts[b_from..]);
    let twice = write("twice/all-twice.log", &[texts.concat(), texts.concat()]);
    let run = |inputs: &[&str]| {
        let mut args = inputs.to_vec();
        args.extend(["--fields", &header]);
        analyze_json_code(&args)
    };
    // the export whole: the truth, nothing repeated
    let (r, code) = run(&[&whole]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.classes, w.truth.nat);
    assert!(r.analysis.quality.repeated.is_none());
    // two exports whose periods overlap: found, named, estimated
    let (r, code) = run(&[&a, &b]);
    assert_eq!(code, Some(8));
    let rep = r.analysis.quality.repeated.as_ref().expect("repeats found");
    assert_eq!(rep.examples.len(), 1);
    assert_eq!(rep.examples[0].inputs, [a.clone(), b.clone()]);
    assert_eq!(rep.examples[0].sampled_lines, rep.sampled_lines);
    assert_eq!(rep.sample_rate, 128);
    let shared_lines: usize = texts[b_from..a_to].iter().map(|t| t.lines().count()).sum();
    let est = rep.estimated_records as f64;
    assert!(
        est > shared_lines as f64 / 2.0 && est < shared_lines as f64 * 2.0,
        "{est} estimated against {shared_lines} lines shared"
    );
    // the same, each file split among workers (as a large one is)
    let (split, code) = run(&[&a, &b, "--chunk-size", "8192", "-j", "2"]);
    assert_eq!(code, Some(8));
    assert_eq!(split.analysis.quality.repeated.as_ref(), Some(rep));
    // and every record read twice in one file, whole or split
    let (r, code) = run(&[&twice]);
    assert_eq!(code, Some(8));
    let rep = r.analysis.quality.repeated.as_ref().expect("repeats found");
    assert_eq!(rep.examples[0].inputs, [twice.clone(), twice.clone()]);
    let (split, code) = run(&[&twice, "--chunk-size", "8192", "-j", "2"]);
    assert_eq!(code, Some(8));
    assert_eq!(split.analysis.quality.repeated.as_ref(), Some(rep));
    // each export alone repeats nothing
    for one in [&a, &b] {
        let (r, code) = run(&[one]);
        assert_eq!(code, Some(0), "{one}");
        assert!(r.analysis.quality.repeated.is_none());
    }
    // the table says it first, and stderr
    let o = crate::support::run(&["analyze", "-q", &a, &b, "--fields", &header]);
    assert_eq!(o.status.code(), Some(8));
    let out = crate::support::stdout(&o);
    assert!(out.starts_with("REPEATED RECORDS: about "), "{out}");
    assert!(out.contains(&format!("{a} and {b} share ")), "{out}");
    assert!(crate::support::stderr(&o).contains("(exit 8)"));
}

/// One export given as text and again as Parquet (a copy converted by Athena or Spark, kept
/// beside it): the same records in two encodings are records read twice, found by the
/// sample of records whichever encoding each copy came from, by either Parquet reader, with
/// about half the counted bytes named as copies; each alone is the truth. (Until 2026-12-05
/// a row and a line were never copies, and the pair counted every byte twice with exit 0.)
#[test]
fn an_export_read_as_text_and_as_parquet_is_records_read_twice() {
    let w = world(&spec(47, FieldSet::V5), &[Encoding::Gz]);
    let (header, texts) = texts_of(w.dir.path());
    let text = format!("{header}\n{}", texts.concat());
    let dir = tempfile::tempdir().unwrap();
    let (log, parquet) = (dir.path().join("a.log"), dir.path().join("b.parquet"));
    std::fs::write(&log, &text).unwrap();
    crate::support::text_as_parquet(&text, &parquet);
    let (log, parquet) = (log.display().to_string(), parquet.display().to_string());
    for one in [&log, &parquet] {
        let (r, code) = analyze_json_code(&[one]);
        assert_eq!(code, Some(0), "{one}");
        assert_eq!(r.analysis.classes, w.truth.nat, "{one}");
        assert!(r.analysis.quality.repeated.is_none(), "{one}");
    }
    let (r, code) = analyze_json_code(&[&log, &parquet]);
    assert_eq!(code, Some(8));
    let rep = r
        .analysis
        .quality
        .repeated
        .clone()
        .expect("records read twice found");
    assert!(rep.sampled_copies > 0);
    assert_eq!(rep.examples[0].inputs, [log.clone(), parquet.clone()]);
    assert!(
        (400..=600).contains(&rep.share_permille),
        "{} permille of the bytes copies",
        rep.share_permille
    );
    let records = text.lines().count() as f64 - 1.0;
    let est = rep.estimated_records as f64;
    assert!(
        est > records / 2.0 && est < records * 2.0,
        "{est} estimated against {records} records read twice"
    );
    // the Arrow reader's rows get the fast reader's fingerprints
    let o = crate::support::bin()
        .env("FLOWCOST_PARQUET_READER", "arrow")
        .args(["analyze", "--format", "json", "-q", &log, &parquet])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(8));
    let arrow: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(arrow.analysis.quality.repeated, Some(rep));
}

/// Two flow logs writing the same lines (one layout on one VPC) are the overlap of flow logs
/// (counted once, set aside), not records read twice.
#[test]
fn two_flow_logs_writing_the_same_lines_repeat_nothing() {
    let w = world(&spec(48, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    copy_as(w.dir.path(), dir.path(), FLOW_LOG_ID, |_| true);
    // the other flow log's files: the same lines in other bytes (plain text, a blank line
    // more), so that neither the same-bytes nor the same-text check takes them for copies
    let security = dir.path().join("security");
    copy_as(w.dir.path(), &security, OTHER, |_| true);
    for f in files_under(&security)
        .into_iter()
        .filter(|f| f.extension() == Some("gz".as_ref()))
    {
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap()),
            &mut text,
        )
        .unwrap();
        text.push(b'\n');
        std::fs::remove_file(&f).unwrap();
        std::fs::write(f.with_extension(""), text).unwrap();
    }
    let (r, code) = analyze_json_code(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.classes, w.truth.nat);
    assert!(r.analysis.quality.repeated.is_none());
    assert!(r.analysis.quality.flow_logs.is_some());
}

/// Shards of a run whose inputs repeat records, merged: the sample of each shard travels in
/// its partial file, and the merge finds what one run over all the inputs finds.
#[test]
fn partial_results_carry_the_sample_of_lines() {
    let w = world(&spec(49, FieldSet::V5), &[Encoding::Gz]);
    let (header, texts) = texts_of(w.dir.path());
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // the parts one by one, and again in fours: each record in two files
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(logs.join(format!("one-{i:04}.log")), t).unwrap();
    }
    for (i, c) in texts.chunks(4).enumerate() {
        std::fs::write(logs.join(format!("four-{i:04}.log")), c.concat()).unwrap();
    }
    let logs = logs.display().to_string();
    let (whole, code) = analyze_json_code(&[&logs, "--fields", &header]);
    assert_eq!(code, Some(8));
    let found = whole.analysis.quality.repeated.clone().expect("found");
    assert!(found.estimated_records > 0);
    let mut parts = Vec::new();
    for k in 0..3 {
        let out = dir
            .path()
            .join(format!("shard-{k}.fcp"))
            .display()
            .to_string();
        let shard = format!("{k}/3");
        let o = crate::support::run(&[
            "analyze",
            "-q",
            &logs,
            "--fields",
            &header,
            "--shard",
            &shard,
            "--partial-out",
            &out,
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 8)),
            "{}",
            crate::support::stderr(&o)
        );
        parts.push(out);
    }
    let mut args = vec!["merge", "-q", "--format", "json"];
    args.extend(parts.iter().map(|s| s.as_str()));
    let o = crate::support::run(&args);
    assert_eq!(o.status.code(), Some(8), "{}", crate::support::stderr(&o));
    let merged: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(merged.analysis.quality.repeated, Some(found));
}

/// The run over inputs `a` and `b`, two flow logs without their ids: exit 8, most sampled
/// flows recorded twice, both inputs named; its finding.
fn found_recorded_twice(a: &str, b: &str) -> flowcost::analysis::Repeated {
    let (r, code) = analyze_json_code(&[a, b]);
    assert_eq!(code, Some(8), "{a} and {b}");
    let rep = r.analysis.quality.repeated.clone().expect("found");
    let twice = rep.recorded_twice.as_ref().expect("flows recorded twice");
    assert!(
        twice.sampled_flows_twice * 2 > twice.sampled_flows,
        "{twice:?}"
    );
    let named: Vec<&str> = twice.inputs.iter().map(|i| i.input.as_str()).collect();
    assert!(named.contains(&a) && named.contains(&b), "{named:?}");
    rep
}

/// Two flow logs on one VPC exported without their ids (a security team's with ten-minute
/// windows, a cost team's with one-minute windows; or one layout beside another): no line of
/// one is a line of the other, so only the sample of flows sees that every flow is recorded
/// twice. Each export alone is the truth, exit 0; together, exit 8 naming both, the same
/// found from a file split among workers and from partial results merged.
#[test]
fn two_flow_logs_exported_without_ids_are_found() {
    use flowcost::generate::Interval;
    let dir = tempfile::tempdir().unwrap();
    let export = |seed: u64, fields: FieldSet, interval: Interval, name: &str| {
        let w = world(
            &flowcost::generate::Spec {
                interval,
                ..spec(seed, fields)
            },
            &[Encoding::Gz],
        );
        let (header, texts) = texts_of(w.dir.path());
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{header}\n{}", texts.concat())).unwrap();
        (p.display().to_string(), w.truth)
    };
    let (cost, truth) = export(51, FieldSet::V5, Interval::OneMinute, "cost-team.log");
    let (security, _) = export(51, FieldSet::V5, Interval::TenMinutes, "security-team.log");
    let (v7, _) = export(51, FieldSet::V7, Interval::OneMinute, "v7-export.log");
    for one in [&cost, &security, &v7] {
        let (r, code) = analyze_json_code(&[one]);
        assert_eq!(code, Some(0), "{one}");
        assert_eq!(r.analysis.classes, truth.nat, "{one}");
        assert!(r.analysis.quality.repeated.is_none(), "{one}");
    }
    for (a, b) in [(&cost, &security), (&cost, &v7)] {
        let rep = found_recorded_twice(a, b);
        let twice = rep.recorded_twice.as_ref().expect("flows recorded twice");
        // (the same windows in two layouts: no line of one is the other's)
        if b == &v7 {
            assert_eq!(rep.sampled_copies, 0);
            assert!((400..=500).contains(&twice.share_permille), "{twice:?}");
        }
        let (split, code) = analyze_json_code(&[a, b, "--chunk-size", "65536", "-j", "2"]);
        assert_eq!(code, Some(8));
        assert_eq!(split.analysis.quality.repeated, Some(rep.clone()));
        let mut parts = Vec::new();
        for (k, input) in [a, b].into_iter().enumerate() {
            let out = dir.path().join(format!("part-{k}.fcp"));
            let out = out.display().to_string();
            let o = crate::support::run(&["analyze", "-q", input, "--partial-out", &out]);
            assert_eq!(o.status.code(), Some(0), "{}", crate::support::stderr(&o));
            parts.push(out);
        }
        let o = crate::support::run(&["merge", "-q", "--format", "json", &parts[0], &parts[1]]);
        assert_eq!(o.status.code(), Some(8), "{}", crate::support::stderr(&o));
        let merged: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(merged.analysis.quality.repeated, Some(rep));
    }
    // the table says it first, and stderr
    let o = crate::support::run(&["analyze", "-q", &cost, &v7]);
    assert_eq!(o.status.code(), Some(8));
    let out = crate::support::stdout(&o);
    assert!(out.starts_with("REPEATED RECORDS: about "), "{out}");
    assert!(out.contains("counted twice"), "{out}");
    assert!(crate::support::stderr(&o).contains("(exit 8)"));
}

/// A second flow log on the NAT gateway's ENIs alone beside the VPC's, both exported without
/// their ids, in a VPC of much internal traffic: the flows it records twice are under one in a
/// hundred of all the sampled flows, but its export holds them alone, and they are most of the
/// NAT ENIs' flows: each a finding (exit 8). Before, every NAT byte counted twice with exit 0.
#[test]
fn a_second_flow_log_on_a_few_enis_is_found_by_its_inputs() {
    use flowcost::generate::Spec;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let export = |s: &Spec, name: &str| {
        let w = world(s, &[Encoding::Gz]);
        let (header, texts) = texts_of(w.dir.path());
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{header}\n{}", texts.concat())).unwrap();
        (p.display().to_string(), w.truth)
    };
    let small = |fields| Spec {
        days: 1,
        tasks_per_day: 6,
        ..spec(51, fields)
    };
    let (vpc, truth) = export(&small(FieldSet::V5), "vpc.log");
    let nat_only = Spec {
        nat_only: true,
        ..small(FieldSet::V7)
    };
    let (nat, _) = export(&nat_only, "nat-enis.log");
    // east-west traffic: 100,000 flows between private addresses, each in two windows
    let internal = dir.path().join("internal.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&internal).unwrap());
    writeln!(out, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status").unwrap();
    for k in 0..100_000u64 {
        for window in 0..2 {
            let start = 1_788_220_800 + (k % 1400) * 60 + window * 60;
            let (a, b) = (k / 256 % 256, k % 256);
            writeln!(
                out,
                "2 1 eni-{} 10.9.{a}.{b} 10.8.0.{} {} 5432 6 1 100 {start} {} ACCEPT OK",
                k % 2000,
                k % 200,
                1024 + k % 60_000,
                start + 50
            )
            .unwrap();
        }
    }
    out.into_inner().unwrap().sync_all().unwrap();
    let internal = internal.display().to_string();
    // the VPC's flow log alone: the truth, nothing found
    let (r, code) = analyze_json_code(&[&vpc, &internal]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.classes, truth.nat);
    assert!(r.analysis.quality.repeated.is_none());
    // with the NAT ENIs' flow log: found by the inputs that hold its flows
    let (r, code) = analyze_json_code(&[&vpc, &nat, &internal]);
    assert_eq!(code, Some(8));
    let rep = r.analysis.quality.repeated.expect("found");
    let twice = rep.recorded_twice.expect("flows recorded twice");
    assert!(twice.sampled_flows_twice >= 2, "{twice:?}");
    assert!(
        twice.sampled_flows_twice * 100 < twice.sampled_flows,
        "under one in a hundred of all: {twice:?}"
    );
    let named: Vec<&str> = twice.inputs.iter().map(|i| i.input.as_str()).collect();
    assert!(
        named.contains(&nat.as_str()) && named.contains(&vpc.as_str()),
        "{named:?}"
    );
    assert!(!named.contains(&internal.as_str()), "{named:?}");
    // all three in one input (an export of a table over both flow logs' deliveries), each
    // part under its header line: found by the interfaces whose flows are recorded twice
    let all = dir.path().join("all.log");
    let text: Vec<String> = [&vpc, &nat, &internal]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    std::fs::write(&all, text.concat()).unwrap();
    let (r, code) = analyze_json_code(&[all.to_str().unwrap()]);
    assert_eq!(code, Some(8));
    let twice = (r.analysis.quality.repeated)
        .and_then(|rep| rep.recorded_twice)
        .expect("flows recorded twice");
    assert!(
        twice.sampled_flows_twice * 100 < twice.sampled_flows,
        "{twice:?}"
    );
}

/// Parquet inputs without a flow-log id are sampled too (their ports read for it): two flow
/// logs exported as Parquet, one as Parquet beside one as text, and Parquet exports whose
/// periods overlap are found (exit 8), by either Parquet reader; each export alone is the
/// truth, exit 0. AWS's own Parquet deliveries (ids in their names) read no more columns.
#[test]
fn parquet_exports_without_ids_are_sampled() {
    use flowcost::generate::Interval;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let one_minute = flowcost::generate::Spec {
        interval: Interval::OneMinute,
        ..spec(53, FieldSet::V5)
    };
    let w = world(&one_minute, &[Encoding::Parquet, Encoding::Gz]);
    let ten = world(
        &flowcost::generate::Spec {
            interval: Interval::TenMinutes,
            ..spec(53, FieldSet::V5)
        },
        &[Encoding::Parquet],
    );
    let v7 = world(
        &flowcost::generate::Spec {
            fields: FieldSet::V7,
            ..one_minute
        },
        &[Encoding::Gz],
    );
    let (cost, security, a, b) = (
        path("cost.parquet"),
        path("security.parquet"),
        path("first.parquet"),
        path("second.parquet"),
    );
    parquet_export(w.dir.path(), cost.as_ref(), |_, _| true);
    parquet_export(ten.dir.path(), security.as_ref(), |_, _| true);
    parquet_export(w.dir.path(), a.as_ref(), |i, n| i < n * 6 / 10);
    parquet_export(w.dir.path(), b.as_ref(), |i, n| i >= n * 4 / 10);
    let (header, texts) = texts_of(v7.dir.path());
    let v7_text = path("v7-export.log");
    std::fs::write(&v7_text, format!("{header}\n{}", texts.concat())).unwrap();

    let arrow = |args: &[&str]| {
        let o = crate::support::bin()
            .env("FLOWCOST_PARQUET_READER", "arrow")
            .args(["analyze", "--format", "json", "-q"])
            .args(args)
            .output()
            .unwrap();
        let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
        (r.analysis.quality.repeated, o.status.code())
    };
    for one in [&cost, &security, &a, &b] {
        let (r, code) = analyze_json_code(&[one]);
        assert_eq!(code, Some(0), "{one}");
        assert!(r.analysis.quality.repeated.is_none(), "{one}");
        if one == &cost {
            assert_eq!(r.analysis.classes, w.truth.nat);
        }
    }
    // two flow logs: in Parquet both, and in Parquet and text (one flow, one mark in both)
    for other in [&security, &v7_text] {
        let rep = found_recorded_twice(&cost, other);
        let twice = rep.recorded_twice.as_ref().expect("flows recorded twice");
        if other == &v7_text {
            assert_eq!(rep.sampled_copies, 0);
            assert!((400..=500).contains(&twice.share_permille), "{twice:?}");
        }
        assert_eq!(arrow(&[&cost, other]), (Some(rep), Some(8)));
    }
    // exports of one flow log whose periods overlap: their shared rows
    let (r, code) = analyze_json_code(&[&a, &b]);
    assert_eq!(code, Some(8));
    let rep = r.analysis.quality.repeated.clone().expect("found");
    assert!(rep.sampled_copies > 0);
    assert_eq!(rep.examples[0].inputs, [a.clone(), b.clone()]);
    assert!(rep.recorded_twice.is_none(), "{rep:?}");
    assert_eq!(arrow(&[&a, &b]), (Some(rep), code));
    // AWS's deliveries (the ids in their names) beside nothing else: the truth, unsampled
    let (r, code) = analyze_json_code(&[&w.path(Encoding::Parquet)]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.classes, w.truth.nat);
}

/// A world's text deliveries written under `to` as two flow logs split by interface: the
/// NAT gateways' records (those `keep` takes of them) under the flow-log id `OTHER` (a
/// flow log on their subnets), every other interface's under the world's own; how many NAT
/// records were kept.
fn split_at_the_nat_gateways(
    w: &crate::support::GenWorld,
    to: &Path,
    keep: impl Fn(&str) -> bool,
) -> usize {
    let from = w.dir.path();
    let mut kept = 0;
    for f in files_under(from) {
        let rel = f.strip_prefix(from).unwrap().to_str().unwrap();
        if !rel.ends_with(".log") || rel.starts_with("cur/") {
            continue;
        }
        let body = std::fs::read_to_string(&f).unwrap();
        let mut lines = body.lines();
        let head = lines.next().unwrap();
        let is_nat = |l: &str| w.truth.nat_enis.iter().any(|e| l.contains(e.as_str()));
        let (nat, other): (Vec<&str>, Vec<&str>) = lines.partition(|l| is_nat(l));
        let nat: Vec<&str> = nat.into_iter().filter(|l| keep(l)).collect();
        kept += nat.len();
        for (id, part) in [(FLOW_LOG_ID, other), (OTHER, nat)] {
            if part.is_empty() {
                continue;
            }
            let dst = to.join(rel.replace(FLOW_LOG_ID, id));
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let text = std::iter::once(head).chain(part).collect::<Vec<_>>();
            std::fs::write(dst, text.join("\n") + "\n").unwrap();
        }
    }
    kept
}

/// A security team's flow log of rejected traffic only on the NAT gateways' subnets, beside
/// the cost team's of all traffic on the clients': the gateways named show no traffic that
/// passed, so their zeros are no finding (exit 10, nothing projected), not "$0.00 per 30
/// days" with exit 0; partials and compare say the same. The same split with all the
/// gateways' records is counted exactly, and rejections of minutes are no such mark.
#[test]
fn nat_gateways_logged_only_by_a_flow_log_of_rejected_traffic_are_no_finding_of_zero() {
    use crate::support::{run, stderr, stdout};
    let w = world(&spec(44, FieldSet::V5), &[Encoding::Text]);
    let mut named = vec![];
    for e in &w.truth.nat_enis {
        named.extend(["--nat-eni", e.as_str()]);
    }
    // the NAT subnets' flow log of all traffic: the truth, exactly
    let all = tempfile::tempdir().unwrap();
    assert!(split_at_the_nat_gateways(&w, all.path(), |_| true) > 1000);
    let full = all.path().to_str().unwrap();
    let r = analyze_json(&[&[full][..], &named].concat());
    assert_eq!(r.analysis.classes, w.truth.nat);

    let rejecting = tempfile::tempdir().unwrap();
    let kept = split_at_the_nat_gateways(&w, rejecting.path(), |l| l.contains(" REJECT "));
    assert!(kept > 10, "the world's gateways reject some: {kept}");
    let d = rejecting.path().to_str().unwrap();
    let (r, code) = analyze_json_code(&[&[d][..], &named].concat());
    assert_eq!(code, Some(10));
    let a = &r.analysis;
    assert_eq!((a.total, a.rejected.nat_records), (0, kept as u64));
    assert!(a.rejected.nat_logged_seconds >= 3600 && a.quality.lines.counted > 1000);
    assert_eq!(r.cost.covered_days, 0.0, "nothing projects");
    let o = run(&[&["analyze", "-q", d][..], &named].concat());
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let report = stdout(&o);
    let first = report.lines().next().unwrap();
    let n = w.truth.nat_enis.len();
    assert!(
        first.starts_with(&format!(
            "NO ACCEPTED TRAFFIC: the {kept} records of the {n} NAT gateway ENI(s) are all REJECT, none accepted, over "
        )),
        "{first}"
    );
    assert!(report.contains("unknown per 30 days"), "{report}");
    // not named, the gateways cannot be found (no translation in rejected records): the
    // message names them among the interfaces of rejected records only, and why
    let o = run(&["analyze", "-q", d]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    let hint = (e.lines())
        .find(|l| {
            l.contains(" ENI(s) show REJECT records only, none accepted, over an hour or more: ")
        })
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        w.truth.nat_enis.iter().all(|n| hint.contains(n.as_str()))
            && hint.contains(
                "a flow log of traffic type REJECT (a security team's) is all that logs them"
            ),
        "{hint}"
    );
    // with all traffic logged, no such line
    let o = run(&["analyze", "-q", "--format", "json", full]);
    assert!(
        !stderr(&o).contains("REJECT records only"),
        "{}",
        stderr(&o)
    );

    // a partial of it is marked as its merge is
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("rejecting.fcp").display().to_string();
    let o = run(&[&["analyze", "-q", "--partial-out", &part, d][..], &named].concat());
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("records of the 2 NAT gateway ENI(s) are all REJECT"));
    let o = run(&["merge", "-q", &part]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));

    // compare refuses it as a side (the before side the full logs under names of their own:
    // the deliveries' names would be taken for copies of the same deliveries)
    let renamed = tempfile::tempdir().unwrap();
    for (i, f) in files_under(all.path()).iter().enumerate() {
        std::fs::copy(f, renamed.path().join(format!("before-{i}.log"))).unwrap();
    }
    let before = renamed.path().to_str().unwrap();
    let sides = ["--region", "us-east-1", "--before", before, "--after", d];
    let o = run(&[&["compare", "-q"][..], &named, &sides].concat());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "the after side's logs show none of its NAT gateways' traffic: their {kept} records are all REJECT"
        )),
        "{}",
        stderr(&o)
    );

    // one gateway logged by the REJECT flow log, the other by one of all traffic: its bytes
    // are counted, and the first one's rejections for hours are warned of (exit 0)
    let one = &w.truth.nat_enis[0];
    let half = tempfile::tempdir().unwrap();
    split_at_the_nat_gateways(&w, half.path(), |l| {
        l.contains(one.as_str()) || l.contains(" REJECT ")
    });
    let h = half.path().to_str().unwrap();
    let o = run(&[&["analyze", "-q", "--format", "json", h][..], &named].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let q = &r.analysis.quality;
    assert!(
        q.warns(flowcost::analysis::WarningKind::NatRejectedOnly),
        "{:?}",
        q.warnings
    );
    assert!(r.analysis.total > 0 && r.analysis.total < w.truth.nat_total);
    let e = stderr(&o);
    assert!(
        e.contains("flowcost: warning: 1 of the 2 NAT gateway ENIs show rejected records only, for hours, while the others carried bytes: "),
        "{e}"
    );
    // rejections within the first half hour only: a quiet stretch, zeros that are a figure
    let first_start = |l: &str| -> i64 { l.split(' ').nth(10).unwrap().parse().unwrap() };
    let start = spec(44, FieldSet::V5).start;
    let minutes = tempfile::tempdir().unwrap();
    let brief = split_at_the_nat_gateways(&w, minutes.path(), |l| {
        l.contains(" REJECT ") && first_start(l) < start + 1800
    });
    assert!(brief > 0, "rejections in the first half hour");
    let m = minutes.path().to_str().unwrap();
    let (r, code) = analyze_json_code(&[&[m][..], &named].concat());
    assert_eq!((code, r.analysis.total), (Some(0), 0));
    assert!(r.cost.covered_days > 0.0);
}
