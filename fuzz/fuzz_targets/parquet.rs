//! Any bytes as a Parquet document (the decoder is handed them directly, without sniffing):
//! broken footers, schemas, pages and values are failures or malformed rows, never a panic
//! or an allocation beyond the bound; and where the fast reader takes a file, it agrees with
//! the Arrow reader on every file both read to the end.
#![no_main]

use flowcost::format::fields::FieldSet;
use flowcost::format::{parquet, Malformed, Record, Sink};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Count {
    rows: u64,
    /// Every row, as text (records without the reader's names hint, and malformed rows with
    /// their reason).
    seen: Vec<String>,
    hints: flowcost::format::HintCheck,
}

impl Sink for Count {
    fn record(&mut self, r: &Record<'_>) {
        self.rows += 1;
        assert!(r
            .bytes
            .is_none_or(|b| b <= flowcost::format::MAX_RECORD_BYTES));
        // the hint is a reader's own (the Arrow reader gives none), but never false
        let text = self.hints.record(r);
        self.seen.push(text);
    }
    fn malformed(&mut self, line: u64, why: Malformed) {
        self.rows += 1;
        self.hints.not_a_record();
        self.seen.push(format!("{line}: {why}"));
    }
    fn header(&mut self) {}
    fn blank(&mut self) {}
    fn upcoming(&mut self, recs: &[Record<'_>]) {
        self.hints.upcoming(recs);
    }
    /// Fields the fast reader may leave in their columns are read through the accessors
    /// (`HintCheck::record` resolves them), as the account stage reads them.
    fn defers(&self) -> bool {
        true
    }
}

fuzz_target!(
    // libfuzzer-sys aborts on any panic, even one flowcost catches and reports (the parquet
    // crate's, on some corrupt files): let caught ones pass, as they do in the binary; one
    // that escapes still aborts the process (it cannot unwind out of the fuzz target).
    init: flowcost::format::parquet::quiet_guarded_panics(),
    |data: &[u8]| {
    // Differential: the fast reader (where it takes the file) and the Arrow reader must
    // agree on every file both read to the end, and the fast reader must never panic (its
    // panics would be caught and reported like the crate's: they are looked for here).
    use parquet::Reader;
    let read = |reader: Reader| {
        parquet::with_reader(reader, || {
            let mut c = Count::default();
            let r = parquet::decode(bytes::Bytes::copy_from_slice(data), FieldSet::ALL, &mut c);
            if let Ok(n) = &r {
                assert_eq!(*n, c.rows);
            }
            (r.map_err(|(_, e)| e.0), c.seen, parquet::last_reader())
        })
    };
    let (fast, fast_seen, used) = read(Reader::Fast);
    if used == Some(Reader::Fast) {
        if let Err(e) = &fast {
            assert!(!e.contains("failed on this file"), "the fast reader panicked: {e}");
        }
        let (arrow, arrow_seen, _) = read(Reader::Arrow);
        if fast.is_ok() && arrow.is_ok() {
            assert_eq!(fast_seen, arrow_seen, "the readers disagree");
        }
    }
});
