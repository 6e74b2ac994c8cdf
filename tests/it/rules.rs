//! ACCOUNTING.md, rule by rule, on hand-written records whose answers are computed by hand.

use flowcost::analysis::{AnalysisError, ClientsSource, Counting, EcrBasis, Legs, NatSource};
use flowcost::classify::Class;
use flowcost::cost::{self, GbUnit, PriceTable};

use crate::support::{analyse_text, options, params};

const H: &str = "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start end action log-status region az-id subnet-id\n";
/// 2026-09-01T00:00:00Z
const T: i64 = 1_788_220_800;

#[allow(clippy::too_many_arguments)]
fn line(
    eni: &str,
    src: &str,
    dst: &str,
    psrc: &str,
    pdst: &str,
    bytes: u64,
    start: i64,
    az: &str,
    subnet: &str,
) -> String {
    format!(
        "{eni} {src} {dst} {psrc} {pdst} {bytes} {start} {} ACCEPT OK us-east-1 {az} {subnet}\n",
        start + 60
    )
}

/// One task→S3 flow through a NAT, as the NAT ENI (four legs) and the task ENI (two) log it.
fn s3_flow(remote: &str, up: u64, down: u64, start: i64) -> String {
    let mut s = String::new();
    s += &line(
        "eni-nat",
        "10.0.1.5",
        "10.0.0.10",
        "10.0.1.5",
        remote,
        up,
        start,
        "use1-az1",
        "subnet-pub",
    );
    s += &line(
        "eni-nat",
        "10.0.0.10",
        remote,
        "10.0.0.10",
        remote,
        up,
        start,
        "use1-az1",
        "subnet-pub",
    );
    s += &line(
        "eni-nat",
        remote,
        "10.0.0.10",
        remote,
        "10.0.0.10",
        down,
        start,
        "use1-az1",
        "subnet-pub",
    );
    s += &line(
        "eni-nat",
        "10.0.0.10",
        "10.0.1.5",
        remote,
        "10.0.1.5",
        down,
        start,
        "use1-az1",
        "subnet-pub",
    );
    s += &line(
        "eni-task", "10.0.1.5", remote, "10.0.1.5", remote, up, start, "use1-az2", "subnet-a",
    );
    s += &line(
        "eni-task", remote, "10.0.1.5", remote, "10.0.1.5", down, start, "use1-az2", "subnet-a",
    );
    s
}

#[test]
fn rule_3_1_nat_bytes_counted_once_on_one_leg_never_on_client_enis() {
    let a = analyse_text(
        &(H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T)),
        &options(),
        None,
    )
    .unwrap();
    assert_eq!(
        a.total, 51_000,
        "four NAT records and two task records are one flow"
    );
    assert_eq!(
        (a.classes.s3.upload, a.classes.s3.download),
        (1_000, 50_000)
    );
    assert_eq!(a.method.nat_source, NatSource::Detected);
    assert_eq!(a.method.legs, Legs::Private);
    assert_eq!(a.gateways.len(), 1);
    assert_eq!(a.gateways[0].eni, "eni-nat");
    assert_eq!(a.gateways[0].private_ips, vec!["10.0.0.10"]);
    let cc = a.gateways[0].cross_check.as_ref().unwrap();
    assert_eq!((cc.counted_leg, cc.other_leg), (51_000, 51_000));
}

#[test]
fn rule_3_1_cross_check_shows_a_disagreeing_other_leg() {
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 1_000, 50_000, T)
            .replace(" 10.0.0.10 52.216.8.1 1000 ", " 10.0.0.10 52.216.8.1 1010 ");
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.total, 51_000, "the private legs are counted");
    let cc = a.gateways[0].cross_check.as_ref().unwrap();
    assert_eq!((cc.counted_leg, cc.other_leg), (51_000, 51_010));
}

#[test]
fn rule_3_1_without_pkt_fields_public_legs_are_counted() {
    // v2: no pkt-* fields; the NAT must be named
    let v2 = "interface-id srcaddr dstaddr bytes start action log-status region\n";
    let mut body = v2.to_string();
    for (eni, s, d, b) in [
        ("eni-nat", "10.0.1.5", "10.0.0.10", 1_000),
        ("eni-nat", "10.0.0.10", "52.216.8.1", 1_000),
        ("eni-nat", "52.216.8.1", "10.0.0.10", 50_000),
        ("eni-nat", "10.0.0.10", "10.0.1.5", 50_000),
        ("eni-task", "10.0.1.5", "52.216.8.1", 1_000),
        ("eni-task", "52.216.8.1", "10.0.1.5", 50_000),
    ] {
        body += &format!("{eni} {s} {d} {b} {T} ACCEPT OK us-east-1\n");
    }
    match analyse_text(&body, &options(), None) {
        Err(AnalysisError::NoNat { candidates, .. }) => assert_eq!(
            candidates[0].eni, "eni-nat",
            "the NAT is the first candidate"
        ),
        other => panic!("expected NoNat, got {other:?}"),
    }
    let mut opt = options();
    opt.nat_enis = vec!["eni-nat".into()];
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!(a.total, 51_000);
    assert_eq!(a.classes.s3.download, 50_000);
    assert_eq!(a.method.legs, Legs::Public);
    assert_eq!(a.clients_source, ClientsSource::ClientOwnRecords);
    // --nat-ip finds the same ENI
    let mut opt = options();
    opt.nat_ips = vec!["10.0.0.10".parse().unwrap()];
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!((a.total, a.gateways[0].eni.as_str()), (51_000, "eni-nat"));
}

#[test]
fn rule_3_1_filtered_exports_count_the_leg_that_is_there() {
    let all = s3_flow("52.216.8.1", 1_000, 50_000, T);
    let private: String = all
        .lines()
        .filter(|l| l.starts_with("eni-nat") && l.contains(" 10.0.1.5 "))
        .map(|l| format!("{l}\n"))
        .collect();
    let a = analyse_text(&(H.to_string() + &private), &options(), None).unwrap();
    assert_eq!((a.total, a.method.legs), (51_000, Legs::Private));
    assert!(a.gateways[0].cross_check.is_none());
    let public: String = all
        .lines()
        .filter(|l| l.starts_with("eni-nat") && !l.contains(" 10.0.1.5 "))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut opt = options();
    opt.nat_enis = vec!["eni-nat".into()];
    let a = analyse_text(&(H.to_string() + &public), &opt, None).unwrap();
    assert_eq!((a.total, a.method.legs), (51_000, Legs::Public));
}

#[test]
fn rule_3_2_bytes_are_attributed_to_clients_subnets_and_azs() {
    let a = analyse_text(
        &(H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T)),
        &options(),
        None,
    )
    .unwrap();
    assert_eq!(a.clients_source, ClientsSource::NatPrivateLegs);
    let c = &a.top_clients[0];
    assert_eq!(
        (c.ip.as_str(), c.enis.clone(), c.total),
        ("10.0.1.5", vec!["eni-task".to_string()], 51_000)
    );
    assert_eq!(a.by_subnet[0].key, "subnet-a");
    assert_eq!(a.by_az[0].key, "use1-az2");
    assert!(a.cross_az.known);
    assert_eq!(a.cross_az.bytes, 51_000, "task in az2 uses the NAT in az1");
}

#[test]
fn rule_3_3_without_nat_enis_only_a_labelled_client_side_estimate() {
    let task_only: String = s3_flow("52.216.8.1", 1_000, 50_000, T)
        .lines()
        .filter(|l| l.starts_with("eni-task"))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = H.to_string() + &task_only;
    assert!(matches!(
        analyse_text(&body, &options(), None),
        Err(AnalysisError::NoNat { .. })
    ));
    let mut opt = options();
    opt.client_side_estimate = true;
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!(a.method.counting, Counting::ClientSideEstimate);
    assert_eq!(a.total, 51_000);
    assert!(a.quality.notes.iter().any(|n| n.contains("ESTIMATE")));
}

#[test]
fn rule_3_4_reject_nodata_skipdata_are_kept_apart_and_reconciled() {
    let mut body = H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T);
    body += &format!("eni-nat 198.51.100.7 10.0.0.10 198.51.100.7 10.0.0.10 999 {T} {} REJECT OK us-east-1 use1-az1 subnet-pub\n", T + 60);
    body += &format!("eni-nat - - - - - {T} {} - NODATA us-east-1 - -\n", T + 60);
    body += &format!(
        "eni-task - - - - - {T} {} - SKIPDATA us-east-1 - -\n",
        T + 60
    );
    body += "this is not a record\n";
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.total, 51_000);
    assert_eq!((a.rejected.nat_records, a.rejected.nat_bytes), (1, 999));
    let l = &a.quality.lines;
    assert_eq!(
        (
            l.lines,
            l.headers,
            l.counted,
            l.rejected,
            l.nodata,
            l.skipdata,
            l.malformed
        ),
        (11, 1, 6, 1, 1, 1, 1)
    );
    assert!(a.quality.reconciled);
    assert_eq!(a.quality.files[0].malformed_examples[0].line, 11);
    assert!(a.quality.notes.iter().any(|n| n.contains("SKIPDATA")));
}

#[test]
fn rule_3_5_an_instance_with_secondary_ips_is_not_a_nat() {
    let body = H.to_string()
        + &line(
            "eni-inst", "10.0.1.7", "10.0.2.8", "10.0.9.9", "10.0.2.8", 500, T, "use1-az1",
            "subnet-a",
        )
        + &line(
            "eni-inst",
            "10.0.1.7",
            "52.216.8.1",
            "10.0.1.7",
            "52.216.8.1",
            700,
            T,
            "use1-az1",
            "subnet-a",
        );
    assert!(matches!(
        analyse_text(&body, &options(), None),
        Err(AnalysisError::NoNat { .. })
    ));
}

#[test]
fn rule_4_classes_by_longest_prefix_and_region() {
    let mut body = H.to_string();
    for (remote, up) in [
        ("52.216.8.1", 1),
        ("52.95.128.179", 2),
        ("52.94.0.1", 4),
        ("44.192.0.1", 8),
        ("151.101.1.1", 16),
    ] {
        body += &s3_flow(remote, up, 0, T);
    }
    let a = analyse_text(&body, &options(), None).unwrap();
    let got: Vec<u64> = Class::ALL
        .iter()
        .map(|c| a.classes.get(*c).upload)
        .collect();
    assert_eq!(
        got,
        vec![1, 4, 2, 8, 16],
        "s3, dynamodb, s3-other-region, aws-other, internet"
    );
}

#[test]
fn rule_4_region_comes_from_the_record_the_key_path_or_the_flag() {
    let no_region = "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start\n"
        .to_string()
        + &format!("eni-nat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 100 {T}\n");
    assert!(matches!(
        analyse_text(&no_region, &options(), None),
        Err(AnalysisError::UnknownRegion { bytes: 100 })
    ));
    let a = analyse_text(&no_region, &options(), Some("us-east-1")).unwrap();
    assert_eq!(a.classes.s3.download, 100);
    let a = analyse_text(&no_region, &options(), Some("eu-west-1")).unwrap();
    assert_eq!(a.classes.s3_other_region.download, 100);
    let acc = crate::support::accumulate(
        &[(
            "b/AWSLogs/1/vpcflowlogs/us-east-1/2026/09/01/x.log",
            &no_region,
        )],
        &params(&options()),
        None,
    );
    let a = flowcost::analysis::analyse(&acc, crate::support::ranges(), &options()).unwrap();
    assert_eq!(a.classes.s3.download, 100);
}

/// The header and a record an hour before `T`, so that tasks starting at `T` are new to
/// the data.
fn an_hour_of_history() -> String {
    H.to_string()
        + &line(
            "eni-old",
            "10.0.3.3",
            "10.0.3.4",
            "10.0.3.3",
            "10.0.3.4",
            10,
            T - 3_600,
            "use1-az1",
            "subnet-a",
        )
}

fn ecr_world() -> String {
    let mut body = an_hour_of_history();
    let t0 = T;
    body += &s3_flow("44.192.0.1", 500, 9_000, t0); // ECR API: first record of the task
    body += &s3_flow("52.216.8.1", 100, 30_000, t0 + 30); // layers, inside the window
    body += &s3_flow("52.216.8.1", 100, 7_000, t0 + 900); // application S3, outside
    body
}

#[test]
fn rule_5_ecr_layers_are_s3_downloads_in_the_pull_window() {
    let a = analyse_text(&ecr_world(), &options(), None).unwrap();
    assert_eq!(
        (a.ecr.task_starts, a.ecr.pulls, a.ecr.bytes),
        (1, 1, 30_000)
    );
    assert_eq!(a.ecr.share_of_s3_permille, 30_000 * 1000 / 37_200);
    let mut opt = options();
    opt.pull_window = 1_200;
    let a = analyse_text(&ecr_world(), &opt, None).unwrap();
    assert_eq!(a.ecr.bytes, 37_000);
}

#[test]
fn rule_5_ecr_never_exceeds_what_the_nat_saw() {
    // the task's own records show 30 000 B of S3 layers, but the NAT saw only 5 000 B of them
    let body = ecr_world().replace(" 30000 ", " 5000 ").replacen(
        "eni-task 52.216.8.1 10.0.1.5 52.216.8.1 10.0.1.5 5000",
        "eni-task 52.216.8.1 10.0.1.5 52.216.8.1 10.0.1.5 30000",
        1,
    );
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.classes.s3.download, 12_000);
    assert_eq!(
        a.ecr.bytes, 12_000,
        "capped by the NAT's S3 downloads for that address"
    );
}

#[test]
fn rule_5_pulls_on_a_reused_address_share_what_the_nat_saw_in_proportion() {
    // A second task later gets the same address (Fargate reuses them) and its own records
    // show 10 001 B of layers that never reached the NAT's logs: 40 001 B of pulls against
    // 37 000 B of S3 downloads the NAT saw for 10.0.1.5, shared in proportion, each share
    // rounded down (27 749.3 and 9 250.7).
    let mut body = ecr_world();
    body += &line(
        "eni-task2",
        "52.216.8.1",
        "10.0.1.5",
        "52.216.8.1",
        "10.0.1.5",
        10_001,
        T + 7_200,
        "use1-az2",
        "subnet-a",
    );
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.classes.s3.download, 37_000);
    assert_eq!((a.ecr.task_starts, a.ecr.pulls), (2, 2));
    assert_eq!(a.ecr.bytes, 27_749 + 9_250);
    let client = &a.top_clients[0];
    assert_eq!(client.ip, "10.0.1.5");
    assert_eq!(client.enis, ["eni-task", "eni-task2"]);
}

/// The NAT ENI's records only, as a flow log on the NAT gateways alone holds them.
fn nat_only(body: &str) -> String {
    body.lines()
        .filter(|l| !l.starts_with("eni-task"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn rule_5_nat_only_a_reused_address_after_an_idle_gap_is_a_new_task() {
    // the task of ecr_world (records at t0, t0 + 30 and t0 + 900: one session), then the
    // address idle for 1 000 s (more than the 900 s gap) and a second task: 20 000 B of layers
    // and, 800 s later (under the gap: the same task), application S3
    let mut body = nat_only(&ecr_world());
    let t1 = T + 900 + 1_000;
    body += &nat_only(&s3_flow("52.216.8.1", 100, 20_000, t1));
    body += &nat_only(&s3_flow("52.216.8.1", 100, 4_000, t1 + 800));
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.ecr.basis, EcrBasis::NatPrivateLegs);
    assert_eq!(
        (a.ecr.task_starts, a.ecr.pulls, a.ecr.bytes),
        (2, 2, 30_000 + 20_000)
    );
    assert!(
        a.ecr.method.contains("NAT's private legs alone"),
        "{}",
        a.ecr.method
    );
    // the same records with the task ENIs logged: the task-ENI method, as before
    let a = analyse_text(&ecr_world(), &options(), None).unwrap();
    assert_eq!(a.ecr.basis, EcrBasis::TaskEnis);
}

#[test]
fn rule_5_nat_only_a_task_on_a_just_freed_address_opens_with_an_aws_api_exchange() {
    // the task of ecr_world (last record at t0 + 900), then, well under the idle gap, a
    // second task on the address: three quiet minutes, an ECR API exchange, 20 000 B of layers
    // and, past its pull window, application S3
    let second = |quiet_then: i64, api: bool| {
        let t1 = T + 900 + quiet_then;
        let mut body = nat_only(&ecr_world());
        if api {
            body += &nat_only(&s3_flow("44.192.0.1", 500, 9_000, t1));
        }
        // three layers at once
        body += &nat_only(&s3_flow("52.216.8.1", 100, 12_000, t1 + 10));
        body += &nat_only(&s3_flow("52.216.8.2", 100, 5_000, t1 + 12));
        body += &nat_only(&s3_flow("52.216.8.3", 100, 3_000, t1 + 15));
        body += &nat_only(&s3_flow("52.216.8.1", 100, 4_000, t1 + 600));
        analyse_text(&body, &options(), None).unwrap()
    };
    let a = second(180, true);
    assert_eq!(
        (a.ecr.task_starts, a.ecr.pulls, a.ecr.bytes),
        (2, 2, 30_000 + 20_000)
    );
    // without the API exchange, or with one quiet minute only, it is the first task's traffic
    for (quiet_then, api) in [(180, false), (120, true)] {
        let a = second(quiet_then, api);
        assert_eq!(
            (a.ecr.task_starts, a.ecr.pulls, a.ecr.bytes),
            (1, 1, 30_000),
            "{quiet_then} s, API {api}"
        );
    }
    // an application's AWS API call after quiet minutes, with no S3 download after it or
    // with one (a queue message naming an object), opens nothing
    let mut body = nat_only(&ecr_world());
    body += &nat_only(&s3_flow("44.192.0.1", 500, 9_000, T + 900 + 300));
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (1, 30_000));
    body += &nat_only(&s3_flow("52.216.8.1", 100, 50_000, T + 900 + 305));
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (1, 30_000));
    // and a task known from --ecs-tasks to hold the address then rules out a new one
    let mut layers = nat_only(&ecr_world());
    let t1 = T + 900 + 180;
    layers += &nat_only(&s3_flow("44.192.0.1", 500, 9_000, t1));
    for (k, remote) in ["52.216.8.1", "52.216.8.2", "52.216.8.3"]
        .iter()
        .enumerate()
    {
        layers += &nat_only(&s3_flow(remote, 100, 1_000, t1 + 10 + k as i64));
    }
    let mut opt = options();
    let held = format!(
        r#"{{"tasks": [{{"group": "service:web", "startedAt": {T}, "stoppedAt": {},
            "attachments": [{{"details": [{{"name": "privateIPv4Address", "value": "10.0.1.5"}}]}}]}}]}}"#,
        T + 7_200
    );
    let mut tasks = flowcost::inventory::EcsTasks::default();
    tasks.add_json(held.as_bytes()).unwrap();
    opt.tasks = flowcost::config::KnownTasks::new(tasks);
    let a = analyse_text(&layers, &options(), None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (2, 33_000));
    let a = analyse_text(&layers, &opt, None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (1, 30_000));
}

#[test]
fn rule_5_nat_only_the_idle_gap_grows_with_the_aggregation_interval() {
    // 10-minute records (the default aggregation interval): a client seen in intervals 0, 1,
    // 2 and 4 (none in 3: 1 200 s between starts) is one task; a gap of 1 320 s or more
    // (twice the interval and two minutes) is a new one
    let mut body = an_hour_of_history();
    let ten = |start: i64, down: u64| {
        nat_only(&s3_flow("52.216.8.1", 100, down, start)).replace(
            &format!(" {start} {} ", start + 60),
            &format!(" {start} {} ", start + 600),
        )
    };
    for (k, down) in [(0, 30_000), (1, 10), (2, 10), (4, 10)] {
        body += &ten(T + k * 600, down);
    }
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (1, 30_000));
    assert!(
        a.ecr.method.contains("for 22 minutes or more"),
        "{}",
        a.ecr.method
    );
    body += &ten(T + 4 * 600 + 1_320, 5_000);
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!((a.ecr.task_starts, a.ecr.bytes), (2, 35_000));
}

#[test]
fn rule_5_nat_only_a_pull_that_meets_other_traffic_on_its_address() {
    // application S3 of the second task starting during its pull is inside the window
    // (counted: the estimate errs upward, as with task ENIs)...
    let mut body = nat_only(&ecr_world());
    let t1 = T + 900 + 1_000;
    body += &nat_only(&s3_flow("52.216.8.1", 100, 20_000, t1));
    body += &nat_only(&s3_flow("52.216.8.1", 100, 3_000, t1 + 60));
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!((a.ecr.pulls, a.ecr.bytes), (2, 30_000 + 23_000));
    // ...and a task that takes the address less than the gap after the last one's traffic
    // is not seen as a start: its pull stays in the first task's session (an undercount
    // the README states), and the estimate never passes what the NAT saw
    let mut body = nat_only(&ecr_world());
    body += &nat_only(&s3_flow("52.216.8.1", 100, 20_000, T + 900 + 600));
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(
        (a.ecr.task_starts, a.ecr.pulls, a.ecr.bytes),
        (1, 1, 30_000)
    );
    assert!(a.ecr.bytes <= a.classes.s3.download);
}

#[test]
fn rule_5_without_task_enis_or_pkt_fields_the_ecr_share_is_unknown() {
    // NAT-only records without pkt-*: the NAT's legs, named with --nat-eni
    let body = "interface-id srcaddr dstaddr bytes start end action log-status\n\
                eni-nat 10.0.1.5 10.0.0.10 100 1788220800 1788220860 ACCEPT OK\n\
                eni-nat 10.0.0.10 52.216.8.1 100 1788220800 1788220860 ACCEPT OK\n\
                eni-nat 52.216.8.1 10.0.0.10 30000 1788220800 1788220860 ACCEPT OK\n\
                eni-nat 10.0.0.10 10.0.1.5 30000 1788220800 1788220860 ACCEPT OK\n";
    let mut opt = options();
    opt.nat_enis = vec!["eni-nat".into()];
    let a = analyse_text(body, &opt, Some("us-east-1")).unwrap();
    assert_eq!(a.classes.s3.download, 30_000);
    assert_eq!(a.ecr.basis, EcrBasis::Unknown);
    assert!(a.ecr.unknown_reason.as_deref().unwrap().contains("pkt-"));
    assert_eq!(a.ecr.bytes, 0);
}

#[test]
fn rule_6_money_from_integer_bytes_with_a_stated_gb() {
    let gib = 1u64 << 30;
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 0, gib, T)
        + &s3_flow("151.101.1.1", 0, gib, T + 86_400 - 60);
    let a = analyse_text(&body, &options(), None).unwrap();
    let table = PriceTable::embedded();
    let c = cost::price(&a, &table, "us-east-1", None, GbUnit::Gib).unwrap();
    assert!((c.s3_gateway_endpoint_savings.period - 0.045).abs() < 1e-12);
    assert!((c.nat_processing.period - 0.09).abs() < 1e-12);
    let days = a.period.days;
    assert!((c.s3_gateway_endpoint_savings.per_30_days - 0.045 * 30.0 / days).abs() < 1e-9);
    let c = cost::price(&a, &table, "us-east-1", Some(0.1), GbUnit::Gb).unwrap();
    assert!((c.s3_gateway_endpoint_savings.period - 0.1 * gib as f64 / 1e9).abs() < 1e-12);
    assert!(cost::price(&a, &table, "xx-nowhere-1", None, GbUnit::Gib).is_err());
    // interface endpoint break-even: fixed monthly cost / (NAT price - endpoint price)
    let c = cost::price(&a, &table, "us-east-1", None, GbUnit::Gib).unwrap();
    let be = c.interface_endpoint.break_even_gb_per_30_days.unwrap();
    assert!((be - 0.01 * 720.0 / 0.035).abs() < 1e-6);
}

#[test]
fn rule_7_days_are_utc_days_of_start_and_filters_are_counted() {
    let late = T + 86_400 - 30; // 23:59:30 on 2026-09-01, ends the next day
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 10, 20, late)
        + &s3_flow("52.216.8.1", 1, 2, T + 86_400 + 10);
    let a = analyse_text(&body, &options(), None).unwrap();
    let days: Vec<(&str, u64)> = a.by_day.iter().map(|d| (d.day.as_str(), d.total)).collect();
    assert_eq!(days, vec![("2026-09-01", 30), ("2026-09-02", 3)]);
    let mut opt = options();
    opt.since = Some(T + 86_400);
    opt.until = Some(T + 2 * 86_400);
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!(a.total, 3);
    assert_eq!(a.quality.lines.outside_time, 6);
    assert!(a.quality.reconciled);
}

#[test]
fn rule_3_4_rejects_without_an_interface_are_in_the_rejected_tally_too() {
    let mut body = H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T);
    for b in [300, 400] {
        body += &format!(
            "- 198.51.100.7 10.0.0.10 - - {b} {T} {} REJECT OK us-east-1 - -\n",
            T + 60
        );
    }
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.quality.lines.rejected, 2);
    assert_eq!(
        (a.rejected.other_records, a.rejected.other_bytes),
        (2, 700),
        "one source of truth: the reconciliation's REJECT lines are the rejected records"
    );
    assert_eq!(a.total, 51_000);
}

#[test]
fn rule_2_impossible_byte_counts_are_malformed_and_sums_cannot_wrap() {
    // two records of 2^63 bytes would wrap a u64 sum to 0
    let mut body = H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T);
    for big in ["9223372036854775808", "18446744073709551615"] {
        body += &line(
            "eni-nat",
            "10.0.0.10",
            "52.216.8.1",
            "10.0.0.10",
            "52.216.8.1",
            0,
            T,
            "use1-az1",
            "subnet-pub",
        )
        .replace(" 0 1788220800 ", &format!(" {big} 1788220800 "));
    }
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.total, 51_000);
    assert_eq!(a.quality.lines.malformed, 2);
    assert!(a.quality.files[0].malformed_examples[0]
        .reason
        .contains("2^48"));
    assert!(a.quality.reconciled);

    // and a run whose records add up past the run's bound refuses the rest, counted
    let mut p = params(&options());
    p.budget = flowcost::account::RunBudget::new(60_000);
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 1_000, 50_000, T)
        + &s3_flow("52.216.8.1", 1_000, 50_000, T + 600);
    let acc = crate::support::accumulate(&[("mem.log", &body)], &p, None);
    let a = flowcost::analysis::analyse(&acc, crate::support::ranges(), &options()).unwrap();
    assert!(a.quality.lines.malformed > 0);
    assert!(a.quality.reconciled);
    assert!(a.quality.files[0].malformed_examples[0]
        .reason
        .contains("2^62"));
}

#[test]
fn rule_4_a_garbage_region_value_is_malformed_and_an_unknown_one_falls_back() {
    let flow = s3_flow("52.216.8.1", 1_000, 50_000, T);
    // garbage in the region field of one NAT record: that line is malformed, the rest counts
    let mut lines: Vec<String> = flow.lines().map(String::from).collect();
    lines[1] = lines[1].replace(" us-east-1 ", " \u{0}\u{0}\u{0}us-east-1 ");
    let body = H.to_string() + &lines.join("\n") + "\n";
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.quality.lines.malformed, 1);
    assert!(a.quality.files[0].malformed_examples[0]
        .reason
        .contains("region"));
    assert_eq!(a.classes.s3.total(), 51_000, "the private legs are intact");
    // a well-formed region that the ip-ranges data does not know: the input's region is used
    let body = H.to_string() + &flow.replace(" us-east-1 ", " xx-nowhere-9 ");
    let a = analyse_text(&body, &options(), Some("us-east-1")).unwrap();
    assert_eq!(a.classes.s3.total(), 51_000);
    assert!(a
        .quality
        .notes
        .iter()
        .any(|n| n.contains("region the ip-ranges data does not know")));
}

/// A NAT64 flow of an IPv6-only client (DNS64 gave it `64:ff9b::34d8:801`, which holds S3's
/// 52.216.8.1): the NAT ENI logs the client's leg with its IPv6 addresses (here `client`
/// and `nat_end`, `pkt-*` the same or naming the NAT64 address) and the public legs as
/// IPv4; the client's own ENI logs its view.
fn nat64_flow(client: &str, nat_end: &str, pkt_remote: &str, up: u64, down: u64) -> String {
    let (remote, v4) = ("64:ff9b::34d8:801", "52.216.8.1");
    let nat = |s: &str, d: &str, ps: &str, pd: &str, b: u64| {
        line("eni-nat", s, d, ps, pd, b, T, "use1-az1", "subnet-pub")
    };
    let own =
        |s: &str, d: &str, b: u64| line("eni-task6", s, d, s, d, b, T, "use1-az2", "subnet-a");
    [
        nat(client, nat_end, client, pkt_remote, up),
        nat(nat_end, client, pkt_remote, client, down),
        nat("10.0.0.10", v4, "10.0.0.10", v4, up),
        nat(v4, "10.0.0.10", v4, "10.0.0.10", down),
        own(client, remote, up),
        own(remote, client, down),
    ]
    .concat()
}

/// Rule 3.1 with NAT64: the IPv6 client's leg on the NAT ENI is a private leg (never a
/// public one, which would count its bytes twice where public legs are counted), classed
/// by the IPv4 address the NAT64 address holds; the client's own ENI adds nothing. Before,
/// its bytes were left out where the private legs are counted (a sixth of the truth here,
/// the legs flagged as disagreeing) and counted twice, the copy as `internet`, where the
/// public legs are.
#[test]
fn rule_3_1_nat64_legs_of_ipv6_clients_are_counted_once() {
    let v4 = s3_flow("52.216.8.1", 1_000, 50_000, T);
    let remote = "64:ff9b::34d8:801";
    for (client, nat_end, pkt) in [
        // the client's leg names the NAT64 address
        ("2600:1f18:1:2::10", remote, remote),
        // a client of a private IPv6 range (not a public leg)
        ("fd00:1::10", remote, remote),
        // the NAT's own IPv6 address, the NAT64 address in pkt-*: a translated leg
        ("2600:1f18:1:2::10", "2600:1f18:1:1::5", remote),
    ] {
        let body = H.to_string() + &v4 + &nat64_flow(client, nat_end, pkt, 2_000, 500_000);
        let a = analyse_text(&body, &options(), None).unwrap();
        let g = &a.gateways[0];
        assert_eq!(
            (a.total, g.eni.as_str()),
            (553_000, "eni-nat"),
            "{client} {nat_end}"
        );
        assert_eq!(
            (a.classes.s3.upload, a.classes.s3.download),
            (3_000, 550_000)
        );
        assert_eq!(a.classes.internet.total(), 0);
        assert_eq!(a.method.legs, Legs::Private);
        let cc = g.cross_check.as_ref().unwrap();
        assert_eq!(
            (cc.counted_leg, cc.other_leg, cc.agrees),
            (553_000, 553_000, true)
        );
        let noted = a.quality.notes.iter().any(|n| {
            n.starts_with(
                "NAT64: 502000 B (90.8% of the NAT bytes, on eni-nat) came from IPv6 clients",
            )
        });
        // the client attributed from the NAT's legs, as an IPv4 client is
        assert!(
            a.top_clients.iter().any(|c| c.ip == client),
            "{:?}",
            a.top_clients
        );
        if nat_end == remote {
            assert_eq!(g.nat64_bytes, 502_000);
            assert!(noted, "{:?}", a.quality.notes);
            // the same records as text and as Parquet (both readers), from the command line
            let dir = tempfile::tempdir().unwrap();
            let (log, pq) = (
                dir.path().join("nat64.log"),
                dir.path().join("nat64.parquet"),
            );
            std::fs::write(&log, &body).unwrap();
            crate::support::text_as_parquet(&body, &pq);
            for (input, reader) in [(&log, "fast"), (&pq, "fast"), (&pq, "arrow")] {
                let o = crate::support::bin()
                    .args(["analyze", "-q", "--format", "json"])
                    .arg(input)
                    .env("FLOWCOST_PARQUET_READER", reader)
                    .output()
                    .unwrap();
                assert_eq!(o.status.code(), Some(0), "{}", crate::support::stderr(&o));
                let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
                let g = &r.analysis.gateways[0];
                assert_eq!(
                    (r.analysis.total, g.nat64_bytes),
                    (553_000, 502_000),
                    "{input:?} {reader}"
                );
                assert_eq!(r.analysis.classes.s3.download, 550_000);
            }
        } else {
            // an ordinary translated leg
            assert_eq!(g.nat64_bytes, 0);
            assert!(!noted);
        }
    }
    // NAT64 to a private IPv4 address (64:ff9b::a00:205 is 10.0.2.5: another VPC) is, as
    // an IPv4 client's translated leg to a private remote, not a NAT byte to any class
    let private = nat64_flow(
        "2600:1f18:1:2::10",
        "64:ff9b::a00:205",
        "64:ff9b::a00:205",
        7_000,
        9_000,
    )
    .lines()
    .filter(|l| !l.contains(" 52.216.8.1 "))
    .map(|l| format!("{l}\n"))
    .collect::<String>()
    .replace("64:ff9b::34d8:801", "64:ff9b::a00:205");
    let a = analyse_text(&(H.to_string() + &v4 + &private), &options(), None).unwrap();
    assert_eq!((a.total, a.gateways[0].nat64_bytes), (51_000, 0));
    assert_eq!(a.classes.internet.total(), 0);
    // a NAT of IPv6 clients alone shows no translation: named first among the candidates
    // (forwarding between its clients and public remotes), and counted once named
    let alone = H.to_string() + &nat64_flow("2600:1f18:1:2::10", remote, remote, 2_000, 500_000);
    match analyse_text(&alone, &options(), None) {
        Err(AnalysisError::NoNat { candidates, .. }) => assert_eq!(candidates[0].eni, "eni-nat"),
        other => panic!("expected NoNat, got {other:?}"),
    }
    let mut opt = options();
    opt.nat_enis = vec!["eni-nat".into()];
    let a = analyse_text(&alone, &opt, None).unwrap();
    assert_eq!(
        (a.total, a.gateways[0].nat64_bytes),
        (502_000, 0),
        "on its public legs"
    );
    // its clients named by its NAT64 legs (pkt-* logged): said so, no pkt-* asked for
    assert_eq!(a.clients_source, ClientsSource::NatPrivateLegs);
    let said = |s: &str| a.quality.notes.iter().any(|n| n.contains(s));
    assert!(said(
        "the NAT gateways' clients are IPv6 clients of NAT64 alone"
    ));
    assert!(!said("add pkt-* fields"), "{:?}", a.quality.notes);
    // without pkt-* fields the public legs are counted, and hold the NAT64 traffic once
    let v2 = "interface-id srcaddr dstaddr bytes start action log-status region\n";
    let mut body = v2.to_string();
    for l in (v4 + &nat64_flow("fd00:1::10", remote, remote, 2_000, 500_000)).lines() {
        let f: Vec<&str> = l.split(' ').collect();
        body += &format!(
            "{} {} {} {} {T} ACCEPT OK us-east-1\n",
            f[0], f[1], f[2], f[5]
        );
    }
    let mut opt = options();
    opt.nat_enis = vec!["eni-nat".into()];
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!((a.total, a.method.legs), (553_000, Legs::Public));
    assert_eq!(a.classes.internet.total(), 0);
    assert_eq!(a.gateways[0].nat64_bytes, 0, "held in the public legs");
}

/// Where the cross-AZ bytes cannot be known, the report says what the records lack (before
/// 2026-12-06 it said "az-id not logged for NAT and clients" whatever the cause, az-id logged
/// or not): no client named (no `pkt-*`), no AZ on the NAT's records, no client ENI logged,
/// no AZ on the clients' records.
#[test]
fn cross_az_unknown_says_why() {
    use flowcost::analysis::CrossAzUnknown as U;
    let flow = s3_flow("52.216.8.1", 1_000, 50_000, T);
    let no_az = |eni: &str, az: &str| -> String {
        (flow.lines())
            .map(|l| match l.starts_with(eni) {
                true => format!("{}\n", l.replace(az, "-")),
                false => format!("{l}\n"),
            })
            .collect()
    };
    let nat_only: String = (flow.lines())
        .filter(|l| l.starts_with("eni-nat "))
        .map(|l| format!("{l}\n"))
        .collect();
    let v2 = "interface-id srcaddr dstaddr bytes start action log-status region az-id subnet-id\n";
    let v2_body: String = (flow.lines())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let kept = [0, 1, 2, 5, 6, 8, 9, 10, 11, 12].map(|i| f[i]);
            format!("{}\n", kept.join(" "))
        })
        .collect();
    let mut named = options();
    named.nat_enis = vec!["eni-nat".into()];
    for (body, opt, why) in [
        (H.to_string() + &flow, options(), vec![]),
        (v2.to_string() + &v2_body, named.clone(), vec![U::NoClients]),
        (
            H.to_string() + &no_az("eni-nat ", "use1-az1"),
            options(),
            vec![U::NatAz],
        ),
        (
            H.to_string() + &nat_only,
            options(),
            vec![U::ClientsNotLogged],
        ),
        (
            H.to_string() + &no_az("eni-task ", "use1-az2"),
            options(),
            vec![U::ClientAz],
        ),
        (
            H.to_string() + &no_az("eni-task ", "use1-az2").replace("use1-az1", "-"),
            options(),
            vec![U::NatAz, U::ClientAz],
        ),
        // a named gateway logged idle: nothing to cross an AZ, and no pkt-* asked for
        (
            H.to_string()
                + &format!(
                    "eni-nat - - - - - {T} {} - NODATA us-east-1 use1-az1 subnet-pub\n",
                    T + 60
                ),
            named.clone(),
            vec![U::NoTraffic],
        ),
    ] {
        let a = analyse_text(&body, &opt, None).unwrap();
        assert_eq!(a.cross_az.known, why.is_empty());
        assert_eq!(a.cross_az.unknown, why, "{body}");
        let json = serde_json::to_value(&a.cross_az).unwrap();
        assert_eq!(json.get("unknown").is_some(), !why.is_empty(), "{json}");
        let back: flowcost::analysis::CrossAz = serde_json::from_value(json).unwrap();
        assert_eq!(back, a.cross_az);
        let note = a
            .quality
            .notes
            .iter()
            .find(|n| n.starts_with("Cross-AZ charges cannot"));
        match why.as_slice() {
            [] => assert!(note.is_none()),
            w => assert_eq!(
                note.map(String::as_str),
                Some(format!("Cross-AZ charges cannot be measured: {}.", U::joined(w)).as_str())
            ),
        }
        if why == [U::NoTraffic] {
            let asked = a
                .quality
                .notes
                .iter()
                .any(|n| n.contains("add pkt-* fields"));
            assert!(!asked, "{:?}", a.quality.notes);
        }
    }
}

/// A NAT gateway's NAT64 clients are described by their own ENIs where those are logged, as
/// IPv4 clients are: an IPv6-only task's ENI logs its NAT64 legs with its own address at one
/// end, so that ENI's subnet, AZ and id name the client, and its bytes cross AZs where the
/// NAT's AZ is another (before, the client had none: `unknown`, and no cross-AZ byte). An
/// ENI carrying the NAT64 legs of more addresses than an ENI's own set holds (a firewall's,
/// a transit gateway attachment's) names none of them. The clients' image pulls are still
/// estimated from the NAT's legs: joining them describes, it starts no task.
#[test]
fn nat64_clients_are_described_by_their_own_enis() {
    let remote = "64:ff9b::34d8:801";
    let client = "2600:1f18:1:2::10";
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 1_000, 50_000, T)
        + &nat64_flow(client, remote, remote, 2_000, 500_000);
    let a = analyse_text(&body, &options(), None).unwrap();
    let row = a.top_clients.iter().find(|c| c.ip == client).unwrap();
    assert_eq!(
        (row.subnet.as_deref(), row.az.as_deref(), &row.enis[..]),
        (
            Some("subnet-a"),
            Some("use1-az2"),
            &["eni-task6".to_string()][..]
        )
    );
    let subnets: Vec<(&str, u64)> = (a.by_subnet.iter())
        .map(|g| (g.key.as_str(), g.total))
        .collect();
    assert_eq!(subnets, [("subnet-a", 553_000)], "nothing left unknown");
    assert_eq!(a.cross_az.bytes, 553_000, "use1-az2 to the NAT in use1-az1");
    // the IPv4 client's pulls from its ENI, the IPv6 one's still from the NAT's legs
    assert_eq!(a.ecr.basis, EcrBasis::TaskEnisAndNatPrivateLegs);

    // the same through partial files, the client's ENI in one and the NAT's in the other
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let (nat, own): (Vec<&str>, Vec<&str>) = body
        .lines()
        .skip(1)
        .partition(|l| l.starts_with("eni-nat "));
    for (name, lines) in [("nat", &nat), ("own", &own)] {
        std::fs::write(
            at(&format!("{name}.log")),
            format!("{H}{}\n", lines.join("\n")),
        )
        .unwrap();
        let o = crate::support::run(&[
            "analyze",
            "-q",
            &at(&format!("{name}.log")),
            "--partial-out",
            &at(name),
        ]);
        assert!(o.status.success(), "{}", crate::support::stderr(&o));
    }
    let o = crate::support::run(&["merge", "-q", "--format", "json", &at("own"), &at("nat")]);
    assert!(o.status.success(), "{}", crate::support::stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let row = r
        .analysis
        .top_clients
        .iter()
        .find(|c| c.ip == client)
        .unwrap();
    assert_eq!(
        (row.subnet.as_deref(), &row.enis[..]),
        (Some("subnet-a"), &["eni-task6".to_string()][..])
    );

    // an ENI with the NAT64 legs of nine addresses names none of them; of eight, all
    for n in [9u32, 8] {
        let mut body = H.to_string() + &s3_flow("52.216.8.1", 1_000, 50_000, T);
        for i in 1..=n {
            let c = format!("2600:1f18:1:2::{i}");
            let nat =
                |s: &str, d: &str, b| line("eni-nat", s, d, s, d, b, T, "use1-az1", "subnet-pub");
            let fw =
                |s: &str, d: &str, b| line("eni-fw", s, d, s, d, b, T, "use1-az3", "subnet-fw");
            body += &(nat(&c, remote, 2_000) + &nat(remote, &c, 9_000));
            body += &(fw(&c, remote, 2_000) + &fw(remote, &c, 9_000));
        }
        let a = analyse_text(&body, &options(), None).unwrap();
        let six: Vec<Option<&str>> = (a.top_clients.iter())
            .filter(|c| c.ip.contains(':'))
            .map(|c| c.subnet.as_deref())
            .collect();
        assert_eq!(six.len(), n as usize);
        let expected = if n > 8 { None } else { Some("subnet-fw") };
        assert!(six.iter().all(|s| *s == expected), "{n}: {six:?}");
    }
}

#[test]
fn rule_3_1_legs_far_apart_are_flagged_in_data_quality() {
    // the private legs saw 7,147 B, the public legs 44,738 B (526 % more): flagged
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 147, 7_000, T)
            .replace(" 10.0.0.10 52.216.8.1 147 ", " 10.0.0.10 52.216.8.1 738 ")
            .replace(
                " 52.216.8.1 10.0.0.10 7000 ",
                " 52.216.8.1 10.0.0.10 44000 ",
            );
    let a = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(a.total, 7_147, "the counted (private) legs are the figure");
    let cc = a.gateways[0].cross_check.as_ref().unwrap();
    assert_eq!((cc.counted_leg, cc.other_leg), (7_147, 44_738));
    assert!(!cc.agrees);
    assert_eq!(cc.days_apart.len(), 1);
    assert_eq!(cc.days_apart[0].day, "2026-09-01");
    assert!(a
        .quality
        .notes
        .iter()
        .any(|n| n.contains("disagree") && n.contains("may be partial")));
    // a few bytes apart (a flow split across windows) is not flagged
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 1_000, 50_000, T)
            .replace(" 10.0.0.10 52.216.8.1 1000 ", " 10.0.0.10 52.216.8.1 1010 ");
    let a = analyse_text(&body, &options(), None).unwrap();
    assert!(a.gateways[0].cross_check.as_ref().unwrap().agrees);
}

#[test]
fn rule_6_projections_divide_by_the_time_each_gateway_covers() {
    let gib = 1u64 << 30;
    // NAT A logs two days (1 GiB of S3 each day), NAT B only the second day (1 GiB);
    // the filter asks for all of September
    let b_flow = s3_flow("52.216.8.1", 0, gib, T + 86_400)
        .replace("eni-nat", "eni-natb")
        .replace("10.0.0.10", "10.0.0.20")
        .replace("eni-task", "eni-taskb")
        .replace("10.0.1.5", "10.0.1.6");
    let body = H.to_string()
        + &s3_flow("52.216.8.1", 0, gib, T)
        + &s3_flow("52.216.8.1", 0, gib, T + 86_400 + 23 * 3600)
        + &b_flow;
    let mut opt = options();
    (opt.since, opt.until) = (Some(T), Some(T + 30 * 86_400));
    let a = analyse_text(&body, &opt, None).unwrap();
    assert_eq!(a.period.days, 30.0);
    assert_eq!(
        a.period.covered_days, 2.0,
        "first hour of day 1 to the last of day 2"
    );
    let cov = |eni: &str| {
        a.gateways
            .iter()
            .find(|g| g.eni == eni)
            .unwrap()
            .covered_seconds
    };
    assert_eq!((cov("eni-nat"), cov("eni-natb")), (2 * 86_400, 3600));
    assert!(a
        .quality
        .notes
        .iter()
        .any(|n| n.contains("cover 2.00 of the 30.00 days")));
    let c = cost::price(&a, &PriceTable::embedded(), "us-east-1", None, GbUnit::Gib).unwrap();
    // A: 2 GiB over 2 days; B: 1 GiB over its one hour of logs
    let want = 0.045 * (2.0 * 30.0 / 2.0 + 30.0 * 24.0);
    assert!(
        (c.s3_gateway_endpoint_savings.per_30_days - want).abs() < 1e-9,
        "{} vs {want}",
        c.s3_gateway_endpoint_savings.per_30_days
    );
    assert!((c.s3_gateway_endpoint_savings.period - 0.045 * 3.0).abs() < 1e-12);
}

/// The task ENI of `ecr_world` showing eight more local addresses later, all smaller than
/// the task's: its local set (the eight smallest) then drops the task's address, which is a
/// NAT-only client in the end (as an EKS node's ENI drops its pods' addresses).
fn eight_more_addresses() -> String {
    let mut body = H.to_string();
    for k in 1..=8 {
        let ip = format!("10.0.0.{}", 20 + k);
        let t = T + 1_000 + k;
        body += &line(
            "eni-task",
            &ip,
            "52.94.0.9",
            &ip,
            "52.94.0.9",
            10,
            t,
            "use1-az2",
            "subnet-a",
        );
    }
    body
}

/// The analysis of `inputs` with the clients' timelines guessed ([`flowcost::account::Guess`]),
/// and the addresses whose timelines were left out.
fn analyse_guessing(
    inputs: &[(&str, &str)],
) -> (
    Result<flowcost::analysis::Analysis, AnalysisError>,
    Vec<String>,
) {
    let opt = options();
    let mut p = params(&opt);
    p.guess_timelines = true;
    let acc = crate::support::accumulate(inputs, &p, None);
    let mut skipped: Vec<String> = (acc.guess.iter())
        .flat_map(|g| g.skipped.iter().map(|ip| ip.to_string()))
        .collect();
    skipped.sort();
    (
        flowcost::analysis::analyse(&acc, crate::support::ranges(), &opt),
        skipped,
    )
}

#[test]
fn rule_5_the_timelines_of_logged_enis_clients_are_left_out_and_the_guess_is_checked() {
    // the task's ENI is logged: its address's timeline is left out, and nothing changes
    let (guessed, skipped) = analyse_guessing(&[("mem.log", &ecr_world())]);
    assert_eq!(skipped, ["10.0.1.5"]);
    let all = analyse_text(&ecr_world(), &options(), None).unwrap();
    assert_eq!(guessed.unwrap(), all);
    // NAT-only: no logged ENI holds the address, its timeline is built
    let body = nat_only(&ecr_world());
    let (guessed, skipped) = analyse_guessing(&[("mem.log", &body)]);
    assert!(skipped.is_empty(), "{skipped:?}");
    let all = analyse_text(&body, &options(), None).unwrap();
    assert_eq!(guessed.unwrap(), all);
    // the task ENI shows more addresses before the legs are added: no guess is made
    let both = ecr_world() + &eight_more_addresses()[H.len()..];
    let (guessed, skipped) = analyse_guessing(&[("mem.log", &both)]);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        guessed.unwrap(),
        analyse_text(&both, &options(), None).unwrap()
    );
    // ... and after (another input): the guess fails, and says for whom
    let later = [("a.log", ecr_world()), ("b.log", eight_more_addresses())];
    let later: Vec<(&str, &str)> = later.iter().map(|(p, b)| (*p, b.as_str())).collect();
    let (guessed, skipped) = analyse_guessing(&later);
    assert_eq!(skipped, ["10.0.1.5"]);
    match guessed {
        Err(AnalysisError::TimelineLeftOut(ip)) => assert_eq!(ip.to_string(), "10.0.1.5"),
        other => panic!("the guess was not caught: {other:?}"),
    }
}

#[test]
fn rule_5_a_failed_guess_reads_the_inputs_again_and_answers_the_same() {
    // enough legs of the task's address for a batch to be added (4 096) before its ENI
    // shows more addresses
    let mut body = ecr_world();
    for k in 0..2_100 {
        body += &s3_flow("52.216.8.1", 10, 10, T + 1_200 + k)[..];
    }
    body += &eight_more_addresses()[H.len()..];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.log");
    std::fs::write(&path, &body).unwrap();
    let path = path.to_str().unwrap();
    let args = ["analyze", "--format", "json", "-q", "-j", "1", path];
    let guessed = crate::support::run(&args);
    let err = crate::support::stderr(&guessed);
    assert!(guessed.status.success(), "{err}");
    assert!(err.contains("reading the inputs again"), "{err}");
    assert!(err.contains("10.0.1.5"), "{err}");
    let all = crate::support::bin()
        .args(args)
        .env("FLOWCOST_TIMELINES", "all")
        .output()
        .unwrap();
    assert!(all.status.success());
    assert!(!crate::support::stderr(&all).contains("reading the inputs again"));
    assert_eq!(guessed.stdout, all.stdout);
    // the notes on how the inputs were found are told once, not at each read
    let twice = crate::support::run(&[&args[..], &[path]].concat());
    let err = crate::support::stderr(&twice);
    assert!(err.contains("reading the inputs again"), "{err}");
    assert_eq!(err.matches("named twice").count(), 1, "{err}");
    // standard input cannot be read twice: every timeline is built from the start
    let piped = |timelines: Option<&str>| {
        use std::io::Write;
        let mut cmd = crate::support::bin();
        cmd.args(["analyze", "--format", "json", "-q", "-j", "1", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = timelines {
            cmd.env("FLOWCOST_TIMELINES", t);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(body.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let (guessed, all) = (piped(None), piped(Some("all")));
    assert!(
        guessed.status.success(),
        "{}",
        crate::support::stderr(&guessed)
    );
    assert!(!crate::support::stderr(&guessed).contains("reading the inputs again"));
    assert_eq!(guessed.stdout, all.stdout);
    // a guess that holds reads once
    std::fs::write(dir.path().join("flows.log"), ecr_world()).unwrap();
    let once = crate::support::run(&args);
    assert!(once.status.success());
    assert!(!crate::support::stderr(&once).contains("reading the inputs again"));
}

/// Rule 4 taken wrongly: v2 records in a file not named as AWS delivers them take their
/// region from `--region`; given the wrong one, S3 of the gateways' real region is
/// s3-other-region and "nothing saved". The report is written (the traffic may really go to
/// buckets far away) but says so, and stderr warns; the right region says nothing.
#[test]
fn rule_4_a_region_given_wrongly_is_pointed_out() {
    use flowcost::generate::{Encoding, FieldSet};
    let w = crate::support::world(&crate::support::spec(53, FieldSet::V2), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.log.gz");
    let mut all = Vec::new();
    for f in crate::support::files_under(&w.dir.path().join(Encoding::Gz.dir())) {
        all.extend(std::fs::read(f).unwrap());
    }
    std::fs::write(&export, all).unwrap();
    let nats = w.truth.nat_enis.join(",");
    let export = export.to_str().unwrap();
    let run = |region: &str| {
        let args = [
            "analyze",
            "-q",
            "--nat-eni",
            &nats,
            "--region",
            region,
            export,
        ];
        crate::support::run(&args)
    };
    let right = run("us-east-1");
    assert_eq!(right.status.code(), Some(0));
    assert!(!crate::support::stderr(&right).contains("regions other"));
    let wrong = run("us-west-2");
    assert_eq!(wrong.status.code(), Some(0));
    let err = crate::support::stderr(&wrong);
    assert!(
        err.contains("warning: Most of the NAT gateways' S3 bytes went to S3 in regions other than the gateways' own (us-west-2): "),
        "{err}"
    );
    // and names the region the S3 went to: the world's own
    assert!(
        err.contains("with --region set to theirs (of the S3 their public legs sent outside it, 99.9% went to us-east-1, "),
        "{err}"
    );
    assert!(crate::support::stdout(&wrong).contains("analyse again with --region set to theirs"));
}
