//! Several schedulers on etcd, end to end: a real three-member etcd cluster (the testkit's, on
//! loopback), three real `aurora-scheduler --etcd` processes with their own data directories,
//! one real `aurora-agent` that knows all three, the real `aurora` client and real tasks.
//!
//! - exactly one leads (`/leaderhealth`); a client pointed at a follower works (redirected);
//! - kill -9 of the leader during a stream of creates: a new leader serves writes within 10 s,
//!   every acknowledged create is there, the running task is neither restarted nor duplicated;
//! - 20 rounds of kill -9 of the leader under a stream of creates: no acknowledged write lost;
//! - a leader paused past its lease is replaced, and once resumed it acknowledges nothing (the
//!   fence) and stops;
//! - a leader cut off from etcd (a network namespace whose route to etcd is black-holed) stops
//!   within its lease and another takes over; started again once it can reach etcd, it follows;
//! - a backup restored with the recovery commands brings back the jobs it held.

use aurora_client::Client;
use aurora_model::task::ScheduleStatus;
use aurora_testkit::etcd::EtcdCluster;
use aurora_testkit::netns::Netns;
use aurora_testkit::{
    client_command, example, free_port, home_with_clusters_json, kill_tasks_under, run_watched,
    sibling_bin, text,
};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "a-cluster-secret-of-some-length";
const LIMIT: Duration = Duration::from_secs(60);

struct Scheduler {
    child: Option<Child>,
    /// The address it listens on (127.0.0.1, or a network namespace's).
    ip: String,
    port: u16,
    data: PathBuf,
    /// The etcd endpoints it is given.
    etcd: String,
    /// The network namespace it runs in.
    netns: Option<String>,
}

/// Three schedulers on one etcd, and (when asked) an agent.
struct Ha {
    schedulers: Vec<Scheduler>,
    agent: Option<Child>,
    root: tempfile::TempDir,
    _etcd: EtcdCluster,
}

impl Drop for Ha {
    fn drop(&mut self) {
        for s in &mut self.schedulers {
            if let Some(mut c) = s.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
        kill_tasks_under(&self.root.path().join("agent/sandboxes"));
    }
}

impl Ha {
    fn start() -> Option<Ha> {
        Self::start_with(None)
    }

    /// Three schedulers; with `net`, the first runs in that network namespace and reaches etcd
    /// at the host address given.
    fn start_with(net: Option<(&Netns, &str)>) -> Option<Ha> {
        let etcd = match net {
            Some((_, address)) => EtcdCluster::start_on(3, &[address])?,
            None => EtcdCluster::start(3)?,
        };
        let root = tempfile::tempdir().unwrap();
        // Tasks run as their role's user (www-data) when the agent runs as root.
        std::fs::set_permissions(
            root.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let secret = root.path().join("cluster-secret");
        std::fs::write(&secret, SECRET).unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let mut ha = Ha {
            schedulers: (0..3)
                .map(|i| {
                    let (ip, etcd_endpoints, netns) = match (i, net) {
                        (0, Some((ns, address))) => (
                            ns.ns_ip.clone(),
                            etcd.endpoints_on(address),
                            Some(ns.name.clone()),
                        ),
                        _ => ("127.0.0.1".to_owned(), etcd.endpoints_flag(), None),
                    };
                    Scheduler {
                        child: None,
                        ip,
                        port: free_port(),
                        data: root.path().join(format!("scheduler{i}")),
                        etcd: etcd_endpoints,
                        netns,
                    }
                })
                .collect(),
            agent: None,
            root,
            _etcd: etcd,
        };
        for i in 0..3 {
            ha.spawn(i);
        }
        Some(ha)
    }

    fn secret(&self) -> PathBuf {
        self.root.path().join("cluster-secret")
    }

    fn url(&self, i: usize) -> String {
        let s = &self.schedulers[i];
        format!("http://{}:{}", s.ip, s.port)
    }

    fn all_urls(&self) -> String {
        (0..3).map(|i| self.url(i)).collect::<Vec<_>>().join(",")
    }

    fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join(format!("scheduler{i}.log")))
            .unwrap();
        let s = &self.schedulers[i];
        let mut cmd = match &s.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns])
                    .arg(sibling_bin("aurora-scheduler"));
                c
            }
            None => Command::new(sibling_bin("aurora-scheduler")),
        };
        let child = cmd
            .args(["--listen", &format!("{}:{}", s.ip, s.port)])
            .arg("--data-dir")
            .arg(&s.data)
            .args(["--etcd", &s.etcd])
            .args(["--etcd-lease-ttl-secs", "2"])
            .arg("--cluster-secret-file")
            .arg(self.secret())
            .args(["--allow-task-user", "www-data"])
            .args(["--agent-lost-timeout-ms", "20000"])
            // Users' authentication is not what these tests are about (see tests/auth.rs); the
            // namespace's scheduler listens on an address other than loopback.
            .arg("--insecure-allow-anonymous")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.schedulers[i].child = Some(child);
    }

    fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.schedulers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn start_agent(&mut self) {
        let child = Command::new(sibling_bin("aurora-agent"))
            .args(["--scheduler", &self.all_urls()])
            .args(["--hostname", "host0", "--listen", "127.0.0.1:0"])
            .args(["--resources", "cpu=4,ram=4GB,disk=4GB"])
            .args(["--port-range", "33000-33099"])
            .args(["--allow-task-user", "www-data"])
            .arg("--work-dir")
            .arg(self.root.path().join("agent"))
            .arg("--cluster-secret-file")
            .arg(self.secret())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.root.path().join("agent.log")).unwrap())
            .spawn()
            .unwrap();
        self.agent = Some(child);
    }

    /// What `/leaderhealth` says of each running scheduler (None: not answering).
    fn leader_health(&self) -> Vec<Option<u16>> {
        (0..3)
            .map(|i| {
                self.schedulers[i].child.as_ref().and_then(|_| {
                    let s = &self.schedulers[i];
                    http_status(&s.ip, s.port, "/leaderhealth")
                })
            })
            .collect()
    }

    /// Waits until exactly one scheduler leads and the others follow; its index.
    fn one_leader(&self) -> usize {
        let start = Instant::now();
        loop {
            let health = self.leader_health();
            let leaders: Vec<usize> = (0..3).filter(|&i| health[i] == Some(200)).collect();
            let running = self.schedulers.iter().filter(|s| s.child.is_some()).count();
            let followers = health.iter().filter(|h| **h == Some(503)).count();
            if leaders.len() == 1 && followers + 1 == running {
                return leaders[0];
            }
            assert!(leaders.len() <= 1, "two leaders: {health:?}");
            assert!(
                start.elapsed() < LIMIT,
                "no single leader: {health:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50)); // other processes' election
        }
    }

    /// Waits for scheduler `i` to stop by itself, with exit status `code`.
    fn stopped_with(&mut self, i: usize, code: i32) {
        let status = self.schedulers[i].child.as_mut().unwrap().wait().unwrap();
        assert_eq!(status.code(), Some(code), "{}", self.logs());
        self.schedulers[i].child = None;
    }

    fn logs(&self) -> String {
        (0..3)
            .map(|i| {
                let t = std::fs::read_to_string(self.root.path().join(format!("scheduler{i}.log")))
                    .unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                format!(
                    "--- scheduler{i}\n{}",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The status of `GET path` on ip:port (None when nothing answers).
fn http_status(ip: &str, port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn job_named(name: &str) -> aurora_model::Job {
    let mut j: aurora_model::Job = serde_json::from_value(example("hello_world")).unwrap();
    j.name = name.into();
    j
}

/// Creates jobs `PREFIX-N` one after another on `schedulers` until `stop`, recording each
/// acknowledged (201) one; creates that fail (no leader yet) are simply tried again later.
fn create_stream(
    schedulers: String,
    prefix: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acked: Arc<Mutex<Vec<(String, Instant)>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Its own client: a client's pooled connections belong to the runtime that made them.
        let client = Client::new(&schedulers);
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let name = format!("{prefix}{n}");
            match rt.block_on(client.create_job(job_named(&name))) {
                Ok(_) => {
                    acked.lock().unwrap().push((name, Instant::now()));
                    n += 1;
                }
                // Refused because it already exists: acknowledged by a leader that died before
                // answering. Not counted as acknowledged here; move on.
                Err(aurora_client::ClientError::Http { status: 409, .. }) => n += 1,
                Err(e) => {
                    if n % 50 == 0 {
                        eprintln!("create {name}: {e}");
                    }
                    std::thread::sleep(Duration::from_millis(20)); // a failover under way
                }
            }
        }
    })
}

/// The names of the jobs stored, asked of `schedulers` with a new client (as each `aurora`
/// command is: a client kept on an idle current-thread runtime may hold a connection to the
/// killed leader that nothing noticed was closed).
fn stored_jobs(schedulers: &str) -> BTreeSet<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(schedulers);
    let start = Instant::now();
    loop {
        match rt.block_on(client.list_jobs(None, None)) {
            Ok(jobs) => return jobs.into_iter().map(|j| j.name).collect(),
            Err(e) => {
                assert!(start.elapsed() < LIMIT, "listing jobs: {e}");
                std::thread::sleep(Duration::from_millis(50)); // a failover under way
            }
        }
    }
}

#[test]
fn one_leader_a_follower_redirects_and_a_killed_leader_loses_nothing() {
    let Some(mut ha) = Ha::start() else {
        return;
    };
    let leader = ha.one_leader();
    let follower = (leader + 1) % 3;
    ha.start_agent();

    // The client is pointed at a follower only: it is redirected to the leader.
    let home = home_with_clusters_json(&ha.url(follower), "");
    let out = run_watched(
        client_command("aurora", home.path())
            .args(["job", "create", "--wait-until", "RUNNING"])
            .arg("devcluster/www-data/prod/hello")
            .arg(aurora_testkit::workspace_root().join("examples/hello_world.aurora")),
        || ha.logs(),
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stderr), ha.logs());
    let client = Client::new(&ha.all_urls());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = aurora_model::JobKey::new("www-data", "prod", "hello").unwrap();
    let before = rt.block_on(client.job(&key)).unwrap().tasks;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].status, ScheduleStatus::Running);

    // A stream of creates; the leader is killed in the middle of it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writer = create_stream(ha.all_urls(), "burst", stop.clone(), acked.clone());
    let start = Instant::now();
    while acked.lock().unwrap().len() < 10 {
        assert!(start.elapsed() < LIMIT, "no creates acknowledged");
        std::thread::sleep(Duration::from_millis(10)); // the writer thread's progress
    }
    let killed_at = Instant::now();
    ha.kill9(leader);
    let new_leader = ha.one_leader();
    assert_ne!(new_leader, leader);
    // The first write the new leader acknowledged.
    let served = loop {
        if let Some((_, at)) = acked.lock().unwrap().iter().find(|(_, at)| *at > killed_at) {
            break *at;
        }
        assert!(
            killed_at.elapsed() < LIMIT,
            "no write after the failover\n{}",
            ha.logs()
        );
        std::thread::sleep(Duration::from_millis(10)); // the writer thread's progress
    };
    let failover = served - killed_at;
    eprintln!("failover: a write acknowledged by the new leader {failover:?} after the kill -9");
    assert!(
        failover < Duration::from_secs(10),
        "failover took {failover:?}"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();

    let stored = stored_jobs(&ha.all_urls());
    for (name, _) in acked.lock().unwrap().iter() {
        assert!(stored.contains(name), "acknowledged {name} is gone");
    }
    // The running task was kept: the same task, RUNNING, and no second one.
    let client = Client::new(&ha.all_urls());
    let start = Instant::now();
    loop {
        let after = rt.block_on(client.job(&key)).unwrap().tasks;
        let active: Vec<_> = after.iter().filter(|t| t.status.is_active()).collect();
        assert!(active.len() <= 1, "duplicated: {after:?}");
        if active.len() == 1 && active[0].status == ScheduleStatus::Running {
            assert_eq!(active[0].task_id, before[0].task_id, "restarted: {after:?}");
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "the task is not running: {after:?}"
        );
        std::thread::sleep(Duration::from_millis(50)); // the agent re-registers
    }
    // The web UI says which scheduler leads (the one serving it; a follower redirects there).
    let page = rt
        .block_on(async {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap()
                .get(format!(
                    "{}/scheduler",
                    ha.url(leader_or_next(leader, new_leader))
                ))
                .send()
                .await?
                .text()
                .await
        })
        .unwrap();
    assert!(
        page.contains(&format!("leader: {}", ha.url(new_leader))),
        "{page}"
    );
    // The killed scheduler comes back as a follower.
    ha.spawn(leader);
    assert_eq!(ha.one_leader(), new_leader);
}

/// A scheduler still running other than the new leader (a follower), to be redirected.
fn leader_or_next(killed: usize, leader: usize) -> usize {
    (0..3)
        .find(|&i| i != killed && i != leader)
        .unwrap_or(leader)
}

#[test]
fn twenty_rounds_of_kill_9_of_the_leader_lose_no_acknowledged_write() {
    let Some(mut ha) = Ha::start() else {
        return;
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writer = create_stream(ha.all_urls(), "round", stop.clone(), acked.clone());
    for round in 0..20 {
        let leader = ha.one_leader();
        let seen = acked.lock().unwrap().len();
        let start = Instant::now();
        // Some writes on this leader first (a random few), then kill -9 it mid-stream.
        let more = 1 + (round * 7 + 3) % 5;
        while acked.lock().unwrap().len() < seen + more {
            assert!(
                start.elapsed() < LIMIT,
                "round {round}: no writes\n{}",
                ha.logs()
            );
            std::thread::sleep(Duration::from_millis(5)); // the writer thread's progress
        }
        ha.kill9(leader);
        ha.spawn(leader);
    }
    ha.one_leader();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    let acked: Vec<String> = acked
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let stored = stored_jobs(&ha.all_urls());
    let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(*n)).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    assert!(
        acked.len() >= 40,
        "only {} writes acknowledged",
        acked.len()
    );
}

#[test]
fn a_paused_leader_is_replaced_and_acknowledges_nothing_once_resumed() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(mut ha) = Ha::start() else {
        return;
    };
    let leader = ha.one_leader();
    let pid = Pid::from_raw(ha.schedulers[leader].child.as_ref().unwrap().id() as i32);
    // Paused (as a leader cut off from etcd is): its lease runs out and another is elected.
    kill(pid, Signal::SIGSTOP).unwrap();
    let start = Instant::now();
    let new_leader = loop {
        let health = ha.leader_health();
        if let Some(i) = (0..3).find(|&i| i != leader && health[i] == Some(200)) {
            break i;
        }
        assert!(start.elapsed() < LIMIT, "no new leader: {health:?}");
        std::thread::sleep(Duration::from_millis(50)); // the others' election
    };
    let client = Client::new(&ha.url(new_leader));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(client.create_job(job_named("after"))).unwrap();
    // Resumed: it learns it lost its lease and stops, having acknowledged nothing.
    let old = Client::new(&ha.url(leader));
    let write = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(old.create_job(job_named("stale")))
    });
    kill(pid, Signal::SIGCONT).unwrap();
    assert!(
        write.join().unwrap().is_err(),
        "the deposed leader acknowledged a write"
    );
    ha.stopped_with(leader, 75);
    let stored = stored_jobs(&ha.url(new_leader));
    assert!(
        stored.contains("after") && !stored.contains("stale"),
        "{stored:?}"
    );
    // Started again, it follows.
    ha.spawn(leader);
    assert_eq!(ha.one_leader(), new_leader);
}

#[test]
fn a_backup_restored_with_the_recovery_commands_brings_back_its_jobs() {
    let Some(mut ha) = Ha::start() else {
        return;
    };
    let leader = ha.one_leader();
    let uris: Vec<String> = (0..3).map(|i| format!("\"{}\"", ha.url(i))).collect();
    let home = home_with_clusters_json(
        &ha.url(leader),
        &format!(", \"scheduler_uris\": [{}]", uris.join(",")),
    );
    let admin = |args: &[&str]| {
        let out = run_watched(
            client_command("aurora_admin", home.path()).args(args),
            || ha.logs(),
        );
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(&ha.url(leader));
    for name in ["keep", "pruned"] {
        rt.block_on(client.create_job(job_named(name))).unwrap();
    }
    let taken = admin(&["scheduler_backup_now", "devcluster"]);
    let backup = taken
        .trim()
        .strip_prefix("Backup complete: ")
        .unwrap_or_else(|| panic!("{taken}"))
        .to_owned();
    rt.block_on(client.create_job(job_named("later"))).unwrap();
    assert!(admin(&["scheduler_list_backups", "devcluster"]).contains(&backup));

    assert!(
        admin(&["scheduler_stage_recovery", "devcluster", &backup]).contains("2 job(s), 2 task(s)")
    );
    let tasks = admin(&["scheduler_print_recovery_tasks", "devcluster"]);
    let pruned: String = tasks
        .lines()
        .find(|l| l.contains("www-data/prod/pruned/0"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("{tasks}"))
        .to_owned();
    assert!(
        admin(&["scheduler_delete_recovery_tasks", "devcluster", &pruned])
            .contains("2 job(s), 1 task(s)")
    );
    assert!(admin(&["scheduler_commit_recovery", "devcluster"]).contains("restarts"));
    // The leader restarts (exit 75) to load it; another leads, from the replicated log.
    ha.stopped_with(leader, 75);
    let new_leader = ha.one_leader();
    assert_ne!(new_leader, leader);
    let stored = stored_jobs(&ha.url(new_leader));
    assert_eq!(
        stored,
        BTreeSet::from(["keep".to_owned(), "pruned".to_owned()]),
        "the backup's jobs, and not the later one"
    );
    let client = Client::new(&ha.url(new_leader));
    let key = |n: &str| aurora_model::JobKey::new("www-data", "prod", n).unwrap();
    let kept = rt.block_on(client.job(&key("keep"))).unwrap();
    assert_eq!(kept.tasks.len(), 1);
    let pruned_job = rt.block_on(client.job(&key("pruned"))).unwrap();
    assert!(
        pruned_job.tasks.iter().all(|t| t.task_id != pruned),
        "a deleted recovery task came back: {:?}",
        pruned_job.tasks
    );
    // The restarted scheduler follows, its replica holding the recovery too.
    ha.spawn(leader);
    assert_eq!(ha.one_leader(), new_leader);
}

#[test]
fn a_leader_cut_off_from_etcd_stops_and_another_takes_over() {
    let Some(net) = Netns::create(1) else {
        return;
    };
    let etcd_address = net.add_host_address(3);
    let Some(mut ha) = Ha::start_with(Some((&net, &etcd_address))) else {
        return;
    };
    // The namespace's scheduler leads: the others wait until it does to start.
    ha.kill9(1);
    ha.kill9(2);
    let start = Instant::now();
    while ha.leader_health()[0] != Some(200) {
        assert!(start.elapsed() < LIMIT, "it never led\n{}", ha.logs());
        std::thread::sleep(Duration::from_millis(50)); // its election
    }
    ha.spawn(1);
    ha.spawn(2);
    assert_eq!(ha.one_leader(), 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(Client::new(&ha.url(0)).create_job(job_named("before")))
        .unwrap();

    // Cut off from etcd (clients still reach it).
    net.blackhole(&etcd_address, true);
    let cut_at = Instant::now();
    let new_leader = loop {
        let health = ha.leader_health();
        if let Some(i) = (1..3).find(|&i| health[i] == Some(200)) {
            break i;
        }
        assert!(
            cut_at.elapsed() < LIMIT,
            "no new leader: {health:?}\n{}",
            ha.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // the others' election
    };
    eprintln!("cut off: another leads {:?} later", cut_at.elapsed());
    // The cut-off leader acknowledges nothing and stops within its lease (2 s) and a margin.
    let write = rt.block_on(Client::new(&ha.url(0)).create_job(job_named("stranded")));
    assert!(
        write.is_err(),
        "a leader cut off from etcd acknowledged a write"
    );
    let child = ha.schedulers[0].child.as_mut().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            cut_at.elapsed() < Duration::from_secs(15),
            "it did not stop"
        );
        std::thread::sleep(Duration::from_millis(50)); // its lease keeper's verdict
    };
    assert!(matches!(status.code(), Some(75) | Some(70)), "{status:?}");
    ha.schedulers[0].child = None;
    rt.block_on(Client::new(&ha.url(new_leader)).create_job(job_named("after")))
        .unwrap();

    // Back on the network and started again (as its supervisor would): it follows.
    net.blackhole(&etcd_address, false);
    ha.spawn(0);
    assert_eq!(ha.one_leader(), new_leader);
    let stored = stored_jobs(&ha.url(new_leader));
    assert!(
        stored.contains("before") && stored.contains("after") && !stored.contains("stranded"),
        "{stored:?}"
    );
}
