//! One connection's state and clocks: requests in flight, when it went idle, when the
//! head being read began, kept in a few atomics that the socket, the service and the
//! connection's own deadline read (see the server's docs for why not a timer per
//! request).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, Version};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// One connection's state, shared by its socket, its service and the registry.
#[derive(Debug)]
pub(super) struct Conn {
    /// Requests in flight: from a complete head until the response body has been
    /// written (or dropped).
    pub(super) busy: AtomicU32,
    /// When the connection last went idle (see [`now_ms`]): its accept, then the end of
    /// each response.
    pub(super) idle_since: AtomicU64,
    /// When the request head being read began: the accept for the first request, the
    /// first byte of each later one; 0 while there is none.
    pub(super) head_since: AtomicU64,
    /// An HTTP/2 connection: bytes on it while idle (pings, settings) do not start a
    /// request head.
    pub(super) h2: AtomicBool,
    /// When the latest request in flight began.
    pub(super) busy_since: AtomicU64,
}

/// A request still in flight this long after it began is not reading its answer: its
/// connection may be closed to make room (every route answers within 10 s).
pub(super) const STUCK_MS: u64 = 15_000;
/// ... and is closed this long after it began, room needed or not.
pub(super) const MAX_REQUEST_MS: u64 = 30_000;

impl Conn {
    pub(super) fn new(now: u64) -> Conn {
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
    pub(super) fn bytes_in(&self) {
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
    pub(super) fn due(&self, header_ms: u64, idle_ms: u64) -> u64 {
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
    pub(super) fn stuck(&self, now: u64) -> bool {
        self.busy.load(Ordering::Acquire) > 0
            && now.saturating_sub(self.busy_since.load(Ordering::Relaxed)) > STUCK_MS
    }

    /// The last sign of life, for choosing the connections to close first.
    pub(super) fn last_active(&self) -> u64 {
        self.idle_since
            .load(Ordering::Relaxed)
            .max(self.head_since.load(Ordering::Relaxed))
    }
}

/// Marks a request in flight on its connection until dropped, with the response body.
pub(super) struct InFlight(pub(super) Arc<Conn>);

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
pub(super) struct Tracked {
    pub(super) router: Router,
    pub(super) conn: Arc<Conn>,
    pub(super) peer: SocketAddr,
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

pub(super) struct TrackedFuture<F> {
    pub(super) inner: F,
    pub(super) in_flight: Option<InFlight>,
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
pub(super) struct TrackedBody {
    pub(super) body: axum::body::Body,
    pub(super) _in_flight: Option<InFlight>,
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
pub(super) struct Watched {
    pub(super) stream: TcpStream,
    pub(super) conn: Arc<Conn>,
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

/// The time the connection clocks count from.
pub(super) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since [`epoch`], plus one: 0 means "not set".
pub(super) fn now_ms() -> u64 {
    let epoch = epoch();
    millis_of(Instant::now().saturating_duration_since(epoch)).saturating_add(1)
}

pub(super) fn instant_of(ms: u64) -> Instant {
    epoch() + Duration::from_millis(ms.saturating_sub(1))
}

pub(super) fn millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
