//! The VPC as the EC2 API describes it, from the JSON of `aws ec2 describe-nat-gateways`,
//! `describe-route-tables`, `describe-subnets` and `describe-vpc-endpoints` (any of them, in
//! any number of files, each file one or more documents): which gateway owns a NAT ENI, which
//! route table serves a subnet, which subnet holds an address, and which route tables a gateway
//! endpoint already serves.
//!
//! Every id is checked against the shape of AWS's ids (`rtb-` and hex digits, …) when read:
//! the endpoint plan turns them into shell commands and Terraform, so a value that is not an
//! id is refused with its place, never quoted into a script.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;

/// A NAT gateway's address: its ENI, and the addresses it translates to and from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatAddress {
    pub eni: String,
    pub private_ip: Option<IpAddr>,
    pub public_ip: Option<IpAddr>,
    /// The AZ this address serves (regional NAT gateways).
    pub az_id: Option<String>,
}

/// One NAT gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatGateway {
    pub id: String,
    pub vpc: Option<String>,
    /// The subnet it lives in (none for a regional NAT gateway).
    pub subnet: Option<String>,
    /// `available`, `deleted`, … as the API says.
    pub state: Option<String>,
    /// `public` or `private`.
    pub connectivity: Option<String>,
    /// `zonal` or `regional` (older outputs have no such field: zonal).
    pub availability_mode: Option<String>,
    pub addresses: Vec<NatAddress>,
}

/// One route table: the subnets associated with it, whether it is its VPC's main table
/// (which serves every subnet without an association of its own), and what its routes use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc: Option<String>,
    pub main: bool,
    pub subnets: Vec<String>,
    /// NAT gateways its routes point at.
    pub nat_gateways: Vec<String>,
    /// Gateway endpoints its routes point at (`vpce-…`).
    pub endpoints: Vec<String>,
}

/// One subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc: Option<String>,
    pub az: Option<String>,
    pub az_id: Option<String>,
    pub cidr: Option<Ipv4Net>,
    pub ipv6: Vec<Ipv6Net>,
}

/// One VPC endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub vpc: Option<String>,
    /// `com.amazonaws.<region>.s3`, …
    pub service: String,
    /// `Gateway`, `Interface`, `GatewayLoadBalancer`, …
    pub kind: String,
    pub state: Option<String>,
    pub route_tables: Vec<String>,
}

/// The inventory: what the given documents describe, each resource once (by id; a resource
/// described twice keeps its first description).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ec2Inventory {
    pub nat_gateways: Vec<NatGateway>,
    pub route_tables: Vec<RouteTable>,
    pub subnets: Vec<Subnet>,
    pub endpoints: Vec<Endpoint>,
    /// Which of the four documents were given at all (an absent one is unknown, not empty).
    pub given: Given,
}

/// Which kinds of document an inventory was built from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub nat_gateways: bool,
    pub route_tables: bool,
    pub subnets: bool,
    pub endpoints: bool,
}

/// What one file added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub nat_gateways: usize,
    pub route_tables: usize,
    pub subnets: usize,
    pub endpoints: usize,
}

impl Added {
    pub fn total(&self) -> usize {
        self.nat_gateways + self.route_tables + self.subnets + self.endpoints
    }
}

// The documents as the AWS CLI prints them (PascalCase keys; fields not read are ignored).

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Doc {
    nat_gateways: Option<Vec<NatDoc>>,
    route_tables: Option<Vec<RouteTableDoc>>,
    subnets: Option<Vec<SubnetDoc>>,
    vpc_endpoints: Option<Vec<EndpointDoc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NatDoc {
    nat_gateway_id: String,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    state: Option<String>,
    connectivity_type: Option<String>,
    availability_mode: Option<String>,
    #[serde(default)]
    nat_gateway_addresses: Vec<NatAddressDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NatAddressDoc {
    network_interface_id: Option<String>,
    private_ip: Option<String>,
    public_ip: Option<String>,
    availability_zone_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RouteTableDoc {
    route_table_id: String,
    vpc_id: Option<String>,
    #[serde(default)]
    associations: Vec<AssociationDoc>,
    #[serde(default)]
    routes: Vec<RouteDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationDoc {
    #[serde(default)]
    main: bool,
    subnet_id: Option<String>,
    association_state: Option<AssociationState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationState {
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RouteDoc {
    nat_gateway_id: Option<String>,
    gateway_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubnetDoc {
    subnet_id: String,
    vpc_id: Option<String>,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    cidr_block: Option<String>,
    #[serde(default)]
    ipv6_cidr_block_association_set: Vec<Ipv6Assoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv6Assoc {
    ipv6_cidr_block: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointDoc {
    vpc_endpoint_id: String,
    vpc_id: Option<String>,
    service_name: String,
    vpc_endpoint_type: Option<String>,
    state: Option<String>,
    #[serde(default)]
    route_table_ids: Vec<String>,
}

/// Whether `s` has the shape of an AWS resource id with this prefix: `prefix-` and 8 to 17
/// lowercase hex digits.
pub fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| {
            (8..=17).contains(&hex.len())
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Whether `s` is an AZ id (`use1-az1`) or an AZ name (`us-east-1a`): lowercase letters,
/// digits and dashes, at most 32.
fn is_az(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The region of a gateway-endpoint service name `com.amazonaws.<region>.<service>`, and
/// the service, when the name has that shape.
pub fn endpoint_service(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("com.amazonaws.")?;
    let (region, service) = rest.split_once('.')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (ok(region) && ok(service)).then_some((region, service))
}

/// Check an id, naming the field and document when it is not one.
fn id(v: &str, prefix: &str, what: &str) -> Result<String, String> {
    if is_id(v, prefix) {
        Ok(v.to_string())
    } else {
        Err(format!("{what} `{}` is not a {prefix}-… id", shown(v)))
    }
}

fn opt_id(v: Option<&str>, prefix: &str, what: &str) -> Result<Option<String>, String> {
    v.map(|v| id(v, prefix, what)).transpose()
}

/// A value for an error message: at most 40 characters, control characters escaped.
fn shown(v: &str) -> String {
    let s: String = v.chars().take(40).flat_map(char::escape_debug).collect();
    if v.chars().count() > 40 {
        format!("{s}…")
    } else {
        s
    }
}

fn opt_az(v: Option<String>, what: &str) -> Result<Option<String>, String> {
    match v {
        Some(a) if !is_az(&a) => Err(format!("{what} `{}` is not an AZ", shown(&a))),
        v => Ok(v),
    }
}

fn opt_ip(v: Option<&str>, what: &str) -> Result<Option<IpAddr>, String> {
    v.map(|s| {
        s.parse()
            .map_err(|_| format!("{what} `{}` is not an IP address", shown(s)))
    })
    .transpose()
}

/// A short word from the API (a state, a type): letters, digits, `-` and `_`, else refused.
fn opt_word(v: Option<String>, what: &str) -> Result<Option<String>, String> {
    match v {
        Some(w)
            if w.is_empty()
                || w.len() > 32
                || !w
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(format!("{what} `{}` is not a word the API uses", shown(&w)))
        }
        v => Ok(v),
    }
}

impl Ec2Inventory {
    /// Add the documents of one file (one or more JSON documents one after another, as
    /// `aws ec2 describe-… >> file` leaves them). A document that is none of the four, or a
    /// value that is not what its field holds, is refused with what it was.
    pub fn add_json(&mut self, json: &[u8]) -> Result<Added, String> {
        let mut added = Added::default();
        for doc in serde_json::Deserializer::from_slice(json).into_iter::<Doc>() {
            let doc = doc.map_err(|e| format!("not the JSON of `aws ec2 describe-…`: {e}"))?;
            let mut any = false;
            if let Some(v) = doc.nat_gateways {
                self.given.nat_gateways = true;
                any = true;
                for n in v {
                    added.nat_gateways += self.add_nat(n)? as usize;
                }
            }
            if let Some(v) = doc.route_tables {
                self.given.route_tables = true;
                any = true;
                for t in v {
                    added.route_tables += self.add_route_table(t)? as usize;
                }
            }
            if let Some(v) = doc.subnets {
                self.given.subnets = true;
                any = true;
                for s in v {
                    added.subnets += self.add_subnet(s)? as usize;
                }
            }
            if let Some(v) = doc.vpc_endpoints {
                self.given.endpoints = true;
                any = true;
                for e in v {
                    added.endpoints += self.add_endpoint(e)? as usize;
                }
            }
            if !any {
                return Err(
                    "a JSON document with none of NatGateways, RouteTables, Subnets, \
                     VpcEndpoints (the output of `aws ec2 describe-nat-gateways`, \
                     `describe-route-tables`, `describe-subnets` or `describe-vpc-endpoints`)"
                        .into(),
                );
            }
        }
        Ok(added)
    }

    fn add_nat(&mut self, n: NatDoc) -> Result<bool, String> {
        let gid = id(&n.nat_gateway_id, "nat", "NatGatewayId")?;
        let mut addresses = Vec::new();
        for a in n.nat_gateway_addresses {
            let what = |f: &str| format!("{gid}: NatGatewayAddresses[].{f}");
            let Some(eni) = opt_id(
                a.network_interface_id.as_deref(),
                "eni",
                &what("NetworkInterfaceId"),
            )?
            else {
                continue; // an address still being assigned has no ENI yet
            };
            addresses.push(NatAddress {
                eni,
                private_ip: opt_ip(a.private_ip.as_deref(), &what("PrivateIp"))?,
                public_ip: opt_ip(a.public_ip.as_deref(), &what("PublicIp"))?,
                az_id: opt_az(a.availability_zone_id, &what("AvailabilityZoneId"))?,
            });
        }
        let g = NatGateway {
            vpc: opt_id(n.vpc_id.as_deref(), "vpc", &format!("{gid}: VpcId"))?,
            subnet: opt_id(
                n.subnet_id.as_deref(),
                "subnet",
                &format!("{gid}: SubnetId"),
            )?,
            state: opt_word(n.state, &format!("{gid}: State"))?,
            connectivity: opt_word(n.connectivity_type, &format!("{gid}: ConnectivityType"))?,
            availability_mode: opt_word(n.availability_mode, &format!("{gid}: AvailabilityMode"))?,
            addresses,
            id: gid,
        };
        Ok(push_new(&mut self.nat_gateways, g, |g| &g.id))
    }

    fn add_route_table(&mut self, t: RouteTableDoc) -> Result<bool, String> {
        let tid = id(&t.route_table_id, "rtb", "RouteTableId")?;
        let mut table = RouteTable {
            vpc: opt_id(t.vpc_id.as_deref(), "vpc", &format!("{tid}: VpcId"))?,
            main: false,
            subnets: Vec::new(),
            nat_gateways: Vec::new(),
            endpoints: Vec::new(),
            id: tid.clone(),
        };
        for a in t.associations {
            let state = a.association_state.and_then(|s| s.state);
            if state.as_deref().is_some_and(|s| s != "associated") {
                continue; // being removed, or failed
            }
            table.main |= a.main;
            let what = format!("{tid}: Associations[].SubnetId");
            if let Some(s) = opt_id(a.subnet_id.as_deref(), "subnet", &what)? {
                table.subnets.push(s);
            }
        }
        for r in t.routes {
            if let Some(n) = r.nat_gateway_id {
                table
                    .nat_gateways
                    .push(id(&n, "nat", &format!("{tid}: Routes[].NatGatewayId"))?);
            }
            if let Some(g) = r.gateway_id.filter(|g| g.starts_with("vpce-")) {
                table
                    .endpoints
                    .push(id(&g, "vpce", &format!("{tid}: Routes[].GatewayId"))?);
            }
        }
        for v in [
            &mut table.subnets,
            &mut table.nat_gateways,
            &mut table.endpoints,
        ] {
            v.sort();
            v.dedup();
        }
        Ok(push_new(&mut self.route_tables, table, |t| &t.id))
    }

    fn add_subnet(&mut self, s: SubnetDoc) -> Result<bool, String> {
        let sid = id(&s.subnet_id, "subnet", "SubnetId")?;
        let cidr =
            match s.cidr_block {
                None => None,
                Some(c) => Some(c.parse::<Ipv4Net>().map_err(|_| {
                    format!("{sid}: CidrBlock `{}` is not an IPv4 prefix", shown(&c))
                })?),
            };
        let mut ipv6 = Vec::new();
        for a in s.ipv6_cidr_block_association_set {
            if let Some(c) = a.ipv6_cidr_block {
                ipv6.push(c.parse::<Ipv6Net>().map_err(|_| {
                    format!("{sid}: Ipv6CidrBlock `{}` is not an IPv6 prefix", shown(&c))
                })?);
            }
        }
        let subnet = Subnet {
            vpc: opt_id(s.vpc_id.as_deref(), "vpc", &format!("{sid}: VpcId"))?,
            az: opt_az(s.availability_zone, &format!("{sid}: AvailabilityZone"))?,
            az_id: opt_az(
                s.availability_zone_id,
                &format!("{sid}: AvailabilityZoneId"),
            )?,
            cidr: cidr.map(|c| c.trunc()),
            ipv6: ipv6.into_iter().map(|c| c.trunc()).collect(),
            id: sid,
        };
        Ok(push_new(&mut self.subnets, subnet, |s| &s.id))
    }

    fn add_endpoint(&mut self, e: EndpointDoc) -> Result<bool, String> {
        let eid = id(&e.vpc_endpoint_id, "vpce", "VpcEndpointId")?;
        // a service of another shape (a partner's, a PrivateLink service) is kept under its
        // name only if it is plain text; the plan reads only AWS's own gateway services
        if e.service_name.len() > 200
            || !e
                .service_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
        {
            return Err(format!(
                "{eid}: ServiceName `{}` is not a service name",
                shown(&e.service_name)
            ));
        }
        let mut route_tables = Vec::new();
        for t in &e.route_table_ids {
            route_tables.push(id(t, "rtb", &format!("{eid}: RouteTableIds[]"))?);
        }
        route_tables.sort();
        route_tables.dedup();
        let endpoint = Endpoint {
            vpc: opt_id(e.vpc_id.as_deref(), "vpc", &format!("{eid}: VpcId"))?,
            service: e.service_name,
            kind: opt_word(e.vpc_endpoint_type, &format!("{eid}: VpcEndpointType"))?
                .unwrap_or_else(|| "Gateway".into()),
            state: opt_word(e.state, &format!("{eid}: State"))?,
            route_tables,
            id: eid,
        };
        Ok(push_new(&mut self.endpoints, endpoint, |e| &e.id))
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.given == Given::default()
    }

    /// Every NAT gateway ENI the inventory names.
    pub fn nat_enis(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .nat_gateways
            .iter()
            .flat_map(|g| g.addresses.iter().map(|a| a.eni.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every NAT gateway address the inventory names (private and public).
    pub fn nat_ips(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .nat_gateways
            .iter()
            .flat_map(|g| g.addresses.iter())
            .flat_map(|a| a.private_ip.into_iter().chain(a.public_ip))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The gateway an ENI belongs to.
    pub fn gateway_of_eni(&self, eni: &str) -> Option<&NatGateway> {
        self.nat_gateways
            .iter()
            .find(|g| g.addresses.iter().any(|a| a.eni == eni))
    }

    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    /// The subnet holding `ip`, by the subnets' prefixes; none when no subnet or more than one
    /// holds it (VPCs with overlapping address space cannot be told apart by address).
    pub fn subnet_of_ip(&self, ip: IpAddr) -> Option<&Subnet> {
        self.subnet_of_ip_in(ip, None)
    }

    /// [`Ec2Inventory::subnet_of_ip`] among the subnets of `vpc` (and those of no known VPC)
    /// where it is given: a NAT gateway's clients are in its own VPC, so another VPC's
    /// overlapping prefixes leave no doubt.
    pub fn subnet_of_ip_in(&self, ip: IpAddr, vpc: Option<&str>) -> Option<&Subnet> {
        let in_vpc = |s: &Subnet| vpc.is_none() || s.vpc.is_none() || s.vpc.as_deref() == vpc;
        let mut found = self.subnets.iter().filter(|s| {
            in_vpc(s)
                && match ip {
                    IpAddr::V4(a) => s.cidr.is_some_and(|c| c.contains(&a)),
                    IpAddr::V6(a) => s.ipv6.iter().any(|c| c.contains(&a)),
                }
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The route table serving a subnet: its own association, else its VPC's main table; and
    /// whether it is the main table. None when the route tables were not given or none fits.
    pub fn route_table_of(&self, subnet: &str) -> Option<(&RouteTable, bool)> {
        if let Some(t) = self
            .route_tables
            .iter()
            .find(|t| t.subnets.iter().any(|s| s == subnet))
        {
            return Some((t, t.main));
        }
        let vpc = self.subnet(subnet)?.vpc.as_deref()?;
        self.route_tables
            .iter()
            .find(|t| t.main && t.vpc.as_deref() == Some(vpc))
            .map(|t| (t, true))
    }

    /// The gateway endpoints of `service` (`s3`, `dynamodb`) in `region`, per VPC.
    pub fn gateway_endpoints(
        &self,
        region: &str,
        service: &str,
    ) -> BTreeMap<String, Vec<&Endpoint>> {
        let mut by_vpc: BTreeMap<String, Vec<&Endpoint>> = BTreeMap::new();
        for e in &self.endpoints {
            let usable = e.kind.eq_ignore_ascii_case("gateway")
                && !matches!(
                    e.state.as_deref(),
                    Some("deleted" | "deleting" | "failed" | "rejected")
                )
                && endpoint_service(&e.service) == Some((region, service));
            if let (true, Some(vpc)) = (usable, &e.vpc) {
                by_vpc.entry(vpc.clone()).or_default().push(e);
            }
        }
        by_vpc
    }
}

/// Push `item` unless one with its key is there; whether it was pushed.
fn push_new<T>(v: &mut Vec<T>, item: T, key: impl Fn(&T) -> &String) -> bool {
    if v.iter().any(|x| key(x) == key(&item)) {
        return false;
    }
    v.push(item);
    true
}

/// The prefix of an address's subnet, for messages.
pub fn prefix_of(s: &Subnet) -> Option<IpNet> {
    s.cidr
        .map(IpNet::V4)
        .or(s.ipv6.first().map(|c| IpNet::V6(*c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NATS: &str = r#"{
        "NatGateways": [
            {
                "CreateTime": "2026-08-01T10:00:00+00:00",
                "NatGatewayAddresses": [
                    {
                        "AllocationId": "eipalloc-0a1b2c3d4e5f60718",
                        "NetworkInterfaceId": "eni-0a1b2c3d4e5f60718",
                        "PrivateIp": "10.0.0.10",
                        "PublicIp": "203.0.113.10",
                        "AssociationId": "eipassoc-0a1b2c3d4e5f60718",
                        "IsPrimary": true,
                        "Status": "succeeded"
                    }
                ],
                "NatGatewayId": "nat-0a1b2c3d4e5f60718",
                "State": "available",
                "SubnetId": "subnet-0a1b2c3d4e5f60718",
                "VpcId": "vpc-0a1b2c3d4e5f60718",
                "Tags": [{"Key": "Name", "Value": "<script>alert(1)</script>"}],
                "ConnectivityType": "public"
            },
            {
                "NatGatewayAddresses": [
                    {"NetworkInterfaceId": "eni-0b1b2c3d4e5f60718", "PrivateIp": "10.0.1.10",
                     "PublicIp": "203.0.113.11", "AvailabilityZoneId": "use1-az1", "IsPrimary": true},
                    {"NetworkInterfaceId": "eni-0c1b2c3d4e5f60718", "PrivateIp": "10.0.2.10",
                     "PublicIp": "203.0.113.12", "AvailabilityZoneId": "use1-az2", "IsPrimary": true},
                    {"AllocationId": "eipalloc-0d1b2c3d4e5f60718", "Status": "associating"}
                ],
                "NatGatewayId": "nat-0b1b2c3d4e5f60718",
                "State": "available",
                "VpcId": "vpc-0a1b2c3d4e5f60718",
                "ConnectivityType": "public",
                "AvailabilityMode": "regional",
                "RouteTableId": "rtb-0f1b2c3d4e5f60718"
            }
        ]
    }"#;

    const TABLES: &str = r#"{"RouteTables": [
        {"Associations": [{"Main": true, "RouteTableAssociationId": "rtbassoc-01", "RouteTableId": "rtb-0a0a0a0a0a0a0a0a0",
                           "AssociationState": {"State": "associated"}}],
         "RouteTableId": "rtb-0a0a0a0a0a0a0a0a0", "VpcId": "vpc-0a1b2c3d4e5f60718",
         "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0a1b2c3d4e5f60718", "State": "active"}]},
        {"Associations": [{"Main": false, "SubnetId": "subnet-0b0b0b0b0b0b0b0b0", "RouteTableId": "rtb-0b0b0b0b0b0b0b0b0",
                           "AssociationState": {"State": "associated"}},
                          {"Main": false, "SubnetId": "subnet-0c0c0c0c0c0c0c0c0", "RouteTableId": "rtb-0b0b0b0b0b0b0b0b0",
                           "AssociationState": {"State": "disassociating"}}],
         "RouteTableId": "rtb-0b0b0b0b0b0b0b0b0", "VpcId": "vpc-0a1b2c3d4e5f60718",
         "Routes": [{"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0e0e0e0e0e0e0e0e0", "State": "active"},
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0a1b2c3d4e5f60718"}]}
    ]}"#;

    const SUBNETS: &str = r#"{"Subnets": [
        {"AvailabilityZone": "us-east-1a", "AvailabilityZoneId": "use1-az1", "CidrBlock": "10.0.16.0/20",
         "SubnetId": "subnet-0b0b0b0b0b0b0b0b0", "VpcId": "vpc-0a1b2c3d4e5f60718",
         "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:1:100::/64", "AssociationId": "x"}]},
        {"AvailabilityZone": "us-east-1b", "AvailabilityZoneId": "use1-az2", "CidrBlock": "10.0.32.0/20",
         "SubnetId": "subnet-0c0c0c0c0c0c0c0c0", "VpcId": "vpc-0a1b2c3d4e5f60718"}
    ]}
    {"Subnets": [
        {"AvailabilityZoneId": "use1-az1", "CidrBlock": "10.0.16.0/24",
         "SubnetId": "subnet-0d0d0d0d0d0d0d0d0", "VpcId": "vpc-0f0f0f0f0f0f0f0f0"}
    ]}"#;

    const ENDPOINTS: &str = r#"{"VpcEndpoints": [
        {"VpcEndpointId": "vpce-0e0e0e0e0e0e0e0e0", "VpcEndpointType": "Gateway", "VpcId": "vpc-0a1b2c3d4e5f60718",
         "ServiceName": "com.amazonaws.us-east-1.s3", "State": "available",
         "RouteTableIds": ["rtb-0b0b0b0b0b0b0b0b0"], "SubnetIds": []},
        {"VpcEndpointId": "vpce-0e0e0e0e0e0e0e0e1", "VpcEndpointType": "Interface", "VpcId": "vpc-0a1b2c3d4e5f60718",
         "ServiceName": "com.amazonaws.us-east-1.s3", "State": "available", "RouteTableIds": []}
    ]}"#;

    fn all() -> Ec2Inventory {
        let mut inv = Ec2Inventory::default();
        for doc in [NATS, TABLES, SUBNETS, ENDPOINTS] {
            inv.add_json(doc.as_bytes()).unwrap();
        }
        inv
    }

    #[test]
    fn the_four_documents_read_as_the_cli_prints_them() {
        let inv = all();
        assert_eq!(
            inv.nat_enis(),
            [
                "eni-0a1b2c3d4e5f60718",
                "eni-0b1b2c3d4e5f60718",
                "eni-0c1b2c3d4e5f60718"
            ]
        );
        let regional = inv.gateway_of_eni("eni-0c1b2c3d4e5f60718").unwrap();
        assert_eq!(regional.id, "nat-0b1b2c3d4e5f60718");
        assert_eq!(regional.availability_mode.as_deref(), Some("regional"));
        assert_eq!(regional.subnet, None);
        assert_eq!(regional.addresses[1].az_id.as_deref(), Some("use1-az2"));
        assert_eq!(
            regional.addresses.len(),
            2,
            "the address without an ENI is left out"
        );
        assert_eq!(inv.nat_ips().len(), 6);
        // an explicit association, the main table for a subnet without one, a disassociating
        // association ignored
        let (t, main) = inv.route_table_of("subnet-0b0b0b0b0b0b0b0b0").unwrap();
        assert_eq!((t.id.as_str(), main), ("rtb-0b0b0b0b0b0b0b0b0", false));
        assert_eq!(t.endpoints, ["vpce-0e0e0e0e0e0e0e0e0"]);
        let (t, main) = inv.route_table_of("subnet-0c0c0c0c0c0c0c0c0").unwrap();
        assert_eq!((t.id.as_str(), main), ("rtb-0a0a0a0a0a0a0a0a0", true));
        assert_eq!(t.nat_gateways, ["nat-0a1b2c3d4e5f60718"]);
        // a subnet of another VPC, whose main table was not given
        assert!(inv.route_table_of("subnet-0d0d0d0d0d0d0d0d0").is_none());
        // addresses to subnets; the overlapping prefixes of two VPCs name no subnet
        let at = |s: &str| inv.subnet_of_ip(s.parse().unwrap()).map(|s| s.id.as_str());
        assert_eq!(at("10.0.33.7"), Some("subnet-0c0c0c0c0c0c0c0c0"));
        assert_eq!(at("10.0.17.7"), Some("subnet-0b0b0b0b0b0b0b0b0"));
        assert_eq!(at("10.0.16.7"), None, "in two VPCs' subnets");
        // ... but one in each VPC: a NAT gateway's clients are in its own
        let in_vpc = |s: &str, vpc| {
            (inv.subnet_of_ip_in(s.parse().unwrap(), Some(vpc))).map(|s| s.id.as_str())
        };
        assert_eq!(
            in_vpc("10.0.16.7", "vpc-0f0f0f0f0f0f0f0f0"),
            Some("subnet-0d0d0d0d0d0d0d0d0")
        );
        assert_eq!(
            in_vpc("10.0.16.7", "vpc-0a1b2c3d4e5f60718"),
            Some("subnet-0b0b0b0b0b0b0b0b0")
        );
        assert_eq!(in_vpc("10.0.33.7", "vpc-0f0f0f0f0f0f0f0f0"), None);
        assert_eq!(at("2600:1f18:1:100::5"), Some("subnet-0b0b0b0b0b0b0b0b0"));
        assert_eq!(at("10.9.0.1"), None);
        // gateway endpoints only, of the service and region asked
        let s3 = inv.gateway_endpoints("us-east-1", "s3");
        assert_eq!(s3.len(), 1);
        assert_eq!(s3["vpc-0a1b2c3d4e5f60718"].len(), 1);
        assert!(inv.gateway_endpoints("eu-west-1", "s3").is_empty());
        assert!(inv.gateway_endpoints("us-east-1", "dynamodb").is_empty());
    }

    #[test]
    fn a_resource_given_twice_counts_once_and_other_documents_are_refused() {
        let mut inv = Ec2Inventory::default();
        assert_eq!(inv.add_json(NATS.as_bytes()).unwrap().nat_gateways, 2);
        assert_eq!(inv.add_json(NATS.as_bytes()).unwrap().nat_gateways, 0);
        assert_eq!(inv.nat_gateways.len(), 2);
        assert!(!inv.given.route_tables);
        let e = inv.add_json(br#"{"tasks": []}"#).unwrap_err();
        assert!(e.contains("NatGateways"), "{e}");
        assert!(inv.add_json(b"[1, 2]").is_err());
        assert!(inv
            .add_json(br#"{"NatGateways": [{"State": "x"}]}"#)
            .is_err());
    }

    #[test]
    fn values_that_are_not_ids_are_refused_by_name() {
        let cases = [
            (
                r#"{"NatGateways": [{"NatGatewayId": "nat-0a1b2c3d; rm -rf /"}]}"#,
                "NatGatewayId",
            ),
            (
                r#"{"RouteTables": [{"RouteTableId": "rtb-<script>"}]}"#,
                "RouteTableId",
            ),
            (
                r#"{"RouteTables": [{"RouteTableId": "rtb-0a0a0a0a", "Associations": [{"SubnetId": "subnet-$(id)"}]}]}"#,
                "SubnetId",
            ),
            (
                r#"{"Subnets": [{"SubnetId": "subnet-0a0a0a0a", "CidrBlock": "10.0.0.0/33"}]}"#,
                "CidrBlock",
            ),
            (
                r#"{"VpcEndpoints": [{"VpcEndpointId": "vpce-0a0a0a0a", "ServiceName": "com.amazonaws.us-east-1.s3\"; x"}]}"#,
                "ServiceName",
            ),
            (
                r#"{"NatGateways": [{"NatGatewayId": "nat-0a0a0a0a", "NatGatewayAddresses": [{"NetworkInterfaceId": "eni-0a0a0a0a", "PrivateIp": "10.0.0.300"}]}]}"#,
                "PrivateIp",
            ),
            (
                r#"{"NatGateways": [{"NatGatewayId": "nat-0A0A0A0A"}]}"#,
                "NatGatewayId",
            ),
        ];
        for (doc, field) in cases {
            let e = Ec2Inventory::default()
                .add_json(doc.as_bytes())
                .unwrap_err();
            assert!(e.contains(field), "{doc}: {e}");
        }
        assert!(is_id("vpc-0a1b2c3d", "vpc"));
        assert!(is_id("eni-0a1b2c3d4e5f60718", "eni"));
        assert!(!is_id("eni-0a1b2c3d4e5f607180", "eni"));
        assert!(!is_id("vpc-0a1b2c3d", "eni"));
        assert_eq!(
            endpoint_service("com.amazonaws.eu-west-1.dynamodb"),
            Some(("eu-west-1", "dynamodb"))
        );
        assert_eq!(
            endpoint_service("com.amazonaws.vpce.us-east-1.vpce-svc-0a"),
            None
        );
    }
}
