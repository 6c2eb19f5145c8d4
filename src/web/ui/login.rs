//! `/login`: username and password, then — when the account has 2FA — the verification
//! code or recovery code, without typing the password again. The form posts to
//! `POST /api/v1/session` from `login.js`; this handler only renders it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::assets::{AssetUrls, urls};
use super::{guard, render};
use crate::service::Gatehouse;
use crate::web::auth::Principal;
use crate::web::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Serialize)]
struct LoginPage<'a> {
    site_title: &'a str,
    asset: AssetUrls,
    next: &'static str,
    /// Whether "Sign in with a passkey" is offered (the server's public URL allows it).
    passkeys: bool,
}

/// `GET /login`; a visitor who is already logged in goes straight on.
pub async fn page(
    State(app): State<Gatehouse>,
    principal: Result<Principal, ApiError>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let next = guard::return_page(query.ok().and_then(|Query(q)| q.next).as_deref());
    if guard::is_page_visitor(principal.as_ref().ok()) {
        return Redirect::to(next).into_response();
    }
    let ctx =
        LoginPage { site_title: &app.settings.site_title, asset: urls(), next, passkeys: app.passkeys_off().is_none() };
    render::page(StatusCode::OK, "login.html", &ctx)
}
