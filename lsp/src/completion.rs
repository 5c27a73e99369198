//! Completion items from the autocomplete engine, in the editor's terms: a text edit that
//! replaces what the user typed of the word, snippet syntax only for clients that take it.

use pairprog_autocomplete::{Suggestion, SuggestionKind};
use pairprog_protocol::position::offset_to_position;
use pairprog_protocol::PositionEncoding;
use ropey::Rope;
use serde_json::{json, Value};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat,
    InsertTextMode, Position, Range, TextEdit,
};

fn lsp_position(text: &Rope, offset: usize, encoding: PositionEncoding) -> Position {
    let p = offset_to_position(text, offset, encoding);
    Position::new(p.line, p.character)
}

/// The range of the word the suggestion continues: `typed_chars` before the cursor.
fn typed_range(
    text: &Rope,
    cursor: usize,
    typed: usize,
    encoding: PositionEncoding,
) -> (Range, String) {
    let start = cursor.saturating_sub(typed);
    let range = Range::new(
        lsp_position(text, start, encoding),
        lsp_position(text, cursor, encoding),
    );
    (range, text.slice(start..cursor).to_string())
}

fn kind(kind: &SuggestionKind) -> CompletionItemKind {
    match kind {
        SuggestionKind::Identifier => CompletionItemKind::VARIABLE,
        SuggestionKind::Template => CompletionItemKind::SNIPPET,
        SuggestionKind::Closing => CompletionItemKind::TEXT,
    }
}

/// Items for `suggestions` (best first) at char offset `cursor` of `text`.
pub fn items(
    suggestions: &[Suggestion],
    text: &Rope,
    cursor: usize,
    encoding: PositionEncoding,
    snippets: bool,
) -> Vec<CompletionItem> {
    suggestions
        .iter()
        .enumerate()
        .map(|(rank, s)| {
            let (range, typed) = typed_range(text, cursor, s.typed_chars, encoding);
            let (body, format) = match (&s.snippet, snippets) {
                (Some(snippet), true) => (snippet.as_str(), InsertTextFormat::SNIPPET),
                _ => (s.text.as_str(), InsertTextFormat::PLAIN_TEXT),
            };
            let new_text = if format == InsertTextFormat::SNIPPET {
                format!("{}{body}", escape_snippet(&typed))
            } else {
                format!("{typed}{body}")
            };
            CompletionItem {
                label: s.label.clone(),
                kind: Some(kind(&s.kind)),
                detail: Some(format!(
                    "pairprog suggestion ({:.0}%)",
                    s.confidence * 100.0
                )),
                documentation: Some(Documentation::String(s.description.clone())),
                // Ranked by confidence: the engine's order, kept by the sort text.
                sort_text: Some(format!("{rank:04}")),
                filter_text: Some(format!("{typed}{}", s.text)),
                insert_text_format: Some(format),
                // The engine already indents continuation lines like the cursor's line;
                // VS Code would indent them a second time without this.
                insert_text_mode: Some(InsertTextMode::AS_IS),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, new_text))),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// Snippet syntax gives `$`, `}` and `\` meaning; typed text goes in literally.
fn escape_snippet(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '$' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The answer to `textDocument/inlineCompletion`: the best suggestion as ghost text.
pub fn inline_items(
    suggestions: &[Suggestion],
    text: &Rope,
    cursor: usize,
    encoding: PositionEncoding,
) -> Value {
    let items: Vec<Value> = suggestions
        .first()
        .map(|s| {
            let (range, typed) = typed_range(text, cursor, s.typed_chars, encoding);
            json!({
                "insertText": format!("{typed}{}", s.text),
                "filterText": typed,
                "range": range,
            })
        })
        .into_iter()
        .collect();
    json!({ "items": items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_only_for_clients_that_take_them() {
        let text = Rope::from_str("def");
        let suggestions = pairprog_autocomplete::suggest("def", 3, "python");
        assert!(!suggestions.is_empty());
        let plain = items(&suggestions, &text, 3, PositionEncoding::Utf16, false);
        assert!(plain
            .iter()
            .all(|i| i.insert_text_format == Some(InsertTextFormat::PLAIN_TEXT)));
        let with = items(&suggestions, &text, 3, PositionEncoding::Utf16, true);
        assert!(with
            .iter()
            .any(|i| i.insert_text_format == Some(InsertTextFormat::SNIPPET)));
        assert!(with
            .iter()
            .all(|i| i.detail.as_deref().unwrap().starts_with("pairprog")));
        assert_eq!(plain[0].sort_text.as_deref(), Some("0000"));
    }

    #[test]
    fn inline_completion_offers_the_best_suggestion_over_the_typed_word() {
        let code = "def compute_total(x):\n    return x\n\ncompute_t";
        let cursor = code.chars().count();
        let text = Rope::from_str(code);
        let suggestions = pairprog_autocomplete::suggest(code, cursor, "python");
        let answer = inline_items(&suggestions, &text, cursor, PositionEncoding::Utf16);
        let item = &answer["items"][0];
        assert_eq!(item["insertText"], "compute_total");
        assert_eq!(
            item["range"]["start"],
            serde_json::json!({"line": 3, "character": 0})
        );
        assert_eq!(
            item["range"]["end"],
            serde_json::json!({"line": 3, "character": 9})
        );
        let none = inline_items(&[], &text, cursor, PositionEncoding::Utf16);
        assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn typed_text_is_escaped_in_snippets() {
        assert_eq!(escape_snippet("a$b}c\\"), "a\\$b\\}c\\\\");
    }
}
