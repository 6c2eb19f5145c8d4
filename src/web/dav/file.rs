//! Open files as dav-server sees them: thin wrappers over the storage's readers and
//! writers ([`crate::library`]), which stream in chunks and make an upload visible
//! only once it is complete.

use std::io::SeekFrom;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult};
use futures_util::FutureExt as _;

use super::library::fs_error;
use crate::library::{Meta, Reader, Writer};

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

/// A file opened for reading.
#[derive(Debug)]
pub struct ReadFile(pub Reader);

impl DavFile for ReadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.0.meta().clone());
        async move { Ok(meta) }.boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move { self.0.read(count).await.map_err(|e| fs_error(&e)) }.boxed()
    }

    fn seek(&mut self, to: SeekFrom) -> FsFuture<'_, u64> {
        let at = self.0.seek(to).map_err(|e| fs_error(&e));
        async move { at }.boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async { Ok(()) }.boxed()
    }
}

/// A file being written; flushing commits it, unless its body brought more than it
/// announced (the flag, raised by the request's body).
#[derive(Debug)]
pub struct WriteFile(pub Writer, pub Arc<AtomicBool>);

impl DavFile for WriteFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        async move {
            let meta = self.0.meta().await.map_err(|e| fs_error(&e))?;
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let data = buf.copy_to_bytes(buf.remaining());
        self.write_bytes(data)
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        async move { self.0.write(buf).await.map_err(|e| fs_error(&e)) }.boxed()
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn seek(&mut self, to: SeekFrom) -> FsFuture<'_, u64> {
        async move { self.0.seek(to).await.map_err(|e| fs_error(&e)) }.boxed()
    }

    /// Completes the upload. A body shorter or longer than announced is not
    /// committed, and not an error here: dav-server answers it with 400 itself, and
    /// the dropped upload leaves nothing.
    fn flush(&mut self) -> FsFuture<'_, ()> {
        async move {
            if self.1.load(Ordering::Acquire) {
                return Ok(());
            }
            match self.0.commit().await {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
                other => other.map_err(|e| fs_error(&e)),
            }
        }
        .boxed()
    }
}
