//! The `caseline` command as an analyst uses it.

use std::process::Command;

fn caseline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caseline"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    // Settings come only from what the test gives.
    cmd.env_remove("CASELINE_FLOWS_DIR")
        .env_remove("CASELINE_PROMPTS_DIR");
    cmd
}

#[test]
fn flows_check_passes_on_the_shipped_flows() {
    let out = caseline().args(["flows", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all valid"), "{stdout}");
}

#[test]
fn flows_check_names_file_line_and_the_dangling_step() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    for entry in std::fs::read_dir(format!("{root}/call-flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace(
                r#"<Key digit="3" step="info-menu"/>"#,
                r#"<Key digit="3" step="info-menuu"/>"#,
            );
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let out = caseline()
        .args(["flows", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let main = dir.path().join("main.xml").display().to_string();
    let line = stderr
        .lines()
        .find(|l| l.contains("unknown step 'info-menuu'"))
        .unwrap_or_else(|| panic!("no dangling-step error in:\n{stderr}"));
    assert!(line.starts_with(&format!("{main}:")), "{line}");
    let mut parts = line[main.len() + 1..].split(':');
    let lineno: usize = parts.next().unwrap().parse().unwrap();
    let col: usize = parts.next().unwrap().parse().unwrap();
    assert!(lineno > 1 && col > 1, "{line}");
    // The step it meant is now unreachable, and that is said too.
    assert!(
        stderr.contains("step 'info-menu' is unreachable"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_to_start_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = caseline()
        .arg("serve")
        .env_remove("CASELINE_TWILIO_AUTH_TOKEN")
        .env(
            "CASELINE_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("CASELINE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CASELINE_TWILIO_AUTH_TOKEN is not set"),
        "{stderr}"
    );
}

#[test]
fn import_lists_every_error_and_writes_nothing_then_imports_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/import.db", dir.path().display());
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"participants": [{"par_id": "4820193756", "ssn": "900-12-345", "first_name": "A", "last_name": "B"}],
            "cases": [{"case_number": "190000123456", "county": "Fresno", "status": "open", "stage": "nope", "members": []}]}"#,
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        caseline()
            .arg("import")
            .arg(file)
            .env("CASELINE_DATABASE_URL", &db)
            .env(
                "CASELINE_BLIND_INDEX_KEY",
                "cli-test-blind-index-key-0123456789",
            )
            .env("CASELINE_ARGON2_MEMORY_KIB", "256")
            .env("CASELINE_ARGON2_ITERATIONS", "1")
            .output()
            .unwrap()
    };
    let out = run(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("participants[0].ssn: must be 9 digits"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cases[0].stage: 'nope' is not one of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cases[0].members: a case needs at least one member"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 error(s); nothing was imported"),
        "{stderr}"
    );
    assert!(!stderr.contains("900-12-345"), "{stderr}");
    assert!(
        !dir.path().join("import.db").exists(),
        "nothing was written, not even a database"
    );

    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/extract.json");
    let out = run(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("6 participants written, 0 unchanged; 4 cases written, 0 unchanged"),
        "{stdout}"
    );
    let again = run(&good);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 participants written, 6 unchanged; 0 cases written, 4 unchanged"),
        "{stdout}"
    );
}

#[test]
fn announce_set_show_clear_and_callbacks_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/caseline.db", dir.path().display());
    let run = |args: &[&str]| {
        let out = caseline()
            .env("CASELINE_DATABASE_URL", &db)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&[
        "announce",
        "set",
        "--en",
        "Our offices are closed today.",
        "--es",
        "Nuestras oficinas están cerradas hoy.",
        "--until",
        "2099-01-01T00:00:00Z",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = run(&["announce", "show"]);
    assert!(ok);
    assert!(
        out.contains("English: Our offices are closed today."),
        "{out}"
    );
    assert!(out.contains("Spanish: Nuestras oficinas"), "{out}");
    assert!(out.contains("playing now: yes"), "{out}");
    let (ok, _, err) = run(&[
        "announce", "set", "--en", "x", "--es", "y", "--from", "soon",
    ]);
    assert!(!ok && err.contains("RFC 3339"), "{err}");
    let (ok, out, _) = run(&["announce", "clear"]);
    assert!(ok && out.contains("cleared"));
    let (_, out, _) = run(&["announce", "show"]);
    assert!(out.contains("no announcement"), "{out}");
    let (ok, out, _) = run(&["callbacks", "list"]);
    assert!(ok && out.contains("no callback requests"), "{out}");

    // The call analytics: nothing yet, and exactly the report's keys in JSON.
    let (ok, out, err) = run(&["report", "--days", "1", "--format", "json"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["calls"], 0);
    assert_eq!(report.as_object().map(|o| o.len()), Some(17), "{out}");
    assert_eq!(report["load_tests_included"], false);
    let (ok, out, _) = run(&["report"]);
    assert!(ok && out.contains("calls 0"), "{out}");
    // One agency's report needs the agencies file that names it.
    let (ok, _, err) = run(&["report", "--agency", "fresno"]);
    assert!(!ok && err.contains("set CASELINE_AGENCIES_FILE"), "{err}");

    // The callback dialer's switch, for every server.
    let (ok, out, _) = run(&["callbacks", "pause"]);
    assert!(ok && out.contains("paused"), "{out}");
    let (ok, out, _) = run(&["callbacks", "resume"]);
    assert!(ok && out.contains("running"), "{out}");

    // Card payments: none yet, then one, by card type and last four digits only.
    let (ok, out, _) = run(&["payments", "list"]);
    assert!(
        ok && out.contains("no card payments in the last 30 days"),
        "{out}"
    );
    let (ok, _, err) = run(&["payments", "list", "--days", "0"]);
    assert!(!ok && err.contains("--days"), "{err}");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = caseline::store::Store::connect(&db).await.unwrap();
        store
            .card_payments()
            .add(&caseline::domain::pay::NewPayment {
                amount: rust_decimal::Decimal::new(61240, 2),
                card_type: "mastercard",
                card_last4: "4444",
                lang: "es",
                ..crate::helpers::paid(
                    "ch_cli0001",
                    "CA0123456789abcdef0123456789abcdef",
                    chrono::Utc::now().timestamp(),
                    None,
                )
            })
            .await
            .unwrap();
        store.close().await;
    });
    let (ok, out, _) = run(&["payments", "list"]);
    assert!(ok, "{out}");
    for part in [
        "case 190000123456",
        "612.40",
        "mastercard ending 4444",
        "conf ch_cli0001",
        "es",
    ] {
        assert!(out.contains(part), "{part}: {out}");
    }
}

#[test]
fn staff_add_reads_the_password_from_stdin_then_list_and_disable() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/caseline.db", dir.path().display());
    let add = |name: &str, password: &str| {
        let mut child = caseline()
            .env("CASELINE_DATABASE_URL", &db)
            .args(["staff", "add", name, "--role", "supervisor"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add("dana", "a long enough passphrase");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let short = add("lee", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let again = add("dana", "another long passphrase");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"));
    let run = |args: &[&str]| {
        let out = caseline()
            .env("CASELINE_DATABASE_URL", &db)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(run(&["staff", "list"]).contains("dana"));
    assert!(run(&["staff", "disable", "dana"]).contains("disabled dana"));
    let list = run(&["staff", "list"]);
    assert!(
        list.contains("supervisor") && list.contains("disabled"),
        "{list}"
    );
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A port that is taken: serve logs its warning about signatures, then stops.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = caseline()
        .args(["serve", "--insecure-no-signature"])
        .env(
            "CASELINE_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env(
            "CASELINE_BLIND_INDEX_KEY",
            "cli-test-blind-index-key-0123456789",
        )
        .env("CASELINE_LISTEN", taken.local_addr().unwrap().to_string())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("SIGNATURE CHECKS ARE OFF"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in: {stderr:?}");
}

#[test]
fn staff_add_works_in_an_empty_folder_with_only_the_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/staff.db", dir.path().display());
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseline"))
            .current_dir(dir.path())
            .env_clear()
            .env("CASELINE_DATABASE_URL", &db)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["staff", "add", "dana", "--role", "agent"],
        "a long enough passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added dana (agent, statewide)"));
    let out = run(&["staff", "list"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dana"));
}

/// The shipped flows and prompts copied to a temp folder, with `edit` applied to each
/// file's text (flows and prompts alike).
fn edited_copy(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    for sub in ["call-flows", "prompts"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(format!("{root}/{sub}")).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(dir.path().join(sub).join(&name), edit(&name, &text)).unwrap();
            }
        }
    }
    dir
}

fn flows_check(dir: &std::path::Path) -> (bool, String) {
    let out = caseline()
        .args(["flows", "check"])
        .arg(dir.join("call-flows"))
        .arg("--prompts")
        .arg(dir.join("prompts"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flows_check_refuses_a_key_that_no_words_offer() {
    let dir = edited_copy(|name, text| {
        if name == "main.xml" {
            text.replace(
                r#"<Key digit="9" step="change-language"/>"#,
                "<Key digit=\"9\" step=\"change-language\"/>\n    <Key digit=\"8\" step=\"payments\"/>",
            )
        } else {
            text.to_string()
        }
    });
    let (ok, stderr) = flows_check(dir.path());
    assert!(!ok, "{stderr}");
    let main = dir.path().join("call-flows/main.xml").display().to_string();
    let line = stderr
        .lines()
        .find(|l| l.contains("key 8 is never offered"))
        .unwrap_or_else(|| panic!("no error for key 8 in:\n{stderr}"));
    assert!(line.starts_with(&format!("{main}:")), "{line}");
    let lineno: usize = line[main.len() + 1..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let text = std::fs::read_to_string(&main).unwrap();
    assert!(
        text.lines()
            .nth(lineno - 1)
            .unwrap()
            .contains(r#"digit="8""#),
        "line {lineno} is the key's"
    );
}

#[test]
fn flows_check_refuses_words_that_offer_a_key_the_menu_lacks() {
    let dir = edited_copy(|name, text| {
        if name == "es.toml" {
            text.replace(
                "Para cambiar el idioma, oprima 9.",
                "Para cambiar el idioma, oprima 9. Para las noticias, oprima 7.",
            )
        } else {
            text.to_string()
        }
    });
    let (ok, stderr) = flows_check(dir.path());
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("prompt 'menu.main' (es) offers key 7"),
        "{stderr}"
    );
}

#[test]
fn flows_check_requires_the_entries_staff_send_callers_to() {
    let dir = edited_copy(|name, text| {
        if name == "staff.xml" {
            text.replace(
                r#"<Entry name="staff-payments" step="staff-payments"/>"#,
                "",
            )
        } else {
            text.to_string()
        }
    });
    let (ok, stderr) = flows_check(dir.path());
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(r#"no <Entry name="staff-payments">"#),
        "{stderr}"
    );
}

#[test]
fn flows_check_refuses_a_menu_key_without_words_in_a_language() {
    let without = |langs: &'static [&'static str]| {
        edited_copy(move |name, text| {
            if langs.iter().any(|l| name == format!("{l}.toml")) {
                text.lines()
                    .filter(|l| !l.starts_with("\"main.say.4\""))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                text.to_string()
            }
        })
    };
    // Missing in Spanish only: the catalogs disagree.
    let (ok, stderr) = flows_check(without(&["es"]).path());
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("menu.main.say.4") && stderr.contains("es"),
        "{stderr}"
    );
    // Missing in both: the menu's key 4 has nothing a caller could say.
    let dir = without(&["en", "es"]);
    let (ok, stderr) = flows_check(dir.path());
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("key 4 has no words to say it in en and es"),
        "{stderr}"
    );
    assert!(stderr.contains("main.xml:"), "{stderr}");
}

/// Every step id in the shipped flows (`<Step|Menu|Input id="...">`).
fn shipped_steps() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("call-flows");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let text = std::fs::read_to_string(path).unwrap();
            for tag in ["<Step id=\"", "<Menu id=\"", "<Input id=\""] {
                for part in text.split(tag).skip(1) {
                    ids.push(part.split('"').next().unwrap().to_string());
                }
            }
        }
    }
    assert!(ids.len() > 100, "{ids:?}");
    ids
}

#[test]
fn flows_diagram_draws_every_step_in_each_format() {
    let steps = shipped_steps();
    let run = |format: &str| {
        let out = caseline()
            .args(["flows", "diagram", "--format", format])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let dot = run("dot");
    assert!(dot.starts_with("digraph flows {"), "{dot}");
    for id in &steps {
        assert!(
            dot.contains(&format!("\"{id}\" [label=")),
            "{id} not in the DOT"
        );
    }
    // Keys labelled, misses dashed, entries marked, the shared edges noted once.
    assert!(
        dot.contains("\"main-menu\" -> \"payments\" [label=\"1\"]"),
        "{dot}"
    );
    assert!(dot.contains("style=dashed"));
    assert!(dot.contains("\"entry voice\" -> \"welcome\""));
    assert!(dot.contains("every menu: "));
    assert!(dot.contains("\"main-menu\" [label=\"main-menu (menu.main)\""));

    let mermaid = run("mermaid");
    assert!(mermaid.starts_with("flowchart TD"));
    for id in &steps {
        assert!(mermaid.contains(id.as_str()), "{id} not in the Mermaid");
    }
    assert!(mermaid.contains("-.->"));

    // The SVG is XML, and names the steps in its text.
    let svg = run("svg");
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut texts = String::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Text(t)) => {
                texts.push_str(&String::from_utf8_lossy(t.as_ref().as_bytes()));
                texts.push('\n');
            }
            Ok(_) => {}
            Err(e) => panic!("the SVG is not XML: {e}"),
        }
    }
    assert!(svg.contains("<svg"), "{}", &svg[..200.min(svg.len())]);
    for id in [
        "main-menu",
        "welcome",
        "pay-confirm",
        "callee-menu",
        "request-check",
    ] {
        assert!(texts.contains(id), "{id} not drawn");
    }
}

#[test]
fn flows_diagram_draws_one_flow_file_with_its_ways_out() {
    let run = |args: &[&str]| {
        caseline()
            .args(["flows", "diagram"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--flow", "main"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8(out.stdout).unwrap();
    // The main menu's own steps, in full.
    for id in ["welcome", "language", "main-menu", "representative"] {
        assert!(dot.contains(&format!("\"{id}\" [label=")), "{id}: {dot}");
    }
    assert!(dot.contains("\"entry voice\" -> \"welcome\""), "{dot}");
    // Where its keys lead in other files: grey, named with the file, not followed.
    assert!(
        dot.contains("\"payments\" [label=\"payments (in selfservice)\", shape=box, style=filled]"),
        "{dot}"
    );
    assert!(dot.contains("\"main-menu\" -> \"payments\" [label=\"1\"]"));
    assert!(
        !dot.contains("pay-confirm") && !dot.contains("\"payments\" ->"),
        "{dot}"
    );
    assert!(dot.contains("every menu: "));
    // The SVG of it is XML.
    let out = run(&["--flow", "main", "--format", "svg"]);
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let mut reader = quick_xml::Reader::from_str(&svg);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("the SVG is not XML: {e}"),
        }
    }
    assert!(svg.contains("main-menu"));
    // A file that is not there is named, with the ones that are.
    let out = run(&["--flow", "mian"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no flow file named 'mian'") && stderr.contains("main, pay"),
        "{stderr}"
    );
}

#[test]
fn a_blind_index_key_other_than_the_imports_is_refused_by_import_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/keys.db", dir.path().display());
    let extract = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/extract.json");
    let first_key = "cli-test-blind-index-key-0123456789";
    let other_key = "another-blind-index-key-9876543210";
    let import = |key: &str| {
        caseline()
            .arg("import")
            .arg(&extract)
            .env("CASELINE_DATABASE_URL", &db)
            .env("CASELINE_BLIND_INDEX_KEY", key)
            .env("CASELINE_ARGON2_MEMORY_KIB", "256")
            .env("CASELINE_ARGON2_ITERATIONS", "1")
            .output()
            .unwrap()
    };
    assert!(import(first_key).status.success());
    let refused = import(other_key);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("CASELINE_BLIND_INDEX_KEY is not the key this database's participants were imported with"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(other_key) && !stderr.contains(first_key),
        "{stderr}"
    );
    // Nothing was added: the right key finds every participant unchanged.
    let again = import(first_key);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 participants written, 6 unchanged"),
        "{stdout}"
    );

    // A database imported before fingerprints were kept waits for `adopt-key`.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        sqlx::query("DELETE FROM key_fingerprints")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let waits = import(first_key);
    let stderr = String::from_utf8_lossy(&waits.stderr);
    assert!(!waits.status.success(), "{stderr}");
    assert!(stderr.contains("caseline adopt-key"), "{stderr}");
    let adopt = caseline()
        .arg("adopt-key")
        .env("CASELINE_DATABASE_URL", &db)
        .env("CASELINE_BLIND_INDEX_KEY", first_key)
        .output()
        .unwrap();
    assert!(
        adopt.status.success(),
        "{}",
        String::from_utf8_lossy(&adopt.stderr)
    );
    assert!(import(first_key).status.success());

    // The server refuses to start with the other key instead of failing every caller.
    let out = caseline()
        .args(["serve", "--insecure-no-signature"])
        .env("CASELINE_DATABASE_URL", &db)
        .env("CASELINE_BLIND_INDEX_KEY", other_key)
        .env("CASELINE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is not the key this database's participants were imported with"),
        "{stderr}"
    );
}

#[test]
fn agencies_check_passes_on_the_shipped_file_and_warns_of_each_placeholder() {
    let out = caseline().args(["agencies", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("agencies/california.toml: 48 agencies (7 regional), 58 of 58 counties"),
        "{stdout}"
    );
    assert!(stdout.contains("ZIP table: "), "{stdout}");
    // Each placeholder is a warning at its own line, not an error.
    let fresno = stderr
        .lines()
        .find(|l| l.contains("agency 'fresno': reach is TO-BE-FILLED"))
        .unwrap_or_else(|| panic!("no warning for fresno in:\n{stderr}"));
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("agencies/california.toml"),
    )
    .unwrap();
    let reach_line = text
        .lines()
        .enumerate()
        .skip_while(|(_, l)| *l != "id = \"fresno\"")
        .find(|(_, l)| l.starts_with("reach ="))
        .map(|(i, _)| i + 1)
        .unwrap();
    assert!(
        fresno.starts_with(&format!("agencies/california.toml:{reach_line}: warning: ")),
        "{fresno}"
    );
    // --strict: the placeholders refuse the file.
    let strict = caseline()
        .args(["agencies", "check", "--strict"])
        .output()
        .unwrap();
    assert!(!strict.status.success());
}

#[test]
fn agencies_check_refuses_a_bad_file_naming_file_and_line() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("agencies/california.toml")).unwrap();
    // The same file elsewhere, its holidays and ZIP table named by absolute path; then
    // Fresno also in Kern's agency, Yuba misspelt, Kings' hours wrong.
    let mut text = shipped
        .replace(
            "\"../holidays/california.txt\"",
            &format!("\"{}\"", root.join("holidays/california.txt").display()),
        )
        .replace(
            "\"california-zip-counties.csv\"",
            &format!(
                "\"{}\"",
                root.join("agencies/california-zip-counties.csv").display()
            ),
        );
    for (from, to) in [
        ("counties = [\"Kern\"]", "counties = [\"Kern\", \"Fresno\"]"),
        ("counties = [\"Yuba\"]", "counties = [\"Yubaa\"]"),
        (
            "counties = [\"Kings\"]\nreach = \"TO-BE-FILLED\"\nhours = \"mon-sun 08:00-16:00\"",
            "counties = [\"Kings\"]\nreach = \"TO-BE-FILLED\"\nhours = \"mon-fri 9-5\"",
        ),
    ] {
        assert!(text.contains(from), "the shipped file has no '{from}'");
        text = text.replace(from, to);
    }
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l == needle)
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no line {needle}"))
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, &text).unwrap();
    let out = caseline()
        .args(["agencies", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "no summary for a refused file");
    let f = file.display().to_string();
    for want in [
        format!(
            "{f}:{}: Fresno is in two agencies",
            line_of("counties = [\"Kern\", \"Fresno\"]")
        ),
        format!(
            "{f}:{}: 'Yubaa' is not a California county",
            line_of("counties = [\"Yubaa\"]")
        ),
        format!(
            "{f}:{}: agency 'kings': hours: ",
            line_of("hours = \"mon-fri 9-5\"")
        ),
        format!("{f}: Yuba is in no agency"),
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with(&want)),
            "no line starting '{want}' in:\n{stderr}"
        );
    }
    assert!(stderr.contains("4 error(s)"), "{stderr}");
}

#[test]
fn staff_add_takes_an_agency_of_the_agencies_file_and_list_shows_it() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/caseline.db", dir.path().display());
    let agencies = crate::routing::agencies_file(dir.path());
    let add = |args: &[&str], file: Option<&std::path::Path>| {
        let mut cmd = caseline();
        cmd.env("CASELINE_DATABASE_URL", &db)
            .env_remove("CASELINE_AGENCIES_FILE")
            .args(["staff", "add"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(f) = file {
            cmd.env("CASELINE_AGENCIES_FILE", f);
        }
        let mut child = cmd.spawn().unwrap();
        writeln!(child.stdin.take().unwrap(), "a long enough passphrase").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add(
        &["kim", "--role", "agent", "--agency", "fresno"],
        Some(&agencies),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("added kim (agent, agency fresno)"), "{said}");
    // An id the file does not have, and any id without a file, are refused by name.
    let unknown = add(
        &["lee", "--role", "agent", "--agency", "fresn0"],
        Some(&agencies),
    );
    assert!(!unknown.status.success());
    let why = String::from_utf8_lossy(&unknown.stderr);
    assert!(why.contains("no agency 'fresn0' in"), "{why}");
    let no_file = add(&["lee", "--role", "agent", "--agency", "fresno"], None);
    assert!(!no_file.status.success());
    let why = String::from_utf8_lossy(&no_file.stderr);
    assert!(why.contains("no agencies file"), "{why}");
    assert!(add(&["sam", "--role", "supervisor"], None).status.success());
    let list = caseline()
        .env("CASELINE_DATABASE_URL", &db)
        .args(["staff", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let line = |name: &str| {
        list.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("kim").contains("fresno"), "{list}");
    assert!(line("sam").contains("statewide"), "{list}");
    assert!(!list.contains("lee"), "{list}");
}
