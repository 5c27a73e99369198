//! A connected participant as rooms and document owners see it: where to send its
//! messages (a bounded outbox) and how to close its connection. Below both `room` and
//! `document`, so neither has to name the other to talk to a connection.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use pairprog_protocol::messages::{Participant, ServerMessage};
use tokio::sync::{mpsc, Notify};

use crate::metrics::Metrics;

/// A message serialised once and shared by every recipient.
pub type Frame = Utf8Bytes;

pub fn frame(msg: &ServerMessage) -> Frame {
    // Serialising our own message types cannot fail: they hold only strings, numbers and
    // operations, all of which serde_json writes.
    Utf8Bytes::from(serde_json::to_string(msg).expect("server messages serialise"))
}

/// Whatever holds the relay's metrics: the shared state, a document owner's
/// environment, or the metrics themselves. Lower layers take `&impl Metered` so that
/// callers above pass what they hold without these layers naming the state.
pub trait Metered {
    fn metrics(&self) -> &Arc<Metrics>;
}

impl Metered for Arc<Metrics> {
    fn metrics(&self) -> &Arc<Metrics> {
        self
    }
}

impl<T: Metered + ?Sized> Metered for Arc<T> {
    fn metrics(&self) -> &Arc<Metrics> {
        (**self).metrics()
    }
}

impl<T: Metered + ?Sized> Metered for &T {
    fn metrics(&self) -> &Arc<Metrics> {
        (**self).metrics()
    }
}

/// Why a connection is being closed by the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KickReason {
    /// Its outgoing queue overflowed: the peer cannot keep up.
    Slow,
    /// The room was deleted.
    RoomDeleted,
    /// The relay lost track of a document it had open (another relay's operations it
    /// could no longer read): reconnecting and reopening resynchronises it.
    Resync,
}

/// Tells a connection to close, from whichever task noticed why.
#[derive(Default)]
pub struct Kick {
    notify: Notify,
    kicked: AtomicBool,
    reason: AtomicU8,
}

impl Kick {
    pub fn kick(&self, reason: KickReason) {
        self.reason.store(reason as u8, Ordering::Relaxed);
        self.kicked.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub async fn kicked(&self) -> KickReason {
        if !self.kicked.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
        match self.reason.load(Ordering::Relaxed) {
            r if r == KickReason::Slow as u8 => KickReason::Slow,
            r if r == KickReason::Resync as u8 => KickReason::Resync,
            _ => KickReason::RoomDeleted,
        }
    }
}

/// A connected participant as the room and the document owners see it.
#[derive(Clone)]
pub struct Member {
    pub participant: Participant,
    pub client_id: String,
    pub outbox: mpsc::Sender<Frame>,
    pub kick: Arc<Kick>,
}

impl Member {
    /// Queues a message without waiting. A full queue means the peer cannot keep up: it
    /// is dropped instead of being buffered without limit.
    pub fn send(&self, frame: Frame, metered: &impl Metered) {
        match self.outbox.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metered
                    .metrics()
                    .slow_peers_dropped
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(participant = %self.participant.id, "outgoing queue full; dropping the connection");
                self.kick.kick(KickReason::Slow);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
