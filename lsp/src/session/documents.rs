//! The session's document events: what the editor opens, changes and closes, the
//! answers to our edits, and completion.

use std::time::Duration;

use pairprog_protocol::messages::{ClientMessage, Selection};
use pairprog_protocol::position::{position_to_offset, span_to_range};
use pairprog_protocol::{Component, Operation, Position};
use ropey::Rope;
use serde_json::Value;
use tower_lsp_server::ls_types::{
    self, CompletionItem, DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier,
    TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use super::{Event, OpenDocument, Session};
use crate::bridge::{ChangeOutcome, Document, EditReply, Outgoing, SyncError};
use crate::edit_convert::ContentChange;

/// How long the editor has to answer `workspace/applyEdit`.
const EDIT_TIMEOUT: Duration = Duration::from_secs(5);
/// After this long, an edit answered `applied` that changes came after without its echo
/// was skipped (see `EditorSide::echo_overdue`).
const ECHO_OVERDUE: Duration = Duration::from_secs(10);
/// After this long with no change from the editor, a refused edit is sent again.
const REFUSED_RETRY: Duration = Duration::from_secs(2);

/// Where a user's cursor is after an edit: the end of its last changed region, in the
/// edited text.
fn cursor_after(op: &Operation) -> Option<usize> {
    let mut pos = 0;
    let mut last = None;
    for component in op.components() {
        match component {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => {
                pos += s.chars().count();
                last = Some(pos);
            }
            Component::Delete(_) => last = Some(pos),
        }
    }
    last
}

impl Session {
    /// The path of `uri` relative to the workspace root, with `/` separators, or `None`
    /// for a document outside it.
    fn room_path(&self, uri: &Uri) -> Option<String> {
        let root = self.root.as_ref()?;
        let file = uri.to_file_path()?;
        let relative = file.strip_prefix(root).ok()?;
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    pub(super) fn uri_of(&self, path: &str) -> Option<Uri> {
        self.docs
            .iter()
            .find(|(_, d)| d.path.as_deref() == Some(path))
            .map(|(uri, _)| uri.clone())
    }

    pub(super) async fn did_open(
        &mut self,
        uri: Uri,
        language: String,
        version: i32,
        text: String,
    ) {
        let path = self.room_path(&uri);
        if path.is_none() {
            tracing::info!(uri = uri.as_str(), "outside the workspace root: not shared");
        }
        let mut doc = Document::new(language, Rope::from_str(&text), version);
        drop(text);
        if !self.caps.versioned_edits() {
            doc.send_unversioned();
        }
        doc.set_encoding(self.encoding);
        self.index
            .set_document_rope(uri.as_str(), &doc.language, doc.editor_text());
        self.docs.insert(
            uri.clone(),
            OpenDocument {
                doc,
                path,
                cursor_waiting: None,
            },
        );
        self.share(&uri).await;
    }

    /// Opens a document in the room, when connected: the relay answers `opened`.
    pub(super) async fn share(&mut self, uri: &Uri) {
        let Some(generation) = self.room.as_ref().and_then(|r| r.connected()) else {
            return;
        };
        let Some(open) = self.docs.get_mut(uri) else {
            return;
        };
        let Some(path) = open.path.clone() else {
            return;
        };
        open.doc.start_opening();
        let message = ClientMessage::Open {
            path,
            language: Some(open.doc.language.clone()),
            text: Some(open.doc.editor_text().to_string()),
            revision: None,
        };
        self.send(generation, message).await;
    }

    pub(super) async fn did_change(&mut self, uri: Uri, version: i32, changes: Vec<ContentChange>) {
        let encoding = self.encoding;
        let Some(open) = self.docs.get_mut(&uri) else {
            tracing::warn!(
                uri = uri.as_str(),
                "didChange for a document that is not open"
            );
            return;
        };
        let result = open.doc.editor_change(version, &changes, encoding);
        match result {
            Ok(outcome) => {
                for change in &outcome.changes {
                    update_index(&mut self.index, uri.as_str(), change);
                }
                self.after_outcome(&uri, outcome).await;
            }
            Err(e) => self.bridge_failed(&uri, e).await,
        }
    }

    /// Sends what an editor event produced and moves the editor along.
    async fn after_outcome(&mut self, uri: &Uri, outcome: ChangeOutcome) {
        let Some(open) = self.docs.get(uri) else {
            return;
        };
        let path = open.path.clone();
        let cursor = outcome
            .user_edits
            .last()
            .and_then(cursor_after)
            .filter(|_| !self.plugin_cursors);
        if let (Some(path), Some(out)) = (&path, outcome.outgoing) {
            self.send_op(path, out).await;
        }
        if let Some(offset) = cursor {
            let offset = offset as u64;
            let selections = vec![Selection {
                anchor: offset,
                head: offset,
            }];
            self.own_cursor(uri, selections).await;
        }
        self.flush_editor(uri);
        // Collaborators' cursors are drawn in the editor's text, which just caught up.
        if self.docs.get(uri).is_some_and(|d| d.doc.editor_settled()) {
            self.publish_cursors_in(path.as_deref());
        }
    }

    pub(super) async fn send_op(&mut self, path: &str, out: Outgoing) {
        self.send_connected(ClientMessage::Op {
            path: path.to_owned(),
            base: out.base,
            seq: out.seq,
            op: out.op,
        })
        .await;
    }

    /// A bridge's state no longer fits what it was told: a bug, or a client outside
    /// every behaviour we know. Rather than drift apart, start the document over: the
    /// room's text wins and the user's current text is kept as a copy.
    pub(super) async fn bridge_failed(&mut self, uri: &Uri, error: SyncError) {
        tracing::error!(uri = uri.as_str(), %error, "editor bridge out of step; reopening the document");
        self.show(
            ls_types::MessageType::WARNING,
            format!(
                "pairprog: lost track of {} ({error}); resynchronising it with the room",
                uri.as_str()
            ),
        );
        if let Some(open) = self.docs.get_mut(uri) {
            open.doc.unshare();
        }
        self.share(uri).await;
    }

    pub(super) async fn did_close(&mut self, uri: Uri) {
        self.index.remove_document(uri.as_str());
        if let Some(open) = self.docs.remove(&uri) {
            if let (Some(path), true) = (open.path, open.doc.is_shared()) {
                self.send_connected(ClientMessage::Close { path }).await;
            }
        }
    }

    /// Sends the next edit to the editor if one may go: one `TextDocumentEdit` with one
    /// `TextEdit`, stamped with the editor's version, answered through a task.
    pub(super) fn flush_editor(&mut self, uri: &Uri) {
        let encoding = self.encoding;
        let Some(open) = self.docs.get_mut(uri) else {
            return;
        };
        let edit = match open.doc.next_editor_edit() {
            Ok(Some(edit)) => edit,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(%e, "could not prepare an edit for the editor");
                return;
            }
        };
        let range = edit.splice.range(open.doc.editor_text(), encoding);
        let text_edit = TextEdit::new(
            ls_types::Range::new(
                ls_types::Position::new(range.start.line, range.start.character),
                ls_types::Position::new(range.end.line, range.end.character),
            ),
            edit.splice.inserted.clone(),
        );
        let workspace_edit = WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: uri.clone(),
                    version: (!edit.unversioned).then_some(edit.version),
                },
                edits: vec![OneOf::Left(text_edit)],
            }])),
            ..WorkspaceEdit::default()
        };
        let client = self.client.clone();
        let events = self.events.clone();
        let uri = uri.clone();
        let id = edit.id;
        tokio::spawn(async move {
            let answer =
                tokio::time::timeout(EDIT_TIMEOUT, client.apply_edit(workspace_edit)).await;
            let reply = match answer {
                Ok(Ok(response)) if response.applied => EditReply::Applied,
                // `applied: false` (VS Code, Helix) or a JSON-RPC error (Eglot).
                Ok(_) => EditReply::Rejected,
                Err(_) => EditReply::Unknown,
            };
            if events
                .send(Event::EditReply {
                    uri: uri.clone(),
                    id,
                    reply,
                })
                .await
                .is_ok()
            {
                let wait = if reply == EditReply::Rejected {
                    REFUSED_RETRY
                } else {
                    ECHO_OVERDUE
                };
                tokio::time::sleep(wait).await;
                let _ = events.send(Event::EchoOverdue { uri, id }).await;
            }
        });
    }

    pub(super) async fn edit_reply(&mut self, uri: Uri, id: u64, reply: EditReply) {
        let Some(open) = self.docs.get_mut(&uri) else {
            return;
        };
        match open.doc.edit_reply(id, reply) {
            Ok(outcome) => self.after_outcome(&uri, outcome).await,
            Err(e) => self.bridge_failed(&uri, e).await,
        }
    }

    pub(super) async fn echo_overdue(&mut self, uri: Uri, id: u64) {
        let Some(open) = self.docs.get_mut(&uri) else {
            return;
        };
        match open.doc.echo_overdue(id) {
            Ok(true) => {
                tracing::info!(
                    uri = uri.as_str(),
                    id,
                    "editor edit settled by timeout; sending what it lacks"
                );
                self.flush_editor(&uri);
            }
            Ok(false) => {}
            Err(e) => self.bridge_failed(&uri, e).await,
        }
    }

    fn cursor_offset(&self, uri: &Uri, position: Position) -> Option<(&Rope, usize)> {
        let open = self.docs.get(uri)?;
        let text = open.doc.editor_text();
        Some((text, position_to_offset(text, position, self.encoding)))
    }

    pub(super) fn completion(&self, uri: &Uri, position: Position) -> Vec<CompletionItem> {
        let Some((text, offset)) = self.cursor_offset(uri, position) else {
            return Vec::new();
        };
        match self.index.suggest(uri.as_str(), offset) {
            Ok(suggestions) => crate::completion::items(
                &suggestions,
                text,
                offset,
                self.encoding,
                self.caps.snippets,
            ),
            Err(e) => {
                tracing::warn!(%e, "completion failed");
                Vec::new()
            }
        }
    }

    pub(super) fn inline_completion(&self, uri: &Uri, position: Position) -> Value {
        let Some((text, offset)) = self.cursor_offset(uri, position) else {
            return serde_json::json!({ "items": [] });
        };
        let suggestions = self.index.suggest(uri.as_str(), offset).unwrap_or_default();
        crate::completion::inline_items(&suggestions, text, offset, self.encoding)
    }

    /// The user's cursor from a plugin, for the room (see `own_cursor`).
    pub(super) async fn local_cursor(&mut self, uri: &Uri, selections: &[(Position, Position)]) {
        let Some(open) = self.docs.get(uri) else {
            return;
        };
        if open.path.is_none() || !open.doc.is_shared() {
            return;
        }
        let text = open.doc.editor_text();
        let to_local = |p: Position| {
            open.doc
                .editor_to_local(position_to_offset(text, p, self.encoding)) as u64
        };
        let selections = selections
            .iter()
            .map(|(anchor, head)| Selection {
                anchor: to_local(*anchor),
                head: to_local(*head),
            })
            .collect();
        self.own_cursor(uri, selections).await;
    }

    /// The editor position of a collaborator's cursor, given in the relay's text at the
    /// revision we hold (see `move_cursors`).
    pub(super) fn room_position(&self, uri: &Uri, offset: u64) -> Option<Position> {
        let open = self.docs.get(uri)?;
        let offset = open
            .doc
            .server_to_editor(usize::try_from(offset).unwrap_or(usize::MAX));
        Some(span_to_range(open.doc.editor_text(), offset, 0, self.encoding).start)
    }
}

/// Keeps the completion index in step with the editor's text, one region at a time from
/// the end, so earlier offsets stay valid.
fn update_index(index: &mut pairprog_autocomplete::RoomIndex, id: &str, change: &Operation) {
    let mut regions = Vec::new();
    let mut pos = 0;
    for component in change.components() {
        match component {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => regions.push((pos, pos, s.to_string())),
            Component::Delete(n) => {
                regions.push((pos, pos + n, String::new()));
                pos += n;
            }
        }
    }
    for (start, end, text) in regions.into_iter().rev() {
        if let Err(e) = index.apply_edit(id, start, end, &text) {
            tracing::warn!(%e, "completion index out of step");
        }
    }
}
