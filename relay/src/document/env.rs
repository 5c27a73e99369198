//! What an owner task works with, handed down by the layers above so that `document`
//! names none of them: [`DocEnv`] (the store, the committer, limits, metrics, the outbox
//! to other relays, shutdown) and [`Host`], the room that holds the document, which
//! `room.rs` implements.

use std::sync::Arc;

use pairprog_protocol::messages::ServerMessage;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Publisher;
use crate::committer::Committer;
use crate::config::Config;
use crate::member::Metered;
use crate::metrics::Metrics;
use crate::store::Store;

/// Shared by every owner of the relay; built once by `state.rs`.
pub struct DocEnv {
    pub config: Config,
    pub store: Store,
    /// Where owners send their operations to be committed, grouped across documents.
    pub committer: Committer,
    pub metrics: Arc<Metrics>,
    /// The other relays sharing the database (Postgres only).
    pub bus: Option<Publisher>,
    /// Cancelled when the relay shuts down: owners finish their commit and exit.
    pub shutdown: CancellationToken,
    /// Every owner task, so shutdown can wait for their last commits.
    pub owners: TaskTracker,
}

impl Metered for DocEnv {
    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// The room an owner's document belongs to, as the owner needs it.
pub trait Host: Send + Sync + 'static {
    fn room_id(&self) -> &str;

    /// The owner of `path` (started as `generation`) asks to unload. It may only go when
    /// `queue_empty` holds under the lock every sender takes; true when it may.
    fn retire(&self, path: &str, generation: u64, queue_empty: &dyn Fn() -> bool) -> bool;

    /// Sends to every member of the room connected here.
    fn broadcast(&self, msg: &ServerMessage, metrics: &Arc<Metrics>);

    /// The owner ended: the room may be released if nothing else uses it.
    fn owner_ended(&self, metrics: &Arc<Metrics>);
}
