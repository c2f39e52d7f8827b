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

/// The routes taking a body, by the first byte of the input.
const ROUTES: &[&str] = &[
    "/api/v1/jobs",
    "/api/v1/jobs/www-data/prod/hello/instances",
    "/api/v1/jobs/www-data/prod/hello/kill",
    "/api/v1/jobs/www-data/prod/hello/restart",
    "/api/v1/jobs/www-data/prod/hello/update",
    "/api/v1/jobs/www-data/prod/hello/update/pause",
    "/api/v1/jobs/www-data/prod/hello/diff",
    "/api/v1/cron",
    "/api/v1/maintenance/drain",
    "/api/v1/maintenance/activate",
    "/api/v1/tokens",
    "/agent/v1/register",
    "/agent/v1/fuzz-agent/status",
];

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
            db,
            audit_log: None,
            task_users: Default::default(),
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
    let path = ROUTES[pick as usize % ROUTES.len()];
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
