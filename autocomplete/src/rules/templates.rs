//! Keyword templates and idioms: offered while the statement typed so far is a prefix of
//! a template's literal start, so `de`, `def` and `def ` all lead to the `def` template
//! while `x = de` (an expression) leads to nothing.

use super::{BlockStyle, LanguageRules};
use crate::context::Context;
use crate::snippet;
use crate::suggestion::{Suggestion, SuggestionKind};

/// Adds the templates that match the statement being typed.
pub(crate) fn suggest(ctx: &Context<'_>, rules: &LanguageRules, out: &mut Vec<Suggestion>) {
    let statement = ctx.statement;
    if statement.is_empty() || !ctx.in_code() {
        return;
    }
    // Completing in the middle of a word (`de|f`) would duplicate its end.
    if ctx
        .line_after
        .chars()
        .next()
        .is_some_and(|c| rules.syntax.is_ident_char(c))
    {
        return;
    }
    if ctx.inside_expression(rules.blocks == BlockStyle::Colon) {
        return;
    }
    let typed_chars = statement.chars().count();
    for template in rules.templates.iter().flat_map(|table| table.iter()) {
        let head = snippet::head(template.body);
        if !head.starts_with(statement) || template.body.len() <= statement.len() {
            continue;
        }
        let rendered = snippet::render(template.body, ctx.indent, ctx.unit, ctx.newline);
        // The head is literal and renders unchanged, so the typed part can be cut off by
        // length; `get` keeps this safe should a template ever break that promise.
        let Some(rest) = rendered.get(statement.len()..) else {
            continue;
        };
        out.push(Suggestion {
            label: template.label.to_owned(),
            text: snippet::to_plain(rest),
            snippet: Some(rest.to_owned()),
            confidence: template.confidence * typed_factor(statement, head),
            description: template.description.to_owned(),
            kind: SuggestionKind::Template,
            typed_chars,
        });
    }
}

/// How much of the template's keyword has been typed scales its confidence: `def ` is
/// certain, `d` could be many things.
fn typed_factor(statement: &str, head: &str) -> f64 {
    let keyword_len = head.find([' ', '(', '.', '<']).unwrap_or(head.len()).max(1);
    let typed = statement.len();
    if typed > keyword_len {
        1.0
    } else if typed == keyword_len {
        0.95
    } else {
        // Lengths are bytes of ASCII keywords, small enough to convert exactly.
        let fraction = typed as f64 / keyword_len as f64;
        0.75 + 0.2 * fraction
    }
}
