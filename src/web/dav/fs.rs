//! The file system WebDAV sees: a [`Library`]'s storage (a folder or an S3 prefix), with
//! dead properties in the database. Every path is checked once ([`rel`]); every change
//! to files carries or drops their properties to match (move, copy, delete).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::StatusCode;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream, OpenOptions,
    ReadDirMeta,
};
use futures_util::FutureExt as _;

use super::file::{ReadFile, WriteFile};
use super::guard::Partial;
use super::library::{Library, fs_error, key, parent_key, rel};
use super::props::{self, PropCache};
use crate::library::{Storage, WriteMode};
use crate::store::{DavPropStore as _, PropWrite, Store};

/// One request's view of a library. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LibraryFs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    lib: Arc<Library>,
    store: Store,
    cache: Mutex<PropCache>,
    /// `X-OC-MTime` of a PUT: the time to give the uploaded file.
    mtime: Option<SystemTime>,
    /// For a COPY: source and destination keys, so copied folders keep their properties.
    copy: Option<(String, String)>,
    /// The user whose request this is: what it stores counts against them.
    owner: String,
    /// For a partial update: what [`super::guard::partial_write`] checked.
    partial: Option<Partial>,
    /// Raised when the body brought more than it announced: nothing is committed.
    overflow: Arc<AtomicBool>,
}

impl LibraryFs {
    pub fn new(
        lib: Arc<Library>,
        store: Store,
        owner: String,
        mtime: Option<SystemTime>,
        copy: Option<(String, String)>,
        partial: Option<Partial>,
        overflow: Arc<AtomicBool>,
    ) -> Self {
        let inner =
            Inner { lib, store, cache: Mutex::new(PropCache::default()), mtime, copy, owner, partial, overflow };
        LibraryFs { inner: Arc::new(inner) }
    }

    fn root(&self) -> &'static str {
        self.inner.lib.name
    }

    fn storage(&self) -> &Storage {
        &self.inner.lib.storage
    }

    fn forget_props(&self) {
        if let Ok(mut c) = self.inner.cache.lock() {
            c.clear();
        }
    }

    /// The properties of `path`, from this request's cache or one query.
    async fn props_of(&self, path: &DavPath) -> FsResult<Vec<crate::store::DeadProp>> {
        let k = key(path);
        if let Some(found) = self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?.get(&k) {
            return Ok(found);
        }
        let rows = props::load(&self.inner.store, self.root(), &k).await?;
        self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?.fill(&k, rows.clone());
        Ok(rows)
    }

    /// Copies the properties of `from` onto `to`, counted against this request's user;
    /// past their cap, `undo` takes back what was copied in storage and the answer is 507.
    async fn copy_props(&self, from: &str, to: &str, undo: impl Future<Output = ()>) -> FsResult<()> {
        let store = &self.inner.store;
        let quota = props::quota(&self.inner.owner);
        match store.copy_dav_props(self.root(), from, to, &parent_key(to), &quota).await.map_err(props::db_error)? {
            PropWrite::Done => Ok(()),
            PropWrite::OverQuota => {
                undo.await;
                Err(FsError::InsufficientStorage)
            }
        }
    }

    async fn drop_props(&self, path: &DavPath) -> FsResult<()> {
        self.forget_props();
        self.inner.store.delete_dav_props(self.root(), &key(path)).await.map_err(props::db_error)
    }

    /// For a folder created by COPY, the folder it is a copy of.
    fn copy_source(&self, created: &str) -> Option<String> {
        let (src, dst) = self.inner.copy.as_ref()?;
        let rest = created.strip_prefix(dst.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{src}{rest}"))
    }
}

/// A listed entry.
struct Listed(crate::library::Entry);

impl DavDirEntry for Listed {
    fn name(&self) -> Vec<u8> {
        self.0.name.clone()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.0.meta.clone());
        async move { Ok(meta) }.boxed()
    }
}

fn io<T>(r: std::io::Result<T>) -> FsResult<T> {
    r.map_err(|e| fs_error(&e))
}

impl DavFileSystem for LibraryFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            let p = rel(path)?;
            let storage = self.storage();
            if !options.write {
                return Ok(Box::new(ReadFile(io(storage.open_read(&p).await)?)) as Box<dyn DavFile>);
            }
            let exists = match storage.stat(&p).await {
                Ok(m) if m.is_dir => return Err(FsError::Forbidden),
                Ok(_) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(fs_error(&e)),
            };
            if exists && options.create_new {
                return Err(FsError::Exists);
            }
            if !exists && !options.create {
                return Err(FsError::NotFound);
            }
            let partial = self.inner.partial.filter(|_| !options.truncate);
            let mode = WriteMode {
                replace: options.truncate,
                expected: options.size.or(partial.and_then(|p| p.len)),
                mtime: self.inner.mtime,
                partial: partial.is_some(),
                append: partial.is_some_and(|p| p.append),
            };
            let writer = io(storage.create(&p, mode).await)?;
            Ok(Box::new(WriteFile(writer, self.inner.overflow.clone())) as Box<dyn DavFile>)
        }
        .boxed()
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let p = rel(path)?;
            let links = meta == ReadDirMeta::DataSymlink;
            // No properties are read here: dav-server lists folders to copy or delete them.
            let entries = io(self.storage().list(&p, links).await)?;
            let items = entries.into_iter().map(|e| Ok(Box::new(Listed(e)) as Box<dyn DavDirEntry>));
            Ok(Box::pin(futures_util::stream::iter(items)) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let meta = io(self.storage().stat(&rel(path)?).await)?;
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let p = rel(path)?;
            io(self.storage().create_dir(&p).await)?;
            let k = key(path);
            self.drop_props(path).await?;
            if let Some(src) = self.copy_source(&k) {
                self.copy_props(&src, &k, async {
                    let _ = self.storage().remove_dir(&p).await;
                })
                .await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            io(self.storage().remove_dir(&rel(path)?).await)?;
            self.drop_props(path).await
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            io(self.storage().remove_file(&rel(path)?).await)?;
            self.drop_props(path).await
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            io(self.storage().rename(&rel(from)?, &rel(to)?).await)?;
            self.forget_props();
            let (from, to) = (key(from), key(to));
            let store = &self.inner.store;
            store.move_dav_props(self.root(), &from, &to, &parent_key(&to)).await.map_err(props::db_error)
        }
        .boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let target = rel(to)?;
            io(self.storage().copy_file(&rel(from)?, &target).await)?;
            self.forget_props();
            self.copy_props(&key(from), &key(to), async {
                let _ = self.storage().remove_file(&target).await;
            })
            .await
        }
        .boxed()
    }

    fn have_props<'a>(&'a self, _path: &'a DavPath) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(std::future::ready(true))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            let k = key(path);
            // Applied in order (RFC 4918 §9.2): a later set or remove of the same
            // property wins.
            let mut last: Vec<((String, String), Option<crate::store::DeadProp>)> = Vec::new();
            let mut answer = Vec::new();
            for (is_set, prop) in patch {
                let id = (prop.namespace.clone().unwrap_or_default(), prop.name.clone());
                let value = if is_set { props::from_dav(&k, &prop) } else { None };
                let status = if props::is_reserved(&prop) {
                    StatusCode::FORBIDDEN
                } else if is_set && value.is_none() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                };
                last.retain(|(other, _)| *other != id);
                last.push((id, value));
                answer.push((status, DavProp { xml: None, ..prop }));
            }
            if answer.iter().any(|(s, _)| *s != StatusCode::OK) {
                // All or nothing: the rest failed because of this one.
                for (s, _) in &mut answer {
                    if *s == StatusCode::OK {
                        *s = StatusCode::FAILED_DEPENDENCY;
                    }
                }
                return Ok(answer);
            }
            let (set, remove): (Vec<_>, Vec<_>) = last.into_iter().partition(|(_, v)| v.is_some());
            let set: Vec<_> = set.into_iter().filter_map(|(_, v)| v).collect();
            let remove: Vec<_> = remove.into_iter().map(|(id, _)| id).collect();
            self.forget_props();
            let store = &self.inner.store;
            let quota = props::quota(&self.inner.owner);
            let done = store.patch_dav_props(self.root(), &k, &parent_key(&k), &quota, &set, &remove).await;
            match done.map_err(props::db_error)? {
                // Nothing was stored: 507 for the whole request (RFC 4918 §11.5).
                PropWrite::OverQuota => Err(FsError::InsufficientStorage),
                PropWrite::Done => Ok(answer),
            }
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move { Ok(self.props_of(path).await?.iter().map(|p| props::to_dav(p, do_content)).collect()) }.boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move {
            let found = self.props_of(path).await?;
            let p = found.iter().find(|p| props::same(p, &prop)).ok_or(FsError::NotFound)?;
            Ok(p.xml.clone().into_bytes())
        }
        .boxed()
    }
}
