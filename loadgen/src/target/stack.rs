//! The stack the local stack starts with, described, not hard-wired: the Terraform a run names
//! (`--infra DIR --local` or `[stack] infra`), the functions and tables a scenario declares
//! (`[[stack.function]]`, `[[stack.table]]`), or — with neither — the bundled target-api with
//! the settings of this repository's `infra/` (the same Terraform the real stack is deployed
//! with). The scenario's `[stack]` overrides then apply to the first function and table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use local_stack::{Stack, StackConfig};

use super::TargetError;
use crate::event::{Event, Sink};
use crate::scenario::own_stack::TARGET_API;
use crate::scenario::stack::StackOverrides;

/// Where the stack's description comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A Terraform directory.
    Terraform(PathBuf),
    /// Only what the scenario declares.
    Scenario,
    /// The bundled target-api, with `infra/`'s settings when run from the repository.
    Bundled,
}

impl Source {
    /// The source for a run: `--infra DIR --local` over `[stack] infra`, then the scenario's
    /// own functions, then the bundled stack.
    pub fn of(stack: &StackOverrides, local_infra: Option<&Path>) -> Source {
        match local_infra.map(Path::to_path_buf).or_else(|| stack.infra.clone()) {
            Some(dir) => Source::Terraform(dir),
            None if !stack.functions.is_empty() => Source::Scenario,
            None => Source::Bundled,
        }
    }
}

/// A described stack and what the reader wants said about it.
#[derive(Debug, Clone)]
pub struct Described {
    /// The settings.
    pub config: StackConfig,
    /// What runs differently from the description, and what it holds that is not emulated.
    pub notes: Vec<String>,
}

/// Our `infra/` when run from the repository root.
fn bundled_infra() -> Option<&'static Path> {
    let infra = Path::new("infra");
    infra.join("variables.tf").is_file().then_some(infra)
}

/// The stack `source` describes, before the scenario's overrides; the bundled binary is looked
/// for (and built) only when `sink` is given.
fn base(source: &Source, sink: Option<&Arc<dyn Sink>>) -> Result<Described, TargetError> {
    match source {
        Source::Terraform(dir) => {
            let d = StackConfig::from_terraform(dir).map_err(TargetError::Terraform)?;
            let mut notes = d.notes;
            notes.extend(d.ignored.iter().map(|i| format!("not emulated: {i}")));
            Ok(Described { config: d.config, notes })
        }
        Source::Scenario => {
            let mut c = StackConfig::new("");
            c.dynamodb.table_name.clear();
            Ok(Described { config: c, notes: Vec::new() })
        }
        Source::Bundled => {
            // The deployment zip `infra/` names is for AWS; locally the same code runs as the
            // binary cargo builds.
            let binary = match sink {
                Some(sink) => super::binary::target_api(sink)?,
                None => PathBuf::from(TARGET_API),
            };
            let mut c = match bundled_infra() {
                Some(dir) => StackConfig::from_terraform(dir).map_err(TargetError::Terraform)?.config,
                None => StackConfig::new(&binary),
            };
            c.function.code = binary;
            Ok(Described { config: c, notes: Vec::new() })
        }
    }
}

/// The settings the local stack starts with from `source`, with a scenario's `[stack]`
/// (`stack`) and `seed`, writing its function logs to `log_dir` (a temporary directory when
/// `None`). Without a `sink` the settings are only read (for simulating them): `code =
/// "target-api"` stays the word, nothing is built.
pub fn describe(
    stack: &StackOverrides,
    seed: u64,
    source: &Source,
    log_dir: Option<&Path>,
    sink: Option<&Arc<dyn Sink>>,
) -> Result<Described, TargetError> {
    let mut d = base(source, sink)?;
    let c = &mut d.config;
    let mut functions = stack.functions.clone().into_iter();
    if *source == Source::Scenario {
        // The first declared function is the main one: it serves the API's first routes.
        if let Some(main) = functions.next() {
            c.api.routes = main.routes.clone();
            c.function = local_stack::config::FunctionConfig { routes: Vec::new(), ..main };
        }
    }
    c.extra_functions.extend(functions);
    let mut tables = stack.tables.clone().into_iter();
    if c.dynamodb.table_name.is_empty()
        && let Some(t) = tables.next()
    {
        c.dynamodb = t;
    }
    c.extra_tables.extend(tables);
    // `code = "target-api"`: the bundled binary, found or built.
    let needs_binary = std::iter::once(&c.function).chain(&c.extra_functions).any(|f| f.code.as_os_str() == TARGET_API);
    if let Some(sink) = sink.filter(|_| needs_binary && *source != Source::Bundled) {
        let binary = super::binary::target_api(sink)?;
        for f in std::iter::once(&mut c.function).chain(c.extra_functions.iter_mut()) {
            if f.code.as_os_str() == TARGET_API {
                f.code = binary.clone();
            }
        }
    }
    stack.apply_to(c);
    c.seed = seed;
    c.log_dir = log_dir.map(Path::to_path_buf);
    c.validate().map_err(|e| TargetError::StackInvalid(describe_source(source), e))?;
    Ok(d)
}

/// How a source is named in messages.
pub fn describe_source(source: &Source) -> String {
    match source {
        Source::Terraform(dir) => format!("the stack in {}", dir.display()),
        Source::Scenario => "the scenario's [stack]".into(),
        Source::Bundled => "the bundled stack".into(),
    }
}

/// Starts the local stack, saying what the description leaves out.
pub async fn start(described: &Described, sink: &Arc<dyn Sink>) -> Result<Stack, TargetError> {
    for note in &described.notes {
        sink.event(Event::StackNote { note: note.clone() });
    }
    let stack = Stack::start(described.config.clone()).await?;
    for note in stack.notes() {
        sink.event(Event::StackNote { note: note.clone() });
    }
    Ok(stack)
}
