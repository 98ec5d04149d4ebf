//! `caseline requests list`: what verified callers asked for, for staff to act on.

use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::requests;

/// The subcommands of `caseline requests`.
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
    let (settings, store) = super::quiet_store().await?;
    let list = store.requests().list(all).await?;
    super::print_lines(&list, "no requests", |r| {
        requests::listing_line(r, settings.hours.tz)
    });
    Ok(ExitCode::SUCCESS)
}
