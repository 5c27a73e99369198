//! The editor half of a document's bridge: the exact text the editor has, the
//! collaborators' edits it does not have yet, and the one `workspace/applyEdit` that may
//! be on its way to it.
//!
//! The editor is a peer that cannot transform: it applies our edit at the positions we
//! give, if its version still matches, and reports the result back through `didChange`
//! like any typing. So we send one edit at a time, stamped with the editor's version,
//! and when the next change arrives we decide whether it contains that edit (the echo)
//! by the text it produces, never by message order or count. See `lsp-clients.md` for
//! the client behaviours this has to survive.

use pairprog_protocol::{Operation, OperationError, PositionEncoding};
use ropey::Rope;

use super::judge::{find_echo, judge_by_diff, repair, WireEdit};
use super::merged::judge_whole_text;
use super::region::{split_first_region, MERGE_GAP};
use crate::edit_convert::Splice;

/// Changes the editor may report while its answer to our edit is outstanding before we
/// stop waiting for the answer and judge by text alone.
const MAX_QUEUED_CHANGES: usize = 4_096;

/// `didChange`s a truthful client may report after answering `applied: true` and before
/// the echo of that edit, before we stop waiting for the echo.
const MAX_LATE_ECHO_CHANGES: usize = 64;

/// Times an edit the editor refused is sent again while the editor reports no change
/// (Eglot's user answering "n" to its confirm prompt): bounded, so a client that
/// refuses everything is not asked forever; any change of the user's renews it.
const MAX_REFUSED_RETRIES: u32 = 3;

/// What the editor answered to an edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditReply {
    /// `applied: true`. Stock Neovim also says it after skipping a stale versioned edit,
    /// which is why it gets only unversioned ones ([`EditorSide::send_unversioned`]).
    Applied,
    /// `applied: false` or an error: the edit certainly was not applied.
    Rejected,
    /// No answer in time: judge by text.
    Unknown,
}

/// An edit sent to the editor, waiting for its fate.
#[derive(Debug)]
struct SentEdit {
    id: u64,
    /// The editor's version the edit was stamped with, and its text at that version.
    version: i32,
    base: Rope,
    /// The edit, over `base`.
    edit: Operation,
    /// The rest of what the editor is missing, over the text `edit` produces.
    rest: Operation,
    reply: Option<EditReply>,
    /// The edit as it went on the wire, for clients that apply it wherever those
    /// positions fall by the time it arrives.
    wire: Option<WireEdit>,
    /// `didChange`s the editor reported since, in order, each as its content changes
    /// (each over the text the previous one left); the first is over `base`.
    queued: Vec<Vec<Operation>>,
    /// `didChange`s taken as typing that came ahead of the echo of an edit the client
    /// said it applied (see [`EditorSide::resolve`]).
    late_changes: usize,
    /// How many of `queued` came before the answer.
    before_reply: usize,
}

/// An edit for the editor: replace `splice` in the text at `version`.
#[derive(Clone, Debug, PartialEq)]
pub struct EditorEdit {
    pub id: u64,
    pub version: i32,
    /// Send it with a `null` version: the client applies it unchecked. Only to a client
    /// that promises no version check (stock Neovim); the echo is judged by text like
    /// any other, at the positions the edit names on whatever text the client has.
    pub unversioned: bool,
    pub splice: Splice,
}

#[derive(Debug)]
pub struct EditorSide {
    text: Rope,
    version: i32,
    /// What the editor is missing, over `text`, when no edit is outstanding.
    pending: Operation,
    sent: Option<SentEdit>,
    /// The editor rejected an edit stamped with this version, so it has a newer one we
    /// have not heard of yet: sending again before that change arrives would only be
    /// rejected again.
    stale_through: Option<i32>,
    /// Edits go to this client without a version (see [`Self::send_unversioned`]).
    unversioned: bool,
    /// The client reports whole texts (see [`Self::reports_whole_texts`]).
    whole_texts: bool,
    /// The encoding edits go out in, so a stale edit can be placed where a client that
    /// ignores versions puts it.
    encoding: PositionEncoding,
    /// The last edit refused with no change from the editor since, and how many times
    /// one was sent again for that reason.
    refused: Option<u64>,
    refused_retries: u32,
    next_id: u64,
}

impl EditorSide {
    pub fn new(text: Rope, version: i32) -> EditorSide {
        let len = text.len_chars();
        EditorSide {
            text,
            version,
            pending: Operation::identity(len),
            sent: None,
            stale_through: None,
            unversioned: false,
            whole_texts: false,
            encoding: PositionEncoding::Utf16,
            refused: None,
            refused_retries: 0,
            next_id: 1,
        }
    }

    /// A fresh side for the same editor (leaving or rejoining a room): the editor's text,
    /// version and client traits carry over, and edit ids keep counting, so an answer or
    /// a timer meant for an edit of the old side can never settle one of the new.
    pub fn fresh(&self) -> EditorSide {
        let mut side = EditorSide::new(self.text.clone(), self.version);
        side.unversioned = self.unversioned;
        side.whole_texts = self.whole_texts;
        side.encoding = self.encoding;
        side.next_id = self.next_id;
        side
    }

    pub fn set_encoding(&mut self, encoding: PositionEncoding) {
        self.encoding = encoding;
    }

    /// For a client that promises no version check: every edit goes to it without a
    /// version, so it applies each one, and its `applied: true` is then true.
    ///
    /// Stock Neovim checks a versioned edit only against a newer buffer and answers
    /// `applied: true` after skipping a stale one; with a version, an `applied` answer
    /// could mean either. When the user typed the very text a collaborator's edit holds
    /// (both opening a line at the top at once), "skipped, and this is the user's typing"
    /// and "applied, and this is its echo" produced the same changes, the same texts and
    /// the same version steps: no evidence could tell them apart, and one user's
    /// keystrokes were taken for the other's echo and lost. Applied for certain, the
    /// edit's text is in the editor exactly once, so whichever of two identical pieces
    /// is taken for its echo, nothing is lost or doubled. An unversioned edit may land on
    /// typing the client has not reported yet; the judge recognises it at its wire
    /// positions and corrects it ([`super::judge`]).
    pub fn send_unversioned(&mut self) {
        self.unversioned = true;
    }

    /// The client reported a change as the whole text (Vim's vim-lsp does nothing else):
    /// its echo comes merged with typing in one change, so from then on a change without
    /// an exact echo is judged by where the edit's text lies in it
    /// ([`super::merged`]).
    pub fn reports_whole_texts(&mut self) {
        self.whole_texts = true;
    }

    /// The editor's text as of its latest change.
    pub fn text(&self) -> &Rope {
        &self.text
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// True when the editor has every edit and no edit is outstanding.
    pub fn is_settled(&self) -> bool {
        self.sent.is_none() && self.pending.is_noop()
    }

    /// The editor text before any change we have not yet attributed (equal to
    /// [`Self::text`] unless an edit's answer is outstanding), and the operation that
    /// takes it to the text the proxy holds.
    fn missing(&self) -> Result<Operation, OperationError> {
        match &self.sent {
            Some(sent) => sent.edit.compose(&sent.rest),
            None => Ok(self.pending.clone()),
        }
    }

    /// A collaborator's edit the proxy applied to its own text (over that text).
    pub fn remote(&mut self, op: &Operation) -> Result<(), OperationError> {
        match &mut self.sent {
            Some(sent) => sent.rest = sent.rest.compose(op)?,
            None => self.pending = self.pending.compose(op)?,
        }
        Ok(())
    }

    /// A `didChange`, as its content changes in order (each an operation over the text
    /// the previous one left) and the editor's text after them, which the caller has
    /// already built while converting the changes. Returns the user's own edits, over
    /// the proxy's text.
    pub fn editor_change(
        &mut self,
        version: i32,
        changes: &[Operation],
        text: Rope,
    ) -> Result<Vec<Operation>, OperationError> {
        debug_assert_eq!(
            changes
                .last()
                .map_or(self.text.len_chars(), Operation::target_len),
            text.len_chars()
        );
        self.text = text;
        self.version = version;
        if self.stale_through.is_some_and(|v| version > v) {
            self.stale_through = None;
        }
        self.refused = None;
        self.refused_retries = 0;
        let Some(sent) = &mut self.sent else {
            let change = compose_all(changes, self.pending.base_len())?;
            let (user, pending) = Operation::transform(&change, &self.pending)?;
            self.pending = pending;
            return Ok(vec![user]);
        };
        sent.queued.push(changes.to_vec());
        match sent.reply {
            Some(_) => self.resolve(),
            None if sent.queued.len() >= MAX_QUEUED_CHANGES => {
                sent.reply = Some(EditReply::Unknown);
                self.resolve()
            }
            None => Ok(Vec::new()),
        }
    }

    /// The editor's answer to edit `id` (or the lack of one, as [`EditReply::Unknown`]).
    /// Returns user edits that were waiting for it.
    pub fn edit_reply(
        &mut self,
        id: u64,
        reply: EditReply,
    ) -> Result<Vec<Operation>, OperationError> {
        let Some(sent) = &mut self.sent else {
            return Ok(Vec::new());
        };
        if sent.id != id || sent.reply.is_some() {
            return Ok(Vec::new());
        }
        sent.reply = Some(reply);
        sent.before_reply = sent.queued.len();
        if reply == EditReply::Rejected {
            self.stale_through = Some(sent.version);
            self.refused = Some(id);
        }
        if reply == EditReply::Rejected || !sent.queued.is_empty() {
            return self.resolve();
        }
        Ok(Vec::new())
    }

    /// Some time after the editor answered edit `id`, nothing settled it. Returns
    /// whether an edit may go to the editor now.
    ///
    /// * Answered `applied` (or not answered) and no change since: it may well have been
    ///   applied by a client that reports it only with the user's next change (vim-lsp),
    ///   so it is not sent again (that doubled the text); the next change is judged by
    ///   its text.
    /// * Answered `applied`, changes came, none held the echo: it was skipped after all.
    /// * Refused, and the editor has not changed since (so no newer version will come to
    ///   lift the wait): sent again over the editor's actual text, a bounded number of
    ///   times.
    pub fn echo_overdue(&mut self, id: u64) -> Result<bool, OperationError> {
        if let Some(sent) = &mut self.sent {
            if sent.id == id && sent.queued.is_empty() && sent.late_changes > 0 {
                sent.reply = Some(EditReply::Rejected);
                self.resolve()?;
                return Ok(true);
            }
            return Ok(false);
        }
        if self.refused == Some(id) && self.refused_retries < MAX_REFUSED_RETRIES {
            self.refused = None;
            self.refused_retries += 1;
            self.stale_through = None;
            return Ok(true);
        }
        Ok(false)
    }

    /// Settles the outstanding edit from its answer and the changes queued behind it.
    ///
    /// A client applies our edit only if its version still matches the one we stamped,
    /// so when it did apply it, the echo usually comes first in the next `didChange`: its
    /// first few content changes (one, or a few when the client rewrote the edit) produce
    /// exactly the text the edit produces, and the rest is the user's typing. Texts are
    /// compared, not ranges, because clients minimise and split what they echo.
    ///
    /// VS Code checks the version in its extension host but applies the edit in the
    /// window, where the user may have typed in between: its echo can then come after a
    /// few changes of typing; stock Neovim, given unversioned edits, applies one over
    /// typing still in its debounce, which it may already have reported. So a change list
    /// without the echo behind an `applied` answer is typing that came first: it is taken
    /// as the user's, the edit is moved over it, and the echo is looked for in the next
    /// change list (where the client may have put it at its wire positions instead). A
    /// change list behind a refused or unanswered edit with no echo did not apply it.
    fn resolve(&mut self) -> Result<Vec<Operation>, OperationError> {
        let Some(mut sent) = self.sent.take() else {
            return Ok(Vec::new());
        };
        let mut users: Vec<Operation> = Vec::new();
        let mut queued = std::mem::take(&mut sent.queued).into_iter();
        let mut index = 0;
        loop {
            let Some(first) = queued.next() else {
                if sent.reply == Some(EditReply::Applied) && sent.late_changes > 0 {
                    // Still waiting for the echo; the edit stays outstanding over the
                    // editor's current text, and every change from now on comes after
                    // the answer.
                    sent.before_reply = 0;
                    self.sent = Some(sent);
                } else {
                    self.pending = sent.edit.compose(&sent.rest)?;
                }
                users.retain(|u| !u.is_noop());
                return Ok(users);
            };
            // A refused edit certainly changed nothing; otherwise look for its echo,
            // exact first, then as the text the whole change list leaves.
            let explained = match sent.reply {
                Some(EditReply::Rejected) => None,
                _ => match find_echo(&sent.base, &sent.edit, sent.wire.as_ref(), &first)? {
                    Some(explained) => Some(explained),
                    None => match sent.wire.as_ref().filter(|_| self.whole_texts) {
                        Some(wire) => {
                            // Such a client (vim-lsp) applies an edit before it answers and
                            // reports it with its next change: the first change after an
                            // `applied` answer holds the echo for certain.
                            let certain = sent.reply == Some(EditReply::Applied)
                                && index >= sent.before_reply;
                            judge_whole_text(&sent.base, &sent.edit, wire, &first, certain)?
                        }
                        None => None,
                    }
                    .map_or_else(
                        || judge_by_diff(&sent.base, &sent.edit, sent.wire.as_ref(), &first),
                        |explained| Ok(Some(explained)),
                    )?,
                },
            };
            index += 1;
            if let Some(explained) = explained {
                let (mut found, pending) = repair(&sent.edit, &sent.rest, explained)?;
                users.append(&mut found);
                self.pending = pending;
                break;
            }
            if sent.reply == Some(EditReply::Applied) && sent.late_changes < MAX_LATE_ECHO_CHANGES {
                sent.late_changes += 1;
                let typing = compose_all(&first, sent.base.len_chars())?;
                let mut base = sent.base.clone();
                typing.apply(&mut base)?;
                // The edit goes first where both insert at one place: the editor applies
                // it at the position it was given, in front of what was typed there.
                let (edit, typing_after_edit) = Operation::transform(&sent.edit, &typing)?;
                let (user, rest) = Operation::transform(&typing_after_edit, &sent.rest)?;
                users.push(user);
                sent.base = base;
                sent.edit = edit;
                sent.rest = rest;
                continue;
            }
            let missing = sent.edit.compose(&sent.rest)?;
            let change = compose_all(&first, missing.base_len())?;
            let (user, pending) = Operation::transform(&change, &missing)?;
            users.push(user);
            self.pending = pending;
            break;
        }
        for changes in queued {
            let change = compose_all(&changes, self.pending.base_len())?;
            let (user, pending) = Operation::transform(&change, &self.pending)?;
            users.push(user);
            self.pending = pending;
        }
        users.retain(|u| !u.is_noop());
        Ok(users)
    }

    /// The next edit to send, if the editor is missing something and may take it now.
    ///
    /// Nothing goes out while an edit is outstanding, while the editor is known to have
    /// a change we have not seen, or at a negative version.
    pub fn next_edit(&mut self) -> Result<Option<EditorEdit>, OperationError> {
        if self.sent.is_some()
            || self.version < 0
            || self.stale_through.is_some_and(|v| self.version <= v)
        {
            return Ok(None);
        }
        // A client reporting whole texts applies an edit at once over typing it has not
        // reported yet; an unchanged stretch rewritten with itself would wipe that typing
        // out (tokens typed there were lost or split), so each region goes on its own.
        // Not so for clients given unversioned edits (stock Neovim): more, smaller edits
        // there split more tokens typed beside them (`every_typed_token_survives_exactly_once`,
        // seed 4, in 2 runs of 4).
        let gap = if self.whole_texts { 0 } else { MERGE_GAP };
        let Some((splice, rest)) = split_first_region(&self.pending, &self.text, gap)? else {
            return Ok(None);
        };
        let splice = after_the_last_line(splice, &self.text).widen_crlf(&self.text);
        let edit = splice.to_operation(self.text.len_chars())?;
        // Widening rewrites a line break with itself, so the edit's result, and the
        // `rest` that starts from it, keep their lengths.
        debug_assert_eq!(edit.target_len(), rest.base_len());
        let id = self.next_id;
        self.next_id += 1;
        let wire = WireEdit {
            range: splice.range(&self.text, self.encoding),
            encoding: self.encoding,
            inserted: splice.inserted.clone(),
        };
        self.sent = Some(SentEdit {
            id,
            version: self.version,
            base: self.text.clone(),
            edit,
            rest,
            reply: None,
            wire: Some(wire),
            queued: Vec::new(),
            late_changes: 0,
            before_reply: 0,
        });
        self.pending = Operation::identity(self.text.len_chars());
        Ok(Some(EditorEdit {
            id,
            version: self.version,
            unversioned: self.unversioned,
            splice,
        }))
    }

    /// The outstanding edit's id, if any.
    pub fn outstanding(&self) -> Option<u64> {
        self.sent.as_ref().map(|s| s.id)
    }

    /// The operation from the editor's text to the proxy's, when offsets can be mapped
    /// through it: not while changes are queued behind an outstanding edit.
    fn offset_mapping(&self) -> Option<Operation> {
        if self.sent.as_ref().is_some_and(|s| !s.queued.is_empty()) {
            return None;
        }
        self.missing().ok()
    }

    /// Maps an offset in the editor's text to the proxy's text.
    ///
    /// Changes queued behind an outstanding edit are not in the proxy's text yet, so the
    /// offset first goes back through them to the text the edit was sent for (an offset
    /// inside queued typing goes to where that typing starts), then on to the proxy's.
    /// Taken unmapped, as it once was, the plugin's cursor from the last keystroke of a
    /// burst could reach the room off by the chars queued or missing before it, and stay
    /// there (the three-editor test's Neovim caret drawn one char short).
    pub fn to_proxy_offset(&self, offset: usize) -> usize {
        let queued = self
            .sent
            .iter()
            .flat_map(|sent| sent.queued.iter().rev())
            .flat_map(|changes| changes.iter().rev());
        let at = queued.fold(offset, |at, change| change.base_offset(at));
        self.missing().map_or(at, |op| {
            op.transform_offset(at, pairprog_protocol::Bias::Before)
        })
    }

    /// Maps an offset in the proxy's text to the editor's: the inverse of
    /// [`Self::to_proxy_offset`]; inside text the editor does not have yet, where it
    /// will be inserted.
    pub fn to_editor_offset(&self, offset: usize) -> usize {
        self.offset_mapping()
            .map_or(offset, |op| op.base_offset(offset))
    }
}

/// Moves a splice that starts after the text's final line break (LSP position (line
/// count, 0)) to start just before that line break, rewriting it with itself. Neovim
/// treats a range starting at or past its last line as "append these lines", which adds
/// a line break of its own: the echo then never matched, the edit was taken for typing
/// and sent again, forever (issue 14, item 1). Every client applies the moved splice
/// alike: its start is a position of the last line, its end the end of the text.
fn after_the_last_line(mut splice: Splice, text: &Rope) -> Splice {
    let len = text.len_chars();
    if splice.offset == len && splice.deleted == 0 && len > 0 && text.char(len - 1) == '\n' {
        splice.offset -= 1;
        splice.deleted = 1;
        splice.inserted.insert(0, '\n');
    }
    splice
}

/// The content changes of one `didChange` as one operation over the text before them
/// (of `len` chars).
fn compose_all(changes: &[Operation], len: usize) -> Result<Operation, OperationError> {
    let mut total = Operation::identity(len);
    for change in changes {
        total = total.compose(change)?;
    }
    Ok(total)
}
