//! Any bytes as a partial result's header line and body, its checksum made right: what stands
//! behind the checksum (a forged or damaged file whose sum was made again) is refused with an
//! error, or merged and reported in every format, never a panic or a wrapped sum. The
//! ip-ranges document is the built-in one whatever the header names (parsed once, not once an
//! input), so the fuzzer spends its time on the header's settings and the ENI tables.
#![no_main]

use std::sync::{Arc, OnceLock};

use flowcost::classify::IpRanges;
use flowcost::cmd::merge;
use flowcost::partial::{self, Partial};
use flowcost::pipeline;
use flowcost::report::Format;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn ranges() -> Arc<IpRanges> {
    static RANGES: OnceLock<Arc<IpRanges>> = OnceLock::new();
    RANGES
        .get_or_init(|| Arc::new(IpRanges::embedded()))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    // the format line, the input (a header line, then the body), the body's checksum
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let body = &data[newline + 1..];
    let mut file = format!("{}\n", partial::FORMAT).into_bytes();
    file.extend_from_slice(data);
    file.extend_from_slice(&Sha256::digest(body));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("p.partial").display().to_string();
    std::fs::write(&path, &file).expect("the partial written");
    let Ok(p) = Partial::open(&path) else {
        return;
    };
    let parts = vec![p];
    if partial::check_compatible(&parts).is_err() {
        return;
    }
    let range = pipeline::merged_range(&parts);
    let temp = dir.path().display().to_string();
    let Ok(cfg) = merge::config(&parts, range, ranges(), Some(&temp), true) else {
        return;
    };
    let Ok(read) = pipeline::read_partials(&cfg, parts) else {
        return;
    };
    if let Ok(report) = pipeline::finish(&cfg, read) {
        for f in [Format::Json, Format::Table, Format::Markdown, Format::Csv] {
            assert!(!report.render(f).is_empty());
        }
    }
});
