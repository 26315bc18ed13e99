//! `--infra DIR`: the deployed stack's outputs, read with `terraform output -json` so no name is
//! copied by hand. Only the outputs loadgen uses are kept; one of an unexpected type is left out.

use std::path::Path;

use super::TargetError;
use crate::results::InfraOutputs;

/// The outputs of the applied Terraform in `dir`.
pub fn outputs(dir: &Path) -> Result<InfraOutputs, TargetError> {
    parse(dir, &terraform_output(dir)?)
}

/// The fleet's worker as the applied `infra/fleet/` in `dir` names it: its ARN (which holds its
/// Region) and its Region.
pub fn fleet_outputs(dir: &Path) -> Result<(String, Option<String>), TargetError> {
    let json = terraform_output(dir)?;
    let v: serde_json::Value =
        serde_json::from_slice(&json).map_err(|source| TargetError::NotJson { dir: dir.to_path_buf(), source })?;
    let function = value::<String>(&v, "fleet_function_arn").or_else(|| value(&v, "fleet_function"));
    let function = function.ok_or_else(|| TargetError::NoFleetFunction(dir.to_path_buf()))?;
    Ok((function, value(&v, "region")))
}

/// `terraform output -json` in `dir`.
fn terraform_output(dir: &Path) -> Result<Vec<u8>, TargetError> {
    let out = std::process::Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-json"])
        .output()
        .map_err(TargetError::TerraformCli)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(TargetError::TerraformFailed { dir: dir.to_path_buf(), stderr });
    }
    Ok(out.stdout)
}

/// Reads `terraform output -json` (`{"name": {"value": …, "type": …}, …}`) of `dir`.
fn parse(dir: &Path, json: &[u8]) -> Result<InfraOutputs, TargetError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|source| TargetError::NotJson { dir: dir.to_path_buf(), source })?;
    let typed = |k: &str| value(&v, k);
    let Some(api_url) = value::<String>(&v, "api_url") else {
        return Err(TargetError::NoApiUrl(dir.to_path_buf()));
    };
    Ok(InfraOutputs {
        api_url: api_url.trim_end_matches('/').to_owned(),
        api_id: typed("api_id"),
        stage: typed("stage"),
        function_name: typed("function_name"),
        table_name: typed("table_name"),
        region: typed("region"),
        memory_mb: value(&v, "memory_mb"),
        timeout_s: value(&v, "timeout_s"),
        architecture: value(&v, "architecture"),
        reserved_concurrency: value(&v, "reserved_concurrency"),
        routes: value(&v, "routes"),
        throttling_rate_limit: value(&v, "throttling_rate_limit"),
        throttling_burst_limit: value(&v, "throttling_burst_limit"),
        table_billing_mode: typed("table_billing_mode"),
    })
}

/// The value of output `k`, when it has the type loadgen expects.
fn value<T: serde::de::DeserializeOwned>(outputs: &serde_json::Value, k: &str) -> Option<T> {
    outputs.get(k).and_then(|o| serde_json::from_value(o["value"].clone()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_typed_and_the_url_is_required() {
        let dir = Path::new("tf");
        let o = parse(dir, br#"{"api_url":{"value":"https://x.example/","type":"string"},"memory_mb":{"value":512,"type":"number"},"architecture":{"value":"arm64","type":"string"},"reserved_concurrency":{"value":"lots","type":"string"}}"#).unwrap();
        assert_eq!(o.api_url, "https://x.example");
        assert_eq!(o.memory_mb, Some(512));
        assert_eq!(o.architecture, Some(local_stack::config::Architecture::Arm64));
        assert_eq!(o.reserved_concurrency, None, "an output of the wrong type is left out");
        let o = parse(dir, br#"{"api_url":{"value":"u","type":"string"},"routes":{"value":["GET /health","GET /items/{id}"],"type":["tuple",["string","string"]]},"throttling_rate_limit":{"value":100,"type":"number"},"throttling_burst_limit":{"value":50,"type":"number"},"table_billing_mode":{"value":"PAY_PER_REQUEST","type":"string"}}"#).unwrap();
        assert_eq!(o.routes.as_deref(), Some(&["GET /health".to_owned(), "GET /items/{id}".to_owned()][..]));
        assert_eq!((o.throttling_rate_limit, o.throttling_burst_limit), (Some(100.0), Some(50.0)));
        assert_eq!(o.table_billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
        assert_eq!(
            parse(dir, b"{}").unwrap_err().to_string(),
            "--infra tf: no api_url output; run `terraform apply` there first, or add --local to run the stack it describes on the local stack"
        );
        assert!(parse(dir, b"nope").unwrap_err().to_string().contains("not JSON"));
    }
}
