//! SigV4 for every request, with the SDK's own signer (`aws-sigv4`): the `host`, `x-amz-date`
//! (and a session's `x-amz-security-token`) are signed with the body's hash. Against the local
//! stack the credentials are its own; against a URL they come from the standard chain (the
//! environment, profiles, SSO, a role) once, and again before temporary ones expire.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::{AuthError, Place};
use crate::event::{Event, Sink};

/// How long before temporary credentials expire they are fetched again.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// How often credentials without an expiry are fetched again (a profile can change).
const REFRESH_EVERY: Duration = Duration::from_secs(15 * 60);

/// The region an API Gateway host names: `abc123.execute-api.eu-west-1.amazonaws.com`.
fn region_of(url: &str) -> Option<String> {
    let host = url.split_once("://")?.1.split(['/', ':', '?']).next()?;
    let rest = host.split_once(".execute-api.")?.1;
    let region = rest.split('.').next()?;
    (!region.is_empty()).then(|| region.to_owned())
}

/// Fetches the credentials again before they expire (or every 15 minutes), and after a
/// failure soon: 5 s, doubling to a minute.
async fn refresh(
    shared: Arc<RwLock<Credentials>>,
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    sink: Arc<dyn Sink>,
) {
    let mut retry = Duration::from_secs(5);
    let mut failed = false;
    loop {
        let expiry = shared.read().unwrap_or_else(|e| e.into_inner()).expiry();
        let wait = match (failed, expiry) {
            (true, _) => retry,
            (false, None) => REFRESH_EVERY,
            // Expired already: fetch at once.
            (false, Some(t)) => {
                t.duration_since(SystemTime::now()).map_or(Duration::ZERO, |left| left.saturating_sub(REFRESH_AHEAD))
            }
        };
        tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
        match provider.provide_credentials().await {
            Ok(c) => {
                *shared.write().unwrap_or_else(|e| e.into_inner()) = c;
                (failed, retry) = (false, Duration::from_secs(5));
            }
            Err(e) => {
                sink.event(Event::Auth {
                    note: format!(
                        "could not refresh the AWS credentials ({e}); signing with the last ones, trying again in {} s",
                        retry.as_secs()
                    ),
                    failed: true,
                });
                if failed {
                    retry = (retry * 2).min(Duration::from_secs(60));
                }
                failed = true;
            }
        }
    }
}

/// Signs requests.
pub struct Signer {
    service: String,
    region: String,
    credentials: Arc<RwLock<Credentials>>,
    /// Whose credentials, for the start line.
    source: &'static str,
}

impl Signer {
    /// Credentials for `place`, and the task refreshing them when they come from the chain.
    pub(super) async fn start(
        service: &str,
        region: Option<&str>,
        place: Place<'_>,
        sink: &Arc<dyn Sink>,
    ) -> Result<(Signer, Option<tokio::task::JoinHandle<()>>), AuthError> {
        match place {
            Place::LocalStack { region: stack } => {
                let c = Credentials::new(
                    local_stack::apigw::iam::ACCESS_KEY_ID,
                    local_stack::apigw::iam::SECRET_ACCESS_KEY,
                    None,
                    None,
                    "local-stack",
                );
                let signer = Signer {
                    service: service.to_owned(),
                    region: region.unwrap_or(stack).to_owned(),
                    credentials: Arc::new(RwLock::new(c)),
                    source: "the local stack's credentials",
                };
                Ok((signer, None))
            }
            Place::Url { url, region: run } => {
                let region = region
                    .map(str::to_owned)
                    .or_else(|| region_of(url))
                    .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|r| !r.is_empty()))
                    .unwrap_or_else(|| run.to_owned());
                if region.is_empty() {
                    return Err(AuthError::NoRegion);
                }
                let config = crate::sdk::config(None, &region).await;
                let provider = config
                    .credentials_provider()
                    .ok_or_else(|| AuthError::NoCredentials("no credential provider is configured".into()))?;
                let first =
                    provider.provide_credentials().await.map_err(|e| AuthError::NoCredentials(e.to_string()))?;
                let credentials = Arc::new(RwLock::new(first));
                let refresher = tokio::spawn(refresh(credentials.clone(), provider, sink.clone()));
                let signer = Signer {
                    service: service.to_owned(),
                    region,
                    credentials,
                    source: "the standard AWS credential chain",
                };
                Ok((signer, Some(refresher)))
            }
        }
    }

    /// The start line.
    pub fn describe(&self) -> String {
        format!("requests signed with SigV4 ({}, {}) with {}", self.service, self.region, self.source)
    }

    /// Signs `req` going to `host`. A request the signer cannot read is sent unsigned: the
    /// gateway then refuses it, which the run counts, rather than the run failing.
    pub fn sign<B>(&self, req: &mut hyper::Request<B>, host: &str, body: &[u8]) {
        let identity = self.credentials.read().unwrap_or_else(|e| e.into_inner()).clone().into();
        let Ok(params) = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
        else {
            return;
        };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("http://{host}{pq}");
        let headers = [("host", host)];
        let Ok(signable) =
            SignableRequest::new(req.method().as_str(), url, headers.into_iter(), SignableBody::Bytes(body))
        else {
            return;
        };
        if let Ok(out) = sign(signable, &params.into()) {
            let (instructions, _) = out.into_parts();
            instructions.apply_to_request_http1x(req);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_execute_api_host_names_its_region() {
        assert_eq!(
            super::region_of("https://abc123.execute-api.eu-west-1.amazonaws.com/prod").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(super::region_of("https://api.example.com"), None);
    }
}
