//! Generated worlds against the generator's truth: exact integer bytes for every class, day,
//! gateway and subnet, in every encoding and field set; the ECR estimate within its stated
//! error; parallel runs equal to single-threaded ones.

use flowcost::analysis::WarningKind;
use flowcost::analysis::{ClassBytes, Legs, NatSource};
use flowcost::generate::{Encoding, FieldSet, Interval, Truth};
use flowcost::report::Report;

use crate::support::{analyze_json, run, spec, stderr, world};

/// The ECR estimate's stated bounds on generated worlds (README, "How ECR is estimated"):
/// in total, and per ECS service.
pub const ECR_MAX_ERROR: f64 = 0.08;
pub const ECR_MAX_ERROR_PER_SERVICE: f64 = 0.15;

fn check_against_truth(r: &Report, t: &Truth, label: &str) {
    let a = &r.analysis;
    assert_eq!(a.classes, t.nat, "{label}: NAT bytes by class");
    assert_eq!(a.total, t.nat_total, "{label}");
    let days: std::collections::BTreeMap<String, ClassBytes> = a
        .by_day
        .iter()
        .map(|d| (d.day.clone(), d.classes))
        .collect();
    assert_eq!(days, t.nat_by_day, "{label}: by day");
    let gws: std::collections::BTreeMap<String, ClassBytes> = a
        .gateways
        .iter()
        .map(|g| (g.eni.clone(), g.classes))
        .collect();
    assert_eq!(gws, t.nat_by_gateway, "{label}: by gateway");
    assert_eq!(
        a.quality.lines.rejected, t.rejected_records,
        "{label}: rejected records"
    );
    assert_eq!(a.quality.lines.nodata, t.nodata_records, "{label}");
    assert_eq!(a.quality.lines.skipdata, t.skipdata_records, "{label}");
    assert_eq!(a.quality.lines.malformed, 0, "{label}");
    assert!(a.quality.reconciled, "{label}");
    assert_eq!(a.nat_region.as_deref(), Some("us-east-1"));
}

fn check_subnets(r: &Report, t: &Truth, label: &str) {
    let subnets: std::collections::BTreeMap<String, ClassBytes> = r
        .analysis
        .by_subnet
        .iter()
        .map(|g| (g.key.clone(), g.classes))
        .collect();
    assert_eq!(subnets, t.nat_by_subnet, "{label}: by client subnet");
    assert_eq!(
        r.analysis.cross_az.bytes, t.cross_az_bytes,
        "{label}: cross-AZ"
    );
}

/// Relative error of the ECR estimate; the pull window catches every layer byte, so the
/// estimate may only err upward (application S3 traffic early in a task's life).
fn ecr_error(r: &Report, t: &Truth) -> f64 {
    assert!(
        r.analysis.ecr.bytes >= t.ecr_layer_bytes,
        "every layer byte is inside the pull window"
    );
    (r.analysis.ecr.bytes as f64 - t.ecr_layer_bytes as f64) / t.ecr_layer_bytes as f64
}

/// The analysis without what legitimately differs between encodings of one world.
fn comparable(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(&r.analysis).unwrap();
    v["quality"]["files"] = serde_json::Value::Null;
    // Parquet has no header lines
    v["quality"]["lines"]["headers"] = serde_json::Value::Null;
    v["quality"]["lines"]["lines"] = serde_json::Value::Null;
    v
}

#[test]
fn v5_world_is_exact_in_text_gzip_and_parquet() {
    let w = world(
        &spec(11, FieldSet::V5),
        &[Encoding::Text, Encoding::Gz, Encoding::Parquet],
    );
    let mut first: Option<serde_json::Value> = None;
    for enc in [Encoding::Text, Encoding::Gz, Encoding::Parquet] {
        let r = analyze_json(&[&w.path(enc)]);
        check_against_truth(&r, &w.truth, enc.dir());
        check_subnets(&r, &w.truth, enc.dir());
        assert_eq!(r.analysis.method.nat_source, NatSource::Detected);
        assert_eq!(r.analysis.method.legs, Legs::Private);
        assert!(
            ecr_error(&r, &w.truth) <= ECR_MAX_ERROR,
            "{}: ECR error {}",
            enc.dir(),
            ecr_error(&r, &w.truth)
        );
        assert_eq!(r.analysis.ecr.pulls, w.truth.ecr_pulls);
        let c = comparable(&r);
        match &first {
            None => first = Some(c),
            Some(f) => assert_eq!(&c, f, "{} differs from text", enc.dir()),
        }
    }
}

/// The world's Parquet deliveries rewritten as Spark or Athena may convert an export: `start`
/// and `end` as Parquet timestamps (milli-, micro- and nanoseconds), each in another codec:
/// the same analysis as the deliveries', by both Parquet readers. (Until 2026-12-05 a time
/// in microseconds or nanoseconds made every record malformed, LZ4 or Brotli pages every
/// file a failed input, and a gzipped Parquet file was read as text, every line malformed.)
#[test]
fn parquet_in_any_codec_and_time_unit_is_the_same_world() {
    use arrow::array::{
        Array, ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray,
        TimestampMillisecondArray, TimestampNanosecondArray,
    };
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::Compression;
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Parquet]);
    let seconds = comparable(&analyze_json(&[&w.path(Encoding::Parquet)]));
    let dir = tempfile::tempdir().unwrap();
    for (unit, per_second, codec) in [
        ("ms", 1_000i64, Compression::SNAPPY),
        ("us", 1_000_000, Compression::LZ4_RAW),
        ("ns", 1_000_000_000, Compression::BROTLI(Default::default())),
        ("s", 1, Compression::ZSTD(Default::default())),
    ] {
        let root = dir.path().join(unit);
        let from = std::path::PathBuf::from(w.path(Encoding::Parquet));
        for f in crate::support::files_under(&from) {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
                .unwrap()
                .build()
                .unwrap();
            let rel = f.strip_prefix(&from).unwrap();
            let out = root.join(rel);
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            let mut writer = None;
            for batch in reader {
                let batch = batch.unwrap();
                let schema = batch.schema();
                let cols = schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(field, c)| {
                        let name = field.name().clone();
                        if name != "start" && name != "end" {
                            return (name, c.clone());
                        }
                        let secs = c
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .expect("int64 times");
                        let v: Vec<Option<i64>> =
                            secs.iter().map(|t| t.map(|t| t * per_second)).collect();
                        let a: ArrayRef = match unit {
                            "ms" => std::sync::Arc::new(TimestampMillisecondArray::from(v)),
                            "us" => std::sync::Arc::new(TimestampMicrosecondArray::from(v)),
                            "ns" => std::sync::Arc::new(TimestampNanosecondArray::from(v)),
                            _ => std::sync::Arc::new(Int64Array::from(v)),
                        };
                        (name, a)
                    });
                let batch = RecordBatch::try_from_iter(cols).unwrap();
                let w = writer.get_or_insert_with(|| {
                    let file = std::fs::File::create(&out).unwrap();
                    let props = parquet::file::properties::WriterProperties::builder()
                        .set_compression(codec)
                        .build();
                    parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap()
                });
                w.write(&batch).unwrap();
            }
            writer.expect("rows").close().unwrap();
        }
        let root = root.display().to_string();
        let r = analyze_json(&[&root]);
        check_against_truth(&r, &w.truth, unit);
        assert_eq!(comparable(&r), seconds, "{unit}");
        let o = crate::support::bin()
            .env("FLOWCOST_PARQUET_READER", "arrow")
            .args(["analyze", "--format", "json", "-q", &root])
            .output()
            .unwrap();
        let arrow: Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(comparable(&arrow), seconds, "{unit}, the Arrow reader");
    }
    // and the deliveries gzipped whole (`.parquet.gz`), read as the Parquet they hold
    let from = std::path::PathBuf::from(w.path(Encoding::Parquet));
    let gz = dir.path().join("gz");
    for f in crate::support::files_under(&from) {
        let out = gz.join(format!("{}.gz", f.strip_prefix(&from).unwrap().display()));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &std::fs::read(&f).unwrap()).unwrap();
        std::fs::write(out, e.finish().unwrap()).unwrap();
    }
    let r = analyze_json(&[gz.to_str().unwrap()]);
    check_against_truth(&r, &w.truth, "gzipped Parquet");
    assert_eq!(comparable(&r), seconds, "gzipped Parquet");
}

/// The world's text deliveries as one CSV file, as an Athena query's result is downloaded
/// (a header of names with `_`, every value quoted, an empty one for `-`, CRLF): the truth,
/// whole and split into chunks, and with the times formatted as `from_unixtime` gives them.
/// (Until 2026-12-05 every line was malformed, exit 3.)
#[test]
fn a_world_downloaded_as_csv_is_the_same_world() {
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Text]);
    let from = std::path::PathBuf::from(w.path(Encoding::Text));
    let (mut csv, mut formatted) = (String::new(), String::new());
    let mut times = Vec::new();
    for (i, f) in crate::support::files_under(&from).into_iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if n == 0 {
                times = (line.split(' ').enumerate())
                    .filter(|(_, name)| matches!(*name, "start" | "end"))
                    .map(|(i, _)| i)
                    .collect();
                if i > 0 {
                    continue;
                }
            }
            let fields = line.split(' ').enumerate().map(|(k, v)| match (n, v) {
                (0, name) => {
                    let name = format!("\"{}\"", name.replace('-', "_"));
                    [name.clone(), name]
                }
                (_, "-") => ["\"\"".to_string(), "\"\"".to_string()],
                (_, v) if times.contains(&k) => {
                    // (a time as Athena's `from_unixtime` gives it)
                    let t = flowcost::time::format_instant(v.parse().unwrap());
                    let t = t.replace('T', " ").replace('Z', ".000");
                    [format!("\"{v}\""), format!("\"{t}\"")]
                }
                (_, v) => [format!("\"{v}\""), format!("\"{v}\"")],
            });
            let (plain, times): (Vec<String>, Vec<String>) = fields.map(|[a, b]| (a, b)).unzip();
            csv += &(plain.join(",") + "\r\n");
            formatted += &(times.join(",") + "\r\n");
        }
    }
    assert_eq!(times.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("athena-results.csv");
    std::fs::write(&path, csv).unwrap();
    let path = path.display().to_string();
    let with_times = dir.path().join("athena-formatted-times.csv");
    std::fs::write(&with_times, formatted).unwrap();
    let with_times = with_times.display().to_string();
    let text = comparable(&analyze_json(&[&w.path(Encoding::Text)]));
    for args in [
        vec![&*path],
        vec![&*path, "--chunk-size", "65536", "-j", "2"],
        vec![&*with_times],
    ] {
        let r = analyze_json(&args);
        check_against_truth(&r, &w.truth, "csv");
        let mut c = comparable(&r);
        // (one file, one header, where the deliveries have one each)
        c["quality"]["files"] = serde_json::Value::Null;
        assert_eq!(c, text, "{args:?}");
    }
}

/// A Parquet file of eight chunks or more (an export of the world's deliveries, a row group
/// each) is read a part a worker, as a large text input is: two workers' report is one
/// worker's, byte for byte, and the truth, by either Parquet reader, and the ENI tables spill
/// as the parts are read. (Until 2026-12-06 one Parquet file, however large, was read by one
/// worker into one table, spilled only at its end: a month in one file took one core and
/// memory without bound.) A part that fails sends the file to one worker whole, so that a
/// broken file counts and says what it does read whole.
#[test]
fn a_large_parquet_file_is_read_a_part_a_worker() {
    use crate::support::{bin, stdout};
    let w = world(
        &spec(11, FieldSet::V5),
        &[Encoding::Parquet, Encoding::Text],
    );
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("vpc-export.parquet");
    crate::support::parquet_export(w.dir.path(), &export, |_, _| true);
    let export = export.display().to_string();
    let json = ["analyze", "--format", "json", "-q"];
    let whole = run(&[&json[..], &["-j", "1", &export]].concat());
    assert!(whole.status.success(), "{}", stderr(&whole));
    let r: Report = serde_json::from_slice(&whole.stdout).unwrap();
    check_against_truth(&r, &w.truth, "one Parquet export");
    let rows = r.analysis.quality.files[0].counts.lines;
    let parts = crate::support::IN_PARTS;
    for reader in ["fast", "arrow"] {
        let o = bin()
            .args([&json[..], &parts[..], &[&*export]].concat())
            .env("FLOWCOST_SHOW_SPILL", "1")
            .env("FLOWCOST_PARQUET_READER", reader)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), stdout(&whole), "{reader}");
        let runs = crate::cli::spill_runs(&stderr(&o));
        assert!(runs > 1, "{reader}: spilled {runs} times: {}", stderr(&o));
    }
    // the same rows in one row group of pages of 100 rows: read in windows of its rows, a
    // window a worker (until 2026-12-07 one part, on one worker), its tables spilled as they
    // are read; and read whole, one worker
    let text: String = {
        let mut all = String::new();
        for f in crate::support::files_under(std::path::Path::new(&w.path(Encoding::Text))) {
            let body = std::fs::read_to_string(f).unwrap();
            let skip = if all.is_empty() {
                0
            } else {
                body.find('\n').unwrap() + 1
            };
            all += &body[skip..];
        }
        all
    };
    let one = dir.path().join("vpc-export-one-group.parquet");
    crate::support::text_as_parquet_in_pages(&text, &one, 100);
    {
        // (the parts the engine reads it in, for `IN_PARTS`'s chunk size: windows)
        use flowcost::format::{fields::ENGINE_FIELDS, parquet};
        let b = bytes::Bytes::from(std::fs::read(&one).unwrap());
        let file = parquet::prepare(&b, ENGINE_FIELDS, false, |_| {}).unwrap();
        let parts = file.parts(Some(4096));
        assert_eq!(file.row_groups(), 1);
        assert!(
            parts.len() > 1 && parts.iter().all(|p| p.rows.is_some()),
            "{parts:?}"
        );
    }
    let one = one.display().to_string();
    let whole = run(&[&json[..], &["-j", "1", &one]].concat());
    assert!(whole.status.success(), "{}", stderr(&whole));
    let r: Report = serde_json::from_slice(&whole.stdout).unwrap();
    check_against_truth(&r, &w.truth, "one row group");
    let part = bin()
        .args([&json[..], &parts[..], &[&*one]].concat())
        .env("FLOWCOST_SHOW_SPILL", "1")
        .output()
        .unwrap();
    assert!(part.status.success(), "{}", stderr(&part));
    assert_eq!(stdout(&part), stdout(&whole), "one row group");
    // (its tables spilled as its batches of rows are read, not only at its end)
    let runs = crate::cli::spill_runs(&stderr(&part));
    assert!(runs > 1, "one row group: spilled {runs} times");
    // a GZIP page of a row group in the middle that does not inflate (its size's bytes
    // changed): the rows before it count, the file is a failed input, exit 7, either way
    let broken = dir.path().join("vpc-export-broken.parquet");
    crate::support::break_a_middle_row_group(std::path::Path::new(&export), &broken);
    let broken = broken.display().to_string();
    let whole = run(&[&json[..], &["-j", "1", &broken]].concat());
    let split = run(&[&json[..], &parts[..], &[&*broken]].concat());
    assert_eq!(whole.status.code(), Some(7), "{}", stderr(&whole));
    assert_eq!(split.status.code(), Some(7), "{}", stderr(&split));
    assert_eq!(stdout(&split), stdout(&whole));
    let r: Report = serde_json::from_slice(&split.stdout).unwrap();
    let f = &r.analysis.quality.files[0];
    let error = f.error.as_deref().unwrap_or_default();
    assert!(error.contains("parquet stopped after row"), "{error}");
    assert!(f.counts.counted > 0 && f.counts.lines < rows, "{f:?}");
    // parts of several thousand rows, which spill as they are read: the runs of the parts
    // read before the broken one are dropped with them
    let large = [
        "-j",
        "2",
        "--chunk-size",
        "131072",
        "--max-enis-in-memory",
        "1",
    ];
    let split = run(&[&json[..], &large[..], &[&*broken]].concat());
    assert_eq!(split.status.code(), Some(7), "{}", stderr(&split));
    assert_eq!(
        stdout(&split),
        stdout(&whole),
        "parts spilling as they are read"
    );
}

/// The world's text deliveries as Athena's `UNLOAD … WITH (format = 'JSON')` writes a table
/// of them (an object a record, names with `_`, numbers as numbers, `null` for `-`; a file
/// without an extension), and as Spark writes it (null fields left out, times formatted):
/// the truth, whole and split into chunks. (Until 2026-12-05 every line was malformed, a JSON
/// line without a message, exit 3.)
#[test]
fn a_world_unloaded_as_json_is_the_same_world() {
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Text]);
    let from = std::path::PathBuf::from(w.path(Encoding::Text));
    let (mut athena, mut spark) = (String::new(), String::new());
    for f in crate::support::files_under(&from) {
        let text = std::fs::read_to_string(f).unwrap();
        let mut lines = text.lines();
        let names: Vec<String> = (lines.next().unwrap().split(' '))
            .map(|n| n.replace('-', "_"))
            .collect();
        for line in lines {
            let mut a = serde_json::Map::new();
            let mut s = serde_json::Map::new();
            for (k, v) in names.iter().zip(line.split(' ')) {
                let value = match (v, v.parse::<u64>()) {
                    ("-", _) => serde_json::Value::Null,
                    (_, Ok(n)) => n.into(),
                    (v, Err(_)) => v.into(),
                };
                if !value.is_null() {
                    let spark = match (k.as_str(), v.parse::<i64>()) {
                        ("start" | "end", Ok(t)) => flowcost::time::format_instant(t)
                            .replace('Z', ".000Z")
                            .into(),
                        _ => value.clone(),
                    };
                    s.insert(k.clone(), spark);
                }
                a.insert(k.clone(), value);
            }
            athena += &(serde_json::Value::Object(a).to_string() + "\n");
            spark += &(serde_json::Value::Object(s).to_string() + "\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let text = comparable(&analyze_json(&[&w.path(Encoding::Text)]));
    for (name, body) in [
        ("20260901_000000_00001_athena", athena),
        ("part-00000-spark.json", spark),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let path = path.display().to_string();
        for args in [
            vec![&*path],
            vec![&*path, "--chunk-size", "65536", "-j", "2"],
        ] {
            let r = analyze_json(&args);
            check_against_truth(&r, &w.truth, &format!("{name} {args:?}"));
            let mut c = comparable(&r);
            c["quality"]["repeats"] = serde_json::Value::Null;
            let mut t = text.clone();
            t["quality"]["repeats"] = serde_json::Value::Null;
            assert_eq!(c, t, "{name} {args:?}");
        }
    }
}

/// A batch of CloudWatch Logs subscription data holding `lines` as its events' messages.
fn subscription_batch(kind: &str, lines: &[&str]) -> String {
    let events: Vec<serde_json::Value> = (lines.iter().enumerate())
        .map(|(i, l)| serde_json::json!({"id": i.to_string(), "timestamp": 1_788_220_800_000u64, "message": l}))
        .collect();
    serde_json::json!({
        "messageType": kind, "owner": "111122223333", "logGroup": "vpc-flow-logs",
        "logStream": "eni-all", "subscriptionFilters": ["to-firehose"], "logEvents": events,
    })
    .to_string()
}

fn gzipped(text: &str) -> Vec<u8> {
    gzipped_bytes(text.as_bytes())
}

fn gzipped_bytes(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b).unwrap();
    gz.finish().unwrap()
}

/// The world's text deliveries as Firehose writes what a CloudWatch Logs subscription filter
/// sends it to S3: each batch of events gzipped alone, the members one after another, a
/// control message among them; every fifth object decompressed by Firehose (no extension),
/// its batches one a line, and every fifth gzipped again by Firehose. With the layout given
/// (`--fields`, as for any text without a header): the truth, and the text's analysis; all
/// of it in one object, split among workers too. A member failing its check: the events of
/// the members before it counted, none of its own, the input failed. (Until 2026-12-05 such
/// objects were refused.)
#[test]
fn a_world_sent_through_cloudwatch_logs_and_firehose_is_the_same_world() {
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Text]);
    let from = std::path::PathBuf::from(w.path(Encoding::Text));
    let dir = tempfile::tempdir().unwrap();
    let mut header = String::new();
    let mut records: Vec<String> = Vec::new();
    for (i, f) in crate::support::files_under(&from).into_iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let mut lines = text.lines();
        header = lines.next().unwrap().to_string();
        let lines: Vec<&str> = lines.collect();
        records.extend(lines.iter().map(|l| l.to_string()));
        let mut batches: Vec<String> = lines
            .chunks(37)
            .map(|c| subscription_batch("DATA_MESSAGE", c))
            .collect();
        let control = "CWL CONTROL MESSAGE: Checking health of destination Firehose.";
        batches.insert(
            batches.len() / 2,
            subscription_batch("CONTROL_MESSAGE", &[control]),
        );
        if i % 5 == 0 {
            // (named as Firehose names its objects: no extension)
            let path = dir
                .path()
                .join(format!("vpc-flow-logs-1-2026-09-01-00-05-{i}"));
            std::fs::write(path, batches.join("\n")).unwrap();
            continue;
        }
        let members: Vec<Vec<u8>> = batches.iter().map(|b| gzipped(b)).collect();
        let path = dir.path().join(format!("firehose-{i}.gz"));
        match i % 5 {
            // (Firehose's own compression on as well)
            1 => std::fs::write(path, gzipped_bytes(&members.concat())).unwrap(),
            _ => std::fs::write(path, members.concat()).unwrap(),
        }
    }
    assert!(header.starts_with("version "), "{header}");
    let all = dir.path().display().to_string();
    let r = analyze_json(&["--fields", &header, &all]);
    check_against_truth(&r, &w.truth, "cloudwatch");
    let mut text = comparable(&analyze_json(&[&w.path(Encoding::Text)]));
    let mut c = comparable(&r);
    for v in [&mut text, &mut c] {
        // (the files' names carry no flow-log id: their flows are sampled, as an export's)
        v["quality"]["repeats"] = serde_json::Value::Null;
    }
    assert_eq!(c, text);
    // kept beside the deliveries they came from: a second flow log of every ENI (no id in
    // their names), set aside, the figures those of the deliveries
    let (twice, code) =
        crate::support::analyze_json_code(&["--fields", &header, &all, &w.path(Encoding::Text)]);
    assert_eq!(code, Some(0));
    assert_eq!(twice.analysis.classes, w.truth.nat);
    assert_eq!(twice.analysis.total, w.truth.nat_total);
    let q = &twice.analysis.quality.lines;
    // (one copy's records, rejected ones too, set aside)
    let once = &r.analysis.quality.lines;
    assert_eq!(q.duplicate_flow_log, once.counted + once.rejected, "{q:?}");

    // all of it in one large object, Firehose's decompression on: split among workers too
    let records: Vec<&str> = records.iter().map(|r| r.as_str()).collect();
    let whole = dir.path().join("whole");
    std::fs::create_dir(&whole).unwrap();
    let batches: Vec<String> = (records.chunks(37))
        .map(|c| subscription_batch("DATA_MESSAGE", c))
        .collect();
    std::fs::write(whole.join("vpc-flow-logs-1"), batches.join("\n")).unwrap();
    let whole = whole.display().to_string();
    for how in [&["-j", "1"][..], &["-j", "2", "--chunk-size", "65536"]] {
        let r = analyze_json(&[how, &["--fields", &header, &whole]].concat());
        check_against_truth(&r, &w.truth, &format!("one object, {how:?}"));
    }

    // the second member's check damaged: the first member's events, then the failure
    let mut members: Vec<Vec<u8>> = (records[..3 * 37].chunks(37))
        .map(|c| gzipped(&subscription_batch("DATA_MESSAGE", c)))
        .collect();
    let m = &mut members[1];
    let crc = m.len() - 8;
    m[crc] ^= 0x55;
    let damaged = dir.path().join("damaged").join("firehose.gz");
    std::fs::create_dir(damaged.parent().unwrap()).unwrap();
    std::fs::write(&damaged, members.concat()).unwrap();
    let damaged = damaged.display().to_string();
    let (r, code) = crate::support::analyze_json_code(&["--fields", &header, &damaged]);
    assert_eq!(code, Some(7));
    let f = &r.analysis.quality.files[0];
    assert_eq!(f.counts.lines, 37, "{f:?}");
    let error = f.error.as_deref().unwrap();
    assert!(error.contains("damaged"), "{error}");
}

#[test]
fn v2_world_needs_the_nat_named_and_then_is_exact() {
    let w = world(&spec(12, FieldSet::V2), &[Encoding::Gz]);
    let o = run(&["analyze", "-q", &w.path(Encoding::Gz)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("--nat-eni"), "{msg}");
    for eni in &w.truth.nat_enis {
        assert!(msg.contains(eni.as_str()), "candidate {eni} listed: {msg}");
    }
    let mut args: Vec<&str> = Vec::new();
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni", e.as_str()]);
    }
    let p = w.path(Encoding::Gz);
    args.push(&p);
    let r = analyze_json(&args);
    check_against_truth(&r, &w.truth, "v2 --nat-eni");
    assert_eq!(r.analysis.method.legs, Legs::Public);
    let mut args: Vec<&str> = Vec::new();
    for ip in &w.truth.nat_ips {
        args.extend(["--nat-ip", ip.as_str()]);
    }
    args.push(&p);
    check_against_truth(&analyze_json(&args), &w.truth, "v2 --nat-ip");

    // a stale or mistyped name, where no record can show translation: not a report of zero
    // bytes (exit 3), the message giving the ways out
    let o = run(&["analyze", "-q", "--nat-eni", "eni-0stale", &p]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let msg = stderr(&o);
    assert!(
        msg.contains("the NAT gateways given (eni-0stale) appear in no counted record, though"),
        "{msg}"
    );
    assert!(msg.contains("--client-side-estimate"), "{msg}");
    // asked to estimate from the clients' records instead: a report
    let r = analyze_json(&["--nat-eni", "eni-0stale", "--client-side-estimate", &p]);
    assert!(r.analysis.total > 0);
    // every gateway named and one name more: the figures exact, the extra name a warning
    let mut args = vec!["--nat-eni", "eni-0stale"];
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni", e.as_str()]);
    }
    args.push(&p);
    let r = analyze_json(&args);
    check_against_truth(&r, &w.truth, "v2, a name more");
    assert_eq!(r.analysis.quality.given_nat_enis_not_seen, ["eni-0stale"]);
    let mut cmd = vec!["analyze", "-q", "--format", "json"];
    cmd.extend(&args);
    let o = run(&cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the NAT ENI eni-0stale given appears in no counted record"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn v7_world_attributes_ecr_pulls_to_ecs_services() {
    let w = world(&spec(13, FieldSet::V7), &[Encoding::Gz]);
    let r = analyze_json(&[&w.path(Encoding::Gz)]);
    check_against_truth(&r, &w.truth, "v7");
    check_subnets(&r, &w.truth, "v7");
    assert_eq!(r.analysis.ecr.pulls, w.truth.ecr_pulls);
    assert!(ecr_error(&r, &w.truth) <= ECR_MAX_ERROR);
    let services: Vec<&str> = r
        .analysis
        .ecr
        .by_service
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    for s in w.truth.ecr_by_service.keys() {
        assert!(services.contains(&s.as_str()), "{s} in {services:?}");
    }
    for s in &r.analysis.ecr.by_service {
        let truth = w.truth.ecr_by_service[&s.service] as f64;
        assert!(
            (s.bytes as f64 - truth).abs() / truth <= ECR_MAX_ERROR_PER_SERVICE,
            "{}: {} vs {truth}",
            s.service,
            s.bytes
        );
    }
}

#[test]
fn nat_only_logging_is_still_exact() {
    let mut s = spec(14, FieldSet::V5);
    s.nat_only = true;
    let w = world(&s, &[Encoding::Gz]);
    let r = analyze_json(&[&w.path(Encoding::Gz)]);
    check_against_truth(&r, &w.truth, "nat-only");
}

/// The NAT-leg method's bounds on generated NAT-only worlds (README, "How ECR is estimated"),
/// with and without address reuse, with and without the tasks given (`--ecs-tasks`), under
/// 1-minute and 10-minute aggregation.
pub const ECR_NAT_LEGS_MAX_ERROR: f64 = 0.06;
pub const ECR_NAT_LEGS_MAX_ERROR_PER_SERVICE: f64 = 0.10;

#[test]
fn nat_only_worlds_estimate_ecr_from_the_nat_legs() {
    let intervals = [Interval::OneMinute, Interval::TenMinutes];
    for (reuse, interval) in [false, true]
        .into_iter()
        .flat_map(|r| intervals.map(|i| (r, i)))
    {
        let mut s = spec(16, FieldSet::V5);
        s.nat_only = true;
        s.reuse = reuse;
        s.tasks_per_day = 60;
        s.interval = interval;
        let w = world(&s, &[Encoding::Gz]);
        let t = &w.truth;
        let error = |r: &Report| {
            (r.analysis.ecr.bytes as f64 - t.ecr_layer_bytes as f64) / t.ecr_layer_bytes as f64
        };
        // without the tasks: idle gaps, and AWS API openings where an address is reused
        // within minutes (and queue workers that fetch an object after an API call must not
        // pass for pulls)
        let r = analyze_json(&[&w.path(Encoding::Gz)]);
        let err = error(&r);
        assert!(
            err.abs() <= ECR_NAT_LEGS_MAX_ERROR,
            "reuse {reuse}, {interval:?}, no tasks: ECR error {err}"
        );
        let pulls = r.analysis.ecr.pulls as f64;
        assert!(
            (pulls - t.ecr_pulls as f64).abs() <= 0.05 * t.ecr_pulls as f64,
            "reuse {reuse}, {interval:?}: {pulls} pulls against {}",
            t.ecr_pulls
        );
        // with them (describe-tasks), every known start cuts its address's records
        let r = analyze_json(&[&w.path(Encoding::Gz), "--ecs-tasks", &w.ecs_tasks()]);
        let label = &format!("nat-only, reuse {reuse}, {interval:?}");
        check_against_truth(&r, t, label);
        let e = &r.analysis.ecr;
        assert_eq!(
            e.basis,
            flowcost::analysis::EcrBasis::NatPrivateLegs,
            "{label}"
        );
        let err = error(&r);
        assert!(
            err.abs() <= ECR_NAT_LEGS_MAX_ERROR,
            "{label}: ECR error {err}"
        );
        // labelled by the describe-tasks output, per service
        for (service, &truth) in &t.ecr_by_service {
            let got = e
                .by_service
                .iter()
                .find(|s| &s.service == service)
                .map_or(0, |s| s.bytes);
            let err = (got as f64 - truth as f64).abs() / truth as f64;
            assert!(
                err <= ECR_NAT_LEGS_MAX_ERROR_PER_SERVICE,
                "{label}, {service}: {got} against {truth}"
            );
        }
    }
}

#[test]
fn nat_only_v2_logs_say_the_ecr_share_is_unknown() {
    let mut s = spec(17, FieldSet::V2);
    s.nat_only = true;
    let w = world(&s, &[Encoding::Gz]);
    let mut args = vec!["analyze".to_string(), "-q".into(), w.path(Encoding::Gz)];
    for e in &w.truth.nat_enis {
        args.extend(["--nat-eni".to_string(), e.clone()]);
    }
    let o = run(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("of which ECR image layers: unknown (no task ENI is logged"),
        "{out}"
    );
    assert!(
        !out.contains("of which ECR image layers (estimate)"),
        "{out}"
    );
}

#[test]
fn parallel_equals_single_threaded() {
    let w = world(&spec(15, FieldSet::V5), &[Encoding::Gz]);
    let p = w.path(Encoding::Gz);
    let one = analyze_json(&["--threads", "1", &p]);
    for n in ["2", "3", "8"] {
        let many = analyze_json(&["--threads", n, &p]);
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            serde_json::to_string(&one).unwrap(),
            "--threads {n}"
        );
    }
    check_against_truth(&one, &w.truth, "threads");
}

#[test]
fn month_filter_keeps_exactly_the_days_inside() {
    let mut s = spec(16, FieldSet::V5);
    s.start = 1_790_726_400; // 2026-09-30
    s.days = 2;
    let w = world(&s, &[Encoding::Gz]);
    let r = analyze_json(&["--month", "2026-09", &w.path(Encoding::Gz)]);
    let want = w.truth.nat_by_day["2026-09-30"];
    assert_eq!(r.analysis.classes, want);
    assert!(r.analysis.quality.lines.outside_time > 0);
    assert!(r.analysis.quality.reconciled);
    assert_eq!(r.analysis.period.days, 30.0);
}

#[test]
fn a_gateway_endpoint_mid_period_leaves_only_the_skipped_subnet_on_the_nat() {
    let mut s = spec(17, FieldSet::V5);
    s.days = 2;
    s.s3_endpoint_at = Some(s.start + 86_400);
    s.endpoint_skips_subnet = Some("subnet-0d44dd44dd44dd44d".into());
    let w = world(&s, &[Encoding::Gz]);
    assert!(w.truth.s3_via_endpoint > 0);
    let left: Vec<&String> = w.truth.nat_s3_after_endpoint_by_subnet.keys().collect();
    assert_eq!(left, vec!["subnet-0d44dd44dd44dd44d"]);
    let p = w.path(Encoding::Gz);
    // whole period still exact against the truth
    check_against_truth(&analyze_json(&[&p]), &w.truth, "endpoint world");
    // after the change, S3 on the NAT comes from the skipped subnet alone
    let after = analyze_json(&["--since", "2026-09-02", &p]);
    let s3_subnets: Vec<&str> = after
        .analysis
        .by_subnet
        .iter()
        .filter(|g| g.classes.s3.total() > 0)
        .map(|g| g.key.as_str())
        .collect();
    assert_eq!(s3_subnets, vec!["subnet-0d44dd44dd44dd44d"]);
    assert_eq!(
        after.analysis.classes.s3,
        w.truth.nat_by_day["2026-09-02"].s3
    );
}

/// The whole-file inflate (libdeflate, files read from disk) and the streaming inflate (the
/// same gzip members concatenated on standard input) read a world identically.
#[test]
fn whole_file_and_streaming_inflate_agree() {
    let w = world(&spec(17, FieldSet::V5), &[Encoding::Gz]);
    let p = w.path(Encoding::Gz);
    let by_path = analyze_json(&[&p]);
    let mut all = Vec::new();
    for f in crate::support::files_under(std::path::Path::new(&p)) {
        all.extend(std::fs::read(f).unwrap());
    }
    let cat = w.dir.path().join("all.gz");
    std::fs::write(&cat, &all).unwrap();
    let o = crate::support::bin()
        .args(["analyze", "-q", "--format", "json", "-"])
        .stdin(std::fs::File::open(&cat).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let by_stream: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(by_stream.analysis.classes, by_path.analysis.classes);
    assert_eq!(by_stream.analysis.classes, w.truth.nat);
    let (s, f) = (
        &by_stream.analysis.quality.lines,
        &by_path.analysis.quality.lines,
    );
    assert_eq!(
        (s.lines, s.counted, s.headers),
        (f.lines, f.counted, f.headers)
    );
}

#[test]
fn records_long_after_the_ip_ranges_document_say_to_update_it() {
    // the built-in document is of 2026-08-22; a world logged from 2026-12-01 is classified by
    // it (the generator draws its addresses from it, so the figures stay exact), but a
    // document that old may miss ranges AWS added since: the report and stderr say so
    let mut s = spec(19, FieldSet::V5);
    s.start = 1_796_083_200; // 2026-12-01
    let w = world(&s, &[Encoding::Gz]);
    let p = w.path(Encoding::Gz);
    let r = analyze_json(&[&p]);
    check_against_truth(&r, &w.truth, "logged after the ip-ranges");
    let q = &r.analysis.quality;
    let kinds: Vec<WarningKind> = q.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WarningKind::StaleIpRanges]);
    let note = &q.warnings[0].message;
    assert!(q.notes.contains(note));
    assert!(
        note.starts_with("The ip-ranges document in use was made 102 days before the last record"),
        "{note}"
    );
    let o = run(&["analyze", "-q", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: The ip-ranges document in use was made 102 days"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("Note: The ip-ranges document"));
    // the sample's world, ten days after the document: no such note
    let fresh = world(&spec(19, FieldSet::V5), &[Encoding::Gz]);
    let r = analyze_json(&[&fresh.path(Encoding::Gz)]);
    assert!(r.analysis.quality.warnings.is_empty());
    assert!(!(r.analysis.quality.notes.iter()).any(|n| n.starts_with("The ip-ranges document")));
}

/// A generated world's text with the clients of one subnet made IPv6-only: every client of
/// 10.0.32.0/20 whose address is even gets `prefix` + its IPv4 address as its IPv6 one and
/// reaches every public remote through NAT64 (`64:ff9b::` + the remote), so that on the NAT
/// ENI its leg joins its IPv6 address and the NAT64 one (the NAT's own address gone), while
/// the public legs stay IPv4; its private peers get IPv6 addresses too. `pkt` keeps the
/// `pkt-*` fields (else they are left out, as in v2's layout). Returns the files written and
/// the bytes of the NAT ENIs' rewritten legs.
fn nat64_world(
    w: &crate::support::GenWorld,
    out: &std::path::Path,
    prefix: u128,
    pkt: bool,
) -> u64 {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let client = |a: Ipv4Addr| {
        let o = a.octets();
        (o[..2] == [10, 0] && o[2] & 0xf0 == 32 && o[3] % 2 == 0)
            .then(|| Ipv6Addr::from(prefix | u128::from(u32::from(a))))
    };
    let nat64 = |a: Ipv4Addr| Ipv6Addr::from((0x64_ff9b_u128 << 96) | u128::from(u32::from(a)));
    let private = |a: Ipv4Addr| flowcost::format::is_private(&IpAddr::V4(a));
    let mut nat_legs = 0u64;
    let files = crate::support::files_under(&w.dir.path().join(Encoding::Text.dir()));
    for (n, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let mut lines = text.lines();
        let names: Vec<&str> = lines.next().unwrap().split(' ').collect();
        let at = |name: &str| names.iter().position(|x| *x == name).unwrap();
        let addrs = [
            at("srcaddr"),
            at("dstaddr"),
            at("pkt-srcaddr"),
            at("pkt-dstaddr"),
        ];
        let keep: Vec<usize> = (0..names.len())
            .filter(|i| pkt || !addrs[2..].contains(i))
            .collect();
        let row = |f: &[String]| {
            keep.iter()
                .map(|i| f[*i].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut body = row(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>()) + "\n";
        for l in lines {
            let mut f: Vec<String> = l.split(' ').map(String::from).collect();
            let ips: Option<Vec<Ipv4Addr>> = addrs.iter().map(|i| f[*i].parse().ok()).collect();
            if let Some(ips) = ips.filter(|ips| ips.iter().any(|a| client(*a).is_some())) {
                let remote = ips.iter().copied().find(|a| !private(*a));
                for (i, a) in addrs.iter().zip(&ips) {
                    f[*i] = match (client(*a), remote) {
                        (Some(c), _) => c.to_string(),
                        (None, Some(r)) => nat64(r).to_string(),
                        (None, None) => {
                            Ipv6Addr::from(prefix | 0xffff_0000_0000 | u128::from(u32::from(*a)))
                                .to_string()
                        }
                    };
                }
                if remote.is_some() && w.truth.nat_enis.contains(&f[at("interface-id")]) {
                    nat_legs += f[at("bytes")].parse::<u64>().unwrap();
                }
            }
            body += &(row(&f) + "\n");
        }
        std::fs::write(out.join(format!("{n:04}.log")), body).unwrap();
    }
    nat_legs
}

/// NAT64 on a generated world with ECS fields (half of one subnet's clients IPv6-only, as
/// below): their image pulls, found on the NAT's legs, go to the ECS service their own ENIs
/// name, so that every service's estimate is within the stated error of the truth and none
/// is `unknown` (before 2026-12-06 three of the 24 pulls were, and `web` was 19 % short), and
/// their NAT bytes go to those services too.
#[test]
fn nat64_clients_pulls_go_to_their_services() {
    let w = world(&spec(11, FieldSet::V7), &[Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let legs = nat64_world(&w, dir.path(), 0x2600_1f18_0001_0d44_u128 << 64, true);
    assert!(legs > 0, "some NAT legs made NAT64");
    let r = analyze_json(&[&dir.path().display().to_string()]);
    check_against_truth(&r, &w.truth, "v7, IPv6 clients");
    let ecr = &r.analysis.ecr;
    assert_eq!(ecr.pulls, w.truth.ecr_pulls);
    let services: Vec<&str> = ecr.by_service.iter().map(|s| s.service.as_str()).collect();
    assert!(!services.contains(&"unknown"), "{services:?}");
    assert_eq!(services.len(), w.truth.ecr_by_service.len());
    for s in &ecr.by_service {
        let truth = w.truth.ecr_by_service[&s.service] as f64;
        let error = (s.bytes as f64 - truth).abs() / truth;
        assert!(error <= ECR_MAX_ERROR_PER_SERVICE, "{}: {error}", s.service);
    }
    // and their NAT bytes too: every byte of the NAT under a service
    let by_svc = &r.analysis.by_ecs_service;
    assert!(by_svc.iter().all(|g| g.key != "unknown"), "{by_svc:?}");
    let sum: u64 = by_svc.iter().map(|g| g.total).sum();
    assert_eq!(sum, w.truth.nat_total);
}

/// NAT64 on a generated world: the clients of one subnet made IPv6-only (half of them, so
/// that their NAT also translates IPv4 clients' legs on the same days) leave every NAT figure
/// by class, day and gateway as the generator's truth has it: their legs on the NAT ENI are
/// private legs, counted with the IPv4 clients' (`pkt-*` logged), or held in the public legs
/// (v2's layout, the NAT named; the clients' addresses here of a private IPv6 range, whose
/// legs were once counted as public legs too). With `pkt-*` the IPv6 clients are attributed
/// (each to its subnet, by its own ENI's NAT64 legs) and their pulls estimated from the
/// NAT's legs: every pull found.
#[test]
fn nat64_clients_leave_the_nat_figures_exact() {
    let w = world(&spec(11, FieldSet::V5), &[Encoding::Text]);
    let gua = 0x2600_1f18_0001_0d44_u128 << 64;
    let ula = 0xfd00_0000_0001_0d44_u128 << 64;
    for (prefix, pkt) in [(gua, true), (ula, false)] {
        let dir = tempfile::tempdir().unwrap();
        let legs = nat64_world(&w, dir.path(), prefix, pkt);
        assert!(legs > 0, "some NAT legs made NAT64");
        let path = dir.path().display().to_string();
        let nats = w.truth.nat_enis.join(",");
        let mut args = vec![path.as_str()];
        if !pkt {
            args.extend(["--nat-eni", &nats]);
        }
        let r = analyze_json(&args);
        let label = if pkt {
            "v5, IPv6 clients"
        } else {
            "v2 layout, ULA clients"
        };
        check_against_truth(&r, &w.truth, label);
        let nat64: u64 = r.analysis.gateways.iter().map(|g| g.nat64_bytes).sum();
        match pkt {
            true => {
                // (a day of this small world on which the NAT had only NAT64 clients is
                // counted on its public legs)
                assert_ne!(r.analysis.method.legs, Legs::Public);
                assert!(nat64 > 0 && nat64 <= legs, "{nat64} of {legs}");
                // the IPv6 clients attributed from the NAT's legs, their pulls estimated
                // from those legs within the stated error
                let subnets: u64 = r.analysis.by_subnet.iter().map(|g| g.total).sum();
                assert_eq!(subnets, w.truth.nat_total);
                let subnet = |k: &str| {
                    r.analysis
                        .by_subnet
                        .iter()
                        .find(|g| g.key == k)
                        .map_or(0, |g| g.total)
                };
                // each IPv6 client described by its own ENI's NAT64 legs: every subnet as
                // the truth has it, none unknown (before 2026-12-06 theirs were)
                assert!(w
                    .truth
                    .nat_by_subnet
                    .contains_key("subnet-0d44dd44dd44dd44d"));
                for (k, c) in &w.truth.nat_by_subnet {
                    assert_eq!(subnet(k), c.total(), "{k}");
                }
                assert_eq!(subnet("unknown"), 0);
                assert_eq!(r.analysis.ecr.pulls, w.truth.ecr_pulls);
                assert!(
                    ecr_error(&r, &w.truth) <= ECR_MAX_ERROR,
                    "{}",
                    ecr_error(&r, &w.truth)
                );
                assert!(r
                    .analysis
                    .gateways
                    .iter()
                    .all(|g| g.cross_check.as_ref().is_none_or(|c| c.agrees)));
            }
            false => assert_eq!((r.analysis.method.legs, nat64), (Legs::Public, 0)),
        }
    }
}

/// A world's text deliveries copied under `to` as if its VPC were in `region`: the region
/// in their key paths and in their records' `region` field.
fn moved_to_region(w: &crate::support::GenWorld, region: &str, to: &std::path::Path) {
    let from = w.dir.path();
    for f in crate::support::files_under(from) {
        let rel = f.strip_prefix(from).unwrap().to_str().unwrap();
        if !rel.ends_with(".log") || rel.starts_with("cur/") {
            continue;
        }
        let dst = to.join(rel.replace("us-east-1", region));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(dst, text.replace(" us-east-1 ", &format!(" {region} "))).unwrap();
    }
}

/// NAT gateways in two regions priced differently (a central bucket of every region's flow
/// logs) are refused, naming them, rather than priced at one region's rates; each region
/// apart is priced at its own; two regions priced alike are priced together, every byte.
#[test]
fn gateways_in_regions_priced_differently_are_refused_and_each_apart_is_priced() {
    let a = world(&spec(61, FieldSet::V5), &[Encoding::Text]);
    let b = world(&spec(62, FieldSet::V5), &[Encoding::Text]);
    assert!(a
        .truth
        .nat_enis
        .iter()
        .all(|e| !b.truth.nat_enis.contains(e)));
    let (tokyo, oregon) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    moved_to_region(&b, "ap-northeast-1", tokyo.path());
    moved_to_region(&b, "us-west-2", oregon.path());
    let here = a.path(Encoding::Text);
    let (t, o) = (
        tokyo.path().to_str().unwrap(),
        oregon.path().to_str().unwrap(),
    );

    let out = run(&["analyze", "-q", &here, t]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains(
            "the NAT gateways carried bytes in regions priced differently (ap-northeast-1: "
        ) && e.contains(" at $0.062/GB, interface endpoints $0.013/AZ-hour; us-east-1: "),
        "{e}"
    );
    assert!(out.stdout.is_empty(), "no report");

    let alone = analyze_json(&[t]);
    assert_eq!(
        (alone.cost.region.as_str(), alone.cost.prices.nat_per_gb),
        ("ap-northeast-1", 0.062)
    );
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    let near = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1.0);
    assert!(near(
        alone.cost.nat_processing.period,
        gib(b.truth.nat_total) * 0.062
    ));

    // priced alike: both regions' bytes, at the one price
    let both = analyze_json(&[&here, o]);
    assert_eq!(both.analysis.total, a.truth.nat_total + b.truth.nat_total);
    assert!(near(
        both.cost.nat_processing.period,
        gib(both.analysis.total) * 0.045
    ));
}

/// Copy world `w`'s text logs and inventory into `to` as those of another VPC: its VPC,
/// subnet and flow-log ids changed, its addresses kept (two VPCs of one address space, as a
/// central bucket holds their flow logs).
fn moved_to_vpc(w: &crate::support::GenWorld, to: &std::path::Path) {
    let moved = |s: &str| {
        s.replace("vpc-0a1b2c3d4e5f60718", "vpc-0feedbeefcafe0001")
            .replace("subnet-0", "subnet-9")
            .replace("fl-0", "fl-9")
    };
    let from = w.dir.path();
    for f in crate::support::files_under(from) {
        let rel = f.strip_prefix(from).unwrap().to_str().unwrap();
        if !(rel.starts_with("text/") || rel.starts_with("inventory/")) {
            continue;
        }
        let dst = to.join(moved(rel));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        let text_moved = moved(&text);
        assert!(
            text_moved != text || text.is_empty(),
            "{rel}: nothing moved"
        );
        std::fs::write(dst, text_moved).unwrap();
    }
}

/// Two VPCs of one address space (each `10.0.0.0/16`, as most are), their flow logs read
/// together: an address in each is two clients. Each VPC's NAT-only task starts, its clients'
/// subnets and its inventory's placing of them are its own, so one run of both gives what
/// the two runs apart give, added (where an address was taken for one client across both
/// VPCs, the NAT-only pulls of these worlds fell by a fifth and the subnets' bytes went to
/// the other VPC's subnets, exit 0).
#[test]
fn two_vpcs_of_one_address_space_read_together_are_each_their_own() {
    let make = |seed, nat_only| {
        let mut s = spec(seed, FieldSet::V5);
        s.nat_only = nat_only;
        s.reuse = true;
        s.tasks_per_day = 60;
        world(&s, &[Encoding::Text])
    };
    let (a, b) = (make(71, true), make(72, true));
    let other = tempfile::tempdir().unwrap();
    moved_to_vpc(&b, other.path());
    let pa = a.path(Encoding::Text);
    let pb = other.path().join("text").display().to_string();
    // `--inventory FILE` for each file of a world's inventory
    let inv = |w: &std::path::Path| -> Vec<String> {
        let files = crate::support::files_under(&w.join("inventory"));
        (files.iter())
            .flat_map(|f| ["--inventory".to_string(), f.display().to_string()])
            .collect()
    };
    let (ia, ib) = (inv(a.dir.path()), inv(other.path()));
    let args = |parts: &[&[String]]| -> Vec<String> { parts.concat() };
    let json =
        |args: Vec<String>| analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let ecr = |r: &Report| {
        let e = &r.analysis.ecr;
        [e.task_starts, e.pulls, e.bytes]
    };
    let added = |x: &Report, y: &Report| -> [u64; 3] {
        let (x, y) = (ecr(x), ecr(y));
        [x[0] + y[0], x[1] + y[1], x[2] + y[2]]
    };
    let subnets = |rs: &[&Report]| -> std::collections::BTreeMap<String, ClassBytes> {
        let rows = rs.iter().flat_map(|r| &r.analysis.by_subnet);
        rows.map(|g| (g.key.clone(), g.classes)).collect()
    };

    // NAT-only logs of both, with each one's inventory
    let (pa_, pb_) = ([pa.clone()], [pb.clone()]);
    let apart = [json(args(&[&pa_, &ia])), json(args(&[&pb_, &ib]))];
    let top = ["--top".to_string(), "100000".to_string()];
    let both = json(args(&[&pa_, &pb_, &ia, &ib, &top]));
    assert_eq!(both.analysis.total, a.truth.nat_total + b.truth.nat_total);
    assert_eq!(ecr(&both), added(&apart[0], &apart[1]));
    assert!(ecr(&both)[1] > 0);
    let placed = subnets(&[&both]);
    assert_eq!(placed, subnets(&[&apart[0], &apart[1]]));
    assert!(
        placed.keys().any(|k| k.starts_with("subnet-0"))
            && placed.keys().any(|k| k.starts_with("subnet-9")),
        "{placed:?}"
    );
    // (the two share addresses: a row a client, each naming its VPC)
    let rows = &both.analysis.top_clients;
    let ips: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.ip.as_str()).collect();
    assert!(ips.len() < rows.len(), "no address in both VPCs");
    assert!(rows.iter().all(|r| r.vpc.is_some()));
    assert!(apart[0]
        .analysis
        .top_clients
        .iter()
        .all(|r| r.vpc.is_none()));

    // the tasks' own ENIs logged in one VPC, NAT-only logs in the other
    let c = make(71, false);
    let pc = c.path(Encoding::Text);
    let logged = analyze_json(&[&pc]);
    let both = analyze_json(&[&pc, &pb]);
    assert_eq!(both.analysis.total, c.truth.nat_total + b.truth.nat_total);
    assert_eq!(ecr(&both), added(&logged, &apart[1]));
    let apart_b = analyze_json(&[&pb]);
    assert_eq!(subnets(&[&both]), subnets(&[&logged, &apart_b]));
}
