//! The one error type of the use cases; web and CLI each translate it at their edge.

use crate::domain::password::PasswordError;
use crate::domain::policy::PolicyError;
use crate::domain::user::UserFieldError;
use crate::security::hasher::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request itself is malformed or a value is out of bounds.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Forbidden(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A logged-in user confirmed an action with the wrong password.
    #[error("the password is not correct")]
    WrongPassword,
    /// The right password, but the account needs a second factor too: the ones it
    /// has (`totp`, `passkey`).
    #[error("passcode required")]
    PasscodeRequired { methods: Vec<&'static str> },
    #[error("invalid passcode")]
    InvalidPasscode,
    /// A passkey assertion or registration that does not verify, or a ceremony that is
    /// unknown, used or expired. The sentence is for people; no library detail.
    #[error("{0}")]
    PasskeyRefused(String),
    /// Passkeys are off on this server (no suitable public URL); says why.
    #[error("{0}")]
    PasskeysOff(String),
    #[error("too many failed attempts, try again in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    #[error("{0}")]
    Busy(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::Conflict("already exists".to_owned()),
            StoreError::NotFound => ServiceError::NotFound("record"),
            StoreError::Stale => ServiceError::Conflict(StoreError::Stale.to_string()),
            StoreError::Policy(p) => ServiceError::Policy(p),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<super::throttle::ThrottleError> for ServiceError {
    fn from(e: super::throttle::ThrottleError) -> Self {
        match e {
            super::throttle::ThrottleError::Limited { retry_after } => ServiceError::Throttled { retry_after },
            // Fail closed: an attempt that cannot be counted is not checked; the client
            // is told to come back (503), never let through and never shown a 500.
            super::throttle::ThrottleError::Unavailable(s) => {
                tracing::error!(error = %s, "cannot count a login attempt: refusing it");
                ServiceError::Busy("logins are unavailable right now, please try again shortly".to_owned())
            }
        }
    }
}

impl From<crate::security::secret_key::KeyError> for ServiceError {
    fn from(e: crate::security::secret_key::KeyError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => ServiceError::Busy(e.to_string()),
            HashError::Internal(m) => ServiceError::Internal(m),
        }
    }
}

impl From<UserFieldError> for ServiceError {
    fn from(e: UserFieldError) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}

impl From<PasswordError> for ServiceError {
    fn from(e: PasswordError) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}

impl From<crate::domain::random::RngError> for ServiceError {
    fn from(e: crate::domain::random::RngError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}
