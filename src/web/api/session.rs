//! Login, "who am I" and logout: `/api/v1/session`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::domain::app_password::is_app_password;
use crate::domain::event::EventKind;
use crate::service::Gatehouse;
use crate::service::login::LoginAttempt;
use crate::store::SessionStore as _;
use crate::web::auth::{ApiCaller, Principal, session_cookie};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/session", post(login).get(whoami).delete(logout))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    code: Option<String>,
}

async fn login(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    let now = app.now();
    // An app password in the password field opens a session limited like the app
    // password itself (if its scope allows sessions at all).
    let (token, session, user, notice) = if is_app_password(&body.password) {
        let (issued, user) = app.login_with_app_password(&body.username, &body.password, &meta).await?;
        (issued.secret, issued.session, user, None)
    } else {
        let attempt = LoginAttempt { username: &body.username, password: &body.password, code: body.code.as_deref() };
        let done = app.login(attempt, &meta).await?;
        (done.issued.token.expose().to_owned(), done.issued.session, done.user, done.notice)
    };
    let mut headers = HeaderMap::new();
    let cookie = session_cookie(Some(&token), session.expires_in(now), app.settings.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    let mut body = json!({
        "session_id": session.id,
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": session.expires_in(now),
        "scope": session.scope,
        "user": user.view(),
    });
    if let (Some(notice), Some(obj)) = (notice, body.as_object_mut()) {
        obj.insert("notice".into(), json!(notice));
    }
    Ok((headers, Json(body)))
}

async fn whoami(State(app): State<Gatehouse>, ApiCaller(p): ApiCaller) -> Json<serde_json::Value> {
    let session = p.session();
    let kind = match &p {
        Principal::Password { .. } => json!("password"),
        _ => json!(session.map(|s| s.kind)),
    };
    Json(json!({
        "session_id": session.map(|s| &s.id),
        "kind": kind,
        "scope": session.map_or("*", |s| s.scope.as_str()),
        "expires_in": session.map_or(0, |s| s.expires_in(app.now())),
        "user": p.user().map(|u| u.view()),
        "client_id": session.and_then(|s| s.client_id.as_ref()),
        "csrf_token": session.map(|s| app.key.csrf_token(&s.id)),
    }))
}

async fn logout(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiCaller(p): ApiCaller,
) -> Result<impl IntoResponse, ApiError> {
    let session = p.session().ok_or_else(|| ApiError::bad_request("There is no session to end"))?;
    app.store.delete_session(&session.id).await?;
    if let Some(u) = p.user() {
        app.record(EventKind::Logout, (&**u).into(), &meta, "", "").await;
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(None, 0, app.settings.secure_cookies)) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((headers, Json(json!({ "status": "logged out" }))))
}
