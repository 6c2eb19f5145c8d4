//! Nothing outside the library is reachable over WebDAV (docs/design.md, "WebDAV sync"): dot
//! segments in any spelling, encoded slashes, backslashes, foreign or outside
//! `Destination` headers, symlinks leading out; and a full or refusing disk answers
//! 507 or 403, never 500, without leaving a partial file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, spawn, spawn_with};
use reqwest::StatusCode;
use webdav_util::{bob, dav_user, is_root, names_in, raw_request};

/// A secret file next to the data folder, where no request may reach.
fn plant_secret(t: &common::TestApp) -> std::path::PathBuf {
    let secret = t.data_dir.parent().unwrap().join("secret.txt");
    std::fs::write(&secret, b"top secret").unwrap();
    secret
}

async fn dot_segments_encoded_slashes_and_backslashes_are_refused(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let secret = plant_secret(&t);
    std::fs::create_dir_all(t.data_dir.join("originals/sub")).unwrap();
    for path in [
        "/originals/../../secret.txt",
        "/originals/sub/../../../secret.txt",
        "/originals/%2e%2e/%2e%2e/secret.txt",
        "/originals/%2E%2e/import/",
        "/originals/..%2f..%2fsecret.txt",
        "/originals/sub%2f..%2f..%2f..%2fsecret.txt",
        "/originals/..\\..\\secret.txt",
        "/originals/%5c..%5c..%5csecret.txt",
        "/originals/./sub",
    ] {
        for method in ["GET", "PROPFIND", "PUT", "DELETE"] {
            let status = raw_request(&t, method, path, "Depth: 1\r\n").await;
            assert!(status == 400 || status == 404, "{method} {path}: {status}");
        }
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    assert_eq!(names_in(&t.data_dir.join("originals")), ["sub"]);
}

async fn destination_headers_stay_on_this_server_and_in_this_folder(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let secret = plant_secret(&t);
    assert_eq!(bob(&t, "PUT", "/originals/a.txt").body("a").send().await.unwrap().status(), 201);
    let here = t.addr.to_string();
    let cases = [
        ("http://evil.example/originals/b.txt".to_owned(), 502),
        (format!("http://{here}.evil.example/originals/b.txt"), 502),
        ("/import/b.txt".to_owned(), 403),
        ("/secret.txt".to_owned(), 403),
        (format!("http://{here}/import/b.txt"), 403),
        (format!("http://{here}/originals/../../secret.txt"), 400),
        ("/originals/%2e%2e/%2e%2e/secret.txt".to_owned(), 400),
        ("/originals/..%2fimport%2fb.txt".to_owned(), 400),
        ("/originals/a\\..\\..\\b.txt".to_owned(), 400),
    ];
    for method in ["COPY", "MOVE"] {
        for (dest, want) in &cases {
            let status = raw_request(&t, method, "/originals/a.txt", &format!("Destination: {dest}\r\n")).await;
            assert_eq!(status, *want, "{method} to {dest}");
        }
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    assert_eq!(names_in(&t.data_dir.join("originals")), ["a.txt"]);
    assert!(names_in(&t.data_dir.join("import")).is_empty());
    // The same server, spelled as a full URL, is fine.
    let ok = bob(&t, "MOVE", "/originals/a.txt").header("Destination", format!("http://{here}/originals/b.txt"));
    assert_eq!(ok.send().await.unwrap().status(), 201);
}

async fn symlinks_that_lead_out_of_the_library_are_not_followed(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let secret = plant_secret(&t);
    let outside = secret.parent().unwrap().to_path_buf();
    let originals = t.data_dir.join("originals");
    std::os::unix::fs::symlink(&outside, originals.join("out")).unwrap();
    std::os::unix::fs::symlink(&secret, originals.join("secret-link.txt")).unwrap();
    std::fs::create_dir(originals.join("inside")).unwrap();
    std::fs::write(originals.join("inside/ok.txt"), b"ok").unwrap();
    std::os::unix::fs::symlink(originals.join("inside"), originals.join("alias")).unwrap();

    for path in ["/originals/secret-link.txt", "/originals/out/secret.txt", "/originals/out/"] {
        let r = bob(&t, "GET", path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "GET {path}");
        let r = bob(&t, "PROPFIND", path).header("Depth", "1").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "PROPFIND {path}");
    }
    let list = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap().text().await.unwrap();
    assert!(!list.contains("secret-link") && !list.contains("/originals/out/"), "{list}");
    assert!(list.contains("/originals/alias/"), "links inside the library are served: {list}");
    assert_eq!(bob(&t, "GET", "/originals/alias/ok.txt").send().await.unwrap().text().await.unwrap(), "ok");

    let put = bob(&t, "PUT", "/originals/out/planted.txt").body("x").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    let put = bob(&t, "PUT", "/originals/secret-link.txt").body("overwritten").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    assert_eq!(bob(&t, "MKCOL", "/originals/out/new/").send().await.unwrap().status(), StatusCode::FORBIDDEN);
    for path in ["/originals/out/secret.txt", "/originals/secret-link.txt"] {
        assert_eq!(bob(&t, "DELETE", path).send().await.unwrap().status(), StatusCode::FORBIDDEN, "{path}");
    }
    let copy = bob(&t, "COPY", "/originals/out/secret.txt").header("Destination", "/originals/stolen.txt");
    assert_eq!(copy.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Deleting a folder that holds a link deletes the link, not what it points to.
    std::os::unix::fs::symlink(originals.join("inside"), originals.join("alias2")).unwrap();
    std::fs::create_dir(originals.join("holder")).unwrap();
    std::fs::rename(originals.join("alias2"), originals.join("holder/alias2")).unwrap();
    assert_eq!(bob(&t, "DELETE", "/originals/holder/").send().await.unwrap().status(), 204);
    assert_eq!(std::fs::read(originals.join("inside/ok.txt")).unwrap(), b"ok");

    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    assert!(!outside.join("planted.txt").exists() && !outside.join("new").exists());
    assert!(!originals.join("stolen.txt").exists());
}

async fn a_full_disk_answers_507_and_leaves_nothing_behind(db: Db) {
    // CI runs as root; a test that cannot do what it checks fails loudly, never passes.
    assert!(is_root(), "this test mounts a small tmpfs and needs root (CI runs as root)");
    let mount = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mount.path())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot mount a tmpfs here: this test needs root with CAP_SYS_ADMIN");
    let folder = mount.path().to_path_buf();
    let t = spawn_with(db, |s| s.originals_path = gatehouse::library::Location::Folder(folder.clone())).await;
    dav_user(&t).await;
    let r = bob(&t, "PUT", "/originals/big.bin").body(vec![7u8; 3 * 1024 * 1024]).send().await.unwrap();
    let status = r.status();
    let left = names_in(&folder);
    drop(t);
    let _ = std::process::Command::new("umount").arg(&folder).status();
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}

async fn a_folder_the_server_may_not_write_answers_403(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let locked = t.data_dir.join("originals/locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("old.txt"), b"old").unwrap();
    // Root ignores permission bits; an immutable folder refuses even root.
    let (lock, unlock): (Vec<&str>, Vec<&str>) = if is_root() {
        (vec!["chattr", "+i"], vec!["chattr", "-i"])
    } else {
        (vec!["chmod", "555"], vec!["chmod", "755"])
    };
    let locked_ok = std::process::Command::new(lock[0]).arg(lock[1]).arg(&locked).status().is_ok_and(|s| s.success());
    assert!(locked_ok, "cannot make a folder unwritable here ({lock:?})");
    let put = bob(&t, "PUT", "/originals/locked/new.txt").body("x").send().await.unwrap().status();
    let mkcol = bob(&t, "MKCOL", "/originals/locked/sub/").send().await.unwrap().status();
    let delete = bob(&t, "DELETE", "/originals/locked/old.txt").send().await.unwrap().status();
    let _ = std::process::Command::new(unlock[0]).arg(unlock[1]).arg(&locked).status();
    assert_eq!(put, StatusCode::FORBIDDEN);
    assert_eq!(mkcol, StatusCode::FORBIDDEN);
    assert_eq!(delete, StatusCode::FORBIDDEN);
    assert_eq!(names_in(&locked), ["old.txt"]);
}

/// A FIFO or device node in the library (put there by hand) is refused at once: opening
/// one for reading would otherwise wait for a writer forever, a thread per request.
async fn special_files_are_refused_without_waiting(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let originals = t.data_dir.join("originals");
    rustix::fs::mknodat(rustix::fs::CWD, originals.join("pipe"), rustix::fs::FileType::Fifo, rustix::fs::Mode::RUSR, 0)
        .unwrap();
    let in_time = |req: reqwest::RequestBuilder| async move {
        tokio::time::timeout(std::time::Duration::from_secs(10), req.send()).await.expect("answered").unwrap().status()
    };
    assert_eq!(in_time(bob(&t, "GET", "/originals/pipe")).await, StatusCode::FORBIDDEN);
    assert_eq!(in_time(bob(&t, "GET", "/originals/pipe").header("Range", "bytes=0-9")).await, StatusCode::FORBIDDEN);
    let copy = bob(&t, "COPY", "/originals/pipe").header("Destination", "/originals/copied");
    assert_eq!(in_time(copy).await, StatusCode::FORBIDDEN);
    assert!(!originals.join("copied").exists());
    assert_eq!(in_time(bob(&t, "PROPFIND", "/originals/").header("Depth", "1")).await, StatusCode::MULTI_STATUS);
}

on_both_databases!(
    dot_segments_encoded_slashes_and_backslashes_are_refused,
    destination_headers_stay_on_this_server_and_in_this_folder,
    symlinks_that_lead_out_of_the_library_are_not_followed,
    a_full_disk_answers_507_and_leaves_nothing_behind,
    a_folder_the_server_may_not_write_answers_403,
    special_files_are_refused_without_waiting,
);
