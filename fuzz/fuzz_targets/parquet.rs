//! Any bytes as a Parquet document (the decoder is handed them directly, without sniffing):
//! broken footers, schemas, pages and values are failures or malformed rows, never a panic
//! or an allocation beyond the bound; where the fast reader takes a file, it agrees with
//! the Arrow reader on every file both read to the end; and each reader, reading every row
//! group in windows of its rows (cut where the input's hash says, a sink a window, as the
//! engine's workers read a large group), gives what it gives reading the file whole.
#![no_main]

use flowcost::format::fields::FieldSet;
use flowcost::format::{parquet, Malformed, Record, Sink};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Count {
    rows: u64,
    /// Rows before this sink's first (a window's): malformed rows are numbered from the
    /// file's first.
    offset: u64,
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
        self.seen.push(format!("{}: {why}", line + self.offset));
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
        windows_agree(data, Reader::Arrow, &arrow, &arrow_seen);
    }
    windows_agree(data, Reader::Fast, &fast, &fast_seen);
    ranges_suffice(data, &fast, &fast_seen);
});

/// Where a file reads to the end, the same file holding only what an S3 object's fetch
/// holds of it (its first four bytes, its footer, and the column chunks that
/// `parquet::chunk_ranges` names from the footer alone; any other read fails) reads the
/// same: nothing the decoder reads lies outside those ranges.
fn ranges_suffice(data: &[u8], whole: &Result<u64, String>, whole_seen: &[String]) {
    use flowcost::source::pread::MemParquet;
    let (n, len) = (data.len(), data.len() as u64);
    if whole.is_err() || n < 12 {
        return;
    }
    let footer_len = u32::from_le_bytes([data[n - 8], data[n - 7], data[n - 6], data[n - 5]]);
    let Some(at) = len.checked_sub(u64::from(footer_len) + 8) else {
        return;
    };
    let tail = bytes::Bytes::copy_from_slice(&data[at as usize..]);
    let footer = MemParquet::sparse(tail, at, len, std::iter::once(at..len));
    let chunks = parquet::chunk_ranges(&footer, FieldSet::ALL, false)
        .expect("the footer of a file read to the end names its chunks");
    let mut held = chunks;
    held.extend([0..4, at..len]);
    let sparse = MemParquet::sparse(bytes::Bytes::copy_from_slice(data), 0, len, held);
    let (r, c) = parquet::with_reader(parquet::Reader::Fast, || {
        let mut c = Count::default();
        let r = parquet::decode(sparse, FieldSet::ALL, &mut c).map_err(|(_, e)| e.0);
        (r, c)
    });
    assert_eq!(&r, whole, "the ranges fetched read otherwise");
    assert_eq!(c.seen, whole_seen, "the ranges fetched read otherwise");
}

/// `reader` reading each row group of `data` in windows (three cuts a group, where the
/// input's hash puts them) gives the records and bad rows it gave reading the file whole
/// (`whole`, `whole_seen`), when both read to the end. The fast reader never panics and
/// never fails a window of a file it reads whole; the Arrow reader (the `parquet` crate,
/// reading a window by a row selection) may panic on a corrupt file, caught and reported as
/// the file's failure, and where a window fails the engine reads the file again whole. A
/// file whose footer counts other rows than its pages hold is not cut: the engine reads it
/// whole (the fast reader declines it, and the Arrow reader is given no windows).
fn windows_agree(
    data: &[u8],
    reader: parquet::Reader,
    whole: &Result<u64, String>,
    whole_seen: &[String],
) {
    let cuts = hash(data).to_le_bytes();
    let cuts: Vec<u16> = (cuts.chunks(2).take(3))
        .map(|c| u16::from_le_bytes([c[0], c[1]]) % 1001)
        .collect();
    let read = parquet::with_reader(reader, || {
        let b = bytes::Bytes::copy_from_slice(data);
        let Ok(file) = parquet::prepare(&b, FieldSet::ALL, false, |_| {}) else {
            return Windows::Unprepared;
        };
        let claimed = (0..file.row_groups())
            .map(|g| file.group_rows(g) as u64)
            .fold(0u64, u64::saturating_add);
        if whole.as_ref().is_ok_and(|&rows| rows != claimed) {
            return Windows::Uncut;
        }
        let mut seen = Vec::new();
        let mut before = 0u64;
        for g in 0..file.row_groups() {
            for part in file.cut(g, &cuts) {
                let mut c = Count {
                    offset: before,
                    ..Count::default()
                };
                let r =
                    parquet::decode_parts(b.clone(), &file, std::slice::from_ref(&part), &mut c);
                c.hints.done();
                match r {
                    Ok(n) => {
                        assert_eq!(n, c.rows);
                        before += n;
                        seen.append(&mut c.seen);
                    }
                    Err((_, e)) => return Windows::Read(Err(e.0), parquet::last_reader()),
                }
            }
        }
        Windows::Read(Ok(seen), parquet::last_reader())
    });
    let fast = Some(parquet::Reader::Fast);
    match (read, whole) {
        (Windows::Read(Err(e), used), _) if used == fast && e.contains("failed on this file") => {
            panic!("the fast reader panicked in a window: {e}")
        }
        (Windows::Read(Err(e), used), Ok(_)) if used == fast => {
            panic!("a window failed where the whole file reads: {e}")
        }
        (Windows::Unprepared, Ok(_)) => panic!("the file read whole is not prepared again"),
        (Windows::Read(Ok(seen), _), Ok(_)) => {
            assert_eq!(seen, whole_seen, "windows disagree with the whole file")
        }
        _ => {}
    }
}

/// What reading a file's row groups in windows gave.
enum Windows {
    /// Its footer failed.
    Unprepared,
    /// Its footer counts other rows than the whole read gave: not cut.
    Uncut,
    /// The records and bad rows, or the failure, and the reader that read them.
    Read(Result<Vec<String>, String>, Option<parquet::Reader>),
}

/// FNV-1a of the input: where its windows are cut.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
