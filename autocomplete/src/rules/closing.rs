//! Closing the construct being typed: the brackets opened on the cursor's line, then the
//! `:` or `{ … }` that a header such as `def f(x)` or `if (x > 0)` needs, then the `;` a
//! call statement needs.
//!
//! Only offered at the end of a line in code, because closing in the middle of a line
//! would usually duplicate what follows.

use super::{BlockStyle, Keywords, LanguageRules};
use crate::context::Context;
use crate::snippet;
use crate::suggestion::{Suggestion, SuggestionKind};

/// Confidence when the cursor is right after punctuation or a space, so closing is the
/// natural next step.
const AFTER_PUNCTUATION: f64 = 0.85;
/// Confidence while a word is being typed, where the word's completion matters more, or
/// right after `(` or `[`, where the arguments come first.
const WHILE_TYPING: f64 = 0.55;

/// Adds the suggestion that closes what the line opened, if any.
pub(crate) fn suggest(ctx: &Context<'_>, rules: &LanguageRules, out: &mut Vec<Suggestion>) {
    if !ctx.in_code() || !ctx.line_after.trim().is_empty() || ctx.statement.trim().is_empty() {
        return;
    }
    let colon = rules.blocks == BlockStyle::Colon;
    if ctx.inside_expression(colon) {
        return;
    }
    let Some((body, description)) = closing_body(ctx, rules) else {
        return;
    };
    let rendered = snippet::render(&body, ctx.indent, ctx.unit, ctx.newline);
    let text = snippet::to_plain(&rendered);
    let label = format!("…{}", text.split_whitespace().collect::<Vec<_>>().join(" "));
    out.push(Suggestion {
        label,
        text,
        snippet: rendered.contains('$').then_some(rendered),
        confidence: if !ctx.word.is_empty() || ctx.statement.trim_end().ends_with(['(', '[']) {
            WHILE_TYPING
        } else {
            AFTER_PUNCTUATION
        },
        description: description.to_owned(),
        kind: SuggestionKind::Closing,
        typed_chars: 0,
    });
}

/// Builds the closing as a template body (newline and tab as in [`crate::snippet`]).
fn closing_body(ctx: &Context<'_>, rules: &LanguageRules) -> Option<(String, &'static str)> {
    let keywords = &rules.keywords;
    let open: Vec<char> = ctx
        .open
        .iter()
        .filter(|b| b.on_cursor_line)
        .map(|b| b.open)
        .collect();
    let statement = ctx.statement.trim_end();
    let spaced = ctx.statement.ends_with([' ', '\t']);
    let gap = if spaced { "" } else { " " };

    // A `{` just typed at the end of the line: open the block and close it below.
    if open.last() == Some(&'{') && statement.ends_with('{') && rules.blocks != BlockStyle::Colon {
        let outer = &open[..open.len() - 1];
        let mut body = String::from("\n\t$0\n}");
        body.push_str(&closers(outer));
        let header = header_of(statement, keywords);
        let needs_semicolon = match header {
            Some((keyword, _)) => keywords.semicolon_blocks.contains(&keyword),
            None => keywords.semicolons && (!outer.is_empty() || has_assignment(statement)),
        };
        if needs_semicolon {
            body.push(';');
        }
        return Some((body, "Open the block and close it below"));
    }

    let closed = closers(&open);
    let completed = format!("{statement}{}", closed.replace('\\', ""));
    let header = header_of(&completed, keywords)
        .filter(|&(keyword, rest)| header_is_complete(keyword, rest, keywords, rules.blocks));
    let mut body = closed;
    let description = match (rules.blocks, header) {
        (BlockStyle::Colon, Some(_)) => {
            if completed.ends_with(':') {
                return None;
            }
            body.push_str(":\n\t$0");
            "Finish the header and start its block"
        }
        (BlockStyle::Braces { .. }, Some((keyword, _))) => {
            if completed.ends_with(['{', ';', '}']) {
                return None;
            }
            body.push_str(gap_after(&body, gap));
            body.push_str("{\n\t$0\n}");
            if keywords.semicolon_blocks.contains(&keyword) {
                body.push(';');
            }
            "Finish the header and open its block"
        }
        (BlockStyle::Braces { .. }, None)
            if keywords.typed_declarations && is_function_signature(&completed, keywords) =>
        {
            body.push_str(gap_after(&body, gap));
            body.push_str("{\n\t$0\n}");
            "Open the function body"
        }
        (_, None) if !open.is_empty() => {
            if keywords.semicolons && open.iter().any(|&b| b != '{') {
                body.push(';');
            }
            "Close the open brackets"
        }
        _ => return None,
    };
    Some((body, description))
}

/// A space goes between the header and `{` unless the user already typed one (in which
/// case nothing was closed either).
fn gap_after<'g>(body: &str, gap: &'g str) -> &'g str {
    if body.is_empty() {
        gap
    } else {
        " "
    }
}

/// The closers for `open`, innermost first, escaped for snippet syntax.
fn closers(open: &[char]) -> String {
    open.iter()
        .rev()
        .map(|b| match b {
            '(' => ")",
            '[' => "]",
            _ => "\\}",
        })
        .collect()
}

/// Splits a line into its header keyword and the rest, skipping modifiers (`pub fn`,
/// `public static`) and a leading `}` (`} else if (x)`).
fn header_of<'s>(statement: &'s str, keywords: &Keywords) -> Option<(&'static str, &'s str)> {
    let mut rest = statement.trim_start_matches(['}', ' ', '\t']);
    loop {
        let word_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '(' || c == ')'))
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        let bare_word = word.split('(').next().unwrap_or(word);
        if keywords.modifiers.contains(&word) {
            rest = rest[word_end..].trim_start();
            continue;
        }
        let all = [keywords.conditions, keywords.named, keywords.bare];
        let keyword = all
            .iter()
            .flat_map(|list| list.iter())
            .find(|&&k| k == bare_word)?;
        return Some((keyword, rest[keyword.len()..].trim()));
    }
}

/// Whether the header has what its keyword needs before its block can open.
fn header_is_complete(keyword: &str, rest: &str, keywords: &Keywords, blocks: BlockStyle) -> bool {
    if keywords.bare.contains(&keyword) {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    // A function header is complete once its parameter list is (`def f(x)`, `fn f() -> T`);
    // before that the name is still being typed.
    if keywords.define_function.contains(&keyword) {
        return rest.contains(')');
    }
    match blocks {
        BlockStyle::Braces {
            parenthesized: true,
        } if keywords.conditions.contains(&keyword) => rest
            .strip_prefix('(')
            .and_then(|inner| inner.strip_suffix(')'))
            .is_some_and(|inner| !inner.trim().is_empty()),
        _ => true,
    }
}

/// Whether a line reads like `Type name(params)`, a function definition in C, C++ or Java.
fn is_function_signature(line: &str, keywords: &Keywords) -> bool {
    let Some(paren) = line.find('(') else {
        return false;
    };
    if !line.ends_with(')') {
        return false;
    }
    let before = line[..paren].trim_end();
    if before.contains(['=', '.', ';']) || before.contains("->") {
        return false;
    }
    let words: Vec<&str> = before
        .split_whitespace()
        .skip_while(|w| keywords.modifiers.contains(w))
        .collect();
    let Some(first) = words.first() else {
        return false;
    };
    words.len() >= 2
        && !keywords.reserved.contains(first)
        && before
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Whether the statement assigns (`const f = () => {`), which makes a block an expression
/// that needs a `;` after it.
fn has_assignment(statement: &str) -> bool {
    let bytes = statement.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'='
            && bytes.get(i + 1).is_some_and(|&n| n != b'=' && n != b'>')
            && i > 0
            && !matches!(bytes[i - 1], b'=' | b'!' | b'<' | b'>')
    })
}
