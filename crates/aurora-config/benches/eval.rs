//! How long a `.aurora` file takes from source text to its jobs' JSON: the cost every `aurora`
//! command pays before it talks to a scheduler. Target: well under 5 ms for hello_world.aurora.
//!
//! Measures two examples, the largest data case (`tests/data/python2_builtins.aurora`: most of the
//! Python 2 glue), and, when `AURORA_CONFIG_CORPUS` names a materialized corpus
//! (`tests/corpus/README.md`), its largest file that evaluates: Aurora's `http_example.aurora`.

use aurora_config::{Config, MemoryLoader};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn bench_file(c: &mut Criterion, label: &str, file: &Path) {
    let source = std::fs::read_to_string(file).expect("the file exists");
    let mut loader = MemoryLoader {
        user: Some("www-data".into()),
        ..MemoryLoader::default()
    };
    let path = PathBuf::from("bench.aurora");
    loader.files.insert(path.clone(), source);
    c.bench_function(&format!("eval {label} to JSON"), |b| {
        b.iter(|| {
            let config = Config::load_with(&path, &loader).expect("evaluates");
            let jobs = config.resolve_all(&[]).expect("resolves");
            for job in jobs {
                black_box(serde_json::to_string(&job.json).expect("serialises"));
            }
        })
    });
}

fn bench_eval(c: &mut Criterion) {
    let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["hello_world", "web_service"] {
        let file = krate.join(format!("../../examples/{name}.aurora"));
        bench_file(c, &format!("{name}.aurora"), &file);
    }
    let data = krate.join("tests/data/python2_builtins.aurora");
    bench_file(c, "python2_builtins.aurora", &data);
    if let Some(corpus) = std::env::var_os("AURORA_CONFIG_CORPUS") {
        let file = Path::new(&corpus)
            .join("apache+aurora/src/test/sh/org/apache/aurora/e2e/http/http_example.aurora");
        bench_file(c, "corpus http_example.aurora (9 jobs)", &file);
    }
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);
