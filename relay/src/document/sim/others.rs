//! The others in the simulated world: another relay committing to the same log, and a
//! hostile member sending what no honest client would.

use pairprog_protocol::Operation;

use super::client::insert_at_boundary;
use super::store::POISON;
use super::world::{Cmd, World};
use crate::document::core::Fault;
use crate::document::{LogEntry, SubmitCommand};

impl World {
    /// Another relay commits a token to the log, and announces it (or not).
    pub(super) fn foreign(&mut self, r: u64) {
        if self.locked || (!self.commits.is_empty() && r.is_multiple_of(2)) {
            return;
        }
        self.foreign_seq += 1;
        let token = format!("<f.{}>", self.foreign_seq);
        let entry = LogEntry {
            revision: self.store.revision() + 1,
            author: "remote".to_owned(),
            client_id: "f".to_owned(),
            client_seq: self.foreign_seq,
            operation: insert_at_boundary(&self.store.text, r, &token),
            committed_at_ms: self.now,
            participant_id: "remote".to_owned(),
        };
        self.store.append_foreign(entry.clone());
        match (r >> 20) % 4 {
            0 | 1 => self.inbox.push_back(Cmd::Replicated(vec![entry])),
            2 => self.inbox.push_back(Cmd::CatchUp),
            _ => {} // The notification was lost.
        }
    }

    /// The hostile member's client id. It knows the public id of client 0 (the history
    /// shows it) and says hello with that as its key; the relay derives an id of its
    /// own from it. Only with [`Fault::SpoofableClientIds`] does it get the id itself.
    fn hostile_client_id(&self) -> String {
        let victim = &self.clients[0].client_id;
        if self.fault == Fault::SpoofableClientIds {
            victim.clone()
        } else {
            pairprog_protocol::identity::client_id(victim)
        }
    }

    /// A member sends what no honest client would.
    pub(super) fn hostile(&mut self, r: u64) {
        let Some(participant) = self.hostile.clone() else {
            self.next_conn += 1;
            let participant = format!("h.{}", self.next_conn);
            self.hostile = Some(participant.clone());
            self.told.remove(&participant);
            self.inbox.push_back(Cmd::Open {
                conn: 0,
                participant,
                client_id: self.hostile_client_id(),
                revision: None,
            });
            return;
        };
        self.hostile_seq += 1;
        let base = self.store.revision();
        let token = format!("<h.{}>", self.hostile_seq);
        let valid = insert_at_boundary(&self.store.text, r, &token);
        let mut submit = SubmitCommand {
            participant_id: participant,
            client_id: self.hostile_client_id(),
            seq: self.hostile_seq,
            base,
            op: valid,
        };
        match (r >> 16) % 7 {
            0 => submit.seq = u64::MAX - (r % 3),
            1 => submit.base = base + 1 + r % 1000,
            2 => {
                submit.op = Operation::new()
                    .retain(self.store.text.chars().count() + 1)
                    .insert("<h.bad>")
            }
            3 => {
                let poison = format!("<h{POISON}{}>", self.hostile_seq);
                submit.op = insert_at_boundary(&self.store.text, r, &poison);
            }
            4 => {
                // The same (client id, seq) twice in a row.
                self.inbox.push_back(Cmd::Submit(submit.clone()));
            }
            5 => {
                // Client 0's next seq, first: with its id, its operation would be
                // taken for a resend of this one and dropped.
                submit.seq = self.clients[0].next_seq();
            }
            _ => {}
        }
        self.inbox.push_back(Cmd::Submit(submit));
    }
}
