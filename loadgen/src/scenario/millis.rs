//! Durations in results.json are milliseconds (`"duration": 4000.0`): serde helpers for the
//! plan's `Duration` fields, so every document reads the same way whatever the field.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

fn from_ms<E: serde::de::Error>(ms: f64) -> Result<Duration, E> {
    Duration::try_from_secs_f64(ms / 1e3).map_err(|_| E::custom(format!("{ms} is not a duration in ms")))
}

/// Serializes a `Duration` as ms (f64).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// Reads ms (f64) into a `Duration`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_ms(f64::deserialize(d)?)
}

/// The same for `Option<Duration>` (null when absent).
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as ms (f64) or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs_f64() * 1e3)),
            None => s.serialize_none(),
        }
    }

    /// Reads ms (f64) or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?.map(super::from_ms).transpose()
    }
}
