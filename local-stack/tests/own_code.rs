//! The user's own code on the local stack: a Python handler run through the AWS Lambda runtime
//! interface client beside target-api, each behind its own routes and tables; a deployment zip
//! unpacked as Lambda unpacks it; and the mistakes a user makes, refused with the fix.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use local_stack::config::{DynamoConfig, FunctionConfig};
use local_stack::tables::{AttrType, KeyAttribute, Projection, SecondaryIndex};
use local_stack::{Stack, StackConfig, StartError};
use serde_json::json;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/orders/handler")
}

/// A function of `config`'s defaults running `code`.
fn function(
    config: &StackConfig,
    name: &str,
    code: PathBuf,
    runtime: &str,
    handler: &str,
    routes: &[&str],
) -> FunctionConfig {
    FunctionConfig {
        name: name.into(),
        code,
        runtime: runtime.into(),
        handler: handler.into(),
        routes: routes.iter().map(|r| r.to_string()).collect(),
        reserved_concurrency: Some(10),
        environment: Vec::new(),
        ..config.function.clone()
    }
}

fn orders_table() -> DynamoConfig {
    DynamoConfig {
        hash_key: KeyAttribute::string("orderId"),
        range_key: None,
        global_indexes: vec![SecondaryIndex {
            name: "by-customer".into(),
            hash_key: KeyAttribute::string("customerId"),
            range_key: Some(KeyAttribute { name: "createdAt".into(), kind: AttrType::N }),
            projection: Projection::All,
        }],
        ..DynamoConfig::on_demand("orders")
    }
}

fn report_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap().lines().filter(|l| l.starts_with("REPORT ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_python_handler_serves_its_routes_beside_target_api() {
    let mut c = config(target_api());
    let mut orders = function(
        &c,
        "orders",
        example(),
        "python3.12",
        "app.lambda_handler",
        &["POST /orders", "GET /orders/{orderId}", "GET /customers/{customerId}/orders"],
    );
    orders.environment = vec![("TABLE_NAME".into(), "orders".into())];
    c.extra_functions.push(orders);
    c.extra_tables.push(orders_table());
    let stack = Stack::start(c).await.unwrap_or_else(|e| panic!("{e}"));
    let api = stack.endpoints().api_url.clone();
    let http = client();

    let json_type = [("content-type", "application/json")];
    let r = send(&http, "POST", &format!("{api}/orders"), &json_type, r#"{"customerId":"c1","total":12.5}"#).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let init: f64 = r.header("x-local-stack-init-ms").expect("a cold start says so").parse().unwrap();
    assert!(init > 0.0);
    let billed: u64 = r.header("x-local-stack-billed-ms").unwrap().parse().unwrap();
    assert!(billed as f64 >= init, "INIT is billed on a cold start: {billed} < {init}");
    let id = r.json()["orderId"].as_str().unwrap().to_owned();

    let r = get(&format!("{api}/orders/{id}")).await;
    assert_eq!((r.status, r.json()["customerId"].clone()), (200, json!("c1")));
    assert_eq!(r.header("x-local-stack-init-ms"), None, "the second invocation is warm");
    assert!(r.header("x-local-stack-billed-ms").is_some());
    let r = get(&format!("{api}/customers/c1/orders")).await;
    assert_eq!(r.json()["orders"].as_array().map(Vec::len), Some(1), "the GSI was created as declared");
    assert_eq!(get(&format!("{api}/orders/none")).await.status, 404);

    // target-api keeps its own routes and table.
    let r = get(&format!("{api}/items/nothing")).await;
    assert_eq!((r.status, r.header("x-cold-start")), (404, Some("true")));
    assert_eq!(stack.lambdas().len(), 2);
    assert_eq!(stack.endpoints().functions, ["target-api", "orders"]);

    // Each function writes its own REPORT lines; only the first invocation of each paid INIT.
    let logs = stack.log_paths().to_vec();
    let orders_reports = report_lines(&logs[1]);
    assert_eq!(orders_reports.len(), 4, "{orders_reports:?}");
    assert_eq!(orders_reports.iter().filter(|l| l.contains("Init Duration")).count(), 1);
    assert_eq!(report_lines(&logs[0]).len(), 1);
}

/// A zip holding `files` (name, contents, mode), made with Python's zipfile as a build
/// script would make it.
fn zip(dir: &Path, files: &[(&str, &Path, u32)]) -> PathBuf {
    let out = dir.join("function.zip");
    let entries: Vec<String> = files
        .iter()
        .map(|(name, src, mode)| format!("({name:?}, {:?}, 0o{mode:o})", src.display().to_string()))
        .collect();
    let script = format!(
        "import zipfile\nwith zipfile.ZipFile({:?}, 'w') as z:\n    for name, src, mode in [{}]:\n        info = zipfile.ZipInfo(name)\n        info.external_attr = (0o100000 | mode) << 16\n        z.writestr(info, open(src, 'rb').read())\n",
        out.display().to_string(),
        entries.join(", ")
    );
    let ok = std::process::Command::new("python3").args(["-c", &script]).status().unwrap().success();
    assert!(ok, "python3 made no zip");
    out
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("own-code-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn a_zip_runs_from_its_own_unpacked_task_root() {
    let dir = scratch("zip");
    let data = dir.join("data.txt");
    std::fs::write(&data, "beside the bootstrap").unwrap();
    let code = zip(&dir, &[("bootstrap", &misbehave(), 0o755), ("data.txt", &data, 0o644)]);
    let mut c = config(misbehave());
    c.function.code = code.clone();
    c.api.routes = vec!["$default".into()];
    let stack = Stack::start(c).await.unwrap_or_else(|e| panic!("{e}"));
    let r = get(&format!("{}/env", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 200);
    let env = r.json();
    let root = PathBuf::from(env["LAMBDA_TASK_ROOT"].as_str().unwrap());
    assert_ne!(root, dir, "the zip is unpacked into a directory of its own");
    assert_eq!(std::fs::read_to_string(root.join("data.txt")).unwrap(), "beside the bootstrap");
    assert_eq!(env["_HANDLER"], "bootstrap");
    drop(stack);
    assert!(!root.exists(), "the unpacked copy goes with the stack");
}

#[tokio::test]
async fn code_given_by_a_relative_path_runs_from_its_task_root() {
    // Tests run in the crate's directory; environments start in their task root, so the
    // program must be found wherever that is.
    let mut c = config(PathBuf::from("tests/functions/misbehave.py"));
    c.api.routes = vec!["ANY /{proxy+}".into()];
    let stack = Stack::start(c).await.unwrap_or_else(|e| panic!("{e}"));
    let r = get(&format!("{}/env", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(Path::new(r.json()["LAMBDA_TASK_ROOT"].as_str().unwrap()).is_absolute());
    // A single Python module (an archive_file's source_file) is a task root of its own.
    let f = FunctionConfig {
        code: example().join("app.py"),
        runtime: "python3.12".into(),
        handler: "app.lambda_handler".into(),
        ..c_function()
    };
    local_stack::lambda::code::check(&f).unwrap();
}

fn c_function() -> FunctionConfig {
    StackConfig::new("bootstrap").function
}

#[tokio::test]
async fn a_1_0_integration_gets_the_rest_shaped_event_and_no_inference() {
    let mut c = config(misbehave());
    c.api.routes = vec!["ANY /{proxy+}".into()];
    c.function.payload_format_version = "1.0".into();
    let stack = Stack::start(c).await.unwrap_or_else(|e| panic!("{e}"));
    let api = stack.endpoints().api_url.clone();
    let r = get(&format!("{api}/echo/x?a=1&a=2")).await;
    assert_eq!(r.status, 200);
    let e = r.json();
    assert_eq!((e["version"].as_str(), e["httpMethod"].as_str()), (Some("1.0"), Some("GET")));
    assert_eq!((e["resource"].as_str(), e["path"].as_str()), (Some("/{proxy+}"), Some("/echo/x")));
    assert_eq!(e["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
    assert_eq!(e["pathParameters"]["proxy"], "echo/x");
    // A 2.0-style `cookies` field means nothing in 1.0.
    let r = get(&format!("{api}/other")).await;
    assert_eq!((r.status, r.header("set-cookie")), (200, None));
}

async fn refused(c: StackConfig) -> String {
    match Stack::start(c).await {
        Err(StartError::Code(e)) => e.to_string(),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started"),
    }
}

#[tokio::test]
async fn code_that_cannot_run_is_refused_with_the_fix() {
    let dir = scratch("bad");
    let mut c = config(dir.join("missing/bootstrap"));
    let e = refused(c.clone()).await;
    assert!(e.contains("does not exist") && e.contains("missing/bootstrap"), "{e}");

    let readme = dir.join("README");
    std::fs::write(&readme, "no bootstrap here").unwrap();
    c.function.code = zip(&dir, &[("README", &readme, 0o644)]);
    let e = refused(c.clone()).await;
    assert!(e.contains("has no `bootstrap` at its root") && e.contains("zip -j"), "{e}");

    c.function.code = example();
    c.function.runtime = "python3.12".into();
    c.function.handler = "app.no_such_handler".into();
    let e = refused(c.clone()).await;
    assert!(e.contains("app.py defines no function 'no_such_handler'"), "{e}");
    c.function.handler = "orders.lambda_handler".into();
    let e = refused(c.clone()).await;
    assert!(e.contains("no orders.py"), "{e}");

    // A zip whose bootstrap lost its executable bit.
    let mut plain = c.clone();
    plain.function.runtime = "provided.al2023".into();
    plain.function.handler = "bootstrap".into();
    plain.function.code = zip(&dir, &[("bootstrap", &misbehave(), 0o644)]);
    let e = refused(plain).await;
    assert!(e.contains("not executable") && e.contains("chmod +x it before zipping"), "{e}");

    c.function.runtime = "nodejs20.x".into();
    let e = Stack::start(c).await.err().unwrap().to_string();
    assert!(e.contains("nodejs20.x") && e.contains("python3.N"), "{e}");
}
