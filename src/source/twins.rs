//! Local inputs that hold one text in two forms: a gzip file beside its decompressed copy
//! (what `gunzip -k` leaves), or one text compressed twice into different bytes. Read both
//! and every record counts twice; [`super::dedup`]'s byte comparison cannot see it.
//!
//! Found without reading most inputs: a gzip file ends with the CRC-32 and the length (mod
//! 2^32) of its last member's text, so each local input gives its first bytes and its last
//! eight; only a plain file whose length is some gzip file's has its CRC-32 computed, and
//! only inputs that agree on both are compared whole, text against text (a gzip file
//! inflated as it is compared). A text cut into several gzip members ends with its last
//! member's check, not the whole text's: two such files of one text still agree (same last
//! member) and are found; the plain copy of one is not (its length is the whole text's).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

use super::{read_up_to, Input, Location, GZIP_MAGIC, PARQUET_MAGIC};

/// What an input's ends say about its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A gzip stream: its last member's text CRC-32 and length mod 2^32.
    Gzip { crc: u32, len: u32 },
    /// Neither gzip nor Parquet: the text is the file.
    Plain,
    /// Parquet, too short to tell, or unreadable: not compared.
    Other,
}

/// The shape of a file of `size` bytes, from its first four bytes and its last eight.
fn shape(p: &Path, size: u64) -> Shape {
    let read = || -> io::Result<Shape> {
        let mut f = File::open(p)?;
        let mut head = [0u8; 4];
        let n = read_up_to(&mut f, &mut head)?;
        if head[..n].starts_with(&GZIP_MAGIC) {
            // a header (10 bytes), an empty deflate block at least, and the trailer
            if size < 20 {
                return Ok(Shape::Other);
            }
            f.seek(io::SeekFrom::Start(size - 8))?;
            let mut tail = [0u8; 8];
            if read_up_to(&mut f, &mut tail)? < 8 {
                return Ok(Shape::Other);
            }
            let word =
                |i: usize| u32::from_le_bytes([tail[i], tail[i + 1], tail[i + 2], tail[i + 3]]);
            return Ok(Shape::Gzip {
                crc: word(0),
                len: word(4),
            });
        }
        Ok(match n == 4 && head == PARQUET_MAGIC {
            true => Shape::Other,
            false => Shape::Plain,
        })
    };
    read().unwrap_or(Shape::Other)
}

/// The CRC-32 of a whole file (gzip's), or `None` if it cannot be read.
fn crc_of(p: &Path) -> Option<u32> {
    let mut f = File::open(p).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut crc = 0u32;
    loop {
        let n = read_up_to(&mut f, &mut buf).ok()?;
        // SAFETY: the pointer and length describe `buf[..n]`, initialised and alive.
        crc = unsafe { libdeflate_sys::libdeflate_crc32(crc, buf.as_ptr().cast(), n) };
        if n < buf.len() {
            return Some(crc);
        }
    }
}

/// The text of a local input: the file, or its gzip members inflated.
fn text_of(p: &Path, gzip: bool) -> io::Result<Box<dyn Read>> {
    let f = BufReader::with_capacity(1 << 16, File::open(p)?);
    Ok(match gzip {
        true => Box::new(super::gunzip::Members::new(f)),
        false => Box::new(f),
    })
}

/// Whether two local inputs hold the same text; any error reading either (a damaged
/// member, a file gone) says no, so both are read and the reader reports it.
fn same_text(a: (&Path, bool), b: (&Path, bool)) -> bool {
    match (text_of(a.0, a.1), text_of(b.0, b.1)) {
        (Ok(ra), Ok(rb)) => super::same_stream(ra, rb),
        _ => false,
    }
}

/// A local input compared: its index among the inputs, its path, whether it is gzip.
type Local<'a> = (usize, &'a Path, bool);

/// Inputs that hold the text of an input before them in another form (see the module's
/// doc): each marked in `drop`; the note saying so. Inputs in `drop` already are left out;
/// S3 objects and standard input are not compared (an object's text would have to be
/// downloaded to be known).
pub(super) fn one_copy_of_a_text(inputs: &[Input], drop: &mut HashSet<usize>) -> Option<String> {
    let local: Vec<(usize, &Path, u64)> = inputs
        .iter()
        .enumerate()
        .filter(|(n, i)| !drop.contains(n) && i.size > 0)
        .filter_map(|(n, i)| match &i.location {
            Location::File(p) => Some((n, p.as_path(), i.size)),
            _ => None,
        })
        .collect();
    if local.len() < 2 {
        return None;
    }
    let shapes = super::each_file(&local, shape);
    // each text's key: (length mod 2^32, CRC-32), gzip files' from their trailers
    let mut by_key: HashMap<(u32, u32), Vec<Local>> = HashMap::new();
    for (&(n, p, _), s) in local.iter().zip(&shapes) {
        if let Shape::Gzip { crc, len } = *s {
            by_key.entry((len, crc)).or_default().push((n, p, true));
        }
    }
    if by_key.is_empty() {
        return None;
    }
    // the plain files of a length some gzip file has: their CRC-32 computed
    let lengths: HashSet<u32> = by_key.keys().map(|&(len, _)| len).collect();
    let plain: Vec<(usize, &Path, u64)> = local
        .iter()
        .zip(&shapes)
        .filter(|(&(_, _, size), s)| **s == Shape::Plain && lengths.contains(&(size as u32)))
        .map(|(f, _)| *f)
        .collect();
    for (&(n, p, size), crc) in plain.iter().zip(super::each_file(&plain, |p, _| crc_of(p))) {
        if let Some(crc) = crc {
            if let Some(group) = by_key.get_mut(&(size as u32, crc)) {
                group.push((n, p, false));
            }
        }
    }
    let mut groups: Vec<Vec<Local>> = by_key.into_values().filter(|g| g.len() > 1).collect();
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort_unstable();
    // in the inputs' order: the first of each text is kept
    let (copies, example) = super::later_equals(
        groups,
        |&(n, ..)| n,
        |&(_, a, az), &(_, b, bz)| same_text((a, az), (b, bz)),
        inputs,
        drop,
    );
    example.map(|(a, b)| format!(
        "{copies} input(s) hold the same text as another, one compressed and one not or compressed apart (e.g. {a} and {b}): each text read once"
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(text: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn inputs(dir: &Path, files: &[(&str, &[u8])]) -> Vec<Input> {
        files
            .iter()
            .map(|(name, body)| {
                let p = dir.join(name);
                std::fs::write(&p, body).unwrap();
                Input {
                    location: Location::File(p),
                    display: name.to_string(),
                    size: body.len() as u64,
                    etag: None,
                }
            })
            .collect()
    }

    fn kept(inputs: &[Input], drop: &HashSet<usize>) -> Vec<String> {
        (0..inputs.len())
            .filter(|n| !drop.contains(n))
            .map(|n| inputs[n].display.clone())
            .collect()
    }

    fn text(seed: u64, lines: usize) -> Vec<u8> {
        let mut t = b"version account-id interface-id srcaddr dstaddr bytes\n".to_vec();
        for i in 0..lines as u64 {
            let x = seed.wrapping_mul(6364136223846793005).wrapping_add(i);
            t.extend_from_slice(
                format!("2 1 eni-{x:x} 10.0.0.{} 52.0.0.1 {}\n", i % 250, x % 9999).as_bytes(),
            );
        }
        t
    }

    #[test]
    fn a_text_beside_its_gzip_copies_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = text(1, 5_000);
        let b = text(2, 5_000);
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("a.log", a.clone()),
            ("b.log.gz", gz(&b, 6)),
            ("a.log.gz", gz(&a, 6)),
            ("a-fast.gz", gz(&a, 1)),
            ("b.log", b.clone()),
            ("c.log", text(3, 5_000)),
        ];
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let inputs = inputs(dir.path(), &files);
        let mut drop = HashSet::new();
        let note = one_copy_of_a_text(&inputs, &mut drop).expect("a note");
        assert_eq!(kept(&inputs, &drop), ["a.log", "b.log.gz", "c.log"]);
        assert!(note.starts_with("3 input(s) hold the same text"), "{note}");
        assert!(note.contains("(e.g. a.log.gz and a.log)"), "{note}");
        // inputs dropped before are not looked at: b.log is then the first of its text
        let mut drop = HashSet::from([1]);
        one_copy_of_a_text(&inputs, &mut drop);
        assert_eq!(kept(&inputs, &drop), ["a.log", "b.log", "c.log"]);
    }

    #[test]
    fn texts_that_agree_only_in_their_checks_are_both_read() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (text(1, 300), text(2, 300));
        // two gzip files that end with the same member (same trailer), the second with one
        // member more before it; and a plain file of the first's length, another text
        let two = [gz(&b, 6), gz(&a, 6)].concat();
        let mut same_len = a.clone();
        same_len[60] ^= 1;
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("a.gz", gz(&a, 6)),
            ("ba.gz", two),
            ("other.log", same_len),
            (
                "a.parquet",
                [&PARQUET_MAGIC[..], &a[..], &PARQUET_MAGIC[..]].concat(),
            ),
        ];
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let inputs = inputs(dir.path(), &files);
        let mut drop = HashSet::new();
        assert_eq!(one_copy_of_a_text(&inputs, &mut drop), None);
        assert!(drop.is_empty());
    }

    #[test]
    fn a_damaged_copy_is_left_for_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let a = text(1, 2_000);
        let mut bad = gz(&a, 6);
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let files: Vec<(&str, Vec<u8>)> = vec![("a.log", a.clone()), ("a.log.gz", bad)];
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let inputs = inputs(dir.path(), &files);
        let mut drop = HashSet::new();
        assert_eq!(one_copy_of_a_text(&inputs, &mut drop), None);
        // a file gone since it was listed: not taken for a copy
        let mut inputs = inputs;
        let p = dir.path().join("a2.log.gz");
        std::fs::write(&p, gz(&a, 6)).unwrap();
        inputs.push(Input {
            location: Location::File(p.clone()),
            display: "a2.log.gz".into(),
            size: std::fs::metadata(&p).unwrap().len(),
            etag: None,
        });
        std::fs::remove_file(dir.path().join("a.log")).unwrap();
        let mut drop = HashSet::new();
        assert_eq!(one_copy_of_a_text(&inputs, &mut drop), None);
    }
}
