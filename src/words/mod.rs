//! Words: the prompt catalogs (English, Spanish, TTY text) and turning values into
//! speech.

pub mod prompts;
pub mod speech;
