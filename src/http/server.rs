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

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, Version};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

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

/// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one, logs the limit in
/// force and the connection cap it allows, and returns the limit.
pub fn raise_open_file_limit() -> u64 {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE);
    let limit = match (rlimit::increase_nofile_limit(u64::MAX), &before) {
        (Ok(limit), _) => limit,
        (Err(e), Ok((soft, hard))) => {
            tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit");
            *soft
        }
        (Err(e), Err(_)) => {
            tracing::warn!(error = %e, "could not read the open-file limit");
            1024
        }
    };
    let connections = connection_cap(limit);
    match before {
        Ok((soft, hard)) if soft < limit => tracing::info!(
            limit,
            was = soft,
            hard,
            connections,
            "open-file limit raised to the hard limit"
        ),
        _ => tracing::info!(limit, connections, "open-file limit"),
    }
    limit
}

/// The connections served at once under an open-file limit: the limit less a reserve
/// for the database, files and logs (a tenth, at least 64).
pub fn connection_cap(open_files: u64) -> usize {
    let reserve = (open_files / 10).max(64);
    let cap = open_files.saturating_sub(reserve).clamp(1, 1 << 20);
    usize::try_from(cap).unwrap_or(1 << 20)
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

/// One connection's state, shared by its socket, its service and the registry.
#[derive(Debug)]
struct Conn {
    /// Requests in flight: from a complete head until the response body has been
    /// written (or dropped).
    busy: AtomicU32,
    /// When the connection last went idle (see [`now_ms`]): its accept, then the end of
    /// each response.
    idle_since: AtomicU64,
    /// When the request head being read began: the accept for the first request, the
    /// first byte of each later one; 0 while there is none.
    head_since: AtomicU64,
    /// An HTTP/2 connection: bytes on it while idle (pings, settings) do not start a
    /// request head.
    h2: AtomicBool,
    /// When the latest request in flight began.
    busy_since: AtomicU64,
}

/// A request still in flight this long after it began is not reading its answer: its
/// connection may be closed to make room (every route answers within 10 s).
const STUCK_MS: u64 = 15_000;
/// ... and is closed this long after it began, room needed or not.
const MAX_REQUEST_MS: u64 = 30_000;

impl Conn {
    fn new(now: u64) -> Conn {
        Conn {
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            head_since: AtomicU64::new(now),
            h2: AtomicBool::new(false),
            busy_since: AtomicU64::new(0),
        }
    }

    /// Bytes came in: if the connection was idle, a request head has begun.
    #[inline]
    fn bytes_in(&self) {
        if self.head_since.load(Ordering::Relaxed) == 0
            && self.busy.load(Ordering::Relaxed) == 0
            && !self.h2.load(Ordering::Relaxed)
        {
            self.head_since.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// When the connection times out if nothing changes. A request in flight has until
    /// [`MAX_REQUEST_MS`] after it began: every route answers well before (the
    /// webhooks' deadline is 10 s), so past it the client is not reading its answer.
    fn due(&self, header_ms: u64, idle_ms: u64) -> u64 {
        if self.busy.load(Ordering::Acquire) > 0 {
            return self
                .busy_since
                .load(Ordering::Relaxed)
                .saturating_add(MAX_REQUEST_MS);
        }
        let idle = self
            .idle_since
            .load(Ordering::Relaxed)
            .saturating_add(idle_ms);
        match self.head_since.load(Ordering::Relaxed) {
            0 => idle,
            head => idle.min(head.saturating_add(header_ms)),
        }
    }

    /// A request has been in flight for longer than any route takes to answer.
    fn stuck(&self, now: u64) -> bool {
        self.busy.load(Ordering::Acquire) > 0
            && now.saturating_sub(self.busy_since.load(Ordering::Relaxed)) > STUCK_MS
    }

    /// The last sign of life, for choosing the connections to close first.
    fn last_active(&self) -> u64 {
        self.idle_since
            .load(Ordering::Relaxed)
            .max(self.head_since.load(Ordering::Relaxed))
    }
}

/// Marks a request in flight on its connection until dropped, with the response body.
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since.store(now_ms(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::Release);
    }
}

/// The router, keeping its connection's count of requests in flight and giving each
/// request the peer address (`ConnectInfo<SocketAddr>`, as
/// `into_make_service_with_connect_info` did).
#[derive(Clone)]
struct Tracked {
    router: Router,
    conn: Arc<Conn>,
    peer: SocketAddr,
}

impl tower::Service<Request<Incoming>> for Tracked {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = TrackedFuture<<Router as tower::Service<Request<Incoming>>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tower::Service::<Request<Incoming>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        let conn = &self.conn;
        if req.version() == Version::HTTP_2 && !conn.h2.load(Ordering::Relaxed) {
            conn.h2.store(true, Ordering::Relaxed);
        }
        conn.busy_since.store(now_ms(), Ordering::Relaxed);
        conn.busy.fetch_add(1, Ordering::Relaxed);
        conn.head_since.store(0, Ordering::Relaxed);
        let in_flight = InFlight(conn.clone());
        req.extensions_mut().insert(ConnectInfo(self.peer));
        TrackedFuture {
            inner: self.router.call(req),
            in_flight: Some(in_flight),
        }
    }
}

struct TrackedFuture<F> {
    inner: F,
    in_flight: Option<InFlight>,
}

impl<F, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<axum::response::Response, E>> + Unpin,
{
    type Output = Result<Response<TrackedBody>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let response = ready!(Pin::new(&mut this.inner).poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(response.map(|r| {
            r.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            })
        }))
    }
}

/// A response body that ends its request's time in flight when hyper is done with it.
struct TrackedBody {
    body: axum::body::Body,
    _in_flight: Option<InFlight>,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting when a request head begins on an idle connection.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.bytes_in();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The live connections, for making room and for shutdown.
#[derive(Default)]
struct Registry {
    inner: Mutex<Connections>,
    /// Woken whenever a connection closes.
    closed: Notify,
}

#[derive(Default)]
struct Connections {
    next_id: u64,
    live: HashMap<u64, Entry>,
    /// Connections told to close that have not closed yet.
    told: usize,
}

struct Entry {
    conn: Arc<Conn>,
    /// `None` once the connection has been told to close.
    stop: Option<oneshot::Sender<Stop>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Connections> {
        // The lock guards plain bookkeeping, left consistent at every step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, conn: Arc<Conn>) -> (u64, oneshot::Receiver<Stop>) {
        let (tx, rx) = oneshot::channel();
        let mut c = self.lock();
        let id = c.next_id;
        c.next_id += 1;
        c.live.insert(
            id,
            Entry {
                conn,
                stop: Some(tx),
            },
        );
        (id, rx)
    }

    fn remove(&self, id: u64) {
        {
            let mut c = self.lock();
            if let Some(entry) = c.live.remove(&id)
                && entry.stop.is_none()
            {
                c.told -= 1;
            }
        }
        self.closed.notify_waiters();
    }

    /// Connections open (descriptors held).
    fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Connections open and not told to close.
    fn open(&self) -> usize {
        let c = self.lock();
        c.live.len() - c.told
    }

    /// Tells up to `n` idle connections to close, those idle the longest first;
    /// returns how many.
    fn shed(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let now = now_ms();
        let mut guard = self.lock();
        let c = &mut *guard;
        let mut idle: Vec<(u64, u64)> = c
            .live
            .iter()
            .filter(|(_, e)| {
                e.stop.is_some() && (e.conn.busy.load(Ordering::Acquire) == 0 || e.conn.stuck(now))
            })
            .map(|(&id, e)| (e.conn.last_active(), id))
            .collect();
        let n = n.min(idle.len());
        if n == 0 {
            return 0;
        }
        if n < idle.len() {
            idle.select_nth_unstable(n - 1);
        }
        let mut told = 0;
        for (_, id) in &idle[..n] {
            if let Some(stop) = c.live.get_mut(id).and_then(|e| e.stop.take()) {
                // A connection that has just ended has dropped its receiver: nothing to do.
                let _ = stop.send(Stop::Shed);
                told += 1;
            }
        }
        c.told += told;
        told
    }

    /// Tells every connection the server is stopping.
    fn stop_all(&self, deadline: Instant) {
        let mut guard = self.lock();
        let c = &mut *guard;
        for entry in c.live.values_mut() {
            if let Some(stop) = entry.stop.take() {
                let _ = stop.send(Stop::Shutdown(deadline));
                c.told += 1;
            }
        }
    }
}

/// A connection's place in the registry, left when dropped.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// `accept` failed for want of descriptors (this process's, or the system's).
fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE and ENFILE; the same numbers on Linux, the BSDs and macOS.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Logs of a server short of room, at most one a second of each kind.
#[derive(Default)]
struct Pressure {
    last_shed: Option<Instant>,
    shed: usize,
    last_refused: Option<Instant>,
    refused: usize,
    last_error: Option<Instant>,
}

impl Pressure {
    fn shed(&mut self, n: usize, open: usize, cap: usize) {
        self.shed += n;
        if self.shed > 0 && due(&mut self.last_shed) {
            tracing::warn!(
                closed = self.shed,
                open,
                cap,
                "at the connection cap: closed the connections idle the longest"
            );
            self.shed = 0;
        }
    }

    fn refused(&mut self, cap: usize) {
        self.refused += 1;
        if due(&mut self.last_refused) {
            tracing::warn!(
                refused = self.refused,
                cap,
                "at the connection cap with every connection busy: refused new connections"
            );
            self.refused = 0;
        }
    }

    fn out_of_descriptors(&mut self, e: &io::Error, shed: usize, open: usize) {
        self.shed += shed;
        if due(&mut self.last_error) {
            tracing::warn!(
                error = %e,
                closed = self.shed,
                open,
                "out of descriptors: closed the connections idle the longest"
            );
            self.shed = 0;
        }
    }

    fn accept_failed(&mut self, e: &io::Error) {
        if due(&mut self.last_error) {
            tracing::warn!(error = %e, "accept failed");
        }
    }
}

/// True at most once a second.
fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match last {
        Some(t) if now.duration_since(*t) < Duration::from_secs(1) => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}

/// The time the connection clocks count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since [`epoch`], plus one: 0 means "not set".
fn now_ms() -> u64 {
    let epoch = epoch();
    millis_of(Instant::now().saturating_duration_since(epoch)).saturating_add(1)
}

fn instant_of(ms: u64) -> Instant {
    epoch() + Duration::from_millis(ms.saturating_sub(1))
}

fn millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
