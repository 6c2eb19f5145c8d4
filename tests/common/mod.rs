//! Test harness: every integration test starts the real server on 127.0.0.1:0 with a
//! fresh database — a SQLite file in a temporary data folder, or a new database on the
//! PostgreSQL server that `scripts/test` started (`GATEHOUSE_TEST_POSTGRES`) — and
//! talks to it over real HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;

use gatehouse::config::Settings;
use gatehouse::service::Gatehouse;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection as _;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const THROTTLE_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates `mod NAME { sqlite(), postgres() }` test pairs from `async fn NAME(Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Db::Postgres).await
                }
            }
        )+
    };
}

/// Where a test's library lives: folders in its data folder, or prefixes in the S3
/// bucket of the Garage that `scripts/test` started (`GATEHOUSE_TEST_S3_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Folder,
    S3,
}

tokio::task_local! {
    /// The library backend of the test running in this task ([`on_every_backend!`]).
    pub static BACKEND: Backend;
}

/// The backend of the running test (folders unless [`on_every_backend!`] said S3).
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Folder)
}

/// Generates `mod NAME { sqlite(), postgres(), sqlite_s3(), postgres_s3() }` from
/// `async fn NAME(Db)`: every WebDAV test on both databases and on both backends.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::common::{BACKEND, Backend, Db};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    BACKEND.scope(Backend::Folder, super::$name(Db::Sqlite)).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    BACKEND.scope(Backend::Folder, super::$name(Db::Postgres)).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_s3() {
                    BACKEND.scope(Backend::S3, super::$name(Db::Sqlite)).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_s3() {
                    BACKEND.scope(Backend::S3, super::$name(Db::Postgres)).await
                }
            }
        )+
    };
}

/// The S3 connection of the test Garage; panics (never skips) without one.
pub fn test_s3_config() -> gatehouse::library::S3Config {
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} is not set: run the tests with ./scripts/test, which starts Garage"))
    };
    gatehouse::library::S3Config {
        endpoint: var("GATEHOUSE_TEST_S3_ENDPOINT"),
        region: var("GATEHOUSE_TEST_S3_REGION"),
        access_key_id: var("GATEHOUSE_TEST_S3_ACCESS_KEY_ID"),
        secret_access_key: zeroize::Zeroizing::new(var("GATEHOUSE_TEST_S3_SECRET_ACCESS_KEY")),
    }
}

/// Puts a test's libraries under a fresh prefix of the test bucket.
pub fn use_test_bucket(settings: &mut Settings) {
    let bucket = std::env::var("GATEHOUSE_TEST_S3_BUCKET").unwrap_or_else(|_| "gatehouse".to_owned());
    let run = gatehouse::domain::random::public_id("t-", 12).unwrap().to_lowercase();
    let at = |name: &str| {
        gatehouse::library::Location::Bucket(gatehouse::library::S3Url {
            bucket: bucket.clone(),
            prefix: format!("{run}/{name}/"),
        })
    };
    settings.originals_path = at("originals");
    settings.import_path = at("import");
    settings.s3 = Some(test_s3_config());
}

/// A new, empty database URL for `db`.
pub async fn fresh_database(db: Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => gatehouse::store::default_sqlite_url(dir),
        Db::Postgres => {
            let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").expect(
                "GATEHOUSE_TEST_POSTGRES is not set: run the tests with ./scripts/test, which starts PostgreSQL",
            );
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect to test PostgreSQL");
            let name = format!("gh_{}", gatehouse::domain::random::public_id("t", 12).unwrap());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            conn.close().await.ok();
            let (base, _) = admin.rsplit_once('/').unwrap();
            format!("{base}/{name}")
        }
    }
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: Gatehouse,
    pub client: Client,
    pub db: Db,
    pub database_url: String,
    pub data_dir: PathBuf,
    _dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // A panic in the server is a failure even when it was turned into a 500 or a
        // closed connection and the test's own checks passed.
        if !std::thread::panicking() {
            let panics = SERVER_PANICS.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(panics, 0, "the server panicked {panics} time(s) during this test (see the log above)");
        }
    }
}

/// Panics seen in this test process outside the test's own thread (cargo-nextest runs
/// each test in a process of its own): the server's.
static SERVER_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts every panic on a thread other than the test's before the default hook prints it.
fn watch_for_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let test_thread = std::thread::current().id();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() != test_thread {
                SERVER_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

pub async fn spawn(db: Db) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// Starts a server whose settings `configure` may adjust.
pub async fn spawn_with(db: Db, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_inner(db, None, configure).await
}

/// Starts a server whose clock stands at the current time until the test moves it.
pub async fn spawn_frozen(db: Db) -> TestApp {
    spawn_with_clock(db, &gatehouse::clock::ManualClock::at(unix_now()), |_| {}).await
}

/// Starts a server whose time is `clock`: it moves only when the test moves it, so
/// time rules (throttle delays, TOTP steps) do not depend on how fast the machine is.
pub async fn spawn_with_clock(
    db: Db,
    clock: &gatehouse::clock::ManualClock,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_inner(db, Some(clock.clone()), configure).await
}

async fn spawn_inner(
    db: Db,
    clock: Option<gatehouse::clock::ManualClock>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let mut settings = Settings::for_data_dir(data_dir.clone());
    settings.database_url = fresh_database(db, &data_dir).await;
    // The tarpit on throttled answers is a second in production; tests keep it short.
    settings.throttle_delay = THROTTLE_DELAY;
    if backend() == Backend::S3 {
        use_test_bucket(&mut settings);
    }
    configure(&mut settings);
    let database_url = settings.database_url.clone();
    let mut app = Gatehouse::open(settings).await.expect("server core opens");
    if let Some(clock) = clock {
        app.clock = std::sync::Arc::new(clock);
    }
    app.bootstrap_admin(Some(ADMIN_PASSWORD.to_owned())).await.unwrap();
    serve(app, db, database_url, data_dir, dir).await
}

/// Serves `app` on a random loopback port until the returned [`TestApp`] is dropped.
async fn serve(app: Gatehouse, db: Db, database_url: String, data_dir: PathBuf, dir: TempDir) -> TestApp {
    watch_for_server_panics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        gatehouse::web::serve(server_app, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    gatehouse::library::install_tls();
    let client = Client::builder().build().unwrap();
    TestApp { addr, app, client, db, database_url, data_dir, _dir: dir, shutdown: Some(tx), server: Some(server) }
}

/// A response read fully: status, headers and JSON body (or `Value::Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn read(resp: Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    /// The `error` code of a JSON error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// A second server instance on the same database and data folder (same secret
    /// key), as when several instances share one PostgreSQL.
    pub async fn sibling(&self) -> TestApp {
        self.sibling_with(self.app.settings.public_url.clone()).await
    }

    /// A second instance on the same database whose public URL is `public_url`.
    pub async fn sibling_at(&self, public_url: &str) -> TestApp {
        self.sibling_with(Some(public_url.parse().unwrap())).await
    }

    async fn sibling_with(&self, public_url: Option<url::Url>) -> TestApp {
        let mut settings = self.sibling_settings();
        settings.public_url = public_url;
        self.sibling_with_settings(settings).await
    }

    /// The settings of a second instance on the same database and library.
    pub fn sibling_settings(&self) -> Settings {
        let mut settings = Settings::for_data_dir(self.data_dir.clone());
        settings.database_url = self.database_url.clone();
        settings.throttle_delay = THROTTLE_DELAY;
        settings.originals_path = self.app.settings.originals_path.clone();
        settings.import_path = self.app.settings.import_path.clone();
        settings.s3 = self.app.settings.s3.clone();
        settings.public_url = self.app.settings.public_url.clone();
        settings
    }

    /// A second instance with `settings` (from [`TestApp::sibling_settings`]).
    pub async fn sibling_with_settings(&self, settings: Settings) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut app = Gatehouse::open(settings).await.expect("second instance opens");
        app.clock = self.app.clock.clone();
        serve(app, self.db, self.database_url.clone(), self.data_dir.clone(), dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn login_reply(&self, username: &str, password: &str) -> Reply {
        self.call(Method::POST, "/api/v1/session", None, Some(json!({ "username": username, "password": password })))
            .await
    }

    /// Logs in and returns the access token; panics if the login fails.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self.login_reply(username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user through the API as admin; returns the user JSON.
    pub async fn create_user(&self, username: &str, password: &str, extra: Value) -> Value {
        let admin = self.admin_token().await;
        let mut body = json!({ "username": username, "password": password });
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        let r = self.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "create {username}: {}", r.text);
        r.body
    }

    /// Runs the real `gatehouse` binary on this server's database and data folder.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, "")
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env("GATEHOUSE_DATA_DIR", &self.data_dir)
            .env("GATEHOUSE_DATABASE_URL", &self.database_url)
            .env_remove("GATEHOUSE_SECRET_KEY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs one SQL statement on the server's database (to age rows or read raw data).
    /// Runs a statement behind the store's back, then signals it as a repair would, so
    /// that no cached token lookup outlives it.
    pub async fn sql(&self, statement: &str) -> u64 {
        let n = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(self.app.store.pool())
            .await
            .unwrap()
            .rows_affected();
        self.app.store.credentials_changed();
        n
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A TOTP code for the base32 `key` at unix time `at`, from the real `oathtool`.
pub fn oathtool(key: &str, at: i64) -> String {
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", key, "-N", &format!("@{at}")])
        .output()
        .expect("oathtool is installed (scripts/test installs it)");
    assert!(out.status.success(), "oathtool: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A user with 2FA switched on through the API, as the setup steps do it.
pub struct TwoFactorUser {
    pub uid: String,
    /// The web session that set it up (still valid).
    pub token: String,
    /// The setup key (base32).
    pub key: String,
    pub recovery_code: String,
    /// The time step consumed by the confirmation.
    pub confirmed_at: i64,
}

impl TestApp {
    pub async fn uid_of(&self, token: &str) -> String {
        self.get("/api/v1/session", token).await.body["user"]["uid"].as_str().unwrap().to_owned()
    }

    /// Creates `username` (unless it exists) and turns 2FA on for it.
    pub async fn enable_2fa(&self, username: &str, password: &str) -> TwoFactorUser {
        let token = self.login(username, password).await;
        let uid = self.uid_of(&token).await;
        let base = format!("/api/v1/users/{uid}/passcode");
        let start =
            self.call(Method::POST, &base, Some(&token), Some(json!({"type": "totp", "password": password}))).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let key = start.body["secret"].as_str().unwrap().to_owned();
        // The server's time: a test's manual clock, or the wall clock.
        let confirmed_at = self.app.now();
        let code = oathtool(&key, confirmed_at);
        let confirm =
            self.call(Method::POST, &format!("{base}/confirm"), Some(&token), Some(json!({"code": code}))).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
        let recovery_code = confirm.body["recovery_code"].as_str().unwrap().to_owned();
        let activate = self.call(Method::POST, &format!("{base}/activate"), Some(&token), None).await;
        assert_eq!(activate.status, StatusCode::OK, "{}", activate.text);
        TwoFactorUser { uid, token, key, recovery_code, confirmed_at }
    }

    pub async fn login_with_code(&self, username: &str, password: &str, code: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({ "username": username, "password": password, "code": code })),
        )
        .await
    }
}

impl TestApp {
    /// Creates an app password for `username` through the API, as the UI does: from a
    /// web session, with the account password. Returns the token JSON.
    pub async fn app_password(&self, username: &str, password: &str, scope: &str, expires_in: i64) -> Value {
        let web = self.login(username, password).await;
        let body = json!({
            "grant_type": "password", "client_name": format!("{scope} app"), "scope": scope,
            "expires_in": expires_in, "username": username, "password": password,
        });
        let r = self.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "app password: {}", r.text);
        r.body
    }

    /// GET with HTTP Basic credentials.
    pub async fn get_basic(&self, path: &str, user: &str, password: &str) -> Reply {
        Reply::read(self.client.get(self.url(path)).basic_auth(user, Some(password)).send().await.unwrap()).await
    }
}
