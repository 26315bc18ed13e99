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
pub mod lambda;
pub mod metrics;
pub mod profile;
pub mod rules;
pub mod tables;
pub mod terraform;

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// How long the gateway waits on a client.
    pub client_timeouts: config::ClientTimeouts,
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
    /// Lambda endpoint URL (the Invoke API).
    pub lambda_url: String,
    /// Region.
    pub region: String,
    /// The main table's name (empty when the stack has none).
    pub table_name: String,
    /// Every table's name, the main one first.
    pub tables: Vec<String>,
    /// The main function's name.
    pub function_name: String,
    /// Every function's name, the main one first.
    pub functions: Vec<String>,
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
            format!("export AWS_ENDPOINT_URL_LAMBDA={}", self.lambda_url),
            format!("export AWS_REGION={r} AWS_DEFAULT_REGION={r}", r = self.region),
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
    /// A function's code is missing or cannot run.
    #[error(transparent)]
    Code(#[from] lambda::code::CodeError),
    /// A fixed port could not be bound.
    #[error("cannot serve {what} on 127.0.0.1:{port}: {source}; pick another port or stop what uses it")]
    Port {
        /// What was to listen there.
        what: &'static str,
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
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
    /// Every function's service, the main one first.
    lambdas: Vec<LambdaService>,
    metrics: MetricStore,
    /// Every function's log, in the same order.
    log_paths: Vec<PathBuf>,
    insights_path: PathBuf,
    notes: Vec<String>,
    /// Where zipped code was unpacked.
    scratch: PathBuf,
    stop: watch::Sender<bool>,
}

/// The loopback listeners the stack serves on, bound before anything else.
struct Listeners {
    api: (tokio::net::TcpListener, String),
    dynamodb: (tokio::net::TcpListener, String),
    cloudwatch: (tokio::net::TcpListener, String),
    lambda: (tokio::net::TcpListener, String),
}

/// What [`Stack::start_parts`] started besides the Lambda services (which it pushes to its
/// caller's list as they run, so a failure midway can stop them).
struct Started {
    endpoints: Endpoints,
    metrics: MetricStore,
    log_paths: Vec<PathBuf>,
    insights_path: PathBuf,
    notes: Vec<String>,
}

/// What [`Stack::start_parts`] starts from.
struct Parts<'a> {
    config: &'a StackConfig,
    listeners: Listeners,
    scratch: &'a Path,
    stop_rx: watch::Receiver<bool>,
}

/// A new directory under the system's temporary one that only this user can enter, with a
/// name no one can guess ahead of it: code unpacked there cannot be swapped by another user.
fn private_dir(prefix: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut last = None;
    for _ in 0..8 {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{:016x}", std::process::id(), fastrand::u64(..)));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary directory")))
}

async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

/// Binds `port` on loopback when one is asked for (an OS-assigned one otherwise), naming
/// `what` listens there when it is taken.
async fn bind_at(what: &'static str, port: Option<u16>) -> Result<(tokio::net::TcpListener, String), StartError> {
    let Some(port) = port else { return Ok(bind().await?) };
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|source| StartError::Port {
        what,
        port,
        source,
    })?;
    Ok((l, format!("http://127.0.0.1:{port}")))
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
    /// Starts DynamoDB (with the tables created), CloudWatch, Lambda and the HTTP API on
    /// loopback. Must run inside a Tokio runtime. Whatever fails, nothing it started is left
    /// running and its scratch directory is removed.
    pub async fn start(config: StackConfig) -> Result<Stack, StartError> {
        config.validate().map_err(StartError::Config)?;
        // Fixed ports first: one that is taken is said before anything is prepared.
        let listeners = Listeners {
            api: bind_at("the API", config.ports.api).await?,
            dynamodb: bind_at("DynamoDB", config.ports.dynamodb).await?,
            cloudwatch: bind_at("CloudWatch", config.ports.cloudwatch).await?,
            lambda: bind_at("Lambda", config.ports.lambda).await?,
        };
        let scratch = private_dir("local-stack-code")?;
        let (stop, stop_rx) = watch::channel(false);
        let mut started: Vec<LambdaService> = Vec::new();
        let parts = Parts { config: &config, listeners, scratch: &scratch, stop_rx };
        match Self::start_parts(parts, &mut started).await {
            Ok(s) => Ok(Stack {
                endpoints: s.endpoints,
                lambdas: started,
                metrics: s.metrics,
                log_paths: s.log_paths,
                insights_path: s.insights_path,
                notes: s.notes,
                scratch,
                stop,
            }),
            Err(e) => {
                let _ = stop.send(true);
                for l in &started {
                    l.shutdown();
                }
                let _ = std::fs::remove_dir_all(&scratch);
                Err(e)
            }
        }
    }

    /// The services, each pushed to `started` as soon as it runs so a failure can stop it.
    async fn start_parts(p: Parts<'_>, started: &mut Vec<LambdaService>) -> Result<Started, StartError> {
        let Parts { config, listeners, scratch, stop_rx } = p;
        // Unpacking code and installing a Python runtime block: off the async threads.
        let code = {
            let (functions, scratch) = (config.functions().cloned().collect::<Vec<_>>(), scratch.to_path_buf());
            tokio::task::spawn_blocking(move || {
                let cache = lambda::python::default_cache();
                functions
                    .iter()
                    .map(|f| lambda::code::prepare(f, &scratch, cache.as_deref()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| StartError::Io(std::io::Error::other(e)))??
        };
        // One note per distinct message: two functions on the same missing Python say it once.
        let mut notes: Vec<String> = Vec::new();
        for n in code.iter().filter_map(|e| e.note.clone()) {
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
        let shared = Shared {
            profile: Arc::new(profile::Profile::load(&config.latency_profile)?),
            sampler: Arc::new(profile::Sampler::new(config.seed)),
            metrics: MetricStore::new(),
            account: Arc::new(lambda::account::Account::new(config.account_concurrency)),
            client_timeouts: config.client_timeouts,
        };
        let metrics = shared.metrics.clone();

        // DynamoDB: dynoxide on an internal port, our layer on the public one.
        let db = dynoxide::Database::memory().map_err(|e| StartError::Table(format!("{e:?}")))?;
        for t in config.tables() {
            tables::create(&db, t).map_err(StartError::Table)?;
        }
        let (inner_listener, inner_url) = bind().await?;
        let mut inner_stop = stop_rx.clone();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(inner_listener, db, async move {
                let _ = inner_stop.wait_for(|s| *s).await;
            })
            .await;
        });
        let layer = dynamodb::DynamoLayer::new(inner_url, config.tables(), &config.region, &config.account_id, &shared);
        let (ddb_listener, dynamodb_url) = listeners.dynamodb;
        serve(ddb_listener, layer.router(), stop_rx.clone());
        let (cw_listener, cloudwatch_url) = listeners.cloudwatch;
        serve(cw_listener, cloudwatch::router(metrics.clone()), stop_rx.clone());

        // Lambda: environments log where a CloudWatch log group would hold their output, one
        // log per function.
        // A new directory each time: a name made of the process id and a count would be one
        // an earlier process with the same id left behind, logs and all.
        let log_dir = match &config.log_dir {
            Some(d) => d.clone(),
            None => private_dir("local-stack-logs")?,
        };
        std::fs::create_dir_all(&log_dir)?;
        let insights_path = log_dir.join(lambda::insights::LOG_NAME);
        // A log is this stack's alone: one an earlier run left in the same directory (a reused
        // --out) would be read as this run's REPORT lines.
        let fresh = |p: &Path| std::fs::File::create(p).map(drop);
        fresh(&insights_path)?;
        let open = |p: &Path| std::fs::OpenOptions::new().create(true).append(true).open(p);
        let env_vars = vec![
            ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), dynamodb_url.clone()),
            // The role's temporary credentials, as Lambda provides them (dummies: the local
            // stack checks no signature).
            ("AWS_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_SESSION_TOKEN".to_owned(), "test".to_owned()),
        ];
        let (mut log_paths, mut integrations) = (Vec::new(), Vec::new());
        for (f, code) in config.functions().zip(code) {
            let log_path = log_dir.join(format!("{}.log", f.name));
            fresh(&log_path)?;
            let logs = (open(&log_path)?, open(&insights_path)?);
            // A tool's function (the fleet's worker) takes nothing from the stack's account.
            let own = f.own_account.then(|| Shared {
                account: Arc::new(lambda::account::Account::new(f.set_aside() + rules::UNRESERVED_MINIMUM)),
                ..shared.clone()
            });
            let svc = LambdaService::new(
                f.clone(),
                &config.region,
                &config.account_id,
                code,
                env_vars.clone(),
                logs,
                own.as_ref().unwrap_or(&shared),
            );
            let routes = if started.is_empty() { config.api.routes.clone() } else { f.routes.clone() };
            integrations.push((routes, svc.clone()));
            started.push(svc);
            log_paths.push(log_path);
        }
        // Provisioned concurrency is ready before the API takes traffic, as on AWS once the
        // configuration reports READY.
        for l in started.iter() {
            l.provision().await?;
        }

        let (lambda_listener, lambda_url) = listeners.lambda;
        let invoke = lambda::invoke_api::router(started.clone(), &config.region, &config.account_id, stop_rx.clone());
        serve(lambda_listener, invoke, stop_rx.clone());

        let (api_listener, api_url) = listeners.api;
        let api_port = api_listener.local_addr()?.port();
        let gateway =
            apigw::router(config.api.clone(), (&config.account_id, &config.region), api_port, integrations, &shared)
                .map_err(StartError::Config)?;
        apigw::listener::serve(api_listener, gateway, config.client_timeouts.header, stop_rx);

        // The invoke URL names a stage other than `$default`, as AWS's does.
        let api_url = match config.api.stage.as_str() {
            "$default" => api_url,
            stage => format!("{api_url}/{stage}"),
        };
        let endpoints = Endpoints {
            api_url,
            dynamodb_url,
            cloudwatch_url,
            lambda_url,
            region: config.region.clone(),
            table_name: config.dynamodb.table_name.clone(),
            tables: config.tables().map(|t| t.table_name.clone()).collect(),
            function_name: config.function.name.clone(),
            functions: config.functions().map(|f| f.name.clone()).collect(),
            api_id: config.api.api_id.clone(),
            stage: config.api.stage.clone(),
        };
        Ok(Started { endpoints, metrics, log_paths, insights_path, notes })
    }

    /// Where everything listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The metrics every emulator records (what the CloudWatch endpoint serves).
    pub fn metrics(&self) -> &MetricStore {
        &self.metrics
    }

    /// The main function's Lambda emulator (environment counts, process ids).
    pub fn lambda(&self) -> &LambdaService {
        &self.lambdas[0]
    }

    /// Every function's Lambda emulator, the main one first.
    pub fn lambdas(&self) -> &[LambdaService] {
        &self.lambdas
    }

    /// The main function's log: process output plus START/END/REPORT lines.
    pub fn log_path(&self) -> &Path {
        &self.log_paths[0]
    }

    /// Every function's log, in [`Stack::lambdas`]' order.
    pub fn log_paths(&self) -> &[PathBuf] {
        &self.log_paths
    }

    /// What the user should know about how the stack runs their code (a Python runtime on
    /// another version, say).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The Lambda Insights log: one performance event per invocation, with its CPU time.
    pub fn insights_path(&self) -> &Path {
        &self.insights_path
    }

    /// Stops the servers and kills every execution environment.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops as [`Stack::stop`] does, then waits (at most 5 s) until every environment's
    /// process has ended and been reaped. A caller about to exit uses this: the kills are
    /// carried out by tasks of its runtime, and a process that exits first leaves its functions
    /// running, or as zombies where nothing reaps orphans (a container's first process).
    pub async fn stop_and_reap(self) {
        let _ = self.stop.send(true);
        let envs: Vec<_> = self.lambdas.iter().flat_map(LambdaService::shutdown).collect();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        for env in &envs {
            if tokio::time::timeout_at(deadline, env.died()).await.is_err() {
                break;
            }
        }
        // Environments that were in INIT: killed by the shutdown, gone from the list once
        // their start has seen the end (after their watcher reaped them).
        while self.lambdas.iter().any(|l| l.starting() > 0) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        drop(self);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for lambda in &self.lambdas {
            lambda.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
