//! `caseline demo`: serves the IVR on loopback with demo settings and places a call
//! from the terminal. It plays the provider's part: prints what the IVR says, reads
//! the keys you type, and follows the TwiML with the same signed webhooks the provider
//! would send.

use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use crate::app::Application;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::http::signature::{Algorithm, sign, signing_payload};
use crate::state::Services;
use crate::store::Store;
use crate::telephony::twiml::{self, Element, Response};

/// The flags of `caseline demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Call the TTY line instead of the voice line.
    #[arg(long)]
    pub tty: bool,
    /// Database for the demo (a fresh file by default).
    #[arg(long, default_value = "sqlite://caseline-demo.db")]
    pub database: String,
}

const TOLL_FREE: &str = "+18669013212";
const TTY_LINE: &str = "+18663994096";
const DEMO_CALLER: &str = "+15592310100";
/// Webhooks one demo call may make before the demo stops following (a safety net).
const MAX_TURNS: usize = 500;
/// The demo's case data: made-up people with SSNs in the 900 range, which is never
/// issued, so no real number is ever shown.
pub const DEMO_EXTRACT: &str = include_str!("../../demo/extract.json");
/// The demo's local agencies: the demo callers' four counties each routed to a demo
/// queue of its own, every other county to the statewide unit. Not the shipped file.
pub const DEMO_AGENCIES: &str = include_str!("../../demo/agencies.toml");
/// The shipped ZIP table, for the demo's callers who do not verify.
const DEMO_ZIPS: &str = include_str!("../../agencies/california-zip-counties.csv");
/// A fixed key, so the demo database can be reused between runs. Never for production.
const DEMO_BLIND_INDEX_KEY: &str = "demo-only-blind-index-key-do-not-use-in-production";

/// `caseline demo`: logs warnings only, so the call reads clean in the terminal.
pub async fn command(args: Args) -> anyhow::Result<std::process::ExitCode> {
    // Text whatever the settings say: the demo is read in a terminal.
    crate::ops::telemetry::init("warn", crate::ops::telemetry::LogFormat::Text);
    run(args).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

pub async fn run(options: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("Failed to listen on loopback")?;
    let addr = listener.local_addr()?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut settings = Settings::load()?;
    settings.listen = addr;
    settings.public_url = format!("http://{addr}");
    settings.database_url = options.database.clone();
    settings.auth_token = Some(token.clone());
    settings.shared_key = None;
    settings.tty_numbers = vec![TTY_LINE.to_string()];
    // This phone prints text: the TTY line answers it in text turns (a real TTY gets
    // the modem over the media stream).
    settings.tty_mode = crate::config::TtyMode::Text;
    settings.blind_index_key = Some(DEMO_BLIND_INDEX_KEY.to_string());
    // Paying by card is played by this phone (no card is asked for): see `call`.
    if settings.pay.connector.is_none() {
        settings.pay.connector = Some("demo".to_string());
    }
    // The demo's agencies, unless the settings name a file: a folder of its own, removed
    // when the call ends.
    let agencies_dir = match settings.agencies_file {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(format!(
                "caseline-demo-agencies-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("Failed to create {}", dir.display()))?;
            settings.agencies_file = Some(write_demo_agencies(&dir)?);
            Some(dir)
        }
    };
    let store = Store::open(&settings.database_url, settings.database_pool).await?;
    load_demo_data(&store, &settings).await?;
    let state = Arc::new(Services::serving(
        settings.clone(),
        store,
        Arc::new(SystemClock),
    )?);
    let app = Application::from_parts(listener, state);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));

    println!(
        "Caseline demo: the IVR is answering at {}",
        settings.public_url
    );
    println!("Database: {}", options.database);
    println!(
        "Calling the {} line. Type keys and press Enter (1, 2, *, #...).",
        if options.tty { "TTY" } else { "toll-free" }
    );
    println!("An empty line lets the prompt time out; q hangs up.");
    if let Some(file) = &settings.agencies_file {
        println!(
            "Agencies: {} (press 0 for a person: a verified caller goes to their case's county's agency, others are asked their ZIP code)",
            file.display()
        );
    }
    println!();
    print_demo_callers()?;

    let phone = Phone {
        http: reqwest::Client::new(),
        base: settings.public_url.clone(),
        token,
        call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        to: if options.tty { TTY_LINE } else { TOLL_FREE }.to_string(),
    };
    let result = phone.call().await;
    let _ = stop_tx.send(());
    let _ = server.await;
    if let Some(dir) = agencies_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Writes the demo's agencies file into `dir`, with the holidays (the built-in copy) and
/// the ZIP table it names beside it; answers the file's path.
pub fn write_demo_agencies(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use crate::config::shipped::{HOLIDAYS, HOLIDAYS_FILE};
    let holidays = HOLIDAYS.built_in(HOLIDAYS_FILE).unwrap_or_default();
    std::fs::write(dir.join("holidays.txt"), holidays)
        .context("Failed to write the demo holidays")?;
    std::fs::write(dir.join("california-zip-counties.csv"), DEMO_ZIPS)
        .context("Failed to write the demo ZIP table")?;
    let file = dir.join("agencies.toml");
    std::fs::write(&file, DEMO_AGENCIES).context("Failed to write the demo agencies file")?;
    Ok(file)
}

async fn load_demo_data(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let extract = crate::domain::cases::import::parse(DEMO_EXTRACT)
        .map_err(|e| anyhow::anyhow!("the demo data is invalid: {}", e.join("; ")))?;
    let blind = crate::domain::verify::BlindIndex::new(DEMO_BLIND_INDEX_KEY)?;
    let hasher = crate::domain::verify::Hasher::new(settings.hash_cost)?;
    crate::domain::cases::import::run(store, &blind, &hasher, extract, &|_| {}).await?;
    Ok(())
}

/// Who a newcomer can be: the demo people, with their (made-up) numbers.
fn print_demo_callers() -> anyhow::Result<()> {
    let data: serde_json::Value = serde_json::from_str(DEMO_EXTRACT)?;
    let empty = Vec::new();
    let cases = data["cases"].as_array().unwrap_or(&empty);
    println!("Demo callers (made-up numbers): press 1 or 2 at the main menu, then enter them.");
    for p in data["participants"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .take(5)
    {
        let par = p["par_id"].as_str().unwrap_or("");
        let roles: Vec<String> = cases
            .iter()
            .filter_map(|c| {
                let member = c["members"]
                    .as_array()?
                    .iter()
                    .find(|m| m["par_id"] == par)?;
                let ending = c["case_number"]
                    .as_str()?
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<String>();
                let ending: String = ending.chars().rev().collect();
                let role = match member["role"].as_str()? {
                    "custodial" => "receives",
                    _ => "pays",
                };
                let closed = if c["status"] == "closed" {
                    ", closed"
                } else {
                    ""
                };
                let county = c["county"].as_str().unwrap_or("");
                Some(format!("{role} on ...{ending}{closed}, {county} County"))
            })
            .collect();
        println!(
            "  {:<14} SSN {}  PAR ID {}#  ({}; speaks {})",
            format!(
                "{} {}",
                p["first_name"].as_str().unwrap_or(""),
                p["last_name"].as_str().unwrap_or("")
            ),
            p["ssn"].as_str().unwrap_or("").replace('-', ""),
            par,
            roles.join(", "),
            p["language"].as_str().unwrap_or("en"),
        );
    }
    println!();
    Ok(())
}

struct Phone {
    http: reqwest::Client,
    base: String,
    token: String,
    call_sid: String,
    to: String,
}

impl Phone {
    async fn post(&self, url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Response> {
        let mut params: Vec<(String, String)> = vec![
            ("CallSid".into(), self.call_sid.clone()),
            (
                "AccountSid".into(),
                "AC00000000000000000000000000000000".into(),
            ),
            ("From".into(), DEMO_CALLER.into()),
            ("To".into(), self.to.clone()),
            ("Direction".into(), "inbound".into()),
        ];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let signature = sign(
            Algorithm::HmacSha1,
            &self.token,
            &signing_payload(url, &params),
        );
        let res = self
            .http
            .post(url)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = res.status();
        let body = res.text().await?;
        if !status.is_success() {
            bail!("the IVR answered {status}: {body}");
        }
        twiml::parse(&body)
            .map_err(|e| anyhow::anyhow!("the IVR sent TwiML the provider would refuse ({e})"))
    }

    async fn call(&self) -> anyhow::Result<()> {
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        let mut response = self
            .post(
                &format!("{}/voice/incoming", self.base),
                &[("CallStatus", "ringing")],
            )
            .await?;
        for _ in 0..MAX_TURNS {
            let mut next: Option<(String, Vec<(&str, String)>)> = None;
            for verb in &response.verbs {
                match verb.name {
                    "Say" => speak(verb),
                    "Play" => println!("  [plays {}]", verb.text.as_deref().unwrap_or("")),
                    "Pause" => println!("  [pause]"),
                    "Gather" => {
                        for child in &verb.children {
                            if child.name == "Say" {
                                speak(child);
                            }
                        }
                        let timeout = verb.get("timeout").unwrap_or("5");
                        print!("keys (timeout {timeout}s)> ");
                        use std::io::Write;
                        let _ = std::io::stdout().flush();
                        let line = stdin.next_line().await?;
                        let action = verb.get("action").unwrap_or_default().to_string();
                        match line.as_deref().map(str::trim) {
                            None | Some("q") | Some("Q") => {
                                self.hang_up().await?;
                                println!("\n[you hung up]");
                                return Ok(());
                            }
                            Some(keys) => next = Some((action, gathered(verb, keys))),
                        }
                        break;
                    }
                    "Redirect" => {
                        next = Some((verb.text.clone().unwrap_or_default(), vec![]));
                        break;
                    }
                    "Enqueue" | "Dial" => {
                        transfer(verb);
                        let Some(action) = verb.get("action") else {
                            self.hang_up().await?;
                            return Ok(());
                        };
                        let result = match verb.get("waitUrl") {
                            Some(wait) => self.wait_in_queue(wait, &mut stdin).await?,
                            None => ("DialCallStatus", "no-answer"),
                        };
                        if result.1 != "leave" {
                            println!("  [demo: no representative answers; the call comes back]");
                        }
                        next = Some((action.to_string(), vec![(result.0, result.1.to_string())]));
                        break;
                    }
                    "Pay" => {
                        println!(
                            "  [the provider's <Pay> would now ask for the card: {} dollars, {}]",
                            verb.get("chargeAmount").unwrap_or("?"),
                            verb.get("description").unwrap_or("")
                        );
                        print!("demo card (Enter: approved, d: declined, *: stop)> ");
                        use std::io::Write;
                        let _ = std::io::stdout().flush();
                        let line = stdin.next_line().await?.unwrap_or_default();
                        let result = match line.trim() {
                            "d" | "D" => vec![("Result", "payment-connector-error".to_string())],
                            "*" => vec![("Result", "caller-interrupted-with-star".to_string())],
                            _ => vec![
                                ("Result", "success".to_string()),
                                (
                                    "PaymentConfirmationCode",
                                    format!(
                                        "DEMO{}",
                                        &uuid::Uuid::new_v4().simple().to_string()[..8]
                                    ),
                                ),
                                ("PaymentCardNumber", "xxxx-xxxxxx-x4242".to_string()),
                                ("PaymentCardType", "visa".to_string()),
                                (
                                    "ChargeAmount",
                                    verb.get("chargeAmount").unwrap_or_default().to_string(),
                                ),
                            ],
                        };
                        let action = verb.get("action").unwrap_or_default().to_string();
                        next = Some((action, result));
                        break;
                    }
                    "Record" => {
                        // The demo records nothing: the call goes on as after silence.
                        println!(
                            "  [beep: the provider would record now; the demo phone records nothing]"
                        );
                    }
                    "Hangup" => {
                        self.hang_up().await?;
                        println!("[the IVR hung up]");
                        return Ok(());
                    }
                    other => println!("  [{other}]"),
                }
            }
            let Some((url, params)) = next else {
                println!("[the TwiML ended: the provider hangs up]");
                self.hang_up().await?;
                return Ok(());
            };
            let borrowed: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            response = self.post(&url, &borrowed).await?;
        }
        bail!("the call went on for {MAX_TURNS} turns; stopping")
    }

    /// One round of the queue's wait music, as the provider plays it: the place in
    /// line, the callback offer, and the caller's key. Answers the `QueueResult`.
    async fn wait_in_queue(
        &self,
        wait_url: &str,
        stdin: &mut tokio::io::Lines<BufReader<tokio::io::Stdin>>,
    ) -> anyhow::Result<(&'static str, &'static str)> {
        let wait = self
            .post(wait_url, &[("QueuePosition", "2"), ("AvgQueueTime", "90")])
            .await?;
        let Some(gather) = wait.verbs.iter().find(|v| v.name == "Gather") else {
            return Ok(("QueueResult", "queue-full"));
        };
        for child in gather.children.iter().filter(|c| c.name == "Say") {
            speak(child);
        }
        print!("keys (in the queue; Enter to keep waiting)> ");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let keys = stdin.next_line().await?.unwrap_or_default();
        let action = gather.get("action").unwrap_or_default();
        let answer = self.post(action, &[("Digits", keys.trim())]).await?;
        for verb in answer.verbs.iter().filter(|v| v.name == "Say") {
            speak(verb);
        }
        if answer.verbs.iter().any(|v| v.name == "Leave") {
            return Ok(("QueueResult", "leave"));
        }
        Ok(("QueueResult", "queue-full"))
    }

    async fn hang_up(&self) -> anyhow::Result<()> {
        self.post(
            &format!("{}/voice/status", self.base),
            &[("CallStatus", "completed")],
        )
        .await
        .map(|_| ())
    }
}

/// What the provider sends a `<Gather>`'s action for the keys typed: the keys up to its
/// `finishOnKey` (`#` when not given; none when empty) or its `numDigits`, whichever
/// comes first, as `Digits`, and the finishing key, if one ended the input, as
/// `FinishedOnKey`, never in `Digits`. Nothing typed is a timeout: no `Digits` at all.
pub fn gathered(gather: &Element, typed: &str) -> Vec<(&'static str, String)> {
    if typed.is_empty() {
        return vec![];
    }
    let finish = gather.get("finishOnKey").unwrap_or("#");
    let most = gather
        .get("numDigits")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let mut digits = String::new();
    let mut finished = None;
    for c in typed.chars().filter(|c| !c.is_whitespace()) {
        if finish.contains(c) {
            finished = Some(c.to_string());
            break;
        }
        digits.push(c);
        if most.is_some_and(|n| digits.chars().count() >= n) {
            break;
        }
    }
    let mut params = vec![("Digits", digits)];
    if let Some(key) = finished {
        params.push(("FinishedOnKey", key));
    }
    params
}

fn speak(say: &Element) {
    let lang = say.get("language").unwrap_or("");
    println!("IVR [{lang}]: {}", say.text.as_deref().unwrap_or(""));
}

fn transfer(verb: &Element) {
    let target = verb.text.as_deref().unwrap_or("").trim();
    let target = if target.is_empty() {
        verb.children
            .first()
            .and_then(|c| c.text.clone())
            .unwrap_or_default()
    } else {
        target.to_string()
    };
    println!("  [{}: transferring to {target}]", verb.name);
}
