//! local-stack: API Gateway (HTTP API), Lambda, DynamoDB and CloudWatch emulated on loopback,
//! running the real `target-api` binary through the real Lambda Runtime API — the embedded
//! default target of loadgen, so the same code paths work with no AWS account.
//!
//! [`Stack::start`] starts everything on 127.0.0.1 with OS-assigned ports; [`Stack::stop`] (or
//! dropping the stack) tears it down and leaves no process behind.

pub mod apigw;
pub mod cloudwatch;
pub mod config;
pub mod dynamodb;
pub mod infra;
pub mod lambda;
pub mod metrics;
pub mod profile;
pub mod rules;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

pub use config::StackConfig;
pub use lambda::LambdaService;
pub use metrics::MetricStore;

/// What every emulator shares: the latency profile, its seeded sampler and the metric store.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The latency profile.
    pub profile: Arc<profile::Profile>,
    /// Draws delays from it.
    pub sampler: Arc<profile::Sampler>,
    /// Where every emulator records its CloudWatch metrics.
    pub metrics: MetricStore,
    /// The account's Lambda quota, shared by every function.
    pub account: Arc<lambda::account::Account>,
}

/// Where the running stack listens, and the names it serves.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    /// Base URL of the HTTP API (`http://127.0.0.1:port`).
    pub api_url: String,
    /// DynamoDB endpoint URL.
    pub dynamodb_url: String,
    /// CloudWatch endpoint URL.
    pub cloudwatch_url: String,
    /// Region.
    pub region: String,
    /// Table name.
    pub table_name: String,
    /// Function name.
    pub function_name: String,
    /// API id.
    pub api_id: String,
    /// Stage.
    pub stage: String,
}

impl Endpoints {
    /// Shell `export` lines that point the aws CLI and SDKs at the stack.
    pub fn env_exports(&self) -> Vec<String> {
        vec![
            format!("export AWS_ENDPOINT_URL_DYNAMODB={}", self.dynamodb_url),
            format!("export AWS_ENDPOINT_URL_CLOUDWATCH={}", self.cloudwatch_url),
            format!("export AWS_REGION={}", self.region),
            "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true".to_owned(),
        ]
    }
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is out of range.
    #[error("invalid stack setting: {0}")]
    Config(String),
    /// The latency profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    /// The function binary does not exist.
    #[error("the function binary {0} does not exist: build target-api first (cargo build --release -p target-api)")]
    MissingBinary(PathBuf),
    /// Binding a loopback port or creating a file failed.
    #[error("cannot start the local stack: {0}")]
    Io(#[from] std::io::Error),
    /// dynoxide refused to create the table.
    #[error("cannot create the DynamoDB table: {0}")]
    Table(String),
    /// An environment of the provisioned concurrency failed its INIT.
    #[error(transparent)]
    Provision(#[from] lambda::ProvisionError),
}

/// A running local stack.
#[derive(Debug)]
pub struct Stack {
    endpoints: Endpoints,
    lambda: LambdaService,
    metrics: MetricStore,
    log_path: PathBuf,
    insights_path: PathBuf,
    stop: watch::Sender<bool>,
}

static STACK_SEQ: AtomicU64 = AtomicU64::new(0);

async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

fn serve(listener: tokio::net::TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
    });
}

impl Stack {
    /// Starts DynamoDB (with the table created), CloudWatch, Lambda and the HTTP API on
    /// loopback. Must run inside a Tokio runtime.
    pub async fn start(config: StackConfig) -> Result<Stack, StartError> {
        config.validate().map_err(StartError::Config)?;
        if !config.function.binary.is_file() {
            return Err(StartError::MissingBinary(config.function.binary.clone()));
        }
        let shared = Shared {
            profile: Arc::new(profile::Profile::load(&config.latency_profile)?),
            sampler: Arc::new(profile::Sampler::new(config.seed)),
            metrics: MetricStore::new(),
            account: Arc::new(lambda::account::Account::new(config.account_concurrency)),
        };
        let metrics = shared.metrics.clone();
        let (stop, stop_rx) = watch::channel(false);

        // DynamoDB: dynoxide on an internal port, our layer on the public one.
        let db = dynoxide::Database::memory().map_err(|e| StartError::Table(format!("{e:?}")))?;
        dynamodb::create_table(&db, &config.dynamodb.table_name).map_err(StartError::Table)?;
        let (inner_listener, inner_url) = bind().await?;
        let mut inner_stop = stop_rx.clone();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(inner_listener, db, async move {
                let _ = inner_stop.wait_for(|s| *s).await;
            })
            .await;
        });
        let layer =
            dynamodb::DynamoLayer::new(inner_url, &config.dynamodb, &config.region, &config.account_id, &shared);
        let (ddb_listener, dynamodb_url) = bind().await?;
        serve(ddb_listener, layer.router(), stop_rx.clone());

        let (cw_listener, cloudwatch_url) = bind().await?;
        serve(cw_listener, cloudwatch::router(metrics.clone()), stop_rx.clone());

        // Lambda: environments log where a CloudWatch log group would hold their output.
        let log_dir = match &config.log_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!(
                "local-stack-{}-{}",
                std::process::id(),
                STACK_SEQ.fetch_add(1, Ordering::Relaxed)
            )),
        };
        std::fs::create_dir_all(&log_dir)?;
        let log_path = log_dir.join(format!("{}.log", config.function.name));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
        let insights_path = log_dir.join("lambda-insights.log");
        let insights = std::fs::OpenOptions::new().create(true).append(true).open(&insights_path)?;
        let env_vars = vec![
            ("TABLE_NAME".to_owned(), config.dynamodb.table_name.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), dynamodb_url.clone()),
            // The role's temporary credentials, as Lambda provides them (dummies: the local
            // stack checks no signature).
            ("AWS_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_SESSION_TOKEN".to_owned(), "test".to_owned()),
        ];
        let lambda = LambdaService::new(
            config.function.clone(),
            &config.region,
            &config.account_id,
            env_vars,
            log,
            insights,
            &shared,
        );
        // Provisioned concurrency is ready before the API takes traffic, as on AWS once the
        // configuration reports READY.
        lambda.provision().await?;

        let (api_listener, api_url) = bind().await?;
        let api_port = api_listener.local_addr()?.port();
        let gateway = apigw::router(config.api.clone(), &config.account_id, api_port, lambda.clone(), &shared)
            .map_err(StartError::Config)?;
        serve(api_listener, gateway, stop_rx);

        let endpoints = Endpoints {
            api_url,
            dynamodb_url,
            cloudwatch_url,
            region: config.region.clone(),
            table_name: config.dynamodb.table_name.clone(),
            function_name: config.function.name.clone(),
            api_id: config.api.api_id.clone(),
            stage: config.api.stage.clone(),
        };
        Ok(Stack { endpoints, lambda, metrics, log_path, insights_path, stop })
    }

    /// Where everything listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The metrics every emulator records (what the CloudWatch endpoint serves).
    pub fn metrics(&self) -> &MetricStore {
        &self.metrics
    }

    /// The Lambda emulator (environment counts, process ids).
    pub fn lambda(&self) -> &LambdaService {
        &self.lambda
    }

    /// The function log: process output plus START/END/REPORT lines.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The Lambda Insights log: one performance event per invocation, with its CPU time.
    pub fn insights_path(&self) -> &Path {
        &self.insights_path
    }

    /// Stops the servers and kills every execution environment.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.lambda.shutdown();
    }
}
