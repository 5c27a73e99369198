//! The editor bridge for one document: the editor's exact text ([`EditorSide`]), the OT
//! client toward the relay ([`RelaySide`]), and the proxy's own copy of the text between
//! them. Pure and synchronous, so every client behaviour can be tested without I/O; the
//! session owns one per open document and does the talking.
//!
//! The three texts and what ties them:
//! * `editor`: what the editor has, rebuilt from `didOpen`/`didChange` in order.
//! * `local`: the relay's text at the revision we know plus our unacknowledged edits;
//!   `local = missing(editor)`, where `missing` is what the editor still lacks.
//! * the relay's text, inside [`RelaySide`].

mod editor_side;
mod judge;
mod merged;
mod region;
mod relay_side;

pub use editor_side::{EditReply, EditorEdit, EditorSide};
pub use relay_side::{Outgoing, RelaySide, SyncError};

use pairprog_protocol::messages::HistoryEntry;
use pairprog_protocol::{Operation, PositionEncoding};
use ropey::Rope;

use crate::edit_convert::{apply_changes, ContentChange};

/// Where a document stands toward the room.
#[derive(Debug)]
enum Link {
    /// Not shared (no room, or outside the workspace).
    Local,
    /// `open` sent, `opened` not yet received: the editor text then, and the user's
    /// edits since, over it (`edits` of them).
    Opening {
        base: Rope,
        since: Operation,
        edits: usize,
    },
    Shared {
        local: Rope,
        relay: RelaySide,
    },
}

#[derive(Debug)]
pub struct Document {
    pub language: String,
    editor: EditorSide,
    link: Link,
}

/// What an editor change produced.
#[derive(Debug, Default)]
pub struct ChangeOutcome {
    /// The content changes themselves, each over the editor text the previous one
    /// left (for the completion index).
    pub changes: Vec<Operation>,
    /// The user's own edits, over the proxy's text, already applied to it.
    pub user_edits: Vec<Operation>,
    /// An operation to send to the relay now.
    pub outgoing: Option<Outgoing>,
}

impl Document {
    pub fn new(language: String, text: Rope, version: i32) -> Document {
        Document {
            language,
            editor: EditorSide::new(text, version),
            link: Link::Local,
        }
    }

    /// The editor promises no version check: edits go to it unversioned.
    pub fn send_unversioned(&mut self) {
        self.editor.send_unversioned();
    }

    /// The position encoding edits go to the editor in.
    pub fn set_encoding(&mut self, encoding: PositionEncoding) {
        self.editor.set_encoding(encoding);
    }

    fn fresh_editor(&self) -> EditorSide {
        self.editor.fresh()
    }

    pub fn editor_text(&self) -> &Rope {
        self.editor.text()
    }

    pub fn editor_version(&self) -> i32 {
        self.editor.version()
    }

    /// The proxy's text (the editor's when not shared).
    pub fn local_text(&self) -> &Rope {
        match &self.link {
            Link::Shared { local, .. } => local,
            _ => self.editor.text(),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.link, Link::Shared { .. })
    }

    pub fn revision(&self) -> Option<u64> {
        match &self.link {
            Link::Shared { relay, .. } => Some(relay.revision()),
            _ => None,
        }
    }

    /// Nothing of ours awaits the relay.
    pub fn relay_synchronized(&self) -> bool {
        match &self.link {
            Link::Shared { relay, .. } => relay.is_synchronized(),
            Link::Opening { .. } => false,
            Link::Local => true,
        }
    }

    pub fn unacknowledged(&self) -> usize {
        match &self.link {
            Link::Shared { relay, .. } => relay.unacknowledged(),
            Link::Opening { edits, .. } => *edits,
            Link::Local => 0,
        }
    }

    /// The editor has everything and nothing is outstanding toward it.
    pub fn editor_settled(&self) -> bool {
        self.editor.is_settled()
    }

    /// A `didChange`.
    pub fn editor_change(
        &mut self,
        version: i32,
        changes: &[ContentChange],
        encoding: PositionEncoding,
    ) -> Result<ChangeOutcome, SyncError> {
        let mut text = self.editor.text().clone();
        if changes.iter().any(|c| c.range.is_none()) {
            self.editor.reports_whole_texts();
        }
        let ops = apply_changes(&mut text, changes, encoding)?;
        let users = self.editor.editor_change(version, &ops, text)?;
        let mut outcome = ChangeOutcome {
            changes: ops,
            ..ChangeOutcome::default()
        };
        self.take_user_edits(users, &mut outcome)?;
        Ok(outcome)
    }

    fn take_user_edits(
        &mut self,
        users: Vec<Operation>,
        outcome: &mut ChangeOutcome,
    ) -> Result<(), SyncError> {
        // An empty change (a plugin telling us its version) is no edit for the room.
        for user in users.into_iter().filter(|u| !u.is_noop()) {
            match &mut self.link {
                Link::Local => {}
                Link::Opening { since, edits, .. } => {
                    *since = since.compose(&user)?;
                    *edits += 1;
                }
                Link::Shared { local, relay } => {
                    user.apply(local)?;
                    if let Some(out) = relay.local(user.clone())? {
                        outcome.outgoing = Some(out);
                    }
                    outcome.user_edits.push(user);
                }
            }
        }
        Ok(())
    }

    /// The editor's answer to one of our edits.
    pub fn edit_reply(&mut self, id: u64, reply: EditReply) -> Result<ChangeOutcome, SyncError> {
        let users = self.editor.edit_reply(id, reply)?;
        let mut outcome = ChangeOutcome::default();
        self.take_user_edits(users, &mut outcome)?;
        Ok(outcome)
    }

    /// See [`EditorSide::echo_overdue`]: whether an edit may go to the editor now.
    pub fn echo_overdue(&mut self, id: u64) -> Result<bool, SyncError> {
        Ok(self.editor.echo_overdue(id)?)
    }

    /// `open` is on its way to the relay.
    pub fn start_opening(&mut self) {
        let base = self.editor.text().clone();
        let len = base.len_chars();
        // Whatever the editor was missing from a previous room is dropped with it.
        self.editor = self.fresh_editor();
        self.link = Link::Opening {
            base,
            since: Operation::identity(len),
            edits: 0,
        };
    }

    /// The relay's answer to a first `open`: its text wins, the user's edits made in
    /// between are kept on top of it. Returns the editor's text as it was, when the
    /// room's differed from it (so the caller keeps a copy), and what to send.
    pub fn opened(
        &mut self,
        text: &str,
        revision: u64,
    ) -> Result<(Option<String>, Option<Outgoing>), SyncError> {
        let Link::Opening { base, since, edits } = std::mem::replace(&mut self.link, Link::Local)
        else {
            return Ok((None, None));
        };
        let differs = base != text;
        let room = if differs {
            Rope::from_str(text)
        } else {
            base.clone()
        };
        let from_base = if differs {
            Operation::from_diff(&base.to_string(), text)
        } else {
            Operation::identity(base.len_chars())
        };
        let (mine, missing) = Operation::transform(&since, &from_base)?;
        let mut local = room.clone();
        mine.apply(&mut local)?;
        let mut relay = RelaySide::new(room, revision);
        let outgoing = if mine.is_noop() {
            None
        } else {
            relay.local_edits(mine, edits.max(1))?
        };
        // A file that did not exist or held only blank space (Neovim reports a new
        // buffer as "\n") loses nothing worth a copy: the room's text simply wins.
        let blank = base.chars().all(char::is_whitespace);
        let editor_before = (differs && !blank).then(|| self.editor.text().to_string());
        let mut editor = self.fresh_editor();
        editor.remote(&missing)?;
        self.editor = editor;
        self.link = Link::Shared { local, relay };
        Ok((editor_before, outgoing))
    }

    /// The relay's answer to a reopen after a reconnect: the operations we missed, or
    /// (when it no longer has them all) its whole text.
    pub fn reopened(
        &mut self,
        operations: Option<&[HistoryEntry]>,
        text: Option<&str>,
        revision: u64,
        client_id: &str,
    ) -> Result<Option<Outgoing>, SyncError> {
        let Link::Shared { local, relay } = &mut self.link else {
            return Ok(None);
        };
        let (remote, outgoing) = match (operations, text) {
            (Some(entries), _) => relay.catch_up(entries, client_id)?,
            (None, Some(text)) => {
                let (theirs, out) = relay.resync(text, revision)?;
                (vec![theirs], out)
            }
            (None, None) => (Vec::new(), relay.resend()),
        };
        for op in remote {
            op.apply(local)?;
            self.editor.remote(&op)?;
        }
        Ok(outgoing)
    }

    /// A collaborator's committed operation.
    pub fn remote(&mut self, op: &Operation) -> Result<Option<Operation>, SyncError> {
        let Link::Shared { local, relay } = &mut self.link else {
            return Ok(None);
        };
        let theirs = relay.remote(op)?;
        theirs.apply(local)?;
        self.editor.remote(&theirs)?;
        Ok(Some(theirs))
    }

    pub fn ack(&mut self, seq: u64) -> Result<Option<Outgoing>, SyncError> {
        match &mut self.link {
            Link::Shared { relay, .. } => relay.ack(seq),
            _ => Ok(None),
        }
    }

    /// What is in flight, to send again on a new connection.
    pub fn resend(&self) -> Option<Outgoing> {
        match &self.link {
            Link::Shared { relay, .. } => relay.resend(),
            _ => None,
        }
    }

    /// Leaves the room: the editor keeps its text, edits not yet in it are dropped.
    pub fn unshare(&mut self) {
        self.editor = self.fresh_editor();
        self.link = Link::Local;
    }

    /// The next edit for the editor, if one may go now.
    pub fn next_editor_edit(&mut self) -> Result<Option<EditorEdit>, SyncError> {
        if !self.is_shared() {
            return Ok(None);
        }
        Ok(self.editor.next_edit()?)
    }

    pub fn outstanding_edit(&self) -> Option<u64> {
        self.editor.outstanding()
    }

    /// An offset in the editor's text, mapped into the proxy's.
    pub fn editor_to_local(&self, offset: usize) -> usize {
        if self.is_shared() {
            self.editor.to_proxy_offset(offset)
        } else {
            offset
        }
    }

    /// An offset in the proxy's text, mapped into the relay's text at our revision: what
    /// a cursor we send states.
    pub fn local_to_server(&self, offset: usize) -> usize {
        match &self.link {
            Link::Shared { relay, .. } => relay.to_server_offset(offset),
            _ => offset,
        }
    }

    /// An offset in the relay's text at our revision (a collaborator's cursor), mapped
    /// into the editor's text.
    pub fn server_to_editor(&self, offset: usize) -> usize {
        match &self.link {
            Link::Shared { relay, .. } => self
                .editor
                .to_editor_offset(relay.from_server_offset(offset)),
            _ => offset,
        }
    }

    /// Our operation `seq`, if it is the one in flight: what an ack of `seq` commits.
    pub fn in_flight_op(&self, seq: u64) -> Option<&Operation> {
        match &self.link {
            Link::Shared { relay, .. } => relay.in_flight_op(seq),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
