//! Parquet decoder for AWS's Parquet delivery of flow logs (`.log.parquet`). Only the columns
//! the engine needs are read (a projection by root column), batch by batch; column names use
//! `_` where text headers use `-`. Typed columns are read as they are; columns written as
//! strings (as some exporters do, with `None` or `-` for missing) are parsed like text.

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::fields::{self, Field};
use super::text::{parse_action, parse_status, Sink};
use super::{parse_ip, parse_u64, to_seconds, Malformed, Record};

/// Rows per decoded batch: bounds memory per worker to a few MB of column data.
pub const BATCH_ROWS: usize = 8192;

/// A needed column, normalised to one of two physical shapes.
enum Col {
    Int(Int64Array),
    Str(StringArray),
}

fn is_null_word(s: &str) -> bool {
    s.is_empty() || s == "-" || s == "None" || s == "null"
}

impl Col {
    fn from_array(a: &ArrayRef, numeric: bool) -> Result<Col, arrow::error::ArrowError> {
        use arrow::compute::cast;
        let is_stringy = matches!(
            a.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
        );
        if numeric && !is_stringy {
            let c = cast(a, &DataType::Int64)?;
            let arr = c.as_any().downcast_ref::<Int64Array>().cloned();
            return arr
                .map(Col::Int)
                .ok_or_else(|| arrow::error::ArrowError::CastError("int64".into()));
        }
        let c = cast(a, &DataType::Utf8)?;
        let arr = c.as_any().downcast_ref::<StringArray>().cloned();
        arr.map(Col::Str)
            .ok_or_else(|| arrow::error::ArrowError::CastError("utf8".into()))
    }

    fn str(&self, i: usize) -> Option<&str> {
        match self {
            Col::Str(a) if a.is_valid(i) => Some(a.value(i)).filter(|s| !is_null_word(s)),
            _ => None,
        }
    }

    fn num(&self, i: usize, name: &'static str) -> Result<Option<u64>, Malformed> {
        match self {
            Col::Int(a) if a.is_valid(i) => {
                let v = a.value(i);
                if v < 0 {
                    Err(Malformed::BadNumber(name))
                } else {
                    Ok(Some(v as u64))
                }
            }
            Col::Int(_) => Ok(None),
            Col::Str(_) => match self.str(i) {
                None => Ok(None),
                Some(s) => parse_u64(s.as_bytes())
                    .map(Some)
                    .ok_or(Malformed::BadNumber(name)),
            },
        }
    }

    fn ip(&self, i: usize, name: &'static str) -> Result<Option<std::net::IpAddr>, Malformed> {
        match self.str(i) {
            None => Ok(None),
            Some(s) => parse_ip(s.as_bytes())
                .map(Some)
                .ok_or(Malformed::BadAddress(name)),
        }
    }
}

fn is_numeric(f: Field) -> bool {
    matches!(
        f,
        Field::Packets | Field::Bytes | Field::Start | Field::End | Field::TrafficPath
    )
}

/// Why a Parquet input stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParquetFailure(pub String);

/// Decode a Parquet file into `sink`. Returns rows read, or the rows read before the failure
/// and the failure (a broken footer fails before any row).
pub fn decode<T: ChunkReader + 'static, S: Sink>(
    input: T,
    sink: &mut S,
) -> Result<u64, (u64, ParquetFailure)> {
    let fail = |rows: u64, e: &dyn std::fmt::Display| (rows, ParquetFailure(e.to_string()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| fail(0, &e))?;
    let schema = builder.schema().clone();
    let mut wanted: Vec<(usize, Field)> = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let field = fields::field_of(&fields::normalise(f.name()));
        if field != Field::Other && field != Field::Version {
            wanted.push((i, field));
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().map(|w| w.0));
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| fail(0, &e))?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| fail(rows, &e))?;
        let bschema = batch.schema();
        let mut cols: Vec<(Field, Col)> = Vec::with_capacity(wanted.len());
        for (i, col) in batch.columns().iter().enumerate() {
            let field = fields::field_of(&fields::normalise(bschema.field(i).name()));
            let c = Col::from_array(col, is_numeric(field)).map_err(|e| fail(rows, &e))?;
            cols.push((field, c));
        }
        for r in 0..batch.num_rows() {
            rows += 1;
            match row(&cols, r) {
                Ok(rec) => sink.record(&rec),
                Err(why) => sink.malformed(rows, why),
            }
        }
    }
    Ok(rows)
}

fn row(cols: &[(Field, Col)], i: usize) -> Result<Record<'_>, Malformed> {
    let mut rec = Record::default();
    for (f, c) in cols {
        match f {
            Field::InterfaceId => rec.interface_id = c.str(i),
            Field::AccountId => rec.account_id = c.str(i),
            Field::SrcAddr => rec.srcaddr = c.ip(i, "srcaddr")?,
            Field::DstAddr => rec.dstaddr = c.ip(i, "dstaddr")?,
            Field::PktSrcAddr => rec.pkt_srcaddr = c.ip(i, "pkt-srcaddr")?,
            Field::PktDstAddr => rec.pkt_dstaddr = c.ip(i, "pkt-dstaddr")?,
            Field::Packets => rec.packets = c.num(i, "packets")?,
            Field::Bytes => rec.bytes = c.num(i, "bytes")?,
            Field::Start => rec.start = c.num(i, "start")?.map(|v| to_seconds(v as i64)),
            Field::End => rec.end = c.num(i, "end")?.map(|v| to_seconds(v as i64)),
            Field::Action => {
                if let Some(s) = c.str(i) {
                    rec.action = parse_action(s.as_bytes())?;
                }
            }
            Field::LogStatus => {
                if let Some(s) = c.str(i) {
                    rec.status = parse_status(s.as_bytes())?;
                }
            }
            Field::Region => rec.region = c.str(i),
            Field::AzId => rec.az_id = c.str(i),
            Field::SubnetId => rec.subnet_id = c.str(i),
            Field::VpcId => rec.vpc_id = c.str(i),
            Field::TrafficPath => {
                rec.traffic_path = c.num(i, "traffic-path")?.map(|v| v.min(255) as u8)
            }
            Field::FlowDirection => rec.flow_direction = c.str(i),
            Field::PktSrcAwsService => rec.pkt_src_aws_service = c.str(i),
            Field::PktDstAwsService => rec.pkt_dst_aws_service = c.str(i),
            Field::EcsClusterName => rec.ecs_cluster_name = c.str(i),
            Field::EcsServiceName => rec.ecs_service_name = c.str(i),
            Field::EcsTaskId => rec.ecs_task_id = c.str(i),
            Field::Other | Field::Version => {}
        }
    }
    Ok(rec)
}
