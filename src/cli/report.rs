//! `caseline report`: call analytics over a period, as text, JSON or CSV; `--agency ID`
//! limits it to one local agency's calls (an id of `CASELINE_AGENCIES_FILE`).

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
    /// Only the calls of this local agency (its id in `CASELINE_AGENCIES_FILE`).
    #[arg(long, value_name = "ID")]
    agency: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (settings, store) = super::quiet_store().await?;
    if let Some(id) = &args.agency
        && let Err(why) = known_agency(&settings, id)
    {
        eprintln!("error: {why}");
        return Ok(ExitCode::from(2));
    }
    let from = match (args.since, args.days) {
        (Some(t), _) => chrono::DateTime::parse_from_rfc3339(&t)
            .map_err(|_| anyhow::anyhow!("--since must be an RFC 3339 time, not '{t}'"))?
            .timestamp(),
        (None, Some(d)) => chrono::Utc::now().timestamp() - i64::from(d) * 86_400,
        (None, None) => chrono::Utc::now().timestamp() - 86_400,
    };
    let report = analytics::report(
        &store,
        from,
        args.include_load_tests,
        args.agency.as_deref(),
    )
    .await?;
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&report)?),
        "csv" => print!("{}", report.csv()),
        _ => print!("{}", report.text()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `id` is an agency of the agencies file; why not, said for the person who
/// typed it.
fn known_agency(settings: &crate::config::Settings, id: &str) -> anyhow::Result<()> {
    let Some(file) = &settings.agencies_file else {
        anyhow::bail!(
            "--agency {id}: no agencies file; set CASELINE_AGENCIES_FILE to the file that names it"
        );
    };
    let agencies = crate::domain::agencies::Agencies::load(file)?;
    if agencies.by_id(id).is_none() {
        let ids: Vec<&str> = agencies.iter().map(|a| a.id.as_str()).collect();
        anyhow::bail!(
            "no agency '{id}' in {}; its agencies are {}",
            file.display(),
            ids.join(", ")
        );
    }
    Ok(())
}
