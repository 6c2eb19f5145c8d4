//! Users: validated names, roles and the account record every surface shares.

use serde::{Deserialize, Serialize};

use super::fields::{self, EMAIL_MAX, NAME_MAX, USERNAME_MAX};
use crate::clock::{UnixTime, rfc3339};

/// Why a user field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserFieldError {
    #[error("username must be 1 to {} characters", USERNAME_MAX)]
    UsernameLength,
    #[error("username may only contain letters, digits, '.', '_', '-' and '@', and must start with a letter or digit")]
    UsernameChars,
    #[error("display name must be at most {} characters without control characters", NAME_MAX)]
    Name,
    #[error(
        "display name must not contain bidirectional controls or invisible (zero-width) characters: they can make \
         it show as another name"
    )]
    NameInvisible,
    #[error("email must be at most {} characters, contain one '@' with text on both sides and no spaces", EMAIL_MAX)]
    Email,
    #[error("role must be one of admin, user, guest")]
    Role,
    #[error("auth_method must be \"default\" or \"2fa\"")]
    AuthMethod,
}

/// A login name: 1-64 characters of `[A-Za-z0-9._@-]`, starting alphanumeric
/// ([`fields::USERNAME_PATTERN`]).
/// Unique case-insensitively; [`Username::key`] is the form uniqueness is checked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UserFieldError> {
        if raw.is_empty() || fields::length(raw) > USERNAME_MAX {
            return Err(UserFieldError::UsernameLength);
        }
        let starts_ok = raw.chars().next().is_some_and(fields::username_first_char);
        if !starts_ok || !raw.chars().all(fields::username_char) {
            return Err(UserFieldError::UsernameChars);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that must be unique.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The case-folded lookup key for any presented login name (valid or not).
pub fn username_key(raw: &str) -> String {
    raw.to_ascii_lowercase()
}

/// Whether two usernames are the same account's ([`username_key`] of both equal).
pub fn same_username(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A display name: free text up to [`NAME_MAX`] characters, no control characters.
pub fn parse_display_name(raw: &str) -> Result<String, UserFieldError> {
    let trimmed = raw.trim();
    if fields::length(trimmed) > NAME_MAX || trimmed.chars().any(char::is_control) {
        return Err(UserFieldError::Name);
    }
    if trimmed.chars().any(fields::deceptive_char) {
        return Err(UserFieldError::NameInvisible);
    }
    Ok(trimmed.to_owned())
}

/// An email address, loosely checked (delivery is not our business): empty, or one '@'
/// with text on both sides, no whitespace or control characters, at most [`EMAIL_MAX`]
/// characters. Any Unicode is fine (`jürgen+tag@bücher.example`, `a@localhost`).
pub fn parse_email(raw: &str) -> Result<String, UserFieldError> {
    let e = raw.trim();
    if e.is_empty() {
        return Ok(String::new());
    }
    let valid = fields::length(e) <= EMAIL_MAX
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if valid { Ok(e.to_owned()) } else { Err(UserFieldError::Email) }
}

/// What a user is in the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UserFieldError> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            "guest" => Ok(Role::Guest),
            _ => Err(UserFieldError::Role),
        }
    }
}

/// How a user logs in: password alone, or password and a TOTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AuthMethod {
    #[serde(rename = "default")]
    Default,
    #[serde(rename = "2fa")]
    TwoFactor,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Default => "default",
            AuthMethod::TwoFactor => "2fa",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UserFieldError> {
        match s {
            "default" => Ok(AuthMethod::Default),
            "2fa" => Ok(AuthMethod::TwoFactor),
            _ => Err(UserFieldError::AuthMethod),
        }
    }
}

/// An account. The password hash lives here but is never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub uid: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub super_admin: bool,
    pub can_login: bool,
    pub webdav: bool,
    pub auth_method: AuthMethod,
    pub password_hash: String,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    pub login_at: Option<UnixTime>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("uid", &self.uid)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("super_admin", &self.super_admin)
            .field("can_login", &self.can_login)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// An admin who can still log in: the kind of account that must never run out.
    pub fn is_active_admin(&self) -> bool {
        self.is_admin() && self.can_login
    }

    /// The public JSON form (docs/design.md, "Users").
    pub fn view(&self) -> UserView {
        UserView {
            uid: self.uid.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
            super_admin: self.super_admin,
            can_login: self.can_login,
            webdav: self.webdav,
            auth_method: self.auth_method,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            login_at: self.login_at.map(rfc3339),
        }
    }
}

/// The user JSON of the API and of `--json` in the CLI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
    pub uid: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub super_admin: bool,
    pub can_login: bool,
    pub webdav: bool,
    pub auth_method: AuthMethod,
    pub created_at: String,
    pub updated_at: String,
    pub login_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("Bob.Smith@example-1_x").is_ok());
        assert_eq!(Username::parse(""), Err(UserFieldError::UsernameLength));
        assert_eq!(Username::parse(&"a".repeat(65)), Err(UserFieldError::UsernameLength));
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        for bad in [".alice", "al ice", "al\u{0}ice", "álice", "<img>", "a/b", "-x"] {
            assert_eq!(Username::parse(bad), Err(UserFieldError::UsernameChars), "{bad}");
        }
    }

    #[test]
    fn username_key_folds_case() {
        assert_eq!(Username::parse("ALICE").map(|u| u.key()), Ok("alice".to_owned()));
    }

    #[test]
    fn names_and_emails() {
        assert_eq!(parse_display_name("  Ann Lee "), Ok("Ann Lee".to_owned()));
        assert!(parse_display_name("a\u{7}b").is_err());
        assert!(parse_display_name(&"x".repeat(201)).is_err());
        assert_eq!(parse_email(""), Ok(String::new()));
        assert!(parse_email("a@b").is_ok());
        assert!(parse_email("Jürgen+tag@bücher").is_ok());
        let longest = format!("{}@b", "é".repeat(EMAIL_MAX - 2));
        assert!(parse_email(&longest).is_ok(), "counted in characters, not bytes");
        assert!(parse_email(&format!("x{longest}")).is_err());
        assert!(parse_display_name(&"ü".repeat(NAME_MAX)).is_ok());
        for bad in ["ab", "@b", "a@", "a b@c", "a@b@c"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_and_methods_round_trip() {
        for r in [Role::Admin, Role::User, Role::Guest] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
        assert_eq!(AuthMethod::parse("2fa"), Ok(AuthMethod::TwoFactor));
        assert!(AuthMethod::parse("totp").is_err());
    }
}
