//! Keeping tasks from hurting each other or the machine: who a task's processes run as
//! ([`RunAs`]), and the limits on what they use ([`Isolation`]: a cgroup per task limiting memory
//! to `ram` and CPU to `cpu`, with back ends for cgroup v2, cgroup v1, and rlimits where neither
//! is usable, chosen once when the agent starts).
//!
//! Everything a child does between fork and exec is in [`Confinement::enter`], which makes only
//! async-signal-safe system calls on values prepared before the fork.

use aurora_model::config::Resources;
use nix::sys::signal::Signal;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Why a task cannot be confined as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolationError {
    #[error("user '{0}' does not exist on this host")]
    NoSuchUser(String),
    #[error("cannot look up user '{0}': {1}")]
    Lookup(String, String),
}

/// The Unix identity a task's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, looked up before the fork (the lookup is not async-signal-safe).
    pub groups: Vec<u32>,
}

impl RunAs {
    /// Looks a user up in the host's user database.
    pub fn lookup(user: &str) -> Result<RunAs, IsolationError> {
        let u = nix::unistd::User::from_name(user)
            .map_err(|e| IsolationError::Lookup(user.to_owned(), e.to_string()))?
            .ok_or_else(|| IsolationError::NoSuchUser(user.to_owned()))?;
        let name =
            CString::new(user).map_err(|e| IsolationError::Lookup(user.into(), e.to_string()))?;
        let groups = nix::unistd::getgrouplist(&name, u.gid)
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_else(|_| vec![u.gid.as_raw()]);
        Ok(RunAs {
            user: user.to_owned(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            groups,
        })
    }
}

/// The mechanism limiting tasks' memory and CPU on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// The unified hierarchy: `<root>/<task>/{memory.max,cpu.max}`.
    CgroupV2 { root: PathBuf },
    /// Separate `memory` and `cpu` hierarchies (hybrid hosts have only these as v1).
    CgroupV1 { memory: PathBuf, cpu: PathBuf },
    /// No usable cgroup: `RLIMIT_AS` caps each process's address space at `ram`; CPU is not
    /// limited.
    Rlimits,
}

const V2: &str = "/sys/fs/cgroup";
const V1_MEMORY: &str = "/sys/fs/cgroup/memory";
const V1_CPU: &str = "/sys/fs/cgroup/cpu";

/// Creates `dir` (and parents) and checks it can hold a child cgroup.
fn usable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!("probe-{}", std::process::id()));
    let ok = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    ok
}

impl Isolation {
    /// The best back end this host offers, for cgroups named under `group` (such as
    /// `aurora/agent-host1`): cgroup v2 with the memory and cpu controllers, else cgroup v1 memory
    /// and cpu hierarchies, else rlimits.
    pub fn detect(group: &str) -> Isolation {
        let controllers =
            std::fs::read_to_string(Path::new(V2).join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        if has("memory") && has("cpu") {
            let root = Path::new(V2).join(group);
            // Children of `root` need the controllers enabled on the way down.
            let mut dir = PathBuf::from(V2);
            for part in Path::new(group).components() {
                let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+memory +cpu");
                dir.push(part);
                let _ = std::fs::create_dir_all(&dir);
            }
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +cpu");
            if usable(&root) {
                return Isolation::CgroupV2 { root };
            }
        }
        let (memory, cpu) = (
            Path::new(V1_MEMORY).join(group),
            Path::new(V1_CPU).join(group),
        );
        if Path::new(V1_MEMORY).join("memory.limit_in_bytes").exists()
            && Path::new(V1_CPU).join("cpu.cfs_quota_us").exists()
            && usable(&memory)
            && usable(&cpu)
        {
            return Isolation::CgroupV1 { memory, cpu };
        }
        Isolation::Rlimits
    }

    /// The back end's name, as `aurora_admin hosts` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Isolation::CgroupV2 { .. } => "cgroup-v2",
            Isolation::CgroupV1 { .. } => "cgroup-v1",
            Isolation::Rlimits => "rlimits",
        }
    }

    /// Removes the back end's own (empty) cgroup directories, when nothing runs under them.
    pub fn remove_empty(&self) {
        match self {
            Isolation::CgroupV2 { root } => {
                let _ = std::fs::remove_dir(root);
            }
            Isolation::CgroupV1 { memory, cpu } => {
                let _ = std::fs::remove_dir(memory);
                let _ = std::fs::remove_dir(cpu);
            }
            Isolation::Rlimits => {}
        }
    }

    /// The task's cgroup directory that lists its processes (`cgroup.procs`); `None` under
    /// rlimits.
    fn task_dir(&self, task_id: &str) -> Option<PathBuf> {
        match self {
            Isolation::CgroupV2 { root } => Some(root.join(task_id)),
            Isolation::CgroupV1 { memory, .. } => Some(memory.join(task_id)),
            Isolation::Rlimits => None,
        }
    }

    /// The process groups of the processes in the task's cgroup (empty when it has none); `None`
    /// when this back end has no cgroups to ask.
    pub fn task_groups(&self, task_id: &str) -> Option<std::collections::HashSet<i32>> {
        let dir = self.task_dir(task_id)?;
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        Some(
            procs
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
                .filter_map(process_group)
                .collect(),
        )
    }

    /// Creates the task's cgroup(s) with its limits.
    pub fn for_task(&self, task_id: &str, r: &Resources) -> io::Result<TaskLimits> {
        let ram = r.ram.max(0) as u64;
        let quota = (r.cpu * 100_000.0).round().max(1000.0) as u64;
        let mut limits = TaskLimits {
            ram_bytes: ram,
            dirs: Vec::new(),
            procs: Vec::new(),
            oom_files: Vec::new(),
        };
        match self {
            Isolation::CgroupV2 { root } => {
                let dir = root.join(task_id);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("memory.max"), ram.to_string())?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("cpu.max"), format!("{quota} 100000"))?;
                limits.oom_files.push(dir.join("memory.events"));
                limits.dirs.push(dir);
            }
            Isolation::CgroupV1 { memory, cpu } => {
                let mem = memory.join(task_id);
                std::fs::create_dir_all(&mem)?;
                std::fs::write(mem.join("memory.limit_in_bytes"), ram.to_string())?;
                // Swap may not be accounted (memsw missing): then the limit is on memory alone.
                let _ = std::fs::write(mem.join("memory.memsw.limit_in_bytes"), ram.to_string());
                limits.oom_files.push(mem.join("memory.oom_control"));
                let c = cpu.join(task_id);
                std::fs::create_dir_all(&c)?;
                std::fs::write(c.join("cpu.cfs_period_us"), "100000")?;
                std::fs::write(c.join("cpu.cfs_quota_us"), quota.to_string())?;
                limits.dirs.push(mem);
                limits.dirs.push(c);
            }
            Isolation::Rlimits => {}
        }
        for d in &limits.dirs {
            limits.procs.push(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("cgroup.procs"))?,
            );
        }
        Ok(limits)
    }
}

/// A task's cgroups (none under rlimits).
#[derive(Debug)]
pub struct TaskLimits {
    pub ram_bytes: u64,
    /// The task's cgroup directories.
    pub dirs: Vec<PathBuf>,
    /// Their `cgroup.procs`, open before any fork so a child can join without allocating.
    procs: Vec<File>,
    /// Where the kernel counts OOM kills.
    oom_files: Vec<PathBuf>,
}

impl TaskLimits {
    /// Whether the kernel killed a process of the task for exceeding its memory limit.
    pub fn oom_killed(&self) -> bool {
        self.oom_files.iter().any(|f| {
            let mut text = String::new();
            let _ = File::open(f).and_then(|mut h| h.read_to_string(&mut text));
            text.lines().any(|l| {
                let mut parts = l.split_whitespace();
                parts.next() == Some("oom_kill")
                    && parts
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0)
                        > 0
            })
        })
    }

    /// SIGKILLs every process still in the task's cgroups: what left the task's process groups
    /// (a double fork, `setsid`) goes with the task too.
    pub fn kill_all(&self) {
        for d in &self.dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// Removes the cgroups, once their processes are gone (retried briefly: the kernel frees a
    /// cgroup a moment after its last process exits).
    pub async fn remove(&self) {
        for d in &self.dirs {
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// The process group of process `pid`, from `/proc/PID/stat` (after the command name in
/// parentheses come the state, the parent and the group).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Clears what a task left under any agent's group (`aurora/AGENT/TASK_ID` in the v2 tree and in
/// the v1 memory and cpu hierarchies) when the executor that made its cgroups died (a re-adopted
/// task that ended, a task launched just before its agent was killed, an agent killed with its
/// tasks): every process still in them is SIGKILLed, then the cgroups are removed. Blocking: a
/// cgroup goes a moment after its last process is reaped, so each removal is retried for up to a
/// second.
pub fn remove_leftover_cgroups(task_id: &str) {
    if task_id.is_empty() || task_id.contains('/') || task_id.starts_with('.') {
        return;
    }
    let roots = [Path::new(V2), Path::new(V1_MEMORY), Path::new(V1_CPU)];
    let dirs: Vec<PathBuf> = roots
        .iter()
        .flat_map(|r| {
            std::fs::read_dir(r.join("aurora"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|agent| agent.path().join(task_id))
        .filter(|d| d.exists())
        .collect();
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    for d in dirs {
        for _ in 0..50 {
            if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// What a child must do before exec: its own session, the task's cgroups or rlimits, and its
/// user.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Raw fds of the task's `cgroup.procs` files (owned by its [`TaskLimits`], which outlives
    /// every spawn).
    procs_fds: Vec<i32>,
    /// `RLIMIT_AS`, under the rlimits back end.
    address_space: Option<u64>,
    run_as: Option<RunAs>,
}

impl Confinement {
    pub fn new(limits: Option<&TaskLimits>, rlimits: bool, run_as: Option<RunAs>) -> Self {
        Confinement {
            procs_fds: limits
                .map(|l| l.procs.iter().map(|f| f.as_raw_fd()).collect())
                .unwrap_or_default(),
            address_space: limits.filter(|_| rlimits).map(|l| l.ram_bytes),
            run_as,
        }
    }

    /// Runs in the child between fork and exec. Only async-signal-safe calls.
    pub fn enter(&self) -> io::Result<()> {
        let check = |r: libc::c_int| {
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: plain system calls on values prepared before the fork.
        unsafe {
            check(libc::setsid())?;
            for fd in &self.procs_fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(bytes) = self.address_space {
                let lim = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                check(libc::setrlimit(libc::RLIMIT_AS, &lim))?;
            }
            if let Some(u) = &self.run_as {
                check(libc::setgroups(u.groups.len(), u.groups.as_ptr()))?;
                check(libc::setgid(u.gid))?;
                check(libc::setuid(u.uid))?;
            }
        }
        Ok(())
    }
}

/// Bytes used by the files under `dir`. The task owns everything below `dir` and may swap a
/// folder for a link while this runs (as root), so the walk goes by directory fds: each entry is
/// looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` and each folder opened `O_NOFOLLOW` beneath its
/// parent's fd; a link is never followed, so nothing outside `dir` is counted. Only as many fds
/// are open as the tree is deep, and the walk is a loop, not a recursion.
pub fn disk_usage(dir: &Path) -> u64 {
    use nix::dir::Dir;
    use nix::fcntl::{AtFlags, OFlag};
    use nix::sys::stat::{Mode, SFlag, fstatat};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let Ok(root) = Dir::open(dir, flags, Mode::empty()) else {
        return 0;
    };
    let mut total = 0u64;
    // Each open folder with the names of its subfolders still to visit.
    let mut stack: Vec<(Dir, Vec<CString>)> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(mut d) = next.take() {
            let mut subfolders = Vec::new();
            // SAFETY: `d` outlives every use of `fd` (the loop below), and is not closed in it.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(d.as_raw_fd()) };
            for entry in d.iter().flatten() {
                let name = entry.file_name();
                if name.to_bytes() == b"." || name.to_bytes() == b".." {
                    continue;
                }
                let Ok(st) = fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                    continue;
                };
                match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
                    SFlag::S_IFDIR => subfolders.push(name.to_owned()),
                    SFlag::S_IFREG => total += st.st_size.max(0) as u64,
                    _ => {}
                }
            }
            stack.push((d, subfolders));
        }
        let Some((parent, pending)) = stack.last_mut() else {
            return total;
        };
        match pending.pop() {
            // A folder swapped for a link (or gone) since it was listed fails to open: skipped.
            Some(name) => next = Dir::openat(&*parent, name.as_c_str(), flags, Mode::empty()).ok(),
            None => {
                stack.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_looked_up_or_refused() {
        let root = RunAs::lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(
            RunAs::lookup("no-such-user-aurora"),
            Err(IsolationError::NoSuchUser("no-such-user-aurora".into()))
        );
        assert_eq!(
            IsolationError::NoSuchUser("x".into()).to_string(),
            "user 'x' does not exist on this host"
        );
    }

    #[test]
    fn disk_usage_counts_files_below() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/f"), vec![0u8; 3000]).unwrap();
        std::fs::write(d.path().join("g"), vec![0u8; 100]).unwrap();
        assert_eq!(disk_usage(d.path()), 3100);
        // A link to a folder outside is not followed.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 5000]).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("a/link")).unwrap();
        assert_eq!(disk_usage(d.path()), 3100);
    }

    #[test]
    fn oom_counters_are_read() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("memory.events");
        let limits = TaskLimits {
            ram_bytes: 1,
            dirs: Vec::new(),
            procs: Vec::new(),
            oom_files: vec![f.clone()],
        };
        std::fs::write(&f, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n").unwrap();
        assert!(!limits.oom_killed());
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert!(limits.oom_killed());
    }
}
