//! The file system WebDAV sees: a [`Library`] folder on disk, with dead properties in
//! the database. Every path goes through [`Library::resolve`]; every change to files
//! carries or drops their properties to match (move, copy, delete).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::StatusCode;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream, OpenOptions,
    ReadDirMeta,
};
use futures_util::FutureExt as _;

use super::file::{Meta, ReadFile, Upload, blocking};
use super::library::{Library, fs_error, is_hidden, key, parent_key};
use super::props::{self, PropCache};
use crate::store::{DavPropStore as _, Store};

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
}

impl LibraryFs {
    pub fn new(lib: Arc<Library>, store: Store, mtime: Option<SystemTime>, copy: Option<(String, String)>) -> Self {
        let inner = Inner { lib, store, cache: Mutex::new(PropCache::default()), mtime, copy };
        LibraryFs { inner: Arc::new(inner) }
    }

    fn root(&self) -> &'static str {
        self.inner.lib.name
    }

    async fn resolve(&self, path: &DavPath) -> FsResult<std::path::PathBuf> {
        let lib = self.inner.lib.clone();
        let path = path.clone();
        blocking(move || lib.resolve(&path)).await
    }

    /// The entry itself (a symlink, not its target), for DELETE and MOVE.
    async fn resolve_entry(&self, path: &DavPath) -> FsResult<std::path::PathBuf> {
        let lib = self.inner.lib.clone();
        let path = path.clone();
        blocking(move || lib.resolve_entry(&path)).await
    }

    fn forget_props(&self) {
        if let Ok(mut c) = self.inner.cache.lock() {
            c.clear();
        }
    }

    /// The properties of `path`, from this request's cache or one query (which for a
    /// folder also brings its entries').
    async fn props_of(&self, path: &DavPath) -> FsResult<Vec<crate::store::DeadProp>> {
        let k = key(path);
        if let Some(found) = self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?.get(&k) {
            return Ok(found);
        }
        let children = path.is_collection();
        let rows = props::load(&self.inner.store, self.root(), &k, children).await?;
        let mut cache = self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?;
        cache.fill(&k, children, rows);
        Ok(cache.get(&k).unwrap_or_default())
    }

    async fn prefetch_listing(&self, folder: &DavPath) -> FsResult<()> {
        let k = key(folder);
        if self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?.is_listed(&k) {
            return Ok(());
        }
        let rows = props::load(&self.inner.store, self.root(), &k, true).await?;
        self.inner.cache.lock().map_err(|_| FsError::GeneralFailure)?.fill(&k, true, rows);
        Ok(())
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

/// A listed entry, with the one `stat` the listing needed.
pub(super) struct Entry {
    pub name: Vec<u8>,
    pub meta: Meta,
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.clone()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        async move { Ok(meta) }.boxed()
    }
}

/// Lists a folder: hidden uploads and symlinks leading out are left out. Symlinks show
/// as their target, except with `links` (DELETE and COPY walks), which must see the
/// link itself so that deleting a folder never follows a link into another. Blocking.
pub(super) fn list(lib: &Library, dir: &std::path::Path, links: bool) -> FsResult<Vec<Entry>> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| fs_error(&e))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().as_bytes().to_vec();
        if is_hidden(&name) {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        let meta = if kind.is_symlink() {
            match std::fs::canonicalize(entry.path()) {
                Ok(real) if lib.contains(&real) && !links => std::fs::metadata(real),
                Ok(real) if lib.contains(&real) => entry.metadata(),
                _ => continue,
            }
        } else {
            entry.metadata()
        };
        if let Ok(m) = meta {
            out.push(Entry { name, meta: Meta::new(&m) });
        }
    }
    Ok(out)
}

impl DavFileSystem for LibraryFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            let real = self.resolve(path).await?;
            let mtime = self.inner.mtime;
            if !options.write {
                return blocking(move || Ok(Box::new(ReadFile::open(&real)?) as Box<dyn DavFile>)).await;
            }
            blocking(move || {
                let exists = match std::fs::metadata(&real) {
                    Ok(m) if m.is_dir() => return Err(FsError::Forbidden),
                    Ok(_) => true,
                    Err(_) => false,
                };
                if exists && options.create_new {
                    return Err(FsError::Exists);
                }
                if !exists && !options.create {
                    return Err(FsError::NotFound);
                }
                if options.truncate {
                    return Ok(Box::new(Upload::start(real, false, options.size, mtime)?) as Box<dyn DavFile>);
                }
                // A partial update, or a LOCK on a new name: the file exists from now on.
                if !exists {
                    std::fs::File::create_new(&real).map_err(|e| fs_error(&e))?;
                }
                Ok(Box::new(Upload::start(real, true, None, mtime)?) as Box<dyn DavFile>)
            })
            .await
        }
        .boxed()
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let real = self.resolve(path).await?;
            let lib = self.inner.lib.clone();
            let (entries, ()) = tokio::try_join!(
                blocking(move || list(&lib, &real, meta == ReadDirMeta::DataSymlink)),
                self.prefetch_listing(path)
            )?;
            let items = entries.into_iter().map(|e| Ok(Box::new(e) as Box<dyn DavDirEntry>));
            Ok(Box::pin(futures_util::stream::iter(items)) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        let lib = self.inner.lib.clone();
        let path = path.clone();
        async move {
            blocking(move || {
                let real = lib.resolve(&path)?;
                let meta = std::fs::metadata(real).map_err(|e| fs_error(&e))?;
                Ok(Box::new(Meta::new(&meta)) as Box<dyn DavMetaData>)
            })
            .await
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let real = self.resolve(path).await?;
            blocking(move || std::fs::create_dir(&real).map_err(|e| fs_error(&e))).await?;
            let k = key(path);
            self.drop_props(path).await?;
            if let Some(src) = self.copy_source(&k) {
                let store = &self.inner.store;
                store.copy_dav_props(self.root(), &src, &k, &parent_key(&k)).await.map_err(props::db_error)?;
            }
            Ok(())
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let real = self.resolve_entry(path).await?;
            if self.inner.lib.is_root(&real) {
                return Err(FsError::Forbidden);
            }
            blocking(move || std::fs::remove_dir(&real).map_err(|e| fs_error(&e))).await?;
            self.drop_props(path).await
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let real = self.resolve_entry(path).await?;
            blocking(move || std::fs::remove_file(&real).map_err(|e| fs_error(&e))).await?;
            self.drop_props(path).await
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (src, dst) = tokio::try_join!(self.resolve_entry(from), self.resolve(to))?;
            if self.inner.lib.is_root(&src) {
                return Err(FsError::Forbidden);
            }
            blocking(move || std::fs::rename(&src, &dst).map_err(|e| fs_error(&e))).await?;
            self.forget_props();
            let (from, to) = (key(from), key(to));
            let store = &self.inner.store;
            store.move_dav_props(self.root(), &from, &to, &parent_key(&to)).await.map_err(props::db_error)
        }
        .boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (src, dst) = tokio::try_join!(self.resolve(from), self.resolve(to))?;
            blocking(move || {
                // Through a hidden file too: the copy appears complete or not at all.
                let mut upload = Upload::start(dst, false, None, None)?;
                upload.fill_from(&src)
            })
            .await?;
            self.forget_props();
            let (from, to) = (key(from), key(to));
            let store = &self.inner.store;
            store.copy_dav_props(self.root(), &from, &to, &parent_key(&to)).await.map_err(props::db_error)
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
            store.patch_dav_props(self.root(), &k, &parent_key(&k), &set, &remove).await.map_err(props::db_error)?;
            Ok(answer)
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
