//! Helpers for the account-lifecycle and invariant tests: a server with passkeys on and
//! a frozen clock, a real software authenticator (`SoftPasskey`), TOTP setups through
//! the API, and the invariants of the account model checked on the database itself.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gatehouse::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use crate::common::{Db, Reply, TestApp, oathtool, spawn_with_clock, unix_now};

pub const ORIGIN: &str = "http://localhost:2342";

/// A server whose passkeys work (public URL set) and whose clock moves only when told.
pub async fn spawn_pk(db: Db) -> (TestApp, ManualClock) {
    let clock = ManualClock::at(unix_now());
    let t = spawn_with_clock(db, &clock, |s| s.public_url = Some(Url::parse(ORIGIN).unwrap())).await;
    (t, clock)
}

/// An authenticator with its one credential.
pub struct Key {
    soft: SoftPasskey,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
}

impl Key {
    pub fn new() -> Self {
        Key { soft: SoftPasskey::new(true), credential_id: Vec::new(), user_handle: Vec::new() }
    }
}

/// Starts a passkey registration from `token`'s session.
pub async fn register_start(t: &TestApp, uid: &str, token: &str, password: &str) -> Reply {
    let path = format!("/api/v1/users/{uid}/passkeys/register/start");
    t.call(Method::POST, &path, Some(token), Some(json!({"name": "Key", "password": password}))).await
}

/// Lets `key` answer a started registration and sends the answer from `token`.
pub async fn register_finish(t: &TestApp, uid: &str, token: &str, key: &mut Key, start: &Reply) -> Reply {
    let options: CreationChallengeResponse = serde_json::from_value(start.body["options"].clone()).unwrap();
    key.user_handle = options.public_key.user.id.clone();
    let credential = key.soft.do_registration(Url::parse(ORIGIN).unwrap(), options).unwrap();
    key.credential_id = credential.raw_id.clone();
    let body = json!({"challenge_id": start.body["challenge_id"], "credential": credential});
    t.call(Method::POST, &format!("/api/v1/users/{uid}/passkeys/register/finish"), Some(token), Some(body)).await
}

/// Registers `key`; returns the finish reply (its `passkey.id`, and `recovery_code` for
/// a first factor).
pub async fn register(t: &TestApp, uid: &str, token: &str, password: &str, key: &mut Key) -> Reply {
    let start = register_start(t, uid, token, password).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    register_finish(t, uid, token, key, &start).await
}

pub async fn activate_passkey(t: &TestApp, uid: &str, token: &str, id: &str) -> Reply {
    t.call(Method::POST, &format!("/api/v1/users/{uid}/passkeys/{id}/activate"), Some(token), None).await
}

/// A passwordless login with `key` (the test plays the discoverable authenticator).
pub async fn passwordless(t: &TestApp, key: &mut Key) -> Reply {
    let r = t.call(Method::POST, "/api/v1/session/passkey/start", None, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut options: RequestChallengeResponse = serde_json::from_value(r.body["options"].clone()).unwrap();
    options.public_key.allow_credentials =
        vec![AllowCredentials { type_: "public-key".into(), id: key.credential_id.clone(), transports: None }];
    let mut assertion = key.soft.do_authentication(Url::parse(ORIGIN).unwrap(), options).unwrap();
    assertion.response.user_handle = Some(key.user_handle.clone());
    let body = json!({"challenge_id": r.body["challenge_id"], "credential": assertion});
    t.call(Method::POST, "/api/v1/session/passkey/finish", None, Some(body)).await
}

/// Starts and confirms a TOTP setup; returns (key, confirm reply).
pub async fn totp_confirmed(
    t: &TestApp,
    clock: &ManualClock,
    uid: &str,
    token: &str,
    password: &str,
) -> (String, Reply) {
    let base = format!("/api/v1/users/{uid}/passcode");
    let start = t.call(Method::POST, &base, Some(token), Some(json!({"type": "totp", "password": password}))).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let key = start.body["secret"].as_str().unwrap().to_owned();
    clock.advance(30);
    let code = oathtool(&key, t.app.now());
    let confirm = t.call(Method::POST, &format!("{base}/confirm"), Some(token), Some(json!({"code": code}))).await;
    (key, confirm)
}

pub async fn totp_activate(t: &TestApp, uid: &str, token: &str) -> Reply {
    t.call(Method::POST, &format!("/api/v1/users/{uid}/passcode/activate"), Some(token), None).await
}

pub fn token_of(r: &Reply) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// Every way the stored account model can be impossible, as readable lines; empty when
/// all invariants hold. Read from the database itself, not through the server.
pub async fn violations(t: &TestApp) -> Vec<String> {
    let pool = t.app.store.pool();
    let checks: &[(&str, &str)] = &[
        (
            "2FA is on without an active factor",
            "SELECT uid FROM users u WHERE deleted_at IS NULL AND auth_method = '2fa' \
             AND NOT EXISTS (SELECT 1 FROM passcodes p WHERE p.user_uid = u.uid AND p.activated_at IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM passkeys k WHERE k.user_uid = u.uid AND k.activated_at IS NOT NULL)",
        ),
        (
            "an active factor while 2FA is off",
            "SELECT uid FROM users u WHERE auth_method <> '2fa' AND (\
             EXISTS (SELECT 1 FROM passcodes p WHERE p.user_uid = u.uid AND p.activated_at IS NOT NULL) \
             OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_uid = u.uid AND k.activated_at IS NOT NULL))",
        ),
        (
            "a recovery code while 2FA is off",
            "SELECT uid FROM users u WHERE auth_method <> '2fa' \
             AND EXISTS (SELECT 1 FROM recovery_codes r WHERE r.user_uid = u.uid)",
        ),
        (
            "2FA is on without a recovery code",
            "SELECT uid FROM users u WHERE deleted_at IS NULL AND auth_method = '2fa' \
             AND NOT EXISTS (SELECT 1 FROM recovery_codes r WHERE r.user_uid = u.uid)",
        ),
        (
            "more than one passkey waiting for activation",
            "SELECT user_uid FROM passkeys WHERE activated_at IS NULL GROUP BY user_uid HAVING COUNT(*) > 1",
        ),
        (
            "a TOTP setup and a waiting passkey pending at once",
            "SELECT p.user_uid FROM passcodes p JOIN passkeys k ON k.user_uid = p.user_uid \
             WHERE p.activated_at IS NULL AND k.activated_at IS NULL",
        ),
        (
            "a passkey waiting for activation while 2FA is on",
            "SELECT k.user_uid FROM passkeys k JOIN users u ON u.uid = k.user_uid \
             WHERE k.activated_at IS NULL AND u.auth_method = '2fa'",
        ),
        (
            "a waiting passkey without its recovery code, or an active one with one",
            "SELECT user_uid FROM passkeys WHERE (activated_at IS NULL AND pending_recovery_hash IS NULL) \
             OR (activated_at IS NOT NULL AND pending_recovery_hash IS NOT NULL)",
        ),
        (
            "an active authenticator that still holds a setup's recovery code",
            "SELECT user_uid FROM passcodes WHERE activated_at IS NOT NULL AND recovery_hash IS NOT NULL",
        ),
        (
            "a deleted account keeps credentials",
            "SELECT uid FROM users u WHERE deleted_at IS NOT NULL AND (\
             EXISTS (SELECT 1 FROM sessions s WHERE s.user_uid = u.uid) \
             OR EXISTS (SELECT 1 FROM passcodes p WHERE p.user_uid = u.uid) \
             OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_uid = u.uid) \
             OR EXISTS (SELECT 1 FROM recovery_codes r WHERE r.user_uid = u.uid) \
             OR EXISTS (SELECT 1 FROM webauthn_challenges c WHERE c.user_uid = u.uid))",
        ),
        (
            "a disabled account keeps sessions",
            "SELECT uid FROM users u WHERE can_login = 0 AND EXISTS (SELECT 1 FROM sessions s WHERE s.user_uid = u.uid)",
        ),
        (
            "a token of a disabled or missing client",
            "SELECT id FROM sessions s WHERE kind = 'client' AND NOT EXISTS \
             (SELECT 1 FROM clients c WHERE c.client_id = s.client_id AND c.enabled = 1)",
        ),
    ];
    let mut found = Vec::new();
    for (what, sql) in checks {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(*sql))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        for r in rows {
            found.push(format!("{what}: {r}"));
        }
    }
    // A client's token never grants more than the client.
    let tokens: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.scope, c.scope FROM sessions s JOIN clients c ON c.client_id = s.client_id WHERE s.kind = 'client'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (token, client) in tokens {
        let (t_scope, c_scope) = (token.parse::<gatehouse::domain::scope::Scope>(), client.parse());
        if !matches!((&t_scope, &c_scope), (Ok(t), Ok(c)) if t.within(c)) {
            found.push(format!("a client token with scope {token:?} beyond its client's {client:?}"));
        }
    }
    found
}

/// Asserts [`violations`] finds nothing.
pub async fn assert_consistent(t: &TestApp, context: &str) {
    let v = violations(t).await;
    assert!(v.is_empty(), "{context}: {v:#?}");
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}
