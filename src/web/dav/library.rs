//! A library folder on disk (`/originals/`, `/import/`) and the one rule for turning a
//! WebDAV path into a file path: it must stay inside the folder. Symlinks are followed
//! only while their target is inside the same folder; in-progress uploads are invisible.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};

use dav_server::davpath::DavPath;
use dav_server::fs::FsError;
use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Name prefix of the hidden temporary files uploads are written to.
pub const UPLOAD_PREFIX: &[u8] = b".gatehouse-upload-";

/// One served folder.
#[derive(Debug)]
pub struct Library {
    /// The URL prefix and the database key, e.g. `originals`.
    pub name: &'static str,
    /// `/` and the name: the URL prefix.
    prefix: String,
    /// The folder, canonical (symlinks and `..` resolved).
    root: PathBuf,
    /// The folder, open (`O_PATH`), for opening files beneath it in the kernel.
    root_fd: OwnedFd,
}

impl Library {
    /// Creates the folder if missing and pins its canonical path.
    pub fn open(name: &'static str, folder: &Path) -> io::Result<Library> {
        std::fs::create_dir_all(folder)?;
        let root = std::fs::canonicalize(folder)?;
        let root_fd = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Library { name, prefix: format!("/{name}"), root, root_fd })
    }

    /// Opens the regular file a URL path (percent-encoded, with the prefix) names for
    /// reading, in one system call that cannot leave the library: `openat2` with
    /// `RESOLVE_BENEATH` makes the kernel refuse `..`, absolute symlinks and links that
    /// lead out. Non-blocking, so a FIFO cannot hang the caller. `None` when the answer
    /// needs [`Library::resolve`] (older kernels, absolute symlinks that stay inside,
    /// folders, special files, encoded slashes, errors): that is the one rule; this is
    /// its fast path, never more permissive.
    pub fn open_url(&self, url_path: &str) -> Option<(File, std::fs::Metadata)> {
        let rest = url_path.strip_prefix(self.prefix())?;
        if !(rest.is_empty() || rest.starts_with('/')) || rest.contains("%2f") || rest.contains("%2F") {
            return None;
        }
        let decoded: std::borrow::Cow<'_, [u8]> = percent_encoding::percent_decode_str(rest).into();
        let relative = relative(&decoded).ok()?;
        if relative.as_os_str().is_empty() {
            return None;
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let file = File::from(rustix::fs::openat2(&self.root_fd, &relative, flags, Mode::empty(), resolve).ok()?);
        let meta = file.metadata().ok()?;
        meta.is_file().then_some((file, meta))
    }

    /// The URL prefix this library is served under, without trailing slash.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The file path for `path` if it lies inside the library. The last segment need not
    /// exist (for uploads and new folders); everything above it must. Blocking.
    pub fn resolve(&self, path: &DavPath) -> Result<PathBuf, FsError> {
        let joined = self.join(path)?;
        match std::fs::canonicalize(&joined) {
            Ok(real) if real.starts_with(&self.root) => Ok(real),
            Ok(_) => Err(FsError::Forbidden),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.resolve_missing(&joined),
            Err(e) => Err(fs_error(&e)),
        }
    }

    /// The path of the entry `path` names itself: a symlink as the link, not its target
    /// (what DELETE and MOVE act on). Its folder must be inside. Blocking.
    pub fn resolve_entry(&self, path: &DavPath) -> Result<PathBuf, FsError> {
        let joined = self.join(path)?;
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return Ok(self.root.clone());
        };
        if joined == self.root {
            return Ok(self.root.clone());
        }
        let real_parent = std::fs::canonicalize(parent).map_err(|e| fs_error(&e))?;
        if !real_parent.starts_with(&self.root) {
            return Err(FsError::Forbidden);
        }
        Ok(real_parent.join(name))
    }

    /// The library folder joined with the segments of `path`, refusing hidden uploads.
    fn join(&self, path: &DavPath) -> Result<PathBuf, FsError> {
        Ok(self.root.join(relative(path.as_bytes())?))
    }

    /// A path whose last segment does not exist: its folder must be inside, and the
    /// name must not be a dangling symlink (writing through it could leave the library).
    fn resolve_missing(&self, joined: &Path) -> Result<PathBuf, FsError> {
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return Err(FsError::NotFound);
        };
        let real_parent = std::fs::canonicalize(parent).map_err(|e| fs_error(&e))?;
        if !real_parent.starts_with(&self.root) {
            return Err(FsError::Forbidden);
        }
        let target = real_parent.join(name);
        match std::fs::symlink_metadata(&target) {
            Ok(_) => Err(FsError::Forbidden),
            Err(_) => Ok(target),
        }
    }

    /// Whether a real path (from [`Library::resolve`] or a listing) is inside.
    pub fn contains(&self, real: &Path) -> bool {
        real.starts_with(&self.root)
    }

    /// Whether `path` is the library folder itself.
    pub fn is_root(&self, real: &Path) -> bool {
        real == self.root
    }
}

/// Opens a resolved path for reading. Never waits on a special file (a FIFO would block
/// until some writer came along): anything but a regular file or a folder is refused.
/// Blocking.
pub fn open_for_reading(real: &Path) -> Result<(File, std::fs::Metadata), FsError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(real)
        .map_err(|e| fs_error(&e))?;
    let meta = file.metadata().map_err(|e| fs_error(&e))?;
    if !(meta.is_file() || meta.is_dir()) {
        return Err(FsError::Forbidden);
    }
    Ok((file, meta))
}

/// The segments of a decoded library path (`/a/b`), relative to the folder; no `.`,
/// `..` or hidden uploads.
fn relative(decoded: &[u8]) -> Result<PathBuf, FsError> {
    let mut relative = Vec::with_capacity(decoded.len());
    for s in decoded.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
        if is_hidden(s) || s == b".." || s == b"." {
            return Err(FsError::NotFound);
        }
        if !relative.is_empty() {
            relative.push(b'/');
        }
        relative.extend_from_slice(s);
    }
    Ok(PathBuf::from(std::ffi::OsString::from_vec(relative)))
}

/// Whether a file name belongs to an upload in progress.
pub fn is_hidden(name: &[u8]) -> bool {
    name.starts_with(UPLOAD_PREFIX)
}

/// The database key of a WebDAV path: percent-encoded, no trailing slash, `/` for the
/// library folder itself.
pub fn key(path: &DavPath) -> String {
    let url = path.as_url_string();
    let trimmed = url.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_owned() } else { trimmed.to_owned() }
}

/// The key of the folder that holds `key`.
pub fn parent_key(key: &str) -> String {
    match key.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => key[..i].to_owned(),
    }
}

/// `ELOOP` on Linux: too many symlinks (its `ErrorKind` is not stable yet).
const ELOOP: i32 = 40;

/// Maps an I/O error to the WebDAV answer it deserves: a full disk is 507, a refused
/// permission 403, never a bare 500 for the client's or the disk's state.
pub fn fs_error(e: &io::Error) -> FsError {
    use io::ErrorKind as K;
    match e.kind() {
        // A path through a file (`file.txt/child`) names nothing: 404, and 409 for a PUT
        // or MKCOL there (RFC 4918 §9.7.1, §9.3.1), as for a missing folder.
        K::NotFound | K::NotADirectory => FsError::NotFound,
        K::PermissionDenied | K::ReadOnlyFilesystem | K::IsADirectory => FsError::Forbidden,
        K::StorageFull | K::QuotaExceeded | K::TooManyLinks => FsError::InsufficientStorage,
        K::AlreadyExists | K::DirectoryNotEmpty => FsError::Exists,
        K::FileTooLarge => FsError::TooLarge,
        K::InvalidFilename => FsError::PathTooLong,
        K::CrossesDevices => FsError::IsRemote,
        _ if e.raw_os_error() == Some(ELOOP) => FsError::LoopDetected,
        _ => {
            tracing::warn!(error = %e, "file system error");
            FsError::GeneralFailure
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_without_trailing_slash() {
        assert_eq!(key(&DavPath::new("/").unwrap()), "/");
        assert_eq!(key(&DavPath::new("/a%20b/").unwrap()), "/a%20b");
        assert_eq!(key(&DavPath::new("/a/b%23c").unwrap()), "/a/b%23c");
        assert_eq!(parent_key("/a/b"), "/a");
        assert_eq!(parent_key("/a"), "/");
        assert_eq!(parent_key("/"), "/");
    }

    #[test]
    fn io_errors_map_to_client_answers() {
        let e = |k| fs_error(&io::Error::from(k));
        assert_eq!(e(io::ErrorKind::StorageFull), FsError::InsufficientStorage);
        assert_eq!(e(io::ErrorKind::QuotaExceeded), FsError::InsufficientStorage);
        assert_eq!(e(io::ErrorKind::PermissionDenied), FsError::Forbidden);
        assert_eq!(e(io::ErrorKind::ReadOnlyFilesystem), FsError::Forbidden);
        assert_eq!(fs_error(&io::Error::from_raw_os_error(28)), FsError::InsufficientStorage);
        assert_eq!(fs_error(&io::Error::from_raw_os_error(1)), FsError::Forbidden);
    }

    /// A library at `lib/` beside a folder `outside/` holding a file `secret`.
    fn library_beside_a_secret() -> (tempfile::TempDir, Library, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"x").unwrap();
        let lib = Library::open("originals", &dir.path().join("lib")).unwrap();
        (dir, lib, outside)
    }

    #[test]
    fn paths_stay_inside_the_folder() {
        let (dir, lib, outside) = library_beside_a_secret();
        std::os::unix::fs::symlink(&outside, dir.path().join("lib/out")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("lib/in"), dir.path().join("lib/dangling")).unwrap();
        std::fs::create_dir(dir.path().join("lib/sub")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("lib/sub"), dir.path().join("lib/inside")).unwrap();
        let p = |s: &str| DavPath::new(s).unwrap();
        assert_eq!(lib.resolve(&p("/out/secret")), Err(FsError::Forbidden));
        assert_eq!(lib.resolve(&p("/out")), Err(FsError::Forbidden));
        assert_eq!(lib.resolve(&p("/out/new")), Err(FsError::Forbidden));
        assert_eq!(lib.resolve(&p("/dangling")), Err(FsError::Forbidden));
        assert!(lib.resolve(&p("/inside/new")).is_ok());
        assert!(lib.resolve(&p("/sub")).is_ok());
        assert_eq!(lib.resolve_entry(&p("/out")).unwrap(), lib.root.join("out"));
        assert_eq!(lib.resolve_entry(&p("/out/secret")), Err(FsError::Forbidden));
        assert_eq!(lib.resolve_entry(&p("/")).unwrap(), lib.root);
        assert_eq!(lib.resolve(&p("/.gatehouse-upload-x")), Err(FsError::NotFound));
        assert_eq!(lib.resolve(&p("/missing/new")), Err(FsError::NotFound));
    }

    #[test]
    fn the_fast_open_is_never_more_permissive_than_resolve() {
        let (dir, lib, outside) = library_beside_a_secret();
        let root = dir.path().join("lib");
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/photo.jpg"), b"jpeg").unwrap();
        std::fs::write(root.join(".gatehouse-upload-x"), b"partial").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("secret-link")).unwrap();
        std::os::unix::fs::symlink("../outside/secret", root.join("relative-out")).unwrap();
        std::os::unix::fs::symlink("sub/photo.jpg", root.join("relative-in")).unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, root.join("fifo"), rustix::fs::FileType::Fifo, Mode::RUSR, 0).unwrap();
        let read = |s: &str| lib.open_url(s).map(|(f, _)| std::io::read_to_string(f).unwrap());
        assert_eq!(read("/originals/sub/photo.jpg").as_deref(), Some("jpeg"));
        assert_eq!(read("/originals/sub/photo%2Ejpg").as_deref(), Some("jpeg"), "decoded");
        assert_eq!(read("/originals//sub/photo.jpg").as_deref(), Some("jpeg"), "empty segments skipped");
        assert_eq!(read("/originals/relative-in").as_deref(), Some("jpeg"), "links inside are followed");
        for refused in [
            "/originals/out/secret",
            "/originals/secret-link",
            "/originals/relative-out",
            "/originals/.gatehouse-upload-x",
            "/originals/%2Egatehouse-upload-x",
            "/originals/sub",
            "/originals/",
            "/originals",
            "/originals/fifo",
            "/originals/missing",
            "/originals/../outside/secret",
            "/originals/%2e%2e/outside/secret",
            "/originals/sub/%2e%2e/%2e%2e/outside/secret",
            "/originals/sub%2fphoto.jpg",
            "/originals/sub%2Fphoto.jpg",
            "/originalssub/photo.jpg",
            "/import/sub/photo.jpg",
        ] {
            assert!(read(refused).is_none(), "{refused}");
        }
    }
}
