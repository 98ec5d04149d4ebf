//! The line wherever it is run: the flows, prompts and holidays built into the binary
//! answer calls where none of their folders is present, `flows check` and the server's
//! log say which copy was read, and a folder that is set but missing, or found but
//! broken, is refused naming the setting that moves it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caseline::config::Settings;
use caseline::config::shipped::Found;
use caseline::http::signature::{Algorithm, sign, signing_payload};

use crate::helpers::{self as common, Backend, PUBLIC_URL, TOKEN, TTY_LINE, TestApp};

const WELCOME: &str = "Thank you for calling California Child Support Services.";

/// A whole call through the router on the built-in flows and prompts: no setting names
/// a folder, and the only place searched is empty.
#[tokio::test]
async fn the_built_in_line_answers_calls_with_no_folders_present() {
    let empty = tempfile::tempdir().unwrap();
    let settings = Settings {
        flows_dir: None,
        prompts_dir: None,
        search: vec![empty.path().to_path_buf()],
        ..common::settings()
    };
    let loaded = caseline::app::load_flows(&settings).unwrap();
    assert_eq!(loaded.flows_from, Found::BuiltIn);
    assert_eq!(loaded.prompts_from, Found::BuiltIn);

    let app = TestApp::spawn_with(Backend::Sqlite, settings).await;
    let mut call = app.call();
    let welcome = call.dial().await;
    assert!(welcome.says(WELCOME), "{}", welcome.xml);
    assert!(welcome.says("Para español, oprima 2."), "{}", welcome.xml);
    let menu = call.press("1").await;
    assert!(
        menu.says("For payment information, or to make a payment by card, press 1."),
        "{}",
        menu.xml
    );
    let info = call.press("3").await;
    assert!(info.says("General information."), "{}", info.xml);
    let topic = call.press("1").await;
    assert!(
        topic.says("every day from 8 a.m. to 4 p.m."),
        "{}",
        topic.xml
    );

    // The TTY line's flow and its text prompts are built in too.
    let mut tty = app.call_to(TTY_LINE);
    let first = tty.dial().await;
    assert!(
        first.says("CALIFORNIA CHILD SUPPORT SERVICES, TTY LINE."),
        "{}",
        first.said()
    );
    let menu = tty.press("1").await;
    assert!(menu.says("MAIN MENU."), "{}", menu.said());
}

/// What each folder should be read from when nothing names it and the working
/// directory holds none: the package's folders if this machine has them installed,
/// else the built-in copy.
fn expected_source(folder: &str) -> String {
    ["/etc/caseline", "/usr/share/caseline"]
        .iter()
        .map(|base| Path::new(base).join(folder))
        .find(|p| p.is_dir())
        .map_or("embedded (the shipped line)".to_string(), |p| {
            p.display().to_string()
        })
}

/// The binary with no settings but those given, in `dir`, reading the (empty)
/// settings file there rather than any installed one.
fn caseline_in(dir: &Path) -> Command {
    let settings = dir.join("empty.toml");
    std::fs::write(&settings, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caseline"));
    cmd.current_dir(dir)
        .env_clear()
        .env("CASELINE_CONFIG", settings)
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn flows_check_in_an_empty_folder_says_it_read_the_built_in_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = caseline_in(dir.path())
        .args(["flows", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let holidays = match expected_source("holidays").as_str() {
        "embedded (the shipped line)" => "embedded (the shipped line)".to_string(),
        folder => format!("{folder}/california.txt"),
    };
    for line in [
        format!("flows: {}", expected_source("call-flows")),
        format!("prompts: {}", expected_source("prompts")),
        format!("holidays: {holidays}"),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no '{line}' in:\n{stdout}"
        );
    }
    assert!(stdout.contains("steps, all valid"), "{stdout}");
}

#[test]
fn a_folder_set_but_missing_is_refused_naming_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (var, key) in [
        ("CASELINE_PROMPTS_DIR", "prompts_dir"),
        ("CASELINE_FLOWS_DIR", "flows_dir"),
    ] {
        let out = caseline_in(dir.path())
            .args(["flows", "check"])
            .env(var, "/nonexistent/words")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{var} (or {key} in caseline.toml) names /nonexistent/words, which is not a folder"
            )),
            "{stderr}"
        );
    }
}

/// The old failure ("prompts/en.toml: cannot read the prompt catalog" and nothing
/// more) now says which folder was read and the setting that names another.
#[test]
fn a_broken_folder_in_the_working_directory_names_the_setting_that_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("prompts")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/en.toml"),
        dir.path().join("prompts/en.toml"),
    )
    .unwrap();
    let out = caseline_in(dir.path())
        .args(["flows", "check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let mut lines = stderr.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("prompts/es.toml: cannot read the prompt catalog"),
        "{stderr}"
    );
    let hint = lines.next().unwrap_or_default();
    assert!(
        hint.contains("prompts read from prompts")
            && hint.contains("CASELINE_PROMPTS_DIR or prompts_dir in caseline.toml names another"),
        "{stderr}"
    );
}

/// `caseline serve` run in an empty folder: its log names the copies it read, and it
/// answers a signed call with the welcome.
#[test]
fn serve_in_an_empty_folder_answers_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Served::start(dir.path());
    let loaded = server.wait_for_log("call flows loaded");
    for (field, folder) in [("flows", "call-flows"), ("prompts", "prompts")] {
        let want = format!("{field}={}", expected_source(folder));
        assert!(loaded.contains(&want), "no {want} in: {loaded}");
    }
    let answer = server.incoming_call();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(WELCOME), "{answer}");
}

/// A `caseline serve` child in a folder of its own, killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Served {
    fn start(dir: &Path) -> Served {
        let db: PathBuf = dir.join("caseline.db");
        let mut child = caseline_in(dir)
            .arg("serve")
            .env(
                "CASELINE_DATABASE_URL",
                format!("sqlite://{}", db.display()),
            )
            .env("CASELINE_TWILIO_AUTH_TOKEN", TOKEN)
            .env("CASELINE_PUBLIC_URL", PUBLIC_URL)
            .env(
                "CASELINE_BLIND_INDEX_KEY",
                "packaged-test-blind-index-key-0123456789",
            )
            .env("CASELINE_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = common::capture_stderr(&mut child);
        let mut server = Served {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            log,
        };
        let line = server.wait_for_log("caseline is answering");
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line}"));
        server.addr = addr.parse().unwrap();
        server
    }

    /// The first log line holding `text`, waiting up to 30 seconds.
    fn wait_for_log(&mut self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let log = self.log.lock().unwrap().clone();
            if let Some(line) = log.lines().find(|l| l.contains(text)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("caseline exited ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no '{text}' in the log within 30 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new call's first webhook, signed as the provider signs it; the whole answer.
    fn incoming_call(&self) -> String {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("From", common::CALLER_ID),
            ("To", common::TOLL_FREE),
            ("Direction", "inbound"),
            ("CallStatus", "ringing"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = format!("{PUBLIC_URL}/voice/incoming");
        let signature = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(&url, &params));
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(3)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /voice/incoming HTTP/1.1\r\nHost: ivr.example.test\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             X-Twilio-Signature: {signature}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings template the package installs as `/etc/caseline/caseline.toml`: valid
/// as shipped, valid with every example line uncommented, and each key a setting the
/// README's configuration table names (a misspelt key would be ignored).
#[test]
fn the_settings_template_loads_as_shipped_and_with_every_line_uncommented() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/caseline.toml"
    ))
    .unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let file = Path::new("/etc/caseline/caseline.toml");
    let none = std::collections::HashMap::new();
    let shipped = Settings::from_sources(&none, Some(&template), file).unwrap();
    assert_eq!(
        shipped.database_url,
        "sqlite:///var/lib/caseline/caseline.db"
    );

    let mut keys = Vec::new();
    let uncommented: String = template
        .lines()
        .map(|line| {
            let key_line = line
                .strip_prefix("# ")
                .filter(|rest| rest.split_once(" = ").is_some_and(|(k, _)| is_key(k)));
            let line = key_line.unwrap_or(line);
            if let Some((key, _)) = line.split_once(" = ").filter(|(k, _)| is_key(k)) {
                keys.push(key.to_string());
            }
            format!("{line}\n")
        })
        .collect();
    assert!(keys.len() > 40, "only {} keys in the template", keys.len());
    // Every setting is in the template, but the secrets (caseline.env's).
    let secrets = [
        "twilio_auth_token",
        "twilio_shared_key",
        "blind_index_key",
        "screen_pop_secret",
    ];
    for key in caseline::config::KEYS
        .iter()
        .filter(|k| !secrets.contains(k))
    {
        assert!(
            keys.iter().any(|k| k == key),
            "{key} is not in packaging/caseline.toml"
        );
    }
    // The example holidays file is where an agency would put its own, not here; the
    // screen pop's secret comes from caseline.env.
    let env = [
        ("CASELINE_HOLIDAYS_FILE", "none"),
        ("CASELINE_SCREEN_POP_SECRET", "from caseline.env"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    if let Err(e) = Settings::from_sources(&env, Some(&uncommented), file) {
        panic!("the template uncommented does not load: {e:#}");
    }
    for key in keys {
        let var = format!("`CASELINE_{}`", key.to_ascii_uppercase());
        assert!(
            readme.contains(&var),
            "the template's {key} is not in the README's settings ({var})"
        );
    }
}

/// A settings key: lower case words joined by `_`.
fn is_key(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}
