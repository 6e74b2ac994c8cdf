//! Any bytes as each JSON document a user hands flowcost besides the logs: an ip-ranges
//! document (`--ip-ranges`), a VPC inventory (`--inventory`), ECS tasks (`--ecs-tasks`) and a
//! price table (`--prices`). Each is read or refused with an error, never a panic; an
//! ip-ranges document read finds a range at both ends of every prefix it lists.
#![no_main]

use std::net::IpAddr;

use flowcost::classify::IpRanges;
use flowcost::cost::PriceTable;
use flowcost::inventory::ec2::Ec2Inventory;
use flowcost::inventory::EcsTasks;
use libfuzzer_sys::fuzz_target;

/// The ends of every prefix the document lists, as the document's JSON says them.
fn prefix_ends(data: &[u8]) -> Vec<IpAddr> {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return Vec::new();
    };
    let mut ends = Vec::new();
    for (list, key) in [("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")] {
        for p in doc[list].as_array().into_iter().flatten() {
            if let Some(net) = p[key].as_str().and_then(|s| s.parse::<ipnet::IpNet>().ok()) {
                ends.extend([net.network(), net.broadcast()]);
            }
        }
    }
    ends
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = IpRanges::parse(data, "fuzz") {
        let region = r.region_id("us-east-1");
        for ip in prefix_ends(data) {
            assert!(r.lookup(ip).is_some(), "{ip} is in a listed prefix");
            let _ = r.classify(ip, region);
        }
    }
    let mut inventory = Ec2Inventory::default();
    if inventory.add_json(data).is_ok() {
        let _ = (inventory.nat_enis(), inventory.nat_ips());
        for ip in inventory.nat_ips() {
            let _ = inventory.subnet_of_ip(ip);
        }
    }
    let _ = EcsTasks::default().add_json(data);
    if let Ok(prices) = serde_json::from_slice::<PriceTable>(data) {
        let _ = prices.check();
    }
});
