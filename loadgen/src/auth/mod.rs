//! Authorizing the load: each request signed with SigV4 ([`sigv4`]) or carrying a bearer token
//! ([`token`]: from the environment, a command, or an OAuth2 token endpoint), as
//! `[target.auth]` says. Credentials and tokens are fetched before the first request and again
//! in the background as they age, so a long run never sends an expired one; they stay in
//! memory, and a failed refresh keeps the last good one and says so.

pub mod sigv4;
pub mod token;

use std::sync::{Arc, RwLock};

use hyper::header::AUTHORIZATION;

use crate::event::{Event, Sink};
use crate::scenario::auth::Auth;

/// Why authorizing could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials for SigV4.
    #[error(
        "sigv4: no AWS credentials from the standard chain ({0}); export AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, set AWS_PROFILE, or run where a role is available"
    )]
    NoCredentials(String),
    /// No region to sign for.
    #[error("sigv4: no region to sign for; set region = \"…\" in its sigv4, or AWS_REGION")]
    NoRegion,
    /// The token command failed.
    #[error("bearer command: {0}")]
    Command(String),
    /// The token endpoint refused or could not be reached.
    #[error("oauth2: {0}")]
    OAuth2(String),
}

/// Where the load goes, for the credentials to sign with.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// The local stack: its own credentials and region.
    LocalStack {
        /// The stack's region.
        region: &'a str,
    },
    /// A URL: the standard credential chain; the region the scenario names, else the one an
    /// `execute-api` host names, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the run's.
    Url {
        /// The base URL.
        url: &'a str,
        /// The region the run's other AWS calls use.
        region: &'a str,
    },
}

/// Authorizes each request of a run.
pub struct Authorizer {
    how: How,
    /// The background refresh, stopped with the authorizer.
    refresher: Option<tokio::task::JoinHandle<()>>,
}

enum How {
    SigV4(sigv4::Signer),
    /// The token sent now (and those sent before), swapped when it is fetched again.
    Bearer(Arc<RwLock<token::Tokens>>),
}

impl Drop for Authorizer {
    fn drop(&mut self) {
        if let Some(r) = &self.refresher {
            r.abort();
        }
    }
}

impl Authorizer {
    /// Fetches what `auth` needs and starts refreshing it; says how on `sink`.
    pub async fn start(auth: &Auth, place: Place<'_>, sink: &Arc<dyn Sink>) -> Result<Authorizer, AuthError> {
        let note = |note: String| sink.event(Event::Auth { note, failed: false });
        match auth {
            Auth::Sigv4 { service, region } => {
                let (signer, refresher) = sigv4::Signer::start(service, region.as_deref(), place, sink).await?;
                note(signer.describe());
                Ok(Authorizer { how: How::SigV4(signer), refresher })
            }
            Auth::BearerEnv { env, token } => {
                note(format!("bearer token from ${env}"));
                let value = token::header(token).map_err(|e| AuthError::Command(e.to_string()))?;
                Ok(Authorizer { how: How::Bearer(Arc::new(RwLock::new(token::Tokens::new(value)))), refresher: None })
            }
            Auth::BearerCommand { .. } | Auth::Oauth2 { .. } => {
                let (value, refresher, what) = token::start(auth, sink).await?;
                note(what);
                Ok(Authorizer { how: How::Bearer(value), refresher: Some(refresher) })
            }
        }
    }

    /// Authorizes `req`, whose body is `body` and which goes to `host` (`127.0.0.1:9000`).
    pub fn apply<B>(&self, req: &mut hyper::Request<B>, host: &str, body: &[u8]) {
        match &self.how {
            How::SigV4(s) => s.sign(req, host, body),
            How::Bearer(v) => {
                let v = v.read().unwrap_or_else(|e| e.into_inner()).current.clone();
                req.headers_mut().insert(AUTHORIZATION, v);
            }
        }
    }

    /// Every bearer token this run has sent (what a response echoing one must not show).
    pub fn tokens(&self) -> Vec<String> {
        match &self.how {
            How::Bearer(v) => v.read().unwrap_or_else(|e| e.into_inner()).all(),
            How::SigV4(_) => Vec::new(),
        }
    }
}

/// The `host` a client sends for `uri`: its host, and its port unless it is the scheme's
/// default (what hyper writes, so a signature over it is over what is sent).
pub fn host_of(uri: &hyper::Uri) -> String {
    let host = uri.host().unwrap_or("");
    let default = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    match uri.port_u16() {
        Some(p) if Some(p) != default => format!("{host}:{p}"),
        _ => host.to_owned(),
    }
}
