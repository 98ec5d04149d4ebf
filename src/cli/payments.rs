//! `caseline payments list`: the card payments taken by phone.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;
use crate::domain::pay;
use crate::ops::telemetry;

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
    telemetry::init("warn");
    let settings = Settings::load()?;
    let store = super::open_store(&settings).await?;
    let since = chrono::Utc::now().timestamp() - days * 86_400;
    let list = store.card_payments().list(since, 10_000).await?;
    if list.is_empty() {
        println!("no card payments in the last {days} days");
    }
    for p in &list {
        println!("{}", pay::listing_line(p, settings.hours.tz));
    }
    Ok(ExitCode::SUCCESS)
}
