//! Open files: reads stream from disk in chunks; uploads go to a hidden temporary file
//! in the target's folder and are renamed into place only once complete, so a cut or
//! failed PUT never leaves a partial file behind.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult};
use futures_util::FutureExt as _;

use super::library::{fs_error, open_for_reading};

/// Files up to this size are read whole when opened: one trip to the disk thread.
const SMALL_FILE: u64 = 64 * 1024;
/// Upload data is written in batches of about this size.
const WRITE_BATCH: usize = 1024 * 1024;

/// Runs blocking file work off the async threads.
pub async fn blocking<T, F>(work: F) -> FsResult<T>
where
    F: FnOnce() -> FsResult<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|_| FsError::GeneralFailure)?
}

/// What PROPFIND and GET show of a file or folder.
#[derive(Debug, Clone)]
pub struct Meta {
    len: u64,
    modified: SystemTime,
    changed: SystemTime,
    accessed: SystemTime,
    is_dir: bool,
    is_symlink: bool,
    executable: bool,
}

impl Meta {
    pub fn new(m: &std::fs::Metadata) -> Meta {
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
}

impl Meta {
    /// Writes the ETag (without quotes) onto `out`, in dav-server's format: size and
    /// modification time in microseconds, in hex. False if there is none.
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

impl DavMetaData for Meta {
    fn etag(&self) -> Option<String> {
        let mut tag = String::with_capacity(32);
        self.write_etag(&mut tag).then_some(tag)
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn modified(&self) -> FsResult<SystemTime> {
        Ok(self.modified)
    }
    fn is_dir(&self) -> bool {
        self.is_dir
    }
    fn is_symlink(&self) -> bool {
        self.is_symlink
    }
    fn accessed(&self) -> FsResult<SystemTime> {
        Ok(self.accessed)
    }
    fn status_changed(&self) -> FsResult<SystemTime> {
        Ok(self.changed)
    }
    fn executable(&self) -> FsResult<bool> {
        Ok(self.executable)
    }
}

/// A file opened for reading: small ones are already in memory.
#[derive(Debug)]
pub struct ReadFile {
    meta: Meta,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Memory { data: Bytes, pos: usize },
    Disk(Option<std::fs::File>),
}

impl ReadFile {
    /// Opens `path` (already resolved). Blocking.
    pub fn open(path: &std::path::Path) -> FsResult<ReadFile> {
        let (mut file, meta) = open_for_reading(path)?;
        let meta = Meta::new(&meta);
        let source = if meta.is_dir || meta.len > SMALL_FILE {
            Source::Disk(Some(file))
        } else {
            let mut data = Vec::with_capacity(usize::try_from(meta.len).unwrap_or(0));
            file.read_to_end(&mut data).map_err(|e| fs_error(&e))?;
            Source::Memory { data: Bytes::from(data), pos: 0 }
        };
        Ok(ReadFile { meta, source })
    }
}

impl DavFile for ReadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        async move { Ok(meta) }.boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            match &mut self.source {
                Source::Memory { data, pos } => {
                    let start = (*pos).min(data.len());
                    let end = start.saturating_add(count).min(data.len());
                    *pos = end;
                    Ok(data.slice(start..end))
                }
                Source::Disk(slot) => {
                    let mut file = slot.take().ok_or(FsError::GeneralFailure)?;
                    let (file, read) = blocking(move || {
                        let mut buf = Vec::with_capacity(count);
                        let read = (&mut file).take(count as u64).read_to_end(&mut buf).map(|_| buf);
                        Ok((file, read))
                    })
                    .await?;
                    *slot = Some(file);
                    Ok(Bytes::from(read.map_err(|e| fs_error(&e))?))
                }
            }
        }
        .boxed()
    }

    fn seek(&mut self, to: SeekFrom) -> FsFuture<'_, u64> {
        async move {
            match &mut self.source {
                Source::Memory { data, pos } => {
                    let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
                    let now = i64::try_from(*pos).unwrap_or(i64::MAX);
                    let target = match to {
                        SeekFrom::Start(n) => i64::try_from(n).unwrap_or(i64::MAX),
                        SeekFrom::End(d) => len.saturating_add(d),
                        SeekFrom::Current(d) => now.saturating_add(d),
                    };
                    let target = usize::try_from(target).map_err(|_| FsError::GeneralFailure)?;
                    *pos = target;
                    Ok(target as u64)
                }
                Source::Disk(Some(file)) => file.seek(to).map_err(|e| fs_error(&e)),
                Source::Disk(None) => Err(FsError::GeneralFailure),
            }
        }
        .boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async { Ok(()) }.boxed()
    }
}

/// An upload in progress: data goes to `temp`, which replaces `target` on flush.
#[derive(Debug)]
pub struct Upload {
    temp: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
    pending: Vec<Bytes>,
    pending_len: usize,
    written: u64,
    /// The announced size of a whole-file upload: anything else is not committed.
    expected: Option<u64>,
    /// A modification time to give the file (`X-OC-MTime`).
    mtime: Option<SystemTime>,
    committed: bool,
}

impl Upload {
    /// Starts an upload next to `target`; `keep` copies the current content first (for
    /// partial updates). Blocking.
    pub fn start(target: PathBuf, keep: bool, expected: Option<u64>, mtime: Option<SystemTime>) -> FsResult<Upload> {
        let folder = target.parent().ok_or(FsError::Forbidden)?;
        let suffix = crate::domain::random::public_id("", 16).map_err(|_| FsError::GeneralFailure)?;
        let mut name = super::library::UPLOAD_PREFIX.to_vec();
        name.extend_from_slice(suffix.as_bytes());
        let temp = folder.join(std::ffi::OsStr::new(&String::from_utf8_lossy(&name).into_owned()));
        if keep {
            std::fs::copy(&target, &temp).map_err(|e| {
                let _ = std::fs::remove_file(&temp);
                fs_error(&e)
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(!keep)
            .truncate(!keep)
            .open(&temp)
            .map_err(|e| fs_error(&e))?;
        Ok(Upload {
            temp,
            target,
            file: Some(file),
            pending: Vec::new(),
            pending_len: 0,
            written: 0,
            expected,
            mtime,
            committed: false,
        })
    }

    /// Fills the upload with a copy of `source` and commits it (COPY). Blocking.
    pub fn fill_from(&mut self, source: &std::path::Path) -> FsResult<()> {
        let mut file = self.file.take().ok_or(FsError::GeneralFailure)?;
        let (mut input, _) = open_for_reading(source)?;
        std::io::copy(&mut input, &mut file).map_err(|e| fs_error(&e))?;
        drop(file);
        std::fs::rename(&self.temp, &self.target).map_err(|e| fs_error(&e))?;
        self.committed = true;
        Ok(())
    }

    /// Writes out what is buffered.
    async fn drain(&mut self) -> FsResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunks = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let mut file = self.file.take().ok_or(FsError::GeneralFailure)?;
        let (file, result) = blocking(move || {
            let result = chunks.iter().try_for_each(|c| file.write_all(c));
            Ok((file, result))
        })
        .await?;
        self.file = Some(file);
        result.map_err(|e| fs_error(&e))
    }

    fn push(&mut self, data: Bytes) -> FsFuture<'_, ()> {
        async move {
            self.written += data.len() as u64;
            self.pending_len += data.len();
            self.pending.push(data);
            if self.pending_len >= WRITE_BATCH {
                self.drain().await?;
            }
            Ok(())
        }
        .boxed()
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl DavFile for Upload {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let path = if self.committed { self.target.clone() } else { self.temp.clone() };
        async move {
            let meta = blocking(move || std::fs::metadata(&path).map_err(|e| fs_error(&e))).await?;
            Ok(Box::new(Meta::new(&meta)) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let data = buf.copy_to_bytes(buf.remaining());
        self.push(data)
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        self.push(buf)
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn seek(&mut self, to: SeekFrom) -> FsFuture<'_, u64> {
        async move {
            self.drain().await?;
            let file = self.file.as_mut().ok_or(FsError::GeneralFailure)?;
            file.seek(to).map_err(|e| fs_error(&e))
        }
        .boxed()
    }

    /// Completes the upload: data on disk, then the rename that makes it visible.
    fn flush(&mut self) -> FsFuture<'_, ()> {
        async move {
            if self.committed {
                return Ok(());
            }
            self.drain().await?;
            if self.expected.is_some_and(|n| n != self.written) {
                return Err(FsError::GeneralFailure);
            }
            let file = self.file.take().ok_or(FsError::GeneralFailure)?;
            let (temp, target, mtime) = (self.temp.clone(), self.target.clone(), self.mtime);
            blocking(move || {
                file.sync_data().map_err(|e| fs_error(&e))?;
                if let Some(t) = mtime {
                    file.set_modified(t).map_err(|e| fs_error(&e))?;
                }
                drop(file);
                std::fs::rename(&temp, &target).map_err(|e| fs_error(&e))
            })
            .await?;
            self.committed = true;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta(len: u64, is_dir: bool) -> Meta {
        let t = UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
        Meta { len, modified: t, changed: t, accessed: t, is_dir, is_symlink: false, executable: false }
    }

    /// The same tag as dav-server's default `DavMetaData::etag` (size and microseconds).
    #[test]
    fn etags_keep_dav_servers_format() {
        assert_eq!(meta(1024, false).etag().unwrap(), format!("400-{:x}", 1_500_000_000_123_456u64));
        assert_eq!(meta(0, false).etag().unwrap(), format!("{:x}", 1_500_000_000_123_456u64));
        assert_eq!(meta(4096, true).etag().unwrap(), format!("{:x}", 1_500_000_000_123_456u64));
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
