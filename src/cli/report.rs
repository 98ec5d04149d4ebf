//! `caseline report`: call analytics over a period, as text, JSON or CSV.

use std::process::ExitCode;

use crate::ops::analytics;

/// The period and format of `caseline report`.
#[derive(clap::Args)]
pub struct Args {
    /// From this time (RFC 3339) on.
    #[arg(long, conflicts_with = "days")]
    since: Option<String>,
    /// The last N days (default: the last 24 hours).
    #[arg(long)]
    days: Option<u32>,
    #[arg(long, default_value = "text", value_parser = ["text", "json", "csv"])]
    format: String,
    /// Count the calls `caseline loadtest` placed too (left out by default).
    #[arg(long)]
    include_load_tests: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_, store) = super::quiet_store().await?;
    let from = match (args.since, args.days) {
        (Some(t), _) => chrono::DateTime::parse_from_rfc3339(&t)
            .map_err(|_| anyhow::anyhow!("--since must be an RFC 3339 time, not '{t}'"))?
            .timestamp(),
        (None, Some(d)) => chrono::Utc::now().timestamp() - i64::from(d) * 86_400,
        (None, None) => chrono::Utc::now().timestamp() - 86_400,
    };
    let report = analytics::report(&store, from, args.include_load_tests).await?;
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&report)?),
        "csv" => print!("{}", report.csv()),
        _ => print!("{}", report.text()),
    }
    Ok(ExitCode::SUCCESS)
}
