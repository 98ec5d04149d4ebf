//! `caseline migrate`: creates the database if needed and applies the migrations. A
//! SQLite file is created by opening it; a PostgreSQL database is created on the server
//! when the URL's user may, or the command is refused saying what an administrator
//! should run.

use std::process::ExitCode;

use crate::store::{Database, Store};

pub async fn run() -> anyhow::Result<ExitCode> {
    // PostgreSQL's notices ("relation ... already exists, skipping") are not news here.
    let settings = super::settings_and_logs("info,sqlx::postgres::notice=warn")?;
    let url = crate::config::redact_url(&settings.database_url);
    if Store::create_database(&settings.database_url).await? == Some(Database::Created) {
        println!("created the database ({url})");
    }
    let store = super::open_store(&settings).await?;
    println!("database ready ({}), migrations applied", store.backend());
    Ok(ExitCode::SUCCESS)
}
