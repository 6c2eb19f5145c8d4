//! Sessions: what a login (or an app password, or a client) holds, and when it ends.

use serde::Serialize;

use crate::clock::{UnixTime, rfc3339};

/// What created a session; it decides what the session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// An interactive login with the account password (and code, with 2FA).
    Web,
    /// A long-lived credential for an app that cannot do 2FA.
    AppPassword,
    /// A token made by an admin from the CLI, without a user.
    AccessToken,
    /// A token issued to an OAuth2 client by the client-credentials grant.
    Client,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::AppPassword => "app_password",
            SessionKind::AccessToken => "access_token",
            SessionKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(SessionKind::Web),
            "app_password" => Some(SessionKind::AppPassword),
            "access_token" => Some(SessionKind::AccessToken),
            "client" => Some(SessionKind::Client),
            _ => None,
        }
    }
}

/// Lifetimes of interactive sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Absolute lifetime of a web session, seconds.
    pub max_age: i64,
    /// A web session unused this long ends, seconds (0 = never).
    pub idle_timeout: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        // Two weeks absolute, three days idle: PhotoPrism's defaults.
        Self { max_age: 14 * 86_400, idle_timeout: 3 * 86_400 }
    }
}

/// How often `last_active` is written: reads stay reads for a busy client.
pub const TOUCH_INTERVAL: i64 = 60;

/// A stored session. The token itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub user_uid: Option<String>,
    pub client_id: Option<String>,
    pub parent_id: Option<String>,
    pub kind: SessionKind,
    pub name: String,
    pub scope: String,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub idle_timeout: i64,
    pub last_active: UnixTime,
    pub login_ip: String,
    pub user_agent: String,
    /// For an app password (and the sessions opened with it): the one folder and level
    /// it is limited to on WebDAV, within what its owner reaches.
    pub dav_limit: Option<crate::domain::access::Grant>,
}

impl Session {
    /// Whether the session may still be used at `now`: not past its absolute expiry and
    /// not idle for longer than its idle timeout.
    pub fn is_live(&self, now: UnixTime) -> bool {
        let not_expired = self.expires_at.is_none_or(|e| now < e);
        let not_idle = self.idle_timeout <= 0 || now - self.last_active < self.idle_timeout;
        not_expired && not_idle
    }

    /// Whether `last_active` is stale enough to be written again.
    pub fn needs_touch(&self, now: UnixTime) -> bool {
        now - self.last_active >= TOUCH_INTERVAL
    }

    /// Seconds until absolute expiry (for `expires_in`), `0` for never.
    pub fn expires_in(&self, now: UnixTime) -> i64 {
        self.expires_at.map_or(0, |e| (e - now).max(0))
    }

    pub fn view(&self, current_id: Option<&str>) -> SessionView {
        SessionView {
            id: self.id.clone(),
            kind: self.kind,
            name: self.name.clone(),
            scope: self.scope.clone(),
            created_at: rfc3339(self.created_at),
            last_active: rfc3339(self.last_active),
            expires_at: self.expires_at.map(rfc3339),
            login_ip: self.login_ip.clone(),
            user_agent: self.user_agent.clone(),
            current: current_id == Some(self.id.as_str()),
            folder: self.dav_limit.as_ref().map(|l| l.path.to_string()),
            access: self.dav_limit.as_ref().map(|l| l.level.as_str().to_owned()),
        }
    }
}

/// Session JSON in lists (docs/design.md, "App passwords").
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub kind: SessionKind,
    pub name: String,
    pub scope: String,
    pub created_at: String,
    pub last_active: String,
    pub expires_at: Option<String>,
    pub login_ip: String,
    pub user_agent: String,
    pub current: bool,
    /// The one folder an app password is limited to on WebDAV (`/originals/family/`);
    /// absent when it reaches all its owner does.
    pub folder: Option<String>,
    /// What it may do there (`read`, `append`, `write`); absent when not limited.
    pub access: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: Option<i64>, idle: i64, last_active: i64) -> Session {
        Session {
            id: "sess1".into(),
            token_hash: String::new(),
            user_uid: None,
            client_id: None,
            parent_id: None,
            kind: SessionKind::Web,
            name: String::new(),
            scope: "*".into(),
            created_at: 0,
            expires_at,
            idle_timeout: idle,
            last_active,
            login_ip: String::new(),
            user_agent: String::new(),
            dav_limit: None,
        }
    }

    #[test]
    fn absolute_expiry() {
        let s = session(Some(100), 0, 0);
        assert!(s.is_live(99));
        assert!(!s.is_live(100));
        assert_eq!(s.expires_in(40), 60);
    }

    #[test]
    fn idle_timeout_counts_from_last_activity() {
        let s = session(None, 50, 1000);
        assert!(s.is_live(1049));
        assert!(!s.is_live(1050));
        assert_eq!(s.expires_in(1000), 0);
    }

    #[test]
    fn touch_at_most_once_a_minute() {
        let s = session(None, 0, 1000);
        assert!(!s.needs_touch(1059));
        assert!(s.needs_touch(1060));
    }

    #[test]
    fn kinds_round_trip() {
        for k in [SessionKind::Web, SessionKind::AppPassword, SessionKind::AccessToken, SessionKind::Client] {
            assert_eq!(SessionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SessionKind::parse("x"), None);
    }
}
