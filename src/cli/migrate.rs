//! `caseline migrate`: creates the database if needed and applies the migrations
//! (opening the store does both).

use std::process::ExitCode;

use crate::ops::telemetry;

pub async fn run() -> anyhow::Result<ExitCode> {
    telemetry::init("info");
    let settings = crate::config::Settings::load()?;
    let store = super::open_store(&settings).await?;
    println!("database ready ({}), migrations applied", store.backend());
    Ok(ExitCode::SUCCESS)
}
