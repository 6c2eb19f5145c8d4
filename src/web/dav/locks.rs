//! WebDAV locks (RFC 4918 §6–7) kept in the database, so a lock taken through one
//! instance holds on every other. The conflict rules follow dav-server's own in-memory
//! lock system. A lock belongs to the user who took it ([`check_ownership`], by the
//! rule in [`crate::domain::policy::may_use_lock`]), and no one lock or user can freeze
//! the library ([`may_lock_at`]): a lock lasts at most [`MAX_TIMEOUT`] (renewable by
//! its owner), one user holds at most [`MAX_LOCKS_PER_USER`], an `<owner>` is at most
//! [`MAX_OWNER`] bytes, and only an admin locks a library root. Every look-up asks the
//! database for the locks on a path's ancestors (and for deep operations its subtree),
//! never for all of them.

use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use axum::http::StatusCode;
use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem, LsFuture};
use futures_util::FutureExt as _;
use xmltree::Element;

use super::error::DavError;
use super::library::key;
use crate::clock::Clock;
use crate::domain::policy::{LockUse, may_use_lock};
use crate::domain::user::User;
use crate::service::Gatehouse;
use crate::store::{DavLockStore as _, LockRecord, Store};

/// The longest timeout granted, and the one of a lock requested without one or with a
/// `Timeout` that does not parse: `Infinite` and longer requests get this (RFC 4918
/// §10.7 lets the server choose), shared and exclusive locks alike, and the answer says
/// so. The owner refreshes a lock to keep it longer.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// The most live locks one user holds at once, over both libraries.
pub const MAX_LOCKS_PER_USER: i64 = 100;
/// The largest `<D:owner>` element kept with a lock, serialized.
pub const MAX_OWNER: usize = 1024;

/// Whether `caller` may take a lock on the library path `key` at all, whatever its
/// depth: a non-admin may not lock a library root, which would stop everyone's writes.
/// Beyond that, a lock needs write access where it is taken (`super::access`, decided
/// before this): a non-admin can lock only inside its home or a folder shared with it
/// for writing, so no lock of theirs covers a folder of others' files that was not
/// shared with them for writing.
pub fn may_lock_at(caller: &User, key: &str) -> Result<(), DavError> {
    if key == "/" && !caller.is_admin() {
        let mut refused =
            DavError::forbidden("Only an admin may lock a library folder itself; lock a file or folder in it");
        refused.code = "root_not_lockable";
        return Err(refused);
    }
    Ok(())
}

/// A refusal decided inside the lock system, which dav-server can only answer with
/// 423: kept here so the request answers with it instead.
pub type Refusal = Arc<Mutex<Option<DavError>>>;

/// One request's handle on the lock table.
#[derive(Debug, Clone)]
pub struct DbLocks {
    store: Store,
    /// The server's clock: locks expire by it.
    clock: Arc<dyn Clock>,
    root: &'static str,
    prefix: String,
    /// Who is asking.
    caller: Arc<User>,
    refusal: Refusal,
}

impl DbLocks {
    pub fn new(app: &Gatehouse, root: &'static str, prefix: String, caller: Arc<User>) -> Self {
        let (store, clock) = (app.store.clone(), app.clock.clone());
        DbLocks { store, clock, root, prefix, caller, refusal: Refusal::default() }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Where a refusal of this request's LOCK is left ([`Refusal`]).
    pub fn refusal(&self) -> Refusal {
        self.refusal.clone()
    }

    fn refuse(&self, e: DavError) {
        *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }

    fn may(&self, lock: &LockRecord, how: LockUse) -> bool {
        may_use_lock(&self.caller, lock.principal.as_deref(), how)
    }

    /// The live locks on `path` and above (and with `subtree` below); on a database
    /// error none (the caller fails closed where that matters).
    async fn at(&self, path: &str, subtree: bool) -> Result<Vec<LockRecord>, ()> {
        self.store.dav_locks_at(self.root, path, subtree, self.now_ms()).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read WebDAV locks");
        })
    }

    /// The live lock with `token`.
    async fn by_token(&self, token: &str) -> Option<LockRecord> {
        let found = self.store.dav_locks_by_token(self.root, &[token.to_owned()], self.now_ms()).await;
        match found {
            Ok(locks) => locks.into_iter().next(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read WebDAV locks");
                None
            }
        }
    }

    /// A stored lock as dav-server wants it; `asked` stands in for a path that no longer parses.
    fn to_dav(&self, r: &LockRecord, asked: &DavPath) -> DavLock {
        let url = if r.path == "/" { format!("{}/", self.prefix) } else { format!("{}{}", self.prefix, r.path) };
        let path = DavPath::new(&url)
            .and_then(|mut p| p.set_prefix(&self.prefix).map(|()| p))
            .unwrap_or_else(|_| asked.clone());
        DavLock {
            token: r.token.clone(),
            path: Box::new(path),
            principal: r.principal.clone(),
            owner: r.owner.as_deref().and_then(|o| Element::parse(Cursor::new(o.as_bytes())).ok()).map(Box::new),
            timeout_at: r
                .expires_at
                .and_then(|ms| u64::try_from(ms).ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            timeout: r.timeout_secs.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs),
            shared: r.shared,
            deep: r.deep,
        }
    }
}

/// The timeout granted for a request of `asked` (`None`: none asked, or `Infinite`).
pub fn granted(asked: Option<Duration>) -> Duration {
    asked.map_or(MAX_TIMEOUT, |a| a.min(MAX_TIMEOUT))
}

/// Refuses a request that submits the token of a lock another user holds (UNLOCK,
/// a refresh, or a write through it): 403, before anything acts on it. An admin may
/// break (UNLOCK) anyone's lock. Looks up only the submitted tokens.
pub async fn check_ownership(
    app: &Gatehouse,
    root: &str,
    caller: &User,
    unlock: bool,
    tokens: &[String],
) -> Result<(), DavError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let named = app.store.dav_locks_by_token(root, tokens, app.clock.now_ms()).await.map_err(unreadable)?;
    let how = if unlock { LockUse::Remove } else { LockUse::Use };
    if named.iter().any(|l| !may_use_lock(caller, l.principal.as_deref(), how)) {
        return Err(DavError::forbidden("This lock belongs to another user"));
    }
    Ok(())
}

/// The tokens of the live locks that cover the library path `key` (on it, or deep on a
/// folder above it); 503 if the lock table cannot be read.
pub async fn covering_tokens(app: &Gatehouse, root: &str, key: &str) -> Result<Vec<String>, DavError> {
    let live = app.store.dav_locks_at(root, key, false, app.clock.now_ms()).await.map_err(unreadable)?;
    Ok(covering(&live, key).map(|l| l.token.clone()).collect())
}

/// A lock table that cannot be read: the request is refused (fails closed), 503.
fn unreadable(e: crate::store::StoreError) -> DavError {
    tracing::error!(error = %e, "cannot read WebDAV locks");
    DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The lock table cannot be read")
}

/// Whether `path` is `at` or below it.
pub(super) fn within(path: &str, at: &str) -> bool {
    at == "/" || path == at || path.strip_prefix(at).is_some_and(|rest| rest.starts_with('/'))
}

/// Locks on `path` or on a folder above it that reach it.
fn covering<'a>(locks: &'a [LockRecord], path: &'a str) -> impl Iterator<Item = &'a LockRecord> + 'a {
    locks.iter().filter(move |l| within(path, &l.path) && (l.deep || l.path == path))
}

/// Who may act despite a lock: the holder of its token (and, unless ignored, the same principal).
struct Caller<'a> {
    principal: Option<&'a str>,
    ignore_principal: bool,
    tokens: &'a [String],
}

impl Caller<'_> {
    fn holds(&self, l: &LockRecord) -> bool {
        self.tokens.contains(&l.token) && (self.ignore_principal || self.principal == l.principal.as_deref())
    }
}

/// The locks on `path` and above: exclusive ones block unless held; shared ones block
/// unless `shared_ok` or one lock is held.
fn check_up<'a>(
    locks: &'a [LockRecord],
    path: &'a str,
    who: &Caller<'_>,
    shared_ok: bool,
) -> Result<(), &'a LockRecord> {
    let mut holds = false;
    let mut first_shared = None;
    for l in covering(locks, path) {
        if who.holds(l) {
            holds = true;
        } else if !l.shared {
            return Err(l);
        } else if !shared_ok {
            first_shared.get_or_insert(l);
        }
    }
    match first_shared {
        Some(l) if !holds => Err(l),
        _ => Ok(()),
    }
}

/// The locks on `path` and below it, for deep operations.
fn check_down<'a>(
    locks: &'a [LockRecord],
    path: &str,
    who: &Caller<'_>,
    shared_ok: bool,
) -> Result<(), &'a LockRecord> {
    match locks.iter().find(|l| within(&l.path, path) && (!l.shared || !shared_ok) && !who.holds(l)) {
        Some(l) => Err(l),
        None => Ok(()),
    }
}

/// The `<D:owner>` element as text that parses back on its own (its `D:` prefix declared).
fn serialize(owner: Option<&Element>) -> Option<String> {
    let mut owner = owner?.clone();
    let mut ns = owner.namespaces.take().unwrap_or_else(xmltree::Namespace::empty);
    ns.force_put("D", "DAV:");
    owner.namespaces = Some(ns);
    let mut out = Vec::new();
    owner.write(&mut out).ok()?;
    String::from_utf8(out).ok()
}

fn new_token() -> Option<String> {
    let mut b = [0u8; 16];
    crate::domain::random::fill(&mut b).ok()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = data_encoding::HEXLOWER.encode(&b);
    Some(format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// Why a new lock is not stored.
enum NotLocked {
    /// It conflicts with this lock (423).
    Conflict(Box<LockRecord>),
    /// Its taker holds [`MAX_LOCKS_PER_USER`] already.
    TooMany,
}

fn too_many_locks() -> DavError {
    let mut refused = DavError::forbidden(format!(
        "You hold {MAX_LOCKS_PER_USER} locks, the most one user may hold; UNLOCK some or let them expire"
    ));
    refused.code = "lock_limit";
    refused
}

impl DavLockSystem for DbLocks {
    fn lock(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        owner: Option<&Element>,
        timeout: Option<Duration>,
        shared: bool,
        deep: bool,
    ) -> LsFuture<'_, Result<DavLock, DavLock>> {
        let secs = i64::try_from(granted(timeout).as_secs()).unwrap_or(i64::MAX);
        let now = self.now_ms();
        let asked = path.clone();
        let owner = serialize(owner);
        let record = LockRecord {
            token: new_token().unwrap_or_default(),
            path: key(path),
            principal: principal.map(str::to_owned),
            owner,
            timeout_secs: Some(secs),
            expires_at: Some(now.saturating_add(secs.saturating_mul(1000))),
            shared,
            deep,
        };
        async move {
            if record.token.is_empty() {
                return Err(self.to_dav(&record, &asked));
            }
            if record.owner.as_ref().is_some_and(|o| o.len() > MAX_OWNER) {
                self.refuse(DavError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The lock's <owner> is larger than {MAX_OWNER} bytes"),
                ));
                return Err(self.to_dav(&record, &asked));
            }
            let nobody = Caller { principal: None, ignore_principal: true, tokens: &[] };
            let decided = self
                .store
                .dav_lock_with(self.root, now, &record.path, deep, record.principal.as_deref(), |live, held| {
                    let conflict = |l: &LockRecord| NotLocked::Conflict(Box::new(l.clone()));
                    check_up(live, &record.path, &nobody, shared).map_err(conflict)?;
                    if deep {
                        check_down(live, &record.path, &nobody, shared).map_err(conflict)?;
                    }
                    if held >= MAX_LOCKS_PER_USER {
                        return Err(NotLocked::TooMany);
                    }
                    Ok(record.clone())
                })
                .await;
            match decided {
                Ok(Ok(lock)) => Ok(self.to_dav(&lock, &asked)),
                Ok(Err(NotLocked::Conflict(conflict))) => Err(self.to_dav(&conflict, &asked)),
                Ok(Err(NotLocked::TooMany)) => {
                    self.refuse(too_many_locks());
                    Err(self.to_dav(&record, &asked))
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot store a WebDAV lock");
                    self.refuse(DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The lock table cannot be written"));
                    Err(self.to_dav(&record, &asked))
                }
            }
        }
        .boxed()
    }

    fn unlock(&self, path: &DavPath, token: &str) -> LsFuture<'_, Result<(), ()>> {
        let (path, token) = (key(path), token.to_owned());
        async move {
            let found = self.by_token(&token).await;
            if !found.is_some_and(|l| within(&path, &l.path) && self.may(&l, LockUse::Remove)) {
                return Err(());
            }
            self.store.dav_unlock(self.root, &token).await.ok().filter(|gone| *gone).map(|_| ()).ok_or(())
        }
        .boxed()
    }

    fn refresh(&self, path: &DavPath, token: &str, timeout: Option<Duration>) -> LsFuture<'_, Result<DavLock, ()>> {
        let asked = path.clone();
        let (path, token) = (key(path), token.to_owned());
        async move {
            let found = self.by_token(&token).await.filter(|l| within(&path, &l.path) && self.may(l, LockUse::Use));
            let mut lock = found.ok_or(())?;
            let secs = i64::try_from(granted(timeout).as_secs()).unwrap_or(i64::MAX);
            lock.timeout_secs = Some(secs);
            lock.expires_at = Some(self.now_ms().saturating_add(secs.saturating_mul(1000)));
            self.store.dav_refresh_lock(self.root, &token, lock.timeout_secs, lock.expires_at).await.map_err(|_| ())?;
            Ok(self.to_dav(&lock, &asked))
        }
        .boxed()
    }

    fn check(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        ignore_principal: bool,
        deep: bool,
        submitted_tokens: &[String],
    ) -> LsFuture<'_, Result<(), DavLock>> {
        let asked = path.clone();
        let path = key(path);
        let principal = principal.map(str::to_owned);
        let tokens = submitted_tokens.to_vec();
        async move {
            // A lock table that cannot be read refuses the write (fails closed).
            let unreadable = || LockRecord {
                token: String::new(),
                path: path.clone(),
                principal: None,
                owner: None,
                timeout_secs: None,
                expires_at: None,
                shared: false,
                deep: false,
            };
            let live = self.at(&path, deep).await.map_err(|()| self.to_dav(&unreadable(), &asked))?;
            if principal.is_none() && ignore_principal {
                // dav-server asks this way for one state-token condition of an `If`
                // header (its conditional.rs): true only if the token names a live lock
                // on the path (RFC 4918 §10.4.8), as `preconditions::check_if` decided
                // first — not "nothing here is locked against it".
                return if covering(&live, &path).any(|l| tokens.contains(&l.token)) {
                    Ok(())
                } else {
                    Err(self.to_dav(&unreadable(), &asked))
                };
            }
            let who = Caller { principal: principal.as_deref(), ignore_principal, tokens: &tokens };
            let result = check_up(&live, &path, &who, false)
                .and_then(|()| if deep { check_down(&live, &path, &who, false) } else { Ok(()) });
            result.map_err(|l| self.to_dav(l, &asked))
        }
        .boxed()
    }

    fn discover(&self, path: &DavPath) -> LsFuture<'_, Vec<DavLock>> {
        let asked = path.clone();
        let path = key(path);
        async move {
            let live = self.at(&path, false).await.unwrap_or_default();
            covering(&live, &path).map(|l| self.to_dav(l, &asked)).collect()
        }
        .boxed()
    }

    fn delete(&self, path: &DavPath) -> LsFuture<'_, Result<(), ()>> {
        let path = key(path);
        async move { self.store.dav_delete_locks(self.root, &path).await.map_err(|_| ()) }.boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lock(path: &str, shared: bool, deep: bool, token: &str) -> LockRecord {
        LockRecord {
            token: token.into(),
            path: path.into(),
            principal: Some("u1".into()),
            owner: None,
            timeout_secs: None,
            expires_at: None,
            shared,
            deep,
        }
    }

    #[test]
    fn exclusive_locks_block_others_but_not_their_holder() {
        let locks = vec![lock("/a", false, true, "t1")];
        let nobody = Caller { principal: Some("u1"), ignore_principal: false, tokens: &[] };
        let tokens = vec!["t1".to_owned()];
        let holder = Caller { principal: Some("u1"), ignore_principal: false, tokens: &tokens };
        let thief = Caller { principal: Some("u2"), ignore_principal: false, tokens: &tokens };
        assert!(check_up(&locks, "/a/b", &nobody, false).is_err());
        assert!(check_up(&locks, "/a/b", &holder, false).is_ok());
        assert!(check_up(&locks, "/a/b", &thief, false).is_err());
        assert!(check_up(&locks, "/ab", &nobody, false).is_ok());
        assert!(check_down(&locks, "/", &nobody, false).is_err());
    }

    #[test]
    fn shallow_locks_cover_only_their_resource() {
        let locks = vec![lock("/a", false, false, "t1")];
        let nobody = Caller { principal: None, ignore_principal: true, tokens: &[] };
        assert!(check_up(&locks, "/a/b", &nobody, false).is_ok());
        assert!(check_up(&locks, "/a", &nobody, false).is_err());
    }

    #[test]
    fn shared_locks_stack() {
        let locks = vec![lock("/a", true, false, "t1")];
        let nobody = Caller { principal: None, ignore_principal: true, tokens: &[] };
        assert!(check_up(&locks, "/a", &nobody, true).is_ok());
        assert!(check_up(&locks, "/a", &nobody, false).is_err());
    }

    #[test]
    fn owners_survive_the_database() {
        let info = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:owner><D:href>mailto:a@b</D:href> and text</D:owner></D:lockinfo>"#;
        let mut owner = Element::parse(Cursor::new(info.as_bytes())).unwrap().take_child("owner").unwrap();
        owner.prefix = Some("D".into());
        let text = serialize(Some(&owner)).unwrap();
        let back = Element::parse(Cursor::new(text.as_bytes())).unwrap();
        assert_eq!(back.name, "owner");
        assert_eq!(back.namespace.as_deref(), Some("DAV:"));
        assert_eq!(back.get_child("href").unwrap().get_text().unwrap(), "mailto:a@b");
    }

    #[test]
    fn tokens_look_like_uuid_urns() {
        let t = new_token().unwrap();
        assert!(t.starts_with("urn:uuid:") && t.len() == 45, "{t}");
    }
}
