//! The simulated world: topology, tasks, flows, and the truth computed from the flows.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::{FieldSet, Rng, Spec};
use crate::analysis::ClassBytes;
use crate::classify::Class;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const VPC: &str = "vpc-0a1b2c3d4e5f60718";
pub const CLUSTER: &str = "prod";
pub const FLOW_LOG_ID: &str = "fl-0f1e2d3c4b5a69788";
/// Delivery window of one log file, seconds.
pub const FILE_WINDOW: i64 = 300;

/// A subnet and where its route table sends internet traffic.
#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: String,
    pub az: &'static str,
    pub base: u32,
    pub hosts: u32,
    /// Index of the NAT its default route uses (private subnets).
    pub nat: Option<usize>,
}

/// What an ENI belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EniKind {
    Nat(usize),
    Task(usize),
    Instance,
}

#[derive(Clone, Debug)]
pub struct Eni {
    pub id: String,
    pub ip: Ipv4Addr,
    pub subnet: usize,
    pub kind: EniKind,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub service: usize,
    pub eni: usize,
    pub start: i64,
    pub end: i64,
}

pub const SERVICES: [&str; 3] = ["web", "worker", "batch"];

/// Why a flow exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    EcrApi,
    Layer,
    App,
    Internal,
    Scan,
}

/// One connection: both directions, over its lifetime.
#[derive(Clone, Debug)]
pub struct Flow {
    /// The ENI that owns the local end (a task, the instance, or for scans a NAT).
    pub eni: usize,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub local_port: u16,
    pub class: Option<Class>,
    pub start: i64,
    pub secs: i64,
    pub up: u64,
    pub down: u64,
    pub via_nat: Option<usize>,
    /// Carried by the S3 gateway endpoint (instead of a NAT).
    pub via_endpoint: bool,
    pub kind: Kind,
}

/// A NAT gateway.
#[derive(Clone, Debug)]
pub struct Nat {
    pub eni: usize,
    pub ip: Ipv4Addr,
}

/// A status-only record (NODATA/SKIPDATA) on an ENI.
#[derive(Clone, Debug)]
pub struct StatusRec {
    pub eni: usize,
    pub start: i64,
    pub skip: bool,
}

/// The whole simulated world.
#[derive(Clone, Debug)]
pub struct World {
    pub spec: Spec,
    pub subnets: Vec<Subnet>,
    pub enis: Vec<Eni>,
    pub nats: Vec<Nat>,
    pub tasks: Vec<Task>,
    pub flows: Vec<Flow>,
    pub status: Vec<StatusRec>,
    pub end: i64,
}

/// The true answer, computed from the flows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    pub seed: u64,
    pub fields: FieldSet,
    pub nat_only: bool,
    #[serde(default)]
    pub address_reuse: bool,
    pub region: String,
    pub nat_enis: Vec<String>,
    pub nat_ips: Vec<String>,
    pub start: i64,
    pub end: i64,
    /// NAT-processed bytes by class (ACCEPTed traffic through a NAT gateway).
    pub nat: ClassBytes,
    pub nat_total: u64,
    pub nat_by_day: BTreeMap<String, ClassBytes>,
    pub nat_by_gateway: BTreeMap<String, ClassBytes>,
    pub nat_by_subnet: BTreeMap<String, ClassBytes>,
    /// Image-layer bytes that crossed a NAT, and the number of tasks that pulled.
    pub ecr_layer_bytes: u64,
    pub ecr_pulls: u64,
    pub ecr_by_service: BTreeMap<String, u64>,
    pub tasks: u64,
    /// Client↔NAT bytes where the client's AZ differs from the NAT's.
    pub cross_az_bytes: u64,
    /// Bytes of S3 traffic that did not cross a NAT (the instance's own path, the endpoint).
    pub s3_not_via_nat: u64,
    /// When the S3 gateway endpoint was added, the subnet left without it, the bytes it
    /// carried, and the S3 bytes still on the NAT path after it, by client subnet.
    pub s3_endpoint_at: Option<i64>,
    pub endpoint_skips_subnet: Option<String>,
    pub s3_via_endpoint: u64,
    pub nat_s3_after_endpoint_by_subnet: BTreeMap<String, u64>,
    pub rejected_records: u64,
    pub nodata_records: u64,
    pub skipdata_records: u64,
    /// The VPC inventory the generator writes (`inventory/`): each NAT ENI's gateway id, the
    /// gateway that has no flow-log record, and the endpoint plan's truth: each route table
    /// that lacks the S3 gateway endpoint and its clients' S3 bytes through a NAT.
    #[serde(default)]
    pub nat_gateway_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub silent_nat_gateway: String,
    #[serde(default)]
    pub s3_plan_by_route_table: BTreeMap<String, u64>,
    /// The Cost and Usage Report the generator writes (`cur/`): billed NAT bytes per gateway
    /// id and day (the simulated traffic, plus the silent gateway's, plus traffic a flow log
    /// missed on one gateway-day), the flow-logged part of each, and the price billed.
    #[serde(default)]
    pub cur_billed: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default)]
    pub cur_logged: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default)]
    pub cur_price_per_gb: f64,
}

/// Split a flow's bytes over the aggregation intervals of `interval` seconds it spans:
/// `(record start, record end, up, down)`, exact to the byte (remainders go to the last
/// interval).
pub fn intervals(f: &Flow, interval: super::Interval) -> Vec<(i64, i64, u64, u64)> {
    let interval = interval.seconds();
    let first = f.start.div_euclid(interval) * interval;
    let last_sec = f.start + f.secs.max(1) - 1;
    let last = last_sec.div_euclid(interval) * interval;
    let n = ((last - first) / interval + 1) as u64;
    let mut out = Vec::with_capacity(n as usize);
    for k in 0..n {
        let w = first + k as i64 * interval;
        let s = f.start.max(w);
        let e = (f.start + f.secs.max(1)).min(w + interval);
        let (mut u, mut d) = (f.up / n, f.down / n);
        if k == n - 1 {
            u += f.up % n;
            d += f.down % n;
        }
        out.push((s, e, u, d));
    }
    out
}

// ---- addresses: naive, independent classification of candidate remotes ----

#[derive(Deserialize)]
struct RangesDoc {
    prefixes: Vec<P4>,
}
#[derive(Deserialize)]
struct P4 {
    ip_prefix: String,
    region: String,
    service: String,
}

struct Naive {
    v4: Vec<(u32, u8, String, String)>,
}

impl Naive {
    fn load() -> Naive {
        let doc: RangesDoc =
            serde_json::from_slice(crate::classify::EMBEDDED).expect("embedded ranges parse");
        let v4 = doc
            .prefixes
            .into_iter()
            .map(|p| {
                let (a, l) = p.ip_prefix.split_once('/').expect("cidr");
                let a: Ipv4Addr = a.parse().expect("addr");
                (
                    u32::from(a),
                    l.parse::<u8>().expect("len"),
                    p.service,
                    p.region,
                )
            })
            .collect();
        Naive { v4 }
    }

    /// The class of an address, by a linear scan: longest prefix, then S3 > DYNAMODB >
    /// other services > AMAZON for the same prefix.
    fn class(&self, ip: u32) -> Class {
        let mut best: Option<(u8, u8, &str, &str)> = None;
        for (net, len, svc, reg) in &self.v4 {
            let mask = if *len == 0 { 0 } else { u32::MAX << (32 - len) };
            if ip & mask != *net {
                continue;
            }
            let rank = match svc.as_str() {
                "S3" => 3,
                "DYNAMODB" => 2,
                "AMAZON" => 0,
                _ => 1,
            };
            if best.is_none_or(|b| (*len, rank) > (b.0, b.1)) {
                best = Some((*len, rank, svc, reg));
            }
        }
        match best {
            None => Class::Internet,
            Some((_, _, "S3", REGION)) => Class::S3,
            Some((_, _, "S3", _)) => Class::S3OtherRegion,
            Some((_, _, "DYNAMODB", REGION)) => Class::Dynamodb,
            Some(_) => Class::AwsOther,
        }
    }

    fn pool(
        &self,
        rng: &mut Rng,
        want: Class,
        service: &str,
        region: &str,
        n: usize,
    ) -> Vec<IpAddr> {
        let cands: Vec<&(u32, u8, String, String)> = self
            .v4
            .iter()
            .filter(|p| p.2 == service && p.3 == region && p.1 >= 12)
            .collect();
        let mut out = Vec::new();
        let mut tries = 0;
        while out.len() < n && tries < 10_000 && !cands.is_empty() {
            tries += 1;
            let (net, len, _, _) = rng.pick(&cands);
            let size = 1u64 << (32 - *len as u32);
            let ip = net + rng.range(1, size.max(2)) as u32;
            if self.class(ip) == want {
                out.push(IpAddr::V4(Ipv4Addr::from(ip)));
            }
        }
        assert!(!out.is_empty(), "no {service}/{region} address found");
        out
    }

    fn internet_pool(&self, rng: &mut Rng, n: usize) -> Vec<IpAddr> {
        // blocks outside AWS (checked below): CDN and code-hosting providers
        let blocks: [(u32, u32); 4] = [
            (u32::from(Ipv4Addr::new(151, 101, 0, 0)), 16),
            (u32::from(Ipv4Addr::new(140, 82, 112, 0)), 12),
            (u32::from(Ipv4Addr::new(104, 16, 0, 0)), 16),
            (u32::from(Ipv4Addr::new(185, 199, 108, 0)), 10),
        ];
        let mut out = Vec::new();
        while out.len() < n {
            let (base, bits) = *rng.pick(&blocks);
            let ip = base + rng.range(1, 1 << bits) as u32;
            if self.class(ip) == Class::Internet {
                out.push(IpAddr::V4(Ipv4Addr::from(ip)));
            }
        }
        out
    }
}

struct Pools {
    s3: Vec<IpAddr>,
    dynamodb: Vec<IpAddr>,
    s3_other: Vec<IpAddr>,
    aws_other: Vec<IpAddr>,
    internet: Vec<IpAddr>,
}

impl Pools {
    fn of(&self, c: Class) -> &[IpAddr] {
        match c {
            Class::S3 => &self.s3,
            Class::Dynamodb => &self.dynamodb,
            Class::S3OtherRegion => &self.s3_other,
            Class::AwsOther => &self.aws_other,
            Class::Internet => &self.internet,
        }
    }
}

fn hex_id(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut s = String::from(prefix);
    while s.len() < prefix.len() + len {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(prefix.len() + len);
    s
}

/// Image layers per service: (layer count, min MiB, max MiB).
const IMAGES: [(u64, u64, u64); 3] = [(6, 2, 60), (4, 10, 120), (8, 5, 90)];
/// With [`Spec::reuse`]: image layers per service (count, min MiB, max MiB per layer), for
/// images of about 50 MB (web, smallest) to 2 GB (batch, largest).
const IMAGES_REUSE: [(u64, u64, u64); 3] = [(5, 10, 60), (6, 40, 170), (8, 60, 256)];
/// With [`Spec::reuse`]: addresses per subnet that tasks draw from, and how long an address
/// stays unused after its task stops before Fargate may hand it out again (seconds).
const POOL: u32 = 12;
const RELEASE: i64 = 60;
/// Task lifetime per service: (min, max) seconds.
const LIFETIMES: [(u64, u64); 3] = [(7_200, 28_800), (3_600, 14_400), (900, 2_700)];
/// Subnets each service's tasks run in.
const PLACEMENT: [&[usize]; 3] = [&[2, 3], &[2, 3, 4], &[4]];
/// App traffic mix per service: (class, weight, up range KiB, down range KiB).
type Mix = [(Class, u64, (u64, u64), (u64, u64)); 5];
const MIXES: [Mix; 3] = [
    [
        (Class::Internet, 30, (5, 50), (20, 2_000)),
        (Class::S3, 30, (10, 1_000), (100, 5_000)),
        (Class::Dynamodb, 20, (1, 50), (1, 50)),
        (Class::AwsOther, 15, (5, 50), (1, 5)),
        (Class::S3OtherRegion, 5, (1, 10), (100, 2_000)),
    ],
    [
        (Class::S3, 60, (1_000, 20_000), (1_000, 50_000)),
        (Class::Dynamodb, 20, (1, 100), (1, 100)),
        (Class::AwsOther, 10, (5, 50), (1, 5)),
        (Class::Internet, 8, (5, 50), (20, 500)),
        (Class::S3OtherRegion, 2, (1, 10), (100, 1_000)),
    ],
    [
        (Class::S3, 70, (10, 1_000), (5_000, 100_000)),
        (Class::AwsOther, 20, (5, 50), (1, 5)),
        (Class::Internet, 10, (5, 50), (20, 500)),
        (Class::Dynamodb, 0, (1, 2), (1, 2)),
        (Class::S3OtherRegion, 0, (1, 2), (1, 2)),
    ],
];

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

fn scaled(rng: &mut Rng, lo: u64, hi: u64, unit: u64, volume: f64) -> u64 {
    ((rng.range(lo * unit, hi * unit + 1) as f64) * volume)
        .round()
        .max(1.0) as u64
}

/// Build the world for a spec: fixed subnets, two NAT gateways and an instance, then each
/// day's Fargate tasks with their image pulls and application traffic, the instance's own
/// traffic, rejected scans, and NODATA/SKIPDATA windows. (Every random draw comes in the
/// same order for a seed: the files are the same byte for byte.)
pub fn build(spec: &Spec) -> World {
    let mut rng = Rng::new(spec.seed);
    let naive = Naive::load();
    let pools = Pools {
        s3: naive.pool(&mut rng, Class::S3, "S3", REGION, 24),
        dynamodb: naive.pool(&mut rng, Class::Dynamodb, "DYNAMODB", REGION, 8),
        s3_other: naive.pool(&mut rng, Class::S3OtherRegion, "S3", "eu-west-1", 8),
        aws_other: naive.pool(&mut rng, Class::AwsOther, "EC2", REGION, 12),
        internet: naive.internet_pool(&mut rng, 16),
    };
    let subnets = subnets();
    let mut enis = fixed_enis(&mut rng);
    let nats = vec![
        Nat {
            eni: 0,
            ip: enis[0].ip,
        },
        Nat {
            eni: 1,
            ip: enis[1].ip,
        },
    ];
    let instance = 2;
    let end = spec.start + spec.days as i64 * 86_400;
    let mut tasks = Vec::new();
    let mut flows = Vec::new();
    for day in 0..spec.days as i64 {
        let d0 = spec.start + day * 86_400;
        for _ in 0..spec.tasks_per_day {
            let mut place = Placing {
                rng: &mut rng,
                spec,
                pools: &pools,
                subnets: &subnets,
                enis: &mut enis,
                tasks: &mut tasks,
                flows: &mut flows,
            };
            place.task(d0, end);
        }
    }
    instance_traffic(&mut rng, spec, &pools, instance, end, &mut flows);
    scans(&mut rng, spec, &pools, instance, end, &mut flows);
    let status = statuses(&mut rng, spec, end);
    if spec.reuse {
        reuse_addresses(
            &mut enis,
            &tasks,
            &subnets,
            &mut Rng::new(spec.seed ^ 0x5eed),
        );
    }
    flows.sort_by_key(|f| (f.start, f.eni));
    World {
        spec: spec.clone(),
        subnets,
        enis,
        nats,
        tasks,
        flows,
        status,
        end,
    }
}

/// The VPC's subnets: two public ones with a NAT gateway each, three private ones routed
/// to them (one of them across AZs).
fn subnets() -> Vec<Subnet> {
    let ip = |a: u8, b: u8, c: u8, d: u8| u32::from(Ipv4Addr::new(a, b, c, d));
    vec![
        Subnet {
            id: "subnet-0a11aa11aa11aa11a".into(),
            az: "use1-az1",
            base: ip(10, 0, 0, 0),
            hosts: 256,
            nat: None,
        },
        Subnet {
            id: "subnet-0b22bb22bb22bb22b".into(),
            az: "use1-az2",
            base: ip(10, 0, 100, 0),
            hosts: 256,
            nat: None,
        },
        Subnet {
            id: "subnet-0c33cc33cc33cc33c".into(),
            az: "use1-az1",
            base: ip(10, 0, 16, 0),
            hosts: 4096,
            nat: Some(0),
        },
        Subnet {
            id: "subnet-0d44dd44dd44dd44d".into(),
            az: "use1-az2",
            base: ip(10, 0, 32, 0),
            hosts: 4096,
            nat: Some(1),
        },
        // az2 subnet whose route table points at the az1 NAT: cross-AZ charges
        Subnet {
            id: "subnet-0e55ee55ee55ee55e".into(),
            az: "use1-az2",
            base: ip(10, 0, 48, 0),
            hosts: 4096,
            nat: Some(0),
        },
    ]
}

/// The ENIs that live the whole run: the two NAT gateways' and the instance's.
fn fixed_enis(rng: &mut Rng) -> Vec<Eni> {
    vec![
        Eni {
            id: hex_id(rng, "eni-", 17),
            ip: Ipv4Addr::new(10, 0, 0, 10),
            subnet: 0,
            kind: EniKind::Nat(0),
        },
        Eni {
            id: hex_id(rng, "eni-", 17),
            ip: Ipv4Addr::new(10, 0, 100, 10),
            subnet: 1,
            kind: EniKind::Nat(1),
        },
        Eni {
            id: hex_id(rng, "eni-", 17),
            ip: Ipv4Addr::new(10, 0, 0, 50),
            subnet: 0,
            kind: EniKind::Instance,
        },
    ]
}

/// What a day's tasks are added to: the world's ENIs, tasks and flows so far.
struct Placing<'a> {
    rng: &'a mut Rng,
    spec: &'a Spec,
    pools: &'a Pools,
    subnets: &'a [Subnet],
    enis: &'a mut Vec<Eni>,
    tasks: &'a mut Vec<Task>,
    flows: &'a mut Vec<Flow>,
}

impl Placing<'_> {
    /// One Fargate task started on the day from `d0`: its ENI, its image pull (the manifest
    /// from the ECR API, the layers from S3) and its application traffic until it stops.
    fn task(&mut self, d0: i64, end: i64) {
        let (spec, pools, subnets) = (self.spec, self.pools, self.subnets);
        let rng = &mut *self.rng;
        let (enis, tasks, flows) = (&mut *self.enis, &mut *self.tasks, &mut *self.flows);
        let service = rng.range(0, 3) as usize;
        let subnet = *rng.pick(PLACEMENT[service]);
        let sn = &subnets[subnet];
        let host = sn.base + rng.range(4, sn.hosts as u64 - 1) as u32;
        let t0 = d0 + rng.range(900, 86_400 - 1_800) as i64;
        let (lo, hi) = match spec.reuse {
            false => LIFETIMES[service],
            true if rng.chance(0.5) => (300, 1_800),
            true => (3_600, 43_200),
        };
        let t1 = (t0 + rng.range(lo, hi) as i64).min(end - 60);
        let eni = enis.len();
        enis.push(Eni {
            id: hex_id(rng, "eni-", 17),
            ip: Ipv4Addr::from(host),
            subnet,
            kind: EniKind::Task(tasks.len()),
        });
        tasks.push(Task {
            id: hex_id(rng, "", 32),
            service,
            eni,
            start: t0,
            end: t1,
        });
        let nat = sn.nat;
        let endpoint_here = spec.endpoint_skips_subnet.as_deref() != Some(sn.id.as_str());
        let port = 32_768 + rng.range(0, 20_000) as u16;
        let mut conn = Conn {
            eni,
            nat,
            endpoint_here,
            port,
            spec,
            pools,
        };
        conn.image_pull(rng, flows, service, t0);
        conn.app_traffic(rng, flows, service, t0, t1);
    }
}

/// A task's connections: each a new local port, its remote picked from the class's pool,
/// through the task's NAT unless an S3 gateway endpoint takes it.
struct Conn<'a> {
    eni: usize,
    nat: Option<usize>,
    /// The task's subnet routes to the S3 gateway endpoint, once there is one.
    endpoint_here: bool,
    port: u16,
    spec: &'a Spec,
    pools: &'a Pools,
}

impl Conn<'_> {
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        rng: &mut Rng,
        flows: &mut Vec<Flow>,
        class: Class,
        start: i64,
        secs: i64,
        up: u64,
        down: u64,
        kind: Kind,
    ) {
        self.port = self.port.wrapping_add(1).max(1024);
        let via_endpoint = class == Class::S3
            && self.endpoint_here
            && self.spec.s3_endpoint_at.is_some_and(|t| start >= t);
        flows.push(Flow {
            eni: self.eni,
            remote: *rng.pick(self.pools.of(class)),
            remote_port: 443,
            local_port: self.port,
            class: Some(class),
            start,
            secs,
            up,
            down,
            via_nat: if via_endpoint { None } else { self.nat },
            via_endpoint,
            kind,
        });
    }

    /// The image pull of a task started at `t0`: the manifest from the ECR API, then the
    /// layers from S3.
    fn image_pull(&mut self, rng: &mut Rng, flows: &mut Vec<Flow>, service: usize, t0: i64) {
        let (spec, v) = (self.spec, self.spec.volume);
        // image pull: manifest from the ECR API, then the layers from S3
        let manifest = scaled(rng, 8, 30, KIB, v);
        self.open(
            rng,
            flows,
            Class::AwsOther,
            t0,
            2,
            2 * KIB,
            manifest,
            Kind::EcrApi,
        );
        let (n, lo_mb, hi_mb) = if spec.reuse {
            IMAGES_REUSE[service]
        } else {
            IMAGES[service]
        };
        for _ in 0..n {
            let size = scaled(rng, lo_mb, hi_mb, MIB, v);
            let start = t0 + rng.range(2, 20) as i64;
            let secs = (size / (40 * MIB)) as i64 + 1 + rng.range(0, 5) as i64;
            let req = scaled(rng, 2, 8, KIB, 1.0);
            self.open(rng, flows, Class::S3, start, secs, req, size, Kind::Layer);
        }
    }

    /// The application's traffic from soon after `t0` until the task stops at `t1`: its
    /// service's mix of classes, queue workers' S3 fetches, and internal chatter.
    fn app_traffic(
        &mut self,
        rng: &mut Rng,
        flows: &mut Vec<Flow>,
        service: usize,
        t0: i64,
        t1: i64,
    ) {
        let (spec, v) = (self.spec, self.spec.volume);
        let mix = &MIXES[service];
        // (in a busy service, the application starts talking while layers still arrive)
        let mut t = match spec.reuse {
            false => t0 + 60 + rng.range(0, 180) as i64,
            true => t0 + 5 + rng.range(0, 55) as i64,
        };
        while t < t1 {
            let (class, _, (ulo, uhi), (dlo, dhi)) = *pick(rng, mix);
            let up = scaled(rng, ulo, uhi, KIB, v);
            let down = scaled(rng, dlo, dhi, KIB, v);
            let secs = 1 + rng.range(0, 90) as i64;
            let secs = secs.min(t1 - t).max(1);
            self.open(rng, flows, class, t, secs, up, down, Kind::App);
            // (with reuse, half the AWS API calls are a queue poll that names an S3
            // object, fetched seconds later: after a quiet spell this looks like a task's
            // token, manifest and layers)
            if spec.reuse && class == Class::AwsOther && t + 30 < t1 && rng.chance(0.5) {
                self.queued_fetch(rng, flows, mix, t, t1);
            }
            if rng.chance(0.3) {
                flows.push(self.internal_chatter(rng, t));
            }
            t += rng.range(180, 720) as i64;
        }
    }

    /// The S3 object a queue poll at `t` named, fetched seconds later (before `t1`).
    fn queued_fetch(&mut self, rng: &mut Rng, flows: &mut Vec<Flow>, mix: &Mix, t: i64, t1: i64) {
        let v = self.spec.volume;
        let (_, _, (ulo, uhi), (dlo, dhi)) = *mix
            .iter()
            .find(|m| m.0 == Class::S3)
            .expect("every mix has S3");
        let up = scaled(rng, ulo, uhi, KIB, v);
        let down = scaled(rng, dlo, dhi, KIB, v);
        let at = t + 2 + rng.range(0, 28) as i64;
        let secs = (down / (40 * MIB)) as i64 + 1 + rng.range(0, 5) as i64;
        let secs = secs.min(t1 - at).max(1);
        self.open(rng, flows, Class::S3, at, secs, up, down, Kind::App);
    }

    /// Intra-VPC chatter at `t` with a shared internal service (no NAT, no class).
    fn internal_chatter(&self, rng: &mut Rng, t: i64) -> Flow {
        let v = self.spec.volume;
        Flow {
            eni: self.eni,
            remote: IpAddr::V4(Ipv4Addr::new(10, 0, 2, 5)),
            remote_port: 5432,
            local_port: 5_000 + rng.range(0, 1_000) as u16,
            class: None,
            start: t,
            secs: 5,
            up: scaled(rng, 1, 20, KIB, v),
            down: scaled(rng, 1, 200, KIB, v),
            via_nat: None,
            via_endpoint: false,
            kind: Kind::Internal,
        }
    }
}

/// A class of a service's mix, drawn by the mix's weights.
fn pick<'m>(rng: &mut Rng, mix: &'m Mix) -> &'m (Class, u64, (u64, u64), (u64, u64)) {
    let weights: u64 = mix.iter().map(|m| m.1).sum();
    let mut roll = rng.range(0, weights);
    for m in mix.iter() {
        if roll < m.1 {
            return m;
        }
        roll -= m.1;
    }
    &mix[0]
}

/// The EC2 instance with a public IP reaches S3 and the internet through the IGW.
fn instance_traffic(
    rng: &mut Rng,
    spec: &Spec,
    pools: &Pools,
    instance: usize,
    end: i64,
    flows: &mut Vec<Flow>,
) {
    let v = spec.volume;
    let mut t = spec.start + 300;
    while t < end - 120 {
        let class = if rng.chance(0.6) {
            Class::S3
        } else {
            Class::Internet
        };
        flows.push(Flow {
            eni: instance,
            remote: *rng.pick(pools.of(class)),
            remote_port: 443,
            local_port: 40_000 + rng.range(0, 9_999) as u16,
            class: Some(class),
            start: t,
            secs: 30,
            up: scaled(rng, 10, 100, KIB, v),
            down: scaled(rng, 100, 5_000, KIB, v),
            via_nat: None,
            via_endpoint: false,
            kind: Kind::App,
        });
        t += rng.range(600, 1_800) as i64;
    }
}

/// Rejected scans against the NATs and the instance.
fn scans(
    rng: &mut Rng,
    spec: &Spec,
    pools: &Pools,
    instance: usize,
    end: i64,
    flows: &mut Vec<Flow>,
) {
    let mut t = spec.start + 120;
    while t < end - 120 {
        let target = *rng.pick(&[0usize, 1, instance]);
        flows.push(Flow {
            eni: target,
            remote: *rng.pick(&pools.internet),
            remote_port: 50_000 + rng.range(0, 10_000) as u16,
            local_port: 22,
            class: None,
            start: t,
            secs: 1,
            up: 0,
            down: 40 + rng.range(0, 160),
            via_nat: None,
            via_endpoint: false,
            kind: Kind::Scan,
        });
        t += rng.range(900, 3_600) as i64;
    }
}

/// NODATA now and then on the NATs; one SKIPDATA a day on the second NAT.
fn statuses(rng: &mut Rng, spec: &Spec, end: i64) -> Vec<StatusRec> {
    let mut status = Vec::new();
    let mut t = spec.start + 3_600;
    while t < end {
        status.push(StatusRec {
            eni: rng.range(0, 2) as usize,
            start: t.div_euclid(spec.interval.seconds()) * spec.interval.seconds(),
            skip: false,
        });
        t += rng.range(3_600, 10_800) as i64;
    }
    for day in 0..spec.days as i64 {
        status.push(StatusRec {
            eni: 1,
            start: spec.start + day * 86_400 + 43_200,
            skip: true,
        });
    }
    status
}

/// Give the tasks, in the order they start, addresses from a pool of [`POOL`] per subnet: a
/// free one at random (free: its last task stopped [`RELEASE`] seconds ago or more), or, when
/// all are taken, the next address of the subnet beyond the pool.
fn reuse_addresses(enis: &mut [Eni], tasks: &[Task], subnets: &[Subnet], rng: &mut Rng) {
    let mut order: Vec<&Task> = tasks.iter().collect();
    order.sort_by_key(|t| (t.start, t.eni));
    // per subnet: (address, busy until)
    let mut pools: Vec<Vec<(Ipv4Addr, i64)>> = subnets
        .iter()
        .map(|sn| {
            (0..POOL.min(sn.hosts - 8))
                .map(|i| (Ipv4Addr::from(sn.base + 4 + i), i64::MIN))
                .collect()
        })
        .collect();
    for t in order {
        let subnet = enis[t.eni].subnet;
        let pool = &mut pools[subnet];
        let free: Vec<usize> = (0..pool.len())
            .filter(|&i| pool[i].1 + RELEASE <= t.start)
            .collect();
        let i = if free.is_empty() {
            let sn = &subnets[subnet];
            pool.push((Ipv4Addr::from(sn.base + 4 + pool.len() as u32), i64::MIN));
            pool.len() - 1
        } else {
            *rng.pick(&free)
        };
        pool[i].1 = t.end;
        enis[t.eni].ip = pool[i].0;
    }
}

impl World {
    /// The tasks as `aws ecs describe-tasks` prints them (CLI v2 timestamps): service group,
    /// times, and the ENI attachment with its id and private address.
    pub fn describe_tasks(&self) -> serde_json::Value {
        let at = |t: i64| {
            let s = crate::time::format_instant(t);
            format!("{}.000000+00:00", s.trim_end_matches('Z'))
        };
        let tasks: Vec<serde_json::Value> = self
            .tasks
            .iter()
            .map(|t| {
                let eni = &self.enis[t.eni];
                serde_json::json!({
                    "taskArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{}", t.id),
                    "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"),
                    "group": format!("service:{}", SERVICES[t.service]),
                    "launchType": "FARGATE",
                    "lastStatus": "STOPPED",
                    "createdAt": at(t.start - 20),
                    "pullStartedAt": at(t.start),
                    "startedAt": at(t.start + 60),
                    "stoppedAt": at(t.end),
                    "attachments": [{
                        "type": "ElasticNetworkInterface",
                        "status": "DELETED",
                        "details": [
                            {"name": "subnetId", "value": self.subnets[eni.subnet].id},
                            {"name": "networkInterfaceId", "value": eni.id},
                            {"name": "privateIPv4Address", "value": eni.ip.to_string()},
                        ],
                    }],
                })
            })
            .collect();
        serde_json::json!({ "tasks": tasks, "failures": [] })
    }

    /// The true answer.
    pub fn truth(&self) -> Truth {
        let mut t = self.settings_truth();
        let mut pulled = std::collections::BTreeSet::new();
        for f in &self.flows {
            self.tally(&mut t, f, &mut pulled);
        }
        t.ecr_pulls = pulled.len() as u64;
        t.nat_total = t.nat.total();
        self.inventory_truth(&mut t);
        self.bill_truth(&mut t);
        t
    }

    /// The truth's settings and counts of the world as made, its sums all zero.
    fn settings_truth(&self) -> Truth {
        Truth {
            seed: self.spec.seed,
            fields: self.spec.fields,
            nat_only: self.spec.nat_only,
            address_reuse: self.spec.reuse,
            region: REGION.into(),
            nat_enis: self
                .nats
                .iter()
                .map(|n| self.enis[n.eni].id.clone())
                .collect(),
            nat_ips: self.nats.iter().map(|n| n.ip.to_string()).collect(),
            start: self.spec.start,
            end: self.end,
            nat: ClassBytes::default(),
            nat_total: 0,
            nat_by_day: BTreeMap::new(),
            nat_by_gateway: BTreeMap::new(),
            nat_by_subnet: BTreeMap::new(),
            ecr_layer_bytes: 0,
            ecr_pulls: 0,
            ecr_by_service: BTreeMap::new(),
            tasks: self.tasks.len() as u64,
            cross_az_bytes: 0,
            s3_not_via_nat: 0,
            s3_endpoint_at: self.spec.s3_endpoint_at,
            endpoint_skips_subnet: self.spec.endpoint_skips_subnet.clone(),
            s3_via_endpoint: 0,
            nat_s3_after_endpoint_by_subnet: BTreeMap::new(),
            nat_gateway_ids: BTreeMap::new(),
            silent_nat_gateway: String::new(),
            s3_plan_by_route_table: BTreeMap::new(),
            cur_billed: BTreeMap::new(),
            cur_logged: BTreeMap::new(),
            cur_price_per_gb: 0.0,
            rejected_records: 0,
            nodata_records: self.status.iter().filter(|s| !s.skip).count() as u64,
            skipdata_records: self.status.iter().filter(|s| s.skip).count() as u64,
        }
    }

    /// A flow's part of the truth: a scan's rejected records; the S3 bytes of a flow that
    /// takes no NAT (by an endpoint or not); a NAT flow's bytes by class, day, gateway and
    /// subnet, and what the endpoint, the zones and the image pulls make of them. `pulled`
    /// gathers the tasks that pulled a layer.
    fn tally(&self, t: &mut Truth, f: &Flow, pulled: &mut std::collections::BTreeSet<usize>) {
        if f.kind == Kind::Scan {
            t.rejected_records += intervals(f, self.spec.interval)
                .iter()
                .filter(|i| i.3 > 0)
                .count() as u64;
            return;
        }
        let Some(class) = f.class else { return };
        let Some(nat) = f.via_nat else {
            if class == Class::S3 {
                t.s3_not_via_nat += f.up + f.down;
            }
            if f.via_endpoint {
                t.s3_via_endpoint += f.up + f.down;
            }
            return;
        };
        let eni = &self.enis[f.eni];
        let nat_eni = &self.enis[self.nats[nat].eni];
        let subnet = &self.subnets[eni.subnet].id;
        for (s, _, u, d) in intervals(f, self.spec.interval) {
            let day = crate::analysis::day_string(s.div_euclid(86_400) as u32);
            for cb in [
                &mut t.nat,
                t.nat_by_day.entry(day).or_default(),
                t.nat_by_gateway.entry(nat_eni.id.clone()).or_default(),
                t.nat_by_subnet.entry(subnet.clone()).or_default(),
            ] {
                let ud = cb.get_mut(class);
                ud.upload += u;
                ud.download += d;
            }
        }
        if class == Class::S3 && self.spec.s3_endpoint_at.is_some_and(|at| f.start >= at) {
            *t.nat_s3_after_endpoint_by_subnet
                .entry(subnet.clone())
                .or_insert(0) += f.up + f.down;
        }
        if self.subnets[eni.subnet].az != self.subnets[nat_eni.subnet].az {
            t.cross_az_bytes += f.up + f.down;
        }
        if f.kind == Kind::Layer {
            t.ecr_layer_bytes += f.down;
            if let EniKind::Task(i) = eni.kind {
                pulled.insert(i);
                *t.ecr_by_service
                    .entry(SERVICES[self.tasks[i].service].to_string())
                    .or_insert(0) += f.down;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_drawn_by_its_weights() {
        let mut rng = Rng::new(17);
        let mix = MIXES[0];
        let total: u64 = mix.iter().map(|m| m.1).sum();
        let draws = 100_000u64;
        let mut seen = [0u64; 5];
        for _ in 0..draws {
            let m = pick(&mut rng, &mix);
            seen[mix.iter().position(|x| x.0 == m.0).unwrap()] += 1;
        }
        for (m, &n) in mix.iter().zip(&seen) {
            let expected = draws * m.1 / total;
            assert!(
                n.abs_diff(expected) * 20 < expected,
                "{:?}: {n} of {expected}",
                m.0
            );
        }
        // a class of no weight is never drawn; the only weighted one always is
        let mut only = mix;
        for m in only.iter_mut() {
            m.1 = u64::from(m.0 == Class::Dynamodb);
        }
        assert!((0..1_000).all(|_| pick(&mut rng, &only).0 == Class::Dynamodb));
    }
}
