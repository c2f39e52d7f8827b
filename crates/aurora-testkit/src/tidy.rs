//! The checks that keep the code base to its map, each a pure function over data so that a test
//! can run it on the workspace and on a made-up violation alike:
//!
//! - [`check_layers`]: every dependency between workspace crates points the way
//!   `docs/architecture.md` says (its "Crates" table gives each crate's layer, and the list under
//!   it the exceptions), and test support is a dev-dependency only;
//! - [`missing_headers`]: every Rust file starts with a `//!` comment saying what lives there;
//! - [`over_long`]: no source file is longer than the limit.
//!
//! Reading the files and running `cargo metadata` is the test's job (`tests/tidy.rs`); this
//! module only parses and judges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's place in the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 0 is `aurora-model`; a crate may depend only on crates of lower layers.
    Level(u8),
    /// Test support: above everything, and only ever a dev-dependency.
    Dev,
}

/// What `docs/architecture.md` says about crates: each one's layer, and the dependencies allowed
/// against the direction (from, to).
#[derive(Debug, Default)]
pub struct Map {
    pub layers: BTreeMap<String, Layer>,
    pub exceptions: BTreeSet<(String, String)>,
}

/// Why the map or the metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TidyError {
    #[error("docs/architecture.md has no `## Crates` section")]
    NoCratesSection,
    #[error("the Crates table lists no crate")]
    EmptyTable,
    #[error("the Crates table gives {krate} the layer {layer:?}: neither a number nor `dev`")]
    BadLayer { krate: String, layer: String },
    #[error("cargo metadata: {0}")]
    Metadata(&'static str),
}

/// How one crate depends on another (`kind` in `cargo metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    Normal,
    Build,
    Dev,
}

/// A dependency of one workspace crate on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub from: String,
    pub to: String,
    pub kind: DepKind,
}

/// The workspace's crates and the dependencies between them.
#[derive(Debug, Default)]
pub struct Graph {
    pub crates: Vec<String>,
    pub deps: Vec<Dep>,
}

/// Reads the "## Crates" section of `docs/architecture.md`: the table's rows
/// (`| LAYER | \`NAME\` ... |`) and the exceptions listed under it (`` - `FROM` → `TO`: why ``).
pub fn parse_map(doc: &str) -> Result<Map, TidyError> {
    let section: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("## Crates"))
        .skip(1)
        .take_while(|l| !l.starts_with("## ") && !l.starts_with("### "))
        .collect();
    if section.is_empty() {
        return Err(TidyError::NoCratesSection);
    }
    let mut map = Map::default();
    for line in section {
        if let Some(row) = line.strip_prefix('|') {
            let mut cells = row.split('|').map(str::trim);
            let (Some(layer), Some(name)) = (cells.next(), cells.next()) else {
                continue;
            };
            let Some(name) = first_code(name) else {
                continue; // the header and the separator
            };
            let layer = match layer {
                "dev" => Layer::Dev,
                n => Layer::Level(n.parse().map_err(|_| TidyError::BadLayer {
                    krate: name.to_owned(),
                    layer: n.to_owned(),
                })?),
            };
            map.layers.insert(name.to_owned(), layer);
        } else if let Some(item) = line.strip_prefix("- ")
            && let Some((from, to)) = item.split_once('→')
            && let (Some(from), Some(to)) = (first_code(from), first_code(to))
        {
            map.exceptions.insert((from.to_owned(), to.to_owned()));
        }
    }
    if map.layers.is_empty() {
        return Err(TidyError::EmptyTable);
    }
    Ok(map)
}

/// The first `code` span of a piece of Markdown.
fn first_code(s: &str) -> Option<&str> {
    let (_, rest) = s.split_once('`')?;
    let (code, _) = rest.split_once('`')?;
    Some(code)
}

/// The workspace graph from `cargo metadata --format-version 1 --no-deps`: only dependencies
/// on workspace members count.
pub fn parse_metadata(metadata: &serde_json::Value) -> Result<Graph, TidyError> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or(TidyError::Metadata("no `packages` array"))?;
    let mut graph = Graph::default();
    for p in packages {
        let name = p["name"]
            .as_str()
            .ok_or(TidyError::Metadata("a package without a name"))?;
        graph.crates.push(name.to_owned());
    }
    let members: BTreeSet<&str> = graph.crates.iter().map(String::as_str).collect();
    let mut deps = Vec::new();
    for p in packages {
        let from = p["name"].as_str().unwrap_or_default();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"]
                .as_str()
                .ok_or(TidyError::Metadata("a dependency without a name"))?;
            if !members.contains(to) {
                continue;
            }
            let kind = match d["kind"].as_str() {
                None => DepKind::Normal,
                Some("build") => DepKind::Build,
                Some("dev") => DepKind::Dev,
                Some(_) => return Err(TidyError::Metadata("an unknown dependency kind")),
            };
            deps.push(Dep {
                from: from.to_owned(),
                to: to.to_owned(),
                kind,
            });
        }
    }
    graph.deps = deps;
    Ok(graph)
}

/// Every way the graph breaks the map, one sentence each (none: the map holds).
pub fn check_layers(map: &Map, graph: &Graph) -> Vec<String> {
    let mut wrong = Vec::new();
    for c in &graph.crates {
        if !map.layers.contains_key(c) {
            wrong.push(format!(
                "{c} is not in the Crates table of docs/architecture.md"
            ));
        }
    }
    for d in &graph.deps {
        let (Some(&from), Some(&to)) = (map.layers.get(&d.from), map.layers.get(&d.to)) else {
            continue; // reported above
        };
        let excepted = map.exceptions.contains(&(d.from.clone(), d.to.clone()));
        match (from, to, d.kind) {
            (_, Layer::Dev, DepKind::Dev) => {}
            (_, Layer::Dev, _) => wrong.push(format!(
                "{} depends on the test crate {} as a {:?} dependency: it may only be a \
                 dev-dependency, never linked into a library or a binary",
                d.from, d.to, d.kind
            )),
            (_, _, DepKind::Dev) | (Layer::Dev, _, _) => {}
            (Layer::Level(f), Layer::Level(t), _) if t < f || excepted => {}
            (Layer::Level(f), Layer::Level(t), _) => wrong.push(format!(
                "{} (layer {f}) depends on {} (layer {t}): dependencies point strictly down \
                 (libraries import only aurora-model), except the ones docs/architecture.md lists",
                d.from, d.to
            )),
        }
    }
    for (from, to) in &map.exceptions {
        let used = graph
            .deps
            .iter()
            .any(|d| &d.from == from && &d.to == to && d.kind != DepKind::Dev);
        if !used {
            wrong.push(format!(
                "docs/architecture.md allows {from} → {to}, which no longer exists: remove it"
            ));
        }
    }
    wrong
}

/// The files (path, contents) whose first line is not a `//!` comment.
pub fn missing_headers(files: &[(PathBuf, String)]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, text)| !text.lines().next().is_some_and(|l| l.starts_with("//!")))
        .map(|(p, _)| p.clone())
        .collect()
}

/// The files (path, contents) longer than `max` lines, with their length.
pub fn over_long(files: &[(PathBuf, String)], max: usize) -> Vec<(PathBuf, usize)> {
    files
        .iter()
        .map(|(p, text)| (p.clone(), text.lines().count()))
        .filter(|(_, n)| *n > max)
        .collect()
}

/// Every `.rs` file under `dir`, skipping `target/` and hidden directories, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    todo.push(path);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Each path with its contents (a file that cannot be read as text fails the test).
pub fn read_all(paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (p.clone(), text)
        })
        .collect()
}
