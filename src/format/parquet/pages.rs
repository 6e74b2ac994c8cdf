//! Page headers checked before the `parquet` crate decodes a file. A page header is a few
//! dozen bytes of Thrift (compact protocol) in front of each page; it states the page's sizes
//! and, for a dictionary page, how many values the dictionary holds. The crate allocates by
//! those claims (a dictionary of 2^31 integers is 16 GB) before it finds that the page
//! cannot hold them, so a crafted or damaged file could take the machine's memory. This
//! module walks the headers of every column chunk that will be read, without decoding a page,
//! and refuses the file when
//! - a page would decompress to more than the bound (what one row group's pages decompress
//!   to in all is bounded by the reader that reads them: [`unpacked`]),
//! - a dictionary claims more values than its page's bytes can hold (every PLAIN value of a
//!   physical type takes a known least number of bytes),
//! - a header is malformed, or a page runs past its column chunk.
//!
//! The footer is walked the same way first ([`check_footer`]).
//!
//! The reader here reads a byte slice and never allocates: counts and lengths in the header
//! are checked against the bytes at hand, nesting is bounded, and every step consumes a byte.

use parquet::basic::Type as Physical;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;

/// Bytes read at first for one page header; grown (×16) when a header is longer. A page
/// header is a few dozen bytes (a few hundred with long string statistics): reading more
/// copies the page's data too, which the decoder reads again (4 KiB here read 184 MB for
/// the e2e world's 171 MB of Parquet, 256 bytes 130 MB).
const FIRST_READ: u64 = 256;
/// The longest page header accepted (statistics may carry long string bounds).
const MAX_HEADER: u64 = 16 << 20;
/// Thrift nesting accepted inside a page header (real ones nest two deep).
const MAX_DEPTH: u8 = 16;

/// Where a page is and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRef {
    /// Offset in the file of the page's data (just after its header).
    pub data: u64,
    pub header: Header,
}

/// The pages of every chosen column chunk: `[row group][leaf column]` (empty for a column
/// not chosen).
pub type PageIndex = Vec<Vec<Vec<PageRef>>>;

/// Check the headers of every page in the chosen columns of every row group: `max` bounds
/// the decompressed bytes of one page. Returns the pages found, or why the file is refused.
pub fn check<R: ChunkReader>(
    input: &R,
    md: &ParquetMetaData,
    column_chosen: impl Fn(usize) -> bool,
    max: i64,
) -> Result<PageIndex, String> {
    let mut index = Vec::with_capacity(md.num_row_groups());
    for (g, rg) in md.row_groups().iter().enumerate() {
        let mut columns = Vec::with_capacity(rg.num_columns());
        for (c, chunk) in rg.columns().iter().enumerate() {
            let mut pages = Vec::new();
            if !column_chosen(c) {
                columns.push(pages);
                continue;
            }
            let width = least_value_width(chunk.column_type(), chunk.column_descr().type_length());
            let (start, len) = chunk.byte_range();
            let end = start
                .checked_add(len)
                .ok_or("a column chunk's range overflows")?;
            let mut pos = start;
            while pos < end {
                let header = read_header(input, pos, end)
                    .map_err(|e| format!("row group {g}, column {c}, page at byte {pos}: {e}"))?;
                let at =
                    |what: String| format!("row group {g}, column {c}, page at byte {pos}: {what}");
                if header.uncompressed < 0 || header.compressed < 0 {
                    return Err(at("negative page size".into()));
                }
                if i64::from(header.uncompressed) > max {
                    return Err(at(format!(
                        "a page decompressing to more than the {} MiB flowcost reads at once: refused",
                        max >> 20
                    )));
                }
                if let Some(d) = header.dictionary {
                    let n = d.values;
                    let need = i64::from(n).saturating_mul(width.0) / width.1;
                    if n < 0 || need > i64::from(header.uncompressed) {
                        return Err(at(format!(
                            "a dictionary of {n} values in {} bytes: refused as corrupt",
                            header.uncompressed
                        )));
                    }
                }
                let data = pos + header.len as u64;
                pos = data
                    .checked_add(header.compressed as u64)
                    .filter(|p| *p <= end)
                    .ok_or_else(|| at("the page runs past its column chunk".into()))?;
                pages.push(PageRef { data, header });
            }
            columns.push(pages);
        }
        index.push(columns);
    }
    Ok(index)
}

/// What the pages of row group `g`'s chosen columns decompress to, by their headers.
pub fn unpacked(index: &PageIndex, g: usize) -> i64 {
    (index.get(g).into_iter().flatten().flatten())
        .map(|p| i64::from(p.header.uncompressed))
        .fold(0, i64::saturating_add)
}

/// Walk the footer (the file's metadata, Thrift at the end of the file) with the reader
/// here before the `parquet` crate parses it: the crate skips a list of booleans without
/// reading a byte per element, so a footer of a few bytes claiming billions of them keeps it
/// busy for minutes (found by `fuzz/`). A footer this reader cannot walk is refused.
pub fn check_footer<R: ChunkReader>(input: &R) -> Result<(), String> {
    let len = input.len();
    if len < 12 {
        return Ok(()); // too short to be Parquet: the crate says so
    }
    let tail = input.get_bytes(len - 8, 8).map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Ok(()); // not a plain footer (encrypted or not Parquet): the crate decides
    }
    let n = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if n + 8 > len {
        return Ok(()); // the crate reports the impossible length
    }
    let footer = input
        .get_bytes(len - 8 - n, n as usize)
        .map_err(|e| e.to_string())?;
    let mut r = Compact {
        buf: &footer,
        pos: 0,
    };
    match r.skip(ty::STRUCT, 0) {
        Ok(()) => Ok(()),
        Err(Stop::Short) => Err("malformed footer (it ends inside its metadata)".into()),
        Err(Stop::Bad(why)) => Err(format!("malformed footer ({why})")),
    }
}

/// The fewest bytes one PLAIN-encoded value of a physical type takes, as a fraction
/// (numerator, denominator): booleans take one bit.
fn least_value_width(t: Physical, type_length: i32) -> (i64, i64) {
    match t {
        Physical::BOOLEAN => (1, 8),
        Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => (4, 1),
        Physical::INT64 | Physical::DOUBLE => (8, 1),
        Physical::INT96 => (12, 1),
        Physical::FIXED_LEN_BYTE_ARRAY => (i64::from(type_length.max(1)), 1),
    }
}

/// Read the page header at `pos`, asking for more bytes while it is cut short.
fn read_header<R: ChunkReader>(input: &R, pos: u64, end: u64) -> Result<Header, String> {
    let mut want = FIRST_READ;
    loop {
        let n = want.min(end - pos);
        let bytes = input
            .get_bytes(pos, n as usize)
            .map_err(|e| e.to_string())?;
        match header(&bytes) {
            Ok(h) => return Ok(h),
            Err(Stop::Short) if n < (end - pos).min(MAX_HEADER) => want = n * 16,
            Err(Stop::Short) => return Err("the page header is cut short or too long".into()),
            Err(Stop::Bad(why)) => return Err(format!("malformed page header ({why})")),
        }
    }
}

/// Page types (parquet.thrift `PageType`).
pub mod kind {
    pub const DATA: i32 = 0;
    pub const DICTIONARY: i32 = 2;
    pub const DATA_V2: i32 = 3;
}

/// The parts of a page header the check and the fast reader need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The page type ([`kind`]).
    pub kind: i32,
    pub uncompressed: i32,
    pub compressed: i32,
    pub dictionary: Option<DictionaryHeader>,
    pub data: Option<DataHeader>,
    pub v2: Option<DataHeaderV2>,
    /// The header's own length in bytes.
    pub len: usize,
}

/// A dictionary page's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictionaryHeader {
    pub values: i32,
    pub encoding: i32,
}

/// A (version 1) data page's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    pub values: i32,
    pub encoding: i32,
    pub definition_encoding: i32,
    pub repetition_encoding: i32,
}

/// A version 2 data page's header: its levels are stored uncompressed before the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeaderV2 {
    pub values: i32,
    pub nulls: i32,
    pub rows: i32,
    pub encoding: i32,
    pub definition_bytes: i32,
    pub repetition_bytes: i32,
    pub compressed: bool,
}

/// Why a header could not be read: more bytes are needed, or it is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Short,
    Bad(&'static str),
}

/// Thrift compact-protocol type codes.
mod ty {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const UUID: u8 = 13;
}

/// Parse a `PageHeader` (parquet.thrift): 1 `type`, 2 `uncompressed_page_size`, 3
/// `compressed_page_size`, 5 `data_page_header` (1 `num_values`, 2 `encoding`, 3
/// `definition_level_encoding`, 4 `repetition_level_encoding`), 7 `dictionary_page_header`
/// (1 `num_values`, 2 `encoding`), 8 `data_page_header_v2` (1 `num_values`, 2 `num_nulls`,
/// 3 `num_rows`, 4 `encoding`, 5 and 6 the levels' byte lengths, 7 `is_compressed`).
fn header(buf: &[u8]) -> Result<Header, Stop> {
    let mut r = Compact { buf, pos: 0 };
    let (mut uncompressed, mut compressed) = (None, None);
    let mut h = Header::default();
    let mut last = 0i16;
    while let Some((id, t)) = r.field(&mut last)? {
        match (id, t) {
            (1, ty::I32) => h.kind = r.i32()?,
            (2, ty::I32) => uncompressed = Some(r.i32()?),
            (3, ty::I32) => compressed = Some(r.i32()?),
            (5, ty::STRUCT) => {
                let v = r.i32_fields::<4>()?;
                h.data = Some(DataHeader {
                    values: v[0].ok_or(Stop::Bad("data page without num_values"))?,
                    encoding: v[1].ok_or(Stop::Bad("data page without encoding"))?,
                    definition_encoding: v[2].unwrap_or(3),
                    repetition_encoding: v[3].unwrap_or(3),
                });
            }
            (7, ty::STRUCT) => {
                let v = r.i32_fields::<2>()?;
                h.dictionary = Some(DictionaryHeader {
                    values: v[0].ok_or(Stop::Bad("dictionary without num_values"))?,
                    encoding: v[1].unwrap_or(0),
                });
            }
            (8, ty::STRUCT) => {
                let mut v = [None; 6];
                let mut is_compressed = true;
                let mut last = 0i16;
                while let Some((id, t)) = r.field(&mut last)? {
                    match (id, t) {
                        (1..=6, ty::I32) => v[id as usize - 1] = Some(r.i32()?),
                        (7, ty::TRUE) => is_compressed = true,
                        (7, ty::FALSE) => is_compressed = false,
                        _ => r.skip(t, 1)?,
                    }
                }
                let need =
                    |x: Option<i32>| x.ok_or(Stop::Bad("a v2 data page header lacks a field"));
                h.v2 = Some(DataHeaderV2 {
                    values: need(v[0])?,
                    nulls: need(v[1])?,
                    rows: need(v[2])?,
                    encoding: need(v[3])?,
                    definition_bytes: need(v[4])?,
                    repetition_bytes: need(v[5])?,
                    compressed: is_compressed,
                });
            }
            (2 | 3 | 5 | 7 | 8, _) => return Err(Stop::Bad("a field of the wrong type")),
            _ => r.skip(t, 0)?,
        }
    }
    h.uncompressed = uncompressed.ok_or(Stop::Bad("no uncompressed_page_size"))?;
    h.compressed = compressed.ok_or(Stop::Bad("no compressed_page_size"))?;
    h.len = r.pos;
    Ok(h)
}

/// A reader of the Thrift compact protocol over a byte slice.
struct Compact<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, Stop> {
        let b = *self.buf.get(self.pos).ok_or(Stop::Short)?;
        self.pos += 1;
        Ok(b)
    }

    fn advance(&mut self, n: u64) -> Result<(), Stop> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(Stop::Short);
        }
        self.pos += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Stop> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(Stop::Bad("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Stop::Bad("varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> Result<i64, Stop> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, Stop> {
        i32::try_from(self.zigzag()?).map_err(|_| Stop::Bad("i32 out of range"))
    }

    /// A struct's i32 fields 1..=N (others skipped), each if present.
    fn i32_fields<const N: usize>(&mut self) -> Result<[Option<i32>; N], Stop> {
        let mut v = [None; N];
        let mut last = 0i16;
        while let Some((id, t)) = self.field(&mut last)? {
            match (id, t) {
                (1.., ty::I32) if (id as usize) <= N => v[id as usize - 1] = Some(self.i32()?),
                _ => self.skip(t, 1)?,
            }
        }
        Ok(v)
    }

    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Result<Option<(i16, u8)>, Stop> {
        let b = self.byte()?;
        let t = b & 0x0f;
        if t == ty::STOP {
            return Ok(None);
        }
        let delta = i16::from(b >> 4);
        *last = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| Stop::Bad("field id out of range"))?
        } else {
            last.checked_add(delta)
                .ok_or(Stop::Bad("field id out of range"))?
        };
        Ok(Some((*last, t)))
    }

    /// Skip one value of type `t`, `depth` levels deep.
    fn skip(&mut self, t: u8, depth: u8) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Bad("nested too deep"));
        }
        match t {
            ty::TRUE | ty::FALSE => Ok(()),
            ty::BYTE => self.advance(1),
            ty::I16 | ty::I32 | ty::I64 => self.varint().map(drop),
            ty::DOUBLE => self.advance(8),
            ty::UUID => self.advance(16),
            ty::BINARY => {
                let n = self.varint()?;
                self.advance(n)
            }
            ty::LIST | ty::SET => {
                let b = self.byte()?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.elements(n, b & 0x0f, depth)
            }
            ty::MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.element(kv >> 4, depth)?;
                    self.element(kv & 0x0f, depth)?;
                }
                Ok(())
            }
            ty::STRUCT => {
                let mut last = 0i16;
                while let Some((_, t)) = self.field(&mut last)? {
                    self.skip(t, depth + 1)?;
                }
                Ok(())
            }
            _ => Err(Stop::Bad("unknown type")),
        }
    }

    /// Skip `n` collection elements of type `t`. Every element takes at least one byte, so
    /// a count beyond the bytes at hand stops at the end of the buffer.
    fn elements(&mut self, n: u64, t: u8, depth: u8) -> Result<(), Stop> {
        for _ in 0..n {
            self.element(t, depth)?;
        }
        Ok(())
    }

    /// A collection element: booleans take a byte each there (in a field they take none).
    fn element(&mut self, t: u8, depth: u8) -> Result<(), Stop> {
        match t {
            ty::TRUE | ty::FALSE => self.advance(1),
            ty::STOP => Err(Stop::Bad("an element of type stop")),
            _ => self.skip(t, depth + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact-protocol writer for hand-made headers.
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn zz(v: i64, out: &mut Vec<u8>) {
        varint(((v << 1) ^ (v >> 63)) as u64, out)
    }

    /// A dictionary page header: type 2, sizes, crc, dictionary header {num_values, encoding}.
    fn dict_header(uncompressed: i64, compressed: i64, values: i64) -> Vec<u8> {
        let mut h = Vec::new();
        h.push(0x15); // field 1, i32
        zz(2, &mut h);
        h.push(0x15); // field 2, i32
        zz(uncompressed, &mut h);
        h.push(0x15); // field 3, i32
        zz(compressed, &mut h);
        h.push(0x4c); // field 7 (delta 4), struct
        h.push(0x15); // num_values
        zz(values, &mut h);
        h.push(0x15); // encoding
        zz(0, &mut h);
        h.push(0x11); // field 3, is_sorted = true
        h.push(0x00); // end of dictionary header
        h.push(0x00); // end of page header
        h
    }

    #[test]
    fn a_dictionary_header_reads_back() {
        let h = dict_header(800, 300, 100);
        assert_eq!(
            header(&h),
            Ok(Header {
                kind: kind::DICTIONARY,
                uncompressed: 800,
                compressed: 300,
                dictionary: Some(DictionaryHeader {
                    values: 100,
                    encoding: 0
                }),
                len: h.len(),
                ..Default::default()
            })
        );
        // every proper prefix asks for more bytes, never fails or panics
        for n in 0..h.len() {
            assert_eq!(header(&h[..n]), Err(Stop::Short), "prefix of {n}");
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_bad_ones_refused() {
        let mut h = vec![0x15];
        zz(0, &mut h); // type
        h.extend([0x15, 0x08, 0x15, 0x06]); // sizes 4 and 3
                                            // field 6 (index page header) as a struct with a list of 3 binaries and a map
        h.push(0x3c);
        h.push(0x39); // field 3 (delta 3), list
        h.push(0x38); // 3 binaries
        h.extend([1, b'a', 0, 2, b'b', b'c']);
        h.push(0x1b); // field 4, map
        h.extend([1, 0x55, 2, 4]); // one i32 → i32 entry
        h.push(0x00);
        h.push(0x00);
        let got = header(&h).unwrap();
        assert_eq!((got.uncompressed, got.compressed), (4, 3));
        assert_eq!(got.dictionary, None);

        assert_eq!(header(&[0x1f]), Err(Stop::Bad("unknown type")));
        assert_eq!(header(&[0x00]), Err(Stop::Bad("no uncompressed_page_size")));
        // a varint of eleven bytes
        assert!(matches!(
            header(&[0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(Stop::Bad(_))
        ));
        // a list claiming 2^40 elements in a few bytes stops at the buffer's end
        let mut h = vec![0x19, 0xf5];
        varint(1 << 40, &mut h);
        h.extend([1, 2, 3]);
        assert_eq!(header(&h), Err(Stop::Short));
        // deep nesting is refused, not recursed without bound
        let deep: Vec<u8> = std::iter::repeat_n(0x1c, 100).collect();
        assert_eq!(header(&deep), Err(Stop::Bad("nested too deep")));
    }

    /// A page header of `type 0, sizes 4 and 3` carrying an unknown field: a binary of `n`
    /// bytes (as long statistics would make it), then page data.
    fn long_header(n: usize) -> Vec<u8> {
        let mut h = vec![0x15];
        zz(0, &mut h);
        h.extend([0x15, 0x08, 0x15, 0x06]);
        h.push(0x38); // field 6 (delta 3), binary
        varint(n as u64, &mut h);
        h.extend(std::iter::repeat_n(b'x', n));
        h.push(0x00);
        h
    }

    #[test]
    fn a_header_longer_than_the_first_read_is_read_whole() {
        for n in [10, 300, FIRST_READ as usize * 16 + 5] {
            let h = long_header(n);
            let mut file = h.clone();
            file.extend([0u8; 3]); // the page's data
            let file = bytes::Bytes::from(file);
            let got = read_header(&file, 0, file.len() as u64).unwrap();
            assert_eq!((got.uncompressed, got.compressed, got.len), (4, 3, h.len()));
            // a chunk that ends inside the header: refused, however long the header
            let short = read_header(&file, 0, h.len() as u64 - 1);
            assert_eq!(
                short,
                Err("the page header is cut short or too long".into())
            );
        }
    }

    #[test]
    fn dictionary_claims_are_checked_against_page_bytes() {
        // an INT64 dictionary of 100 values needs 800 bytes
        assert!(100 * least_value_width(Physical::INT64, 0).0 <= 800);
        assert!(101 * least_value_width(Physical::INT64, 0).0 > 800);
        let (n, d) = least_value_width(Physical::BOOLEAN, 0);
        assert_eq!(64 * n / d, 8);
        assert_eq!(
            least_value_width(Physical::FIXED_LEN_BYTE_ARRAY, 16),
            (16, 1)
        );
        assert_eq!(least_value_width(Physical::FIXED_LEN_BYTE_ARRAY, 0), (1, 1));
    }
}
