//! The TTY media stream's WebSocket: JSON text frames in, [`TtyCall`] turns out. The
//! upgrade must carry the provider's signature over the stream's URL, so a stranger
//! never holds a socket; a frame that is not one of the provider's messages is dropped;
//! a `start` that does not belong to a live TTY call gets no audio and the socket
//! closed. Each socket is its own task, so one caller's garbage or dropped line touches
//! no other call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::call::tty::TtyCall;
use crate::http::signature;
use crate::http::webhook::{Admit, LogBudget};
use crate::state::{AppState, Services, Streams};
use crate::telephony::stream::{Inbound, Outbound};

/// The provider sends audio every 20 ms; this long without one of its messages, the
/// line is gone.
const SILENT_SOCKET: Duration = Duration::from_secs(30);
/// A socket must say which call it carries (`start`) within this.
const START_WITHIN: Duration = Duration::from_secs(5);
/// A message larger than this is not the provider's (a `start` with its parameters is
/// under 2 KiB, a media message under 1 KiB).
const MAX_FRAME: usize = 16 * 1024;
/// What each socket reads into at a time, and what it gathers before writing: the
/// provider's messages are small, and the library's 128 KiB default cost every open
/// socket that much.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;
/// Streams open at once, at most (each holds a socket the connection cap no longer
/// counts once upgraded).
pub const MAX_STREAMS: usize = 2_000;
/// Of those, sockets that have not yet said which call they carry: the provider sends
/// `start` at once, so only a few are ever waiting.
pub const MAX_UNSTARTED: usize = 64;

/// One place in one of the counts, given back when dropped.
struct Slot {
    s: AppState,
    count: fn(&Streams) -> &AtomicUsize,
}

impl Slot {
    fn take(s: &AppState, count: fn(&Streams) -> &AtomicUsize, cap: usize) -> Option<Slot> {
        let before = count(&s.streams).fetch_add(1, Ordering::AcqRel);
        if before >= cap {
            count(&s.streams).fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot {
            s: s.clone(),
            count,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        (self.count)(&self.s.streams).fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a stream was refused: each kind is logged at most [`REFUSALS_LOGGED`] times an
/// interval, the rest counted.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// The upgrade was not signed by the provider.
    Signature,
    /// [`MAX_STREAMS`] are open.
    Full,
    /// [`MAX_UNSTARTED`] sockets are waiting for their `start`.
    Unstarted,
    /// No `start` within [`START_WITHIN`].
    Late,
    /// A `start` whose token or call is not a live TTY call's.
    Token,
}

impl Refusal {
    fn says(self) -> &'static str {
        match self {
            Refusal::Signature => "a missing or invalid signature",
            Refusal::Full => "all streams in use",
            Refusal::Unstarted => "too many streams not started",
            Refusal::Late => "no start in time",
            Refusal::Token => "a token or call that is not a live TTY call's",
        }
    }
}

const REFUSALS_LOGGED: u32 = 10;
const REFUSAL_INTERVAL_SECS: u64 = 10;
static REFUSALS: [LogBudget; 5] = [
    LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS),
    LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS),
    LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS),
    LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS),
    LogBudget::new(REFUSALS_LOGGED, REFUSAL_INTERVAL_SECS),
];

/// Logs a refused stream as refused webhooks are logged: a few lines an interval for
/// each kind, then only a count, logged with the next line of that kind.
pub fn refused(why: Refusal, call_sid: Option<&str>) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Admit::Log { unlogged } = REFUSALS[why as usize].admit(secs) else {
        return;
    };
    let reason = why.says();
    if unlogged > 0 {
        tracing::warn!(
            refused = unlogged,
            reason,
            "more TTY streams were refused than were logged"
        );
    }
    match call_sid {
        Some(call_sid) => tracing::warn!(call_sid, reason, "a TTY stream refused"),
        None => tracing::warn!(reason, "a TTY stream refused"),
    }
}

/// Whether the upgrade carries the provider's signature: over the stream's URL as the
/// `<Stream url>` gave it (`wss://`, rebuilt from the public URL, with the request's
/// path and query), with no parameters. Signatures switched off: any upgrade.
fn signed(s: &Services, headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(keys) = &s.keys else {
        return true;
    };
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = format!(
        "{}{path_and_query}",
        crate::call::tty::stream_base(&s.line.settings.public_url)
    );
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::validate(
        keys,
        header("x-twilio-webhooks-signature-settings"),
        &url,
        &[],
        header("x-twilio-signature").unwrap_or(""),
    )
}

/// `GET /tty/stream`: the provider opens the call's media stream. Unsigned, 403; past
/// either cap, 503; never upgraded in those cases.
pub async fn upgrade(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    if !signed(&s, &headers, &uri) {
        refused(Refusal::Signature, None);
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(open) = Slot::take(&s, |c| &c.open, MAX_STREAMS) else {
        refused(Refusal::Full, None);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(unstarted) = Slot::take(&s, |c| &c.unstarted, MAX_UNSTARTED) else {
        refused(Refusal::Unstarted, None);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| serve(s, socket, open, unstarted))
}

async fn serve(s: AppState, mut socket: WebSocket, _open: Slot, unstarted: Slot) {
    let mut unstarted = Some(unstarted);
    let mut call: Option<TtyCall> = None;
    // Until `start`, the socket has a short deadline in all; after it, only the
    // provider's own messages keep it open.
    let start_by = tokio::time::Instant::now() + START_WITHIN;
    let mut quiet_until = tokio::time::Instant::now() + SILENT_SOCKET;
    'frames: loop {
        let until = if call.is_some() {
            quiet_until
        } else {
            start_by
        };
        let message = match tokio::time::timeout_at(until, socket.recv()).await {
            Ok(Some(Ok(m))) => m,
            Err(_) if call.is_none() => {
                refused(Refusal::Late, None);
                break;
            }
            _ => break,
        };
        let text = match message {
            Message::Text(t) => t,
            Message::Close(_) => break,
            // Binary frames are not the provider's; pings are answered by axum.
            _ => continue,
        };
        let Ok(event) = serde_json::from_str::<Inbound>(text.as_str()) else {
            continue;
        };
        quiet_until = tokio::time::Instant::now() + SILENT_SOCKET;
        let out = match (&mut call, event) {
            (None, Inbound::Start { start }) => {
                let sid = start.call_sid.clone();
                match TtyCall::start(s.line.clone(), start).await {
                    Some((c, out)) => {
                        call = Some(c);
                        // Started: it no longer counts against the sockets waiting.
                        unstarted = None;
                        out
                    }
                    None => {
                        let sid = crate::session::CallSid::parse(&sid);
                        refused(Refusal::Token, sid.as_ref().map(|c| c.as_str()));
                        break;
                    }
                }
            }
            (None, _) => continue,
            (Some(c), Inbound::Media { media }) => c.media(&media.payload).await,
            (Some(c), Inbound::Dtmf { dtmf }) => c.dtmf(&dtmf.digit).await,
            (Some(c), Inbound::Mark { mark }) => c.mark(&mark.name).await,
            (Some(c), Inbound::Stop) => {
                c.stop().await;
                break;
            }
            (Some(_), _) => continue,
        };
        for o in out {
            match o {
                Outbound::Frame(json) => {
                    if socket.send(Message::Text(json.into())).await.is_err() {
                        break 'frames;
                    }
                }
                Outbound::Close => break 'frames,
            }
        }
    }
    drop(unstarted);
    if let Some(c) = call {
        c.ended();
    }
    let _ = socket.send(Message::Close(None)).await;
}
