//! What the text around the cursor says: are we in code, a string or a comment, what is
//! being typed, which brackets are open, how is the line indented.
//!
//! Only a bounded window before the cursor is read (see [`CONTEXT_WINDOW_CHARS`]), so a
//! request costs the same in a 1 KB file and a 1 MB file.

use crate::indent::{self, IndentUnit};
use crate::lexer::{lex, LexState, Token};
use crate::rules::LanguageRules;
use std::collections::HashMap;

/// How many chars before the cursor decide the context.
///
/// The window is moved forward to the next line start (unless that would skip the whole
/// current line), so lexing always begins at the start of a line in code. What this trades
/// away: a block comment or multi-line string that opened more than this many chars before
/// the cursor is not seen, so deep inside a very long docstring or comment the engine may
/// treat the text as code and offer templates; brackets opened before the window are not
/// seen either, so a closing suggestion can miss a call spread over hundreds of lines.
pub const CONTEXT_WINDOW_CHARS: usize = 4096;

/// How many chars after the cursor are read: the rest of the line, and identifiers just
/// below the cursor for proximity ranking.
pub const AFTER_WINDOW_CHARS: usize = 1024;

/// An unclosed bracket before the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenBracket {
    pub open: char,
    /// Whether it was opened on the cursor's line.
    pub on_cursor_line: bool,
}

/// The cursor's surroundings, borrowed from the window text.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub state: LexState,
    /// The cursor's line after the cursor, without its line break.
    pub line_after: &'a str,
    /// The leading whitespace of the cursor's line.
    pub indent: &'a str,
    /// The cursor's line from its first non-blank char up to the cursor.
    pub statement: &'a str,
    /// The identifier chars right before the cursor (empty when a number is being typed).
    pub word: &'a str,
    /// The identifier before `word` on this line, if any (`def` in `def comp`).
    pub word_after: Option<&'a str>,
    /// Unclosed brackets, outermost first.
    pub open: Vec<OpenBracket>,
    /// The document's line break, so inserted lines match it.
    pub newline: &'static str,
    /// One level of indentation in this file.
    pub unit: IndentUnit,
    /// Names extending `word` seen before the cursor, with their distance from it in
    /// bytes; gathered in the same pass so the window is lexed once.
    pub near: HashMap<&'a str, usize>,
}

impl Context<'_> {
    /// Whether the cursor is in code rather than a string or comment.
    pub fn in_code(&self) -> bool {
        self.state == LexState::Code
    }

    /// Whether a line begun here continues an expression from an earlier line (an open
    /// parenthesis or bracket, or in Python any open bracket), where statements cannot start.
    pub fn inside_expression(&self, colon_blocks: bool) -> bool {
        self.open
            .iter()
            .any(|b| !b.on_cursor_line && (colon_blocks || b.open != '{'))
    }
}

/// Analyses the text before the cursor (`before`, which starts at a line start unless it
/// was cut inside a long line) and after it (`after`).
pub(crate) fn analyze<'a>(
    before: &'a str,
    after: &'a str,
    rules: &LanguageRules,
    fallback_indent: IndentUnit,
) -> Context<'a> {
    let syntax = &rules.syntax;
    let word = typed_word(before, syntax);
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut line = 0usize;
    let mut line_start = 0usize;
    let mut line_idents: Vec<&'a str> = Vec::new();
    let mut near: HashMap<&'a str, usize> = HashMap::new();
    let state = lex(before, syntax, LexState::Code, false, |token| match token {
        Token::Newline(next) => {
            line += 1;
            line_start = next;
            line_idents.clear();
        }
        Token::Ident(name, at) => {
            line_idents.push(name);
            note_near(
                &mut near,
                word,
                name,
                before.len().saturating_sub(at + name.len()),
            );
        }
        Token::Punct(c @ ('(' | '[' | '{'), _) => stack.push((c, line)),
        Token::Punct(c @ (')' | ']' | '}'), _) => {
            let open = match c {
                ')' => '(',
                ']' => '[',
                _ => '{',
            };
            // A mismatched closer is ignored rather than popping an unrelated bracket,
            // which keeps one typo from confusing the rest of the window.
            if stack.last().is_some_and(|&(top, _)| top == open) {
                stack.pop();
            }
        }
        Token::Punct(..) => {}
    });
    let line_before = before.get(line_start..).unwrap_or("");
    let indent = indent::leading_whitespace(line_before);
    let statement = &line_before[indent.len()..];
    // The lexer reported the word being typed as the line's last identifier; the one
    // before it says whether the word is a new name (`def comp`) or a use.
    let word_after = match line_idents.split_last() {
        Some((last, rest)) if !word.is_empty() && *last == word => rest.last().copied(),
        _ => None,
    };
    let line_after_end = after.find(['\r', '\n']).unwrap_or(after.len());
    Context {
        state,
        line_after: &after[..line_after_end],
        indent,
        statement,
        word,
        word_after,
        open: stack
            .iter()
            .map(|&(open, at)| OpenBracket {
                open,
                on_cursor_line: at == line,
            })
            .collect(),
        newline: if before.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        },
        unit: indent::detect(before).unwrap_or(fallback_indent),
        near,
    }
}

/// The identifier chars right before the end of `before`, or nothing when they start
/// with a digit (a number is being typed).
fn typed_word<'a>(before: &'a str, syntax: &crate::lexer::Syntax) -> &'a str {
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| syntax.is_ident_char(c))
        .last()
        .map_or(before.len(), |(at, _)| at);
    let word = &before[start..];
    if word
        .chars()
        .next()
        .is_some_and(|c| !syntax.is_ident_start(c))
    {
        ""
    } else {
        word
    }
}

/// Records `name` at `distance` if it extends the typed word, keeping the smallest.
pub(crate) fn note_near<'a>(
    near: &mut HashMap<&'a str, usize>,
    word: &str,
    name: &'a str,
    distance: usize,
) {
    if !word.is_empty() && name.len() > word.len() && name.starts_with(word) {
        near.entry(name)
            .and_modify(|d| *d = (*d).min(distance))
            .or_insert(distance);
    }
}
