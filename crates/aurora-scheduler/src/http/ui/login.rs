//! `/login`: the form where a user pastes a token, which becomes the session cookie once the
//! scheduler has checked it. Identifying requests by that cookie is `http::auth`'s.

use super::{AppState, Crumb, error_page, render};
use crate::http::auth::{SESSION_COOKIE, TokenLookupError, token_record};
use crate::http::ui::Header;
use askama::Template;
use axum::extract::{Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    reason: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    reason: String,
}

pub async fn login_page(AxState(app): AppState, Query(q): Query<LoginQuery>) -> Response {
    let core = &app.core;
    render(LoginPage {
        cluster: core.header(),
        crumbs: Vec::new(),
        reason: q.reason,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// A pasted token becomes the session cookie (HttpOnly, SameSite=Strict: no other site can make
/// the browser use it), after the scheduler checked it.
pub async fn login(
    AxState(app): AppState,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let core = &app.core;
    // A form posted from another site (login CSRF) is refused: its Origin is not this host.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin != "null" && origin_host != host {
            return error_page(
                core.header(),
                StatusCode::FORBIDDEN,
                format!("a login form from {origin} is refused: log in from this site"),
            );
        }
    }
    let token = form.token.trim().to_owned();
    let from = aurora_auth::token::canonical(peer.ip());
    match token_record(&app, &token, from).await {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/scheduler".to_owned()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{}",
                        SESSION_COOKIE,
                        if app.auth.secure_cookies {
                            "; Secure"
                        } else {
                            ""
                        }
                    ),
                ),
            ],
        )
            .into_response(),
        Err(e @ TokenLookupError::TooMany { .. }) => {
            error_page(core.header(), StatusCode::TOO_MANY_REQUESTS, e.to_string())
        }
        Err(e @ (TokenLookupError::Store(_) | TokenLookupError::Task(_))) => {
            tracing::error!("{e}");
            error_page(
                core.header(),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            )
        }
        Err(TokenLookupError::Denied(d)) => {
            let page = LoginPage {
                cluster: core.header(),
                crumbs: Vec::new(),
                reason: d.to_string(),
            };
            match page.render() {
                Ok(html) => (StatusCode::UNAUTHORIZED, Html(html)).into_response(),
                Err(e) => error_page(
                    core.header(),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                ),
            }
        }
    }
}
