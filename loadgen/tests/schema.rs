//! The scenario JSON Schema shipped in `docs/scenario.schema.json` is the one generated from
//! the scenario types. Regenerate with `UPDATE_SCHEMA=1 cargo test -p loadgen --test schema`.

use std::path::PathBuf;

#[test]
fn committed_schema_is_generated_from_the_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario.schema.json");
    let generated = serde_json::to_string_pretty(&loadgen::scenario::raw::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/scenario.schema.json is stale: run UPDATE_SCHEMA=1 cargo test -p loadgen --test schema"
    );
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let top: Vec<&str> = v["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    for key in ["name", "target", "stack", "data", "phase", "request", "thresholds"] {
        assert!(top.contains(&key), "schema lacks {key}: {top:?}");
    }
    assert_eq!(v["additionalProperties"], false, "unknown keys are rejected");
}
