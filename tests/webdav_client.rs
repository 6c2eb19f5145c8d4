//! A second, independent WebDAV client (issue 10, bullet 5): the Python library
//! `webdavclient3` (PyPI) runs a sync app's journey against the real server
//! (`tests/webdav_client/journey.py`) with an app password, over names with
//! spaces, `&`, `(`, `)`, `#`, `%` and non-ASCII letters; the folder on disk must then
//! hold exactly what the client says it left, byte for byte.
//!
//! `scripts/test` installs `webdavclient3` into a virtualenv and names its Python in
//! `GATEHOUSE_TEST_PYTHON`; without it the test looks for that virtualenv
//! (`${XDG_CACHE_HOME:-~/.cache}/gatehouse/venv`) and fails — never skips — when the
//! client is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::Db;
use webdav_util::{DAV_USER, app_password, dav_user};

/// The Python that has `webdavclient3`.
fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("GATEHOUSE_TEST_PYTHON") {
        return p.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    cache.join("gatehouse/venv/bin/python")
}

/// Same bytes as the script's `content(name)`.
fn content(name: &str) -> Vec<u8> {
    let seed: usize = name.bytes().map(usize::from).sum();
    (0..70_000 + seed).map(|i| ((i * 7 + seed) % 256) as u8).collect()
}

async fn a_python_webdav_client_syncs_files_with_unusual_names(db: Db) {
    let python = python();
    let has_client = std::process::Command::new(&python).args(["-c", "import webdav3.client"]).output();
    assert!(
        has_client.is_ok_and(|o| o.status.success()),
        "the WebDAV client webdavclient3 is missing for {}: run ./scripts/test, which installs it",
        python.display()
    );
    let t = common::spawn(db).await;
    dav_user(&t).await;
    let password = app_password(&t, "webdav").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webdav_client/journey.py");
    let mut journey = std::process::Command::new(&python);
    journey
        .arg(script)
        .env("GATEHOUSE_DAV_URL", t.url("/originals/"))
        .env("GATEHOUSE_DAV_USER", DAV_USER)
        .env("GATEHOUSE_DAV_PASSWORD", &password);
    let out = tokio::task::spawn_blocking(move || journey.output()).await.unwrap().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "webdavclient3 journey failed:\n{stdout}\n{stderr}");

    let mut left: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("LEFT ")).collect();
    left.sort();
    assert_eq!(left.len(), 6, "{stdout}");
    let mut on_disk = Vec::new();
    for folder in webdav_util::names(&t, "originals").await {
        for name in webdav_util::names(&t, &format!("originals/{folder}")).await {
            on_disk.push(format!("{folder}/{name}"));
        }
    }
    on_disk.sort();
    assert_eq!(on_disk, left, "the folder on disk holds what the client listed");
    for path in left {
        let name = path.rsplit('/').next().unwrap();
        let original = if name == "moved 100% ✓.png" {
            "日本 写真.png"
        } else {
            name.strip_prefix("copy of ").unwrap_or(name)
        };
        assert_eq!(
            webdav_util::read_file(&t, &format!("originals/{path}")).await.unwrap(),
            content(original),
            "{path}"
        );
    }
}

on_every_backend!(a_python_webdav_client_syncs_files_with_unusual_names);
