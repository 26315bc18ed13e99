//! `[data]`: the items seeded before the phases and the distribution their keys are read with.

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawData;
use crate::scenario::values::{int_in, positive, size, span};
use crate::scenario::{Data, KeyDistribution};

/// Validates `[data]` (nothing seeded when it is absent).
pub(super) fn data(loc: &Locator<'_>, raw: Option<&RawData>) -> Result<Data, ScenarioError> {
    let data = match raw {
        None => Data { items: 0, item_size: 200, seed_rate: 500.0, distribution: KeyDistribution::Uniform, seed: true },
        Some(d) => {
            let items =
                d.items.as_ref().map(|v| int_in(loc, v, "data.items", 0, 10_000_000)).transpose()?.unwrap_or(0) as u64;
            let item_size = d.item_size.as_ref().map(|v| size(loc, v, "data.item_size")).transpose()?.unwrap_or(200);
            let seed_rate = d
                .seed_rate
                .as_ref()
                .map(|v| positive(loc, v, "data.seed_rate", "items per second"))
                .transpose()?
                .unwrap_or(500.0);
            let fraction = |v: &Option<Spanned<f64>>, field: &str, default: f64| -> Result<f64, ScenarioError> {
                match v {
                    Some(v) if !(*v.get_ref() > 0.0 && *v.get_ref() <= 1.0) => {
                        Err(loc.error(span(v), field, format!("expected a share between 0 and 1, got {}", v.get_ref())))
                    }
                    Some(v) => Ok(*v.get_ref()),
                    None => Ok(default),
                }
            };
            let distribution = match d.distribution.as_ref().map(|v| (v.get_ref().as_str(), v)) {
                None | Some(("uniform", _)) => KeyDistribution::Uniform,
                Some(("zipf", _)) => KeyDistribution::Zipf {
                    exponent: d
                        .zipf_exponent
                        .as_ref()
                        .map(|v| positive(loc, v, "data.zipf_exponent", "an exponent"))
                        .transpose()?
                        .unwrap_or(1.0),
                },
                Some(("hot-set", _)) => KeyDistribution::HotSet {
                    keys: fraction(&d.hot_keys, "data.hot_keys", 0.01)?,
                    traffic: fraction(&d.hot_traffic, "data.hot_traffic", 0.9)?,
                },
                Some((other, v)) => {
                    return Err(loc.error(
                        span(v),
                        "data.distribution",
                        format!("'{other}' is not a distribution; use \"uniform\", \"zipf\" or \"hot-set\""),
                    ));
                }
            };
            let seed = d.seed.as_ref().is_none_or(|v| *v.get_ref());
            Data { items, item_size, seed_rate, distribution, seed }
        }
    };
    Ok(data)
}
