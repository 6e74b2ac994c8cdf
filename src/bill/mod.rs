//! The bill: NAT gateway data processing as the Cost and Usage Report charged it. Reads the
//! rows of a CUR 2.0 / Data Exports table (snake_case columns), of the legacy CUR
//! (`lineItem/UsageType`, …) and of the FOCUS 1.2 export with AWS columns (`x_UsageType`,
//! `ConsumedQuantity`, …): the `NatGateway-Bytes` usage (with or without a region prefix such
//! as `EUW1-`) per gateway (`…natgateway/nat-…` in the resource id) and UTC day, and its cost.
//! Exports made without resource ids are kept per account and region. Pure: the source stage
//! reads the files and hands rows over ([`BillReader`]); [`reconcile`] sets the bill beside
//! the flow logs.

mod reconcile;

use std::collections::BTreeMap;

pub use reconcile::{
    reconcile, CurrencySource, DayRecon, GatewayRecon, Granularity, Reconciliation,
};

use crate::inventory::ec2::is_id;

/// One cell of a row, as the file holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Num(f64),
    /// Seconds since the epoch (a Parquet timestamp).
    Time(i64),
}

/// Which export a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// CUR 2.0 / Data Exports, or the legacy CUR in Parquet (snake_case columns).
    Cur,
    /// The legacy CUR in CSV (`lineItem/UsageType`).
    LegacyCsv,
    /// FOCUS 1.2 with AWS columns.
    Focus,
}

/// The columns a bill is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    UsageType,
    ResourceId,
    Start,
    End,
    Amount,
    Cost,
    ItemType,
    Account,
    Region,
    Currency,
    Discount,
}

const COLS: [Col; 11] = [
    Col::UsageType,
    Col::ResourceId,
    Col::Start,
    Col::End,
    Col::Amount,
    Col::Cost,
    Col::ItemType,
    Col::Account,
    Col::Region,
    Col::Currency,
    Col::Discount,
];

/// A column's names in each export, normalised (see [`normalise`]).
fn names(c: Col) -> &'static [&'static str] {
    match c {
        Col::UsageType => &["line_item_usage_type", "x_usage_type"],
        Col::ResourceId => &["line_item_resource_id", "resource_id"],
        Col::Start => &["line_item_usage_start_date", "charge_period_start"],
        Col::End => &["line_item_usage_end_date", "charge_period_end"],
        Col::Amount => &["line_item_usage_amount", "consumed_quantity"],
        Col::Cost => &["line_item_unblended_cost", "billed_cost"],
        Col::ItemType => &["line_item_line_item_type", "charge_category"],
        Col::Account => &["line_item_usage_account_id", "sub_account_id"],
        Col::Region => &["product_region_code", "product_region", "region_id"],
        Col::Currency => &["line_item_currency_code", "billing_currency"],
        // a usage row's discounts, in CUR 2.0 unless its "manual discount compatibility"
        // writes them as rows of their own, and the legacy CUR's (its bundled discounts);
        // FOCUS's `BilledCost` is net of them already
        Col::Discount => &["discount_total_discount"],
    }
}

/// A header as snake_case: `lineItem/UsageType` → `line_item_usage_type`,
/// `x_UsageType` → `x_usage_type`, `ConsumedQuantity` → `consumed_quantity`.
pub fn normalise(h: &str) -> String {
    let mut out = String::with_capacity(h.len() + 8);
    let mut prev_lower = false;
    for ch in h.trim().chars() {
        match ch {
            '/' | '.' | ' ' | '-' => {
                out.push('_');
                prev_lower = false;
            }
            c if c.is_ascii_uppercase() => {
                if prev_lower {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                prev_lower = false;
            }
            c => {
                out.push(c);
                prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            }
        }
    }
    out
}

/// NAT data processing used and charged.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub gb: f64,
    pub cost: f64,
    /// What the rows' own discount columns take off `cost` (positive): a gateway's share of
    /// an EDP or private rate, or a bundle's waiver (Network Firewall's) of that gateway alone.
    pub off: f64,
}

impl Usage {
    fn add(&mut self, o: Usage) {
        self.gb += o.gb;
        self.cost += o.cost;
        self.off += o.off;
    }
}

/// One gateway's (or, without resource ids, one account and region's) usage: per UTC day,
/// and the rows that cover more than a day (a monthly export), which no day can hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Billed {
    pub days: BTreeMap<i64, Usage>,
    pub spans: Vec<(i64, i64, Usage)>,
}

impl Billed {
    /// Usage from `start` to `end`: on its UTC day, or among the spans when it covers more.
    fn add(&mut self, start: i64, end: i64, usage: Usage) {
        let day = start.div_euclid(86_400);
        if end - day * 86_400 <= 86_400 {
            self.days.entry(day).or_default().add(usage);
        } else {
            self.spans.push((start, end, usage));
        }
    }
}

/// Whether a line item type is a discount on the usage of its usage type (`EdpDiscount`,
/// `PrivateRateDiscount`, `BundledDiscount`, `SppDiscount`, `DistributorDiscount`, …): AWS
/// writes them per account and usage type, not per resource.
pub fn is_discount(kind: &str) -> bool {
    kind.ends_with("Discount")
}

/// The NAT processing of a bill.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bill {
    /// By gateway id.
    pub gateways: BTreeMap<String, Billed>,
    /// Rows without a gateway in their resource id, by `account/region`.
    pub unattributed: BTreeMap<String, Billed>,
    /// Whether the export has resource ids at all.
    pub resource_ids: bool,
    pub dialects: Vec<Dialect>,
    /// Rows read, `NatGateway-Bytes` usage rows taken, and such rows of other kinds (credits,
    /// refunds, taxes) left out.
    pub rows: u64,
    pub nat_rows: u64,
    pub other_nat_rows: u64,
    /// Discounts on NAT processing ([`is_discount`]; their `cost` the amount taken off, so
    /// positive), and their rows.
    pub discounts: Billed,
    pub discount_rows: u64,
    /// Usage rows with a discount in their own discount column (`discount_total_discount`),
    /// kept with their usage ([`Usage::off`]).
    pub discounted_rows: u64,
    pub files: Vec<String>,
    /// The currency the NAT usage rows state (`line_item_currency_code`, FOCUS's
    /// `BillingCurrency`), and where it was first read (`file: row N`); `None` when no row
    /// states one. Rows in a second currency refuse the bill: amounts in two currencies
    /// cannot be summed.
    pub currency: Option<(Currency, String)>,
    /// NAT usage rows taken that state no currency (no such column, or an empty cell).
    pub rows_without_currency: u64,
    /// What reading the files found (files given twice, copies read once).
    pub notes: Vec<String>,
    /// The latest end of the NAT usage rows of a day or less: where an hourly export ends
    /// within a day, how far it was refreshed.
    pub rows_end: Option<i64>,
}

/// An ISO 4217 currency code as a bill states it: three ASCII capital letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars: AWS's default billing currency, and that of its list prices.
    pub const USD: Currency = Currency(*b"USD");

    /// A code as a bill writes it (surrounding spaces and lower case allowed); `None` for
    /// anything that is not three letters.
    pub fn parse(s: &str) -> Option<Currency> {
        let code: [u8; 3] = s.trim().as_bytes().try_into().ok()?;
        code.iter()
            .all(u8::is_ascii_alphabetic)
            .then(|| Currency(code.map(|b| b.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII letters")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s)
            .filter(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a currency code")))
    }
}

/// Whether a usage type is NAT data processing: `NatGateway-Bytes`, alone or behind a region
/// code (`EUW1-`, `USE2-`, `APN1-`, …).
pub fn is_nat_bytes(usage_type: &str) -> bool {
    match usage_type.strip_suffix("NatGateway-Bytes") {
        Some("") => true,
        Some(prefix) => prefix.strip_suffix('-').is_some_and(|code| {
            (2..=6).contains(&code.len())
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }),
        None => false,
    }
}

/// The gateway of a resource id: an ARN `arn:aws:ec2:…:natgateway/nat-…` or the bare id.
pub fn gateway_of(resource: &str) -> Option<&str> {
    let id = resource.rsplit('/').next()?;
    is_id(id, "nat").then_some(id)
}

/// An instant of a bill: `2026-09-01T00:00:00Z`, with milliseconds, a space for `T`, or an
/// offset `+HH:MM`; seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let base = crate::time::parse_instant(&s.get(..19)?.replace(' ', "T"))?;
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        r => {
            let (sign, hm) = match r.as_bytes().first()? {
                b'+' => (1, &r[1..]),
                b'-' => (-1, &r[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':').unwrap_or((hm.get(..2)?, hm.get(2..)?));
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(base - offset)
}

/// Reads one file's rows into a [`Bill`]: built from its header, it says which columns it
/// needs; each row's cells come in that order.
pub struct BillReader<'b> {
    bill: &'b mut Bill,
    /// Header index of each column of [`COLS`], if the file has it.
    at: [Option<usize>; COLS.len()],
    file: String,
}

/// What is wrong with a row, for the error that names it.
pub type RowError = String;

/// A row's cells, in the order of [`BillReader::columns`], read by column.
struct Row<'r, 'c>(&'r [Cell<'c>]);

impl Row<'_, '_> {
    /// A text cell's text, where it has some.
    fn text(&self, c: Col) -> Option<&str> {
        match self.0.get(c as usize) {
            Some(Cell::Text(s)) if !s.is_empty() => Some(*s),
            _ => None,
        }
    }

    /// A number of at least `least`, finite and below 10^15: an empty or missing cell is
    /// zero (CSV writes a null so), a text is parsed; else the column's name in the error.
    fn amount(&self, c: Col, least: f64) -> Result<f64, String> {
        let v = match self.0.get(c as usize) {
            Some(Cell::Num(v)) => Some(*v),
            Some(Cell::Text(s)) if s.trim().is_empty() => Some(0.0),
            Some(Cell::Text(s)) => s.trim().parse::<f64>().ok(),
            Some(Cell::Null) | None => Some(0.0),
            Some(Cell::Time(_)) => None,
        };
        v.filter(|v| v.is_finite() && *v >= least && v.abs() < 1e15)
            .ok_or_else(|| format!("{} is not a usage amount or cost", names(c)[0]))
    }

    /// A time cell (a Parquet timestamp, or a date or instant in text) as epoch seconds.
    fn time(&self, c: Col) -> Option<i64> {
        match self.0.get(c as usize) {
            Some(Cell::Time(t)) => Some(*t),
            Some(Cell::Text(s)) => parse_time(s),
            _ => None,
        }
    }

    /// The row's usage: a discount row's cost (negative, so any sign) as money off, else the
    /// GB, the cost and the discount written beside them (AWS writes it negative; either sign
    /// is taken as money off).
    fn usage(&self, discount: bool) -> Result<Usage, String> {
        Ok(match discount {
            true => Usage {
                gb: 0.0,
                cost: -self.amount(Col::Cost, f64::NEG_INFINITY)?,
                off: 0.0,
            },
            false => Usage {
                gb: self.amount(Col::Amount, 0.0)?,
                cost: self.amount(Col::Cost, 0.0)?,
                off: self.amount(Col::Discount, f64::NEG_INFINITY)?.abs(),
            },
        })
    }
}

impl<'b> BillReader<'b> {
    /// Start reading a file with these column names. Refused when the usage type, the usage
    /// amount or the start date cannot be found (not a CUR, Data Exports or FOCUS table).
    pub fn new(bill: &'b mut Bill, file: &str, headers: &[&str]) -> Result<BillReader<'b>, String> {
        let norm: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        let mut at = [None; COLS.len()];
        for (i, c) in COLS.iter().enumerate() {
            at[i] = names(*c)
                .iter()
                .find_map(|n| norm.iter().position(|h| h == n));
        }
        let required = [Col::UsageType, Col::Amount, Col::Start];
        if let Some(missing) = required.iter().find(|c| at[**c as usize].is_none()) {
            return Err(format!(
                "no {} column: not a Cost and Usage Report (CUR 2.0, legacy CUR) or FOCUS export",
                names(*missing)[0]
            ));
        }
        let dialect = if headers.iter().any(|h| h.contains('/')) {
            Dialect::LegacyCsv
        } else if norm.iter().any(|h| h == "x_usage_type") {
            Dialect::Focus
        } else {
            Dialect::Cur
        };
        if !bill.dialects.contains(&dialect) {
            bill.dialects.push(dialect);
        }
        bill.resource_ids |= at[Col::ResourceId as usize].is_some();
        bill.files.push(file.to_string());
        Ok(BillReader {
            bill,
            at,
            file: file.to_string(),
        })
    }

    /// The header index of the usage type: a reader may look at it first and skip the rows
    /// that are not NAT data processing without reading their other cells.
    pub fn usage_type_column(&self) -> usize {
        self.at[Col::UsageType as usize].expect("checked in new")
    }

    /// The header indexes of the columns read, in the order [`BillReader::row`] takes them.
    pub fn columns(&self) -> Vec<Option<usize>> {
        self.at.to_vec()
    }

    /// Count a row that is not NAT data processing (its usage type said so).
    pub fn skip(&mut self) {
        self.bill.rows += 1;
    }

    /// One row, its cells in the order of [`BillReader::columns`]; `line` names it in errors.
    pub fn row(&mut self, line: u64, cells: &[Cell<'_>]) -> Result<(), RowError> {
        self.bill.rows += 1;
        let row = Row(cells);
        let Some(usage_type) = row.text(Col::UsageType) else {
            return Ok(());
        };
        if !is_nat_bytes(usage_type) {
            return Ok(());
        }
        let kind = row.text(Col::ItemType).unwrap_or("Usage");
        let discount = is_discount(kind);
        if !discount && !matches!(kind, "Usage" | "DiscountedUsage") {
            self.bill.other_nat_rows += 1;
            return Ok(());
        }
        // (the source stage names the file of an error; a row's is its number)
        let bad = |what: &str| format!("row {line}: {what}");
        let usage = row.usage(discount).map_err(|what| bad(&what))?;
        let start = row
            .time(Col::Start)
            .ok_or_else(|| bad("no usage start date"))?;
        let end = (row.time(Col::End))
            .filter(|e| *e > start)
            .unwrap_or(start + 3600);
        self.currency(row.text(Col::Currency), line)?;
        if discount {
            self.bill.discount_rows += 1;
            self.bill.discounts.add(start, end, usage);
            return Ok(());
        }
        self.bill.nat_rows += 1;
        self.bill.discounted_rows += u64::from(usage.off > 0.0);
        self.billed(&row).add(start, end, usage);
        if end - start <= 86_400 {
            self.bill.rows_end = Some(self.bill.rows_end.map_or(end, |e| e.max(end)));
        }
        Ok(())
    }

    /// Where a NAT usage row's bytes are billed: its gateway, by the resource id, or else its
    /// account and region, unattributed.
    fn billed(&mut self, row: &Row<'_, '_>) -> &mut Billed {
        match row.text(Col::ResourceId).and_then(gateway_of) {
            Some(g) => self.bill.gateways.entry(g.to_string()).or_default(),
            None => {
                let key = format!(
                    "{}/{}",
                    row.text(Col::Account).unwrap_or("?"),
                    row.text(Col::Region).unwrap_or("?")
                );
                self.bill.unattributed.entry(key).or_default()
            }
        }
    }

    /// Check a NAT usage row's currency against the bill's.
    fn currency(&mut self, cell: Option<&str>, line: u64) -> Result<(), RowError> {
        let Some(cell) = cell.filter(|c| !c.trim().is_empty()) else {
            self.bill.rows_without_currency += 1;
            return Ok(());
        };
        let Some(code) = Currency::parse(cell) else {
            return Err(format!(
                "row {line}: currency `{}` is not a currency code (three letters, such as USD)",
                cell.escape_debug()
            ));
        };
        match &self.bill.currency {
            None => self.bill.currency = Some((code, format!("{}: row {line}", self.file))),
            Some((first, _)) if *first == code => {}
            Some((first, first_at)) => {
                return Err(format!(
                    "row {line}: NAT processing billed in {code}, but in {first} at {first_at}: amounts in two currencies cannot be added (give the bill of one payer)"
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_amounts_are_read_from_numbers_and_text_within_bounds() {
        // cells by column: usage type, resource, start, end, amount, cost, item type, …
        let cells = [
            Cell::Text("USE1-NatGateway-Bytes"),
            Cell::Null,
            Cell::Time(1_756_684_800),
            Cell::Text("2025-09-01T01:00:00Z"),
            Cell::Text(" 1.5 "),
            Cell::Num(0.0675),
            Cell::Text(""),
            Cell::Time(7),
            Cell::Num(-2.0),
            Cell::Text("USD"),
            Cell::Num(-0.01),
        ];
        let row = Row(&cells);
        assert_eq!(row.text(Col::UsageType), Some("USE1-NatGateway-Bytes"));
        assert_eq!(row.text(Col::ItemType), None, "an empty text is none");
        assert_eq!(row.amount(Col::Amount, 0.0), Ok(1.5));
        assert_eq!(row.amount(Col::ItemType, 0.0), Ok(0.0), "empty: a null");
        assert_eq!(row.amount(Col::ResourceId, 0.0), Ok(0.0));
        assert_eq!(
            row.amount(Col::Account, 0.0),
            Err("line_item_usage_account_id is not a usage amount or cost".into()),
            "a time is no amount"
        );
        assert!(row.amount(Col::Region, 0.0).is_err(), "below the least");
        assert_eq!(row.amount(Col::Region, f64::NEG_INFINITY), Ok(-2.0));
        assert_eq!(row.time(Col::Start), Some(1_756_684_800));
        assert_eq!(row.time(Col::End), Some(1_756_688_400));
        assert_eq!(row.time(Col::Amount), None);
        let usage = row.usage(false).unwrap();
        assert_eq!((usage.gb, usage.cost, usage.off), (1.5, 0.0675, 0.01));
        // a discount row: its (negative) cost is money off
        let usage = Row(&[
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Num(-0.5),
        ])
        .usage(true)
        .unwrap();
        assert_eq!((usage.gb, usage.cost, usage.off), (0.0, 0.5, 0.0));
        let huge = [
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Num(1e16),
        ];
        assert!(Row(&huge).usage(false).is_err());
        let nan = [
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Text("NaN"),
        ];
        assert!(Row(&nan).usage(false).is_err());
    }

    #[test]
    fn headers_of_the_three_exports_name_the_same_columns() {
        assert_eq!(normalise("lineItem/UsageType"), "line_item_usage_type");
        assert_eq!(normalise("line_item_usage_type"), "line_item_usage_type");
        assert_eq!(normalise("x_UsageType"), "x_usage_type");
        assert_eq!(normalise("ConsumedQuantity"), "consumed_quantity");
        assert_eq!(normalise("SubAccountId"), "sub_account_id");
        assert_eq!(normalise("product/region"), "product_region");
        assert_eq!(
            normalise("lineItem/UsageStartDate"),
            "line_item_usage_start_date"
        );
        assert_eq!(
            normalise("lineItem/UnblendedCost"),
            "line_item_unblended_cost"
        );
        assert_eq!(
            normalise("discount/TotalDiscount"),
            "discount_total_discount"
        );
    }

    #[test]
    fn nat_usage_types_and_gateways() {
        for t in [
            "NatGateway-Bytes",
            "EUW1-NatGateway-Bytes",
            "USE2-NatGateway-Bytes",
            "APN1-NatGateway-Bytes",
        ] {
            assert!(is_nat_bytes(t), "{t}");
        }
        for t in [
            "NatGateway-Hours",
            "EUW1-NatGateway-Hours",
            "DataTransfer-Out-Bytes",
            "euw1-NatGateway-Bytes",
            "-NatGateway-Bytes",
            "X-Y-NatGateway-Bytes",
        ] {
            assert!(!is_nat_bytes(t), "{t}");
        }
        assert_eq!(
            gateway_of("arn:aws:ec2:eu-west-1:111122223333:natgateway/nat-0a1b2c3d4e5f60718"),
            Some("nat-0a1b2c3d4e5f60718")
        );
        assert_eq!(
            gateway_of("nat-0a1b2c3d4e5f60718"),
            Some("nat-0a1b2c3d4e5f60718")
        );
        assert_eq!(
            gateway_of("arn:aws:ec2:eu-west-1:1:natgateway/nat-<x>"),
            None
        );
        assert_eq!(gateway_of("i-0a1b2c3d4e5f60718"), None);
    }

    #[test]
    fn bill_instants() {
        let t = 1_788_220_800; // 2026-09-01
        assert_eq!(parse_time("2026-09-01T00:00:00Z"), Some(t));
        assert_eq!(parse_time("2026-09-01T00:00:00.000Z"), Some(t));
        assert_eq!(parse_time("2026-09-01 01:00:00"), Some(t + 3600));
        assert_eq!(parse_time("2026-09-01T02:00:00+02:00"), Some(t));
        assert_eq!(parse_time("2026-09-01T00:00:00-0100"), Some(t + 3600));
        assert_eq!(parse_time("2026-09-01"), None);
        assert_eq!(parse_time("2026-09-01T00:00:00+25:00"), None);
    }

    #[test]
    fn rows_go_to_their_gateway_and_day_and_others_are_left_out() {
        let mut bill = Bill::default();
        let headers = [
            "lineItem/UsageType",
            "lineItem/ResourceId",
            "lineItem/UsageStartDate",
            "lineItem/UsageEndDate",
            "lineItem/UsageAmount",
            "lineItem/UnblendedCost",
            "lineItem/LineItemType",
            "lineItem/UsageAccountId",
            "product/region",
        ];
        let mut r = BillReader::new(&mut bill, "cur.csv", &headers).unwrap();
        let read: Vec<_> = (0..9).map(Some).chain([None, None]).collect();
        assert_eq!(r.columns(), read, "no currency or discount column");
        let arn = "arn:aws:ec2:eu-west-1:111122223333:natgateway/nat-0a1b2c3d4e5f60718";
        let nat = "EUW1-NatGateway-Bytes";
        // (usage type, resource, start, end, GB, line item type, whether the row reads)
        #[rustfmt::skip]
        let rows = [
            (nat, arn, "2026-09-01T10:00:00Z", "2026-09-01T11:00:00Z", "10", "Usage", true),
            (nat, arn, "2026-09-01T11:00:00Z", "2026-09-01T12:00:00Z", "5", "Usage", true),
            (nat, arn, "2026-09-01T11:00:00Z", "2026-09-01T12:00:00Z", "5", "Credit", true),
            ("EUW1-NatGateway-Hours", arn, "2026-09-01T11:00:00Z", "", "1", "Usage", true),
            (nat, "", "2026-09-02T00:00:00Z", "2026-09-03T00:00:00Z", "7", "Usage", true),
            (nat, arn, "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "70", "Usage", true),
            (nat, arn, "2026-09-01T00:00:00Z", "", "-1", "Usage", false),
            (nat, arn, "yesterday", "", "1", "Usage", false),
        ];
        for (i, (ut, res, start, end, gb, kind, reads)) in rows.into_iter().enumerate() {
            let line = i as u64 + 2;
            let cells = [
                ut,
                res,
                start,
                end,
                gb,
                "0.45",
                kind,
                "111122223333",
                "eu-west-1",
            ];
            match r.row(line, &cells.map(Cell::Text)) {
                Ok(()) => assert!(reads, "row {line} read"),
                Err(e) => {
                    assert!(!reads, "row {line}: {e}");
                    assert!(e.starts_with(&format!("row {line}: ")), "{e}");
                }
            }
        }
        let g = &bill.gateways["nat-0a1b2c3d4e5f60718"];
        let day = 1_788_220_800 / 86_400;
        assert_eq!(
            g.days[&day],
            Usage {
                gb: 15.0,
                cost: 0.9,
                off: 0.0
            }
        );
        assert_eq!(g.spans.len(), 1, "a monthly row covers no one day");
        assert_eq!(
            bill.unattributed["111122223333/eu-west-1"].days[&(day + 1)].gb,
            7.0
        );
        assert_eq!((bill.nat_rows, bill.other_nat_rows), (4, 1));
        // how far the rows of a day or less go (not the monthly row's end)
        assert_eq!(bill.rows_end, Some((day + 2) * 86_400));
        assert_eq!(bill.dialects, [Dialect::LegacyCsv]);
        assert!(bill.resource_ids);
    }

    /// A NAT processing row of 2026-09-01 in the order of `COLS`: the amount, cost, line item
    /// type and currency given (an empty one null, as a column the file lacks).
    fn nat_row<'a>(
        amount: &'a str,
        cost: &'a str,
        kind: &'a str,
        currency: &'a str,
    ) -> [Cell<'a>; 10] {
        let t = |v: &'a str| {
            if v.is_empty() {
                Cell::Null
            } else {
                Cell::Text(v)
            }
        };
        let n = Cell::Null;
        let start = t("2026-09-01T00:00:00Z");
        [
            t("NatGateway-Bytes"),
            n,
            start,
            n,
            t(amount),
            t(cost),
            t(kind),
            n,
            n,
            t(currency),
        ]
    }

    #[test]
    fn the_bill_has_one_currency_or_is_refused() {
        assert_eq!(Currency::parse(" inr "), Some(Currency(*b"INR")));
        for bad in ["US$", "US", "USDX", "", "€UR", "1SD"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
        // the three exports' names for it
        for header in [
            "line_item_currency_code",
            "lineItem/CurrencyCode",
            "BillingCurrency",
        ] {
            let mut bill = Bill::default();
            let headers = [
                "line_item_usage_type",
                "line_item_usage_start_date",
                "line_item_usage_amount",
                "line_item_line_item_type",
                header,
            ];
            let mut r = BillReader::new(&mut bill, "b.csv", &headers).unwrap();
            let row = |kind, currency| nat_row("1", "", kind, currency);
            r.row(2, &row("Usage", "INR")).unwrap();
            r.row(3, &row("DiscountedUsage", "inr")).unwrap();
            r.row(4, &row("Usage", "")).unwrap();
            // a credit is not taken, so its currency is not checked
            r.row(5, &row("Credit", "USD")).unwrap();
            let e = r.row(6, &row("Usage", "USD")).unwrap_err();
            assert!(e.starts_with("row 6: ") && e.contains("in USD"), "{e}");
            assert!(e.contains("in INR at b.csv: row 2"), "{e}");
            let e = r.row(7, &row("Usage", "<b>")).unwrap_err();
            assert!(e.contains("row 7: currency `<b>` is not"), "{e}");
            let first = Some((Currency(*b"INR"), "b.csv: row 2".to_string()));
            assert_eq!(bill.currency, first, "{header}");
            assert_eq!((bill.nat_rows, bill.rows_without_currency), (3, 1));
        }
        // JSON: the code as written, and nothing else
        let c: Currency = serde_json::from_str("\"EUR\"").unwrap();
        assert_eq!(c.to_string(), "EUR");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"EUR\"");
        assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    }

    /// The columns of [`nat_row`]'s cells that the discount tests read.
    const USAGE_HEADERS: [&str; 5] = [
        "line_item_usage_type",
        "line_item_usage_start_date",
        "line_item_usage_amount",
        "line_item_unblended_cost",
        "line_item_line_item_type",
    ];

    #[test]
    fn a_usage_rows_own_discount_is_kept_with_its_usage() {
        let mut bill = Bill::default();
        let mut headers = USAGE_HEADERS.to_vec();
        headers.push("discount/TotalDiscount");
        let mut r = BillReader::new(&mut bill, "d.csv", &headers).unwrap();
        let row = |off| {
            let mut cells = nat_row("10", "0.45", "Usage", "").to_vec();
            cells.push(off);
            cells
        };
        r.row(2, &row(Cell::Text("-0.045"))).unwrap();
        r.row(3, &row(Cell::Text(" "))).unwrap();
        r.row(4, &row(Cell::Num(0.1))).unwrap();
        assert!(r.row(5, &row(Cell::Text("lots"))).is_err());
        let day = 1_788_220_800 / 86_400;
        let u = bill.unattributed["?/?"].days[&day];
        assert_eq!((u.gb, u.cost), (30.0, 1.35));
        assert!(
            (u.off - 0.145).abs() < 1e-12,
            "either sign taken off: {u:?}"
        );
        let counts = (bill.nat_rows, bill.discounted_rows, bill.discount_rows);
        assert_eq!(counts, (3, 2, 0));
        assert!(
            bill.discounts.days.is_empty(),
            "kept with the usage, not apart"
        );
    }

    #[test]
    fn discounts_on_nat_processing_are_kept_apart_as_amounts_taken_off() {
        let mut bill = Bill::default();
        let mut r = BillReader::new(&mut bill, "d.csv", &USAGE_HEADERS).unwrap();
        let row = |cost, kind| nat_row("10", cost, kind, "");
        r.row(2, &row("0.45", "Usage")).unwrap();
        r.row(3, &row("-0.045", "EdpDiscount")).unwrap();
        r.row(4, &row("-0.4", "BundledDiscount")).unwrap();
        r.row(5, &row("-0.1", "Credit")).unwrap();
        // a usage row's cost is never negative, and no amount is beyond reason
        assert!(r.row(6, &row("-0.45", "Usage")).is_err());
        assert!(r.row(7, &row("-9.3e18", "EdpDiscount")).is_err());
        let day = 1_788_220_800 / 86_400;
        assert_eq!(bill.discounts.days[&day].cost, 0.445);
        assert_eq!(bill.discounts.days[&day].gb, 0.0, "no usage in a discount");
        assert_eq!(
            (bill.nat_rows, bill.discount_rows, bill.other_nat_rows),
            (1, 2, 1)
        );
        assert!(is_discount("PrivateRateDiscount") && !is_discount("DiscountedUsage"));
    }

    #[test]
    fn a_table_without_usage_columns_is_refused() {
        let mut bill = Bill::default();
        let e = BillReader::new(&mut bill, "x.csv", &["a", "b"])
            .err()
            .unwrap();
        assert!(e.contains("line_item_usage_type"), "{e}");
        let focus = [
            "x_UsageType",
            "ConsumedQuantity",
            "ChargePeriodStart",
            "ResourceId",
            "BilledCost",
            "ChargeCategory",
        ];
        assert!(BillReader::new(&mut bill, "f.parquet", &focus).is_ok());
        assert_eq!(bill.dialects, [Dialect::Focus]);
    }
}
