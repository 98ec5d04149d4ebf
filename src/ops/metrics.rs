//! What operators watch: metrics in the Prometheus text format, served on their own
//! address (`CASELINE_METRICS_LISTEN`), never on the webhook port. No label holds caller
//! data: routes are their templates, steps and outcomes come from the flows and code.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `caseline_webhooks_total` | counter | `route` (the template, `/voice/input/:name`), `outcome` (`answered`, `apology`, `refused`) |
//! | `caseline_webhook_seconds` | histogram | `route` |
//! | `caseline_calls_active` | gauge | |
//! | `caseline_steps_total` | counter | `step` |
//! | `caseline_verifications_total` | counter | `outcome` |
//! | `caseline_lockouts_total` | counter | |
//! | `caseline_transfers_total` | counter | |
//! | `caseline_callers_waiting` | gauge | |
//! | `caseline_callbacks_requested_total`, `caseline_callbacks_dialled_total` | counter | |
//! | `caseline_numbers_refused_total` | counter | `purpose` (`callback`, `text`), `reason` |
//! | `caseline_payments_total` | counter | `result` |
//! | `caseline_requests_total` | counter | `kind`, `outcome` |
//! | `caseline_screen_pops_total` | counter | `result` (`delivered`, `failed`) |
//! | `caseline_database_errors_total` | counter | |
//! | `caseline_store_batch_size`, `caseline_store_commit_seconds` | histogram | |
//! | `caseline_session_reads_total` | counter | `from` (`memory`: a turn this server gave; `url`: another server's turn, carried in its URL; `database`: one read) |

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use metrics::{Counter, Histogram};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics recorder, installed once (every server in a process shares it).
pub fn handle() -> Option<PrometheusHandle> {
    recorder().clone()
}

/// Installs the recorder on first use, so the handles made after it record.
fn recorder() -> &'static Option<PrometheusHandle> {
    HANDLE.get_or_init(|| {
        let seconds = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let batch = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                &seconds,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("caseline_store_batch_size".into()),
                    &batch,
                )
            })
            .and_then(|b| b.install_recorder())
            .map_err(|e| tracing::warn!(error = %e, "metrics are off: no recorder"))
            .ok()
    })
}

/// `GET /metrics` on the metrics address.
pub fn router() -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            let body = handle().map(|h| h.render()).unwrap_or_default();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                body,
            )
        }),
    )
}

/// Serves the metrics on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    if let Err(e) = axum::serve(listener, router()).await {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}

/// Handles by label, made once: a webhook then costs a read lock, a lookup without an
/// allocation, and two atomic updates (the registry's own lookup builds a key each time).
type Handles<T> = RwLock<HashMap<String, T>>;

static WEBHOOKS: OnceLock<Handles<([Counter; 3], Histogram)>> = OnceLock::new();
static STEPS: OnceLock<Handles<Counter>> = OnceLock::new();

const OUTCOMES: [&str; 3] = ["answered", "apology", "refused"];

fn handle_for<T: Clone>(map: &Handles<T>, key: &str, make: impl FnOnce() -> T) -> T {
    recorder();
    if let Ok(read) = map.read()
        && let Some(h) = read.get(key)
    {
        return h.clone();
    }
    let made = make();
    if let Ok(mut write) = map.write() {
        write.entry(key.to_string()).or_insert_with(|| made.clone());
    }
    made
}

/// A webhook answered: its route (the router's template), how, and how long it took.
pub fn webhook(route: &str, outcome: &'static str, seconds: f64) {
    let map = WEBHOOKS.get_or_init(Default::default);
    let (counters, histogram) = handle_for(map, route, || {
        // Braces are left out of the label (`/voice/input/:name`): some Prometheus text
        // readers take them badly.
        let label = route.replace('{', ":").replace('}', "");
        let counters = OUTCOMES.map(|o| {
            metrics::counter!("caseline_webhooks_total", "route" => label.clone(), "outcome" => o)
        });
        let histogram = metrics::histogram!("caseline_webhook_seconds", "route" => label);
        (counters, histogram)
    });
    if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
        counters[i].increment(1);
    }
    histogram.record(seconds);
}

pub fn step(name: &str) {
    let map = STEPS.get_or_init(Default::default);
    handle_for(
        map,
        name,
        || metrics::counter!("caseline_steps_total", "step" => name.to_string()),
    )
    .increment(1);
}

pub fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

pub fn count_by(name: &'static str, label: &'static str, value: &str) {
    metrics::counter!(name, label => value.to_string()).increment(1);
}

/// A number the outbound policy or its limits refused: `purpose` (`callback`, `text`)
/// and why (`region`, `kind`, `own-number`, `invalid`, `limit`); never the number.
pub fn count_refused_number(purpose: &'static str, reason: &'static str) {
    metrics::counter!("caseline_numbers_refused_total", "purpose" => purpose, "reason" => reason)
        .increment(1);
}

pub fn gauge(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}

pub fn calls_active(delta: f64) {
    metrics::gauge!("caseline_calls_active").increment(delta);
}
