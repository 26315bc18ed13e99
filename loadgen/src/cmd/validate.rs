//! `loadgen validate files…`: every scenario checked without running it, one line each (one
//! per error for a file that has several).

use std::path::PathBuf;

use crate::error::{EXIT_BAD_INPUT, EXIT_PASS};
use crate::scenario::Plan;
use crate::scenario::every_error::every_error;

/// The stack a local-stack scenario describes: its Terraform read, what AWS would refuse of it,
/// and every function's code (the bundled target-api is built by `run`, not checked here).
fn check_stack(plan: &Plan) -> Result<(), crate::error::Error> {
    use crate::target::stack::{Source, describe, describe_source};
    if plan.target.url.is_some() {
        return Ok(());
    }
    let source = Source::of(&plan.stack, None);
    let config = describe(&plan.stack, plan.seed, &source, None, None)?.config;
    for f in config.functions().filter(|f| f.code.as_os_str() != crate::scenario::own_stack::TARGET_API) {
        local_stack::lambda::code::check(f)
            .map_err(|e| crate::target::TargetError::StackInvalid(describe_source(&source), e.to_string()))?;
    }
    let into_table = plan.data.seeded_items() > 0 && plan.data.seed_via == crate::scenario::seed_data::SeedVia::Table;
    let names: Vec<&str> = config.tables().map(|t| t.table_name.as_str()).collect();
    let wanted = plan.data.table.as_deref().or(names.first().copied());
    if into_table && !wanted.is_some_and(|w| names.contains(&w)) {
        let why = match wanted {
            Some(w) => format!("[data] table '{w}' is not one of its tables ({})", names.join(", ")),
            None => "[data] seeds into the table, but it has none; declare one or set seed_via = \"api\"".into(),
        };
        return Err(crate::target::TargetError::StackInvalid(describe_source(&source), why).into());
    }
    Ok(())
}

/// Validates each file; exit 2 when any is invalid.
pub fn validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for f in files {
        let checked = Plan::from_file(f, &|k| std::env::var(k).ok())
            .map_err(crate::error::Error::from)
            .and_then(|plan| super::simulate::check_table(&plan).map(|()| plan))
            .and_then(|plan| check_stack(&plan).map(|()| plan));
        match checked {
            Ok(plan) => crate::outln!(
                "ok   {} — {} phase(s), {} request kind(s){}, {:?}",
                f.display(),
                plan.phases.len(),
                plan.requests.len(),
                match plan.flows.len() {
                    0 => String::new(),
                    n => format!(" ({n} flow(s)' steps among them)"),
                },
                plan.duration()
            ),
            Err(e) => {
                // A scenario's own errors, all of them (the first is the one above); the
                // stack's and the table's come one at a time, after the scenario passes.
                let all = match (&e, std::fs::read_to_string(f)) {
                    (crate::error::Error::Scenario(_), Ok(text)) => {
                        every_error(f, &text, &|k| std::env::var(k).ok()).into_iter().map(|e| e.to_string()).collect()
                    }
                    _ => Vec::new(),
                };
                if all.is_empty() {
                    crate::errln!("FAIL {e}");
                }
                for line in &all {
                    crate::errln!("FAIL {line}");
                }
                if all.len() > 1 {
                    crate::errln!("     {}: {} errors", f.display(), all.len());
                }
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}
