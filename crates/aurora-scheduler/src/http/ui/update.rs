//! `/scheduler/ROLE/ENV/JOB/update/ID`: one update's page: its settings, progress, instances,
//! events, and the diff from each configuration its instances ran before to the new one.

use super::job::update_href;
use super::{AppState, Crumb, JobKeyPath, When, job_crumbs, job_href, job_scoped_page, task_href};
use crate::http::error::ApiError;
use crate::http::ui::Header;
use crate::state::{JobEntry, State};
use crate::views;
use askama::Template;
use aurora_api::UpdateDetails;
use aurora_model::JobKey;
use aurora_model::update::{JobUpdate, UpdateSettings};
use axum::extract::{Path, State as AxState};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "update.html")]
pub struct UpdatePage<'a> {
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    key: String,
    job_href: String,
    id: String,
    api: String,
    status: String,
    kind: String,
    user: String,
    started: When,
    modified: When,
    progress: String,
    /// Share of instances done (succeeded or failed), for the bar: 0..=100.
    percent: u32,
    settings: Vec<(String, String)>,
    instances: Vec<UpdateInstanceRow>,
    events: Vec<UpdateEventRow>,
    instance_events: Vec<UpdateEventRow>,
    /// Unified diffs from each configuration instances ran before to the new one.
    diffs: Vec<(String, String)>,
}

/// One instance of an update on its page.
pub struct UpdateInstanceRow {
    pub instance: u32,
    pub change: String,
    pub phase: String,
    pub failures: u32,
    pub task: Option<(String, String)>,
}

/// One event of an update (its state, or an instance's action).
pub struct UpdateEventRow {
    pub when: When,
    pub what: String,
    pub detail: String,
}

/// The update page's model; `None` when the job has no such update.
pub fn update_page<'a>(
    state: &State,
    cluster: impl Into<Header<'a>>,
    key: &JobKey,
    id: &str,
    now: i64,
) -> Option<UpdatePage<'a>> {
    let u = state.updates.get(id).filter(|u| u.job == *key)?;
    let d = views::update_details(state, u);
    let total = d.summary.progress.total.max(1);
    let percent = (d.summary.progress.succeeded + d.summary.progress.failed) * 100 / total;
    let entry = state.jobs.get(key)?;
    let mut crumbs = job_crumbs(key);
    crumbs.push(Crumb {
        href: update_href(key, id),
        label: format!("update {}", &id[..id.len().min(8)]),
    });
    Some(UpdatePage {
        cluster: cluster.into(),
        crumbs,
        key: key.to_string(),
        job_href: job_href(key),
        id: id.to_owned(),
        api: aurora_api::routes::update(id),
        status: u.status.name().to_owned(),
        kind: format!("{:?}", u.kind).to_lowercase(),
        user: u.user.clone(),
        started: When::new(d.summary.created_ms, now),
        modified: When::new(d.summary.last_modified_ms, now),
        progress: d.summary.progress.to_string(),
        percent,
        settings: settings(&u.settings),
        instances: instance_rows(&d),
        events: events(u, now),
        instance_events: instance_events(u, now),
        diffs: diffs(entry, u),
    })
}

fn settings(st: &UpdateSettings) -> Vec<(String, String)> {
    let mut settings = vec![
        ("Strategy".to_owned(), st.strategy.describe()),
        (
            "Minimum waiting time in RUNNING".into(),
            format!("{} s", st.min_wait_in_running_ms / 1000),
        ),
        (
            "Max failures per instance".into(),
            st.max_per_instance_failures.to_string(),
        ),
        (
            "Max failed instances".into(),
            st.max_failed_instances.to_string(),
        ),
        (
            "Rollback on failure".into(),
            st.rollback_on_failure.to_string(),
        ),
    ];
    if let Some(p) = st.block_if_no_pulses_after_ms {
        settings.push(("Pulse interval".into(), format!("{} s", p / 1000)));
    }
    if let Some(only) = &st.update_only {
        let list: Vec<String> = only.iter().map(u32::to_string).collect();
        settings.push(("Only instances".into(), list.join(", ")));
    }
    settings
}

fn instance_rows(d: &UpdateDetails) -> Vec<UpdateInstanceRow> {
    d.instances
        .iter()
        .map(|i| UpdateInstanceRow {
            instance: i.instance,
            change: i.change.clone(),
            phase: format!("{:?}", i.phase).to_lowercase(),
            failures: i.failures,
            task: i.task_id.clone().map(|t| (task_href(&t), t)),
        })
        .collect()
}

/// The update's own state changes, oldest first.
fn events(u: &JobUpdate, now: i64) -> Vec<UpdateEventRow> {
    u.events
        .iter()
        .map(|e| UpdateEventRow {
            when: When::new(e.timestamp_ms, now),
            what: e.status.name().to_owned(),
            detail: [e.user.clone(), e.message.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        })
        .collect()
}

/// What the update did to each instance, newest first.
fn instance_events(u: &JobUpdate, now: i64) -> Vec<UpdateEventRow> {
    u.instance_events
        .iter()
        .rev()
        .map(|e| UpdateEventRow {
            when: When::new(e.timestamp_ms, now),
            what: e.action.name().to_owned(),
            detail: format!("instance {}", e.instance),
        })
        .collect()
}

/// For each configuration instances ran before the update, the instances and the unified diff
/// from it to the update's configuration.
fn diffs(entry: &JobEntry, u: &JobUpdate) -> Vec<(String, String)> {
    let Some(new) = entry
        .configs
        .get(&u.desired_config)
        .map(|c| pretty_config(c))
    else {
        return Vec::new();
    };
    let mut before: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, digest) in &u.initial {
        if *digest != u.desired_config {
            before.entry(digest.as_str()).or_default().push(*i);
        }
    }
    before
        .into_iter()
        .filter_map(|(digest, instances)| {
            let old = pretty_config(entry.configs.get(digest)?);
            let list: Vec<String> = instances.iter().map(u32::to_string).collect();
            let text = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .header("before", "after")
                .to_string();
            Some((list.join(", "), text))
        })
        .collect()
}

/// A configuration as the diff shows it: pretty JSON (a JSON value always prints).
fn pretty_config(c: &aurora_model::Job) -> String {
    format!("{:#}\n", c.instance_config())
}

#[derive(Deserialize)]
pub struct IdParam {
    id: String,
}

pub async fn update(
    AxState(app): AppState,
    key: Result<JobKeyPath, ApiError>,
    Path(IdParam { id }): Path<IdParam>,
) -> Response {
    let core = &app.core;
    job_scoped_page(
        core,
        key,
        |state, key| update_page(state, core.header(), key, &id, core.now_ms()),
        |key| format!("job {key} has no update {id}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_prints_as_pretty_json_with_a_final_newline() {
        let job: aurora_model::Job = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/hello_world.json"
            ))
            .expect("the example"),
        )
        .expect("a job");
        let mut expected =
            serde_json::to_string_pretty(&job.instance_config()).expect("a JSON value");
        expected.push('\n');
        assert_eq!(pretty_config(&job), expected);
    }
}
