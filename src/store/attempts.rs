//! Authentication attempts, counted in the database so limits hold across instances.

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::throttle::{KNOWN_ADDRESS_MEMORY, PENDING_TTL, Tallies, Tally, WINDOW};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending = 0,
    Success = 1,
    Failure = 2,
}

/// Storage of authentication attempts.
pub trait AttemptStore {
    /// Records an attempt as pending (so concurrent attempts see each other) and
    /// returns its id.
    async fn begin_attempt(&self, account_key: &str, address: &str, now: UnixTime) -> Result<i64, StoreError>;
    /// Counts the history that matters for a new attempt, leaving out `exclude`.
    async fn tallies(
        &self,
        account_key: &str,
        address: &str,
        now: UnixTime,
        exclude: i64,
    ) -> Result<Tallies, StoreError>;
    async fn finish_attempt(&self, id: i64, outcome: Outcome) -> Result<(), StoreError>;
    /// Forgets an attempt that was not a guess.
    async fn forget_attempt(&self, id: i64) -> Result<(), StoreError>;
    /// Drops failures older than a day and successes older than the known-address memory.
    async fn purge_attempts(&self, now: UnixTime) -> Result<(), StoreError>;
}

#[derive(FromRow)]
struct TallyRow {
    account_n: i64,
    account_p: i64,
    account_min: Option<i64>,
    account_max: Option<i64>,
    pair_n: i64,
    pair_p: i64,
    pair_min: Option<i64>,
    pair_max: Option<i64>,
    address_n: i64,
    address_p: i64,
    address_min: Option<i64>,
    address_max: Option<i64>,
    known_n: i64,
}

impl AttemptStore for Store {
    async fn begin_attempt(&self, account_key: &str, address: &str, now: UnixTime) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(account_key)
        .bind(address)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn tallies(
        &self,
        account_key: &str,
        address: &str,
        now: UnixTime,
        exclude: i64,
    ) -> Result<Tallies, StoreError> {
        // One pass over the rows of this account or this address: `f` is 2 for a
        // failure within the window, 1 for an attempt still pending, 0 otherwise.
        let r = sqlx::query_as::<_, TallyRow>(
            "SELECT \
             COUNT(CASE WHEN f = 2 AND account_key = $1 THEN 1 END) AS account_n, \
             COUNT(CASE WHEN f = 1 AND account_key = $1 THEN 1 END) AS account_p, \
             MIN(CASE WHEN f = 2 AND account_key = $1 THEN at END) AS account_min, \
             MAX(CASE WHEN f = 2 AND account_key = $1 THEN at END) AS account_max, \
             COUNT(CASE WHEN f = 2 AND account_key = $1 AND ip_prefix = $2 THEN 1 END) AS pair_n, \
             COUNT(CASE WHEN f = 1 AND account_key = $1 AND ip_prefix = $2 THEN 1 END) AS pair_p, \
             MIN(CASE WHEN f = 2 AND account_key = $1 AND ip_prefix = $2 THEN at END) AS pair_min, \
             MAX(CASE WHEN f = 2 AND account_key = $1 AND ip_prefix = $2 THEN at END) AS pair_max, \
             COUNT(CASE WHEN f = 2 AND ip_prefix = $2 THEN 1 END) AS address_n, \
             COUNT(CASE WHEN f = 1 AND ip_prefix = $2 THEN 1 END) AS address_p, \
             MIN(CASE WHEN f = 2 AND ip_prefix = $2 THEN at END) AS address_min, \
             MAX(CASE WHEN f = 2 AND ip_prefix = $2 THEN at END) AS address_max, \
             COUNT(CASE WHEN outcome = 1 AND account_key = $1 AND ip_prefix = $2 THEN 1 END) AS known_n \
             FROM (SELECT account_key, ip_prefix, outcome, at, \
                   CASE WHEN outcome = 2 AND at > $3 THEN 2 WHEN outcome = 0 AND at > $4 THEN 1 ELSE 0 END AS f \
                   FROM auth_attempts \
                   WHERE (account_key = $1 OR ip_prefix = $2) AND at > $5 AND id <> $6) recent",
        )
        .bind(account_key)
        .bind(address)
        .bind(now - WINDOW)
        .bind(now - PENDING_TTL)
        .bind(now - KNOWN_ADDRESS_MEMORY)
        .bind(exclude)
        .fetch_one(&self.pool)
        .await?;
        let tally = |count, pending, oldest, newest| Tally { count, pending, oldest, newest };
        Ok(Tallies {
            account: tally(r.account_n, r.account_p, r.account_min, r.account_max),
            pair: tally(r.pair_n, r.pair_p, r.pair_min, r.pair_max),
            address: tally(r.address_n, r.address_p, r.address_min, r.address_max),
            known_address: r.known_n > 0,
        })
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
        Ok(())
    }
}
