use super::*;

fn entry(num: Option<usize>, finish: &str) -> Entry {
    Entry {
        step: "x".into(),
        num_digits: num,
        finish_on_key: finish.into(),
        timeout: 8000,
        keys: String::new(),
        typed: String::new(),
        quiet: 0,
    }
}

#[test]
fn an_entry_ends_on_its_count_enter_ga_or_its_key() {
    let mut e = entry(Some(1), "");
    assert!(e.take('2'));
    assert_eq!(e.keys, "2");
    let mut e = entry(None, "#");
    assert!(!e.take('4') && !e.take('8') && !e.take(' '));
    assert!(e.take('#'));
    assert_eq!(e.keys, "48");
    let mut e = entry(None, "#");
    assert!(!e.take('1') && !e.take(' ') && !e.take('G'));
    assert!(e.take('A'));
    assert_eq!(e.keys, "1");
    // GA only as a word: OMEGA does not end the turn.
    let mut e = entry(None, "#");
    assert!("OMEGA".chars().all(|c| !e.take(c)));
    // Letters do not hold a turn open: the quiet count runs on.
    e.quiet = 100;
    e.take('X');
    assert_eq!(e.quiet, 100);
    let mut e = entry(Some(9), "#");
    assert!(!e.take('1'));
    assert!(e.take('\r'));
}

#[test]
fn the_stream_url_follows_the_public_url() {
    let xml = connect("https://ivr.agency.gov", "tok").to_xml();
    assert!(
        xml.contains(r#"url="wss://ivr.agency.gov/tty/stream""#),
        "{xml}"
    );
    assert!(xml.contains(r#"action="https://ivr.agency.gov/voice/tty/after""#));
    assert!(
        xml.contains(r#"<Parameter name="token" value="tok"/>"#),
        "{xml}"
    );
    let xml = connect("http://127.0.0.1:8080", "tok").to_xml();
    assert!(
        xml.contains(r#"url="ws://127.0.0.1:8080/tty/stream""#),
        "{xml}"
    );
    assert!(crate::telephony::twiml::check(&connect("http://h", "t")).is_ok());
}
