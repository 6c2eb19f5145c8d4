//! WebDAV at the edges. Times past what the formats can show (years past 9999) are
//! refused on the way in — PROPPATCH and `X-OC-MTime` — and clamped on the way out when
//! another tool left one on disk, so no answer ever fails (the `time` crate panics on
//! such a time). Temporary uploads left by a process killed mid-upload never block a
//! DELETE and are removed at start.
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

/// Found by the black-box attack: `Fri, 31 Dec 9999` was answered 200 and kept as
/// 10 May 2446, where ext4's times end. A time the library cannot keep is refused (409)
/// and the file keeps its own; one it can keep is kept to the second.
async fn a_time_the_library_cannot_keep_is_refused_not_changed(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "PUT", "/originals/a.txt").body("a").send().await.unwrap().status(), 201);
    let before = last_modified(&t, "/originals/a.txt").await;
    let last_second = std::time::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799);
    let keeps_it = match &t.app.settings.originals_path {
        gatehouse::library::Location::Folder(dir) => {
            // Does this file system keep such a time? Asked of a file beside the library.
            let probe = tempfile::NamedTempFile::new_in(dir.parent().unwrap()).unwrap();
            probe.as_file().set_modified(last_second).unwrap();
            std::fs::metadata(probe.path()).unwrap().modified().unwrap() == last_second
        }
        gatehouse::library::Location::Bucket(_) => true,
    };
    let body = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Fri, 31 Dec 9999 23:59:59 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>"#;
    let r = bob(&t, "PROPPATCH", "/originals/a.txt").body(body).send().await.unwrap();
    assert_eq!(r.status(), 207);
    let text = r.text().await.unwrap();
    if keeps_it {
        assert!(text.contains("200 OK"), "{text}");
        assert_eq!(last_modified(&t, "/originals/a.txt").await, "Fri, 31 Dec 9999 23:59:59 GMT");
    } else {
        assert!(text.contains("409"), "{text}");
        assert_eq!(last_modified(&t, "/originals/a.txt").await, before, "the file keeps its time");
    }
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

/// A hidden temporary upload, as `kill -9` mid-PUT leaves one, last written `age` ago.
fn leave_upload(dir: &std::path::Path, name: &str, age: std::time::Duration) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!(".gatehouse-upload-{name}"));
    std::fs::write(&path, b"half an upload").unwrap();
    let at = std::time::SystemTime::now() - age;
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
    path
}

async fn a_crashed_upload_never_blocks_deleting_its_folder(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "MKCOL", "/originals/trip/").send().await.unwrap().status(), 201);
    assert_eq!(bob(&t, "PUT", "/originals/trip/a.jpg").body("a").send().await.unwrap().status(), 201);
    let gatehouse::library::Location::Folder(originals) = &t.app.settings.originals_path else { unreachable!() };
    leave_upload(&originals.join("trip"), "crashed", std::time::Duration::from_secs(5));
    // Issue 18: "temporary uploads left by a crash … never block DELETE or MOVE".
    let r = bob(&t, "MOVE", "/originals/trip/").header("destination", "/originals/moved/").send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = bob(&t, "COPY", "/originals/moved/").header("destination", "/originals/copy/").send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(webdav_util::names_in(&originals.join("copy")), ["a.jpg"], "a hidden upload is not copied");
    for folder in ["/originals/moved/", "/originals/copy/"] {
        let r = bob(&t, "DELETE", folder).send().await.unwrap();
        assert_eq!(r.status(), 204, "{folder}: {}", r.text().await.unwrap());
    }
    assert!(!originals.join("moved").exists() && !originals.join("copy").exists());
}

async fn uploads_abandoned_for_an_hour_are_removed_at_start(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let originals = dir.path().join("originals");
    let stale = leave_upload(&originals.join("a/b"), "stale", std::time::Duration::from_secs(2 * 3600));
    let fresh = leave_upload(&originals.join("a"), "fresh", std::time::Duration::from_secs(60));
    let _t = spawn_with(db, |s| s.originals_path = gatehouse::library::Location::Folder(originals.clone())).await;
    for _ in 0..300 {
        if !stale.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!stale.exists(), "an upload untouched for two hours is removed at start");
    assert!(fresh.exists(), "one written a minute ago may still be in progress");
}

async fn a_name_longer_than_the_file_system_allows_is_a_client_error(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let long = "a".repeat(256);
    for (method, depth) in [("PROPFIND", "0"), ("PROPFIND", "1"), ("GET", "0"), ("DELETE", "0"), ("MKCOL", "0")] {
        let r = bob(&t, method, &format!("/originals/{long}")).header("Depth", depth).send().await.unwrap();
        assert!(r.status().is_client_error(), "{method} Depth {depth}: {}", r.status());
    }
}

const LOCKINFO: &str = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
const TIME_PATCH: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:lastmodified>1600000000</D:lastmodified></D:prop></D:set></D:propertyupdate>"#;
const TIME_PATCHED: &str = "Sun, 13 Sep 2020 12:26:40 GMT";

async fn lock(t: &common::TestApp, path: &str) -> String {
    let r = bob(t, "LOCK", path).body(LOCKINFO).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["lock-token"].to_str().unwrap().trim_matches(['<', '>']).to_owned()
}

async fn last_modified(t: &common::TestApp, path: &str) -> String {
    bob(t, "HEAD", path).send().await.unwrap().headers()["last-modified"].to_str().unwrap().to_owned()
}

/// Issue 18: "A stale or unknown lock token in `If` counts as valid (`PUT If: (<expired
/// token>)` overwrote another user's newer version; RFC 4918 §10.4 says 412)."
async fn a_put_under_an_expired_lock_does_not_overwrite_a_newer_version(db: Db) {
    let clock = gatehouse::clock::ManualClock::at(common::unix_now());
    let t = common::spawn_with_clock(db, &clock, |_| {}).await;
    dav_user(&t).await;
    t.create_user("carol", "carol-password-1", serde_json::json!({ "webdav": true })).await;
    webdav_util::whole_library(&t, "carol").await;
    assert_eq!(bob(&t, "PUT", "/originals/a.txt").body("v1").send().await.unwrap().status(), 201);
    let token = lock(&t, "/originals/a.txt").await;
    // The lock's hour passes and carol saves a newer version.
    clock.advance(3601);
    let r = webdav_util::dav(&t, "PUT", "/originals/a.txt", "carol", "carol-password-1").body("v2").send().await;
    assert_eq!(r.unwrap().status(), 204);
    let r = bob(&t, "PUT", "/originals/a.txt").header("if", format!("(<{token}>)")).body("stale").send().await.unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(bob(&t, "GET", "/originals/a.txt").send().await.unwrap().text().await.unwrap(), "v2");
    // The same condition inverted holds, so the write goes ahead.
    let r =
        bob(&t, "PUT", "/originals/a.txt").header("if", format!("(Not <{token}>)")).body("v3").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(bob(&t, "GET", "/originals/a.txt").send().await.unwrap().text().await.unwrap(), "v3");
}

/// Issue 18: "A time-only PROPPATCH ignores `If-Match` and `If`." It now honours them,
/// and the locks on the file, like every other write.
async fn a_time_only_proppatch_honours_its_preconditions_and_locks(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "PUT", "/originals/a.txt").body("a").send().await.unwrap().status(), 201);
    let etag = bob(&t, "HEAD", "/originals/a.txt").send().await.unwrap().headers()["etag"].to_str().unwrap().to_owned();
    let before = last_modified(&t, "/originals/a.txt").await;
    let patch = |h: &'static str, v: String| bob(&t, "PROPPATCH", "/originals/a.txt").header(h, v).body(TIME_PATCH);
    assert_eq!(patch("if-match", "\"other\"".to_owned()).send().await.unwrap().status(), 412);
    assert_eq!(patch("if", "([\"other\"])".to_owned()).send().await.unwrap().status(), 412);
    assert_eq!(last_modified(&t, "/originals/a.txt").await, before, "a refused PROPPATCH changes nothing");
    let r = patch("if-match", etag.clone()).send().await.unwrap();
    assert_eq!(r.status(), 207);
    assert!(r.text().await.unwrap().contains("200 OK"));
    assert_eq!(last_modified(&t, "/originals/a.txt").await, TIME_PATCHED);

    assert_eq!(bob(&t, "PUT", "/originals/b.txt").body("b").send().await.unwrap().status(), 201);
    let token = lock(&t, "/originals/b.txt").await;
    let r = bob(&t, "PROPPATCH", "/originals/b.txt").body(TIME_PATCH).send().await.unwrap();
    assert_eq!(r.status(), 423, "without the lock's token");
    let r = bob(&t, "PROPPATCH", "/originals/b.txt").header("if", format!("(<{token}>)")).body(TIME_PATCH).send();
    assert_eq!(r.await.unwrap().status(), 207, "with it");
    assert_eq!(last_modified(&t, "/originals/b.txt").await, TIME_PATCHED);
}

/// Issue 18: "`café.jpg` in NFC and NFD are two files, which macOS and Windows
/// clients show as duplicates." Names are stored in NFC; case stays significant.
async fn a_name_in_nfd_and_in_nfc_is_one_file(db: Db) {
    const NFC: &str = "caf%C3%A9.jpg";
    const NFD: &str = "cafe%CC%81.jpg";
    let t = spawn(db).await;
    dav_user(&t).await;
    let at = |name: &str| format!("/originals/{name}");
    assert_eq!(bob(&t, "PUT", &at(NFD)).body("from a mac").send().await.unwrap().status(), 201);
    let r = bob(&t, "GET", &at(NFC)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "from a mac");
    assert_eq!(bob(&t, "PUT", &at(NFC)).body("from windows").send().await.unwrap().status(), 204, "the same file");
    assert_eq!(webdav_util::read_file(&t, "originals/caf\u{e9}.jpg").await.unwrap(), b"from windows");
    assert_eq!(webdav_util::read_file(&t, "originals/cafe\u{301}.jpg").await, None, "stored once, in NFC");
    assert_eq!(bob(&t, "PUT", "/originals/CAF%C3%89.jpg").body("upper").send().await.unwrap().status(), 201);
    let listing = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap().text().await.unwrap();
    assert_eq!(listing.matches("<D:href>").count(), 3, "the folder, café.jpg, CAFÉ.jpg: {listing}");
    assert!(listing.contains(NFC) && !listing.contains(NFD), "{listing}");

    // Folders, MOVE's Destination and locks see one name too.
    assert_eq!(bob(&t, "MKCOL", &at("Fe%CC%81te")).send().await.unwrap().status(), 201);
    assert_eq!(bob(&t, "MKCOL", &at("F%C3%AAte")).send().await.unwrap().status(), 201, "ê is not é");
    assert_eq!(bob(&t, "MKCOL", &at("F%C3%A9te")).send().await.unwrap().status(), 405, "it exists");
    let r = bob(&t, "MOVE", &at(NFC)).header("Destination", at(&format!("Fe%CC%81te/{NFD}"))).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(bob(&t, "GET", &at(&format!("F%C3%A9te/{NFC}"))).send().await.unwrap().status(), 200);
    let lock = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
    let r = bob(&t, "LOCK", &at(&format!("Fe%CC%81te/{NFD}"))).body(lock).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.headers()["lock-token"].to_str().unwrap().trim_matches(['<', '>']).to_owned();
    let r = bob(&t, "PUT", &at(&format!("F%C3%A9te/{NFC}"))).body("x").send().await.unwrap();
    assert_eq!(r.status(), 423, "the lock on the NFD spelling holds the NFC one");
    let tagged = format!("<{}> (<{token}>)", t.url(&at(&format!("Fe%CC%81te/{NFD}"))));
    let r = bob(&t, "PUT", &at(&format!("F%C3%A9te/{NFC}"))).header("if", tagged).body("x").send().await.unwrap();
    assert_eq!(r.status(), 204, "an If naming the NFD spelling names the same file");

    // A file another tool left in NFD stays reachable under its own spelling.
    webdav_util::write_file(&t, "originals/nai\u{308}ve.txt", b"left by rsync").await;
    let r = bob(&t, "GET", "/originals/nai%CC%88ve.txt").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "left by rsync");
}

on_every_backend!(
    a_time_the_library_cannot_keep_is_refused_not_changed,
    a_name_in_nfd_and_in_nfc_is_one_file,
    a_time_past_the_year_9999_is_refused_and_changes_nothing,
    a_put_under_an_expired_lock_does_not_overwrite_a_newer_version,
    a_time_only_proppatch_honours_its_preconditions_and_locks
);
on_both_databases!(a_name_longer_than_the_file_system_allows_is_a_client_error);
on_both_databases!(
    a_crashed_upload_never_blocks_deleting_its_folder,
    uploads_abandoned_for_an_hour_are_removed_at_start
);
on_both_databases!(a_file_time_past_9999_on_disk_is_shown_as_the_last_second_of_9999);
