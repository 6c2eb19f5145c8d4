//! Brute-force limits (docs/design.md, "Brute force"): growing delays, the hourly cap, the owner's way in
//! during a flood, sync apps with a stale password, and X-Forwarded-For trust.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, Reply, TestApp, oathtool, spawn, spawn_with, spawn_with_clock, unix_now};
use gatehouse::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::json;

async fn login_from(t: &TestApp, ip: &str, username: &str, password: &str, code: Option<&str>) -> Reply {
    let mut body = json!({"username": username, "password": password});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    let req = t.client.post(t.url("/api/v1/session")).header("X-Forwarded-For", ip).json(&body);
    Reply::read(req.send().await.unwrap()).await
}

fn trusting_loopback(s: &mut gatehouse::config::Settings) {
    s.trusted_proxies = vec![gatehouse::config::parse_proxy("127.0.0.0/8").unwrap()];
}

/// A server whose clock stands still unless the test moves it: delays measured in
/// seconds then hold however slowly a busy machine runs the test.
async fn spawn_frozen(db: Db, configure: impl FnOnce(&mut gatehouse::config::Settings)) -> (TestApp, ManualClock) {
    let clock = ManualClock::at(unix_now());
    (spawn_with_clock(db, &clock, configure).await, clock)
}

async fn wrong_passwords_meet_growing_delays(db: Db) {
    let (t, clock) = spawn_frozen(db, |_| {}).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    let mut throttled = None;
    for attempt in 1..=10 {
        let started = std::time::Instant::now();
        let r = t.login_reply("bob", "wrong-password").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(started.elapsed() >= common::THROTTLE_DELAY, "the refusal is held back (tarpit)");
            throttled = Some((attempt, r));
            break;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let (attempt, r) = throttled.expect("throttled within 10 wrong passwords");
    assert_eq!(attempt, 6, "the first five failures are free");
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry, 2, "the first refusal asks for a few seconds, not minutes");
    assert_eq!(r.error(), "too many requests");
    assert!(r.body["message"].as_str().unwrap().contains("seconds"));
    // While throttled, even the right password is not checked…
    assert_eq!(t.login_reply("bob", "bob-password-1").await.status, StatusCode::TOO_MANY_REQUESTS);
    // …until the wait is over; then the next wrong guess waits twice as long.
    clock.advance(retry);
    assert_eq!(t.login_reply("bob", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    let r = t.login_reply("bob", "bob-password-1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "3", "2 s from the latest failure, which began within its second");
    clock.advance(3);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.status, StatusCode::OK);
    // Unknown accounts are throttled the same way: no hint which ones exist.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(t.login_reply("nobody-here", "wrong-password").await.status);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
}

/// Inserts `n` failed attempts on `account`, spread over the last hour but all older
/// than the longest delay, so only the hourly cap can refuse the next attempt.
async fn past_failures(t: &TestApp, account: &str, n: i64) -> i64 {
    let now = t.app.now();
    let oldest = now - 3500;
    for i in 0..n {
        let at = oldest + i * 3000 / n.max(1);
        t.sql(&format!(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at) VALUES ('{account}', '203.0.113.{}', 2, {at})",
            i % 250
        ))
        .await;
    }
    oldest
}

async fn at_most_100_failures_per_account_per_hour(db: Db) {
    let (t, _clock) = spawn_frozen(db, |_| {}).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    t.create_user("carol", "carol-password-1", json!({})).await;
    past_failures(&t, "carol", 99).await;
    assert_eq!(t.login_reply("carol", "carol-password-1").await.status, StatusCode::OK, "99 is under the cap");

    let oldest = past_failures(&t, "bob", 100).await;
    let r = t.login_reply("bob", "bob-password-1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry, oldest + 3600 - t.app.now(), "until the oldest failure leaves the hour");
    // Refused attempts are not counted: the account stays at 100.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_attempts WHERE account_key = 'bob'")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 100);
}

async fn a_flood_from_many_addresses_does_not_lock_the_owner_out(db: Db) {
    let (t, _clock) = spawn_frozen(db, trusting_loopback).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    let home = "198.51.100.7";
    assert_eq!(login_from(&t, home, "bob", "bob-password-1", None).await.status, StatusCode::OK);
    let tf = t.enable_2fa("bob", "bob-password-1").await;

    let mut refused = 0;
    for i in 0..40 {
        let r = login_from(&t, &format!("203.0.113.{i}"), "bob", &format!("guess-{i}-password"), None).await;
        assert!(matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{}", r.text);
        refused += usize::from(r.status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused, 35, "after five free failures the flood is throttled");
    // A stranger's address, even with the right password, waits…
    let elsewhere = login_from(&t, "192.0.2.99", "bob", "bob-password-1", None).await;
    assert_eq!(elsewhere.status, StatusCode::TOO_MANY_REQUESTS);
    // …but the owner at home gets in at once with password and code.
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let owner = login_from(&t, home, "bob", "bob-password-1", Some(&code)).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);
}

/// PhotoPrism #5225: a sync app that keeps sending the (correct) account password after
/// 2FA was turned on must not lock its owner out of the web login from that address.
async fn a_sync_app_with_the_old_password_does_not_lock_out_its_owner(db: Db) {
    let (t, _clock) = spawn_frozen(db, |_| {}).await;
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    for _ in 0..30 {
        let r = t.client.get(t.url("/api/v1/session")).basic_auth("bob", Some("bob-password-1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let r = t.login_with_code("bob", "bob-password-1", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn forwarded_for_is_believed_only_from_trusted_proxies(db: Db) {
    let plain = spawn(db).await;
    login_from(&plain, "203.0.113.5", "admin", "wrong-password", None).await;
    let ips: Vec<String> = sqlx::query_scalar("SELECT ip FROM events WHERE kind = 'login.failed'")
        .fetch_all(plain.app.store.pool())
        .await
        .unwrap();
    assert_eq!(ips, ["127.0.0.1"]);

    let proxied = spawn_with(db, trusting_loopback).await;
    login_from(&proxied, "10.9.8.7, 203.0.113.5", "admin", "wrong-password", None).await;
    let ips: Vec<String> = sqlx::query_scalar("SELECT ip FROM events WHERE kind = 'login.failed'")
        .fetch_all(proxied.app.store.pool())
        .await
        .unwrap();
    assert_eq!(ips, ["203.0.113.5"], "the right-most address that is not a trusted proxy");
}

async fn old_attempts_are_purged_but_known_addresses_are_kept(db: Db) {
    use gatehouse::store::AttemptStore as _;
    let t = spawn(db).await;
    let now = unix_now();
    for (outcome, age) in [(2, 2 * 86_400), (2, 600), (1, 2 * 86_400), (1, 40 * 86_400)] {
        t.sql(&format!(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at) VALUES ('bob', '192.0.2.1', {outcome}, {})",
            now - age
        ))
        .await;
    }
    t.app.store.purge_attempts(now).await.unwrap();
    let left: Vec<(i64, i64)> = sqlx::query_as("SELECT outcome, at FROM auth_attempts ORDER BY at")
        .fetch_all(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(left, [(1, now - 2 * 86_400), (2, now - 600)], "a recent failure and a 2-day-old success stay");
}

on_both_databases!(
    old_attempts_are_purged_but_known_addresses_are_kept,
    wrong_passwords_meet_growing_delays,
    at_most_100_failures_per_account_per_hour,
    a_flood_from_many_addresses_does_not_lock_the_owner_out,
    a_sync_app_with_the_old_password_does_not_lock_out_its_owner,
    forwarded_for_is_believed_only_from_trusted_proxies,
);
