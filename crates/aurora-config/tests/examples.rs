//! Data-driven: every `examples/NAME.aurora` (copied from Aurora users' examples) must evaluate to exactly `NAME.json`, the JSON that
//! Aurora's own client prints for `aurora job inspect --write-json` (key order free; `15` and
//! `15.0` differ, as they do in the schema's types). The typed model must round-trip it too.

use aurora_config::Config;
use aurora_model::JobPath;
use std::path::Path;

#[test]
fn every_example_matches_aurora() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for aurora in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "aurora"))
    {
        let expected_path = aurora.with_extension("json");
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            continue;
        };
        let expected: serde_json::Value = serde_json::from_str(&expected).unwrap();
        let key: JobPath = format!(
            "{}/{}/{}/{}",
            expected["cluster"].as_str().unwrap(),
            expected["role"].as_str().unwrap(),
            expected["environment"].as_str().unwrap(),
            expected["name"].as_str().unwrap()
        )
        .parse()
        .unwrap();
        let config = Config::load(aurora).unwrap_or_else(|e| panic!("{}: {e}", aurora.display()));
        let job = config
            .resolve(&key, &[])
            .unwrap_or_else(|e| panic!("{}: {e}", aurora.display()));
        assert_eq!(
            job.json,
            expected,
            "{}: got\n{}",
            aurora.display(),
            serde_json::to_string_pretty(&job.json).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&job.job).unwrap(),
            expected,
            "{}: typed model round trip",
            aurora.display()
        );
        assert!(
            job.unbound.is_empty(),
            "{}: {:?}",
            aurora.display(),
            job.unbound
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} examples found in {}",
        dir.display()
    );
}
