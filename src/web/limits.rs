//! Bounds on what a connection can make the server hold: how many connections one
//! client address may keep open ([`ConnectionGate`]), how many the process may keep
//! open at all (from its descriptor limit, [`raise_descriptor_limit`]), and how slowly a
//! request body may arrive ([`PacedBody`]).
//!
//! Request heads have their own bound in hyper (30 s, idle keep-alive included); these
//! cover the rest: a client that opens hundreds of connections, and one that announces a
//! 1 GB upload and trickles a byte every ten seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::config::ConnectionLimits;
use crate::service::refusals::{Bound, Refusals};

/// Descriptors kept back from connections: database pool, library files being read or
/// written, `sendfile`, the listener itself.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open descriptors to the hard limit (systemd's default soft
/// limit of 1,024 is far below what a busy server needs) and returns the limit in force.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), hard) = (limit.current, limit.maximum) else {
        return u64::MAX;
    };
    let Some(hard) = hard else {
        return current;
    };
    if hard > current {
        let raised = rustix::process::Rlimit { current: Some(hard), maximum: Some(hard) };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return hard;
        }
    }
    current
}

/// The soft limit on open descriptors in force now.
pub fn descriptor_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// How many connections fit in a descriptor limit, keeping some back for everything
/// else a request opens.
pub fn connections_for(descriptor_limit: u64) -> usize {
    let reserve = RESERVED_DESCRIPTORS.max(descriptor_limit / 4).min(descriptor_limit / 2);
    usize::try_from(descriptor_limit.saturating_sub(reserve)).unwrap_or(usize::MAX).max(1)
}

/// The descriptors this process has open now (for metrics).
pub fn open_descriptors() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count)
}

/// Whom a connection counts against: the address, or its /64 for IPv6 (one subscriber's
/// allocation, as the login throttle counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.into()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.into()),
                None => Self::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// Counts open connections per client address and in all, and admits a new one only
/// below both caps.
#[derive(Debug)]
pub struct ConnectionGate {
    per_address: usize,
    total: usize,
    refusals: Arc<Refusals>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<AddressKey, usize>,
}

/// One admitted connection; dropping it (when the connection ends) frees its place.
#[derive(Debug)]
pub struct Admitted {
    gate: Arc<ConnectionGate>,
    key: Option<AddressKey>,
}

impl ConnectionGate {
    pub fn new(per_address: usize, total: usize, refusals: Arc<Refusals>) -> Arc<Self> {
        Arc::new(Self { per_address: per_address.max(1), total: total.max(1), refusals, open: Mutex::default() })
    }

    /// Admits a connection from `ip` (not counted per address when `trusted_proxy`), or
    /// says which cap it would exceed.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, trusted_proxy: bool) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.total {
            self.refusals.count(Bound::Connections);
            return None;
        }
        let key = (!trusted_proxy).then(|| AddressKey::from(ip));
        if let Some(key) = key {
            let count = open.by_address.entry(key).or_insert(0);
            if *count >= self.per_address {
                self.refusals.count(Bound::ConnectionsPerAddress);
                return None;
            }
            *count += 1;
        }
        open.total += 1;
        Some(Admitted { gate: self.clone(), key })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(count) = open.by_address.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&key);
            }
        }
    }
}

/// What a refused connection is told before it is closed (the request is never read).
pub const REFUSED_CONNECTION: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
Content-Type: text/plain\r\nContent-Length: 29\r\nConnection: close\r\n\r\nToo many connections; retry.\n";

/// How reading a request body went, as the answer must tell it: a handler sees only
/// "the body failed" (dav-server answers 502 to that), but a client that was too slow
/// or sent a broken body made a client mistake.
#[derive(Debug, Clone, Default)]
pub struct BodyOutcome(Arc<AtomicU8>);

/// What [`BodyOutcome`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// Slower than the minimum rate, or past the deadline: 408.
    TooSlow,
    /// A broken body (bad chunked framing, a connection cut mid-body): 400.
    Broken,
}

impl BodyFailure {
    pub fn status(self) -> axum::http::StatusCode {
        match self {
            BodyFailure::TooSlow => axum::http::StatusCode::REQUEST_TIMEOUT,
            BodyFailure::Broken => axum::http::StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            BodyFailure::TooSlow => "The request body arrived too slowly",
            BodyFailure::Broken => "The request body could not be read",
        }
    }
}

impl BodyOutcome {
    fn set(&self, failure: BodyFailure) {
        let code = match failure {
            BodyFailure::TooSlow => 1,
            BodyFailure::Broken => 2,
        };
        self.0.store(code, Ordering::Relaxed);
    }

    pub fn failure(&self) -> Option<BodyFailure> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(BodyFailure::TooSlow),
            2 => Some(BodyFailure::Broken),
            _ => None,
        }
    }
}

/// A request body that must keep arriving: in every `window` the server spends waiting
/// for it, at least `min_bytes` must come (time the handler spends elsewhere — hashing,
/// writing to S3 — is not the client's fault and does not count); an optional deadline
/// bounds the whole body. Past either, the body ends with [`BodyTooSlow`] and the
/// connection is closed.
#[derive(Debug)]
pub struct PacedBody<B> {
    inner: B,
    min_bytes: u64,
    window: Duration,
    /// Bytes received and time spent waiting in the current window.
    received: u64,
    waited: Duration,
    /// When the current wait began, while the body is pending.
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    deadline: Option<Pin<Box<Sleep>>>,
    refusals: Arc<Refusals>,
    outcome: BodyOutcome,
    done: bool,
}

/// The error a body that arrives too slowly ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct BodyTooSlow;

impl<B> PacedBody<B> {
    /// Paces `inner`; how it went is recorded in `outcome`.
    pub fn new(
        inner: B,
        limits: &ConnectionLimits,
        deadline: Option<Duration>,
        refusals: Arc<Refusals>,
        outcome: BodyOutcome,
    ) -> Self {
        let now = Instant::now();
        Self {
            inner,
            min_bytes: limits.body_min_bytes,
            window: limits.body_window,
            received: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: Box::pin(tokio::time::sleep_until(now + limits.body_window)),
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(now + d))),
            refusals,
            outcome,
            done: false,
        }
    }

    fn too_slow(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        self.done = true;
        self.outcome.set(BodyFailure::TooSlow);
        self.refusals.count(Bound::SlowBody);
        Poll::Ready(Some(Err(Box::new(BodyTooSlow))))
    }
}

impl<B> Body for PacedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(Ok(frame)) = &frame
                    && let Some(data) = frame.data_ref()
                {
                    this.received += data.len() as u64;
                    if this.received >= this.min_bytes {
                        this.received = 0;
                        this.waited = Duration::ZERO;
                    }
                }
                if this.waited >= this.window {
                    return this.too_slow();
                }
                this.done = frame.is_none();
                if matches!(frame, Some(Err(_))) {
                    this.outcome.set(BodyFailure::Broken);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if let Some(deadline) = this.deadline.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return this.too_slow();
                }
                let now = Instant::now();
                let since = *this.waiting_since.get_or_insert(now);
                let left = this.window.saturating_sub(this.waited);
                let at = since + left;
                if at <= now {
                    return this.too_slow();
                }
                if this.timer.deadline() != at {
                    this.timer.as_mut().reset(at);
                }
                ready!(this.timer.as_mut().poll(cx));
                this.too_slow()
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why a request's body framing is refused (RFC 9112 §6): a transfer coding other than
/// one `chunked` (`gzip, chunked` would store the still-compressed bytes as the file),
/// 501. (`Transfer-Encoding` with `Content-Length` never gets here: hyper drops the
/// length, reads the chunks and closes the connection after the answer, as RFC 9112
/// §6.3 asks.)
pub fn framing_refusal(headers: &axum::http::HeaderMap) -> Option<(axum::http::StatusCode, &'static str)> {
    let mut codings = 0usize;
    for value in headers.get_all(axum::http::header::TRANSFER_ENCODING) {
        let Ok(text) = value.to_str() else {
            return Some((axum::http::StatusCode::BAD_REQUEST, "The Transfer-Encoding header is not valid text"));
        };
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            codings += 1;
            if !coding.eq_ignore_ascii_case("chunked") || codings > 1 {
                return Some((
                    axum::http::StatusCode::NOT_IMPLEMENTED,
                    "Only the chunked transfer coding is understood",
                ));
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gate(per_address: usize, total: usize) -> Arc<ConnectionGate> {
        ConnectionGate::new(per_address, total, Arc::default())
    }

    #[test]
    fn an_address_gets_its_cap_and_its_places_back() {
        let g = gate(2, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = g.admit(ip, false).unwrap();
        let _b = g.admit(ip, false).unwrap();
        assert!(g.admit(ip, false).is_none(), "a third connection from one address is refused");
        assert!(g.admit("192.0.2.2".parse().unwrap(), false).is_some(), "another address is not");
        drop(a);
        assert!(g.admit(ip, false).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let g = gate(1, 100);
        let _a = g.admit("2001:db8:1:2::1".parse().unwrap(), false).unwrap();
        assert!(g.admit("2001:db8:1:2:ffff::9".parse().unwrap(), false).is_none(), "same /64");
        assert!(g.admit("2001:db8:1:3::1".parse().unwrap(), false).is_some(), "another /64");
        let _v4 = g.admit("192.0.2.7".parse().unwrap(), false).unwrap();
        assert!(g.admit("::ffff:192.0.2.7".parse().unwrap(), false).is_none(), "v4-mapped is the v4 address");
    }

    #[test]
    fn trusted_proxies_count_only_towards_the_total() {
        let g = gate(1, 3);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| g.admit(proxy, true).unwrap()).collect();
        assert!(g.admit(proxy, true).is_none(), "the total holds for proxies too");
        assert_eq!(g.open(), 3);
        drop(held);
        assert_eq!(g.open(), 0);
    }

    #[test]
    fn the_connection_budget_keeps_descriptors_back() {
        assert_eq!(connections_for(1024), 768);
        assert_eq!(connections_for(128), 64);
        assert_eq!(connections_for(1_048_576), 786_432);
        assert_eq!(connections_for(1), 1);
    }

    #[test]
    fn only_chunked_alone_frames_a_body() {
        use axum::http::{HeaderMap, StatusCode};
        let refusal = |pairs: &[(&str, &str)]| {
            let h: HeaderMap = pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect();
            framing_refusal(&h).map(|(status, _)| status)
        };
        assert_eq!(refusal(&[]), None);
        assert_eq!(refusal(&[("transfer-encoding", "chunked")]), None);
        assert_eq!(refusal(&[("transfer-encoding", "Chunked")]), None);
        assert_eq!(refusal(&[("content-length", "5")]), None);
        assert_eq!(refusal(&[("transfer-encoding", "gzip, chunked")]), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(refusal(&[("transfer-encoding", "chunked, chunked")]), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(refusal(&[("transfer-encoding", "identity")]), Some(StatusCode::NOT_IMPLEMENTED));
    }
}
