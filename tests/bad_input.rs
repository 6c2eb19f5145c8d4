//! Bad input of every kind gets a clear 4xx JSON error and changes nothing (SPEC §5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Db, Reply, spawn};
use reqwest::{Method, StatusCode};

/// (method, path, as admin?, content type, body, expected status)
type Case<'a> = (Method, &'a str, bool, &'a str, Vec<u8>, StatusCode);

async fn bad_requests_get_json_4xx_and_change_nothing(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let huge_name = "a".repeat(100_000);
    let login_with_name = |name: &str| format!(r#"{{"username":"{name}","password":"x-password-1"}}"#);
    let create_with = |name: &str| format!(r#"{{"username":"{name}","password":"long-enough-1"}}"#);
    let cases: Vec<Case> = vec![
        (Method::POST, "/api/v1/session", false, "application/json", b"{".to_vec(), StatusCode::BAD_REQUEST),
        (Method::POST, "/api/v1/session", false, "application/json", b"".to_vec(), StatusCode::BAD_REQUEST),
        (Method::POST, "/api/v1/session", false, "application/json", b"[]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            br#"{"username":1,"password":2}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            br#"{"username":"admin"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "text/plain",
            br#"{"username":"a","password":"b"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            login_with_name("").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            login_with_name(&huge_name).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            login_with_name(&"b".repeat(1000)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/session",
            false,
            "application/json",
            b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with("").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with(&"c".repeat(65)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with("tab\\tname").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with("nul\\u0000").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with("<img src=x onerror=alert(1)>").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            create_with("\u{202e}evil").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            br#"{"username":"ok-name","password":"long-enough-1","role":"root"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            br#"{"username":"ok-name","password":"long-enough-1","webdav":"yes"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            br#"{"username":"ok-name","password":"long-enough-1","email":"no at sign"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            br#"{"username":"ok-name","password":"short"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/users",
            true,
            "application/json",
            br#"{"username":"ok-name","password":"ok-name"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            "/api/v1/users/unope",
            true,
            "application/json",
            br#"{"name":"x\u0007y"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            "/api/v1/users/unope",
            true,
            "application/json",
            br#"{"auth_method":"totp"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::GET, "/api/v1/users/%FF%FE", true, "application/json", Vec::new(), StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/nope", false, "application/json", Vec::new(), StatusCode::NOT_FOUND),
        (Method::GET, "/../../etc/passwd", false, "application/json", Vec::new(), StatusCode::NOT_FOUND),
        (Method::PATCH, "/api/v1/session", false, "application/json", Vec::new(), StatusCode::METHOD_NOT_ALLOWED),
        (Method::PUT, "/api/v1/status", false, "application/json", Vec::new(), StatusCode::METHOD_NOT_ALLOWED),
        (Method::DELETE, "/api/v1/users", true, "application/json", Vec::new(), StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (method, path, auth, content_type, body, expected) in cases {
        let mut req = t.client.request(method.clone(), t.url(path)).header("Content-Type", content_type).body(body);
        if auth {
            req = req.bearer_auth(&admin);
        }
        let r = Reply::read(req.send().await.unwrap()).await;
        assert_eq!(r.status, expected, "{method} {path}: {}", r.text);
        assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"), "{method} {path}");
        assert!(!r.error().is_empty() && r.body["message"].is_string(), "{method} {path}: {}", r.text);
    }
    // Nothing was created; the admin is untouched and still logs in.
    let users = t.get("/api/v1/users", &admin).await;
    assert_eq!(users.body.as_array().unwrap().len(), 1);
    t.login("admin", ADMIN_PASSWORD).await;
}

async fn an_oversized_header_is_refused_without_harm(db: Db) {
    let t = spawn(db).await;
    let r = t.client.get(t.url("/api/v1/session")).header("X-Auth-Token", "t".repeat(64 * 1024)).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(t.call(Method::GET, "/api/v1/status", None, None).await.status, StatusCode::OK);
}

/// A client that opens connections and never finishes a request (slowloris) cannot keep
/// them: each is closed once it has had 30 s for its request head, while others are served.
#[tokio::test]
async fn connections_that_never_send_a_whole_request_are_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let t = spawn(Db::Sqlite).await;
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    partial.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert_eq!(t.call(Method::GET, "/api/v1/status", None, None).await.status, StatusCode::OK);
    for conn in [&mut silent, &mut partial] {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(std::time::Duration::from_secs(45), conn.read(&mut buf)).await;
        let n = read.expect("the server closes the connection").unwrap_or(0);
        assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "closed, or told it timed out");
    }
    let waited = started.elapsed().as_secs();
    assert!((29..=40).contains(&waited), "closed after {waited} s");
}

on_both_databases!(bad_requests_get_json_4xx_and_change_nothing, an_oversized_header_is_refused_without_harm);
