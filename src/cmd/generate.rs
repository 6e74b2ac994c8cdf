//! `flowcost generate`: build a synthetic world and write its flow logs and `truth.json`.

use std::path::Path;

use crate::cli::GenerateArgs;
use crate::error::Error;
use crate::generate::{self, Spec};

/// Run `flowcost generate`.
pub fn run(a: &GenerateArgs) -> Result<(), Error> {
    let start = crate::time::parse_instant(&a.start)
        .filter(|s| s.rem_euclid(86_400) == 0)
        .ok_or_else(|| Error::Usage(format!("--start {}: expected a date YYYY-MM-DD", a.start)))?;
    if a.days == 0 || a.tasks_per_day == 0 || !(a.volume > 0.0 && a.volume.is_finite()) {
        return Err(Error::Usage(
            "--days, --tasks-per-day and --volume must be positive".into(),
        ));
    }
    let spec = Spec {
        seed: a.seed,
        start,
        days: a.days,
        tasks_per_day: a.tasks_per_day,
        volume: a.volume,
        fields: a.fields,
        nat_only: a.nat_only,
        s3_endpoint_at: a
            .s3_endpoint_at
            .as_deref()
            .map(|s| {
                crate::time::parse_instant(s).ok_or_else(|| {
                    Error::Usage(format!("--s3-endpoint-at {s}: expected YYYY-MM-DD[THH:MM]"))
                })
            })
            .transpose()?,
        endpoint_skips_subnet: a.endpoint_skips_subnet.clone(),
    };
    let world = generate::build(&spec);
    let out = Path::new(&a.out);
    let io = |context: String| move |err| Error::Io { context, err };
    std::fs::create_dir_all(out).map_err(io(format!("creating {}", a.out)))?;
    let written = generate::write_world(&world, out, &a.encodings)
        .map_err(io(format!("writing into {}", a.out)))?;
    let truth = serde_json::to_string_pretty(&world.truth()).expect("truth serialises") + "\n";
    std::fs::write(out.join("truth.json"), truth).map_err(io("writing truth.json".into()))?;
    eprintln!(
        "flowcost: wrote {} records in {} files ({} bytes) and truth.json under {}",
        written.records, written.files, written.bytes, a.out
    );
    Ok(())
}
