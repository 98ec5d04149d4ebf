//! The TTY media stream's WebSocket: JSON text frames in, [`TtyCall`] turns out. A
//! frame that is not one of the provider's messages is dropped; a `start` that does not
//! belong to a live TTY call gets no audio and the socket closed. Each socket is its
//! own task, so one caller's garbage or dropped line touches no other call.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use crate::call::tty::{Inbound, Outbound, TtyCall};
use crate::state::AppState;

/// The provider sends audio every 20 ms; this long without a frame, the line is gone.
const SILENT_SOCKET: Duration = Duration::from_secs(30);
/// A frame larger than this is not the provider's.
const MAX_FRAME: usize = 64 * 1024;

/// `GET /tty/stream`: the provider opens the call's media stream.
pub async fn upgrade(State(s): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| serve(s, socket))
}

async fn serve(s: AppState, mut socket: WebSocket) {
    let mut call: Option<TtyCall> = None;
    'frames: loop {
        let message = match tokio::time::timeout(SILENT_SOCKET, socket.recv()).await {
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
