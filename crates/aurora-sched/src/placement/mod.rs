//! Placement: a pipeline of feasibility filters, then a ranking, over the agents' free resources.
//!
//! The filters run cheapest first, and each names why it rejects an agent, so that a task that fits
//! nowhere stays PENDING with the reason seen most ("Insufficient ram"). Candidate scanning stops
//! after a bounded number of feasible agents (as Nomad does), so placement cost does not grow with
//! the cluster.

mod filters;
mod rank;

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

/// Places one task. `spread[i]` is how many active instances of the task's job agent `i` runs.
/// `start` rotates the scan so that successive placements do not all probe the same agents.
pub fn place(
    demand: &Demand,
    agents: &[AgentView],
    spread: &dyn Fn(usize) -> u32,
    start: usize,
) -> Result<Placement, Pending> {
    let mut vetoes: BTreeMap<Veto, usize> = BTreeMap::new();
    let mut candidates: Vec<usize> = Vec::with_capacity(MAX_CANDIDATES);
    let n = agents.len();
    for k in 0..n {
        let i = (start + k) % n;
        match filters::check(demand, &agents[i]) {
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
        }
    }

    #[test]
    fn places_where_it_fits_with_distinct_ports() {
        let mut a = agent("a", 1.0, 100);
        a.used_ports.insert(31000);
        let agents = vec![agent("small", 0.5, 100), a];
        let p = place(
            &demand(1.0, 64, &["http", "admin", "http"]),
            &agents,
            &|_| 0,
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
        let e = place(&demand(1.0, 1000, &[]), &agents, &|_| 0, 0).unwrap_err();
        assert_eq!(e.reason, "Insufficient ram");
        assert_eq!(
            place(&demand(1.0, 1, &[]), &[], &|_| 0, 0)
                .unwrap_err()
                .reason,
            "No agents registered"
        );
        let mut busy = agent("p", 4.0, 100);
        busy.port_range = (1, 1);
        busy.used_ports.insert(1);
        assert_eq!(
            place(&demand(1.0, 1, &["http"]), &[busy], &|_| 0, 0)
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
            &|i| if i == 0 { 3 } else { 0 },
            0,
        )
        .unwrap();
        assert_eq!(p.agent, 1);
    }

    #[test]
    fn unavailable_agents_take_nothing() {
        let mut a = agent("a", 4.0, 1000);
        a.unavailable = true;
        assert!(place(&demand(1.0, 10, &[]), &[a], &|_| 0, 0).is_err());
    }
}
