//! The `caseline` commands: the clap definitions and one file per subcommand, each
//! holding its arguments and what it does. `main` only parses and dispatches here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::domain::verify::BlindIndex;
use crate::store::Store;

pub mod adopt_key;
pub mod agencies;
pub mod announce;
pub mod callbacks;
pub mod demo;
pub mod flows;
pub mod import;
pub mod loadtest;
pub mod migrate;
pub mod payments;
pub mod report;
pub mod requests;
pub mod serve;
pub mod staff;

#[derive(Parser)]
#[command(
    name = "caseline",
    version,
    about = "The IVR for a child support agency's toll-free line"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The one-line help of each command is its variant's doc comment here; the long help
// of `loadtest` too, so `caseline --help` reads as one list.
#[derive(Subcommand)]
enum Command {
    /// Serve the webhooks (settings from CASELINE_* variables and caseline.toml).
    Serve(serve::Args),
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Load the agency's nightly extract (JSON): all of it, or nothing if any part is wrong.
    Import(import::Args),
    /// Record CASELINE_BLIND_INDEX_KEY as this database's key: once, for a database
    /// imported before key fingerprints were kept, with the key it was imported with.
    AdoptKey,
    /// The local agencies behind the statewide line (agencies/california.toml).
    Agencies {
        #[command(subcommand)]
        command: agencies::Command,
    },
    /// Call flows.
    Flows {
        #[command(subcommand)]
        command: flows::Command,
    },
    /// The emergency announcement played after the welcome.
    Announce {
        #[command(subcommand)]
        command: announce::Command,
    },
    /// Callback requests left by callers.
    Callbacks {
        #[command(subcommand)]
        command: callbacks::Command,
    },
    /// Requests left by verified callers (by mail, missing checks, address changes).
    Requests {
        #[command(subcommand)]
        command: requests::Command,
    },
    /// Call analytics: containment, transfers, callbacks, where callers give up.
    Report(report::Args),
    /// Card payments verified callers made by phone.
    Payments {
        #[command(subcommand)]
        command: payments::Command,
    },
    /// Staff accounts for the console and the staff API.
    Staff {
        #[command(subcommand)]
        command: staff::Command,
    },
    /// Play the provider against a running server: many whole calls at once, signed
    /// with CASELINE_TWILIO_AUTH_TOKEN; then the figures.
    ///
    /// Each call posts /voice/incoming, then at each <Gather> presses the keys a caller
    /// would (a language, main menu 3, an information topic, 8, another topic; or with
    /// --callers, main menu 1, the SSN, the PAR ID, the payments and case status
    /// readbacks), posting to the action the server wrote and following every
    /// <Redirect>; then /voice/status with CallStatus=completed.
    ///
    /// URLs: the server writes absolute URLs under its CASELINE_PUBLIC_URL and checks
    /// each signature against that public URL plus the path and query it receives. So
    /// each request is signed with the URL the server wrote, verbatim (query included),
    /// and sent to --url with the same path and query; /voice/incoming and /voice/status
    /// are signed under --public-url. A URL outside the public URL fails the call.
    ///
    /// A call fails (counted once in `errors`) at the first of: no HTTP answer within
    /// 15 s; a status other than 200; a body that is not TwiML; the apology (a redirect
    /// to /voice/recover); or the call going off its script (a <Gather> at another step
    /// than expected, such as the SSN asked again after a refused verification, a
    /// transfer, a hang-up). `completed` counts the calls that played their whole
    /// script. Latencies are per webhook request, from sending to the whole answer.
    /// Exits 1 if any call failed.
    Loadtest(loadtest::Args),
    /// Serve on demo settings and place a call from this terminal.
    Demo(demo::Args),
}

impl Cli {
    /// Runs the command; an `Err` is printed by `main` and exits 1.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Migrate => migrate::run().await,
            Command::Import(args) => import::run(args).await,
            Command::AdoptKey => adopt_key::run().await,
            Command::Agencies { command } => agencies::run(command),
            Command::Flows { command } => flows::run(command),
            Command::Announce { command } => announce::run(command).await,
            Command::Callbacks { command } => callbacks::run(command).await,
            Command::Requests { command } => requests::run(command).await,
            Command::Report(args) => report::run(args).await,
            Command::Payments { command } => payments::run(command).await,
            Command::Staff { command } => staff::run(command).await,
            Command::Loadtest(args) => loadtest::run(args).await,
            Command::Demo(args) => demo::command(args).await,
        }
    }
}

/// Opens (creating and migrating if needed) the database the settings name: the one
/// way a command reaches the store, so each says only when it needs it.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.database_url, settings.database_pool).await
}

/// What the commands on the database's records start with: warnings-only logs, the
/// settings, and the store they name.
async fn quiet_store() -> anyhow::Result<(Settings, Store)> {
    let settings = settings_and_logs("warn")?;
    let store = open_store(&settings).await?;
    Ok((settings, store))
}

/// The settings, then the logger they ask for (`CASELINE_LOG_FORMAT`), filtered at
/// `default` unless `RUST_LOG` says otherwise. A refused setting is printed by `main`.
fn settings_and_logs(default: &str) -> anyhow::Result<Settings> {
    let settings = Settings::load()?;
    crate::ops::telemetry::init(default, settings.log_format);
    Ok(settings)
}

/// Prints one line per item (a listing), or `none` when there are none.
fn print_lines<T>(items: &[T], none: &str, line: impl Fn(&T) -> String) {
    if items.is_empty() {
        println!("{none}");
    }
    for item in items {
        println!("{}", line(item));
    }
}

/// The blind index from CASELINE_BLIND_INDEX_KEY, which `import` and `adopt-key` need.
fn blind_index(settings: &Settings) -> anyhow::Result<BlindIndex> {
    BlindIndex::new(settings.blind_index_key.as_deref().unwrap_or("")).map_err(|_| {
        anyhow::anyhow!("CASELINE_BLIND_INDEX_KEY must be set (at least 32 characters)")
    })
}

/// Reads a file named on the command line, saying which one failed.
fn read_file(file: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))
}
