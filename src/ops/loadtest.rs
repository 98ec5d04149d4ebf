//! `caseline loadtest`: plays the telephony provider against a running server, many
//! whole calls at once, to learn what one server holds.
//!
//! Each call is what the provider would send for a person on the line: the incoming
//! webhook, then the keys a caller presses at each `<Gather>`, posted to the `action`
//! the server wrote (and every `<Redirect>` followed), each request signed like the
//! provider's; then the status callback. The server's answers drive the call: the tool
//! knows only which keys a caller presses at which step of the shipped flows
//! (`call-flows/`), and checks at each turn that the server put the caller where a
//! person pressing those keys would be.
//!
//! Built to hold 10,000 calls from one process on two cores: one runtime, one HTTP
//! client whose requests in flight are capped (so sockets stay bounded however many
//! calls wait), a worker task per concurrent call holding only where its call is, and
//! latencies kept as one `u32` of microseconds per request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::http::signature::{Algorithm, sign, signing_payload};
use crate::telephony::twiml::{self, Response};

/// How long one webhook may take before it counts as a transport failure: the
/// provider's own limit (it gives up on a webhook after 15 seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// `<Redirect>`s followed in a row before a call counts as lost (a loop in the flow).
const MAX_REDIRECTS: usize = 10;
/// The number the calls are placed to: the agency's toll-free line.
const TOLL_FREE: &str = "+18669013212";
/// The account every call claims to come from (the server does not check it).
const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

/// What one run does.
pub struct Options {
    /// Where the requests go: the server's address, like `http://127.0.0.1:8080`.
    pub url: String,
    /// The server's `CASELINE_PUBLIC_URL`: the base of the URLs it writes into its
    /// TwiML and of the URL it checks each signature against.
    pub public_url: String,
    /// `CASELINE_TWILIO_AUTH_TOKEN`: the key of `X-Twilio-Signature`.
    pub token: String,
    /// Calls placed in all.
    pub calls: u64,
    /// Calls on the line at once.
    pub concurrency: u64,
    /// The mean pause before each key press and before hanging up (jittered 0.5x to
    /// 1.5x); the first calls' starts are spread over one such pause.
    pub think: Duration,
    /// Requests in flight at once, whatever the number of calls (bounds the sockets).
    pub connections: usize,
    /// People who verify; none: every call hears general information.
    pub callers: Vec<Caller>,
    /// Print a progress line on stderr once a second.
    pub progress: bool,
}

/// Someone in the server's data, who verifies with these numbers. No `Debug`: the
/// numbers stay out of logs and panics.
#[derive(Deserialize, Clone)]
pub struct Caller {
    pub ssn: String,
    pub par_id: String,
}

/// Reads a callers file: a JSON list of `{"ssn": "...", "par_id": "..."}`. SSNs may be
/// written with dashes or spaces (they are keyed as nine digits); a PAR ID is digits.
pub fn parse_callers(text: &str) -> anyhow::Result<Vec<Caller>> {
    let raw: Vec<Caller> = serde_json::from_str(text)
        .context("the callers file must be a JSON list of {\"ssn\": ..., \"par_id\": ...}")?;
    if raw.is_empty() {
        anyhow::bail!("the callers file lists nobody");
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let ssn: String = c
                .ssn
                .chars()
                .filter(|ch| !matches!(ch, '-' | ' '))
                .collect();
            if ssn.len() != 9 || !ssn.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("caller {}: the SSN is not nine digits", i + 1);
            }
            let par_id = c.par_id.trim().to_string();
            if par_id.is_empty() || !par_id.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("caller {}: the PAR ID is not digits", i + 1);
            }
            Ok(Caller { ssn, par_id })
        })
        .collect()
}

/// The figures of a run. Serialised (`--format json`) with exactly these keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Calls placed.
    pub calls: u64,
    /// Calls that played their whole script and ended with an accepted status callback.
    pub completed: u64,
    /// Calls that failed (each counted once, at its first [`Failure`]).
    pub errors: u64,
    /// Webhook requests sent, status callbacks included.
    pub requests: u64,
    /// Latency of one webhook request (sent to whole answer read), percentiles in ms.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Per kind of failure, how many calls and the first one's detail (stderr only).
    #[serde(skip)]
    pub failures: BTreeMap<&'static str, (u64, String)>,
}

impl Summary {
    /// The figures from the per-request latencies (µs, any order).
    fn new(
        calls: u64,
        completed: u64,
        errors: u64,
        requests: u64,
        mut latencies: Vec<u32>,
    ) -> Summary {
        latencies.sort_unstable();
        let ms = |p: f64| f64::from(percentile(&latencies, p)) / 1000.0;
        Summary {
            calls,
            completed,
            errors,
            requests,
            p50_ms: ms(50.0),
            p95_ms: ms(95.0),
            p99_ms: ms(99.0),
            failures: BTreeMap::new(),
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn text(&self) -> String {
        format!(
            "calls       {}\ncompleted   {}\nerrors      {}\nrequests    {}\nlatency     p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms\n",
            self.calls,
            self.completed,
            self.errors,
            self.requests,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms
        )
    }

    /// One line per kind of failure: how many calls, and the first one's detail.
    pub fn failure_lines(&self) -> Vec<String> {
        self.failures
            .iter()
            .map(|(kind, (count, first))| format!("{count} call(s) failed: {kind}; first: {first}"))
            .collect()
    }
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at
/// least `p` percent of the values at or below it; 0 when there are none. Chosen over
/// interpolation because it is always a latency that was measured, and it rises with
/// `p`, so p50 <= p95 <= p99 by construction.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Why a call failed. A call fails at the first of these, stops its script, and still
/// sends its status callback (as the provider would when the line drops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No HTTP answer: the connection failed or broke, or no whole answer came within
    /// [`REQUEST_TIMEOUT`].
    Transport(String),
    /// An HTTP status other than 200 (a refused signature is 403), with the path.
    Status(u16, String),
    /// A 200 whose body is not TwiML the provider would play (not XML, not a
    /// `<Response>`, or an element or attribute outside the provider's schema, or a
    /// `<Gather>` without an `action`).
    NotTwiml(String),
    /// The server's apology: a `<Redirect>` to `/voice/recover`, what a caller hears
    /// when a webhook failed inside the server.
    Apology(String),
    /// The call did not go where its script goes: a `<Gather>` at another step than the
    /// one expected (a refused verification asks for the SSN again), a transfer, a
    /// hang-up, TwiML that ends with no way on, a verb the tool does not play, a
    /// redirect loop, or a URL outside the public URL.
    OffScript(String),
}

impl Failure {
    fn kind(&self) -> &'static str {
        match self {
            Failure::Transport(_) => "transport",
            Failure::Status(..) => "HTTP status",
            Failure::NotTwiml(_) => "not TwiML",
            Failure::Apology(_) => "apology",
            Failure::OffScript(_) => "off script",
        }
    }

    fn detail(&self) -> String {
        match self {
            Failure::Status(code, path) => format!("{code} from {path}"),
            Failure::Transport(d)
            | Failure::NotTwiml(d)
            | Failure::Apology(d)
            | Failure::OffScript(d) => d.clone(),
        }
    }
}

/// What the keys of a turn are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    Fixed(&'static str),
    Ssn,
    ParId,
}

/// One turn of a call: the step whose `<Gather>` the caller must be at (the last
/// segment of its `action` path), and what they press there; `None` hangs up.
#[derive(Debug, Clone, Copy)]
struct Turn {
    at: &'static [&'static str],
    keys: Option<Keys>,
    /// Played only if the call is at its step (a choice only some callers are asked).
    optional: bool,
}

const fn turn(at: &'static [&'static str], keys: &'static str) -> Turn {
    Turn {
        at,
        keys: Some(Keys::Fixed(keys)),
        optional: false,
    }
}

// The shipped flows' steps a script passes (`call-flows/`).
const LANGUAGE: &[&str] = &["language"];
const MAIN_MENU: &[&str] = &["main-menu"];
const INFO_MENU: &[&str] = &["info-menu"];
/// The information menu's keys and the step each one says.
const TOPICS: [(&str, &[&str]); 5] = [
    ("1", &["info-hours"]),
    ("2", &["info-open-case"]),
    ("3", &["info-payments"]),
    ("4", &["info-services"]),
    ("5", &["info-online"]),
];
const ASK_SSN: &[&str] = &["ask-ssn"];
const ASK_PAR: &[&str] = &["ask-par"];
const CHOOSE_CASE: &[&str] = &["choose-case"];
const PAYMENTS: &[&str] = &["payments-paying", "payments-receiving", "payments-none"];
const CASE_STATUS: &[&str] = &["case-open", "case-closed"];

/// The script of call `n`. Every fourth call chooses Spanish. Without a caller: main
/// menu 3, an information topic, 8 for the topics again, a second topic, hang up.
/// With one: main menu 1 (payments), the SSN, the PAR ID (the first case if asked
/// which), the payments readback, 1 for the case status readback, hang up.
fn script(n: u64, verifies: bool) -> Vec<Turn> {
    let language = if n % 4 == 3 { "2" } else { "1" };
    let choose_first_case = Turn {
        at: CHOOSE_CASE,
        keys: Some(Keys::Fixed("1")),
        optional: true,
    };
    if verifies {
        vec![
            turn(LANGUAGE, language),
            turn(MAIN_MENU, "1"),
            Turn {
                at: ASK_SSN,
                keys: Some(Keys::Ssn),
                optional: false,
            },
            Turn {
                at: ASK_PAR,
                keys: Some(Keys::ParId),
                optional: false,
            },
            choose_first_case,
            turn(PAYMENTS, "1"),
            choose_first_case,
            Turn {
                at: CASE_STATUS,
                keys: None,
                optional: false,
            },
        ]
    } else {
        let (first_key, first_step) = TOPICS[(n % 5) as usize];
        let (second_key, second_step) = TOPICS[((n + 2) % 5) as usize];
        vec![
            turn(LANGUAGE, language),
            turn(MAIN_MENU, "3"),
            turn(INFO_MENU, first_key),
            turn(first_step, "8"),
            turn(INFO_MENU, second_key),
            Turn {
                at: second_step,
                keys: None,
                optional: false,
            },
        ]
    }
}

/// What an answer leaves the caller to do, read from its verbs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// A `<Gather>`: press keys, posted to its `action`.
    Gather(String),
    /// A `<Redirect>` the provider follows at once.
    Redirect(String),
}

/// The first verb that hands the call on; anything else in the way is a [`Failure`].
fn next_of(response: &Response) -> Result<Next, Failure> {
    for verb in &response.verbs {
        match verb.name {
            "Gather" => {
                return verb
                    .get("action")
                    .map(|a| Next::Gather(a.to_string()))
                    .ok_or_else(|| Failure::NotTwiml("a <Gather> without an action".into()));
            }
            "Redirect" => {
                let url = verb.text.as_deref().unwrap_or("").trim();
                if path_of(url) == "/voice/recover" {
                    return Err(Failure::Apology(url.to_string()));
                }
                return Ok(Next::Redirect(url.to_string()));
            }
            "Hangup" | "Reject" => {
                return Err(Failure::OffScript("the server hung up".into()));
            }
            "Dial" | "Enqueue" => {
                return Err(Failure::OffScript(
                    "the call was sent to a representative".into(),
                ));
            }
            "Say" | "Play" | "Pause" => {}
            other => {
                return Err(Failure::OffScript(format!(
                    "<{other}>, which the load tester does not play"
                )));
            }
        }
    }
    Err(Failure::OffScript(
        "the TwiML ended with no way on (the provider hangs up)".into(),
    ))
}

/// The path of a URL (absolute or not), without its query.
fn path_of(url: &str) -> &str {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    rest.split(['?', '#']).next().unwrap_or("")
}

/// The step a `<Gather action>` answers: the last segment of its path.
fn step_of(action: &str) -> &str {
    let path = path_of(action);
    path.rsplit('/').next().unwrap_or(path)
}

/// What the caller does after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Move {
    /// Follow a redirect, at once.
    Follow(String),
    /// After a pause, press these keys, posted to this action.
    Press(String, Keys),
    /// After a pause, hang up: the script is done.
    HangUp,
}

/// The caller's next move, given the script and the turn it has reached (advanced past
/// the turn played). A `<Gather>` at another step than the turn's is the call going off
/// its script.
fn decide(turns: &[Turn], at: &mut usize, response: &Response) -> Result<Move, Failure> {
    let expected = || {
        turns
            .iter()
            .skip(*at)
            .find(|t| !t.optional)
            .map_or("the end".to_string(), |t| t.at.join(" or "))
    };
    let next = next_of(response).map_err(|f| match f {
        Failure::OffScript(d) => Failure::OffScript(format!("{d}, expected {}", expected())),
        other => other,
    })?;
    let action = match next {
        Next::Redirect(url) => return Ok(Move::Follow(url)),
        Next::Gather(action) => action,
    };
    let step = step_of(&action);
    while turns
        .get(*at)
        .is_some_and(|t| t.optional && !t.at.contains(&step))
    {
        *at += 1;
    }
    let Some(turn) = turns.get(*at) else {
        return Err(Failure::OffScript(format!(
            "asked at {step} after the script ended"
        )));
    };
    if !turn.at.contains(&step) {
        return Err(Failure::OffScript(format!(
            "expected {}, heard {step}",
            turn.at.join(" or ")
        )));
    }
    *at += 1;
    Ok(match turn.keys {
        Some(keys) => Move::Press(action, keys),
        None => Move::HangUp,
    })
}

/// Where a URL the server wrote is sent, and the URL it is signed with.
///
/// The server writes absolute URLs under its public URL and checks each signature
/// against its public URL plus the path and query it received. So the signed URL is
/// the server's URL verbatim (query included), as the provider signs what it calls,
/// and the request goes to `--url` plus the same path and query. A path alone is taken
/// as under the public URL; any other URL is refused.
fn route(url: &str, public_url: &str, target: &str) -> Result<(String, String), Failure> {
    let rest = match url.strip_prefix(public_url) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest,
        _ if url.starts_with('/') => url,
        _ => {
            return Err(Failure::OffScript(format!(
                "a URL outside the public URL {public_url}: {url}"
            )));
        }
    };
    Ok((format!("{public_url}{rest}"), format!("{target}{rest}")))
}

/// A small, fast generator for think-time jitter (splitmix64): no cryptographic
/// strength needed, and no shared state between calls.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0.5 T ..= 1.5 T, so calls started together drift apart.
    fn jitter(&mut self, think: Duration) -> Duration {
        let t = u64::try_from(think.as_micros()).unwrap_or(u64::MAX / 4);
        if t == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(t / 2 + self.next() % (t + 1))
    }
}

/// Counters the workers move and the progress line reads.
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    completed: AtomicU64,
    errors: AtomicU64,
    requests: AtomicU64,
}

/// What every call shares.
struct Shared {
    client: reqwest::Client,
    /// The cap on requests in flight.
    slots: Semaphore,
    url: String,
    public_url: String,
    token: String,
    calls: u64,
    think: Duration,
    callers: Vec<Caller>,
    /// The next call number to place.
    next: AtomicU64,
    counters: Counters,
    failures: Mutex<BTreeMap<&'static str, (u64, String)>>,
    /// Makes this run's CallSids its own.
    run_id: u64,
}

/// One call on the line: its identity, the latencies of the worker placing it.
struct Line<'a> {
    shared: &'a Shared,
    sid: String,
    from: String,
    latencies: &'a mut Vec<u32>,
}

impl Line<'_> {
    /// Posts one signed webhook with this call's parameters; answers the body of a 200.
    async fn post(&mut self, url: &str, extra: &[(&str, &str)]) -> Result<String, Failure> {
        let s = self.shared;
        let (signed, sent) = route(url, &s.public_url, &s.url)?;
        let mut params: Vec<(String, String)> = Vec::with_capacity(6 + extra.len());
        params.push(("CallSid".into(), self.sid.clone()));
        params.push(("AccountSid".into(), ACCOUNT_SID.into()));
        params.push(("From".into(), self.from.clone()));
        params.push(("To".into(), TOLL_FREE.into()));
        params.push(("Direction".into(), "inbound".into()));
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let signature = sign(
            Algorithm::HmacSha1,
            &s.token,
            &signing_payload(&signed, &params),
        );
        let _slot = s
            .slots
            .acquire()
            .await
            .map_err(|_| Failure::Transport("the run was stopped".into()))?;
        s.counters.requests.fetch_add(1, Relaxed);
        let began = Instant::now();
        let answer = s
            .client
            .post(&sent)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .map_err(|e| Failure::Transport(format!("{}: {e}", path_of(&sent))))?;
        let status = answer.status();
        let body = answer
            .text()
            .await
            .map_err(|e| Failure::Transport(format!("{}: {e}", path_of(&sent))))?;
        self.latencies
            .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != reqwest::StatusCode::OK {
            return Err(Failure::Status(status.as_u16(), path_of(&sent).to_string()));
        }
        Ok(body)
    }

    /// Posts a webhook and reads its answer as TwiML.
    async fn ask(&mut self, url: &str, extra: &[(&str, &str)]) -> Result<Response, Failure> {
        let body = self.post(url, extra).await?;
        let response = twiml::parse(&body)
            .and_then(|r| twiml::check(&r).map(|()| r))
            .map_err(|e| Failure::NotTwiml(format!("{}: {e}", path_of(url))))?;
        Ok(response)
    }

    /// The call's script, from the incoming webhook to the last turn.
    async fn play(
        &mut self,
        turns: &[Turn],
        caller: Option<&Caller>,
        rng: &mut Rng,
    ) -> Result<(), Failure> {
        let think = self.shared.think;
        let incoming = format!("{}/voice/incoming", self.shared.public_url);
        let mut answer = self.ask(&incoming, &[("CallStatus", "ringing")]).await?;
        let mut at = 0;
        let mut redirects = 0;
        loop {
            match decide(turns, &mut at, &answer)? {
                Move::Follow(url) => {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(Failure::OffScript(format!(
                            "{MAX_REDIRECTS} redirects in a row"
                        )));
                    }
                    answer = self.ask(&url, &[("CallStatus", "in-progress")]).await?;
                }
                Move::Press(action, keys) => {
                    redirects = 0;
                    pause(rng.jitter(think)).await;
                    let digits = match (keys, caller) {
                        (Keys::Fixed(k), _) => k,
                        (Keys::Ssn, Some(c)) => c.ssn.as_str(),
                        (Keys::ParId, Some(c)) => c.par_id.as_str(),
                        (_, None) => {
                            return Err(Failure::OffScript(
                                "asked to verify with no caller".into(),
                            ));
                        }
                    };
                    answer = self
                        .ask(
                            &action,
                            &[("CallStatus", "in-progress"), ("Digits", digits)],
                        )
                        .await?;
                }
                Move::HangUp => {
                    pause(rng.jitter(think)).await;
                    return Ok(());
                }
            }
        }
    }

    /// The status callback that ends the call on the server.
    async fn hang_up(&mut self, began: Instant) -> Result<(), Failure> {
        let url = format!("{}/voice/status", self.shared.public_url);
        let duration = began.elapsed().as_secs().to_string();
        self.ask(
            &url,
            &[("CallStatus", "completed"), ("CallDuration", &duration)],
        )
        .await
        .map(|_| ())
    }
}

async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

impl Shared {
    fn fail(&self, failure: &Failure) {
        self.counters.errors.fetch_add(1, Relaxed);
        if let Ok(mut failures) = self.failures.lock() {
            failures
                .entry(failure.kind())
                .and_modify(|(count, _)| *count += 1)
                .or_insert_with(|| (1, failure.detail()));
        }
    }

    /// Places call `n`: its script, then the status callback, even after a failure.
    async fn call(&self, n: u64, rng: &mut Rng, latencies: &mut Vec<u32>) {
        self.counters.started.fetch_add(1, Relaxed);
        let caller = (!self.callers.is_empty())
            .then(|| &self.callers[(n % self.callers.len() as u64) as usize]);
        let turns = script(n, caller.is_some());
        let mut line = Line {
            shared: self,
            sid: format!("CA{:016x}{n:016x}", self.run_id),
            from: format!("+1559555{:04}", n % 10_000),
            latencies,
        };
        let began = Instant::now();
        let played = line.play(&turns, caller, rng).await;
        let ended = line.hang_up(began).await;
        match played.and(ended) {
            Ok(()) => {
                self.counters.completed.fetch_add(1, Relaxed);
            }
            Err(failure) => self.fail(&failure),
        }
        self.counters.finished.fetch_add(1, Relaxed);
    }

    /// One concurrent line: places calls one after another until all are placed.
    async fn worker(&self, index: u64, lines: u64) -> Vec<u32> {
        let mut rng = Rng(self.run_id ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let mut latencies = Vec::new();
        // Ramp: the first calls start spread over one think time, not all at once.
        pause(self.think.mul_f64(index as f64 / lines as f64)).await;
        loop {
            let n = self.next.fetch_add(1, Relaxed);
            if n >= self.calls {
                break;
            }
            self.call(n, &mut rng, &mut latencies).await;
        }
        latencies
    }
}

/// Places the calls and answers the figures. Fails only if the run cannot start (a
/// client that cannot be built); every failure of a call is counted in the summary.
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let trim = |u: &str| u.trim_end_matches('/').to_string();
    // Enough descriptors for the connections asked for (the soft limit is often 1024).
    crate::http::server::raise_open_file_limit();
    let connections = options.connections.max(1);
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()
        .context("Failed to build the HTTP client")?;
    let shared = std::sync::Arc::new(Shared {
        client,
        slots: Semaphore::new(connections),
        url: trim(&options.url),
        public_url: trim(&options.public_url),
        token: options.token,
        calls: options.calls,
        think: options.think,
        callers: options.callers,
        next: AtomicU64::new(0),
        counters: Counters::default(),
        failures: Mutex::new(BTreeMap::new()),
        run_id: uuid::Uuid::new_v4().as_u64_pair().0,
    });
    let lines = options.concurrency.clamp(1, options.calls.max(1));
    let progress = options
        .progress
        .then(|| tokio::spawn(report_progress(shared.clone())));
    let workers: Vec<_> = (0..lines)
        .map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move { shared.worker(i, lines).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("a load test worker stopped")?);
    }
    if let Some(p) = progress {
        p.abort();
    }
    let c = &shared.counters;
    let mut summary = Summary::new(
        c.started.load(Relaxed),
        c.completed.load(Relaxed),
        c.errors.load(Relaxed),
        c.requests.load(Relaxed),
        latencies,
    );
    if let Ok(failures) = shared.failures.lock() {
        summary.failures = failures.clone();
    }
    Ok(summary)
}

/// Once a second on stderr: calls started, on the line, completed, failed, and the
/// requests per second over the last second.
async fn report_progress(shared: std::sync::Arc<Shared>) {
    let began = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut last = (0, Instant::now());
    loop {
        ticks.tick().await;
        let requests = shared.counters.requests.load(Relaxed);
        let per_sec = (requests - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-3);
        last = (requests, Instant::now());
        print_progress(&shared, per_sec.round() as u64, began.elapsed());
    }
}

fn print_progress(shared: &Shared, per_sec: u64, elapsed: Duration) {
    let c = &shared.counters;
    let started = c.started.load(Relaxed);
    let finished = c.finished.load(Relaxed);
    eprintln!(
        "{:>5}s  started {started}  active {}  completed {}  errors {}  req/s {per_sec}",
        elapsed.as_secs(),
        started.saturating_sub(finished),
        c.completed.load(Relaxed),
        c.errors.load(Relaxed),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telephony::twiml::Element;

    fn gather(step: &str) -> Response {
        Response {
            verbs: vec![
                Element::new("Say").text("You said it."),
                Element::new("Gather")
                    .attr("action", format!("https://ivr.test/voice/input/{step}?t=3"))
                    .child(Element::new("Say").text("Press 1.")),
                Element::new("Redirect").text("https://ivr.test/voice/step/after-silence"),
            ],
        }
    }

    fn verbs(verbs: Vec<Element>) -> Response {
        Response { verbs }
    }

    #[test]
    fn percentile_is_the_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[7], 99.0), 7);
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50.0), 50);
        assert_eq!(percentile(&hundred, 95.0), 95);
        assert_eq!(percentile(&hundred, 99.0), 99);
        assert_eq!(percentile(&hundred, 100.0), 100);
        assert_eq!(percentile(&hundred, 0.0), 1);
        // Ten values: p95 and p99 are the largest; p50 the fifth.
        let ten: Vec<u32> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(percentile(&ten, 50.0), 50);
        assert_eq!(percentile(&ten, 95.0), 100);
        assert_eq!(percentile(&ten, 99.0), 100);
    }

    #[test]
    fn the_summary_sorts_microseconds_into_milliseconds_and_has_seven_keys() {
        let latencies = vec![3_000, 1_000, 2_500, 1_200, 40_000];
        let s = Summary::new(2, 1, 1, 5, latencies);
        assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (2.5, 40.0, 40.0));
        let json: serde_json::Value = serde_json::from_str(&s.json()).expect("json");
        let keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "calls",
            "completed",
            "errors",
            "requests",
            "p50_ms",
            "p95_ms",
            "p99_ms",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert!(s.text().contains("p99 40.000 ms"), "{}", s.text());
    }

    #[test]
    fn the_next_move_is_the_first_verb_that_hands_the_call_on() {
        assert_eq!(
            next_of(&gather("main-menu")),
            Ok(Next::Gather(
                "https://ivr.test/voice/input/main-menu?t=3".into()
            ))
        );
        let redirect = verbs(vec![
            Element::new("Say").text("Welcome."),
            Element::new("Redirect").text("https://ivr.test/voice/step/language"),
        ]);
        assert_eq!(
            next_of(&redirect),
            Ok(Next::Redirect(
                "https://ivr.test/voice/step/language".into()
            ))
        );
        let apology = verbs(vec![
            Element::new("Say").text("Sorry."),
            Element::new("Redirect").text("https://ivr.test/voice/recover?attempt=1"),
        ]);
        assert!(matches!(next_of(&apology), Err(Failure::Apology(_))));
        for (verb, kind) in [
            ("Hangup", "off script"),
            ("Enqueue", "off script"),
            ("Dial", "off script"),
            ("Pay", "off script"),
        ] {
            let r = verbs(vec![Element::new("Say").text("Bye."), Element::new(verb)]);
            assert_eq!(next_of(&r).map_err(|f| f.kind()), Err(kind), "{verb}");
        }
        let ends = verbs(vec![Element::new("Say").text("Nothing more.")]);
        assert!(matches!(next_of(&ends), Err(Failure::OffScript(_))));
        let no_action = verbs(vec![Element::new("Gather")]);
        assert!(matches!(next_of(&no_action), Err(Failure::NotTwiml(_))));
    }

    #[test]
    fn urls_are_signed_as_written_and_sent_to_the_target() {
        let public = "https://ivr.example.gov";
        let target = "http://127.0.0.1:9000";
        assert_eq!(
            route(
                "https://ivr.example.gov/voice/input/menu?t=3&x=a%20b",
                public,
                target
            ),
            Ok((
                "https://ivr.example.gov/voice/input/menu?t=3&x=a%20b".into(),
                "http://127.0.0.1:9000/voice/input/menu?t=3&x=a%20b".into()
            ))
        );
        assert_eq!(
            route("/voice/status", public, target),
            Ok((
                "https://ivr.example.gov/voice/status".into(),
                "http://127.0.0.1:9000/voice/status".into()
            ))
        );
        // A public URL with a path: the server's routes sit under it.
        assert_eq!(
            route(
                "https://x.gov/ivr/voice/step/a",
                "https://x.gov/ivr",
                target
            ),
            Ok((
                "https://x.gov/ivr/voice/step/a".into(),
                "http://127.0.0.1:9000/voice/step/a".into()
            ))
        );
        for elsewhere in [
            "https://evil.test/voice/input/menu",
            "https://ivr.example.government/voice/input/menu",
        ] {
            assert!(
                matches!(route(elsewhere, public, target), Err(Failure::OffScript(_))),
                "{elsewhere}"
            );
        }
    }

    #[test]
    fn steps_are_read_from_the_action_path() {
        assert_eq!(
            step_of("https://ivr.test/voice/input/ask-ssn?t=3"),
            "ask-ssn"
        );
        assert_eq!(
            step_of("https://ivr.test/voice/input/main-menu"),
            "main-menu"
        );
        assert_eq!(step_of("/voice/input/language#x"), "language");
        assert_eq!(path_of("https://ivr.test"), "");
        assert_eq!(
            path_of("https://ivr.test/voice/recover?attempt=1"),
            "/voice/recover"
        );
    }

    /// Plays a script against answers given in order; the moves made.
    fn walk(turns: &[Turn], answers: &[Response]) -> Result<Vec<Move>, Failure> {
        let mut at = 0;
        answers.iter().map(|a| decide(turns, &mut at, a)).collect()
    }

    #[test]
    fn an_information_call_presses_its_keys_where_the_answers_say() {
        // Call 0: English, topic 1 (hours), then 8, then topic 3 (payments).
        let turns = script(0, false);
        let welcome = verbs(vec![
            Element::new("Say").text("Welcome."),
            Element::new("Redirect").text("https://ivr.test/voice/step/language?t=1"),
        ]);
        let moves = walk(
            &turns,
            &[
                welcome,
                gather("language"),
                gather("main-menu"),
                gather("info-menu"),
                gather("info-hours"),
                gather("info-menu"),
                gather("info-payments"),
            ],
        )
        .expect("on script");
        let action = |step: &str| format!("https://ivr.test/voice/input/{step}?t=3");
        assert_eq!(
            moves,
            vec![
                Move::Follow("https://ivr.test/voice/step/language?t=1".into()),
                Move::Press(action("language"), Keys::Fixed("1")),
                Move::Press(action("main-menu"), Keys::Fixed("3")),
                Move::Press(action("info-menu"), Keys::Fixed("1")),
                Move::Press(action("info-hours"), Keys::Fixed("8")),
                Move::Press(action("info-menu"), Keys::Fixed("3")),
                Move::HangUp,
            ]
        );
        // Every fourth call speaks Spanish.
        assert_eq!(script(3, false)[0].keys, Some(Keys::Fixed("2")));
    }

    #[test]
    fn a_verified_call_answers_a_case_choice_only_when_asked() {
        let turns = script(0, true);
        let one_case = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("payments-paying"),
            gather("case-open"),
        ];
        let moves = walk(&turns, &one_case).expect("on script");
        let keys: Vec<Option<Keys>> = moves
            .iter()
            .map(|m| match m {
                Move::Press(_, k) => Some(*k),
                _ => None,
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                Some(Keys::Fixed("1")),
                Some(Keys::Fixed("1")),
                Some(Keys::Ssn),
                Some(Keys::ParId),
                Some(Keys::Fixed("1")),
                None,
            ]
        );
        let several = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("choose-case"),
            gather("payments-receiving"),
            gather("choose-case"),
            gather("case-closed"),
        ];
        let moves = walk(&turns, &several).expect("on script");
        assert_eq!(moves.len(), 8);
        assert_eq!(moves.last(), Some(&Move::HangUp));
    }

    #[test]
    fn a_refused_verification_is_off_script() {
        let turns = script(0, true);
        // A wrong PAR ID: the server asks for the SSN again.
        let refused = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("ask-ssn"),
        ];
        let err = walk(&turns, &refused).expect_err("refused");
        assert_eq!(
            err,
            Failure::OffScript(
                "expected payments-paying or payments-receiving or payments-none, heard ask-ssn"
                    .into()
            )
        );
        // Locked: a representative.
        let mut locked: Vec<Response> = refused[..4].to_vec();
        locked.push(verbs(vec![
            Element::new("Say").text("Locked."),
            Element::new("Enqueue").text("customer-service"),
        ]));
        assert!(matches!(walk(&turns, &locked), Err(Failure::OffScript(_))));
    }

    #[test]
    fn think_times_are_jittered_around_the_mean() {
        let mut rng = Rng(42);
        let t = Duration::from_millis(2000);
        let draws: Vec<Duration> = (0..1000).map(|_| rng.jitter(t)).collect();
        assert!(draws.iter().all(|d| *d >= t / 2 && *d <= t * 3 / 2));
        let mean = draws.iter().sum::<Duration>() / 1000;
        assert!(mean > t * 9 / 10 && mean < t * 11 / 10, "{mean:?}");
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
        assert_eq!(rng.jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_callers_file_is_read_as_digits() {
        let callers =
            parse_callers(r#"[{"ssn": "900-12-3456", "par_id": "4820193756"}]"#).expect("valid");
        assert_eq!(callers[0].ssn, "900123456");
        assert_eq!(callers[0].par_id, "4820193756");
        for (bad, why) in [
            ("[]", "nobody"),
            (r#"[{"ssn": "900-12-345", "par_id": "1"}]"#, "nine digits"),
            (r#"[{"ssn": "900123456", "par_id": "12a"}]"#, "not digits"),
            (r#"{"ssn": "900123456"}"#, "JSON list"),
        ] {
            let err = parse_callers(bad).err().map(|e| format!("{e:#}"));
            assert!(
                err.as_deref().is_some_and(|e| e.contains(why)),
                "{bad}: {err:?}"
            );
        }
    }
}
