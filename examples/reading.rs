//! Reading alone: flowcost's own readers over the inputs given, with a sink that reads from
//! each record what the account stage would read and keeps nothing. Its time, against
//! `flowcost analyze` on the same inputs, is what the account stage costs; `benches/reading.sh`
//! runs the two in alternation.
//!
//! ```text
//! cargo run --release --example reading -- [-j THREADS] PATH...
//! ```
//!
//! The sink reads a record's names only where the reader says they changed, its region
//! likewise, its packet addresses only where both ends are private (a NAT's translated leg
//! or internal traffic) and always its ENI, addresses, bytes, times, action, status and
//! traffic path: what the account stage asks of the reader, so that fields the reader leaves
//! in their columns cost here what they cost there. Inputs are read one a thread, as the
//! engine reads inputs below its split size.
use flowcost::format::{is_private, parquet, text, Layout, Malformed, Record, Sink};
use flowcost::source::{self, Opened};
use rayon::prelude::*;
use std::hint::black_box;
use std::process::ExitCode;

/// Counts what it is given; reads what the account stage would.
#[derive(Default)]
struct Reading {
    records: u64,
    other: u64,
}

impl Sink for Reading {
    fn record(&mut self, r: &Record<'_>) {
        self.records += 1;
        black_box((r.interface_id, r.bytes, r.start, r.end, r.action, r.status));
        black_box((&r.srcaddr, &r.dstaddr, r.traffic_path()));
        if !r.same_names {
            black_box(r.names());
        }
        if !r.same_region {
            black_box(r.region());
        }
        if let (Some(s), Some(d)) = (&r.srcaddr, &r.dstaddr) {
            if is_private(s) && is_private(d) {
                black_box((r.pkt_src_ref(), r.pkt_dst_ref()));
            }
        }
    }
    fn malformed(&mut self, _: u64, _: Malformed) {
        self.other += 1;
    }
    fn header(&mut self) {
        self.other += 1;
    }
    fn blank(&mut self) {
        self.other += 1;
    }
    fn defers(&self) -> bool {
        true
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 0;
    if args.first().is_some_and(|a| a == "-j") && args.len() > 1 {
        threads = match args[1].parse() {
            Ok(n) => n,
            Err(_) => return usage(),
        };
        args.drain(..2);
    }
    if args.is_empty() {
        return usage();
    }
    let inputs = match source::expand(&args, false) {
        Ok(e) => e.inputs,
        Err(e) => {
            eprintln!("reading: {e}");
            return ExitCode::from(2);
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
    let Ok(pool) = pool else {
        eprintln!("reading: no thread pool");
        return ExitCode::from(2);
    };
    let layout = Layout::default_v2().projected(flowcost::format::fields::ENGINE_FIELDS);
    let (read, failed) = pool.install(|| {
        inputs
            .par_iter()
            .map(|input| {
                let mut sink = Reading::default();
                let ok = match source::open(input, &std::env::temp_dir(), |_| {}) {
                    Err(_) => false,
                    Ok(Opened::Memory(m, _)) => {
                        text::decode_slice(m.bytes(), &layout, &mut sink);
                        true
                    }
                    Ok(Opened::Text(r, _)) => text::decode(r, &layout, &mut sink).is_ok(),
                    Ok(Opened::ParquetFile(f)) => {
                        parquet::decode(f, layout.keep, &mut sink).is_ok()
                    }
                    Ok(Opened::ParquetBytes(b)) => {
                        parquet::decode(b, layout.keep, &mut sink).is_ok()
                    }
                    // flowcost's own output: not a flow log, nothing to read (as `analyze`)
                    Ok(Opened::Own(_)) => true,
                };
                (sink.records, u64::from(!ok))
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    println!("{read} records read from {} inputs", inputs.len());
    if failed > 0 {
        eprintln!("reading: {failed} input(s) could not be read to the end");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: reading [-j THREADS] PATH...");
    ExitCode::from(2)
}
