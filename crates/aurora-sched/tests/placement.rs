//! Placement fixtures (`tests/data/placement`): a demand with Aurora's constraints, the agents as
//! placement sees them, and where the job already runs, in; the agent chosen with its ports, the
//! PENDING reason, or why the constraints are refused, out.

mod common;

use aurora_sched::placement::{AgentView, Demand, Presence, constraints, place};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    /// The job's role (dedicated constraints name it).
    #[serde(default = "default_role")]
    role: String,
    demand: DemandIn,
    agents: Vec<AgentIn>,
    /// Active instances of the job per agent hostname; limit constraints count them per
    /// attribute value over the agents.
    #[serde(default)]
    presence: BTreeMap<String, u32>,
    /// Where the scan starts (the scheduler rotates it between placements).
    #[serde(default)]
    start: usize,
}

fn default_role() -> String {
    "www-data".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandIn {
    cpu: f64,
    ram_mb: u64,
    disk_mb: u64,
    #[serde(default)]
    ports: Vec<String>,
    /// As a job writes them: `{"host": "limit:1", "rack": "!r1"}`.
    #[serde(default)]
    constraints: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentIn {
    hostname: String,
    cpu: f64,
    ram_mb: u64,
    disk_mb: u64,
    #[serde(default)]
    used: Used,
    #[serde(default = "default_port_range")]
    port_range: (u16, u16),
    #[serde(default)]
    used_ports: BTreeSet<u16>,
    #[serde(default)]
    unavailable: bool,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Used {
    #[serde(default)]
    cpu: f64,
    #[serde(default)]
    ram_mb: u64,
    #[serde(default)]
    disk_mb: u64,
}

/// The agent's default (`--port-range 31000-32000`).
fn default_port_range() -> (u16, u16) {
    (31000, 32000)
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Placed {
        hostname: String,
        ports: BTreeMap<String, u16>,
    },
    Pending(String),
    /// The constraints are refused at submission.
    Refused(String),
}

fn decide(case: Case) -> Outcome {
    let constraints = match constraints::parse(&case.role, &case.demand.constraints) {
        Ok(c) => c,
        Err(e) => return Outcome::Refused(e),
    };
    let demand = Demand {
        cpu: case.demand.cpu,
        ram_mb: case.demand.ram_mb,
        disk_mb: case.demand.disk_mb,
        ports: case.demand.ports,
        constraints: constraints.into(),
    };
    let agents: Vec<AgentView> = case
        .agents
        .into_iter()
        .map(|a| AgentView {
            id: a.hostname.clone(),
            hostname: a.hostname,
            cpu: a.cpu,
            ram_mb: a.ram_mb,
            disk_mb: a.disk_mb,
            used_cpu: a.used.cpu,
            used_ram_mb: a.used.ram_mb,
            used_disk_mb: a.used.disk_mb,
            port_range: a.port_range,
            used_ports: a.used_ports,
            unavailable: a.unavailable,
            attributes: a.attributes,
        })
        .collect();
    for name in case.presence.keys() {
        assert!(
            agents.iter().any(|a| &a.hostname == name),
            "presence names {name}, which is not an agent"
        );
    }
    let on = |i: usize| case.presence.get(&agents[i].hostname).copied().unwrap_or(0);
    let with_value = |attribute: &str, value: &str| {
        (0..agents.len())
            .filter(|&i| constraints::attribute(&agents[i], attribute) == Some(value))
            .map(on)
            .sum()
    };
    let presence = Presence {
        on_agent: &on,
        with_value: &with_value,
    };
    match place(&demand, &agents, &presence, case.start) {
        Ok(p) => Outcome::Placed {
            hostname: agents[p.agent].hostname.clone(),
            ports: p.ports,
        },
        Err(pending) => Outcome::Pending(pending.reason),
    }
}

#[test]
fn placement_fixtures() {
    common::run("placement", decide);
}
