//! What-if inputs from the command line: a traffic scale (`--traffic 10x`) and grids of
//! settings (`--set reserved_concurrency=10,50,100`), checked once into the configurations to
//! simulate — every combination of the values given, in the order given.

use local_stack::config::Architecture;

use crate::scenario::{Load, Plan};

use super::lambda::FunctionSpec;
use super::memory::MEMORY_MB;

/// The most configurations one grid may ask for.
pub const MAX_CONFIGURATIONS: usize = 1_000;

/// The most arrivals one configuration may simulate: about a minute of one core (the model
/// runs ~10 M arrivals per second), a week at 800 req/s.
pub const MAX_ARRIVALS: f64 = 5e8;

pub use crate::scenario::whatif::SETTINGS;

/// Why a what-if cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WhatIfError {
    /// `--traffic` is not a positive factor.
    #[error("--traffic {0}: expected factors from 0.0001 to 1000000, each once, such as 10x, 0.5x, 3 or 1x,2x,10x")]
    Traffic(String),
    /// `--set` without `=`.
    #[error("--set {0}: expected NAME=VALUE[,VALUE…], e.g. --set reserved_concurrency=10,50,100")]
    Syntax(String),
    /// A setting the simulator does not model.
    #[error("--set {name}: not a setting the simulator models; use one of {}", names())]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The same setting twice.
    #[error("--set {0} is given twice; list its values in one --set")]
    Twice(String),
    /// A value that does not fit its setting.
    #[error("--set {name}={value}: {why}")]
    Value {
        /// The setting.
        name: String,
        /// The value given.
        value: String,
        /// What it must be.
        why: String,
    },
    /// A plan too large to simulate.
    #[error(
        "--traffic {traffic}x makes {arrivals:.3e} arrivals per configuration; at most {MAX_ARRIVALS:.0e} — lower the factor"
    )]
    TooLarge {
        /// The factor.
        traffic: f64,
        /// Arrivals it makes.
        arrivals: f64,
    },
    /// More combinations than [`MAX_CONFIGURATIONS`].
    #[error("the --set and --traffic values make {0} configurations; at most {MAX_CONFIGURATIONS}")]
    TooMany(usize),
}

fn names() -> String {
    SETTINGS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Traffic factors from `10x`, `0.5x`, `3` or a list of them (`1x,2x,10x`).
pub fn traffic_list(text: &str) -> Result<Vec<f64>, WhatIfError> {
    let factors = text.split(',').map(|t| traffic(t).map_err(|_| WhatIfError::Traffic(text.to_owned())));
    let factors: Vec<f64> = factors.collect::<Result<_, _>>()?;
    if factors.iter().enumerate().any(|(i, f)| factors[..i].contains(f)) {
        return Err(WhatIfError::Traffic(text.to_owned()));
    }
    Ok(factors)
}

/// A traffic factor from `10x`, `0.5x` or `3`.
pub fn traffic(text: &str) -> Result<f64, WhatIfError> {
    let t = text.trim();
    let number = t.strip_suffix(['x', 'X', '×']).unwrap_or(t);
    match number.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (1e-4..=1e6).contains(&f) => Ok(f),
        _ => Err(WhatIfError::Traffic(text.to_owned())),
    }
}

/// `plan` with every open-model rate multiplied by `factor` (closed-model phases keep their
/// users: they have no offered rate to scale).
pub fn scaled(plan: &Plan, factor: f64) -> Plan {
    let mut p = plan.clone();
    for phase in &mut p.phases {
        phase.load = match &phase.load {
            Load::Constant { rate } => Load::Constant { rate: rate * factor },
            Load::Ramp { from, to } => Load::Ramp { from: from * factor, to: to * factor },
            Load::Steps { rates } => Load::Steps { rates: rates.iter().map(|r| r * factor).collect() },
            closed @ Load::Closed { .. } => closed.clone(),
        };
    }
    p
}

/// Refuses a scaled plan with more than [`MAX_ARRIVALS`] arrivals.
pub fn check_size(plan: &Plan, traffic: f64) -> Result<(), WhatIfError> {
    let arrivals: f64 = plan.phases.iter().map(|p| p.load.mean_rate().unwrap_or(0.0) * p.duration.as_secs_f64()).sum();
    if arrivals > MAX_ARRIVALS {
        return Err(WhatIfError::TooLarge { traffic, arrivals });
    }
    Ok(())
}

/// One configuration: the settings changed, by name and value as written, and the function.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// `(name, value)` of each setting the grid changed.
    pub settings: Vec<(String, String)>,
    /// The function as simulated (its `memory_mb` the configuration's).
    pub function: FunctionSpec,
    /// The instruction set, when the grid changed it.
    pub architecture: Option<Architecture>,
    /// The traffic factor of its plan.
    pub traffic: f64,
    /// What the handler's part of every warm hold is multiplied by beyond what its memory
    /// changes: "what if the handler were 50% slower" (a slower dependency, heavier code).
    pub duration_factor: f64,
    /// The stage's default throttling rate, when the grid changed it.
    pub api_rate: Option<f64>,
    /// The stage's default throttling burst, when the grid changed it.
    pub api_burst: Option<u32>,
    /// The table's capacity when the grid changed it: on demand (the stack's limits) or
    /// provisioned `(read, write)` units per second.
    pub dynamodb: Option<TableCapacity>,
}

/// A table's capacity mode as a what-if sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TableCapacity {
    /// On demand, at the throughput the run's stack allows.
    OnDemand,
    /// Provisioned read and write capacity units.
    Provisioned {
        /// RCU.
        read: f64,
        /// WCU.
        write: f64,
    },
}

/// A provisioned table's `R/W` (`500/100`), as AWS allows it: at least 1 of each.
fn provisioned(value: &str) -> Option<TableCapacity> {
    let (r, w) = value.strip_prefix("provisioned:").unwrap_or(value).split_once('/')?;
    let unit = |t: &str| t.trim().parse::<u32>().ok().filter(|n| (1..=1_000_000).contains(n)).map(f64::from);
    Some(TableCapacity::Provisioned { read: unit(r)?, write: unit(w)? })
}

/// Every combination of `sets` (`NAME=V1,V2,…`) applied to `base`; just `base` when empty.
/// Several `traffic` factors are the grid's first axis, shown as the setting `traffic`.
pub fn grid(base: &FunctionSpec, sets: &[String], traffic: &[f64]) -> Result<Vec<Configuration>, WhatIfError> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for s in sets {
        let (name, values) = s.split_once('=').ok_or_else(|| WhatIfError::Syntax(s.clone()))?;
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(WhatIfError::Syntax(s.clone()));
        }
        if !SETTINGS.iter().any(|(n, _)| *n == name) {
            return Err(WhatIfError::Unknown { name });
        }
        if axes.iter().any(|(n, _)| *n == name) {
            return Err(WhatIfError::Twice(name));
        }
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
        if values.iter().any(String::is_empty) {
            return Err(WhatIfError::Syntax(s.clone()));
        }
        if let Some(v) = values.iter().enumerate().find_map(|(i, v)| values[..i].contains(v).then_some(v)) {
            return Err(WhatIfError::Value {
                name,
                value: v.clone(),
                why: "listed twice; give each value once".into(),
            });
        }
        axes.push((name, values));
    }
    let count = axes.iter().try_fold(traffic.len().max(1), |n, (_, v)| n.checked_mul(v.len())).unwrap_or(usize::MAX);
    if count > MAX_CONFIGURATIONS {
        return Err(WhatIfError::TooMany(count));
    }
    let start = |t: f64| Configuration {
        settings: Vec::new(),
        function: base.clone(),
        architecture: None,
        traffic: t,
        duration_factor: 1.0,
        api_rate: None,
        api_burst: None,
        dynamodb: None,
    };
    let mut out: Vec<Configuration> = match traffic {
        [] => vec![start(1.0)],
        [one] => vec![start(*one)],
        many => many
            .iter()
            .map(|t| Configuration { settings: vec![("traffic".into(), format!("{t}x"))], ..start(*t) })
            .collect(),
    };
    for (name, values) in &axes {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for c in &out {
            for v in values {
                let mut c = c.clone();
                apply(&mut c, name, v)?;
                c.settings.push((name.clone(), v.clone()));
                next.push(c);
            }
        }
        out = next;
    }
    for c in &out {
        check(c)?;
    }
    Ok(out)
}

fn apply(c: &mut Configuration, name: &str, value: &str) -> Result<(), WhatIfError> {
    let f = &mut c.function;
    let bad = |why: &str| WhatIfError::Value { name: name.into(), value: value.into(), why: why.into() };
    let int = || match value.parse::<u64>() {
        Ok(n) if n <= 1_000_000 => Ok(n as u32),
        Ok(_) => Err(bad("expected at most 1000000")),
        Err(_) => Err(bad("expected a whole number")),
    };
    match name {
        // Without a reservation the function shares the account's pool, all of it while it
        // is the only function (the 100 AWS keeps unreserved are that pool's floor).
        "reserved_concurrency" if value == "unreserved" => {
            f.reserved = false;
            f.concurrency = f.account_concurrency;
        }
        "reserved_concurrency" => {
            f.reserved = true;
            f.concurrency = int()?;
        }
        "provisioned_concurrency" => f.provisioned = int()?,
        "account_concurrency" => {
            f.account_concurrency = int()?;
            if f.account_concurrency == 0 {
                return Err(bad("expected at least 1"));
            }
            if !f.reserved {
                f.concurrency = f.account_concurrency;
            }
        }
        "keep_warm" => {
            let s = value
                .strip_suffix('s')
                .unwrap_or(value)
                .parse::<f64>()
                .map_err(|_| bad("expected seconds, e.g. 300"))?;
            if !(s.is_finite() && s >= 0.0) {
                return Err(bad("expected seconds, 0 or more"));
            }
            f.keep_warm_s = s;
        }
        "memory_mb" => {
            let (low, high) = MEMORY_MB;
            f.memory_mb = match value.parse::<u32>() {
                Ok(m) if (low..=high).contains(&m) => m,
                _ => return Err(bad(&format!("expected whole megabytes from {low} to {high}, as AWS allows"))),
            };
        }
        "duration_factor" => match value.strip_suffix('x').unwrap_or(value).parse::<f64>() {
            Ok(x) if x.is_finite() && (0.01..=100.0).contains(&x) => c.duration_factor = x,
            _ => return Err(bad("expected a factor from 0.01 to 100, such as 1.5 or 1.5x")),
        },
        "api_rate" => match value.parse::<f64>() {
            Ok(r) if r.is_finite() && (0.0..=1e6).contains(&r) => c.api_rate = Some(r),
            _ => return Err(bad("expected requests per second, 0 to 1000000 (0 refuses every request)")),
        },
        "api_burst" => c.api_burst = Some(int()?),
        "architecture" => {
            c.architecture = Some(match value {
                "x86_64" => Architecture::X86_64,
                "arm64" => Architecture::Arm64,
                _ => return Err(bad("expected x86_64 or arm64")),
            });
        }
        "dynamodb_capacity" => {
            c.dynamodb = Some(match value {
                "on-demand" => TableCapacity::OnDemand,
                _ => provisioned(value).ok_or_else(|| {
                    bad("expected on-demand, or provisioned read/write capacity units such as 500/100 (1 to 1000000 each)")
                })?,
            });
        }
        _ => return Err(WhatIfError::Unknown { name: name.into() }),
    }
    Ok(())
}

/// The rules the local stack's configuration enforces, so no configuration is one AWS refuses.
/// An error names the setting the grid changed (the run's own reservation is not one).
fn check(c: &Configuration) -> Result<(), WhatIfError> {
    let f = &c.function;
    let keep = local_stack::rules::UNRESERVED_MINIMUM;
    let most = f.account_concurrency.saturating_sub(keep);
    let given = |name: &str| c.settings.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let refuse = |name: &str, why: String| {
        Err(WhatIfError::Value { name: name.into(), value: given(name).unwrap_or_default(), why })
    };
    if f.reserved && f.concurrency > most {
        return match given("reserved_concurrency") {
            Some(_) => refuse(
                "reserved_concurrency",
                format!(
                    "AWS keeps {keep} of the account's {} unreserved: reserve at most {most}",
                    f.account_concurrency
                ),
            ),
            None => refuse(
                "account_concurrency",
                format!(
                    "AWS keeps {keep} unreserved, which leaves less than the run's reservation of {}: use at least {} \
                     or add --set reserved_concurrency=unreserved",
                    f.concurrency,
                    f.concurrency + keep
                ),
            ),
        };
    }
    if f.provisioned > f.concurrency {
        return refuse(
            "provisioned_concurrency",
            format!("more than the {} environments the function may run at once", f.concurrency),
        );
    }
    if !f.reserved && f.provisioned > most {
        return refuse(
            "provisioned_concurrency",
            format!(
                "without a reservation AWS keeps {keep} of the account's {} unreserved: at most {most}",
                f.account_concurrency
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FunctionSpec {
        FunctionSpec::with_reservation(5)
    }

    #[test]
    fn traffic_factors_read_as_written() {
        assert_eq!(traffic("10x"), Ok(10.0));
        assert_eq!(traffic("0.5X"), Ok(0.5));
        assert_eq!(traffic("3"), Ok(3.0));
        for bad in ["0x", "-2x", "x", "tenx", "NaNx", "infx", "1e-300x"] {
            assert!(matches!(traffic(bad), Err(WhatIfError::Traffic(_))), "{bad}");
        }
        assert_eq!(traffic_list("1x,2x, 10x"), Ok(vec![1.0, 2.0, 10.0]));
        assert!(traffic_list("1x,1x").is_err() && traffic_list("1x,").is_err());
        let g = grid(&base(), &["reserved_concurrency=10,50".into()], &[1.0, 3.0]).unwrap();
        assert_eq!(g.iter().map(|c| c.traffic).collect::<Vec<_>>(), [1.0, 1.0, 3.0, 3.0]);
        assert_eq!(g[2].settings[0], ("traffic".into(), "3x".into()));
    }

    #[test]
    fn a_grid_is_every_combination_in_order() {
        let g =
            grid(&base(), &["reserved_concurrency=10,50".into(), "provisioned_concurrency=0,5".into()], &[]).unwrap();
        let got: Vec<(u32, u32)> = g.iter().map(|c| (c.function.concurrency, c.function.provisioned)).collect();
        assert_eq!(got, [(10, 0), (10, 5), (50, 0), (50, 5)]);
        assert_eq!(
            g[1].settings,
            [("reserved_concurrency".into(), "10".into()), ("provisioned_concurrency".into(), "5".into())]
        );
        assert_eq!(grid(&base(), &[], &[]).unwrap().len(), 1);
        let m = grid(&base(), &["memory_mb=512,2048".into(), "architecture=arm64".into()], &[]).unwrap();
        assert_eq!(m.iter().map(|c| c.function.memory_mb).collect::<Vec<_>>(), [512, 2048]);
        assert!(m.iter().all(|c| c.architecture == Some(Architecture::Arm64)));
        let unreserved = grid(&base(), &["reserved_concurrency=unreserved".into()], &[]).unwrap();
        assert_eq!((unreserved[0].function.reserved, unreserved[0].function.concurrency), (false, 1000));
    }

    #[test]
    fn bad_what_ifs_name_the_flag_and_the_fix() {
        let err =
            |sets: &[&str]| grid(&base(), &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &[]).unwrap_err();
        assert!(matches!(err(&["memory=256"]), WhatIfError::Unknown { .. }));
        assert!(err(&["memory=256"]).to_string().contains("memory_mb"));
        assert!(err(&["memory_mb=64"]).to_string().contains("from 128 to 10240"));
        assert!(err(&["memory_mb=1.5"]).to_string().contains("whole megabytes"));
        assert!(err(&["architecture=arm"]).to_string().contains("x86_64 or arm64"));
        assert!(matches!(err(&["reserved_concurrency"]), WhatIfError::Syntax(_)));
        assert!(matches!(err(&["reserved_concurrency=1,,2"]), WhatIfError::Syntax(_)));
        assert!(matches!(err(&["reserved_concurrency=1", "reserved_concurrency=2"]), WhatIfError::Twice(_)));
        assert!(err(&["reserved_concurrency=5.5"]).to_string().contains("whole number"));
        assert!(err(&["reserved_concurrency=99999999999999999999"]).to_string().contains("whole number"));
        assert!(err(&["reserved_concurrency=2000000"]).to_string().contains("at most 1000000"));
        assert!(err(&["reserved_concurrency=5,5"]).to_string().contains("listed twice"));
        assert!(err(&["keep_warm=300ss"]).to_string().contains("expected seconds"));
        for bad in ["duration_factor=0", "duration_factor=nan", "duration_factor=101", "duration_factor=2y"] {
            assert!(err(&[bad]).to_string().contains("from 0.01 to 100"), "{bad}");
        }
        let slower = grid(&base(), &["duration_factor=1.5x,1".into()], &[]).unwrap();
        assert_eq!(slower.iter().map(|c| c.duration_factor).collect::<Vec<_>>(), [1.5, 1.0]);
        assert!(matches!(err(&["=5"]), WhatIfError::Syntax(_)));
        let blame = err(&["account_concurrency=10"]).to_string();
        assert!(blame.contains("--set account_concurrency=10") && blame.contains("unreserved"), "{blame}");
        let pc = err(&["reserved_concurrency=unreserved", "provisioned_concurrency=1000"]).to_string();
        assert!(pc.contains("at most 900"), "{pc}");
        assert!(err(&["reserved_concurrency=950"]).to_string().contains("at most 900"));
        assert!(err(&["provisioned_concurrency=6"]).to_string().contains("more than the 5"));
        let many: Vec<String> = ["reserved_concurrency", "provisioned_concurrency", "keep_warm"]
            .iter()
            .map(|n| format!("{n}={}", (0..11).map(|i| i.to_string()).collect::<Vec<_>>().join(",")))
            .collect();
        assert!(matches!(grid(&base(), &many, &[]), Err(WhatIfError::TooMany(1331))));
    }
}
