//! `pairprog-relay`: holds rooms of documents, sequences everyone's operations (server-
//! ordered OT), commits each durably before acknowledging it, and relays it to the room.
//!
//! Entry points: [`Relay::start`] (used by `main.rs` and by tests that run the relay in
//! process), `app::router` (every HTTP and WebSocket route), `document` (the per-document
//! owner task, where the consistency rules live) and `store` (Postgres and SQLite).

pub mod api_error;
pub mod app;
pub mod autocomplete;
pub mod committer;
pub mod config;
pub mod document;
pub mod ids;
pub mod metrics;
pub mod rest;
pub mod room;
pub mod state;
pub mod store;
pub mod timefmt;
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
    server: JoinHandle<std::io::Result<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Relay {
    /// Opens the database (running migrations), binds the listener and starts serving.
    pub async fn start(config: Config) -> Result<Relay, StartError> {
        let store = Store::connect(&config.database_url()).await?;
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
        let committer = committer::Committer::start(store.clone());
        let state = Arc::new(AppState {
            config,
            store,
            committer,
            rooms: Default::default(),
            metrics: Default::default(),
            shutdown: CancellationToken::new(),
            owners: TaskTracker::new(),
        });
        let app = app::router(state.clone());
        let token = state.shutdown.clone();
        // Keystroke messages are tiny: without TCP_NODELAY, Nagle's algorithm holds each
        // one back until the previous is acknowledged, adding up to 40 ms per edit.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
        });
        tracing::info!(%addr, database = state.store.backend(), "pairprog-relay listening");
        Ok(Relay {
            addr,
            state,
            server,
        })
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
        match tokio::time::timeout(DRAIN_TIMEOUT, self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
            Err(_) => tracing::warn!("connections did not close within {DRAIN_TIMEOUT:?}"),
        }
    }
}
