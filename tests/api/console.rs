//! The staff console in a real browser: headless Chromium driven through ChromeDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs) signs in at `/staff`, sees a live test call, and sends it into the
//! IVR to verify; the provider's REST API is a wiremock server. A screenshot of the
//! console is saved to `target/staff-console.png`. A supervisor's Reports page, after
//! the scripted day of calls, shows the figures, the server's charts and the flow
//! diagram (`target/staff-reports.png`, the README's picture); an agent has no such tab.
//! With local agencies, the page limits the report to a chosen agency, and an agency's
//! supervisor gets only its own.
//!
//! `cargo test` reports it as ignored (a machine may have no browser); `.ci/run` runs it
//! with `--include-ignored`, and there a missing browser fails it.

use crate::helpers as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseline::app::Application;
use caseline::call::Params;
use caseline::clock::FixedClock;
use caseline::staff::Role;
use caseline::store::Store;
use fantoccini::{Client, ClientBuilder, Locator};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const CALL: &str = "CAbrowser0000000000000000000000001";
const PASSWORD: &str = "console-test-passphrase";

fn params(extra: &[(&str, &str)]) -> Params {
    let mut p = vec![
        ("CallSid", CALL),
        ("From", "+15592310123"),
        ("To", common::TOLL_FREE),
    ];
    p.extend_from_slice(extra);
    Params::from(
        p.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with --include-ignored"]
async fn console_signs_in_sees_a_live_call_and_transfers_it() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.twilio_account_sid = Some(ACCOUNT.into());
    settings.twilio_api_base = provider.uri();
    settings.trust_proxy = false;
    let store = Store::connect(&format!("sqlite://{}/caseline.db", dir.path().display()))
        .await
        .unwrap();
    let clock = FixedClock::at(common::open_time());
    let app = Application::build_with(settings, store, Arc::new(clock))
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let state = app.state();

    // A caller who chose English and is waiting for a representative.
    caseline::call::incoming(&state.line, &params(&[]))
        .await
        .unwrap();
    caseline::call::input(&state.line, &params(&[("Digits", "1")]), "language")
        .await
        .unwrap();
    caseline::staff::add(
        &state.line.store,
        &state.line.hasher,
        state.line.now(),
        "dana",
        Role::Supervisor,
        None,
        PASSWORD,
    )
    .await
    .unwrap();
    state
        .line
        .store
        .card_payments()
        .add(&crate::helpers::paid(
            "ch_console1",
            CALL,
            state.line.now(),
            None,
        ))
        .await
        .unwrap();
    // A callback request waiting to be dialled by hand.
    let added = state
        .line
        .store
        .callback_queue()
        .add(&caseline::domain::callbacks::NewCallback {
            number: "+15305550177",
            lang: "en",
            channel: "voice",
            call_sid: "CAbrowser0000000000000000000000002",
            case_number: None,
            role: None,
            requested_at: state.line.now(),
            day: 0,
            agency: None,
        })
        .await
        .unwrap();
    assert_eq!(added, caseline::domain::callbacks::Added::Created);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let url = format!("http://{addr}/staff");
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/staff-console.png");
    let driver = ChromeDriver::start().await;
    let browser = driver.session().await;
    let status = drive_console(&browser, &url, &shot).await;
    let _ = browser.close().await;
    let status = status.unwrap_or_else(|e| panic!("browser: {e:#}"));
    assert!(status.contains("sent to Verify identity"), "{status}");

    // The console's click reached the provider's REST API, and the call is marked.
    let got = provider.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].url.path().ends_with(&format!("/Calls/{CALL}.json")));
    // The hand-off is on record in its own row, named by the entry URL.
    let url: String = form_urlencoded::parse(&got[0].body)
        .find(|(k, _)| k == "Url")
        .map(|(_, v)| v.into_owned())
        .expect("the entry URL");
    let id: i64 = url
        .split("handoff=")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a hand-off id");
    let sent = state
        .line
        .store
        .staff()
        .take_handoff(id, CALL, caseline::session::StaffEntry::Verify)
        .await
        .unwrap()
        .expect("marked as sent by staff");
    assert_eq!(sent.by, "dana");
    assert_eq!(sent.entry, caseline::session::StaffEntry::Verify);
    assert_eq!(sent.return_to, "sip:dana@pbx.agency.example");
    // Claiming the callback showed its whole number to dana, and that is on record.
    let audit = state.line.store.audit_log().recent(50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|l| l.event == "callback.number.shown" && l.actor.as_deref() == Some("dana")),
        "{audit:?}"
    );

    let _ = stop.send(());
    let _ = server.await;
}

/// ChromeDriver on a free port, stopped when dropped.
struct ChromeDriver {
    child: std::process::Child,
    port: u16,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ChromeDriver { child, port }
    }

    async fn session(&self) -> Client {
        self.session_of_size(1280, 900).await
    }

    async fn session_of_size(&self, width: u32, height: u32) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},{height}")],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs in, waits for the call's row, sends it to "verify", screenshots the page, and
/// answers the status line the console shows.
async fn drive_console(b: &Client, url: &str, shot: &std::path::Path) -> anyhow::Result<String> {
    b.goto(url).await?;
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Id("login-name"))
        .await?
        .send_keys("dana")
        .await?;
    b.find(Locator::Id("login-password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    b.find(Locator::Id("login-button")).await?.click().await?;

    let row = format!("tr[data-call-sid=\"{CALL}\"]");
    let live = b
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&row))
        .await?
        .text()
        .await?;
    // The caller by their number's last four digits, and where they are in plain words.
    if !(live.contains("ending 0123") && live.contains("at the main menu")) {
        anyhow::bail!("the live call row shows: {live}");
    }
    // A waiting callback's number is masked until this supervisor claims it.
    let callbacks = b.find(Locator::Id("callbacks")).await?.text().await?;
    if !callbacks.contains("***-***-0177") || callbacks.contains("+15305550177") {
        anyhow::bail!("the callbacks table shows: {callbacks}");
    }
    b.find(Locator::Css("button[aria-label=\"Claim callback 1\"]"))
        .await?
        .click()
        .await?;
    until(
        b,
        "the claimed callback's whole number",
        "return document.getElementById('callbacks').textContent.includes('+15305550177')",
    )
    .await?;
    b.find(Locator::Id(&format!("entry-{CALL}")))
        .await?
        .select_by_value("verify")
        .await?;
    let back = b.find(Locator::Id(&format!("back-{CALL}"))).await?;
    back.clear().await?;
    back.send_keys("sip:dana@pbx.agency.example").await?;
    b.find(Locator::Css(&format!(
        "button[aria-label=\"Transfer call {CALL}\"]"
    )))
    .await?
    .click()
    .await?;

    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let text = b.find(Locator::Id("calls-status")).await?.text().await?;
        if text.contains("sent to") || text.contains("failed") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Let the list refresh and show the hand-off before the picture.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // A supervisor sees the requests by mail too (none waiting here).
    let requests = b.find(Locator::Id("requests")).await?.text().await?;
    if !requests.contains("No requests waiting.") {
        anyhow::bail!("the requests table shows: {requests}");
    }
    // Everyone sees the card payments taken by phone: by card type and last four.
    let payments = b.find(Locator::Id("payments")).await?.text().await?;
    if !(payments.contains("visa ending 4242") && payments.contains("ch_console1")) {
        anyhow::bail!("the payments table shows: {payments}");
    }
    let png = b.screenshot().await?;
    if let Some(parent) = shot.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(shot, png)?;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with --include-ignored"]
async fn reports_page_shows_a_supervisor_the_charts_and_an_agent_no_tab() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    let app = common::TestApp::spawn(common::Backend::Sqlite)
        .await
        .with_demo_data()
        .await;
    crate::operating::scripted_day(&app).await;
    let sam = app.add_staff("sam", Role::Supervisor).await;
    let alex = app.add_staff("alex", Role::Agent).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Application::from_parts(listener, app.state.clone()).run_until_stopped(async {
            let _ = stopped.await;
        }),
    );

    let url = format!("http://{addr}/staff");
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/staff-reports.png");
    let driver = ChromeDriver::start().await;
    let browser = driver.session_of_size(1280, 1150).await;
    let seen = drive_reports(&browser, &url, (&sam, &alex), &shot).await;
    let _ = browser.close().await;
    let figures = seen.unwrap_or_else(|e| panic!("browser: {e:#}"));
    for want in [
        "Calls=6",
        "Contained=2",
        "Transferred=1",
        "Callbacks=1",
        "Abandoned=2",
        "Containment rate=33.3%",
        "Average time in the IVR=40 s",
        "Verification attempts=1",
        "Verified=1",
        "Locked out=0",
        "Repeat callers (within 24 h)=1",
        "By language=English 5, not chosen 1",
        "By channel=voice 6",
    ] {
        assert!(
            figures.iter().any(|f| f == want),
            "{want} not in {figures:?}"
        );
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with --include-ignored"]
async fn reports_page_chooses_an_agency_and_an_agencys_supervisor_sees_only_its_own() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::settings();
    s.agencies_file = Some(crate::routing::agencies_file(dir.path()));
    let app = common::TestApp::spawn_with(common::Backend::Sqlite, s)
        .await
        .with_demo_data()
        .await;
    crate::reports::a_day_with_agencies(&app).await;
    let sam = app.add_staff("sam", Role::Supervisor).await;
    let fran = crate::reports::add_local_supervisor(&app, "fran", "fresno").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Application::from_parts(listener, app.state.clone()).run_until_stopped(async {
            let _ = stopped.await;
        }),
    );
    let driver = ChromeDriver::start().await;
    let browser = driver.session_of_size(1280, 1150).await;
    let seen = drive_agency_reports(&browser, &format!("http://{addr}/staff"), &sam, &fran).await;
    let _ = browser.close().await;
    seen.unwrap_or_else(|e| panic!("browser: {e:#}"));
    let _ = stop.send(());
    let _ = server.await;
}

/// The figure `name` on the Reports page is `value`.
fn figure_is(name: &str, value: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#report-figures div')].some(d => \
           d.querySelector('dt').textContent === '{name}' \
           && d.querySelector('dd').textContent === '{value}')"
    )
}

/// A statewide supervisor sees every agency's calls, the table by agency and the ZIP
/// code question, then chooses Kern; Fresno's supervisor gets Fresno's, with nothing
/// else to choose.
async fn drive_agency_reports(b: &Client, url: &str, sam: &str, fran: &str) -> anyhow::Result<()> {
    b.goto(url).await?;
    sign_in(b, "sam", sam).await?;
    until(
        b,
        "the Reports tab showing",
        "return !document.getElementById('tabs').hidden",
    )
    .await?;
    b.find(Locator::Id("tab-reports")).await?.click().await?;
    until(
        b,
        "every agency's calls by agency",
        "return document.getElementById('report-by-agency').rows.length === 3 \
           && !document.getElementById('report-agencies').hidden \
           && document.getElementById('report-agency').options.length === 5",
    )
    .await?;
    until(b, "every call counted", &figure_is("Calls", "6")).await?;
    let table = b
        .find(Locator::Id("report-by-agency"))
        .await?
        .text()
        .await?;
    for want in [
        "statewide 4 0 0 0 4",
        "Fresno County Child Support Services 1 0 1 0 0",
        "Kern County Child Support Services 1 0 1 0 0",
    ] {
        if !table.contains(want) {
            anyhow::bail!("the calls by agency show: {table}");
        }
    }
    let zip = b.find(Locator::Id("report-zip")).await?.text().await?;
    for want in [
        "were asked their ZIP code 4",
        "gave one spanning counties 1",
        "hung up at the county question 1",
    ] {
        if !zip.contains(want) {
            anyhow::bail!("the ZIP code question shows: {zip}");
        }
    }
    b.find(Locator::Id("report-agency"))
        .await?
        .select_by_value("kern")
        .await?;
    until(b, "Kern's calls alone", &figure_is("Calls", "1")).await?;
    let table = b
        .find(Locator::Id("report-by-agency"))
        .await?
        .text()
        .await?;
    if table.contains("statewide") || !table.contains("Kern County") {
        anyhow::bail!("Kern's calls by agency show: {table}");
    }

    // Fresno's supervisor: Fresno's calls, the selector fixed on Fresno.
    b.find(Locator::Id("logout")).await?.click().await?;
    sign_in(b, "fran", fran).await?;
    until(
        b,
        "the Reports tab showing",
        "return !document.getElementById('tabs').hidden \
           && document.getElementById('who-name').textContent.includes('fran')",
    )
    .await?;
    b.find(Locator::Id("tab-reports")).await?.click().await?;
    until(
        b,
        "Fresno's report",
        "const s = document.getElementById('report-agency'); \
         return s.disabled && s.value === 'fresno' && s.options.length === 2 \
           && document.getElementById('report-by-agency').textContent.includes('Fresno')",
    )
    .await?;
    until(b, "Fresno's calls alone", &figure_is("Calls", "1")).await?;
    Ok(())
}

/// Signs in at the page as `name`.
async fn sign_in(b: &Client, name: &str, password: &str) -> anyhow::Result<()> {
    // Shown, not only present: after a sign-out the form is in the page before it is
    // visible, and typing into it then is refused as "not interactable".
    until(
        b,
        "the sign-in form showing",
        "const f = document.getElementById('login-name'); \
           return !!f && f.offsetParent !== null",
    )
    .await?;
    let field = b.find(Locator::Id("login-name")).await?;
    field.clear().await?;
    field.send_keys(name).await?;
    b.find(Locator::Id("login-password"))
        .await?
        .send_keys(password)
        .await?;
    b.find(Locator::Id("login-button")).await?.click().await?;
    Ok(())
}

/// Waits until `script` returns true.
async fn until(b: &Client, what: &str, script: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if b.execute(script, vec![]).await? == serde_json::Value::Bool(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{what} did not happen");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The supervisor opens Reports: the charts and the diagram load as pictures, the page
/// is photographed; then the agent signs in and has no Reports tab. Answers the figures
/// shown, as `name=value`.
async fn drive_reports(
    b: &Client,
    url: &str,
    (sam, alex): (&str, &str),
    shot: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    b.goto(url).await?;
    sign_in(b, "sam", sam).await?;
    until(
        b,
        "the Reports tab showing",
        "return !document.getElementById('tabs').hidden",
    )
    .await?;
    b.find(Locator::Id("tab-reports")).await?.click().await?;
    until(
        b,
        "the charts and the diagram loading",
        "return ['chart-outcomes', 'chart-drop-off', 'diagram'].every(id => { \
           const i = document.getElementById(id); \
           return i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'); })",
    )
    .await?;
    let status = b.find(Locator::Id("reports-status")).await?.text().await?;
    if !status.starts_with("As of") {
        anyhow::bail!("the Reports page says: {status}");
    }
    let alt = b
        .find(Locator::Id("chart-outcomes"))
        .await?
        .attr("alt")
        .await?
        .unwrap_or_default();
    if !alt.contains("contained 2, transferred 1, callbacks 1, abandoned 2") {
        anyhow::bail!("the outcome chart's text is: {alt}");
    }
    let table = b.find(Locator::Id("report-drop-off")).await?.text().await?;
    if !(table.contains("language") && table.contains("main-menu")) {
        anyhow::bail!("the drop-off table shows: {table}");
    }
    if shown(b, "calls").await? {
        anyhow::bail!("the live calls still show on the Reports page");
    }
    // A line without local agencies: no agency to choose, no table of them.
    for id in ["report-agency-choice", "report-agencies"] {
        if b.find(Locator::Id(id)).await?.is_displayed().await? {
            anyhow::bail!("#{id} shows on a line without agencies");
        }
    }
    let figures = b
        .execute(
            "return [...document.querySelectorAll('#report-figures div')].map(d => \
               d.querySelector('dt').textContent + '=' + d.querySelector('dd').textContent)",
            vec![],
        )
        .await?;
    let figures: Vec<String> = serde_json::from_value(figures)?;
    // Let the pictures settle before the picture of them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let png = b.screenshot().await?;
    if let Some(parent) = shot.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(shot, png)?;

    // An agent: the calls, and no Reports tab.
    b.find(Locator::Id("logout")).await?.click().await?;
    sign_in(b, "alex", alex).await?;
    until(
        b,
        "the agent's console showing",
        "return !document.getElementById('app').hidden \
           && document.getElementById('who-name').textContent.includes('alex')",
    )
    .await?;
    for id in ["tabs", "tab-reports", "reports-page"] {
        if b.find(Locator::Id(id)).await?.is_displayed().await? {
            anyhow::bail!("an agent sees #{id}");
        }
    }
    if !shown(b, "calls").await? {
        anyhow::bail!("the agent does not see the live calls");
    }
    Ok(figures)
}

/// Staff of a local agency (issue 29): a Fresno supervisor's console lists Fresno's
/// callback request and not Kern's, and names the agency; a Fresno agent sees Fresno's
/// card payment alone; a statewide supervisor sees both callbacks and narrows the lists
/// to Kern with the agency filter; an admin sees each account's agency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with --include-ignored"]
async fn an_agencys_staff_see_only_their_agencys_records_in_the_console() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings();
    settings.agencies_file = Some(crate::routing::agencies_file(dir.path()));
    let app = common::TestApp::spawn_with(common::Backend::Sqlite, settings).await;
    let store = &app.state.line.store;
    for (n, (agency, number)) in [("fresno", "+15595550101"), ("kern", "+16615550102")]
        .into_iter()
        .enumerate()
    {
        let added = store
            .callback_queue()
            .add(&caseline::domain::callbacks::NewCallback {
                number,
                lang: "en",
                channel: "voice",
                call_sid: &format!("CAagency00000000000000000000000{n}"),
                case_number: None,
                role: None,
                requested_at: app.state.line.now(),
                day: 0,
                agency: Some(agency),
            })
            .await
            .unwrap();
        assert_eq!(added, caseline::domain::callbacks::Added::Created);
        store
            .card_payments()
            .add(&crate::helpers::paid(
                &format!("ch_{agency}1"),
                &format!("CAagency00000000000000000000001{n}"),
                app.state.line.now(),
                Some(agency),
            ))
            .await
            .unwrap();
    }
    let pat = app
        .add_staff_of("pat", Role::Supervisor, Some("fresno"))
        .await;
    let kim = app.add_staff_of("kim", Role::Agent, Some("fresno")).await;
    let sam = app.add_staff("sam", Role::Supervisor).await;
    let root = app.add_staff("root", Role::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Application::from_parts(listener, app.state.clone()).run_until_stopped(async {
            let _ = stopped.await;
        }),
    );

    let driver = ChromeDriver::start().await;
    let browser = driver.session().await;
    let seen = drive_agencies(
        &browser,
        &format!("http://{addr}/staff"),
        [&pat, &kim, &sam, &root],
    )
    .await;
    let _ = browser.close().await;
    seen.unwrap_or_else(|e| panic!("browser: {e:#}"));
    let _ = stop.send(());
    let _ = server.await;
}

/// The text of element `id`.
async fn text_of(b: &Client, id: &str) -> anyhow::Result<String> {
    Ok(b.find(Locator::Id(id)).await?.text().await?)
}

/// Pat (Fresno's supervisor), Kim (Fresno's agent), Sam (statewide), then Root (an
/// admin, who sees the accounts with their agencies) sign in in turn.
async fn drive_agencies(
    b: &Client,
    url: &str,
    [pat, kim, sam, root]: [&str; 4],
) -> anyhow::Result<()> {
    const FRESNO: &str = "Fresno County Child Support Services";
    b.goto(url).await?;
    sign_in(b, "pat", pat).await?;
    until(
        b,
        "Fresno's callback listed",
        "return document.getElementById('callbacks').textContent.includes('0101')",
    )
    .await?;
    let who = text_of(b, "who-name").await?;
    if !who.contains(FRESNO) {
        anyhow::bail!("the header says: {who}");
    }
    let callbacks = text_of(b, "callbacks").await?;
    if callbacks.contains("0102") || !callbacks.contains(FRESNO) {
        anyhow::bail!("Fresno's supervisor sees: {callbacks}");
    }
    if shown(b, "agency-filter-row").await? {
        anyhow::bail!("a local supervisor is offered the agency filter");
    }
    // The announcement reaches every agency's callers: not one agency's to set.
    if shown(b, "announcement-section").await? {
        anyhow::bail!("a local supervisor is offered the announcement");
    }

    b.find(Locator::Id("logout")).await?.click().await?;
    sign_in(b, "kim", kim).await?;
    until(
        b,
        "Fresno's payment listed",
        "return document.getElementById('payments').textContent.includes('ch_fresno1')",
    )
    .await?;
    let payments = text_of(b, "payments").await?;
    if payments.contains("ch_kern1") {
        anyhow::bail!("Fresno's agent sees: {payments}");
    }

    b.find(Locator::Id("logout")).await?.click().await?;
    sign_in(b, "sam", sam).await?;
    until(
        b,
        "both callbacks listed",
        "const t = document.getElementById('callbacks').textContent; \
           return t.includes('0101') && t.includes('0102')",
    )
    .await?;
    if !text_of(b, "who-name").await?.contains("statewide") {
        anyhow::bail!("the header does not say statewide");
    }
    if !shown(b, "announcement-section").await? {
        anyhow::bail!("a statewide supervisor is not offered the announcement");
    }
    b.find(Locator::Id("agency-filter"))
        .await?
        .select_by_value("kern")
        .await?;
    until(
        b,
        "the lists narrowed to Kern",
        "const t = document.getElementById('callbacks').textContent; \
           const p = document.getElementById('payments').textContent; \
           return t.includes('0102') && !t.includes('0101') \
             && p.includes('ch_kern1') && !p.includes('ch_fresno1')",
    )
    .await?;
    if shown(b, "accounts-section").await? {
        anyhow::bail!("a supervisor sees the accounts");
    }

    b.find(Locator::Id("logout")).await?.click().await?;
    sign_in(b, "root", root).await?;
    until(
        b,
        "the accounts listed",
        "return document.getElementById('accounts').rows.length === 4",
    )
    .await?;
    let rows = b
        .execute(
            "return [...document.getElementById('accounts').rows].map(r => \
               [...r.cells].map(c => c.textContent).join('|'))",
            vec![],
        )
        .await?;
    let rows: Vec<String> = serde_json::from_value(rows)?;
    for want in [
        format!("kim|agent|{FRESNO}|active"),
        format!("pat|supervisor|{FRESNO}|active"),
        "sam|supervisor|statewide|active".to_string(),
    ] {
        if !rows.contains(&want) {
            anyhow::bail!("{want} is not among the accounts: {rows:?}");
        }
    }
    Ok(())
}

/// Whether the element with that id is on screen.
async fn shown(b: &Client, id: &str) -> anyhow::Result<bool> {
    Ok(b.find(Locator::Id(id)).await?.is_displayed().await?)
}
