//! Bearer tokens that age: printed by a command (run in the scenario's directory before the
//! load and every `refresh`), or issued by an OAuth2 token endpoint for a client's credentials
//! (fetched again at four fifths of its lifetime). A failed fetch is tried again after 5 s,
//! doubling to a minute, so an expired token is not kept for a whole period. A command's
//! output and a token never reach any output; a command that fails says its exit status and
//! the first line of what it wrote to stderr; a token URL is shown without its query.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper::header::HeaderValue;

use super::AuthError;
use crate::event::{Event, Sink};
use crate::scenario::auth::{Auth, shown_url};

/// How long a token command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a token endpoint may take.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);
/// An OAuth2 token is fetched again at this share of its lifetime.
const RENEW_AT: f64 = 0.8;
/// The longest an OAuth2 token is trusted to last, whatever it says (a day).
const LONGEST_LIFE: Duration = Duration::from_secs(24 * 3600);
/// The first wait after a failed fetch, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// How many earlier tokens are kept to be taken out of outputs (a request sent with one may
/// be answered after a refresh).
const PAST_KEPT: usize = 16;

/// Why a token cannot go in a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token is empty or holds a line break or another control character")]
pub struct BadToken;

/// The token in use, and the ones used before it.
#[derive(Debug)]
pub struct Tokens {
    /// `Bearer <token>`, sent now.
    pub current: HeaderValue,
    /// Earlier tokens, newest last.
    past: Vec<String>,
}

impl Tokens {
    /// Starting with `current`.
    pub fn new(current: HeaderValue) -> Tokens {
        Tokens { current, past: Vec::new() }
    }

    /// Every token this run has sent (what a response may echo).
    pub fn all(&self) -> Vec<String> {
        let now = self.current.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")).map(str::to_owned);
        now.into_iter().chain(self.past.iter().rev().cloned()).collect()
    }

    fn replace(&mut self, next: HeaderValue) {
        if let Some(t) = self.current.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
            self.past.push(t.to_owned());
            if self.past.len() > PAST_KEPT {
                self.past.remove(0);
            }
        }
        self.current = next;
    }
}

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

/// Kills a command's whole process group when dropped: `sh -c` may have started children
/// (a pipeline, a `sleep`) that would outlive it.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(pid) = self.0.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Runs `command` with `sh -c` in `dir`; its stdout, trimmed, is the token.
async fn run_command(command: &str, dir: &Path) -> Result<String, AuthError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(command).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped()).kill_on_drop(true);
    if !dir.as_os_str().is_empty() {
        cmd.current_dir(dir);
    }
    #[cfg(unix)]
    cmd.process_group(0);
    let child = cmd.spawn().map_err(|e| AuthError::Command(format!("cannot run sh: {e}")))?;
    let _group = Group(child.id());
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
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

/// What fetching an OAuth2 token needs.
struct Client {
    http: reqwest::Client,
    url: String,
    id: String,
    secret: String,
    scope: Option<String>,
}

impl Client {
    /// An access token and when to fetch the next.
    async fn fetch(&self) -> Result<(String, Duration), AuthError> {
        let shown = shown_url(&self.url);
        let mut pairs = vec![("grant_type", "client_credentials")];
        if let Some(s) = &self.scope {
            pairs.push(("scope", s));
        }
        // HTTP Basic with the id and secret form-encoded first (RFC 6749 §2.3.1), as Cognito wants.
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let resp = self
            .http
            .post(&self.url)
            .basic_auth(enc(&self.id), Some(enc(&self.secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&pairs))
            .timeout(ENDPOINT_TIMEOUT)
            .send()
            .await
            .map_err(|e| AuthError::OAuth2(format!("cannot reach {shown}: {}", without_url(&e))))?;
        let status = resp.status();
        let text =
            resp.text().await.map_err(|e| AuthError::OAuth2(format!("reading the answer: {}", without_url(&e))))?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if !status.is_success() {
            // The endpoint's `error` code says why (invalid_client, invalid_scope), and holds no secret.
            let code = json["error"].as_str().unwrap_or("no error code");
            return Err(AuthError::OAuth2(format!("{shown} answered {status} ({code})")));
        }
        let token = json["access_token"]
            .as_str()
            .ok_or_else(|| AuthError::OAuth2(format!("{shown} answered without an access_token")))?;
        // Without a stated lifetime, an hour (Cognito's default) is assumed.
        let life = json["expires_in"]
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(3600))
            .min(LONGEST_LIFE);
        Ok((token.to_owned(), life.mul_f64(RENEW_AT).max(Duration::from_secs(1))))
    }
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

/// The first token of a command or OAuth2 `auth`, the tokens the requests read, the task that
/// fetches the next, and the start line.
pub(super) async fn start(
    auth: &Auth,
    sink: &Arc<dyn Sink>,
) -> Result<(Arc<RwLock<Tokens>>, tokio::task::JoinHandle<()>, String), AuthError> {
    match auth.clone() {
        Auth::BearerCommand { command, dir, refresh } => {
            let fetch = move || {
                let (command, dir) = (command.clone(), dir.clone());
                async move {
                    let t = run_command(&command, &dir).await?;
                    let v = header(&t).map_err(|e| AuthError::Command(e.to_string()))?;
                    Ok((v, refresh))
                }
            };
            let (first, wait) = fetch().await?;
            let tokens = Arc::new(RwLock::new(Tokens::new(first)));
            let task = tokio::spawn(refresh_loop(tokens.clone(), sink.clone(), "the token command", fetch, wait));
            let every = humantime::format_duration(refresh);
            Ok((tokens, task, format!("bearer token from a command, run again every {every}")))
        }
        Auth::Oauth2 { token_url, client_id, client_secret, scope, .. } => {
            let http = reqwest::Client::builder()
                .build()
                .map_err(|e| AuthError::OAuth2(format!("cannot build the HTTP client: {e}")))?;
            let what = format!("OAuth2 client credentials from {} (client {client_id})", shown_url(&token_url));
            let host = token_url.strip_prefix("http://").map(|r| r.split(['/', ':', '?']).next().unwrap_or(""));
            if host.is_some_and(|h| !matches!(h, "127.0.0.1" | "localhost" | "[::1]")) {
                sink.event(Event::Auth {
                    note: format!(
                        "{} is plain http: the client secret crosses the network unencrypted",
                        shown_url(&token_url)
                    ),
                    failed: true,
                });
            }
            let client = Arc::new(Client { http, url: token_url, id: client_id, secret: client_secret, scope });
            let fetch = move || {
                let client = client.clone();
                async move {
                    let (t, next) = client.fetch().await?;
                    let v =
                        header(&t).map_err(|_| AuthError::OAuth2("the access_token cannot go in a header".into()))?;
                    Ok((v, next))
                }
            };
            let (first, wait) = fetch().await?;
            let tokens = Arc::new(RwLock::new(Tokens::new(first)));
            let task = tokio::spawn(refresh_loop(tokens.clone(), sink.clone(), "the OAuth2 token", fetch, wait));
            Ok((tokens, task, format!("{what}, fetched again in {} s", wait.as_secs())))
        }
        Auth::Sigv4 { .. } | Auth::BearerEnv { .. } => Err(AuthError::Command("not a refreshed token".into())),
    }
}

/// Fetches the next token when due, forever: after a failure, sooner (5 s, doubling to a
/// minute), keeping the last good token meanwhile and saying so.
async fn refresh_loop<F, Fut>(
    tokens: Arc<RwLock<Tokens>>,
    sink: Arc<dyn Sink>,
    what: &'static str,
    fetch: F,
    first: Duration,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(HeaderValue, Duration), AuthError>>,
{
    let (mut wait, mut retry) = (first, RETRY_FIRST);
    loop {
        tokio::time::sleep(wait).await;
        match fetch().await {
            Ok((v, next)) => {
                tokens.write().unwrap_or_else(|e| e.into_inner()).replace(v);
                (wait, retry) = (next, RETRY_FIRST);
            }
            Err(e) => {
                sink.event(Event::Auth {
                    note: format!(
                        "could not refresh {what} ({e}); sending the last one, trying again in {} s",
                        retry.as_secs()
                    ),
                    failed: true,
                });
                wait = retry;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_header_values_or_refused_and_every_one_sent_is_remembered() {
        assert_eq!(header(" abc.def \n").unwrap().to_str().unwrap(), "Bearer abc.def");
        assert!(header("a\nb").is_err() && header("  ").is_err());
        assert_eq!(
            form_body(&[("grant_type", "client_credentials"), ("scope", "api/read api/write")]),
            "grant_type=client_credentials&scope=api%2Fread+api%2Fwrite"
        );
        let mut t = Tokens::new(header("one").unwrap());
        t.replace(header("two").unwrap());
        assert_eq!(t.all(), ["two", "one"]);
    }

    #[tokio::test]
    async fn a_failing_command_says_its_status_not_its_output() {
        let here = Path::new("");
        let e = run_command("echo secret-token; echo 'bad credentials' >&2; exit 3", here).await.unwrap_err();
        let e = e.to_string();
        assert!(e.contains("exit status: 3") && e.contains("bad credentials") && !e.contains("secret-token"), "{e}");
        assert_eq!(run_command("printf ' tok-1 \\n'", here).await.unwrap(), "tok-1");
    }
}
