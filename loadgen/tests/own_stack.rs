//! The user's own stack, as a user runs loadgen on it: a Python function next to target-api,
//! each behind its own routes and table, seeded from a data file straight into its table — cold
//! starts, billed time and the reconciliation right for both — and the mistakes a user makes
//! in describing it, refused with exit 2, the place and the fix.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{target_api, tempdir};
use serde_json::Value;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// `loadgen <args…>`: exit code, stdout, stderr.
fn loadgen(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env("LOADGEN_TARGET_API", target_api())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TWO_FUNCTIONS: &str = r#"name = "two"
[[stack.function]]
name = "items"
code = "target-api"
routes = ["GET /items/{id}", "POST /items", "GET /health"]
environment = { TABLE_NAME = "items" }
reserved_concurrency = 10

[[stack.function]]
name = "orders"
code = "HANDLER"
runtime = "python3.12"
handler = "app.lambda_handler"
routes = ["GET /orders/{orderId}", "POST /orders", "GET /customers/{customerId}/orders"]
environment = { TABLE_NAME = "orders" }
reserved_concurrency = 10

[[stack.table]]
name = "items"
hash_key = "PK"
range_key = "SK"

[[stack.table]]
name = "orders"
hash_key = "orderId"
global_index = [{ name = "by-customer", hash_key = "customerId", range_key = "createdAt:N" }]

[data]
seed_from = "orders"
key = "orderId"
table = "orders"

[[data.file]]
name = "orders"
path = "ORDERS"

[[phase]]
name = "p"
duration = "6s"
rate = 6

[[request]]
name = "get-order"
weight = 3
path = "/orders/{id}"

[[request]]
name = "customer-orders"
weight = 1
path = "/customers/c-003/orders"

[[request]]
name = "health"
weight = 2
path = "/health"
"#;

/// One test at a time: two stacks starting Python environments at once on a small machine
/// would measure each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_python_function_next_to_target_api_is_measured_and_billed_like_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir("two");
    let text = TWO_FUNCTIONS
        .replace("HANDLER", &repo("examples/orders/handler").display().to_string())
        .replace("ORDERS", &repo("examples/orders/orders.jsonl").display().to_string());
    std::fs::write(dir.join("s.toml"), text).unwrap();
    let out = dir.join("out");
    let (code, _, stderr) =
        loadgen(&["run", "--quiet", "--out", out.to_str().unwrap(), dir.join("s.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // Every read found its order: the file's keys are what {id} draws, seeded into the table.
    let get = r["requests"].as_array().unwrap().iter().find(|q| q["name"] == "get-order").unwrap();
    assert_eq!(get["summary"]["by_class"]["client_error"], 0, "{get}");
    assert!(get["summary"]["by_class"]["ok"].as_u64().unwrap() > 10, "{get}");
    // Each function billed by its own REPORT lines, each with its cold starts.
    let cost = &r["cost"];
    let functions = cost["functions"].as_array().unwrap();
    let names: Vec<&str> = functions.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["items", "orders"]);
    for f in functions {
        assert!(f["invocations"].as_f64().unwrap() > 0.0 && f["billed_ms"].as_f64().unwrap() > 0.0, "{f}");
        assert!(f["cold_starts"].as_f64().unwrap() >= 1.0, "{f}");
    }
    let cold: f64 = functions.iter().map(|f| f["cold_starts"].as_f64().unwrap()).sum();
    assert_eq!(r["totals"]["cold_starts"].as_f64().unwrap(), cold, "the summary counts what the REPORT lines say");
    // The client and the stack agree, for both functions together.
    for row in cost["reconciliation"].as_array().unwrap() {
        assert_eq!(row["flagged"], false, "{row}");
    }
    // Billed ms per request kind for any function; units only where the function reports them.
    let by = |name: &str| cost["by_request"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap().clone();
    assert!(by("get-order")["lambda_ms_per_request"].as_f64().unwrap() > 0.0);
    assert_eq!(by("get-order")["units_reported"], false);
    assert_eq!(by("health")["units_reported"], true);
    // The two functions' logs are beside the results.
    assert!(out.join("orders.log").is_file() && out.join("items.log").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `loadgen validate` of a scenario whose one function is `function`.
fn validate_function(dir: &Path, function: &str) -> (i32, String) {
    let text = format!(
        "name = \"bad\"\n[[stack.function]]\nname = \"f\"\nroutes = [\"GET /x\"]\n{function}\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"x\"\npath = \"/x\"\n"
    );
    let file = dir.join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = loadgen(&["validate", file.to_str().unwrap()]);
    (code, out + &err)
}

#[test]
fn mistakes_in_the_description_exit_2_with_the_place_and_the_fix() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir("bad");
    let (code, msg) = validate_function(&dir, "code = \"build/missing.zip\"");
    assert_eq!(code, 2, "{msg}");
    assert!(msg.contains("bad.toml:5:8") && msg.contains("does not exist; build it or fix the path"), "{msg}");

    let readme = dir.join("README");
    std::fs::write(&readme, "no bootstrap").unwrap();
    let zip = "import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], 'README')";
    let ok = Command::new("python3").args(["-c", zip]).arg(dir.join("f.zip")).arg(&readme).status().unwrap();
    assert!(ok.success());
    let (code, msg) = validate_function(&dir, "code = \"f.zip\"");
    assert_eq!(code, 2, "{msg}");
    assert!(msg.contains("has no `bootstrap` at its root") && msg.contains("zip -j"), "{msg}");

    let handler = repo("examples/orders/handler").display().to_string();
    let (code, msg) =
        validate_function(&dir, &format!("code = \"{handler}\"\nruntime = \"python3.12\"\nhandler = \"app.handle\""));
    assert_eq!(code, 2, "{msg}");
    assert!(msg.contains("app.py defines no function 'handle'"), "{msg}");

    let out_dir = dir.join("out");
    let out = out_dir.to_str().unwrap();
    // A Terraform route whose integration names a function the files do not declare.
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    std::fs::write(
        tf.join("main.tf"),
        "resource \"aws_lambda_function\" \"f\" {\n  function_name = \"f\"\n  filename = \"f.zip\"\n}\n\
         resource \"aws_apigatewayv2_api\" \"a\" {\n  name = \"a\"\n  protocol_type = \"HTTP\"\n}\n\
         resource \"aws_apigatewayv2_integration\" \"i\" {\n  api_id = aws_apigatewayv2_api.a.id\n  integration_type = \"AWS_PROXY\"\n  \
         integration_uri = \"arn:aws:lambda:us-east-1:123456789012:function:other\"\n  payload_format_version = \"2.0\"\n}\n\
         resource \"aws_apigatewayv2_route\" \"r\" {\n  api_id = aws_apigatewayv2_api.a.id\n  route_key = \"GET /x\"\n  \
         target = \"integrations/${aws_apigatewayv2_integration.i.id}\"\n}\n",
    )
    .unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, "name = \"s\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"x\"\npath = \"/x\"\n").unwrap();
    let (code, _, err) = loadgen(&[
        "run",
        "--quiet",
        "--out",
        out,
        scenario.to_str().unwrap(),
        "--infra",
        tf.to_str().unwrap(),
        "--local",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("route 'GET /x' invokes function 'other', which no aws_lambda_function here declares"),
        "{err}"
    );

    // --local with a scenario that names a URL: which one was meant is not guessed.
    let with_url = dir.join("url.toml");
    let text = "name = \"u\"\n[target]\nurl = \"https://api.example.com\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"x\"\npath = \"/x\"\n";
    std::fs::write(&with_url, text).unwrap();
    let (code, _, err) = loadgen(&[
        "run",
        "--quiet",
        "--out",
        out,
        with_url.to_str().unwrap(),
        "--infra",
        tf.to_str().unwrap(),
        "--local",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--local") && err.contains("https://api.example.com"), "{err}");

    // A data file that repeats a key is refused before anything is written, naming both lines.
    let row = |id: &str| format!("{{\"PK\":\"ITEM#{id}\",\"SK\":\"ITEM\",\"id\":\"{id}\"}}\n");
    std::fs::write(dir.join("rows.jsonl"), row("a") + &row("b") + &row("a")).unwrap();
    let dup = dir.join("dup.toml");
    let text = "name = \"d\"\n[data]\nseed_from = \"rows\"\n[[data.file]]\nname = \"rows\"\npath = \"rows.jsonl\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"x\"\npath = \"/items/{id}\"\n";
    std::fs::write(&dup, text).unwrap();
    let (code, _, err) = loadgen(&["run", "--quiet", "--out", out, dup.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rows.jsonl:3 has the same key as") && err.contains("rows.jsonl:1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
