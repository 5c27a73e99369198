//! The collaboration protocol between `pairprog-lsp` (or any client) and
//! `pairprog-relay`, spoken as JSON text frames over the WebSocket `/ws/{roomId}`.
//! `docs/PROTOCOL.md` describes every message; the TypeScript and Lua plugins mirror the
//! presence types from here.
//!
//! Every message is an object with a `type` field. Offsets (cursors, selections) and
//! operation lengths count Unicode scalar values.
//!
//! Decoding a [`ClientMessage`] also refuses what no relay could store (see
//! [`checked`]): a `seq`, `base` or `revision` above 2^63 - 1, and U+0000 in any string
//! or inserted text. Such a message is a bad message, answered to its sender only.

use serde::{Deserialize, Serialize};

use crate::checked;
use crate::operation::Operation;

/// The version a client states in [`ClientMessage::Hello`]. A relay answers a different
/// version with [`ErrorCode::ProtocolMismatch`] and closes the connection.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol a browser offers on the upgrade (the web client does), so
/// it can also offer [`SECRET_SUBPROTOCOL_PREFIX`]; the relay answers with this one.
pub const WEB_SUBPROTOCOL: &str = "pairprog.v1";

/// A subprotocol `pairprog.secret.<secret>` carries the room secret on the upgrade for
/// clients that cannot set `Authorization` (a browser's `WebSocket`), so the secret
/// never appears in a URL. The relay reads it as `Authorization: Bearer <secret>`.
pub const SECRET_SUBPROTOCOL_PREFIX: &str = "pairprog.secret.";

/// Messages a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// The first message on a connection: who is joining.
    #[serde(rename_all = "camelCase")]
    Hello {
        protocol: u32,
        #[serde(deserialize_with = "checked::text")]
        name: String,
        /// A secret the client draws once from a secure random source (at least 128
        /// bits; see [`crate::identity`]) and keeps for its life, across reconnects. The
        /// relay derives the public `clientId` from it (`identity::client_id`) and
        /// recognises a resent operation by that id; the key itself is never sent to
        /// anyone. Absent: the relay picks one for this connection only. A `hello` that
        /// names a `clientId` itself is refused.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "checked::optional_client_key"
        )]
        client_key: Option<String>,
    },
    /// Subscribe to a document, creating it with `text` if the room does not have it.
    /// With `revision` (a reconnect), the relay answers with the operations since then
    /// when it still can, instead of the whole text.
    #[serde(rename_all = "camelCase")]
    Open {
        #[serde(deserialize_with = "checked::text")]
        path: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "checked::optional_text"
        )]
        language: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "checked::optional_text"
        )]
        text: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "checked::optional_counter"
        )]
        revision: Option<u64>,
    },
    /// Unsubscribe from a document.
    Close {
        #[serde(deserialize_with = "checked::text")]
        path: String,
    },
    /// An edit made against revision `base`. `seq` numbers this client's operations on
    /// this document (1, 2, ...), so a resend is recognised.
    #[serde(rename_all = "camelCase")]
    Op {
        #[serde(deserialize_with = "checked::text")]
        path: String,
        #[serde(deserialize_with = "checked::counter")]
        base: u64,
        #[serde(deserialize_with = "checked::counter")]
        seq: u64,
        #[serde(deserialize_with = "checked::operation")]
        op: Operation,
    },
    /// Where this participant's cursor and selections are in a document.
    Cursor {
        #[serde(deserialize_with = "checked::text")]
        path: String,
        selections: Vec<Selection>,
        /// The revision the offsets refer to: the client's, with none of its operations
        /// awaiting an ack. The relay moves the offsets past the revisions committed
        /// since, which the client had not yet received. Absent: read against the
        /// relay's current text.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "checked::optional_counter"
        )]
        revision: Option<u64>,
    },
}

/// A selection in chars; `anchor == head` is a plain cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Selection {
    pub anchor: u64,
    pub head: u64,
}

/// Moves every end of `selections` to where it is after `op` (see
/// [`Operation::transform_offset`]): the relay and the editor agent both keep
/// collaborators' cursors in step with the revisions this way.
pub fn move_selections(selections: &mut [Selection], op: &Operation, bias: crate::Bias) {
    let moved = |offset: u64| {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        op.transform_offset(offset, bias) as u64
    };
    for s in selections {
        s.anchor = moved(s.anchor);
        s.head = moved(s.head);
    }
}

/// Messages the relay sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// The answer to `hello`.
    #[serde(rename_all = "camelCase")]
    Welcome {
        protocol: u32,
        room_id: String,
        /// This client's public id, derived from its `clientKey`: the id its operations
        /// carry in history entries.
        client_id: String,
        you: Participant,
        participants: Vec<Participant>,
        documents: Vec<DocumentInfo>,
    },
    /// The answer to `open`: either the whole text, or the operations since the revision
    /// the client named (each with the client id and seq that produced it, so a client
    /// finds its own unacknowledged operation among them).
    #[serde(rename_all = "camelCase")]
    Opened {
        path: String,
        language: String,
        revision: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operations: Option<Vec<HistoryEntry>>,
        /// Presence of the others in this document.
        cursors: Vec<CursorInfo>,
    },
    /// The operation with this `seq` is committed as `revision`.
    Ack {
        path: String,
        revision: u64,
        seq: u64,
    },
    /// Someone else's committed operation, to apply on top of `revision - 1`.
    #[serde(rename_all = "camelCase")]
    Remote {
        path: String,
        revision: u64,
        op: Operation,
        /// The participant id of its author.
        author: String,
    },
    /// A participant joined the room.
    Joined {
        participant: Participant,
        count: u32,
    },
    /// A participant left the room.
    #[serde(rename_all = "camelCase")]
    Left { participant_id: String, count: u32 },
    /// A participant's cursor and selections in a document (an empty list: none there).
    Presence(CursorInfo),
    /// A document was added to the room.
    DocumentAdded(DocumentInfo),
    /// Something the client sent was refused; nothing else changed.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub name: String,
    /// `#rrggbb`, distinct among the room's participants while the palette lasts.
    pub color: String,
    /// True for a participant who joined with the room's read-only secret: they watch
    /// and show a cursor but cannot edit. Absent (false) for everyone else.
    #[serde(
        default,
        rename = "readOnly",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub path: String,
    pub language: String,
    pub revision: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorInfo {
    pub participant_id: String,
    pub path: String,
    pub selections: Vec<Selection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub revision: u64,
    pub op: Operation,
    /// The display name of the participant who made it.
    pub author_name: String,
    pub client_id: String,
    pub seq: u64,
}

/// Why the relay refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a message this protocol knows.
    BadMessage,
    ProtocolMismatch,
    /// A message other than `hello` came first, or `hello` came twice.
    NotJoined,
    MessageTooLarge,
    DocumentTooLarge,
    TooManyDocuments,
    /// The operation does not fit the document at its base revision.
    InvalidOperation,
    /// The base revision is newer than the document.
    FutureRevision,
    /// The base revision is too old for the relay to transform from; reopen the document.
    StaleRevision,
    /// The document is not open on this connection.
    NotOpen,
    /// The room has no such document (and `open` carried no text to create it).
    UnknownDocument,
    /// The room does not exist (it was deleted).
    UnknownRoom,
    InvalidPath,
    /// The relay could not commit; the operation was not applied. Resend it.
    Unavailable,
    /// The connection is closing because its outgoing queue overflowed or the relay shuts down.
    GoingAway,
    /// The participant joined with the room's read-only secret: its operations and
    /// document creations are refused and change nothing.
    ReadOnly,
}
