//! Placement throughput with 10,000 simulated agents: the target is 50,000 placements/s on 2
//! cores. Each placement books its resources on the chosen agent, as the scheduler does, so the
//! cluster fills up as the benchmark runs.
//!
//! - `one task among 10,000 agents`: one placement per iteration, no constraints.
//! - `100,000 pending tasks on 10,000 agents`: 1,000 jobs of 100 instances, a third with
//!   `'host': 'limit:1'`, a third with `'rack': 'r1,...'` (any of ten racks of fifty), all placed
//!   per iteration; reported per task.

use aurora_sched::placement::{AgentView, Demand, Presence, constraints, place};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::sync::Arc;

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
            attributes: [("rack".to_owned(), format!("r{}", i % 50))]
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let demand = Demand {
        cpu: 0.25,
        ram_mb: 256,
        disk_mb: 256,
        ports: vec!["http".into()],
        constraints: Vec::new().into(),
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
                &Presence {
                    on_agent: &|_| 0,
                    with_value: &|_, _| 0,
                },
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
    const JOBS: usize = 1_000;
    const INSTANCES: usize = 100;
    let demands: Vec<Demand> = (0..JOBS)
        .map(|j| {
            let map: BTreeMap<String, String> = match j % 3 {
                0 => [("host".to_owned(), "limit:1".to_owned())].into(),
                1 => [(
                    "rack".to_owned(),
                    (0..10)
                        .map(|r| format!("r{}", (j + r) % 50))
                        .collect::<Vec<_>>()
                        .join(","),
                )]
                .into(),
                _ => BTreeMap::new(),
            };
            Demand {
                cpu: 0.1,
                ram_mb: 128,
                disk_mb: 128,
                ports: vec!["http".into()],
                constraints: Arc::from(constraints::parse("www-data", &map).unwrap()),
            }
        })
        .collect();
    group.throughput(Throughput::Elements((JOBS * INSTANCES) as u64));
    group.sample_size(10);
    group.bench_function("100,000 pending tasks on 10,000 agents", |b| {
        let fresh = agents(10_000);
        b.iter(|| {
            let mut cluster = fresh.clone();
            // (job, agent) → instances there, and (job, host) for the limit constraint.
            let mut on: HashMap<(usize, usize), u32> = HashMap::new();
            let mut by_host: HashMap<(usize, String), u32> = HashMap::new();
            let mut placed = 0usize;
            for t in 0..JOBS * INSTANCES {
                let j = t % JOBS;
                let p = place(
                    &demands[j],
                    &cluster,
                    &Presence {
                        on_agent: &|i| on.get(&(j, i)).copied().unwrap_or(0),
                        with_value: &|_, v| by_host.get(&(j, v.to_owned())).copied().unwrap_or(0),
                    },
                    t.wrapping_mul(7919),
                );
                if let Ok(p) = p {
                    let a = &mut cluster[p.agent];
                    a.used_cpu += 0.1;
                    a.used_ram_mb += 128;
                    a.used_disk_mb += 128;
                    a.used_ports.extend(p.ports.values());
                    *on.entry((j, p.agent)).or_default() += 1;
                    *by_host.entry((j, a.hostname.clone())).or_default() += 1;
                    placed += 1;
                }
            }
            black_box(placed)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
