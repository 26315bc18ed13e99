//! Bearer tokens that age: printed by a command (run before the load and every `refresh`), or
//! issued by an OAuth2 token endpoint for a client's credentials (fetched again at four fifths
//! of its lifetime). A command's output and a token never reach any output; a command that
//! fails says its exit status and the first line of what it wrote to stderr.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper::header::HeaderValue;

use super::AuthError;
use crate::event::{Event, Sink};
use crate::scenario::auth::Auth;

/// How long a token command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a token endpoint may take.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);
/// An OAuth2 token is fetched again at this share of its lifetime.
const RENEW_AT: f64 = 0.8;

/// Why a token cannot go in a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token is empty or holds a line break or another control character")]
pub struct BadToken;

/// `Bearer <token>` as a header value, marked sensitive (HTTP/2 never indexes it).
pub fn header(token: &str) -> Result<HeaderValue, BadToken> {
    let t = token.trim();
    if t.is_empty() {
        return Err(BadToken);
    }
    let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| BadToken)?;
    v.set_sensitive(true);
    Ok(v)
}

/// Runs `command` with `sh -c`; its stdout, trimmed, is the token.
async fn run_command(command: &str) -> Result<String, AuthError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .map_err(|_| AuthError::Command(format!("did not finish within {} s", COMMAND_TIMEOUT.as_secs())))?
        .map_err(|e| AuthError::Command(format!("cannot run sh: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").chars().take(200).collect::<String>();
        return Err(AuthError::Command(format!("exited with {}; stderr: {first}", out.status)));
    }
    let token = String::from_utf8(out.stdout).map_err(|_| AuthError::Command("printed no UTF-8 text".into()))?;
    Ok(token.trim().to_owned())
}

/// An OAuth2 access token and its lifetime.
async fn fetch_oauth2(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> Result<(String, Option<Duration>), AuthError> {
    let mut pairs = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    let form = form_body(&pairs);
    // Client authentication by HTTP Basic, as Cognito and RFC 6749 §2.3.1 ask.
    let resp = client
        .post(url)
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .timeout(ENDPOINT_TIMEOUT)
        .send()
        .await
        .map_err(|e| AuthError::OAuth2(format!("cannot reach {url}: {}", without_url(&e))))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| AuthError::OAuth2(format!("reading the answer: {}", without_url(&e))))?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        // The endpoint's `error` code says why (invalid_client, invalid_scope), and holds no secret.
        let code = json["error"].as_str().unwrap_or("no error code");
        return Err(AuthError::OAuth2(format!("{url} answered {status} ({code})")));
    }
    let token = json["access_token"]
        .as_str()
        .ok_or_else(|| AuthError::OAuth2(format!("{url} answered without an access_token")))?;
    let life = json["expires_in"].as_f64().filter(|s| s.is_finite() && *s > 0.0).map(Duration::from_secs_f64);
    Ok((token.to_owned(), life))
}

/// A reqwest error's text without the URL (a token URL may carry a secret in its query).
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(at) = e.find(" for url (") {
        e.truncate(at);
    }
    e
}

/// `k=v&…`, encoded as `application/x-www-form-urlencoded`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The first token of a command or OAuth2 `auth`, the value the requests read, the task that
/// fetches it again, and the start line.
pub(super) async fn start(
    auth: &Auth,
    sink: &Arc<dyn Sink>,
) -> Result<(Arc<RwLock<HeaderValue>>, tokio::task::JoinHandle<()>, String), AuthError> {
    let bad = |e: BadToken| AuthError::Command(e.to_string());
    match auth.clone() {
        Auth::BearerCommand { command, refresh } => {
            let first = header(&run_command(&command).await?).map_err(bad)?;
            let value = Arc::new(RwLock::new(first));
            let (shared, sink) = (value.clone(), sink.clone());
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(refresh).await;
                    let fetched = run_command(&command).await.and_then(|t| header(&t).map_err(bad));
                    swap(&shared, fetched, &sink, "the token command");
                }
            });
            let every = humantime::format_duration(refresh);
            Ok((value, task, format!("bearer token from a command, run again every {every}")))
        }
        Auth::Oauth2 { token_url, client_id, client_secret, scope, .. } => {
            let client = reqwest::Client::builder()
                .build()
                .map_err(|e| AuthError::OAuth2(format!("cannot build the HTTP client: {e}")))?;
            let (token, life) = fetch_oauth2(&client, &token_url, &client_id, &client_secret, scope.as_deref()).await?;
            let value = Arc::new(RwLock::new(
                header(&token).map_err(|_| AuthError::OAuth2("the access_token cannot go in a header".into()))?,
            ));
            let (shared, sink) = (value.clone(), sink.clone());
            let what = format!(
                "OAuth2 client credentials from {token_url} (client {client_id}){}",
                life.map(|l| format!(", token valid {} s", l.as_secs())).unwrap_or_default()
            );
            let task = tokio::spawn(async move {
                let mut life = life;
                loop {
                    // Without a stated lifetime, an hour (Cognito's default) is assumed.
                    let wait = life.unwrap_or(Duration::from_secs(3600)).mul_f64(RENEW_AT).max(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                    let fetched = fetch_oauth2(&client, &token_url, &client_id, &client_secret, scope.as_deref())
                        .await
                        .and_then(|(t, l)| {
                            life = l;
                            header(&t).map_err(|_| AuthError::OAuth2("the access_token cannot go in a header".into()))
                        });
                    swap(&shared, fetched, &sink, "the OAuth2 token");
                }
            });
            Ok((value, task, what))
        }
        Auth::Sigv4 { .. } | Auth::BearerEnv { .. } => Err(AuthError::Command("not a refreshed token".into())),
    }
}

/// Puts a fetched token in place, or says why it could not be fetched and keeps the old one.
fn swap(shared: &RwLock<HeaderValue>, fetched: Result<HeaderValue, AuthError>, sink: &Arc<dyn Sink>, what: &str) {
    match fetched {
        Ok(v) => *shared.write().unwrap_or_else(|e| e.into_inner()) = v,
        Err(e) => sink
            .event(Event::Auth { note: format!("could not refresh {what} ({e}); sending the last one"), failed: true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_header_values_or_refused() {
        assert_eq!(header(" abc.def \n").unwrap().to_str().unwrap(), "Bearer abc.def");
        assert!(header("a\nb").is_err() && header("  ").is_err());
        assert_eq!(
            form_body(&[("grant_type", "client_credentials"), ("scope", "api/read api/write")]),
            "grant_type=client_credentials&scope=api%2Fread+api%2Fwrite"
        );
    }

    #[tokio::test]
    async fn a_failing_command_says_its_status_not_its_output() {
        let e = run_command("echo secret-token; echo 'bad credentials' >&2; exit 3").await.unwrap_err().to_string();
        assert!(e.contains("exit status: 3") && e.contains("bad credentials") && !e.contains("secret-token"), "{e}");
        assert_eq!(run_command("printf ' tok-1 \\n'").await.unwrap(), "tok-1");
    }
}
