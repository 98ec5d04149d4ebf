//! The provider's webhooks over HTTP: signature check, one tracing span per webhook,
//! TwiML out. Handlers are thin; the logic is in [`crate::call`].

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use tracing::Instrument;

use crate::call::{self, CallError, Params};
use crate::http::signature;
use crate::state::AppState;
use crate::telephony::twiml::Response;

/// Webhook bodies are a few hundred bytes; anything far larger is not the provider.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Well under the provider's 15-second limit, so the caller hears our apology, not its.
pub const WEBHOOK_DEADLINE: Duration = Duration::from_secs(8);

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/voice/incoming", post(incoming))
        .route("/voice/step/{name}", post(step))
        .route("/voice/input/{name}", post(input))
        .route("/voice/recover", post(recover))
        .route("/voice/status", post(status))
        .route("/voice/paid/{name}", post(paid))
        .route("/voice/pay-status", post(pay_status))
        .route("/voice/tty/after", post(tty_after))
        .route("/voice/callback/answer", post(callee_answer))
        .route("/voice/callback/status", post(callee_status))
        .route("/voice/fallback", post(fallback))
        .route("/voice/queue/wait", post(queue_wait))
        .route("/voice/staff/{entry}", post(staff_entry))
        .route("/voice/queue/choice", post(queue_choice))
        // Any other URL under /voice (`/voice/` itself too, which `{*rest}` does not
        // match): a signed request still gets TwiML, never a bare 404.
        .route("/voice", post(unknown))
        .route("/voice/", post(unknown))
        .route("/voice/{*rest}", post(unknown))
        .layer(middleware::from_fn_with_state(state, signed_webhook))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_answer,
        ))
}

/// The webhook's form parameters, moved out of the request where [`signed_webhook`]
/// left them after checking the signature (axum's `Extension` would copy them). Absent
/// only if a route skipped that layer; then they are empty, so the handler answers an
/// apology rather than the 500 a rejection would be.
struct Form(Params);

impl<S: Send + Sync> FromRequestParts<S> for Form {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Form(
            parts.extensions.remove::<Params>().unwrap_or_default(),
        ))
    }
}

/// TwiML with the right content type.
pub struct Twiml(pub Response);

impl IntoResponse for Twiml {
    fn into_response(self) -> HttpResponse {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            )],
            self.0.to_xml(),
        )
            .into_response()
    }
}

/// The error, kept on the response so [`signed_webhook`] logs it once, in the span.
#[derive(Clone)]
struct Failure(std::sync::Arc<String>);

/// Answers a webhook error with the apology TwiML (status 200: a 5xx would make the
/// provider play its own error and hang up).
struct Apology(CallError, AppState);

impl IntoResponse for Apology {
    fn into_response(self) -> HttpResponse {
        let Apology(err, state) = self;
        let mut response = Twiml(call::apology(&state.line, &err)).into_response();
        response
            .extensions_mut()
            .insert(Failure(std::sync::Arc::new(format!("{:#}", err.source))));
        response
    }
}

/// Runs a webhook's work within [`WEBHOOK_DEADLINE`]: its answer, or the apology.
///
/// The work is boxed here, once. Unboxed, the whole state of a step (the flow engine's,
/// the store's) rides inside every future wrapped around it, and each layer copies it
/// whole as it is built and moved (axum boxes the handler's future again): about a
/// twentieth of a menu step's CPU went to those copies. Boxed, only a pointer moves.
fn answer<W>(state: AppState, work: W) -> impl Future<Output = HttpResponse> + Send
where
    W: Future<Output = Result<Response, CallError>> + Send + 'static,
{
    let work = Box::pin(work);
    async move {
        match tokio::time::timeout(WEBHOOK_DEADLINE, work).await {
            Ok(Ok(r)) => Twiml(r).into_response(),
            Ok(Err(e)) => Apology(e, state).into_response(),
            Err(_) => Apology(
                CallError::new(anyhow::anyhow!(
                    "webhook took longer than {WEBHOOK_DEADLINE:?}"
                )),
                state,
            )
            .into_response(),
        }
    }
}

async fn incoming(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::incoming(&s.line, &p).await }).await
}

/// A path segment, or the apology when it is not one (invalid UTF-8 such as `%FF`):
/// a signed webhook always gets TwiML, never axum's plain-text 400.
type Segment = Result<Path<String>, PathRejection>;

fn segment(p: Segment) -> Result<String, CallError> {
    p.map(|Path(name)| name)
        .map_err(|_| CallError::new(anyhow::anyhow!("a step name that is not text")))
}

async fn step(State(s): State<AppState>, name: Segment, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move {
        call::step(&s.line, &p, &segment(name)?).await
    })
    .await
}

/// The `<Pay>` action callback (`?pay={id}`): the payment's result, then the flow's
/// result step.
async fn paid(State(s): State<AppState>, name: Segment, uri: Uri, Form(p): Form) -> HttpResponse {
    let pay_id = query_value(uri.query(), "pay");
    answer(s.clone(), async move {
        call::paid(&s.line, &p, &segment(name)?, pay_id.as_deref()).await
    })
    .await
}

/// A callback the dialer placed was answered (`?request=N`).
async fn callee_answer(State(s): State<AppState>, uri: Uri, Form(p): Form) -> HttpResponse {
    let request = query_number(uri.query(), "request");
    answer(s.clone(), async move {
        call::callee::answer(&s.line, &p, request).await
    })
    .await
}

/// A callback the dialer placed ended (`?request=N`).
async fn callee_status(State(s): State<AppState>, uri: Uri, Form(p): Form) -> HttpResponse {
    let request = query_number(uri.query(), "request");
    answer(s.clone(), async move {
        call::callee::status(&s.line, &p, request).await
    })
    .await
}

/// The TTY stream closed: what it left for the provider (a queue, a dial, a hang-up).
async fn tty_after(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    answer(
        s.clone(),
        async move { call::tty::after(&s.line, &p).await },
    )
    .await
}

/// `<Pay>`'s progress (each step and error): acknowledged, and logged by kind only.
async fn pay_status(Form(p): Form) -> HttpResponse {
    let step = p.get("For").filter(|v| is_word(v)).unwrap_or("-");
    let error = p.get("ErrorType").filter(|v| is_word(v)).unwrap_or("-");
    tracing::info!(step, error, "card payment progress");
    Twiml(Response::new()).into_response()
}

/// A provider keyword (`payment-card-number`, `input-timeout`): short, lower case.
fn is_word(v: &str) -> bool {
    v.len() <= 48 && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

async fn input(State(s): State<AppState>, name: Segment, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move {
        call::input(&s.line, &p, &segment(name)?).await
    })
    .await
}

/// The recovery attempt from `?attempt=N`. Anything else (missing, malformed,
/// repeated) counts as a late attempt: the call ends politely rather than loops.
fn attempt(query: Option<&str>) -> u32 {
    query_number(query, "attempt")
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1)
        .max(1)
}

async fn recover(State(s): State<AppState>, uri: Uri, Form(p): Form) -> HttpResponse {
    let attempt = attempt(uri.query());
    answer(s.clone(), async move {
        call::recover(&s.line, &p, attempt).await
    })
    .await
}

/// A signed request for a URL we never wrote: the caller still hears a way forward.
async fn unknown(State(s): State<AppState>) -> HttpResponse {
    Apology(
        CallError::new(anyhow::anyhow!("the provider asked for an unknown URL")),
        s,
    )
    .into_response()
}

async fn status(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::status(&s.line, &p).await }).await
}

async fn fallback(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    // The provider's error codes are a few digits; anything else (a card number, an
    // SSN, free text) is not written to the log.
    let code = p.get("ErrorCode").map(|c| {
        let ok = (1..=6).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit());
        if ok { c } else { "not a code" }
    });
    tracing::warn!(
        error_code = code.unwrap_or("none"),
        "the provider used the fallback URL"
    );
    Twiml(call::fallback(&s.line, &p).await).into_response()
}

async fn staff_entry(
    State(s): State<AppState>,
    entry: Segment,
    uri: Uri,
    Form(p): Form,
) -> HttpResponse {
    let handoff = query_number(uri.query(), "handoff");
    answer(s.clone(), async move {
        call::staff_entry(&s.line, &p, &segment(entry)?, handoff).await
    })
    .await
}

/// A whole number from `?name=N`, if given once and well-formed.
fn query_number(query: Option<&str>, name: &str) -> Option<i64> {
    query_value(query, name)?.parse().ok()
}

/// `?t=TURN` or `?t=TURN.SEALED` (the session carried, see `call::carried`), if given
/// once. An old URL's `&s=` is not read: its call is read from the database.
fn turn_in(query: Option<&str>) -> (Option<u64>, Option<String>) {
    query_value(query, "t").map_or((None, None), |t| crate::call::turn_of(&t))
}

/// `?name=V`, if given once.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let mut values = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v);
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v.into_owned()),
        _ => None,
    }
}

async fn queue_wait(State(s): State<AppState>, uri: Uri, Form(p): Form) -> HttpResponse {
    let queue = query_value(uri.query(), "queue");
    Twiml(crate::call::queue::wait(&s.line, &p, queue.as_deref()).await).into_response()
}

/// A key pressed in the queue. On any error the caller keeps their place (a moment of
/// silence, then the wait music again) rather than hearing the main apology.
async fn queue_choice(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    match tokio::time::timeout(WEBHOOK_DEADLINE, crate::call::queue::choice(&s.line, &p)).await {
        Ok(Ok(r)) => Twiml(r).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{:#}", e.source), "queue choice failed; caller keeps their place");
            let mut r = Response::new();
            r.push(crate::telephony::twiml::Element::new("Pause").attr("length", "1"));
            Twiml(r).into_response()
        }
        Err(_) => {
            let mut r = Response::new();
            r.push(crate::telephony::twiml::Element::new("Pause").attr("length", "1"));
            Twiml(r).into_response()
        }
    }
}

/// Everything a webhook does, from reading its body on, answers within this: past it,
/// the caller hears the apology (the handlers' own deadline is shorter).
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(10);

/// [`checked_webhook`] within [`ROUTE_DEADLINE`], a slow body included.
async fn signed_webhook(State(s): State<AppState>, req: Request, next: Next) -> HttpResponse {
    match tokio::time::timeout(ROUTE_DEADLINE, checked_webhook(s.clone(), req, next)).await {
        Ok(r) => r,
        Err(_) => Apology(
            CallError::new(anyhow::anyhow!("webhook passed its route deadline")),
            s,
        )
        .into_response(),
    }
}

/// Reads the form body, checks the provider's signature against the URL rebuilt from
/// the public base, and runs the handler inside a span carrying the CallSid. Refuses
/// with 403 anything unsigned or forged, and never logs the parameters.
async fn checked_webhook(s: AppState, req: Request, next: Next) -> HttpResponse {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    // The route as the router knows it (`/voice/input/{name}`): a bounded label.
    let template = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
        }
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let route = parts.uri.path().to_string();
    if let Some(keys) = &s.keys {
        let url = format!("{}{path_and_query}", s.line.settings.public_url);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let signature = header("x-twilio-signature").unwrap_or("");
        let settings = header("x-twilio-webhooks-signature-settings");
        if !signature::validate(keys, settings, &url, &params, signature) {
            refused(&route);
            crate::ops::metrics::webhook(&template, "refused", started.elapsed().as_secs_f64());
            return (StatusCode::FORBIDDEN, "invalid signature\n").into_response();
        }
    }
    let (turn, sealed) = turn_in(parts.uri.query());
    let params = Params {
        fields: params,
        turn,
        sealed,
    };
    let span = tracing::info_span!(
        "webhook",
        route = %Short(&route),
        call_sid = tracing::field::Empty,
        step = tracing::field::Empty,
    );
    let mut req = Request::from_parts(parts, Body::empty());
    req.extensions_mut().insert(params);
    async move {
        let mut response = next.run(req).await;
        if response.status() != StatusCode::OK {
            // A rejection from axum itself (an extractor, an unknown method): the
            // provider must still get TwiML it can play.
            let status = response.status();
            response = Apology(
                CallError::new(anyhow::anyhow!("the request was rejected with {status}")),
                s.clone(),
            )
            .into_response();
        }
        let outcome = if let Some(Failure(e)) = response.extensions().get::<Failure>() {
            tracing::error!(error = %e, "webhook failed; the caller heard an apology");
            "apology"
        } else {
            tracing::debug!("webhook answered");
            "answered"
        };
        crate::ops::metrics::webhook(&template, outcome, started.elapsed().as_secs_f64());
        response
    }
    .instrument(span)
    .await
}

/// Refusals logged in full per interval; past that they are only counted.
const REFUSALS_LOGGED: u32 = 10;
const REFUSAL_INTERVAL_SECS: u64 = 10;
/// How much of a request's path a log line keeps (signed or not: a step name is short).
const LOGGED_PATH_CHARS: usize = 96;

static REFUSALS: LogBudget = LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS);

/// Logs a refused webhook without letting a flood of them flood the log: the path is
/// cut short, and past [`REFUSALS_LOGGED`] an interval the rest are only counted, the
/// count logged once the interval is over.
fn refused(route: &str) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match REFUSALS.admit(secs) {
        Admit::Log { unlogged } => {
            if unlogged > 0 {
                tracing::warn!(
                    refused = unlogged,
                    "more webhooks were refused (bad signature) than were logged"
                );
            }
            tracing::warn!(
                route = %Short(route),
                "refused a webhook with a missing or invalid signature (usually \
                 CASELINE_PUBLIC_URL is not the address the provider calls, or \
                 CASELINE_TWILIO_AUTH_TOKEN is not the account's auth token: the provider \
                 signs the URL it calls with that token)"
            );
        }
        Admit::Count => {}
    }
}

/// A path as a log line keeps it: at most [`LOGGED_PATH_CHARS`], then `...`.
struct Short<'a>(&'a str);

impl std::fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = self.0;
        let mut end = route.len().min(LOGGED_PATH_CHARS);
        while !route.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < route.len() { "..." } else { "" };
        write!(f, "{}{cut}", &route[..end])
    }
}

/// A log line budget per interval, lock-free.
pub struct LogBudget {
    per_interval: u32,
    interval_secs: u64,
    /// The interval's number in the high 32 bits, lines admitted in the low 32.
    state: std::sync::atomic::AtomicU64,
    /// Lines not logged since the last one that was.
    unlogged: std::sync::atomic::AtomicU64,
}

/// What to do with one more line.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Log it, saying first how many were not logged before it.
    Log { unlogged: u64 },
    /// Only count it.
    Count,
}

impl LogBudget {
    pub const fn new(per_interval: u32, interval_secs: u64) -> LogBudget {
        LogBudget {
            per_interval,
            interval_secs,
            state: std::sync::atomic::AtomicU64::new(0),
            unlogged: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn admit(&self, now_secs: u64) -> Admit {
        use std::sync::atomic::Ordering::Relaxed;
        let interval = (now_secs / self.interval_secs.max(1)) & 0xFFFF_FFFF;
        let admitted = self
            .state
            .fetch_update(Relaxed, Relaxed, |state| {
                let (at, n) = (state >> 32, state & 0xFFFF_FFFF);
                if at != interval {
                    Some((interval << 32) | 1)
                } else if n < u64::from(self.per_interval) {
                    Some(state + 1)
                } else {
                    None
                }
            })
            .is_ok();
        if admitted {
            Admit::Log {
                unlogged: self.unlogged.swap(0, Relaxed),
            }
        } else {
            self.unlogged.fetch_add(1, Relaxed);
            Admit::Count
        }
    }
}

/// A panic in a handler still gets well-formed TwiML: a short bilingual apology.
fn panic_answer(_: Box<dyn std::any::Any + Send + 'static>) -> HttpResponse {
    tracing::error!("a webhook handler panicked; the caller heard an apology");
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
               <Say language=\"en-US\">We are sorry, something went wrong. Please call again in a few minutes.</Say>\
               <Say language=\"es-US\">Lo sentimos, algo salió mal. Por favor llame de nuevo en unos minutos.</Say>\
               <Hangup/></Response>";
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )],
        xml,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_query_names_its_turn_and_the_session_sealed_with_it() {
        use super::turn_in;
        let sealed = Some("AbC-_09".to_string());
        assert_eq!(turn_in(Some("t=42")), (Some(42), None));
        assert_eq!(turn_in(Some("x=1&t=42.AbC-_09")), (Some(42), sealed));
        assert_eq!(turn_in(None), (None, None));
        assert_eq!(turn_in(Some("t=1&t=2")), (None, None), "given twice");
        // The previous form's seal is not read (the call is read from the database).
        assert_eq!(turn_in(Some("t=42&s=AbC")), (Some(42), None));
    }

    use super::*;

    #[test]
    fn a_flood_of_refusals_logs_a_few_lines_and_a_count() {
        let budget = LogBudget::new(3, 10);
        let first: Vec<Admit> = (0..5).map(|_| budget.admit(100)).collect();
        assert_eq!(
            first,
            [
                Admit::Log { unlogged: 0 },
                Admit::Log { unlogged: 0 },
                Admit::Log { unlogged: 0 },
                Admit::Count,
                Admit::Count,
            ]
        );
        // The next interval logs again, and says how many went unlogged.
        assert_eq!(budget.admit(110), Admit::Log { unlogged: 2 });
        assert_eq!(budget.admit(111), Admit::Log { unlogged: 0 });
    }

    #[test]
    fn a_repeated_or_malformed_attempt_counts_as_late() {
        assert_eq!(attempt(Some("attempt=1")), 1);
        assert_eq!(attempt(Some("attempt=2")), 2);
        assert_eq!(attempt(Some("attempt=0")), 1);
        assert_eq!(attempt(Some("attempt=1&attempt=2")), 1);
        assert_eq!(attempt(Some("attempt=x")), 1);
        assert_eq!(attempt(None), 1);
    }
}
