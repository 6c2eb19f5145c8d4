//! Two-factor setup of one's own account: `/api/v1/users/{uid}/passcode…`. Only a web
//! session of the account itself gets here — never an app password or an admin.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::policy::may_manage_second_factors;
use crate::service::twofactor::PasscodeView;
use crate::service::{Gatehouse, ServiceError};
use crate::web::api::openapi::{Done, ErrorBody, HolderErrors, JsonBodyErrors, LoginErrors};
use crate::web::auth::WebUser;
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, ApiPath, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/api/v1/users/{uid}/passcode", get(status).post(start))
        .route("/api/v1/users/{uid}/passcode/confirm", post(confirm))
        .route("/api/v1/users/{uid}/passcode/activate", post(activate))
        .route("/api/v1/users/{uid}/passcode/deactivate", post(deactivate))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}/passcode",
    operation_id = "passcode_status",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    responses(
        (status = 200, description = "The authenticator's state", body = PasscodeView),
        HolderErrors,
        (status = 404, description = "No authenticator or setup in progress", body = ErrorBody),
        LoginErrors,
    )
)]
async fn status(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<PasscodeView>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    let p = app.passcode_status(&web.user).await?.ok_or_else(|| ApiError::not_found("two-factor authenticator"))?;
    Ok(Json(PasscodeView::status(&p)))
}

#[derive(Deserialize, ToSchema)]
struct StartBody {
    #[serde(rename = "type", default = "totp")]
    #[schema(example = "totp")]
    kind: String,
    password: String,
}

fn totp() -> String {
    "totp".to_owned()
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passcode",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    request_body = StartBody,
    responses(
        (status = 200, description = "A new setup: the key, the otpauth URI and its QR code", body = PasscodeView),
        HolderErrors,
        (status = 409, description = "2FA is already active, or the setup is not at this step", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, the password is wrong, or the code is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn start(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Json<PasscodeView>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    if body.kind != "totp" {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "type must be \"totp\""));
    }
    Ok(Json(app.start_totp_setup(&web.user, &body.password, &meta).await?))
}

#[derive(Deserialize, ToSchema)]
struct ConfirmBody {
    code: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passcode/confirm",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "The code proved the setup; the recovery code is shown once", body = PasscodeView),
        HolderErrors,
        (status = 404, description = "No authenticator or setup in progress", body = ErrorBody),
        (status = 409, description = "2FA is already active, or the setup is not at this step", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, the password is wrong, or the code is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn confirm(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Json<PasscodeView>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    match app.confirm_totp(&web.user, &body.code, &meta).await {
        Ok(view) => Ok(Json(view)),
        // The caller is logged in: a wrong code is a bad input, not a failed login.
        Err(ServiceError::InvalidPasscode) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid passcode",
            "Invalid verification code, please try again",
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passcode/activate",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    responses(
        (status = 200, description = "2FA is on; the user's other web sessions end", body = PasscodeView),
        HolderErrors,
        (status = 404, description = "No authenticator or setup in progress", body = ErrorBody),
        (status = 409, description = "2FA is already active, or the setup is not at this step", body = ErrorBody),
        LoginErrors,
    )
)]
async fn activate(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<PasscodeView>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    Ok(Json(app.activate_totp(&web.user, &web.session.id, &meta).await?))
}

#[derive(Deserialize, ToSchema)]
struct DeactivateBody {
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{uid}/passcode/deactivate",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("uid" = String, Path, description = "The user's uid (one's own)")),
    request_body = DeactivateBody,
    responses(
        (status = 200, description = "The authenticator is removed: `2fa disabled`, or `authenticator removed` when passkeys keep 2FA on", body = Done),
        HolderErrors,
        (status = 404, description = "No authenticator or setup in progress", body = ErrorBody),
        (status = 409, description = "2FA is already active, or the setup is not at this step", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, the password is wrong, or the code is wrong", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn deactivate(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<DeactivateBody>,
) -> Result<Json<Value>, ApiError> {
    may_manage_second_factors(&web.user, &uid)?;
    let still_on = app.deactivate_totp(&web.user, &body.password, &web.session.id, &meta).await?;
    let status = if still_on { "authenticator removed" } else { "2fa disabled" };
    Ok(Json(json!({ "status": status })))
}
