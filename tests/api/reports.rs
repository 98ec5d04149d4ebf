//! The console's Reports page, through the staff API: a supervisor reads the figures of
//! `caseline report` for a period, its charts as SVG and the flow diagram; agents are
//! refused, strangers asked to sign in, and a bad period or name is a clear 4xx.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use quick_xml::events::Event;
use serde_json::json;
use tower::ServiceExt;

use caseline::staff::Role;

use crate::helpers::{self as common, TestApp};
use crate::operating::scripted_day;

on_both_stores!(
    a_supervisor_reads_the_scripted_days_figures_and_charts,
    reports_and_the_diagram_are_for_supervisors_only,
    a_bad_period_chart_or_flow_is_refused_clearly,
    the_load_testers_calls_are_left_out_unless_asked_for,
    each_agencys_calls_and_the_zip_questions_drop_off_by_api_and_cli,
);

/// A GET with an optional Bearer token: status, headers and body as text.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The text of each element of an SVG, entities resolved; panics unless it is XML.
pub fn svg_texts(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut out: Vec<String> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let into = open.last().copied();
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(_)) => {
                open.push(out.len());
                out.push(String::new());
            }
            Ok(Event::End(_)) => {
                open.pop();
            }
            Ok(Event::Text(t)) => {
                if let Some(i) = into {
                    out[i].push_str(&t);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(i) = into {
                    out[i].push_str(match &*r {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("an unexpected entity {other}"),
                    });
                }
            }
            Ok(_) => {}
            Err(e) => panic!("not XML ({e}): {svg}"),
        }
    }
    out
}

/// An SVG answer: checks it is one, and answers its texts.
async fn chart(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let (status, headers, body) = get(app, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert_eq!(
        headers["content-type"], "image/svg+xml; charset=utf-8",
        "{path}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(body.contains("<svg"), "{path}: {body}");
    svg_texts(&body)
}

fn has(texts: &[String], want: &str) -> bool {
    texts.iter().any(|t| t == want)
}

async fn a_supervisor_reads_the_scripted_days_figures_and_charts(b: common::Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    scripted_day(&app).await;
    let token = app.staff_login("sam", Role::Supervisor).await;

    let day = json!({
        "calls": 6,
        "contained": 2,
        "transferred": 1,
        "callbacks": 1,
        "abandoned": 2,
        "containment_rate": 2.0 / 6.0,
        "drop_off": {"language": 1, "main-menu": 1},
        "verification": {"attempts": 1, "succeeded": 1, "locked": 0},
        "repeat_callers_24h": 1,
        "by_language": {"en": 5, "none": 1},
        "by_channel": {"voice": 6},
        "average_ivr_seconds": 40.0,
        "load_test_calls": 0,
        "load_tests_included": false,
        "agency": null,
        "by_agency": [{
            "agency": null, "calls": 6, "contained": 2, "transferred": 1, "callbacks": 1,
            "abandoned": 2
        }],
        "zip_step": {
            "asked": 0, "in_california": 0, "spanning_counties": 0, "outside_california": 0,
            "hung_up_at_zip": 0, "hung_up_at_county": 0
        },
    });
    // The last 24 hours by default, and the longer periods hold the same calls.
    for path in [
        "/staff/reports",
        "/staff/reports?days=7",
        "/staff/reports?days=30",
    ] {
        let (status, body) = app.staff("GET", path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body, day, "{path}");
    }
    // The same keys and figures as `caseline report --format json`.
    let since = app.state.line.now() - 86_400;
    let cli = caseline::ops::analytics::report(&app.state.line.store, since, false, None)
        .await
        .expect("report");
    let (_, body) = app.staff("GET", "/staff/reports", Some(&token), None).await;
    assert_eq!(body, serde_json::to_value(&cli).expect("json"));

    let outcomes = chart(&app, "/staff/reports/chart/outcomes.svg", &token).await;
    for want in [
        "Calls by outcome (6 calls)",
        "Calls that ended in the last 24 hours",
        "Contained",
        "2 (33%)",
        "Contained: 2",
        "Transferred",
        "Transferred: 1",
        "1 (17%)",
        "Callbacks",
        "Callbacks: 1",
        "Abandoned",
        "Abandoned: 2",
    ] {
        assert!(has(&outcomes, want), "{want} not in {outcomes:?}");
    }
    let drop_off = chart(&app, "/staff/reports/chart/drop-off.svg?days=7", &token).await;
    for want in [
        "Abandoned calls by the step they ended on",
        "Calls that ended in the last 7 days",
        "language",
        "language: 1",
        "main-menu",
        "main-menu: 1",
    ] {
        assert!(has(&drop_off, want), "{want} not in {drop_off:?}");
    }

    // Two days on, the last 24 hours are empty and the last week still holds the day
    // (signed in again: a login lasts 8 hours).
    app.clock.advance(2 * 86_400);
    let token = app.staff_login("sky", Role::Supervisor).await;
    let (_, body) = app
        .staff("GET", "/staff/reports?days=1", Some(&token), None)
        .await;
    assert_eq!(
        (body["calls"].clone(), body["drop_off"].clone()),
        (json!(0), json!({}))
    );
    assert_eq!(body["containment_rate"], json!(0.0));
    let (_, body) = app
        .staff("GET", "/staff/reports?days=7", Some(&token), None)
        .await;
    assert_eq!(body, day);
    let empty = chart(&app, "/staff/reports/chart/drop-off.svg?days=1", &token).await;
    assert!(
        has(&empty, "No abandoned calls in this period."),
        "{empty:?}"
    );
    let none = chart(&app, "/staff/reports/chart/outcomes.svg", &token).await;
    assert!(has(&none, "Calls by outcome (0 calls)"), "{none:?}");
}

/// Every route of the Reports page.
const ROUTES: &[&str] = &[
    "/staff/reports",
    "/staff/reports?days=7",
    "/staff/reports/chart/outcomes.svg",
    "/staff/reports/chart/drop-off.svg?days=30",
    "/staff/flows",
    "/staff/flows/diagram.svg?flow=main",
];

async fn reports_and_the_diagram_are_for_supervisors_only(b: common::Backend) {
    let app = TestApp::spawn(b).await;
    let agent = app.staff_login("alex", Role::Agent).await;
    let supervisor = app.staff_login("sam", Role::Supervisor).await;
    let admin = app.staff_login("ada", Role::Admin).await;
    for path in ROUTES {
        let (status, headers, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        let (status, _, _) = get(&app, path, Some("forged-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, body) = app.staff("GET", path, Some(&agent), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"], "forbidden");
        assert_eq!(body["message"], "your role (agent) cannot do this");
        for token in [&supervisor, &admin] {
            let (status, _, body) = get(&app, path, Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    // An agent with a bad period is refused for the role, not the period.
    let (status, _) = app
        .staff("GET", "/staff/reports?days=0", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn a_bad_period_chart_or_flow_is_refused_clearly(b: common::Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.staff_login("sam", Role::Supervisor).await;
    // Bad days, each for the figures and for a chart.
    for days in ["0", "-3", "401", "abc", "7.5", "", "1e3", "7%20days"] {
        for path in [
            format!("/staff/reports?days={days}"),
            format!("/staff/reports/chart/outcomes.svg?days={days}"),
        ] {
            let (status, body) = app.staff("GET", &path, Some(&token), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert_eq!(body["error"], "bad-request", "{path}");
            assert_eq!(
                body["message"], "days must be a whole number of days from 1 to 400",
                "{path}"
            );
        }
    }
    // A chart or a flow file that is not there.
    for path in [
        "/staff/reports/chart/pie.svg",
        "/staff/reports/chart/outcomes",
        "/staff/reports/chart/outcomes.png",
    ] {
        let (status, body) = app.staff("GET", path, Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(
            body["message"],
            "no such chart; the charts are outcomes.svg, drop-off.svg"
        );
    }
    let (status, body) = app
        .staff(
            "GET",
            "/staff/flows/diagram.svg?flow=%3Cscript%3E",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(
        message.contains("the files are callback, dialer, info, main"),
        "{message}"
    );
    assert!(!message.contains("script"), "{message}");
}

#[tokio::test]
async fn the_flow_diagram_is_drawn_whole_or_for_one_file() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (status, body) = app.staff("GET", "/staff/flows", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["flows"],
        json!([
            "callback",
            "dialer",
            "info",
            "main",
            "pay",
            "requests",
            "selfservice",
            "staff",
            "tty"
        ])
    );
    // The main menu's file: its steps, the steps it leads to elsewhere named with
    // their file, and nothing further.
    let main = chart(&app, "/staff/flows/diagram.svg?flow=main", &token).await;
    let all = main.join("\n");
    for want in [
        "main-menu (menu.main)",
        "welcome",
        "language (language.choose)",
        "entry: voice",
        "payments (in selfservice)",
        "requests-menu (in requests)",
    ] {
        assert!(all.contains(want), "{want} not in {all}");
    }
    assert!(!all.contains("pay-confirm"), "{all}");
    // Every flow.
    let whole = chart(&app, "/staff/flows/diagram.svg", &token)
        .await
        .join("\n");
    for want in [
        "main-menu (menu.main)",
        "pay-confirm",
        "callee-menu",
        "entry: tty",
    ] {
        assert!(whole.contains(want), "{want} not in the whole diagram");
    }
    assert!(
        !whole.contains("(in "),
        "the whole diagram has no outside steps"
    );
}

/// The whole flow diagram is drawn once and then served from memory; asked for by
/// several at once with a deadline shorter than a drawing, each request answers a
/// timeout when its deadline passes, one drawing runs (never one per request) and
/// what it drew serves the next request at once.
#[tokio::test]
async fn the_flow_diagram_is_drawn_once_and_a_slow_drawing_times_out_alone() {
    const WHOLE: &str = "/staff/flows/diagram.svg";
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let token = app.staff_login("sam", Role::Supervisor).await;
    let first = get(&app, WHOLE, Some(&token)).await;
    assert_eq!(first.0, StatusCode::OK);
    let again = get(&app, WHOLE, Some(&token)).await;
    assert_eq!(again.0, StatusCode::OK);
    assert!(again.2 == first.2, "the same drawing");
    assert_eq!(app.state.diagrams.draws(), 1, "drawn once");

    let mut s = common::settings();
    s.diagram_deadline = std::time::Duration::from_millis(1);
    let app = TestApp::spawn_with(common::Backend::Sqlite, s).await;
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (a, b, c) = tokio::join!(
        get(&app, WHOLE, Some(&token)),
        get(&app, WHOLE, Some(&token)),
        get(&app, WHOLE, Some(&token)),
    );
    for (status, _, body) in [a, b, c] {
        let short: String = body.chars().take(200).collect();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{short}");
        assert!(body.contains("\"timeout\""), "{short}");
    }
    // The one drawing goes on, and is kept when done.
    let mut done = None;
    for _ in 0..1200 {
        let (status, _, body) = get(&app, WHOLE, Some(&token)).await;
        if status == StatusCode::OK {
            done = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let done = done.expect("the kept drawing is served");
    assert!(
        done.contains("<svg") && done.contains("main-menu"),
        "an SVG of the flows"
    );
    assert_eq!(app.state.diagrams.draws(), 1, "one drawing for all of them");
}

/// A call whose signed incoming webhook says `CaselineLoadTest=true` (as `caseline
/// loadtest` sends it) is counted apart: the figures leave it out unless
/// `?load_tests=include`; an unsigned request saying so is refused like any other.
async fn the_load_testers_calls_are_left_out_unless_asked_for(b: common::Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    scripted_day(&app).await;
    let incoming = format!("{}/voice/incoming", common::PUBLIC_URL);
    let marked = [
        ("CallStatus", "ringing"),
        (caseline::call::LOAD_TEST_FIELD, "true"),
    ];
    let mut call = app.call();
    let language = call.post(&incoming, &marked).await;
    assert!(language.find("Gather").is_some(), "{}", language.said());
    call.press("1").await;
    call.hang_up().await;
    // Unsigned, the field changes nothing: the request is refused before it is read.
    let refused = app
        .post(
            &incoming,
            &[
                ("CallSid", "CA00000000000000000000000000000001"),
                marked[0],
                marked[1],
            ],
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let token = app.staff_login("sam", Role::Supervisor).await;
    let (status, body) = app.staff("GET", "/staff/reports", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["calls"], 6, "{body}");
    assert_eq!(body["load_test_calls"], 1, "{body}");
    assert_eq!(body["load_tests_included"], false, "{body}");
    let (_, all) = app
        .staff(
            "GET",
            "/staff/reports?load_tests=include",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(all["calls"], 7, "{all}");
    assert_eq!(
        all["abandoned"],
        body["abandoned"].as_i64().unwrap_or(0) + 1,
        "{all}"
    );
    assert_eq!(all["load_tests_included"], true, "{all}");
    let outcomes = chart(
        &app,
        "/staff/reports/chart/outcomes.svg?load_tests=include",
        &token,
    )
    .await;
    assert!(has(&outcomes, "Calls by outcome (7 calls)"), "{outcomes:?}");
    let (status, bad) = app
        .staff("GET", "/staff/reports?load_tests=maybe", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["message"], "load_tests must be include or leave-out");
}

/// A day on the line with the routing tests' agencies: Marco (verified, Fresno) put
/// through to Fresno; callers who have not verified asked their ZIP code: one gives
/// Kern's and is put through, one gives a ZIP code in two counties and hangs up at the
/// county question, one gives Reno's and hangs up, one hangs up at the ZIP code
/// question; one hangs up at the language menu, never asked.
pub(crate) async fn a_day_with_agencies(app: &TestApp) {
    let ask = |app| async move {
        let mut call = TestApp::call(app);
        call.dial().await;
        call.press("1").await;
        let asked = call.press("0").await;
        assert!(asked.says("ZIP code"), "{}", asked.said());
        call
    };
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.verify_for_payments("900234567", "4820193757").await;
    let fresno = call.press("0").await;
    assert_eq!(
        fresno.find("Enqueue").and_then(|e| e.text.as_deref()),
        Some("fresno-csu")
    );
    call.hang_up().await;
    let mut call = ask(app).await;
    let kern = call.press("93301").await;
    assert_eq!(
        kern.find("Enqueue").and_then(|e| e.text.as_deref()),
        Some("kern-csu")
    );
    call.hang_up().await;
    let mut call = ask(app).await;
    let which = call.press("93999").await;
    assert!(which.says("more than one county"), "{}", which.said());
    call.hang_up().await;
    let mut call = ask(app).await;
    let outside = call.press("89501").await;
    assert!(outside.says("isn't in California"), "{}", outside.said());
    call.hang_up().await;
    let mut call = ask(app).await;
    call.hang_up().await;
    let mut call = app.call();
    call.dial().await;
    call.hang_up().await;
}

/// A supervisor account working for `agency`, signed in; answers its token.
async fn local_supervisor(app: &TestApp, name: &str, agency: &str) -> String {
    let password = add_local_supervisor(app, name, agency).await;
    let (status, body) = app
        .staff(
            "POST",
            "/staff/login",
            None,
            Some(json!({"name": name, "password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_string()
}

/// A supervisor account working for `agency`; answers its password.
pub(crate) async fn add_local_supervisor(app: &TestApp, name: &str, agency: &str) -> String {
    let password = format!("{name}-correct-horse-battery");
    let line = &app.state.line;
    caseline::staff::add(
        &line.store,
        &line.hasher,
        line.now(),
        name,
        Role::Supervisor,
        Some(agency),
        &password,
    )
    .await
    .expect("staff account");
    password
}

fn calls_of(agency: Option<&str>, outcomes: [i64; 5]) -> serde_json::Value {
    let [calls, contained, transferred, callbacks, abandoned] = outcomes;
    json!({
        "agency": agency, "calls": calls, "contained": contained,
        "transferred": transferred, "callbacks": callbacks, "abandoned": abandoned
    })
}

/// `caseline report` run on this test's database with the agencies file: success,
/// stdout, stderr, exit code.
fn cli_report(app: &TestApp, agencies: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    let db = match (app.db_path(), app.postgres()) {
        (Some(dir), _) => format!("sqlite://{}/caseline.db", dir.display()),
        (None, Some((url, schema))) => {
            let join = if url.contains('?') { '&' } else { '?' };
            format!("{url}{join}options[search_path]={schema}")
        }
        (None, None) => panic!("no database"),
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CASELINE_FLOWS_DIR")
        .env_remove("CASELINE_PROMPTS_DIR")
        .env("CASELINE_DATABASE_URL", db)
        .env("CASELINE_AGENCIES_FILE", agencies)
        .args(["report", "--since", "2026-11-01T00:00:00Z"])
        .args(args)
        .output()
        .expect("caseline runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Calls by agency (the statewide unit's first) and the ZIP code question's drop-off,
/// for every agency or one (`?agency=ID`, `--agency ID`); an account working for an
/// agency reads only its own report whatever it asks; an unknown id is refused clearly
/// (400, exit 2).
async fn each_agencys_calls_and_the_zip_questions_drop_off_by_api_and_cli(b: common::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::routing::agencies_file(dir.path());
    let mut s = common::settings();
    s.agencies_file = Some(file.clone());
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    a_day_with_agencies(&app).await;
    let sam = app.staff_login("sam", Role::Supervisor).await;

    let (status, all) = app.staff("GET", "/staff/reports", Some(&sam), None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["calls"], 6);
    assert_eq!(all["agency"], serde_json::Value::Null);
    assert_eq!(
        all["by_agency"],
        json!([
            calls_of(None, [4, 0, 0, 0, 4]),
            calls_of(Some("fresno"), [1, 0, 1, 0, 0]),
            calls_of(Some("kern"), [1, 0, 1, 0, 0]),
        ])
    );
    let zip = json!({
        "asked": 4, "in_california": 1, "spanning_counties": 1, "outside_california": 1,
        "hung_up_at_zip": 1, "hung_up_at_county": 1
    });
    assert_eq!(all["zip_step"], zip);

    // One agency's calls: Kern's caller, who gave a ZIP code.
    let (status, kern) = app
        .staff("GET", "/staff/reports?agency=kern&days=7", Some(&sam), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{kern}");
    assert_eq!(
        (&kern["agency"], &kern["calls"]),
        (&json!("kern"), &json!(1))
    );
    assert_eq!(
        kern["by_agency"],
        json!([calls_of(Some("kern"), [1, 0, 1, 0, 0])])
    );
    assert_eq!(kern["zip_step"]["asked"], 1);
    assert_eq!(kern["zip_step"]["in_california"], 1);
    let (_, agencies) = app.staff("GET", "/staff/agencies", Some(&sam), None).await;
    assert_eq!(agencies["agencies"].as_array().map(Vec::len), Some(4));
    assert_eq!(agencies["own"], serde_json::Value::Null);

    // Fresno's supervisor: Fresno's calls, charts too; another agency's is refused, as
    // every listing refuses it to a local account.
    let fran = local_supervisor(&app, "fran", "fresno").await;
    for path in [
        "/staff/reports",
        "/staff/reports?agency=fresno",
        "/staff/reports?agency=",
    ] {
        let (status, r) = app.staff("GET", path, Some(&fran), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {r}");
        assert_eq!(r["agency"], "fresno", "{path}");
        assert_eq!(r["calls"], 1, "{path}");
        assert_eq!(
            r["by_agency"],
            json!([calls_of(Some("fresno"), [1, 0, 1, 0, 0])]),
            "{path}"
        );
    }
    for path in [
        "/staff/reports?agency=kern",
        "/staff/reports?agency=nowhere",
        "/staff/reports/chart/outcomes.svg?agency=kern",
    ] {
        let (status, r) = app.staff("GET", path, Some(&fran), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {r}");
    }
    let outcomes = chart(&app, "/staff/reports/chart/outcomes.svg", &fran).await;
    assert!(!has(&outcomes, "6"), "{outcomes:?}");
    let (_, mine) = app.staff("GET", "/staff/agencies", Some(&fran), None).await;
    assert_eq!(
        mine,
        json!({"agencies": [{"id": "fresno", "name": "Fresno County Child Support Services"}], "own": "fresno"})
    );

    // An id not in the file.
    for path in [
        "/staff/reports?agency=nowhere",
        "/staff/reports/chart/outcomes.svg?agency=Fresno",
    ] {
        let (status, body) = app.staff("GET", path, Some(&sam), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.to_string().contains("no agency"), "{path}: {body}");
    }

    // The command: the same figures.
    let (out, err, code) = cli_report(&app, &file, &["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let cli: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(cli["by_agency"], all["by_agency"]);
    assert_eq!(cli["zip_step"], zip);
    let (out, err, code) = cli_report(&app, &file, &["--agency", "kern", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let cli: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(cli["calls"], 1);
    assert_eq!(cli["by_agency"], kern["by_agency"]);
    let (out, _, code) = cli_report(&app, &file, &[]);
    assert_eq!(code, 0);
    for line in [
        "calls by agency (contained, transferred, callbacks, abandoned):",
        "  statewide: 4 (0, 0, 0, 4)",
        "  fresno: 1 (0, 1, 0, 0)",
        "asked their ZIP code: 4: in California 1, spanning counties 1, outside California 1; \
         hung up at the ZIP code 1, at the county 1",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    let (out, _, code) = cli_report(&app, &file, &["--agency", "fresno", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(out.contains("agency,fresno\n"), "{out}");
    assert!(out.contains("by_agency.fresno.transferred,1\n"), "{out}");
    assert!(out.contains("zip_step.asked,0\n"), "{out}");
    let (out, err, code) = cli_report(&app, &file, &["--agency", "nowhere"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("no agency 'nowhere' in") && err.contains("fresno, kern, tulare, valley"),
        "{err}"
    );
}
