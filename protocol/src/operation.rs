//! The text operation: a walk over the whole document that retains, inserts and deletes.
//!
//! Lengths count Unicode scalar values (Rust `char`s), the unit every pairprog component
//! uses internally. An operation always spans the whole document it was made for, so its
//! *base length* (retained + deleted chars) must equal the length of the document it is
//! applied to, and its *target length* (retained + inserted chars) is the length after.
//! That is what lets `apply`, `compose` and `transform` reject a mismatch as an error
//! value instead of corrupting a document.
//!
//! The algebra follows the classic ot.js design: operations are kept normalised (no empty
//! components, no two adjacent components of one kind, an insert always before an adjacent
//! delete), so two operations with the same effect compare equal.

use compact_str::CompactString;
use ropey::Rope;
use smallvec::SmallVec;

use crate::error::OperationError;

/// One step of an operation's walk over the document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// Keep the next `n` chars unchanged.
    Retain(usize),
    /// Insert this text at the current position. (Texts up to 24 bytes are stored inline.)
    Insert(CompactString),
    /// Remove the next `n` chars.
    Delete(usize),
}

/// A normalised text operation. Build one with [`Operation::new`] and the chaining
/// builders, or from a diff with [`Operation::from_diff`](crate::Operation::from_diff).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Operation {
    components: SmallVec<[Component; 3]>,
    base_len: usize,
    target_len: usize,
}

/// How a position that sits exactly where text is inserted moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bias {
    /// The position stays in front of the inserted text (a collaborator's cursor when
    /// someone else types at it).
    Before,
    /// The position moves past the inserted text (the typist's own cursor).
    After,
}

pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Splits `s` after `n` chars. `n` must not exceed the char length of `s`.
fn split_chars(s: &str, n: usize) -> (&str, &str) {
    match s.char_indices().nth(n) {
        Some((byte, _)) => s.split_at(byte),
        None => (s, ""),
    }
}

impl Operation {
    /// The empty operation on the empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// An operation that changes nothing in a document of `len` chars.
    pub fn identity(len: usize) -> Self {
        Self::new().retain(len)
    }

    /// Replaces `deleted` chars at `offset` of a document of `len` chars with `inserted`:
    /// what one editor change (an LSP content change, a trace patch) is. Built directly in
    /// normal form, with no allocation for a keystroke-sized insert.
    pub fn splice(
        len: usize,
        offset: usize,
        deleted: usize,
        inserted: &str,
    ) -> Result<Self, OperationError> {
        let end = offset
            .checked_add(deleted)
            .filter(|end| *end <= len)
            .ok_or(OperationError::SpliceOutOfRange {
                offset,
                deleted,
                len,
            })?;
        let mut components = SmallVec::new();
        if offset > 0 {
            components.push(Component::Retain(offset));
        }
        let inserted_len = char_len(inserted);
        if inserted_len > 0 {
            components.push(Component::Insert(CompactString::from(inserted)));
        }
        if deleted > 0 {
            components.push(Component::Delete(deleted));
        }
        if end < len {
            components.push(Component::Retain(len - end));
        }
        Ok(Self {
            components,
            base_len: len,
            target_len: len - deleted + inserted_len,
        })
    }

    /// Builds an operation from components in any form; it is normalised on the way in.
    pub fn from_components(components: impl IntoIterator<Item = Component>) -> Self {
        let mut op = Self::new();
        for c in components {
            op.push(c);
        }
        op
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The length, in chars, of the document this operation applies to.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// The length, in chars, of the document after this operation.
    pub fn target_len(&self) -> usize {
        self.target_len
    }

    /// True when applying the operation leaves every document unchanged.
    pub fn is_noop(&self) -> bool {
        self.components
            .iter()
            .all(|c| matches!(c, Component::Retain(_)))
    }

    pub fn retain(mut self, n: usize) -> Self {
        self.push_retain(n);
        self
    }

    pub fn insert(mut self, text: &str) -> Self {
        self.push_insert(text);
        self
    }

    pub fn delete(mut self, n: usize) -> Self {
        self.push_delete(n);
        self
    }

    pub fn push(&mut self, component: Component) {
        match component {
            Component::Retain(n) => self.push_retain(n),
            Component::Insert(s) => self.push_insert_owned(s),
            Component::Delete(n) => self.push_delete(n),
        }
    }

    pub fn push_retain(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.base_len += n;
        self.target_len += n;
        if let Some(Component::Retain(last)) = self.components.last_mut() {
            *last += n;
        } else {
            self.components.push(Component::Retain(n));
        }
    }

    pub fn push_insert(&mut self, text: &str) {
        if !text.is_empty() {
            self.push_insert_counted(CompactString::from(text), char_len(text));
        }
    }

    fn push_insert_owned(&mut self, text: CompactString) {
        if !text.is_empty() {
            let n = char_len(&text);
            self.push_insert_counted(text, n);
        }
    }

    fn push_insert_counted(&mut self, text: CompactString, chars: usize) {
        self.target_len += chars;
        let len = self.components.len();
        match self.components.as_mut_slice() {
            [.., Component::Insert(last)] => last.push_str(&text),
            // An insert next to a delete goes in front of it, so that "delete then insert"
            // and "insert then delete" normalise to the same operation.
            [.., Component::Insert(before), Component::Delete(_)] => before.push_str(&text),
            [.., Component::Delete(_)] => self.components.insert(len - 1, Component::Insert(text)),
            _ => self.components.push(Component::Insert(text)),
        }
    }

    pub fn push_delete(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.base_len += n;
        if let Some(Component::Delete(last)) = self.components.last_mut() {
            *last += n;
        } else {
            self.components.push(Component::Delete(n));
        }
    }

    fn check_base(&self, actual: usize) -> Result<(), OperationError> {
        if self.base_len == actual {
            Ok(())
        } else {
            Err(OperationError::BaseLengthMismatch {
                expected: self.base_len,
                actual,
            })
        }
    }

    /// Applies the operation to a rope in place. A rope of the wrong length is left
    /// untouched and reported as an error.
    pub fn apply(&self, rope: &mut Rope) -> Result<(), OperationError> {
        self.check_base(rope.len_chars())?;
        let mut pos = 0;
        for c in &self.components {
            match c {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => {
                    rope.insert(pos, s);
                    pos += char_len(s);
                }
                Component::Delete(n) => rope.remove(pos..pos + n),
            }
        }
        Ok(())
    }

    /// Applies the operation to a string, returning the new text.
    pub fn apply_str(&self, text: &str) -> Result<String, OperationError> {
        self.check_base(char_len(text))?;
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    let (kept, tail) = split_chars(rest, *n);
                    out.push_str(kept);
                    rest = tail;
                }
                Component::Insert(s) => out.push_str(s),
                Component::Delete(n) => rest = split_chars(rest, *n).1,
            }
        }
        Ok(out)
    }

    /// The operation that undoes this one on the document it produced. `base` is the
    /// document *before* this operation, needed to restore what was deleted.
    pub fn invert(&self, base: &Rope) -> Result<Operation, OperationError> {
        self.check_base(base.len_chars())?;
        let mut inverse = Operation::new();
        let mut pos = 0;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    inverse.push_retain(*n);
                    pos += n;
                }
                Component::Insert(s) => inverse.push_delete(char_len(s)),
                Component::Delete(n) => {
                    inverse.push_insert_owned(base.slice(pos..pos + n).chunks().collect());
                    pos += n;
                }
            }
        }
        Ok(inverse)
    }

    /// Combines `self` followed by `next` into one operation with the same effect.
    pub fn compose(&self, next: &Operation) -> Result<Operation, OperationError> {
        if self.target_len != next.base_len {
            return Err(OperationError::ComposeLengthMismatch {
                first_target: self.target_len,
                second_base: next.base_len,
            });
        }
        let mut out = Operation::new();
        let mut first = Pieces::new(self);
        let mut second = Pieces::new(next);
        let mut a = first.next();
        let mut b = second.next();
        loop {
            match (a, b) {
                (None, None) => break,
                (Some(Piece::Delete(n)), _) => {
                    out.push_delete(n);
                    a = first.next();
                }
                (_, Some(Piece::Insert(s, _))) => {
                    out.push_insert(s);
                    b = second.next();
                }
                (Some(Piece::Retain(x)), Some(Piece::Retain(y))) => {
                    let n = x.min(y);
                    out.push_retain(n);
                    a = first.advance(Piece::Retain(x), n);
                    b = second.advance(Piece::Retain(y), n);
                }
                (Some(Piece::Insert(s, x)), Some(Piece::Delete(y))) => {
                    let n = x.min(y);
                    a = first.advance(Piece::Insert(s, x), n);
                    b = second.advance(Piece::Delete(y), n);
                }
                (Some(Piece::Insert(s, x)), Some(Piece::Retain(y))) => {
                    let n = x.min(y);
                    out.push_insert(split_chars(s, n).0);
                    a = first.advance(Piece::Insert(s, x), n);
                    b = second.advance(Piece::Retain(y), n);
                }
                (Some(Piece::Retain(x)), Some(Piece::Delete(y))) => {
                    let n = x.min(y);
                    out.push_delete(n);
                    a = first.advance(Piece::Retain(x), n);
                    b = second.advance(Piece::Delete(y), n);
                }
                // Lengths were checked above, so neither walk can end before the other.
                (None, Some(_)) | (Some(_), None) => unreachable_lengths(),
            }
        }
        Ok(out)
    }

    /// Transforms two concurrent operations on the same document into `(left', right')`
    /// such that `apply(apply(d, left), right') == apply(apply(d, right), left')`.
    ///
    /// Tie-break: when both insert at the same position, `left`'s text goes first. The
    /// relay and every client always pass the not-yet-sequenced (client) operation as
    /// `left` and the already-sequenced (server) operation as `right`, so both ends of
    /// every pair make the same choice and converge.
    pub fn transform(
        left: &Operation,
        right: &Operation,
    ) -> Result<(Operation, Operation), OperationError> {
        if left.base_len != right.base_len {
            return Err(OperationError::TransformLengthMismatch {
                left: left.base_len,
                right: right.base_len,
            });
        }
        let mut left_out = Operation::new();
        let mut right_out = Operation::new();
        let mut lw = Pieces::new(left);
        let mut rw = Pieces::new(right);
        let mut a = lw.next();
        let mut b = rw.next();
        loop {
            match (a, b) {
                (None, None) => break,
                (Some(Piece::Insert(s, n)), _) => {
                    left_out.push_insert_counted(CompactString::from(s), n);
                    right_out.push_retain(n);
                    a = lw.next();
                }
                (_, Some(Piece::Insert(s, n))) => {
                    left_out.push_retain(n);
                    right_out.push_insert_counted(CompactString::from(s), n);
                    b = rw.next();
                }
                (Some(Piece::Retain(x)), Some(Piece::Retain(y))) => {
                    let n = x.min(y);
                    left_out.push_retain(n);
                    right_out.push_retain(n);
                    a = lw.advance(Piece::Retain(x), n);
                    b = rw.advance(Piece::Retain(y), n);
                }
                (Some(Piece::Delete(x)), Some(Piece::Delete(y))) => {
                    let n = x.min(y);
                    a = lw.advance(Piece::Delete(x), n);
                    b = rw.advance(Piece::Delete(y), n);
                }
                (Some(Piece::Delete(x)), Some(Piece::Retain(y))) => {
                    let n = x.min(y);
                    left_out.push_delete(n);
                    a = lw.advance(Piece::Delete(x), n);
                    b = rw.advance(Piece::Retain(y), n);
                }
                (Some(Piece::Retain(x)), Some(Piece::Delete(y))) => {
                    let n = x.min(y);
                    right_out.push_delete(n);
                    a = lw.advance(Piece::Retain(x), n);
                    b = rw.advance(Piece::Delete(y), n);
                }
                (None, Some(_)) | (Some(_), None) => unreachable_lengths(),
            }
        }
        Ok((left_out, right_out))
    }

    /// Where a position (a cursor or one end of a selection, in chars) ends up after this
    /// operation. A position past the end of the base document is clamped to it first, so
    /// the result is always within `0..=target_len`.
    pub fn transform_offset(&self, offset: usize, bias: Bias) -> usize {
        let offset = offset.min(self.base_len);
        // `old` walks the base document, `new` the target; stop once past `offset`.
        let mut old = 0;
        let mut new = 0;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    if old + n > offset {
                        return new + (offset - old);
                    }
                    old += n;
                    new += n;
                }
                Component::Insert(s) => {
                    if old == offset && bias == Bias::Before {
                        return new;
                    }
                    new += char_len(s);
                }
                Component::Delete(n) => {
                    if old + n > offset {
                        return new;
                    }
                    old += n;
                }
            }
        }
        new
    }

    /// Where a position in this operation's target text was in its base text: the
    /// inverse of [`Operation::transform_offset`] for positions the operation kept. A
    /// position inside (or at either end of) inserted text maps to where the insert
    /// started, so `transform_offset(base_offset(p), Bias::After)` is the end of that
    /// insert. A position past the end of the target is clamped to it first.
    ///
    /// A client uses it to state its cursor in the relay's text while its own
    /// operations are still unacknowledged: the relay moves the cursor past them with
    /// `Bias::After` when they commit.
    pub fn base_offset(&self, offset: usize) -> usize {
        let offset = offset.min(self.target_len);
        let mut old = 0;
        let mut new = 0;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    if new + n > offset {
                        return old + (offset - new);
                    }
                    old += n;
                    new += n;
                }
                Component::Insert(s) => {
                    let len = char_len(s);
                    if new + len >= offset {
                        return old;
                    }
                    new += len;
                }
                Component::Delete(n) => old += n,
            }
        }
        old
    }
}

#[cold]
fn unreachable_lengths() -> ! {
    // Both walks cover the same number of base (or intermediate) chars, which the length
    // check at the top of `compose`/`transform` guarantees; reaching this is a bug here.
    panic!("operation walks of equal length ended at different points")
}

/// A borrowed, possibly partly consumed component.
#[derive(Clone, Copy, Debug)]
enum Piece<'a> {
    Retain(usize),
    /// The text and its length in chars.
    Insert(&'a str, usize),
    Delete(usize),
}

/// Walks an operation's components, handing out the unconsumed rest of a split one.
struct Pieces<'a> {
    inner: std::slice::Iter<'a, Component>,
}

impl<'a> Pieces<'a> {
    fn new(op: &'a Operation) -> Self {
        Self {
            inner: op.components.iter(),
        }
    }

    fn next(&mut self) -> Option<Piece<'a>> {
        self.inner.next().map(|c| match c {
            Component::Retain(n) => Piece::Retain(*n),
            Component::Insert(s) => Piece::Insert(s, char_len(s)),
            Component::Delete(n) => Piece::Delete(*n),
        })
    }

    /// Consumes `n` chars of `current`, returning what is left of it or the next piece.
    fn advance(&mut self, current: Piece<'a>, n: usize) -> Option<Piece<'a>> {
        match current {
            Piece::Retain(x) if x > n => Some(Piece::Retain(x - n)),
            Piece::Delete(x) if x > n => Some(Piece::Delete(x - n)),
            Piece::Insert(s, x) if x > n => Some(Piece::Insert(split_chars(s, n).1, x - n)),
            _ => self.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_normalise_adjacent_components() {
        let op = Operation::new()
            .retain(2)
            .retain(3)
            .delete(1)
            .insert("a")
            .insert("b")
            .delete(2);
        assert_eq!(
            op.components(),
            &[
                Component::Retain(5),
                Component::Insert("ab".into()),
                Component::Delete(3)
            ]
        );
        assert_eq!(op.base_len(), 8);
        assert_eq!(op.target_len(), 7);
    }

    #[test]
    fn splice_builds_the_normal_form() {
        assert_eq!(
            Operation::splice(10, 3, 2, "xy").unwrap(),
            Operation::new().retain(3).delete(2).insert("xy").retain(5)
        );
        assert_eq!(
            Operation::splice(2, 0, 2, "").unwrap(),
            Operation::new().delete(2)
        );
        assert_eq!(Operation::splice(0, 0, 0, "").unwrap(), Operation::new());
        assert!(Operation::splice(3, 2, 2, "").is_err());
        assert!(Operation::splice(3, usize::MAX, 2, "").is_err());
    }

    #[test]
    fn apply_to_wrong_length_is_an_error_and_changes_nothing() {
        let mut rope = Rope::from_str("hello");
        let op = Operation::new().retain(3).insert("x");
        assert_eq!(
            op.apply(&mut rope),
            Err(OperationError::BaseLengthMismatch {
                expected: 3,
                actual: 5
            })
        );
        assert_eq!(rope.to_string(), "hello");
    }

    #[test]
    fn concurrent_inserts_at_one_position_put_left_first() {
        let left = Operation::new().retain(1).insert("L").retain(1);
        let right = Operation::new().retain(1).insert("R").retain(1);
        let (l2, r2) = Operation::transform(&left, &right).unwrap();
        let via_left = r2.apply_str(&left.apply_str("ab").unwrap()).unwrap();
        let via_right = l2.apply_str(&right.apply_str("ab").unwrap()).unwrap();
        assert_eq!(via_left, "aLRb");
        assert_eq!(via_right, "aLRb");
    }

    #[test]
    fn offset_bias_decides_inserts_at_the_offset() {
        let op = Operation::new().retain(2).insert("xyz").retain(2);
        assert_eq!(op.transform_offset(2, Bias::Before), 2);
        assert_eq!(op.transform_offset(2, Bias::After), 5);
        assert_eq!(op.transform_offset(3, Bias::Before), 6);
        assert_eq!(op.transform_offset(99, Bias::Before), 7);
    }

    #[test]
    fn offset_inside_deleted_text_moves_to_the_deletion_point() {
        let op = Operation::new().retain(1).delete(3).retain(1);
        assert_eq!(op.transform_offset(2, Bias::After), 1);
        assert_eq!(op.transform_offset(4, Bias::After), 1);
        assert_eq!(op.transform_offset(5, Bias::After), 2);
    }

    #[test]
    fn base_offset_maps_inserted_text_to_the_insert_start() {
        let op = Operation::new().retain(2).insert("xyz").delete(1).retain(2);
        // "ab" "xyz" "cd" in the target; "ab" "e" "cd" in the base.
        assert_eq!(op.base_offset(1), 1);
        assert_eq!(op.base_offset(2), 2);
        assert_eq!(op.base_offset(4), 2);
        assert_eq!(op.base_offset(5), 2);
        assert_eq!(op.base_offset(6), 4);
        assert_eq!(op.base_offset(7), 5);
        assert_eq!(op.base_offset(99), 5);
        assert_eq!(op.transform_offset(op.base_offset(5), Bias::After), 5);
    }
}
