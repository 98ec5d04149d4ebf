//! `caseline migrate`: creates the database if needed and applies the migrations
//! (opening the store does both).

use std::process::ExitCode;


pub async fn run() -> anyhow::Result<ExitCode> {
    let settings = super::settings_and_logs("info")?;
    let store = super::open_store(&settings).await?;
    println!("database ready ({}), migrations applied", store.backend());
    Ok(ExitCode::SUCCESS)
}
