//! Latency profiles: named data files (`profiles/*.toml`) of log-normal delays the emulators
//! add per component and operation, sampled from a seeded generator.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// Profiles shipped with the crate, by name.
const BUILTIN: &[(&str, &str)] =
    &[("aws-typical", include_str!("../profiles/aws-typical.toml")), ("none", include_str!("../profiles/none.toml"))];

/// The names of the built-in profiles.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A delay distribution: log-normal through its median and 99th percentile.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dist {
    /// Median, ms.
    pub median_ms: f64,
    /// 99th percentile, ms (≥ median).
    pub p99_ms: f64,
}

impl Dist {
    /// No delay.
    pub const ZERO: Dist = Dist { median_ms: 0.0, p99_ms: 0.0 };

    /// The log-normal's σ.
    fn sigma(&self) -> f64 {
        // z(0.99) of the standard normal.
        const Z99: f64 = 2.326_347_874;
        (self.p99_ms.max(self.median_ms) / self.median_ms).ln() / Z99
    }

    /// The mean delay, ms: median × e^(σ²/2), as a log-normal's is (what a simulation that
    /// adds it as a constant needs).
    pub fn mean_ms(&self) -> f64 {
        if self.median_ms <= 0.0 {
            return 0.0;
        }
        self.median_ms * (self.sigma() * self.sigma() / 2.0).exp()
    }

    /// Draws one delay. `z` is a standard normal variate.
    fn at(&self, z: f64) -> Duration {
        if self.median_ms <= 0.0 {
            return Duration::ZERO;
        }
        let sigma = self.sigma();
        let ms = (self.median_ms.ln() + sigma * z).exp();
        Duration::from_secs_f64(ms.min(60_000.0) / 1e3)
    }
}

/// API Gateway part of a profile.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApigwProfile {
    /// Gateway overhead per request.
    pub overhead: Dist,
}

/// Lambda part of a profile.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LambdaProfile {
    /// Service overhead per invoke.
    pub invoke_overhead: Dist,
    /// Sandbox set-up before a new environment's INIT.
    pub cold_start_platform: Dist,
}

/// A whole latency profile as written in its file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name (what scenarios say).
    pub name: String,
    /// One line on what it models.
    pub description: String,
    /// API Gateway delays.
    pub apigw: ApigwProfile,
    /// Lambda delays.
    pub lambda: LambdaProfile,
    /// DynamoDB delays by operation name, with `default` for the rest.
    pub dynamodb: HashMap<String, Dist>,
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No built-in profile has this name and no such file exists.
    #[error("unknown latency profile '{name}': use one of {known:?} or a path to a profile .toml file")]
    Unknown {
        /// What was asked for.
        name: String,
        /// Built-in names.
        known: Vec<&'static str>,
    },
    /// The file could not be read.
    #[error("cannot read latency profile {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid profile.
    #[error("latency profile {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

impl Profile {
    /// Loads a built-in profile by name, or a profile file by path.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, name_or_path);
        }
        if name_or_path.ends_with(".toml") {
            let text = std::fs::read_to_string(name_or_path)
                .map_err(|source| ProfileError::Read { path: name_or_path.to_owned(), source })?;
            return Self::parse(&text, name_or_path);
        }
        Err(ProfileError::Unknown { name: name_or_path.to_owned(), known: builtin_names() })
    }

    fn parse(text: &str, path: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text)
            .map_err(|e| ProfileError::Invalid { path: path.to_owned(), message: e.to_string() })?;
        let all = [("apigw.overhead", &p.apigw.overhead), ("lambda.invoke_overhead", &p.lambda.invoke_overhead)]
            .into_iter()
            .chain([("lambda.cold_start_platform", &p.lambda.cold_start_platform)])
            .map(|(k, d)| (k.to_owned(), *d))
            .chain(p.dynamodb.iter().map(|(k, d)| (format!("dynamodb.{k}"), *d)));
        for (key, d) in all {
            if !(d.median_ms >= 0.0 && d.p99_ms >= d.median_ms && d.p99_ms.is_finite()) {
                return Err(ProfileError::Invalid {
                    path: path.to_owned(),
                    message: format!("{key}: need 0 <= median_ms <= p99_ms, got {d:?}"),
                });
            }
        }
        Ok(p)
    }

    /// The delay distribution of a DynamoDB operation.
    pub fn dynamodb_op(&self, op: &str) -> Dist {
        self.dynamodb.get(op).or_else(|| self.dynamodb.get("default")).copied().unwrap_or(Dist::ZERO)
    }
}

/// A seeded source of delays, shared by the emulators.
#[derive(Debug)]
pub struct Sampler {
    rng: Mutex<fastrand::Rng>,
}

impl Sampler {
    /// A sampler whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: Mutex::new(fastrand::Rng::with_seed(seed)) }
    }

    /// One draw from `dist`.
    pub fn sample(&self, dist: &Dist) -> Duration {
        if dist.median_ms <= 0.0 {
            return Duration::ZERO;
        }
        let (u1, u2) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            (rng.f64(), rng.f64())
        };
        // Box–Muller: two uniforms to one standard normal; a few lines, so no distribution crate.
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        dist.at(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_validate() {
        for name in builtin_names() {
            let p = Profile::load(name).unwrap();
            assert_eq!(p.name, name);
        }
        assert!(matches!(Profile::load("fast"), Err(ProfileError::Unknown { .. })));
        assert_eq!(Profile::load("none").unwrap().dynamodb_op("GetItem"), Dist::ZERO);
        assert_eq!(Profile::load("aws-typical").unwrap().dynamodb_op("CreateTable"), Dist::ZERO);
    }

    #[test]
    fn invalid_profiles_name_the_key() {
        let bad = "name='x'\ndescription='y'\n[apigw]\noverhead={median_ms=5.0,p99_ms=1.0}\n[lambda]\ninvoke_overhead={median_ms=0.0,p99_ms=0.0}\ncold_start_platform={median_ms=0.0,p99_ms=0.0}\n[dynamodb]\n";
        let err = Profile::parse(bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("apigw.overhead"), "{err}");
        let err = Profile::parse("name=1", "y.toml").unwrap_err().to_string();
        assert!(err.contains("y.toml"), "{err}");
    }

    #[test]
    fn samples_follow_median_and_p99() {
        let s = Sampler::new(7);
        let d = Dist { median_ms: 3.0, p99_ms: 9.0 };
        let mut v: Vec<f64> = (0..20_000).map(|_| s.sample(&d).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((2.8..3.2).contains(&median), "median {median}");
        assert!((8.0..10.0).contains(&p99), "p99 {p99}");
        let again: Vec<Duration> = (0..5).map(|_| Sampler::new(7).sample(&d)).collect();
        assert!(again.windows(2).all(|w| w[0] == w[1]), "same seed, same draws");
    }
}
