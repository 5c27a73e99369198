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
pub fn split_first_region(
    pending: &Operation,
    text: &Rope,
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
                if *n > MERGE_GAP || !more_follows {
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

/// How much an operation changes: chars inserted plus chars deleted.
pub fn change_size(op: &Operation) -> usize {
    op.components()
        .iter()
        .map(|c| match c {
            Component::Retain(_) => 0,
            Component::Insert(s) => s.chars().count(),
            Component::Delete(n) => *n,
        })
        .sum()
}

/// Decides whether `change` (what the editor reported, over `base`) contains the echo of
/// `edit` (what we asked it to apply, over the same `base`), possibly merged with the
/// user's own typing, and possibly with different ranges than we sent (clients minimise
/// edits). Returns the user's part as an operation over the text `edit` produces, or
/// `None` when the change is better explained as typing alone (the edit was skipped).
///
/// The test compares the two explanations by how much typing each needs: if "the echo,
/// then these keystrokes" needs no more than "these keystrokes alone", it was the echo.
/// Only the span both operations touch is diffed, so the cost does not grow with the
/// document.
pub fn user_part_after_echo(
    base: &Rope,
    edit: &Operation,
    change: &Operation,
) -> Result<Option<Operation>, OperationError> {
    let (Some(edit_span), Some(change_span)) = (changed_span(edit), changed_span(change)) else {
        return Ok(None);
    };
    let start = edit_span.0.min(change_span.0);
    let end = edit_span.1.max(change_span.1);
    let mut expected = base.clone();
    edit.apply(&mut expected)?;
    let mut actual = base.clone();
    change.apply(&mut actual)?;
    let tail = base.len_chars() - end;
    let expected_mid = expected
        .slice(start..expected.len_chars() - tail)
        .to_string();
    let actual_mid = actual.slice(start..actual.len_chars() - tail).to_string();
    let mid = Operation::from_diff(&expected_mid, &actual_mid);
    if change_size(&mid) > change_size(change) {
        return Ok(None);
    }
    let mut user = Operation::new();
    user.push_retain(start);
    for component in mid.components() {
        user.push(component.clone());
    }
    user.push_retain(tail);
    Ok(Some(user))
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
        let (splice, rest) = split_first_region(&pending, &text).unwrap().unwrap();
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
        let (splice, rest) = split_first_region(&pending, &text).unwrap().unwrap();
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
        assert!(split_first_region(&Operation::identity(3), &text)
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_exact_echo_leaves_no_user_part() {
        let base = Rope::from_str("hello world");
        let edit = op("hello world", 5, 0, ",");
        let user = user_part_after_echo(&base, &edit, &edit).unwrap().unwrap();
        assert!(user.is_noop());
    }

    #[test]
    fn a_minimised_echo_is_recognised_by_its_text() {
        // We replaced "world" with "world!"; the client reports only the "!" insert.
        let base = Rope::from_str("hello world");
        let edit = op("hello world", 6, 5, "world!");
        let change = op("hello world", 11, 0, "!");
        let user = user_part_after_echo(&base, &edit, &change)
            .unwrap()
            .unwrap();
        assert!(user.is_noop());
    }

    #[test]
    fn echo_merged_with_typing_keeps_only_the_typing() {
        let base = Rope::from_str("abc");
        let edit = op("abc", 0, 0, "REMOTE ");
        // The editor applied the echo, then the user typed "x" at the end.
        let change = Operation::new().insert("REMOTE ").retain(3).insert("x");
        let user = user_part_after_echo(&base, &edit, &change)
            .unwrap()
            .unwrap();
        assert_eq!(user.apply_str("REMOTE abc").unwrap(), "REMOTE abcx");
        assert_eq!(change_size(&user), 1);
    }

    #[test]
    fn typing_alone_is_not_taken_for_an_echo() {
        let base = Rope::from_str("abcdef");
        let edit = op("abcdef", 0, 0, "REMOTE");
        let change = op("abcdef", 6, 0, "y");
        assert!(user_part_after_echo(&base, &edit, &change)
            .unwrap()
            .is_none());
    }
}
