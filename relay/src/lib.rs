//! `pairprog-relay`: holds rooms of documents, sequences everyone's operations (server-
//! ordered OT), commits each durably before acknowledging it, and relays it to the room.
//!
//! Entry points: [`Relay::start`] (used by `main.rs` and by tests that run the relay in
//! process), `app::router` (every HTTP and WebSocket route), `document` (the per-document
//! owner task, where the consistency rules live) and `store` (Postgres and SQLite).

pub mod access;
pub mod api_error;
pub mod app;
pub mod autocomplete;
pub mod bus;
pub mod clock;
pub mod cluster;
pub mod colors;
pub mod committer;
pub mod config;
pub mod document;
pub mod ids;
pub mod limits;
pub mod member;
pub mod metrics;
pub mod rest;
pub mod retention;
pub mod room;
pub mod serve;
pub mod state;
pub mod store;
pub mod timefmt;
pub mod tls;
pub mod web;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::Config;
use state::{AppState, SharedState};
use store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for document owners to finish their last commits.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running relay.
pub struct Relay {
    pub addr: SocketAddr,
    pub state: SharedState,
    /// Whether it serves HTTPS and WSS (`--tls-cert`) rather than HTTP and WS.
    pub tls: bool,
    server: JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Relay {
    /// Opens the database (running migrations), binds the listener and starts serving.
    pub async fn start(config: Config) -> Result<Relay, StartError> {
        // A bad certificate or key is found before anything else is opened or bound.
        let tls_config = tls::server_config(config.tls_cert.as_deref(), config.tls_key.as_deref())?;
        let mut store = Store::connect(&config.database_url()).await?;
        store.set_max_documents_per_room(config.max_documents_per_room);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let config_listen = config.listen;
        // With Postgres, other relays may share the database: listen to them before
        // anything is loaded.
        let (cluster, bus) = match &mut store {
            Store::Postgres(pg) => {
                let (cluster, bus) =
                    cluster::Cluster::connect(pg.pool().clone(), config.peer_heartbeat).await?;
                // Appends then notify, and lock for, only the other relays.
                pg.set_relay_id(&cluster.relay_id);
                (Some(Arc::new(cluster)), Some(bus))
            }
            Store::Sqlite(_) => (None, None),
        };
        let metrics: Arc<metrics::Metrics> = Default::default();
        let committer = committer::Committer::start(store.clone(), metrics.clone());
        let shutdown = CancellationToken::new();
        let owners = TaskTracker::new();
        let documents = Arc::new(document::DocEnv {
            config: config.clone(),
            store: store.clone(),
            committer: committer.clone(),
            metrics: metrics.clone(),
            bus: cluster.as_ref().map(|c| c.publisher()),
            shutdown: shutdown.clone(),
            owners: owners.clone(),
        });
        let state = Arc::new(AppState {
            config,
            store,
            committer,
            rooms: Default::default(),
            cluster,
            metrics,
            shutdown,
            owners,
            documents,
        });
        // Peer addresses reach handlers (per-IP rate limits) as `ConnectInfo`, which
        // `serve` adds to every request.
        let app = app::router(state.clone());
        let http_limits = serve::HttpLimits {
            header_timeout: state.config.http_header_timeout,
            max_connections: state.config.max_http_connections,
        };
        // These end by themselves when the relay shuts down.
        retention::spawn(state.clone());
        if let (Some(cluster), Some(bus)) = (&state.cluster, bus) {
            cluster::spawn(state.clone(), cluster.clone(), bus);
        }
        let token = state.shutdown.clone();
        // Keystroke messages are tiny: without TCP_NODELAY, Nagle's algorithm holds each
        // one back until the previous is acknowledged, adding up to 40 ms per edit.
        let tls = tls_config.is_some();
        let server = match tls_config {
            None => {
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    set_nodelay(tcp);
                });
                tokio::spawn(serve::serve(listener, app, http_limits, token))
            }
            Some(tls_config) => {
                let listener = tls::TlsListener::spawn(listener, tls_config, token.clone())
                    .map_err(|source| StartError::Listen {
                        addr: config_listen,
                        source,
                    })?;
                let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                    set_nodelay(stream.get_ref().0);
                });
                tokio::spawn(serve::serve(listener, app, http_limits, token))
            }
        };
        let relay_id = state.cluster.as_ref().map(|c| c.relay_id.as_str());
        tracing::info!(%addr, tls, database = state.store.backend(), relay_id, "pairprog-relay listening");
        Ok(Relay {
            addr,
            state,
            tls,
            server,
        })
    }

    /// The base URL clients use: `https://ADDR` with TLS, `http://ADDR` without.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, closes every connection with "going away", lets each document
    /// owner finish its commit in progress and write a snapshot, then returns.
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        self.state.owners.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.state.owners.wait())
            .await
            .is_err()
        {
            tracing::warn!("document owners did not finish within {DRAIN_TIMEOUT:?}");
        }
        if let Some(cluster) = &self.state.cluster {
            cluster.depart().await;
        }
        match tokio::time::timeout(DRAIN_TIMEOUT, self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
            Err(_) => tracing::warn!("connections did not close within {DRAIN_TIMEOUT:?}"),
        }
    }
}

fn set_nodelay(tcp: &tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "cannot set TCP_NODELAY");
    }
}
