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
use bytes::Bytes;
use http_body_util::Full;

use super::{AuthError, Place};
use crate::event::{Event, Sink};

/// How long before temporary credentials expire they are fetched again.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// How often credentials without an expiry are fetched again (a profile can change).
const REFRESH_EVERY: Duration = Duration::from_secs(15 * 60);

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
            Place::Url { region: run } => {
                let region = region.unwrap_or(run).to_owned();
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
                let shared = credentials.clone();
                let sink = sink.clone();
                let refresher = tokio::spawn(async move {
                    loop {
                        let expiry = shared.read().unwrap_or_else(|e| e.into_inner()).expiry();
                        let wait = expiry
                            .and_then(|t| t.duration_since(SystemTime::now()).ok())
                            .map_or(REFRESH_EVERY, |left| {
                                left.saturating_sub(REFRESH_AHEAD).max(Duration::from_secs(5))
                            });
                        tokio::time::sleep(wait).await;
                        match provider.provide_credentials().await {
                            Ok(c) => *shared.write().unwrap_or_else(|e| e.into_inner()) = c,
                            Err(e) => sink.event(Event::Auth {
                                note: format!(
                                    "could not refresh the AWS credentials ({e}); signing with the last ones"
                                ),
                                failed: true,
                            }),
                        }
                    }
                });
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
    pub fn sign(&self, req: &mut hyper::Request<Full<Bytes>>, host: &str, body: &[u8]) {
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
