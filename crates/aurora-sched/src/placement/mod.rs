//! Placement: a pipeline of feasibility filters, then a ranking, over the agents' free resources.
//!
//! The filters run cheapest first, and each names why it rejects an agent, so that a task that fits
//! nowhere stays PENDING with the reason seen most ("Insufficient ram"). Candidate scanning stops
//! after a bounded number of feasible agents (as Nomad does), so placement cost does not grow with
//! the cluster.

pub mod constraints;
mod filters;
mod rank;

pub use constraints::Constraint;
pub use filters::Veto;

use std::collections::{BTreeMap, BTreeSet};

/// What a task asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub cpu: f64,
    pub ram_mb: u64,
    pub disk_mb: u64,
    /// Named ports the task needs (`{{thermos.ports[http]}}`).
    pub ports: Vec<String>,
    /// The job's constraints (`constraints::parse`), shared by its tasks.
    pub constraints: std::sync::Arc<[Constraint]>,
}

/// An agent as placement sees it: capacity, what is in use, and how many instances of the job
/// being placed already run there (for spreading).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub id: String,
    pub hostname: String,
    pub cpu: f64,
    pub ram_mb: u64,
    pub disk_mb: u64,
    pub used_cpu: f64,
    pub used_ram_mb: u64,
    pub used_disk_mb: u64,
    /// Inclusive port range the agent allocates from.
    pub port_range: (u16, u16),
    pub used_ports: BTreeSet<u16>,
    /// The agent takes no new tasks (draining, lost).
    pub unavailable: bool,
    pub attributes: BTreeMap<String, String>,
}

impl AgentView {
    fn free_ports(&self) -> usize {
        let (lo, hi) = self.port_range;
        (hi as usize + 1)
            .saturating_sub(lo as usize)
            .saturating_sub(self.used_ports.len())
    }
}

/// Where a task goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index into the agents slice.
    pub agent: usize,
    /// The ports chosen for the task's port names.
    pub ports: BTreeMap<String, u16>,
}

/// Why a task could not be placed: the veto most agents gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub reason: String,
}

/// How many feasible agents are ranked before choosing: enough to spread and pack well, few enough
/// that a placement costs the same on ten agents or ten thousand.
pub const MAX_CANDIDATES: usize = 8;

/// Where the job being placed already runs.
pub struct Presence<'a> {
    /// How many active instances of the job agent `i` runs (for spreading).
    pub on_agent: &'a dyn Fn(usize) -> u32,
    /// How many active instances of the job run on agents whose attribute has a value (for limit
    /// constraints).
    pub with_value: &'a dyn Fn(&str, &str) -> u32,
}

/// Places one task. `start` rotates the scan so that successive placements do not all probe the
/// same agents.
pub fn place(
    demand: &Demand,
    agents: &[AgentView],
    presence: &Presence,
    start: usize,
) -> Result<Placement, Pending> {
    let spread = presence.on_agent;
    let mut vetoes: BTreeMap<Veto, usize> = BTreeMap::new();
    let mut candidates: Vec<usize> = Vec::with_capacity(MAX_CANDIDATES);
    let n = agents.len();
    for k in 0..n {
        let i = (start + k) % n;
        match filters::check(demand, &agents[i], presence.with_value) {
            Ok(()) => {
                candidates.push(i);
                if candidates.len() == MAX_CANDIDATES {
                    break;
                }
            }
            Err(v) => *vetoes.entry(v).or_default() += 1,
        }
    }
    let Some(best) = rank::best(demand, agents, &candidates, spread) else {
        let reason = vetoes
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(v, _)| v.to_string())
            .unwrap_or_else(|| "No agents registered".to_owned());
        return Err(Pending { reason });
    };
    let agent = &agents[best];
    let mut ports = BTreeMap::new();
    let mut next = agent.port_range.0;
    for name in &demand.ports {
        if ports.contains_key(name) {
            continue;
        }
        while agent.used_ports.contains(&next) || ports.values().any(|p| *p == next) {
            next += 1;
        }
        ports.insert(name.clone(), next);
        next = next.saturating_add(1);
    }
    Ok(Placement { agent: best, ports })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, cpu: f64, ram: u64) -> AgentView {
        AgentView {
            id: id.into(),
            hostname: id.into(),
            cpu,
            ram_mb: ram,
            disk_mb: 10_000,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (31000, 31009),
            used_ports: BTreeSet::new(),
            unavailable: false,
            attributes: BTreeMap::new(),
        }
    }

    fn demand(cpu: f64, ram: u64, ports: &[&str]) -> Demand {
        Demand {
            cpu,
            ram_mb: ram,
            disk_mb: 10,
            ports: ports.iter().map(|p| p.to_string()).collect(),
            constraints: Vec::new().into(),
        }
    }

    /// Nothing of the job runs anywhere.
    const NOWHERE: Presence<'static> = Presence {
        on_agent: &|_| 0,
        with_value: &|_, _| 0,
    };

    #[test]
    fn places_where_it_fits_with_distinct_ports() {
        let mut a = agent("a", 1.0, 100);
        a.used_ports.insert(31000);
        let agents = vec![agent("small", 0.5, 100), a];
        let p = place(
            &demand(1.0, 64, &["http", "admin", "http"]),
            &agents,
            &NOWHERE,
            0,
        )
        .unwrap();
        assert_eq!(p.agent, 1);
        assert_eq!(p.ports.len(), 2);
        assert!(p.ports.values().all(|p| *p != 31000));
        assert_ne!(p.ports["http"], p.ports["admin"]);
    }

    #[test]
    fn names_the_most_common_reason() {
        let agents = vec![
            agent("a", 4.0, 100),
            agent("b", 4.0, 100),
            agent("c", 0.1, 10_000),
        ];
        let e = place(&demand(1.0, 1000, &[]), &agents, &NOWHERE, 0).unwrap_err();
        assert_eq!(e.reason, "Insufficient ram");
        assert_eq!(
            place(&demand(1.0, 1, &[]), &[], &NOWHERE, 0)
                .unwrap_err()
                .reason,
            "No agents registered"
        );
        let mut busy = agent("p", 4.0, 100);
        busy.port_range = (1, 1);
        busy.used_ports.insert(1);
        assert_eq!(
            place(&demand(1.0, 1, &["http"]), &[busy], &NOWHERE, 0)
                .unwrap_err()
                .reason,
            "No agent offers port http"
        );
    }

    #[test]
    fn spreads_instances_of_a_job() {
        let agents = vec![agent("a", 4.0, 1000), agent("b", 4.0, 1000)];
        let p = place(
            &demand(1.0, 10, &[]),
            &agents,
            &Presence {
                on_agent: &|i| if i == 0 { 3 } else { 0 },
                with_value: &|_, _| 0,
            },
            0,
        )
        .unwrap();
        assert_eq!(p.agent, 1);
    }

    #[test]
    fn unavailable_agents_take_nothing() {
        let mut a = agent("a", 4.0, 1000);
        a.unavailable = true;
        assert!(place(&demand(1.0, 10, &[]), &[a], &NOWHERE, 0).is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use std::collections::HashMap;

        fn cluster(specs: &[(u8, u16, u8)]) -> Vec<AgentView> {
            specs
                .iter()
                .enumerate()
                .map(|(i, (cpu, ram, rack))| AgentView {
                    id: format!("a{i}"),
                    hostname: format!("h{}", i % 7), // some agents share a host name
                    cpu: f64::from(*cpu) / 4.0,
                    ram_mb: u64::from(*ram),
                    disk_mb: 1000,
                    used_cpu: 0.0,
                    used_ram_mb: 0,
                    used_disk_mb: 0,
                    port_range: (31000, 31003),
                    used_ports: BTreeSet::new(),
                    unavailable: false,
                    attributes: [("rack".to_owned(), format!("r{}", rack % 4))].into(),
                })
                .collect()
        }

        proptest! {
            /// Whatever the cluster and the tasks, placing them one after the other never
            /// oversubscribes an agent, never hands out a port twice, and never exceeds a limit.
            #[test]
            fn placements_respect_resources_and_limits(
                specs in prop::collection::vec((1u8..16, 64u16..2048, 0u8..8), 1..12),
                tasks in prop::collection::vec((0usize..4, 1u8..8, 16u16..512, 0u8..3, 1u32..3), 1..60),
            ) {
                let mut agents = cluster(&specs);
                // (job, attribute, value) → active instances.
                let mut counts: HashMap<(usize, String, String), u32> = HashMap::new();
                let mut on: HashMap<(usize, usize), u32> = HashMap::new();
                for (n, (job, cpu, ram, kind, limit)) in tasks.into_iter().enumerate() {
                    let map: BTreeMap<String, String> = match kind {
                        0 => [("host".to_owned(), format!("limit:{limit}"))].into(),
                        1 => [("rack".to_owned(), format!("limit:{limit}"))].into(),
                        _ => BTreeMap::new(),
                    };
                    let demand = Demand {
                        cpu: f64::from(cpu) / 4.0,
                        ram_mb: u64::from(ram),
                        disk_mb: 10,
                        ports: vec!["http".into()],
                        constraints: constraints::parse("r", &map).unwrap().into(),
                    };
                    let result = place(&demand, &agents, &Presence {
                        on_agent: &|i| on.get(&(job, i)).copied().unwrap_or(0),
                        with_value: &|a, v| counts.get(&(job, a.to_owned(), v.to_owned())).copied().unwrap_or(0),
                    }, n);
                    let Ok(p) = result else { continue };
                    let a = &mut agents[p.agent];
                    a.used_cpu += demand.cpu;
                    a.used_ram_mb += demand.ram_mb;
                    a.used_disk_mb += demand.disk_mb;
                    for port in p.ports.values() {
                        prop_assert!(a.used_ports.insert(*port), "port {} handed out twice", port);
                        prop_assert!((a.port_range.0..=a.port_range.1).contains(port));
                    }
                    prop_assert!(a.used_cpu <= a.cpu + 1e-9);
                    prop_assert!(a.used_ram_mb <= a.ram_mb);
                    prop_assert!(a.used_disk_mb <= a.disk_mb);
                    *on.entry((job, p.agent)).or_default() += 1;
                    for attr in ["host", "rack"] {
                        let v = constraints::attribute(a, attr).unwrap().to_owned();
                        *counts.entry((job, attr.to_owned(), v)).or_default() += 1;
                    }
                    for c in demand.constraints.iter() {
                        if let Constraint::Limit { attribute, limit } = c {
                            let v = constraints::attribute(a, attribute).unwrap().to_owned();
                            prop_assert!(counts[&(job, attribute.clone(), v)] <= *limit);
                        }
                    }
                }
            }
        }
    }
}
