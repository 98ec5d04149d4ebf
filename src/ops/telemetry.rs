//! Logging: tracing to stderr, filtered by `RUST_LOG` (default `info`), as text for a
//! person or as one JSON object a line for a log pipeline (`CASELINE_LOG_FORMAT`).
//! Webhook spans carry the CallSid and step; parameters such as Digits are never
//! recorded, in either format.

use tracing_subscriber::EnvFilter;

/// How log lines are written (`CASELINE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line an event: time, level, the spans with their fields, the message.
    #[default]
    Text,
    /// One JSON object a line, with the same parts as named fields, for a pipeline that
    /// would otherwise have to parse the text.
    Json,
}

impl LogFormat {
    /// The words `CASELINE_LOG_FORMAT` takes.
    pub const WORDS: &str = "text or json";
}

impl std::str::FromStr for LogFormat {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(()),
        }
    }
}

/// Installs the process's logger: `default` is the filter when `RUST_LOG` is unset. A
/// second call (a test that runs two commands) keeps the first logger.
pub fn init(default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            // Colour codes only for a person at a terminal, never in a log file.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .try_init(),
        LogFormat::Json => builder
            .json()
            // The event's message and fields at the top level, beside `timestamp`,
            // `level` and `target`; the spans it happened in, outermost first, each
            // with its name and fields, in `spans`.
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
