//! Passkeys (issue 12) end to end over HTTP, on SQLite and PostgreSQL, with a real
//! software authenticator (`webauthn-authenticator-rs`'s `SoftPasskey`: real keys,
//! real signatures). Time is a `ManualClock`, so expiry needs no sleeping.
//!
//! `SoftPasskey` keeps no resident credentials: for a passwordless login the test
//! plays the part of a discoverable authenticator — it names the credential the
//! authenticator holds and returns the user handle it was created with (the handle is
//! not signed; a real discoverable key sends it the same way).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, Reply, TestApp, oathtool, spawn, spawn_with_clock, stdout, unix_now};
use gatehouse::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

const ORIGIN: &str = "http://localhost:2342";
const PASSWORD: &str = "bob-password-1";

/// A user's authenticator, with what it remembers about its one credential.
struct Key {
    soft: SoftPasskey,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
}

impl Key {
    fn new() -> Self {
        // `true`: the soft key reports user verification (a PIN or fingerprint).
        Key { soft: SoftPasskey::new(true), credential_id: Vec::new(), user_handle: Vec::new() }
    }
}

async fn spawn_pk(db: Db) -> (TestApp, ManualClock) {
    let clock = ManualClock::at(unix_now());
    let t = spawn_with_clock(db, &clock, |s| s.public_url = Some(Url::parse(ORIGIN).unwrap())).await;
    (t, clock)
}

struct Bob {
    uid: String,
    token: String,
}

async fn bob(t: &TestApp, name: &str) -> Bob {
    let uid = t.create_user(name, PASSWORD, json!({"webdav": true})).await["uid"].as_str().unwrap().to_owned();
    let token = t.login(name, PASSWORD).await;
    Bob { uid, token }
}

/// Registers a passkey through the API as the browser would; returns the finish reply.
async fn register(t: &TestApp, who: &Bob, key: &mut Key, name: &str) -> Reply {
    let base = format!("/api/v1/users/{}/passkeys/register", who.uid);
    let start = t
        .call(
            Method::POST,
            &format!("{base}/start"),
            Some(&who.token),
            Some(json!({"name": name, "password": PASSWORD})),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    assert_eq!(start.body["options"]["publicKey"]["attestation"], "none");
    assert_eq!(start.body["options"]["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let options: CreationChallengeResponse = serde_json::from_value(start.body["options"].clone()).unwrap();
    key.user_handle = options.public_key.user.id.clone();
    let credential = key.soft.do_registration(Url::parse(ORIGIN).unwrap(), options).unwrap();
    key.credential_id = credential.raw_id.clone();
    let body = json!({"challenge_id": start.body["challenge_id"], "credential": credential});
    t.call(Method::POST, &format!("{base}/finish"), Some(&who.token), Some(body)).await
}

/// Registers and activates the account's first passkey; returns the recovery code.
async fn first_passkey(t: &TestApp, who: &Bob, key: &mut Key) -> String {
    let done = register(t, who, key, "Laptop").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let id = done.body["passkey"]["id"].as_str().unwrap();
    let activate = format!("/api/v1/users/{}/passkeys/{id}/activate", who.uid);
    let r = t.call(Method::POST, &activate, Some(&who.token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    done.body["recovery_code"].as_str().unwrap().to_owned()
}

/// Starts a login with a passkey: second factor with a password, else passwordless.
async fn login_start(t: &TestApp, username: Option<&str>) -> (String, RequestChallengeResponse) {
    let body = match username {
        Some(u) => json!({"username": u, "password": PASSWORD}),
        None => json!({}),
    };
    let r = t.call(Method::POST, "/api/v1/session/passkey/start", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (r.body["challenge_id"].as_str().unwrap().to_owned(), serde_json::from_value(r.body["options"].clone()).unwrap())
}

/// The authenticator's answer to `options` at `origin`, through the client's checks.
fn sign(key: &mut Key, origin: &str, mut options: RequestChallengeResponse) -> Value {
    let discoverable = options.public_key.allow_credentials.is_empty();
    if discoverable {
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: key.credential_id.clone(), transports: None }];
    }
    let mut assertion = key.soft.do_authentication(Url::parse(origin).unwrap(), options).unwrap();
    if discoverable {
        assertion.response.user_handle = Some(key.user_handle.clone());
    }
    serde_json::to_value(assertion).unwrap()
}

async fn finish(t: &TestApp, challenge_id: &str, credential: &Value) -> Reply {
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    t.call(Method::POST, "/api/v1/session/passkey/finish", None, Some(body)).await
}

async fn events(t: &TestApp, uid: &str) -> Vec<(String, String)> {
    let admin = t.admin_token().await;
    let r = t.get(&format!("/api/v1/users/{uid}/events"), &admin).await;
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().into(), e["detail"].as_str().unwrap().into()))
        .collect()
}

fn assert_refused(r: &Reply) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.error(), "invalid passkey", "{}", r.text);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(r.body.get("access_token").is_none());
}

async fn the_first_passkey_turns_2fa_on_after_the_recovery_code_is_saved(db: Db) {
    let (t, clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let list = t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &bob.token).await;
    assert_eq!(list.body["available"], true);
    assert_eq!(list.body["rp_id"], "localhost");

    let mut key = Key::new();
    let done = register(&t, &bob, &mut key, "Laptop").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["passkey"]["active"], false);
    assert_eq!(done.body["passkey"]["rp_id"], "localhost", "the credential remembers its relying party");
    let recovery = done.body["recovery_code"].as_str().unwrap().to_owned();
    // Not active yet: the password alone still logs in, and nothing is listed.
    assert_eq!(t.login_reply("bob", PASSWORD).await.status, StatusCode::OK);
    let other = t.login("bob", PASSWORD).await;
    let id = done.body["passkey"]["id"].as_str().unwrap();
    let r = t
        .call(Method::POST, &format!("/api/v1/users/{}/passkeys/{id}/activate", bob.uid), Some(&bob.token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["active"], true);
    assert_eq!(t.get("/api/v1/session", &other).await.status, StatusCode::UNAUTHORIZED, "other web sessions end");
    assert_eq!(t.get("/api/v1/session", &bob.token).await.body["user"]["auth_method"], "2fa");

    let need = t.login_reply("bob", PASSWORD).await;
    assert_eq!(need.status, StatusCode::UNAUTHORIZED);
    assert_eq!(need.error(), "passcode required");
    assert_eq!(need.body["methods"], json!(["passkey", "recovery"]));

    // A second passkey, a minute later, keeps the recovery code and is active at once.
    clock.advance(60);
    let mut spare = Key::new();
    let second = register(&t, &bob, &mut spare, "Phone").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert!(second.body.get("recovery_code").is_none());
    assert_eq!(second.body["passkey"]["active"], true);
    let list = t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &bob.token).await;
    let names: Vec<_> = list.body["passkeys"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, [json!("Laptop"), json!("Phone")]);

    // The one recovery code still works, and disables 2FA with every factor.
    let r = t.login_with_code("bob", PASSWORD, &recovery).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["notice"].as_str().unwrap().contains("disabled"));
    assert_eq!(r.body["user"]["auth_method"], "default");
    let token = r.body["access_token"].as_str().unwrap();
    assert_eq!(t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), token).await.body["passkeys"], json!([]));
    let kinds: Vec<_> = events(&t, &bob.uid).await.into_iter().map(|(k, _)| k).collect();
    for kind in ["passkey.added", "2fa.enabled", "2fa.recovery_used", "2fa.disabled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn a_passkey_is_the_second_factor_after_the_password(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;

    let wrong = t
        .call(
            Method::POST,
            "/api/v1/session/passkey/start",
            None,
            Some(json!({"username": "bob", "password": "nope-nope"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error(), "invalid credentials");

    let (challenge, options) = login_start(&t, Some("bob")).await;
    assert_eq!(options.public_key.allow_credentials.len(), 1, "bob's passkey is offered");
    let assertion = sign(&mut key, ORIGIN, options);
    let r = finish(&t, &challenge, &assertion).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["user"]["username"], "bob");
    assert!(r.headers.get("set-cookie").is_some(), "the same web session as a password login");
    let me = t.get("/api/v1/session", r.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.body["kind"], "web");

    let list = t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &me_token(&r)).await;
    assert!(list.body["passkeys"][0]["last_used_at"].is_string(), "{}", list.text);
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "login.ok" && d == "password and passkey"), "{log:?}");
    assert!(log.iter().any(|(k, d)| k == "passkey.used" && d == "Laptop"), "{log:?}");
    // A six-digit code is no way in for an account without TOTP.
    assert_eq!(t.login_with_code("bob", PASSWORD, "123456").await.error(), "invalid passcode");
}

fn me_token(r: &Reply) -> String {
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn passwordless_login_with_a_discoverable_passkey(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;

    let (challenge, options) = login_start(&t, None).await;
    assert!(options.public_key.allow_credentials.is_empty(), "the authenticator chooses the account");
    assert_eq!(serde_json::to_value(options.public_key.user_verification).unwrap(), "required");
    let r = finish(&t, &challenge, &sign(&mut key, ORIGIN, options)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["user"]["username"], "bob");
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "login.ok" && d == "passkey"), "{log:?}");

    // Without user verification (the key was asked only for presence), refused.
    let (challenge, mut options) = login_start(&t, None).await;
    options.public_key.user_verification = webauthn_rs_proto::UserVerificationPolicy::Preferred;
    assert_refused(&finish(&t, &challenge, &sign(&mut key, ORIGIN, options)).await);
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "login.failed" && d.contains("user not verified")), "{log:?}");
    // A malformed credential is a bad input.
    let (challenge, _) = login_start(&t, None).await;
    let r = finish(&t, &challenge, &json!({"id": 5})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

async fn wrong_origin_and_wrong_relying_party_are_refused(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;

    // A phishing page at another origin relays the real options (a client that skips
    // the browser's origin check): the signed client data names the wrong origin.
    let (challenge, options) = login_start(&t, Some("bob")).await;
    let evil = AuthenticatorBackend::perform_auth(
        &mut key.soft,
        Url::parse("https://evil.example").unwrap(),
        options.public_key,
        60_000,
    )
    .unwrap();
    assert_refused(&finish(&t, &challenge, &serde_json::to_value(evil).unwrap()).await);

    // The right origin, but the authenticator signed for another relying party.
    let (challenge, mut options) = login_start(&t, Some("bob")).await;
    options.public_key.rp_id = "evil.example".into();
    let other_rp =
        AuthenticatorBackend::perform_auth(&mut key.soft, Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
            .unwrap();
    assert_refused(&finish(&t, &challenge, &serde_json::to_value(other_rp).unwrap()).await);

    // A server whose public URL names another site does not offer bob's localhost key.
    let elsewhere = t.sibling_at("https://photos.example.com").await;
    let r = elsewhere
        .call(
            Method::POST,
            "/api/v1/session/passkey/start",
            None,
            Some(json!({"username": "bob", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "login.failed" && d.contains("wrong origin")), "{log:?}");
    assert!(log.iter().any(|(k, d)| k == "login.failed" && d.contains("wrong relying party")), "{log:?}");
}

async fn challenges_are_single_use_and_expire(db: Db) {
    let (t, clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;

    // Replayed: the same assertion twice.
    let (challenge, options) = login_start(&t, Some("bob")).await;
    let assertion = sign(&mut key, ORIGIN, options);
    assert_eq!(finish(&t, &challenge, &assertion).await.status, StatusCode::OK);
    assert_refused(&finish(&t, &challenge, &assertion).await);
    // Replayed against a fresh challenge: the signature is over the old one.
    let (fresh, _) = login_start(&t, Some("bob")).await;
    assert_refused(&finish(&t, &fresh, &assertion).await);

    // Expired: answered after five minutes.
    let (challenge, options) = login_start(&t, None).await;
    let late = sign(&mut key, ORIGIN, options);
    clock.advance(5 * 60 + 1);
    assert_refused(&finish(&t, &challenge, &late).await);
    // Unknown or nonsense challenge ids.
    assert_refused(&finish(&t, "not-a-challenge-id-at-all", &late).await);
    assert_refused(&finish(&t, "", &late).await);

    // A registration challenge is not a login challenge, and is used up by a try.
    let start = t
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/passkeys/register/start", bob.uid),
            Some(&bob.token),
            Some(json!({"name": "x", "password": PASSWORD})),
        )
        .await;
    let reg_challenge = start.body["challenge_id"].as_str().unwrap();
    assert_refused(&finish(&t, reg_challenge, &late).await);
    let options: CreationChallengeResponse = serde_json::from_value(start.body["options"].clone()).unwrap();
    let credential = Key::new().soft.do_registration(Url::parse(ORIGIN).unwrap(), options).unwrap();
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/passkeys/register/finish", bob.uid),
            Some(&bob.token),
            Some(json!({"challenge_id": reg_challenge, "credential": credential})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.error(), "invalid passkey");
}

async fn another_users_passkey_is_refused(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let carol = bob_named(&t, "carol").await;
    let mut bobs = Key::new();
    let mut carols = Key::new();
    first_passkey(&t, &bob, &mut bobs).await;
    first_passkey(&t, &carol, &mut carols).await;

    // Bob's password, then carol's key answering bob's challenge.
    let (challenge, mut options) = login_start(&t, Some("bob")).await;
    options.public_key.allow_credentials =
        vec![AllowCredentials { type_: "public-key".into(), id: carols.credential_id.clone(), transports: None }];
    let r = finish(&t, &challenge, &sign(&mut carols, ORIGIN, options)).await;
    assert_refused(&r);
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "login.failed" && d.contains("not registered to this account")), "{log:?}");

    // Passwordless with carol's key but bob's user handle: refused too.
    let (challenge, options) = login_start(&t, None).await;
    carols.user_handle.clone_from(&bobs.user_handle);
    assert_refused(&finish(&t, &challenge, &sign(&mut carols, ORIGIN, options)).await);
}

async fn bob_named(t: &TestApp, name: &str) -> Bob {
    bob(t, name).await
}

async fn a_signature_counter_that_goes_backwards_is_refused(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;

    // Two logins begun; the key signs the first, then the second (counter 1, then 2).
    let (first, options_1) = login_start(&t, Some("bob")).await;
    let (second, options_2) = login_start(&t, Some("bob")).await;
    let early = sign(&mut key, ORIGIN, options_1);
    let later = sign(&mut key, ORIGIN, options_2);
    assert_eq!(finish(&t, &second, &later).await.status, StatusCode::OK);
    // The earlier signature now shows a lower counter than the server has seen: as if
    // a copy of the key were used.
    let r = finish(&t, &first, &early).await;
    assert_refused(&r);
    assert!(r.body["message"].as_str().unwrap().contains("cloned"), "{}", r.text);
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "passkey.refused" && d.contains("counter")), "{log:?}");
    let audit = t.cli(&["audit", "logins", "bob"]);
    assert!(stdout(&audit).contains("passkey.refused"), "{}", stdout(&audit));

    // The same on a passwordless login (the stored credential's counter is checked).
    let (first, options_1) = login_start(&t, None).await;
    let (second, options_2) = login_start(&t, None).await;
    let early = sign(&mut key, ORIGIN, options_1);
    let later = sign(&mut key, ORIGIN, options_2);
    assert_eq!(finish(&t, &second, &later).await.status, StatusCode::OK);
    assert_refused(&finish(&t, &first, &early).await);
}

async fn a_login_started_on_one_instance_finishes_on_another(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    let other = t.sibling().await;

    let (challenge, options) = login_start(&t, Some("bob")).await;
    let r = finish(&other, &challenge, &sign(&mut key, ORIGIN, options)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (challenge, options) = login_start(&other, None).await;
    let assertion = sign(&mut key, ORIGIN, options);
    assert_eq!(finish(&t, &challenge, &assertion).await.status, StatusCode::OK);
    assert_refused(&finish(&other, &challenge, &assertion).await);
}

async fn failed_assertions_are_throttled_like_passwords(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    for _ in 0..5 {
        let (challenge, options) = login_start(&t, Some("bob")).await;
        let evil = AuthenticatorBackend::perform_auth(
            &mut key.soft,
            Url::parse("https://evil.example").unwrap(),
            options.public_key,
            60_000,
        )
        .unwrap();
        assert_refused(&finish(&t, &challenge, &serde_json::to_value(evil).unwrap()).await);
    }
    let (challenge, options) = login_start(&t, None).await;
    let r = finish(&t, &challenge, &sign(&mut key, ORIGIN, options)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());
}

async fn rename_and_remove_with_the_password_and_the_last_turns_2fa_off(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    let base = format!("/api/v1/users/{}/passkeys", bob.uid);
    let id = t.get(&base, &bob.token).await.body["passkeys"][0]["id"].as_str().unwrap().to_owned();

    let r =
        t.call(Method::PUT, &format!("{base}/{id}"), Some(&bob.token), Some(json!({"name": "  Work laptop "}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.get(&base, &bob.token).await.body["passkeys"][0]["name"], "Work laptop");
    let r = t.call(Method::PUT, &format!("{base}/{id}"), Some(&bob.token), Some(json!({"name": " "}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t.call(Method::PUT, &format!("{base}/pknope"), Some(&bob.token), Some(json!({"name": "x"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Someone else (even an admin) cannot manage bob's passkeys.
    let admin = t.admin_token().await;
    assert_eq!(t.get(&base, &admin).await.status, StatusCode::FORBIDDEN);

    let r =
        t.call(Method::DELETE, &format!("{base}/{id}"), Some(&bob.token), Some(json!({"password": "wrong-one"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error(), "invalid password");
    let r =
        t.call(Method::DELETE, &format!("{base}/{id}"), Some(&bob.token), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "2fa disabled");
    assert_eq!(t.login_reply("bob", PASSWORD).await.status, StatusCode::OK, "2FA is off with the last factor");
    let kinds: Vec<_> = events(&t, &bob.uid).await.into_iter().map(|(k, _)| k).collect();
    for kind in ["passkey.renamed", "passkey.removed", "2fa.disabled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn totp_and_passkeys_share_one_recovery_code(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let mut bob = bob(&t, "bob").await;
    let totp = t.enable_2fa("bob", PASSWORD).await;
    bob.token = totp.token.clone();
    let mut key = Key::new();
    let r = register(&t, &bob, &mut key, "Laptop").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("recovery_code").is_none(), "the TOTP recovery code stays the account's");
    assert_eq!(t.login_reply("bob", PASSWORD).await.body["methods"], json!(["passkey", "totp", "recovery"]));

    // Removing TOTP leaves 2FA on with the passkey.
    let off = t
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/passcode/deactivate", bob.uid),
            Some(&bob.token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.body["status"], "authenticator removed");
    assert_eq!(t.login_reply("bob", PASSWORD).await.body["methods"], json!(["passkey", "recovery"]));
    let basic = t.get_basic("/originals/", "bob", PASSWORD).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED, "no account password over WebDAV with a second factor");

    // TOTP added later, as a second factor: no new recovery code; then activation.
    let base = format!("/api/v1/users/{}/passcode", bob.uid);
    let start =
        t.call(Method::POST, &base, Some(&bob.token), Some(json!({"type": "totp", "password": PASSWORD}))).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let code = oathtool(start.body["secret"].as_str().unwrap(), t.app.now() + 30);
    let confirm = t.call(Method::POST, &format!("{base}/confirm"), Some(&bob.token), Some(json!({"code": code}))).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert!(confirm.body.get("recovery_code").is_none());
    let act = t.call(Method::POST, &format!("{base}/activate"), Some(&bob.token), None).await;
    assert_eq!(act.status, StatusCode::OK, "{}", act.text);

    // The original recovery code is still the one.
    let r = t.login_with_code("bob", PASSWORD, &totp.recovery_code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["user"]["auth_method"], "default");
}

async fn admin_disable_2fa_removes_passkeys_and_the_cli_shows_factors(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    let show = t.cli(&["users", "show", "bob"]);
    assert!(stdout(&show).contains("1 passkey"), "{}", stdout(&show));
    let ls = t.cli(&["users", "ls"]);
    assert!(stdout(&ls).contains("1 passkey"), "{}", stdout(&ls));

    let off = t.cli(&["users", "mod", "--disable-2fa", "bob"]);
    assert!(off.status.success(), "{}", common::stderr(&off));
    assert_eq!(t.login_reply("bob", PASSWORD).await.status, StatusCode::OK);
    let token = t.login("bob", PASSWORD).await;
    assert_eq!(t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &token).await.body["passkeys"], json!([]));
    let log = events(&t, &bob.uid).await;
    assert!(log.iter().any(|(k, d)| k == "2fa.disabled" && d.contains("cli")), "{log:?}");
    let (challenge, options) = login_start(&t, None).await;
    assert_refused(&finish(&t, &challenge, &sign(&mut key, ORIGIN, options)).await);
}

async fn passkeys_are_off_without_a_secure_public_url(db: Db) {
    let t = spawn(db).await;
    let bob = bob(&t, "bob").await;
    let list = t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &bob.token).await;
    assert_eq!(list.body["available"], false);
    assert!(list.body["reason"].as_str().unwrap().contains("--public-url"));
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/passkeys/register/start", bob.uid),
            Some(&bob.token),
            Some(json!({"name": "x", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error(), "passkeys unavailable");
    let r = t.call(Method::POST, "/api/v1/session/passkey/start", None, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let insecure = t.sibling_at("http://photos.example.com").await;
    let r = insecure.call(Method::POST, "/api/v1/session/passkey/start", None, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["message"].as_str().unwrap().contains("https://"), "{}", r.text);
}

/// What an attacker can send changes nothing: forged `Host` and forwarding headers do
/// not move the relying party away from the public URL; a credential id longer than
/// 1,023 bytes and credentials that are not credentials are refused with a 4xx and
/// leave no passkey behind.
async fn forged_headers_and_hostile_credentials_change_nothing(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let bob = bob(&t, "bob").await;
    let forged = |req: reqwest::RequestBuilder| {
        req.header("Host", "evil.example")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Forwarded-Proto", "https")
            .header("Forwarded", "host=evil.example;proto=https")
            .header("Origin", "https://evil.example")
    };
    let base = format!("/api/v1/users/{}/passkeys/register", bob.uid);
    let start = forged(t.client.post(t.url(&format!("{base}/start"))))
        .bearer_auth(&bob.token)
        .json(&json!({"name": "Laptop", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::OK);
    let start: Value = start.json().await.unwrap();
    assert_eq!(start["options"]["publicKey"]["rp"]["id"], "localhost", "{start}");

    // A genuine registration whose credential id is made 2,000 bytes long.
    let options: CreationChallengeResponse = serde_json::from_value(start["options"].clone()).unwrap();
    let mut credential =
        serde_json::to_value(Key::new().soft.do_registration(Url::parse(ORIGIN).unwrap(), options).unwrap()).unwrap();
    let long = data_encoding::BASE64URL_NOPAD.encode(&[7u8; 2000]);
    credential["id"] = json!(long);
    credential["rawId"] = json!(long);
    let body = json!({"challenge_id": start["challenge_id"], "credential": credential});
    let r = t.call(Method::POST, &format!("{base}/finish"), Some(&bob.token), Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    for nonsense in [json!({"id": 1}), json!("x"), json!({}), json!(null)] {
        let r = t
            .call(
                Method::POST,
                &format!("{base}/start"),
                Some(&bob.token),
                Some(json!({"name": "K", "password": PASSWORD})),
            )
            .await;
        let body = json!({"challenge_id": r.body["challenge_id"], "credential": nonsense});
        let r = t.call(Method::POST, &format!("{base}/finish"), Some(&bob.token), Some(body)).await;
        assert!(r.status.is_client_error(), "{nonsense}: {} {}", r.status, r.text);
        let r = finish(&t, "whatever", &nonsense).await;
        assert!(r.status.is_client_error(), "login with {nonsense}: {} {}", r.status, r.text);
    }
    let list = t.get(&format!("/api/v1/users/{}/passkeys", bob.uid), &bob.token).await;
    assert_eq!(list.body["passkeys"], json!([]), "{}", list.text);

    // Login options, asked with the same forged headers, name the public URL's site.
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    let r = forged(t.client.post(t.url("/api/v1/session/passkey/start")))
        .json(&json!({"username": "bob", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["options"]["publicKey"]["rpId"], "localhost", "{r}");
}

on_both_databases!(
    forged_headers_and_hostile_credentials_change_nothing,
    the_first_passkey_turns_2fa_on_after_the_recovery_code_is_saved,
    a_passkey_is_the_second_factor_after_the_password,
    passwordless_login_with_a_discoverable_passkey,
    wrong_origin_and_wrong_relying_party_are_refused,
    challenges_are_single_use_and_expire,
    another_users_passkey_is_refused,
    a_signature_counter_that_goes_backwards_is_refused,
    a_login_started_on_one_instance_finishes_on_another,
    failed_assertions_are_throttled_like_passwords,
    rename_and_remove_with_the_password_and_the_last_turns_2fa_off,
    totp_and_passkeys_share_one_recovery_code,
    admin_disable_2fa_removes_passkeys_and_the_cli_shows_factors,
    passkeys_are_off_without_a_secure_public_url,
    a_flood_does_not_lock_the_owner_out_of_passkey_login,
);

/// A passkey login as a browser at `ip` sends it, with the device cookie if it has one.
async fn passkey_login_at(t: &TestApp, key: &mut Key, ip: &str, device: Option<&str>) -> Reply {
    let with = |req: reqwest::RequestBuilder| {
        let req = req.header("X-Forwarded-For", ip);
        match device {
            Some(d) => req.header("Cookie", format!("gatehouse_device={d}")),
            None => req,
        }
    };
    let start = with(t.client.post(t.url("/api/v1/session/passkey/start"))).json(&json!({}));
    let start = Reply::read(start.send().await.unwrap()).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let options = serde_json::from_value(start.body["options"].clone()).unwrap();
    let body = json!({"challenge_id": start.body["challenge_id"], "credential": sign(key, ORIGIN, options)});
    let finish = with(t.client.post(t.url("/api/v1/session/passkey/finish"))).json(&body);
    Reply::read(finish.send().await.unwrap()).await
}

/// Issue 17: after a flood, "the owner's right password … got 429 — passkey login
/// too". The passkey login obeys the same decision as the password: strangers wait,
/// the owner's device and known address get in.
async fn a_flood_does_not_lock_the_owner_out_of_passkey_login(db: Db) {
    let clock = ManualClock::at(unix_now());
    let t = spawn_with_clock(db, &clock, |s| {
        s.public_url = Some(Url::parse(ORIGIN).unwrap());
        s.trusted_proxies = vec![gatehouse::config::parse_proxy("127.0.0.0/8").unwrap()];
    })
    .await;
    let bob = bob(&t, "bob").await;
    let first = t.login_reply("bob", PASSWORD).await;
    let device = first
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("gatehouse_device="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .next()
        .expect("a device cookie");
    let mut key = Key::new();
    first_passkey(&t, &bob, &mut key).await;
    let now = t.app.now();
    for i in 0..120 {
        t.sql(&format!(
            "INSERT INTO auth_attempts (account_key, ip_prefix, outcome, at) VALUES ('bob', '203.0.113.{}', 2, {now})",
            i % 250
        ))
        .await;
    }
    let stranger = passkey_login_at(&t, &mut key, "192.0.2.9", None).await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS, "{}", stranger.text);
    let device_login = passkey_login_at(&t, &mut key, "100.64.0.1", Some(&device)).await;
    assert_eq!(device_login.status, StatusCode::OK, "the owner's device: {}", device_login.text);
    let home = passkey_login_at(&t, &mut key, "127.0.0.1", None).await;
    assert_eq!(home.status, StatusCode::OK, "the owner's known address: {}", home.text);
}
