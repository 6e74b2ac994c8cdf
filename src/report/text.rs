//! Human renderings: an aligned plain-text table for terminals, or Markdown (same content).

use std::fmt::Write;

use super::escape;
use super::{dollars, human, money, per_30_dollars, Report};
use crate::analysis::{ClassBytes, ClientsSource, Counting, CrossAzUnknown};
use crate::classify::Class;
use crate::time::format_instant;

pub(super) struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }
    pub(super) fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }
    pub(super) fn render(&self, md: bool, out: &mut String) {
        // (every cell escaped, the head's too: a head may name a period by its label)
        if md {
            let head: Vec<std::borrow::Cow<'_, str>> =
                self.head.iter().map(|c| escape::md(c)).collect();
            let _ = writeln!(out, "| {} |", head.join(" | "));
            let _ = writeln!(
                out,
                "|{}|",
                self.head
                    .iter()
                    .enumerate()
                    .map(|(i, _)| if i == 0 { "---" } else { "---:" })
                    .collect::<Vec<_>>()
                    .join("|")
            );
            for r in &self.rows {
                let cells: Vec<std::borrow::Cow<'_, str>> =
                    r.iter().map(|c| escape::md(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
            out.push('\n');
            return;
        }
        let n = self.head.len();
        let mut w = vec![0; n];
        // the head and the rows alike: a cell may hold a label from the input
        let rows: Vec<Vec<String>> = (std::iter::once(&self.head).chain(&self.rows))
            .map(|r| r.iter().map(|c| escape::clean(c).into_owned()).collect())
            .collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for r in &rows {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                let pad = w[i] - c.chars().count();
                if i == 0 {
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(c);
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }
}

/// Input-derived text as it may appear in the rendering: escaped Markdown, or a terminal
/// line without control characters.
fn esc(md: bool, s: &str) -> std::borrow::Cow<'_, str> {
    if md {
        escape::md(s)
    } else {
        escape::clean(s)
    }
}

fn heading(out: &mut String, md: bool, level: usize, text: &str) {
    if md {
        let _ = writeln!(out, "{} {text}\n", "#".repeat(level));
    } else {
        let _ = writeln!(
            out,
            "{text}\n{}",
            if level == 1 {
                "=".repeat(text.chars().count())
            } else {
                "-".repeat(text.chars().count())
            }
        );
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn class_table(rows: &[(String, &ClassBytes)], total_label: Option<&ClassBytes>) -> Table {
    let mut head = vec![""];
    head.extend(Class::ALL.map(Class::as_str));
    head.push("total");
    let mut t = Table::new(&head);
    for (k, c) in rows {
        let mut r = vec![k.clone()];
        r.extend(Class::ALL.iter().map(|cl| human(c.get(*cl).total())));
        r.push(human(c.total()));
        t.row(r);
    }
    if let Some(c) = total_label {
        let mut r = vec!["total".to_string()];
        r.extend(Class::ALL.iter().map(|cl| human(c.get(*cl).total())));
        r.push(human(c.total()));
        t.row(r);
    }
    t
}

/// The report for a person: plain text (`md` false) or Markdown, one section after another.
pub fn render(r: &Report, md: bool) -> String {
    let mut out = String::new();
    warnings(r, md, &mut out);
    overview(r, md, &mut out);
    classes_section(r, md, &mut out);
    savings_section(r, md, &mut out);
    ecr_section(&r.analysis.ecr, md, &mut out);
    gateways_section(&r.analysis, md, &mut out);
    breakdowns(&r.analysis, md, &mut out);
    top_clients_section(&r.analysis, md, &mut out);
    if let Some(inv) = &r.inventory {
        inventory_section(inv, &r.cost, md, &mut out);
    }
    if let Some(rec) = &r.reconciliation {
        reconciliation_section(rec, md, &mut out);
    }
    quality_section(r, md, &mut out);
    out
}

/// The start of a list item: `- ` in Markdown, nothing on a terminal.
fn item(md: bool) -> &'static str {
    if md {
        "- "
    } else {
        ""
    }
}

/// What must be read before any figure: nothing counted, records read twice, an incomplete
/// run.
fn warnings(r: &Report, md: bool, out: &mut String) {
    let nothing = (r.analysis.quality.lines.counted == 0).then(|| super::nothing_counted(r));
    for text in nothing.into_iter().chain(super::warnings_of(r)) {
        super::write_warning(out, &text, md);
    }
}

/// The title and what the figures stand on: period, coverage, region, counting, inputs,
/// ip-ranges, prices, S3 sources.
fn overview(r: &Report, md: bool, out: &mut String) {
    let (a, c) = (&r.analysis, &r.cost);
    heading(out, md, 1, super::own::ANALYZE_TITLE);
    let lines = [
        format!("Period:       {}", period_text(&a.period)),
        format!("Coverage:     {}", coverage_text(&a.period)),
        format!("Region:       {}", c.region),
        format!("Counted on:   {}", counting_text(a)),
        format!("Inputs:       {}", inputs_text(r)),
        format!(
            "IP ranges:    {} (syncToken {}, created {})",
            esc(md, &r.inputs.ip_ranges.source),
            esc(md, &r.inputs.ip_ranges.sync_token),
            esc(md, &r.inputs.ip_ranges.create_date)
        ),
        format!(
            "Prices:       table of {}, NAT ${}/GB, {}",
            c.price_table_date, c.prices.nat_per_gb, c.gb_definition
        ),
    ];
    for l in lines {
        let _ = writeln!(out, "{}{l}", item(md));
    }
    for s in &r.inputs.s3 {
        let _ = writeln!(out, "{}S3:           {}", item(md), s3_text(md, s));
    }
    out.push('\n');
}

/// The analysed period and its length in days, where any record is dated.
fn period_text(p: &crate::analysis::Period) -> String {
    match (p.from, p.to) {
        (Some(f), Some(t)) => format!(
            "{} .. {} ({:.2} days)",
            format_instant(f),
            format_instant(t),
            p.days
        ),
        _ => "no dated records".into(),
    }
}

/// The time the logs cover of the period, and the hours no record or no partial covers.
fn coverage_text(p: &crate::analysis::Period) -> String {
    let gaps: u64 = p.gaps.iter().map(|g| u64::from(g.hours)).sum();
    let gaps = match gaps {
        0 => String::new(),
        h => format!(", {h} hours of them without any record (see the notes)"),
    };
    let unread: f64 = p.unread.iter().map(|u| u.hours()).sum();
    let unread = match unread > 0.0 {
        true => format!(" ({unread} hours of the period read by no partial, see the notes)"),
        false => String::new(),
    };
    format!(
        "the logs cover {:.2} of {:.2} days{unread}{gaps}; per-day and per-30-day figures project from the time covered, per NAT gateway",
        p.covered_days, p.days
    )
}

/// What the NAT bytes were counted on: the NAT ENIs' legs, or the clients' estimate.
fn counting_text(a: &crate::analysis::Analysis) -> String {
    if a.method.counting == Counting::ClientSideEstimate {
        "ESTIMATE from client ENIs' own records (no NAT ENI in the data)".to_string()
    } else {
        format!(
            "NAT gateway ENIs ({}), {} legs",
            a.method.nat_source, a.method.legs
        )
    }
}

/// The inputs' count (and how many were flowcost's own outputs, not read) and size.
fn inputs_text(r: &Report) -> String {
    let own = r.analysis.quality.files.iter();
    format!(
        "{} files{}, {}",
        r.inputs.files,
        match own.filter(|f| f.skipped.is_some()).count() {
            0 => String::new(),
            n => format!(" ({n} of them flowcost's own output, not read)"),
        },
        human(r.inputs.bytes)
    )
}

/// An S3 source: its bucket, objects, bytes, prefixes and objects left out by key time.
fn s3_text(md: bool, s: &crate::source::s3::Listing) -> String {
    format!(
        "s3://{}: {} objects, {} under {} prefix(es){}",
        esc(md, &s.bucket),
        s.objects,
        human(s.bytes),
        s.prefixes.len(),
        if s.skipped_by_key_time > 0 {
            format!(" ({} outside the time range by key)", s.skipped_by_key_time)
        } else {
            String::new()
        }
    )
}

/// What the per-30-day figures project from.
fn projected(c: &crate::cost::Cost) -> String {
    match c.projects() {
        true => format!("projected from {:.2} days of logs", c.covered_days),
        false => "no logged traffic to project from".into(),
    }
}

/// The NAT-processed bytes of each destination class, with their cost.
fn classes_section(r: &Report, md: bool, out: &mut String) {
    let (a, c) = (&r.analysis, &r.cost);
    heading(out, md, 2, "NAT-processed bytes by destination");
    let mut t = Table::new(&[
        "class",
        "upload",
        "download",
        "total",
        "share",
        "NAT cost (period)",
        "per 30 days",
    ]);
    for cl in Class::ALL {
        let ud = a.classes.get(cl);
        let m = &c.by_class[cl.as_str()];
        t.row(vec![
            cl.as_str().into(),
            human(ud.upload),
            human(ud.download),
            human(ud.total()),
            pct(ud.total(), a.total),
            dollars(m.period),
            per_30_dollars(c, m.per_30_days),
        ]);
    }
    t.row(vec![
        "total".into(),
        human(Class::ALL.iter().map(|x| a.classes.get(*x).upload).sum()),
        human(Class::ALL.iter().map(|x| a.classes.get(*x).download).sum()),
        human(a.total),
        "100%".into(),
        dollars(c.nat_processing.period),
        per_30_dollars(c, c.nat_processing.per_30_days),
    ]);
    t.render(md, out);
}

/// What gateway (and interface) endpoints would save; the ECR share a nested item.
fn savings_section(r: &Report, md: bool, out: &mut String) {
    let (a, c) = (&r.analysis, &r.cost);
    heading(out, md, 2, "What gateway endpoints would save");
    let ie = &c.interface_endpoint;
    let be = ie.break_even_gb_per_30_days.map_or(
        "never (endpoint per-GB price is not below the NAT's)".to_string(),
        |v| format!("{v:.0} {} per 30 days", c.gb_unit.volume_unit()),
    );
    let saves = [
        format!("S3 gateway endpoint (free): {} for the period, {} per 30 days ({} of NAT bytes; {})", dollars(c.s3_gateway_endpoint_savings.period), per_30_dollars(c, c.s3_gateway_endpoint_savings.per_30_days), pct(a.classes.s3.total(), a.total), projected(c)),
        if a.ecr.basis.is_known() {
            format!("  of which ECR image layers (estimate): {} per 30 days", per_30_dollars(c, c.ecr_layer_share_of_savings.per_30_days))
        } else {
            format!("  of which ECR image layers: unknown ({})", esc(md, a.ecr.unknown_reason.as_deref().unwrap_or("")))
        },
        format!("DynamoDB gateway endpoint (free): {} for the period, {} per 30 days", dollars(c.dynamodb_gateway_endpoint_savings.period), per_30_dollars(c, c.dynamodb_gateway_endpoint_savings.per_30_days)),
        format!("S3 in other regions (no gateway endpoint helps): {}", human(a.classes.s3_other_region.total())),
        format!(
            "Interface endpoints for aws-other: {} per 30 days; one endpoint in {} AZ(s) costs {} per 30 days against {} of NAT charges it removes; break-even {be}",
            match c.projects() {
                true => format!("{:.1} {}", ie.aws_other_gb_per_30_days, c.gb_unit.volume_unit()),
                false => "unknown".into(),
            },
            ie.azs, dollars(ie.endpoint_cost_per_30_days), per_30_dollars(c, ie.nat_cost_removed_per_30_days)
        ),
        if a.cross_az.known {
            format!("Cross-AZ client-to-NAT traffic: {} ({} per 30 days at ${}/GB each way)", human(a.cross_az.bytes), per_30_dollars(c, c.cross_az.per_30_days), c.prices.cross_az_per_gb_each_way)
        } else {
            match a.cross_az.unknown.as_slice() {
                [] => "Cross-AZ client-to-NAT traffic: unknown".to_string(),
                why => format!("Cross-AZ client-to-NAT traffic: unknown: {}", CrossAzUnknown::joined(why)),
            }
        },
    ];
    for l in saves {
        match l.strip_prefix("  ") {
            // a part of the line above: a nested item in Markdown
            Some(sub) if md => {
                let _ = writeln!(out, "  - {sub}");
            }
            _ => {
                let _ = writeln!(out, "{}{l}", item(md));
            }
        }
    }
    out.push('\n');
}

/// The ECR image-layer estimate: its figures and method, by ECS service; or why unknown.
fn ecr_section(e: &crate::analysis::Ecr, md: bool, out: &mut String) {
    heading(out, md, 2, "ECR image layers (estimate)");
    if !e.basis.is_known() {
        let _ = writeln!(
            out,
            "Unknown: {}.\n",
            esc(md, e.unknown_reason.as_deref().unwrap_or(""))
        );
        return;
    }
    let _ = writeln!(
        out,
        "{} pulls of {} new tasks, {} ({} per pull), {:.1}% of the NAT's S3 bytes.",
        e.pulls,
        e.task_starts,
        human(e.bytes),
        human(e.bytes_per_pull),
        e.share_of_s3_permille as f64 / 10.0
    );
    let _ = writeln!(out, "Method: {}\n", e.method);
    if !e.by_service.is_empty() {
        let mut t = Table::new(&["ECS service", "pulls", "layer bytes"]);
        for s in &e.by_service {
            t.row(vec![s.service.clone(), s.pulls.to_string(), human(s.bytes)]);
        }
        t.render(md, out);
    }
}

/// Each NAT gateway's addresses, AZ, bytes, logged days and the cross-check of its legs.
fn gateways_section(a: &crate::analysis::Analysis, md: bool, out: &mut String) {
    if a.gateways.is_empty() {
        return;
    }
    heading(out, md, 2, "NAT gateways");
    let mut t = Table::new(&[
        "ENI",
        "private IPs",
        "AZ",
        "s3",
        "total",
        "legs (days private/public)",
        "cross-check (other leg)",
    ]);
    for g in &a.gateways {
        let cc = g.cross_check.as_ref().map_or("-".to_string(), |x| {
            format!(
                "{} vs {} ({})",
                human(x.counted_leg),
                human(x.other_leg),
                pct(x.other_leg.abs_diff(x.counted_leg), x.counted_leg)
            )
        });
        t.row(vec![
            match &g.nat_gateway {
                Some(n) => format!("{n} ({})", g.eni),
                None => g.eni.clone(),
            },
            g.private_ips.join(" "),
            g.az.clone().unwrap_or("-".into()),
            human(g.classes.s3.total()),
            human(g.total),
            format!("{}/{}", g.days_private_leg, g.days_public_leg),
            cc,
        ]);
    }
    t.render(md, out);
}

/// The classes by day, then by client subnet, AZ and ECS service where those are known.
fn breakdowns(a: &crate::analysis::Analysis, md: bool, out: &mut String) {
    heading(out, md, 2, "By day (UTC)");
    let rows: Vec<(String, &ClassBytes)> = a
        .by_day
        .iter()
        .map(|d| (d.day.clone(), &d.classes))
        .collect();
    class_table(&rows, Some(&a.classes)).render(md, out);

    for (title, groups) in [
        ("By client subnet", &a.by_subnet),
        ("By client AZ", &a.by_az),
        ("By ECS service", &a.by_ecs_service),
    ] {
        if groups.is_empty() || (groups.len() == 1 && groups[0].key == "unknown") {
            continue;
        }
        heading(out, md, 2, title);
        let rows: Vec<(String, &ClassBytes)> =
            groups.iter().map(|g| (g.key.clone(), &g.classes)).collect();
        class_table(&rows, None).render(md, out);
    }
}

/// The clients with the most S3 bytes, and where their figures come from.
fn top_clients_section(a: &crate::analysis::Analysis, md: bool, out: &mut String) {
    if a.top_clients.is_empty() {
        return;
    }
    let src = if a.clients_source == ClientsSource::NatPrivateLegs {
        "attributed from the NAT's private legs"
    } else {
        "from the clients' own records: may include traffic that did not cross a NAT"
    };
    heading(out, md, 2, &format!("Top clients by S3 bytes ({src})"));
    let mut t = Table::new(&[
        "client IP",
        "ENI",
        "subnet",
        "AZ",
        "ECS service",
        "s3",
        "total",
    ]);
    for cr in &a.top_clients {
        let eni = match cr.enis.len() {
            0 => "-".to_string(),
            1 => cr.enis[0].clone(),
            n => format!("{} (+{} more)", cr.enis[0], n - 1),
        };
        t.row(vec![
            cr.name().into_owned(),
            eni,
            cr.subnet.clone().unwrap_or("-".into()),
            cr.az.clone().unwrap_or("-".into()),
            cr.ecs_service.clone().unwrap_or("-".into()),
            human(cr.classes.s3.total()),
            human(cr.total),
        ]);
    }
    t.render(md, out);
}

/// How every line read was counted, what was left out and why, then the inputs' problems.
/// What the lines' sum says: every line in one bucket and every input read in full; the sum
/// holding while some input was not read to its end (the lines past where it stopped are in
/// no bucket, as they were never read); or a sum that does not hold.
fn line_verdict(q: &crate::analysis::Quality) -> &'static str {
    match (q.reconciled, q.lines.accounted() == q.lines.lines) {
        (true, _) => "reconciled",
        (false, true) => "adds up; not every input was read in full",
        (false, false) => "DOES NOT RECONCILE",
    }
}

fn quality_section(r: &Report, md: bool, out: &mut String) {
    let a = &r.analysis;
    heading(out, md, 2, "Data quality");
    let q = &a.quality;
    let l = &q.lines;
    let _ = writeln!(
        out,
        "{}Lines read: {} = counted {} + headers {} + blank {} + malformed {} + NODATA {} + SKIPDATA {} + REJECT {} + outside time filter {} + undated {}{}  [{}]",
        item(md),
        l.lines, l.counted, l.headers, l.blank, l.malformed, l.nodata, l.skipdata, l.rejected, l.outside_time, l.undated,
        if l.duplicate_flow_log > 0 { format!(" + second flow log of an ENI {}", l.duplicate_flow_log) } else { String::new() },
        line_verdict(q)
    );
    let rj = &a.rejected;
    let _ = writeln!(out, "{}Rejected (not in any figure above): {} records / {} on NAT ENIs, {} records / {} elsewhere", item(md), rj.nat_records, human(rj.nat_bytes), rj.other_records, human(rj.other_bytes));
    let o = &q.oddities;
    if o.no_address + o.both_public + o.no_interface + q.records_without_bytes > 0 {
        let _ = writeln!(out, "{}Counted records without addresses: {}, with two public addresses: {}, without interface-id: {}, without bytes: {}", item(md), o.no_address, o.both_public, o.no_interface, q.records_without_bytes);
    }
    if !q.given_nat_enis_not_seen.is_empty() {
        let _ = writeln!(
            out,
            "{}Given NAT ENIs not in the data: {}",
            item(md),
            esc(md, &q.given_nat_enis_not_seen.join(", "))
        );
    }
    for n in &q.notes {
        let _ = writeln!(out, "{}Note: {}", item(md), esc(md, n));
    }
    input_problems(&q.files, l.malformed, md, out);
}

/// The most problems listed one by one: inputs not read in full, and malformed lines.
const PROBLEMS_SHOWN: usize = 10;

/// The first [`PROBLEMS_SHOWN`] inputs not read in full and malformed lines (file, line,
/// why), then how many there were in all when more.
fn input_problems(files: &[crate::account::FileStats], malformed: u64, md: bool, out: &mut String) {
    let mut shown = 0;
    let mut errors = 0;
    for f in files {
        if let Some(e) = &f.error {
            if errors < PROBLEMS_SHOWN {
                let _ = writeln!(out, "{}{}: {}", item(md), esc(md, &f.path), esc(md, e));
            }
            errors += 1;
        }
        for b in &f.malformed_examples {
            if shown < PROBLEMS_SHOWN {
                let _ = writeln!(
                    out,
                    "{}{}:{}: {}",
                    item(md),
                    esc(md, &f.path),
                    b.line,
                    esc(md, &b.reason)
                );
                shown += 1;
            }
        }
    }
    if errors > PROBLEMS_SHOWN {
        let _ = writeln!(
            out,
            "{}... {errors} inputs not read in full (see --format json for each)",
            item(md),
        );
    }
    if malformed > shown as u64 && shown > 0 {
        let _ = writeln!(
            out,
            "{}... {} malformed lines in all (see --format json for each file's first {})",
            item(md),
            malformed,
            crate::account::EXAMPLES_PER_FILE
        );
    }
}

/// The VPC inventory's part: gateways by id, client subnets with their route tables, and the
/// endpoint plan with its commands.
fn inventory_section(
    inv: &crate::plan::InventoryReport,
    c: &crate::cost::Cost,
    md: bool,
    out: &mut String,
) {
    heading(out, md, 2, "NAT gateways (inventory)");
    inventory_gateways(inv, md, out);
    if !inv.subnets.is_empty() {
        heading(out, md, 2, "Client subnets and their route tables");
        inventory_subnets(inv, md, out);
    }
    heading(out, md, 2, "Endpoint plan");
    endpoint_plan(inv, c, md, out);
    for n in &inv.notes {
        let _ = writeln!(out, "{}{}", item(md), esc(md, n));
    }
    if !inv.notes.is_empty() {
        out.push('\n');
    }
}

/// The inventory's NAT gateways: where each is, its NAT bytes, and whether the logs hold it.
fn inventory_gateways(inv: &crate::plan::InventoryReport, md: bool, out: &mut String) {
    let mut t = Table::new(&[
        "gateway",
        "ENIs",
        "subnet",
        "VPC",
        "state",
        "NAT bytes",
        "in the logs",
    ]);
    for g in &inv.gateways {
        t.row(vec![
            g.id.clone(),
            g.enis.join(" "),
            g.subnet
                .clone()
                .unwrap_or_else(|| match g.availability_mode.as_deref() {
                    Some("regional") => "(regional)".into(),
                    _ => "-".into(),
                }),
            g.vpc.clone().unwrap_or("-".into()),
            g.state.clone().unwrap_or("-".into()),
            human(g.nat_bytes),
            if g.logged {
                "yes"
            } else {
                "NO: not in these figures"
            }
            .into(),
        ]);
    }
    t.render(md, out);
}

/// The client subnets: each one's route table and its NAT bytes to S3, DynamoDB and in all.
fn inventory_subnets(inv: &crate::plan::InventoryReport, md: bool, out: &mut String) {
    let mut t = Table::new(&[
        "subnet",
        "AZ",
        "route table",
        "s3",
        "dynamodb",
        "all NAT bytes",
    ]);
    for s in &inv.subnets {
        let rt = match (&s.route_table, s.main_route_table) {
            (Some(r), true) => format!("{r} (main)"),
            (Some(r), false) => r.clone(),
            (None, _) => "-".into(),
        };
        t.row(vec![
            s.subnet.clone(),
            s.az.clone().unwrap_or("-".into()),
            rt,
            human(s.s3_bytes),
            human(s.dynamodb_bytes),
            human(s.nat_bytes),
        ]);
    }
    t.render(md, out);
}

/// The endpoint plan: a row a route table and service, the saving in all, the commands and
/// their caveats; or that nothing is left to do.
fn endpoint_plan(
    inv: &crate::plan::InventoryReport,
    c: &crate::cost::Cost,
    md: bool,
    out: &mut String,
) {
    if inv.plan.is_empty() {
        let _ = writeln!(out, "No route table sends S3 or DynamoDB traffic through a NAT without a gateway endpoint.\n");
        return;
    }
    let mut t = Table::new(&[
        "service",
        "route table",
        "subnets",
        "bytes",
        "saves per 30 days",
        "action",
    ]);
    for p in &inv.plan {
        t.row(vec![
            p.service.label().into(),
            p.route_table.clone(),
            p.subnets.join(" "),
            human(p.bytes),
            per_30_dollars(c, p.saving.per_30_days),
            match &p.endpoint {
                Some(e) => format!("add to {e}"),
                None => "create a gateway endpoint".into(),
            },
        ]);
    }
    t.render(md, out);
    let total = inv.plan_saving();
    let _ = writeln!(
        out,
        "All together: {} per 30 days ({} in the period, at {}/GB NAT processing).\n",
        per_30_dollars(c, total.per_30_days),
        dollars(total.period),
        dollars(c.prices.nat_per_gb)
    );
    if md {
        out.push_str("```sh\n");
    }
    for cmd in super::plan::commands(&inv.plan) {
        let _ = writeln!(out, "{cmd}");
    }
    if md {
        out.push_str("```\n");
    }
    out.push('\n');
    for cav in super::plan::CAVEATS {
        let _ = writeln!(out, "{}{cav}", if md { "- " } else { "* " });
    }
    out.push('\n');
}

/// The bill beside the flow logs.
fn reconciliation_section(rec: &crate::bill::Reconciliation, md: bool, out: &mut String) {
    heading(out, md, 2, "Reconciliation with the bill");
    let _ = writeln!(
        out,
        "From {} to {}, by {}: billed {} ({}) of NAT data processing, flow logs {} ({}).\n",
        rec.from,
        rec.to,
        rec.granularity,
        human(rec.billed_bytes),
        money(rec.billed_cost, rec.currency),
        human(rec.flow_log_bytes),
        rec.coverage_percent.map_or("-".into(), |c| {
            let some_days = rec.billed_until.is_some() || !rec.days_not_billed.is_empty();
            let days = if some_days {
                " on the days billed in full"
            } else {
                ""
            };
            format!("{c:.1}% covered{days}")
        })
    );
    let mut t = Table::new(&[
        "gateway",
        "billed",
        "billed cost",
        "flow logs",
        "coverage",
        "s3 share",
        "billed s3 saving",
    ]);
    for g in &rec.gateways {
        t.row(vec![
            g.gateway.clone(),
            human(g.billed_bytes),
            money(g.billed_cost, rec.currency),
            human(g.flow_log_bytes),
            g.coverage_percent
                .map_or("-".into(), |c| format!("{c:.1}%")),
            g.s3_share
                .map_or("-".into(), |c| format!("{:.1}%", c * 100.0)),
            g.billed_s3_savings
                .map_or("-".into(), |v| money(v, rec.currency)),
        ]);
    }
    t.render(md, out);
    let net = match rec.billed_discounts > 0.0 {
        true => format!(
            " (net of {} of discounts)",
            money(rec.billed_discounts, rec.currency)
        ),
        false => String::new(),
    };
    let _ = writeln!(
        out,
        "S3 gateway endpoint savings in the period: {} priced from the bill{net}, {} priced from the flow logs at list price.\n",
        money(rec.billed_s3_savings, rec.currency),
        dollars(rec.flow_log_priced_s3_savings)
    );
    for n in &rec.notes {
        let _ = writeln!(out, "{}{}", item(md), esc(md, n));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{BadLine, FileStats};

    use crate::report::sample;

    /// Logs with no dated record project nothing: their per-30-day figures say `unknown`,
    /// never the $0.00 that the projection's arithmetic gives; with dated records, dollars.
    #[test]
    fn figures_per_30_days_are_unknown_where_no_record_is_dated() {
        let dated = render(&sample(), false);
        assert!(dated.contains("projected from 1.00 days of logs"));
        assert!(!dated.contains("unknown per 30 days"));
        let mut r = sample();
        (r.analysis.period.covered_days, r.cost.covered_days) = (0.0, 0.0);
        let undated = render(&r, false);
        let line = |t: &str, start: &str| {
            let l = t.lines().find(|l| l.trim_start().starts_with(start));
            l.unwrap_or_else(|| panic!("no line {start}")).to_string()
        };
        for (start, dollars) in [
            (
                "S3 gateway endpoint",
                "$0.78 for the period, $23.28 per 30 days",
            ),
            ("of which ECR", "$12.81 per 30 days"),
            ("DynamoDB gateway", "$0.0080 per 30 days"),
            ("Interface endpoints", "0.1 GiB per 30 days"),
            ("Cross-AZ", "($6.39 per 30 days"),
        ] {
            assert!(line(&dated, start).contains(dollars), "{start}");
            let l = line(&undated, start);
            assert!(!l.contains(dollars) && l.contains("unknown"), "{l}");
        }
        assert!(line(&undated, "Interface endpoints").contains("against unknown of NAT"));
        let table: Vec<&str> = (undated.lines())
            .skip_while(|l| !l.starts_with("class "))
            .take(7)
            .collect();
        assert_eq!(table.len(), 7);
        assert!(
            table[1..].iter().all(|l| l.ends_with(" unknown")),
            "{table:?}"
        );
        assert!(undated.contains("(99.7% of NAT bytes; no logged traffic to project from)"));
    }

    #[test]
    fn the_overview_says_the_period_and_the_hours_it_lacks() {
        use crate::analysis::{Gap, Period, Unread};
        let mut p = Period {
            first_start: None,
            last_end: None,
            from: None,
            to: None,
            days: 0.0,
            covered_days: 0.0,
            gaps: vec![],
            unread: vec![],
        };
        assert_eq!(period_text(&p), "no dated records");
        (p.from, p.to, p.days, p.covered_days) = (Some(0), Some(3 * 86_400), 3.0, 2.5);
        assert_eq!(
            period_text(&p),
            "1970-01-01T00:00:00Z .. 1970-01-04T00:00:00Z (3.00 days)"
        );
        let tail =
            "; per-day and per-30-day figures project from the time covered, per NAT gateway";
        assert_eq!(
            coverage_text(&p),
            format!("the logs cover 2.50 of 3.00 days{tail}")
        );
        p.gaps = vec![
            Gap { from: 0, hours: 4 },
            Gap {
                from: 86_400,
                hours: 3,
            },
        ];
        p.unread = vec![Unread { from: 0, to: 5_400 }];
        assert_eq!(
            coverage_text(&p),
            format!("the logs cover 2.50 of 3.00 days (1.5 hours of the period read by no partial, see the notes), 7 hours of them without any record (see the notes){tail}")
        );
    }

    #[test]
    fn the_lines_sum_is_judged_apart_from_the_inputs_read_in_full() {
        let mut q = sample().analysis.quality;
        q.lines = Default::default();
        (q.lines.lines, q.lines.counted, q.lines.malformed) = (5, 3, 2);
        q.reconciled = true;
        assert_eq!(line_verdict(&q), "reconciled");
        q.reconciled = false; // an input not read to its end
        assert_eq!(
            line_verdict(&q),
            "adds up; not every input was read in full"
        );
        q.lines.lines = 6;
        assert_eq!(line_verdict(&q), "DOES NOT RECONCILE");
    }

    /// Where each of `marks` first appears in `text`, failing on one missing.
    fn positions(text: &str, marks: &[&str]) -> Vec<usize> {
        (marks.iter())
            .map(|m| {
                text.find(m)
                    .unwrap_or_else(|| panic!("no `{m}` in\n{text}"))
            })
            .collect()
    }

    #[test]
    fn a_report_is_its_sections_in_order() {
        let r = sample();
        for md in [false, true] {
            let text = render(&r, md);
            let at = positions(
                &text,
                &[
                    "flowcost: NAT gateway traffic",
                    "Period:",
                    "NAT-processed bytes by destination",
                    "What gateway endpoints would save",
                    "ECR image layers (estimate)\n",
                    "By day (UTC)",
                    "Data quality",
                    "Lines read:",
                ],
            );
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        }
    }

    #[test]
    fn nothing_counted_is_said_before_the_title() {
        let mut r = sample();
        r.analysis.quality.lines.counted = 0;
        for md in [false, true] {
            let text = render(&r, md);
            let at = positions(&text, &["NOTHING COUNTED", "flowcost: NAT gateway traffic"]);
            assert!(at[0] < at[1], "{text}");
        }
        assert!(render(&r, true).starts_with("> **NOTHING COUNTED"));
        assert!(!render(&sample(), false).contains("NOTHING COUNTED"));
    }

    #[test]
    fn the_ecr_share_is_a_nested_item_in_markdown_and_indented_on_a_terminal() {
        let r = sample();
        let mut md = String::new();
        savings_section(&r, true, &mut md);
        assert!(md.contains("\n  - of which ECR image layers"), "{md}");
        assert!(md.contains("- S3 gateway endpoint (free)"), "{md}");
        let mut plain = String::new();
        savings_section(&r, false, &mut plain);
        assert!(plain.contains("\n  of which ECR image layers"), "{plain}");
        assert!(!plain.contains("- S3 gateway"), "{plain}");
    }

    #[test]
    fn input_problems_list_the_first_ten_then_count_them_all() {
        let files: Vec<FileStats> = (0..12)
            .map(|i| FileStats {
                path: format!("logs/<b>{i}</b>.gz"),
                error: Some(format!("truncated gzip {i}")),
                malformed_examples: vec![BadLine {
                    line: 7,
                    reason: "a bad field".into(),
                }],
                ..Default::default()
            })
            .collect();
        let mut out = String::new();
        input_problems(&files, 30, true, &mut out);
        let errors = out.lines().filter(|l| l.contains("truncated gzip")).count();
        let bad = out
            .lines()
            .filter(|l| l.contains(":7: a bad field"))
            .count();
        assert_eq!((errors, bad), (10, 10), "{out}");
        assert!(out.contains("... 12 inputs not read in full"), "{out}");
        assert!(out.contains("... 30 malformed lines in all"), "{out}");
        // input-derived text is escaped in Markdown
        assert!(!out.contains("<b>"), "{out}");

        // ten or fewer: each listed, no summary line
        let mut out = String::new();
        input_problems(&files[..3], 3, false, &mut out);
        assert_eq!(out.lines().count(), 6, "{out}");
        assert!(!out.contains("..."), "{out}");
    }
}
