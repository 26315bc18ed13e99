//! A function's code as Lambda is given it — a `bootstrap` executable, a directory, or a
//! deployment `.zip` unpacked into a directory of its own as Lambda unpacks it into
//! `/var/task` — and the command its runtime starts: `bootstrap` on the OS-only runtimes, the
//! AWS Lambda runtime interface client with the handler on Python ones ([`super::python`]).
//!
//! [`check`] reads without unpacking, so `loadgen validate` can say what is wrong with an
//! artifact before a run; [`prepare`] unpacks and resolves the command when the stack starts.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::FunctionConfig;

/// A Lambda runtime the emulator can start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `provided.al2023`, `provided.al2`: Lambda runs the code's `bootstrap`.
    Provided,
    /// `python3.N`: Lambda's Python runtime runs `module.function`.
    Python {
        /// `3.12`.
        version: String,
    },
}

impl Runtime {
    /// Lambda's identifier read: `provided.al2023`, `provided.al2` or `python3.N`.
    pub fn parse(id: &str) -> Result<Runtime, String> {
        if id == "provided.al2023" || id == "provided.al2" {
            return Ok(Runtime::Provided);
        }
        if let Some(minor) = id.strip_prefix("python3.")
            && !minor.is_empty()
            && minor.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Runtime::Python { version: format!("3.{minor}") });
        }
        Err(format!(
            "'{id}' is not a runtime the local stack runs: use provided.al2023 or provided.al2 (a bootstrap \
             executable) or python3.N (a Python handler)"
        ))
    }
}

/// What is wrong with a function's code.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The artifact is not there.
    #[error("function '{function}': its code {} does not exist; build it or fix the path", path.display())]
    Missing {
        /// Function name.
        function: String,
        /// The path given.
        path: PathBuf,
    },
    /// An OS-only runtime's code has no `bootstrap` at its root.
    #[error(
        "function '{function}': {} has no `bootstrap` at its root; an OS-only runtime ({runtime}) runs \
         that file, so put the executable there (zip -j app.zip bootstrap) or use a python3.N runtime",
        path.display()
    )]
    NoBootstrap {
        /// Function name.
        function: String,
        /// The artifact.
        path: PathBuf,
        /// The runtime.
        runtime: String,
    },
    /// A file given as code that cannot be run.
    #[error("function '{function}': {} is not executable; chmod +x it", path.display())]
    NotExecutable {
        /// Function name.
        function: String,
        /// The file.
        path: PathBuf,
    },
    /// A zip whose `bootstrap` is not executable.
    #[error(
        "function '{function}': the bootstrap in {} is not executable, and Lambda runs it only when it is; \
         chmod +x it before zipping",
        path.display()
    )]
    NotExecutableInZip {
        /// Function name.
        function: String,
        /// The zip.
        path: PathBuf,
    },
    /// The zip cannot be read or unpacked.
    #[error("function '{function}': cannot unpack {}: {reason}", path.display())]
    BadZip {
        /// Function name.
        function: String,
        /// The zip.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A Python handler whose module or function is not in the code.
    #[error("function '{function}': handler '{handler}': {reason}")]
    BadHandler {
        /// Function name.
        function: String,
        /// The handler.
        handler: String,
        /// What is missing, and where it was looked for.
        reason: String,
    },
    /// The runtime is not one the emulator runs.
    #[error("function '{function}': runtime {reason}")]
    Runtime {
        /// Function name.
        function: String,
        /// Why.
        reason: String,
    },
    /// The Python runtime's interpreter or runtime interface client is missing.
    #[error("function '{function}': {reason}")]
    Python {
        /// Function name.
        function: String,
        /// What is missing and how to get it.
        reason: String,
    },
}

/// The code of one function, ready to start environments from.
#[derive(Debug)]
pub struct Entrypoint {
    /// The directory the code is in: `LAMBDA_TASK_ROOT`, and the processes' working directory.
    pub task_root: PathBuf,
    /// The program each environment runs.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables the runtime adds (`AWS_EXECUTION_ENV`, `PYTHONPATH`).
    pub env: Vec<(String, String)>,
    /// What the user should know about how the code runs (a Python on another version).
    pub note: Option<String>,
    /// The directory a zip was unpacked into, removed with the entrypoint.
    unpacked: Option<PathBuf>,
}

impl Drop for Entrypoint {
    fn drop(&mut self) {
        if let Some(d) = &self.unpacked {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn is_zip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The file a Python module's name resolves to within the code: `pkg.mod` is `pkg/mod.py` or
/// `pkg/mod/__init__.py`.
fn module_files(module: &str) -> [String; 2] {
    let rel = module.replace('.', "/");
    [format!("{rel}.py"), format!("{rel}/__init__.py")]
}

/// Splits `module.function`, as Lambda's Python runtime does (at the last dot).
fn split_handler(f: &FunctionConfig) -> Result<(&str, &str), CodeError> {
    let bad = |reason: &str| CodeError::BadHandler {
        function: f.name.clone(),
        handler: f.handler.clone(),
        reason: reason.to_owned(),
    };
    let (module, func) =
        f.handler.rsplit_once('.').ok_or_else(|| bad("write it as module.function, e.g. app.lambda_handler"))?;
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if module.split('.').any(|p| !ident(p)) || !ident(func) {
        return Err(bad("write it as module.function, e.g. app.lambda_handler"));
    }
    Ok((module, func))
}

/// Checks that a Python handler's module is in the code and defines the function, given
/// a way to read a file of the code by relative path. The definition is looked for as text
/// (`def name`, `name =`, `import … as name`): the emulator does not run Python to validate,
/// so a handler made some other way is reported only when its environment's INIT fails.
fn check_handler(f: &FunctionConfig, read: &mut dyn FnMut(&str) -> Option<String>) -> Result<(), CodeError> {
    let (module, func) = split_handler(f)?;
    let [file, package] = module_files(module);
    let Some(text) = read(&file).or_else(|| read(&package)) else {
        return Err(CodeError::BadHandler {
            function: f.name.clone(),
            handler: f.handler.clone(),
            reason: format!("no {file} (or {package}) in {}", f.code.display()),
        });
    };
    let defined = text.lines().any(|l| {
        let l = l.trim_start();
        l.strip_prefix("def ")
            .or_else(|| l.strip_prefix("async def "))
            .is_some_and(|r| r.strip_prefix(func).is_some_and(|r| r.trim_start().starts_with('(')))
            || l.strip_prefix(func).is_some_and(|r| r.trim_start().starts_with('='))
            || (l.contains("import ") && l.split([' ', ',']).any(|w| w == func))
    });
    if defined {
        Ok(())
    } else {
        Err(CodeError::BadHandler {
            function: f.name.clone(),
            handler: f.handler.clone(),
            reason: format!("{file} defines no function '{func}'"),
        })
    }
}

fn runtime(f: &FunctionConfig) -> Result<Runtime, CodeError> {
    Runtime::parse(&f.runtime).map_err(|e| CodeError::Runtime { function: f.name.clone(), reason: e })
}

fn bad_zip(f: &FunctionConfig, e: impl std::fmt::Display) -> CodeError {
    CodeError::BadZip { function: f.name.clone(), path: f.code.clone(), reason: e.to_string() }
}

/// Checks the code without unpacking it: it exists, an OS-only runtime's has a `bootstrap`, a
/// Python handler's module is in it and defines the function.
pub fn check(f: &FunctionConfig) -> Result<(), CodeError> {
    let runtime = runtime(f)?;
    let path = &f.code;
    if !path.exists() {
        return Err(CodeError::Missing { function: f.name.clone(), path: path.clone() });
    }
    let no_bootstrap =
        || CodeError::NoBootstrap { function: f.name.clone(), path: path.clone(), runtime: f.runtime.clone() };
    if is_zip(path) {
        let file = std::fs::File::open(path).map_err(|e| bad_zip(f, e))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad_zip(f, e))?;
        return match runtime {
            Runtime::Provided => {
                let entry = zip.by_name("bootstrap").map_err(|_| no_bootstrap())?;
                // Lambda runs `bootstrap` only when the zip records it executable.
                if entry.unix_mode().is_some_and(|m| m & 0o111 == 0) {
                    return Err(CodeError::NotExecutableInZip { function: f.name.clone(), path: path.clone() });
                }
                Ok(())
            }
            Runtime::Python { .. } => check_handler(f, &mut |name| {
                let mut s = String::new();
                zip.by_name(name).ok()?.read_to_string(&mut s).ok().map(|_| s)
            }),
        };
    }
    match (runtime, path.is_dir()) {
        (Runtime::Provided, true) if !path.join("bootstrap").is_file() => Err(no_bootstrap()),
        (Runtime::Provided, dir) => {
            let file = if dir { path.join("bootstrap") } else { path.clone() };
            if executable(&file) {
                Ok(())
            } else {
                Err(CodeError::NotExecutable { function: f.name.clone(), path: file })
            }
        }
        (Runtime::Python { .. }, true) => check_handler(f, &mut |name| std::fs::read_to_string(path.join(name)).ok()),
        // A single module, as an `archive_file` with `source_file` zips it.
        (Runtime::Python { .. }, false) if path.extension().is_some_and(|e| e == "py") => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            check_handler(f, &mut |want| (want == name).then(|| std::fs::read_to_string(path).ok()).flatten())
        }
        (Runtime::Python { .. }, false) => Err(CodeError::BadHandler {
            function: f.name.clone(),
            handler: f.handler.clone(),
            reason: format!("{} is a file; give the directory, .zip or .py holding the module", path.display()),
        }),
    }
}

/// Unpacks a zip into `scratch/<function>`, keeping the file modes it records (Lambda runs
/// `bootstrap` only when it is executable in the zip, and so does the emulator).
fn unpack(f: &FunctionConfig, scratch: &Path) -> Result<PathBuf, CodeError> {
    let dir = scratch.join(format!("code-{}", f.name));
    let _ = std::fs::remove_dir_all(&dir);
    let file = std::fs::File::open(&f.code).map_err(|e| bad_zip(f, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad_zip(f, e))?;
    // `extract` refuses entries that would land outside `dir` (`../`, absolute paths).
    zip.extract(&dir).map_err(|e| bad_zip(f, e))?;
    Ok(dir)
}

/// A single Python module copied into a directory of its own, as Lambda would unpack a zip of
/// it: the task root holds the module and nothing beside it.
fn copy_module(f: &FunctionConfig, module: &Path, scratch: &Path) -> Result<PathBuf, CodeError> {
    let dir = scratch.join(format!("code-{}", f.name));
    let name = module.file_name().unwrap_or_default();
    std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(module, dir.join(name))).map_err(|e| {
        CodeError::BadZip { function: f.name.clone(), path: module.to_path_buf(), reason: e.to_string() }
    })?;
    Ok(dir)
}

/// The code of `f` ready to run: checked, unpacked under `scratch` when it is a zip, and the
/// command its runtime starts resolved (for Python, the runtime interface client installed
/// in `cache` when it is not there yet).
pub fn prepare(f: &FunctionConfig, scratch: &Path, cache: Option<&Path>) -> Result<Entrypoint, CodeError> {
    check(f)?;
    // Absolute, as environments start in their task root: a relative program would be looked
    // for from there.
    let code = std::fs::canonicalize(&f.code)
        .map_err(|_| CodeError::Missing { function: f.name.clone(), path: f.code.clone() })?;
    let runtime = runtime(f)?;
    let python_file =
        matches!(runtime, Runtime::Python { .. }) && !code.is_dir() && code.extension().is_some_and(|e| e == "py");
    let unpacked = if is_zip(&code) {
        Some(unpack(f, scratch)?)
    } else if python_file {
        Some(copy_module(f, &code, scratch)?)
    } else {
        None
    };
    let task_root = match (&unpacked, code.is_dir()) {
        (Some(d), _) => d.clone(),
        (None, true) => code.clone(),
        (None, false) => code.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")),
    };
    let task_root = std::fs::canonicalize(&task_root).unwrap_or(task_root);
    let (program, args, env, note) = match runtime {
        Runtime::Provided => {
            let program = if code.is_file() && unpacked.is_none() { code.clone() } else { task_root.join("bootstrap") };
            if !executable(&program) {
                return Err(CodeError::NotExecutable { function: f.name.clone(), path: program });
            }
            (program, Vec::new(), Vec::new(), None)
        }
        Runtime::Python { version } => {
            let python = super::python::interpreter(&version)
                .map_err(|reason| CodeError::Python { function: f.name.clone(), reason })?;
            let cache = cache.ok_or_else(|| CodeError::Python {
                function: f.name.clone(),
                reason: "there is nowhere to install the AWS Lambda runtime interface client: set LOADGEN_CACHE_DIR \
                         (or HOME) to a directory of yours"
                    .into(),
            })?;
            let ric = super::python::runtime_client(&python, cache)
                .map_err(|reason| CodeError::Python { function: f.name.clone(), reason })?;
            let env = vec![
                ("AWS_EXECUTION_ENV".to_owned(), format!("AWS_Lambda_python{version}")),
                ("PYTHONPATH".to_owned(), format!("{}:{}", task_root.display(), ric.display())),
                // Lambda's Python runtime sends print() output to the log as it happens.
                ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
            ];
            let note = python.mismatch();
            (python.path, vec!["-m".to_owned(), "awslambdaric".to_owned(), f.handler.clone()], env, note)
        }
    };
    Ok(Entrypoint { task_root, program, args, env, note, unpacked })
}
