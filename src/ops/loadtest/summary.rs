//! The figures of a run: calls, failures by kind, and the latency percentiles.

use std::collections::BTreeMap;

use serde::Serialize;

/// The figures of a run. Serialised (`--format json`) with exactly these keys
/// (`servers` only when the run had several).
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
    /// How the requests went to several servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<Servers>,
}

/// How a run with several servers spread its requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Servers {
    /// Each call kept to one server.
    pub sticky: bool,
    /// Requests sent to each server, in the order given.
    pub requests: Vec<u64>,
    /// Requests that went to another server than their call's last one: those a
    /// server answers for a turn it did not give.
    pub crossed: u64,
}

impl Summary {
    /// The figures from the per-request latencies (µs, any order).
    pub(super) fn new(
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
            servers: None,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn text(&self) -> String {
        let mut text = format!(
            "calls       {}\ncompleted   {}\nerrors      {}\nrequests    {}\nlatency     p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms\n",
            self.calls,
            self.completed,
            self.errors,
            self.requests,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms
        );
        if let Some(s) = &self.servers {
            let each: Vec<String> = s.requests.iter().map(u64::to_string).collect();
            text.push_str(&format!(
                "servers     {} ({}), requests {}, crossed {}\n",
                s.requests.len(),
                if s.sticky { "sticky" } else { "round-robin" },
                each.join(" / "),
                s.crossed
            ));
        }
        text
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
    /// [`super::REQUEST_TIMEOUT`].
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
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Failure::Transport(_) => "transport",
            Failure::Status(..) => "HTTP status",
            Failure::NotTwiml(_) => "not TwiML",
            Failure::Apology(_) => "apology",
            Failure::OffScript(_) => "off script",
        }
    }

    pub(super) fn detail(&self) -> String {
        match self {
            Failure::Status(403, path) => format!(
                "403 from {path}: the signature was refused (is --public-url the server's \
                 CASELINE_PUBLIC_URL, and CASELINE_TWILIO_AUTH_TOKEN the server's token?)"
            ),
            Failure::Status(code, path) => format!("{code} from {path}"),
            Failure::Transport(d)
            | Failure::NotTwiml(d)
            | Failure::Apology(d)
            | Failure::OffScript(d) => d.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_signature_names_its_usual_cause() {
        let refused = Failure::Status(403, "/voice/incoming".into()).detail();
        assert!(refused.starts_with("403 from /voice/incoming: the signature was refused"));
        assert!(refused.contains("--public-url") && refused.contains("CASELINE_TWILIO_AUTH_TOKEN"));
        assert_eq!(
            Failure::Status(500, "/voice/status".into()).detail(),
            "500 from /voice/status"
        );
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
}
