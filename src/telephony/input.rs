//! What the caller sent with a `<Gather>`: the provider's `Digits`, `SpeechResult` and
//! `Confidence`, read once by the call layer and handed down to the flow and actions.

/// What the caller sent with a gather: keys and, where allowed, speech.
#[derive(Debug, Clone, Default)]
pub struct CallerInput {
    pub digits: String,
    pub speech: Option<String>,
    /// The provider's confidence in `speech`, 0 to 1, when it said.
    pub confidence: Option<f32>,
}

impl CallerInput {
    pub fn is_empty(&self) -> bool {
        self.digits.is_empty() && self.speech.as_deref().is_none_or(|s| s.trim().is_empty())
    }
}

/// What an action fed by an `<Input>` answers when the caller's entry matched nothing
/// (not nine digits, no such check): the engine counts a miss at the step and plays
/// its `<NoMatch>`. Every such action may answer it, so no spec lists it among its
/// outcomes, and a flow cannot route it.
pub const NO_MATCH: &str = "nomatch";
