//! Rules for human-chosen passwords. Hashing lives in `security::hasher` because it is
//! expensive and runs on a bounded blocking pool.

use std::fmt;

use zeroize::Zeroizing;

use super::fields::{self, PASSWORD_MAX, PASSWORD_MIN};

/// Shortest and longest accepted password, counted as [`fields::length`] counts.
pub const MIN_LEN: usize = PASSWORD_MIN;
pub const MAX_LEN: usize = PASSWORD_MAX;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {} characters", MIN_LEN)]
    TooShort,
    #[error("password must be at most {} characters", MAX_LEN)]
    TooLong,
    #[error("password must not contain control characters")]
    ControlChars,
    #[error("password must not be the same as the username")]
    SameAsUsername,
}

/// A password accepted for storage. `Debug` never prints it; memory is wiped on drop.
pub struct NewPassword(Zeroizing<String>);

impl NewPassword {
    /// Checks a password chosen for `username`.
    pub fn parse(raw: &str, username: &str) -> Result<Self, PasswordError> {
        let n = fields::length(raw);
        if n < MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        if n > MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(PasswordError::ControlChars);
        }
        if raw.eq_ignore_ascii_case(username) {
            return Err(PasswordError::SameAsUsername);
        }
        Ok(Self(Zeroizing::new(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// Whether a password change revokes the account's app passwords. An admin's reset
/// does by default — the usual reason for one is a compromised account, and an intruder
/// may have made app passwords — while the user's own change does not (their sync apps
/// keep working). `asked` is an explicit choice that overrides either default.
pub fn revokes_app_passwords(own_change: bool, asked: Option<bool>) -> bool {
    asked.unwrap_or(!own_change)
}

/// A presented password is only worth hashing if it could have been set: this bounds the
/// work an attacker can request (no megabyte "passwords").
pub fn presentable(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= MAX_LEN * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(NewPassword::parse("1234567", "u").err(), Some(PasswordError::TooShort));
        assert!(NewPassword::parse("12345678", "u").is_ok());
        assert!(NewPassword::parse(&"é".repeat(1024), "u").is_ok());
        assert_eq!(NewPassword::parse(&"x".repeat(1025), "u").err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn refuses_control_chars_and_username() {
        assert_eq!(NewPassword::parse("abc\ndefgh", "u").err(), Some(PasswordError::ControlChars));
        assert_eq!(NewPassword::parse("AliceSmith", "alicesmith").err(), Some(PasswordError::SameAsUsername));
    }

    #[test]
    fn a_reset_revokes_app_passwords_unless_kept() {
        assert!(revokes_app_passwords(false, None));
        assert!(!revokes_app_passwords(false, Some(false)));
        assert!(!revokes_app_passwords(true, None));
        assert!(revokes_app_passwords(true, Some(true)));
    }

    #[test]
    fn lengths_count_like_the_browser() {
        assert!(NewPassword::parse(&"😀".repeat(4), "u").is_ok(), "4 emoji are 8 UTF-16 units");
        assert_eq!(NewPassword::parse(&"😀".repeat(513), "u").err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn debug_redacts() {
        let p = NewPassword::parse("correct horse", "u");
        assert!(p.is_ok_and(|p| !format!("{p:?}").contains("horse")));
    }
}
