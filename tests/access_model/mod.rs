//! The model of `tests/webdav_access_model.rs`: what each account may see and do in
//! the library under the rule of README "Who sees which files", written from the rule's
//! words and not from the server's code, and what the library holds after each request.
//! Paths are relative to `/originals` (`""` is the library itself, `a/deep/x.txt`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use gatehouse::domain::access::Level;

pub mod listing;
pub mod scenario;

/// The accounts of a scenario (each has its home `/originals/NAME`).
pub const ACCOUNTS: [&str; 3] = ["ann", "ben", "cat"];
/// The folders shared at random.
pub const SHARED: [&str; 3] = ["a", "a/deep", "b"];
/// The folders requests act in: the shared ones and the homes.
pub const FOLDERS: [&str; 6] = ["a", "a/deep", "b", "ann", "ben", "cat"];
/// File names; a `sub` folder may be made in every folder of [`FOLDERS`].
pub const FILE_NAMES: [&str; 2] = ["x.txt", "y.txt"];

/// Where a path stands for an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Inside(Level),
    Above,
    Outside,
}

/// What one account holds: its home (write), its shares, and the limit of the
/// credential it uses (an app password narrowed to a folder and a level), if any.
#[derive(Clone, Debug)]
pub struct Holder {
    pub name: &'static str,
    pub shares: Vec<(&'static str, Level)>,
    /// `None`: the account password. `Some((path, level))`: an app password limited to
    /// `path` (`/` or a path of [`FOLDERS`]).
    pub limit: Option<(String, Level)>,
}

/// Whether the folder `outer` is `inner` or holds it (`""` holds everything).
pub fn contains(outer: &str, inner: &str) -> bool {
    outer.is_empty() || inner == outer || inner.strip_prefix(outer).is_some_and(|r| r.starts_with('/'))
}

pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

pub fn base(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, b)| b)
}

pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

impl Holder {
    /// The account's own grants, without those that add nothing (inside another of at
    /// least their level): the server does not make their folders again either.
    fn own(&self) -> Vec<(String, Level)> {
        let mut all = vec![(self.name.to_owned(), Level::Write)];
        all.extend(self.shares.iter().map(|(p, l)| ((*p).to_owned(), *l)));
        let covered = |(p, l): &(String, Level)| all.iter().any(|(q, m)| q != p && contains(q, p) && m >= l);
        all.iter().filter(|g| !covered(g)).cloned().collect()
    }

    /// Whether the app password's limit asks for nothing the account lacks (a limit on
    /// `/` only caps the level).
    pub fn limit_allowed(&self) -> bool {
        match &self.limit {
            None => true,
            Some((p, _)) if p == "/" => true,
            Some((p, level)) => {
                self.own().iter().filter(|(g, _)| contains(g, p)).map(|(_, l)| *l).max().is_some_and(|l| l >= *level)
            }
        }
    }

    /// The grants requests with this credential act under.
    pub fn grants(&self) -> Vec<(String, Level)> {
        let own = self.own();
        match &self.limit {
            None => own,
            Some((p, cap)) if p == "/" => own.into_iter().map(|(g, l)| (g, l.min(*cap))).collect(),
            Some((p, cap)) => own
                .into_iter()
                .filter_map(|(g, l)| {
                    if contains(p, &g) {
                        Some((g, l.min(*cap)))
                    } else if contains(&g, p) {
                        Some((p.clone(), l.min(*cap)))
                    } else {
                        None
                    }
                })
                .collect(),
        }
    }

    pub fn standing(&self, path: &str) -> Standing {
        let grants = self.grants();
        if let Some(l) = grants.iter().filter(|(g, _)| contains(g, path)).map(|(_, l)| *l).max() {
            return Standing::Inside(l);
        }
        if grants.iter().any(|(g, _)| contains(path, g)) { Standing::Above } else { Standing::Outside }
    }
}

/// A file's content, or a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
}

/// What `/originals` holds.
#[derive(Clone, Debug, Default)]
pub struct Library(pub BTreeMap<String, Node>);

impl Library {
    pub fn exists(&self, path: &str) -> bool {
        path.is_empty() || self.0.contains_key(path)
    }

    pub fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || self.0.get(path) == Some(&Node::Dir)
    }

    pub fn file(&self, path: &str) -> Option<&[u8]> {
        match self.0.get(path) {
            Some(Node::File(d)) => Some(d),
            _ => None,
        }
    }

    /// The names in the folder `dir`.
    pub fn children(&self, dir: &str) -> Vec<String> {
        self.0.keys().filter(|k| !k.is_empty() && parent(k) == dir).map(|k| base(k).to_owned()).collect()
    }

    pub fn remove(&mut self, path: &str) {
        self.0.retain(|k, _| !contains(path, k));
    }

    /// Copies `from` (and what is inside it) to `to`, replacing what is there.
    pub fn copy(&mut self, from: &str, to: &str) {
        self.remove(to);
        let moved: Vec<(String, Node)> = self
            .0
            .iter()
            .filter(|(k, _)| contains(from, k))
            .map(|(k, v)| (format!("{to}{}", &k[from.len()..]), v.clone()))
            .collect();
        self.0.extend(moved);
    }

    /// The granted folders a request on `target` makes sure of first (homes and shares
    /// are created when first needed): those the target leads to or lies in.
    pub fn ensure(&mut self, who: &Holder, target: &str) {
        for (g, _) in who.grants() {
            let related = g.split('/').zip(target.split('/').filter(|s| !s.is_empty())).all(|(a, b)| a == b);
            if !related {
                continue;
            }
            let mut path = String::new();
            for seg in g.split('/') {
                path = join(&path, seg);
                if !self.0.contains_key(&path) {
                    self.0.insert(path.clone(), Node::Dir);
                } else if !self.is_dir(&path) {
                    break;
                }
            }
        }
    }
}
