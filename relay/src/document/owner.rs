//! The owner task of one live document: the thin async shell around [`DocCore`].
//! Connections talk to it through a bounded channel of [`DocCommand`]s; it feeds them to
//! the core, performs the effects the core returns (frames to members, notices to other
//! relays), and does the I/O the core asks for: appends through the committer, log reads,
//! loads and snapshots. The rules of the document live in the core, not here.
//!
//! An operation's life: the core sequences it in memory with every other submit that
//! queued meanwhile, on top of the batches still committing; the committer appends them
//! in one transaction (group commit); the outcomes come back to the core in order, which
//! only then acknowledges and broadcasts (see `outcome.rs` for failures, lost races with
//! other relays and unknown outcomes, and `pipeline.rs` for how the owner feeds them).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pairprog_protocol::bus::BusMessage;
use pairprog_protocol::messages::{DocumentInfo, ErrorCode, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use super::convert::{entry, loaded};
use super::env::{DocEnv, Host};
use super::in_commit::{next_outcome, InCommit};
use super::{
    CoreConfig, DocCommand, DocCore, Effect, LogEntry, ProtoError, ReadError, Replicated,
    SubmitCommand,
};
use crate::member::{frame, KickReason, Member};
use crate::store::StoreError;

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
/// Log rows read per query while catching up.
pub(super) const CATCH_UP_PAGE: u32 = 1000;

/// Starts the owner of `path` in the room `host`; `generation` tells this owner apart
/// from earlier ones of the same path when it retires.
pub fn spawn(
    env: Arc<DocEnv>,
    host: Arc<dyn Host>,
    path: String,
    generation: u64,
) -> mpsc::Sender<DocCommand> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let core = DocCore::new(CoreConfig {
        room: host.room_id().to_owned(),
        path,
        max_document_bytes: env.config.max_document_bytes,
        history: HISTORY,
        max_catch_up: MAX_CATCH_UP,
        relay_id: env.bus.as_ref().map(|b| b.relay_id.clone()),
    });
    let owner = Owner {
        env: env.clone(),
        host,
        generation,
        core,
        members: HashMap::new(),
        counted: false,
        reload_failed: None,
        pending: VecDeque::new(),
    };
    env.owners.spawn(owner.run(rx));
    tx
}

pub(super) struct Owner {
    pub(super) env: Arc<DocEnv>,
    pub(super) host: Arc<dyn Host>,
    pub(super) generation: u64,
    pub(super) core: DocCore,
    /// The connections of the core's subscribers, by participant id.
    pub(super) members: HashMap<String, Member>,
    /// Whether this owner counts in the live documents metric.
    pub(super) counted: bool,
    /// Why the document could not be reloaded after the owner lost track of it. The
    /// core then holds no document, which it would take for "absent": the owner ends
    /// instead, so the next command starts a fresh owner that loads it or says
    /// `unavailable` (defect 13: `unknown_document` for documents that exist).
    pub(super) reload_failed: Option<String>,
    /// The batches handed to the committer whose answers are still due, oldest first
    /// (as many as the core has in flight, taken back ones included).
    pub(super) pending: VecDeque<InCommit>,
}

impl Owner {
    async fn run(mut self, mut rx: mpsc::Receiver<DocCommand>) {
        if let Err(e) = self.load().await {
            tracing::error!(room = %self.host.room_id(), path = %self.core.path(), error = %e, "cannot load document");
            fail_queued(&mut rx, &e);
            self.host
                .retire(self.core.path(), self.generation, &|| true);
            // The room may have been kept only for this document (defect 10).
            self.host.owner_ended(&self.env.metrics);
            return;
        }
        let mut pending: Option<DocCommand> = None;
        loop {
            self.count();
            let command = match pending.take() {
                Some(c) => c,
                None => {
                    // An owner with commits in flight neither retires nor lingers: their
                    // answers come first.
                    let linger = match (self.core.is_loaded(), self.core.has_subscribers()) {
                        _ if !self.pending.is_empty() => None,
                        (false, _) => Some(ABSENT_LINGER),
                        (true, false) => Some(self.env.config.idle_unload()),
                        (true, true) => None,
                    };
                    tokio::select! {
                        biased;
                        _ = self.env.shutdown.cancelled() => break,
                        // The oldest batch's answer: acks and remotes go out as soon as
                        // it is durable, while later batches still commit.
                        outcome = next_outcome(&mut self.pending), if !self.pending.is_empty() => {
                            self.settle_oldest(outcome).await;
                            if let Some(why) = self.reload_failed.take() {
                                fail_queued(&mut rx, &why);
                                self.host
                                    .retire(self.core.path(), self.generation, &|| true);
                                break;
                            }
                            continue;
                        }
                        c = rx.recv() => match c {
                            Some(c) => c,
                            None => break,
                        },
                        _ = tokio::time::sleep(linger.unwrap_or_default()), if linger.is_some() => {
                            if self.host.retire(self.core.path(), self.generation, &|| rx.is_empty()) {
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
                    self.submit(batch).await;
                }
                DocCommand::Open {
                    member,
                    language,
                    text,
                    revision,
                    reply,
                } => {
                    // The requester gave up waiting (defect 7): subscribing it now would
                    // leave a subscriber nobody reads, keeping the document loaded.
                    if reply.is_closed() {
                        continue;
                    }
                    // A subscriber starts at the durable revision with nothing in flight,
                    // so it hears of every later revision from an announce.
                    self.quiesce().await;
                    let participant_id = member.participant.id.clone();
                    let result = self.open(member, language, text, revision, &reply).await;
                    if let Err(Ok(())) = reply.send(result) {
                        // It gave up after the last check (its timeout fired on another
                        // thread, or its connection ended): it will never send `close`
                        // for a subscription it does not know of, so undo it here.
                        self.unsubscribe(&participant_id);
                    }
                }
                DocCommand::Close { participant_id } => self.unsubscribe(&participant_id),
                DocCommand::Cursor {
                    participant_id,
                    selections,
                    revision,
                } => {
                    let mut fx = Vec::new();
                    self.core
                        .set_cursor(&participant_id, selections, revision, &mut fx);
                    self.perform(fx);
                }
                DocCommand::Read { reply } => {
                    let _ = reply.send(self.core.view().ok_or(ReadError::NotFound));
                }
                DocCommand::Replicated { document, ops } => {
                    // The log is applied with nothing of ours in flight: a batch that
                    // lost its revisions is settled (as a race) first.
                    self.quiesce().await;
                    self.replicated(document, ops).await
                }
                DocCommand::CatchUp => {
                    self.quiesce().await;
                    if let Err(e) = self.catch_up().await {
                        self.lost_track(&e).await;
                    }
                }
                DocCommand::RemoteCursor(cursor) => {
                    let mut fx = Vec::new();
                    self.core.remote_cursor(cursor, &mut fx);
                    self.perform(fx);
                }
            }
            if let Some(why) = self.reload_failed.take() {
                fail_queued(&mut rx, &why);
                self.host
                    .retire(self.core.path(), self.generation, &|| true);
                break;
            }
        }
        // Let the commits in flight finish and answer before the snapshot.
        self.quiesce().await;
        self.snapshot_if_behind(0).await;
        if self.counted {
            self.env
                .metrics
                .live_documents
                .fetch_sub(1, Ordering::Relaxed);
        }
        self.host.owner_ended(&self.env.metrics);
    }

    /// Ends a local subscription.
    fn unsubscribe(&mut self, participant_id: &str) {
        self.members.remove(participant_id);
        let mut fx = Vec::new();
        self.core.unsubscribe(participant_id, &mut fx);
        self.perform(fx);
    }

    /// Keeps the live documents metric in step with whether the core holds a document.
    fn count(&mut self) {
        if self.core.is_loaded() != self.counted {
            self.counted = self.core.is_loaded();
            let metric = &self.env.metrics.live_documents;
            if self.counted {
                metric.fetch_add(1, Ordering::Relaxed);
            } else {
                metric.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) fn perform(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => {
                    let frame = frame(&msg);
                    for id in &to {
                        if let Some(member) = self.members.get(id) {
                            member.send(frame.clone(), &self.env.metrics);
                        }
                    }
                }
                Effect::Resync { to } => {
                    for id in &to {
                        if let Some(member) = self.members.remove(id) {
                            member.kick.kick(KickReason::Resync);
                        }
                    }
                }
                Effect::Publish(message) => {
                    if let Some(bus) = &self.env.bus {
                        bus.publish(&message, &self.env.metrics);
                    }
                }
            }
        }
    }

    /// Loads (or reloads) the document from the store into the core.
    async fn load(&mut self) -> Result<(), String> {
        let stored = self
            .env
            .store
            .load_document(self.host.room_id(), self.core.path())
            .await
            .map_err(|e| e.to_string())?;
        self.core
            .load(stored.map(loaded))
            .map_err(|e| e.to_string())
    }

    async fn create(&mut self, language: Option<String>, text: &str) -> Result<(), ProtoError> {
        let env = self.env.clone();
        if text.len() > env.config.max_document_bytes {
            return Err(ProtoError::new(
                ErrorCode::DocumentTooLarge,
                format!(
                    "the document is {} bytes; the limit is {}",
                    text.len(),
                    env.config.max_document_bytes
                ),
            ));
        }
        let storage = |e: StoreError| ProtoError::new(ErrorCode::Unavailable, e.to_string());
        let path = self.core.path().to_owned();
        let count = env
            .store
            .count_documents(self.host.room_id())
            .await
            .map_err(storage)?;
        if count >= env.config.max_documents_per_room {
            return Err(ProtoError::new(
                ErrorCode::TooManyDocuments,
                format!("the room already has {count} documents, the most it may hold"),
            ));
        }
        let language = language.unwrap_or_else(|| "plaintext".to_owned());
        match env
            .store
            .create_document(self.host.room_id(), &path, &language, text)
            .await
        {
            // Another relay created it first: use theirs.
            Ok(_) | Err(StoreError::DocumentExists { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
        self.load()
            .await
            .map_err(|e| ProtoError::new(ErrorCode::Unavailable, e))?;
        let (Some(language), Some(revision)) = (self.core.language(), self.core.revision()) else {
            return Ok(());
        };
        let info = DocumentInfo {
            path,
            language: language.to_owned(),
            revision,
        };
        self.host
            .broadcast(&ServerMessage::DocumentAdded(info.clone()), &env.metrics);
        if let Some(bus) = &env.bus {
            bus.publish(
                &BusMessage::DocumentAdded {
                    relay: bus.relay_id.clone(),
                    room: self.host.room_id().to_owned(),
                    document: info,
                },
                &env.metrics,
            );
        }
        Ok(())
    }

    async fn open(
        &mut self,
        member: Member,
        language: Option<String>,
        text: Option<String>,
        revision: Option<u64>,
        reply: &oneshot::Sender<Result<(), ProtoError>>,
    ) -> Result<(), ProtoError> {
        if !self.core.is_loaded() {
            match &text {
                Some(text) => self.create(language, text).await?,
                None => {
                    return Err(ProtoError::new(
                        ErrorCode::UnknownDocument,
                        format!(
                            "the room has no document {:?}; send its text to create it",
                            self.core.path()
                        ),
                    ))
                }
            }
        }
        if self.core.behind(revision) {
            if let Err(e) = self.catch_up().await {
                self.lost_track(&e).await;
            }
        }
        let (Some(document), Some(current)) = (self.core.document_id(), self.core.revision())
        else {
            return Err(ProtoError::new(
                ErrorCode::Unavailable,
                "the document vanished while it was opened",
            ));
        };
        let since = self.core.catch_up_since(revision);
        let mut logged = Vec::new();
        if let Some(since) = since {
            logged = self
                .env
                .store
                .operations_since(document, since, (current - since) as u32)
                .await
                .map_err(|e| ProtoError::new(ErrorCode::Unavailable, e.to_string()))?
                .into_iter()
                .map(entry)
                .collect();
        }
        if reply.is_closed() {
            // Gave up while the log was read (defect 7).
            return Ok(());
        }
        let mut fx = Vec::new();
        let p = &member.participant;
        self.core
            .subscribe(&p.id, &member.client_id, &p.name, since, logged, &mut fx)?;
        self.members.insert(p.id.clone(), member);
        self.perform(fx);
        Ok(())
    }

    /// Takes in a batch of submits and hands what the core sequences to the committer,
    /// without waiting for the commits (their answers come back in `run`).
    async fn submit(&mut self, batch: Vec<SubmitCommand>) {
        let newest_base = batch.iter().map(|s| s.base).max();
        if self.core.behind(newest_base) {
            self.quiesce().await;
            if let Err(e) = self.catch_up().await {
                self.lost_track(&e).await;
            }
        }
        let mut lookups = Vec::new();
        if let Some(document) = self.core.document_id() {
            for (client, seq) in self.core.lookups_needed(&batch) {
                let found = self
                    .env
                    .store
                    .find_client_operation(document, &client, seq)
                    .await
                    .map_err(|e| e.to_string());
                lookups.push(((client, seq), found));
            }
        }
        self.core.submit(batch, lookups);
        self.pump().await;
    }

    /// Operations another relay announced. Those we have are skipped; after a gap (a
    /// lost or reordered notification) the log fills it.
    async fn replicated(&mut self, document: i64, ops: Replicated) {
        if !self.core.is_loaded() {
            // Created by another relay after this owner found nothing: load it now.
            if let Err(e) = self.load().await {
                return tracing::warn!(error = %e, "cannot load a replicated document");
            }
        }
        let (Some(id), Some(current)) = (self.core.document_id(), self.core.revision()) else {
            return;
        };
        if id != document {
            return;
        }
        let result = match ops {
            Replicated::InLog { last } if last <= current => Ok(()),
            Replicated::InLog { .. } => self.catch_up().await,
            Replicated::Ops(ops) if ops.first().is_some_and(|op| op.revision > current + 1) => {
                self.catch_up().await
            }
            Replicated::Ops(ops) => {
                let entries: Vec<LogEntry> = ops
                    .into_iter()
                    .map(|op| LogEntry {
                        revision: op.revision,
                        author: String::new(),
                        client_id: op.client_id,
                        client_seq: op.seq,
                        operation: op.op,
                        committed_at_ms: 0,
                        participant_id: op.participant_id,
                    })
                    .collect();
                let mut fx = Vec::new();
                let applied = self.core.apply_log(&entries, &mut fx);
                self.perform(fx);
                match applied {
                    // A gap inside the notice: the log fills it.
                    Err(_) => self.catch_up().await,
                    Ok(()) => Ok(()),
                }
            }
        };
        if let Err(e) = result {
            self.lost_track(&e).await;
        }
        self.snapshot_if_behind(self.env.config.snapshot_every)
            .await;
    }

    /// Reads and applies every operation the log holds beyond the core's revision.
    pub(super) async fn catch_up(&mut self) -> Result<(), String> {
        self.env.metrics.catch_ups.fetch_add(1, Ordering::Relaxed);
        let Some(since) = self.core.revision() else {
            return Ok(());
        };
        let log = self.read_log(since).await.map_err(|e| e.to_string())?;
        let mut fx = Vec::new();
        let applied = self.core.apply_log(&log, &mut fx);
        self.perform(fx);
        applied.map_err(|e| e.to_string())
    }

    /// The log no longer continues from the core's revision (the retention job compacted
    /// what we missed) or cannot be read: have the subscribers reconnect, since they
    /// cannot be told what changed one operation at a time, and reload.
    pub(super) async fn lost_track(&mut self, why: &str) {
        tracing::warn!(room = %self.host.room_id(), path = %self.core.path(), error = %why, "lost track of the document; reloading it");
        // Answers still due are awaited (and dropped) first, so the reload sees whatever
        // those commits wrote.
        while let Some(mut commit) = self.pending.pop_front() {
            let _ = commit.handed.outcome().await;
        }
        let mut fx = Vec::new();
        self.core.lost_track(&mut fx);
        self.perform(fx);
        if let Err(e) = self.load().await {
            tracing::error!(error = %e, "reload failed; unloading the document");
            self.reload_failed = Some(e);
        }
    }

    /// Writes a snapshot when more than `threshold` operations followed the last one.
    /// Only forward: another relay may have written a later one.
    pub(super) async fn snapshot_if_behind(&mut self, threshold: u64) {
        let Some((document, text, revision)) = self.core.snapshot_due(threshold) else {
            return;
        };
        match self
            .env
            .store
            .advance_snapshot(document, &text, revision)
            .await
        {
            Ok(_) => self.core.snapshot_written(revision),
            Err(e) => {
                tracing::warn!(error = %e, "snapshot failed; the log still has every operation")
            }
        }
    }
}

/// Answers every queued command after a fatal load error.
fn fail_queued(rx: &mut mpsc::Receiver<DocCommand>, why: &str) {
    rx.close();
    while let Ok(command) = rx.try_recv() {
        match command {
            DocCommand::Open { reply, .. } => {
                let _ = reply.send(Err(ProtoError::new(
                    ErrorCode::Unavailable,
                    format!("the document could not be loaded: {why}"),
                )));
            }
            DocCommand::Read { reply } => {
                let _ = reply.send(Err(ReadError::Storage(why.to_owned())));
            }
            _ => {}
        }
    }
}
