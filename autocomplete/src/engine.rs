//! One request from start to finish: context, rules, identifiers, ranking.
//!
//! Callers (the stateless functions in the crate root and [`crate::RoomIndex`]) cut the
//! bounded windows around the cursor and say where the identifier counts come from; this
//! module never sees a whole document.

use crate::context::{self, Context};
use crate::identifiers::IdentTable;
use crate::indent::IndentUnit;
use crate::lexer::{lex, Token};
use crate::rank::{rank, Query, Totals};
use crate::rules::{closing, templates, LanguageRules};
use crate::suggestion::{finish, Suggestion};
use std::collections::HashMap;

/// Inside strings and comments names are still useful (a docstring mentions a function)
/// but less likely to be wanted, so their confidence is halved.
const OUTSIDE_CODE_SCALE: f64 = 0.5;

/// Everything one request needs.
pub(crate) struct Request<'a> {
    /// The text before the cursor, at most the context window, starting at a line start
    /// unless the window was cut inside a long line.
    pub before: &'a str,
    /// The text after the cursor, at most the after window.
    pub after: &'a str,
    pub rules: &'static LanguageRules,
    /// The indentation unit to use when the window shows none.
    pub fallback_indent: IndentUnit,
    /// The current document's identifier counts.
    pub current: &'a IdentTable,
    /// The room's identifier counts.
    pub totals: Totals<'a>,
    /// Names a document of the room that defines a name.
    pub locate: &'a dyn Fn(&str) -> Option<String>,
}

/// Ranked suggestions for the request.
pub(crate) fn suggest(request: &Request<'_>) -> Vec<Suggestion> {
    let rules = request.rules;
    let ctx = context::analyze(
        request.before,
        request.after,
        rules,
        request.fallback_indent,
    );
    let mut out = Vec::new();
    templates::suggest(&ctx, rules, &mut out);
    closing::suggest(&ctx, rules, &mut out);
    if !ctx.word.is_empty() && !names_something_new(&ctx, rules) {
        let mut near: Vec<(&str, usize)> = near_names(request, &ctx).into_iter().collect();
        near.sort_unstable();
        out.extend(rank(&Query {
            prefix: ctx.word,
            near: &near,
            near_span: request.before.len() + request.after.len(),
            current: request.current,
            totals: request.totals,
            locate: request.locate,
            scale: if ctx.in_code() {
                1.0
            } else {
                OUTSIDE_CODE_SCALE
            },
        }));
    }
    finish(out)
}

/// Whether the word being typed is a new name (`def comp`, `let mut tot`), where offering
/// existing names would only get in the way.
fn names_something_new(ctx: &Context<'_>, rules: &LanguageRules) -> bool {
    let keywords = &rules.keywords;
    ctx.word_after.is_some_and(|word| {
        keywords.define_function.contains(&word)
            || keywords.define_type.contains(&word)
            || keywords.define_variable.contains(&word)
            || keywords.skip_before_name.contains(&word)
    })
}

/// Adds the names extending the typed word that occur after the cursor to those the
/// context found before it.
fn near_names<'a>(request: &Request<'a>, ctx: &Context<'a>) -> HashMap<&'a str, usize> {
    let mut near = ctx.near.clone();
    lex(
        request.after,
        &request.rules.syntax,
        ctx.state,
        false,
        |token| {
            if let Token::Ident(name, at) = token {
                context::note_near(&mut near, ctx.word, name, at);
            }
        },
    );
    near
}
