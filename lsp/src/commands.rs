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
    /// A room id, or a link ending in one (`…/ws/<id>`, `…#<id>`): users paste what
    /// they were sent.
    JoinRoom(String),
    LeaveRoom,
    Status,
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
                let id = raw.rsplit(['/', '#']).next().unwrap_or(raw);
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!("{raw:?} is not a room id"));
                }
                Ok(Command::JoinRoom(id.to_owned()))
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

    #[test]
    fn join_takes_an_id_or_a_link() {
        assert_eq!(
            Command::parse(JOIN_ROOM, &[json!("abc_12-x")]),
            Ok(Command::JoinRoom("abc_12-x".into()))
        );
        assert_eq!(
            Command::parse(JOIN_ROOM, &[json!("ws://relay:8787/ws/abc")]),
            Ok(Command::JoinRoom("abc".into()))
        );
        assert!(Command::parse(JOIN_ROOM, &[]).is_err());
        assert!(Command::parse(JOIN_ROOM, &[json!(5)]).is_err());
        assert!(Command::parse(JOIN_ROOM, &[json!("a b")]).is_err());
    }

    #[test]
    fn unknown_commands_are_refused() {
        assert!(Command::parse("pairprog.nope", &[]).is_err());
        assert_eq!(Command::parse(STATUS, &[]), Ok(Command::Status));
    }
}
