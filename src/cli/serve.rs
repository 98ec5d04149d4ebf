//! `caseline serve`: answers the webhooks until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use crate::app::Application;

/// The flags of `caseline serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Accept unsigned webhooks. Only for local experiments: anyone could drive calls.
    #[arg(long)]
    insecure_no_signature: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut settings = super::settings_and_logs("info")?;
    if args.insecure_no_signature {
        tracing::warn!(
            "SIGNATURE CHECKS ARE OFF (--insecure-no-signature): anyone can drive calls"
        );
        settings.insecure_no_signature = true;
    }
    let app = Application::build(settings.clone()).await?;
    match app.staff_addr() {
        Some(staff) => tracing::info!(
            addr = %app.local_addr()?,
            staff_addr = %staff,
            public_url = %settings.public_url,
            "caseline is answering"
        ),
        None => tracing::info!(
            addr = %app.local_addr()?,
            public_url = %settings.public_url,
            "caseline is answering"
        ),
    }
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
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
