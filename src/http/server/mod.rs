//! The HTTP server loop, in place of `axum::serve`.
//!
//! `axum::serve` has no header-read timeout, no idle timeout and no limit on
//! connections, and stops accepting (sleeping a second per failed `accept`) once the
//! descriptors run out. A client holding about 1,100 idle TCP connections used up the
//! 1,024 descriptors many service managers give, and the line answered nothing, signed
//! webhooks and `/healthz` included, for as long as they were held. This loop closes
//! what a client leaves hanging, and makes room when descriptors run short:
//!
//! - **Header timeout** (`CASELINE_HEADER_TIMEOUT_SECS`, 5 s): a request head must be
//!   complete this long after the connection was accepted (first request) or after its
//!   first byte came in (later requests), so a silent client and a slow-drip sender are
//!   both cut off.
//! - **Idle timeout** (`CASELINE_IDLE_TIMEOUT_SECS`, 75 s): a keep-alive connection
//!   with no request for this long is closed. It is longer than a load balancer's usual
//!   60 s, so a balancer closes first and never sends on a connection we are closing.
//! - **A connection cap** below the descriptor limit ([`raise_open_file_limit`] lifts
//!   the soft limit to the hard one at start; [`connection_cap`] keeps a reserve for the
//!   database and files). When a new connection would pass the cap, or `accept` fails
//!   with EMFILE/ENFILE, the connections idle the longest are closed and the new one is
//!   served: a flood of idle connections costs old idle ones a reconnect, instead of
//!   leaving the provider's webhooks waiting in the backlog.
//! - **Graceful shutdown**: stop accepting, let the requests in flight finish (each
//!   connection's `graceful_shutdown`), for at most [`Options::shutdown_grace`].
//!
//! The hot path stays cheap: no timer and no lock per request. hyper's own
//! `header_read_timeout` is not used: it allocates a timer for every request and, since
//! it also runs between keep-alive requests, would close keep-alive connections after
//! the header timeout. Instead each connection keeps a few atomics (`Conn`: requests in
//! flight, when it went idle, when the head being read began), written once or twice per
//! request, and one sleep of its own that reads them when it fires and is re-armed for
//! the next deadline, at most a header timeout later (so a head that begins meanwhile is
//! still cut off on time). The registry of connections (a mutex) is touched when a
//! connection opens or closes, and scanned only when room must be made.
//!
//! A request in flight is bounded too: every route answers within 10 s, so one still
//! in flight after 15 s (a client not reading its answer) may be closed to make room,
//! and after 30 s it is closed regardless.
//!
//! Connections are served with hyper-util's builder, HTTP/1.1 only (HTTP/2's flow
//! control would let a client hold a response open with a zero window), with upgrades,
//! so a WebSocket route would work. An upgraded connection leaves the registry (and the
//! cap) when hyper hands it to the route.
//!
//! Here the accept loop and each connection's task; [`conn`] holds a connection's
//! state and clocks, [`limits`] the cap, the registry and shedding.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

mod conn;
mod limits;
#[cfg(test)]
mod tests;

use conn::{Conn, Tracked, Watched, instant_of, millis_of, now_ms};
use limits::{Pressure, Registered, Registry, out_of_descriptors};
pub use limits::{connection_cap, raise_open_file_limit};

/// How the loop treats connections.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long a client has to send a complete request head.
    pub header_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// The most connections served at once (see [`connection_cap`]).
    pub max_connections: usize,
    /// How long requests in flight get to finish at shutdown (and on a busy connection
    /// closed to make room).
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (for at most `options.shutdown_grace`) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry::default());
    // HTTP/1.1 only: the provider and browsers speak it, and HTTP/2's flow control
    // would let a client hold a response (and its connection) open forever with a
    // zero window. WebSockets upgrade over HTTP/1.1.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    // The timeouts are kept by `serve_connection` below, not by hyper (see the module
    // documentation); without a timer hyper keeps none, this says so.
    builder.http1().header_read_timeout(None);
    let builder = Arc::new(builder);
    let cap = options.max_connections.max(1);
    // Room is made a few connections at a time, so the registry is not scanned on every
    // accept under a flood.
    let batch = (cap / 64).max(1);
    let mut pressure = Pressure::default();
    tokio::pin!(shutdown);

    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let open = registry.open();
                if open >= cap {
                    let shed = registry.shed(open + batch - cap);
                    pressure.shed(shed, open, cap);
                    if open - shed >= cap {
                        // Every connection has a request in flight: the reserve stays for
                        // the database.
                        pressure.refused(cap);
                        drop(stream);
                        continue;
                    }
                }
                spawn_connection(&registry, &builder, &router, stream, peer, options);
            }
            Err(e) if out_of_descriptors(&e) => {
                let closed = registry.closed.notified();
                tokio::pin!(closed);
                closed.as_mut().enable();
                let shed = registry.shed(batch);
                pressure.out_of_descriptors(&e, shed, registry.len());
                // Wait for a connection to close (one just told to, or any other), but
                // not long: a few milliseconds when there was nothing to close.
                let wait = if shed > 0 { 50 } else { 5 };
                let _ = tokio::time::timeout(Duration::from_millis(wait), closed).await;
            }
            // The client gave up before it was accepted.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => {
                pressure.accept_failed(&e);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    drop(listener);
    let deadline = Instant::now() + options.shutdown_grace;
    registry.stop_all(deadline);
    // The connections close themselves by the deadline; a little slack for them to run.
    let give_up = deadline + Duration::from_millis(500);
    loop {
        let closed = registry.closed.notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        let left = registry.len();
        if left == 0 {
            break;
        }
        if tokio::time::timeout_at(give_up, closed).await.is_err() {
            tracing::warn!(left, "connections still open after the shutdown grace");
            break;
        }
    }
}

fn spawn_connection(
    registry: &Arc<Registry>,
    builder: &Arc<Builder<TokioExecutor>>,
    router: &Router,
    stream: TcpStream,
    peer: SocketAddr,
    options: Options,
) {
    let conn = Arc::new(Conn::new(now_ms()));
    let (id, stop) = registry.add(conn.clone());
    let registered = Registered {
        registry: registry.clone(),
        id,
    };
    let builder = builder.clone();
    let router = router.clone();
    tokio::spawn(async move {
        // Leaves the registry after `serve_connection` has dropped the socket, so a
        // close notification means a descriptor is free.
        let _registered = registered;
        serve_connection(&builder, stream, peer, router, conn, stop, options).await;
    });
}

/// Serves one connection until it ends, times out, is told to make room, or the server
/// stops.
async fn serve_connection(
    builder: &Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    conn: Arc<Conn>,
    mut stop: oneshot::Receiver<Stop>,
    options: Options,
) {
    let header_ms = millis_of(options.header_timeout);
    let idle_ms = millis_of(options.idle_timeout);
    let io = TokioIo::new(Watched {
        stream,
        conn: conn.clone(),
    });
    let service = TowerToHyperService::new(Tracked {
        router,
        conn: conn.clone(),
        peer,
    });
    let served = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);
    let check = tokio::time::sleep(options.header_timeout);
    tokio::pin!(check);
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            stop = &mut stop, if !stopping => {
                let until = match stop {
                    Ok(Stop::Shed) if conn.busy.load(Ordering::Acquire) == 0 => {
                        tracing::debug!(%peer, "closed an idle connection to make room");
                        return;
                    }
                    Ok(Stop::Shed) if conn.stuck(now_ms()) => {
                        tracing::debug!(%peer, "closed a stuck connection to make room");
                        return;
                    }
                    Ok(Stop::Shed) | Err(_) => Instant::now() + options.shutdown_grace,
                    Ok(Stop::Shutdown(deadline)) => deadline,
                };
                served.as_mut().graceful_shutdown();
                stopping = true;
                check.as_mut().reset(until);
            }
            () = &mut check => {
                if stopping {
                    tracing::debug!(%peer, "request still in flight at the end of the grace");
                    return;
                }
                let now = now_ms();
                let next = match conn.due(header_ms, idle_ms) {
                    due if due <= now => {
                        tracing::debug!(%peer, "closed a connection that timed out");
                        return;
                    }
                    // A head may begin any moment (or the request in flight end), and
                    // must be complete a header timeout after; looking again by then is
                    // in time for it.
                    due => due.min(now.saturating_add(header_ms)),
                };
                check.as_mut().reset(instant_of(next));
            }
        }
    }
}

/// Why a connection is told to close.
enum Stop {
    /// To make room: closes at once if idle, else after its request.
    Shed,
    /// The server is stopping: finish the request in flight by then.
    Shutdown(Instant),
}
