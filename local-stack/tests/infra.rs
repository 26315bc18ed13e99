//! local-stack and `infra/` agree: the settings the stack runs with are read from the same
//! Terraform the real stack is deployed with.

use std::path::PathBuf;
use std::time::Duration;

use local_stack::StackConfig;
use local_stack::config::TARGET_API_ROUTES;

fn infra_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

#[test]
fn infra_defaults_match_the_stack_defaults() {
    let from_infra = StackConfig::from_infra(&infra_dir(), "bin").unwrap();
    let defaults = StackConfig::new("bin");
    assert_eq!(from_infra.api.routes, defaults.api.routes);
    assert_eq!(from_infra.api.routes, TARGET_API_ROUTES.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(from_infra.function.reserved_concurrency, Some(100));
    assert_eq!(from_infra.function.reserved_concurrency, defaults.function.reserved_concurrency);
    assert_eq!(from_infra.function.memory_mb, defaults.function.memory_mb);
    assert_eq!(from_infra.function.timeout, defaults.function.timeout);
    assert_eq!(from_infra.function.architecture, defaults.function.architecture);
    assert_eq!(from_infra.api.stage_throttle, defaults.api.stage_throttle);
    assert_eq!(from_infra.api.cors, None, "CORS is off unless origins are given");
    assert_eq!(from_infra.function.name, "loadlab-api");
    assert_eq!(from_infra.dynamodb.table_name, "loadlab-items");
}

#[test]
fn changed_variables_and_cors_are_picked_up() {
    let dir = std::env::temp_dir().join(format!("infra-copy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(infra_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let mut text = std::fs::read_to_string(&p).unwrap();
            if p.ends_with("variables.tf") {
                text = text
                    .replace("default     = 100\n", "default     = 7\n")
                    .replace("default     = []\n", "default     = [\"https://app.example\"]\n")
                    .replace("default     = 10\n", "default     = 3\n");
            }
            std::fs::write(dir.join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let c = StackConfig::from_infra(&dir, "bin").unwrap();
    assert_eq!(c.function.reserved_concurrency, Some(7));
    assert_eq!(c.function.timeout, Duration::from_secs(3));
    let cors = c.api.cors.expect("cors from infra");
    assert_eq!(cors.allow_origins, vec!["https://app.example"]);
    assert_eq!(cors.allow_methods, vec!["GET", "POST", "DELETE"]);
    assert_eq!(cors.max_age, Some(300));
    assert!(cors.expose_headers.contains(&"x-cold-start".to_owned()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_hcl_is_reported_with_its_file() {
    let dir = std::env::temp_dir().join(format!("infra-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), "variable \"x\" {\n  default = \n").unwrap();
    let err = StackConfig::from_infra(&dir, "bin").unwrap_err();
    assert!(err.contains("main.tf"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
