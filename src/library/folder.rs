//! A library folder on this machine, and the one rule for turning a library path into
//! a file path: it must stay inside the folder. Symlinks are followed only while their
//! target is inside the same folder; uploads in progress are hidden temporary files in
//! the target's folder, renamed into place only once complete, so a cut or failed
//! upload never leaves a partial file behind. A change is answered only once it is on
//! disk: the methods that change the folder do so and return the folders they
//! [`Touched`], which [`Folder::settle`] syncs (shared among concurrent changes,
//! [`super::sync`]) before the change is answered. Every method here but `settle`
//! blocks: the async interface ([`super::Storage`]) runs them on the disk thread.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::sync::{Dir, Syncer, Touched};
use super::upload::{Keep, Upload};
use super::{Entry, Meta, Rel, WriteMode, blocking, is_hidden};

/// Files up to this size are read whole when opened: one trip to the disk thread.
const SMALL_FILE: u64 = 64 * 1024;

/// One served folder. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Folder(Arc<Root>);

#[derive(Debug)]
struct Root {
    /// The folder, canonical (symlinks and `..` resolved).
    path: PathBuf,
    /// The folder, open (`O_PATH`), for opening files beneath it in the kernel.
    fd: OwnedFd,
    /// Bytes that must stay free on the folder's file system (`--min-free-space`).
    min_free: u64,
    /// The syncs of the folder's directories, shared by concurrent changes.
    syncer: Syncer,
}

impl Folder {
    /// Creates the folder if missing and pins its canonical path.
    pub fn open(folder: &Path) -> io::Result<Folder> {
        Folder::open_keeping_free(folder, 0)
    }

    /// [`Folder::open`], refusing anything that would leave fewer than `min_free` bytes
    /// free on the folder's file system ([`Folder::room_for`]).
    pub fn open_keeping_free(folder: &Path, min_free: u64) -> io::Result<Folder> {
        std::fs::create_dir_all(folder)?;
        let path = std::fs::canonicalize(folder)?;
        let fd = rustix::fs::open(&path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Folder(Arc::new(Root { path, fd, min_free, syncer: Syncer::default() })))
    }

    /// Returns once the folders a change touched are synced by syncs that started
    /// after the change: from then on it survives a power loss.
    pub async fn settle(&self, touched: Touched) -> io::Result<()> {
        self.0.syncer.settle(touched).await
    }

    /// Runs a change on the disk thread, then settles what it touched.
    pub async fn durably<F>(&self, change: F) -> io::Result<()>
    where
        F: FnOnce(&Folder) -> io::Result<Touched> + Send + 'static,
    {
        let folder = self.clone();
        let touched = blocking(move || change(&folder)).await?;
        self.settle(touched).await
    }

    /// Refuses (`StorageFull`) to add `bytes` to the folder's file system if fewer than
    /// the margin would be left free for anyone else (the database, the system): the
    /// one check every write that adds to the library passes before it writes.
    pub fn room_for(&self, bytes: u64) -> io::Result<()> {
        if self.0.min_free == 0 {
            return Ok(());
        }
        let st = rustix::fs::fstatvfs(&self.0.fd)?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < self.0.min_free.saturating_add(bytes) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "the library's disk keeps its minimum free space (--min-free-space)",
            ));
        }
        Ok(())
    }

    /// Opens the regular file a URL path below the library (percent-encoded, starting
    /// with `/`) names, in one system call that cannot leave the folder: `openat2` with
    /// `RESOLVE_BENEATH` makes the kernel refuse `..`, absolute symlinks and links that
    /// lead out. Non-blocking, so a FIFO cannot hang the caller. `None` when the answer
    /// needs [`Folder::resolve`] (older kernels, absolute symlinks that stay inside,
    /// folders, special files, encoded slashes, errors): that is the one rule; this is
    /// its fast path, never more permissive.
    pub fn open_url(&self, rest: &str) -> Option<(File, std::fs::Metadata)> {
        if !(rest.is_empty() || rest.starts_with('/')) || rest.contains("%2f") || rest.contains("%2F") {
            return None;
        }
        let decoded: std::borrow::Cow<'_, [u8]> = percent_encoding::percent_decode_str(rest).into();
        let relative = Rel::new(&decoded).ok()?;
        if relative.is_root() {
            return None;
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let name = std::ffi::OsStr::from_bytes(relative.as_bytes());
        let file = File::from(rustix::fs::openat2(&self.0.fd, name, flags, Mode::empty(), resolve).ok()?);
        let meta = file.metadata().ok()?;
        meta.is_file().then_some((file, meta))
    }

    /// The file path for `path` if it lies inside the folder. The last segment need not
    /// exist (for uploads and new folders); everything above it must.
    pub fn resolve(&self, path: &Rel) -> io::Result<PathBuf> {
        let joined = self.join(path);
        match std::fs::canonicalize(&joined) {
            Ok(real) if real.starts_with(&self.0.path) => Ok(real),
            Ok(_) => Err(io::ErrorKind::PermissionDenied.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.resolve_missing(&joined),
            Err(e) => Err(e),
        }
    }

    /// The path of the entry `path` names itself: a symlink as the link, not its target
    /// (what deleting and moving act on). Its folder must be inside.
    pub fn resolve_entry(&self, path: &Rel) -> io::Result<PathBuf> {
        let joined = self.join(path);
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return Ok(self.0.path.clone());
        };
        if joined == self.0.path {
            return Ok(self.0.path.clone());
        }
        let real_parent = std::fs::canonicalize(parent)?;
        if !real_parent.starts_with(&self.0.path) {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        Ok(real_parent.join(name))
    }

    fn join(&self, path: &Rel) -> PathBuf {
        self.0.path.join(std::ffi::OsStr::from_bytes(path.as_bytes()))
    }

    /// A path whose last segment does not exist: its folder must be inside, and the
    /// name must not be a dangling symlink (writing through it could leave the folder).
    fn resolve_missing(&self, joined: &Path) -> io::Result<PathBuf> {
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let real_parent = std::fs::canonicalize(parent)?;
        if !real_parent.starts_with(&self.0.path) {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        let target = real_parent.join(name);
        match std::fs::symlink_metadata(&target) {
            Ok(_) => Err(io::ErrorKind::PermissionDenied.into()),
            Err(_) => Ok(target),
        }
    }

    /// Whether a real path (from [`Folder::resolve`] or a listing) is inside.
    fn contains(&self, real: &Path) -> bool {
        real.starts_with(&self.0.path)
    }

    pub fn stat(&self, path: &Rel) -> io::Result<Meta> {
        Ok(Meta::from_fs(&std::fs::metadata(self.resolve(path)?)?))
    }

    /// Lists a folder: hidden uploads and symlinks leading out are left out. Symlinks
    /// show as their target, except with `links` (delete and copy walks), which must see
    /// the link itself so that deleting a folder never follows a link into another.
    pub fn list(&self, path: &Rel, links: bool) -> io::Result<Vec<Entry>> {
        self.list_resolved(&self.resolve(path)?, links)
    }

    /// A folder and its entries, resolved once (a PROPFIND Depth 1); `None` for a file.
    pub fn list_folder(&self, path: &Rel) -> io::Result<Option<(Meta, Vec<Entry>)>> {
        let dir = self.resolve(path)?;
        let meta = std::fs::metadata(&dir)?;
        if !meta.is_dir() {
            return Ok(None);
        }
        Ok(Some((Meta::from_fs(&meta), self.list_resolved(&dir, false)?)))
    }

    fn list_resolved(&self, dir: &Path, links: bool) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().as_bytes().to_vec();
            if is_hidden(&name) {
                continue;
            }
            let Ok(kind) = entry.file_type() else { continue };
            let meta = if kind.is_symlink() {
                match std::fs::canonicalize(entry.path()) {
                    Ok(real) if self.contains(&real) && !links => std::fs::metadata(real),
                    Ok(real) if self.contains(&real) => entry.metadata(),
                    _ => continue,
                }
            } else {
                entry.metadata()
            };
            if let Ok(m) = meta {
                out.push(Entry { name, meta: Meta::from_fs(&m) });
            }
        }
        Ok(out)
    }

    /// Makes a folder; the new folder and the one holding it are left to settle.
    pub fn create_dir(&self, path: &Rel) -> io::Result<Touched> {
        let real = self.resolve(path)?;
        self.room_for(0)?;
        let parent = Dir::parent_of(&real)?;
        std::fs::create_dir(&real)?;
        Ok(Touched::new().dir(parent).dir(Dir::open(&real)?))
    }

    pub fn remove_file(&self, path: &Rel) -> io::Result<Touched> {
        let entry = self.resolve_entry(path)?;
        let parent = Dir::parent_of(&entry)?;
        std::fs::remove_file(&entry)?;
        Ok(Touched::new().dir(parent))
    }

    /// The library itself is refused one level up, in [`super::Storage`], for both
    /// backends. Hidden uploads in the folder go with it: never listed, they would
    /// otherwise keep it from being removed (an upload into a folder being deleted
    /// fails, as it would with the folder gone).
    pub fn remove_dir(&self, path: &Rel) -> io::Result<Touched> {
        let dir = self.resolve_entry(path)?;
        let parent = Dir::parent_of(&dir)?;
        match std::fs::remove_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
                for entry in std::fs::read_dir(&dir)?.flatten() {
                    let hidden = is_hidden(entry.file_name().as_bytes());
                    if hidden && entry.file_type().is_ok_and(|t| t.is_file()) {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
                std::fs::remove_dir(&dir)?;
            }
            other => other?,
        }
        Ok(Touched::new().dir(parent))
    }

    /// Removes hidden uploads untouched since `before` anywhere in the library: left by
    /// a process killed mid-upload, they are never listed, so nothing else would ever
    /// remove them. Links are not followed. How many were removed.
    pub fn remove_abandoned_uploads(&self, before: SystemTime) -> usize {
        let mut removed = 0;
        let mut folders = vec![self.0.path.clone()];
        while let Some(dir) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    folders.push(entry.path());
                } else if kind.is_file()
                    && is_hidden(entry.file_name().as_bytes())
                    && entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before)
                    && std::fs::remove_file(entry.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Moves an entry; both folders (one, within a folder) are left to settle.
    pub fn rename(&self, from: &Rel, to: &Rel) -> io::Result<Touched> {
        let (from, to) = (self.resolve_entry(from)?, self.resolve(to)?);
        let touched = Touched::new().dir(Dir::parent_of(&from)?).dir(Dir::parent_of(&to)?);
        std::fs::rename(from, to)?;
        Ok(touched)
    }

    /// Copies through a hidden file: the copy appears complete or not at all, its data
    /// on disk before its name.
    pub fn copy_file(&self, from: &Rel, to: &Rel) -> io::Result<Touched> {
        let src = self.resolve(from)?;
        self.room_for(std::fs::metadata(&src)?.len())?;
        let mut upload = Upload::start(self, self.resolve(to)?, Keep::Nothing, None, None)?;
        upload.fill_from(&src)
    }

    /// Sets a file's modification time, on disk before it is answered.
    pub fn set_modified(&self, path: &Rel, time: SystemTime) -> io::Result<()> {
        let real = self.resolve(path)?;
        let file = File::options().write(true).open(&real).or_else(|_| File::open(&real))?;
        file.set_modified(time)?;
        file.sync_all()
    }

    pub fn open_read(&self, path: &Rel) -> io::Result<FileReader> {
        FileReader::open(&self.resolve(path)?)
    }

    /// Starts an upload to `path`; see [`WriteMode`]. Checked before anything is
    /// written: a file already there must be a file, and the disk must keep its margin
    /// with the announced bytes (and for a partial update the copy of the file) added.
    pub fn create(&self, path: &Rel, mode: WriteMode) -> io::Result<Upload> {
        let real = self.resolve(path)?;
        let current = match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => return Err(io::ErrorKind::IsADirectory.into()),
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let adding = mode.expected.unwrap_or(0);
        if mode.replace {
            self.room_for(adding)?;
            return Upload::start(self, real, Keep::Nothing, mode.expected, mode.mtime);
        }
        if mode.partial {
            // A partial update changes a copy of the file (or a new, empty one), which
            // replaces it only once complete: a refused or cut write leaves it as it was.
            self.room_for(current.unwrap_or(0).saturating_add(adding))?;
            let keep = if current.is_some() { Keep::Content { append: mode.append } } else { Keep::Nothing };
            return Upload::start(self, real, keep, mode.expected, mode.mtime);
        }
        // A LOCK on a new name: an empty file exists from now on.
        self.room_for(0)?;
        match File::create_new(&real) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Upload::start(self, real, Keep::Content { append: false }, None, mode.mtime)
    }
}

/// Opens a resolved path for reading. Never waits on a special file (a FIFO would block
/// until some writer came along): anything but a regular file or a folder is refused.
pub fn open_for_reading(real: &Path) -> io::Result<(File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(i32::try_from(flags.bits()).unwrap_or(0)).open(real)?;
    let meta = file.metadata()?;
    if !(meta.is_file() || meta.is_dir()) {
        return Err(io::ErrorKind::PermissionDenied.into());
    }
    Ok((file, meta))
}

/// A file opened for reading: small ones are already in memory.
#[derive(Debug)]
pub struct FileReader {
    meta: Meta,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Memory { data: Bytes, pos: usize },
    Disk(Option<File>),
}

impl FileReader {
    fn open(path: &Path) -> io::Result<FileReader> {
        let (mut file, meta) = open_for_reading(path)?;
        let meta = Meta::from_fs(&meta);
        let source = if meta.is_dir || meta.len > SMALL_FILE {
            Source::Disk(Some(file))
        } else {
            let mut data = Vec::with_capacity(usize::try_from(meta.len).unwrap_or(0));
            file.read_to_end(&mut data)?;
            Source::Memory { data: Bytes::from(data), pos: 0 }
        };
        Ok(FileReader { meta, source })
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub async fn read(&mut self, count: usize) -> io::Result<Bytes> {
        match &mut self.source {
            Source::Memory { data, pos } => {
                let start = (*pos).min(data.len());
                let end = start.saturating_add(count).min(data.len());
                *pos = end;
                Ok(data.slice(start..end))
            }
            Source::Disk(slot) => {
                let mut file = slot.take().ok_or_else(|| io::Error::other("read after a failed read"))?;
                let (file, read) = blocking(move || {
                    let mut buf = Vec::with_capacity(count);
                    let read = (&mut file).take(count as u64).read_to_end(&mut buf).map(|_| buf);
                    Ok((file, read))
                })
                .await?;
                *slot = Some(file);
                Ok(Bytes::from(read?))
            }
        }
    }

    pub fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match &mut self.source {
            Source::Memory { data, pos } => {
                let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
                let now = i64::try_from(*pos).unwrap_or(i64::MAX);
                let target = match to {
                    SeekFrom::Start(n) => i64::try_from(n).unwrap_or(i64::MAX),
                    SeekFrom::End(d) => len.saturating_add(d),
                    SeekFrom::Current(d) => now.saturating_add(d),
                };
                let target = usize::try_from(target).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                *pos = target;
                Ok(target as u64)
            }
            Source::Disk(Some(file)) => file.seek(to),
            Source::Disk(None) => Err(io::Error::other("read after a failed read")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A library at `lib/` beside a folder `outside/` holding a file `secret`.
    fn library_beside_a_secret() -> (tempfile::TempDir, Folder, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"x").unwrap();
        let lib = Folder::open(&dir.path().join("lib")).unwrap();
        (dir, lib, outside)
    }

    fn denied<T: std::fmt::Debug>(r: io::Result<T>) -> bool {
        r.is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied)
    }

    #[test]
    fn paths_stay_inside_the_folder() {
        let (dir, lib, outside) = library_beside_a_secret();
        std::os::unix::fs::symlink(&outside, dir.path().join("lib/out")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("lib/in"), dir.path().join("lib/dangling")).unwrap();
        std::fs::create_dir(dir.path().join("lib/sub")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("lib/sub"), dir.path().join("lib/inside")).unwrap();
        let p = |s: &str| Rel::new(s.as_bytes()).unwrap();
        assert!(denied(lib.resolve(&p("/out/secret"))));
        assert!(denied(lib.resolve(&p("/out"))));
        assert!(denied(lib.resolve(&p("/out/new"))));
        assert!(denied(lib.resolve(&p("/dangling"))));
        assert!(lib.resolve(&p("/inside/new")).is_ok());
        assert!(lib.resolve(&p("/sub")).is_ok());
        assert_eq!(lib.resolve_entry(&p("/out")).unwrap(), lib.0.path.join("out"));
        assert!(denied(lib.resolve_entry(&p("/out/secret"))));
        assert_eq!(lib.resolve_entry(&p("/")).unwrap(), lib.0.path);
        assert_eq!(lib.resolve(&p("/missing/new")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn the_library_itself_is_never_removed_or_moved() {
        let (dir, lib, _) = library_beside_a_secret();
        let storage = super::super::Storage::Folder(lib);
        let root = Rel::root();
        assert!(denied(storage.remove_dir(&root).await));
        assert!(denied(storage.rename(&root, &Rel::new(b"x").unwrap()).await));
        assert!(dir.path().join("lib").is_dir());
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
        assert_eq!(read("/sub/photo.jpg").as_deref(), Some("jpeg"));
        assert_eq!(read("/sub/photo%2Ejpg").as_deref(), Some("jpeg"), "decoded");
        assert_eq!(read("//sub/photo.jpg").as_deref(), Some("jpeg"), "empty segments skipped");
        assert_eq!(read("/relative-in").as_deref(), Some("jpeg"), "links inside are followed");
        for refused in [
            "/out/secret",
            "/secret-link",
            "/relative-out",
            "/.gatehouse-upload-x",
            "/%2Egatehouse-upload-x",
            "/sub",
            "/",
            "",
            "/fifo",
            "/missing",
            "/../outside/secret",
            "/%2e%2e/outside/secret",
            "/sub/%2e%2e/%2e%2e/outside/secret",
            "/sub%2fphoto.jpg",
            "/sub%2Fphoto.jpg",
            "sub/photo.jpg",
        ] {
            assert!(read(refused).is_none(), "{refused}");
        }
    }
}
