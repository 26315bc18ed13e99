//! `[stack]`: overrides of the local stack's settings, each checked against what AWS allows.

use std::time::Duration;

use super::values::{duration, int_in, positive, span};
use crate::scenario::StackOverrides;
use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawStack;

/// Validates `[stack]` (no overrides when it is absent).
pub(super) fn stack(loc: &Locator<'_>, raw: Option<&RawStack>) -> Result<StackOverrides, ScenarioError> {
    let stack = match raw {
        None => StackOverrides::default(),
        Some(s) => StackOverrides {
            reserved_concurrency: s
                .reserved_concurrency
                .as_ref()
                .map(|v| int_in(loc, v, "stack.reserved_concurrency", 0, 10_000))
                .transpose()?
                .map(|n| n as u32),
            memory_mb: s
                .memory_mb
                .as_ref()
                .map(|v| int_in(loc, v, "stack.memory_mb", 128, 10_240))
                .transpose()?
                .map(|n| n as u32),
            timeout: s.timeout.as_ref().map(|v| duration(loc, v, "stack.timeout")).transpose()?,
            keep_warm: s.keep_warm.as_ref().map(|v| duration(loc, v, "stack.keep_warm")).transpose()?,
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
                .map(|v| positive(loc, v, "stack.api_rate", "a rate in requests per second"))
                .transpose()?,
            api_burst: s
                .api_burst
                .as_ref()
                .map(|v| int_in(loc, v, "stack.api_burst", 1, 5_000_000))
                .transpose()?
                .map(|n| n as u32),
            integration_timeout: s
                .integration_timeout
                .as_ref()
                .map(|v| {
                    let d = duration(loc, v, "stack.integration_timeout")?;
                    if d < Duration::from_millis(50) || d > Duration::from_secs(30) {
                        return Err(loc.error(span(v), "stack.integration_timeout", "HTTP APIs allow 50ms to 30s"));
                    }
                    Ok(d)
                })
                .transpose()?,
            dynamodb_read_units: s
                .dynamodb_read_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_read_units", "read units per second"))
                .transpose()?,
            dynamodb_write_units: s
                .dynamodb_write_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_write_units", "write units per second"))
                .transpose()?,
        },
    };
    if let (Some(t), Some(raw_s)) = (stack.timeout, raw.and_then(|s| s.timeout.as_ref()))
        && (t < Duration::from_secs(1) || t > Duration::from_secs(900))
    {
        return Err(loc.error(span(raw_s), "stack.timeout", "Lambda allows 1s to 900s"));
    }
    Ok(stack)
}
