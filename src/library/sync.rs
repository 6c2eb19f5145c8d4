//! Group commit: making changes to a folder library durable, shared by everyone who
//! needs the same sync at the same time.
//!
//! A change is durable once a sync of what it touched has *started after* the change and
//! finished. So whoever needs a sync while one is already running does not run another
//! at once, nor counts on the running one (it may have started before the change): it
//! waits for the next one, which starts as soon as the running one ends and serves
//! everyone who arrived meanwhile. Under load each sync serves a whole batch of uploads;
//! alone, an upload waits for one sync, as it would without grouping.
//!
//! Why per-file `fdatasync` and a grouped `fsync` of the folder, and not `syncfs`:
//! measured with `bench/webdav` (PUT of new 16 KiB files, wrk -t2 -c32, ext4 on a
//! virtual disk shared with other work), gatehouse did ~3,800 PUT/s this way, ~620 with
//! a `syncfs` group commit (data, then rename, each covered by a shared `syncfs`), and
//! ~4,900 syncing nothing. `syncfs` writes out everything anyone wrote to the file
//! system — other uploads' big files, other programs' files — so a small upload waits
//! for all of it; an `fdatasync` writes one file and a directory's `fsync` its entries,
//! and the kernel's journal already merges concurrent ones into one commit.
//!
//! What a sync is depends on the group: `fsync` of one directory (its entries: the
//! renames, creations and removals in it) or `syncfs` of a whole file system
//! ([`SyncOp`]). Syncs run on the disk threads; the waiting is async and may be
//! cancelled (a client that hangs up) without stopping a sync that others wait for: the
//! syncs run in a task of their own, which ends when no one waits any more.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::blocking;

/// What one sync of a group does, on any open handle of what the group syncs.
pub type SyncOp = Arc<dyn Fn(&Dir) -> io::Result<()> + Send + Sync>;

/// `fsync` of the directory: its entries (renames, creations, removals) reach the disk.
pub fn fsync_dir() -> SyncOp {
    Arc::new(|d: &Dir| Ok(rustix::fs::fsync(d.fd.as_fd())?))
}

/// `syncfs`: everything written to the directory's file system reaches the disk.
pub fn syncfs() -> SyncOp {
    Arc::new(|d: &Dir| Ok(rustix::fs::syncfs(d.fd.as_fd())?))
}

/// An open directory whose entries changed, waiting to be synced.
#[derive(Debug, Clone)]
pub struct Dir {
    fd: Arc<OwnedFd>,
    /// Device and inode: the same directory, however it was reached.
    key: (u64, u64),
}

impl Dir {
    /// Opens `path` (a directory) for syncing.
    pub fn open(path: &std::path::Path) -> io::Result<Dir> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let st = rustix::fs::fstat(&fd)?;
        Ok(Dir { fd: Arc::new(fd), key: (st.st_dev, st.st_ino) })
    }

    /// The directory holding `path`.
    pub fn parent_of(path: &std::path::Path) -> io::Result<Dir> {
        Dir::open(path.parent().ok_or(io::ErrorKind::PermissionDenied)?)
    }

    /// Whether the directory was removed since it was opened (a removed directory has
    /// no links): syncing it would not sync one that took its place.
    fn removed(&self) -> bool {
        rustix::fs::fstat(&*self.fd).is_ok_and(|st| st.st_nlink == 0)
    }
}

/// Directories a change touched, to be synced before it is answered ([`Syncer::settle`]).
#[derive(Debug, Default)]
#[must_use = "a change is durable only once what it touched is settled"]
pub struct Touched(Vec<Dir>);

impl Touched {
    pub fn new() -> Touched {
        Touched(Vec::new())
    }

    /// Adds a directory (once, however often it is added).
    pub fn dir(mut self, dir: Dir) -> Touched {
        if !self.0.iter().any(|d| d.key == dir.key) {
            self.0.push(dir);
        }
        self
    }
}

/// The groups of one library: one per directory being synced, created on demand and
/// dropped when no one waits on them.
#[derive(Debug, Default)]
pub struct Syncer {
    dirs: Mutex<HashMap<(u64, u64), Arc<Group>>>,
}

impl Syncer {
    /// Returns once every directory in `touched` has been synced by a sync that started
    /// after this call (the directories are synced at the same time).
    pub async fn settle(&self, touched: Touched) -> io::Result<()> {
        let waits = touched.0.into_iter().map(|dir| {
            let group = {
                let mut dirs = lock(&self.dirs);
                dirs.retain(|_, g| Arc::strong_count(g) > 1 || g.busy());
                dirs.entry(dir.key).or_insert_with(|| Arc::new(Group::new(fsync_dir()))).clone()
            };
            async move { group.wait(dir).await }
        });
        for r in futures_util::future::join_all(waits).await {
            r?;
        }
        Ok(())
    }
}

/// One thing to sync (a directory, a file system) and the syncs of it in turn.
pub struct Group {
    op: SyncOp,
    state: Mutex<State>,
    /// The number of the last finished sync.
    finished: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// The number the next sync to start will have (syncs are numbered from 1).
    next: u64,
    /// The highest sync number someone waits for.
    wanted: u64,
    /// Whether the task that runs the syncs is running.
    running: bool,
    /// The number of the last sync that failed (0: none).
    failed: u64,
    /// What the next sync runs on: any open handle of the thing synced.
    dir: Option<Dir>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Group {
    pub fn new(op: SyncOp) -> Group {
        Group { op, state: Mutex::new(State { next: 1, ..State::default() }), finished: watch::channel(0).0 }
    }

    fn busy(&self) -> bool {
        lock(&self.state).running
    }

    /// Returns once a sync that started after this call has finished; its error if it
    /// failed. `dir` is what to run it on (any handle of the group's directory or file
    /// system; one that was removed meanwhile is replaced by the next caller's).
    pub async fn wait(self: &Arc<Self>, dir: Dir) -> io::Result<()> {
        let mut finished = self.finished.subscribe();
        let need = {
            let mut state = lock(&self.state);
            if state.dir.as_ref().is_none_or(Dir::removed) {
                state.dir = Some(dir);
            }
            let need = state.next;
            state.wanted = need;
            if !state.running {
                state.running = true;
                tokio::spawn(Arc::clone(self).run());
            }
            need
        };
        finished.wait_for(|&done| done >= need).await.map_err(|_| io::Error::other("the sync task stopped"))?;
        if lock(&self.state).failed >= need {
            return Err(io::Error::other("syncing the library's folder failed"));
        }
        Ok(())
    }

    /// Runs syncs one after another while someone waits for one not yet started.
    async fn run(self: Arc<Self>) {
        loop {
            let (number, dir) = {
                let mut state = lock(&self.state);
                let number = state.next;
                state.next += 1;
                (number, state.dir.clone())
            };
            let op = Arc::clone(&self.op);
            let result = match dir {
                Some(dir) => blocking(move || op(&dir)).await,
                None => Err(io::Error::other("nothing to sync")),
            };
            let mut state = lock(&self.state);
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot sync the library to disk");
                state.failed = number;
            }
            self.finished.send_replace(number);
            if state.wanted <= number {
                state.running = false;
                return;
            }
        }
    }
}

/// The lock, also after a panic elsewhere (the state stays consistent: every change to
/// it is a few assignments).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
