//! TwiML out: a small element tree, the provider's schema for the verbs we use, and a
//! quick-xml writer that escapes every dynamic text.
//!
//! The schema table serves twice: flow validation refuses a TwiML attribute the provider
//! does not know, and tests check every answer against it.

use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// One TwiML element: a verb or a noun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: &'static str,
    pub attrs: Vec<(&'static str, String)>,
    pub text: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn new(name: &'static str) -> Self {
        Element {
            name,
            attrs: Vec::new(),
            text: None,
            children: Vec::new(),
        }
    }

    pub fn attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((name, value.into()));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A whole `<Response>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub verbs: Vec<Element>,
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, verb: Element) {
        self.verbs.push(verb);
    }

    /// True when the response hands control elsewhere (a caller who hears it is not
    /// left in silence until the provider hangs up).
    pub fn ends_turn(&self) -> bool {
        self.verbs.last().is_some_and(|v| {
            matches!(
                v.name,
                "Gather"
                    | "Redirect"
                    | "Hangup"
                    | "Dial"
                    | "Enqueue"
                    | "Record"
                    | "Pay"
                    | "Connect"
                    | "Leave"
            )
        })
    }

    /// Serialises to an XML document.
    ///
    /// Written straight into one string with quick-xml's escaping, rather than through
    /// its event writer: the tree is well-formed by construction (names are our own
    /// constants, checked against [`SCHEMA`]), so only text and attribute values need
    /// care, and the event writer's per-element buffers cost a menu step about 2 µs.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
        for verb in &self.verbs {
            write_element(&mut out, verb);
        }
        out.push_str("</Response>");
        out
    }
}

fn write_element(out: &mut String, el: &Element) {
    out.push('<');
    out.push_str(el.name);
    for (name, value) in &el.attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        if plain(value, true) {
            out.push_str(value);
        } else {
            out.push_str(&escape(xml_safe(value)));
        }
        out.push('"');
    }
    if el.text.is_none() && el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(text) = &el.text {
        if plain(text, false) {
            out.push_str(text);
        } else {
            out.push_str(&partial_escape(xml_safe(text)));
        }
    }
    for child in &el.children {
        write_element(out, child);
    }
    out.push_str("</");
    out.push_str(el.name);
    out.push('>');
}

/// Text that needs no escape and nothing dropped (quotes aside, in an attribute):
/// almost every prompt (Spanish too) and URL, written as is after one pass instead of
/// a pass for [`xml_safe`] and another for the escape (a twentieth of a menu step's CPU).
fn plain(s: &str, attribute: bool) -> bool {
    // One table lookup a byte, no branch: a menu's answer is a few kilobytes of URLs and
    // prompts, and behind a balancer its URLs carry a sealed session too.
    let seen = s
        .bytes()
        .fold(0u8, |seen, b| seen | BYTE_CLASS[usize::from(b)]);
    if seen & ESCAPED != 0 || (attribute && seen & QUOTE != 0) {
        return false;
    }
    !(seen & NONCHARACTER_START != 0 && (s.contains('\u{FFFE}') || s.contains('\u{FFFF}')))
}

/// A byte [`plain`] text cannot hold: `<`, `>`, `&`, or a control character other
/// than tab, newline and carriage return.
const ESCAPED: u8 = 1;
/// A quote, escaped in an attribute only.
const QUOTE: u8 = 2;
/// The first byte of U+FFFE and U+FFFF (and of other characters), which XML cannot carry.
const NONCHARACTER_START: u8 = 4;
/// What each byte is to [`plain`].
const BYTE_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        class[b] = ESCAPED;
        b += 1;
    }
    class[b'\t' as usize] = 0;
    class[b'\n' as usize] = 0;
    class[b'\r' as usize] = 0;
    class[b'<' as usize] = ESCAPED;
    class[b'>' as usize] = ESCAPED;
    class[b'&' as usize] = ESCAPED;
    class[b'"' as usize] = QUOTE;
    class[b'\'' as usize] = QUOTE;
    class[0xEF] = NONCHARACTER_START;
    class
};

/// Drops characters that XML 1.0 cannot carry even escaped (control characters,
/// unpaired surrogates cannot occur in a Rust `str`), so hostile input never breaks the
/// document.
/// Borrows when there is nothing to drop, which is almost always.
pub fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    // Printable ASCII (most prompts and every URL) needs no decoding to check.
    let ascii_ok = |b: u8| (0x20..0x80).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
    if s.bytes().all(ascii_ok) || s.chars().all(allowed) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}

/// What the provider accepts for one element: its attributes, the children it may hold
/// and whether it carries text.
pub struct Spec {
    pub name: &'static str,
    pub attrs: &'static [&'static str],
    pub children: &'static [&'static str],
    pub text: bool,
}

const CALLBACK: [&str; 3] = [
    "statusCallback",
    "statusCallbackEvent",
    "statusCallbackMethod",
];

/// The provider's voice TwiML for the verbs and nouns Caseline writes.
pub const SCHEMA: &[Spec] = &[
    Spec {
        name: "Response",
        attrs: &[],
        children: &[
            "Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Enqueue", "Hangup", "Record",
            "Leave", "Reject", "Pay", "Connect",
        ],
        text: false,
    },
    Spec {
        name: "Say",
        attrs: &["voice", "language", "loop"],
        children: &[],
        text: true,
    },
    Spec {
        name: "Play",
        attrs: &["loop", "digits"],
        children: &[],
        text: true,
    },
    Spec {
        name: "Pause",
        attrs: &["length"],
        children: &[],
        text: false,
    },
    Spec {
        name: "Gather",
        attrs: &[
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "numDigits",
            "input",
            "speechTimeout",
            "language",
            "hints",
            "profanityFilter",
            "actionOnEmptyResult",
            "speechModel",
            "enhanced",
            "partialResultCallback",
            "partialResultCallbackMethod",
        ],
        children: &["Say", "Play", "Pause"],
        text: false,
    },
    Spec {
        name: "Redirect",
        attrs: &["method"],
        children: &[],
        text: true,
    },
    Spec {
        name: "Dial",
        attrs: &[
            "action",
            "method",
            "timeout",
            "hangupOnStar",
            "timeLimit",
            "callerId",
            "record",
            "trim",
            "answerOnBridge",
            "ringTone",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "sequential",
        ],
        children: &["Number", "Sip", "Client", "Queue"],
        text: true,
    },
    Spec {
        name: "Number",
        attrs: &[
            "sendDigits",
            "url",
            "method",
            CALLBACK[0],
            CALLBACK[1],
            CALLBACK[2],
        ],
        children: &[],
        text: true,
    },
    Spec {
        name: "Sip",
        attrs: &[
            "username",
            "password",
            "url",
            "method",
            CALLBACK[0],
            CALLBACK[1],
            CALLBACK[2],
        ],
        children: &[],
        text: true,
    },
    Spec {
        name: "Client",
        attrs: &["url", "method", CALLBACK[0], CALLBACK[1], CALLBACK[2]],
        children: &["Identity", "Parameter"],
        text: true,
    },
    Spec {
        name: "Identity",
        attrs: &[],
        children: &[],
        text: true,
    },
    Spec {
        name: "Parameter",
        attrs: &["name", "value"],
        children: &[],
        text: false,
    },
    Spec {
        name: "Queue",
        attrs: &["url", "method", "reservationSid", "postWorkActivitySid"],
        children: &[],
        text: true,
    },
    Spec {
        name: "Enqueue",
        attrs: &[
            "action",
            "method",
            "waitUrl",
            "waitUrlMethod",
            "workflowSid",
        ],
        children: &["Task"],
        text: true,
    },
    Spec {
        name: "Task",
        attrs: &["priority", "timeout"],
        children: &[],
        text: true,
    },
    Spec {
        name: "Hangup",
        attrs: &[],
        children: &[],
        text: false,
    },
    Spec {
        name: "Leave",
        attrs: &[],
        children: &[],
        text: false,
    },
    Spec {
        name: "Reject",
        attrs: &["reason"],
        children: &[],
        text: false,
    },
    Spec {
        name: "Record",
        attrs: &[
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "maxLength",
            "playBeep",
            "trim",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "transcribe",
            "transcribeCallback",
        ],
        children: &[],
        text: false,
    },
];

/// `<Pay>` and its `<Prompt>`s (card payments; the card never reaches us); `<Connect>`
/// with its `<Stream>` (the TTY modem's media stream).
const PAY: [Spec; 5] = [
    Spec {
        name: "Connect",
        attrs: &["action", "method"],
        children: &["Stream"],
        text: false,
    },
    Spec {
        name: "Stream",
        attrs: &[
            "url",
            "name",
            "track",
            "statusCallback",
            "statusCallbackMethod",
        ],
        children: &["Parameter"],
        text: false,
    },
    Spec {
        name: "Parameter",
        attrs: &["name", "value"],
        children: &[],
        text: false,
    },
    Spec {
        name: "Pay",
        attrs: &[
            "input",
            "action",
            "statusCallback",
            "statusCallbackMethod",
            "paymentMethod",
            "timeout",
            "maxAttempts",
            "securityCode",
            "postalCode",
            "minPostalCodeLength",
            "paymentConnector",
            "tokenType",
            "chargeAmount",
            "currency",
            "language",
            "description",
            "validCardTypes",
        ],
        children: &["Prompt"],
        text: false,
    },
    Spec {
        name: "Prompt",
        attrs: &[
            "for",
            "errorType",
            "cardType",
            "attempt",
            "requireMatchingInputs",
        ],
        children: &["Say", "Play", "Pause"],
        text: false,
    },
];

pub fn spec(name: &str) -> Option<&'static Spec> {
    specs().find(|s| s.name == name)
}

/// Every element Caseline may write, with what it may carry (the tests hold this
/// against the provider's published schema, `tests/api/data/twilio_voice_twiml.txt`).
pub fn specs() -> impl Iterator<Item = &'static Spec> {
    SCHEMA.iter().chain(PAY.iter())
}

/// Checks an element tree against the schema; the first problem found, if any.
pub fn check(response: &Response) -> Result<(), String> {
    let root = Element {
        name: "Response",
        attrs: vec![],
        text: None,
        children: response.verbs.clone(),
    };
    check_element(&root)
}

fn check_element(el: &Element) -> Result<(), String> {
    let spec = spec(el.name).ok_or_else(|| format!("unknown element <{}>", el.name))?;
    for (name, _) in &el.attrs {
        if !spec.attrs.contains(name) {
            return Err(format!("<{}> has no attribute {name}", el.name));
        }
    }
    if el.text.is_some() && !spec.text {
        return Err(format!("<{}> takes no text", el.name));
    }
    for child in &el.children {
        if !spec.children.contains(&child.name) {
            return Err(format!("<{}> cannot hold <{}>", el.name, child.name));
        }
        check_element(child)?;
    }
    Ok(())
}

/// Reads a TwiML document back into elements, refusing any element or attribute the
/// schema does not know (the demo's phone and the tests read answers with it).
pub fn parse(xml: &str) -> Result<Response, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Vec<Element>> = None;
    let intern = |name: &str| -> Result<&'static str, String> {
        spec(name)
            .map(|s| s.name)
            .ok_or_else(|| format!("unknown element <{name}>"))
    };
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Element, String> {
        let mut el = Element::new(intern(e.name().as_ref())?);
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = a.key.as_ref().to_string();
            let spec = spec(el.name).ok_or("no spec")?;
            let name = spec
                .attrs
                .iter()
                .find(|n| **n == key)
                .ok_or_else(|| format!("<{}> has no attribute {key}", el.name))?;
            let value = quick_xml::escape::unescape(&a.value).map_err(|e| e.to_string())?;
            el.attrs.push((name, value.into_owned()));
        }
        Ok(el)
    };
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let el = open(&e)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None if el.name == "Response" => root = Some(Vec::new()),
                    None => return Err("root is not <Response>".into()),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced")?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None if el.name == "Response" => root = Some(el.children),
                    None => return Err("root is not <Response>".into()),
                }
            }
            Event::Text(t) => {
                let text = quick_xml::escape::unescape(&t.xml10_content())
                    .map_err(|e| e.to_string())?
                    .into_owned();
                if let Some(el) = stack.last_mut() {
                    let prev = el.text.take().unwrap_or_default();
                    el.text = Some(prev + &text);
                }
            }
            Event::GeneralRef(r) => {
                let text = quick_xml::escape::unescape(&format!("&{};", r.into_inner()))
                    .map_err(|e| e.to_string())?
                    .into_owned();
                if let Some(el) = stack.last_mut() {
                    let prev = el.text.take().unwrap_or_default();
                    el.text = Some(prev + &text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let verbs = root.ok_or("no <Response>")?;
    Ok(Response { verbs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_well_formed_xml() {
        let mut r = Response::new();
        r.push(
            Element::new("Gather")
                .attr("action", "https://x.test/voice/input/a?x=1&y=2")
                .attr("numDigits", "1")
                .attr("hints", "say \"yes\" or 'no' <now>")
                .child(Element::new("Say").text("Tom & Jerry <3 \"quotes\" \u{0}bell"))
                .child(Element::new("Say").text("Información\u{1}, señor \u{FFFE}")),
        );
        r.push(Element::new("Hangup"));
        let xml = r.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"));
        assert!(xml.contains("action=\"https://x.test/voice/input/a?x=1&amp;y=2\""));
        assert!(xml.contains("Tom &amp; Jerry &lt;3"));
        assert!(!xml.contains('\u{0}'));
        assert!(xml.ends_with("<Hangup/></Response>"));
        assert!(check(&r).is_ok());
        // Reads back what it wrote, less the character XML cannot carry.
        let back = parse(&xml).unwrap();
        assert_eq!(
            back.verbs[0].children[0].text.as_deref(),
            Some("Tom & Jerry <3 \"quotes\" bell")
        );
        assert_eq!(
            back.verbs[0].get("action"),
            Some("https://x.test/voice/input/a?x=1&y=2")
        );
        assert!(xml.contains("hints=\"say &quot;yes&quot; or &apos;no&apos; &lt;now&gt;\""));
        assert_eq!(
            back.verbs[0].get("hints"),
            Some("say \"yes\" or 'no' <now>")
        );
        assert_eq!(
            back.verbs[0].children[1].text.as_deref(),
            Some("Información, señor ")
        );
    }

    /// The one-pass path writes what the escape would have written.
    #[test]
    fn plain_text_is_written_as_the_escape_would_write_it() {
        for text in [
            "You'll hear your balance, then the menu again. Press 1 \"now\".",
            "https://x.test/voice/input/main-menu?t=4294967296",
            "https://x.test/voice/input/main-menu?t=4294967296.AbC-_09",
            "a & b",
            "tab\there",
            "Para español, oprima 2. Información del caso: ¿qué sigue?",
            "bad \u{FFFE} and \u{FFFF} and \u{1} and \u{7f} and \u{EFFF}",
            "'single' \"double\" <angle>",
            "",
        ] {
            let mut r = Response::new();
            r.push(
                Element::new("Gather")
                    .attr("action", text)
                    .child(Element::new("Say").text(text)),
            );
            let expected = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather action=\"{}\"><Say>{}</Say></Gather></Response>",
                escape(xml_safe(text)),
                partial_escape(xml_safe(text))
            );
            assert_eq!(r.to_xml(), expected);
        }
    }

    #[test]
    fn schema_refuses_wrong_nesting_and_attributes() {
        let mut r = Response::new();
        r.push(Element::new("Gather").child(Element::new("Dial")));
        assert!(check(&r).unwrap_err().contains("cannot hold <Dial>"));
        let mut r = Response::new();
        r.push(Element::new("Say").attr("colour", "red"));
        assert!(check(&r).unwrap_err().contains("no attribute colour"));
    }

    #[test]
    fn ends_turn_knows_the_final_verbs() {
        let mut r = Response::new();
        r.push(Element::new("Say").text("hi"));
        assert!(!r.ends_turn());
        r.push(Element::new("Hangup"));
        assert!(r.ends_turn());
    }
}
