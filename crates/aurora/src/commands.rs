//! The verbs that talk to a scheduler: `job create|status|list|kill|killall|add|open`,
//! `task logs` and `cron schedule|deschedule|start|show`. Each resolves the cluster from
//! clusters.json, calls `aurora-client`, and prints.

use crate::clusters::{Cluster, Clusters};
use crate::format;
use anyhow::{Context, bail};
use aurora_api::{JobDetails, TaskView};
use aurora_client::{Client, LogQuery};
use aurora_config::{Bind, Config};
use aurora_model::instances::{InstanceSpec, TaskInstanceKey};
use aurora_model::task::ScheduleStatus;
use aurora_model::{JobKey, JobPath};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `--wait-until`, kills and restarts wait before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

pub(crate) fn client_for(clusters: &Clusters, cluster: &str) -> anyhow::Result<(Client, Cluster)> {
    let c = clusters.get(cluster)?.clone();
    let base = c.scheduler()?;
    let host = reqwest_host(base);
    let schedulers = c.schedulers()?;
    let jar = c
        .auth_mechanism
        .as_deref()
        .filter(|m| m.eq_ignore_ascii_case("COOKIE"))
        .and(c.cookie_jar.as_deref());
    let creds = crate::credentials::load(&host, jar, &mut |w| eprintln!("WARNING: {w}"));
    let ca =
        match &c.ca_cert {
            Some(p) => Some(std::fs::read(p).with_context(|| {
                format!("reading ca_cert {} of cluster {}", p.display(), c.name)
            })?),
            None => None,
        };
    let client = Client::with_ca(&schedulers, ca.as_deref())
        .with_context(|| format!("cluster {}'s ca_cert", c.name))?
        .with_token(creds.token)
        .with_cookies(creds.cookies)
        .with_negotiate(
            c.auth_mechanism
                .as_deref()
                .filter(|m| m.eq_ignore_ascii_case("KERBEROS"))
                .map(|_| host.clone()),
        );
    Ok((client, c))
}

/// The host of a URL (`http://host:port/...` → `host`).
fn reqwest_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[')
            .to_owned()
    } else {
        host.split(':').next().unwrap_or(host).to_owned()
    }
}

/// `aurora auth login CLUSTER`: a token for yourself, obtained with the credentials you have (a
/// token to renew, or a cookie that the cluster's SSO proxy vouches for), kept in
/// ~/.aurora/auth-token.
pub async fn login(cluster: &str) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, cluster)?;
    let issued = client
        .issue_token(&aurora_api::IssueTokenRequest::default())
        .await
        .context("Login failed")?;
    let path = crate::credentials::save_token(&issued.token)?;
    println!(
        "Logged in to {cluster} as {}: token {} valid until {} UTC, saved in {}",
        issued.user,
        issued.id,
        format::timestamp(issued.expires_ms),
        path.display()
    );
    Ok(())
}

/// Polls `check` (backing off from 100 ms to 2 s) until it says done, or fails after `WAIT_LIMIT`.
pub(crate) async fn poll<T>(
    what: &str,
    mut check: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() > WAIT_LIMIT {
            bail!(
                "timed out after {}s waiting for {what}",
                WAIT_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Evaluates `file` for `key` and refuses a job with unbound template variables.
pub(crate) fn resolve_job(
    key: &JobPath,
    file: &Path,
    binds: &[Bind],
) -> anyhow::Result<aurora_model::Job> {
    let config = Config::load(file)?;
    let resolved = config.resolve(key, binds)?;
    if !resolved.unbound.is_empty() {
        let refs: Vec<String> = resolved
            .unbound
            .iter()
            .map(|u| format!("{} (in {})", u.reference, u.path))
            .collect();
        bail!(
            "Config contains unbound variables: {}; bind them with --bind NAME=VALUE or .bind()",
            refs.join(", ")
        );
    }
    Ok(resolved.job)
}

/// The web page of a job.
pub(crate) fn job_url(cluster: &Cluster, key: &JobKey) -> anyhow::Result<String> {
    Ok(format::web_url(
        cluster.web_base()?,
        &[&key.role, &key.environment, &key.name],
    ))
}

/// `aurora job create`.
pub async fn create(
    key: &JobPath,
    file: &Path,
    binds: &[Bind],
    wait_until: ScheduleStatus,
) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, cluster) = client_for(&clusters, &key.cluster)?;
    let job = resolve_job(key, file, binds)?;
    if job.is_cron() {
        bail!("Cron jobs may only be scheduled with \"aurora cron schedule\" command");
    }
    eprintln!(" INFO] Creating job {}", key.key.name);
    client.create_job(job).await.context("Job create failed")?;
    if wait_until != ScheduleStatus::Pending {
        let want_terminal = wait_until == ScheduleStatus::Finished;
        poll(&format!("{key} to be {wait_until}"), async || {
            let d = client.job(&key.key).await?;
            let done = d.tasks.iter().all(|t| {
                t.status.is_terminal() || (!want_terminal && t.status == ScheduleStatus::Running)
            });
            Ok(done.then_some(()))
        })
        .await?;
    }
    eprintln!(" INFO] Checking status of {key}");
    let details = client.job(&key.key).await?;
    if details.tasks.is_empty() {
        bail!("Error occurred while creating job {key}");
    }
    println!(
        "Job create succeeded: job url={}",
        job_url(&cluster, &key.key)?
    );
    Ok(())
}

/// `aurora cron schedule`: creates or replaces a cron job.
pub async fn cron_schedule(key: &JobPath, file: &Path, binds: &[Bind]) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, cluster) = client_for(&clusters, &key.cluster)?;
    let job = resolve_job(key, file, binds)?;
    if !job.is_cron() {
        bail!("Non-cron jobs may only be created with \"aurora job create\" command");
    }
    eprintln!(" INFO] Registering job {} with cron", key.key.name);
    client
        .schedule_cron(job)
        .await
        .context("Cron schedule failed")?;
    println!(
        "Cron job scheduled, status can be viewed at {}",
        job_url(&cluster, &key.key)?
    );
    Ok(())
}

/// `aurora cron deschedule`.
pub async fn cron_deschedule(key: &JobPath) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    eprintln!(" INFO] Removing cron schedule for job {key}");
    let r = client
        .deschedule_cron(&key.key)
        .await
        .context("Cron deschedule failed")?;
    if r.descheduled {
        println!("Cron descheduling succeeded.");
    } else {
        println!("{}", r.message);
    }
    Ok(())
}

/// `aurora cron start`: runs the job now, following its collision policy.
pub async fn cron_start(key: &JobPath) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, cluster) = client_for(&clusters, &key.cluster)?;
    eprintln!(" INFO] Starting cron job: {key}");
    let r = client
        .start_cron(&key.key)
        .await
        .context("Cron start failed")?;
    match r.outcome.as_str() {
        "STARTED" => println!(
            "Cron run started with {} task(s): job url={}",
            r.task_ids.len(),
            job_url(&cluster, &key.key)?
        ),
        "KILLING_PREVIOUS" => println!(
            "Killing the previous run ({} task(s), collision policy KILL_EXISTING); the new run starts when it has ended",
            r.task_ids.len()
        ),
        _ => println!(
            "Cron run skipped: a run is still active and the collision policy is CANCEL_NEW"
        ),
    }
    Ok(())
}

/// `aurora cron show`: schedule, policy, next firings and the runs kept.
pub async fn cron_show(key: &JobPath) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.cluster)?;
    match client.cron(&key.key).await {
        Ok(view) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            print!("{}", format::cron(key, &view, now));
            Ok(())
        }
        Err(aurora_client::ClientError::Http { status: 404, .. }) => {
            bail!("No cron entry found for job {key}")
        }
        Err(e) => Err(e.into()),
    }
}

/// Splits `cluster[/role[/env[/name]]]` into its parts, missing ones being `*`.
fn wildcard(spec: &str) -> anyhow::Result<[String; 4]> {
    let parts: Vec<&str> = spec.split('/').collect();
    if parts.is_empty() || parts.len() > 4 || parts[0].is_empty() {
        bail!("invalid job pattern '{spec}': expected CLUSTER[/ROLE[/ENV[/NAME]]]");
    }
    let get = |i: usize| parts.get(i).map_or("*".to_owned(), |s| s.to_string());
    Ok([get(0), get(1), get(2), get(3)])
}

/// The jobs matching a wildcard key, as `(cluster, client, key)`.
async fn matching(
    clusters: &Clusters,
    spec: &str,
) -> anyhow::Result<Vec<(String, Client, JobKey)>> {
    let [cluster, role, env, name] = wildcard(spec)?;
    let names: Vec<String> = if cluster == "*" {
        clusters.clusters.keys().cloned().collect()
    } else {
        vec![cluster]
    };
    let mut out = Vec::new();
    for c in names {
        let (client, _) = client_for(clusters, &c)?;
        let exact = |s: &str| !s.contains(['*', '?']);
        if exact(&role) && exact(&env) && exact(&name) {
            out.push((c.clone(), client, JobKey::new(&role, &env, &name)?));
            continue;
        }
        for j in client
            .list_jobs(exact(&role).then_some(role.as_str()), None)
            .await?
        {
            if format::glob(&role, &j.role)
                && format::glob(&env, &j.environment)
                && format::glob(&name, &j.name)
            {
                out.push((
                    c.clone(),
                    client.clone(),
                    JobKey::new(&j.role, &j.environment, &j.name)?,
                ));
            }
        }
    }
    Ok(out)
}

/// `aurora job list`.
pub async fn list(spec: &str) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    for (cluster, _, key) in matching(&clusters, spec).await? {
        println!("{cluster}/{key}");
    }
    Ok(())
}

/// `aurora job status`.
pub async fn status(spec: &str, write_json: bool) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let mut found: Vec<(String, JobDetails)> = Vec::new();
    for (cluster, client, key) in matching(&clusters, spec).await? {
        match client.job(&key).await {
            Ok(d) => found.push((format!("{cluster}/{key}"), d)),
            Err(aurora_client::ClientError::Http { status: 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if found.is_empty() {
        if write_json {
            println!(
                "{}",
                serde_json::json!({ "jobspec": spec, "error": "No matching jobs found" })
            );
            return Ok(());
        }
        bail!("Found no jobs matching {spec}");
    }
    if write_json {
        let list: Vec<serde_json::Value> = found
            .iter()
            .map(|(k, d)| {
                let (a, i) = format::split(d);
                serde_json::json!({ "job": k, "active": a, "inactive": i })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for (k, d) in &found {
            print!("{}", format::status(k, d));
        }
    }
    Ok(())
}

/// Waits until the given tasks are all terminal.
async fn wait_terminal(client: &Client, key: &JobKey, ids: &[String]) -> anyhow::Result<()> {
    poll("the tasks to end", async || {
        let d = client.job(key).await?;
        let done = ids.iter().all(|id| {
            d.tasks
                .iter()
                .find(|t| &t.task_id == id)
                .is_none_or(|t| t.status.is_terminal())
        });
        Ok(done.then_some(()))
    })
    .await
}

/// `aurora job kill` / `killall`.
pub async fn kill(spec: &InstanceSpec, all: bool) -> anyhow::Result<()> {
    if !all && spec.instances.is_none() {
        bail!(
            "The instances to kill must be given (CLUSTER/ROLE/ENV/NAME/INSTANCES); use `aurora job killall` to kill every instance"
        );
    }
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &spec.job.cluster)?;
    eprintln!(" INFO] Killing tasks for job: {}", spec.job);
    let killed = client
        .kill(
            &spec.job.key,
            spec.instances.clone(),
            Some("Killed by the aurora client".into()),
        )
        .await?;
    if killed.task_ids.is_empty() {
        bail!("No tasks to kill found for job {}", spec.job);
    }
    wait_terminal(&client, &spec.job.key, &killed.task_ids).await?;
    eprintln!(
        " INFO] Successfully killed instances {:?}",
        killed.instances
    );
    println!(
        "{}",
        if all {
            "Job killall succeeded"
        } else {
            "Job kill succeeded"
        }
    );
    Ok(())
}

/// `aurora job add`.
pub async fn add(instance: &TaskInstanceKey, count: u32) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &instance.job.cluster)?;
    eprintln!(
        " INFO] Adding {count} instances to {} using the task config of instance {}",
        instance.job, instance.instance
    );
    let added = client
        .add_instances(&instance.job.key, instance.instance, count)
        .await?;
    println!("Job add succeeded: instances {:?}", added.instances);
    Ok(())
}

/// `aurora job open`: prints the web page of a cluster, role, environment or job.
pub fn open(spec: &str) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let parts: Vec<&str> = spec.split('/').collect();
    if parts.len() > 4 || parts[0].is_empty() {
        bail!("invalid job pattern '{spec}': expected CLUSTER[/ROLE[/ENV[/NAME]]]");
    }
    let cluster = clusters.get(parts[0])?;
    println!("{}", format::web_url(cluster.web_base()?, &parts[1..]));
    Ok(())
}

/// The task of an instance: its active one, else its latest.
fn task_of(details: &JobDetails, instance: u32) -> Option<&TaskView> {
    let mut of: Vec<&TaskView> = details
        .tasks
        .iter()
        .filter(|t| t.instance == instance)
        .collect();
    of.sort_by_key(|t| {
        (
            !t.status.is_terminal(),
            t.events.last().map_or(0, |e| e.timestamp_ms),
        )
    });
    of.last().copied()
}

/// `aurora task logs`.
pub async fn logs(
    key: &TaskInstanceKey,
    process: Option<String>,
    stderr: bool,
    follow: bool,
    tail: Option<u32>,
) -> anyhow::Result<()> {
    let clusters = Clusters::load()?;
    let (client, _) = client_for(&clusters, &key.job.cluster)?;
    let details = client.job(&key.job.key).await?;
    let task = task_of(&details, key.instance)
        .with_context(|| format!("{} has no instance {}", key.job, key.instance))?;
    let task_id = task.task_id.clone();
    let process = process.or_else(|| {
        details
            .config
            .task
            .processes
            .first()
            .map(|p| p.name.clone())
    });
    if let Some(p) = &process
        && !details.config.task.processes.iter().any(|x| &x.name == p)
    {
        let names: Vec<&str> = details
            .config
            .task
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        bail!(
            "task {task_id} has no process '{p}' (its processes: {})",
            names.join(", ")
        );
    }
    let mut q = LogQuery {
        process,
        stderr,
        run: None,
        offset: None,
        tail,
    };
    let mut out = std::io::stdout();
    let mut pause = Duration::from_millis(100);
    // Set once the task is seen ended: what it wrote between the last read and its end is
    // still read, to the end, before returning.
    let mut ended = false;
    loop {
        let chunk = match client.logs(&task_id, &q).await {
            Ok(c) => c,
            // Not started yet: when following, wait for it.
            Err(aurora_client::ClientError::Http { status: 404, .. }) if follow => {
                aurora_client::LogChunk {
                    data: Vec::new(),
                    next_offset: q.offset.unwrap_or(0),
                }
            }
            Err(e) => return Err(e.into()),
        };
        out.write_all(&chunk.data)?;
        out.flush()?;
        if !follow {
            return Ok(());
        }
        let got = !chunk.data.is_empty();
        q.offset = Some(chunk.next_offset);
        q.tail = None;
        if !got {
            if ended {
                return Ok(());
            }
            if client.task(&task_id).await?.status.is_terminal() {
                ended = true;
                continue;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        } else {
            pause = Duration::from_millis(100);
        }
    }
}
