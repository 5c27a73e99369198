//! Pieces of operations the editor bridge needs: the first region of a pending operation
//! (what goes to the editor in one `TextEdit`), and deciding whether an editor change
//! contains the echo of an edit we sent, by the text it produces.

use pairprog_protocol::{Component, Operation, OperationError};
use ropey::Rope;

use crate::edit_convert::Splice;

/// Regions of a pending operation closer than this many chars go to the editor as one
/// `TextEdit` (the unchanged chars between them are rewritten with themselves), which
/// saves a round trip per region for edits made close together.
pub const MERGE_GAP: usize = 64;

/// Splits `pending` (an operation over `text`) into its first changed region, as a
/// splice over `text`, and the rest, as an operation over the text after that splice.
/// Returns `None` when `pending` changes nothing.
/// Regions closer than `gap` chars are merged ([`MERGE_GAP`], or 0 for a client that may
/// apply the edit over typing it has not reported: rewritten with themselves, the chars
/// between would replace that typing).
pub fn split_first_region(
    pending: &Operation,
    text: &Rope,
    gap: usize,
) -> Result<Option<(Splice, Operation)>, OperationError> {
    let components = pending.components();
    let mut i = 0;
    let mut offset = 0;
    if let Some(Component::Retain(n)) = components.first() {
        offset = *n;
        i = 1;
    }
    if i >= components.len() {
        return Ok(None);
    }
    let mut pos = offset;
    let mut inserted = String::new();
    let mut deleted = 0;
    while i < components.len() {
        match &components[i] {
            Component::Insert(s) => inserted.push_str(s),
            Component::Delete(n) => {
                deleted += n;
                pos += n;
            }
            Component::Retain(n) => {
                let more_follows = i + 1 < components.len();
                if *n > gap || !more_follows {
                    break;
                }
                inserted.extend(text.slice(pos..pos + n).chars());
                deleted += n;
                pos += n;
            }
        }
        i += 1;
    }
    let splice = Splice {
        offset,
        deleted,
        inserted,
    };
    let mut rest = Operation::new();
    rest.push_retain(offset + splice.inserted.chars().count());
    for component in &components[i..] {
        rest.push(component.clone());
    }
    Ok(Some((splice, rest)))
}

/// The span `start..end` of the base document an operation touches, or `None` for an
/// operation that changes nothing.
pub fn changed_span(op: &Operation) -> Option<(usize, usize)> {
    let mut pos = 0;
    let mut span: Option<(usize, usize)> = None;
    for component in op.components() {
        match component {
            Component::Retain(n) => pos += n,
            Component::Insert(_) => {
                let (start, _) = span.unwrap_or((pos, pos));
                span = Some((start, pos));
            }
            Component::Delete(n) => {
                let (start, _) = span.unwrap_or((pos, pos));
                pos += n;
                span = Some((start, pos));
            }
        }
    }
    span
}

/// Chars an operation inserts plus chars it deletes.
pub fn cost(op: &Operation) -> usize {
    op.components()
        .iter()
        .map(|c| match c {
            Component::Retain(_) => 0,
            Component::Insert(s) => s.chars().count(),
            Component::Delete(n) => *n,
        })
        .sum()
}

/// How many of `changes` (one `didChange`'s content changes, in order, the first over
/// `base`) make up the echo of `edit` (over `base`): the smallest `k` such that the first
/// `k` changes produce exactly the text `edit` produces. `None` when no prefix does.
///
/// Only the span the edit and the prefix touch is compared, so the cost does not grow
/// with the document.
///
/// A prefix of several changes is an echo only if none of them deletes what an earlier
/// one inserted: a client that splits an echo (Eglot: a deletion, then an insertion)
/// never writes chars only to take them back. Without this, a keystroke the user typed
/// where an unversioned edit's range starts, and which the edit then replaced (it was
/// applied at its wire positions on the typed text), passed with the edit for an echo
/// in two changes: the keystroke was in neither the editor nor the room
/// (`relay_restart.rs`, seed 21, with stock Neovim given unversioned edits).
pub fn echo_prefix(
    base: &Rope,
    edit: &Operation,
    changes: &[Operation],
) -> Result<Option<usize>, OperationError> {
    let Some(edit_span) = changed_span(edit) else {
        return Ok(None);
    };
    let mut expected = base.clone();
    edit.apply(&mut expected)?;
    let mut text = base.clone();
    let mut prefix = Operation::identity(base.len_chars());
    let mut changed_chars = 0;
    for (k, change) in changes.iter().enumerate() {
        change.apply(&mut text)?;
        prefix = prefix.compose(change)?;
        changed_chars += cost(change);
        // Composing cancels exactly the chars one change inserted and a later one
        // deleted, so the composed prefix then changes fewer chars than its parts did;
        // no longer prefix can be an echo either.
        if cost(&prefix) < changed_chars {
            return Ok(None);
        }
        if text.len_chars() != expected.len_chars() {
            continue;
        }
        let Some(prefix_span) = changed_span(&prefix) else {
            continue;
        };
        // Outside the hull of both spans, both texts are `base`'s text, shifted alike.
        let start = edit_span.0.min(prefix_span.0);
        let tail = base.len_chars() - edit_span.1.max(prefix_span.1);
        let end = expected.len_chars() - tail;
        if text.slice(start..end) == expected.slice(start..end) {
            return Ok(Some(k + 1));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(base: &str, offset: usize, deleted: usize, inserted: &str) -> Operation {
        Operation::splice(base.chars().count(), offset, deleted, inserted).unwrap()
    }

    #[test]
    fn the_first_region_is_split_from_the_rest() {
        let text = Rope::from_str(&"a".repeat(200));
        let pending = Operation::new()
            .retain(10)
            .insert("X")
            .retain(100)
            .delete(5)
            .retain(85);
        let (splice, rest) = split_first_region(&pending, &text, MERGE_GAP)
            .unwrap()
            .unwrap();
        assert_eq!(
            (splice.offset, splice.deleted, splice.inserted.as_str()),
            (10, 0, "X")
        );
        let mut after = text.clone();
        splice.to_operation(200).unwrap().apply(&mut after).unwrap();
        rest.apply(&mut after).unwrap();
        assert_eq!(
            after.to_string(),
            pending.apply_str(&text.to_string()).unwrap()
        );
    }

    #[test]
    fn close_regions_merge_into_one_splice() {
        let text = Rope::from_str("0123456789");
        let pending = Operation::new()
            .retain(1)
            .insert("A")
            .retain(3)
            .delete(1)
            .retain(5);
        let (splice, rest) = split_first_region(&pending, &text, MERGE_GAP)
            .unwrap()
            .unwrap();
        assert_eq!(
            (splice.offset, splice.deleted, splice.inserted.as_str()),
            (1, 4, "A123")
        );
        assert!(rest.is_noop());
        let mut after = text.clone();
        splice.to_operation(10).unwrap().apply(&mut after).unwrap();
        assert_eq!(after.to_string(), "0A12356789");
    }

    #[test]
    fn nothing_pending_gives_no_region() {
        let text = Rope::from_str("abc");
        assert!(
            split_first_region(&Operation::identity(3), &text, MERGE_GAP)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_exact_echo_is_the_whole_change_list() {
        let base = Rope::from_str("hello world");
        let edit = op("hello world", 5, 0, ",");
        assert_eq!(
            echo_prefix(&base, &edit, std::slice::from_ref(&edit)).unwrap(),
            Some(1)
        );
    }

    #[test]
    fn a_minimised_echo_is_recognised_by_its_text() {
        // We replaced "world" with "world!"; the client reports only the "!" insert.
        let base = Rope::from_str("hello world");
        let edit = op("hello world", 6, 5, "world!");
        let change = op("hello world", 11, 0, "!");
        assert_eq!(echo_prefix(&base, &edit, &[change]).unwrap(), Some(1));
    }

    #[test]
    fn an_echo_split_in_two_changes_is_found() {
        // Eglot: the replacement arrives as a deletion, then an insertion.
        let base = Rope::from_str("abcdef");
        let edit = op("abcdef", 2, 2, "XY");
        let changes = [
            op("abcdef", 2, 2, ""),
            op("abef", 2, 0, "XY"),
            op("abXYef", 6, 0, "u"),
        ];
        assert_eq!(echo_prefix(&base, &edit, &changes).unwrap(), Some(2));
    }

    #[test]
    fn typing_alone_has_no_echo_prefix() {
        let base = Rope::from_str("abcdef");
        let edit = op("abcdef", 0, 0, "REMOTE");
        let change = op("abcdef", 6, 0, "y");
        assert_eq!(echo_prefix(&base, &edit, &[change]).unwrap(), None);
    }

    #[test]
    fn regression_diff_heuristic_misjudged_an_echo_merged_with_typing() {
        // The echo, then two tokens typed in the same didChange (as Neovim and Eglot
        // send them). A diff of the texts is not minimal here; the prefix test is exact.
        let text = "<b1>‹c2é><d3>";
        let base = Rope::from_str(text);
        let edit = op(text, 4, 0, "<a35\n>");
        let after_echo = edit.apply_str(text).unwrap();
        let typed = op(&after_echo, 16, 0, "‹a34漢字>");
        assert_eq!(
            echo_prefix(&base, &edit, &[edit.clone(), typed]).unwrap(),
            Some(1)
        );
    }
}
