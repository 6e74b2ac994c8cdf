//! Text decoder: space-separated flow-log lines, as AWS writes them to S3 (with a header line
//! naming the fields) or as exported from CloudWatch Logs (no header, or each record wrapped in
//! a JSON object's `message`). A header may repeat mid-stream (concatenated files) and changes
//! the layout from there on. Lines are parsed in place: no allocation per record.

use std::io::Read;

use super::fields::{self, Field, Layout};
use super::{
    checked_bytes, checked_region, checked_time, parse_u64_within, same_bytes, Action, AddrCache,
    LogStatus, Malformed, Record,
};

/// The longest line read as a record: AWS's lines are 100–400 bytes, and even every field of
/// every version with long ECS names stays under 2 KiB. A longer line is malformed; a stream
/// keeps at most this much of it (the rest, up to its newline, is skipped unread), so memory
/// stays bounded whatever the input.
pub const MAX_LINE: usize = 64 * 1024;

/// The byte order mark some editors write at the start of a UTF-8 text.
const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Receives what a decoder finds, line by line (or row by row).
pub trait Sink {
    /// A record that parsed.
    fn record(&mut self, rec: &Record<'_>);
    /// A line (1-based) or row that did not parse.
    fn malformed(&mut self, line: u64, why: Malformed);
    /// A header line (not a record).
    fn header(&mut self);
    /// An empty line.
    fn blank(&mut self);
    /// The records that follow were written with this many fields (the layout in force at
    /// the first line, then each header's; a Parquet file's columns).
    fn layout(&mut self, _fields: usize) {}
    /// Whether this sink reads the fields a reader may defer ([`super::DEFERRABLE`]) through
    /// the record's accessors ([`Record::region`], [`Record::names`], ...), so that a reader
    /// may leave them in their columns ([`Record::deferred`]). A sink that reads the fields
    /// themselves says no (the default) and gets every value set.
    fn defers(&self) -> bool {
        false
    }
    /// Records a reader holds and is about to hand over, shown first: exactly those that
    /// follow, in order, with nothing between (a reader shows only batches of two records or
    /// more, and the Parquet readers only batches without a bad row). A hint: the account
    /// stage asks the memory for the aggregates they will touch, so that the cache misses of
    /// a run of rows overlap instead of following each other; it changes no result.
    fn upcoming(&mut self, _recs: &[Record<'_>]) {}
    /// Whether this sink wants the records' flows marked ([`Record::flow`]), to find one
    /// flow recorded twice at a time; asked by a text reader at each block it is fed.
    fn flows(&self) -> bool {
        false
    }
    /// A point between two records where the sink may let go of what it holds: a reader
    /// says so after each block of text it was fed and each 1,024 Parquet rows, so that
    /// the engine can spill the ENI tables of one long input as it is read (a sink that
    /// wraps another passes it on).
    fn pause(&mut self) {}
}

/// What one line is (a transient value: the record stays on the stack).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Line<'a> {
    Record(Record<'a>),
    Header(Layout),
    Blank,
}

#[inline]
fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r' || b == b'\n'
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| is_space(b)).filter(|t| !t.is_empty())
}

/// Whether a line names fields: its first token a known field's name, plain (`version`) or as
/// AWS's format string writes it (`${version}`, a header a user may put above an export of
/// a CloudWatch Logs group), and every token made of a name's characters. The first byte
/// tells most records apart at once: a digit, or a letter not starting a field's name.
fn looks_like_header(first: &[u8], line: &[u8]) -> bool {
    if !first
        .first()
        .is_some_and(|&b| b.is_ascii_lowercase() || b == b'$')
    {
        return false;
    }
    let Ok(first) = std::str::from_utf8(first) else {
        return false;
    };
    fields::is_known(&fields::normalise(first))
        && tokens(line).all(|t| {
            t.iter().all(|&b| {
                b.is_ascii_alphanumeric()
                    || b == b'-'
                    || b == b'_'
                    || b == b'$'
                    || b == b'{'
                    || b == b'}'
            })
        })
}

/// A token as text. `ascii`: the whole line is ASCII (checked once), so every token is
/// valid UTF-8 without checking it again. Inlined: called, it returned its result through
/// memory, read back wider than it was written (a stall at each text field).
#[inline(always)]
fn opt_str(tok: &[u8], ascii: bool) -> Result<Option<&str>, Malformed> {
    if tok == b"-" {
        return Ok(None);
    }
    if ascii {
        // SAFETY: the line was checked to be ASCII, and ASCII is valid UTF-8.
        return Ok(Some(unsafe { std::str::from_utf8_unchecked(tok) }));
    }
    str_checked(tok)
}

/// [`opt_str`] for a line that is not all ASCII (rare: out of line).
#[cold]
#[inline(never)]
fn str_checked(tok: &[u8]) -> Result<Option<&str>, Malformed> {
    std::str::from_utf8(tok)
        .map(Some)
        .map_err(|_| Malformed::BadUtf8)
}

/// The number at `line[at]`, read in place ([`parse_u64_within`]).
#[inline(always)]
fn opt_num(line: &[u8], at: (u32, u32), name: &'static str) -> Result<Option<u64>, Malformed> {
    let (start, end) = (at.0 as usize, at.1 as usize);
    if end == start + 1 && line[start] == b'-' {
        return Ok(None);
    }
    parse_u64_within(line, start, end)
        .map(Some)
        .ok_or(Malformed::BadNumber(name))
}

/// The address at `line[at]`, read in place or found by its text ([`AddrCache`]).
#[inline(always)]
fn opt_ip(
    line: &[u8],
    at: (u32, u32),
    name: &'static str,
    ips: &mut AddrCache,
) -> Result<Option<std::net::IpAddr>, Malformed> {
    let (start, end) = (at.0 as usize, at.1 as usize);
    if end == start + 1 && line[start] == b'-' {
        return Ok(None);
    }
    ips.parse_within(line, start, end)
        .map(Some)
        .ok_or(Malformed::BadAddress(name))
}

/// Most tokens a line may have for [`split`]; a longer line takes the general path.
const MAX_TOKENS: usize = 64;
/// Room for the `(start, end)` offsets of a line's tokens.
type Spans = [(u32, u32); MAX_TOKENS];
/// Longest line [`split`] handles (AWS lines are 100–400 bytes); a longer one takes the
/// general path.
const MAX_SPLIT_LEN: usize = 2048;

/// Separator and newline bits of 16 bytes: bit `i` of the first set when byte `i` is a
/// separator (a newline is one), of the second when it is a newline.
#[inline(always)]
fn sep_bits(chunk: &[u8; 16]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, and `chunk` is 16 bytes long.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr() as *const __m128i);
            let sp = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
            let tab = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8));
            let cr = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8));
            let lf = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
            let sep = _mm_or_si128(_mm_or_si128(sp, tab), _mm_or_si128(cr, lf));
            (
                _mm_movemask_epi8(sep) as u16 as u64,
                _mm_movemask_epi8(lf) as u16 as u64,
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk
            .iter()
            .enumerate()
            .fold((0u64, 0u64), |(m, n), (i, &b)| {
                (
                    m | ((is_space(b) as u64) << i),
                    n | (((b == b'\n') as u64) << i),
                )
            })
    }
}

/// Separator bits of the 16 bytes at `line[at..]`: bit `i` set when byte `at + i` is a
/// separator or lies past the end of the line. The 16 bytes holding the line's end are read
/// as its last 16 (overlapping bytes before `at`) and shifted into place, not copied.
#[inline(always)]
fn sep_mask16(line: &[u8], at: usize) -> u64 {
    masks16(line, at).0
}

/// [`sep_mask16`] and the newline bits of the same bytes (none past the end).
#[inline(always)]
fn masks16(line: &[u8], at: usize) -> (u64, u64) {
    let len = line.len();
    if let Some(chunk) = line.get(at..).and_then(|r| r.first_chunk::<16>()) {
        return sep_bits(chunk);
    }
    if at >= len {
        return (0xffff, 0);
    }
    // `at < len < at + 16`: the bits from `len - at` up lie past the end
    let past_end = (0xffff << (len - at)) & 0xffff;
    match line.last_chunk::<16>() {
        // byte `at + i` is bit `i + at + 16 - len` of the last 16 bytes' mask
        Some(last) => {
            let (sep, lf) = sep_bits(last);
            let shift = at + 16 - len;
            ((sep >> shift) | past_end, lf >> shift)
        }
        None => {
            let mut padded = [b' '; 16];
            padded[..len - at].copy_from_slice(&line[at..]);
            sep_bits(&padded)
        }
    }
}

/// Every token of `line` as `(start, end)` byte offsets, found 64 bytes at a time from
/// separator bitmasks (token starts and ends are the mask's 0→1 and 1→0 edges), so the cost
/// per token is a few bit operations. `None` when the line is longer than `MAX_SPLIT_LEN`
/// or has more than `MAX_TOKENS` tokens.
#[inline]
fn split(line: &[u8], out: &mut Spans) -> Option<usize> {
    let len = line.len();
    if len > MAX_SPLIT_LEN {
        return None;
    }
    let mut count = 0usize;
    let mut in_token = false;
    let mut start = 0usize;
    let mut base = 0usize;
    // up to and including offset `len`, which is a separator, so the last token ends
    while base <= len {
        let sep = sep_mask16(line, base)
            | sep_mask16(line, base + 16) << 16
            | sep_mask16(line, base + 32) << 32
            | sep_mask16(line, base + 48) << 48;
        let word = !sep;
        let carried = in_token;
        let prev_word = (word << 1) | carried as u64;
        let mut starts = word & !prev_word;
        let mut ends = sep & prev_word;
        in_token = word >> 63 != 0;
        // starts and ends alternate; a token carried in from the previous block ends first
        if carried && ends != 0 {
            let e = base + ends.trailing_zeros() as usize;
            ends &= ends - 1;
            *out.get_mut(count)? = (start as u32, e as u32);
            count += 1;
        }
        while starts != 0 {
            let s = base + starts.trailing_zeros() as usize;
            starts &= starts - 1;
            if ends != 0 {
                let e = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                *out.get_mut(count)? = (s as u32, e as u32);
                count += 1;
            } else {
                start = s;
            }
        }
        base += 64;
    }
    Some(count)
}

/// The line starting at `block[start..]`: its end (its newline, or the block's end) and,
/// where it is a plain line, its tokens into `out` as [`split`] gives them, found in the
/// same bitmasks as the newline (so a plain line's bytes are scanned once, not once for its
/// end and again for its tokens). A plain line has one separator between tokens and none
/// before the first or after the last, at most [`MAX_TOKENS`] tokens and at most
/// [`MAX_SPLIT_LEN`] bytes: every line AWS writes. Any other line (blank, `\r\n`-ended,
/// doubly spaced, long) gets `None`, its end found by `memchr`, for [`parse_into`] to split.
#[inline]
fn split_line(block: &[u8], start: usize, out: &mut Spans) -> (usize, Option<usize>) {
    let mut count = 0usize;
    let mut token_start = 0usize;
    // a separator taken to stand before the line: one at its start is a doubled one
    let mut carried = 1u64;
    let mut base = start;
    while base - start <= MAX_SPLIT_LEN {
        // (the bytes a few lines on, which the hardware's own prefetch was found to ask for
        // too late: the block was inflated whole, beyond the core's own cache)
        crate::hint::prefetch(block.as_ptr().wrapping_add(base + PREFETCH_AHEAD));
        let (s0, n0) = masks16(block, base);
        let (s1, n1) = masks16(block, base + 16);
        let (s2, n2) = masks16(block, base + 32);
        let (s3, n3) = masks16(block, base + 48);
        let mut sep = s0 | s1 << 16 | s2 << 32 | s3 << 48;
        let newline = n0 | n1 << 16 | n2 << 32 | n3 << 48;
        // bits from the block's end up are separators and not newlines: the line stops at
        // the first of either
        let left = block.len() - base.min(block.len());
        let past_end = (!0u64).checked_shl(left.min(64) as u32).unwrap_or(0);
        let stop = newline | past_end;
        let last = stop.trailing_zeros(); // 64 when the line goes on
        if last < 64 {
            sep &= !0u64 >> (63 - last); // up to the stop, which ends the last token
        }
        if sep & (sep << 1 | carried) != 0 {
            break; // a doubled, leading or trailing separator
        }
        carried = sep >> 63;
        while sep != 0 {
            let end = base - start + sep.trailing_zeros() as usize;
            sep &= sep - 1;
            let Some(slot) = out.get_mut(count) else {
                return (line_end(block, start), None);
            };
            *slot = (token_start as u32, end as u32);
            count += 1;
            token_start = end + 1;
        }
        if last < 64 {
            let end = base + last as usize;
            return match end - start <= MAX_SPLIT_LEN {
                true => (end, Some(count)),
                false => (end, None),
            };
        }
        base += 64;
    }
    (line_end(block, start), None)
}

/// How far ahead of a line's scan [`split_line`] asks for the block's bytes (about nine
/// lines of AWS's default format).
const PREFETCH_AHEAD: usize = 2048;

/// Where the line starting at `block[start..]` ends: its newline, or the block's end.
#[inline]
fn line_end(block: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i)
}

/// [`split`] for any line, one byte at a time (the general path and the reference).
fn split_plain(line: &[u8]) -> Vec<(u32, u32)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if is_space(line[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < line.len() && !is_space(line[i]) {
            i += 1;
        }
        spans.push((s as u32, i as u32));
    }
    spans
}

/// Whether `b` is ASCII, sixteen bytes at a time where SSE2 is (every x86-64), else eight
/// (the standard library's check walks the last up to 63 bytes one at a time, a tenth of a
/// line's parse; eight bytes at a time, the check was still a tenth of it).
#[inline]
fn is_ascii(b: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Some(last) = b.last_chunk::<16>() {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
        let load = |c: &[u8; 16]| {
            // SAFETY: SSE2 is part of the x86_64 baseline, and `c` is 16 bytes long.
            unsafe { _mm_loadu_si128(c.as_ptr() as *const __m128i) }
        };
        // the last sixteen bytes, overlapping the chunks already read, cover the tail
        let all = (b.chunks_exact(16)).fold(load(last), |m, c| {
            let c = c.try_into().expect("sixteen bytes");
            // SAFETY: as above
            unsafe { _mm_or_si128(m, load(c)) }
        });
        // SAFETY: as above
        return unsafe { _mm_movemask_epi8(all) } == 0;
    }
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("eight bytes"));
    if b.len() < 8 {
        return b.is_ascii();
    }
    let all = b.chunks_exact(8).fold(0u64, |m, w| m | word(w));
    // the last eight bytes, overlapping the words already read, cover the tail
    (all | word(&b[b.len() - 8..])) & HIGH == 0
}

/// Parse one line against the current layout. Trailing `#comment` text is ignored.
pub fn parse_line<'a>(line: &'a [u8], layout: &Layout) -> Result<Line<'a>, Malformed> {
    let mut rec = Record::default();
    Ok(
        match parse_into(
            line,
            layout,
            &mut rec,
            &mut [(0, 0); MAX_TOKENS],
            &mut AddrCache::none(),
            None,
            None,
        )? {
            Kind::Record => Line::Record(rec),
            Kind::Header(h) => Line::Header(h),
            Kind::Blank => Line::Blank,
        },
    )
}

/// What a line parsed into `rec` by [`parse_into`] is.
enum Kind {
    Record,
    Header(Layout),
    Blank,
}

/// [`parse_line`] into a record of the caller's (set where the line is a record), so that
/// the record is not moved from frame to frame, with the caller's room for token spans.
#[inline]
fn parse_into<'a>(
    line: &'a [u8],
    layout: &Layout,
    rec: &mut Record<'a>,
    buf: &mut Spans,
    ips: &mut AddrCache,
    presplit: Option<usize>,
    sample: Option<(&[u16; 6], bool)>,
) -> Result<Kind, Malformed> {
    let general;
    let spans: &[(u32, u32)] = match presplit.or_else(|| split(line, buf)) {
        Some(n) => &buf[..n],
        None => {
            general = split_plain(line);
            &general
        }
    };
    let tok = |i: usize| &line[spans[i].0 as usize..spans[i].1 as usize];
    if spans.is_empty() {
        return Ok(Kind::Blank);
    }
    if looks_like_header(tok(0), line) {
        let names = tokens(line)
            .map(|t| fields::normalise(&String::from_utf8_lossy(t)))
            .collect();
        return Ok(Kind::Header(Layout::new(names)));
    }
    let ascii = is_ascii(line);
    let expected = layout.fields.len();
    // a line with every field takes the read by field; a bad value, or a field short, the
    // read in the line's order, which finds the first bad value
    let by_field = layout
        .by_field()
        .filter(|_| (expected..FEW).contains(&spans.len()));
    if by_field.is_none_or(|at| read_by_field(rec, line, spans, at, ascii, ips).is_err()) {
        if let Err(e) = read_in_line_order(rec, line, spans, layout, ascii, ips) {
            // a wrong number of fields explains a bad value better than the value itself
            let found = (0..spans.len())
                .take_while(|&i| tok(i).first() != Some(&b'#'))
                .count();
            return Err(if found != expected {
                Malformed::FieldCount { expected, found }
            } else {
                e
            });
        }
    }
    let found = spans.len();
    if found < expected || (found > expected && tok(expected).first() != Some(&b'#')) {
        return Err(Malformed::FieldCount { expected, found });
    }
    if let Some((key, flows)) = sample {
        sample_record(line, spans, key, flows, rec);
    }
    Ok(Kind::Record)
}

/// Put a record of a layout that names its flows (`key`: [`Layout::flow_key`]) in the
/// samples: its flow's mark where `flows` are asked for and the flow is in their sample
/// ([`super::flow_mark`]), else its fingerprint where the record is in the sample of records
/// ([`super::fingerprint`]). Each is one in about 128 records or fewer: for the others,
/// a level from the addresses and ports (flows) or the times and bytes (records) is all.
#[inline]
fn sample_record<'a>(
    line: &'a [u8],
    spans: &[(u32, u32)],
    key: &[u16; 6],
    flows: bool,
    rec: &mut Record<'a>,
) {
    let mark = match flows {
        true => super::flow_mark(line, spans, key, rec),
        false => None,
    };
    rec.flow = mark.is_some();
    rec.fingerprint = mark.or_else(|| super::fingerprint(line, spans, key, rec));
}

/// Fewer tokens than this can be read by field (a field's position is a `u16`).
const FEW: usize = u16::MAX as usize;

/// Read the fields of `layout` from the line's tokens in the line's order, stopping at the
/// first bad value (which is then the line's first) or the last token.
fn read_in_line_order<'a>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    spans: &[(u32, u32)],
    layout: &Layout,
    ascii: bool,
    ips: &mut AddrCache,
) -> Result<(), Malformed> {
    let mut addrs = Addrs::default();
    for &(n, field) in layout.read() {
        match spans.get(n as usize) {
            Some(&at) => set_field(rec, field, line, at, ascii, &mut addrs, ips)?,
            None => break,
        }
    }
    Ok(())
}

/// Read the fields of a layout from a line with all of its tokens, field by field in a fixed
/// order (`at`: each field's position, [`Layout::by_field`]): a test of a position a field,
/// the same for every line of a layout, instead of a dispatch on each token's field. A bad
/// value is an error without saying which was first: [`read_in_line_order`] says that.
#[inline(always)]
fn read_by_field<'a>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    spans: &[(u32, u32)],
    at: &[u16; fields::FIELDS],
    ascii: bool,
    ips: &mut AddrCache,
) -> Result<(), Malformed> {
    let mut addrs = Addrs::default();
    macro_rules! read {
        ($($f:ident),*) => {$(
            if let Some(&span) = spans.get(at[Field::$f as usize] as usize) {
                set_field(rec, Field::$f, line, span, ascii, &mut addrs, ips)?;
            }
        )*};
    }
    // `srcaddr` and `dstaddr` before the `pkt-*` addresses that may take their values
    read!(
        InterfaceId,
        AccountId,
        SrcAddr,
        DstAddr,
        PktSrcAddr,
        PktDstAddr,
        Packets,
        Bytes,
        Start,
        End,
        Action,
        LogStatus,
        VpcId,
        SubnetId,
        Region,
        AzId,
        TrafficPath,
        FlowDirection,
        PktSrcAwsService,
        PktDstAwsService,
        EcsClusterName,
        EcsServiceName,
        EcsTaskId
    );
    Ok(())
}

/// The `srcaddr` and `dstaddr` tokens of the line being read, once read: a `pkt-*` address
/// with the same text (every record but a NAT's translated legs) takes their parsed value.
#[derive(Default)]
struct Addrs<'a> {
    src: &'a [u8],
    dst: &'a [u8],
}

/// Read one field's token into `rec`: one dispatch on the field a token.
#[inline(always)]
fn set_field<'a>(
    rec: &mut Record<'a>,
    f: Field,
    line: &'a [u8],
    at: (u32, u32),
    ascii: bool,
    addrs: &mut Addrs<'a>,
    ips: &mut AddrCache,
) -> Result<(), Malformed> {
    let tok = &line[at.0 as usize..at.1 as usize];
    match f {
        // (a text line's flow is read from its tokens: [`super::flow_mark`])
        Field::Other | Field::Version | Field::SrcPort | Field::DstPort | Field::Protocol => {}
        Field::InterfaceId => rec.interface_id = opt_str(tok, ascii)?,
        Field::AccountId => rec.account_id = opt_str(tok, ascii)?,
        Field::SrcAddr => {
            addrs.src = tok;
            rec.srcaddr = opt_ip(line, at, "srcaddr", ips)?
        }
        Field::DstAddr => {
            addrs.dst = tok;
            rec.dstaddr = opt_ip(line, at, "dstaddr", ips)?
        }
        Field::PktSrcAddr if same_bytes(tok, addrs.src) => rec.pkt_srcaddr = rec.srcaddr,
        Field::PktDstAddr if same_bytes(tok, addrs.dst) => rec.pkt_dstaddr = rec.dstaddr,
        Field::PktSrcAddr => rec.pkt_srcaddr = opt_ip(line, at, "pkt-srcaddr", ips)?,
        Field::PktDstAddr => rec.pkt_dstaddr = opt_ip(line, at, "pkt-dstaddr", ips)?,
        Field::Packets => rec.packets = opt_num(line, at, "packets")?,
        Field::Bytes => rec.bytes = checked_bytes(opt_num(line, at, "bytes")?)?,
        Field::Start => rec.start = checked_time(opt_num(line, at, "start")?, "start")?,
        Field::End => rec.end = checked_time(opt_num(line, at, "end")?, "end")?,
        Field::Action => rec.action = parse_action(tok)?,
        Field::LogStatus => rec.status = parse_status(tok)?,
        Field::Region => rec.region = checked_region(opt_str(tok, ascii)?)?,
        Field::AzId => rec.az_id = opt_str(tok, ascii)?,
        Field::SubnetId => rec.subnet_id = opt_str(tok, ascii)?,
        Field::VpcId => rec.vpc_id = opt_str(tok, ascii)?,
        Field::TrafficPath => {
            rec.traffic_path = opt_num(line, at, "traffic-path")?.map(|v| v.min(255) as u8)
        }
        Field::FlowDirection => rec.flow_direction = opt_str(tok, ascii)?,
        Field::PktSrcAwsService => rec.pkt_src_aws_service = opt_str(tok, ascii)?,
        Field::PktDstAwsService => rec.pkt_dst_aws_service = opt_str(tok, ascii)?,
        Field::EcsClusterName => rec.ecs_cluster_name = opt_str(tok, ascii)?,
        Field::EcsServiceName => rec.ecs_service_name = opt_str(tok, ascii)?,
        Field::EcsTaskId => rec.ecs_task_id = opt_str(tok, ascii)?,
    }
    Ok(())
}

/// `ACCEPT`/`REJECT`; `-` (NODATA/SKIPDATA records) reads as accept and carries no bytes.
pub fn parse_action(tok: &[u8]) -> Result<Action, Malformed> {
    match tok {
        b"ACCEPT" | b"-" => Ok(Action::Accept),
        b"REJECT" => Ok(Action::Reject),
        _ => Err(Malformed::BadValue("action")),
    }
}

/// `OK`/`NODATA`/`SKIPDATA`.
pub fn parse_status(tok: &[u8]) -> Result<LogStatus, Malformed> {
    match tok {
        b"OK" | b"-" => Ok(LogStatus::Ok),
        b"NODATA" => Ok(LogStatus::NoData),
        b"SKIPDATA" => Ok(LogStatus::SkipData),
        _ => Err(Malformed::BadValue("log-status")),
    }
}

/// What a line starting with `{` holds.
enum Json {
    /// A CloudWatch Logs event: its `message` is now in the buffer.
    Message,
    /// A record as an object of its fields (an Athena `UNLOAD` or a Spark table written as
    /// JSON): its values are now in the buffer, its names in the other.
    Record,
    /// A JSON object without `message`.
    NoMessage,
    /// Not JSON at all.
    Other,
}

/// A JSON object's members in their order, keys and values as they are written (a key with
/// an escape in it makes the object none of these).
struct Members<'a>(smallvec::SmallVec<[(&'a str, &'a serde_json::value::RawValue); 32]>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = smallvec::SmallVec::new();
                while let Some(kv) = m.next_entry()? {
                    members.push(kv);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A JSON value as [`unwrap_json`] needs it.
#[derive(Debug, PartialEq)]
enum Val<'a> {
    /// A string, unescaped (borrowed where it holds no escape).
    Text(std::borrow::Cow<'a, str>),
    /// A number as it is written.
    Number(&'a str),
    Null,
    /// A boolean, a list or an object.
    Other,
}

impl<'a> Val<'a> {
    /// The value serde_json took as `raw`.
    fn of_raw(raw: &'a serde_json::value::RawValue) -> Val<'a> {
        match raw.get().as_bytes() {
            b"null" => Val::Null,
            [b'"', ..] => json_str(raw).map_or(Val::Other, Val::Text),
            [b'-' | b'0'..=b'9', ..] => Val::Number(raw.get()),
            _ => Val::Other,
        }
    }
}

/// The members of a JSON object, in their order, repeats kept.
type ObjectMembers<'a> = smallvec::SmallVec<[(&'a str, Val<'a>); 32]>;

/// Pull the `message` out of a CloudWatch-style JSON line into `buf`; or, for an object of
/// flow-log fields, their values into `buf` and their names into `names` ([`JsonLine`];
/// `last`: the names of the last such object, whose fields were found flow-log fields). An
/// object [`flat_members`] reads is taken member by member as it is read; any other goes
/// through serde_json.
fn unwrap_json(line: &[u8], buf: &mut Vec<u8>, names: &mut Vec<u8>, last: &[u8]) -> Json {
    let mut one = JsonLine::new(buf, names);
    if flat_members(line, &mut |k, v| one.member(k, v)).is_some() {
        return one.finish(last);
    }
    let mut members = ObjectMembers::new();
    if !members_by_serde(line, &mut members) {
        return Json::Other;
    }
    let mut again = JsonLine::new(buf, names);
    for (k, v) in members {
        again.member(k, v);
    }
    again.finish(last)
}

/// A JSON object's members read by serde_json (any JSON; a key with an escape in it makes the
/// object none).
fn members_by_serde<'a>(line: &'a [u8], members: &mut ObjectMembers<'a>) -> bool {
    members.clear();
    let Ok(Members(read)) = serde_json::from_slice::<Members>(line) else {
        return false;
    };
    members.extend(read.into_iter().map(|(k, v)| (k, Val::of_raw(v))));
    true
}

/// A JSON object of scalar values without an escape, the shape a record's line has, read in
/// one pass over its bytes into `members`; `false` for anything else (an escape, a nested
/// value, a byte out of place), which [`members_by_serde`] reads or refuses. Where this reads
/// an object, serde_json reads the same members (a property test says so).
fn flat_object<'a>(line: &'a [u8], members: &mut ObjectMembers<'a>) -> bool {
    members.clear();
    flat_members(line, &mut |k, v| members.push((k, v))).is_some()
}

/// Whether [`flat_object`] agrees with serde_json on `line`: it declines it, or reads the
/// members serde_json reads (the check of the property test and the `json` fuzz target).
#[doc(hidden)]
pub fn flat_object_agrees(line: &[u8]) -> bool {
    let (mut flat, mut by_serde) = (ObjectMembers::new(), ObjectMembers::new());
    !flat_object(line, &mut flat) || (members_by_serde(line, &mut by_serde) && flat == by_serde)
}

/// The bytes of a JSON string [`flat_members`] looks at one at a time before it searches.
const SHORT_STRING: usize = 32;

/// [`flat_object`]'s reading, each member handed to `member` as it is read; `None` where it
/// reads no object (after handing on the members before the byte it stopped at).
#[inline(always)]
fn flat_members<'a>(line: &'a [u8], member: &mut impl FnMut(&'a str, Val<'a>)) -> Option<()> {
    let text = std::str::from_utf8(line).ok()?;
    let b = text.as_bytes();
    let ws = |mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    // a string's end (its closing quote) from the byte after its opening one; `None` where it
    // holds an escape or a control character, or does not end
    let string_end = |from: usize| {
        // (a field's value is short: its first bytes a byte at a time, the three tests in
        // one pass; a longer string, a message, by `memchr2` and a vectorised check)
        let short = &b[from..b.len().min(from + SHORT_STRING)];
        if let Some(k) = short
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        {
            return (short[k] == b'"').then_some(from + k);
        }
        let end = from + memchr::memchr2(b'"', b'\\', &b[from..])?;
        let control = b[from..end].iter().fold(false, |a, &c| a | (c < 0x20));
        (b[end] == b'"' && !control).then_some(end)
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(i + 1);
    if b.get(i) == Some(&b'}') {
        return (ws(i + 1) == b.len()).then_some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let end = string_end(i + 1)?;
        let key = &text[i + 1..end];
        i = ws(end + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(i + 1);
        let (value, next) = match *b.get(i)? {
            b'"' => {
                let end = string_end(i + 1)?;
                (
                    Val::Text(std::borrow::Cow::Borrowed(&text[i + 1..end])),
                    end + 1,
                )
            }
            b'-' | b'0'..=b'9' => {
                let end = i + number_len(&b[i..])?;
                (Val::Number(&text[i..end]), end)
            }
            _ if b[i..].starts_with(b"null") => (Val::Null, i + 4),
            _ if b[i..].starts_with(b"true") => (Val::Other, i + 4),
            _ if b[i..].starts_with(b"false") => (Val::Other, i + 5),
            _ => return None,
        };
        member(key, value);
        i = ws(next);
        match b.get(i) {
            Some(b',') => i = ws(i + 1),
            Some(b'}') => return (ws(i + 1) == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// The length of the JSON number `b` starts with (`-`, an integer part without a leading
/// zero, a fraction, an exponent); `None` where it starts none.
fn number_len(b: &[u8]) -> Option<usize> {
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i += digits(i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

/// A JSON value that is a string, unescaped: borrowed where it holds no escape (serde makes
/// every `Cow` it fills an owned copy); `None` for any other value.
fn json_str(raw: &serde_json::value::RawValue) -> Option<std::borrow::Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(s) => Some(std::borrow::Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw.get())
            .ok()
            .map(std::borrow::Cow::Owned),
    }
}

/// The fewest keys of an object that must name flow-log fields for it to be read as a record.
const JSON_RECORD_FIELDS: usize = 3;

/// A JSON line's members taken one at a time ([`unwrap_json`]): a CloudWatch event's first
/// `message`, or an object of a record's fields (`{"version": 2, "interface_id": "eni-…",
/// "srcaddr": …}`, names with `_` or `-`, in any order) written into `buf` as the line of its
/// values and into `names` as the header naming them: a number as it is written, a string as
/// it is (a time written as a date and a time of day as its seconds, [`formatted_time`]),
/// `null` or `""` as `-`. No record where fewer than [`JSON_RECORD_FIELDS`] keys name
/// flow-log fields (not looked at again where the names are the last record's), or a member
/// is none a record has (an empty key or one with a space; a list, an object, a boolean, a
/// string with a space).
struct JsonLine<'a, 'b> {
    buf: &'b mut Vec<u8>,
    names: &'b mut Vec<u8>,
    /// The members written.
    written: usize,
    /// A member no record has was met.
    no_record: bool,
    /// The first `message` member's value: the object is a CloudWatch event.
    message: Option<Val<'a>>,
}

impl<'a, 'b> JsonLine<'a, 'b> {
    fn new(buf: &'b mut Vec<u8>, names: &'b mut Vec<u8>) -> Self {
        buf.clear();
        names.clear();
        JsonLine {
            buf,
            names,
            written: 0,
            no_record: false,
            message: None,
        }
    }

    /// The next member.
    #[inline]
    fn member(&mut self, key: &'a str, value: Val<'a>) {
        if self.message.is_some() {
            return;
        }
        if key == "message" {
            self.message = Some(value);
            return;
        }
        if self.no_record {
            return;
        }
        if key.is_empty() || has_space(key.as_bytes()) {
            self.no_record = true;
            return;
        }
        let (buf, names) = (&mut *self.buf, &mut *self.names);
        if self.written > 0 {
            buf.push(b' ');
            names.push(b' ');
        }
        self.written += 1;
        names.extend_from_slice(key.as_bytes());
        match value {
            Val::Null => buf.push(b'-'),
            Val::Text(s) if s.is_empty() => buf.push(b'-'),
            Val::Text(s) => match formatted_time(s.as_bytes()) {
                Some(t) => {
                    use std::io::Write;
                    let _ = write!(buf, "{t}");
                }
                None if has_space(s.as_bytes()) => self.no_record = true,
                None => buf.extend_from_slice(s.as_bytes()),
            },
            Val::Number(n) => buf.extend_from_slice(n.as_bytes()),
            Val::Other => self.no_record = true,
        }
    }

    /// What the object was, all its members taken.
    fn finish(self, last: &[u8]) -> Json {
        match self.message {
            Some(Val::Text(m)) => {
                self.buf.clear();
                self.buf.extend_from_slice(m.as_bytes());
                return Json::Message;
            }
            Some(_) => return Json::NoMessage,
            None => {}
        }
        let known = || {
            // (the names of the members written, none with a space)
            let names = std::str::from_utf8(self.names).unwrap_or_default();
            (names.split(' '))
                .filter(|k| fields::is_known(&fields::normalise(k)))
                .count()
        };
        match !self.no_record
            && self.written > 0
            && (*self.names == last || known() >= JSON_RECORD_FIELDS)
        {
            true => Json::Record,
            false => Json::NoMessage,
        }
    }
}

/// Whether `b` holds ASCII whitespace (as [`u8::is_ascii_whitespace`]), every byte looked at
/// without a branch (a loop the compiler vectorises: keys and values are short).
#[inline]
fn has_space(b: &[u8]) -> bool {
    b.iter().fold(false, |a, &c| {
        a | (c == b' ') | ((c.wrapping_sub(b'\t') < 5) & (c != 0x0b))
    })
}

/// A line of comma-separated values (an Athena query's result downloaded as CSV, a
/// spreadsheet's export) written into `buf` as the space-separated line it stands for: each
/// field's quotes taken off, an empty field `-`, a time written as a date and a time of day
/// (`2026-09-01 00:05:00.000`, as Athena's `from_unixtime` gives it; [`formatted_time`]) as
/// its epoch seconds. `false` where the line holds no comma, or a field holds what no
/// flow-log field does (a quote inside, a space but in such a time), so that nothing but a
/// field list is taken for one (and a quoted comma, which splits a field, leaves a quote).
pub fn unwrap_csv(line: &[u8], buf: &mut Vec<u8>) -> bool {
    let line = line.trim_ascii_end();
    if memchr::memchr(b',', line).is_none() {
        return false;
    }
    buf.clear();
    for (i, field) in line.split(|&b| b == b',').enumerate() {
        let f = match field.trim_ascii() {
            [b'"', inner @ .., b'"'] => inner,
            f => f,
        };
        if i > 0 {
            buf.push(b' ');
        }
        if let Some(t) = formatted_time(f) {
            buf.extend_from_slice(t.to_string().as_bytes());
            continue;
        }
        if f.iter().any(|&b| matches!(b, b'"' | b' ' | b'\t')) {
            return false;
        }
        buf.extend_from_slice(if f.is_empty() { b"-" } else { f });
    }
    true
}

/// The epoch seconds of a time written as a date and a time of day, as query engines write a
/// timestamp: `YYYY-MM-DD HH:MM:SS` or with a `T`, then any fraction of a second (dropped:
/// flow logs count whole seconds), then `Z`, an offset (`+02:00`, `-0530`) or nothing (UTC).
/// `None` for anything else, an impossible date or time among it.
fn formatted_time(f: &[u8]) -> Option<i64> {
    if f.len() < 19 || f[4] != b'-' || !matches!(f[10], b' ' | b'T') || f[13] != b':' {
        return None;
    }
    let (stamp, rest) = f.split_at(19);
    let rest = match rest {
        [b'.', tail @ ..] => {
            let digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
            (digits > 0).then_some(&tail[digits..])?
        }
        r => r,
    };
    let offset = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, tail @ ..] => {
            let m = match tail {
                [b':', m1, m2] | [m1, m2] => [*m1, *m2],
                _ => return None,
            };
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from((a - b'0') * 10 + (b - b'0')))
            };
            let (h, m) = (two(*h1, *h2)?, two(m[0], m[1])?);
            if h > 18 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let t = crate::time::parse_instant(std::str::from_utf8(stamp).ok()?)?;
    Some(t - offset)
}

/// The record after a CloudWatch Logs export task's timestamp
/// (`2026-09-01T00:05:00.000Z 2 123456789012 eni-...`), or `None` when the line has none.
/// The check costs a few byte comparisons on ordinary lines.
#[inline]
fn after_export_timestamp(line: &[u8]) -> Option<&[u8]> {
    if line.len() < 22
        || !line[0].is_ascii_digit()
        || line[4] != b'-'
        || line[7] != b'-'
        || line[10] != b'T'
        || line[13] != b':'
    {
        return None;
    }
    let sp = memchr::memchr(b' ', line)?;
    let stamp = &line[..sp];
    let ok = stamp.len() <= 30
        && stamp.last() == Some(&b'Z')
        && stamp
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z'));
    ok.then(|| &line[sp + 1..])
}

/// Parses blocks of whole lines against a layout that header lines may change. The state
/// between blocks is only the layout and the line number, so a stream can be fed block by
/// block, or a file cut at line boundaries can be parsed chunk by chunk in parallel.
pub struct Decoder {
    layout: Layout,
    initial: Layout,
    /// Lines seen so far (the number of the last line fed).
    pub lines: u64,
    /// Header lines that named a layout different from the one in force before them.
    pub layout_changes: u64,
    /// A JSON line's message, or a CSV line as the line it stands for ([`unwrap_csv`]).
    json: Vec<u8>,
    /// The names of the last JSON record's fields ([`Json::Record`]), and room for the next's.
    json_names: Vec<u8>,
    names: Vec<u8>,
    /// The token spans of the line being parsed (kept, not zeroed for every line).
    spans: Box<Spans>,
    /// The addresses read from the lines so far, by their text.
    ips: AddrCache,
    /// Whether the sink of the block being fed wants the records' flows ([`Sink::flows`]).
    flows: bool,
}

impl Decoder {
    pub fn new(layout: &Layout) -> Decoder {
        Decoder {
            layout: layout.clone(),
            initial: layout.clone(),
            lines: 0,
            layout_changes: 0,
            json: Vec::new(),
            json_names: Vec::new(),
            names: Vec::new(),
            spans: Box::new([(0, 0); MAX_TOKENS]),
            ips: AddrCache::new(),
            flows: false,
        }
    }

    /// The layout in force now.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Parse every line of `text`, a block of about [`BLOCK`] bytes of whole lines at a
    /// time, as a stream is fed (the sink's pauses come as often); the last line may lack its
    /// newline.
    pub fn feed_in_blocks<S: Sink>(&mut self, text: &[u8], sink: &mut S) {
        let mut rest = text;
        while !rest.is_empty() {
            let cut = match rest.get(BLOCK..) {
                Some(after) => memchr::memchr(b'\n', after).map_or(rest.len(), |i| BLOCK + i + 1),
                None => rest.len(),
            };
            self.feed(&rest[..cut], sink);
            rest = &rest[cut..];
        }
    }

    /// Parse every line of `block`; the last line may lack its newline.
    pub fn feed<S: Sink>(&mut self, block: &[u8], sink: &mut S) {
        self.flows = sink.flows();
        let mut batch = Batch::<BATCH>::new();
        let mut start = 0;
        while start < block.len() {
            let (end, split) = split_line(block, start, &mut self.spans);
            self.line(&block[start..end], split, sink, &mut batch);
            start = end + 1;
        }
        batch.flush(sink);
        sink.pause();
    }

    /// One line; `split`: its tokens' count, where [`split_line`] left them in `spans`.
    fn line<'a, S: Sink, const N: usize>(
        &mut self,
        line: &'a [u8],
        split: Option<usize>,
        sink: &mut S,
        batch: &mut Batch<'a, N>,
    ) {
        // (a text saved by an editor that marks UTF-8, or such texts concatenated: the mark
        // is not the line's; its tokens are split again without it)
        let (line, split) = match line.first() == Some(&BOM[0]) && line.starts_with(&BOM) {
            true => (&line[BOM.len()..], None),
            false => (line, split),
        };
        if self.lines == 0 {
            batch.flush(sink);
            sink.layout(self.layout.names.len());
        }
        self.lines += 1;
        if line.len() > MAX_LINE {
            batch.flush(sink);
            sink.malformed(self.lines, Malformed::LineTooLong);
            return;
        }
        if line.first() == Some(&b'{') {
            // (a JSON line's record borrows the decoder's room for the message, which the
            // next JSON line overwrites: it goes on alone, after the lines before it)
            batch.flush(sink);
            let mut json = std::mem::take(&mut self.json);
            let kind = unwrap_json(line, &mut json, &mut self.names, &self.json_names);
            if let Json::Record = kind {
                self.json_layout(sink);
            }
            match kind {
                Json::Message | Json::Record => {
                    let mut one = Batch::<1>::new();
                    self.parse(&json, None, sink, &mut one);
                    one.flush(sink);
                }
                Json::NoMessage => sink.malformed(self.lines, Malformed::JsonWithoutMessage),
                Json::Other => {}
            }
            self.json = json;
            if !matches!(kind, Json::Other) {
                return;
            }
        }
        match after_export_timestamp(line) {
            Some(record) => self.parse(record, None, sink, batch),
            // (a JSON line's parse above may have split another text)
            None if line.first() == Some(&b'{') => self.parse(line, None, sink, batch),
            None => self.parse(line, split, sink, batch),
        }
    }

    /// The layout of a JSON record's fields, whose names [`unwrap_json`] left in `names`: in
    /// force from this record on where it is not already (an object names its own fields, so
    /// this is no header line, and no change of the layout a header would be counted as).
    #[cold]
    fn json_layout<S: Sink>(&mut self, sink: &mut S) {
        if self.names == self.json_names {
            return;
        }
        std::mem::swap(&mut self.names, &mut self.json_names);
        let names = tokens(&self.json_names)
            .map(|t| fields::normalise(&String::from_utf8_lossy(t)))
            .collect();
        self.layout = Layout::new(names).projected(self.layout.keep);
        sink.layout(self.layout.names.len());
    }

    /// Parse one line (`split`: as in [`Decoder::line`]): a record joins `batch`; anything
    /// else is handed over after the records before it.
    fn parse<'a, S: Sink, const N: usize>(
        &mut self,
        line: &'a [u8],
        split: Option<usize>,
        sink: &mut S,
        batch: &mut Batch<'a, N>,
    ) {
        match parse_into(
            line,
            &self.layout,
            batch.next(),
            &mut self.spans,
            &mut self.ips,
            split,
            self.layout.flow_key().map(|key| (key, self.flows)),
        ) {
            Ok(Kind::Record) => batch.push(sink),
            Ok(Kind::Header(h)) => {
                batch.flush(sink);
                let h = h.projected(self.layout.keep);
                if h != self.layout && !(self.lines == 1 && h == self.initial) {
                    self.layout_changes += 1;
                }
                self.layout = h;
                sink.header();
                sink.layout(self.layout.names.len());
            }
            Ok(Kind::Blank) => {
                batch.flush(sink);
                sink.blank()
            }
            Err(_)
                if memchr::memmem::find(line, b"TransitGateway").is_some()
                    || memchr::memmem::find(line, b" tgw-").is_some() =>
            {
                batch.flush(sink);
                sink.malformed(self.lines, Malformed::TransitGateway)
            }
            Err(why) => {
                batch.flush(sink);
                if !self.csv_line(line, sink) {
                    sink.malformed(self.lines, why)
                }
            }
        }
    }

    /// A line of comma-separated values that did not parse as a line of fields, parsed as
    /// the line it stands for ([`unwrap_csv`]) and handed over alone (its record borrows the
    /// decoder's room for it, which the next such line overwrites); `false` where it is no
    /// such line. (The converted line holds no comma: it is not converted again.)
    #[cold]
    fn csv_line<S: Sink>(&mut self, line: &[u8], sink: &mut S) -> bool {
        let mut buf = std::mem::take(&mut self.json);
        let csv = unwrap_csv(line, &mut buf);
        if csv {
            let mut one = Batch::<1>::new();
            self.parse(&buf, None, sink, &mut one);
            one.flush(sink);
        }
        self.json = buf;
        csv
    }
}

/// How many records of consecutive lines a decoder holds before handing them over, first
/// shown together ([`Sink::upcoming`]).
const BATCH: usize = 64;

/// Records of consecutive lines, parsed and not yet handed over (on the stack: no
/// allocation). Each says whether its ENI is the record's before ([`Record::same_interface`]),
/// compared here once, so that neither the prefetch nor the account stage compares again.
struct Batch<'a, const N: usize> {
    recs: [Record<'a>; N],
    len: usize,
    /// The ENI of the record before, while records follow each other.
    last: Option<&'a str>,
}

impl<'a, const N: usize> Batch<'a, N> {
    fn new() -> Self {
        Batch {
            recs: std::array::from_fn(|_| Record::default()),
            len: 0,
            last: None,
        }
    }

    /// The room for the next line's record, emptied.
    #[inline]
    fn next(&mut self) -> &mut Record<'a> {
        let rec = &mut self.recs[self.len];
        *rec = Record::default();
        rec
    }

    /// Keep the record [`Batch::next`] gave room for; hand the batch over when full.
    #[inline]
    fn push<S: Sink>(&mut self, sink: &mut S) {
        let rec = &mut self.recs[self.len];
        rec.same_interface = match (self.last, rec.interface_id) {
            (Some(a), Some(b)) => same_bytes(a.as_bytes(), b.as_bytes()),
            _ => false,
        };
        self.last = rec.interface_id;
        self.len += 1;
        if self.len == N {
            self.hand_over(sink);
        }
    }

    /// Hand over the records held, in order, before a line that is not a record (which
    /// ends the run of records the next one would repeat the ENI of).
    #[inline]
    fn flush<S: Sink>(&mut self, sink: &mut S) {
        self.hand_over(sink);
        self.last = None;
    }

    /// Hand over the records held, in order.
    #[inline]
    fn hand_over<S: Sink>(&mut self, sink: &mut S) {
        let recs = &self.recs[..self.len];
        if recs.len() > 1 {
            sink.upcoming(recs);
        }
        for rec in recs {
            sink.record(rec);
        }
        self.len = 0;
    }
}

/// Size of the blocks a stream is read in.
pub const BLOCK: usize = 1 << 20;

/// Cuts a byte stream into runs of whole lines without copying them: one buffer, grown only
/// when a run needs it (so small inputs keep a small buffer), refilled in place. A line longer
/// than [`MAX_LINE`] is cut short: its first `MAX_LINE + 1` bytes are kept (so the decoder
/// still sees one line, and one too long) and the rest is dropped as it is read, so the
/// buffer never holds more than about twice `max(target, MAX_LINE)`.
pub struct Blocks {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Dropping the rest of an over-long line: bytes read from `end` on are discarded up to
    /// the next newline.
    skipping: bool,
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            eof: false,
            skipping: false,
        }
    }
}

impl Blocks {
    /// The bytes of a range returned by [`Blocks::next`].
    pub fn get(&self, r: std::ops::Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// The next run of whole lines, of at least `target` bytes unless the stream ends first
    /// (the last line of a stream may lack its newline). `None` at the end.
    pub fn next<R: Read>(
        &mut self,
        reader: &mut R,
        target: usize,
    ) -> std::io::Result<Option<std::ops::Range<usize>>> {
        loop {
            let len = self.end - self.start;
            if !self.skipping && (len >= target || self.eof) {
                if let Some(p) = memchr::memrchr(b'\n', &self.buf[self.start..self.end]) {
                    let r = self.start..self.start + p + 1;
                    self.start = r.end;
                    return Ok(Some(r));
                }
                if self.eof {
                    if len == 0 {
                        return Ok(None);
                    }
                    let r = self.start..self.end;
                    self.start = self.end;
                    return Ok(Some(r));
                }
            }
            if !self.skipping {
                // the unfinished last line: cut it short once it is too long
                let line_start = memchr::memrchr(b'\n', &self.buf[self.start..self.end])
                    .map_or(self.start, |p| self.start + p + 1);
                if self.end - line_start > MAX_LINE {
                    self.end = line_start + MAX_LINE + 1;
                    self.skipping = true;
                }
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            let n = match reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    self.skipping = false;
                    continue;
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.skipping {
                // keep only what follows the over-long line's newline, if it came
                let fresh = self.end..self.end + n;
                if let Some(p) = memchr::memchr(b'\n', &self.buf[fresh.clone()]) {
                    self.buf.copy_within(fresh.start + p..fresh.end, self.end);
                    self.end += n - p;
                    self.skipping = false;
                }
            } else {
                self.end += n;
            }
        }
    }

    /// After a read error: the whole lines still buffered (the partial last one is dropped).
    pub fn whole_lines_left(&mut self) -> Option<std::ops::Range<usize>> {
        let p = memchr::memrchr(b'\n', &self.buf[self.start..self.end])?;
        let r = self.start..self.start + p + 1;
        self.start = self.end;
        Some(r)
    }
}

/// Decode a whole text stream into `sink`, block by block. `layout` is the layout to use
/// until a header line says otherwise. Returns the number of lines read, or the I/O error that
/// stopped the stream (with the lines read before it already delivered).
pub fn decode<R: Read, S: Sink>(
    mut reader: R,
    layout: &Layout,
    sink: &mut S,
) -> Result<u64, (u64, std::io::Error)> {
    let mut d = Decoder::new(layout);
    let mut blocks = Blocks::default();
    loop {
        match blocks.next(&mut reader, BLOCK) {
            Ok(None) => return Ok(d.lines),
            Ok(Some(r)) => d.feed(blocks.get(r), sink),
            Err(e) => {
                if let Some(r) = blocks.whole_lines_left() {
                    d.feed(blocks.get(r), sink);
                }
                return Err((d.lines, e));
            }
        }
    }
}

/// Decode text already in memory (no copy), fed a block of about [`BLOCK`] bytes of whole
/// lines at a time, as a stream is (the sink's pauses come as often). Returns the number of
/// lines.
pub fn decode_slice<S: Sink>(text: &[u8], layout: &Layout, sink: &mut S) -> u64 {
    let mut d = Decoder::new(layout);
    d.feed_in_blocks(text, sink);
    d.lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// JSON objects of scalar values, written every way JSON allows and then damaged:
        /// wherever the one-pass reader takes a line for an object it reads the members
        /// serde_json reads, and it takes every object without an escape or a nested value.
        #[test]
        fn flat_objects_read_as_serde_json_reads_them(
            members in proptest::collection::vec(
                (
                    prop_oneof![Just("version"), Just("interface_id"), Just("bytes"), Just("é k"), Just(""), Just("message"), Just("a_key_of_more_than_thirty_two_bytes_é")],
                    prop_oneof![
                        Just("null".to_string()), Just("true".to_string()), Just("false".to_string()),
                        Just("\"\"".to_string()), Just("\"eni-0a1b\"".to_string()), Just("\"2026-09-01 00:05:00.000\"".to_string()),
                        Just("\"é😀\"".to_string()), Just("0".to_string()), Just("-0.5e+3".to_string()),
                        Just("1788220800".to_string()), Just("1E400".to_string()), "-?[0-9]{1,20}",
                        Just("\"a\\\"b\"".to_string()), Just("[1]".to_string()), Just("{}".to_string()),
                        // (longer than the bytes looked at one at a time: searched)
                        Just(format!("\"{}\"", "long value ".repeat(4))),
                        Just(format!("\"{}\\n\"", "x".repeat(40))),
                        Just(format!("\"{}\u{1}\"", "y".repeat(40))),
                        Just("\"a\u{1f}b\"".to_string()),
                    ],
                ),
                0..12,
            ),
            spaces in proptest::collection::vec(prop_oneof![Just(""), Just(""), Just(" "), Just("\t"), Just("\r\n")], 64),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..3),
        ) {
            let mut sp = spaces.iter().cycle();
            let mut line = format!("{}{{{}", sp.next().unwrap(), sp.next().unwrap());
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    line += &format!(",{}", sp.next().unwrap());
                }
                line += &format!("\"{k}\"{}:{}{v}{}", sp.next().unwrap(), sp.next().unwrap(), sp.next().unwrap());
            }
            line += &format!("}}{}", sp.next().unwrap());
            let mut bytes = line.into_bytes();
            // (what the one-pass reader takes: no edit, no escape, no nested value, numbers as
            // JSON writes them)
            let plain = edits.is_empty()
                && members.iter().all(|(_, v)| {
                    !v.contains('\\')
                        && !v.starts_with(['[', '{'])
                        && serde_json::from_str::<&serde_json::value::RawValue>(v).is_ok()
                });
            for (at, b) in edits {
                let at = at.index(bytes.len());
                bytes[at] = b;
            }
            if plain {
                prop_assert!(flat_object(&bytes, &mut ObjectMembers::new()), "{}", String::from_utf8_lossy(&bytes));
            }
            prop_assert!(flat_object_agrees(&bytes), "{}", String::from_utf8_lossy(&bytes));
        }
    }

    proptest! {
        /// The bitmask tokenizer finds exactly the tokens of the plain one: odd separators,
        /// non-ASCII, tokens across 16- and 64-byte block edges, too many tokens, no final
        /// separator.
        #[test]
        fn fast_tokenizer_agrees_with_the_plain_one(
            toks in proptest::collection::vec(
                prop_oneof![
                    Just("-".to_string()), Just("#c".to_string()), Just("é".to_string()),
                    Just("eni-0123456789abcdef0".to_string()), Just("x".repeat(15)),
                    Just("y".repeat(16)), Just("z".repeat(17)), "[a-z0-9.]{0,40}",
                    Just("w".repeat(63)), Just("v".repeat(64)), Just("u".repeat(130)),
                ],
                0..80,
            ),
            seps in proptest::collection::vec(prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \r"), Just("\n")], 80),
            lead in prop_oneof![Just(""), Just(" "), Just("\t")],
            trail in proptest::bool::ANY,
        ) {
            let mut line = lead.to_string();
            for (i, t) in toks.iter().enumerate() {
                line.push_str(t);
                if trail || i + 1 < toks.len() {
                    line.push_str(seps[i]);
                }
            }
            let b = line.as_bytes();
            let mut buf = [(0u32, 0u32); MAX_TOKENS];
            let plain = split_plain(b);
            match split(b, &mut buf) {
                Some(n) => prop_assert_eq!(&buf[..n], &plain[..]),
                None => prop_assert!(plain.len() > MAX_TOKENS || b.len() > MAX_SPLIT_LEN),
            }
            let words: Vec<&[u8]> = tokens(b).collect();
            let spans: Vec<&[u8]> = plain.iter().map(|&(s, e)| &b[s as usize..e as usize]).collect();
            prop_assert_eq!(words, spans);
        }
    }

    proptest! {
        /// The line splitter finds each line's end where `memchr` does, and splits every
        /// plain line (one separator between tokens, none around them, within the bounds)
        /// exactly as the plain tokenizer does: lines across 16- and 64-byte edges, ending
        /// at the block's end with or without a newline, blank, `\r\n`-ended, doubly
        /// spaced, too long or of too many tokens (those left to the general split).
        #[test]
        fn the_line_splitter_finds_ends_and_tokens(
            lines in proptest::collection::vec((
                proptest::collection::vec(prop_oneof![
                    Just("5".to_string()), Just("eni-0123456789abcdef0".to_string()),
                    "[a-z0-9.é-]{1,20}", Just("x".repeat(63)), Just("y".repeat(64)),
                ], 0..70),
                proptest::collection::vec(prop_oneof![
                    12 => Just(" "), 1 => Just("  "), 1 => Just("\t"), 1 => Just(" \r"),
                ], 70),
                prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\r")],
            ), 1..12),
            long in proptest::bool::weighted(0.1),
            last_newline in proptest::bool::ANY,
            skip in 0usize..3,
        ) {
            let mut text: Vec<u8> = "z".repeat(skip).into_bytes();
            let mut starts = Vec::new();
            for (i, (toks, seps, end)) in lines.iter().enumerate() {
                if i > 0 || skip > 0 {
                    text.push(b'\n');
                }
                starts.push(text.len());
                for (j, t) in toks.iter().enumerate() {
                    if j > 0 {
                        text.extend_from_slice(seps[j].as_bytes());
                    }
                    text.extend_from_slice(t.as_bytes());
                    if long && j == 0 {
                        text.extend_from_slice("l".repeat(MAX_SPLIT_LEN).as_bytes());
                    }
                }
                text.extend_from_slice(end.as_bytes());
            }
            if last_newline {
                text.push(b'\n');
            }
            let mut spans = [(0u32, 0u32); MAX_TOKENS];
            for &start in &starts {
                let want_end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
                let (end, split) = split_line(&text, start, &mut spans);
                prop_assert_eq!(end, want_end);
                let line = &text[start..end];
                let plain_tokens = split_plain(line);
                let plain = !line.is_empty()
                    && !is_space(line[0])
                    && !is_space(line[line.len() - 1])
                    && !line.windows(2).any(|w| is_space(w[0]) && is_space(w[1]))
                    && plain_tokens.len() <= MAX_TOKENS
                    && line.len() <= MAX_SPLIT_LEN;
                prop_assert_eq!(split.is_some(), plain, "{:?}", String::from_utf8_lossy(line));
                if let Some(n) = split {
                    prop_assert_eq!(&spans[..n], &plain_tokens[..]);
                }
            }
        }
    }

    /// A token for a field: a value it reads (a choice of several, `-` among them) or, now
    /// and then, one of any field's (often wrong for this one).
    fn token_for(field: Field, pick: usize, wrong: bool) -> &'static str {
        const ANY: &[&str] = &[
            "-",
            "7",
            "1700000060",
            "10.0.1.5",
            "52.216.8.1",
            "ACCEPT",
            "NODATA",
            "eu-west-1",
            "eni-0a1b",
            "2001:db8::1",
            "x",
            "99999999999999999999",
        ];
        let good: &[&str] = match field {
            Field::SrcAddr | Field::DstAddr | Field::PktSrcAddr | Field::PktDstAddr => {
                &["10.0.1.5", "52.216.8.1", "-", "10.0.1.5", "2001:db8::1"]
            }
            Field::Packets | Field::Bytes | Field::Start | Field::End | Field::TrafficPath => {
                &["7", "1700000060", "-", "1700000000123", "0"]
            }
            Field::Action => &["ACCEPT", "REJECT", "-"],
            Field::LogStatus => &["OK", "NODATA", "SKIPDATA", "-"],
            Field::Region => &["eu-west-1", "us-east-1", "-"],
            _ => &["eni-0a1b", "vpc-1", "-", "service-a", "euw1-az1"],
        };
        if wrong {
            ANY[pick % ANY.len()]
        } else {
            good[pick % good.len()]
        }
    }

    proptest! {
        /// Reading a line field by field gives the record the read in the line's order gives,
        /// and fails where it fails: random layouts (any known names in any order, projected
        /// or not), values good and bad for their field.
        #[test]
        fn reading_by_field_is_reading_in_line_order(
            picks in proptest::collection::vec(
                (0..fields::KNOWN_NAMES.len(), 0usize..12, 0u8..12), 1..MAX_TOKENS,
            ),
            engine_only in proptest::bool::ANY,
        ) {
            let mut names: Vec<String> = Vec::new();
            let mut toks: Vec<&str> = Vec::new();
            for &(n, pick, roll) in &picks {
                let name = fields::KNOWN_NAMES[n];
                if names.iter().any(|m| m == name) {
                    continue;
                }
                names.push(name.to_string());
                toks.push(token_for(fields::field_of(name), pick, roll == 0));
            }
            let mut layout = Layout::new(names);
            if engine_only {
                layout = layout.projected(fields::ENGINE_FIELDS);
            }
            let line = toks.join(" ");
            let mut buf = [(0u32, 0u32); MAX_TOKENS];
            let n = split(line.as_bytes(), &mut buf).expect("a short line");
            let at = layout.by_field().expect("each name once");
            let (mut by_field, mut in_order) = (Record::default(), Record::default());
            // (one cache for both reads: the second finds the first's addresses there)
            let mut ips = AddrCache::new();
            let a = read_by_field(&mut by_field, line.as_bytes(), &buf[..n], at, true, &mut ips);
            let l = line.as_bytes();
            let b = read_in_line_order(&mut in_order, l, &buf[..n], &layout, true, &mut ips);
            prop_assert_eq!(a.is_ok(), b.is_ok(), "{}", line);
            if a.is_ok() {
                prop_assert_eq!(by_field, in_order, "{}", line);
            }
        }
    }

    /// A line of more tokens than the bitmask tokenizer takes (the general path) is read by
    /// field too, with the value of each field from its own position, and its first bad
    /// value named.
    #[test]
    fn a_line_of_a_hundred_fields_is_read_by_field() {
        let mut names: Vec<String> = (0..97).map(|i| format!("x-{i}")).collect();
        names.extend(["srcaddr", "bytes", "region"].map(String::from));
        let layout = Layout::new(names);
        assert!(layout.by_field().is_some());
        let fill = vec!["-"; 97].join(" ");
        match parse_line(
            format!("{fill} 10.0.1.5 1234 eu-west-1").as_bytes(),
            &layout,
        ) {
            Ok(Line::Record(r)) => {
                assert_eq!(r.srcaddr, Some("10.0.1.5".parse().unwrap()));
                assert_eq!((r.bytes, r.region), (Some(1234), Some("eu-west-1")));
            }
            other => panic!("a record, not {other:?}"),
        }
        let bad = format!("{fill} 10.0.1.999 12x eu-west-1");
        assert_eq!(
            parse_line(bad.as_bytes(), &layout).unwrap_err(),
            Malformed::BadAddress("srcaddr")
        );
    }

    /// A layout that reads a field at two positions is read in the line's order only.
    #[test]
    fn a_field_named_twice_is_read_in_line_order() {
        let twice = Layout::new(fields::parse_field_list("version region bytes region"));
        assert!(twice.by_field().is_none());
        let once = Layout::new(fields::parse_field_list("version region bytes"));
        let at = once.by_field().expect("each name once");
        assert_eq!(
            (at[Field::Region as usize], at[Field::Bytes as usize]),
            (1, 2)
        );
        assert_eq!(at[Field::Start as usize], u16::MAX);
        // the second `region` is the one that stands, and the first's bad value is seen
        assert!(parse_line(b"2 eu-west-1 10 bad/region", &twice).is_err());
        assert!(parse_line(b"2 bad/region 10 eu-west-1", &twice).is_err());
        match parse_line(b"2 us-east-1 10 eu-west-1", &twice) {
            Ok(Line::Record(r)) => assert_eq!(r.region, Some("eu-west-1")),
            _ => panic!("a record"),
        }
    }

    proptest! {
        /// The ASCII check, sixteen or eight bytes at a time, is the standard library's, at
        /// every length and position of a high byte.
        #[test]
        fn ascii_check_agrees_with_std(
            len in 0usize..200, at in 0usize..200, high in 0x80u8..=0xff, put in proptest::bool::ANY,
        ) {
            let mut b = vec![b'a'; len];
            if put && at < len {
                b[at] = high;
            }
            prop_assert_eq!(is_ascii(&b), b.is_ascii());
        }
    }

    proptest! {
        /// Any bytes against any layout: a record, a header, a blank line or a reason, never a
        /// panic; and a record only when the field count matches.
        #[test]
        fn any_line_parses_or_says_why(
            line in proptest::collection::vec(prop_oneof![
                Just(b' '), Just(b'\t'), Just(b'\r'), Just(b'-'), Just(b'#'), Just(b'.'),
                Just(b':'), Just(b'1'), Just(b'a'), Just(0xc3u8), proptest::num::u8::ANY,
            ], 0..300),
            n in 1usize..40,
        ) {
            let names: Vec<String> = fields::parse_field_list(DEFAULT_V2_AND_MORE)
                .into_iter()
                .cycle()
                .take(n)
                .collect();
            let layout = Layout::new(names);
            if let Ok(Line::Record(_)) = parse_line(&line, &layout) {
                let words: Vec<&[u8]> = tokens(&line).collect();
                prop_assert!(
                    words.len() == n || (words.len() > n && words[n].first() == Some(&b'#'))
                );
            }
        }
    }

    const DEFAULT_V2_AND_MORE: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status pkt-srcaddr pkt-dstaddr region traffic-path";

    fn v2() -> Layout {
        Layout::default_v2()
    }

    proptest! {
        /// A `pkt-*` address is what its own text says, whether it repeats `srcaddr` or
        /// `dstaddr` (and takes their parsed value) or not, in either order of the fields.
        #[test]
        fn packet_addresses_read_as_their_own_text(
            addrs in proptest::collection::vec(
                prop_oneof!["-", "10\\.0\\.0\\.[0-9]", "52\\.216\\.[0-9]\\.1", "2600:1f18::[0-9]", "bogus"],
                4,
            ),
            pkt_first in any::<bool>(),
        ) {
            let names = match pkt_first {
                false => "srcaddr dstaddr pkt-srcaddr pkt-dstaddr",
                true => "pkt-srcaddr pkt-dstaddr srcaddr dstaddr",
            };
            let layout = Layout::new(fields::parse_field_list(names));
            let line = addrs.join(" ");
            let parsed = parse_line(line.as_bytes(), &layout);
            // the reference: each token parsed on its own, in the layout's order
            let own = |t: &str, name| {
                opt_ip(t.as_bytes(), (0, t.len() as u32), name, &mut AddrCache::none())
            };
            let order: [(usize, &str); 4] = match pkt_first {
                false => [(0, "srcaddr"), (1, "dstaddr"), (2, "pkt-srcaddr"), (3, "pkt-dstaddr")],
                true => [(0, "pkt-srcaddr"), (1, "pkt-dstaddr"), (2, "srcaddr"), (3, "dstaddr")],
            };
            let mut want = [None; 4];
            let mut error = None;
            for (i, name) in order {
                match own(&addrs[i], name) {
                    Ok(v) => want[i] = v,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            match (parsed, error) {
                (Err(e), Some(w)) => prop_assert_eq!(e, w),
                (Ok(Line::Record(r)), None) => {
                    let got = match pkt_first {
                        false => [r.srcaddr, r.dstaddr, r.pkt_srcaddr, r.pkt_dstaddr],
                        true => [r.pkt_srcaddr, r.pkt_dstaddr, r.srcaddr, r.dstaddr],
                    };
                    prop_assert_eq!(got, want);
                }
                (other, w) => prop_assert!(false, "{:?} against {:?}", other.is_ok(), w),
            }
        }
    }

    #[test]
    fn parses_a_default_record() {
        let l = b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n";
        let Line::Record(r) = parse_line(l, &v2()).unwrap() else {
            panic!()
        };
        assert_eq!(r.interface_id, Some("eni-1235b8ca123456789"));
        assert_eq!(r.bytes, Some(4249));
        assert_eq!(r.start, Some(1418530010));
        assert_eq!(r.action, Action::Accept);
    }

    #[test]
    fn header_blank_nodata_and_comments() {
        let h = parse_line(b"version account-id interface-id srcaddr\n", &v2()).unwrap();
        assert!(matches!(h, Line::Header(ref l) if l.names.len() == 4));
        // AWS's format string as a header line
        let h = parse_line(b"${version} ${interface-id} ${pkt-srcaddr}\n", &v2()).unwrap();
        let want = [Field::Version, Field::InterfaceId, Field::PktSrcAddr];
        assert!(matches!(h, Line::Header(ref l) if l.fields == want));
        let bad = parse_line(b"${nothing-known} 1 2", &v2()).unwrap_err();
        assert!(matches!(bad, Malformed::FieldCount { found: 3, .. }));
        assert!(matches!(parse_line(b"  \r\n", &v2()).unwrap(), Line::Blank));
        let nd = b"2 123456789010 eni-1 - - - - - - - 1431280876 1431280934 - NODATA";
        let Line::Record(r) = parse_line(nd, &v2()).unwrap() else {
            panic!()
        };
        assert_eq!(r.status, LogStatus::NoData);
        assert_eq!(r.bytes, None);
        let nat = Layout::new(fields::parse_field_list(
            "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr",
        ));
        let c = b"i-0 eni-1 10.0.1.5 203.0.113.5 10.0.1.5 203.0.113.5 #Traffic from the source";
        assert!(matches!(parse_line(c, &nat).unwrap(), Line::Record(_)));
    }

    #[test]
    fn unknown_fields_and_millisecond_timestamps() {
        let l = Layout::new(fields::parse_field_list(
            "interface-id some-future-field bytes start end",
        ));
        let Line::Record(r) =
            parse_line(b"eni-1 whatever 10 1788220800123 1788220860999", &l).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (r.bytes, r.start, r.end),
            (Some(10), Some(1_788_220_800), Some(1_788_220_860))
        );
        let h = parse_line(b"version brand-new-field bytes", &l).unwrap();
        assert!(matches!(h, Line::Header(ref x) if x.fields[1] == Field::Other));
    }

    #[test]
    fn malformed_lines_say_why() {
        assert_eq!(
            parse_line(b"Phony unsupported log format.", &v2()).unwrap_err(),
            Malformed::FieldCount {
                expected: 14,
                found: 4
            }
        );
        assert_eq!(
            parse_line(b"bogus line", &v2()).unwrap_err(),
            Malformed::FieldCount {
                expected: 14,
                found: 2
            }
        );
        let bad = b"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 20 12x 1 2 ACCEPT OK";
        assert_eq!(
            parse_line(bad, &v2()).unwrap_err(),
            Malformed::BadNumber("bytes")
        );
        let extra = b"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 20 12 1 2 ACCEPT OK extra more";
        assert_eq!(
            parse_line(extra, &v2()).unwrap_err(),
            Malformed::FieldCount {
                expected: 14,
                found: 16
            }
        );
    }

    #[test]
    fn fields_outside_the_projection_are_skipped_unparsed() {
        let line = b"2 acct eni-1 10.0.0.1 10.0.0.2 1 2 6 lots 12 1788220800 1788220860 ACCEPT OK";
        assert_eq!(
            parse_line(line, &v2()).unwrap_err(),
            Malformed::BadNumber("packets")
        );
        let engine = v2().projected(fields::ENGINE_FIELDS);
        let Line::Record(r) = parse_line(line, &engine).unwrap() else {
            panic!()
        };
        assert_eq!((r.bytes, r.packets, r.account_id), (Some(12), None, None));
        // a header mid-stream keeps the projection
        let text = "version account-id interface-id packets bytes\n2 a eni-1 lots 5\n";
        let mut c = Count(0, 0, 0, 0);
        decode(text.as_bytes(), &engine, &mut c).unwrap();
        assert_eq!((c.0, c.1), (1, 0));
    }

    struct Count(u64, u64, u64, u64);
    impl Sink for Count {
        fn record(&mut self, _: &Record<'_>) {
            self.0 += 1
        }
        fn malformed(&mut self, _: u64, _: Malformed) {
            self.1 += 1
        }
        fn header(&mut self) {
            self.2 += 1
        }
        fn blank(&mut self) {
            self.3 += 1
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_a_line() {
        // a v5 text whose header is not the default layout: with the mark taken for a
        // token, the header is a malformed line and every record after it too
        let text = "version interface-id srcaddr dstaddr bytes start end action log-status\n\
                    5 eni-1 10.0.0.1 52.216.8.1 10 1788220800 1788220860 ACCEPT OK\n";
        let marked = format!("\u{feff}{text}\u{feff}{text}");
        for (t, records) in [(text.to_string(), 1), (marked, 2)] {
            let mut c = Count(0, 0, 0, 0);
            decode(t.as_bytes(), &Layout::default_v2(), &mut c).unwrap();
            assert_eq!((c.0, c.1, c.2), (records, 0, records), "{t:?}");
        }
        // and a record line that carries one
        let mut seen = Lines::default();
        let line =
            "\u{feff}2 1 eni-1 10.0.0.1 52.216.8.1 1 443 6 1 10 1788220800 1788220860 ACCEPT OK";
        decode(line.as_bytes(), &v2(), &mut seen).unwrap();
        assert_eq!((seen.records, seen.bad.len()), (1, 0));
    }

    /// A header and `n` records of the v2 fields but `packets`: a `-` destination now and
    /// then, and now and then bytes that are no number (a malformed line).
    fn v2_text_with_bad_bytes(n: u64) -> String {
        let mut text = String::from(
            "version interface-id srcaddr dstaddr srcport dstport protocol bytes start end action log-status\n",
        );
        for i in 0..n {
            let dst = match i % 7 {
                0 => "-".to_string(),
                _ => format!("52.216.8.{}", i % 250),
            };
            let bytes = match i % 97 {
                5 => "x".to_string(),
                _ => (100 + i * 13).to_string(),
            };
            let t = 1788220800 + i;
            text += &format!(
                "5 eni-{} 10.0.0.{} {dst} {} 443 6 {bytes} {t} {} ACCEPT OK\n",
                i % 3,
                i % 9,
                30000 + i,
                t + 60
            );
        }
        text
    }

    /// Records as objects of their fields, one a line (Athena's `UNLOAD` or a Spark table
    /// written as JSON: names with `_`, numbers as numbers, `null` for `-`, keys in any order,
    /// a null field left out as Spark leaves it out, times formatted): the records of the text
    /// they stand for, and its malformed lines' reasons; an object that is no record (too few
    /// flow-log fields, a value no field holds) stays malformed as a JSON line without message.
    #[test]
    fn json_records_read_as_their_fields() {
        let text = v2_text_with_bad_bytes(300);
        let mut lines = text.lines();
        let names: Vec<String> = lines
            .next()
            .unwrap()
            .split(' ')
            .map(|n| n.replace('-', "_"))
            .collect();
        let mut json = String::new();
        for (n, line) in lines.enumerate() {
            let mut pairs: Vec<(String, serde_json::Value)> = (names.iter().zip(line.split(' ')))
                .map(|(k, v)| {
                    let v = match (v, v.parse::<u64>()) {
                        ("-", _) => serde_json::Value::Null,
                        (_, Ok(x)) if k == "start" && n % 4 == 1 => {
                            serde_json::Value::String(crate::time::format_instant(x as i64))
                        }
                        (_, Ok(x)) => x.into(),
                        (v, Err(_)) => v.into(),
                    };
                    (k.clone(), v)
                })
                .collect();
            if n % 3 == 0 {
                pairs.reverse();
            }
            if n % 5 == 0 {
                pairs.retain(|(_, v)| !v.is_null());
            }
            let fields: Vec<String> = (pairs.iter())
                .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
                .collect();
            json += &format!("{{{}}}\n", fields.join(","));
        }
        let kept = |t: &str| -> Vec<String> {
            let mut e = Events::default();
            decode(t.as_bytes(), &v2(), &mut e).unwrap();
            (e.seen.into_iter())
                .filter(|e| !e.starts_with("layout") && e != "header")
                .map(|e| match e.split_once(": ") {
                    Some((n, why)) if n.parse::<u64>().is_ok() => why.to_string(),
                    _ => e,
                })
                .collect()
        };
        let plain = kept(&text);
        assert_eq!(kept(&json), plain);
        assert!(plain.iter().filter(|e| e.contains("not a number")).count() >= 3);
        // what is no record
        let (mut buf, mut names) = (Vec::new(), Vec::new());
        for line in [
            r#"{"a": 1, "b": 2, "version": 2}"#,
            r#"{"version": 2, "srcaddr": "10.0.0.1", "dstaddr": [1]}"#,
            r#"{"version": 2, "srcaddr": "10.0.0.1", "dstaddr": "a b"}"#,
            r#"{"version": 2, "srcaddr": "10.0.0.1", "dstaddr": true}"#,
            r#"{"version": 2, "srcaddr": "10.0.0.1", "dst addr": 1, "bytes": 3}"#,
            r#"{"version": 2, "srcaddr": "10.0.0.1", "dstaddr": 1, "bytes": tru}"#,
            r#"{"v\u0065rsion": 2, "srcaddr": "10.0.0.1", "dstaddr": 1}"#,
            r#"{"message": 7}"#,
            "{}",
        ] {
            assert!(
                matches!(
                    unwrap_json(line.as_bytes(), &mut buf, &mut names, b""),
                    Json::NoMessage | Json::Other
                ),
                "{line}"
            );
            let mut e = Events::default();
            decode(line.as_bytes(), &v2(), &mut e).unwrap();
            assert!(
                e.seen.iter().any(|s| s.contains("1: ")),
                "{line}: {:?}",
                e.seen
            );
        }
    }

    /// `has_space` finds what `u8::is_ascii_whitespace` finds, and nothing else.
    #[test]
    fn has_space_is_ascii_whitespace() {
        for c in 0..=u8::MAX {
            assert_eq!(has_space(&[b'a', c, b'b']), c.is_ascii_whitespace(), "{c}");
        }
        assert!(!has_space(b"") && !has_space(b"eni-0a1b2c3d") && has_space(b"a\x0cb"));
    }

    /// A JSON line's members taken one at a time: a `message` wherever it stands makes the
    /// object an event whatever the members before it (the first `message` counts), by the
    /// one-pass reader or, with an escape, by serde_json; a record's values and names are
    /// written in order, a date as its seconds; names equal to the last record's need no
    /// known field among them.
    #[test]
    fn json_lines_are_read_member_by_member() {
        let (mut buf, mut names) = (Vec::new(), Vec::new());
        let mut read = |line: &str, last: &[u8]| {
            let kind = unwrap_json(line.as_bytes(), &mut buf, &mut names, last);
            let name = match kind {
                Json::Message => "message",
                Json::Record => "record",
                Json::NoMessage => "none",
                Json::Other => "other",
            };
            let text = |b: &Vec<u8>| String::from_utf8(b.clone()).unwrap();
            (name, text(&buf), text(&names))
        };
        for line in [
            r#"{"a b": true, "x": [1], "message": "2 eni-1 -", "message": "no"}"#,
            r#"{"version": 2, "message": "2 eni-1 -"}"#,
            r#"{"srcaddr": "a b", "message": "2 eni-1 -"}"#,
        ] {
            assert_eq!(read(line, b"").0, "message", "{line}");
            assert_eq!(read(line, b"").1, "2 eni-1 -", "{line}");
        }
        assert_eq!(read(r#"{"x": 1, "message": null}"#, b"").0, "none");
        let (kind, values, keys) = read(
            r#"{"version": 2, "interface_id": "", "start": "2026-09-01 00:05:00", "bytes": 1e3, "end": null}"#,
            b"",
        );
        assert_eq!(kind, "record");
        assert_eq!(values, "2 - 1788221100 1e3 -");
        assert_eq!(keys, "version interface_id start bytes end");
        // (escaped: serde_json reads it, to the same members)
        let escaped = read(
            r#"{"version": 2, "srcaddr": "10.0.0.\u0031", "dstaddr": 1}"#,
            b"",
        );
        assert_eq!(escaped.0, "record");
        assert_eq!(escaped.1, "2 10.0.0.1 1");
        // names of no field: a record only where they are the last record's
        assert_eq!(read(r#"{"a": 1, "b": 2}"#, b"").0, "none");
        assert_eq!(read(r#"{"a": 1, "b": 2}"#, b"a b").0, "record");
        assert_eq!(read(r#"{"a": 1, "b": 2, "c": false}"#, b"a b c").0, "none");
        assert_eq!(read(r#"{"a": 1, "b": 2"#, b"a b").0, "other");
    }

    /// A time as a query engine writes it, with a fraction or not, in UTC or at an offset,
    /// reads as its epoch seconds; anything short of a whole such time, or impossible, does not.
    #[test]
    fn formatted_times_read_as_epoch_seconds() {
        let t = 1_788_221_100; // 2026-09-01T00:05:00Z
        for f in [
            "2026-09-01 00:05:00",
            "2026-09-01T00:05:00Z",
            "2026-09-01 00:05:00.999",
            "2026-09-01T00:05:00.123456789Z",
            "2026-09-01T02:05:00+02:00",
            "2026-08-31T18:35:00.0-0530",
        ] {
            assert_eq!(formatted_time(f.as_bytes()), Some(t), "{f}");
        }
        for f in [
            "2026-09-01",
            "2026-09-01 00:05",
            "2026-13-01 00:05:00",
            "2026-02-30 00:05:00",
            "2026-09-01 24:05:00",
            "2026-09-01 00:05:00.",
            "2026-09-01 00:05:00 UTC",
            "2026-09-01 00:05:00+19:00",
            "2026-09-01 00:05:00+02",
            "2026-09-01 00:05:00Zjunk",
            "1788221100",
            "é026-09-01 00:05:00",
        ] {
            assert_eq!(formatted_time(f.as_bytes()), None, "{f}");
        }
    }

    /// A CSV text (an Athena query's result downloaded: a header of field names with `_`,
    /// quoted values, an empty one for `-`, CRLF line ends) reads as the space-separated text
    /// it stands for: the same records, header and malformed lines by number, and the same
    /// sample of records, also with the times formatted as a query engine writes them; a line
    /// that is no field list stays malformed, the reason its own.
    #[test]
    fn comma_separated_text_reads_as_its_fields() {
        let text = v2_text_with_bad_bytes(600);
        let csv: String = (text.lines().enumerate())
            .map(|(n, l)| {
                let fields = l.split(' ').map(|f| match (n, f) {
                    (0, name) => format!("\"{}\"", name.replace('-', "_")),
                    (_, "-") => String::new(),
                    (n, v) if n % 2 == 0 => format!("\"{v}\""),
                    (_, v) => v.to_string(),
                });
                fields.collect::<Vec<_>>().join(",") + "\r\n"
            })
            .collect();
        let events = |t: &str| {
            let mut e = Events::default();
            decode(t.as_bytes(), &v2(), &mut e).unwrap();
            e.seen
        };
        let plain = events(&text);
        assert_eq!(events(&csv), plain);
        assert!(plain.iter().filter(|e| e.contains("not a number")).count() >= 6);
        assert_eq!(prints(&csv, &v2()), prints(&text, &v2()));
        assert!(prints(&text, &v2()).iter().any(Option::is_some));
        // times as a query engine formats them: the same events
        let formatted: String = (csv.lines().enumerate())
            .map(|(n, l)| {
                let fields =
                    l.split(',')
                        .enumerate()
                        .map(|(i, f)| match (n, i, f.parse::<i64>()) {
                            (1.., 8 | 9, Ok(t)) => {
                                let iso = crate::time::format_instant(t);
                                match n % 3 {
                                    0 => format!(
                                        "\"{}.000\"",
                                        iso.replace('T', " ").trim_end_matches('Z')
                                    ),
                                    1 => iso,
                                    _ => {
                                        // the same instant two hours east of UTC, with a fraction
                                        let east = crate::time::format_instant(t + 7200);
                                        format!("{}.5+02:00", east.trim_end_matches('Z'))
                                    }
                                }
                            }
                            _ => f.to_string(),
                        });
                fields.collect::<Vec<_>>().join(",") + "\r\n"
            })
            .collect();
        assert!(formatted.contains(" 00:"), "{}", &formatted[..400]);
        assert_eq!(events(&formatted), plain);
        // what is no list of fields
        let mut buf = Vec::new();
        for line in ["5 eni-1 10.0.0.1", "\"a,b\",c", "a b,c", "a,\"b", "a,b\"c"] {
            assert!(!unwrap_csv(line.as_bytes(), &mut buf), "{line}");
        }
        assert!(unwrap_csv(b" \"5\" , eni-1,,\"\"\r", &mut buf));
        assert_eq!(buf, b"5 eni-1 - -");
        let mut seen = Lines::default();
        decode(&b"\"5\",\"a,b\"\n"[..], &v2(), &mut seen).unwrap();
        assert_eq!((seen.records, seen.bad.len()), (0, 1));
        assert!(matches!(
            seen.bad[0].1,
            Malformed::FieldCount { found: 1, .. }
        ));
    }

    #[test]
    fn cloudwatch_exports_and_transit_gateway_lines() {
        // an export task's lines: a timestamp, then the record
        let text = "2026-09-01T00:05:00.000Z 2 123456789012 eni-1 10.0.0.1 52.216.8.1 1 443 6 1 10 1788220800 1788220860 ACCEPT OK\n\
                    2026-09-01T00:05:00Z 2 123456789012 eni-1 10.0.0.1 52.216.8.1 1 443 6 1 10 1788220800 1788220860 ACCEPT OK\n";
        let mut seen = Lines::default();
        decode(text.as_bytes(), &v2(), &mut seen).unwrap();
        assert_eq!((seen.records, seen.bad.len()), (2, 0));
        // JSON without a message says so
        let mut seen = Lines::default();
        decode(
            &b"{\"timestamp\": 1, \"msg\": \"x\"}\n"[..],
            &v2(),
            &mut seen,
        )
        .unwrap();
        assert_eq!(seen.bad, vec![(1, Malformed::JsonWithoutMessage)]);
        // a TGW record read with the default layout is named for what it is
        let tgw = "6 TransitGateway 123456789010 tgw-1 tgw-attach-1 1 2 vpc-1 vpc-2 subnet-1 subnet-2 eni-1 eni-2 use2-az1 use2-az2 tgw-attach-2 10.0.1.5 10.0.2.5 1 2 6 1 1 1 2 OK IPv4 0 0 0 0 0 us-east-2 egress - -\n";
        let mut seen = Lines::default();
        decode(tgw.as_bytes(), &v2(), &mut seen).unwrap();
        assert_eq!(seen.bad, vec![(1, Malformed::TransitGateway)]);
    }

    #[test]
    fn json_wrapped_and_repeated_headers() {
        let text = "{\"message\":\"2 4 eni-0 - - - - - - - 1671029698 1671029728 - NODATA\"}\nversion interface-id bytes\n2 eni-1 5\n\nversion bytes\n2 7\nnonsense\n";
        let mut c = Count(0, 0, 0, 0);
        let n = decode(text.as_bytes(), &v2(), &mut c).unwrap();
        assert_eq!(n, 7);
        assert_eq!((c.0, c.1, c.2, c.3), (3, 1, 2, 1));
    }

    /// A reader handing out at most `step` bytes a call, so lines cross many reads.
    /// Everything a decoder hands over, in order, and the records it showed first.
    #[derive(Default)]
    struct Events {
        seen: Vec<String>,
        hints: crate::format::HintCheck,
    }

    impl Sink for Events {
        fn record(&mut self, r: &Record<'_>) {
            let text = self.hints.record(r);
            self.seen.push(text);
        }
        fn upcoming(&mut self, recs: &[Record<'_>]) {
            self.hints.upcoming(recs);
        }
        fn malformed(&mut self, line: u64, why: Malformed) {
            self.hints.not_a_record();
            self.seen.push(format!("{line}: {why}"));
        }
        fn header(&mut self) {
            self.hints.not_a_record();
            self.seen.push("header".into());
        }
        fn blank(&mut self) {
            self.hints.not_a_record();
            self.seen.push("blank".into());
        }
        fn layout(&mut self, fields: usize) {
            self.seen.push(format!("layout {fields}"));
        }
    }

    /// Collects the records' fingerprints, one entry a record.
    #[derive(Default)]
    struct Prints(Vec<Option<std::num::NonZeroU64>>);

    impl Sink for Prints {
        fn record(&mut self, r: &Record<'_>) {
            self.0.push(r.fingerprint);
        }
        fn malformed(&mut self, _: u64, _: Malformed) {}
        fn header(&mut self) {}
        fn blank(&mut self) {}
    }

    /// The fingerprints of `text`'s records read with `layout`.
    fn prints(text: &str, layout: &Layout) -> Vec<Option<std::num::NonZeroU64>> {
        let mut p = Prints::default();
        decode_slice(text.as_bytes(), layout, &mut p);
        p.0
    }

    /// A sample of about one record in 128 is fingerprinted; a line's copies (as another
    /// file holds it: after other lines, CRLF-ended, with an export's timestamp, inside a
    /// CloudWatch JSON event, in a layout of more fields) get its fingerprint, and so does
    /// its record read as a Parquet row's values; other records get others; a layout whose
    /// lines do not name their flow (no ports) gets none.
    #[test]
    fn sampled_records_are_fingerprinted_by_their_values() {
        let rec = |i: u64| {
            format!(
                "2 1 eni-{} 10.0.{}.{} 52.216.1.{} {} 443 6 {} {} {} {} ACCEPT OK",
                i % 13,
                i % 7,
                i % 200,
                i % 250,
                30000 + i % 9,
                1 + i % 5,
                100 + i * 37,
                1788220800 + i % 3600,
                1788220860 + i % 3600,
            )
        };
        let text: String = (0..20_000).map(|i| rec(i) + "\n").collect();
        let layout = Layout::default_v2();
        assert!(layout.names_flows());
        let all = prints(&text, &layout);
        assert_eq!(all.len(), 20_000);
        let sampled: Vec<(usize, u64)> = (all.iter().enumerate())
            .filter_map(|(i, p)| p.map(|p| (i, p.get())))
            .collect();
        assert!(
            (100..250).contains(&sampled.len()),
            "{} sampled",
            sampled.len()
        );
        let distinct: std::collections::BTreeSet<u64> = sampled.iter().map(|s| s.1).collect();
        assert_eq!(
            distinct.len(),
            sampled.len(),
            "different lines, different prints"
        );
        let v5 = Layout::new(
            (fields::DEFAULT_V2
                .split(' ')
                .chain(["vpc-id", "pkt-srcaddr", "pkt-dstaddr"]))
            .map(String::from)
            .collect(),
        );
        for &(i, p) in sampled.iter().take(20) {
            let line = rec(i as u64);
            for (copy, layout) in [
                (format!("{}\n{line}\n", rec(i as u64 + 1)), &layout),
                (format!("{line}\r\n"), &layout),
                (format!("2026-09-01T00:00:00.000Z {line}\n"), &layout),
                (format!("{{\"message\":\"{line}\"}}\n"), &layout),
                (format!("{line} vpc-1 - -\n"), &v5),
            ] {
                let got = prints(&copy, layout);
                assert_eq!(
                    got.last().copied().flatten().map(|x| x.get()),
                    Some(p),
                    "{copy}"
                );
            }
            // the record as a Parquet reader has it: its values, the ports among them
            let Ok(Line::Record(mut r)) = parse_line(line.as_bytes(), &layout) else {
                panic!("{line}")
            };
            (r.srcport, r.dstport, r.protocol) = (Some(30000 + (i % 9) as u16), Some(443), Some(6));
            assert_eq!(
                crate::format::fingerprint_of_values(&r).map(|x| x.get()),
                Some(p)
            );
            r.bytes = r.bytes.map(|b| b + 1);
            assert_ne!(
                crate::format::fingerprint_of_values(&r).map(|x| x.get()),
                Some(p)
            );
        }
        let no_ports = Layout::new(
            "version account-id interface-id srcaddr dstaddr protocol packets bytes start end action log-status"
                .split(' ').map(String::from).collect(),
        );
        assert!(!no_ports.names_flows());
        let text: String = (0..2000)
            .map(|i| {
                rec(i)
                    .replace(" 443 6 ", " 6 ")
                    .replacen(&format!(" {} ", 30000 + i % 9), " ", 1)
                    + "\n"
            })
            .collect();
        let got = prints(&text, &no_ports);
        assert_eq!(got.len(), 2000);
        assert!(got.iter().all(Option::is_none));
    }

    /// Collects the records' flows and line fingerprints, for a sink that asks for flows.
    #[derive(Default)]
    struct Flows(Vec<(Option<std::num::NonZeroU64>, Option<std::num::NonZeroU64>)>);

    impl Sink for Flows {
        fn record(&mut self, r: &Record<'_>) {
            self.0.push(match r.flow {
                true => (r.fingerprint, None),
                false => (None, r.fingerprint),
            });
        }
        fn malformed(&mut self, _: u64, _: Malformed) {}
        fn header(&mut self) {}
        fn blank(&mut self) {}
        fn flows(&self) -> bool {
            true
        }
    }

    /// A sample of about one flow in 128 is marked, for a sink that asks: every record of a
    /// marked flow (its windows, in any layout naming the flow) gets the flow's mark, in place
    /// of a fingerprint of its line; other flows (another port, another ENI) get other marks
    /// or none; a sink that does not ask gets none, and the lines' fingerprints.
    #[test]
    fn sampled_flows_are_marked_in_every_layout_and_window() {
        let v7 = Layout::new(fields::KNOWN_NAMES.iter().map(|n| n.to_string()).collect());
        let v2 = Layout::default_v2();
        assert_eq!(v2.flow_key(), Some(&[2, 3, 4, 5, 6, 7]));
        let line = |layout: &Layout, flow: u64, window: i64| {
            let t = 1788220800 + window * 60;
            let v2 = format!(
                "2 1 eni-{} 10.0.0.{} 52.216.1.9 {} 443 6 3 {} {t} {} ACCEPT OK",
                flow % 7,
                flow % 11,
                30000 + flow,
                100 + window + 1000 * flow as i64,
                t + 59
            );
            let more = layout.names.len() - 14;
            v2 + &" -".repeat(more) + "\n"
        };
        let text = |layout: &Layout, windows: std::ops::Range<i64>| -> String {
            (0..4000)
                .flat_map(|f| windows.clone().map(move |w| (f, w)))
                .map(|(f, w)| line(layout, f, w))
                .collect()
        };
        let read = |text: &str, layout: &Layout| {
            let mut f = Flows::default();
            decode_slice(text.as_bytes(), layout, &mut f);
            f.0
        };
        let v2_flows = read(&text(&v2, 0..3), &v2);
        let v7_flows = read(&text(&v7, 2..3), &v7);
        assert_eq!((v2_flows.len(), v7_flows.len()), (12_000, 4000));
        let mut marked = 0;
        for f in 0..4000 {
            let windows = &v2_flows[f * 3..f * 3 + 3];
            let other = v7_flows[f];
            // one mark a flow, in each window and in the other layout
            assert!(windows.iter().all(|w| w.0 == windows[0].0));
            assert_eq!(other.0, windows[0].0);
            if windows[0].0.is_some() {
                marked += 1;
                // (a sampled flow's records are in no sample of lines)
                assert!(windows.iter().chain([&other]).all(|w| w.1.is_none()));
            }
        }
        assert!((15..50).contains(&marked), "{marked} of 4000 flows marked");
        let distinct: std::collections::BTreeSet<_> = v2_flows.iter().map(|f| f.0).collect();
        assert_eq!(distinct.len(), marked + 1, "one mark a flow (and none)");
        // a sink that does not ask gets no flow
        let mut p = Prints::default();
        decode_slice(text(&v2, 0..1).as_bytes(), &v2, &mut p);
        let mut none = Flows::default();
        struct NoFlows<'a>(&'a mut Flows);
        impl Sink for NoFlows<'_> {
            fn record(&mut self, r: &Record<'_>) {
                self.0.record(r)
            }
            fn malformed(&mut self, _: u64, _: Malformed) {}
            fn header(&mut self) {}
            fn blank(&mut self) {}
        }
        decode_slice(text(&v2, 0..1).as_bytes(), &v2, &mut NoFlows(&mut none));
        assert!(none.0.iter().all(|f| f.0.is_none()));
        // the sampled lines are fingerprinted for it, and for the one that asks, but for
        // those of sampled flows
        assert_eq!(none.0.iter().map(|f| f.1).collect::<Vec<_>>(), p.0);
        let asked = read(&text(&v2, 0..1), &v2);
        for (a, n) in asked.iter().zip(&none.0) {
            assert_eq!(a.1, if a.0.is_some() { None } else { n.1 });
        }
        assert!(p.0.iter().any(Option::is_some));
    }

    /// A flow's mark from a record's values (as a Parquet reader has them) is its mark from
    /// the line's tokens: addresses of both families, ports from 0 to 65,535, any protocol.
    /// A record's fingerprint from its values is its copies' and no other record's.
    #[test]
    fn a_flow_has_one_mark_from_its_text_and_from_its_values() {
        fn parse<'a>(line: &'a str, layout: &Layout) -> Record<'a> {
            match parse_line(line.trim_end().as_bytes(), layout) {
                Ok(Line::Record(r)) => r,
                other => panic!("a record, not {other:?}"),
            }
        }
        let v2 = Layout::default_v2();
        let mut marked = 0;
        for k in 0..20_000u64 {
            let src = match k % 4 {
                0 => format!("10.{}.{}.{}", k % 256, (k / 256) % 256, k % 7),
                1 => format!("2600:1f18:{:x}::{:x}", k % 4099, k),
                // not in canonical form: upper case, leading zeros, zeros not compressed
                2 => format!("2600:1F18:{:04X}:0:0:0:0:{:X}", k % 4099, k),
                _ => "172.16.0.1".to_string(),
            };
            let (sport, dport, proto) = (
                (k * 7919) % 65_536,
                [0, 443, 65_535][k as usize % 3],
                k % 256,
            );
            let line = format!(
                "2 1 eni-{:x} {src} 52.216.{}.9 {sport} {dport} {proto} 3 {} 1788220800 1788220859 ACCEPT OK\n",
                k % 13,
                k % 256,
                100 + k
            );
            let mut f = Flows::default();
            decode_slice(line.as_bytes(), &v2, &mut f);
            let mut rec = parse(&line, &v2);
            rec.srcport = u16::try_from(sport).ok();
            rec.dstport = Some(dport);
            rec.protocol = u8::try_from(proto).ok();
            assert_eq!(crate::format::flow_mark_of_values(&rec), f.0[0].0, "{line}");
            marked += usize::from(f.0[0].0.is_some());
        }
        assert!(
            (80..250).contains(&marked),
            "{marked} of 20,000 flows marked"
        );
        // fingerprints from values: copies equal; another port, window or byte count differs
        let fp = |sport: u16, start: i64, bytes: u64| {
            let mut rec = parse(
                "2 1 eni-1 10.0.0.1 52.216.1.9 1 443 6 3 100 1788220800 1788220859 ACCEPT OK",
                &v2,
            );
            (rec.srcport, rec.dstport, rec.protocol) = (Some(sport), Some(443), Some(6));
            (rec.start, rec.bytes) = (Some(start), Some(bytes));
            crate::format::fingerprint_of_values(&rec)
        };
        let sampled: Vec<(i64, u64)> = (0..2000)
            .map(|i| (1788220800 + i, 100 + i as u64))
            .filter(|&(t, b)| fp(1, t, b).is_some())
            .collect();
        assert!((5..40).contains(&sampled.len()), "{}", sampled.len());
        for &(t, b) in &sampled {
            assert_eq!(fp(1, t, b), fp(1, t, b));
            assert_ne!(fp(1, t, b), fp(2, t, b));
        }
        let distinct: std::collections::BTreeSet<_> =
            sampled.iter().map(|&(t, b)| fp(1, t, b)).collect();
        assert_eq!(distinct.len(), sampled.len());
        // a value of the flow missing: no mark, no fingerprint
        let mut rec = parse(
            "2 1 eni-1 10.0.0.1 52.216.1.9 1 443 6 3 100 1788220800 1788220859 ACCEPT OK",
            &v2,
        );
        rec.protocol = None;
        assert_eq!(crate::format::flow_mark_of_values(&rec), None);
        assert_eq!(crate::format::fingerprint_of_values(&rec), None);
    }

    /// A decoder holds the records of consecutive lines and shows them before handing them
    /// over: what it hands over, and in what order, is what it hands over line by line
    /// (records between a header that changes the layout, blank, malformed, JSON and
    /// over-long lines, and runs of records longer than it holds).
    #[test]
    fn records_held_back_come_in_line_order() {
        let mut text = String::new();
        let rec = |i: usize| {
            format!(
                "2 1 eni-{} 10.0.{}.{} 52.216.1.{} 1 2 6 1 {} 1788220800 1788220860 ACCEPT OK\n",
                i / 3,
                i % 7,
                i % 200,
                i % 250,
                100 + i
            )
        };
        for i in 0..150 {
            text += &rec(i);
        }
        text += "\nnot a record\n";
        text += &format!("{{\"message\":\"{}\"}}\n", rec(7).trim_end());
        text += &rec(8);
        text += &"x".repeat(MAX_LINE + 1);
        text += "\nversion interface-id srcaddr dstaddr bytes start end action log-status\n";
        for i in 0..(2 * BATCH + 3) {
            text += &format!("2 eni-{i} 10.0.0.1 52.216.1.1 {i} 1788220800 1788220860 ACCEPT OK\n");
        }
        let mut whole = Events::default();
        Decoder::new(&v2()).feed(text.as_bytes(), &mut whole);
        whole.hints.done();
        let mut by_line = Events::default();
        let mut d = Decoder::new(&v2());
        for line in text.split_inclusive('\n') {
            d.feed(line.as_bytes(), &mut by_line);
        }
        assert_eq!(
            by_line.hints.shown_first, 0,
            "one line's record is not shown first"
        );
        assert_eq!(whole.seen, by_line.seen);
        let records = whole
            .seen
            .iter()
            .filter(|s| s.starts_with("Record"))
            .count();
        assert_eq!(records, 150 + 2 + 2 * BATCH + 3);
        // all but the JSON line's record and the one alone before the over-long line
        assert_eq!(whole.hints.shown_first, records - 2);
        // the first 150 records are 50 runs of three of an ENI: the second and third of each
        // say so (checked against the record before as they come), across full batches too;
        // no record after a line that is none says so
        assert_eq!(whole.hints.hinted, 100);
        assert_eq!(
            by_line.hints.hinted, 0,
            "a line fed alone has no record before it"
        );
    }

    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Lines seen by a decoder: malformed ones with their line number and reason.
    #[derive(Default)]
    struct Lines {
        records: u64,
        bad: Vec<(u64, Malformed)>,
    }
    impl Sink for Lines {
        fn record(&mut self, _: &Record<'_>) {
            self.records += 1
        }
        fn malformed(&mut self, line: u64, why: Malformed) {
            self.bad.push((line, why))
        }
        fn header(&mut self) {}
        fn blank(&mut self) {}
    }

    #[test]
    fn an_over_long_line_is_one_malformed_line_in_bounded_memory() {
        let ok = "2 1 eni-1 10.0.0.1 52.216.1.1 1 2 6 1 10 1788220800 1788220860 ACCEPT OK\n";
        for (long, step, end) in [
            (3 * MAX_LINE, 1000, "\n"),
            (MAX_LINE + 1, 64 * 1024, "\n"),
            (20 << 20, 1 << 20, "\n"),
            (5 * MAX_LINE, 7777, ""),
        ] {
            let text = format!("{ok}{}{end}{ok}", "x".repeat(long));
            let text = if end.is_empty() {
                format!("{ok}{}", "x".repeat(long))
            } else {
                text
            };
            let mut blocks = Blocks::default();
            let mut d = Decoder::new(&v2());
            let mut seen = Lines::default();
            let mut r = Trickle(text.as_bytes(), step);
            while let Some(range) = blocks.next(&mut r, BLOCK).unwrap() {
                d.feed(blocks.get(range), &mut seen);
                assert!(
                    blocks.buf.len() <= 4 * BLOCK.max(MAX_LINE),
                    "{}",
                    blocks.buf.len()
                );
            }
            let want_records = if end.is_empty() { 1 } else { 2 };
            assert_eq!(seen.records, want_records, "long {long}");
            assert_eq!(seen.bad, vec![(2, Malformed::LineTooLong)], "long {long}");
            assert_eq!(d.lines, want_records + 1);
        }
        // exactly MAX_LINE bytes is still a line (malformed here for its field count only)
        let text = format!("{}\n{ok}", "x".repeat(MAX_LINE));
        let mut seen = Lines::default();
        decode(Trickle(text.as_bytes(), 5000), &v2(), &mut seen).unwrap();
        assert_eq!(seen.records, 1);
        assert!(matches!(seen.bad[..], [(1, Malformed::FieldCount { .. })]));
        // in memory, the same line is refused the same way
        let text = format!("{ok}{}\n{ok}", "y ".repeat(MAX_LINE));
        let mut seen = Lines::default();
        assert_eq!(decode_slice(text.as_bytes(), &v2(), &mut seen), 3);
        assert_eq!(seen.bad, vec![(2, Malformed::LineTooLong)]);
    }

    #[test]
    fn impossible_byte_counts_regions_and_times_are_malformed() {
        let l = Layout::new(fields::parse_field_list("interface-id bytes region"));
        let max = super::super::MAX_RECORD_BYTES;
        assert!(matches!(
            parse_line(format!("eni-1 {max} us-east-1").as_bytes(), &l).unwrap(),
            Line::Record(Record { bytes: Some(b), .. }) if b == max
        ));
        for big in [max + 1, 1 << 63, u64::MAX] {
            assert_eq!(
                parse_line(format!("eni-1 {big} us-east-1").as_bytes(), &l).unwrap_err(),
                Malformed::TooLarge("bytes")
            );
        }
        // the same far enough into the line for the in-place read's whole words
        let eni = "eni-0123456789abcdef0";
        for big in [max + 1, 1 << 63, u64::MAX] {
            assert_eq!(
                parse_line(format!("{eni} {big} us-east-1").as_bytes(), &l).unwrap_err(),
                Malformed::TooLarge("bytes")
            );
        }
        assert_eq!(
            parse_line(
                format!("{eni} 18446744073709551616 us-east-1").as_bytes(),
                &l
            )
            .unwrap_err(),
            Malformed::BadNumber("bytes")
        );
        for bad in ["\0\0\0us-east-1", "US-EAST-1", "us_east_1", "<script>"] {
            assert_eq!(
                parse_line(format!("eni-1 5 {bad}").as_bytes(), &l).unwrap_err(),
                Malformed::BadValue("region"),
                "{bad:?}"
            );
        }
        // times: from 2010 to 2100, in seconds or milli-, micro- or nanoseconds; anything else
        // is no flow's
        let t = Layout::new(fields::parse_field_list("interface-id bytes start end"));
        let times = |start: &str, end: &str| {
            parse_line(format!("{eni} 5 {start} {end}").as_bytes(), &t).map(|l| match l {
                Line::Record(r) => (r.start, r.end),
                _ => panic!("not a record"),
            })
        };
        assert_eq!(
            times("1262304000", "4102444799"),
            Ok((Some(1262304000), Some(4102444799)))
        );
        assert_eq!(times("1788220800000", "-"), Ok((Some(1788220800), None)));
        assert_eq!(
            times("1788220800000000", "1788220860000000000"),
            Ok((Some(1788220800), Some(1788220860)))
        );
        for (start, end, field) in [
            ("1262303999", "1788220800", "start"),
            ("0", "1", "start"),
            ("1788220800", "4102444800", "end"),
            ("18446744073709551615", "1788220800", "start"),
            ("9223372036854775807", "1788220800", "start"),
            ("1788220800", "99999999999", "end"),
            ("1788220800", "164000066", "end"),
        ] {
            assert_eq!(
                times(start, end),
                Err(Malformed::TimeOutOfRange(field)),
                "{start} {end}"
            );
        }
    }
}
