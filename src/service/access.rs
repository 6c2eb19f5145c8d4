//! What each account reaches in the library (README, "Who sees which files"), and the
//! changes of it the CLI and the API make: homes, shares, app passwords' limits.
//!
//! A reach is read for every WebDAV request, so that a change of grants takes effect on
//! the very next one, on every instance. On SQLite it is kept in memory under the
//! credential epoch (every grant change moves it, `store::signal`), so a hit costs a
//! map lookup; on PostgreSQL it is one indexed query.

use std::sync::Arc;

use super::{Gatehouse, RequestMeta, ServiceError};
use crate::domain::access::{self, FolderPath, Grant, Level, MAX_GRANTS, Reach};
use crate::domain::event::EventKind;
use crate::domain::policy::{self, Actor};
use crate::domain::user::User;
use crate::store::{EpochCache, GrantStore as _, SettingsStore as _, StoredGrant, UserStore as _};

/// The setting the grants migration leaves for the log (migrations/*/0400_folder_grants.sql).
const WHOLE_LIBRARY_NOTICE: &str = "notice:whole_library_grants";

/// Accounts whose reach is kept at most.
const CAPACITY: usize = 10_000;

/// Reaches by account uid.
#[derive(Debug)]
pub struct ReachCache(EpochCache<String, Arc<Reach>>);

impl Default for ReachCache {
    fn default() -> Self {
        Self(EpochCache::new(CAPACITY))
    }
}

impl Gatehouse {
    /// What `user` reaches now, through a credential limited to `limit` (an app
    /// password's folder and level) when there is one. Admins reach the whole library.
    pub async fn reach(&self, user: &User, limit: Option<&Grant>) -> Result<Arc<Reach>, ServiceError> {
        let own = self.own_reach(user).await?;
        Ok(match limit {
            Some(limit) => Arc::new(own.narrowed(limit)),
            None => own,
        })
    }

    async fn own_reach(&self, user: &User) -> Result<Arc<Reach>, ServiceError> {
        if user.is_admin() {
            return Ok(Arc::new(Reach::whole()));
        }
        // Read before the look-up: a change committed meanwhile moves it (see `token_cache`).
        let epoch = self.store.credential_epoch();
        if let Some(hit) = epoch.and_then(|e| self.reaches.0.get(&user.uid, e)) {
            return Ok(hit);
        }
        let rows = self.store.grants_of(&user.uid).await?;
        let reach = Arc::new(Reach::of(rows.into_iter().map(|r| r.grant).collect()).simplified());
        if let Some(e) = epoch {
            self.reaches.0.put(user.uid.clone(), e, reach.clone());
        }
        Ok(reach)
    }

    /// Checks that an app password of `user` may be limited to `limit`: a folder the
    /// owner reaches at that level or more. A limit on `/` only caps the level (the app
    /// password reaches what its owner does, at most at that level; `auth add --access
    /// read` without `--path`): it is allowed when the owner holds some folder at that
    /// level, so asking for a level the owner has nowhere is refused too.
    pub async fn check_limit(&self, user: &User, limit: &Grant) -> Result<(), ServiceError> {
        let own = self.own_reach(user).await?;
        let allowed =
            if limit.path.is_root() { own.grants().iter().any(|g| g.level >= limit.level) } else { own.covers(limit) };
        if allowed {
            return Ok(());
        }
        let what = match limit.level {
            Level::Read => "read",
            Level::Append => "add files to",
            Level::Write => "change",
        };
        let place = if limit.path.is_root() { "any folder".to_owned() } else { limit.path.to_string() };
        Err(ServiceError::Invalid(format!(
            "{} cannot {what} {place}: an app password reaches at most what its account does",
            user.username
        )))
    }

    /// Every grant, or `username`'s (home rows first).
    pub async fn grants(&self, username: Option<&str>) -> Result<Vec<StoredGrant>, ServiceError> {
        match username {
            Some(name) => Ok(self.store.grants_of(&self.grant_holder(name).await?.uid).await?),
            None => Ok(self.store.all_grants().await?),
        }
    }

    /// Sets `username`'s home to `folder` (relative to the library roots; `/` for the
    /// whole library). Only admins (or the operator) may.
    pub async fn set_home(
        &self,
        actor: Actor<'_>,
        username: &str,
        folder: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<Grant>, ServiceError> {
        policy::may_change_grants(actor)?;
        let homes = access::home_grants(folder).map_err(|e| ServiceError::Invalid(format!("home: {e}")))?;
        let user = self.grant_holder(username).await?;
        self.store.set_home(&user.uid, &homes, self.now()).await?;
        let detail = homes.iter().map(|g| g.path.to_string()).collect::<Vec<_>>().join(", ");
        self.record(EventKind::HomeChanged, (&user).into(), meta, &actor.label(), &format!("home {detail}")).await;
        Ok(homes)
    }

    /// Shares the folder `path` with `username` at `level` (read or write), or changes
    /// the level of a grant on that folder. Only admins (or the operator) may.
    pub async fn share_folder(
        &self,
        actor: Actor<'_>,
        path: &str,
        username: &str,
        level: Level,
        meta: &RequestMeta,
    ) -> Result<Grant, ServiceError> {
        policy::may_change_grants(actor)?;
        let path = parse_folder(path)?;
        if level == Level::Append {
            return Err(ServiceError::Invalid("a folder is shared with read or write access".into()));
        }
        let user = self.grant_holder(username).await?;
        let held = self.store.grants_of(&user.uid).await?;
        let shares = held.iter().filter(|g| !g.home && g.grant.path != path).count();
        if shares >= MAX_GRANTS {
            return Err(ServiceError::Invalid(format!("{username} already has {MAX_GRANTS} shared folders")));
        }
        let grant = Grant::new(path, level);
        self.store.share(&user.uid, &grant, self.now()).await?;
        let detail = format!("{} {}", grant.path, grant.level);
        self.record(EventKind::FolderShared, (&user).into(), meta, &actor.label(), &detail).await;
        Ok(grant)
    }

    /// Takes back `username`'s grant on `path` (a share, or one of its home rows). Only
    /// admins (or the operator) may.
    pub async fn unshare_folder(
        &self,
        actor: Actor<'_>,
        path: &str,
        username: &str,
        meta: &RequestMeta,
    ) -> Result<(), ServiceError> {
        policy::may_change_grants(actor)?;
        let path = parse_folder(path)?;
        let user = self.grant_holder(username).await?;
        if !self.store.unshare(&user.uid, &path).await? {
            return Err(ServiceError::NotFound("grant"));
        }
        self.record(EventKind::FolderUnshared, (&user).into(), meta, &actor.label(), &path.to_string()).await;
        Ok(())
    }

    /// Says once, in the log, what an upgrade decided for existing accounts.
    pub async fn say_upgrade_notices(&self) {
        match self.store.take_setting(WHOLE_LIBRARY_NOTICE).await {
            Ok(Some(n)) => tracing::warn!(
                accounts = %n,
                "folder grants are new in this version: every existing account with WebDAV keeps the whole \
                 library (home /); narrow one with `gatehouse users mod NAME --home NAME` (README, \"Upgrading\")"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the upgrade notices"),
        }
    }

    async fn grant_holder(&self, username: &str) -> Result<User, ServiceError> {
        self.store.user_by_name(username).await?.ok_or(ServiceError::NotFound("user"))
    }
}

/// A folder path as the CLI and the API take it (`/originals/family/`).
pub fn parse_folder(path: &str) -> Result<FolderPath, ServiceError> {
    FolderPath::parse(path).map_err(|e| ServiceError::Invalid(e.to_string()))
}
