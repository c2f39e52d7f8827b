//! Who is calling, and may they: the middleware that identifies every request to the API and the
//! web UI (a token in `Authorization: Bearer`, or the UI's session cookie; or, from a trusted
//! proxy's address only, a user header), and the check each mutation makes
//! ([`Caller::may`]) against the authorization file (`aurora_auth::Authz`). Denials are 401 (who
//! are you: how to log in) or 403 (you may not: who was refused what, whom to ask).
//!
//! Here too: the cross-site check every mutation passes (`csrf`) and the token look-up, in memory
//! and then in the store off the async workers, limited per client address (`lookup`).
//!
//! The agent protocol has its own check (`aurora_agent::cluster_secret`).

pub mod csrf;
mod lookup;

pub use lookup::{FailedLookups, TokenLookupError, token_record};

use super::app::App;
use super::error::ApiError;
use aurora_auth::{Action, Authz, Denied};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
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
    /// `--kerberos-realm`: principals of this realm are bare user names (`alice@R` → `alice`);
    /// any other principal stays whole (`alice@OTHER.REALM`), so no realm can alias this one.
    pub kerberos_realm: Option<String>,
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
            kerberos_realm: None,
        }
    }
}

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None`: nobody identified (allowed only with `--auth none`).
    pub user: Option<String>,
    pub addr: IpAddr,
    /// The token that identified the caller (Bearer or session cookie), if one did: a token it
    /// mints may not outlive or widen it.
    pub token: Option<Presented>,
}

/// What a caller's own token allows, for the tokens it mints.
#[derive(Debug, Clone)]
pub struct Presented {
    pub id: String,
    pub expires_ms: i64,
    /// `None`: any address.
    pub bind_ip: Option<String>,
}

impl Caller {
    /// Nobody identified, from `addr`.
    pub fn nobody(addr: IpAddr) -> Caller {
        Caller {
            user: None,
            addr,
            token: None,
        }
    }
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
fn presented_token(headers: &HeaderMap) -> Option<(String, csrf::Credential)> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some((t.trim().to_owned(), csrf::Credential::Bearer));
        }
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| (v.to_owned(), csrf::Credential::Cookie))
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
/// credentials are refused at once; missing ones where the authorization file says every request
/// needs a login (`read_requires_login`: whatever the method), else later by a mutation's check.
/// Cross-site mutations are refused here (`csrf`).
pub async fn identify(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let addr = aurora_auth::token::canonical(peer.ip());
    let path = req.uri().path().to_owned();
    if exempt(&path) {
        req.extensions_mut().insert(Caller::nobody(addr));
        return next.run(req).await;
    }
    let (caller, credential) = match who(&app, addr, &path, req.headers()).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let auth = &app.auth;
    if caller.user.is_none() && auth.authz.read_requires_login() && !auth.anonymous {
        let mut r = refusal(&path, Denied::NotLoggedIn);
        if auth.kerberos {
            r.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Negotiate"),
            );
        }
        return r;
    }
    if let Err(e) = csrf::check(req.method(), req.headers(), credential) {
        let who = caller.user.as_deref().unwrap_or("-");
        let target = format!("{} {path}", req.method());
        app.audit(
            who,
            addr,
            "csrf",
            &target,
            &format!("refused: {}", e.message),
        );
        return e.into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Who the request's credentials name (a trusted proxy's header, Kerberos, then a token), and
/// how they came; a refusal when the credentials are bad.
async fn who(
    app: &App,
    addr: IpAddr,
    path: &str,
    headers: &HeaderMap,
) -> Result<(Caller, csrf::Credential), Response> {
    let auth = &app.auth;
    let mut caller = Caller::nobody(addr);
    if let Some(p) = &auth.proxy
        && p.from.contains(&addr)
        && let Some(u) = headers.get(p.header.as_str()).and_then(|v| v.to_str().ok())
        && !u.trim().is_empty()
    {
        caller.user = Some(u.trim().to_owned());
        return Ok((caller, csrf::Credential::Other));
    }
    if auth.kerberos
        && let Some(negotiate) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Negotiate "))
    {
        let token = negotiate.to_owned();
        let accepted = tokio::task::spawn_blocking(move || aurora_auth::kerberos::accept(&token))
            .await
            .map_err(|e| aurora_auth::kerberos::KerberosError::Gss(e.to_string()))
            .and_then(|r| r);
        return match accepted {
            Ok((principal, _)) => {
                let realm = auth.kerberos_realm.as_deref();
                caller.user = Some(aurora_auth::kerberos::user_of(&principal, realm));
                Ok((caller, csrf::Credential::Other))
            }
            Err(e) => {
                let mut r = denied(Denied::Kerberos(e.to_string())).into_response();
                r.headers_mut().insert(
                    "www-authenticate",
                    axum::http::HeaderValue::from_static("Negotiate"),
                );
                Err(r)
            }
        };
    }
    if auth.tokens
        && let Some((token, credential)) = presented_token(headers)
    {
        return match token_record(app, &token, addr).await {
            Ok(r) => {
                caller.user = Some(r.user.clone());
                caller.token = Some(Presented {
                    id: r.id,
                    expires_ms: r.expires_ms,
                    bind_ip: r.bind_ip,
                });
                Ok((caller, credential))
            }
            Err(TokenLookupError::Denied(d)) => Err(refusal(path, d)),
            Err(e) => Err(e.into_api_error().into_response()),
        };
    }
    Ok((caller, csrf::Credential::Other))
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
