//! The security event log.

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::clock::rfc3339;
use crate::domain::event::{EventView, NewEvent};

/// Storage of security events.
pub trait EventStore {
    /// Appends an event, or counts it on the row of the same event within
    /// [`REPEAT_WINDOW`].
    async fn record_event(&self, e: &NewEvent) -> Result<(), StoreError>;
    /// Newest (by the last repeat) first; `user_uid` `None` lists every user's events.
    async fn list_events(&self, user_uid: Option<&str>, limit: i64) -> Result<Vec<EventView>, StoreError>;
}

#[derive(FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    kind: String,
    user_uid: Option<String>,
    username: String,
    actor: String,
    ip: String,
    user_agent: String,
    detail: String,
    repeats: i64,
    last_at: i64,
}

/// Identical events within this many seconds of the first are one row with a count.
pub const REPEAT_WINDOW: i64 = 3600;

impl EventStore for Store {
    async fn record_event(&self, e: &NewEvent) -> Result<(), StoreError> {
        let user_agent = truncate(&e.user_agent, 512);
        let detail = truncate(&e.detail, 512);
        // The same event again within the window is counted on the row that has it.
        let repeated = sqlx::query(
            "UPDATE events SET repeats = repeats + 1, last_at = $1 WHERE id = \
             (SELECT id FROM events WHERE kind = $2 AND ip = $3 AND at > $4 AND COALESCE(user_uid, '') = $5 \
              AND username = $6 AND actor = $7 AND user_agent = $8 AND detail = $9 ORDER BY id DESC LIMIT 1)",
        )
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(&e.ip)
        .bind(e.at - REPEAT_WINDOW)
        .bind(e.user_uid.as_deref().unwrap_or(""))
        .bind(&e.username)
        .bind(&e.actor)
        .bind(user_agent)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        if repeated.rows_affected() > 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO events (at, kind, user_uid, username, actor, ip, user_agent, detail, repeats, last_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $1)",
        )
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(&e.user_uid)
        .bind(&e.username)
        .bind(&e.actor)
        .bind(&e.ip)
        .bind(user_agent)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_events(&self, user_uid: Option<&str>, limit: i64) -> Result<Vec<EventView>, StoreError> {
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT id, at, kind, user_uid, username, actor, ip, user_agent, detail, repeats, last_at FROM events \
             WHERE ($1 = '' OR user_uid = $1) ORDER BY last_at DESC, id DESC LIMIT $2",
        )
        .bind(user_uid.unwrap_or(""))
        .bind(limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| EventView {
                id: r.id,
                time: rfc3339(r.at),
                event: r.kind,
                user_uid: r.user_uid,
                username: r.username,
                actor: r.actor,
                ip: r.ip,
                user_agent: r.user_agent,
                detail: r.detail,
                repeats: r.repeats,
                last_time: rfc3339(r.last_at.max(r.at)),
            })
            .collect())
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
