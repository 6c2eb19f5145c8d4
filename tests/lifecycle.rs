//! The credential-lifecycle table (README "Which action ends what", `domain::lifecycle`)
//! tested cell by cell on both databases. For every event, an account holds one of each
//! credential — two web sessions (the holder's and an intruder's), a session opened
//! with an app password, two app passwords, two passkeys, a TOTP authenticator, the
//! recovery code, a passkey registration in flight and an OAuth client's token — then
//! the event happens, and each credential is used again as an intruder would use it:
//! refused where the table says it ends, still working where it says it stays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_util;
mod common;

use account_util::{
    Key, activate_passkey, assert_consistent, passwordless, register, register_finish, register_start, spawn_pk,
    token_of, totp_activate, totp_confirmed,
};
use common::{Db, Reply, TestApp, oathtool, stderr, stdout};
use gatehouse::clock::ManualClock;
use gatehouse::domain::lifecycle::{Ends, Event, Factor, Recovery, Sessions, Tokens, ends, markdown_table};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An account holding one of every credential, and what an intruder kept of it.
struct Fixture {
    uid: String,
    username: String,
    password: String,
    /// The holder's web session (the one that acts in the holder's own events).
    mine: String,
    /// Another web session of the account, e.g. an intruder's.
    intruder: String,
    /// A session opened with app password A.
    child: String,
    app_a: (String, String),
    app_b: (String, String),
    /// The first passkey and a later one.
    k1: Key,
    k2: Key,
    k2_id: String,
    totp: String,
    recovery: String,
    /// A passkey registration started before the event, to be finished after it.
    pending: Reply,
    k3: Key,
    client_id: String,
    oauth: String,
}

fn cli_json(t: &TestApp, args: &[&str]) -> Value {
    let out = t.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

async fn app_password(t: &TestApp, f_token: &str, username: &str, password: &str, name: &str) -> (String, String) {
    let body = json!({
        "grant_type": "password", "client_name": name, "scope": "*", "expires_in": 0,
        "username": username, "password": password,
    });
    let r = t.call(Method::POST, "/api/v1/oauth/token", Some(f_token), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (r.body["session_id"].as_str().unwrap().to_owned(), r.body["access_token"].as_str().unwrap().to_owned())
}

async fn fixture(t: &TestApp, clock: &ManualClock, username: &str) -> Fixture {
    let password = format!("{username}-password-1");
    let uid = t.create_user(username, &password, json!({})).await["uid"].as_str().unwrap().to_owned();
    let s0 = t.login(username, &password).await;
    // The first passkey turns 2FA on; TOTP and a second passkey join it.
    let mut k1 = Key::new();
    let first = register(t, &uid, &s0, &password, &mut k1).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let recovery = first.body["recovery_code"].as_str().unwrap().to_owned();
    let r = activate_passkey(t, &uid, &s0, first.body["passkey"]["id"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (totp, confirm) = totp_confirmed(t, clock, &uid, &s0, &password).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert!(confirm.body.get("recovery_code").is_none(), "a later factor keeps the account's code");
    let r = totp_activate(t, &uid, &s0).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut k2 = Key::new();
    let second = register(t, &uid, &s0, &password, &mut k2).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let k2_id = second.body["passkey"]["id"].as_str().unwrap().to_owned();

    let mine = token_of(&passwordless(t, &mut k1).await);
    let intruder = token_of(&passwordless(t, &mut k2).await);
    let app_a = app_password(t, &mine, username, &password, "A").await;
    let app_b = app_password(t, &mine, username, &password, "B").await;
    let child = token_of(&t.login_reply(username, &app_a.1).await);
    let pending = register_start(t, &uid, &mine, &password).await;
    assert_eq!(pending.status, StatusCode::OK, "{}", pending.text);

    let c = cli_json(t, &["clients", "add", "-n", username, "-s", "*", "--json"]);
    let client_id = c["client_id"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", c["client_secret"].as_str().unwrap()),
    ];
    let r = Reply::read(t.client.post(t.url("/api/v1/oauth/token")).form(&form).send().await.unwrap()).await;
    let oauth = token_of(&r);
    assert_eq!(t.get("/api/v1/session", &oauth).await.body["scope"], "*");
    assert_consistent(t, "after the set-up").await;
    Fixture {
        uid,
        username: username.to_owned(),
        password,
        mine,
        intruder,
        child,
        app_a,
        app_b,
        k1,
        k2,
        k2_id,
        totp,
        recovery,
        pending,
        k3: Key::new(),
        client_id,
        oauth,
    }
}

const NEW_PASSWORD: &str = "a-new-password-9";

/// Makes `event` happen to `f`'s account the way a user, an admin or the CLI does it.
async fn happen(t: &TestApp, f: &mut Fixture, event: Event) {
    let admin = t.admin_token().await;
    let password_path = format!("/api/v1/users/{}/password", f.uid);
    let user_path = format!("/api/v1/users/{}", f.uid);
    let r = match event {
        Event::OwnPasswordChange { revoke_app_passwords } => {
            let body = json!({"old_password": f.password, "new_password": NEW_PASSWORD,
                              "revoke_app_passwords": revoke_app_passwords});
            t.call(Method::PUT, &password_path, Some(&f.mine), Some(body)).await
        }
        Event::AdminReset { keep_2fa, keep_app_passwords } => {
            let body =
                json!({"new_password": NEW_PASSWORD, "keep_2fa": keep_2fa, "keep_app_passwords": keep_app_passwords});
            let r = t.call(Method::PUT, &password_path, Some(&admin), Some(body)).await;
            assert_eq!(r.body["second_factors_removed"], !keep_2fa, "{}", r.text);
            r
        }
        Event::OwnDisableTwoFactor => {
            let path = format!("/api/v1/users/{}/passcode/deactivate", f.uid);
            let r = t.call(Method::POST, &path, Some(&f.mine), Some(json!({"password": f.password}))).await;
            assert_eq!(r.body["status"], "authenticator removed", "passkeys keep 2FA on: {}", r.text);
            r
        }
        Event::PasskeyRemoved => {
            let path = format!("/api/v1/users/{}/passkeys/{}", f.uid, f.k2_id);
            t.call(Method::DELETE, &path, Some(&f.mine), Some(json!({"password": f.password}))).await
        }
        Event::AdminDisableTwoFactor => {
            t.call(Method::PUT, &user_path, Some(&admin), Some(json!({"auth_method": "default"}))).await
        }
        Event::RecoveryCodeUsed => t.login_with_code(&f.username, &f.password, &f.recovery).await,
        Event::AccountDisabled => {
            t.call(Method::PUT, &user_path, Some(&admin), Some(json!({"can_login": false}))).await
        }
        Event::AccountDeleted => t.call(Method::DELETE, &user_path, Some(&admin), None).await,
        Event::AppPasswordRevoked => {
            let path = format!("/api/v1/users/{}/sessions/{}", f.uid, f.app_a.0);
            t.call(Method::DELETE, &path, Some(&f.mine), None).await
        }
        Event::ClientSecretRegenerated | Event::ClientScopeNarrowed | Event::ClientDisabled => {
            let args: &[&str] = match event {
                Event::ClientSecretRegenerated => &["--regenerate"],
                Event::ClientScopeNarrowed => &["-s", "metrics read"],
                _ => &["--disable"],
            };
            let mut all = vec!["clients", "mod", f.client_id.as_str()];
            all.extend_from_slice(args);
            let out = t.cli(&all);
            assert!(out.status.success(), "{}", stderr(&out));
            return;
        }
        Event::TwoFactorEnabled => unreachable!("the table test starts with 2FA on"),
    };
    assert_eq!(r.status, StatusCode::OK, "{event:?}: {}", r.text);
    if matches!(event, Event::OwnPasswordChange { .. } | Event::AdminReset { .. }) {
        f.password = NEW_PASSWORD.to_owned();
    }
}

async fn alive(t: &TestApp, token: &str) -> bool {
    t.get("/api/v1/session", token).await.status == StatusCode::OK
}

async fn app_password_works(t: &TestApp, f: &Fixture, secret: &str) -> bool {
    t.get_basic("/api/v1/session", &f.username, secret).await.status == StatusCode::OK
}

/// A fresh session of the holder by any means left, if there is one.
async fn holder_session(t: &TestApp, clock: &ManualClock, f: &mut Fixture) -> Option<String> {
    if alive(t, &f.mine).await {
        return Some(f.mine.clone());
    }
    let r = passwordless(t, &mut f.k1).await;
    if r.status == StatusCode::OK {
        return Some(token_of(&r));
    }
    let r = t.login_reply(&f.username, &f.password).await;
    if r.status == StatusCode::OK {
        return Some(token_of(&r));
    }
    clock.advance(30);
    let r = t.login_with_code(&f.username, &f.password, &oathtool(&f.totp, t.app.now())).await;
    (r.status == StatusCode::OK).then(|| token_of(&r))
}

/// Whether `code` still counts as a second factor: the account asks for one, and
/// `code` answers it. (With 2FA off a code stands for nothing.)
async fn code_counts(t: &TestApp, f: &Fixture, code: &str) -> bool {
    let r = t.login_reply(&f.username, &f.password).await;
    if r.status != StatusCode::UNAUTHORIZED || r.error() != "passcode required" {
        return false;
    }
    t.login_with_code(&f.username, &f.password, code).await.status == StatusCode::OK
}

/// What the intruder (or the holder) finds after the event, column by column.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    mine: bool,
    intruder: bool,
    child: bool,
    app_a: bool,
    app_b: bool,
    oauth: Option<String>,
    pending: bool,
    k1: bool,
    k2: bool,
    totp: bool,
    recovery: bool,
}

/// What the table promises, in the same terms.
fn expected(e: &Ends) -> Found {
    Found {
        mine: e.web_sessions != Sessions::All,
        intruder: e.web_sessions == Sessions::Kept,
        child: e.app_password_sessions == Sessions::Kept && e.app_passwords == Factor::Kept,
        app_a: e.app_passwords == Factor::Kept,
        app_b: e.app_passwords != Factor::Removed,
        oauth: match e.oauth_tokens {
            Tokens::Kept => Some("*".to_owned()),
            Tokens::Narrowed => Some("metrics read".to_owned()),
            Tokens::Revoked => None,
        },
        pending: !e.pending,
        k1: e.passkeys != Factor::Removed,
        k2: e.passkeys == Factor::Kept,
        totp: e.totp == Factor::Kept,
        // The fixture always keeps another factor where the code goes "with the last".
        recovery: e.recovery_code != Recovery::Removed,
    }
}

async fn observe(t: &TestApp, clock: &ManualClock, f: &mut Fixture, event: Event) -> Found {
    let (mine, intruder, child) = (alive(t, &f.mine).await, alive(t, &f.intruder).await, alive(t, &f.child).await);
    let (app_a, app_b) = (app_password_works(t, f, &f.app_a.1).await, app_password_works(t, f, &f.app_b.1).await);
    let who = t.get("/api/v1/session", &f.oauth).await;
    let oauth = (who.status == StatusCode::OK).then(|| who.body["scope"].as_str().unwrap().to_owned());
    if event == Event::AccountDisabled {
        // What a disabled account keeps comes back when it is enabled again.
        let admin = t.admin_token().await;
        let r = t
            .call(Method::PUT, &format!("/api/v1/users/{}", f.uid), Some(&admin), Some(json!({"can_login": true})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let pending = match holder_session(t, clock, f).await {
        Some(session) => {
            let (uid, start) = (f.uid.clone(), f.pending.clone_reply());
            register_finish(t, &uid, &session, &mut f.k3, &start).await.status == StatusCode::OK
        }
        None => false,
    };
    let (k1, k2) = (passwordless(t, &mut f.k1).await.status, passwordless(t, &mut f.k2).await.status);
    clock.advance(30);
    let totp = code_counts(t, f, &oathtool(&f.totp, t.app.now())).await;
    let recovery = code_counts(t, f, &f.recovery).await;
    Found {
        mine,
        intruder,
        child,
        app_a,
        app_b,
        oauth,
        pending,
        k1: k1 == StatusCode::OK,
        k2: k2 == StatusCode::OK,
        totp,
        recovery,
    }
}

trait CloneReply {
    fn clone_reply(&self) -> Reply;
}

impl CloneReply for Reply {
    fn clone_reply(&self) -> Reply {
        Reply { status: self.status, headers: self.headers.clone(), body: self.body.clone(), text: self.text.clone() }
    }
}

/// The events of the table, as the test makes them happen (activation is its own test:
/// this fixture starts with 2FA on).
const EVENTS: &[Event] = &[
    Event::OwnPasswordChange { revoke_app_passwords: false },
    Event::OwnPasswordChange { revoke_app_passwords: true },
    Event::AdminReset { keep_2fa: false, keep_app_passwords: false },
    Event::AdminReset { keep_2fa: false, keep_app_passwords: true },
    Event::AdminReset { keep_2fa: true, keep_app_passwords: false },
    Event::OwnDisableTwoFactor,
    Event::PasskeyRemoved,
    Event::AdminDisableTwoFactor,
    Event::RecoveryCodeUsed,
    Event::AccountDisabled,
    Event::AccountDeleted,
    Event::AppPasswordRevoked,
    Event::ClientSecretRegenerated,
    Event::ClientScopeNarrowed,
    Event::ClientDisabled,
];

async fn every_cell_of_the_lifecycle_table(db: Db) {
    let (t, clock) = spawn_pk(db).await;
    for (i, event) in EVENTS.iter().enumerate() {
        // A new hour: the failures the checks provoke never add up to throttling.
        clock.advance(3601);
        let mut f = fixture(&t, &clock, &format!("bob{i}")).await;
        happen(&t, &mut f, *event).await;
        assert_consistent(&t, &format!("after {event:?}")).await;
        let found = observe(&t, &clock, &mut f, *event).await;
        assert_eq!(found, expected(&ends(*event)), "{event:?}");
        assert_consistent(&t, &format!("after using the credentials left by {event:?}")).await;
    }
}

async fn activating_2fa_ends_the_other_sessions_and_nothing_else(db: Db) {
    let (t, clock) = spawn_pk(db).await;
    let e = ends(Event::TwoFactorEnabled);
    let password = "carol-password-1";
    let uid = t.create_user("carol", password, json!({})).await["uid"].as_str().unwrap().to_owned();
    let mine = t.login("carol", password).await;
    let intruder = t.login("carol", password).await;
    let (_, app) = app_password(&t, &mine, "carol", password, "A").await;
    let child = token_of(&t.login_reply("carol", &app).await);
    let pending = register_start(&t, &uid, &mine, password).await;
    let (_, confirm) = totp_confirmed(&t, &clock, &uid, &mine, password).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert_eq!(totp_activate(&t, &uid, &mine).await.status, StatusCode::OK);
    assert_consistent(&t, "after activation").await;
    assert_eq!(alive(&t, &mine).await, e.web_sessions != Sessions::All);
    assert_eq!(alive(&t, &intruder).await, e.web_sessions == Sessions::Kept);
    assert_eq!(alive(&t, &child).await, e.app_password_sessions == Sessions::Kept);
    assert_eq!(
        t.get_basic("/api/v1/session", "carol", &app).await.status == StatusCode::OK,
        e.app_passwords == Factor::Kept
    );
    // A ceremony started before stays valid: the passkey joins 2FA as a later factor.
    let mut key = Key::new();
    let done = register_finish(&t, &uid, &mine, &mut key, &pending).await;
    assert_eq!(done.status == StatusCode::OK, !e.pending, "{}", done.text);
    assert_consistent(&t, "after the later passkey").await;
}

/// An intruder who knows the password of an account with 2FA off registers and
/// activates a passkey: it is the first factor, and they saw the recovery code.
async fn intruder_enrols(t: &TestApp, username: &str, password: &str) -> (String, Key, String) {
    let uid = t.create_user(username, password, json!({})).await["uid"].as_str().unwrap().to_owned();
    let session = t.login(username, password).await;
    let mut key = Key::new();
    let done = register(t, &uid, &session, password, &mut key).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let r = activate_passkey(t, &uid, &session, done.body["passkey"]["id"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(passwordless(t, &mut key).await.status, StatusCode::OK, "the intruder's passkey signs in");
    (uid, key, done.body["recovery_code"].as_str().unwrap().to_owned())
}

/// After the reset, the intruder's passkey and recovery code are worth nothing and the
/// owner signs in with the new password alone.
async fn assert_intruder_locked_out(t: &TestApp, username: &str, key: &mut Key, recovery: &str) {
    assert_ne!(passwordless(t, key).await.status, StatusCode::OK, "the intruder's passkey survived the reset");
    let r = t.login_reply(username, NEW_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "the owner is not locked out of their 2FA: {}", r.text);
    assert_eq!(r.body["user"]["auth_method"], "default");
    let r = t.login_with_code(username, "the-old-password", recovery).await;
    assert_ne!(r.status, StatusCode::OK);
    assert_consistent(t, "after the reset").await;
}

async fn an_intruders_passkey_does_not_survive_an_admin_reset(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let (uid, mut key, recovery) = intruder_enrols(&t, "dave", "dave-password-1").await;
    let admin = t.admin_token().await;
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/users/{uid}/password"),
            Some(&admin),
            Some(json!({"new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["second_factors_removed"], true);
    assert_intruder_locked_out(&t, "dave", &mut key, &recovery).await;
}

async fn an_intruders_passkey_does_not_survive_gatehouse_passwd(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let (_, mut key, recovery) = intruder_enrols(&t, "dave", "dave-password-1").await;
    let out = t.cli(&["passwd", "dave", "--password", NEW_PASSWORD, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["second_factors_removed"], true, "{reply}");
    assert_intruder_locked_out(&t, "dave", &mut key, &recovery).await;
}

async fn an_intruders_passkey_does_not_survive_users_mod_password(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let (_, mut key, recovery) = intruder_enrols(&t, "dave", "dave-password-1").await;
    let out = t.cli(&["users", "mod", "dave", "--password", NEW_PASSWORD]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_intruder_locked_out(&t, "dave", &mut key, &recovery).await;
}

async fn keep_2fa_keeps_the_passkey_and_says_so(db: Db) {
    let (t, _clock) = spawn_pk(db).await;
    let (_, mut key, _) = intruder_enrols(&t, "erin", "erin-password-1").await;
    let out = t.cli(&["passwd", "erin", "--password", NEW_PASSWORD, "--keep-2fa", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["second_factors_removed"], false, "{reply}");
    // The risk the option names: a passkey kept this way still signs in, password or not.
    assert_eq!(passwordless(&t, &mut key).await.status, StatusCode::OK);
    let help = stdout(&t.cli(&["passwd", "--help"]));
    assert!(help.contains("--keep-2fa") && help.contains("intruder"), "{help}");
    assert_consistent(&t, "after a reset that kept 2FA").await;
}

async fn a_regenerated_secret_and_a_narrowed_scope_reach_the_tokens_at_once(db: Db) {
    let t = common::spawn(db).await;
    let c = cli_json(&t, &["clients", "add", "-n", "Prometheus", "-s", "*", "--json"]);
    let id = c["client_id"].as_str().unwrap();
    let token = |secret: String| {
        let t = &t;
        async move {
            let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret.as_str())];
            token_of(&Reply::read(t.client.post(t.url("/api/v1/oauth/token")).form(&form).send().await.unwrap()).await)
        }
    };
    let old = token(c["client_secret"].as_str().unwrap().to_owned()).await;
    // Used once, so any cache of its lookup is warm.
    assert_eq!(t.get("/api/v1/session", &old).await.body["scope"], "*");
    let narrowed = cli_json(&t, &["clients", "mod", id, "-s", "metrics read", "--json"]);
    assert_eq!(narrowed["scope"], "metrics read");
    let who = t.get("/api/v1/session", &old).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text);
    assert_eq!(who.body["scope"], "metrics read", "the old token still reports more than its client has");
    assert_eq!(t.get("/api/v1/users", &old).await.status, StatusCode::FORBIDDEN);

    let regenerated = cli_json(&t, &["clients", "mod", id, "--regenerate", "--json"]);
    assert_eq!(t.get("/api/v1/session", &old).await.status, StatusCode::UNAUTHORIZED, "the old token survived");
    let fresh = token(regenerated["client_secret"].as_str().unwrap().to_owned()).await;
    assert_eq!(t.get("/api/v1/session", &fresh).await.body["scope"], "metrics read");
    assert_consistent(&t, "after the client changes").await;
}

async fn disable_2fa_by_the_user_or_an_admin_ends_the_other_sessions(db: Db) {
    let clock = ManualClock::at(common::unix_now());
    let t = common::spawn_with_clock(db, &clock, |_| {}).await;
    t.create_user("fay", "fay-password-1", json!({})).await;
    let tf = t.enable_2fa("fay", "fay-password-1").await;
    // Another session, opened with the password and the code of a later time step.
    clock.advance(30);
    let other = token_of(&t.login_with_code("fay", "fay-password-1", &oathtool(&tf.key, t.app.now())).await);
    let path = format!("/api/v1/users/{}/passcode/deactivate", tf.uid);
    let r = t.call(Method::POST, &path, Some(&tf.token), Some(json!({"password": "fay-password-1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "2fa disabled");
    assert!(alive(&t, &tf.token).await, "the session that disabled 2FA stays");
    assert!(!alive(&t, &other).await, "the user's Disable 2FA left another session");

    // An admin's Disable 2FA ends every session of the account.
    clock.advance(30);
    let tf = t.enable_2fa("fay", "fay-password-1").await;
    let admin = t.admin_token().await;
    let r = t
        .call(Method::PUT, &format!("/api/v1/users/{}", tf.uid), Some(&admin), Some(json!({"auth_method": "default"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!alive(&t, &tf.token).await, "the admin's Disable 2FA left a session");
    assert_consistent(&t, "after Disable 2FA").await;
}

/// README shows the table the server applies.
#[test]
fn the_readme_shows_the_lifecycle_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = markdown_table();
    let indented: String = table.lines().map(|l| format!("  {l}\n")).collect();
    assert!(readme.contains(&indented), "README.md's lifecycle table differs from domain::lifecycle:\n{indented}");
}

on_both_databases!(
    every_cell_of_the_lifecycle_table,
    activating_2fa_ends_the_other_sessions_and_nothing_else,
    an_intruders_passkey_does_not_survive_an_admin_reset,
    an_intruders_passkey_does_not_survive_gatehouse_passwd,
    an_intruders_passkey_does_not_survive_users_mod_password,
    keep_2fa_keeps_the_passkey_and_says_so,
    a_regenerated_secret_and_a_narrowed_scope_reach_the_tokens_at_once,
    disable_2fa_by_the_user_or_an_admin_ends_the_other_sessions,
);
