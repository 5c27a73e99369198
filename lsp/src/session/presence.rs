//! Presence toward the editor: `$/pairprog/presence` for plugins, inlay hints naming
//! each collaborator at their cursor for clients without one, and the message offering
//! a recovered copy.

use pairprog_protocol::editor::{
    ConnectionState, EditorSelection, PresenceParams, RemoteCursor, PRESENCE_METHOD,
};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{
    InlayHint, InlayHintLabel, MessageType, Position as LspPosition, Uri,
};

use super::Session;
use pairprog_protocol::messages::{move_selections, ClientMessage, Selection};
use pairprog_protocol::{Bias, Operation, Range};

/// `$/pairprog/presence`: the room's participants and their cursors in the documents open
/// here, positions in the negotiated encoding. Mirrored by the VS Code and Neovim plugins.
pub enum PresenceNotification {}

impl Notification for PresenceNotification {
    type Params = PresenceParams;
    const METHOD: &'static str = PRESENCE_METHOD;
}

impl Session {
    fn presence_params(&self) -> PresenceParams {
        let Some(room) = &self.room else {
            return PresenceParams {
                room: None,
                connection: ConnectionState::Disconnected,
                you: None,
                participants: Vec::new(),
                cursors: Vec::new(),
            };
        };
        let mut cursors = Vec::new();
        for (id, cursor) in &room.cursors {
            let Some(participant) = room.participants.get(id) else {
                continue;
            };
            let Some(uri) = self.uri_of(&cursor.path) else {
                continue;
            };
            let selections = cursor
                .selections
                .iter()
                .filter_map(|s| {
                    Some(EditorSelection {
                        anchor: self.room_position(&uri, s.anchor)?,
                        head: self.room_position(&uri, s.head)?,
                    })
                })
                .collect();
            cursors.push(RemoteCursor {
                participant_id: id.clone(),
                name: participant.name.clone(),
                color: participant.color.clone(),
                uri: uri.as_str().to_owned(),
                path: cursor.path.clone(),
                selections,
            });
        }
        PresenceParams {
            room: Some(room.id.clone()),
            connection: room.connection,
            you: room.you.clone(),
            participants: room.participants.values().cloned().collect(),
            cursors,
        }
    }

    /// Tells plugins the room's presence, without waiting for the editor.
    pub(super) fn publish_presence(&self) {
        self.notifier.presence(self.presence_params());
    }

    /// Publishes presence again if a collaborator's cursor is in document `path`.
    pub(super) fn publish_cursors_in(&self, path: Option<&str>) {
        let Some(path) = path else {
            return;
        };
        if self
            .room
            .as_ref()
            .is_some_and(|r| r.cursors.values().any(|c| c.path == path))
        {
            self.publish_presence();
        }
    }

    /// Moves the cursors of document `path` over a new revision of the relay's text, as
    /// the relay moves the ones it keeps: the author's own cursor goes past their insert,
    /// every other stays in front of it (`author` is `None` for ours). `presence` states
    /// cursors at the revision it arrives after, and our waiting cursor is in the text of
    /// the revision we hold, so each stays in the text of the revision we hold.
    pub(super) fn revision_applied(
        &mut self,
        uri: &Uri,
        path: &str,
        op: &Operation,
        author: Option<&str>,
    ) {
        if let Some(room) = &mut self.room {
            for cursor in room.cursors.values_mut().filter(|c| c.path == path) {
                let bias = if Some(cursor.participant_id.as_str()) == author {
                    Bias::After
                } else {
                    Bias::Before
                };
                move_selections(&mut cursor.selections, op, bias);
            }
        }
        let waiting = self
            .docs
            .get_mut(uri)
            .and_then(|o| o.cursor_waiting.as_mut());
        if let Some(selections) = waiting {
            let bias = if author.is_none() {
                Bias::After
            } else {
                Bias::Before
            };
            move_selections(selections, op, bias);
        }
    }

    /// Our cursor (offsets in the proxy's text) for the room. The relay reads offsets
    /// against its own text, which lacks our unacknowledged edits: sent now, a cursor
    /// after them would point past the relay's text (clamped, drawn behind the typist)
    /// or into someone else's. So it waits, stated in the relay's text at our revision
    /// and moved with every revision, until our edits are all acknowledged. Meanwhile
    /// the relay and the others move our last cursor past each insert of ours. It goes
    /// out with our revision, so the relay moves it past what it committed since.
    pub(super) async fn own_cursor(&mut self, uri: &Uri, selections: Vec<Selection>) {
        let Some(open) = self.docs.get_mut(uri) else {
            return;
        };
        let server = |offset: u64| {
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            open.doc.local_to_server(offset) as u64
        };
        let selections: Vec<Selection> = selections
            .iter()
            .map(|s| Selection {
                anchor: server(s.anchor),
                head: server(s.head),
            })
            .collect();
        open.cursor_waiting = Some(selections);
        self.release_own_cursor(uri).await;
    }

    /// Sends our waiting cursor once nothing of ours awaits the relay.
    pub(super) async fn release_own_cursor(&mut self, uri: &Uri) {
        let Some(open) = self.docs.get_mut(uri) else {
            return;
        };
        let Some(path) = open.path.clone() else {
            return;
        };
        if !open.doc.is_shared() || !open.doc.relay_synchronized() {
            return;
        }
        let Some(selections) = open.cursor_waiting.take() else {
            return;
        };
        // The relay may have committed others' edits we have not received yet; naming
        // our revision lets it move the offsets past them rather than read them against
        // a text they were not made on.
        let revision = open.doc.revision();
        self.send_connected(ClientMessage::Cursor {
            path,
            selections,
            revision,
        })
        .await;
    }

    /// Cursors moved or someone left: plugins and inlay hints both need to know.
    pub(super) fn presence_changed(&self) {
        self.publish_presence();
        self.refresh_inlay_hints();
    }

    pub(super) fn refresh_inlay_hints(&self) {
        if !self.caps.inlay_refresh {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            // A refresh is a request; an editor that never answers must not pile them up.
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                client.inlay_hint_refresh(),
            )
            .await;
        });
    }

    /// One hint per collaborator's cursor in `range` of the document: `‸name`.
    pub(super) fn inlay_hints(&self, uri: &Uri, range: Range) -> Vec<InlayHint> {
        let (Some(room), Some(open)) = (&self.room, self.docs.get(uri)) else {
            return Vec::new();
        };
        let Some(path) = &open.path else {
            return Vec::new();
        };
        let mut hints = Vec::new();
        for (id, cursor) in &room.cursors {
            if &cursor.path != path {
                continue;
            }
            let Some(participant) = room.participants.get(id) else {
                continue;
            };
            for selection in &cursor.selections {
                let Some(at) = self.room_position(uri, selection.head) else {
                    continue;
                };
                if at.line < range.start.line || at.line > range.end.line {
                    continue;
                }
                hints.push(InlayHint {
                    position: LspPosition::new(at.line, at.character),
                    label: InlayHintLabel::String(format!("‸{}", participant.name)),
                    kind: None,
                    text_edits: None,
                    tooltip: None,
                    padding_left: Some(false),
                    padding_right: Some(true),
                    data: None,
                });
            }
        }
        hints
    }

    /// The room's text replaced the user's: say where their own version is kept, and
    /// offer to open it where the client can ask.
    /// Tells the user where their replaced text was kept: one line, never a request,
    /// so nothing waits for their keys (a `showMessageRequest` took Neovim's next
    /// command as its answer, and held remote edits while it was up).
    pub(super) fn offer_copy(&self, path: &str, file: std::path::PathBuf) {
        self.show(
            MessageType::WARNING,
            format!(
                "pairprog: the room's {path} replaced yours; yours is kept at {}",
                file.display()
            ),
        );
    }
}
