//! Shared by the data-driven tests (`data.rs`, `corpus.rs`): evaluating a file the way the expected
//! outputs were made, and saying where two job JSONs differ.

use aurora_config::{Bind, Config, FsLoader, SourceLoader};
use serde_json::{Map, Value};
use std::io;
use std::path::{Path, PathBuf};

/// Reads files as the client does, run by the user it names (what `getpass.getuser()` answers):
/// the user the expected outputs were made as.
pub struct FsAs(pub &'static str);

impl SourceLoader for FsAs {
    fn read(&self, path: &Path) -> io::Result<String> {
        FsLoader.read(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        FsLoader.canonicalize(path)
    }
    fn user(&self) -> Option<String> {
        Some(self.0.to_owned())
    }
}

/// Every job of `file` as `{KEY: job JSON}`, each as `aurora job inspect --write-json` prints it,
/// or the error as the client prints it.
pub fn evaluate(file: &Path, loader: &dyn SourceLoader, binds: &[Bind]) -> Result<Value, String> {
    let config = Config::load_with(file, loader).map_err(|e| e.to_string())?;
    let jobs = config.resolve_all(binds).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    for job in jobs {
        out.insert(job.key.to_string(), job.json);
    }
    Ok(Value::Object(out))
}

/// The paths at which `want` and `got` differ, with both values: `a.b[2]: want 1, got 2`.
pub fn differences(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", want, got, &mut out);
    out
}

fn walk(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => walk(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: want {wv}, missing")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: not expected, got {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                walk(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        (w, g) if w != g => out.push(format!("{path}: want {w}, got {g}")),
        _ => {}
    }
}
