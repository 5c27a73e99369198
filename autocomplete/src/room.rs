//! The room index: every document of a room with its identifier table, kept up to date
//! edit by edit so that a request never rescans a document.

use crate::engine::{self, Request};
use crate::error::AutocompleteError;
use crate::identifiers::{scan, IdentTable};
use crate::indent::{self, IndentUnit};
use crate::language::Language;
use crate::rank::Totals;
use crate::rules::{rules_for, LanguageRules};
use crate::suggestion::Suggestion;
use crate::window;
use ropey::Rope;
use std::collections::BTreeMap;

#[cfg(test)]
mod tests;

/// One document: its text as a rope (so cursors and edits in chars are cheap), its
/// identifier counts and its indentation unit.
#[derive(Debug, Clone)]
struct Document {
    language: Language,
    rope: Rope,
    table: IdentTable,
    indent: IndentUnit,
}

/// The documents of one room and the names they define.
///
/// Costs: [`RoomIndex::set_document`] reads the whole document once (linear in its size);
/// [`RoomIndex::apply_edit`] re-reads only the lines the edit touches plus one on each
/// side; [`RoomIndex::suggest`] reads a bounded window around the cursor
/// ([`crate::CONTEXT_WINDOW_CHARS`] before, [`crate::AFTER_WINDOW_CHARS`] after) and
/// looks names up by prefix in a sorted table of the whole room, so its cost does not
/// grow with document size.
#[derive(Debug, Clone, Default)]
pub struct RoomIndex {
    documents: BTreeMap<String, Document>,
    /// The sum of every document's table, so a request does one prefix lookup rather
    /// than one per document.
    room: IdentTable,
}

impl RoomIndex {
    /// An empty room.
    pub fn new() -> RoomIndex {
        RoomIndex::default()
    }

    /// Adds a document or replaces its whole text (and language). Linear in the text's
    /// size; use [`RoomIndex::apply_edit`] for edits.
    pub fn set_document(&mut self, id: &str, language: &str, text: &str) {
        self.insert_document(id, language, text, Rope::from_str(text));
    }

    /// Like [`RoomIndex::set_document`], but keeps a clone of `rope`. Ropes share their
    /// structure until edited, so a caller that holds the same text (the language
    /// server's editor bridge) pays for it about once.
    pub fn set_document_rope(&mut self, id: &str, language: &str, rope: &Rope) {
        self.insert_document(id, language, &rope.to_string(), rope.clone());
    }

    fn insert_document(&mut self, id: &str, language: &str, text: &str, rope: Rope) {
        let language = Language::from_id(language);
        let rules = rules_for(language);
        let table = IdentTable::build(text, rules);
        self.room.add_table(&table);
        let document = Document {
            language,
            rope,
            table,
            indent: indent::detect(window::indent_sample(text)).unwrap_or(rules.default_indent),
        };
        if let Some(old) = self.documents.insert(id.to_owned(), document) {
            self.room.subtract_table(&old.table);
        }
    }

    /// Replaces the chars `start..end` of a document with `text` (offsets in chars, as on
    /// the wire) and updates its identifier counts from the lines the edit touched.
    pub fn apply_edit(
        &mut self,
        id: &str,
        start: usize,
        end: usize,
        text: &str,
    ) -> Result<(), AutocompleteError> {
        let document = self
            .documents
            .get_mut(id)
            .ok_or_else(|| AutocompleteError::UnknownDocument(id.to_owned()))?;
        let len = document.rope.len_chars();
        if start > end || end > len {
            return Err(AutocompleteError::EditOutOfRange { start, end, len });
        }
        let rules = rules_for(document.language);
        let rope = &mut document.rope;
        // Lines depend only on their own text (the identifier scan is line-local), so the
        // lines from one before the edit to one after it are all that can change. The
        // extra line on each side covers edits that join or split line breaks (a `\n`
        // typed after a lone `\r`).
        let first_line = rope.char_to_line(start).saturating_sub(1);
        let last_line = (rope.char_to_line(end) + 2).min(rope.len_lines());
        let region_start = rope.line_to_char(first_line);
        let region_end = rope.line_to_char(last_line);
        let old_region = rope.slice(region_start..region_end).to_string();
        rope.remove(start..end);
        rope.insert(start, text);
        let new_region_end = region_end - (end - start) + text.chars().count();
        let new_region = rope.slice(region_start..new_region_end).to_string();
        update_tables(
            &old_region,
            &new_region,
            rules,
            &mut document.table,
            &mut self.room,
        );
        Ok(())
    }

    /// Removes a document; returns whether it was there.
    pub fn remove_document(&mut self, id: &str) -> bool {
        match self.documents.remove(id) {
            Some(old) => {
                self.room.subtract_table(&old.table);
                true
            }
            None => false,
        }
    }

    /// Whether the room holds a document under `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.documents.contains_key(id)
    }

    /// The ids of the room's documents, in order.
    pub fn document_ids(&self) -> impl Iterator<Item = &str> {
        self.documents.keys().map(String::as_str)
    }

    /// The current text of a document (a copy; meant for tests and resyncs).
    pub fn document_text(&self, id: &str) -> Option<String> {
        self.documents.get(id).map(|d| d.rope.to_string())
    }

    /// Suggestions at `cursor` (in chars) in an indexed document, with names from every
    /// document of the room.
    pub fn suggest(&self, id: &str, cursor: usize) -> Result<Vec<Suggestion>, AutocompleteError> {
        let document = self
            .documents
            .get(id)
            .ok_or_else(|| AutocompleteError::UnknownDocument(id.to_owned()))?;
        let len = document.rope.len_chars();
        if cursor > len {
            return Err(AutocompleteError::CursorOutOfRange { cursor, len });
        }
        let (before, after) = window::around_in_rope(&document.rope, cursor);
        let locate = |name: &str| self.defined_in(name, Some(id));
        Ok(engine::suggest(&Request {
            before: &before,
            after: &after,
            rules: rules_for(document.language),
            fallback_indent: document.indent,
            current: &document.table,
            totals: Totals {
                base: &self.room,
                minus: None,
                plus: None,
            },
            locate: &locate,
        }))
    }

    /// Suggestions for a text that is not (or not in this version) in the index, with
    /// names from the room's documents. `replaces` names the indexed document this text is
    /// a newer version of, whose stale counts are then left out. Reads the whole text
    /// once, so it suits the REST endpoint rather than per-keystroke completion.
    pub fn suggest_for_text(
        &self,
        code: &str,
        cursor: usize,
        language: &str,
        replaces: Option<&str>,
    ) -> Result<Vec<Suggestion>, AutocompleteError> {
        let (before, after) = window::around_in_str(code, cursor)?;
        let rules = rules_for(Language::from_id(language));
        let current = IdentTable::build(code, rules);
        let stale = replaces.and_then(|id| self.documents.get(id));
        let locate = |name: &str| self.defined_in(name, replaces);
        Ok(engine::suggest(&Request {
            before,
            after,
            rules,
            fallback_indent: indent::detect(window::indent_sample(code))
                .unwrap_or(rules.default_indent),
            current: &current,
            totals: Totals {
                base: &self.room,
                minus: stale.map(|d| &d.table),
                plus: Some(&current),
            },
            locate: &locate,
        }))
    }

    /// The first document (in id order) other than `except` that defines `name`.
    fn defined_in(&self, name: &str, except: Option<&str>) -> Option<String> {
        self.documents
            .iter()
            .find(|(id, d)| Some(id.as_str()) != except && d.table.get(name).is_defined())
            .map(|(id, _)| id.clone())
    }
}

/// Moves the counts of an edited region from its old text to its new text, in both the
/// document's table and the room's.
fn update_tables(
    old_region: &str,
    new_region: &str,
    rules: &LanguageRules,
    document: &mut IdentTable,
    room: &mut IdentTable,
) {
    scan(old_region, rules, |name, stats| {
        document.subtract(name, stats);
        room.subtract(name, stats);
    });
    scan(new_region, rules, |name, stats| {
        document.add(name, stats);
        room.add(name, stats);
    });
}
