//! JWT authorizers of HTTP API routes, checked as API Gateway documents it: the token from the
//! identity source header (with or without `Bearer `), an RSA signature (RS256/384/512) by the
//! key its `kid` names in the issuer's JWKS (found through `/.well-known/openid-configuration`,
//! fetched once and again for a `kid` not seen, at most every 10 s), `iss` equal to the
//! issuer, `aud` — or `client_id` when there is no `aud` — one of the audiences, `exp` after
//! now, `nbf` and `iat` not after it, and, when the route asks for scopes, one of them in
//! `scope` or `scp`. A bad token is answered 401 with a `www-authenticate` header saying why;
//! a valid one without the scope, 403. The claims go to the function in the event.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::Value;

use crate::config::{JwtAuthorizer, JwtRoute};

/// How soon an unknown `kid` may fetch the keys again.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// How long fetching the discovery document and the keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// 401, with what is wrong with the token.
    Unauthorized(String),
    /// 403: a valid token without any of the route's scopes.
    Forbidden,
}

/// What the function is told of an authorized request.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorized {
    /// The token's claims.
    pub claims: Value,
    /// Its scopes.
    pub scopes: Vec<String>,
}

/// The claims as payload 2.0 events carry them: every value a string (numbers and booleans
/// as written, an array as `[a b]`), which clients such as `lambda_http` require.
fn as_event_claims(claims: &Value) -> Value {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> =
                a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    };
    let map = claims.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), Value::String(text(v)))).collect());
    Value::Object(map.unwrap_or_default())
}

/// One RSA public key of a JWKS.
#[derive(Debug, Clone)]
struct Key {
    n: Vec<u8>,
    e: Vec<u8>,
}

/// The issuers' keys, by issuer then `kid`.
#[derive(Default)]
struct Keys {
    by_issuer: HashMap<String, (Instant, HashMap<String, Key>)>,
}

/// Checks the tokens of the routes JWT authorizers guard.
pub struct Verifier {
    authorizers: Vec<JwtAuthorizer>,
    routes: Vec<JwtRoute>,
    keys: tokio::sync::Mutex<Keys>,
    client: reqwest::Client,
    /// Set when a fetch failed, so the first failure is said once in the gateway's log.
    last_fetch_error: Mutex<Option<String>>,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

fn now_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Verifier {
    /// A verifier for `routes`, or `None` when no route has a JWT authorizer.
    pub fn new(authorizers: &[JwtAuthorizer], routes: &[JwtRoute]) -> Option<Verifier> {
        if routes.is_empty() {
            return None;
        }
        Some(Verifier {
            authorizers: authorizers.to_vec(),
            routes: routes.to_vec(),
            keys: tokio::sync::Mutex::new(Keys::default()),
            client: reqwest::Client::new(),
            last_fetch_error: Mutex::new(None),
        })
    }

    /// Whether `route` is guarded.
    pub fn guards(&self, route: &str) -> bool {
        self.routes.iter().any(|r| r.route == route)
    }

    /// Checks the token of a request to `route` (a guarded one).
    pub async fn verify(&self, route: &str, headers: &axum::http::HeaderMap) -> Result<Authorized, Denied> {
        let bad = |why: &str| Denied::Unauthorized(why.to_owned());
        let r = self.routes.iter().find(|r| r.route == route).ok_or_else(|| bad("no authorizer"))?;
        let a = self.authorizers.iter().find(|a| a.id == r.authorizer).ok_or_else(|| bad("no authorizer"))?;
        let raw = headers.get(a.header.as_str()).and_then(|v| v.to_str().ok()).ok_or_else(|| bad("no token"))?;
        let token = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).unwrap_or(raw).trim();
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad("the token is not a JWT"));
        };
        let header: Value =
            b64(h).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(|| bad("unreadable header"))?;
        let claims: Value =
            b64(p).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(|| bad("unreadable claims"))?;
        let signature = b64(s).ok_or_else(|| bad("unreadable signature"))?;
        let params: &ring::signature::RsaParameters = match header["alg"].as_str() {
            Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            Some("RS384") => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
            Some("RS512") => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return Err(bad("the token is not signed with an RSA algorithm (RS256, RS384, RS512)")),
        };
        let kid = header["kid"].as_str().ok_or_else(|| bad("the token's header has no kid"))?;
        if claims["iss"].as_str() != Some(a.issuer.as_str()) {
            return Err(bad("the token does not have a valid issuer"));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(s) => a.audience.contains(s),
            Value::Array(v) => v.iter().any(|x| x.as_str().is_some_and(|s| a.audience.iter().any(|y| y == s))),
            _ => claims["client_id"].as_str().is_some_and(|c| a.audience.iter().any(|y| y == c)),
        };
        if !audience_ok {
            return Err(bad("the token does not have a valid audience"));
        }
        let now = now_s();
        if claims["exp"].as_f64().is_none_or(|exp| exp <= now) {
            return Err(bad("the token has expired"));
        }
        if claims["nbf"].as_f64().is_some_and(|t| t > now) || claims["iat"].as_f64().is_some_and(|t| t > now + 1.0) {
            return Err(bad("the token is not valid yet"));
        }
        let key = self.key(&a.issuer, kid).await.ok_or_else(|| bad("the token's kid is not a key of the issuer"))?;
        let public = ring::signature::RsaPublicKeyComponents { n: &key.n, e: &key.e };
        let signed = &token[..h.len() + 1 + p.len()];
        public.verify(params, signed.as_bytes(), &signature).map_err(|_| bad("the token's signature is not valid"))?;
        let scopes: Vec<String> = match (&claims["scope"], &claims["scp"]) {
            (Value::String(s), _) | (_, Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            (_, Value::Array(v)) => v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        if !r.scopes.is_empty() && !scopes.iter().any(|s| r.scopes.contains(s)) {
            return Err(Denied::Forbidden);
        }
        Ok(Authorized { claims: as_event_claims(&claims), scopes })
    }

    /// The key `kid` of `issuer`: from the cache, or fetched (again) when not there.
    async fn key(&self, issuer: &str, kid: &str) -> Option<Key> {
        let mut keys = self.keys.lock().await;
        if let Some((fetched, set)) = keys.by_issuer.get(issuer) {
            if let Some(k) = set.get(kid) {
                return Some(k.clone());
            }
            if fetched.elapsed() < REFETCH_AFTER {
                return None;
            }
        }
        match self.fetch(issuer).await {
            Ok(set) => {
                let k = set.get(kid).cloned();
                keys.by_issuer.insert(issuer.to_owned(), (Instant::now(), set));
                k
            }
            Err(e) => {
                let mut last = self.last_fetch_error.lock().unwrap_or_else(|p| p.into_inner());
                if last.as_deref() != Some(e.as_str()) {
                    tracing::warn!("JWT authorizer: cannot fetch the keys of {issuer}: {e}");
                    *last = Some(e);
                }
                keys.by_issuer.insert(issuer.to_owned(), (Instant::now(), HashMap::new()));
                None
            }
        }
    }

    /// The issuer's RSA keys, by `kid`.
    async fn fetch(&self, issuer: &str) -> Result<HashMap<String, Key>, String> {
        let get = |url: String| async move {
            let resp = self.client.get(&url).timeout(FETCH_TIMEOUT).send().await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("{url} answered {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
            serde_json::from_slice::<Value>(&body).map_err(|e| format!("{url} is not JSON: {e}"))
        };
        let discovery = get(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).await?;
        let jwks_uri = discovery["jwks_uri"].as_str().ok_or("the discovery document has no jwks_uri")?.to_owned();
        let jwks = get(jwks_uri).await?;
        let mut out = HashMap::new();
        for k in jwks["keys"].as_array().into_iter().flatten() {
            if let (Some("RSA"), Some(kid), Some(n), Some(e)) =
                (k["kty"].as_str(), k["kid"].as_str(), k["n"].as_str().and_then(b64), k["e"].as_str().and_then(b64))
            {
                out.insert(kid.to_owned(), Key { n, e });
            }
        }
        Ok(out)
    }
}
