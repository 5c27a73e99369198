//! What relays that share one Postgres database tell each other. There is no other
//! coordinator: the database decides each document's order (its operation log is unique
//! on `(document, revision)`), and every relay learns what the others committed, who
//! joined and where their cursors are through `NOTIFY` on [`CHANNEL`]. Each notification
//! carries one [`BusMessage`] as JSON. `docs/PROTOCOL.md` ("Between relays") documents
//! each message.

use serde::{Deserialize, Serialize};

use crate::messages::{CursorInfo, DocumentInfo, Participant};
use crate::operation::Operation;

/// The one `LISTEN`/`NOTIFY` channel every relay uses.
pub const CHANNEL: &str = "pairprog";

/// The longest payload `NOTIFY` accepts: Postgres refuses 8000 bytes and more. Operations
/// whose message would be longer are announced as [`BusMessage::OpsInLog`] and read from
/// the log instead.
pub const MAX_PAYLOAD_BYTES: usize = 7999;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum BusMessage {
    /// Operations one relay committed to a document, in revision order. Sent in the
    /// same statement as their insert, so only committed operations are announced, in
    /// commit order.
    Ops {
        relay: String,
        room: String,
        path: String,
        document: i64,
        ops: Vec<BusOp>,
    },
    /// Operations `first..=last` were committed, but their message would exceed
    /// [`MAX_PAYLOAD_BYTES`]: read them from the log.
    OpsInLog {
        relay: String,
        room: String,
        path: String,
        document: i64,
        first: u64,
        last: u64,
    },
    /// A document was created in the room.
    DocumentAdded {
        relay: String,
        room: String,
        document: DocumentInfo,
    },
    /// A participant connected to `relay` joined the room.
    Joined {
        relay: String,
        room: String,
        participant: Participant,
    },
    /// A participant left the room: it disconnected, or its relay stopped answering and
    /// another relay removed it (then `relay` is still the one it was connected to).
    Left {
        relay: String,
        room: String,
        participant_id: String,
    },
    /// A participant's cursor and selections, in chars of the document as the relay
    /// that sent it held it then.
    Cursor {
        relay: String,
        room: String,
        cursor: CursorInfo,
    },
    /// The room was deleted through `relay`'s REST API: every relay closes its
    /// connections to it.
    RoomDeleted { relay: String, room: String },
}

/// One committed operation as the other relays need it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusOp {
    pub revision: u64,
    pub op: Operation,
    pub participant_id: String,
    pub client_id: String,
    pub seq: u64,
}

impl BusMessage {
    /// The relay the message is about (the sender, except for a [`BusMessage::Left`]
    /// written by the relay that found the participant's own relay dead).
    pub fn relay(&self) -> &str {
        match self {
            BusMessage::Ops { relay, .. }
            | BusMessage::OpsInLog { relay, .. }
            | BusMessage::DocumentAdded { relay, .. }
            | BusMessage::Joined { relay, .. }
            | BusMessage::Left { relay, .. }
            | BusMessage::Cursor { relay, .. }
            | BusMessage::RoomDeleted { relay, .. } => relay,
        }
    }

    pub fn room(&self) -> &str {
        match self {
            BusMessage::Ops { room, .. }
            | BusMessage::OpsInLog { room, .. }
            | BusMessage::DocumentAdded { room, .. }
            | BusMessage::Joined { room, .. }
            | BusMessage::Left { room, .. }
            | BusMessage::Cursor { room, .. }
            | BusMessage::RoomDeleted { room, .. } => room,
        }
    }

    /// The JSON payload for `NOTIFY`.
    pub fn to_payload(&self) -> String {
        // Our own types hold only strings, numbers and operations: serialising cannot fail.
        serde_json::to_string(self).expect("bus messages serialise")
    }

    /// The notification announcing `ops` (non-empty, ascending) of one document: all of
    /// them in the payload if it fits, else only their revisions.
    pub fn for_committed(
        relay: &str,
        room: &str,
        path: &str,
        document: i64,
        ops: Vec<BusOp>,
    ) -> Option<String> {
        let first = ops.first()?.revision;
        let last = ops.last()?.revision;
        let full = BusMessage::Ops {
            relay: relay.to_owned(),
            room: room.to_owned(),
            path: path.to_owned(),
            document,
            ops,
        }
        .to_payload();
        if full.len() <= MAX_PAYLOAD_BYTES {
            return Some(full);
        }
        let short = BusMessage::OpsInLog {
            relay: relay.to_owned(),
            room: room.to_owned(),
            path: path.to_owned(),
            document,
            first,
            last,
        }
        .to_payload();
        // Room ids and paths are bounded (64 and 1024 bytes), so this always fits.
        (short.len() <= MAX_PAYLOAD_BYTES).then_some(short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(revision: u64, text: &str) -> BusOp {
        BusOp {
            revision,
            op: Operation::splice(0, 0, 0, text).expect("fits"),
            participant_id: "p1".into(),
            client_id: "c1".into(),
            seq: revision,
        }
    }

    #[test]
    fn small_batches_travel_whole_and_read_back() {
        let payload =
            BusMessage::for_committed("r1", "room", "a.rs", 7, vec![op(3, "hi 😀")]).expect("fits");
        let back: BusMessage = serde_json::from_str(&payload).expect("decodes");
        assert_eq!(
            back,
            BusMessage::Ops {
                relay: "r1".into(),
                room: "room".into(),
                path: "a.rs".into(),
                document: 7,
                ops: vec![op(3, "hi 😀")],
            }
        );
    }

    #[test]
    fn batches_over_the_notify_limit_carry_only_their_revisions() {
        let big = "中".repeat(3000); // 9000 bytes of UTF-8
        let payload =
            BusMessage::for_committed("r1", "room", "a.rs", 7, vec![op(3, "x"), op(4, &big)])
                .expect("fits");
        assert!(payload.len() <= MAX_PAYLOAD_BYTES);
        let back: BusMessage = serde_json::from_str(&payload).expect("decodes");
        assert_eq!(
            back,
            BusMessage::OpsInLog {
                relay: "r1".into(),
                room: "room".into(),
                path: "a.rs".into(),
                document: 7,
                first: 3,
                last: 4,
            }
        );
    }

    #[test]
    fn nothing_is_announced_for_no_operations() {
        assert_eq!(BusMessage::for_committed("r", "room", "p", 1, vec![]), None);
    }

    #[test]
    fn field_names_are_camel_case_as_the_sql_that_writes_left_expects() {
        let left = BusMessage::Left {
            relay: "r".into(),
            room: "room".into(),
            participant_id: "p".into(),
        };
        assert_eq!(
            left.to_payload(),
            r#"{"type":"left","relay":"r","room":"room","participantId":"p"}"#
        );
    }
}
