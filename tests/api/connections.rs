//! The server under connections that never send a request: held by the hundred, silent,
//! dripping a byte at a time, or idle after one request. Each test runs the real binary
//! on loopback with a lowered descriptor limit (as a service manager gives it) and short
//! timeouts, and bounds every wait.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers as common;

/// Idle connections held: more than a 1,024 descriptor limit allows.
const HELD: usize = 1300;

/// A `caseline serve` child process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server with the open-file limit `(soft, hard)` if given, and extra
    /// `CASELINE_*` variables; waits until it answers.
    fn start(nofile: Option<(u64, u64)>, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_caseline"));
        // Signatures are off unless the test gives a token.
        let signed = env.iter().any(|(k, _)| *k == "CASELINE_TWILIO_AUTH_TOKEN");
        let args: &[&str] = if signed {
            &["serve"]
        } else {
            &["serve", "--insecure-no-signature"]
        };
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .env_remove("CASELINE_FLOWS_DIR")
            .env_remove("CASELINE_PROMPTS_DIR")
            .env_remove("CASELINE_CONFIG")
            .env(
                "CASELINE_DATABASE_URL",
                format!("sqlite://{}/connections.db", dir.path().display()),
            )
            .env(
                "CASELINE_BLIND_INDEX_KEY",
                "connections-test-blind-index-key-0123456789",
            )
            .env("CASELINE_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some((soft, hard)) = nofile {
            // SAFETY: setrlimit is async-signal-safe, and nothing else runs in the child.
            unsafe {
                cmd.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard));
            }
        }
        let mut child = cmd.spawn().unwrap();
        let log = common::capture_stderr(&mut child);
        let mut server = Server {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            log,
            dir,
        };
        let line = server.wait_for_log("caseline is answering", Duration::from_secs(30));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line}"));
        server.addr = addr.parse().unwrap();
        server
    }

    /// The first log line containing `text`, waiting up to `limit` for it.
    fn wait_for_log(&mut self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().lines().find(|l| l.contains(text)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("caseline exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < limit,
                "no '{text}' in the log within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET /healthz` on a fresh connection; the whole answer, or what went wrong.
    fn healthz(&self) -> io::Result<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: caseline\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok(answer)
    }

    /// Asserts `/healthz` answers 200 within a few seconds.
    fn assert_healthy(&self) {
        let start = Instant::now();
        let answer = self.healthz();
        let took = start.elapsed();
        match answer {
            Ok(a) if a.starts_with("HTTP/1.1 200") && took < Duration::from_secs(5) => {}
            other => panic!(
                "/healthz after {took:?}: {other:?}\nserver log:\n{}",
                self.log()
            ),
        }
    }

    /// `n` connections opened one after another, sending nothing.
    fn hold(&self, n: usize) -> Vec<TcpStream> {
        (0..n)
            .map(|i| {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"));
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect()
    }

    /// SIGTERM, then the exit status within `limit`.
    fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < limit, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process holds many connections: lift its own soft limit (to the hard one).
fn lift_own_limit() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        limit > 3 * HELD as u64,
        "the hard open-file limit ({limit}) is too low for this test"
    );
}

/// Whether the server has closed this (non-blocking) connection; what it sent is
/// discarded.
fn closed(mut s: &TcpStream) -> bool {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// Waits until every connection in `conns` is closed, or `limit` passes; answers how
/// many are still open.
fn wait_closed(conns: &[TcpStream], limit: Duration) -> usize {
    let start = Instant::now();
    let mut open: Vec<usize> = (0..conns.len()).collect();
    loop {
        open.retain(|&i| !closed(&conns[i]));
        if open.is_empty() || start.elapsed() >= limit {
            return open.len();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One keep-alive request for `/healthz` on `s` (blocking): the answer's head and body.
fn keep_alive_healthz(s: &mut TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: caseline\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-answer");
        answer.push(byte[0]);
    }
    let head = String::from_utf8(answer).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn silent_connections_past_the_descriptor_limit_are_closed_and_healthz_answers() {
    lift_own_limit();
    // The hard limit too: the server cannot raise it.
    let mut server = Server::start(Some((1024, 1024)), &[("CASELINE_HEADER_TIMEOUT_SECS", "2")]);
    let line = server.wait_for_log("open-file limit", Duration::from_secs(5));
    assert!(line.contains("limit=1024"), "{line}");
    let held = server.hold(HELD);
    let opened = Instant::now();
    server.assert_healthy();
    // Every one of them is closed by the header timeout (or earlier, to make room).
    let left = wait_closed(
        &held,
        Duration::from_secs(2 + 4).saturating_sub(opened.elapsed()),
    );
    assert_eq!(left, 0, "{left} silent connections still open");
    server.assert_healthy();
}

#[test]
fn past_the_cap_the_longest_idle_connections_make_room() {
    lift_own_limit();
    // A header timeout too long to help: only closing idle connections makes room.
    let server = Server::start(
        Some((1024, 1024)),
        &[("CASELINE_HEADER_TIMEOUT_SECS", "60")],
    );
    let held = server.hold(HELD);
    server.assert_healthy();
    // The cap under 1,024 descriptors is 922: the oldest ~380 went, oldest first.
    let (oldest, rest) = held.split_at(300);
    let left = wait_closed(oldest, Duration::from_secs(5));
    assert_eq!(left, 0, "{left} of the 300 oldest connections still open");
    let newest = &rest[300..];
    let gone = newest.iter().filter(|s| closed(s)).count();
    assert_eq!(gone, 0, "{gone} of the 700 newest connections were closed");
    assert!(
        server
            .log()
            .contains("closed the connections idle the longest"),
        "{}",
        server.log()
    );
}

#[test]
fn the_server_raises_its_open_file_limit_and_holds_every_connection() {
    lift_own_limit();
    let mut server = Server::start(
        Some((1024, 20_000)),
        &[("CASELINE_HEADER_TIMEOUT_SECS", "30")],
    );
    let line = server.wait_for_log("open-file limit", Duration::from_secs(5));
    assert!(
        line.contains("raised") && line.contains("limit=20000") && line.contains("was=1024"),
        "{line}"
    );
    let held = server.hold(HELD);
    server.assert_healthy();
    let gone = held.iter().filter(|s| closed(s)).count();
    assert_eq!(gone, 0, "{gone} of {HELD} connections were closed");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Server::start(
        None,
        &[
            ("CASELINE_HEADER_TIMEOUT_SECS", "1"),
            ("CASELINE_IDLE_TIMEOUT_SECS", "3"),
        ],
    );
    let mut s = TcpStream::connect_timeout(&server.addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let first = keep_alive_healthz(&mut s);
    assert!(
        first.starts_with("HTTP/1.1 200") && first.ends_with("ok"),
        "{first}"
    );
    // Idle longer than the header timeout: still open, and it serves a second request.
    std::thread::sleep(Duration::from_millis(1500));
    let second = keep_alive_healthz(&mut s);
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    let answered = Instant::now();
    // Then idle: closed after the idle timeout, not before.
    let mut buf = [0u8; 16];
    let end = s.read(&mut buf);
    let idle = answered.elapsed();
    assert!(
        matches!(end, Ok(0))
            || end
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset),
        "{end:?} after {idle:?}"
    );
    assert!(
        idle >= Duration::from_millis(2500) && idle < Duration::from_secs(5),
        "closed after {idle:?} idle (timeout 3 s)"
    );
}

/// Sends `bytes` one every 500 ms until the server closes the connection; answers
/// how long after the first byte it did (`None`: it never did) and what it sent.
fn drip(s: &mut TcpStream, bytes: &[u8], limit: Duration) -> (Option<Duration>, Vec<u8>) {
    s.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut next = 0;
    let mut received = Vec::new();
    while start.elapsed() < limit {
        if start.elapsed() >= Duration::from_millis(500) * next as u32 && next < bytes.len() {
            if s.write_all(&bytes[next..=next]).is_err() {
                return (Some(start.elapsed()), received);
            }
            next += 1;
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => return (Some(start.elapsed()), received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return (Some(start.elapsed()), received),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (None, received)
}

#[test]
fn a_slow_drip_sender_is_cut_off_after_the_header_timeout() {
    let server = Server::start(
        None,
        &[
            ("CASELINE_HEADER_TIMEOUT_SECS", "2"),
            ("CASELINE_IDLE_TIMEOUT_SECS", "30"),
        ],
    );
    let request = b"GET /healthz HTTP/1.1\r\nHost: caseline\r\nX-Padding: drip drip drip\r\n\r\n";
    let addr = server.addr;
    // On a fresh connection.
    let fresh = std::thread::spawn(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
        drip(&mut s, request, Duration::from_secs(6))
    });
    // And on a keep-alive connection, idle longer than the header timeout first: the
    // header clock starts at the next request's first byte.
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let first = keep_alive_healthz(&mut s);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    std::thread::sleep(Duration::from_millis(2500));
    let (kept, kept_got) = drip(&mut s, request, Duration::from_secs(6));
    let (fresh, fresh_got) = fresh.join().unwrap();
    for (what, cut, got) in [("fresh", fresh, fresh_got), ("keep-alive", kept, kept_got)] {
        let cut = cut.unwrap_or_else(|| panic!("{what}: never cut off"));
        assert!(
            cut >= Duration::from_millis(1500) && cut < Duration::from_millis(4500),
            "{what}: cut off {cut:?} after the first byte (header timeout 2 s)"
        );
        assert!(got.is_empty(), "{what}: {}", String::from_utf8_lossy(&got));
    }
}

#[test]
fn staff_logins_see_the_peer_address_and_sigterm_stops_cleanly() {
    let mut server = Server::start(None, &[]);
    let body = r#"{"name": "nobody", "password": "wrong"}"#;
    let mut s = TcpStream::connect_timeout(&server.addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /staff/login HTTP/1.1\r\nHost: caseline\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}\n{}", server.log());
    let db = rusqlite::Connection::open(server.dir.path().join("connections.db")).unwrap();
    let address: String = db
        .query_row(
            "SELECT key FROM staff_login_limits WHERE key LIKE 'addr:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(address, "addr:127.0.0.1");
}

#[test]
fn a_flood_of_unsigned_requests_with_long_paths_stays_out_of_the_log() {
    let server = Server::start(None, &[("CASELINE_TWILIO_AUTH_TOKEN", "connections-token")]);
    let before = server.log().len();
    let path = format!("/voice/step/{}", "a".repeat(60 * 1024));
    let mut s = TcpStream::connect_timeout(&server.addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for _ in 0..300 {
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: caseline\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nCallSid=x"
        )
        .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 403"), "{status}");
        // The rest of the answer: headers, then the body by its length.
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    // Let the log reader catch up with what was written.
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    let added = log.len() - before;
    assert!(
        added < 1024 * 1024,
        "300 refusals added {added} bytes of log"
    );
    assert!(
        log.contains("refused a webhook"),
        "refusals are still logged:\n{log}"
    );
    assert!(
        log.contains("usually CASELINE_PUBLIC_URL") && log.contains("CASELINE_TWILIO_AUTH_TOKEN"),
        "a refusal names its usual cause:\n{log}"
    );
}
