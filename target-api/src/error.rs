//! The function's error responses: one enum, each variant with its status, kind and a message safe to show.

use std::fmt;

/// Largest request body the function accepts, in bytes (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every way a request can fail. The `Display` text is what the client reads, so it names the
/// offending field and never carries SDK or internal detail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message says which part and what is expected.
    #[error("{0}")]
    BadRequest(String),
    /// No item with this id.
    #[error("item '{0}' not found")]
    ItemNotFound(String),
    /// No route serves this path.
    #[error("no route for path '{0}'")]
    NoRoute(String),
    /// The path exists but not for this method; `allow` lists the methods it takes.
    #[error("method {method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed {
        /// The method the client sent.
        method: String,
        /// Comma-separated methods the path accepts (the `Allow` header).
        allow: &'static str,
    },
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("request body is {0} bytes; the limit is {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge(usize),
    /// DynamoDB throttled the request and retries did not get it through.
    #[error("DynamoDB is throttling this table; retry after the Retry-After delay")]
    DynamoThrottled,
    /// Anything else went wrong; details go to the log, never to the client.
    #[error("internal error")]
    Internal,
}

/// Machine-readable class of an [`ApiError`], sent as the `error` field and, dash-separated,
/// as the `x-error-kind` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400.
    BadRequest,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 413.
    PayloadTooLarge,
    /// 503 with `Retry-After`.
    DynamodbThrottled,
    /// 500.
    Internal,
}

impl ErrorKind {
    /// The snake-case name used in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::DynamodbThrottled => "dynamodb_throttled",
            ErrorKind::Internal => "internal",
        }
    }

    /// The dash-separated name used in the `x-error-kind` header (the harness matches on it).
    pub fn header_value(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::NotFound => "not-found",
            ErrorKind::MethodNotAllowed => "method-not-allowed",
            ErrorKind::PayloadTooLarge => "payload-too-large",
            ErrorKind::DynamodbThrottled => "dynamodb-throttled",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ApiError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self.kind() {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::DynamodbThrottled => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::BadRequest(_) => ErrorKind::BadRequest,
            ApiError::ItemNotFound(_) | ApiError::NoRoute(_) => ErrorKind::NotFound,
            ApiError::MethodNotAllowed { .. } => ErrorKind::MethodNotAllowed,
            ApiError::PayloadTooLarge(_) => ErrorKind::PayloadTooLarge,
            ApiError::DynamoThrottled => ErrorKind::DynamodbThrottled,
            ApiError::Internal => ErrorKind::Internal,
        }
    }

    /// The JSON body: `{"error": kind, "message": text}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.kind().as_str(), "message": self.to_string() }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_with_kind_and_message() {
        let e = ApiError::BadRequest("field 'id' must be a string".into());
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"], "bad_request");
        assert_eq!(v["message"], "field 'id' must be a string");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn statuses_follow_kinds() {
        assert_eq!(ApiError::ItemNotFound("a".into()).status(), 404);
        assert_eq!(ApiError::NoRoute("/x".into()).status(), 404);
        let e = ApiError::MethodNotAllowed { method: "PUT".into(), allow: "GET" };
        assert_eq!(e.status(), 405);
        assert_eq!(ApiError::PayloadTooLarge(70_000).status(), 413);
        assert_eq!(ApiError::DynamoThrottled.status(), 503);
        assert_eq!(ApiError::DynamoThrottled.kind().header_value(), "dynamodb-throttled");
        assert_eq!(ApiError::Internal.status(), 500);
        assert_eq!(ApiError::Internal.body(), r#"{"error":"internal","message":"internal error"}"#);
    }
}
