//! The owner task of one live document: the only place its text, revision, subscribers
//! and cursors live. Connections talk to it through a bounded channel of [`DocCommand`]s.
//!
//! An operation's life: rebase onto the current revision (transform past everything
//! committed since its base), check it, apply in memory, append to the store in one
//! transaction with every other operation that queued meanwhile (group commit), and only
//! then acknowledge it to its sender and broadcast it to the other subscribers. If the
//! commit fails, nobody hears of the batch and the document reloads from the store.
//!
//! Other relays may share the database (`cluster`). Their operations arrive as
//! [`DocCommand::Replicated`] and are applied and broadcast like our own. When another
//! relay committed a revision first, our insert fails as a conflict: the owner restores
//! the state it had before the batch, reads what it missed from the log, and sequences
//! the batch again on top.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pairprog_protocol::bus::{BusMessage, BusOp};
use pairprog_protocol::messages::{
    CursorInfo, DocumentInfo, ErrorCode, HistoryEntry, Selection, ServerMessage,
};
use pairprog_protocol::{Bias, Component, Operation, SequenceError, Sequencer};
use ropey::Rope;
use tokio::sync::{mpsc, oneshot};

use crate::committer::CommitError;
use crate::room::{frame, KickReason, Member, Room};
use crate::state::SharedState;
use crate::store::{AppendBatch, DocumentId, LoggedOperation, StoreError};

/// Commands queued for one document before senders are told it is busy.
const QUEUE: usize = 4096;
/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;
/// Operations kept in memory to rebase late operations; older bases must reopen.
const HISTORY: usize = 10_000;
/// Most operations sent on a reconnect instead of the whole text.
const MAX_CATCH_UP: u64 = 5_000;
/// How long an owner whose document does not exist lingers.
const ABSENT_LINGER: Duration = Duration::from_millis(100);
/// Times one batch may lose the race for its revisions to other relays before its
/// senders are told to resend.
const MAX_RACES: usize = 64;
/// Log rows read per query while catching up.
const CATCH_UP_PAGE: u32 = 1000;

pub struct SubmitCommand {
    pub participant_id: String,
    pub client_id: String,
    pub seq: u64,
    pub base: u64,
    pub op: Operation,
}

pub enum DocCommand {
    /// Subscribe `member`, creating the document from `text` if it does not exist.
    Open {
        member: Member,
        language: Option<String>,
        text: Option<String>,
        revision: Option<u64>,
        reply: oneshot::Sender<Result<(), ProtoError>>,
    },
    Close {
        participant_id: String,
    },
    Submit(SubmitCommand),
    Cursor {
        participant_id: String,
        selections: Vec<Selection>,
    },
    /// The current text, for REST.
    Read {
        reply: oneshot::Sender<Result<DocView, ReadError>>,
    },
    /// Operations another relay committed.
    Replicated {
        document: DocumentId,
        ops: Replicated,
    },
    /// Read whatever the log holds beyond our revision (notifications may have been lost).
    CatchUp,
    /// A cursor of a participant connected to another relay.
    RemoteCursor(CursorInfo),
}

impl<'a> From<&'a LoggedOperation> for Committed<'a> {
    fn from(logged: &'a LoggedOperation) -> Self {
        Committed {
            revision: logged.revision,
            op: &logged.operation,
            participant_id: &logged.participant_id,
            client_id: &logged.client_id,
            seq: logged.client_seq,
        }
    }
}

/// What another relay announced it committed.
pub enum Replicated {
    /// The operations themselves, in revision order.
    Ops(Vec<BusOp>),
    /// Only that revisions up to `last` exist: too large for a notification.
    InLog { last: u64 },
}

/// One committed operation, ours or another relay's, as subscribers hear of it.
struct Committed<'a> {
    revision: u64,
    op: &'a Operation,
    participant_id: &'a str,
    client_id: &'a str,
    seq: u64,
}

#[derive(Clone, Debug)]
pub struct DocView {
    pub path: String,
    pub language: String,
    pub text: String,
    pub revision: u64,
    pub document_id: DocumentId,
}

#[derive(Debug)]
pub enum ReadError {
    NotFound,
    Storage(String),
}

/// An error for the peer that caused it.
#[derive(Clone, Debug)]
pub struct ProtoError {
    pub code: ErrorCode,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_message(&self, path: Option<&str>, seq: Option<u64>) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            message: self.message.clone(),
            path: path.map(str::to_owned),
            seq,
        }
    }
}

pub fn spawn(
    state: SharedState,
    room: Arc<Room>,
    path: String,
    generation: u64,
) -> mpsc::Sender<DocCommand> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let owner = Owner {
        state: state.clone(),
        room,
        path,
        generation,
        doc: None,
        subscribers: HashMap::new(),
        cursors: HashMap::new(),
    };
    state.owners.spawn(owner.run(rx));
    tx
}

/// The document as loaded from the store.
struct LiveDoc {
    id: DocumentId,
    language: String,
    seq: Sequencer,
    snapshot_revision: u64,
    /// The last (seq, revision) committed per client id, to recognise resends.
    clients: HashMap<String, (u64, u64)>,
}

struct Owner {
    state: SharedState,
    room: Arc<Room>,
    path: String,
    generation: u64,
    doc: Option<LiveDoc>,
    subscribers: HashMap<String, Member>,
    cursors: HashMap<String, Vec<Selection>>,
}

/// One operation accepted into the batch being committed.
struct Accepted {
    participant_id: String,
    seq: u64,
    logged: LoggedOperation,
}

impl Owner {
    async fn run(mut self, mut rx: mpsc::Receiver<DocCommand>) {
        match self.load().await {
            Ok(doc) => self.set_doc(doc),
            Err(e) => {
                tracing::error!(room = %self.room.id, path = %self.path, error = %e, "cannot load document");
                self.fail_queued(&mut rx, &e.to_string());
                self.room
                    .retire_document(&self.path, self.generation, || true);
                return;
            }
        }
        let mut pending: Option<DocCommand> = None;
        loop {
            let command = match pending.take() {
                Some(c) => c,
                None => {
                    let linger = match &self.doc {
                        None => Some(ABSENT_LINGER),
                        Some(_) if self.subscribers.is_empty() => {
                            Some(self.state.config.idle_unload())
                        }
                        Some(_) => None,
                    };
                    tokio::select! {
                        biased;
                        _ = self.state.shutdown.cancelled() => break,
                        c = rx.recv() => match c {
                            Some(c) => c,
                            None => break,
                        },
                        _ = tokio::time::sleep(linger.unwrap_or_default()), if linger.is_some() => {
                            if self.room.retire_document(&self.path, self.generation, || rx.is_empty()) {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            match command {
                DocCommand::Submit(first) => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(DocCommand::Submit(next)) => batch.push(next),
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit_batch(batch).await;
                }
                DocCommand::Open {
                    member,
                    language,
                    text,
                    revision,
                    reply,
                } => {
                    let result = self.open(member, language, text, revision).await;
                    let _ = reply.send(result);
                }
                DocCommand::Close { participant_id } => self.unsubscribe(&participant_id),
                DocCommand::Cursor {
                    participant_id,
                    selections,
                } => self.set_cursor(participant_id, selections),
                DocCommand::Read { reply } => {
                    let _ = reply.send(self.read());
                }
                DocCommand::Replicated { document, ops } => self.replicated(document, ops).await,
                DocCommand::CatchUp => {
                    if let Err(e) = self.catch_up().await {
                        self.lost_track(e).await;
                    }
                }
                DocCommand::RemoteCursor(cursor) => self.remote_cursor(cursor),
            }
        }
        self.snapshot_if_behind(0).await;
        if self.doc.is_some() {
            self.state
                .metrics
                .live_documents
                .fetch_sub(1, Ordering::Relaxed);
        }
        self.state.rooms.release_if_idle(&self.room.id, &self.state);
    }

    fn set_doc(&mut self, doc: Option<LiveDoc>) {
        if self.doc.is_none() && doc.is_some() {
            self.state
                .metrics
                .live_documents
                .fetch_add(1, Ordering::Relaxed);
        }
        self.doc = doc;
    }

    /// Answers every queued command after a fatal load error.
    fn fail_queued(&self, rx: &mut mpsc::Receiver<DocCommand>, why: &str) {
        rx.close();
        while let Ok(command) = rx.try_recv() {
            let error = ProtoError::new(
                ErrorCode::Unavailable,
                format!("the document could not be loaded: {why}"),
            );
            match command {
                DocCommand::Open { reply, .. } => {
                    let _ = reply.send(Err(error));
                }
                DocCommand::Read { reply } => {
                    let _ = reply.send(Err(ReadError::Storage(why.to_owned())));
                }
                _ => {}
            }
        }
    }

    async fn load(&self) -> Result<Option<LiveDoc>, StoreError> {
        let Some(stored) = self
            .state
            .store
            .load_document(&self.room.id, &self.path)
            .await?
        else {
            return Ok(None);
        };
        let mut seq = Sequencer::new(
            Rope::from_str(&stored.snapshot),
            stored.snapshot_revision,
            HISTORY,
        );
        let mut clients = HashMap::new();
        for logged in stored.operations {
            let corrupt = |message: String| StoreError::Corrupt {
                revision: logged.revision,
                message,
            };
            if logged.revision != seq.revision() + 1 {
                return Err(corrupt(format!(
                    "expected revision {} after {}",
                    seq.revision() + 1,
                    seq.revision()
                )));
            }
            seq.commit(logged.operation.clone())
                .map_err(|e| corrupt(e.to_string()))?;
            clients.insert(logged.client_id, (logged.client_seq, logged.revision));
        }
        Ok(Some(LiveDoc {
            id: stored.id,
            language: stored.language,
            seq,
            snapshot_revision: stored.snapshot_revision,
            clients,
        }))
    }

    async fn create(&mut self, language: Option<String>, text: &str) -> Result<(), ProtoError> {
        let state = &self.state;
        if text.len() > state.config.max_document_bytes {
            return Err(ProtoError::new(
                ErrorCode::DocumentTooLarge,
                format!(
                    "the document is {} bytes; the limit is {}",
                    text.len(),
                    state.config.max_document_bytes
                ),
            ));
        }
        let storage = |e: StoreError| ProtoError::new(ErrorCode::Unavailable, e.to_string());
        let count = state
            .store
            .count_documents(&self.room.id)
            .await
            .map_err(storage)?;
        if count >= state.config.max_documents_per_room {
            return Err(ProtoError::new(
                ErrorCode::TooManyDocuments,
                format!("the room already has {count} documents, the most it may hold"),
            ));
        }
        let language = language.unwrap_or_else(|| "plaintext".to_owned());
        match state
            .store
            .create_document(&self.room.id, &self.path, &language, text)
            .await
        {
            // Another relay created it first: use theirs.
            Ok(_) | Err(StoreError::DocumentExists { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
        let doc = self.load().await.map_err(storage)?;
        if let Some(doc) = &doc {
            let info = DocumentInfo {
                path: self.path.clone(),
                language: doc.language.clone(),
                revision: doc.seq.revision(),
            };
            self.room
                .broadcast(&ServerMessage::DocumentAdded(info.clone()), None, state);
            if let Some(cluster) = &state.cluster {
                cluster.publish(
                    &BusMessage::DocumentAdded {
                        relay: cluster.relay_id.clone(),
                        room: self.room.id.clone(),
                        document: info,
                    },
                    state,
                );
            }
        }
        self.set_doc(doc);
        Ok(())
    }

    async fn open(
        &mut self,
        member: Member,
        language: Option<String>,
        text: Option<String>,
        revision: Option<u64>,
    ) -> Result<(), ProtoError> {
        if self.doc.is_none() {
            match &text {
                Some(text) => self.create(language, text).await?,
                None => {
                    return Err(ProtoError::new(
                        ErrorCode::UnknownDocument,
                        format!(
                            "the room has no document {:?}; send its text to create it",
                            self.path
                        ),
                    ))
                }
            }
        }
        if self.behind(revision) {
            if let Err(e) = self.catch_up().await {
                self.lost_track(e).await;
            }
        }
        let Some(doc) = &self.doc else {
            return Err(ProtoError::new(
                ErrorCode::Unavailable,
                "the document vanished while it was created",
            ));
        };
        let current = doc.seq.revision();
        let mut operations = None;
        if let Some(since) = revision.filter(|r| *r <= current && current - r <= MAX_CATCH_UP) {
            let logged = self
                .state
                .store
                .operations_since(doc.id, since, (current - since) as u32)
                .await
                .map_err(|e| ProtoError::new(ErrorCode::Unavailable, e.to_string()))?;
            // Use the log only if it covers every revision; else send the text.
            if logged.len() as u64 == current - since {
                operations = Some(
                    logged
                        .into_iter()
                        .map(|l| HistoryEntry {
                            revision: l.revision,
                            op: l.operation,
                            author_name: l.author,
                            client_id: l.client_id,
                            seq: l.client_seq,
                        })
                        .collect(),
                );
            }
        }
        let cursors = self
            .cursors
            .iter()
            .filter(|(id, _)| **id != member.participant.id)
            .map(|(id, selections)| CursorInfo {
                participant_id: id.clone(),
                path: self.path.clone(),
                selections: selections.clone(),
            })
            .collect();
        let opened = ServerMessage::Opened {
            path: self.path.clone(),
            language: doc.language.clone(),
            revision: current,
            text: operations.is_none().then(|| doc.seq.text().to_string()),
            operations,
            cursors,
        };
        member.send(frame(&opened), &self.state);
        self.subscribers
            .insert(member.participant.id.clone(), member);
        Ok(())
    }

    /// Ends a local subscription, or forgets a remote participant who left.
    fn unsubscribe(&mut self, participant_id: &str) {
        let local = self.subscribers.remove(participant_id).is_some();
        if self.cursors.remove(participant_id).is_some() {
            self.broadcast_presence(participant_id, Vec::new());
            if local {
                self.publish_cursor(participant_id, Vec::new());
            }
        }
    }

    /// Tells the other relays where a local participant's cursor is.
    fn publish_cursor(&self, participant_id: &str, selections: Vec<Selection>) {
        if let Some(cluster) = &self.state.cluster {
            cluster.publish(
                &BusMessage::Cursor {
                    relay: cluster.relay_id.clone(),
                    room: self.room.id.clone(),
                    cursor: CursorInfo {
                        participant_id: participant_id.to_owned(),
                        path: self.path.clone(),
                        selections,
                    },
                },
                &self.state,
            );
        }
    }

    /// A cursor from another relay: kept like a local one (so it moves with edits and
    /// new subscribers see it) and shown to the local subscribers.
    fn remote_cursor(&mut self, cursor: CursorInfo) {
        let Some(doc) = &self.doc else { return };
        if self.subscribers.contains_key(&cursor.participant_id) {
            return;
        }
        let mut selections = cursor.selections;
        if selections.is_empty() {
            if self.cursors.remove(&cursor.participant_id).is_some() {
                self.broadcast_presence(&cursor.participant_id, Vec::new());
            }
            return;
        }
        // The offsets are in the text the other relay held; ours may differ by the
        // operations still in flight between us, so clamp what does not fit.
        let len = doc.seq.text().len_chars() as u64;
        for s in &mut selections {
            s.anchor = s.anchor.min(len);
            s.head = s.head.min(len);
        }
        selections.truncate(64);
        self.cursors
            .insert(cursor.participant_id.clone(), selections.clone());
        self.broadcast_presence(&cursor.participant_id, selections);
    }

    fn set_cursor(&mut self, participant_id: String, mut selections: Vec<Selection>) {
        let Some(doc) = &self.doc else { return };
        if !self.subscribers.contains_key(&participant_id) {
            return;
        }
        // Offsets are read against the relay's current text; clamp what does not fit.
        let len = doc.seq.text().len_chars() as u64;
        for s in &mut selections {
            s.anchor = s.anchor.min(len);
            s.head = s.head.min(len);
        }
        selections.truncate(64);
        self.cursors
            .insert(participant_id.clone(), selections.clone());
        self.broadcast_presence(&participant_id, selections.clone());
        self.publish_cursor(&participant_id, selections);
    }

    fn broadcast_presence(&self, participant_id: &str, selections: Vec<Selection>) {
        let presence = frame(&ServerMessage::Presence(CursorInfo {
            participant_id: participant_id.to_owned(),
            path: self.path.clone(),
            selections,
        }));
        for (id, member) in &self.subscribers {
            if id != participant_id {
                member.send(presence.clone(), &self.state);
            }
        }
    }

    fn read(&self) -> Result<DocView, ReadError> {
        let doc = self.doc.as_ref().ok_or(ReadError::NotFound)?;
        Ok(DocView {
            path: self.path.clone(),
            language: doc.language.clone(),
            text: doc.seq.text().to_string(),
            revision: doc.seq.revision(),
            document_id: doc.id,
        })
    }

    fn reply(&self, participant_id: &str, msg: &ServerMessage) {
        if let Some(member) = self.subscribers.get(participant_id) {
            member.send(frame(msg), &self.state);
        }
    }

    fn reply_error(&self, submit: &SubmitCommand, error: ProtoError) {
        self.reply(
            &submit.participant_id,
            &error.to_message(Some(&self.path), Some(submit.seq)),
        );
    }

    /// Was this (client, seq) committed already? Returns its revision if so.
    async fn committed_revision(
        &mut self,
        submit: &SubmitCommand,
    ) -> Result<Option<u64>, ProtoError> {
        let Some(doc) = &self.doc else {
            return Ok(None);
        };
        match doc.clients.get(&submit.client_id) {
            Some(&(last_seq, last_rev)) if submit.seq == last_seq => Ok(Some(last_rev)),
            Some(&(last_seq, _)) if submit.seq > last_seq => Ok(None),
            // Older than the last one seen, or a client unknown since the document was
            // loaded (a resend after a relay restart): ask the log.
            known => {
                let found = self
                    .state
                    .store
                    .find_client_operation(doc.id, &submit.client_id, submit.seq)
                    .await
                    .map_err(|e| ProtoError::new(ErrorCode::Unavailable, e.to_string()))?;
                if found.is_none() && known.is_some() {
                    return Err(ProtoError::new(
                        ErrorCode::BadMessage,
                        format!(
                            "sequence number {} was already used by this client",
                            submit.seq
                        ),
                    ));
                }
                Ok(found)
            }
        }
    }

    /// Rebases and applies one operation in memory, or says why not.
    fn accept(&mut self, submit: &SubmitCommand, author: &str) -> Result<Accepted, ProtoError> {
        let max_bytes = self.state.config.max_document_bytes;
        let doc = self.doc.as_mut().ok_or_else(|| {
            ProtoError::new(ErrorCode::UnknownDocument, "the document does not exist")
        })?;
        let rebased = doc
            .seq
            .rebase(&submit.op, submit.base)
            .map_err(|e| match e {
                SequenceError::FutureRevision { .. } => {
                    ProtoError::new(ErrorCode::FutureRevision, e.to_string())
                }
                SequenceError::HistoryTrimmed { .. } => {
                    ProtoError::new(ErrorCode::StaleRevision, e.to_string())
                }
                SequenceError::Operation(e) => {
                    ProtoError::new(ErrorCode::InvalidOperation, e.to_string())
                }
            })?;
        let new_bytes = bytes_after(doc.seq.text(), &rebased);
        if new_bytes > max_bytes {
            return Err(ProtoError::new(
                ErrorCode::DocumentTooLarge,
                format!("the operation would make the document {new_bytes} bytes; the limit is {max_bytes}"),
            ));
        }
        let revision = doc
            .seq
            .commit(rebased.clone())
            .map_err(|e| ProtoError::new(ErrorCode::InvalidOperation, e.to_string()))?;
        doc.clients
            .insert(submit.client_id.clone(), (submit.seq, revision));
        Ok(Accepted {
            participant_id: submit.participant_id.clone(),
            seq: submit.seq,
            logged: LoggedOperation {
                revision,
                author: author.to_owned(),
                client_id: submit.client_id.clone(),
                client_seq: submit.seq,
                operation: rebased,
                committed_at_ms: now_ms(),
                participant_id: submit.participant_id.clone(),
            },
        })
    }

    /// Sequences and commits a batch. When other relays committed some of its revisions
    /// first, restores the state from before the batch, catches up and tries again.
    async fn commit_batch(&mut self, mut batch: Vec<SubmitCommand>) {
        let newest_base = batch.iter().map(|s| s.base).max();
        if self.behind(newest_base) {
            if let Err(e) = self.catch_up().await {
                self.lost_track(e).await;
            }
        }
        for race in 0.. {
            let Some((accepted, kept, undo)) = self.sequence(batch).await else {
                return;
            };
            let Some(doc) = &self.doc else { return };
            let logged: Vec<LoggedOperation> = accepted.iter().map(|a| a.logged.clone()).collect();
            let notice = self.notice(doc.id, &accepted);
            let started = Instant::now();
            let result = self
                .state
                .committer
                .commit(AppendBatch {
                    document: doc.id,
                    ops: logged,
                    notice,
                })
                .await;
            match result {
                Ok(()) => return self.committed(&accepted, started).await,
                Err(CommitError::Store(e)) if e.is_conflict() && race < MAX_RACES => {
                    // Another relay took some of these revisions. Nobody heard of ours
                    // yet: undo them, take in what was committed, and sequence again,
                    // holding the document's append lock so the revisions cannot be
                    // taken twice.
                    self.state
                        .metrics
                        .revision_races
                        .fetch_add(1, Ordering::Relaxed);
                    self.undo(undo);
                    match self.commit_locked(kept).await {
                        Locked::Done => return,
                        Locked::Failed(e, accepted) => {
                            tracing::error!(room = %self.room.id, path = %self.path, error = %e, "commit failed; reloading the document");
                            self.fail_batch(&accepted, &e.to_string());
                            self.reload().await;
                            return;
                        }
                        // No lock to take (SQLite): catch up and race again.
                        Locked::Unsupported(again) => {
                            if let Err(e) = self.catch_up().await {
                                self.fail_batch(&accepted, &e.to_string());
                                self.lost_track(e).await;
                                return;
                            }
                            batch = again;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(room = %self.room.id, path = %self.path, error = %e, "commit failed; reloading the document");
                    self.fail_batch(&accepted, &e.to_string());
                    self.reload().await;
                    return;
                }
            }
        }
    }

    /// Replaces the in-memory document with the store's after a failed commit; the
    /// subscribers heard of nothing that was not committed, so they stay.
    async fn reload(&mut self) {
        match self.load().await {
            Ok(doc) => self.doc = doc,
            Err(e) => {
                tracing::error!(error = %e, "reload failed; unloading the document");
                self.doc = None;
            }
        }
    }

    /// After a lost race: takes the append lock, applies what the log holds beyond our
    /// revision, sequences the batch on top and commits it before releasing the lock.
    async fn commit_locked(&mut self, batch: Vec<SubmitCommand>) -> Locked {
        let Some(document) = self.doc.as_ref().map(|d| d.id) else {
            return Locked::Done;
        };
        let mut lock = match self.state.store.lock_document(document).await {
            Ok(Some(lock)) => lock,
            Ok(None) => return Locked::Unsupported(batch),
            Err(e) => return self.refuse_batch(batch, e),
        };
        let since = self.doc.as_ref().map_or(0, |d| d.seq.revision());
        let missed = match lock.operations_since(since).await {
            Ok(missed) => missed,
            Err(e) => return self.refuse_batch(batch, e),
        };
        self.state.metrics.catch_ups.fetch_add(1, Ordering::Relaxed);
        for logged in &missed {
            if let Err(e) = self.apply_committed(&Committed::from(logged)) {
                return self.refuse_batch(batch, e);
            }
        }
        let Some((accepted, _, undo)) = self.sequence(batch).await else {
            return Locked::Done;
        };
        let logged = accepted.iter().map(|a| a.logged.clone()).collect();
        let notice = self.notice(document, &accepted);
        let started = Instant::now();
        let appended = lock
            .append(&AppendBatch {
                document,
                ops: logged,
                notice,
            })
            .await;
        if let Err(e) = appended {
            self.undo(undo);
            return Locked::Failed(e, accepted);
        }
        self.committed(&accepted, started).await;
        Locked::Done
    }

    /// After `accepted` is durable: count it, tell everyone, snapshot if due.
    async fn committed(&mut self, accepted: &[Accepted], started: Instant) {
        self.state
            .metrics
            .record_commit(accepted.len(), started.elapsed());
        for a in accepted {
            self.announce(&Committed {
                revision: a.logged.revision,
                op: &a.logged.operation,
                participant_id: &a.participant_id,
                client_id: &a.logged.client_id,
                seq: a.seq,
            });
        }
        self.snapshot_if_behind(self.state.config.snapshot_every)
            .await;
    }

    /// Tells each sender of `batch` it was not applied, when what it depends on failed.
    fn refuse_batch(&self, batch: Vec<SubmitCommand>, why: StoreError) -> Locked {
        for submit in &batch {
            self.reply_error(
                submit,
                ProtoError::new(
                    ErrorCode::Unavailable,
                    format!("the relay could not store the operation ({why}); resend it"),
                ),
            );
        }
        Locked::Failed(why, Vec::new())
    }

    /// Checks and applies a batch in memory: resends are acknowledged, refusals answered.
    /// Returns what was accepted, the commands behind it (to sequence again after a lost
    /// race), and what undoes it; `None` when nothing is left to commit.
    async fn sequence(
        &mut self,
        batch: Vec<SubmitCommand>,
    ) -> Option<(Vec<Accepted>, Vec<SubmitCommand>, Undo)> {
        let Some(doc) = &self.doc else {
            for submit in &batch {
                self.reply_error(
                    submit,
                    ProtoError::new(ErrorCode::UnknownDocument, "the document does not exist"),
                );
            }
            return None;
        };
        let checkpoint = doc.seq.checkpoint();
        let mut undo = Undo {
            checkpoint,
            clients: Vec::new(),
        };
        let mut accepted = Vec::with_capacity(batch.len());
        let mut kept = Vec::with_capacity(batch.len());
        for submit in batch {
            let Some(author) = self
                .subscribers
                .get(&submit.participant_id)
                .map(|m| m.participant.name.clone())
            else {
                continue;
            };
            match self.committed_revision(&submit).await {
                Ok(Some(revision)) => {
                    // A resend of something already committed: acknowledge, apply nothing.
                    self.reply(
                        &submit.participant_id,
                        &ServerMessage::Ack {
                            path: self.path.clone(),
                            revision,
                            seq: submit.seq,
                        },
                    );
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.reply_error(&submit, e);
                    continue;
                }
            }
            let previous = self
                .doc
                .as_ref()
                .and_then(|d| d.clients.get(&submit.client_id).copied());
            match self.accept(&submit, &author) {
                Ok(a) => {
                    undo.clients.push((submit.client_id.clone(), previous));
                    accepted.push(a);
                    kept.push(submit);
                }
                Err(e) => self.reply_error(&submit, e),
            }
        }
        (!accepted.is_empty()).then_some((accepted, kept, undo))
    }

    /// Takes back a batch sequenced in memory and never committed.
    fn undo(&mut self, undo: Undo) {
        let Some(doc) = &mut self.doc else { return };
        doc.seq.restore(undo.checkpoint);
        for (client, previous) in undo.clients.into_iter().rev() {
            match previous {
                Some(last) => doc.clients.insert(client, last),
                None => doc.clients.remove(&client),
            };
        }
    }

    fn fail_batch(&self, accepted: &[Accepted], why: &str) {
        let error = ProtoError::new(
            ErrorCode::Unavailable,
            format!("the relay could not store the operation ({why}); resend it"),
        );
        for a in accepted {
            self.reply(
                &a.participant_id,
                &error.to_message(Some(&self.path), Some(a.seq)),
            );
        }
    }

    /// The notification announcing `accepted` to the other relays, if there are any.
    fn notice(&self, document: DocumentId, accepted: &[Accepted]) -> Option<String> {
        let cluster = self.state.cluster.as_ref()?;
        let ops = accepted
            .iter()
            .map(|a| BusOp {
                revision: a.logged.revision,
                op: a.logged.operation.clone(),
                participant_id: a.participant_id.clone(),
                client_id: a.logged.client_id.clone(),
                seq: a.seq,
            })
            .collect();
        BusMessage::for_committed(&cluster.relay_id, &self.room.id, &self.path, document, ops)
    }

    /// Tells every subscriber about a committed operation (its author by client id gets
    /// the ack, everyone else the operation) and moves the cursors over it.
    fn announce(&mut self, c: &Committed<'_>) {
        // The author is recognised by client id, not connection: after a reconnect the
        // same client may be subscribed through a new connection (even through another
        // relay than the one that committed it), and must get the ack, not a "remote"
        // copy of its own operation.
        let ack = frame(&ServerMessage::Ack {
            path: self.path.clone(),
            revision: c.revision,
            seq: c.seq,
        });
        let remote = frame(&ServerMessage::Remote {
            path: self.path.clone(),
            revision: c.revision,
            op: c.op.clone(),
            author: c.participant_id.to_owned(),
        });
        for member in self.subscribers.values() {
            if member.client_id == c.client_id {
                member.send(ack.clone(), &self.state);
            } else {
                member.send(remote.clone(), &self.state);
            }
        }
        for (id, selections) in self.cursors.iter_mut() {
            let bias = if *id == c.participant_id {
                Bias::After
            } else {
                Bias::Before
            };
            for s in selections.iter_mut() {
                s.anchor = transform_u64(c.op, s.anchor, bias);
                s.head = transform_u64(c.op, s.head, bias);
            }
        }
    }

    /// Applies one operation committed to the store (by any relay) that follows the
    /// current revision; one already applied is skipped. A gap is an error.
    fn apply_committed(&mut self, c: &Committed<'_>) -> Result<(), StoreError> {
        let Some(doc) = &mut self.doc else {
            return Ok(());
        };
        let current = doc.seq.revision();
        if c.revision <= current {
            return Ok(());
        }
        if c.revision != current + 1 {
            return Err(StoreError::Corrupt {
                revision: c.revision,
                message: format!("expected revision {} after {current}", current + 1),
            });
        }
        doc.seq
            .commit(c.op.clone())
            .map_err(|e| StoreError::Corrupt {
                revision: c.revision,
                message: e.to_string(),
            })?;
        doc.clients
            .insert(c.client_id.to_owned(), (c.seq, c.revision));
        self.announce(c);
        Ok(())
    }

    /// Operations another relay announced. Those we have are skipped; after a gap (a
    /// lost or reordered notification) the log fills it.
    async fn replicated(&mut self, document: DocumentId, ops: Replicated) {
        if self.doc.is_none() {
            // Created by another relay after this owner found nothing: load it now.
            match self.load().await {
                Ok(doc) => self.set_doc(doc),
                Err(e) => return tracing::warn!(error = %e, "cannot load a replicated document"),
            }
        }
        let Some(doc) = &self.doc else { return };
        if doc.id != document {
            return;
        }
        let current = doc.seq.revision();
        let result = match ops {
            Replicated::InLog { last } if last <= current => Ok(()),
            Replicated::InLog { .. } => self.catch_up().await,
            Replicated::Ops(ops) => {
                let mut result = Ok(());
                for op in &ops {
                    let current = self.doc.as_ref().map_or(0, |d| d.seq.revision());
                    if op.revision > current + 1 {
                        result = self.catch_up().await;
                        break;
                    }
                    result = self.apply_committed(&Committed {
                        revision: op.revision,
                        op: &op.op,
                        participant_id: &op.participant_id,
                        client_id: &op.client_id,
                        seq: op.seq,
                    });
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
        };
        if let Err(e) = result {
            self.lost_track(e).await;
        }
        self.snapshot_if_behind(self.state.config.snapshot_every)
            .await;
    }

    /// Whether a client speaks of a revision this relay has not seen: another relay
    /// committed it and its notification is still on the way. The log has it already.
    fn behind(&self, revision: Option<u64>) -> bool {
        match (&self.doc, revision, &self.state.cluster) {
            (Some(doc), Some(revision), Some(_)) => revision > doc.seq.revision(),
            _ => false,
        }
    }

    /// Reads and applies every operation the log holds beyond our revision.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        self.state.metrics.catch_ups.fetch_add(1, Ordering::Relaxed);
        loop {
            let Some(doc) = &self.doc else { return Ok(()) };
            let page = self
                .state
                .store
                .operations_since(doc.id, doc.seq.revision(), CATCH_UP_PAGE)
                .await?;
            let full = page.len() == CATCH_UP_PAGE as usize;
            for logged in &page {
                self.apply_committed(&Committed::from(logged))?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The log no longer continues from our revision (the retention job compacted what
    /// we missed) or cannot be read: reload, and have the subscribers reconnect, since
    /// they cannot be told what changed one operation at a time.
    async fn lost_track(&mut self, why: StoreError) {
        tracing::warn!(room = %self.room.id, path = %self.path, error = %why, "lost track of the document; reloading it");
        match self.load().await {
            Ok(doc) => self.doc = doc,
            Err(e) => {
                tracing::error!(error = %e, "reload failed; unloading the document");
                self.doc = None;
            }
        }
        for member in self.subscribers.values() {
            member.kick.kick(KickReason::Resync);
        }
    }

    /// Writes a snapshot when more than `threshold` operations followed the last one.
    /// Only forward: another relay may have written a later one.
    async fn snapshot_if_behind(&mut self, threshold: u64) {
        let Some(doc) = &mut self.doc else { return };
        let behind = doc.seq.revision() - doc.snapshot_revision;
        if behind == 0 || behind < threshold {
            return;
        }
        let text = doc.seq.text().to_string();
        match self
            .state
            .store
            .advance_snapshot(doc.id, &text, doc.seq.revision())
            .await
        {
            Ok(_) => doc.snapshot_revision = doc.seq.revision(),
            Err(e) => {
                tracing::warn!(error = %e, "snapshot failed; the log still has every operation")
            }
        }
    }
}

/// How a commit under the append lock ended.
enum Locked {
    /// Committed and announced, or nothing was left to commit.
    Done,
    /// Failed: the senders of `accepted` still have to be told; the document reloads.
    Failed(StoreError, Vec<Accepted>),
    /// The store has no such lock; the batch comes back to race again.
    Unsupported(Vec<SubmitCommand>),
}

/// What takes back a batch sequenced in memory: the sequencer's state before it, and
/// each client's previous last (seq, revision), in the order they were changed.
struct Undo {
    checkpoint: pairprog_protocol::Checkpoint,
    clients: Vec<(String, Option<(u64, u64)>)>,
}

fn transform_u64(op: &Operation, offset: u64, bias: Bias) -> u64 {
    op.transform_offset(usize::try_from(offset).unwrap_or(usize::MAX), bias) as u64
}

/// The UTF-8 size of `text` after `op` (which fits it), without applying it.
fn bytes_after(text: &Rope, op: &Operation) -> usize {
    let mut bytes = text.len_bytes();
    let mut pos = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => bytes += s.len(),
            Component::Delete(n) => {
                bytes -= text.char_to_byte(pos + n) - text.char_to_byte(pos);
                pos += n;
            }
        }
    }
    bytes
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
