//! Classify stage: AWS's published `ip-ranges.json` as a longest-prefix-match table, and the
//! mapping of a remote address to the report's destination classes (ACCOUNTING.md §4).
//!
//! All prefixes (nested or not) are flattened once into disjoint intervals, each labelled
//! with the most specific prefix covering it; a lookup is a binary search over interval
//! starts (IPv4 narrowed first by a 65,536-entry index on the top 16 bits), with no
//! allocation. For the same CIDR listed under several services, `S3` beats `DYNAMODB`,
//! which beats any other named service, which beats `AMAZON`.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;

/// Where AWS publishes ip-ranges.json.
pub const IP_RANGES_URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";

/// The ip-ranges snapshot shipped with the binary (AWS public data, see sample-data/).
pub const EMBEDDED: &[u8] = include_bytes!("../sample-data/ip-ranges.json");

/// The SHA-256 of [`EMBEDDED`], written down so that a run does not hash 1.8 MB at every
/// start (a test checks it; a new snapshot needs the new digest here).
const EMBEDDED_SHA256: &str = "752894ac9db21ac9e4c274246f43f3c4b0257eb0b098b0420160db10e756c965";

named_enum!(
    /// Where remote bytes go, in the report's words.
    #[derive(Hash, PartialOrd, Ord)]
    Class {
        /// S3 in the NAT's own region: removable by an S3 gateway endpoint.
        S3 = "s3",
        /// DynamoDB in the NAT's own region: removable by a DynamoDB gateway endpoint.
        Dynamodb = "dynamodb",
        /// S3 in another region (or `GLOBAL`): no gateway endpoint helps.
        S3OtherRegion = "s3-other-region",
        /// Any other AWS range: interface-endpoint candidates.
        AwsOther = "aws-other",
        /// Everything else.
        Internet = "internet",
    }
);

impl Class {
    pub const ALL: [Class; 5] = [
        Class::S3,
        Class::Dynamodb,
        Class::S3OtherRegion,
        Class::AwsOther,
        Class::Internet,
    ];
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What ip-ranges says of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RangeInfo {
    pub service: u16,
    pub region: u16,
}

/// Errors loading an ip-ranges file.
#[derive(Debug, thiserror::Error)]
pub enum RangesError {
    #[error("{source_name}: not an ip-ranges.json document: {err}")]
    Json {
        source_name: String,
        err: serde_json::Error,
    },
    #[error("{source_name}: bad prefix `{prefix}`")]
    Prefix { source_name: String, prefix: String },
    #[error("{source_name}: no prefixes")]
    Empty { source_name: String },
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(rename = "syncToken")]
    sync_token: String,
    #[serde(rename = "createDate")]
    create_date: String,
    #[serde(borrow)]
    prefixes: Vec<P4<'a>>,
    #[serde(borrow, default)]
    ipv6_prefixes: Vec<P6<'a>>,
}
#[derive(Deserialize)]
struct P4<'a> {
    ip_prefix: &'a str,
    region: &'a str,
    service: &'a str,
}
#[derive(Deserialize)]
struct P6<'a> {
    ipv6_prefix: &'a str,
    region: &'a str,
    service: &'a str,
}

const NONE: u32 = u32::MAX;

/// Disjoint intervals `[starts[i], starts[i+1])` labelled `labels[i]` (`NONE` = not AWS).
#[derive(Clone)]
struct Table<K> {
    starts: Vec<K>,
    labels: Vec<u32>,
}

impl<K: Copy + Ord> Table<K> {
    fn find(&self, ip: K, lo: usize, hi: usize) -> u32 {
        let i = lo + self.starts[lo..hi].partition_point(|&s| s <= ip);
        self.labels[i - 1]
    }
}

/// Flatten possibly nested inclusive ranges `(lo, hi, label)` into change points.
fn flatten(mut ranges: Vec<(u128, u128, u32)>, max: u128) -> (Vec<u128>, Vec<u32>) {
    ranges.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut points: Vec<(u128, u32)> = vec![(0, NONE)];
    let mut stack: Vec<(u128, u32)> = Vec::new();
    let close = |stack: &mut Vec<(u128, u32)>, points: &mut Vec<(u128, u32)>| {
        let (hi, _) = stack.pop().expect("non-empty");
        if hi < max {
            points.push((hi + 1, stack.last().map_or(NONE, |t| t.1)));
        }
    };
    for (lo, hi, label) in ranges {
        while stack.last().is_some_and(|t| t.0 < lo) {
            close(&mut stack, &mut points);
        }
        points.push((lo, label));
        stack.push((hi, label));
    }
    while !stack.is_empty() {
        close(&mut stack, &mut points);
    }
    // Keep the last label per start, then merge neighbours with equal labels.
    let mut starts: Vec<u128> = Vec::with_capacity(points.len());
    let mut labels: Vec<u32> = Vec::with_capacity(points.len());
    for (s, l) in points {
        if starts.last() == Some(&s) {
            *labels.last_mut().expect("parallel") = l;
        } else {
            starts.push(s);
            labels.push(l);
        }
    }
    let mut out_s = Vec::with_capacity(starts.len());
    let mut out_l: Vec<u32> = Vec::with_capacity(labels.len());
    for (s, l) in starts.into_iter().zip(labels) {
        if out_l.last() != Some(&l) {
            out_s.push(s);
            out_l.push(l);
        }
    }
    (out_s, out_l)
}

/// A loaded ip-ranges document, ready for lookups.
#[derive(Clone)]
pub struct IpRanges {
    pub source: String,
    pub sync_token: String,
    pub create_date: String,
    /// SHA-256 of the document, hex: which document exactly (partial results must agree).
    pub digest: String,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    infos: Vec<RangeInfo>,
    v4: Table<u32>,
    v4_index: Vec<u32>,
    v6: Table<u128>,
    s3: Option<u16>,
    dynamodb: Option<u16>,
    /// Prefix counts: (IPv4, IPv6).
    pub prefix_counts: (usize, usize),
    /// Prefixes per service: (service, IPv4, IPv6), by name.
    pub service_counts: Vec<(String, usize, usize)>,
    /// Regions with S3 prefixes.
    pub s3_regions: Vec<String>,
}

fn rank(service: &str) -> u8 {
    match service {
        "S3" => 3,
        "DYNAMODB" => 2,
        "AMAZON" => 0,
        _ => 1,
    }
}

impl IpRanges {
    /// The snapshot embedded in the binary.
    pub fn embedded() -> IpRanges {
        IpRanges::parse_known(EMBEDDED, "embedded snapshot", EMBEDDED_SHA256.to_string())
            .expect("the embedded ip-ranges.json is valid")
    }

    /// Parse an ip-ranges.json document.
    pub fn parse(json: &[u8], source_name: &str) -> Result<IpRanges, RangesError> {
        Self::parse_known(json, source_name, crate::partial::sha256_hex(json))
    }

    /// [`IpRanges::parse`] of a document whose digest is known.
    fn parse_known(
        json: &[u8],
        source_name: &str,
        digest: String,
    ) -> Result<IpRanges, RangesError> {
        let doc: Doc = serde_json::from_slice(json).map_err(|err| RangesError::Json {
            source_name: source_name.to_string(),
            err,
        })?;
        let labels = Labels::of(&doc, source_name)?;
        if labels.best.is_empty() {
            return Err(RangesError::Empty {
                source_name: source_name.to_string(),
            });
        }
        let (service_counts, s3_regions) = service_counts(&doc);
        let Labels {
            best,
            services,
            regions,
        } = labels;
        let Tables {
            infos,
            v4,
            v4_index,
            v6,
        } = Tables::of(best);
        let named = |name: &str| services.iter().position(|s| s == name).map(|i| i as u16);
        Ok(IpRanges {
            source: source_name.to_string(),
            sync_token: doc.sync_token,
            create_date: doc.create_date,
            digest,
            s3: named("S3"),
            dynamodb: named("DYNAMODB"),
            services,
            regions,
            infos,
            v4,
            v4_index,
            v6,
            prefix_counts: (doc.prefixes.len(), doc.ipv6_prefixes.len()),
            service_counts,
            s3_regions,
        })
    }

    /// The most specific range covering `ip`, if any.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<RangeInfo> {
        let label = match ip {
            IpAddr::V4(a) => {
                let x = u32::from(a);
                let top = (x >> 16) as usize;
                // intervals starting inside this /16, else the one open at its beginning
                self.v4.find(
                    x,
                    self.v4_index[top] as usize,
                    self.v4_index[top + 1] as usize,
                )
            }
            IpAddr::V6(a) => match crate::format::nat64_v4(&ip) {
                // a NAT64 address: the IPv4 remote it stands for
                Some(v4) => return self.lookup(IpAddr::V4(v4)),
                None => self.v6.find(u128::from(a), 0, self.v6.starts.len()),
            },
        };
        (label != NONE).then(|| self.infos[label as usize])
    }

    /// Region id of a region name, if ip-ranges knows the region.
    pub fn region_id(&self, name: &str) -> Option<u16> {
        self.regions
            .iter()
            .position(|r| r == name)
            .map(|i| i as u16)
    }

    /// The class of a public remote for a NAT in region `nat_region`.
    #[inline]
    pub fn classify(&self, ip: IpAddr, nat_region: Option<u16>) -> Class {
        self.class_of(self.lookup(ip), nat_region)
    }

    /// The class of a remote that [`IpRanges::lookup`] found to be `info`.
    #[inline]
    pub fn class_of(&self, info: Option<RangeInfo>, nat_region: Option<u16>) -> Class {
        match info {
            None => Class::Internet,
            Some(info) => {
                let same = nat_region == Some(info.region);
                if Some(info.service) == self.s3 {
                    if same {
                        Class::S3
                    } else {
                        Class::S3OtherRegion
                    }
                } else if Some(info.service) == self.dynamodb && same {
                    Class::Dynamodb
                } else {
                    Class::AwsOther
                }
            }
        }
    }

    /// Whether an address is in an S3 range of any region (so the NAT's region matters).
    pub fn is_s3(&self, ip: IpAddr) -> bool {
        self.is_s3_info(self.lookup(ip))
    }

    /// [`IpRanges::is_s3`] of an address that [`IpRanges::lookup`] found to be `info`.
    #[inline]
    pub fn is_s3_info(&self, info: Option<RangeInfo>) -> bool {
        info.is_some_and(|i| Some(i.service) == self.s3)
    }

    /// Name of the service of an info.
    pub fn service_name(&self, info: RangeInfo) -> &str {
        &self.services[info.service as usize]
    }
    /// Name of the region of an info.
    pub fn region_name(&self, info: RangeInfo) -> &str {
        &self.regions[info.region as usize]
    }
}

/// The last lookups in one ip-ranges document, by address: remotes repeat within an input and
/// from input to input, so a thread keeps one cache for all the inputs it reads (the
/// [`crate::account::Accumulator`]'s), and this table stays in the processor's caches where
/// the ranges' index does not. Direct-mapped: an address has one slot, and a new one takes it.
#[derive(Clone, Default)]
pub struct LookupCache {
    /// The document the answers come from ([`IpRanges::digest`]): the same digest, the same
    /// document, the same answers.
    digest: String,
    /// [`LOOKUP_SLOTS`] slots (none in the placeholder [`LookupCache::default`]).
    slots: Vec<(IpAddr, Option<RangeInfo>)>,
}

impl std::fmt::Debug for LookupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupCache")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

const LOOKUP_SLOTS: usize = 1 << LOOKUP_BITS;
const LOOKUP_BITS: u32 = 12;

impl LookupCache {
    /// An empty cache for `ranges`: each slot starts as one true lookup (of `0.0.0.0`), so
    /// no slot ever answers for an address it was not given.
    pub fn new(ranges: &IpRanges) -> LookupCache {
        let zero = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        LookupCache {
            digest: ranges.digest.clone(),
            slots: vec![(zero, ranges.lookup(zero)); LOOKUP_SLOTS],
        }
    }

    /// This cache, if its answers are `ranges`' ones; else a new cache for `ranges`.
    pub fn for_ranges(self, ranges: &IpRanges) -> LookupCache {
        match self.slots.len() == LOOKUP_SLOTS && self.digest == ranges.digest {
            true => self,
            false => LookupCache::new(ranges),
        }
    }

    /// [`IpRanges::lookup`], remembered.
    #[inline]
    pub fn lookup(&mut self, ranges: &IpRanges, ip: &IpAddr) -> Option<RangeInfo> {
        let h = match *ip {
            IpAddr::V4(a) => u32::from(a).wrapping_mul(0x9E37_79B1),
            IpAddr::V6(a) => {
                let x = u128::from(a);
                ((x >> 64) as u64 ^ x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as u32
            }
        };
        let slot = &mut self.slots[(h >> (32 - LOOKUP_BITS)) as usize];
        if slot.0 != *ip {
            *slot = miss(ranges, ip);
        }
        slot.1
    }
}

/// An address the cache does not hold: looked up.
#[cold]
#[inline(never)]
fn miss(ranges: &IpRanges, ip: &IpAddr) -> (IpAddr, Option<RangeInfo>) {
    (*ip, ranges.lookup(*ip))
}

/// The label of each CIDR of a document: of the services that list it, the most specific
/// ([`rank`]; among equals the one named first), with its region; and the service and region
/// names the labels number, in the order the document first names them.
struct Labels {
    /// `(first, last, is IPv6)` → `(rank, service, region)`.
    best: HashMap<(u128, u128, bool), (u8, u16, u16)>,
    services: Vec<String>,
    regions: Vec<String>,
}

impl Labels {
    fn of(doc: &Doc<'_>, source_name: &str) -> Result<Labels, RangesError> {
        let mut labels = Labels {
            best: HashMap::default(),
            services: Vec::new(),
            regions: Vec::new(),
        };
        let mut svc_ids: HashMap<&str, u16> = HashMap::default();
        let mut reg_ids: HashMap<&str, u16> = HashMap::default();
        let bad = |p: &str| RangesError::Prefix {
            source_name: source_name.to_string(),
            prefix: p.to_string(),
        };
        let v4 = (doc.prefixes.iter()).map(|p| {
            let net: Ipv4Net = p.ip_prefix.parse().map_err(|_| bad(p.ip_prefix))?;
            let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
            Ok(((lo as u128, hi as u128, false), p.service, p.region))
        });
        let v6 = (doc.ipv6_prefixes.iter()).map(|p| {
            let net: Ipv6Net = p.ipv6_prefix.parse().map_err(|_| bad(p.ipv6_prefix))?;
            let (lo, hi) = (u128::from(net.network()), u128::from(net.broadcast()));
            Ok(((lo, hi, true), p.service, p.region))
        });
        for prefix in v4.chain(v6) {
            let (key, service, region) = prefix?;
            let svc = intern(&mut svc_ids, &mut labels.services, service);
            let reg = intern(&mut reg_ids, &mut labels.regions, region);
            let r = rank(service);
            let e = labels.best.entry(key).or_insert((r, svc, reg));
            if r > e.0 || (r == e.0 && svc < e.1) {
                *e = (r, svc, reg);
            }
        }
        Ok(labels)
    }
}

/// Prefixes per service, `(service, IPv4, IPv6)` by name, and the regions with S3 prefixes,
/// by name.
fn service_counts(doc: &Doc<'_>) -> (Vec<(String, usize, usize)>, Vec<String>) {
    let mut per_service: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut s3_regions: std::collections::BTreeSet<&str> = Default::default();
    let v4 = doc.prefixes.iter().map(|p| (p.service, p.region, false));
    let v6 = doc
        .ipv6_prefixes
        .iter()
        .map(|p| (p.service, p.region, true));
    for (service, region, is_v6) in v4.chain(v6) {
        let counts = per_service.entry(service).or_default();
        match is_v6 {
            false => counts.0 += 1,
            true => counts.1 += 1,
        }
        if service == "S3" {
            s3_regions.insert(region);
        }
    }
    let counts = (per_service.into_iter())
        .map(|(s, (a, b))| (s.to_string(), a, b))
        .collect();
    (counts, s3_regions.into_iter().map(String::from).collect())
}

/// The lookup tables of labelled CIDRs: each distinct `(service, region)` once, and the
/// IPv4 and IPv6 address lines cut into disjoint intervals labelled by the most specific
/// CIDR over them ([`flatten`]), IPv4's with an index of where each /16 starts.
struct Tables {
    infos: Vec<RangeInfo>,
    v4: Table<u32>,
    v4_index: Vec<u32>,
    v6: Table<u128>,
}

impl Tables {
    fn of(best: HashMap<(u128, u128, bool), (u8, u16, u16)>) -> Tables {
        let mut infos: Vec<RangeInfo> = Vec::new();
        let mut info_ids: HashMap<RangeInfo, u32> = HashMap::default();
        let mut r4 = Vec::new();
        let mut r6 = Vec::new();
        for ((lo, hi, v6), (_, service, region)) in best {
            let info = RangeInfo { service, region };
            let id = *info_ids.entry(info).or_insert_with(|| {
                infos.push(info);
                (infos.len() - 1) as u32
            });
            match v6 {
                true => r6.push((lo, hi, id)),
                false => r4.push((lo, hi, id)),
            }
        }
        let (s4, l4) = flatten(r4, u32::MAX as u128);
        let (s6, l6) = flatten(r6, u128::MAX);
        let v4 = Table {
            starts: s4.into_iter().map(|s| s as u32).collect(),
            labels: l4,
        };
        let v4_index = (0..=65536u64)
            .map(|top| {
                let first = top << 16;
                v4.starts.partition_point(|&s| (s as u64) < first) as u32
            })
            .collect();
        let v6 = Table {
            starts: s6,
            labels: l6,
        };
        Tables {
            infos,
            v4,
            v4_index,
            v6,
        }
    }
}

fn intern<'a>(map: &mut HashMap<&'a str, u16>, names: &mut Vec<String>, s: &'a str) -> u16 {
    *map.entry(s).or_insert_with(|| {
        names.push(s.to_string());
        (names.len() - 1) as u16
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v4: &[(&str, &str, &str)], v6: &[(&str, &str, &str)]) -> Vec<u8> {
        let p: Vec<_> = v4
            .iter()
            .map(|(p, r, s)| serde_json::json!({"ip_prefix": p, "region": r, "service": s, "network_border_group": r}))
            .collect();
        let p6: Vec<_> = v6
            .iter()
            .map(|(p, r, s)| serde_json::json!({"ipv6_prefix": p, "region": r, "service": s, "network_border_group": r}))
            .collect();
        serde_json::to_vec(&serde_json::json!({"syncToken": "1", "createDate": "2026-01-01-00-00-00", "prefixes": p, "ipv6_prefixes": p6})).unwrap()
    }

    use proptest::prelude::*;

    proptest! {
        /// The cache answers what the ranges answer, for addresses that collide in its slots,
        /// repeat, and include `0.0.0.0` under a range that covers it; carried from one
        /// document to another, it answers what the other answers.
        #[test]
        fn cached_lookups_are_the_lookups(
            ips in proptest::collection::vec(
                prop_oneof![
                    (0u32..4096).prop_map(|x| IpAddr::from(std::net::Ipv4Addr::from(0x34D8_0000 + x * 97))),
                    any::<u32>().prop_map(|x| IpAddr::from(std::net::Ipv4Addr::from(x))),
                    Just("0.0.0.0".parse::<IpAddr>().unwrap()),
                    (0u16..64).prop_map(|x| IpAddr::from(std::net::Ipv6Addr::new(0x2600, 0x1f18, x, 0, 0, 0, 0, 1))),
                ],
                1..600,
            ),
            everything in proptest::bool::ANY,
        ) {
            let mut v4 = vec![("52.216.0.0/15", "us-east-1", "S3"), ("52.217.4.0/24", "eu-west-1", "AMAZON")];
            if everything {
                v4.push(("0.0.0.0/0", "GLOBAL", "AMAZON"));
            }
            let r = IpRanges::parse(&doc(&v4, &[("2600:1f18::/36", "us-east-1", "S3")]), "t").unwrap();
            let mut cache = LookupCache::new(&r);
            for ip in &ips {
                prop_assert_eq!(cache.lookup(&r, ip), r.lookup(*ip), "{}", ip);
            }
            // carried to the next input: kept for the same document, and for another one
            // (its S3 range moved to another region) replaced, never answering from the first
            let same = IpRanges::parse(&doc(&v4, &[("2600:1f18::/36", "us-east-1", "S3")]), "u").unwrap();
            let mut cache = cache.for_ranges(&same);
            for ip in &ips {
                prop_assert_eq!(cache.lookup(&same, ip), same.lookup(*ip), "{}", ip);
            }
            v4[0].1 = "eu-central-1";
            let other = IpRanges::parse(&doc(&v4, &[("2600:1f18::/36", "us-east-1", "S3")]), "t").unwrap();
            let mut cache = cache.for_ranges(&other);
            for ip in &ips {
                prop_assert_eq!(cache.lookup(&other, ip), other.lookup(*ip), "{}", ip);
            }
            // the placeholder an accumulator holds while its sink has the cache is never used
            let mut fresh = LookupCache::default().for_ranges(&r);
            prop_assert_eq!(fresh.lookup(&r, &ips[0]), r.lookup(ips[0]));
        }
    }

    #[test]
    fn longest_prefix_and_service_priority() {
        let r = IpRanges::parse(
            &doc(
                &[
                    ("52.216.0.0/15", "us-east-1", "AMAZON"),
                    ("52.216.0.0/15", "us-east-1", "S3"),
                    ("52.216.0.0/15", "us-east-1", "EC2"),
                    ("52.217.4.0/24", "us-east-1", "AMAZON"),
                    ("52.217.4.128/25", "eu-west-1", "DYNAMODB"),
                    ("3.5.0.0/16", "eu-west-1", "S3"),
                    ("255.255.255.0/24", "GLOBAL", "AMAZON"),
                ],
                &[
                    ("2600:1f18::/33", "us-east-1", "S3"),
                    ("2600:1f18:4000::/36", "us-east-1", "DYNAMODB"),
                ],
            ),
            "t",
        )
        .unwrap();
        let east = r.region_id("us-east-1");
        let c = |s: &str| r.classify(s.parse().unwrap(), east);
        assert_eq!(c("52.216.1.1"), Class::S3);
        assert_eq!(c("52.217.255.255"), Class::S3);
        assert_eq!(c("52.217.4.1"), Class::AwsOther);
        assert_eq!(
            c("52.217.4.200"),
            Class::AwsOther,
            "DynamoDB in another region"
        );
        assert_eq!(c("52.217.5.0"), Class::S3, "back in the outer prefix");
        assert_eq!(c("52.218.0.0"), Class::Internet);
        assert_eq!(c("52.215.255.255"), Class::Internet);
        assert_eq!(c("3.5.1.1"), Class::S3OtherRegion);
        assert_eq!(c("255.255.255.255"), Class::AwsOther);
        assert_eq!(c("0.0.0.0"), Class::Internet);
        assert_eq!(c("2600:1f18::1"), Class::S3);
        assert_eq!(c("2600:1f18:4000::1"), Class::Dynamodb);
        assert_eq!(c("2600:1f18:5000::1"), Class::S3);
        assert_eq!(c("2600:1f19::1"), Class::Internet);
        assert_eq!(
            r.classify("52.216.1.1".parse().unwrap(), None),
            Class::S3OtherRegion
        );
        // a NAT64 address is the IPv4 remote it holds in its last 32 bits
        assert_eq!(c("64:ff9b::34d8:101"), Class::S3, "52.216.1.1");
        assert_eq!(c("64:ff9b::305:101"), Class::S3OtherRegion, "3.5.1.1");
        assert_eq!(c("64:ff9b::34da:1"), Class::Internet, "52.218.0.1");
        assert_eq!(c("64:ff9b:1::34d8:101"), Class::Internet, "not the /96");
        let mut cache = LookupCache::new(&r);
        let ip = "64:ff9b::34d8:101".parse().unwrap();
        assert_eq!(
            cache.lookup(&r, &ip),
            r.lookup("52.216.1.1".parse().unwrap())
        );
    }

    /// A CIDR's label is its most specific service (S3 over DynamoDB over any other over
    /// AMAZON), the first named among others of one rank, with that listing's region; names
    /// are numbered as the document first gives them, IPv4's before IPv6's.
    #[test]
    fn labels_take_the_most_specific_service_of_a_cidr() {
        let json = doc(
            &[
                ("10.0.0.0/8", "r-a", "AMAZON"),
                ("10.0.0.0/8", "r-b", "EC2"),
                ("10.0.0.0/8", "r-c", "ROUTE53"),
                ("10.0.0.0/8", "r-d", "AMAZON"),
                ("11.0.0.0/8", "r-a", "DYNAMODB"),
                ("11.0.0.0/8", "r-b", "S3"),
                ("11.0.0.0/8", "r-c", "EC2"),
            ],
            &[("2600::/16", "r-e", "AMAZON"), ("2600::/16", "r-f", "S3")],
        );
        let parsed: Doc = serde_json::from_slice(&json).unwrap();
        let l = Labels::of(&parsed, "t").unwrap();
        assert_eq!(l.services, ["AMAZON", "EC2", "ROUTE53", "DYNAMODB", "S3"]);
        assert_eq!(l.regions, ["r-a", "r-b", "r-c", "r-d", "r-e", "r-f"]);
        let label = |lo: u128, hi: u128, v6: bool| {
            let (_, svc, reg) = l.best[&(lo, hi, v6)];
            (
                l.services[svc as usize].as_str(),
                l.regions[reg as usize].as_str(),
            )
        };
        assert_eq!(label(10 << 24, (11 << 24) - 1, false), ("EC2", "r-b"));
        assert_eq!(label(11 << 24, (12 << 24) - 1, false), ("S3", "r-b"));
        let v6 = 0x2600u128 << 112;
        assert_eq!(label(v6, v6 | (u128::MAX >> 16), true), ("S3", "r-f"));
        assert_eq!(l.best.len(), 3);
        // a prefix that does not read is named, IPv6 too
        let json = doc(&[("10.0.0.0/8", "r", "S3")], &[("2600::/129", "r", "S3")]);
        let parsed: Doc = serde_json::from_slice(&json).unwrap();
        assert!(matches!(
            Labels::of(&parsed, "t"),
            Err(RangesError::Prefix { prefix, .. }) if prefix == "2600::/129"
        ));
    }

    /// Prefixes are counted per service and address family, and the regions with S3 ranges
    /// listed once each, by name.
    #[test]
    fn service_counts_count_each_family() {
        let json = doc(
            &[
                ("10.0.0.0/8", "us-east-1", "S3"),
                ("11.0.0.0/8", "eu-west-1", "S3"),
                ("12.0.0.0/8", "us-east-1", "S3"),
                ("12.0.0.0/8", "us-east-1", "AMAZON"),
            ],
            &[
                ("2600::/16", "ap-south-1", "S3"),
                ("2601::/16", "GLOBAL", "EC2"),
            ],
        );
        let parsed: Doc = serde_json::from_slice(&json).unwrap();
        let (counts, s3_regions) = service_counts(&parsed);
        let counts: Vec<(&str, usize, usize)> = counts
            .iter()
            .map(|(s, a, b)| (s.as_str(), *a, *b))
            .collect();
        assert_eq!(counts, [("AMAZON", 1, 0), ("EC2", 0, 1), ("S3", 3, 1)]);
        assert_eq!(s3_regions, ["ap-south-1", "eu-west-1", "us-east-1"]);
    }

    #[test]
    fn embedded_snapshot_digest_is_its_sha256() {
        assert_eq!(EMBEDDED_SHA256, crate::partial::sha256_hex(EMBEDDED));
        assert_eq!(IpRanges::embedded().digest, EMBEDDED_SHA256);
    }

    #[test]
    fn embedded_snapshot_answers_known_addresses() {
        let r = IpRanges::embedded();
        assert_eq!(r.sync_token, "1787411825");
        let info = r.lookup("52.95.128.179".parse().unwrap()).unwrap();
        assert_eq!(
            (r.service_name(info), r.region_name(info)),
            ("S3", "ap-southeast-2")
        );
        // inside an EC2 range, a more specific AMAZON /24 wins by prefix length
        let info = r.lookup("3.239.232.29".parse().unwrap()).unwrap();
        assert_eq!(
            (r.service_name(info), r.region_name(info)),
            ("AMAZON", "us-east-1")
        );
        let east = r.region_id("us-east-1");
        assert_eq!(
            r.classify("3.239.232.29".parse().unwrap(), east),
            Class::AwsOther
        );
        let info = r.lookup("44.192.0.1".parse().unwrap()).unwrap();
        assert_eq!(r.service_name(info), "EC2");
        assert_eq!(
            r.classify("52.94.0.1".parse().unwrap(), east),
            Class::Dynamodb
        );
        assert_eq!(r.classify("52.216.8.1".parse().unwrap(), east), Class::S3);
        let info = r.lookup("3.5.244.1".parse().unwrap()).unwrap();
        assert_eq!(
            r.service_name(info),
            "S3",
            "S3 wins over AMAZON and EC2 for the same CIDR"
        );
        assert_eq!(
            r.classify("203.0.113.5".parse().unwrap(), r.region_id("us-east-1")),
            Class::Internet
        );
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(IpRanges::parse(b"{}", "x").is_err());
        assert!(IpRanges::parse(&doc(&[("300.1.1.0/24", "x", "S3")], &[]), "x").is_err());
    }
}
