//! The server's secret key and the encryption of secrets at rest.
//!
//! The key comes from `--secret-key` / `GATEHOUSE_SECRET_KEY`, or is generated once into
//! `secret.key` in the data folder (mode 0600). Purpose-bound keys are derived from it
//! with HKDF-SHA256; TOTP secrets are sealed with XChaCha20-Poly1305 under a random
//! nonce, with the owner's id as associated data so a sealed value cannot be moved to
//! another row. A check value lets startup refuse a key that does not fit the database
//! instead of silently failing to open every secret.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use chacha20poly1305::aead::Aead as _;
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::domain::random;

/// The shortest secret key accepted, in characters.
pub const MIN_KEY_LEN: usize = 32;
const SEALED_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the secret key must be at least {MIN_KEY_LEN} characters")]
    TooShort,
    #[error("cannot read or write the secret key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("the operating system's random number generator failed")]
    Rng,
    #[error("encryption failed")]
    Seal,
    #[error("a sealed secret could not be opened: wrong key, or the value was tampered with")]
    Open,
}

/// The root secret. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    totp_key: Zeroizing<[u8; 32]>,
    check_key: Zeroizing<[u8; 32]>,
    csrf_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// Derives the purpose keys from a configured secret.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let secret = secret.trim();
        if secret.chars().count() < MIN_KEY_LEN {
            return Err(KeyError::TooShort);
        }
        let hk = Hkdf::<Sha256>::new(Some(b"gatehouse secret key v1"), secret.as_bytes());
        let derive = |info: &[u8]| -> Result<Zeroizing<[u8; 32]>, KeyError> {
            let mut out = Zeroizing::new([0u8; 32]);
            hk.expand(info, out.as_mut()).map_err(|_| KeyError::Seal)?;
            Ok(out)
        };
        Ok(Self {
            totp_key: derive(b"totp secret encryption")?,
            check_key: derive(b"key check")?,
            csrf_key: derive(b"csrf tokens")?,
        })
    }

    /// The configured secret if given, else the one in `data_dir/secret.key`, generated
    /// there on first use with mode 0600.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(s) = configured {
            return Self::from_secret(s);
        }
        let path = data_dir.join("secret.key");
        let file_err = |e: std::io::Error| KeyError::File { path: path.display().to_string(), reason: e.to_string() };
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                super::files::make_private_if_present(&path).map_err(file_err)?;
                Self::from_secret(&s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                random::fill(bytes.as_mut()).map_err(|_| KeyError::Rng)?;
                let secret = Zeroizing::new(BASE64URL_NOPAD.encode(bytes.as_ref()));
                // Written whole under a temporary name, then linked into place: two
                // processes starting on a new data folder at once (the first `start`
                // and a `users add`) agree on one key, and neither reads a half-written
                // file.
                let tmp =
                    data_dir.join(format!(".secret.key.{}", random::public_id("t", 12).map_err(|_| KeyError::Rng)?));
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let written = opts
                    .open(&tmp)
                    .and_then(|mut f| f.write_all(secret.as_bytes()).and_then(|()| f.sync_all()))
                    .and_then(|()| std::fs::hard_link(&tmp, &path));
                let _ = std::fs::remove_file(&tmp);
                match written {
                    Ok(()) => Self::from_secret(&secret),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::from_secret(&std::fs::read_to_string(&path).map_err(file_err)?)
                    }
                    Err(e) => Err(file_err(e)),
                }
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// A value that identifies the key without revealing it, kept in the database.
    pub fn check_value(&self) -> String {
        mac_hex(&self.check_key, b"gatehouse key check")
    }

    /// The CSRF token of a session: an HMAC of its public id, so it needs no storage and
    /// cannot be forged without the key.
    pub fn csrf_token(&self, session_id: &str) -> String {
        mac_hex(&self.csrf_key, session_id.as_bytes())
    }

    /// Checks a presented CSRF token in constant time.
    pub fn verify_csrf(&self, session_id: &str, presented: &str) -> bool {
        let expected = self.csrf_token(session_id);
        !presented.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), presented.as_bytes()))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, KeyError> {
        XChaCha20Poly1305::new_from_slice(self.totp_key.as_ref()).map_err(|_| KeyError::Seal)
    }

    /// Encrypts `plaintext` bound to `context` (e.g. the owner's uid).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        random::fill(&mut nonce).map_err(|_| KeyError::Rng)?;
        let payload = chacha20poly1305::aead::Payload { msg: plaintext, aad: context.as_bytes() };
        let ct = self.cipher()?.encrypt(&nonce.into(), payload).map_err(|_| KeyError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{SEALED_PREFIX}{}", BASE64.encode(&out)))
    }

    /// Decrypts what [`SecretKey::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let raw =
            sealed.strip_prefix(SEALED_PREFIX).and_then(|b| BASE64.decode(b.as_bytes()).ok()).ok_or(KeyError::Open)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(KeyError::Open);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeyError::Open)?;
        let payload = chacha20poly1305::aead::Payload { msg: ct, aad: context.as_bytes() };
        self.cipher()?.decrypt(&nonce.into(), payload).map(Zeroizing::new).map_err(|_| KeyError::Open)
    }
}

fn mac_hex(key: &[u8; 32], data: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(data);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const K: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn seal_and_open_round_trip_with_context() {
        let key = SecretKey::from_secret(K).unwrap();
        let sealed = key.seal(b"totp secret bytes", "u123").unwrap();
        assert!(!sealed.contains("totp"));
        assert_eq!(key.open(&sealed, "u123").unwrap().as_slice(), b"totp secret bytes");
        assert!(key.open(&sealed, "u999").is_err(), "bound to its row");
        assert_ne!(sealed, key.seal(b"totp secret bytes", "u123").unwrap(), "random nonce");
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let key = SecretKey::from_secret(K).unwrap();
        let other = SecretKey::from_secret("another key that is long enough!!").unwrap();
        let sealed = key.seal(b"x", "u").unwrap();
        assert!(other.open(&sealed, "u").is_err());
        assert_ne!(key.check_value(), other.check_value());
        let mut bad = sealed.clone();
        bad.pop();
        bad.push('A');
        assert!(key.open(&bad, "u").is_err());
        assert!(key.open("junk", "u").is_err());
        assert!(key.open("v1:AAAA", "u").is_err());
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let key = SecretKey::from_secret(K).unwrap();
        let t = key.csrf_token("sess1");
        assert!(key.verify_csrf("sess1", &t));
        assert!(!key.verify_csrf("sess2", &t));
        assert!(!key.verify_csrf("sess1", ""));
        assert!(!key.verify_csrf("sess1", "00"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(SecretKey::from_secret("short"), Err(KeyError::TooShort)));
    }

    #[test]
    fn generated_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = SecretKey::load_or_create(None, dir.path()).unwrap();
        let b = SecretKey::load_or_create(None, dir.path()).unwrap();
        assert_eq!(a.check_value(), b.check_value());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
