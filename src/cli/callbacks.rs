//! `caseline callbacks list|pause|resume`: the callback requests and the dialer's switch.

use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::callbacks;

/// The subcommands of `caseline callbacks`.
#[derive(Subcommand)]
pub enum Command {
    /// The requests not closed yet (numbers masked but for the last four digits), with
    /// their state and attempts.
    List {
        /// Include the ones already closed.
        #[arg(long)]
        all: bool,
    },
    /// Stop the dialer placing callbacks (every server).
    Pause,
    /// Let the dialer place callbacks again.
    Resume,
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let (settings, store) = super::quiet_store().await?;
    match command {
        Command::List { all } => {
            let list = store.callback_queue().list(all).await?;
            super::print_lines(&list, "no callback requests", |c| {
                callbacks::listing_line(c, settings.hours.tz)
            });
        }
        Command::Pause | Command::Resume => {
            let pause = matches!(command, Command::Pause);
            store.callback_queue().set_paused(pause).await?;
            println!(
                "{}",
                if pause {
                    "the callback dialer is paused"
                } else {
                    "the callback dialer is running"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
