//! A library as WebDAV serves it (`/originals/`, `/import/`): its URL prefix, its
//! database key, and its [`Storage`] — a folder or an S3 prefix. The storage answers
//! storage questions in `io::Error`s; [`fs_error`] turns those into WebDAV answers.

use std::io;

use dav_server::davpath::DavPath;
use dav_server::fs::FsError;

use crate::library::{Rel, Storage};

/// One served library.
#[derive(Debug)]
pub struct Library {
    /// The URL prefix and the database key, e.g. `originals`.
    pub name: &'static str,
    /// `/` and the name: the URL prefix.
    prefix: String,
    pub storage: Storage,
    /// The granted folders known to exist (homes are made when first needed).
    pub made: super::access::Made,
}

impl Library {
    pub fn new(name: &'static str, storage: Storage) -> Library {
        Library { name, prefix: format!("/{name}"), storage, made: super::access::Made::default() }
    }

    /// The URL prefix this library is served under, without trailing slash.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The fast path of a GET on a folder library: the regular file a URL path names,
    /// opened in one confined system call ([`crate::library::Folder::open_url`]).
    pub fn open_url(&self, url_path: &str) -> Option<(std::fs::File, std::fs::Metadata)> {
        let rest = url_path.strip_prefix(self.prefix())?;
        self.storage.as_folder()?.open_url(rest)
    }
}

/// The library path of a WebDAV path (prefix already set).
pub fn rel(path: &DavPath) -> Result<Rel, FsError> {
    Rel::new(path.as_bytes()).map_err(|e| fs_error(&e))
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

/// Maps a storage error to the WebDAV answer it deserves: a full disk is 507, a refused
/// permission 403, never a bare 500 for the client's or the storage's state.
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
        K::Unsupported => FsError::NotImplemented,
        _ if e.raw_os_error() == Some(ELOOP) => FsError::LoopDetected,
        _ => {
            tracing::warn!(error = %e, "storage error");
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
}
