//! The `caseline` command: serve the IVR, migrate, check flows, try a call in the
//! terminal, or load-test a running server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use caseline::app::{Application, load_flows};
use caseline::config::Settings;

use caseline::cli::demo;
use caseline::ops::telemetry;
use caseline::store::Store;

/// Every webhook parses a form, a session and builds TwiML: many small, short-lived
/// allocations, which mimalloc serves markedly cheaper than the system allocator (see
/// the webhook benchmark in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "caseline",
    version,
    about = "The IVR for a child support agency's toll-free line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the webhooks (settings from CASELINE_* variables and caseline.toml).
    Serve {
        /// Accept unsigned webhooks. Only for local experiments: anyone could drive calls.
        #[arg(long)]
        insecure_no_signature: bool,
    },
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Load the agency's nightly extract (JSON): all of it, or nothing if any part is wrong.
    Import {
        /// The extract file.
        file: PathBuf,
    },
    /// Record CASELINE_BLIND_INDEX_KEY as this database's key: once, for a database
    /// imported before key fingerprints were kept, with the key it was imported with.
    AdoptKey,
    /// Call flows.
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
    /// The emergency announcement played after the welcome.
    Announce {
        #[command(subcommand)]
        command: AnnounceCommand,
    },
    /// Callback requests left by callers.
    Callbacks {
        #[command(subcommand)]
        command: CallbacksCommand,
    },
    /// Requests left by verified callers (by mail, missing checks, address changes).
    Requests {
        #[command(subcommand)]
        command: RequestsCommand,
    },
    /// Call analytics: containment, transfers, callbacks, where callers give up.
    Report {
        /// From this time (RFC 3339) on.
        #[arg(long, conflicts_with = "days")]
        since: Option<String>,
        /// The last N days (default: the last 24 hours).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, default_value = "text", value_parser = ["text", "json", "csv"])]
        format: String,
    },
    /// Card payments verified callers made by phone.
    Payments {
        #[command(subcommand)]
        command: PaymentsCommand,
    },
    /// Staff accounts for the console and the staff API.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
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
    Loadtest {
        /// Where to send the webhooks: the server's own address (http://HOST:PORT).
        #[arg(long)]
        url: String,
        /// The server's CASELINE_PUBLIC_URL, what it signs against (default: --url).
        #[arg(long, env = "CASELINE_PUBLIC_URL")]
        public_url: Option<String>,
        /// Calls to place in all.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        calls: u64,
        /// Calls on the line at once.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        concurrency: u64,
        /// Mean pause before each key press and before hanging up, in ms (each one
        /// drawn from 0.5x to 1.5x); the first calls start spread over one pause.
        #[arg(long, default_value_t = 2000)]
        think_ms: u64,
        /// Webhook requests in flight at once, however many calls (bounds the sockets).
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
        connections: u64,
        /// People who verify: a JSON list of {"ssn": "...", "par_id": "..."}, used in
        /// turn. Without it every call hears general information.
        #[arg(long)]
        callers: Option<PathBuf>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Serve on demo settings and place a call from this terminal.
    Demo {
        /// Call the TTY line instead of the voice line.
        #[arg(long)]
        tty: bool,
        /// Database for the demo (a fresh file by default).
        #[arg(long, default_value = "sqlite://caseline-demo.db")]
        database: String,
    },
}

#[derive(Subcommand)]
enum AnnounceCommand {
    /// Put an announcement in place (replacing any), for every server at once.
    Set {
        /// The English text.
        #[arg(long)]
        en: String,
        /// The Spanish text.
        #[arg(long)]
        es: String,
        /// When it starts (RFC 3339, like 2026-12-24T12:00:00-08:00); now if left out.
        #[arg(long)]
        from: Option<String>,
        /// When it stops; it plays until cleared if left out.
        #[arg(long)]
        until: Option<String>,
    },
    /// Remove the announcement.
    Clear,
    /// Print the announcement and whether callers hear it now.
    Show,
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create an account; the password is asked for on a terminal, or read as one line
    /// from standard input.
    Add {
        name: String,
        #[arg(long, value_parser = ["agent", "supervisor", "admin"])]
        role: String,
    },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// List the accounts.
    List,
}

#[derive(Subcommand)]
enum CallbacksCommand {
    /// The requests not closed yet (numbers masked but for the last four digits), with
    /// their state and attempts.
    List {
        /// Include the ones already closed.
        #[arg(long)]
        all: bool,
    },
    /// Stop the dialer placing callbacks (every server).
    Pause,
    /// Let the dialer place callbacks again.
    Resume,
}

#[derive(Subcommand)]
enum RequestsCommand {
    /// The requests not done yet: reference, when, kind, case, language, status, details.
    List {
        /// Include the ones already done.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum PaymentsCommand {
    /// Payments taken by phone, newest first: when, case, amount, card type and last
    /// four digits, confirmation code, language.
    List {
        /// How many days back.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=400))]
        days: i64,
    },
}

#[derive(Subcommand)]
enum FlowsCommand {
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            insecure_no_signature,
        } => {
            telemetry::init("info");
            let mut settings = Settings::load()?;
            if insecure_no_signature {
                tracing::warn!(
                    "SIGNATURE CHECKS ARE OFF (--insecure-no-signature): anyone can drive calls"
                );
                settings.insecure_no_signature = true;
            }
            let app = Application::build(settings.clone()).await?;
            tracing::info!(addr = %app.local_addr()?, public_url = %settings.public_url, "caseline is answering");
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            telemetry::init("info");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            println!("database ready ({}), migrations applied", store.backend());
            Ok(ExitCode::SUCCESS)
        }
        Command::AdoptKey => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let blind = caseline::domain::verify::BlindIndex::new(
                settings.blind_index_key.as_deref().unwrap_or(""),
            )
            .map_err(|_| {
                anyhow::anyhow!("CASELINE_BLIND_INDEX_KEY must be set (at least 32 characters)")
            })?;
            let store = Store::connect(&settings.database_url).await?;
            caseline::domain::verify::adopt_key(&store, &blind).await?;
            println!(
                "recorded: serve and import now accept only this key (fingerprint {})",
                blind.fingerprint()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
            let extract = match caseline::domain::cases::import::parse(&text) {
                Ok(x) => x,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    eprintln!("{} error(s); nothing was imported", errors.len());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let blind = caseline::domain::verify::BlindIndex::new(
                settings.blind_index_key.as_deref().unwrap_or(""),
            )
            .map_err(|_| {
                anyhow::anyhow!("CASELINE_BLIND_INDEX_KEY must be set (at least 32 characters)")
            })?;
            let hasher = caseline::domain::verify::Hasher::new(settings.hash_cost)?;
            let store = Store::connect(&settings.database_url).await?;
            caseline::domain::verify::check_key(&store, &blind).await?;
            let started = std::time::Instant::now();
            let stats =
                caseline::domain::cases::import::run(&store, &blind, &hasher, extract, &|m| {
                    eprintln!("  {m}")
                })
                .await?;
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
        Command::Flows {
            command:
                FlowsCommand::Diagram {
                    dir,
                    prompts,
                    format,
                    flow: file,
                },
        } => {
            let mut settings = Settings::load()?;
            if let Some(d) = dir {
                settings.flows_dir = d;
            }
            if let Some(p) = prompts {
                settings.prompts_dir = p;
            }
            let (_, flow) = match load_flows(&settings) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e:#}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            use caseline::flow::diagram::Part;
            let part = match &file {
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
            let text = match format.as_str() {
                "mermaid" => part.mermaid(),
                "svg" => part.svg()?,
                _ => part.dot(),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows {
            command: FlowsCommand::Check { dir, prompts },
        } => {
            let mut settings = Settings::load()?;
            if let Some(d) = dir {
                settings.flows_dir = d;
            }
            if let Some(p) = prompts {
                settings.prompts_dir = p;
            }
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
        Command::Announce { command } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let now = chrono::Utc::now();
            match command {
                AnnounceCommand::Set {
                    en,
                    es,
                    from,
                    until,
                } => {
                    let a = caseline::domain::announcement::build(
                        &en,
                        &es,
                        from.as_deref(),
                        until.as_deref(),
                        now,
                    )
                    .map_err(|e| anyhow::anyhow!(e))?;
                    store.announcements().set(&a, now.timestamp()).await?;
                    println!(
                        "announcement set\n{}",
                        caseline::domain::announcement::describe(&a, settings.hours.tz, now)
                    );
                }
                AnnounceCommand::Clear => {
                    store.announcements().clear().await?;
                    println!("announcement cleared");
                }
                AnnounceCommand::Show => match store.announcements().slot().await? {
                    Some(a) => println!(
                        "{}",
                        caseline::domain::announcement::describe(&a, settings.hours.tz, now)
                    ),
                    None => println!("no announcement"),
                },
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Callbacks {
            command: command @ (CallbacksCommand::Pause | CallbacksCommand::Resume),
        } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let pause = matches!(command, CallbacksCommand::Pause);
            store.callback_queue().set_paused(pause).await?;
            println!(
                "{}",
                if pause {
                    "the callback dialer is paused"
                } else {
                    "the callback dialer is running"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Callbacks {
            command: CallbacksCommand::List { all },
        } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let list = store.callback_queue().list(all).await?;
            if list.is_empty() {
                println!("no callback requests");
            }
            for c in &list {
                println!(
                    "{}",
                    caseline::domain::callbacks::listing_line(c, settings.hours.tz)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            since,
            days,
            format,
        } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let from = match (since, days) {
                (Some(t), _) => chrono::DateTime::parse_from_rfc3339(&t)
                    .map_err(|_| anyhow::anyhow!("--since must be an RFC 3339 time, not '{t}'"))?
                    .timestamp(),
                (None, Some(d)) => chrono::Utc::now().timestamp() - i64::from(d) * 86_400,
                (None, None) => chrono::Utc::now().timestamp() - 86_400,
            };
            let report = caseline::ops::analytics::report(&store, from).await?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&report)?),
                "csv" => print!("{}", report.csv()),
                _ => print!("{}", report.text()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Payments {
            command: PaymentsCommand::List { days },
        } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let since = chrono::Utc::now().timestamp() - days * 86_400;
            let list = store.card_payments().list(since, 10_000).await?;
            if list.is_empty() {
                println!("no card payments in the last {days} days");
            }
            for p in &list {
                println!(
                    "{}",
                    caseline::domain::pay::listing_line(p, settings.hours.tz)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Requests {
            command: RequestsCommand::List { all },
        } => {
            telemetry::init("warn");
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let list = store.requests().list(all).await?;
            if list.is_empty() {
                println!("no requests");
            }
            for r in &list {
                println!(
                    "{}",
                    caseline::domain::requests::listing_line(r, settings.hours.tz)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Staff { command } => {
            telemetry::init("warn");
            // Only the store and the password hasher: no flows, prompts or keys needed.
            let settings = Settings::load()?;
            let store = Store::connect(&settings.database_url).await?;
            let now = chrono::Utc::now().timestamp();
            match command {
                StaffCommand::Add { name, role } => {
                    let role = caseline::staff::Role::parse(&role)
                        .ok_or_else(|| anyhow::anyhow!("unknown role"))?;
                    let password = read_password(&name)?;
                    let hasher = caseline::domain::verify::Hasher::new(settings.hash_cost)?;
                    caseline::staff::add(&store, &hasher, now, &name, role, &password).await?;
                    println!("added {name} ({})", role.as_str());
                }
                StaffCommand::Disable { name } => {
                    if store.staff().disable(&name, now).await? {
                        println!("disabled {name}; their sessions are ended");
                    } else {
                        anyhow::bail!("no enabled account named '{name}'");
                    }
                }
                StaffCommand::List => {
                    for a in store.staff().list().await? {
                        println!(
                            "{:<24} {:<10} {}",
                            a.name,
                            a.role.as_str(),
                            if a.disabled { "disabled" } else { "enabled" }
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadtest {
            url,
            public_url,
            calls,
            concurrency,
            think_ms,
            connections,
            callers,
            format,
        } => {
            let token = std::env::var("CASELINE_TWILIO_AUTH_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "CASELINE_TWILIO_AUTH_TOKEN must be set: every webhook is signed with it"
                    )
                })?;
            let callers = match callers {
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
                    caseline::ops::loadtest::parse_callers(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?
                }
                None => Vec::new(),
            };
            let summary = caseline::ops::loadtest::run(caseline::ops::loadtest::Options {
                public_url: public_url.unwrap_or_else(|| url.clone()),
                url,
                token,
                calls,
                concurrency,
                think: std::time::Duration::from_millis(think_ms),
                connections: usize::try_from(connections).unwrap_or(256),
                callers,
                progress: true,
            })
            .await?;
            for line in summary.failure_lines() {
                eprintln!("{line}");
            }
            match format.as_str() {
                "json" => println!("{}", summary.json()),
                _ => print!("{}", summary.text()),
            }
            Ok(if summary.errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Demo { tty, database } => {
            telemetry::init("warn");
            demo::run(demo::Options { tty, database }).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A new password: asked twice without echo on a terminal, or one line from stdin.
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let second = rpassword::prompt_password("again: ")?;
        if first != second {
            anyhow::bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
