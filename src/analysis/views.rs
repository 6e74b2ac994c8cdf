//! What the analysis reads of each non-NAT ENI after its first walk, noted during that walk
//! ([`TaskViews`]), so that the steps that need the first walk's answers (the ECR estimate's
//! task starts and pulls, the top clients' ENIs) read a few bytes an ENI instead of walking
//! the aggregates again (a walk decodes and merges every spilled aggregate, about 5,000
//! instructions an ENI).
//!
//! The notes are packed bytes: the ENI id, a flags byte, the local addresses, the first
//! record's time, the pull window's bytes, the ECS service and the VPC (each an index into
//! the names seen), integers as LEB128 varints. Where the ENI source gives a scratch file (a spilled
//! table: its aggregates are not in memory, so their notes should not be either), the notes
//! go there in chunks of [`CHUNK`] bytes, so memory stays bounded per chunk, not per ENI; a
//! chunk the file refuses (a full disk) and every note after it stay in memory: none is lost.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::account::{EniAgg, FxMap, Name};

/// Notes held in memory before a chunk goes to the scratch file.
const CHUNK: usize = 1 << 20;

const TASK: u8 = 1;
const FIRST: u8 = 2;
const SERVICE: u8 = 4;
const VPC: u8 = 8;

/// One non-NAT ENI as the steps after the first walk see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView<'v> {
    pub eni: &'v str,
    /// Its local addresses (the aggregate's capped set, smallest first).
    pub ips: &'v [IpAddr],
    /// The other ends of its NAT64 legs, where they are few enough to be its own
    /// ([`TaskView::nat64_ends_of`]): they name the ENI beside a NAT's NAT64 clients, but
    /// start no task.
    pub nat64_ends: &'v [IpAddr],
    /// Its first record's start.
    pub first: Option<i64>,
    /// It carries an ECS task id.
    pub is_task: bool,
    /// S3 download bytes in its pull window.
    pub pull_bytes: u64,
    /// Its own ECS service field.
    pub service: Option<&'v str>,
    /// Its VPC, where its records name one.
    pub vpc: Option<&'v str>,
}

impl<'v> TaskView<'v> {
    /// The view of an aggregate.
    pub fn of(eni: &'v str, a: &'v EniAgg) -> TaskView<'v> {
        TaskView {
            eni,
            ips: &a.local_ips.items,
            nat64_ends: TaskView::nat64_ends_of(a),
            first: a.span.first(),
            is_task: a.meta.ecs_task.is_some(),
            pull_bytes: a.pull.bytes(),
            service: a.meta.ecs_service.as_deref(),
            vpc: a.meta.vpc.as_deref(),
        }
    }

    /// The other ends of a non-NAT ENI's NAT64 legs ([`crate::account::PrivateSide::nat64_ends`]),
    /// taken for its own addresses: an IPv6-only task's. None where there were more than
    /// the set holds: an ENI that forwards others' NAT64 traffic (a firewall's, a transit
    /// gateway attachment's) is no client.
    pub fn nat64_ends_of(a: &EniAgg) -> &[IpAddr] {
        let ends = &a.private_side().nat64_ends;
        match ends.overflow {
            true => &[],
            false => &ends.items,
        }
    }
}

/// The notes of every non-NAT ENI of a walk, in the order they were pushed.
pub struct TaskViews {
    buf: Vec<u8>,
    /// Chunks already written to the scratch file, and the file.
    chunks: Vec<u32>,
    file: Option<File>,
    /// A chunk could not be written (a full disk): the file keeps the chunks written
    /// before, and the notes from then on stay in memory, so none is lost.
    memory_only: bool,
    names: Vec<Name>,
    index: FxMap<Name, u32>,
    /// Notes of the ENIs after these, noted apart (by the walks of later parts of a table).
    after: Vec<TaskViews>,
}

impl Default for TaskViews {
    fn default() -> Self {
        TaskViews::new(None)
    }
}

impl TaskViews {
    /// Notes held in memory, or, given a `scratch` file, written there chunk by chunk.
    pub fn new(scratch: Option<File>) -> TaskViews {
        TaskViews {
            buf: Vec::new(),
            chunks: Vec::new(),
            file: scratch,
            memory_only: false,
            names: Vec::new(),
            index: FxMap::default(),
            after: Vec::new(),
        }
    }

    /// Add `later`'s notes after these (and after any added before): what a walk of the
    /// next part of a table noted.
    pub fn append(&mut self, mut later: TaskViews) {
        let more = std::mem::take(&mut later.after);
        self.after.push(later);
        self.after.extend(more);
    }

    /// Note `view`.
    pub fn push(&mut self, view: &TaskView) {
        debug_assert!(
            self.after.is_empty(),
            "a view noted after later ones were added"
        );
        let b = &mut self.buf;
        varint(b, view.eni.len() as u64);
        b.extend_from_slice(view.eni.as_bytes());
        let flags = (view.is_task as u8 * TASK)
            | (view.first.is_some() as u8 * FIRST)
            | (view.service.is_some() as u8 * SERVICE)
            | (view.vpc.is_some() as u8 * VPC);
        b.push(flags);
        addresses(b, view.ips);
        addresses(b, view.nat64_ends);
        if let Some(t) = view.first {
            varint(b, ((t << 1) ^ (t >> 63)) as u64);
        }
        varint(b, view.pull_bytes);
        for name in [view.service, view.vpc].into_iter().flatten() {
            let i = self.name_index(name);
            varint(&mut self.buf, u64::from(i));
        }
        if self.buf.len() >= CHUNK && !self.memory_only {
            if let Some(f) = &mut self.file {
                match f.write_all(&self.buf) {
                    Ok(()) => {
                        self.chunks.push(self.buf.len() as u32);
                        self.buf.clear();
                    }
                    Err(_) => self.memory_only = true,
                }
            }
        }
    }

    /// The index of `name` among the names noted (ECS names and VPCs), noted if new.
    fn name_index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        let name: Name = name.into();
        self.names.push(name.clone());
        self.index.insert(name, i);
        i
    }

    /// Call `f` with every view, in the order they were pushed; may be called again.
    pub fn for_each(&mut self, mut f: impl FnMut(&TaskView)) -> io::Result<()> {
        self.read_own(&mut f)?;
        for later in &mut self.after {
            later.read_own(&mut f)?;
        }
        Ok(())
    }

    /// [`TaskViews::for_each`] of the views pushed here (not those appended).
    fn read_own(&mut self, mut f: &mut dyn FnMut(&TaskView)) -> io::Result<()> {
        let mut ips = Default::default();
        if let Some(file) = &mut self.file {
            file.seek(SeekFrom::Start(0))?;
            let mut chunk = Vec::new();
            for &n in &self.chunks {
                chunk.resize(n as usize, 0);
                file.read_exact(&mut chunk)?;
                read_all(&chunk, &self.names, &mut ips, &mut f)?;
            }
            // the next pushes append after what was written
            file.seek(SeekFrom::End(0))?;
        }
        read_all(&self.buf, &self.names, &mut ips, &mut f)
    }
}

/// Read every view packed in `bytes`.
fn read_all(
    bytes: &[u8],
    names: &[Name],
    ips: &mut [Vec<IpAddr>; 2],
    f: &mut impl FnMut(&TaskView),
) -> io::Result<()> {
    let mut r = Reader { bytes, pos: 0 };
    while r.pos < bytes.len() {
        let view = r
            .view(names, ips)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "ENI notes damaged"))?;
        f(&view);
    }
    Ok(())
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A packed list of addresses, into `ips` (cleared first).
    fn addresses(&mut self, ips: &mut Vec<IpAddr>) -> Option<()> {
        let count = self.varint()?;
        ips.clear();
        for _ in 0..count {
            let ip = match self.byte()? {
                4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(self.take(4)?).ok()?)),
                6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(self.take(16)?).ok()?)),
                _ => return None,
            };
            ips.push(ip);
        }
        Some(())
    }

    /// The next view; its local addresses and NAT64 ends go to `ips` (reused from view to
    /// view).
    fn view<'s>(&mut self, names: &'s [Name], ips: &'s mut [Vec<IpAddr>; 2]) -> Option<TaskView<'s>>
    where
        'b: 's,
    {
        let n = usize::try_from(self.varint()?).ok()?;
        let eni = std::str::from_utf8(self.take(n)?).ok()?;
        let flags = self.byte()?;
        let [local, ends] = ips;
        self.addresses(local)?;
        self.addresses(ends)?;
        let first = match flags & FIRST {
            0 => None,
            _ => {
                let z = self.varint()?;
                Some((z >> 1) as i64 ^ -((z & 1) as i64))
            }
        };
        let pull_bytes = self.varint()?;
        let mut name = |flag: u8| -> Option<Option<&'s str>> {
            match flags & flag {
                0 => Some(None),
                _ => Some(Some(
                    names.get(usize::try_from(self.varint()?).ok()?)?.as_ref(),
                )),
            }
        };
        let service = name(SERVICE)?;
        let vpc = name(VPC)?;
        Some(TaskView {
            eni,
            ips: local,
            nat64_ends: ends,
            first,
            is_task: flags & TASK != 0,
            pull_bytes,
            service,
            vpc,
        })
    }
}

/// Pack a list of addresses: their count, then each as its family's tag and octets.
fn addresses(b: &mut Vec<u8>, ips: &[IpAddr]) {
    varint(b, ips.len() as u64);
    for ip in ips {
        match ip {
            IpAddr::V4(v4) => {
                b.push(4);
                b.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                b.push(6);
                b.extend_from_slice(&v6.octets());
            }
        }
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An owned view, to compare what went in with what comes out.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        eni: String,
        ips: Vec<IpAddr>,
        nat64_ends: Vec<IpAddr>,
        first: Option<i64>,
        is_task: bool,
        pull_bytes: u64,
        service: Option<String>,
        vpc: Option<String>,
    }

    impl Owned {
        fn view(&self) -> TaskView<'_> {
            TaskView {
                eni: &self.eni,
                ips: &self.ips,
                nat64_ends: &self.nat64_ends,
                first: self.first,
                is_task: self.is_task,
                pull_bytes: self.pull_bytes,
                service: self.service.as_deref(),
                vpc: self.vpc.as_deref(),
            }
        }
        fn of(v: &TaskView) -> Owned {
            Owned {
                eni: v.eni.to_string(),
                ips: v.ips.to_vec(),
                nat64_ends: v.nat64_ends.to_vec(),
                first: v.first,
                is_task: v.is_task,
                pull_bytes: v.pull_bytes,
                service: v.service.map(String::from),
                vpc: v.vpc.map(String::from),
            }
        }
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|o| IpAddr::V4(o.into())),
            any::<[u8; 16]>().prop_map(|o| IpAddr::V6(o.into())),
        ]
    }

    fn owned() -> impl Strategy<Value = Owned> {
        (
            "[a-z0-9\u{1f}<>-]{0,30}",
            proptest::collection::vec(ip(), 0..10),
            proptest::collection::vec(ip(), 0..3),
            proptest::option::of(prop_oneof![any::<i64>(), -5i64..5]),
            any::<bool>(),
            prop_oneof![any::<u64>(), 0u64..300],
            proptest::option::of("(svc-a|svc-b|svc-c|<script>|)"),
            proptest::option::of("(vpc-a|vpc-b|svc-a|)"),
        )
            .prop_map(
                |(eni, ips, nat64_ends, first, is_task, pull_bytes, service, vpc)| Owned {
                    eni,
                    ips,
                    nat64_ends,
                    first,
                    is_task,
                    pull_bytes,
                    service,
                    vpc,
                },
            )
    }

    proptest! {
        /// Every view comes back as it went in, in order, twice, held in memory or written
        /// to a scratch file in chunks (views straddle no chunk: a chunk ends after a view).
        #[test]
        fn views_come_back_as_pushed(
            views in proptest::collection::vec(owned(), 0..60),
            scratch in any::<bool>(),
        ) {
            let file = scratch.then(|| tempfile::tempfile().unwrap());
            let mut log = TaskViews::new(file);
            for v in &views {
                log.push(&v.view());
            }
            for _ in 0..2 {
                let mut back = Vec::new();
                log.for_each(|v| back.push(Owned::of(v))).unwrap();
                prop_assert_eq!(&back, &views);
            }
        }
    }

    /// Past a chunk's worth the notes go to the scratch file, memory keeps less than a
    /// chunk, and pushes after a read still come back after the others.
    #[test]
    fn chunks_go_to_the_scratch_file() {
        let mut log = TaskViews::new(Some(tempfile::tempfile().unwrap()));
        let ips = [IpAddr::V4([10, 0, 1, 5].into())];
        let eni = |i: u32| format!("eni-{i:017}");
        let n = 60_000;
        for i in 0..n {
            let e = eni(i);
            let v = TaskView {
                eni: &e,
                ips: &ips,
                nat64_ends: &[],
                first: Some(i64::from(i) * 60),
                is_task: i % 2 == 0,
                pull_bytes: u64::from(i),
                service: Some(["a", "b"][i as usize % 2]),
                vpc: Some("b"),
            };
            log.push(&v);
        }
        assert!(!log.chunks.is_empty(), "nothing written to the file");
        assert!(log.buf.len() < CHUNK);
        assert_eq!(log.names.len(), 2, "names noted once each");
        let e = eni(n);
        let last = TaskView {
            eni: &e,
            ips: &[],
            nat64_ends: &[],
            first: None,
            is_task: false,
            pull_bytes: 0,
            service: None,
            vpc: None,
        };
        let mut seen = 0u32;
        log.for_each(|v| {
            assert_eq!(v.eni, eni(seen));
            assert_eq!(v.pull_bytes, u64::from(seen));
            assert_eq!(v.service, Some(["a", "b"][seen as usize % 2]));
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, n);
        log.push(&last);
        let mut all = Vec::new();
        log.for_each(|v| all.push(v.eni.to_string())).unwrap();
        assert_eq!(all.len() as u32, n + 1);
        assert_eq!(all.last(), Some(&e));
    }

    /// A scratch file that refuses writes (a full disk) loses nothing: the notes stay in
    /// memory.
    #[test]
    fn a_file_that_refuses_writes_keeps_the_notes_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("read-only");
        std::fs::write(&p, b"").unwrap();
        let mut log = TaskViews::new(Some(File::open(&p).unwrap()));
        let ips = [IpAddr::V4([10, 0, 1, 5].into())];
        let n = 60_000u32;
        for i in 0..n {
            let e = format!("eni-{i:017}");
            log.push(&TaskView {
                eni: &e,
                ips: &ips,
                nat64_ends: &[],
                first: Some(i64::from(i)),
                is_task: true,
                pull_bytes: u64::from(i),
                service: None,
                vpc: None,
            });
        }
        assert!(log.memory_only && log.chunks.is_empty());
        let mut seen = 0u32;
        log.for_each(|v| {
            assert_eq!(v.pull_bytes, u64::from(seen));
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, n);
    }

    /// Damaged notes are an error, never a panic or a wrong view.
    #[test]
    fn damaged_notes_are_an_error() {
        let mut log = TaskViews::new(None);
        let ips = [IpAddr::V4([10, 0, 1, 5].into())];
        let ends = [IpAddr::V6([0x2600, 0x1f18, 1, 2, 0, 0, 0, 0x10].into())];
        let v = TaskView {
            eni: "eni-1",
            ips: &ips,
            nat64_ends: &ends,
            first: Some(7),
            is_task: true,
            pull_bytes: 1 << 40,
            service: Some("svc"),
            vpc: Some("vpc-1"),
        };
        log.push(&v);
        let whole = log.buf.clone();
        for cut in 0..whole.len() {
            log.buf = whole[..cut].to_vec();
            let mut n = 0;
            let r = log.for_each(|_| n += 1);
            assert!(cut == 0 || r.is_err(), "cut at {cut} read as {n} views");
        }
        log.buf = whole.clone();
        log.buf[8] = 9; // the address's tag (after the id's length, the id, flags, count)
        assert!(log.for_each(|_| {}).is_err());
    }
}
