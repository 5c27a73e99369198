//! The outbox of notifications to the other relays sharing the database: a bounded
//! queue that `cluster`'s publishing task drains. Document owners and rooms publish
//! through it without naming `cluster`, which sits above them (it routes what arrives
//! to rooms and documents).

use std::sync::atomic::Ordering;

use pairprog_protocol::bus::BusMessage;
use tokio::sync::mpsc;

use crate::member::Metered;

/// Notifications waiting to be sent before new ones are dropped (and counted).
pub const OUTBOX: usize = 4096;

/// A handle to the outbox; cloning is cheap.
#[derive(Clone)]
pub struct Publisher {
    /// This relay's id in the group (random per process).
    pub relay_id: String,
    outbox: mpsc::Sender<String>,
}

impl Publisher {
    /// A publisher and the receiving end its drain reads.
    pub fn new(relay_id: String) -> (Publisher, mpsc::Receiver<String>) {
        let (outbox, rx) = mpsc::channel(OUTBOX);
        (Publisher { relay_id, outbox }, rx)
    }

    /// Queues a notification without waiting. Cursors and the like are worth less than
    /// the caller's time: when the queue is full the message is dropped and counted.
    pub fn publish(&self, message: &BusMessage, metered: &impl Metered) {
        if self.outbox.try_send(message.to_payload()).is_err() {
            metered
                .metrics()
                .bus_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
