//! What every handler and task shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::Cluster;
use crate::committer::Committer;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::room::RoomRegistry;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Store,
    /// Where owners send their operations to be committed, grouped across documents.
    pub committer: Committer,
    pub rooms: RoomRegistry,
    /// The other relays sharing the database (Postgres only).
    pub cluster: Option<Arc<Cluster>>,
    pub metrics: Metrics,
    /// Cancelled when the relay shuts down: connections close, owners finish and exit.
    pub shutdown: CancellationToken,
    /// Every document owner task, so shutdown can wait for their last commits.
    pub owners: TaskTracker,
}

pub type SharedState = Arc<AppState>;
