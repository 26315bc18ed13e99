//! Outcome classes: what one response says about which layer answered, recognised from the
//! status, the body and the headers as AWS sends them (design.md's table). On the local stack
//! the emulator's `x-local-stack-cause` header names the true cause; it only checks the
//! heuristic, and disagreements are counted.

/// The class of one request's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
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

    /// Index into per-class arrays.
    pub fn index(self) -> usize {
        ALL.iter().position(|c| *c == self).unwrap_or(0)
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
        // look alike; CloudWatch's Throttles settles which (cost issue), so call it a throttle.
        500 if !s.has_diagnostics && gateway_body(s.body, "Internal Server Error") => Class::LambdaThrottled,
        400..=499 => Class::ClientError,
        _ => Class::FunctionError,
    }
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
        assert_eq!(ALL.map(|c| c.name()).as_slice(), crate::scenario::threshold::CLASSES);
    }
}
