//! The stack's settings: one typed [`StackConfig`] with AWS-like defaults that a scenario's
//! `[stack]` table (or `infra/`) overrides field by field. loadgen records the settings in
//! force in its results, so they read back and have a JSON Schema.

use std::path::PathBuf;
use std::time::Duration;

use crate::tables::{Billing, KeyAttribute, SecondaryIndex};

/// Lambda instruction set. Only changes the price and the reported setting locally: the
/// emulator runs whatever binary it is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Intel/AMD.
    #[default]
    X86_64,
    /// Graviton.
    Arm64,
}

impl Architecture {
    /// As Lambda names it: `x86_64` or `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// How the emulator gives an execution environment CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CpuModel {
    /// As Lambda: `memory_mb ÷ 1,769` of a core ([`crate::rules::cpu_share`]).
    #[default]
    Proportional,
    /// As `Proportional`, but always by measuring each invocation's CPU time and holding its
    /// response, never through cgroups (for hosts whose cgroups must not be touched).
    Measured,
    /// Every environment at the host's full speed (what Wave 1 did; for comparisons only).
    None,
}

/// A token bucket: `rate` tokens per second into a bucket of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Throttle {
    /// Steady-state requests per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: u32,
}

/// CORS as an HTTP API's `CorsConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Cors {
    /// `AllowOrigins` (`*` allowed).
    pub allow_origins: Vec<String>,
    /// `AllowMethods`.
    pub allow_methods: Vec<String>,
    /// `AllowHeaders`.
    pub allow_headers: Vec<String>,
    /// `ExposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `MaxAge`, seconds.
    pub max_age: Option<u32>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// The function and the Lambda service around it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FunctionConfig {
    /// Function name.
    pub name: String,
    /// The function's code, as Lambda is given it: a `bootstrap` executable, a directory
    /// holding the code, or a deployment `.zip` ([`crate::lambda::code`]).
    #[serde(alias = "binary")]
    pub code: PathBuf,
    /// Lambda's runtime identifier: `provided.al2023` / `provided.al2` (an OS-only runtime
    /// that runs `bootstrap`) or `python3.N` (the handler run through the AWS Lambda runtime
    /// interface client).
    #[serde(default = "provided")]
    pub runtime: String,
    /// The handler: what `_HANDLER` says (`bootstrap` on OS-only runtimes, by convention), or
    /// a Python `module.function`.
    #[serde(default = "bootstrap")]
    pub handler: String,
    /// The route keys this function serves when it is one of [`StackConfig::extra_functions`];
    /// the main function serves [`ApiConfig::routes`]. A function with none is reached only
    /// through the Invoke API (a fleet worker, say).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Memory size, MB (priced; reported in REPORT lines).
    pub memory_mb: u32,
    /// Function timeout.
    pub timeout: Duration,
    /// Reserved concurrency: the most execution environments at once, taken from the
    /// account's quota. `0` throttles everything; `None` (unreserved) shares what the account
    /// has left after every reservation.
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency: environments initialised before traffic and kept ready, part
    /// of the reserved concurrency. Invocations beyond them spill over to on-demand ones
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html>).
    #[serde(default)]
    pub provisioned_concurrency: u32,
    /// Architecture (for pricing and reports).
    pub architecture: Architecture,
    /// How long an idle environment lives before it is reclaimed. AWS does not publish this;
    /// idle environments are commonly observed to last 5–15 minutes, so 5 minutes by default.
    pub keep_warm: Duration,
    /// INIT limit: AWS gives INIT 10 s, then retries it inside the first invoke.
    pub init_limit: Duration,
    /// The function's own environment variables. Their values may be secrets: a serialized
    /// config (what loadgen's results record) shows each name with `<redacted>`.
    #[serde(serialize_with = "redacted_values")]
    pub environment: Vec<(String, String)>,
    /// Enforce Lambda's invocation-rate limit (10 per second per environment the reserved
    /// concurrency allows, [`crate::rules::invocation_rate`]). Only a benchmark of the
    /// emulator's own throughput turns it off.
    #[serde(default = "enforced")]
    pub invocation_rate_limit: bool,
    /// New environments the function may start per 10 s ([`crate::rules::scaling_rate`]).
    /// AWS fixes it at 1,000; lower only to see the limit with a small stack.
    #[serde(default = "scaling")]
    pub scaling_per_10s: u32,
    /// How environments get CPU.
    #[serde(default)]
    pub cpu_model: CpuModel,
    /// The payload format version of the API's integration with this function: `2.0`, or
    /// `1.0` (the REST-API-shaped event, and Terraform's default).
    #[serde(default = "payload_v2")]
    pub payload_format_version: String,
    /// The integration's own timeout, when it sets one below the API's
    /// [`ApiConfig::integration_timeout`].
    #[serde(default)]
    pub integration_timeout: Option<Duration>,
    /// The function is the load tool's own (loadgen's fleet worker), not the stack's: its
    /// concurrency comes from an account of its own, so the stack's functions meet exactly the
    /// account limits they were given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_account: bool,
}

fn payload_v2() -> String {
    "2.0".to_owned()
}

fn provided() -> String {
    "provided.al2023".to_owned()
}

fn bootstrap() -> String {
    "bootstrap".to_owned()
}

fn enforced() -> bool {
    true
}

fn scaling() -> u32 {
    crate::rules::NEW_ENVIRONMENTS_PER_10_S
}

fn account() -> u32 {
    crate::rules::ACCOUNT_CONCURRENCY
}

fn redacted_values<S: serde::Serializer>(vars: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(vars.len()))?;
    for (k, _) in vars {
        seq.serialize_element(&(k, "<redacted>"))?;
    }
    seq.end()
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ApiConfig {
    /// API id (the `apiId` in events and the `ApiId` metric dimension).
    pub api_id: String,
    /// Stage name.
    pub stage: String,
    /// Route keys such as `GET /items/{id}`, `ANY /{proxy+}` or `$default`.
    pub routes: Vec<String>,
    /// Stage default route throttling; one bucket per route, as AWS applies it per method.
    pub stage_throttle: Throttle,
    /// Per-route overrides, by route key.
    pub route_throttles: Vec<(String, Throttle)>,
    /// The account-level bucket every request also draws from (us-east-1: 10,000 rps, 5,000 burst).
    pub account_throttle: Throttle,
    /// Integration timeout, at most 30 s on HTTP APIs.
    pub integration_timeout: Duration,
    /// CORS; `None` leaves CORS to the function.
    pub cors: Option<Cors>,
    /// The stage's variables, delivered in every event's `stageVariables`. They may carry
    /// secrets, so a serialized config shows each name with `<redacted>`, as for the
    /// functions' variables.
    #[serde(default, serialize_with = "redacted_values")]
    pub stage_variables: Vec<(String, String)>,
    /// Route keys with `authorization_type = "AWS_IAM"`: each request must be signed (SigV4,
    /// service `execute-api`, the stack's region) with the local stack's credentials
    /// ([`crate::apigw::iam::ACCESS_KEY_ID`]).
    #[serde(default)]
    pub iam_routes: Vec<String>,
    /// JWT authorizers (`aws_apigatewayv2_authorizer` of type JWT).
    #[serde(default)]
    pub jwt_authorizers: Vec<JwtAuthorizer>,
    /// Routes a JWT authorizer guards, with the scopes they ask for.
    #[serde(default)]
    pub jwt_routes: Vec<JwtRoute>,
}

/// A JWT authorizer: tokens from `header`, signed by a key of `issuer`'s JWKS, for one of
/// `audience`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct JwtAuthorizer {
    /// Its id (what a route's `authorizer_id` names).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The issuer (`iss`), whose `/.well-known/openid-configuration` gives the keys.
    pub issuer: String,
    /// Accepted `aud` (or, without one, `client_id`) values.
    pub audience: Vec<String>,
    /// The request header the token comes from (lower case; `authorization` by default).
    pub header: String,
}

/// A route a JWT authorizer guards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct JwtRoute {
    /// The route key.
    pub route: String,
    /// The authorizer's id.
    pub authorizer: String,
    /// Scopes of which the token must hold one (none: any valid token).
    pub scopes: Vec<String>,
}

/// A DynamoDB table: its keys, indexes and capacity mode ([`crate::tables`]), and the
/// throughput limits the emulator holds it to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DynamoConfig {
    /// Table name, created on start.
    pub table_name: String,
    /// Partition key; target-api's `PK` (a string) by default.
    #[serde(default = "pk")]
    pub hash_key: KeyAttribute,
    /// Sort key; target-api's `SK` by default.
    #[serde(default = "sk")]
    pub range_key: Option<KeyAttribute>,
    /// Global secondary indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_indexes: Vec<SecondaryIndex>,
    /// Local secondary indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_indexes: Vec<SecondaryIndex>,
    /// Capacity mode. A provisioned table's capacity is also its throughput limit.
    #[serde(default)]
    pub billing: Billing,
    /// Read units per second the table serves before throttling. Default 12,000: what a new
    /// on-demand table sustains at once (warm throughput).
    pub read_units_per_s: f64,
    /// Write units per second. Default 4,000 (new on-demand table).
    pub write_units_per_s: f64,
    /// Read units per second one partition-key value serves before throttling (a hot key).
    /// Default 3,000, AWS's per-partition limit ([`crate::rules::PARTITION_READ_UNITS_PER_S`]).
    #[serde(default = "partition_read")]
    pub partition_read_units_per_s: f64,
    /// Write units per second per partition-key value. Default 1,000.
    #[serde(default = "partition_write")]
    pub partition_write_units_per_s: f64,
}

fn pk() -> KeyAttribute {
    KeyAttribute::string("PK")
}

fn sk() -> Option<KeyAttribute> {
    Some(KeyAttribute::string("SK"))
}

impl DynamoConfig {
    /// An on-demand table with AWS's default limits and target-api's `PK`/`SK` keys.
    pub fn on_demand(name: &str) -> DynamoConfig {
        DynamoConfig {
            table_name: name.to_owned(),
            hash_key: pk(),
            range_key: sk(),
            global_indexes: Vec::new(),
            local_indexes: Vec::new(),
            billing: Billing::OnDemand,
            read_units_per_s: 12_000.0,
            write_units_per_s: 4_000.0,
            partition_read_units_per_s: crate::rules::PARTITION_READ_UNITS_PER_S,
            partition_write_units_per_s: crate::rules::PARTITION_WRITE_UNITS_PER_S,
        }
    }
}

fn partition_read() -> f64 {
    crate::rules::PARTITION_READ_UNITS_PER_S
}

fn partition_write() -> f64 {
    crate::rules::PARTITION_WRITE_UNITS_PER_S
}

/// Everything [`crate::Stack::start`] needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct StackConfig {
    /// Region reported in ARNs and given to the function.
    pub region: String,
    /// The account's concurrency quota in the Region, shared by every function the stack hosts.
    #[serde(default = "account")]
    pub account_concurrency: u32,
    /// Account id reported in ARNs and events.
    pub account_id: String,
    /// The main function: it serves [`ApiConfig::routes`], and the cost figures are its.
    pub function: FunctionConfig,
    /// Further functions in the same account, each serving its own
    /// [`FunctionConfig::routes`] of the same HTTP API and writing its own log.
    #[serde(default)]
    pub extra_functions: Vec<FunctionConfig>,
    /// API Gateway settings.
    pub api: ApiConfig,
    /// The main DynamoDB table: target-api's, and the one `[stack]`'s table limits set. An
    /// empty name means the stack has no main table (a stack described only by its own tables).
    pub dynamodb: DynamoConfig,
    /// Further tables, each with its own keys, indexes and limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_tables: Vec<DynamoConfig>,
    /// Latency profile: a built-in name (`aws-typical`, `none`) or a path to a profile file.
    pub latency_profile: String,
    /// Seed of the latency sampler.
    pub seed: u64,
    /// Where function logs (with REPORT lines) go; a fresh temporary directory when `None`.
    pub log_dir: Option<PathBuf>,
    /// Fixed loopback ports, for an app configured to find the stack there; OS-assigned
    /// when not set.
    #[serde(default, skip_serializing_if = "Ports::is_unset")]
    pub ports: Ports,
    /// How long the gateway waits on a client: the emulator's own guard, not a stack setting
    /// (never written, so results of runs with other values still compare).
    #[serde(skip)]
    pub client_timeouts: ClientTimeouts,
}

/// How long the gateway waits on a client before giving up on it. AWS publishes neither of
/// API Gateway's; these bound what a slow client (slowloris) holds without cutting an honest
/// one short.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientTimeouts {
    /// For a request line and headers, counted from the end of the last response on a
    /// kept-alive connection (hyper starts it when it waits for a head): longer than the 60 s
    /// loadgen's clients keep an idle connection, so none is closed under a request about to
    /// reuse it. 75 s, nginx's keep-alive default.
    pub header: Duration,
    /// For a body once its headers have come: the longest integration (30 s).
    pub body: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts { header: Duration::from_secs(75), body: Duration::from_secs(30) }
    }
}

/// Loopback ports asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Ports {
    /// The HTTP API.
    pub api: Option<u16>,
    /// DynamoDB.
    pub dynamodb: Option<u16>,
    /// CloudWatch.
    pub cloudwatch: Option<u16>,
    /// Lambda's Invoke API.
    #[serde(default)]
    pub lambda: Option<u16>,
}

impl Ports {
    /// True when every port is OS-assigned.
    pub fn is_unset(&self) -> bool {
        *self == Ports::default()
    }
}

impl StackConfig {
    /// The most environments the function may have at once: its reservation, or else the
    /// account's quota (it is the only function the stack hosts, so none is reserved elsewhere).
    pub fn concurrency_limit(&self) -> u32 {
        let elsewhere: u32 = self.extra_functions.iter().map(FunctionConfig::set_aside).sum();
        self.function.reserved_concurrency.unwrap_or(self.account_concurrency.saturating_sub(elsewhere))
    }

    /// Every table the stack creates, the main one first.
    pub fn tables(&self) -> impl Iterator<Item = &DynamoConfig> {
        std::iter::once(&self.dynamodb).filter(|t| !t.table_name.is_empty()).chain(&self.extra_tables)
    }

    /// Every function the stack hosts, the main one first.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionConfig> {
        std::iter::once(&self.function).chain(&self.extra_functions)
    }
}

impl FunctionConfig {
    /// What the function takes from the account's quota for itself alone: its reservation,
    /// or its provisioned concurrency when it has none.
    pub fn set_aside(&self) -> u32 {
        self.reserved_concurrency.unwrap_or(self.provisioned_concurrency)
    }

    /// Checks what AWS would refuse of one function, `at` naming it in messages.
    fn validate(&self, at: &str, account: u32) -> Result<(), String> {
        let (f, keep) = (self, crate::rules::UNRESERVED_MINIMUM);
        if !(128..=10_240).contains(&f.memory_mb) {
            return Err(format!("{at}.memory_mb must be 128 to 10240, got {}", f.memory_mb));
        }
        if f.timeout < Duration::from_secs(1) || f.timeout > Duration::from_secs(900) {
            return Err(format!("{at}.timeout must be 1 s to 900 s, got {:?}", f.timeout));
        }
        if let Some(r) = f.reserved_concurrency
            && r > account.saturating_sub(keep)
        {
            return Err(format!(
                "{at}.reserved_concurrency {r} is more than AWS allows with account_concurrency {account}: \
                 at least {keep} must stay unreserved, so reserve at most {} or raise account_concurrency",
                account.saturating_sub(keep)
            ));
        }
        if f.provisioned_concurrency > 0 {
            let cap = f.reserved_concurrency.unwrap_or(account.saturating_sub(keep));
            if f.provisioned_concurrency > cap {
                return Err(format!(
                    "{at}.provisioned_concurrency {} is more than the function may have: at most {cap} \
                     (its reserved concurrency, or the account's concurrency less the {keep} AWS keeps unreserved)",
                    f.provisioned_concurrency
                ));
            }
        }
        if f.scaling_per_10s == 0 {
            return Err(format!("{at}.scaling_per_10s must be at least 1"));
        }
        crate::lambda::code::Runtime::parse(&f.runtime).map_err(|e| format!("{at}.runtime: {e}"))?;
        if f.payload_format_version != "2.0" && f.payload_format_version != "1.0" {
            return Err(format!(
                "{at}: payload format version '{}' is not one HTTP APIs have; use \"1.0\" or \"2.0\"",
                f.payload_format_version
            ));
        }
        if let Some(t) = f.integration_timeout
            && (t < Duration::from_millis(50) || t > Duration::from_secs(30))
        {
            return Err(format!("{at}.integration_timeout must be 50 ms to 30 s, got {t:?}"));
        }
        if f.name == "lambda-insights" {
            return Err(format!(
                "{at}.name 'lambda-insights' is the local stack's Lambda Insights log; rename the function"
            ));
        }
        if !valid_function_name(&f.name) {
            return Err(format!(
                "{at}.name '{}' is not a Lambda function name: 1 to 64 letters, digits, '-' or '_'",
                f.name
            ));
        }
        Ok(())
    }
}

/// Lambda's function-name rule (<https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html>).
fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl StackConfig {
    /// Checks the functions together: unique names, reservations the account can hold, and
    /// every route served by exactly one function.
    fn validate_functions(&self) -> Result<(), String> {
        let account = self.account_concurrency;
        self.function.validate("function", account)?;
        let mut names = vec![self.function.name.as_str()];
        let mut routes: Vec<(&str, &str)> =
            self.api.routes.iter().map(|r| (r.as_str(), self.function.name.as_str())).collect();
        for (i, f) in self.extra_functions.iter().enumerate() {
            let at = format!("extra_functions[{i}] ({})", f.name);
            // A tool's function has an account of its own, sized to it.
            let own = f.set_aside() + crate::rules::UNRESERVED_MINIMUM;
            f.validate(&at, if f.own_account { own } else { account })?;
            if names.contains(&f.name.as_str()) {
                return Err(format!("{at}: two functions are named '{}'; give each its own name", f.name));
            }
            names.push(&f.name);
            for r in &f.routes {
                crate::apigw::routes::RouteKey::parse(r).map_err(|e| format!("{at}.routes: {e}"))?;
                if let Some((_, other)) = routes.iter().find(|(k, _)| *k == r.as_str()) {
                    return Err(format!(
                        "{at}.routes: '{r}' is already served by function '{other}'; a route has one integration"
                    ));
                }
                routes.push((r, &f.name));
            }
        }
        let keep = crate::rules::UNRESERVED_MINIMUM;
        let reserved: u32 = self.functions().filter(|f| !f.own_account).map(FunctionConfig::set_aside).sum();
        if self.functions().count() > 1 && reserved > account.saturating_sub(keep) {
            return Err(format!(
                "the functions reserve {reserved} of account_concurrency {account} together: AWS keeps {keep} unreserved, \
                 so lower the reservations or raise account_concurrency"
            ));
        }
        Ok(())
    }
}

/// The routes target-api serves, as API Gateway route keys.
pub const TARGET_API_ROUTES: &[&str] =
    &["GET /health", "POST /items", "GET /items", "GET /items/{id}", "DELETE /items/{id}"];

impl StackConfig {
    /// Defaults that mirror `infra/`'s: reserved concurrency 100, 256 MB, 10 s timeout, `x86_64`,
    /// stage throttling 1,000 rps / 500 burst, the target-api routes.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        StackConfig {
            region: "us-east-1".into(),
            account_concurrency: crate::rules::ACCOUNT_CONCURRENCY,
            account_id: "123456789012".into(),
            function: FunctionConfig {
                name: "target-api".into(),
                code: binary.into(),
                runtime: provided(),
                handler: bootstrap(),
                routes: Vec::new(),
                memory_mb: 256,
                timeout: Duration::from_secs(10),
                reserved_concurrency: Some(100),
                provisioned_concurrency: 0,
                architecture: Architecture::X86_64,
                keep_warm: Duration::from_secs(300),
                init_limit: Duration::from_secs(10),
                // target-api reads its table's name from here, as it does on AWS.
                environment: vec![("TABLE_NAME".into(), "target-api-items".into())],
                invocation_rate_limit: true,
                scaling_per_10s: crate::rules::NEW_ENVIRONMENTS_PER_10_S,
                cpu_model: CpuModel::Proportional,
                payload_format_version: payload_v2(),
                integration_timeout: None,
                own_account: false,
            },
            api: ApiConfig {
                api_id: "loc4lapi01".into(),
                stage: "$default".into(),
                routes: TARGET_API_ROUTES.iter().map(|s| s.to_string()).collect(),
                stage_throttle: Throttle { rate: 1000.0, burst: 500 },
                route_throttles: Vec::new(),
                account_throttle: Throttle { rate: 10_000.0, burst: 5_000 },
                integration_timeout: Duration::from_secs(30),
                cors: None,
                stage_variables: Vec::new(),
                iam_routes: Vec::new(),
                jwt_authorizers: Vec::new(),
                jwt_routes: Vec::new(),
            },
            extra_functions: Vec::new(),
            dynamodb: DynamoConfig::on_demand("target-api-items"),
            extra_tables: Vec::new(),
            latency_profile: "aws-typical".into(),
            seed: 1,
            log_dir: None,
            ports: Ports::default(),
            client_timeouts: ClientTimeouts::default(),
        }
    }

    /// Checks the values AWS would refuse, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.account_concurrency == 0 {
            return Err("account_concurrency must be at least 1".into());
        }
        self.validate_functions()?;
        let a = &self.api;
        if a.integration_timeout < Duration::from_millis(50) || a.integration_timeout > Duration::from_secs(30) {
            return Err(format!("api.integration_timeout must be 50 ms to 30 s, got {:?}", a.integration_timeout));
        }
        for (name, t) in [("api.stage_throttle", &a.stage_throttle), ("api.account_throttle", &a.account_throttle)]
            .into_iter()
            .chain(a.route_throttles.iter().map(|(_, t)| ("api.route_throttles", t)))
        {
            if !(t.rate >= 0.0 && t.rate.is_finite()) {
                return Err(format!("{name}.rate must be a number >= 0, got {}", t.rate));
            }
        }
        for route in &a.routes {
            crate::apigw::routes::RouteKey::parse(route).map_err(|e| format!("api.routes: {e}"))?;
        }
        let served: Vec<&String> = a.routes.iter().chain(self.extra_functions.iter().flat_map(|f| &f.routes)).collect();
        if let Some(r) = a.iam_routes.iter().find(|r| !served.contains(r)) {
            let all: Vec<&str> = served.iter().map(|s| s.as_str()).collect();
            return Err(format!("api.iam_routes: '{r}' is not a route of the API (its routes: {})", all.join(", ")));
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, d) in self.tables().enumerate() {
            let at = if i == 0 && !self.dynamodb.table_name.is_empty() {
                "dynamodb".to_owned()
            } else {
                format!("tables[{i}] ({})", d.table_name)
            };
            crate::tables::validate(d, &at)?;
            if names.contains(&d.table_name.as_str()) {
                return Err(format!("{at}: two tables are named '{}'", d.table_name));
            }
            names.push(&d.table_name);
            let positive = |v: f64| v > 0.0 && v.is_finite();
            if !(positive(d.read_units_per_s) && positive(d.write_units_per_s)) {
                return Err(format!("{at}.read_units_per_s and write_units_per_s must be > 0"));
            }
            if !(positive(d.partition_read_units_per_s) && positive(d.partition_write_units_per_s)) {
                return Err(format!("{at}.partition_read_units_per_s and partition_write_units_per_s must be > 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serialized_config_never_shows_the_functions_variable_values() {
        let mut c = StackConfig::new("bootstrap");
        c.function.environment = vec![("API_KEY".into(), "s3cret".into())];
        c.api.stage_variables = vec![("token".into(), "t0ken".into())];
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("s3cret") && json.contains(r#"["API_KEY","<redacted>"]"#), "{json}");
        assert!(!json.contains("t0ken") && json.contains(r#"["token","<redacted>"]"#), "{json}");
        let back: StackConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.function.environment, vec![("API_KEY".to_owned(), "<redacted>".to_owned())]);
    }
}
