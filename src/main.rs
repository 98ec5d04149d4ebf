//! The `caseline` command: serve the IVR, migrate, check flows, or try a call in the
//! terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use caseline::app::{Application, load_flows};
use caseline::config::Settings;
use caseline::store::Store;
use caseline::{demo, telemetry};

#[derive(Parser)]
#[command(
    name = "caseline",
    version,
    about = "The IVR for a child support agency's toll-free line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the webhooks (settings from CASELINE_* variables and caseline.toml).
    Serve {
        /// Accept unsigned webhooks. Only for local experiments: anyone could drive calls.
        #[arg(long)]
        insecure_no_signature: bool,
    },
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Call flows.
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
    /// Serve on demo settings and place a call from this terminal.
    Demo {
        /// Call the TTY line instead of the voice line.
        #[arg(long)]
        tty: bool,
        /// Database for the demo (a fresh file by default).
        #[arg(long, default_value = "sqlite://caseline-demo.db")]
        database: String,
    },
}

#[derive(Subcommand)]
enum FlowsCommand {
    /// Check flows and prompts; prints file:line:column for each problem.
    Check {
        /// The call-flow folder (default: CASELINE_FLOWS_DIR or call-flows).
        dir: Option<PathBuf>,
        /// The prompt folder (default: CASELINE_PROMPTS_DIR or prompts).
        #[arg(long)]
        prompts: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            insecure_no_signature,
        } => {
            telemetry::init("info");
            let mut settings = Settings::load()?;
            if insecure_no_signature {
                tracing::warn!(
                    "SIGNATURE CHECKS ARE OFF (--insecure-no-signature): anyone can drive calls"
                );
                settings.insecure_no_signature = true;
            }
            let app = Application::build(settings.clone()).await?;
            tracing::info!(addr = %app.local_addr()?, public_url = %settings.public_url, "caseline is answering");
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            telemetry::init("info");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            println!("database ready ({}), migrations applied", store.backend());
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows {
            command: FlowsCommand::Check { dir, prompts },
        } => {
            let mut settings = Settings::load()?;
            if let Some(d) = dir {
                settings.flows_dir = d;
            }
            if let Some(p) = prompts {
                settings.prompts_dir = p;
            }
            match load_flows(&settings) {
                Ok((_, flow)) => {
                    println!(
                        "{}: {} steps, all valid",
                        settings.flows_dir.display(),
                        flow.steps.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Demo { tty, database } => {
            telemetry::init("warn");
            demo::run(demo::Options { tty, database }).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
