//! Rules for human-chosen passwords. Hashing lives in `security::hasher` because it is
//! expensive and runs on a bounded blocking pool.

use std::fmt;

use zeroize::Zeroizing;

/// Shortest and longest accepted password, in characters (ASVS 2.1.1 / 2.1.2).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least 8 characters")]
    TooShort,
    #[error("password must be at most 1024 characters")]
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
        let n = raw.chars().count();
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
    fn debug_redacts() {
        let p = NewPassword::parse("correct horse", "u");
        assert!(p.is_ok_and(|p| !format!("{p:?}").contains("horse")));
    }
}
