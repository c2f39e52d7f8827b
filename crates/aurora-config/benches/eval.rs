//! How long a `.aurora` file takes from source text to the job's JSON: the cost every `aurora`
//! command pays before it talks to a scheduler. Target: well under 5 ms for hello_world.aurora.

use aurora_config::{Config, MemoryLoader};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn bench_eval(c: &mut Criterion) {
    for (name, key) in [
        ("hello_world", "devcluster/www-data/prod/hello"),
        ("web_service", "devcluster/www-data/staging/web"),
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let source =
            std::fs::read_to_string(dir.join(format!("{name}.aurora"))).expect("example exists");
        let mut loader = MemoryLoader::default();
        let path = PathBuf::from(format!("{name}.aurora"));
        loader.files.insert(path.clone(), source);
        let key = key.parse().expect("valid key");
        c.bench_function(&format!("eval {name}.aurora to JSON"), |b| {
            b.iter(|| {
                let config = Config::load_with(&path, &loader).expect("evaluates");
                let job = config.resolve(&key, &[]).expect("resolves");
                black_box(serde_json::to_string(&job.json).expect("serialises"))
            })
        });
    }
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);
