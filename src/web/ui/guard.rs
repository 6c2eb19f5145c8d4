//! Who may see a page: a user's interactive web session, as decided by
//! [`crate::web::auth`] (the [`WebUser`] extractor). Anyone else is sent to `/login`,
//! and back to the page they asked for afterwards.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::render;
use crate::domain::session::Session;
use crate::domain::user::User;
use crate::service::Gatehouse;
use crate::web::auth::{Principal, WebUser};

/// The pages a login may return to (`/login?next=…`); anything else goes to the account
/// page, so `next` can never send anyone to another site.
pub const RETURN_PAGES: &[&str] = &["/settings/account", "/admin/users"];

/// A visitor with a web session. The rejection is a redirect to the login page.
#[derive(Debug, Clone)]
pub struct PageUser {
    pub user: Arc<User>,
    pub session: Arc<Session>,
}

impl FromRequestParts<Gatehouse> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, Response> {
        match WebUser::from_request_parts(parts, app).await {
            Ok(WebUser { user, session }) => Ok(PageUser { user, session }),
            Err(e) if e.status.is_server_error() => {
                Err(render::error_page(&app.settings.site_title, e.status, &e.message))
            }
            Err(_) => Err(to_login(parts.uri.path())),
        }
    }
}

/// Whether this principal would be let in to the pages.
pub fn is_page_visitor(p: Option<&Principal>) -> bool {
    matches!(p, Some(Principal::Web { .. }))
}

/// The page to go to after logging in, if `next` names one of ours.
pub fn return_page(next: Option<&str>) -> &'static str {
    next.and_then(|n| RETURN_PAGES.iter().find(|p| **p == n)).copied().unwrap_or("/settings/account")
}

fn to_login(path: &str) -> Response {
    match RETURN_PAGES.iter().find(|p| **p == path) {
        Some(p) => Redirect::to(&format!("/login?next={p}")).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_pages_are_return_targets() {
        assert_eq!(return_page(Some("/admin/users")), "/admin/users");
        for bad in [None, Some(""), Some("//evil.example"), Some("https://evil.example/"), Some("/admin/users/x")] {
            assert_eq!(return_page(bad), "/settings/account", "{bad:?}");
        }
    }
}
