//! Reading a Cost and Usage Report (`--cur`): a file, a folder of an export's parts (read
//! recursively, in name order) or an S3 prefix (its objects, in key order), in CSV, gzip CSV
//! or Parquet, row by row into a
//! [`crate::bill::Bill`]. A row that is NAT data processing but not readable refuses the file,
//! naming the row: a bill that is partly read would reconcile wrongly without a word.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::s3::{Body, ListFilter, S3Options, S3Source, S3Url};
use super::{Input, Location};
use crate::bill::{Bill, BillReader, Cell};

/// Read every given file, folder or `s3://bucket/prefix` (the export's objects under it) into
/// one bill; `s3` are the run's S3 settings. The files go through the flow-log inputs'
/// [`super::dedup`] first: one named twice (the same path, a folder and a file in it, an
/// object listed twice) or a copy of another's bytes under another name is read once, with
/// a note in the bill: a bill counted twice would reconcile at half coverage.
pub fn read_bill(paths: &[String], s3: &S3Options) -> Result<Bill, String> {
    let mut inputs = Vec::new();
    let mut source: Option<S3Source> = None;
    for p in paths {
        if let Some(url) = S3Url::parse(p) {
            let src = match &mut source {
                Some(s) => s,
                None => source.insert(S3Source::new(s3.clone()).map_err(|e| format!("{p}: {e}"))?),
            };
            inputs.extend(list_s3(src, &url).map_err(|e| format!("{p}: {e}"))?);
            continue;
        }
        let files = files_of(Path::new(p)).map_err(|e| format!("{p}: {e}"))?;
        if files.is_empty() {
            return Err(format!("{p}: no .csv, .csv.gz or .parquet file"));
        }
        inputs.extend(files.into_iter().map(|f| Input {
            size: std::fs::metadata(&f).map_or(0, |m| m.len()),
            display: f.display().to_string(),
            location: Location::File(f),
            etag: None,
        }));
    }
    let mut bill = Bill::default();
    super::dedup(&mut inputs, &mut bill.notes);
    let (local, objects): (Vec<Input>, Vec<Input>) =
        (inputs.into_iter()).partition(|i| matches!(i.location, Location::File(_)));
    for i in &local {
        if let Location::File(f) = &i.location {
            read_file(&mut bill, f).map_err(|e| format!("{}: {e}", i.display))?;
        }
    }
    if let Some(src) = &source {
        read_s3(&mut bill, src, objects)?;
    }
    Ok(bill)
}

/// Whether a name is an export's file.
fn is_export_file(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".csv") || n.ends_with(".csv.gz") || n.ends_with(".parquet")
}

/// The export's objects under an S3 prefix, in key order.
fn list_s3(source: &S3Source, url: &S3Url) -> Result<Vec<Input>, String> {
    let (objects, _) = source
        .list(url, &ListFilter::default())
        .map_err(|e| e.to_string())?;
    let mut objects: Vec<_> = objects
        .into_iter()
        .filter(|i| is_export_file(&i.display))
        .collect();
    objects.sort_by(|a, b| a.display.cmp(&b.display));
    if objects.is_empty() {
        return Err("no .csv, .csv.gz or .parquet object".into());
    }
    Ok(objects)
}

/// The export's objects, read whole.
fn read_s3(bill: &mut Bill, source: &S3Source, objects: Vec<Input>) -> Result<(), String> {
    // (a bill's objects are read whole: no plan of ranges)
    for (input, body) in source.fetch(objects, None) {
        let name = input.display.clone();
        let bytes = match body {
            Body::Whole(w) => match &w.failure {
                Some(f) => return Err(format!("{name}: {}", f.message)),
                None => w.bytes.clone(),
            },
            Body::Stream(r) => read_whole(r).map_err(|e| format!("{name}: {e}"))?,
            // (not without a plan; were it given, read whole)
            Body::Ranged(r) => read_whole(r.stream()).map_err(|e| format!("{name}: {e}"))?,
            Body::Skipped(f) => return Err(format!("{name}: {}", f.message)),
        };
        read_bytes(bill, &name, bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    if let Some(e) = source.take_fatal() {
        return Err(e.to_string());
    }
    Ok(())
}

/// A streamed object's bytes, all of them.
fn read_whole(mut r: impl Read) -> std::io::Result<bytes::Bytes> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v.into())
}

/// One export file held in memory.
fn read_bytes(bill: &mut Bill, name: &str, bytes: bytes::Bytes) -> Result<(), String> {
    if bytes.starts_with(b"PAR1") {
        return read_parquet(bill, name, bytes);
    }
    let reader: Box<dyn Read> = match bytes.starts_with(&[0x1f, 0x8b]) {
        true => Box::new(flate2::read::MultiGzDecoder::new(std::io::Cursor::new(
            bytes,
        ))),
        false => Box::new(std::io::Cursor::new(bytes)),
    };
    read_csv(bill, name, reader)
}

/// The export files of a path: itself, or the CSV/Parquet files under a folder.
fn files_of(p: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !p.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let path = e?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".csv")
                || name.ends_with(".csv.gz")
                || name.ends_with(".parquet")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_file(bill: &mut Bill, path: &Path) -> Result<(), String> {
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| e.to_string())?;
    let name = path.display().to_string();
    if n == 4 && &head == b"PAR1" {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        return read_parquet(bill, &name, file);
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader: Box<dyn Read> = match head[..2] == [0x1f, 0x8b] {
        true => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        ))),
        false => Box::new(std::io::BufReader::new(file)),
    };
    read_csv(bill, &name, reader)
}

/// The longest CSV row read (CUR 2.0 rows with resource tags run to some kilobytes): a
/// longer one, or a quoted field that never ends, refuses the file rather than take the
/// memory.
const MAX_ROW: u64 = 8 << 20;

/// A reader that stops `room` bytes past the end of the last whole row (which the CSV
/// reader's caller moves on after each row), saying so in `hit`.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: std::rc::Rc<RowBound>,
}

#[derive(Default)]
struct RowBound {
    until: std::cell::Cell<u64>,
    hit: std::cell::Cell<bool>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.limit.until.get().saturating_sub(self.read);
        if room == 0 && !buf.is_empty() {
            self.limit.hit.set(true);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a row too long",
            ));
        }
        let take = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..take])?;
        self.read += n as u64;
        Ok(n)
    }
}

fn read_csv(bill: &mut Bill, name: &str, input: impl Read) -> Result<(), String> {
    read_csv_bounded(bill, name, input, MAX_ROW)
}

/// [`read_csv`] with rows of at most `max_row` bytes.
fn read_csv_bounded(
    bill: &mut Bill,
    name: &str,
    input: impl Read,
    max_row: u64,
) -> Result<(), String> {
    let bound = std::rc::Rc::new(RowBound::default());
    bound.until.set(max_row);
    let input = Bounded {
        inner: input,
        read: 0,
        limit: bound.clone(),
    };
    let too_long = |row: u64| format!("row {row}: longer than {max_row} bytes: not a bill row");
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| match bound.hit.get() {
            true => too_long(1),
            false => format!("not CSV: {e}"),
        })?
        .iter()
        .map(String::from)
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut reader = BillReader::new(bill, name, &headers)?;
    let usage = reader.usage_type_column();
    let columns = reader.columns();
    let mut record = csv::ByteRecord::new();
    let mut line = 1u64;
    loop {
        bound
            .until
            .set(csv.position().byte().saturating_add(max_row));
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(_) if bound.hit.get() => return Err(too_long(line + 1)),
            Err(e) => return Err(format!("row {}: not CSV: {e}", line + 1)),
        }
        line += 1;
        // most rows are not NAT data processing: look at their usage type alone
        if !record
            .get(usage)
            .is_some_and(|u| u.ends_with(b"NatGateway-Bytes"))
        {
            reader.skip();
            continue;
        }
        let text = |i: Option<usize>| match i.and_then(|i| record.get(i)) {
            None => Ok(Cell::Null),
            Some(b) => std::str::from_utf8(b)
                .map(Cell::Text)
                .map_err(|_| format!("row {line}: not UTF-8")),
        };
        let cells = columns
            .iter()
            .map(|c| text(*c))
            .collect::<Result<Vec<Cell>, String>>()?;
        reader.row(line, &cells)?;
    }
    Ok(())
}

/// A Parquet export file, row by row into `bill`. The `parquet` crate can panic on a corrupt
/// file (a dictionary index past its dictionary divides by zero): that refuses the file as
/// any other failure to read it does, never a crash.
fn read_parquet<T: parquet::file::reader::ChunkReader + 'static>(
    bill: &mut Bill,
    name: &str,
    input: T,
) -> Result<(), String> {
    crate::format::parquet::guarded(|| read_parquet_unguarded(bill, name, input))
        .unwrap_or_else(|failure| Err(failure.to_string()))
}

fn read_parquet_unguarded<T: parquet::file::reader::ChunkReader + 'static>(
    bill: &mut Bill,
    name: &str,
    input: T,
) -> Result<(), String> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| format!("not Parquet: {e}"))?;
    let schema = builder.schema().clone();
    let headers: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut reader = BillReader::new(bill, name, &headers)?;
    let columns = reader.columns();
    let wanted: Vec<usize> = columns.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let batches = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| format!("not Parquet: {e}"))?;
    // the projected batch holds the wanted columns in file order
    let mut sorted = wanted.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let at: Vec<Option<usize>> = columns
        .iter()
        .map(|c| c.and_then(|i| sorted.binary_search(&i).ok()))
        .collect();
    let mut line = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| format!("a row group does not read: {e}"))?;
        let mut arrays: Vec<Option<Arc<dyn Array>>> = Vec::with_capacity(at.len());
        for i in &at {
            arrays.push(match i.map(|i| batch.column(i).clone()) {
                // dictionary strings as plain strings, once per batch
                Some(c) if matches!(c.data_type(), DataType::Dictionary(..)) => Some(
                    arrow::compute::cast(&c, &DataType::Utf8)
                        .map_err(|e| format!("a column does not read as text: {e}"))?,
                ),
                other => other,
            });
        }
        let usage = arrays[0].as_ref().expect("the usage type column");
        for row in 0..batch.num_rows() {
            line += 1;
            if !matches!(cell(usage.as_ref(), row), Cell::Text(u) if u.ends_with("NatGateway-Bytes"))
            {
                reader.skip();
                continue;
            }
            let cells: Vec<Cell> = arrays
                .iter()
                .map(|a| a.as_ref().map_or(Cell::Null, |a| cell(a.as_ref(), row)))
                .collect();
            reader.row(line, &cells)?;
        }
    }
    Ok(())
}

/// One value of a column, as a bill reads it (other types read as null).
fn cell(a: &dyn Array, row: usize) -> Cell<'_> {
    if a.is_null(row) {
        return Cell::Null;
    }
    match a.data_type() {
        DataType::Utf8 => Cell::Text(a.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Cell::Text(a.as_string::<i64>().value(row)),
        DataType::Float64 => {
            Cell::Num(a.as_primitive::<arrow::datatypes::Float64Type>().value(row))
        }
        DataType::Float32 => {
            Cell::Num(a.as_primitive::<arrow::datatypes::Float32Type>().value(row) as f64)
        }
        DataType::Int64 => {
            Cell::Num(a.as_primitive::<arrow::datatypes::Int64Type>().value(row) as f64)
        }
        DataType::Int32 => {
            Cell::Num(a.as_primitive::<arrow::datatypes::Int32Type>().value(row) as f64)
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a
                    .as_primitive::<arrow::datatypes::TimestampSecondType>()
                    .value(row),
                TimeUnit::Millisecond => {
                    a.as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                        .value(row)
                        / 1000
                }
                TimeUnit::Microsecond => {
                    a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                        .value(row)
                        / 1_000_000
                }
                TimeUnit::Nanosecond => {
                    a.as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                        .value(row)
                        / 1_000_000_000
                }
            };
            Cell::Time(v)
        }
        _ => Cell::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CUR 2.0 CSV with one NAT processing row after `filler` rows of `width` bytes.
    fn bill_csv(filler: usize, width: usize) -> Vec<u8> {
        let mut b = b"line_item_usage_type,line_item_resource_id,line_item_usage_start_date,line_item_usage_amount,line_item_unblended_cost,line_item_line_item_type\n".to_vec();
        for _ in 0..filler {
            b.extend_from_slice(
                format!(
                    "BoxUsage,{},2026-09-01T00:00:00Z,1,1,Usage\n",
                    "x".repeat(width)
                )
                .as_bytes(),
            );
        }
        b.extend_from_slice(b"USE1-NatGateway-Bytes,arn:aws:ec2:us-east-1:111122223333:natgateway/nat-0123456789abcdef0,2026-09-01T00:00:00Z,2,0.09,Usage\n");
        b
    }

    #[test]
    fn rows_up_to_the_bound_are_read() {
        let mut bill = Bill::default();
        read_csv_bounded(&mut bill, "b.csv", &bill_csv(50, 900)[..], 1024).unwrap();
        let mut whole = Bill::default();
        read_csv(&mut whole, "b.csv", &bill_csv(50, 900)[..]).unwrap();
        assert_eq!(format!("{bill:?}"), format!("{whole:?}"));
        assert!(format!("{bill:?}").contains("nat-0123456789abcdef0"));
    }

    #[test]
    fn a_row_past_the_bound_refuses_the_file_without_reading_it_all() {
        // a row of 100 KiB against a bound of 1 KiB; and a quoted field never closed
        let long = bill_csv(3, 100 << 10);
        let e = read_csv_bounded(&mut Bill::default(), "b.csv", &long[..], 1024).unwrap_err();
        assert!(e.starts_with("row 2: longer than 1024 bytes"), "{e}");
        let mut open = bill_csv(1, 10);
        open.extend_from_slice(b"\"never closed,");
        open.extend(std::iter::repeat_n(b'x', 1 << 20));
        let e = read_csv_bounded(&mut Bill::default(), "b.csv", &open[..], 4096).unwrap_err();
        assert!(e.starts_with("row 4: longer than 4096 bytes"), "{e}");
        // what was read stops near the bound: an endless input ends the read
        let head = bill_csv(1, 10);
        let endless = std::io::Read::chain(&head[..], std::io::repeat(b'y'));
        let e = read_csv_bounded(&mut Bill::default(), "b.csv", endless, 1 << 16).unwrap_err();
        assert!(e.contains("longer than 65536 bytes"), "{e}");
        // a header past the bound
        let wide = format!("{}\n", "h".repeat(5000));
        let e = read_csv_bounded(&mut Bill::default(), "b.csv", wide.as_bytes(), 1024).unwrap_err();
        assert!(e.starts_with("row 1: longer"), "{e}");
    }
}
