//! The simulated VPC as the EC2 API would describe it: the JSON of `aws ec2
//! describe-nat-gateways`, `describe-subnets`, `describe-route-tables` and
//! `describe-vpc-endpoints`, written beside the flow logs (`inventory/`), and the truth of what
//! an inventory-aware report must find in it: the gateway ids, one gateway with no flow logs,
//! and the route tables an endpoint plan must name, with their clients' S3 bytes. And the
//! bill: a CUR 2.0 export of the NAT gateways' data processing, with the truth of its
//! reconciliation (one gateway unlogged, one day a flow log missed half of).

use std::collections::BTreeMap;

use serde_json::json;

use super::world::{Truth, World, REGION, VPC};
use crate::classify::Class;

/// The gateway the inventory holds but no flow log records (a private NAT gateway in the
/// second public subnet, with an ENI no record has).
const SILENT_NAT: &str = "nat-0f0f0f0f0f0f0f0f0";
const SILENT_ENI: &str = "eni-0f0f0f0f0f0f0f0f0";
const S3_ENDPOINT: &str = "vpce-0e0e0e0e0e0e0e0e0";
const MAIN_TABLE: &str = "rtb-0a0a0a0a0a0a0a0a0";

fn hex(id: &str) -> &str {
    id.split_once('-').map_or(id, |(_, h)| h)
}

impl World {
    /// A NAT's gateway id (from its ENI's hex digits).
    pub fn nat_gateway_id(&self, nat: usize) -> String {
        format!("nat-{}", hex(&self.enis[self.nats[nat].eni].id))
    }

    /// The route table of a subnet: its own for a private subnet, else the main table.
    pub fn route_table_id(&self, subnet: usize) -> String {
        match self.subnets[subnet].nat {
            Some(_) => format!("rtb-{}", hex(&self.subnets[subnet].id)),
            None => MAIN_TABLE.into(),
        }
    }

    /// Whether a subnet's route table has the S3 gateway endpoint (the inventory is a
    /// snapshot taken after the endpoint was added, if it was).
    fn has_s3_endpoint(&self, subnet: usize) -> bool {
        self.spec.s3_endpoint_at.is_some()
            && self.subnets[subnet].nat.is_some()
            && self.spec.endpoint_skips_subnet.as_deref() != Some(self.subnets[subnet].id.as_str())
    }

    /// The four documents, by file name.
    pub fn describe_vpc(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            (
                "nat-gateways.json",
                json!({ "NatGateways": self.nat_gateways() }),
            ),
            (
                "subnets.json",
                json!({ "Subnets": self.subnets_described() }),
            ),
            (
                "route-tables.json",
                json!({ "RouteTables": self.route_tables() }),
            ),
            (
                "vpc-endpoints.json",
                json!({ "VpcEndpoints": self.vpc_endpoints() }),
            ),
        ]
    }

    /// `describe-nat-gateways`: the world's gateways, each with its ENI and an Elastic IP,
    /// and a private gateway no record names.
    fn nat_gateways(&self) -> Vec<serde_json::Value> {
        let mut nats: Vec<serde_json::Value> = (0..self.nats.len())
            .map(|i| {
                let n = &self.nats[i];
                let eni = &self.enis[n.eni];
                json!({
                    "CreateTime": "2026-08-01T00:00:00+00:00",
                    "NatGatewayAddresses": [{
                        "AllocationId": format!("eipalloc-{}", hex(&eni.id)),
                        "NetworkInterfaceId": eni.id,
                        "PrivateIp": n.ip.to_string(),
                        "PublicIp": format!("203.0.113.{}", 10 + i),
                        "AssociationId": format!("eipassoc-{}", hex(&eni.id)),
                        "IsPrimary": true,
                        "Status": "succeeded",
                    }],
                    "NatGatewayId": self.nat_gateway_id(i),
                    "State": "available",
                    "SubnetId": self.subnets[eni.subnet].id,
                    "VpcId": VPC,
                    "Tags": [{"Key": "Name", "Value": format!("nat-{}", i + 1)}],
                    "ConnectivityType": "public",
                    "AvailabilityMode": "zonal",
                })
            })
            .collect();
        nats.push(json!({
            "CreateTime": "2026-08-01T00:00:00+00:00",
            "NatGatewayAddresses": [{
                "NetworkInterfaceId": SILENT_ENI,
                "PrivateIp": "10.0.100.77",
                "IsPrimary": true,
                "Status": "succeeded",
            }],
            "NatGatewayId": SILENT_NAT,
            "State": "available",
            "SubnetId": self.subnets[1].id,
            "VpcId": VPC,
            "ConnectivityType": "private",
        }));
        nats
    }

    /// `describe-subnets`: each subnet's AZ, CIDR and whether it is public (no NAT).
    fn subnets_described(&self) -> Vec<serde_json::Value> {
        let azs = |az: &str| match az {
            "use1-az1" => "us-east-1a",
            _ => "us-east-1b",
        };
        self.subnets
            .iter()
            .map(|s| {
                let len = 32 - s.hosts.trailing_zeros();
                json!({
                    "AvailabilityZone": azs(s.az),
                    "AvailabilityZoneId": s.az,
                    "CidrBlock": format!("{}/{len}", std::net::Ipv4Addr::from(s.base)),
                    "SubnetId": s.id,
                    "VpcId": VPC,
                    "State": "available",
                    "MapPublicIpOnLaunch": s.nat.is_none(),
                })
            })
            .collect()
    }

    /// `describe-route-tables`: the main table (to the internet gateway) and one table per
    /// private subnet (to its NAT gateway, and to the S3 endpoint where it has one).
    fn route_tables(&self) -> Vec<serde_json::Value> {
        let mut tables = vec![json!({
            "Associations": [{"Main": true, "RouteTableAssociationId": "rtbassoc-0a0a0a0a0a0a0a0a0",
                              "RouteTableId": MAIN_TABLE, "AssociationState": {"State": "associated"}}],
            "RouteTableId": MAIN_TABLE,
            "Routes": [
                {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0a0a0a0a0a0a0a0a0", "Origin": "CreateRoute", "State": "active"},
            ],
            "VpcId": VPC,
        })];
        for (i, s) in self.subnets.iter().enumerate() {
            let Some(nat) = s.nat else { continue };
            let rt = self.route_table_id(i);
            let mut routes = vec![
                json!({"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}),
                json!({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": self.nat_gateway_id(nat), "Origin": "CreateRoute", "State": "active"}),
            ];
            if self.has_s3_endpoint(i) {
                routes.push(json!({"DestinationPrefixListId": "pl-63a5400a", "GatewayId": S3_ENDPOINT, "Origin": "CreateRoute", "State": "active"}));
            }
            tables.push(json!({
                "Associations": [{"Main": false, "RouteTableAssociationId": format!("rtbassoc-{}", hex(&s.id)),
                                  "RouteTableId": rt, "SubnetId": s.id, "AssociationState": {"State": "associated"}}],
                "RouteTableId": rt,
                "Routes": routes,
                "VpcId": VPC,
            }));
        }
        tables
    }

    /// `describe-vpc-endpoints`: an ECR interface endpoint, and the S3 gateway endpoint with
    /// its route tables where the world has one.
    fn vpc_endpoints(&self) -> Vec<serde_json::Value> {
        let mut endpoints = vec![json!({
            "VpcEndpointId": "vpce-0d0d0d0d0d0d0d0d0",
            "VpcEndpointType": "Interface",
            "VpcId": VPC,
            "ServiceName": format!("com.amazonaws.{REGION}.ecr.dkr"),
            "State": "available",
            "RouteTableIds": [],
            "SubnetIds": [self.subnets[2].id, self.subnets[3].id],
        })];
        if self.spec.s3_endpoint_at.is_some() {
            let with: Vec<String> = (0..self.subnets.len())
                .filter(|&i| self.has_s3_endpoint(i))
                .map(|i| self.route_table_id(i))
                .collect();
            endpoints.push(json!({
                "VpcEndpointId": S3_ENDPOINT,
                "VpcEndpointType": "Gateway",
                "VpcId": VPC,
                "ServiceName": format!("com.amazonaws.{REGION}.s3"),
                "State": "available",
                "RouteTableIds": with,
                "SubnetIds": [],
            }));
        }
        endpoints
    }

    /// Fill the inventory's part of the truth, from the world (never from the documents):
    /// a route table is in the S3 plan when its subnet's clients sent S3 bytes through a NAT
    /// in the simulation and the table has no S3 gateway endpoint.
    pub(super) fn inventory_truth(&self, t: &mut Truth) {
        for i in 0..self.nats.len() {
            t.nat_gateway_ids.insert(
                self.enis[self.nats[i].eni].id.clone(),
                self.nat_gateway_id(i),
            );
        }
        t.silent_nat_gateway = SILENT_NAT.into();
        for (i, s) in self.subnets.iter().enumerate() {
            let s3 = t
                .nat_by_subnet
                .get(&s.id)
                .map_or(0, |c| c.get(Class::S3).total());
            if s.nat.is_some() && s3 > 0 && !self.has_s3_endpoint(i) {
                *t.s3_plan_by_route_table
                    .entry(self.route_table_id(i))
                    .or_insert(0) += s3;
            }
        }
    }
}

/// The NAT data-processing price the generated bill charges (us-east-1, USD per GB).
pub const CUR_PRICE: f64 = 0.045;
/// The silent gateway's billed traffic per day: it has no flow log.
const SILENT_BYTES_PER_DAY: u64 = 5 << 30;
/// On the last day the first gateway's flow log missed this share of its traffic (billed,
/// never logged: a flow log stopped for part of the day).
const MISSED_NUM: u64 = 1;
const MISSED_DEN: u64 = 2;

/// Bytes per gateway and hour.
type Hours<G> = BTreeMap<(G, i64), u64>;

impl World {
    /// NAT bytes per gateway (index; `None`: the silent one) and hour, as billed: the
    /// simulated traffic by record start, the missed share, the silent gateway's.
    fn billed_hours(&self) -> (Hours<Option<usize>>, Hours<usize>) {
        let mut logged: BTreeMap<(usize, i64), u64> = BTreeMap::new();
        for f in &self.flows {
            let (Some(nat), Some(_)) = (f.via_nat, f.class) else {
                continue;
            };
            if f.kind == super::world::Kind::Scan {
                continue;
            }
            for (s, _, u, d) in super::world::intervals(f, self.spec.interval) {
                *logged.entry((nat, s.div_euclid(3600))).or_insert(0) += u + d;
            }
        }
        let mut billed: BTreeMap<(Option<usize>, i64), u64> = logged
            .iter()
            .map(|((n, h), b)| ((Some(*n), *h), *b))
            .collect();
        let last_day = (self.spec.start / 86_400) + self.spec.days as i64 - 1;
        for ((n, h), b) in &logged {
            if *n == 0 && h.div_euclid(24) == last_day {
                *billed.get_mut(&(Some(0), *h)).expect("logged hour") +=
                    b * MISSED_NUM / MISSED_DEN;
            }
        }
        for day in 0..self.spec.days as i64 {
            let first = self.spec.start / 3600 + day * 24;
            for h in first..first + 24 {
                billed.insert((None, h), SILENT_BYTES_PER_DAY / 24);
            }
        }
        (billed, logged)
    }

    /// The bill as a CUR 2.0 export with hourly granularity and resource ids: the NAT gateways'
    /// data processing and hours, and a few rows of other services; header and rows.
    pub fn cost_and_usage(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let (y, m, _) = crate::time::civil_from_days(self.spec.start.div_euclid(86_400));
        let month = cur_time(crate::time::days_from_civil(y, m, 1) * 86_400);
        let rows = (self.gateway_rows().into_iter())
            .chain(self.other_rows())
            .enumerate()
            .map(|(i, row)| row.cells(i, &month))
            .collect();
        (CUR_HEADERS.to_vec(), rows)
    }

    /// The NAT gateways' rows: each billed hour's data processing and the hour itself.
    fn gateway_rows(&self) -> Vec<CurRow> {
        let (billed, _) = self.billed_hours();
        let mut rows = Vec::new();
        for ((nat, hour), bytes) in &billed {
            let id = match nat {
                Some(n) => self.nat_gateway_id(*n),
                None => SILENT_NAT.to_string(),
            };
            let gb = *bytes as f64 / 1_073_741_824.0;
            for (usage, amount, rate, unit) in [
                ("NatGateway-Bytes", gb, CUR_PRICE, "GB"),
                ("NatGateway-Hours", 1.0, 0.045, "Hrs"),
            ] {
                rows.push(CurRow {
                    kind: "Usage",
                    start: hour * 3600,
                    usage,
                    operation: "NatGateway",
                    resource: nat_gateway_arn(&id),
                    amount: format!("{amount}"),
                    rate: format!("{rate}"),
                    cost: format!("{}", amount * rate),
                    description: "$0.045 per GB, NAT, \"processed\"",
                    unit,
                });
            }
        }
        rows
    }

    /// Rows a reader must leave out: a credit on NAT processing, an instance, a tax.
    fn other_rows(&self) -> Vec<CurRow> {
        let other = [
            (
                "Credit",
                "NatGateway-Bytes",
                nat_gateway_arn(&self.nat_gateway_id(0)),
                "0",
                "-1.5",
            ),
            (
                "Usage",
                "BoxUsage:m5.large",
                "i-0a0a0a0a0a0a0a0a0".to_string(),
                "1",
                "0.096",
            ),
            ("Tax", "", String::new(), "0", "3.2"),
        ];
        (other.into_iter())
            .map(|(kind, usage, resource, amount, cost)| CurRow {
                kind,
                start: self.spec.start,
                usage,
                operation: "RunInstances",
                resource,
                amount: amount.into(),
                rate: "0".into(),
                cost: cost.into(),
                description: "other",
                unit: "",
            })
            .collect()
    }

    /// Fill the bill's part of the truth from the world.
    pub(super) fn bill_truth(&self, t: &mut Truth) {
        let (billed, logged) = self.billed_hours();
        let day = |h: i64| crate::analysis::day_string(h.div_euclid(24) as u32);
        for ((nat, h), b) in billed {
            let id = nat.map_or(SILENT_NAT.to_string(), |n| self.nat_gateway_id(n));
            *t.cur_billed
                .entry(id)
                .or_default()
                .entry(day(h))
                .or_insert(0) += b;
        }
        for ((nat, h), b) in logged {
            *t.cur_logged
                .entry(self.nat_gateway_id(nat))
                .or_default()
                .entry(day(h))
                .or_insert(0) += b;
        }
        t.cur_price_per_gb = CUR_PRICE;
    }
}

/// The columns of the generated CUR 2.0 export.
const CUR_HEADERS: [&str; 17] = [
    "identity_line_item_id",
    "bill_billing_period_start_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_currency_code",
    "line_item_line_item_description",
    "product_region_code",
    "pricing_unit",
];

/// An instant as CUR 2.0 writes it (milliseconds shown).
fn cur_time(t: i64) -> String {
    crate::time::format_instant(t).replace('Z', ".000Z")
}

/// A NAT gateway's ARN in the world's account and region.
fn nat_gateway_arn(id: &str) -> String {
    format!(
        "arn:aws:ec2:{REGION}:{}:natgateway/{id}",
        super::world::ACCOUNT
    )
}

/// One hour's row of the generated CUR: what varies from row to row.
struct CurRow {
    kind: &'static str,
    start: i64,
    usage: &'static str,
    operation: &'static str,
    resource: String,
    amount: String,
    rate: String,
    cost: String,
    description: &'static str,
    unit: &'static str,
}

impl CurRow {
    /// Its cells in the order of [`CUR_HEADERS`], as row `i` of the month starting `month`.
    fn cells(self, i: usize, month: &str) -> Vec<String> {
        vec![
            format!("li-{i}"),
            month.to_string(),
            super::world::ACCOUNT.to_string(),
            self.kind.into(),
            cur_time(self.start),
            cur_time(self.start + 3600),
            "AmazonEC2".into(),
            self.usage.into(),
            self.operation.into(),
            self.resource,
            self.amount,
            self.rate,
            self.cost,
            "USD".into(),
            self.description.into(),
            REGION.into(),
            self.unit.into(),
        ]
    }
}
