//! The OpenAPI 3 document of `/api/v1`, served at `/api/v1/openapi.json`, so scripts and tools can
//! discover the API. Kept next to the routes it describes (`http::api`).

use aurora_api::{UpdateAction, routes};
use aurora_model::host::{HostState, MaintenanceMode};
use serde_json::{Value, json};

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn answer(description: &str, schema: Option<&str>) -> Value {
    match schema {
        Some(s) => {
            json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{s}") } } } })
        }
        None => json!({ "description": description }),
    }
}

fn errors() -> Value {
    json!({ "description": "Refused: the body says why", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } })
}

fn job_params() -> Value {
    json!([
        { "name": "role", "in": "path", "required": true, "schema": { "type": "string" } },
        { "name": "env", "in": "path", "required": true, "schema": { "type": "string" } },
        { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }
    ])
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Aurora-compatible scheduler API", "version": "1" },
        "paths": merged(paths(), storage_paths()),
        "components": { "schemas": merged(schemas(), storage_schemas()) }
    })
}

/// `a`'s keys and `b`'s (two objects; the macro's recursion limit keeps each literal small).
fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

/// Backups, recovery and snapshots: administrators only.
fn storage_paths() -> Value {
    let status = || {
        answer(
            "The staged recovery: its backup, jobs and tasks",
            Some("RecoveryStatus"),
        )
    };
    json!({
        (routes::BACKUPS): {
            "get": { "summary": "The scheduler's backups, oldest first (`aurora_admin scheduler_list_backups`)",
                     "responses": { "200": answer("Backups", Some("BackupList")), "401": errors(), "403": errors() } },
            "post": { "summary": "Back up the state now (`aurora_admin scheduler_backup_now`)",
                      "responses": { "200": answer("The backup's name", Some("BackupTaken")), "401": errors(), "403": errors() } }
        },
        (routes::RECOVERY): {
            "post": { "summary": "Stage a backup for recovery (`aurora_admin scheduler_stage_recovery`)", "requestBody": body("StageRecoveryRequest"),
                      "responses": { "200": status(), "400": errors(), "404": errors() } },
            "delete": { "summary": "Unload the staged recovery (`aurora_admin scheduler_unload_recovery`)",
                        "responses": { "200": { "description": "Unloaded" }, "409": errors() } }
        },
        (routes::RECOVERY_TASKS): {
            "get": { "summary": "The staged recovery's tasks (`aurora_admin scheduler_print_recovery_tasks`)",
                     "responses": { "200": { "description": "Tasks", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/RecoveryTask" } } } } }, "409": errors() } }
        },
        (routes::RECOVERY_TASKS_DELETE): {
            "post": { "summary": "Remove tasks from the staged recovery (`aurora_admin scheduler_delete_recovery_tasks`)", "requestBody": body("DeleteRecoveryTasksRequest"),
                      "responses": { "200": status(), "409": errors() } }
        },
        (routes::RECOVERY_COMMIT): {
            "post": { "summary": "Replace the state by the staged recovery's, then restart (`aurora_admin scheduler_commit_recovery`)",
                      "responses": { "200": status(), "409": errors() } }
        },
        (routes::SNAPSHOT): {
            "post": { "summary": "Snapshot the state now: into etcd with several schedulers, a checkpoint of the store's log otherwise (`aurora_admin scheduler_snapshot`)",
                      "responses": { "200": answer("What was done", Some("SnapshotTaken")), "401": errors(), "403": errors() } }
        }
    })
}

fn storage_schemas() -> Value {
    json!({
        "BackupList": { "type": "object", "properties": { "backups": { "type": "array", "items": { "type": "string" } } } },
        "BackupTaken": { "type": "object", "properties": { "backup": { "type": "string" } } },
        "StageRecoveryRequest": { "type": "object", "required": ["backup"], "properties": { "backup": { "type": "string" } } },
        "RecoveryStatus": { "type": "object", "properties": { "backup": { "type": "string" }, "jobs": { "type": "integer" }, "tasks": { "type": "integer" } } },
        "RecoveryTask": { "type": "object", "properties": { "task_id": { "type": "string" }, "job": { "type": "string" }, "instance": { "type": "integer" }, "status": { "type": "string" } } },
        "DeleteRecoveryTasksRequest": { "type": "object", "required": ["task_ids"], "properties": { "task_ids": { "type": "array", "items": { "type": "string" } } } },
        "SnapshotTaken": { "type": "object", "properties": { "message": { "type": "string" } } }
    })
}

/// Every operation, by path.
fn paths() -> Value {
    json!({
        (routes::ROLES): {
            "get": { "summary": "Every role with jobs: job count, active, pending and failed tasks (the UI's /scheduler)",
                     "responses": { "200": { "description": "Roles", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/RoleSummary" } } } } } } }
        },
        (routes::JOBS): {
            "get": {
                "summary": "List jobs",
                "parameters": [
                    { "name": "role", "in": "query", "schema": { "type": "string" } },
                    { "name": "environment", "in": "query", "schema": { "type": "string" } }
                ],
                "responses": { "200": { "description": "Jobs", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/JobSummary" } } } } } }
            },
            "post": {
                "summary": "Create a job and one PENDING task per instance (durable before the answer)",
                "requestBody": body("CreateJobRequest"),
                "responses": { "201": answer("Created", Some("CreateJobResponse")), "400": errors(), "409": errors() }
            }
        },
        (routes::JOB): {
            "get": { "summary": "A job, its configuration and its tasks (all, or one page with offset and limit)",
                     "parameters": [
                        { "name": "role", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "env", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 0 } }
                     ],
                     "responses": { "200": answer("The job", Some("JobDetails")), "404": errors() } }
        },
        (routes::JOB_KILL): {
            "post": { "summary": "Kill instances (all when none are named)", "parameters": job_params(), "requestBody": body("KillRequest"),
                      "responses": { "200": answer("Tasks being killed", Some("TasksAffected")), "404": errors() } }
        },
        (routes::JOB_INSTANCES): {
            "get": { "summary": "One page of the job's instances, each with its active task (the UI's job page)",
                     "parameters": [
                        { "name": "role", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "env", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 100 } }
                     ],
                     "responses": { "200": answer("The page", Some("InstancePage")), "404": errors() } },
            "post": { "summary": "Add instances copying an active instance's configuration", "parameters": job_params(), "requestBody": body("AddInstancesRequest"),
                      "responses": { "200": answer("New tasks", Some("TasksAffected")), "400": errors(), "404": errors() } }
        },
        (routes::JOB_RESTART): {
            "post": { "summary": "Rolling restart: an update that replaces each instance in scope with its own configuration, in batches, each watched", "parameters": job_params(), "requestBody": body("RestartRequest"),
                      "responses": { "200": answer("The restart's update", Some("StartUpdateResponse")), "400": errors(), "404": errors(), "409": errors() } }
        },
        (routes::JOB_UPDATE): {
            "get": { "summary": "The job's active update", "parameters": job_params(),
                     "responses": { "200": answer("The update", Some("UpdateDetails")), "404": errors() } },
            "post": { "summary": "Start an update to a new configuration (`aurora update start`); only changed instances are replaced", "parameters": job_params(), "requestBody": body("StartUpdateRequest"),
                      "responses": { "200": answer("The update, or that nothing changes", Some("StartUpdateResponse")), "400": errors(), "409": errors() } }
        },
        (routes::JOB_UPDATE_CONTROL): {
            "post": { "summary": "Pause, resume, abort or roll back the job's active update",
                      "parameters": [
                        { "name": "role", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "env", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "verb", "in": "path", "required": true, "schema": { "type": "string", "enum": UpdateAction::ALL.map(UpdateAction::name) } }
                      ],
                      "requestBody": body("UpdateControlRequest"),
                      "responses": { "200": answer("The update", Some("UpdateSummary")), "400": errors(), "404": errors() } }
        },
        (routes::JOB_DIFF): {
            "post": { "summary": "What an update to this configuration would do to each instance (`aurora job diff`)", "parameters": job_params(), "requestBody": body("DiffRequest"),
                      "responses": { "200": answer("The diff", Some("DiffResponse")), "400": errors() } }
        },
        (routes::UPDATES): {
            "get": { "summary": "Updates, newest first (`aurora update list`)",
                     "parameters": [
                        { "name": "role", "in": "query", "schema": { "type": "string" } },
                        { "name": "env", "in": "query", "schema": { "type": "string" } },
                        { "name": "name", "in": "query", "schema": { "type": "string" } },
                        { "name": "user", "in": "query", "schema": { "type": "string" } },
                        { "name": "status", "in": "query", "schema": { "type": "string" }, "description": "state names or active, paused, blocked, succeeded, failed, inactive, all; comma-separated" }
                     ],
                     "responses": { "200": { "description": "Updates", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/UpdateSummary" } } } } } } }
        },
        (routes::UPDATE): {
            "get": { "summary": "An update: settings, state history, per-instance progress and events",
                     "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                     "responses": { "200": answer("The update", Some("UpdateDetails")), "404": errors() } }
        },
        (routes::UPDATE_PULSE): {
            "post": { "summary": "Pulse a coordinated update (pulse_interval_secs): it blocks unless pulsed",
                      "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                      "responses": { "200": answer("The update's state", Some("PulseResponse")), "400": errors(), "404": errors() } }
        },
        (routes::CRON): {
            "post": { "summary": "Schedule a cron job, or replace one (future runs only): `aurora cron schedule`", "requestBody": body("CreateJobRequest"),
                      "responses": { "200": answer("Scheduled", Some("CronScheduled")), "400": errors(), "409": errors() } }
        },
        (routes::CRON_JOB): {
            "get": { "summary": "A cron job: schedule, collision policy, next firings, runs kept", "parameters": job_params(),
                     "responses": { "200": answer("The cron job", Some("CronView")), "404": errors() } },
            "delete": { "summary": "Deschedule a cron job (a run in progress goes on)", "parameters": job_params(),
                        "responses": { "200": answer("Descheduled, or was not scheduled", Some("CronDescheduled")) } }
        },
        (routes::CRON_START): {
            "post": { "summary": "Run a cron job now, following its collision policy", "parameters": job_params(),
                      "responses": { "200": answer("What happened", Some("CronStarted")), "404": errors() } }
        },
        (routes::HOSTS): {
            "get": { "summary": "Every agent: hostname, attributes, state, resources used and free, isolation (`aurora_admin hosts`)",
                     "responses": { "200": { "description": "Hosts", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/HostView" } } } } } } }
        },
        (routes::MAINTENANCE): {
            "get": { "summary": "Maintenance modes of hosts (`aurora_admin host_maintenance_status`)",
                     "parameters": [{ "name": "hosts", "in": "query", "required": true, "schema": { "type": "string" }, "description": "H1,H2,..." }],
                     "responses": { "200": { "description": "Modes", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/MaintenanceView" } } } } }, "400": errors() } }
        },
        (routes::MAINTENANCE_DRAIN): {
            "post": { "summary": "Drain hosts: no new tasks, their tasks moved off (`aurora_admin host_drain`)", "requestBody": body("HostsRequest"),
                      "responses": { "200": answer("Modes and the tasks being moved", Some("DrainResponse")), "400": errors() } }
        },
        (routes::MAINTENANCE_ACTIVATE): {
            "post": { "summary": "End maintenance of hosts (`aurora_admin host_activate`)", "requestBody": body("HostsRequest"),
                      "responses": { "200": { "description": "Modes", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/MaintenanceView" } } } } }, "400": errors() } }
        },
        (routes::TOKENS): {
            "get": { "summary": "Tokens: every one for administrators, the caller's own otherwise (never the tokens themselves)",
                     "responses": { "200": { "description": "Tokens", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/TokenView" } } } } }, "401": errors() } },
            "post": { "summary": "Issue a token: for the caller (`aurora auth login`), or for any user (administrators)", "requestBody": body("IssueTokenRequest"),
                      "responses": { "201": answer("The token, shown once", Some("TokenIssued")), "400": errors(), "401": errors(), "403": errors() } }
        },
        (routes::TOKEN): {
            "delete": { "summary": "Revoke a token (administrators, or its owner)",
                        "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                        "responses": { "200": answer("The revoked token", Some("TokenView")), "401": errors(), "403": errors(), "404": errors() } }
        },
        (routes::TASK): {
            "get": { "summary": "A task with its events", "parameters": [{ "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } }],
                     "responses": { "200": answer("The task", Some("TaskView")), "404": errors() } }
        },
        (routes::TASK_LOGS): {
            "get": {
                "summary": "A process's stdout or stderr, fetched from the agent that ran the task",
                "parameters": [
                    { "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "process", "in": "query", "schema": { "type": "string" } },
                    { "name": "stream", "in": "query", "schema": { "type": "string", "enum": ["stdout", "stderr"] } },
                    { "name": "run", "in": "query", "schema": { "type": "integer" } },
                    { "name": "offset", "in": "query", "schema": { "type": "integer" } },
                    { "name": "tail", "in": "query", "schema": { "type": "integer" } }
                ],
                "responses": { "200": { "description": "Log bytes; header X-Log-Offset is the offset after them", "content": { "text/plain": {} } }, "404": errors() }
            }
        },
        (routes::TASK_PROCESSES): {
            "get": { "summary": "The task's processes as its executor last recorded them: state, runs, exit codes, times (fetched from the task's agent)",
                     "parameters": [{ "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } }],
                     "responses": { "200": { "description": "Processes", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/ProcessRecord" } } } } }, "404": errors(), "502": errors() } }
        },
        (routes::TASK_FILES): {
            "get": { "summary": "A folder of the task's sandbox (fetched from the task's agent); paths leaving the sandbox are refused",
                     "parameters": [
                        { "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "path", "in": "query", "schema": { "type": "string", "default": "" }, "description": "Relative to the sandbox; `..` is refused" }
                     ],
                     "responses": { "200": answer("The folder", Some("SandboxListing")), "400": errors(), "404": errors(), "502": errors() } }
        },
        (routes::TASK_FILE_CONTENT): {
            "get": { "summary": "A file of the task's sandbox: a chunk from `offset`, the last `tail` lines, or the whole file with `download=true`",
                     "parameters": [
                        { "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "path", "in": "query", "required": true, "schema": { "type": "string" } },
                        { "name": "offset", "in": "query", "schema": { "type": "integer" } },
                        { "name": "tail", "in": "query", "schema": { "type": "integer" } },
                        { "name": "download", "in": "query", "schema": { "type": "boolean" } }
                     ],
                     "responses": { "200": { "description": "File bytes; header X-Log-Offset is the offset after them (not for downloads)", "content": { "text/plain": {}, "application/octet-stream": {} } }, "400": errors(), "404": errors(), "502": errors() } }
        }
    })
}

/// The bodies' schemas.
fn schemas() -> Value {
    json!({
        "CronScheduled": { "type": "object", "properties": { "job": { "type": "string" }, "replaced": { "type": "boolean" } } },
        "CronDescheduled": { "type": "object", "properties": { "job": { "type": "string" }, "descheduled": { "type": "boolean" }, "message": { "type": "string" } } },
        "CronStarted": { "type": "object", "properties": { "job": { "type": "string" }, "outcome": { "type": "string", "enum": ["STARTED", "KILLING_PREVIOUS", "SKIPPED"] }, "task_ids": { "type": "array", "items": { "type": "string" } } } },
        "CronView": { "type": "object", "properties": { "job": { "type": "string" }, "schedule": { "type": "string" }, "collision_policy": { "type": "string" }, "timezone": { "type": "string" },
            "next_runs_ms": { "type": "array", "items": { "type": "integer" } }, "last_run_ms": { "type": "integer" }, "pending_run_ms": { "type": "integer" },
            "runs": { "type": "array", "items": { "type": "object", "properties": { "run_ms": { "type": "integer" }, "task_counts": { "type": "object", "additionalProperties": { "type": "integer" } } } } } } },
        "HostView": { "type": "object", "properties": { "agent_id": { "type": "string" }, "hostname": { "type": "string" }, "state": { "type": "string", "enum": HostState::ALL.map(HostState::name) },
            "attributes": { "type": "object", "additionalProperties": { "type": "string" } }, "cpu": { "type": "number" }, "ram_mb": { "type": "integer" }, "disk_mb": { "type": "integer" },
            "used_cpu": { "type": "number" }, "used_ram_mb": { "type": "integer" }, "used_disk_mb": { "type": "integer" }, "tasks": { "type": "integer" }, "last_seen_ms": { "type": "integer" },
            "isolation": { "type": "string", "enum": ["cgroup-v2", "cgroup-v1", "rlimits", "none"] } } },
        "HostsRequest": { "type": "object", "required": ["hosts"], "properties": { "hosts": { "type": "array", "items": { "type": "string" } } } },
        "MaintenanceView": { "type": "object", "properties": { "host": { "type": "string" }, "mode": { "type": "string", "enum": MaintenanceMode::ALL.map(MaintenanceMode::name) } } },
        "DrainResponse": { "type": "object", "properties": { "hosts": { "type": "array", "items": { "$ref": "#/components/schemas/MaintenanceView" } }, "task_ids": { "type": "array", "items": { "type": "string" } } } },
        "IssueTokenRequest": { "type": "object", "properties": { "user": { "type": "string" }, "ttl_secs": { "type": "integer" }, "bind_ip": { "type": "string", "description": "an IP address, or * for any; the caller's address when absent" } } },
        "TokenIssued": { "type": "object", "properties": { "token": { "type": "string" }, "id": { "type": "string" }, "user": { "type": "string" }, "expires_ms": { "type": "integer" }, "bind_ip": { "type": "string" } } },
        "TokenView": { "type": "object", "properties": { "id": { "type": "string" }, "user": { "type": "string" }, "issued_ms": { "type": "integer" }, "expires_ms": { "type": "integer" }, "bind_ip": { "type": "string" }, "revoked_ms": { "type": "integer" } } },
        "RoleSummary": { "type": "object", "properties": { "role": { "type": "string" }, "jobs": { "type": "integer" }, "active": { "type": "integer" }, "pending": { "type": "integer" }, "failed": { "type": "integer" } } },
        "InstancePage": { "type": "object", "properties": { "total": { "type": "integer" }, "offset": { "type": "integer" }, "limit": { "type": "integer" }, "instances": { "type": "array", "items": { "$ref": "#/components/schemas/TaskView" } } } },
        "ProcessRecord": { "type": "object", "properties": { "name": { "type": "string" }, "state": { "type": "string", "enum": ["WAITING", "RUNNING", "SUCCESS", "FAILED", "KILLED"] }, "runs": { "type": "integer" },
            "history": { "type": "array", "items": { "type": "object", "properties": { "run": { "type": "integer" }, "started_ms": { "type": "integer" }, "ended_ms": { "type": "integer" }, "exit_code": { "type": "integer" } } } } } },
        "SandboxListing": { "type": "object", "properties": { "path": { "type": "string" }, "entries": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" }, "dir": { "type": "boolean" }, "size": { "type": "integer" }, "modified_ms": { "type": "integer" } } } } } },
        "ErrorBody": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
        "CreateJobRequest": { "type": "object", "required": ["config"], "properties": { "config": { "type": "object", "description": "The job as `aurora job inspect --write-json` prints it" } } },
        "CreateJobResponse": { "type": "object", "properties": { "job": { "type": "string" }, "task_ids": { "type": "array", "items": { "type": "string" } } } },
        "JobSummary": { "type": "object", "properties": { "role": { "type": "string" }, "environment": { "type": "string" }, "name": { "type": "string" }, "service": { "type": "boolean" }, "instances": { "type": "integer" }, "cron_schedule": { "type": "string" }, "next_cron_run_ms": { "type": "integer" }, "task_counts": { "type": "object", "additionalProperties": { "type": "integer" } } } },
        "JobDetails": { "type": "object", "properties": { "summary": { "$ref": "#/components/schemas/JobSummary" }, "config": { "type": "object" }, "tasks": { "type": "array", "items": { "$ref": "#/components/schemas/TaskView" } }, "tasks_total": { "type": "integer" } } },
        "TaskView": { "type": "object", "properties": {
            "task_id": { "type": "string" }, "job": { "type": "string" }, "instance": { "type": "integer" }, "status": { "type": "string" },
            "host": { "type": "string" }, "agent_id": { "type": "string" }, "pending_reason": { "type": "string" },
            "ports": { "type": "object", "additionalProperties": { "type": "integer" } }, "failure_count": { "type": "integer" },
            "ancestor_id": { "type": "string" }, "cron_run_ms": { "type": "integer" },
            "events": { "type": "array", "items": { "type": "object", "properties": { "timestamp_ms": { "type": "integer" }, "status": { "type": "string" }, "message": { "type": "string" } } } } } },
        "KillRequest": { "type": "object", "properties": { "instances": { "type": "array", "items": { "type": "integer" } }, "message": { "type": "string" } } },
        "AddInstancesRequest": { "type": "object", "required": ["from_instance", "count"], "properties": { "from_instance": { "type": "integer" }, "count": { "type": "integer" } } },
        "RestartRequest": { "type": "object", "properties": { "instances": { "type": "array", "items": { "type": "integer" } }, "batch_size": { "type": "integer" }, "watch_secs": { "type": "integer" },
            "max_per_instance_failures": { "type": "integer" }, "max_total_failures": { "type": "integer" }, "message": { "type": "string" } } },
        "StartUpdateRequest": { "type": "object", "required": ["config"], "properties": { "config": { "type": "object" }, "instances": { "type": "array", "items": { "type": "integer" } }, "message": { "type": "string" },
            "metadata": { "type": "object", "additionalProperties": { "type": "string" } } } },
        "StartUpdateResponse": { "type": "object", "properties": { "update": { "$ref": "#/components/schemas/UpdateSummary" }, "message": { "type": "string" } } },
        "DiffRequest": { "type": "object", "required": ["config"], "properties": { "config": { "type": "object" }, "instances": { "type": "array", "items": { "type": "integer" } } } },
        "DiffResponse": { "type": "object", "properties": { "add": { "type": "array", "items": { "type": "integer" } }, "update": { "type": "array", "items": { "type": "integer" } },
            "remove": { "type": "array", "items": { "type": "integer" } }, "unchanged": { "type": "array", "items": { "type": "integer" } },
            "current": { "type": "array", "items": { "type": "object", "properties": { "instances": { "type": "array", "items": { "type": "integer" } }, "config": { "type": "object" } } } },
            "desired": { "type": "object" } } },
        "UpdateSummary": { "type": "object", "properties": { "id": { "type": "string" }, "job": { "type": "string" }, "kind": { "type": "string", "enum": ["update", "restart"] }, "user": { "type": "string" },
            "status": { "type": "string", "enum": ["ROLLING_FORWARD", "ROLLING_BACK", "ROLL_FORWARD_PAUSED", "ROLL_BACK_PAUSED", "ROLLED_FORWARD", "ROLLED_BACK", "ABORTED", "ERROR", "FAILED", "ROLL_FORWARD_AWAITING_PULSE", "ROLL_BACK_AWAITING_PULSE"] },
            "created_ms": { "type": "integer" }, "last_modified_ms": { "type": "integer" },
            "progress": { "type": "object", "properties": { "total": { "type": "integer" }, "succeeded": { "type": "integer" }, "working": { "type": "integer" }, "failed": { "type": "integer" } } } } },
        "UpdateDetails": { "type": "object", "properties": { "summary": { "$ref": "#/components/schemas/UpdateSummary" }, "settings": { "type": "object" },
            "events": { "type": "array", "items": { "type": "object", "properties": { "status": { "type": "string" }, "timestamp_ms": { "type": "integer" }, "user": { "type": "string" }, "message": { "type": "string" } } } },
            "instance_events": { "type": "array", "items": { "type": "object", "properties": { "instance": { "type": "integer" }, "timestamp_ms": { "type": "integer" }, "action": { "type": "string" } } } },
            "instances": { "type": "array", "items": { "type": "object", "properties": { "instance": { "type": "integer" }, "change": { "type": "string" }, "phase": { "type": "string" }, "failures": { "type": "integer" }, "task_id": { "type": "string" } } } },
            "metadata": { "type": "object", "additionalProperties": { "type": "string" } } } },
        "UpdateControlRequest": { "type": "object", "properties": { "message": { "type": "string" } } },
        "PulseResponse": { "type": "object", "properties": { "status": { "type": "string" } } },
        "TasksAffected": { "type": "object", "properties": { "task_ids": { "type": "array", "items": { "type": "string" } }, "instances": { "type": "array", "items": { "type": "integer" } } } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/api/v1` route the router serves is documented, with every schema it references.
    #[test]
    fn every_api_route_is_documented() {
        let doc = document();
        let routes = super::super::API_ROUTES;
        for (path, method) in routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not in the OpenAPI document"
            );
        }
        let documented = doc["paths"].as_object().unwrap().values();
        let operations: usize = documented.map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            operations,
            routes.len(),
            "documented operations that are not served"
        );
        let text = doc.to_string();
        for r in text.split("#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "schema {name} is referenced but not defined"
            );
        }
    }
}
