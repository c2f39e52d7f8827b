//! Many machines, on one: a scheduler and three `aurora-agent` processes, each its own host (a
//! distinct `--hostname`, its file server on its own loopback address, its own work directory),
//! all authenticated with a cluster secret. The real binaries throughout: `aurora`, `aurora_admin`,
//! `aurora-scheduler`, `aurora-agent`, and real task processes.
//!
//! A partition is made by stopping an agent (SIGSTOP: it neither reports nor reads, its
//! connections stay open, as behind a cut cable) and resuming it.

use aurora_api::TaskView;
use aurora_client::Client;
use aurora_model::JobKey;
use aurora_model::host::HostState;
use aurora_model::task::ScheduleStatus;
use aurora_testkit::netns::Netns;
use aurora_testkit::{
    checkpoint_groups, client_command, free_port, home_with_clusters_json, kill_tasks_under,
    run_watched, sibling_bin, text,
};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(40);
const SECRET: &str = "a-cluster-secret-of-some-length";
const LOST_AFTER_MS: u64 = 4000;

struct Agent {
    child: Option<Child>,
    host: String,
    ip: String,
    work: PathBuf,
    /// The network namespace it runs in, and the scheduler's address seen from there.
    netns: Option<(String, String)>,
}

struct Cluster {
    scheduler: Option<Child>,
    listen_ip: String,
    port: u16,
    data: tempfile::TempDir,
    home: tempfile::TempDir,
    agents: Vec<Agent>,
    client: Client,
}

impl Cluster {
    fn secret_file(&self) -> PathBuf {
        self.home.path().join("cluster-secret")
    }

    fn start() -> Cluster {
        let mut c = Cluster::new("127.0.0.1");
        for i in 0..3 {
            c.add_agent(format!("host{i}"), format!("127.0.0.{}", i + 2), None);
        }
        c
    }

    /// A scheduler listening on `listen_ip`, no agents yet.
    fn new(listen_ip: &str) -> Cluster {
        let port = free_port();
        let home = home_with_clusters_json(&format!("http://127.0.0.1:{port}"), "");
        let data = tempfile::tempdir().unwrap();
        // Agents run as root and tasks as their role's user (www-data): it must reach its sandbox.
        std::fs::set_permissions(
            data.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut c = Cluster {
            scheduler: None,
            listen_ip: String::new(),
            port,
            data,
            home,
            agents: Vec::new(),
            client: Client::new(&format!("http://127.0.0.1:{port}")),
        };
        std::fs::write(c.secret_file(), SECRET).unwrap();
        std::fs::set_permissions(
            c.secret_file(),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        c.listen_ip = listen_ip.to_owned();
        c.start_scheduler();
        c
    }

    /// Starts one more agent, its file server on `ip`, in network namespace `netns` (with the
    /// scheduler's address as seen from there) if given.
    fn add_agent(&mut self, host: String, ip: String, netns: Option<(String, String)>) -> usize {
        let i = self.agents.len();
        self.agents.push(Agent {
            child: None,
            host,
            ip,
            work: self.data.path().join(format!("agent{i}")),
            netns,
        });
        self.start_agent(i);
        i
    }

    fn start_scheduler(&mut self) {
        let child = Command::new(sibling_bin("aurora-scheduler"))
            .args([
                "--listen",
                &format!("{}:{}", self.listen_ip, self.port),
                "--data-dir",
            ])
            .arg(self.data.path().join("scheduler"))
            .arg("--cluster-secret-file")
            .arg(self.secret_file())
            .args(["--agent-lost-timeout-ms", &LOST_AFTER_MS.to_string()])
            // Tasks run as their role's user, www-data (uid 33): a system account, allowed.
            .args(["--allow-task-user", "www-data"])
            // Users' authentication is not what these tests are about (see tests/auth.rs).
            .arg("--insecure-allow-anonymous")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.scheduler = Some(child);
    }

    fn start_agent(&mut self, i: usize) {
        let secret = self.secret_file();
        let a = &mut self.agents[i];
        let base = 31000 + 100 * i as u16;
        let (mut cmd, scheduler) = match &a.netns {
            Some((ns, scheduler_ip)) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns])
                    .arg(sibling_bin("aurora-agent"));
                (cmd, scheduler_ip.clone())
            }
            None => (
                Command::new(sibling_bin("aurora-agent")),
                "127.0.0.1".to_owned(),
            ),
        };
        let child = cmd
            .args(["--scheduler", &format!("http://{scheduler}:{}", self.port)])
            .args(["--hostname", &a.host])
            .args(["--listen", &format!("{}:0", a.ip)])
            .args(["--attribute", &format!("rack=r{i}")])
            .args(["--resources", "cpu=4,ram=4GB,disk=4GB"])
            .args(["--port-range", &format!("{base}-{}", base + 99)])
            .args(["--allow-task-user", "www-data"])
            .arg("--work-dir")
            .arg(&a.work)
            .arg("--cluster-secret-file")
            .arg(&secret)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.data.path().join(format!("agent{i}.log"))).unwrap())
            .spawn()
            .unwrap();
        a.child = Some(child);
    }

    fn kill9_agent(&mut self, i: usize) {
        if let Some(mut c) = self.agents[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal_agent(&self, i: usize, sig: Signal) {
        let pid = self.agents[i].child.as_ref().unwrap().id() as i32;
        kill(Pid::from_raw(pid), sig).unwrap();
    }

    fn admin(&self, args: &[&str]) -> Output {
        run_watched(
            client_command("aurora_admin", self.home.path()).args(args),
            String::new,
        )
    }

    fn aurora(&self, args: &[&str]) -> Output {
        run_watched(
            client_command("aurora", self.home.path()).args(args),
            String::new,
        )
    }

    /// Polls the scheduler until `pred` holds on the job's tasks (active and finished).
    async fn until(
        &self,
        key: &JobKey,
        what: &str,
        pred: impl Fn(&[TaskView]) -> bool,
    ) -> Vec<TaskView> {
        let start = Instant::now();
        loop {
            if let Ok(d) = self.client.job(key).await
                && pred(&d.tasks)
            {
                return d.tasks;
            }
            assert!(
                start.elapsed() < LIMIT,
                "never: {what}: {:#?}",
                self.client.job(key).await.map(|d| d.tasks)
            );
            tokio::time::sleep(Duration::from_millis(50)).await; // polling another process's API
        }
    }

    async fn hosts_in(&self, state: HostState, n: usize) {
        let start = Instant::now();
        loop {
            let hosts = self.client.hosts().await.unwrap_or_default();
            if hosts.iter().filter(|h| h.state == state).count() == n {
                return;
            }
            if start.elapsed() > LIMIT {
                for i in 0..self.agents.len() {
                    let log = self.data.path().join(format!("agent{i}.log"));
                    eprintln!(
                        "agent {i}: {}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
                panic!("never {n} hosts {state}: {hosts:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Process groups the checkpoint of a task on agent `i` names.
    fn groups(&self, i: usize, task_id: &str) -> Vec<i32> {
        checkpoint_groups(&self.agents[i].work.join("sandboxes").join(task_id))
    }

    fn agent_of(&self, t: &TaskView) -> usize {
        self.agents
            .iter()
            .position(|a| Some(&a.host) == t.host.as_ref())
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut s) = self.scheduler.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        for i in 0..self.agents.len() {
            if let Some(c) = &self.agents[i].child {
                let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            }
            self.kill9_agent(i);
            kill_tasks_under(&self.agents[i].work.join("sandboxes"));
        }
    }
}

fn alive(g: i32) -> bool {
    killpg(Pid::from_raw(g), None).is_ok()
}

fn running(tasks: &[TaskView]) -> Vec<&TaskView> {
    tasks
        .iter()
        .filter(|t| t.status == ScheduleStatus::Running)
        .collect()
}

/// The active task of an instance.
fn instance(tasks: &[TaskView], i: u32) -> Option<&TaskView> {
    tasks
        .iter()
        .find(|t| t.instance == i && !t.status.is_terminal())
}

fn write_job(dir: &Path, name: &str, instances: u32) -> PathBuf {
    write_job_with(dir, name, instances, "")
}

/// As [`write_job`], with more of the Service's fields (`extra`, each ending with a comma).
fn write_job_with(dir: &Path, name: &str, instances: u32, extra: &str) -> PathBuf {
    let f = dir.join(format!("{name}.aurora"));
    std::fs::write(
        &f,
        format!(
            "p = Process(name = 'hello', cmdline = 'while true; do echo hello; sleep 1; done')\n\
             jobs = [Service(cluster = 'devcluster', role = 'www-data', environment = 'prod', name = '{name}',\n\
               instances = {instances}, constraints = {{'host': 'limit:1'}}, {extra}\n\
               task = Task(processes = [p], resources = Resources(cpu = 0.5, ram = 64*MB, disk = 64*MB)))]\n"
        ),
    )
    .unwrap();
    f
}

/// A raw registration without the secret.
fn register_without_secret(port: u16) -> String {
    let body = r#"{"agent_id":"intruder","hostname":"evil","endpoint":"http://127.0.0.1:1","resources":{"cpu":64.0,"ram_mb":65536,"disk_mb":65536,"port_range":[1,2]}}"#;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /agent/v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_constraints_loss_partition_drain_and_restart() {
    let mut c = Cluster::start();
    c.hosts_in(HostState::Active, 3).await;
    let answer = register_without_secret(c.port);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("agent credential"), "{answer}");
    let dir = tempfile::tempdir().unwrap();

    // Four instances, one per host at most, three hosts: three run, one waits with the reason.
    let spread = JobKey::new("www-data", "prod", "spread").unwrap();
    let out = c.aurora(&[
        "job",
        "create",
        "devcluster/www-data/prod/spread",
        write_job(dir.path(), "spread", 4).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tasks = c
        .until(&spread, "3 RUNNING, 1 PENDING", |t| {
            running(t).len() == 3 && t.iter().any(|t| t.status == ScheduleStatus::Pending)
        })
        .await;
    let mut hosts: Vec<_> = running(&tasks)
        .iter()
        .map(|t| t.host.clone().unwrap())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["host0", "host1", "host2"]);
    let pending = tasks
        .iter()
        .find(|t| t.status == ScheduleStatus::Pending)
        .unwrap();
    assert_eq!(
        pending.pending_reason.as_deref(),
        Some("Constraint not satisfied: host")
    );
    let out = c.aurora(&["job", "status", "devcluster/www-data/prod/spread"]);
    assert!(
        text(&out.stdout).contains("pending reason: Constraint not satisfied: host"),
        "{}",
        text(&out.stdout)
    );
    let out = c.aurora(&["job", "killall", "devcluster/www-data/prod/spread"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Logs of a task on a remote agent come through the scheduler (which presents the secret).
    let shown = format!(
        "devcluster/www-data/prod/spread/{}",
        running(&tasks)[0].instance
    );
    let logs = c.aurora(&["task", "logs", "--tail", "1", &shown]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "hello\n");

    // Two instances on three hosts: kill -9 one agent, its instance moves to the free host.
    let pair = JobKey::new("www-data", "prod", "pair").unwrap();
    let out = c.aurora(&[
        "job",
        "create",
        "devcluster/www-data/prod/pair",
        write_job(dir.path(), "pair", 2).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tasks = c.until(&pair, "2 RUNNING", |t| running(t).len() == 2).await;
    let first = instance(&tasks, 0).unwrap().clone();
    let victim = c.agent_of(&first);
    let other = c.agent_of(instance(&tasks, 1).unwrap());
    let free = 3 - victim - other;
    let old_groups = c.groups(victim, &first.task_id);
    assert!(!old_groups.is_empty());
    c.kill9_agent(victim);
    let tasks = c
        .until(&pair, "instance 0 RUNNING on the free host", |t| {
            instance(t, 0).is_some_and(|x| {
                x.status == ScheduleStatus::Running
                    && x.host.as_deref() == Some(c.agents[free].host.as_str())
            })
        })
        .await;
    let lost = tasks.iter().find(|t| t.task_id == first.task_id).unwrap();
    assert_eq!(lost.status, ScheduleStatus::Lost);
    assert!(
        lost.events
            .last()
            .unwrap()
            .message
            .as_deref()
            .unwrap_or("")
            .contains("stopped reporting")
    );
    let out = c.admin(&["hosts", "devcluster"]);
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with(&c.agents[victim].host))
        .unwrap();
    assert!(line.contains("LOST"), "{table}");

    // The agent comes back with the old task still running (its processes survived kill -9):
    // that copy is killed there, so the instance does not run twice.
    assert!(
        old_groups.iter().any(|g| alive(*g)),
        "the old copy survived its agent"
    );
    c.start_agent(victim);
    let start = Instant::now();
    while old_groups.iter().any(|g| alive(*g)) {
        assert!(
            start.elapsed() < LIMIT,
            "the replaced copy still runs on the returning agent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.hosts_in(HostState::Active, 3).await;

    // A partition: the agent of instance 1 stops answering; the instance is replaced elsewhere;
    // when the agent is back, its stale copy is killed.
    let tasks = c.client.job(&pair).await.unwrap().tasks;
    let second = instance(&tasks, 1).unwrap().clone();
    let cut = c.agent_of(&second);
    let cut_groups = c.groups(cut, &second.task_id);
    c.signal_agent(cut, Signal::SIGSTOP);
    c.until(&pair, "instance 1 replaced", |t| {
        instance(t, 1)
            .is_some_and(|x| x.status == ScheduleStatus::Running && x.task_id != second.task_id)
    })
    .await;
    assert!(
        cut_groups.iter().any(|g| alive(*g)),
        "the cut-off copy runs on meanwhile"
    );
    c.signal_agent(cut, Signal::SIGCONT);
    let start = Instant::now();
    while cut_groups.iter().any(|g| alive(*g)) {
        assert!(
            start.elapsed() < LIMIT,
            "two copies of instance 1 keep running after the partition"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.hosts_in(HostState::Active, 3).await;
    let tasks = c.client.job(&pair).await.unwrap().tasks;
    assert_eq!(running(&tasks).len(), 2, "{tasks:#?}");

    // Drain the host of instance 0: the instance moves off it, and the host takes nothing new.
    let drained = instance(&tasks, 0).unwrap().host.clone().unwrap();
    let out = c.admin(&["host_drain", &format!("--hosts={drained}"), "devcluster"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{drained} is in state: DRAINED\n")
    );
    let tasks = c
        .until(&pair, "instance 0 RUNNING elsewhere", |t| {
            instance(t, 0).is_some_and(|x| {
                x.status == ScheduleStatus::Running && x.host.as_deref() != Some(drained.as_str())
            })
        })
        .await;
    assert!(
        running(&tasks)
            .iter()
            .all(|t| t.host.as_deref() != Some(drained.as_str()))
    );
    let out = c.admin(&[
        "host_maintenance_status",
        &format!("--hosts={drained}"),
        "devcluster",
    ]);
    assert_eq!(
        text(&out.stdout),
        format!("{drained} is in state: DRAINED\n")
    );
    let table = text(&c.admin(&["hosts", "devcluster"]).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&drained) && l.contains("DRAINED")),
        "{table}"
    );
    let out = c.admin(&["host_activate", &format!("--hosts={drained}"), "devcluster"]);
    assert_eq!(text(&out.stdout), format!("{drained} is in state: NONE\n"));

    // kill -9 of the scheduler: after its restart every task runs on, reconciled, none added.
    let before: Vec<String> = running(&c.client.job(&pair).await.unwrap().tasks)
        .iter()
        .map(|t| t.task_id.clone())
        .collect();
    if let Some(mut s) = c.scheduler.take() {
        s.kill().unwrap();
        s.wait().unwrap();
    }
    c.start_scheduler();
    c.hosts_in(HostState::Active, 3).await;
    let tasks = c
        .until(&pair, "2 RUNNING after the restart", |t| {
            running(t).len() == 2
        })
        .await;
    let mut after: Vec<String> = running(&tasks).iter().map(|t| t.task_id.clone()).collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(after, before, "the same tasks, still running");
}

/// Two hosts, `local0` on loopback and `far` in the network namespace `net`, and a job `name` of
/// two instances (one a host, so one on each; `extra` as in [`write_job_with`]) RUNNING.
struct AcrossTheNetwork {
    c: Cluster,
    /// The far agent's index.
    far: usize,
    key: JobKey,
    /// The instance on the far host.
    stranded: TaskView,
}

async fn across_the_network(net: &Netns, name: &str, extra: &str) -> AcrossTheNetwork {
    // The scheduler listens on every address; agents authenticate with the cluster secret.
    let mut c = Cluster::new("0.0.0.0");
    c.add_agent("local0".into(), "127.0.0.2".into(), None);
    let far = c.add_agent(
        "far".into(),
        net.ns_ip.clone(),
        Some((net.name.clone(), net.host_ip.clone())),
    );
    c.hosts_in(HostState::Active, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let key = JobKey::new("www-data", "prod", name).unwrap();
    let out = c.aurora(&[
        "job",
        "create",
        &format!("devcluster/www-data/prod/{name}"),
        write_job_with(dir.path(), name, 2, extra).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tasks = c.until(&key, "2 RUNNING", |t| running(t).len() == 2).await;
    let stranded = running(&tasks)
        .into_iter()
        .find(|t| t.host.as_deref() == Some("far"))
        .expect("an instance on the far host")
        .clone();
    AcrossTheNetwork {
        c,
        far,
        key,
        stranded,
    }
}

/// An agent cut off by the network is lost, its instance replaced elsewhere while its copy runs
/// on, cut off; when the network comes back, the copy is killed there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_by_the_network_is_replaced_and_its_copy_killed_when_it_returns() {
    let Some(net) = Netns::create(0) else {
        return;
    };
    let AcrossTheNetwork {
        mut c,
        far,
        key: pair,
        stranded,
    } = across_the_network(&net, "pair", "").await;
    // Its output crosses the veth: the scheduler fetches it from the far agent (RUNNING may
    // come before the shell has run its echo: the log is read until it shows).
    let start = Instant::now();
    loop {
        let logs = c.aurora(&[
            "task",
            "logs",
            "--tail",
            "1",
            &format!("devcluster/www-data/prod/pair/{}", stranded.instance),
        ]);
        assert!(logs.status.success(), "{}", text(&logs.stderr));
        if text(&logs.stdout) == "hello\n" {
            break;
        }
        assert!(
            text(&logs.stdout).is_empty() && start.elapsed() < LIMIT,
            "{:?}",
            text(&logs.stdout)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A host with room for the instance joins.
    c.add_agent("local1".into(), "127.0.0.3".into(), None);
    c.hosts_in(HostState::Active, 3).await;
    let groups = c.groups(far, &stranded.task_id);
    assert!(!groups.is_empty());

    net.link(false);
    c.until(&pair, "the cut-off instance replaced", |t| {
        instance(t, stranded.instance).is_some_and(|x| {
            x.status == ScheduleStatus::Running && x.host.as_deref() == Some("local1")
        })
    })
    .await;
    assert!(
        groups.iter().any(|g| alive(*g)),
        "the far copy runs on, cut off"
    );

    net.link(true);
    let start = Instant::now();
    while groups.iter().any(|g| alive(*g)) {
        assert!(
            start.elapsed() < LIMIT,
            "the far copy still runs after the network came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.hosts_in(HostState::Active, 3).await;
    let tasks = c.client.job(&pair).await.unwrap().tasks;
    assert_eq!(running(&tasks).len(), 2, "{tasks:#?}");
    assert!(
        running(&tasks)
            .iter()
            .all(|t| t.host.as_deref() != Some("far"))
    );
}

/// A job whose partition policy does not reschedule: its instance on a machine cut off waits as
/// PARTITIONED (nothing replaces it, though a host has room), its processes run on, and when the
/// network comes back the same task is RUNNING again there, not killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_task_waits_for_its_machine_when_its_policy_says_so() {
    let Some(net) = Netns::create(1) else {
        return;
    };
    let policy = "partition_policy = PartitionPolicy(reschedule = False),";
    let AcrossTheNetwork {
        mut c,
        far,
        key,
        stranded,
    } = across_the_network(&net, "patient", policy).await;
    c.add_agent("local1".into(), "127.0.0.3".into(), None);
    c.hosts_in(HostState::Active, 3).await;
    let groups = c.groups(far, &stranded.task_id);
    assert!(!groups.is_empty());

    net.link(false);
    c.until(&key, "the cut-off instance PARTITIONED", |t| {
        instance(t, stranded.instance).is_some_and(|x| {
            x.task_id == stranded.task_id && x.status == ScheduleStatus::Partitioned
        })
    })
    .await;
    let tasks = c.client.job(&key).await.unwrap().tasks;
    assert!(
        tasks.iter().all(|t| t.host.as_deref() != Some("local1")),
        "nothing replaced it: {tasks:#?}"
    );
    assert!(groups.iter().any(|g| alive(*g)), "it runs on, cut off");

    net.link(true);
    c.until(&key, "the same task RUNNING again on its machine", |t| {
        instance(t, stranded.instance)
            .is_some_and(|x| x.task_id == stranded.task_id && x.status == ScheduleStatus::Running)
    })
    .await;
    assert!(groups.iter().all(|g| alive(*g)), "not killed");
    let tasks = c.client.job(&key).await.unwrap().tasks;
    assert_eq!(running(&tasks).len(), 2, "{tasks:#?}");
}
