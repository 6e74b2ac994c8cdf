//! Cost stage: turns integer bytes into money with a dated per-region price table
//! (ACCOUNTING.md §6). Bytes stay integers up to here; this is the only stage with floats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, ClassBytes, Gateway};

/// The price table shipped with the binary.
pub const EMBEDDED: &str = include_str!("../data/prices.json");

/// Hours in the 30-day month used for projections.
pub const MONTH_HOURS: f64 = 720.0;

/// Prices of one region, USD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    pub nat_per_hour: f64,
    pub nat_per_gb: f64,
    pub endpoint_per_az_hour: f64,
    pub endpoint_per_gb: f64,
    pub cross_az_per_gb_each_way: f64,
}

/// A dated price table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub source: String,
    pub date: String,
    pub regions: BTreeMap<String, RegionPrices>,
}

/// Every price is below this, USD per GB or per hour (thousands of times AWS's list prices):
/// a price at or above it, below zero or not a number is a typo, and would make the savings
/// negative or infinite.
pub const MAX_PRICE: f64 = 1000.0;

impl PriceTable {
    pub fn embedded() -> PriceTable {
        serde_json::from_str(EMBEDDED).expect("the embedded price table is valid")
    }

    /// Why the table cannot price a report, if it cannot: a price below zero, not below
    /// [`MAX_PRICE`] or not a number (the first by region and name).
    pub fn check(&self) -> Result<(), String> {
        for (region, p) in &self.regions {
            for (name, v) in [
                ("nat_per_hour", p.nat_per_hour),
                ("nat_per_gb", p.nat_per_gb),
                ("endpoint_per_az_hour", p.endpoint_per_az_hour),
                ("endpoint_per_gb", p.endpoint_per_gb),
                ("cross_az_per_gb_each_way", p.cross_az_per_gb_each_way),
            ] {
                if !(0.0..MAX_PRICE).contains(&v) {
                    // (1e300 as such, not as its 301 digits)
                    let v = match v.abs() < 1e6 {
                        true => v.to_string(),
                        false => format!("{v:e}"),
                    };
                    return Err(format!(
                        "{region}: {name} is {v}, not a price between 0 and {MAX_PRICE} USD"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a "GB" is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GbUnit {
    /// 2^30 bytes: the unit AWS uses when it bills data ("GB" on the bill).
    Gib,
    /// 10^9 bytes.
    Gb,
}

impl GbUnit {
    pub fn bytes(self) -> f64 {
        match self {
            GbUnit::Gib => 1_073_741_824.0,
            GbUnit::Gb => 1_000_000_000.0,
        }
    }
    /// The unit of a volume in this convention, as the tables print sizes.
    pub fn volume_unit(self) -> &'static str {
        match self {
            GbUnit::Gib => "GiB",
            GbUnit::Gb => "GB",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            GbUnit::Gib => "GB = 2^30 bytes (as AWS bills data)",
            GbUnit::Gb => "GB = 10^9 bytes",
        }
    }
}

/// Money for one period and per 30-day month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub period: f64,
    pub per_30_days: f64,
}

/// Interface endpoint break-even for `aws-other` traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceBreakEven {
    pub azs: u32,
    pub aws_other_gb_per_30_days: f64,
    /// One interface endpoint in `azs` AZs for 30 days, plus its per-GB charge.
    pub endpoint_cost_per_30_days: f64,
    pub nat_cost_removed_per_30_days: f64,
    /// Monthly GB through one endpoint above which it is cheaper than the NAT (none when
    /// the endpoint's per-GB price is not below the NAT's).
    pub break_even_gb_per_30_days: Option<f64>,
}

/// The price NAT data processing was costed at: per GB, in the region of the report's
/// prices, and what a GB was. Two periods costed at different prices (a price override in one,
/// another `--gb-unit`, another region) differ in cost by more than their traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatPrice {
    pub region: String,
    pub per_gb: f64,
    pub gb_unit: GbUnit,
}

impl NatPrice {
    pub fn of(c: &Cost) -> NatPrice {
        NatPrice {
            region: c.region.clone(),
            per_gb: c.prices.nat_per_gb,
            gb_unit: c.gb_unit,
        }
    }

    /// Where `other` is another price: that said, `self` being `this`'s and `other` being
    /// `that`'s (a period, a side).
    pub fn differs(&self, this: &str, other: &NatPrice, that: &str) -> Option<String> {
        (self != other).then(|| format!(
            "NAT prices differ: {this} was costed at {self}, {that} at {other}; the change in cost is not the change in traffic alone."
        ))
    }
}

impl std::fmt::Display for NatPrice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gb = match self.gb_unit {
            GbUnit::Gib => "2^30",
            GbUnit::Gb => "10^9",
        };
        write!(
            f,
            "${} per GB of {gb} bytes in {}",
            self.per_gb, self.region
        )
    }
}

/// The cost section of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    pub region: String,
    pub prices: RegionPrices,
    pub price_table_date: String,
    pub price_table_source: String,
    pub gb_unit: GbUnit,
    pub gb_definition: String,
    pub period_days: f64,
    /// The days the logs cover: per-30-day figures project from the time each NAT
    /// gateway's logs cover (this is the data's whole span), never from `period_days`; 0
    /// where the records, or the NAT gateways' records, are all REJECT over an hour or more
    /// (no traffic that passed to project from: [`crate::analysis::shows_no_accepted_traffic`]).
    #[serde(default)]
    pub covered_days: f64,
    /// NAT data-processing charge of all counted bytes.
    pub nat_processing: Money,
    pub by_class: BTreeMap<String, Money>,
    pub s3_gateway_endpoint_savings: Money,
    pub dynamodb_gateway_endpoint_savings: Money,
    pub ecr_layer_share_of_savings: Money,
    pub interface_endpoint: InterfaceBreakEven,
    pub cross_az: Money,
}

impl Cost {
    /// Whether the per-30-day figures project from anything: the logs cover some time. Where
    /// they cover none, every `per_30_days` is 0, which is no figure (reports say `unknown`).
    pub fn projects(&self) -> bool {
        per_30_days(self.covered_days).is_some()
    }

    /// The NAT data-processing charge of `bytes` of the period, and per 30 days at the rate
    /// of the days the logs cover.
    pub fn nat_money(&self, bytes: u64) -> Money {
        let period = bytes as f64 / self.gb_unit.bytes() * self.prices.nat_per_gb;
        Money {
            period,
            per_30_days: period * per_30_days(self.covered_days).unwrap_or(0.0),
        }
    }
}

/// What an amount over `covered` days is multiplied by for 30 days; none when the logs cover
/// no time.
fn per_30_days(covered: f64) -> Option<f64> {
    (covered > 0.0).then(|| 30.0 / covered)
}

/// Errors choosing prices.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("the price table has no prices for region `{0}`: pass --prices FILE with that region, or --nat-price-per-gb")]
    NoRegion(String),
    #[error("the NAT gateways carried bytes in regions priced differently ({}): a report is priced in one region, so its dollars would be wrong for the others; analyse each region's logs apart (under AWSLogs/<account>/vpcflowlogs/<region>/, or aws-region=<region>, for each)", said_regions(.0))]
    RegionsPricedApart(Vec<(String, u64, RegionPrices)>),
}

/// Regions, their NAT gateways' bytes and their prices, as the error names them.
fn said_regions(regions: &[(String, u64, RegionPrices)]) -> String {
    let said: Vec<String> = (regions.iter())
        .map(|(r, bytes, p)| {
            format!(
                "{r}: {} of NAT bytes at ${}/GB, interface endpoints ${}/AZ-hour",
                crate::report::human(*bytes),
                p.nat_per_gb,
                p.endpoint_per_az_hour
            )
        })
        .collect();
    said.join("; ")
}

/// The prices of every region whose NAT gateways carried bytes, beside the report's own
/// (`region`, `p`): all one, or [`CostError::RegionsPricedApart`] naming them (a report
/// has one set of prices; a region's bytes priced at another's would be wrong money), or
/// [`CostError::NoRegion`] for one the table lacks. Gateways of no region are the report's.
fn one_price_for_all(
    a: &Analysis,
    table: &PriceTable,
    (region, p): (&str, &RegionPrices),
    nat_per_gb_override: Option<f64>,
) -> Result<(), CostError> {
    let mut bytes: BTreeMap<&str, u64> = BTreeMap::new();
    for g in a.gateways.iter().filter(|g| g.total > 0) {
        *bytes
            .entry(g.region.as_deref().unwrap_or(region))
            .or_insert(0) += g.total;
    }
    let mut regions = Vec::with_capacity(bytes.len());
    for (r, b) in bytes {
        let prices = match r == region {
            true => p.clone(),
            false => region_prices(table, r, nat_per_gb_override)?,
        };
        regions.push((r.to_string(), b, prices));
    }
    match regions.iter().all(|(_, _, q)| q == p) {
        true => Ok(()),
        false => Err(CostError::RegionsPricedApart(regions)),
    }
}

/// Price the analysis: each class's NAT data processing, the gateway endpoints' savings and
/// the ECR layers' share of them, the interface endpoints' break-even and cross-AZ traffic,
/// for the period and projected per 30 days ([`Projection`]).
pub fn price(
    a: &Analysis,
    table: &PriceTable,
    region: &str,
    nat_per_gb_override: Option<f64>,
    unit: GbUnit,
) -> Result<Cost, CostError> {
    let p = region_prices(table, region, nat_per_gb_override)?;
    one_price_for_all(a, table, (region, &p), nat_per_gb_override)?;
    // (records all REJECT, or the NAT gateways' all REJECT, show no traffic that passed: nothing
    // to project from)
    let covered = match crate::analysis::shows_no_accepted_traffic(a) {
        true => 0.0,
        false => a.period.covered_days,
    };
    let at = Projection::new(&a.gateways, covered, unit);
    let by_class = (crate::classify::Class::ALL.into_iter())
        .map(|c| {
            let money = at.nat(&p, &|g| g.get(c).total(), a.classes.get(c).total());
            (c.as_str().to_string(), money)
        })
        .collect();
    let s3 = at.nat(&p, &|g| g.s3.total(), a.classes.s3.total());
    Ok(Cost {
        region: region.to_string(),
        price_table_date: table.date.clone(),
        price_table_source: table.source.clone(),
        gb_unit: unit,
        gb_definition: unit.name().to_string(),
        period_days: a.period.days,
        covered_days: covered,
        nat_processing: at.nat(&p, &|g| g.total(), a.total),
        by_class,
        s3_gateway_endpoint_savings: s3,
        dynamodb_gateway_endpoint_savings: at.nat(
            &p,
            &|g| g.dynamodb.total(),
            a.classes.dynamodb.total(),
        ),
        ecr_layer_share_of_savings: ecr_share(a.ecr.bytes, &s3, &at, &p),
        interface_endpoint: interface_break_even(&at, a.classes.aws_other.total(), &p),
        cross_az: at.whole(at.gb(a.cross_az.bytes as f64) * p.cross_az_per_gb_each_way * 2.0),
        prices: p,
    })
}

/// The prices of `region`, the NAT's per-GB price replaced by `nat_per_gb_override` where
/// given. Without the region in the table only the NAT figures can be priced: with the
/// override, every other price is zero; without it, an error.
fn region_prices(
    table: &PriceTable,
    region: &str,
    nat_per_gb_override: Option<f64>,
) -> Result<RegionPrices, CostError> {
    let mut p = match (table.regions.get(region), nat_per_gb_override) {
        (Some(p), _) => p.clone(),
        (None, Some(_)) => RegionPrices {
            nat_per_hour: 0.0,
            nat_per_gb: 0.0,
            endpoint_per_az_hour: 0.0,
            endpoint_per_gb: 0.0,
            cross_az_per_gb_each_way: 0.0,
        },
        (None, None) => return Err(CostError::NoRegion(region.to_string())),
    };
    if let Some(v) = nat_per_gb_override {
        p.nat_per_gb = v;
    }
    Ok(p)
}

/// How the analysis's bytes become GB and are projected per 30 days: per NAT gateway from
/// the time its own logs cover (one gateway logged all month and one for a day each project
/// from their own span), or, without gateways, from the days the logs cover.
struct Projection<'a> {
    gateways: &'a [Gateway],
    unit: GbUnit,
    /// The days the logs cover.
    covered: f64,
    /// 30 days over the days the logs cover (0 when they cover none).
    scale: f64,
}

impl Projection<'_> {
    /// `covered`: the days the logs cover.
    fn new(gateways: &[Gateway], covered: f64, unit: GbUnit) -> Projection<'_> {
        let scale = per_30_days(covered).unwrap_or(0.0);
        Projection {
            gateways,
            unit,
            covered,
            scale,
        }
    }

    fn gb(&self, bytes: f64) -> f64 {
        bytes / self.unit.bytes()
    }

    /// An amount of the period, and per 30 days at the rate of the days the logs cover.
    fn whole(&self, period: f64) -> Money {
        Money {
            period,
            per_30_days: period * self.scale,
        }
    }

    /// Bytes per 30 days of what `of` takes of each gateway's classes (`all`: of the whole
    /// analysis, projected as a whole where no gateway is known).
    fn per_30(&self, of: &dyn Fn(&ClassBytes) -> u64, all: u64) -> f64 {
        crate::analysis::rate(self.gateways, self.covered, of, all, 30.0)
    }

    /// The NAT data-processing charge of `all` bytes of the period, and of what `of` takes
    /// of the gateways' classes per 30 days.
    fn nat(&self, p: &RegionPrices, of: &dyn Fn(&ClassBytes) -> u64, all: u64) -> Money {
        Money {
            period: self.gb(all as f64) * p.nat_per_gb,
            per_30_days: self.gb(self.per_30(of, all)) * p.nat_per_gb,
        }
    }
}

/// The ECR layers' share of the S3 savings: their `bytes` priced for the period, projected
/// as the S3 class is (they are part of it).
fn ecr_share(bytes: u64, s3: &Money, at: &Projection, p: &RegionPrices) -> Money {
    let period = at.gb(bytes as f64) * p.nat_per_gb;
    Money {
        period,
        per_30_days: match s3.period > 0.0 {
            true => period * s3.per_30_days / s3.period,
            false => 0.0,
        },
    }
}

/// What one interface endpoint in each of the NAT gateways' AZs (at least one) would cost
/// for the `aws-other` traffic (`aws_other`: its bytes of the period) per 30 days, against the
/// NAT charge it would remove, and the monthly volume above which it pays.
fn interface_break_even(at: &Projection, aws_other: u64, p: &RegionPrices) -> InterfaceBreakEven {
    let mut azs: Vec<&str> = (at.gateways.iter())
        .filter_map(|g| g.az.as_deref())
        .collect();
    azs.sort_unstable();
    azs.dedup();
    let azs = azs.len().max(1) as u32;
    let other_gb_month = at.gb(at.per_30(&|g| g.aws_other.total(), aws_other));
    let endpoint_fixed = p.endpoint_per_az_hour * azs as f64 * MONTH_HOURS;
    let margin = p.nat_per_gb - p.endpoint_per_gb;
    InterfaceBreakEven {
        azs,
        aws_other_gb_per_30_days: other_gb_month,
        endpoint_cost_per_30_days: endpoint_fixed + other_gb_month * p.endpoint_per_gb,
        nat_cost_removed_per_30_days: other_gb_month * p.nat_per_gb,
        break_even_gb_per_30_days: (margin > 0.0).then(|| endpoint_fixed / margin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn prices() -> RegionPrices {
        RegionPrices {
            nat_per_hour: 0.045,
            nat_per_gb: 0.045,
            endpoint_per_az_hour: 0.01,
            endpoint_per_gb: 0.01,
            cross_az_per_gb_each_way: 0.01,
        }
    }

    /// A gateway in `az` whose logs cover `covered_seconds`, with `s3` and `aws_other`
    /// download bytes.
    fn gateway(az: Option<&str>, covered_seconds: u64, s3: u64, aws_other: u64) -> Gateway {
        let mut classes = ClassBytes::default();
        classes.s3.download = s3;
        classes.aws_other.download = aws_other;
        Gateway {
            az: az.map(String::from),
            ..crate::analysis::gateway_of("eni-nat", classes, covered_seconds)
        }
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn region_prices_take_the_override_and_refuse_an_unknown_region_without_it() {
        let table = PriceTable {
            source: "test".into(),
            date: "2026-01-01".into(),
            regions: [("us-east-1".to_string(), prices())].into(),
        };
        assert_eq!(region_prices(&table, "us-east-1", None).unwrap(), prices());
        let p = region_prices(&table, "us-east-1", Some(0.06)).unwrap();
        assert_eq!((p.nat_per_gb, p.endpoint_per_gb), (0.06, 0.01));
        // a region the table lacks: only the NAT's price, and only where it is given
        let p = region_prices(&table, "xx-nowhere-1", Some(0.05)).unwrap();
        assert_eq!(
            (
                p.nat_per_gb,
                p.endpoint_per_az_hour,
                p.cross_az_per_gb_each_way
            ),
            (0.05, 0.0, 0.0)
        );
        assert!(matches!(
            region_prices(&table, "xx-nowhere-1", None),
            Err(CostError::NoRegion(r)) if r == "xx-nowhere-1"
        ));
    }

    #[test]
    fn projections_go_per_gateway_from_the_time_each_covers() {
        let s3 = |g: &ClassBytes| g.s3.total();
        // no gateway: the whole, from the days the logs cover
        let at = Projection::new(&[], 2.0, GbUnit::Gib);
        assert!(near(at.per_30(&s3, 4 * GIB), 60.0 * GIB as f64));
        // 2 GiB over two days, 1 GiB over one hour, and a gateway covering no time (the
        // whole's rate): 30, 720 and 15 GiB a month
        let gateways = [
            gateway(None, 2 * 86_400, 2 * GIB, 0),
            gateway(None, 3600, GIB, 0),
            gateway(None, 0, GIB, 0),
        ];
        let at = Projection::new(&gateways, 2.0, GbUnit::Gib);
        assert!(near(
            at.per_30(&s3, 4 * GIB),
            (30.0 + 720.0 + 15.0) * GIB as f64
        ));
        let m = at.nat(&prices(), &s3, 4 * GIB);
        assert!(near(m.period, 4.0 * 0.045) && near(m.per_30_days, 765.0 * 0.045));
        // logs covering no time project nothing; GB of 10^9 bytes
        let at = Projection::new(&[], 0.0, GbUnit::Gb);
        assert_eq!(at.per_30(&s3, GIB), 0.0);
        assert_eq!(
            at.whole(2.0),
            Money {
                period: 2.0,
                per_30_days: 0.0
            }
        );
        assert!(near(at.gb(2e9), 2.0));
    }

    /// Records all REJECT show no traffic that passed: nothing is projected from the time
    /// they cover, where the same time with one accepted record projects.
    #[test]
    fn records_all_rejected_project_nothing() {
        let mut a = crate::report::sample().analysis;
        let table = PriceTable::embedded();
        let priced = |a: &Analysis| price(a, &table, "us-east-1", None, GbUnit::Gib).unwrap();
        assert!(priced(&a).projects());
        let l = &mut a.quality.lines;
        (l.counted, l.rejected) = (0, 12);
        let c = priced(&a);
        assert!(!c.projects());
        assert_eq!(c.covered_days, 0.0);
        assert_eq!(
            a.period.covered_days, 1.0,
            "the time the logs cover is the period's"
        );
    }

    /// A report has one set of prices: NAT gateways that carried bytes in regions priced
    /// differently are refused (their dollars would be wrong), in regions priced alike or
    /// idle elsewhere they are not; a region the table lacks is named.
    #[test]
    fn gateways_in_regions_priced_differently_are_refused() {
        let mut a = crate::report::sample().analysis;
        let table = PriceTable::embedded();
        let priced = |a: &Analysis, o| price(a, &table, "us-east-1", o, GbUnit::Gib);
        assert!(a.gateways.len() >= 2 && a.gateways.iter().all(|g| g.total > 0));
        for g in &a.gateways {
            assert_eq!(g.region.as_deref(), Some("us-east-1"));
        }
        assert!(priced(&a, None).is_ok());
        a.gateways[1].region = Some("us-west-2".into());
        assert!(priced(&a, None).is_ok(), "priced alike");
        a.gateways[1].region = Some("ap-northeast-1".into());
        let e = priced(&a, None).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "the NAT gateways carried bytes in regions priced differently (ap-northeast-1: "
            ),
            "{e}"
        );
        assert!(
            e.contains(" at $0.062/GB, interface endpoints $0.013/AZ-hour; us-east-1: "),
            "{e}"
        );
        assert!(
            e.contains(" at $0.045/GB, interface endpoints $0.01/AZ-hour): "),
            "{e}"
        );
        // one NAT price asked for: the interface endpoints' still differ
        assert!(matches!(
            priced(&a, Some(0.05)),
            Err(CostError::RegionsPricedApart(_))
        ));
        // idle there: nothing of its is priced
        let total = std::mem::take(&mut a.gateways[1].total);
        assert!(priced(&a, None).is_ok(), "no byte in the other region");
        a.gateways[1].total = total;
        a.gateways[1].region = Some("xx-nowhere-1".into());
        let e = priced(&a, None).unwrap_err();
        assert!(
            matches!(&e, CostError::NoRegion(r) if r == "xx-nowhere-1"),
            "{e}"
        );
    }

    #[test]
    fn the_ecr_share_is_projected_as_s3_is() {
        let at = Projection::new(&[], 1.0, GbUnit::Gib);
        let s3 = Money {
            period: 0.45,
            per_30_days: 9.0,
        };
        let ecr = ecr_share(2 * GIB, &s3, &at, &prices());
        assert!(near(ecr.period, 0.09) && near(ecr.per_30_days, 0.09 * 20.0));
        // no S3 bytes in the period: nothing to project from
        let ecr = ecr_share(2 * GIB, &Money::default(), &at, &prices());
        assert!(near(ecr.period, 0.09) && ecr.per_30_days == 0.0);
    }

    #[test]
    fn interface_endpoints_are_one_per_az_of_the_gateways_and_break_even_on_the_margin() {
        // two gateways in one AZ and one in another, a third without an AZ: two AZs
        let gateways = [
            gateway(Some("use1-az1"), 30 * 86_400, 0, 3 * GIB),
            gateway(Some("use1-az1"), 30 * 86_400, 0, 0),
            gateway(Some("use1-az2"), 30 * 86_400, 0, 0),
            gateway(None, 30 * 86_400, 0, 0),
        ];
        let at = Projection::new(&gateways, 30.0, GbUnit::Gib);
        let be = interface_break_even(&at, 3 * GIB, &prices());
        assert_eq!(be.azs, 2);
        assert!(near(be.aws_other_gb_per_30_days, 3.0));
        assert!(near(
            be.endpoint_cost_per_30_days,
            0.01 * 2.0 * 720.0 + 3.0 * 0.01
        ));
        assert!(near(be.nat_cost_removed_per_30_days, 3.0 * 0.045));
        assert!(near(be.break_even_gb_per_30_days.unwrap(), 14.4 / 0.035));
        // no gateway: one AZ; an endpoint not cheaper per GB than the NAT never breaks even
        let at = Projection::new(&[], 30.0, GbUnit::Gib);
        let dear = RegionPrices {
            endpoint_per_gb: 0.045,
            ..prices()
        };
        let be = interface_break_even(&at, 0, &dear);
        assert_eq!((be.azs, be.break_even_gb_per_30_days), (1, None));
    }
}
