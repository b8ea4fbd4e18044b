//! The API's accept loop: hyper serving HTTP/1.1 and HTTP/2 on one port, in
//! cleartext or over TLS (rustls, the protocol chosen by ALPN), with the
//! bounds `axum::serve` does not set.
//!
//! - **A cap on open connections** (`limits.api_connections_max`): past it,
//!   the loop stops accepting and new connections wait in the kernel's
//!   queue, so sockets held open by clients cannot exhaust the node's file
//!   descriptors (RocksDB needs them).
//! - **A deadline for the first bytes and for headers**
//!   (`limits.api_header_read_timeout_ms`): a connection that sends nothing,
//!   or not enough to tell HTTP/1.1 from HTTP/2, or sends an HTTP/1.1
//!   request's headers too slowly, or sits idle between requests for that
//!   long, is closed and its slot freed. (hyper's automatic detection waits
//!   for the first bytes without a deadline, so the protocol is told apart
//!   here, from bytes peeked within it.)
//! - **Graceful shutdown:** when the node stops, the loop stops accepting and
//!   the connections finish the requests they are serving.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::shutdown::Shutdown;

/// How long a stopping node lets its open connections finish.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// The most HTTP/2 streams one connection may have open at once.
const STREAMS_PER_CONNECTION_MAX: u32 = 256;

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How often a connection that sent part of the HTTP/2 preface is looked at
/// again (peeking does not wait for more bytes).
const PREFACE_POLL: Duration = Duration::from_millis(10);

/// The protocol a connection speaks, told from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The bounds the accept loop enforces, and the gauge it reports to.
#[derive(Clone)]
pub(crate) struct ServeLimits {
    /// Most connections open at once.
    pub(crate) connections_max: usize,
    /// Deadline for a connection's first bytes and for each request's headers.
    pub(crate) header_read_timeout: Duration,
    /// Connections open now (the `api_connections_open` metric).
    pub(crate) open: Gauge,
    /// HTTPS: the handshake to run before HTTP (its ALPN picks the protocol).
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for ServeLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeLimits")
            .field("connections_max", &self.connections_max)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` fires,
/// then lets requests in progress finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let builders = connection_builder(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = shutdown.wait() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.wait() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors or a connection reset before accept:
                // pause briefly rather than spin.
                tracing::warn!(%error, "the API could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = serve_connection(&builders, &graceful, stream, router.clone(), &limits);
        limits.open.inc();
        tokio::spawn(hold_slot_while(connection, slot, limits.open.clone()));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_MAX, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("API connections still open after the drain; closing them");
    }
}

/// hyper's connection settings for each protocol.
#[derive(Clone)]
struct Builders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

fn connection_builder(header_read_timeout: Duration) -> Builders {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(STREAMS_PER_CONNECTION_MAX)
        .keep_alive_interval(Some(header_read_timeout))
        .keep_alive_timeout(header_read_timeout);
    Builders { http1, http2 }
}

/// One connection's whole life: its protocol told within the header
/// deadline, then hyper until the client closes it, it times out, or the
/// node stops.
fn serve_connection(
    builders: &Builders,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    router: Router,
    limits: &ServeLimits,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let builders = builders.clone();
    let watcher = graceful.watcher();
    let header_read_timeout = limits.header_read_timeout;
    let tls = limits.tls.clone();
    async move {
        let Some(tls) = tls else {
            let sniffed = tokio::time::timeout(header_read_timeout, protocol_of(&stream)).await;
            let Ok(Some(protocol)) = sniffed else {
                // Silent, too slow, or closed: the slot goes to someone else.
                return;
            };
            serve_http(&builders, watcher, stream, router, protocol).await;
            return;
        };
        // The handshake gets the header deadline too: a silent client
        // holds its slot no longer than in cleartext.
        let handshake = tokio::time::timeout(header_read_timeout, tls.accept(stream)).await;
        let Ok(Ok(stream)) = handshake else {
            return;
        };
        let protocol = match stream.get_ref().1.alpn_protocol() {
            Some(b"h2") => Protocol::Http2,
            _ => Protocol::Http1,
        };
        serve_http(&builders, watcher, stream, router, protocol).await;
    }
}

/// Serves one connection whose protocol is known, until it ends.
async fn serve_http<Io>(
    builders: &Builders,
    watcher: hyper_util::server::graceful::Watcher,
    stream: Io,
    router: Router,
    protocol: Protocol,
) where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let io = TokioIo::new(stream);
    let served = match protocol {
        Protocol::Http1 => {
            watcher
                .watch(builders.http1.serve_connection(io, service))
                .await
        }
        Protocol::Http2 => {
            watcher
                .watch(builders.http2.serve_connection(io, service))
                .await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%error, "an API connection ended with an error");
    }
}

/// The protocol of `stream` from its first bytes, without consuming them:
/// HTTP/2 once the whole preface is there, HTTP/1.1 at the first byte that
/// departs from it; `None` if the client closes first.
async fn protocol_of(stream: &TcpStream) -> Option<Protocol> {
    let mut first = [0u8; HTTP2_PREFACE.len()];
    loop {
        let peeked = stream.peek(&mut first).await.ok()?;
        if peeked == 0 {
            return None;
        }
        if first[..peeked] != HTTP2_PREFACE[..peeked] {
            return Some(Protocol::Http1);
        }
        if peeked == HTTP2_PREFACE.len() {
            return Some(Protocol::Http2);
        }
        tokio::time::sleep(PREFACE_POLL).await;
    }
}

/// Runs `connection`, then frees its slot and counts it closed.
async fn hold_slot_while(
    connection: impl std::future::Future<Output = ()>,
    slot: OwnedSemaphorePermit,
    open: Gauge,
) {
    connection.await;
    open.dec();
    drop(slot);
}
