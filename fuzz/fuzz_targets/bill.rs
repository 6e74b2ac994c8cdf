//! Any bytes as a Cost and Usage Report file (CSV, gzip CSV or Parquet, told apart by their
//! first bytes as `--cur` tells them): a bill is read or refused with an error naming the
//! file, never a panic (the parquet crate's own, on a corrupt file, included).
#![no_main]

use flowcost::source::cur::read_bill;
use libfuzzer_sys::fuzz_target;

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
        }
        Err(e) => assert!(e.starts_with(&path), "an error names the file: {e}"),
    }
});
