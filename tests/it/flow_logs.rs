//! Two flow logs on the same ENIs (ACCOUNTING.md §7): a second flow log recording the same
//! traffic never doubles a byte; one flow log per ENI is counted (the one with more fields,
//! or `--flow-log-id`), the rest set aside and reported; flow logs at different times are
//! all counted; an export without flow-log ids beside an S3 delivery is caught too.

use std::path::Path;

use flowcost::generate::{Encoding, FieldSet, FLOW_LOG_ID};

use crate::support::{analyze_json, files_under, spec, world};

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

/// Write the gzip files under `from` into `to` as a CloudWatch Logs export would hold them:
/// plain text, without the header line, under names without a flow-log id. Returns the
/// header (the layout, for `--fields`).
fn export_of(from: &Path, to: &Path) -> String {
    let mut header = String::new();
    let logs = files_under(from).into_iter().filter(|f| {
        f.to_str().unwrap().ends_with(".gz") && !f.strip_prefix(from).unwrap().starts_with("cur")
    });
    for (n, f) in logs.enumerate() {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap()),
            &mut text,
        )
        .unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        header = first.to_string();
        let dst = to.join(format!("export/part-{n:05}.log"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(dst, rest).unwrap();
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
