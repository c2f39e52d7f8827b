//! The machines: agents' liveness (an agent that stops reporting is declared lost and its tasks
//! LOST, so they are replaced elsewhere) and maintenance (`aurora_admin host_drain`: no new tasks
//! land on the host and its tasks are moved off; `host_activate` ends it). Maintenance is by
//! hostname and stored, so it outlives agent and scheduler restarts.
//!
//! A lost agent that comes back registers again; tasks it still runs that were replaced meanwhile
//! are killed there by registration (`State::register_agent`), so an instance never runs twice for
//! long.

use super::{Dirty, State};
use aurora_model::host::MaintenanceMode;
use aurora_model::task::ScheduleStatus;

/// A host's maintenance state, as `aurora_admin host_maintenance_status` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub host: String,
    /// Aurora's mode: `NONE`, `DRAINING` (tasks still being moved off) or `DRAINED`.
    pub mode: MaintenanceMode,
}

impl State {
    /// An agent reported (a heartbeat or status updates).
    pub fn agent_seen(&mut self, agent: &str, now_ms: i64) {
        self.agents.seen(agent, now_ms);
    }

    /// Declares lost every agent silent for longer than `timeout_ms`: it takes no new tasks, and
    /// its tasks go LOST (services and retried ad hoc tasks are replaced elsewhere), or
    /// PARTITIONED when their job has a partition policy (`state::partitions`). Returns the
    /// agents declared lost now.
    pub fn check_agents(
        &mut self,
        now_ms: i64,
        timeout_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Vec<String> {
        let silent: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| !a.lost && now_ms - a.last_seen_ms > timeout_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &silent {
            let Some(a) = self.agents.mark_lost(id) else {
                continue;
            };
            let message = format!(
                "Agent {} on {} stopped reporting for {} s",
                id,
                a.view.hostname,
                timeout_ms / 1000
            );
            tracing::warn!("{message}: its tasks are PARTITIONED or LOST");
            for t in self.tasks.on_agent(id) {
                self.partition_or_lose(id, &t, &message, now_ms, new_id, dirty);
            }
        }
        silent
    }

    /// `aurora_admin host_drain`: no new tasks land on these hosts, and their tasks are killed
    /// (DRAINING, then KILLED) and replaced elsewhere. Returns the tasks being moved.
    pub fn drain_hosts(&mut self, hosts: &[String], now_ms: i64, dirty: &mut Dirty) -> Vec<String> {
        let mut moved = Vec::new();
        for host in hosts {
            if self.agents.drain(host) {
                dirty.hosts.insert(host.clone());
            }
            for agent in self.agents.on_host(host) {
                for t in self.tasks.on_agent(&agent) {
                    let message = Some(format!("Draining host {host}"));
                    if self.set_status(&t, ScheduleStatus::Draining, message, now_ms, dirty) {
                        dirty.kill(agent.clone(), t.clone());
                        moved.push(t);
                    }
                }
            }
        }
        moved
    }

    /// `aurora_admin host_activate`: the hosts take tasks again.
    pub fn activate_hosts(&mut self, hosts: &[String], dirty: &mut Dirty) {
        for host in hosts {
            if self.agents.activate(host) {
                dirty.hosts.insert(host.clone());
            }
        }
    }

    /// `aurora_admin host_maintenance_status`.
    pub fn host_status(&self, hosts: &[String]) -> Vec<HostStatus> {
        hosts
            .iter()
            .map(|host| {
                let mode = if !self.agents.in_maintenance(host) {
                    MaintenanceMode::None
                } else if self.tasks_on_host(host) > 0 {
                    MaintenanceMode::Draining
                } else {
                    MaintenanceMode::Drained
                };
                HostStatus {
                    host: host.clone(),
                    mode,
                }
            })
            .collect()
    }

    /// Tasks placed on a host's agents and not yet over.
    pub fn tasks_on_host(&self, host: &str) -> usize {
        self.agents
            .on_host(host)
            .iter()
            .map(|id| self.tasks_on_agent(id))
            .sum()
    }

    /// Tasks placed on an agent and not yet over.
    pub fn tasks_on_agent(&self, agent: &str) -> usize {
        self.tasks.count_on_agent(agent)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Ids, agent, job, register};
    use super::*;
    use aurora_model::JobKey;

    fn running_service(s: &mut State, ids: &mut Ids, instances: i64) {
        let mut d = Dirty::default();
        s.create_job(job(true, instances, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        register(s, ids, &["a1", "a2"]);
        s.schedule(1, &mut d);
        let placed: Vec<(String, String)> = s
            .tasks
            .values()
            .map(|t| (t.agent_id.clone().unwrap(), t.task_id.clone()))
            .collect();
        for (a, t) in placed {
            for st in [ScheduleStatus::Starting, ScheduleStatus::Running] {
                s.agent_status(&a, &t, st, None, 2, &mut || ids.next(), &mut d);
            }
        }
    }

    fn key() -> JobKey {
        JobKey::new("www-data", "prod", "hello").unwrap()
    }

    #[test]
    fn a_silent_agent_is_lost_and_its_tasks_replaced_then_killed_if_it_returns() {
        let (mut s, mut ids) = (State::default(), Ids(0));
        running_service(&mut s, &mut ids, 2);
        let on_a1: Vec<String> = s.tasks.on_agent("a1");
        assert_eq!(on_a1.len(), 1, "spread over both agents");
        let mut d = Dirty::default();
        s.agent_seen("a2", 9_000);
        assert!(
            s.check_agents(5_000, 10_000, &mut || ids.next(), &mut d)
                .is_empty()
        );
        assert_eq!(
            s.check_agents(10_001, 10_000, &mut || ids.next(), &mut d),
            ["a1"]
        );
        let lost = &s.tasks[&on_a1[0]];
        assert_eq!(lost.status, ScheduleStatus::Lost);
        assert!(
            lost.events
                .last()
                .unwrap()
                .message
                .as_deref()
                .unwrap()
                .contains("stopped reporting")
        );
        // Replaced, and placed on the live agent only.
        s.schedule(10_002 + 60_000, &mut d);
        let active = s.active_tasks(&key());
        assert_eq!(active.len(), 2);
        assert!(
            active.iter().all(|t| t.agent_id.as_deref() == Some("a2")),
            "{active:?}"
        );
        // Declared once only (and a reporting agent never).
        s.agent_seen("a2", 19_000);
        assert!(
            s.check_agents(20_000, 10_000, &mut || ids.next(), &mut d)
                .is_empty()
        );
        // a1 comes back still running the old task: it is killed there.
        let mut d = Dirty::default();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &on_a1,
            30_000,
            &mut || ids.next(),
            &mut d,
        );
        assert!(d.commands.iter().any(|(a, c)| a == "a1"
            && matches!(c, aurora_api::AgentCommand::Kill { task_id, .. } if *task_id == on_a1[0])));
        assert!(!s.agents["a1"].lost);
    }

    #[test]
    fn draining_moves_tasks_off_and_activate_takes_tasks_again() {
        let (mut s, mut ids) = (State::default(), Ids(0));
        running_service(&mut s, &mut ids, 2);
        let mut d = Dirty::default();
        let moved = s.drain_hosts(&["a1.local".into()], 10, &mut d);
        assert_eq!(moved.len(), 1);
        assert!(d.hosts.contains("a1.local"));
        assert!(
            d.commands
                .iter()
                .any(|(a, c)| a == "a1" && matches!(c, aurora_api::AgentCommand::Kill { .. }))
        );
        assert_eq!(s.tasks[&moved[0]].status, ScheduleStatus::Draining);
        assert_eq!(
            s.host_status(&["a1.local".into(), "a2.local".into()]),
            vec![
                HostStatus {
                    host: "a1.local".into(),
                    mode: MaintenanceMode::Draining
                },
                HostStatus {
                    host: "a2.local".into(),
                    mode: MaintenanceMode::None
                },
            ]
        );
        // The agent reports the kill: the task is replaced, on the other host.
        s.agent_status(
            "a1",
            &moved[0],
            ScheduleStatus::Killed,
            None,
            20,
            &mut || ids.next(),
            &mut d,
        );
        s.schedule(30 + 60_000, &mut d);
        assert!(
            s.active_tasks(&key())
                .iter()
                .all(|t| t.agent_id.as_deref() == Some("a2"))
        );
        assert_eq!(
            s.host_status(&["a1.local".into()])[0].mode,
            MaintenanceMode::Drained
        );
        // It stays drained across a re-registration, until activated.
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            40,
            &mut || ids.next(),
            &mut d,
        );
        assert!(s.agents["a1"].view.unavailable);
        let mut d = Dirty::default();
        s.activate_hosts(&["a1.local".into()], &mut d);
        assert!(d.hosts.contains("a1.local") && !s.agents.in_maintenance("a1.local"));
        assert!(!s.agents["a1"].view.unavailable);
        assert_eq!(
            s.host_status(&["a1.local".into()])[0].mode,
            MaintenanceMode::None
        );
    }
}
