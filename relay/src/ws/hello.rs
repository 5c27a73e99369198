//! The handshake's first message: a `hello` in a text frame within [`HELLO_TIMEOUT`],
//! of this protocol version, read into who is joining. Anything else becomes a
//! [`Refusal`]: an error the peer is told, then the close.
//!
//! The client's public id is derived here from the secret `clientKey` it sent
//! (`pairprog_protocol::identity`); a `hello` naming a `clientId` itself is refused, so
//! no member can take another's id and have the victim's next operation taken for a
//! resend of its own (issue 15, defect 5).

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::StreamExt;
use pairprog_protocol::identity;
use pairprog_protocol::messages::{ClientMessage, ErrorCode, PROTOCOL_VERSION};

use super::edge::{
    read_failure, Refusal, Stream, MESSAGE_TOO_BIG, POLICY_VIOLATION, UNSUPPORTED_DATA,
};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is joining, as their `hello` said.
pub(super) struct Hello {
    /// The display name, cleaned (see [`clean_name`]).
    pub name: String,
    /// The public id, derived from the client's key (or from one the relay picked for
    /// this connection when the client sent none).
    pub client_id: String,
}

/// Reads and checks the `hello`. `Err(None)`: the peer left or broke the connection, so
/// nobody is left to tell.
pub(super) async fn read(stream: &mut Stream, limit: usize) -> Result<Hello, Option<Refusal>> {
    let text = first_frame(stream, limit).await?;
    match serde_json::from_str::<ClientMessage>(&text) {
        Ok(ClientMessage::Hello {
            protocol,
            name,
            client_key,
        }) if protocol == PROTOCOL_VERSION => Ok(Hello {
            name: clean_name(&name),
            client_id: identity::client_id(&client_key.unwrap_or_else(crate::ids::short_id)),
        }),
        Ok(ClientMessage::Hello { protocol, .. }) => Err(Some(Refusal::new(
            ErrorCode::ProtocolMismatch,
            format!("this relay speaks protocol {PROTOCOL_VERSION}; the client speaks {protocol}. Update the older one."),
            (POLICY_VIOLATION, "protocol version mismatch"),
        ))),
        Ok(_) => Err(Some(Refusal::new(
            ErrorCode::NotJoined,
            "the first message must be hello",
            (POLICY_VIOLATION, "expected hello"),
        ))),
        Err(_) if names_client_id(&text) => Err(Some(Refusal::new(
            ErrorCode::BadMessage,
            "bad hello: a client may not name its clientId; send a secret clientKey (at least 128 random bits, kept across reconnects) and the relay derives the id from it",
            (POLICY_VIOLATION, "bad hello"),
        ))),
        Err(e) => Err(Some(Refusal::new(
            ErrorCode::BadMessage,
            format!("bad hello: {e}"),
            (POLICY_VIOLATION, "bad hello"),
        ))),
    }
}

/// Whether a `hello` that did not decode tried to name its `clientId` (as clients did
/// before ids were derived), so it is told what to send instead of "unknown field".
fn names_client_id(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("type").and_then(|t| t.as_str()) == Some("hello") && v.get("clientId").is_some()
    })
}

/// Waits for the first frame, which must be text within the size limit.
async fn first_frame(stream: &mut Stream, limit: usize) -> Result<Utf8Bytes, Option<Refusal>> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, stream.next()).await else {
            return Err(Some(Refusal::new(
                ErrorCode::NotJoined,
                format!("no hello within {} s", HELLO_TIMEOUT.as_secs()),
                (POLICY_VIOLATION, "expected hello"),
            )));
        };
        return match next {
            None | Some(Ok(Message::Close(_))) => Err(None),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(text))) if text.len() > limit => Err(Some(Refusal::new(
                ErrorCode::MessageTooLarge,
                format!("the hello is {} bytes; the limit is {limit}", text.len()),
                (MESSAGE_TOO_BIG, "message too big"),
            ))),
            Some(Ok(Message::Text(text))) => Ok(text),
            Some(Ok(Message::Binary(_))) => Err(Some(Refusal::new(
                ErrorCode::BadMessage,
                "binary messages are not part of the protocol; send hello as JSON text",
                (UNSUPPORTED_DATA, "expected a text frame"),
            ))),
            Some(Err(e)) => Err(read_failure(e)),
        };
    }
}

/// The name shown to others: trimmed, without control characters, at most 64 chars,
/// and never empty.
fn clean_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if name.is_empty() {
        "Anonymous".to_owned()
    } else {
        name
    }
}
