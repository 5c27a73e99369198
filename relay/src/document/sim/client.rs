//! A simulated client: an editor beside the real OT client state machine
//! ([`OtClient`]), typing unique tokens, resending after errors and reconnects, and
//! checking what it hears: every revision once and in order, and every ack for the very
//! operation it sent.

use std::collections::VecDeque;

use pairprog_protocol::messages::{ErrorCode, HistoryEntry, ServerMessage};
use pairprog_protocol::{Component, Operation, OtClient};

use crate::document::SubmitCommand;

/// A live connection of a client to the relay.
pub struct Conn {
    pub id: u64,
    pub participant: String,
    /// Messages sent by the relay and not yet delivered, in order.
    pub outbox: VecDeque<ServerMessage>,
    pub opened: bool,
}

pub struct SimClient {
    /// A short name for tokens and messages.
    pub name: String,
    /// The public id the relay derives from this client's key, as in `ws/hello.rs`.
    pub client_id: String,
    pub conn: Option<Conn>,
    pub text: String,
    pub ot: OtClient,
    next_seq: u64,
    pub in_flight_seq: Option<u64>,
    typed: u64,
    /// Tokens the relay acknowledged: they must be in the store.
    pub acked: Vec<String>,
}

/// What a client does after taking in a message.
pub enum Reaction {
    Nothing,
    Send(SubmitCommand),
    /// Drop the connection and open the document afresh (its edits were refused).
    Restart,
}

impl SimClient {
    pub fn new(name: String) -> Self {
        let key = format!("{name:0>32}");
        Self {
            client_id: pairprog_protocol::identity::client_id(&key),
            name,
            conn: None,
            text: String::new(),
            ot: OtClient::new(0),
            next_seq: 1,
            in_flight_seq: None,
            typed: 0,
            acked: Vec::new(),
        }
    }

    /// The seq this client's next operation will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn participant(&self) -> Option<&str> {
        self.conn.as_ref().map(|c| c.participant.as_str())
    }

    pub fn is_open(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.opened)
    }

    /// Types a new token at a token boundary chosen by `r`; returns what to send.
    pub fn type_token(&mut self, r: u64) -> Result<Option<SubmitCommand>, String> {
        self.typed += 1;
        let token = format!("<{}.{}>", self.name, self.typed);
        let op = insert_at_boundary(&self.text, r, &token);
        self.text = op.apply_str(&self.text).map_err(|e| e.to_string())?;
        let send = self.ot.apply_local(op).map_err(|e| e.to_string())?;
        Ok(send.map(|op| {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.in_flight_seq = Some(seq);
            self.submit(seq, op)
        }))
    }

    fn submit(&self, seq: u64, op: Operation) -> SubmitCommand {
        SubmitCommand {
            participant_id: self.participant().unwrap_or_default().to_owned(),
            client_id: self.client_id.clone(),
            seq,
            base: self.ot.revision(),
            op,
        }
    }

    /// The in-flight operation again, with the same seq (after an error or a reconnect).
    pub fn resend(&self) -> Option<SubmitCommand> {
        let op = self.ot.in_flight()?.clone();
        Some(self.submit(self.in_flight_seq?, op))
    }

    /// The in-flight operation was acknowledged as `revision`, whose logged operation
    /// (from the store) is `logged`.
    fn acked(&mut self, revision: u64, logged: Option<&Operation>) -> Result<Reaction, String> {
        if revision != self.ot.revision() + 1 {
            return Err(format!(
                "{}: ack of revision {revision} at revision {}",
                self.name,
                self.ot.revision()
            ));
        }
        let mine = inserted(
            self.ot
                .in_flight()
                .ok_or("ack without an operation in flight")?,
        );
        if logged.map(inserted).as_deref() != Some(mine.as_str()) {
            return Err(format!(
                "{}: acknowledged as revision {revision}, which holds another operation ({:?} vs {mine:?})",
                self.name,
                logged.map(inserted)
            ));
        }
        self.acked.extend(tokens(&mine));
        let next = self.ot.server_ack().map_err(|e| e.to_string())?;
        self.in_flight_seq = None;
        Ok(match next {
            Some(op) => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.in_flight_seq = Some(seq);
                Reaction::Send(self.submit(seq, op))
            }
            None => Reaction::Nothing,
        })
    }

    fn remote(&mut self, revision: u64, op: &Operation) -> Result<(), String> {
        if revision != self.ot.revision() + 1 {
            return Err(format!(
                "{}: revision {revision} after revision {}: a revision was skipped or repeated",
                self.name,
                self.ot.revision()
            ));
        }
        let local = self.ot.apply_remote(op).map_err(|e| e.to_string())?;
        self.text = local.apply_str(&self.text).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Takes in one message from the relay. `log` is the store's log, to check acks.
    pub fn receive(
        &mut self,
        msg: ServerMessage,
        log: &[crate::document::LogEntry],
    ) -> Result<Reaction, String> {
        let logged = |revision: u64| {
            log.get((revision as usize).wrapping_sub(1))
                .map(|e| &e.operation)
        };
        match msg {
            ServerMessage::Opened {
                revision,
                text,
                operations,
                ..
            } => {
                if let Some(conn) = &mut self.conn {
                    conn.opened = true;
                }
                if let Some(text) = text {
                    // Opened from scratch: whatever was pending is abandoned.
                    self.text = text;
                    self.ot = OtClient::new(revision);
                    self.in_flight_seq = None;
                    return Ok(Reaction::Nothing);
                }
                let mut reaction = Reaction::Nothing;
                for HistoryEntry {
                    revision,
                    op,
                    client_id,
                    seq,
                    ..
                } in operations.unwrap_or_default()
                {
                    if client_id == self.client_id && Some(seq) == self.in_flight_seq {
                        reaction = self.acked(revision, Some(&op))?;
                    } else {
                        self.remote(revision, &op)?;
                    }
                }
                if self.ot.revision() != revision {
                    return Err(format!(
                        "{}: opened at {revision} but caught up to {}",
                        self.name,
                        self.ot.revision()
                    ));
                }
                Ok(match reaction {
                    Reaction::Nothing => self.resend().map_or(Reaction::Nothing, Reaction::Send),
                    other => other,
                })
            }
            ServerMessage::Ack { revision, seq, .. } => {
                if Some(seq) == self.in_flight_seq {
                    self.acked(revision, logged(revision))
                } else {
                    // A second answer for a duplicate already answered.
                    Ok(Reaction::Nothing)
                }
            }
            ServerMessage::Remote { revision, op, .. } => {
                self.remote(revision, &op).map(|()| Reaction::Nothing)
            }
            ServerMessage::Error {
                seq: Some(seq),
                code,
                ..
            } if Some(seq) == self.in_flight_seq => Ok(if code == ErrorCode::Unavailable {
                self.resend().map_or(Reaction::Nothing, Reaction::Send)
            } else {
                Reaction::Restart
            }),
            _ => Ok(Reaction::Nothing),
        }
    }

    /// Forgets everything but its id: the next open starts from the text.
    pub fn restart(&mut self) {
        self.conn = None;
        self.text.clear();
        self.ot = OtClient::new(0);
        self.in_flight_seq = None;
    }
}

/// An operation inserting `token` at a token boundary of `text` chosen by `r`.
pub fn insert_at_boundary(text: &str, r: u64, token: &str) -> Operation {
    let mut boundaries = vec![0];
    for (i, c) in text.chars().enumerate() {
        if c == '>' {
            boundaries.push(i + 1);
        }
    }
    let at = boundaries[(r % boundaries.len() as u64) as usize];
    let len = text.chars().count();
    Operation::new().retain(at).insert(token).retain(len - at)
}

/// Everything an operation inserts, concatenated.
pub fn inserted(op: &Operation) -> String {
    op.components()
        .iter()
        .filter_map(|c| match c {
            Component::Insert(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// The tokens (`<...>`) of a text, in order.
pub fn tokens(text: &str) -> Vec<String> {
    text.split_inclusive('>')
        .filter(|t| t.starts_with('<'))
        .map(str::to_owned)
        .collect()
}
