//! `[data]`: the items seeded before the phases and the distribution their keys are read with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawData;
use crate::scenario::seed_data::{ItemValue, SeedVia, keys_of};
use crate::scenario::template::{Part, Template};
use crate::scenario::values::{int_in, positive, size, span};
use crate::scenario::{Data, KeyDistribution};

/// Validates `[data]` of the scenario at `file` (nothing seeded when it is absent).
pub(super) fn data(
    loc: &Locator<'_>,
    file: &Path,
    raw: Option<&RawData>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Data, ScenarioError> {
    let data = match raw {
        None => Data {
            items: 0,
            item_size: 200,
            seed_rate: 500.0,
            distribution: KeyDistribution::Uniform,
            seed: true,
            seed_via: SeedVia::Table,
            table: None,
            item: BTreeMap::new(),
            files: Vec::new(),
            seed_from: None,
            key: None,
            seed_path: "/items".into(),
            rows: None,
        },
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
                    Some(v) if !(*v.get_ref() > 0.0 && *v.get_ref() <= 1.0) => Err(loc.error(
                        span(v),
                        field,
                        format!(
                            "expected a share between 0 and 1, got {}",
                            crate::scenario::values::number(*v.get_ref())
                        ),
                    )),
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
            let mut data = Data {
                items,
                item_size,
                seed_rate,
                distribution,
                seed,
                seed_via: SeedVia::Table,
                table: d.table.clone(),
                item: BTreeMap::new(),
                files: Vec::new(),
                seed_from: None,
                key: d.key.clone(),
                seed_path: "/items".into(),
                rows: None,
            };
            seeding(loc, file, d, env, &mut data)?;
            data
        }
    };
    Ok(data)
}

/// `seed_via`, `item`, `[[data.file]]`, `seed_from`, `key` and `seed_path`: how and what is
/// seeded, and the files templates draw from.
fn seeding(
    loc: &Locator<'_>,
    scenario: &Path,
    d: &RawData,
    env: &dyn Fn(&str) -> Option<String>,
    data: &mut Data,
) -> Result<(), ScenarioError> {
    data.seed_via = match d.seed_via.as_ref().map(|v| (v, v.get_ref().as_str())) {
        None | Some((_, "table")) => SeedVia::Table,
        Some((_, "api")) => SeedVia::Api,
        Some((v, other)) => {
            return Err(loc.error(
                span(v),
                "data.seed_via",
                format!("'{other}': use \"table\" (BatchWriteItem) or \"api\""),
            ));
        }
    };
    if let Some(p) = &d.seed_path {
        if !p.get_ref().starts_with('/') {
            return Err(loc.error(span(p), "data.seed_path", "a path starting with '/', e.g. \"/orders\""));
        }
        data.seed_path = p.get_ref().clone();
    }
    for (name, v) in &d.item {
        let field = format!("data.item.{name}");
        let value = match v.get_ref() {
            toml::Value::String(t) => {
                let mut t = Template::parse(t)
                    .and_then(|mut t| t.resolve_captures(&[]).map(|()| t))
                    .map_err(|e| loc.error(span(v), &field, e.to_string()))?;
                t.resolve_env(env).map_err(|e| loc.error(span(v), &field, e.to_string()))?;
                if t.parts.iter().any(|p| matches!(p, Part::Ids(_))) {
                    return Err(loc.error(span(v), &field, "an item is one item: its text may not use {ids:N}"));
                }
                if t.uses_fields() {
                    return Err(loc.error(span(v), &field, "to seed a data file's rows, name it with seed_from"));
                }
                ItemValue::Text(t)
            }
            toml::Value::Integer(n) => ItemValue::Number(*n as f64),
            toml::Value::Float(f) if f.is_finite() => ItemValue::Number(*f),
            toml::Value::Boolean(b) => ItemValue::Bool(*b),
            _ => {
                return Err(loc.error(
                    span(v),
                    &field,
                    "an item's values are strings, numbers or booleans; for nested values seed from a file",
                ));
            }
        };
        data.item.insert(name.clone(), value);
    }
    data.files = super::data_files::files(loc, scenario, &d.files)?;
    let Some(from) = &d.seed_from else { return Ok(()) };
    if let Some(items) = &d.items {
        return Err(loc.error(span(items), "data.items", "seeding from a file, the items are its rows; remove items"));
    }
    if !d.item.is_empty() {
        return Err(loc.error(
            span(from),
            "data.seed_from",
            "give the items either as a file or as an item template, not both",
        ));
    }
    let Some(file) = data.files.iter_mut().find(|f| &f.name == from.get_ref()) else {
        let names: Vec<&str> = data.files.iter().map(|f| f.name.as_str()).collect();
        return Err(loc.error(
            span(from),
            "data.seed_from",
            format!("no [[data.file]] is named '{}' (files: {})", from.get_ref(), names.join(", ")),
        ));
    };
    let Some(rows) = file.rows.as_mut() else { return Ok(()) };
    let key = data.key.as_deref().unwrap_or("id");
    let keys = keys_of(rows, key, &file.path).map_err(|e| loc.error(span(from), "data.seed_from", e.to_string()))?;
    data.items = keys.len() as u64;
    data.seed_from = Some(from.get_ref().clone());
    // The seeded rows are the file's: one copy, shared, with the keys `{id}` draws from added.
    Arc::make_mut(rows).keys = keys;
    data.rows = Some(rows.clone());
    Ok(())
}
