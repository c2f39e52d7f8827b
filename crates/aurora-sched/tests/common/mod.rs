//! The fixture runner the data-driven tests share: every `NAME.input.json` in a folder of
//! `tests/data` is decoded, handed to the decision under test, and the answer compared with
//! `NAME.expected.json` (as JSON values, so formatting does not matter). All cases run; the test
//! fails at the end listing each case that differs, with its file, the expected and the actual
//! output. With `UPDATE_EXPECT=1` the expected files are written from the actual answers instead
//! (check them by hand before committing). See `tests/data/README.md`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

const INPUT: &str = ".input.json";
const EXPECTED: &str = ".expected.json";

/// The folder `tests/data/<dir>` of this crate.
fn folder(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
}

/// Runs every case in `tests/data/<dir>` through `decide`.
pub fn run<I, O>(dir: &str, decide: impl Fn(I) -> O)
where
    I: DeserializeOwned,
    O: Serialize,
{
    let folder = folder(dir);
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| !v.is_empty() && v != "0");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
        .map(|entry| {
            entry
                .expect("a readable folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    // An expected file without its input is a case someone renamed half-way.
    let orphans: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.strip_suffix(EXPECTED)
                .is_some_and(|stem| !names.contains(&format!("{stem}{INPUT}")))
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "{}: expected files without an input: {orphans:?}",
        folder.display()
    );
    let stems: Vec<&str> = names.iter().filter_map(|n| n.strip_suffix(INPUT)).collect();
    assert!(!stems.is_empty(), "{}: no cases", folder.display());

    let mut failures = Vec::new();
    for stem in &stems {
        let input_path = folder.join(format!("{stem}{INPUT}"));
        let expected_path = folder.join(format!("{stem}{EXPECTED}"));
        let text = std::fs::read_to_string(&input_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", input_path.display()));
        let input: I = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a valid case: {e}", input_path.display()));
        let actual = serde_json::to_value(decide(input)).expect("outputs serialise");
        if update {
            std::fs::write(&expected_path, format!("{}\n", pretty(&actual)))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected_path.display()));
            continue;
        }
        let expected: serde_json::Value = match std::fs::read_to_string(&expected_path) {
            Ok(text) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", expected_path.display())),
            Err(e) => {
                failures.push(format!(
                    "{}: cannot read it ({e}); run with UPDATE_EXPECT=1 to write it",
                    expected_path.display()
                ));
                continue;
            }
        };
        if expected != actual {
            failures.push(format!(
                "{}\n--- expected\n{}\n--- actual\n{}",
                input_path.display(),
                pretty(&expected),
                pretty(&actual),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) in {} differ (UPDATE_EXPECT=1 rewrites the expected files):\n\n{}",
        failures.len(),
        stems.len(),
        folder.display(),
        failures.join("\n\n")
    );
}

/// How wide a value may be to stay on one line.
const WIDTH: usize = 100;

/// JSON for people: a value that fits in [`WIDTH`] stays on one line (`{"a": 1, "b": [2, 3]}`),
/// a larger one has one member per line, indented by two.
pub fn pretty(v: &serde_json::Value) -> String {
    layout(v, 0, 0)
}

/// `v` laid out at `indent`, its first line starting at column `lead`.
fn layout(v: &serde_json::Value, indent: usize, lead: usize) -> String {
    use serde_json::Value;
    let flat = flat(v);
    if lead + flat.len() <= WIDTH {
        return flat;
    }
    let inner = indent + 2;
    let pad = " ".repeat(inner);
    let (open, close, items): (char, char, Vec<String>) = match v {
        Value::Array(a) if !a.is_empty() => (
            '[',
            ']',
            a.iter()
                .map(|x| format!("{pad}{}", layout(x, inner, inner)))
                .collect(),
        ),
        Value::Object(o) if !o.is_empty() => (
            '{',
            '}',
            o.iter()
                .map(|(k, x)| {
                    let key = serde_json::to_string(k).expect("strings serialise");
                    let value = layout(x, inner, inner + key.len() + 2);
                    format!("{pad}{key}: {value}")
                })
                .collect(),
        ),
        _ => return flat,
    };
    format!(
        "{open}\n{}\n{}{close}",
        items.join(",\n"),
        " ".repeat(indent)
    )
}

/// The value on one line, with a space after each `,` and `:`.
fn flat(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(flat).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| {
                    let key = serde_json::to_string(k).expect("strings serialise");
                    format!("{key}: {}", flat(x))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        scalar => serde_json::to_string(scalar).expect("scalars serialise"),
    }
}
