//! `[target.auth]`: how every request proves who sends it — signed with SigV4 (IAM routes), or
//! carrying a bearer token read from the environment, printed by a command (and fetched again
//! as it ages), or issued by an OAuth2 token endpoint for a client's credentials. Credentials
//! and tokens are read when the run starts and live in memory only: results.json says which
//! kind and where from, never a value.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::millis;
use super::values::{duration, span};

/// `[target.auth]` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawAuth {
    #[schemars(with = "Option<RawSigV4>")]
    pub sigv4: Option<Spanned<RawSigV4>>,
    #[schemars(with = "Option<RawBearer>")]
    pub bearer: Option<Spanned<RawBearer>>,
    #[schemars(with = "Option<RawOAuth2>")]
    pub oauth2: Option<Spanned<RawOAuth2>>,
}

/// `sigv4 = { service, region }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawSigV4 {
    pub service: Option<String>,
    pub region: Option<String>,
}

/// `bearer = { env }` or `bearer = { command, refresh }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawBearer {
    pub env: Option<String>,
    pub command: Option<String>,
    #[schemars(with = "Option<String>")]
    pub refresh: Option<Spanned<String>>,
}

/// `oauth2 = { token_url, client_id, client_secret_env, scope }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawOAuth2 {
    pub token_url: String,
    pub client_id: String,
    pub client_secret_env: String,
    pub scope: Option<String>,
}

/// How requests are authorized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Auth {
    /// Signature Version 4 with the standard credential chain (on the local stack: its own
    /// credentials).
    Sigv4 {
        /// The signing name (`execute-api` for API Gateway).
        service: String,
        /// The region signed for (default: the stack's, or the SDK's for a URL target).
        region: Option<String>,
    },
    /// `authorization: Bearer <token>`, the token from an environment variable.
    BearerEnv {
        /// The variable's name.
        env: String,
        /// Its value, read at validation.
        #[serde(skip)]
        #[schemars(skip)]
        token: String,
    },
    /// `authorization: Bearer <token>`, the token what a command prints, run before the load
    /// and again every `refresh`.
    BearerCommand {
        /// The command (`sh -c`, run in the scenario's directory); results.json never has it,
        /// as any word of it may carry a secret.
        #[serde(serialize_with = "hidden")]
        command: String,
        /// Where it runs: the scenario's directory, as its other paths are read from.
        #[serde(skip)]
        #[schemars(skip)]
        dir: std::path::PathBuf,
        /// How often it is run again (ms in results.json).
        #[serde(with = "millis")]
        #[schemars(with = "f64")]
        refresh: Duration,
    },
    /// OAuth2 client credentials: a token from `token_url`, fetched again before it expires.
    Oauth2 {
        /// The token endpoint (Cognito: `https://<domain>/oauth2/token`); results.json and
        /// every message have it without its query string, which may carry a secret.
        #[serde(serialize_with = "without_query")]
        token_url: String,
        /// The client id.
        client_id: String,
        /// The environment variable holding the client secret.
        client_secret_env: String,
        /// Its value, read at validation.
        #[serde(skip)]
        #[schemars(skip)]
        client_secret: String,
        /// Scopes asked for, space-separated.
        scope: Option<String>,
    },
}

fn hidden<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(super::REDACTED)
}

fn without_query<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(shown_url(url))
}

/// A URL as outputs show it: without its query string or fragment.
pub fn shown_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

impl Auth {
    /// The values no output may show (the token, the client secret).
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Auth::BearerEnv { token, .. } => vec![token.clone()],
            Auth::Oauth2 { client_secret, .. } => vec![client_secret.clone()],
            Auth::Sigv4 { .. } | Auth::BearerCommand { .. } => Vec::new(),
        }
    }
}

/// The shortest refresh a command may ask for: a token fetched more often than this is a
/// command that fails or a mistake.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// Validates `[<table>.auth]` (`table` is `target` or `targets.NAME`).
pub(super) fn validate(
    loc: &Locator<'_>,
    raw: &Spanned<RawAuth>,
    env: &dyn Fn(&str) -> Option<String>,
    table: &str,
) -> Result<Auth, ScenarioError> {
    let a = raw.get_ref();
    let at = |rest: &str| format!("{table}.auth{rest}");
    let set = [a.sigv4.is_some(), a.bearer.is_some(), a.oauth2.is_some()].iter().filter(|x| **x).count();
    if set != 1 {
        return Err(loc.error(
            span(raw),
            at(""),
            "give exactly one of sigv4 = { service = \"execute-api\" }, bearer = { env = \"TOKEN\" } (or { command, \
             refresh }), oauth2 = { token_url, client_id, client_secret_env }",
        ));
    }
    let unset = |s: &std::ops::Range<usize>, field: &str, name: &str| {
        loc.error(s.clone(), field, format!("environment variable {name} is not set; export it before the run"))
    };
    if let Some(s) = &a.sigv4 {
        let v = s.get_ref();
        let service = v.service.clone().unwrap_or_else(|| "execute-api".into());
        let plain = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !plain(&service) || v.region.as_deref().is_some_and(|r| !plain(r)) {
            return Err(loc.error(
                span(s),
                at(".sigv4"),
                "service and region are names of letters, digits and '-' (e.g. service = \"execute-api\", region = \"us-east-1\")",
            ));
        }
        return Ok(Auth::Sigv4 { service, region: v.region.clone() });
    }
    if let Some(b) = &a.bearer {
        let v = b.get_ref();
        return match (&v.env, &v.command) {
            (Some(name), None) => {
                if v.refresh.is_some() {
                    return Err(loc.error(
                        span(b),
                        at(".bearer.refresh"),
                        "refresh runs a command again; a token from env is read once",
                    ));
                }
                let token = env(name)
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| unset(&span(b), &at(".bearer.env"), name))?;
                if token.trim().chars().any(char::is_control) {
                    return Err(loc.error(
                        span(b),
                        at(".bearer.env"),
                        format!("{name} holds a line break or another control character, which a header may not carry"),
                    ));
                }
                Ok(Auth::BearerEnv { env: name.clone(), token: token.trim().to_owned() })
            }
            (None, Some(command)) if !command.trim().is_empty() => {
                let refresh = match &v.refresh {
                    Some(r) => duration(loc, r, &at(".bearer.refresh"))?,
                    None => Duration::from_secs(50 * 60),
                };
                if refresh < MIN_REFRESH {
                    let place = v.refresh.as_ref().map_or_else(|| span(b), span);
                    return Err(loc.error(place, at(".bearer.refresh"), "refresh every 1s or longer (default 50m)"));
                }
                let dir = loc.file().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                Ok(Auth::BearerCommand { command: command.clone(), dir, refresh })
            }
            (Some(_), Some(_)) => Err(loc.error(
                span(b),
                at(".bearer"),
                "give env = \"TOKEN\" (a variable holding the token) or command = \"…\" (printing it), not both",
            )),
            _ => Err(loc.error(
                span(b),
                at(".bearer"),
                "give env = \"TOKEN\" (a variable holding the token) or a non-empty command = \"…\" (printing it)",
            )),
        };
    }
    let Some(o) = &a.oauth2 else {
        return Err(loc.error(span(raw), at(""), "give one of sigv4, bearer or oauth2"));
    };
    let v = o.get_ref();
    let host = v.token_url.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if !(v.token_url.starts_with("https://") || v.token_url.starts_with("http://")) || host.is_empty() {
        return Err(loc.error(
            span(o),
            at(".oauth2.token_url"),
            format!("'{}' is not an http(s) URL; Cognito's is https://<domain>/oauth2/token", shown_url(&v.token_url)),
        ));
    }
    if v.client_id.trim().is_empty() {
        return Err(loc.error(span(o), at(".oauth2.client_id"), "the app client's id is required"));
    }
    let secret = env(&v.client_secret_env)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unset(&span(o), &at(".oauth2.client_secret_env"), &v.client_secret_env))?;
    Ok(Auth::Oauth2 {
        token_url: v.token_url.clone(),
        client_id: v.client_id.clone(),
        client_secret_env: v.client_secret_env.clone(),
        client_secret: secret,
        scope: v.scope.clone(),
    })
}
