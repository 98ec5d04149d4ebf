//! `caseline agencies check [FILE]`: reads the agencies file as the server will, prints
//! every problem as `file:line: why`, then a summary. Warnings (an agency whose queue or
//! number is still `TO-BE-FILLED`) do not fail the check unless `--strict` says they do.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::domain::agencies::load;

/// Where the shipped file lives, checked when no file is named.
const DEFAULT_FILE: &str = "agencies/california.toml";

/// The subcommands of `caseline agencies`.
#[derive(Subcommand)]
pub enum Command {
    /// Check an agencies file: every county in exactly one agency, each agency reachable,
    /// its hours and holidays sound; prints file:line for each problem.
    Check {
        /// The agencies file (default: agencies/california.toml).
        file: Option<PathBuf>,
        /// Fail on warnings too: an agency still TO-BE-FILLED.
        #[arg(long)]
        strict: bool,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { file, strict } => Ok(check(
            &file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE)),
            strict,
        )),
    }
}

fn check(file: &std::path::Path, strict: bool) -> ExitCode {
    let checked = load::check(file);
    for p in &checked.problems {
        eprintln!("{p}");
    }
    let errors = checked.errors().count();
    let warnings = checked.warnings().count();
    let Some(agencies) = &checked.agencies else {
        eprintln!(
            "{}: {errors} error(s), {warnings} warning(s)",
            file.display()
        );
        return ExitCode::FAILURE;
    };
    let counties: usize = agencies.iter().map(|a| a.counties.len()).sum();
    let regional = agencies.iter().filter(|a| a.counties.len() > 1).count();
    let unfilled = agencies.iter().filter(|a| !a.reach.is_filled()).count();
    let unfilled = match unfilled {
        0 => String::new(),
        n => format!("; {n} still {} (warnings above)", load::TO_BE_FILLED),
    };
    println!(
        "{}: {} agencies ({regional} regional), {counties} of 58 counties, each in one agency{unfilled}",
        file.display(),
        agencies.len(),
    );
    if let Some(zips) = agencies.zips() {
        println!(
            "ZIP table: {} ZIP codes, {} across a county line",
            zips.len(),
            zips.spanning()
        );
    }
    if strict && warnings > 0 {
        eprintln!("--strict: {warnings} warning(s) refuse the file");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
