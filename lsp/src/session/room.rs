//! The session's side of a room: joining and leaving, the link's events, and the relay's
//! messages for the documents.

use std::collections::BTreeMap;

use pairprog_protocol::editor::{
    ConnectionState as Connection, DocumentStatus, RoomResult, StatusResult,
};
use pairprog_protocol::messages::{
    ClientMessage, CursorInfo, DocumentInfo, ErrorCode, Participant, ServerMessage,
};
use serde_json::Value;
use tower_lsp_server::ls_types::{MessageType, Uri};

use tokio::sync::mpsc;

use super::{Event, Reply, Session};
use crate::commands::RoomLink;
use crate::relay_link::{LinkEvent, LinkEventKind, LinkHandle};

pub struct RoomState {
    pub id: String,
    /// The secret presented to the relay (join or read-only), if the room has them.
    pub secret: Option<String>,
    /// The read-only secret of a room this session created, to report with the join
    /// result; unknown for rooms joined by link.
    read_only_secret: Option<String>,
    link: LinkHandle,
    /// Which join this is (see `Event::RoomLink`).
    pub epoch: u64,
    /// The generation of the live connection, 0 while there is none.
    generation: u64,
    pub connection: Connection,
    ever_connected: bool,
    /// Whether the user was told the connection dropped (told once per outage).
    told_offline: bool,
    pub you: Option<Participant>,
    pub participants: BTreeMap<String, Participant>,
    /// Each participant's cursors: the document path and selections in the room's chars.
    pub cursors: BTreeMap<String, CursorInfo>,
    pub documents: BTreeMap<String, DocumentInfo>,
    join_replies: Vec<Reply<Result<Value, String>>>,
}

impl RoomState {
    /// The live connection's generation.
    pub fn connected(&self) -> Option<u64> {
        (self.generation > 0).then_some(self.generation)
    }
}

impl Session {
    pub(super) async fn join(
        &mut self,
        link: RoomLink,
        reply: Option<Reply<Result<Value, String>>>,
    ) {
        if self
            .room
            .as_ref()
            .is_some_and(|r| r.id == link.id && r.secret == link.secret)
        {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(room_result(link.id, link.secret, None)));
            }
            return;
        }
        let RoomLink { id: room, secret } = link;
        self.leave().await;
        // A new identity toward the relay for every join. The relay drops an `op` whose
        // (client id, seq) it has committed before, as a resend; our seqs start over
        // with each join, so with the old id every edit after a rejoin was acknowledged
        // and thrown away (issue 14, item 2). Reconnects within one join keep the id,
        // which is what makes their resends safe. The key is what we keep; the relay
        // derives the public id from it.
        self.client_key = super::random_key();
        self.link_epoch += 1;
        let epoch = self.link_epoch;
        let link = LinkHandle::spawn(
            self.settings.room_url(&room),
            self.settings.name.clone(),
            self.client_key.clone(),
            self.settings.ca_file.clone(),
            secret.clone(),
            stamp_link_events(epoch, self.events.clone()),
        );
        self.room = Some(RoomState {
            id: room,
            secret,
            read_only_secret: None,
            link,
            epoch,
            generation: 0,
            connection: Connection::Connecting,
            ever_connected: false,
            told_offline: false,
            you: None,
            participants: BTreeMap::new(),
            cursors: BTreeMap::new(),
            documents: BTreeMap::new(),
            join_replies: reply.into_iter().collect(),
        });
        self.publish_presence();
    }

    /// Joins a room this session just created, remembering its read-only secret for
    /// the command's answer.
    pub(super) async fn join_created(
        &mut self,
        link: RoomLink,
        read_only_secret: Option<String>,
        reply: Reply<Result<Value, String>>,
    ) {
        self.join(link, Some(reply)).await;
        if let Some(room) = &mut self.room {
            room.read_only_secret = read_only_secret;
        }
    }

    pub(super) async fn leave(&mut self) {
        let Some(room) = self.room.take() else {
            return;
        };
        for reply in room.join_replies {
            let _ = reply.send(Err("left the room before joining it".to_owned()));
        }
        // Dropping the link handle closes the connection.
        drop(room.link);
        for open in self.docs.values_mut() {
            open.doc.unshare();
        }
        self.publish_presence();
        self.refresh_inlay_hints();
    }

    pub(super) async fn send(&self, generation: u64, message: ClientMessage) {
        if let Some(room) = &self.room {
            room.link.send(generation, message).await;
        }
    }

    /// Sends on the live connection; with none, the message is dropped (what matters is
    /// resent after reconnecting).
    pub(super) async fn send_connected(&self, message: ClientMessage) {
        if let Some(generation) = self.room.as_ref().and_then(RoomState::connected) {
            self.send(generation, message).await;
        }
    }

    pub(super) fn pending_edits(&self) -> usize {
        self.docs.values().map(|d| d.doc.unacknowledged()).sum()
    }

    pub(super) async fn link_event(&mut self, event: LinkEvent) {
        // A link of a room left since (its task may still be finishing) speaks for
        // nothing here.
        if self.room.as_ref().map(|r| r.link.id()) != Some(event.link) {
            return;
        }
        match event.kind {
            LinkEventKind::Connected {
                generation,
                welcome,
            } => self.connected(generation, *welcome).await,
            LinkEventKind::Message {
                generation,
                message,
            } => {
                if self.room.as_ref().and_then(RoomState::connected) == Some(generation) {
                    self.relay_message(message).await;
                }
            }
            LinkEventKind::Disconnected { generation, reason } => {
                let pending = self.pending_edits();
                let Some(room) = self.room.as_mut().filter(|r| r.generation == generation) else {
                    return;
                };
                room.generation = 0;
                room.connection = Connection::Reconnecting;
                tracing::warn!(%reason, "relay connection lost");
                if !room.told_offline {
                    room.told_offline = true;
                    let id = room.id.clone();
                    // Counted now, so it says "not yet sent" rather than a number
                    // that stops being true as soon as the user types.
                    let unsent = match pending {
                        0 => String::new(),
                        1 => " (1 edit not yet sent)".to_owned(),
                        n => format!(" ({n} edits not yet sent)"),
                    };
                    self.show(
                        MessageType::WARNING,
                        format!(
                            "pairprog: connection to room {id} lost ({reason}); reconnecting. \
                             Your edits are kept and sent when it is back{unsent}."
                        ),
                    );
                }
                self.publish_presence();
            }
            LinkEventKind::Reconnecting { attempt, delay } => {
                tracing::info!(attempt, ?delay, "reconnecting to the relay");
                if let Some(room) = &mut self.room {
                    if room.ever_connected {
                        room.connection = Connection::Reconnecting;
                    }
                }
            }
            LinkEventKind::Failed { reason } => {
                let Some(room) = self.room.as_mut() else {
                    return;
                };
                let id = room.id.clone();
                for reply in room.join_replies.drain(..) {
                    let _ = reply.send(Err(format!("could not join room {id}: {reason}")));
                }
                self.show(
                    MessageType::ERROR,
                    format!("pairprog: could not join room {id}: {reason}"),
                );
                self.leave().await;
            }
        }
    }

    async fn connected(&mut self, generation: u64, welcome: ServerMessage) {
        let ServerMessage::Welcome {
            room_id,
            you,
            participants,
            documents,
            ..
        } = welcome
        else {
            return;
        };
        let Some(room) = self.room.as_mut() else {
            return;
        };
        let reconnect = room.ever_connected;
        room.generation = generation;
        room.connection = Connection::Connected;
        room.ever_connected = true;
        room.participants = participants
            .into_iter()
            .filter(|p| p.id != you.id)
            .map(|p| (p.id.clone(), p))
            .collect();
        room.cursors.clear();
        room.documents = documents.into_iter().map(|d| (d.path.clone(), d)).collect();
        room.you = Some(you);
        for reply in room.join_replies.drain(..) {
            let _ = reply.send(Ok(room_result(
                room_id.clone(),
                room.secret.clone(),
                room.read_only_secret.clone(),
            )));
        }
        if !reconnect {
            let others: Vec<&str> = room
                .participants
                .values()
                .map(|p| p.name.as_str())
                .collect();
            let who = if others.is_empty() {
                "nobody else here yet".to_owned()
            } else {
                format!("with {}", others.join(", "))
            };
            // Name the room's files, so a user who joined from an empty folder knows
            // what to open (one line: a longer message blocks Neovim at a prompt).
            let files = join_list(room.documents.keys().map(String::as_str));
            let files = if files.is_empty() {
                "no files shared yet".to_owned()
            } else {
                format!("files: {files}")
            };
            self.show(
                MessageType::INFO,
                format!("pairprog: joined room {room_id}, {who}; {files}"),
            );
        } else if room.told_offline {
            room.told_offline = false;
            self.show(
                MessageType::INFO,
                format!("pairprog: reconnected to room {room_id}"),
            );
        }
        // Reopen what was shared from the revision we know; share the rest.
        let uris: Vec<Uri> = self.docs.keys().cloned().collect();
        for uri in uris {
            let Some(open) = self.docs.get(&uri) else {
                continue;
            };
            match (open.path.clone(), open.doc.revision()) {
                (Some(path), Some(revision)) => {
                    let message = ClientMessage::Open {
                        path,
                        language: None,
                        text: None,
                        revision: Some(revision),
                    };
                    self.send(generation, message).await;
                }
                (Some(_), None) => self.share(&uri).await,
                (None, _) => {}
            }
        }
        self.publish_presence();
    }

    async fn relay_message(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Opened {
                path,
                revision,
                text,
                operations,
                cursors,
                ..
            } => {
                self.opened(&path, revision, text, operations).await;
                if let Some(room) = &mut self.room {
                    for cursor in cursors {
                        room.cursors.insert(cursor.participant_id.clone(), cursor);
                    }
                }
                self.presence_changed();
            }
            ServerMessage::Ack { path, seq, .. } => {
                let Some(uri) = self.uri_of(&path) else {
                    return;
                };
                let Some(open) = self.docs.get_mut(&uri) else {
                    return;
                };
                if let Some(committed) = open.doc.in_flight_op(seq).cloned() {
                    self.revision_applied(&uri, &path, &committed, None);
                }
                let Some(open) = self.docs.get_mut(&uri) else {
                    return;
                };
                match open.doc.ack(seq) {
                    Ok(Some(out)) => self.send_op(&path, out).await,
                    Ok(None) => self.release_own_cursor(&uri).await,
                    Err(e) => self.bridge_failed(&uri, e).await,
                }
            }
            ServerMessage::Remote {
                path, op, author, ..
            } => {
                let Some(uri) = self.uri_of(&path) else {
                    return;
                };
                self.revision_applied(&uri, &path, &op, Some(&author));
                let Some(open) = self.docs.get_mut(&uri) else {
                    return;
                };
                match open.doc.remote(&op) {
                    Ok(_) => self.flush_editor(&uri),
                    Err(e) => self.bridge_failed(&uri, e).await,
                }
            }
            ServerMessage::Joined { participant, .. } => {
                if let Some(room) = &mut self.room {
                    room.participants
                        .insert(participant.id.clone(), participant);
                }
                self.publish_presence();
            }
            ServerMessage::Left { participant_id, .. } => {
                if let Some(room) = &mut self.room {
                    room.participants.remove(&participant_id);
                    room.cursors.remove(&participant_id);
                }
                self.presence_changed();
            }
            ServerMessage::Presence(cursor) => {
                if let Some(room) = &mut self.room {
                    if cursor.selections.is_empty() {
                        room.cursors.remove(&cursor.participant_id);
                    } else {
                        room.cursors.insert(cursor.participant_id.clone(), cursor);
                    }
                }
                self.presence_changed();
            }
            ServerMessage::DocumentAdded(info) => {
                if let Some(room) = &mut self.room {
                    room.documents.insert(info.path.clone(), info);
                }
            }
            ServerMessage::Error {
                code,
                message,
                path,
                seq,
            } => self.relay_error(code, message, path, seq).await,
            ServerMessage::Welcome { .. } => {}
        }
    }

    async fn opened(
        &mut self,
        path: &str,
        revision: u64,
        text: Option<String>,
        operations: Option<Vec<pairprog_protocol::messages::HistoryEntry>>,
    ) {
        let Some(uri) = self.uri_of(path) else {
            return;
        };
        // History entries name their authors by public id, derived from our key.
        let client_id = pairprog_protocol::identity::client_id(&self.client_key);
        let room_id = self.room.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        let Some(open) = self.docs.get_mut(&uri) else {
            return;
        };
        // A waiting cursor was in the text of the revision we held before; the catch-up
        // moves the text on without it. The next cursor the user makes goes instead.
        open.cursor_waiting = None;
        let result = if open.doc.is_shared() {
            open.doc
                .reopened(operations.as_deref(), text.as_deref(), revision, &client_id)
                .map(|out| (None, out))
        } else {
            open.doc
                .opened(text.as_deref().unwrap_or_default(), revision)
        };
        match result {
            Ok((replaced, out)) => {
                if let Some(out) = out {
                    self.send_op(path, out).await;
                }
                if let Some(mine) = replaced {
                    self.keep_copy(&room_id, path, &mine);
                }
                self.flush_editor(&uri);
            }
            Err(e) => self.bridge_failed(&uri, e).await,
        }
    }

    async fn relay_error(
        &mut self,
        code: ErrorCode,
        message: String,
        path: Option<String>,
        seq: Option<u64>,
    ) {
        tracing::warn!(?code, %message, ?path, ?seq, "the relay refused a message");
        let uri = path.as_deref().and_then(|p| self.uri_of(p));
        match (code, uri) {
            // The relay could not commit: the operation was not applied, send it again.
            (ErrorCode::Unavailable, Some(uri)) => {
                if let (Some(out), Some(path)) = (
                    self.docs.get(&uri).and_then(|d| d.doc.resend()),
                    path.as_deref(),
                ) {
                    self.send_op(path, out).await;
                }
            }
            // Our view of the document and the relay's disagree: start it over.
            (
                ErrorCode::InvalidOperation
                | ErrorCode::FutureRevision
                | ErrorCode::StaleRevision
                | ErrorCode::NotOpen,
                Some(uri),
            ) => {
                let error = crate::bridge::SyncError::Relay(format!("{code:?}: {message}"));
                self.bridge_failed(&uri, error).await;
            }
            // We joined with the read-only secret. Resharing would send the same edit
            // again and be refused again, so the document stops following the room
            // until it is reopened (or the connection is re-established).
            (ErrorCode::ReadOnly, uri) => {
                if let Some(open) = uri.as_ref().and_then(|uri| self.docs.get_mut(uri)) {
                    open.doc.unshare();
                }
                let what = path.as_deref().unwrap_or("this document");
                self.show(
                    MessageType::WARNING,
                    format!(
                        "pairprog: you joined this room read-only: {message}. \
                         {what} no longer follows the room; reopen it to follow again."
                    ),
                );
            }
            _ => self.show(
                MessageType::WARNING,
                format!("pairprog: the relay said: {message}"),
            ),
        }
    }

    /// Keeps the user's text that the room's replaced, and says where.
    fn keep_copy(&self, room: &str, path: &str, text: &str) {
        let dir = crate::recovery::data_dir();
        match crate::recovery::save_copy(&dir, room, path, text) {
            Ok(file) => self.offer_copy(path, file),
            Err(e) => self.show(
                MessageType::ERROR,
                format!("pairprog: the room's {path} replaced yours, and saving a copy of yours failed: {e}"),
            ),
        }
    }

    pub(super) fn status(&self) -> StatusResult {
        let connected = self
            .room
            .as_ref()
            .is_some_and(|r| r.connection == Connection::Connected);
        let documents = self
            .docs
            .iter()
            .filter_map(|(uri, open)| {
                let doc = &open.doc;
                Some(DocumentStatus {
                    path: open.path.clone()?,
                    uri: uri.as_str().to_owned(),
                    revision: doc.revision(),
                    // Synced only when connected: offline, nobody can tell.
                    synced: connected
                        && doc.is_shared()
                        && doc.relay_synchronized()
                        && doc.editor_settled(),
                    unsent_to_relay: !doc.relay_synchronized(),
                    pending_to_editor: !doc.editor_settled(),
                })
            })
            .collect();
        match &self.room {
            Some(room) => StatusResult {
                room: Some(room.id.clone()),
                connection: room.connection,
                you: room.you.clone(),
                participants: room.participants.values().cloned().collect(),
                documents,
                room_documents: room.documents.keys().cloned().collect(),
                pending_edits: self.pending_edits(),
            },
            None => StatusResult {
                room: None,
                connection: Connection::Disconnected,
                you: None,
                participants: Vec::new(),
                documents,
                room_documents: Vec::new(),
                pending_edits: 0,
            },
        }
    }
}

/// A channel for one link's events that passes them on to the session stamped with
/// `epoch`. Bounded like the session's own queue; the forwarding task ends with the link.
fn stamp_link_events(epoch: u64, events: mpsc::Sender<Event>) -> mpsc::Sender<LinkEvent> {
    const CAPACITY: usize = 256;
    let (tx, mut rx) = mpsc::channel::<LinkEvent>(CAPACITY);
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if events.send(Event::RoomLink { epoch, event }).await.is_err() {
                return;
            }
        }
    });
    tx
}

/// The first few names of a list on one line, with how many more there are.
fn join_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    const SHOWN: usize = 8;
    let names: Vec<&str> = names.collect();
    let mut line = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        line.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    line
}

fn room_result(room_id: String, secret: Option<String>, read_only_secret: Option<String>) -> Value {
    let link = Some(match &secret {
        Some(secret) => format!("{room_id}#{secret}"),
        None => room_id.clone(),
    });
    serde_json::to_value(RoomResult {
        room_id,
        secret,
        read_only_secret,
        link,
    })
    .unwrap_or(Value::Null)
}
