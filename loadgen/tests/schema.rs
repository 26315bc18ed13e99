//! The JSON Schemas shipped in `docs/` — `scenario.schema.json`, `results.schema.json` and
//! `simulation.schema.json` — are the ones generated from the types, and the sample results
//! document validates against its schema. Regenerate them with
//! `UPDATE_SCHEMA=1 cargo test -p loadgen --test schema`.

use std::path::PathBuf;

/// The committed `docs/<name>`, after checking it is `generated` (rewritten first with
/// `UPDATE_SCHEMA=1`).
fn committed(name: &str, generated: &impl serde::Serialize) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name);
    let generated = serde_json::to_string_pretty(generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "docs/{name} is stale: run UPDATE_SCHEMA=1 cargo test -p loadgen --test schema");
    committed
}

#[test]
fn committed_schema_is_generated_from_the_types() {
    let committed = committed("scenario.schema.json", &loadgen::scenario::raw::json_schema());
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let top: Vec<&str> = v["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    for key in ["name", "target", "stack", "data", "phase", "request", "thresholds"] {
        assert!(top.contains(&key), "schema lacks {key}: {top:?}");
    }
    assert_eq!(v["additionalProperties"], false, "unknown keys are rejected");
}

/// Validates `doc` against `schema` with Python's `jsonschema` (draft 2020-12, the dialect
/// schemars writes); the error lines when it does not.
fn validate_with_jsonschema(schema: &std::path::Path, doc: &std::path::Path) -> Result<(), String> {
    let py = "import json, sys, jsonschema\n\
              schema = json.load(open(sys.argv[1]))\n\
              jsonschema.Draft202012Validator.check_schema(schema)\n\
              v = jsonschema.Draft202012Validator(schema)\n\
              errors = [f'{list(e.absolute_path)}: {e.message}' for e in v.iter_errors(json.load(open(sys.argv[2])))]\n\
              print('\\n'.join(errors[:20]))\n\
              sys.exit(1 if errors else 0)";
    let out = std::process::Command::new("python3").args(["-c", py]).arg(schema).arg(doc).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        !text.contains("ModuleNotFoundError"),
        "the results schema check needs Python's jsonschema (pip install jsonschema): {text}"
    );
    if out.status.success() { Ok(()) } else { Err(text) }
}

#[test]
fn committed_results_schema_is_generated_and_the_sample_validates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("../docs/results.schema.json");
    committed("results.schema.json", &loadgen::results::json_schema());
    let sample = root.join("tests/data/sample-results.json");
    validate_with_jsonschema(&path, &sample).unwrap_or_else(|e| panic!("the sample does not validate:\n{e}"));
    let dir = std::env::temp_dir().join(format!("loadgen-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A request's check and what it found, as serde writes them, validate too.
    use loadgen::scenario::check::{Check, EqualTo, Expect, JsonPath};
    let mut results: loadgen::results::Results =
        serde_json::from_str(&std::fs::read_to_string(&sample).unwrap()).unwrap();
    results.scenario.requests[0].check = Some(Check {
        status: vec![200],
        body_contains: Some("id".into()),
        json: vec![
            (JsonPath::parse("$.id").unwrap(), Expect::Exists),
            (JsonPath::parse("$.state").unwrap(), Expect::Equals(EqualTo::Text("open".into()))),
        ],
    });
    results.requests[0].checks = Some(loadgen::results::ChecksResult {
        checked: 10,
        failed: 1,
        rate: 0.1,
        failures: vec![loadgen::results::CheckFailure { status: 200, reason: "r".into(), body: "{}".into() }],
    });
    // A flow, a step's captures and what the flow's instances came to, too.
    use loadgen::scenario::flow::{Capture, Flow, FlowStep, Source};
    results.scenario.requests[0].capture = vec![
        Capture { name: "etag".into(), source: Source::parse("header:etag").unwrap(), slot: 0 },
        Capture { name: "order_id".into(), source: Source::parse("$.id").unwrap(), slot: 0 },
    ];
    results.scenario.flows = vec![Flow {
        name: "checkout".into(),
        weight: 2.0,
        steps: vec![FlowStep { request: 0, think: std::time::Duration::from_millis(250) }],
        captures: vec!["etag".into(), "order_id".into()],
    }];
    results.flows = vec![loadgen::results::FlowResult {
        name: "checkout".into(),
        steps: vec![results.requests[0].name.clone()],
        started: 10,
        completed: 8,
        failed: 1,
        cut: 1,
        duration: loadgen::results::Stats::default(),
    }];
    let checked = dir.join("checked.json");
    std::fs::write(&checked, serde_json::to_string(&results).unwrap()).unwrap();
    validate_with_jsonschema(&path, &checked)
        .unwrap_or_else(|e| panic!("a document with checks does not validate:\n{e}"));
    let back: loadgen::results::Results = serde_json::from_str(&std::fs::read_to_string(&checked).unwrap()).unwrap();
    assert_eq!(back.scenario.requests[0].check, results.scenario.requests[0].check, "a check reads back as written");
    assert_eq!(back.scenario.requests[0].capture, results.scenario.requests[0].capture, "captures read back");
    assert_eq!((&back.scenario.flows, &back.flows), (&results.scenario.flows, &results.flows), "flows read back");

    // The check can fail: a wrong type and an undocumented field are both caught.
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sample).unwrap()).unwrap();
    doc["totals"]["requests"] = "many".into();
    doc["surprise"] = true.into();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, doc.to_string()).unwrap();
    let e = validate_with_jsonschema(&path, &bad).unwrap_err();
    assert!(e.contains("'many' is not of type 'integer'") && e.contains("surprise"), "{e}");
}

#[test]
fn committed_simulation_schema_is_generated_from_the_types() {
    let committed = committed("simulation.schema.json", &loadgen::simulate::output::json_schema());
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(v["additionalProperties"], false, "unknown fields make a document invalid");
}
