//! Reconciliation with the bill (`--cur`) against generated worlds whose bill is known: the
//! billed bytes per gateway and day, the flow-logged part, the gateway without flow logs, the
//! day a flow log missed half of, the billed savings; the same answer from CSV and Parquet,
//! from the legacy CUR's and FOCUS's column names; per account and region without resource ids.

use flowcost::bill::{Currency, CurrencySource, Granularity, Reconciliation};
use flowcost::generate::{Encoding, FieldSet};

use crate::support::{self, analyze_json, spec, world, GenWorld};

/// The world's gzip logs with the bill `cur`, its inventory if asked, then `extra`.
fn bill_args(w: &GenWorld, cur: &str, with_inventory: bool, extra: &[&str]) -> Vec<String> {
    let mut args = vec![w.path(Encoding::Gz), "--cur".into(), cur.to_string()];
    if with_inventory {
        args.extend(w.inventory_args());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn reconciled(
    w: &GenWorld,
    cur: &str,
    with_inventory: bool,
) -> (flowcost::report::Report, Reconciliation) {
    let args = bill_args(w, cur, with_inventory, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = analyze_json(&args);
    let rec = r.reconciliation.clone().expect("a reconciliation section");
    (r, rec)
}

/// Billed GB written as decimal text come back as bytes within a byte per hourly row.
fn close(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= 24
}

/// `compare` of two periods of the world's logs with a bill (and its inventory), and the
/// verdict's line on the billed figures.
fn compared(
    w: &GenWorld,
    cur: &str,
    before: &str,
    after: &str,
) -> (flowcost::report::compare::Comparison, String) {
    let logs = w.path(Encoding::Gz);
    let mut args = vec!["compare", "-q", "--format", "json", "--before", before];
    args.extend(["--after", after, &logs, "--cur", cur]);
    let inventory = w.inventory_args();
    args.extend(inventory.iter().map(String::as_str));
    let o = support::run(&args);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let c: flowcost::report::compare::Comparison = serde_json::from_slice(&o.stdout).unwrap();
    let line = (c.verdict.summary.iter())
        .find(|s| s.starts_with("Billed NAT data processing"))
        .cloned()
        .expect("the billed figures in the verdict");
    (c, line)
}

#[test]
fn the_bill_is_reconciled_per_gateway_and_day() {
    let w = world(&spec(61, FieldSet::V5), &[Encoding::Gz]);
    let t = &w.truth;
    let (r, rec) = reconciled(&w, &w.cur("csv"), true);
    assert_eq!(rec.granularity, Granularity::Gateway);
    assert_eq!(rec.gateways.len(), t.cur_billed.len());
    for g in &rec.gateways {
        let billed = &t.cur_billed[&g.gateway];
        let logged = t.cur_logged.get(&g.gateway);
        for d in &g.days {
            assert!(
                close(d.billed_bytes, billed[&d.day]),
                "{} {}: {} vs {}",
                g.gateway,
                d.day,
                d.billed_bytes,
                billed[&d.day]
            );
            assert_eq!(
                d.flow_log_bytes,
                logged.and_then(|l| l.get(&d.day)).copied().unwrap_or(0)
            );
            let want = d.flow_log_bytes as f64 * 100.0 / billed[&d.day] as f64;
            assert!((d.coverage_percent.unwrap() - want).abs() < 1e-3);
        }
        let gb: f64 = billed.values().map(|b| *b as f64 / 1_073_741_824.0).sum();
        assert!(
            (g.billed_gb - gb).abs() < 1e-9,
            "{}: {} GB vs {gb}",
            g.gateway,
            g.billed_gb
        );
        let cost = gb * t.cur_price_per_gb;
        assert!(
            (g.billed_cost - cost).abs() < 1e-6,
            "{}: {} vs {cost}",
            g.gateway,
            g.billed_cost
        );
    }
    // the silent gateway, and the day a flow log missed half of
    assert_eq!(
        rec.gateways_not_logged,
        std::slice::from_ref(&t.silent_nat_gateway)
    );
    let first = &t.nat_gateway_ids[&t.nat_enis[0]];
    let last_day = t.nat_by_day.keys().last().unwrap();
    assert_eq!(rec.days_under_covered, [format!("{first} {last_day}")]);
    let day = rec
        .gateways
        .iter()
        .find(|g| &g.gateway == first)
        .unwrap()
        .days
        .iter()
        .find(|d| &d.day == last_day)
        .unwrap();
    assert!(
        (day.coverage_percent.unwrap() - 100.0 / 1.5).abs() < 0.01,
        "{day:?}"
    );
    // billed savings: each logged gateway's billed cost times its flow-logged S3 share
    let mut want = 0.0;
    for (eni, id) in &t.nat_gateway_ids {
        let c = &t.nat_by_gateway[eni];
        let cost: f64 = t.cur_billed[id]
            .values()
            .map(|b| *b as f64 / 1_073_741_824.0 * t.cur_price_per_gb)
            .sum();
        want += cost * c.s3.total() as f64 / c.total() as f64;
    }
    assert!(
        (rec.billed_s3_savings - want).abs() < 1e-6,
        "{} vs {want}",
        rec.billed_s3_savings
    );
    assert_eq!(
        rec.flow_log_priced_s3_savings,
        r.cost.s3_gateway_endpoint_savings.period
    );
    assert!(
        rec.notes.iter().any(|n| n.contains("credits")),
        "{:?}",
        rec.notes
    );
    // the table output shows it
    let mut args = vec![
        "analyze".to_string(),
        "-q".into(),
        w.path(Encoding::Gz),
        "--cur".into(),
        w.cur("csv"),
    ];
    args.extend(w.inventory_args());
    let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(support::stdout(&o).contains("Reconciliation with the bill"));
}

#[test]
fn csv_and_parquet_exports_reconcile_alike() {
    let w = world(&spec(62, FieldSet::V5), &[Encoding::Gz]);
    let (_, csv) = reconciled(&w, &w.cur("csv"), true);
    // the same export given twice, as its folder and as its file, is counted once
    let file = std::fs::read_dir(w.cur("csv"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut args = vec![w.path(Encoding::Gz), "--cur".into(), w.cur("csv")];
    args.extend(["--cur".to_string(), file.display().to_string()]);
    args.extend(w.inventory_args());
    let twice = analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut twice = twice.reconciliation.unwrap();
    let first = twice.notes.remove(0);
    assert!(
        first.starts_with("Bill files: 1 input(s) named twice"),
        "{first}"
    );
    assert_eq!(twice, csv);
    // and a byte copy of it under another name is read once, and said
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy-of-the-export.csv.gz");
    std::fs::copy(&file, &copy).unwrap();
    let mut args = vec![w.path(Encoding::Gz), "--cur".into(), w.cur("csv")];
    args.extend(["--cur".to_string(), copy.display().to_string()]);
    args.extend(w.inventory_args());
    let copied = analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let copied = copied.reconciliation.unwrap();
    assert_eq!(copied.billed_cost, csv.billed_cost);
    assert_eq!(copied.coverage_percent, csv.coverage_percent);
    assert!(
        (copied.notes.iter()).any(|n| n.starts_with("Bill files: 1 input(s) hold the same bytes")),
        "{:?}",
        copied.notes
    );
    let (_, pq) = reconciled(&w, &w.cur("parquet"), true);
    assert_eq!(csv.gateways.len(), pq.gateways.len());
    for (a, b) in csv.gateways.iter().zip(&pq.gateways) {
        assert_eq!(a.gateway, b.gateway);
        assert!(close(a.billed_bytes, b.billed_bytes));
        assert_eq!(a.flow_log_bytes, b.flow_log_bytes);
        assert!((a.billed_cost - b.billed_cost).abs() < 1e-9);
    }
    assert_eq!(csv.days_under_covered, pq.days_under_covered);
}

/// The generated CSV with its header renamed by `rename`, and columns dropped by `drop`.
fn rewritten(
    w: &GenWorld,
    dir: &std::path::Path,
    rename: &dyn Fn(&str) -> String,
    drop: &[&str],
) -> String {
    edited(w, dir, rename, drop, &|_, _| {})
}

/// [`rewritten`], each row (as the header names its cells) changed by `edit` first.
fn edited(
    w: &GenWorld,
    dir: &std::path::Path,
    rename: &dyn Fn(&str) -> String,
    drop: &[&str],
    edit: &dyn Fn(&[String], &mut Vec<String>),
) -> String {
    let f = std::fs::read_dir(w.cur("csv"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|i| !drop.contains(&headers[*i].as_str()))
        .collect();
    let mut wr = csv::Writer::from_writer(Vec::new());
    wr.write_record(keep.iter().map(|i| rename(&headers[*i])))
        .unwrap();
    for rec in rd.records() {
        let mut rec: Vec<String> = rec.unwrap().iter().map(String::from).collect();
        edit(&headers, &mut rec);
        wr.write_record(keep.iter().map(|i| &rec[*i])).unwrap();
    }
    let out = dir.join("bill.csv");
    std::fs::write(&out, wr.into_inner().unwrap()).unwrap();
    out.display().to_string()
}

#[test]
fn legacy_and_focus_column_names_and_an_export_without_resource_ids() {
    let w = world(&spec(63, FieldSet::V5), &[Encoding::Gz]);
    let (_, base) = reconciled(&w, &w.cur("csv"), true);
    let dir = tempfile::tempdir().unwrap();
    let legacy = |h: &str| {
        let (group, rest) = match h.split_once('_') {
            Some(("line", r)) => ("lineItem", r.strip_prefix("item_").unwrap_or(r)),
            Some(("product", "region_code")) => return "product/region".to_string(),
            Some((g, r)) => (g, r),
            None => return h.to_string(),
        };
        let camel: String = rest
            .split('_')
            .map(|p| p[..1].to_uppercase() + &p[1..])
            .collect();
        format!("{group}/{camel}")
    };
    assert_eq!(legacy("line_item_usage_type"), "lineItem/UsageType");
    let (_, old) = reconciled(&w, &rewritten(&w, dir.path(), &legacy, &[]), true);
    let focus = |h: &str| {
        match h {
            "line_item_usage_type" => "x_UsageType",
            "line_item_resource_id" => "ResourceId",
            "line_item_usage_start_date" => "ChargePeriodStart",
            "line_item_usage_end_date" => "ChargePeriodEnd",
            "line_item_usage_amount" => "ConsumedQuantity",
            "line_item_unblended_cost" => "BilledCost",
            "line_item_line_item_type" => "ChargeCategory",
            "line_item_usage_account_id" => "SubAccountId",
            "product_region_code" => "RegionId",
            other => other,
        }
        .to_string()
    };
    let (_, f) = reconciled(&w, &rewritten(&w, dir.path(), &focus, &[]), true);
    for other in [&old, &f] {
        assert_eq!(other.billed_bytes, base.billed_bytes);
        assert_eq!(other.flow_log_bytes, base.flow_log_bytes);
        assert_eq!(other.gateways_not_logged, base.gateways_not_logged);
        assert_eq!(other.days_under_covered, base.days_under_covered);
    }
    // no resource ids: one line per account and region, and the note that says why
    let plain = |h: &str| h.to_string();
    let (_, acct) = reconciled(
        &w,
        &rewritten(&w, dir.path(), &plain, &["line_item_resource_id"]),
        true,
    );
    assert_eq!(acct.granularity, Granularity::AccountRegion);
    assert_eq!(acct.gateways.len(), 1);
    assert_eq!(acct.gateways[0].gateway, "111122223333/us-east-1");
    assert!(close(acct.billed_bytes, base.billed_bytes));
    assert!(acct.notes.iter().any(|n| n.contains("INCLUDE_RESOURCES")));
    // no inventory: gateways cannot be matched to the bill's ids, one total
    let (_, total) = reconciled(&w, &w.cur("csv"), false);
    assert_eq!(total.granularity, Granularity::Total);
    assert!(close(total.billed_bytes, base.billed_bytes));
    assert_eq!(total.flow_log_bytes, base.flow_log_bytes);
}

/// The bill's currency: US dollars stated by the generated export; another currency kept
/// (never shown as dollars, never converted); none stated (US dollars assumed, said); two
/// currencies refused with their rows.
#[test]
fn the_bill_is_read_in_its_own_currency() {
    let w = world(&spec(65, FieldSet::V5), &[Encoding::Gz]);
    let (_, usd) = reconciled(&w, &w.cur("csv"), true);
    assert_eq!(usd.currency, Currency::USD);
    assert_eq!(usd.currency_source, CurrencySource::Bill);
    assert!(
        !usd.notes.iter().any(|n| n.contains("currency")),
        "{:?}",
        usd.notes
    );
    let dir = tempfile::tempdir().unwrap();
    let plain = |h: &str| h.to_string();
    let col = |h: &[String]| {
        h.iter()
            .position(|h| h == "line_item_currency_code")
            .unwrap()
    };
    let in_inr = |h: &[String], row: &mut Vec<String>| row[col(h)] = "INR".into();
    let inr = edited(&w, dir.path(), &plain, &[], &in_inr);
    let (_, rec) = reconciled(&w, &inr, true);
    assert_eq!(rec.currency.to_string(), "INR");
    assert_eq!(rec.currency_source, CurrencySource::Bill);
    assert_eq!(rec.billed_cost, usd.billed_cost);
    assert_eq!(rec.billed_s3_savings, usd.billed_s3_savings);
    assert!(
        rec.notes
            .iter()
            .any(|n| n.starts_with("The bill is in INR")),
        "{:?}",
        rec.notes
    );
    // people see the amounts in rupees, and the list-price figure in dollars
    let logs = w.path(Encoding::Gz);
    let mut args = vec!["analyze".to_string(), "-q".into(), logs.clone()];
    args.extend(["--cur".to_string(), inr.clone()]);
    args.extend(w.inventory_args());
    let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let out = support::stdout(&o);
    let section = &out[out.find("Reconciliation with the bill").unwrap()..];
    let billed = format!("{:.2} INR", rec.billed_cost);
    assert!(
        section.contains(&format!("({billed}) of NAT data processing")),
        "{section}"
    );
    let priced = format!(
        "${:.2} priced from the flow logs",
        rec.flow_log_priced_s3_savings
    );
    assert!(section.contains(&priced), "{section}");
    let table_end = section.find("S3 gateway endpoint savings").unwrap();
    assert!(
        !section[..table_end].contains('$'),
        "no dollar sign on a billed amount: {section}"
    );
    // and so does compare's verdict
    let (_, billed) = compared(&w, &inr, "2026-09-01..2026-09-01", "2026-09-02..2026-09-02");
    assert!(
        billed.contains(" INR/day before") && !billed.contains('$'),
        "{billed}"
    );
    // no currency column: US dollars assumed, and said
    let none = rewritten(&w, dir.path(), &plain, &["line_item_currency_code"]);
    let (_, rec) = reconciled(&w, &none, true);
    assert_eq!(
        (rec.currency, rec.currency_source),
        (Currency::USD, CurrencySource::Assumed)
    );
    assert!(
        rec.notes.iter().any(|n| n.contains("states no currency")),
        "{:?}",
        rec.notes
    );
    // one NAT row in dollars among rupees: refused, both named with the rows
    let first_nat = std::sync::atomic::AtomicBool::new(true);
    let mixed = |h: &[String], row: &mut Vec<String>| {
        let nat =
            row[h.iter().position(|h| h == "line_item_usage_type").unwrap()] == "NatGateway-Bytes";
        let usd_row = nat && first_nat.swap(false, std::sync::atomic::Ordering::Relaxed);
        row[col(h)] = if usd_row { "USD" } else { "INR" }.into();
    };
    let mixed = edited(&w, dir.path(), &plain, &[], &mixed);
    let o = support::run(&["analyze", "-q", &w.path(Encoding::Gz), "--cur", &mixed]);
    assert_eq!(o.status.code(), Some(2), "{}", support::stderr(&o));
    let e = support::stderr(&o);
    assert!(
        e.contains("billed in INR, but in USD at") && e.contains("bill.csv: row 2"),
        "{e}"
    );
}

/// Discounts on NAT processing (an EDP discount; a bundle that waives it all) net the
/// billed savings by the share of the billed cost they take; credits stay left out.
#[test]
fn discounts_net_the_billed_savings() {
    let w = world(&spec(67, FieldSet::V5), &[Encoding::Gz]);
    let (_, base) = reconciled(&w, &w.cur("csv"), true);
    assert_eq!(base.billed_discounts, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let plain = |h: &str| h.to_string();
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    // the generated bill's credit on NAT processing made an EDP discount of a tenth
    let discounted = |cost: f64| {
        move |h: &[String], row: &mut Vec<String>| {
            if row[at(h, "line_item_line_item_type")] == "Credit" {
                row[at(h, "line_item_line_item_type")] = "EdpDiscount".into();
                row[at(h, "line_item_unblended_cost")] = format!("{}", -cost);
            }
        }
    };
    let tenth = base.billed_cost / 10.0;
    let edp = edited(&w, dir.path(), &plain, &[], &discounted(tenth));
    let (_, rec) = reconciled(&w, &edp, true);
    assert_eq!(rec.billed_discounts, tenth);
    assert_eq!(rec.billed_cost, base.billed_cost, "the usage as billed");
    let keep = 0.9;
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        near(rec.billed_s3_savings, base.billed_s3_savings * keep),
        "{rec:?}"
    );
    for (g, b) in rec.gateways.iter().zip(&base.gateways) {
        let want = b.billed_s3_savings.map(|v| v * keep);
        assert!(
            g.billed_s3_savings
                .zip(want)
                .is_none_or(|(a, b)| near(a, b)),
            "{g:?}"
        );
    }
    let said = |r: &Reconciliation, what: &str| r.notes.iter().any(|n| n.contains(what));
    assert!(
        said(&rec, "Discounts on NAT data processing (1 rows"),
        "{:?}",
        rec.notes
    );
    assert!(!said(&rec, "all but free"));
    assert!(
        !said(&rec, "rows of other kinds"),
        "the credit was the only other row"
    );
    let mut args = vec!["analyze".to_string(), "-q".into(), w.path(Encoding::Gz)];
    args.extend(["--cur".to_string(), edp]);
    args.extend(w.inventory_args());
    let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let net = format!("priced from the bill (net of ${tenth:.2} of discounts)");
    assert!(
        support::stdout(&o).contains(&net),
        "{}",
        support::stdout(&o)
    );
    // a bundle waiving it all: nothing saved on NAT processing, and said so
    let waived = edited(&w, dir.path(), &plain, &[], &discounted(1e9));
    let (_, rec) = reconciled(&w, &waived, true);
    assert_eq!(rec.billed_discounts, base.billed_cost, "at most the cost");
    assert_eq!(rec.billed_s3_savings, 0.0);
    assert!(said(&rec, "all but free"), "{:?}", rec.notes);
}

/// Discounts in the usage rows' own discount column (CUR 2.0 writes them there unless its
/// "manual discount compatibility" is on; the legacy CUR its bundled ones): an EDP's tenth on
/// every row nets every billed saving by a tenth; a Network Firewall bundle that waives one
/// gateway's processing leaves that gateway nothing to save and the other its whole saving.
/// Before, the column was not read: every billed saving stayed gross.
#[test]
fn discounts_in_the_usage_rows_own_column_net_each_gateways_savings() {
    let w = world(&spec(67, FieldSet::V5), &[Encoding::Gz]);
    let (_, base) = reconciled(&w, &w.cur("csv"), true);
    let dir = tempfile::tempdir().unwrap();
    // (the export's `pricing_unit` column made the discount column)
    let renamed = |h: &str| match h {
        "pricing_unit" => "discount_total_discount".to_string(),
        h => h.to_string(),
    };
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    let saving = |g: &flowcost::bill::GatewayRecon| g.billed_s3_savings.unwrap_or(0.0) > 0.0;
    let waived = base
        .gateways
        .iter()
        .find(|g| saving(g))
        .unwrap()
        .gateway
        .clone();
    let discounted = |edp: f64, bundle: bool| {
        let waived = waived.clone();
        move |h: &[String], row: &mut Vec<String>| {
            let nat_usage = row[at(h, "line_item_usage_type")].ends_with("NatGateway-Bytes")
                && row[at(h, "line_item_line_item_type")] == "Usage";
            let cost: f64 = row[at(h, "line_item_unblended_cost")]
                .parse()
                .unwrap_or(0.0);
            let share = match bundle && row[at(h, "line_item_resource_id")].ends_with(&waived) {
                true => 1.0,
                false => edp,
            };
            row[at(h, "pricing_unit")] = match nat_usage && share > 0.0 {
                true => format!("{}", -cost * share),
                false => String::new(),
            };
        }
    };
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let edp = edited(&w, dir.path(), &renamed, &[], &discounted(0.1, false));
    let (_, rec) = reconciled(&w, &edp, true);
    assert!(
        near(rec.billed_discounts, base.billed_cost / 10.0),
        "{rec:?}"
    );
    assert_eq!(rec.billed_cost, base.billed_cost, "the usage as billed");
    assert!(near(rec.billed_s3_savings, base.billed_s3_savings * 0.9));
    let said = |r: &Reconciliation, what: &str| r.notes.iter().any(|n| n.contains(what));
    assert!(said(&rec, "(the discount columns of "), "{:?}", rec.notes);
    assert!(said(&rec, "each gateway's by its own rows' discounts"));
    // one gateway's processing waived, the others' not
    let bundle = edited(&w, dir.path(), &renamed, &[], &discounted(0.0, true));
    let (_, rec) = reconciled(&w, &bundle, true);
    let mut others = 0.0;
    for (g, b) in rec.gateways.iter().zip(&base.gateways) {
        assert_eq!(g.gateway, b.gateway);
        match g.gateway == waived {
            true => {
                assert_eq!(g.billed_s3_savings, Some(0.0));
                assert!(near(rec.billed_discounts, b.billed_cost));
            }
            false => {
                assert_eq!(g.billed_s3_savings, b.billed_s3_savings);
                others += b.billed_s3_savings.unwrap_or(0.0);
            }
        }
    }
    assert!(others > 0.0, "another gateway saves");
    assert!(near(rec.billed_s3_savings, others));
}

/// Days on which the flow logs counted NAT bytes and the bill has no NAT row (an export not
/// refreshed yet; another month's) are named and left out of the coverage, which would
/// otherwise read high and blame the GB convention.
#[test]
fn days_the_bill_does_not_cover_are_named_and_left_out_of_the_coverage() {
    let w = world(&spec(68, FieldSet::V5), &[Encoding::Gz]);
    let t = &w.truth;
    let days: Vec<&String> = t.nat_by_day.keys().collect();
    let (first, last) = (days[0].clone(), days[days.len() - 1].clone());
    assert!(days.len() >= 2);
    let dir = tempfile::tempdir().unwrap();
    let plain = |h: &str| h.to_string();
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    // the last day's NAT processing rows not yet in the export
    let last_day = last.clone();
    let unrefreshed = move |h: &[String], row: &mut Vec<String>| {
        if row[at(h, "line_item_usage_start_date")].starts_with(&last_day) {
            row[at(h, "line_item_usage_type")] = "NatGateway-Hours".into();
        }
    };
    let cur = edited(&w, dir.path(), &plain, &[], &unrefreshed);
    let (_, rec) = reconciled(&w, &cur, true);
    assert_eq!(rec.days_not_billed, std::slice::from_ref(&last));
    let said = |r: &Reconciliation, what: &str| r.notes.iter().any(|n| n.contains(what));
    assert!(
        said(&rec, "The bill has no NAT processing on 1 day(s)"),
        "{:?}",
        rec.notes
    );
    assert!(!said(&rec, "count more than the bill"), "{:?}", rec.notes);
    // each logged gateway's coverage is that of the first day alone (100 % in this world
    // for all but the gateway whose flow log missed part of the last day)
    for g in rec.gateways.iter().filter(|g| g.flow_log_bytes > 0) {
        let day: &flowcost::bill::DayRecon = g.days.iter().find(|d| d.day == first).unwrap();
        assert_eq!(g.coverage_percent, day.coverage_percent, "{g:?}");
        assert!(
            g.flow_log_bytes > g.days[0].flow_log_bytes,
            "both days' bytes still shown"
        );
    }
    // another month's export: every logged day named, and where its rows lie
    let next_month = |h: &[String], row: &mut Vec<String>| {
        for c in ["line_item_usage_start_date", "line_item_usage_end_date"] {
            let v = &mut row[at(h, c)];
            *v = v.replace("2026-09-", "2026-10-");
        }
    };
    let cur = edited(&w, dir.path(), &plain, &[], &next_month);
    let (_, rec) = reconciled(&w, &cur, true);
    let logged: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    assert_eq!(rec.days_not_billed, logged);
    assert_eq!((rec.billed_bytes, rec.coverage_percent), (0, None));
    assert!(
        said(&rec, "rows run from 2026-10-01T00:00:00Z"),
        "{:?}",
        rec.notes
    );
    // the whole bill: no day named
    let (_, whole) = reconciled(&w, &w.cur("csv"), true);
    assert!(whole.days_not_billed.is_empty());
}

/// An hourly export refreshed during the last day holds that day's processing only up to the
/// refresh: the day is named as billed in part and left out of the coverage, which would
/// otherwise read as the flow logs counting more than the bill.
#[test]
fn a_day_billed_in_part_is_left_out_of_the_coverage() {
    let w = world(&spec(68, FieldSet::V5), &[Encoding::Gz]);
    let days: Vec<String> = w.truth.nat_by_day.keys().cloned().collect();
    let (first, last) = (days[0].clone(), days[days.len() - 1].clone());
    let dir = tempfile::tempdir().unwrap();
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    // the last day's rows from noon on not yet in the export
    let afternoon = format!("{last}T12");
    let refreshed_at_noon = move |h: &[String], row: &mut Vec<String>| {
        let start = &row[at(h, "line_item_usage_start_date")];
        if start.starts_with(&last) && start.as_str() >= afternoon.as_str() {
            row[at(h, "line_item_usage_type")] = "NatGateway-Hours".into();
        }
    };
    let cur = edited(&w, dir.path(), &|h| h.to_string(), &[], &refreshed_at_noon);
    let (_, rec) = reconciled(&w, &cur, true);
    let last = &days[days.len() - 1];
    assert_eq!(
        rec.billed_until.as_deref(),
        Some(format!("{last}T12:00:00Z").as_str())
    );
    assert!(rec.days_not_billed.is_empty(), "billed, in part");
    let said = |what: &str| rec.notes.iter().any(|n| n.contains(what));
    assert!(said("is billed in part"), "{:?}", rec.notes);
    assert!(!said("count more than the bill"), "{:?}", rec.notes);
    let (_, whole) = reconciled(&w, &w.cur("csv"), true);
    for g in rec.gateways.iter().filter(|g| g.flow_log_bytes > 0) {
        let day = |d: &str| g.days.iter().find(|x| x.day == d).unwrap();
        // the first day compares as with the whole bill; the last day has no coverage
        assert_eq!(g.coverage_percent, day(&first).coverage_percent, "{g:?}");
        assert_eq!(day(last).coverage_percent, None);
        let full = whole
            .gateways
            .iter()
            .find(|x| x.gateway == g.gateway)
            .unwrap();
        assert_eq!(
            g.flow_log_bytes, full.flow_log_bytes,
            "every day's bytes shown"
        );
        assert!(
            g.billed_cost < full.billed_cost,
            "the half day's cost still counts"
        );
        assert!(g.billed_cost > full.days[0].billed_cost);
    }
    // the whole bill ends at midnight: no day billed in part
    assert_eq!(whole.billed_until, None);
    // nor when the flow logs stop where the bill does
    let args = bill_args(&w, &cur, true, &["--until", &format!("{last}T12:00:00Z")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = analyze_json(&args);
    assert_eq!(r.reconciliation.unwrap().billed_until, None);
    // the table says what its total coverage is over
    let args = bill_args(&w, &cur, true, &[]);
    let args: Vec<&str> = ["analyze", "-q"]
        .into_iter()
        .chain(args.iter().map(String::as_str))
        .collect();
    let text = String::from_utf8(support::run(&args).stdout).unwrap();
    assert!(
        text.contains("% covered on the days billed in full)"),
        "{text}"
    );
    // and so does the monthly report's summary
    let out = dir.path().join("report");
    let mut args = vec!["report".to_string(), "-q".into(), "-d".into()];
    args.push(out.display().to_string());
    args.extend(bill_args(&w, &cur, true, &[]));
    let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", support::stderr(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let summary = &md[md.find("## Summary").unwrap()..md.find("## Charts").unwrap()];
    let cov = rec.coverage_percent.unwrap();
    assert!(
        summary.contains(&format!(
            "{cov:.1}% of it in the flow logs on the days billed in full; "
        )),
        "{summary}"
    );
}

/// A logged gateway the bill does not hold (a shared VPC's, billed to the VPC owner) is named
/// and left out of the total coverage.
#[test]
fn a_gateway_the_bill_does_not_hold_is_named_and_left_out_of_the_total_coverage() {
    let w = world(&spec(69, FieldSet::V5), &[Encoding::Gz]);
    let t = &w.truth;
    let (_, base) = reconciled(&w, &w.cur("csv"), true);
    let gone = t.nat_gateway_ids[t.nat_enis.last().unwrap()].clone();
    let dir = tempfile::tempdir().unwrap();
    let plain = |h: &str| h.to_string();
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    let other_account = |h: &[String], row: &mut Vec<String>| {
        if row[at(h, "line_item_resource_id")].ends_with(&gone) {
            row[at(h, "line_item_usage_type")] = "NatGateway-Hours".into();
        }
    };
    let cur = edited(&w, dir.path(), &plain, &[], &other_account);
    let (_, rec) = reconciled(&w, &cur, true);
    assert_eq!(rec.gateways_not_billed, std::slice::from_ref(&gone));
    assert!(base.gateways_not_billed.is_empty());
    let kept = || {
        base.gateways
            .iter()
            .filter(|g| g.gateway != gone && g.billed_bytes > 0)
    };
    let flow: u64 = kept().map(|g| g.flow_log_bytes).sum();
    let billed: u64 = kept().map(|g| g.billed_bytes).sum();
    let want = flow as f64 * 100.0 / billed as f64;
    assert!(
        (rec.coverage_percent.unwrap() - want).abs() < 1e-9,
        "{rec:?}"
    );
    assert!(rec
        .notes
        .iter()
        .any(|n| n.starts_with("In the flow logs but not in the bill")));
}

/// compare's billed figures per day divide by the days the bill covers: an after side whose
/// bill lacks its last day reads that day's processing, not half of it; a side the bill
/// does not reach says so.
#[test]
fn compare_per_day_billed_figures_count_the_days_billed() {
    let mut sp = spec(70, FieldSet::V5);
    sp.days = 3;
    let w = world(&sp, &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let plain = |h: &str| h.to_string();
    let at = |h: &[String], name: &str| h.iter().position(|h| h == name).unwrap();
    let no_day3 = |h: &[String], row: &mut Vec<String>| {
        if row[at(h, "line_item_usage_start_date")].starts_with("2026-09-03") {
            row[at(h, "line_item_usage_type")] = "NatGateway-Hours".into();
        }
    };
    let cur = edited(&w, dir.path(), &plain, &[], &no_day3);
    let verdict = |before: &str, after: &str| compared(&w, &cur, before, after);
    let (c, line) = verdict("2026-09-01..2026-09-01", "2026-09-02..2026-09-03");
    let after = c.reports.after.reconciliation.as_ref().unwrap();
    assert_eq!(after.days_billed, Some(1));
    assert_eq!(after.days_not_billed, ["2026-09-03"]);
    let day2: f64 = (after.gateways.iter())
        .flat_map(|g| g.days.iter())
        .filter(|d| d.day == "2026-09-02")
        .map(|d| d.billed_cost)
        .sum();
    assert!((after.billed_cost - day2).abs() < 1e-9);
    let want = format!("{}/day after", flowcost::report::dollars(day2));
    assert!(line.contains(&want), "{line} lacks {want}");
    let (_, line) = verdict("2026-09-01..2026-09-01", "2026-09-03..2026-09-03");
    assert!(line.contains("none in the bill after"), "{line}");
    // the bill refreshed at noon of day 3: the after side's billed cost over 1.5 days
    let noon3 = |h: &[String], row: &mut Vec<String>| {
        let start = &row[at(h, "line_item_usage_start_date")];
        if start.as_str() >= "2026-09-03T12" {
            row[at(h, "line_item_usage_type")] = "NatGateway-Hours".into();
        }
    };
    let cur = edited(&w, dir.path(), &plain, &[], &noon3);
    let (c, line) = compared(&w, &cur, "2026-09-01..2026-09-01", "2026-09-02..2026-09-03");
    let after = c.reports.after.reconciliation.as_ref().unwrap();
    assert_eq!(after.days_billed, Some(2));
    assert_eq!(after.billed_until.as_deref(), Some("2026-09-03T12:00:00Z"));
    assert_eq!(after.billed_days(), Some(1.5));
    let want = format!(
        "{}/day after",
        flowcost::report::dollars(after.billed_cost / 1.5)
    );
    assert!(line.contains(&want), "{line} lacks {want}");
}

#[test]
fn a_bad_bill_is_refused_with_its_row() {
    let w = world(&spec(64, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "line_item_usage_type,line_item_usage_start_date,line_item_usage_amount,line_item_unblended_cost\n\
         NatGateway-Bytes,2026-09-01T00:00:00Z,1.5,0.0675\n\
         NatGateway-Bytes,2026-09-01T01:00:00Z,-3,0.1\n",
    )
    .unwrap();
    let not = dir.path().join("not.csv");
    std::fs::write(&not, "a,b\n1,2\n").unwrap();
    for (f, want) in [(&bad, "row 3"), (&not, "line_item_usage_type")] {
        let o = support::run(&[
            "analyze",
            "-q",
            &w.path(Encoding::Gz),
            "--cur",
            f.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", support::stderr(&o));
        let e = support::stderr(&o);
        assert!(e.contains(want), "{e}");
        let file = f.display().to_string();
        assert_eq!(e.matches(&file).count(), 1, "the file named once: {e}");
    }
    let e = support::stderr(&support::run(&[
        "analyze",
        "-q",
        &w.path(Encoding::Gz),
        "--cur",
        bad.to_str().unwrap(),
    ]));
    assert!(
        e.contains(&format!("{}: row 3: line_item_usage_amount", bad.display())),
        "{e}"
    );
}

/// `tests/fixtures/fuzz-parquet-dictionary-div-by-zero.parquet` (a flow-log file whose
/// `region` column's pages index past their dictionary) made a bill: its footer's column
/// names renamed to a FOCUS export's (`interface_id` the usage type, `packets` the quantity,
/// `start` the period's start, `region` the region, which the bill reader reads; the file
/// holds no embedded Arrow schema to rename too).
fn corrupt_bill(path: &std::path::Path) {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz-parquet-dictionary-div-by-zero.parquet"
    );
    let bytes = std::fs::read(fixture).unwrap();
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut footer = bytes[n - 8 - len..n - 8].to_vec();
    let replace = |footer: &mut Vec<u8>, from: &str, to: &str| {
        let (mut a, mut b) = (vec![from.len() as u8], vec![to.len() as u8]);
        a.extend_from_slice(from.as_bytes());
        b.extend_from_slice(to.as_bytes());
        let mut out = Vec::new();
        let mut i = 0;
        let mut found = 0;
        while i < footer.len() {
            if footer[i..].starts_with(&a) {
                out.extend_from_slice(&b);
                i += a.len();
                found += 1;
            } else {
                out.push(footer[i]);
                i += 1;
            }
        }
        assert_eq!(
            found, 2,
            "{from}: its schema element and its column chunk's path"
        );
        *footer = out;
    };
    replace(&mut footer, "interface_id", "x_usage_type");
    replace(&mut footer, "packets", "consumed_quantity");
    replace(&mut footer, "start", "charge_period_start");
    replace(&mut footer, "region", "region_id");
    let mut out = bytes[..n - 8 - len].to_vec();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_parquet_bill_that_makes_the_reader_panic_is_refused_not_a_crash() {
    // the parquet crate divides by zero on the region column's pages: before, flowcost
    // crashed (exit 101, a panic's backtrace); now the bill is refused naming the file
    let w = world(&spec(65, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let bill = dir.path().join("export-00001.snappy.parquet");
    corrupt_bill(&bill);
    for cmd in [&["analyze", "-q"][..], &["report", "-q", "-d", "out"][..]] {
        let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        if cmd[0] == "report" {
            args[3] = dir.path().join("out").display().to_string();
        }
        args.extend([
            w.path(Encoding::Gz),
            "--cur".into(),
            bill.display().to_string(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = support::run(&args);
        let e = support::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {e}", cmd[0]);
        assert!(
            e.contains(&format!(
                "{}: the Parquet reader failed on this file",
                bill.display()
            )),
            "{e}"
        );
        assert!(!e.contains("panicked"), "no panic's message: {e}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn compare_and_the_monthly_report_from_daily_partials_use_the_bill() {
    let w = world(&spec(66, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let cur = w.cur("parquet");
    let inv = w.inventory_args();
    // compare: each side reconciled over its own period, and the billed figures said
    let (c, _) = compared(&w, &cur, "2026-09-01..2026-09-01", "2026-09-02..2026-09-02");
    let (rb, ra) = (
        c.reports.before.reconciliation.as_ref().unwrap(),
        c.reports.after.reconciliation.as_ref().unwrap(),
    );
    assert_eq!(
        (rb.from.as_str(), ra.from.as_str()),
        ("2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z")
    );
    let (_, whole) = reconciled(&w, &cur, true);
    assert!(close(rb.billed_bytes + ra.billed_bytes, whole.billed_bytes));
    // the monthly report, from logs and from daily partials, reconciles alike
    let dir = tempfile::tempdir().unwrap();
    let parts = support::daily_partials(&logs, w.truth.start, 2, dir.path());
    let from_logs = dir.path().join("from-logs");
    let from_parts = dir.path().join("from-partials");
    for (out, inputs) in [(&from_logs, vec![logs.clone()]), (&from_parts, parts)] {
        let mut args = vec![
            "report".to_string(),
            "-q".into(),
            "-d".into(),
            out.display().to_string(),
        ];
        args.extend(inputs);
        args.extend(["--cur".to_string(), cur.clone()]);
        args.extend(inv.iter().cloned());
        let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", support::stderr(&o));
    }
    let doc = |d: &std::path::Path| -> flowcost::report::monthly::MonthlyReport {
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap()
    };
    let (a, b) = (doc(&from_logs), doc(&from_parts));
    let (ra, rb) = (
        a.analysis.reconciliation.unwrap(),
        b.analysis.reconciliation.unwrap(),
    );
    assert_eq!(ra.gateways_not_logged, rb.gateways_not_logged);
    assert_eq!(ra.days_under_covered, rb.days_under_covered);
    assert_eq!(ra.flow_log_bytes, rb.flow_log_bytes);
    assert!(close(ra.billed_bytes, rb.billed_bytes));
    let md = std::fs::read_to_string(from_parts.join("report.md")).unwrap();
    assert!(md.contains("Reconciliation with the bill"));
    // the summary leads with the bill's figures
    let billed = b.summary.billed.as_ref().expect("the bill in the summary");
    assert_eq!(billed.billed_cost, rb.billed_cost);
    assert_eq!(billed.billed_s3_savings, rb.billed_s3_savings);
    assert_eq!(billed.coverage_percent, rb.coverage_percent);
    let line = format!(
        "- The bill (Cost and Usage Report): {} of NAT data processing in the period",
        flowcost::report::dollars(rb.billed_cost)
    );
    let summary = &md[md.find("## Summary").unwrap()..md.find("## Charts").unwrap()];
    assert!(summary.contains(&line), "{summary}");
    // every day billed in full: the coverage is over the period, said without a proviso
    assert!(!billed.some_days);
    assert!(!summary.contains("billed in full"), "{summary}");
}

#[test]
fn merge_takes_the_inventory_and_the_bill_too() {
    let w = world(&spec(67, FieldSet::V5), &[Encoding::Gz]);
    let logs = w.path(Encoding::Gz);
    let cur = w.cur("csv");
    let dir = tempfile::tempdir().unwrap();
    let parts = support::daily_partials(&logs, w.truth.start, 2, dir.path());
    let mut args = vec![
        "merge".to_string(),
        "-q".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(parts);
    args.extend(["--cur".to_string(), cur.clone()]);
    args.extend(w.inventory_args());
    let o = support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", support::stderr(&o));
    let merged: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let (direct, rec) = reconciled(&w, &cur, true);
    let m = merged.reconciliation.unwrap();
    assert_eq!(m.granularity, Granularity::Gateway);
    assert_eq!(m.flow_log_bytes, rec.flow_log_bytes);
    assert_eq!(m.days_under_covered, rec.days_under_covered);
    assert_eq!(
        merged.inventory.unwrap().plan,
        direct.inventory.unwrap().plan
    );
}

#[test]
fn text_from_the_bill_is_inert_in_every_output() {
    let w = world(&spec(68, FieldSet::V5), &[Encoding::Gz]);
    let dir = tempfile::tempdir().unwrap();
    let cur = dir.path().join("bill.csv");
    std::fs::write(
        &cur,
        "line_item_usage_type,line_item_usage_start_date,line_item_usage_amount,line_item_unblended_cost,line_item_usage_account_id,product_region_code\n\
         NatGateway-Bytes,2026-09-01T00:00:00Z,1.5,0.0675,<script>alert(1)</script>,\"us-east-1\x1b[31m\"\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = support::run(&[
        "report",
        "-q",
        "-d",
        out.to_str().unwrap(),
        &w.path(Encoding::Gz),
        "--cur",
        cur.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert"), "raw script in the page");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let o = support::run(&[
        "analyze",
        "-q",
        &w.path(Encoding::Gz),
        "--cur",
        cur.to_str().unwrap(),
    ]);
    assert!(
        !support::stdout(&o).contains('\x1b'),
        "a terminal escape reached the table"
    );
}
