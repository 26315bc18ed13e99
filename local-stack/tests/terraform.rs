//! The stack read from Terraform: our own `infra/` (the same settings the local stack's defaults
//! mirror), the article the project grew from, a stack that uses `for_each`, `count`, `dynamic`
//! blocks, tfvars and unsupported resources, and the orders example — each started where it
//! can run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_stack::StackConfig;
use local_stack::config::{Architecture, TARGET_API_ROUTES, Throttle};
use local_stack::tables::{AttrType, Billing, Projection};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/terraform").join(name)
}

fn env<'a>(vars: &'a [(String, String)], k: &str) -> Option<&'a str> {
    vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn our_infra_reads_as_the_stack_defaults() {
    let d = StackConfig::from_terraform(&repo("infra")).unwrap();
    let (c, defaults) = (d.config, StackConfig::new("bin"));
    assert_eq!(c.api.routes, TARGET_API_ROUTES.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(c.function.reserved_concurrency, Some(100));
    assert_eq!(c.function.memory_mb, defaults.function.memory_mb);
    assert_eq!(c.function.timeout, defaults.function.timeout);
    assert_eq!(c.function.architecture, defaults.function.architecture);
    assert_eq!((c.function.runtime.as_str(), c.function.handler.as_str()), ("provided.al2023", "bootstrap"));
    assert_eq!(c.function.payload_format_version, "2.0");
    assert_eq!(c.function.integration_timeout, Some(Duration::from_secs(30)));
    assert!(c.function.code.ends_with("infra/../dist/lambda/target-api.zip"), "{:?}", c.function.code);
    assert_eq!(c.api.stage_throttle, defaults.api.stage_throttle);
    assert_eq!(c.api.stage, "$default");
    assert_eq!(c.api.cors, None, "CORS is off unless origins are given");
    assert_eq!(c.function.name, "loadlab-api");
    assert_eq!(c.dynamodb.table_name, "loadlab-items");
    assert_eq!(env(&c.function.environment, "TABLE_NAME"), Some("loadlab-items"), "the reference is resolved");
    assert_eq!((c.dynamodb.hash_key.name.as_str(), c.dynamodb.range_key.as_ref().unwrap().name.as_str()), ("PK", "SK"));
    assert_eq!(c.dynamodb.billing, Billing::OnDemand);
    assert!(c.extra_functions.is_empty() && c.extra_tables.is_empty());
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    for kind in ["aws_iam_role.function", "aws_cloudwatch_log_group.access", "aws_lambda_permission.api"] {
        assert!(d.ignored.iter().any(|i| i.starts_with(kind)), "{kind} is listed: {:?}", d.ignored);
    }
}

/// A copy of `infra/` with `variables.tf` edited by `edit`.
fn infra_copy(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infra-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(repo("infra")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let mut text = std::fs::read_to_string(&p).unwrap();
            if p.ends_with("variables.tf") {
                text = edit(text);
            }
            std::fs::write(dir.join(p.file_name().unwrap()), text).unwrap();
        }
    }
    dir
}

#[test]
fn changed_variables_dynamic_cors_and_tfvars_are_picked_up() {
    let dir = infra_copy("vars", |t| {
        t.replace("default     = 100\n", "default     = 7\n")
            .replace("default     = []\n", "default     = [\"https://app.example\"]\n")
            .replace("default     = 10\n", "default     = 3\n")
    });
    std::fs::write(dir.join("terraform.tfvars"), "memory_mb = 1024\nname = \"shop\"\n").unwrap();
    let c = StackConfig::from_terraform(&dir).unwrap().config;
    assert_eq!(c.function.reserved_concurrency, Some(7));
    assert_eq!(c.function.timeout, Duration::from_secs(3));
    assert_eq!(c.function.memory_mb, 1024, "terraform.tfvars overrides the default");
    assert_eq!((c.function.name.as_str(), c.dynamodb.table_name.as_str()), ("shop-api", "shop-items"));
    let cors = c.api.cors.expect("cors from the dynamic block");
    assert_eq!(cors.allow_origins, vec!["https://app.example"]);
    assert_eq!(cors.allow_methods, vec!["GET", "POST", "DELETE"]);
    assert_eq!(cors.max_age, Some(300));
    assert!(cors.expose_headers.contains(&"x-cold-start".to_owned()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_article_reads_and_says_what_cannot_run() {
    let d = StackConfig::from_terraform(&fixture("article")).unwrap();
    let c = &d.config;
    assert_eq!(c.function.name, "api-items-handler");
    assert_eq!((c.function.runtime.as_str(), c.function.handler.as_str()), ("nodejs20.x", "index.handler"));
    assert_eq!((c.function.memory_mb, c.function.timeout), (128, Duration::from_secs(3)), "the provider's defaults");
    assert_eq!(c.function.reserved_concurrency, Some(100));
    assert_eq!(env(&c.function.environment, "TABLE_NAME"), Some("api-items"));
    assert_eq!(c.dynamodb.table_name, "api-items");
    assert_eq!(c.dynamodb.billing, Billing::OnDemand);
    assert_eq!(c.api.cors.as_ref().unwrap().allow_origins, ["https://www.naveenteja.cloud"]);
    assert!(c.api.routes.is_empty());
    assert!(d.notes.iter().any(|n| n.contains("no route reaches a function") && n.contains("404")), "{:?}", d.notes);
    assert!(d.notes.iter().any(|n| n.contains("no aws_apigatewayv2_stage")), "{:?}", d.notes);
    // What the local stack cannot run is refused before anything starts, with the fix.
    let e = c.validate().unwrap_err();
    assert!(e.contains("nodejs20.x") && e.contains("python3.N"), "{e}");
    // The integration's payload format is Terraform's default, 1.0, which the stack serves.
    let mut node_fixed = c.clone();
    node_fixed.function.runtime = "python3.12".into();
    assert_eq!(node_fixed.function.payload_format_version, "1.0");
    node_fixed.validate().unwrap();
}

#[test]
fn for_each_count_tfvars_and_unsupported_resources() {
    let d = StackConfig::from_terraform(&fixture("mixed")).unwrap();
    let c = &d.config;
    assert_eq!(c.region, "eu-west-1");
    // Two functions from one for_each, each behind its own routes.
    let checkout = &c.function;
    assert_eq!(checkout.name, "shop-checkout");
    assert_eq!(c.api.routes, ["GET /checkout/{id}", "POST /checkout"]);
    assert_eq!(checkout.memory_mb, 512);
    assert_eq!(checkout.architecture, Architecture::Arm64);
    assert_eq!(checkout.provisioned_concurrency, 2);
    assert_eq!(checkout.integration_timeout, Some(Duration::from_secs(29)));
    assert!(checkout.code.ends_with("build/checkout.zip"));
    assert_eq!(env(&checkout.environment, "MODE"), Some("CHECKOUT"));
    assert_eq!(env(&checkout.environment, "TABLE_NAME"), Some("shop-carts"), "a local naming a variable");
    let search = &c.extra_functions[0];
    assert_eq!((search.name.as_str(), search.routes.as_slice()), ("shop-search", &["GET /search".to_owned()][..]));
    assert_eq!(search.integration_timeout, Some(Duration::from_secs(5)));
    // The provisioned table with both kinds of index.
    let t = &c.dynamodb;
    assert_eq!(t.table_name, "shop-carts");
    assert_eq!(t.billing, Billing::Provisioned { read_capacity: 50.0, write_capacity: 20.0 });
    assert_eq!((t.read_units_per_s, t.write_units_per_s), (50.0, 20.0));
    assert_eq!(t.range_key.as_ref().unwrap().kind, AttrType::N);
    assert_eq!(t.global_indexes[0].projection, Projection::Include(vec!["total".into()]));
    assert_eq!(t.local_indexes[0].hash_key.name, "cartId");
    // The named stage, its throttles and variables.
    assert_eq!(c.api.stage, "prod");
    assert_eq!(c.api.stage_throttle, Throttle { rate: 200.0, burst: 100 });
    assert_eq!(c.api.route_throttles, [("GET /search".to_owned(), Throttle { rate: 20.0, burst: 10 })]);
    assert_eq!(c.api.stage_variables, [("flavour".to_owned(), "prod".to_owned())]);
    assert_eq!(c.api.cors.as_ref().unwrap().allow_methods, ["GET", "POST"]);
    // Listed, not fatal.
    let listed = d.ignored.join("\n");
    for what in [
        "aws_sqs_queue.events",
        "aws_s3_bucket.assets[0]",
        "aws_s3_bucket.assets[1]",
        "aws_apigatewayv2_api.ws (a WEBSOCKET API",
        "aws_apigatewayv2_integration.legacy (a HTTP_PROXY integration",
    ] {
        assert!(listed.contains(what), "{what} is listed:\n{listed}");
    }
    let notes = d.notes.join("\n");
    assert!(notes.contains("module \"dashboards\""), "{notes}");
    assert!(notes.contains("'POST /checkout' has authorization_type JWT"), "{notes}");
    // IAM is checked: the route is listed for the gateway, with no note.
    assert_eq!(d.config.api.iam_routes, ["GET /search"]);
    assert!(!notes.contains("AWS_IAM"), "{notes}");
    assert!(notes.contains("'ANY /legacy/{proxy+}' targets"), "{notes}");
    // A secret read from a data source is left out, the function's other variables kept.
    assert!(
        notes.contains("function 'shop-checkout': environment variable API_KEY cannot be evaluated here"),
        "{notes}"
    );
    assert!(env(&checkout.environment, "API_KEY").is_none());
    assert!(notes.contains("aws_s3_bucket.broken") && notes.contains("count = -1 is not a whole number"), "{notes}");
    c.validate().unwrap();
}

#[test]
fn the_orders_example_reads_with_its_table_index_and_python_handler() {
    let d = StackConfig::from_terraform(&repo("examples/orders")).unwrap();
    let c = &d.config;
    assert_eq!(c.function.name, "orders-handler");
    assert_eq!((c.function.runtime.as_str(), c.function.handler.as_str()), ("python3.12", "app.lambda_handler"));
    assert!(c.function.code.ends_with("handler"), "the archive's source dir runs: {:?}", c.function.code);
    assert_eq!(c.api.routes.len(), 3);
    assert_eq!(c.dynamodb.global_indexes[0].name, "by-customer");
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    c.validate().unwrap();
}

#[test]
fn mistakes_are_named_with_their_file_and_fix() {
    let dir = std::env::temp_dir().join(format!("tf-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |text: &str| std::fs::write(dir.join("main.tf"), text).unwrap();
    let read = |dir: &Path| StackConfig::from_terraform(dir).unwrap_err();

    write("variable \"x\" {\n  default = \n");
    assert!(read(&dir).contains("main.tf"));

    write(
        "variable \"size\" {}\nresource \"aws_lambda_function\" \"f\" {\n function_name = \"f\"\n filename = \"f.zip\"\n memory_size = var.size\n}\nresource \"aws_apigatewayv2_api\" \"a\" {\n name = \"a\"\n protocol_type = \"HTTP\"\n}\n",
    );
    let e = read(&dir);
    assert!(e.contains("aws_lambda_function.f") && e.contains("memory_size") && e.contains("TF_VAR_size"), "{e}");

    write(
        "resource \"aws_lambda_function\" \"f\" {\n function_name = \"f\"\n filename = \"f.zip\"\n}\nresource \"aws_apigatewayv2_api\" \"a\" {\n name = \"a\"\n protocol_type = \"HTTP\"\n}\nresource \"aws_apigatewayv2_integration\" \"i\" {\n api_id = aws_apigatewayv2_api.a.id\n integration_type = \"AWS_PROXY\"\n integration_uri = \"arn:aws:lambda:us-east-1:1:function:other\"\n}\nresource \"aws_apigatewayv2_route\" \"r\" {\n api_id = aws_apigatewayv2_api.a.id\n route_key = \"GET /x\"\n target = \"integrations/${aws_apigatewayv2_integration.i.id}\"\n}\n",
    );
    let e = read(&dir);
    assert!(e.contains("route 'GET /x' invokes function 'other'"), "{e}");

    write(
        "resource \"aws_dynamodb_table\" \"t\" {\n name = \"things\"\n hash_key = \"id\"\n attribute {\n  name = \"id\"\n  type = \"S\"\n }\n}\n",
    );
    let e = read(&dir);
    assert!(e.contains("PROVISIONED") && e.contains("PAY_PER_REQUEST"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
