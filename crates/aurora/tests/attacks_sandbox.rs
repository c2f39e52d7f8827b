//! What a task can do to the machine it runs on, tried for real: one scheduler and one
//! `aurora-agent` running as root (tasks run as their role's user, `www-data`, in their cgroups),
//! the real binaries, and tasks that attack the agent through their sandbox. Each test asserts
//! that the attack fails and that nothing leaked (`docs/security.md`, "Task → agent machine").
//!
//! These need root (the agent switches users and makes cgroups, as in production); elsewhere
//! they say so and pass. CI runs as root, so they run there.

use aurora_api::TaskView;
use aurora_client::{Client, ClientError};
use aurora_model::host::HostState;
use aurora_model::task::ScheduleStatus;
use aurora_model::{Job, JobKey};
use aurora_testkit::{free_port, kill_tasks_under, sibling_bin, wait_listening};
use serde_json::{Value, json};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(40);
const ROLE: &str = "www-data";

fn root() -> bool {
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root {
        eprintln!("SKIPPED: the sandbox attack tests need root (the agent runs tasks as www-data)");
    }
    is_root
}

/// A scheduler and one root agent on a temporary data directory; dropping it kills both and
/// every task process they started.
struct Machine {
    scheduler: Option<Child>,
    agent: Option<Child>,
    data: tempfile::TempDir,
    port: u16,
    client: Client,
    http: reqwest::Client,
}

impl Machine {
    async fn start() -> Machine {
        let data = tempfile::tempdir().expect("a data directory");
        // The task's user must reach its sandbox below the data directory.
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let port = free_port();
        let scheduler = Command::new(sibling_bin("aurora-scheduler"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data.path().join("scheduler"))
            .arg("--insecure-allow-anonymous")
            .args(["--allow-task-user", "www-data"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting aurora-scheduler");
        let mut m = Machine {
            scheduler: Some(scheduler),
            agent: None,
            data,
            port,
            client: Client::new(&format!("http://127.0.0.1:{port}")),
            http: reqwest::Client::new(),
        };
        wait_listening(port, "the scheduler never listened");
        m.start_agent();
        m.until("the agent is ACTIVE", async |m| m.agent_active().await)
            .await;
        m
    }

    fn work(&self) -> PathBuf {
        self.data.path().join("agent")
    }

    fn start_agent(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("agent.log"))
            .expect("the agent's log");
        let child = Command::new(sibling_bin("aurora-agent"))
            .args(["--scheduler", &format!("http://127.0.0.1:{}", self.port)])
            .args(["--hostname", "attacked", "--listen", "127.0.0.1:0"])
            .args(["--resources", "cpu=4,ram=4GB,disk=4GB"])
            .arg("--work-dir")
            .arg(self.work())
            // The secret the scheduler made (it exists once the scheduler listens).
            .arg("--cluster-secret-file")
            .arg(self.data.path().join("scheduler/cluster-secret"))
            .args(["--allow-task-user", "www-data"])
            // Must never reach a task.
            .env("AURORA_AGENT_ONLY_SECRET", "agent-environment-leaked")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting aurora-agent");
        self.agent = Some(child);
    }

    fn kill9_agent(&mut self) {
        if let Some(mut c) = self.agent.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn agent_active(&self) -> bool {
        self.client
            .hosts()
            .await
            .is_ok_and(|h| h.iter().any(|h| h.state == HostState::Active))
    }

    /// Where the (active) agent's file server listens, as the scheduler knows it.
    async fn agent_endpoint(&self) -> Option<String> {
        let hosts = self.client.hosts().await.ok()?;
        hosts
            .into_iter()
            .find(|h| h.state == HostState::Active)
            .map(|h| h.endpoint)
    }

    async fn isolation(&self) -> String {
        let hosts = self.client.hosts().await.expect("hosts");
        hosts
            .first()
            .map(|h| h.isolation.clone())
            .unwrap_or_default()
    }

    /// Polls `check` until it holds; fails after [`LIMIT`] with the agent's log.
    async fn until(&self, what: &str, mut check: impl AsyncFnMut(&Machine) -> bool) {
        let start = Instant::now();
        while !check(self).await {
            if start.elapsed() > LIMIT {
                let log = std::fs::read_to_string(self.data.path().join("agent.log"));
                panic!("never: {what}\nagent log:\n{}", log.unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // polling another process's API
        }
    }

    async fn create(&self, job: Job) -> Result<(), ClientError> {
        self.client.create_job(job).await.map(|_| ())
    }

    /// Waits until the job's only task satisfies `pred`; returns it.
    async fn task_where(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&TaskView) -> bool,
    ) -> TaskView {
        let key = JobKey::new(ROLE, "devel", name).expect("a job key");
        let start = Instant::now();
        loop {
            let tasks = self.client.job(&key).await.map(|d| d.tasks);
            if let Some(t) = tasks.iter().flatten().find(|t| pred(t)) {
                return t.clone();
            }
            if start.elapsed() > LIMIT {
                let log = std::fs::read_to_string(self.data.path().join("agent.log"));
                panic!(
                    "never: {name}: {what}: {tasks:#?}\nagent log:\n{}",
                    log.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // polling another process's API
        }
    }

    fn sandbox(&self, task_id: &str) -> PathBuf {
        self.work().join("sandboxes").join(task_id)
    }

    /// A sandbox file through the scheduler and the agent's file server: (status, body).
    async fn file(&self, task_id: &str, path: &str) -> (u16, String) {
        let base = format!(
            "http://127.0.0.1:{}/api/v1/tasks/{task_id}/files/content",
            self.port
        );
        let mut url = reqwest::Url::parse(&base).expect("a URL");
        url.query_pairs_mut().append_pair("path", path);
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("the scheduler answers in time");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    async fn kill_job(&self, name: &str) {
        let key = JobKey::new(ROLE, "devel", name).expect("a job key");
        self.client.kill(&key, None, None).await.expect("kill");
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Some(mut s) = self.scheduler.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        self.kill9_agent();
        kill_tasks_under(&self.work().join("sandboxes"));
    }
}

/// A job of `www-data` running `processes` (name, cmdline, max_failures), optionally with a
/// shell health check.
fn job(name: &str, processes: &[(&str, &str, i64)], health: Option<&str>) -> Job {
    let mut j: Value = aurora_testkit::example("hello_world");
    j["name"] = json!(name);
    j["role"] = json!(ROLE);
    j["environment"] = json!("devel");
    j["service"] = json!(false);
    j["task"]["finalization_wait"] = json!(1);
    j["task"]["constraints"] = json!([]);
    j["task"]["processes"] = processes
        .iter()
        .map(|(n, cmd, failures)| {
            json!({"name": n, "cmdline": cmd, "max_failures": failures, "daemon": false,
                   "ephemeral": false, "min_duration": 0, "final": false})
        })
        .collect();
    // Without a shell check, the example's HTTP checker checks nothing: no `health` port.
    match health {
        None => {}
        Some(cmd) => {
            j["health_check_config"] = json!({
                "health_checker": {"shell": {"shell_command": cmd}},
                "initial_interval_secs": 0.0, "interval_secs": 0.5, "max_consecutive_failures": 3,
                "min_consecutive_successes": 1, "timeout_secs": 5.0
            })
        }
    }
    serde_json::from_value(j).expect("a job")
}

fn is(status: ScheduleStatus) -> impl Fn(&TaskView) -> bool {
    move |t| t.status == status
}

fn ended(t: &TaskView) -> bool {
    t.status.is_terminal()
}

/// A folder in the data directory with `mode`, owned by root.
fn folder(m: &Machine, name: &str, mode: u32) -> PathBuf {
    let d = m.data.path().join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).expect("chmod");
    d
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_health_check_runs_as_the_task_user_in_its_cgroup_and_leaves_nothing() {
    if !root() {
        return;
    }
    let m = Machine::start().await;
    let shared = folder(&m, "shared", 0o777);
    let private = folder(&m, "root-only", 0o700);
    let check = format!(
        "id -u > {s}/uid; cat /proc/self/cgroup > {s}/cgroup; echo pwned > {p}/x; \
         sleep 300 & echo $! > {s}/child; true",
        s = shared.display(),
        p = private.display()
    );
    m.create(job("checked", &[("server", "sleep 300", 1)], Some(&check)))
        .await
        .expect("created");
    let t = m
        .task_where("checked", "healthy, RUNNING", is(ScheduleStatus::Running))
        .await;
    let uid = std::fs::read_to_string(shared.join("uid")).expect("the check ran");
    assert_eq!(uid.trim(), "33", "the check ran as www-data, not root");
    assert!(
        !private.join("x").exists(),
        "the check wrote where only root may"
    );
    if m.isolation().await.starts_with("cgroup") {
        let cg = std::fs::read_to_string(shared.join("cgroup")).expect("written");
        assert!(cg.contains(&t.task_id), "not in the task's cgroup: {cg}");
    }
    m.kill_job("checked").await;
    m.task_where("checked", "KILLED", is(ScheduleStatus::Killed))
        .await;
    let child: i32 = std::fs::read_to_string(shared.join("child"))
        .expect("the check started a child")
        .trim()
        .parse()
        .expect("a pid");
    m.until("the check's background child is gone", async |_| {
        !pid_alive(child)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_named_like_a_path_is_refused_at_submission() {
    if !root() {
        return;
    }
    let m = Machine::start().await;
    for bad in ["/tmp/aurora-attack", "../aurora-attack", ".."] {
        let j = job("pathname", &[("ok", "true", 1), (bad, "true", 1)], None);
        match m.create(j).await {
            Err(ClientError::Http { status, message }) => {
                assert_eq!(status, 400, "{message}");
                assert!(message.starts_with("task.processes[1].name: "), "{message}");
            }
            other => panic!("a process named {bad} was not refused: {other:?}"),
        }
    }
    assert!(!Path::new("/tmp/aurora-attack").exists());
    let sandboxes = std::fs::read_dir(m.work().join("sandboxes"));
    assert_eq!(sandboxes.map(|d| d.count()).unwrap_or(0), 0, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_does_not_write_logs_through_links_the_task_planted() {
    if !root() {
        return;
    }
    let m = Machine::start().await;
    let target_dir = folder(&m, "target-dir", 0o755);
    let target_file = m.data.path().join("target-file");
    std::fs::write(&target_file, "precious\n").expect("written");
    // Run 0 swaps its log folder for a link to a folder of root's, then fails: run 1's logs
    // would be made there.
    let swap = format!(
        "mv .logs/p .logs/p.old && ln -s {} .logs/p; exit 1",
        target_dir.display()
    );
    // Run 0 plants run 1's log files as links to a file of root's.
    let plant = format!(
        "mkdir -p .logs/p/1 && ln -s {f} .logs/p/1/stdout && ln -s {f} .logs/p/1/stderr; exit 1",
        f = target_file.display()
    );
    m.create(job("swapdir", &[("p", &swap, 2)], None))
        .await
        .expect("created");
    m.create(job("plant", &[("p", &plant, 2)], None))
        .await
        .expect("created");
    for name in ["swapdir", "plant"] {
        let t = m.task_where(name, "the task ends", ended).await;
        assert_eq!(t.status, ScheduleStatus::Failed, "{name}: {t:?}");
    }
    let listed: Vec<_> = std::fs::read_dir(&target_dir).expect("listed").collect();
    assert!(
        listed.is_empty(),
        "root wrote into the linked folder: {listed:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&target_file).expect("there"),
        "precious\n"
    );
    let md = std::fs::metadata(&target_file).expect("there");
    assert_eq!(
        (md.uid(), md.mode() & 0o777),
        (0, 0o644),
        "chowned or chmoded"
    );
    assert!(m.agent_active().await, "the agent stays up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_folder_for_a_link_to_root_never_serves_etc_shadow() {
    if !root() {
        return;
    }
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    let Some(secret) = shadow
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(str::to_owned)
    else {
        eprintln!("SKIPPED: this host has no /etc/shadow to protect");
        return;
    };
    let m = Machine::start().await;
    let race = "mkdir -p d/etc && echo decoy > d/etc/shadow; \
                while true; do mv d real; ln -s / d; sleep 0.005; rm d; mv real d; sleep 0.005; done";
    m.create(job("racer", &[("p", race, 1)], None))
        .await
        .expect("created");
    let t = m
        .task_where("racer", "RUNNING", is(ScheduleStatus::Running))
        .await;
    let (mut decoys, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    for _ in 0..400 {
        if Instant::now() > deadline {
            break;
        }
        let (status, body) = m.file(&t.task_id, "d/etc/shadow").await;
        assert!(
            !body.contains(&secret),
            "served /etc/shadow (status {status})"
        );
        if status == 200 && body == "decoy\n" {
            decoys += 1;
        } else {
            refused += 1;
        }
    }
    eprintln!("swap race: {decoys} decoy reads, {refused} refusals, no /etc/shadow");
    assert!(
        decoys > 0,
        "the folder was never read: the race was not exercised"
    );
    m.kill_job("racer").await;
    m.task_where("racer", "KILLED", is(ScheduleStatus::Killed))
        .await;
}

/// The agent's resident memory, in kB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_zero_and_forged_executor_files_do_not_hang_or_arm_the_restarted_agent() {
    if !root() {
        return;
    }
    let mut m = Machine::start().await;
    // Someone else's process group, which a forged checkpoint names.
    let mut victim = {
        use std::os::unix::process::CommandExt;
        Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .expect("a victim")
    };
    let v = victim.id();
    let plant = format!(
        "mkdir -p .executor && mkfifo .executor/checkpoint.json && \
         ln -s /dev/zero .executor/processes.json && \
         mkfifo fifo && ln -s /dev/zero zero && \
         echo '{{\"task_id\":\"x\",\"groups\":[{v}],\"terminal\":false}}' > forged.json; \
         cat ../../executor/*/checkpoint.json > stolen 2>&1; sleep 300"
    );
    m.create(job("planter", &[("p", &plant, 1)], None))
        .await
        .expect("created");
    let t = m
        .task_where("planter", "RUNNING", is(ScheduleStatus::Running))
        .await;
    let sandbox = m.sandbox(&t.task_id);
    m.until("the files are planted", async |_| {
        sandbox.join("forged.json").exists()
    })
    .await;
    // The executor's own state is root's, out of the task's reach.
    let state = m.work().join("executor").join(&t.task_id);
    let md = std::fs::metadata(&state).expect("the state directory");
    assert_eq!((md.uid(), md.mode() & 0o777), (0, 0o700));
    assert!(state.join("checkpoint.json").exists());
    let before = m.agent_endpoint().await;
    m.kill9_agent();
    m.start_agent();
    let agent_pid = m.agent.as_ref().expect("started").id();
    // Registered again: active with its new file server (the old one is gone with kill -9).
    m.until("the restarted agent is ACTIVE", async |m| {
        let now = m.agent_endpoint().await;
        now.is_some() && now != before
    })
    .await;
    // The served report comes from the executor's state, quickly, whatever the task planted.
    let url = format!(
        "http://127.0.0.1:{}/api/v1/tasks/{}/processes",
        m.port, t.task_id
    );
    let resp = m
        .http
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let report: Value = resp.expect("answered in time").json().await.expect("JSON");
    assert_eq!(report[0]["name"], "p", "{report}");
    for planted in ["fifo", "zero"] {
        let (status, _) = m.file(&t.task_id, planted).await;
        assert_eq!(status, 400, "{planted} was read");
    }
    assert!(
        m.agent
            .as_mut()
            .expect("started")
            .try_wait()
            .expect("wait")
            .is_none()
    );
    assert!(rss_kb(agent_pid) < 256 * 1024, "the agent's memory grew");
    let again = m
        .task_where("planter", "still RUNNING", is(ScheduleStatus::Running))
        .await;
    assert_eq!(
        again.task_id, t.task_id,
        "the task was re-adopted, not replaced"
    );
    assert!(
        pid_alive(v as i32),
        "a forged checkpoint got someone else's group killed"
    );
    let stolen = std::fs::read_to_string(sandbox.join("stolen")).unwrap_or_default();
    assert!(
        !stolen.contains("groups"),
        "the task read the checkpoint: {stolen}"
    );
    m.kill_job("planter").await;
    m.task_where("planter", "KILLED", is(ScheduleStatus::Killed))
        .await;
    assert!(
        pid_alive(v as i32),
        "killing the task killed someone else's group"
    );
    let _ = victim.kill();
    let _ = victim.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_gets_a_private_sandbox_and_a_clean_environment() {
    if !root() {
        return;
    }
    let m = Machine::start().await;
    m.create(job("envy", &[("p", "env | sort", 1)], None))
        .await
        .expect("created");
    let t = m
        .task_where("envy", "FINISHED", is(ScheduleStatus::Finished))
        .await;
    let sandbox = m.sandbox(&t.task_id);
    let md = std::fs::metadata(&sandbox).expect("the sandbox");
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (33, 33, 0o750));
    let log = sandbox.join(".logs/p/0/stdout");
    let md = std::fs::metadata(&log).expect("the log");
    assert_eq!((md.uid(), md.mode() & 0o777), (33, 0o640));
    let env = std::fs::read_to_string(&log).expect("the log");
    assert!(!env.contains("agent-environment-leaked"), "{env}");
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| !matches!(*k, "PWD" | "SHLVL" | "_"))
        .collect();
    let mut expected = [
        "HOME",
        "LOGNAME",
        "MESOS_SANDBOX",
        "PATH",
        "THERMOS_TASK_ID",
        "USER",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected, "{env}");
    assert!(
        env.contains(&format!("HOME={}\n", sandbox.display())),
        "{env}"
    );
    assert!(env.contains("USER=www-data\n"), "{env}");
    // Another user cannot read it.
    let other = {
        use std::os::unix::process::CommandExt;
        Command::new("cat")
            .arg(&log)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("cat runs")
    };
    assert!(!other.status.success(), "nobody read the task's log");
}
