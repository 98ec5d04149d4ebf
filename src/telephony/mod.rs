//! The provider's vocabulary: TwiML out, its REST API, and the TTY modem on its media
//! stream.

pub mod input;
pub mod provider;
pub mod stream;
pub mod tty;
pub mod twiml;
