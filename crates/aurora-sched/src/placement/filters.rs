//! Feasibility filters: can this agent run this task at all? Each returns the veto users see as a
//! PENDING reason. Ordered cheapest first.

use super::{AgentView, Demand};
use std::fmt;

/// Why an agent cannot take a task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Veto {
    /// Draining, in maintenance, or lost.
    Unavailable,
    InsufficientCpu,
    InsufficientRam,
    InsufficientDisk,
    /// The agent cannot hand out another port.
    NoPort(String),
    /// A job constraint on this attribute is not met (or the agent is dedicated to other jobs).
    Constraint(String),
}

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Veto::Unavailable => f.write_str("Host is draining or unavailable"),
            Veto::InsufficientCpu => f.write_str("Insufficient cpu"),
            Veto::InsufficientRam => f.write_str("Insufficient ram"),
            Veto::InsufficientDisk => f.write_str("Insufficient disk"),
            Veto::NoPort(p) => write!(f, "No agent offers port {p}"),
            Veto::Constraint(a) => write!(f, "Constraint not satisfied: {a}"),
        }
    }
}

/// Runs every filter; the first veto wins. `count` is the job's active instances per attribute
/// value (for limit constraints).
pub fn check(d: &Demand, a: &AgentView, count: &dyn Fn(&str, &str) -> u32) -> Result<(), Veto> {
    if a.unavailable {
        return Err(Veto::Unavailable);
    }
    super::constraints::check(&d.constraints, a, count)
        .map_err(|attr| Veto::Constraint(attr.to_owned()))?;
    // A small epsilon keeps 0.1 + 0.2 from refusing a task that fits exactly.
    if a.used_cpu + d.cpu > a.cpu + 1e-9 {
        return Err(Veto::InsufficientCpu);
    }
    if a.used_ram_mb + d.ram_mb > a.ram_mb {
        return Err(Veto::InsufficientRam);
    }
    if a.used_disk_mb + d.disk_mb > a.disk_mb {
        return Err(Veto::InsufficientDisk);
    }
    let distinct = {
        let mut names: Vec<&String> = d.ports.iter().collect();
        names.sort();
        names.dedup();
        names
    };
    if distinct.len() > a.free_ports() {
        return Err(Veto::NoPort(
            distinct.last().map(|s| s.to_string()).unwrap_or_default(),
        ));
    }
    Ok(())
}
