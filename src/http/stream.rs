//! The TTY media stream's WebSocket: JSON text frames in, [`TtyCall`] turns out. A
//! frame that is not one of the provider's messages is dropped; a `start` that does not
//! belong to a live TTY call gets no audio and the socket closed. Each socket is its
//! own task, so one caller's garbage or dropped line touches no other call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};

use crate::call::tty::{Inbound, Outbound, TtyCall};
use crate::state::AppState;

/// The provider sends audio every 20 ms; this long without one of its messages, the
/// line is gone.
const SILENT_SOCKET: Duration = Duration::from_secs(30);
/// A socket must say which call it carries (`start`) within this.
const START_WITHIN: Duration = Duration::from_secs(5);
/// A frame larger than this is not the provider's.
const MAX_FRAME: usize = 64 * 1024;
/// Streams open at once, at most (each holds a socket the connection cap no longer
/// counts once upgraded).
const MAX_STREAMS: usize = 2_000;

/// Streams open now.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts an open stream while it lives.
struct Open;

impl Open {
    fn take() -> Option<Open> {
        let before = OPEN.fetch_add(1, Ordering::AcqRel);
        if before >= MAX_STREAMS {
            OPEN.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Open)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `GET /tty/stream`: the provider opens the call's media stream. Past the cap, 503.
pub async fn upgrade(State(s): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let Some(open) = Open::take() else {
        tracing::warn!("a TTY stream refused: {MAX_STREAMS} are open");
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| serve(s, socket, open))
}

async fn serve(s: AppState, mut socket: WebSocket, _open: Open) {
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
            (None, Inbound::Start { start }) => match TtyCall::start(s.clone(), start).await {
                Some((c, out)) => {
                    call = Some(c);
                    out
                }
                None => break,
            },
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
    if let Some(c) = call {
        c.ended();
    }
    let _ = socket.send(Message::Close(None)).await;
}
