//! The library on S3 (a real Garage, started by `scripts/test`), where it differs from a
//! folder: objects outside the library's prefix and hidden ones are never reached,
//! multipart uploads left by a crashed instance are aborted by housekeeping, `start`
//! refuses bad S3 settings with a clear sentence, and two instances on one PostgreSQL
//! and a 3-node Garage behave as one server (`scripts/cluster-demo`). Objects are
//! planted and inspected with curl's own SigV4 signing, not through gatehouse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use std::process::{Command, Output};

use common::{BACKEND, Backend, Db, TestApp, spawn, test_s3_config};
use gatehouse::library::{Location, Rel, Storage, WriteMode};
use webdav_util::{bob, dav_user, raw_request};

/// curl signing for the test Garage: `PATH` is `/BUCKET/KEY`, sent as it is.
fn s3_curl(method: &str, path: &str, body: Option<&[u8]>) -> Output {
    let c = test_s3_config();
    let mut cmd = Command::new("curl");
    // Garage wants the payload hash header, which curl's signing leaves out.
    cmd.args(["-sS", "--path-as-is", "-X", method, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--aws-sigv4"])
        .arg(format!("aws:amz:{}:s3", c.region))
        .arg("--user")
        .arg(format!("{}:{}", c.access_key_id, c.secret_access_key.as_str()))
        .arg(format!("{}{path}", c.endpoint));
    if let Some(b) = body {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b).unwrap();
        cmd.arg("--data-binary").arg(format!("@{}", file.path().display()));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "curl {method} {path}: {}", String::from_utf8_lossy(&out.stderr));
        return out;
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "curl {method} {path}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn bucket() -> String {
    std::env::var("GATEHOUSE_TEST_S3_BUCKET").unwrap_or_else(|_| "gatehouse".to_owned())
}

/// The key prefix this test's server was given for `/originals/` (`t-…/originals/`).
fn originals_prefix(t: &TestApp) -> String {
    match &t.app.settings.originals_path {
        Location::Bucket(url) => url.prefix.clone(),
        Location::Folder(_) => panic!("this test runs on S3"),
    }
}

async fn s3(db: Db) -> TestApp {
    BACKEND.scope(Backend::S3, spawn(db)).await
}

async fn objects_outside_the_prefix_and_hidden_ones_are_never_reached(db: Db) {
    let t = s3(db).await;
    dav_user(&t).await;
    let originals = originals_prefix(&t);
    let run = originals.trim_end_matches("originals/").to_owned();
    let b = bucket();
    s3_curl("PUT", &format!("/{b}/{run}secret.txt"), Some(b"top secret"));
    s3_curl("PUT", &format!("/{b}/{run}import/other.txt"), Some(b"import"));
    s3_curl("PUT", &format!("/{b}/{originals}ok.txt"), Some(b"ok"));
    s3_curl("PUT", &format!("/{b}/{originals}.gatehouse-upload-abc"), Some(b"half"));
    s3_curl("PUT", &format!("/{b}/{originals}odd//double.txt"), Some(b"double"));
    s3_curl("PUT", &format!("/{b}/{originals}odd/../up.txt"), Some(b"dots"));

    let list = bob(&t, "PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap().text().await.unwrap();
    assert!(list.contains("ok.txt") && list.contains("/originals/odd/"), "{list}");
    for unseen in ["gatehouse-upload", "secret", "other.txt", "up.txt"] {
        assert!(!list.contains(unseen), "{unseen} listed: {list}");
    }
    let odd = bob(&t, "PROPFIND", "/originals/odd/").header("Depth", "1").send().await.unwrap();
    assert_eq!(odd.status(), 207);
    let odd = odd.text().await.unwrap();
    assert!(!odd.contains("double.txt") && !odd.contains("up.txt"), "keys with empty or dot segments: {odd}");
    assert_eq!(bob(&t, "GET", "/originals/.gatehouse-upload-abc").send().await.unwrap().status(), 404);
    for path in [
        "/originals/../secret.txt",
        "/originals/%2e%2e/secret.txt",
        "/originals/..%2fsecret.txt",
        "/originals/odd/../../secret.txt",
        "/originals/..\\secret.txt",
    ] {
        for method in ["GET", "PROPFIND", "PUT", "DELETE"] {
            let status = raw_request(&t, method, path, "Depth: 1\r\n").await;
            assert!(status == 400 || status == 404, "{method} {path}: {status}");
        }
    }
    let moved = bob(&t, "MOVE", "/originals/ok.txt").header("Destination", "/originals/%2e%2e/secret.txt");
    assert_eq!(moved.send().await.unwrap().status(), 400);
    let secret = s3_curl("GET", &format!("/{b}/{run}secret.txt"), None);
    assert_eq!(secret.stdout, b"top secret");
    let hidden = s3_curl("GET", &format!("/{b}/{originals}.gatehouse-upload-abc"), None);
    assert_eq!(hidden.stdout, b"half");
    assert_eq!(webdav_util::read_file(&t, "originals/ok.txt").await.unwrap(), b"ok");
}

/// The multipart uploads Garage has in progress under `prefix`.
fn multipart_uploads(prefix: &str) -> Vec<String> {
    // (curl signs `?uploads=` alone correctly; the prefix is applied here.)
    let out = s3_curl("GET", &format!("/{}?uploads=", bucket()), None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("ListMultipartUploadsResult"), "{text}");
    let keys = text.split("<Key>").skip(1).filter_map(|s| s.split("</Key>").next());
    keys.filter(|k| k.starts_with(prefix)).map(str::to_owned).collect()
}

async fn uploads_left_by_a_crashed_instance_are_aborted_by_housekeeping(db: Db) {
    let t = s3(db).await;
    let prefix = originals_prefix(&t);
    let Storage::Bucket(bucket) = webdav_util::storage(&t, "originals") else { panic!("S3") };
    let storage = Storage::Bucket(bucket.clone());
    let path = Rel::new(b"big.bin").unwrap();
    let mut writer = storage.create(&path, WriteMode { replace: true, ..Default::default() }).await.unwrap();
    // Past one part, so the multipart upload exists; then the instance "crashes": the
    // writer is never committed nor dropped (no abort from this process).
    writer.write(bytes::Bytes::from(vec![7u8; 9 * 1024 * 1024])).await.unwrap();
    writer.write(bytes::Bytes::from(vec![8u8; 9 * 1024 * 1024])).await.unwrap();
    std::mem::forget(writer);
    let key = format!("{prefix}big.bin");
    assert_eq!(webdav_util::pending_uploads(&t).await, vec![key.clone()]);
    assert_eq!(multipart_uploads(&prefix), vec![key]);
    assert!(webdav_util::kind(&t, "originals/big.bin").await.is_none(), "nothing visible before completion");

    // An hour later (the cut-off housekeeping uses), any instance aborts it.
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let minute_ago = minute_ago.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert_eq!(bucket.abort_abandoned(minute_ago).await.unwrap(), 0, "an upload touched just now is left alone");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let later = later.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let sibling = t.sibling().await;
    let Storage::Bucket(other) = webdav_util::storage(&sibling, "originals") else { panic!("S3") };
    assert_eq!(other.abort_abandoned(later).await.unwrap(), 1);
    assert!(webdav_util::pending_uploads(&t).await.is_empty());
    assert!(multipart_uploads(&prefix).is_empty(), "Garage still holds the upload");
    assert!(webdav_util::kind(&t, "originals/big.bin").await.is_none());
}

/// `gatehouse start` with `extra` arguments and S3 keys; its exit status and stderr.
fn start(data: &std::path::Path, args: &[String], key: Option<(&str, &str)>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("--data-dir").arg(data).args(["start", "--listen", "127.0.0.1:0"]).args(args);
    for var in
        ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GATEHOUSE_S3_ACCESS_KEY_ID", "GATEHOUSE_S3_SECRET_ACCESS_KEY"]
    {
        cmd.env_remove(var);
    }
    if let Some((id, secret)) = key {
        cmd.env("GATEHOUSE_S3_ACCESS_KEY_ID", id).env("GATEHOUSE_S3_SECRET_ACCESS_KEY", secret);
    }
    cmd.env("GATEHOUSE_ADMIN_PASSWORD", "admin-password-1").env("RUST_BACKTRACE", "1");
    let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // A start that passes its checks serves until stopped: it is stopped once it
    // says it listens.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut err = String::new();
    for line in std::io::BufRead::lines(stderr) {
        let line = line.unwrap();
        err.push_str(&line);
        err.push('\n');
        if line.contains("is listening") {
            child.kill().unwrap();
            child.wait().unwrap();
            return (true, err);
        }
    }
    (child.wait().unwrap().success(), err)
}

#[test]
fn start_refuses_bad_s3_settings_with_a_clear_message() {
    let c = test_s3_config();
    let dir = tempfile::tempdir().unwrap();
    let library = |bucket: &str| {
        vec![
            "--originals-path".to_owned(),
            format!("s3://{bucket}/check/originals"),
            "--import-path".to_owned(),
            format!("s3://{bucket}/check/import"),
        ]
    };
    let with_endpoint = |bucket: &str, endpoint: &str| {
        let mut a = library(bucket);
        a.extend(["--s3-endpoint".to_owned(), endpoint.to_owned(), "--s3-region".to_owned(), c.region.clone()]);
        a
    };
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let secret = c.secret_access_key.as_str();
    let wrong = "0".repeat(secret.len());
    /// Arguments, S3 keys, and what the refusal must say.
    type Case<'a> = (Vec<String>, Option<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (library(&bucket()), Some((&c.access_key_id, secret)), "needs --s3-endpoint"),
        (with_endpoint(&bucket(), &c.endpoint), None, "needs GATEHOUSE_S3_ACCESS_KEY_ID"),
        (with_endpoint(&bucket(), &c.endpoint), Some((&c.access_key_id, &wrong)), "credentials were refused"),
        (with_endpoint(&bucket(), &c.endpoint), Some(("GK0000000000000000000000", secret)), "credentials were refused"),
        (with_endpoint("no-such-bucket", &c.endpoint), Some((&c.access_key_id, secret)), "does not exist"),
        (with_endpoint(&bucket(), &closed), Some((&c.access_key_id, secret)), "cannot reach the S3 endpoint"),
        (with_endpoint(&bucket(), "ftp://x"), Some((&c.access_key_id, secret)), "http:// or https://"),
    ];
    for (args, key, want) in cases {
        let (ok, err) = start(dir.path(), &args, key);
        assert!(!ok, "start succeeded with {args:?}: {err}");
        assert!(err.contains(want), "{want:?} not in: {err}");
        assert!(!err.contains("panicked") && !err.contains("stack backtrace"), "{err}");
        assert!(!err.contains(secret) && !err.contains(&wrong), "a secret was printed: {err}");
    }
    // And with everything right it starts (and serves until stopped).
    let (ok, err) = start(dir.path(), &with_endpoint(&bucket(), &c.endpoint), Some((&c.access_key_id, secret)));
    assert!(ok, "{err}");
}

/// Two instances on one PostgreSQL and a 3-node Garage, each on its own node: a file
/// uploaded through one downloads through the other, a lock taken on one holds on the
/// other, and a 200-file rclone sync alternating between them survives a node killed
/// half way (scripts/cluster-demo, which a person can run as it is).
#[test]
fn two_instances_on_a_three_node_garage_behave_as_one_server() {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster-demo"))
        .env("GATEHOUSE_BIN", env!("CARGO_BIN_EXE_gatehouse"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cluster-demo failed:\n{stdout}\n{stderr}");
    for check in [
        "| upload via A, download via B | PASS",
        "| LOCK on A, PUT without token on B | PASS",
        "| 200 uploads alternating A/B, node 3 killed | PASS",
        "| 200 files byte-identical via B | PASS",
        "| 200 files byte-identical via A | PASS",
    ] {
        assert!(stdout.contains(check), "{check} missing:\n{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

on_both_databases!(
    objects_outside_the_prefix_and_hidden_ones_are_never_reached,
    uploads_left_by_a_crashed_instance_are_aborted_by_housekeeping,
);

/// Which request heads a proxy refuses in the store's place (403).
type Refuse = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Forwards a loopback port to `upstream`, keeping each request line (by method: what
/// an operation costs the store) and answering 403 itself, closing the connection, for
/// the requests `refuse` picks. Only for requests without bodies (listings, HEADs,
/// copies, deletes, empty PUTs).
async fn proxy(upstream: String, refuse: Refuse) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let upstream = upstream.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let (upstream, log, refuse) = (upstream.clone(), log.clone(), refuse.clone());
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let (mut buf, mut pending) = (vec![0u8; 64 * 1024], Vec::new());
                    loop {
                        let n = cr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return None;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = pending.drain(..end + 4).collect();
                            let text = String::from_utf8_lossy(&head).into_owned();
                            log.lock().unwrap().push(text.lines().next().unwrap_or_default().to_owned());
                            if refuse(&text) {
                                return Some(());
                            }
                            if sw.write_all(&head).await.is_err() {
                                return None;
                            }
                        }
                    }
                };
                let down = tokio::io::copy(&mut sr, &mut cw);
                tokio::select! {
                    refused = up => if refused.is_some() {
                        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>";
                        let answer = format!(
                            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = cw.write_all(answer.as_bytes()).await;
                    },
                    _ = down => {}
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// A second instance of `t` whose S3 traffic passes through a proxy.
async fn through_proxy(t: &TestApp, refuse: Refuse) -> (TestApp, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let (endpoint, seen) = proxy(test_s3_config().endpoint, refuse).await;
    let mut settings = t.sibling_settings();
    settings.s3.as_mut().unwrap().endpoint = endpoint;
    (t.sibling_with_settings(settings).await, seen)
}

/// A folder MOVE on S3 copies everything, then deletes the source. When a copy fails
/// half way, the client gets an error, the source is whole and no partial destination
/// is left; a MOVE that succeeds leaves the source empty.
async fn a_folder_move_that_fails_half_way_loses_nothing(db: Db) {
    let t = s3(db).await;
    dav_user(&t).await;
    webdav_util::make_dir(&t, "originals/album").await;
    webdav_util::make_dir(&t, "originals/album/sub").await;
    let mut files = Vec::new();
    for i in 0..30 {
        let path =
            if i % 3 == 0 { format!("originals/album/sub/p{i}.jpg") } else { format!("originals/album/p{i}.jpg") };
        let content = format!("photo {i}").into_bytes();
        webdav_util::write_file(&t, &path, &content).await;
        files.push((path, content));
    }
    let before = webdav_util::snapshot(&t).await;
    let copies = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = copies.clone();
    let refuse: Refuse = std::sync::Arc::new(move |head: &str| {
        head.to_ascii_lowercase().contains("x-amz-copy-source")
            && counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 12
    });
    let (other, _) = through_proxy(&t, refuse).await;
    let moved =
        bob(&other, "MOVE", "/originals/album/").header("Destination", "/originals/moved/").send().await.unwrap();
    let status = moved.status();
    let body = moved.text().await.unwrap();
    assert!(!status.is_success() || body.contains("403"), "the client is told: {status} {body}");
    assert!(copies.load(std::sync::atomic::Ordering::SeqCst) > 12, "the move had started copying");
    assert_eq!(webdav_util::snapshot(&t).await, before, "the source is whole and nothing else is left");

    let moved = bob(&t, "MOVE", "/originals/album/").header("Destination", "/originals/moved/").send().await.unwrap();
    assert_eq!(moved.status(), 201);
    assert_eq!(webdav_util::kind(&t, "originals/album").await, None);
    for (path, content) in files {
        let to = path.replace("originals/album/", "originals/moved/");
        assert_eq!(webdav_util::read_file(&t, &to).await.unwrap(), content, "{to}");
    }
}

/// A PROPFIND Depth 1 of a folder of 1,000 objects is one paginated LIST (and the one
/// look-up of the folder itself), never a HEAD per object.
async fn a_listing_of_a_thousand_objects_is_one_paginated_list(db: Db) {
    let t = s3(db).await;
    dav_user(&t).await;
    webdav_util::make_dir(&t, "originals/many").await;
    let writes = (0..1000).map(|i| {
        let t = &t;
        async move { webdav_util::write_file(t, &format!("originals/many/p{i:04}.jpg"), b"x").await }
    });
    futures_util::StreamExt::collect::<Vec<()>>(futures_util::StreamExt::buffer_unordered(
        futures_util::stream::iter(writes),
        16,
    ))
    .await;
    // A second instance whose S3 traffic passes through a counter.
    let (other, seen) = through_proxy(&t, std::sync::Arc::new(|_: &str| false)).await;
    let list = webdav_util::bob(&other, "PROPFIND", "/originals/many/").header("Depth", "1").send().await.unwrap();
    assert_eq!(list.status(), 207);
    let text = list.text().await.unwrap();
    assert_eq!(text.matches("<D:response>").count(), 1001, "the folder and its 1,000 files");
    let seen = seen.lock().unwrap().clone();
    let heads = seen.iter().filter(|l| l.starts_with("HEAD ")).count();
    let lists = seen.iter().filter(|l| l.starts_with("GET ") && l.contains("list-type=2")).count();
    assert!(heads <= 1, "{heads} HEADs: {seen:#?}");
    assert!(lists <= 3, "{lists} LISTs: {seen:#?}");
    assert_eq!(seen.len(), heads + lists, "nothing else: {seen:#?}");
}

on_both_databases!(
    a_listing_of_a_thousand_objects_is_one_paginated_list,
    a_folder_move_that_fails_half_way_loses_nothing
);
