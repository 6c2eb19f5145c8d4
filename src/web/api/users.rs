//! Accounts: `/api/v1/users…` — admins manage everyone; users see and edit themselves.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::domain::policy::{Actor, PolicyError, UserPatch};
use crate::domain::session::{SessionKind, SessionView};
use crate::domain::user::{AuthMethod, Role, UserView};
use crate::service::Gatehouse;
use crate::service::users::{NewUser, PasswordChange};
use crate::store::{EventStore as _, SessionFilter, SessionStore as _, UserStore as _};
use crate::web::api::openapi::{AdminErrors, Done, ErrorBody, JsonBodyErrors, LoginErrors};
use crate::web::auth::{WebAdmin, WebUser};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{uid}", get(show).put(update).delete(remove))
        .route("/api/v1/users/{uid}/password", put(change_password))
        .route("/api/v1/users/{uid}/sessions", get(sessions))
        .route("/api/v1/users/{uid}/sessions/{id}", delete(revoke_session))
        .route("/api/v1/users/{uid}/events", get(events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only users whose name, display name or email contains this.
    #[serde(default)]
    q: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ListQuery,
    ),
    responses(
        (status = 200, description = "All users (admins only)", body = [UserView]),
        AdminErrors,
        LoginErrors,
    )
)]
async fn list(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    if !web.user.is_admin() {
        // Say what was refused: listing. One's own account is GET /api/v1/users/{uid}.
        return Err(PolicyError::AdminTask("list users; your own account is GET /api/v1/users/{uid}").into());
    }
    let q = query.q.as_deref().map(|q| q.chars().take(100).collect::<String>());
    let users = app.store.list_users(q.as_deref()).await?;
    Ok(Json(users.iter().map(crate::domain::user::User::view).collect()))
}

#[derive(Deserialize, ToSchema)]
struct CreateBody {
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
    username: String,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default = "default_role")]
    role: Role,
    #[serde(default)]
    super_admin: bool,
    #[serde(default = "yes")]
    can_login: bool,
    #[serde(default)]
    webdav: bool,
    /// The home folder, relative to the library roots (`family/alice` is
    /// `/originals/family/alice/` and `/import/family/alice/`, read-write); `/` is the
    /// whole library. By default a folder named after the user.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024, example = "family/alice")]
    home: Option<String>,
}

fn default_role() -> Role {
    Role::User
}

fn yes() -> bool {
    true
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new user", body = UserView),
        AdminErrors,
        (status = 409, description = "A guardrail or conflict: the username is taken, the last admin, or locking oneself out", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, or the password is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn create(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new = NewUser {
        username: b.username,
        password: b.password,
        name: b.name,
        email: b.email,
        role: b.role,
        super_admin: b.super_admin,
        can_login: b.can_login,
        webdav: b.webdav,
        home: b.home.map(nonblank_home).transpose()?,
    };
    let user = app.create_user(Actor::User(&web.user), new, &meta).await?;
    Ok((StatusCode::CREATED, Json(user.view())))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    responses(
        (status = 200, description = "The user (oneself, or anyone as admin)", body = UserView),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        LoginErrors,
    )
)]
async fn show(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(app.view_user(Actor::User(&web.user), &uid).await?.view()))
}

#[derive(Deserialize, ToSchema)]
struct UpdateBody {
    name: Option<String>,
    email: Option<String>,
    role: Option<Role>,
    super_admin: Option<bool>,
    can_login: Option<bool>,
    webdav: Option<bool>,
    auth_method: Option<AuthMethod>,
    /// A new home folder, relative to the library roots (`/`: the whole library); admins
    /// only. It replaces the user's home rows and takes effect on their next request.
    #[schema(min_length = 1, max_length = 1024, example = "family/alice")]
    home: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{uid}",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        (status = 409, description = "A guardrail or conflict: the username is taken, the last admin, or locking oneself out", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, or the password is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn update(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Json<UserView>, ApiError> {
    let patch = UserPatch {
        name: b.name,
        email: b.email,
        role: b.role,
        super_admin: b.super_admin,
        can_login: b.can_login,
        webdav: b.webdav,
        auth_method: b.auth_method,
    };
    let Some(home) = b.home else {
        return Ok(Json(app.update_user(Actor::User(&web.user), &uid, patch, &meta).await?.view()));
    };
    // Who may, and what, before anything is written.
    let admin = WebAdmin::of(web)?;
    let home = nonblank_home(home)?;
    crate::domain::access::home_grants(&home)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", format!("home: {e}")))?;
    let actor = Actor::User(&admin.user);
    let user = if patch == UserPatch::default() {
        app.view_user(actor, &uid).await?
    } else {
        app.update_user(actor, &uid, patch, &meta).await?
    };
    app.set_home(Actor::User(&admin.user), &user.username, &home, &meta).await?;
    Ok(Json(user.view()))
}

/// A home as sent: an empty one is refused, never read as `/` (the whole library).
fn nonblank_home(home: String) -> Result<String, ApiError> {
    if home.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "home: give a folder relative to the library roots, or / for the whole library",
        ));
    }
    Ok(home)
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{uid}",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    responses(
        (status = 200, description = "Deleted", body = Done),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        (status = 409, description = "A guardrail or conflict: the username is taken, the last admin, or locking oneself out", body = ErrorBody),
        LoginErrors,
    )
)]
async fn remove(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    app.delete_user(Actor::User(&web.user), &uid, &meta).await?;
    Ok(Json(json!({ "status": "deleted" })))
}

#[derive(Deserialize, ToSchema)]
struct PasswordBody {
    #[serde(default)]
    old_password: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
    /// An admin's reset: keep the user's app passwords (by default they are revoked).
    #[serde(default)]
    keep_app_passwords: Option<bool>,
    /// One's own change: also revoke all app passwords (by default they are kept).
    #[serde(default)]
    revoke_app_passwords: Option<bool>,
    /// An admin's reset: keep the user's second factors (passkeys, authenticator app,
    /// recovery code). By default a reset removes them, since a passkey an intruder
    /// registered would otherwise still sign in without any password.
    #[serde(default)]
    keep_2fa: bool,
}

impl PasswordBody {
    /// The explicit choice about app passwords, if any: `Some(true)` revokes them.
    fn app_password_choice(&self) -> Result<Option<bool>, ApiError> {
        match (self.keep_app_passwords.map(|keep| !keep), self.revoke_app_passwords) {
            (Some(a), Some(b)) if a != b => {
                Err(ApiError::bad_request("keep_app_passwords and revoke_app_passwords contradict each other"))
            }
            (a, b) => Ok(a.or(b)),
        }
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{uid}/password",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed. One's own change ends one's other web sessions (app passwords too with `revoke_app_passwords`); an admin's reset ends all of the user's sessions, revokes the app passwords unless `keep_app_passwords` and removes the second factors unless `keep_2fa`", body = PasswordChanged),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        (status = 409, description = "A guardrail or conflict: the username is taken, the last admin, or locking oneself out", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, or the password is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn change_password(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<Json<PasswordChanged>, ApiError> {
    let choice = b.app_password_choice()?;
    let change = PasswordChange {
        old_password: b.old_password.as_deref(),
        new_password: &b.new_password,
        keep_session: Some(&web.session.id),
        revoke_app_passwords: choice,
        keep_2fa: b.keep_2fa,
    };
    let ended = app.change_password(Actor::User(&web.user), &uid, change, &meta).await?;
    Ok(Json(PasswordChanged {
        status: "password changed",
        sessions_ended: ended.sessions,
        app_passwords_revoked: ended.app_passwords,
        second_factors_removed: ended.second_factors_removed,
    }))
}

/// What a password change ended.
#[derive(Serialize, ToSchema)]
struct PasswordChanged {
    #[schema(example = "password changed")]
    status: &'static str,
    /// Sessions ended other than app passwords.
    sessions_ended: u64,
    /// App passwords revoked.
    app_passwords_revoked: u64,
    /// Whether the user's second factors were removed (an admin's reset without
    /// `keep_2fa`): 2FA is now off.
    second_factors_removed: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SessionQuery {
    /// Only sessions of this kind: `web`, `app_password`, `access_token`, `client`;
    /// empty for all.
    #[serde(default, rename = "type")]
    #[param(pattern = "^(web|app_password|access_token|client)?$")]
    kind: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}/sessions",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
        SessionQuery,
    ),
    responses(
        (status = 200, description = "The user's live sessions and app passwords", body = [SessionView]),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        LoginErrors,
    )
)]
async fn sessions(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let user = app.view_user(Actor::User(&web.user), &uid).await?;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            SessionKind::parse(k)
                .ok_or_else(|| ApiError::bad_request("type must be one of web, app_password, access_token, client"))?,
        ),
    };
    let filter = SessionFilter { user_uid: Some(&user.uid), client_id: None, kind };
    let list = app.store.list_sessions(&filter).await?;
    let now = app.now();
    Ok(Json(list.iter().filter(|s| s.is_live(now)).map(|s| s.view(Some(&web.session.id))).collect()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{uid}/sessions/{id}",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
        ("id" = String, Path, description = "The session id (`sess…`)"),
    ),
    responses(
        (status = 200, description = "Revoked; it stops working at once", body = Done),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        LoginErrors,
    )
)]
async fn revoke_session(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath((uid, id)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    app.revoke_user_session(Actor::User(&web.user), &uid, &id, &meta).await?;
    Ok(Json(json!({ "status": "revoked" })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    /// At most this many events, newest first (default 100).
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}/events",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
        EventQuery,
    ),
    responses(
        (status = 200, description = "The user's security events, newest first", body = [crate::domain::event::EventView]),
        AdminErrors,
        (status = 404, description = "No such user or session", body = ErrorBody),
        LoginErrors,
    )
)]
async fn events(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<Vec<crate::domain::event::EventView>>, ApiError> {
    let user = app.view_user(Actor::User(&web.user), &uid).await?;
    Ok(Json(app.store.list_events(Some(&user.uid), q.limit.unwrap_or(100)).await?))
}
