//! Security events: the per-user audit trail of logins, failures and credential changes.

use serde::Serialize;

use crate::clock::UnixTime;

/// What happened. The string forms are stable: they are an export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    LoginOk,
    LoginFailed,
    PasscodeRequired,
    PasscodeInvalid,
    Throttled,
    Logout,
    PasswordChanged,
    /// An admin (or the CLI) set a user's password: the account-recovery reset.
    PasswordReset,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeUsed,
    ReplayRejected,
    UserCreated,
    UserUpdated,
    UserDeleted,
    SessionRevoked,
    AppPasswordCreated,
    AppPasswordUsed,
    AppPasswordRevoked,
    BasicAuthRefused,
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyRemoved,
    PasskeyUsed,
    /// A passkey assertion refused because its signature counter went backwards.
    PasskeyRefused,
    /// A TOTP authenticator removed while another second factor keeps 2FA on.
    TotpRemoved,
    /// An admin (or the CLI) shared a folder with the account, or changed its level.
    FolderShared,
    /// An admin (or the CLI) took back one of the account's folder grants.
    FolderUnshared,
    /// An admin (or the CLI) moved the account's home folder.
    HomeChanged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginOk => "login.ok",
            EventKind::LoginFailed => "login.failed",
            EventKind::PasscodeRequired => "login.passcode_required",
            EventKind::PasscodeInvalid => "login.passcode_invalid",
            EventKind::Throttled => "login.throttled",
            EventKind::Logout => "logout",
            EventKind::PasswordChanged => "password.changed",
            EventKind::PasswordReset => "password.reset",
            EventKind::TwoFactorEnabled => "2fa.enabled",
            EventKind::TwoFactorDisabled => "2fa.disabled",
            EventKind::RecoveryCodeUsed => "2fa.recovery_used",
            EventKind::ReplayRejected => "2fa.replay_rejected",
            EventKind::UserCreated => "user.created",
            EventKind::UserUpdated => "user.updated",
            EventKind::UserDeleted => "user.deleted",
            EventKind::SessionRevoked => "session.revoked",
            EventKind::AppPasswordCreated => "app_password.created",
            EventKind::AppPasswordUsed => "app_password.used",
            EventKind::AppPasswordRevoked => "app_password.revoked",
            EventKind::BasicAuthRefused => "basic_auth.refused",
            EventKind::PasskeyAdded => "passkey.added",
            EventKind::PasskeyRenamed => "passkey.renamed",
            EventKind::PasskeyRemoved => "passkey.removed",
            EventKind::PasskeyUsed => "passkey.used",
            EventKind::PasskeyRefused => "passkey.refused",
            EventKind::TotpRemoved => "2fa.totp_removed",
            EventKind::FolderShared => "folder.shared",
            EventKind::FolderUnshared => "folder.unshared",
            EventKind::HomeChanged => "folder.home_changed",
        }
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    /// The account concerned, when known.
    pub user_uid: Option<String>,
    /// The login name as presented or known (kept even for unknown users).
    pub username: String,
    /// Who caused it when not the user themself (`admin:alice`, `cli`, `recovery`).
    pub actor: String,
    pub ip: String,
    pub user_agent: String,
    /// A short human detail (never a secret).
    pub detail: String,
    pub at: UnixTime,
}

/// A recorded event as the API and the CLI show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EventView {
    pub id: i64,
    pub time: String,
    pub event: String,
    pub user_uid: Option<String>,
    pub username: String,
    pub actor: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    /// How many identical events this row stands for (repeats within an hour are
    /// counted on the first row instead of each adding one).
    pub repeats: i64,
    /// When the last of them happened (RFC 3339; `time` is the first).
    pub last_time: String,
}
