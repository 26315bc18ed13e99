//! Raw scenario → [`Plan`]: every semantic check, each error pointing at the offending value.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::{Locator, ScenarioError, suggestion};
use super::raw::{ALL_KEYS, RawScenario};
use super::template::Template;
use super::threshold::{parse_condition, parse_metric};
use super::*;

/// Most requests in flight when `[target] max_in_flight` is not set.
const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

/// Reads `"20s"`, `"500ms"`, `"5m"`, `"1h 30m"`.
fn duration(loc: &Locator<'_>, v: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
    humantime::parse_duration(v.get_ref().trim()).map_err(|_| {
        loc.error(span(v), field, format!("'{}' is not a duration; write e.g. \"30s\", \"500ms\", \"5m\"", v.get_ref()))
    })
}

/// Reads `1024`, `"1KB"`, `"4 KiB"`, `"1.5KB"` as bytes (KB = 1000, KiB = 1024).
fn size(loc: &Locator<'_>, v: &Spanned<toml::Value>, field: &str) -> Result<usize, ScenarioError> {
    let bad =
        || loc.error(span(v), field, "expected a size in bytes such as 1024, \"1KB\" or \"4KiB\" (at most 350KB)");
    let bytes = match v.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => *n as f64,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| bad())?;
            let mult = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "kb" => 1e3,
                "kib" => 1024.0,
                "mb" => 1e6,
                "mib" => 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            n * mult
        }
        _ => return Err(bad()),
    };
    // DynamoDB items stop at 400 KB, target-api bodies at 64 KiB; leave room for keys.
    if !(0.0..=350_000.0).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as usize)
}

fn positive(loc: &Locator<'_>, v: &Spanned<f64>, field: &str, what: &str) -> Result<f64, ScenarioError> {
    let n = *v.get_ref();
    if n.is_finite() && n > 0.0 {
        Ok(n)
    } else {
        Err(loc.error(span(v), field, format!("expected {what} > 0, got {n}")))
    }
}

fn int_in(loc: &Locator<'_>, v: &Spanned<i64>, field: &str, lo: i64, hi: i64) -> Result<i64, ScenarioError> {
    let n = *v.get_ref();
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(loc.error(span(v), field, format!("expected an integer from {lo} to {hi}, got {n}")))
    }
}

/// Turns a TOML/serde error into one that names the place, the key and a fix.
fn from_toml_error(loc: &Locator<'_>, e: &toml::de::Error) -> ScenarioError {
    let offset = e.span().map_or(0, |s| s.start);
    let raw = e.message().trim().to_owned();
    let mut message = raw
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected an integer")
        .replace("invalid type: ", "wrong type: ");
    let mut field = loc.key_at(offset);
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or("");
        field = unknown.to_owned();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let pool = if expected.is_empty() { ALL_KEYS.to_vec() } else { expected };
        message = match suggestion(unknown, &pool) {
            Some(s) => format!("unknown key `{unknown}`; did you mean `{s}`? (allowed here: {})", pool.join(", ")),
            None => format!("unknown key `{unknown}` (allowed here: {})", pool.join(", ")),
        };
    } else if let Some(rest) = raw.strip_prefix("missing field `") {
        field = rest.split('`').next().unwrap_or("").to_owned();
        message = format!("`{field}` is required here");
    }
    loc.error(offset..offset, field, message)
}

fn expand_env(
    loc: &Locator<'_>,
    v: &Spanned<String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ScenarioError> {
    let text = v.get_ref();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end =
            after.find('}').ok_or_else(|| loc.error(span(v), field, "unclosed '${' in the value; write ${NAME}"))?;
        let name = &after[..end];
        let value = env(name).ok_or_else(|| {
            loc.error(span(v), field, format!("environment variable {name} is not set; export it or change the value"))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(super) fn plan(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ScenarioError> {
    let loc = Locator::new(path, text);
    let raw: RawScenario = toml::from_str(text).map_err(|e| from_toml_error(&loc, &e))?;

    let name = raw.name.get_ref().trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(loc.error(
            span(&raw.name),
            "name",
            "expected a name of letters, digits, '-', '_' or '.' (it names the report directory)",
        ));
    }
    let seed = match &raw.seed {
        Some(s) => int_in(&loc, s, "seed", 0, i64::MAX)? as u64,
        None => 1,
    };

    let target = match &raw.target {
        None => Target {
            url: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            http2: true,
            aws: None,
        },
        Some(t) => {
            let url = match &t.url {
                Some(u) => {
                    let s = u.get_ref().trim().trim_end_matches('/').to_owned();
                    let ok = (s.starts_with("http://") || s.starts_with("https://")) && s.parse::<hyper::Uri>().is_ok();
                    if !ok {
                        return Err(loc.error(
                            span(u),
                            "target.url",
                            format!("'{s}' is not an http:// or https:// URL"),
                        ));
                    }
                    Some(s)
                }
                None => None,
            };
            let mut headers = Vec::new();
            for (k, v) in &t.headers {
                let field = format!("target.headers.{k}");
                if hyper::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    return Err(loc.error(span(v), &field, format!("'{k}' is not a valid header name")));
                }
                headers.push((k.clone(), expand_env(&loc, v, &field, env)?));
            }
            let timeout = match &t.timeout {
                Some(v) => duration(&loc, v, "target.timeout")?,
                None => Duration::from_secs(30),
            };
            if timeout.is_zero() {
                return Err(loc.error(
                    span(t.timeout.as_ref().expect("set")),
                    "target.timeout",
                    "must be longer than 0",
                ));
            }
            let max_in_flight = match &t.max_in_flight {
                Some(v) => int_in(&loc, v, "target.max_in_flight", 1, 1_000_000)? as usize,
                None => DEFAULT_MAX_IN_FLIGHT,
            };
            let aws = match (&t.function_name, &t.api_id, &t.table_name) {
                (None, None, None) => None,
                (Some(f), Some(a), Some(tb)) => Some(AwsNames {
                    function_name: f.clone(),
                    api_id: a.clone(),
                    stage: t.stage.clone().unwrap_or_else(|| "$default".into()),
                    table_name: tb.clone(),
                    region: t.region.clone().unwrap_or_else(|| "us-east-1".into()),
                    memory_mb: t.memory_mb.unwrap_or(256).clamp(128, 10_240) as u32,
                }),
                _ => {
                    return Err(loc.error(
                        0..0,
                        "target",
                        "give function_name, api_id and table_name together (for the CloudWatch pull), or none of them",
                    ));
                }
            };
            Target { url, headers, timeout, max_in_flight, http2: t.http2.unwrap_or(true), aws }
        }
    };

    let stack = match &raw.stack {
        None => StackOverrides::default(),
        Some(s) => StackOverrides {
            reserved_concurrency: s
                .reserved_concurrency
                .as_ref()
                .map(|v| int_in(&loc, v, "stack.reserved_concurrency", 0, 10_000))
                .transpose()?
                .map(|n| n as u32),
            memory_mb: s
                .memory_mb
                .as_ref()
                .map(|v| int_in(&loc, v, "stack.memory_mb", 128, 10_240))
                .transpose()?
                .map(|n| n as u32),
            timeout: s.timeout.as_ref().map(|v| duration(&loc, v, "stack.timeout")).transpose()?,
            keep_warm: s.keep_warm.as_ref().map(|v| duration(&loc, v, "stack.keep_warm")).transpose()?,
            latency_profile: match &s.latency_profile {
                Some(v) => {
                    let name = v.get_ref().clone();
                    if !name.ends_with(".toml") && !local_stack::profile::builtin_names().contains(&name.as_str()) {
                        return Err(loc.error(
                            span(v),
                            "stack.latency_profile",
                            format!(
                                "unknown profile '{name}'; use one of {:?} or a path to a profile .toml",
                                local_stack::profile::builtin_names()
                            ),
                        ));
                    }
                    Some(name)
                }
                None => None,
            },
            api_rate: s
                .api_rate
                .as_ref()
                .map(|v| positive(&loc, v, "stack.api_rate", "a rate in requests per second"))
                .transpose()?,
            api_burst: s
                .api_burst
                .as_ref()
                .map(|v| int_in(&loc, v, "stack.api_burst", 1, 5_000_000))
                .transpose()?
                .map(|n| n as u32),
            integration_timeout: s
                .integration_timeout
                .as_ref()
                .map(|v| {
                    let d = duration(&loc, v, "stack.integration_timeout")?;
                    if d < Duration::from_millis(50) || d > Duration::from_secs(30) {
                        return Err(loc.error(span(v), "stack.integration_timeout", "HTTP APIs allow 50ms to 30s"));
                    }
                    Ok(d)
                })
                .transpose()?,
            dynamodb_read_units: s
                .dynamodb_read_units
                .as_ref()
                .map(|v| positive(&loc, v, "stack.dynamodb_read_units", "read units per second"))
                .transpose()?,
            dynamodb_write_units: s
                .dynamodb_write_units
                .as_ref()
                .map(|v| positive(&loc, v, "stack.dynamodb_write_units", "write units per second"))
                .transpose()?,
        },
    };
    if let (Some(t), Some(raw_s)) = (stack.timeout, raw.stack.as_ref().and_then(|s| s.timeout.as_ref()))
        && (t < Duration::from_secs(1) || t > Duration::from_secs(900))
    {
        return Err(loc.error(span(raw_s), "stack.timeout", "Lambda allows 1s to 900s"));
    }

    let data = match &raw.data {
        None => Data { items: 0, item_size: 200, seed_rate: 500.0, distribution: KeyDistribution::Uniform },
        Some(d) => {
            let items =
                d.items.as_ref().map(|v| int_in(&loc, v, "data.items", 0, 10_000_000)).transpose()?.unwrap_or(0) as u64;
            let item_size = d.item_size.as_ref().map(|v| size(&loc, v, "data.item_size")).transpose()?.unwrap_or(200);
            let seed_rate = d
                .seed_rate
                .as_ref()
                .map(|v| positive(&loc, v, "data.seed_rate", "items per second"))
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
                        .map(|v| positive(&loc, v, "data.zipf_exponent", "an exponent"))
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
            Data { items, item_size, seed_rate, distribution }
        }
    };

    if raw.phases.is_empty() {
        return Err(loc.error(
            0..0,
            "phase",
            "a scenario needs at least one [[phase]] (name, duration and rate, ramp, steps or users)",
        ));
    }
    let mut phases = Vec::new();
    let mut phase_names = HashSet::new();
    for (i, p) in raw.phases.iter().enumerate() {
        let f = |k: &str| format!("phase[{i}].{k}");
        let p_span = span(p);
        let p = p.get_ref();
        let pname = p.name.get_ref().trim().to_owned();
        if pname.is_empty() || !phase_names.insert(pname.clone()) {
            return Err(loc.error(
                span(&p.name),
                f("name"),
                format!("phase names must be non-empty and unique ('{pname}')"),
            ));
        }
        let d = duration(&loc, &p.duration, &f("duration"))?;
        if d.is_zero() || d > Duration::from_secs(24 * 3600) {
            return Err(loc.error(span(&p.duration), f("duration"), "expected a duration from 1ms to 24h"));
        }
        let given =
            [p.rate.is_some(), p.ramp.is_some(), p.steps.is_some(), p.users.is_some()].iter().filter(|x| **x).count();
        if given != 1 {
            return Err(loc.error(p_span, format!("phase[{i}]"), "give exactly one of rate, ramp, steps or users"));
        }
        if let (Some(think), None) = (&p.think, &p.users) {
            return Err(loc.error(span(think), f("think"), "think applies to a closed model: set users, not rate"));
        }
        let load = if let Some(r) = &p.rate {
            Load::Constant { rate: positive(&loc, r, &f("rate"), "a rate in requests per second")? }
        } else if let Some(ramp) = &p.ramp {
            let from = *ramp.get_ref().from.get_ref();
            let to = *ramp.get_ref().to.get_ref();
            if !(from >= 0.0 && to >= 0.0 && from.is_finite() && to.is_finite() && from + to > 0.0) {
                return Err(loc.error(
                    span(ramp),
                    f("ramp"),
                    format!("expected rates >= 0 with at least one > 0, got from = {from}, to = {to}"),
                ));
            }
            Load::Ramp { from, to }
        } else if let Some(steps) = &p.steps {
            let rates = steps.get_ref().clone();
            if rates.is_empty()
                || rates.iter().any(|r| !(r.is_finite() && *r >= 0.0))
                || rates.iter().all(|r| *r == 0.0)
            {
                return Err(loc.error(span(steps), f("steps"), "expected a list of rates >= 0, e.g. [50, 100, 200]"));
            }
            Load::Steps { rates }
        } else {
            let users = int_in(&loc, p.users.as_ref().expect("counted above"), &f("users"), 1, 100_000)? as u32;
            let think = p.think.as_ref().map(|t| duration(&loc, t, &f("think"))).transpose()?.unwrap_or(Duration::ZERO);
            Load::Closed { users, think }
        };
        if let Some(peak) = load.peak_rate()
            && peak > 1_000_000.0
        {
            return Err(loc.error(
                p_span,
                format!("phase[{i}]"),
                format!("a rate of {peak} req/s is beyond what one generator can send; use at most 1,000,000"),
            ));
        }
        let arrivals = match p.arrivals.as_ref().map(|a| (a.get_ref().as_str(), a)) {
            None | Some(("even", _)) => Arrivals::Even,
            Some(("poisson", _)) => Arrivals::Poisson,
            Some((other, a)) => {
                return Err(loc.error(
                    span(a),
                    f("arrivals"),
                    format!("'{other}' is not an arrival process; use \"even\" or \"poisson\""),
                ));
            }
        };
        phases.push(Phase { name: pname, duration: d, load, arrivals });
    }

    if raw.requests.is_empty() {
        return Err(loc.error(0..0, "request", "a scenario needs at least one [[request]] (name, method, path)"));
    }
    let mut requests = Vec::new();
    let mut request_names = HashSet::new();
    for (i, r) in raw.requests.iter().enumerate() {
        let f = |k: &str| format!("request[{i}].{k}");
        let r = r.get_ref();
        let rname = r.name.get_ref().trim().to_owned();
        if rname.is_empty() || !request_names.insert(rname.clone()) {
            return Err(loc.error(
                span(&r.name),
                f("name"),
                format!("request names must be non-empty and unique ('{rname}')"),
            ));
        }
        let weight = r.weight.as_ref().map(|w| positive(&loc, w, &f("weight"), "a weight")).transpose()?.unwrap_or(1.0);
        let method = match &r.method {
            Some(m) => {
                let up = m.get_ref().to_ascii_uppercase();
                if !["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains(&up.as_str()) {
                    return Err(loc.error(
                        span(m),
                        f("method"),
                        format!(
                            "'{}' is not an HTTP method; use GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS",
                            m.get_ref()
                        ),
                    ));
                }
                up
            }
            None => "GET".to_owned(),
        };
        if !r.path.get_ref().starts_with('/') {
            return Err(loc.error(span(&r.path), f("path"), format!("'{}' must start with '/'", r.path.get_ref())));
        }
        let path = Template::parse(r.path.get_ref()).map_err(|e| loc.error(span(&r.path), f("path"), e))?;
        let body = r
            .body
            .as_ref()
            .map(|b| Template::parse(b.get_ref()).map_err(|e| loc.error(span(b), f("body"), e)))
            .transpose()?;
        for (t, field, sp) in [(Some(&path), f("path"), span(&r.path))]
            .into_iter()
            .chain(body.as_ref().map(|b| (Some(b), f("body"), span(r.body.as_ref().expect("set")))))
        {
            let t = t.expect("some");
            if t.needs_ids() && data.items == 0 {
                return Err(loc.error(
                    sp,
                    field,
                    "uses {id}/{ids:N} but [data] items is 0; seed items with [data] items = N",
                ));
            }
            if t.max_ids() as u64 > data.items {
                return Err(loc.error(
                    sp,
                    field,
                    format!("asks for {} distinct ids but only {} items are seeded", t.max_ids(), data.items),
                ));
            }
        }
        let expect = match &r.expect {
            Some(e) => {
                let mut out = Vec::new();
                for s in e.get_ref() {
                    if !(100..=599).contains(s) {
                        return Err(loc.error(span(e), f("expect"), format!("{s} is not an HTTP status (100-599)")));
                    }
                    out.push(*s as u16);
                }
                out
            }
            None => Vec::new(),
        };
        let headers = r.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        requests.push(Request {
            name: rname,
            weight,
            method,
            path,
            path_text: r.path.get_ref().clone(),
            body,
            headers,
            expect,
        });
    }

    let mut thresholds = Vec::new();
    let names: Vec<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    for (key, value) in raw.thresholds.iter().flatten() {
        let field = format!("thresholds.\"{}\"", key.get_ref());
        let (request, metric) = parse_metric(key.get_ref(), &names).map_err(|e| loc.error(span(key), &field, e))?;
        let (condition, abort_on_fail) = match value.get_ref() {
            toml::Value::String(s) => (s.clone(), false),
            toml::Value::Table(t) => {
                for k in t.keys() {
                    if k != "limit" && k != "abort_on_fail" {
                        let hint = suggestion(k, &["limit", "abort_on_fail"])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        return Err(loc.error(
                            span(value),
                            &field,
                            format!("unknown key `{k}` in a threshold table{hint} (allowed: limit, abort_on_fail)"),
                        ));
                    }
                }
                let limit = t.get("limit").and_then(|v| v.as_str()).ok_or_else(|| {
                    loc.error(
                        span(value),
                        &field,
                        "a threshold table needs limit = \"< 300ms\" (and optionally abort_on_fail = true)",
                    )
                })?;
                let abort = match t.get("abort_on_fail") {
                    None => false,
                    Some(toml::Value::Boolean(b)) => *b,
                    Some(_) => return Err(loc.error(span(value), &field, "abort_on_fail must be true or false")),
                };
                (limit.to_owned(), abort)
            }
            _ => {
                return Err(loc.error(
                    span(value),
                    &field,
                    "expected a condition such as \"< 300ms\" or { limit = \"< 1%\", abort_on_fail = true }",
                ));
            }
        };
        let (cmp, limit) = parse_condition(&condition, metric.unit()).map_err(|e| loc.error(span(value), &field, e))?;
        thresholds.push(Threshold {
            key: key.get_ref().clone(),
            condition,
            request,
            metric,
            cmp,
            limit,
            abort_on_fail,
        });
    }

    Ok(Plan {
        name,
        description: raw.description.trim().to_owned(),
        file: path.to_path_buf(),
        seed,
        target,
        stack,
        data,
        phases,
        requests,
        thresholds,
    })
}
