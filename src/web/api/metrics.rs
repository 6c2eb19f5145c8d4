//! `GET /api/v1/metrics`: Prometheus text exposition (version 0.0.4).

use std::fmt::Write as _;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::service::Gatehouse;
use crate::service::refusals::Bound;
use crate::store::ClientStore as _;
use crate::web::OpenConnections;
use crate::web::api::openapi::{ErrorBody, LoginErrors};
use crate::web::auth::{MetricsScope, Scoped};
use crate::web::error::ApiError;
use crate::web::limits;

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/metrics", get(metrics))
}

#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "server",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition 0.0.4; for admins or the `metrics` scope",
         body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 403, description = "Not an admin, or the scope lacks `metrics`", body = ErrorBody),
        LoginErrors,
    )
)]
async fn metrics(
    State(app): State<Gatehouse>,
    connections: Option<Extension<OpenConnections>>,
    _caller: Scoped<MetricsScope>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app.store.counts(app.now()).await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, samples: &[(&str, i64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge("gatehouse_users", "Accounts that are not deleted.", "gauge", &[("", c.users)]);
    gauge("gatehouse_users_2fa", "Accounts with two-factor authentication on.", "gauge", &[("", c.users_2fa)]);
    gauge(
        "gatehouse_sessions",
        "Unexpired sessions by kind.",
        "gauge",
        &[
            ("{kind=\"web\"}", c.sessions_web),
            ("{kind=\"app_password\"}", c.sessions_app_password),
            ("{kind=\"access_token\"}", c.sessions_access_token),
            ("{kind=\"client\"}", c.sessions_client),
        ],
    );
    gauge(
        "gatehouse_logins_total",
        "Login attempts by result, from the security event log.",
        "counter",
        &[("{result=\"ok\"}", c.logins_ok), ("{result=\"failed\"}", c.logins_failed)],
    );
    gauge(
        "gatehouse_throttled_total",
        "Throttled login attempts (recorded at most once a minute per account).",
        "counter",
        &[("", c.throttled)],
    );
    let refused: Vec<(String, i64)> = Bound::ALL
        .iter()
        .map(|b| (format!("{{bound=\"{}\"}}", b.as_str()), i64::try_from(app.refusals.get(*b)).unwrap_or(i64::MAX)))
        .collect();
    let refused: Vec<(&str, i64)> = refused.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    gauge(
        "gatehouse_refused_total",
        "Connections and requests refused because they reached a bound (see the README's bounds table).",
        "counter",
        &refused,
    );
    if let Some(Extension(OpenConnections(gate))) = connections {
        gauge("gatehouse_connections_open", "Client connections open now.", "gauge", &[("", as_i64(gate.open()))]);
    }
    if let Some(fds) = limits::open_descriptors() {
        gauge("gatehouse_open_fds", "File descriptors the process has open.", "gauge", &[("", as_i64(fds))]);
    }
    let fd_limit = i64::try_from(limits::descriptor_limit()).unwrap_or(i64::MAX);
    gauge("gatehouse_max_fds", "The process's limit on open file descriptors.", "gauge", &[("", fd_limit)]);
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out))
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
