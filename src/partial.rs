//! Partial results: what reading some of a run's inputs left (their statistics and the ENI
//! table), as a portable, versioned file that `flowcost merge` folds with others into the
//! report one run over all the inputs would have written. Shards of one run (`--shard K/N`)
//! and daily runs of one month make such files; any machine with the same flowcost merges
//! them.
//!
//! A partial file is, in order:
//! - the line `flowcost.partial/11`;
//! - one line of JSON, the [`Header`]: flowcost's version, every setting that shapes what is
//!   accumulated or how it is analysed ([`Settings`]; merge refuses partials that differ in
//!   any, naming it), the time range, the inputs read (name, size, ETag), the notes on how they
//!   were found, the S3 listings, and the flow logs the ENI keys' tags stand for;
//! - the body: the inputs' statistics (a `u32` length and postcard), then the ENI table in ENI
//!   order as the spill store writes a run (a `u64` count, then each `(key, aggregate)` pair as
//!   a `u32` length and postcard);
//! - the SHA-256 of the body (32 bytes).
//!
//! Region numbers inside the aggregates index the regions of the ip-ranges document, which
//! the header names by SHA-256: merge loads that same document, so they mean the same. Flow-log
//! tags index the header's own list, and merge maps them to the merged run's.
//!
//! Version rules: the first line names the format version; a reader refuses any other.
//! A partial also records the flowcost version that wrote it, and merge refuses partials of
//! another version (the aggregates' encoding follows the code).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::{
    eni_of_key, split_key, tagged_key, EniAgg, FileStats, FlowLogs, InputStats, Oddities, Repeats,
    Span,
};
use crate::cost::{GbUnit, PriceTable};
use crate::inventory::EcsTasks;
use crate::pipeline::Shard;
use crate::source::s3::Listing;

/// The first line of every partial file.
pub const FORMAT: &str = "flowcost.partial/11";
/// How the first line of a partial file of any version starts.
pub const FAMILY: &str = "flowcost.partial/";

/// The longest header line read (inputs and notes of a large shard fit many times over).
const MAX_HEADER: u64 = 256 << 20;
/// The largest single encoded item or statistics block.
const MAX_ITEM: u32 = 1 << 30;

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Which ip-ranges document the records were classified with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangesId {
    pub sync_token: String,
    pub create_date: String,
    pub sha256: String,
    /// Where it came from, as the report names it.
    pub source: String,
}

/// Every setting that shapes what is accumulated or how it is analysed and priced. Partials
/// merge only when these are equal, field by field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub pull_window: i64,
    pub grace: i64,
    pub top: usize,
    pub client_side_estimate: bool,
    pub flow_log_id: Option<String>,
    pub nat_enis: Vec<String>,
    pub nat_ips: Vec<String>,
    /// The `--fields` layout (empty: the default v2 format).
    pub fields: Vec<String>,
    pub region: Option<String>,
    pub ecs_tasks: EcsTasks,
    pub ip_ranges: RangesId,
    pub prices: PriceTable,
    pub nat_price_per_gb: Option<f64>,
    pub gb_unit: GbUnit,
    pub strict: bool,
}

impl Settings {
    /// The first setting (by name) in which `self` and `o` differ.
    pub fn first_difference(&self, o: &Settings) -> Option<&'static str> {
        let a = serde_json::to_value(self).ok()?;
        let b = serde_json::to_value(o).ok()?;
        SETTING_NAMES
            .iter()
            .find(|(field, _)| a.get(field) != b.get(field))
            .map(|(_, flag)| *flag)
    }
}

/// Each setting's field and the flag (or document) that sets it, for messages.
const SETTING_NAMES: [(&str, &str); 15] = [
    ("pull_window", "--pull-window"),
    ("grace", "the grace period"),
    ("top", "--top"),
    ("client_side_estimate", "--client-side-estimate"),
    ("flow_log_id", "--flow-log-id"),
    ("nat_enis", "--nat-eni / --nat-file"),
    ("nat_ips", "--nat-ip / --nat-file"),
    ("fields", "--fields"),
    ("region", "--region"),
    ("ecs_tasks", "--ecs-tasks"),
    ("ip_ranges", "the ip-ranges document (--ip-ranges)"),
    ("prices", "the price table (--prices)"),
    ("nat_price_per_gb", "--nat-price-per-gb"),
    ("gb_unit", "--gb-unit"),
    ("strict", "--strict"),
];

/// One input a partial read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    pub name: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The header line of a partial file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub flowcost_version: String,
    pub settings: Settings,
    /// The time filter (`--since`/`--until`/`--month`), seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The share of the run's inputs read (`--shard K/N`); none: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub inputs: Vec<InputId>,
    pub notes: Vec<String>,
    pub listings: Vec<Listing>,
    /// The flow-log ids the ENI keys' tags index (empty: keys are not tagged).
    pub flow_logs: Vec<String>,
    /// ENIs in the table.
    pub enis: u64,
}

/// The inputs' statistics, as the body holds them.
#[derive(Serialize, Deserialize)]
struct Stats {
    files: Vec<FileStats>,
    odd: Oddities,
    dated: Span,
    flow_log_fields: Vec<u32>,
    hours: BTreeSet<u32>,
    repeats: Repeats,
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    w: W,
    h: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

fn item<W: Write>(w: &mut W, buf: &mut Vec<u8>, v: &impl Serialize) -> io::Result<()> {
    buf.clear();
    *buf = postcard::to_extend(v, std::mem::take(buf)).map_err(io::Error::other)?;
    let len = u32::try_from(buf.len())
        .ok()
        .filter(|n| *n <= MAX_ITEM)
        .ok_or_else(|| io::Error::other("an aggregate too large for a partial file"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(buf)
}

/// Write a partial file to `path` (through a temporary file beside it, renamed when
/// complete; a pipe or a device written through: [`crate::output::replace`]): the header,
/// the inputs' statistics and the ENI table, which `scan` walks in ENI order.
pub fn write(
    path: &Path,
    header: &Header,
    stats: &InputStats,
    scan: impl FnOnce(&mut dyn FnMut(&str, &EniAgg)) -> io::Result<()>,
) -> io::Result<()> {
    crate::output::replace(path, |file| write_to(file, header, stats, scan))
}

fn write_to(
    file: &File,
    header: &Header,
    stats: &InputStats,
    scan: impl FnOnce(&mut dyn FnMut(&str, &EniAgg)) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::new(file);
    out.write_all(FORMAT.as_bytes())?;
    out.write_all(b"\n")?;
    serde_json::to_writer(&mut out, header).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    let mut w = Hashing {
        w: out,
        h: Sha256::new(),
    };
    let mut buf = Vec::new();
    // the statistics as JSON (their optional fields are left out when empty, which only a
    // self-describing encoding reads back), the aggregates as postcard
    let stats = serde_json::to_vec(&Stats {
        files: stats.files.clone(),
        odd: stats.odd.clone(),
        dated: stats.dated,
        flow_log_fields: stats.flow_log_fields.clone(),
        hours: stats.hours.clone(),
        repeats: stats.repeats.clone(),
    })
    .map_err(io::Error::other)?;
    let len = u32::try_from(stats.len())
        .ok()
        .filter(|n| *n <= MAX_ITEM)
        .ok_or_else(|| io::Error::other("input statistics too large for a partial file"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&stats)?;
    w.write_all(&header.enis.to_le_bytes())?;
    let mut n = 0u64;
    let mut err = None;
    scan(&mut |k, a| {
        if err.is_none() {
            n += 1;
            err = item(&mut w, &mut buf, &(k, a)).err();
        }
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    if n != header.enis {
        return Err(io::Error::other(format!(
            "the ENI table changed while written ({n} ENIs, {} expected)",
            header.enis
        )));
    }
    let Hashing { w: mut out, h } = w;
    out.write_all(&h.finalize())?;
    out.flush()?;
    Ok(())
}

/// Whether `path` is a partial file (a local file whose first line names the format).
pub fn is_partial_file(path: &str) -> bool {
    // only a regular file is looked into: a named pipe or a device read here would lose
    // what the run reads next (or wait for a writer that has gone)
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut first = Vec::new();
    let _ = BufReader::new(f)
        .take(FORMAT.len() as u64 + 1)
        .read_until(b'\n', &mut first);
    first.starts_with(FAMILY.as_bytes())
}

/// What a folder given where partial results are taken holds (`merge`, or `report` and
/// `compare` given a folder of them): every file below it but hidden ones (a `.` name, as a
/// run's temporary file), through links (each folder walked once), each list sorted.
#[derive(Debug, Default)]
pub struct Folder {
    /// Partial results, and files cut short before the format's first line was whole (an
    /// empty file aside): opened, those say they are cut.
    pub partials: Vec<String>,
    /// Everything else (a job's marker files, flowcost's reports and charts), with what each
    /// is where it is one of flowcost's outputs: not read. Those of none first.
    pub others: Vec<(String, Option<crate::report::own::OwnOutput>)>,
}

/// Why a folder was not taken as one of partial results.
#[derive(Debug)]
pub enum NotPartials {
    /// A file a folder of flow logs is read for ([`crate::source::is_flow_log_name`]), not
    /// empty, and neither a partial result nor one of flowcost's outputs (the walk stops
    /// there, so a folder of logs costs the first bytes of one log).
    Log(String),
    Unreadable(String, io::Error),
}

impl std::fmt::Display for NotPartials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPartials::Log(p) => write!(f, "{p} is not a partial result"),
            NotPartials::Unreadable(p, e) => write!(f, "{p} could not be read: {e}"),
        }
    }
}

/// What the folder `dir` holds ([`Folder`]); with `logs_stop`, the first file that makes it a
/// folder of flow logs ends the walk ([`NotPartials::Log`]).
pub fn folder(dir: &Path, logs_stop: bool) -> Result<Folder, NotPartials> {
    use crate::report::own::{recognise, OwnOutput, HEAD};
    let shown = |p: &Path| p.display().to_string();
    let unreadable = |p: &Path, e: io::Error| NotPartials::Unreadable(shown(p), e);
    let mut out = Folder::default();
    let mut seen = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let real = d.canonicalize().map_err(|e| unreadable(&d, e))?;
        if !seen.insert(real) {
            continue; // (a link back to a folder walked)
        }
        let mut entries = std::fs::read_dir(&d)
            .and_then(|rd| rd.collect::<io::Result<Vec<_>>>())
            .map_err(|e| unreadable(&d, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            // (a named pipe or a device is not opened: a read would take what another
            // reader waits for)
            let mut head = Vec::new();
            if meta.is_file() {
                File::open(&path)
                    .and_then(|f| f.take(HEAD as u64).read_to_end(&mut head))
                    .map_err(|e| unreadable(&path, e))?;
            }
            let cut = !head.is_empty() && FAMILY.as_bytes().starts_with(&head);
            match recognise(&head) {
                Some(OwnOutput::Partial) => out.partials.push(shown(&path)),
                None if cut => out.partials.push(shown(&path)),
                None if logs_stop && !head.is_empty() && crate::source::is_flow_log_name(&path) => {
                    return Err(NotPartials::Log(shown(&path)))
                }
                kind => out.others.push((shown(&path), kind)),
            }
        }
    }
    out.partials.sort();
    out.others
        .sort_by(|a, b| (a.1.is_some(), &a.0).cmp(&(b.1.is_some(), &b.0)));
    Ok(out)
}

/// A partial file, opened: its header read and checked, the body ready to read.
pub struct Partial {
    pub path: String,
    pub header: Header,
    body: BufReader<File>,
}

fn bad(path: &str, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{path}: not a usable partial file: {why}"),
    )
}

impl Partial {
    /// Open a partial file and read its header.
    pub fn open(path: &str) -> io::Result<Partial> {
        let f = File::open(path)?;
        let mut r = BufReader::new(f);
        let mut line = Vec::new();
        (&mut r)
            .take(FORMAT.len() as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if line.strip_suffix(b"\n") != Some(FORMAT.as_bytes()) {
            let shown = String::from_utf8_lossy(&line);
            return Err(bad(
                path,
                match shown.starts_with("flowcost.partial/") {
                    true => format!("format {} (this flowcost reads {FORMAT})", shown.trim_end()),
                    false => format!("no {FORMAT} first line"),
                },
            ));
        }
        line.clear();
        (&mut r).take(MAX_HEADER).read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(bad(path, "the header line is cut short"));
        }
        let header: Header = serde_json::from_slice(&line).map_err(|e| bad(path, e))?;
        let st = &header.settings;
        if !(1..=crate::config::MAX_PULL_WINDOW).contains(&st.pull_window)
            || !(0..=crate::config::MAX_PULL_WINDOW).contains(&st.grace)
            || st.top > 1_000_000
            || st
                .nat_price_per_gb
                .is_some_and(|p| !(0.0..crate::cost::MAX_PRICE).contains(&p))
            || st.prices.check().is_err()
        {
            return Err(bad(path, "settings out of range"));
        }
        if [header.since, header.until]
            .iter()
            .flatten()
            .any(|&t| !crate::time::in_range(t))
        {
            return Err(bad(path, "a time range outside the years 1970-9999"));
        }
        if let (Some(s), Some(u)) = (header.since, header.until) {
            if u <= s {
                return Err(bad(path, "an empty time range"));
            }
        }
        if header.flowcost_version != env!("CARGO_PKG_VERSION") {
            return Err(bad(
                path,
                format!(
                    "written by flowcost {}, this is {}",
                    header.flowcost_version,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        Ok(Partial {
            path: path.to_string(),
            header,
            body: r,
        })
    }

    /// How its ENI keys' flow-log tags become the merged run's (`global`, the flow logs
    /// of all the partials' inputs), for an ip-ranges document of `regions` regions.
    pub fn tag_map(&self, global: &FlowLogs, regions: usize) -> TagMap {
        let names: Vec<&str> = (self.header.inputs.iter())
            .map(|i| i.name.as_str())
            .collect();
        TagMap::new(global, &self.header.flow_logs, &names, regions)
    }

    /// Read the body: the inputs' statistics, then every ENI in order (to `f`, with keys
    /// whose tags `tags` maps to the merged run's), checking the checksum at the end.
    pub fn read_body(
        self,
        tags: &TagMap,
        f: &mut dyn FnMut(&str, &EniAgg) -> io::Result<()>,
    ) -> io::Result<InputStats> {
        let Partial {
            path, header, body, ..
        } = self;
        let mut r = HashingReader {
            r: body,
            h: Sha256::new(),
        };
        let mut buf = Vec::new();
        read_bytes(&mut r, &mut buf, &path)?;
        let stats: Stats = serde_json::from_slice(&buf).map_err(|e| bad(&path, e))?;
        if !stats.files.iter().all(counts_in_range) {
            return Err(bad(&path, "an input's line counts out of range"));
        }
        let mut count = [0u8; 8];
        r.read_exact(&mut count).map_err(|e| cut(&path, e))?;
        let count = u64::from_le_bytes(count);
        if count != header.enis {
            return Err(bad(&path, "the ENI count disagrees with the header"));
        }
        read_enis(&mut r, &mut buf, &path, count, tags, f)?;
        check_end(r, &path)?;
        Ok(InputStats {
            flow_log_fields: tags.fields(&stats.flow_log_fields),
            files: stats.files,
            odd: stats.odd,
            dated: stats.dated,
            flow_logs: FlowLogs::default(),
            hours: stats.hours,
            repeats: stats.repeats,
        })
    }
}

/// Whether an input's line counts and sizes are below 2^48: no real input has more, and so
/// bounded, any number of partials add up without wrapping.
fn counts_in_range(f: &FileStats) -> bool {
    let c = &f.counts;
    [
        c.lines,
        c.headers,
        c.blank,
        c.malformed,
        c.nodata,
        c.skipdata,
        c.rejected,
    ]
    .into_iter()
    .chain([c.outside_time, c.undated, c.counted, c.duplicate_flow_log])
    .chain(c.without.counts())
    .chain([f.size, f.skipdata_windows])
    .all(|v| v < 1 << 48)
}

/// Read `count` ENIs, each checked and in strictly increasing key order, and hand them to
/// `f` under the keys `tags` maps theirs to, an ENI's keys together (mapped tags may sort
/// otherwise: [`flush`] orders each ENI's group).
fn read_enis(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    path: &str,
    count: u64,
    tags: &TagMap,
    f: &mut dyn FnMut(&str, &EniAgg) -> io::Result<()>,
) -> io::Result<()> {
    let mut group: Vec<(String, EniAgg)> = Vec::new();
    let mut last: Option<String> = None;
    let mut key = String::new();
    for _ in 0..count {
        let (k, a): (String, EniAgg) = read_item(r, buf, path)?;
        a.check(tags.regions)
            .map_err(|why| bad(path, format!("ENI {k}: {why}")))?;
        if last.as_deref().is_some_and(|l| l >= k.as_str()) {
            return Err(bad(path, "the ENI table is not in order"));
        }
        if group
            .first()
            .is_some_and(|g| eni_of_key(&g.0) != eni_of_key(&k))
        {
            flush(&mut group, f)?;
        }
        let mapped = tags.map(&k, &mut key).to_string();
        last = Some(k);
        group.push((mapped, a));
    }
    flush(&mut group, f)
}

/// The body's end: the SHA-256 of everything read before it, and nothing after.
fn check_end<R: Read>(r: HashingReader<R>, path: &str) -> io::Result<()> {
    let HashingReader { r: mut rest, h } = r;
    let want = h.finalize();
    let mut got = [0u8; 32];
    rest.read_exact(&mut got).map_err(|e| cut(path, e))?;
    if got[..] != want[..] {
        return Err(bad(
            path,
            "its checksum does not match (the file is damaged)",
        ));
    }
    let mut more = [0u8; 1];
    if rest.read(&mut more)? != 0 {
        return Err(bad(path, "bytes after the checksum"));
    }
    Ok(())
}

fn flush(
    group: &mut Vec<(String, EniAgg)>,
    f: &mut dyn FnMut(&str, &EniAgg) -> io::Result<()>,
) -> io::Result<()> {
    group.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, a) in group.drain(..) {
        f(&k, &a)?;
    }
    Ok(())
}

fn cut(path: &str, e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => bad(path, "it is cut short"),
        _ => e,
    }
}

struct HashingReader<R: Read> {
    r: R,
    h: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

/// One length-prefixed item's bytes into `buf`.
fn read_bytes(r: &mut impl Read, buf: &mut Vec<u8>, path: &str) -> io::Result<()> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(|e| cut(path, e))?;
    let len = u32::from_le_bytes(len);
    if len > MAX_ITEM {
        return Err(bad(path, "an item claims more than 1 GiB"));
    }
    buf.clear();
    r.take(u64::from(len))
        .read_to_end(buf)
        .map_err(|e| cut(path, e))?;
    if buf.len() != len as usize {
        return Err(bad(path, "it is cut short"));
    }
    Ok(())
}

fn read_item<T: serde::de::DeserializeOwned>(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    path: &str,
) -> io::Result<T> {
    read_bytes(r, buf, path)?;
    postcard::from_bytes(buf).map_err(|e| match e {
        // what a type refuses while decoding (a cell key of no class, say): no writer of
        // ours makes it, and postcard keeps no message for it
        postcard::Error::SerdeDeCustom => {
            bad(path, "an ENI aggregate holds a value flowcost never writes")
        }
        e => bad(path, e),
    })
}

/// How one partial's flow-log tags become the merged run's.
pub struct TagMap {
    /// The merged run's flow logs.
    global: Vec<Box<str>>,
    /// Local tag → merged tag.
    local: Vec<Option<u16>>,
    /// For a partial whose keys carry no tag (its inputs were one flow log): that flow log's
    /// merged tag, when the merged run tags keys.
    untagged: Option<u16>,
    /// Regions in the ip-ranges document (what region numbers may be).
    regions: usize,
}

impl TagMap {
    /// The largest field count of each merged flow log, from a partial's counts by its own
    /// tags (an untagged partial's, its one flow log's).
    fn fields(&self, local: &[u32]) -> Vec<u32> {
        let mut fields = vec![0u32; self.global.len()];
        for (t, n) in local.iter().enumerate() {
            if let Some(g) = self.local.get(t).copied().flatten().or(self.untagged) {
                fields[g as usize] = fields[g as usize].max(*n);
            }
        }
        fields
    }

    /// For a partial with these flow logs (tags index them) and input names, in a merged run
    /// with `global` flow logs.
    pub fn new(global: &FlowLogs, local: &[String], names: &[&str], regions: usize) -> TagMap {
        let position = |id: &str| {
            global
                .ids()
                .iter()
                .position(|g| &**g == id)
                .map(|p| p as u16)
        };
        let untagged = match (local.is_empty(), names.first()) {
            (true, Some(n)) => global.tag(n),
            _ => None,
        };
        TagMap {
            global: global.ids().to_vec(),
            local: local.iter().map(|id| position(id)).collect(),
            untagged,
            regions,
        }
    }

    fn map<'b>(&self, key: &'b str, buf: &'b mut String) -> &'b str {
        match split_key(key) {
            Some((eni, t)) => match self.local.get(t as usize).copied().flatten() {
                Some(g) => tagged_key(eni, g, buf),
                None => key,
            },
            None => match self.untagged {
                Some(g) => tagged_key(key, g, buf),
                None => key,
            },
        }
    }
}

/// Why a set of partials cannot be merged.
pub fn check_compatible(parts: &[Partial]) -> Result<(), String> {
    let Some(first) = parts.first() else {
        return Err("no partial files given".into());
    };
    let mut paths = BTreeSet::new();
    for p in parts {
        if !paths.insert(p.path.as_str()) {
            return Err(format!("the partial file {} is given twice", p.path));
        }
    }
    for p in &parts[1..] {
        if let Some(flag) = first.header.settings.first_difference(&p.header.settings) {
            return Err(format!(
                "{} and {} were made with different settings: {flag}{}",
                first.path,
                p.path,
                ranges_difference(
                    &first.header.settings.ip_ranges,
                    &p.header.settings.ip_ranges
                )
            ));
        }
    }
    check_time_ranges(parts)?;
    let reads: Vec<Reads<'_>> = (parts.iter())
        .map(|p| Reads {
            path: &p.path,
            range: (p.header.since, p.header.until),
            shard: p.header.shard,
            inputs: &p.header.inputs,
        })
        .collect();
    check_inputs_once(&reads)?;
    check_shards(&reads)
}

/// What one partial read, for [`check_inputs_once`] and [`check_shards`]: its path, time
/// range, share of the inputs and inputs.
struct Reads<'a> {
    path: &'a str,
    range: (Option<i64>, Option<i64>),
    shard: Option<Shard>,
    inputs: &'a [InputId],
}

/// The shards of each run whole: every one of `0..N`, each once, where a run is the shards
/// of one time range, cut `N` and listing the same inputs ([`Shard::listing`]). A shard left
/// out would leave its inputs (about one in N) out of a report that could not tell; partials
/// that are no shard may be any number (their inputs are checked apart).
fn check_shards(parts: &[Reads<'_>]) -> Result<(), String> {
    type Run = ((Option<i64>, Option<i64>), u64, u64);
    let mut runs: BTreeMap<Run, BTreeMap<u64, &str>> = BTreeMap::new();
    for p in parts {
        let Some(s) = p.shard else { continue };
        if s.k >= s.n {
            return Err(format!(
                "{}: shard {}/{} is no shard (K < N)",
                p.path, s.k, s.n
            ));
        }
        let shards = runs.entry((p.range, s.n, s.listing)).or_default();
        if let Some(other) = shards.insert(s.k, p.path) {
            return Err(format!(
                "{other} and {} are both shard {}/{} of {}: give each shard once",
                p.path,
                s.k,
                s.n,
                range_said(p.range)
            ));
        }
    }
    for ((range, n, _), shards) in runs {
        let Some(first) = (0..n).find(|k| !shards.contains_key(k)) else {
            continue;
        };
        let left = n.saturating_sub(shards.len() as u64);
        let given = shards.iter().next().map_or("", |(_, p)| *p);
        return Err(format!(
            "{given} is a shard of {} cut into {n}, and {left} of the {n} {} missing (shard {first}/{n}{}): their inputs would be left out of the report without a word; merge all {n} (shards of one run list the same inputs: one that listed others, such as objects delivered while the shards ran, is counted as another run's)",
            range_said(range),
            if left == 1 { "is" } else { "are" },
            if left > 1 { ", …" } else { "" }
        ));
    }
    Ok(())
}

/// A partial's time range, for a message.
fn range_said((since, until): (Option<i64>, Option<i64>)) -> String {
    let at = |t: Option<i64>, open: &str| t.map_or(open.to_string(), crate::time::format_instant);
    match (since, until) {
        (None, None) => "the run over all the records".into(),
        _ => format!(
            "the run over {} .. {}",
            at(since, "the first record"),
            at(until, "the last")
        ),
    }
}

/// The partials' time ranges: all the same (shards of one run), or closed and none
/// overlapping (days of a month).
fn check_time_ranges(parts: &[Partial]) -> Result<(), String> {
    let ranges: BTreeSet<(Option<i64>, Option<i64>)> = parts
        .iter()
        .map(|p| (p.header.since, p.header.until))
        .collect();
    if ranges.len() < 2 {
        return Ok(());
    }
    let mut spans: Vec<(i64, i64, &str)> = Vec::new();
    for p in parts {
        match (p.header.since, p.header.until) {
            (Some(s), Some(u)) => spans.push((s, u, &p.path)),
            _ => {
                return Err(format!(
                    "{} covers an open time range, and the partials' ranges differ: give each a closed one (--since and --until, or --month)",
                    p.path
                ))
            }
        }
    }
    spans.sort();
    spans.dedup_by(|b, a| (a.0, a.1) == (b.0, b.1));
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "the time ranges of {} and {} overlap: records in both would count twice",
                w[0].2, w[1].2
            ));
        }
    }
    Ok(())
}

/// No input read by two partials of the same time range (two shards that both read it): its
/// records would count twice. (Two days' partials may both read a file that spans midnight.)
/// An input is known by its name, by the AWS delivery it is (one delivery as gzip text in one
/// partial and as Parquet in another, or from S3 in one and a local copy in another) and, for
/// an S3 object, by its content's ETag and size: [`InputId::identities`].
fn check_inputs_once(parts: &[Reads<'_>]) -> Result<(), String> {
    type Range = (Option<i64>, Option<i64>);
    let mut seen: BTreeMap<(Identity<'_>, Range), (&str, &str)> = BTreeMap::new();
    for p in parts {
        for i in p.inputs {
            for id in i.identities() {
                let Some((name, other)) = seen.insert((id, p.range), (&i.name, p.path)) else {
                    continue;
                };
                if other == p.path {
                    continue; // (one partial's inputs were kept apart when it was made)
                }
                return Err(match name == i.name {
                    true => format!(
                        "the input {} is in {other} and in {}: it would count twice",
                        i.name, p.path
                    ),
                    false => format!(
                        "{other} read {name} and {} read {}, {}: its records would count twice; merge the partials of one copy",
                        p.path,
                        i.name,
                        id.what()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A way an input is known: what two partials of one time range may not both have read.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Identity<'a> {
    Name(&'a str),
    Copy(crate::source::Duplicate<'a>),
}

impl Identity<'_> {
    /// What the two inputs of one identity are, for a message.
    fn what(self) -> &'static str {
        match self {
            Identity::Name(_) => "the same input",
            Identity::Copy(c) => c.what(),
        }
    }
}

impl InputId {
    /// The ways this input is known ([`Identity`]).
    fn identities(&self) -> impl Iterator<Item = Identity<'_>> {
        let copies = crate::source::Duplicate::of(&self.name, self.etag.as_deref(), self.size);
        std::iter::once(Identity::Name(&self.name)).chain(copies.map(Identity::Copy))
    }
}

/// The stretches of `[since, until)` that none of `parts`' time ranges covers, in order:
/// the time no input was read for (an open bound stands for the partials' first start or
/// last end). None when a partial's range is open: such partials are shards of one run,
/// which share its range.
pub fn unread(parts: &[Partial], (since, until): (Option<i64>, Option<i64>)) -> Vec<(i64, i64)> {
    let Some(ranges) = (parts.iter())
        .map(|p| p.header.since.zip(p.header.until))
        .collect::<Option<Vec<(i64, i64)>>>()
    else {
        return Vec::new();
    };
    match (
        since.or(ranges.iter().map(|r| r.0).min()),
        until.or(ranges.iter().map(|r| r.1).max()),
    ) {
        (Some(lo), Some(hi)) => holes(ranges, lo, hi),
        _ => Vec::new(),
    }
}

/// The stretches of `[lo, hi)` outside every one of `ranges` (`[since, until)` each), in
/// order.
fn holes(mut ranges: Vec<(i64, i64)>, lo: i64, hi: i64) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out = Vec::new();
    let mut read_to = lo;
    for (s, u) in ranges.into_iter().chain([(hi, hi)]) {
        let s = s.min(hi);
        if s > read_to {
            out.push((read_to, s));
        }
        read_to = read_to.max(u);
    }
    out
}

/// What tells two ip-ranges documents apart, and what to do about it, when they differ:
/// AWS publishes a new one every few days, so daily partials of one month made by a job that
/// takes the newest cached copy differ after an `ip-ranges update`.
fn ranges_difference(a: &RangesId, b: &RangesId) -> String {
    if a == b {
        return String::new();
    }
    format!(
        " (syncToken {}, created {}, against syncToken {}, created {}). Partials merge only when every one classified its addresses with one document (an `ip-ranges update` between them changes the one used): make all the partials of a period with the same --ip-ranges FILE, or read the logs of the period again",
        a.sync_token, a.create_date, b.sync_token, b.create_date
    )
}

/// One entry per input: where daily partials both read a file whose records straddle
/// midnight, its two statistics become the one a run over both days would have kept. What
/// the time filter does not touch (headers, blank and malformed lines, status and undated
/// records) each read counted in full, so it is taken once; what it splits (counted and
/// rejected records) is summed; the rest of the lines were outside every range.
pub fn combine_same_inputs(mut files: Vec<FileStats>) -> Vec<FileStats> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out: Vec<FileStats> = Vec::with_capacity(files.len());
    for f in files {
        match out.last_mut() {
            Some(o) if o.path == f.path => {
                let (a, b) = (&mut o.counts, &f.counts);
                a.counted += b.counted;
                a.rejected += b.rejected;
                a.lines = a.lines.max(b.lines);
                a.outside_time = 0;
                a.outside_time = a.lines.saturating_sub(a.accounted());
                if o.error.is_none() && f.error.is_some() {
                    o.error = f.error;
                    o.failure = f.failure;
                }
            }
            _ => out.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{
        check_inputs_once, check_shards, counts_in_range, holes, InputId, Reads, Shard, TagMap,
    };
    use crate::account::FileStats;

    /// Two partials of one time range may not have read one input, whether they name it
    /// alike, as one AWS delivery in two encodings or places, or as S3 objects of one ETag and
    /// size; partials of other ranges may (a file across midnight), and a partial's own
    /// inputs are not compared with each other.
    #[test]
    fn an_input_read_by_two_partials_of_one_range_is_refused() {
        let id = |name: &str, size: u64, etag: Option<&str>| InputId {
            name: name.into(),
            size,
            etag: etag.map(Into::into),
        };
        let aws = "111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f67890_20260901T0005Z_ddff6d49";
        let gz = id(&format!("logs/{aws}.log.gz"), 387, None);
        let parquet = id(&format!("/data/x/{aws}.log.parquet"), 900, None);
        let s3 = id(&format!("s3://b/k/{aws}.log.gz"), 387, Some("\"e1\""));
        let copy = id("s3://other/flows.gz", 387, Some("\"e1\""));
        let other = id("logs/other.log.gz", 387, None);
        let day = |d: i64| (Some(d * 86_400), Some((d + 1) * 86_400));
        let r = |path, range, inputs| Reads {
            path,
            range,
            shard: None,
            inputs,
        };
        let refused = |parts: &[Reads<'_>], why: &str| {
            let e = check_inputs_once(parts).unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        let (one, two) = (std::slice::from_ref(&gz), std::slice::from_ref(&parquet));
        refused(
            &[r("a", day(1), one), r("b", day(1), one)],
            "is in a and in b",
        );
        refused(
            &[r("a", day(1), one), r("b", day(1), two)],
            "one AWS delivery",
        );
        let (three, four) = (std::slice::from_ref(&s3), std::slice::from_ref(&copy));
        refused(
            &[r("a", day(1), three), r("b", day(1), two)],
            "one AWS delivery",
        );
        refused(
            &[r("a", day(1), three), r("b", day(1), four)],
            "one content",
        );
        // a day between two shards of another day does not hide them from each other
        let (a, d2) = (r("a", day(1), one), r("d2", day(2), one));
        refused(&[a, d2, r("c", day(1), one)], "is in a and in c");
        let (a, d2) = (r("a", day(1), one), r("d2", day(2), one));
        refused(&[a, d2, r("c", day(1), two)], "a read logs/");
        assert!(check_inputs_once(&[r("a", day(1), one), r("d2", day(2), two)]).is_ok());
        let both = [gz.clone(), parquet.clone()];
        assert!(check_inputs_once(&[r("a", day(1), &both)]).is_ok());
        // a local file of the same size is not the same input
        let five = std::slice::from_ref(&other);
        assert!(check_inputs_once(&[r("a", day(1), one), r("b", day(1), five)]).is_ok());
    }

    /// The shards of each time range must be all of one cut, each once: a shard left out, a
    /// run cut two ways or a shard given twice is refused, naming the range and the shards;
    /// partials of other ranges (days, whole or cut) are judged apart.
    #[test]
    fn the_shards_of_a_range_are_all_of_one_cut() {
        let day = |d: i64| (Some(d * 86_400), Some((d + 1) * 86_400));
        let r = |path, range, shard: Option<(u64, u64, u64)>| Reads {
            path,
            range,
            shard: shard.map(|(k, n, listing)| Shard { k, n, listing }),
            inputs: &[],
        };
        let check = |parts: &[Reads<'_>]| check_shards(parts);
        let (a1, b1) = (
            r("a", day(1), Some((0, 2, 7))),
            r("b", day(1), Some((1, 2, 7))),
        );
        assert!(check(&[a1, b1]).is_ok());
        // runs apart: whole partials, another day, another cut, another listing
        let parts = [
            r("a", day(1), Some((0, 2, 7))),
            r("b", day(1), Some((1, 2, 7))),
            r("w", day(1), None),
            r("w2", day(1), None),
            r("d2", day(2), Some((0, 1, 7))),
            r("c0", day(1), Some((0, 2, 9))),
            r("c1", day(1), Some((1, 2, 9))),
            r("t", day(1), Some((0, 1, 7))),
        ];
        assert!(check(&parts).is_ok());
        let refused = |parts: &[Reads<'_>], why: &str| {
            let e = check(parts).unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        let one_missing = [
            r("a", day(1), Some((0, 3, 7))),
            r("b", day(1), Some((2, 3, 7))),
            r("d2", day(2), None),
        ];
        refused(
            &one_missing,
            "a is a shard of the run over 1970-01-02T00:00:00Z .. 1970-01-03T00:00:00Z cut into 3, and 1 of the 3 is missing (shard 1/3)",
        );
        refused(
            &[r("a", (None, None), Some((4, 9, 7)))],
            "a is a shard of the run over all the records cut into 9, and 8 of the 9 are missing (shard 0/9, …)",
        );
        // a shard that listed other inputs is another run's: both runs are then short
        refused(
            &[
                r("a", day(1), Some((0, 2, 7))),
                r("b", day(1), Some((1, 2, 8))),
            ],
            "cut into 2, and 1 of the 2 is missing (shard 1/2)",
        );
        refused(
            &[
                r("a", day(1), Some((0, 1, 7))),
                r("b", day(1), Some((0, 1, 7))),
            ],
            "a and b are both shard 0/1",
        );
        // a forged header's shard past its cut
        refused(
            &[r("a", day(1), Some((2, 2, 7)))],
            "a: shard 2/2 is no shard",
        );
        refused(
            &[r("a", day(1), Some((0, 0, 7)))],
            "a: shard 0/0 is no shard",
        );
    }

    /// An input's counts and sizes up to 2^48 - 1 pass; any one of them at 2^48 does not.
    #[test]
    fn line_counts_past_2_to_the_48_are_out_of_range() {
        let mut f = FileStats::default();
        assert!(counts_in_range(&f));
        f.size = (1 << 48) - 1;
        f.counts.counted = (1 << 48) - 1;
        assert!(counts_in_range(&f));
        let past = |set: fn(&mut FileStats)| {
            let mut f = FileStats::default();
            set(&mut f);
            !counts_in_range(&f)
        };
        assert!(past(|f| f.counts.lines = 1 << 48));
        assert!(past(|f| f.counts.duplicate_flow_log = 1 << 48));
        assert!(past(|f| f.counts.undated = u64::MAX));
        assert!(past(|f| f.skipdata_windows = 1 << 48));
        assert!(past(|f| f.size = 1 << 48));
    }

    /// A partial's field counts by its own tags land on the merged run's flow logs (the
    /// largest where two map to one); those of a tag the run lacks go to the partial's one
    /// untagged flow log, where it has one, else nowhere.
    #[test]
    fn field_counts_go_to_the_merged_tags() {
        let mut tags = TagMap {
            global: vec!["fl-a".into(), "fl-b".into()],
            local: vec![Some(1), None, Some(0), Some(1)],
            untagged: None,
            regions: 1,
        };
        assert_eq!(tags.fields(&[10, 20, 5, 14]), [5, 14]);
        tags.untagged = Some(0);
        assert_eq!(tags.fields(&[10, 20, 5, 14]), [20, 14]);
        // an untagged partial: its one count, to its flow log's merged tag
        tags.local.clear();
        tags.untagged = Some(1);
        assert_eq!(tags.fields(&[26]), [0, 26]);
    }

    #[test]
    fn holes_are_the_time_no_range_covers() {
        const D: i64 = 86_400;
        // days 1 and 3 of three: day 2
        assert_eq!(holes(vec![(2 * D, 3 * D), (0, D)], 0, 3 * D), [(D, 2 * D)]);
        // ranges touching, overlapping or repeated (shards of one day) leave none
        let days = vec![(0, D), (D, 2 * D), (D, 2 * D), (D / 2, D + 1)];
        assert!(holes(days, 0, 2 * D).is_empty());
        // a month asked for, its first and last days and one inside missing
        let month = vec![(D, 5 * D), (6 * D, 9 * D)];
        assert_eq!(
            holes(month, 0, 10 * D),
            [(0, D), (5 * D, 6 * D), (9 * D, 10 * D)]
        );
        // a range reaching past the bounds, or outside them
        assert_eq!(holes(vec![(-D, D)], 0, 2 * D), [(D, 2 * D)]);
        assert_eq!(holes(vec![(3 * D, 4 * D)], 0, 2 * D), [(0, 2 * D)]);
        assert!(holes(Vec::new(), 0, 0).is_empty());
    }

    /// A folder's walk: partials (and files cut inside the format's first line) apart from
    /// everything else, hidden files left out, a link back to a folder walked once, no named
    /// pipe opened; with `logs_stop`, a non-empty file of a flow log's name ends it.
    #[test]
    fn a_folder_is_walked_for_its_partials() {
        use super::{folder, NotPartials, FORMAT};
        use crate::report::own::OwnOutput;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let put = |name: &str, text: &str| {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put("b/day2.fcp", &format!("{FORMAT}\n{{}}"));
        put("a/day1.fcp", &format!("{FORMAT}\n"));
        put("day0", "flowcost.par");
        put(".day9.fcp", "hidden: a run still writing");
        put("_SUCCESS", "");
        put("chart.svg", "<svg/>");
        put("report.json", "{\n  \"schema\": \"flowcost.report/1\"\n}\n");
        std::os::unix::fs::symlink(root, root.join("b/back")).unwrap();
        let fifo = root.join("pipe.fcp");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let name = |p: &str| root.join(p).display().to_string();

        let f = folder(root, true).unwrap();
        assert_eq!(
            f.partials,
            [name("a/day1.fcp"), name("b/day2.fcp"), name("day0")]
        );
        let mut others = vec![(name("_SUCCESS"), None), (name("chart.svg"), None)];
        if made.is_ok_and(|s| s.success()) {
            others.push((name("pipe.fcp"), None));
        }
        others.push((name("report.json"), Some(OwnOutput::Json)));
        assert_eq!(f.others, others);
        assert_eq!(folder(root, false).unwrap().partials, f.partials);

        put("c/flows.log", "version account-id interface-id\n");
        assert!(matches!(folder(root, true), Err(NotPartials::Log(p)) if p == name("c/flows.log")));
        let all = folder(root, false).unwrap();
        assert!(all
            .others
            .iter()
            .any(|(p, k)| *p == name("c/flows.log") && k.is_none()));
    }
}
