//! A reader specialised for flow-log Parquet: flat columns of 32/64-bit integers and UTF-8
//! strings, PLAIN or dictionary encoded, in version 1 or 2 data pages, uncompressed, GZIP
//! (what AWS delivers) or Snappy. It reads each needed column chunk's bytes itself (the page
//! headers come from [`super::pages`], which walked them already), inflates pages with
//! libdeflate into buffers reused from page to page, parses a dictionary once per column
//! chunk (every address in an address column's dictionary parsed once), and reads
//! RLE/bit-packed levels and dictionary indices straight into small per-page arrays: no
//! Arrow arrays, no codec state per page.
//!
//! [`plan`] decides from the footer and the page headers, before any row is read, whether a
//! file is of that shape; anything else (nested columns, other types or encodings, LZ4,
//! ZSTD, index pages…) goes to the Arrow reader. Both give the same records (a property test
//! over random files says so); one difference is chosen: a string that is not UTF-8 makes
//! its row malformed here, where the Arrow reader stops the file.

use std::net::IpAddr;

use parquet::basic::{Compression, ConvertedType, LogicalType, Type as Physical};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::ChunkReader;
use parquet::schema::types::SchemaDescriptor;

use super::pages::{kind, PageIndex, PageRef};
use super::{address_of, emit_rows, is_address, is_null_word, is_numeric, number_of, Values};
use crate::format::fields::Field;
use crate::format::text::Sink;
use crate::format::text::{parse_action, parse_status};
use crate::format::{
    checked_region, parse_ip, to_seconds, Action, Entry, LogStatus, Malformed, Record,
    MAX_RECORD_BYTES, TIMES,
};

/// Parquet encodings (parquet.thrift `Encoding`).
mod enc {
    pub const PLAIN: i32 = 0;
    pub const PLAIN_DICTIONARY: i32 = 2;
    pub const RLE: i32 = 3;
    pub const RLE_DICTIONARY: i32 = 8;
}

/// A span's length marking a null value, and one marking a string that is not UTF-8.
const NULL: u32 = u32::MAX;
const NOT_UTF8: u32 = u32::MAX - 1;

/// How one needed column is read.
#[derive(Debug, Clone, Copy)]
struct ColumnPlan {
    leaf: usize,
    field: Field,
    /// 4 or 8 for INT32/INT64 columns, 0 for strings.
    int_width: usize,
    /// The column may hold nulls (definition levels of one bit precede its values).
    optional: bool,
}

/// A file the fast reader reads: its needed columns.
#[derive(Debug)]
pub struct Plan {
    columns: Vec<ColumnPlan>,
}

impl Plan {
    /// The leaf columns read.
    pub fn leaves(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns.iter().map(|c| c.leaf)
    }
}

/// Decide whether the fast reader can read the `wanted` columns (leaf index, field) of a
/// file, from its footer and the headers of their pages; `Err` says why not.
pub fn plan(
    md: &ParquetMetaData,
    wanted: &[(usize, Field)],
    pages: &PageIndex,
) -> Result<Plan, &'static str> {
    let schema = md.file_metadata().schema_descr();
    if !schema
        .root_schema()
        .get_fields()
        .iter()
        .all(|f| f.is_primitive())
    {
        return Err("nested columns");
    }
    let columns = (wanted.iter())
        .map(|&(leaf, field)| column_plan(schema, leaf, field))
        .collect::<Result<Vec<_>, _>>()?;
    for (g, rg) in md.row_groups().iter().enumerate() {
        for col in &columns {
            let pages_of = (pages.get(g))
                .and_then(|r| r.get(col.leaf))
                .ok_or("pages not indexed")?;
            check_chunk(rg, col.leaf, pages_of)?;
        }
    }
    Ok(Plan { columns })
}

/// How the fast reader reads column `leaf` as `field`: a flat column, optional or required,
/// of signed integers (a numeric field) or UTF-8 strings; `Err` for any other.
fn column_plan(
    schema: &SchemaDescriptor,
    leaf: usize,
    field: Field,
) -> Result<ColumnPlan, &'static str> {
    if leaf >= schema.num_columns() {
        return Err("a column out of range");
    }
    let c = schema.column(leaf);
    if c.max_rep_level() != 0 || c.max_def_level() > 1 {
        return Err("repeated columns");
    }
    let signed_int = match (c.logical_type_ref(), c.converted_type()) {
        (None, ConvertedType::NONE | ConvertedType::INT_32 | ConvertedType::INT_64) => true,
        (Some(LogicalType::Integer(t)), _) => t.is_signed,
        _ => false,
    };
    let utf8 = matches!(
        (c.logical_type_ref(), c.converted_type()),
        (Some(LogicalType::String), _) | (None, ConvertedType::UTF8)
    );
    let int_width = match c.physical_type() {
        Physical::INT32 if signed_int && is_numeric(field) => 4,
        Physical::INT64 if signed_int && is_numeric(field) => 8,
        Physical::BYTE_ARRAY if utf8 => 0,
        _ => return Err("a column type the fast reader does not read"),
    };
    Ok(ColumnPlan {
        leaf,
        field,
        int_width,
        optional: c.max_def_level() == 1,
    })
}

/// Whether the fast reader can read a row group's chunk of column `leaf`, whose pages are
/// `pages_of`: the row group's rows, the chunk's values and its pages' values agree (the
/// fast reader counts rows by the first; a file where they do not is damaged, and the Arrow
/// reader, which goes by the pages, says how), its codec is one it inflates, and each page is
/// of a kind it decodes.
fn check_chunk(
    rg: &RowGroupMetaData,
    leaf: usize,
    pages_of: &[PageRef],
) -> Result<(), &'static str> {
    let chunk = rg.column(leaf);
    let page_values: i64 = (pages_of.iter())
        .filter_map(|p| {
            p.header
                .data
                .map(|d| d.values)
                .or(p.header.v2.map(|d| d.values))
        })
        .map(i64::from)
        .sum();
    if rg.num_rows() < 0 || chunk.num_values() != rg.num_rows() || page_values != rg.num_rows() {
        return Err("row counts that disagree");
    }
    if Codec::of(chunk.compression()).is_none() {
        return Err("a codec the fast reader does not read");
    }
    pages_of.iter().try_for_each(|p| supported(&p.header))
}

/// The most values a data page may hold for the fast reader, which decodes a page at once
/// (a few bytes of run-length encoding can claim billions of values): AWS's pages hold a
/// few thousand. A page claiming more goes to the Arrow reader, which decodes in batches.
const MAX_PAGE_VALUES: i32 = 1 << 20;

/// Whether the fast reader reads a page of this kind.
fn supported(h: &super::pages::Header) -> Result<(), &'static str> {
    let values = |e: i32| matches!(e, enc::PLAIN | enc::PLAIN_DICTIONARY | enc::RLE_DICTIONARY);
    let count = h.data.map(|d| d.values).or(h.v2.map(|d| d.values));
    if count.is_some_and(|n| !(0..=MAX_PAGE_VALUES).contains(&n)) {
        return Err("a data page of more values than it decodes at once");
    }
    match h.kind {
        kind::DICTIONARY => match h.dictionary {
            Some(d) if matches!(d.encoding, enc::PLAIN | enc::PLAIN_DICTIONARY) => Ok(()),
            _ => Err("a dictionary page it does not read"),
        },
        kind::DATA => match h.data {
            Some(d) if values(d.encoding) && d.definition_encoding == enc::RLE => Ok(()),
            _ => Err("a data page encoding it does not read"),
        },
        kind::DATA_V2 => match h.v2 {
            Some(d) if values(d.encoding) && d.repetition_bytes == 0 => Ok(()),
            _ => Err("a v2 data page encoding it does not read"),
        },
        _ => Err("a page type it does not read"),
    }
}

/// What stopped a file.
type Fail = String;

/// The codec of a column chunk.
#[derive(Clone, Copy)]
enum Codec {
    None,
    Gzip,
    Snappy,
    Zstd,
    /// LZ4 blocks without framing (`LZ4_RAW`; the older `LZ4`, framed as Hadoop frames it,
    /// goes to the Arrow reader).
    Lz4Raw,
}

impl Codec {
    /// The codec of a column chunk compressed so, where the fast reader reads it.
    fn of(c: Compression) -> Option<Codec> {
        match c {
            Compression::UNCOMPRESSED => Some(Codec::None),
            Compression::GZIP(_) => Some(Codec::Gzip),
            Compression::SNAPPY => Some(Codec::Snappy),
            Compression::ZSTD(_) => Some(Codec::Zstd),
            Compression::LZ4_RAW => Some(Codec::Lz4Raw),
            Compression::LZ4 | Compression::BROTLI(_) | Compression::LZO => None,
        }
    }
}

thread_local! {
    /// A thread's ZSTD decompression context, kept from page to page.
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decompress a page with `decode` into `out`, sized to exactly `size` bytes (zeroed): a page
/// that does not decompress, or holds other than `size` bytes, fails, named as `a_codec`
/// ("a Snappy", ...).
fn exactly<E: std::fmt::Display>(
    a_codec: &str,
    size: usize,
    out: &mut Vec<u8>,
    decode: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Result<(), Fail> {
    out.clear();
    out.resize(size, 0);
    match decode(out) {
        Ok(n) if n == size => Ok(()),
        Ok(_) => Err(format!("{a_codec} page's size disagrees with its header")),
        Err(e) => Err(format!("{a_codec} page does not decompress ({e})")),
    }
}

/// Decompress a ZSTD page (one frame or several) into `out`, of exactly `size` bytes, with
/// the thread's kept context.
fn unzstd(data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    ZSTD.with(|z| {
        let mut z = z.borrow_mut();
        let d = match &mut *z {
            Some(d) => d,
            None => z.insert(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| format!("a ZSTD page does not decompress ({e})"))?,
            ),
        };
        // (into the room `size` asks for, no more: a page that holds more fails)
        exactly("a ZSTD", size, out, |room| {
            d.decompress_to_buffer(data, room)
        })
    })
}

/// Decompress `data` into `out`, which must come to exactly `size` bytes.
fn decompress(codec: Codec, data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    match codec {
        Codec::None => {
            if data.len() != size {
                return Err("an uncompressed page's sizes disagree".into());
            }
            out.clear();
            out.extend_from_slice(data);
            Ok(())
        }
        Codec::Gzip => crate::source::gunzip::gunzip_exact(data, out, size)
            .map_err(|e| format!("a GZIP page does not inflate ({e:?})")),
        Codec::Snappy => exactly("a Snappy", size, out, |room| {
            snap::raw::Decoder::new().decompress(data, room)
        }),
        Codec::Zstd => unzstd(data, size, out),
        Codec::Lz4Raw => exactly("an LZ4", size, out, |room| {
            lz4_flex::block::decompress_into(data, room)
        }),
    }
}

/// Where the fast reader takes a column chunk's bytes from: bytes in memory are shared
/// (the default, [`ChunkReader::get_bytes`]); a file reads them into the column's buffer,
/// reused from chunk to chunk and file to file, instead of a zeroed allocation a chunk.
pub trait ChunkSource: ChunkReader {
    /// The `len` bytes at `start`: `Some` shared bytes, or `None` once they are the first
    /// `len` bytes of `room` (which may hold more).
    fn chunk(
        &self,
        start: u64,
        len: usize,
        room: &mut Vec<u8>,
    ) -> Result<Option<bytes::Bytes>, ParquetError> {
        let _ = room;
        self.get_bytes(start, len).map(Some)
    }
}

impl ChunkSource for bytes::Bytes {}

/// The rows of a data page (none for any other page): for the flat columns read, its values
/// are its rows, nulls included.
fn page_rows(h: &super::pages::Header) -> usize {
    let values = match h.kind {
        kind::DATA => h.data.map_or(0, |d| d.values),
        kind::DATA_V2 => h.v2.map_or(0, |d| d.values),
        _ => 0,
    };
    values.max(0) as usize
}

/// The bytes of page `p` (its header's `compressed` bytes after the header) in `chunk`, the
/// bytes of its column chunk from offset `base` of the file.
fn page_bytes<'c>(chunk: &'c [u8], base: u64, p: &PageRef) -> Result<&'c [u8], Fail> {
    let start = (p.data - base) as usize;
    let end = start + p.header.compressed as usize;
    chunk
        .get(start..end)
        .ok_or_else(|| "a page runs past its column chunk".into())
}

/// A column chunk's dictionary: integers, or strings as spans of `buf` (with each address
/// parsed once, for address columns).
#[derive(Default)]
struct Dict {
    ints: Vec<i64>,
    spans: Vec<(u32, u32)>,
    buf: Vec<u8>,
    ips: Vec<Result<Option<IpAddr>, ()>>,
    /// An `action` or `log-status` column's entries, read once each (a null entry as the
    /// default); empty for other columns and when an entry does not read.
    actions: Vec<Action>,
    statuses: Vec<LogStatus>,
    /// What makes the dictionary clean ([`Dict::clean_for`]): every string entry is UTF-8,
    /// every integer entry is not negative, every address entry parses, and every entry
    /// passes its field's own rule (a region's letters, an action's or a status's words).
    utf8: bool,
    unsigned: bool,
    addresses: bool,
    ruled: bool,
    /// Every integer entry is a `bytes` value within [`MAX_RECORD_BYTES`].
    within_bytes: bool,
    /// Every integer entry is a time within [`TIMES`] (once in seconds, [`to_seconds`]).
    within_times: bool,
    /// An `interface-id` dictionary's number ([`Entry`]), by which its rows name their ENI.
    id: Option<std::num::NonZeroU64>,
}

impl Dict {
    /// The text of an entry's span (neither [`NULL`] nor [`NOT_UTF8`]).
    #[inline]
    fn text(&self, start: u32, len: u32) -> &str {
        let b = &self.buf[start as usize..start as usize + len as usize];
        // SAFETY: the entry was checked to be UTF-8 when the dictionary was read.
        unsafe { std::str::from_utf8_unchecked(b) }
    }

    /// Entry `k` as text, in a dictionary clean for its field ([`Dict::clean_for`]): a null
    /// (or a key past the entries, which the page's check refuses) reads as none.
    #[inline(always)]
    fn clean_text(&self, k: usize) -> Option<&str> {
        match self.spans.get(k) {
            // null words were made nulls when the dictionary was read
            Some(&(start, len)) if len < NOT_UTF8 => Some(self.text(start, len)),
            _ => None,
        }
    }

    /// [`Dict::clean_text`] for an address entry.
    #[inline(always)]
    fn clean_ip(&self, k: usize) -> Option<IpAddr> {
        self.clean_ip_ref(k).copied()
    }

    /// [`Dict::clean_ip`], where the dictionary holds it.
    #[inline(always)]
    fn clean_ip_ref(&self, k: usize) -> Option<&IpAddr> {
        match self.ips.get(k) {
            Some(Ok(ip)) => ip.as_ref(),
            _ => None,
        }
    }

    /// [`Dict::clean_text`] for an integer entry.
    #[inline(always)]
    fn clean_int(&self, k: usize) -> Option<u64> {
        self.ints.get(k).map(|&v| v as u64)
    }

    /// Empty, as before a column chunk's dictionary page is read (the buffer kept).
    fn clear(&mut self) {
        self.ints.clear();
        self.spans.clear();
        self.ips.clear();
        self.actions.clear();
        self.statuses.clear();
        self.addresses = false;
        self.utf8 = false;
        self.unsigned = false;
        self.ruled = false;
        self.within_bytes = false;
        self.within_times = false;
        self.id = None;
    }

    /// Whether no entry of the dictionary reads as an error for field `f` (as
    /// [`DictKeys`] reads it), so that its rows can be read as [`CleanKeys`]. A check that
    /// the field's own rules make of a value (a `bytes` bound, a region's letters) still
    /// applies, but for the rules of `region`, `action` and `log-status`, which every entry
    /// passed when the dictionary was read.
    fn clean_for(&self, f: Field) -> bool {
        let empty = self.ints.is_empty() && self.spans.is_empty();
        if is_address(f) {
            self.addresses || empty
        } else if is_numeric(f) {
            (!self.ints.is_empty() && self.unsigned) || empty
        } else {
            self.utf8 && self.ruled
        }
    }

    /// Read each entry by its field's own rule, once: `ruled` when every entry passes.
    fn rule(&mut self, f: Field) {
        fn each<T>(d: &Dict, read: impl Fn(&str) -> Result<T, Malformed>) -> Option<Vec<T>>
        where
            T: Default,
        {
            let one = |&(s, len): &(u32, u32)| match len {
                NULL => Some(T::default()),
                NOT_UTF8 => None,
                _ => read(d.text(s, len)).ok(),
            };
            d.spans.iter().map(one).collect()
        }
        self.ruled = match f {
            Field::Region => each(self, |t| checked_region(Some(t)).map(drop)).is_some(),
            Field::Action => match each(self, |t| parse_action(t.as_bytes())) {
                Some(v) => {
                    self.actions = v;
                    true
                }
                None => false,
            },
            Field::LogStatus => match each(self, |t| parse_status(t.as_bytes())) {
                Some(v) => {
                    self.statuses = v;
                    true
                }
                None => false,
            },
            _ => true,
        };
    }
}

/// A data page's values, one per row: integers (with `valid`), dictionary keys ([`NULL`]
/// for a null), or spans of the page buffer.
enum Vals {
    Ints(Vec<i64>, Vec<bool>),
    Keys(Vec<u32>),
    Spans(Vec<(u32, u32)>),
}

/// One needed column of the row group being read.
struct Column {
    plan: ColumnPlan,
    codec: Codec,
    /// The column chunk's bytes, shared with the input (bytes in memory) or read into
    /// `owned` (a file: the first `owned_len` bytes, the room reused from chunk to chunk),
    /// and its offset in the file.
    chunk: bytes::Bytes,
    owned: Vec<u8>,
    owned_len: Option<usize>,
    base: u64,
    pages: Vec<PageRef>,
    next: usize,
    dict: Dict,
    vals: Vals,
    /// The current data page, decompressed (its values section).
    buf: Vec<u8>,
    /// Rows of the current page, and rows consumed.
    len: usize,
    pos: usize,
    /// Rows of the next data page to pass over: a window of a row group's rows
    /// ([`super::Part::rows`]) starts inside its first data page.
    skip: usize,
    /// The current page's first row read (its first, but a window's first page's).
    from: usize,
    /// The current page's definition levels (empty for a required column), and scratch
    /// for the keys of its present rows.
    levels: Vec<u32>,
    scratch: Vec<u32>,
}

impl Column {
    fn remaining(&self) -> usize {
        self.len - self.pos
    }

    /// The bytes its buffers hold room for.
    fn capacity(&self) -> usize {
        let d = &self.dict;
        let vals = match &self.vals {
            Vals::Ints(v, nulls) => v.capacity() * 8 + nulls.capacity(),
            Vals::Keys(k) => k.capacity() * 4,
            Vals::Spans(s) => s.capacity() * 8,
        };
        self.pages.capacity() * std::mem::size_of::<PageRef>()
            + self.buf.capacity()
            + self.owned.capacity()
            + vals
            + (self.levels.capacity() + self.scratch.capacity()) * 4
            + d.ints.capacity() * 8
            + d.spans.capacity() * 8
            + d.buf.capacity()
            + d.ips.capacity() * std::mem::size_of::<Result<Option<IpAddr>, ()>>()
            + d.actions.capacity()
            + d.statuses.capacity()
    }

    /// Move to the next data page (reading any dictionary page on the way).
    fn next_page(&mut self) -> Result<(), Fail> {
        self.in_chunk(Column::next_page_of)
    }

    /// Run `f` on the column and the bytes loaded ([`Column::load`]), lent to it while it
    /// fills the column's buffers.
    fn in_chunk<R>(&mut self, f: impl FnOnce(&mut Column, &[u8]) -> R) -> R {
        let owned = std::mem::take(&mut self.owned);
        let shared = self.chunk.clone();
        let chunk = match self.owned_len {
            Some(n) => &owned[..n],
            None => &shared[..],
        };
        let out = f(self, chunk);
        self.owned = owned;
        out
    }

    /// [`Column::next_page`] in `chunk`, the column chunk's bytes.
    fn next_page_of(&mut self, chunk: &[u8]) -> Result<(), Fail> {
        loop {
            let Some(p) = self.pages.get(self.next).copied() else {
                return Err(format!(
                    "column {} ends before its row group",
                    self.plan.leaf
                ));
            };
            self.next += 1;
            let raw = page_bytes(chunk, self.base, &p)?;
            let h = p.header;
            match h.kind {
                kind::DICTIONARY => self.dictionary_page(raw, &p)?,
                kind::DATA => {
                    let d = h.data.ok_or("a data page without its header")?;
                    let mut buf = std::mem::take(&mut self.buf);
                    decompress(self.codec, raw, h.uncompressed as usize, &mut buf)?;
                    let n = d.values.max(0) as usize;
                    let (levels, values) = if self.plan.optional {
                        let len = read_u32(&buf, 0)? as usize;
                        let levels = buf.get(4..4 + len).ok_or("definition levels cut short")?;
                        (Some(levels), 4 + len)
                    } else {
                        (None, 0)
                    };
                    let present = self.read_levels(levels, n)?;
                    self.read_values(&buf, values, d.encoding, n, present)?;
                    self.buf = buf;
                    self.start_page(n);
                    if self.len > self.pos {
                        return Ok(());
                    }
                }
                kind::DATA_V2 => {
                    let d = h.v2.ok_or("a v2 data page without its header")?;
                    let def = d.definition_bytes.max(0) as usize;
                    let levels = raw.get(..def).ok_or("definition levels cut short")?;
                    let n = d.values.max(0) as usize;
                    let present = self.read_levels(self.plan.optional.then_some(levels), n)?;
                    let mut buf = std::mem::take(&mut self.buf);
                    let size = (h.uncompressed as usize)
                        .checked_sub(def)
                        .ok_or("a v2 page smaller than its levels")?;
                    let codec = if d.compressed {
                        self.codec
                    } else {
                        Codec::None
                    };
                    decompress(codec, &raw[def..], size, &mut buf)?;
                    self.read_values(&buf, 0, d.encoding, n, present)?;
                    self.buf = buf;
                    self.start_page(n);
                    if self.len > self.pos {
                        return Ok(());
                    }
                }
                _ => return Err("a page the plan did not expect".into()),
            }
        }
    }

    /// A dictionary page, `raw` as stored, parsed into the column's dictionary.
    fn dictionary_page(&mut self, raw: &[u8], p: &PageRef) -> Result<(), Fail> {
        let h = p.header;
        let d = h.dictionary.ok_or("a dictionary page without its header")?;
        let mut buf = std::mem::take(&mut self.dict.buf);
        decompress(self.codec, raw, h.uncompressed as usize, &mut buf)?;
        self.read_dictionary(buf, d.values as usize)
    }

    /// A data page of `n` rows was read: its rows are read from the window's first on.
    fn start_page(&mut self, n: usize) {
        let skip = std::mem::take(&mut self.skip);
        self.len = n;
        self.pos = skip.min(n);
        self.from = self.pos;
    }

    /// The column chunk's `len` bytes at `start` of the file, read (or shared) as the bytes
    /// the column's pages are found in.
    fn load<T: ChunkSource>(&mut self, input: &T, start: u64, len: u64) -> Result<(), Fail> {
        let len = usize::try_from(len).map_err(|e| e.to_string())?;
        match input.chunk(start, len, &mut self.owned) {
            Ok(Some(shared)) => (self.chunk, self.owned_len) = (shared, None),
            Ok(None) => (self.chunk, self.owned_len) = (bytes::Bytes::new(), Some(len)),
            Err(e) => return Err(e.to_string()),
        }
        self.base = start;
        Ok(())
    }

    /// Make ready to read rows `rows` of a column chunk of `pages`: its dictionary page read,
    /// and of its data pages only those holding the rows loaded (a window's bytes, not the
    /// chunk's), the rows before the window's first in its first page passed over.
    fn open_window<T: ChunkSource>(
        &mut self,
        input: &T,
        pages: &[PageRef],
        rows: &std::ops::Range<usize>,
    ) -> Result<(), Fail> {
        let (dict, data) = match pages.split_first() {
            Some((d, rest)) if d.header.kind == kind::DICTIONARY => (Some(d), rest),
            _ => (None, pages),
        };
        let (mut at, mut first, mut end) = (0usize, None, data.len());
        for (i, p) in data.iter().enumerate() {
            let n = page_rows(&p.header);
            if first.is_none() && at + n > rows.start {
                first = Some((i, rows.start - at));
            }
            at += n;
            if at >= rows.end {
                end = i + 1;
                break;
            }
        }
        let (first, skip) = first.ok_or("a window of rows past its column chunk")?;
        if let Some(d) = dict {
            self.load(input, d.data, d.header.compressed.max(0) as u64)?;
            self.in_chunk(|c, raw| c.dictionary_page(raw, d))?;
        }
        let span = &data[first..end];
        let (Some(a), Some(b)) = (span.first(), span.last()) else {
            return Err("a window of rows past its column chunk".into());
        };
        self.load(
            input,
            a.data,
            b.data + b.header.compressed.max(0) as u64 - a.data,
        )?;
        self.pages.clear();
        self.pages.extend_from_slice(span);
        self.next = 0;
        self.skip = skip;
        Ok(())
    }

    /// Read definition levels (one bit each) for `n` rows into `self.levels`; returns how
    /// many rows have a value. A required column has a value in every row.
    fn read_levels(&mut self, levels: Option<&[u8]>, n: usize) -> Result<usize, Fail> {
        self.levels.clear();
        let Some(data) = levels else {
            return Ok(n);
        };
        if all_ones(data, n) {
            // one run of ones (a column declared optional that holds no null): no levels
            return Ok(n);
        }
        rle_hybrid(data, 1, n, &mut self.levels)?;
        if self.levels.len() < n {
            return Err("definition levels cut short".into());
        }
        let present = self.levels.iter().filter(|&&l| l == 1).count();
        if present == n {
            // no nulls in this page: read it as a required column's
            self.levels.clear();
        }
        Ok(present)
    }

    /// Whether row `i` of the page has a value.
    fn present(&self, i: usize) -> bool {
        self.levels.is_empty() || self.levels[i] == 1
    }

    /// Read the `present` values of a page of `n` rows, from `buf[from..]`, into
    /// `self.vals`, one per row (string spans index `buf`).
    fn read_values(
        &mut self,
        buf: &[u8],
        from: usize,
        encoding: i32,
        n: usize,
        present: usize,
    ) -> Result<(), Fail> {
        let data = buf.get(from..).ok_or("values past the page's end")?;
        if encoding == enc::PLAIN_DICTIONARY || encoding == enc::RLE_DICTIONARY {
            self.read_keys(data, n, present)
        } else if self.plan.int_width > 0 {
            self.read_ints(data, n, present)
        } else {
            self.read_strings(data, from, n)
        }
    }

    /// A dictionary page's keys (`data`: their bit width, then the run-length/bit-packed
    /// hybrid of the `present` rows' keys), one a row, a null row's `NULL`; every key must
    /// fall in the dictionary.
    fn read_keys(&mut self, data: &[u8], n: usize, present: usize) -> Result<(), Fail> {
        let width = *data
            .first()
            .ok_or("dictionary indices without a bit width")?;
        if width > 32 {
            return Err("dictionary indices wider than 32 bits".into());
        }
        let mut keys = match std::mem::replace(&mut self.vals, Vals::Keys(Vec::new())) {
            Vals::Keys(k) => k,
            _ => Vec::new(),
        };
        keys.clear();
        let top;
        if self.levels.is_empty() {
            rle_hybrid(&data[1..], width, n, &mut keys)?;
            if keys.len() < n {
                return Err("dictionary indices cut short".into());
            }
            top = largest_key(&keys);
        } else {
            // the present rows' keys, spread over the rows (a null row gets NULL)
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            rle_hybrid(&data[1..], width, present, &mut scratch)?;
            if scratch.len() < present {
                return Err("dictionary indices cut short".into());
            }
            top = largest_key(&scratch[..present]);
            // without a branch a row (nulls come and go at random: a branch on each
            // mispredicts often)
            let mut next = 0;
            keys.extend(self.levels.iter().map(|&l| {
                let key = scratch.get(next).copied().unwrap_or(NULL);
                next += usize::from(l == 1);
                if l == 1 {
                    key
                } else {
                    NULL
                }
            }));
            self.scratch = scratch;
        }
        let entries = self.dict.ints.len().max(self.dict.spans.len());
        let beyond = top.is_some_and(|t| t as usize >= entries);
        self.vals = Vals::Keys(keys);
        if beyond {
            return Err("a dictionary index beyond its dictionary".into());
        }
        Ok(())
    }

    /// A PLAIN page of the column's integers: the `present` rows' values one after another,
    /// a null row's 0, marked not valid.
    fn read_ints(&mut self, data: &[u8], n: usize, present: usize) -> Result<(), Fail> {
        let w = self.plan.int_width;
        if data.len() < present * w {
            return Err("integer values cut short".into());
        }
        let (mut ints, mut valid) = match std::mem::replace(&mut self.vals, Vals::Keys(Vec::new()))
        {
            Vals::Ints(i, v) => (i, v),
            _ => (Vec::new(), Vec::new()),
        };
        ints.clear();
        valid.clear();
        ints.reserve(n);
        valid.reserve(n);
        let mut at = 0;
        for i in 0..n {
            if self.present(i) {
                ints.push(read_int(data, at, w));
                valid.push(true);
                at += w;
            } else {
                ints.push(0);
                valid.push(false);
            }
        }
        self.vals = Vals::Ints(ints, valid);
        Ok(())
    }

    /// A PLAIN page of strings, `data` (which starts `base` bytes into the page), each its
    /// length and bytes: a span of the page a row (a null row's `NULL`, a string that is not
    /// UTF-8 marked `NOT_UTF8`).
    fn read_strings(&mut self, data: &[u8], base: usize, n: usize) -> Result<(), Fail> {
        let mut spans = match std::mem::replace(&mut self.vals, Vals::Keys(Vec::new())) {
            Vals::Spans(s) => s,
            _ => Vec::new(),
        };
        spans.clear();
        spans.reserve(n);
        let ascii = data.is_ascii();
        let mut at = 0;
        for i in 0..n {
            if !self.present(i) {
                spans.push((0, NULL));
                continue;
            }
            let len = read_u32(data, at)? as usize;
            let s = at + 4;
            let e = s.checked_add(len).filter(|&e| e <= data.len());
            let e = e.ok_or("a string runs past its page")?;
            let utf8 = ascii || std::str::from_utf8(&data[s..e]).is_ok();
            spans.push(((base + s) as u32, if utf8 { len as u32 } else { NOT_UTF8 }));
            at = e;
        }
        self.vals = Vals::Spans(spans);
        Ok(())
    }

    /// Read a dictionary page of `n` PLAIN values held in `buf`.
    fn read_dictionary(&mut self, buf: Vec<u8>, n: usize) -> Result<(), Fail> {
        let d = &mut self.dict;
        d.clear();
        d.utf8 = true;
        d.unsigned = true;
        if self.plan.int_width > 0 {
            let w = self.plan.int_width;
            if buf.len() < n * w {
                return Err("a dictionary cut short".into());
            }
            d.ints.extend((0..n).map(|i| read_int(&buf, i * w, w)));
            d.unsigned = d.ints.iter().all(|&v| v >= 0);
            d.within_bytes = d
                .ints
                .iter()
                .all(|&v| (0..=MAX_RECORD_BYTES as i64).contains(&v));
            d.within_times = d.ints.iter().all(|&v| TIMES.contains(&to_seconds(v)));
        } else {
            // ASCII throughout (lengths under 128 included): no entry needs checking
            let ascii = buf.is_ascii();
            let mut at = 0usize;
            for _ in 0..n {
                let len = read_u32(&buf, at)? as usize;
                let s = at + 4;
                let e = s.checked_add(len).filter(|&e| e <= buf.len());
                let e = e.ok_or("a dictionary string runs past its page")?;
                let text = match ascii {
                    // SAFETY: ASCII is UTF-8.
                    true => Ok(unsafe { std::str::from_utf8_unchecked(&buf[s..e]) }),
                    false => std::str::from_utf8(&buf[s..e]),
                };
                let len = match text {
                    Ok(t) if is_null_word(t) => NULL,
                    Ok(_) => len as u32,
                    Err(_) => NOT_UTF8,
                };
                d.utf8 &= len != NOT_UTF8;
                d.spans.push((s as u32, len));
                at = e;
            }
            if is_address(self.plan.field) {
                let ips = d.spans.iter().map(|&(s, len)| match text_of(&buf, s, len) {
                    Ok(None) => Ok(None),
                    Ok(Some(t)) => parse_ip(t.as_bytes()).map(Some).ok_or(()),
                    Err(_) => Err(()),
                });
                // into the room of the last dictionary's (kept from file to file)
                d.ips.extend(ips);
                d.addresses = d.ips.iter().all(Result::is_ok);
            }
        }
        d.buf = buf;
        d.rule(self.plan.field);
        if self.plan.field == Field::InterfaceId {
            d.id = Some(Entry::new_dictionary());
        }
        Ok(())
    }
}

/// The largest of `keys`, `None` for none. Compared as signed 32-bit values while none has its
/// top bit set (the baseline x86-64 vector unit compares those four at a time, unsigned ones
/// not at all); a key with it (only a damaged page's: a run's value may be wider than the
/// page's bit width) sends it to the plain comparison.
fn largest_key(keys: &[u32]) -> Option<u32> {
    let (max, high) = (keys.iter()).fold((0i32, 0u32), |(m, h), &k| (m.max(k as i32), h | k));
    match high >> 31 {
        _ if keys.is_empty() => None,
        0 => Some(max as u32),
        _ => keys.iter().max().copied(),
    }
}

fn read_u32(b: &[u8], at: usize) -> Result<u32, Fail> {
    b.get(at..at + 4)
        .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .ok_or_else(|| "a length runs past its page".into())
}

/// A little-endian integer of `w` (4 or 8) bytes at `at` (the caller checked the bounds).
#[inline]
fn read_int(b: &[u8], at: usize, w: usize) -> i64 {
    if w == 4 {
        i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]).into()
    } else {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        i64::from_le_bytes(x)
    }
}

/// The text of a span of `buf`: `None` for a null or a null word, an error for non-UTF-8.
#[inline]
fn text_of(buf: &[u8], start: u32, len: u32) -> Result<Option<&str>, Malformed> {
    match len {
        NULL => Ok(None),
        NOT_UTF8 => Err(Malformed::BadUtf8),
        _ => {
            let b = &buf[start as usize..start as usize + len as usize];
            // SAFETY: the span was checked to be UTF-8 when it was read.
            let s = unsafe { std::str::from_utf8_unchecked(b) };
            Ok((!is_null_word(s)).then_some(s))
        }
    }
}

/// Whether RLE/bit-packed levels one bit wide begin with a run of at least `n` ones.
fn all_ones(data: &[u8], n: usize) -> bool {
    let mut header = 0u64;
    for (i, &b) in data.iter().take(5).enumerate() {
        header |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return header & 1 == 0 && (header >> 1) as usize >= n && data.get(i + 1) == Some(&1);
        }
    }
    false
}

/// Read an RLE/bit-packed hybrid run of values `width` bits wide until `out` holds `n`
/// (the last bit-packed group may hold more: only `n` are kept).
fn rle_hybrid(data: &[u8], width: u8, n: usize, out: &mut Vec<u32>) -> Result<(), Fail> {
    // at once, not by doubling (`n` is a page's value count, bounded by the plan)
    out.reserve(n.saturating_sub(out.len()));
    let mut pos = 0usize;
    let bytes_per_value = (width as usize).div_ceil(8);
    while out.len() < n && pos < data.len() {
        let mut header = 0u64;
        let mut shift = 0;
        loop {
            let b = *data.get(pos).ok_or("a run header cut short")?;
            pos += 1;
            header |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 56 {
                return Err("a run header too long".into());
            }
        }
        let want = n - out.len();
        if header & 1 == 0 {
            // a run of one value
            let count = ((header >> 1) as usize).min(want);
            let raw = data
                .get(pos..pos + bytes_per_value)
                .ok_or("a run value cut short")?;
            pos += bytes_per_value;
            let mut v = 0u32;
            for (i, b) in raw.iter().enumerate() {
                v |= u32::from(*b) << (8 * i);
            }
            // (a run's value is stored in whole bytes: bits past its width mean a damaged
            // page, not a value; a definition level of 37 would read as a null)
            if width < 32 && v >> width != 0 {
                return Err("a run value wider than its bit width".into());
            }
            out.extend(std::iter::repeat_n(v, count));
        } else {
            // groups of eight values, bit-packed, least significant bit first
            let groups = (header >> 1) as usize;
            let len = groups
                .checked_mul(width as usize)
                .ok_or("a bit-packed run too long")?;
            // the last run may be cut at the values' end (its missing bits read as 0)
            let end = pos.saturating_add(len).min(data.len());
            // the run's values lie in `data[pos..end]`; the bytes after it are read with
            // them (eight at a time) and masked away, so that only the last values of the
            // page take the slow path
            let packed = &data[pos..];
            let values = groups.saturating_mul(8).min(want);
            if end - pos == len {
                unpack(packed, width, values, out);
            } else {
                unpack(&data[pos..end], width, values, out);
            }
            pos = end;
        }
    }
    Ok(())
}

/// Unpack `count` values of `width` bits from `packed` (LSB first); missing bits read as 0.
fn unpack(packed: &[u8], width: u8, count: usize, out: &mut Vec<u32>) {
    let w = width as usize;
    if w == 0 {
        out.extend(std::iter::repeat_n(0, count));
        return;
    }
    // whole groups of eight values, `w` bytes each, for the widths dictionaries of up to
    // 65,536 entries use: a loop of constant shifts per width
    let groups = count.div_ceil(8);
    if w <= 16 && packed.len() >= groups * w {
        let kept = out.len() + count;
        macro_rules! widths {
            ($($n:literal)*) => {
                match w {
                    $($n => unpack_groups::<$n>(&packed[..groups * $n], out),)*
                    _ => unreachable!("a width of 1 to 16 bits"),
                }
            };
        }
        widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        out.truncate(kept);
        return;
    }
    let mask = if w == 32 { u32::MAX } else { (1u32 << w) - 1 };
    let value = |i: usize| {
        let bit = i * w;
        let (byte, shift) = (bit / 8, bit % 8);
        let word = match packed.get(byte..byte + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("eight bytes")),
            None => {
                let mut word = [0u8; 8];
                let end = (byte + 8).min(packed.len());
                if byte < end {
                    word[..end - byte].copy_from_slice(&packed[byte..end]);
                }
                u64::from_le_bytes(word)
            }
        };
        (word >> shift) as u32 & mask
    };
    // an exact-size iterator: written without a capacity check per value
    out.extend((0..count).map(value));
}

/// Unpack the groups of eight `W`-bit values (`W` bytes each) that fill `packed`.
#[inline(always)]
fn unpack_groups<const W: usize>(packed: &[u8], out: &mut Vec<u32>) {
    let mask = (1u128 << W) - 1;
    out.reserve(packed.len() / W * 8);
    for group in packed.chunks_exact(W) {
        let mut b = [0u8; 16];
        b[..W].copy_from_slice(group);
        let bits = u128::from_le_bytes(b);
        out.extend((0..8).map(|i| ((bits >> (i * W)) & mask) as u32));
    }
}

/// A column's current page as the fill step reads it, by the shape of its values: the
/// shape is chosen once per column and run of rows, so the loop over the rows is tight.
enum View<'a> {
    /// Dictionary keys: strings (each entry resolved once: a null word is a null), parsed
    /// addresses, or integers.
    Keys {
        keys: &'a [u32],
        dict: &'a Dict,
        /// The page's first row read: no row is compared with a row before it.
        from: usize,
    },
    Ints {
        ints: &'a [i64],
        valid: &'a [bool],
    },
    Spans {
        spans: &'a [(u32, u32)],
        buf: &'a [u8],
    },
}

impl<'a> View<'a> {
    fn of(c: &'a Column) -> View<'a> {
        match &c.vals {
            Vals::Keys(keys) => View::Keys {
                keys,
                dict: &c.dict,
                from: c.from,
            },
            Vals::Ints(ints, valid) => View::Ints { ints, valid },
            Vals::Spans(spans) => View::Spans { spans, buf: &c.buf },
        }
    }
}

impl<'a> super::FillColumn<'a> for View<'a> {
    fn fill(
        &self,
        f: Field,
        start: usize,
        recs: &mut [crate::format::Record<'a>],
        bad: &mut [Option<Malformed>],
    ) {
        let clean = matches!(self, View::Keys { dict, .. } if dict.clean_for(f));
        if f == Field::InterfaceId && !clean {
            // entries are named only by `fill_clean`, which sets every row's; a field's
            // second column (a renamed one) must not leave the entries of the first's
            recs.iter_mut().for_each(|r| r.interface_entry = None);
        }
        match self {
            View::Keys { keys, dict, .. } if dict.clean_for(f) => {
                let rows = &keys[start..start + recs.len()];
                if !fill_clean(f, rows, dict, recs) {
                    super::fill(f, &CleanKeys(DictKeys { keys, dict }), start, recs, bad)
                }
            }
            View::Keys { keys, dict, .. } => {
                super::fill(f, &DictKeys { keys, dict }, start, recs, bad)
            }
            View::Ints { ints, valid } => {
                super::fill(f, &IntRows { ints, valid }, start, recs, bad)
            }
            View::Spans { spans, buf } => {
                super::fill(f, &SpanRows { spans, buf }, start, recs, bad)
            }
        }
    }

    fn can_defer(&self, f: Field) -> bool {
        matches!(self, View::Keys { dict, .. } if dict.clean_for(f))
    }

    fn repeats(&self, start: usize, same: &mut [bool]) {
        match self {
            // a key repeating in one page repeats its value (one dictionary a column chunk);
            // a page's first row is not compared with the page before
            View::Keys { keys, from, .. } => {
                let Some((first, rest)) = same.split_first_mut() else {
                    return;
                };
                let rows = &keys[start..start + rest.len() + 1];
                *first &= start > *from && keys[start - 1] == rows[0];
                // (each row with the one before, as two slices: a loop the compiler vectorises)
                for ((s, a), b) in rest.iter_mut().zip(&rows[..rows.len() - 1]).zip(&rows[1..]) {
                    *s &= a == b;
                }
            }
            _ => same.fill(false),
        }
    }
}

/// The columns of one batch of rows, for the fields the account stage reads only when it
/// needs them ([`crate::format::Later`]). Only fields whose column is a clean dictionary's
/// keys are deferred ([`View::can_defer`]), and each is read as [`fill_clean`] reads it.
struct Batch<'a> {
    /// Each field's column: its keys from the batch's first row, and its dictionary.
    at: [Option<(&'a [u32], &'a Dict)>; Field::Other as usize + 1],
}

impl<'a> Batch<'a> {
    fn new(views: &[(Field, View<'a>, usize)]) -> Batch<'a> {
        let mut at = [None; Field::Other as usize + 1];
        for (f, v, start) in views {
            if let View::Keys { keys, dict, .. } = v {
                at[*f as usize] = keys.get(*start..).map(|k| (k, *dict));
            }
        }
        Batch { at }
    }

    #[inline]
    fn key(&self, f: Field, row: usize) -> Option<(usize, &'a Dict)> {
        let (keys, dict) = self.at[f as usize]?;
        Some((*keys.get(row)? as usize, dict))
    }
}

impl<'a> crate::format::Later<'a> for Batch<'a> {
    fn text(&self, f: Field, row: usize) -> Option<&'a str> {
        self.key(f, row).and_then(|(k, d)| d.clean_text(k))
    }

    fn ip(&self, f: Field, row: usize) -> Option<&'a IpAddr> {
        self.key(f, row).and_then(|(k, d)| d.clean_ip_ref(k))
    }

    fn int(&self, f: Field, row: usize) -> Option<u64> {
        self.key(f, row).and_then(|(k, d)| d.clean_int(k))
    }
}

/// Rows of dictionary keys.
struct DictKeys<'a> {
    keys: &'a [u32],
    dict: &'a Dict,
}

impl<'a> Values<'a> for DictKeys<'a> {
    #[inline]
    fn text(&self, i: usize) -> Result<Option<&'a str>, Malformed> {
        // null words were made nulls when the dictionary was read
        match self.dict.spans.get(self.keys[i] as usize) {
            Some(&(_, NULL)) | None => Ok(None),
            Some(&(_, NOT_UTF8)) => Err(Malformed::BadUtf8),
            Some(&(start, len)) => Ok(Some(self.dict.text(start, len))),
        }
    }

    #[inline]
    fn num(&self, i: usize, name: &'static str) -> Result<Option<u64>, Malformed> {
        if !self.dict.ints.is_empty() {
            return match self.dict.ints.get(self.keys[i] as usize) {
                Some(&v) if v < 0 => Err(Malformed::BadNumber(name)),
                Some(&v) => Ok(Some(v as u64)),
                None => Ok(None),
            };
        }
        number_of(self.text(i)?, name)
    }

    #[inline]
    fn ip(&self, i: usize, name: &'static str) -> Result<Option<IpAddr>, Malformed> {
        match self.dict.ips.get(self.keys[i] as usize) {
            Some(Ok(ip)) => Ok(*ip),
            Some(Err(())) => {
                // a non-UTF-8 dictionary entry is that, not a bad address
                self.text(i)?;
                Err(Malformed::BadAddress(name))
            }
            None => Ok(None),
        }
    }
}

/// Rows of dictionary keys into a dictionary clean for the column's field
/// ([`Dict::clean_for`]): every value reads as [`DictKeys`] reads it, and none is an error,
/// so the fill loop has no error path to take.
struct CleanKeys<'a>(DictKeys<'a>);

impl<'a> Values<'a> for CleanKeys<'a> {
    #[inline]
    fn text(&self, i: usize) -> Result<Option<&'a str>, Malformed> {
        Ok(self.0.dict.clean_text(self.0.keys[i] as usize))
    }

    #[inline]
    fn num(&self, i: usize, _: &'static str) -> Result<Option<u64>, Malformed> {
        Ok(self.0.dict.clean_int(self.0.keys[i] as usize))
    }

    #[inline]
    fn ip(&self, i: usize, _: &'static str) -> Result<Option<IpAddr>, Malformed> {
        Ok(self.0.dict.clean_ip(self.0.keys[i] as usize))
    }

    #[inline]
    fn region(&self, i: usize) -> Result<Option<&'a str>, Malformed> {
        self.text(i) // every entry passed the rule
    }

    #[inline]
    fn action(&self, i: usize) -> Result<Action, Malformed> {
        let key = self.0.keys[i] as usize;
        Ok(self.0.dict.actions.get(key).copied().unwrap_or_default())
    }

    #[inline]
    fn status(&self, i: usize) -> Result<LogStatus, Malformed> {
        let key = self.0.keys[i] as usize;
        Ok(self.0.dict.statuses.get(key).copied().unwrap_or_default())
    }
}

/// [`super::fill`] for rows of `keys` into dictionary `d`, clean for field `f`: no value is an
/// error, so no row is marked bad, and each row is one lookup. `false` (and nothing set) for
/// a field whose values have a rule of their own to check (`bytes` beyond its bound, a time
/// outside [`TIMES`]).
#[inline]
fn fill_clean<'a>(f: Field, keys: &[u32], d: &'a Dict, recs: &mut [Record<'a>]) -> bool {
    macro_rules! rows {
        ($value:expr, $set:expr) => {{
            for (r, &k) in recs.iter_mut().zip(keys) {
                #[allow(clippy::redundant_closure_call)]
                $set(r, $value(k as usize));
            }
            true
        }};
    }
    let text = |k: usize| d.clean_text(k);
    let ip = |k: usize| d.clean_ip(k);
    let int = |k: usize| d.clean_int(k);
    let secs = |k: usize| int(k).map(|v| to_seconds(v as i64));
    match f {
        Field::InterfaceId => match d.id {
            // (each row's ENI named by its entry too, [`Record::interface_entry`])
            Some(dict) => {
                let entry = |k: usize| Entry {
                    dict,
                    entry: k as u32,
                };
                let named = |k: usize| (text(k), entry(k));
                let set = |r: &mut Record<'a>, (v, e): (Option<&'a str>, Entry)| {
                    r.interface_id = v;
                    r.interface_entry = v.map(|_| e);
                };
                rows!(named, set)
            }
            None => rows!(text, |r: &mut Record<'a>, v| {
                r.interface_id = v;
                r.interface_entry = None;
            }),
        },
        Field::AccountId => rows!(text, |r: &mut Record<'a>, v| r.account_id = v),
        Field::Region => rows!(text, |r: &mut Record<'a>, v| r.region = v),
        Field::AzId => rows!(text, |r: &mut Record<'a>, v| r.az_id = v),
        Field::SubnetId => rows!(text, |r: &mut Record<'a>, v| r.subnet_id = v),
        Field::VpcId => rows!(text, |r: &mut Record<'a>, v| r.vpc_id = v),
        Field::FlowDirection => rows!(text, |r: &mut Record<'a>, v| r.flow_direction = v),
        Field::PktSrcAwsService => {
            rows!(text, |r: &mut Record<'a>, v| r.pkt_src_aws_service = v)
        }
        Field::PktDstAwsService => {
            rows!(text, |r: &mut Record<'a>, v| r.pkt_dst_aws_service = v)
        }
        Field::EcsClusterName => rows!(text, |r: &mut Record<'a>, v| r.ecs_cluster_name = v),
        Field::EcsServiceName => rows!(text, |r: &mut Record<'a>, v| r.ecs_service_name = v),
        Field::EcsTaskId => rows!(text, |r: &mut Record<'a>, v| r.ecs_task_id = v),
        Field::SrcAddr => rows!(ip, |r: &mut Record<'a>, v| r.srcaddr = v),
        Field::DstAddr => rows!(ip, |r: &mut Record<'a>, v| r.dstaddr = v),
        Field::PktSrcAddr => rows!(ip, |r: &mut Record<'a>, v| r.pkt_srcaddr = v),
        Field::PktDstAddr => rows!(ip, |r: &mut Record<'a>, v| r.pkt_dstaddr = v),
        Field::Packets => rows!(int, |r: &mut Record<'a>, v| r.packets = v),
        Field::Bytes if d.within_bytes => rows!(int, |r: &mut Record<'a>, v| r.bytes = v),
        Field::Start if d.within_times => rows!(secs, |r: &mut Record<'a>, v| r.start = v),
        Field::End if d.within_times => rows!(secs, |r: &mut Record<'a>, v| r.end = v),
        Field::TrafficPath => rows!(int, |r: &mut Record<'a>, v: Option<u64>| r.traffic_path =
            v.map(|v| v.min(255) as u8)),
        Field::Action => rows!(
            |k: usize| d.actions.get(k).copied().unwrap_or_default(),
            |r: &mut Record<'a>, v| r.action = v
        ),
        Field::LogStatus => rows!(
            |k: usize| d.statuses.get(k).copied().unwrap_or_default(),
            |r: &mut Record<'a>, v| r.status = v
        ),
        // (the flow's values, read for sampling only, by the general fill)
        Field::SrcPort | Field::DstPort | Field::Protocol => false,
        Field::Bytes | Field::Start | Field::End | Field::Other | Field::Version => false,
    }
}

/// Rows of integers.
struct IntRows<'a> {
    ints: &'a [i64],
    valid: &'a [bool],
}

impl<'a> Values<'a> for IntRows<'a> {
    #[inline]
    fn text(&self, _: usize) -> Result<Option<&'a str>, Malformed> {
        Ok(None) // the plan reads integer columns only for numeric fields
    }

    #[inline]
    fn num(&self, i: usize, name: &'static str) -> Result<Option<u64>, Malformed> {
        match (self.valid[i], self.ints[i]) {
            (false, _) => Ok(None),
            (true, v) if v < 0 => Err(Malformed::BadNumber(name)),
            (true, v) => Ok(Some(v as u64)),
        }
    }

    #[inline]
    fn ip(&self, _: usize, _: &'static str) -> Result<Option<IpAddr>, Malformed> {
        Ok(None)
    }
}

/// Rows of PLAIN strings in the page buffer.
struct SpanRows<'a> {
    spans: &'a [(u32, u32)],
    buf: &'a [u8],
}

impl<'a> Values<'a> for SpanRows<'a> {
    #[inline]
    fn text(&self, i: usize) -> Result<Option<&'a str>, Malformed> {
        let (start, len) = self.spans[i];
        text_of(self.buf, start, len)
    }

    #[inline]
    fn num(&self, i: usize, name: &'static str) -> Result<Option<u64>, Malformed> {
        number_of(self.text(i)?, name)
    }

    #[inline]
    fn ip(&self, i: usize, name: &'static str) -> Result<Option<IpAddr>, Malformed> {
        address_of(self.text(i)?, name)
    }
}

/// The columns a thread read its last file with, taken for the next one and put back when
/// it is read (or fails): their pages, keys, levels and dictionaries grow to a file's size
/// once per thread, not once per file.
struct Pooled(Vec<Column>);

/// The most bytes of column buffers a thread keeps from one file for the next.
const HELD_MAX: usize = 16 << 20;

thread_local! {
    static COLUMNS: std::cell::RefCell<Vec<Column>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Pooled {
    fn take() -> Pooled {
        Pooled(COLUMNS.with_borrow_mut(std::mem::take))
    }
}

impl Drop for Pooled {
    /// Kept unless they grew past what is worth holding; the chunks' bytes let go now.
    fn drop(&mut self) {
        let mut columns = std::mem::take(&mut self.0);
        if columns.iter().map(Column::capacity).sum::<usize>() <= HELD_MAX {
            columns
                .iter_mut()
                .for_each(|c| c.chunk = bytes::Bytes::new());
            // (never a panic in a drop, which may run while a panic unwinds)
            let _ = COLUMNS.try_with(|pool| pool.try_borrow_mut().map(|mut p| *p = columns));
        }
    }
}

/// Read the rows of `part` of a planned file into `sink`, counting them in `rows`.
pub fn decode<T: ChunkSource, S: Sink>(
    input: &T,
    md: &ParquetMetaData,
    plan: &Plan,
    pages: &PageIndex,
    part: &super::Part,
    sink: &mut S,
    rows: &mut u64,
) -> Result<(), Fail> {
    let mut pooled = Pooled::take();
    let columns = &mut pooled.0;
    let chosen = md.row_groups().iter().enumerate();
    let groups = &part.groups;
    for (g, rg) in chosen.skip(groups.start).take(groups.len()) {
        let all = 0..rg.num_rows().max(0) as usize;
        let window = part.rows.clone().unwrap_or(all.clone());
        if window.start > window.end || window.end > all.end {
            return Err(format!("row group {g}: rows {window:?} are not its rows"));
        }
        // the columns' buffers are reused from row group to row group, and file to file
        let mut reused = std::mem::take(columns).into_iter();
        for p in &plan.columns {
            let chunk = rg.column(p.leaf);
            let (start, len) = chunk.byte_range();
            let codec = Codec::of(chunk.compression())
                .ok_or_else(|| format!("row group {g}: a codec the plan did not accept"))?;
            let mut c = reused.next().unwrap_or_else(|| Column {
                plan: *p,
                codec,
                chunk: bytes::Bytes::new(),
                owned: Vec::new(),
                owned_len: None,
                base: 0,
                pages: Vec::new(),
                next: 0,
                dict: Dict::default(),
                vals: Vals::Keys(Vec::new()),
                buf: Vec::new(),
                len: 0,
                pos: 0,
                skip: 0,
                from: 0,
                levels: Vec::new(),
                scratch: Vec::new(),
            });
            c.plan = *p;
            c.codec = codec;
            c.dict.clear();
            (c.len, c.pos, c.skip, c.from) = (0, 0, 0, 0);
            if window == all {
                c.load(input, start, len)?;
                c.pages.clear();
                c.pages.extend_from_slice(&pages[g][p.leaf]);
                c.next = 0;
            } else if !window.is_empty() {
                c.open_window(input, &pages[g][p.leaf], &window)
                    .map_err(|e| column_failure(md, g, p.leaf, &e))?;
            }
            columns.push(c);
        }
        let mut left = window.len();
        while left > 0 {
            for c in columns.iter_mut() {
                if c.remaining() == 0 {
                    c.next_page()
                        .map_err(|e| column_failure(md, g, c.plan.leaf, &e))?;
                }
            }
            let n = columns.iter().map(Column::remaining).fold(left, usize::min);
            let views: Vec<(Field, View, usize)> = (columns.iter())
                .map(|c| (c.plan.field, View::of(c), c.pos))
                .collect();
            let later = Batch::new(&views);
            emit_rows(&views, Some(&later), n, sink, rows);
            drop(views);
            for c in columns.iter_mut() {
                c.pos += n;
            }
            left -= n;
        }
    }
    Ok(())
}

/// What stopped column `leaf` of row group `g`, with the column's name.
fn column_failure(md: &ParquetMetaData, g: usize, leaf: usize, e: &str) -> Fail {
    let name = md.file_metadata().schema_descr().column(leaf);
    format!("row group {g}, column `{}`: {e}", name.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string dictionary of `entries` (`None` a null), as read: spans into one buffer.
    fn dict_of(entries: &[Option<&[u8]>]) -> Dict {
        let mut d = Dict {
            utf8: true,
            ..Dict::default()
        };
        for e in entries {
            let len = match e {
                None => NULL,
                Some(b) if std::str::from_utf8(b).is_err() => NOT_UTF8,
                Some(b) => b.len() as u32,
            };
            d.utf8 &= len != NOT_UTF8;
            d.spans.push((d.buf.len() as u32, len));
            d.buf.extend_from_slice(e.unwrap_or_default());
        }
        d
    }

    #[test]
    fn field_rules_are_read_once_per_entry_and_refuse_what_rows_refuse() {
        use crate::format::{Action, LogStatus};
        let ruled = |f: Field, entries: &[Option<&[u8]>]| {
            let mut d = dict_of(entries);
            d.rule(f);
            d
        };
        // every entry passes: clean, and the table holds each entry's value (a null the default)
        let d = ruled(Field::Action, &[Some(b"REJECT"), None, Some(b"ACCEPT")]);
        assert!(d.clean_for(Field::Action));
        assert_eq!(d.actions, [Action::Reject, Action::Accept, Action::Accept]);
        let d = ruled(
            Field::LogStatus,
            &[Some(b"SKIPDATA"), Some(b"NODATA"), None],
        );
        assert!(d.clean_for(Field::LogStatus));
        assert_eq!(
            d.statuses,
            [LogStatus::SkipData, LogStatus::NoData, LogStatus::Ok]
        );
        assert!(ruled(Field::Region, &[Some(b"eu-west-1"), None]).clean_for(Field::Region));
        // one entry the rule refuses (or that is not UTF-8) makes the dictionary read row by row
        let long = [b'a'; 33];
        for (f, good, bad) in [
            (Field::Action, &b"ACCEPT"[..], &b"<script>"[..]),
            (Field::LogStatus, b"OK", b"ok"),
            (Field::Region, b"us-east-1", b"US-EAST-1"),
            (Field::Region, b"us-east-1", &long[..]),
            (Field::Region, b"us-east-1", b"us-east-\xff"),
            (Field::Action, b"ACCEPT", b"\xffACCEPT"),
        ] {
            assert!(ruled(f, &[Some(good), None]).clean_for(f), "{f:?} {good:?}");
            let d = ruled(f, &[Some(good), None, Some(bad)]);
            assert!(!d.clean_for(f), "{f:?} {bad:?}");
        }
        // fields without a rule of their own are ruled; a cleared dictionary is not
        let mut d = ruled(Field::VpcId, &[Some(b"vpc-1")]);
        assert!(d.clean_for(Field::VpcId));
        d.clear();
        assert!(d.actions.is_empty() && !d.ruled);
    }

    proptest::proptest! {
        /// The largest key is the largest, whatever the keys' top bits (a mutation that drops
        /// the plain comparison of keys with the top bit set fails it).
        #[test]
        fn the_largest_key_is_the_largest(
            keys in proptest::collection::vec(
                proptest::prop_oneof![0u32..2048, proptest::prelude::any::<u32>()], 0..40),
        ) {
            proptest::prop_assert_eq!(largest_key(&keys), keys.iter().max().copied());
        }
    }

    #[test]
    fn rle_and_bit_packed_runs_read_back() {
        // a run of 5 × 3 (width 2: one byte), then one bit-packed group of 8 values 0..8 mod 4
        let mut data = vec![5 << 1, 3];
        data.push((1 << 1) | 1);
        let vals: Vec<u32> = (0..8).map(|i| i % 4).collect();
        let mut packed = 0u32;
        for (i, v) in vals.iter().enumerate() {
            packed |= v << (2 * i);
        }
        data.extend_from_slice(&packed.to_le_bytes()[..2]);
        let mut out = Vec::new();
        rle_hybrid(&data, 2, 13, &mut out).unwrap();
        assert_eq!(out, [3, 3, 3, 3, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
        // never more than asked for, whatever a run claims
        let mut out = Vec::new();
        rle_hybrid(&[0xfe, 0xff, 0xff, 0x7f, 1], 1, 4, &mut out).unwrap();
        assert_eq!(out, [1, 1, 1, 1]);
        // a header cut short is an error, not a panic
        assert!(rle_hybrid(&[0x80], 1, 4, &mut Vec::new()).is_err());
        // a run's value past its width is a damaged page (found by `fuzz/`: a definition
        // level of 37 read as a null); at width 0 the one value is 0
        for (width, v, ok) in [(1, 1, true), (1, 2, false), (1, 37, false), (2, 3, true)] {
            let r = rle_hybrid(&[4 << 1, v], width, 4, &mut Vec::new());
            assert_eq!(r.is_ok(), ok, "{width} {v}");
        }
        let mut out = Vec::new();
        rle_hybrid(&[4 << 1], 0, 4, &mut out).unwrap();
        assert_eq!(out, [0; 4]);
        let r = rle_hybrid(&[1 << 1, 0, 0, 0, 0x80], 31, 1, &mut Vec::new());
        assert!(r.is_err());
        rle_hybrid(&[1 << 1, 0xff, 0xff, 0xff, 0x7f], 31, 1, &mut Vec::new()).unwrap();
    }

    #[test]
    fn all_ones_is_a_run_of_ones_long_enough() {
        // what rle_hybrid reads, for each: n ones exactly when all_ones says so
        let cases: [(&[u8], usize); 8] = [
            (&[10 << 1, 1], 10),
            (&[10 << 1, 1], 9),
            (&[10 << 1, 1], 11),
            (&[10 << 1, 0], 10),
            (&[10 << 1, 3], 10),
            (&[(1 << 1) | 1, 0xff], 8),
            (&[0x80 | 0x40, 0x01, 1], 96),
            (&[0x80], 1),
        ];
        for (data, n) in cases {
            let mut out = Vec::new();
            let ones = rle_hybrid(data, 1, n, &mut out).is_ok()
                && out.len() == n
                && out.iter().all(|&v| v == 1);
            let bit_packed = data[0] & 1 == 1;
            // a bit-packed run of ones is ones too, but read the long way
            assert_eq!(all_ones(data, n), ones && !bit_packed, "{data:?} {n}");
        }
    }

    #[test]
    fn unpack_reads_any_width_and_count() {
        for w in 0u8..=32 {
            let mask = if w == 32 { u32::MAX } else { (1u32 << w) - 1 };
            for count in [0usize, 1, 7, 8, 9, 24, 29, 64, 65] {
                let vals: Vec<u32> = (0..count as u32)
                    .map(|i| i.wrapping_mul(2_654_435_761) & mask)
                    .collect();
                // whole groups' bytes, as a run holds them; then cut after the last value's
                // byte, and cut shorter still (the missing bits read as 0)
                let mut packed = vec![0u8; count.div_ceil(8) * w as usize];
                for (i, v) in vals.iter().enumerate() {
                    for b in 0..w as usize {
                        if v >> b & 1 == 1 {
                            let bit = i * w as usize + b;
                            packed[bit / 8] |= 1 << (bit % 8);
                        }
                    }
                }
                let last = (count * w as usize).div_ceil(8);
                let short = last.saturating_sub(2);
                for len in [packed.len(), last, short] {
                    let mut out = vec![7, 7];
                    unpack(&packed[..len], w, count, &mut out);
                    let want: Vec<u32> = (0..count)
                        .map(|i| {
                            let (first, end) = (i * w as usize, (i + 1) * w as usize);
                            match end <= len * 8 {
                                true => vals[i],
                                // the bits past `len` bytes read as 0
                                false => (first..end.min(len * 8))
                                    .filter(|b| packed[b / 8] >> (b % 8) & 1 == 1)
                                    .map(|b| 1 << (b - first))
                                    .sum(),
                            }
                        })
                        .collect();
                    assert_eq!(out[..2], [7, 7], "width {w}, {count} values: kept");
                    assert_eq!(out[2..], want[..], "width {w}, {count} values, {len} bytes");
                }
            }
        }
    }
}
