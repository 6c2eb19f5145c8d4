//! Who may reach which folders of the library (README, "Who sees which files"): the one
//! rule every WebDAV method is decided by, before it acts, the same for a folder and an
//! S3 library and for both databases.
//!
//! A *grant* gives an account a folder with a [`Level`]. Paths mean the same for
//! everyone (`/originals/alice/2026` is one folder whoever looks at it); a path is
//! [`Standing::Inside`] a grant (at the highest level of the grants that contain it),
//! [`Standing::Above`] one (a folder that leads to a grant: listed read-only, showing
//! only what leads on), or [`Standing::Outside`]. Levels only grow going down a tree,
//! so whatever acts on a folder at some level may act on everything below it: a delete,
//! a move or a depth-infinity lock never reaches past what was granted.

use std::fmt;

use unicode_normalization::UnicodeNormalization as _;

/// The library folders a grant path may start with.
pub const LIBRARIES: [&str; 2] = ["originals", "import"];

/// Longest folder path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// Grants one account may hold besides its home: far above a family's shares, low
/// enough that deciding a request stays a few microseconds.
pub const MAX_GRANTS: usize = 200;

/// What a grant lets its holder do inside its folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// List and download.
    Read,
    /// Read, and create new folders and files; never change, move or delete what exists.
    Append,
    /// Everything.
    Write,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Read, Level::Append, Level::Write];

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "read" => Some(Level::Read),
            "append" => Some(Level::Append),
            "write" => Some(Level::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Append => "append",
            Level::Write => "write",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a folder path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("a folder path starts with /originals/ or /import/ (or is / for the whole library)")]
    NotInLibrary,
    #[error("a folder path may not contain empty, . or .. segments")]
    BadSegment,
    #[error("a folder path may not contain control characters")]
    ControlCharacter,
    #[error("a folder path is at most {MAX_PATH_LEN} bytes")]
    TooLong,
    #[error("a home is a folder (alice, family/alice) or / for the whole library, never empty")]
    EmptyHome,
}

/// A folder of the library as everyone names it: `/` (the whole library) or
/// `/originals/…`, `/import/…`, in Unicode NFC, without a trailing slash. Only
/// [`FolderPath::parse`] and [`FolderPath::home`] build one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolderPath(String);

impl FolderPath {
    /// The whole library.
    pub fn root() -> FolderPath {
        FolderPath("/".to_owned())
    }

    /// Parses `/originals/a/b/` (slashes at either end optional, `//` folded).
    pub fn parse(s: &str) -> Result<FolderPath, PathError> {
        let parsed = Self::of_segments(s)?;
        let in_library = parsed.segments().next().is_none_or(|lib| LIBRARIES.contains(&lib));
        if in_library { Ok(parsed) } else { Err(PathError::NotInLibrary) }
    }

    /// A home folder in `library`: `folder` is relative to the library roots (`alice`,
    /// `family/alice`); `/` (or empty) is the whole library.
    pub fn home(folder: &str, library: &str) -> Result<FolderPath, PathError> {
        let rel = Self::of_segments(folder)?;
        if rel.is_root() {
            return Ok(rel);
        }
        Self::of_segments(&format!("/{library}{}", rel.0))
    }

    fn of_segments(s: &str) -> Result<FolderPath, PathError> {
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        let composed: String = s.nfc().collect();
        let mut out = String::with_capacity(composed.len() + 1);
        for seg in composed.split('/').filter(|seg| !seg.is_empty()) {
            if seg == "." || seg == ".." {
                return Err(PathError::BadSegment);
            }
            out.push('/');
            out.push_str(seg);
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(FolderPath(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Its segments, the library first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    fn depth(&self) -> usize {
        self.segments().count()
    }

    /// Where `self` stands to the path `target` (segments, the library first).
    fn relation(&self, target: &[&[u8]]) -> Relation {
        let mut mine = self.segments();
        for seg in target {
            match mine.next() {
                None => return Relation::Contains,
                Some(m) if m.as_bytes() == *seg => {}
                Some(_) => return Relation::Apart,
            }
        }
        if mine.next().is_none() { Relation::Contains } else { Relation::Below }
    }

    /// Whether `other` is this folder or inside it.
    pub fn contains(&self, other: &FolderPath) -> bool {
        let segs: Vec<&[u8]> = other.segments().map(str::as_bytes).collect();
        self.relation(&segs) == Relation::Contains
    }
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Folders are shown as WebDAV clients name them, with a trailing slash.
        if self.is_root() { f.write_str("/") } else { write!(f, "{}/", self.0) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// The target is the grant's folder or inside it.
    Contains,
    /// The grant's folder lies below the target.
    Below,
    Apart,
}

/// The home rows of an account whose home is `folder`, relative to the library roots
/// (`alice`, `family/alice`): that folder in each library, read-write; `/` is the whole
/// library.
pub fn home_grants(folder: &str) -> Result<Vec<Grant>, PathError> {
    if folder.trim().is_empty() {
        return Err(PathError::EmptyHome);
    }
    if FolderPath::of_segments(folder)?.is_root() {
        return Ok(vec![Grant::new(FolderPath::root(), Level::Write)]);
    }
    LIBRARIES.iter().map(|lib| Ok(Grant::new(FolderPath::home(folder, lib)?, Level::Write))).collect()
}

/// A folder and what may be done in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    pub path: FolderPath,
    pub level: Level,
}

impl Grant {
    pub fn new(path: FolderPath, level: Level) -> Grant {
        Grant { path, level }
    }
}

/// Where a path stands for an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Inside a grant, at this level.
    Inside(Level),
    /// Above a grant: a folder that leads to one, seen read-only.
    Above,
    /// Nowhere the account may look: answered the same whether it exists or not.
    Outside,
}

/// What a request does to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// List, download, look at properties.
    Read,
    /// Read a whole tree (the source of a COPY): only inside a grant, never above one,
    /// where the tree holds what the account may not see.
    ReadTree,
    /// Make something that does not exist yet (a new file or folder, a lock on an
    /// unmapped URL, the destination of a COPY).
    Create,
    /// Change, overwrite, move, rename, delete, or lock what exists.
    Change,
}

/// Why a request may not act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Outside every grant: the answer a missing path would get (no existence oracle).
    Hidden,
    /// Above the grants: folders there are shown, never changed.
    AboveGrants,
    /// Inside a read grant.
    ReadOnly,
    /// Inside an append grant, on something that exists.
    AddOnly,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Hidden => "Not found",
            Refusal::AboveGrants => {
                "This folder only leads to the folders this account may reach; it cannot be changed"
            }
            Refusal::ReadOnly => "This account may only read here",
            Refusal::AddOnly => "This credential may only add new files and folders here, never change what exists",
        }
    }
}

impl Standing {
    /// Whether `act` may happen at a path standing here.
    pub fn permits(self, act: Act) -> Result<(), Refusal> {
        match (self, act) {
            (Standing::Outside, _) => Err(Refusal::Hidden),
            (Standing::Above, Act::Read) => Ok(()),
            (Standing::Inside(_), Act::ReadTree) => Ok(()),
            (Standing::Above, _) => Err(Refusal::AboveGrants),
            (Standing::Inside(_), Act::Read) => Ok(()),
            (Standing::Inside(Level::Read), _) => Err(Refusal::ReadOnly),
            (Standing::Inside(Level::Append), Act::Create) => Ok(()),
            (Standing::Inside(Level::Append), Act::Change) => Err(Refusal::AddOnly),
            (Standing::Inside(Level::Write), _) => Ok(()),
        }
    }

    /// The most this standing lets a request do, for `Allow` and `DAV:` answers.
    pub fn may_write(self) -> bool {
        matches!(self, Standing::Inside(Level::Append | Level::Write))
    }
}

/// Everything an account (or one of its app passwords) may reach.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Reach {
    grants: Vec<Grant>,
}

impl Reach {
    /// The whole library, read-write: what admins have.
    pub fn whole() -> Reach {
        Reach { grants: vec![Grant::new(FolderPath::root(), Level::Write)] }
    }

    pub fn of(grants: Vec<Grant>) -> Reach {
        Reach { grants }
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Whether this reaches the whole library at every level.
    pub fn is_whole(&self) -> bool {
        self.grants.iter().any(|g| g.path.is_root() && g.level == Level::Write)
    }

    /// Where `path` (segments, the library first; empty for the server's root) stands.
    pub fn standing(&self, path: &[&[u8]]) -> Standing {
        let mut best: Option<Level> = None;
        let mut above = false;
        for g in &self.grants {
            match g.path.relation(path) {
                Relation::Contains => best = best.max(Some(g.level)),
                Relation::Below => above = true,
                Relation::Apart => {}
            }
        }
        match best {
            Some(level) => Standing::Inside(level),
            None if above => Standing::Above,
            None => Standing::Outside,
        }
    }

    /// [`Reach::standing`] of a path given as its library and its decoded path inside
    /// it (`a/b`, slashes anywhere). Names are compared composed (NFC), as the server
    /// stores them.
    pub fn standing_of(&self, library: &str, rel: &[u8]) -> Standing {
        if self.is_whole() {
            return Standing::Inside(Level::Write);
        }
        let composed;
        let rel = match std::str::from_utf8(rel) {
            Ok(s) if !s.is_ascii() => {
                composed = s.nfc().collect::<String>();
                composed.as_bytes()
            }
            _ => rel,
        };
        let mut segs: Vec<&[u8]> = Vec::with_capacity(8);
        segs.push(library.as_bytes());
        segs.extend(rel.split(|b| *b == b'/').filter(|s| !s.is_empty()));
        self.standing(&segs)
    }

    /// This reach seen through an app password limited to `limit`: never more than
    /// both allow.
    pub fn narrowed(&self, limit: &Grant) -> Reach {
        let mut grants = Vec::new();
        for g in &self.grants {
            let level = g.level.min(limit.level);
            if limit.path.contains(&g.path) {
                grants.push(Grant::new(g.path.clone(), level));
            } else if g.path.contains(&limit.path) {
                grants.push(Grant::new(limit.path.clone(), level));
            }
        }
        Reach { grants }
    }

    /// Whether an app password limited to `limit` asks for nothing this reach lacks.
    pub fn covers(&self, limit: &Grant) -> bool {
        let segs: Vec<&[u8]> = limit.path.segments().map(str::as_bytes).collect();
        matches!(self.standing(&segs), Standing::Inside(level) if level >= limit.level)
    }

    /// The library folders (`originals`, `import`) this reach shows at the server's root.
    pub fn libraries(&self) -> impl Iterator<Item = &'static str> + '_ {
        LIBRARIES.into_iter().filter(|lib| self.standing(&[lib.as_bytes()]) != Standing::Outside)
    }

    /// The grants in their shortest form: a grant inside another of at least its level
    /// adds nothing.
    pub fn simplified(mut self) -> Reach {
        self.grants.sort_by_key(|g| g.path.depth());
        let mut kept: Vec<Grant> = Vec::with_capacity(self.grants.len());
        for g in self.grants {
            if !kept.iter().any(|k| k.path.contains(&g.path) && k.level >= g.level) {
                kept.push(g);
            }
        }
        Reach { grants: kept }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "access_tests.rs"]
mod tests;
