//! The variables each execution environment starts with: those Lambda defines for an OS-only
//! runtime, with Lambda's values, and the names a function may not set itself.

use std::path::Path;

use crate::config::FunctionConfig;

/// The variables Lambda defines for an OS-only runtime (`provided.al2023`, `provided.al2`), as
/// its documentation lists them (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>,
/// "Defined runtime environment variables"): the reserved ones and the unreserved ones with
/// Lambda's values. Not set, as for OS-only runtimes on AWS: `AWS_EXECUTION_ENV`, and
/// `_X_AMZN_TRACE_ID`, which a custom runtime sets from each `next`'s
/// `Lambda-Runtime-Trace-Id` header. Added per environment: `AWS_LAMBDA_LOG_STREAM_NAME` and
/// `AWS_LAMBDA_RUNTIME_API`; the credentials come with the stack's own variables.
///
/// `/var/task` and `/var/runtime` do not exist on this machine: `LAMBDA_TASK_ROOT` and
/// `LAMBDA_RUNTIME_DIR` name `task_root`, the directory the function's code is in (a zip's
/// unpacked copy), so code that reads files beside itself finds them. `_HANDLER` is the
/// function's handler; a Python runtime adds its own variables ([`super::code::Entrypoint`]). `AWS_EC2_METADATA_DISABLED` is the emulator's one addition:
/// it keeps SDKs from looking for credentials on the instance-metadata address.
pub fn lambda_environment(config: &FunctionConfig, region: &str, task_root: &Path) -> Vec<(String, String)> {
    let root = task_root.display().to_string();
    [
        ("_HANDLER", config.handler.clone()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", config.name)),
        ("LAMBDA_TASK_ROOT", root.clone()),
        ("LAMBDA_RUNTIME_DIR", root.clone()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        (
            "LD_LIBRARY_PATH",
            format!("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{root}:{root}/lib:/opt/lib"),
        ),
        ("TZ", ":UTC".to_owned()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Names AWS reserves: a function's own variables may not set them.
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
