//! `/admin/users`: the user list with search, for admins. Adding a user and the User
//! Details dialog work through the users API from `admin.js`; one query per page view.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::guard::PageUser;
use super::render;
use super::view::{Layout, UserRow};
use crate::service::Gatehouse;
use crate::store::{FactorStore as _, UserStore as _};

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
}

#[derive(Debug, Serialize)]
struct UsersPage {
    #[serde(flatten)]
    layout: Layout,
    users: Vec<UserRow>,
    q: String,
}

/// `GET /admin/users?q=…`.
pub async fn page(
    State(app): State<Gatehouse>,
    visitor: PageUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    let title = &app.settings.site_title;
    if !visitor.user.is_admin() {
        return render::error_page(title, StatusCode::FORBIDDEN, "Only admins can manage users.");
    }
    let q: String = query.ok().and_then(|Query(s)| s.q).unwrap_or_default().trim().chars().take(100).collect();
    let users = match app.store.list_users(Some(q.as_str()).filter(|q| !q.is_empty())).await {
        Ok(users) => users,
        Err(e) => {
            tracing::error!(error = %e, "users page: listing users failed");
            return render::error_page(title, StatusCode::INTERNAL_SERVER_ERROR, "The users could not be loaded.");
        }
    };
    // Which factors each user has is a detail: without it the page still works.
    let factors = app.store.all_factors().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "users page: listing second factors failed");
        Default::default()
    });
    let rows = users
        .iter()
        .map(|u| UserRow { factors: factors.get(&u.uid).map(|f| f.describe()).unwrap_or_default(), ..UserRow::from(u) })
        .collect();
    let ctx = UsersPage { users: rows, q, layout: Layout::new(&app, &visitor, "users") };
    render::page(StatusCode::OK, "admin_users.html", &ctx)
}
