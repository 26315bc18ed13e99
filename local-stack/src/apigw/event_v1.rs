//! The payload format 1.0 event an HTTP API sends a Lambda proxy integration whose
//! `payload_format_version` is `1.0` — the format REST APIs use, and Terraform's default for
//! `aws_apigatewayv2_integration`: `resource` (the route's path, `$default` for the default
//! route), `path`, `httpMethod`, the last value of each header in `headers` and every value in
//! `multiValueHeaders` (cookies stay a header), the query string both ways, `pathParameters`,
//! `stageVariables` and `body` as `null` when absent, and a `requestContext` with `identity`
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).
//! The forwarding headers, trace id and base64 rule are the 2.0 event's ([`super::event`]).

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::event::{RequestMeta, build as build_v2, clf_time};

/// The route key's path (`GET /items/{id}` → `/items/{id}`), or `$default`.
fn resource(route_key: &str) -> &str {
    route_key.split_once(' ').map_or(route_key, |(_, p)| p)
}

/// The 1.0 event for the same request the 2.0 event describes.
pub fn build(meta: &RequestMeta<'_>, headers: &HeaderMap, body: &[u8]) -> Value {
    // The 2.0 event has the forwarding headers, the trace id and the body's encoding worked out.
    let v2 = build_v2(meta, headers, body);
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        multi.entry(name.as_str().to_owned()).or_default().push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    // The headers API Gateway sets or appends to are the 2.0 event's, one value each.
    if let Some(Value::Object(h)) = v2.get("headers") {
        for k in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id", "content-length"] {
            if let Some(Value::String(v)) = h.get(k) {
                multi.insert(k.to_owned(), vec![v.clone()]);
            }
        }
    }
    let single: BTreeMap<&str, &str> =
        multi.iter().filter_map(|(k, v)| v.last().map(|last| (k.as_str(), last.as_str()))).collect();
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(meta.raw_query.as_bytes()) {
        query.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let query_single: Option<BTreeMap<&str, &str>> = (!query.is_empty())
        .then(|| query.iter().filter_map(|(k, v)| v.last().map(|l| (k.as_str(), l.as_str()))).collect());
    let params: Option<BTreeMap<&str, &str>> = (!meta.path_params.is_empty())
        .then(|| meta.path_params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect());
    let stage_vars: Option<BTreeMap<&str, &str>> = (!meta.stage_variables.is_empty())
        .then(|| meta.stage_variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect());
    let ctx = &v2["requestContext"];
    let resource = resource(meta.route_key);
    json!({
        "version": "1.0",
        "resource": resource,
        "path": meta.path,
        "httpMethod": meta.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": (!query.is_empty()).then_some(&query),
        "requestContext": {
            "accountId": meta.account_id,
            "apiId": meta.api_id,
            "authorizer": {"claims": null, "scopes": null},
            "domainName": ctx["domainName"],
            "domainPrefix": ctx["domainPrefix"],
            "extendedRequestId": meta.request_id,
            "httpMethod": meta.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": ctx["http"]["sourceIp"],
                "user": null,
                "userAgent": ctx["http"]["userAgent"],
                "userArn": null,
            },
            "path": meta.path,
            "protocol": meta.protocol,
            "requestId": meta.request_id,
            "requestTime": clf_time(meta.time_epoch_ms),
            "requestTimeEpoch": meta.time_epoch_ms,
            "resourceId": meta.route_key,
            "resourcePath": resource,
            "stage": meta.stage,
        },
        "pathParameters": params,
        "stageVariables": stage_vars,
        "body": v2.get("body").cloned().unwrap_or(Value::Null),
        "isBase64Encoded": v2["isBase64Encoded"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_with_repeated_headers_and_query_values() {
        let mut h = HeaderMap::new();
        h.append("accept", "a".parse().unwrap());
        h.append("accept", "b".parse().unwrap());
        h.append("cookie", "s=1; t=2".parse().unwrap());
        let params = [("id".to_owned(), "42".to_owned())];
        let meta = RequestMeta {
            method: "GET",
            path: "/items/42",
            raw_query: "x=1&x=2&y=3",
            protocol: "HTTP/1.1",
            source: "10.0.0.1:5000".parse().unwrap(),
            listen_port: 443,
            stage_variables: &[],
            route_key: "GET /items/{id}",
            path_params: &params,
            api_id: "abc",
            stage: "$default",
            account_id: "123456789012",
            request_id: "rid=",
            time_epoch_ms: 1_583_348_638_390,
        };
        let e = build(&meta, &h, b"");
        assert_eq!(e["version"], "1.0");
        assert_eq!((e["resource"].as_str(), e["path"].as_str()), (Some("/items/{id}"), Some("/items/42")));
        assert_eq!(e["headers"]["accept"], "b", "the last value");
        assert_eq!(e["multiValueHeaders"]["accept"], json!(["a", "b"]));
        assert_eq!(e["headers"]["cookie"], "s=1; t=2", "cookies stay a header in 1.0");
        assert_eq!(e["queryStringParameters"], json!({"x": "2", "y": "3"}));
        assert_eq!(e["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
        assert_eq!(e["pathParameters"], json!({"id": "42"}));
        assert_eq!((e["stageVariables"].is_null(), e["body"].is_null()), (true, true));
        assert_eq!(e["requestContext"]["identity"]["sourceIp"], "10.0.0.1");
        assert_eq!(e["requestContext"]["requestTime"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(e["headers"]["x-forwarded-for"], "10.0.0.1");
        assert_eq!(resource("$default"), "$default");
    }
}
