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

/// Creates `bob`, allowed to use WebDAV.
pub async fn dav_user(t: &TestApp) {
    t.create_user(DAV_USER, DAV_PASSWORD, json!({ "webdav": true })).await;
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
