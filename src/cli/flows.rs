//! `caseline flows check|diagram`: compiles the call flows and prompts as `serve` would,
//! then reports the problems or draws the steps.

use std::path::PathBuf;
use std::process::ExitCode;

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
        /// The call-flow folder (default: CASELINE_FLOWS_DIR or call-flows).
        dir: Option<PathBuf>,
        /// The prompt folder (default: CASELINE_PROMPTS_DIR or prompts).
        #[arg(long)]
        prompts: Option<PathBuf>,
        #[arg(long, default_value = "dot", value_parser = ["dot", "mermaid", "svg"])]
        format: String,
        /// Only the steps written in this flow file (`main` for main.xml), with the steps
        /// they lead to in other files drawn grey.
        #[arg(long)]
        flow: Option<String>,
    },
    /// Check flows and prompts; prints file:line:column for each problem.
    Check {
        /// The call-flow folder (default: CASELINE_FLOWS_DIR or call-flows).
        dir: Option<PathBuf>,
        /// The prompt folder (default: CASELINE_PROMPTS_DIR or prompts).
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
    if let Some(d) = dir {
        settings.flows_dir = d;
    }
    if let Some(p) = prompts {
        settings.prompts_dir = p;
    }
    Ok(settings)
}

fn check(dir: Option<PathBuf>, prompts: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = settings(dir, prompts)?;
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

fn diagram(
    dir: Option<PathBuf>,
    prompts: Option<PathBuf>,
    format: &str,
    file: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let settings = settings(dir, prompts)?;
    let (_, flow) = match load_flows(&settings) {
        Ok(f) => f,
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
