//! `gatehouse start`: opens the data folder, bootstraps the first admin and serves.

use clap::Args;

use super::{CliError, GlobalArgs, parse_proxies};
use crate::library::{Location, S3Config};
use crate::service::Gatehouse;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Address to listen on
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:2342")]
    pub listen: String,
    /// Site title, also the issuer shown in authenticator apps
    #[arg(long, env = "GATEHOUSE_SITE_TITLE", default_value = "gatehouse")]
    pub site_title: String,
    /// Originals served over WebDAV: a folder, or s3://BUCKET/PREFIX (default: originals/
    /// in the data folder)
    #[arg(long, env = "GATEHOUSE_ORIGINALS_PATH", value_parser = Location::parse)]
    pub originals_path: Option<Location>,
    /// Import area served over WebDAV: a folder, or s3://BUCKET/PREFIX (default: import/ in
    /// the data folder)
    #[arg(long, env = "GATEHOUSE_IMPORT_PATH", value_parser = Location::parse)]
    pub import_path: Option<Location>,
    /// S3 endpoint for s3:// libraries, e.g. http://127.0.0.1:3900 or https://s3.amazonaws.com
    /// (path-style addressing); keys from GATEHOUSE_S3_ACCESS_KEY_ID and
    /// GATEHOUSE_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    #[arg(long, env = "GATEHOUSE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region for signing requests
    #[arg(long, env = "GATEHOUSE_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Refuse every write to the library
    #[arg(long, env = "GATEHOUSE_READ_ONLY")]
    pub read_only: bool,
    /// Proxy (address or CIDR) whose X-Forwarded-For is trusted; repeatable
    #[arg(long = "trusted-proxy", env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Mark the session cookie Secure (set this when served over HTTPS)
    #[arg(long, env = "GATEHOUSE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The address users open, e.g. https://photos.example.com or http://localhost:2342.
    /// Passkeys' relying party comes from it (never from request headers); passkeys are
    /// offered only for https:// or http://localhost
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Free space a folder library's disk keeps: uploads, MKCOL and COPY that would
    /// leave less are refused with 507 (bytes, or 512M, 2G…; 0 = off; not for S3)
    #[arg(long, env = "GATEHOUSE_MIN_FREE_SPACE", default_value = "1G", value_parser = crate::config::parse_bytes)]
    pub min_free_space: u64,
    /// Absolute lifetime of a web session, seconds
    #[arg(long, env = "GATEHOUSE_SESSION_MAX_AGE", default_value_t = 14 * 86_400, value_parser = clap::value_parser!(i64).range(60..))]
    pub session_max_age: i64,
    /// A web session unused this long ends, seconds (0 = never)
    #[arg(long, env = "GATEHOUSE_SESSION_IDLE", default_value_t = 3 * 86_400, value_parser = clap::value_parser!(i64).range(0..))]
    pub session_idle: i64,
    /// Connections one client address (an IPv6 /64) may keep open; trusted proxies are
    /// not counted
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
}

pub async fn run(global: &GlobalArgs, args: StartArgs) -> Result<(), CliError> {
    let mut settings = global.settings();
    settings.listen = args.listen;
    settings.site_title = args.site_title.trim().to_owned();
    if settings.site_title.is_empty() {
        return Err(CliError("--site-title must not be empty".into()));
    }
    if let Some(p) = args.originals_path {
        settings.originals_path = p;
    }
    if let Some(p) = args.import_path {
        settings.import_path = p;
    }
    settings.read_only = args.read_only;
    settings.min_free_space = args.min_free_space;
    settings.trusted_proxies = parse_proxies(&args.trusted_proxies)?;
    settings.secure_cookies = args.secure_cookies;
    settings.sessions.max_age = args.session_max_age;
    settings.sessions.idle_timeout = args.session_idle;
    settings.connections.per_address = usize::try_from(args.max_connections_per_address).unwrap_or(usize::MAX);
    if let Some(raw) = args.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
        settings.public_url = Some(crate::domain::passkey::parse_public_url(raw).map_err(CliError)?);
    }
    let on_s3 = [&settings.originals_path, &settings.import_path].into_iter().any(|l| matches!(l, Location::Bucket(_)));
    if on_s3 {
        settings.s3 = Some(s3_config(args.s3_endpoint, args.s3_region)?);
    }
    for location in [&settings.originals_path, &settings.import_path] {
        if let Location::Folder(dir) = location {
            std::fs::create_dir_all(dir).map_err(|e| CliError(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let app = Gatehouse::open(settings).await?;
    if on_s3 {
        crate::web::dav::Folders::open(&app).check().await.map_err(CliError)?;
    }
    match app.passkeys_off() {
        Some(reason) => tracing::warn!("{reason}"),
        None => tracing::info!(rp_id = app.passkey_rp_id().unwrap_or_default(), "passkeys are available"),
    }
    app.say_upgrade_notices().await;
    let admin_password = std::env::var("GATEHOUSE_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    if let Some(generated) = app.bootstrap_admin(admin_password).await? {
        println!(
            "Created the first admin account.\n  username: admin\n  password: {generated}\nThis password is shown only once: change it after the first login."
        );
    }
    let descriptors = crate::web::limits::raise_descriptor_limit();
    tracing::info!(
        descriptors,
        connections = crate::web::limits::connections_for(descriptors),
        "open descriptors allowed"
    );
    let listener = tokio::net::TcpListener::bind(&app.settings.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", app.settings.listen)))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "gatehouse is listening on http://{addr}");
    crate::web::serve(app.clone(), listener, shutdown_signal()).await?;
    app.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The S3 connection: endpoint from the flag, keys from the environment (ours first,
/// then the AWS names). The secret is never printed.
fn s3_config(endpoint: Option<String>, region: String) -> Result<S3Config, CliError> {
    let endpoint = endpoint
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| CliError("an s3:// library needs --s3-endpoint (or GATEHOUSE_S3_ENDPOINT)".into()))?;
    let var = |ours: &str, aws: &str| {
        std::env::var(ours).ok().filter(|v| !v.is_empty()).or_else(|| std::env::var(aws).ok().filter(|v| !v.is_empty()))
    };
    let access_key_id = var("GATEHOUSE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
        .ok_or_else(|| CliError("an s3:// library needs GATEHOUSE_S3_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID)".into()))?;
    let secret = var("GATEHOUSE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
        CliError("an s3:// library needs GATEHOUSE_S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY)".into())
    })?;
    if region.trim().is_empty() {
        return Err(CliError("--s3-region must not be empty".into()));
    }
    Ok(S3Config {
        endpoint: endpoint.trim().to_owned(),
        region: region.trim().to_owned(),
        access_key_id,
        secret_access_key: zeroize::Zeroizing::new(secret),
    })
}

/// Resolves on Ctrl-C or SIGTERM; the server then finishes in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
