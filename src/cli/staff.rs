//! `caseline staff add|disable|list`: the accounts for the console and the staff API.

use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::agencies::Agencies;
use crate::domain::verify::Hasher;
use crate::staff::{self, Role};

/// The subcommands of `caseline staff`.
#[derive(Subcommand)]
pub enum Command {
    /// Create an account; the password is asked for on a terminal, or read as one line
    /// from standard input.
    Add {
        name: String,
        #[arg(long, value_parser = ["agent", "supervisor", "admin"])]
        role: String,
        /// The local agency the account works for (its id in CASELINE_AGENCIES_FILE);
        /// without it the account is statewide and sees every agency's records.
        #[arg(long)]
        agency: Option<String>,
    },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// List the accounts.
    List,
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    // Only the store and the password hasher: no flows, prompts or keys needed.
    let (settings, store) = super::quiet_store().await?;
    let now = chrono::Utc::now().timestamp();
    match command {
        Command::Add { name, role, agency } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role"))?;
            if let Some(id) = &agency {
                // Checked before the password is asked for.
                let agencies = settings
                    .agencies_file
                    .as_deref()
                    .map(Agencies::load)
                    .transpose()?;
                staff::check_agency(agencies.as_ref(), id).map_err(anyhow::Error::msg)?;
            }
            let password = read_password(&name)?;
            let hasher = Hasher::new(settings.hash_cost)?;
            let agency = agency.as_deref();
            staff::add(&store, &hasher, now, &name, role, agency, &password).await?;
            println!("added {name} ({})", staff::account_words(role, agency));
        }
        Command::Disable { name } => {
            if store.staff().disable(&name, now).await? {
                println!("disabled {name}; their sessions are ended");
            } else {
                anyhow::bail!("no enabled account named '{name}'");
            }
        }
        Command::List => {
            for a in store.staff().list().await? {
                println!(
                    "{:<24} {:<10} {:<20} {}",
                    a.name,
                    a.role.as_str(),
                    a.agency.as_deref().unwrap_or("statewide"),
                    if a.disabled { "disabled" } else { "enabled" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A new password: asked twice without echo on a terminal, or one line from stdin.
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let second = rpassword::prompt_password("again: ")?;
        if first != second {
            anyhow::bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
