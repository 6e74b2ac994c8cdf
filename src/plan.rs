//! Inventory stage: what the VPC inventory (`--inventory`) adds to a priced analysis. The NAT
//! gateways by `nat-…` id, flagged when the logs and the inventory disagree (a NAT ENI the
//! inventory does not know, a gateway with no records); the client subnets with their route
//! tables; and the endpoint plan: the route tables that send S3 or DynamoDB traffic through a
//! NAT without a gateway endpoint of that service, with what adding each would save. Pure:
//! the renderings (commands, Terraform) are in [`crate::report::plan`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::cost::{Cost, Money};
use crate::inventory::ec2::{is_id, Ec2Inventory};

/// A service a gateway endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    S3,
    Dynamodb,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::S3, Service::Dynamodb];
    /// The last part of the endpoint's service name (`com.amazonaws.<region>.s3`).
    pub fn suffix(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Dynamodb => "dynamodb",
        }
    }
    /// As people name it.
    pub fn label(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::Dynamodb => "DynamoDB",
        }
    }
    fn bytes(self, c: &crate::analysis::ClassBytes) -> u64 {
        match self {
            Service::S3 => c.s3.total(),
            Service::Dynamodb => c.dynamodb.total(),
        }
    }
}

/// One NAT gateway of the inventory, and whether the logs have it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayEntry {
    pub id: String,
    pub state: Option<String>,
    pub connectivity: Option<String>,
    pub availability_mode: Option<String>,
    pub vpc: Option<String>,
    pub subnet: Option<String>,
    pub enis: Vec<String>,
    /// Whether any of its ENIs is in a counted record; NAT bytes counted on them.
    pub logged: bool,
    pub nat_bytes: u64,
}

/// A client subnet of the NAT's traffic, with its route table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetEntry {
    pub subnet: String,
    pub vpc: Option<String>,
    pub az: Option<String>,
    pub route_table: Option<String>,
    /// The route table is its VPC's main table (the subnet has no association of its own).
    pub main_route_table: bool,
    pub nat_bytes: u64,
    pub s3_bytes: u64,
    pub dynamodb_bytes: u64,
}

/// One step of the plan: a route table to associate with a gateway endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    pub service: Service,
    pub region: String,
    pub vpc: String,
    pub route_table: String,
    /// The client subnets it serves that sent this service's traffic through a NAT.
    pub subnets: Vec<String>,
    /// Those bytes, in the period.
    pub bytes: u64,
    /// A gateway endpoint of the service already in the VPC, to add the route table to (none:
    /// create one).
    pub endpoint: Option<String>,
    /// The NAT data-processing charge the step removes.
    pub saving: Money,
}

/// What the inventory adds to the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryReport {
    pub gateways: Vec<GatewayEntry>,
    /// NAT ENIs in the logs that no inventory gateway has (counted, or showing address
    /// translation without being counted).
    pub unknown_nat_enis: Vec<String>,
    /// Inventory gateways none of whose ENIs is in a counted record: their traffic is not
    /// in these figures.
    pub gateways_without_logs: Vec<String>,
    pub subnets: Vec<SubnetEntry>,
    pub plan: Vec<PlanStep>,
    pub notes: Vec<String>,
}

impl InventoryReport {
    /// The plan's saving, all steps together.
    pub fn plan_saving(&self) -> Money {
        self.plan.iter().fold(Money::default(), |m, s| Money {
            period: m.period + s.saving.period,
            per_30_days: m.per_30_days + s.saving.per_30_days,
        })
    }
}

/// Build the inventory's part of the report for an analysis priced as `cost`, whose NATs
/// are in `region`.
pub fn build(a: &Analysis, inv: &Ec2Inventory, cost: &Cost, region: &str) -> InventoryReport {
    let mut r = InventoryReport {
        gateways: gateways(a, inv),
        ..Default::default()
    };
    r.gateways_without_logs = (r.gateways.iter())
        .filter(|g| !g.logged)
        .map(|g| g.id.clone())
        .collect();
    r.unknown_nat_enis = unknown_nat_enis(a, inv);
    r.subnets = subnets(a, inv);
    r.plan = plan(&r.subnets, inv, cost, region, &mut r.notes);
    r.notes.extend(gap_notes(&r, inv));
    r
}

/// The inventory's gateways, with the NAT bytes of their ENIs.
fn gateways(a: &Analysis, inv: &Ec2Inventory) -> Vec<GatewayEntry> {
    let counted: BTreeMap<&str, u64> = a
        .gateways
        .iter()
        .map(|g| (g.eni.as_str(), g.total))
        .collect();
    let unseen: BTreeSet<&str> = a
        .quality
        .given_nat_enis_not_seen
        .iter()
        .map(String::as_str)
        .collect();
    let mut v: Vec<GatewayEntry> = inv
        .nat_gateways
        .iter()
        .map(|g| {
            let enis: Vec<String> = g.addresses.iter().map(|x| x.eni.clone()).collect();
            GatewayEntry {
                id: g.id.clone(),
                state: g.state.clone(),
                connectivity: g.connectivity.clone(),
                availability_mode: g.availability_mode.clone(),
                vpc: g.vpc.clone(),
                subnet: g.subnet.clone(),
                logged: enis
                    .iter()
                    .any(|e| counted.contains_key(e.as_str()) && !unseen.contains(e.as_str())),
                nat_bytes: enis.iter().filter_map(|e| counted.get(e.as_str())).sum(),
                enis,
            }
        })
        .collect();
    v.sort_by(|x, y| x.id.cmp(&y.id));
    v
}

/// NAT ENIs of the logs the inventory has no gateway for.
fn unknown_nat_enis(a: &Analysis, inv: &Ec2Inventory) -> Vec<String> {
    let mut v: Vec<String> = (a.gateways.iter().map(|g| &g.eni))
        .chain(&a.quality.translating_enis_not_counted)
        .filter(|e| inv.gateway_of_eni(e).is_none())
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The client subnets (as the analysis attributed the NAT's bytes) with their route tables.
fn subnets(a: &Analysis, inv: &Ec2Inventory) -> Vec<SubnetEntry> {
    a.by_subnet
        .iter()
        .filter(|g| is_id(&g.key, "subnet"))
        .map(|g| {
            let s = inv.subnet(&g.key);
            let rt = inv.route_table_of(&g.key);
            SubnetEntry {
                subnet: g.key.clone(),
                vpc: s
                    .and_then(|s| s.vpc.clone())
                    .or_else(|| rt.and_then(|t| t.0.vpc.clone())),
                az: s.and_then(|s| s.az_id.clone().or_else(|| s.az.clone())),
                route_table: rt.map(|t| t.0.id.clone()),
                main_route_table: rt.is_some_and(|t| t.1),
                nat_bytes: g.total,
                s3_bytes: Service::S3.bytes(&g.classes),
                dynamodb_bytes: Service::Dynamodb.bytes(&g.classes),
            }
        })
        .collect()
}

/// The route tables to associate with a gateway endpoint, per service, largest saving first.
fn plan(
    subnets: &[SubnetEntry],
    inv: &Ec2Inventory,
    cost: &Cost,
    region: &str,
    notes: &mut Vec<String>,
) -> Vec<PlanStep> {
    let mut steps: BTreeMap<(Service, String, String), PlanStep> = BTreeMap::new();
    let mut already: BTreeSet<(Service, String)> = BTreeSet::new();
    for service in Service::ALL {
        let endpoints = inv.gateway_endpoints(region, service.suffix());
        for s in subnets {
            let bytes = match service {
                Service::S3 => s.s3_bytes,
                Service::Dynamodb => s.dynamodb_bytes,
            };
            let (Some(rt), Some(vpc), true) = (&s.route_table, &s.vpc, bytes > 0) else {
                continue;
            };
            let in_vpc = endpoints.get(vpc).map(Vec::as_slice).unwrap_or_default();
            if in_vpc.iter().any(|e| e.route_tables.contains(rt)) {
                already.insert((service, rt.clone()));
                continue;
            }
            let step = steps
                .entry((service, vpc.clone(), rt.clone()))
                .or_insert_with(|| PlanStep {
                    service,
                    region: region.to_string(),
                    vpc: vpc.clone(),
                    route_table: rt.clone(),
                    subnets: Vec::new(),
                    bytes: 0,
                    endpoint: in_vpc.first().map(|e| e.id.clone()),
                    saving: Money::default(),
                });
            step.subnets.push(s.subnet.clone());
            step.bytes += bytes;
        }
    }
    for (service, rt) in already {
        notes.push(format!(
            "{rt} already routes {} through a gateway endpoint: the {} bytes its subnets sent through a NAT in these logs predate the endpoint or were not sent through it.",
            service.label(),
            service.label()
        ));
    }
    let mut v: Vec<PlanStep> = steps
        .into_values()
        .map(|mut s| {
            s.saving = cost.nat_money(s.bytes);
            s
        })
        .collect();
    v.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| (a.service, &a.route_table).cmp(&(b.service, &b.route_table)))
    });
    v
}

/// What the plan could not see, said once each.
fn gap_notes(r: &InventoryReport, inv: &Ec2Inventory) -> Vec<String> {
    let mut notes = Vec::new();
    if !r.gateways_without_logs.is_empty() {
        notes.push(format!(
            "No flow-log record of these NAT gateways' ENIs: their traffic is not in these figures: {}.",
            r.gateways_without_logs.join(", ")
        ));
    }
    if !r.unknown_nat_enis.is_empty() {
        notes.push(format!(
            "NAT ENIs in the logs that no gateway of the inventory has (a gateway in another VPC or account, or an inventory from before it was made): {}.",
            r.unknown_nat_enis.join(", ")
        ));
    }
    if !inv.given.route_tables && (inv.given.subnets || inv.given.nat_gateways) {
        notes.push("No route tables given (`aws ec2 describe-route-tables`): the endpoint plan needs them.".into());
    }
    if inv.given.route_tables && !inv.given.endpoints {
        notes.push("No VPC endpoints given (`aws ec2 describe-vpc-endpoints`): the plan assumes no gateway endpoint exists yet.".into());
    }
    let unplaced: Vec<&str> = (r.subnets.iter())
        .filter(|s| s.route_table.is_none() && (s.s3_bytes > 0 || s.dynamodb_bytes > 0))
        .map(|s| s.subnet.as_str())
        .collect();
    if !unplaced.is_empty() && inv.given.route_tables {
        notes.push(format!(
            "No route table of the inventory serves {} (nor is its VPC's main table given): they are not in the plan.",
            unplaced.join(", ")
        ));
    }
    notes
}
