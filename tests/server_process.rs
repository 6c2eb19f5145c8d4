//! `gatehouse start` as a real process: first start, readiness, clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Db, fresh_database};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/api/v1/status")).send().await {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body, serde_json::json!({"status": "operational"}));
            return;
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn first_start_prints_a_generated_admin_password_and_stops_on_sigterm(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = fresh_database(db, dir.path()).await;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["start", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .env("GATEHOUSE_DATABASE_URL", &url)
        .env_remove("GATEHOUSE_ADMIN_PASSWORD")
        .env_remove("GATEHOUSE_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let password = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.trim().strip_prefix("password: ").map(str::to_owned))
    })
    .await
    .unwrap()
    .expect("the generated password is printed");
    let base = format!("http://127.0.0.1:{port}");
    gatehouse::library::install_tls();
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let r = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Data folder, library folders and a private secret key were created.
    assert!(data.join("originals").is_dir() && data.join("import").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit: {status:?}");
}

async fn a_wrong_secret_key_is_a_clear_startup_error(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = fresh_database(db, dir.path()).await;
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["users", "ls", "--data-dir"])
            .arg(&data)
            .env("GATEHOUSE_DATABASE_URL", &url)
            .env("GATEHOUSE_SECRET_KEY", key)
            .output()
            .unwrap()
    };
    assert!(run("the-first-secret-key-with-32-chars!!").status.success());
    let wrong = run("a-different-secret-key-with-32-chars");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("secret key does not match"));
    let short = run("short");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 32 characters"));
}

on_both_databases!(
    first_start_prints_a_generated_admin_password_and_stops_on_sigterm,
    a_wrong_secret_key_is_a_clear_startup_error,
);

/// Issue 10 §8: whatever the umask, and when the folder and files already existed with
/// open modes, the data folder ends 0700 and the database, its companions, the change
/// signals and `secret.key` 0600 — also those made while serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_server_writes_are_private_whatever_the_umask() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let key = data.join("secret.key");
    std::fs::write(&key, "an-old-secret-key-from-a-restored-backup-0123456789").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["start", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .env("GATEHOUSE_ADMIN_PASSWORD", "admin-password-1")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env_remove("GATEHOUSE_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    gatehouse::library::install_tls();
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    // A login and a logout write to the database and move the credential signal.
    let r = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": "admin-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let r = client.delete(format!("{base}/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    assert!(r.status().is_success());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data folder");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_file() {
            assert_eq!(mode(&entry.path()), 0o600, "{name}");
            seen.push(name);
        }
    }
    seen.sort();
    for expected in ["index.db", "index.db-credentials", "index.db-shm", "index.db-wal", "secret.key"] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
    stop_with_sigterm(&mut child);
}

fn stop_with_sigterm(child: &mut std::process::Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// What `start` logs until it listens, with `--public-url url`; the server is stopped.
fn start_log(public_url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["start", "--listen", "127.0.0.1:0", "--public-url", public_url, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("GATEHOUSE_ADMIN_PASSWORD", "admin-password-1")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("is listening") {
            break;
        }
    }
    stop_with_sigterm(&mut child);
    log
}

/// Passkeys need a public URL browsers accept: `start` says once why they are off, or
/// for which site they are on.
#[test]
fn start_says_once_whether_passkeys_are_on() {
    for url in ["http://photos.example.com", "http://127.0.0.1:2342"] {
        let log = start_log(url);
        assert_eq!(log.matches("Passkeys are off").count(), 1, "{url}: {log}");
        assert!(log.contains(url), "{url}: {log}");
    }
    let log = start_log("http://localhost:2342");
    assert!(log.contains("passkeys are available") && log.contains("localhost"), "{log}");
    assert!(!log.contains("Passkeys are off"), "{log}");
}
