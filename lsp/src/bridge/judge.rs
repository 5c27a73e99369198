//! Judging an editor change by the text it produces, when it is not simply "the echo of
//! our edit, then typing": a client that ignores versions (Vim's vim-lsp, or any client
//! we do not recognise) applies a stale edit at the positions it was given, on text the
//! user has changed since, and may report it merged with typing, even as one whole-text
//! change. The bridge knows the editor's exact text before and after, so it looks for
//! the explanation that leaves the least to the user:
//!
//! 1. [`find_echo`]: some typing, then the echo (our edit moved over that typing, or
//!    applied at its original LSP positions on the typed text), then more typing, as
//!    separate content changes.
//! 2. [`judge_by_diff`]: one merged change; the edit applied where we meant it, or
//!    (a pure insertion) at its original LSP position on text with typing we never saw.
//!    A client that reports whole texts is judged first by [`super::merged`], which
//!    looks for the edit's text wherever typing before and after the edit put it.
//!
//! [`repair`] then takes the typing as the user's and what the editor got wrong as a
//! correction the editor still lacks, so the collaborator's text is never doubled and
//! the user's typing never lost.

use pairprog_protocol::position::{position_to_offset, PositionEncoding};
use pairprog_protocol::{Component, Operation, OperationError, Range};
use ropey::Rope;

use super::region::{changed_span, cost, echo_prefix};

/// How many leading content changes of one `didChange` may be typing before the echo.
const MAX_SPLIT: usize = 16;
/// How many places holding the edit's text are considered as where a client put it.
const MAX_OCCURRENCES: usize = 32;

/// Where the edit went on the wire: its LSP range and inserted text, in the encoding
/// the positions were computed in. A client that ignores versions applies exactly this,
/// whatever its text is by then.
#[derive(Clone, Debug)]
pub struct WireEdit {
    pub range: Range,
    pub encoding: PositionEncoding,
    pub inserted: String,
}

impl WireEdit {
    /// The edit as such a client applies it to `text`: between its positions as they
    /// fall on `text`, a position past the end of its line clamped to that end (what
    /// Neovim, VS Code and vim-lsp do). So it deletes what lies there now, which need
    /// not be what we meant to delete: typing that shortened a line shortens the range.
    /// Without the clamp, stock Neovim applying an unversioned edit over typing still in
    /// its debounce (the range's end past the typed line's end) went unrecognised: the
    /// whole change was taken for typing and the collaborator's text came out doubled.
    /// `None` when the range ends before it starts on `text`.
    fn on(&self, text: &Rope) -> Result<Option<Operation>, OperationError> {
        let start = position_to_offset(text, self.range.start, self.encoding);
        let end = position_to_offset(text, self.range.end, self.encoding);
        if end < start {
            return Ok(None);
        }
        Operation::splice(text.len_chars(), start, end - start, &self.inserted).map(Some)
    }
}

/// One change list explained: `typing` (over the edit's base) made the text `echo_base`;
/// the client applied `echo` (over `echo_base`); then `after` (over the text `echo`
/// produced) is the rest of the user's typing.
#[derive(Debug)]
pub struct Explained {
    pub typing: Operation,
    pub echo_base: Rope,
    pub echo: Operation,
    pub after: Operation,
}

fn compose_all(changes: &[Operation], len: usize) -> Result<Operation, OperationError> {
    let mut total = Operation::identity(len);
    for change in changes {
        total = total.compose(change)?;
    }
    Ok(total)
}

/// Looks for the echo of `edit` (over `base`) among separate content changes: the
/// first `j` changes typing, then a prefix of the rest producing exactly what the edit
/// produces on the typed text, either moved over the typing (where we meant it) or
/// applied at its wire positions (where a version-ignoring client puts it).
///
/// Where several splits explain the list, the one that leaves the user the fewest
/// changed chars, counted change by change as reported, wins; the earliest wins ties.
/// Typing is keystrokes; it is an applied edit that the client reports as a wide
/// replace. When the user typed the very text of the edit at its place (both users
/// pressing `O` at the top at once), the first change holding that text need not be the
/// echo: stock Neovim applied Bob's line break at (0, 0) over Carol's `O` + `SAME_C` still
/// in its debounce, and reported it last, as a replace of her line with `\nSAME_C`.
/// Taking her `O` for the echo left her that replace as typing, and her line reached the
/// room as `\nSAME_C` in front of Bob's line break, gluing his word to hers.
pub fn find_echo(
    base: &Rope,
    edit: &Operation,
    wire: Option<&WireEdit>,
    changes: &[Operation],
) -> Result<Option<Explained>, OperationError> {
    let costs: Vec<usize> = changes.iter().map(cost).collect();
    let mut typed = base.clone();
    let mut typing = Operation::identity(base.len_chars());
    // The best split so far: the user's changed chars, then what it explains.
    let mut best: Option<(usize, usize, usize, Operation, Rope, Operation)> = None;
    for j in 0..changes.len().min(MAX_SPLIT) {
        if j > 0 {
            changes[j - 1].apply(&mut typed)?;
            typing = typing.compose(&changes[j - 1])?;
        }
        let typed_cost: usize = costs[..j].iter().sum();
        if best.as_ref().is_some_and(|b| b.0 <= typed_cost) {
            // Every later split leaves the user at least this much.
            break;
        }
        let (moved, _) = Operation::transform(edit, &typing)?;
        let mut candidates = vec![moved];
        if let Some(placed) = wire.map(|w| w.on(&typed)).transpose()?.flatten() {
            if placed != candidates[0] {
                candidates.push(placed);
            }
        }
        for candidate in candidates {
            if let Some(k) = echo_prefix(&typed, &candidate, &changes[j..])? {
                let users = typed_cost + costs[j + k..].iter().sum::<usize>();
                if best.as_ref().is_none_or(|b| users < b.0) {
                    best = Some((users, j, k, typing.clone(), typed.clone(), candidate));
                }
            }
        }
    }
    let Some((_, j, k, typing, echo_base, echo)) = best else {
        return Ok(None);
    };
    debug_assert_eq!(echo.base_len(), echo_base.len_chars());
    let after = compose_all(&changes[j + k..], echo.target_len())?;
    Ok(Some(Explained {
        typing,
        echo_base,
        echo,
        after,
    }))
}

/// The diff from `old` to `new`, two texts equal in their first `head` chars and their
/// last `tail` chars, computed on the part between.
fn region_diff(old: &Rope, new: &Rope, head: usize, tail: usize) -> Operation {
    let old_mid = old.slice(head..old.len_chars() - tail).to_string();
    let new_mid = new.slice(head..new.len_chars() - tail).to_string();
    let mut op = Operation::new();
    op.push_retain(head);
    for component in Operation::from_diff(&old_mid, &new_mid).components() {
        op.push(component.clone());
    }
    op.push_retain(tail);
    op
}

/// Whether `after` (over the text `edit` produces) leaves every char `edit` inserted
/// where it is: neither deletes one nor types inside them. Without this, typing that
/// merely resembles the edit's text (`<g1>` typed where `<a1>` was sent and skipped)
/// passed for the echo plus a small correction, and the collaborator's text was lost.
fn keeps_inserted(edit: &Operation, after: &Operation) -> bool {
    let mut spans = Vec::new();
    let mut pos = 0;
    for component in edit.components() {
        match component {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => {
                let len = s.chars().count();
                spans.push((pos, pos + len));
                pos += len;
            }
            Component::Delete(_) => {}
        }
    }
    let mut pos = 0;
    for component in after.components() {
        match component {
            Component::Retain(n) => pos += n,
            Component::Insert(_) => {
                if spans.iter().any(|&(a, b)| a < pos && pos < b) {
                    return false;
                }
            }
            Component::Delete(n) => {
                if spans.iter().any(|&(a, b)| pos < b && a < pos + n) {
                    return false;
                }
                pos += n;
            }
        }
    }
    true
}

/// The single insertion `edit` makes, if it is one.
fn pure_insert(edit: &Operation) -> Option<&str> {
    let mut inserted = None;
    for component in edit.components() {
        match component {
            Component::Retain(_) => {}
            Component::Delete(_) => return None,
            Component::Insert(s) if inserted.is_none() => inserted = Some(s.as_str()),
            Component::Insert(_) => return None,
        }
    }
    inserted.filter(|s| !s.is_empty())
}

/// Judges one change list by the text it leaves (`changes` composed, over `base`): was
/// `edit` applied, where we meant it or at its wire position on text with typing we
/// never saw, or not at all? The explanation that leaves the user the fewest changed
/// chars wins; "not applied" wins ties, so typing is never taken for an echo lightly.
pub fn judge_by_diff(
    base: &Rope,
    edit: &Operation,
    wire: Option<&WireEdit>,
    changes: &[Operation],
) -> Result<Option<Explained>, OperationError> {
    let change = compose_all(changes, base.len_chars())?;
    let (Some(change_span), Some(edit_span)) = (changed_span(&change), changed_span(edit)) else {
        return Ok(None);
    };
    let head = change_span.0.min(edit_span.0);
    let tail = base.len_chars() - change_span.1.max(edit_span.1);
    let mut now = base.clone();
    change.apply(&mut now)?;
    let mut meant = base.clone();
    edit.apply(&mut meant)?;
    let not_applied = cost(&region_diff(base, &now, head, tail));
    let after_meant = region_diff(&meant, &now, head, tail);
    let mut best: Option<(usize, Explained)> = None;
    if cost(&after_meant) < not_applied && keeps_inserted(edit, &after_meant) {
        best = Some((
            cost(&after_meant),
            Explained {
                typing: Operation::identity(base.len_chars()),
                echo_base: base.clone(),
                echo: edit.clone(),
                after: after_meant,
            },
        ));
    }
    if let (Some(inserted), Some(wire)) = (pure_insert(edit), wire) {
        let width = inserted.chars().count();
        let region: Vec<char> = now.slice(head..now.len_chars() - tail).chars().collect();
        let needle: Vec<char> = inserted.chars().collect();
        let places = (0..region.len().saturating_sub(width - 1))
            .filter(|&p| region[p..p + width] == needle[..])
            .take(MAX_OCCURRENCES);
        for p in places {
            let at = head + p;
            let mut typed = now.clone();
            typed.remove(at..at + width);
            // Only where the client would have put it: at the wire position of the
            // text it had then.
            if position_to_offset(&typed, wire.range.start, wire.encoding) != at {
                continue;
            }
            let typing = region_diff(base, &typed, head, tail);
            let left = cost(&typing);
            if left < not_applied && best.as_ref().is_none_or(|(c, _)| left < *c) {
                let echo = Operation::splice(typed.len_chars(), at, 0, inserted)?;
                best = Some((
                    left,
                    Explained {
                        typing,
                        echo_base: typed,
                        echo,
                        after: Operation::identity(now.len_chars()),
                    },
                ));
            }
        }
    }
    Ok(best.map(|(_, explained)| explained))
}

/// Settles an explained change list. `edit` (over the base the explanation started
/// from) is what we sent, `rest` (over the text `edit` produces) what the editor lacks
/// after it. Returns the user's edits (over the proxy's text, in order) and what the
/// editor now lacks (over its current text): the rest, and first a correction where the
/// client put the edit elsewhere than we meant.
pub fn repair(
    edit: &Operation,
    rest: &Operation,
    explained: Explained,
) -> Result<(Vec<Operation>, Operation), OperationError> {
    let Explained {
        typing,
        echo_base,
        echo,
        after,
    } = explained;
    // Our edit moved over the typing that came before it: where it belongs.
    let (meant, typing_after_edit) = Operation::transform(edit, &typing)?;
    let (first_user, rest) = Operation::transform(&typing_after_edit, rest)?;
    // From what the client did to what we meant, over the text the client produced.
    let correction = if echo == meant {
        Operation::identity(echo.target_len())
    } else {
        let mut got = echo_base.clone();
        echo.apply(&mut got)?;
        let mut wanted = echo_base.clone();
        meant.apply(&mut wanted)?;
        let spans = [changed_span(&echo), changed_span(&meant)];
        let head = spans.iter().flatten().map(|s| s.0).min().unwrap_or(0);
        let end = spans.iter().flatten().map(|s| s.1).max().unwrap_or(0);
        let tail = echo_base.len_chars() - end;
        region_diff(&got, &wanted, head, tail)
    };
    let (later_user, correction) = Operation::transform(&after, &correction)?;
    let (second_user, rest) = Operation::transform(&later_user, &rest)?;
    let pending = correction.compose(&rest)?;
    let users = [first_user, second_user]
        .into_iter()
        .filter(|u| !u.is_noop())
        .collect();
    Ok((users, pending))
}
