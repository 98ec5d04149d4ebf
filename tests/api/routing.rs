//! The statewide line routing callers to their local agency (`CASELINE_AGENCIES_FILE`):
//! a verified caller who asks for a person reaches the agency of the case they chose,
//! with its queue, hours, holidays and name; an agency still to be filled in leaves its
//! callers with the statewide unit; a broken file stops the start. On both stores.

use crate::helpers as common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{Backend, TestApp, settings};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// The demo people (made-up numbers in the never-issued 900 range).
const MARCO: (&str, &str) = ("900234567", "4820193757"); // Fresno, ...3456
// Kern (...2190), Tulare (...8841), Madera (...9001), chosen by 1, 2, 3.
const JORDAN: (&str, &str) = ("900345678", "5512908812");
const POP_SECRET: &str = "screen-pop-test-secret";
const WORKFLOW: &str = "WW0123456789abcdef0123456789abcdef";

on_both_stores!(
    a_verified_caller_reaches_their_countys_agency_named_in_the_task_and_screen_pop,
    a_caller_with_cases_in_several_counties_reaches_the_agency_of_the_case_chosen,
    an_agency_closed_while_another_is_open_gives_its_own_hours_and_a_callback,
    a_holiday_in_one_agencys_file_closes_that_agency_alone,
    an_unverified_caller_who_keys_or_says_a_zip_code_is_routed_to_its_county,
    a_zip_code_spanning_two_counties_asks_which,
    a_zip_code_outside_california_is_told_who_to_call,
    with_the_shipped_file_every_caller_reaches_the_statewide_unit_as_before,
    a_tty_caller_types_the_zip_code_and_reads_the_county_choice,
);

/// A small agencies file in `dir`: Fresno (weekdays 8 to 5, its own holiday), Kern
/// (every day 7 to 7), Tulare still `TO-BE-FILLED`, and every other county (Madera
/// among them) in one agency reached by SIP.
pub(crate) fn agencies_file(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("fresno-holidays.txt"),
        "2026-12-02 Fresno Founders Day | el Día de la Fundación de Fresno\n",
    )
    .unwrap();
    std::fs::write(dir.join("holidays.txt"), "2026-12-25 Christmas Day\n").unwrap();
    let own = ["Fresno", "Kern", "Tulare"];
    let rest: Vec<String> = caseline::domain::agencies::County::all()
        .filter(|c| !own.contains(&c.name()))
        .map(|c| format!("\"{c}\""))
        .collect();
    let agency = |id: &str, name: &str, counties: &str, reach: &str, hours: &str, hol: &str| {
        format!(
            "[[agency]]\nid = \"{id}\"\nname_en = \"{name}\"\nname_es = \"{name} (es)\"\n\
             counties = [{counties}]\nreach = \"{reach}\"\nhours = \"{hours}\"\n\
             holidays = \"{hol}\"\n\n"
        )
    };
    let text = [
        agency(
            "fresno",
            "Fresno County Child Support Services",
            "\"Fresno\"",
            "queue:fresno-csu",
            "mon-fri 08:00-17:00",
            "fresno-holidays.txt",
        ),
        agency(
            "kern",
            "Kern County Child Support Services",
            "\"Kern\"",
            "queue:kern-csu",
            "mon-sun 07:00-19:00",
            "holidays.txt",
        ),
        agency(
            "tulare",
            "Tulare County Child Support Services",
            "\"Tulare\"",
            "TO-BE-FILLED",
            "mon-fri 08:00-17:00",
            "holidays.txt",
        ),
        agency(
            "valley",
            "Valley Child Support Services",
            &rest.join(", "),
            "sip:valley@pbx.agency.example",
            "mon-sun 06:00-22:00",
            "holidays.txt",
        ),
    ]
    .concat();
    // Test data, not the shipped table: 93999 lies in Fresno and Kern here, so the
    // county question has two agencies to choose from.
    std::fs::write(
        dir.join("zips.csv"),
        "zip,county\n93721,Fresno\n93301,Kern\n93274,Tulare\n93999,Fresno;Kern\n",
    )
    .unwrap();
    let file = dir.join("agencies.toml");
    std::fs::write(&file, format!("zips = \"zips.csv\"\n\n{text}")).unwrap();
    file
}

/// A server with the demo people and the test agencies (the folder must outlive it).
async fn spawn(
    b: Backend,
    dir: &Path,
    tweak: impl FnOnce(&mut caseline::config::Settings),
) -> TestApp {
    let mut s = settings();
    s.agencies_file = Some(agencies_file(dir));
    tweak(&mut s);
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// Marco (one case, in Fresno) verifies for payments, then presses 0.
async fn marco_asks_for_a_person(app: &TestApp) -> (common::Phone<'_>, common::Twiml) {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(heard.says("monthly support"), "{}", heard.said());
    let transfer = call.press("0").await;
    (call, transfer)
}

/// Jordan (cases in Kern, Tulare and Madera) verifies for case status, chooses the case
/// with `key` (of the county named, for the reader), hears it, then presses 0.
async fn jordan_asks_for_a_person(app: &TestApp, key: &str, county: &str) -> common::Twiml {
    let ending = match county {
        "Kern" => "2 1 9 0",
        "Tulare" => "8 8 4 1",
        _ => "9 0 0 1",
    };
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("2").await;
    call.press(JORDAN.0).await;
    let choose = call.press(JORDAN.1).await;
    assert!(
        choose.says("You have more than one case."),
        "{}",
        choose.said()
    );
    let status = call.press(key).await;
    assert!(
        status.says(&format!("case ending in {ending}")),
        "{}",
        status.said()
    );
    call.press("0").await
}

/// The `<Task>`'s attributes.
fn task(t: &common::Twiml) -> serde_json::Value {
    let text = t.find("Task").and_then(|t| t.text.clone()).expect("a task");
    serde_json::from_str(&text).unwrap()
}

/// Requests the mock server has seen, waiting up to five seconds for `n` of them.
async fn requests(server: &MockServer, n: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = server.received_requests().await.unwrap_or_default();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_verified_caller_reaches_their_countys_agency_named_in_the_task_and_screen_pop(
    b: Backend,
) {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/screen-pop"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&crm)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |s| {
        s.csu_workflow_sid = Some(WORKFLOW.into());
        s.screen_pop_url = Some(format!("{}/screen-pop", crm.uri()));
        s.screen_pop_secret = Some(POP_SECRET.into());
        s.screen_pop_retry = caseline::config::RetryPolicy {
            attempts: 3,
            timeout: Duration::from_millis(300),
            backoff: Duration::from_millis(20),
        };
    })
    .await;
    let (call, transfer) = marco_asks_for_a_person(&app).await;
    assert!(transfer.says("Please hold"), "{}", transfer.said());
    let enqueue = transfer.find("Enqueue").expect("enqueued");
    assert_eq!(enqueue.get("workflowSid"), Some(WORKFLOW));
    let task = task(&transfer);
    assert_eq!(
        task["queue"], "fresno-csu",
        "Fresno's queue, not the statewide one"
    );
    assert_eq!(task["agency"], "fresno");
    assert_eq!(task["case_number"], "190000123456");
    assert_eq!(task["verified"], true);
    // Each round of the wait names the agency whose line the caller is waiting for.
    let mut call = call;
    let wait = enqueue.get("waitUrl").expect("a wait URL").to_string();
    let round = call
        .post(&wait, &[("QueuePosition", "2"), ("AvgQueueTime", "120")])
        .await;
    assert!(
        round.says("You are waiting for Fresno County Child Support Services."),
        "{}",
        round.said()
    );
    assert!(round.says("You are number 2 in line."), "{}", round.said());

    let got = requests(&crm, 1).await;
    assert_eq!(got.len(), 1, "one screen pop");
    let body = std::str::from_utf8(&got[0].body).unwrap();
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["call_sid"], call.sid.as_str());
    assert_eq!(event["agency"], "fresno");
    assert_eq!(event["destination"], "queue:fresno-csu");
    for secret in [MARCO.0, MARCO.1, "900-23-4567"] {
        assert!(
            !body.contains(secret),
            "no SSN or PAR ID in the screen pop: {body}"
        );
        assert!(
            !transfer.xml.contains(secret),
            "no SSN or PAR ID in the TwiML"
        );
    }
}

async fn a_caller_with_cases_in_several_counties_reaches_the_agency_of_the_case_chosen(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;

    // The Kern case: Kern's queue.
    let kern = jordan_asks_for_a_person(&app, "1", "Kern").await;
    let enqueue = kern.find("Enqueue").expect("enqueued");
    assert_eq!(enqueue.text.as_deref(), Some("kern-csu"), "{}", kern.xml);

    // The Madera case: the regional agency's SIP address, the agency in its headers.
    let madera = jordan_asks_for_a_person(&app, "3", "Madera").await;
    let uri = madera
        .find("Sip")
        .and_then(|s| s.text.clone())
        .expect("dialled");
    assert!(uri.starts_with("sip:valley@pbx.agency.example?"), "{uri}");
    for header in [
        "X-Caseline-Agency=valley",
        "X-Caseline-Case=190000559001",
        "X-Caseline-Verified=yes",
    ] {
        assert!(uri.contains(header), "{header} in {uri}");
    }
    assert!(!uri.contains(JORDAN.0) && !uri.contains(JORDAN.1));

    // The Tulare case: an agency still TO-BE-FILLED, so the statewide queue.
    let tulare = jordan_asks_for_a_person(&app, "2", "Tulare").await;
    let enqueue = tulare.find("Enqueue").expect("enqueued");
    assert_eq!(
        enqueue.text.as_deref(),
        Some("customer-service"),
        "{}",
        tulare.xml
    );
}

async fn an_agency_closed_while_another_is_open_gives_its_own_hours_and_a_callback(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    // Saturday, November 28, 2026, 10:00 Pacific: Fresno (weekdays) is closed, Kern
    // (every day) and the statewide unit are open.
    app.clock.set(utc(2026, 11, 28, 18, 0));
    let (mut call, closed) = marco_asks_for_a_person(&app).await;
    assert!(closed.find("Enqueue").is_none(), "{}", closed.xml);
    for said in [
        "Fresno County Child Support Services is closed right now. Its hours are Monday through Friday from 8 a.m. to 5 p.m.",
        "We open again Monday, November 30, at 8 a.m.",
        "call you back when we're open, press 1",
    ] {
        assert!(closed.says(said), "{said:?} in {}", closed.said());
    }
    assert!(
        !closed.says("Our Customer Service Unit is closed"),
        "the agency's message, not the unit's: {}",
        closed.said()
    );
    // The callback offer works as before.
    let confirm = call.press("1").await;
    assert!(confirm.says("ending in 0 1 2 3"), "{}", confirm.said());
    let saved = call.press("1").await;
    assert!(
        saved.says("A representative will call you back"),
        "{}",
        saved.said()
    );
    let waiting = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .unwrap();
    assert!(
        waiting
            .iter()
            .any(|c| c.case_number.as_deref() == Some("190000123456")),
        "{waiting:?}"
    );

    // At the same moment, Kern answers.
    let kern = jordan_asks_for_a_person(&app, "1", "Kern").await;
    assert_eq!(
        kern.find("Enqueue").and_then(|e| e.text.as_deref()),
        Some("kern-csu"),
        "{}",
        kern.xml
    );

    // Tuesday 18:00 Pacific: the statewide unit (8 to 4) is closed and Kern (7 to 7) is
    // open; Tulare, still to be filled in, has the unit's hours and message.
    app.clock.set(utc(2026, 11, 25, 2, 0));
    let kern = jordan_asks_for_a_person(&app, "1", "Kern").await;
    assert!(kern.find("Enqueue").is_some(), "{}", kern.xml);
    let tulare = jordan_asks_for_a_person(&app, "2", "Tulare").await;
    assert!(tulare.find("Enqueue").is_none(), "{}", tulare.xml);
    assert!(
        tulare.says("Our Customer Service Unit is closed right now."),
        "{}",
        tulare.said()
    );
}

async fn a_holiday_in_one_agencys_file_closes_that_agency_alone(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    // Wednesday, December 2, 2026, 10:00 Pacific: Fresno's own holiday.
    app.clock.set(utc(2026, 12, 2, 18, 0));
    let (_call, closed) = marco_asks_for_a_person(&app).await;
    assert!(closed.find("Enqueue").is_none(), "{}", closed.xml);
    for said in [
        "Our office is closed today for Fresno Founders Day.",
        "Fresno County Child Support Services is closed right now.",
        "We open again tomorrow at 8 a.m.",
        "call you back when we're open, press 1",
    ] {
        assert!(closed.says(said), "{said:?} in {}", closed.said());
    }
    let kern = jordan_asks_for_a_person(&app, "1", "Kern").await;
    assert_eq!(
        kern.find("Enqueue").and_then(|e| e.text.as_deref()),
        Some("kern-csu"),
        "{}",
        kern.xml
    );
}

/// A caller who has not verified: English, then 0 from the main menu; asked the ZIP code.
async fn unverified_asks_for_a_person(app: &TestApp) -> common::Phone<'_> {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let asked = call.press("0").await;
    assert!(
        asked.says("please enter or say your five-digit ZIP code"),
        "{}",
        asked.said()
    );
    assert!(
        asked.find("Enqueue").is_none(),
        "not queued before the ZIP code"
    );
    call
}

fn queue(t: &common::Twiml) -> Option<&str> {
    t.find("Enqueue").and_then(|e| e.text.as_deref())
}

async fn an_unverified_caller_who_keys_or_says_a_zip_code_is_routed_to_its_county(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    // Keys: Fresno.
    let mut call = unverified_asks_for_a_person(&app).await;
    let wrong = call.press("937").await;
    assert!(
        wrong.says("that isn't a five-digit ZIP code"),
        "{}",
        wrong.said()
    );
    let fresno = call.press("93721").await;
    assert!(fresno.says("Please hold"), "{}", fresno.said());
    assert_eq!(queue(&fresno), Some("fresno-csu"), "{}", fresno.xml);
    // Speech: Kern.
    let mut call = unverified_asks_for_a_person(&app).await;
    let kern = call.say("nine three three zero one").await;
    assert_eq!(queue(&kern), Some("kern-csu"), "{}", kern.xml);
    // An agency still to be filled in: the statewide queue.
    let mut call = unverified_asks_for_a_person(&app).await;
    let tulare = call.press("93274").await;
    assert_eq!(queue(&tulare), Some("customer-service"), "{}", tulare.xml);

    // Closed (Saturday): Fresno's name and hours, as for a verified caller.
    app.clock.set(utc(2026, 11, 28, 18, 0));
    let mut call = unverified_asks_for_a_person(&app).await;
    let closed = call.press("93721").await;
    assert!(
        closed.says("Fresno County Child Support Services is closed right now."),
        "{}",
        closed.said()
    );
}

async fn a_zip_code_spanning_two_counties_asks_which(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    let mut call = unverified_asks_for_a_person(&app).await;
    let which = call.press("93999").await;
    for said in [
        "That ZIP code is in more than one county.",
        "For Fresno County, press 1.",
        "For Kern County, press 2.",
    ] {
        assert!(which.says(said), "{said:?} in {}", which.said());
    }
    let again = call.press("7").await;
    assert!(
        again.says("For Kern County, press 2."),
        "a key not offered asks again: {}",
        again.said()
    );
    let kern = call.press("2").await;
    assert_eq!(queue(&kern), Some("kern-csu"), "{}", kern.xml);
}

async fn a_zip_code_outside_california_is_told_who_to_call(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    let mut call = unverified_asks_for_a_person(&app).await;
    // Reno, Nevada.
    let outside = call.press("89501").await;
    assert!(outside.find("Enqueue").is_none(), "{}", outside.xml);
    for said in [
        "That ZIP code isn't in California.",
        "please call that state's child support agency",
        "call California Child Support Services at",
        "To enter your ZIP code again, press 1.",
    ] {
        assert!(outside.says(said), "{said:?} in {}", outside.said());
    }
    // The state line's own number (CASELINE_CSU_PHONE), never an invented one.
    let digits: String = outside
        .said()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert!(digits.contains("8669013212"), "{}", outside.said());
    // Again, then a California ZIP code: routed.
    call.press("1").await;
    let fresno = call.press("93721").await;
    assert_eq!(queue(&fresno), Some("fresno-csu"), "{}", fresno.xml);
    // 0 from the outside menu: the statewide unit, not asked again.
    let mut call = unverified_asks_for_a_person(&app).await;
    call.press("89501").await;
    let statewide = call.press("0").await;
    assert_eq!(
        queue(&statewide),
        Some("customer-service"),
        "{}",
        statewide.xml
    );
}

/// A broken agencies file stops the start, naming the file and line; `flows check`
/// refuses it the same way.
#[tokio::test]
async fn a_broken_agencies_file_stops_the_start_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = agencies_file(dir.path());
    let text = std::fs::read_to_string(&file).unwrap();
    // Kern served twice: the Fresno agency's line claims it too.
    let broken = text.replacen(
        "counties = [\"Fresno\"]",
        "counties = [\"Fresno\", \"Kern\"]",
        1,
    );
    std::fs::write(&file, broken).unwrap();
    let mut s = settings();
    s.agencies_file = Some(file.clone());
    let url = format!("sqlite://{}/caseline.db", dir.path().display());
    let store = caseline::store::Store::connect(&url).await.unwrap();
    let refused = caseline::state::Services::serving(
        s,
        store,
        std::sync::Arc::new(caseline::clock::FixedClock::at(common::open_time())),
    )
    .err()
    .expect("a broken agencies file refuses the start");
    let err = format!("{refused:#}");
    assert!(err.contains("CASELINE_AGENCIES_FILE"), "{err}");
    assert!(
        err.contains(&format!("{}:", file.display())) && err.contains("Kern"),
        "file, line and why: {err}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseline"))
        .args(["flows", "check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CASELINE_AGENCIES_FILE", &file)
        .env_remove("CASELINE_FLOWS_DIR")
        .env_remove("CASELINE_PROMPTS_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{}:", file.display())), "{stderr}");
}

/// Unset, nothing changes: the statewide queue as before (the rest of the suite runs
/// without the file); set to a sound file, `flows check` says so.
#[test]
fn flows_check_reads_a_sound_agencies_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = agencies_file(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseline"))
        .args(["flows", "check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CASELINE_AGENCIES_FILE", &file)
        .env_remove("CASELINE_FLOWS_DIR")
        .env_remove("CASELINE_PROMPTS_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(4 agencies)"), "{stdout}");
}

/// `caseline demo` routes its callers by its own agencies file: cases in three counties
/// reach three agencies' demo queues, and the rest of the state the statewide unit.
#[tokio::test]
async fn the_demo_routes_callers_in_three_counties_to_three_agencies() {
    let dir = tempfile::tempdir().unwrap();
    let file = caseline::cli::demo::write_demo_agencies(dir.path()).unwrap();
    let agencies = caseline::domain::agencies::Agencies::load(&file).unwrap();
    let los_angeles = agencies.for_case_county("Los Angeles").unwrap();
    assert!(
        !los_angeles.reach.is_filled(),
        "the rest: the statewide unit"
    );
    let mut s = settings();
    s.agencies_file = Some(file);
    let app = TestApp::spawn_with(Backend::Sqlite, s)
        .await
        .with_demo_data()
        .await;
    let (_call, marco) = marco_asks_for_a_person(&app).await;
    assert_eq!(queue(&marco), Some("demo-fresno"), "{}", marco.xml);
    let kern = jordan_asks_for_a_person(&app, "1", "Kern").await;
    assert_eq!(queue(&kern), Some("demo-kern"), "{}", kern.xml);
    let tulare = jordan_asks_for_a_person(&app, "2", "Tulare").await;
    assert_eq!(queue(&tulare), Some("demo-tulare"), "{}", tulare.xml);
    // A caller who does not verify: a Los Angeles ZIP code, the statewide queue.
    let mut call = unverified_asks_for_a_person(&app).await;
    let statewide = call.press("90012").await;
    assert_eq!(
        queue(&statewide),
        Some("customer-service"),
        "{}",
        statewide.xml
    );
}

/// The shipped file: every agency still `TO-BE-FILLED`. Callers reach the statewide unit
/// as before (no ZIP question, which would change nothing), and the agent still sees the
/// agency of a verified caller's case.
async fn with_the_shipped_file_every_caller_reaches_the_statewide_unit_as_before(b: Backend) {
    let mut s = settings();
    s.agencies_file = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("agencies/california.toml"));
    s.csu_number = Some("sip:csu@pbx.agency.example".into());
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let unverified = call.press("0").await;
    assert!(!unverified.says("ZIP code"), "{}", unverified.said());
    let uri = unverified
        .find("Sip")
        .and_then(|s| s.text.clone())
        .expect("dialled");
    assert!(uri.starts_with("sip:csu@pbx.agency.example?"), "{uri}");
    assert!(!uri.contains("X-Caseline-Agency"), "{uri}");

    let (_call, marco) = marco_asks_for_a_person(&app).await;
    let uri = marco
        .find("Sip")
        .and_then(|s| s.text.clone())
        .expect("dialled");
    assert!(uri.starts_with("sip:csu@pbx.agency.example?"), "{uri}");
    assert!(uri.contains("X-Caseline-Agency=fresno"), "{uri}");
}

/// On the TTY line the ZIP question and the county choice are text, keys only.
async fn a_tty_caller_types_the_zip_code_and_reads_the_county_choice(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(b, dir.path(), |_| {}).await;
    let mut call = app.call_to(common::TTY_LINE);
    call.dial().await;
    call.press("1").await;
    let asked = call.press("0").await;
    assert!(asked.says("TYPE YOUR 5 DIGIT ZIP CODE"), "{}", asked.said());
    assert_eq!(asked.gather().get("input"), Some("dtmf"));
    let which = call.press("93999").await;
    assert!(
        which.says("1 Fresno COUNTY. 2 Kern COUNTY."),
        "{}",
        which.said()
    );
    let kern = call.press("2").await;
    assert_eq!(queue(&kern), Some("kern-csu"), "{}", kern.xml);
}
