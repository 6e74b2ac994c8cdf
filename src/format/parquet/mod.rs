//! Parquet decoder for AWS's Parquet delivery of flow logs (`.log.parquet`). Only the columns
//! the engine needs are read (a projection by root column), batch by batch; column names use
//! `_` where text headers use `-`. Typed columns are read as they are; columns written as
//! strings (as some exporters do, with `None` or `-` for missing) are parsed like text.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, DictionaryArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field as ArrowField, Int32Type, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

mod pages;

use super::fields::{self, Field, FieldSet};
use super::text::{parse_action, parse_status, Sink};
use super::{checked_bytes, checked_region, parse_ip, parse_u64, to_seconds, Malformed, Record};

/// Rows per decoded batch: bounds memory per worker to a few MB of column data.
pub const BATCH_ROWS: usize = 8192;

/// The most column data (uncompressed, of the columns read) one row group may hold: the
/// reader decodes a row group's pages as it goes, but a file claiming more than this (in
/// its footer or in its page headers, see [`pages`]) is refused before anything is
/// allocated for it. AWS's deliveries hold a few MB per file.
pub const MAX_ROW_GROUP_BYTES: i64 = 512 << 20;

/// A needed column, normalised to one of three physical shapes.
enum Col {
    Int(Int64Array),
    Str(StringArray),
    /// A dictionary-encoded string column (how Parquet writers store repetitive strings:
    /// ENI ids, addresses, names), kept as keys into its dictionary rather than copied out
    /// row by row. For address columns `ips` holds every dictionary value parsed once.
    Dict {
        keys: arrow::array::Int32Array,
        values: StringArray,
        ips: Arc<Vec<Result<Option<IpAddr>, ()>>>,
    },
}

fn is_null_word(s: &str) -> bool {
    s.is_empty() || s == "-" || s == "None" || s == "null"
}

/// An address column's dictionary, parsed: `Ok(None)` for a null word, `Err` for a value
/// that is not an address. Cached by the dictionary's buffer, which the reader shares between
/// the batches of one column chunk.
#[derive(Default)]
struct IpCache {
    key: Option<(usize, usize)>,
    parsed: Arc<Vec<Result<Option<IpAddr>, ()>>>,
}

impl IpCache {
    fn get(&mut self, values: &StringArray) -> Arc<Vec<Result<Option<IpAddr>, ()>>> {
        let key = (values.values().as_ptr() as usize, values.len());
        if self.key != Some(key) {
            let parsed = (0..values.len())
                .map(|i| {
                    if values.is_null(i) || is_null_word(values.value(i)) {
                        Ok(None)
                    } else {
                        parse_ip(values.value(i).as_bytes()).map(Some).ok_or(())
                    }
                })
                .collect();
            self.parsed = Arc::new(parsed);
            self.key = Some(key);
        }
        self.parsed.clone()
    }
}

impl Col {
    fn from_array(
        a: &ArrayRef,
        field: Field,
        cache: &mut IpCache,
    ) -> Result<Col, arrow::error::ArrowError> {
        use arrow::compute::cast;
        let err = |t: &str| arrow::error::ArrowError::CastError(t.into());
        if let DataType::Dictionary(_, value_type) = a.data_type() {
            if matches!(
                **value_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                let d = cast(
                    a,
                    &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                )?;
                let d = d
                    .as_any()
                    .downcast_ref::<DictionaryArray<Int32Type>>()
                    .ok_or_else(|| err("dictionary"))?;
                let values = d
                    .values()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| err("utf8"))?
                    .clone();
                let ips = if is_address(field) {
                    cache.get(&values)
                } else {
                    Arc::default()
                };
                return Ok(Col::Dict {
                    keys: d.keys().clone(),
                    values,
                    ips,
                });
            }
        }
        let is_stringy = matches!(
            a.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
        );
        if is_numeric(field) && !is_stringy {
            let c = cast(a, &DataType::Int64)?;
            let arr = c.as_any().downcast_ref::<Int64Array>().cloned();
            return arr.map(Col::Int).ok_or_else(|| err("int64"));
        }
        let c = cast(a, &DataType::Utf8)?;
        let arr = c.as_any().downcast_ref::<StringArray>().cloned();
        arr.map(Col::Str).ok_or_else(|| err("utf8"))
    }

    #[inline]
    fn str(&self, i: usize) -> Option<&str> {
        match self {
            Col::Str(a) if a.is_valid(i) => Some(a.value(i)).filter(|s| !is_null_word(s)),
            Col::Dict { keys, values, .. } if keys.is_valid(i) => {
                let k = keys.value(i) as usize;
                (k < values.len() && values.is_valid(k))
                    .then(|| values.value(k))
                    .filter(|s| !is_null_word(s))
            }
            _ => None,
        }
    }

    #[inline]
    fn num(&self, i: usize, name: &'static str) -> Result<Option<u64>, Malformed> {
        match self {
            Col::Int(a) if a.is_valid(i) => {
                let v = a.value(i);
                if v < 0 {
                    Err(Malformed::BadNumber(name))
                } else {
                    Ok(Some(v as u64))
                }
            }
            Col::Int(_) => Ok(None),
            Col::Str(_) | Col::Dict { .. } => match self.str(i) {
                None => Ok(None),
                Some(s) => parse_u64(s.as_bytes())
                    .map(Some)
                    .ok_or(Malformed::BadNumber(name)),
            },
        }
    }

    #[inline]
    fn ip(&self, i: usize, name: &'static str) -> Result<Option<IpAddr>, Malformed> {
        if let Col::Dict { keys, ips, .. } = self {
            if !keys.is_valid(i) {
                return Ok(None);
            }
            return match ips.get(keys.value(i) as usize) {
                Some(Ok(ip)) => Ok(*ip),
                Some(Err(())) => Err(Malformed::BadAddress(name)),
                None => Ok(None),
            };
        }
        match self.str(i) {
            None => Ok(None),
            Some(s) => parse_ip(s.as_bytes())
                .map(Some)
                .ok_or(Malformed::BadAddress(name)),
        }
    }
}

fn is_address(f: Field) -> bool {
    matches!(
        f,
        Field::SrcAddr | Field::DstAddr | Field::PktSrcAddr | Field::PktDstAddr
    )
}

fn is_numeric(f: Field) -> bool {
    matches!(
        f,
        Field::Packets | Field::Bytes | Field::Start | Field::End | Field::TrafficPath
    )
}

/// Why a Parquet input stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParquetFailure(pub String);

/// Decode a Parquet file into `sink`. Returns rows read, or the rows read before the failure
/// and the failure (a broken footer fails before any row). The `parquet` crate can panic on
/// some corrupt files (a division by zero on a crafted dictionary page, found by
/// `fuzz/`): such a panic is caught here and reported as the file's failure, so one bad file
/// never stops the run; the rows delivered before it stay counted.
pub fn decode<T: ChunkReader + 'static, S: Sink>(
    input: T,
    keep: FieldSet,
    sink: &mut S,
) -> Result<u64, (u64, ParquetFailure)> {
    let mut rows = 0u64;
    let counted = CountRows {
        inner: sink,
        rows: &mut rows,
    };
    let mut counted = counted;
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_unguarded(input, keep, &mut counted)
    }));
    GUARDED.with(|g| g.set(false));
    match result {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err((
                rows,
                ParquetFailure(format!("the Parquet reader failed on this file ({what})")),
            ))
        }
    }
}

thread_local! {
    /// Set while this thread decodes inside [`decode`]'s guard.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keep the panic message of a guarded decode off the terminal: [`decode`] reports it as the
/// file's failure. Every other panic is shown as before. The binary calls this once.
pub fn quiet_guarded_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !GUARDED.with(|g| g.get()) {
            default(info)
        }
    }));
}

/// A sink that counts the rows it passes on (to report where a panic stopped a file).
struct CountRows<'a, S> {
    inner: &'a mut S,
    rows: &'a mut u64,
}

impl<S: Sink> Sink for CountRows<'_, S> {
    fn record(&mut self, rec: &Record<'_>) {
        *self.rows += 1;
        self.inner.record(rec)
    }
    fn malformed(&mut self, line: u64, why: Malformed) {
        *self.rows += 1;
        self.inner.malformed(line, why)
    }
    fn header(&mut self) {
        self.inner.header()
    }
    fn blank(&mut self) {
        self.inner.blank()
    }
    fn layout(&mut self, fields: usize) {
        self.inner.layout(fields)
    }
}

fn decode_unguarded<T: ChunkReader + 'static, S: Sink>(
    input: T,
    keep: FieldSet,
    sink: &mut S,
) -> Result<u64, (u64, ParquetFailure)> {
    let fail = |rows: u64, e: &dyn std::fmt::Display| (rows, ParquetFailure(e.to_string()));
    pages::check_footer(&input).map_err(|e| fail(0, &e))?;
    let meta =
        ArrowReaderMetadata::load(&input, ArrowReaderOptions::new()).map_err(|e| fail(0, &e))?;
    // Ask for string columns as dictionaries: a dictionary-encoded column chunk then arrives
    // as keys into its dictionary, without copying every row's string out (other encodings
    // are converted by the reader, so the shape is the same either way).
    let schema = meta.schema().clone();
    sink.layout(schema.fields().len());
    let mut wanted: Vec<(usize, Field)> = Vec::new();
    let mut dict_fields = Vec::with_capacity(schema.fields().len());
    let mut any_dict = false;
    for (i, f) in schema.fields().iter().enumerate() {
        let field = fields::field_of(&fields::normalise(f.name()));
        let needed = keep.contains(field) && field != Field::Other && field != Field::Version;
        if needed {
            wanted.push((i, field));
        }
        if needed && matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8) {
            any_dict = true;
            let t =
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(f.data_type().clone()));
            dict_fields.push(Arc::new(ArrowField::new(f.name(), t, f.is_nullable())));
        } else {
            dict_fields.push(f.clone());
        }
    }
    let meta = if any_dict {
        let dict_schema = Arc::new(Schema::new_with_metadata(
            dict_fields,
            schema.metadata().clone(),
        ));
        let options = ArrowReaderOptions::new().with_schema(dict_schema);
        // a file whose types the reader cannot coerce is read as it is
        ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta)
    } else {
        meta
    };
    let mask = ProjectionMask::roots(meta.parquet_schema(), wanted.iter().map(|w| w.0));
    if let Some((i, bytes)) = oversized_row_group(meta.metadata(), &mask, MAX_ROW_GROUP_BYTES) {
        return Err(fail(
            0,
            &format!(
                "row group {i} holds {bytes} bytes of the columns read, more than the {} MiB flowcost reads at once: refused",
                MAX_ROW_GROUP_BYTES >> 20
            ),
        ));
    }
    pages::check(
        &input,
        meta.metadata(),
        |c| mask.leaf_included(c),
        MAX_ROW_GROUP_BYTES,
    )
    .map_err(|e| fail(0, &e))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| fail(0, &e))?;
    let mut rows = 0u64;
    // the batches' columns are the projected ones, in schema order: those of `wanted`
    let mut caches: Vec<IpCache> = wanted.iter().map(|_| IpCache::default()).collect();
    let mut bad: Vec<Option<Malformed>> = vec![None; CHUNK_ROWS];
    for batch in reader {
        let batch = batch.map_err(|e| fail(rows, &e))?;
        debug_assert_eq!(batch.num_columns(), wanted.len());
        let mut cols: Vec<(Field, Col)> = Vec::with_capacity(wanted.len());
        for ((&(_, field), col), cache) in wanted.iter().zip(batch.columns()).zip(&mut caches) {
            let c = Col::from_array(col, field, cache).map_err(|e| fail(rows, &e))?;
            cols.push((field, c));
        }
        // Column by column over a few hundred rows at a time: the choice of field and column
        // shape is made once per column and chunk, not per value, and the records being
        // filled stay in cache.
        // (the records borrow this batch's columns, so they are made per batch)
        let mut recs: Vec<Record<'_>> = vec![Record::default(); CHUNK_ROWS];
        let n = batch.num_rows();
        for start in (0..n).step_by(CHUNK_ROWS) {
            let len = CHUNK_ROWS.min(n - start);
            let (recs, bad) = (&mut recs[..len], &mut bad[..len]);
            recs.fill(Record::default());
            bad.fill(None);
            for (f, c) in &cols {
                fill(*f, c, start, recs, bad);
            }
            for (rec, why) in recs.iter().zip(bad.iter_mut()) {
                rows += 1;
                match why.take() {
                    None => sink.record(rec),
                    Some(why) => sink.malformed(rows, why),
                }
            }
        }
    }
    Ok(rows)
}

/// The first row group whose projected columns hold more than `max` bytes (as the footer
/// says, compressed or not, whichever is larger), and its size.
fn oversized_row_group(
    md: &parquet::file::metadata::ParquetMetaData,
    mask: &ProjectionMask,
    max: i64,
) -> Option<(usize, i64)> {
    md.row_groups().iter().enumerate().find_map(|(i, rg)| {
        let bytes = rg
            .columns()
            .iter()
            .enumerate()
            .filter(|(c, _)| mask.leaf_included(*c))
            .map(|(_, c)| c.uncompressed_size().max(c.compressed_size()).max(0))
            .fold(0i64, i64::saturating_add);
        (bytes > max).then_some((i, bytes))
    })
}

/// Rows decoded together, column by column.
const CHUNK_ROWS: usize = 256;

/// Set field `f` from column `c` in the records of rows `start..start + recs.len()`; a value
/// that does not parse marks its row bad (the first such value, in column order, says why).
fn fill<'a>(
    f: Field,
    c: &'a Col,
    start: usize,
    recs: &mut [Record<'a>],
    bad: &mut [Option<Malformed>],
) {
    macro_rules! col {
        ($get:expr, $set:expr) => {
            each(recs, bad, start, $get, $set)
        };
    }
    let secs = |v: Option<u64>| v.map(|v| to_seconds(v as i64));
    match f {
        Field::InterfaceId => col!(|i| Ok(c.str(i)), |r, v| r.interface_id = v),
        Field::AccountId => col!(|i| Ok(c.str(i)), |r, v| r.account_id = v),
        Field::SrcAddr => col!(|i| c.ip(i, "srcaddr"), |r, v| r.srcaddr = v),
        Field::DstAddr => col!(|i| c.ip(i, "dstaddr"), |r, v| r.dstaddr = v),
        Field::PktSrcAddr => col!(|i| c.ip(i, "pkt-srcaddr"), |r, v| r.pkt_srcaddr = v),
        Field::PktDstAddr => col!(|i| c.ip(i, "pkt-dstaddr"), |r, v| r.pkt_dstaddr = v),
        Field::Packets => col!(|i| c.num(i, "packets"), |r, v| r.packets = v),
        Field::Bytes => col!(|i| c.num(i, "bytes").and_then(checked_bytes), |r, v| r
            .bytes =
            v),
        Field::Start => col!(|i| c.num(i, "start").map(secs), |r, v| r.start = v),
        Field::End => col!(|i| c.num(i, "end").map(secs), |r, v| r.end = v),
        Field::Action => col!(
            |i| c.str(i).map(|s| parse_action(s.as_bytes())).transpose(),
            |r, v| if let Some(a) = v {
                r.action = a
            }
        ),
        Field::LogStatus => col!(
            |i| c.str(i).map(|s| parse_status(s.as_bytes())).transpose(),
            |r, v| if let Some(s) = v {
                r.status = s
            }
        ),
        Field::Region => col!(|i| checked_region(c.str(i)), |r, v| r.region = v),
        Field::AzId => col!(|i| Ok(c.str(i)), |r, v| r.az_id = v),
        Field::SubnetId => col!(|i| Ok(c.str(i)), |r, v| r.subnet_id = v),
        Field::VpcId => col!(|i| Ok(c.str(i)), |r, v| r.vpc_id = v),
        Field::TrafficPath => col!(|i| c.num(i, "traffic-path"), |r, v| r.traffic_path =
            v.map(|v| v.min(255) as u8)),
        Field::FlowDirection => col!(|i| Ok(c.str(i)), |r, v| r.flow_direction = v),
        Field::PktSrcAwsService => col!(|i| Ok(c.str(i)), |r, v| r.pkt_src_aws_service = v),
        Field::PktDstAwsService => col!(|i| Ok(c.str(i)), |r, v| r.pkt_dst_aws_service = v),
        Field::EcsClusterName => col!(|i| Ok(c.str(i)), |r, v| r.ecs_cluster_name = v),
        Field::EcsServiceName => col!(|i| Ok(c.str(i)), |r, v| r.ecs_service_name = v),
        Field::EcsTaskId => col!(|i| Ok(c.str(i)), |r, v| r.ecs_task_id = v),
        Field::Other | Field::Version => {}
    }
}

/// For each row of the chunk: `set` the value `get` reads, or mark the row bad.
#[inline(always)]
fn each<'a, T>(
    recs: &mut [Record<'a>],
    bad: &mut [Option<Malformed>],
    start: usize,
    get: impl Fn(usize) -> Result<T, Malformed>,
    set: impl Fn(&mut Record<'a>, T),
) {
    for (k, (r, why)) in recs.iter_mut().zip(bad.iter_mut()).enumerate() {
        match get(start + k) {
            Ok(v) => set(r, v),
            Err(e) => {
                why.get_or_insert(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    /// Records as owned text, and malformed rows, for comparing decodes.
    #[derive(Default, Debug, PartialEq)]
    struct Seen {
        records: Vec<String>,
        malformed: Vec<(u64, String)>,
    }

    impl Sink for Seen {
        fn record(&mut self, r: &Record<'_>) {
            self.records.push(format!("{r:?}"));
        }
        fn malformed(&mut self, line: u64, why: Malformed) {
            self.malformed.push((line, why.to_string()));
        }
        fn header(&mut self) {}
        fn blank(&mut self) {}
    }

    fn file(dictionary: bool) -> bytes::Bytes {
        let s = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let n = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            (
                "interface_id",
                s(vec![
                    Some("eni-a"),
                    Some("eni-b"),
                    Some("eni-a"),
                    None,
                    Some("eni-a"),
                ]),
            ),
            (
                "srcaddr",
                s(vec![
                    Some("10.0.0.1"),
                    Some("10.0.0.2"),
                    Some("10.0.0.1"),
                    Some("-"),
                    Some("10.0.0.1"),
                ]),
            ),
            (
                "dstaddr",
                s(vec![
                    Some("52.216.1.1"),
                    Some("not-an-ip"),
                    Some("52.216.1.1"),
                    None,
                    Some("2600:1f18::1"),
                ]),
            ),
            ("bytes", n(vec![Some(100), Some(5), None, Some(7), Some(9)])),
            ("start", n(vec![Some(1_700_000_000); 5])),
            (
                "action",
                s(vec![
                    Some("ACCEPT"),
                    Some("ACCEPT"),
                    Some("REJECT"),
                    Some("ACCEPT"),
                    None,
                ]),
            ),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out.into()
    }

    #[test]
    fn dictionary_and_plain_encodings_decode_alike() {
        let mut dict = Seen::default();
        let mut plain = Seen::default();
        assert_eq!(decode(file(true), FieldSet::ALL, &mut dict).unwrap(), 5);
        assert_eq!(decode(file(false), FieldSet::ALL, &mut plain).unwrap(), 5);
        assert_eq!(dict, plain);
        // the bad address fails only the row that uses it
        assert_eq!(dict.malformed.len(), 1);
        assert_eq!(dict.malformed[0].0, 2);
        assert_eq!(dict.records.len(), 4);
        assert!(dict.records[0].contains("52.216.1.1") && dict.records[0].contains("eni-a"));
        assert!(
            dict.records[2].contains("interface_id: None"),
            "{}",
            dict.records[2]
        );
        assert!(
            dict.records[2].contains("srcaddr: None"),
            "{}",
            dict.records[2]
        );
        assert!(dict.records[3].contains("2600:1f18::1"));
    }

    #[test]
    fn a_row_group_over_the_bound_is_refused_by_its_footer() {
        let b = file(false);
        let meta = ArrowReaderMetadata::load(&b, ArrowReaderOptions::new()).unwrap();
        let all = ProjectionMask::all();
        assert_eq!(oversized_row_group(meta.metadata(), &all, i64::MAX), None);
        let (i, bytes) = oversized_row_group(meta.metadata(), &all, 1).unwrap();
        assert_eq!(i, 0);
        assert!(bytes > 1);
        // a projection that reads nothing is never too big
        let none = ProjectionMask::roots(meta.parquet_schema(), []);
        assert_eq!(oversized_row_group(meta.metadata(), &none, 0), None);
    }

    /// `file(true)` with the dictionary of its `bytes` column (4 INT64 values, 32 bytes)
    /// claiming `values` (< 64: the count stays one byte long).
    fn lying_dictionary(values: u8) -> bytes::Bytes {
        let b = file(true);
        let meta = ArrowReaderMetadata::load(&b, ArrowReaderOptions::new()).unwrap();
        let chunk = meta
            .metadata()
            .row_group(0)
            .columns()
            .iter()
            .find(|c| c.column_path().string() == "bytes")
            .unwrap();
        let at = chunk.dictionary_page_offset().unwrap() as usize;
        let mut v = b.to_vec();
        // dictionary_page_header (field 7, a struct), its num_values (field 1, i32) = 4
        let header = &mut v[at..at + 64];
        let i = header
            .windows(3)
            .position(|w| w == [0x4c, 0x15, 8])
            .unwrap();
        header[i + 2] = values * 2;
        v.into()
    }

    #[test]
    fn a_dictionary_claiming_more_values_than_its_page_holds_is_refused() {
        let mut seen = Seen::default();
        assert_eq!(
            decode(lying_dictionary(4), FieldSet::ALL, &mut seen).unwrap(),
            5
        );
        let (rows, why) =
            decode(lying_dictionary(63), FieldSet::ALL, &mut Seen::default()).unwrap_err();
        assert_eq!(rows, 0);
        assert!(
            why.0.contains("a dictionary of 63 values in 32 bytes"),
            "{}",
            why.0
        );
    }

    #[test]
    fn a_footer_claiming_billions_of_booleans_is_refused_at_once() {
        // a valid file whose footer gains, as its first field, a list of 2^32 - 1 booleans
        // in six bytes: the crate would skip them one by one, without reading a byte each
        let b = file(true);
        let len = b.len();
        let n = u32::from_le_bytes(b[len - 8..len - 4].try_into().unwrap()) as usize;
        let footer = &b[len - 8 - n..len - 8];
        // field id 99 (long form), type list; list header: size 15 (varint follows), bool
        let mut lie = vec![0x09, 0xc6, 0x01, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x0f];
        lie.extend_from_slice(footer);
        let mut v = b[..len - 8 - n].to_vec();
        v.extend_from_slice(&lie);
        v.extend_from_slice(&(lie.len() as u32).to_le_bytes());
        v.extend_from_slice(b"PAR1");
        let (rows, why) =
            decode(bytes::Bytes::from(v), FieldSet::ALL, &mut Seen::default()).unwrap_err();
        assert_eq!(rows, 0);
        assert!(why.0.contains("malformed footer"), "{}", why.0);
        // the same file with its own footer reads
        assert_eq!(
            decode(file(true), FieldSet::ALL, &mut Seen::default()).unwrap(),
            5
        );
    }

    #[test]
    fn the_fuzzers_15_gb_dictionary_is_refused_before_allocation() {
        // found by `fuzz/` (parquet): the dictionary page header of the INT64 `packets`
        // column holds a 12-byte varint count; the crate read it as ~2^31 values and
        // allocated 15.7 GB. It is now refused from its header.
        let b: bytes::Bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fuzz-parquet-dictionary-15GB-claim.parquet"
        ))
        .unwrap()
        .into();
        let (rows, why) = decode(b, FieldSet::ALL, &mut Seen::default()).unwrap_err();
        assert_eq!(rows, 0);
        assert!(
            why.0.contains("column 8") && why.0.contains("malformed page header"),
            "{}",
            why.0
        );
    }
}
