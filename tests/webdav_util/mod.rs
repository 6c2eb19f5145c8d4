//! Helpers for the WebDAV tests: WebDAV users and app passwords, requests with any
//! method, and a raw TCP client for requests that HTTP libraries would "fix" (dot
//! segments) or could not send (a body cut in half).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Method, RequestBuilder};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::TestApp;

pub const DAV_USER: &str = "bob";
pub const DAV_PASSWORD: &str = "bob-password-1";

/// Creates `bob`, allowed to use WebDAV on the whole library (home `/`), as every
/// account with WebDAV was before folder grants: the tests of WebDAV itself act on the
/// whole library; `tests/webdav_access.rs` tests the grants.
pub async fn dav_user(t: &TestApp) {
    t.create_user(DAV_USER, DAV_PASSWORD, json!({ "webdav": true })).await;
    whole_library(t, DAV_USER).await;
}

/// Gives `username` the whole library, read-write.
pub async fn whole_library(t: &TestApp, username: &str) {
    let meta = gatehouse::service::RequestMeta::local();
    t.app.set_home(gatehouse::domain::policy::Actor::Operator, username, "/", &meta).await.unwrap();
}

/// A new app password of `bob` with `scope`, made through the API as a user does.
pub async fn app_password(t: &TestApp, scope: &str) -> String {
    let issued = t.app_password(DAV_USER, DAV_PASSWORD, scope, 0).await;
    issued["access_token"].as_str().unwrap().to_owned()
}

/// A request with any method (PROPFIND, MKCOL, …) and Basic credentials.
pub fn dav(t: &TestApp, method: &str, path: &str, user: &str, password: &str) -> RequestBuilder {
    t.client.request(Method::from_bytes(method.as_bytes()).unwrap(), t.url(path)).basic_auth(user, Some(password))
}

/// `bob` with his account password.
pub fn bob(t: &TestApp, method: &str, path: &str) -> RequestBuilder {
    dav(t, method, path, DAV_USER, DAV_PASSWORD)
}

/// The `Authorization` header value for Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes()))
}

/// Sends `head` (and `body`) over a fresh connection exactly as given and returns the
/// status code of the answer.
pub async fn raw_status(t: &TestApp, head: &str, body: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no answer to {head:?}: {text:?}"))
}

/// The head of a raw request for `method path` as `bob`, with `extra_headers` (each
/// ending in CRLF).
pub fn raw_head(t: &TestApp, method: &str, path: &str, extra_headers: &str) -> String {
    let auth = basic(DAV_USER, DAV_PASSWORD);
    format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\n{extra_headers}\r\n", t.addr)
}

/// A raw request for `method path` as `bob`, closing the connection after the answer.
pub async fn raw_request(t: &TestApp, method: &str, path: &str, extra_headers: &str) -> u16 {
    let head = raw_head(t, method, path, &format!("{extra_headers}Content-Length: 0\r\nConnection: close\r\n"));
    raw_status(t, &head, b"").await
}

/// Names of the entries of a folder on disk.
pub fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether the tests run as root (who ignores file permissions).
pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

/// Deterministic bytes that are not all alike.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A library of a test server as the tests look at it: its folder on disk, or its
/// prefix in the test bucket, read and written through the storage layer.
pub fn storage(t: &TestApp, name: &str) -> gatehouse::library::Storage {
    use gatehouse::library::{Bucket, Folder, Location, Storage};
    let location = match name {
        "originals" => &t.app.settings.originals_path,
        "import" => &t.app.settings.import_path,
        other => panic!("no library {other}"),
    };
    match location {
        Location::Folder(p) => Storage::Folder(Folder::open(p).unwrap()),
        Location::Bucket(url) => {
            let config = t.app.settings.s3.clone().expect("S3 settings");
            Storage::Bucket(Bucket::open(config, url.clone(), t.app.store.clone()).unwrap())
        }
    }
}

fn split(path: &str) -> (&str, gatehouse::library::Rel) {
    let path = path.trim_start_matches('/');
    let (lib, rest) = path.split_once('/').unwrap_or((path, ""));
    (lib, gatehouse::library::Rel::new(rest.as_bytes()).unwrap())
}

/// The content of `originals/a.txt` (library, then path), if it is a file.
pub async fn read_file(t: &TestApp, path: &str) -> Option<Vec<u8>> {
    let (lib, rel) = split(path);
    let mut reader = storage(t, lib).open_read(&rel).await.ok()?;
    if reader.meta().is_dir {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let chunk = reader.read(1 << 20).await.unwrap();
        if chunk.is_empty() {
            return Some(out);
        }
        out.extend_from_slice(&chunk);
    }
}

/// Writes a file into a library behind the server's back (as another tool would).
pub async fn write_file(t: &TestApp, path: &str, data: &[u8]) {
    let (lib, rel) = split(path);
    let storage = storage(t, lib);
    let mode = gatehouse::library::WriteMode { replace: true, ..Default::default() };
    let mut w = storage.create(&rel, mode).await.unwrap();
    w.write(bytes::Bytes::copy_from_slice(data)).await.unwrap();
    w.commit().await.unwrap();
}

/// Makes a folder in a library behind the server's back.
pub async fn make_dir(t: &TestApp, path: &str) {
    let (lib, rel) = split(path);
    storage(t, lib).create_dir(&rel).await.unwrap();
}

/// What a path is: `None` missing, `Some(true)` a folder, `Some(false)` a file.
pub async fn kind(t: &TestApp, path: &str) -> Option<bool> {
    let (lib, rel) = split(path);
    storage(t, lib).stat(&rel).await.ok().map(|m| m.is_dir)
}

/// The sorted names in a library folder (empty if it is missing).
pub async fn names(t: &TestApp, path: &str) -> Vec<String> {
    let (lib, rel) = split(path);
    let mut v: Vec<String> = storage(t, lib)
        .list(&rel, true)
        .await
        .map(|es| es.into_iter().map(|e| String::from_utf8_lossy(&e.name).into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file and folder of both libraries with its content and modification time:
/// what a refused request must leave as it was.
pub async fn snapshot(t: &TestApp) -> std::collections::BTreeMap<String, Option<(Vec<u8>, std::time::SystemTime)>> {
    let mut out = std::collections::BTreeMap::new();
    for lib in ["originals", "import"] {
        let storage = storage(t, lib);
        let mut todo = vec![gatehouse::library::Rel::root()];
        while let Some(dir) = todo.pop() {
            for e in storage.list(&dir, true).await.unwrap() {
                let p = dir.join(&e.name);
                let shown = format!("{lib}/{}", String::from_utf8_lossy(p.as_bytes()));
                if e.meta.is_dir {
                    out.insert(shown, None);
                    todo.push(p);
                } else {
                    let data = read_file(t, &shown).await.unwrap_or_default();
                    out.insert(shown, Some((data, e.meta.modified)));
                }
            }
        }
    }
    out
}

/// What [`snapshot`] shows of the folders `folders` (`originals/x`) and all below them,
/// with one storage handle per library: cheap enough to take around every request.
pub async fn snapshot_of(
    t: &TestApp,
    folders: &[&str],
) -> std::collections::BTreeMap<String, Option<(Vec<u8>, std::time::SystemTime)>> {
    let mut out = std::collections::BTreeMap::new();
    for folder in folders {
        let (lib, rel) = split(folder);
        let storage = storage(t, lib);
        let mut todo = vec![rel];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = storage.list(&dir, true).await else { continue };
            for e in entries {
                let p = dir.join(&e.name);
                let shown = format!("{lib}/{}", String::from_utf8_lossy(p.as_bytes()));
                if e.meta.is_dir {
                    out.insert(shown, None);
                    todo.push(p);
                } else {
                    let mut data = Vec::new();
                    if let Ok(mut reader) = storage.open_read(&p).await {
                        loop {
                            let chunk = reader.read(64 * 1024).await.unwrap();
                            if chunk.is_empty() {
                                break;
                            }
                            data.extend_from_slice(&chunk);
                        }
                    }
                    out.insert(shown, Some((data, e.meta.modified)));
                }
            }
        }
    }
    out
}

/// The S3 multipart uploads the database knows to be in progress.
pub async fn pending_uploads(t: &TestApp) -> Vec<String> {
    use gatehouse::store::ObjectStore as _;
    t.app.store.stale_uploads(i64::MAX).await.unwrap().into_iter().map(|u| u.object_key).collect()
}
