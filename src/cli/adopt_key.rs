//! `caseline adopt-key`: records CASELINE_BLIND_INDEX_KEY's fingerprint for a database
//! imported before fingerprints were kept.

use std::process::ExitCode;

use crate::domain::verify;

pub async fn run() -> anyhow::Result<ExitCode> {
    let settings = super::settings_and_logs("warn")?;
    // The key is checked before the database is opened, as it always was.
    let blind = super::blind_index(&settings)?;
    let store = super::open_store(&settings).await?;
    verify::adopt_key(&store, &blind).await?;
    println!(
        "recorded: serve and import now accept only this key (fingerprint {})",
        blind.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}
