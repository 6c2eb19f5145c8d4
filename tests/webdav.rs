//! WebDAV sync over real HTTP (docs/design.md, "WebDAV sync"): who may sync, read-only modes,
//! atomic uploads, dead properties and locks shared through the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, spawn, spawn_with};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt as _;
use webdav_util::{DAV_PASSWORD, DAV_USER, app_password, bob, dav, dav_user, pattern, raw_head};

const PROPPATCH: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:g="urn:gatehouse:test"><D:set><D:prop><g:colour>blue</g:colour></D:prop></D:set></D:propertyupdate>"#;
const PROPFIND_COLOUR: &str = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:g="urn:gatehouse:test"><D:prop><g:colour/></D:prop></D:propfind>"#;

async fn webdav_needs_a_user_with_the_webdav_flag_and_a_webdav_scope(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    t.create_user("carol", "carol-password-1", serde_json::json!({})).await;

    let anonymous =
        t.client.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), t.url("/originals/")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm="));
    let wrong = dav(&t, "PROPFIND", "/originals/", DAV_USER, "wrong-password").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let no_flag = dav(&t, "PROPFIND", "/originals/", "carol", "carol-password-1").send().await.unwrap();
    assert_eq!(no_flag.status(), StatusCode::FORBIDDEN);

    assert_eq!(bob(&t, "PROPFIND", "/originals/").header("Depth", "0").send().await.unwrap().status(), 207);
    let token = t.login(DAV_USER, DAV_PASSWORD).await;
    let bearer = t.client.get(t.url("/originals/")).bearer_auth(&token).header("Depth", "0");
    assert_ne!(bearer.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    for scope in ["webdav", "*"] {
        let pw = app_password(&t, scope).await;
        let put = dav(&t, "PUT", &format!("/originals/{}.txt", scope.len()), DAV_USER, &pw).body("x");
        assert_eq!(put.send().await.unwrap().status(), StatusCode::CREATED, "scope {scope}");
    }
    let metrics = app_password(&t, "metrics").await;
    let r = dav(&t, "PROPFIND", "/originals/", DAV_USER, &metrics).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let read_only = app_password(&t, "read webdav").await;
    assert_eq!(dav(&t, "GET", "/originals/1.txt", DAV_USER, &read_only).send().await.unwrap().status(), 200);
    let put = dav(&t, "PUT", "/originals/ro.txt", DAV_USER, &read_only).body("x").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    assert!(!t.data_dir.join("originals/ro.txt").exists());
    // An app password only works with its owner's name, and stops at once when revoked.
    let pw = app_password(&t, "webdav").await;
    let r = dav(&t, "PROPFIND", "/originals/", "admin", &pw).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        dav(&t, "PROPFIND", "/originals/", DAV_USER, &pw).header("depth", "1").send().await.unwrap().status(),
        207
    );
    let web = t.login(DAV_USER, DAV_PASSWORD).await;
    let revoke = t
        .call(reqwest::Method::POST, "/api/v1/oauth/revoke", Some(&web), Some(serde_json::json!({ "token": pw })))
        .await;
    assert!(revoke.status.is_success(), "{}", revoke.text);
    let r = dav(&t, "PROPFIND", "/originals/", DAV_USER, &pw).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn two_factor_accounts_must_use_an_app_password(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    // Made before 2FA is turned on: app passwords keep working after it.
    let pw = app_password(&t, "webdav").await;
    t.enable_2fa(DAV_USER, DAV_PASSWORD).await;
    let r = bob(&t, "PROPFIND", "/originals/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    assert!(r.text().await.unwrap().contains("app password"));
    assert_eq!(
        dav(&t, "PROPFIND", "/originals/", DAV_USER, &pw).header("depth", "1").send().await.unwrap().status(),
        207
    );
}

async fn a_read_only_server_refuses_every_write(db: Db) {
    let t = spawn_with(db, |s| s.read_only = true).await;
    dav_user(&t).await;
    webdav_util::write_file(&t, "import/seen.txt", b"hello").await;
    let get = bob(&t, "GET", "/import/seen.txt").send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.text().await.unwrap(), "hello");
    for (method, path) in [
        ("PUT", "/import/new.txt"),
        ("DELETE", "/import/seen.txt"),
        ("MKCOL", "/import/d/"),
        ("PROPPATCH", "/import/seen.txt"),
        ("LOCK", "/import/seen.txt"),
    ] {
        let r = bob(&t, method, path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method}");
    }
    let copy = bob(&t, "COPY", "/import/seen.txt").header("Destination", "/import/copy.txt").send().await.unwrap();
    assert_eq!(copy.status(), StatusCode::FORBIDDEN);
    assert_eq!(webdav_util::names(&t, "import").await, ["seen.txt"]);
}

async fn both_folders_exist_and_files_round_trip(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    for folder in ["originals", "import"] {
        assert_eq!(webdav_util::kind(&t, folder).await, Some(true), "{folder} there on start");
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let path = format!("/{folder}/a%20b/%E2%9C%93 #1.bin");
        assert_eq!(bob(&t, "MKCOL", &format!("/{folder}/a%20b/")).send().await.unwrap().status(), 201);
        let path = path.replace(' ', "%20").replace('#', "%23");
        assert_eq!(bob(&t, "PUT", &path).body(body.clone()).send().await.unwrap().status(), 201);
        assert_eq!(bob(&t, "PUT", &path).body(body.clone()).send().await.unwrap().status(), 204);
        let back = bob(&t, "GET", &path).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(back.as_ref(), body.as_slice());
        let head = bob(&t, "HEAD", &path).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-length"], "200000");
        assert!(head.headers()["etag"].to_str().unwrap().starts_with('"'));
        // Large files stream in chunks.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let big_path = format!("/{folder}/big.bin");
        assert_eq!(bob(&t, "PUT", &big_path).body(big.clone()).send().await.unwrap().status(), 201);
        let back = bob(&t, "GET", &big_path).send().await.unwrap().bytes().await.unwrap();
        assert!(back.as_ref() == big.as_slice(), "large file round trip");
        assert_eq!(webdav_util::kind(&t, &format!("{folder}/a b/✓ #1.bin")).await, Some(false));
    }
}

async fn dead_properties_follow_moves_and_copies_and_go_with_deletes(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let count = |t: &common::TestApp| {
        let pool = t.app.store.pool().clone();
        async move { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dav_props").fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(bob(&t, "MKCOL", "/originals/d/").send().await.unwrap().status(), 201);
    assert_eq!(bob(&t, "PUT", "/originals/d/f.txt").body("x").send().await.unwrap().status(), 201);
    for path in ["/originals/d/", "/originals/d/f.txt"] {
        assert_eq!(bob(&t, "PROPPATCH", path).body(PROPPATCH).send().await.unwrap().status(), 207);
    }
    let colour = |path: &'static str| {
        let req = bob(&t, "PROPFIND", path).header("Depth", "0").body(PROPFIND_COLOUR);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    assert!(colour("/originals/d/f.txt").await.contains(">blue<"));

    let mv = bob(&t, "MOVE", "/originals/d/").header("Destination", "/originals/e/").send().await.unwrap();
    assert_eq!(mv.status(), 201);
    assert!(colour("/originals/e/").await.contains(">blue<"));
    assert!(colour("/originals/e/f.txt").await.contains(">blue<"));
    assert_eq!(count(&t).await, 2);

    let cp = bob(&t, "COPY", "/originals/e/").header("Destination", "/originals/c/").send().await.unwrap();
    assert_eq!(cp.status(), 201);
    assert!(colour("/originals/c/").await.contains(">blue<"));
    assert!(colour("/originals/c/f.txt").await.contains(">blue<"));
    assert_eq!(count(&t).await, 4);

    // Overwriting a destination drops its own properties first.
    let cp = bob(&t, "COPY", "/originals/e/f.txt").header("Destination", "/originals/c/f.txt").send().await.unwrap();
    assert_eq!(cp.status(), 204);
    assert_eq!(count(&t).await, 4);

    assert_eq!(bob(&t, "DELETE", "/originals/e/").send().await.unwrap().status(), 204);
    assert_eq!(count(&t).await, 2);
    assert_eq!(bob(&t, "DELETE", "/originals/c/").send().await.unwrap().status(), 204);
    assert_eq!(count(&t).await, 0);
}

/// Locks and dead properties made on one instance show on the other at once, whatever it
/// has read (and may keep) before.
async fn locks_hold_across_instances(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    // A second server on the same database and folders.
    let mut settings = (*t.app.settings).clone();
    settings.secret_key = None;
    let other = gatehouse::service::Gatehouse::open(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_addr = listener.local_addr().unwrap();
    tokio::spawn(gatehouse::web::serve(other, listener, std::future::pending()));

    assert_eq!(bob(&t, "PUT", "/originals/locked.txt").body("v1").send().await.unwrap().status(), 201);
    let url = format!("http://{other_addr}/originals/locked.txt");
    let propfind_other = |depth: &'static str, body: &'static str| {
        let path = if depth == "0" { url.clone() } else { format!("http://{other_addr}/originals/") };
        let req = t.client.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), path);
        let req = req.basic_auth(DAV_USER, Some(DAV_PASSWORD)).header("Depth", depth).body(body);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    for depth in ["0", "1"] {
        assert!(!propfind_other(depth, "").await.contains("activelock"), "no lock yet (depth {depth})");
        assert!(!propfind_other(depth, PROPFIND_COLOUR).await.contains(">blue<"), "no property yet");
    }
    let lockinfo = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"#;
    let lock =
        bob(&t, "LOCK", "/originals/locked.txt").header("Timeout", "Second-600").body(lockinfo).send().await.unwrap();
    assert_eq!(lock.status(), 200);
    let token = lock.headers()["lock-token"].to_str().unwrap().to_owned();
    for depth in ["0", "1"] {
        let listing = propfind_other(depth, "").await;
        assert!(listing.contains(token.trim_matches(|c| c == '<' || c == '>')), "the lock shows (depth {depth})");
    }

    let put = t.client.put(&url).basic_auth(DAV_USER, Some(DAV_PASSWORD)).body("v2").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::LOCKED, "the lock holds on the other instance");
    let put = t.client.put(&url).basic_auth(DAV_USER, Some(DAV_PASSWORD)).header("If", format!("({token})")).body("v2");
    assert_eq!(put.send().await.unwrap().status(), 204, "the lock token works on the other instance");
    let unlock = t.client.request(reqwest::Method::from_bytes(b"UNLOCK").unwrap(), &url);
    let unlock = unlock.basic_auth(DAV_USER, Some(DAV_PASSWORD)).header("Lock-Token", &token).send().await.unwrap();
    assert_eq!(unlock.status(), 204);
    assert_eq!(bob(&t, "PUT", "/originals/locked.txt").body("v3").send().await.unwrap().status(), 204);
    assert_eq!(bob(&t, "PROPPATCH", "/originals/locked.txt").body(PROPPATCH).send().await.unwrap().status(), 207);
    for depth in ["0", "1"] {
        assert!(!propfind_other(depth, "").await.contains("activelock"), "the lock is gone (depth {depth})");
        assert!(propfind_other(depth, PROPFIND_COLOUR).await.contains(">blue<"), "the property shows (depth {depth})");
    }
}

async fn a_cut_upload_leaves_no_file_and_temporary_files_stay_hidden(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "PUT", "/originals/keep.txt").body("old").send().await.unwrap().status(), 201);
    for target in ["new.bin", "keep.txt"] {
        let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
        // Past the first S3 part, so that a multipart upload was under way.
        let head = raw_head(&t, "PUT", &format!("/originals/{target}"), "Content-Length: 20000000\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&vec![b'x'; 10_000_000]).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(webdav_util::names(&t, "originals").await, ["keep.txt"], "no partial file and no temporary file left");
    assert_eq!(webdav_util::read_file(&t, "originals/keep.txt").await.unwrap(), b"old");
    if common::backend() == common::Backend::S3 {
        // The multipart upload the cut PUT had begun was aborted, not left to linger.
        let pending = webdav_util::pending_uploads(&t).await;
        assert!(pending.is_empty(), "unfinished uploads: {pending:?}");
        return;
    }

    // A temporary upload of another client is neither listed nor reachable.
    let folder = t.data_dir.join("originals");
    std::fs::write(folder.join(".gatehouse-upload-abc"), b"half").unwrap();
    let list = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap().text().await.unwrap();
    assert!(list.contains("keep.txt") && !list.contains("gatehouse-upload"), "{list}");
    assert_eq!(bob(&t, "GET", "/originals/.gatehouse-upload-abc").send().await.unwrap().status(), 404);
    let put = bob(&t, "PUT", "/originals/.gatehouse-upload-abc").body("x").send().await.unwrap();
    assert!(put.status().is_client_error());
    assert_eq!(std::fs::read(folder.join(".gatehouse-upload-abc")).unwrap(), b"half");
}

/// One response read off a raw connection: status, declared length, body bytes (all
/// of them, or as many as came before the server closed).
async fn read_response(s: &mut tokio::net::TcpStream) -> (u16, usize, Vec<u8>) {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "connection closed inside the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    let mut body = Vec::with_capacity(length);
    while body.len() < length {
        let mut buf = vec![0u8; (length - body.len()).min(1 << 20)];
        match s.read(&mut buf).await.unwrap() {
            0 => break,
            n => body.extend_from_slice(&buf[..n]),
        }
    }
    (status, length, body)
}

/// Large files go from the page cache straight to the socket; parts the cache does not
/// hold are read from disk. Either way the bytes are exact, one connection carries
/// several downloads in a row; a file replaced meanwhile still arrives whole, and one
/// cut short behind the server's back gives a download visibly short.
async fn large_downloads_are_exact_cached_or_not_and_a_shrinking_file_is_cut_short(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let folder = t.data_dir.join("originals");
    let data = pattern(9 * 1024 * 1024 + 77, 1);
    let file = folder.join("big.bin");
    std::fs::write(&file, &data).unwrap();
    std::fs::write(folder.join("small.txt"), b"small").unwrap();
    // Write the file out and drop its second half from the page cache.
    let f = std::fs::File::open(&file).unwrap();
    f.sync_all().unwrap();
    rustix::fs::fadvise(&f, data.len() as u64 / 2, None, rustix::fs::Advice::DontNeed).unwrap();

    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    for path in ["/originals/big.bin", "/originals/small.txt", "/originals/big.bin", "/originals/big.bin"] {
        s.write_all(raw_head(&t, "GET", path, "").as_bytes()).await.unwrap();
        let (status, length, body) = read_response(&mut s).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body.len(), length, "{path}: complete");
        let expected: &[u8] = if path.ends_with("small.txt") { b"small" } else { &data };
        assert!(body == expected, "{path}: byte-identical");
    }

    // A sync app replaces the file while it is being downloaded: the download still
    // gets the whole old file (uploads replace, they never write into a file in use).
    let old = pattern(32 * 1024 * 1024, 2);
    std::fs::write(folder.join("replaced.bin"), &old).unwrap();
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(raw_head(&t, "GET", "/originals/replaced.bin", "Connection: close\r\n").as_bytes()).await.unwrap();
    let mut first = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(&mut s, &mut first).await.unwrap();
    let put = bob(&t, "PUT", "/originals/replaced.bin").body(vec![b'n'; 3 * 1024 * 1024]).send().await.unwrap();
    assert_eq!(put.status(), 204);
    let mut rest = vec![first[0]];
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest).await.unwrap();
    let body = &rest[rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert!(body == old.as_slice(), "the download in flight is the old file, whole ({} bytes)", body.len());

    // A file cut short behind the server's back while it is sent: the client gets fewer
    // bytes than announced, so it knows the download failed; the server does not hang.
    let big = pattern(64 * 1024 * 1024, 3);
    std::fs::write(folder.join("shrinks.bin"), &big).unwrap();
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(raw_head(&t, "GET", "/originals/shrinks.bin", "Connection: close\r\n").as_bytes()).await.unwrap();
    tokio::io::AsyncReadExt::read_exact(&mut s, &mut first).await.unwrap();
    std::fs::OpenOptions::new().write(true).open(folder.join("shrinks.bin")).unwrap().set_len(1 << 20).unwrap();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest),
    )
    .await;
    assert!(ended.is_ok(), "the server ends the download");
    let body_len = rest.len() - (rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    assert!(body_len < big.len(), "the download is cut short ({body_len} bytes)");
}

/// PROPFIND shows each lock where it applies — on the locked file, in its folder's
/// listing, below a deep lock — and a lock in one folder leaves the answers for the
/// others as they were.
async fn listings_show_locks_where_they_apply(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    for folder in ["/originals/a/", "/originals/a/sub/", "/originals/b/", "/originals/deep/", "/originals/deep/in/"] {
        assert_eq!(bob(&t, "MKCOL", folder).send().await.unwrap().status(), 201, "{folder}");
    }
    for file in ["/originals/a/x.txt", "/originals/b/y.txt", "/originals/deep/in/z.txt"] {
        assert_eq!(bob(&t, "PUT", file).body("data").send().await.unwrap().status(), 201, "{file}");
    }
    let propfind = |path: &'static str, depth: &'static str| {
        let t = &t;
        async move {
            let r = bob(t, "PROPFIND", path).header("Depth", depth).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::MULTI_STATUS, "{path}");
            r.text().await.unwrap()
        }
    };
    let b_before = propfind("/originals/b/", "1").await;
    let lockinfo = |scope: &str| {
        format!(
            r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"#
        )
    };
    let lock = |path: &'static str, depth: &'static str| {
        let t = &t;
        let body = lockinfo("exclusive");
        async move {
            let r = bob(t, "LOCK", path).header("Timeout", "Second-600").header("Depth", depth).body(body);
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 200, "LOCK {path}");
            r.headers()["lock-token"].to_str().unwrap().trim_matches(|c| c == '<' || c == '>').to_owned()
        }
    };
    let file_lock = lock("/originals/a/x.txt", "0").await;
    let deep_lock = lock("/originals/deep/", "infinity").await;

    assert!(propfind("/originals/a/x.txt", "0").await.contains(&file_lock), "on the file itself");
    assert!(propfind("/originals/a/", "1").await.contains(&file_lock), "in its folder's listing");
    assert!(propfind("/originals/deep/in/", "1").await.contains(&deep_lock), "below a deep lock");
    assert!(!propfind("/originals/a/sub/", "1").await.contains(&file_lock), "not in a sibling folder");
    let b_after = propfind("/originals/b/", "1").await;
    assert_eq!(b_after, b_before, "another folder answers exactly as before");
}

on_every_backend!(
    webdav_needs_a_user_with_the_webdav_flag_and_a_webdav_scope,
    two_factor_accounts_must_use_an_app_password,
    a_read_only_server_refuses_every_write,
    both_folders_exist_and_files_round_trip,
    dead_properties_follow_moves_and_copies_and_go_with_deletes,
    locks_hold_across_instances,
    a_cut_upload_leaves_no_file_and_temporary_files_stay_hidden,
    listings_show_locks_where_they_apply,
);

// The page cache, sendfile and a file truncated behind the server's back: a folder's.
on_both_databases!(large_downloads_are_exact_cached_or_not_and_a_shrinking_file_is_cut_short);
