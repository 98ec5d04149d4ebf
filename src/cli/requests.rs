//! `caseline requests list`: what verified callers asked for, for staff to act on.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;
use crate::domain::requests;
use crate::ops::telemetry;

#[derive(Subcommand)]
pub enum Command {
    /// The requests not done yet: reference, when, kind, case, language, status, details.
    List {
        /// Include the ones already done.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::List { all } = command;
    telemetry::init("warn");
    let settings = Settings::load()?;
    let store = super::open_store(&settings).await?;
    let list = store.requests().list(all).await?;
    if list.is_empty() {
        println!("no requests");
    }
    for r in &list {
        println!("{}", requests::listing_line(r, settings.hours.tz));
    }
    Ok(ExitCode::SUCCESS)
}
