//! The OpenAPI 3 document of `/api/v1`, served at `/api/v1/openapi.json`, so scripts and tools can
//! discover the API. Kept next to the routes it describes (`http::api`).

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
        "paths": {
            "/api/v1/jobs": {
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
            "/api/v1/jobs/{role}/{env}/{name}": {
                "get": { "summary": "A job, its configuration and its tasks", "parameters": job_params(),
                         "responses": { "200": answer("The job", Some("JobDetails")), "404": errors() } }
            },
            "/api/v1/jobs/{role}/{env}/{name}/kill": {
                "post": { "summary": "Kill instances (all when none are named)", "parameters": job_params(), "requestBody": body("KillRequest"),
                          "responses": { "200": answer("Tasks being killed", Some("TasksAffected")), "404": errors() } }
            },
            "/api/v1/jobs/{role}/{env}/{name}/instances": {
                "post": { "summary": "Add instances copying an active instance's configuration", "parameters": job_params(), "requestBody": body("AddInstancesRequest"),
                          "responses": { "200": answer("New tasks", Some("TasksAffected")), "400": errors(), "404": errors() } }
            },
            "/api/v1/jobs/{role}/{env}/{name}/restart": {
                "post": { "summary": "Restart instances: each active task is killed and replaced", "parameters": job_params(), "requestBody": body("RestartRequest"),
                          "responses": { "200": answer("Tasks restarting", Some("TasksAffected")), "404": errors() } }
            },
            "/api/v1/tasks/{task_id}": {
                "get": { "summary": "A task with its events", "parameters": [{ "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } }],
                         "responses": { "200": answer("The task", Some("TaskView")), "404": errors() } }
            },
            "/api/v1/tasks/{task_id}/logs": {
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
            }
        },
        "components": { "schemas": {
            "ErrorBody": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
            "CreateJobRequest": { "type": "object", "required": ["config"], "properties": { "config": { "type": "object", "description": "The job as `aurora job inspect --write-json` prints it" } } },
            "CreateJobResponse": { "type": "object", "properties": { "job": { "type": "string" }, "task_ids": { "type": "array", "items": { "type": "string" } } } },
            "JobSummary": { "type": "object", "properties": { "role": { "type": "string" }, "environment": { "type": "string" }, "name": { "type": "string" }, "service": { "type": "boolean" }, "instances": { "type": "integer" }, "cron_schedule": { "type": "string" }, "task_counts": { "type": "object", "additionalProperties": { "type": "integer" } } } },
            "JobDetails": { "type": "object", "properties": { "summary": { "$ref": "#/components/schemas/JobSummary" }, "config": { "type": "object" }, "tasks": { "type": "array", "items": { "$ref": "#/components/schemas/TaskView" } } } },
            "TaskView": { "type": "object", "properties": {
                "task_id": { "type": "string" }, "job": { "type": "string" }, "instance": { "type": "integer" }, "status": { "type": "string" },
                "host": { "type": "string" }, "agent_id": { "type": "string" }, "pending_reason": { "type": "string" },
                "ports": { "type": "object", "additionalProperties": { "type": "integer" } }, "failure_count": { "type": "integer" },
                "ancestor_id": { "type": "string" },
                "events": { "type": "array", "items": { "type": "object", "properties": { "timestamp_ms": { "type": "integer" }, "status": { "type": "string" }, "message": { "type": "string" } } } } } },
            "KillRequest": { "type": "object", "properties": { "instances": { "type": "array", "items": { "type": "integer" } }, "message": { "type": "string" } } },
            "AddInstancesRequest": { "type": "object", "required": ["from_instance", "count"], "properties": { "from_instance": { "type": "integer" }, "count": { "type": "integer" } } },
            "RestartRequest": { "type": "object", "properties": { "instances": { "type": "array", "items": { "type": "integer" } } } },
            "TasksAffected": { "type": "object", "properties": { "task_ids": { "type": "array", "items": { "type": "string" } }, "instances": { "type": "array", "items": { "type": "integer" } } } }
        } }
    })
}
