//! Argon2id password hashing on a bounded pool with reused memory.
//!
//! Hashing is deliberately slow (19 MiB, t=2, p=1: OWASP's minimum for Argon2id), so it
//! is bounded three ways:
//!
//! - at most `workers` hashes run at once (one less than the cores by default), on
//!   tokio's blocking threads;
//! - at most `queue` more wait for a worker; beyond that a request is refused at once
//!   ([`HashError::Busy`], 503 with `Retry-After`) instead of piling up. The account
//!   holder's own attempts ([`Priority::Owner`]: from their device or a known address)
//!   wait in a queue of their own that strangers cannot fill, so a flood of guesses
//!   for made-up accounts from many addresses can slow the owner's login by a few
//!   hashes but never refuse it;
//! - the 19 MiB of blocks each hash needs come from a pool of at most `workers`
//!   buffers, allocated once and reused (wiped after each use): a flood of logins does
//!   not leave the allocator holding a buffer per thread that ever hashed.
//!
//! Unknown users are checked against a dummy hash so that timing does not tell whether
//! an account exists.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use data_encoding::BASE64_NOPAD;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;
use zeroize::{Zeroize as _, Zeroizing};

use crate::domain::random;

/// Argon2id cost: memory in KiB, iterations, lanes.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Hash output, bytes.
const OUTPUT_LEN: usize = 32;
/// A stored hash asking for more memory than this (KiB) is not checked.
const MAX_M_COST: u32 = 256 * 1024;

/// How long a queued request waits for a worker before the server says it is busy.
const QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Hashes that may wait for a worker, by default, per worker.
pub const QUEUE_PER_WORKER: usize = 4;
/// What a refused client is asked to wait, seconds.
pub const BUSY_RETRY_AFTER: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the server is busy checking passwords, try again shortly")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Whose check a hash is: strangers share one queue; the account holder's attempts
/// (the throttle's device and known-address lanes) and signed-in users re-entering
/// their password use another, which a flood of strangers cannot fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Stranger,
    Owner,
}

/// The shared hashing pool.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    /// Workers: a permit per running hash.
    permits: Arc<Semaphore>,
    /// Admission: a permit per running or waiting hash; none left means busy. One
    /// semaphore per [`Priority`]; both share the workers, which serve in order.
    admission: Arc<Semaphore>,
    owner_admission: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    dummy_hash: Arc<str>,
}

fn argon(algorithm: Algorithm, version: Version, params: Params) -> Argon2<'static> {
    Argon2::new(algorithm, version, params)
}

fn our_params() -> Result<Params, HashError> {
    Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| HashError::Internal(e.to_string()))
}

/// Runs `f` with `blocks` Argon2 blocks from the pool (or a new buffer if the pool is
/// empty), then wipes the buffer and gives it back.
fn with_blocks<T>(pool: &Mutex<Vec<Vec<Block>>>, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut buf = pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
    if buf.len() < blocks {
        buf.resize(blocks, Block::new());
    }
    let out = f(&mut buf[..blocks]);
    buf.iter_mut().for_each(Block::zeroize);
    if let Ok(mut p) = pool.lock() {
        p.push(buf);
    }
    out
}

fn hash_now(pool: &Mutex<Vec<Vec<Block>>>, password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    random::fill(&mut salt).map_err(|e| HashError::Internal(e.to_string()))?;
    let params = our_params()?;
    let blocks = params.block_count();
    let a = argon(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
    with_blocks(pool, blocks, |mem| a.hash_password_into_with_memory(password, &salt, out.as_mut(), mem))
        .map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        BASE64_NOPAD.encode(&salt),
        BASE64_NOPAD.encode(out.as_ref())
    ))
}

fn verify_now(pool: &Mutex<Vec<Vec<Block>>>, password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&parsed), &parsed.salt, &parsed.hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST {
        return false;
    }
    let blocks = params.block_count();
    let a = argon(algorithm, version, params);
    let mut out = Zeroizing::new(vec![0u8; expected.as_bytes().len()]);
    let done =
        with_blocks(pool, blocks, |mem| a.hash_password_into_with_memory(password, salt.as_ref(), &mut out, mem));
    done.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

impl PasswordHasher {
    /// A pool that hashes at most `workers` passwords at once and lets at most `queue`
    /// more wait.
    pub fn new(workers: usize, queue: usize) -> Result<Self, HashError> {
        let workers = workers.max(1);
        let buffers = Arc::new(Mutex::new(Vec::new()));
        let dummy = hash_now(&buffers, b"gatehouse dummy password for unknown users")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(workers)),
            admission: Arc::new(Semaphore::new(workers + queue)),
            owner_admission: Arc::new(Semaphore::new(workers + queue)),
            buffers,
            dummy_hash: dummy.into(),
        })
    }

    /// One less than the cores, at least one: a core stays free for everything else.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    async fn run<T: Send + 'static>(
        &self,
        priority: Priority,
        job: impl FnOnce(&Mutex<Vec<Vec<Block>>>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        // Refused at once when the queue is full: nothing piles up.
        let admission = match priority {
            Priority::Stranger => &self.admission,
            Priority::Owner => &self.owner_admission,
        };
        let admitted = admission.clone().try_acquire_owned().map_err(|_| HashError::Busy)?;
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let buffers = self.buffers.clone();
        // The permits travel with the job: a request that gives up does not free its
        // worker (or its buffer) before the hash is actually done.
        tokio::task::spawn_blocking(move || {
            let out = job(&buffers);
            drop(permit);
            drop(admitted);
            out
        })
        .await
        .map_err(|e| HashError::Internal(e.to_string()))
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        self.run(Priority::Owner, move |pool| hash_now(pool, &pw)).await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both cases cost the same. `None` always answers `false`.
    pub async fn verify(&self, password: &str, stored: Option<&str>, priority: Priority) -> Result<bool, HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let exists = stored.is_some();
        let hash: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let ok = self.run(priority, move |pool| verify_now(pool, &pw, &hash)).await?;
        Ok(ok && exists)
    }

    /// Memory buffers held for reuse (at most one per worker).
    pub fn buffers_held(&self) -> usize {
        self.buffers.lock().map_or(0, |b| b.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_params() {
        let h = PasswordHasher::new(2, 2).unwrap();
        let stored = h.hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("correct horse battery", Some(&stored), Priority::Stranger).await.unwrap());
        assert!(!h.verify("wrong horse battery", Some(&stored), Priority::Stranger).await.unwrap());
        assert!(!h.verify("anything", None, Priority::Stranger).await.unwrap());
        assert!(!h.verify("anything", Some("not a phc string"), Priority::Stranger).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_by_the_library_itself_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, our_params().unwrap());
        let stored = a.hash_password_with_salt(b"an older hash", b"0123456789abcdef").unwrap().to_string();
        let h = PasswordHasher::new(1, 1).unwrap();
        assert!(h.verify("an older hash", Some(&stored), Priority::Stranger).await.unwrap());
        assert!(!h.verify("an older hash!", Some(&stored), Priority::Stranger).await.unwrap());
    }

    #[tokio::test]
    async fn salts_differ() {
        let h = PasswordHasher::new(1, 1).unwrap();
        assert_ne!(h.hash("same password").await.unwrap(), h.hash("same password").await.unwrap());
    }

    /// The budget: 1 worker and 2 waiting; 8 at once → 3 checked, 5 refused at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_at_once_and_memory_is_reused() {
        let h = PasswordHasher::new(1, 2).unwrap();
        let stored = h.hash("queue test password").await.unwrap();
        let results = futures_util::future::join_all(
            (0..8).map(|_| h.verify("queue test password", Some(&stored), Priority::Stranger)),
        )
        .await;
        let ok = results.iter().filter(|r| matches!(r, Ok(true))).count();
        let busy = results.iter().filter(|r| matches!(r, Err(HashError::Busy))).count();
        assert_eq!((ok, busy), (3, 5), "one running, two waiting, the rest refused");
        assert_eq!(h.buffers_held(), 1, "one worker, one buffer, reused");
        assert!(
            h.verify("queue test password", Some(&stored), Priority::Stranger).await.unwrap(),
            "free again afterwards"
        );
    }

    #[tokio::test]
    async fn strangers_filling_their_queue_never_refuse_the_owner() {
        let h = PasswordHasher::new(1, 1).unwrap();
        let stored = h.hash("owner password").await.unwrap();
        // Every place strangers may take, taken (a flood of made-up accounts).
        let held = h.admission.clone().try_acquire_many_owned(2).unwrap();
        assert!(matches!(h.verify("guess", None, Priority::Stranger).await, Err(HashError::Busy)));
        assert!(h.verify("owner password", Some(&stored), Priority::Owner).await.unwrap(), "the owner is checked");
        drop(held);
        assert!(!h.verify("guess", None, Priority::Stranger).await.unwrap(), "strangers again once there is room");
    }
}
