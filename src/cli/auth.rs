//! `gatehouse auth …`: app passwords, access tokens and sessions.

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{Format, Records};
use super::{CliError, prompt, users::find};
use crate::clock::rfc3339;
use crate::domain::access::{FolderPath, Grant, Level};
use crate::domain::session::{Session, SessionKind};
use crate::service::{Gatehouse, RequestMeta};
use crate::store::{SessionFilter, SessionStore as _, UserStore as _};

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// List sessions, app passwords and access tokens
    Ls {
        /// Only this user's
        #[arg(long, short)]
        user: Option<String>,
        /// Only this kind: web, app_password, access_token, client
        #[arg(long, short)]
        kind: Option<String>,
    },
    /// Create an app password for USER, or an access token without a user
    Add(AddArgs),
    /// Show one session
    Show { id: String },
    /// Revoke one session, app password or token
    Rm { id: String },
    /// Revoke every session, app password and token (asks unless --yes)
    Reset {
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user the app password is for; omit for an access token without a user
    pub user: Option<String>,
    /// A name, e.g. the app or device
    #[arg(long, short)]
    pub name: String,
    /// Scope: * (full access), webdav, metrics, … (space-separated)
    #[arg(long, short, default_value = "*")]
    pub scope: String,
    /// Lifetime in seconds (0 = never expires)
    #[arg(long, short, default_value_t = 0)]
    pub expires: i64,
    /// Limit the app password to this folder on WebDAV, e.g. /originals/alice/phone/
    /// [default with --access: /, all its owner reaches]
    #[arg(long)]
    pub path: Option<String>,
    /// Limit what the app password may do on WebDAV: read, append (add new files and
    /// folders, never change what exists) or write [default with --path: write]
    #[arg(long, value_parser = parse_level)]
    pub access: Option<Level>,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(&s.to_ascii_lowercase()).ok_or_else(|| "access must be read, append or write".into())
}

/// The folder limit `--path` and `--access` ask for, if either is given.
fn limit_of(path: Option<&str>, access: Option<Level>) -> Result<Option<Grant>, CliError> {
    if path.is_none() && access.is_none() {
        return Ok(None);
    }
    let path = path.unwrap_or("/");
    let folder = FolderPath::parse(path).map_err(|e| CliError(format!("--path {path:?}: {e}")))?;
    Ok(Some(Grant::new(folder, access.unwrap_or(Level::Write))))
}

const HEADERS: &[&str] =
    &["ID", "User", "Kind", "Name", "Scope", "Folder", "Access", "Created", "Last Active", "Expires", "Client"];

async fn rows(app: &Gatehouse, sessions: &[Session]) -> Result<Vec<Vec<String>>, CliError> {
    let mut out = Vec::with_capacity(sessions.len());
    for s in sessions {
        let user = match &s.user_uid {
            Some(uid) => app.store.user_by_uid(uid).await?.map(|u| u.username).unwrap_or_default(),
            None => String::new(),
        };
        out.push(vec![
            s.id.clone(),
            user,
            s.kind.as_str().to_owned(),
            s.name.clone(),
            s.scope.clone(),
            s.dav_limit.as_ref().map(|l| l.path.to_string()).unwrap_or_default(),
            s.dav_limit.as_ref().map(|l| l.level.as_str().to_owned()).unwrap_or_default(),
            rfc3339(s.created_at),
            rfc3339(s.last_active),
            s.expires_at.map_or_else(|| "never".to_owned(), rfc3339),
            s.client_id.clone().unwrap_or_default(),
        ]);
    }
    Ok(out)
}

pub async fn run(app: &Gatehouse, cmd: AuthCommand, format: Format) -> Result<(), CliError> {
    let meta = RequestMeta::local();
    match cmd {
        AuthCommand::Ls { user, kind } => {
            let uid = match user {
                Some(name) => Some(find(app, &name).await?.uid),
                None => None,
            };
            let kind =
                match kind.as_deref() {
                    None => None,
                    Some(k) => Some(SessionKind::parse(k).ok_or_else(|| {
                        CliError("kind must be one of web, app_password, access_token, client".into())
                    })?),
                };
            let filter = SessionFilter { user_uid: uid.as_deref(), client_id: None, kind };
            let now = app.now();
            let list: Vec<Session> =
                app.store.list_sessions(&filter).await?.into_iter().filter(|s| s.is_live(now)).collect();
            let views: Vec<_> = list.iter().map(|s| s.view(None)).collect();
            format.print(&Records { headers: HEADERS, rows: rows(app, &list).await? }, &views);
        }
        AuthCommand::Add(a) => {
            let limit = limit_of(a.path.as_deref(), a.access)?;
            let issued = match &a.user {
                Some(name) => {
                    let user = find(app, name).await?;
                    app.create_app_password(&user, &a.name, &a.scope, limit, a.expires, "cli", &meta).await?
                }
                None if limit.is_some() => {
                    return Err(CliError("--path and --access limit an app password: name its USER".into()));
                }
                None => app.create_access_token(&a.name, &a.scope, a.expires, &meta).await?,
            };
            let secret_label = if a.user.is_some() { "App Password" } else { "Access Token" };
            let mut headers = HEADERS.to_vec();
            headers.push(secret_label);
            let mut row = rows(app, std::slice::from_ref(&issued.session)).await?;
            if let Some(r) = row.first_mut() {
                r.push(issued.secret.clone());
            }
            let mut j = issued.json();
            if let Some(obj) = j.as_object_mut() {
                obj.insert("user".into(), json!(a.user));
                let view = issued.session.view(None);
                obj.insert("folder".into(), json!(view.folder));
                obj.insert("access".into(), json!(view.access));
            }
            format.print(&Records { headers: &headers, rows: row }, &j);
        }
        AuthCommand::Show { id } => {
            let s = app.store.session_by_id(&id).await?.ok_or_else(|| CliError(format!("session {id:?} not found")))?;
            format
                .print(&Records { headers: HEADERS, rows: rows(app, std::slice::from_ref(&s)).await? }, &s.view(None));
        }
        AuthCommand::Rm { id } => {
            if !app.store.delete_session(&id).await? {
                return Err(CliError(format!("session {id:?} not found")));
            }
            print_status(format, "revoked", &id);
        }
        AuthCommand::Reset { yes } => {
            if !yes && !prompt::confirm("Revoke every session, app password and access token?")? {
                return Err(CliError("nothing revoked (confirm with --yes)".into()));
            }
            let n = app.revoke_all_sessions().await?;
            print_status(format, "revoked", &format!("{n} sessions"));
        }
    }
    Ok(())
}

pub fn print_status(format: Format, status: &str, what: &str) {
    if format == Format::Json {
        println!("{}", json!({ "status": status, "id": what }));
    } else {
        println!("{status} {what}");
    }
}
