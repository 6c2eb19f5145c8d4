//! WebDAV against real clients (docs/design.md, "WebDAV sync"): the litmus compliance suite,
//! suite by suite; rclone syncing a tree of odd names and sizes there and back; curl
//! setting modification times (`X-OC-MTime`) and reading ranges. The tools come from
//! Debian (`scripts/test` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use std::path::Path;
use std::process::{Command, Output};

use common::{Db, TestApp, spawn};
use webdav_util::{DAV_USER, app_password, dav_user, pattern};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (install it, or use ./scripts/test): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn litmus_passes_every_test_of_every_suite(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let password = app_password(&t, "webdav").await;
    let work = tempfile::tempdir().unwrap();
    let url = t.url("/originals/");
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let (url, password, dir) = (url.clone(), password.clone(), work.path().to_path_buf());
        let out = tokio::task::spawn_blocking(move || {
            run(Command::new("litmus").arg(&url).arg(DAV_USER).arg(&password).env("TESTS", suite).current_dir(&dir))
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = text.lines().find(|l| l.contains("summary for")).unwrap_or_default().to_owned();
        eprintln!("litmus {summary}");
        assert!(summary.contains(" 0 failed") && summary.contains("100.0%"), "litmus {suite}:\n{text}");
    }
}

/// The tree rclone syncs: nested folders with spaces, Unicode, `#`, `%` and `?`, an
/// empty folder, and files of 0 B, 1 KiB and 50 MiB.
fn make_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("zero.bin".to_owned(), Vec::new()),
        ("a folder/one k.bin".to_owned(), pattern(1024, 1)),
        ("a folder/Ünïcødé ✓ 写真/hash#tag.txt".to_owned(), pattern(1024, 2)),
        ("a folder/Ünïcødé ✓ 写真/per%cent 100%.txt".to_owned(), pattern(1024, 3)),
        ("what?/really?.bin".to_owned(), pattern(1024, 4)),
        ("what?/#%?/ empty .bin".to_owned(), Vec::new()),
        ("deep/er/and/deeper/big file.bin".to_owned(), pattern(50 * 1024 * 1024, 5)),
    ];
    for (name, data) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    std::fs::create_dir_all(root.join("an empty folder #1")).unwrap();
    files
}

fn rclone(remote_url: &str, password: &str, config: &Path) -> Command {
    let obscured = run(Command::new("rclone").args(["obscure", password]));
    let mut cmd = Command::new("rclone");
    cmd.arg("--config")
        .arg(config)
        .env("RCLONE_CONFIG_GH_TYPE", "webdav")
        .env("RCLONE_CONFIG_GH_URL", remote_url)
        .env("RCLONE_CONFIG_GH_VENDOR", "other")
        .env("RCLONE_CONFIG_GH_USER", DAV_USER)
        .env("RCLONE_CONFIG_GH_PASS", String::from_utf8_lossy(&obscured.stdout).trim())
        // Send `#`, `%` and `?` as they are (percent-encoded in URLs), not as look-alikes.
        .env("RCLONE_CONFIG_GH_ENCODING", "Slash,Del,Ctl,InvalidUtf8,Dot");
    cmd
}

async fn rclone_uploads_a_tree_and_gets_it_back_byte_identical(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let password = app_password(&t, "webdav").await;
    let work = tempfile::tempdir().unwrap();
    let (up, down, config) = (work.path().join("up"), work.path().join("down"), work.path().join("rclone.conf"));
    let files = make_tree(&up);
    // rclone expects the remote's root to exist; it creates everything below.
    let url = t.url("/originals/");
    let expected = files.clone();
    tokio::task::spawn_blocking(move || {
        run(rclone(&url, &password, &config).args(["copy", "--create-empty-src-dirs"]).arg(&up).arg("gh:sync"));
        run(rclone(&url, &password, &config).args(["check", "--download"]).arg(&up).arg("gh:sync"));
        run(rclone(&url, &password, &config).args(["copy", "--create-empty-src-dirs"]).arg("gh:sync").arg(&down));
        assert!(down.join("an empty folder #1").is_dir(), "the empty folder came back");
        run(rclone(&url, &password, &config).arg("check").arg(&up).arg(&down));
        for (name, data) in &files {
            let back = std::fs::read(down.join(name)).unwrap();
            assert!(back == *data, "{name} downloaded back");
        }
    })
    .await
    .unwrap();
    for (name, data) in &expected {
        let on_server = webdav_util::read_file(&t, &format!("originals/sync/{name}")).await;
        assert!(on_server.as_ref() == Some(data), "{name} on the server");
    }
    assert_eq!(webdav_util::names(&t, "originals/sync/what?").await, ["#%?", "really?.bin"]);
    assert_eq!(webdav_util::kind(&t, "originals/sync/an empty folder #1").await, Some(true));
    assert!(webdav_util::names(&t, "originals/sync/an empty folder #1").await.is_empty());
}

fn curl(t: &TestApp, password: &str) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--user"]).arg(format!("{DAV_USER}:{password}"));
    let _ = t;
    cmd
}

async fn curl_sets_modification_times_and_reads_ranges(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let password = app_password(&t, "webdav").await;
    let work = tempfile::tempdir().unwrap();
    let body = pattern(100_000, 9);
    let file = work.path().join("photo.jpg");
    std::fs::write(&file, &body).unwrap();
    let url = t.url("/originals/photo.jpg");

    let out = run(curl(&t, &password)
        .args(["-D", "-", "-o", "/dev/null", "-H", "X-OC-MTime: 1500000000", "-T"])
        .arg(&file)
        .arg(&url));
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.contains("http/1.1 201"), "{head}");
    assert!(head.contains("x-oc-mtime: accepted"), "{head}");
    let (lib, path) = (webdav_util::storage(&t, "originals"), gatehouse::library::Rel::new(b"photo.jpg").unwrap());
    let mtime = lib.stat(&path).await.unwrap().modified.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(mtime, 1_500_000_000);
    let out = run(curl(&t, &password).args(["-X", "PROPFIND", "-H", "Depth: 0"]).arg(&url));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Fri, 14 Jul 2017 02:40:00 GMT"));
    // Sync apps and Windows set times with PROPPATCH too; each shows in PROPFIND.
    for (ns, prop, value, shown) in [
        ("DAV:", "lastmodified", "1600000000", "Sun, 13 Sep 2020 12:26:40 GMT"),
        ("DAV:", "getlastmodified", "Mon, 01 Jan 2001 00:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT"),
        (
            "urn:schemas-microsoft-com:",
            "Win32LastModifiedTime",
            "Tue, 02 Feb 2010 10:00:00 GMT",
            "Tue, 02 Feb 2010 10:00:00 GMT",
        ),
    ] {
        let body = format!(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><P:{prop} xmlns:P="{ns}">{value}</P:{prop}></D:prop></D:set></D:propertyupdate>"#
        );
        let out = run(curl(&t, &password).args(["-X", "PROPPATCH", "--data-binary"]).arg(&body).arg(&url));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("200 OK"), "{prop}: {text}");
        let out = run(curl(&t, &password).args(["-X", "PROPFIND", "-H", "Depth: 1"]).arg(t.url("/originals/")));
        assert!(String::from_utf8_lossy(&out.stdout).contains(shown), "{prop}: {shown} not shown");
    }
    let bad = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:lastmodified>soon</D:lastmodified></D:prop></D:set></D:propertyupdate>"#;
    let out = run(curl(&t, &password).args(["-X", "PROPPATCH", "--data-binary", bad]).arg(&url));
    assert!(String::from_utf8_lossy(&out.stdout).contains("409 Conflict"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(curl(&t, &password).args(["-X", "PROPFIND", "-H", "Depth: 0"]).arg(&url));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Tue, 02 Feb 2010 10:00:00 GMT"),
        "a refused time changes nothing"
    );

    let out = run(curl(&t, &password)
        .args(["-o", "/dev/null", "-w", "%{http_code}", "-H", "X-OC-MTime: later", "-T"])
        .arg(&file)
        .arg(&url));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");

    for (range, start, end) in
        [("100-199", 100, 200), ("99990-", 99_990, 100_000), ("-10", 99_990, 100_000), ("0-0", 0, 1)]
    {
        let got = work.path().join("part");
        let out = run(curl(&t, &password).args(["-D", "-", "-o"]).arg(&got).args(["-r", range]).arg(&url));
        let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(head.starts_with("http/1.1 206"), "{range}: {head}");
        assert!(head.contains(&format!("content-range: bytes {start}-{}/100000", end - 1)), "{range}: {head}");
        assert_eq!(std::fs::read(&got).unwrap(), body[start..end], "{range}");
    }
    let out = run(curl(&t, &password).args(["-o", "/dev/null", "-w", "%{http_code}", "-r", "200000-300000"]).arg(&url));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "416");
}

on_every_backend!(
    litmus_passes_every_test_of_every_suite,
    rclone_uploads_a_tree_and_gets_it_back_byte_identical,
    curl_sets_modification_times_and_reads_ranges,
);
