//! Placement throughput with 10,000 simulated agents: the target is 50,000 placements/s on 2
//! cores. Each iteration places one task and books its resources on the chosen agent, as the
//! scheduler does, so the cluster fills up as the benchmark runs.

use aurora_sched::placement::{AgentView, Demand, place};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

fn agents(n: usize) -> Vec<AgentView> {
    (0..n)
        .map(|i| AgentView {
            id: format!("agent-{i}"),
            hostname: format!("host-{i}"),
            cpu: 16.0,
            ram_mb: 64 * 1024,
            disk_mb: 512 * 1024,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (31000, 32000),
            used_ports: BTreeSet::new(),
            unavailable: i % 100 == 0,
            attributes: BTreeMap::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let demand = Demand {
        cpu: 0.25,
        ram_mb: 256,
        disk_mb: 256,
        ports: vec!["http".into()],
    };
    let mut group = c.benchmark_group("placement");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one task among 10,000 agents", |b| {
        let mut cluster = agents(10_000);
        let mut round = 0usize;
        b.iter(|| {
            round += 1;
            match place(
                black_box(&demand),
                &cluster,
                &|_| 0,
                round.wrapping_mul(7919),
            ) {
                Ok(p) => {
                    let a = &mut cluster[p.agent];
                    a.used_cpu += demand.cpu;
                    a.used_ram_mb += demand.ram_mb;
                    a.used_disk_mb += demand.disk_mb;
                    a.used_ports.extend(p.ports.values());
                }
                // Full: start over, so every iteration measures a placement on a busy cluster.
                Err(_) => cluster = agents(10_000),
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
