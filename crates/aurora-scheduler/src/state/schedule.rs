//! One placement round: every queued task whose time has come is matched to an agent by
//! `aurora_sched::placement` (THROTTLED ones first become PENDING), then recorded ASSIGNED with
//! its launch queued, or left PENDING with the reason and tried again a little later.
//!
//! A round places at most [`ROUND_MAX`] tasks, so that it holds the state briefly; the
//! scheduling loop runs the next at once while there are more.
//!
//! The round takes one view of the connected agents and updates it as tasks land, so a round
//! costs O(tasks × candidates), not O(tasks × agents) copies; the next round reuses it unless an
//! agent changed meanwhile ([`RoundViews`]).

use super::{Dirty, State, job_constraints};
use aurora_model::JobKey;
use aurora_model::task::ScheduleStatus;
use aurora_sched::placement::{self, AgentView, Demand};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a task that fits nowhere waits before placement is tried again.
pub const RETRY_PENDING_MS: i64 = 500;

/// A round's copy of the connected agents' placement views, kept for the next round while the
/// agents' version has not moved (with 10,000 agents, copying them all was most of a round).
#[derive(Debug, Default)]
pub struct RoundViews {
    version: u64,
    agents: Vec<String>,
    views: Vec<AgentView>,
}

/// The most tasks one round places: a round holds the state lock, and a create or a status
/// report waits for it, so a round is kept to a few milliseconds; the next follows at once.
pub const ROUND_MAX: usize = 512;

impl State {
    /// Whether tasks are due at `now_ms` (a round left some for the next).
    pub fn more_due(&self, now_ms: i64) -> bool {
        self.tasks.next_queued_ms().is_some_and(|t| t <= now_ms)
    }

    /// Places the first [`ROUND_MAX`] tasks whose time has come: THROTTLED ones become PENDING,
    /// PENDING ones go to an agent (ASSIGNED, launch queued) or keep a pending reason. Returns
    /// how many were assigned; [`State::more_due`] says whether a round left some for the next.
    pub fn schedule(&mut self, now_ms: i64, dirty: &mut Dirty) -> usize {
        let due = self.tasks.due(now_ms, ROUND_MAX);
        if due.is_empty() {
            return 0;
        }
        // The last round's views while no agent changed but by its own placements (which it
        // kept in step); else fresh ones.
        let (agents, mut views) = match self.round_views.take() {
            Some(v) if v.version == self.agents.version() => (v.agents, v.views),
            _ => {
                let agents = self.agents.connected();
                let views = agents.iter().map(|a| self.agents[a].view.clone()).collect();
                (agents, views)
            }
        };
        let mut assigned = 0;
        // Each job's constraints, parsed once per round.
        let mut constraints: HashMap<JobKey, Arc<[placement::Constraint]>> = HashMap::new();
        // Groups (job, configuration) that fit nowhere this round, with why.
        let mut unplaceable: HashMap<(JobKey, Option<String>), String> = HashMap::new();
        for (_, id) in due {
            if self
                .tasks
                .get(&id)
                .is_some_and(|t| t.status == ScheduleStatus::Throttled)
            {
                let expired = Some("Penalty expired".into());
                self.set_status(&id, ScheduleStatus::Pending, expired, now_ms, dirty);
            }
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            // Instances of a job running the same configuration ask for the same thing: once
            // one fits nowhere, the rest of the round does not search again (Aurora's task
            // groups). A round frees nothing, so the answer would be the same.
            let group = (t.job.clone(), t.config_digest.clone());
            if let Some(reason) = unplaceable.get(&group) {
                let reason = reason.clone();
                self.tasks.defer(&id, reason, now_ms + RETRY_PENDING_MS);
                continue;
            }
            let Some(demand) = self.demand(&id, &mut constraints) else {
                continue;
            };
            let job_key = group.0.clone();
            let spread = |i: usize| self.tasks.job_count_on_agent(&agents[i], &job_key);
            // Only jobs with limit constraints ask, so only they pay for the count.
            let with_value = |attribute: &str, value: &str| {
                self.active_tasks(&job_key)
                    .into_iter()
                    .filter(|t| t.status.is_on_agent())
                    .filter_map(|t| self.agents.get(t.agent_id.as_deref()?))
                    .filter(|a| {
                        placement::constraints::attribute(&a.view, attribute) == Some(value)
                    })
                    .count() as u32
            };
            let presence = placement::Presence {
                on_agent: &spread,
                with_value: &with_value,
            };
            let start = self.placements.wrapping_add(1);
            let placed = placement::place(&demand, &views, &presence, start);
            self.placements = start;
            match placed {
                Ok(p) => {
                    let agent_id = &agents[p.agent];
                    let ports = p.ports.into_iter().collect();
                    if self.assign(&id, agent_id, ports, now_ms, dirty) {
                        let (now, view) = (&self.agents[agent_id].view, &mut views[p.agent]);
                        view.used_cpu = now.used_cpu;
                        view.used_ram_mb = now.used_ram_mb;
                        view.used_disk_mb = now.used_disk_mb;
                        view.used_ports.clone_from(&now.used_ports);
                        if let Some(cmd) = self.launch_command(&id) {
                            dirty.commands.push((agent_id.clone(), cmd));
                        }
                        assigned += 1;
                    }
                }
                // Try again after a while, not on every pass.
                Err(pending) => {
                    unplaceable.insert(group, pending.reason.clone());
                    self.tasks
                        .defer(&id, pending.reason, now_ms + RETRY_PENDING_MS);
                }
            }
        }
        self.round_views = Some(RoundViews {
            version: self.agents.version(),
            agents,
            views,
        });
        assigned
    }

    /// What a queued task needs of an agent.
    fn demand(
        &self,
        id: &str,
        constraints: &mut HashMap<JobKey, Arc<[placement::Constraint]>>,
    ) -> Option<Demand> {
        let t = self.tasks.get(id)?;
        let job = self.jobs.get(&t.job)?;
        let config = self.config_of(t)?;
        let r = &config.task.resources;
        let mut ports: Vec<String> = Vec::new();
        for p in &config.task.processes {
            for name in aurora_model::template::port_names(&p.cmdline) {
                if !ports.iter().any(|n| n == name) {
                    ports.push(name.to_owned());
                }
            }
        }
        // Checked when the job was submitted; a stored job that no longer parses places without
        // its constraints rather than never.
        let constraints = constraints
            .entry(t.job.clone())
            .or_insert_with(|| job_constraints(&job.config).unwrap_or_default().into())
            .clone();
        Some(Demand {
            cpu: r.cpu,
            ram_mb: (r.ram / (1024 * 1024)).max(0) as u64,
            disk_mb: (r.disk / (1024 * 1024)).max(0) as u64,
            ports,
            constraints,
        })
    }
}
