//! Bounds on connections, exceeded on purpose: one client address cannot hold more
//! connections than its cap, bodies that trickle are cut and free their connection, an
//! unauthenticated upload is never read, and `start` raises its descriptor limit and
//! keeps serving when it runs short of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{ADMIN_PASSWORD, Db, TestApp, spawn_with};
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Sends one keep-alive `GET /api/v1/status` on `tcp` and reads the answer's head and
/// body; true when it was a 200.
async fn status_on(tcp: &mut TcpStream) -> bool {
    tcp.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(13).any(|w| w == b"\"operational\"") {
        match tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    got.starts_with(b"HTTP/1.1 200")
}

/// Reads until the server closes `tcp` (or `limit` passes); what it sent.
async fn read_to_close(tcp: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().map(|()| got)
}

/// The admin's view of `/api/v1/metrics`, once the server has noticed that the test's
/// own connections closed (until then a new connection may still be over the cap).
async fn metrics_text(app: &TestApp) -> String {
    for _ in 0..200 {
        let r = app.client.get(app.url("/api/v1/metrics")).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await;
        if let Ok(r) = r
            && r.status() == 200
        {
            return r.text().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the metrics never answered")
}

fn basic_admin() -> String {
    let raw = format!("admin:{ADMIN_PASSWORD}");
    format!("Basic {}", data_encoding::BASE64.encode(raw.as_bytes()))
}

async fn a_client_address_cannot_hold_more_connections_than_its_cap(db: Db) {
    let app = spawn_with(db, |s| s.connections.per_address = 8).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        assert!(status_on(&mut tcp).await, "a connection below the cap is served");
        held.push(tcp);
    }
    let mut ninth = TcpStream::connect(app.addr).await.unwrap();
    let told = read_to_close(&mut ninth, Duration::from_secs(30)).await.expect("the ninth connection is closed");
    assert!(told.starts_with(b"HTTP/1.1 503"), "and told why: {}", String::from_utf8_lossy(&told));
    assert!(String::from_utf8_lossy(&told).contains("Retry-After: 5"));
    // The ones it holds keep working, and closing one frees its place.
    assert!(status_on(&mut held[3]).await);
    drop(held.pop());
    let mut again = None;
    for _ in 0..100 {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        if status_on(&mut tcp).await {
            again = Some(tcp);
            break;
        }
        // The server may not have noticed the close yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a closed connection frees its place");
    drop((held, again));
    let metrics = metrics_text(&app).await;
    assert!(metrics.contains("gatehouse_refused_total{bound=\"connections_per_address\"} "), "{metrics}");
    assert!(!metrics.contains("gatehouse_refused_total{bound=\"connections_per_address\"} 0\n"), "{metrics}");
    assert!(metrics.contains("gatehouse_connections_open "), "{metrics}");
    assert!(metrics.contains("gatehouse_open_fds "), "{metrics}");
}

/// A server whose bodies must bring 1 KiB in every second spent waiting, and whose API
/// bodies must arrive within two seconds.
async fn paced(db: Db) -> TestApp {
    spawn_with(db, |s| {
        s.connections.body_min_bytes = 1024;
        s.connections.body_window = Duration::from_secs(1);
        s.connections.api_body_deadline = Duration::from_secs(2);
    })
    .await
}

/// Sends `head`, then one byte every 100 ms until the server closes the connection or
/// `bytes` are sent; whether the server closed it, and what it answered.
async fn trickle(app: &TestApp, head: String, bytes: usize) -> (bool, String) {
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..bytes {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::future::pending::<()>().await;
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    writer.abort();
    (closed, String::from_utf8_lossy(&got).into_owned())
}

async fn a_trickled_webdav_upload_is_cut_and_leaves_nothing(db: Db) {
    let app = paced(db).await;
    let head = format!(
        "PUT /originals/slow.bin HTTP/1.1\r\nHost: t\r\nAuthorization: {}\r\nContent-Length: 1000000000\r\n\r\n",
        basic_admin()
    );
    // 10 bytes a second, for at most ten minutes: the server must cut it long before.
    let (closed, answer) = trickle(&app, head, 6000).await;
    assert!(closed, "the server closes a connection whose body trickles");
    assert!(answer.starts_with("HTTP/1.1 408"), "a slow client is told so: {answer}");
    assert!(answer.contains("<D:error"), "in WebDAV's XML: {answer}");
    let r = app.client.get(app.url("/originals/slow.bin")).header("Authorization", basic_admin()).send().await.unwrap();
    assert_eq!(r.status(), 404, "a cut upload leaves no file");
    let metrics = metrics_text(&app).await;
    assert!(!metrics.contains("gatehouse_refused_total{bound=\"slow_body\"} 0\n"), "{metrics}");
}

async fn a_trickled_login_body_is_cut(db: Db) {
    let app = paced(db).await;
    let head =
        "POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
    let (closed, answer) = trickle(&app, head.to_owned(), 6000).await;
    assert!(closed, "the server closes a connection whose login body trickles");
    assert!(answer.starts_with("HTTP/1.1 408"), "a slow client is told so: {answer}");
    assert!(answer.contains("\"error\""), "in the API's JSON: {answer}");
}

async fn an_upload_at_a_normal_pace_is_not_cut(db: Db) {
    let app = spawn_with(db, |s| {
        s.connections.body_min_bytes = 16 * 1024;
        s.connections.body_window = Duration::from_secs(3);
    })
    .await;
    // 8 MiB in 64 KiB chunks, a short pause between some of them (well above 16 KiB/3 s).
    let chunks = futures_util::stream::iter(0..128).then(|i| async move {
        if i % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok::<_, std::io::Error>(vec![u8::try_from(i % 251).unwrap(); 64 * 1024])
    });
    let r = app
        .client
        .put(app.url("/originals/steady.bin"))
        .header("Authorization", basic_admin())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r =
        app.client.get(app.url("/originals/steady.bin")).header("Authorization", basic_admin()).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 8 * 1024 * 1024);
}

async fn an_unauthenticated_upload_is_never_read(db: Db) {
    let app = spawn_with(db, |_| {}).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"PUT /originals/x.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\nabc").await.unwrap();
    // The default pace would allow a trickle for a while; without credentials the
    // body is not read at all: 401 and the connection closes at once.
    let answer = read_to_close(&mut tcp, Duration::from_secs(20)).await.expect("the connection is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("www-authenticate: basic"), "{answer}");
}

async fn a_trickled_request_head_and_an_idle_connection_are_closed(db: Db) {
    let app = spawn_with(db, |s| s.connections.head_timeout = Duration::from_secs(2)).await;
    // A head that never ends: one header line a second.
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        for i in 0..600 {
            if wr.write_all(format!("X-Slow-{i}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let cut = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    writer.abort();
    assert!(cut.is_ok(), "a trickled head is cut");
    // A kept-alive connection that sends nothing after its answer is closed too.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    assert!(status_on(&mut idle).await);
    assert!(read_to_close(&mut idle, Duration::from_secs(60)).await.is_some(), "an idle connection is closed");
}

/// The value of `gatehouse_refused_total{bound="NAME"}` in a metrics text.
fn refused(metrics: &str, bound: &str) -> u64 {
    let prefix = format!("gatehouse_refused_total{{bound=\"{bound}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix}in {metrics}"))
}

async fn refusals_by_any_bound_are_counted_in_the_metrics(db: Db) {
    let app = spawn_with(db, |_| {}).await;
    let before = metrics_text(&app).await;
    let props: String = (0..300).map(|i| format!("<Z:p{i}/>")).collect();
    let body = format!(r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop>{props}</D:prop></D:propfind>"#);
    let r = app
        .client
        .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), app.url("/originals/"))
        .header("Authorization", basic_admin())
        .header("Depth", "1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    app.create_user("carol", "carol-password-1", serde_json::json!({})).await;
    let mut throttled = false;
    for _ in 0..20 {
        if app.login_reply("carol", "wrong-password").await.status == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
    let after = metrics_text(&app).await;
    assert_eq!(refused(&after, "too_large"), refused(&before, "too_large") + 1, "{after}");
    assert!(refused(&after, "throttled") > refused(&before, "throttled"), "{after}");
}

on_both_databases!(
    refusals_by_any_bound_are_counted_in_the_metrics,
    a_trickled_request_head_and_an_idle_connection_are_closed,
    a_client_address_cannot_hold_more_connections_than_its_cap,
    a_trickled_login_body_is_cut,
    an_unauthenticated_upload_is_never_read,
);
// Uploads stream into the library, so they are paced on a folder and on S3 alike.
on_every_backend!(a_trickled_webdav_upload_is_cut_and_leaves_nothing, an_upload_at_a_normal_pace_is_not_cut);

/// `gatehouse start` as a process under `ulimit` settings `limits` (a shell `ulimit`
/// command line), on SQLite, with every client address allowed 1,000 connections; its
/// pid and address.
struct Process {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Process {
    #[allow(clippy::zombie_processes)] // waited for in Drop
    async fn start(limits: &str) -> Process {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{limits} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["start", "--listen", &format!("127.0.0.1:{port}"), "--max-connections-per-address", "1000"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("GATEHOUSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("GATEHOUSE_DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Killed on drop, also when it never becomes ready.
        let process = Process { child, addr, _dir: dir };
        for _ in 0..300 {
            if let Ok(mut tcp) = TcpStream::connect(addr).await
                && status_on(&mut tcp).await
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("gatehouse start did not become ready");
    }

    /// The soft and hard limits on open files, from /proc.
    fn open_files_limit(&self) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).unwrap();
        let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_owned();
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[3].to_owned(), fields[4].to_owned())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_raises_its_soft_descriptor_limit_to_the_hard_one() {
    let server = Process::start("ulimit -S -n 150").await;
    let (soft, hard) = server.open_files_limit();
    assert_eq!(soft, hard, "the soft limit is raised to the hard one");
    assert_ne!(soft, "150");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_of_descriptors_the_server_refuses_new_connections_and_keeps_serving_its_own() {
    // 200 descriptors: room for 100 connections, the rest kept for the database and files.
    let server = Process::start("ulimit -n 200").await;
    let mut admitted = Vec::new();
    let mut refused = 0;
    for _ in 0..160 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        if status_on(&mut tcp).await {
            admitted.push(tcp);
        } else {
            refused += 1;
        }
    }
    assert!(admitted.len() <= 100, "at most what the descriptors allow: {}", admitted.len());
    assert!(admitted.len() >= 90, "about that many are served: {}", admitted.len());
    assert_eq!(admitted.len() + refused, 160);
    // Every connection it took keeps working — with requests that open files and the
    // database — and freeing them lets new clients in.
    for tcp in admitted.iter_mut().step_by(10) {
        assert!(status_on(tcp).await, "an admitted connection keeps being served");
    }
    gatehouse::library::install_tls();
    let client = reqwest::Client::new();
    drop(admitted.drain(..50));
    let mut served = false;
    for _ in 0..100 {
        let r = client
            .post(format!("http://{}/api/v1/session", server.addr))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200, "a login after the flood is served");
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "new connections are served once others close");
    let (soft, _) = server.open_files_limit();
    assert_eq!(soft, "200");
}
