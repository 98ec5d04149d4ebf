//! `caseline payments list`: the card payments taken by phone.

use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::pay;

/// The subcommands of `caseline payments`.
#[derive(Subcommand)]
pub enum Command {
    /// Payments taken by phone, newest first: when, case, amount, card type and last
    /// four digits, confirmation code, language.
    List {
        /// How many days back.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=400))]
        days: i64,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::List { days } = command;
    let (settings, store) = super::quiet_store().await?;
    let since = chrono::Utc::now().timestamp() - days * 86_400;
    let list = store.card_payments().list(since, 10_000).await?;
    let none = format!("no card payments in the last {days} days");
    super::print_lines(&list, &none, |p| pay::listing_line(p, settings.hours.tz));
    Ok(ExitCode::SUCCESS)
}
