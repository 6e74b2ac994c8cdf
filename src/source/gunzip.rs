//! Whole-buffer gzip decompression with libdeflate, for inputs small enough to hold in memory
//! (AWS delivers flow logs in files of a few MB): libdeflate inflates such buffers several
//! times faster than a streaming inflater. Multi-member files are decompressed member by
//! member into one output; the output is bounded. Anything unusual (bad data, a truncated
//! member, output beyond the bound) is reported as a failure. A member whose data is damaged
//! or cut short is read again by the streaming inflater to tell which: what a cut member held
//! up to the cut is kept, a damaged one's output is not (a member that fails its check may be
//! wrong anywhere in it, so none of it is counted), and the members before it, each checked,
//! are read; anything else declined goes to the streaming decoder, which keeps what precedes a
//! break and says where it broke.
//!
//! The buffers are kept per thread and reused from file to file, so steady-state reading
//! allocates nothing.
//!
//! Larger inputs and streams are inflated as they are read ([`Members`]); a member is checked
//! only at its end, after its text was handed on, so an error of damaged data in a member that
//! gave text says that text cannot be trusted ([`discredits`]): the engine drops what the
//! input added up to and, where it can, reads again only the members before the damaged one
//! ([`Members::first`]).

use std::cell::RefCell;
use std::io::{self, BufRead, Read};
use std::ptr::NonNull;

use libdeflate_sys as ld;

/// Why the fast path declined an input.
#[derive(Debug, PartialEq, Eq)]
pub enum Declined {
    BadData,
    TooBig,
}

/// A libdeflate decompressor (one per thread).
struct Inflater(NonNull<ld::libdeflate_decompressor>);

impl Inflater {
    fn new() -> Inflater {
        // SAFETY: plain allocation; a null return is handled.
        let p = unsafe { ld::libdeflate_alloc_decompressor() };
        Inflater(NonNull::new(p).expect("libdeflate could not allocate a decompressor"))
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { ld::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// Where [`gunzip_into`] stopped: why, and the offset of the member it stopped in (the output
/// then holds every member before it, each checked).
struct Stop {
    why: Declined,
    member: usize,
}

/// Decompress every gzip member of `gz` into `out` (cleared first), at most `limit` bytes.
fn gunzip_into(d: &mut Inflater, gz: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Stop> {
    let stop = |why, member| Err(Stop { why, member });
    out.clear();
    let mut pos = 0;
    // The last member's ISIZE (its size mod 2^32) is the whole output for the usual
    // single-member file; a guess from the compressed size covers the rest.
    let isize_hint = gz
        .len()
        .checked_sub(4)
        .map(|i| u32::from_le_bytes([gz[i], gz[i + 1], gz[i + 2], gz[i + 3]]) as usize)
        .filter(|&n| n <= gz.len().saturating_mul(1032)) // deflate's best ratio: else garbage
        .unwrap_or(0);
    let mut want = isize_hint.max(gz.len().saturating_mul(4)).max(64 * 1024);
    while pos < gz.len() {
        let rest = &gz[pos..];
        if rest.len() < 18 || !rest.starts_with(&super::GZIP_MAGIC) {
            return stop(Declined::BadData, pos);
        }
        loop {
            let room = limit.saturating_sub(out.len());
            let avail = want.min(room);
            if out.capacity() - out.len() < avail {
                out.reserve_exact(avail);
            }
            let (mut used_in, mut used_out) = (0usize, 0usize);
            // SAFETY: `rest` is a valid input slice; the output pointer addresses `avail`
            // bytes of spare capacity of `out`, of which libdeflate writes `used_out`.
            let r = unsafe {
                ld::libdeflate_gzip_decompress_ex(
                    d.0.as_ptr(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    out.as_mut_ptr().add(out.len()).cast(),
                    avail,
                    &mut used_in,
                    &mut used_out,
                )
            };
            match r {
                ld::libdeflate_result_LIBDEFLATE_SUCCESS => {
                    // SAFETY: libdeflate initialised `used_out` bytes past the old length.
                    unsafe { out.set_len(out.len() + used_out) };
                    pos += used_in;
                    break;
                }
                ld::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE if avail < room => {
                    want = avail.saturating_mul(2).max(64 * 1024);
                }
                ld::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => {
                    return stop(Declined::TooBig, pos)
                }
                _ => return stop(Declined::BadData, pos),
            }
        }
        want = (gz.len() - pos).saturating_mul(4).max(64 * 1024);
    }
    Ok(())
}

struct Buffers {
    inflater: Inflater,
    raw: Vec<u8>,
    spare: Vec<Vec<u8>>,
}

thread_local! {
    static BUFFERS: RefCell<Option<Buffers>> = const { RefCell::new(None) };
}

fn with_buffers<T>(f: impl FnOnce(&mut Buffers) -> T) -> T {
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        let b = b.get_or_insert_with(|| Buffers {
            inflater: Inflater::new(),
            raw: Vec::new(),
            spare: Vec::new(),
        });
        f(b)
    })
}

/// Decompressed text held in a pooled buffer; reading it is a `BufRead` over memory. The
/// buffer goes back to the thread's pool when dropped.
pub struct Inflated {
    buf: Vec<u8>,
    pos: usize,
}

impl Inflated {
    /// The decompressed bytes not yet consumed.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.pos..]
    }
}

impl Read for Inflated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (&self.buf[self.pos..]).read(out)?;
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for Inflated {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.buf[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl Drop for Inflated {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // Keep at most two buffers per thread; a thread may be tearing down.
        let _ = BUFFERS.try_with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                if let Some(b) = b.as_mut() {
                    if b.spare.len() < 2 {
                        b.spare.push(buf);
                    }
                }
            }
        });
    }
}

/// What a whole gzip input inflated to.
pub enum Inflate {
    /// Every member, each checked.
    Whole(Inflated),
    /// The members before a damaged or cut one, each checked, then what a cut member held up
    /// to the cut (nothing of a damaged one), and the error to report after them: a member
    /// cut short ([`io::ErrorKind::UnexpectedEof`]) or damaged ([`io::ErrorKind::InvalidData`]).
    Broken(Inflated, io::Error),
    /// Not read here (its output passes the bound, or only the streaming decoder reads it):
    /// the caller streams the input instead.
    Declined,
}

/// Read a whole gzip input with `read_all` into the thread's raw buffer and decompress it.
/// [`Inflate::Declined`]: nothing was consumed from anything but the raw buffer, so the
/// caller reopens the input.
pub fn inflate(
    read_all: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    limit: usize,
) -> io::Result<Inflate> {
    with_buffers(|b| {
        b.raw.clear();
        read_all(&mut b.raw)?;
        Ok(inflate_into_spare(
            &mut b.inflater,
            &mut b.spare,
            &b.raw,
            limit,
        ))
    })
}

/// Decompress a gzip input already in memory (a downloaded object) into one of the thread's
/// pooled buffers, as [`inflate`].
pub fn inflate_slice(gz: &[u8], limit: usize) -> Inflate {
    with_buffers(|b| inflate_into_spare(&mut b.inflater, &mut b.spare, gz, limit))
}

fn inflate_into_spare(
    inflater: &mut Inflater,
    spare: &mut Vec<Vec<u8>>,
    gz: &[u8],
    limit: usize,
) -> Inflate {
    let mut out = spare.pop().unwrap_or_default();
    let error = match gunzip_into(inflater, gz, &mut out, limit) {
        Ok(()) => return Inflate::Whole(Inflated { buf: out, pos: 0 }),
        Err(Stop {
            why: Declined::BadData,
            member,
        }) => broken_member(&gz[member..], member, &mut out, limit),
        Err(_) => None,
    };
    match error {
        Some(e) => Inflate::Broken(Inflated { buf: out, pos: 0 }, e),
        None => {
            out.clear();
            spare.push(out);
            Inflate::Declined
        }
    }
}

/// The member at the start of `gz` (byte `at` of its input), which libdeflate refused, read
/// again by the streaming inflater: cut short, what it held up to the cut is appended to `out`;
/// damaged (bad deflate data, a failed check, a bad header), nothing is. The error to report
/// after `out`; `None` where the streaming inflater reads the member whole or past `limit`
/// (the input is then streamed, as any declined one).
fn broken_member(gz: &[u8], at: usize, out: &mut Vec<u8>, limit: usize) -> Option<io::Error> {
    if !gz.starts_with(&super::GZIP_MAGIC) {
        return Some(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the {} bytes from byte {at} on, after the last whole gzip member, are not gzip data",
                gz.len()
            ),
        ));
    }
    let before = out.len();
    let room = limit.saturating_sub(before) as u64;
    let read = flate2::bufread::GzDecoder::new(gz)
        .take(room + 1)
        .read_to_end(out);
    match read {
        Ok(_) => {
            out.truncate(before);
            None
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Some(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the gzip member at byte {at} is cut short ({e})"),
        )),
        Err(e) => {
            out.truncate(before);
            Some(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the gzip member at byte {at} is damaged ({e}): none of its records were counted"),
            ))
        }
    }
}

/// The text of a gzip stream, member after member, inflated as it is read. A member's check
/// comes at its end, after its text was read: an error of damaged data (bad deflate data, a
/// failed check) in a member that already gave text is marked as [discrediting](discredits)
/// it. An error before a member gave any text discredits nothing (the members before it were
/// each checked): a bad header of a later member, bytes after the last member that are not
/// gzip (reported, after every member is read, as the whole-buffer path does). A member cut
/// short is not damaged: its text up to the cut stands, and the error is `UnexpectedEof`.
pub struct Members<R: BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
    /// Whether the member being read has given text.
    gave: bool,
    /// The members read to their end, each checked.
    done: usize,
    /// Where the stream is to stop ([`Members::first`]): after this many members, with the
    /// error to give there.
    stop: Option<(usize, Option<io::Error>)>,
}

impl<R: BufRead> Members<R> {
    /// A stream that starts with a gzip member.
    pub fn new(r: R) -> Members<R> {
        Members {
            member: Some(flate2::bufread::GzDecoder::new(r)),
            gave: false,
            done: 0,
            stop: None,
        }
    }

    /// The text of the first `members` members of the stream only, each checked, then
    /// `why` (or the error that stopped it sooner): the part of an input that a damaged
    /// member left to be trusted, read again ([`discredited_after`]).
    pub fn first(r: R, members: usize, why: io::Error) -> Members<R> {
        let mut m = Members::new(r);
        if members == 0 {
            m.member = None;
        }
        m.stop = Some((members, Some(why)));
        m
    }

    /// The member after the one that ended, if any bytes are left.
    fn next_member(&mut self) -> io::Result<()> {
        let Some(m) = self.member.take() else {
            return Ok(());
        };
        self.done += 1;
        if self.stop.as_ref().is_some_and(|(n, _)| self.done >= *n) {
            return Ok(()); // the error comes with the next read
        }
        let mut r = m.into_inner();
        let rest = r.fill_buf()?;
        if rest.is_empty() {
            return Ok(());
        }
        if rest[0] != super::GZIP_MAGIC[0] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the bytes after the last whole gzip member are not gzip data",
            ));
        }
        // a bad header is reported by the member's first read, before it gives text
        self.member = Some(flate2::bufread::GzDecoder::new(r));
        self.gave = false;
        Ok(())
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(m) = self.member.as_mut() else {
                return match self.stop.as_mut().and_then(|(_, why)| why.take()) {
                    Some(why) => Err(why),
                    None => Ok(0),
                };
            };
            match m.read(buf) {
                Ok(0) => self.next_member()?,
                Ok(n) => {
                    self.gave = true;
                    return Ok(n);
                }
                Err(e)
                    if self.gave
                        && matches!(
                            e.kind(),
                            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
                        ) =>
                {
                    self.member = None;
                    let member = self.done + 1;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        Discredited {
                            message: format!(
                                "gzip member {member} is damaged ({e}), found after some of its text was read"
                            ),
                            before: self.done,
                        },
                    ));
                }
                Err(e) => {
                    if e.kind() != io::ErrorKind::Interrupted {
                        self.member = None;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// The error of a streamed gzip member found damaged after it gave text ([`Members`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Discredited {
    message: String,
    /// The members before the damaged one, each read to its end and checked.
    before: usize,
}

/// Whether `e` says that the text its stream gave before it cannot be trusted: a streamed gzip
/// member failed its check, or its data was damaged, after some of its text was read.
pub fn discredits(e: &io::Error) -> bool {
    discredited_after(e).is_some()
}

/// Where `e` [discredits](discredits) its stream: the number of members before the damaged
/// one, each read to its end and checked, whose text can be read again and trusted
/// ([`Members::first`]).
pub fn discredited_after(e: &io::Error) -> Option<usize> {
    let d = e.get_ref()?.downcast_ref::<Discredited>()?;
    Some(d.before)
}

/// Decompress `gz` (one gzip member or more) into `out` (cleared first), which must come to
/// exactly `size` bytes: a Parquet page, whose header states its size. Uses the thread's
/// decompressor.
pub fn gunzip_exact(gz: &[u8], out: &mut Vec<u8>, size: usize) -> Result<(), Declined> {
    with_buffers(|b| gunzip_into(&mut b.inflater, gz, out, size)).map_err(|s| s.why)?;
    if out.len() != size {
        return Err(Declined::BadData);
    }
    Ok(())
}

/// Decompress a gzip buffer (tests and benchmarks).
pub fn gunzip(gz: &[u8], limit: usize) -> Result<Vec<u8>, Declined> {
    let mut d = Inflater::new();
    let mut out = Vec::new();
    gunzip_into(&mut d, gz, &mut out, limit)
        .map(|_| out)
        .map_err(|s| s.why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FailureKind;
    use std::io::Write;

    fn gz(parts: &[&[u8]]) -> Vec<u8> {
        let mut all = Vec::new();
        for p in parts {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(p).unwrap();
            all.extend(e.finish().unwrap());
        }
        all
    }

    #[test]
    fn members_are_concatenated_and_output_can_outgrow_the_guess() {
        let big: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| [b'a' + (i % 3) as u8])
            .collect();
        let g = gz(&[b"first line\n", &big, b"", b"last\n"]);
        let out = gunzip(&g, 1 << 30).unwrap();
        assert_eq!(out.len(), 11 + big.len() + 5);
        assert!(out.starts_with(b"first line\n") && out.ends_with(b"last\n"));
    }

    fn broken(i: Inflate) -> (Vec<u8>, io::Error) {
        match i {
            Inflate::Broken(text, e) => (Inflated::bytes(&text).to_vec(), e),
            Inflate::Whole(_) => panic!("read whole"),
            Inflate::Declined => panic!("declined"),
        }
    }

    #[test]
    fn a_damaged_member_gives_nothing_a_cut_one_its_start_and_those_before_count() {
        let (a, b) = (
            b"first member\n".repeat(2000),
            b"second member\n".repeat(2000),
        );
        let g = gz(&[&a, &b]);
        let second = gz(&[&a]).len();
        let whole = [&a[..], &b[..]].concat();
        assert!(
            matches!(inflate_slice(&g, 1 << 30), Inflate::Whole(t) if Inflated::bytes(&t) == whole)
        );
        // the second member's check damaged, its data intact: none of it, for it cannot be
        // told from data damaged anywhere
        let mut crc = g.clone();
        let n = crc.len();
        crc[n - 6] ^= 1;
        let (text, e) = broken(inflate_slice(&crc, 1 << 30));
        assert_eq!(text, a);
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string()
                .contains(&format!("member at byte {second} is damaged")),
            "{e}"
        );
        // its data damaged: never any of its output that was not checked
        for at in [second + 12, second + 40, n - 30] {
            let mut bad = g.clone();
            bad[at] ^= 0x5a;
            let (text, e) = broken(inflate_slice(&bad, 1 << 30));
            assert!(text.starts_with(&a), "{at}");
            if e.kind() == io::ErrorKind::InvalidData {
                assert_eq!(text, a, "{at}: {e}");
            }
        }
        // cut short: what the member held up to the cut, after the members before it
        let (text, e) = broken(inflate_slice(&g[..n - 20], 1 << 30));
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert!(
            whole.starts_with(&text) && text.len() > a.len(),
            "{}",
            text.len()
        );
        // bytes after the last member that are not gzip: every member read, then the error
        let mut junk = g.clone();
        junk.extend_from_slice(b"junk after the member");
        let (text, e) = broken(inflate_slice(&junk, 1 << 30));
        assert_eq!(text, whole);
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("are not gzip data"), "{e}");
    }

    /// Everything a [`Members`] stream gives before it ends or fails (read through a small
    /// buffer, as the decoder's blocks read it), and how it failed.
    fn streamed(gz: &[u8]) -> (Vec<u8>, Option<io::Error>) {
        read_through(Members::new(io::BufReader::with_capacity(64, gz)))
    }

    /// What `r` gives before it ends or fails, read 1,000 bytes at a time, and how it failed.
    fn read_through(mut r: impl Read) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn a_streamed_member_found_damaged_after_its_text_discredits_it_nothing_else_does() {
        let (a, b) = (
            b"first member\n".repeat(2000),
            b"second member\n".repeat(2000),
        );
        let g = gz(&[&a, b"", &b]);
        let whole = [&a[..], &b[..]].concat();
        let (text, e) = streamed(&g);
        assert_eq!(text, whole);
        assert!(e.is_none(), "{e:?}");
        let second = gz(&[&a, b""]).len();
        let n = g.len();
        // the last member's check damaged, its data intact: found after its text was read
        let mut crc = g.clone();
        crc[n - 6] ^= 1;
        let (text, e) = streamed(&crc);
        assert_eq!(text, whole, "the text is read before the check");
        let e = e.unwrap();
        assert!(discredits(&e), "{e}");
        assert_eq!(discredited_after(&e), Some(2), "{e}");
        assert!(e.to_string().starts_with("gzip member 3 is damaged"), "{e}");
        assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
        // its data damaged: discredited wherever the damage is found after some text
        for at in [second + 40, n - 30] {
            let mut bad = g.clone();
            bad[at] ^= 0x5a;
            let (text, e) = streamed(&bad);
            let e = e.unwrap_or_else(|| panic!("{at}: read to the end"));
            assert!(text.starts_with(&a), "{at}");
            if text.len() > a.len() {
                assert!(discredits(&e), "{at}: {e}");
            }
        }
        // cut short: what it held up to the cut, not discredited
        let (text, e) = streamed(&g[..n - 20]);
        let e = e.unwrap();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert!(!discredits(&e));
        assert!(whole.starts_with(&text) && text.len() > a.len());
        // bytes after the last member that are not gzip, or a later member's header damaged:
        // every checked member read, then the error, which discredits none of them
        let mut junk = g.clone();
        junk.extend_from_slice(b"junk after the member");
        let mut header = g.clone();
        header[second + 3] = 0xff; // reserved flag bits set
        for (name, input, before) in [("junk", junk, &whole), ("header", header, &a)] {
            let (text, e) = streamed(&input);
            let e = e.unwrap_or_else(|| panic!("{name}: read to the end"));
            assert!(!discredits(&e), "{name}: {e}");
            assert_eq!(FailureKind::of(&e), FailureKind::Corrupt, "{name}");
            assert_eq!(&text, before, "{name}");
        }
    }

    /// Everything [`Members::first`] gives, read as [`streamed`] reads.
    fn first_members(gz: &[u8], n: usize) -> (Vec<u8>, Option<io::Error>) {
        let why = io::Error::new(
            io::ErrorKind::InvalidData,
            "the member after them is damaged",
        );
        read_through(Members::first(io::BufReader::with_capacity(64, gz), n, why))
    }

    #[test]
    fn the_members_before_a_damaged_one_are_read_again_alone_then_its_error() {
        let parts: [&[u8]; 4] = [b"one\n", b"", b"three\nthr", b"ee again\n"];
        let mut g = gz(&parts);
        let n = g.len();
        g[n - 6] ^= 1; // the last member's check
        let (_, e) = streamed(&g);
        let before = discredited_after(&e.unwrap()).unwrap();
        assert_eq!(before, 3);
        for k in 0..=before {
            let (text, e) = first_members(&g, k);
            assert_eq!(text, parts[..k].concat(), "{k}");
            let e = e.unwrap_or_else(|| panic!("{k}: no error"));
            assert_eq!(e.to_string(), "the member after them is damaged", "{k}");
            assert!(!discredits(&e));
        }
        // a member damaged among those read again: discredited there, as the first read was
        let mut bad = gz(&parts);
        let third = gz(&parts[..2]).len();
        bad[third + 12] ^= 0x5a;
        let (text, e) = first_members(&bad, 3);
        let e = e.unwrap();
        assert!(text.starts_with(b"one\n"), "{e}");
        assert_ne!(e.to_string(), "the member after them is damaged");
    }

    #[test]
    fn truncated_bad_and_too_big_inputs_are_declined() {
        let g = gz(&[&vec![b'x'; 100_000]]);
        // a cut member reads as bad data or as needing ever more room: declined either way
        assert!(gunzip(&g[..g.len() - 9], 1 << 26).is_err());
        let mut bad = g.clone();
        bad[20] ^= 0xff;
        assert!(gunzip(&bad, 1 << 30).is_err());
        assert_eq!(gunzip(&g, 50_000), Err(Declined::TooBig));
        let mut trailing = g.clone();
        trailing.extend_from_slice(b"junk after the member");
        assert_eq!(gunzip(&trailing, 1 << 30), Err(Declined::BadData));
    }
}
