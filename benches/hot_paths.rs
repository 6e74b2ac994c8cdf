//! Criterion micro-benchmarks of the hot stages on in-memory input, each with a throughput:
//! text line parsing (v2 and v5 layouts), Parquet batch decoding (a generated day as AWS
//! delivers it, v5 columns), IP classification against the full ip-ranges snapshot (IPv4 and
//! IPv6), and accumulation. Run: `cargo bench --bench hot_paths`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowcost::account::{Accumulator, FileStats, Params};
use flowcost::classify::IpRanges;
use flowcost::format::fields::ENGINE_FIELDS;
use flowcost::format::{fields, text, Layout};

const V5: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

fn v5_lines(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let task = format!("10.0.{}.{}", 16 + (i % 16), 1 + (i % 250));
        s += &format!(
            "5 111122223333 eni-0123456789abcdef{} {task} 10.0.0.10 {} 443 6 {} {} 1788220800 1788220860 ACCEPT OK vpc-0a1b2c3d4e5f60718 subnet-0c33cc33cc33cc33c - 19 IPv4 {task} 52.216.{}.{} us-east-1 use1-az1 - - - S3 ingress -\n",
            i % 10,
            40_000 + i % 20_000,
            1 + i % 100,
            1_000 + i * 37 % 100_000,
            i % 256,
            1 + i % 250
        );
    }
    s
}

fn v2_lines(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s += &format!(
            "2 111122223333 eni-0123456789abcdef{} 10.0.0.10 52.216.{}.{} {} 443 6 {} {} 1788220800 1788220860 ACCEPT OK\n",
            i % 10,
            i % 256,
            1 + i % 250,
            40_000 + i % 20_000,
            1 + i % 100,
            1_000 + i * 37 % 100_000
        );
    }
    s
}

struct Null(u64);
impl text::Sink for Null {
    fn record(&mut self, r: &flowcost::format::Record<'_>) {
        self.0 += r.bytes.unwrap_or(0);
    }
    fn malformed(&mut self, _: u64, _: flowcost::format::Malformed) {}
    fn header(&mut self) {}
    fn blank(&mut self) {}
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, body, layout) in [
        (
            "v2",
            v2_lines(20_000),
            Layout::default_v2().projected(ENGINE_FIELDS),
        ),
        (
            "v5",
            v5_lines(20_000),
            Layout::new(fields::parse_field_list(V5)).projected(ENGINE_FIELDS),
        ),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sink = Null(0);
                text::decode(black_box(body.as_bytes()), &layout, &mut sink).unwrap();
                sink.0
            })
        });
    }
    g.finish();
}

fn classify(c: &mut Criterion) {
    let r = IpRanges::embedded();
    let east = r.region_id("us-east-1");
    let v4: Vec<std::net::IpAddr> = (0..4096u32)
        .map(|i| {
            std::net::IpAddr::V4(
                (0x0300_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761))).into(),
            )
        })
        .collect();
    let v6: Vec<std::net::IpAddr> = (0..4096u128)
        .map(|i| {
            std::net::IpAddr::V6(
                (0x2600_1f00_0000_0000_0000_0000_0000_0000u128 + i * 0x1_0000_0000_0000_0000_0000)
                    .into(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("classify");
    for (name, ips) in [("ipv4", &v4), ("ipv6", &v6)] {
        g.throughput(Throughput::Elements(ips.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                ips.iter()
                    .map(|ip| r.classify(*ip, east) as u32)
                    .sum::<u32>()
            })
        });
    }
    g.finish();
}

fn account(c: &mut Criterion) {
    let r = IpRanges::embedded();
    let body = v5_lines(20_000);
    let layout = Layout::new(fields::parse_field_list(V5)).projected(ENGINE_FIELDS);
    let params = Params::default(); // a 3-minute pull window
    let mut g = c.benchmark_group("account");
    g.throughput(Throughput::Elements(20_000));
    g.bench_function("v5-nat-private-legs", |b| {
        b.iter(|| {
            let mut acc = Accumulator::new(&params);
            let mut sink = acc.file(&r, &params, FileStats::default(), r.region_id("us-east-1"));
            text::decode(body.as_bytes(), &layout, &mut sink).unwrap();
            sink.finish(None);
            acc.table.len()
        })
    });
    g.finish();
}

/// Every Parquet object of a generated day, in memory.
fn parquet_world() -> (Vec<bytes::Bytes>, u64) {
    let spec = flowcost::generate::Spec {
        seed: 3,
        start: 1_788_220_800,
        days: 1,
        tasks_per_day: 300,
        volume: 1.0,
        fields: flowcost::generate::FieldSet::V5,
        nat_only: false,
        s3_endpoint_at: None,
        endpoint_skips_subnet: None,
        reuse: false,
        interval: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let w = flowcost::generate::build(&spec);
    flowcost::generate::write_world(&w, dir.path(), &[flowcost::generate::Encoding::Parquet])
        .unwrap();
    let mut files = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(bytes::Bytes::from(std::fs::read(p).unwrap()));
            }
        }
    }
    let mut rows = 0;
    for f in &files {
        let mut sink = Null(0);
        rows += flowcost::format::parquet::decode(f.clone(), ENGINE_FIELDS, &mut sink).unwrap();
    }
    (files, rows)
}

fn parquet(c: &mut Criterion) {
    let (files, rows) = parquet_world();
    let mut g = c.benchmark_group("parquet");
    g.throughput(Throughput::Elements(rows));
    g.bench_function("v5-generated-day", |b| {
        b.iter(|| {
            let mut sink = Null(0);
            for f in &files {
                flowcost::format::parquet::decode(f.clone(), ENGINE_FIELDS, &mut sink).unwrap();
            }
            sink.0
        })
    });
    g.finish();
}

/// Moving ENI tables to disk and back: 20,000 task ENIs (three records each, as a Fargate task's
/// first minutes look) written to one run and merged back with the table left in memory.
fn spill(c: &mut Criterion) {
    let r = IpRanges::embedded();
    let mut body = String::new();
    for i in 0..60_000usize {
        let task = format!("10.0.{}.{}", 16 + (i / 3 / 250) % 16, 1 + (i / 3) % 250);
        body += &format!(
            "5 111122223333 eni-{:017x} {task} 52.216.{}.{} {} 443 6 10 {} {} {} ACCEPT OK vpc-0a1b2c3d4e5f60718 subnet-0c33cc33cc33cc33c - 19 IPv4 {task} 52.216.1.2 us-east-1 use1-az1 - - - S3 egress 1\n",
            i / 3,
            i % 256,
            1 + i % 250,
            40_000 + i % 20_000,
            1_000 + i * 37 % 100_000,
            1_788_220_800 + (i % 3) as i64 * 60,
            1_788_220_860 + (i % 3) as i64 * 60,
        );
    }
    let layout = Layout::new(fields::parse_field_list(V5)).projected(ENGINE_FIELDS);
    let params = Params::default(); // a 3-minute pull window
    let mut table = Accumulator::new(&params);
    let mut sink = table.file(&r, &params, FileStats::default(), r.region_id("us-east-1"));
    text::decode(body.as_bytes(), &layout, &mut sink).unwrap();
    sink.finish(None);
    assert_eq!(table.table.len(), 20_000);
    let mut g = c.benchmark_group("spill");
    g.throughput(Throughput::Elements(20_000));
    g.bench_function("write-and-merge-back-20k-enis", |b| {
        b.iter_batched(
            || table.clone(),
            |mut acc| {
                let dir = tempfile::tempdir().unwrap();
                let spill = flowcost::spill::Spill::new(dir.path(), 1, &[]);
                spill.relieve(&mut acc);
                let stored = spill.finish(&mut acc).unwrap();
                let mut n = 0u64;
                flowcost::account::EniSource::scan(&stored, &mut |_, a| n += a.records).unwrap();
                n
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parse, parquet, classify, account, spill);
criterion_main!(benches);
