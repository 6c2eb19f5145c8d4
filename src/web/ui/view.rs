//! What templates see: plain serialisable views of the visitor, sessions, events and
//! users, with the labels and dates people read. Templates escape all of it.

use serde::Serialize;

use super::assets::{AssetUrls, urls};
use super::guard::PageUser;
use crate::clock::{UnixTime, rfc3339};
use crate::domain::access::{Grant, Level};
use crate::domain::event::EventView;
use crate::domain::fields::{FormRules, RULES};
use crate::domain::session::Session;
use crate::domain::user::{AuthMethod, User};
use crate::service::Gatehouse;

/// What every page's frame needs: title, navigation, the visitor and the CSRF token.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub site_title: String,
    pub csrf_token: String,
    pub asset: AssetUrls,
    pub me: UserRow,
    /// The page, for the navigation's `aria-current`.
    pub page: &'static str,
    /// The field limits the forms render (`domain::fields`, the server's own).
    pub rules: FormRules,
}

impl Layout {
    pub fn new(app: &Gatehouse, visitor: &PageUser, page: &'static str) -> Self {
        Self {
            site_title: app.settings.site_title.clone(),
            csrf_token: app.key.csrf_token(&visitor.session.id),
            asset: urls(),
            me: UserRow::from(&*visitor.user),
            page,
            rules: RULES,
        }
    }
}

/// A user as pages show them.
#[derive(Debug, Serialize)]
pub struct UserRow {
    pub uid: String,
    pub username: String,
    pub name: String,
    /// The display name, or the username when there is none.
    pub display: String,
    pub initial: String,
    pub email: String,
    pub role: &'static str,
    pub is_admin: bool,
    pub super_admin: bool,
    pub can_login: bool,
    pub webdav: bool,
    pub two_factor: bool,
    /// Which second factors are on ("totp, 1 passkey"); filled in where pages show it.
    pub factors: String,
    pub created: Stamp,
    pub login: Option<Stamp>,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        let display = if u.name.is_empty() { u.username.clone() } else { u.name.clone() };
        Self {
            uid: u.uid.clone(),
            username: u.username.clone(),
            name: u.name.clone(),
            initial: display.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
            display,
            email: u.email.clone(),
            role: u.role.as_str(),
            is_admin: u.is_admin(),
            super_admin: u.super_admin,
            can_login: u.can_login,
            webdav: u.webdav,
            two_factor: u.auth_method == AuthMethod::TwoFactor,
            factors: String::new(),
            created: Stamp::at(u.created_at),
            login: u.login_at.map(Stamp::at),
        }
    }
}

/// A point in time: machine-readable for `<time datetime>` (the script shows it in the
/// reader's time zone) and readable without the script.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub iso: String,
    pub text: String,
}

impl Stamp {
    pub fn at(t: UnixTime) -> Self {
        let iso = rfc3339(t);
        let text = match (iso.get(..10), iso.get(11..16)) {
            (Some(day), Some(clock)) => format!("{day} {clock} UTC"),
            _ => iso.clone(),
        };
        Self { iso, text }
    }
}

/// A session or app password in a list.
#[derive(Debug, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub scope_label: String,
    pub created: Stamp,
    pub last_active: Stamp,
    pub expires: Option<Stamp>,
    pub ip: String,
    pub agent: String,
    pub user_agent: String,
    pub current: bool,
    /// An app password's folder limit (`/originals/alice/`), if it has one.
    pub folder: Option<String>,
    /// Its access there ("Add only", …), with `folder`.
    pub access: Option<&'static str>,
}

impl SessionRow {
    pub fn new(s: &Session, current_id: &str) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            scope: s.scope.clone(),
            scope_label: scope_label(&s.scope),
            created: Stamp::at(s.created_at),
            last_active: Stamp::at(s.last_active),
            expires: s.expires_at.map(Stamp::at),
            ip: s.login_ip.clone(),
            agent: agent_label(&s.user_agent),
            user_agent: s.user_agent.clone(),
            current: s.id == current_id,
            folder: s.dav_limit.as_ref().map(|l| l.path.to_string()),
            access: s.dav_limit.as_ref().map(|l| access_label(l.level)),
        }
    }
}

/// A folder the visitor reaches, and how.
#[derive(Debug, Serialize)]
pub struct FolderRow {
    /// As WebDAV clients name it (`/originals/alice/`; `/` is the whole library).
    pub path: String,
    pub access: &'static str,
}

impl From<&Grant> for FolderRow {
    fn from(g: &Grant) -> Self {
        Self { path: g.path.to_string(), access: access_label(g.level) }
    }
}

/// What people read for an access level.
pub fn access_label(level: Level) -> &'static str {
    match level {
        Level::Read => "Read",
        Level::Append => "Add only",
        Level::Write => "Read and write",
    }
}

/// A security event in the list.
#[derive(Debug, Serialize)]
pub struct EventRow {
    pub time: Stamp,
    pub label: String,
    pub ip: String,
    pub agent: String,
    /// Who did it, when not the user themself (an admin, the CLI, a recovery code).
    pub by: String,
    pub detail: String,
    /// Failures and refusals stand out.
    pub warn: bool,
}

impl EventRow {
    pub fn new(e: &EventView, own_username: &str) -> Self {
        let actor = e.actor.strip_prefix("user:").unwrap_or(&e.actor);
        let by = if actor.is_empty() || actor == own_username { String::new() } else { actor.to_owned() };
        let time = time::OffsetDateTime::parse(&e.time, &time::format_description::well_known::Rfc3339)
            .map(|d| Stamp::at(d.unix_timestamp()))
            .unwrap_or_else(|_| Stamp { iso: e.time.clone(), text: e.time.clone() });
        Self {
            time,
            label: event_label(&e.event).to_owned(),
            ip: e.ip.clone(),
            agent: agent_label(&e.user_agent),
            by,
            detail: e.detail.clone(),
            warn: is_warning(&e.event),
        }
    }
}

/// The scope choices of the UI by name; other scopes show as written.
pub fn scope_label(scope: &str) -> String {
    match scope {
        "*" => "Full Access".to_owned(),
        "webdav" => "WebDAV".to_owned(),
        "metrics" => "Metrics".to_owned(),
        other => other.to_owned(),
    }
}

/// A sentence for each event kind (the stable codes of `domain::event`).
pub fn event_label(kind: &str) -> &str {
    match kind {
        "login.ok" => "Logged in",
        "login.failed" => "Failed login",
        "login.passcode_required" => "Verification code requested",
        "login.passcode_invalid" => "Invalid verification code",
        "login.throttled" => "Login attempts throttled",
        "logout" => "Logged out",
        "password.changed" => "Password changed",
        "password.reset" => "Password reset by an admin",
        "2fa.enabled" => "2FA enabled",
        "2fa.disabled" => "2FA disabled",
        "2fa.recovery_used" => "Recovery code used",
        "2fa.replay_rejected" => "Reused verification code rejected",
        "user.created" => "Account created",
        "user.updated" => "Account changed",
        "user.deleted" => "Account deleted",
        "session.revoked" => "Session revoked",
        "app_password.created" => "App password created",
        "app_password.used" => "App password used",
        "app_password.revoked" => "App password revoked",
        "basic_auth.refused" => "Account password refused (use an app password)",
        "passkey.added" => "Passkey added",
        "passkey.renamed" => "Passkey renamed",
        "passkey.removed" => "Passkey removed",
        "passkey.used" => "Passkey used",
        "passkey.refused" => "Passkey refused (possible cloned key)",
        "2fa.totp_removed" => "Authenticator app removed",
        other => other,
    }
}

fn is_warning(kind: &str) -> bool {
    matches!(
        kind,
        "login.failed"
            | "login.passcode_invalid"
            | "login.throttled"
            | "2fa.replay_rejected"
            | "2fa.disabled"
            | "2fa.recovery_used"
            | "basic_auth.refused"
            | "passkey.removed"
            | "passkey.refused"
    )
}

/// "Firefox on Linux" from a user agent string; the raw string is in the title.
pub fn agent_label(ua: &str) -> String {
    if ua.is_empty() {
        return "Unknown device".to_owned();
    }
    let browsers = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("rclone/", "rclone"),
        ("gatehouse-cli", "gatehouse CLI"),
    ];
    let systems = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = browsers.iter().find(|(k, _)| ua.contains(k)).map(|(_, v)| *v);
    let system = systems.iter().find(|(k, _)| ua.contains(k)).map(|(_, v)| *v);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_well() {
        let s = Stamp::at(1_800_000_000);
        assert_eq!(s.iso, "2027-01-15T08:00:00Z");
        assert_eq!(s.text, "2027-01-15 08:00 UTC");
    }

    #[test]
    fn agents_and_scopes_have_names() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(agent_label(chrome), "Chrome on Linux");
        assert_eq!(agent_label("curl/8.1"), "curl");
        assert_eq!(agent_label(""), "Unknown device");
        assert_eq!(scope_label("*"), "Full Access");
        assert_eq!(scope_label("webdav"), "WebDAV");
        assert_eq!(scope_label("files photos"), "files photos");
        assert_eq!(event_label("2fa.recovery_used"), "Recovery code used");
    }
}
