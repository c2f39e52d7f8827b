//! The verbs of job updates: `update start|pause|resume|abort|rollback|pulse|list|info|wait`,
//! `job diff`, and `job restart` (a rolling restart run by the scheduler as an update). Waiting
//! commands show progress: a bar redrawn in place on a terminal, one line per change otherwise.

use crate::Exit;
use crate::clusters::Clusters;
use crate::commands::{client_for, job_url, resolve_job};
use crate::format;
use anyhow::{Context, bail};
use aurora_api::{
    DiffRequest, DiffResponse, RestartRequest, StartUpdateRequest, UpdateAction, UpdateDetails,
    UpdateQuery, UpdateSummary,
};
use aurora_client::{Client, ClientError};
use aurora_config::Bind;
use aurora_model::instances::InstanceSpec;
use aurora_model::update::UpdateStatus;
use aurora_model::{JobKey, JobPath};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

/// Instance ids as ranges: `[0-3, 5]`.
pub fn ranges(ids: &[u32]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    format!("[{}]", parts.join(", "))
}

/// What an update would change, as Aurora's client prints it: instances added, removed, updated
/// (each group with a unified diff of its configuration) and unchanged.
pub fn render_diff(d: &DiffResponse) -> String {
    let mut out = String::from("This job update will:\n");
    if !d.add.is_empty() {
        out.push_str(&format!("add instances: {}\n", ranges(&d.add)));
    }
    if !d.remove.is_empty() {
        out.push_str(&format!("remove instances: {}\n", ranges(&d.remove)));
    }
    let desired = pretty(&d.desired);
    for group in &d.current {
        let changed: Vec<u32> = group
            .instances
            .iter()
            .copied()
            .filter(|i| d.update.contains(i))
            .collect();
        if changed.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "update instances: {}\nwith diff:\n",
            ranges(&changed)
        ));
        let current = pretty(&group.config);
        let diff = similar::TextDiff::from_lines(&current, &desired);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header("current", "new")
                .to_string(),
        );
    }
    if !d.unchanged.is_empty() {
        out.push_str(&format!("not change instances: {}\n", ranges(&d.unchanged)));
    }
    out
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The web page of an update.
fn update_url(
    cluster: &crate::clusters::Cluster,
    key: &JobKey,
    id: &str,
) -> anyhow::Result<String> {
    Ok(format!("{}/update/{id}", job_url(cluster, key)?))
}

async fn fetch_diff(
    client: &Client,
    spec: &InstanceSpec,
    job: &aurora_model::Job,
) -> anyhow::Result<DiffResponse> {
    client
        .diff(
            &spec.job.key,
            &DiffRequest {
                config: job.clone(),
                instances: spec.instances.clone(),
            },
        )
        .await
        .context("Diff failed")
}

/// `aurora job diff KEY[/INSTANCES] FILE`.
pub async fn diff(spec: &InstanceSpec, file: &Path, binds: &[Bind]) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &spec.job.cluster)?;
    let job = resolve_job(&spec.job, file, binds)?;
    print!("{}", render_diff(&fetch_diff(&client, spec, &job).await?));
    Ok(())
}

/// `aurora update start KEY[/INSTANCES] FILE [--wait]`.
pub async fn start(
    spec: &InstanceSpec,
    file: &Path,
    binds: &[Bind],
    wait: bool,
    message: Option<String>,
) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, cluster) = client_for(&clusters, &spec.job.cluster)?;
    let job = resolve_job(&spec.job, file, binds)?;
    if job.is_cron() {
        bail!("Cron jobs may only be updated with \"aurora cron schedule\" command");
    }
    print!("{}", render_diff(&fetch_diff(&client, spec, &job).await?));
    eprintln!(" INFO] Starting update for: {}", spec.job.key.name);
    let started = client
        .start_update(
            &spec.job.key,
            &StartUpdateRequest {
                config: job,
                instances: spec.instances.clone(),
                message,
                // Aurora's client names each start, so that a retried start is recognised.
                metadata: [(
                    "org.apache.aurora.client.update_id".to_owned(),
                    uuid::Uuid::new_v4().to_string(),
                )]
                .into(),
            },
        )
        .await
        .map_err(refused("Failed to start update"))?;
    let Some(update) = started.update else {
        println!(
            "{}",
            started
                .message
                .unwrap_or_else(|| "Job is unchanged by proposed update.".into())
        );
        return Ok(());
    };
    println!(
        "Job update has started. View your update progress at {}",
        update_url(&cluster, &spec.job.key, &update.id)?
    );
    if wait {
        let end = wait_for(&client, &update.id).await?;
        return wait_outcome(end);
    }
    Ok(())
}

/// Maps a scheduler refusal to Aurora's exit status 4, with the verb's prefix.
fn refused(prefix: &'static str) -> impl Fn(ClientError) -> anyhow::Error {
    move |e| match &e {
        ClientError::Http { .. } => Exit::new(4, format!("{prefix}: {e}")).into(),
        _ => anyhow::Error::new(e).context(prefix),
    }
}

/// The active update of a job, or Aurora's "No active update found for this job." (exit 6).
async fn active(client: &Client, key: &JobKey) -> anyhow::Result<UpdateDetails> {
    match client.active_update(key).await {
        Ok(u) => Ok(u),
        Err(ClientError::Http { status: 404, .. }) => {
            Err(Exit::new(6, "No active update found for this job.").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `aurora update pause|resume|abort|rollback KEY`.
pub async fn control(
    key: &JobPath,
    verb: UpdateAction,
    message: Option<String>,
) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    match client.control_update(&key.key, verb, message).await {
        Ok(_) => {}
        Err(ClientError::Http {
            status: 404,
            message,
        }) => {
            return Err(Exit::new(6, message).into());
        }
        Err(e) => return Err(refused("Failed to change the update")(e)),
    }
    println!(
        "{}",
        match verb {
            UpdateAction::Pause => "Update has been paused.",
            UpdateAction::Resume => "Update has been resumed.",
            UpdateAction::Abort => "Update has been aborted.",
            UpdateAction::Rollback => "Update rollback has started.",
        }
    );
    Ok(())
}

/// `aurora update pulse KEY`: pulses the job's active (coordinated) update.
pub async fn pulse(key: &JobPath) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    let u = active(&client, &key.key).await?;
    let r = client
        .pulse_update(&u.summary.id)
        .await
        .map_err(refused("Pulse failed"))?;
    println!("Update {} pulsed: {}", u.summary.id, r.status);
    Ok(())
}

/// `aurora update list CLUSTER[/ROLE[/ENV[/NAME]]] [--status S]... [--user U] [--write-json]`.
pub async fn list(
    spec: &str,
    statuses: &[String],
    user: Option<String>,
    write_json: bool,
) -> anyhow::Result<()> {
    let parts: Vec<&str> = spec.split('/').collect();
    if parts.len() > 4 || parts[0].is_empty() {
        bail!("expected CLUSTER[/ROLE[/ENV[/NAME]]], got '{spec}'");
    }
    let clusters = Clusters::load()?;
    let (client, cluster) = client_for(&clusters, parts[0])?;
    let part = |i: usize| parts.get(i).map(|s| (*s).to_owned());
    let q = UpdateQuery {
        role: part(1),
        env: part(2),
        name: part(3),
        user,
        status: (!statuses.is_empty()).then(|| statuses.join(",")),
    };
    let updates = client.updates(&q).await?;
    if write_json {
        let rows: Vec<serde_json::Value> = updates
            .iter()
            .map(|u| {
                serde_json::json!({
                    "job": format!("{}/{}", cluster.name, u.job),
                    "id": u.id,
                    "user": u.user,
                    "started": iso(u.created_ms),
                    "last_modified": iso(u.last_modified_ms),
                    "status": u.status.name(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<47} {:<36} {:<15} {:<11} {:<19} {:<19}",
        "JOB", "UPDATE ID", "STATUS", "CREATED BY", "STARTED", "LAST MODIFIED"
    );
    for u in &updates {
        println!(
            "{:<47} {:<36} {:<15} {:<11} {:<19} {:<19}",
            format!("{}/{}", cluster.name, u.job),
            u.id,
            u.status.name(),
            u.user,
            iso(u.created_ms),
            iso(u.last_modified_ms)
        );
    }
    Ok(())
}

/// `2026-11-25T17:02:26`, UTC.
fn iso(ms: i64) -> String {
    format::timestamp(ms).replace(' ', "T")
}

/// `aurora update info KEY [ID] [--write-json]`.
pub async fn info(key: &JobPath, id: Option<String>, write_json: bool) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    let u = match id {
        Some(id) => client.update(&id).await.map_err(|e| match e {
            ClientError::Http {
                status: 404,
                message,
            } => Exit::new(6, message).into(),
            e => anyhow::Error::new(e),
        })?,
        None => active(&client, &key.key).await?,
    };
    if write_json {
        println!("{}", serde_json::to_string_pretty(&u)?);
        return Ok(());
    }
    print!("{}", render_info(key, &u));
    Ok(())
}

/// An update as `aurora update info` prints it.
pub fn render_info(key: &JobPath, u: &UpdateDetails) -> String {
    let s = &u.summary;
    let st = &u.settings;
    let mut out = format!(
        "Job: {key}, UpdateID: {}\nStarted {}, last activity: {}\nCurrent status: {}\n",
        s.id,
        format::timestamp(s.created_ms),
        format::timestamp(s.last_modified_ms),
        s.status
    );
    out.push_str(&format!(
        "Progress: {}\nSettings: {}, watch {} s, max failures per instance {}, max failed instances {}, rollback on failure {}\n",
        s.progress,
        st.strategy.describe(),
        st.min_wait_in_running_ms / 1000,
        st.max_per_instance_failures,
        st.max_failed_instances,
        st.rollback_on_failure
    ));
    out.push_str("Update events:\n");
    for e in &u.events {
        out.push_str(&format!(
            "  Status: {} at {}",
            e.status,
            format::timestamp(e.timestamp_ms)
        ));
        if let Some(user) = &e.user {
            out.push_str(&format!(" by {user}"));
        }
        if let Some(m) = &e.message {
            out.push_str(&format!(": {m}"));
        }
        out.push('\n');
    }
    out.push_str("Instance events:\n");
    for e in &u.instance_events {
        out.push_str(&format!(
            "  Instance {} at {}: {}\n",
            e.instance,
            format::timestamp(e.timestamp_ms),
            e.action
        ));
    }
    if !u.metadata.is_empty() {
        out.push_str("Metadata:\n");
        for (k, v) in &u.metadata {
            out.push_str(&format!("  {k}: {v}\n"));
        }
    }
    out
}

/// `aurora update wait KEY [ID]`.
pub async fn wait(key: &JobPath, id: Option<String>) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    let id = match id {
        Some(id) => id,
        None => active(&client, &key.key).await?.summary.id,
    };
    let end = wait_for(&client, &id).await?;
    wait_outcome(end)
}

/// Aurora's exit status for a finished update: 0 rolled forward, 4 rolled back, 20 otherwise.
fn wait_outcome(end: UpdateStatus) -> anyhow::Result<()> {
    match end {
        UpdateStatus::RolledForward => Ok(()),
        UpdateStatus::RolledBack => Err(Exit::new(4, "Update rolled back").into()),
        other => Err(Exit::new(20, format!("Update ended in state {other}")).into()),
    }
}

/// Follows an update until it ends, showing its progress; returns its final state.
async fn wait_for(client: &Client, id: &str) -> anyhow::Result<UpdateStatus> {
    let mut progress = Progress::new();
    let mut pause = Duration::from_millis(100);
    loop {
        let u = client.update(id).await?;
        progress.show(&u.summary);
        if u.summary.status.is_terminal() {
            progress.finish();
            return Ok(u.summary.status);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// A 30-character bar: `#` updated, `=` healthy and being watched, `>` being replaced, `x`
/// failed, `.` not started.
fn bar(p: &aurora_api::UpdateProgress) -> String {
    const WIDTH: usize = 30;
    let total = p.total.max(1) as usize;
    let mut left = WIDTH;
    let mut part = |n: u32, c: &str| {
        let w = (n as usize * WIDTH / total).min(left);
        left -= w;
        c.repeat(w)
    };
    let bar = format!(
        "{}{}{}{}",
        part(p.succeeded, "#"),
        part(p.healthy, "="),
        part(p.working.saturating_sub(p.healthy), ">"),
        part(p.failed, "x"),
    );
    format!("{bar}{}", ".".repeat(left))
}

/// Progress of a waited-for update: a bar redrawn in place on a terminal (stderr), a line each
/// time something changes otherwise (stdout).
struct Progress {
    tty: bool,
    last: String,
}

impl Progress {
    fn new() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: String::new(),
        }
    }

    fn show(&mut self, s: &UpdateSummary) {
        let line = format!("{}: {}", s.status, s.progress);
        if line == self.last {
            return;
        }
        if self.tty {
            let bar = bar(&s.progress);
            let mut err = std::io::stderr();
            let _ = write!(err, "\r[{bar}] {line}\x1b[K");
            let _ = err.flush();
        } else {
            println!("Current state {line}");
        }
        self.last = line;
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// How `aurora job restart` is asked to go.
#[derive(Debug, Clone, Default)]
pub struct RestartOptions {
    pub batch_size: Option<u32>,
    pub watch_secs: Option<u32>,
    pub max_per_instance_failures: Option<u32>,
    pub max_total_failures: Option<u32>,
}

/// `aurora job restart KEY[/INSTANCES]`: a rolling restart by the scheduler, followed to its end.
pub async fn restart(spec: &InstanceSpec, o: &RestartOptions) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &spec.job.cluster)?;
    let started = client
        .restart(
            &spec.job.key,
            &RestartRequest {
                instances: spec.instances.clone(),
                batch_size: o.batch_size,
                watch_secs: o.watch_secs,
                max_per_instance_failures: o.max_per_instance_failures,
                max_total_failures: o.max_total_failures,
                message: None,
            },
        )
        .await
        .map_err(refused("Restart failed"))?;
    let Some(update) = started.update else {
        bail!("Restart failed: nothing to restart");
    };
    eprintln!(" INFO] Restarting {} (update {})", spec.job, update.id);
    match wait_for(&client, &update.id).await? {
        UpdateStatus::RolledForward => {
            println!("Job {} restarted successfully", spec.job);
            Ok(())
        }
        other => {
            Err(Exit::new(4, format!("Restart of {} ended in state {other}", spec.job)).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_each_kind_of_instance_in_proportion() {
        let p = aurora_api::UpdateProgress {
            total: 6,
            succeeded: 2,
            working: 2,
            healthy: 1,
            failed: 1,
        };
        assert_eq!(
            bar(&p),
            format!(
                "{}{}{}{}{}",
                "#".repeat(10),
                "=".repeat(5),
                ">".repeat(5),
                "x".repeat(5),
                ".".repeat(5)
            )
        );
        assert_eq!(bar(&aurora_api::UpdateProgress::default()), ".".repeat(30));
    }

    #[test]
    fn instance_ranges_read_as_aurora_prints_them() {
        assert_eq!(ranges(&[3, 0, 1, 2, 5, 7, 8]), "[0-3, 5, 7-8]");
        assert_eq!(ranges(&[]), "[]");
    }

    #[test]
    fn a_diff_names_each_kind_of_change_and_shows_the_configuration_change() {
        let d = DiffResponse {
            add: vec![4],
            update: vec![0, 1],
            remove: vec![],
            unchanged: vec![2, 3],
            current: vec![
                aurora_api::ConfigGroup {
                    instances: vec![0, 1],
                    config: serde_json::json!({"cmdline": "echo v1", "ram": 1}),
                },
                aurora_api::ConfigGroup {
                    instances: vec![2, 3],
                    config: serde_json::json!({"cmdline": "echo v2", "ram": 1}),
                },
            ],
            desired: serde_json::json!({"cmdline": "echo v2", "ram": 1}),
        };
        let text = render_diff(&d);
        assert!(text.starts_with("This job update will:\nadd instances: [4]\nupdate instances: [0-1]\nwith diff:\n--- current\n+++ new\n"), "{text}");
        assert!(
            text.contains("-  \"cmdline\": \"echo v1\",\n+  \"cmdline\": \"echo v2\",\n"),
            "{text}"
        );
        assert!(text.ends_with("not change instances: [2-3]\n"), "{text}");
    }
}
