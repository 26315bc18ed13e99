//! Reads the stack's settings from `infra/*.tf` — the Terraform the real stack is deployed
//! with — so the local stack runs with the same routes, CORS, reserved concurrency, memory,
//! timeout, architecture and stage throttling. Parsed with a real HCL parser (hcl-rs); only
//! literal values are read (variable defaults, `locals`, literal resource arguments).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hcl::{Block, Body, Value};

use crate::config::{Architecture, Cors, StackConfig};

/// What `infra/` says, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InfraSettings {
    /// `variable "<name>" { default = … }`, by name.
    pub defaults: BTreeMap<String, Value>,
    /// `locals { routes = [...] }`.
    pub routes: Vec<String>,
    /// The literal arguments of the API's `cors_configuration` block.
    pub cors: BTreeMap<String, Value>,
}

fn value_of(expr: &hcl::Expression) -> Value {
    Value::from(expr.clone())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn find_cors(block: &Block, out: &mut BTreeMap<String, Value>) {
    for inner in block.body().blocks() {
        if inner.identifier() == "cors_configuration" || inner.identifier() == "content" {
            for a in inner.body().attributes() {
                out.insert(a.key().to_owned(), value_of(a.expr()));
            }
        }
        find_cors(inner, out);
    }
}

/// Reads every `*.tf` file directly in `dir`.
pub fn read(dir: &Path) -> Result<InfraSettings, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{} holds no .tf files", dir.display()));
    }
    let mut s = InfraSettings::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let body: Body = hcl::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for block in body.blocks() {
            match (block.identifier(), block.labels().first().map(|l| l.as_str())) {
                ("variable", Some(name)) => {
                    if let Some(d) = block.body().attributes().find(|a| a.key() == "default") {
                        s.defaults.insert(name.to_owned(), value_of(d.expr()));
                    }
                }
                ("locals", _) => {
                    if let Some(r) = block.body().attributes().find(|a| a.key() == "routes") {
                        s.routes = strings(Some(&value_of(r.expr())));
                    }
                }
                ("resource", Some("aws_apigatewayv2_api")) => find_cors(block, &mut s.cors),
                _ => {}
            }
        }
    }
    Ok(s)
}

impl InfraSettings {
    fn number(&self, name: &str) -> Option<f64> {
        self.defaults.get(name).and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
    }

    /// Applies these settings over `config`.
    pub fn apply(&self, config: &mut StackConfig) -> Result<(), String> {
        if let Some(name) = self.defaults.get("name").and_then(Value::as_str) {
            config.function.name = format!("{name}-api");
            config.dynamodb.table_name = format!("{name}-items");
        }
        if let Some(v) = self.number("memory_mb") {
            config.function.memory_mb = v as u32;
        }
        if let Some(v) = self.number("timeout_s") {
            config.function.timeout = Duration::from_secs_f64(v);
        }
        if let Some(v) = self.number("reserved_concurrency") {
            // Terraform's -1 is "no reservation".
            config.function.reserved_concurrency = (v >= 0.0).then_some(v as u32);
        }
        match self.defaults.get("architecture").and_then(Value::as_str) {
            Some("x86_64") | None => config.function.architecture = Architecture::X86_64,
            Some("arm64") => config.function.architecture = Architecture::Arm64,
            Some(other) => return Err(format!("infra: architecture '{other}' is neither x86_64 nor arm64")),
        }
        if let Some(v) = self.number("throttling_rate_limit") {
            config.api.stage_throttle.rate = v;
        }
        if let Some(v) = self.number("throttling_burst_limit") {
            config.api.stage_throttle.burst = v as u32;
        }
        if !self.routes.is_empty() {
            config.api.routes = self.routes.clone();
        }
        let origins = strings(self.defaults.get("cors_allow_origins"));
        config.api.cors = (!origins.is_empty()).then(|| Cors {
            allow_origins: origins,
            allow_methods: strings(self.cors.get("allow_methods")),
            allow_headers: strings(self.cors.get("allow_headers")),
            expose_headers: strings(self.cors.get("expose_headers")),
            max_age: self.cors.get("max_age").and_then(|v| match v {
                Value::Number(n) => n.as_u64().map(|n| n as u32),
                _ => None,
            }),
            allow_credentials: matches!(self.cors.get("allow_credentials"), Some(Value::Bool(true))),
        });
        config.validate().map_err(|e| format!("infra: {e}"))
    }
}

impl StackConfig {
    /// The defaults of [`StackConfig::new`] with `infra/`'s settings applied.
    pub fn from_infra(dir: &Path, binary: impl Into<std::path::PathBuf>) -> Result<StackConfig, String> {
        let mut c = StackConfig::new(binary);
        read(dir)?.apply(&mut c)?;
        Ok(c)
    }
}
