//! Any bytes as the body of any POST the scheduler serves — the users' JSON API and the agent
//! protocol (with a valid agent credential, so bodies get past the door) — through the real
//! router on a real, temporary store. Every answer must be a status below 500: bad input is a
//! 4xx with a message, never a panic, a hang or a server error.
//!
//! The first byte picks the route; the rest is the body. Seeds: `fuzz/seeds/api_bodies`.
#![no_main]

use aurora_scheduler::core::{Core, CoreOptions, SystemClock};
use aurora_scheduler::http::{App, app::AppOptions, router};
use aurora_scheduler::state::State;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use tower::ServiceExt;

const SECRET: &str = "fuzzing-cluster-secret-0123456789";
const AGENT: &str = "fuzz-agent";

/// The routes taking a body, by the first byte of the input (as `aurora_api::routes` makes them).
static ROUTES: LazyLock<Vec<String>> = LazyLock::new(|| {
    use aurora_api::{UpdateAction, routes};
    let key = aurora_model::JobKey::new("www-data", "prod", "hello").expect("a valid key");
    vec![
        routes::JOBS.to_owned(),
        routes::job_instances(&key),
        routes::job_kill(&key),
        routes::job_restart(&key),
        routes::job_update(&key),
        routes::job_update_control(&key, UpdateAction::Pause),
        routes::job_diff(&key),
        routes::CRON.to_owned(),
        routes::MAINTENANCE_DRAIN.to_owned(),
        routes::MAINTENANCE_ACTIVATE.to_owned(),
        routes::TOKENS.to_owned(),
        routes::AGENT_REGISTER.to_owned(),
        routes::agent_status(AGENT),
    ]
});

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _data: tempfile::TempDir,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let data = tempfile::tempdir().expect("a temporary data folder");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let db = data.path().join("scheduler.db");
    let router = runtime.block_on(async {
        let (store, _) = aurora_store::Store::open(&db).expect("a fresh store");
        let core = Core::new(
            State::default(),
            store,
            CoreOptions {
                cluster: "fuzz".into(),
                clock: Arc::new(SystemClock),
                cluster_secret: SECRET.into(),
                heartbeat: std::time::Duration::from_secs(5),
            },
        );
        let options = AppOptions {
            auth: Default::default(),
            storage: aurora_scheduler::storage::Storage::beside(&db),
            db,
            audit_log: None,
            task_users: Default::default(),
            snapshot_now: None,
        };
        router(App::new(core, options).expect("the HTTP side"))
    });
    Harness {
        runtime,
        router,
        _data: data,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = ROUTES[pick as usize % ROUTES.len()].as_str();
    let h = &*HARNESS;
    let credential = aurora_agent::cluster_secret::credential(SECRET, AGENT);
    let mut req = Request::post(path)
        .header("content-type", "application/json")
        .header(aurora_agent::cluster_secret::HEADER, credential)
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
    req.extensions_mut().insert(ConnectInfo(peer));
    let status = h
        .runtime
        .block_on(h.router.clone().oneshot(req))
        .expect("the router answers")
        .status();
    assert!(
        status.as_u16() < 500,
        "{path} answered {status} to {:?}",
        String::from_utf8_lossy(body)
    );
});
