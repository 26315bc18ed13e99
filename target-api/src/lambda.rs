//! The Lambda edge: an API Gateway HTTP API payload 2.0 event in, a 2.0 proxy response out,
//! and one structured log line per request.
//!
//! The event is taken as raw JSON and converted here rather than through `lambda_http`'s
//! `Request`: `lambda_http` `expect`s on invalid base64 bodies and unbuildable URIs, and a
//! panic would kill the environment. Here every malformed event becomes a JSON 400.

use std::collections::BTreeMap;

use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde::Serialize;
use serde_json::Value;

use crate::app::{ApiRequest, ApiResponse, App};
use crate::error::ApiError;
use crate::store::Store;

/// The payload format 2.0 response API Gateway maps back to HTTP.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProxyResponse {
    /// HTTP status.
    pub status_code: u16,
    /// Response headers (single-valued).
    pub headers: BTreeMap<String, String>,
    /// Body text.
    pub body: String,
    /// Always false: every body is JSON text.
    pub is_base64_encoded: bool,
    /// `Set-Cookie` values; none are set.
    pub cookies: Vec<String>,
}

impl From<ApiResponse> for ProxyResponse {
    fn from(r: ApiResponse) -> Self {
        let mut headers: BTreeMap<String, String> = r.headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if !r.body.is_empty() {
            headers.insert("content-type".into(), "application/json".into());
        }
        ProxyResponse { status_code: r.status, headers, body: r.body, is_base64_encoded: false, cookies: Vec::new() }
    }
}

/// Converts a payload 2.0 event into an [`ApiRequest`], or says what is wrong with it.
pub fn request_from_event(event: Value) -> Result<ApiRequest, ApiError> {
    let ev: ApiGatewayV2httpRequest = serde_json::from_value(event)
        .map_err(|e| ApiError::BadRequest(format!("event is not an API Gateway HTTP API payload 2.0 event: {e}")))?;
    let method = ev.request_context.http.method.as_str().to_owned();
    let raw_path = ev.raw_path.clone().or(ev.request_context.http.path.clone()).unwrap_or_else(|| "/".into());
    let path = strip_stage(&raw_path, ev.request_context.stage.as_deref()).to_owned();
    let query = ev.raw_query_string.clone().unwrap_or_default();
    let body = match ev.body {
        None => Vec::new(),
        Some(text) if ev.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|_| ApiError::BadRequest("body is marked base64 but is not valid base64".into()))?,
        Some(text) => text.into_bytes(),
    };
    Ok(ApiRequest { method, path, query, body })
}

/// On a named stage without a custom domain, `rawPath` starts with `/<stage>`; routes do not.
fn strip_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
                Some("") => "/",
                Some(rest) if rest.starts_with('/') => rest,
                _ => path,
            }
        }
        _ => path,
    }
}

impl<S: Store> App<S> {
    /// Handles one Lambda invocation: converts, serves, logs one line, returns the proxy
    /// response. `request_id` is the Lambda request id.
    pub async fn invoke(&self, event: Value, request_id: &str) -> ProxyResponse {
        let served = match request_from_event(event) {
            Ok(req) => {
                let s = self.serve(&req).await;
                log_request(request_id, &req.method, &s);
                s
            }
            Err(e) => {
                let s = self.reject(&e);
                log_request(request_id, "", &s);
                s
            }
        };
        served.response.into()
    }
}

fn log_request(request_id: &str, method: &str, s: &crate::app::Served) {
    tracing::info!(
        request_id,
        method,
        route = s.route,
        status = s.response.status,
        ddb_calls = s.usage.calls,
        rcu = s.usage.rcu,
        wcu = s.usage.wcu,
        cold_start = s.cold_start,
        duration_us = s.elapsed.as_micros() as u64,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(method: &str, raw_path: &str, stage: &str) -> Value {
        json!({"version":"2.0","routeKey":"$default","rawPath":raw_path,"rawQueryString":"a=1",
               "headers":{},"requestContext":{"http":{"method":method,"path":raw_path,"protocol":"HTTP/1.1",
               "sourceIp":"1.2.3.4","userAgent":"t"},"requestId":"r","stage":stage,"timeEpoch":0},
               "isBase64Encoded":false})
    }

    #[test]
    fn stage_prefix_is_stripped_only_for_named_stages() {
        assert_eq!(strip_stage("/prod/items/1", Some("prod")), "/items/1");
        assert_eq!(strip_stage("/prod", Some("prod")), "/");
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(strip_stage("/items", Some("$default")), "/items");
        let req = request_from_event(event("GET", "/prod/health", "prod")).unwrap();
        assert_eq!(req.path, "/health");
        assert_eq!(req.query, "a=1");
    }

    #[test]
    fn bad_base64_and_bad_events_are_400_not_panics() {
        let mut ev = event("POST", "/items", "$default");
        ev["body"] = json!("***not base64***");
        ev["isBase64Encoded"] = json!(true);
        assert!(matches!(request_from_event(ev), Err(ApiError::BadRequest(_))));
        for bad in [json!(null), json!([1]), json!({"requestContext": 5}), json!({})] {
            assert!(matches!(request_from_event(bad), Err(ApiError::BadRequest(_))));
        }
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let mut ev = event("POST", "/items", "$default");
        ev["body"] = json!("eyJhIjoxfQ==");
        ev["isBase64Encoded"] = json!(true);
        assert_eq!(request_from_event(ev).unwrap().body, br#"{"a":1}"#);
    }

    #[test]
    fn proxy_response_has_content_type_only_with_body() {
        let r: ProxyResponse = ApiResponse { status: 204, headers: vec![], body: String::new() }.into();
        assert!(r.headers.is_empty());
        let r: ProxyResponse =
            ApiResponse { status: 200, headers: vec![("x-a", "1".into())], body: "{}".into() }.into();
        assert_eq!(r.headers["content-type"], "application/json");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["statusCode"], 200);
        assert_eq!(v["isBase64Encoded"], false);
    }
}
