//! The web UI's files, embedded in the binary (nothing to build or install): one page
//! whose script draws the cluster page or a topology's page from the REST API.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("../../ui/index.html");
const SCRIPT: &str = include_str!("../../ui/app.js");
const STYLE: &str = include_str!("../../ui/style.css");

/// What every page answer carries: no caching of a page that shows live state, and no
/// framing by another site.
const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    ),
];

/// `GET /` and `GET /topologies/{id}`: the page.
pub async fn index() -> impl IntoResponse {
    (
        PAGE_HEADERS,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX,
    )
}

/// `GET /ui/app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

/// `GET /ui/style.css`.
pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
}
