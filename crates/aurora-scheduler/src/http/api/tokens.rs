//! `/api/v1/tokens`: issuing (`aurora auth login`, `aurora_admin token issue`), listing and
//! revoking tokens. Minting, hashing and verifying them is `aurora-auth`'s; identifying callers
//! by them is `http::auth`'s.

use super::AppState;
use crate::http::app::App;
use crate::http::auth::{Audited, Caller, Presented};
use crate::http::error::ApiError;
use crate::state::Refusal;
use aurora_api::*;
use aurora_auth::Action;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// A day, the default lifetime of a token.
const TOKEN_TTL_SECS: u64 = 86_400;

/// `aurora auth login` (a token for the caller) and `aurora_admin token issue` (for anyone).
pub async fn issue_token(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<IssueTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenIssued>), ApiError> {
    let Json(req) = body?;
    let me = caller.user(&app)?;
    let user = req.user.clone().unwrap_or_else(|| me.clone());
    if caller.user.is_none() && req.user.is_none() {
        return Err(crate::http::auth::denied(aurora_auth::Denied::NotLoggedIn));
    }
    if !aurora_model::job_key::is_good_identifier(&user) {
        return Err(ApiError::bad_request(format!(
            "'{user}' is not a valid user name"
        )));
    }
    // Anyone may have a token for themselves; for others, administrators only.
    let target = format!("token for {user}");
    let audit = if user == me {
        None
    } else {
        Some(caller.begin(&app, Action::ManageTokens, None, &target)?)
    };
    let bind_ip = match req.bind_ip.as_deref() {
        None => Some(caller.addr),
        Some("*") => None,
        Some(ip) => Some(ip.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "bind_ip '{ip}' is not an IP address (or * for any)"
            ))
        })?),
    };
    let now = app.core.now_ms();
    let ttl_ms = (req
        .ttl_secs
        .unwrap_or(TOKEN_TTL_SECS)
        .clamp(60, 366 * 86_400)
        * 1000) as i64;
    let asked = now.saturating_add(ttl_ms);
    let admin = caller.may(&app, Action::ManageTokens, None).is_ok();
    let expires_ms = match &caller.token {
        Some(parent) if !admin => match narrower(parent, asked, bind_ip) {
            Ok(e) => e,
            Err(e) => return done(&app, audit, (&me, &caller, &target), Err(e)),
        },
        _ => asked,
    };
    let (token, record) = aurora_auth::mint(&user, now, expires_ms - now, bind_ip)
        .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let issued = TokenIssued {
        token,
        id: record.id.clone(),
        user: user.clone(),
        expires_ms: record.expires_ms,
        bind_ip: record.bind_ip.clone(),
    };
    let r = app
        .core
        .mutate(move |s, _, _, dirty| {
            dirty.tokens.insert(record.hash.clone());
            s.tokens.insert(record.hash.clone(), record);
            Ok(())
        })
        .await
        .map_err(ApiError::from);
    done(&app, audit, (&me, &caller, &target), r)?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// A token minted with `parent` (by a user who is not an administrator) may not outlive it nor
/// be accepted from more addresses: its expiry is cut to the parent's, and a binding wider than
/// the parent's (any address, or another one) is refused with 403.
fn narrower(
    parent: &Presented,
    expires_ms: i64,
    bind_ip: Option<std::net::IpAddr>,
) -> Result<i64, ApiError> {
    if let Some(bound) = &parent.bind_ip
        && bind_ip.map(|ip| ip.to_string()).as_ref() != Some(bound)
    {
        let asked = bind_ip.map_or("any address".to_owned(), |ip| ip.to_string());
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token {} is bound to {bound}: a token it mints cannot be accepted from {asked} (ask an administrator)",
                parent.id
            ),
        ));
    }
    Ok(expires_ms.min(parent.expires_ms))
}

/// Records the outcome of a token action: through `audit` when an administrator's check was
/// made, else as the caller's own action on their tokens.
fn done<T>(
    app: &App,
    audit: Option<Audited<'_>>,
    (me, caller, target): (&str, &Caller, &str),
    r: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match audit {
        Some(a) => a.done(r),
        None => {
            let outcome = if r.is_ok() { "ok" } else { "failed" };
            app.audit(
                me,
                caller.addr,
                Action::ManageTokens.name(),
                target,
                outcome,
            );
            r
        }
    }
}

fn token_view(r: &aurora_model::auth::TokenRecord) -> TokenView {
    TokenView {
        id: r.id.clone(),
        user: r.user.clone(),
        issued_ms: r.issued_ms,
        expires_ms: r.expires_ms,
        bind_ip: r.bind_ip.clone(),
        revoked_ms: r.revoked_ms,
    }
}

/// `aurora_admin token list`: every token (administrators), or the caller's own.
pub async fn list_tokens(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let me = caller.user(&app)?;
    let all = caller.may(&app, Action::ManageTokens, None).is_ok();
    let state = app.core.read();
    let mut out: Vec<TokenView> = state
        .tokens
        .values()
        .filter(|t| all || t.user == me)
        .map(token_view)
        .collect();
    out.sort_by(|a, b| a.issued_ms.cmp(&b.issued_ms).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(out))
}

/// `aurora_admin token revoke ID`: administrators, or the token's owner.
pub async fn revoke_token(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let me = caller.user(&app)?;
    let owner = app
        .core
        .read()
        .tokens
        .values()
        .find(|t| t.id == id)
        .map(|t| t.user.clone())
        .ok_or_else(|| ApiError::not_found(format!("no token {id}")))?;
    let target = format!("revoke token {id} of {owner}");
    let audit = if owner == me && caller.user.is_some() {
        None
    } else {
        Some(caller.begin(&app, Action::ManageTokens, None, &target)?)
    };
    let r = app
        .core
        .mutate(move |s, now, _, dirty| {
            let t = s
                .tokens
                .values_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| Refusal::Invalid(format!("no token {id}")))?;
            t.revoked_ms.get_or_insert(now);
            dirty.tokens.insert(t.hash.clone());
            Ok(token_view(t))
        })
        .await
        .map_err(ApiError::from);
    done(&app, audit, (&me, &caller, &target), r).map(Json)
}
