//! A call in progress: where it is in the flow, its language, its misses. Kept in the
//! database per CallSid so a restarted server, or a second one, continues the call.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::words::prompts::{Channel, Lang};

pub(crate) use crate::words::word_enum;

word_enum!(
    /// A participant's part in a case.
    Role { Custodial = "custodial", Noncustodial = "noncustodial" }
);

/// One of the caller's cases, for choosing between them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseRef {
    pub case_id: i64,
    pub case_number: String,
    pub role: Role,
    /// The county the case is handled in (it decides the local agency whose records the
    /// call's requests, payments and callbacks become). Missing in sessions stored
    /// before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
}

impl CaseRef {
    /// The last four digits of its number.
    pub fn ending(&self) -> &str {
        ending(&self.case_number)
    }
}

/// A case number's last four digits, which callers use to tell their cases apart.
pub fn ending(case_number: &str) -> &str {
    &case_number[case_number.len().saturating_sub(4)..]
}

/// The provider's identifier for a call. Twilio's are `CA` + 32 hex digits; other
/// TwiML providers use UUIDs, so any short run of letters, digits, `-` and `_` is taken.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallSid(String);

impl CallSid {
    pub fn parse(s: &str) -> Option<CallSid> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| CallSid(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CallSid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything the IVR remembers about one call. Never holds an SSN, a PAR ID, or what
/// the caller keyed: only where they are and what they chose.
///
/// Stored as JSON without its empty fields: every webhook writes it, so a short row
/// keeps commits small (a session at a menu is about 150 bytes instead of 430).
/// Missing fields read back as empty, so rows written before this still load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub call_sid: CallSid,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// The step the caller is in (for staff views and logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The menu or input step whose answer we wait for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// Misses (silence or wrong keys) at the awaited step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub misses: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub verified: bool,
    /// Unix seconds when the call reached us.
    pub started_at: i64,
    /// What the caller asked for before verifying (`payments`, `case-status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
    /// The SSN's blind index between the SSN and PAR ID questions (never the digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_ssn: Option<String>,
    /// Failed verifications in this call.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub verify_failures: u32,
    /// The verified participant (a row id, not an identifier the caller knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<i64>,
    /// The caller's cases, and the one being read back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseRef>,
    /// Topics the caller has heard (for a representative's context).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<String>,
    /// Values for the readback prompts, typed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, crate::words::speech::Value>,
    /// The number the call came from (the provider's `From`), to offer as the callback
    /// number. Not shown to staff except inside a callback request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The number the caller dialled (the provider's `To`), when it is not one of the
    /// agency's configured numbers: one of its own all the same, never called back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialled: Option<String>,
    /// The number (E.164) the caller chose for a callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_number: Option<String>,
    /// The caller pressed 1 in the queue to leave it for a callback.
    #[serde(default, skip_serializing_if = "is_false")]
    pub callback_requested: bool,
    /// How the last transfer ended (`QueueResult` or `DialCallStatus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "TransferResult::read_or_none")]
    pub transfer_result: Option<TransferResult>,
    /// A staff member sent this caller into the IVR and waits to get them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_transfer: Option<StaffTransfer>,
    /// The last verification outcome (`ok`, `failed`, `too-many`, `locked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_outcome: Option<VerifyOutcome>,
    /// The answer to the last entry that moved the call on from an input step, so a
    /// second delivery of that same request (a provider retry, or a crash between the
    /// commit and the answer) hears it again instead of running the action twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// A card payment under way in this call (amount chosen, tries, the last result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paying: Option<Paying>,
    /// The provider's SID of the address the caller just recorded (never its URL),
    /// until a request keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_sid: Option<String>,
    /// The step this call's last `<Record>` reports to (its action): a recording is
    /// taken (or, empty, deleted) only from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_step: Option<String>,
    /// The random token the TTY media stream must present for this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_token: Option<String>,
    /// The TwiML the TTY stream left for the provider to run once it closes (a queue, a
    /// dial, a hang-up), answered at the `<Connect>` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_handoff: Option<String>,
    /// The step a TTY call goes on with when its stream connects again (after a queue or
    /// a dial, the provider asks a step's URL; the stream answers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_resume: Option<String>,
    /// TTY streams of this call that closed without a hand-off (refused, never
    /// started, or dropped): after [`STREAM_FAILURES`] the call leaves the stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stream_failures: u32,
    /// The local agency (its id in the agencies file) of the case the caller chose, set
    /// when they ask for a person: its line, hours and name then answer for the unit's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// A caller who could not be routed by a case was asked their ZIP code in this call
    /// (once: whatever the answer, they are not asked again).
    #[serde(default, skip_serializing_if = "is_false")]
    pub zip_asked: bool,
    /// The counties a ZIP code across a county line lies in, for the caller to choose
    /// from (by key, in this order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub county_choices: Vec<String>,
    /// The local agency whose staff see this call ([`crate::domain::agencies::Agencies::of_call`]),
    /// written with every save: a local agency's list of live calls is looked for in
    /// the database by it, instead of among the newest calls of the whole state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub belongs_to: Option<String>,
    /// The callback request this (outbound) call is returning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_request: Option<i64>,
    /// The steps entered, in order, comma-separated (at most [`PATH_CHARS`]), for the
    /// call analytics: one string, so a webhook adds to it without an allocation of its
    /// own and the session stays small.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The caller was sent to a person (for the call analytics).
    #[serde(default, skip_serializing_if = "is_false")]
    pub transferred: bool,
    /// The caller left a callback request in this call.
    #[serde(default, skip_serializing_if = "is_false")]
    pub callback_left: bool,
    /// A call placed by `caseline loadtest` (its signed incoming webhook said so): the
    /// reports leave it out unless asked to include it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub load_test: bool,
    /// Which answer this is: the high 32 bits count the answers, the low 32 name the
    /// server that gave it (see [`Session::next_turn`]). The step and input URLs of an
    /// answer carry it (`?t=N`), so the server that gave answer N knows, when the
    /// provider follows one of its URLs, that its own copy is the newest and need not
    /// read the database (see `crate::store::Sessions::load`).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub turn: u64,
    /// Made by this request, not read from the store: the call is counted active once
    /// this is first saved, so a request that fails before its save counts nothing.
    /// Never stored.
    #[serde(skip)]
    pub fresh: bool,
}

/// TTY streams that may fail in one call before it stops asking for another.
pub const STREAM_FAILURES: u32 = 2;

/// The most a call's path keeps (a longer call keeps its first steps).
pub const PATH_CHARS: usize = 600;

/// An answered entry: the input step it answered (nothing of what was keyed) and the
/// TwiML it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub step: String,
    pub answer: String,
}

word_enum!(
    /// What a caller may ask for before verifying, kept across verification and routed
    /// to after it: the readbacks, staff's `return`, paying by card, and each request.
    /// The `set-topic` values and `route-topic` outcomes are these words.
    Topic {
        Payments = "payments",
        CaseStatus = "case-status",
        Return = "return",
        Pay = "pay",
        HistoryByMail = "history-by-mail",
        MissingCheck = "missing-check",
        DepositForm = "deposit-form",
        AddressChange = "address-change",
    }
);

word_enum!(
    /// The IVR entries a staff member can send a live caller to (the flow entries
    /// `staff-{entry}`).
    StaffEntry {
        Verify = "verify",
        Payments = "payments",
        CaseStatus = "case-status",
        MainMenu = "main-menu",
        Spanish = "spanish",
    }
);

word_enum!(
    /// How a `<Dial>` or `<Enqueue>` ended, as the provider names it (`DialCallStatus`,
    /// `QueueResult`); a word not here is not kept.
    TransferResult {
        Completed = "completed",
        Answered = "answered",
        Busy = "busy",
        NoAnswer = "no-answer",
        Failed = "failed",
        Canceled = "canceled",
        Bridged = "bridged",
        BridgingInProcess = "bridging-in-process",
        QueueFull = "queue-full",
        Hangup = "hangup",
        Leave = "leave",
        Redirected = "redirected",
        RedirectedFromBridged = "redirected-from-bridged",
        Error = "error",
        SystemError = "system-error",
        SystemShutdown = "system-shutdown",
    }
);

impl TransferResult {
    /// A stored word this build does not know reads as none rather than failing the
    /// whole session (the provider may add words; the condition only needs these).
    fn read_or_none<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TransferResult>, D::Error> {
        let word: Option<std::borrow::Cow<'de, str>> = Option::deserialize(d)?;
        Ok(word.as_deref().and_then(TransferResult::parse))
    }

    /// The caller spoke with someone.
    pub fn reached(self) -> bool {
        matches!(
            self,
            TransferResult::Bridged
                | TransferResult::BridgingInProcess
                | TransferResult::Completed
                | TransferResult::Answered
        )
    }
}

word_enum!(
    /// What `<Pay>` may answer in `Result`, as the `pay-result` outcomes name them;
    /// anything else is read as `internal-error`.
    PayCode {
        Success = "success",
        TooManyFailedAttempts = "too-many-failed-attempts",
        PaymentConnectorError = "payment-connector-error",
        CallerInterruptedWithStar = "caller-interrupted-with-star",
        ValidationError = "validation-error",
        CallerHungUp = "caller-hung-up",
        InternalError = "internal-error",
    }
);

word_enum!(
    /// How the last verification in this call ended (the `verify-ssn` and `verify-par`
    /// outcomes that are kept: staff read them, the reports count the locked).
    VerifyOutcome {
        Ok = "ok",
        Failed = "failed",
        TooMany = "too-many",
        Locked = "locked",
    }
);

/// Where the caller's payment stands in this call (kept in the session).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Paying {
    /// The amount chosen, once confirmed by the caller's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// Tries that ended without a payment.
    #[serde(default)]
    pub failures: u32,
    /// The id of the last `<Pay>` sent (in its action URL, [`crate::domain::pay::new_pay_id`]):
    /// only a result naming it is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_id: Option<String>,
    /// What the caller was told of the first result for [`Paying::pay_id`] (the
    /// `pay-result` outcome): a later result for the same `<Pay>` (a repeat, or a
    /// second success with another code) is answered the same, and stores and counts
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
    /// The last `<Pay>` result, from its action callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PayResult>,
}

/// A `<Pay>` action callback, kept to what Caseline may hold: never a card number,
/// expiry, code or postal code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayResult {
    pub result: PayCode,
    pub confirmation: Option<String>,
    pub card_type: Option<String>,
    pub last4: Option<String>,
    /// The amount the provider says it charged (`ChargeAmount`), if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged: Option<Decimal>,
    /// A `ChargeAmount` was sent but is not an amount: it cannot be the one asked for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub charged_unreadable: bool,
}

/// Where a staff transfer came from and where the caller goes back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffTransfer {
    pub entry: StaffEntry,
    /// A number, SIP URI or `client:` identity ([`crate::domain::transfer::Destination`]).
    pub return_to: String,
    /// The staff member's name.
    pub by: String,
    pub at: i64,
}

impl Session {
    /// True when the only differences from `before` are where the caller is: the step,
    /// the step awaited, the path and the turn. Such a save may answer before its commit
    /// ([`crate::store::Sessions::save_position`]); anything else must wait. Every field is
    /// named here, so a new one is compared until someone decides otherwise.
    ///
    /// The miss count is compared: the next request needs it (the third miss offers a
    /// person), and on PostgreSQL that request may reach another server at once, which
    /// reads what was committed (the step itself it takes from the URL).
    pub fn only_position_changed(&self, before: &Session) -> bool {
        let Session {
            call_sid,
            channel,
            lang,
            step: _,
            awaiting: _,
            misses,
            verified,
            started_at,
            topic,
            pending_ssn,
            verify_failures,
            participant,
            cases,
            case,
            heard,
            values,
            caller,
            dialled,
            callback_number,
            callback_requested,
            transfer_result,
            staff_transfer,
            verify_outcome,
            replay,
            paying,
            recording_sid,
            recording_step,
            stream_token,
            tty_handoff,
            tty_resume,
            stream_failures,
            agency,
            zip_asked,
            county_choices,
            belongs_to,
            callback_request,
            path: _,
            transferred,
            callback_left,
            load_test,
            turn: _,
            fresh: _,
        } = self;
        *call_sid == before.call_sid
            && *channel == before.channel
            && *misses == before.misses
            && *lang == before.lang
            && *verified == before.verified
            && *started_at == before.started_at
            && *topic == before.topic
            && *pending_ssn == before.pending_ssn
            && *verify_failures == before.verify_failures
            && *participant == before.participant
            && *cases == before.cases
            && *case == before.case
            && *heard == before.heard
            && *values == before.values
            && *caller == before.caller
            && *dialled == before.dialled
            && *callback_number == before.callback_number
            && *callback_requested == before.callback_requested
            && *transfer_result == before.transfer_result
            && *staff_transfer == before.staff_transfer
            && *verify_outcome == before.verify_outcome
            && *replay == before.replay
            && *paying == before.paying
            && *recording_sid == before.recording_sid
            && *recording_step == before.recording_step
            && *stream_token == before.stream_token
            && *tty_handoff == before.tty_handoff
            && *tty_resume == before.tty_resume
            && *stream_failures == before.stream_failures
            && *agency == before.agency
            && *zip_asked == before.zip_asked
            && *county_choices == before.county_choices
            && *belongs_to == before.belongs_to
            && *callback_request == before.callback_request
            && *transferred == before.transferred
            && *callback_left == before.callback_left
            && *load_test == before.load_test
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Session {
    /// Numbers the answer being built: one past the later of the copy read and the turn
    /// the request's URL names, in `server`'s name. Two servers that read the same copy
    /// (one's save of it still queued) so give different numbers, and neither mistakes
    /// the other's answer for its own.
    pub fn next_turn(&mut self, url: Option<u64>, server: u32) {
        let count = (self.turn >> 32).max(url.unwrap_or(0) >> 32) + 1;
        // 31 bits of count keep the number a positive PostgreSQL bigint.
        self.turn = ((count & 0x7FFF_FFFF) << 32) | u64::from(server);
    }

    /// How many answers the call has had (the turn without its server).
    pub fn answers(&self) -> u64 {
        self.turn >> 32
    }

    pub fn new(call_sid: CallSid, channel: Channel, now: i64) -> Session {
        Session {
            call_sid,
            channel,
            lang: None,
            step: None,
            awaiting: None,
            misses: 0,
            verified: false,
            started_at: now,
            topic: None,
            pending_ssn: None,
            verify_failures: 0,
            participant: None,
            cases: Vec::new(),
            case: None,
            heard: Vec::new(),
            values: Default::default(),
            caller: None,
            dialled: None,
            callback_number: None,
            callback_requested: false,
            transfer_result: None,
            staff_transfer: None,
            verify_outcome: None,
            replay: None,
            paying: None,
            recording_sid: None,
            recording_step: None,
            stream_token: None,
            tty_handoff: None,
            tty_resume: None,
            stream_failures: 0,
            agency: None,
            zip_asked: false,
            county_choices: Vec::new(),
            belongs_to: None,
            callback_request: None,
            path: String::new(),
            transferred: false,
            callback_left: false,
            load_test: false,
            turn: 0,
            fresh: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_words_are_written_as_words_and_read_from_words_or_old_variant_names() {
        assert_eq!(
            serde_json::to_string(&Role::Custodial).unwrap(),
            "\"custodial\""
        );
        assert_eq!(
            serde_json::to_string(&Topic::CaseStatus).unwrap(),
            "\"case-status\""
        );
        let read = |j: &str| serde_json::from_str::<Role>(j).ok();
        assert_eq!(read("\"custodial\""), Some(Role::Custodial));
        // Sessions stored before the words were used wrote the variant's name.
        assert_eq!(read("\"Noncustodial\""), Some(Role::Noncustodial));
        assert_eq!(read("\"parent\""), None);
        let err = serde_json::from_str::<Topic>("\"nope\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("payments"), "{err}");
    }

    #[test]
    fn a_menu_session_is_stored_without_its_empty_fields_and_reads_back() {
        let sid = CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap();
        let mut s = Session::new(sid, Channel::Voice, 1_700_000_000);
        s.lang = Some(Lang::Es);
        s.step = Some("main-menu".into());
        s.awaiting = Some("main-menu".into());
        s.caller = Some("+15595550100".into());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            "{\"call_sid\":\"CA0123456789abcdef0123456789abcdef\",\"channel\":\"voice\",\
             \"lang\":\"es\",\"step\":\"main-menu\",\"awaiting\":\"main-menu\",\
             \"started_at\":1700000000,\"caller\":\"+15595550100\"}"
        );
        let back: Session = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        // A row written with every field spelled out (as before) still loads.
        let old = "{\"call_sid\":\"CA1\",\"channel\":\"tty\",\"lang\":null,\"step\":null,\
                   \"awaiting\":null,\"misses\":2,\"verified\":true,\"started_at\":5,\
                   \"topic\":null,\"pending_ssn\":null,\"verify_failures\":0,\
                   \"participant\":7,\"cases\":[],\"case\":null,\"heard\":[],\"values\":{},\
                   \"caller\":null,\"callback_number\":null,\"callback_requested\":false,\
                   \"transfer_result\":null,\"staff_transfer\":null,\"verify_outcome\":null}";
        let old: Session = serde_json::from_str(old).unwrap();
        // A transfer's end in a word this build knows is kept; one it does not know
        // (the provider may add words) reads as none instead of failing the session.
        let ended = |word: &str| {
            let json = format!(
                "{{\"call_sid\":\"CA1\",\"channel\":\"voice\",\"started_at\":5,\"transfer_result\":\"{word}\"}}"
            );
            serde_json::from_str::<Session>(&json)
                .unwrap()
                .transfer_result
        };
        assert_eq!(ended("bridged"), Some(TransferResult::Bridged));
        assert!(ended("bridged").is_some_and(TransferResult::reached));
        assert!(!ended("no-answer").is_some_and(TransferResult::reached));
        assert_eq!(ended("something-new"), None);
        assert_eq!(
            (old.misses, old.verified, old.participant),
            (2, true, Some(7))
        );
        assert_eq!(old.channel, Channel::Tty);
    }

    #[test]
    fn only_the_step_path_and_turn_count_as_position() {
        let sid = CallSid::parse("CA1").unwrap();
        let before = Session::new(sid, Channel::Voice, 5);
        let mut moved = before.clone();
        moved.step = Some("info-menu".into());
        moved.awaiting = Some("info-menu".into());
        moved.path = "main-menu,info-menu".into();
        moved.turn = 2 << 32;
        assert!(moved.only_position_changed(&before));
        let changes: [fn(&mut Session); 7] = [
            |s| s.misses = 1,
            |s| s.lang = Some(Lang::Es),
            |s| s.verified = true,
            |s| s.topic = Some(Topic::Payments),
            |s| s.heard.push("payments".into()),
            |s| s.callback_requested = true,
            |s| s.verify_failures = 1,
        ];
        for change in changes {
            let mut after = moved.clone();
            change(&mut after);
            assert!(!after.only_position_changed(&before));
        }
    }

    #[test]
    fn call_sids_accept_provider_formats_and_refuse_junk() {
        assert!(CallSid::parse("CA0123456789abcdef0123456789abcdef").is_some());
        assert!(CallSid::parse("6f0c6e8a-1b1e-4c55-9d7c-2f1f3b8a9e10").is_some());
        for bad in ["", "CA<script>", "CA 1", &"A".repeat(65), "CA\u{e9}"] {
            assert!(CallSid::parse(bad).is_none(), "{bad:?}");
        }
    }
}
