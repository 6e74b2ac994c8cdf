//! Any bytes as a line starting a JSON object: the one-pass reader of records written as JSON
//! objects (`text::flat_object`) declines them or reads the members serde_json reads.
//! (CloudWatch Logs subscription batches are reached through `decode_any`, whose corpus
//! `seed.sh` seeds with some.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut line = b"{".to_vec();
    line.extend_from_slice(data);
    assert!(flowcost::format::text::flat_object_agrees(&line));
});
