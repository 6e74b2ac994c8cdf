//! Any bytes, as an input arrives from disk or S3: sniffed (gzip, Parquet, text), opened and
//! decoded into the real account stage under three layouts. Never a panic, and every line
//! read lands in exactly one bucket. Gzip bytes are also read as a stream, and the two paths
//! must agree: the same text where either reads to the end or the stream's error discredits
//! nothing; where it does, the whole-buffer path's text (the members before the damaged one)
//! is where the stream's starts.
#![no_main]

use flowcost::account::{Accumulator, FileStats, Params};
use flowcost::classify::IpRanges;
use flowcost::format::{fields, parquet, text, Layout};
use flowcost::source::{self, Opened};
use libfuzzer_sys::fuzz_target;

/// The most text compared between the two gzip paths (past it, neither is compared).
const COMPARED: u64 = 100 << 20;

/// An opened input's text, up to [`COMPARED`] bytes and one more, and the error it stopped
/// on; `None` for Parquet or an input that did not open.
fn text_of(o: std::io::Result<Opened>) -> Option<(Vec<u8>, Option<std::io::Error>)> {
    use std::io::Read;
    let r: Box<dyn Read> = match o {
        Ok(Opened::Memory(m, _)) => Box::new(m),
        Ok(Opened::Text(r, _)) => r,
        _ => return None,
    };
    let mut text = Vec::new();
    let e = r.take(COMPARED + 1).read_to_end(&mut text).err();
    Some((text, e))
}

/// The whole-buffer and the streaming gzip paths agree on `data` (see the module's comment).
fn gzip_paths_agree(data: &[u8]) {
    let whole = text_of(source::open_received(
        bytes::Bytes::copy_from_slice(data),
        None,
        None,
        &std::env::temp_dir(),
        |_| {},
    ));
    let stream = text_of(source::open_stream(
        Box::new(std::io::Cursor::new(data.to_vec())),
        &std::env::temp_dir(),
        |_| {},
    ));
    let (Some((w, we)), Some((s, se))) = (whole, stream) else {
        return;
    };
    if w.len() as u64 > COMPARED || s.len() as u64 > COMPARED {
        return;
    }
    let discredited = se.as_ref().is_some_and(source::gunzip::discredits);
    if we.is_none() || se.is_none() || !discredited {
        assert_eq!(w, s, "whole {we:?}, stream {se:?}");
        assert_eq!(we.is_none(), se.is_none(), "whole {we:?}, stream {se:?}");
    } else {
        assert!(s.starts_with(&w), "whole {we:?}, stream {se:?}");
    }
}

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
    let opened = source::open_received(
        bytes::Bytes::copy_from_slice(data),
        None,
        None,
        &std::env::temp_dir(),
        |_| {},
    );
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
        Ok(Opened::ParquetFile(_) | Opened::Own(_)) | Err(_) => {}
    }
    let c = sink.stats.counts.clone();
    assert_eq!(c.accounted(), c.lines, "every line in one bucket");
    sink.finish(None);
    if data.starts_with(&[0x1f, 0x8b]) {
        gzip_paths_agree(data);
    }
});
