//! The messages between `pairprog-lsp` and editor plugins, on top of LSP: the
//! `$/pairprog/presence` and `$/pairprog/cursor` notifications and the answers of the
//! `pairprog.*` commands. Positions here are LSP positions in the encoding the client
//! negotiated, not chars. The VS Code extension (TypeScript) and the Neovim plugin (Lua)
//! mirror these types; `docs/PROTOCOL.md` documents them.

use serde::{Deserialize, Serialize};

use crate::messages::Participant;
use crate::position::Position;

/// Method of the server → client presence notification.
pub const PRESENCE_METHOD: &str = "$/pairprog/presence";
/// Method of the client → server cursor notification.
pub const CURSOR_METHOD: &str = "$/pairprog/cursor";

/// A selection in the editor's terms; `anchor == head` is a plain cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorSelection {
    pub anchor: Position,
    pub head: Position,
}

/// `$/pairprog/cursor`: where the user's cursor and selections are in a document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CursorParams {
    pub uri: String,
    pub selections: Vec<EditorSelection>,
}

/// One collaborator's cursors in a document open in this editor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteCursor {
    pub participant_id: String,
    pub name: String,
    /// `#rrggbb`, the participant's colour in the room.
    pub color: String,
    pub uri: String,
    /// The document's path in the room.
    pub path: String,
    pub selections: Vec<EditorSelection>,
}

/// The state of the connection to the relay, as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// In no room.
    Disconnected,
    /// Joining, not welcomed yet.
    Connecting,
    Connected,
    /// The connection dropped; retrying with backoff, edits kept meanwhile.
    Reconnecting,
}

/// `$/pairprog/presence`: the room's people and their cursors, sent whenever they change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceParams {
    pub room: Option<String>,
    pub connection: ConnectionState,
    pub you: Option<Participant>,
    /// Everyone else in the room.
    pub participants: Vec<Participant>,
    pub cursors: Vec<RemoteCursor>,
}

/// One open document in the answer to `pairprog.status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentStatus {
    pub path: String,
    pub uri: String,
    /// The room revision this editor has reached; `None` when not shared.
    pub revision: Option<u64>,
    /// Shared, nothing awaiting the relay, nothing awaiting the editor.
    pub synced: bool,
    pub unsent_to_relay: bool,
    pub pending_to_editor: bool,
}

/// The answer to `pairprog.status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub room: Option<String>,
    pub connection: ConnectionState,
    pub you: Option<Participant>,
    pub participants: Vec<Participant>,
    pub documents: Vec<DocumentStatus>,
    /// Paths of every document in the room, open here or not.
    pub room_documents: Vec<String>,
    /// Our edits not yet acknowledged by the relay (in flight or buffered), all documents.
    pub pending_edits: usize,
}

/// The answer to `pairprog.createRoom` and `pairprog.joinRoom`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomResult {
    pub room_id: String,
    /// The secret this session presents to the relay: for `pairprog.createRoom`, the new
    /// room's join secret. Absent for a room without secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `pairprog.createRoom` only: the new room's read-only secret, for people who
    /// should watch without editing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_secret: Option<String>,
    /// What to send to others so they can join: `roomId#secret`, or the bare room id
    /// for a room without secrets. `pairprog.joinRoom` accepts it as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}
