//! The API's one error type: `{"error": "<stable code>", "message": "<sentence>"}` with
//! the right status. Details of server faults are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::policy::PolicyError;
use crate::service::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra members of the JSON body (e.g. `"code": 32`).
    pub extra: Option<serde_json::Value>,
    pub retry_after: Option<i64>,
    pub www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: None, retry_after: None, www_authenticate: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Please log in first")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on the server")
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(obj), Some(serde_json::Value::Object(extra))) = (body.as_object_mut(), self.extra) {
            obj.extend(extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(challenge) = self.www_authenticate {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        resp
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::LastAdmin | PolicyError::SelfLockout => {
                ApiError::new(StatusCode::CONFLICT, "guardrail", e.to_string())
            }
            PolicyError::OldPasswordRequired => ApiError::bad_request(e.to_string()),
            PolicyError::TwoFactorSetupOnly => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", e.to_string())
            }
            _ => ApiError::forbidden(e.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m),
            ServiceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Policy(p) => p.into(),
            ServiceError::Forbidden(m) => ApiError::forbidden(m),
            ServiceError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid credentials", "Invalid username or password")
            }
            ServiceError::WrongPassword => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid password", "The password is not correct")
            }
            ServiceError::PasscodeRequired { methods } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "passcode required", "Enter verification code")
                    .with_extra(json!({ "code": 32, "methods": methods }))
            }
            ServiceError::PasskeyRefused(m) => ApiError::new(StatusCode::UNAUTHORIZED, "invalid passkey", m),
            ServiceError::PasskeysOff(m) => ApiError::new(StatusCode::CONFLICT, "passkeys unavailable", m),
            ServiceError::InvalidPasscode => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid passcode",
                "Invalid verification code, please try again",
            ),
            ServiceError::Throttled { retry_after } => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many requests",
                    format!("Too many failed attempts, please try again in {retry_after} seconds"),
                );
                err.retry_after = Some(retry_after);
                err
            }
            ServiceError::Busy(m) => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", m);
                err.retry_after = Some(5);
                err
            }
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

/// The stable error code for a bare HTTP status, for responses made outside our handlers.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::TOO_MANY_REQUESTS => "too many requests",
        StatusCode::CONFLICT => "conflict",
        StatusCode::GONE => "gone",
        StatusCode::PRECONDITION_FAILED => "precondition_failed",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::LOCKED => "locked",
        StatusCode::FAILED_DEPENDENCY => "failed_dependency",
        StatusCode::INTERNAL_SERVER_ERROR => "internal_error",
        StatusCode::NOT_IMPLEMENTED => "not_implemented",
        StatusCode::BAD_GATEWAY => "bad_gateway",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::INSUFFICIENT_STORAGE => "insufficient_storage",
        s if s.is_server_error() => "server_error",
        _ => "error",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_a_500_is_called_an_internal_error() {
        for code in 400..600u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let name = code_for_status(status);
            assert_eq!(name == "internal_error", code == 500, "{code} is {name}");
            if status.is_client_error() {
                assert_ne!(name, "server_error", "{code}");
            }
        }
        assert_eq!(code_for_status(StatusCode::NOT_IMPLEMENTED), "not_implemented");
    }
}
