//! The `caseline` command: parses the command line and hands it to `cli`.

use std::process::ExitCode;

use clap::Parser;

/// Every webhook parses a form, a session and builds TwiML: many small, short-lived
/// allocations, which mimalloc serves markedly cheaper than the system allocator (see
/// the webhook benchmark in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match caseline::cli::Cli::parse().run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
