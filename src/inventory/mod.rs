//! What AWS's own APIs say about the resources behind the flow logs, from the JSON the AWS CLI
//! prints: `aws ecs describe-tasks` here (which ECS service a task address belonged to, and
//! when, to label task starts where the flow logs carry no ECS fields), and the VPC's NAT
//! gateways, route tables, subnets and endpoints in [`ec2`]. Pure: the caller reads the files.

pub mod ec2;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// ECS tasks by private address: when each held it, and its service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsTasks {
    by_ip: BTreeMap<IpAddr, Vec<Held>>,
    tasks: usize,
}

/// One task's hold on an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    /// When the task was created (else its image pull or its start began); its records
    /// count from [`BEFORE`] seconds earlier.
    start: i64,
    /// A little after it stopped (`i64::MAX` while it runs).
    to: i64,
    service: String,
}

/// How far before a task's creation and after its stop a record still counts as its own.
const BEFORE: i64 = 120;
const AFTER: i64 = 60;

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    tasks: Vec<TaskDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskDoc {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    created_at: Option<serde_json::Value>,
    #[serde(default)]
    pull_started_at: Option<serde_json::Value>,
    #[serde(default)]
    started_at: Option<serde_json::Value>,
    #[serde(default)]
    stopped_at: Option<serde_json::Value>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

impl EcsTasks {
    /// Add the tasks of `aws ecs describe-tasks` output (`{"tasks": [...]}`, or several such
    /// documents one after another, as `xargs -n 100 aws ecs describe-tasks …` writes them).
    /// Returns how many tasks had an address and a start time; the others are left out.
    pub fn add_json(&mut self, json: &[u8]) -> Result<usize, String> {
        let mut added = 0;
        for doc in serde_json::Deserializer::from_slice(json).into_iter::<Doc>() {
            let doc = doc.map_err(|e| format!("not the JSON of `aws ecs describe-tasks`: {e}"))?;
            added += self.add(doc);
        }
        Ok(added)
    }

    fn add(&mut self, doc: Doc) -> usize {
        let mut added = 0;
        for t in doc.tasks {
            let ip = t
                .attachments
                .iter()
                .flat_map(|a| &a.details)
                .find(|d| d.name == "privateIPv4Address")
                .and_then(|d| d.value.as_deref())
                .and_then(|v| v.parse::<IpAddr>().ok());
            let start = [&t.created_at, &t.pull_started_at, &t.started_at]
                .into_iter()
                .find_map(|v| v.as_ref().and_then(timestamp));
            let (Some(ip), Some(start)) = (ip, start) else {
                continue;
            };
            let to = t
                .stopped_at
                .as_ref()
                .and_then(timestamp)
                .map_or(i64::MAX, |s| s.saturating_add(AFTER));
            let group = t.group.unwrap_or_default();
            let service = group.strip_prefix("service:").unwrap_or(&group);
            self.by_ip.entry(ip).or_default().push(Held {
                start,
                to,
                service: if service.is_empty() {
                    "unknown".into()
                } else {
                    service.to_string()
                },
            });
            added += 1;
        }
        self.tasks += added;
        added
    }

    /// Every address's task start times: where the account stage cuts an address's
    /// sessions on the NAT's legs.
    pub fn starts(&self) -> HashMap<IpAddr, Vec<i64>> {
        self.by_ip
            .iter()
            .map(|(ip, held)| (*ip, held.iter().map(|h| h.start).collect()))
            .collect()
    }

    /// Tasks known.
    pub fn len(&self) -> usize {
        self.tasks
    }

    pub fn is_empty(&self) -> bool {
        self.tasks == 0
    }

    /// The service of the task that held `ip` at `t` (the one created last, if several).
    pub fn service_at(&self, ip: IpAddr, t: i64) -> Option<&str> {
        self.by_ip
            .get(&ip)?
            .iter()
            .filter(|h| h.start.saturating_sub(BEFORE) <= t && t <= h.to)
            .max_by_key(|h| h.start)
            .map(|h| h.service.as_str())
    }
}

/// A timestamp as the AWS CLI prints one: ISO 8601 with an offset (CLI v2,
/// `2026-09-01T00:15:00.123000+00:00`, or `Z`), or epoch seconds as a number (CLI v1).
fn timestamp(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64),
        serde_json::Value::String(s) => iso8601(s),
        _ => None,
    }
}

fn iso8601(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(['T', ' '])?;
    // the offset: `Z`, or a sign after the seconds
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']).filter(|&i| i >= 8) {
        let (h, m) = time[i + 1..]
            .split_once(':')
            .unwrap_or((&time[i + 1..], "0"));
        let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
        (
            &time[..i],
            if &time[i..i + 1] == "-" { -secs } else { secs },
        )
    } else {
        (time, 0)
    };
    let clock = clock.split('.').next()?;
    let local = crate::time::parse_instant(&format!("{date}T{clock}"))?;
    Some(local - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_cli_timestamps() {
        let t = 1_788_221_700; // 2026-09-01T00:15:00Z
        assert_eq!(iso8601("2026-09-01T00:15:00.123000+00:00"), Some(t));
        assert_eq!(iso8601("2026-09-01T00:15:00Z"), Some(t));
        assert_eq!(iso8601("2026-09-01T02:15:00+02:00"), Some(t));
        assert_eq!(iso8601("2026-08-31T19:15:00.5-05:00"), Some(t));
        assert_eq!(timestamp(&serde_json::json!(1_788_221_700.25)), Some(t));
        assert_eq!(iso8601("2026-09-31T00:15:00Z"), None);
        assert_eq!(iso8601("yesterday"), None);
    }

    #[test]
    fn tasks_label_addresses_in_their_time() {
        let json = br#"{"tasks": [
          {"group": "service:web", "createdAt": "2026-09-01T00:15:00+00:00",
           "stoppedAt": "2026-09-01T01:00:00+00:00",
           "attachments": [{"type": "ElasticNetworkInterface", "details": [
              {"name": "networkInterfaceId", "value": "eni-1"},
              {"name": "privateIPv4Address", "value": "10.0.16.5"}]}]},
          {"group": "service:batch", "createdAt": 1788228000,
           "attachments": [{"details": [{"name": "privateIPv4Address", "value": "10.0.16.5"}]}]},
          {"group": "family:cron", "startedAt": "2026-09-01T00:00:00Z",
           "attachments": [{"details": [{"name": "privateIPv4Address", "value": "10.0.16.6"}]}]},
          {"group": "service:nowhere"}
        ], "failures": []}"#;
        let mut t = EcsTasks::default();
        assert_eq!(t.add_json(json), Ok(3));
        // two documents one after the other, as xargs runs the command per 100 tasks
        let mut two = EcsTasks::default();
        let both = [&json[..], b"\n", &json[..]].concat();
        assert_eq!(two.add_json(&both), Ok(6));
        let ip: IpAddr = "10.0.16.5".parse().unwrap();
        let at = |h: i64, m: i64| 1_788_220_800 + h * 3600 + m * 60;
        assert_eq!(
            t.service_at(ip, at(0, 14)),
            Some("web"),
            "the pull just before"
        );
        assert_eq!(t.service_at(ip, at(0, 59)), Some("web"));
        assert_eq!(t.service_at(ip, at(1, 30)), None, "between the two tasks");
        assert_eq!(t.service_at(ip, at(2, 10)), Some("batch"), "still running");
        assert_eq!(
            t.service_at("10.0.16.6".parse().unwrap(), at(5, 0)),
            Some("family:cron")
        );
        assert!(t
            .add_json(b"[1, 2]")
            .unwrap_err()
            .contains("describe-tasks"));
    }
}
