//! `/settings/account`: the visitor's profile, Change Password, 2-Factor
//! Authentication, Apps and Devices, Connect via WebDAV, the folders one reaches,
//! sessions and security events.
//! One query for all sessions and app passwords, one for the events, run together.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::guard::PageUser;
use super::render;
use super::view::{EventRow, FolderRow, Layout, SessionRow};
use crate::domain::session::SessionKind;
use crate::service::Gatehouse;
use crate::service::passkeys::PasskeyView;
use crate::store::{EventStore as _, FactorStore as _, SessionFilter, SessionStore as _};

/// How many recent security events the page lists.
const EVENTS_SHOWN: i64 = 25;

/// Expiry choices for app passwords, in days (docs/design.md, "App passwords"); 0 is never.
const EXPIRY_DAYS: &[i64] = &[0, 1, 3, 7, 14, 31, 60, 365];

#[derive(Debug, Serialize)]
struct AccountPage {
    #[serde(flatten)]
    layout: Layout,
    sessions: Vec<SessionRow>,
    app_passwords: Vec<SessionRow>,
    events: Vec<EventRow>,
    expiry_days: &'static [i64],
    read_only: bool,
    /// Whether a TOTP authenticator is active (2FA may be on through passkeys alone).
    totp_active: bool,
    passkeys: Vec<PasskeyView>,
    /// Why passkeys are off on this server, if they are.
    passkeys_off: Option<String>,
    /// The folders the visitor reaches over WebDAV.
    folders: Vec<FolderRow>,
}

/// `GET /settings/account`.
pub async fn page(State(app): State<Gatehouse>, visitor: PageUser) -> Response {
    let uid = visitor.user.uid.as_str();
    let filter = SessionFilter { user_uid: Some(uid), client_id: None, kind: None };
    let (sessions, events) =
        tokio::join!(app.store.list_sessions(&filter), app.store.list_events(Some(uid), EVENTS_SHOWN));
    let (factors, passkeys) = tokio::join!(app.store.factors(uid), app.list_passkeys(&visitor.user));
    let folders = match app.reach(&visitor.user, None).await {
        Ok(reach) => reach.grants().iter().map(FolderRow::from).collect(),
        Err(e) => {
            tracing::error!(error = %e, "account page: loading the folders reached failed");
            let title = &app.settings.site_title;
            return render::error_page(title, StatusCode::INTERNAL_SERVER_ERROR, "Your account could not be loaded.");
        }
    };
    let (sessions, events, factors, passkeys) = match (sessions, events, factors, passkeys) {
        (Ok(s), Ok(e), Ok(f), Ok(p)) => (s, e, f, p),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) => {
            tracing::error!(error = %e, "account page: loading sessions, events or factors failed");
            let title = &app.settings.site_title;
            return render::error_page(title, StatusCode::INTERNAL_SERVER_ERROR, "Your account could not be loaded.");
        }
        (.., Err(e)) => {
            tracing::error!(error = %e, "account page: loading sessions or events failed");
            let title = &app.settings.site_title;
            return render::error_page(title, StatusCode::INTERNAL_SERVER_ERROR, "Your account could not be loaded.");
        }
    };
    let now = app.now();
    let current = visitor.session.id.as_str();
    let mut live: Vec<_> = sessions.into_iter().filter(|s| s.is_live(now)).collect();
    live.sort_by_key(|s| (s.id != current, -s.last_active));
    let rows =
        |kind: SessionKind| live.iter().filter(|s| s.kind == kind).map(|s| SessionRow::new(s, current)).collect();
    let ctx = AccountPage {
        sessions: rows(SessionKind::Web),
        app_passwords: rows(SessionKind::AppPassword),
        events: events.iter().map(|e| EventRow::new(e, &visitor.user.username)).collect(),
        expiry_days: EXPIRY_DAYS,
        read_only: app.settings.read_only,
        totp_active: factors.totp,
        passkeys,
        passkeys_off: app.passkeys_off().map(ToString::to_string),
        folders,
        layout: Layout::new(&app, &visitor, "account"),
    };
    render::page(StatusCode::OK, "account.html", &ctx)
}
