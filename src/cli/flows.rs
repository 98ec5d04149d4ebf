//! `caseline flows check|diagram`: compiles the call flows and prompts as `serve` would,
//! then reports the problems or draws the steps.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use crate::app::load_flows;
use crate::config::Settings;
use crate::flow::diagram::Part;

/// The subcommands of `caseline flows`.
#[derive(Subcommand)]
pub enum Command {
    /// Draw the compiled flows: every step, keys and outcomes as labelled edges, misses
    /// dashed, entries marked; to stdout.
    Diagram {
        /// The call-flow folder (default: CASELINE_FLOWS_DIR, else the first call-flows/ found
        /// in the working directory, /etc/caseline, /usr/share/caseline, else the built-in flows).
        dir: Option<PathBuf>,
        /// The prompt folder (default: CASELINE_PROMPTS_DIR, else found as the flows are).
        #[arg(long)]
        prompts: Option<PathBuf>,
        #[arg(long, default_value = "dot", value_parser = ["dot", "mermaid", "svg"])]
        format: String,
        /// Only the steps written in this flow file (`main` for main.xml), with the steps
        /// they lead to in other files drawn grey.
        #[arg(long)]
        flow: Option<String>,
    },
    /// Check flows and prompts; says where each was read, and prints file:line:column for
    /// each problem.
    Check {
        /// The call-flow folder (default: CASELINE_FLOWS_DIR, else the first call-flows/ found
        /// in the working directory, /etc/caseline, /usr/share/caseline, else the built-in flows).
        dir: Option<PathBuf>,
        /// The prompt folder (default: CASELINE_PROMPTS_DIR, else found as the flows are).
        #[arg(long)]
        prompts: Option<PathBuf>,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Diagram {
            dir,
            prompts,
            format,
            flow,
        } => diagram(dir, prompts, &format, flow.as_deref()),
        Command::Check { dir, prompts } => check(dir, prompts),
    }
}

/// The settings with the folders given on the command line in place of the configured.
fn settings(dir: Option<PathBuf>, prompts: Option<PathBuf>) -> anyhow::Result<Settings> {
    let mut settings = Settings::load()?;
    for (given, setting) in [
        (dir, &mut settings.flows_dir),
        (prompts, &mut settings.prompts_dir),
    ] {
        if let Some(d) = given {
            if !d.is_dir() {
                bail!("{}: not a folder", d.display());
            }
            *setting = Some(d);
        }
    }
    Ok(settings)
}

/// Says where the flows, prompts and holidays were read, then whether they compile.
fn check(dir: Option<PathBuf>, prompts: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = settings(dir, prompts)?;
    match load_flows(&settings) {
        Ok(loaded) => {
            println!("flows: {}", loaded.flows_from);
            println!("prompts: {}", loaded.prompts_from);
            match &settings.holidays_from {
                Some(from) => println!("holidays: {from}"),
                None => println!("holidays: none"),
            }
            // The agencies file the server would load, checked as it would be.
            match crate::app::load_agencies(&settings) {
                Ok(Some(agencies)) => println!(
                    "agencies: {} ({} agencies)",
                    agencies.file().display(),
                    agencies.len()
                ),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("{e:#}");
                    return Ok(ExitCode::FAILURE);
                }
            }
            println!("{} steps, all valid", loaded.flow.steps.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn diagram(
    dir: Option<PathBuf>,
    prompts: Option<PathBuf>,
    format: &str,
    file: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let settings = settings(dir, prompts)?;
    let flow = match load_flows(&settings) {
        Ok(loaded) => loaded.flow,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let part = match file {
        None => Part::all(&flow),
        Some(name) => match Part::file(&flow, name) {
            Some(p) => p,
            None => {
                eprintln!(
                    "no flow file named '{name}' (the files: {})",
                    flow.files().join(", ")
                );
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let text = match format {
        "mermaid" => part.mermaid(),
        "svg" => part.svg()?,
        _ => part.dot(),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
