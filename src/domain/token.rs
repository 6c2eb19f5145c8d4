//! Bearer tokens: 32 random bytes shown once, stored only as their SHA-256.
//!
//! High-entropy tokens need no slow hash: SHA-256 lets every request find its session
//! with one indexed lookup, while a stolen database still yields no usable token.

use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::random::{RngError, fill};

/// A freshly minted session token. Its `Debug` never shows the secret.
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// 32 bytes (256 bits) from the OS RNG, base64url without padding (43 characters).
    pub fn generate() -> Result<Self, RngError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill(bytes.as_mut())?;
        Ok(Self(Zeroizing::new(BASE64URL_NOPAD.encode(bytes.as_ref()))))
    }

    /// The secret, to hand to the client exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// Lower-case hex SHA-256 of a presented token: the key to look a session up by.
pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// A presented token is worth a database lookup only if it has a plausible shape:
/// printable ASCII of sane length. Anything else is rejected without touching storage.
pub fn plausible_token(token: &str) -> bool {
    (16..=256).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_hash_to_hex() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash().len(), 64);
        assert_eq!(a.hash(), token_hash(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn implausible_tokens_are_rejected() {
        assert!(!plausible_token(""));
        assert!(!plausible_token("short"));
        assert!(!plausible_token(&"a".repeat(300)));
        assert!(!plausible_token("aaaaaaaaaaaaaaaa aaaa"));
        assert!(!plausible_token("ääääääääääääääääääää"));
        assert!(plausible_token(SessionToken::generate().unwrap().expose()));
    }
}
