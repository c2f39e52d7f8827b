//! The agent table: every agent the scheduler knows (its placement view, where it serves files,
//! whether it is connected or lost) and the hosts in maintenance, by hostname. An agent on a host
//! in maintenance is unavailable for placement; the table keeps that in step both ways (an agent
//! registering on a draining host, a host drained or activated with agents on it).
//!
//! What runs on an agent is the task table's (`state::tasks`); liveness decisions and draining
//! tasks are `state::hosts`'.

use aurora_sched::placement::AgentView;
use std::collections::{BTreeMap, BTreeSet};

/// An agent the scheduler knows.
#[derive(Debug, Clone)]
pub struct AgentEntry {
    pub view: AgentView,
    /// Where the agent serves logs and sandbox files.
    pub endpoint: String,
    pub connected: bool,
    /// When the agent last registered or reported (heartbeats included).
    pub last_seen_ms: i64,
    /// It stopped reporting for longer than the timeout: its tasks were declared LOST.
    pub lost: bool,
    /// How it limits its tasks (`cgroup-v1`...), as it said when registering.
    pub isolation: String,
}

/// The agents, by id, and the hosts in maintenance.
#[derive(Debug, Default)]
pub struct Agents {
    by_id: BTreeMap<String, AgentEntry>,
    /// Hosts in maintenance (draining, or drained once nothing runs there), by hostname.
    maintenance: BTreeSet<String>,
    /// Bumped by every change to an agent's placement view or connection (not by its liveness
    /// reports): a placement round's copy of the views is good while this has not moved.
    version: u64,
}

impl Agents {
    pub fn get(&self, id: &str) -> Option<&AgentEntry> {
        self.by_id.get(id)
    }

    /// An agent, to change its connection or what it said of itself. Its availability follows
    /// maintenance: change it through [`Agents::drain`] and [`Agents::activate`]; its liveness
    /// through [`Agents::seen`].
    pub fn get_mut(&mut self, id: &str) -> Option<&mut AgentEntry> {
        self.version += 1;
        self.by_id.get_mut(id)
    }

    /// The agent reported at `now_ms` (changes no view: placement rounds keep theirs).
    pub fn seen(&mut self, id: &str, now_ms: i64) {
        if let Some(a) = self.by_id.get_mut(id) {
            a.last_seen_ms = a.last_seen_ms.max(now_ms);
        }
    }

    /// Changes whenever a view or a connection changes ([`Agents::connected`] and the views).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every agent, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &AgentEntry)> {
        self.by_id.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &AgentEntry> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Records an agent that (re-)registered: connected, seen now, unavailable if its host is in
    /// maintenance. What it said of its isolation is set by the caller.
    pub fn register(&mut self, view: AgentView, endpoint: String, now_ms: i64) {
        self.version += 1;
        let mut view = view;
        view.unavailable = self.maintenance.contains(&view.hostname);
        self.by_id.insert(
            view.id.clone(),
            AgentEntry {
                view,
                endpoint,
                connected: true,
                last_seen_ms: now_ms,
                lost: false,
                isolation: String::new(),
            },
        );
    }

    /// The connected agents' ids, sorted: the candidates of a placement round.
    pub fn connected(&self) -> Vec<String> {
        self.by_id
            .iter()
            .filter(|(_, a)| a.connected)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The ids of the agents on a host.
    pub fn on_host(&self, host: &str) -> Vec<String> {
        self.by_id
            .iter()
            .filter(|(_, a)| a.view.hostname == host)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Declares an agent lost: no new tasks until it registers again.
    pub fn mark_lost(&mut self, id: &str) -> Option<&AgentEntry> {
        self.version += 1;
        let a = self.by_id.get_mut(id)?;
        a.lost = true;
        a.connected = false;
        a.view.unavailable = true;
        Some(a)
    }

    /// Sets what an agent's tasks use, as placement sees it.
    pub fn set_usage(
        &mut self,
        id: &str,
        cpu: f64,
        ram_mb: u64,
        disk_mb: u64,
        ports: BTreeSet<u16>,
    ) {
        self.version += 1;
        if let Some(a) = self.by_id.get_mut(id) {
            a.view.used_cpu = cpu;
            a.view.used_ram_mb = ram_mb;
            a.view.used_disk_mb = disk_mb;
            a.view.used_ports = ports;
        }
    }

    /// Puts a host in maintenance: its agents take no new tasks. Says whether it was not yet.
    pub fn drain(&mut self, host: &str) -> bool {
        self.version += 1;
        for a in self.by_id.values_mut() {
            if a.view.hostname == host {
                a.view.unavailable = true;
            }
        }
        self.maintenance.insert(host.to_owned())
    }

    /// Ends a host's maintenance: its agents (but lost ones) take tasks again. Says whether it was
    /// in maintenance.
    pub fn activate(&mut self, host: &str) -> bool {
        self.version += 1;
        for a in self.by_id.values_mut() {
            if a.view.hostname == host && !a.lost {
                a.view.unavailable = false;
            }
        }
        self.maintenance.remove(host)
    }

    /// Whether a host is in maintenance.
    pub fn in_maintenance(&self, host: &str) -> bool {
        self.maintenance.contains(host)
    }

    /// The hosts in maintenance.
    pub fn maintenance(&self) -> impl Iterator<Item = &String> {
        self.maintenance.iter()
    }

    /// Reinstates the hosts in maintenance a store held (before agents register).
    pub fn restore_maintenance(&mut self, hosts: impl IntoIterator<Item = String>) {
        for host in hosts {
            self.drain(&host);
        }
    }
}

impl std::ops::Index<&str> for Agents {
    type Output = AgentEntry;
    fn index(&self, id: &str) -> &AgentEntry {
        &self.by_id[id]
    }
}

impl std::ops::Index<&String> for Agents {
    type Output = AgentEntry;
    fn index(&self, id: &String) -> &AgentEntry {
        &self.by_id[id]
    }
}
