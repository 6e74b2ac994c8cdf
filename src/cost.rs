//! Cost stage: turns integer bytes into money with a dated per-region price table
//! (ACCOUNTING.md §6). Bytes stay integers up to here; this is the only stage with floats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, ClassBytes};

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
    /// gateway's logs cover (this is the data's whole span), never from `period_days`.
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
    /// The NAT data-processing charge of `bytes` of the period, and per 30 days at the rate
    /// of the days the logs cover.
    pub fn nat_money(&self, bytes: u64) -> Money {
        let period = bytes as f64 / self.gb_unit.bytes() * self.prices.nat_per_gb;
        let scale = match self.covered_days > 0.0 {
            true => 30.0 / self.covered_days,
            false => 0.0,
        };
        Money {
            period,
            per_30_days: period * scale,
        }
    }
}

/// Errors choosing prices.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("the price table has no prices for region `{0}`: pass --prices FILE with that region, or --nat-price-per-gb")]
    NoRegion(String),
}

/// Price the analysis.
pub fn price(
    a: &Analysis,
    table: &PriceTable,
    region: &str,
    nat_per_gb_override: Option<f64>,
    unit: GbUnit,
) -> Result<Cost, CostError> {
    let mut p = match table.regions.get(region) {
        Some(p) => p.clone(),
        None => match nat_per_gb_override {
            // Without the region in the table, only the NAT figures can be priced.
            Some(_) => RegionPrices {
                nat_per_hour: 0.0,
                nat_per_gb: 0.0,
                endpoint_per_az_hour: 0.0,
                endpoint_per_gb: 0.0,
                cross_az_per_gb_each_way: 0.0,
            },
            None => return Err(CostError::NoRegion(region.to_string())),
        },
    };
    if let Some(v) = nat_per_gb_override {
        p.nat_per_gb = v;
    }
    let days = a.period.days;
    let covered = a.period.covered_days;
    let scale = if covered > 0.0 { 30.0 / covered } else { 0.0 };
    let gb = |b: f64| b / unit.bytes();
    let money = |period: f64| Money {
        period,
        per_30_days: period * scale,
    };
    // Bytes per 30 days, projected per NAT gateway from the time its own logs cover (one
    // gateway logged all month and one for a day each project from their own span).
    let per_30 = |of: &dyn Fn(&ClassBytes) -> u64, all: u64| -> f64 {
        if a.gateways.is_empty() {
            return all as f64 * scale;
        }
        a.gateways
            .iter()
            .map(|g| {
                let d = g.covered_seconds as f64 / 86_400.0;
                of(&g.classes) as f64 * if d > 0.0 { 30.0 / d } else { scale }
            })
            .sum()
    };
    let nat_of = |of: &dyn Fn(&ClassBytes) -> u64, all: u64| Money {
        period: gb(all as f64) * p.nat_per_gb,
        per_30_days: gb(per_30(of, all)) * p.nat_per_gb,
    };
    let mut by_class = BTreeMap::new();
    for c in crate::classify::Class::ALL {
        by_class.insert(
            c.name().to_string(),
            nat_of(&|g| g.get(c).total(), a.classes.get(c).total()),
        );
    }
    let s3 = nat_of(&|g| g.s3.total(), a.classes.s3.total());
    // ECR layers are part of the S3 class: projected as S3 is
    let ecr_period = gb(a.ecr.bytes as f64) * p.nat_per_gb;
    let ecr = Money {
        period: ecr_period,
        per_30_days: if s3.period > 0.0 {
            ecr_period * s3.per_30_days / s3.period
        } else {
            0.0
        },
    };
    let azs = {
        let mut z: Vec<&str> = a.gateways.iter().filter_map(|g| g.az.as_deref()).collect();
        z.sort();
        z.dedup();
        (z.len().max(a.gateways.len().min(1)).max(1)) as u32
    };
    let other_gb_month = gb(per_30(
        &|g| g.aws_other.total(),
        a.classes.aws_other.total(),
    ));
    let endpoint_fixed = p.endpoint_per_az_hour * azs as f64 * MONTH_HOURS;
    let margin = p.nat_per_gb - p.endpoint_per_gb;
    Ok(Cost {
        region: region.to_string(),
        price_table_date: table.date.clone(),
        price_table_source: table.source.clone(),
        gb_unit: unit,
        gb_definition: unit.name().to_string(),
        period_days: days,
        covered_days: covered,
        nat_processing: nat_of(&|g| g.total(), a.total),
        by_class,
        s3_gateway_endpoint_savings: s3,
        dynamodb_gateway_endpoint_savings: nat_of(
            &|g| g.dynamodb.total(),
            a.classes.dynamodb.total(),
        ),
        ecr_layer_share_of_savings: ecr,
        interface_endpoint: InterfaceBreakEven {
            azs,
            aws_other_gb_per_30_days: other_gb_month,
            endpoint_cost_per_30_days: endpoint_fixed + other_gb_month * p.endpoint_per_gb,
            nat_cost_removed_per_30_days: other_gb_month * p.nat_per_gb,
            break_even_gb_per_30_days: (margin > 0.0).then(|| endpoint_fixed / margin),
        },
        cross_az: money(gb(a.cross_az.bytes as f64) * p.cross_az_per_gb_each_way * 2.0),
        prices: p,
    })
}
