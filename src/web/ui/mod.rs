//! The web UI: server-rendered pages (`/`, `/login`, `/settings/account`,
//! `/admin/users`) and their static assets, behind the page security headers.
//!
//! Pages only read; every change goes through the JSON API from the page's script, with
//! the session cookie and the `X-CSRF-Token` header the page carries in a `<meta>` tag.
//! Who the visitor is comes from the one decision point, [`crate::web::auth`].

mod account;
mod admin;
mod assets;
mod guard;
mod login;
mod render;
mod view;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::service::Gatehouse;
use crate::web::auth::Principal;
use crate::web::error::ApiError;

pub use assets::ASSETS;

/// The Content-Security-Policy of every page: no inline scripts or styles, nothing from
/// other origins, never framed. QR codes are `data:` images.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::page))
        .route("/settings/account", get(account::page))
        .route("/admin/users", get(admin::page))
        .route("/assets/{name}", get(assets::serve))
        .layer(axum::middleware::map_response(page_headers))
}

/// `/`: the account page for a logged-in visitor, else the login page.
async fn home(principal: Result<Principal, ApiError>) -> Response {
    let target = if guard::is_page_visitor(principal.as_ref().ok()) { "/settings/account" } else { "/login" };
    Redirect::to(target).into_response()
}

/// The answer to an address nothing serves: a page for a browser that asked for one
/// outside the API, the API's JSON 404 for everything else.
pub async fn not_found(State(app): State<Gatehouse>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if !wants_html || uri.path().starts_with("/api/") {
        return ApiError::not_found("route").into_response();
    }
    let message = "There is no page at this address.";
    page_headers(render::error_page(&app.settings.site_title, StatusCode::NOT_FOUND, message)).await
}

/// Headers that only make sense for documents; the shared layer in [`crate::web`] adds
/// `nosniff`, `X-Frame-Options` and the referrer policy to every answer.
async fn page_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    resp
}
