//! Evaluating a `.aurora` file: reading it and its includes, running the pre-pass, and executing
//! the pieces in order in one Starlark module, as Aurora executes `include()`d files into the
//! including file's namespace. The result is the file's `jobs` list as owned struct values.
//!
//! File access goes through [`SourceLoader`], so that tests and the fuzzer evaluate from memory.
//! Includes may only name files inside the including file's folder.

use crate::error::ConfigError;
use crate::prepass::{self, Chunk};
use crate::python2::{self, Py2Context};
use crate::starlark_glue::{self, StructObj};
use crate::value::StructValue;
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::ValueLike;
use starlark::values::list::ListRef;
use starlark::values::tuple::TupleRef;
use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Reads configuration sources (from the evaluator's own thread, hence `Sync`).
pub trait SourceLoader: Sync {
    /// The text of a file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The file's canonical path (symlinks resolved), used to keep includes inside their folder.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The name of the user running the client, for `getpass.getuser()`; `None` when unknown.
    fn user(&self) -> Option<String> {
        None
    }
}

/// Reads from the local filesystem.
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
    /// As Python's `getpass.getuser()`: the first of `LOGNAME`, `USER`, `LNAME`, `USERNAME`, then
    /// the password database's name for the process's user.
    fn user(&self) -> Option<String> {
        ["LOGNAME", "USER", "LNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
    }
}

/// Reads from an in-memory map of path to text (tests, fuzzing).
#[derive(Default)]
pub struct MemoryLoader {
    pub files: HashMap<PathBuf, String>,
    /// What `getpass.getuser()` answers.
    pub user: Option<String>,
}

impl SourceLoader for MemoryLoader {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(normalize(path))
    }
    fn user(&self) -> Option<String> {
        self.user.clone()
    }
}

/// Lexically resolves `.` and `..` (no filesystem access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn dialect() -> Dialect {
    Dialect {
        enable_top_level_stmt: true,
        enable_def: true,
        enable_lambda: true,
        enable_keyword_only_arguments: true,
        enable_load: false,
        ..Dialect::Extended
    }
}

/// Starlark's standard globals, `print`, and the Aurora schema; built once.
fn globals() -> &'static Globals {
    static GLOBALS: OnceLock<Globals> = OnceLock::new();
    GLOBALS.get_or_init(|| {
        GlobalsBuilder::extended_by(&[
            LibraryExtension::Print,
            LibraryExtension::Filter,
            LibraryExtension::SetType,
            LibraryExtension::Partial,
        ])
        .with(starlark_glue::register)
        .with(python2::register)
        .build()
    })
}

/// Python 2's `/` and `%` in place of Starlark's (see `python2::OPERATORS`); built once.
fn python2_operators() -> &'static HashMap<String, String> {
    static OPS: OnceLock<HashMap<String, String>> = OnceLock::new();
    OPS.get_or_init(|| {
        python2::OPERATORS
            .iter()
            .map(|(op, f)| (op.to_string(), f.to_string()))
            .collect()
    })
}

/// `print()` in a config goes to stderr, so that `inspect --write-json` output stays JSON.
struct StderrPrint;

impl starlark::PrintHandler for StderrPrint {
    fn println(&self, text: &str) -> starlark::Result<()> {
        eprintln!("{text}");
        Ok(())
    }
}

/// The most a call stack may grow: runaway recursion becomes an error, not a crash.
const MAX_CALLSTACK: usize = 200;

/// The stack evaluation runs on. Starlark parses, compiles and runs expressions recursively; with
/// statements of at most `prepass::MAX_STATEMENT_TOKENS` tokens and nesting of at most
/// `MAX_NESTING` brackets, this is enough (measured: `1+1+...` of 5,000 terms needs about 8 MiB).
/// It is address space: only the pages a file's recursion touches are used.
const EVAL_STACK: usize = 512 << 20;

/// Evaluates the file at `path` and returns its `jobs`, on a thread with a stack of `EVAL_STACK`.
pub fn evaluate(
    path: &Path,
    loader: &dyn SourceLoader,
) -> Result<Vec<Arc<StructValue>>, ConfigError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("aurora-config".into())
            .stack_size(EVAL_STACK)
            .spawn_scoped(scope, || evaluate_here(path, loader))
            .map_err(|e| ConfigError::Internal(format!("cannot start the evaluator: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(ConfigError::Internal("the evaluator panicked".into())))
    })
}

fn evaluate_here(
    path: &Path,
    loader: &dyn SourceLoader,
) -> Result<Vec<Arc<StructValue>>, ConfigError> {
    let source = loader.read(path).map_err(|e| ConfigError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let globals = globals();
    let context = Py2Context {
        user: loader.user(),
    };
    Module::with_temp_heap(|module| {
        let mut eval = Evaluator::new(&module);
        eval.extra = Some(&context);
        eval.set_print_handler(&StderrPrint);
        eval.set_max_callstack_size(MAX_CALLSTACK)
            .map_err(|e| ConfigError::Internal(e.to_string()))?;
        let mut stack = Vec::new();
        run_file(&mut eval, globals, path, &source, loader, &mut stack)?;
        let Some(jobs) = module.get("jobs") else {
            return Err(ConfigError::NoJobs {
                file: path.to_owned(),
            });
        };
        let items = ListRef::from_value(jobs)
            .map(|l| l.content().to_vec())
            .or_else(|| TupleRef::from_value(jobs).map(|t| t.content().to_vec()))
            .ok_or_else(|| ConfigError::NotAJob {
                file: path.to_owned(),
                index: None,
                found: format!("a {}", jobs.get_type()),
            })?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v.downcast_ref::<StructObj>() {
                Some(s) if s.0.ty.name == "Job" => Ok(s.0.clone()),
                Some(s) => Err(ConfigError::NotAJob {
                    file: path.to_owned(),
                    index: Some(i),
                    found: format!("a {}", s.0.ty.name),
                }),
                None => Err(ConfigError::NotAJob {
                    file: path.to_owned(),
                    index: Some(i),
                    found: format!("a {}", v.get_type()),
                }),
            })
            .collect()
    })
}

fn run_file(
    eval: &mut Evaluator<'_, '_, '_>,
    globals: &Globals,
    path: &Path,
    source: &str,
    loader: &dyn SourceLoader,
    stack: &mut Vec<PathBuf>,
) -> Result<(), ConfigError> {
    let canonical = loader
        .canonicalize(path)
        .unwrap_or_else(|_| path.to_owned());
    if stack.contains(&canonical) {
        return Err(ConfigError::Include {
            file: path.to_owned(),
            line: 0,
            message: format!("include cycle: {} includes itself", path.display()),
        });
    }
    stack.push(canonical.clone());
    let chunks = prepass::prepass(source).map_err(|e| ConfigError::Syntax {
        file: path.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let name = path.display().to_string();
    for chunk in chunks {
        match chunk {
            Chunk::Code(code) => {
                let mut ast = AstModule::parse(&name, code, &dialect())
                    .map_err(ConfigError::from_starlark)?;
                ast.replace_binary_operators(python2_operators());
                eval.eval_module(ast, globals)
                    .map_err(ConfigError::from_starlark)?;
            }
            Chunk::Include {
                path: rel, line, ..
            } => {
                let target = resolve_include(path, &canonical, &rel, line, loader)?;
                let text = loader.read(&target).map_err(|e| ConfigError::Include {
                    file: path.to_owned(),
                    line,
                    message: format!("cannot read included file {}: {e}", target.display()),
                })?;
                run_file(eval, globals, &target, &text, loader, stack)?;
            }
        }
    }
    stack.pop();
    Ok(())
}

/// The path of `include(rel)` written in `including`, refused if it leaves the including file's folder.
fn resolve_include(
    including: &Path,
    including_canonical: &Path,
    rel: &str,
    line: usize,
    loader: &dyn SourceLoader,
) -> Result<PathBuf, ConfigError> {
    let refuse = |why: &str| ConfigError::Include {
        file: including.to_owned(),
        line,
        message: format!("include('{rel}') refused: {why}"),
    };
    let rel_path = Path::new(rel);
    if rel.is_empty() || rel_path.is_absolute() {
        return Err(refuse(
            "the path must be relative to the including file's folder",
        ));
    }
    let dir = including.parent().unwrap_or(Path::new(""));
    let target = dir.join(rel_path);
    let folder = including_canonical
        .parent()
        .unwrap_or(Path::new(""))
        .to_owned();
    let canonical_target = loader
        .canonicalize(&target)
        .map_err(|e| ConfigError::Include {
            file: including.to_owned(),
            line,
            message: format!("cannot read included file {}: {e}", target.display()),
        })?;
    if !canonical_target.starts_with(&folder)
        || canonical_target
            .components()
            .any(|c| c == Component::ParentDir)
    {
        return Err(refuse("it leaves the including file's folder"));
    }
    Ok(target)
}
