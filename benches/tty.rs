//! TTY streams in real time: many calls' media streams at once against one server, each
//! sent as the provider sends it, a 20 ms frame of μ-law every 20 ms. Each call hears
//! its greeting, then the caller types "1" on the TTY (after the echo guard) and gets
//! the main menu back; the rest of the time the line carries silence, which the server
//! listens to like any audio. Reports the server's CPU per stream (from the kernel's
//! per-thread run time: the server runs on its own two threads), how many of the
//! provider's frames went out late, and the time from the end of the typed character
//! to the first audio of the answer.
//!
//! `cargo bench --bench tty` (release profile). Settings: TTY_STREAMS (default 200),
//! BENCH_SECS (default 10).

mod common;

/// The server's allocator (as in `main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use base64::Engine;
use common::{Cpu, env_num, send, signed};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const TTY_LINE: &str = "+18663994096";
const FRAME: usize = 160;
const TYPED_CHAR_END: usize = 1200 + 2 * 1320;

struct Outcome {
    /// From the frame that completes the typed character to the answer's first audio.
    reply: Option<Duration>,
    late_frames: u64,
    frames: u64,
    marks: u32,
}

fn json(v: serde_json::Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn one_stream(base: String, secs: u64, typed: std::sync::Arc<Vec<u8>>) -> Outcome {
    let client = reqwest::Client::new();
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let params = vec![
        ("CallSid".to_string(), sid.clone()),
        ("From".to_string(), "+15595550123".to_string()),
        ("To".to_string(), TTY_LINE.to_string()),
    ];
    let xml = send(&client, &signed(format!("{base}/voice/incoming"), params)).await;
    let token = xml
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stream token")
        .to_string();
    let ws_url = format!("{}/tty/stream", base.replacen("http", "ws", 1));
    // Signed as the provider signs it: over the stream's URL, no parameters.
    let (_, _, sig) = signed(ws_url.clone(), Vec::new());
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            ws_url.as_str(),
        )
        .expect("a request");
    request
        .headers_mut()
        .insert("x-twilio-signature", sig.parse().expect("a header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the stream opens");
    let stream_sid = format!("MZ{}", uuid::Uuid::new_v4().simple());
    ws.send(json(serde_json::json!({
        "event": "start",
        "start": {"streamSid": stream_sid, "callSid": sid, "customParameters": {"token": token}},
        "streamSid": stream_sid,
    })))
    .await
    .expect("start");

    let b64 = base64::engine::general_purpose::STANDARD;
    let silence = b64.encode([0xFFu8; FRAME]);
    let total = secs * 50;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut sent, mut late) = (0u64, 0u64);
    let mut marks = 0;
    let mut typing_from: Option<u64> = None;
    let mut typed_end: Option<Instant> = None;
    let mut reply = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if sent >= total {
                    break;
                }
                // A frame is late when it goes out more than a frame after its time.
                let due = started + Duration::from_millis(20 * sent);
                if Instant::now() > due + Duration::from_millis(20) {
                    late += 1;
                }
                let payload = match typing_from {
                    Some(from) if sent >= from => {
                        let i = ((sent - from) as usize) * FRAME;
                        match typed.get(i..(i + FRAME).min(typed.len())) {
                            Some(chunk) if !chunk.is_empty() => {
                                // The character is whole once its stop bit is in
                                // (leader, FIGS and "1": 1,200 + 2 x 1,320 samples).
                                if typed_end.is_none() && i + FRAME >= TYPED_CHAR_END {
                                    typed_end = Some(Instant::now());
                                }
                                b64.encode(chunk)
                            }
                            _ => silence.clone(),
                        }
                    }
                    _ => silence.clone(),
                };
                sent += 1;
                let msg = json(serde_json::json!({
                    "event": "media",
                    "streamSid": stream_sid,
                    "media": {"track": "inbound", "chunk": sent.to_string(), "timestamp": (sent * 20).to_string(), "payload": payload},
                }));
                if ws.send(msg).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => {
                let Some(Ok(Message::Text(text))) = frame else { break };
                let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                match v["event"].as_str() {
                    Some("media") => {
                        if let (Some(end), None) = (typed_end, reply) {
                            reply = Some(end.elapsed());
                        }
                    }
                    Some("mark") => {
                        // Played (the bench does not wait out the audio): echo it, and
                        // after the greeting, type once the guard has passed.
                        let name = v["mark"]["name"].clone();
                        let _ = ws.send(json(serde_json::json!({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}))).await;
                        marks += 1;
                        if marks == 1 {
                            typing_from = Some(sent + 20);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = ws
        .send(json(
            serde_json::json!({"event": "stop", "streamSid": stream_sid}),
        ))
        .await;
    Outcome {
        reply,
        late_frames: late,
        frames: sent,
        marks,
    }
}

fn main() {
    let streams = env_num("TTY_STREAMS", 200) as usize;
    let secs = env_num("BENCH_SECS", 10);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/bench.db", dir.path().display());
    let mut settings = common::settings(&db);
    settings.tty_numbers = vec![TTY_LINE.to_string()];
    let base = common::spawn_caseline(settings);
    // The caller's "1", typed on a TTY.
    let typed =
        std::sync::Arc::new(caseline::telephony::tty::modem::Modulator::default().transmit("1"));

    // The provider's side on this thread alone, so the other threads' time is the
    // server's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (outcomes, cpu, wall) = rt.block_on(async {
        let cpu = Cpu::start();
        let started = Instant::now();
        let tasks: Vec<_> = (0..streams)
            .map(|_| tokio::spawn(one_stream(base.clone(), secs, typed.clone())))
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("a stream"));
        }
        (outcomes, cpu.per_request(1), started.elapsed())
    });
    let frames: u64 = outcomes.iter().map(|o| o.frames).sum();
    let marks: u32 = outcomes.iter().map(|o| o.marks).sum();
    let late: u64 = outcomes.iter().map(|o| o.late_frames).sum();
    let mut replies: Vec<Duration> = outcomes.iter().filter_map(|o| o.reply).collect();
    replies.sort();
    let pick = |q: f64| {
        replies
            .get(((replies.len() as f64 * q) as usize).min(replies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let audio_secs = frames as f64 * 0.02;
    let server_share = cpu.server.as_secs_f64() / audio_secs * 100.0;
    println!(
        "tty streams: {streams} at once for {secs} s ({:.1} s wall); {frames} frames sent, {late} late; {marks} turns played",
        wall.as_secs_f64()
    );
    println!(
        "server CPU: {:.2} s in all, {:.2}% of one core per stream (a stream-second of audio costs {:.2} ms); provider side {:.2} s",
        cpu.server.as_secs_f64(),
        server_share,
        server_share * 10.0,
        cpu.client.as_secs_f64()
    );
    println!(
        "answers to the typed key: {} of {streams}; from the frame that completes it to the answer's first audio p50 {:.0} ms, p99 {:.0} ms",
        replies.len(),
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.99).as_secs_f64() * 1000.0
    );
}
