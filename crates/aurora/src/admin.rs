//! `aurora_admin`'s verbs, with Aurora's argument forms: `host_drain --hosts=H1,H2 CLUSTER`,
//! `host_maintenance_status --hosts=... CLUSTER`, `host_activate --hosts=... CLUSTER`, and
//! `hosts CLUSTER` listing agents, their attributes, resources used and free, and state; and
//! `token issue|list|revoke` for users' tokens; and the scheduler's storage: `scheduler_backup_now`,
//! `scheduler_list_backups`, `scheduler_stage_recovery`, `scheduler_print_recovery_tasks`,
//! `scheduler_delete_recovery_tasks`, `scheduler_commit_recovery`, `scheduler_unload_recovery`,
//! `scheduler_snapshot` (Aurora's names and arguments).

use crate::clusters::Clusters;
use crate::commands::{client_for, poll};
use aurora_api::{HostView, MaintenanceView};
use aurora_model::host::MaintenanceMode;
use std::fmt::Write;

fn print_modes(modes: &[MaintenanceView]) {
    for m in modes {
        println!("{} is in state: {}", m.host, m.mode);
    }
}

/// `aurora_admin host_drain`: puts the hosts in maintenance and waits until their tasks are off.
pub async fn host_drain(cluster: &str, hosts: &[String], wait: bool) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    eprintln!(" INFO] Draining tasks on: {}", hosts.join(", "));
    let r = client.drain(hosts).await?;
    eprintln!(" INFO] {} task(s) being moved off", r.task_ids.len());
    let modes = if wait {
        poll("the hosts to be drained", async || {
            let m = client.maintenance(hosts).await?;
            Ok(m.iter()
                .all(|h| h.mode == MaintenanceMode::Drained)
                .then_some(m))
        })
        .await?
    } else {
        r.hosts
    };
    print_modes(&modes);
    Ok(())
}

/// `aurora_admin host_activate`.
pub async fn host_activate(cluster: &str, hosts: &[String]) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    print_modes(&client.activate(hosts).await?);
    Ok(())
}

/// `aurora_admin host_maintenance_status`.
pub async fn host_maintenance_status(cluster: &str, hosts: &[String]) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    print_modes(&client.maintenance(hosts).await?);
    Ok(())
}

/// `aurora_admin token issue USER`: prints the token (shown once).
pub async fn token_issue(
    cluster: Option<&str>,
    user: &str,
    ttl_secs: u64,
    bind_ip: Option<String>,
) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let name = clusters.named_or_only(cluster)?.name.clone();
    let (client, _) = client_for(&clusters, &name)?;
    let issued = client
        .issue_token(&aurora_api::IssueTokenRequest {
            user: Some(user.to_owned()),
            ttl_secs: Some(ttl_secs),
            bind_ip,
        })
        .await?;
    eprintln!(
        " INFO] Token {} for {}, valid until {} UTC{}",
        issued.id,
        issued.user,
        crate::format::timestamp(issued.expires_ms),
        issued
            .bind_ip
            .as_deref()
            .map_or(String::new(), |ip| format!(", from {ip} only"))
    );
    println!("{}", issued.token);
    Ok(())
}

/// `aurora_admin token list`.
pub async fn token_list(cluster: Option<&str>) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let name = clusters.named_or_only(cluster)?.name.clone();
    let (client, _) = client_for(&clusters, &name)?;
    for t in client.tokens().await? {
        let state = match t.revoked_ms {
            Some(at) => format!("revoked {}", crate::format::timestamp(at)),
            None => format!("expires {}", crate::format::timestamp(t.expires_ms)),
        };
        println!(
            "{}\t{}\tissued {}\t{state}\t{}",
            t.id,
            t.user,
            crate::format::timestamp(t.issued_ms),
            t.bind_ip.as_deref().unwrap_or("any address")
        );
    }
    Ok(())
}

/// `aurora_admin token revoke ID`.
pub async fn token_revoke(cluster: Option<&str>, id: &str) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let name = clusters.named_or_only(cluster)?.name.clone();
    let (client, _) = client_for(&clusters, &name)?;
    let t = client.revoke_token(id).await?;
    println!("Token {} of {} revoked", t.id, t.user);
    Ok(())
}

/// `aurora_admin hosts`.
pub async fn hosts(cluster: &str) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    print!("{}", hosts_table(&client.hosts().await?));
    Ok(())
}

/// The hosts as a table: name, state, tasks, cpu/ram/disk used of total, attributes.
pub fn hosts_table(hosts: &[HostView]) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 8]> = hosts
        .iter()
        .map(|h| {
            let attrs: Vec<String> = h
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            [
                h.hostname.clone(),
                h.state.to_string(),
                h.tasks.to_string(),
                format!(
                    "{:.2}/{:.2} ({:.2} free)",
                    h.used_cpu,
                    h.cpu,
                    (h.cpu - h.used_cpu).max(0.0)
                ),
                format!(
                    "{}/{} MB ({} free)",
                    h.used_ram_mb,
                    h.ram_mb,
                    h.ram_mb.saturating_sub(h.used_ram_mb)
                ),
                format!(
                    "{}/{} MB ({} free)",
                    h.used_disk_mb,
                    h.disk_mb,
                    h.disk_mb.saturating_sub(h.used_disk_mb)
                ),
                h.isolation.clone(),
                attrs.join(","),
            ]
        })
        .collect();
    let head = [
        "HOST",
        "STATE",
        "TASKS",
        "CPU",
        "RAM",
        "DISK",
        "ISOLATION",
        "ATTRIBUTES",
    ];
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(l, "{c:<w$}  ", w = width[i]);
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&head);
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_table_lines_up() {
        let h = HostView {
            agent_id: "agent-h1".into(),
            hostname: "h1".into(),
            state: aurora_model::host::HostState::Active,
            attributes: [("rack".to_owned(), "r1".to_owned())].into(),
            cpu: 4.0,
            ram_mb: 4096,
            disk_mb: 10240,
            used_cpu: 1.5,
            used_ram_mb: 1024,
            used_disk_mb: 0,
            tasks: 2,
            last_seen_ms: 0,
            isolation: "cgroup-v1".into(),
            endpoint: String::new(),
        };
        assert_eq!(
            hosts_table(&[h]),
            "HOST  STATE   TASKS  CPU                    RAM                       DISK                     ISOLATION  ATTRIBUTES\n\
             h1    ACTIVE  2      1.50/4.00 (2.50 free)  1024/4096 MB (3072 free)  0/10240 MB (10240 free)  cgroup-v1  rack=r1\n"
        );
    }
}

/// The scheduler's storage commands (`aurora_admin scheduler_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageCommand {
    BackupNow,
    ListBackups,
    StageRecovery(String),
    PrintRecoveryTasks,
    DeleteRecoveryTasks(Vec<String>),
    CommitRecovery,
    UnloadRecovery,
    Snapshot,
}

/// Runs one storage command against `cluster`'s scheduler and prints what it did.
pub async fn storage(cluster: &str, command: StorageCommand) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    let staged = |s: aurora_api::RecoveryStatus| {
        format!(
            "recovery from {}: {} job(s), {} task(s)",
            s.backup, s.jobs, s.tasks
        )
    };
    match command {
        StorageCommand::BackupNow => {
            let b = client.backup_now().await?;
            println!("Backup complete: {}", b.backup);
        }
        StorageCommand::ListBackups => {
            let list = client.backups().await?.backups;
            println!("{} backups found:", list.len());
            for b in list {
                println!("\t{b}");
            }
        }
        StorageCommand::StageRecovery(backup) => {
            let s = client.stage_recovery(&backup).await?;
            println!("Staged {}", staged(s));
        }
        StorageCommand::PrintRecoveryTasks => {
            for t in client.recovery_tasks().await? {
                println!("{}\t{}/{}\t{}", t.task_id, t.job, t.instance, t.status);
            }
        }
        StorageCommand::DeleteRecoveryTasks(ids) => {
            let s = client.delete_recovery_tasks(&ids).await?;
            println!("Staged {}", staged(s));
        }
        StorageCommand::CommitRecovery => {
            let s = client.commit_recovery().await?;
            println!("Committed {}; the scheduler restarts to load it", staged(s));
        }
        StorageCommand::UnloadRecovery => {
            client.unload_recovery().await?;
            println!("Recovery unloaded");
        }
        StorageCommand::Snapshot => {
            println!("{}", client.snapshot().await?.message);
        }
    }
    Ok(())
}
