//! `gatehouse folders …`: who reaches which folders of the library (README, "Who sees
//! which files"). Homes are set with `users add|mod --home`; this shares other folders
//! and lists both.

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use super::CliError;
use super::output::{Format, Records};
use super::users::find;
use crate::domain::access::{self, FolderPath, Level};
use crate::domain::policy::Actor;
use crate::service::{Gatehouse, RequestMeta, ServiceError};
use crate::store::StoredGrant;

#[derive(Debug, Subcommand)]
pub enum FoldersCommand {
    /// Share a folder of the library with a user, or change the access of a share
    Share {
        /// The folder, e.g. /originals/family/ (/ for the whole library)
        path: String,
        username: String,
        /// read (list and download) or write (everything)
        #[arg(long, short, value_parser = parse_share_level)]
        access: Level,
    },
    /// Take back a user's grant on a folder (a share, or one of their home folders)
    Unshare { path: String, username: String },
    /// List the grants (homes and shared folders) of every account, or of USERNAME
    Ls { username: Option<String> },
}

/// A shared folder's level: `append` is for app passwords only (`auth add --access`).
fn parse_share_level(s: &str) -> Result<Level, String> {
    match Level::parse(&s.to_ascii_lowercase()) {
        Some(level @ (Level::Read | Level::Write)) => Ok(level),
        Some(Level::Append) => {
            Err("a folder is shared with read or write access (append is for app passwords: auth add --access)".into())
        }
        None => Err("access must be read or write".into()),
    }
}

/// One grant as `folders ls` prints it and as `--json` names it.
#[derive(Debug, Serialize)]
struct GrantView {
    username: String,
    folder: String,
    access: &'static str,
    /// `home` or `shared`.
    kind: &'static str,
}

impl From<&StoredGrant> for GrantView {
    fn from(g: &StoredGrant) -> Self {
        GrantView {
            username: g.username.clone(),
            folder: g.grant.path.to_string(),
            access: g.grant.level.as_str(),
            kind: if g.home { "home" } else { "shared" },
        }
    }
}

const HEADERS: &[&str] = &["Username", "Folder", "Access", "Kind"];

fn print_grants(format: Format, grants: &[StoredGrant]) {
    let views: Vec<GrantView> = grants.iter().map(GrantView::from).collect();
    let rows =
        views.iter().map(|v| vec![v.username.clone(), v.folder.clone(), v.access.into(), v.kind.into()]).collect();
    format.print(&Records { headers: HEADERS, rows }, &views);
}

pub async fn run(app: &Gatehouse, cmd: FoldersCommand, format: Format) -> Result<(), CliError> {
    let meta = RequestMeta::local();
    match cmd {
        FoldersCommand::Share { path, username, access } => {
            let folder = folder(&path)?;
            let user = find(app, &username).await?;
            let grant = app.share_folder(Actor::Operator, folder.as_str(), &user.username, access, &meta).await?;
            if !user.webdav && !user.is_admin() {
                eprintln!(
                    "note: {} may not use WebDAV yet (gatehouse users mod {} --webdav)",
                    user.username, user.username
                );
            }
            // The stored row: a share on one of the home folders stays a home row.
            let held = app.grants(Some(&user.username)).await?;
            let row: Vec<StoredGrant> = held.into_iter().filter(|g| g.grant.path == grant.path).collect();
            if format == Format::Json {
                let view = row.first().map(GrantView::from);
                println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
            } else {
                print_grants(format, &row);
            }
        }
        FoldersCommand::Unshare { path, username } => {
            let folder = folder(&path)?;
            let user = find(app, &username).await?;
            match app.unshare_folder(Actor::Operator, folder.as_str(), &user.username, &meta).await {
                Ok(()) => {}
                Err(ServiceError::NotFound("grant")) => {
                    return Err(CliError(format!(
                        "{} has no grant on {folder} (see gatehouse folders ls {})",
                        user.username, user.username
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            if format == Format::Json {
                println!(
                    "{}",
                    json!({ "status": "unshared", "username": user.username, "folder": folder.to_string() })
                );
            } else {
                println!("unshared {folder} from {}", user.username);
            }
        }
        FoldersCommand::Ls { username } => {
            let grants = match username {
                Some(name) => app.grants(Some(&find(app, &name).await?.username)).await?,
                None => app.grants(None).await?,
            };
            print_grants(format, &grants);
        }
    }
    Ok(())
}

/// A folder path as given on the command line, with the reason when it is refused.
fn folder(path: &str) -> Result<FolderPath, CliError> {
    FolderPath::parse(path).map_err(|e| CliError(format!("{path:?}: {e}")))
}

/// Checks a `--home` folder before anything is written.
pub fn check_home(folder: &str) -> Result<(), CliError> {
    access::home_grants(folder).map(|_| ()).map_err(|e| CliError(format!("--home {folder:?}: {e}")))
}

/// An account's home as `--home` takes it (`alice`, `family/alice`, `/`), from its home
/// rows; the rows themselves when they are no longer one folder in each library (one
/// was unshared); empty when there are none.
pub fn describe_home(grants: &[StoredGrant]) -> String {
    let homes: Vec<&FolderPath> = grants.iter().filter(|g| g.home).map(|g| &g.grant.path).collect();
    let relative = homes.first().map(|p| {
        let mut segs = p.segments();
        segs.next();
        segs.collect::<Vec<_>>().join("/")
    });
    if let Some(rel) = relative {
        let folder = if rel.is_empty() { "/".to_owned() } else { rel };
        let mut expected: Vec<FolderPath> =
            access::home_grants(&folder).unwrap_or_default().into_iter().map(|g| g.path).collect();
        let mut held: Vec<FolderPath> = homes.iter().map(|p| (*p).clone()).collect();
        expected.sort();
        held.sort();
        if expected == held {
            return folder;
        }
    }
    homes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}
