//! Flow validation: each broken flow is refused with its place and the bad name.

use super::compile;
use crate::actions::SPECS;

/// The entries these test flows must define.
const ENTRIES: &[&str] = &["voice", "tty"];
use crate::words::prompts::{Catalog, Lang, with_tty};

const EN: &str = r#"
hello = "Hello."
menu = "Press 1."
help = "Press 1, really. Press 2 to leave."
"menu.say.1" = "one"
"menu.say.2" = "two"
"keys.say.0" = "person"
bye = "Goodbye."
miss = "Sorry."
with-var = "Call {csu_phone}."
odd-var = "Hi {secret_digits}."
[system]
more-time = "Take your time."
[announcement]
notice = "Notice. {announcement}"
[error]
apology = "Sorry."
goodbye = "Bye."
"#;

fn catalog() -> Catalog {
    let es = EN.replace("Hello.", "Hola.");
    let es = with_tty(&format!("{es}\nonly-es = \"Solo.\"\n"));
    let en = with_tty(&format!("{EN}\nonly-es = \"Only.\"\n"));
    Catalog::from_sources(&[(Lang::En, "en.toml", &en), (Lang::Es, "es.toml", &es)]).unwrap()
}

/// A valid flow; each case below breaks one thing in it.
const GOOD: &str = r#"<Flow>
  <Entry name="voice" step="start"/>
  <Entry name="tty" step="start"/>
  <MenuDefaults>
    <Key digit="0" step="bye"/>
    <NoInput count="1" prompt="miss"/>
    <NoInput count="3" step="bye"/>
    <NoMatch count="2" step="bye"/>
  </MenuDefaults>
  <Step id="start">
    <Say prompt="hello"/>
    <Say prompt="with-var"/>
    <Goto step="menu"/>
  </Step>
  <Menu id="menu" prompt="menu" help="help">
    <Key digit="1" step="start"/>
    <Key digit="2" step="bye"/>
  </Menu>
  <Step id="bye">
    <Say prompt="bye"/>
    <Hangup/>
  </Step>
</Flow>"#;

fn errors_for(src: &str) -> String {
    match compile(&[("f.xml", src)], &catalog(), SPECS, ENTRIES) {
        Ok(_) => String::new(),
        Err(e) => e.join("\n"),
    }
}

#[test]
fn the_good_flow_compiles() {
    let flow = compile(&[("f.xml", GOOD)], &catalog(), SPECS, ENTRIES).unwrap();
    assert_eq!(flow.steps.len(), 3);
    assert!(flow.entry("voice").is_some());
}

#[test]
fn broken_flows_are_refused_with_place_and_name() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "dangling step target",
            r#"<Key digit="2" step="bye"/>"#,
            r#"<Key digit="2" step="byee"/>"#,
            "f.xml:17:20: unknown step 'byee'",
        ),
        (
            "prompt missing in a language",
            r#"<Say prompt="with-var"/>"#,
            r#"<Say prompt="nowhere"/>"#,
            "f.xml:12:10: prompt 'nowhere' is missing in language en, es",
        ),
        (
            "unknown attribute",
            r#"<Say prompt="hello"/>"#,
            r#"<Say prompt="hello" voice="x"/>"#,
            "f.xml:11:25: unknown attribute voice on <Say>",
        ),
        (
            "unknown verb",
            r#"<Say prompt="hello"/>"#,
            r#"<Sing prompt="hello"/>"#,
            "f.xml:11:5: unknown verb <Sing>",
        ),
        (
            "duplicate key",
            r#"<Key digit="2" step="bye"/>"#,
            r#"<Key digit="1" step="bye"/>"#,
            "f.xml:17:10: duplicate key 1 in this menu",
        ),
        (
            "reserved key",
            r#"<Key digit="2" step="bye"/>"#,
            r#"<Key digit="*" step="bye"/>"#,
            "key * is kept for every menu",
        ),
        (
            "an endless loop",
            r#"<Goto step="menu"/>"#,
            r#"<Goto step="start"/>"#,
            "jump to each other without waiting for the caller",
        ),
        (
            "a step that falls silent",
            "<Goto step=\"menu\"/>\n  </Step>",
            "\n  </Step>",
            "f.xml:10:3: a <Step> must end with <Goto>",
        ),
        (
            "literal text",
            r#"<Say prompt="hello"/>"#,
            r#"<Say prompt="hello">Hi there</Say>"#,
            "not text: the words live in prompts/",
        ),
        (
            "a placeholder the server does not fill",
            r#"<Say prompt="with-var"/>"#,
            r#"<Say prompt="odd-var"/>"#,
            "uses {secret_digits}, which the server does not fill",
        ),
        (
            "unknown condition",
            r#"<Say prompt="with-var"/>"#,
            r#"<If condition="sunny" step="bye"/>"#,
            "unknown condition 'sunny'",
        ),
        (
            "unknown action",
            r#"<Say prompt="with-var"/>"#,
            r#"<Action name="launch"/>"#,
            "unknown action 'launch'",
        ),
        (
            "bad action value",
            r#"<Say prompt="with-var"/>"#,
            r#"<Action name="set-language" value="fr"/>"#,
            "action 'set-language' takes value en or es, not 'fr'",
        ),
        (
            "a TwiML attribute the provider does not know",
            r#"<Say prompt="with-var"/>"#,
            r#"<Pause length="1" colour="red"/>"#,
            "unknown attribute colour on <Pause>",
        ),
        (
            "a URL the server writes itself",
            "<Say prompt=\"bye\"/>\n    <Hangup/>",
            r#"<Dial action="https://x" step="start">+15555550100</Dial>"#,
            "action on <Dial> is written by the server",
        ),
        (
            "a bad timeout",
            r#"<Menu id="menu" prompt="menu" help="help">"#,
            r#"<Menu id="menu" prompt="menu" help="help" timeout="soon">"#,
            "timeout must be a whole number from 1 to 60, not 'soon'",
        ),
        ("not well-formed", "</Flow>", "</Flo>", "f.xml:"),
    ];
    for (why, from, to, want) in cases {
        assert!(GOOD.contains(from), "{why}: the case does not apply");
        let broken = GOOD.replacen(from, to, 1);
        let errors = errors_for(&broken);
        assert!(!errors.is_empty(), "{why}: was accepted");
        assert!(
            errors.contains(want),
            "{why}: wanted {want:?} in:\n{errors}"
        );
    }
}

#[test]
fn unreachable_steps_name_themselves() {
    let broken = GOOD
        .replace(r#"<Key digit="2" step="bye"/>"#, "")
        .replace(r#"<Key digit="0" step="bye"/>"#, "");
    let broken = broken.replace(
        r#"<NoInput count="3" step="bye"/>"#,
        r#"<NoInput count="3" step="start"/>"#,
    );
    let broken = broken.replace(
        r#"<NoMatch count="2" step="bye"/>"#,
        r#"<NoMatch count="2" step="start"/>"#,
    );
    let errors = errors_for(&broken);
    assert!(
        errors.contains("f.xml:19:3: step 'bye' is unreachable"),
        "{errors}"
    );
}

#[test]
fn the_shipped_flows_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let catalog = Catalog::load(std::path::Path::new(&format!("{root}/prompts"))).unwrap();
    let flow = super::super::Flow::load(
        std::path::Path::new(&format!("{root}/call-flows")),
        &catalog,
        SPECS,
        &["voice", "tty", "staff-verify"],
    );
    assert!(flow.is_ok(), "{:#}", flow.err().unwrap());
}

/// A TTY caller must never be sent spoken words: a prompt a TTY caller can reach without
/// TTY text is refused, with its place and why; one only voice callers reach is fine.
#[test]
fn a_prompt_a_tty_caller_can_reach_needs_tty_text() {
    // `spoken` first, so it is a top-level prompt, with no [tty] text.
    let en = format!("spoken = \"Say the numbers.\"\n{}", with_tty(EN));
    let es = format!(
        "spoken = \"Diga los números.\"\n{}",
        with_tty(&EN.replace("Hello.", "Hola."))
    );
    let catalog =
        Catalog::from_sources(&[(Lang::En, "en.toml", &en), (Lang::Es, "es.toml", &es)]).unwrap();
    let reached = GOOD.replace(
        r#"<Say prompt="with-var"/>"#,
        r#"<Say prompt="with-var"/><Say prompt="spoken"/>"#,
    );
    let err = compile(&[("f.xml", &reached)], &catalog, SPECS, ENTRIES)
        .unwrap_err()
        .join("\n");
    assert!(
        err.contains("f.xml:12:")
            && err.contains("step 'start' reaches TTY callers")
            && err.contains("prompt 'spoken' has no [tty] text in en, es"),
        "{err}"
    );
    // Behind <If condition="tty">, or at `not tty`, only voice callers get there.
    let voice_only = GOOD.replace(
        r#"<Say prompt="with-var"/>"#,
        r#"<Say prompt="with-var"/><If condition="tty" step="menu"/><Say prompt="spoken"/>"#,
    );
    compile(&[("f.xml", &voice_only)], &catalog, SPECS, ENTRIES).unwrap();
    let voice_only = GOOD
        .replace(
            r#"<Say prompt="with-var"/>"#,
            r#"<Say prompt="with-var"/><If condition="not tty" step="spoken"/>"#,
        )
        .replace(
            "</Flow>",
            r#"<Step id="spoken"><Say prompt="spoken"/><Hangup/></Step></Flow>"#,
        );
    compile(&[("f.xml", &voice_only)], &catalog, SPECS, ENTRIES).unwrap();
    // A menu's prompt counts too.
    let menu = GOOD.replace(
        r#"prompt="menu" help="help""#,
        r#"prompt="spoken" help="help""#,
    );
    let err = compile(&[("f.xml", &menu)], &catalog, SPECS, ENTRIES)
        .unwrap_err()
        .join("\n");
    assert!(
        err.contains("step 'menu' reaches TTY callers") && err.contains("'spoken'"),
        "{err}"
    );
}

/// The prompts a readback puts in its values (a case's stage, say) reach TTY callers
/// inside other prompts: they need TTY text too.
#[test]
fn a_readback_s_value_prompt_needs_tty_text() {
    let en = format!("{}\n[stage]\nlocate = \"We are looking.\"\n", with_tty(EN));
    let es = format!(
        "{}\n[stage]\nlocate = \"Buscamos.\"\n",
        with_tty(&EN.replace("Hello.", "Hola."))
    );
    let catalog =
        Catalog::from_sources(&[(Lang::En, "en.toml", &en), (Lang::Es, "es.toml", &es)]).unwrap();
    let err = compile(&[("f.xml", GOOD)], &catalog, SPECS, ENTRIES)
        .unwrap_err()
        .join("\n");
    assert!(
        err.contains("the server's prompt 'stage.locate' reaches TTY callers")
            && err.contains("no [tty] text in en, es"),
        "{err}"
    );
}

#[test]
fn a_key_offered_in_one_language_must_be_offered_in_the_other() {
    // Spanish drops "Press 2" from the help: English offers a key Spanish does not.
    let en = with_tty(EN);
    let es = with_tty(&EN.replace("Press 1, really. Press 2 to leave.", "Press 1, really."));
    let catalog =
        Catalog::from_sources(&[(Lang::En, "en.toml", &en), (Lang::Es, "es.toml", &es)]).unwrap();
    let errors = match compile(&[("f.xml", GOOD)], &catalog, SPECS, ENTRIES) {
        Ok(_) => String::new(),
        Err(e) => e.join("\n"),
    };
    assert!(
        errors.contains("f.xml:15:3: key 2 is offered in the en words but not in the es words"),
        "{errors}"
    );
    // A menu whose languages each offer their own key says so.
    let bilingual = GOOD.replace(
        r#"<Menu id="menu" prompt="menu" help="help">"#,
        r#"<Menu id="menu" prompt="menu" help="help" bilingual="true">"#,
    );
    assert!(compile(&[("f.xml", &bilingual)], &catalog, SPECS, ENTRIES).is_ok());
}
