//! Bad input of every kind gets a clear 4xx JSON error and changes nothing (docs/design.md, "Errors and bad input").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Db, Reply, spawn, spawn_with};
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
        (Method::POST, "/api/v1/session", false, "application/json", b"[]".to_vec(), StatusCode::BAD_REQUEST), // issue 18: a body must be an object
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

/// JSON nested far deeper than any real request, in every endpoint that parses JSON:
/// refused with a 4xx JSON error (serde_json stops at depth 128; bodies above 64 KiB are
/// too large), and the server answers the next request as usual.
async fn deeply_nested_json_is_refused_by_every_json_endpoint(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let uid = t.uid_of(&admin).await;
    let endpoints = [
        (Method::POST, "/api/v1/session".to_owned()),
        (Method::POST, "/api/v1/users".to_owned()),
        (Method::PUT, format!("/api/v1/users/{uid}")),
        (Method::PUT, format!("/api/v1/users/{uid}/password")),
        (Method::POST, format!("/api/v1/users/{uid}/passcode")),
        (Method::POST, format!("/api/v1/users/{uid}/passcode/confirm")),
        (Method::POST, format!("/api/v1/users/{uid}/passcode/deactivate")),
        (Method::POST, "/api/v1/oauth/token".to_owned()),
        (Method::POST, "/api/v1/oauth/revoke".to_owned()),
    ];
    let arrays = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let bodies = [
        arrays(30_000),
        "[".repeat(60_000),
        "[".repeat(100_000),
        format!("{}1{}", r#"{"a":"#.repeat(12_000), "}".repeat(12_000)),
        format!(r#"{{"username":{},"password":"x"}}"#, arrays(20_000)),
        format!(r#"{{"grant_type":"password","expires_in":{}}}"#, arrays(20_000)),
    ];
    for (method, path) in &endpoints {
        for body in &bodies {
            let req = t.client.request(method.clone(), t.url(path)).bearer_auth(&admin);
            let r =
                Reply::read(req.header("Content-Type", "application/json").body(body.clone()).send().await.unwrap())
                    .await;
            assert!(
                [StatusCode::BAD_REQUEST, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::UNPROCESSABLE_ENTITY]
                    .contains(&r.status),
                "{method} {path} with {} bytes: {} {}",
                body.len(),
                r.status,
                r.text
            );
            assert!(!r.error().is_empty() && r.body["message"].is_string(), "{method} {path}: {}", r.text);
        }
        assert_eq!(t.call(Method::GET, "/api/v1/status", None, None).await.status, StatusCode::OK);
    }
    assert_eq!(t.get("/api/v1/session", &admin).await.status, StatusCode::OK, "the admin's session lives on");
}

/// Credentials headers we parse ourselves — Authorization (Basic and Bearer),
/// X-Auth-Token, Cookie — full of garbage or far too long: an anonymous caller (401 with
/// a JSON error), never a 5xx, and the server answers the next request.
async fn garbage_credential_headers_get_a_4xx(db: Db) {
    let encode = |s: &str| data_encoding::BASE64.encode(s.as_bytes());
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let many_cookies: String = (0..2000).map(|i| format!("c{i}=v; ")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("authorization", format!("Bearer {}", "x".repeat(100_000)).into_bytes()),
        ("authorization", b"Bearer".to_vec()),
        ("authorization", b"Bearer    ".to_vec()),
        ("authorization", b"Bearer \xff\xfe\x80".to_vec()),
        ("authorization", b"Basic !!!".to_vec()),
        ("authorization", format!("Basic {}", "A".repeat(20_000)).into_bytes()),
        ("authorization", format!("Basic {}", encode(&format!("{}:pw", "a".repeat(6000)))).into_bytes()),
        ("authorization", format!("Basic {}", encode("no-colon-here")).into_bytes()),
        ("authorization", format!("Basic {}", encode("admin:\u{0}\u{1}\u{7f}")).into_bytes()),
        ("authorization", "Digest username=\"admin\"".to_owned().into_bytes()),
        ("x-auth-token", "t".repeat(10_000).into_bytes()),
        ("x-auth-token", b"\xc3\x28".to_vec()),
        ("cookie", format!("gatehouse_session={}", "s".repeat(50_000)).into_bytes()),
        ("cookie", format!("{many_cookies}gatehouse_session={admin}").into_bytes()),
        ("cookie", b";;;==;=;gatehouse_session".to_vec()),
    ];
    for (name, value) in cases {
        let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
        let value = reqwest::header::HeaderValue::from_bytes(&value).unwrap();
        let r = Reply::read(t.client.get(t.url("/api/v1/session")).header(name, value).send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {shown}…: {}", r.text);
        assert!(!r.error().is_empty() && r.body["message"].is_string(), "{name}: {}", r.text);
    }
    // A session cookie among a few others still works.
    let cookie = format!("theme=dark; gatehouse_session={admin}; lang=en");
    let r = t.client.get(t.url("/api/v1/session")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.call(Method::GET, "/api/v1/status", None, None).await.status, StatusCode::OK);
}

/// A forged `X-Forwarded-For` of thousands of hops (or garbage) behind a trusted proxy:
/// only the right-most hops are examined, the answer is the usual one.
async fn a_huge_forwarded_for_is_bounded(db: Db) {
    let t = spawn_with(db, |s| {
        s.trusted_proxies = vec![gatehouse::config::parse_proxy("127.0.0.0/8").unwrap()];
    })
    .await;
    let long = format!("{}203.0.113.9", "198.51.100.1, ".repeat(5000));
    let garbage = "not-an-address, ".repeat(5000);
    for forwarded in [long, garbage] {
        let body = serde_json::json!({"username": "admin", "password": "wrong-password"});
        let req = t.client.post(t.url("/api/v1/session")).header("X-Forwarded-For", forwarded).json(&body);
        let r = Reply::read(req.send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let ips: Vec<String> = sqlx::query_scalar("SELECT ip FROM events WHERE kind = 'login.failed' ORDER BY id")
        .fetch_all(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(ips, ["203.0.113.9", "127.0.0.1"], "the right-most client address; garbage leaves the peer's");
}

on_both_databases!(
    bad_requests_get_json_4xx_and_change_nothing,
    an_oversized_header_is_refused_without_harm,
    deeply_nested_json_is_refused_by_every_json_endpoint,
    garbage_credential_headers_get_a_4xx,
    a_huge_forwarded_for_is_bounded,
);
