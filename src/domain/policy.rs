//! Who may change what about an account: the guardrails of docs/design.md, "Users", in one place.
//!
//! These functions decide; the store applies the decision inside the same transaction
//! that counted the admins, so two admins demoting each other cannot both succeed.

use super::user::{AuthMethod, Role, User};

/// A refused change, with the reason shown to the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("you may only view and change your own account")]
    NotYourAccount,
    #[error("only admins may change this field")]
    AdminOnly(&'static str),
    /// An admin's task other than changing a field (`list users`, `create users`, …).
    #[error("only admins may {0}")]
    AdminTask(&'static str),
    #[error("only a super admin may do this")]
    SuperAdminOnly,
    #[error("the last admin cannot be demoted, disabled or deleted")]
    LastAdmin,
    #[error("you cannot lock yourself out of your own account")]
    SelfLockout,
    #[error("two-factor authentication can only be enabled by the user, through the setup steps")]
    TwoFactorSetupOnly,
    #[error("the current password is required")]
    OldPasswordRequired,
    #[error("second factors (authenticator app, passkeys) can only be managed by the account holder")]
    HolderOnly,
}

/// What a caller may do with a WebDAV lock it names by token (RFC 4918 §9.11: a server
/// may refuse to let anyone but the lock's creator remove it). A lock belongs to the
/// principal who took it; only an admin may break another's lock, and only by UNLOCK
/// — never write through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockUse {
    /// UNLOCK.
    Remove,
    /// A lock refresh, or a write that submits the token.
    Use,
}

/// Whether `caller` may use (or remove) a lock owned by `owner` (a user's uid).
pub fn may_use_lock(caller: &User, owner: Option<&str>, how: LockUse) -> bool {
    owner == Some(caller.uid.as_str()) || (how == LockUse::Remove && caller.is_admin())
}

/// A requested change of account fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub super_admin: Option<bool>,
    pub can_login: Option<bool>,
    pub webdav: Option<bool>,
    pub auth_method: Option<AuthMethod>,
}

/// Who is asking: a user, or the operator at the server's command line (who owns the
/// database anyway and is trusted with everything but the guardrails).
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    User(&'a User),
    Operator,
}

impl Actor<'_> {
    fn is_admin(&self) -> bool {
        match self {
            Actor::User(u) => u.is_admin(),
            Actor::Operator => true,
        }
    }

    fn is_super_admin(&self) -> bool {
        match self {
            Actor::User(u) => u.is_admin() && u.super_admin,
            Actor::Operator => true,
        }
    }

    fn is(&self, target: &User) -> bool {
        matches!(self, Actor::User(u) if u.uid == target.uid)
    }

    /// How events name this actor.
    pub fn label(&self) -> String {
        match self {
            Actor::User(u) => format!("user:{}", u.username),
            Actor::Operator => "cli".to_owned(),
        }
    }
}

/// May `actor` change who reaches which folders (homes, shares)? Only admins: a grant
/// is a say over other people's files.
pub fn may_change_grants(actor: Actor<'_>) -> Result<(), PolicyError> {
    if actor.is_admin() { Ok(()) } else { Err(PolicyError::AdminTask("share folders or move homes")) }
}

/// May `caller` set up, list, rename or remove the second factors (TOTP, passkeys) of
/// the account `uid`? Only its holder: an admin may switch 2FA off for someone
/// ([`UserPatch`]), never enrol or read their factors.
pub fn may_manage_second_factors(caller: &User, uid: &str) -> Result<(), PolicyError> {
    if caller.uid == uid { Ok(()) } else { Err(PolicyError::HolderOnly) }
}

/// May `actor` read `target`'s record, sessions and events?
pub fn may_view(actor: Actor<'_>, target: &User) -> Result<(), PolicyError> {
    if actor.is_admin() || actor.is(target) { Ok(()) } else { Err(PolicyError::NotYourAccount) }
}

/// Applies `patch` to `target` if allowed. `active_admins` counts admins who can log in,
/// `target` included. Returns the changed user.
pub fn apply_patch(
    actor: Actor<'_>,
    target: &User,
    patch: &UserPatch,
    active_admins: i64,
) -> Result<User, PolicyError> {
    may_view(actor, target)?;
    let mut next = target.clone();
    if let Some(n) = &patch.name {
        next.name.clone_from(n);
    }
    if let Some(e) = &patch.email {
        next.email.clone_from(e);
    }
    let privileged = [
        ("role", patch.role.is_some_and(|r| r != target.role)),
        ("super_admin", patch.super_admin.is_some_and(|v| v != target.super_admin)),
        ("can_login", patch.can_login.is_some_and(|v| v != target.can_login)),
        ("webdav", patch.webdav.is_some_and(|v| v != target.webdav)),
        ("auth_method", patch.auth_method.is_some_and(|v| v != target.auth_method)),
    ];
    if let Some((field, _)) = privileged.iter().find(|(_, changed)| *changed) {
        if !actor.is_admin() {
            return Err(PolicyError::AdminOnly(field));
        }
        if target.super_admin && !actor.is_super_admin() {
            return Err(PolicyError::SuperAdminOnly);
        }
    }
    if patch.super_admin.is_some_and(|v| v != target.super_admin) && !actor.is_super_admin() {
        return Err(PolicyError::SuperAdminOnly);
    }
    if patch.auth_method == Some(AuthMethod::TwoFactor) && target.auth_method != AuthMethod::TwoFactor {
        return Err(PolicyError::TwoFactorSetupOnly);
    }
    next.role = patch.role.unwrap_or(target.role);
    next.super_admin = patch.super_admin.unwrap_or(target.super_admin);
    next.can_login = patch.can_login.unwrap_or(target.can_login);
    next.webdav = patch.webdav.unwrap_or(target.webdav);
    next.auth_method = patch.auth_method.unwrap_or(target.auth_method);
    if actor.is(target) && target.is_active_admin() && !next.is_active_admin() {
        return Err(PolicyError::SelfLockout);
    }
    if target.is_active_admin() && !next.is_active_admin() && active_admins <= 1 {
        return Err(PolicyError::LastAdmin);
    }
    Ok(next)
}

/// May `actor` delete `target`?
pub fn may_delete(actor: Actor<'_>, target: &User, active_admins: i64) -> Result<(), PolicyError> {
    if !actor.is_admin() {
        return Err(PolicyError::AdminTask("delete users"));
    }
    if actor.is(target) {
        return Err(PolicyError::SelfLockout);
    }
    if target.super_admin && !actor.is_super_admin() {
        return Err(PolicyError::SuperAdminOnly);
    }
    if target.is_active_admin() && active_admins <= 1 {
        return Err(PolicyError::LastAdmin);
    }
    Ok(())
}

/// May `actor` set `target`'s password, and must they prove the old one? Returns whether
/// the old password has to be checked. Only a super admin may skip it, and only for
/// someone else (docs/design.md, "Users").
pub fn password_change(actor: Actor<'_>, target: &User, old_password_given: bool) -> Result<bool, PolicyError> {
    if actor.is(target) {
        return if old_password_given { Ok(true) } else { Err(PolicyError::OldPasswordRequired) };
    }
    if !actor.is_admin() {
        return Err(PolicyError::NotYourAccount);
    }
    if !actor.is_super_admin() {
        return Err(PolicyError::SuperAdminOnly);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: &str, role: Role, super_admin: bool) -> User {
        User {
            uid: uid.into(),
            username: uid.into(),
            name: String::new(),
            email: String::new(),
            role,
            super_admin,
            can_login: true,
            webdav: false,
            auth_method: AuthMethod::Default,
            password_hash: String::new(),
            created_at: 0,
            updated_at: 0,
            login_at: None,
        }
    }

    #[test]
    fn users_edit_only_their_own_name_and_email() {
        let bob = user("bob", Role::User, false);
        let carol = user("carol", Role::User, false);
        let patch = UserPatch { name: Some("Bob".into()), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&bob), &bob, &patch, 1).map(|u| u.name), Ok("Bob".into()));
        assert_eq!(apply_patch(Actor::User(&bob), &carol, &patch, 1), Err(PolicyError::NotYourAccount));
        let promote = UserPatch { role: Some(Role::Admin), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&bob), &bob, &promote, 1), Err(PolicyError::AdminOnly("role")));
        let same = UserPatch { role: Some(Role::User), webdav: Some(false), ..Default::default() };
        assert!(apply_patch(Actor::User(&bob), &bob, &same, 1).is_ok());
    }

    #[test]
    fn second_factors_are_the_holders_alone() {
        let bob = user("bob", Role::User, false);
        let root = user("root", Role::Admin, true);
        assert_eq!(may_manage_second_factors(&bob, &bob.uid), Ok(()));
        assert_eq!(may_manage_second_factors(&root, &bob.uid), Err(PolicyError::HolderOnly));
        assert_eq!(may_manage_second_factors(&bob, &root.uid), Err(PolicyError::HolderOnly));
    }

    #[test]
    fn last_admin_is_protected() {
        let root = user("root", Role::Admin, true);
        let other = user("other", Role::Admin, false);
        let demote = UserPatch { role: Some(Role::User), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&root), &other, &demote, 1), Err(PolicyError::LastAdmin));
        assert!(apply_patch(Actor::User(&root), &other, &demote, 2).is_ok());
        assert_eq!(apply_patch(Actor::Operator, &root, &demote, 1), Err(PolicyError::LastAdmin));
        assert_eq!(may_delete(Actor::Operator, &root, 1), Err(PolicyError::LastAdmin));
    }

    #[test]
    fn admins_cannot_lock_themselves_out() {
        let root = user("root", Role::Admin, true);
        let off = UserPatch { can_login: Some(false), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&root), &root, &off, 5), Err(PolicyError::SelfLockout));
        assert_eq!(may_delete(Actor::User(&root), &root, 5), Err(PolicyError::SelfLockout));
    }

    #[test]
    fn super_admin_flag_needs_a_super_admin() {
        let admin = user("a", Role::Admin, false);
        let bob = user("bob", Role::User, false);
        let patch = UserPatch { super_admin: Some(true), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&admin), &bob, &patch, 2), Err(PolicyError::SuperAdminOnly));
    }

    #[test]
    fn plain_admins_cannot_touch_super_admins() {
        let sup = user("s", Role::Admin, true);
        let adm = user("a", Role::Admin, false);
        let demote = UserPatch { role: Some(Role::User), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&adm), &sup, &demote, 2), Err(PolicyError::SuperAdminOnly));
        assert_eq!(may_delete(Actor::User(&adm), &sup, 2), Err(PolicyError::SuperAdminOnly));
        assert!(apply_patch(Actor::User(&sup), &adm, &demote, 2).is_ok());
    }

    #[test]
    fn two_factor_cannot_be_switched_on_by_patch() {
        let admin = user("a", Role::Admin, true);
        let bob = user("bob", Role::User, false);
        let patch = UserPatch { auth_method: Some(AuthMethod::TwoFactor), ..Default::default() };
        assert_eq!(apply_patch(Actor::User(&admin), &bob, &patch, 2), Err(PolicyError::TwoFactorSetupOnly));
    }

    #[test]
    fn password_change_rules() {
        let sup = user("s", Role::Admin, true);
        let adm = user("a", Role::Admin, false);
        let bob = user("bob", Role::User, false);
        assert_eq!(password_change(Actor::User(&bob), &bob, true), Ok(true));
        assert_eq!(password_change(Actor::User(&bob), &bob, false), Err(PolicyError::OldPasswordRequired));
        assert_eq!(password_change(Actor::User(&sup), &sup, false), Err(PolicyError::OldPasswordRequired));
        assert_eq!(password_change(Actor::User(&sup), &bob, false), Ok(false));
        assert_eq!(password_change(Actor::User(&adm), &bob, false), Err(PolicyError::SuperAdminOnly));
        assert_eq!(password_change(Actor::User(&bob), &adm, true), Err(PolicyError::NotYourAccount));
    }
}
