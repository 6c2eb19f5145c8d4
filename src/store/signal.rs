//! The credential change signal: how every process on one SQLite database learns at
//! once that a session, user or client changed, so that a cache of token lookups never
//! outlives a revoke, a password change or a user being disabled (docs/design.md, "App passwords").
//!
//! Every write that can end a credential calls [`ChangeSignal::changed`] after it
//! commits. That bumps a counter in this process and appends one byte to a file next
//! to the database (`index.db-credentials`, beside SQLite's own `-wal` and `-shm`).
//! The file only ever grows, so its (inode, size) is a counter every process — the
//! server, `gatehouse auth rm` at the command line, a second server on the same file —
//! can read with one `fstat` of the file held open, without a trip to the database. A
//! file deleted or replaced behind our back has no links left: it is opened again by
//! name, and its new inode is a new epoch. It grows by one byte per change: a million
//! revocations make a megabyte.
//!
//! PostgreSQL instances may run on other machines, where a file tells nothing and a
//! `NOTIFY` arrives only after the commit; there the signal reports no epoch, which
//! turns caching off: every request does its one indexed lookup.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

/// A point in the history of credential changes. Two equal epochs mean nothing that can
/// end a credential was committed in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    local: u64,
    inode: u64,
    size: u64,
}

impl Epoch {
    #[cfg(test)]
    pub(crate) fn for_test(local: u64) -> Self {
        Self { local, inode: 0, size: 0 }
    }
}

#[derive(Debug)]
pub(crate) struct ChangeSignal {
    /// `None` where caching is off (PostgreSQL).
    mode: Option<Shared>,
    local: AtomicU64,
    /// Set when the file could not be bumped: other processes might then keep stale
    /// entries, so this one stops trusting the file too (and says so in the log).
    broken: AtomicBool,
}

#[derive(Debug)]
enum Shared {
    /// A database file: other processes may write it. Held open once it exists.
    File(PathBuf, RwLock<Option<File>>),
    /// An in-memory database: this process is the only writer.
    Private,
}

impl ChangeSignal {
    /// A signal for a SQLite database (`None`: in memory), in the file named by the
    /// database's name and `suffix`.
    pub(crate) fn for_sqlite(database: Option<PathBuf>, suffix: &str) -> Self {
        let mode = Some(match database {
            Some(db) => {
                let mut name = db.into_os_string();
                name.push(suffix);
                Shared::File(PathBuf::from(name), RwLock::default())
            }
            None => Shared::Private,
        });
        Self { mode, local: AtomicU64::new(0), broken: AtomicBool::new(false) }
    }

    pub(crate) fn off() -> Self {
        Self { mode: None, local: AtomicU64::new(0), broken: AtomicBool::new(false) }
    }

    /// The current epoch, or `None` when lookups must not be cached.
    pub(crate) fn epoch(&self) -> Option<Epoch> {
        if self.broken.load(Ordering::Acquire) {
            return None;
        }
        let local = self.local.load(Ordering::Acquire);
        match self.mode.as_ref()? {
            Shared::Private => Some(Epoch { local, inode: 0, size: 0 }),
            Shared::File(path, held) => {
                let (inode, size) = file_epoch(path, held)?;
                Some(Epoch { local, inode, size })
            }
        }
    }

    /// Announces a committed change to credentials.
    pub(crate) fn changed(&self) {
        self.local.fetch_add(1, Ordering::AcqRel);
        let Some(Shared::File(path, _)) = &self.mode else { return };
        let bumped = open_private(path).and_then(|mut f| f.write_all(b"."));
        if let Err(e) = bumped {
            self.broken.store(true, Ordering::Release);
            tracing::error!(
                error = %e,
                file = %path.display(),
                "cannot signal a credential change to other processes; token lookups are no longer cached"
            );
        }
    }
}

/// What a process keeps of the database between changes: answers by key, each usable
/// only while the signal still shows the epoch read *before* its query, and for at most
/// [`EpochCache::TTL`] (the bound for edits made behind the store's back). Read by every
/// request under a shared lock; bounded: full, it drops stale entries, then starts over.
#[derive(Debug)]
pub struct EpochCache<K, V> {
    entries: RwLock<HashMap<K, Kept<V>>>,
    capacity: usize,
}

#[derive(Debug)]
struct Kept<V> {
    epoch: Epoch,
    stored: Instant,
    value: V,
}

impl<K: Hash + Eq, V: Clone> EpochCache<K, V> {
    /// How long an entry may be used at most.
    pub const TTL: Duration = Duration::from_secs(10);

    pub fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), capacity }
    }

    /// The answer kept for `key` if it was looked up at `epoch` and is still fresh.
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q, epoch: Epoch) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let kept = entries.get(key)?;
        (kept.epoch == epoch && kept.stored.elapsed() < Self::TTL).then(|| kept.value.clone())
    }

    /// Keeps an answer looked up after reading `epoch`.
    pub fn put(&self, key: K, epoch: Epoch, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, k| k.epoch == epoch && k.stored.elapsed() < Self::TTL);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, Kept { epoch, stored: Instant::now(), value });
    }

    /// Changes a kept answer in place (what this process itself just wrote).
    pub fn update<Q: Hash + Eq + ?Sized>(&self, key: &Q, change: impl FnOnce(&mut V))
    where
        K: Borrow<Q>,
    {
        if let Some(kept) = self.entries.write().unwrap_or_else(PoisonError::into_inner).get_mut(key) {
            change(&mut kept.value);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The (inode, size) of the signal file: `fstat` of the file held open while it still
/// has a name, else opened again by `path` — created empty if missing, so that it can
/// be held. Where it cannot be created, a missing file means nothing was revoked yet:
/// (0, 0), which the first bump changes.
fn file_epoch(path: &Path, held: &RwLock<Option<File>>) -> Option<(u64, u64)> {
    if let Some(file) = held.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
        let meta = file.metadata().ok()?;
        if meta.nlink() > 0 {
            return Some((meta.ino(), meta.len()));
        }
    }
    let mut held = held.write().unwrap_or_else(PoisonError::into_inner);
    match open_private(path).or_else(|_| File::open(path)) {
        Ok(file) => {
            let meta = file.metadata().ok()?;
            *held = Some(file);
            Some((meta.ino(), meta.len()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            *held = None;
            Some((0, 0))
        }
        Err(_) => None,
    }
}

/// Opens (creating it 0600 if missing) a signal file for appending.
fn open_private(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new().append(true).create(true).mode(crate::security::files::FILE_MODE).open(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_change_moves_the_epoch_for_every_process() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("index.db");
        let server = ChangeSignal::for_sqlite(Some(db.clone()), "-credentials");
        let cli = ChangeSignal::for_sqlite(Some(db), "-credentials");
        let before = server.epoch().unwrap();
        assert_eq!(server.epoch(), Some(before), "stable while nothing changes");
        cli.changed();
        let after = server.epoch().unwrap();
        assert_ne!(after, before, "another process's change is seen");
        cli.changed();
        assert_ne!(server.epoch().unwrap(), after);
        server.changed();
        assert_ne!(cli.epoch().unwrap(), server.epoch().unwrap(), "the local counter moved too");
    }

    #[test]
    fn a_signal_file_deleted_or_replaced_is_followed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("index.db");
        let server = ChangeSignal::for_sqlite(Some(db.clone()), "-credentials");
        let cli = ChangeSignal::for_sqlite(Some(db.clone()), "-credentials");
        cli.changed();
        let held = server.epoch().unwrap();
        let file = dir.path().join("index.db-credentials");
        std::fs::remove_file(&file).unwrap();
        let gone = server.epoch().unwrap();
        assert_ne!(gone, held, "a deleted file is not read through the old handle");
        cli.changed();
        let recreated = server.epoch().unwrap();
        assert_ne!(recreated, gone, "the new file is found by name");
        let other = dir.path().join("elsewhere");
        std::fs::write(&other, b"..").unwrap();
        std::fs::rename(&other, &file).unwrap();
        assert_ne!(server.epoch().unwrap(), recreated, "a file renamed over it counts as a change");
        cli.changed();
        assert_ne!(server.epoch().unwrap(), recreated);
    }

    #[test]
    fn in_memory_databases_count_locally_and_postgres_never_caches() {
        let mem = ChangeSignal::for_sqlite(None, "-credentials");
        let a = mem.epoch().unwrap();
        mem.changed();
        assert_ne!(mem.epoch().unwrap(), a);
        assert_eq!(ChangeSignal::off().epoch(), None);
    }

    #[test]
    fn a_signal_that_cannot_be_written_turns_caching_off() {
        let dir = tempfile::tempdir().unwrap();
        let signal = ChangeSignal::for_sqlite(Some(dir.path().join("missing-folder").join("index.db")), "-credentials");
        assert!(signal.epoch().is_some());
        signal.changed();
        assert_eq!(signal.epoch(), None);
    }
}
