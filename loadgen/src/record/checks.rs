//! What the responses' checks found, per request kind: how many were checked, how many failed,
//! and the first few failures as a reader needs them — the status, what was wrong, and the body
//! cut short with anything that looks like a credential taken out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckSum {
    /// Responses checked.
    pub checked: u64,
    /// Of them, failed.
    pub failed: u64,
    /// The first failures.
    pub first: Vec<CheckFailure>,
}

/// What a secret is shown as, in every output (results.json's header values too).
pub const REDACTED: &str = "<redacted>";

/// Words that make a key or header name a credential's: its value is never shown.
const SECRET_WORDS: [&str; 10] =
    ["token", "secret", "password", "passwd", "authorization", "api_key", "apikey", "api-key", "credential", "cookie"];

/// Whether a JSON key or header name holds a credential.
pub fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|s| k.contains(s))
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

/// Text that is not JSON (or JSON cut short) with the value after each credential-like key
/// taken out: `"token":"…`, `password=…`, `Authorization: Bearer …`. A quoted value ends at
/// its closing quote (or the end of the text, when cut short), another at a delimiter.
fn redact_pairs(text: &str) -> String {
    // ASCII lowercasing keeps every byte where it was, so offsets found in `lower` hold in `text`
    // and, being next to ASCII bytes, are character boundaries.
    let lower = text.to_ascii_lowercase();
    let b = text.as_bytes();
    let skip = |mut i: usize, f: &dyn Fn(u8) -> bool| {
        while i < b.len() && f(b[i]) {
            i += 1;
        }
        i
    };
    let (mut out, mut at) = (String::with_capacity(text.len()), 0);
    while let Some((hit, len)) =
        SECRET_WORDS.iter().filter_map(|w| lower[at..].find(w).map(|i| (at + i, w.len()))).min()
    {
        let key_end = skip(hit + len, &|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        let sep = skip(key_end, &|c| matches!(c, b'"' | b'\'' | b' ' | b'\t'));
        if sep < b.len() && matches!(b[sep], b':' | b'=') {
            let mut v = skip(sep + 1, &|c| matches!(c, b' ' | b'\t'));
            let quote = (v < b.len() && matches!(b[v], b'"' | b'\'')).then(|| b[v]);
            v += usize::from(quote.is_some());
            let end_of = |from: usize| match quote {
                Some(q) => skip(from, &|c| c != q),
                None => skip(from, &|c| !matches!(c, b'&' | b',' | b';' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | b'<')),
            };
            let mut end = end_of(v);
            // `Bearer abc`: the scheme stays, the credential goes.
            if quote.is_none() && matches!(&lower[v..end], "bearer" | "basic") {
                v = skip(end, &|c| c == b' ');
                end = end_of(v);
            }
            if end > v {
                out.push_str(&text[at..v]);
                out.push_str(REDACTED);
                at = end;
                continue;
            }
        }
        out.push_str(&text[at..key_end]);
        at = key_end;
    }
    out.push_str(&text[at..]);
    out
}

/// A body as the report shows it: credential-like fields redacted (in JSON by key, in other
/// text by the `key: value` / `key=value` around them), `secrets` (the scenario's, `Plan::secrets`) taken
/// out wherever they appear, control characters replaced, at most [`BODY_CHARS`] characters.
pub fn shown(body: &[u8], secrets: &[String]) -> String {
    let mut text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            redact_json(&mut v);
            v.to_string()
        }
        Err(_) => redact_pairs(&String::from_utf8_lossy(body)),
    };
    for s in secrets {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), REDACTED);
        }
    }
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(BODY_CHARS).collect();
    if text.chars().count() > BODY_CHARS {
        out.push('…');
    }
    out
}

impl CheckSum {
    /// Counts one checked response, keeping the first failures (formatted only for those).
    pub fn record(&mut self, status: u16, failure: Option<(&dyn std::fmt::Display, &[u8])>, secrets: &[String]) {
        self.checked += 1;
        if let Some((why, body)) = failure {
            self.failed += 1;
            if self.first.len() < KEPT {
                // As short as the body: a reason quoting the response must not make a fleet
                // worker's answer unbounded.
                let reason = why.to_string();
                let mut short: String =
                    reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(BODY_CHARS).collect();
                if reason.chars().count() > BODY_CHARS {
                    short.push('…');
                }
                self.first.push(CheckFailure { status, reason: short, body: shown(body, secrets) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_bodies_are_cut_and_lose_their_credentials() {
        let s = shown(br#"{"id":"a","accessToken":"eyJhbGci","nested":{"password":"p"}}"#, &[]);
        assert!(!s.contains("eyJhbGci") && !s.contains("\"p\"") && s.contains("\"id\":\"a\""), "{s}");
        let long = "x".repeat(1000);
        assert_eq!(shown(long.as_bytes(), &[]).chars().count(), BODY_CHARS + 1);
        assert_eq!(shown(b"a\r\nb", &[]), "a  b");
    }

    #[test]
    fn text_and_cut_json_lose_their_credentials_too() {
        // JSON cut short by the 512 bytes classification keeps.
        let s = shown(br#"{"id":"a","sessionToken":"eyJhbGciOi"#, &[]);
        assert_eq!(s, r#"{"id":"a","sessionToken":"<redacted>"#);
        let s = shown(b"grant=x&access_token=abc123&password = hunter2&n=1", &[]);
        assert_eq!(s, "grant=x&access_token=<redacted>&password = <redacted>&n=1");
        let s = shown(b"<p>Authorization: Bearer eyJ.x.y</p> 'api_key': 'k 1'", &[]);
        assert_eq!(s, "<p>Authorization: Bearer <redacted></p> 'api_key': '<redacted>'");
        assert_eq!(shown("tokené: é".as_bytes(), &[]), "tokené: é", "a key word inside other text is left");
        // A secret of the scenario's, echoed anywhere, goes too.
        let secrets = ["s3cr3t-value".to_owned()];
        assert_eq!(shown(b"bad key s3cr3t-value", &secrets), "bad key <redacted>");
        assert_eq!(shown(br#"{"message":"no s3cr3t-value"}"#, &secrets), r#"{"message":"no <redacted>"}"#);
    }
}
