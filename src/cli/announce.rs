//! `caseline announce set|clear|show`: the emergency announcement, for every server at
//! once (it lives in the database).

use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::announcement;

/// The subcommands of `caseline announce`.
#[derive(Subcommand)]
pub enum Command {
    /// Put an announcement in place (replacing any), for every server at once.
    Set {
        /// The English text.
        #[arg(long)]
        en: String,
        /// The Spanish text.
        #[arg(long)]
        es: String,
        /// When it starts: the agency's time (2026-12-24T12:00) or RFC 3339
        /// (2026-12-24T12:00:00-08:00); now if left out.
        #[arg(long)]
        from: Option<String>,
        /// When it stops; it plays until cleared if left out.
        #[arg(long)]
        until: Option<String>,
    },
    /// Remove the announcement.
    Clear,
    /// Print the announcement and whether callers hear it now.
    Show,
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let (settings, store) = super::quiet_store().await?;
    let now = chrono::Utc::now();
    match command {
        Command::Set {
            en,
            es,
            from,
            until,
        } => {
            let a = announcement::build(
                &en,
                &es,
                from.as_deref(),
                until.as_deref(),
                settings.hours.tz,
                now,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            store.announcements().set(&a, now.timestamp()).await?;
            println!(
                "announcement set\n{}",
                announcement::describe(&a, settings.hours.tz, now)
            );
        }
        Command::Clear => {
            store.announcements().clear().await?;
            println!("announcement cleared");
        }
        Command::Show => match store.announcements().slot().await? {
            Some(a) => println!("{}", announcement::describe(&a, settings.hours.tz, now)),
            None => println!("no announcement"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
