//! Where the library's files live: a folder on this machine ([`folder`]) or a prefix in
//! an S3 bucket ([`s3`]). One interface, [`Storage`], answers the storage questions —
//! what is here, read this, write that, copy, rename, remove — in the same terms for
//! both; WebDAV semantics (methods, locks, properties, status codes) are written once
//! above it (`web::dav`) and know nothing of the backend. Errors are [`std::io::Error`]s
//! whose kinds say what happened (`NotFound`, `AlreadyExists`, `PermissionDenied`,
//! `DirectoryNotEmpty`, `StorageFull`, …), whichever backend it was.
//!
//! Paths are [`Rel`]: decoded, relative, checked once (no `.`, `..`, hidden names).

pub mod folder;
pub mod s3;
pub mod sync;
pub mod upload;

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use self::folder::Folder;
pub use self::s3::{Bucket, S3Config, S3Url};

/// Name prefix of hidden temporary files (uploads in progress): never listed, never
/// reachable by a path.
pub const UPLOAD_PREFIX: &[u8] = b".gatehouse-upload-";

/// Whether a name belongs to an upload in progress.
pub fn is_hidden(name: &[u8]) -> bool {
    name.starts_with(UPLOAD_PREFIX)
}

/// Where a library lives: a folder, or a prefix in an S3 bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Folder(std::path::PathBuf),
    Bucket(s3::S3Url),
}

impl Location {
    /// `s3://BUCKET/PREFIX`, or a folder.
    pub fn parse(s: &str) -> Result<Location, String> {
        match s3::S3Url::parse(s) {
            Some(url) => url.map(Location::Bucket),
            None if s.is_empty() => Err("the library path must not be empty".to_owned()),
            None => Ok(Location::Folder(s.into())),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Folder(p) => write!(f, "{}", p.display()),
            Location::Bucket(u) => write!(f, "{u}"),
        }
    }
}

/// A path inside a library: decoded segments joined by `/`, without a leading slash;
/// empty for the library itself. Holds no `.`, `..`, empty or hidden segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Rel(Vec<u8>);

impl Rel {
    /// The library itself.
    pub fn root() -> Rel {
        Rel(Vec::new())
    }

    /// Checks a decoded path (`/a/b`, `a/b/`, …). `.`, `..` and hidden names name
    /// nothing (`NotFound`); empty segments are skipped, as a file system does.
    pub fn new(decoded: &[u8]) -> io::Result<Rel> {
        let mut out = Vec::with_capacity(decoded.len());
        for s in decoded.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
            if is_hidden(s) || s == b".." || s == b"." || s.contains(&0) {
                return Err(io::ErrorKind::NotFound.into());
            }
            if !out.is_empty() {
                out.push(b'/');
            }
            out.extend_from_slice(s);
        }
        Ok(Rel(out))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The folder holding this path (`None` for the library itself).
    pub fn parent(&self) -> Option<Rel> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => Rel(self.0[..i].to_vec()),
            None => Rel::root(),
        })
    }

    /// The last segment (empty for the library itself).
    pub fn name(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// This path with one more segment (a name from a listing).
    pub fn join(&self, name: &[u8]) -> Rel {
        let mut out = self.0.clone();
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        Rel(out)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn within(&self, other: &Rel) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.get(other.0.len()) == Some(&b'/'))
    }
}

/// What a listing or a look-up shows of a file or folder.
#[derive(Debug, Clone)]
pub struct Meta {
    pub len: u64,
    pub modified: SystemTime,
    pub changed: SystemTime,
    pub accessed: SystemTime,
    pub is_dir: bool,
    pub is_symlink: bool,
    pub executable: bool,
}

impl Meta {
    /// From a file system `stat`.
    pub fn from_fs(m: &std::fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt as _;
        let at = |secs: i64, nanos: i64| {
            let d = Duration::new(secs.unsigned_abs(), u32::try_from(nanos).unwrap_or(0));
            if secs >= 0 { UNIX_EPOCH + d } else { UNIX_EPOCH - d }
        };
        Meta {
            len: m.len(),
            modified: at(m.mtime(), m.mtime_nsec()),
            changed: at(m.ctime(), m.ctime_nsec()),
            accessed: at(m.atime(), m.atime_nsec()),
            is_dir: m.is_dir(),
            is_symlink: m.file_type().is_symlink(),
            executable: m.mode() & 0o100 != 0,
        }
    }

    /// An object or folder with a size and one time.
    pub fn object(len: u64, modified: SystemTime, is_dir: bool) -> Meta {
        Meta { len, modified, changed: modified, accessed: modified, is_dir, is_symlink: false, executable: false }
    }

    /// Writes the entity tag (without quotes) onto `out`: size and modification time in
    /// microseconds, in hex (dav-server's format). False if there is none.
    pub fn write_etag(&self, out: &mut String) -> bool {
        let Ok(t) = self.modified.duration_since(UNIX_EPOCH) else { return false };
        let t = t.as_secs() * 1_000_000 + u64::from(t.subsec_micros());
        if !self.is_dir && self.len > 0 {
            push_number::<16>(out, self.len);
            out.push('-');
        }
        push_number::<16>(out, t);
        true
    }
}

/// Writes `n` in `RADIX` (10 or 16, lower case) onto `out`: what `write!` does, without
/// its formatting machinery, for the numbers of every listed file.
pub fn push_number<const RADIX: u64>(out: &mut String, mut n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = DIGITS[(n % RADIX) as usize];
        n /= RADIX;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

/// A listed entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    pub meta: Meta,
}

/// How a write opens its target.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteMode {
    /// The whole content is replaced (a PUT); otherwise the current content is kept
    /// and changed in place (a partial update), or only created (a LOCK of a new name).
    pub replace: bool,
    /// The announced size of a replacing upload: any other size is not committed.
    pub expected: Option<u64>,
    /// A modification time to give the file (`X-OC-MTime`).
    pub mtime: Option<SystemTime>,
    /// A partial update (`Content-Range`, PATCH): the file's content is kept and
    /// changed in a copy that replaces it once complete; `expected` is the size of the
    /// part. Not a partial update (and not `replace`): a LOCK, which creates an empty
    /// file at once.
    pub partial: bool,
    /// A partial update that appends (PATCH `X-Update-Range: append`).
    pub append: bool,
}

/// One library's storage.
#[derive(Debug)]
pub enum Storage {
    Folder(Folder),
    Bucket(Bucket),
}

/// Chooses the TLS implementation of every HTTP client in the process (ring), once;
/// the S3 client calls it, and so must any other client made beside it.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs blocking file work off the async threads.
pub async fn blocking<T, F>(work: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|_| io::Error::other("the disk thread stopped"))?
}

impl Storage {
    /// Refuses (`StorageFull`) to add `bytes` to a folder library whose file system
    /// would keep less than its margin free (`--min-free-space`). S3 is not measured.
    pub async fn room_for(&self, bytes: u64) -> io::Result<()> {
        match self {
            Storage::Folder(f) => f.room_for(bytes),
            Storage::Bucket(_) => Ok(()),
        }
    }

    /// The local folder, for the fast paths only a folder has (`openat2`, `sendfile`).
    pub fn as_folder(&self) -> Option<&Folder> {
        match self {
            Storage::Folder(f) => Some(f),
            Storage::Bucket(_) => None,
        }
    }

    /// What `path` is. A symlink inside a folder shows as its target.
    pub async fn stat(&self, path: &Rel) -> io::Result<Meta> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.stat(&path)).await
            }
            Storage::Bucket(b) => b.stat(path).await,
        }
    }

    /// The entries of the folder `path`. With `links`, symlinks show as themselves
    /// (for walks that delete or copy).
    pub async fn list(&self, path: &Rel, links: bool) -> io::Result<Vec<Entry>> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.list(&path, links)).await
            }
            Storage::Bucket(b) => b.list(path).await,
        }
    }

    /// A folder and its entries at once (one look-up on a folder library, one LIST on
    /// S3); `None` when `path` is not a folder.
    pub async fn list_folder(&self, path: &Rel) -> io::Result<Option<(Meta, Vec<Entry>)>> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.list_folder(&path)).await
            }
            Storage::Bucket(b) => Ok(b.list_folder(path).await?.map(|entries| (s3::folder_meta(), entries))),
        }
    }

    /// Makes the folder `path`; its parent must exist (`NotFound` otherwise).
    pub async fn create_dir(&self, path: &Rel) -> io::Result<()> {
        match self {
            Storage::Folder(f) => {
                let path = path.clone();
                f.durably(move |f| f.create_dir(&path)).await
            }
            Storage::Bucket(b) => b.create_dir(path).await,
        }
    }

    /// Removes the file `path` (a symlink itself, not its target).
    pub async fn remove_file(&self, path: &Rel) -> io::Result<()> {
        match self {
            Storage::Folder(f) => {
                let path = path.clone();
                f.durably(move |f| f.remove_file(&path)).await
            }
            Storage::Bucket(b) => b.remove_file(path).await,
        }
    }

    /// Removes the empty folder `path`. The library itself is never removed.
    pub async fn remove_dir(&self, path: &Rel) -> io::Result<()> {
        if path.is_root() {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        match self {
            Storage::Folder(f) => {
                let path = path.clone();
                f.durably(move |f| f.remove_dir(&path)).await
            }
            Storage::Bucket(b) => b.remove_dir(path).await,
        }
    }

    /// Moves `from` (a file or a whole folder) to `to`, replacing a file there. On a
    /// folder this is one atomic rename; on S3 it is a copy of everything, then the
    /// removal of the source, so a failure half way leaves the source whole.
    pub async fn rename(&self, from: &Rel, to: &Rel) -> io::Result<()> {
        if from.is_root() {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        match self {
            Storage::Folder(f) => {
                let (from, to) = (from.clone(), to.clone());
                f.durably(move |f| f.rename(&from, &to)).await
            }
            Storage::Bucket(b) => b.rename(from, to).await,
        }
    }

    /// Copies the file `from` to `to` (replacing it), complete or not at all.
    pub async fn copy_file(&self, from: &Rel, to: &Rel) -> io::Result<()> {
        match self {
            Storage::Folder(f) => {
                let (from, to) = (from.clone(), to.clone());
                f.durably(move |f| f.copy_file(&from, &to)).await
            }
            Storage::Bucket(b) => b.copy_file(from, to).await,
        }
    }

    /// Gives `path` a modification time.
    pub async fn set_modified(&self, path: &Rel, time: SystemTime) -> io::Result<()> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.set_modified(&path, time)).await
            }
            Storage::Bucket(b) => b.set_modified(path, time).await,
        }
    }

    /// Opens the file `path` for reading.
    pub async fn open_read(&self, path: &Rel) -> io::Result<Reader> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.open_read(&path).map(Reader::File)).await
            }
            Storage::Bucket(b) => b.open_read(path).await.map(Reader::Object),
        }
    }

    /// Starts writing the file `path`. Nothing shows under its name until
    /// [`Writer::commit`]; a writer dropped before that leaves no trace.
    pub async fn create(&self, path: &Rel, mode: WriteMode) -> io::Result<Writer> {
        match self {
            Storage::Folder(f) => {
                let (f, path) = (f.clone(), path.clone());
                blocking(move || f.create(&path, mode).map(Writer::File)).await
            }
            Storage::Bucket(b) => b.create(path, mode).await.map(Writer::Object),
        }
    }
}

/// A file open for reading.
#[derive(Debug)]
pub enum Reader {
    File(folder::FileReader),
    Object(s3::ObjectReader),
}

impl Reader {
    pub fn meta(&self) -> &Meta {
        match self {
            Reader::File(r) => r.meta(),
            Reader::Object(r) => r.meta(),
        }
    }

    /// Up to `count` bytes from the current position; empty at the end.
    pub async fn read(&mut self, count: usize) -> io::Result<Bytes> {
        match self {
            Reader::File(r) => r.read(count).await,
            Reader::Object(r) => r.read(count).await,
        }
    }

    pub fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self {
            Reader::File(r) => r.seek(to),
            Reader::Object(r) => r.seek(to),
        }
    }
}

/// A file being written.
#[derive(Debug)]
pub enum Writer {
    File(upload::Upload),
    Object(s3::Upload),
}

impl Writer {
    pub async fn write(&mut self, data: Bytes) -> io::Result<()> {
        match self {
            Writer::File(w) => w.write(data).await,
            Writer::Object(w) => w.write(data).await,
        }
    }

    /// Moves the write position (partial updates; a folder only).
    pub async fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self {
            Writer::File(w) => w.seek(to).await,
            Writer::Object(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Makes the file appear, complete, under its name.
    pub async fn commit(&mut self) -> io::Result<()> {
        match self {
            Writer::File(w) => w.commit().await,
            Writer::Object(w) => w.commit().await,
        }
    }

    /// What the written file is now (after [`Writer::commit`]: the file itself).
    pub async fn meta(&mut self) -> io::Result<Meta> {
        match self {
            Writer::File(w) => w.meta().await,
            Writer::Object(w) => Ok(w.meta()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_once() {
        assert_eq!(Rel::new(b"/a//b/").unwrap().as_bytes(), b"a/b");
        assert!(Rel::new(b"/").unwrap().is_root());
        for bad in [&b"/a/../b"[..], b"/.", b"/a/.gatehouse-upload-x", b"/a\0b"] {
            assert_eq!(Rel::new(bad).unwrap_err().kind(), io::ErrorKind::NotFound);
        }
        let p = Rel::new(b"a/b/c").unwrap();
        assert_eq!(p.parent().unwrap().as_bytes(), b"a/b");
        assert_eq!(p.name(), b"c");
        assert_eq!(Rel::new(b"a").unwrap().parent().unwrap(), Rel::root());
        assert_eq!(Rel::root().parent(), None);
        assert_eq!(Rel::root().join(b"x").join(b"y").as_bytes(), b"x/y");
        assert!(p.within(&Rel::new(b"a/b").unwrap()));
        assert!(p.within(&Rel::root()));
        assert!(!Rel::new(b"a/bc").unwrap().within(&Rel::new(b"a/b").unwrap()));
    }

    #[test]
    fn etags_keep_dav_servers_format() {
        let t = UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
        let tag = |len, dir| {
            let mut s = String::new();
            Meta::object(len, t, dir).write_etag(&mut s);
            s
        };
        assert_eq!(tag(1024, false), format!("400-{:x}", 1_500_000_000_123_456u64));
        assert_eq!(tag(0, false), format!("{:x}", 1_500_000_000_123_456u64));
        assert_eq!(tag(4096, true), format!("{:x}", 1_500_000_000_123_456u64));
    }

    #[test]
    fn numbers_are_written_like_format() {
        for n in [0, 1, 9, 10, 15, 16, 255, 1024, 1_500_000_000_123_456, u64::MAX] {
            let (mut dec, mut hex) = (String::from("x"), String::from("x"));
            push_number::<10>(&mut dec, n);
            push_number::<16>(&mut hex, n);
            assert_eq!((dec, hex), (format!("x{n}"), format!("x{n:x}")));
        }
    }
}
