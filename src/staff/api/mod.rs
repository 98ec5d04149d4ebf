//! The staff API over HTTP: JSON in and out, `Authorization: Bearer <token>` on every
//! route but the login and the console page. Handlers are thin; what they do is in
//! [`super`] and [`calls`].

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Role, Scope, Staff, StaffError};
use crate::state::AppState;
use crate::store::AuditLine;
use crate::store::WorkKind;
use crate::words::prompts::Lang;

use super::calls;

mod extract;
use extract::{ApiPath, ApiQuery, body, deadline, no_store, query};
pub use extract::{Authed, DEADLINE, MAX_BODY_BYTES};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(super::console::page))
        .route("/staff/console.js", get(super::console::script))
        .route("/staff/login", post(login))
        .route("/staff/logout", post(logout))
        .route("/staff/me", get(me))
        .route("/staff/agencies", get(list_agencies))
        .route("/staff/calls", get(list_calls))
        .route("/staff/calls/{sid}", get(one_call))
        .route("/staff/calls/{sid}/transfer", post(transfer))
        .route("/staff/callbacks", get(list_callbacks).post(work_callback))
        .route(
            "/staff/callbacks/dialer",
            get(dialer_state).post(set_dialer),
        )
        .route("/staff/requests", get(list_requests).post(work_request))
        .route("/staff/requests/{id}/recording", get(request_recording))
        .route("/staff/payments", get(list_payments))
        .route("/staff/reports", get(report))
        .route("/staff/reports/chart/{file}", get(report_chart))
        .route("/staff/flows", get(list_flows))
        .route("/staff/flows/diagram.svg", get(flow_diagram))
        .route(
            "/staff/announcement",
            get(show_announcement)
                .put(set_announcement)
                .delete(clear_announcement),
        )
        .route("/staff/audit", get(audit))
        .route("/staff/accounts", get(accounts).post(add_account))
        .route("/staff/accounts/{name}/disable", post(disable_account))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(deadline))
        .layer(axum::middleware::map_response(no_store))
}

/// The client's address, for the per-address login limit: the socket's, or with
/// `CASELINE_TRUST_PROXY` the last `X-Forwarded-For` entry, the one the trusted proxy
/// appended (the client writes whatever it likes in the entries before it).
fn address(
    s: &AppState,
    parts: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> String {
    if s.line.settings.trust_proxy
        && let Some(last) = parts
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
    {
        // The last entry of the last header line: a proxy that adds a line of its own
        // (rather than appending to the client's) is read right too.
        return last.trim().chars().take(64).collect();
    }
    peer.map_or_else(|| "unknown".to_string(), |p| p.ip().to_string())
}

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
}

async fn login(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    b: Result<Json<LoginBody>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    let b = body(b)?;
    let addr = address(&s, &headers, peer.map(|c| c.0.0));
    Ok(Json(super::login(&s, &b.name, &b.password, &addr).await?))
}

async fn logout(State(s): State<AppState>, a: Authed) -> Result<StatusCode, StaffError> {
    super::logout(&s, &a.staff, &a.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(s): State<AppState>, a: Authed) -> impl IntoResponse {
    let agency = a.staff.agency.as_deref();
    Json(json!({
        "name": a.staff.name,
        "role": a.staff.role,
        "agency": agency,
        "agency_name": super::agency_name(s.line.agencies.as_ref(), agency),
    }))
}

/// The agencies a member's listings can be narrowed to (`?agency=ID`): every agency of
/// the agencies file for a statewide account, its own for a local one; none without a
/// file.
async fn list_agencies(
    State(s): State<AppState>,
    a: Authed,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Agent)?;
    let scope = Scope::of(&a.staff);
    let list: Vec<serde_json::Value> = s
        .line
        .agencies
        .iter()
        .flat_map(|all| all.iter())
        .filter(|ag| scope.sees(Some(&ag.id)))
        .map(|ag| json!({"id": ag.id, "name": ag.name_en}))
        .collect();
    Ok(Json(json!({"agencies": list, "own": a.staff.agency})))
}

/// A listing's query: `?agency=ID` narrows a statewide account's listing to one agency.
fn listing_scope(s: &AppState, a: &Authed, agency: Option<&str>) -> Result<Scope, StaffError> {
    Scope::listing(&a.staff, agency, s.line.agencies.as_ref())
}

#[derive(Deserialize)]
struct CallsQuery {
    /// The agent's language for the plain descriptions (`en` or `es`; English when
    /// not given or not one of ours).
    lang: Option<String>,
    /// One agency's calls (a statewide account's filter).
    agency: Option<String>,
}

async fn list_calls(
    State(s): State<AppState>,
    a: Authed,
    ApiQuery(q): ApiQuery<CallsQuery>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Agent)?;
    let scope = listing_scope(&s, &a, q.agency.as_deref())?;
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(Lang::En);
    Ok(Json(json!({"calls": calls::live(&s, lang, &scope).await?})))
}

async fn one_call(
    State(s): State<AppState>,
    a: Authed,
    ApiPath(sid): ApiPath<String>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Agent)?;
    Ok(Json(calls::detail(&s, &Scope::of(&a.staff), &sid).await?))
}

#[derive(Deserialize)]
struct TransferBody {
    entry: String,
    return_to: String,
}

async fn transfer(
    State(s): State<AppState>,
    a: Authed,
    ApiPath(sid): ApiPath<String>,
    b: Result<Json<TransferBody>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Agent)?;
    let b = body(b)?;
    let moved = calls::transfer(&s, &a.staff, &sid, &b.entry, &b.return_to).await?;
    Ok((StatusCode::ACCEPTED, Json(moved)))
}

#[derive(Deserialize)]
struct CallbackQuery {
    all: Option<bool>,
    /// One agency's (a statewide account's filter).
    agency: Option<String>,
}

async fn list_callbacks(
    State(s): State<AppState>,
    a: Authed,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let scope = listing_scope(&s, &a, q.agency.as_deref())?;
    let list = s
        .line
        .store
        .callback_queue()
        .list_of(q.all.unwrap_or(false), scope.agency())
        .await?;
    // The number whole only to whoever claimed the request to dial it by hand (the
    // claim is audited); masked to everyone else, and once the request is closed.
    let list: Vec<serde_json::Value> = list
        .into_iter()
        .map(|c| {
            let shown = c.status == "claimed" && c.claimed_by.as_deref() == Some(&a.staff.name);
            let number = if shown {
                c.number.clone()
            } else {
                crate::domain::callbacks::mask(&c.number)
            };
            let mut v = json!(c);
            v["number"] = json!(number);
            v["number_shown"] = json!(shown);
            v
        })
        .collect();
    Ok(Json(json!({"callbacks": list})))
}

#[derive(Deserialize)]
struct CallbackWork {
    id: i64,
    /// `claim` or `complete`.
    action: String,
    outcome: Option<String>,
}

async fn work_callback(
    State(s): State<AppState>,
    a: Authed,
    b: Result<Json<CallbackWork>, JsonRejection>,
) -> Result<Json<serde_json::Value>, StaffError> {
    let b = body(b)?;
    match b.action.as_str() {
        "dial-now" | "cancel" => {
            a.staff.require(Role::Supervisor)?;
            in_scope(&s, &a, WorkKind::Callback, b.id).await?;
            let now = s.line.now();
            let done = if b.action == "cancel" {
                let open = s
                    .line
                    .store
                    .callback_queue()
                    .state(b.id)
                    .await?
                    .is_some_and(|(st, _)| matches!(st.as_str(), "open" | "claimed"));
                if open {
                    s.line
                        .store
                        .callback_queue()
                        .close(b.id, "cancelled", now)
                        .await?;
                }
                open
            } else {
                match crate::domain::callbacks::dialer::dial_now(&s.dialer(), b.id).await? {
                    Some(crate::domain::callbacks::dialer::Tick::Dialled(_)) => true,
                    Some(crate::domain::callbacks::dialer::Tick::Off) => {
                        return Err(StaffError::BadRequest(
                            "the dialer is not configured (CASELINE_CALLBACK_FROM)".into(),
                        ));
                    }
                    Some(other) => {
                        return Err(StaffError::Conflict(format!(
                            "callback {} was not dialled ({other:?}); try again",
                            b.id
                        )));
                    }
                    None => false,
                }
            };
            if !done {
                return Err(StaffError::Conflict(format!(
                    "callback {} is not open",
                    b.id
                )));
            }
            s.line
                .store
                .audit_log()
                .write(AuditLine::by_staff(
                    now,
                    Some(&a.staff.name),
                    &format!("callback.{}", b.action),
                    &format!("#{}", b.id),
                ))
                .await?;
            Ok(Json(json!({"id": b.id, "action": b.action})))
        }
        _ => work_item(&s, &a, WorkKind::Callback, b).await,
    }
}

async fn dialer_state(
    State(s): State<AppState>,
    a: Authed,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let paused = s.line.store.callback_queue().paused().await?;
    Ok(Json(json!({
        "configured": s.line.settings.dialer.from.is_some(),
        "paused": paused,
        // Whether this member may pause it (statewide accounts only).
        "can_pause": a.staff.agency.is_none(),
    })))
}

#[derive(Deserialize)]
struct DialerBody {
    paused: bool,
}

/// Pauses or resumes the dialer on every server (a statewide supervisor and above: it
/// dials for every agency), audited.
async fn set_dialer(
    State(s): State<AppState>,
    a: Authed,
    b: Result<Json<DialerBody>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    a.staff.require_statewide()?;
    let b = body(b)?;
    s.line.store.callback_queue().set_paused(b.paused).await?;
    let what = if b.paused { "paused" } else { "resumed" };
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            s.line.now(),
            Some(&a.staff.name),
            "callback.dialer",
            what,
        ))
        .await?;
    Ok(Json(json!({"paused": b.paused})))
}

/// Refuses work item `id` of `kind` unless it is there and in the member's scope, with
/// the one answer for both (404), so another agency's ids cannot be told from missing
/// ones.
async fn in_scope(s: &AppState, a: &Authed, kind: WorkKind, id: i64) -> Result<(), StaffError> {
    match s.line.store.work().agency_of(kind, id).await? {
        Some(agency) if Scope::of(&a.staff).sees(agency.as_deref()) => Ok(()),
        _ => Err(StaffError::NotFound(format!(
            "no {} with that id",
            kind.noun()
        ))),
    }
}

/// Claims or completes a work item of `kind` (supervisor and above): 404 when it is not
/// there or another agency's, an outcome of 1 to 200 characters to complete, 409 when
/// the item is not in a state for it, audited.
async fn work_item(
    s: &AppState,
    a: &Authed,
    kind: WorkKind,
    b: CallbackWork,
) -> Result<Json<serde_json::Value>, StaffError> {
    a.staff.require(Role::Supervisor)?;
    if !matches!(b.action.as_str(), "claim" | "complete") {
        return Err(StaffError::BadRequest(
            "action must be 'claim' or 'complete'".into(),
        ));
    }
    in_scope(s, a, kind, b.id).await?;
    let now = s.line.now();
    let queue = s.line.store.work();
    let done = match b.action.as_str() {
        "claim" => queue.claim(kind, b.id, &a.staff.name, now).await?,
        "complete" => {
            let outcome = b.outcome.as_deref().map(str::trim).unwrap_or("");
            if outcome.is_empty() || outcome.len() > 200 {
                return Err(StaffError::BadRequest(
                    "say what happened: an outcome of 1 to 200 characters".into(),
                ));
            }
            if kind == WorkKind::Request {
                super::requests::delete_recording(s, b.id).await?;
            }
            queue
                .complete(kind, b.id, &a.staff.name, outcome, now)
                .await?
        }
        _ => {
            return Err(StaffError::BadRequest(
                "action must be 'claim' or 'complete'".into(),
            ));
        }
    };
    let noun = kind.noun();
    if !done {
        return Err(StaffError::Conflict(format!(
            "{noun} {} is not in a state to {}",
            b.id, b.action
        )));
    }
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            now,
            Some(&a.staff.name),
            &format!("{noun}.{}", b.action),
            &b.id.to_string(),
        ))
        .await?;
    if kind == WorkKind::Callback && b.action == "claim" {
        // From here the listing shows this staff member the whole number to dial.
        s.line
            .store
            .audit_log()
            .write(AuditLine::by_staff(
                now,
                Some(&a.staff.name),
                "callback.number.shown",
                &b.id.to_string(),
            ))
            .await?;
    }
    Ok(Json(json!({"id": b.id, "action": b.action, "ok": true})))
}

async fn list_requests(
    State(s): State<AppState>,
    a: Authed,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let scope = listing_scope(&s, &a, q.agency.as_deref())?;
    let list = s
        .line
        .store
        .requests()
        .list_of(q.all.unwrap_or(false), scope.agency())
        .await?;
    Ok(Json(json!({"requests": list})))
}

/// Claims or completes a request by mail, with the same rules as callbacks.
async fn work_request(
    State(s): State<AppState>,
    a: Authed,
    b: Result<Json<CallbackWork>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    work_item(&s, &a, WorkKind::Request, body(b)?).await
}

/// The recorded address of a request, streamed from the provider (supervisor and
/// above, audited); the provider's URL is never shown.
async fn request_recording(
    State(s): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, StaffError> {
    a.staff.require(Role::Supervisor)?;
    super::requests::recording(&s, &a.staff, id).await
}

#[derive(Deserialize)]
struct PaymentsQuery {
    /// How many days back (default 30, at most 400).
    days: Option<i64>,
    /// One agency's (a statewide account's filter).
    agency: Option<String>,
}

/// Card payments taken by phone (agent and above): newest first.
async fn list_payments(
    State(s): State<AppState>,
    a: Authed,
    ApiQuery(q): ApiQuery<PaymentsQuery>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Agent)?;
    let scope = listing_scope(&s, &a, q.agency.as_deref())?;
    let days = q.days.unwrap_or(30);
    if !(1..=400).contains(&days) {
        return Err(StaffError::BadRequest("days must be from 1 to 400".into()));
    }
    let since = s.line.now() - days * 86_400;
    let list = s
        .line
        .store
        .card_payments()
        .list_of(since, 1000, scope.agency())
        .await?;
    Ok(Json(json!({"payments": list})))
}

#[derive(Deserialize)]
struct ReportQuery {
    /// The last N days (default: the last 24 hours); text, so that a bad value gets
    /// our message rather than the extractor's.
    days: Option<String>,
    /// `include` counts the load tester's calls.
    load_tests: Option<String>,
    /// One local agency's calls (a statewide account's choice; a local account may name
    /// only its own).
    agency: Option<String>,
}

impl ReportQuery {
    fn asked(&self, s: &AppState, staff: &Staff) -> Result<super::reports::Asked, StaffError> {
        super::reports::Asked::parse(self.days.as_deref(), self.load_tests.as_deref())?.for_agency(
            staff,
            self.agency.as_deref(),
            s.line.agencies.as_ref(),
        )
    }
}

/// An SVG we drew. It is shown as an image (where it runs nothing), and should someone
/// open it as a page, its own policy lets nothing load or run.
fn svg(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

/// The call analytics (supervisor and above), with the keys of `caseline report
/// --format json`.
async fn report(
    State(s): State<AppState>,
    a: Authed,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let asked = query(q)?.asked(&s, &a.staff)?;
    Ok(Json(super::reports::figures(&s, asked).await?))
}

/// A chart of the call analytics, as SVG (supervisor and above).
async fn report_chart(
    State(s): State<AppState>,
    a: Authed,
    ApiPath(file): ApiPath<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let asked = query(q)?.asked(&s, &a.staff)?;
    Ok(svg(super::reports::chart(&s, &file, asked).await?))
}

/// The flow files a diagram can be limited to (supervisor and above).
async fn list_flows(State(s): State<AppState>, a: Authed) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    Ok(Json(json!({"flows": super::reports::flow_files(&s)})))
}

#[derive(Deserialize)]
struct DiagramQuery {
    /// One flow file's steps (`main`); all of them when not given.
    flow: Option<String>,
}

/// The loaded flows as an SVG diagram (supervisor and above).
async fn flow_diagram(
    State(s): State<AppState>,
    a: Authed,
    q: Result<Query<DiagramQuery>, QueryRejection>,
) -> Result<Response, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let file = query(q)?.flow.filter(|f| !f.is_empty());
    Ok(svg(super::reports::diagram(&s, file).await?))
}

async fn show_announcement(
    State(s): State<AppState>,
    a: Authed,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    let slot = s.line.store.announcements().slot().await?;
    // The zone names the agency's clock, which the console's date-time picker is in.
    Ok(Json(json!({
        "announcement": slot.map(|a| json!({
            "en": a.text_en, "es": a.text_es, "from": a.starts_at, "until": a.ends_at,
        })),
        "zone": s.line.settings.hours.tz.name(),
    })))
}

#[derive(Deserialize)]
struct AnnouncementBody {
    en: String,
    es: String,
    from: Option<String>,
    until: Option<String>,
}

async fn set_announcement(
    State(s): State<AppState>,
    a: Authed,
    b: Result<Json<AnnouncementBody>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    a.staff.require_statewide()?;
    let b = body(b)?;
    let now = s.line.clock.now();
    let ann = crate::domain::announcement::build(
        &b.en,
        &b.es,
        b.from.as_deref(),
        b.until.as_deref(),
        s.line.settings.hours.tz,
        now,
    )
    .map_err(StaffError::BadRequest)?;
    s.line
        .store
        .announcements()
        .set(&ann, now.timestamp())
        .await?;
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            now.timestamp(),
            Some(&a.staff.name),
            "announcement.set",
            "ok",
        ))
        .await?;
    Ok(Json(json!({"ok": true})))
}

async fn clear_announcement(
    State(s): State<AppState>,
    a: Authed,
) -> Result<StatusCode, StaffError> {
    a.staff.require(Role::Supervisor)?;
    a.staff.require_statewide()?;
    s.line.store.announcements().clear().await?;
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            s.line.now(),
            Some(&a.staff.name),
            "announcement.clear",
            "ok",
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(State(s): State<AppState>, a: Authed) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Supervisor)?;
    a.staff.require_statewide()?;
    Ok(Json(
        json!({"audit": s.line.store.audit_log().recent(200).await?}),
    ))
}

async fn accounts(State(s): State<AppState>, a: Authed) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Admin)?;
    a.staff.require_statewide()?;
    Ok(Json(
        json!({"accounts": s.line.store.staff().list().await?}),
    ))
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
    role: String,
    /// The agency the account works for (its id in the agencies file); statewide when
    /// not given.
    agency: Option<String>,
    password: String,
}

async fn add_account(
    State(s): State<AppState>,
    a: Authed,
    b: Result<Json<NewAccount>, JsonRejection>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Admin)?;
    a.staff.require_statewide()?;
    let b = body(b)?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| StaffError::BadRequest("role must be agent, supervisor or admin".into()))?;
    super::check_name(&b.name).map_err(StaffError::BadRequest)?;
    super::check_password(&b.password).map_err(StaffError::BadRequest)?;
    let agency = b
        .agency
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if let Some(id) = agency {
        super::check_agency(s.line.agencies.as_ref(), id).map_err(StaffError::BadRequest)?;
    }
    if s.line.store.staff().credentials(&b.name).await?.is_some() {
        return Err(StaffError::Conflict(format!("'{}' already exists", b.name)));
    }
    let id = super::add(
        &s.line.store,
        &s.line.hasher,
        s.line.now(),
        &b.name,
        role,
        agency,
        &b.password,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "name": b.name, "role": role, "agency": agency})),
    ))
}

async fn disable_account(
    State(s): State<AppState>,
    a: Authed,
    ApiPath(name): ApiPath<String>,
) -> Result<impl IntoResponse, StaffError> {
    a.staff.require(Role::Admin)?;
    a.staff.require_statewide()?;
    if !s.line.store.staff().disable(&name, s.line.now()).await? {
        return Err(StaffError::NotFound(format!(
            "no enabled account named '{name}'"
        )));
    }
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            s.line.now(),
            Some(&a.staff.name),
            "staff.disable",
            &name,
        ))
        .await?;
    Ok(Json(json!({"name": name, "disabled": true})))
}
