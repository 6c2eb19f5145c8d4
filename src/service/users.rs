//! Account management: create, change, delete, set passwords, bootstrap the first admin.

use super::{Gatehouse, RequestMeta, ServiceError};
use crate::domain::event::EventKind;
use crate::domain::lifecycle::Event;
use crate::domain::password::{self, NewPassword};
use crate::domain::policy::{self, Actor, PolicyError, UserPatch};
use crate::domain::random;
use crate::domain::user::{AuthMethod, Role, User, Username, parse_display_name, parse_email};
use crate::store::{SessionStore as _, SessionsEnded, UserChange, UserStore as _};

/// A password change as asked for: by the user (with the old password) or as an
/// admin's reset (without).
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub old_password: Option<&'a str>,
    pub new_password: &'a str,
    /// The caller's own session, kept when users change their own password.
    pub keep_session: Option<&'a str>,
    /// An explicit choice about app passwords (`Some(true)` revokes them); `None`
    /// takes the default of [`password::revokes_app_passwords`].
    pub revoke_app_passwords: Option<bool>,
    /// An admin's reset only: keep the account's second factors (by default a reset
    /// removes them, with any passkey an intruder registered). Own changes keep them.
    pub keep_2fa: bool,
}

/// A new account as requested by an admin or the CLI.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub super_admin: bool,
    pub can_login: bool,
    pub webdav: bool,
    /// The home folder, relative to the library roots (`/`: the whole library); `None`
    /// for the default, a folder named after the account.
    pub home: Option<String>,
}

impl Gatehouse {
    /// Creates an account. Only admins (or the operator) may.
    pub async fn create_user(&self, actor: Actor<'_>, new: NewUser, meta: &RequestMeta) -> Result<User, ServiceError> {
        if let Actor::User(u) = actor {
            if !u.is_admin() {
                return Err(PolicyError::AdminTask("create users").into());
            }
            if new.super_admin && !u.super_admin {
                return Err(PolicyError::SuperAdminOnly.into());
            }
        }
        let username = Username::parse(&new.username)?;
        let password = NewPassword::parse(&new.password, username.as_str())?;
        let name = parse_display_name(&new.name)?;
        let email = parse_email(&new.email)?;
        let homes = crate::domain::access::home_grants(new.home.as_deref().unwrap_or(username.as_str()))
            .map_err(|e| ServiceError::Invalid(format!("home: {e}")))?;
        let now = self.now();
        let user = User {
            uid: random::public_id("u", 15)?,
            username: username.as_str().to_owned(),
            name,
            email,
            role: new.role,
            super_admin: new.super_admin,
            can_login: new.can_login,
            webdav: new.webdav,
            auth_method: AuthMethod::Default,
            password_hash: self.hasher.hash(password.expose()).await?,
            created_at: now,
            updated_at: now,
            login_at: None,
        };
        self.store.create_user(&user, &homes).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Conflict(_) => ServiceError::Conflict(format!("username {:?} is taken", user.username)),
            other => other,
        })?;
        self.record(
            EventKind::UserCreated,
            (&user).into(),
            meta,
            &actor.label(),
            &format!("role {}", user.role.as_str()),
        )
        .await;
        Ok(user)
    }

    /// A user by uid, if `actor` may see it.
    pub async fn view_user(&self, actor: Actor<'_>, uid: &str) -> Result<User, ServiceError> {
        let user = self.store.user_by_uid(uid).await?.ok_or(ServiceError::NotFound("user"))?;
        policy::may_view(actor, &user)?;
        Ok(user)
    }

    /// Applies `patch` under the guardrails, atomically with the admin count.
    pub async fn update_user(
        &self,
        actor: Actor<'_>,
        uid: &str,
        mut patch: UserPatch,
        meta: &RequestMeta,
    ) -> Result<User, ServiceError> {
        if let Some(n) = &patch.name {
            patch.name = Some(parse_display_name(n)?);
        }
        if let Some(e) = &patch.email {
            patch.email = Some(parse_email(e)?);
        }
        let mut before = None;
        let updated = self
            .store
            .change_user(uid, self.now(), |current, admins| {
                before = Some(current.clone());
                policy::apply_patch(actor, current, &patch, admins).map(UserChange::Update)
            })
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        if let Some(before) = before {
            self.record_changes(actor, &before, &updated, meta).await;
        }
        Ok(updated)
    }

    async fn record_changes(&self, actor: Actor<'_>, before: &User, after: &User, meta: &RequestMeta) {
        let mut changed = Vec::new();
        for (field, differs) in [
            ("name", before.name != after.name),
            ("email", before.email != after.email),
            ("role", before.role != after.role),
            ("super_admin", before.super_admin != after.super_admin),
            ("can_login", before.can_login != after.can_login),
            ("webdav", before.webdav != after.webdav),
        ] {
            if differs {
                changed.push(field);
            }
        }
        if !changed.is_empty() {
            let detail = format!("changed {}", changed.join(", "));
            self.record(EventKind::UserUpdated, after.into(), meta, &actor.label(), &detail).await;
        }
        if before.auth_method == AuthMethod::TwoFactor && after.auth_method == AuthMethod::Default {
            let detail = format!("2FA disabled by {}", actor.label());
            self.record(EventKind::TwoFactorDisabled, after.into(), meta, &actor.label(), &detail).await;
        }
    }

    /// Soft-deletes an account and ends all its sessions.
    pub async fn delete_user(&self, actor: Actor<'_>, uid: &str, meta: &RequestMeta) -> Result<(), ServiceError> {
        let mut deleted = None;
        self.store
            .change_user(uid, self.now(), |current, admins| {
                policy::may_delete(actor, current, admins)?;
                deleted = Some(current.clone());
                Ok(UserChange::Delete)
            })
            .await?;
        let user = deleted.ok_or(ServiceError::NotFound("user"))?;
        self.record(EventKind::UserDeleted, (&user).into(), meta, &actor.label(), "").await;
        Ok(())
    }

    /// Sets a new password. Users prove the old one; a super admin may reset others'.
    ///
    /// What it ends is the lifecycle table's (`domain::lifecycle`, README "Which action
    /// ends what"): the user's own change ends their other sessions (`keep_session` is
    /// the caller's own) and keeps app passwords unless `revoke_app_passwords` is
    /// `Some(true)`; a reset by an admin or the CLI ends all of the user's sessions,
    /// revokes their app passwords unless `revoke_app_passwords` is `Some(false)` and
    /// removes their second factors unless `keep_2fa`.
    pub async fn change_password(
        &self,
        actor: Actor<'_>,
        uid: &str,
        change: PasswordChange<'_>,
        meta: &RequestMeta,
    ) -> Result<SessionsEnded, ServiceError> {
        let PasswordChange { old_password, new_password, keep_session, revoke_app_passwords, keep_2fa } = change;
        let target = self.store.user_by_uid(uid).await?.ok_or(ServiceError::NotFound("user"))?;
        let old = old_password.filter(|p| !p.is_empty());
        if policy::password_change(actor, &target, old.is_some())? {
            self.confirm_password(&target, old.unwrap_or_default(), meta).await?;
        }
        let new = NewPassword::parse(new_password, &target.username)?;
        let hash = self.hasher.hash(new.expose()).await?;
        let own = matches!(actor, Actor::User(u) if u.uid == target.uid);
        let keep = if own { keep_session } else { None };
        let revoke = password::revokes_app_passwords(own, revoke_app_passwords);
        let event = if own {
            Event::OwnPasswordChange { revoke_app_passwords: revoke }
        } else {
            Event::AdminReset { keep_2fa, keep_app_passwords: !revoke }
        };
        let ended = self.store.set_password(uid, &hash, self.now(), keep, event).await?;
        let (kind, what) = if own {
            (EventKind::PasswordChanged, "other sessions ended")
        } else {
            (EventKind::PasswordReset, "all sessions ended")
        };
        let apps = if revoke {
            format!("app passwords revoked ({})", ended.app_passwords)
        } else {
            "app passwords kept".to_owned()
        };
        let factors = if ended.second_factors_removed { ", second factors removed (2FA off)" } else { "" };
        let detail = format!("{what} ({}), {apps}{factors}", ended.sessions);
        self.record(kind, (&target).into(), meta, &actor.label(), &detail).await;
        if ended.second_factors_removed {
            let detail = format!("2FA disabled by the password reset of {}", actor.label());
            self.record(EventKind::TwoFactorDisabled, (&target).into(), meta, &actor.label(), &detail).await;
        }
        Ok(ended)
    }

    /// On a database without users, creates `admin` (super admin, WebDAV allowed) with
    /// `password`, or with a generated one that is returned so it can be shown once.
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<Option<String>, ServiceError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = match password {
            Some(p) => p,
            None => random::string_from(b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 20)?,
        };
        let new = NewUser {
            username: "admin".to_owned(),
            password: password.clone(),
            name: "Admin".to_owned(),
            email: String::new(),
            role: Role::Admin,
            super_admin: true,
            can_login: true,
            webdav: true,
            home: None,
        };
        match self.create_user(Actor::Operator, new, &RequestMeta::local()).await {
            Ok(_) => Ok(generated.then_some(password)),
            // Another instance bootstrapped at the same moment.
            Err(ServiceError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends one of `uid`'s sessions, if `actor` may see that user.
    pub async fn revoke_user_session(
        &self,
        actor: Actor<'_>,
        uid: &str,
        session_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), ServiceError> {
        let user = self.view_user(actor, uid).await?;
        let session = self
            .store
            .session_by_id(session_id)
            .await?
            .filter(|s| s.user_uid.as_deref() == Some(uid))
            .ok_or(ServiceError::NotFound("session"))?;
        self.store.delete_session(&session.id).await?;
        let kind = if session.kind == crate::domain::session::SessionKind::AppPassword {
            EventKind::AppPasswordRevoked
        } else {
            EventKind::SessionRevoked
        };
        self.record(kind, (&user).into(), meta, &actor.label(), &session.name).await;
        Ok(())
    }
}
