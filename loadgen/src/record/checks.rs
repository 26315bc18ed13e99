//! What the responses' checks found, per request kind: how many were checked, how many failed,
//! and the first few failures as a reader needs them — the status, what was wrong, and the body
//! cut short with anything that looks like a credential taken out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a credential-like value is shown as: the mark results.json uses for every secret.
const REDACTED: &str = "<redacted>";

/// One failed check, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckFailure {
    /// The response's status.
    pub status: u16,
    /// What was not as asked.
    pub reason: String,
    /// The body, cut short, credential-like fields redacted.
    pub body: String,
}

/// Failures kept per request kind.
pub const KEPT: usize = 3;
/// Characters of a failing body kept.
pub const BODY_CHARS: usize = 300;

/// Checks of one request kind.
#[derive(Debug, Clone, Default)]
pub struct CheckSum {
    /// Responses checked.
    pub checked: u64,
    /// Of them, failed.
    pub failed: u64,
    /// The first failures.
    pub first: Vec<CheckFailure>,
}

/// JSON keys whose values are never shown.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "authorization", "api_key", "apikey", "api-key", "credential", "cookie"]
        .iter()
        .any(|s| k.contains(s))
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if secret_key(k) {
                    *x = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_json(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A body as the report shows it: JSON with credential-like fields redacted (other text as
/// is), control characters replaced, at most [`BODY_CHARS`] characters.
pub fn shown(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            redact_json(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(BODY_CHARS).collect();
    if text.chars().count() > BODY_CHARS {
        out.push('…');
    }
    out
}

impl CheckSum {
    /// Counts one checked response, keeping the first failures.
    pub fn record(&mut self, status: u16, failure: Option<(String, &[u8])>) {
        self.checked += 1;
        if let Some((reason, body)) = failure {
            self.failed += 1;
            if self.first.len() < KEPT {
                self.first.push(CheckFailure { status, reason, body: shown(body) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_bodies_are_cut_and_lose_their_credentials() {
        let s = shown(br#"{"id":"a","accessToken":"eyJhbGci","nested":{"password":"p"}}"#);
        assert!(!s.contains("eyJhbGci") && !s.contains("\"p\"") && s.contains("\"id\":\"a\""), "{s}");
        let long = "x".repeat(1000);
        assert_eq!(shown(long.as_bytes()).chars().count(), BODY_CHARS + 1);
        assert_eq!(shown(b"a\r\nb"), "a  b");
    }
}
