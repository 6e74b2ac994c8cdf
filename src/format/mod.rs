//! Format stage: turns bytes of any supported encoding (text lines, Parquet row groups) into
//! the one [`Record`] type the rest of the pipeline sees. Decoders do no I/O of their own: they
//! read from a `BufRead` or an in-memory/file chunk handed over by the source stage.

pub mod fields;
pub mod parquet;
pub mod text;

use std::net::{IpAddr, Ipv4Addr};

pub use fields::{Field, FieldSet, Layout};
pub use text::Sink;

/// `action` of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Accept,
    Reject,
}

/// `log-status` of a record. A format without the field means every record is `Ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogStatus {
    #[default]
    Ok,
    NoData,
    SkipData,
}

/// One flow-log record, borrowed from the line or column batch it came from.
/// Absent values (`-`, null, or a field the format does not carry) are `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record<'a> {
    pub interface_id: Option<&'a str>,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    pub pkt_srcaddr: Option<IpAddr>,
    pub pkt_dstaddr: Option<IpAddr>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// Seconds since the epoch (millisecond inputs are converted).
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub action: Action,
    pub status: LogStatus,
    pub region: Option<&'a str>,
    pub az_id: Option<&'a str>,
    pub subnet_id: Option<&'a str>,
    pub vpc_id: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub traffic_path: Option<u8>,
    pub flow_direction: Option<&'a str>,
    pub pkt_src_aws_service: Option<&'a str>,
    pub pkt_dst_aws_service: Option<&'a str>,
    pub ecs_cluster_name: Option<&'a str>,
    pub ecs_service_name: Option<&'a str>,
    pub ecs_task_id: Option<&'a str>,
    /// The ports and protocol, where a Parquet reader read them ([`fields::FLOW_PORTS`]); a
    /// value out of its range reads as none.
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    /// A hint from the reader: the names (`subnet-id`, `az-id`, `vpc-id` and the three
    /// `ecs-*`) are those of the input's previous row. Set only where it is known cheaply (a
    /// dictionary-encoded column's key repeating); `false` is always true enough.
    pub same_names: bool,
    /// Like [`Record::same_names`], for `interface-id`: the ENI is the previous row's (the
    /// text decoder compares each record's with the one before, in the same block of lines).
    pub same_interface: bool,
    /// Like [`Record::same_names`], for `region`.
    pub same_region: bool,
    /// A reader's name for the `interface-id` value, where it has one cheaply (the fast
    /// Parquet reader's dictionary entry): records of one [`Entry`] have one ENI, so the
    /// account stage finds each entry's ENI once, not once per run of its records.
    pub interface_entry: Option<Entry>,
    /// Fields the reader left in their columns ([`Deferred`]): only for a sink that reads
    /// them through the accessors ([`Sink::defers`]).
    pub deferred: Option<Deferred<'a>>,
    /// The record's fingerprint, for a sample of the records ([`fingerprint`],
    /// [`fingerprint_of_values`]); `None` for the others, and for layouts whose lines do not
    /// name their flow.
    pub fingerprint: Option<std::num::NonZeroU64>,
    /// `fingerprint` holds the record's flow ([`flow_mark`]) instead of its own: its
    /// reader was asked for flows ([`Sink::flows`]) and the flow is in the sample of flows
    /// (such a record is in no sample of lines: every copy of its line is flow-sampled too).
    pub flow: bool,
}

// A record is cleared a line and 64 are filled at a time: its size is kept (the ports went
// in with `Deferred::row` made a `u32`; BENCHMARKS.md, "Parquet exports sampled").
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Record<'static>>() == 392);

/// A sampled record, as the account stage notes it to find records given twice
/// (overlapping exports, a file holding its records twice, one export as text and as
/// Parquet): the hash of what tells one record from another ([`Record::fingerprint`]) and
/// the record's sample level ([`sample_level`]). Copies of one record have the same
/// fingerprint, whichever encoding each was read from; two records of one flow log whose
/// layout names the flow differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub hash: u64,
    pub level: u8,
}

impl Fingerprint {
    /// A record's fingerprint, where its reader took one.
    #[inline]
    pub fn of(rec: &Record<'_>) -> Option<Fingerprint> {
        rec.fingerprint.map(|h| Fingerprint {
            hash: h.get(),
            level: sample_level(rec.start, rec.end, rec.bytes),
        })
    }
}

/// The least [`sample_level`] a reader fingerprints (one record in 128): the account stage
/// may keep only higher levels, to bound its memory.
pub const MIN_SAMPLE_LEVEL: u8 = 7;

/// How rare a record is in the sample of records fingerprinted: the leading zero bits of a
/// product of its times and bytes (a product's high bits depend on every bit of what is
/// multiplied), so that about one record in 2^k has level `k` or more, and every copy of a
/// line has its level (the sample takes a line's copies together or none of them).
#[inline]
pub fn sample_level(start: Option<i64>, end: Option<i64>, bytes: Option<u64>) -> u8 {
    let m = (start.unwrap_or(0) as u64)
        ^ (end.unwrap_or(0) as u64).rotate_left(23)
        ^ bytes.unwrap_or(u64::MAX).rotate_left(41);
    (m | 1).wrapping_mul(0x9e37_79b9_7f4a_7c15).leading_zeros() as u8
}

/// The fingerprint of a record read from `line` (its tokens at `spans`, the fields naming
/// its flow at `key`, [`Layout::flow_key`]), if the record is in the sample
/// ([`MIN_SAMPLE_LEVEL`]): [`record_fingerprint`], the same as a Parquet row of the record
/// gets ([`fingerprint_of_values`]), so that a record read once as text and once as Parquet
/// is a record read twice. `None` where a port or the protocol is not a number in its range.
#[inline]
pub fn fingerprint(
    line: &[u8],
    spans: &[(u32, u32)],
    key: &[u16; 6],
    rec: &Record<'_>,
) -> Option<std::num::NonZeroU64> {
    if sample_level(rec.start, rec.end, rec.bytes) < MIN_SAMPLE_LEVEL {
        return None;
    }
    let number = |at: u16| {
        let (a, b) = spans[usize::from(at)];
        u16::try_from(parse_u64(&line[a as usize..b as usize])?).ok()
    };
    let proto = number(key[5]).filter(|&p| p <= u16::from(u8::MAX))?;
    record_fingerprint(rec, [number(key[3])?, number(key[4])?, proto])
}

/// A sampled record's fingerprint: a hash of what tells one record of a flow log from
/// another, its interface, flow (`srcaddr`, `dstaddr` and `ports`: source and destination
/// port, protocol), times and bytes (not `packets`, which a reader may leave unread). AWS
/// writes one record per flow, interface and aggregation window, so two records of one flow
/// log that agree on these are one record given twice. Numbers, not text: however a line
/// spells them, a row's values give the same.
fn record_fingerprint(rec: &Record<'_>, ports: [u16; 3]) -> Option<std::num::NonZeroU64> {
    let (eni, src, dst, start) = (rec.interface_id?, rec.srcaddr?, rec.dstaddr?, rec.start?);
    let addr = |a: IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(v)) | 1 << 100,
        IpAddr::V6(v) => u128::from(v),
    };
    let (src, dst) = (addr(src), addr(dst));
    let [sport, dport, proto] = ports.map(u64::from);
    let words = [
        fold_bytes(FOLD_K ^ eni.len() as u64, eni.as_bytes()),
        src as u64,
        (src >> 64) as u64,
        dst as u64,
        (dst >> 64) as u64,
        sport | dport << 16 | proto << 32,
        start as u64,
        rec.end.map_or(u64::MAX, |e| e as u64),
        rec.bytes.unwrap_or(u64::MAX),
    ];
    std::num::NonZeroU64::new(hash_words(&words, 0x7061_7271) | 1)
}

const FOLD_K: u64 = 0xa076_1d64_78bd_642f;

/// `h` with `b` folded in, eight bytes at a time (the last word padded with zeros).
#[inline]
fn fold_bytes(mut h: u64, b: &[u8]) -> u64 {
    const L: u64 = 0xe703_7ed1_a0b4_28db;
    let fold = |a: u64, w: u64| {
        let p = u128::from(a ^ w ^ L).wrapping_mul(u128::from(FOLD_K));
        (p as u64) ^ ((p >> 64) as u64)
    };
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        h = fold(h, u64::from_le_bytes(w.try_into().expect("eight bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    fold(h, u64::from_le_bytes(tail))
}

/// The flow of a record read from `line` (its tokens at `spans`, its addresses in `rec`): a
/// hash of the tokens at `key` ([`Layout::flow_key`]), if the flow is in the sample of
/// flows, about one in 2^k having level `k` or more ([`flow_level`]) and every record of a
/// flow its level (the sample takes a flow's records together or none of them). The level
/// comes from what costs little (the addresses already read, the ports' digits); only a
/// sampled flow is hashed whole ([`flow_mark_of`]).
#[inline]
pub fn flow_mark(
    line: &[u8],
    spans: &[(u32, u32)],
    key: &[u16; 6],
    rec: &Record<'_>,
) -> Option<std::num::NonZeroU64> {
    let token = |at: u16| {
        let (a, b) = spans[usize::from(at)];
        &line[a as usize..b as usize]
    };
    let level = flow_sample_level(rec, token(key[3]), token(key[4]));
    if level < MIN_SAMPLE_LEVEL {
        return None;
    }
    let (src, dst) = (rec.srcaddr?, rec.dstaddr?);
    let ports = [token(key[3]), token(key[4]), token(key[5])];
    flow_mark_of(level, token(key[0]), src, dst, ports)
}

/// A flow's sample level ([`flow_mark`]): from its parsed addresses and its ports' text.
#[inline]
fn flow_sample_level(rec: &Record<'_>, srcport: &[u8], dstport: &[u8]) -> u8 {
    let digits = |t: &[u8]| t.iter().fold(0u64, |h, &c| (h << 8) | u64::from(c));
    level_of(rec, digits(srcport), digits(dstport))
}

/// The bytes of a port's decimal text as one number, as [`flow_sample_level`] folds them
/// (`"443"` is `0x343433`), without writing the text: five digits at once, the leading
/// zeros cut off.
#[inline]
fn digits_of(port: u16) -> u64 {
    let n = u64::from(port);
    let packed = (0x30 + n / 10_000) << 32
        | (0x30 + n / 1000 % 10) << 24
        | (0x30 + n / 100 % 10) << 16
        | (0x30 + n / 10 % 10) << 8
        | (0x30 + n % 10);
    let len = 1
        + u64::from(n >= 10)
        + u64::from(n >= 100)
        + u64::from(n >= 1000)
        + u64::from(n >= 10_000);
    packed & ((1u64 << (8 * len)) - 1)
}

/// [`flow_sample_level`] from the ports' folded digits.
#[inline]
fn level_of(rec: &Record<'_>, srcport: u64, dstport: u64) -> u8 {
    let addr = |a: Option<IpAddr>| match a {
        Some(IpAddr::V4(v)) => u64::from(u32::from(v)),
        Some(IpAddr::V6(v)) => {
            let x = u128::from(v);
            (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
        }
        None => 0,
    };
    let cheap = addr(rec.srcaddr)
        ^ addr(rec.dstaddr).rotate_left(32)
        ^ srcport.wrapping_mul(FOLD_K)
        ^ dstport.rotate_left(24);
    mix64(cheap).leading_zeros().min(62) as u8
}

/// The mark of a sampled flow: its level in the leading zeros, below them the hash of its
/// `interface-id`, `srcaddr`, `dstaddr`, `srcport`, `dstport` and `protocol` as text: the
/// addresses as their values' canonical text (however a line wrote them, and as a Parquet
/// row's values are written), the rest as `ports` give it.
fn flow_mark_of(
    level: u8,
    eni: &[u8],
    src: IpAddr,
    dst: IpAddr,
    ports: [&[u8]; 3],
) -> Option<std::num::NonZeroU64> {
    let (mut a, mut b) = ([0; 48], [0; 48]);
    let [sport, dport, proto] = ports;
    let tokens = [
        eni,
        address_text(src, &mut a)?,
        address_text(dst, &mut b)?,
        sport,
        dport,
        proto,
    ];
    let mut h = FOLD_K;
    for t in tokens {
        h = fold_bytes(h ^ t.len() as u64, t);
    }
    let mark = ((1u64 << 63) >> level) | (mix64(h) >> (u32::from(level) + 1));
    std::num::NonZeroU64::new(mark)
}

/// [`flow_mark`] of a record whose reader read its values, not its text (Parquet): the ports
/// and protocol written as text writes them (decimal), the addresses likewise, so that a
/// flow has one mark in both encodings. `None` where a value of the flow is missing.
pub fn flow_mark_of_values(rec: &Record<'_>) -> Option<std::num::NonZeroU64> {
    let (eni, src, dst, [sport, dport, proto]) = flow_values(rec)?;
    let level = level_of(rec, digits_of(sport), digits_of(dport));
    if level < MIN_SAMPLE_LEVEL {
        return None;
    }
    let (mut s, mut d, mut p) = ([0; 8], [0; 8], [0; 8]);
    let ports = [
        decimal(sport, &mut s),
        decimal(dport, &mut d),
        decimal(proto, &mut p),
    ];
    flow_mark_of(level, eni.as_bytes(), src, dst, ports)
}

/// The values naming a record's flow: its ENI, addresses, ports and protocol, if it has all.
fn flow_values<'a>(rec: &Record<'a>) -> Option<(&'a str, IpAddr, IpAddr, [u16; 3])> {
    let (Some(eni), Some(src), Some(dst)) = (rec.interface_id, rec.srcaddr, rec.dstaddr) else {
        return None;
    };
    let (Some(sport), Some(dport), Some(proto)) = (rec.srcport, rec.dstport, rec.protocol) else {
        return None;
    };
    Some((eni, src, dst, [sport, dport, u16::from(proto)]))
}

/// A port's (or protocol's) decimal text, from [`digits_of`]: its bytes without the leading
/// zero bytes.
fn decimal(port: u16, buf: &mut [u8; 8]) -> &[u8] {
    let d = digits_of(port);
    *buf = d.to_be_bytes();
    &buf[(d.leading_zeros() / 8) as usize..]
}

/// An address as text writes it, on the stack (at most 39 bytes).
fn address_text(ip: IpAddr, buf: &mut [u8; 48]) -> Option<&[u8]> {
    use std::io::Write;
    let mut c = std::io::Cursor::new(&mut buf[..]);
    write!(c, "{ip}").ok()?;
    let n = c.position() as usize;
    Some(&buf[..n])
}

/// [`fingerprint`] of a record whose reader read its values, not its text (Parquet), so
/// that a row and the line of its record share it. `None` where the record is not in the
/// sample ([`sample_level`]) or a value naming its flow is missing.
pub fn fingerprint_of_values(rec: &Record<'_>) -> Option<std::num::NonZeroU64> {
    if sample_level(rec.start, rec.end, rec.bytes) < MIN_SAMPLE_LEVEL {
        return None;
    }
    let (_, _, _, [sport, dport, proto]) = flow_values(rec)?;
    record_fingerprint(rec, [sport, dport, proto])
}

/// The sample level of a flow marked by [`flow_mark`].
#[inline]
pub fn flow_level(mark: std::num::NonZeroU64) -> u8 {
    mark.get().leading_zeros() as u8
}

/// A 64-bit hash of `words` and `seed` (a record's numbers, say).
pub fn hash_words(words: &[u64], seed: u64) -> u64 {
    let h = words.iter().fold(seed.wrapping_mul(FOLD_K), |h, &w| {
        fold_bytes(h, &w.to_le_bytes())
    });
    mix64(h)
}

/// A 64-bit finaliser (every input bit moves every output bit).
#[inline]
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Entry `entry` of dictionary `dict` ([`Record::interface_entry`]): the dictionary's number
/// is one no other dictionary of the process has ([`Entry::new_dictionary`]), so an entry
/// names one value however many files and threads go by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub dict: std::num::NonZeroU64,
    pub entry: u32,
}

impl Entry {
    /// A number for a dictionary just read, never given before (a 64-bit count: it does not
    /// wrap).
    pub fn new_dictionary() -> std::num::NonZeroU64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::num::NonZeroU64::new(n).expect("dictionary numbers start at 1")
    }
}

/// The fields of a record's names ([`Record::same_names`]), in the order of
/// [`Record::names`].
pub const NAMES: [Field; 6] = [
    Field::SubnetId,
    Field::AzId,
    Field::VpcId,
    Field::EcsClusterName,
    Field::EcsServiceName,
    Field::EcsTaskId,
];

/// The fields a reader may leave in their columns: those the account stage reads only when
/// they change (the names, the region) or on one branch (the NAT's translated addresses, the
/// traffic path).
pub const DEFERRABLE: FieldSet = FieldSet::of(&NAMES).with(&[
    Field::Region,
    Field::PktSrcAddr,
    Field::PktDstAddr,
    Field::TrafficPath,
]);

/// Where a reader keeps the values it did not set in a record ([`Record::deferred`]): each is
/// the value the record would have held. Only values that cannot be errors are deferred (the
/// fast Parquet reader's keys into a dictionary whose every entry reads well for the field),
/// so that no row's fate depends on whether a value is read.
pub trait Later<'a> {
    /// Text field `f` of row `row` (of the rows the reader handed over together).
    fn text(&self, f: Field, row: usize) -> Option<&'a str>;
    /// Address field `f` of row `row`, where the reader holds it (a reference: a value
    /// handed back through a call into a reader came back through memory, and was read back
    /// before its stores had landed).
    fn ip(&self, f: Field, row: usize) -> Option<&'a IpAddr>;
    /// Integer field `f` of row `row`.
    fn int(&self, f: Field, row: usize) -> Option<u64>;
}

/// The fields of a record left in their columns, and where to read them.
#[derive(Clone, Copy)]
pub struct Deferred<'a> {
    pub fields: FieldSet,
    /// (a row of a Parquet page's run of rows, whose count is an `i32`; a `u32` keeps
    /// `Record` within 392 bytes)
    pub row: u32,
    pub from: &'a dyn Later<'a>,
}

impl std::fmt::Debug for Deferred<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (f.debug_struct("Deferred"))
            .field("fields", &self.fields)
            .field("row", &self.row)
            .finish()
    }
}

impl PartialEq for Deferred<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.fields == o.fields && self.row == o.row && std::ptr::addr_eq(self.from, o.from)
    }
}

impl<'a> Record<'a> {
    /// A text field that may be deferred (`held` when it is not). Out of line: the text
    /// reader never defers, and its records take the accessors' first branch.
    #[inline(never)]
    fn text_of(&self, d: &Deferred<'a>, f: Field, held: Option<&'a str>) -> Option<&'a str> {
        match d.fields.contains(f) {
            true => d.from.text(f, d.row as usize),
            false => held,
        }
    }

    /// `region`, wherever it is.
    #[inline(always)]
    pub fn region(&self) -> Option<&'a str> {
        match &self.deferred {
            None => self.region,
            Some(d) => self.text_of(d, Field::Region, self.region),
        }
    }

    /// The names [`Record::same_names`] speaks of, in one list, wherever they are.
    pub fn names(&self) -> [Option<&'a str>; 6] {
        NAMES.map(|f| self.name(f))
    }

    /// Name field `f` (one of [`NAMES`]), wherever it is.
    #[inline(always)]
    pub fn name(&self, f: Field) -> Option<&'a str> {
        let held = match f {
            Field::SubnetId => self.subnet_id,
            Field::AzId => self.az_id,
            Field::VpcId => self.vpc_id,
            Field::EcsClusterName => self.ecs_cluster_name,
            Field::EcsServiceName => self.ecs_service_name,
            Field::EcsTaskId => self.ecs_task_id,
            _ => None,
        };
        match &self.deferred {
            None => held,
            Some(d) => self.text_of(d, f, held),
        }
    }

    /// `pkt-srcaddr` and `pkt-dstaddr`, wherever they are.
    #[inline(always)]
    pub fn pkt_addrs(&self) -> (Option<IpAddr>, Option<IpAddr>) {
        (self.pkt_src_ref().copied(), self.pkt_dst_ref().copied())
    }

    /// `pkt-srcaddr` where it is held (the record or the reader's column): read in place,
    /// not copied through the stack.
    #[inline(always)]
    pub fn pkt_src_ref(&self) -> Option<&IpAddr> {
        self.ip_field(Field::PktSrcAddr, &self.pkt_srcaddr)
    }

    /// `pkt-dstaddr` where it is held, as [`Record::pkt_src_ref`].
    #[inline(always)]
    pub fn pkt_dst_ref(&self) -> Option<&IpAddr> {
        self.ip_field(Field::PktDstAddr, &self.pkt_dstaddr)
    }

    /// Address field `f`, deferred or `held`.
    #[inline(always)]
    fn ip_field<'s>(&'s self, f: Field, held: &'s Option<IpAddr>) -> Option<&'s IpAddr> {
        match &self.deferred {
            Some(d) if d.fields.contains(f) => d.from.ip(f, d.row as usize),
            _ => held.as_ref(),
        }
    }

    /// `traffic-path`, wherever it is.
    #[inline(always)]
    pub fn traffic_path(&self) -> Option<u8> {
        match &self.deferred {
            Some(d) if d.fields.contains(Field::TrafficPath) => {
                (d.from.int(Field::TrafficPath, d.row as usize)).map(|v| v.min(255) as u8)
            }
            _ => self.traffic_path,
        }
    }

    /// The record with every deferred field read into it (what a reader that defers nothing
    /// gives).
    pub fn resolved(&self) -> Record<'a> {
        let [subnet, az, vpc, cluster, service, task] = self.names();
        let (pkt_src, pkt_dst) = self.pkt_addrs();
        Record {
            region: self.region(),
            subnet_id: subnet,
            az_id: az,
            vpc_id: vpc,
            ecs_cluster_name: cluster,
            ecs_service_name: service,
            ecs_task_id: task,
            pkt_srcaddr: pkt_src,
            pkt_dstaddr: pkt_dst,
            traffic_path: self.traffic_path(),
            deferred: None,
            ..self.clone()
        }
    }
}

/// Checks a reader's hints as its rows arrive (the tests' and the fuzzer's sinks): a row
/// saying it repeats the names, the ENI or the region of the row before
/// ([`Record::same_names`], [`Record::same_interface`], [`Record::same_region`]) must, and a
/// reader's name for an ENI ([`Record::interface_entry`]) must name that ENI wherever it
/// comes; records shown first ([`text::Sink::upcoming`]) must be the ones then handed over,
/// in order, before anything else.
#[doc(hidden)]
#[derive(Default, Debug, PartialEq)]
pub struct HintCheck {
    /// The previous row's names, ENI and region (as text), if it was a record.
    before: Option<[String; 3]>,
    /// Rows that said so.
    pub hinted: usize,
    /// Records shown and not yet handed over (as text, without the hints).
    shown: std::collections::VecDeque<String>,
    /// Records handed over after being shown.
    pub shown_first: usize,
    /// Whether a row (a record or not) came before.
    seen: bool,
    /// Each [`Record::interface_entry`] met, and its ENI: an entry names one ENI.
    entries: std::collections::HashMap<(u64, u32), String>,
    /// Records that came with an entry.
    pub entries_named: usize,
}

impl HintCheck {
    /// Check a record's hints (panics if one is false) and give its text without them, so
    /// that two readers' records compare.
    pub fn record(&mut self, r: &Record<'_>) -> String {
        let r = &r.resolved();
        let now = [
            format!("{:?}", r.names()),
            format!("{:?}", r.interface_id),
            format!("{:?}", r.region),
        ];
        let hints = [
            (r.same_names, "names"),
            (r.same_interface, "ENI"),
            (r.same_region, "region"),
        ];
        for (i, (hint, what)) in hints.into_iter().enumerate() {
            if hint {
                self.hinted += 1;
                // (no row before the first: a part of a file read on its own says nothing
                // of the rows of the part before it; names are said to repeat where a file
                // has no name column, which holds of any row)
                assert!(
                    self.seen || i == 0,
                    "the first row said it repeats the {what} before it"
                );
                // a malformed row between leaves nothing to compare with
                if let Some(before) = &self.before {
                    assert_eq!(
                        before[i], now[i],
                        "a row said it repeats the {what} before it"
                    );
                }
            }
        }
        if let Some(e) = r.interface_entry {
            self.entries_named += 1;
            let eni = self.entries.entry((e.dict.get(), e.entry));
            let eni = eni.or_insert_with(|| now[1].clone());
            assert_eq!(*eni, now[1], "a dictionary entry named two ENIs");
        }
        self.before = Some(now);
        self.seen = true;
        let text = Self::text(r);
        if let Some(shown) = self.shown.pop_front() {
            assert_eq!(shown, text, "a record other than the one shown");
            self.shown_first += 1;
        }
        text
    }

    /// A record's text without the hints.
    fn text(r: &Record<'_>) -> String {
        let r = Record {
            same_names: false,
            same_interface: false,
            same_region: false,
            interface_entry: None,
            ..r.resolved()
        };
        format!("{r:?}")
    }

    /// Records about to be handed over (checked as they come).
    pub fn upcoming(&mut self, recs: &[Record<'_>]) {
        assert!(
            self.shown.is_empty(),
            "records shown twice or never handed over"
        );
        self.shown.extend(recs.iter().map(Self::text));
    }

    /// A row or line that was not a record.
    pub fn not_a_record(&mut self) {
        assert!(self.shown.is_empty(), "a record shown and not handed over");
        self.before = None;
        self.seen = true;
    }

    /// Every record shown was handed over.
    pub fn done(&self) {
        assert!(self.shown.is_empty(), "records shown and never handed over");
    }
}

/// Why a line or row could not be read as a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("expected {expected} fields (per the header line, --fields, or the v2 default), found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("field `{0}` is not a number")]
    BadNumber(&'static str),
    #[error("field `{0}` is not an IP address")]
    BadAddress(&'static str),
    #[error("field `{0}` has an unknown value")]
    BadValue(&'static str),
    #[error("text is not UTF-8")]
    BadUtf8,
    #[error(
        "line longer than {} bytes (the rest of it, up to the next newline, was skipped)",
        text::MAX_LINE
    )]
    LineTooLong,
    #[error("a Transit Gateway flow-log record: TGW logs carry no NAT gateway traffic (flowcost needs the VPC flow logs of the NAT gateways' network interfaces)")]
    TransitGateway,
    #[error(
        "a JSON line without a `message` field (a CloudWatch Logs event carries the record there)"
    )]
    JsonWithoutMessage,
    #[error("the run's total would pass 2^62 bytes (4 EiB): the input cannot be real flow logs")]
    RunTotal,
    #[error(
        "field `{0}` is larger than one interface can carry in an aggregation interval (over 2^48)"
    )]
    TooLarge(&'static str),
    #[error("field `{0}` is not a time between 2010 and 2100 (Unix seconds, or milli-, micro- or nanoseconds)")]
    TimeOutOfRange(&'static str),
    #[error("`end` is before `start` or more than an hour after it (a record covers one aggregation interval, at most ten minutes)")]
    TimeSpan,
    #[error("`start` is more than 45 days from the delivery time in the file's AWS name (a delivery holds the records of the minutes before it)")]
    OutsideDelivery,
}

impl Malformed {
    /// A short stable key for counting reasons in reports.
    pub fn key(&self) -> &'static str {
        match self {
            Malformed::FieldCount { .. } => "field-count",
            Malformed::BadNumber(_) => "bad-number",
            Malformed::BadAddress(_) => "bad-address",
            Malformed::BadValue(_) => "bad-value",
            Malformed::BadUtf8 => "bad-utf8",
            Malformed::LineTooLong => "line-too-long",
            Malformed::TooLarge(_) => "too-large",
            Malformed::TimeOutOfRange(_) => "time-out-of-range",
            Malformed::TimeSpan => "time-span",
            Malformed::OutsideDelivery => "outside-delivery",
            Malformed::RunTotal => "run-total",
            Malformed::TransitGateway => "transit-gateway",
            Malformed::JsonWithoutMessage => "json-without-message",
        }
    }
}

/// The longest a record may last from its `start` to its `end`, in seconds. AWS aggregates a
/// flow into one record for at most ten minutes (one on Nitro instances); an hour leaves room
/// for any delay in closing one. A record that lasts longer, or ends before it starts, has a
/// wrong time, and counted it would stretch the time its NAT gateway's logs cover, which every
/// per-day and per-30-day figure divides by.
pub const MAX_RECORD_SPAN: i64 = 3600;

/// How far from the delivery time in an AWS delivery's name ([`crate::source::delivery_time`])
/// a record of it may start. AWS publishes every five minutes the records of the minutes
/// before, so a true delivery's records lie within minutes of it; 45 days leave room for
/// deliveries concatenated under one of their names (a month of them) and still refuse the
/// record dated years off, which would stretch an open period, and every projection with it,
/// a thousandfold.
pub const DELIVERY_WINDOW: i64 = 45 * 86_400;

/// The most bytes one record may carry: 2^48 (256 TiB) in one aggregation interval (at most
/// ten minutes) is over 3,000 times what a 100 Gbit/s interface can move in that time. A larger
/// value is malformed, which also keeps every sum far from wrapping (see
/// [`crate::account::RUN_BYTES_MAX`]).
pub const MAX_RECORD_BYTES: u64 = 1 << 48;

/// Whether two short byte strings are equal, inline and without a loop (the usual cases: a
/// record's names against the ENI's last, an ENI id against the one before, a `pkt-*`
/// address against `srcaddr`; a call to `memcmp` costs more than this): up to 32 bytes are
/// compared as two words from each end, overlapping where the string is shorter than both.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn w4(x: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(x[at..at + 4].try_into().expect("4"))
    }
    fn w8(x: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(x[at..at + 8].try_into().expect("8"))
    }
    fn w16(x: &[u8], at: usize) -> u128 {
        u128::from_le_bytes(x[at..at + 16].try_into().expect("16"))
    }
    match n {
        4..=7 => (w4(a, 0) ^ w4(b, 0)) | (w4(a, n - 4) ^ w4(b, n - 4)) == 0,
        8..=16 => (w8(a, 0) ^ w8(b, 0)) | (w8(a, n - 8) ^ w8(b, n - 8)) == 0,
        17..=32 => (w16(a, 0) ^ w16(b, 0)) | (w16(a, n - 16) ^ w16(b, n - 16)) == 0,
        _ => a == b,
    }
}

/// A `bytes` value, refused above [`MAX_RECORD_BYTES`].
#[inline]
pub fn checked_bytes(v: Option<u64>) -> Result<Option<u64>, Malformed> {
    match v {
        Some(b) if b > MAX_RECORD_BYTES => Err(Malformed::TooLarge("bytes")),
        v => Ok(v),
    }
}

/// The bytes a region name is made of: lowercase letters, digits and `-` (a table read
/// without a branch a byte: the check runs on every text record).
static REGION_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
        b += 1;
    }
    t
};

/// A `region` value: lowercase letters, digits and `-` (as every AWS region name), else the
/// record is malformed rather than taken for an unknown region.
#[inline]
pub fn checked_region(v: Option<&str>) -> Result<Option<&str>, Malformed> {
    match v {
        Some(r) if r.len() > 32 || !r.bytes().fold(true, |ok, b| ok & REGION_BYTE[b as usize]) => {
            Err(Malformed::BadValue("region"))
        }
        v => Ok(v),
    }
}

/// Values from these up are taken to be milliseconds, microseconds and nanoseconds (1e11 s
/// is the year 5138, 1e14 ms and 1e17 µs likewise; Spark writes times in microseconds,
/// Hive's and Athena's older files in nanoseconds): the ranges of [`TIMES`] in the four units
/// lie far apart, so a time's unit is told by its size.
const MILLIS_FROM: i64 = 100_000_000_000;
const MICROS_FROM: i64 = MILLIS_FROM * 1000;
const NANOS_FROM: i64 = MICROS_FROM * 1000;

/// The times a record's `start` and `end` may hold, in seconds: from 2010-01-01 (VPC flow
/// logs came in 2015; AWS's own documentation shows records of December 2014) to
/// 2100-01-01. A time outside is no flow's; taken, one such record stretched the period it
/// dates over centuries, and every per-day and per-30-day figure with it (a `start` of
/// 2^64 − 1 made the period 10^11 days and the projections zero).
pub const TIMES: std::ops::Range<i64> = 1_262_304_000..4_102_444_800;

/// A `start` or `end` value in seconds ([`to_seconds`]), refused outside [`TIMES`].
#[inline]
pub fn checked_time(v: Option<u64>, name: &'static str) -> Result<Option<i64>, Malformed> {
    let Some(v) = v else { return Ok(None) };
    let t = to_seconds(v.min(i64::MAX as u64) as i64);
    match TIMES.contains(&t) {
        true => Ok(Some(t)),
        false => Err(Malformed::TimeOutOfRange(name)),
    }
}

/// Normalise a timestamp that may be in seconds, milliseconds, microseconds or nanoseconds
/// to seconds ([`MILLIS_FROM`]).
#[inline]
pub fn to_seconds(t: i64) -> i64 {
    if t < MILLIS_FROM {
        t
    } else if t < MICROS_FROM {
        t / 1000
    } else if t < NANOS_FROM {
        t / 1_000_000
    } else {
        t / 1_000_000_000
    }
}

/// Parse an unsigned decimal without allocating. `None` on anything else.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s.len() > 19 {
        // only 20-digit values can overflow
        let mut v: u64 = 0;
        for &b in s {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(d as u64)?;
        }
        return Some(v);
    }
    // Eight digits at a time (timestamps have ten, byte counts up to eleven), then the rest.
    let mut v: u64 = 0;
    let mut rest = s;
    while let Some((eight, tail)) = rest.split_first_chunk::<8>() {
        v = v * 100_000_000 + eight_digits(*eight)?;
        rest = tail;
    }
    for &b in rest {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// [`parse_u64`] of the token `line[start..end]`, its digits read as whole 8-byte words of
/// the line: the word ending where the token ends, with the line's bytes before the token
/// read as leading zeros. A number of up to sixteen digits (every count and timestamp of a
/// flow log) is then one or two word conversions instead of a loop over its digits. A token
/// too near the line's start for a whole word, or longer, goes to [`parse_u64`]. Inlined
/// into each field's read: a call's result comes back through memory, which costs more than
/// the conversion.
#[inline(always)]
pub fn parse_u64_within(line: &[u8], start: usize, end: usize) -> Option<u64> {
    let len = end.checked_sub(start)?;
    match len {
        1..=8 if end >= 8 => eight_digits_word(leading_zeros(word_ending(line, end)?, len)),
        9..=16 if end >= 16 => {
            let high = eight_digits_word(leading_zeros(word_ending(line, end - 8)?, len - 8))?;
            Some(high * 100_000_000 + eight_digits_word(word_ending(line, end)?)?)
        }
        _ => parse_u64_aside(line.get(start..end)?),
    }
}

/// [`parse_u64`] out of line, for the rare tokens [`parse_u64_within`] does not read in place.
#[cold]
#[inline(never)]
fn parse_u64_aside(s: &[u8]) -> Option<u64> {
    parse_u64(s)
}

/// The eight bytes of `line` ending at `end`, as a little-endian word (the last byte highest).
#[inline(always)]
fn word_ending(line: &[u8], end: usize) -> Option<u64> {
    let bytes = line.get(end.checked_sub(8)?..end)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// `word` with all but its last `keep` (1 to 8) bytes replaced by ASCII zeros.
#[inline(always)]
fn leading_zeros(word: u64, keep: usize) -> u64 {
    let kept = !0u64 << (64 - 8 * keep as u32);
    (word & kept) | (0x3030_3030_3030_3030 & !kept)
}

/// The value of eight ASCII digits, or `None` if any byte is not a digit: checked and
/// combined in one 64-bit word (pairs, then quads, then the eight).
#[inline]
fn eight_digits(b: [u8; 8]) -> Option<u64> {
    eight_digits_word(u64::from_le_bytes(b))
}

/// [`eight_digits`] of the bytes of a little-endian word (the first digit lowest).
#[inline(always)]
fn eight_digits_word(w: u64) -> Option<u64> {
    // every byte 0x30..=0x39: high nibble 3, and adding 6 does not carry out of the nibble
    let high = 0xF0F0_F0F0_F0F0_F0F0u64;
    if w & high != 0x3030_3030_3030_3030
        || (w.wrapping_add(0x0606_0606_0606_0606) & high) != 0x3030_3030_3030_3030
    {
        return None;
    }
    let d = w - 0x3030_3030_3030_3030;
    // the first digit is the lowest byte: pairs, then quads, then all eight
    let pairs = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF)
}

/// Parse an IPv4 or IPv6 address without allocating (dotted quads take a fast path).
pub fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(s) {
        return Some(IpAddr::V4(v4));
    }
    if s.contains(&b':') {
        return std::str::from_utf8(s).ok()?.parse().ok();
    }
    None
}

/// [`parse_ip`] of the token `line[start..end]`: a dotted quad is read by
/// [`parse_ipv4_within`], anything else as [`parse_ip`] reads it.
#[inline]
pub fn parse_ip_within(line: &[u8], start: usize, end: usize) -> Option<IpAddr> {
    match parse_ipv4_within(line, start, end) {
        Some(v4) => Some(IpAddr::V4(v4)),
        None => parse_ip_aside(line.get(start..end)?),
    }
}

/// Dotted quads already read from a decoder's lines, by their text: a file's address tokens
/// are mostly the same few hundred or thousand addresses again (its NAT gateways', their
/// clients', the S3 and ECR addresses they reach), so [`AddrCache::parse_within`] finds most
/// of them here, in a few instructions, instead of reading their digits again. One slot per
/// hash of the text (a newer address takes the slot of an older one); a slot holds the whole
/// text and its length, so a hit is exactly the address [`parse_ip_within`] would read.
pub struct AddrCache {
    slots: Vec<AddrSlot>,
}

/// A cached token: its bytes zero-padded to 15 with its length as the 16th (`lo`, `hi`,
/// little-endian), and the address read from it. Never all zero (the length is at least 7),
/// so an empty slot matches no token.
#[derive(Clone, Copy, Default)]
struct AddrSlot {
    lo: u64,
    hi: u64,
    addr: u32,
}

/// Slots of a decoder's cache (as a power of two): 96 KB, room for the few thousand
/// addresses a flow-log file holds with few evictions.
const ADDR_CACHE_BITS: u32 = 12;

thread_local! {
    /// The slots of the thread's last decoder, for its next (a hit is checked against the
    /// whole text, so what the files before left is as good as what this one reads).
    static ADDR_SLOTS: std::cell::Cell<Vec<AddrSlot>> = const { std::cell::Cell::new(Vec::new()) };
}

impl AddrCache {
    /// A cache with room for a file's addresses: the thread's last one's, if it let go of
    /// it, else a new one (not 96 KB allocated and cleared a file).
    pub fn new() -> AddrCache {
        let mut slots = ADDR_SLOTS.try_with(|s| s.take()).unwrap_or_default();
        if slots.len() != 1 << ADDR_CACHE_BITS {
            slots = vec![AddrSlot::default(); 1 << ADDR_CACHE_BITS];
        }
        AddrCache { slots }
    }

    /// A cache that keeps nothing (for a single line).
    pub fn none() -> AddrCache {
        AddrCache { slots: Vec::new() }
    }

    /// [`parse_ip_within`] of the token `line[start..end]`, from the cache where the same
    /// text was read before; a dotted quad read now is kept (anything else is not).
    #[inline(always)]
    pub fn parse_within(&mut self, line: &[u8], start: usize, end: usize) -> Option<IpAddr> {
        let len = end.wrapping_sub(start);
        // the 16 bytes ending where the token ends, as parse_ipv4_within reads them
        let window = end.checked_sub(16).and_then(|from| line.get(from..end));
        let window: &[u8; 16] = match window.and_then(|w| w.try_into().ok()) {
            Some(w) if (7..=15).contains(&len) => w,
            _ => return parse_ip_within(line, start, end),
        };
        // the token's bytes moved to the bottom (the bytes above it zero), its length on top
        let text = u128::from_le_bytes(*window) >> (8 * (16 - len) as u32);
        let key = text | (len as u128) << 120;
        let (lo, hi) = (key as u64, (key >> 64) as u64);
        let hash = (lo ^ hi.rotate_left(23)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let Some(slot) = self
            .slots
            .get_mut((hash >> (64 - ADDR_CACHE_BITS)) as usize)
        else {
            return parse_ip_within(line, start, end);
        };
        if slot.lo == lo && slot.hi == hi {
            return Some(IpAddr::V4(Ipv4Addr::from(slot.addr)));
        }
        let ip = parse_ip_within(line, start, end)?;
        if let IpAddr::V4(v4) = ip {
            *slot = AddrSlot {
                lo,
                hi,
                addr: u32::from(v4),
            };
        }
        Some(ip)
    }
}

impl Default for AddrCache {
    fn default() -> Self {
        AddrCache::new()
    }
}

impl Drop for AddrCache {
    /// The slots go back to the thread for its next decoder ([`AddrCache::new`]).
    fn drop(&mut self) {
        if !self.slots.is_empty() {
            let slots = std::mem::take(&mut self.slots);
            // (never a panic in a drop: a thread ending has no room to keep them)
            let _ = ADDR_SLOTS.try_with(|s| s.set(slots));
        }
    }
}

/// [`parse_ip`] out of line, for what [`parse_ip_within`] does not read in place.
#[cold]
#[inline(never)]
fn parse_ip_aside(s: &[u8]) -> Option<IpAddr> {
    parse_ip(s)
}

/// [`parse_ipv4`] of the token `line[start..end]`, with no branch on how many digits each
/// octet has (which a line's addresses vary too much for a branch predictor to learn): the
/// 16 bytes of the line ending where the token ends are classified at once (dots, digits),
/// the three dots give the octets' ends and lengths, and each octet's value is its last three
/// digits weighted by whether the octet has them. A token too near the line's start for 16
/// bytes goes to [`parse_ipv4`].
#[inline(always)]
pub fn parse_ipv4_within(line: &[u8], start: usize, end: usize) -> Option<Ipv4Addr> {
    let len = end.checked_sub(start)?;
    let window = end.checked_sub(16).and_then(|from| line.get(from..end));
    let window: &[u8; 16] = match window.and_then(|w| w.try_into().ok()) {
        Some(w) if (7..=15).contains(&len) => w,
        _ => return parse_ipv4_aside(line.get(start..end)?),
    };
    // bit i: byte i of the window; the token is the last `len` bytes
    let token = (0xffff_u32 << (16 - len)) & 0xffff;
    let (dots, digits) = dots_and_digits(window);
    let dots = dots & token;
    // exactly three dots, counted by clearing the lowest (the baseline x86-64 has no
    // population count): the dots after the first, then after the second, then one left
    let two = dots & dots.wrapping_sub(1);
    let one = two & two.wrapping_sub(1);
    if (dots | digits) & token != token || one == 0 || one & (one - 1) != 0 {
        return None;
    }
    let first = dots.trailing_zeros();
    let second = two.trailing_zeros();
    let third = one.trailing_zeros();
    let ends = [first, second, third, 16];
    let lengths = [
        first - (16 - len as u32),
        second - first - 1,
        third - second - 1,
        15 - third,
    ];
    // every octet one to three digits (an empty one wraps to a large length)
    if lengths
        .iter()
        .fold(0, |m, &n| m | (n.wrapping_sub(1) > 2) as u32)
        != 0
    {
        return None;
    }
    // digit values, three zeros ahead so that an octet's three places all lie inside
    let mut value = [0u8; 19];
    for (v, b) in value[3..].iter_mut().zip(window) {
        *v = b.wrapping_sub(b'0');
    }
    let octet = |end: u32, n: u32| {
        let e = end as usize + 3;
        value[e - 1] as u32
            + (n >= 2) as u32 * 10 * value[e - 2] as u32
            + (n >= 3) as u32 * 100 * value[e - 3] as u32
    };
    let o: [u32; 4] = std::array::from_fn(|k| octet(ends[k], lengths[k]));
    if o.iter().fold(0, |m, &v| m | v) > 255 {
        return None;
    }
    Some(Ipv4Addr::new(
        o[0] as u8, o[1] as u8, o[2] as u8, o[3] as u8,
    ))
}

/// Bit masks of the dots and of the ASCII digits among 16 bytes (bit i for byte i).
#[inline(always)]
fn dots_and_digits(w: &[u8; 16]) -> (u32, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
            _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, and `w` is 16 bytes long.
        unsafe {
            let v = _mm_loadu_si128(w.as_ptr() as *const __m128i);
            let dots = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
            // signed compares: a byte of 0x80 or more is negative, so not a digit
            let digits = _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(b'0' as i8 - 1)),
                _mm_cmplt_epi8(v, _mm_set1_epi8(b'9' as i8 + 1)),
            );
            (
                _mm_movemask_epi8(dots) as u32,
                _mm_movemask_epi8(digits) as u32,
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        w.iter().enumerate().fold((0, 0), |(d, g), (i, &b)| {
            (
                d | ((b == b'.') as u32) << i,
                g | (b.is_ascii_digit() as u32) << i,
            )
        })
    }
}

/// [`parse_ipv4`] out of line, for the dotted quads [`parse_ipv4_within`] does not read in
/// place.
#[cold]
#[inline(never)]
fn parse_ipv4_aside(s: &[u8]) -> Option<Ipv4Addr> {
    parse_ipv4(s)
}

#[inline]
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    let digit = |i: usize| s.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9);
    let mut out = 0u32;
    let mut i = 0;
    for k in 0..4 {
        // one to three digits, at most 255
        let mut v = digit(i)? as u32;
        i += 1;
        if let Some(d) = digit(i) {
            v = v * 10 + d as u32;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d as u32;
                i += 1;
            }
        }
        if v > 255 {
            return None;
        }
        out = (out << 8) | v;
        if k < 3 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == s.len()).then(|| Ipv4Addr::from(out))
}

/// Whether an address is inside a VPC's own space: RFC 1918, the shared range
/// 100.64.0.0/10 that VPCs may use, loopback and link-local; for IPv6 unique-local and
/// link-local. Everything else is a public remote.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 10
                || (o[0] == 172 && (16..=31).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 100 && (64..=127).contains(&o[1]))
                || o[0] == 127
                || (o[0] == 169 && o[1] == 254)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80 || v6.is_loopback()
        }
    }
}

/// The IPv4 address a NAT64 address stands for. An IPv6-only client reaches an IPv4-only
/// service (S3's regional names among them) at the address Route 53 Resolver's DNS64
/// synthesises in RFC 6052's well-known prefix `64:ff9b::/96`, the service's IPv4 address in
/// its last 32 bits, and a NAT gateway translates it: the remote of such a record is that
/// IPv4 address. (The prefix is not routed on the internet, so no other remote has it.)
#[inline]
pub fn nat64_v4(ip: &IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V6(v6) if u128::from(*v6) >> 32 == NAT64_PREFIX >> 32 => {
            Some(Ipv4Addr::from(u128::from(*v6) as u32))
        }
        _ => None,
    }
}

/// `64:ff9b::/96` as a number.
const NAT64_PREFIX: u128 = 0x0064_ff9b_u128 << 96;

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy;

    /// The dotted-quad rule, a part at a time: four numbers of one to three digits, each at
    /// most 255, between three dots (leading zeros allowed).
    fn ipv4_plain(s: &[u8]) -> Option<Ipv4Addr> {
        let parts: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut out = [0u8; 4];
        for (o, p) in out.iter_mut().zip(parts) {
            if !(1..=3).contains(&p.len()) || !p.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *o = p
                .iter()
                .fold(0u32, |v, &d| v * 10 + (d - b'0') as u32)
                .try_into()
                .ok()?;
        }
        Some(Ipv4Addr::from(out))
    }

    proptest::proptest! {
        /// The dotted-quad reader is the rule, on texts of digits and dots (most of them near
        /// misses), any bytes, and addresses written out (octets past 255, leading zeros).
        #[test]
        fn ipv4_reader_is_the_rule(
            s in proptest::prop_oneof![
                proptest::collection::vec(proptest::prop_oneof![
                    4 => proptest::char::range('0', '9'), 2 => proptest::strategy::Just('.'),
                    1 => proptest::char::any(),
                ], 0..18).prop_map(|v| v.into_iter().collect::<String>().into_bytes()),
                proptest::collection::vec(proptest::num::u8::ANY, 0..18),
                proptest::array::uniform4(0u16..300).prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]).into_bytes()),
                proptest::array::uniform4(0u8..=255).prop_map(|o| format!("{:03}.{}.{:02}.{}", o[0], o[1], o[2], o[3]).into_bytes()),
            ],
        ) {
            proptest::prop_assert_eq!(parse_ipv4(&s), ipv4_plain(&s));
        }
    }

    proptest::proptest! {
        /// The table's check is the rule it is written from: at most 32 bytes, each a
        /// lowercase letter, a digit or `-` (any character, and `us-east-1`-like names).
        #[test]
        fn region_check_is_its_rule(r in proptest::prop_oneof![
            "\\PC{0,40}", "[a-z0-9-]{0,34}", "[a-zA-Z0-9_ -]{0,12}",
        ]) {
            let rule = r.len() <= 32
                && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            proptest::prop_assert_eq!(checked_region(Some(&r)).is_ok(), rule);
            proptest::prop_assert_eq!(checked_region(None), Ok(None));
        }
    }

    proptest::proptest! {
        /// Two strings are the same bytes exactly when they are equal: every length around
        /// the word sizes, and pairs that differ in one byte anywhere (first, last, middle).
        #[test]
        fn same_bytes_is_equality(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            flip in 1u8..=255,
            change in proptest::bool::weighted(0.7),
            cut in 0usize..2,
        ) {
            let mut b = a.clone();
            if change && !b.is_empty() {
                let i = at.index(b.len());
                b[i] ^= flip;
            }
            b.truncate(b.len().saturating_sub(cut * usize::from(!change)));
            proptest::prop_assert_eq!(same_bytes(&a, &b), a == b);
            proptest::prop_assert!(same_bytes(&a, &a));
        }
    }

    /// Five times as many addresses as the cache has slots, read twice over: every answer
    /// is the address, whichever slots the later ones took from the earlier.
    #[test]
    fn the_address_cache_is_right_when_full() {
        let mut ips = AddrCache::new();
        let n = 5 << ADDR_CACHE_BITS;
        for round in 0..2 {
            for i in 0..n {
                let a = Ipv4Addr::from(
                    0x0a00_0000 + (i as u32).wrapping_mul(2_654_435_761) % 0x00ff_ffff,
                );
                // (after 16 bytes or more: the cache's read of the token, not the fallback)
                let line = format!("eni-0123456789abcdef0 {a} y");
                let got = ips.parse_within(line.as_bytes(), 22, 22 + a.to_string().len());
                assert_eq!(got, Some(IpAddr::V4(a)), "round {round}, {a}");
            }
        }
    }

    /// A decoder's cache goes to the thread's next decoder, whose reads of the same text
    /// are then hits (and right); another thread's cache starts empty.
    #[test]
    fn the_address_cache_passes_to_the_threads_next_decoder() {
        let line = b"eni-0123456789abcdef0 10.1.2.3 y";
        let filled = |c: &AddrCache| c.slots.iter().filter(|s| s.lo != 0).count();
        std::thread::spawn(move || {
            let mut first = AddrCache::new();
            assert_eq!(filled(&first), 0);
            assert_eq!(first.parse_within(line, 22, 30), "10.1.2.3".parse().ok());
            assert_eq!(filled(&first), 1);
            drop(first);
            let mut next = AddrCache::new();
            assert_eq!(filled(&next), 1, "the slots of the decoder before");
            assert_eq!(next.parse_within(line, 22, 30), "10.1.2.3".parse().ok());
            // a different address of the same length is read, not taken from the slot
            assert_eq!(
                next.parse_within(b"eni-0123456789abcdef0 10.1.2.4 y", 22, 30),
                "10.1.2.4".parse().ok()
            );
            std::thread::spawn(move || assert_eq!(filled(&AddrCache::new()), 0))
                .join()
                .unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn ipv4_fast_path_agrees_with_std() {
        for s in ["10.0.0.1", "255.255.255.255", "0.0.0.0", "52.216.8.1"] {
            assert_eq!(parse_ip(s.as_bytes()), Some(s.parse().unwrap()));
        }
        for s in [
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "",
            "-",
            "1.2.3.4x",
            "0001.2.3.4",
        ] {
            assert_eq!(parse_ip(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            parse_ip(b"2001:db8::1"),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    proptest::proptest! {
        /// Every dotted quad std reads, read the same; and on arbitrary digits and dots, the
        /// same answer as std wherever std has no objection to leading zeros.
        #[test]
        fn number_parser_agrees_with_std(
            n in proptest::prelude::any::<u64>(),
            s in "[0-9:/ a]{0,21}|[0-9]{0,20}|[0-9]{0,12}[:/a ][0-9]{0,8}",
        ) {
            proptest::prop_assert_eq!(parse_u64(n.to_string().as_bytes()), Some(n));
            proptest::prop_assert_eq!(parse_u64(format!("{n:020}").as_bytes()), Some(n));
            let std = s.parse::<u64>().ok().filter(|_| !s.starts_with('+'));
            proptest::prop_assert_eq!(parse_u64(s.as_bytes()), std, "{}", s);
        }

        /// A token read in place, from words of the line around it, is the token read alone,
        /// whatever stands before and after it (digits, which must not leak into the value,
        /// or any other byte), at any place in the line.
        #[test]
        fn a_number_read_within_its_line_is_the_number_alone(
            before in "[0-9]{0,20}|[ -~]{0,20}",
            tok in "[0-9]{0,20}|[0-9]{0,12}[:/a -][0-9]{0,8}|[0-9]{1,17}",
            after in "[0-9 ]{0,9}",
        ) {
            let line = format!("{before}{tok}{after}");
            let (start, end) = (before.len(), before.len() + tok.len());
            proptest::prop_assert_eq!(
                parse_u64_within(line.as_bytes(), start, end),
                parse_u64(tok.as_bytes()),
                "{:?} in {:?}", tok, line
            );
        }

        /// A dotted quad read in place, from the 16 bytes of the line ending with it, is the
        /// token read alone, whatever stands before it (dots, digits, bytes above 0x7f) and
        /// at any place in the line.
        #[test]
        fn an_address_read_within_its_line_is_the_address_alone(
            n in proptest::prelude::any::<u32>(),
            before in "[0-9.]{0,20}|[ -~]{0,20}|[0-9. é]{0,20}",
            tok in "[0-9.]{0,17}|[0-9]{1,4}(\\.[0-9]{0,4}){3}|[0-9a-f:.]{2,16}|[0-9.é]{1,16}",
            after in "[0-9. ]{0,9}",
            quad in proptest::bool::ANY,
        ) {
            let tok = if quad { Ipv4Addr::from(n).to_string() } else { tok };
            let line = format!("{before}{tok}{after}");
            let (start, end) = (before.len(), before.len() + tok.len());
            proptest::prop_assert_eq!(
                parse_ipv4_within(line.as_bytes(), start, end),
                parse_ipv4(tok.as_bytes()),
                "{:?} in {:?}", tok, line
            );
            proptest::prop_assert_eq!(
                parse_ip_within(line.as_bytes(), start, end),
                parse_ip(tok.as_bytes()),
                "{:?} in {:?}", tok, line
            );
        }

        /// The address cache answers as the token read alone, through any sequence of
        /// tokens read with one cache: repeats (hits), near misses of a cached text (one
        /// byte more or less, a NUL, a leading zero), tokens that are no address (never
        /// kept), IPv6, and anything before and after the token in its line.
        #[test]
        fn the_address_cache_answers_as_the_token_read_alone(
            reads in proptest::collection::vec((
                proptest::prop_oneof![
                    4 => proptest::sample::select(vec![
                        "10.0.0.1", "10.0.0.10", "10.0.0.1\0", "010.0.0.1", "10.0.0.1.",
                        "52.216.8.1", "52.216.8.10", "2600:1f18::1", "255.255.255.255",
                        "256.0.0.1", "1.2.3.4", "1.2.3", "-",
                    ]).prop_map(str::to_string),
                    1 => "[0-9.]{0,17}",
                    1 => proptest::prelude::any::<u32>().prop_map(|n| Ipv4Addr::from(n).to_string()),
                ],
                "[0-9. ]{0,18}",
                "[0-9. ]{0,4}",
            ), 1..60),
        ) {
            let mut ips = AddrCache::new();
            for (tok, before, after) in reads {
                let line = format!("{before}{tok}{after}");
                let (start, end) = (before.len(), before.len() + tok.len());
                proptest::prop_assert_eq!(
                    ips.parse_within(line.as_bytes(), start, end),
                    parse_ip(tok.as_bytes()),
                    "{:?} in {:?}", tok, line
                );
            }
        }

        #[test]
        fn ipv4_parser_agrees_with_std(n in proptest::prelude::any::<u32>(), s in "[0-9.]{0,17}") {
            let a = Ipv4Addr::from(n);
            proptest::prop_assert_eq!(parse_ipv4(a.to_string().as_bytes()), Some(a));
            let std: Option<Ipv4Addr> = s.parse().ok();
            let leading_zero = s.split('.').any(|o| o.len() > 1 && o.starts_with('0'));
            if !leading_zero {
                proptest::prop_assert_eq!(parse_ipv4(s.as_bytes()), std, "{}", s);
            }
        }
    }

    #[test]
    fn numbers_and_timestamps() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(to_seconds(1_700_000_000_123), 1_700_000_000);
        assert_eq!(to_seconds(1_700_000_000), 1_700_000_000);
        assert_eq!(to_seconds(1_700_000_000_123_456), 1_700_000_000);
        assert_eq!(to_seconds(1_700_000_000_123_456_789), 1_700_000_000);
        assert_eq!(to_seconds(i64::MAX), i64::MAX / 1_000_000_000);
        // each unit's times from 2010 to 2100 are in seconds in TIMES, and nothing between
        for unit in [1, 1000, 1_000_000, 1_000_000_000] {
            let (first, last) = (TIMES.start * unit, (TIMES.end - 1) * unit + unit - 1);
            assert_eq!(to_seconds(first), TIMES.start);
            assert_eq!(to_seconds(last), TIMES.end - 1);
            assert!(!TIMES.contains(&to_seconds(first - 1)), "{unit}");
            assert!(!TIMES.contains(&to_seconds(last + 1)), "{unit}");
        }
    }

    #[test]
    fn private_ranges() {
        for s in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(is_private(&s.parse().unwrap()), "{s}");
        }
        for s in [
            "172.32.0.1",
            "52.216.1.1",
            "203.0.113.5",
            "2600:1f18::1",
            "100.128.0.1",
        ] {
            assert!(!is_private(&s.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn nat64_addresses_hold_their_ipv4_remote() {
        let v4 = |s: &str| nat64_v4(&s.parse().unwrap());
        assert_eq!(v4("64:ff9b::36e7:a"), Some("54.231.0.10".parse().unwrap()));
        assert_eq!(v4("64:ff9b::"), Some("0.0.0.0".parse().unwrap()));
        assert_eq!(
            v4("64:ff9b::ffff:ffff"),
            Some("255.255.255.255".parse().unwrap())
        );
        for other in [
            "64:ff9b::1:0:0",
            "64:ff9b:1::a",
            "2600:1f18::1",
            "54.231.0.10",
            "::ffff:1.2.3.4",
        ] {
            assert_eq!(v4(other), None, "{other}");
        }
        assert!(
            !is_private(&"64:ff9b::a00:1".parse().unwrap()),
            "not a private address"
        );
    }

    /// A port's digits folded without its text are its text's, for every port.
    #[test]
    fn a_ports_digits_are_its_texts() {
        for port in 0..=u16::MAX {
            let text = port.to_string();
            let folded = text.bytes().fold(0u64, |h, c| (h << 8) | u64::from(c));
            assert_eq!(digits_of(port), folded, "{port}");
            let mut buf = [0u8; 8];
            assert_eq!(decimal(port, &mut buf), text.as_bytes());
        }
    }
}
