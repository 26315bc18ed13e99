//! Builds the payload format 2.0 event API Gateway sends a Lambda proxy integration, field
//! for field as AWS does: lower-cased headers, repeats comma-joined, `cookies`, the decoded
//! path in `rawPath` and `requestContext.http.path` with `rawQueryString` left encoded, the
//! forwarding headers API Gateway sets (the caller's address appended to a client's
//! `x-forwarded-for`, the port it connected to, `content-length: 0` for a bodiless request),
//! `stageVariables`, and bodies base64-encoded unless their type is text.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{Map, Value, json};

/// What the gateway knows about one request beyond its headers and body.
#[derive(Debug, Clone)]
pub struct RequestMeta<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path, percent-decoded.
    pub path: &'a str,
    /// Raw query string (no `?`).
    pub raw_query: &'a str,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'a str,
    /// Client address.
    pub source: SocketAddr,
    /// The port the client connected to.
    pub listen_port: u16,
    /// The stage's variables.
    pub stage_variables: &'a [(String, String)],
    /// Selected route key.
    pub route_key: &'a str,
    /// Path parameters of the selected route.
    pub path_params: &'a [(String, String)],
    /// API id.
    pub api_id: &'a str,
    /// Stage name.
    pub stage: &'a str,
    /// Account id.
    pub account_id: &'a str,
    /// `requestContext.requestId` (also the `apigw-requestid` header).
    pub request_id: &'a str,
    /// Request time, ms since the epoch.
    pub time_epoch_ms: i64,
}

/// True for content types API Gateway passes as text: `text/*`, JSON, XML and JavaScript.
/// Anything else — form posts and bodies without a content type included — arrives
/// base64-encoded (docs/aws-semantics.md 1.6).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || matches!(
            ct.as_str(),
            "application/json" | "application/xml" | "application/javascript" | "application/x-javascript"
        )
}

/// `12/Mar/2020:19:03:58 +0000`.
pub fn clf_time(epoch_ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The event JSON.
pub fn build(meta: &RequestMeta<'_>, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()));
            continue;
        }
        joined
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let ip = meta.source.ip().to_string();
    // API Gateway appends the caller to a forwarded-for chain and sets the port and scheme the
    // caller used, whatever a client claimed.
    joined
        .entry("x-forwarded-for".into())
        .and_modify(|v| {
            v.push_str(", ");
            v.push_str(&ip);
        })
        .or_insert_with(|| ip.clone());
    joined.insert("x-forwarded-proto".into(), "http".into());
    joined.insert("x-forwarded-port".into(), meta.listen_port.to_string());
    if body.is_empty() {
        joined.entry("content-length".into()).or_insert_with(|| "0".into());
    }
    joined
        .entry("x-amzn-trace-id".into())
        .or_insert_with(|| format!("Root=1-{:08x}-{:024x}", meta.time_epoch_ms / 1000, fastrand::u128(..) >> 32));
    let host = joined.get("host").cloned().unwrap_or_else(|| format!("{}.execute-api.local", meta.api_id));
    // The domain name has no port, as on AWS (a custom domain or execute-api on 443).
    let domain = host.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(host.as_str(), |(h, _)| h);
    let domain_prefix = domain.split('.').next().unwrap_or(domain).to_owned();
    let user_agent = joined.get("user-agent").cloned().unwrap_or_default();

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(meta.route_key));
    event.insert("rawPath".into(), json!(meta.path));
    event.insert("rawQueryString".into(), json!(meta.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(joined));
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(meta.raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !meta.path_params.is_empty() {
        let params: BTreeMap<&str, &str> = meta.path_params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        event.insert("pathParameters".into(), json!(params));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": meta.account_id,
            "apiId": meta.api_id,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": meta.method,
                "path": meta.path,
                "protocol": meta.protocol,
                "sourceIp": ip,
                "userAgent": user_agent,
            },
            "requestId": meta.request_id,
            "routeKey": meta.route_key,
            "stage": meta.stage,
            "time": clf_time(meta.time_epoch_ms),
            "timeEpoch": meta.time_epoch_ms,
        }),
    );
    if !meta.stage_variables.is_empty() {
        let vars: BTreeMap<&str, &str> = meta.stage_variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        event.insert("stageVariables".into(), json!(vars));
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let as_text = is_text(content_type).then(|| std::str::from_utf8(body).ok()).flatten();
    match (body.is_empty(), as_text) {
        (true, _) => {
            event.insert("isBase64Encoded".into(), json!(false));
        }
        (false, Some(text)) => {
            event.insert("body".into(), json!(text));
            event.insert("isBase64Encoded".into(), json!(false));
        }
        (false, None) => {
            event.insert("body".into(), json!(base64::engine::general_purpose::STANDARD.encode(body)));
            event.insert("isBase64Encoded".into(), json!(true));
        }
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_common_log_format() {
        assert_eq!(clf_time(1_583_348_638_390), "04/Mar/2020:19:03:58 +0000");
    }

    #[test]
    fn text_types() {
        assert!(!is_text(None), "no content type is binary");
        assert!(!is_text(Some("application/x-www-form-urlencoded")), "form posts arrive base64-encoded");
        assert!(is_text(Some("application/json; charset=utf-8")));
        assert!(is_text(Some("application/vnd.api+json")));
        assert!(is_text(Some("text/plain")));
        assert!(!is_text(Some("application/octet-stream")));
        assert!(!is_text(Some("image/png")));
    }
}
