//! The endpoint plan as something to apply: AWS CLI commands (`endpoint-plan.sh`) and the
//! equivalent Terraform (`endpoint-plan.tf`), with the caveats that matter. Every id in them
//! was checked to be an AWS id when the inventory was read; the region is checked here.

use std::collections::BTreeMap;

use crate::plan::{PlanStep, Service};

/// The caveats, one per line, for comments and the Markdown/HTML notes.
pub const CAVEATS: [&str; 4] = [
    "Only same-region traffic moves: S3 buckets in other regions are not reached through a gateway endpoint, stay on the NAT, and are not in the saving.",
    "Bucket policies that allow by aws:SourceIp stop matching (requests arrive from private addresses): use aws:SourceVpce or aws:SourceVpc conditions.",
    "Changing a route table's routes to S3 or DynamoDB may drop connections open at that moment: apply in a quiet window.",
    "Gateway endpoints for S3 and DynamoDB are free; interface endpoints are charged per hour and per GB.",
];

/// Whether a region name can go into a command unquoted.
fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What one command does: for a service, region and VPC, the endpoint to extend (none:
/// create one) and the route tables.
type Groups<'a> = BTreeMap<(Service, &'a str, &'a str), (Option<&'a str>, Vec<&'a str>)>;

/// The steps grouped by command.
fn groups(steps: &[PlanStep]) -> Groups<'_> {
    let mut g = Groups::new();
    for s in steps.iter().filter(|s| is_region(&s.region)) {
        let e = g
            .entry((s.service, s.region.as_str(), s.vpc.as_str()))
            .or_insert((s.endpoint.as_deref(), Vec::new()));
        e.1.push(&s.route_table);
    }
    for (_, tables) in g.values_mut() {
        tables.sort();
        tables.dedup();
    }
    g
}

/// One `aws ec2` command per service and VPC.
pub fn commands(steps: &[PlanStep]) -> Vec<String> {
    groups(steps)
        .into_iter()
        .map(|((service, region, vpc), (endpoint, tables))| match endpoint {
            Some(e) => format!(
                "aws ec2 modify-vpc-endpoint --region {region} --vpc-endpoint-id {e} --add-route-table-ids {}",
                tables.join(" ")
            ),
            None => format!(
                "aws ec2 create-vpc-endpoint --region {region} --vpc-id {vpc} --vpc-endpoint-type Gateway --service-name com.amazonaws.{region}.{} --route-table-ids {}",
                service.suffix(),
                tables.join(" ")
            ),
        })
        .collect()
}

/// `endpoint-plan.sh`: the commands, with what each saves and the caveats.
pub fn shell_script(steps: &[PlanStep], money: impl Fn(f64) -> String) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Gateway endpoints that take S3 and DynamoDB traffic off the NAT gateways, written by\n# flowcost from the flow logs and the VPC inventory. Read it before running it.\nset -eu\n",
    );
    for c in CAVEATS {
        s.push_str(&format!("# - {c}\n"));
    }
    if steps.is_empty() {
        s.push_str("# Nothing to do: no route table sends S3 or DynamoDB traffic through a NAT without a gateway endpoint.\n");
    }
    for st in steps {
        s.push_str(&format!(
            "# {}: {} ({}) saves {} per 30 days\n",
            st.service.label(),
            st.route_table,
            st.subnets.join(", "),
            money(st.saving.per_30_days)
        ));
    }
    for c in commands(steps) {
        s.push_str(&c);
        s.push('\n');
    }
    s
}

/// A Terraform resource name from an AWS id.
fn tf_name(service: Service, id: &str) -> String {
    format!("{}_{}", service.suffix(), id.replace('-', "_"))
}

/// `endpoint-plan.tf`: `aws_vpc_endpoint` for each endpoint to create, and an
/// `aws_vpc_endpoint_route_table_association` for each route table.
pub fn terraform(steps: &[PlanStep]) -> String {
    let mut s = String::from(
        "# Gateway endpoints that take S3 and DynamoDB traffic off the NAT gateways (written by flowcost).\n",
    );
    for c in CAVEATS {
        s.push_str(&format!("# - {c}\n"));
    }
    for ((service, region, vpc), (endpoint, tables)) in groups(steps) {
        let endpoint_ref = match endpoint {
            Some(e) => format!("\"{e}\""),
            None => {
                let name = tf_name(service, vpc);
                s.push_str(&format!(
                    "\nresource \"aws_vpc_endpoint\" \"{name}\" {{\n  vpc_id            = \"{vpc}\"\n  service_name      = \"com.amazonaws.{region}.{}\"\n  vpc_endpoint_type = \"Gateway\"\n}}\n",
                    service.suffix()
                ));
                format!("aws_vpc_endpoint.{name}.id")
            }
        };
        for t in tables {
            s.push_str(&format!(
                "\nresource \"aws_vpc_endpoint_route_table_association\" \"{}\" {{\n  vpc_endpoint_id = {endpoint_ref}\n  route_table_id  = \"{t}\"\n}}\n",
                tf_name(service, t)
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Money;

    fn step(service: Service, vpc: &str, rt: &str, endpoint: Option<&str>) -> PlanStep {
        PlanStep {
            service,
            region: "us-east-1".into(),
            vpc: vpc.into(),
            route_table: rt.into(),
            subnets: vec!["subnet-0a0a0a0a".into()],
            bytes: 5,
            endpoint: endpoint.map(String::from),
            saving: Money {
                period: 1.0,
                per_30_days: 3.0,
            },
        }
    }

    #[test]
    fn one_command_per_service_and_vpc() {
        let steps = [
            step(Service::S3, "vpc-0a0a0a0a", "rtb-0b0b0b0b", None),
            step(Service::S3, "vpc-0a0a0a0a", "rtb-0a0a0a0a", None),
            step(
                Service::Dynamodb,
                "vpc-0a0a0a0a",
                "rtb-0a0a0a0a",
                Some("vpce-0c0c0c0c"),
            ),
        ];
        assert_eq!(
            commands(&steps),
            [
                "aws ec2 create-vpc-endpoint --region us-east-1 --vpc-id vpc-0a0a0a0a --vpc-endpoint-type Gateway --service-name com.amazonaws.us-east-1.s3 --route-table-ids rtb-0a0a0a0a rtb-0b0b0b0b",
                "aws ec2 modify-vpc-endpoint --region us-east-1 --vpc-endpoint-id vpce-0c0c0c0c --add-route-table-ids rtb-0a0a0a0a",
            ]
        );
        let tf = terraform(&steps);
        assert_eq!(tf.matches("resource \"aws_vpc_endpoint\" ").count(), 1);
        assert_eq!(
            tf.matches("aws_vpc_endpoint_route_table_association")
                .count(),
            3
        );
        assert!(tf.contains("vpc_endpoint_id = aws_vpc_endpoint.s3_vpc_0a0a0a0a.id"));
        assert!(tf.contains("vpc_endpoint_id = \"vpce-0c0c0c0c\""));
        let sh = shell_script(&steps, |v| format!("${v:.2}"));
        assert!(sh.starts_with("#!/bin/sh\n"));
        assert!(sh.contains("saves $3.00 per 30 days"));
        // every line is a comment, `set -eu`, or one of the commands
        for line in sh.lines().skip(1) {
            assert!(
                line.starts_with('#') || line == "set -eu" || line.starts_with("aws ec2 "),
                "{line}"
            );
        }
    }

    #[test]
    fn a_region_that_is_not_a_word_gives_no_command() {
        let mut s = step(Service::S3, "vpc-0a0a0a0a", "rtb-0b0b0b0b", None);
        s.region = "us-east-1; rm -rf /".into();
        assert!(commands(&[s.clone()]).is_empty());
        assert!(!terraform(&[s]).contains("rm -rf"));
    }
}
