//! The provider's webhooks over HTTP: signature check, one tracing span per webhook,
//! TwiML out. Handlers are thin; the logic is in [`crate::call`].

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use serde::Deserialize;
use tracing::Instrument;

use crate::app::AppState;
use crate::call::{self, CallError, Params};
use crate::signature;
use crate::twiml::Response;

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
        .route("/voice/fallback", post(fallback))
        .route("/voice/queue/wait", post(queue_wait))
        .route("/voice/staff/{entry}", post(staff_entry))
        .route("/voice/queue/choice", post(queue_choice))
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
        let mut response = Twiml(call::apology(&state, &err)).into_response();
        response
            .extensions_mut()
            .insert(Failure(std::sync::Arc::new(format!("{:#}", err.source))));
        response
    }
}

async fn answer(
    state: AppState,
    work: impl Future<Output = Result<Response, CallError>>,
) -> HttpResponse {
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

async fn incoming(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::incoming(&s, &p).await }).await
}

async fn step(State(s): State<AppState>, Path(name): Path<String>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::step(&s, &p, &name).await }).await
}

async fn input(State(s): State<AppState>, Path(name): Path<String>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::input(&s, &p, &name).await }).await
}

#[derive(Deserialize)]
struct Attempt {
    attempt: Option<String>,
}

async fn recover(
    State(s): State<AppState>,
    Query(q): Query<Attempt>,
    Form(p): Form,
) -> HttpResponse {
    // A malformed count is treated as a late attempt: end politely rather than loop.
    let attempt = q
        .attempt
        .and_then(|a| a.parse().ok())
        .unwrap_or(1u32)
        .max(1);
    answer(
        s.clone(),
        async move { call::recover(&s, &p, attempt).await },
    )
    .await
}

async fn status(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    answer(s.clone(), async move { call::status(&s, &p).await }).await
}

async fn fallback(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    if let Some(code) = p.get("ErrorCode") {
        tracing::warn!(error_code = code, "the provider used the fallback URL");
    }
    Twiml(call::fallback(&s, &p)).into_response()
}

async fn staff_entry(
    State(s): State<AppState>,
    Path(entry): Path<String>,
    Form(p): Form,
) -> HttpResponse {
    answer(
        s.clone(),
        async move { call::staff_entry(&s, &p, &entry).await },
    )
    .await
}

async fn queue_wait(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    Twiml(crate::queue::wait(&s, &p).await).into_response()
}

/// A key pressed in the queue. On any error the caller keeps their place (a moment of
/// silence, then the wait music again) rather than hearing the main apology.
async fn queue_choice(State(s): State<AppState>, Form(p): Form) -> HttpResponse {
    match tokio::time::timeout(WEBHOOK_DEADLINE, crate::queue::choice(&s, &p)).await {
        Ok(Ok(r)) => Twiml(r).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{:#}", e.source), "queue choice failed; caller keeps their place");
            let mut r = Response::new();
            r.push(crate::twiml::Element::new("Pause").attr("length", "1"));
            Twiml(r).into_response()
        }
        Err(_) => {
            let mut r = Response::new();
            r.push(crate::twiml::Element::new("Pause").attr("length", "1"));
            Twiml(r).into_response()
        }
    }
}

/// Reads the form body, checks the provider's signature against the URL rebuilt from
/// the public base, and runs the handler inside a span carrying the CallSid. Refuses
/// with 403 anything unsigned or forged, and never logs the parameters.
async fn signed_webhook(State(s): State<AppState>, req: Request, next: Next) -> HttpResponse {
    let (parts, body) = req.into_parts();
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
        let url = format!("{}{path_and_query}", s.settings.public_url);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let signature = header("x-twilio-signature").unwrap_or("");
        let settings = header("x-twilio-webhooks-signature-settings");
        if !signature::validate(keys, settings, &url, &params, signature) {
            tracing::warn!(route = %route, "refused a webhook with a missing or invalid signature");
            return (StatusCode::FORBIDDEN, "invalid signature\n").into_response();
        }
    }
    let params = Params(params);
    let span = tracing::info_span!(
        "webhook",
        route = %route,
        call_sid = tracing::field::Empty,
        step = tracing::field::Empty,
    );
    let mut req = Request::from_parts(parts, Body::empty());
    req.extensions_mut().insert(params);
    async move {
        let response = next.run(req).await;
        if let Some(Failure(e)) = response.extensions().get::<Failure>() {
            tracing::error!(error = %e, "webhook failed; the caller heard an apology");
        } else {
            tracing::debug!("webhook answered");
        }
        response
    }
    .instrument(span)
    .await
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
