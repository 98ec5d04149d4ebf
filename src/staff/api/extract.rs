//! Where the staff API meets axum: its error as a JSON answer, the signed-in staff
//! member, bodies, query strings and paths refused as the API's JSON 400, the deadline
//! and the headers every answer carries.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::staff::{Staff, StaffError};
use crate::state::AppState;

/// Staff answers hold case data: never cached by a browser or proxy, and never
/// content-sniffed into something the browser would run.
pub(super) async fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    r
}

impl IntoResponse for StaffError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            StaffError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            StaffError::BadLogin => (StatusCode::UNAUTHORIZED, "bad-login"),
            StaffError::Locked(_) => (StatusCode::LOCKED, "account-locked"),
            StaffError::TooManyFromAddress => (StatusCode::TOO_MANY_REQUESTS, "too-many-attempts"),
            StaffError::Forbidden(_) | StaffError::OtherAgency | StaffError::StatewideOnly => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            StaffError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            StaffError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            StaffError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            StaffError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            StaffError::Provider { status, code, .. } => (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                *code,
            ),
            StaffError::TimedOut => {
                tracing::warn!("a staff request passed its deadline");
                (StatusCode::SERVICE_UNAVAILABLE, "timeout")
            }
            StaffError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "staff request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut r = (
            status,
            Json(json!({"error": code, "message": self.to_string()})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// The signed-in staff member, from `Authorization: Bearer <token>`.
pub struct Authed {
    pub staff: Staff,
    pub(super) token: String,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, StaffError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(StaffError::Unauthenticated)?
            .to_string();
        let staff = crate::staff::authenticate(s, &token).await?;
        Ok(Authed { staff, token })
    }
}

/// Every staff request answers within this, even with the database stuck.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) async fn deadline(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(DEADLINE, next.run(req)).await {
        Ok(r) => r,
        Err(_) => StaffError::TimedOut.into_response(),
    }
}

/// Staff bodies are a few hundred bytes of JSON.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, or a clear 400 saying what is wrong with it (413 when it is too large).
pub(super) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, StaffError> {
    b.map(|Json(t)| t).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StaffError::TooLarge(MAX_BODY_BYTES)
        } else {
            StaffError::BadRequest(format!("bad JSON body: {}", e.body_text()))
        }
    })
}

/// A query string, or a clear 400 saying what is wrong with it.
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, StaffError> {
    q.map(|Query(t)| t)
        .map_err(|e| StaffError::BadRequest(format!("bad query string: {}", e.body_text())))
}

/// axum's `Query`, refused as the API's JSON 400 rather than axum's plain text.
pub(super) struct ApiQuery<T>(pub(super) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, StaffError> {
        query(Query::<T>::from_request_parts(parts, s).await).map(ApiQuery)
    }
}

/// axum's `Path`, refused as the API's JSON 400 (a segment that is not the type asked
/// for, or not text, such as `%FF`) rather than axum's plain text.
pub(super) struct ApiPath<T>(pub(super) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, StaffError> {
        Path::<T>::from_request_parts(parts, s)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| StaffError::BadRequest(format!("bad path: {}", e.body_text())))
    }
}
