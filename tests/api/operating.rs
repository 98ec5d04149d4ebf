//! What operators see: the Prometheus metrics on their own address, counting a scripted
//! call, with nothing on the webhook port and no caller data in any label.

use std::sync::Arc;

use caseline::app::Application;
use caseline::clock::FixedClock;
use caseline::http::signature::{Algorithm, sign, signing_payload};
use caseline::store::Store;

use crate::helpers::{self as common, PUBLIC_URL, TOKEN};

/// One sample: its name, labels and value.
type Sample = (String, Vec<(String, String)>, f64);

/// The metrics as Prometheus reads them.
async fn scrape(addr: std::net::SocketAddr) -> Vec<Sample> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("the metrics answer")
        .text()
        .await
        .expect("text");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the Prometheus text format");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            };
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            (s.metric, labels, value)
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| *v)
        .sum()
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    params: &[(&str, &str)],
    signed: bool,
) -> u16 {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sig = if signed {
        sign(
            Algorithm::HmacSha1,
            TOKEN,
            &signing_payload(&format!("{PUBLIC_URL}{path}"), &owned),
        )
    } else {
        "forged".to_string()
    };
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_call_on_their_own_address_only() {
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = common::settings();
    settings.listen = "127.0.0.1:0".parse().expect("addr");
    settings.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    let store = Store::connect(&format!("sqlite://{}/m.db", dir.path().display()))
        .await
        .expect("store");
    let app = Application::build_with(
        settings,
        store,
        Arc::new(FixedClock::at(common::open_time())),
    )
    .await
    .expect("app");
    let addr = app.local_addr().expect("addr");
    let metrics = app.metrics_addr().expect("a metrics address");
    assert_ne!(addr, metrics);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let before = scrape(metrics).await;
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let caller = "+15595550177";
    let call = [
        ("CallSid", sid.as_str()),
        ("From", caller),
        ("To", common::TOLL_FREE),
    ];
    assert_eq!(post(addr, "/voice/incoming", &call, true).await, 200);
    let keyed = [("CallSid", sid.as_str()), ("Digits", "1")];
    assert_eq!(post(addr, "/voice/input/language", &keyed, true).await, 200);
    assert_eq!(post(addr, "/voice/incoming", &call, false).await, 403);
    let after = scrape(metrics).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(
        delta(
            "caseline_webhooks_total",
            &[("route", "/voice/incoming"), ("outcome", "answered")]
        ) >= 1.0
    );
    assert!(
        delta(
            "caseline_webhooks_total",
            &[("route", "/voice/input/:name"), ("outcome", "answered")]
        ) >= 1.0
    );
    assert!(
        delta(
            "caseline_webhooks_total",
            &[("route", "/voice/incoming"), ("outcome", "refused")]
        ) >= 1.0
    );
    assert!(
        delta(
            "caseline_webhook_seconds_count",
            &[("route", "/voice/incoming")]
        ) >= 2.0
    );
    assert!(delta("caseline_steps_total", &[("step", "main-menu")]) >= 1.0);
    assert!(delta("caseline_steps_total", &[("step", "welcome")]) >= 1.0);
    assert!(value(&after, "caseline_calls_active", &[]) >= 1.0);
    // No caller data in any label.
    for (name, labels, _) in &after {
        for (_, v) in labels {
            assert!(
                !v.contains(&sid) && !v.contains("5595550177"),
                "{name} {labels:?}"
            );
        }
    }
    // Nothing on the webhook port.
    let on_webhooks = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("answer");
    assert_eq!(on_webhooks.status(), 404);
    let _ = stop.send(());
}
