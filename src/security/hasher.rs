//! Argon2id password hashing on a bounded blocking pool.
//!
//! Hashing is deliberately slow (19 MiB, t=2, p=1: OWASP's minimum for Argon2id), so it
//! runs on tokio's blocking threads behind a semaphore: a flood of logins queues here and
//! cannot take every core from the rest of the server. Unknown users are checked against
//! a dummy hash so that timing does not tell whether an account exists.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::domain::random;

/// Argon2id cost: memory in KiB, iterations, lanes.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// How long a request waits for a hashing slot before the server says it is busy.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the server is busy checking passwords, try again shortly")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The shared hashing pool.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

fn argon() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(M_COST, T_COST, P_COST, None).map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    random::fill(&mut salt).map_err(|e| HashError::Internal(e.to_string()))?;
    argon()?
        .hash_password_with_salt(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))
}

fn verify_now(password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    argon().is_ok_and(|a| a.verify_password(password, &parsed).is_ok())
}

impl PasswordHasher {
    /// A pool that hashes at most `concurrency` passwords at once.
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        let dummy = hash_now(b"gatehouse dummy password for unknown users")?;
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash: dummy.into() })
    }

    /// One less than the cores, at least one: a core stays free for everything else.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let out = tokio::task::spawn_blocking(job).await.map_err(|e| HashError::Internal(e.to_string()));
        drop(permit);
        out
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        self.run(move || hash_now(&pw)).await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both cases cost the same. `None` always answers `false`.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let exists = stored.is_some();
        let hash: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let ok = self.run(move || verify_now(&pw, &hash)).await?;
        Ok(ok && exists)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_params() {
        let h = PasswordHasher::new(2).unwrap();
        let stored = h.hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("correct horse battery", Some(&stored)).await.unwrap());
        assert!(!h.verify("wrong horse battery", Some(&stored)).await.unwrap());
        assert!(!h.verify("anything", None).await.unwrap());
        assert!(!h.verify("anything", Some("not a phc string")).await.unwrap());
    }

    #[tokio::test]
    async fn salts_differ() {
        let h = PasswordHasher::new(1).unwrap();
        assert_ne!(h.hash("same password").await.unwrap(), h.hash("same password").await.unwrap());
    }
}
