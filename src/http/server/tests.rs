//! The server loop against real sockets: timeouts, shedding, the peer address,
//! graceful shutdown.

use super::conn::*;
use super::limits::*;
use super::*;
use axum::extract::ConnectInfo;
use std::io::{Read, Write};

use axum::routing::{get, post};

fn options() -> Options {
    Options {
        header_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(75),
        max_connections: 100,
        shutdown_grace: Duration::from_secs(10),
    }
}

/// Serves `router` on a loopback port on this runtime; answers the address and
/// the sender that stops it, and the server task.
async fn start(
    router: Router,
    options: Options,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, options, async {
        let _ = rx.await;
    }));
    (addr, tx, server)
}

/// One HTTP/1.1 request on a fresh blocking connection (run off the runtime).
async fn request(addr: SocketAddr, method: &'static str, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap()
}

#[test]
fn the_cap_keeps_a_reserve() {
    assert_eq!(connection_cap(1024), 922);
    assert_eq!(connection_cap(256), 192);
    assert_eq!(connection_cap(20_000), 18_000);
    assert_eq!(connection_cap(10), 1);
}

#[test]
fn a_connection_times_out_on_its_head_then_on_idleness() {
    let c = Arc::new(Conn::new(1_000));
    // Fresh: the header timeout from the accept, bytes or not.
    assert_eq!(c.due(5_000, 75_000), 6_000);
    c.bytes_in();
    assert_eq!(c.due(5_000, 75_000), 6_000);
    // A request in flight (as `Tracked::call` counts it) has until the longest a
    // request may take, and its body's bytes are not a new head.
    c.busy_since.store(2_000, Ordering::Relaxed);
    c.busy.fetch_add(1, Ordering::Relaxed);
    c.head_since.store(0, Ordering::Relaxed);
    let in_flight = InFlight(c.clone());
    assert_eq!(c.due(5_000, 75_000), 2_000 + MAX_REQUEST_MS);
    assert!(!c.stuck(2_000 + STUCK_MS));
    assert!(
        c.stuck(2_001 + STUCK_MS),
        "stuck: may be closed to make room"
    );
    c.bytes_in();
    assert_eq!(c.head_since.load(Ordering::Relaxed), 0);
    // Idle after it: the idle timeout, until a new head begins.
    drop(in_flight);
    assert_eq!(c.busy.load(Ordering::Relaxed), 0);
    let idle = c.idle_since.load(Ordering::Relaxed);
    assert_eq!(c.due(5_000, 75_000), idle + 75_000);
    c.bytes_in();
    let head = c.head_since.load(Ordering::Relaxed);
    assert!(head >= idle);
    assert_eq!(c.due(5_000, 75_000), head + 5_000);
    assert_eq!(c.last_active(), head);
}

#[test]
fn shedding_tells_the_longest_idle_and_skips_the_busy() {
    let r = Registry::default();
    let mut rx = Vec::new();
    for since in [50, 10, 40, 20, 30] {
        let (_, stop) = r.add(Arc::new(Conn::new(since)));
        rx.push((since, stop));
    }
    // The one idle since 10 is busy now.
    for e in r.lock().live.values() {
        if e.conn.idle_since.load(Ordering::Relaxed) == 10 {
            e.conn.busy.store(1, Ordering::Relaxed);
        }
    }
    assert_eq!(r.shed(2), 2);
    assert_eq!(r.open(), 3);
    let mut told: Vec<u64> = rx
        .iter_mut()
        .filter_map(|(since, stop)| matches!(stop.try_recv(), Ok(Stop::Shed)).then_some(*since))
        .collect();
    told.sort();
    assert_eq!(told, [20, 30]);
    // Not twice; and never more than there are idle.
    assert_eq!(r.shed(10), 2);
    assert_eq!(r.shed(10), 0);
    assert_eq!(r.open(), 1);
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let app = Router::new().route(
        "/peer",
        get(
            |peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
             ConnectInfo(direct): ConnectInfo<SocketAddr>| async move {
                let via_extension = peer.map(|c| c.0.0.ip().to_string());
                format!("{} {}", via_extension.unwrap_or_default(), direct.ip())
            },
        ),
    );
    let (addr, stop, server) = start(app, options()).await;
    let answer = request(addr, "GET", "/peer").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("127.0.0.1 127.0.0.1"), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_head_begun_on_an_idle_keep_alive_connection_gets_the_header_timeout() {
    let app = Router::new().route("/", get(|| async { "ok" }));
    let options = Options {
        header_timeout: Duration::from_millis(300),
        ..options()
    };
    let (addr, stop, server) = start(app, options).await;
    let cut = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = [0u8; 512];
        let n = s.read(&mut answer).unwrap();
        assert!(answer[..n].ends_with(b"ok"));
        // Idle past a check of the connection (at the header timeout), then one
        // byte of a head.
        std::thread::sleep(Duration::from_millis(500));
        s.write_all(b"G").unwrap();
        let began = std::time::Instant::now();
        assert_eq!(s.read(&mut answer).unwrap(), 0);
        began.elapsed()
    })
    .await
    .unwrap();
    assert!(
        cut >= Duration::from_millis(200) && cut < Duration::from_millis(1500),
        "{cut:?}"
    );
    stop.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let app = Router::new().route(
        "/slow",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done"
        }),
    );
    let (addr, stop, server) = start(app, options()).await;
    let slow = tokio::spawn(request(addr, "POST", "/slow"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    let answer = slow.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The listener is closed.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn shutdown_waits_no_longer_than_the_grace() {
    let app = Router::new().route("/stuck", post(std::future::pending::<()>));
    let options = Options {
        shutdown_grace: Duration::from_millis(300),
        ..options()
    };
    let (addr, stop, server) = start(app, options).await;
    let stuck = tokio::spawn(request(addr, "POST", "/stuck"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    // The stuck request's connection was closed without an answer.
    assert_eq!(stuck.await.unwrap(), "");
}
