//! Uploads to a folder library: the data goes to a hidden temporary file beside the
//! target, which replaces it only once complete and on disk, so that neither a cut
//! upload nor a power loss ever shows a partial file under the target's name, and a
//! `201 Created` means the file survives a power loss ([`Upload::commit`]).

use std::fs::File;
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;

use super::folder::{Folder, open_for_reading};
use super::sync::{Dir, Touched};
use super::{Meta, UPLOAD_PREFIX, blocking};

/// Upload data is written in batches of about this size.
const WRITE_BATCH: usize = 1024 * 1024;

/// What an upload starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// An empty file.
    Nothing,
    /// A copy of the current content (partial updates); with `append`, every write
    /// goes to its end.
    Content { append: bool },
}

/// An upload in progress: data goes to `temp`, which replaces `target` on commit.
#[derive(Debug)]
pub struct Upload {
    /// The library, for its free-space margin.
    folder: Folder,
    temp: PathBuf,
    target: PathBuf,
    file: Option<File>,
    pending: Vec<Bytes>,
    pending_len: usize,
    written: u64,
    /// The announced size of a whole-file upload: anything else is not committed.
    expected: Option<u64>,
    /// A modification time to give the file (`X-OC-MTime`).
    mtime: Option<SystemTime>,
    committed: bool,
    /// What the file was once committed (what a client is told of it next).
    landed: Option<Meta>,
}

impl Upload {
    /// Starts an upload next to `target`; [`Keep::Content`] copies the current content
    /// first (for partial updates).
    pub(super) fn start(
        library: &Folder,
        target: PathBuf,
        keep: Keep,
        expected: Option<u64>,
        mtime: Option<SystemTime>,
    ) -> io::Result<Upload> {
        let (keep, append) = match keep {
            Keep::Nothing => (false, false),
            Keep::Content { append } => (true, append),
        };
        let folder = target.parent().ok_or(io::ErrorKind::PermissionDenied)?;
        let suffix = crate::domain::random::public_id("", 16).map_err(|_| io::Error::other("no randomness"))?;
        let mut name = UPLOAD_PREFIX.to_vec();
        name.extend_from_slice(suffix.as_bytes());
        let temp = folder.join(std::ffi::OsString::from_vec(name));
        if keep {
            std::fs::copy(&target, &temp).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })?;
        }
        let file = std::fs::OpenOptions::new().write(true).append(append).create(!keep).truncate(!keep).open(&temp)?;
        Ok(Upload {
            folder: library.clone(),
            temp,
            target,
            file: Some(file),
            pending: Vec::new(),
            pending_len: 0,
            written: 0,
            expected,
            mtime,
            committed: false,
            landed: None,
        })
    }

    /// Fills the upload with a copy of `source` and renames it into place, data first
    /// on disk; the target's folder is left to settle.
    pub(super) fn fill_from(&mut self, source: &Path) -> io::Result<Touched> {
        let mut file = self.file.take().ok_or_else(|| io::Error::other("upload already closed"))?;
        let (mut input, _) = open_for_reading(source)?;
        io::copy(&mut input, &mut file)?;
        let (touched, meta) = land(file, &[], &self.temp, &self.target, None)?;
        self.committed = true;
        self.landed = Some(meta);
        Ok(touched)
    }

    /// Writes out what is buffered.
    async fn drain(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Checked before each batch, so an upload stops before it crosses the margin.
        self.folder.room_for(self.pending_len as u64)?;
        let chunks = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let mut file = self.file.take().ok_or_else(|| io::Error::other("upload already closed"))?;
        let (file, result) = blocking(move || {
            let result = chunks.iter().try_for_each(|c| file.write_all(c));
            Ok((file, result))
        })
        .await?;
        self.file = Some(file);
        result
    }

    pub async fn write(&mut self, data: Bytes) -> io::Result<()> {
        self.written += data.len() as u64;
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len >= WRITE_BATCH {
            self.drain().await?;
        }
        Ok(())
    }

    /// Moves the write position, never past the end: a write that started beyond it
    /// would leave a gap (a sparse file that every client sees at its full length).
    pub async fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.drain().await?;
        let file = self.file.as_mut().ok_or_else(|| io::Error::other("upload already closed"))?;
        let len = file.metadata()?.len();
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => file.stream_position()?.checked_add_signed(d),
        };
        match target {
            Some(n) if n <= len => file.seek(SeekFrom::Start(n)),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "a write may not start past the end of the file")),
        }
    }

    /// Completes the upload durably, in the order that keeps every crash harmless: the
    /// data on disk (`fdatasync`), then the rename that makes it visible, then the
    /// folder synced so that the rename is on disk too — only then is it answered. Had
    /// the rename reached the disk before the data, a power loss could leave an empty
    /// or partial file under the name; without the folder's sync, the answered file
    /// could vanish. The folder's sync is shared with every upload renamed into it
    /// meanwhile ([`super::sync`]).
    ///
    /// Whatever is still buffered is written in the same trip to the disk thread as the
    /// sync and the rename: for a small upload, the one trip.
    pub async fn commit(&mut self) -> io::Result<()> {
        if self.committed {
            return Ok(());
        }
        if self.expected.is_some_and(|n| n != self.written) {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the upload ended before its announced size"));
        }
        self.folder.room_for(self.pending_len as u64)?;
        let chunks = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let file = self.file.take().ok_or_else(|| io::Error::other("upload already closed"))?;
        let (temp, target, mtime) = (self.temp.clone(), self.target.clone(), self.mtime);
        let (touched, meta) = blocking(move || land(file, &chunks, &temp, &target, mtime)).await?;
        self.committed = true;
        self.landed = Some(meta);
        self.folder.settle(touched).await
    }

    pub async fn meta(&mut self) -> io::Result<Meta> {
        if let Some(meta) = &self.landed {
            return Ok(meta.clone());
        }
        let path = if self.committed { self.target.clone() } else { self.temp.clone() };
        blocking(move || Ok(Meta::from_fs(&std::fs::metadata(&path)?))).await
    }
}

/// The durable commit's blocking half: the last data written and on disk, then the
/// rename (the last step that can fail: an error means nothing was renamed). Returns
/// the target's folder, which must still be synced ([`Folder::settle`]) for the rename
/// to be on disk, and what the file is now.
fn land(
    mut file: File,
    chunks: &[Bytes],
    temp: &Path,
    target: &Path,
    mtime: Option<SystemTime>,
) -> io::Result<(Touched, Meta)> {
    chunks.iter().try_for_each(|c| file.write_all(c))?;
    match mtime {
        // The time is metadata, which `fdatasync` may leave behind.
        Some(t) => {
            file.set_modified(t)?;
            file.sync_all()?;
        }
        None => file.sync_data()?,
    }
    let dir = Dir::parent_of(target)?;
    std::fs::rename(temp, target)?;
    let meta = file.metadata().map(|m| Meta::from_fs(&m));
    drop(file);
    Ok((Touched::new().dir(dir), meta?))
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
