//! Finds the next hostile input before a user does (issue 10 §6): proptest generates
//! requests — methods, paths with odd segments, WebDAV and HTTP headers with good and
//! broken values, bodies from random bytes to XML and JSON nested far too deep — and
//! sends them over real HTTP to a real server (SQLite, then PostgreSQL) with several
//! credentials. Any 5xx (a caught panic is a 500), a dead connection, or a server that
//! stops answering fails the test, and proptest shrinks the request to a small one.
//!
//! Bounded: `GATEHOUSE_FUZZ_CASES` requests per database (default 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, TestApp, spawn};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use webdav_util::{DAV_PASSWORD, DAV_USER, app_password, dav_user};

const METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
    "OPTIONS",
    "POST",
    "PATCH",
    "TRACE",
    "REPORT",
    "SEARCH",
    "FOO",
];

const ROOTS: &[&str] = &[
    "/originals",
    "/originals/",
    "/import",
    "/import/",
    "/api/v1/session",
    "/api/v1/users",
    "/api/v1/users/SELF",
    "/api/v1/users/SELF/passcode",
    "/api/v1/users/SELF/password",
    "/api/v1/users/SELF/sessions",
    "/api/v1/oauth/token",
    "/api/v1/oauth/revoke",
    "/api/v1/status",
    "/settings/account",
    "/admin/users",
    "/login",
    "/",
];

const SEGMENTS: &[&str] = &[
    "a", "b.txt", "dir", "..", ".", "%2e%2e", "%2E.", "a%2fb", "%5c", "%00", "x%20y", "%C3%A9", "%ff", "%", "%zz",
    ";x", "~", "a.html", "..%2f", "%252e", "", "*",
];

const DEPTHS: &[&str] = &["0", "1", "infinity", "Infinity", "2", "", "-1", " 1", "1,0"];
const IFS: &[&str] = &[
    "(<urn:uuid:00000000-0000-4000-8000-000000000000>)",
    "(Not <DAV:no-lock>)",
    "<http://127.0.0.1/originals/a> ([\"x\"])",
    "(",
    "()",
    "<a>",
    "(<a> [\"e\"] Not <b>)",
    "garbage",
];
const RANGES: &[&str] =
    &["bytes=0-1", "bytes=-5", "bytes=5-", "bytes=5-1", "bytes=a-b", "bytes=0-0,2-3,1-1", "items=1"];
const DESTINATIONS: &[&str] = &[
    "/originals/b",
    "/originals/",
    "/originals",
    "/import/c",
    "http://evil.example/originals/x",
    "/originals/a/b/c",
    "/originals/%2e%2e/x",
    "not a url",
    "",
];

/// A request to send: method, path, headers, body, and which credential.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    who: usize,
}

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(list)
}

fn path() -> impl Strategy<Value = String> {
    (pick(ROOTS), proptest::collection::vec(pick(SEGMENTS), 0..4), any::<bool>()).prop_map(|(root, segs, slash)| {
        let mut p = root.trim_end_matches('/').to_owned();
        for s in segs {
            p.push('/');
            p.push_str(s);
        }
        if slash || p.is_empty() {
            p.push('/');
        }
        p
    })
}

/// XML with random nesting, names and namespaces (valid or not), up to far too deep.
fn xml_body() -> impl Strategy<Value = Vec<u8>> {
    let names = ["propfind", "prop", "allprop", "propname", "propertyupdate", "set", "remove", "lockinfo", "x", "a"];
    let nss = ["DAV:", "", "urn:x", "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/"];
    (proptest::collection::vec((0..names.len(), 0..nss.len(), any::<bool>()), 1..12), 0usize..40_000, any::<bool>())
        .prop_map(move |(elems, extra_depth, close)| {
            let mut out = String::from(r#"<?xml version="1.0"?>"#);
            let mut stack = Vec::new();
            for (i, (n, ns, prefixed)) in elems.iter().enumerate() {
                let name = if *prefixed { format!("P{i}:{}", names[*n]) } else { names[*n].to_owned() };
                let decl = if *prefixed { format!("xmlns:P{i}") } else { "xmlns".to_owned() };
                out.push_str(&format!(r#"<{name} {decl}="{}">"#, nss[*ns]));
                stack.push(name);
            }
            out.push_str(&"<a>".repeat(extra_depth));
            if close {
                out.push_str(&"</a>".repeat(extra_depth));
                while let Some(name) = stack.pop() {
                    out.push_str(&format!("</{name}>"));
                }
            }
            out.into_bytes()
        })
}

fn json_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1usize..200_000).prop_map(|n| "[".repeat(n).into_bytes()),
        (1usize..50_000).prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes()),
        Just(br#"{"username":"admin","password":"x","code":"000000"}"#.to_vec()),
        Just(br#"{"name":"\u0000\ud800","email":1e999,"role":"root"}"#.to_vec()),
        Just(br#"{"grant_type":"password","scope":"* * *","expires_in":-1}"#.to_vec()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 0..512), xml_body(), json_body(),]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let one = prop_oneof![
        pick(DEPTHS).prop_map(|v| ("depth", v.to_owned())),
        pick(IFS).prop_map(|v| ("if", v.to_owned())),
        pick(RANGES).prop_map(|v| ("range", v.to_owned())),
        pick(DESTINATIONS).prop_map(|v| ("destination", v.to_owned())),
        pick(&["T", "F", "yes", ""]).prop_map(|v| ("overwrite", v.to_owned())),
        pick(&["<urn:uuid:1>", "urn:uuid:1", "<>", ""]).prop_map(|v| ("lock-token", v.to_owned())),
        pick(&["Second-1", "Infinite", "Second-99999999999999999999", "x"]).prop_map(|v| ("timeout", v.to_owned())),
        pick(&["1700000000", "-1", "1e400", "nan", ""]).prop_map(|v| ("x-oc-mtime", v.to_owned())),
        pick(&["\"x\"", "*", "W/\"x\"", "garbage"]).prop_map(|v| ("if-match", v.to_owned())),
        pick(&["\"x\"", "*", "W/\"x\""]).prop_map(|v| ("if-none-match", v.to_owned())),
        pick(&["Thu, 01 Jan 1970 00:00:00 GMT", "yesterday"]).prop_map(|v| ("if-modified-since", v.to_owned())),
        pick(&["application/json", "application/xml", "text/plain", "multipart/form-data; boundary=x"])
            .prop_map(|v| ("content-type", v.to_owned())),
        pick(&["1.2.3.4", "::1, 10.0.0.1", "garbage", ""]).prop_map(|v| ("x-forwarded-for", v.to_owned())),
        pick(&["Basic", "Basic !!!", "Bearer", "Bearer x", "Digest x"]).prop_map(|v| ("authorization", v.to_owned())),
    ];
    proptest::collection::vec(one, 0..5)
}

fn request() -> impl Strategy<Value = Req> {
    (pick(METHODS), path(), headers(), body(), 0usize..4).prop_map(|(method, path, headers, body, who)| Req {
        method,
        path,
        headers,
        body,
        who,
    })
}

/// The credentials a request may carry: none, bob's password, bob's app password, an
/// admin's web session.
struct Creds {
    client: reqwest::Client,
    app_password: String,
    admin_token: String,
    admin_uid: String,
}

async fn send(t: &TestApp, creds: &Creds, r: &Req) -> Result<(), TestCaseError> {
    let path = r.path.replace("SELF", &creds.admin_uid);
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
    // A connection of its own per request: a server may close a connection after
    // refusing a body, and a pooled connection would carry that into the next case.
    let mut req = creds.client.request(method, t.url(&path));
    req = match r.who {
        1 => req.basic_auth(DAV_USER, Some(DAV_PASSWORD)),
        2 => req.basic_auth(DAV_USER, Some(&creds.app_password)),
        3 => req.bearer_auth(&creds.admin_token),
        _ => req,
    };
    for (name, value) in &r.headers {
        req = req.header(*name, value);
    }
    let resp = req.body(r.body.clone()).send().await;
    match resp {
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            // RFC 4918 §9.8.5/§9.9.4: a COPY or MOVE to another server is a 502.
            let foreign = matches!(r.method, "COPY" | "MOVE")
                && status == reqwest::StatusCode::BAD_GATEWAY
                && r.headers.iter().any(|(n, v)| *n == "destination" && v.starts_with("http://evil."));
            prop_assert!(!status.is_server_error() || foreign, "{status} for {} {path}: {text}", r.method);
        }
        // The server may close a connection whose body it refused (413) before the
        // client finished sending; anything else is a failure.
        Err(e) => prop_assert!(r.body.len() > 60_000, "no answer to {} {path}: {e}", r.method),
    }
    Ok(())
}

fn fuzz(db: Db) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (t, creds) = rt.block_on(async {
        let t = spawn(db).await;
        dav_user(&t).await;
        for dir in ["a", "dir"] {
            std::fs::create_dir_all(t.data_dir.join("originals").join(dir)).unwrap();
        }
        std::fs::write(t.data_dir.join("originals/b.txt"), b"0123456789").unwrap();
        std::fs::write(t.data_dir.join("originals/a.html"), b"<script>alert(1)</script>").unwrap();
        let app_password = app_password(&t, "webdav").await;
        let admin_token = t.admin_token().await;
        let admin_uid = t.uid_of(&admin_token).await;
        gatehouse::library::install_tls();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        (t, Creds { client, app_password, admin_token, admin_uid })
    });
    let cases = std::env::var("GATEHOUSE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&request(), |r| rt.block_on(send(&t, &creds, &r)));
    if let Err(e) = result {
        panic!("{e}");
    }
    // Still alive and still serving the library.
    rt.block_on(async {
        let r = t.client.get(t.url("/api/v1/status")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = t
            .client
            .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), t.url("/originals/"))
            .basic_auth(DAV_USER, Some(&creds.app_password))
            .header("depth", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 207);
    });
}

#[test]
fn no_generated_request_gets_a_server_error_sqlite() {
    fuzz(Db::Sqlite);
}

#[test]
fn no_generated_request_gets_a_server_error_postgres() {
    fuzz(Db::Postgres);
}
