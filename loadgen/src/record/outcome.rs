//! Outcome classes: what one response says about which layer answered, recognised from the
//! status, the body and the headers as AWS sends them (the README's table of classes). On the
//! local stack the emulator's `x-local-stack-cause` header names the true cause; it only checks
//! the heuristic, and disagreements are counted. [`ClassCounts`] is the one way counts per
//! class are kept, so every reader indexes them by [`Class`], never by name.

use std::ops::{AddAssign, Index};

/// The class of one request's outcome.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// 2xx/3xx, or a status the request expects.
    Ok,
    /// Another 4xx from the function.
    ClientError,
    /// 429 `{"message":"Too Many Requests"}` from API Gateway.
    ApigwThrottled,
    /// 500 `{"message":"Internal Server Error"}` without the function's diagnostic headers.
    LambdaThrottled,
    /// 5xx carrying the function's diagnostic headers (or the gateway's 500 for a function error).
    FunctionError,
    /// 503 from the function with `x-error-kind: dynamodb-throttled`.
    DynamodbThrottled,
    /// 503 `{"message":"Service Unavailable"}` (integration timeout) or the client's own timeout.
    Timeout,
    /// Connect, reset or TLS failure.
    TransportError,
}

/// Every class, in report order.
pub const ALL: [Class; 8] = [
    Class::Ok,
    Class::ClientError,
    Class::ApigwThrottled,
    Class::LambdaThrottled,
    Class::FunctionError,
    Class::DynamodbThrottled,
    Class::Timeout,
    Class::TransportError,
];

impl Class {
    /// Snake-case name (thresholds, results).
    pub fn name(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::ClientError => "client_error",
            Class::ApigwThrottled => "apigw_throttled",
            Class::LambdaThrottled => "lambda_throttled",
            Class::FunctionError => "function_error",
            Class::DynamodbThrottled => "dynamodb_throttled",
            Class::Timeout => "timeout",
            Class::TransportError => "transport_error",
        }
    }

    /// The class of this name (`lambda_throttled`), as thresholds and results write it.
    pub fn from_name(name: &str) -> Option<Class> {
        ALL.into_iter().find(|c| c.name() == name)
    }

    /// Index into per-class arrays: the position in [`ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A throttle by any layer.
    pub fn is_throttle(self) -> bool {
        matches!(self, Class::ApigwThrottled | Class::LambdaThrottled | Class::DynamodbThrottled)
    }

    /// A failure that is not a throttle.
    pub fn is_error(self) -> bool {
        matches!(self, Class::ClientError | Class::FunctionError | Class::Timeout | Class::TransportError)
    }
}

/// Completed requests per outcome class. In results.json it is an object keyed by class name
/// (`{"ok": 120, "lambda_throttled": 4, …}`, every class present); in the per-second series an
/// array in [`ALL`] order ([`array`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts([u64; ALL.len()]);

impl ClassCounts {
    /// Counts in [`ALL`] order.
    pub fn from_array(counts: [u64; ALL.len()]) -> Self {
        ClassCounts(counts)
    }

    /// Counts in [`ALL`] order.
    pub fn as_array(&self) -> &[u64; ALL.len()] {
        &self.0
    }

    /// Adds `n` to `class`.
    pub fn add(&mut self, class: Class, n: u64) {
        self.0[class.index()] += n;
    }

    /// Every class together.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The classes `keep` selects, together.
    pub fn sum(&self, keep: impl Fn(Class) -> bool) -> u64 {
        ALL.into_iter().filter(|c| keep(*c)).map(|c| self[c]).sum()
    }

    /// The share of all responses `keep` selects; `None` when there were none.
    pub fn share(&self, keep: impl Fn(Class) -> bool) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.sum(keep) as f64 / total as f64)
    }

    /// Failures that are not throttles ([`Class::is_error`]).
    pub fn errors(&self) -> u64 {
        self.sum(Class::is_error)
    }

    /// Throttles by any layer ([`Class::is_throttle`]).
    pub fn throttles(&self) -> u64 {
        self.sum(Class::is_throttle)
    }

    /// `(class, count)` in [`ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Class, u64)> + '_ {
        ALL.into_iter().map(|c| (c, self[c]))
    }
}

impl Index<Class> for ClassCounts {
    type Output = u64;
    fn index(&self, class: Class) -> &u64 {
        &self.0[class.index()]
    }
}

impl AddAssign<&ClassCounts> for ClassCounts {
    fn add_assign(&mut self, other: &ClassCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

impl serde::Serialize for ClassCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(ALL.len()))?;
        for (c, n) in self.iter() {
            m.serialize_entry(c.name(), &n)?;
        }
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for ClassCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let by_name = std::collections::BTreeMap::<Class, u64>::deserialize(d)?;
        let mut counts = ClassCounts::default();
        for (c, n) in by_name {
            counts.add(c, n);
        }
        Ok(counts)
    }
}

impl schemars::JsonSchema for ClassCounts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClassCounts".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let count = serde_json::json!({ "type": "integer", "minimum": 0 });
        let properties: serde_json::Map<String, serde_json::Value> =
            ALL.iter().map(|c| (c.name().to_owned(), count.clone())).collect();
        schemars::json_schema!({
            "description": "Completed requests per outcome class.",
            "type": "object",
            "properties": properties,
            "additionalProperties": false
        })
    }
}

/// [`ClassCounts`] as an array of counts in [`ALL`] order (`#[serde(with = "array")]`), the
/// compact form of the per-second series.
pub mod array {
    use super::{ALL, ClassCounts};

    /// Writes the counts as an array.
    pub fn serialize<S: serde::Serializer>(c: &ClassCounts, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(c.as_array(), s)
    }

    /// Reads an array of counts.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ClassCounts, D::Error> {
        <[u64; ALL.len()] as serde::Deserialize>::deserialize(d).map(ClassCounts::from_array)
    }
}

/// What classification looks at in a response.
#[derive(Debug, Clone, Default)]
pub struct Seen<'a> {
    /// HTTP status.
    pub status: u16,
    /// The body (only its start matters).
    pub body: &'a [u8],
    /// `x-env-id` present: the function produced this response.
    pub has_diagnostics: bool,
    /// `x-error-kind`.
    pub error_kind: Option<&'a str>,
    /// `x-local-stack-cause` (emulator only).
    pub emulator_cause: Option<&'a str>,
}

fn gateway_body(body: &[u8], message: &str) -> bool {
    let trimmed = body.trim_ascii();
    trimmed == format!(r#"{{"message":"{message}"}}"#).as_bytes()
}

/// Classifies by AWS-visible signals alone.
pub fn heuristic(s: &Seen<'_>, expect: &[u16]) -> Class {
    let status = s.status;
    if (200..400).contains(&status) || expect.contains(&status) {
        return Class::Ok;
    }
    match status {
        429 if !s.has_diagnostics && gateway_body(s.body, "Too Many Requests") => Class::ApigwThrottled,
        503 if s.error_kind == Some("dynamodb-throttled") => Class::DynamodbThrottled,
        503 if !s.has_diagnostics && gateway_body(s.body, "Service Unavailable") => Class::Timeout,
        504 if !s.has_diagnostics => Class::Timeout,
        // The gateway's bare 500: on AWS a Lambda throttle and a crashed or timed-out function
        // look alike; CloudWatch's Throttles settles which (the cost stage's reconciliation),
        // so call it a throttle.
        500 if !s.has_diagnostics && gateway_body(s.body, "Internal Server Error") => Class::LambdaThrottled,
        400..=499 => Class::ClientError,
        _ => Class::FunctionError,
    }
}

/// Whether API Gateway itself refused the request at authorization (not billed, never an
/// invocation): the local stack says so; on AWS, a 401/403 without the function's diagnostics
/// whose body is one of the gateway's messages — a JWT authorizer's `Unauthorized`,
/// `Forbidden`, IAM's SigV4 errors — a heuristic, as a function may answer the same.
pub fn denied_at_authorization(s: &Seen<'_>) -> bool {
    if let Some(c) = s.emulator_cause {
        return matches!(c, "iam-denied" | "jwt-denied");
    }
    const SIGV4: [&[u8]; 3] = [
        br#"{"message":"The security token"#,
        br#"{"message":"The request signature"#,
        br#"{"message":"Signature expired"#,
    ];
    !s.has_diagnostics
        && matches!(s.status, 401 | 403)
        && (gateway_body(s.body, "Unauthorized")
            || gateway_body(s.body, "Forbidden")
            || SIGV4.iter().any(|p| s.body.trim_ascii().starts_with(p)))
}

/// The class, and whether the emulator's true cause disagreed with the heuristic.
pub fn classify(s: &Seen<'_>, expect: &[u16]) -> (Class, bool) {
    let guess = heuristic(s, expect);
    let truth = match s.emulator_cause {
        Some("lambda-throttled") => Some(Class::LambdaThrottled),
        Some("function-error" | "malformed-response") => Some(Class::FunctionError),
        Some("apigw-throttled") => Some(Class::ApigwThrottled),
        Some("integration-timeout") => Some(Class::Timeout),
        _ => None,
    };
    match truth {
        Some(t) if t != guess && guess != Class::Ok => (t, true),
        _ => (guess, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16, body: &'static str, diag: bool) -> Seen<'static> {
        Seen { status, body: body.as_bytes(), has_diagnostics: diag, ..Default::default() }
    }

    #[test]
    fn refusals_at_authorization_are_the_gateways_own() {
        assert!(denied_at_authorization(&seen(401, r#"{"message":"Unauthorized"}"#, false)));
        assert!(denied_at_authorization(&seen(403, r#"{"message":"Signature expired: x"}"#, false)));
        assert!(!denied_at_authorization(&seen(403, r#"{"message":"Forbidden"}"#, true)), "the function's own");
        assert!(!denied_at_authorization(&seen(404, r#"{"message":"Not Found"}"#, false)));
        let local = Seen { emulator_cause: Some("jwt-denied"), ..seen(401, "{}", false) };
        assert!(denied_at_authorization(&local));
    }

    #[test]
    fn aws_signals() {
        assert_eq!(heuristic(&seen(200, "{}", true), &[]), Class::Ok);
        assert_eq!(heuristic(&seen(404, "{}", true), &[404]), Class::Ok);
        assert_eq!(heuristic(&seen(404, r#"{"error":"not_found"}"#, true), &[]), Class::ClientError);
        assert_eq!(heuristic(&seen(404, r#"{"message":"Not Found"}"#, false), &[]), Class::ClientError);
        assert_eq!(heuristic(&seen(429, r#"{"message":"Too Many Requests"}"#, false), &[]), Class::ApigwThrottled);
        assert_eq!(heuristic(&seen(500, r#"{"message":"Internal Server Error"}"#, false), &[]), Class::LambdaThrottled);
        assert_eq!(heuristic(&seen(500, r#"{"error":"internal"}"#, true), &[]), Class::FunctionError);
        assert_eq!(heuristic(&seen(503, r#"{"message":"Service Unavailable"}"#, false), &[]), Class::Timeout);
        let mut ddb = seen(503, r#"{"error":"dynamodb_throttled"}"#, true);
        ddb.error_kind = Some("dynamodb-throttled");
        assert_eq!(heuristic(&ddb, &[]), Class::DynamodbThrottled);
    }

    #[test]
    fn the_emulator_settles_the_ambiguous_500() {
        let mut s = seen(500, r#"{"message":"Internal Server Error"}"#, false);
        s.emulator_cause = Some("function-error");
        assert_eq!(classify(&s, &[]), (Class::FunctionError, true));
        s.emulator_cause = Some("lambda-throttled");
        assert_eq!(classify(&s, &[]), (Class::LambdaThrottled, false));
    }

    #[test]
    fn groups() {
        assert!(Class::LambdaThrottled.is_throttle() && !Class::LambdaThrottled.is_error());
        assert!(Class::Timeout.is_error());
        assert_eq!(ALL.iter().map(|c| c.index()).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
        assert!(ALL.iter().all(|c| Class::from_name(c.name()) == Some(*c)));
        assert_eq!(Class::from_name("lambda"), None);
    }

    #[test]
    fn counts_are_objects_in_results_and_arrays_in_the_series() {
        let mut c = ClassCounts::default();
        c.add(Class::Ok, 3);
        c.add(Class::LambdaThrottled, 1);
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.starts_with(r#"{"ok":3,"client_error":0,"apigw_throttled":0,"lambda_throttled":1"#), "{text}");
        assert_eq!(serde_json::from_str::<ClassCounts>(&text).unwrap(), c);
        assert!(serde_json::from_str::<ClassCounts>(r#"{"okay":1}"#).is_err(), "unknown classes are refused");
        assert_eq!((c.total(), c.throttles(), c.errors()), (4, 1, 0));
        assert_eq!(c.share(|x| x == Class::Ok), Some(0.75));
        assert_eq!(ClassCounts::default().share(|_| true), None);
    }
}
