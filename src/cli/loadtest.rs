//! `caseline loadtest`: plays the provider against a running server (the player itself
//! is `ops::loadtest`); prints the figures and exits 1 if any call failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::ops::loadtest;

/// The flags of `caseline loadtest`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to send the webhooks: a server's own address (http://HOST:PORT). Given
    /// more than once, requests alternate between the servers, as a round-robin
    /// balancer sends them (see --sticky).
    #[arg(long, required = true)]
    url: Vec<String>,
    /// With several --url: each call keeps to one server, as a balancer with sticky
    /// sessions sends them.
    #[arg(long)]
    sticky: bool,
    /// The servers' CASELINE_PUBLIC_URL, what they sign against (default: the first
    /// --url).
    #[arg(long, env = "CASELINE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Calls to place in all.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    calls: u64,
    /// Calls on the line at once.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Mean pause before each key press and before hanging up, in ms (each one
    /// drawn from 0.5x to 1.5x); the first calls start spread over one pause.
    #[arg(long, default_value_t = 2000)]
    think_ms: u64,
    /// Webhook requests in flight at once, however many calls (bounds the sockets).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    connections: u64,
    /// People who verify: a JSON list of {"ssn": "...", "par_id": "..."}, used in
    /// turn. Without it every call hears general information.
    #[arg(long)]
    callers: Option<PathBuf>,
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = std::env::var("CASELINE_TWILIO_AUTH_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "CASELINE_TWILIO_AUTH_TOKEN must be set: every webhook is signed with it"
            )
        })?;
    // The steps the scripts pass, from the flows this folder serves (as `flows check`
    // reads them): the server under test is expected to run the same flows.
    let settings = crate::config::Settings::load()?;
    let flow = crate::app::load_flows(&settings)?.flow;
    let steps = loadtest::Steps::read(&flow)?;
    let callers = match args.callers {
        Some(file) => {
            let text = super::read_file(&file)?;
            loadtest::parse_callers(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?
        }
        None => Vec::new(),
    };
    let summary = loadtest::run(loadtest::Options {
        public_url: args
            .public_url
            .or_else(|| args.url.first().cloned())
            .unwrap_or_default(),
        urls: args.url,
        sticky: args.sticky,
        token,
        calls: args.calls,
        concurrency: args.concurrency,
        think: Duration::from_millis(args.think_ms),
        connections: usize::try_from(args.connections).unwrap_or(256),
        callers,
        progress: true,
        steps,
    })
    .await?;
    for line in summary.failure_lines() {
        eprintln!("{line}");
    }
    match args.format.as_str() {
        "json" => println!("{}", summary.json()),
        _ => print!("{}", summary.text()),
    }
    Ok(if summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
