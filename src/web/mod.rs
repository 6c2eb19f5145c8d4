//! The HTTP surface: [`serve`] accepts connections and hands each request to WebDAV
//! ([`dav`]) or to the router [`app`] builds from the feature routers, with the shared
//! layers (body limit, JSON errors for every 4xx/5xx except HTML pages, security
//! headers, a panic turned into a 500) — the same finish ([`finish_response`]) on both.

pub mod api;
pub mod auth;
pub mod dav;
pub mod error;
pub mod extract;
pub mod limits;
pub mod ui;
pub mod zerocopy;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt as _;

use self::error::{ApiError, code_for_status};
use crate::service::Gatehouse;

/// The complete application.
pub fn app(state: Gatehouse) -> Router {
    let max_body = state.settings.max_body;
    Router::new()
        .merge(api::router())
        .merge(ui::router())
        .fallback(ui::not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This method is not allowed here")
        })
        .layer(axum::middleware::map_response(|resp| async { finish_response(resp) }))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| ApiError::internal().into_response()))
        .with_state(state)
}

/// Every API error answer is JSON, whoever produced it (our handlers, axum's
/// extractors, the body limit) — except the UI's own HTML error pages — and every
/// answer carries the security headers. (WebDAV answers keep their XML: [`dav::error`].)
fn finish_response(mut resp: Response) -> Response {
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let keep = content_type.starts_with("application/json") || content_type.starts_with("text/html");
    if (status.is_client_error() || status.is_server_error()) && !keep {
        let message = status.canonical_reason().unwrap_or("Error").to_owned();
        let mut replaced = ApiError::new(status, code_for_status(status), message).into_response();
        for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW, header::CONTENT_RANGE] {
            if let Some(v) = resp.headers().get(&name) {
                replaced.headers_mut().insert(name, v.clone());
            }
        }
        resp = replaced;
    }
    security_headers(resp)
}

/// The headers every answer carries, API, pages and WebDAV alike.
fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish. HTTP/1.1 with keep-alive; the bounds on connections, heads and bodies are
/// [`limits`]'.
/// Connections can send files without copying them ([`zerocopy`]).
pub async fn serve(
    state: Gatehouse,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let folders = dav::Folders::open(&state);
    let housekeeping = tokio::spawn(housekeeping(state.clone(), folders.clone()));
    let limits = state.settings.connections;
    let total = limits.total.unwrap_or_else(|| limits::connections_for(limits::descriptor_limit()));
    let gate = limits::ConnectionGate::new(limits.per_address, total, state.refusals.clone());
    let sites = Arc::new(Sites { dav: folders, router: app(state.clone()), state, gate: gate.clone() });
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout).writev(true);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let trusted_proxy = sites.state.settings.is_trusted_proxy(addr.ip());
        let Some(admitted) = gate.admit(addr.ip(), trusted_proxy) else {
            // Told why without reading the request, and closed.
            let _ = tcp.try_write(limits::REFUSED_CONNECTION);
            continue;
        };
        let (stream, peer) = zerocopy::accepted(tcp, addr);
        let sites = sites.clone();
        let service = hyper::service::service_fn(move |req| {
            let (sites, peer) = (sites.clone(), peer.clone());
            async move { sites.answer(req, peer).await }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    housekeeping.abort();
    Ok(())
}

/// What to do when `accept` fails: a connection that died before it was accepted is
/// nothing; anything else (out of file descriptors) is logged and waited out.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(error = %e, "cannot accept connections");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Everything a request can reach: the WebDAV folders and the router for the rest.
struct Sites {
    state: Gatehouse,
    dav: dav::Folders,
    router: Router,
    /// Open connections, for metrics.
    gate: Arc<limits::ConnectionGate>,
}

/// What a WebDAV request is for: the server's root (`PROPFIND /`, `OPTIONS /`) or a
/// library (`None`: one that could not be opened).
enum DavTarget {
    Root,
    Library(Option<Arc<dav::Library>>),
}

impl Sites {
    async fn answer(&self, req: Request<Incoming>, peer: zerocopy::Peer) -> Result<Response, Infallible> {
        let resp = self.route(req, peer).await?;
        self.count_refusal(&resp);
        Ok(resp)
    }

    async fn route(&self, mut req: Request<Incoming>, peer: zerocopy::Peer) -> Result<Response, Infallible> {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(OpenConnections(self.gate.clone()));
        let limits = &self.state.settings.connections;
        let refusals = self.state.refusals.clone();
        let outcome = limits::BodyOutcome::default();
        let target = if req.uri().path() == "/" && dav::root::wants(req.method()) {
            Some(DavTarget::Root)
        } else {
            self.dav.find(req.uri().path()).map(DavTarget::Library)
        };
        if let Some((status, message)) = limits::framing_refusal(req.headers()) {
            // The body's framing is not one we read the same way every proxy would:
            // refused before anything reads it, and the connection closed.
            return Ok(body_failed(match target {
                Some(_) => {
                    security_headers(dav::error::finish(dav::error::DavError::new(status, message).into_response()))
                }
                None => finish_response(ApiError::new(status, code_for_status(status), message).into_response()),
            }));
        }
        let Some(target) = target else {
            // API bodies are small (`max_body`): they must arrive whole in a short time.
            let deadline = Some(limits.api_body_deadline);
            let req = req.map(|b| Body::new(limits::PacedBody::new(b, limits, deadline, refusals, outcome.clone())));
            let answer = self.router.clone().oneshot(req).await?;
            return Ok(match outcome.failure() {
                Some(failure) => finish_response(body_failed(
                    ApiError::new(failure.status(), code_for_status(failure.status()), failure.message())
                        .into_response(),
                )),
                None => answer,
            });
        };
        // WebDAV bodies are files: streamed, never buffered, so no body limit here, but
        // they must keep arriving.
        let req = req.map(|b| limits::PacedBody::new(b, limits, None, refusals, outcome.clone()));
        let serving = async {
            match target {
                DavTarget::Root => dav::root::serve(&self.state, &self.dav, req).await,
                DavTarget::Library(lib) => dav::serve(&self.state, lib, req).await,
            }
        };
        let answer = std::panic::AssertUnwindSafe(serving).catch_unwind().await;
        let answer = answer.unwrap_or_else(|_| {
            tracing::error!("a WebDAV request panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        });
        let answer = match outcome.failure() {
            Some(failure) => {
                body_failed(dav::error::DavError::new(failure.status(), failure.message()).into_response())
            }
            None => answer,
        };
        Ok(security_headers(dav::error::finish(answer)))
    }

    /// Counts an answer that a bound refused (metrics).
    fn count_refusal(&self, resp: &Response) {
        let retry_after = resp.headers().contains_key(header::RETRY_AFTER);
        if let Some(bound) = crate::service::refusals::Bound::of_answer(resp.status().as_u16(), retry_after) {
            self.state.refusals.count(bound);
        }
    }
}

/// The answer to a request whose body could not be read: whatever the handler made of
/// the failed body, the client is told what it did, and the connection closes (the
/// rest of the body is never read).
fn body_failed(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The server's connection count, for metrics.
#[derive(Debug, Clone)]
pub struct OpenConnections(pub Arc<limits::ConnectionGate>);

/// Periodic clean-up of expired sessions and old login attempts.
/// An S3 multipart upload no instance has sent a part of for this long was left by one
/// that stopped; it is aborted.
const ABANDONED_UPLOAD: std::time::Duration = std::time::Duration::from_secs(3600);

async fn housekeeping(state: Gatehouse, folders: dav::Folders) {
    use crate::store::{AttemptStore as _, SessionStore as _};
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = state.store.purge_expired_sessions(state.now()).await {
            tracing::warn!(error = %e, "session clean-up failed");
        }
        if let Err(e) = state.store.purge_attempts(state.now()).await {
            tracing::warn!(error = %e, "login attempt clean-up failed");
        }
        let cutoff = std::time::SystemTime::now().checked_sub(ABANDONED_UPLOAD).unwrap_or(std::time::UNIX_EPOCH);
        let cutoff =
            cutoff.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        let aborted = folders.abort_abandoned_uploads(cutoff).await;
        if aborted > 0 {
            tracing::info!(aborted, "removed uploads abandoned by a stopped instance");
        }
    }
}
