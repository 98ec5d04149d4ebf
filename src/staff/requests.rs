//! Staff work on callers' requests beyond claim and complete: hearing a recorded
//! address through the server (the recording stays private at the provider; staff
//! never see its URL), and deleting it at the provider when the request is completed.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::calls::provider_error;
use super::{Scope, Staff, StaffError};
use crate::state::Services;
use crate::store::AuditLine;

fn not_found(what: &str) -> StaffError {
    StaffError::NotFound(what.to_string())
}

/// The recording of request `id` as audio, streamed as the provider sends it. Audited.
/// Another agency's request answers as one that is not there.
pub async fn recording(s: &Services, staff: &Staff, id: i64) -> Result<Response, StaffError> {
    let who = staff.name.as_str();
    let request = s
        .line
        .store
        .requests()
        .get(id)
        .await?
        .filter(|r| Scope::of(staff).sees(r.agency.as_deref()))
        .ok_or_else(|| not_found("no request with that id"))?;
    let sid = request
        .recording_sid
        .ok_or_else(|| not_found("this request has no recording (or it was deleted)"))?;
    let upstream = s
        .provider
        .recordings()
        .fetch(&sid)
        .await
        .map_err(provider_error)?;
    s.line
        .store
        .audit_log()
        .write(
            AuditLine::by_staff(s.line.now(), Some(who), "request.recording", "played")
                .case(Some(request_case(s, id).await?)),
        )
        .await?;
    let kind = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("audio/"))
        .unwrap_or("audio/mpeg")
        .to_string();
    let body = futures_util::stream::unfold(Some(upstream), |state| async move {
        let mut r = state?;
        match r.chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(r))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from_stream(body))
        .map_err(|e| StaffError::Internal(e.into()))
}

async fn request_case(s: &Services, id: i64) -> anyhow::Result<i64> {
    s.line.store.requests().case_of(id).await
}

/// Before request `id` is completed: its recording, if any, is deleted at the provider
/// and forgotten here. If the provider cannot delete it, the request stays open (the
/// staff member hears why and tries again), so a completed request never leaves a
/// recording behind.
pub async fn delete_recording(s: &Services, id: i64) -> Result<(), StaffError> {
    let Some(request) = s.line.store.requests().get(id).await? else {
        return Ok(());
    };
    let Some(sid) = request.recording_sid.filter(|_| request.status != "done") else {
        return Ok(());
    };
    s.provider
        .recordings()
        .delete(&sid)
        .await
        .map_err(provider_error)?;
    s.line.store.requests().forget_recording(id).await?;
    Ok(())
}
