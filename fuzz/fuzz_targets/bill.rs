//! Any bytes as a Cost and Usage Report file (CSV, gzip CSV or Parquet, told apart by their
//! first bytes as `--cur` tells them): a bill is read or refused with an error naming the
//! file, never a panic (the parquet crate's own, on a corrupt file, included). A bill read is
//! reconciled with the sample's report (`tests/golden/sample.json`) and the report rendered
//! in every format: whatever its rows (amounts of any size and sign, any dates, ids, text), a
//! reconciliation is figures and words, never a panic, and its JSON reads back as written.
#![no_main]

use std::sync::OnceLock;

use flowcost::report::{Format, Report};
use flowcost::source::cur::read_bill;
use libfuzzer_sys::fuzz_target;

fn sample() -> &'static Report {
    static SAMPLE: OnceLock<Report> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../tests/golden/sample.json"))
            .expect("the sample report reads")
    })
}

fuzz_target!(
    // (the parquet crate's own panics on a corrupt file are caught, as in the binary)
    init: flowcost::format::parquet::quiet_guarded_panics(),
    |data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bill");
    std::fs::write(&path, data).expect("the bill written");
    let path = path.display().to_string();
    match read_bill(std::slice::from_ref(&path), &Default::default()) {
        Ok(bill) => {
            let _ = format!("{bill:?}");
            let mut report = sample().clone();
            report.reconciliation = Some(flowcost::bill::reconcile(
                &bill,
                &report.analysis,
                &report.cost,
            ));
            for f in [Format::Table, Format::Markdown, Format::Csv] {
                let _ = report.render(f);
            }
            let json = report.render(Format::Json);
            let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
            assert_eq!(back.reconciliation, report.reconciliation);
        }
        Err(e) => assert!(e.starts_with(&path), "an error names the file: {e}"),
    }
});
