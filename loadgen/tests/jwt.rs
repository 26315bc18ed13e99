//! A JWT-guarded route end to end on loopback: the local stack reads the authorizer from the
//! Terraform (`tests/data/jwt-stack`), fetches the keys of an issuer this test runs, and serves
//! loadgen's requests whose bearer token a command mints with a 2-second life and loadgen runs
//! again every second — so a run of 4 s passes only if the tokens are refreshed. Without a
//! token, every request is refused 401.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use base64::Engine;
use common::{target_api, tempdir};
use serde_json::{Value, json};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt-stack")
}

/// The test key's JWK (kid k1), its modulus read by openssl, as the mint script signs with it.
fn jwk() -> Value {
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../local-stack/tests/data/jwt/test-key.pk8");
    let out = Command::new("openssl").args(["rsa", "-inform", "DER", "-noout", "-modulus", "-in"]).arg(key).output();
    let out = out.expect("the test needs the openssl command");
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().strip_prefix("Modulus=").expect("openssl printed the modulus");
    let n: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({ "kty": "RSA", "kid": "k1", "alg": "RS256", "n": b64(&n), "e": b64(&[1, 0, 1]) })
}

async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (jwks_uri, keys) = (format!("{url}/keys"), json!({ "keys": [jwk()] }));
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(json!({ "jwks_uri": jwks_uri })) }),
        )
        .route("/keys", axum::routing::get(move || async move { axum::Json(keys) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn run(dir: &Path, issuer: &str, auth: &str) -> (i32, Value, String) {
    let scenario = format!(
        "name = \"jwt\"\n[stack]\ninfra = \"{}\"\nlatency_profile = \"none\"\n[data]\nitems = 0\n{auth}\
         [[phase]]\nname = \"p\"\nduration = \"4s\"\nrate = 10\n[[request]]\nname = \"health\"\npath = \"/health\"\n\
         [thresholds]\n\"errors.rate\" = \"< 1%\"\n",
        data().display()
    );
    std::fs::write(dir.join("s.toml"), scenario).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(dir.join("s.toml"))
        .env("TF_VAR_issuer", issuer)
        .env("TF_VAR_code", target_api())
        .output()
        .await
        .unwrap();
    let results = std::fs::read_to_string(dir.join("out/results.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), results, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_expire_are_refreshed_and_the_stack_checks_each() {
    let iss = issuer().await;
    let dir = tempdir("jwt");
    let mint = data().join("mint.sh");
    // Valid 3 s from a whole second (so 2-3 s) and refreshed each second, over a 4 s run: the
    // first token expires mid-run, and a refresh always lands a second before (a 2 s lifetime
    // left as little as 1 s, which a slow mint could miss under load).
    let auth = format!("[target.auth]\nbearer = {{ command = \"sh {} {iss} 3\", refresh = \"1s\" }}\n", mint.display());
    let (code, r, err) = run(&dir, &iss, &auth).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["totals"]["by_class"]["ok"], 40, "every request carried a live token: {}", r["totals"]);

    // No token: the authorizer refuses every request before the function runs.
    let (code, r, _) = run(&dir, &iss, "").await;
    assert_eq!(code, 1);
    assert_eq!(r["totals"]["by_class"]["client_error"], 40, "{}", r["totals"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
