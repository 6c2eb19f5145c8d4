//! Two-factor setup of one's own account: `/api/v1/users/{uid}/passcode…`. Only a web
//! session of the account itself gets here — never an app password or an admin.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::service::twofactor::PasscodeView;
use crate::service::{Gatehouse, ServiceError};
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

/// 2FA is managed by the account holder only.
fn own(web: &WebUser, uid: &str) -> Result<(), ApiError> {
    if web.user.uid == uid {
        Ok(())
    } else {
        Err(ApiError::forbidden("Two-factor authentication can only be managed by the account holder"))
    }
}

async fn status(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<PasscodeView>, ApiError> {
    own(&web, &uid)?;
    let p = app.passcode_status(&web.user).await?.ok_or_else(|| ApiError::not_found("two-factor authenticator"))?;
    Ok(Json(PasscodeView::status(&p)))
}

#[derive(Deserialize)]
struct StartBody {
    #[serde(rename = "type", default = "totp")]
    kind: String,
    password: String,
}

fn totp() -> String {
    "totp".to_owned()
}

async fn start(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Json<PasscodeView>, ApiError> {
    own(&web, &uid)?;
    if body.kind != "totp" {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "type must be \"totp\""));
    }
    Ok(Json(app.start_totp_setup(&web.user, &body.password, &meta).await?))
}

#[derive(Deserialize)]
struct ConfirmBody {
    code: String,
}

async fn confirm(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Json<PasscodeView>, ApiError> {
    own(&web, &uid)?;
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

async fn activate(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<PasscodeView>, ApiError> {
    own(&web, &uid)?;
    Ok(Json(app.activate_totp(&web.user, &web.session.id, &meta).await?))
}

#[derive(Deserialize)]
struct DeactivateBody {
    password: String,
}

async fn deactivate(
    State(app): State<Gatehouse>,
    web: WebUser,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<DeactivateBody>,
) -> Result<Json<Value>, ApiError> {
    own(&web, &uid)?;
    app.deactivate_totp(&web.user, &body.password, &meta).await?;
    Ok(Json(json!({ "status": "2fa disabled" })))
}
