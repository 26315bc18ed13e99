//! `[target.auth]` as servers see it: SigV4 verified by the local stack on an IAM route (and
//! unsigned requests refused there), a bearer token from a command refreshed as it ages, and an
//! OAuth2 client-credentials token fetched again before it expires — with no token, secret or
//! command argument in any output.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use common::{target_api, tempdir};
use serde_json::Value;

/// `loadgen run` as a user runs it, with `env` set; exit code, results and every output file's
/// text with stderr.
async fn loadgen(dir: &Path, scenario: &str, env: &[(&str, &str)], target: Option<&str>) -> (i32, Value, String) {
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out_dir = dir.join("out");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(["run", "--out"]).arg(&out_dir).arg(&file).env("LOADGEN_TARGET_API", target_api());
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    for f in ["results.json", "report.html", "summary.md", "junit.xml"] {
        text += &std::fs::read_to_string(out_dir.join(f)).unwrap_or_default();
    }
    let results = std::fs::read_to_string(out_dir.join("results.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), results, text)
}

fn count(r: &Value, class: &str) -> u64 {
    r["totals"]["by_class"][class].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stack_serves_signed_requests_on_iam_routes_and_refuses_unsigned_ones() {
    let dir = tempdir("auth-sigv4");
    let base = "name = \"signed\"\n[stack]\nlatency_profile = \"none\"\niam_routes = [\"GET /items/{id}\", \"POST /items\"]\n\
        [data]\nitems = 20\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 20\n\
        [[request]]\nname = \"get\"\nweight = 2\npath = \"/items/{id}\"\n\
        [[request]]\nname = \"put\"\nmethod = \"POST\"\npath = \"/items\"\nbody = '{{\"id\":\"{new_id}\",\"note\":\"é ü\"}}'\n\
        [[request]]\nname = \"open\"\npath = \"/health\"\n";
    let (code, r, text) = loadgen(&dir, &format!("{base}[target.auth]\nsigv4 = {{}}\n"), &[], None).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!((count(&r, "ok"), count(&r, "client_error")), (40, 0), "every signed request served: {}", r["totals"]);
    assert!(text.contains("requests signed with SigV4 (execute-api, us-east-1) with the local stack's credentials"));
    assert_eq!(r["scenario"]["target"]["auth"]["kind"], "sigv4");

    // Unsigned, the IAM routes answer 403 and the open one still serves.
    let (_, r, _) = loadgen(&dir, base, &[], None).await;
    let by =
        |name: &str| r["requests"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap()["summary"].clone();
    assert_eq!(by("get")["by_class"]["client_error"], by("get")["requests"], "{}", by("get"));
    assert_eq!(by("put")["by_class"]["client_error"], by("put")["requests"]);
    assert_eq!(by("open")["by_class"]["client_error"], 0);
    // Refused at authorization: counted apart, and neither billed nor an invocation.
    let denied = r["gateway_denied"].as_u64().unwrap();
    assert_eq!(denied, by("get")["requests"].as_u64().unwrap() + by("put")["requests"].as_u64().unwrap());
    let billed = r["cost"]["run"]["apigw_requests"].as_f64().unwrap();
    let open = by("open")["requests"].as_f64().unwrap();
    assert!((billed - open * 1.0 / 1e6).abs() < 1e-12, "only the open route's requests are billed: ${billed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Records each request's `authorization` header; answers 401 to any other scheme.
async fn api(seen: Arc<Mutex<Vec<String>>>) -> String {
    let app = Router::new().route(
        "/orders",
        axum::routing::get(move |h: HeaderMap| async move {
            let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let ok = auth.starts_with("Bearer ");
            seen.lock().unwrap().push(auth);
            if ok { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commands_token_is_fetched_again_as_it_ages_and_never_written() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = api(seen.clone()).await;
    let dir = tempdir("auth-command");
    // Each run of the command prints a new token (a counter in a file), after the argument
    // that must stay out of every output.
    let counter = dir.join("n");
    let script = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo tok-secret-$n",
        c = counter.display()
    );
    std::fs::write(dir.join("token.sh"), &script).unwrap();
    let scenario = format!(
        "name = \"bearer\"\n[target.auth]\nbearer = {{ command = \"sh {} --password=hunter2x\", refresh = \"1s\" }}\n\
         [[phase]]\nname = \"p\"\nduration = \"3s\"\nrate = 10\n[[request]]\nname = \"r\"\npath = \"/orders\"\n\
         [thresholds]\n\"errors.rate\" = \"< 1%\"\n",
        dir.join("token.sh").display()
    );
    let (code, r, text) = loadgen(&dir, &scenario, &[], Some(&url)).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!(count(&r, "ok"), 30);
    let tokens: BTreeSet<String> = seen.lock().unwrap().iter().cloned().collect();
    assert!(tokens.len() >= 2, "refreshed during the run: {tokens:?}");
    assert!(tokens.iter().all(|t| t.starts_with("Bearer tok-secret-")), "{tokens:?}");
    assert!(!text.contains("tok-secret") && !text.contains("hunter2x"), "no token or argument in any output");
    assert!(text.contains("bearer token from a command, run again every 1s"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth2_token_is_fetched_with_the_clients_credentials_and_renewed_before_it_expires() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api_url = api(seen.clone()).await;
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = issued.clone();
    let token_app = Router::new().route(
        "/oauth2/token",
        axum::routing::post(move |h: HeaderMap, body: String| async move {
            use base64::Engine;
            let basic = base64::engine::general_purpose::STANDARD.encode("app-client:s3cret-value");
            let authorized = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {basic}"));
            if !authorized || !body.contains("grant_type=client_credentials") || !body.contains("scope=orders%2Fread") {
                return (StatusCode::BAD_REQUEST, r#"{"error":"invalid_client"}"#.to_owned());
            }
            let mut l = log.lock().unwrap();
            let token = format!("at-{}", l.len());
            l.push(token.clone());
            (StatusCode::OK, format!(r#"{{"access_token":"{token}","expires_in":1,"token_type":"Bearer"}}"#))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, token_app).await });
    let dir = tempdir("auth-oauth2");
    let scenario = format!(
        "name = \"oauth\"\n[target.auth]\noauth2 = {{ token_url = \"{token_url}\", client_id = \"app-client\", \
         client_secret_env = \"APP_SECRET\", scope = \"orders/read\" }}\n\
         [[phase]]\nname = \"p\"\nduration = \"3s\"\nrate = 10\n[[request]]\nname = \"r\"\npath = \"/orders\"\n"
    );
    let (code, r, text) = loadgen(&dir, &scenario, &[("APP_SECRET", "s3cret-value")], Some(&api_url)).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!(count(&r, "ok"), 30);
    let issued = issued.lock().unwrap().clone();
    assert!(issued.len() >= 3, "a 1 s token is renewed at 0.8 s: {issued:?}");
    let used: BTreeSet<String> = seen.lock().unwrap().iter().cloned().collect();
    assert!(used.len() >= 2 && used.iter().all(|t| issued.contains(&t["Bearer ".len()..].to_owned())), "{used:?}");
    assert!(!text.contains("s3cret-value"), "the secret is in no output");

    // A wrong secret: the endpoint's error code, the run not started (exit 3).
    let (code, _, text) = loadgen(&dir, &scenario, &[("APP_SECRET", "bad-secret-zz9")], Some(&api_url)).await;
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("answered 400 Bad Request (invalid_client)") && !text.contains("bad-secret-zz9"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
