//! Data-driven cases for the Python forms `.aurora` files use (`tests/data/`, see its README):
//! every `NAME.aurora` evaluates to exactly `NAME.json` (what Aurora's own loader made of it:
//! `{KEY: job}` for each job, as `aurora job inspect --write-json` prints it), or is refused with
//! exactly the message in `NAME.err`.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

#[test]
fn every_case_evaluates_as_aurora_does_or_is_refused_as_written() {
    // Relative to the crate, so that error messages name `tests/data/NAME.aurora`.
    let dir = Path::new("tests/data");
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aurora"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{} cases", names.len());
    let mut failures = Vec::new();
    for file in &names {
        let json = file.with_extension("json");
        let err = file.with_extension("err");
        let got = common::evaluate(file, &common::FsAs("www-data"), &[]);
        match (json.exists(), err.exists()) {
            (true, false) => {
                let want: Value =
                    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
                match got {
                    Ok(got) if got == want => {}
                    Ok(got) => failures.push(format!(
                        "{}: differs from Aurora's loader:\n  {}",
                        file.display(),
                        common::differences(&want, &got).join("\n  ")
                    )),
                    Err(e) => failures.push(format!("{}: {e}", file.display())),
                }
            }
            (false, true) => {
                let want = std::fs::read_to_string(&err).unwrap();
                match got {
                    Err(e) if e == want.trim_end() => {}
                    other => failures.push(format!(
                        "{}: expected the error\n  {}\ngot\n  {other:?}",
                        file.display(),
                        want.trim_end()
                    )),
                }
            }
            _ => failures.push(format!(
                "{}: needs exactly one of NAME.json and NAME.err",
                file.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
