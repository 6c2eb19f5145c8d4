//! Typed server settings, validated from the command line and environment before use.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::domain::session::SessionPolicy;
use crate::library::{Location, S3Config};

/// Everything the server needs to know to run.
#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The TOTP issuer and the UI title.
    pub site_title: String,
    pub originals_path: Location,
    pub import_path: Location,
    /// How to reach S3, for libraries in a bucket.
    pub s3: Option<S3Config>,
    pub read_only: bool,
    /// The configured secret key, if any (else the data folder's `secret.key`).
    pub secret_key: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub sessions: SessionPolicy,
    /// Mark the session cookie `Secure` (set when served over TLS).
    pub secure_cookies: bool,
    /// Largest accepted JSON body, bytes.
    pub max_body: usize,
    /// How long a throttled attempt waits for its 429 (a tarpit for floods).
    pub throttle_delay: std::time::Duration,
    /// The address users open (`--public-url`): the only source of the passkeys'
    /// relying party and of any link the server makes. `None`: not configured.
    pub public_url: Option<url::Url>,
    /// Argon2id checks run at once (0: one less than the cores, at least one).
    pub hash_workers: usize,
    /// Argon2id checks that may wait for a worker (0: 4 per worker); more get 503.
    pub hash_queue: usize,
    /// Connections per client address, and how fast request bodies must arrive.
    pub connections: ConnectionLimits,
    /// Bytes a folder library's file system keeps free (`--min-free-space`): writes
    /// that would leave less are refused with 507. Not applied to S3.
    pub min_free_space: u64,
}

/// How many connections a client may hold and how fast its request bodies must
/// arrive (`web::limits` enforces them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections one client address (an IPv6 /64) may hold; trusted proxies,
    /// which carry many clients, count only towards the total.
    pub per_address: usize,
    /// Open connections in all; `None`: what the descriptor limit leaves room for.
    pub total: Option<usize>,
    /// A body must bring at least this many bytes in every `body_window` the server
    /// spends waiting for it.
    pub body_min_bytes: u64,
    pub body_window: std::time::Duration,
    /// A JSON API body (at most `max_body` bytes) must arrive whole within this time.
    pub api_body_deadline: std::time::Duration,
    /// A request head must arrive whole within this time, counted from its first byte
    /// or, on a kept-alive connection, from the end of the previous answer.
    pub head_timeout: std::time::Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            per_address: 64,
            total: None,
            // 1 KiB/s: a phone on a poor mobile link sends a hundred times that.
            body_min_bytes: 30 * 1024,
            body_window: std::time::Duration::from_secs(30),
            api_body_deadline: std::time::Duration::from_secs(10),
            head_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("site_title", &self.site_title)
            .field("read_only", &self.read_only)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url.as_ref().map(url::Url::as_str))
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings for a data folder with every other value at its default.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Self {
            listen: "127.0.0.1:2342".to_owned(),
            database_url: crate::store::default_sqlite_url(&data_dir),
            originals_path: Location::Folder(data_dir.join("originals")),
            import_path: Location::Folder(data_dir.join("import")),
            s3: None,
            data_dir,
            site_title: "gatehouse".to_owned(),
            read_only: false,
            secret_key: None,
            trusted_proxies: Vec::new(),
            sessions: SessionPolicy::default(),
            secure_cookies: false,
            max_body: 64 * 1024,
            throttle_delay: std::time::Duration::from_secs(1),
            public_url: None,
            connections: ConnectionLimits::default(),
            hash_workers: 0,
            hash_queue: 0,
            min_free_space: DEFAULT_MIN_FREE_SPACE,
        }
    }

    /// Whether a direct peer at `ip` is a proxy we trust.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The default of `--min-free-space`: 1 GiB.
pub const DEFAULT_MIN_FREE_SPACE: u64 = 1 << 30;

/// Parses a number of bytes: `1073741824`, or with a binary suffix `512K`, `512M`,
/// `2G`, `1T` (also `MiB`, `GB`…: every suffix counts in 1024s).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let bad = || format!("invalid size {s:?}: expected bytes, or a number with K, M, G or T (e.g. 512M, 2G)");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Parses one CIDR (`10.0.0.0/8`) or a bare address (a /32 or /128).
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("invalid trusted proxy {s:?}: expected an address or CIDR like 10.0.0.0/8"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_as_cidr_or_address() {
        assert!(parse_proxy("10.0.0.0/8").unwrap().contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(parse_proxy(" 127.0.0.1 ").unwrap().contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(parse_proxy("::1").is_ok());
        assert!(parse_proxy("nope").is_err());
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes(" 1 GiB "), Ok(1 << 30));
        assert_eq!(parse_bytes("3k"), Ok(3 << 10));
        for bad in ["", "G", "1.5G", "-1", "5%", "1X", "99999999999T"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
