//! Any bytes as a Parquet document (the decoder is handed them directly, without sniffing):
//! broken footers, schemas, pages and values are failures or malformed rows, never a panic
//! or an allocation beyond the bound.
#![no_main]

use flowcost::format::fields::FieldSet;
use flowcost::format::{parquet, Malformed, Record, Sink};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Count {
    rows: u64,
}

impl Sink for Count {
    fn record(&mut self, r: &Record<'_>) {
        self.rows += 1;
        assert!(r.bytes.is_none_or(|b| b <= flowcost::format::MAX_RECORD_BYTES));
    }
    fn malformed(&mut self, _: u64, _: Malformed) {
        self.rows += 1;
    }
    fn header(&mut self) {}
    fn blank(&mut self) {}
}

fuzz_target!(
    // libfuzzer-sys aborts on any panic, even one flowcost catches and reports (the parquet
    // crate's, on some corrupt files): let caught ones pass, as they do in the binary; one
    // that escapes still aborts the process (it cannot unwind out of the fuzz target).
    init: flowcost::format::parquet::quiet_guarded_panics(),
    |data: &[u8]| {
    let mut c = Count::default();
    if let Ok(n) = parquet::decode(bytes::Bytes::copy_from_slice(data), FieldSet::ALL, &mut c) {
        assert_eq!(n, c.rows);
    }
});
