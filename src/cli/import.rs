//! `caseline import FILE`: loads the agency's nightly extract, all of it or nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::domain::cases::import;
use crate::domain::verify::{self, Hasher};

/// The arguments of `caseline import`.
#[derive(clap::Args)]
pub struct Args {
    /// The extract file. The packaged nightly import (caseline-import.service) names it in
    /// CASELINE_IMPORT_FILE.
    #[arg(env = "CASELINE_IMPORT_FILE")]
    file: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = args.file;
    let settings = super::settings_and_logs("warn")?;
    let text = super::read_file(&file)?;
    // Every error in the file is listed before anything is written.
    let extract = match import::parse(&text) {
        Ok(x) => x,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            eprintln!("{} error(s); nothing was imported", errors.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    let blind = super::blind_index(&settings)?;
    let hasher = Hasher::new(settings.hash_cost)?;
    let store = super::open_store(&settings).await?;
    verify::check_key(&store, &blind).await?;
    let started = std::time::Instant::now();
    let stats = import::run(&store, &blind, &hasher, extract, &|m| eprintln!("  {m}")).await?;
    println!(
        "imported in {:.1} s: {} participants written, {} unchanged; {} cases written, {} unchanged",
        started.elapsed().as_secs_f64(),
        stats.participants_written,
        stats.participants_unchanged,
        stats.cases_written,
        stats.cases_unchanged
    );
    Ok(ExitCode::SUCCESS)
}
