//! Finding the record of a presented token: in memory first (every token this scheduler issued
//! or found), then in the store, for tokens another process (`aurora-scheduler token issue`)
//! wrote since the start. The store is read on a blocking thread, never on an async worker, and
//! a client address whose look-ups keep missing is refused for a while ([`FailedLookups`]): an
//! unknown token must not be a cheap way to make the scheduler open SQLite.

use crate::http::app::App;
use crate::http::error::ApiError;
use aurora_auth::Denied;
use aurora_model::auth::TokenRecord;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// How many store look-ups of unknown tokens one client address may cause per window.
pub const FAILED_LOOKUPS_PER_WINDOW: u32 = 20;
/// The window, in milliseconds.
pub const FAILED_LOOKUP_WINDOW_MS: i64 = 60_000;
/// Addresses remembered at most; beyond, the oldest windows are forgotten.
const REMEMBERED_ADDRESSES: usize = 10_000;

/// Why a presented token identifies nobody.
#[derive(Debug, thiserror::Error)]
pub enum TokenLookupError {
    /// The token is bad, unknown, expired, revoked or from the wrong address: a 401.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Too many unknown tokens from this address lately: a 429.
    #[error(
        "too many unknown tokens from {from}: try again in {retry_after_s} s (log in again if your token is lost)"
    )]
    TooMany { from: IpAddr, retry_after_s: u64 },
    /// The store could not be read: nothing is known about the token, and it is our fault (500).
    #[error("cannot look the token up in the store: {0}")]
    Store(#[from] aurora_store::StoreError),
    /// The blocking look-up did not finish (its thread panicked or the runtime is going away).
    #[error("cannot look the token up: {0}")]
    Task(String),
}

impl From<aurora_auth::TokenError> for TokenLookupError {
    fn from(e: aurora_auth::TokenError) -> Self {
        TokenLookupError::Denied(e.into())
    }
}

impl TokenLookupError {
    /// The answer to the caller: a denial, a 429, or a 500 (logged here) when the store failed.
    pub fn into_api_error(self) -> ApiError {
        match self {
            TokenLookupError::Denied(d) => super::denied(d),
            e @ TokenLookupError::TooMany { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
            }
            e @ (TokenLookupError::Store(_) | TokenLookupError::Task(_)) => {
                tracing::error!("{e}");
                ApiError::internal(e.to_string())
            }
        }
    }
}

/// Store look-ups that found nothing, per client address, in fixed windows.
#[derive(Debug, Default)]
pub struct FailedLookups {
    /// Address → (start of its window, misses in it).
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl FailedLookups {
    /// `Err(seconds to wait)` when `from` has used up its misses in the current window.
    pub fn check(&self, from: IpAddr, now_ms: i64) -> Result<(), u64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(&from) {
            Some(&(start, misses))
                if now_ms - start < FAILED_LOOKUP_WINDOW_MS
                    && misses >= FAILED_LOOKUPS_PER_WINDOW =>
            {
                let left_ms = FAILED_LOOKUP_WINDOW_MS - (now_ms - start);
                Err((left_ms as u64).div_ceil(1000).max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a miss from `from`.
    pub fn record(&self, from: IpAddr, now_ms: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= REMEMBERED_ADDRESSES && !windows.contains_key(&from) {
            windows.retain(|_, (start, _)| now_ms - *start < FAILED_LOOKUP_WINDOW_MS);
            if windows.len() >= REMEMBERED_ADDRESSES {
                windows.clear();
            }
        }
        let w = windows.entry(from).or_insert((now_ms, 0));
        if now_ms - w.0 >= FAILED_LOOKUP_WINDOW_MS {
            *w = (now_ms, 0);
        }
        w.1 = w.1.saturating_add(1);
    }
}

/// The record of a token presented from `from`, checked (not revoked, not expired, from its
/// address): looked up in memory, then in the store (off the async workers), where a found one
/// is cached in memory.
pub async fn token_record(
    app: &App,
    token: &str,
    from: IpAddr,
) -> Result<TokenRecord, TokenLookupError> {
    let core = &app.core;
    let now = core.now_ms();
    {
        let state = core.read();
        match aurora_auth::verify(token, |h| state.tokens.get(h), from, now) {
            Ok(r) => return Ok(r.clone()),
            Err(aurora_auth::TokenError::Unknown) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let hash = aurora_auth::token::parse(token)?;
    app.failed_lookups
        .check(from, now)
        .map_err(|retry_after_s| TokenLookupError::TooMany {
            from,
            retry_after_s,
        })?;
    let db = app.db.clone();
    let found = tokio::task::spawn_blocking(move || aurora_store::find_token(&db, &hash))
        .await
        .map_err(|e| TokenLookupError::Task(e.to_string()))??;
    let Some(record) = found else {
        app.failed_lookups.record(from, now);
        return Err(aurora_auth::TokenError::Unknown.into());
    };
    core.mutate_in_memory(|state| {
        state.tokens.insert(record.hash.clone(), record);
        aurora_auth::verify(token, |h| state.tokens.get(h), from, now)
            .cloned()
            .map_err(Into::into)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Core, CoreOptions, SystemClock};
    use crate::http::app::AppOptions;
    use crate::http::auth::AuthOptions;
    use std::sync::Arc;

    /// An app whose store file for token look-ups is `db`.
    fn app(dir: &std::path::Path, db: std::path::PathBuf) -> Arc<App> {
        let (store, _) = aurora_store::Store::open(&dir.join("s.db")).expect("a fresh store");
        let core = Core::new(
            crate::state::State::default(),
            store,
            CoreOptions {
                cluster: "c".into(),
                clock: Arc::new(SystemClock),
                cluster_secret: "0123456789abcdef".into(),
                heartbeat: std::time::Duration::from_secs(5),
            },
        );
        let options = AppOptions {
            auth: AuthOptions::default(),
            db,
            audit_log: None,
            task_users: Default::default(),
            storage: crate::storage::Storage::beside(&dir.join("s.db")),
            snapshot_now: None,
        };
        App::new(core, options).expect("an app")
    }

    fn token(user: &str) -> (String, TokenRecord) {
        aurora_auth::mint(user, crate::core::now_ms(), 3_600_000, None).expect("randomness")
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_read_is_a_500_not_a_401() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = app(dir.path(), dir.path().join("missing/scheduler.db"));
        let (t, _) = token("alice");
        let e = token_record(&app, &t, [127, 0, 0, 1].into())
            .await
            .expect_err("no store to read");
        assert!(matches!(e, TokenLookupError::Store(_)), "{e:?}");
        assert_eq!(e.into_api_error().status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn a_token_another_process_stored_is_found_and_an_unknown_one_is_a_401() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("s.db");
        let app = app(dir.path(), db.clone());
        let (t, record) = token("bob");
        let (other, _) = aurora_store::Store::open(&db).expect("the same store");
        other
            .submit(vec![aurora_store::StoreOp::SaveToken { record }])
            .wait()
            .await
            .expect("stored");
        let from = [127, 0, 0, 1].into();
        let found = token_record(&app, &t, from).await.expect("found");
        assert_eq!(found.user, "bob");
        let (unknown, _) = token("carol");
        let e = token_record(&app, &unknown, from)
            .await
            .expect_err("unknown");
        assert!(matches!(e, TokenLookupError::Denied(_)), "{e:?}");
        assert_eq!(e.into_api_error().status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn an_address_that_keeps_missing_is_refused_without_a_look_up_but_known_tokens_pass() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("s.db");
        let app = app(dir.path(), db);
        let (known, record) = token("dave");
        app.core
            .mutate_in_memory(|s| s.tokens.insert(record.hash.clone(), record));
        let from: IpAddr = [10, 0, 0, 9].into();
        for _ in 0..FAILED_LOOKUPS_PER_WINDOW {
            let (t, _) = token("x");
            let e = token_record(&app, &t, from).await.expect_err("unknown");
            assert!(matches!(e, TokenLookupError::Denied(_)), "{e:?}");
        }
        let (t, _) = token("x");
        let e = token_record(&app, &t, from).await.expect_err("limited");
        assert!(matches!(e, TokenLookupError::TooMany { .. }), "{e:?}");
        assert_eq!(e.into_api_error().status, StatusCode::TOO_MANY_REQUESTS);
        assert!(token_record(&app, &known, from).await.is_ok(), "in memory");
        let other: IpAddr = [10, 0, 0, 10].into();
        let e = token_record(&app, &t, other).await.expect_err("unknown");
        assert!(matches!(e, TokenLookupError::Denied(_)), "another address");
        let later = crate::core::now_ms() + FAILED_LOOKUP_WINDOW_MS;
        assert!(
            app.failed_lookups.check(from, later).is_ok(),
            "a new window"
        );
    }
}
