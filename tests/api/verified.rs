//! Verified callers: SSN and PAR ID, then payments and case status, on both stores.

use crate::helpers as common;

use common::{Backend, TestApp};

// The demo people (made-up numbers in the never-issued 900 range).
const MARCO: (&str, &str) = ("900234567", "4820193757"); // pays on ...3456
const ANA: (&str, &str) = ("900123456", "4820193756"); // receives on ...3456, Spanish
const JORDAN: (&str, &str) = ("900345678", "5512908812"); // three cases, one closed
const UNKNOWN_SSN: &str = "900999999";

on_both_stores!(
    paying_parent_hears_support_balance_and_last_payment,
    spanish_receiving_parent_hears_what_was_sent_and_the_last_five,
    caller_on_three_cases_picks_one_and_hears_a_closed_case,
    wrong_par_id_and_unknown_ssn_sound_the_same,
    three_failures_offer_a_representative,
    five_failures_lock_the_ssn_across_calls,
    a_restarted_server_keeps_the_caller_verified,
    spoken_digits_verify_too,
    import_rejects_a_bad_file_and_changes_nothing,
    reimporting_the_same_extract_changes_nothing,
    no_ssn_or_par_id_is_left_anywhere,
);

async fn english(app: &TestApp) -> common::Phone<'_> {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call
}

async fn paying_parent_hears_support_balance_and_last_payment(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = english(&app).await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    for fact in [
        "case ending in 3 4 5 6",
        "Your monthly support amount is four hundred fifty dollars.",
        "The last payment we received was two hundred twenty-five dollars, on November 1, 2026, taken from the paying parent's wages.",
        "Your past-due balance is one thousand two hundred thirty-four dollars and fifty-six cents.",
        "Your next payment is due on December 1, 2026.",
        "For your case status, press 1.",
    ] {
        assert!(heard.says(fact), "missing {fact:?} in {}", heard.said());
    }
    // The other topic without verifying again.
    let status = call.press("1").await;
    assert!(status.says("handled in Fresno County"), "{}", status.said());
    assert!(status.says("collect support that is owed"));
    assert!(
        status.says("December 8, 2026, at 2:15 p.m."),
        "{}",
        status.said()
    );
    assert!(status.says("Your caseworker is Dana Whitfield."));
    assert!(!status.says("court hearing"), "no hearing on this case");
    // Back to payments, still verified; star repeats the readback.
    let again = call.press("1").await;
    assert!(again.says("four hundred fifty dollars"));
    let repeat = call.press("*").await;
    assert_eq!(repeat.said(), again.said());
}

async fn spanish_receiving_parent_hears_what_was_sent_and_the_last_five(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let heard = call.verify_for_payments(ANA.0, ANA.1).await;
    let heard = heard.said();
    assert!(
        heard.contains("El último pago que le enviamos fue de doscientos veinticinco dólares, el 3 de noviembre de 2026, a su Tarjeta de Pago Electrónico."),
        "{heard}"
    );
    assert!(
        !heard.contains("saldo atrasado"),
        "a receiving parent is not told the payer's balance"
    );
    let five = call.press("2").await;
    let said = five.said();
    assert!(said.contains("le enviamos"), "{said}");
    for item in [
        "doscientos veinticinco dólares, el 3 de noviembre de 2026, a su Tarjeta de Pago Electrónico.",
        "doscientos veinticinco dólares, el 17 de septiembre de 2026, por depósito directo.",
        "un dólar, el 3 de septiembre de 2026, con cheque.",
    ] {
        assert!(said.contains(item), "missing {item:?} in {said}");
    }
    assert!(!said.contains("22 de abril"), "only the last five: {said}");
}

async fn caller_on_three_cases_picks_one_and_hears_a_closed_case(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = english(&app).await;
    call.press("2").await; // case status
    call.press(JORDAN.0).await;
    let choose = call.press(JORDAN.1).await;
    assert!(
        choose.says("You have more than one case."),
        "{}",
        choose.said()
    );
    assert!(choose.says("For the case ending in 2 1 9 0, press 1."));
    assert!(choose.says("For the case ending in 8 8 4 1, press 2."));
    assert!(choose.says("For the case ending in 9 0 0 1, press 3."));
    let wrong = call.press("7").await;
    assert!(
        wrong.says("For the case ending in 2 1 9 0, press 1."),
        "a wrong key asks again"
    );
    let status = call.press("1").await;
    assert!(
        status.says("case ending in 2 1 9 0, handled in Kern County"),
        "{}",
        status.said()
    );
    assert!(
        status.says("Your next court hearing is on January 14, 2027, at 9:30 a.m."),
        "{}",
        status.said()
    );
    let pay = call.press("1").await;
    assert!(pay.says("one thousand dollars"), "{}", pay.said());
    assert!(
        pay.says("Your past-due balance is zero dollars."),
        "{}",
        pay.said()
    );
    // A new call picks the closed case.
    let mut call = english(&app).await;
    call.press("2").await;
    call.press(JORDAN.0).await;
    call.press(JORDAN.1).await;
    let closed = call.press("3").await;
    assert!(
        closed.says("Your case ending in 9 0 0 1 is closed."),
        "{}",
        closed.said()
    );
    let pay = call.press("1").await;
    assert!(
        pay.says("no payments on record"),
        "custodial on a closed case with nothing sent: {}",
        pay.said()
    );
}

async fn wrong_par_id_and_unknown_ssn_sound_the_same(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let before = app.state.line.hasher.checks();
    let mut wrong_par = english(&app).await;
    let a = wrong_par.verify_for_payments(MARCO.0, "1111111111").await;
    let after_wrong = app.state.line.hasher.checks();
    let mut unknown = english(&app).await;
    let b2 = unknown.verify_for_payments(UNKNOWN_SSN, MARCO.1).await;
    let after_unknown = app.state.line.hasher.checks();
    assert_eq!(a.said(), b2.said(), "same words");
    assert!(a.says("we couldn't confirm that information"));
    assert!(
        a.says("Social Security number"),
        "back to the first question"
    );
    // Same work: one argon2 check each (the unknown SSN against the dummy hash).
    assert_eq!(after_wrong - before, 1);
    assert_eq!(after_unknown - after_wrong, 1);
    let audit_a = app
        .state
        .line
        .store
        .audit_log()
        .for_call(&wrong_par.sid)
        .await
        .unwrap();
    let audit_b = app
        .state
        .line
        .store
        .audit_log()
        .for_call(&unknown.sid)
        .await
        .unwrap();
    assert_eq!(audit_a.len(), 1);
    assert_eq!(audit_b.len(), 1);
    assert_eq!(
        (audit_a[0].0.as_str(), audit_a[0].1.as_str()),
        ("verify", "failed")
    );
    assert_eq!(
        (audit_b[0].0.as_str(), audit_b[0].1.as_str()),
        ("verify", "failed")
    );
    assert!(
        audit_a[0].2.is_some(),
        "the attacked participant is recorded for the agency"
    );
    assert!(audit_b[0].2.is_none());
}

async fn three_failures_offer_a_representative(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = english(&app).await;
    call.verify_for_payments(MARCO.0, "1111111111").await;
    call.press(MARCO.0).await;
    call.press("2222222222").await;
    call.press(MARCO.0).await;
    let third = call.press("3333333333").await;
    assert!(third.says("let's get you some help"), "{}", third.said());
    assert_eq!(third.last_verb(), "Enqueue", "open: to the queue");
    // Closed: the hours instead.
    app.clock.set(common::closed_time());
    let mut call = english(&app).await;
    call.verify_for_payments(UNKNOWN_SSN, "1").await;
    call.press(UNKNOWN_SSN).await;
    call.press("2").await;
    call.press(UNKNOWN_SSN).await;
    let third = call.press("3").await;
    assert!(third.says("closed right now"), "{}", third.said());
    assert!(third.find("Enqueue").is_none());
}

async fn five_failures_lock_the_ssn_across_calls(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    // Three failures in a first call, two in a second: the fifth locks the SSN.
    let mut call = english(&app).await;
    call.verify_for_payments(MARCO.0, "1111111111").await;
    call.press(MARCO.0).await;
    call.press("1111111112").await;
    call.press(MARCO.0).await;
    call.press("1111111113").await;
    let mut call = english(&app).await;
    call.verify_for_payments(MARCO.0, "1111111114").await;
    call.press(MARCO.0).await;
    let locked = call.press("1111111115").await;
    assert!(
        locked.says("can't confirm your identity by phone right now"),
        "{}",
        locked.said()
    );
    // Now even the right PAR ID is refused, at the SSN already, in a new call.
    let mut call = english(&app).await;
    call.press("1").await;
    let refused = call.press(MARCO.0).await;
    assert!(
        refused.says("can't confirm your identity by phone right now"),
        "{}",
        refused.said()
    );
    // The same happens for an SSN nobody has (nothing tells the two apart).
    for _ in 0..5 {
        let mut c = english(&app).await;
        c.verify_for_payments(UNKNOWN_SSN, "1").await;
    }
    let mut c = english(&app).await;
    c.press("1").await;
    assert!(
        c.press(UNKNOWN_SSN)
            .await
            .says("can't confirm your identity")
    );
    // A day later the lock is gone.
    app.clock.advance(24 * 3600 + 1);
    let mut call = english(&app).await;
    let ok = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(ok.says("four hundred fifty dollars"), "{}", ok.said());
}

async fn a_restarted_server_keeps_the_caller_verified(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = english(&app).await;
    call.verify_for_payments(MARCO.0, MARCO.1).await;
    let (sid, last) = (call.sid.clone(), call.last.clone());
    let twin = app.restart().await;
    let mut same = twin.call();
    same.sid = sid;
    same.last = last;
    let status = same.press("1").await;
    assert!(
        status.says("handled in Fresno County"),
        "no second verification: {}",
        status.said()
    );
    let main = same.press("9").await;
    let pay = {
        same.last = Some(main);
        same.press("1").await
    };
    assert!(pay.says("four hundred fifty dollars"), "{}", pay.said());
}

async fn spoken_digits_verify_too(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = english(&app).await;
    let ask = call.press("1").await;
    assert_eq!(ask.gather().get("input"), Some("dtmf speech"));
    call.say("nine zero zero, two three, four five six seven")
        .await;
    let heard = call.say("4 8 2 0 1 9 3 7 5 7").await;
    assert!(heard.says("four hundred fifty dollars"), "{}", heard.said());
}

async fn import_rejects_a_bad_file_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let before = app
        .state
        .line
        .store
        .cases()
        .case_fingerprints()
        .await
        .unwrap();
    let bad = r#"{"participants": [
        {"par_id": "4820193756", "ssn": "123-45-678", "first_name": "Ana", "last_name": "Reyes", "language": "fr"},
        {"par_id": "12", "ssn": "900-00-0001", "first_name": "", "last_name": "X"},
        {"par_id": "4820193756", "ssn": "900-00-0002", "first_name": "B", "last_name": "C"}],
      "cases": [{"case_number": "190000123456", "county": "Fresno", "status": "pending", "stage": "enforcment",
        "members": [{"par_id": "4820193999", "role": "parent"}],
        "order": {"monthly_support": 450.0}, "arrears_balance": "12.345",
        "next_hearing": "Jan 14", "payments": [{"received_on": "2026-13-01", "amount": "1", "source": "cash"}],
        "disbursements": [{"paid_on": "2026-11-03", "amount": "1.00", "to_par_id": "4820193756", "method": "card"}],
        "extra": 1}]}"#;
    let errors = caseline::domain::cases::import::parse(bad).unwrap_err();
    let all = errors.join("\n");
    for want in [
        "participants[0].ssn: must be 9 digits",
        "participants[0].language: 'fr' is not one of: en, es",
        "participants[1].par_id: must be a participant ID of 4 to 16 digits",
        "participants[1].first_name: must not be empty",
        "participants[2].par_id: the same participant ID as participants[0]",
        "cases[0].status: 'pending' is not one of: open, closed",
        "cases[0].stage: 'enforcment' is not one of",
        "cases[0].members[0].par_id: is not a participant in this file",
        "cases[0].members[0].role: 'parent' is not one of: custodial, noncustodial",
        "cases[0].order.monthly_support: must be a string",
        "cases[0].arrears_balance: must be an amount",
        "cases[0].next_hearing: must be a date and time",
        "cases[0].payments[0].received_on: must be a date YYYY-MM-DD",
        "cases[0].payments[0].source: 'cash' is not one of",
        "cases[0].disbursements[0].to_par_id: is not a member of this case",
        "cases[0].disbursements[0].method: 'card' is not one of",
        "cases[0].extra: unknown field",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    for secret in ["123-45-678", "4820193756", "4820193999", "900-00-000"] {
        assert!(
            !all.contains(secret),
            "an error echoes an identifier: {all}"
        );
    }
    assert!(
        caseline::domain::cases::import::parse("{\"participants\": [").unwrap_err()[0]
            .contains("line 1")
    );
    // Nothing was written (the bad file never reached the store).
    assert_eq!(
        app.state
            .line
            .store
            .cases()
            .case_fingerprints()
            .await
            .unwrap(),
        before
    );
}

async fn reimporting_the_same_extract_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let before = app
        .state
        .line
        .store
        .cases()
        .participant_fingerprints()
        .await
        .unwrap();
    let extract =
        caseline::domain::cases::import::parse(caseline::cli::demo::DEMO_EXTRACT).unwrap();
    let s = &app.state;
    let stats = caseline::domain::cases::import::run(
        &s.line.store,
        &s.line.blind,
        &s.line.hasher,
        extract,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(stats.participants_written, 0);
    assert_eq!(stats.cases_written, 0);
    assert_eq!(stats.participants_unchanged, 6);
    assert_eq!(stats.cases_unchanged, 4);
    assert_eq!(
        s.line
            .store
            .cases()
            .participant_fingerprints()
            .await
            .unwrap(),
        before
    );
    // A changed amount rewrites just that case.
    let changed = caseline::cli::demo::DEMO_EXTRACT.replace("\"1234.56\"", "\"1200.00\"");
    let extract = caseline::domain::cases::import::parse(&changed).unwrap();
    let stats = caseline::domain::cases::import::run(
        &s.line.store,
        &s.line.blind,
        &s.line.hasher,
        extract,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((stats.cases_written, stats.cases_unchanged), (1, 3));
    let mut call = english(&app).await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(
        heard.says("one thousand two hundred dollars"),
        "{}",
        heard.said()
    );
}

async fn no_ssn_or_par_id_is_left_anywhere(b: Backend) {
    let logs = common::capture_logs();
    let sqlite = matches!(b, Backend::Sqlite);
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut transcript = String::new();
    let mut call = english(&app).await;
    for keys in ["1", MARCO.0, "1111111111"] {
        let t = call.press(keys).await;
        transcript.push_str(&t.xml);
    }
    call.press(MARCO.0).await;
    let t = call.press(MARCO.1).await;
    transcript.push_str(&t.xml);
    for k in ["1", "2", "*", "9", "0"] {
        transcript.push_str(&call.press(k).await.xml);
    }
    call.hang_up().await;
    // Force an error path too, so its log line is checked.
    let url = format!("{}/voice/input/ask-par", common::PUBLIC_URL);
    transcript.push_str(&call.post(&url, &[("Digits", MARCO.1)]).await.xml);

    let secrets = [MARCO.0, "900-23-4567", MARCO.1, "1111111111", "23-4567"];
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("webhook"), "the logs were captured: {logs}");
    let urls: Vec<String> = transcript
        .split(['"', '<', '>'])
        .filter(|s| s.starts_with("https://"))
        .map(String::from)
        .collect();
    assert!(!urls.is_empty());
    for secret in secrets {
        assert!(!logs.contains(secret), "a log line holds {secret}");
        assert!(!transcript.contains(secret), "the TwiML holds {secret}");
        assert!(
            urls.iter().all(|u| !u.contains(secret)),
            "a URL holds {secret}"
        );
    }
    // The database: every text in every table, and on SQLite the files themselves.
    let store = &app.state.line.store;
    let audit = store.audit_log().for_call(&call.sid).await.unwrap();
    assert!(audit.iter().any(|(e, o, _, _)| e == "verify" && o == "ok"));
    assert!(
        audit
            .iter()
            .any(|(e, _, _, c)| e == "read-payments" && c.is_some())
    );
    store.close().await;
    if sqlite {
        let dir = match &app.db_path() {
            Some(p) => p.clone(),
            None => panic!("sqlite path"),
        };
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("$argon2id$"),
            "hashes are there: the files were read"
        );
        for secret in secrets {
            assert!(!text.contains(secret), "the database files hold {secret}");
        }
    } else {
        let dump = app.dump_postgres().await;
        assert!(dump.contains("$argon2id$"));
        for secret in secrets {
            assert!(!dump.contains(secret), "a PostgreSQL table holds {secret}");
        }
    }
}
