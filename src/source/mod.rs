//! Source stage: finds the inputs (files, folders walked recursively, `-` for standard input,
//! `s3://` prefixes) and opens them as byte streams, recognising gzip and Parquet by their
//! magic bytes rather than by name. The only stage that does I/O; only its [`s3`] part knows
//! tokio.

pub mod cur;
mod cwl;
pub mod gunzip;
pub mod pread;
pub mod s3;
mod twins;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::report::own::{self, OwnOutput};

named_enum!(
    /// How an input is encoded.
    Encoding {
        Text = "text",
        Gzip = "gzip",
        Parquet = "parquet",
    }
);

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
    /// Whether the input can be read again as it was read the first time: not standard
    /// input, nor a pipe or a device named as a path (`<(zcat …)`, `/dev/stdin`).
    pub fn rereadable(&self) -> bool {
        match &self.location {
            Location::Stdin => false,
            Location::File(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file()),
            Location::S3 { .. } => true,
        }
    }

    /// The region named by an AWS delivery key layout in the path, if any
    /// (`.../vpcflowlogs/<region>/...` or `.../aws-region=<region>/...`).
    pub fn region_hint(&self) -> Option<&str> {
        region_from_key(&self.display)
    }

    /// Whether the input may hold records of the period `since .. until`: any local input;
    /// an S3 object when the listing of that period would keep it (by its key's delivery
    /// time, [`s3::key_in_period`]).
    pub fn in_period(&self, since: Option<i64>, until: Option<i64>) -> bool {
        match &self.location {
            Location::S3 { key, .. } => s3::key_in_period(key, since, until),
            _ => true,
        }
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

named_enum!(
    /// Why an input could not be read in full, as reports group it.
    #[derive(Hash, PartialOrd, Ord)]
    FailureKind {
        /// The S3 endpoint refused or dropped connections (after the SDK's retries).
        Unreachable = "unreachable",
        /// A connect, first-byte or read timeout (after retries).
        Timeout = "timeout",
        /// Access denied (permissions, or a file the user cannot read).
        AccessDenied = "access-denied",
        /// Gone between listing and reading.
        NotFound = "not-found",
        /// The data stopped before its end (a download cut short, a truncated gzip stream).
        CutShort = "cut-short",
        /// The data is not what its format says (a corrupt gzip stream, a broken Parquet
        /// file).
        Corrupt = "corrupt",
        /// Read in full, but not one of its lines is a flow-log record (every one malformed:
        /// a CSV conversion, another layout without its header line).
        NoRecord = "no-record",
        /// Read in full, but every record lacks a field the figures need (`bytes`, `start`,
        /// the addresses, `interface-id`): a flow log whose custom format leaves it out.
        LackingFields = "lacking-fields",
        /// Any other read error.
        Io = "io",
    }
);

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
            FailureKind::NoRecord => "no flow-log record in it",
            FailureKind::LackingFields => "records without a field the figures need",
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
    #[error("no input files found under {0}: inside folders, names ending .log, .gz, .parquet, .txt, .csv or without an extension are read (hidden ones are skipped); name other files on the command line")]
    Empty(String),
}

/// The inputs found for the command line, and what was decided on the way (duplicates
/// read once, links not followed, loops), for stderr and the report's notes.
#[derive(Debug, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    pub notes: Vec<String>,
}

/// Expand command-line paths into inputs, folders walked recursively in name order.
/// Hidden files (starting with `.`) inside folders are skipped; `s3://` arguments are left
/// to [`s3`]. Paths named on the command line are followed wherever they point; inside a
/// folder a symbolic link is followed only when it stays under that folder (or with
/// `follow`), each directory is walked once (a link loop is reported, not followed), and an
/// entry that cannot be read (a dangling link, a folder without permission) becomes an input
/// that fails, so the run reports it and is marked incomplete. The same file reached twice
/// is read once; see [`dedup`] for the other duplicates.
pub fn expand(paths: &[String], follow: bool) -> Result<Expanded, SourceError> {
    let mut out = Expanded::default();
    let mut seen_dirs = HashSet::new();
    // each local file's identity from the one `stat` that found it, for `dedup`
    let mut ids = Identities::default();
    let mut archives = Vec::new();
    for p in paths {
        if p.starts_with("s3://") {
            continue;
        }
        if p == "-" {
            out.inputs.push(Input {
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
            let before = out.inputs.len();
            let root = path.canonicalize().map_err(|err| SourceError::Io {
                path: p.clone(),
                err,
            })?;
            if seen_dirs.contains(&root) {
                out.notes.push(format!(
                    "{p} was given twice (or inside another input folder): read once"
                ));
                continue;
            }
            let mut w = Walk {
                root: &root,
                follow,
                seen_dirs: &mut seen_dirs,
                ids: &mut ids,
                out: &mut out,
                archives: &mut archives,
            };
            w.dir(path, &root);
            if out.inputs.len() == before {
                return Err(SourceError::Empty(p.clone()));
            }
        } else {
            ids.note(path, &meta);
            out.inputs.push(Input {
                location: Location::File(path.to_path_buf()),
                display: p.clone(),
                size: meta.len(),
                etag: None,
            });
        }
    }
    out.notes
        .extend(archives_note(&archives, "inside the folders"));
    dedup_by(&mut out.inputs, &mut out.notes, |p| {
        ids.0.get(p).cloned().or_else(|| file_identity(p))
    });
    Ok(out)
}

/// The identities of the local files found, from the `stat` that found each: [`dedup`]
/// needs no second one (a month of AWS deliveries is thousands of files).
#[derive(Default)]
struct Identities(HashMap<PathBuf, Identity>);

impl Identities {
    fn note(&mut self, path: &Path, meta: &std::fs::Metadata) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            self.0
                .insert(path.to_path_buf(), Identity::File(meta.dev(), meta.ino()));
        }
        #[cfg(not(unix))]
        let _ = (path, meta); // (the identity is a canonical path: made when needed)
    }
}

/// A folder walk: the root it stays under, the directories already walked (by their real
/// path), and what it found.
struct Walk<'a> {
    root: &'a Path,
    follow: bool,
    seen_dirs: &'a mut HashSet<PathBuf>,
    ids: &'a mut Identities,
    out: &'a mut Expanded,
    /// Archives found inside the folder, not read (see [`is_archive_name`]).
    archives: &'a mut Vec<String>,
}

impl Walk<'_> {
    /// An entry that cannot be read: an input that will fail when opened (and be reported).
    fn unreadable(&mut self, path: &Path) {
        self.out.inputs.push(Input {
            display: path.display().to_string(),
            location: Location::File(path.to_path_buf()),
            size: 0,
            etag: None,
        });
    }

    /// Walk `dir` (shown as given; `real` is its canonical path).
    fn dir(&mut self, dir: &Path, real: &Path) {
        if !self.seen_dirs.insert(real.to_path_buf()) {
            self.out.notes.push(format!(
                "{} was reached twice (a link loop or a folder given twice): walked once",
                dir.display()
            ));
            return;
        }
        let mut entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(Result::ok).collect(),
            Err(_) => return self.unreadable(dir),
        };
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            self.entry(e.path(), is_link);
        }
    }

    /// One entry of a folder: a folder walked, a flow log an input, an archive noted; a link
    /// taken as its target where it is followed.
    fn entry(&mut self, path: PathBuf, is_link: bool) {
        let target = match is_link {
            true => match self.link_target(&path) {
                Some(t) => Some(t),
                None => return,
            },
            false => None,
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return self.unreadable(&path);
        };
        if meta.is_dir() {
            match target.map_or_else(|| path.canonicalize(), Ok) {
                Ok(real) => self.dir(&path, &real),
                Err(_) => self.unreadable(&path),
            }
        } else if is_flow_log_name(&path) {
            self.ids.note(&path, &meta);
            self.out.inputs.push(Input {
                display: path.display().to_string(),
                location: Location::File(path),
                size: meta.len(),
                etag: None,
            });
        } else if is_archive_name(&path) {
            self.archives.push(path.display().to_string());
        }
    }

    /// Where the link `path` leads, where it is followed: not where it dangles or loops (an
    /// input that fails, where its name is a flow log's), nor outside the folder without
    /// `--follow` (a note).
    fn link_target(&mut self, path: &Path) -> Option<PathBuf> {
        let Ok(target) = path.canonicalize() else {
            if is_flow_log_name(path) {
                self.unreadable(path);
            }
            return None;
        };
        if !self.follow && !target.starts_with(self.root) {
            self.out.notes.push(format!(
                "{} links outside the folder ({}): not followed (give --follow, or name it on the command line)",
                path.display(),
                target.display()
            ));
            return None;
        }
        Some(target)
    }
}

/// The stem of an AWS delivery file name, the same in every encoding of one delivery:
/// `<account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>` without `.log.gz`,
/// `.log.parquet`, `.gz.parquet`, `.parquet`, `.log`.
pub fn delivery_stem(path: &str) -> Option<&str> {
    let name = path.rsplit(['/', '\\']).next()?;
    if !name.contains("_vpcflowlogs_") {
        return None;
    }
    let stem = name.split('.').next()?;
    (stem.len() < name.len()).then_some(stem)
}

/// The flow-log id (`fl-…`) in an AWS delivery file name
/// (`<account>_vpcflowlogs_<region>_<flow-log-id>_<time>_<hash>…`), if the name is one.
pub fn flow_log_id(path: &str) -> Option<&str> {
    let stem = delivery_stem(path)?;
    let mut parts = stem.split('_');
    let (_, kind, _, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (kind == "vpcflowlogs" && id.len() > 3 && id.starts_with("fl-")).then_some(id)
}

/// The time a `YYYYMMDDTHHmmZ` stamp names, in Unix seconds.
pub fn stamp_time(part: &str) -> Option<i64> {
    let b = part.as_bytes();
    if b.len() != 14
        || b[8] != b'T'
        || b[13] != b'Z'
        || !b[..8].iter().chain(&b[9..13]).all(u8::is_ascii_digit)
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| part[r].parse::<i64>().ok();
    let (month, day) = (n(4..6)?, n(6..8)?);
    let (hour, minute) = (n(9..11)?, n(11..13)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = crate::time::days_from_civil(n(0..4)?, month as u32, day as u32);
    Some(days * 86_400 + hour * 3600 + minute * 60)
}

/// The delivery time of a file named exactly as AWS names its flow-log deliveries
/// (`<account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<8 hex digits>` and a
/// suffix): the end of the minutes whose records it holds. Other names (an export that kept
/// part of such a name, say) carry none.
pub fn delivery_time(path: &str) -> Option<i64> {
    let parts: Vec<&str> = delivery_stem(path)?.split('_').collect();
    let [account, "vpcflowlogs", _region, id, stamp, hash] = parts[..] else {
        return None;
    };
    let digits = |s: &str, n: usize, hex: bool| {
        s.len() == n
            && s.bytes().all(|b| match hex {
                true => b.is_ascii_hexdigit(),
                false => b.is_ascii_digit(),
            })
    };
    (digits(account, 12, false) && id.starts_with("fl-") && digits(hash, 8, true))
        .then(|| stamp_time(stamp))
        .flatten()
}

/// What makes two inputs candidates for one: a local file's device and inode (one `stat`,
/// where a canonical path costs a `readlink` per path component), or an object's address.
/// Some file systems (FUSE and network mounts) do not keep inodes unique, so two local files
/// of one identity are taken for one only when their canonical paths agree too (see
/// [`dedup`]).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg(unix)]
    File(u64, u64),
    #[cfg(not(unix))]
    Path(PathBuf),
    Object(String),
}

fn file_identity(p: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p)
            .ok()
            .map(|m| Identity::File(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        p.canonicalize().ok().map(Identity::Path)
    }
}

/// How an input's records are known apart from its name and place: the AWS delivery it is
/// ([`delivery_stem`]: one delivery in any encoding or folder) and, for an S3 object, its
/// content's ETag and size. Two inputs that share one hold the same records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Duplicate<'a> {
    Delivery(&'a str),
    Content(&'a str, u64),
}

impl<'a> Duplicate<'a> {
    /// The ways an input named `name` (with its S3 `etag`, if any, and `size`) is known.
    pub fn of(
        name: &'a str,
        etag: Option<&'a str>,
        size: u64,
    ) -> impl Iterator<Item = Duplicate<'a>> {
        let content = etag
            .filter(|e| !e.is_empty() && size > 0)
            .map(|e| Duplicate::Content(e, size));
        delivery_stem(name)
            .map(Duplicate::Delivery)
            .into_iter()
            .chain(content)
    }

    /// What two inputs of one such identity are, for a message.
    pub fn what(self) -> &'static str {
        match self {
            Duplicate::Delivery(_) => "one AWS delivery",
            Duplicate::Content(..) => "S3 objects of one content (the same ETag and size)",
        }
    }
}

/// The inputs of `b` that are also inputs of `a` (the same local file by device, inode and
/// canonical path, the same S3 object, standard input, or a [`Duplicate`] of one), by `b`'s names:
/// for `compare`, whose two sides must not share a record.
pub fn shared_inputs(a: &[Input], b: &[Input]) -> Vec<String> {
    #[derive(PartialEq, Eq, Hash)]
    enum Key<'a> {
        Place(Option<Identity>, Option<PathBuf>),
        Copy(Duplicate<'a>),
    }
    fn keys(i: &Input) -> impl Iterator<Item = Key<'_>> {
        let place = match &i.location {
            Location::File(p) => Key::Place(file_identity(p), p.canonicalize().ok()),
            Location::S3 { bucket, key } => {
                Key::Place(Some(Identity::Object(format!("s3://{bucket}/{key}"))), None)
            }
            Location::Stdin => Key::Place(None, None),
        };
        let copies = Duplicate::of(&i.display, i.etag.as_deref(), i.size).map(Key::Copy);
        std::iter::once(place).chain(copies)
    }
    let seen: HashSet<Key<'_>> = a.iter().flat_map(keys).collect();
    (b.iter())
        .filter(|i| keys(i).any(|k| seen.contains(&k)))
        .map(|i| i.display.clone())
        .collect()
}

/// Drop inputs that would count the same records twice, with a note for each kind: the same
/// file reached by two paths (same device and inode, see [`Identity`], and same canonical
/// path), the same S3 object listed twice, the same AWS delivery in two encodings (Parquet
/// kept), files of identical content (compared only among files of equal size, so most
/// inputs are not read twice; hard links to one file are found here), and local files of one
/// text in two forms, gzip and plain or gzip twice ([`twins`]).
pub fn dedup(inputs: &mut Vec<Input>, notes: &mut Vec<String>) {
    dedup_by(inputs, notes, file_identity)
}

/// [`dedup`] with the identity of local files given (a test stands in a file system whose
/// inodes repeat).
fn dedup_by(
    inputs: &mut Vec<Input>,
    notes: &mut Vec<String>,
    file_identity: impl Fn(&Path) -> Option<Identity>,
) {
    drop_named_twice(inputs, notes, file_identity);
    let mut drop = HashSet::new();
    notes.extend(one_encoding_a_delivery(inputs, &mut drop));
    notes.extend(one_copy_of_a_content(inputs, &mut drop));
    notes.extend(twins::one_copy_of_a_text(inputs, &mut drop));
    if !drop.is_empty() {
        let mut n = 0;
        inputs.retain(|_| {
            n += 1;
            !drop.contains(&(n - 1))
        });
    }
}

/// Drop the inputs that name a file (or S3 object) named before: the same identity and,
/// for local files, the same canonical path.
fn drop_named_twice(
    inputs: &mut Vec<Input>,
    notes: &mut Vec<String>,
    file_identity: impl Fn(&Path) -> Option<Identity>,
) {
    let identity = |i: &Input| -> Option<Identity> {
        match &i.location {
            Location::File(p) => file_identity(p),
            Location::S3 { bucket, key } => Some(Identity::Object(format!("s3://{bucket}/{key}"))),
            Location::Stdin => None,
        }
    };
    // the path of the first local file of each identity, and its canonical path once one
    // was needed
    let mut seen: HashMap<Identity, (Option<PathBuf>, Option<Option<PathBuf>>)> = HashMap::new();
    let mut same_file = 0usize;
    let mut first_dup = None;
    inputs.retain(|i| {
        let Some(id) = identity(i) else {
            return true;
        };
        let path = match &i.location {
            Location::File(p) => Some(p),
            _ => None,
        };
        let (first, canon) = match seen.entry(id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((path.cloned(), None));
                return true;
            }
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        };
        // a local file of a known identity is the same file only by the same canonical
        // path: where inodes repeat, two files may share one; a hard link is left to the
        // content check below
        let same = match (first.as_deref(), path) {
            (Some(a), Some(b)) => {
                let a = canon.get_or_insert_with(|| a.canonicalize().ok());
                a.is_some() && *a == b.canonicalize().ok()
            }
            _ => true,
        };
        if same {
            same_file += 1;
            let remote = matches!(i.location, Location::S3 { .. });
            first_dup.get_or_insert_with(|| (i.display.clone(), remote));
        }
        !same
    });
    if let Some((example, remote)) = first_dup {
        // (an S3 key twice is an argument that overlaps another, or a listing that returned
        // the key twice: a fault of the server, said so)
        let how = match remote {
            true => "by overlapping arguments, or by an S3 listing that returned the key twice",
            false => "by another path, a link or an overlapping argument",
        };
        notes.push(format!(
            "{same_file} input(s) named twice ({how}, e.g. {example}): each read once"
        ));
    }
}

/// One AWS delivery given twice (in two places or encodings): each but one (its Parquet copy where there is
/// one) marked in `drop`; the note saying so.
fn one_encoding_a_delivery(inputs: &[Input], drop: &mut HashSet<usize>) -> Option<String> {
    let mut by_stem: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, i) in inputs.iter().enumerate() {
        if let Some(stem) = delivery_stem(&i.display) {
            by_stem.entry(stem.to_string()).or_default().push(n);
        }
    }
    let mut example = None;
    // (in the inputs' order: the note's example is the same every run)
    let mut twins: Vec<&Vec<usize>> = by_stem.values().filter(|v| v.len() > 1).collect();
    twins.sort();
    for idx in twins {
        let keep = idx
            .iter()
            .copied()
            .find(|&n| inputs[n].display.ends_with(".parquet"))
            .unwrap_or(idx[0]);
        for &n in idx.iter().filter(|&&n| n != keep) {
            drop.insert(n);
            example
                .get_or_insert_with(|| (inputs[n].display.clone(), inputs[keep].display.clone()));
        }
    }
    example.map(|(a, b)| format!(
        "{} AWS deliveries were given twice, in two places or encodings (e.g. {a} and {b}): each read once, from its Parquet copy where there is one",
        drop.len()
    ))
}

/// Inputs of identical content (local files of one size with the same bytes, hashed then
/// compared; S3 objects of one size and ETag): each but the first marked in `drop`; the
/// note saying so.
fn one_copy_of_a_content(inputs: &[Input], drop: &mut HashSet<usize>) -> Option<String> {
    let mut by_size: HashMap<(u64, Option<&str>), Vec<usize>> = HashMap::new();
    for (n, i) in inputs.iter().enumerate() {
        if drop.contains(&n) || i.size == 0 {
            continue;
        }
        match &i.location {
            Location::File(_) => by_size.entry((i.size, None)).or_default().push(n),
            Location::S3 { .. } => {
                if let Some(e) = i.etag.as_deref() {
                    by_size.entry((i.size, Some(e))).or_default().push(n);
                }
            }
            Location::Stdin => {}
        }
    }
    let mut groups: Vec<&Vec<usize>> = by_size.values().filter(|v| v.len() > 1).collect();
    groups.sort();
    // the local files among them, told apart first by their ends (read in parallel)
    let local: Vec<(usize, &Path, u64)> = groups
        .iter()
        .flat_map(|g| g.iter())
        .filter_map(|&n| match &inputs[n].location {
            Location::File(p) => Some((n, p.as_path(), inputs[n].size)),
            _ => None,
        })
        .collect();
    let mut prints: Vec<Option<u64>> = vec![None; inputs.len()];
    for (&(n, ..), print) in local.iter().zip(each_file(&local, fingerprint)) {
        prints[n] = print;
    }
    // (a local file whose ends could not be read is left for the reader to report)
    let groups = groups.into_iter().map(|g| {
        g.iter()
            .filter(|&&n| !matches!(inputs[n].location, Location::File(_)) || prints[n].is_some())
            .copied()
            .collect::<Vec<usize>>()
    });
    let same = |a: usize, b: usize| {
        prints[a] == prints[b]
            && match (&inputs[a].location, &inputs[b].location) {
                (Location::File(a), Location::File(b)) => same_bytes(a, b),
                _ => true,
            }
    };
    let (identical, example) = later_equals(groups, |&n| n, |&a, &b| same(a, b), inputs, drop);
    example.map(|(a, b)| format!(
        "{identical} input(s) hold the same bytes as another (e.g. {a} and {b}): each content read once"
    ))
}

/// Of each group of inputs (each in the inputs' order), those `same` as one before them
/// marked in `drop`: how many, and the first such input's name with its earlier equal's.
fn later_equals<T>(
    groups: impl IntoIterator<Item = Vec<T>>,
    index: impl Fn(&T) -> usize,
    same: impl Fn(&T, &T) -> bool,
    inputs: &[Input],
    drop: &mut HashSet<usize>,
) -> (usize, Option<(String, String)>) {
    let mut count = 0;
    let mut example = None;
    for group in groups {
        let mut firsts: Vec<T> = Vec::new();
        for x in group {
            match firsts.iter().find(|f| same(f, &x)) {
                Some(first) => {
                    let (n, first) = (index(&x), index(first));
                    drop.insert(n);
                    count += 1;
                    example.get_or_insert_with(|| {
                        (inputs[n].display.clone(), inputs[first].display.clone())
                    });
                }
                None => firsts.push(x),
            }
        }
    }
    (count, example)
}

/// The bytes at each end of a file that [`fingerprint`] reads.
const PRINT_BLOCK: u64 = 4096;

/// A hash of a file's first and last [`PRINT_BLOCK`] bytes (the whole file when it is not
/// longer than both), `size` being its length when listed: files of one size that differ
/// almost always differ there (a gzip member ends with its text's CRC-32 and length,
/// a Parquet file with its footer), so only files that agree there are compared whole.
/// `None` if it cannot be read.
fn fingerprint(p: &Path, size: u64) -> Option<u64> {
    use std::hash::Hasher;
    let mut f = File::open(p).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = [0u8; 2 * PRINT_BLOCK as usize];
    let n = if size <= 2 * PRINT_BLOCK {
        read_up_to(&mut f, &mut buf).ok()?
    } else {
        let (head, tail) = buf.split_at_mut(PRINT_BLOCK as usize);
        let a = read_up_to(&mut f, head).ok()?;
        f.seek(io::SeekFrom::Start(size - PRINT_BLOCK)).ok()?;
        let b = read_up_to(&mut f, tail).ok()?;
        h.write_usize(a);
        a + b
    };
    h.write(&buf[..n]);
    Some(h.finish())
}

/// `read(path, size)` of each `(index, path, size)`, in order. The reads are mostly small
/// and scattered (a few a file, on a cold cache each a wait for the disk; whole files only
/// where a check needs them), so several threads issue them at once, whatever `--threads`
/// says.
fn each_file<T: Send>(
    files: &[(usize, &Path, u64)],
    read: impl Fn(&Path, u64) -> T + Sync,
) -> Vec<T> {
    const READERS: usize = 8;
    const PER_READER: usize = 32;
    let readers = files.len().div_ceil(PER_READER).min(READERS);
    let read = |part: &[(usize, &Path, u64)]| -> Vec<T> {
        part.iter().map(|&(_, p, n)| read(p, n)).collect()
    };
    if readers <= 1 {
        return read(files);
    }
    let per = files.len().div_ceil(readers);
    std::thread::scope(|s| {
        let read = &read;
        let parts: Vec<_> = files
            .chunks(per)
            .map(|part| {
                let thread = std::thread::Builder::new().spawn_scoped(s, move || read(part));
                (part, thread)
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(part, thread)| match thread {
                // (a reader that could not start or that panicked: its part read here)
                Ok(t) => t.join().unwrap_or_else(|_| read(part)),
                Err(_) => read(part),
            })
            .collect()
    })
}

/// Whether two files hold the same bytes, compared block by block.
fn same_bytes(a: &Path, b: &Path) -> bool {
    match (File::open(a), File::open(b)) {
        (Ok(fa), Ok(fb)) => same_stream(fa, fb),
        _ => false,
    }
}

/// Whether two streams give the same bytes, compared block by block; an error reading
/// either says no.
fn same_stream(mut a: impl Read, mut b: impl Read) -> bool {
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let (Ok(n), Ok(m)) = (read_up_to(&mut a, &mut x), read_up_to(&mut b, &mut y)) else {
            return false;
        };
        if n != m || x[..n] != y[..m] {
            return false;
        }
        if n < x.len() {
            return true;
        }
    }
}

/// The note on the archives found `where` and not read, if any.
pub fn archives_note(archives: &[String], place: &str) -> Option<String> {
    let first = archives.first()?;
    Some(format!(
        "{} archive(s) {place} were not read (e.g. {first}): flowcost reads flow-log text, gzip and Parquet; if they hold flow logs, extract them",
        archives.len()
    ))
}

/// Names of archives and compressions flowcost does not read, which a folder of logs may
/// hold in place of their files: skipped inside folders, but named in a note.
pub(crate) fn is_archive_name(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "zip" | "tar" | "tgz" | "tbz2" | "txz" | "bz2" | "xz" | "zst" | "7z" | "rar"
        )
    })
}

/// Inside folders, only names that look like flow-log data are read (explicit files always
/// are): `.log`, `.gz`, `.parquet`, `.txt`, `.csv`, or no extension.
pub(crate) fn is_flow_log_name(p: &Path) -> bool {
    match p.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(e) => matches!(
            e.to_ascii_lowercase().as_str(),
            "log" | "gz" | "parquet" | "txt" | "csv"
        ),
    }
}

/// An opened input.
pub enum Opened {
    /// A text stream (plain or decompressed on the fly).
    Text(Box<dyn BufRead + Send>, Encoding),
    /// A whole input decompressed into memory (parsed in place, no further copy).
    Memory(gunzip::Inflated, Encoding),
    /// A Parquet file on disk, read by position.
    ParquetFile(pread::LocalParquet),
    /// A Parquet document in memory (a stream or an object held whole, or the ranges of an
    /// object that its decoder reads).
    ParquetBytes(pread::MemParquet),
    /// One of flowcost's own outputs (a report, a CSV table, a partial result): not a flow
    /// log, not read.
    Own(OwnOutput),
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

pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

/// Gzip files up to this size are read whole and inflated with libdeflate (AWS delivers
/// files of a few MB); larger ones are streamed.
pub const WHOLE_GZIP_MAX: u64 = 16 << 20;
/// The most a whole-file inflate may produce before it gives up and the file is streamed.
pub const INFLATED_MAX: usize = 96 << 20;

/// Open a local input (file or standard input), sniffing its encoding. `on_read` is told of
/// raw bytes as they are read; a long Parquet stream (standard input, a pipe) is spooled
/// under `spool` ([`open_stream`]).
pub fn open(
    input: &Input,
    spool: &Path,
    mut on_read: impl FnMut(u64) + Send + 'static,
) -> io::Result<Opened> {
    match &input.location {
        Location::File(p) => {
            // opened once: the first bytes say what it is
            let mut f = File::open(p)?;
            if !f.metadata()?.is_file() {
                // a pipe or a device named as a path (`<(zcat …)`): read as a stream
                return open_stream(Box::new(f), spool, on_read);
            }
            let mut head = [0u8; own::HEAD];
            let n = read_up_to(&mut f, &mut head)?;
            let head = &head[..n];
            let small = input.size <= WHOLE_GZIP_MAX;
            if let Some(kind) = own_output(head) {
                on_read(input.size);
                return Ok(Opened::Own(kind));
            }
            refuse_unreadable(head)?;
            if small && head.starts_with(&GZIP_MAGIC) {
                let inflated = gunzip::inflate(
                    |raw| {
                        raw.extend_from_slice(head);
                        f.read_to_end(raw).map(|_| ())
                    },
                    INFLATED_MAX,
                )?;
                if let Some(opened) = inflated_whole(inflated)? {
                    on_read(input.size);
                    return Ok(opened);
                }
            } else if head.starts_with(&PARQUET_MAGIC) {
                // read by position: only the needed column chunks, one `pread` each
                return Ok(Opened::ParquetFile(pread::LocalParquet::new(f)?));
            }
            f.seek(io::SeekFrom::Start(0))?;
            let reader = BufReader::with_capacity(256 * 1024, Counting { inner: f, on_read });
            Ok(sniffed(Box::new(reader), spool)?)
        }
        Location::Stdin => open_stream(Box::new(io::stdin()), spool, on_read),
        Location::S3 { .. } => Err(io::Error::other("S3 objects are opened by the S3 source")),
    }
}

/// Open a gzip input again to read only its first `members` members, each checked, then fail
/// with `why`: what a member found damaged after its text was streamed
/// ([`gunzip::discredited_after`]) leaves to be trusted. A local file is opened here, an S3
/// object downloaded again by `again`; standard input, a file whose size changed, or an input
/// that no longer starts as gzip is refused.
pub fn open_first_members(
    input: &Input,
    again: Option<&s3::Again>,
    members: usize,
    why: io::Error,
) -> io::Result<Opened> {
    let changed = || Failure::new(FailureKind::Io, "the input changed while it was read").into_io();
    let raw: Box<dyn Read + Send> = match (&input.location, again) {
        (Location::File(p), _) => {
            let f = File::open(p)?;
            if !f.metadata()?.is_file() || f.metadata()?.len() != input.size {
                return Err(changed());
            }
            Box::new(f)
        }
        (Location::S3 { .. }, Some(again)) => Box::new(again.stream(input)),
        _ => return Err(changed()),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, raw);
    if !reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        return Err(changed());
    }
    let gz = gunzip::Members::first(reader, members, why);
    text_opened(
        Box::new(BufReader::with_capacity(256 * 1024, gz)),
        Encoding::Gzip,
    )
}

/// The largest Parquet document held in memory when read from a stream (standard input, a
/// pipe, an S3 object over [`WHOLE_GZIP_MAX`]); a longer one is spooled to a file.
pub const STREAM_PARQUET_IN_MEMORY: usize = WHOLE_GZIP_MAX as usize;

/// Open a stream (standard input, an S3 object), sniffing its encoding. Parquet needs random
/// access: a Parquet stream is held in memory up to [`STREAM_PARQUET_IN_MEMORY`], and a
/// longer one written to an unnamed temporary file under `spool` (removed by the system when
/// closed, even should the process die) and read from there by position, as a local file.
pub fn open_stream(
    raw: Box<dyn Read + Send>,
    spool: &Path,
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
        return parquet_of_stream(reader, spool, STREAM_PARQUET_IN_MEMORY);
    }
    let head = reader.fill_buf()?;
    let head = &head[..head.len().min(own::HEAD)];
    if let Some(kind) = own_output(head) {
        return Ok(Opened::Own(kind));
    }
    refuse_unreadable(head)?;
    sniffed(Box::new(reader), spool)
}

/// A Parquet file read from a stream: in memory up to `in_memory` bytes, else spooled to an
/// unnamed temporary file under `spool` ([`open_stream`]). A stream that fails fails the
/// input; so does a spool that cannot be made or written (a full disk), saying where.
fn parquet_of_stream(mut reader: impl Read, spool: &Path, in_memory: usize) -> io::Result<Opened> {
    let mut head = Vec::new();
    reader
        .by_ref()
        .take(in_memory as u64 + 1)
        .read_to_end(&mut head)?;
    if head.len() <= in_memory {
        return Ok(Opened::ParquetBytes(pread::MemParquet::whole(head.into())));
    }
    let spool_failure = |e: io::Error| {
        let what = format!("a Parquet stream over {} MiB", in_memory >> 20);
        spool_failure(&what, spool, e)
    };
    let mut file = tempfile::tempfile_in(spool).map_err(spool_failure)?;
    file.write_all(&head).map_err(spool_failure)?;
    drop(head);
    copy_to_spool(&mut reader, &mut file).map_err(|e| match e {
        Spooled::Read(e) => e,
        Spooled::Write(e) => spool_failure(e),
    })?;
    Ok(Opened::ParquetFile(pread::LocalParquet::new(file)?))
}

/// The failure of an input held on disk while read (`what`) whose file under `spool` could
/// not be made or written (`e`).
fn spool_failure(what: &str, spool: &Path, e: io::Error) -> io::Error {
    Failure::new(
        FailureKind::Io,
        format!(
            "{what} is held on disk while read (Parquet needs random access), and it could not be under {} ({e}): give --temp-dir a writable folder with room for it",
            spool.display()
        ),
    )
    .into_io()
}

/// Two ranges of a Parquet object less than this apart are fetched as one: one GET saved
/// for at most this many bytes not needed (as readers of objects commonly join them).
pub const RANGE_GAP: u64 = 1 << 20;
/// An object whose column chunks read lie in more ranges than this (after joining) is
/// fetched in one range up to its footer.
const MAX_RANGES: usize = 256;

/// Open a large Parquet object (named so) by fetching only what decoding it reads: its
/// footer, then its first four bytes and the column chunks its plan names from the footer
/// ([`s3::Ranged::chunks`]; `None` where the footer cannot be read), ranges less than
/// [`RANGE_GAP`] apart fetched as one. They are written at their offsets into an unnamed
/// temporary file under `spool`, the rest left as holes, and read as a local file that holds
/// those ranges only ([`pread::LocalParquet::sparse`]). An object that does not start and
/// end as Parquet, or whose footer cannot be read, is read whole as a stream
/// ([`open_stream`]), as any object is. `on_read` counts the bytes of the column chunks as
/// they arrive, then the rest of the object at once.
pub fn open_ranged(
    object: s3::Ranged,
    spool: &Path,
    mut on_read: impl FnMut(u64) + Send + 'static,
) -> io::Result<Opened> {
    let size = object.size();
    let planned = object
        .footer()?
        .and_then(|f| object.chunks(&f).map(|w| (f, w)));
    let Some((footer, wanted)) = planned else {
        return open_stream(Box::new(object.stream()), spool, on_read);
    };
    let what = format!("a Parquet object of {} MiB", size >> 20);
    let failed = |e: io::Error| spool_failure(&what, spool, e);
    let file = tempfile::tempfile_in(spool).map_err(failed)?;
    file.set_len(size).map_err(failed)?;
    let put = |at: u64, b: &[u8]| pread::write_all_at(&file, b, at).map_err(failed);
    put(footer.base(), footer.bytes())?;
    let mut ranges = to_fetch(wanted, footer.base());
    let mut fetched = 0u64;
    object.fetch(&ranges, |at, b| {
        put(at, b)?;
        fetched += b.len() as u64;
        on_read(b.len() as u64);
        Ok(())
    })?;
    let mut head = [0u8; 4];
    pread::read_exact_at(&file, &mut head, 0)?;
    if head != PARQUET_MAGIC {
        return open_stream(Box::new(object.stream()), spool, on_read);
    }
    on_read(size.saturating_sub(fetched));
    ranges.push(footer.base()..size);
    Ok(Opened::ParquetFile(pread::LocalParquet::sparse(
        file, size, ranges,
    )))
}

/// The ranges to fetch before `footer` (where the bytes already fetched start) to hold
/// `wanted` and the first four bytes (Parquet's mark): joined across gaps under
/// [`RANGE_GAP`], cut at the footer, and, where more than [`MAX_RANGES`] remain, everything
/// before the footer in one.
pub(crate) fn to_fetch(
    mut wanted: Vec<std::ops::Range<u64>>,
    footer: u64,
) -> Vec<std::ops::Range<u64>> {
    wanted.push(0..PARQUET_MAGIC.len() as u64);
    let ranges: Vec<std::ops::Range<u64>> = (joined(wanted, RANGE_GAP).into_iter())
        .map(|r| r.start..r.end.min(footer))
        .filter(|r| !r.is_empty())
        .collect();
    match ranges.len() > MAX_RANGES {
        true => std::iter::once(0..footer).collect(),
        false => ranges,
    }
}

/// `ranges` in order, those that overlap, touch or lie less than `gap` apart joined.
pub(crate) fn joined(mut ranges: Vec<std::ops::Range<u64>>, gap: u64) -> Vec<std::ops::Range<u64>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<std::ops::Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges.into_iter().filter(|r| !r.is_empty()) {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Why copying a stream to its spool stopped: the stream failed, or the spool did.
enum Spooled {
    Read(io::Error),
    Write(io::Error),
}

/// Copy the rest of `from` to the end of `to`, telling a failure of one from the other.
fn copy_to_spool(from: &mut impl Read, to: &mut impl Write) -> Result<(), Spooled> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Spooled::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Spooled::Write)?;
    }
}

/// Which of flowcost's own outputs an input is, by its first bytes (a gzip or Parquet input
/// is none: flowcost writes neither).
pub fn own_output(head: &[u8]) -> Option<OwnOutput> {
    if head.starts_with(&GZIP_MAGIC) || head.starts_with(&PARQUET_MAGIC) {
        return None;
    }
    own::recognise(head)
}

/// An archive or a compression flowcost does not read, by its first bytes (for a tar
/// archive, its first header's `ustar` at byte 257): what it is, for the error that makes
/// such an input fail rather than be read as lines that are all malformed.
fn archive_kind(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 5] = [
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\xfd7zXZ\x00", "xz-compressed data"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"Rar!\x1a\x07", "a RAR archive"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(kind);
    }
    // "BZh", the block size, then the first block's magic (the digits of pi)
    if head.starts_with(b"BZh") && head.get(4..10) == Some(b"1AY&SY") {
        return Some("bzip2-compressed data");
    }
    (head.get(257..262) == Some(b"ustar")).then_some("a tar archive")
}

/// A table written by Athena's UNLOAD or Spark in a format flowcost does not read, by its
/// magic: ORC (`ORC`) or an Avro data file (`Obj` and version 1). (No flow-log text starts so.)
fn table_kind(head: &[u8]) -> Option<&'static str> {
    match head {
        [b'O', b'R', b'C', ..] => Some("an ORC file"),
        [b'O', b'b', b'j', 1, ..] => Some("an Avro data file"),
        _ => None,
    }
}

/// A text in UTF-16 (as some editors and spreadsheet exports save it), by its byte order
/// mark or, without one, by the zero byte beside each ASCII byte of its first 64 bytes:
/// which byte order, for the error that makes such an input fail rather than be read as
/// lines that are all malformed. (A flow log's text never holds a zero byte.)
fn utf16_kind(head: &[u8]) -> Option<&'static str> {
    const LE: &str = "UTF-16 text (little-endian)";
    const BE: &str = "UTF-16 text (big-endian)";
    match head {
        [0xff, 0xfe, ..] => return Some(LE),
        [0xfe, 0xff, ..] => return Some(BE),
        _ => {}
    }
    let pairs = &head[..head.len().min(64)];
    if pairs.len() < 8 {
        return None;
    }
    let units = pairs.chunks_exact(2);
    let ascii = |b: u8| b.is_ascii() && b != 0;
    if units.clone().all(|u| ascii(u[0]) && u[1] == 0) {
        return Some(LE);
    }
    units
        .clone()
        .all(|u| u[0] == 0 && ascii(u[1]))
        .then_some(BE)
}

/// The error of an input flowcost does not read, by its first bytes: an archive or a
/// compression ([`archive_kind`]), a text in UTF-16 ([`utf16_kind`]), or a table in a columnar
/// format other than Parquet ([`table_kind`]).
fn refuse_unreadable(head: &[u8]) -> io::Result<()> {
    let (kind, advice) = match (archive_kind(head), utf16_kind(head), table_kind(head)) {
        (Some(kind), _, _) => (
            kind,
            "extract its files and give those (flow-log text, gzip or Parquet)",
        ),
        (None, Some(kind), _) => (
            kind,
            "convert it to UTF-8 (`iconv -f UTF-16 -t UTF-8`) and give that",
        ),
        (None, None, Some(kind)) => (
            kind,
            "write the table as Parquet or CSV instead (Athena's UNLOAD and Spark write both) and give that",
        ),
        (None, None, None) => return Ok(()),
    };
    Err(Failure::new(
        FailureKind::Corrupt,
        format!("{kind}, which flowcost does not read: {advice}"),
    )
    .into_io())
}

/// Open a downloaded object received whole (`failure`: why the download stopped short, if it
/// did; `held`: where only those ranges of a Parquet object were fetched, the rest of `body`
/// zeros). Gzip is inflated with libdeflate as local files are, Parquet is decoded from the
/// buffer as it is; an object cut short is decoded as a stream up to where it stopped, then
/// reports the failure, exactly as the streaming path would (a long Parquet stream inside
/// spooled under `spool`, [`open_stream`]).
pub fn open_received(
    body: bytes::Bytes,
    failure: Option<Failure>,
    held: Option<Vec<std::ops::Range<u64>>>,
    spool: &Path,
    mut on_read: impl FnMut(u64) + Send + 'static,
) -> io::Result<Opened> {
    on_read(body.len() as u64);
    let failure = failure.map(Failure::into_io);
    let head = &body[..body.len().min(own::HEAD)];
    if let Some(kind) = own_output(head) {
        return Ok(Opened::Own(kind));
    }
    refuse_unreadable(head)?;
    if body.starts_with(&PARQUET_MAGIC) {
        // Parquet needs the whole object (its footer is at the end)
        return match failure {
            Some(e) => Err(e),
            None => Ok(Opened::ParquetBytes(match held {
                None => pread::MemParquet::whole(body),
                Some(held) => {
                    let len = body.len() as u64;
                    pread::MemParquet::sparse(body, 0, len, held)
                }
            })),
        };
    }
    match failure {
        None if body.starts_with(&GZIP_MAGIC) => {
            if let Some(opened) = inflated_whole(gunzip::inflate_slice(&body, INFLATED_MAX))? {
                return Ok(opened);
            }
        }
        Some(e) if body.is_empty() => return Err(e),
        _ => {}
    }
    // Declined, or cut short: decode what arrived as a stream (then the error, if any).
    sniffed(
        Box::new(BufReader::with_capacity(
            256 * 1024,
            io::Cursor::new(body).chain(FailAfter(failure)),
        )),
        spool,
    )
}

/// A gzip input inflated whole, opened: its text in memory, or, where a member was damaged or
/// cut short, the text before it read as a stream that then fails with why (so that the input
/// is reported as any stream stopped short); `None` where it was declined. A text that is a
/// tar archive (a `.tar.gz`) is refused.
fn inflated_whole(inflated: gunzip::Inflate) -> io::Result<Option<Opened>> {
    Ok(match inflated {
        gunzip::Inflate::Whole(text) => {
            let head = gunzip::Inflated::bytes(&text);
            if head.starts_with(&PARQUET_MAGIC) {
                // (a Parquet file someone gzipped: AWS never does, but it is all here)
                let whole = bytes::Bytes::copy_from_slice(head);
                return Ok(Some(Opened::ParquetBytes(pread::MemParquet::whole(whole))));
            }
            if head.starts_with(&GZIP_MAGIC) {
                return gzip_inside(gunzip::inflate_slice(head, INFLATED_MAX));
            }
            let first = &head[..head.len().min(own::HEAD)];
            refuse_unreadable(first)?;
            match cwl::is_batches(first) {
                true => Some(batches(Box::new(text), Encoding::Gzip)),
                false => Some(Opened::Memory(text, Encoding::Gzip)),
            }
        }
        // (a gzipped Parquet file cut short: none of it can be read without its footer)
        gunzip::Inflate::Broken(text, e)
            if gunzip::Inflated::bytes(&text).starts_with(&PARQUET_MAGIC) =>
        {
            return Err(e)
        }
        gunzip::Inflate::Broken(text, e) => {
            let text = text.chain(FailAfter(Some(e)));
            let reader = BufReader::with_capacity(256 * 1024, text);
            Some(text_opened(Box::new(reader), Encoding::Gzip)?)
        }
        gunzip::Inflate::Declined => None,
    })
}

/// A gzip input's text that is gzip again (Firehose compressing what CloudWatch Logs already
/// gzipped), inflated whole in its turn and opened as any gzip input inflated whole; a third
/// layer, or an inner text too large to inflate in memory, is refused.
fn gzip_inside(inner: gunzip::Inflate) -> io::Result<Option<Opened>> {
    match inner {
        gunzip::Inflate::Whole(t) if gunzip::Inflated::bytes(&t).starts_with(&GZIP_MAGIC) => {
            Err(gzip_inside_refused("inside gzip"))
        }
        gunzip::Inflate::Declined => Err(gzip_inside_refused(&format!(
            "whose inner text is over {} MiB or not read whole",
            INFLATED_MAX >> 20
        ))),
        inner => inflated_whole(inner),
    }
}

/// The error of a gzip input whose text is gzip again and is not read, for `why`.
fn gzip_inside_refused(why: &str) -> io::Error {
    let advice = "inflate the outer layer (`gunzip -c FILE > FILE.inner.gz`) and give that";
    Failure::new(
        FailureKind::Corrupt,
        format!("gzip inside gzip {why}, which flowcost does not read: {advice}"),
    )
    .into_io()
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

/// Open a stream by its first bytes: gzip is inflated as it is read (a tar archive inside,
/// a `.tar.gz` too large to inflate whole, is refused by its first header), anything else is
/// text.
fn sniffed(mut reader: Box<dyn BufRead + Send>, spool: &Path) -> io::Result<Opened> {
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        let gz = gunzip::Members::new(reader);
        let mut text = BufReader::with_capacity(256 * 1024, gz);
        return match text.fill_buf() {
            // (a Parquet file someone gzipped, too large to inflate whole)
            Ok(head) if head.starts_with(&PARQUET_MAGIC) => {
                parquet_of_stream(text, spool, STREAM_PARQUET_IN_MEMORY)
            }
            // (read where the input is inflated whole: `gzip_inside`)
            Ok(head) if head.starts_with(&GZIP_MAGIC) => Err(gzip_inside_refused(&format!(
                "over {} MiB or piped in",
                WHOLE_GZIP_MAX >> 20
            ))),
            Ok(head) => {
                refuse_unreadable(&head[..head.len().min(own::HEAD)])?;
                text_opened(Box::new(text), Encoding::Gzip)
            }
            // the first member fails at once: the text is that failure, as it was read
            Err(e) => Ok(Opened::Text(
                Box::new(BufReader::new(FailAfter(Some(e)))),
                Encoding::Gzip,
            )),
        };
    }
    text_opened(reader, Encoding::Text)
}

/// A text opened: as it is, or as the messages of the CloudWatch Logs subscription batches
/// its first bytes say it holds ([`cwl`]).
/// (A text failing at once is that failure, as it was read.)
fn text_opened(mut reader: Box<dyn BufRead + Send>, enc: Encoding) -> io::Result<Opened> {
    Ok(match reader.fill_buf() {
        Ok(head) if cwl::is_batches(&head[..head.len().min(own::HEAD)]) => batches(reader, enc),
        Ok(_) => Opened::Text(reader, enc),
        Err(e) => Opened::Text(Box::new(BufReader::new(FailAfter(Some(e)))), enc),
    })
}

/// The text of the subscription batches `text` holds: their events' messages, one a line.
fn batches(text: Box<dyn BufRead + Send>, enc: Encoding) -> Opened {
    // (the lines are handed on from the reader's own buffer: no second one in front of it)
    Opened::Text(Box::new(cwl::Messages::new(text)), enc)
}

#[cfg(test)]
mod tests {
    /// Where the tests' long Parquet streams are spooled.
    fn tmp() -> PathBuf {
        std::env::temp_dir()
    }

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
    fn one_file_by_any_path_is_one_input() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("a.log"), "version bytes\n2 10\n").unwrap();
        std::fs::write(d.join("copy.log"), "version bytes\n2 10\n").unwrap();
        let file = |p: PathBuf| Input {
            display: p.display().to_string(),
            location: Location::File(p),
            size: 0, // not compared by content
            etag: None,
        };
        let mut paths = vec![d.join("a.log"), d.join("sub/../a.log"), d.join("copy.log")];
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("a.log"), d.join("soft.log")).unwrap();
            paths.push(d.join("soft.log"));
        }
        let mut inputs: Vec<Input> = paths.into_iter().map(file).collect();
        let mut notes = Vec::new();
        dedup(&mut inputs, &mut notes);
        let kept: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].ends_with("a.log") && kept[1].ends_with("copy.log"));
        assert!(notes[0].contains("named twice"), "{notes:?}");
    }

    /// Inputs of the files `names` (with their sizes, so that the content check runs).
    fn files_in(d: &Path, names: &[&str]) -> Vec<Input> {
        names
            .iter()
            .map(|n| {
                let p = d.join(n);
                Input {
                    display: n.to_string(),
                    size: std::fs::metadata(&p).unwrap().len(),
                    location: Location::File(p),
                    etag: None,
                }
            })
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_link_is_read_once_by_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.log"), "version bytes\n2 10\n").unwrap();
        std::fs::write(d.join("b.log"), "version bytes\n2 99\n").unwrap();
        std::fs::hard_link(d.join("a.log"), d.join("hard.log")).unwrap();
        let mut inputs = files_in(d, &["a.log", "hard.log", "b.log"]);
        let mut notes = Vec::new();
        dedup(&mut inputs, &mut notes);
        let kept: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
        assert_eq!(kept, ["a.log", "b.log"]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("same bytes"), "{notes:?}");
    }

    #[test]
    fn copies_are_found_by_their_bytes_not_their_ends() {
        // files of one size: equal at both ends and not in the middle (kept), equal
        // throughout (read once), short enough to be read whole; more than one reader's
        // share, so that the ends are read on several threads
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let big = |mid: u8| {
            let mut b = vec![b'x'; 3 * PRINT_BLOCK as usize];
            b[PRINT_BLOCK as usize + 7] = mid;
            b
        };
        let mut names = Vec::new();
        for i in 0..40u8 {
            let n = format!("f{i:02}.log");
            // f00..f19 differ in the middle only; f20..f39 copy f00
            std::fs::write(d.join(&n), big(if i < 20 { i } else { 0 })).unwrap();
            names.push(n);
        }
        for (n, body) in [
            ("s1.log", "2 10\n"),
            ("s2.log", "2 10\n"),
            ("s3.log", "2 11\n"),
        ] {
            std::fs::write(d.join(n), body).unwrap();
            names.push(n.into());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut inputs = files_in(d, &names);
        let mut notes = Vec::new();
        dedup(&mut inputs, &mut notes);
        let kept: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
        let mut want: Vec<&str> = names[..20].to_vec();
        want.extend(["s1.log", "s3.log"]);
        assert_eq!(kept, want);
        assert!(
            notes[0].starts_with("21 input(s) hold the same bytes"),
            "{notes:?}"
        );
        // a file that cannot be read is left for the reader to report, not taken for a copy
        let mut inputs = files_in(d, &["f00.log", "f20.log"]);
        std::fs::remove_file(d.join("f20.log")).unwrap();
        dedup(&mut inputs, &mut Vec::new());
        assert_eq!(inputs.len(), 2);
    }

    #[test]
    fn deliveries_in_two_encodings_are_read_once_and_named_in_order() {
        // forty deliveries, each as gzip text and Parquet (names only: not opened); the note's
        // example is the first in the inputs' order, whatever the order of a hash map
        let input = |name: String| Input {
            display: name.clone(),
            location: Location::S3 {
                bucket: "b".into(),
                key: name,
            },
            size: 0,
            etag: None,
        };
        let stem =
            |i: usize| format!("p/111122223333_vpcflowlogs_us-east-1_fl-0a_20260901T{i:04}Z_ab");
        let mut inputs: Vec<Input> = (0..40)
            .flat_map(|i| [input(stem(i) + ".log.gz"), input(stem(i) + ".log.parquet")])
            .collect();
        let mut notes = Vec::new();
        dedup(&mut inputs, &mut notes);
        assert_eq!(inputs.len(), 40);
        assert!(inputs.iter().all(|i| i.display.ends_with(".parquet")));
        let first = format!("e.g. {}.log.gz and {}.log.parquet)", stem(0), stem(0));
        assert!(
            notes[0].starts_with("40 AWS deliveries") && notes[0].contains(&first),
            "{notes:?}"
        );
        // one encoding in two places (a folder and its backup): read once, said so
        let mut inputs: Vec<Input> = (0..3)
            .flat_map(|i| {
                [
                    input(stem(i) + ".log.gz"),
                    input(format!("backup/{}.log.gz", stem(i))),
                ]
            })
            .collect();
        let mut notes = Vec::new();
        dedup(&mut inputs, &mut notes);
        assert_eq!(inputs.len(), 3);
        assert!(inputs.iter().all(|i| !i.display.starts_with("backup/")));
        assert!(
            notes[0].starts_with("3 AWS deliveries were given twice, in two places or encodings"),
            "{notes:?}"
        );
    }

    #[test]
    fn s3_objects_of_one_size_and_etag_are_read_once() {
        let object = |key: &str, size: u64, etag: Option<&str>| Input {
            location: Location::S3 {
                bucket: "logs".into(),
                key: key.into(),
            },
            display: format!("s3://logs/{key}"),
            size,
            etag: etag.map(String::from),
        };
        let mut inputs = vec![
            object("a", 10, Some("x")),
            object("b", 10, Some("x")),
            object("c", 10, Some("y")),
            object("d", 10, None),
            object("e", 11, Some("x")),
            object("a", 10, Some("x")),
        ];
        let mut notes = Vec::new();
        dedup_by(&mut inputs, &mut notes, |_| None);
        let kept: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
        assert_eq!(
            kept,
            ["s3://logs/a", "s3://logs/c", "s3://logs/d", "s3://logs/e"]
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("1 input(s) named twice"), "{notes:?}");
        assert!(
            notes[1].starts_with(
                "1 input(s) hold the same bytes as another (e.g. s3://logs/b and s3://logs/a)"
            ),
            "{notes:?}"
        );
    }

    #[test]
    fn files_that_share_an_inode_are_not_taken_for_one() {
        // a file system whose inodes repeat (some FUSE and network mounts report one for
        // every file): distinct files stay inputs, one file by two paths is read once
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("a.log"), "version bytes\n2 10\n").unwrap();
        std::fs::write(d.join("b.log"), "version bytes\n2 99\n").unwrap();
        std::fs::write(d.join("c.log"), "version bytes\n2 1000\n").unwrap();
        #[cfg(unix)]
        let one = |_: &Path| Some(Identity::File(1, 0));
        #[cfg(not(unix))]
        let one = |_: &Path| Some(Identity::Path(PathBuf::from("one")));
        let mut inputs = files_in(d, &["a.log", "b.log", "sub/../a.log", "c.log"]);
        let mut notes = Vec::new();
        dedup_by(&mut inputs, &mut notes, one);
        let kept: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
        assert_eq!(kept, ["a.log", "b.log", "c.log"]);
        assert!(notes[0].contains("named twice"), "{notes:?}");
    }

    /// An input of the file `name` in `dir`, written with `body`.
    fn file_written(dir: &Path, name: &str, body: &[u8]) -> Input {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        Input {
            location: Location::File(p.clone()),
            display: p.display().to_string(),
            size: body.len() as u64,
            etag: None,
        }
    }

    #[test]
    fn local_files_open_once_by_their_first_bytes() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let input = |name: &str, body: &[u8]| file_written(dir.path(), name, body);
        let text = "version bytes\n2 10\n";
        // text, short texts and an empty file: read from their first byte
        for body in [text, "PA", "PAR", ""] {
            let i = input("t.log", body.as_bytes());
            assert_eq!(text_of(open(&i, &tmp(), |_| {})).0, body, "{body:?}");
        }
        // gzip: inflated whole
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let i = input("t.log.gz", &gz.finish().unwrap());
        assert_eq!(text_of(open(&i, &tmp(), |_| {})).0, text);
        // Parquet (by its magic, whatever the name, of any size): read from disk by position
        let pq = b"PAR1 not really parquet, but its bytes PAR1".to_vec();
        let mut big = input("t.log", &pq);
        big.size = WHOLE_GZIP_MAX + 1;
        for i in [input("t.log", &pq), big] {
            match open(&i, &tmp(), |_| {}).unwrap() {
                Opened::ParquetFile(f) => {
                    use parquet::file::reader::ChunkReader;
                    assert_eq!(&f.get_bytes(0, pq.len()).unwrap()[..], &pq[..]);
                }
                _ => panic!("not a Parquet file"),
            }
        }
        // Parquet someone gzipped: inflated whole, or streamed (standard input, a large
        // file), then read from memory; cut short, a failure (Parquet needs its footer)
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&pq).unwrap();
        let gz = gz.finish().unwrap();
        let whole = open(&input("t.parquet.gz", &gz), &tmp(), |_| {});
        let streamed = open_stream(Box::new(std::io::Cursor::new(gz.clone())), &tmp(), |_| {});
        for opened in [whole, streamed] {
            match opened.unwrap() {
                Opened::ParquetBytes(b) => assert_eq!(&b.bytes()[..], &pq[..]),
                _ => panic!("not Parquet"),
            }
        }
        let cut = &gz[..gz.len() - 9];
        assert!(open(&input("cut.parquet.gz", cut), &tmp(), |_| {}).is_err());
        assert!(open_stream(Box::new(std::io::Cursor::new(cut.to_vec())), &tmp(), |_| {}).is_err());
    }

    /// A Parquet stream longer than what is held in memory is written to an unnamed file
    /// (nothing is left in the folder, even while it is read) and read from there, byte for
    /// byte; one that fits stays in memory. Where the spool cannot be made or written, the
    /// input fails saying where and what to do; where the stream fails, with its own error.
    /// Ranges are put in order and joined where they overlap, touch or lie closer than the
    /// gap; empty ones are dropped.
    #[test]
    fn ranges_are_joined_across_small_gaps() {
        let r = |v: &[(u64, u64)]| v.iter().map(|&(a, b)| a..b).collect::<Vec<_>>();
        let ranges = r(&[
            (50, 60),
            (0, 4),
            (4, 10),
            (30, 40),
            (35, 38),
            (61, 61),
            (100, 120),
        ]);
        assert_eq!(
            joined(ranges.clone(), 0),
            r(&[(0, 10), (30, 40), (50, 60), (100, 120)])
        );
        assert_eq!(
            joined(ranges.clone(), 10),
            r(&[(0, 10), (30, 60), (100, 120)])
        );
        assert_eq!(joined(ranges.clone(), 20), r(&[(0, 60), (100, 120)]));
        assert_eq!(joined(ranges, u64::MAX), r(&[(0, 120)]));
        assert_eq!(joined(Vec::new(), 5), r(&[]));
        // what is fetched of an object: joined under the gap, cut where the footer's bytes
        // (fetched first) start, past the most ranges all of it up to there in one
        let g = RANGE_GAP;
        let wanted = r(&[
            (0, 4),
            (100, 200),
            (g, g + 10),
            (3 * g, 4 * g),
            (4 * g + 5, 5 * g),
        ]);
        assert_eq!(
            to_fetch(wanted.clone(), 9 * g),
            r(&[(0, g + 10), (3 * g, 5 * g)])
        );
        assert_eq!(
            to_fetch(wanted.clone(), 3 * g + 1),
            r(&[(0, g + 10), (3 * g, 3 * g + 1)])
        );
        assert_eq!(to_fetch(wanted, 50), r(&[(0, 50)]));
        let apart = |n: u64| (0..n).map(|i| i * 3 * g..i * 3 * g + 1).collect::<Vec<_>>();
        assert_eq!(
            to_fetch(apart(MAX_RANGES as u64), u64::MAX).len(),
            MAX_RANGES
        );
        let over = MAX_RANGES as u64 + 1;
        assert_eq!(to_fetch(apart(over), over * 3 * g), r(&[(0, over * 3 * g)]));
    }

    #[test]
    fn a_long_parquet_stream_is_spooled_to_an_unnamed_file() {
        use parquet::file::reader::{ChunkReader, Length};
        let pq: Vec<u8> = b"PAR1"
            .iter()
            .copied()
            .chain((0..5000u32).map(|i| (i * 7) as u8))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let cursor = || std::io::Cursor::new(pq.clone());
        for in_memory in [0, 1, 4096, pq.len() - 1] {
            let Opened::ParquetFile(f) =
                parquet_of_stream(cursor(), dir.path(), in_memory).unwrap()
            else {
                panic!("not spooled at {in_memory}")
            };
            assert_eq!(f.len(), pq.len() as u64);
            assert_eq!(&f.get_bytes(0, pq.len()).unwrap()[..], &pq[..]);
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "a name left behind"
            );
        }
        for in_memory in [pq.len(), pq.len() + 1] {
            let Opened::ParquetBytes(b) =
                parquet_of_stream(cursor(), dir.path(), in_memory).unwrap()
            else {
                panic!("not in memory at {in_memory}")
            };
            assert_eq!(&b.bytes()[..], &pq[..]);
        }
        // no room to spool: where, and the flag that moves it
        let gone = dir.path().join("gone");
        let e = parquet_of_stream(cursor(), &gone, 100).err().unwrap();
        assert_eq!(FailureKind::of(&e), FailureKind::Io);
        let said = e.to_string();
        assert!(
            said.contains(&gone.display().to_string()) && said.contains("--temp-dir"),
            "{said}"
        );
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no space left"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(matches!(
            copy_to_spool(&mut cursor(), &mut Full),
            Err(Spooled::Write(_))
        ));
        // the stream fails past what is held in memory: its own error, not the spool's
        let cut = cursor().chain(FailAfter(Some(
            Failure::new(FailureKind::CutShort, "the download stopped").into_io(),
        )));
        let e = parquet_of_stream(cut, dir.path(), 100).err().unwrap();
        assert_eq!(
            (FailureKind::of(&e), e.to_string()),
            (FailureKind::CutShort, "the download stopped".into())
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
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
            open_received(b.clone(), f, None, &tmp(), |_| {})
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
        // a whole gzip object whose check fails: none of its text, then why, as a corrupt input
        let mut damaged = gz.to_vec();
        let n = damaged.len();
        damaged[n - 6] ^= 1;
        let damaged = bytes::Bytes::from(damaged);
        let (got, err) = text_of(open(&damaged, None));
        assert_eq!(got, "");
        assert!(err.unwrap().contains("none of its records were counted"));
        let Opened::Text(mut r, Encoding::Gzip) = open(&damaged, None).unwrap() else {
            panic!()
        };
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
    }

    #[test]
    fn archives_are_told_by_their_first_bytes_and_texts_are_not() {
        let mut tar = vec![b'x'; 600];
        tar[257..263].copy_from_slice(b"ustar\0");
        for (head, kind) in [
            (&b"PK\x03\x04\x14\0"[..], Some("a ZIP archive")),
            (b"BZh91AY&SY\x01", Some("bzip2-compressed data")),
            (b"\xfd7zXZ\0\0\x04", Some("xz-compressed data")),
            (b"\x28\xb5\x2f\xfd\x24", Some("zstd-compressed data")),
            (b"7z\xbc\xaf\x27\x1c\0", Some("a 7-Zip archive")),
            (b"Rar!\x1a\x07\x01", Some("a RAR archive")),
            (&tar, Some("a tar archive")),
            // texts that start alike are read
            (b"BZh9 is not bzip2\n", None),
            (b"PK is a text\n", None),
            (b"version account-id interface-id\n", None),
            (&tar[..260], None),
        ] {
            assert_eq!(archive_kind(head), kind, "{head:?}");
        }
        let e = refuse_unreadable(b"PK\x03\x04").unwrap_err();
        assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
        assert!(e
            .to_string()
            .starts_with("a ZIP archive, which flowcost does not read"));
        assert!(is_archive_name(Path::new("x/logs.ZIP")) && !is_archive_name(Path::new("a.gz")));
    }

    /// Tables Athena's UNLOAD or Spark write as ORC or Avro (files without an extension, in
    /// Athena's case, so read inside folders) are failed inputs saying what to write instead.
    #[test]
    fn orc_and_avro_tables_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (head, kind) in [
            (&b"ORC\x0a\x03\x08\x01\x12"[..], "an ORC file"),
            (b"Obj\x01\x04\x14avro.codec", "an Avro data file"),
        ] {
            assert_eq!(table_kind(head), Some(kind));
            let e = open(
                &file_written(dir.path(), "20260901_000000_00001", head),
                &tmp(),
                |_| {},
            )
            .err()
            .expect("refused");
            assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
            let said = e.to_string();
            assert!(
                said.starts_with(&format!("{kind}, which flowcost does not read")),
                "{said}"
            );
            assert!(said.contains("Parquet or CSV"), "{said}");
        }
        for text in [
            &b"version account-id"[..],
            b"2 123 eni-1",
            b"Objective",
            b"ORACLE",
        ] {
            assert_eq!(table_kind(text), None);
        }
    }

    #[test]
    fn utf16_texts_are_told_by_their_mark_or_their_zero_bytes() {
        let utf16 = |text: &str, le: bool| -> Vec<u8> {
            (text.encode_utf16())
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect()
        };
        let header = "version account-id interface-id srcaddr\n";
        let (le, be) = (
            Some("UTF-16 text (little-endian)"),
            Some("UTF-16 text (big-endian)"),
        );
        for (head, kind) in [
            ([&[0xff, 0xfe][..], &utf16(header, true)].concat(), le),
            ([&[0xfe, 0xff][..], &utf16(header, false)].concat(), be),
            (utf16(header, true), le),
            (utf16(header, false), be),
            // too short to tell, a UTF-8 text, binary junk with zero bytes
            (utf16("v 2", true), None),
            (header.as_bytes().to_vec(), None),
            (b"\0\x01binary\xffjunk\n".to_vec(), None),
            (vec![0; 64], None),
        ] {
            assert_eq!(utf16_kind(&head), kind, "{head:?}");
        }
        let e = refuse_unreadable(&utf16(header, true)).unwrap_err();
        assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
        assert!(e.to_string().starts_with(
            "UTF-16 text (little-endian), which flowcost does not read: convert it to UTF-8"
        ));
    }

    /// CloudWatch Logs subscription data (Firehose's objects of a subscription filter's
    /// batches, gzip members one after another) reads as its messages, plain, gzipped,
    /// streamed, received from S3 or read again up to a damaged member, and gzipped twice when
    /// read whole; a CloudWatch JSON event of one message is still read as a line.
    #[test]
    fn cloudwatch_subscription_batches_read_as_their_messages() {
        use std::io::Write;
        let doc = |n: u32| {
            format!(
                "{{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"111122223333\",\"logGroup\":\"vpc\",\
                 \"logStream\":\"eni-1-all\",\"subscriptionFilters\":[\"f\"],\"logEvents\":[{{\"id\":\"{n}\",\
                 \"timestamp\":1788220800000,\"message\":\"2 1 eni-1 10.0.0.1 52.216.8.1 1 443 6 1 {n} \
                 1788220800 1788220860 ACCEPT OK\"}}]}}"
            )
        };
        let mut members = Vec::new();
        for n in 0..3 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(doc(n).as_bytes()).unwrap();
            members.extend(gz.finish().unwrap());
        }
        let want = (0..3)
            .map(|n| {
                format!(
                    "2 1 eni-1 10.0.0.1 52.216.8.1 1 443 6 1 {n} 1788220800 1788220860 ACCEPT OK\n"
                )
            })
            .collect::<String>();
        let plain = (0..3).map(doc).collect::<String>();
        let dir = tempfile::tempdir().unwrap();
        let input = |name: &str, body: &[u8]| file_written(dir.path(), name, body);
        let read = |r: io::Result<Opened>| assert_eq!(text_of(r), (want.clone(), None));
        read(open(&input("batches", plain.as_bytes()), &tmp(), |_| {}));
        read(open(&input("batches.gz", &members), &tmp(), |_| {}));
        read(open_stream(
            Box::new(io::Cursor::new(members.clone())),
            &tmp(),
            |_| {},
        ));
        read(open_received(
            members.clone().into(),
            None,
            None,
            &tmp(),
            |_| {},
        ));
        // the members gzipped again (Firehose's own compression on): inflated twice where the
        // input is read whole, refused, saying so, where it is streamed, and a third layer too
        let gzip = |b: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b).unwrap();
            gz.finish().unwrap()
        };
        let double = gzip(&members);
        read(open(&input("double.gz", &double), &tmp(), |_| {}));
        read(open_received(
            double.clone().into(),
            None,
            None,
            &tmp(),
            |_| {},
        ));
        for refused in [
            open_stream(Box::new(io::Cursor::new(double.clone())), &tmp(), |_| {}),
            open(&input("triple.gz", &gzip(&double)), &tmp(), |_| {}),
        ] {
            let e = refused.err().expect("refused");
            assert_eq!(FailureKind::of(&e), FailureKind::Corrupt);
            assert!(e.to_string().starts_with("gzip inside gzip"), "{e}");
        }
        // the members before a damaged one read again, as batches too
        let why = io::Error::other("damaged");
        let again = open_first_members(&input("again.gz", &members), None, 2, why);
        let (text, e) = text_of(again);
        assert_eq!(
            text,
            want.lines()
                .take(2)
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
        assert_eq!(e.as_deref(), Some("damaged"));
        // cut short inside the third member: the two before it, then the stream's error
        let cut = &members[..members.len() - 20];
        for opened in [
            open(&input("cut.gz", cut), &tmp(), |_| {}),
            open_received(cut.to_vec().into(), None, None, &tmp(), |_| {}),
            open_stream(Box::new(io::Cursor::new(cut.to_vec())), &tmp(), |_| {}),
        ] {
            let (text, e) = text_of(opened);
            assert!(want.starts_with(&text), "{text}");
            assert!(text.lines().count() >= 2, "{text}");
            assert!(e.is_some());
        }
        // a third member whose damage breaks its JSON before its check fails (at its end):
        // streamed, the error is the damaged member's, which discredits the text read (the
        // engine reads again only the two before it), not the JSON's; read whole, the two
        // members before it, then its damage
        let mut broken = gzip(doc(2).replace("}]}", "]}").as_bytes());
        let crc = broken.len() - 8;
        broken[crc] ^= 0xff;
        let damaged = [gzip(doc(0).as_bytes()), gzip(doc(1).as_bytes()), broken].concat();
        let two: String = want.lines().take(2).map(|l| format!("{l}\n")).collect();
        let streamed = open_stream(Box::new(io::Cursor::new(damaged.clone())), &tmp(), |_| {});
        let Ok(Opened::Text(mut r, _)) = streamed else {
            panic!("not text")
        };
        let mut text = Vec::new();
        let e = r.read_to_end(&mut text).expect_err("damaged");
        assert!(gunzip::discredits(&e), "{e}");
        assert_eq!(gunzip::discredited_after(&e), Some(2));
        assert_eq!(String::from_utf8(text).unwrap(), two);
        let (text, e) = text_of(open(&input("damaged.gz", &damaged), &tmp(), |_| {}));
        assert_eq!(text, two);
        assert!(e.unwrap().contains("damaged"));
        // a CloudWatch JSON event is a line of text, read as before, even where its message
        // names the keys of a batch (quoted inside a JSON string, their quotes are escaped)
        let quoting = br#"{"message": "2 1 eni-1 {\"messageType\": 1, \"logEvents\": []}"}"#;
        let (text, _) = text_of(open(&input("quoting.json", quoting), &tmp(), |_| {}));
        assert_eq!(text.as_bytes(), quoting);
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

    #[test]
    fn delivery_times_from_exact_delivery_names() {
        let t = 1_788_307_200; // 2026-09-02T00:00Z
        for name in [
            "111122223333_vpcflowlogs_us-east-1_fl-0f1e2d3c4b5a69788_20260902T0000Z_604ac5ce.log.gz",
            "s3://b/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/09/02/111122223333_vpcflowlogs_us-east-1_fl-0f1e2d3c4b5a69788_20260902T0000Z_604AC5CE.log.parquet",
            r"C:\logs\111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_00000000.log",
        ] {
            assert_eq!(delivery_time(name), Some(t), "{name}");
        }
        assert_eq!(
            delivery_time("111122223333_vpcflowlogs_us-east-1_fl-1_20260902T2359Z_604ac5ce.gz"),
            Some(t + 86_340)
        );
        for name in [
            "export.log",
            // an export keeping part of such a name, another hash, no hash, wrong stamps
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_export.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_604ac5c.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20261302T0000Z_604ac5ce.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T2460Z_604ac5ce.log",
            "1111222233_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_604ac5ce.log",
            "111122223333_vpcflowlogs_us-east-1_1_20260902T0000Z_604ac5ce.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_604ac5ce_x.log",
            "111122223333_vpcflowlogs_us-east-1_fl-1_20260902T0000Z_604ac5ce",
        ] {
            assert_eq!(delivery_time(name), None, "{name}");
        }
    }

    #[test]
    fn flow_log_ids_from_delivery_names() {
        let name = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/09/01/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f67890_20260901T0005Z_1a2b3c4d.log.gz";
        assert_eq!(flow_log_id(name), Some("fl-0a1b2c3d4e5f67890"));
        assert_eq!(
            flow_log_id("d/1_vpcflowlogs_eu-west-1_fl-1_20260901T0005Z_h.log.parquet"),
            Some("fl-1")
        );
        assert_eq!(
            flow_log_id("d/1_vpcflowlogs_eu-west-1_x-1_2026_h.log.gz"),
            None
        );
        assert_eq!(
            flow_log_id("d/1_vpcflowlogs_eu-west-1_fl-_2026_h.log.gz"),
            None
        );
        assert_eq!(flow_log_id("export.log.gz"), None);
        assert_eq!(flow_log_id("fl-0a1b.log"), None);
    }
}
