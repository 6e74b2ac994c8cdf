//! Any bytes, as an input arrives from disk or S3: sniffed (gzip, Parquet, text), opened and
//! decoded into the real account stage under three layouts. Never a panic, and every line
//! read lands in exactly one bucket.
#![no_main]

use flowcost::account::{Accumulator, FileStats, Params};
use flowcost::classify::IpRanges;
use flowcost::format::{fields, parquet, text, Layout};
use flowcost::source::{self, Opened};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // libfuzzer-sys aborts on any panic, even one flowcost catches and reports (the parquet
    // crate's, on some corrupt files): let caught ones pass, as they do in the binary; one
    // that escapes still aborts the process (it cannot unwind out of the fuzz target).
    init: flowcost::format::parquet::quiet_guarded_panics(),
    |data: &[u8]| {
    static RANGES: std::sync::OnceLock<IpRanges> = std::sync::OnceLock::new();
    let ranges = RANGES.get_or_init(IpRanges::embedded);
    let layouts = [
        Layout::default_v2(),
        Layout::new(fields::parse_field_list(
            "version interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start end action log-status region az-id subnet-id traffic-path ecs-service-name",
        )),
        Layout::new(fields::parse_field_list("interface-id bytes")),
    ];
    let layout = layouts[data.first().map_or(0, |b| *b as usize % 3)]
        .clone()
        .projected(fields::ENGINE_FIELDS);
    let params = Params::default(); // the default settings: a 3-minute pull window
    let mut acc = Accumulator::new(&params);
    let mut sink = acc.file(ranges, &params, FileStats::default(), ranges.region_id("us-east-1"));
    let opened = source::open_received(bytes::Bytes::copy_from_slice(data), None, |_| {});
    match opened {
        Ok(Opened::Memory(m, _)) => {
            text::decode_slice(m.bytes(), &layout, &mut sink);
        }
        Ok(Opened::Text(r, _)) => {
            let _ = text::decode(r, &layout, &mut sink);
        }
        Ok(Opened::ParquetBytes(b)) => {
            let _ = parquet::decode(b, layout.keep, &mut sink);
        }
        Ok(Opened::ParquetFile(_)) | Err(_) => {}
    }
    let c = sink.stats.counts.clone();
    assert_eq!(c.accounted(), c.lines, "every line in one bucket");
    sink.finish(None);
});
