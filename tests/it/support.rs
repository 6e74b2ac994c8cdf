//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use flowcost::account::{Accumulator, FileStats, Params};
use flowcost::analysis::{self, Analysis, AnalysisError};
use flowcost::classify::IpRanges;
use flowcost::config::RunConfig;
use flowcost::format::{text, Layout};
use flowcost::generate::{self, Encoding, FieldSet, Spec, Truth};

pub fn ranges() -> &'static IpRanges {
    static R: OnceLock<IpRanges> = OnceLock::new();
    R.get_or_init(IpRanges::embedded)
}

/// The VPC inventory's documents that `flowcost generate` writes.
pub const INVENTORY_DOCS: [&str; 4] = [
    "nat-gateways.json",
    "subnets.json",
    "route-tables.json",
    "vpc-endpoints.json",
];

/// The shared reference data, or `None` (with a printed note) when it is absent.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("NOTE: ../shared/data is absent: skipping the tests on public samples (CI always has it)");
        None
    }
}

/// The settings of a run with every default (3-minute pull window, 10-minute grace, top 10).
pub fn options() -> RunConfig {
    RunConfig::default()
}

/// The account stage's parameters for a run with these settings.
pub fn params(opt: &RunConfig) -> Params {
    Params::new(std::sync::Arc::new(opt.clone()))
}

/// Accumulate text inputs (each with a path naming its region, or none).
pub fn accumulate(inputs: &[(&str, &str)], params: &Params, region: Option<&str>) -> Accumulator {
    let r = ranges();
    let mut acc = Accumulator::new(params);
    for (path, body) in inputs {
        let region_id = flowcost::source::region_from_key(path)
            .or(region)
            .and_then(|x| r.region_id(x));
        let mut sink = acc.file(
            r,
            params,
            FileStats {
                path: path.to_string(),
                ..Default::default()
            },
            region_id,
        );
        text::decode(body.as_bytes(), &Layout::default_v2(), &mut sink).expect("in-memory read");
        sink.finish(None);
    }
    acc
}

pub fn analyse_text(
    body: &str,
    opt: &RunConfig,
    region: Option<&str>,
) -> Result<Analysis, AnalysisError> {
    analysis::analyse(
        &accumulate(&[("mem.log", body)], &params(opt), region),
        ranges(),
        opt,
    )
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

/// The binary, isolated from the user's ip-ranges cache (tests that need one set their own).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowcost"));
    c.env(
        "FLOWCOST_CACHE_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/no-such-cache"),
    );
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run flowcost")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A generated world on disk (kept for the test binary's life, one per spec).
pub struct GenWorld {
    pub dir: tempfile::TempDir,
    pub truth: Truth,
}

impl GenWorld {
    pub fn path(&self, enc: Encoding) -> String {
        self.dir.path().join(enc.dir()).display().to_string()
    }
    /// The world's tasks as `aws ecs describe-tasks` prints them.
    pub fn ecs_tasks(&self) -> String {
        self.dir.path().join("ecs-tasks.json").display().to_string()
    }
    /// The bill as a CUR 2.0 export: `csv` or `parquet`.
    pub fn cur(&self, encoding: &str) -> String {
        self.dir
            .path()
            .join("cur")
            .join(encoding)
            .display()
            .to_string()
    }
    /// One of the VPC inventory's documents (`nat-gateways.json`, …).
    pub fn inventory(&self, name: &str) -> String {
        self.dir
            .path()
            .join("inventory")
            .join(name)
            .display()
            .to_string()
    }
    /// `--inventory` for each of the world's inventory documents.
    pub fn inventory_args(&self) -> Vec<String> {
        INVENTORY_DOCS
            .iter()
            .flat_map(|d| ["--inventory".to_string(), self.inventory(d)])
            .collect()
    }
}

pub fn spec(seed: u64, fields: FieldSet) -> Spec {
    Spec {
        seed,
        start: 1_788_220_800, // 2026-09-01
        days: 2,
        tasks_per_day: 12,
        volume: 0.05,
        fields,
        nat_only: false,
        s3_endpoint_at: None,
        endpoint_skips_subnet: None,
        reuse: false,
        interval: Default::default(),
    }
}

pub fn world(spec: &Spec, encodings: &[Encoding]) -> GenWorld {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = generate::build(spec);
    generate::write_world(&w, dir.path(), encodings).expect("write world");
    let tasks = serde_json::to_vec(&w.describe_tasks()).unwrap();
    std::fs::write(dir.path().join("ecs-tasks.json"), tasks).expect("write ecs-tasks.json");
    std::fs::create_dir_all(dir.path().join("inventory")).unwrap();
    for (name, doc) in w.describe_vpc() {
        let text = serde_json::to_vec_pretty(&doc).unwrap();
        std::fs::write(dir.path().join("inventory").join(name), text).unwrap();
    }
    generate::write_cur(&w, &dir.path().join("cur")).expect("write the bill");
    GenWorld {
        dir,
        truth: w.truth(),
    }
}

/// Run analyze with JSON output: the report, whatever the exit code, and the exit code.
pub fn analyze_json_code(args: &[&str]) -> (flowcost::report::Report, Option<i32>) {
    let mut full = vec!["analyze", "--format", "json", "-q"];
    full.extend_from_slice(args);
    let o = run(&full);
    let r = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("flowcost {full:?}: {e}: {}", stderr(&o)));
    (r, o.status.code())
}

/// Run analyze with JSON output and parse the report.
pub fn analyze_json(args: &[&str]) -> flowcost::report::Report {
    let mut full = vec!["analyze", "--format", "json", "-q"];
    full.extend_from_slice(args);
    let o = run(&full);
    assert!(
        o.status.success(),
        "flowcost {full:?} failed: {}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("report JSON parses")
}

/// One partial file a day (`analyze --since DAY --until DAY+1 --partial-out`) of `logs`, for
/// `days` days from `start`, written into `dir`; their paths.
pub fn daily_partials(logs: &str, start: i64, days: i64, dir: &Path) -> Vec<String> {
    let day = |k: i64| flowcost::time::format_instant(start + k * 86_400);
    (0..days)
        .map(|d| {
            let out = dir.join(format!("day-{d:02}.fcp")).display().to_string();
            let o = run(&[
                "analyze",
                "-q",
                logs,
                "--since",
                &day(d),
                "--until",
                &day(d + 1),
                "--partial-out",
                &out,
            ]);
            assert!(o.status.success(), "day {d}: {}", stderr(&o));
            out
        })
        .collect()
}

/// `records` (lines of a world's text) as copy `k` of them: each record's `start` and `end`
/// (the eleventh and twelfth fields, in the default and v5 layouts) moved by `k` hours, so
/// that copies are other records, not the same records read again (which a run reports,
/// exit 8), nor the same flows recorded again at the same time (likewise). For fixtures that
/// repeat a world's records to grow large.
pub fn copy_of_records(records: &[u8], k: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() + records.len() / 50);
    let later = |f: &[u8]| {
        let t = std::str::from_utf8(f).ok()?.parse::<i64>().ok()?;
        Some((t + 3600 * k as i64).to_string())
    };
    for line in records.split_inclusive(|&b| b == b'\n') {
        let mut fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let times =
            (fields.get(10).and_then(|f| later(f))).zip(fields.get(11).and_then(|f| later(f)));
        match times {
            Some((start, end)) if k > 0 && fields.len() > 12 => {
                fields[10] = start.as_bytes();
                fields[11] = end.as_bytes();
                out.extend_from_slice(&fields.join(&b' '));
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// The rows of the Parquet deliveries under `from` (not the bill's), in path order, from
/// the `keep` range of files, written into one file at `to`: an export without a flow-log id,
/// in other bytes than the deliveries (as Athena or Spark would write one), GZIP-compressed
/// as AWS's deliveries are, a row group a delivery.
pub fn parquet_export(from: &Path, to: &Path, keep: impl Fn(usize, usize) -> bool) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let files: Vec<_> = files_under(from)
        .into_iter()
        .filter(|f| {
            f.to_str().unwrap().ends_with(".log.parquet")
                && !f.strip_prefix(from).unwrap().starts_with("cur")
        })
        .collect();
    let n = files.len();
    let mut writer = None;
    for (_, f) in files.iter().enumerate().filter(|(i, _)| keep(*i, n)) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let w = writer.get_or_insert_with(|| {
                let out = std::fs::File::create(to).unwrap();
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::GZIP(Default::default()))
                    .build();
                parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(props)).unwrap()
            });
            w.write(&batch).unwrap();
        }
        if let Some(w) = writer.as_mut() {
            w.flush().unwrap(); // (the delivery's rows end a row group)
        }
    }
    writer.expect("rows written").close().unwrap();
}

/// The Parquet file at `from` written to `to` with a column flowcost does not read
/// (`padding`, incompressible text, stored plain) added to every row, so that `to` is longer
/// than `at_least` bytes while holding the same records.
pub fn padded_parquet(from: &Path, to: &Path, at_least: u64) {
    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(from).unwrap()).unwrap();
    let rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
    let each = (at_least / rows + 1) as usize;
    let mut fields: Vec<Field> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("padding", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let out = std::fs::File::create(to).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props)).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let pad: StringArray = (0..batch.num_rows())
            .map(|_| {
                (0..each)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from(b'a' + (state % 26) as u8)
                    })
                    .collect::<String>()
            })
            .map(Some)
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(pad));
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
    assert!(std::fs::metadata(to).unwrap().len() > at_least);
}

/// The Parquet file at `from` written to `to` with the last GZIP page of the `bytes` column of
/// its middle row group broken (its stored size changed): the file fails there.
pub fn break_a_middle_row_group(from: &Path, to: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    let md = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .unwrap();
    let group = md.row_group(md.num_row_groups() / 2);
    let column = (0..group.num_columns())
        .find(|&c| group.column(c).column_descr().name() == "bytes")
        .unwrap();
    let (start, len) = group.column(column).byte_range();
    let end = (start + len) as usize;
    bytes[end - 4..end].copy_from_slice(&[0xff; 4]);
    std::fs::write(to, bytes).unwrap();
}

/// Flags that read an input of 32 KiB or more in parts (chunks of text, row groups of
/// Parquet) on two workers, their ENI tables spilled after every part.
pub const IN_PARTS: [&str; 6] = [
    "-j",
    "2",
    "--chunk-size",
    "4096",
    "--max-enis-in-memory",
    "1",
];

/// A flow-log text (a header line, then records) written as a Parquet file at `path`, as AWS
/// delivers it: a column a field (`-` in names as `_`), `bytes`, `start` and `end` as 64-bit
/// integers, every other field as UTF-8 (`-` as null).
pub fn text_as_parquet(text: &str, path: &Path) {
    text_as_parquet_in_groups(text, path, None)
}

/// [`text_as_parquet`], with row groups of at most `rows` rows where given.
pub fn text_as_parquet_in_groups(text: &str, path: &Path, rows: Option<usize>) {
    let props = rows.map(|n| {
        parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(n))
            .build()
    });
    text_as_parquet_with(text, path, props)
}

/// [`text_as_parquet`], in one row group of pages of at most `rows` rows, each column's
/// dictionary at most 1 KiB (the values past it written plain).
pub fn text_as_parquet_in_pages(text: &str, path: &Path, rows: usize) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(None)
        .set_data_page_row_count_limit(rows)
        .set_write_batch_size(rows)
        .set_dictionary_page_size_limit(1024)
        .build();
    text_as_parquet_with(text, path, Some(props))
}

/// [`text_as_parquet`], written with `props` where given.
fn text_as_parquet_with(
    text: &str,
    path: &Path,
    props: Option<parquet::file::properties::WriterProperties>,
) {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(' ').collect()).collect();
    let cols = names.iter().enumerate().map(|(i, n)| {
        let vals = rows.iter().map(|r| r[i]);
        let a: ArrayRef = match *n {
            "bytes" | "start" | "end" => std::sync::Arc::new(Int64Array::from(
                vals.map(|v| v.parse::<i64>().ok()).collect::<Vec<_>>(),
            )),
            _ => std::sync::Arc::new(StringArray::from(
                vals.map(|v| (v != "-").then_some(v)).collect::<Vec<_>>(),
            )),
        };
        (n.replace('-', "_"), a)
    });
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), props).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A copy of a world's text logs (`Encoding::Text`) in `dir` without the records of the NAT
/// ENI `eni` that start before `until`: that gateway's flow log turned on late, so its logs
/// cover less time than the run's.
pub fn with_flow_log_on_late(w: &GenWorld, eni: &str, until: i64, dir: &Path) {
    with_gateway_cut(w, eni, until, dir, false)
}

/// The world's text logs written into `dir` without the records of NAT gateway ENI `eni`
/// that start before `until`, and with a NODATA record of that ENI for every 10-minute window
/// from the world's start up to `until` (in the flow log's first delivery), as AWS writes
/// them for an interface that is logged and idle: that gateway quiet at the start.
pub fn with_gateway_quiet_until(w: &GenWorld, eni: &str, until: i64, dir: &Path) {
    with_gateway_cut(w, eni, until, dir, true)
}

fn with_gateway_cut(w: &GenWorld, eni: &str, until: i64, dir: &Path, idle_logged: bool) {
    let root = PathBuf::from(w.path(Encoding::Text));
    for (k, f) in files_under(&root).into_iter().enumerate() {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut lines = text.lines();
        let head = lines.next().expect("a header");
        let names: Vec<&str> = head.split(' ').collect();
        let at = |n: &str| names.iter().position(|x| *x == n).expect(n);
        let (i, s) = (at("interface-id"), at("start"));
        let kept = lines.filter(|l| {
            let t: Vec<&str> = l.split(' ').collect();
            t[i] != eni || t[s].parse::<i64>().unwrap() >= until
        });
        let mut body: Vec<String> = std::iter::once(head)
            .chain(kept)
            .map(String::from)
            .collect();
        if idle_logged && k == 0 {
            let window = |t: i64| {
                let token = |n: &&str| match *n {
                    "version" => "5".to_string(),
                    "account-id" => "111122223333".to_string(),
                    "interface-id" => eni.to_string(),
                    "start" => t.to_string(),
                    "end" => (t + 600).to_string(),
                    "log-status" => "NODATA".to_string(),
                    _ => "-".to_string(),
                };
                names.iter().map(token).collect::<Vec<_>>().join(" ")
            };
            body.extend((w.truth.start..until).step_by(600).map(window));
        }
        let out = dir.join(f.strip_prefix(&root).unwrap());
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, body.join("\n") + "\n").unwrap();
    }
}

/// What `of` takes of a report's NAT gateways' classes: its bytes in all, and per day with
/// each gateway over the days its own logs cover (ACCOUNTING §6), computed here by hand.
pub fn gateways_per_day(
    r: &flowcost::report::Report,
    of: impl Fn(&flowcost::analysis::ClassBytes) -> u64,
) -> (u64, f64) {
    let g = &r.analysis.gateways;
    let bytes = g.iter().map(|g| of(&g.classes)).sum();
    let per_day = (g.iter())
        .map(|g| of(&g.classes) as f64 * 86_400.0 / g.covered_seconds as f64)
        .sum();
    (bytes, per_day)
}

/// Whether two figures agree to a billionth.
pub fn near(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * y.abs().max(1.0)
}
