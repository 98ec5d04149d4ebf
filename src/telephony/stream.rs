//! The provider's bidirectional media stream, as JSON messages over a WebSocket: what
//! it sends (`connected`, `start`, `media`, `dtmf`, `mark`, `stop`) and what we send
//! back. The TTY call ([`crate::call::tty`]) speaks it; nothing here knows of calls.

use std::collections::HashMap;

use serde::Deserialize;

/// A message from the provider, as much of it as is read.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Inbound {
    Connected,
    Start { start: Start },
    Media { media: Media },
    Dtmf { dtmf: Dtmf },
    Mark { mark: MarkName },
    Stop,
}

#[derive(Debug, Deserialize)]
pub struct Start {
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
    #[serde(rename = "callSid")]
    pub call_sid: String,
    #[serde(rename = "customParameters", default)]
    pub custom_parameters: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Media {
    pub payload: String,
}

#[derive(Debug, Deserialize)]
pub struct Dtmf {
    pub digit: String,
}

#[derive(Debug, Deserialize)]
pub struct MarkName {
    pub name: String,
}

/// What to send the provider.
#[derive(Debug, PartialEq, Eq)]
pub enum Outbound {
    /// A JSON text frame.
    Frame(String),
    /// Close the socket (the provider then asks the `<Connect action>`).
    Close,
}
