//! Times at the edges of what the formats can show (years past 9999): refused on the way
//! in — PROPPATCH and `X-OC-MTime` — and clamped on the way out when another tool left
//! one on disk, so no answer ever fails (the `time` crate panics on such a time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, spawn, spawn_with};
use webdav_util::{bob, dav_user};

const PAST_9999: &str = "253402300800";

async fn a_time_past_the_year_9999_is_refused_and_changes_nothing(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "PUT", "/originals/a.txt").body("a").send().await.unwrap().status(), 201);
    let before = bob(&t, "HEAD", "/originals/a.txt").send().await.unwrap().headers()["last-modified"].clone();
    for prop in ["D:lastmodified", "D:getlastmodified"] {
        let body = format!(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><{prop}>{PAST_9999}</{prop}></D:prop></D:set></D:propertyupdate>"#
        );
        let r = bob(&t, "PROPPATCH", "/originals/a.txt").body(body).send().await.unwrap();
        assert_eq!(r.status(), 207);
        let text = r.text().await.unwrap();
        assert!(text.contains("409"), "the time is refused (RFC 4918 §9.2.1): {text}");
    }
    let r = bob(&t, "PUT", "/originals/b.txt").header("X-OC-MTime", PAST_9999).body("b").send().await.unwrap();
    assert_eq!(r.status(), 400, "X-OC-MTime past 9999 is refused");
    assert_eq!(bob(&t, "GET", "/originals/b.txt").send().await.unwrap().status(), 404, "and nothing was written");
    let r = bob(&t, "GET", "/originals/a.txt").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["last-modified"], before, "the file's time did not change");
    let r = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap();
    assert_eq!(r.status(), 207);
}

/// tmpfs keeps 64-bit file times (ext4 stops at 2446): the library lives there.
async fn a_file_time_past_9999_on_disk_is_shown_as_the_last_second_of_9999(db: Db) {
    let shm = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let originals = shm.path().join("originals");
    std::fs::create_dir_all(&originals).unwrap();
    let file = originals.join("future.jpg");
    std::fs::write(&file, b"jpeg").unwrap();
    let far = std::time::UNIX_EPOCH + std::time::Duration::from_secs(300_000_000_000);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(far).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), far, "the file system keeps the time");
    let t = spawn_with(db, |s| s.originals_path = gatehouse::library::Location::Folder(originals.clone())).await;
    dav_user(&t).await;
    let r = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap();
    assert_eq!(r.status(), 207);
    let text = r.text().await.unwrap();
    assert!(text.contains("Fri, 31 Dec 9999 23:59:59 GMT"), "{text}");
    let r = bob(&t, "GET", "/originals/future.jpg").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["last-modified"], "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"jpeg");
}

on_every_backend!(a_time_past_the_year_9999_is_refused_and_changes_nothing);
on_both_databases!(a_file_time_past_9999_on_disk_is_shown_as_the_last_second_of_9999);
