//! IAM authorization of HTTP API routes (`authorization_type = "AWS_IAM"`): the request must
//! carry a Signature Version 4 `authorization` header for service `execute-api` in the stack's
//! region, made with the local stack's credentials and at most 15 minutes off the clock. It is
//! verified by signing the request again as received — the signed headers' values, the body —
//! with the SDK's own signer (`aws-sigv4`) and comparing the signatures.
//!
//! AWS checks the signature against IAM and then the caller's policy; the local stack has one
//! principal, whose every signed request is allowed. Presigned URLs (the signature in the query
//! string) are not accepted. The 403 messages are those AWS's SigV4 errors carry; HTTP APIs are
//! documented only as answering 403, so the exact text is the best-sourced guess.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;

/// The access key id the local stack knows (the one every SDK client aimed at it uses).
pub const ACCESS_KEY_ID: &str = "test";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "test";
/// How far a signature's time may be from the gateway's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No SigV4 `authorization` header (or no `x-amz-date`).
    Missing,
    /// An access key the local stack does not know.
    UnknownKey,
    /// A credential scope for another region or service.
    Scope(String),
    /// Signed too long ago, or in the future.
    Expired,
    /// The signature is not the one the request, as received, gives.
    Mismatch,
}

impl Denied {
    /// The message of the gateway's 403 body.
    pub fn message(&self) -> String {
        match self {
            Denied::Missing => "Forbidden".into(),
            Denied::UnknownKey => "The security token included in the request is invalid.".into(),
            Denied::Scope(why) => format!("Credential should be scoped to {why}."),
            Denied::Expired => "Signature expired: the request's x-amz-date is more than 15 minutes from now.".into(),
            Denied::Mismatch => "The request signature we calculated does not match the signature you provided. \
                                 Check your AWS Secret Access Key and signing method."
                .into(),
        }
    }
}

/// The parts of a SigV4 `authorization` header.
struct Header<'a> {
    key: &'a str,
    region: &'a str,
    service: &'a str,
    signed: Vec<&'a str>,
    signature: &'a str,
}

fn parse(value: &str) -> Option<Header<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=')? {
            ("Credential", v) => credential = Some(v),
            ("SignedHeaders", v) => signed = Some(v.split(';').collect()),
            ("Signature", v) => signature = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [key, _date, region, service, "aws4_request"] = scope.as_slice() else { return None };
    Some(Header { key, region, service, signed: signed?, signature: signature? })
}

/// `20261206T233000Z` as a time.
fn amz_date(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(text, format).ok()?.assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).ok()?))
}

/// Verifies a request to an IAM route: `path_and_query` as received, `authority` its URI's (an
/// HTTP/2 request carries its host there, not in a `host` header), `region` the stack's.
pub fn verify(
    method: &str,
    (path_and_query, authority): (&str, Option<&str>),
    headers: &HeaderMap,
    body: &[u8],
    region: &str,
    now: SystemTime,
) -> Result<(), Denied> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let h = text("authorization").and_then(parse).ok_or(Denied::Missing)?;
    let signed_at = text("x-amz-date").and_then(amz_date).ok_or(Denied::Missing)?;
    if h.key != ACCESS_KEY_ID {
        return Err(Denied::UnknownKey);
    }
    if h.region != region {
        return Err(Denied::Scope(format!("a valid region, not '{}' (this stack's is '{region}')", h.region)));
    }
    if h.service != "execute-api" {
        return Err(Denied::Scope(format!("the correct service, not '{}' (execute-api)", h.service)));
    }
    let skew = now.duration_since(signed_at).or_else(|e| Ok::<_, ()>(e.duration())).unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(Denied::Expired);
    }
    // The signed headers as received; one that is missing cannot give the signature.
    let host = text("host").or(authority).unwrap_or("localhost");
    let mut values: Vec<(&str, &str)> = Vec::with_capacity(h.signed.len());
    for name in &h.signed {
        let value = if *name == "host" { Some(host) } else { text(name) };
        values.push((name, value.ok_or(Denied::Mismatch)?));
    }
    let uri = format!("http://{host}{path_and_query}");
    let request = SignableRequest::new(method, Cow::Owned(uri), values.into_iter(), SignableBody::Bytes(body))
        .map_err(|_| Denied::Mismatch)?;
    // Sign exactly what the client signed: no header is left out by name here.
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    let identity = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "local-stack").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("execute-api")
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|_| Denied::Mismatch)?
        .into();
    let expected = sign(request, &params).map_err(|_| Denied::Mismatch)?;
    if expected.signature() == h.signature { Ok(()) } else { Err(Denied::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs as a client would (the SDK's signer, the given credentials and time).
    fn signed(key: &str, secret: &str, region: &str, at: SystemTime, body: &[u8]) -> HeaderMap {
        let identity = Credentials::new(key, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("execute-api")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [("host", "127.0.0.1:9000"), ("content-type", "application/json")];
        let req = SignableRequest::new(
            "POST",
            "http://127.0.0.1:9000/items?x=1",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(req, &params).unwrap().into_parts();
        let mut out = HeaderMap::new();
        let pairs = headers
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain(instructions.headers().map(|(k, v)| (k, v.to_owned())));
        for (k, v) in pairs {
            out.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        out
    }

    #[test]
    fn a_request_signed_with_the_stacks_key_passes_and_any_change_fails() {
        let now = SystemTime::now();
        let body = br#"{"id":"a"}"#;
        let h = signed(ACCESS_KEY_ID, SECRET_ACCESS_KEY, "us-east-1", now, body);
        let check =
            |h: &HeaderMap, path: &str, body: &[u8], region: &str| verify("POST", (path, None), h, body, region, now);
        assert_eq!(check(&h, "/items?x=1", body, "us-east-1"), Ok(()));
        assert_eq!(check(&h, "/items?x=2", body, "us-east-1"), Err(Denied::Mismatch), "another query");
        assert_eq!(check(&h, "/items?x=1", b"{}", "us-east-1"), Err(Denied::Mismatch), "another body");
        assert!(matches!(check(&h, "/items?x=1", body, "eu-west-1"), Err(Denied::Scope(_))));
        let mut changed = h.clone();
        changed.insert("content-type", "text/plain".parse().unwrap());
        assert_eq!(check(&changed, "/items?x=1", body, "us-east-1"), Err(Denied::Mismatch), "a signed header");
        let wrong = signed(ACCESS_KEY_ID, "not-the-secret", "us-east-1", now, body);
        assert_eq!(check(&wrong, "/items?x=1", body, "us-east-1"), Err(Denied::Mismatch));
        let other = signed("AKIDOTHER", SECRET_ACCESS_KEY, "us-east-1", now, body);
        assert_eq!(check(&other, "/items?x=1", body, "us-east-1"), Err(Denied::UnknownKey));
        let old = signed(ACCESS_KEY_ID, SECRET_ACCESS_KEY, "us-east-1", now - Duration::from_secs(16 * 60), body);
        assert_eq!(check(&old, "/items?x=1", body, "us-east-1"), Err(Denied::Expired));
        assert_eq!(check(&HeaderMap::new(), "/items?x=1", body, "us-east-1"), Err(Denied::Missing));
        // Over HTTP/2 the host is the URI's authority, not a header.
        let mut h2 = h.clone();
        h2.remove("host");
        assert_eq!(verify("POST", ("/items?x=1", Some("127.0.0.1:9000")), &h2, body, "us-east-1", now), Ok(()));
    }
}
