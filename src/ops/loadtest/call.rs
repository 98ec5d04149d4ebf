//! One call on the line: the signed webhooks the provider would send for it, from the
//! incoming call through the script's key presses to the status callback.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::Shared;
use super::script::{Keys, Move, Turn, decide, path_of, script};
use super::{Caller, Failure};
use crate::http::signature::{Algorithm, sign, signing_payload};
use crate::telephony::twiml::{self, Response};

/// `<Redirect>`s followed in a row before a call counts as lost (a loop in the flow).
const MAX_REDIRECTS: usize = 10;
/// The number the calls are placed to: the agency's toll-free line.
const TOLL_FREE: &str = "+18669013212";
/// The account every call claims to come from (the server does not check it).
const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

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
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0.5 T ..= 1.5 T, so calls started together drift apart.
    pub(super) fn jitter(&mut self, think: Duration) -> Duration {
        let t = u64::try_from(think.as_micros()).unwrap_or(u64::MAX / 4);
        if t == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(t / 2 + self.next() % (t + 1))
    }
}

/// One call on the line: its identity, the latencies of the worker placing it.
pub(super) struct Line<'a> {
    shared: &'a Shared,
    /// The server this call's last request went to (its own, when sticky).
    server: Option<usize>,
    sid: String,
    from: String,
    latencies: &'a mut Vec<u32>,
}

impl Line<'_> {
    /// Posts one signed webhook with this call's parameters; answers the body of a 200.
    async fn post(&mut self, url: &str, extra: &[(&str, &str)]) -> Result<String, Failure> {
        let s = self.shared;
        let server = self.next_server();
        let (signed, sent) = route(url, &s.public_url, &s.urls[server])?;
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
        s.by_server[server].fetch_add(1, Relaxed);
        if self.server.is_some_and(|last| last != server) {
            s.counters.crossed.fetch_add(1, Relaxed);
        }
        self.server = Some(server);
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

    /// The server for this call's next request: its own when sticky, else the next in
    /// turn across all calls.
    fn next_server(&self) -> usize {
        let s = self.shared;
        match self.server {
            Some(own) if s.sticky => own,
            _ => {
                let n = s.next_server.fetch_add(1, Relaxed);
                usize::try_from(n % s.urls.len() as u64).unwrap_or(0)
            }
        }
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
    pub(super) async fn play(
        &mut self,
        turns: &[Turn<'_>],
        caller: Option<&Caller>,
        rng: &mut Rng,
    ) -> Result<(), Failure> {
        let think = self.shared.think;
        let incoming = format!("{}/voice/incoming", self.shared.public_url);
        // Marked as a load test (signed with the rest), so the reports leave it out.
        let fields = [
            ("CallStatus", "ringing"),
            (crate::call::LOAD_TEST_FIELD, "true"),
        ];
        let mut answer = self.ask(&incoming, &fields).await?;
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
    pub(super) async fn hang_up(&mut self, began: Instant) -> Result<(), Failure> {
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

pub(super) async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

impl Shared {
    /// Places call `n`: its script, then the status callback, even after a failure.
    pub(super) async fn call(&self, n: u64, rng: &mut Rng, latencies: &mut Vec<u32>) {
        self.counters.started.fetch_add(1, Relaxed);
        let caller = (!self.callers.is_empty())
            .then(|| &self.callers[(n % self.callers.len() as u64) as usize]);
        let turns = script(&self.steps, n, caller.is_some());
        let mut line = Line {
            shared: self,
            server: None,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
