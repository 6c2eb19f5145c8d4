//! The HTTP surface: [`app`] builds the whole router from the feature routers, with the
//! shared layers (body limit, JSON errors for every 4xx/5xx except HTML pages, security
//! headers).

pub mod api;
pub mod auth;
pub mod dav;
pub mod error;
pub mod extract;
pub mod ui;
pub mod zerocopy;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use self::error::{ApiError, code_for_status};
use crate::service::Gatehouse;

/// The complete application.
pub fn app(state: Gatehouse) -> Router {
    let max_body = state.settings.max_body;
    Router::new()
        .merge(api::router())
        .merge(ui::router())
        // WebDAV bodies are files: streamed, never buffered, so no body limit there.
        .merge(dav::router(&state).layer(DefaultBodyLimit::disable()))
        .fallback(ui::not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This method is not allowed here")
        })
        .layer(axum::middleware::map_response(finish_response))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| ApiError::internal().into_response()))
        .with_state(state)
}

/// Every error answer is JSON, whoever produced it (our handlers, axum's extractors,
/// the body limit) — except the UI's own HTML error pages — and every answer carries
/// the security headers.
async fn finish_response(mut resp: Response) -> Response {
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let keep = content_type.starts_with("application/json") || content_type.starts_with("text/html");
    if (status.is_client_error() || status.is_server_error()) && !keep {
        let message = status.canonical_reason().unwrap_or("Error").to_owned();
        let mut replaced = ApiError::new(status, code_for_status(status), message).into_response();
        for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
            if let Some(v) = resp.headers().get(&name) {
                replaced.headers_mut().insert(name, v.clone());
            }
        }
        resp = replaced;
    }
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish. Connections can send files without copying them ([`zerocopy`]).
pub async fn serve(
    state: Gatehouse,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let listener = zerocopy::ZeroCopyListener(listener);
    let service = app(state).into_make_service_with_connect_info::<zerocopy::Peer>();
    let result = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    housekeeping.abort();
    result
}

/// Periodic clean-up of expired sessions and old login attempts.
async fn housekeeping(state: Gatehouse) {
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
    }
}
