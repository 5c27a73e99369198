//! Judging a whole-text change from a client that reports whole texts (Vim's vim-lsp):
//! such a client applies every edit at the positions it was given, stale or not, and
//! reports it only inside its next whole-text change, merged with typing the user did
//! before and after the edit arrived. Content-change boundaries say nothing there, so
//! the echo is looked for in the text alone: every place in the new text that holds the
//! edit's inserted text is a candidate, and the explanation that leaves the user the
//! fewest changed chars wins, a place where the client could have put the edit
//! (where we meant it, or at its wire positions on the text with some of the typing)
//! before one where it could not.
//!
//! vim-lsp applies an edit before it answers `applied`, so the first change after that
//! answer holds the echo for certain: there the edit counts as applied even when its
//! text is not whole (typed into, or cut by a range over unreported typing), and what
//! differs from it is the user's. Taking such a change for typing doubled the edit's
//! text, and waiting for an echo that had already come doubled it again. A change that
//! came before the answer may hold identical typing and no echo; there the edit must
//! explain the change better than typing alone does.
//!
//! Only clients that report whole texts are judged this way. A client reporting content
//! changes one by one shows its echo as changes of its own, and a looser judge there
//! took a user's keystrokes for part of an echo (`relay_restart.rs`, seed 21).

use pairprog_protocol::position::position_to_offset;
use pairprog_protocol::{Operation, OperationError};
use ropey::Rope;

use super::judge::{Explained, WireEdit};
use super::region::{changed_span, cost};
use crate::text_diff::minimal_diff;

/// How many places holding the edit's text are considered.
const MAX_OCCURRENCES: usize = 32;
/// Up to this many typed regions in front of a place, every subset of them is tried as
/// the typing the client had when the edit arrived; above it, only runs of them.
const MAX_SUBSET_HUNKS: usize = 6;

/// One region where two texts differ: `old` chars of the old text at `old_at` became
/// `new` chars of the new text at `new_at`.
#[derive(Clone, Copy, Debug)]
struct Hunk {
    old_at: usize,
    old: usize,
    new_at: usize,
    new: usize,
}

/// The regions an operation changes, in order.
fn hunks(op: &Operation) -> Vec<Hunk> {
    use pairprog_protocol::Component;
    let mut out: Vec<Hunk> = Vec::new();
    let (mut old_at, mut new_at) = (0, 0);
    let mut open = false;
    for component in op.components() {
        match component {
            Component::Retain(n) => {
                old_at += n;
                new_at += n;
                open = false;
            }
            Component::Insert(s) => {
                let n = s.chars().count();
                match out.last_mut() {
                    Some(h) if open => h.new += n,
                    _ => out.push(Hunk {
                        old_at,
                        old: 0,
                        new_at,
                        new: n,
                    }),
                }
                new_at += n;
                open = true;
            }
            Component::Delete(n) => {
                match out.last_mut() {
                    Some(h) if open => h.old += n,
                    _ => out.push(Hunk {
                        old_at,
                        old: *n,
                        new_at,
                        new: 0,
                    }),
                }
                old_at += n;
                open = true;
            }
        }
    }
    out
}

/// The subsets of `0..k` tried as typed regions the client did not have yet.
fn subsets(k: usize) -> Vec<Vec<usize>> {
    if k <= MAX_SUBSET_HUNKS {
        return (0..1u32 << k)
            .map(|mask| (0..k).filter(|i| mask & (1 << i) != 0).collect())
            .collect();
    }
    let mut out = Vec::new();
    for j in 0..=k {
        out.push((0..j).collect());
        out.push((j..k).collect());
    }
    out
}

/// Whether a client could have put `wire` at `at..at + deleted` of `typed` (the text
/// after all of the user's typing, without the edit): at its wire positions on the text
/// it had when the edit arrived, which holds some of the typing in front of that place
/// (the rest came after the edit, shifting it).
fn could_land(
    base: &Rope,
    typed: &Rope,
    typing: &Operation,
    wire: &WireEdit,
    at: usize,
    deleted: usize,
) -> bool {
    let before: Vec<Hunk> = hunks(typing)
        .into_iter()
        .filter(|h| h.new_at + h.new <= at)
        .collect();
    for undone in subsets(before.len()) {
        // The text as the client had it: `typed` with the undone regions back as they
        // were in `base`, built from the last region to the first so offsets hold.
        let mut then = typed.clone();
        let mut shift = 0isize;
        for &i in undone.iter().rev() {
            let h = before[i];
            then.remove(h.new_at..h.new_at + h.new);
            then.insert(
                h.new_at,
                &base.slice(h.old_at..h.old_at + h.old).to_string(),
            );
            shift += h.new as isize - h.old as isize;
        }
        let start = position_to_offset(&then, wire.range.start, wire.encoding) as isize + shift;
        let end = position_to_offset(&then, wire.range.end, wire.encoding) as isize + shift;
        if start == at as isize && end == (at + deleted) as isize {
            return true;
        }
    }
    false
}

/// Judges a change list from a client that reports whole texts: was `edit` (over
/// `base`, sent as `wire`) applied, and where? See the module comment. Unless the echo
/// is `certain` to be in the change, `None` when no explanation with the edit applied
/// leaves the user fewer changed chars than taking the whole change as typing. When it
/// is certain, the edit counts as applied even where its text is no longer whole (the
/// user typed inside it, or the client's range took typing with it): what differs from
/// it is the user's.
pub fn judge_whole_text(
    base: &Rope,
    edit: &Operation,
    wire: &WireEdit,
    changes: &[Operation],
    certain: bool,
) -> Result<Option<Explained>, OperationError> {
    let mut now = base.clone();
    for change in changes {
        change.apply(&mut now)?;
    }
    let Some((from, to)) = changed_span(edit) else {
        return Ok(None);
    };
    let meant_deleted = base.slice(from..to).to_string();
    let deleted = to - from;
    let not_applied = if certain {
        usize::MAX
    } else {
        cost(&minimal_diff(base, &now))
    };
    // The best so far: the user's changed chars, whether the client could not have put
    // the edit there, and the explanation.
    let mut best: Option<(usize, bool, Explained)> = None;
    let mut consider = |left: usize, implausible: bool, explained: Explained| {
        if left < not_applied
            && best
                .as_ref()
                .is_none_or(|(c, i, _)| (left, implausible) < (*c, *i))
        {
            best = Some((left, implausible, explained));
        }
    };
    if certain {
        // Where we meant it, with everything else the user's: always an explanation.
        let mut meant = base.clone();
        edit.apply(&mut meant)?;
        let after = minimal_diff(&meant, &now);
        consider(
            cost(&after),
            false,
            Explained {
                typing: Operation::identity(base.len_chars()),
                echo_base: base.clone(),
                echo: edit.clone(),
                after,
            },
        );
    }
    let inserted: Vec<char> = wire.inserted.chars().collect();
    if inserted.is_empty() {
        return Ok(best.map(|(_, _, explained)| explained));
    }
    let now_chars: Vec<char> = now.chars().collect();
    let width = inserted.len();
    let places = (0..(now_chars.len() + 1).saturating_sub(width))
        .filter(|&p| now_chars[p..p + width] == inserted[..])
        .take(MAX_OCCURRENCES);
    for at in places {
        // The user's typing alone: the edit's text taken out, what it replaced put back.
        let mut typed = now.clone();
        typed.remove(at..at + width);
        typed.insert(at, &meant_deleted);
        let typing = minimal_diff(base, &typed);
        let (meant, _) = Operation::transform(edit, &typing)?;
        let echo = Operation::splice(typed.len_chars(), at, deleted, &wire.inserted)?;
        let plausible = echo == meant || could_land(base, &typed, &typing, wire, at, deleted);
        consider(
            cost(&typing),
            !plausible,
            Explained {
                typing,
                echo_base: typed,
                echo,
                after: Operation::identity(now.len_chars()),
            },
        );
    }
    Ok(best.map(|(_, _, explained)| explained))
}
