//! `aurora-bench`: the scheduler measured as a whole, as an operator would see it. It starts the
//! real `aurora-scheduler` (next to this binary unless `--scheduler-bin` says otherwise) on its
//! own data folder and port, and N hollow agents (`hollow`) in this process, then:
//!
//! 1. connects the agents;
//! 2. creates the jobs (J jobs of K instances, M tasks), timing each create while the scheduler
//!    places and launches the ones before;
//! 3. waits until every task is RUNNING (end-to-end throughput; placements per second of time
//!    spent inside scheduling rounds, from the scheduler's `/metrics`);
//! 4. times API reads under that load (`/api/v1/roles`, a page of a job's JSON, and the whole
//!    of it apart), then makes 1 % of the
//!    agents hang and times until their tasks run elsewhere;
//! 5. kills the scheduler with -9, starts it again, and times how long until it serves and until
//!    every agent is back and every task RUNNING.
//!
//! It prints a table and, with `--json`, as its last line one JSON object of the figures.
//! Not here: the scheduler's code; the figures' meaning and the peers' (`docs/benchmarks.md`).

mod hollow;

/// The scheduler's allocator here too: the hollow agents share the machine with the scheduler
/// they measure, and glibc's malloc was a tenth of the machine's time in their process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, bail};
use clap::Parser;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "aurora-bench",
    version,
    about = "Measure the real scheduler with hollow agents"
)]
struct Args {
    /// Hollow agents (0: the tasks stay PENDING, and reads are timed over them).
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Tasks in all.
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    /// Instances per job (the number of jobs follows), unless --jobs is given.
    #[arg(long, default_value_t = 1000)]
    instances_per_job: usize,
    /// Jobs the tasks are spread over (instances per job follow).
    #[arg(long, conflicts_with = "instances_per_job")]
    jobs: Option<usize>,
    /// Print the figures as one JSON object, as the last line.
    #[arg(long)]
    json: bool,
    /// The scheduler binary (default: `aurora-scheduler` next to this one).
    #[arg(long)]
    scheduler_bin: Option<PathBuf>,
    /// Reads timed per endpoint under load.
    #[arg(long, default_value_t = 200)]
    reads: usize,
    /// The scheduler's --agent-lost-timeout-ms: how long a silent agent has before it is lost.
    #[arg(long, default_value_t = 15_000)]
    lost_after_ms: u64,
    /// The nice value of the hollow agents' threads (0: the scheduler's priority). They stand
    /// for other machines, so by default they yield the cores to the scheduler they measure.
    #[arg(long, default_value_t = 10)]
    fleet_nice: i32,
}

const SECRET: &str = "aurora-bench-cluster-secret-0123456789";

/// The real scheduler process, killed on drop.
struct Scheduler {
    child: Option<Child>,
    lost_after_ms: u64,
    bin: PathBuf,
    data: PathBuf,
    secret: PathBuf,
    port: u16,
}

impl Scheduler {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.bin)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--cluster-secret-file")
            .arg(&self.secret)
            .args(["--max-connections", "65536"])
            .args(["--agent-lost-timeout-ms", &self.lost_after_ms.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn rss_mib(&self) -> f64 {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return 0.0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What `/metrics` says, the lines this benchmark reads.
#[derive(Debug, Default, Clone, Copy)]
struct Metrics {
    running: u64,
    pending: u64,
    agents: u64,
    placed: f64,
    round_seconds: f64,
}

async fn metrics(http: &reqwest::Client, base: &str) -> anyhow::Result<Metrics> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut m = Metrics::default();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let v: f64 = value.parse().unwrap_or(0.0);
        match name {
            r#"aurora_tasks{status="RUNNING"}"# => m.running = v as u64,
            r#"aurora_tasks{status="PENDING"}"# => m.pending = v as u64,
            "aurora_agents_connected" => m.agents = v as u64,
            "aurora_placements_total" => m.placed = v,
            "aurora_schedule_round_seconds_total" => m.round_seconds = v,
            _ => {}
        }
    }
    Ok(m)
}

/// Polls `/metrics` until `done` holds; the time it took.
async fn until(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&Metrics) -> bool,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        if let Ok(m) = metrics(http, base).await
            && done(&m)
        {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling another process
    }
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort();
    let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i].as_secs_f64() * 1e3
}

fn job(name: &str, instances: usize) -> serde_json::Value {
    let mut j: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/hello_world.json"))
            .unwrap_or_default();
    j["role"] = "bench".into();
    j["name"] = name.into();
    j["instances"] = instances.into();
    serde_json::json!({ "config": j })
}

async fn timed_get(http: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        http.get(url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtimes = (|| -> std::io::Result<_> {
        // The hollow agents on runtime threads of their own, at a lower priority than the
        // scheduler they measure: on a real cluster they would be other machines.
        let nice = args.fleet_nice;
        let fleet = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hollow-agents")
            .on_thread_start(move || {
                // SAFETY: setpriority on the calling thread only (Linux threads have their own
                // nice value); a failure leaves the thread as it was.
                unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
            })
            .enable_all()
            .build()?;
        let main = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok((fleet, main))
    })();
    let (fleet, main) = match runtimes {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtimes: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = main.block_on(run(args, fleet.handle().clone()));
    drop(main);
    fleet.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, fleet_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    let bin = match args.scheduler_bin {
        Some(b) => b,
        None => std::env::current_exe()?
            .parent()
            .context("this binary's folder")?
            .join("aurora-scheduler"),
    };
    let dir = tempfile::tempdir()?;
    let secret = dir.path().join("cluster-secret");
    std::fs::write(&secret, SECRET)?;
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut scheduler = Scheduler {
        child: None,
        lost_after_ms: args.lost_after_ms,
        bin,
        data: dir.path().join("data"),
        secret,
        port,
    };
    scheduler.spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let generous = Duration::from_secs(600);
    until(
        &http,
        &base,
        "the scheduler serves",
        Duration::from_secs(30),
        |_| true,
    )
    .await?;

    // 1. Agents.
    let fleet = Arc::new(hollow::Fleet::default());
    let started = Instant::now();
    let mut agents = Vec::with_capacity(args.agents);
    for i in 0..args.agents {
        let id = format!("hollow-{i:05}");
        let credential = aurora_agent::cluster_secret::credential(SECRET, &id);
        agents.push(hollow::spawn(
            &fleet_runtime,
            &base,
            id,
            &credential,
            fleet.clone(),
        )?);
    }
    let n_agents = args.agents as u64;
    until(&http, &base, "agents connect", generous, |m| {
        m.agents >= n_agents
    })
    .await?;
    let connect_s = started.elapsed().as_secs_f64();

    // 2. Jobs, timed one by one while the scheduler places the ones before.
    let per_job = match args.jobs {
        Some(j) => args.tasks.div_ceil(j.max(1)),
        None => args.instances_per_job,
    }
    .max(1);
    let jobs = args.tasks.div_ceil(per_job);
    let before = metrics(&http, &base).await?;
    let first_create = Instant::now();
    let mut creates = Vec::with_capacity(jobs);
    let mut left = args.tasks;
    for j in 0..jobs {
        let n = left.min(per_job);
        left -= n;
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/jobs"))
            .json(&job(&format!("job{j:04}"), n))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("creating job{j:04}: {} {}", r.status(), r.text().await?);
        }
        creates.push(t.elapsed());
    }
    // 3. Every task RUNNING (with no agents: every task PENDING, the cluster's state before any
    // machine joins).
    let want = args.tasks as u64;
    let idle = args.agents == 0;
    until(&http, &base, "every task RUNNING", generous, |m| {
        if idle {
            m.pending >= want
        } else {
            m.running >= want
        }
    })
    .await?;
    let e2e = first_create.elapsed().as_secs_f64();
    let after = metrics(&http, &base).await?;
    let placements_per_s =
        (after.placed - before.placed) / (after.round_seconds - before.round_seconds).max(1e-9);

    // 4. Reads under load.
    let mut roles = timed_get(&http, &format!("{base}/api/v1/roles"), args.reads).await?;
    // A job as a page shows it (its first 100 tasks), and whole (every task: what `aurora job
    // status` reads); the first counts in read_p99_ms, the second is reported apart.
    let job = format!("{base}/api/v1/jobs/bench/prod/job0000");
    let mut job_reads = timed_get(&http, &format!("{job}?limit=100"), args.reads).await?;
    let mut job_whole = timed_get(&http, &job, args.reads.div_ceil(4)).await?;
    // The web UI's role page (every job of the role with its counts).
    let mut role_page = timed_get(&http, &format!("{base}/scheduler/bench"), args.reads).await?;
    let mut reads: Vec<Duration> = roles.iter().chain(&job_reads).copied().collect();
    let rss = scheduler.rss_mib();

    // 4b. 1 % of the agents hang: time until the scheduler has declared them lost and every
    // task runs again elsewhere.
    let hung = if idle { 0 } else { (args.agents / 100).max(1) };
    for a in agents.iter().take(hung) {
        a.silent.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let hung_at = Instant::now();
    let alive = n_agents - hung as u64;
    if hung > 0 {
        until(
            &http,
            &base,
            "hung agents' tasks RUNNING elsewhere",
            generous,
            |m| m.agents <= alive && m.running >= want,
        )
        .await?;
    }
    let lost_replaced_s = hung_at.elapsed().as_secs_f64();

    // 5. kill -9 and restart.
    scheduler.kill9();
    let killed = Instant::now();
    scheduler.spawn()?;
    until(&http, &base, "serving again", generous, |_| true).await?;
    let restart_s = killed.elapsed().as_secs_f64();
    until(&http, &base, "agents back, tasks RUNNING", generous, |m| {
        m.agents >= alive && (idle || m.running >= want)
    })
    .await?;
    let reconcile_s = killed.elapsed().as_secs_f64();

    let figures = serde_json::json!({
        "agents": args.agents,
        "tasks": args.tasks,
        "jobs": jobs,
        "connect_s": connect_s,
        "placements_per_s": placements_per_s,
        "e2e_running_per_s": args.tasks as f64 / e2e,
        "create_p50_ms": percentile(&mut creates.clone(), 0.5),
        "create_p99_ms": percentile(&mut creates, 0.99),
        "read_p50_ms": percentile(&mut reads.clone(), 0.5),
        "read_p99_ms": percentile(&mut reads, 0.99),
        "roles_p99_ms": percentile(&mut roles, 0.99),
        "job_p99_ms": percentile(&mut job_reads, 0.99),
        "job_whole_p99_ms": percentile(&mut job_whole, 0.99),
        "role_page_p99_ms": percentile(&mut role_page, 0.99),
        "restart_s": restart_s,
        "reconcile_s": reconcile_s,
        "scheduler_rss_mib": rss,
        "lost_replaced_s": lost_replaced_s,
        "lost_after_ms": args.lost_after_ms,
    });
    println!(
        "aurora-bench: {} hollow agents, {} tasks in {} jobs",
        args.agents, args.tasks, jobs
    );
    if let Some(map) = figures.as_object() {
        for (k, v) in map {
            match v.as_f64() {
                Some(f) if v.is_f64() => println!("  {k:<20} {f:>12.2}"),
                _ => println!("  {k:<20} {v:>12}"),
            }
        }
    }
    if args.json {
        println!("{figures}");
    }
    for a in agents {
        a.task.abort();
    }
    Ok(())
}
