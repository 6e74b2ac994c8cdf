//! Source stage: finds the inputs (files, folders walked recursively, `-` for standard input,
//! `s3://` prefixes) and opens them as byte streams, recognising gzip and Parquet by their
//! magic bytes rather than by name. The only stage that does I/O; only its [`s3`] part knows
//! tokio.

pub mod gunzip;
pub mod s3;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// How an input is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Text,
    Gzip,
    Parquet,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Text => "text",
            Encoding::Gzip => "gzip",
            Encoding::Parquet => "parquet",
        }
    }
}

/// Where an input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Stdin,
    S3 { bucket: String, key: String },
}

/// One input to read.
#[derive(Clone, Debug)]
pub struct Input {
    pub location: Location,
    pub display: String,
    pub size: u64,
    /// The S3 object's ETag, when the input is one.
    pub etag: Option<String>,
}

impl Input {
    /// The region named by an AWS delivery key layout in the path, if any
    /// (`.../vpcflowlogs/<region>/...` or `.../aws-region=<region>/...`).
    pub fn region_hint(&self) -> Option<&str> {
        region_from_key(&self.display)
    }
}

/// The region in an AWS flow-log key or path.
pub fn region_from_key(key: &str) -> Option<&str> {
    let mut parts = key.split(['/', '\\']);
    while let Some(p) = parts.next() {
        if let Some(r) = p.strip_prefix("aws-region=") {
            return Some(r).filter(|r| !r.is_empty());
        }
        if p == "vpcflowlogs" {
            return parts.next().filter(|r| looks_like_region(r));
        }
    }
    None
}

fn looks_like_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts
            .last()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

/// Why an input could not be read in full, as reports group it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The S3 endpoint refused or dropped connections (after the SDK's retries).
    Unreachable,
    /// A connect, first-byte or read timeout (after retries).
    Timeout,
    /// Access denied (permissions, or a file the user cannot read).
    AccessDenied,
    /// Gone between listing and reading.
    NotFound,
    /// The data stopped before its end (a download cut short, a truncated gzip stream).
    CutShort,
    /// The data is not what its format says (a corrupt gzip stream, a broken Parquet file).
    Corrupt,
    /// Any other read error.
    Io,
}

impl FailureKind {
    /// How a person reads the kind, in a summary line.
    pub fn describe(self) -> &'static str {
        match self {
            FailureKind::Unreachable => "endpoint unreachable",
            FailureKind::Timeout => "timed out",
            FailureKind::AccessDenied => "access denied",
            FailureKind::NotFound => "vanished before it was read",
            FailureKind::CutShort => "cut short",
            FailureKind::Corrupt => "corrupt",
            FailureKind::Io => "read error",
        }
    }

    /// The kind of an I/O error: one of ours carried inside it, else by its `ErrorKind`.
    pub fn of(e: &io::Error) -> FailureKind {
        if let Some(f) = e.get_ref().and_then(|x| x.downcast_ref::<Failure>()) {
            return f.kind;
        }
        use io::ErrorKind as K;
        match e.kind() {
            K::UnexpectedEof => FailureKind::CutShort,
            K::InvalidData | K::InvalidInput => FailureKind::Corrupt,
            K::TimedOut => FailureKind::Timeout,
            K::NotFound => FailureKind::NotFound,
            K::PermissionDenied => FailureKind::AccessDenied,
            K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
                FailureKind::Unreachable
            }
            _ => FailureKind::Io,
        }
    }
}

/// A failure to read an input: its kind and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// Carried as an I/O error through readers, recoverable with [`FailureKind::of`].
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// Errors finding inputs.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {err}")]
    Io { path: String, err: io::Error },
    #[error("no input files found under {0}")]
    Empty(String),
}

/// Expand command-line paths into inputs, folders walked recursively in name order.
/// Hidden files (starting with `.`) inside folders are skipped; `s3://` arguments are left
/// to [`s3`].
pub fn expand(paths: &[String]) -> Result<Vec<Input>, SourceError> {
    let mut out = Vec::new();
    for p in paths {
        if p.starts_with("s3://") {
            continue;
        }
        if p == "-" {
            out.push(Input {
                location: Location::Stdin,
                display: "-".into(),
                size: 0,
                etag: None,
            });
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path).map_err(|err| SourceError::Io {
            path: p.clone(),
            err,
        })?;
        if meta.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                return Err(SourceError::Empty(p.clone()));
            }
        } else {
            out.push(Input {
                location: Location::File(path.to_path_buf()),
                display: p.clone(),
                size: meta.len(),
                etag: None,
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), SourceError> {
    let io_err = |err| SourceError::Io {
        path: dir.display().to_string(),
        err,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .collect::<Result<_, _>>()
        .map_err(io_err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let meta = std::fs::metadata(&path).map_err(|err| SourceError::Io {
            path: path.display().to_string(),
            err,
        })?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if is_flow_log_name(&path) {
            out.push(Input {
                display: path.display().to_string(),
                location: Location::File(path),
                size: meta.len(),
                etag: None,
            });
        }
    }
    Ok(())
}

/// Inside folders, only names that look like flow-log data are read (explicit files always
/// are): `.log`, `.gz`, `.parquet`, `.txt`, or no extension.
pub(crate) fn is_flow_log_name(p: &Path) -> bool {
    match p.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(e) => matches!(
            e.to_ascii_lowercase().as_str(),
            "log" | "gz" | "parquet" | "txt"
        ),
    }
}

/// An opened input.
pub enum Opened {
    /// A text stream (plain or decompressed on the fly).
    Text(Box<dyn BufRead + Send>, Encoding),
    /// A whole input decompressed into memory (parsed in place, no further copy).
    Memory(gunzip::Inflated, Encoding),
    /// A Parquet file on disk.
    ParquetFile(File),
    /// A Parquet document in memory (standard input).
    ParquetBytes(bytes::Bytes),
}

/// Reader wrapper that reports bytes read (for progress).
pub struct Counting<R, F: FnMut(u64)> {
    inner: R,
    on_read: F,
}

impl<R: Read, F: FnMut(u64)> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

/// Gzip files up to this size are read whole and inflated with libdeflate (AWS delivers
/// files of a few MB); larger ones are streamed.
pub const WHOLE_GZIP_MAX: u64 = 16 << 20;
/// The most a whole-file inflate may produce before it gives up and the file is streamed.
pub const INFLATED_MAX: usize = 96 << 20;

/// Open a local input (file or standard input), sniffing its encoding. `on_read` is told of
/// raw bytes as they are read.
pub fn open(input: &Input, mut on_read: impl FnMut(u64) + Send + 'static) -> io::Result<Opened> {
    match &input.location {
        Location::File(p) => {
            if input.size <= WHOLE_GZIP_MAX {
                let mut f = File::open(p)?;
                let mut head = [0u8; 2];
                let n = read_up_to(&mut f, &mut head)?;
                if n == 2 && head == GZIP_MAGIC {
                    let inflated = gunzip::inflate(
                        |raw| {
                            raw.extend_from_slice(&head);
                            f.read_to_end(raw).map(|_| ())
                        },
                        INFLATED_MAX,
                    )?;
                    if let Some(text) = inflated {
                        on_read(input.size);
                        return Ok(Opened::Memory(text, Encoding::Gzip));
                    }
                }
            }
            let mut reader = BufReader::with_capacity(
                256 * 1024,
                Counting {
                    inner: File::open(p)?,
                    on_read,
                },
            );
            if reader.fill_buf()?.starts_with(&PARQUET_MAGIC) {
                return Ok(Opened::ParquetFile(File::open(p)?));
            }
            Ok(sniffed(Box::new(reader))?)
        }
        Location::Stdin => open_stream(Box::new(io::stdin()), on_read),
        Location::S3 { .. } => Err(io::Error::other("S3 objects are opened by the S3 source")),
    }
}

/// Open a stream (standard input, an S3 object), sniffing its encoding; a Parquet stream is
/// read into memory, since Parquet needs random access.
pub fn open_stream(
    raw: Box<dyn Read + Send>,
    on_read: impl FnMut(u64) + Send + 'static,
) -> io::Result<Opened> {
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            on_read,
        },
    );
    if reader.fill_buf()?.starts_with(&PARQUET_MAGIC) {
        let mut all = Vec::new();
        reader.read_to_end(&mut all)?;
        return Ok(Opened::ParquetBytes(all.into()));
    }
    sniffed(Box::new(reader))
}

/// Open a downloaded object received whole (`failure`: why the download stopped short, if it
/// did). Gzip is inflated with libdeflate as local files are, Parquet is decoded from the
/// buffer as it is; an object cut short is decoded as a stream up to where it stopped, then
/// reports the failure, exactly as the streaming path would.
pub fn open_received(
    body: bytes::Bytes,
    failure: Option<Failure>,
    mut on_read: impl FnMut(u64) + Send + 'static,
) -> io::Result<Opened> {
    on_read(body.len() as u64);
    let failure = failure.map(Failure::into_io);
    if body.starts_with(&PARQUET_MAGIC) {
        // Parquet needs the whole object (its footer is at the end)
        return match failure {
            Some(e) => Err(e),
            None => Ok(Opened::ParquetBytes(body)),
        };
    }
    match failure {
        None if body.starts_with(&GZIP_MAGIC) => {
            if let Some(text) = gunzip::inflate_slice(&body, INFLATED_MAX) {
                return Ok(Opened::Memory(text, Encoding::Gzip));
            }
        }
        Some(e) if body.is_empty() => return Err(e),
        _ => {}
    }
    // Declined, or cut short: decode what arrived as a stream (then the error, if any).
    sniffed(Box::new(BufReader::with_capacity(
        256 * 1024,
        io::Cursor::new(body).chain(FailAfter(failure)),
    )))
}

/// A reader that is empty, or fails with the error it holds.
struct FailAfter(Option<io::Error>);

impl Read for FailAfter {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn sniffed(mut reader: Box<dyn BufRead + Send>) -> io::Result<Opened> {
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        let gz = MultiGzDecoder::new(reader);
        return Ok(Opened::Text(
            Box::new(BufReader::with_capacity(256 * 1024, gz)),
            Encoding::Gzip,
        ));
    }
    Ok(Opened::Text(reader, Encoding::Text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(o: io::Result<Opened>) -> (String, Option<String>) {
        let mut r: Box<dyn io::Read> = match o.unwrap() {
            Opened::Memory(m, _) => Box::new(m),
            Opened::Text(t, _) => t,
            _ => panic!("not text"),
        };
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).err().map(|e| e.to_string());
        (String::from_utf8(out).unwrap(), err)
    }

    #[test]
    fn received_objects_open_whole_or_up_to_where_they_stopped() {
        use std::io::Write;
        let text = "version bytes\n2 10\n2 20\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = bytes::Bytes::from(gz.finish().unwrap());
        let open = |b: &bytes::Bytes, f: Option<&str>| {
            let f = f.map(|m| Failure::new(FailureKind::CutShort, m));
            open_received(b.clone(), f, |_| {})
        };
        // whole: inflated in memory
        assert!(matches!(open(&gz, None), Ok(Opened::Memory(..))));
        assert_eq!(text_of(open(&gz, None)), (text.to_string(), None));
        // plain text cut short: what arrived, then the failure
        let plain = bytes::Bytes::from(&text.as_bytes()[..18]);
        let (got, err) = text_of(open(&plain, Some("cut at 18")));
        assert_eq!(got, &text[..18]);
        assert_eq!(err.as_deref(), Some("cut at 18"));
        // the kind travels with the error through the reader
        let Opened::Text(mut r, _) = open(&plain, Some("cut")).unwrap() else {
            panic!()
        };
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(FailureKind::of(&e), FailureKind::CutShort);
        // nothing arrived: the failure itself
        assert!(open(&bytes::Bytes::new(), Some("gone")).is_err());
        // Parquet needs the whole object: cut short is a failure, never text
        let pq = bytes::Bytes::from_static(b"PAR1 a broken start");
        assert_eq!(open(&pq, Some("cut")).err().unwrap().to_string(), "cut");
        assert!(matches!(open(&pq, None), Ok(Opened::ParquetBytes(_))));
    }

    #[test]
    fn regions_from_both_key_layouts() {
        assert_eq!(
            region_from_key("logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/09/01/x.log.gz"),
            Some("us-east-1")
        );
        assert_eq!(
            region_from_key(
                "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=eu-west-2/year=2026/x"
            ),
            Some("eu-west-2")
        );
        assert_eq!(region_from_key("vpcflowlogs/2026/x.log"), None);
        assert_eq!(region_from_key("plain.log"), None);
    }
}
