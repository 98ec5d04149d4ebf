//! TTY callers without a relay: the US TTY ("Baudot") modem in the server. `baudot` is
//! the character code, `modem` the FSK at 45.45 baud, `mulaw` the provider's audio
//! format; none of them knows about calls.

pub mod baudot;
pub mod modem;
pub mod mulaw;
