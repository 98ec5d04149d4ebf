//! Only the provider gets in, and whatever it sends, the caller hears valid TwiML.

use crate::helpers as common;

use caseline::http::signature::{Algorithm, sign, signing_payload};
use common::{Backend, PUBLIC_URL, SHARED_KEY, TOKEN, TestApp};

on_both_stores!(
    unsigned_and_forged_requests_are_refused,
    shared_key_signatures_are_accepted,
    hostile_input_always_gets_well_formed_twiml,
    a_database_outage_gets_an_apology_not_an_error,
    fallback_url_apologises_and_ends_cleanly,
    fallback_url_resumes_a_live_call_where_it_was,
    any_signed_voice_url_we_never_wrote_gets_an_apology_and_a_way_on,
    a_signed_request_with_a_long_path_is_cut_short_in_the_log,
);

/// Why, the headers sent, the parameters sent.
type Forgery<'a> = (&'a str, Vec<(&'a str, String)>, &'a [(&'a str, &'a str)]);

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn unsigned_and_forged_requests_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let url = format!("{PUBLIC_URL}/voice/incoming");
    let params = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("To", "+18669013212"),
    ];
    let good = sign(
        Algorithm::HmacSha1,
        TOKEN,
        &signing_payload(&url, &owned(&params)),
    );
    let cases: Vec<Forgery> = vec![
        ("no signature", vec![], &params),
        (
            "signed with another token",
            vec![(
                "X-Twilio-Signature",
                sign(
                    Algorithm::HmacSha1,
                    "not-the-token",
                    &signing_payload(&url, &owned(&params)),
                ),
            )],
            &params,
        ),
        (
            "a parameter changed after signing",
            vec![("X-Twilio-Signature", good.clone())],
            &[
                ("CallSid", "CA0123456789abcdef0123456789abcdef"),
                ("To", "+15555555555"),
            ],
        ),
        (
            "signed for another URL",
            vec![(
                "X-Twilio-Signature",
                sign(
                    Algorithm::HmacSha1,
                    TOKEN,
                    &signing_payload("https://evil.test/voice/incoming", &owned(&params)),
                ),
            )],
            &params,
        ),
        (
            "an unknown algorithm",
            vec![
                ("X-Twilio-Signature", good.clone()),
                (
                    "X-Twilio-Webhooks-Signature-Settings",
                    "algorithm=MD5".into(),
                ),
            ],
            &params,
        ),
    ];
    for (why, headers, params) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = app.post(&url, params, &h).await;
        assert_eq!(answer.status, 403, "{why}: {}", answer.body);
    }
    // Every webhook is guarded, not only the first.
    for path in [
        "/voice/input/main-menu",
        "/voice/step/main-menu",
        "/voice/status",
        "/voice/recover",
        "/voice/fallback",
    ] {
        let answer = app.post(&format!("{PUBLIC_URL}{path}"), &params, &[]).await;
        assert_eq!(answer.status, 403, "{path}");
    }
    // And the right signature gets in.
    let answer = app
        .post(&url, &params, &[("X-Twilio-Signature", &good)])
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(app.get("/healthz").await.status, 200);
}

async fn shared_key_signatures_are_accepted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let url = format!("{PUBLIC_URL}/voice/incoming");
    let params = [
        ("CallSid", "CA0123456789abcdef0123456789abcdee"),
        ("To", "+18669013212"),
    ];
    let sig = sign(
        Algorithm::HmacSha256,
        SHARED_KEY,
        &signing_payload(&url, &owned(&params)),
    );
    let settings = "key=KY0123,algorithm=HMAC_SHA256";
    let answer = app
        .post(
            &url,
            &params,
            &[
                ("X-Twilio-Signature", &sig),
                ("X-Twilio-Webhooks-Signature-Settings", settings),
            ],
        )
        .await;
    assert!(answer.twiml().says("Thank you for calling"));
    // The SHA-256 signature made with the auth token instead is refused.
    let wrong = sign(
        Algorithm::HmacSha256,
        TOKEN,
        &signing_payload(&url, &owned(&params)),
    );
    let answer = app
        .post(
            &url,
            &params,
            &[
                ("X-Twilio-Signature", &wrong),
                ("X-Twilio-Webhooks-Signature-Settings", settings),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);
}

async fn hostile_input_always_gets_well_formed_twiml(b: Backend) {
    let app = TestApp::spawn(b).await;
    let huge = "9".repeat(50_000);
    let rows: &[(&str, &str, &str)] = &[
        ("huge digits", "Digits", &huge),
        ("empty digits", "Digits", ""),
        ("non-ASCII digits", "Digits", "١٢٣ 🙂"),
        (
            "XML in digits",
            "Digits",
            "</Say><Hangup/>&amp;<![CDATA[x]]>",
        ),
        ("quotes in digits", "Digits", "\"'><"),
        ("control characters", "Digits", "\u{0}\u{1b}\u{7}"),
        (
            "XML in speech",
            "SpeechResult",
            "<Response><Dial>+15555550100</Dial></Response>",
        ),
        ("huge speech", "SpeechResult", &huge),
        (
            "non-ASCII speech",
            "SpeechResult",
            "¿Dónde está mi pago? 你好",
        ),
    ];
    for (why, name, value) in rows {
        let mut call = app.call();
        call.dial().await;
        call.press("1").await;
        let url = format!("{PUBLIC_URL}/voice/input/main-menu");
        let twiml = call.post(&url, &[(name, value)]).await; // .twiml() inside asserts 200 + schema
        assert!(
            !twiml.xml.contains("<Dial>+1555"),
            "{why}: input echoed as TwiML"
        );
        assert!(!twiml.xml.contains("\u{0}"), "{why}");
        assert!(
            twiml.find("Gather").is_some() || twiml.last_verb() == "Enqueue",
            "{why}: {}",
            twiml.xml
        );
    }
    // Broken or missing call identity, unknown steps, garbage bodies: still TwiML.
    let weird: &[(&str, &[(&str, &str)])] = &[
        ("/voice/incoming", &[]),
        (
            "/voice/incoming",
            &[("CallSid", "<script>alert(1)</script>")],
        ),
        (
            "/voice/input/no-such-step",
            &[("CallSid", "CA1"), ("Digits", "1")],
        ),
        ("/voice/step/../../etc/passwd", &[("CallSid", "CA2")]),
        (
            "/voice/input/main-menu",
            &[("CallSid", "CAfresh"), ("Digits", "3")],
        ),
        ("/voice/recover?attempt=zzz", &[("CallSid", "CA3")]),
        (
            "/voice/status",
            &[("CallSid", "CA4"), ("CallStatus", "<completed>")],
        ),
    ];
    for (path, params) in weird {
        let answer = app
            .post_signed(&format!("{PUBLIC_URL}{path}"), params)
            .await;
        assert!(answer.status.as_u16() < 500, "{path}: {}", answer.status);
        if answer.status == 200 {
            answer.twiml();
        }
    }
    // A signed request whose body is not even UTF-8 form data.
    let url = format!("{PUBLIC_URL}/voice/incoming");
    let body = vec![0xff, 0xfe, b'=', 0x00, b'&'];
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let sig = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(&url, &params));
    let answer = app
        .post_raw(&url, body, &[("X-Twilio-Signature", &sig)])
        .await;
    answer.twiml();
    // A body far beyond any webhook is refused before any work, without a 5xx.
    let answer = app.post_raw(&url, vec![b'a'; 200_000], &[]).await;
    assert_eq!(answer.status, 413);
}

async fn a_database_outage_gets_an_apology_not_an_error(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    // A failure with the session readable (here, a step the flow does not have) gets
    // the apology in the caller's language only, and the retry lands on the menu.
    let url = format!("{PUBLIC_URL}/voice/input/no-such-step");
    let sorry = call.post(&url, &[("Digits", "1")]).await;
    assert!(
        sorry.says("Lo sentimos, tuvimos un problema"),
        "{}",
        sorry.xml
    );
    assert!(!sorry.says("We're sorry"), "{}", sorry.said());
    let menu = call.follow().await;
    assert!(menu.says("Para información sobre pagos"), "{}", menu.said());
    app.state.line.store.close().await; // The database goes away mid-call.
    let sorry = call.press("3").await;
    // The session (and so the language) cannot be read: the apology comes in both.
    assert!(
        sorry.says("Lo sentimos, tuvimos un problema"),
        "{}",
        sorry.xml
    );
    assert!(
        sorry.says("We're sorry, something went wrong"),
        "{}",
        sorry.xml
    );
    let redirect = sorry.find("Redirect").expect("a way forward");
    assert!(
        redirect
            .text
            .as_deref()
            .unwrap()
            .starts_with(&format!("{PUBLIC_URL}/voice/recover"))
    );
    assert!(
        !sorry.xml.to_lowercase().contains("pool"),
        "no internals in TwiML"
    );
    // Still down: the second try ends the call politely instead of looping.
    let bye = call.follow().await;
    assert_eq!(bye.last_verb(), "Hangup", "{}", bye.xml);
    assert!(bye.find("Redirect").is_none());
    assert!(
        bye.says("8 6 6, 9 0 1, 3 2 1 2"),
        "gives the office's number: {}",
        bye.said()
    );
}

/// A server died with the caller's request (the provider then calls the fallback URL
/// with the same fields): the caller hears the step they were at again, from what was
/// committed, and the call goes on from there.
async fn fallback_url_resumes_a_live_call_where_it_was(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await; // English: the main menu.
    call.press("3").await; // General information.
    let url = format!("{PUBLIC_URL}/voice/fallback");
    let again = call
        .post(
            &url,
            &[
                ("ErrorCode", "11200"),
                (
                    "ErrorUrl",
                    "https://ivr.example.test/voice/input/info-menu?t=9",
                ),
                ("Digits", "1"),
            ],
        )
        .await;
    assert!(again.says("General information."), "{}", again.said());
    assert_ne!(again.last_verb(), "Hangup", "{}", again.xml);
    assert!(again.gather().get("action").is_some(), "{}", again.xml);
    // The caller goes on from it.
    assert!(call.press("9").await.says("For payment information"));
}

async fn fallback_url_apologises_and_ends_cleanly(b: Backend) {
    let logs = common::capture_logs();
    let app = TestApp::spawn(b).await;
    app.state.line.store.close().await; // Works with no database at all.
    let mut call = app.call();
    let url = format!("{PUBLIC_URL}/voice/fallback");
    let twiml = call
        .post(
            &url,
            &[
                ("ErrorCode", "11200"),
                ("ErrorUrl", "https://ivr.example.test/voice/incoming"),
            ],
        )
        .await;
    assert!(twiml.says("We're sorry"));
    assert!(twiml.says("Lo sentimos"));
    assert_eq!(twiml.last_verb(), "Hangup");
    // Only a code is logged: a card number or an SSN sent as the code is not.
    for odd in ["4111111111111111", "900-12-3456"] {
        call.post(&url, &[("ErrorCode", odd)]).await;
        let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
        assert!(!text.contains(odd), "{odd} in the log");
    }
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert!(text.contains("error_code=\"11200\""), "the code is logged");
}

async fn any_signed_voice_url_we_never_wrote_gets_an_apology_and_a_way_on(b: Backend) {
    let app = TestApp::spawn(b).await;
    for path in [
        "/voice/",
        "/voice",
        "/voice//",
        "/voice/nowhere",
        "/voice/a/b/c",
        "/voice/step",
        "/voice/paid",
        "/voice/?x=1",
    ] {
        let url = format!("{PUBLIC_URL}{path}");
        let answer = app
            .post_signed(&url, &[("CallSid", "CA0123456789abcdef0123456789abcdef")])
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        let twiml = answer.twiml();
        assert!(
            twiml.says("We're sorry") || twiml.says("Lo sentimos"),
            "{path}: {}",
            twiml.xml
        );
        // Somewhere to go: back into the call, or a goodbye.
        assert!(
            matches!(twiml.last_verb(), "Redirect" | "Hangup"),
            "{path}: {}",
            twiml.xml
        );
    }
    // Asked for with GET (a number configured that way), signed: TwiML all the same.
    for path in ["/voice/", "/voice/nowhere", "/voice/incoming"] {
        let url = format!("{PUBLIC_URL}{path}");
        let sig = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(&url, &[]));
        let req = axum::http::Request::get(path)
            .header("X-Twilio-Signature", sig)
            .body(axum::body::Body::empty())
            .expect("request");
        let res = tower::ServiceExt::oneshot(app.router.clone(), req)
            .await
            .expect("router answers");
        assert_eq!(res.status(), 200, "GET {path}");
        let bytes = http_body_util::BodyExt::collect(res.into_body())
            .await
            .expect("body")
            .to_bytes();
        let answer = common::Answer {
            status: axum::http::StatusCode::OK,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        assert!(
            answer.twiml().find("Say").is_some(),
            "GET {path}: {}",
            answer.body
        );
    }
    // Unsigned, the same paths are still refused.
    let answer = app
        .post_raw(&format!("{PUBLIC_URL}/voice/"), vec![], &[])
        .await;
    assert_eq!(answer.status, 403);
}

/// A signed request's path in its log line is cut short, as a refused one's is: a step
/// name is short, and a long one is someone's text.
async fn a_signed_request_with_a_long_path_is_cut_short_in_the_log(b: Backend) {
    let logs = common::capture_logs();
    let app = TestApp::spawn(b).await;
    let long = format!("zq{}", "y".repeat(2000));
    let url = format!("{PUBLIC_URL}/voice/step/{long}");
    let answer = app
        .post_signed(&url, &[("CallSid", "CA0123456789abcdef0123456789abcdef")])
        .await;
    assert_eq!(answer.status, axum::http::StatusCode::OK);
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert!(text.contains("/voice/step/zqyyy"), "the request was logged");
    assert!(
        !text.contains(&"y".repeat(200)),
        "the whole path is in the log"
    );
}
