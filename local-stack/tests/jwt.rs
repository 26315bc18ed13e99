//! The JWT authorizer against tokens an issuer on loopback signs (a fixed 2048-bit test key):
//! a valid token passes with its claims and scopes; each documented check refuses what it
//! should — issuer, audience or `client_id`, expiry, not-before, signature, kid, algorithm,
//! scope — and a key rotated in is found by fetching the keys again.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use base64::Engine;
use local_stack::apigw::jwt::{Denied, Verifier};
use local_stack::config::{JwtAuthorizer, JwtRoute};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

const KEY: &[u8] = include_bytes!("data/jwt/test-key.pk8");

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn key() -> RsaKeyPair {
    RsaKeyPair::from_pkcs8(KEY).unwrap()
}

/// The test key as a JWK named `kid`.
fn jwk(kid: &str) -> Value {
    let c: ring::rsa::PublicKeyComponents<Vec<u8>> = key().public().into();
    json!({ "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(&c.n), "e": b64(&c.e) })
}

/// A token with `claims`, signed by the test key under `kid` (RS256 unless `alg` says).
fn token(kid: &str, alg: &str, claims: &Value) -> String {
    let head = b64(json!({ "alg": alg, "kid": kid, "typ": "JWT" }).to_string().as_bytes());
    let body = b64(claims.to_string().as_bytes());
    let signed = format!("{head}.{body}");
    let k = key();
    let mut sig = vec![0; k.public().modulus_len()];
    k.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signed.as_bytes(), &mut sig).unwrap();
    format!("{signed}.{}", b64(&sig))
}

/// An issuer serving its discovery document and `keys`; its URL.
async fn issuer(keys: Arc<Mutex<Vec<Value>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let jwks = format!("{url}/keys");
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(json!({ "jwks_uri": jwks })) }),
        )
        .route(
            "/keys",
            axum::routing::get(move || async move { axum::Json(json!({ "keys": *keys.lock().unwrap() })) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn bearer(t: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {t}").parse().unwrap());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_as_api_gateway_documents() {
    let keys = Arc::new(Mutex::new(vec![jwk("k1")]));
    let iss = issuer(keys.clone()).await;
    let auth = JwtAuthorizer {
        id: "a1".into(),
        name: "cognito".into(),
        issuer: iss.clone(),
        audience: vec!["app-client".into()],
        header: "authorization".into(),
    };
    let routes = [
        JwtRoute { route: "GET /orders".into(), authorizer: "a1".into(), scopes: vec![] },
        JwtRoute { route: "POST /orders".into(), authorizer: "a1".into(), scopes: vec!["orders/write".into()] },
    ];
    let v = Verifier::new(&[auth], &routes).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = |extra: Value| {
        let mut c = json!({ "iss": iss, "aud": "app-client", "sub": "u1", "exp": now + 600, "iat": now - 5 });
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    let check = |t: String, route: &'static str| {
        let v = &v;
        async move { v.verify(route, &bearer(&t)).await }
    };
    let why = |r: Result<_, Denied>| match r {
        Err(Denied::Unauthorized(w)) => w,
        other => panic!("expected 401, got {other:?}"),
    };

    let ok = check(token("k1", "RS256", &claims(json!({ "scope": "orders/read orders/write" }))), "POST /orders").await;
    let ok = ok.unwrap();
    assert_eq!((ok.claims["sub"].as_str(), ok.scopes.len()), (Some("u1"), 2));
    assert_eq!(ok.claims["exp"], (now + 600).to_string(), "claims are strings in the event");
    // Without `aud`, `client_id` is the audience (a Cognito access token).
    let mut access = claims(json!({ "client_id": "app-client" }));
    access.as_object_mut().unwrap().remove("aud");
    assert!(check(token("k1", "RS256", &access), "GET /orders").await.is_ok());

    let bad = [
        (claims(json!({ "aud": "other" })), "valid audience"),
        (claims(json!({ "iss": "https://elsewhere" })), "valid issuer"),
        (claims(json!({ "exp": now - 1 })), "expired"),
        (claims(json!({ "nbf": now + 600 })), "not valid yet"),
    ];
    for (c, want) in bad {
        let w = why(check(token("k1", "RS256", &c), "GET /orders").await);
        assert!(w.contains(want), "{w} for {c}");
    }
    assert!(why(check(token("k9", "RS256", &claims(json!({}))), "GET /orders").await).contains("kid"));
    assert!(why(check(token("k1", "HS256", &claims(json!({}))), "GET /orders").await).contains("RSA"));
    let mut forged = token("k1", "RS256", &claims(json!({})));
    forged = format!("{}.{}", &forged[..forged.rfind('.').unwrap()], b64(b"not the signature"));
    assert!(why(check(forged, "GET /orders").await).contains("signature"));
    assert!(why(v.verify("GET /orders", &HeaderMap::new()).await).contains("no token"));
    // A valid token without the route's scope: 403, not 401.
    let r = check(token("k1", "RS256", &claims(json!({ "scope": "orders/read" }))), "POST /orders").await;
    assert_eq!(r, Err(Denied::Forbidden));

    // A key rotated in after the first fetch is found by fetching again (after 10 s at most).
    keys.lock().unwrap().push(jwk("k2"));
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    assert!(check(token("k2", "RS256", &claims(json!({}))), "GET /orders").await.is_ok());
}
