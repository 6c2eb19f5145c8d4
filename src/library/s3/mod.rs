//! A library under a prefix of an S3 bucket. Files are objects (`PREFIX` + path);
//! folders are zero-byte marker objects ending in `/` (as the S3 consoles and rclone
//! make them), and a path under which objects exist is a folder too. What S3 cannot
//! keep lives in the database, where the instances coordinate anyway: modification
//! times clients give files ([`ObjectStore`]), and multipart uploads in progress, so
//! that the housekeeping of any instance aborts those a crashed one left behind.
//!
//! Nothing here depends on conditional writes (Garage ignores `If-None-Match` on PUT):
//! an upload becomes visible only when its single PUT or its multipart completion
//! succeeds, and a folder is moved by copying everything, then deleting the source.

mod client;

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};

pub use self::client::S3Config;
use self::client::{Client, Object};
use super::{Entry, Meta, Rel, WriteMode};
use crate::store::{ObjectStore as _, Store};

/// Uploads larger than this go up in parts of this size; at most two parts are in
/// memory at once (one filling, one on its way), whatever the file's size.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// How many copies or deletes of a folder move run at once.
const PARALLEL: usize = 8;

/// Where a library lives: `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl S3Url {
    /// `s3://BUCKET[/PREFIX]`; `None` if `s` is not an `s3://` URL at all.
    pub fn parse(s: &str) -> Option<Result<S3Url, String>> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Some(Err(format!("{s:?}: the bucket name must be 3 to 63 lower-case letters, digits, '-' or '.'")));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|seg| seg == ".." || seg == "." || (seg.is_empty() && !prefix.is_empty())) {
            return Some(Err(format!("{s:?}: the prefix must be plain folder names")));
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Some(Ok(S3Url { bucket: bucket.to_owned(), prefix }))
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One library in a bucket. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bucket(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    client: Client,
    url: S3Url,
    store: Store,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn time_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn db(e: crate::store::StoreError) -> io::Error {
    io::Error::other(format!("database: {e}"))
}

/// Whether a listed name is one a path can name: one segment that the path rule
/// ([`Rel::new`]) takes as it is.
fn listable(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'/') && Rel::new(name).is_ok_and(|r| r.as_bytes() == name)
}

/// A folder's metadata: S3 has no folder times.
pub(super) fn folder_meta() -> Meta {
    Meta::object(0, UNIX_EPOCH, true)
}

impl Bucket {
    pub fn open(config: S3Config, url: S3Url, store: Store) -> io::Result<Bucket> {
        let client = Client::new(config, &url.bucket)?;
        Ok(Bucket(Arc::new(Inner { client, url, store })))
    }

    pub fn url(&self) -> &S3Url {
        &self.0.url
    }

    fn client(&self) -> &Client {
        &self.0.client
    }

    /// The object key of a path.
    fn key(&self, path: &Rel) -> Vec<u8> {
        let mut k = self.0.url.prefix.as_bytes().to_vec();
        k.extend_from_slice(path.as_bytes());
        k
    }

    /// The key prefix of the objects inside the folder `path`.
    fn dir_key(&self, path: &Rel) -> Vec<u8> {
        let mut k = self.key(path);
        if !path.is_root() {
            k.push(b'/');
        }
        k
    }

    fn text(key: &[u8]) -> String {
        String::from_utf8_lossy(key).into_owned()
    }

    /// Checks at start that the bucket can be listed and written with these
    /// credentials: a clear sentence for the operator, never a stack trace.
    pub async fn check(&self) -> Result<(), String> {
        let at = format!("{} at {}", self.0.url, self.0.client.endpoint());
        let explain = |what: &str, e: &io::Error| match e.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut => {
                format!("cannot reach the S3 endpoint for {at}: {e}")
            }
            io::ErrorKind::PermissionDenied => format!(
                "the S3 credentials were refused when {what} {at} (check GATEHOUSE_S3_ACCESS_KEY_ID and GATEHOUSE_S3_SECRET_ACCESS_KEY): {e}"
            ),
            io::ErrorKind::NotFound => format!("the bucket of {at} does not exist: {e}"),
            _ => format!("S3 failed when {what} {at}: {e}"),
        };
        let prefix = self.0.url.prefix.as_bytes().to_vec();
        self.client().list(&prefix, true, None, Some(1)).await.map_err(|e| explain("listing", &e))?;
        let suffix = crate::domain::random::public_id("", 16).map_err(|_| "no randomness".to_owned())?;
        let mut probe = prefix;
        probe.extend_from_slice(super::UPLOAD_PREFIX);
        probe.extend_from_slice(b"check-");
        probe.extend_from_slice(suffix.as_bytes());
        self.client().put(&probe, Bytes::new()).await.map_err(|e| explain("writing to", &e))?;
        self.client().delete(&probe).await.map_err(|e| explain("deleting in", &e))?;
        Ok(())
    }

    /// Whether anything lies under the folder key `dir` (its marker included).
    async fn has_below(&self, dir: &[u8]) -> io::Result<bool> {
        let page = self.client().list(dir, true, None, Some(1)).await?;
        Ok(!page.objects.is_empty() || !page.prefixes.is_empty())
    }

    pub async fn stat(&self, path: &Rel) -> io::Result<Meta> {
        if path.is_root() {
            return Ok(folder_meta());
        }
        let key = self.key(path);
        // The object and the time a client gave it, asked at once.
        let key_text = Self::text(&key);
        let (head, given) =
            tokio::join!(self.client().head(&key), self.0.store.object_time(&self.0.url.bucket, &key_text));
        match head {
            Ok(head) => {
                let given = given.map_err(db)?.filter(|r| r.etag == head.etag).map(|r| ms_time(r.mtime_ms));
                Ok(Meta::object(head.size, given.unwrap_or(head.modified), false))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.has_below(&self.dir_key(path)).await? {
                    Ok(folder_meta())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A whole file and its bytes in one GET (with the time a client gave it, asked at
    /// once); a folder shows as such, without bytes.
    pub async fn open_whole(&self, path: &Rel) -> io::Result<(Meta, Option<BoxStream<'static, io::Result<Bytes>>>)> {
        if path.is_root() {
            return Ok((folder_meta(), None));
        }
        let key = self.key(path);
        let key_text = Self::text(&key);
        let (got, given) =
            tokio::join!(self.client().get(&key), self.0.store.object_time(&self.0.url.bucket, &key_text));
        match got {
            Ok((head, body)) => {
                let given = given.map_err(db)?.filter(|r| r.etag == head.etag).map(|r| ms_time(r.mtime_ms));
                Ok((Meta::object(head.size, given.unwrap_or(head.modified), false), Some(body.boxed())))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.has_below(&self.dir_key(path)).await? => {
                Ok((folder_meta(), None))
            }
            Err(e) => Err(e),
        }
    }

    /// The objects directly in a folder: one paginated LIST, and one query for the
    /// times clients gave them.
    pub async fn list(&self, path: &Rel) -> io::Result<Vec<Entry>> {
        Ok(self.list_found(path).await?.0)
    }

    /// A folder and its entries in one LIST: `None` when nothing lies under the path
    /// (not a folder: a file or nothing).
    pub async fn list_folder(&self, path: &Rel) -> io::Result<Option<Vec<Entry>>> {
        let (entries, found) = self.list_found(path).await?;
        Ok((found || path.is_root()).then_some(entries))
    }

    /// The entries of a folder, and whether anything at all (its marker included) lies
    /// under it.
    async fn list_found(&self, path: &Rel) -> io::Result<(Vec<Entry>, bool)> {
        let dir = self.dir_key(path);
        let dir_text = Self::text(&dir);
        let times = self.0.store.object_times(&self.0.url.bucket, &dir_text);
        let listing = async {
            let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
            let mut token: Option<String> = None;
            loop {
                let page = self.client().list(&dir, true, token.as_deref(), None).await?;
                objects.extend(page.objects);
                prefixes.extend(page.prefixes);
                match page.next {
                    Some(next) => token = Some(next),
                    None => break Ok::<_, io::Error>((objects, prefixes)),
                }
            }
        };
        let (times, listing) = tokio::join!(times, listing);
        let (objects, prefixes) = listing?;
        let found = !objects.is_empty() || !prefixes.is_empty();
        let times: std::collections::HashMap<String, (String, i64)> =
            times.map_err(db)?.into_iter().map(|t| (t.object_key, (t.etag, t.mtime_ms))).collect();
        let mut out = Vec::with_capacity(objects.len() + prefixes.len());
        let mut files = std::collections::HashSet::new();
        for o in objects {
            let Some(name) = o.key.strip_prefix(dir.as_slice()) else { continue };
            if !listable(name) {
                continue;
            }
            let given = times.get(&Self::text(&o.key)).filter(|(etag, _)| *etag == o.etag).map(|(_, ms)| ms_time(*ms));
            files.insert(name.to_vec());
            out.push(Entry { name: name.to_vec(), meta: Meta::object(o.size, given.unwrap_or(o.modified), false) });
        }
        for p in prefixes {
            let Some(name) = p.strip_prefix(dir.as_slice()).and_then(|n| n.strip_suffix(b"/")) else { continue };
            if listable(name) && !files.contains(name) {
                out.push(Entry { name: name.to_vec(), meta: folder_meta() });
            }
        }
        Ok((out, found))
    }

    /// The parent of `path` must be a folder (else `NotFound`: 409 for PUT and MKCOL).
    async fn parent_exists(&self, path: &Rel) -> io::Result<()> {
        match path.parent() {
            None => Err(io::ErrorKind::PermissionDenied.into()),
            Some(p) if p.is_root() => Ok(()),
            Some(p) if self.has_below(&self.dir_key(&p)).await? => Ok(()),
            Some(_) => Err(io::ErrorKind::NotFound.into()),
        }
    }

    pub async fn create_dir(&self, path: &Rel) -> io::Result<()> {
        self.parent_exists(path).await?;
        match self.stat(path).await {
            Ok(_) => return Err(io::ErrorKind::AlreadyExists.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.client().put(&self.dir_key(path), Bytes::new()).await.map(drop)
    }

    pub async fn remove_file(&self, path: &Rel) -> io::Result<()> {
        let key = self.key(path);
        self.client().delete(&key).await?;
        self.0.store.forget_object_time(&self.0.url.bucket, &Self::text(&key)).await.map_err(db)
    }

    /// Removes a folder's marker; its entries were removed before (dav-server walks).
    pub async fn remove_dir(&self, path: &Rel) -> io::Result<()> {
        self.client().delete(&self.dir_key(path)).await
    }

    /// Copies one object and the time given to it.
    async fn copy_key(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        let etag = self.client().copy(from, to).await?;
        let bucket = &self.0.url.bucket;
        if let Some(t) = self.0.store.object_time(bucket, &Self::text(from)).await.map_err(db)? {
            let parent = parent_of(to);
            self.0
                .store
                .set_object_time(bucket, &Self::text(to), &Self::text(&parent), &etag, t.mtime_ms)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    pub async fn copy_file(&self, from: &Rel, to: &Rel) -> io::Result<()> {
        self.copy_key(&self.key(from), &self.key(to)).await
    }

    /// Every object under the folder key `dir`, at any depth (paginated).
    async fn all_below(&self, dir: &[u8]) -> io::Result<Vec<Object>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.client().list(dir, false, token.as_deref(), None).await?;
            out.extend(page.objects);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// A file: copy, then delete. A folder: copy every object, then delete the
    /// sources; if a copy fails, the copies made are removed and the source is whole.
    pub async fn rename(&self, from: &Rel, to: &Rel) -> io::Result<()> {
        let (src, dst) = (self.key(from), self.key(to));
        match self.client().head(&src).await {
            Ok(_) => {
                self.copy_key(&src, &dst).await?;
                return self.remove_file(from).await;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (src_dir, dst_dir) = (self.dir_key(from), self.dir_key(to));
        let objects = self.all_below(&src_dir).await?;
        if objects.is_empty() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = objects
            .iter()
            .map(|o| {
                let mut target = dst_dir.clone();
                target.extend_from_slice(&o.key[src_dir.len()..]);
                (o.key.clone(), target)
            })
            .collect();
        let copied: Vec<(Vec<u8>, io::Result<()>)> = futures_util::stream::iter(pairs.iter().cloned())
            .map(|(s, d)| async move {
                let r = self.copy_key(&s, &d).await;
                (d, r)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        if let Some(err) = copied.iter().find_map(|(_, r)| r.as_ref().err()) {
            let err = io::Error::new(err.kind(), err.to_string());
            let made: Vec<Vec<u8>> = copied.into_iter().filter(|(_, r)| r.is_ok()).map(|(d, _)| d).collect();
            self.delete_keys(made).await;
            return Err(err);
        }
        if !dst_dir.is_empty() {
            // The moved folder shows even when it had no marker of its own.
            self.client().put(&dst_dir, Bytes::new()).await?;
        }
        self.delete_keys(pairs.into_iter().map(|(s, _)| s).collect()).await;
        Ok(())
    }

    /// Deletes objects and their times, several at once, logging what fails.
    async fn delete_keys(&self, keys: Vec<Vec<u8>>) {
        futures_util::stream::iter(keys)
            .for_each_concurrent(PARALLEL, |k| async move {
                let done = self.client().delete(&k).await;
                let _ = self.0.store.forget_object_time(&self.0.url.bucket, &Self::text(&k)).await;
                if let Err(e) = done {
                    tracing::warn!(key = %Self::text(&k), error = %e, "cannot delete an object");
                }
            })
            .await;
    }

    pub async fn set_modified(&self, path: &Rel, time: SystemTime) -> io::Result<()> {
        let key = self.key(path);
        match self.client().head(&key).await {
            Ok(head) => self.remember_time(&key, &head.etag, time).await,
            // Folders have no time to keep.
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.has_below(&self.dir_key(path)).await? => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn remember_time(&self, key: &[u8], etag: &str, time: SystemTime) -> io::Result<()> {
        let parent = parent_of(key);
        let store = &self.0.store;
        store
            .set_object_time(&self.0.url.bucket, &Self::text(key), &Self::text(&parent), etag, time_ms(time))
            .await
            .map_err(db)
    }

    pub async fn open_read(&self, path: &Rel) -> io::Result<ObjectReader> {
        let meta = self.stat(path).await?;
        Ok(ObjectReader {
            bucket: self.clone(),
            key: self.key(path),
            meta,
            pos: 0,
            stream: std::sync::Mutex::new(None),
            left: Bytes::new(),
        })
    }

    /// The bytes `start..end` of the file `path`, streamed as the store sends them.
    pub async fn read_range(
        &self,
        path: &Rel,
        start: u64,
        end: u64,
    ) -> io::Result<BoxStream<'static, io::Result<Bytes>>> {
        if start >= end {
            return Ok(futures_util::stream::empty().boxed());
        }
        Ok(self.client().get_range(&self.key(path), start, end).await?.boxed())
    }

    pub async fn create(&self, path: &Rel, mode: WriteMode) -> io::Result<Upload> {
        self.parent_exists(path).await?;
        let key = self.key(path);
        if !mode.replace {
            // A LOCK on a new name makes an empty file; changing part of an object in
            // place is something S3 cannot do.
            match self.client().head(&key).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.client().put(&key, Bytes::new()).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Upload {
            bucket: self.clone(),
            key,
            replace: mode.replace,
            buf: BytesMut::new(),
            upload: None,
            tags: Vec::new(),
            sending: None,
            written: 0,
            expected: mode.expected,
            mtime: mode.mtime,
            done: None,
        })
    }

    /// Aborts the multipart uploads of this bucket not touched since `before_ms` (an
    /// instance that crashed mid-upload). Returns how many.
    pub async fn abort_abandoned(&self, before_ms: i64) -> io::Result<usize> {
        let stale = self.0.store.stale_uploads(before_ms).await.map_err(db)?;
        let mut n = 0;
        for u in stale.into_iter().filter(|u| u.bucket == self.0.url.bucket) {
            self.client().abort_multipart(u.object_key.as_bytes(), &u.upload_id).await?;
            self.0.store.upload_ended(&u.upload_id).await.map_err(db)?;
            n += 1;
        }
        Ok(n)
    }
}

/// The folder key holding `key` (with its `/`), or empty at the top of the bucket.
fn parent_of(key: &[u8]) -> Vec<u8> {
    match key.iter().rposition(|&b| b == b'/') {
        Some(i) => key[..=i].to_vec(),
        None => Vec::new(),
    }
}

/// An object open for reading: one ranged GET from the position on, reopened after a
/// seek.
pub struct ObjectReader {
    bucket: Bucket,
    key: Vec<u8>,
    meta: Meta,
    pos: u64,
    /// Behind a mutex only to be `Sync` (dav-server's files must be); used through
    /// `get_mut`, never locked.
    stream: std::sync::Mutex<Option<BoxStream<'static, io::Result<Bytes>>>>,
    left: Bytes,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").field("pos", &self.pos).finish_non_exhaustive()
    }
}

impl ObjectReader {
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub async fn read(&mut self, count: usize) -> io::Result<Bytes> {
        if self.pos >= self.meta.len || count == 0 {
            return Ok(Bytes::new());
        }
        if self.left.is_empty() {
            let slot = self.stream.get_mut().map_err(|_| io::Error::other("a read failed"))?;
            if slot.is_none() {
                let s = self.bucket.client().get_range(&self.key, self.pos, self.meta.len).await?;
                *slot = Some(s.boxed());
            }
            let next = match slot.as_mut() {
                Some(s) => s.try_next().await?,
                None => None,
            };
            match next {
                Some(b) => self.left = b,
                None => return Ok(Bytes::new()),
            }
        }
        let n = count.min(self.left.len());
        let out = self.left.split_to(n);
        self.pos += n as u64;
        Ok(out)
    }

    pub fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let len = i64::try_from(self.meta.len).unwrap_or(i64::MAX);
        let now = i64::try_from(self.pos).unwrap_or(i64::MAX);
        let target = match to {
            io::SeekFrom::Start(n) => i64::try_from(n).unwrap_or(i64::MAX),
            io::SeekFrom::End(d) => len.saturating_add(d),
            io::SeekFrom::Current(d) => now.saturating_add(d),
        };
        let target = u64::try_from(target).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if target != self.pos {
            self.pos = target;
            self.stream = std::sync::Mutex::new(None);
            self.left = Bytes::new();
        }
        Ok(target)
    }
}

/// An upload in progress: small files go up in one PUT at commit; larger ones as a
/// multipart upload whose parts leave while the next fills. Nothing is visible under
/// the name before [`Upload::commit`]; dropped before that, the multipart upload is
/// aborted.
pub struct Upload {
    bucket: Bucket,
    key: Vec<u8>,
    replace: bool,
    buf: BytesMut,
    upload: Option<String>,
    tags: Vec<String>,
    sending: Option<tokio::task::JoinHandle<io::Result<String>>>,
    written: u64,
    expected: Option<u64>,
    mtime: Option<SystemTime>,
    /// The committed file.
    done: Option<Meta>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("written", &self.written).finish_non_exhaustive()
    }
}

impl Upload {
    pub async fn write(&mut self, data: Bytes) -> io::Result<()> {
        if !self.replace {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.written += data.len() as u64;
        if self.expected.is_some_and(|n| self.written > n) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "more data than announced"));
        }
        // Each part fills a buffer of exactly its size, so at most two part buffers
        // exist at once (one filling, one on its way) whatever the file's size.
        let mut data = data;
        while !data.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf.reserve(PART_SIZE);
            }
            let room = PART_SIZE - self.buf.len();
            let chunk = data.split_to(room.min(data.len()));
            self.buf.extend_from_slice(&chunk);
            if self.buf.len() == PART_SIZE {
                let part = std::mem::take(&mut self.buf).freeze();
                self.send_part(part).await?;
            }
        }
        Ok(())
    }

    /// Waits for the part on its way, then sends `part`.
    async fn send_part(&mut self, part: Bytes) -> io::Result<()> {
        self.wait_sent().await?;
        let bucket = self.bucket.clone();
        let upload = match &self.upload {
            Some(id) => id.clone(),
            None => {
                let id = bucket.client().start_multipart(&self.key).await?;
                let text = Bucket::text(&self.key);
                if let Err(e) = bucket.0.store.upload_started(&bucket.0.url.bucket, &text, &id, now_ms()).await {
                    let _ = bucket.client().abort_multipart(&self.key, &id).await;
                    return Err(db(e));
                }
                self.upload = Some(id.clone());
                id
            }
        };
        let number = u32::try_from(self.tags.len() + 1).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
        let key = self.key.clone();
        self.sending = Some(tokio::spawn(async move {
            let tag = bucket.client().put_part(&key, &upload, number, part).await?;
            let _ = bucket.0.store.upload_touched(&upload, now_ms()).await;
            Ok(tag)
        }));
        Ok(())
    }

    async fn wait_sent(&mut self) -> io::Result<()> {
        if let Some(task) = self.sending.take() {
            let tag = task.await.map_err(|_| io::Error::other("a part upload stopped"))??;
            self.tags.push(tag);
        }
        Ok(())
    }

    pub async fn commit(&mut self) -> io::Result<()> {
        if self.done.is_some() {
            return Ok(());
        }
        if !self.replace {
            self.done = Some(self.bucket.stat_key(&self.key).await?);
            return Ok(());
        }
        if self.expected.is_some_and(|n| n != self.written) {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the upload ended before its announced size"));
        }
        let rest = std::mem::take(&mut self.buf).freeze();
        let etag = match self.upload.clone() {
            None => self.bucket.client().put(&self.key, rest).await?,
            Some(id) => {
                if !rest.is_empty() {
                    self.send_part(rest).await?;
                }
                self.wait_sent().await?;
                let etag = self.bucket.client().complete_multipart(&self.key, &id, &self.tags).await?;
                self.upload = None;
                let _ = self.bucket.0.store.upload_ended(&id).await;
                etag
            }
        };
        let modified = self.mtime.unwrap_or_else(SystemTime::now);
        if let Some(t) = self.mtime {
            self.bucket.remember_time(&self.key, &etag, t).await?;
        }
        self.done = Some(Meta::object(self.written, modified, false));
        Ok(())
    }

    pub fn meta(&self) -> Meta {
        self.done.clone().unwrap_or_else(|| Meta::object(self.written, SystemTime::now(), false))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(task) = self.sending.take() {
            task.abort();
        }
        let (Some(id), Ok(rt)) = (self.upload.take(), tokio::runtime::Handle::try_current()) else { return };
        let (bucket, key) = (self.bucket.clone(), std::mem::take(&mut self.key));
        rt.spawn(async move {
            match bucket.client().abort_multipart(&key, &id).await {
                Ok(()) => {
                    let _ = bucket.0.store.upload_ended(&id).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot abort an unfinished upload; housekeeping will retry"),
            }
        });
    }
}

impl Bucket {
    async fn stat_key(&self, key: &[u8]) -> io::Result<Meta> {
        let head = self.client().head(key).await?;
        Ok(Meta::object(head.size, head.modified, false))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        let u = |s| S3Url::parse(s).unwrap().unwrap();
        assert_eq!(u("s3://photos/originals"), S3Url { bucket: "photos".into(), prefix: "originals/".into() });
        assert_eq!(u("s3://photos/a/b/"), S3Url { bucket: "photos".into(), prefix: "a/b/".into() });
        assert_eq!(u("s3://photos"), S3Url { bucket: "photos".into(), prefix: String::new() });
        assert!(S3Url::parse("/srv/photos").is_none());
        for bad in ["s3://", "s3://Photos/x", "s3://ph/x", "s3://photos/../x", "s3://photos/a//b", "s3://photos/./x"] {
            assert!(S3Url::parse(bad).unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_nameable_entries_are_listed() {
        assert!(listable(b"photo.jpg"));
        assert!(listable("日本 #%?".as_bytes()));
        for bad in [&b""[..], b".", b"..", b".gatehouse-upload-x", b"a/b", b"a\0"] {
            assert!(!listable(bad));
        }
        assert_eq!(parent_of(b"p/a/b"), b"p/a/");
        assert_eq!(parent_of(b"b"), b"");
    }
}
