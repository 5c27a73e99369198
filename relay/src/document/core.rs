//! The document core: one live document's text, revision, subscribers, cursors and the
//! batch being committed, as a synchronous state machine. Each method takes an input (a
//! submit, a commit's outcome, operations read from the log, an open, a cursor) and pushes
//! the [`Effect`]s the shell must perform, in order. It never waits, reads a clock or
//! touches the store: the shell (`owner.rs`) does the I/O, and the simulator (`sim/`)
//! drives the very same core with a seed.
//!
//! The promise it keeps: a subscriber hears of a revision only once it is durable, each
//! revision exactly once and in order, and a sender is acknowledged only for what is in
//! the log. The core is pipelined: it sequences the next batch while earlier ones commit
//! (at most [`super::batch::PIPELINE`] in flight) and releases acks and remotes in
//! revision order as their commits complete. How a batch is sequenced is in `batch.rs`,
//! how its outcome is settled in `outcome.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use pairprog_protocol::bus::BusMessage;
use pairprog_protocol::messages::{
    move_selections, CursorInfo, ErrorCode, HistoryEntry, Selection, ServerMessage,
};
use pairprog_protocol::{Bias, Sequencer};
use ropey::Rope;

use super::types::{
    DocId, DocView, Effect, InFlight, Loaded, LogEntry, LostTrack, ProtoError, SubmitCommand,
};

/// What the core needs to know of its surroundings.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub room: String,
    pub path: String,
    pub max_document_bytes: usize,
    /// Operations kept in memory to rebase late operations.
    pub history: usize,
    /// Most operations sent on a reconnect instead of the whole text.
    pub max_catch_up: u64,
    /// This relay's id when other relays share the database.
    pub relay_id: Option<String>,
}

/// The document as loaded from the store and advanced by what was committed since.
pub(super) struct LiveDoc {
    pub(super) id: DocId,
    pub(super) language: String,
    pub(super) seq: Sequencer,
    pub(super) snapshot_revision: u64,
    /// The last (seq, revision) committed per client id, to recognise resends. Only
    /// durable operations are here; the batches in flight are in [`InFlight`].
    pub(super) clients: BTreeMap<String, (u64, u64)>,
}

/// A local subscriber as the core sees it.
pub(super) struct Subscriber {
    pub(super) client_id: String,
    pub(super) name: String,
    /// The last revision it was told of; the next it hears must be the one after.
    pub(super) delivered: u64,
}

/// Faults a test may plant in the core, to show that the simulator catches them.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Fault {
    #[default]
    None,
    /// Acknowledge each operation when it is sequenced, before its commit.
    AckBeforeCommit,
    /// Acknowledge a duplicate of an operation in flight from memory (defect 1).
    AckDuplicateFromMemory,
    /// Not the core's: the hostile member speaks with another client's public id, as
    /// when `hello` named the id instead of the relay deriving it (defect 5).
    SpoofableClientIds,
    /// When a batch fails before its commit, take back only it and leave the batches
    /// sequenced on top of it in flight (issue 19: they must go back with it).
    KeepLaterBatches,
}

pub struct DocCore {
    pub(super) config: CoreConfig,
    pub(super) doc: Option<LiveDoc>,
    pub(super) subscribers: BTreeMap<String, Subscriber>,
    pub(super) cursors: BTreeMap<String, Vec<Selection>>,
    /// The batches sequenced in memory and handed to the store, oldest first; each one
    /// is sequenced on top of the one before it. Their answers come back in this order.
    pub(super) in_flight: VecDeque<InFlight>,
    /// Answers still due for batches already taken back (they followed one that did not
    /// commit, so the committer writes none of them). Nothing new is handed to the
    /// store until they are in: a batch sequenced again must not race its old copy.
    pub(super) stale: usize,
    /// The oldest batch's outcome is unknown and the log is being read to settle it:
    /// nothing may be sequenced on top of it until [`Self::resolve`].
    pub(super) resolving: bool,
    /// Submits waiting to be sequenced: a new batch, or the parts of a split one.
    pub(super) backlog: VecDeque<Vec<SubmitCommand>>,
    /// What the log said about (client, seq) pairs of the backlog (see `batch.rs`).
    pub(super) lookups: BTreeMap<(String, u64), Result<Option<u64>, String>>,
    /// (client, seq) pairs acknowledged while reading the log during a batch's life, so
    /// sequencing it again does not acknowledge them twice.
    pub(super) answered: BTreeSet<(String, u64)>,
    /// Times the current batch lost its revisions to another relay.
    pub(super) races: usize,
    #[cfg(test)]
    pub(crate) fault: Fault,
}

impl DocCore {
    pub fn new(config: CoreConfig) -> Self {
        Self {
            config,
            doc: None,
            subscribers: BTreeMap::new(),
            cursors: BTreeMap::new(),
            in_flight: VecDeque::new(),
            stale: 0,
            resolving: false,
            backlog: VecDeque::new(),
            lookups: BTreeMap::new(),
            answered: BTreeSet::new(),
            races: 0,
            #[cfg(test)]
            fault: Fault::None,
        }
    }

    pub fn path(&self) -> &str {
        &self.config.path
    }

    /// Replaces the document with what the store holds (`None`: it does not exist).
    /// Nothing may be in flight: its outcome must be settled first.
    pub fn load(&mut self, loaded: Option<Loaded>) -> Result<(), LostTrack> {
        debug_assert!(
            self.in_flight.is_empty(),
            "a load while a batch is in flight"
        );
        self.doc = None;
        let Some(stored) = loaded else { return Ok(()) };
        let mut seq = Sequencer::new(
            Rope::from_str(&stored.snapshot),
            stored.snapshot_revision,
            self.config.history,
        );
        let mut clients = BTreeMap::new();
        for logged in stored.operations {
            let lost = |message: String| LostTrack {
                revision: logged.revision,
                message,
            };
            if logged.revision != seq.revision() + 1 {
                return Err(lost(format!(
                    "expected revision {} after {}",
                    seq.revision() + 1,
                    seq.revision()
                )));
            }
            seq.commit(logged.operation.clone())
                .map_err(|e| lost(e.to_string()))?;
            clients.insert(logged.client_id, (logged.client_seq, logged.revision));
        }
        self.doc = Some(LiveDoc {
            id: stored.id,
            language: stored.language,
            seq,
            snapshot_revision: stored.snapshot_revision,
            clients,
        });
        Ok(())
    }

    pub fn is_loaded(&self) -> bool {
        self.doc.is_some()
    }

    pub fn document_id(&self) -> Option<DocId> {
        self.doc.as_ref().map(|d| d.id)
    }

    /// The durable revision: the one before the oldest batch in flight.
    pub fn revision(&self) -> Option<u64> {
        let doc = self.doc.as_ref()?;
        Some(
            self.in_flight
                .front()
                .map_or(doc.seq.revision(), |f| f.checkpoint.revision()),
        )
    }

    /// Batches whose answers are still due to [`Self::outcome`].
    pub fn batches_in_flight(&self) -> usize {
        self.in_flight.len() + self.stale
    }

    /// Answers due for batches already taken back; the shell feeds them to
    /// [`Self::outcome`] before anything else.
    pub fn stale(&self) -> usize {
        self.stale
    }

    pub fn language(&self) -> Option<&str> {
        self.doc.as_ref().map(|d| d.language.as_str())
    }

    /// The durable text: without the batches in flight.
    pub fn text(&self) -> Option<&Rope> {
        let doc = self.doc.as_ref()?;
        Some(self.in_flight.front().map_or(doc.seq.text(), |f| &f.text))
    }

    pub fn has_subscribers(&self) -> bool {
        !self.subscribers.is_empty()
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    pub fn is_subscribed(&self, participant_id: &str) -> bool {
        self.subscribers.contains_key(participant_id)
    }

    /// The durable text and revision, for REST.
    pub fn view(&self) -> Option<DocView> {
        let doc = self.doc.as_ref()?;
        Some(DocView {
            path: self.config.path.clone(),
            language: doc.language.clone(),
            text: self.text()?.to_string(),
            revision: self.revision()?,
            document_id: doc.id,
        })
    }

    /// Whether a client speaks of a revision this relay has not seen: another relay
    /// committed it and its notification is still on the way. The log has it already.
    /// The durable revision is what counts: a revision of ours still in flight may be
    /// the very one another relay took.
    pub fn behind(&self, revision: Option<u64>) -> bool {
        match (self.revision(), revision, &self.config.relay_id) {
            (Some(durable), Some(revision), Some(_)) => revision > durable,
            _ => false,
        }
    }

    /// For an `open` naming the revision the client holds: the revision after which the
    /// log should be read to answer with operations, or `None` to answer with the text.
    pub fn catch_up_since(&self, revision: Option<u64>) -> Option<u64> {
        let current = self.revision()?;
        revision.filter(|r| *r <= current && current - r <= self.config.max_catch_up)
    }

    /// Subscribes a participant and sends it the document: as the operations since the
    /// revision it holds (`logged`, read from the log after [`Self::catch_up_since`]) if
    /// they cover every revision since, else as the whole text.
    pub fn subscribe(
        &mut self,
        participant_id: &str,
        client_id: &str,
        name: &str,
        since: Option<u64>,
        logged: Vec<LogEntry>,
        out: &mut Vec<Effect>,
    ) -> Result<(), ProtoError> {
        if !self.in_flight.is_empty() || self.stale > 0 {
            return Err(ProtoError::new(
                ErrorCode::Unavailable,
                "the document is busy; try again",
            ));
        }
        let Some(doc) = &self.doc else {
            return Err(ProtoError::new(
                ErrorCode::Unavailable,
                "the document vanished while it was opened",
            ));
        };
        let current = doc.seq.revision();
        let operations = since
            .filter(|since| logged.len() as u64 == current - since)
            .map(|_| {
                logged
                    .into_iter()
                    .map(|l| HistoryEntry {
                        revision: l.revision,
                        op: l.operation,
                        author_name: l.author,
                        client_id: l.client_id,
                        seq: l.client_seq,
                    })
                    .collect()
            });
        let cursors = self
            .cursors
            .iter()
            .filter(|(id, _)| id.as_str() != participant_id)
            .map(|(id, selections)| CursorInfo {
                participant_id: id.clone(),
                path: self.config.path.clone(),
                selections: selections.clone(),
            })
            .collect();
        let opened = ServerMessage::Opened {
            path: self.config.path.clone(),
            language: doc.language.clone(),
            revision: current,
            text: operations.is_none().then(|| doc.seq.text().to_string()),
            operations,
            cursors,
        };
        out.push(Effect::Send {
            to: vec![participant_id.to_owned()],
            msg: opened,
        });
        self.subscribers.insert(
            participant_id.to_owned(),
            Subscriber {
                client_id: client_id.to_owned(),
                name: name.to_owned(),
                delivered: current,
            },
        );
        Ok(())
    }

    /// Ends a local subscription, or forgets a remote participant who left.
    pub fn unsubscribe(&mut self, participant_id: &str, out: &mut Vec<Effect>) {
        let local = self.subscribers.remove(participant_id).is_some();
        if self.cursors.remove(participant_id).is_some() {
            self.presence(participant_id, Vec::new(), out);
            if local {
                self.publish_cursor(participant_id, Vec::new(), out);
            }
        }
    }

    /// A local subscriber's cursor: kept (so it moves with edits), shown to the others
    /// here and on other relays. Offsets made at `revision` are first moved past the
    /// revisions announced since, which the client had not received when it sent them.
    pub fn set_cursor(
        &mut self,
        participant_id: &str,
        mut selections: Vec<Selection>,
        revision: Option<u64>,
        out: &mut Vec<Effect>,
    ) {
        let Some(subscriber) = self.subscribers.get(participant_id) else {
            return;
        };
        if let (Some(revision), Some(doc)) = (revision, &self.doc) {
            // The announced revisions only: the cursors kept here, and what the others
            // hold, do not include a batch still in flight.
            let missed = subscriber.delivered.saturating_sub(revision);
            if let Some(ops) = doc.seq.operations_since(revision) {
                for op in ops.take(usize::try_from(missed).unwrap_or(usize::MAX)) {
                    move_selections(&mut selections, op, Bias::Before);
                }
            }
        }
        let Some(selections) = self.clamp(selections) else {
            return;
        };
        self.cursors
            .insert(participant_id.to_owned(), selections.clone());
        self.presence(participant_id, selections.clone(), out);
        self.publish_cursor(participant_id, selections, out);
    }

    /// A cursor from another relay: kept like a local one and shown to the local
    /// subscribers. An empty list means the participant left the document.
    pub fn remote_cursor(&mut self, cursor: CursorInfo, out: &mut Vec<Effect>) {
        if self.doc.is_none() || self.subscribers.contains_key(&cursor.participant_id) {
            return;
        }
        if cursor.selections.is_empty() {
            if self.cursors.remove(&cursor.participant_id).is_some() {
                self.presence(&cursor.participant_id, Vec::new(), out);
            }
            return;
        }
        let Some(selections) = self.clamp(cursor.selections) else {
            return;
        };
        self.cursors
            .insert(cursor.participant_id.clone(), selections.clone());
        self.presence(&cursor.participant_id, selections, out);
    }

    /// Offsets are read against the durable text (another relay's may differ by the
    /// operations in flight between us, and ours are not announced yet): clamp what
    /// does not fit, keep at most 64.
    fn clamp(&self, mut selections: Vec<Selection>) -> Option<Vec<Selection>> {
        let len = self.text()?.len_chars() as u64;
        for s in &mut selections {
            s.anchor = s.anchor.min(len);
            s.head = s.head.min(len);
        }
        selections.truncate(64);
        Some(selections)
    }

    fn presence(&self, participant_id: &str, selections: Vec<Selection>, out: &mut Vec<Effect>) {
        let to: Vec<String> = self
            .subscribers
            .keys()
            .filter(|id| id.as_str() != participant_id)
            .cloned()
            .collect();
        if to.is_empty() {
            return;
        }
        out.push(Effect::Send {
            to,
            msg: ServerMessage::Presence(CursorInfo {
                participant_id: participant_id.to_owned(),
                path: self.config.path.clone(),
                selections,
            }),
        });
    }

    fn publish_cursor(
        &self,
        participant_id: &str,
        selections: Vec<Selection>,
        out: &mut Vec<Effect>,
    ) {
        if let Some(relay) = &self.config.relay_id {
            out.push(Effect::Publish(BusMessage::Cursor {
                relay: relay.clone(),
                room: self.config.room.clone(),
                cursor: CursorInfo {
                    participant_id: participant_id.to_owned(),
                    path: self.config.path.clone(),
                    selections,
                },
            }));
        }
    }

    /// Applies operations the log holds (committed by any relay, in revision order):
    /// those already applied are skipped, the rest announced. A gap or an operation that
    /// does not apply means the core lost track: the shell reloads.
    pub fn apply_log(
        &mut self,
        entries: &[LogEntry],
        out: &mut Vec<Effect>,
    ) -> Result<(), LostTrack> {
        debug_assert!(
            self.in_flight.is_empty(),
            "the log applied over a batch in flight"
        );
        for entry in entries {
            let Some(doc) = &mut self.doc else {
                return Ok(());
            };
            let current = doc.seq.revision();
            if entry.revision <= current {
                continue;
            }
            if entry.revision != current + 1 {
                return Err(LostTrack {
                    revision: entry.revision,
                    message: format!("expected revision {} after {current}", current + 1),
                });
            }
            doc.seq
                .commit(entry.operation.clone())
                .map_err(|e| LostTrack {
                    revision: entry.revision,
                    message: e.to_string(),
                })?;
            doc.clients
                .insert(entry.client_id.clone(), (entry.client_seq, entry.revision));
            if !self.backlog.is_empty() {
                // A submit waiting to be sequenced again may be this very operation
                // (committed through another relay): its author just got the ack.
                self.answered
                    .insert((entry.client_id.clone(), entry.client_seq));
            }
            self.announce(entry, out);
        }
        Ok(())
    }

    /// The core lost track of the document: every subscriber is made to reconnect (and
    /// so to resynchronise), and the document is dropped until the shell reloads it.
    pub fn lost_track(&mut self, out: &mut Vec<Effect>) {
        self.doc = None;
        self.in_flight.clear();
        self.stale = 0;
        self.resolving = false;
        self.backlog.clear();
        self.lookups.clear();
        self.answered.clear();
        self.races = 0;
        let to: Vec<String> = std::mem::take(&mut self.subscribers).into_keys().collect();
        self.cursors.clear();
        if !to.is_empty() {
            out.push(Effect::Resync { to });
        }
    }

    /// A snapshot to write when more than `threshold` operations followed the last one:
    /// (document, text, revision), of the durable state (a pipelined document under
    /// steady load may always have a batch in flight).
    pub fn snapshot_due(&self, threshold: u64) -> Option<(DocId, String, u64)> {
        let doc = self.doc.as_ref()?;
        let revision = self.revision()?;
        let behind = revision - doc.snapshot_revision;
        if self.resolving || behind == 0 || behind < threshold {
            return None;
        }
        Some((doc.id, self.text()?.to_string(), revision))
    }

    pub fn snapshot_written(&mut self, revision: u64) {
        if let Some(doc) = &mut self.doc {
            doc.snapshot_revision = doc.snapshot_revision.max(revision);
        }
    }

    /// Tells every subscriber about a durable operation (subscribers with its client id
    /// get the ack, everyone else the operation) and moves the cursors over it.
    ///
    /// The author is recognised by client id, not connection: after a reconnect the same
    /// client may be subscribed through a new connection (even through another relay
    /// than the one that committed it), and must get the ack, not a copy of its own
    /// operation. A subscriber that did not hear of the revision before is made to
    /// resynchronise rather than skip one.
    pub(super) fn announce(&mut self, entry: &LogEntry, out: &mut Vec<Effect>) {
        let mut acked = Vec::new();
        let mut others = Vec::new();
        let mut behind = Vec::new();
        for (id, sub) in self.subscribers.iter_mut() {
            if sub.delivered + 1 != entry.revision {
                behind.push(id.clone());
                continue;
            }
            sub.delivered = entry.revision;
            if sub.client_id == entry.client_id {
                acked.push(id.clone());
            } else {
                others.push(id.clone());
            }
        }
        if !acked.is_empty() {
            out.push(Effect::Send {
                to: acked,
                msg: ServerMessage::Ack {
                    path: self.config.path.clone(),
                    revision: entry.revision,
                    seq: entry.client_seq,
                },
            });
        }
        if !others.is_empty() {
            out.push(Effect::Send {
                to: others,
                msg: ServerMessage::Remote {
                    path: self.config.path.clone(),
                    revision: entry.revision,
                    op: entry.operation.clone(),
                    author: entry.participant_id.clone(),
                },
            });
        }
        if !behind.is_empty() {
            for id in &behind {
                self.subscribers.remove(id);
                self.cursors.remove(id);
            }
            out.push(Effect::Resync { to: behind });
        }
        for (id, selections) in self.cursors.iter_mut() {
            let bias = if *id == entry.participant_id {
                Bias::After
            } else {
                Bias::Before
            };
            move_selections(selections, &entry.operation, bias);
        }
    }

    /// Sends one message to one subscriber, if it is still subscribed.
    pub(super) fn reply(&self, participant_id: &str, msg: ServerMessage, out: &mut Vec<Effect>) {
        if self.subscribers.contains_key(participant_id) {
            out.push(Effect::Send {
                to: vec![participant_id.to_owned()],
                msg,
            });
        }
    }

    pub(super) fn reply_error(
        &self,
        submit: &SubmitCommand,
        error: ProtoError,
        out: &mut Vec<Effect>,
    ) {
        let msg = error.to_message(Some(&self.config.path), Some(submit.seq));
        self.reply(&submit.participant_id, msg, out);
    }
}
