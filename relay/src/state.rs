//! What every handler and task shares, at the top of the relay's layers: it holds the
//! rooms, the cluster and the owners' environment, and implements the context traits
//! through which the layers below reach it without naming it (`member::Metered`,
//! `room::RoomContext`, `cluster::ClusterContext`).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::{Cluster, ClusterContext};
use crate::committer::Committer;
use crate::config::Config;
use crate::document::DocEnv;
use crate::member::Metered;
use crate::metrics::Metrics;
use crate::room::{RoomContext, RoomRegistry};
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Store,
    /// Where owners send their operations to be committed, grouped across documents.
    pub committer: Committer,
    pub rooms: Arc<RoomRegistry>,
    /// The other relays sharing the database (Postgres only).
    pub cluster: Option<Arc<Cluster>>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the relay shuts down: connections close, owners finish and exit.
    pub shutdown: CancellationToken,
    /// Every document owner task, so shutdown can wait for their last commits.
    pub owners: TaskTracker,
    /// What every document owner works with (the same store, committer, metrics,
    /// shutdown and tracker as above).
    pub documents: Arc<DocEnv>,
}

pub type SharedState = Arc<AppState>;

impl Metered for AppState {
    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl RoomContext for AppState {
    fn max_connections_per_room(&self) -> usize {
        self.config.max_connections_per_room
    }

    fn documents(&self) -> &Arc<DocEnv> {
        &self.documents
    }
}

impl ClusterContext for AppState {
    fn rooms(&self) -> &RoomRegistry {
        &self.rooms
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }
}
