//! TTY callers without a relay. The product's modem against an independent one written
//! for the tests (`tty_peer`, which shares no tables or filters with it): each one's
//! audio printed right by the other, in both directions.

use crate::tty_peer as peer;

use caseline::telephony::tty::modem::{Demodulator, Modulator};

const EVERYTHING: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -$',!:(\")?./; GA";

fn product_hears(audio: &[u8]) -> String {
    let mut d = Demodulator::new();
    for frame in audio.chunks(160) {
        d.push(frame);
    }
    d.take_text()
}

#[test]
fn the_product_s_audio_prints_right_on_an_independent_tty() {
    let mut m = Modulator::default();
    let audio = m.transmit(EVERYTHING);
    // Sent at -14 dBm0, as measured by the other side.
    let level = peer::level_dbm0(&audio[..1200]);
    assert!((-14.5..=-13.5).contains(&level), "{level}");
    assert_eq!(peer::decode(&audio), EVERYTHING);
    // Figures after a space are shifted again; lower case goes up; # and & spelled.
    assert_eq!(
        peer::decode(&m.transmit("press 1 for $12 50 # & more")),
        "PRESS 1 FOR $12 50 NBR AND MORE"
    );
}

/// TTYs and modems that expect two stop bits (minimodem's `tdd` preset, as spandsp's
/// TDD sender sends) print every character of ours: each has a whole two stop bits.
#[test]
fn the_product_sends_two_stop_bits_for_receivers_that_want_them() {
    let mut m = Modulator::default();
    // One character more is a start bit, five data bits and two stop bits (22 ms each).
    let one = m.transmit("E").len();
    let two = m.transmit("EE").len();
    assert_eq!(two - one, 8 * 176);
    let audio = m.transmit(EVERYTHING);
    let mut rx = peer::Receiver::new().with_stop_bits(2.0);
    rx.push(&audio);
    assert_eq!(rx.take_text(), EVERYTHING);
    assert_eq!(rx.framing_errors(), 0);
}

#[test]
fn an_independent_tty_prints_right_on_the_product() {
    let mut tx = peer::Transmitter::default();
    assert_eq!(product_hears(&tx.send(EVERYTHING)), EVERYTHING);
    for (stop, drift) in [
        (2.0, 0.0),
        (1.5, 0.02),
        (1.5, -0.02),
        (2.0, 0.02),
        (2.0, -0.02),
    ] {
        let mut tx = peer::Transmitter::new(-14.0)
            .with_stop_bits(stop)
            .with_rate_error(drift);
        assert_eq!(
            product_hears(&tx.send("SSN 123 45 6789 GA")),
            "SSN 123 45 6789 GA",
            "stop bits {stop}, drift {drift}"
        );
    }
}

#[test]
fn a_quiet_tty_in_noise_and_the_silence_between_turns() {
    for seed in 1..=4 {
        let mut tx = peer::Transmitter::new(-30.0);
        let audio = peer::add_white_noise(&tx.send("PAR 4820193757 GA"), -45.0, seed);
        assert_eq!(product_hears(&audio), "PAR 4820193757 GA", "seed {seed}");
    }
    assert_eq!(product_hears(&peer::silence(2000)), "");
    assert_eq!(
        product_hears(&peer::add_white_noise(&peer::silence(2000), -45.0, 9)),
        ""
    );
}

// ---------------------------------------------------------------------------------
// Whole calls over the media stream: the test plays the provider (signed webhooks, the
// WebSocket's JSON frames) and the caller's TTY (the independent peer, with the
// product's own receiver listening too).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use caseline::app::Application;
use caseline::clock::FixedClock;
use caseline::config::TtyMode;
use caseline::http::signature::{Algorithm, sign, signing_payload};
use caseline::store::Store;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{self as common, PUBLIC_URL, TOKEN, TTY_LINE};

const MARCO: (&str, &str) = ("900234567", "4820193757");
/// The stream's URL as the `<Stream>` gives it, which the provider signs.
const STREAM_URL: &str = "wss://ivr.example.test/tty/stream";

/// The provider's signature of an upgrade to `url` (no parameters).
fn stream_signature(url: &str) -> String {
    sign(Algorithm::HmacSha1, TOKEN, &signing_payload(url, &[]))
}
/// How long the test waits for the server's next frame (wall clock: a safety net only;
/// nothing is timed).
const PATIENCE: Duration = Duration::from_secs(20);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A running server (real sockets: the stream is a WebSocket) on a fresh SQLite store
/// with the demo data, in `baudot` mode.
struct Line {
    addr: std::net::SocketAddr,
    state: caseline::state::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The test's PostgreSQL schema, for a second server on the same store (dropped with the last).
    postgres: Option<Arc<common::Schema>>,
    _dir: tempfile::TempDir,
}

impl Line {
    async fn open() -> Line {
        Line::open_on(common::Backend::Sqlite).await
    }

    /// The same on either store (PostgreSQL in a schema of its own).
    async fn open_on(backend: common::Backend) -> Line {
        let dir = tempfile::tempdir().expect("temp dir");
        let postgres = match backend {
            common::Backend::Sqlite => None,
            common::Backend::Postgres(url) => Some(common::Schema::create(url).await),
        };
        let line = Line::serve(dir, postgres).await;
        let state = &line.state;
        let extract = caseline::domain::cases::import::parse(caseline::cli::demo::DEMO_EXTRACT)
            .expect("demo");
        caseline::domain::cases::import::run(
            &state.line.store,
            &state.line.blind,
            &state.line.hasher,
            extract,
            &|_| {},
        )
        .await
        .expect("import");
        line
    }

    /// A second server on this one's PostgreSQL store.
    async fn beside(&self) -> Line {
        let dir = tempfile::tempdir().expect("temp dir");
        Line::serve(dir, self.postgres.clone()).await
    }

    /// A server on the store in `dir` (SQLite) or in the PostgreSQL schema.
    async fn serve(dir: tempfile::TempDir, postgres: Option<Arc<common::Schema>>) -> Line {
        let mut settings = common::settings();
        settings.listen = "127.0.0.1:0".parse().expect("address");
        settings.tty_mode = TtyMode::Baudot;
        // A TaskRouter workflow, so the queue's TwiML carries the caller's context.
        settings.csu_workflow_sid = Some("WW0123456789abcdef0123456789abcdef".into());
        let store = match &postgres {
            None => Store::connect(&format!("sqlite://{}/caseline.db", dir.path().display())).await,
            Some(schema) => Store::connect_in_schema(&schema.url, Some(&schema.name)).await,
        }
        .expect("store");
        let app = Application::build_with(
            settings,
            store,
            Arc::new(FixedClock::at(common::open_time())),
        )
        .await
        .expect("app");
        let addr = app.local_addr().expect("address");
        let state = app.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Line {
            addr,
            state,
            stop: Some(stop),
            postgres,
            _dir: dir,
        }
    }

    /// A signed webhook, as the provider posts it; answers the TwiML.
    async fn post(&self, path: &str, params: &[(&str, &str)]) -> String {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = format!("{PUBLIC_URL}{path}");
        let sig = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(&url, &owned));
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let answer = reqwest::Client::new()
            .post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(answer.status(), 200);
        answer.text().await.expect("a body")
    }

    /// A call comes in on the TTY number: answers its CallSid and stream token.
    async fn ring(&self) -> (String, String) {
        let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
        let xml = self
            .post(
                "/voice/incoming",
                &[
                    ("CallSid", &sid),
                    ("From", "+15592310123"),
                    ("To", TTY_LINE),
                ],
            )
            .await;
        let twiml = caseline::telephony::twiml::parse(&xml).expect("TwiML");
        caseline::telephony::twiml::check(&twiml).expect("valid TwiML");
        let connect = &twiml.verbs[0];
        assert_eq!(connect.name, "Connect", "{xml}");
        assert_eq!(
            connect.get("action"),
            Some(format!("{PUBLIC_URL}/voice/tty/after").as_str())
        );
        let stream = &connect.children[0];
        assert_eq!(
            stream.get("url"),
            Some("wss://ivr.example.test/tty/stream"),
            "{xml}"
        );
        let token = stream.children[0]
            .get("value")
            .expect("a token")
            .to_string();
        assert_eq!(stream.children[0].get("name"), Some("token"));
        assert!(!xml.contains(MARCO.0));
        (sid, token)
    }

    /// The stream's socket, opened as the provider opens it: signed over the `wss://`
    /// URL the `<Stream>` gave.
    async fn socket(&self) -> Socket {
        self.upgrade(Some(&stream_signature(STREAM_URL)))
            .await
            .expect("the stream opens")
    }

    /// An upgrade with this signature header (or none): the socket, or the HTTP status
    /// it was refused with.
    async fn upgrade(&self, signature: Option<&str>) -> Result<Socket, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/tty/stream", self.addr)
            .into_client_request()
            .expect("a request");
        if let Some(sig) = signature {
            request
                .headers_mut()
                .insert("x-twilio-signature", sig.parse().expect("a header"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("the upgrade failed: {e}"),
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The provider's side of one call's stream, with the caller's TTY on it.
struct TtyCaller {
    ws: Socket,
    stream_sid: String,
    tty: crate::tty_peer::Transmitter,
    frames_sent: u64,
    /// The line echoes the server's own tones back, as TTY lines do.
    echo: bool,
    /// The next mark is never reported played.
    lose_mark: bool,
}

impl TtyCaller {
    /// Opens the stream and sends `connected` and `start` for the call.
    async fn start(line: &Line, call_sid: &str, token: &str) -> TtyCaller {
        TtyCaller::start_on(line.socket().await, call_sid, token).await
    }

    /// Sends `connected` and `start` for the call on a socket already open.
    async fn start_on(mut ws: Socket, call_sid: &str, token: &str) -> TtyCaller {
        let stream_sid = format!("MZ{}", uuid::Uuid::new_v4().simple());
        send_json(
            &mut ws,
            serde_json::json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        )
        .await;
        send_json(
            &mut ws,
            serde_json::json!({
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": "AC00000000000000000000000000000000",
                    "streamSid": stream_sid,
                    "callSid": call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": {"token": token},
                },
                "streamSid": stream_sid,
            }),
        )
        .await;
        TtyCaller {
            ws,
            stream_sid,
            tty: crate::tty_peer::Transmitter::default(),
            frames_sent: 0,
            echo: false,
            lose_mark: false,
        }
    }

    /// Everything the server sends up to its next mark, printed by the independent TTY
    /// and by the product's own receiver (which must agree); the mark is echoed back
    /// once "played", as the provider does. `None` when the server closed instead.
    async fn hear(&mut self) -> Option<String> {
        let mut audio = Vec::new();
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server answers in time");
            let text = match frame {
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            };
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON from the server");
            assert_eq!(v["streamSid"], self.stream_sid.as_str(), "{v}");
            match v["event"].as_str() {
                Some("media") => {
                    let payload = v["media"]["payload"].as_str().expect("a payload");
                    audio.extend(
                        base64::engine::general_purpose::STANDARD
                            .decode(payload)
                            .expect("base64"),
                    );
                }
                Some("mark") => {
                    let printed = crate::tty_peer::decode(&audio);
                    let mut own = caseline::telephony::tty::modem::Demodulator::new();
                    own.push(&audio);
                    assert_eq!(own.take_text(), printed, "the two receivers agree");
                    let name = v["mark"]["name"].clone();
                    if self.lose_mark {
                        // The provider never reports it played: the server must go on
                        // once the caller's audio has run past it.
                        self.lose_mark = false;
                        self.audio(&crate::tty_peer::silence(audio.len() / 8 + 2500))
                            .await;
                        return Some(printed);
                    }
                    send_json(&mut self.ws, serde_json::json!({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})).await;
                    if self.echo {
                        // Our own last character comes back down the line just after
                        // the provider says it played (290 ms: within the guard). Heard,
                        // it would print a line feed and end the caller's entry.
                        let hold = 2400;
                        let from = audio.len().saturating_sub(hold + 1320 + 200);
                        let echoed = audio[from..audio.len() - hold + 800].to_vec();
                        self.audio(&echoed).await;
                    }
                    return Some(printed);
                }
                other => panic!("unexpected event {other:?}: {v}"),
            }
        }
    }

    async fn audio(&mut self, mulaw: &[u8]) {
        for frame in mulaw.chunks(160) {
            self.frames_sent += 1;
            let payload = base64::engine::general_purpose::STANDARD.encode(frame);
            let msg = serde_json::json!({
                "event": "media",
                "sequenceNumber": (self.frames_sent + 1).to_string(),
                "media": {"track": "inbound", "chunk": self.frames_sent.to_string(), "timestamp": (self.frames_sent * 20).to_string(), "payload": payload},
                "streamSid": self.stream_sid,
            });
            // The server may already have closed (after its last words): that is for
            // `hear` to notice.
            if self
                .ws
                .send(Message::Text(msg.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// The line while our side waits (our echo guard runs on it), then `text` typed on
    /// the TTY, then a little quiet.
    async fn type_text(&mut self, text: &str) {
        self.audio(&crate::tty_peer::silence(if self.echo { 100 } else { 400 }))
            .await;
        let typed = self.tty.send(text);
        self.audio(&typed).await;
        self.audio(&crate::tty_peer::silence(200)).await;
    }

    /// A keypad tone instead of typing.
    async fn key(&mut self, digit: &str) {
        self.audio(&crate::tty_peer::silence(400)).await;
        send_json(&mut self.ws, serde_json::json!({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})).await;
    }

    async fn hang_up(&mut self, call_sid: &str) {
        send_json(&mut self.ws, serde_json::json!({"event": "stop", "streamSid": self.stream_sid, "stop": {"accountSid": "AC00000000000000000000000000000000", "callSid": call_sid}})).await;
    }
}

async fn send_json(ws: &mut Socket, v: serde_json::Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("the socket takes it");
}

/// True once the server has closed the socket (no audio before it).
async fn closed_without_audio(ws: &mut Socket) -> bool {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => panic!("the server sent {t}"),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tty_caller_verifies_hears_payments_and_reaches_a_person_over_the_stream() {
    let line = Line::open().await;
    let (sid, token) = line.ring().await;
    let logs = common::capture_logs();
    let mut tty = TtyCaller::start(&line, &sid, &token).await;
    tty.echo = true;

    let hello = tty.hear().await.expect("the greeting");
    assert!(
        hello.contains("CALIFORNIA CHILD SUPPORT SERVICES"),
        "{hello}"
    );
    assert!(hello.contains("ENGLISH: PRESS 1"), "{hello}");
    assert!(hello.trim_end().ends_with("GA"), "{hello}");

    tty.type_text("1").await;
    let menu = tty.hear().await.expect("the main menu");
    assert!(menu.contains("MAIN MENU. 1 PAYMENTS"), "{menu}");
    assert!(menu.contains("NBR MORE TIME"), "# spelled: {menu}");

    tty.type_text("1").await;
    let ask_ssn = tty.hear().await.expect("the SSN prompt");
    assert!(ask_ssn.contains("SOCIAL SECURITY"), "{ask_ssn}");
    // Nine digits end the entry.
    tty.type_text(MARCO.0).await;
    let ask_par = tty.hear().await.expect("the PAR ID prompt");
    assert!(ask_par.contains("PAR ID"), "{ask_par}");
    // Enter ends it (and this turn's mark is lost: the server goes on by the audio).
    tty.lose_mark = true;
    tty.type_text(&format!("{}\r\n", MARCO.1)).await;
    let payments = tty.hear().await.expect("the payments readback");
    assert!(payments.contains("$450.00"), "{payments}");
    assert!(payments.contains("$1,234.56"), "{payments}");

    // Keypad tones work as typing does: 2, the last five payments.
    tty.key("2").await;
    let history = tty.hear().await.expect("the history");
    assert!(history.contains("$225.00"), "{history}");

    // 0: a person. The text says so, then the stream closes and the provider asks the
    // <Connect> action, which answers the queue with the caller's context.
    tty.key("0").await;
    let to_person = tty.hear().await.expect("the hand-off text");
    assert!(to_person.contains("REPRESENTATIVE"), "{to_person}");
    assert!(to_person.trim_end().ends_with("GA"), "{to_person}");
    assert!(tty.hear().await.is_none(), "the server closed the stream");
    let xml = line.post("/voice/tty/after", &[("CallSid", &sid)]).await;
    let twiml = caseline::telephony::twiml::parse(&xml).expect("TwiML");
    caseline::telephony::twiml::check(&twiml).expect("valid");
    assert!(xml.contains("<Enqueue"), "{xml}");
    assert!(
        xml.contains(r#""channel":"tty""#),
        "the context says TTY: {xml}"
    );
    for secret in [MARCO.0, MARCO.1] {
        assert!(!xml.contains(secret));
    }
    // The log has the stream's start and end, and never what was typed.
    let logs = String::from_utf8(logs.lock().expect("logs").clone()).expect("text");
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&sid)).collect();
    assert!(
        lines.iter().any(|l| l.contains("TTY stream started")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("TTY stream ended")),
        "{lines:?}"
    );
    for secret in [MARCO.0, MARCO.1] {
        assert!(!logs.contains(secret), "a log line holds {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_up_mid_turn_ends_the_call() {
    let line = Line::open().await;
    let (sid, token) = line.ring().await;
    let mut tty = TtyCaller::start(&line, &sid, &token).await;
    tty.hear().await.expect("the greeting");
    // Half a character typed, then the caller hangs up.
    let half = tty.tty.send("1");
    tty.audio(&half[..1500]).await;
    tty.hang_up(&sid).await;
    assert!(closed_without_audio(&mut tty.ws).await);
    let call = caseline::session::CallSid::parse(&sid).expect("sid");
    let live = line
        .state
        .line
        .store
        .sessions()
        .load(&call, line.state.line.now(), None)
        .await
        .expect("load");
    assert!(live.is_none(), "the call has ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_token_or_an_unknown_call_gets_no_audio_and_garbage_harms_no_one() {
    let line = Line::open().await;
    let (sid, token) = line.ring().await;
    // A wrong token for a live call.
    let mut forged = TtyCaller::start(&line, &sid, "0000000000000000ffffffffffffffff").await;
    assert!(closed_without_audio(&mut forged.ws).await);
    // The right token for a call that does not exist.
    let mut unknown = TtyCaller::start(&line, "CA0123456789abcdef0123456789abcdef", &token).await;
    assert!(closed_without_audio(&mut unknown.ws).await);

    // Garbage on another socket, and one dropped mid-call: the real call still works.
    let mut junk = line.socket().await;
    for frame in [
        Message::Binary(vec![0u8; 512].into()),
        Message::Text("{not json".into()),
        Message::Text(r#"{"event":"media","media":{"payload":"!!!"}}"#.into()),
        Message::Text(r#"{"event":"nonsense"}"#.into()),
    ] {
        junk.send(frame).await.expect("sent");
    }
    let (other, other_token) = line.ring().await;
    let mut dropped = TtyCaller::start(&line, &other, &other_token).await;
    dropped.hear().await.expect("a greeting");
    drop(dropped);

    let mut tty = TtyCaller::start(&line, &sid, &token).await;
    let hello = tty.hear().await.expect("the greeting");
    assert!(hello.contains("ENGLISH: PRESS 1"), "{hello}");
    // Bad frames inside a good call are dropped too.
    send_json(&mut tty.ws, serde_json::json!({"event": "media", "streamSid": tty.stream_sid, "media": {"payload": "%%%"}})).await;
    tty.type_text("1").await;
    let menu = tty.hear().await.expect("the main menu");
    assert!(menu.contains("MAIN MENU"), "{menu}");
    // The dropped call's stream connects again at its <Connect> action, and carries on.
    let xml = line.post("/voice/tty/after", &[("CallSid", &other)]).await;
    assert!(xml.contains("<Stream"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_per_token_and_none_for_a_voice_call() {
    let line = Line::open().await;
    let (sid, token) = line.ring().await;
    let mut first = TtyCaller::start(&line, &sid, &token).await;
    first.hear().await.expect("the greeting");
    // The same token again, while the first stream lives: refused.
    let mut second = TtyCaller::start(&line, &sid, &token).await;
    assert!(closed_without_audio(&mut second.ws).await);
    // The first carries on.
    first.type_text("1").await;
    assert!(
        first
            .hear()
            .await
            .expect("the main menu")
            .contains("MAIN MENU")
    );

    // A voice call has no stream: any token is refused.
    let voice = format!("CA{}", uuid::Uuid::new_v4().simple());
    let xml = line
        .post(
            "/voice/incoming",
            &[("CallSid", &voice), ("To", common::TOLL_FREE)],
        )
        .await;
    assert!(!xml.contains("<Connect"), "{xml}");
    let mut stray = TtyCaller::start(&line, &voice, &token).await;
    assert!(closed_without_audio(&mut stray.ws).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_times_out_in_audio_time_and_the_queue_and_its_end_stay_in_text() {
    let line = Line::open().await;
    let (sid, token) = line.ring().await;
    let mut tty = TtyCaller::start(&line, &sid, &token).await;
    tty.hear().await.expect("the greeting");
    // 31 seconds of the caller's line, sent as fast as the socket takes it: the menu's
    // 30-second timeout runs on the audio, so the miss prompt comes at once.
    tty.audio(&crate::tty_peer::silence(31_000)).await;
    let again = tty.hear().await.expect("the first miss");
    assert!(again.contains("NO HURRY"), "{again}");

    // To a person: the queue's wait is quiet for a TTY caller (no spoken rounds).
    tty.type_text("1").await;
    tty.hear().await.expect("the main menu");
    tty.key("0").await;
    tty.hear().await.expect("the hand-off text");
    assert!(tty.hear().await.is_none());
    line.post("/voice/tty/after", &[("CallSid", &sid)]).await;
    let wait = line
        .post(
            "/voice/queue/wait",
            &[("CallSid", &sid), ("QueuePosition", "2")],
        )
        .await;
    let twiml = caseline::telephony::twiml::parse(&wait).expect("TwiML");
    assert!(twiml.verbs.iter().all(|v| v.name == "Pause"), "{wait}");
    // Nobody answered: the queue's action is a step; it goes on over a new stream.
    let back = line
        .post(
            "/voice/step/representative-after",
            &[("CallSid", &sid), ("QueueResult", "hangup")],
        )
        .await;
    assert!(back.contains("<Stream"), "{back}");
    let new_token = caseline::telephony::twiml::parse(&back)
        .expect("TwiML")
        .verbs[0]
        .children[0]
        .children[0]
        .get("value")
        .expect("a token")
        .to_string();
    assert_ne!(new_token, token);
    let mut resumed = TtyCaller::start(&line, &sid, &new_token).await;
    let unavailable = resumed.hear().await.expect("the step after the queue");
    assert!(
        unavailable.contains("1 CALLBACK. 2 MAIN MENU."),
        "{unavailable}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_or_forged_stream_upgrade_is_refused_before_it_opens() {
    let line = Line::open().await;
    assert_eq!(line.upgrade(None).await.err(), Some(403), "unsigned");
    assert_eq!(
        line.upgrade(Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .await
            .err(),
        Some(403),
        "forged"
    );
    // Signed over the https URL, or another path: not what the provider signs.
    for url in [
        "https://ivr.example.test/tty/stream",
        "wss://ivr.example.test/voice/incoming",
    ] {
        assert_eq!(
            line.upgrade(Some(&stream_signature(url))).await.err(),
            Some(403),
            "{url}"
        );
    }
    // The provider's own, with or without the default port, opens.
    for url in [STREAM_URL, "wss://ivr.example.test:443/tty/stream"] {
        assert!(
            line.upgrade(Some(&stream_signature(url))).await.is_ok(),
            "{url}"
        );
    }
    // Refused upgrades held nothing: only the two that opened count.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(line.state.streams.open() <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_start_have_a_small_cap_and_calls_still_get_streams() {
    use caseline::http::stream::MAX_UNSTARTED;
    let line = Line::open().await;
    let mut silent = Vec::new();
    for _ in 0..MAX_UNSTARTED {
        silent.push(line.socket().await);
    }
    assert_eq!(
        line.upgrade(Some(&stream_signature(STREAM_URL)))
            .await
            .err(),
        Some(503),
        "one more socket that has not started"
    );
    // One leaves; a real call's stream opens, starts, and no longer counts as waiting.
    drop(silent.pop());
    let (sid, token) = line.ring().await;
    let mut tty = loop {
        // The server notices the dropped socket on its next read; the first socket it
        // lets in is the call's (a probe dropped here would hold the place a while).
        if let Ok(ws) = line.upgrade(Some(&stream_signature(STREAM_URL))).await {
            break TtyCaller::start_on(ws, &sid, &token).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let hello = tty.hear().await.expect("the greeting");
    assert!(hello.contains("ENGLISH: PRESS 1"), "{hello}");
}

async fn a_call_whose_stream_fails_twice_goes_to_a_person_instead_of_another_stream(
    backend: common::Backend,
) {
    let line = Line::open_on(backend).await;
    let (sid, _token) = line.ring().await;
    // The stream never started (refused at the cap, say): the provider asks the
    // <Connect action>. Once, the call gets a new stream.
    let again = line.post("/voice/tty/after", &[("CallSid", &sid)]).await;
    assert!(again.contains("<Stream"), "{again}");
    // Twice: no third stream, but a person (the office is open), in TTY text.
    let out = line.post("/voice/tty/after", &[("CallSid", &sid)]).await;
    assert!(!out.contains("<Stream"), "{out}");
    assert!(out.contains("<Enqueue"), "{out}");
    assert!(out.contains(r#""channel":"tty""#), "{out}");
    // When the queue ends, the step that follows is answered as TwiML, not a stream.
    let back = line
        .post(
            "/voice/step/representative-after",
            &[("CallSid", &sid), ("QueueResult", "hangup")],
        )
        .await;
    assert!(!back.contains("<Stream"), "{back}");
    assert!(back.contains("<Gather"), "{back}");
}

/// On two worker threads, as the race needs (before the token was claimed, 11 of 20
/// such pairs both got a stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_starts_at_once_with_one_token_get_one_stream_on_two_threads() {
    two_starts_at_once_with_one_token_get_one_stream(common::Backend::Sqlite).await;
}

async fn two_starts_at_once_with_one_token_get_one_stream(backend: common::Backend) {
    let line = Line::open_on(backend).await;
    for trial in 0..10 {
        let (sid, token) = line.ring().await;
        let (a, b) = tokio::join!(
            TtyCaller::start(&line, &sid, &token),
            TtyCaller::start(&line, &sid, &token)
        );
        let mut got = 0;
        for mut c in [a, b] {
            if !closed_without_audio_or_audio(&mut c.ws).await {
                got += 1;
            }
        }
        assert_eq!(got, 1, "trial {trial}: streams for one token");
    }
}

/// True if the server closed the socket before any audio, false once audio comes.
async fn closed_without_audio_or_audio(ws: &mut Socket) -> bool {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => return false,
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the server neither closed nor sent audio"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_streams_logs_a_few_lines_and_counts() {
    let line = Line::open().await;
    let logs = common::capture_logs();
    let (sid, _) = line.ring().await;
    let before = logs.lock().expect("logs").len();
    for _ in 0..100 {
        assert_eq!(line.upgrade(None).await.err(), Some(403));
    }
    for _ in 0..100 {
        let mut forged = TtyCaller::start(&line, &sid, "0000000000000000ffffffffffffffff").await;
        assert!(closed_without_audio(&mut forged.ws).await);
    }
    let logs = String::from_utf8(logs.lock().expect("logs")[before..].to_vec()).expect("text");
    // The lines about these two kinds of refusal (other tests' refusals may share them;
    // before the fix, each forged start logged a line of its own).
    let refusals = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("TTY stream"))
        .filter(|l| !l.contains("not started") && !l.contains("no start in time"))
        .filter(|l| !l.contains("all streams in use"))
        .count();
    // At most ten lines a kind and a count each, per 10-second interval; the flood may
    // straddle two.
    assert!(refusals <= 44, "{refusals} lines for 200 refusals:\n{logs}");
}

/// This process's resident memory, in bytes (Linux).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_waiting_for_its_start_holds_little_memory() {
    let line = Line::open().await;
    // Warm up: the first sockets pay for the runtime's and the library's own setup.
    let mut warm = Vec::new();
    for _ in 0..4 {
        let mut ws = line.socket().await;
        send_json(&mut ws, serde_json::json!({"event": "connected"})).await;
        warm.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = resident();
    let mut sockets = Vec::new();
    for _ in 0..48 {
        let mut ws = line.socket().await;
        // A message read, so the server's read buffer is in use.
        send_json(&mut ws, serde_json::json!({"event": "connected"})).await;
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let per_socket = resident().saturating_sub(before) / sockets.len();
    // Both ends are in this process: the server's socket and the test's client.
    assert!(
        per_socket < 48 * 1024,
        "{per_socket} bytes per waiting socket"
    );
}

crate::on_both_stores!(
    a_tty_call_ended_by_its_stream_stop_is_in_the_reports_once,
    a_call_whose_stream_fails_twice_goes_to_a_person_instead_of_another_stream,
    two_starts_at_once_with_one_token_get_one_stream,
);

/// The caller hangs up: the stream's `stop` comes before the status callback. The call
/// is in the reports, as a TTY call, once.
async fn a_tty_call_ended_by_its_stream_stop_is_in_the_reports_once(backend: common::Backend) {
    let line = Line::open_on(backend).await;
    let since = line.state.line.now() - 60;
    let (sid, token) = line.ring().await;
    let mut tty = TtyCaller::start(&line, &sid, &token).await;
    tty.hear().await.expect("the greeting");
    tty.type_text("1").await;
    tty.hear().await.expect("the main menu");
    tty.hang_up(&sid).await;
    assert!(closed_without_audio(&mut tty.ws).await);
    line.post(
        "/voice/status",
        &[
            ("CallSid", &sid),
            ("CallStatus", "completed"),
            ("From", "+15595550123"),
        ],
    )
    .await;
    let r = caseline::ops::analytics::report(&line.state.line.store, since, false, None)
        .await
        .expect("report");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["by_channel"], serde_json::json!({"tty": 1}), "{json}");
    assert_eq!(json["by_language"], serde_json::json!({"en": 1}), "{json}");
}

/// Verification and the readbacks reach a TTY caller as TTY text in either language:
/// keys and typing, never "say the numbers".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tty_caller_verifies_and_hears_the_readback_in_tty_text_in_both_languages() {
    let line = Line::open().await;
    for (lang_key, ssn_words, spoken, choices) in [
        (
            "1",
            "SOCIAL SECURITY",
            "SAY",
            "STAR TO REPEAT. 1 CASE STATUS.",
        ),
        (
            "2",
            "SEGURO SOCIAL",
            "DIGA",
            "ESTRELLA PARA REPETIR. 1 ESTADO DEL CASO.",
        ),
    ] {
        let (sid, token) = line.ring().await;
        let mut tty = TtyCaller::start(&line, &sid, &token).await;
        tty.hear().await.expect("the greeting");
        tty.type_text(lang_key).await;
        tty.hear().await.expect("the main menu");
        tty.type_text("1").await;
        let ask_ssn = tty.hear().await.expect("the SSN prompt");
        assert!(ask_ssn.contains(ssn_words), "{ask_ssn}");
        assert!(!ask_ssn.contains(spoken), "{ask_ssn}");
        tty.type_text(MARCO.0).await;
        let ask_par = tty.hear().await.expect("the PAR ID prompt");
        assert!(ask_par.contains("PAR ID"), "{ask_par}");
        assert!(!ask_par.contains(spoken), "{ask_par}");
        tty.type_text(&format!("{}\r\n", MARCO.1)).await;
        let payments = tty.hear().await.expect("the payments readback");
        assert!(payments.contains(choices), "{payments}");
        assert!(payments.contains("$450.00"), "{payments}");
        tty.hang_up(&sid).await;
    }
}

crate::on_postgres!(two_starts_with_one_token_on_two_servers_get_one_stream);

/// The provider's two `start`s with one token reach two servers: one stream between
/// them (the token is taken in the store, not only in one server's memory).
async fn two_starts_with_one_token_on_two_servers_get_one_stream(backend: common::Backend) {
    let first = Line::open_on(backend).await;
    let second = first.beside().await;
    for trial in 0..5 {
        let (sid, token) = first.ring().await;
        let (a, b) = tokio::join!(
            TtyCaller::start(&first, &sid, &token),
            TtyCaller::start(&second, &sid, &token)
        );
        let mut got = 0;
        for mut c in [a, b] {
            if !closed_without_audio_or_audio(&mut c.ws).await {
                got += 1;
            }
        }
        assert_eq!(got, 1, "trial {trial}: streams for one token");
    }
}
