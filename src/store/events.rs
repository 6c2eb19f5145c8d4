//! The security event log.

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::clock::rfc3339;
use crate::domain::event::{EventView, NewEvent};

/// Storage of security events.
pub trait EventStore {
    async fn record_event(&self, e: &NewEvent) -> Result<(), StoreError>;
    /// Newest first; `user_uid` `None` lists every user's events.
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
}

impl EventStore for Store {
    async fn record_event(&self, e: &NewEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO events (at, kind, user_uid, username, actor, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(&e.user_uid)
        .bind(&e.username)
        .bind(&e.actor)
        .bind(&e.ip)
        .bind(truncate(&e.user_agent, 512))
        .bind(truncate(&e.detail, 512))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_events(&self, user_uid: Option<&str>, limit: i64) -> Result<Vec<EventView>, StoreError> {
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT id, at, kind, user_uid, username, actor, ip, user_agent, detail FROM events \
             WHERE ($1 = '' OR user_uid = $1) ORDER BY id DESC LIMIT $2",
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
