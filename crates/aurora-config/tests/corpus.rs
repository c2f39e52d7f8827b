//! The real-world corpus: `.aurora` files from Apache Aurora's repository and from other public
//! repositories (listed in `tests/corpus/sources.tsv`), evaluated and compared with what Aurora's
//! own loader made of them (`tests/corpus/expected/`, see `tests/corpus/README.md`).
//!
//! The inputs are other people's files and are not kept here: `tests/corpus/materialize.sh` copies
//! them out of local checkouts, and this test reads them from the folder named by
//! `AURORA_CONFIG_CORPUS`. Without it the comparison is skipped (CI has no checkouts), but the
//! listing is still checked: every source has exactly one expected outcome. The forms the corpus
//! uses are covered on every run by `tests/data/` (our own rewritten cases).

mod common;

use aurora_config::Bind;
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Source {
    repo: String,
    path: String,
    binds: Vec<Bind>,
}

impl Source {
    /// `OWNER+NAME/PATH`: where the input sits in the materialized folder.
    fn flat(&self) -> String {
        format!("{}/{}", self.repo.replace('/', "+"), self.path)
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn sources() -> Vec<Source> {
    let text = std::fs::read_to_string(corpus_dir().join("sources.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "sources.tsv: 4 columns expected in {l:?}");
            let binds = match cols[3] {
                "-" => Vec::new(),
                b => b.split(' ').map(|b| b.parse().unwrap()).collect(),
            };
            Source {
                repo: cols[0].into(),
                path: cols[2].into(),
                binds,
            }
        })
        .collect()
}

enum Expected {
    /// Aurora's loader output, which ours must equal.
    Same(Value),
    /// Refused by us for a documented reason, with this exact message.
    Refused(String),
}

fn expected(source: &Source) -> Expected {
    let base = corpus_dir().join("expected").join(source.flat());
    let json = PathBuf::from(format!("{}.json", base.display()));
    let err = PathBuf::from(format!("{}.err", base.display()));
    match (json.exists(), err.exists()) {
        (true, false) => Expected::Same(
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", json.display())),
        ),
        (false, true) => Expected::Refused(
            std::fs::read_to_string(&err)
                .unwrap()
                .trim_end()
                .to_string(),
        ),
        _ => panic!(
            "{}: exactly one of {} and {} must exist",
            source.flat(),
            json.display(),
            err.display()
        ),
    }
}

#[test]
fn every_source_has_one_expected_outcome() {
    let all = sources();
    assert!(all.len() >= 30, "the corpus lists {} files", all.len());
    let repos: std::collections::BTreeSet<&str> = all.iter().map(|s| s.repo.as_str()).collect();
    assert!(repos.len() >= 3, "{repos:?}");
    for s in &all {
        expected(s);
    }
}

#[test]
fn the_corpus_evaluates_as_aurora_does() {
    let Some(root) = std::env::var_os("AURORA_CONFIG_CORPUS") else {
        eprintln!(
            "AURORA_CONFIG_CORPUS is not set: corpus comparison skipped (see tests/corpus/README.md)"
        );
        return;
    };
    let root = PathBuf::from(root);
    let mut failures = Vec::new();
    let (mut same, mut refused) = (0, 0);
    for s in sources() {
        let file = root.join(s.flat());
        assert!(
            file.exists(),
            "{} is missing: run materialize.sh",
            file.display()
        );
        // Messages name the file relative to the corpus folder, as `.err` files hold them.
        let prefix = format!("{}/", root.display());
        let got = common::evaluate(&file, &common::FsAs("root"), &s.binds)
            .map_err(|e| e.replace(&prefix, ""));
        match (expected(&s), got) {
            (Expected::Same(want), Ok(got)) if want == got => same += 1,
            (Expected::Refused(want), Err(got)) if want == got => refused += 1,
            (Expected::Same(want), Ok(got)) => failures.push(format!(
                "{}: differs from Aurora's loader:\n  {}",
                s.flat(),
                common::differences(&want, &got).join("\n  ")
            )),
            (Expected::Same(_), Err(e)) => failures.push(format!("{}: {e}", s.flat())),
            (Expected::Refused(want), got) => failures.push(format!(
                "{}: expected the refusal\n  {want}\ngot\n  {got:?}",
                s.flat()
            )),
        }
    }
    eprintln!("corpus: {same} identical to Aurora's loader, {refused} refused as documented");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
