//! The session carried in our own URLs, sealed: behind a balancer, the server a request
//! reaches reads the call from the URL the provider sends back, not from the database.
//!
//! Why: on PostgreSQL each answer is numbered, and the server that gave a turn answers
//! the request for it from the copy it holds (`store::postgres::writer`). Behind a
//! round-robin balancer about half those requests reach the other server, which then
//! read the database: one statement for about three such reads, a few wake-ups on each
//! side. On this two-core machine that held two servers round-robin to 0.7 of one
//! server's requests a second (issue 27). Each answer's turn URLs now also carry the
//! session exactly as it was saved at that turn (`?t=TURN.SEALED`), sealed with
//! AES-256-GCM-SIV
//! under a key derived from the blind-index key (which every server shares), bound to
//! the call and the turn. Whatever server the provider reaches opens it instead of
//! reading: the copy the giving server holds in memory, so nothing a server would read
//! from memory is read from the URL that it would not have served itself.
//!
//! An entry at an input step (an SSN, a PAR ID) is never taken from its URL: the copy
//! there is the session from before the entry, without the answer the first delivery
//! kept, so a repeated delivery reaching another server would run the entry's action
//! again (see `call::input`).
//!
//! What it holds is what `call_sessions.state` holds (never an SSN or PAR ID: those are
//! not kept), unreadable without the key, and only the provider, which signs every
//! request it makes, sends it back. A URL whose seal does not open (another key, a
//! copy moved to another call or turn), sealed before the sessions' window (as a row
//! not saved within it is not read) or too long to carry (a long call's path) is read
//! from the database as before. On SQLite (one server) nothing is
//! carried.

use std::sync::atomic::{AtomicI64, Ordering};

use aes_gcm_siv::aead::{Aead, Payload};
use aes_gcm_siv::{Aes256GcmSiv, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::session::Session;
use crate::telephony::twiml::{Element, Response};

/// The longest sealed session put in a URL, in characters; a longer one is not carried
/// (providers accept URLs of a few thousand characters; a caller's session at a menu
/// seals to about 200, a verified caller's to about 330).
const MAX_SEALED: usize = 2000;
/// The nonce's length in bytes (AES-GCM-SIV's).
const NONCE: usize = 12;

/// Seals and opens sessions for this server and every other with the same key.
pub struct Carry {
    /// AES-256-GCM-SIV: were two seals ever to share a nonce, that would reveal only
    /// whether they hold the same session, so a synthetic nonce of 96 bits is safe
    /// however many seals a deployment makes. With the processor's AES and carry-less
    /// multiply it sealed and opened a menu session in 3.4 µs where XChaCha20-Poly1305,
    /// whose vector code is made for longer messages, took 6.1 (`cargo bench --bench
    /// carry` times this one).
    cipher: Aes256GcmSiv,
    /// Makes each nonce from what it seals (a synthetic nonce, no randomness to draw):
    /// the same session sealed at the same turn in the same second seals the same.
    nonces: Hmac<Sha256>,
    /// Unix seconds of the last request this server had for a turn another server gave:
    /// a server that never sees one (alone, or behind a sticky balancer) carries
    /// nothing, and pays nothing for it.
    crossed_at: AtomicI64,
}

/// How long after the last request that crossed servers this server keeps carrying.
const CARRY_FOR_SECS: i64 = 300;

impl Carry {
    /// The sealing key is derived from the blind-index key, which every server of a
    /// deployment has the same (another purpose, so another key).
    pub fn new(blind_index_key: &str) -> Option<Carry> {
        let derive = |purpose: &[u8]| {
            let mut mac =
                <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(blind_index_key.as_bytes()).ok()?;
            mac.update(purpose);
            Some(mac.finalize().into_bytes())
        };
        // v2: the session compressed against [`dictionary`] and sealed with AES-GCM-SIV
        // (v1 sealed it as it was, with XChaCha20-Poly1305). The dictionary's words are
        // part of the key's purpose: LZ4 has no checksum, so a seal made against other
        // words would open to other JSON; with another key it does not open at all.
        let key = derive(
            &[
                b"caseline: the session carried in a URL, v2",
                WORDS.as_bytes(),
            ]
            .concat(),
        )?;
        let nonce_key = derive(b"caseline: the nonces of carried sessions, v2")?;
        Some(Carry {
            cipher: Aes256GcmSiv::new_from_slice(&key).ok()?,
            nonces: <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&nonce_key).ok()?,
            crossed_at: AtomicI64::new(i64::MIN / 2),
        })
    }

    /// Notes a request for `turn` reaching this server (named `server` in the turns it
    /// gives): the low bits of a turn name the server that gave it.
    pub fn arrived(&self, turn: u64, server: u32, now: i64) {
        if turn as u32 != server && self.crossed_at.load(Ordering::Relaxed) < now {
            self.crossed_at.store(now, Ordering::Relaxed);
        }
    }

    /// Whether this server's answers carry the session: requests have crossed to it
    /// lately, so its own answers' next requests may cross too.
    pub fn wanted(&self, now: i64) -> bool {
        now - self.crossed_at.load(Ordering::Relaxed) < CARRY_FOR_SECS
    }

    /// The session sealed for its own call and turn, with when (`now`, unix seconds),
    /// or `None` when too long to carry.
    pub fn seal(&self, session: &Session, now: i64) -> Option<String> {
        let json = serde_json::to_vec(session).ok()?;
        if json.len() > MAX_OPENED {
            return None;
        }
        let (call_sid, turn) = (session.call_sid.as_str(), session.turn);
        let mut plain = now.to_be_bytes().to_vec();
        plain.extend(lz4_flex::block::compress_prepend_size_with_dict(
            &json,
            &dictionary(call_sid, turn),
        ));
        let aad = bound_to(call_sid, turn);
        let mut mac = self.nonces.clone();
        mac.update(&aad);
        mac.update(&plain);
        let digest = mac.finalize().into_bytes();
        let nonce: [u8; NONCE] = digest.get(..NONCE)?.try_into().ok()?;
        let text = self.encrypt(&plain, &aad, nonce)?;
        (text.len() <= MAX_SEALED).then_some(text)
    }

    /// `plain` encrypted under `nonce` for `aad`, as a URL carries it: the nonce, then
    /// the ciphertext and its tag, in URL-safe base64.
    fn encrypt(&self, plain: &[u8], aad: &[u8], nonce: [u8; NONCE]) -> Option<String> {
        let nonce = Nonce::from(nonce);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Some(BASE64.encode(bytes))
    }

    /// The session a URL carried for `call_sid` at `turn`, if the seal opens for them
    /// and was made at or after `since` (as the database's copy must have been saved).
    pub fn open(&self, sealed: &str, call_sid: &str, turn: u64, since: i64) -> Option<Session> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let bytes = BASE64.decode(sealed).ok()?;
        if bytes.len() <= NONCE {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        let aad = bound_to(call_sid, turn);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()?;
        let (at, compressed) = plain.split_first_chunk::<8>()?;
        if i64::from_be_bytes(*at) < since {
            return None;
        }
        // Only what a server of ours sealed gets here; its size is checked all the same.
        let (size, _) = compressed.split_first_chunk::<4>()?;
        if u32::from_le_bytes(*size) as usize > MAX_OPENED {
            return None;
        }
        let json = lz4_flex::block::decompress_size_prepended_with_dict(
            compressed,
            &dictionary(call_sid, turn),
        )
        .ok()?;
        let session: Session = serde_json::from_slice(&json).ok()?;
        (session.call_sid.as_str() == call_sid && session.turn == turn).then_some(session)
    }
}

/// The longest session JSON a seal may open to (far more than [`MAX_SEALED`] holds).
const MAX_OPENED: usize = 64 * 1024;

/// The session's keys and the words most sessions hold, for [`dictionary`].
const WORDS: &str = "\"verified\":true,\"misses\":\"topic\":\"payments\",\"case-status\",\
    \"pending_ssn\":\"verify_failures\":\"participant\":\"cases\":[{\"case_id\":\
    \"case_number\":\"role\":\"custodial\",\"noncustodial\",\"county\":\"}],\"case\":{\
    \"heard\":[\"values\":{\"dialled\":\"+1\"callback_number\":\"callback_requested\":\
    \"transfer_result\":\"staff_transfer\":{\"entry\":\"return_to\":\"by\":\"at\":\
    \"verify_outcome\":\"replay\":{\"answer\":\"paying\":{\"amount\":\"failures\":\
    \"pay_id\":\"recording_sid\":\"recording_step\":\"stream_token\":\"tty_handoff\":\
    \"tty_resume\":\"stream_failures\":\"agency\":\"zip_asked\":\"county_choices\":\
    \"belongs_to\":\"callback_request\":\"transferred\":true,\"callback_left\":true,\
    \"load_test\":true,\"channel\":\"voice\",\"channel\":\"tty\",\"lang\":\"es\",\
    \"lang\":\"en\",\"step\":\"main-menu\",\"awaiting\":\"main-menu\",\"started_at\":17\
    \"caller\":\"+1\"path\":\"welcome,language,set-english,set-spanish,main-menu,";

/// What both sides compress against (LZ4 with a dictionary): the session's keys and the
/// words most sessions hold, then the call and the turn, which the URL and the request
/// name, so the JSON repeating them costs a few bytes. A session at the main menu's
/// 300 bytes of JSON compress to about 80 (a seal in a URL of about 200 characters where
/// it was 460): every server and the provider's own signature pass over each URL it
/// carries, twice per answer. A change to [`WORDS`] is a change of the seal's format,
/// and of its key (see [`Carry::new`]).
fn dictionary(call_sid: &str, turn: u64) -> Vec<u8> {
    let mut dictionary = Vec::with_capacity(WORDS.len() + call_sid.len() + 40);
    dictionary.extend_from_slice(WORDS.as_bytes());
    dictionary.extend_from_slice(b"\"turn\":");
    dictionary.extend_from_slice(turn.to_string().as_bytes());
    dictionary.extend_from_slice(b"}{\"call_sid\":\"");
    dictionary.extend_from_slice(call_sid.as_bytes());
    dictionary.extend_from_slice(b"\",");
    dictionary
}

/// What a seal is bound to: the call and the turn its URL names.
fn bound_to(call_sid: &str, turn: u64) -> Vec<u8> {
    format!("{call_sid}/{turn}").into_bytes()
}

/// Adds `.SEALED` to the turn of each of the answer's URLs that names `turn` (`?t=TURN`
/// at its end: the step and input URLs the flow engine writes). In the turn's own value,
/// not a parameter of its own: a URL with no `&` is written into the TwiML as it is
/// (an `&` would make the whole URL, seal and all, go through the XML escape), and a
/// server finds both in one pass over the query ([`turn_of`]).
pub fn attach(response: &mut Response, turn: u64, sealed: &str) {
    let mark = format!("?t={turn}");
    for verb in &mut response.verbs {
        attach_to(verb, &mark, sealed);
    }
}

/// The turn and the session sealed with it, from the value of a URL's `t`: `TURN` or
/// `TURN.SEALED`; nothing when the turn is not well-formed.
pub fn turn_of(value: &str) -> (Option<u64>, Option<String>) {
    let (turn, sealed) = match value.split_once('.') {
        Some((turn, sealed)) => (turn, Some(sealed).filter(|s| !s.is_empty())),
        None => (value, None),
    };
    match turn.parse::<u64>() {
        Ok(turn) => (Some(turn), sealed.map(str::to_string)),
        Err(_) => (None, None),
    }
}

/// Takes the carried sessions out of an answer's URLs (one kept to be played later,
/// when the sessions they carry are no longer the call's).
pub fn detach(response: &mut Response) {
    fn strip(el: &mut Element) {
        // `?t=` and digits, then the seal: cut at the dot.
        let cut = |url: &mut String| {
            if let Some(t) = url.find("?t=") {
                let digits = url[t + 3..].bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 && url.as_bytes().get(t + 3 + digits) == Some(&b'.') {
                    url.truncate(t + 3 + digits);
                }
            }
        };
        for (_, value) in el.attrs.iter_mut() {
            cut(value);
        }
        if let Some(text) = el.text.as_mut() {
            cut(text);
        }
        el.children.iter_mut().for_each(strip);
    }
    response.verbs.iter_mut().for_each(strip);
}

fn attach_to(el: &mut Element, mark: &str, sealed: &str) {
    let carries = |url: &str| url.ends_with(mark);
    for (_, value) in el.attrs.iter_mut() {
        if carries(value) {
            value.push('.');
            value.push_str(sealed);
        }
    }
    if let Some(text) = el.text.as_mut()
        && carries(text)
    {
        text.push('.');
        text.push_str(sealed);
    }
    for child in &mut el.children {
        attach_to(child, mark, sealed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CallSid;
    use crate::words::prompts::Channel;

    fn session(turn: u64) -> Session {
        let sid = CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap();
        let mut s = Session::new(sid, Channel::Voice, 100);
        s.turn = turn;
        s.step = Some("main-menu".into());
        s.caller = Some("+15595550123".into());
        s
    }

    #[test]
    fn a_sealed_session_opens_only_for_its_call_and_turn_and_key() {
        let carry = Carry::new("a-blind-index-key-of-at-least-32-chars").unwrap();
        assert!(!carry.wanted(1000), "nothing crossed yet");
        carry.arrived(5 << 32 | 7, 7, 1000);
        assert!(!carry.wanted(1000), "its own turn");
        carry.arrived(5 << 32 | 9, 7, 1000);
        assert!(carry.wanted(1000) && carry.wanted(1299) && !carry.wanted(1300));
        let s = session(5 << 32 | 7);
        let refused =
            |sealed: &str, sid: &str, turn: u64| carry.open(sealed, sid, turn, 100).is_none();
        let sealed = carry.seal(&s, 100).unwrap();
        let json = serde_json::to_vec(&s).unwrap();
        let bytes = BASE64.decode(&sealed).unwrap();
        assert!(
            bytes.len() < NONCE + 8 + 16 + json.len() / 2,
            "nonce, time, the session compressed, tag: {} bytes for {} of JSON",
            bytes.len(),
            json.len()
        );
        assert!(
            !bytes.windows(10).any(|w| w == b"5595550123"),
            "sealed, not readable"
        );
        assert_eq!(
            carry.seal(&s, 100),
            Some(sealed.clone()),
            "the same, sealed the same"
        );
        let mut moved = s.clone();
        moved.step = Some("info-menu".into());
        let other_step = carry.seal(&moved, 100).unwrap();
        assert_ne!(
            other_step[..16],
            sealed[..16],
            "another session, another nonce"
        );
        let opened = carry
            .open(&sealed, s.call_sid.as_str(), s.turn, 100)
            .unwrap();
        assert_eq!(
            serde_json::to_value(&opened).unwrap(),
            serde_json::to_value(&s).unwrap()
        );
        assert!(
            carry
                .open(&sealed, s.call_sid.as_str(), s.turn, 101)
                .is_none(),
            "sealed before the window"
        );
        assert!(refused(
            &sealed[..sealed.len() - 4],
            s.call_sid.as_str(),
            s.turn
        ));
        let mut bent_nonce = bytes.clone();
        bent_nonce[0] ^= 1;
        assert!(refused(
            &BASE64.encode(&bent_nonce),
            s.call_sid.as_str(),
            s.turn
        ));
        assert!(refused(
            &"A".repeat(MAX_SEALED + 1),
            s.call_sid.as_str(),
            s.turn
        ));
        assert!(refused(&sealed, s.call_sid.as_str(), s.turn + 1));
        assert!(refused(
            &sealed,
            "CA0123456789abcdef0123456789abcdee",
            s.turn
        ));
        let other = Carry::new("another-blind-index-key-of-32-chars!").unwrap();
        assert!(
            other
                .open(&sealed, s.call_sid.as_str(), s.turn, 100)
                .is_none()
        );
        let mut bent = sealed.clone().into_bytes();
        bent[40] = if bent[40] == b'A' { b'B' } else { b'A' };
        let bent = String::from_utf8(bent).unwrap();
        assert!(refused(&bent, s.call_sid.as_str(), s.turn));
        assert!(refused("", s.call_sid.as_str(), s.turn));
    }

    /// A seal whose size prefix claims more than a session can hold is refused before
    /// anything is decompressed (only our own servers seal, but the check holds anyway).
    #[test]
    fn a_seal_claiming_more_than_a_session_holds_is_refused_unopened() {
        let carry = Carry::new("a-blind-index-key-of-at-least-32-chars").unwrap();
        let s = session(3 << 32 | 1);
        let seal_raw = |size: u32, body: &[u8]| {
            let mut plain = 100i64.to_be_bytes().to_vec();
            plain.extend(size.to_le_bytes());
            plain.extend(body);
            let aad = bound_to(s.call_sid.as_str(), s.turn);
            carry.encrypt(&plain, &aad, [7u8; NONCE]).unwrap()
        };
        let json = serde_json::to_vec(&s).unwrap();
        // An honest prefix over LZ4 of the JSON opens; the same with a huge prefix does not.
        let compressed =
            lz4_flex::block::compress_with_dict(&json, &dictionary(s.call_sid.as_str(), s.turn));
        let honest = seal_raw(json.len() as u32, &compressed);
        assert!(
            carry
                .open(&honest, s.call_sid.as_str(), s.turn, 0)
                .is_some()
        );
        let huge = seal_raw(u32::MAX, &compressed);
        assert!(carry.open(&huge, s.call_sid.as_str(), s.turn, 0).is_none());
    }

    /// A verified caller's session, cases, heard and a long path included, opens as it
    /// was sealed, and the compressed copy is a fraction of its JSON.
    #[test]
    fn a_full_session_opens_as_sealed_and_travels_compressed() {
        let carry = Carry::new("a-blind-index-key-of-at-least-32-chars").unwrap();
        let mut s = session(12 << 32 | 3);
        s.lang = Some(crate::words::prompts::Lang::Es);
        s.verified = true;
        s.participant = Some(4_100_233);
        s.cases = (0..3)
            .map(|i| crate::session::CaseRef {
                case_id: 900 + i,
                case_number: format!("BC-2024-00{i}417"),
                role: crate::session::Role::Custodial,
                county: Some("Kern".into()),
            })
            .collect();
        s.case = s.cases.first().cloned();
        s.heard = vec!["payments".into(), "case-status".into()];
        s.caller = Some("+15595550123".into());
        s.path = "welcome,language,set-spanish,main-menu,ask-ssn,ask-par-id,verified,\
                  payments,main-menu,case-status,main-menu"
            .into();
        let sealed = carry.seal(&s, 500).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            sealed.len() < json.len() * 3 / 4,
            "{} for {}",
            sealed.len(),
            json.len()
        );
        let opened = carry
            .open(&sealed, s.call_sid.as_str(), s.turn, 400)
            .unwrap();
        assert_eq!(serde_json::to_string(&opened).unwrap(), json);
    }

    #[test]
    fn only_the_urls_naming_the_turn_carry_it() {
        let mut r = Response::new();
        r.push(
            Element::new("Gather")
                .attr("action", "https://x.test/voice/input/main-menu?t=9")
                .child(Element::new("Say").text("Hello")),
        );
        r.push(Element::new("Redirect").text("https://x.test/voice/step/main-menu?t=9"));
        r.push(Element::new("Redirect").text("https://x.test/voice/step/main-menu?t=99"));
        r.push(Element::new("Play").text("https://x.test/hold.mp3?t=9&v=1.2"));
        let plain = r.to_xml();
        attach(&mut r, 9, "SEALED");
        let xml = r.to_xml();
        assert!(xml.contains("input/main-menu?t=9.SEALED\""), "{xml}");
        assert!(xml.contains("step/main-menu?t=9.SEALED<"), "{xml}");
        assert!(xml.contains("main-menu?t=99<"), "{xml}");
        assert!(!xml.contains("Hello.SEALED"), "{xml}");
        assert!(xml.contains("v=1.2<"), "{xml}");
        detach(&mut r);
        assert_eq!(r.to_xml(), plain, "detached, as it was");
    }

    #[test]
    fn a_turn_names_the_session_sealed_with_it() {
        let sealed = "AbC-_09";
        assert_eq!(turn_of("42"), (Some(42), None));
        assert_eq!(turn_of("42.AbC-_09"), (Some(42), Some(sealed.into())));
        assert_eq!(turn_of("4x.AbC"), (None, None), "a bent turn");
        assert_eq!(turn_of("-1"), (None, None));
        assert_eq!(turn_of(""), (None, None));
        assert_eq!(turn_of("42."), (Some(42), None), "an empty seal");
    }
}
