//! `flowcost generate`: build a synthetic world and write its flow logs, `truth.json`, the
//! ECS tasks and the VPC inventory as the AWS CLI would print them.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::GenerateArgs;
use crate::error::Error;
use crate::generate::{self, Spec};

/// Run `flowcost generate`.
pub fn run(a: &GenerateArgs) -> Result<(), Error> {
    let spec = spec_of(a)?;
    let bar = Bar::new(a);
    let world = generate::build(&spec);
    bar.writing();
    let out = Path::new(&a.out);
    std::fs::create_dir_all(out).map_err(io(format!("creating {}", a.out)))?;
    let written = generate::write_world_with(&world, out, &a.encodings, &|done, total| {
        bar.0.set_length(total);
        bar.0.set_position(done);
    })
    .map_err(io(format!("writing into {}", a.out)))?;
    bar.0.finish_and_clear();
    write_documents(&world, out)?;
    eprintln!(
        "flowcost: wrote {} records in {} files ({} bytes), truth.json, ecs-tasks.json, the VPC inventory (inventory/) and the bill (cur/) under {}",
        written.records, written.files, written.bytes, a.out
    );
    Ok(())
}

/// The world's specification from the flags, checked: a whole day to start, positive sizes.
fn spec_of(a: &GenerateArgs) -> Result<Spec, Error> {
    let start = crate::time::parse_instant(&a.start)
        .filter(|s| s.rem_euclid(86_400) == 0)
        .ok_or_else(|| Error::Usage(format!("--start {}: expected a date YYYY-MM-DD", a.start)))?;
    if a.days == 0 || a.tasks_per_day == 0 || !(a.volume > 0.0 && a.volume.is_finite()) {
        return Err(Error::Usage(
            "--days, --tasks-per-day and --volume must be positive".into(),
        ));
    }
    let s3_endpoint_at = (a.s3_endpoint_at.as_deref())
        .map(|s| {
            crate::time::parse_instant(s).ok_or_else(|| {
                Error::Usage(format!("--s3-endpoint-at {s}: expected YYYY-MM-DD[THH:MM]"))
            })
        })
        .transpose()?;
    Ok(Spec {
        seed: a.seed,
        start,
        days: a.days,
        tasks_per_day: a.tasks_per_day,
        volume: a.volume,
        fields: a.fields,
        nat_only: a.nat_only,
        s3_endpoint_at,
        endpoint_skips_subnet: a.endpoint_skips_subnet.clone(),
        reuse: a.address_reuse,
        interval: a.aggregation_interval,
    })
}

/// The progress shown on a terminal (hidden elsewhere): a spinner while the world is
/// simulated, then a bar of the delivery windows written.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(a: &GenerateArgs) -> Bar {
        let bar = match std::io::stderr().is_terminal() {
            true => indicatif::ProgressBar::new_spinner(),
            false => indicatif::ProgressBar::hidden(),
        };
        bar.set_message(format!(
            "simulating {} days x {} task starts",
            a.days, a.tasks_per_day
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Bar(bar)
    }

    fn writing(&self) {
        self.0.disable_steady_tick();
        self.0.set_style(
            indicatif::ProgressStyle::with_template(
                "{wide_bar} {pos}/{len} delivery windows written, {eta} left",
            )
            .expect("valid template"),
        );
    }
}

/// An I/O error's conversion, with what was being done.
fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |err| Error::Io { context, err }
}

/// The documents beside the flow logs: `truth.json`, `ecs-tasks.json`, the VPC inventory
/// (`inventory/`) and the bill (`cur/`).
fn write_documents(world: &generate::World, out: &Path) -> Result<(), Error> {
    let truth = serde_json::to_string_pretty(&world.truth()).expect("truth serialises") + "\n";
    std::fs::write(out.join("truth.json"), truth).map_err(io("writing truth.json".into()))?;
    let tasks = serde_json::to_string_pretty(&world.describe_tasks()).expect("tasks serialise");
    std::fs::write(out.join("ecs-tasks.json"), tasks + "\n")
        .map_err(io("writing ecs-tasks.json".into()))?;
    let inv = out.join("inventory");
    std::fs::create_dir_all(&inv).map_err(io("creating inventory/".into()))?;
    for (name, doc) in world.describe_vpc() {
        let text = serde_json::to_string_pretty(&doc).expect("documents serialise") + "\n";
        std::fs::write(inv.join(name), text).map_err(io(format!("writing inventory/{name}")))?;
    }
    generate::write_cur(world, &out.join("cur")).map_err(io("writing the bill (cur/)".into()))
}
