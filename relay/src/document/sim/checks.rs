//! The simulator's checks, in one place: what every message leaving the core must
//! satisfy, what the store must hold after every step, and what must hold once the run
//! has drained.

use pairprog_protocol::messages::ServerMessage;

use super::client::tokens;
use super::store::POISON;
use super::world::World;

impl World {
    pub(super) fn check_message(&mut self, p: &str, msg: &ServerMessage) -> Result<(), String> {
        let told = self.told.get(p).copied();
        let (revision, new) = match msg {
            ServerMessage::Opened { revision, .. } => {
                self.told.insert(p.to_owned(), *revision);
                return Ok(());
            }
            ServerMessage::Ack { revision, seq, .. } => {
                let logged = self.store.log.get((*revision as usize).wrapping_sub(1));
                if logged.is_none_or(|e| e.client_seq != *seq) {
                    return Err(format!("ack of seq {seq} as revision {revision} to {p}, which the store does not hold"));
                }
                (*revision, told.is_some_and(|t| *revision > t))
            }
            ServerMessage::Remote { revision, op, .. } => {
                let logged = self.store.log.get((*revision as usize).wrapping_sub(1));
                if !logged.is_some_and(|e| &e.operation == op) {
                    return Err(format!(
                        "revision {revision} sent to {p}, which the store does not hold"
                    ));
                }
                (*revision, true)
            }
            _ => return Ok(()),
        };
        let Some(told) = told else {
            return Err(format!("revision {revision} sent to {p} before it opened"));
        };
        if new {
            if revision != told + 1 {
                return Err(format!("{p} told of revision {revision} after {told}"));
            }
            self.told.insert(p.to_owned(), revision);
        }
        Ok(())
    }

    /// Every token is in the store at most once, and the store's text is made of tokens.
    pub(super) fn check_exactly_once(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for piece in self.store.text.split_inclusive('>') {
            if !piece.starts_with('<') || piece[1..].contains('<') {
                return Err(format!("the stored text is torn at {piece:?}"));
            }
            if piece.contains(POISON) {
                return Err(format!("a refused value was stored: {piece:?}"));
            }
            if !seen.insert(piece) {
                return Err(format!("{piece} is stored twice"));
            }
        }
        Ok(())
    }

    /// After the run drained: every client holds the stored text, and everything
    /// acknowledged is in it.
    pub fn check_converged(&self) -> Result<(), String> {
        let stored = &self.store.text;
        if self.core.text().map(|t| t.to_string()).as_ref() != Some(stored) {
            return Err("the relay's text differs from the store's".to_owned());
        }
        let held = tokens(stored);
        for c in &self.clients {
            if &c.text != stored {
                return Err(format!(
                    "{} holds {:?}, the store {:?}",
                    c.name, c.text, stored
                ));
            }
            if let Some(missing) = c.acked.iter().find(|t| !held.contains(t)) {
                return Err(format!(
                    "{missing} was acknowledged to {} but is not stored",
                    c.name
                ));
            }
        }
        let subscribed = self
            .clients
            .iter()
            .filter(|c| c.participant().is_some_and(|p| self.core.is_subscribed(p)))
            .count()
            + usize::from(
                self.hostile
                    .as_deref()
                    .is_some_and(|p| self.core.is_subscribed(p)),
            );
        let total = self.core.subscriber_count();
        if subscribed != total {
            return Err(format!(
                "{total} subscribers for {subscribed} connections: a ghost subscriber"
            ));
        }
        Ok(())
    }
}
