//! A Parquet file read by position: on disk, or in memory. The `parquet` crate's own reader
//! of a `File` duplicates the file descriptor, seeks, reads and closes the duplicate for
//! every column chunk and page header it reads; [`LocalParquet`] reads each range with one
//! positioned read (`pread`) of the one descriptor, shared by every reader the decoder
//! makes. [`MemParquet`] is a file in memory, its ranges shared. Either may hold only some
//! ranges of the Parquet file it stands for (an S3 object fetched by ranged GETs, the rest
//! left as holes): a read outside them is then an error, never the holes' zeros.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// The ranges of a file that a reader holds, sorted and apart (`None`: all of it); a read
/// elsewhere fails.
#[derive(Clone, Debug, Default)]
struct Held(Option<Arc<[Range<u64>]>>);

impl Held {
    /// `ranges`, in any order, held.
    fn some(ranges: Vec<Range<u64>>) -> Held {
        Held(Some(super::joined(ranges, 0).into()))
    }

    /// Whether `length` bytes from `start` lie inside a file of `len` bytes, and inside
    /// one range held: a range past its end (a damaged footer's claim) fails before
    /// anything is allocated for it.
    fn check(&self, start: u64, length: u64, len: u64) -> Result<(), ParquetError> {
        match start.checked_add(length) {
            Some(end) if end <= len && self.up_to(start, len) >= end => Ok(()),
            Some(end) if end <= len => Err(ParquetError::General(format!(
                "a read of {length} bytes at offset {start} falls outside the ranges fetched"
            ))),
            _ => Err(ParquetError::EOF(format!(
                "a read of {length} bytes at offset {start} passes the file's end ({len} bytes)"
            ))),
        }
    }

    /// Where the bytes held from `start` on end (`len`, the file's end, where all are held;
    /// `0` where `start` is not held, unless it ends a range).
    fn up_to(&self, start: u64, len: u64) -> u64 {
        let Some(held) = &self.0 else {
            return len;
        };
        let i = held.partition_point(|r| r.start <= start);
        match i.checked_sub(1).map(|i| &held[i]) {
            Some(r) if start <= r.end => r.end,
            _ => 0,
        }
    }
}

/// A Parquet file on disk, of the length it had when opened; its clones share the one
/// descriptor (the parts of a large file read on several threads).
#[derive(Clone)]
pub struct LocalParquet {
    file: Arc<File>,
    len: u64,
    held: Held,
}

impl LocalParquet {
    pub fn new(file: File) -> io::Result<LocalParquet> {
        let len = file.metadata()?.len();
        Ok(LocalParquet {
            file: Arc::new(file),
            len,
            held: Held::default(),
        })
    }

    /// A file of `len` bytes that holds the bytes of the file it stands for only in `held`
    /// (in any order): reads elsewhere fail.
    pub fn sparse(
        file: File,
        len: u64,
        held: impl IntoIterator<Item = Range<u64>>,
    ) -> LocalParquet {
        LocalParquet {
            file: Arc::new(file),
            len,
            held: Held::some(held.into_iter().collect()),
        }
    }

    fn check(&self, start: u64, length: u64) -> Result<(), ParquetError> {
        self.held.check(start, length, self.len)
    }
}

/// A Parquet file in memory: `bytes` are its bytes from offset `base` on, of a file of
/// `len` bytes, of which only `held` may be read (all of `bytes`, for a whole file). Its
/// clones, and the chunks read from it, share the one buffer.
#[derive(Clone, Debug)]
pub struct MemParquet {
    bytes: Bytes,
    base: u64,
    len: u64,
    held: Held,
}

impl MemParquet {
    /// A whole file.
    pub fn whole(bytes: Bytes) -> MemParquet {
        MemParquet {
            len: bytes.len() as u64,
            bytes,
            base: 0,
            held: Held::default(),
        }
    }

    /// A file of `len` bytes of which `bytes` are those from `base` on, and only `held` (in
    /// any order; what of them lies outside `bytes` is not held) hold the file's bytes.
    pub fn sparse(
        bytes: Bytes,
        base: u64,
        len: u64,
        held: impl IntoIterator<Item = Range<u64>>,
    ) -> MemParquet {
        let end = base.saturating_add(bytes.len() as u64);
        let held = held
            .into_iter()
            .map(|r| r.start.max(base)..r.end.min(end))
            .filter(|r| !r.is_empty())
            .collect();
        MemParquet {
            bytes,
            base,
            len,
            held: Held::some(held),
        }
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes held in memory, from [`MemParquet::base`] on.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The offset in the file of the first byte held in memory.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Check a read, and find its bytes in the buffer.
    fn at(&self, start: u64, length: u64) -> Result<Range<usize>, ParquetError> {
        self.held.check(start, length, self.len)?;
        match (start.checked_sub(self.base), self.bytes.len() as u64) {
            (Some(from), have) if from.saturating_add(length) <= have => {
                Ok(from as usize..(from + length) as usize)
            }
            _ => Err(ParquetError::General(format!(
                "a read of {length} bytes at offset {start} falls outside the bytes held"
            ))),
        }
    }
}

impl Length for MemParquet {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for MemParquet {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        let end = self.held.up_to(start, self.len).max(start);
        let at = self.at(start, end - start)?;
        Ok(bytes::Buf::reader(self.bytes.slice(at)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        Ok(self.bytes.slice(self.at(start, length as u64)?))
    }
}

impl crate::format::parquet::ChunkSource for MemParquet {}

impl Length for LocalParquet {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for LocalParquet {
    type T = BufReader<At>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        self.check(start, 0)?;
        Ok(BufReader::new(At {
            file: self.file.clone(),
            pos: start,
            end: self.held.up_to(start, self.len),
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        let mut buf = Vec::new();
        crate::format::parquet::ChunkSource::chunk(self, start, length, &mut buf)?;
        Ok(buf.into())
    }
}

impl crate::format::parquet::ChunkSource for LocalParquet {
    /// Read into `room`, grown (and zeroed) only past the longest chunk read into it.
    fn chunk(
        &self,
        start: u64,
        len: usize,
        room: &mut Vec<u8>,
    ) -> Result<Option<Bytes>, ParquetError> {
        self.check(start, len as u64)?;
        if room.len() < len {
            room.resize(len, 0);
        }
        read_exact_at(&self.file, &mut room[..len], start)?;
        Ok(None)
    }
}

/// A reader from a position of the shared file, moving on as it reads, up to `end` (the
/// end of the range held there).
pub struct At {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.end.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        let n = read_at(&self.file, &mut buf[..room], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, at)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, at)
}

/// Write all of `buf` at offset `at` of `f`.
pub fn write_all_at(f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    return std::os::unix::fs::FileExt::write_all_at(f, buf, at);
    #[cfg(windows)]
    {
        let (mut buf, mut at) = (buf, at);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_write(f, buf, at) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    buf = &buf[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Fill `buf` from offset `at`; a file that ends first is an error.
pub(crate) fn read_exact_at(f: &File, mut buf: &mut [u8], mut at: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(f, buf, at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column chunks read into one room: each comes back whole, a shorter one after a
    /// longer one included, and the room grows only to the longest.
    #[test]
    fn chunks_read_into_reused_room() {
        use crate::format::parquet::ChunkSource;
        let (body, f) = file_of_100_000_bytes();
        let mut room = Vec::new();
        for (start, len) in [(10, 50_000), (7, 20), (99_000, 1_000), (0, 0), (3, 60_000)] {
            assert_eq!(f.chunk(start, len, &mut room).unwrap(), None);
            assert_eq!(&room[..len], &body[start as usize..start as usize + len]);
        }
        assert_eq!(room.len(), 60_000);
        assert!(f.chunk(99_990, 11, &mut room).is_err());
        assert!(f.chunk(0, 1 << 40, &mut room).is_err());
        assert_eq!(room.len(), 60_000, "a read past the end allocates nothing");
        // bytes in memory are shared, the room untouched
        let b = Bytes::from(body.clone());
        let mut untouched = Vec::new();
        assert_eq!(
            b.chunk(5, 10, &mut untouched).unwrap().unwrap(),
            &body[5..15]
        );
        assert!(untouched.is_empty());
    }

    /// A file of 100,000 bytes that differ from their neighbours, and its contents.
    fn file_of_100_000_bytes() -> (Vec<u8>, LocalParquet) {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &body).unwrap();
        (body, LocalParquet::new(f).unwrap())
    }

    /// A file holding only some ranges reads inside each of them, and fails a read that
    /// leaves one (into a hole, or across one; ranges given that touch are one); a reader
    /// from a position stops at the end of the range holding it.
    #[test]
    fn a_sparse_file_reads_only_the_ranges_it_holds() {
        use crate::format::parquet::ChunkSource;
        let (body, whole) = file_of_100_000_bytes();
        let f = LocalParquet::sparse(
            whole.file.try_clone().unwrap(),
            100_000,
            vec![10..20, 20..30, 50..60, 99_990..100_000],
        );
        assert_eq!(f.len(), 100_000);
        let mut room = Vec::new();
        // (10..20 and 20..30 touch: one range)
        for (start, len) in [
            (10, 10),
            (12, 8),
            (15, 10),
            (50, 10),
            (55, 0),
            (60, 0),
            (99_990, 10),
        ] {
            assert!(f.chunk(start, len, &mut room).is_ok(), "{start} {len}");
            assert_eq!(&room[..len], &body[start as usize..start as usize + len]);
        }
        for (start, len) in [
            (0, 1),
            (9, 2),
            (15, 20),
            (25, 30),
            (30, 1),
            (59, 2),
            (61, 0),
        ] {
            let e = f.chunk(start, len, &mut room).unwrap_err().to_string();
            assert!(
                e.contains("outside the ranges fetched"),
                "{start} {len}: {e}"
            );
        }
        assert!(f
            .get_bytes(99_995, 10)
            .unwrap_err()
            .to_string()
            .contains("end"));
        let mut rest = Vec::new();
        f.get_read(52).unwrap().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &body[52..60]);
        assert!(f.get_read(40).is_err());
        // the same in memory: the ranges in a buffer of the file's size, then only the
        // file's last 10,000 bytes held from their offset
        let m = MemParquet::sparse(
            Bytes::from(body.clone()),
            0,
            100_000,
            vec![10..20, 20..30, 50..60, 99_990..100_000],
        );
        assert_eq!(m.len(), 100_000);
        assert_eq!(&m.get_bytes(50, 10).unwrap()[..], &body[50..60]);
        assert_eq!(&m.get_bytes(15, 10).unwrap()[..], &body[15..25]);
        assert!(m.get_bytes(15, 20).is_err() && m.get_bytes(0, 1).is_err());
        let mut rest = Vec::new();
        m.get_read(52).unwrap().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &body[52..60]);
        let tail = Bytes::from(body[90_000..].to_vec());
        let t = MemParquet::sparse(tail, 90_000, 100_000, std::iter::once(90_000..100_000));
        assert_eq!(&t.get_bytes(95_000, 8).unwrap()[..], &body[95_000..95_008]);
        assert_eq!(&t.get_bytes(99_992, 8).unwrap()[..], &body[99_992..]);
        assert!(t.get_bytes(89_999, 2).is_err() && t.get_bytes(99_999, 2).is_err());
        assert!(t.get_read(10).is_err());
        // a held range outside the bytes given is not held
        let all = std::iter::once(0..1_000);
        let odd = MemParquet::sparse(Bytes::from(vec![7u8; 10]), 100, 1_000, all);
        assert!(odd.get_bytes(50, 1).is_err() && odd.get_bytes(105, 6).is_err());
        assert_eq!(&odd.get_bytes(105, 5).unwrap()[..], &[7u8; 5]);
    }

    #[test]
    fn ranges_read_back_and_past_the_end_fail_without_allocating() {
        let (body, f) = file_of_100_000_bytes();
        assert_eq!(f.len(), 100_000);
        assert_eq!(&f.get_bytes(0, 10).unwrap()[..], &body[..10]);
        assert_eq!(&f.get_bytes(99_990, 10).unwrap()[..], &body[99_990..]);
        assert_eq!(f.get_bytes(5, 0).unwrap().len(), 0);
        let mut r = f.get_read(12_345).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &body[12_345..]);
        // two readers of the one descriptor keep their own places
        let (mut a, mut b) = (f.get_read(1).unwrap(), f.get_read(2).unwrap());
        let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut y).unwrap();
        assert_eq!((&x[..], &y[..]), (&body[1..4], &body[2..5]));
        // a claim past the end (or of 2^60 bytes) is refused, not allocated
        assert!(f.get_bytes(99_995, 10).is_err());
        assert!(f.get_bytes(0, 1 << 60).is_err());
        assert!(f.get_bytes(u64::MAX, 2).is_err());
        assert!(f.get_read(100_001).is_err());
        // a file cut short after it was opened: an error, not a panic or a short buffer
        f.file.set_len(50).unwrap();
        assert!(f.get_bytes(40, 20).is_err());
        let mut rest = Vec::new();
        assert_eq!(f.get_read(40).unwrap().read_to_end(&mut rest).unwrap(), 10);
    }
}
