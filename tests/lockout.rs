//! No one can lock an owner out, and no login flood can take the server down or fill
//! it (issue 17): bursts in flight, the owner's device cookie and known addresses
//! through a flood that outlasts the hour, the right password without the code, the
//! bounded hasher, capped ceremonies, sessions and events, and logins that fail
//! closed when the database cannot write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::{Db, Reply, TestApp, oathtool, spawn, spawn_with, spawn_with_clock, unix_now};
use gatehouse::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "bob-password-1";

fn trusting_loopback(s: &mut gatehouse::config::Settings) {
    s.trusted_proxies = vec![gatehouse::config::parse_proxy("127.0.0.0/8").unwrap()];
}

async fn frozen(db: Db, configure: impl FnOnce(&mut gatehouse::config::Settings)) -> (TestApp, ManualClock) {
    let clock = ManualClock::at(unix_now());
    (spawn_with_clock(db, &clock, configure).await, clock)
}

/// `POST /api/v1/session` from `ip` (through the trusted proxy), with a device cookie.
async fn login_at(t: &TestApp, ip: &str, device: Option<&str>, password: &str, code: Option<&str>) -> Reply {
    let mut body = json!({"username": "bob", "password": password});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    let mut req = t.client.post(t.url("/api/v1/session")).header("X-Forwarded-For", ip).json(&body);
    if let Some(d) = device {
        req = req.header("Cookie", format!("gatehouse_device={d}"));
    }
    Reply::read(req.send().await.unwrap()).await
}

/// The device cookie a login set: its value, and the whole `Set-Cookie` line.
fn device_cookie(r: &Reply) -> (String, String) {
    let line = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gatehouse_device="))
        .unwrap_or_else(|| panic!("a device cookie is set: {:?}", r.headers));
    let value = line["gatehouse_device=".len()..].split(';').next().unwrap().to_owned();
    (value, line)
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(t.app.store.pool()).await.unwrap()
}

/// Inserts `n` failed guesses by strangers on bob, at the server's current time.
async fn stranger_failures(t: &TestApp, n: i64) {
    let now = t.app.now();
    for i in 0..n {
        t.sql(&format!(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at) VALUES ('bob', '203.0.113.{}', 2, {now})",
            i % 250
        ))
        .await;
    }
}

/// Issue 17: "96 wrong passwords sent in parallel all counted before any delay
/// applied". 100 wrong passwords released at once get no more checks than 100 sent
/// one after the other: the rest are refused with 429 before any hash.
async fn a_parallel_burst_meets_the_delays_of_a_sequence(db: Db) {
    // 100 connections from one address: past the per-address connection cap, which
    // would refuse 36 of them before the login throttle sees them (tests/connections.rs).
    let (t, _clock) = frozen(db, |s| s.connections.per_address = 200).await;
    t.create_user("bob", PASSWORD, json!({})).await;
    t.create_user("carol", "carol-password-1", json!({})).await;

    let mut sequence = Vec::new();
    for _ in 0..100 {
        sequence.push(t.login_reply("carol", "wrong-password").await.status);
    }
    let checked_in_sequence = sequence.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked_in_sequence, 5, "{sequence:?}");
    assert!(sequence.iter().all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS)));

    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let req = t.client.post(t.url("/api/v1/session")).json(&json!({"username": "bob", "password": "wrong"}));
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                req.send().await.unwrap().status()
            })
        })
        .collect();
    let mut burst = Vec::new();
    for task in tasks {
        burst.push(task.await.unwrap());
    }
    let checked_in_burst = burst.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(burst.iter().all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS)), "{burst:?}");
    assert!(checked_in_burst <= checked_in_sequence, "{checked_in_burst} checked at once: {burst:?}");
    let failures = count(&t, "SELECT COUNT(*) FROM auth_attempts WHERE account_key = 'bob' AND outcome = 2").await;
    assert_eq!(failures, checked_in_burst as i64, "only checked attempts count, refused ones leave nothing");
    let in_flight = count(&t, "SELECT COUNT(*) FROM auth_attempts WHERE outcome = 0").await;
    assert_eq!(in_flight, 0, "every attempt in flight was ended");
}

/// Issue 17: "the owner's right password from the address they had logged in from got
/// 429 with Retry-After: 3375 … about 100 requests an hour keep the lock". A flood
/// kept up for 80 minutes (past the hourly window) fills the strangers' cap, and the
/// owner still gets in every time: from a new address with the device cookie, and from
/// home without it.
async fn the_owner_gets_in_through_a_flood_sustained_past_the_hour(db: Db) {
    let (t, clock) = frozen(db, trusting_loopback).await;
    t.create_user("bob", PASSWORD, json!({})).await;
    let home = "198.51.100.7";
    let first = login_at(&t, home, None, PASSWORD, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let (device, line) = device_cookie(&first);
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/api/v1/session"));
    let stored = count(&t, &format!("SELECT COUNT(*) FROM login_devices WHERE token_hash = '{device}'")).await;
    assert_eq!(stored, 0, "the cookie is stored only as its hash");
    let tf = t.enable_2fa("bob", PASSWORD).await;

    for round in 0..8 {
        stranger_failures(&t, 40).await;
        for i in 0..5 {
            let r = login_at(&t, &format!("192.0.2.{}", round * 5 + i), None, "guess-password", None).await;
            assert!(matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{}", r.text);
        }
        clock.advance(31);
        let code = oathtool(&tf.key, t.app.now());
        let stranger = login_at(&t, "192.0.2.200", None, PASSWORD, Some(&code)).await;
        assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS, "round {round}: the flood holds strangers back");
        let travelling = login_at(&t, &format!("100.64.{round}.1"), Some(&device), PASSWORD, Some(&code)).await;
        assert_eq!(travelling.status, StatusCode::OK, "round {round}, device cookie: {}", travelling.text);
        assert_eq!(device_cookie(&travelling).0, device, "the same device cookie, renewed");
        clock.advance(31);
        let code = oathtool(&tf.key, t.app.now());
        let at_home = login_at(&t, home, None, PASSWORD, Some(&code)).await;
        assert_eq!(at_home.status, StatusCode::OK, "round {round}, known address: {}", at_home.text);
        clock.advance(600 - 62);
    }
    let capped = count(&t, "SELECT COUNT(*) FROM auth_attempts WHERE account_key = 'bob' AND outcome = 2").await;
    assert!(capped >= 320, "the flood was real: {capped} failures");
}

/// Issue 17: "The right password without the code is never throttled, and each costs
/// an Argon2id hash". From strangers it now meets the delays a guess meets; the
/// owner's device is not held back by it.
async fn the_right_password_without_the_code_is_throttled_for_strangers_only(db: Db) {
    let (t, _clock) = frozen(db, trusting_loopback).await;
    t.create_user("bob", PASSWORD, json!({})).await;
    let (device, _) = device_cookie(&login_at(&t, "198.51.100.7", None, PASSWORD, None).await);
    let tf = t.enable_2fa("bob", PASSWORD).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(login_at(&t, &format!("203.0.113.{i}"), None, PASSWORD, None).await);
    }
    for (i, r) in statuses.iter().enumerate() {
        if i < 5 {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            assert_eq!(r.error(), "passcode required");
        } else {
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "attempt {i}: {}", r.text);
        }
    }
    let asked = login_at(&t, "100.64.0.1", Some(&device), PASSWORD, None).await;
    assert_eq!(asked.error(), "passcode required", "the owner's device is asked for the code: {}", asked.text);
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let r = login_at(&t, "100.64.0.1", Some(&device), PASSWORD, Some(&code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// PhotoPrism #5225, roaming: a phone's sync app keeps sending the stale account
/// password over HTTP Basic from changing addresses after 2FA was turned on. It is
/// slowed down (fewer hashes), and its owner's web login is not.
async fn a_roaming_sync_app_with_a_stale_password_is_slowed_but_its_owner_logs_in(db: Db) {
    let (t, _clock) = frozen(db, trusting_loopback).await;
    t.create_user("bob", PASSWORD, json!({"webdav": true})).await;
    let tf = t.enable_2fa("bob", PASSWORD).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let req = t
            .client
            .get(t.url("/api/v1/session"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .basic_auth("bob", Some(PASSWORD));
        statuses.push(Reply::read(req.send().await.unwrap()).await);
    }
    for (i, r) in statuses.iter().enumerate() {
        let expected = if i < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(r.status, expected, "request {i}: {}", r.text);
    }
    assert_eq!(statuses[0].error(), "app password required");
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let r = login_at(&t, "100.64.0.9", None, PASSWORD, Some(&code)).await;
    assert_eq!(r.status, StatusCode::OK, "the web login is another channel: {}", r.text);
}

/// Makes the server's database refuse writes (or accept them again), under the
/// running server: SQLite connections turn query-only; PostgreSQL turns the database
/// read-only and drops its connections, so the pool reconnects read-only.
async fn database_read_only(t: &TestApp, on: bool) {
    match t.db {
        Db::Sqlite => {
            let mut held = Vec::new();
            // Every connection the pool may hold (8), so none escapes.
            for _ in 0..8 {
                held.push(t.app.store.pool().acquire().await.unwrap());
            }
            for conn in &mut held {
                let pragma = if on { "PRAGMA query_only = ON" } else { "PRAGMA query_only = OFF" };
                sqlx::query(pragma).execute(&mut **conn).await.unwrap();
            }
        }
        Db::Postgres => {
            use sqlx::Connection as _;
            let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap();
            let name = t.database_url.rsplit('/').next().unwrap().to_owned();
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            let value = if on { "on" } else { "off" };
            let alter = format!("ALTER DATABASE {name} SET default_transaction_read_only = {value}");
            sqlx::query(sqlx::AssertSqlSafe(alter)).execute(&mut conn).await.unwrap();
            let kill = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
            sqlx::query(sqlx::AssertSqlSafe(kill)).execute(&mut conn).await.unwrap();
            conn.close().await.ok();
        }
    }
}

/// Issue 17: "once one user filled it every login answered 500 and 14 wrong passwords
/// were answered 401 with no throttling and no login.failed event (fail open)". When
/// the database cannot write, every login is refused with 503, unchecked.
async fn logins_fail_closed_when_the_database_cannot_write(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", PASSWORD, json!({"webdav": true})).await;
    database_read_only(&t, true).await;
    for _ in 0..14 {
        let r = t.login_reply("bob", "wrong-password").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
        assert_eq!(r.error(), "busy");
        assert!(r.headers.get("retry-after").is_some());
    }
    let right = t.login_reply("bob", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SERVICE_UNAVAILABLE, "{}", right.text);
    let basic = t.get_basic("/api/v1/session", "bob", "wrong-password").await;
    assert_eq!(basic.status, StatusCode::SERVICE_UNAVAILABLE, "HTTP Basic fails closed too: {}", basic.text);
    database_read_only(&t, false).await;
    let r = t.login_reply("bob", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let attempts = count(&t, "SELECT COUNT(*) FROM auth_attempts WHERE account_key = 'bob'").await;
    assert_eq!(attempts, 1, "nothing was checked while the database could not count it");
}

/// Issue 17: "300 connections raised other users' logins from 56 ms to 2–3 s". With
/// one worker and one place in the queue, a burst of logins that all pass the throttle
/// is refused fast with 503 + Retry-After beyond the queue, never piled up, never 500.
async fn a_login_flood_beyond_the_hashing_queue_is_refused_fast(db: Db) {
    let t = spawn_with(db, |s| {
        trusting_loopback(s);
        s.hash_workers = 1;
        s.hash_queue = 1;
    })
    .await;
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let req = t
                .client
                .post(t.url("/api/v1/session"))
                .header("X-Forwarded-For", format!("203.0.113.{i}"))
                .json(&json!({"username": format!("nobody-{i}"), "password": "some-password"}));
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                Reply::read(req.send().await.unwrap()).await
            })
        })
        .collect();
    let mut busy = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(r.error(), "busy", "{}", r.text);
                assert!(r.headers.get("retry-after").is_some());
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(busy > 0, "the queue bound was reached");
    let in_flight = count(&t, "SELECT COUNT(*) FROM auth_attempts WHERE outcome = 0").await;
    assert_eq!(in_flight, 0, "a refused hash ends its attempt too");
}

/// Issue 17, found by the black-box attack: with the hashing queue full of guesses for
/// made-up accounts from many addresses, the owner's login answered 503 busy. The
/// flood runs (one worker, one place in the queue) until the owner has logged in five
/// times from their device and their known address; every one of those is 200 while
/// strangers are refused as busy around them.
async fn the_owner_is_never_busy_while_strangers_fill_the_hashing_queue(db: Db) {
    let t = spawn_with(db, |s| {
        trusting_loopback(s);
        s.hash_workers = 1;
        s.hash_queue = 1;
    })
    .await;
    t.create_user("bob", PASSWORD, json!({})).await;
    let home = "198.51.100.7";
    let first = login_at(&t, home, None, PASSWORD, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let (device, _) = device_cookie(&first);

    let done = Arc::new(AtomicBool::new(false));
    let busy = Arc::new(AtomicU32::new(0));
    let flooders: Vec<_> = (0..12u32)
        .map(|w| {
            let (client, url, done, busy) = (t.client.clone(), t.url("/api/v1/session"), done.clone(), busy.clone());
            tokio::spawn(async move {
                let mut seen = std::collections::BTreeMap::<u16, u32>::new();
                let mut n = 0u32;
                while !done.load(Ordering::Relaxed) {
                    n += 1;
                    let body = json!({"username": format!("made-up-{w}-{n}"), "password": "some-guess"});
                    let from = format!("10.{w}.{}.{}", n / 250 % 250, n % 250 + 1);
                    let r = client.post(&url).header("X-Forwarded-For", from).json(&body).send().await.unwrap();
                    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    *seen.entry(r.status().as_u16()).or_default() += 1;
                }
                seen
            })
        })
        .collect();
    while busy.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let busy_before = busy.load(Ordering::Relaxed);
    for i in 0..5 {
        let r = if i % 2 == 0 {
            login_at(&t, &format!("100.64.{i}.1"), Some(&device), PASSWORD, None).await
        } else {
            login_at(&t, home, None, PASSWORD, None).await
        };
        assert_eq!(r.status, StatusCode::OK, "owner login {i} during the flood: {}", r.text);
    }
    let busy_during = busy.load(Ordering::Relaxed) - busy_before;
    done.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for f in flooders {
        for (status, n) in f.await.unwrap() {
            *seen.entry(status).or_default() += n;
        }
    }
    assert!(seen.keys().all(|s| [401, 429, 503].contains(s)), "strangers get no other answer: {seen:?}");
    assert!(busy_during > 0, "strangers were refused as busy while the owner logged in: {seen:?}");
}

/// Issue 17: "POST /api/v1/session/passkey/start with {} is not throttled: 84,000
/// challenges in 20 s grew the database from 2.6 MB to 255 MB". One address holds at
/// most 10 pending ceremonies; expired ones are swept on start and in housekeeping;
/// the server holds at most 5,000 passwordless ones.
async fn passkey_ceremonies_are_capped_per_address_and_swept(db: Db) {
    use gatehouse::store::AttemptStore as _;
    let (t, clock) = frozen(db, |s| {
        trusting_loopback(s);
        s.public_url = Some(url::Url::parse("http://localhost:2342").unwrap());
    })
    .await;
    let start = |ip: &'static str| {
        let req = t.client.post(t.url("/api/v1/session/passkey/start")).header("X-Forwarded-For", ip).json(&json!({}));
        async move { Reply::read(req.send().await.unwrap()).await }
    };
    for _ in 0..10 {
        assert_eq!(start("203.0.113.1").await.status, StatusCode::OK);
    }
    let refused = start("203.0.113.1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
    let retry: i64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "until the first expires: {retry}");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM webauthn_challenges").await, 10, "the refusal stored nothing");
    assert_eq!(start("203.0.113.2").await.status, StatusCode::OK, "another address has its own room");
    clock.advance(301);
    assert_eq!(start("203.0.113.1").await.status, StatusCode::OK, "expired ones no longer count");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM webauthn_challenges").await, 1, "and were swept on start");
    clock.advance(301);
    t.app.store.purge_attempts(t.app.now()).await.unwrap();
    assert_eq!(count(&t, "SELECT COUNT(*) FROM webauthn_challenges").await, 0, "housekeeping sweeps them too");

    let until = t.app.now() + 300;
    t.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
         INSERT INTO webauthn_challenges (id_hash, purpose, rp_id, state, expires_at, ip_prefix) \
         SELECT 'seeded' || i, 'passwordless', 'localhost', '{{}}', {until}, 'seeded' || i FROM n"
    ))
    .await;
    let full = start("203.0.113.3").await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE, "{}", full.text);
    assert_eq!(full.error(), "busy");
    assert!(full.headers.get("retry-after").is_some());
    assert_eq!(count(&t, "SELECT COUNT(*) FROM webauthn_challenges").await, 5000);
}

/// Issue 17: "An app password with the sessions scope opened 8,228 web sessions in
/// 10 s". At most 20 stay open; each new one ends the oldest.
async fn an_app_password_keeps_at_most_20_sessions_open(db: Db) {
    let (t, clock) = frozen(db, |_| {}).await;
    t.create_user("bob", PASSWORD, json!({})).await;
    let parent = t.app_password("bob", PASSWORD, "sessions", 0).await;
    let secret = parent["access_token"].as_str().unwrap();
    let mut tokens = Vec::new();
    for _ in 0..25 {
        clock.advance(1);
        let r = t.login_reply("bob", secret).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        tokens.push(r.body["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM sessions WHERE kind = 'web' AND parent_id IS NOT NULL").await, 20);
    for old in &tokens[..5] {
        assert_eq!(t.get("/api/v1/session", old).await.status, StatusCode::UNAUTHORIZED, "the oldest ended");
    }
    for new in &tokens[5..] {
        assert_eq!(t.get("/api/v1/session", new).await.status, StatusCode::OK);
    }
    assert_eq!(t.get("/api/v1/session", secret).await.status, StatusCode::OK, "the app password itself lives on");
}

/// Issue 17: "the owner's account page grew to 6 MB of events". The same event
/// again within the hour is one row with a count and the last time.
async fn repeated_identical_events_are_one_row_with_a_count(db: Db) {
    let t = spawn(db).await;
    // Four: the fifth would make the next login wait.
    for _ in 0..4 {
        assert_eq!(t.login_reply("admin", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    }
    let token = t.admin_token().await;
    let uid = t.uid_of(&token).await;
    let events = t.get(&format!("/api/v1/users/{uid}/events"), &token).await;
    let failed: Vec<&Value> = events.body.as_array().unwrap().iter().filter(|e| e["event"] == "login.failed").collect();
    assert_eq!(failed.len(), 1, "{}", events.text);
    assert_eq!(failed[0]["repeats"], 4);
    assert!(failed[0]["last_time"].is_string());
    assert_eq!(events.body[0]["event"], "login.ok", "newest first");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM events WHERE kind = 'login.failed'").await, 1);
}

/// Each complete login without a device cookie makes one; an account keeps its
/// newest 20.
async fn an_account_keeps_at_most_20_device_cookies(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", PASSWORD, json!({})).await;
    let mut devices = Vec::new();
    for _ in 0..23 {
        devices.push(device_cookie(&t.login_reply("bob", PASSWORD).await).0);
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM login_devices WHERE account_key = 'bob'").await, 20);
    let mut unique = devices.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 23, "a fresh cookie each time none was presented");
}

on_both_databases!(
    a_parallel_burst_meets_the_delays_of_a_sequence,
    the_owner_gets_in_through_a_flood_sustained_past_the_hour,
    the_right_password_without_the_code_is_throttled_for_strangers_only,
    a_roaming_sync_app_with_a_stale_password_is_slowed_but_its_owner_logs_in,
    logins_fail_closed_when_the_database_cannot_write,
    a_login_flood_beyond_the_hashing_queue_is_refused_fast,
    the_owner_is_never_busy_while_strangers_fill_the_hashing_queue,
    passkey_ceremonies_are_capped_per_address_and_swept,
    an_app_password_keeps_at_most_20_sessions_open,
    repeated_identical_events_are_one_row_with_a_count,
    an_account_keeps_at_most_20_device_cookies,
);

/// The real binary, killed when the test ends however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Issue 17: "64 Basic requests with an account password left the process at 424 MB,
/// never returned". `gatehouse start` as a process takes a flood of account-password
/// Basic requests and wrong JSON logins from 32 connections; afterwards its resident
/// memory is within 30 MiB of what it was before, and nothing answered 5xx but 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_after_a_login_flood_sqlite() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = common::fresh_database(Db::Sqlite, dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["start", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .env("GATEHOUSE_DATABASE_URL", &url)
        .env("GATEHOUSE_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .env_remove("GATEHOUSE_SECRET_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    gatehouse::library::install_tls();
    let client = reqwest::Client::new();
    let ready = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/api/v1/status")).send().await.is_err() {
        assert!(Instant::now() < ready, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let basic = |client: &reqwest::Client| {
        client.get(format!("{base}/api/v1/session")).basic_auth("admin", Some(common::ADMIN_PASSWORD))
    };
    for _ in 0..10 {
        assert_eq!(basic(&client).send().await.unwrap().status(), StatusCode::OK);
    }
    let before = rss_kib(pid);

    let deadline = Instant::now() + Duration::from_secs(20);
    let workers: Vec<_> = (0..32)
        .map(|w| {
            let client = reqwest::Client::new();
            let base = base.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let req = if w % 2 == 0 {
                        client.get(format!("{base}/api/v1/session")).basic_auth("admin", Some(common::ADMIN_PASSWORD))
                    } else {
                        let body = json!({"username": format!("user-{w}-{n}"), "password": "wrong-password"});
                        client.post(format!("{base}/api/v1/session")).json(&body)
                    };
                    statuses.push(req.send().await.unwrap().status());
                }
                statuses
            })
        })
        .collect();
    let mut seen = std::collections::BTreeMap::new();
    for w in workers {
        for s in w.await.unwrap() {
            *seen.entry(s.as_u16()).or_insert(0) += 1;
        }
    }
    assert!(seen.keys().all(|s| [200, 401, 429, 503].contains(s)), "{seen:?}");
    assert!(seen.get(&200).is_some_and(|n| *n > 10), "the flood was served: {seen:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    assert!(after <= before + 30 * 1024, "RSS {before} KiB before, {after} KiB after the flood ({seen:?})");
    assert_eq!(basic(&client).send().await.unwrap().status(), StatusCode::OK, "still serving");
}
