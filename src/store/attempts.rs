//! Authentication attempts, counted in the database so limits hold across instances,
//! and the device cookies that let an owner's browser be judged apart.

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::throttle::{Channel, KNOWN_ADDRESS_MEMORY, Lane, PENDING_TTL, Standing, Tallies, Tally, WINDOW};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending = 0,
    Success = 1,
    Failure = 2,
    /// The right password without the second factor.
    Partial = 3,
}

/// How long a device cookie stays good without a complete login, seconds.
pub const DEVICE_MEMORY: i64 = 90 * 86_400;
/// At most this many device cookies per account; a new one ends the oldest.
pub const DEVICES_PER_ACCOUNT: i64 = 20;

/// Who an attempt is about and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct AttemptKey<'a> {
    pub account_key: &'a str,
    pub address: &'a str,
    /// The hash of the presented device cookie, or `""`.
    pub device: &'a str,
    pub channel: Channel,
}

/// Storage of authentication attempts.
pub trait AttemptStore {
    /// Records an attempt as pending in `lane` (so concurrent attempts see each other)
    /// and returns its id.
    async fn begin_attempt(&self, key: &AttemptKey<'_>, lane: Lane, now: UnixTime) -> Result<i64, StoreError>;
    /// What the requester stands on, and the counts that matter for a new attempt,
    /// leaving out the attempt `exclude`.
    async fn tallies(
        &self,
        key: &AttemptKey<'_>,
        now: UnixTime,
        exclude: i64,
    ) -> Result<(Standing, Tallies), StoreError>;
    async fn finish_attempt(&self, id: i64, outcome: Outcome) -> Result<(), StoreError>;
    /// Forgets an attempt that was not a guess.
    async fn forget_attempt(&self, id: i64) -> Result<(), StoreError>;
    /// Drops failures older than a day, successes older than the known-address memory,
    /// device cookies unused for [`DEVICE_MEMORY`] and expired passkey ceremonies.
    async fn purge_attempts(&self, now: UnixTime) -> Result<(), StoreError>;
    /// Binds a device cookie (by hash) to an account after a complete login, or
    /// refreshes it; keeps the account's newest [`DEVICES_PER_ACCOUNT`].
    async fn bind_device(&self, device: &str, account_key: &str, now: UnixTime) -> Result<(), StoreError>;
    /// Whether the device cookie (by hash) is bound to the account and still good.
    async fn device_bound(&self, device: &str, account_key: &str, now: UnixTime) -> Result<bool, StoreError>;
}

#[derive(FromRow)]
struct SinceRow {
    device_since: i64,
    pair_since: i64,
    known_n: i64,
    device_n: i64,
}

#[derive(FromRow)]
struct TallyRow {
    device_n: i64,
    device_min: Option<i64>,
    device_max: Option<i64>,
    pair_n: i64,
    pair_min: Option<i64>,
    pair_max: Option<i64>,
    account_n: i64,
    account_min: Option<i64>,
    account_max: Option<i64>,
    address_n: i64,
    address_min: Option<i64>,
    address_max: Option<i64>,
}

impl AttemptStore for Store {
    async fn begin_attempt(&self, key: &AttemptKey<'_>, lane: Lane, now: UnixTime) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at, lane, device, channel) \
             VALUES ($1, $2, 0, $3, $4, $5, $6) RETURNING id",
        )
        .bind(key.account_key)
        .bind(key.address)
        .bind(now)
        .bind(lane as i64)
        .bind(if lane == Lane::Device { key.device } else { "" })
        .bind(key.channel as i64)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn tallies(
        &self,
        key: &AttemptKey<'_>,
        now: UnixTime,
        exclude: i64,
    ) -> Result<(Standing, Tallies), StoreError> {
        // Where the owner stands: the last complete login with this device and from
        // this address (each lane counts only what came after), and whether the device
        // cookie is bound to this account.
        let s = sqlx::query_as::<_, SinceRow>(
            "SELECT \
             COALESCE(MAX(CASE WHEN device = $3 THEN id END), 0) AS device_since, \
             COALESCE(MAX(CASE WHEN ip_prefix = $2 THEN id END), 0) AS pair_since, \
             COUNT(CASE WHEN ip_prefix = $2 AND at > $4 THEN 1 END) AS known_n, \
             (SELECT COUNT(*) FROM login_devices \
              WHERE token_hash = $3 AND account_key = $1 AND last_used > $5) AS device_n \
             FROM auth_attempts WHERE account_key = $1 AND outcome = 1",
        )
        .bind(key.account_key)
        .bind(key.address)
        .bind(key.device)
        .bind(now - KNOWN_ADDRESS_MEMORY)
        .bind(now - DEVICE_MEMORY)
        .fetch_one(&self.pool)
        .await?;
        let standing = Standing { device: !key.device.is_empty() && s.device_n > 0, known_address: s.known_n > 0 };
        // What counts (domain::throttle): failures and attempts in flight in every
        // lane; for strangers also the right password without the code sent over the
        // same channel.
        let r = sqlx::query_as::<_, TallyRow>(
            "SELECT \
             COUNT(CASE WHEN dv THEN 1 END) AS device_n, \
             MIN(CASE WHEN dv THEN at END) AS device_min, MAX(CASE WHEN dv THEN at END) AS device_max, \
             COUNT(CASE WHEN pr THEN 1 END) AS pair_n, \
             MIN(CASE WHEN pr THEN at END) AS pair_min, MAX(CASE WHEN pr THEN at END) AS pair_max, \
             COUNT(CASE WHEN ac THEN 1 END) AS account_n, \
             MIN(CASE WHEN ac THEN at END) AS account_min, MAX(CASE WHEN ac THEN at END) AS account_max, \
             COUNT(CASE WHEN ad THEN 1 END) AS address_n, \
             MIN(CASE WHEN ad THEN at END) AS address_min, MAX(CASE WHEN ad THEN at END) AS address_max \
             FROM (SELECT at, \
                   (lane = 2 AND account_key = $1 AND device = $3 AND id > $7 AND outcome <> 3) AS dv, \
                   (lane = 1 AND account_key = $1 AND ip_prefix = $2 AND id > $8 AND outcome <> 3) AS pr, \
                   (lane = 0 AND account_key = $1) AS ac, \
                   (lane = 0 AND ip_prefix = $2) AS ad \
                   FROM auth_attempts \
                   WHERE (account_key = $1 OR ip_prefix = $2) AND at > $4 AND id <> $6 \
                   AND (outcome = 2 OR (outcome = 0 AND at > $5) OR (outcome = 3 AND channel = $9))) recent",
        )
        .bind(key.account_key)
        .bind(key.address)
        .bind(key.device)
        .bind(now - WINDOW)
        .bind(now - PENDING_TTL)
        .bind(exclude)
        .bind(s.device_since)
        .bind(s.pair_since)
        .bind(key.channel as i64)
        .fetch_one(&self.pool)
        .await?;
        let tally = |count, oldest, newest| Tally { count, oldest, newest };
        let tallies = Tallies {
            device: tally(r.device_n, r.device_min, r.device_max),
            pair: tally(r.pair_n, r.pair_min, r.pair_max),
            account: tally(r.account_n, r.account_min, r.account_max),
            address: tally(r.address_n, r.address_min, r.address_max),
        };
        Ok((standing, tallies))
    }

    async fn finish_attempt(&self, id: i64, outcome: Outcome) -> Result<(), StoreError> {
        sqlx::query("UPDATE auth_attempts SET outcome = $2 WHERE id = $1")
            .bind(id)
            .bind(outcome as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn forget_attempt(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_attempts WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn purge_attempts(&self, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_attempts WHERE (outcome <> 1 AND at < $1) OR at < $2")
            .bind(now - 86_400)
            .bind(now - KNOWN_ADDRESS_MEMORY)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM login_devices WHERE last_used < $1")
            .bind(now - DEVICE_MEMORY)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(())
    }

    async fn device_bound(&self, device: &str, account_key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let n = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM login_devices WHERE token_hash = $1 AND account_key = $2 AND last_used > $3",
        )
        .bind(device)
        .bind(account_key)
        .bind(now - DEVICE_MEMORY)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn bind_device(&self, device: &str, account_key: &str, now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO login_devices (token_hash, account_key, created_at, last_used) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (token_hash, account_key) DO UPDATE SET last_used = excluded.last_used",
        )
        .bind(device)
        .bind(account_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM login_devices WHERE account_key = $1 AND token_hash NOT IN \
             (SELECT token_hash FROM login_devices WHERE account_key = $1 \
              ORDER BY last_used DESC, created_at DESC LIMIT $2)",
        )
        .bind(account_key)
        .bind(DEVICES_PER_ACCOUNT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
