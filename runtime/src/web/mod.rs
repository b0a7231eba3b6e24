//! Seeing a running topology over HTTP: the REST API, the web UI (its files embedded in
//! the binary), Prometheus's `/metrics` and service discovery, and who may use them. The
//! same server runs in nimbus (`--http ADDR`) and in a local run (`run --ui ADDR`); what
//! it shows comes from a [`api::Backend`].

pub mod api;
pub mod assets;
pub mod auth;
pub mod history;
pub mod local;
pub mod prometheus;
pub mod tls;
pub mod view;

use std::sync::Arc;
use tokio_rustls::rustls::ServerConfig;

/// Serves `app` on `listener`, over HTTPS with `tls`, in a task of the current runtime
/// until it stops; a failure is logged. `what` names the server in the log.
pub fn spawn(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: axum::Router,
    what: &'static str,
) -> std::io::Result<()> {
    match tls {
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config)?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the {what} stopped");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the {what} stopped");
                }
            });
        }
    }
    Ok(())
}
