//! Two-factor authentication end to end (docs/design.md, "Enable 2FA", "Recovery code",
//! "Disable 2FA"), with the real oathtool and zbarimg.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, TestApp, oathtool, spawn, spawn_with_clock, stderr, stdout, unix_now};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn bob(t: &TestApp) -> String {
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"].as_str().unwrap().to_owned()
}

async fn setup_with_oathtool_then_login_with_a_code(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let base = format!("/api/v1/users/{uid}/passcode");
    assert_eq!(t.get(&base, &token).await.status, StatusCode::NOT_FOUND);

    let wrong = t.call(Method::POST, &base, Some(&token), Some(json!({"type": "totp", "password": "nope-nope"}))).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.error(), "invalid password");

    let start =
        t.call(Method::POST, &base, Some(&token), Some(json!({"type": "totp", "password": "bob-password-1"}))).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let key = start.body["secret"].as_str().unwrap();
    assert_eq!(key.len(), 32, "20 bytes in base32 without padding");
    assert!(!key.contains('='));
    let grouped = start.body["secret_grouped"].as_str().unwrap();
    assert_eq!(grouped.replace(' ', ""), key);
    assert!(grouped.split(' ').all(|g| g.len() == 4));
    assert_eq!(
        start.body["uri"],
        format!("otpauth://totp/gatehouse:bob?secret={key}&issuer=gatehouse&algorithm=SHA1&digits=6&period=30")
    );
    assert!(start.body["qr_code"].as_str().unwrap().starts_with("data:image/png;base64,"));
    assert!(start.body["activated_at"].is_null());
    assert!(start.body.get("recovery_code").is_none());

    // Activation before a confirmed code is refused; a wrong code is refused.
    let early = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    let bad = t.call(Method::POST, &format!("{base}/confirm"), Some(&token), Some(json!({"code": "000000"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error(), "invalid passcode");

    let now = t.app.now();
    let code = oathtool(key, now);
    let ok = t.call(Method::POST, &format!("{base}/confirm"), Some(&token), Some(json!({"code": code}))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.body["verified_at"].is_string());
    assert!(ok.body["activated_at"].is_null(), "confirming does not turn 2FA on");
    // The recovery code comes with the confirmation, before activation (the seed's order).
    let recovery = ok.body["recovery_code"].as_str().unwrap();
    assert!(recovery.replace('-', "").len() >= 16);
    assert_eq!(t.get("/api/v1/session", &token).await.body["user"]["auth_method"], "default");
    assert!(t.get(&base, &token).await.body.get("recovery_code").is_none(), "shown once");
    let other_session = t.login("bob", "bob-password-1").await;
    let active = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(active.status, StatusCode::OK);
    assert!(active.body.get("recovery_code").is_none(), "the code was shown at confirm, not again");
    assert!(active.body["activated_at"].is_string());
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::OK, "the activating session stays");
    assert_eq!(t.get("/api/v1/session", &other_session).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/session", &token).await.body["user"]["auth_method"], "2fa");
    assert!(t.get(&base, &token).await.body.get("recovery_code").is_none(), "shown once");

    // Password alone now asks for the code, without counting as a failure.
    let need = t.login_reply("bob", "bob-password-1").await;
    assert_eq!(need.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        need.body,
        json!({"error": "passcode required", "code": 32, "message": "Enter verification code", "methods": ["totp", "recovery"]})
    );
    let wrong = t.login_with_code("bob", "bob-password-1", "123456").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body,
        json!({"error": "invalid passcode", "message": "Invalid verification code, please try again"})
    );
    // The code used to confirm is spent; the next one from the app logs in.
    let replay = t.login_with_code("bob", "bob-password-1", &code).await;
    assert_eq!(replay.error(), "invalid passcode");
    let next = oathtool(key, now + 30);
    let login = t.login_with_code("bob", "bob-password-1", &next).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(login.body.get("notice").is_none());
    // A wrong password with a right code is still just invalid credentials.
    let r = t.login_with_code("bob", "wrong-password", &oathtool(key, now + 30)).await;
    assert_eq!(r.error(), "invalid credentials");

    let events = t.get(&format!("/api/v1/users/{uid}/events"), &token).await;
    let kinds: Vec<&str> = events.body.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    for expected in ["2fa.enabled", "login.passcode_required", "login.passcode_invalid", "2fa.replay_rejected"] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
}

async fn the_qr_code_decodes_to_the_otpauth_uri(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let start = t
        .call(
            Method::POST,
            &format!("/api/v1/users/{uid}/passcode"),
            Some(&token),
            Some(json!({"type": "totp", "password": "bob-password-1"})),
        )
        .await;
    let data_url = start.body["qr_code"].as_str().unwrap();
    let png = data_encoding::BASE64.decode(data_url.trim_start_matches("data:image/png;base64,").as_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qr.png");
    std::fs::write(&file, png).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&file)
        .output()
        .expect("zbarimg is installed (scripts/test installs it)");
    assert!(out.status.success(), "zbarimg: {}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), start.body["uri"].as_str().unwrap());
    assert!(start.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
}

async fn setup_can_restart_until_active_and_not_after(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let base = format!("/api/v1/users/{uid}/passcode");
    let body = json!({"type": "totp", "password": "bob-password-1"});
    let first = t.call(Method::POST, &base, Some(&token), Some(body.clone())).await;
    let second = t.call(Method::POST, &base, Some(&token), Some(body.clone())).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_ne!(first.body["secret"], second.body["secret"], "a restart makes a new secret");
    // Only the newest secret is accepted.
    let old = oathtool(first.body["secret"].as_str().unwrap(), t.app.now());
    let r = t.call(Method::POST, &format!("{base}/confirm"), Some(&token), Some(json!({"code": old}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let again = t.call(Method::POST, &base, Some(&tf.token), Some(body)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // The authenticator in force is unchanged.
    let next = oathtool(&tf.key, tf.confirmed_at + 30);
    assert_eq!(t.login_with_code("bob", "bob-password-1", &next).await.status, StatusCode::OK);
}

async fn one_code_in_twenty_parallel_logins_succeeds_once(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let attempts = (0..20).map(|_| t.login_with_code("bob", "bob-password-1", &code));
    let replies = futures_join_all(attempts).await;
    let ok = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 1, "{:?}", replies.iter().map(|r| (r.status, r.error().to_owned())).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == StatusCode::OK || r.status.is_client_error()));
}

async fn one_code_sent_to_two_instances_succeeds_once(db: Db) {
    let t = spawn(db).await;
    let other = t.sibling().await;
    bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    let attempts = (0..16).map(|i| {
        let server = if i % 2 == 0 { &t } else { &other };
        server.login_with_code("bob", "bob-password-1", &code)
    });
    let replies = futures_join_all(attempts).await;
    let ok = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 1, "{:?}", replies.iter().map(|r| (r.status, r.error().to_owned())).collect::<Vec<_>>());
}

/// `join_all` without another dependency: spawn-free, polls all futures together.
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

async fn the_recovery_code_logs_in_once_and_turns_2fa_off(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    // Case, spaces and dashes do not matter.
    let typed = tf.recovery_code.to_lowercase().replace('-', " ");
    let wrong = t.login_with_code("bob", "bob-password-1", "AAAA-BBBB-CCCC-DDDD-EEEE").await;
    assert_eq!(wrong.error(), "invalid passcode");
    let r = t.login_with_code("bob", "bob-password-1", &typed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["notice"].as_str().unwrap().contains("two-factor authentication is now disabled"));
    assert_eq!(r.body["user"]["auth_method"], "default");
    let token = r.body["access_token"].as_str().unwrap();
    assert_eq!(t.get(&format!("/api/v1/users/{uid}/passcode"), token).await.status, StatusCode::NOT_FOUND);
    let passcodes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM passcodes").fetch_one(t.app.store.pool()).await.unwrap();
    assert_eq!(passcodes, 0, "the authenticator and the used code are gone");
    t.login("bob", "bob-password-1").await;
    let events = t.get(&format!("/api/v1/users/{uid}/events"), token).await;
    let list = events.body.as_array().unwrap();
    assert!(list.iter().any(|e| e["event"] == "2fa.recovery_used"));
    assert!(list.iter().any(|e| e["event"] == "2fa.disabled" && e["actor"] == "recovery"));
}

/// Issue 18: "the losers of a parallel recovery-code race are not counted as guesses".
/// The owner submits the recovery code four times at once (a double click, a retry):
/// one login redeems it; the others either lose the race (refused, not counted) or
/// arrive after 2FA went off. No attempt is counted as a failure, and the code is
/// redeemed once.
async fn the_losers_of_a_parallel_recovery_code_race_are_not_guesses(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let replies = futures_join_all((0..4).map(|_| t.login_with_code("bob", "bob-password-1", &tf.recovery_code))).await;
    let seen: Vec<_> = replies.iter().map(|r| (r.status, r.error().to_owned())).collect();
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK || r.error() == "invalid passcode"),
        "only logins and refusals of the used code: {seen:?}"
    );
    assert!(replies.iter().any(|r| r.status == StatusCode::OK), "{seen:?}");
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_attempts WHERE outcome = 2")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(failures, 0, "no loser was counted as a guess: {seen:?}");
    let redeemed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = '2fa.recovery_used'")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(redeemed, 1, "{seen:?}");
}

async fn deactivation_needs_the_password(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let path = format!("/api/v1/users/{uid}/passcode/deactivate");
    let r = t.call(Method::POST, &path, Some(&tf.token), Some(json!({"password": "wrong-one"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.error(), "passcode required");
    let r = t.call(Method::POST, &path, Some(&tf.token), Some(json!({"password": "bob-password-1"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    t.login("bob", "bob-password-1").await;
}

async fn admins_disable_2fa_by_api_and_cli_removing_the_authenticator(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let uid = bob(&t).await;
    t.create_user("carol", "carol-password-1", json!({})).await;
    t.enable_2fa("bob", "bob-password-1").await;
    t.enable_2fa("carol", "carol-password-1").await;

    // An admin cannot set up or read another user's authenticator…
    let r = t.get(&format!("/api/v1/users/{uid}/passcode"), &admin).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // …a plain user cannot switch it off for themselves by a PUT, an admin can.
    let r = t
        .call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"auth_method": "default"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["auth_method"], "default");
    t.login("bob", "bob-password-1").await;
    let rows: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM passcodes WHERE user_uid = '{uid}'")))
            .fetch_one(t.app.store.pool())
            .await
            .unwrap();
    assert_eq!(rows, 0);

    let out = t.cli(&["users", "mod", "--disable-2fa", "carol"]);
    assert!(out.status.success(), "{}", stderr(&out));
    t.login("carol", "carol-password-1").await;
    let audit = t.cli(&["audit", "logins", "bob", "--json"]);
    let events: serde_json::Value = serde_json::from_str(&stdout(&audit)).unwrap();
    assert!(events.as_array().unwrap().iter().any(|e| e["event"] == "2fa.disabled" && e["actor"] == "user:admin"));
    let audit = t.cli(&["audit", "logins", "carol", "--json"]);
    let events: serde_json::Value = serde_json::from_str(&stdout(&audit)).unwrap();
    assert!(events.as_array().unwrap().iter().any(|e| e["event"] == "2fa.disabled" && e["actor"] == "cli"));
}

async fn secrets_are_not_stored_in_clear(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let (sealed, recovery_hash): (String, String) =
        // The recovery code is the account's (one for TOTP and passkeys alike).
        sqlx::query_as("SELECT p.secret_sealed, r.hash FROM passcodes p JOIN recovery_codes r ON r.user_uid = p.user_uid")
            .fetch_one(t.app.store.pool())
            .await
            .unwrap();
    let raw_secret = data_encoding::BASE32_NOPAD.decode(tf.key.as_bytes()).unwrap();
    assert!(!sealed.contains(&tf.key));
    assert!(!sealed.to_lowercase().contains(&data_encoding::HEXLOWER.encode(&raw_secret)));
    assert!(!sealed.contains(&data_encoding::BASE64.encode(&raw_secret)));
    assert!(recovery_hash.starts_with("$argon2id$"));
    let normalized = tf.recovery_code.replace('-', "");
    for (table, column) in [("passcodes", "secret_sealed"), ("passcodes", "kind"), ("recovery_codes", "hash")] {
        let dump: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM {table}")))
            .fetch_all(t.app.store.pool())
            .await
            .unwrap();
        assert!(dump.iter().all(|v| !v.contains(&tf.recovery_code) && !v.contains(&normalized)));
    }
    // A different secret key cannot open it: the server refuses to start.
    let mut settings = gatehouse::config::Settings::for_data_dir(t.data_dir.clone());
    settings.database_url = t.database_url.clone();
    settings.secret_key = Some("a-completely-different-key-of-32+-chars".into());
    let err = gatehouse::service::Gatehouse::open(settings).await.unwrap_err();
    assert!(err.to_string().contains("secret key does not match"));
}

async fn basic_auth_with_the_account_password_stops_when_2fa_is_on(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let basic = |pw: &str| t.client.get(t.url("/api/v1/session")).basic_auth("bob", Some(pw)).send();
    assert_eq!(basic("bob-password-1").await.unwrap().status(), StatusCode::OK);
    let r = basic("wrong-password").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm="));
    t.enable_2fa("bob", "bob-password-1").await;
    let r = common::Reply::read(basic("bob-password-1").await.unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "app password required");
    assert!(r.body["message"].as_str().unwrap().contains("create an app password"));
}

/// Starts a setup for `uid` and returns its setup key.
async fn start_setup(t: &TestApp, uid: &str, token: &str, password: &str) -> String {
    let base = format!("/api/v1/users/{uid}/passcode");
    let r = t.call(Method::POST, &base, Some(token), Some(json!({"type": "totp", "password": password}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["secret"].as_str().unwrap().to_owned()
}

/// Confirms the setup with a code for `key` at `at`; returns the recovery code.
async fn confirm_setup(t: &TestApp, uid: &str, token: &str, key: &str, at: i64) -> String {
    let path = format!("/api/v1/users/{uid}/passcode/confirm");
    let r = t.call(Method::POST, &path, Some(token), Some(json!({"code": oathtool(key, at)}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["recovery_code"].as_str().unwrap().to_owned()
}

async fn a_confirmed_but_never_activated_setup_leaves_the_account_as_it_was(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let base = format!("/api/v1/users/{uid}/passcode");
    let first_key = start_setup(&t, &uid, &token, "bob-password-1").await;
    let first_code = confirm_setup(&t, &uid, &token, &first_key, unix_now()).await;

    // The page was reloaded at the recovery-code step: nothing was activated.
    let me = t.get("/api/v1/session", &token).await;
    assert_eq!(me.body["user"]["auth_method"], "default");
    let plain = t.login_reply("bob", "bob-password-1").await;
    assert_eq!(plain.status, StatusCode::OK, "the password alone still logs in: {}", plain.text);
    assert!(plain.body.get("notice").is_none());
    let basic = t.get_basic("/api/v1/session", "bob", "bob-password-1").await;
    assert_eq!(basic.status, StatusCode::OK, "the account password still works for Basic auth");

    // Opening the dialog again starts over: a new key and, after confirming, a new code.
    let second_key = start_setup(&t, &uid, &token, "bob-password-1").await;
    assert_ne!(second_key, first_key, "a new key");
    let early = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "the old confirmation does not carry over: {}", early.text);
    let second_code = confirm_setup(&t, &uid, &token, &second_key, unix_now() + 30).await;
    assert_ne!(second_code, first_code, "a new recovery code");
    let active = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.error(), "passcode required");

    // The first setup's recovery code no longer matters; the second one works.
    let old = t.login_with_code("bob", "bob-password-1", &first_code).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(old.error(), "invalid passcode");
    let new = t.login_with_code("bob", "bob-password-1", &second_code).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);
    // The recovery code turned 2FA off, which ends the account's other sessions (issue 18).
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::UNAUTHORIZED);
    let token = new.body["access_token"].as_str().unwrap();
    let events = t.get(&format!("/api/v1/users/{uid}/events"), token).await;
    let enabled = events.body.as_array().unwrap().iter().filter(|e| e["event"] == "2fa.enabled").count();
    assert_eq!(enabled, 1, "2FA was enabled once, by the activation");
}

async fn activation_needs_a_confirmed_setup(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let activate = format!("/api/v1/users/{uid}/passcode/activate");
    let none = t.call(Method::POST, &activate, Some(&token), None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "no setup at all: {}", none.text);
    start_setup(&t, &uid, &token, "bob-password-1").await;
    let unconfirmed = t.call(Method::POST, &activate, Some(&token), None).await;
    assert_eq!(unconfirmed.status, StatusCode::CONFLICT);
    assert!(unconfirmed.body["message"].as_str().unwrap().to_lowercase().contains("confirm"), "{}", unconfirmed.text);
    assert_eq!(t.get("/api/v1/session", &token).await.body["user"]["auth_method"], "default");
    t.login("bob", "bob-password-1").await;
}

async fn a_pending_setup_expires_after_30_minutes(db: Db) {
    let clock = gatehouse::clock::ManualClock::at(unix_now());
    let t = spawn_with_clock(db, &clock, |_| {}).await;
    let uid = bob(&t).await;
    let token = t.login("bob", "bob-password-1").await;
    let base = format!("/api/v1/users/{uid}/passcode");

    // Confirmed, then left for 30 minutes: activating is refused and the setup is gone.
    let key = start_setup(&t, &uid, &token, "bob-password-1").await;
    confirm_setup(&t, &uid, &token, &key, t.app.now()).await;
    clock.advance(29 * 60);
    assert_eq!(t.get(&base, &token).await.status, StatusCode::OK, "still pending after 29 minutes");
    clock.advance(60);
    let late = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert!(late.body["message"].as_str().unwrap().contains("expired"), "{}", late.text);
    assert_eq!(t.get(&base, &token).await.status, StatusCode::NOT_FOUND, "the expired setup is removed");
    assert_eq!(t.get("/api/v1/session", &token).await.body["user"]["auth_method"], "default");
    t.login("bob", "bob-password-1").await;

    // An unconfirmed setup expires the same way: its code is no longer taken.
    let key = start_setup(&t, &uid, &token, "bob-password-1").await;
    clock.advance(31 * 60);
    let path = format!("{base}/confirm");
    let r = t.call(Method::POST, &path, Some(&token), Some(json!({"code": oathtool(&key, t.app.now())}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // Starting again works, and a prompt setup activates.
    let key = start_setup(&t, &uid, &token, "bob-password-1").await;
    confirm_setup(&t, &uid, &token, &key, t.app.now()).await;
    clock.advance(10 * 60);
    let ok = t.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // An active authenticator never expires.
    clock.advance(24 * 3600);
    assert_eq!(t.get(&base, &token).await.status, StatusCode::OK);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.error(), "passcode required");
}

on_both_databases!(
    a_confirmed_but_never_activated_setup_leaves_the_account_as_it_was,
    activation_needs_a_confirmed_setup,
    a_pending_setup_expires_after_30_minutes,
    setup_with_oathtool_then_login_with_a_code,
    the_qr_code_decodes_to_the_otpauth_uri,
    setup_can_restart_until_active_and_not_after,
    one_code_in_twenty_parallel_logins_succeeds_once,
    one_code_sent_to_two_instances_succeeds_once,
    the_recovery_code_logs_in_once_and_turns_2fa_off,
    the_losers_of_a_parallel_recovery_code_race_are_not_guesses,
    deactivation_needs_the_password,
    admins_disable_2fa_by_api_and_cli_removing_the_authenticator,
    secrets_are_not_stored_in_clear,
    basic_auth_with_the_account_password_stops_when_2fa_is_on,
);
