//! Writes a world's records as AWS delivers them: one file per five-minute window under the
//! S3 key layout `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/...`, with a header line
//! (text and gzip) or typed columns (Parquet). Every encoding is written from the same row
//! values, so the encodings of one world hold the same records.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field as ArrowField, Schema};
use arrow::record_batch::RecordBatch;
use flate2::write::GzEncoder;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use super::world::{
    intervals, EniKind, Flow, Kind, World, ACCOUNT, CLUSTER, FILE_WINDOW, FLOW_LOG_ID, REGION,
    SERVICES, VPC,
};
use super::{Encoding, FieldSet, Rng};
use crate::classify::Class;

/// One record to write.
#[derive(Clone, Debug)]
struct GenRec {
    eni: usize,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    pkt_src: Option<IpAddr>,
    pkt_dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    bytes: u64,
    start: i64,
    end: i64,
    reject: bool,
    /// 0 OK, 1 NODATA, 2 SKIPDATA
    status: u8,
    egress: bool,
    path: Option<u8>,
    src_svc: Option<&'static str>,
    dst_svc: Option<&'static str>,
}

impl GenRec {
    /// A record with nothing set: the start of every other.
    const EMPTY: GenRec = GenRec {
        eni: 0,
        src: None,
        dst: None,
        pkt_src: None,
        pkt_dst: None,
        sport: 0,
        dport: 0,
        bytes: 0,
        start: 0,
        end: 0,
        reject: false,
        status: 0,
        egress: false,
        path: None,
        src_svc: None,
        dst_svc: None,
    };
}

fn svc(c: Option<Class>) -> Option<&'static str> {
    match c? {
        Class::S3 | Class::S3OtherRegion => Some("S3"),
        Class::Dynamodb => Some("DYNAMODB"),
        Class::AwsOther => Some("AMAZON"),
        Class::Internet => None,
    }
}

fn records(w: &World) -> BTreeMap<i64, Vec<GenRec>> {
    let mut out: BTreeMap<i64, Vec<GenRec>> = BTreeMap::new();
    let mut push = |r: GenRec| {
        out.entry(r.start.div_euclid(FILE_WINDOW) * FILE_WINDOW)
            .or_default()
            .push(r)
    };
    for f in &w.flows {
        for (start, end, up, down) in intervals(f, w.spec.interval) {
            let r = GenRec {
                start,
                end,
                ..GenRec::EMPTY
            };
            let bytes = (up, down);
            match (f.kind, f.via_nat) {
                // a rejected scan: the probe's bytes, in, on the target's ENI
                (Kind::Scan, _) => {
                    let r = GenRec { reject: true, ..r };
                    own_records(f, ends(w, f), r, (0, down), None, &mut push)
                }
                (_, Some(n)) => nat_records(w, f, n, r, bytes, &mut push),
                (_, None) if w.spec.nat_only => {}
                (_, None) => direct_records(w, f, r, bytes, &mut push),
            }
        }
    }
    for st in &w.status {
        push(GenRec {
            eni: st.eni,
            start: st.start,
            end: st.start + 60,
            status: if st.skip { 2 } else { 1 },
            ..GenRec::EMPTY
        });
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| {
            (a.start, a.eni, a.sport, a.dport).cmp(&(b.start, b.eni, b.sport, b.dport))
        });
    }
    out
}

/// The local and remote ends of a flow, and the service label of its remote.
fn ends(w: &World, f: &Flow) -> (Option<IpAddr>, Option<IpAddr>, Option<&'static str>) {
    (
        Some(IpAddr::V4(w.enis[f.eni].ip)),
        Some(f.remote),
        svc(f.class),
    )
}

/// A flow through NAT gateway `n`: each direction's two legs on the NAT's ENI (the private
/// one names the remote in `pkt-*`), and the task's own record unless only NATs are logged.
fn nat_records(
    w: &World,
    f: &Flow,
    n: usize,
    r: GenRec,
    (up, down): (u64, u64),
    push: &mut impl FnMut(GenRec),
) {
    let (local, remote, s) = ends(w, f);
    let nat = &w.nats[n];
    let nip = Some(IpAddr::V4(nat.ip));
    let nport = f.local_port.wrapping_add(7_000).max(1024);
    if up > 0 {
        push(GenRec {
            eni: nat.eni,
            src: local,
            dst: nip,
            pkt_src: local,
            pkt_dst: remote,
            sport: f.local_port,
            dport: f.remote_port,
            bytes: up,
            dst_svc: s,
            ..r.clone()
        });
        push(GenRec {
            eni: nat.eni,
            src: nip,
            dst: remote,
            pkt_src: nip,
            pkt_dst: remote,
            sport: nport,
            dport: f.remote_port,
            bytes: up,
            egress: true,
            path: Some(8),
            dst_svc: s,
            ..r.clone()
        });
    }
    if down > 0 {
        push(GenRec {
            eni: nat.eni,
            src: remote,
            dst: nip,
            pkt_src: remote,
            pkt_dst: nip,
            sport: f.remote_port,
            dport: nport,
            bytes: down,
            src_svc: s,
            ..r.clone()
        });
        push(GenRec {
            eni: nat.eni,
            src: nip,
            dst: local,
            pkt_src: remote,
            pkt_dst: local,
            sport: f.remote_port,
            dport: f.local_port,
            bytes: down,
            egress: true,
            path: Some(1),
            src_svc: s,
            ..r.clone()
        });
    }
    if !w.spec.nat_only {
        own_records(f, (local, remote, s), r, (up, down), Some(1), push);
    }
}

/// A flow not through a NAT (an S3 gateway endpoint, the internet gateway, or inside the
/// VPC): the ENI's own records.
fn direct_records(
    w: &World,
    f: &Flow,
    r: GenRec,
    bytes: (u64, u64),
    push: &mut impl FnMut(GenRec),
) {
    let path = if f.via_endpoint {
        7
    } else if f.kind == Kind::Internal {
        1
    } else {
        8
    };
    own_records(f, ends(w, f), r, bytes, Some(path), push);
}

/// A flow's records on its own ENI: the upload (egress, by `path`) and the download.
fn own_records(
    f: &Flow,
    (local, remote, s): (Option<IpAddr>, Option<IpAddr>, Option<&'static str>),
    r: GenRec,
    (up, down): (u64, u64),
    path: Option<u8>,
    push: &mut impl FnMut(GenRec),
) {
    if up > 0 {
        push(GenRec {
            eni: f.eni,
            src: local,
            dst: remote,
            pkt_src: local,
            pkt_dst: remote,
            sport: f.local_port,
            dport: f.remote_port,
            bytes: up,
            egress: true,
            path,
            dst_svc: s,
            ..r.clone()
        });
    }
    if down > 0 {
        push(GenRec {
            eni: f.eni,
            src: remote,
            dst: local,
            pkt_src: remote,
            pkt_dst: local,
            sport: f.remote_port,
            dport: f.local_port,
            bytes: down,
            src_svc: s,
            ..r
        });
    }
}

/// A cell value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Int(i64),
    Str(String),
    Null,
}

const INT_FIELDS: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "tcp-flags",
    "traffic-path",
];
const LONG_FIELDS: &[&str] = &["packets", "bytes", "start", "end"];

/// The field sets in AWS's documented order: the first 14 names of the vocabulary are v2's,
/// the first 29 reach v5, the first 39 add the v7 ECS fields.
fn field_names(fs: FieldSet) -> Vec<&'static str> {
    let n = match fs {
        FieldSet::V2 => 14,
        FieldSet::V5 => 29,
        FieldSet::V7 => 39,
    };
    crate::format::fields::KNOWN_NAMES[..n].to_vec()
}

fn value(w: &World, r: &GenRec, name: &str) -> Val {
    let eni = &w.enis[r.eni];
    let ok = r.status == 0;
    let s = |v: &str| Val::Str(v.to_string());
    let ip = |v: Option<IpAddr>| v.map_or(Val::Null, |a| Val::Str(a.to_string()));
    let task = match eni.kind {
        EniKind::Task(i) => Some(&w.tasks[i]),
        _ => None,
    };
    let task_arn =
        |t: &super::world::Task| format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{}", t.id);
    match name {
        "version" => Val::Int(match w.spec.fields {
            FieldSet::V2 => 2,
            FieldSet::V5 => 5,
            FieldSet::V7 => 7,
        }),
        "account-id" => s(ACCOUNT),
        "interface-id" => s(&eni.id),
        "srcaddr" => ip(r.src),
        "dstaddr" => ip(r.dst),
        "srcport" if ok => Val::Int(r.sport as i64),
        "dstport" if ok => Val::Int(r.dport as i64),
        "protocol" if ok => Val::Int(6),
        "packets" if ok => Val::Int((r.bytes / 1200 + 1) as i64),
        "bytes" if ok => Val::Int(r.bytes as i64),
        "start" => Val::Int(r.start),
        "end" => Val::Int(r.end),
        "action" if ok => s(if r.reject { "REJECT" } else { "ACCEPT" }),
        "log-status" => s(["OK", "NODATA", "SKIPDATA"][r.status as usize]),
        "vpc-id" => s(VPC),
        "subnet-id" => s(&w.subnets[eni.subnet].id),
        "instance-id" if eni.kind == EniKind::Instance => s("i-0123456789abcdef0"),
        "tcp-flags" if ok => Val::Int(if r.reject { 2 } else { 19 }),
        "type" if ok => s("IPv4"),
        "pkt-srcaddr" => ip(r.pkt_src),
        "pkt-dstaddr" => ip(r.pkt_dst),
        "region" => s(REGION),
        "az-id" => s(w.subnets[eni.subnet].az),
        "pkt-src-aws-service" => r.src_svc.map_or(Val::Null, s),
        "pkt-dst-aws-service" => r.dst_svc.map_or(Val::Null, s),
        "flow-direction" if ok => s(if r.egress { "egress" } else { "ingress" }),
        "traffic-path" if r.egress => r.path.map_or(Val::Null, |p| Val::Int(p as i64)),
        "ecs-cluster-arn" => task.map_or(Val::Null, |_| {
            Val::Str(format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"))
        }),
        "ecs-cluster-name" => task.map_or(Val::Null, |_| s(CLUSTER)),
        "ecs-container-id" => task.map_or(Val::Null, |t| Val::Str(t.id[..12].to_string())),
        "ecs-service-name" => task.map_or(Val::Null, |t| s(SERVICES[t.service])),
        "ecs-task-definition-arn" => task.map_or(Val::Null, |t| {
            Val::Str(format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:3",
                SERVICES[t.service]
            ))
        }),
        "ecs-task-arn" => task.map_or(Val::Null, |t| Val::Str(task_arn(t))),
        "ecs-task-id" => task.map_or(Val::Null, |t| Val::Str(t.id.clone())),
        _ => Val::Null,
    }
}

fn key(w: &World, window: i64, enc: Encoding) -> PathBuf {
    let stamp = window + FILE_WINDOW;
    let (y, m, d) = crate::time::civil_from_days(stamp.div_euclid(86_400));
    let sec = stamp.rem_euclid(86_400);
    let hash = Rng::new(w.spec.seed ^ window as u64).next_u64() as u32;
    PathBuf::from(format!(
        "AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{y:04}/{m:02}/{d:02}/{ACCOUNT}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_{y:04}{m:02}{d:02}T{:02}{:02}Z_{hash:08x}{}",
        sec / 3600,
        sec / 60 % 60,
        enc.suffix()
    ))
}

fn text_bytes(names: &[&str], rows: &[Vec<Val>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 200);
    out.extend_from_slice(names.join(" ").as_bytes());
    out.push(b'\n');
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            match v {
                Val::Int(n) => {
                    let _ = write!(out, "{n}");
                }
                Val::Str(s) => out.extend_from_slice(s.as_bytes()),
                Val::Null => out.push(b'-'),
            }
        }
        out.push(b'\n');
    }
    out
}

fn parquet_bytes(names: &[&str], rows: &[Vec<Val>]) -> Vec<u8> {
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let col_name = name.replace('-', "_");
        if INT_FIELDS.contains(name) {
            let mut b = Int32Builder::new();
            for r in rows {
                b.append_option(match &r[i] {
                    Val::Int(n) => Some(*n as i32),
                    _ => None,
                });
            }
            cols.push(Arc::new(b.finish()));
            fields.push(ArrowField::new(col_name, DataType::Int32, true));
        } else if LONG_FIELDS.contains(name) {
            let mut b = Int64Builder::new();
            for r in rows {
                b.append_option(match &r[i] {
                    Val::Int(n) => Some(*n),
                    _ => None,
                });
            }
            cols.push(Arc::new(b.finish()));
            fields.push(ArrowField::new(col_name, DataType::Int64, true));
        } else {
            let mut b = StringBuilder::new();
            for r in rows {
                match &r[i] {
                    Val::Str(s) => b.append_value(s),
                    Val::Int(n) => b.append_value(n.to_string()),
                    Val::Null => b.append_null(),
                }
            }
            cols.push(Arc::new(b.finish()));
            fields.push(ArrowField::new(col_name, DataType::Utf8, true));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("consistent columns");
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut buf = Vec::new();
    // AWS's files carry no Arrow schema blob; leaving it out also keeps small files small
    let opts = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    let mut w = ArrowWriter::try_new_with_options(&mut buf, schema, opts).expect("writer");
    w.write(&batch).expect("write batch");
    w.close().expect("close");
    buf
}

/// What was written.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Written {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
}

/// Write the world under `out/<encoding>/AWSLogs/...` for each encoding.
pub fn write_world(w: &World, out: &Path, encodings: &[Encoding]) -> std::io::Result<Written> {
    write_world_with(w, out, encodings, &|_, _| {})
}

/// [`write_world`], telling `progress(done, total)` after each delivery window is written.
pub fn write_world_with(
    w: &World,
    out: &Path,
    encodings: &[Encoding],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> std::io::Result<Written> {
    let recs = records(w);
    let done_windows = std::sync::atomic::AtomicU64::new(0);
    let names = field_names(w.spec.fields);
    let windows: Vec<(&i64, &Vec<GenRec>)> = recs.iter().collect();
    let total_windows = windows.len() as u64;
    let results: Vec<std::io::Result<Written>> = windows
        .par_iter()
        .map(|(window, list)| {
            let rows: Vec<Vec<Val>> = list
                .iter()
                .map(|r| names.iter().map(|n| value(w, r, n)).collect())
                .collect();
            let mut done = Written {
                records: list.len() as u64,
                ..Default::default()
            };
            for enc in encodings {
                let path = out.join(enc.dir()).join(key(w, **window, *enc));
                std::fs::create_dir_all(path.parent().expect("has parent"))?;
                let data = match enc {
                    Encoding::Text => text_bytes(&names, &rows),
                    Encoding::Gz => {
                        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
                        gz.write_all(&text_bytes(&names, &rows))?;
                        gz.finish()?
                    }
                    Encoding::Parquet => parquet_bytes(&names, &rows),
                };
                done.bytes += data.len() as u64;
                done.files += 1;
                std::fs::write(&path, data)?;
            }
            let n = done_windows.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total_windows);
            Ok(done)
        })
        .collect();
    let mut total = Written::default();
    for r in results {
        let r = r?;
        total.files += r.files;
        total.records += r.records;
        total.bytes += r.bytes;
    }
    Ok(total)
}

/// Write the world's bill as a CUR 2.0 export, in gzip CSV (`csv/`) and Snappy Parquet
/// (`parquet/`, dates as timestamps and amounts as doubles, as Data Exports types them).
pub fn write_cur(w: &World, dir: &Path) -> std::io::Result<()> {
    let (headers, rows) = w.cost_and_usage();
    let name = "flowcost-cur2-00001";
    std::fs::create_dir_all(dir.join("csv"))?;
    std::fs::create_dir_all(dir.join("parquet"))?;
    let mut text = csv_writer_bytes(&headers, &rows)?;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text)?;
    text = gz.finish()?;
    std::fs::write(dir.join("csv").join(format!("{name}.csv.gz")), text)?;
    let is_time = |h: &str| h.ends_with("_date");
    let is_num = |h: &str| {
        h.starts_with("line_item_usage_amount") || h.ends_with("_rate") || h.ends_with("_cost")
    };
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if is_time(h) {
            let v: Vec<Option<i64>> = rows
                .iter()
                .map(|r| crate::bill::parse_time(&r[i]).map(|t| t * 1000))
                .collect();
            cols.push(Arc::new(
                arrow::array::TimestampMillisecondArray::from(v).with_timezone("UTC"),
            ));
            fields.push(ArrowField::new(
                *h,
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ));
        } else if is_num(h) {
            let v: Vec<Option<f64>> = rows.iter().map(|r| r[i].parse().ok()).collect();
            cols.push(Arc::new(arrow::array::Float64Array::from(v)));
            fields.push(ArrowField::new(*h, DataType::Float64, true));
        } else {
            let v: Vec<Option<&str>> = rows
                .iter()
                .map(|r| (!r[i].is_empty()).then_some(r[i].as_str()))
                .collect();
            cols.push(Arc::new(arrow::array::StringArray::from(v)));
            fields.push(ArrowField::new(*h, DataType::Utf8, true));
        }
    }
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(std::io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props))
        .map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    std::fs::write(
        dir.join("parquet").join(format!("{name}.snappy.parquet")),
        out,
    )
}

/// Rows as CSV (quoted where needed, as the csv crate writes them).
fn csv_writer_bytes(headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(headers)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}
