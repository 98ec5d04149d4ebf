//! The staff console: one server-rendered page and a small script, no build step. The
//! page keeps its token in `sessionStorage` and sends it as a Bearer header, so no
//! cookie exists for another site to ride on (no CSRF surface).

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");

/// Headers that keep the page to itself: no framing, no outside scripts. Images and
/// audio may also come from `blob:` URLs: the charts, the diagram and recordings are
/// fetched with the staff token and shown from memory.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' blob:; media-src 'self' blob:; \
                   frame-ancestors 'none'; form-action 'self'";

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}
