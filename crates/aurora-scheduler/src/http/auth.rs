//! Who is calling, and may they: the middleware that identifies every request to the API and the
//! web UI (a token in `Authorization: Bearer`, or the UI's session cookie; or, from a trusted
//! proxy's address only, a user header), and the check each mutation makes
//! ([`Caller::may`]) against the authorization file (`aurora_auth::Authz`). Denials are 401 (who
//! are you: how to log in) or 403 (you may not: who was refused what, whom to ask).
//!
//! The agent protocol has its own check (`aurora_agent::cluster_secret`).

use super::app::App;
use super::error::ApiError;
use aurora_auth::{Action, Authz, Denied};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The UI's session cookie (it holds a token).
pub const SESSION_COOKIE: &str = "aurora_session";

/// A trusted SSO proxy: the user is taken from `header` on connections from `from` only.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub header: String,
    pub from: Vec<IpAddr>,
}

/// How callers are identified and what they may do.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// Tokens (`Bearer`, session cookie) identify users.
    pub tokens: bool,
    /// Kerberos (`Negotiate`, SPNEGO) identifies users, with the keytab's keys.
    pub kerberos: bool,
    pub proxy: Option<Proxy>,
    /// `--auth none`: callers nobody identified may do everything.
    pub anonymous: bool,
    pub authz: Authz,
    /// Session cookies carry `Secure` (the scheduler serves HTTPS).
    pub secure_cookies: bool,
}

impl Default for AuthOptions {
    /// The single-machine default: anyone (on loopback) may do everything.
    fn default() -> Self {
        AuthOptions {
            tokens: true,
            kerberos: false,
            proxy: None,
            anonymous: true,
            authz: Authz::open(),
            secure_cookies: false,
        }
    }
}

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None`: nobody identified (allowed only with `--auth none`).
    pub user: Option<String>,
    pub addr: IpAddr,
}

impl Caller {
    /// The user, or a 401 saying how to log in (with `--auth none`, `anonymous`).
    pub fn user(&self, app: &App) -> Result<String, ApiError> {
        match &self.user {
            Some(u) => Ok(u.clone()),
            None if app.auth.anonymous => Ok("anonymous".into()),
            None => Err(denied(Denied::NotLoggedIn)),
        }
    }

    /// Starts a mutation: checks that the caller may do `action` on `target` (a job of `role`, or
    /// an administrators' action when `None`). A refusal is written to the audit log here; the
    /// outcome of an allowed one by [`Audited::done`].
    pub fn begin<'c>(
        &self,
        app: &'c App,
        action: Action,
        role: Option<&str>,
        target: impl Into<String>,
    ) -> Result<Audited<'c>, ApiError> {
        let target = target.into();
        match self.may(app, action, role) {
            Ok(user) => Ok(Audited {
                app,
                user,
                addr: self.addr,
                action,
                target,
            }),
            Err(e) => {
                let who = self.user.as_deref().unwrap_or("-");
                app.audit(
                    who,
                    self.addr,
                    action.name(),
                    &target,
                    &format!("refused: {}", e.message),
                );
                Err(e)
            }
        }
    }

    /// May this caller do `action` on jobs of `role` (administrators' actions when `None`)?
    /// Returns the user.
    pub fn may(&self, app: &App, action: Action, role: Option<&str>) -> Result<String, ApiError> {
        let user = self.user(app)?;
        if self.user.is_none() {
            return Ok(user); // --auth none
        }
        let authz = &app.auth.authz;
        match role {
            Some(r) => authz.check_role(&user, action, r),
            None => authz.check_admin(&user, action),
        }
        .map_err(denied)?;
        Ok(user)
    }
}

/// An allowed mutation on its way: its outcome goes to the audit log.
pub struct Audited<'c> {
    app: &'c App,
    pub user: String,
    addr: IpAddr,
    action: Action,
    target: String,
}

impl Audited<'_> {
    /// Records the outcome and passes it on.
    pub fn done<T>(self, r: Result<T, ApiError>) -> Result<T, ApiError> {
        let outcome = match &r {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed: {}", e.message),
        };
        self.app.audit(
            &self.user,
            self.addr,
            self.action.name(),
            &self.target,
            &outcome,
        );
        r
    }
}

/// A denial as an API error.
pub fn denied(d: Denied) -> ApiError {
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN);
    ApiError::new(status, d.to_string())
}

/// The token a request carries: `Authorization: Bearer T`, else the session cookie.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_owned());
        }
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Why a presented token identifies nobody.
#[derive(Debug, thiserror::Error)]
pub enum TokenLookupError {
    /// The token is bad, unknown, expired, revoked or from the wrong address: a 401.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The store could not be read: nothing is known about the token, and it is our fault (500).
    #[error("cannot look the token up in the store: {0}")]
    Store(#[from] aurora_store::StoreError),
}

impl From<aurora_auth::TokenError> for TokenLookupError {
    fn from(e: aurora_auth::TokenError) -> Self {
        TokenLookupError::Denied(e.into())
    }
}

impl TokenLookupError {
    /// The answer to the caller: a denial, or a 500 (logged here) when the store failed.
    pub fn into_api_error(self) -> ApiError {
        match self {
            TokenLookupError::Denied(d) => denied(d),
            TokenLookupError::Store(e) => {
                tracing::error!("{e}");
                ApiError::internal(format!("cannot look the token up: {e}"))
            }
        }
    }
}

/// The user a token identifies, presented from `from`: looked up in memory, then in the store
/// (for tokens another process issued since the start), where a found one is cached in memory.
pub fn user_of_token(app: &App, token: &str, from: IpAddr) -> Result<String, TokenLookupError> {
    let core = &app.core;
    let now = core.now_ms();
    {
        let state = core.read();
        match aurora_auth::verify(token, |h| state.tokens.get(h), from, now) {
            Ok(r) => return Ok(r.user.clone()),
            Err(aurora_auth::TokenError::Unknown) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let hash = aurora_auth::token::parse(token)?;
    let Some(record) = aurora_store::find_token(&app.db, &hash)? else {
        return Err(aurora_auth::TokenError::Unknown.into());
    };
    core.mutate_in_memory(|state| {
        state.tokens.insert(record.hash.clone(), record);
        aurora_auth::verify(token, |h| state.tokens.get(h), from, now)
            .map(|r| r.user.clone())
            .map_err(Into::into)
    })
}

/// Routes that identify themselves or need no identity.
fn exempt(path: &str) -> bool {
    path == "/health"
        || path.starts_with("/agent/")
        || path.starts_with("/assets/")
        || path == "/login"
        || path == aurora_api::routes::OPENAPI
}

/// Identifies the caller of every request and puts a [`Caller`] in its extensions. Bad
/// credentials are refused at once; missing ones only where a read needs a login (or later, by a
/// mutation's check).
pub async fn identify(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let addr = aurora_auth::token::canonical(peer.ip());
    let path = req.uri().path().to_owned();
    if exempt(&path) {
        req.extensions_mut().insert(Caller { user: None, addr });
        return next.run(req).await;
    }
    let auth = &app.auth;
    let mut user = None;
    if let Some(p) = &auth.proxy
        && p.from.contains(&addr)
        && let Some(u) = req
            .headers()
            .get(p.header.as_str())
            .and_then(|v| v.to_str().ok())
        && !u.trim().is_empty()
    {
        user = Some(u.trim().to_owned());
    }
    if user.is_none()
        && auth.kerberos
        && let Some(negotiate) = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Negotiate "))
    {
        let token = negotiate.to_owned();
        let accepted = tokio::task::spawn_blocking(move || aurora_auth::kerberos::accept(&token))
            .await
            .map_err(|e| aurora_auth::kerberos::KerberosError::Gss(e.to_string()))
            .and_then(|r| r);
        match accepted {
            Ok((principal, _)) => {
                user = Some(aurora_auth::kerberos::user_of(&principal).to_owned())
            }
            Err(e) => {
                let mut r = denied(Denied::Kerberos(e.to_string())).into_response();
                r.headers_mut().insert(
                    "www-authenticate",
                    axum::http::HeaderValue::from_static("Negotiate"),
                );
                return r;
            }
        }
    }
    if user.is_none()
        && auth.tokens
        && let Some(token) = presented_token(req.headers())
    {
        match user_of_token(&app, &token, addr) {
            Ok(u) => user = Some(u),
            Err(TokenLookupError::Denied(d)) => return refusal(&path, d),
            Err(e) => return e.into_api_error().into_response(),
        }
    }
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if user.is_none() && read && auth.authz.read_requires_login() && !auth.anonymous {
        let mut r = refusal(&path, Denied::NotLoggedIn);
        if auth.kerberos {
            r.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Negotiate"),
            );
        }
        return r;
    }
    req.extensions_mut().insert(Caller { user, addr });
    next.run(req).await
}

/// A refusal: JSON for the API, a redirect to the login page for the UI.
fn refusal(path: &str, d: Denied) -> Response {
    if path.starts_with("/api/") || path == "/metrics" {
        denied(d).into_response()
    } else {
        let to = format!(
            "/login?reason={}",
            form_urlencoded::byte_serialize(d.to_string().as_bytes()).collect::<String>()
        );
        axum::response::Redirect::to(&to).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Core, CoreOptions, SystemClock};
    use crate::http::app::AppOptions;

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
        };
        App::new(core, options).expect("an app")
    }

    fn token(user: &str) -> (String, aurora_model::auth::TokenRecord) {
        aurora_auth::mint(user, crate::core::now_ms(), 3_600_000, None).expect("randomness")
    }

    #[test]
    fn a_store_that_cannot_be_read_is_a_500_not_a_401() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = app(dir.path(), dir.path().join("missing/scheduler.db"));
        let (t, _) = token("alice");
        let e = user_of_token(&app, &t, [127, 0, 0, 1].into()).expect_err("no store to read");
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
        assert_eq!(user_of_token(&app, &t, from).expect("found"), "bob");
        let (unknown, _) = token("carol");
        let e = user_of_token(&app, &unknown, from).expect_err("unknown");
        assert!(matches!(e, TokenLookupError::Denied(_)), "{e:?}");
        assert_eq!(e.into_api_error().status, StatusCode::UNAUTHORIZED);
    }
}
