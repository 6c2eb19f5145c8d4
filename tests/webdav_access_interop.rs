//! Real clients under folder grants (issue 19 §6): litmus run by a confined account in
//! its home passes every suite as it does for the whole library; rclone syncs a tree
//! there and back for a confined account and sees nothing of others'; an app password
//! that may only add files (`append`, as a phone backup has) uploads new files and
//! folders with `rclone copy`, but cannot overwrite, delete or purge what is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use std::path::Path;
use std::process::{Command, Output};

use common::{Db, TestApp, spawn};
use gatehouse::domain::access::{FolderPath, Grant, Level};
use serde_json::json;
use webdav_util::pattern;

const USER: &str = "carol";
const PASSWORD: &str = "carol-password-1";

/// A plain account with WebDAV: its home is `/originals/carol/`.
async fn confined(t: &TestApp) {
    t.create_user(USER, PASSWORD, json!({ "webdav": true })).await;
}

/// An app password of carol's with the webdav scope, limited to `path` at `level`
/// (the service call in one place: its arguments may grow).
async fn limited_password(t: &TestApp, path: &str, level: Level) -> String {
    use gatehouse::store::UserStore as _;
    let user = t.app.store.user_by_name(USER).await.unwrap().unwrap();
    let limit = Grant::new(FolderPath::parse(path).unwrap(), level);
    let meta = gatehouse::service::RequestMeta::local();
    t.app.create_app_password(&user, "phone", "webdav", Some(limit), 0, "test", &meta).await.unwrap().secret
}

/// carol's app password without a limit, made as the UI makes one.
async fn app_password(t: &TestApp) -> String {
    t.app_password(USER, PASSWORD, "webdav", 0).await["access_token"].as_str().unwrap().to_owned()
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (install it, or use ./scripts/test): {e}"))
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn run(cmd: &mut Command) -> Output {
    let out = output(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    out
}

async fn litmus_passes_every_suite_for_a_confined_account_in_its_home(db: Db) {
    let t = spawn(db).await;
    confined(&t).await;
    // Someone else's files next to the home, which litmus must never meet.
    webdav_util::make_dir(&t, "originals/dave").await;
    webdav_util::write_file(&t, "originals/dave/secret.jpg", b"dave's").await;
    let password = app_password(&t).await;
    let work = tempfile::tempdir().unwrap();
    // litmus works in `litmus/` below the URL it is given.
    let url = t.url(&format!("/originals/{USER}/"));
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let (url, password, dir) = (url.clone(), password.clone(), work.path().to_path_buf());
        let out = tokio::task::spawn_blocking(move || {
            run(Command::new("litmus").arg(&url).arg(USER).arg(&password).env("TESTS", suite).current_dir(&dir))
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = text.lines().find(|l| l.contains("summary for")).unwrap_or_default().to_owned();
        eprintln!("litmus {summary}");
        assert!(summary.contains(" 0 failed") && summary.contains("100.0%"), "litmus {suite}:\n{text}");
    }
    assert_eq!(webdav_util::read_file(&t, "originals/dave/secret.jpg").await.unwrap(), b"dave's");
    assert_eq!(webdav_util::names(&t, "originals").await, ["carol", "dave"]);
}

/// Local files: nested folders, an odd name, an empty folder, 0 B to 4 MiB.
fn make_tree(root: &Path, seed: u32) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("zero.bin".to_owned(), Vec::new()),
        ("2026/01/IMG 0001.jpg".to_owned(), pattern(1024, seed)),
        ("2026/01/IMG #2 ✓.jpg".to_owned(), pattern(3000, seed + 1)),
        ("2026/02/big.mov".to_owned(), pattern(4 * 1024 * 1024, seed + 2)),
    ];
    for (name, data) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    files
}

fn rclone(remote_url: &str, password: &str, config: &Path) -> Command {
    let obscured = run(Command::new("rclone").args(["obscure", password]));
    let mut cmd = Command::new("rclone");
    cmd.arg("--config")
        .arg(config)
        .args(["--retries", "1", "--low-level-retries", "1"])
        .env("RCLONE_CONFIG_GH_TYPE", "webdav")
        .env("RCLONE_CONFIG_GH_URL", remote_url)
        .env("RCLONE_CONFIG_GH_VENDOR", "other")
        .env("RCLONE_CONFIG_GH_USER", USER)
        .env("RCLONE_CONFIG_GH_PASS", String::from_utf8_lossy(&obscured.stdout).trim())
        .env("RCLONE_CONFIG_GH_ENCODING", "Slash,Del,Ctl,InvalidUtf8,Dot");
    cmd
}

async fn rclone_round_trip_of_a_confined_account_in_its_home(db: Db) {
    let t = spawn(db).await;
    confined(&t).await;
    webdav_util::make_dir(&t, "originals/dave").await;
    webdav_util::write_file(&t, "originals/dave/secret.jpg", b"dave's").await;
    let password = app_password(&t).await;
    let work = tempfile::tempdir().unwrap();
    let (up, down, config) = (work.path().join("up"), work.path().join("down"), work.path().join("rclone.conf"));
    let files = make_tree(&up, 1);
    let (home, root) = (t.url(&format!("/originals/{USER}/")), t.url("/originals/"));
    let expected = files.clone();
    tokio::task::spawn_blocking(move || {
        run(rclone(&home, &password, &config).args(["copy", "--create-empty-src-dirs"]).arg(&up).arg("gh:sync"));
        run(rclone(&home, &password, &config).args(["check", "--download"]).arg(&up).arg("gh:sync"));
        run(rclone(&home, &password, &config).args(["copy", "--create-empty-src-dirs"]).arg("gh:sync").arg(&down));
        assert!(down.join("empty").is_dir(), "the empty folder came back");
        for (name, data) in &files {
            assert!(std::fs::read(down.join(name)).unwrap() == *data, "{name} downloaded back");
        }
        // From the library's top, the account sees its home and nothing of dave's.
        let out = run(rclone(&root, &password, &config).args(["lsf", "-R", "gh:"]));
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(listed.lines().all(|l| l.starts_with("carol/")), "{listed}");
        assert!(listed.contains("carol/sync/2026/02/big.mov"), "{listed}");
        let out = output(rclone(&root, &password, &config).args(["cat", "gh:dave/secret.jpg"]));
        assert!(!out.status.success() && out.stdout.is_empty(), "{}", text(&out));
        // A sync that would delete others' files from the top deletes nothing of theirs.
        let empty = up.join("empty");
        let _ = output(rclone(&root, &password, &config).arg("sync").arg(&empty).arg("gh:dave"));
    })
    .await
    .unwrap();
    for (name, data) in &expected {
        let on_server = webdav_util::read_file(&t, &format!("originals/{USER}/sync/{name}")).await;
        assert!(on_server.as_ref() == Some(data), "{name} on the server");
    }
    assert_eq!(webdav_util::kind(&t, &format!("originals/{USER}/sync/empty")).await, Some(true));
    assert_eq!(webdav_util::read_file(&t, "originals/dave/secret.jpg").await.unwrap(), b"dave's");
}

/// What a phone backup does with an app password that may only add: new files and
/// folders go in; changed files are not overwritten (rclone reports errors, the first
/// versions stay); delete and purge fail and remove nothing.
async fn rclone_with_an_append_only_app_password_adds_but_never_changes(db: Db) {
    let t = spawn(db).await;
    confined(&t).await;
    let phone = format!("/originals/{USER}/phone");
    let password = limited_password(&t, &phone, Level::Append).await;
    let work = tempfile::tempdir().unwrap();
    let (up, config) = (work.path().join("up"), work.path().join("rclone.conf"));
    let first = make_tree(&up, 1);
    let url = t.url(&format!("{phone}/"));
    let logs = tokio::task::spawn_blocking(move || {
        let mut logs = Vec::new();
        let out = output(
            rclone(&url, &password, &config).args(["copy", "-vv", "--create-empty-src-dirs"]).arg(&up).arg("gh:dcim"),
        );
        assert!(out.status.success(), "the first upload under append:\n{}", text(&out));
        run(rclone(&url, &password, &config).args(["check", "--download"]).arg(&up).arg("gh:dcim"));
        // Every file changed (another size), one new file and one new folder.
        let second = make_tree(&up, 100);
        for (name, data) in &second {
            let mut longer = data.clone();
            longer.extend_from_slice(b"changed");
            std::fs::write(up.join(name), longer).unwrap();
        }
        std::fs::create_dir_all(up.join("2026/03")).unwrap();
        std::fs::write(up.join("2026/03/new.jpg"), b"a new photo").unwrap();
        let out = output(rclone(&url, &password, &config).args(["copy", "-vv"]).arg(&up).arg("gh:dcim"));
        assert!(!out.status.success(), "a copy of changed files must report errors:\n{}", text(&out));
        logs.push(text(&out));
        for cmd in [vec!["delete", "gh:dcim"], vec!["purge", "gh:dcim"], vec!["deletefile", "gh:dcim/zero.bin"]] {
            let out = output(rclone(&url, &password, &config).args(&cmd));
            assert!(!out.status.success(), "rclone {cmd:?} must fail:\n{}", text(&out));
            logs.push(text(&out));
        }
        logs
    })
    .await
    .unwrap();
    let keep = |s: &str| eprintln!("{}", s.lines().filter(|l| l.contains("ERROR")).collect::<Vec<_>>().join("\n"));
    logs.iter().for_each(|l| keep(l));
    for (name, data) in &first {
        let on_server = webdav_util::read_file(&t, &format!("originals/{USER}/phone/dcim/{name}")).await;
        assert!(on_server.as_ref() == Some(data), "{name}: the first version stays");
    }
    let new = webdav_util::read_file(&t, &format!("originals/{USER}/phone/dcim/2026/03/new.jpg")).await;
    assert_eq!(new.as_deref(), Some(&b"a new photo"[..]), "a new file in a new folder is added");
    assert_eq!(webdav_util::kind(&t, &format!("originals/{USER}/phone/dcim/empty")).await, Some(true));
}

on_every_backend!(
    litmus_passes_every_suite_for_a_confined_account_in_its_home,
    rclone_round_trip_of_a_confined_account_in_its_home,
    rclone_with_an_append_only_app_password_adds_but_never_changes,
);
