//! One flow log per ENI. Two flow logs on one VPC (a security team's and a cost team's, or an
//! S3 delivery beside a CloudWatch export of the same traffic) record every one of its ENIs
//! twice; summed, every byte would count double. When a run's inputs come from several flow
//! logs, the account stage keeps each ENI's records apart per flow log
//! ([`crate::account::FlowLogs`]); this stage, between account and analysis, decides per ENI:
//!
//! - recorded by one flow log: counted;
//! - recorded by several at the same time (their spans overlap by at least half of the
//!   shorter one): one is counted, the one named by `--flow-log-id`, else the one written with more fields (more
//!   can be said from it: `pkt-*`, `traffic-path`, ECS names), else the one with more
//!   records, among those that recorded the ENI's accepted traffic (a flow log of rejected
//!   traffic only is no copy of one of all traffic); the others' records are set aside and
//!   reported;
//! - recorded by several at different times (one flow log replaced by another, the spans
//!   touching at most briefly): all counted, merged.
//!
//! The choice is per ENI, not per hour: where the flow log set aside also covers a time the
//! counted one does not (a second flow log created mid-month), that time is not counted, and
//! the summary says for how many ENIs (`enis_partly_covered`), so that the user can analyse
//! that time apart.
//!
//! The decision is made once ([`OneFlowLogPerEni::new`]) and applied on every walk of the
//! table; it is pure: the ENI table comes through [`EniSource`] as for the analysis.

use serde::{Deserialize, Serialize};

use crate::account::{split_key, EniAgg, EniSource, FlowLogs, FxMap};

/// What the choice of one flow log per ENI did, for the data-quality section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogOverlap {
    /// ENIs recorded by more than one flow log at the same time.
    pub enis: u64,
    /// Of those, ENIs whose set-aside records reach more than an hour beyond the span of the
    /// records counted (that time is missing from the figures), and one such ENI.
    pub enis_partly_covered: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example_partly_covered: Option<String>,
    /// Records of those ENIs from the flow logs not counted (accepted, then rejected).
    pub records_set_aside: u64,
    pub rejected_set_aside: u64,
    /// Bytes those records carry.
    pub bytes_set_aside: u64,
    /// Every flow log of the inputs that recorded some ENI.
    pub flow_logs: Vec<FlowLogShare>,
}

/// One flow log's part in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogShare {
    /// The flow-log id; empty for the inputs without one in their names.
    pub id: String,
    /// The most fields an input of this flow log was written with.
    pub fields: u32,
    /// ENIs whose records from this flow log are counted, and set aside.
    pub enis_counted: u64,
    pub enis_set_aside: u64,
}

impl FlowLogShare {
    /// The flow log's name in messages.
    pub fn name(&self) -> &str {
        if self.id.is_empty() {
            "inputs without a flow-log id"
        } else {
            &self.id
        }
    }
}

/// The data-quality note on the flow logs of a run.
pub fn note(o: &FlowLogOverlap) -> String {
    let list = o
        .flow_logs
        .iter()
        .map(|f| format!("{} ({} fields)", f.name(), f.fields))
        .collect::<Vec<_>>()
        .join(", ");
    if o.enis == 0 {
        return format!(
            "The inputs come from {} flow logs ({list}); none recorded an ENI at the same time as another: every record counted.",
            o.flow_logs.len()
        );
    }
    let counted = o
        .flow_logs
        .iter()
        .filter(|f| f.enis_counted > 0)
        .map(|f| format!("{} for {} ENIs", f.name(), f.enis_counted))
        .collect::<Vec<_>>()
        .join(", ");
    let mut s = format!(
        "{} ENIs were recorded by more than one flow log at the same time ({list}): each is counted once, from one flow log ({counted}; --flow-log-id chooses, else the one with more fields, among those that recorded its accepted traffic); {} records ({} bytes) from the others were set aside.",
        o.enis,
        o.records_set_aside + o.rejected_set_aside,
        o.bytes_set_aside
    );
    if o.enis_partly_covered > 0 {
        s.push_str(&format!(
            " For {} of them the records set aside reach more than an hour beyond those counted (e.g. {}): that time is not in the figures; analyse it apart with --since/--until.",
            o.enis_partly_covered,
            o.example_partly_covered.as_deref().unwrap_or("")
        ));
    }
    s
}

/// An [`EniSource`] that shows each ENI once, from the flow logs chosen for it.
pub struct OneFlowLogPerEni<'a> {
    inner: &'a dyn EniSource,
    window: i64,
    /// For each ENI recorded by more than one flow log: the tags counted, ascending.
    counted: FxMap<Box<str>, Vec<u16>>,
}

/// One flow log's records of one ENI, as the decision needs them.
#[derive(Clone, Copy)]
struct Part {
    tag: u16,
    /// The first record's start and the last one's end (seconds); none for an ENI with
    /// rejected records only.
    span: Option<(i64, i64)>,
    records: u64,
    rejected: u64,
    bytes: u64,
}

impl Part {
    /// The share of flow log `tag` in an ENI's records, from its aggregate.
    fn of(tag: u16, a: &EniAgg) -> Part {
        Part {
            tag,
            span: (a.span.first()).map(|f| (f, a.span.last().unwrap_or(f).max(f))),
            records: a.records,
            rejected: a.reject_records,
            bytes: carried_bytes(a),
        }
    }
}

impl FlowLogOverlap {
    /// The flow logs of `eni` to count, where several recorded it (by `rank`: `--flow-log-id`,
    /// then fields; [`choose`]), with each one's share of the ENI, what is set aside, and
    /// whether a flow log set aside covered more than an hour beyond those kept, added to the
    /// summary; `None` for an ENI of one flow log (counted) or none. A flow log's part of
    /// NODATA windows only carries no byte and doubles none: it is counted with the others
    /// (its windows are time the ENI's logs cover), never set aside, and makes no overlap.
    fn decide(
        &mut self,
        eni: &str,
        parts: &[Part],
        rank: impl Fn(u16) -> (bool, u32),
    ) -> Option<Vec<u16>> {
        let (busy, quiet): (Vec<Part>, Vec<Part>) =
            parts.iter().partition(|p| p.records + p.rejected > 0);
        if busy.len() < 2 {
            if let Some(p) = busy.first().or(quiet.first()) {
                self.flow_logs[p.tag as usize].enis_counted += 1;
            }
            let mut all: Vec<u16> = parts.iter().map(|p| p.tag).collect();
            all.sort_unstable();
            return (parts.len() > 1).then_some(all);
        }
        let mut keep = choose(&busy, rank);
        let mut partly = false;
        for p in &busy {
            let share = &mut self.flow_logs[p.tag as usize];
            if keep.contains(&p.tag) {
                share.enis_counted += 1;
                continue;
            }
            share.enis_set_aside += 1;
            self.records_set_aside += p.records;
            self.rejected_set_aside += p.rejected;
            self.bytes_set_aside += p.bytes;
            let kept = busy.iter().filter(|k| keep.contains(&k.tag));
            partly |= kept.map(|k| beyond(p, k)).min().unwrap_or(0) > 3600;
        }
        self.enis += (keep.len() < busy.len()) as u64;
        keep.extend(quiet.iter().map(|p| p.tag));
        keep.sort_unstable();
        if partly {
            self.enis_partly_covered += 1;
            (self.example_partly_covered).get_or_insert_with(|| eni.to_string());
        }
        Some(keep)
    }
}

impl<'a> OneFlowLogPerEni<'a> {
    /// Walk `inner` once and decide, for every ENI recorded by several of `flow_logs`, which
    /// to count. `fields` holds the most fields of each flow log's inputs; `preferred` is
    /// `--flow-log-id`; `window` the pull window (for merging).
    pub fn new(
        inner: &'a dyn EniSource,
        flow_logs: &FlowLogs,
        fields: &[u32],
        preferred: Option<&str>,
        window: i64,
    ) -> std::io::Result<(Self, FlowLogOverlap)> {
        let ids = flow_logs.ids();
        let preferred = preferred.and_then(|p| ids.iter().position(|i| &**i == p));
        let fields_of = |t: u16| fields.get(t as usize).copied().unwrap_or(0);
        let mut summary = FlowLogOverlap {
            flow_logs: ids
                .iter()
                .enumerate()
                .map(|(t, id)| FlowLogShare {
                    id: id.to_string(),
                    fields: fields_of(t as u16),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut counted = FxMap::default();
        let mut current = String::new();
        let mut parts: Vec<Part> = Vec::new();
        let rank = |t: u16| (Some(t as usize) == preferred, fields_of(t));
        let mut decide = |eni: &str, parts: &mut Vec<Part>, summary: &mut FlowLogOverlap| {
            if let Some(keep) = summary.decide(eni, parts, rank) {
                counted.insert(eni.into(), keep);
            }
            parts.clear();
        };
        inner.scan(&mut |key, a| {
            let Some((eni, tag)) = split_key(key).filter(|(_, t)| (*t as usize) < ids.len()) else {
                return;
            };
            if eni != current {
                decide(&current, &mut parts, &mut summary);
                current.clear();
                current.push_str(eni);
            }
            parts.push(Part::of(tag, a));
        })?;
        decide(&current, &mut parts, &mut summary);
        // a group of inputs that recorded no ENI (files that held no record, flowcost's own
        // outputs found among the logs) is no flow log of the run
        (summary.flow_logs).retain(|f| f.enis_counted + f.enis_set_aside > 0);
        Ok((
            OneFlowLogPerEni {
                inner,
                window,
                counted,
            },
            summary,
        ))
    }
}

/// Every byte an ENI's records carry (each leg of a NAT's records, internal and rejected).
fn carried_bytes(a: &EniAgg) -> u64 {
    let side = a.private_side();
    a.public.values().sum::<u64>()
        + side.private.values().sum::<u64>()
        + side.internal_bytes
        + a.reject_bytes
}

/// The tags to count among one ENI's parts (ascending): the best by `rank` (then more
/// records, then the lower tag), and every other that overlaps none of those kept. A part
/// of rejected records only never outranks one with accepted records, whatever its rank: a
/// flow log of traffic type REJECT (a security team's, often of a richer format) beside one
/// of all traffic is no copy of it, and chosen it would set every byte that passed aside.
fn choose(parts: &[Part], rank: impl Fn(u16) -> (bool, u32)) -> Vec<u16> {
    let mut order: Vec<&Part> = parts.iter().collect();
    let key = |p: &Part| (p.records > 0, rank(p.tag), p.records);
    order.sort_by(|a, b| (key(b), a.tag).cmp(&(key(a), b.tag)));
    let mut kept: Vec<&Part> = Vec::new();
    for p in order {
        if kept.iter().all(|k| !overlap(k, p)) {
            kept.push(p);
        }
    }
    let mut tags: Vec<u16> = kept.iter().map(|p| p.tag).collect();
    tags.sort_unstable();
    tags
}

/// Two parts record the same time: their spans share at least half of the shorter one (a
/// part without a dated record overlaps every other). Spans that touch briefly, as when one
/// flow log replaces another, do not.
fn overlap(a: &Part, b: &Part) -> bool {
    match (a.span, b.span) {
        (Some(a), Some(b)) => {
            let shared = a.1.min(b.1) - a.0.max(b.0);
            let shorter = (a.1 - a.0).min(b.1 - b.0);
            shared >= 0 && shared.saturating_mul(2) >= shorter
        }
        _ => true,
    }
}

/// Seconds of `p`'s span outside `kept`'s.
fn beyond(p: &Part, kept: &Part) -> i64 {
    match (p.span, kept.span) {
        (Some(p), Some(k)) => (k.0 - p.0).max(0) + (p.1 - k.1).max(0),
        _ => 0,
    }
}

impl EniSource for OneFlowLogPerEni<'_> {
    fn scratch(&self) -> std::io::Result<Option<std::fs::File>> {
        self.inner.scratch()
    }

    fn scan(&self, f: &mut dyn FnMut(&str, &EniAgg)) -> std::io::Result<()> {
        // an ENI counted from several flow logs (in different hours), merged as it goes
        let mut pending: Option<(String, EniAgg)> = None;
        let flush = |pending: &mut Option<(String, EniAgg)>, f: &mut dyn FnMut(&str, &EniAgg)| {
            if let Some((eni, a)) = pending.take() {
                f(&eni, &a);
            }
        };
        self.inner.scan(&mut |key, a| {
            let Some((eni, tag)) = split_key(key) else {
                flush(&mut pending, f);
                return f(key, a);
            };
            match self.counted.get(eni) {
                None => {
                    flush(&mut pending, f);
                    f(eni, a)
                }
                Some(tags) if !tags.contains(&tag) => {}
                Some(tags) if tags.len() == 1 => {
                    flush(&mut pending, f);
                    f(eni, a)
                }
                Some(_) => match &mut pending {
                    Some((e, merged)) if e == eni => merged.merge(a.clone(), self.window),
                    _ => {
                        flush(&mut pending, f);
                        pending = Some((eni.to_string(), a.clone()));
                    }
                },
            }
        })?;
        flush(&mut pending, f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn part(tag: u16, span: Option<(i64, i64)>, records: u64) -> Part {
        Part {
            tag,
            span,
            records,
            rejected: 0,
            bytes: 0,
        }
    }

    #[test]
    fn one_flow_log_is_kept_where_spans_overlap() {
        let same = [
            part(0, Some((10 * H, 20 * H)), 5),
            part(1, Some((12 * H, 20 * H)), 9),
        ];
        // equal rank: the one with more records
        assert_eq!(choose(&same, |_| (false, 14)), vec![1]);
        // more fields win over more records; --flow-log-id over more fields
        assert_eq!(choose(&same, |t| (false, [29, 14][t as usize])), vec![0]);
        assert_eq!(choose(&same, |t| (t == 1, [29, 14][t as usize])), vec![1]);
        // a tie in everything: the lower tag, so that the choice never depends on order
        let tie = [part(1, Some((H, 2 * H)), 3), part(0, Some((H, 2 * H)), 3)];
        assert_eq!(choose(&tie, |_| (false, 14)), vec![0]);
        // one record each, at the same second
        let once = [part(0, Some((H, H)), 1), part(1, Some((H, H)), 1)];
        assert_eq!(choose(&once, |_| (false, 14)), vec![0]);
    }

    #[test]
    fn flow_logs_at_different_times_are_all_counted() {
        let replaced = [
            part(0, Some((10 * H, 20 * H + 600)), 5),
            part(1, Some((20 * H, 30 * H)), 5),
            part(2, Some((25 * H, 26 * H)), 5),
        ];
        // a tie in rank and records: tag order. 0 is kept; 1 touches it for ten minutes of
        // ten hours: kept; 2 lies inside 1: set aside
        assert_eq!(choose(&replaced, |_| (false, 14)), vec![0, 1]);
        // an ENI with only rejected records in one flow log overlaps the other
        let rejects = [part(0, None, 0), part(1, Some((H, H)), 1)];
        assert_eq!(choose(&rejects, |_| (false, 14)), vec![1]);
        // and never outranks it, however many fields, or named by --flow-log-id (a flow log
        // of traffic type REJECT beside one of all traffic)
        assert_eq!(
            choose(&rejects, |t| (t == 0, [39, 14][t as usize])),
            vec![1]
        );
        // rejections alone in both: the rank decides
        let both = [part(0, None, 0), part(1, None, 0)];
        assert_eq!(choose(&both, |t| (false, [39, 14][t as usize])), vec![0]);
        // a task seen once by each flow log, a minute apart: two records, both counted
        let apart = [part(0, Some((H, H)), 1), part(1, Some((H + 60, H + 60)), 1)];
        assert_eq!(choose(&apart, |_| (false, 14)), vec![0, 1]);
    }

    /// An ENI's decision in the summary: each flow log's share, what is set aside, whether
    /// the one set aside saw over an hour the kept one did not; an ENI of one flow log is that
    /// flow log's, and makes no decision.
    #[test]
    fn an_enis_decision_is_summed_in_the_overlap() {
        let mut summary = FlowLogOverlap {
            flow_logs: vec![FlowLogShare::default(); 3],
            ..Default::default()
        };
        let rank = |t: u16| (false, [14, 29, 14][t as usize]);
        assert_eq!(summary.decide("eni-a", &[], rank), None);
        assert_eq!(
            summary.decide("eni-a", &[part(2, Some((H, H)), 1)], rank),
            None
        );
        // fields win: 1 kept, 0 set aside with its records and bytes, two hours beyond 1
        let mut aside = part(0, Some((0, 12 * H)), 7);
        (aside.rejected, aside.bytes) = (2, 900);
        let parts = [aside, part(1, Some((2 * H, 12 * H)), 3)];
        assert_eq!(summary.decide("eni-b", &parts, rank), Some(vec![1]));
        // one flow log after the other: both kept, nothing set aside, but a decision
        let apart = [part(0, Some((0, H)), 1), part(2, Some((5 * H, 6 * H)), 1)];
        assert_eq!(summary.decide("eni-c", &apart, rank), Some(vec![0, 2]));
        let shares: Vec<(u64, u64)> = (summary.flow_logs.iter())
            .map(|f| (f.enis_counted, f.enis_set_aside))
            .collect();
        assert_eq!(shares, [(1, 1), (1, 0), (2, 0)]);
        let set_aside = (summary.records_set_aside, summary.rejected_set_aside);
        assert_eq!((set_aside, summary.bytes_set_aside), ((7, 2), 900));
        assert_eq!((summary.enis, summary.enis_partly_covered), (1, 1));
        assert_eq!(summary.example_partly_covered.as_deref(), Some("eni-b"));
    }

    /// A flow log's part of an ENI that holds NODATA windows only (no record, no rejection)
    /// doubles no byte: counted beside the others (merged, its windows time the ENI's logs
    /// cover), never set aside, and no ENI of several flow logs in the summary.
    #[test]
    fn a_part_of_nodata_windows_only_is_counted_beside_the_others() {
        let mut summary = FlowLogOverlap {
            flow_logs: vec![FlowLogShare::default(); 3],
            ..Default::default()
        };
        let rank = |t: u16| (false, [14, 29, 14][t as usize]);
        let quiet = part(0, None, 0);
        // beside one flow log's records: both merged, the busy one's ENI
        let one = [quiet, part(1, Some((H, 2 * H)), 4)];
        assert_eq!(summary.decide("eni-a", &one, rank), Some(vec![0, 1]));
        // beside two that overlap: the better of those two, and the quiet one
        let two = [
            quiet,
            part(1, Some((H, 2 * H)), 4),
            part(2, Some((H, 2 * H)), 4),
        ];
        assert_eq!(summary.decide("eni-b", &two, rank), Some(vec![0, 1]));
        // quiet in two flow logs: both merged, the first one's ENI
        let idle = [quiet, part(2, None, 0)];
        assert_eq!(summary.decide("eni-c", &idle, rank), Some(vec![0, 2]));
        let shares: Vec<(u64, u64)> = (summary.flow_logs.iter())
            .map(|f| (f.enis_counted, f.enis_set_aside))
            .collect();
        assert_eq!(shares, [(1, 0), (2, 0), (0, 1)]);
        assert_eq!((summary.enis, summary.records_set_aside), (1, 4));
    }

    #[test]
    fn time_only_in_the_flow_log_set_aside_is_measured() {
        let kept = part(0, Some((15 * 24 * H, 30 * 24 * H)), 1);
        let aside = part(1, Some((0, 30 * 24 * H)), 1);
        assert!(overlap(&kept, &aside));
        assert_eq!(beyond(&aside, &kept), 15 * 24 * H);
        assert_eq!(beyond(&kept, &aside), 0);
    }
}
