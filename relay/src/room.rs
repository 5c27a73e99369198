//! Live rooms: who is connected, and the handle of each loaded document's owner task.
//!
//! A room's state sits behind a `std::sync::Mutex` that is only ever held for a few
//! map operations and non-blocking `try_send`s, never across an `.await`. Document state
//! itself lives in the document's owner task (see `document/`), never here.
//!
//! Layering: `room` sits above `document` and `member` and below `cluster` and `state`.
//! What it needs from the relay around it comes through [`RoomContext`], which
//! `state.rs` implements for the shared state; owners reach their room back through
//! [`document::Host`], which [`Room`] implements.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use pairprog_protocol::messages::{Participant, ServerMessage};
use tokio::sync::mpsc;

use crate::document::{self, DocCommand, DocEnv, Host};
pub use crate::member::{frame, Frame, Kick, KickReason, Member, Metered};
use crate::metrics::Metrics;

/// What rooms need from the relay around them: its metrics, the per-room connection
/// cap, and what a document owner they start works with. `state.rs` implements it for
/// the shared state, so callers pass `&state` without this module naming it.
pub trait RoomContext: Metered {
    fn max_connections_per_room(&self) -> usize;
    fn documents(&self) -> &Arc<DocEnv>;
}

impl<T: RoomContext + ?Sized> RoomContext for Arc<T> {
    fn max_connections_per_room(&self) -> usize {
        (**self).max_connections_per_room()
    }
    fn documents(&self) -> &Arc<DocEnv> {
        (**self).documents()
    }
}

impl<T: RoomContext + ?Sized> RoomContext for &T {
    fn max_connections_per_room(&self) -> usize {
        (**self).max_connections_per_room()
    }
    fn documents(&self) -> &Arc<DocEnv> {
        (**self).documents()
    }
}

pub struct Room {
    pub id: String,
    /// The registry holding this room, so an ending owner can release it.
    registry: Weak<RoomRegistry>,
    inner: Mutex<RoomState>,
    generation: AtomicU64,
    /// Live [`RoomPin`]s: tasks between finding the room and joining it or finishing
    /// with it. A pinned room is not idle, so nobody removes it meanwhile.
    pins: AtomicUsize,
}

#[derive(Default)]
struct RoomState {
    members: HashMap<String, Member>,
    /// Participants connected to other relays sharing the database (`cluster`).
    remote: HashMap<String, Participant>,
    /// Join order of local and remote participants, so listings are stable.
    order: Vec<String>,
    documents: HashMap<String, DocSlot>,
    deleted: bool,
}

struct DocSlot {
    tx: mpsc::Sender<DocCommand>,
    generation: u64,
    catch_up: CatchUpFlag,
}

/// Whether a catch-up is already waiting for a place in a document owner's full queue.
/// Notifications that find the queue full all come down to "read the log", so one
/// waiting request per document covers any number of them: the waits stay bounded by
/// the number of loaded documents, not by the rate of notifications.
#[derive(Clone, Default)]
pub struct CatchUpFlag(Arc<AtomicBool>);

impl CatchUpFlag {
    /// The right to queue the one catch-up, unless another holder has it.
    pub fn claim(&self, owner: &mpsc::Sender<DocCommand>) -> Option<CatchUpTicket> {
        (!self.0.swap(true, Ordering::AcqRel)).then(|| CatchUpTicket {
            owner: owner.clone(),
            flag: self.0.clone(),
        })
    }
}

/// Held while one catch-up waits for a place in an owner's queue; dropping it (sent,
/// timed out or abandoned) lets the next notification claim one again.
pub struct CatchUpTicket {
    pub owner: mpsc::Sender<DocCommand>,
    flag: Arc<AtomicBool>,
}

impl Drop for CatchUpTicket {
    fn drop(&mut self) {
        self.flag.store(false, Ordering::Release);
    }
}

/// Why a command could not reach a document's owner.
#[derive(Debug)]
pub enum DispatchError {
    /// The owner's queue is full: the document is overloaded.
    Busy,
    /// The room was deleted.
    Gone,
}

/// Why a connection could not join a room.
#[derive(Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The room was deleted.
    Gone,
    /// The room holds `--max-connections-per-room` connections already.
    Full,
}

impl Room {
    fn new(id: String, registry: Weak<RoomRegistry>) -> Self {
        Self {
            id,
            registry,
            inner: Mutex::new(RoomState::default()),
            generation: AtomicU64::new(0),
            pins: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding this lock would be a bug in a few lines of map code; the
        // maps stay consistent, so keep serving rather than poisoning the whole room.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The colour of the client `client_id` (see `colors::pick`). Its own earlier
    /// connection, still a member until the relay notices it is gone, is not someone
    /// else holding the colour.
    pub fn pick_color(&self, client_id: &str) -> String {
        let state = self.lock();
        let used = state
            .members
            .values()
            .filter(|m| m.client_id != client_id)
            .map(|m| m.participant.color.as_str())
            .chain(state.remote.values().map(|p| p.color.as_str()));
        crate::colors::pick(client_id, used).to_owned()
    }

    /// Adds a member. `welcome` builds its first message from the participant list, and
    /// is queued before anything else can reach the member; the others hear `joined`.
    /// A room already holding `--max-connections-per-room` members refuses.
    pub fn join(
        &self,
        member: Member,
        state: &impl RoomContext,
        welcome: impl FnOnce(Vec<Participant>) -> ServerMessage,
    ) -> Result<(), JoinError> {
        let mut room = self.lock();
        if room.deleted {
            return Err(JoinError::Gone);
        }
        if room.members.len() >= state.max_connections_per_room() {
            return Err(JoinError::Full);
        }
        let id = member.participant.id.clone();
        room.members.insert(id.clone(), member.clone());
        room.order.push(id.clone());
        let participants = participants_of(&room);
        member.send(frame(&welcome(participants)), state);
        let joined = frame(&ServerMessage::Joined {
            participant: member.participant.clone(),
            count: room.count(),
        });
        for (other_id, other) in &room.members {
            if *other_id != id {
                other.send(joined.clone(), state);
            }
        }
        Ok(())
    }

    /// Removes a member and tells the others. Returns true when the room is now empty.
    pub fn leave(&self, participant_id: &str, state: &impl Metered) -> bool {
        let mut room = self.lock();
        if room.members.remove(participant_id).is_none() {
            return room.members.is_empty() && room.documents.is_empty();
        }
        room.order.retain(|id| id != participant_id);
        let left = frame(&ServerMessage::Left {
            participant_id: participant_id.to_owned(),
            count: room.count(),
        });
        for other in room.members.values() {
            other.send(left.clone(), state);
        }
        room.members.is_empty() && room.documents.is_empty()
    }

    /// Adds a participant connected to another relay, telling the local members. One
    /// already known is ignored, so a roster read and a notification may overlap.
    pub fn remote_joined(&self, participant: Participant, state: &impl Metered) {
        let mut room = self.lock();
        let id = participant.id.clone();
        if room.deleted || room.members.contains_key(&id) || room.remote.contains_key(&id) {
            return;
        }
        room.remote.insert(id.clone(), participant.clone());
        room.order.push(id);
        let joined = frame(&ServerMessage::Joined {
            participant,
            count: room.count(),
        });
        for member in room.members.values() {
            member.send(joined.clone(), state);
        }
    }

    /// Removes a participant of another relay and tells the local members. Returns the
    /// owners of the documents loaded here, which must drop its cursors; none if the
    /// participant was not known.
    pub fn remote_left(
        &self,
        participant_id: &str,
        state: &impl Metered,
    ) -> Vec<mpsc::Sender<DocCommand>> {
        let mut room = self.lock();
        if room.remote.remove(participant_id).is_none() {
            return Vec::new();
        }
        room.order.retain(|id| id != participant_id);
        let left = frame(&ServerMessage::Left {
            participant_id: participant_id.to_owned(),
            count: room.count(),
        });
        for member in room.members.values() {
            member.send(left.clone(), state);
        }
        room.documents
            .values()
            .map(|slot| slot.tx.clone())
            .collect()
    }

    /// Hands `command` to the owner of `path` only if that document is loaded here: a
    /// relay that has not loaded a document reads it whole from the store when it does.
    /// A full queue is not waited on, so the caller never blocks behind one busy
    /// document: the command is dropped and `Err` returned, carrying the right to queue
    /// a catch-up instead if no other one is waiting for that document.
    pub fn send_if_loaded(
        &self,
        path: &str,
        command: DocCommand,
    ) -> Result<(), Option<CatchUpTicket>> {
        let room = self.lock();
        let Some(slot) = room.documents.get(path) else {
            return Ok(());
        };
        match slot.tx.try_send(command) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(slot.catch_up.claim(&slot.tx)),
        }
    }

    /// The owners of every document loaded here.
    pub fn loaded_documents(&self) -> Vec<mpsc::Sender<DocCommand>> {
        self.lock()
            .documents
            .values()
            .map(|slot| slot.tx.clone())
            .collect()
    }

    /// The right to queue a catch-up for every loaded document that has none waiting.
    pub fn claim_catch_ups(&self) -> Vec<CatchUpTicket> {
        self.lock()
            .documents
            .values()
            .filter_map(|slot| slot.catch_up.claim(&slot.tx))
            .collect()
    }

    /// The participants connected to this relay.
    pub fn local_participants(&self) -> Vec<Participant> {
        self.lock()
            .members
            .values()
            .map(|m| m.participant.clone())
            .collect()
    }

    /// How many connections are in the room now.
    pub fn member_count(&self) -> usize {
        self.lock().members.len()
    }

    pub fn participants(&self) -> Vec<Participant> {
        participants_of(&self.lock())
    }

    /// Nobody is connected, no document is loaded and no task holds a [`RoomPin`].
    pub fn is_idle(&self) -> bool {
        let room = self.lock();
        room.members.is_empty()
            && room.documents.is_empty()
            && self.pins.load(Ordering::Acquire) == 0
    }

    /// Sends to every member but `except`.
    pub fn broadcast(&self, msg: &ServerMessage, except: Option<&str>, state: &impl Metered) {
        let frame = frame(msg);
        let room = self.lock();
        for (id, member) in &room.members {
            if Some(id.as_str()) != except {
                member.send(frame.clone(), state);
            }
        }
    }

    /// Delivers a command to the owner of `path`, starting the owner if the document is
    /// not loaded. Sending under the room lock is what lets an idle owner retire safely:
    /// it checks for queued commands under the same lock (see [`Room::retire_document`]).
    pub fn dispatch(
        self: &Arc<Self>,
        path: &str,
        command: DocCommand,
        state: &impl RoomContext,
    ) -> Result<mpsc::Sender<DocCommand>, DispatchError> {
        let mut room = self.lock();
        if room.deleted {
            return Err(DispatchError::Gone);
        }
        let slot = room.documents.entry(path.to_owned()).or_insert_with(|| {
            let generation = self.generation.fetch_add(1, Ordering::Relaxed);
            let host: Arc<dyn Host> = self.clone();
            let tx = document::spawn(state.documents().clone(), host, path.to_owned(), generation);
            DocSlot {
                tx,
                generation,
                catch_up: CatchUpFlag::default(),
            }
        });
        match slot.tx.try_send(command) {
            Ok(()) => Ok(slot.tx.clone()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(DispatchError::Busy),
            // The owner ended (a fatal storage error): start a fresh one next time.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                room.documents.remove(path);
                Err(DispatchError::Busy)
            }
        }
    }

    /// Called by an owner that wants to unload. It may only go when no command is queued
    /// for it; the check and the removal happen under the lock every sender takes.
    pub fn retire_document(
        &self,
        path: &str,
        generation: u64,
        queue_empty: impl Fn() -> bool,
    ) -> bool {
        let mut room = self.lock();
        if !queue_empty() {
            return false;
        }
        if room
            .documents
            .get(path)
            .is_some_and(|slot| slot.generation == generation)
        {
            room.documents.remove(path);
        }
        true
    }

    /// Marks the room deleted and closes every connection in it.
    pub fn delete(&self) {
        let mut room = self.lock();
        room.deleted = true;
        for member in room.members.values() {
            member.kick.kick(KickReason::RoomDeleted);
        }
        room.members.clear();
        room.remote.clear();
        room.order.clear();
    }

    pub fn is_deleted(&self) -> bool {
        self.lock().deleted
    }
}

/// How a document owner reaches the room holding its document.
impl Host for Room {
    fn room_id(&self) -> &str {
        &self.id
    }

    fn retire(&self, path: &str, generation: u64, queue_empty: &dyn Fn() -> bool) -> bool {
        self.retire_document(path, generation, queue_empty)
    }

    fn broadcast(&self, msg: &ServerMessage, metrics: &Arc<Metrics>) {
        Room::broadcast(self, msg, None, metrics);
    }

    fn owner_ended(&self, metrics: &Arc<Metrics>) {
        if let Some(registry) = self.registry.upgrade() {
            registry.release_if_idle(&self.id, metrics);
        }
    }
}

impl RoomState {
    /// Everyone in the room, on every relay.
    fn count(&self) -> u32 {
        (self.members.len() + self.remote.len()) as u32
    }
}

fn participants_of(room: &RoomState) -> Vec<Participant> {
    room.order
        .iter()
        .filter_map(|id| {
            room.members
                .get(id)
                .map(|m| &m.participant)
                .or_else(|| room.remote.get(id))
        })
        .cloned()
        .collect()
}

/// Every room held in memory.
#[derive(Default)]
pub struct RoomRegistry {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
}

impl RoomRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Room>>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room `id`, created if it is not held here, pinned in memory until the
    /// returned guard drops. Finding (or creating) and pinning happen under the map's
    /// lock, which [`RoomRegistry::release_if_idle`] takes too, so a task that awaits
    /// between finding the room and joining it cannot be left holding a room that was
    /// removed meanwhile (and that the next client would create a second time).
    pub fn pin(self: &Arc<Self>, id: &str, state: &impl Metered) -> RoomPin {
        let mut rooms = self.lock();
        let room = rooms
            .entry(id.to_owned())
            .or_insert_with(|| {
                state.metrics().rooms.fetch_add(1, Ordering::Relaxed);
                Arc::new(Room::new(id.to_owned(), Arc::downgrade(self)))
            })
            .clone();
        room.pins.fetch_add(1, Ordering::AcqRel);
        RoomPin {
            room,
            registry: self.clone(),
            metrics: state.metrics().clone(),
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Room>> {
        self.lock().get(id).cloned()
    }

    /// Drops a room from memory if nobody and nothing uses it any more.
    pub fn release_if_idle(&self, id: &str, state: &impl Metered) {
        let mut rooms = self.lock();
        if rooms.get(id).is_some_and(|room| room.is_idle()) {
            rooms.remove(id);
            state.metrics().rooms.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn remove(&self, id: &str, state: &impl Metered) -> Option<Arc<Room>> {
        let room = self.lock().remove(id);
        if room.is_some() {
            state.metrics().rooms.fetch_sub(1, Ordering::Relaxed);
        }
        room
    }

    pub fn all(&self) -> Vec<Arc<Room>> {
        self.lock().values().cloned().collect()
    }
}

/// Keeps a room in the registry while a task uses it (see [`RoomRegistry::pin`]). On
/// drop, on every path out of the task, it unpins the room and releases it if nothing
/// else uses it, so no early return leaks a room entry.
pub struct RoomPin {
    room: Arc<Room>,
    registry: Arc<RoomRegistry>,
    metrics: Arc<Metrics>,
}

impl std::ops::Deref for RoomPin {
    type Target = Arc<Room>;

    fn deref(&self) -> &Arc<Room> {
        &self.room
    }
}

impl Drop for RoomPin {
    fn drop(&mut self) {
        self.room.pins.fetch_sub(1, Ordering::AcqRel);
        self.registry.release_if_idle(&self.room.id, &self.metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cluster/listener.rs` spawned a task for every notification that found a
    /// document's queue full, each waiting up to 30 s for a place: a burst of
    /// notifications for one busy document meant as many waiting tasks, unbounded. Now
    /// one catch-up at most waits per document, and the next may be claimed once it is
    /// done.
    #[test]
    fn regression_full_queue_notifications_spawned_unbounded_waits() {
        let (owner, _queue) = mpsc::channel::<DocCommand>(1);
        let flag = CatchUpFlag::default();
        let first = flag.claim(&owner).expect("the first claim wins");
        for _ in 0..10_000 {
            assert!(flag.claim(&owner).is_none(), "only one waits per document");
        }
        drop(first);
        assert!(
            flag.claim(&owner).is_some(),
            "claimable again once the first is done"
        );
    }
}
