//! The map enforced: the workspace's dependencies point the way `docs/architecture.md` says,
//! every Rust file starts with a `//!` header, and no source file is over 1,000 lines. Each
//! check also runs on a made-up violation, to show that it would catch one.

use aurora_testkit::tidy::{
    Dep, DepKind, Graph, Layer, check_layers, missing_headers, over_long, parse_map,
    parse_metadata, read_all, rust_files,
};
use aurora_testkit::workspace_root;
use std::path::PathBuf;

/// The longest a source file under `crates/*/src` may be.
const MAX_LINES: usize = 1000;

fn architecture() -> String {
    std::fs::read_to_string(workspace_root().join("docs/architecture.md"))
        .expect("docs/architecture.md is readable")
}

fn workspace_graph() -> Graph {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    parse_metadata(&metadata).expect("cargo metadata has packages and dependencies")
}

#[test]
fn dependencies_point_the_way_the_architecture_says() {
    let map = parse_map(&architecture()).expect("the Crates table parses");
    let graph = workspace_graph();
    assert!(graph.crates.len() >= 11, "{:?}", graph.crates);
    let wrong = check_layers(&map, &graph);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_rust_file_starts_with_a_header() {
    let root = workspace_root();
    let mut files = rust_files(&root.join("crates"));
    files.extend(rust_files(&root.join("fuzz")));
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing = missing_headers(&read_all(&files));
    assert!(missing.is_empty(), "no `//!` header: {missing:#?}");
}

#[test]
fn no_source_file_is_over_a_thousand_lines() {
    let crates = workspace_root().join("crates");
    let files: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("crates/ is readable")
        .flatten()
        .flat_map(|c| rust_files(&c.path().join("src")))
        .collect();
    assert!(!files.is_empty());
    let long = over_long(&read_all(&files), MAX_LINES);
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:#?}");
}

/// A map in the doc's shape: the table and the exceptions under it.
const DOC: &str = "\
# Architecture
## Crates (workspace under `crates/`)
| layer | crate | owns | invariant |
| --- | --- | --- | --- |
| 3 | `aurora-scheduler` (lib+bin) | the scheduler | x |
| 3 | `aurora-agent` (lib+bin) | the agent | x |
| 2 | `aurora-client` | the client | x |
| 1 | `aurora-store` | durability | x |
| 1 | `aurora-sched` | decisions | x |
| 0 | `aurora-model` | the domain | x |
| dev | `aurora-testkit` | tests | x |

Allowed against the direction:
- `aurora-scheduler` → `aurora-agent`: the embedded agent.

### Inside
- `aurora-store` → `aurora-sched`: not in the Crates section, so not allowed.
";

fn dep(from: &str, to: &str, kind: DepKind) -> Dep {
    Dep {
        from: from.into(),
        to: to.into(),
        kind,
    }
}

fn graph(deps: Vec<Dep>) -> Graph {
    let crates = [
        "aurora-scheduler",
        "aurora-agent",
        "aurora-client",
        "aurora-store",
        "aurora-sched",
        "aurora-model",
        "aurora-testkit",
    ];
    Graph {
        crates: crates.map(String::from).into(),
        deps,
    }
}

/// What a correct workspace in the shape of [`DOC`] depends on.
fn good_deps() -> Vec<Dep> {
    vec![
        dep("aurora-scheduler", "aurora-store", DepKind::Normal),
        dep("aurora-scheduler", "aurora-agent", DepKind::Normal),
        dep("aurora-agent", "aurora-client", DepKind::Normal),
        dep("aurora-store", "aurora-model", DepKind::Normal),
        dep("aurora-scheduler", "aurora-testkit", DepKind::Dev),
        dep("aurora-testkit", "aurora-client", DepKind::Normal),
        dep("aurora-model", "aurora-store", DepKind::Dev),
    ]
}

#[test]
fn the_map_is_read_from_the_table_and_the_list_under_it() {
    let map = parse_map(DOC).unwrap();
    assert_eq!(map.layers.len(), 7);
    assert_eq!(map.layers["aurora-scheduler"], Layer::Level(3));
    assert_eq!(map.layers["aurora-model"], Layer::Level(0));
    assert_eq!(map.layers["aurora-testkit"], Layer::Dev);
    let exceptions: Vec<_> = map.exceptions.iter().cloned().collect();
    assert_eq!(
        exceptions,
        [("aurora-scheduler".to_owned(), "aurora-agent".to_owned())]
    );
    assert!(parse_map("# nothing here\n").is_err());
    assert!(
        parse_map("## Crates\n| x | `a` | b |\n").is_err(),
        "a bad layer"
    );
}

#[test]
fn the_layer_check_passes_a_good_graph_and_reports_each_wrong_edge() {
    let map = parse_map(DOC).unwrap();
    assert_eq!(
        check_layers(&map, &graph(good_deps())),
        Vec::<String>::new()
    );

    let mut deps = good_deps();
    deps.push(dep("aurora-store", "aurora-sched", DepKind::Normal)); // library → library
    deps.push(dep("aurora-model", "aurora-client", DepKind::Normal)); // upwards
    deps.push(dep("aurora-agent", "aurora-scheduler", DepKind::Normal)); // sideways, not excepted
    deps.push(dep("aurora-client", "aurora-testkit", DepKind::Normal)); // test support linked in
    deps.push(dep("aurora-sched", "aurora-testkit", DepKind::Build));
    let wrong = check_layers(&map, &graph(deps));
    assert_eq!(wrong.len(), 5, "{wrong:#?}");
    assert!(wrong[0].starts_with("aurora-store (layer 1) depends on aurora-sched (layer 1)"));
    assert!(wrong[1].starts_with("aurora-model (layer 0) depends on aurora-client (layer 2)"));
    assert!(wrong[2].starts_with("aurora-agent (layer 3) depends on aurora-scheduler (layer 3)"));
    assert!(wrong[3].starts_with("aurora-client depends on the test crate aurora-testkit"));
    assert!(wrong[4].starts_with("aurora-sched depends on the test crate aurora-testkit"));
}

#[test]
fn the_layer_check_reports_an_unmapped_crate_and_a_stale_exception() {
    let map = parse_map(DOC).unwrap();
    let mut g = graph(
        good_deps()
            .into_iter()
            .filter(|d| d.to != "aurora-agent")
            .collect(),
    );
    g.crates.push("aurora-new".into());
    let wrong = check_layers(&map, &g);
    assert_eq!(
        wrong,
        [
            "aurora-new is not in the Crates table of docs/architecture.md",
            "docs/architecture.md allows aurora-scheduler → aurora-agent, which no longer exists: remove it",
        ]
    );
}

#[test]
fn metadata_gives_the_edges_between_workspace_crates_only() {
    let metadata = serde_json::json!({ "packages": [
        { "name": "aurora-store", "dependencies": [
            { "name": "aurora-model", "kind": null },
            { "name": "rusqlite", "kind": null },
            { "name": "aurora-testkit", "kind": "dev" },
        ] },
        { "name": "aurora-model", "dependencies": [] },
        { "name": "aurora-testkit", "dependencies": [] },
    ] });
    let g = parse_metadata(&metadata).unwrap();
    assert_eq!(g.crates, ["aurora-store", "aurora-model", "aurora-testkit"]);
    assert_eq!(
        g.deps,
        [
            dep("aurora-store", "aurora-model", DepKind::Normal),
            dep("aurora-store", "aurora-testkit", DepKind::Dev),
        ]
    );
    assert!(parse_metadata(&serde_json::json!({})).is_err());
}

#[test]
fn a_file_without_a_header_and_an_over_long_file_are_reported() {
    let files = vec![
        (
            PathBuf::from("good.rs"),
            "//! What lives here.\nfn f() {}\n".to_owned(),
        ),
        (PathBuf::from("bare.rs"), "fn f() {}\n".to_owned()),
        (
            PathBuf::from("late.rs"),
            "\n//! Not on the first line.\n".to_owned(),
        ),
        (PathBuf::from("empty.rs"), String::new()),
        (
            PathBuf::from("long.rs"),
            format!("//! Long.\n{}", "x\n".repeat(MAX_LINES)),
        ),
    ];
    assert_eq!(
        missing_headers(&files),
        [
            PathBuf::from("bare.rs"),
            PathBuf::from("late.rs"),
            PathBuf::from("empty.rs")
        ]
    );
    assert_eq!(
        over_long(&files, MAX_LINES),
        [(PathBuf::from("long.rs"), MAX_LINES + 1)]
    );
    assert!(over_long(&files[..4], MAX_LINES).is_empty());
}

#[test]
fn rust_files_skips_target_and_hidden_directories() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "src/a.rs",
        "src/deep/b.rs",
        "target/debug/c.rs",
        ".git/d.rs",
        "src/e.txt",
    ] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }
    let found = rust_files(dir.path());
    assert_eq!(
        found,
        [
            dir.path().join("src/a.rs"),
            dir.path().join("src/deep/b.rs")
        ]
    );
}
