//! `/api/v1/backups`, `/api/v1/recovery...` and `/api/v1/snapshot`: Aurora's storage commands for
//! administrators (`aurora_admin scheduler_backup_now`, `scheduler_list_backups`,
//! `scheduler_stage_recovery`, `scheduler_print_recovery_tasks`,
//! `scheduler_delete_recovery_tasks`, `scheduler_commit_recovery`, `scheduler_unload_recovery`,
//! `scheduler_snapshot`). What a backup and a recovery are lives in `storage`.

use super::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::storage::{StorageError, recovery_ops};
use aurora_api::*;
use aurora_auth::Action;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::{Extension, Json};

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NoSuchBackup(_) => ApiError::not_found(e.to_string()),
            StorageError::NothingStaged => ApiError::conflict(e.to_string()),
            StorageError::Store(aurora_store::StoreError::Read(_)) => {
                ApiError::bad_request(e.to_string())
            }
            _ => ApiError::internal(e.to_string()),
        }
    }
}

/// Runs `f` (file work: copying or reading a whole store) on a blocking thread.
async fn off_the_workers<T: Send + 'static>(
    app: &crate::http::App,
    f: impl FnOnce(&crate::storage::Storage) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    let storage = app.storage.clone();
    tokio::task::spawn_blocking(move || f(&storage))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// `aurora_admin scheduler_list_backups`.
pub async fn list_backups(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<BackupList>, ApiError> {
    caller.may(&app, Action::ManageStorage, None)?;
    Ok(Json(BackupList {
        backups: app.storage.list()?,
    }))
}

/// `aurora_admin scheduler_backup_now`.
pub async fn backup_now(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<BackupTaken>, ApiError> {
    let audit = caller.begin(&app, Action::ManageStorage, None, "backup")?;
    let backup = audit.done(off_the_workers(&app, |s| s.backup_now()).await)?;
    Ok(Json(BackupTaken { backup }))
}

/// `aurora_admin scheduler_stage_recovery CLUSTER BACKUP`.
pub async fn stage_recovery(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<StageRecoveryRequest>, JsonRejection>,
) -> Result<Json<RecoveryStatus>, ApiError> {
    let Json(req) = body?;
    let audit = caller.begin(
        &app,
        Action::ManageStorage,
        None,
        format!("stage {}", req.backup),
    )?;
    let staged = off_the_workers(&app, move |s| s.stage(&req.backup)).await;
    Ok(Json(audit.done(staged)?))
}

/// `aurora_admin scheduler_print_recovery_tasks`.
pub async fn recovery_tasks(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<RecoveryTask>>, ApiError> {
    caller.may(&app, Action::ManageStorage, None)?;
    Ok(Json(app.storage.tasks()?))
}

/// `aurora_admin scheduler_delete_recovery_tasks CLUSTER TASK_IDS`.
pub async fn delete_recovery_tasks(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<DeleteRecoveryTasksRequest>, JsonRejection>,
) -> Result<Json<RecoveryStatus>, ApiError> {
    let Json(req) = body?;
    let audit = caller.begin(
        &app,
        Action::ManageStorage,
        None,
        format!("delete recovery tasks {}", req.task_ids.join(",")),
    )?;
    Ok(Json(
        audit.done(
            app.storage
                .delete_tasks(&req.task_ids)
                .map_err(ApiError::from),
        )?,
    ))
}

/// `aurora_admin scheduler_unload_recovery`.
pub async fn unload_recovery(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let audit = caller.begin(&app, Action::ManageStorage, None, "unload recovery")?;
    audit.done(app.storage.unload().map_err(ApiError::from))?;
    Ok(Json(serde_json::json!({ "unloaded": true })))
}

/// `aurora_admin scheduler_commit_recovery`: the state becomes the staged backup's (through
/// the store, and so the replicated log), then the scheduler restarts to rebuild everything
/// from it, as Aurora's does; tasks that agents run and the backup does not know are killed
/// when their agents report them.
pub async fn commit_recovery(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RecoveryStatus>, ApiError> {
    let audit = caller.begin(&app, Action::ManageStorage, None, "commit recovery")?;
    let committed = async {
        let (name, recovered) = app.storage.take()?;
        let status = RecoveryStatus {
            backup: name,
            jobs: recovered.jobs.len(),
            tasks: recovered.tasks.len(),
        };
        let (current, _) = app.core.store().load().await.map_err(StorageError::from)?;
        let (ops, snapshot) = recovery_ops(&current, recovered);
        let (backoff, zone) = {
            let s = app.core.read();
            (s.backoff, s.cron_timezone)
        };
        let state = crate::restore_state(backoff, zone, app.core.now_ms(), snapshot);
        app.core
            .replace(state, ops)
            .await
            .map_err(StorageError::from)?;
        Ok::<_, StorageError>(status)
    }
    .await
    .map_err(ApiError::from);
    let status = audit.done(committed)?;
    tracing::warn!(backup = %status.backup, "recovery committed: restarting to load it");
    tokio::spawn(async {
        // Long enough for this answer to leave.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        std::process::exit(crate::EXIT_RESTART);
    });
    Ok(Json(status))
}

/// `aurora_admin scheduler_snapshot`: into etcd now with several schedulers; a checkpoint of
/// SQLite's write-ahead log into the store's file on a lone one.
pub async fn snapshot(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SnapshotTaken>, ApiError> {
    let audit = caller.begin(&app, Action::ManageStorage, None, "snapshot")?;
    let message = match &app.snapshot_now {
        Some(now) => {
            now.notify_one();
            "a snapshot of the replicated state is being written to etcd".to_owned()
        }
        None => {
            audit.done(
                app.core
                    .store()
                    .checkpoint()
                    .await
                    .map_err(|e| ApiError::internal(e.to_string())),
            )?;
            return Ok(Json(SnapshotTaken {
                message: "the store's write-ahead log is checkpointed into its file".into(),
            }));
        }
    };
    audit.done(Ok::<_, ApiError>(()))?;
    Ok(Json(SnapshotTaken { message }))
}
