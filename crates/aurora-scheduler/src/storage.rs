//! Backups and recovery, as Aurora's operators know them: the leader copies its store to
//! `--backup-dir` every `--backup-interval` (`scheduler-backup-YYYY-MM-DD-HH-MM-SS`, SQLite's
//! online backup), keeping the newest `--max-saved-backups`; an administrator stages one
//! ([`Storage::stage`]), looks at and prunes its tasks, and commits it: the cluster's state is
//! replaced by the backup's (through the store, so with `--etcd` through the replicated log),
//! then the scheduler restarts to rebuild everything from it, as Aurora's does.
//!
//! Tokens are not part of a recovery: the current ones stay (an old backup must not bring back
//! revoked tokens nor drop new ones).
//!
//! Not here: the HTTP handlers (`http::api::storage`), SQLite (`aurora-store`).

use aurora_api::{RecoveryStatus, RecoveryTask};
use aurora_store::{Snapshot, StoreOp};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Where backups go and how many are kept.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub dir: PathBuf,
    pub interval: Duration,
    pub max_saved: usize,
}

/// The prefix of every backup's file name.
const PREFIX: &str = "scheduler-backup-";

/// Why a backup or recovery step failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Store(#[from] aurora_store::StoreError),
    #[error("cannot use the backup folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no backup named '{0}' (aurora_admin scheduler_list_backups lists them)")]
    NoSuchBackup(String),
    #[error("no recovery is staged (aurora_admin scheduler_stage_recovery first)")]
    NothingStaged,
}

/// The backups of one scheduler, and the recovery staged on it.
pub struct Storage {
    db: PathBuf,
    options: BackupOptions,
    staged: Mutex<Option<(String, Snapshot)>>,
}

impl Storage {
    pub fn new(db: PathBuf, options: BackupOptions) -> Storage {
        Storage {
            db,
            options,
            staged: Mutex::new(None),
        }
    }

    /// Aurora's defaults: hourly backups in `backups/` beside the store, the newest 48 kept.
    pub fn beside(db: &std::path::Path) -> std::sync::Arc<Storage> {
        let dir = db
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("backups");
        std::sync::Arc::new(Storage::new(
            db.to_owned(),
            BackupOptions {
                dir,
                interval: Duration::from_secs(3600),
                max_saved: 48,
            },
        ))
    }

    pub fn options(&self) -> &BackupOptions {
        &self.options
    }

    /// Writes a backup now; its name. Older ones beyond the limit are deleted.
    pub fn backup_now(&self) -> Result<String, StorageError> {
        let dir = &self.options.dir;
        let folder = |source| StorageError::Folder {
            path: dir.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(folder)?;
        let stamp = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S").to_string();
        let mut name = format!("{PREFIX}{stamp}");
        let mut n = 1;
        while dir.join(&name).exists() {
            n += 1;
            name = format!("{PREFIX}{stamp}-{n}");
        }
        aurora_store::backup(&self.db, &dir.join(&name))?;
        let all = self.list()?;
        for old in all
            .iter()
            .take(all.len().saturating_sub(self.options.max_saved.max(1)))
        {
            let _ = std::fs::remove_file(dir.join(old));
        }
        tracing::info!(backup = %name, "backed up the scheduler's state");
        Ok(name)
    }

    /// The backups, oldest first.
    pub fn list(&self) -> Result<Vec<String>, StorageError> {
        let entries = match std::fs::read_dir(&self.options.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StorageError::Folder {
                    path: self.options.dir.clone(),
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(PREFIX))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Loads backup `name` as the staged recovery (replacing one staged before).
    pub fn stage(&self, name: &str) -> Result<RecoveryStatus, StorageError> {
        if !self.list()?.iter().any(|b| b == name) {
            return Err(StorageError::NoSuchBackup(name.to_owned()));
        }
        let snapshot = aurora_store::read_backup(&self.options.dir.join(name))?;
        let status = status(name, &snapshot);
        *self.lock() = Some((name.to_owned(), snapshot));
        Ok(status)
    }

    /// The staged recovery's tasks, by job then instance.
    pub fn tasks(&self) -> Result<Vec<RecoveryTask>, StorageError> {
        let staged = self.lock();
        let (_, snapshot) = staged.as_ref().ok_or(StorageError::NothingStaged)?;
        let mut tasks: Vec<RecoveryTask> = snapshot
            .tasks
            .iter()
            .map(|t| RecoveryTask {
                task_id: t.task_id.clone(),
                job: t.job.to_string(),
                instance: t.instance,
                status: t.status,
            })
            .collect();
        tasks.sort_by(|a, b| (&a.job, a.instance).cmp(&(&b.job, b.instance)));
        Ok(tasks)
    }

    /// Removes tasks from the staged recovery.
    pub fn delete_tasks(&self, ids: &[String]) -> Result<RecoveryStatus, StorageError> {
        let mut staged = self.lock();
        let (name, snapshot) = staged.as_mut().ok_or(StorageError::NothingStaged)?;
        snapshot.tasks.retain(|t| !ids.contains(&t.task_id));
        Ok(status(name, snapshot))
    }

    /// Drops the staged recovery.
    pub fn unload(&self) -> Result<(), StorageError> {
        self.lock()
            .take()
            .map(|_| ())
            .ok_or(StorageError::NothingStaged)
    }

    /// Takes the staged recovery away, to commit it.
    pub fn take(&self) -> Result<(String, Snapshot), StorageError> {
        self.lock().take().ok_or(StorageError::NothingStaged)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Snapshot)>> {
        self.staged.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn status(name: &str, snapshot: &Snapshot) -> RecoveryStatus {
    RecoveryStatus {
        backup: name.to_owned(),
        jobs: snapshot.jobs.len(),
        tasks: snapshot.tasks.len(),
    }
}

/// The store operations that turn `current` into `recovered` (tokens untouched), and the
/// snapshot the state is rebuilt from (`recovered` with the current tokens).
pub fn recovery_ops(current: &Snapshot, mut recovered: Snapshot) -> (Vec<StoreOp>, Snapshot) {
    let mut ops = Vec::new();
    ops.extend(current.jobs.iter().filter_map(|j| {
        Some(StoreOp::RemoveJob {
            key: j.path().ok()?.key,
        })
    }));
    ops.extend(current.tasks.iter().map(|t| StoreOp::RemoveTask {
        task_id: t.task_id.clone(),
    }));
    ops.extend(
        current
            .crons
            .iter()
            .map(|(key, _)| StoreOp::RemoveCron { key: key.clone() }),
    );
    ops.extend(
        current
            .maintenance
            .iter()
            .map(|host| StoreOp::SetMaintenance {
                host: host.clone(),
                draining: false,
            }),
    );
    ops.extend(
        current
            .job_configs
            .iter()
            .map(|(key, digest, _)| StoreOp::RemoveJobConfig {
                key: key.clone(),
                digest: digest.clone(),
            }),
    );
    ops.extend(
        current
            .updates
            .iter()
            .map(|u| StoreOp::RemoveUpdate { id: u.id.clone() }),
    );
    recovered.tokens = current.tokens.clone();
    ops.extend(
        aurora_store::replication::snapshot_ops(&recovered)
            .into_iter()
            .filter(|op| !matches!(op, StoreOp::SaveToken { .. })),
    );
    (ops, recovered)
}

/// The leader's backups, every `interval` until the process ends.
pub async fn backup_loop(storage: std::sync::Arc<Storage>) {
    let interval = storage.options.interval.max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(interval).await;
        let s = storage.clone();
        match tokio::task::spawn_blocking(move || s.backup_now()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("the periodic backup failed: {e}"),
            Err(e) => tracing::error!("the periodic backup failed: {e}"),
        }
    }
}
