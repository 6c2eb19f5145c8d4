//! Passkeys: managing one's own (`/api/v1/users/{uid}/passkeys…`, a web session of the
//! account itself, like 2FA setup) and logging in with one (`/api/v1/session/passkey…`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::session::login_response;
use crate::domain::policy::may_manage_second_factors;
use crate::service::passkeys::{CeremonyStarted, PasskeyRegistered, PasskeyView};
use crate::service::{Gatehouse, ServiceError};
use crate::web::api::openapi::{Done, ErrorBody, HolderErrors, JsonBodyErrors, LoginErrors, ThrottleErrors};
use crate::web::auth::WebUser;
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, ApiPath, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/api/v1/users/{uid}/passkeys", get(list))
        .route("/api/v1/users/{uid}/passkeys/register/start", post(register_start))
        .route("/api/v1/users/{uid}/passkeys/register/finish", post(register_finish))
        .route("/api/v1/users/{uid}/passkeys/{id}", put(rename).delete(remove))
        .route("/api/v1/users/{uid}/passkeys/{id}/activate", post(activate))
        .route("/api/v1/session/passkey/start", post(login_start))
        .route("/api/v1/session/passkey/finish", post(login_finish))
}

/// For a logged-in user, a refused ceremony is a bad input, not a failed login.
fn as_input_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::PasskeyRefused(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid passkey", m),
        other => other.into(),
    }
}

/// The account's passkeys, and whether this server offers passkeys at all.
#[derive(Serialize, ToSchema)]
struct PasskeyList {
    /// Whether passkeys can be added and used here (the server's public URL allows it).
    available: bool,
    /// Why not, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The relying-party id new passkeys are made for.
    #[serde(skip_serializing_if = "Option::is_none")]
    rp_id: Option<String>,
    passkeys: Vec<PasskeyView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}/passkeys",
    operation_id = "passkeys_list",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    responses(
        (status = 200, description = "The account's passkeys (name, created, last used)", body = PasskeyList),
        (status = 400, description = "Malformed path", body = ErrorBody),
        (status = 403, description = "Not the account holder's own web login", body = ErrorBody),
        LoginErrors,
    )
)]
async fn list(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<PasskeyList>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    Ok(Json(PasskeyList {
        available: app.passkeys_off().is_none(),
        reason: app.passkeys_off().map(ToString::to_string),
        rp_id: app.passkey_rp_id().map(str::to_owned),
        passkeys: app.list_passkeys(&web.user).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
struct RegisterStartBody {
    /// What to call the passkey, e.g. "Laptop".
    name: String,
    /// The account password, to confirm.
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passkeys/register/start",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    request_body = RegisterStartBody,
    responses(
        (status = 200, description = "Options for navigator.credentials.create(); the challenge expires in 5 minutes", body = CeremonyStarted),
        HolderErrors,
        (status = 409, description = "Passkeys are off on this server (see the message)", body = ErrorBody),
        (status = 422, description = "The name is missing or too long, or the password is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn register_start(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<RegisterStartBody>,
) -> Result<Json<CeremonyStarted>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    Ok(Json(app.start_passkey_registration(&web.user, &body.password, &body.name, &meta).await?))
}

#[derive(Deserialize, ToSchema)]
struct RegisterFinishBody {
    challenge_id: String,
    /// The PublicKeyCredential from navigator.credentials.create(), binary members as base64url.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passkeys/register/finish",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    request_body = RegisterFinishBody,
    responses(
        (status = 200, description = "The passkey is registered. As the account's first second factor it carries the recovery code (shown once) and is active only after activate", body = PasskeyRegistered),
        HolderErrors,
        (status = 409, description = "Passkeys are off, or this passkey is already registered", body = ErrorBody),
        (status = 422, description = "The challenge is unknown, used or expired, or the credential does not verify", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn register_finish(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<RegisterFinishBody>,
) -> Result<Json<PasskeyRegistered>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    app.finish_passkey_registration(&web.user, &body.challenge_id, &body.credential, &meta)
        .await
        .map(Json)
        .map_err(as_input_error)
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passkeys/{id}/activate",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid (one's own)"),
        ("id" = String, Path, description = "The passkey's id"),
    ),
    responses(
        (status = 200, description = "The passkey is active and 2FA is on; the user's other web sessions end", body = PasskeyView),
        (status = 400, description = "Malformed path", body = ErrorBody),
        (status = 403, description = "Not the account holder's own web login, or the CSRF token is missing", body = ErrorBody),
        (status = 404, description = "No such passkey", body = ErrorBody),
        (status = 409, description = "The passkey is not waiting for activation", body = ErrorBody),
        LoginErrors,
    )
)]
async fn activate(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath((uid, id)): ApiPath<(String, String)>,
) -> Result<Json<PasskeyView>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    Ok(Json(app.activate_passkey(&web.user, &id, &web.session.id, &meta).await?))
}

#[derive(Deserialize, ToSchema)]
struct RenameBody {
    name: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{uid}/passkeys/{id}",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid (one's own)"),
        ("id" = String, Path, description = "The passkey's id"),
    ),
    request_body = RenameBody,
    responses(
        (status = 200, description = "Renamed", body = Done),
        HolderErrors,
        (status = 404, description = "No such passkey", body = ErrorBody),
        (status = 422, description = "The name is missing or too long", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn rename(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath((uid, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<Done>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    app.rename_passkey(&web.user, &id, &body.name, &meta).await?;
    Ok(Json(Done { status: "renamed".to_owned() }))
}

#[derive(Deserialize, ToSchema)]
struct RemoveBody {
    /// The account password, to confirm.
    password: String,
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{uid}/passkeys/{id}",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid (one's own)"),
        ("id" = String, Path, description = "The passkey's id"),
    ),
    request_body = RemoveBody,
    responses(
        (status = 200, description = "Removed: `passkey removed`, or `2fa disabled` when it was the last second factor", body = Done),
        HolderErrors,
        (status = 404, description = "No such passkey", body = ErrorBody),
        (status = 422, description = "The password is missing or wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn remove(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath((uid, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RemoveBody>,
) -> Result<Json<Done>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    let still_on = app.remove_passkey(&web.user, &id, &body.password, &web.session.id, &meta).await?;
    let status = if still_on { "passkey removed" } else { "2fa disabled" };
    Ok(Json(Done { status: status.to_owned() }))
}

/// With `username` and `password`: a passkey as the second factor of that account.
/// Without both: a passwordless login with a discoverable passkey.
#[derive(Deserialize, ToSchema)]
struct LoginStartBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/session/passkey/start",
    tag = "session",
    security(()),
    request_body = LoginStartBody,
    responses(
        (status = 200, description = "Options for navigator.credentials.get(); the challenge expires in 5 minutes", body = CeremonyStarted),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Invalid username or password", body = ErrorBody),
        (status = 409, description = "Passkeys are off on this server, or the account has no passkey for this site", body = ErrorBody),
        (status = 422, description = "Only one of username and password was given", body = ErrorBody),
        ThrottleErrors,
        JsonBodyErrors,
    )
)]
async fn login_start(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<LoginStartBody>,
) -> Result<Json<CeremonyStarted>, ApiError> {
    let started = match (body.username.as_deref(), body.password.as_deref()) {
        (Some(username), Some(password)) => app.start_passkey_login(username, password, &meta).await?,
        (None, None) => app.start_passwordless_login(&meta).await?,
        _ => return Err(ServiceError::Invalid("give both username and password, or neither".to_owned()).into()),
    };
    Ok(Json(started))
}

#[derive(Deserialize, ToSchema)]
struct LoginFinishBody {
    challenge_id: String,
    /// The PublicKeyCredential from navigator.credentials.get(), binary members as base64url.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

#[utoipa::path(
    post,
    path = "/api/v1/session/passkey/finish",
    tag = "session",
    security(()),
    request_body = LoginFinishBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set too", body = super::session::LoginReply),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "The passkey was refused: unknown, another account's, wrong origin or relying party, not user-verified, a signature counter that went backwards, or a challenge that is unknown, used or expired", body = ErrorBody),
        (status = 409, description = "Passkeys are off on this server", body = ErrorBody),
        (status = 422, description = "A field is missing or malformed", body = ErrorBody),
        ThrottleErrors,
        JsonBodyErrors,
    )
)]
async fn login_finish(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<LoginFinishBody>,
) -> Result<impl IntoResponse, ApiError> {
    let done = app.finish_passkey_login(&body.challenge_id, &body.credential, &meta).await?;
    let token = done.issued.token.expose().to_owned();
    Ok(login_response(&app, token, done.issued.session, &done.user, done.notice, Some(&done.device)))
}
