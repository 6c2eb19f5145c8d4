//! Whether a WebDAV request may act where it asks, by the one rule of
//! [`domain::access`](crate::domain::access): decided in [`super::prepare`] for the path
//! and the `Destination`, before any method acts. Outside its grants an account gets
//! the answer a missing path gets, whether or not the path exists; above them it sees
//! folders read-only, and listings there show only what leads to a grant
//! ([`Seen`], used by [`super::propfind`]).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use axum::http::{Method, StatusCode};

use super::error::DavError;
use super::library::Library;
use crate::domain::access::{Act, Level, Reach, Refusal, Standing};
use crate::library::{Meta, Rel};

/// What one request may see and do: the account's reach, and where its path stands.
#[derive(Debug, Clone)]
pub struct Seen {
    pub reach: std::sync::Arc<Reach>,
    pub standing: Standing,
}

impl Seen {
    /// Whether a listing of the folder `folder` (a path of `lib`) shows its entry `name`.
    pub fn shows(&self, lib: &str, folder: &Rel, name: &[u8]) -> Option<Standing> {
        if self.standing != Standing::Above {
            return Some(self.standing);
        }
        let child = folder.join(name);
        match self.reach.standing_of(lib, child.as_bytes()) {
            Standing::Outside => None,
            s => Some(s),
        }
    }
}

/// What is shown of a folder above the grants: that it is one, nothing of when or how
/// others changed what is in it.
pub fn above_meta() -> Meta {
    Meta::object(0, std::time::UNIX_EPOCH, true)
}

/// Decides `method` on `target` (and on `destination` for COPY and MOVE) of `lib`.
pub async fn check(
    lib: &Library,
    reach: &Reach,
    method: &Method,
    target: &Rel,
    destination: Option<&Rel>,
) -> Result<Standing, DavError> {
    let standing = reach.standing_of(lib.name, target.as_bytes());
    let act = match method.as_str() {
        "GET" | "HEAD" | "PROPFIND" | "OPTIONS" => Act::Read,
        // A copy takes the whole tree below: only from inside a grant, never from a
        // folder that merely leads to one (it holds others' files).
        "COPY" => Act::ReadTree,
        // A new folder; an existing one is dav-server's 405, inside what may be listed.
        "MKCOL" => Act::Create,
        // Only one's own locks (`locks::check_ownership`): an append credential must be
        // able to take back the lock it took on a new name, which is a file by then.
        "UNLOCK" => Act::Create,
        "PUT" | "PATCH" | "LOCK" => creates_or_changes(lib, standing, target).await,
        // DELETE, MOVE, PROPPATCH, and anything unknown.
        _ => Act::Change,
    };
    standing.permits(act).map_err(|r| refusal(r, act))?;
    if let Some(to) = destination {
        let there = reach.standing_of(lib.name, to.as_bytes());
        let act = creates_or_changes(lib, there, to).await;
        there.permits(act).map_err(|r| refusal(r, act))?;
    }
    Ok(standing)
}

/// Whether writing `path` makes something new or changes what exists. Only an append
/// grant tells the two apart (elsewhere both are allowed, or neither), so only there is
/// the storage asked; what cannot be asked counts as existing.
async fn creates_or_changes(lib: &Library, standing: Standing, path: &Rel) -> Act {
    if standing != Standing::Inside(Level::Append) {
        return Act::Change;
    }
    match lib.storage.stat(path).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Act::Create,
        _ => Act::Change,
    }
}

/// The answer to a refused act. Outside the grants it does not depend on what exists:
/// a look is 404, a change 403, with the same words for both.
fn refusal(r: Refusal, act: Act) -> DavError {
    match (r, act) {
        (Refusal::Hidden, Act::Read | Act::ReadTree) => DavError::new(StatusCode::NOT_FOUND, r.message()),
        (Refusal::Hidden, _) => DavError::forbidden("This account cannot change anything here"),
        _ => DavError::forbidden(r.message()),
    }
}

/// The folders of grants that this process has made sure exist (homes are created when
/// first needed), so that a request costs a set look-up, not a `stat` per grant.
#[derive(Debug, Default)]
pub struct Made(Mutex<HashSet<(&'static str, Vec<u8>)>>);

/// Folders remembered at most; past it the set starts over.
const MADE_CAPACITY: usize = 50_000;

impl Made {
    /// Creates the folders of `reach`'s grants in `lib` that `target` leads to or lies
    /// in, with their parents, unless known to exist.
    pub async fn ensure(&self, lib: &Library, reach: &Reach, target: &Rel) {
        if reach.is_whole() {
            return;
        }
        for g in reach.grants() {
            let mut segs = g.path.segments();
            if segs.next() != Some(lib.name) {
                continue;
            }
            let rel: Vec<&str> = segs.collect();
            if rel.is_empty() || !related(&rel, target) {
                continue;
            }
            let folder = rel.join("/").into_bytes();
            if self.known(lib.name, &folder) {
                continue;
            }
            if make_all(lib, &rel).await {
                let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                if set.len() >= MADE_CAPACITY {
                    set.clear();
                }
                set.insert((lib.name, folder));
            }
        }
    }

    fn known(&self, lib: &'static str, folder: &[u8]) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(&(lib, folder.to_vec()))
    }

    /// Forgets what was made: after a DELETE or MOVE, a home may be gone.
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// Whether the grant folder `rel` lies on the way to `target`, or holds it.
fn related(rel: &[&str], target: &Rel) -> bool {
    let t: Vec<&[u8]> = target.as_bytes().split(|b| *b == b'/').filter(|s| !s.is_empty()).collect();
    rel.iter().zip(t.iter()).all(|(a, b)| a.as_bytes() == *b)
}

/// Creates `rel` and its parents; whether it exists afterwards.
async fn make_all(lib: &Library, rel: &[&str]) -> bool {
    let mut path = Rel::root();
    for seg in rel {
        path = path.join(seg.as_bytes());
        match lib.storage.stat(&path).await {
            Ok(m) if m.is_dir => continue,
            Ok(_) => return false,
            Err(_) => {}
        }
        if let Err(e) = lib.storage.create_dir(&path).await
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            tracing::warn!(library = lib.name, error = %e, "cannot create a granted folder");
            return false;
        }
    }
    true
}
