//! The commands the server offers through `workspace/executeCommand`.

use serde_json::Value;

pub const CREATE_ROOM: &str = "pairprog.createRoom";
pub const JOIN_ROOM: &str = "pairprog.joinRoom";
pub const LEAVE_ROOM: &str = "pairprog.leaveRoom";
pub const STATUS: &str = "pairprog.status";

/// Advertised in `executeCommandProvider`.
pub const COMMANDS: [&str; 4] = [CREATE_ROOM, JOIN_ROOM, LEAVE_ROOM, STATUS];

#[derive(Debug, PartialEq)]
pub enum Command {
    CreateRoom,
    /// A room id, or a link ending in one (`…/ws/<id>`, `…#<id>`), optionally followed
    /// by `#<secret>`: users paste what they were sent.
    JoinRoom(RoomLink),
    LeaveRoom,
    Status,
}

/// A room to join: its id and, for a room created with secrets, the secret to present
/// (the join secret, or the read-only one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomLink {
    pub id: String,
    pub secret: Option<String>,
}

impl RoomLink {
    /// Reads `roomId`, `roomId#secret`, or a link ending in either: `ws(s)://host/ws/
    /// roomId#secret`, `http(s)://host/…/roomId`, or the web product's `…/#roomId`
    /// (a `#` right after a `/` introduces the id, not a secret).
    pub fn parse(raw: &str) -> Result<RoomLink, String> {
        let raw = raw.trim();
        // Ids and secrets are base64url, so neither contains '/': the last segment holds
        // both.
        let tail = raw.rsplit('/').next().unwrap_or(raw);
        let tail = tail.strip_prefix('#').unwrap_or(tail);
        let (id, secret) = match tail.split_once('#') {
            Some((id, secret)) => (id, Some(secret)),
            None => (tail, None),
        };
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 128
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !token(id) {
            return Err(format!("{raw:?} is not a room id"));
        }
        if secret.is_some_and(|s| !token(s)) {
            return Err(format!("{raw:?}: the part after '#' is not a room secret"));
        }
        Ok(RoomLink {
            id: id.to_owned(),
            secret: secret.map(str::to_owned),
        })
    }
}

impl Command {
    pub fn parse(name: &str, arguments: &[Value]) -> Result<Command, String> {
        match name {
            CREATE_ROOM => Ok(Command::CreateRoom),
            JOIN_ROOM => {
                let raw = arguments
                    .first()
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| format!("{JOIN_ROOM} needs the room id as its argument"))?;
                RoomLink::parse(raw).map(Command::JoinRoom)
            }
            LEAVE_ROOM => Ok(Command::LeaveRoom),
            STATUS => Ok(Command::Status),
            other => Err(format!("unknown command {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(id: &str, secret: Option<&str>) -> RoomLink {
        RoomLink {
            id: id.into(),
            secret: secret.map(Into::into),
        }
    }

    #[test]
    fn join_takes_an_id_or_a_link() {
        assert_eq!(
            Command::parse(JOIN_ROOM, &[json!("abc_12-x")]),
            Ok(Command::JoinRoom(link("abc_12-x", None)))
        );
        assert_eq!(
            Command::parse(JOIN_ROOM, &[json!("ws://relay:8787/ws/abc")]),
            Ok(Command::JoinRoom(link("abc", None)))
        );
        assert!(Command::parse(JOIN_ROOM, &[]).is_err());
        assert!(Command::parse(JOIN_ROOM, &[json!(5)]).is_err());
        assert!(Command::parse(JOIN_ROOM, &[json!("a b")]).is_err());
    }

    #[test]
    fn a_secret_follows_the_id_after_a_hash() {
        assert_eq!(
            RoomLink::parse("abc#s3cr-t_"),
            Ok(link("abc", Some("s3cr-t_")))
        );
        assert_eq!(
            RoomLink::parse(" wss://relay.example/ws/abc#sec "),
            Ok(link("abc", Some("sec")))
        );
        assert_eq!(
            RoomLink::parse("https://relay.example/api/rooms/abc#sec"),
            Ok(link("abc", Some("sec")))
        );
        // The web product's links put the id after "/#".
        assert_eq!(
            RoomLink::parse("http://web.example/#abc"),
            Ok(link("abc", None))
        );
        assert_eq!(
            RoomLink::parse("http://web.example/#abc#sec"),
            Ok(link("abc", Some("sec")))
        );
        assert_eq!(
            Command::parse(JOIN_ROOM, &[json!("abc#sec")]),
            Ok(Command::JoinRoom(link("abc", Some("sec"))))
        );
        assert!(RoomLink::parse("abc#").is_err());
        assert!(RoomLink::parse("abc#se cret").is_err());
        assert!(RoomLink::parse("#").is_err());
    }

    #[test]
    fn unknown_commands_are_refused() {
        assert!(Command::parse("pairprog.nope", &[]).is_err());
        assert_eq!(Command::parse(STATUS, &[]), Ok(Command::Status));
    }
}
