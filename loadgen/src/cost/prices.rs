//! The price list and the arithmetic: prices from a data file (region, effective date, source
//! and confidence per rate) applied to a [`Usage`] — API Gateway requests, Lambda requests and
//! GB-seconds (billed duration, INIT included on cold starts), DynamoDB read/write request
//! units, CloudWatch — with the volume tiers. Free tier is valued apart and never subtracted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use local_stack::config::Architecture;
use serde::{Deserialize, Serialize};

use crate::results::cost::{Breakdown, Usage};

/// Built-in price list (`loadgen/prices.toml`).
pub const BUILTIN_PRICES: &str = include_str!("../../prices.toml");

/// Why a price list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a price list.
    #[error("{}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: toml::de::Error,
    },
    /// A number in it is not a price: NaN, infinite, negative or absurdly large.
    #[error("{}: {key} = {value} is not a price or quantity (a finite number from 0 to 1e15); fix it in the file", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// Where in it (dotted keys).
        key: String,
        /// What it holds.
        value: f64,
    },
    /// The list has no prices for the region.
    #[error("no prices for region {region}; the price list has {known:?} (add it with --prices FILE)")]
    Region {
        /// The region asked for.
        region: String,
        /// The regions it has.
        known: Vec<String>,
    },
}

pub use crate::results::cost::MONTH_SECONDS;

/// One rate with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Price in USD per the unit its name says.
    pub usd: f64,
    /// When it took effect (or the date of the agreeing sources).
    pub effective: String,
    /// Where it comes from.
    pub source: String,
    /// H, M or L (see the price file's header).
    pub confidence: String,
}

/// Volume tiers: past `bounds[i]` units a month, the price drops by `discount[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiers {
    /// Tier boundaries, units per month.
    pub bounds: Vec<f64>,
    /// Discount of each tier beyond its boundary (0.10 = 10% off).
    pub discount: Vec<f64>,
    /// Where they come from.
    pub source: String,
    /// Confidence.
    pub confidence: String,
}

impl Tiers {
    /// Cost of `units` a month at `rate` for the first tier.
    pub fn cost(&self, units: f64, rate: f64) -> f64 {
        let mut cost = 0.0;
        let mut lower = 0.0;
        let mut price = rate;
        for (i, bound) in self.bounds.iter().chain(std::iter::once(&f64::INFINITY)).enumerate() {
            let in_tier = (units.min(*bound) - lower).max(0.0);
            cost += in_tier * price;
            lower = *bound;
            if let Some(d) = self.discount.get(i) {
                price = rate * (1.0 - d);
            }
        }
        cost
    }
}

/// Every rate of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionPrices {
    /// Lambda, per million requests.
    pub lambda_requests_per_million: Rate,
    /// Lambda duration, per GB-second, `x86_64` (first tier).
    pub lambda_gb_second_x86_64: Rate,
    /// Lambda duration, per GB-second, arm64 (first tier).
    pub lambda_gb_second_arm64: Rate,
    /// `x86_64` GB-second tiers.
    pub lambda_gb_second_tiers_x86_64: Tiers,
    /// arm64 GB-second tiers.
    pub lambda_gb_second_tiers_arm64: Tiers,
    /// Provisioned concurrency configured, per GB-second, `x86_64`.
    pub lambda_provisioned_concurrency_gb_second_x86_64: Rate,
    /// Provisioned concurrency configured, per GB-second, arm64.
    pub lambda_provisioned_concurrency_gb_second_arm64: Rate,
    /// Duration on provisioned environments, per GB-second, `x86_64`.
    pub lambda_provisioned_duration_gb_second_x86_64: Rate,
    /// Duration on provisioned environments, per GB-second, arm64.
    pub lambda_provisioned_duration_gb_second_arm64: Rate,
    /// HTTP API, per million requests (first 300 M a month).
    pub apigw_http_per_million: Rate,
    /// HTTP API, per million requests past 300 M a month.
    pub apigw_http_per_million_over_300m: Rate,
    /// HTTP API metering increment, KB (a 513 KB request counts twice).
    pub apigw_http_metering_kb: u32,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_read_request_units_per_million: Rate,
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_write_request_units_per_million: Rate,
    /// DynamoDB provisioned capacity, per read capacity unit-hour (a price list without it
    /// cannot price a provisioned table).
    #[serde(default)]
    pub dynamodb_read_capacity_unit_hour: Option<Rate>,
    /// DynamoDB provisioned capacity, per write capacity unit-hour.
    #[serde(default)]
    pub dynamodb_write_capacity_unit_hour: Option<Rate>,
    /// CloudWatch `GetMetricData`, per 1,000 metrics requested.
    pub cloudwatch_get_metric_data_per_1000_metrics: Rate,
    /// CloudWatch Logs ingestion, per GB.
    pub cloudwatch_logs_ingestion_per_gb: Rate,
}

impl RegionPrices {
    /// The first-tier GB-second rate of `arch` and its volume tiers.
    pub fn gb_second(&self, arch: Architecture) -> (&Rate, &Tiers) {
        match arch {
            Architecture::Arm64 => (&self.lambda_gb_second_arm64, &self.lambda_gb_second_tiers_arm64),
            Architecture::X86_64 => (&self.lambda_gb_second_x86_64, &self.lambda_gb_second_tiers_x86_64),
        }
    }

    /// The provisioned rates of `arch`: (configured concurrency, duration on it), per GB-second.
    pub fn provisioned(&self, arch: Architecture) -> (&Rate, &Rate) {
        match arch {
            Architecture::Arm64 => (
                &self.lambda_provisioned_concurrency_gb_second_arm64,
                &self.lambda_provisioned_duration_gb_second_arm64,
            ),
            Architecture::X86_64 => (
                &self.lambda_provisioned_concurrency_gb_second_x86_64,
                &self.lambda_provisioned_duration_gb_second_x86_64,
            ),
        }
    }
}

/// Monthly free tier (shown apart, off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreeTier {
    /// Lambda requests.
    pub lambda_requests: f64,
    /// Lambda GB-seconds.
    pub lambda_gb_seconds: f64,
    /// HTTP API requests (12 months, older accounts only).
    pub apigw_http_requests: f64,
    /// CloudWatch Logs GB.
    pub cloudwatch_logs_gb: f64,
    /// Where it comes from.
    pub source: String,
}

/// The whole price list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Always USD.
    pub currency: String,
    /// When the list was last checked.
    pub checked: String,
    /// Free tier.
    pub free_tier: FreeTier,
    /// By region code.
    pub regions: BTreeMap<String, RegionPrices>,
}

impl Prices {
    /// The built-in list.
    pub fn builtin() -> Prices {
        toml::from_str(BUILTIN_PRICES).expect("the built-in price list parses (tested)")
    }

    /// A list from a file.
    pub fn from_file(path: &Path) -> Result<Prices, PriceError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| PriceError::Read { path: path.to_path_buf(), source })?;
        let prices: Prices =
            toml::from_str(&text).map_err(|source| PriceError::Parse { path: path.to_path_buf(), source })?;
        // Every number is checked once, here: a NaN price would make a results.json that
        // `report` and `compare` then refuse, and a negative one a bill that shrinks with load.
        let value: toml::Value =
            toml::from_str(&text).map_err(|source| PriceError::Parse { path: path.to_path_buf(), source })?;
        match first_bad_number(&value, String::new()) {
            Some((key, value)) => Err(PriceError::Value { path: path.to_path_buf(), key, value }),
            None => Ok(prices),
        }
    }

    /// The prices of `region`, or an error listing the regions it has.
    pub fn region(&self, region: &str) -> Result<&RegionPrices, PriceError> {
        self.regions.get(region).ok_or_else(|| PriceError::Region {
            region: region.to_owned(),
            known: self.regions.keys().cloned().collect(),
        })
    }
}

/// The first number under `v` (dotted key `at`) that no price list may hold.
fn first_bad_number(v: &toml::Value, at: String) -> Option<(String, f64)> {
    let join = |k: &str| if at.is_empty() { k.to_owned() } else { format!("{at}.{k}") };
    match v {
        toml::Value::Float(f) if !(f.is_finite() && (0.0..=1e15).contains(f)) => Some((at, *f)),
        toml::Value::Integer(i) if !(0..=1_000_000_000_000_000).contains(i) => Some((at, *i as f64)),
        toml::Value::Table(t) => t.iter().find_map(|(k, x)| first_bad_number(x, join(k))),
        toml::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| first_bad_number(x, format!("{at}[{i}]"))),
        _ => None,
    }
}

/// Prices `u` at `p`, applying the volume tiers as for one month of that usage.
pub fn price(u: &Usage, p: &RegionPrices) -> Breakdown {
    let per_m = |units: f64, rate: &Rate| units / 1e6 * rate.usd;
    let api = {
        let first = u.api_requests.min(300e6);
        per_m(first, &p.apigw_http_per_million) + per_m(u.api_requests - first, &p.apigw_http_per_million_over_300m)
    };
    let (rate, tiers) = p.gb_second(u.architecture);
    let (configured, on_provisioned) = p.provisioned(u.architecture);
    let mut b = Breakdown {
        apigw_requests: api,
        lambda_requests: per_m(u.lambda_requests, &p.lambda_requests_per_million),
        lambda_duration: tiers.cost(u.on_demand_gb_seconds(), rate.usd),
        lambda_provisioned_concurrency: u.provisioned_concurrency_gb_seconds() * configured.usd,
        lambda_provisioned_duration: u.provisioned_duration_gb_seconds() * on_provisioned.usd,
        // A provisioned table bills its capacity by the hour, not its requests.
        dynamodb_reads: if u.table_read_capacity > 0.0 {
            0.0
        } else {
            per_m(u.read_units, &p.dynamodb_read_request_units_per_million)
        },
        dynamodb_writes: if u.table_write_capacity > 0.0 {
            0.0
        } else {
            per_m(u.write_units, &p.dynamodb_write_request_units_per_million)
        },
        dynamodb_provisioned: {
            let hourly = |units: f64, rate: &Option<Rate>| units * rate.as_ref().map_or(0.0, |r| r.usd);
            (hourly(u.table_read_capacity, &p.dynamodb_read_capacity_unit_hour)
                + hourly(u.table_write_capacity, &p.dynamodb_write_capacity_unit_hour))
                * u.provisioned_seconds
                / 3600.0
        },
        cloudwatch_metrics: u.cloudwatch_metrics / 1000.0 * p.cloudwatch_get_metric_data_per_1000_metrics.usd,
        cloudwatch_logs: u.log_bytes / 1e9 * p.cloudwatch_logs_ingestion_per_gb.usd,
        total: 0.0,
    };
    b.total = b.components().map(|(_, usd)| usd).sum();
    b
}

/// What the monthly free tier would take off a month's bill (shown apart, never applied).
/// "The Lambda free tier does not apply to functions that have Provisioned Concurrency
/// enabled" (<https://aws.amazon.com/lambda/pricing/>).
pub fn free_tier_value(u: &Usage, p: &RegionPrices, f: &FreeTier) -> f64 {
    let gb_rate = p.gb_second(u.architecture).0;
    let lambda = if u.provisioned_concurrency > 0 {
        0.0
    } else {
        u.lambda_requests.min(f.lambda_requests) / 1e6 * p.lambda_requests_per_million.usd
            + u.gb_seconds().min(f.lambda_gb_seconds) * gb_rate.usd
    };
    lambda
        + u.api_requests.min(f.apigw_http_requests) / 1e6 * p.apigw_http_per_million.usd
        + (u.log_bytes / 1e9).min(f.cloudwatch_logs_gb) * p.cloudwatch_logs_ingestion_per_gb.usd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> RegionPrices {
        Prices::builtin().regions["us-east-1"].clone()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-9)
    }

    #[test]
    fn a_price_list_holds_only_finite_non_negative_numbers() {
        let builtin: toml::Value = toml::from_str(BUILTIN_PRICES).unwrap();
        assert_eq!(first_bad_number(&builtin, String::new()), None);
        let dir = std::env::temp_dir().join(format!("loadgen-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (bad, key) in [
            ("nan", "lambda_requests_per_million.usd"),
            ("-0.2", "lambda_requests_per_million.usd"),
            ("1e300", "lambda_requests_per_million.usd"),
        ] {
            let text = BUILTIN_PRICES.replacen("usd = 0.20,", &format!("usd = {bad},"), 1);
            assert_ne!(text, BUILTIN_PRICES, "the list has a 0.20 rate to poison");
            let file = dir.join("p.toml");
            std::fs::write(&file, text).unwrap();
            let e = Prices::from_file(&file).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("is not a price"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn builtin_prices_parse_with_two_regions() {
        let p = Prices::builtin();
        assert!(p.regions.contains_key("us-east-1") && p.regions.contains_key("eu-west-1"));
        assert!(p.region("ap-south-9").unwrap_err().to_string().contains("us-east-1"));
        for r in p.regions.values() {
            assert!(r.lambda_requests_per_million.source.starts_with("https://"));
        }
    }

    /// One million requests, 100 ms billed each at 512 MB, 1 RRU each (4 KB strongly
    /// consistent reads), no writes — worked by hand:
    /// API Gateway 1 M × $1.00/M = $1.00; Lambda requests 1 M × $0.20/M = $0.20;
    /// GB-s = 0.5 GB × 0.1 s × 1 M = 50,000 × $0.0000166667 = $0.833335;
    /// DynamoDB 1 M RRU × $0.125/M = $0.125. Total $2.158335.
    #[test]
    fn a_hand_computed_million() {
        let u = Usage {
            api_requests: 1e6,
            lambda_requests: 1e6,
            lambda_billed_ms: 100.0 * 1e6,
            memory_mb: 512,
            architecture: Architecture::X86_64,
            read_units: 1e6,
            ..Usage::default()
        };
        let b = price(&u, &us());
        assert!(close(b.apigw_requests, 1.0));
        assert!(close(b.lambda_requests, 0.2));
        assert!(close(u.gb_seconds(), 50_000.0));
        assert!(close(b.lambda_duration, 0.833335));
        assert!(close(b.dynamodb_reads, 0.125));
        assert!(close(b.total, 2.158335));
        let arm = price(&Usage { architecture: Architecture::Arm64, ..u }, &us());
        assert!(close(arm.lambda_duration, 50_000.0 * 0.0000133334), "arm64 is ~20% cheaper per GB-s");
    }

    #[test]
    fn tiers_apply_past_their_bounds() {
        let p = us();
        // 400 M API requests: 300 M at $1.00 + 100 M at $0.90 = $390.
        let b = price(&Usage { api_requests: 400e6, ..Usage::default() }, &p);
        assert!(close(b.apigw_requests, 390.0));
        // 7 B GB-s x86_64: 6 B at the full rate, 1 B at 10% off.
        let t = &p.lambda_gb_second_tiers_x86_64;
        let rate = p.lambda_gb_second_x86_64.usd;
        assert!(close(t.cost(7e9, rate), 6e9 * rate + 1e9 * rate * 0.9));
        assert!(close(t.cost(20e9, rate), 6e9 * rate + 9e9 * rate * 0.9 + 5e9 * rate * 0.8));
    }

    #[test]
    fn writes_logs_and_metrics() {
        let u = Usage { write_units: 2e6, log_bytes: 3e9, cloudwatch_metrics: 20.0, ..Usage::default() };
        let b = price(&u, &us());
        assert!(close(b.dynamodb_writes, 1.25), "2 M WRU × $0.625/M");
        assert!(close(b.cloudwatch_logs, 1.5), "3 GB × $0.50");
        assert!(close(b.cloudwatch_metrics, 0.0002), "20 metrics × $0.01/1000");
        assert!(close(b.total, 1.25 + 1.5), "loadgen's own pull is never the target's cost");
    }

    /// Provisioned concurrency 10 at 1,024 MB for an hour, serving 1 M requests of 100 ms
    /// billed, 200 k more spilling over to on-demand at 100 ms — worked by hand:
    /// configured 10 × 1 GB × 3,600 s = 36,000 GB-s × $0.0000041667 = $0.1500012;
    /// on provisioned 1 M × 0.1 s × 1 GB = 100,000 GB-s × $0.0000097222 = $0.97222;
    /// on-demand 200 k × 0.1 s × 1 GB = 20,000 GB-s × $0.0000166667 = $0.333334.
    #[test]
    fn provisioned_concurrency_is_priced_apart() {
        let u = Usage {
            lambda_requests: 1.2e6,
            lambda_billed_ms: 1.2e6 * 100.0,
            provisioned_billed_ms: 1e6 * 100.0,
            provisioned_concurrency: 10,
            provisioned_seconds: 3_600.0,
            memory_mb: 1024,
            architecture: Architecture::X86_64,
            ..Usage::default()
        };
        let b = price(&u, &us());
        assert!(close(b.lambda_provisioned_concurrency, 0.1500012), "{}", b.lambda_provisioned_concurrency);
        assert!(close(b.lambda_provisioned_duration, 0.97222));
        assert!(close(b.lambda_duration, 0.333334));
        assert!(close(b.lambda_requests, 0.24), "requests are priced the same either way");
        let labels: Vec<_> = b.components().map(|(c, _)| c.label()).collect();
        assert!(labels.contains(&"Lambda provisioned concurrency"), "{labels:?}");
        let none = price(
            &Usage { provisioned_concurrency: 0, provisioned_seconds: 0.0, provisioned_billed_ms: 0.0, ..u.clone() },
            &us(),
        );
        assert_eq!(none.components().count(), 6, "no provisioned rows without provisioned concurrency");
        // A month keeps the configured environments for the whole month, whatever the traffic.
        let m = u.month(2.0);
        assert!(close(m.provisioned_seconds, MONTH_SECONDS) && close(m.provisioned_billed_ms, 2e8));
        let p = Prices::builtin();
        assert!(close(free_tier_value(&u, &p.regions["us-east-1"], &p.free_tier), 0.0), "no Lambda free tier");
    }

    #[test]
    fn free_tier_is_valued_not_applied() {
        let p = Prices::builtin();
        let u = Usage {
            lambda_requests: 2e6,
            api_requests: 2e6,
            memory_mb: 1024,
            lambda_billed_ms: 1e9,
            architecture: Architecture::X86_64,
            ..Usage::default()
        };
        // 1 M Lambda requests ($0.20) + 400,000 of the 1,000,000 GB-s ($6.66668) + 1 M API ($1.00).
        let v = free_tier_value(&u, &p.regions["us-east-1"], &p.free_tier);
        assert!(close(v, 0.2 + 400_000.0 * 0.0000166667 + 1.0), "{v}");
        assert!(price(&u, &p.regions["us-east-1"]).total > v, "the breakdown itself is never reduced");
    }
}
