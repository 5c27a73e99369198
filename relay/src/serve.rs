//! The HTTP server loop: hyper's HTTP/1.1 connection with a header read timeout, and a
//! cap on the connections served at once.
//!
//! `axum::serve` sets no timer, so hyper's header timeout never ran: a client that
//! opened a socket and sent nothing, or half a request, held it (and a file descriptor)
//! forever, and a few hundred of them exhausted the process's descriptors until even
//! `/liveness` timed out. Here every connection must deliver each request's headers
//! within `--http-header-timeout` (also while idle between keep-alive requests), and at
//! most `--max-http-connections` are served at once: beyond that the relay stops
//! accepting, so new connections wait in the kernel's backlog instead of failing with
//! "too many open files". An upgraded WebSocket leaves this cap (its HTTP connection
//! ends) and counts under `--max-connections` instead.
//!
//! Only HTTP/1.1 is served: the TLS listener offers only `http/1.1` through ALPN, and
//! every client (editors' agents, browsers, WebSockets) speaks it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long shutdown waits for requests in progress before dropping their connections.
const GRACE: Duration = Duration::from_secs(5);

/// Limits on the HTTP connections themselves.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Time a client has to send a request's headers, from when the connection waits
    /// for them (after accepting, and between keep-alive requests).
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets requests in
/// progress finish (for at most [`GRACE`]).
pub async fn serve<L>(mut listener: L, app: Router, limits: HttpLimits, shutdown: CancellationToken)
where
    L: Listener<Addr = SocketAddr>,
{
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        // Wait for a free place before accepting: at the cap, clients queue in the
        // kernel's backlog rather than costing a descriptor each.
        let place = tokio::select! {
            _ = shutdown.cancelled() => break,
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
        };
        let (io, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let app = app.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _place = place;
            // Handlers read the peer address (per-IP limits) as axum's `ConnectInfo`.
            let service = app.map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, connection).await;
                }
            }
        });
    }
    // Stop listening before waiting, so nothing new queues meanwhile.
    drop(listener);
    connections.close();
    connections.wait().await;
}
