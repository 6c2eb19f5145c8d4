//! `gatehouse users …` and `gatehouse passwd`.

use std::collections::HashMap;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{Format, Records, yes_no};
use super::{CliError, folders, prompt};
use crate::clock::rfc3339;
use crate::domain::password::NewPassword;
use crate::domain::policy::{Actor, UserPatch};
use crate::domain::user::{AuthMethod, Role, User, parse_display_name, parse_email};
use crate::service::users::{NewUser, PasswordChange};
use crate::service::{Gatehouse, RequestMeta};
use crate::store::{FactorStore as _, Factors, GrantStore as _, StoredGrant, UserStore as _};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List accounts
    Ls {
        /// Only accounts whose name, login or email contains this
        #[arg(long, short)]
        query: Option<String>,
    },
    /// Create an account
    Add(AddArgs),
    /// Show one account
    Show { username: String },
    /// Change an account
    Mod(ModArgs),
    /// Delete an account (asks for confirmation unless --yes)
    Rm {
        username: String,
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub username: String,
    #[arg(long, short)]
    pub name: Option<String>,
    #[arg(long, short)]
    pub email: Option<String>,
    /// Initial password (asked for without echo when omitted)
    #[arg(long, short)]
    pub password: Option<String>,
    #[arg(long, short, default_value = "user", value_parser = parse_role)]
    pub role: Role,
    /// Make the account a super admin
    #[arg(long)]
    pub superadmin: bool,
    /// Disallow web login
    #[arg(long)]
    pub no_login: bool,
    /// Allow WebDAV sync
    #[arg(long)]
    pub webdav: bool,
    /// Home folder, relative to the library roots: FOLDER is /originals/FOLDER/ and
    /// /import/FOLDER/; / is the whole library [default: the username]
    #[arg(long)]
    pub home: Option<String>,
}

#[derive(Debug, Args)]
pub struct ModArgs {
    pub username: String,
    #[arg(long, short)]
    pub name: Option<String>,
    #[arg(long, short)]
    pub email: Option<String>,
    /// New password: ends all of the user's sessions and revokes their app passwords
    #[arg(long, short)]
    pub password: Option<String>,
    /// With --password: keep the user's app passwords
    #[arg(long, requires = "password")]
    pub keep_app_passwords: bool,
    /// With --password: keep the user's second factors (passkeys, authenticator app).
    /// Risky for a compromised account: a passkey an intruder registered keeps signing in
    #[arg(long = "keep-2fa", requires = "password")]
    pub keep_2fa: bool,
    #[arg(long, short, value_parser = parse_role)]
    pub role: Option<Role>,
    /// Make the account a super admin
    #[arg(long, conflicts_with = "no_superadmin")]
    pub superadmin: bool,
    /// Remove super admin rights
    #[arg(long)]
    pub no_superadmin: bool,
    /// Disallow login
    #[arg(long, conflicts_with = "can_login")]
    pub no_login: bool,
    /// Allow login again
    #[arg(long)]
    pub can_login: bool,
    /// Allow WebDAV sync
    #[arg(long, conflicts_with = "no_webdav")]
    pub webdav: bool,
    /// Disallow WebDAV sync
    #[arg(long)]
    pub no_webdav: bool,
    /// Move the home folder (relative to the library roots; / is the whole library).
    /// Takes effect on the user's next request; files are not moved
    #[arg(long)]
    pub home: Option<String>,
    /// Remove the user's authenticator (2FA) and recovery code
    #[arg(long)]
    pub disable_2fa: bool,
}

/// Sets a user's password as an account recovery: ends all of the user's sessions,
/// revokes their app passwords (unless --keep-app-passwords) and removes their second
/// factors (unless --keep-2fa).
#[derive(Debug, Args)]
pub struct PasswdArgs {
    pub username: String,
    /// The new password (asked for without echo when omitted; read from stdin when piped)
    #[arg(long, short)]
    pub password: Option<String>,
    /// Keep the user's app passwords (by default they are revoked with all sessions)
    #[arg(long)]
    pub keep_app_passwords: bool,
    /// Keep the user's second factors (by default a reset removes passkeys, the
    /// authenticator app and the recovery code). Risky for a compromised account: a
    /// passkey an intruder registered keeps signing in without any password
    #[arg(long = "keep-2fa")]
    pub keep_2fa: bool,
}

/// The operator's reset to `password`: app passwords are revoked unless `keep_apps`,
/// second factors removed unless `keep_2fa`.
fn reset(password: &str, keep_apps: bool, keep_2fa: bool) -> PasswordChange<'_> {
    PasswordChange {
        old_password: None,
        new_password: password,
        keep_session: None,
        revoke_app_passwords: keep_apps.then_some(false),
        keep_2fa,
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(&s.to_ascii_lowercase()).map_err(|e| e.to_string())
}

fn flag(on: bool, off: bool) -> Option<bool> {
    if on {
        Some(true)
    } else if off {
        Some(false)
    } else {
        None
    }
}

const HEADERS: &[&str] =
    &["UID", "Username", "Name", "Email", "Role", "Super Admin", "Login", "WebDAV", "2FA", "Last Login", "Home"];

fn row(u: &User, factors: &Factors, home: String) -> Vec<String> {
    let two_factor = match factors.describe() {
        f if f.is_empty() || u.auth_method != AuthMethod::TwoFactor => yes_no(u.auth_method == AuthMethod::TwoFactor),
        f => format!("{} ({f})", yes_no(true)),
    };
    vec![
        u.uid.clone(),
        u.username.clone(),
        u.name.clone(),
        u.email.clone(),
        u.role.as_str().to_owned(),
        yes_no(u.super_admin),
        yes_no(u.can_login),
        yes_no(u.webdav),
        two_factor,
        u.login_at.map(rfc3339).unwrap_or_default(),
        home,
    ]
}

/// The user JSON of the API, with the home as `--home` takes it.
fn json_of(u: &User, home: &str) -> serde_json::Value {
    let mut j = serde_json::to_value(u.view()).unwrap_or_default();
    if let Some(obj) = j.as_object_mut() {
        obj.insert("home".into(), json!(home));
    }
    j
}

async fn print_user(app: &Gatehouse, format: Format, u: &User) -> Result<(), CliError> {
    let factors = app.store.factors(&u.uid).await?;
    let home = folders::describe_home(&app.store.grants_of(&u.uid).await?);
    let json = json_of(u, &home);
    format.print(&Records { headers: HEADERS, rows: vec![row(u, &factors, home)] }, &json);
    Ok(())
}

pub async fn find(app: &Gatehouse, username: &str) -> Result<User, CliError> {
    app.store.user_by_name(username).await?.ok_or_else(|| CliError(format!("user {username:?} not found")))
}

pub async fn run(app: &Gatehouse, cmd: UsersCommand, format: Format) -> Result<(), CliError> {
    let meta = RequestMeta::local();
    match cmd {
        UsersCommand::Ls { query } => {
            let users = app.store.list_users(query.as_deref()).await?;
            let factors = app.store.all_factors().await?;
            let mut grants: HashMap<String, Vec<StoredGrant>> = HashMap::new();
            for g in app.store.all_grants().await? {
                grants.entry(g.uid.clone()).or_default().push(g);
            }
            let none = Factors::default();
            let homes: Vec<String> =
                users.iter().map(|u| folders::describe_home(grants.get(&u.uid).map_or(&[], Vec::as_slice))).collect();
            let views: Vec<_> = users.iter().zip(&homes).map(|(u, h)| json_of(u, h)).collect();
            let rows = users.iter().zip(homes).map(|(u, h)| row(u, factors.get(&u.uid).unwrap_or(&none), h)).collect();
            format.print(&Records { headers: HEADERS, rows }, &views);
        }
        UsersCommand::Show { username } => print_user(app, format, &find(app, &username).await?).await?,
        UsersCommand::Add(a) => {
            if let Some(h) = &a.home {
                folders::check_home(h)?;
            }
            let password = match a.password {
                Some(p) => zeroize::Zeroizing::new(p),
                None => prompt::new_password("Password")?,
            };
            let new = NewUser {
                username: a.username,
                password: password.to_string(),
                name: a.name.unwrap_or_default(),
                email: a.email.unwrap_or_default(),
                role: a.role,
                super_admin: a.superadmin,
                can_login: !a.no_login,
                webdav: a.webdav,
                home: a.home,
            };
            let user = app.create_user(Actor::Operator, new, &meta).await?;
            print_user(app, format, &user).await?;
        }
        UsersCommand::Mod(m) => {
            let user = find(app, &m.username).await?;
            // Every flag is checked before anything is written: a password the rules
            // refuse must not leave the other changes half made.
            if let Some(p) = &m.password {
                NewPassword::parse(p, &user.username)?;
            }
            if let Some(n) = &m.name {
                parse_display_name(n)?;
            }
            if let Some(e) = &m.email {
                parse_email(e)?;
            }
            if let Some(h) = &m.home {
                folders::check_home(h)?;
            }
            let patch = UserPatch {
                name: m.name,
                email: m.email,
                role: m.role,
                super_admin: flag(m.superadmin, m.no_superadmin),
                can_login: flag(m.can_login, m.no_login),
                webdav: flag(m.webdav, m.no_webdav),
                auth_method: m.disable_2fa.then_some(AuthMethod::Default),
            };
            let mut updated = app.update_user(Actor::Operator, &user.uid, patch, &meta).await?;
            if let Some(h) = &m.home {
                app.set_home(Actor::Operator, &updated.username, h, &meta).await?;
            }
            if let Some(p) = m.password {
                app.change_password(Actor::Operator, &user.uid, reset(&p, m.keep_app_passwords, m.keep_2fa), &meta)
                    .await?;
                updated = find(app, &updated.username).await?;
            }
            print_user(app, format, &updated).await?;
        }
        UsersCommand::Rm { username, yes } => {
            let user = find(app, &username).await?;
            if !yes && !prompt::confirm(&format!("Delete user {:?}?", user.username))? {
                return Err(CliError("not deleted (confirm with --yes)".into()));
            }
            app.delete_user(Actor::Operator, &user.uid, &meta).await?;
            if format == Format::Json {
                println!("{}", json!({ "status": "deleted", "uid": user.uid, "username": user.username }));
            } else {
                println!("deleted user {}", user.username);
            }
        }
    }
    Ok(())
}

pub async fn passwd(app: &Gatehouse, args: PasswdArgs, format: Format) -> Result<(), CliError> {
    let user = find(app, &args.username).await?;
    let password = match args.password {
        Some(p) => zeroize::Zeroizing::new(p),
        None => prompt::new_password(&format!("New password for {}", user.username))?,
    };
    let change = reset(&password, args.keep_app_passwords, args.keep_2fa);
    let ended = app.change_password(Actor::Operator, &user.uid, change, &RequestMeta::local()).await?;
    if format == Format::Json {
        let reply = json!({
            "status": "password changed",
            "username": user.username,
            "sessions_ended": ended.sessions,
            "app_passwords_revoked": ended.app_passwords,
            "second_factors_removed": ended.second_factors_removed,
        });
        println!("{reply}");
    } else {
        let apps = if args.keep_app_passwords {
            "app passwords kept".to_owned()
        } else {
            format!("{} app password(s) revoked", ended.app_passwords)
        };
        let factors = if ended.second_factors_removed { ", second factors removed (2FA off)" } else { "" };
        println!("password changed for {}: {} session(s) ended, {apps}{factors}", user.username, ended.sessions);
    }
    Ok(())
}
