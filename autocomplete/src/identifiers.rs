//! Identifier tables: which names occur in a document, how often, and whether (and as
//! what) the document defines them.
//!
//! Facts are gathered line by line with the lexer in line-local mode, so a line's facts
//! depend on that line alone. That is what lets the room index update a document after an
//! edit by re-reading only the lines around it, at the cost of reading lines inside block
//! comments and multi-line strings as if they were code.

use crate::lexer::{lex, LexState, Token};
use crate::rules::{Keywords, LanguageRules};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Names longer than this are not indexed: they are generated data, not names people type.
const MAX_NAME_BYTES: usize = 128;

/// What a definition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DefKind {
    Function = 0,
    Type = 1,
    Variable = 2,
}

impl DefKind {
    /// The word used in suggestion descriptions.
    pub fn noun(self) -> &'static str {
        match self {
            DefKind::Function => "function",
            DefKind::Type => "type",
            DefKind::Variable => "variable",
        }
    }
}

/// Counts for one name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdentStats {
    /// Every occurrence, definitions included.
    pub occurrences: u32,
    /// Definitions by [`DefKind`].
    pub definitions: [u32; 3],
}

impl IdentStats {
    fn occurrence(kind: Option<DefKind>) -> IdentStats {
        let mut definitions = [0; 3];
        if let Some(kind) = kind {
            definitions[kind as usize] = 1;
        }
        IdentStats {
            occurrences: 1,
            definitions,
        }
    }

    /// Whether any definition of the name was seen.
    pub fn is_defined(&self) -> bool {
        self.definitions.iter().any(|&n| n > 0)
    }

    /// The kind of most definitions; functions, then types win ties.
    pub fn kind(&self) -> Option<DefKind> {
        [DefKind::Function, DefKind::Type, DefKind::Variable]
            .into_iter()
            .filter(|&k| self.definitions[k as usize] > 0)
            .max_by(|&a, &b| {
                self.definitions[a as usize]
                    .cmp(&self.definitions[b as usize])
                    .then(b.cmp(&a))
            })
    }

    fn plus(mut self, other: IdentStats) -> IdentStats {
        self.occurrences = self.occurrences.saturating_add(other.occurrences);
        for (mine, theirs) in self.definitions.iter_mut().zip(other.definitions) {
            *mine = mine.saturating_add(theirs);
        }
        self
    }

    fn minus(mut self, other: IdentStats) -> IdentStats {
        self.occurrences = self.occurrences.saturating_sub(other.occurrences);
        for (mine, theirs) in self.definitions.iter_mut().zip(other.definitions) {
            *mine = mine.saturating_sub(theirs);
        }
        self
    }

    fn is_empty(&self) -> bool {
        self.occurrences == 0 && !self.is_defined()
    }
}

/// Counts per name, sorted so that a prefix is one range query.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IdentTable {
    names: BTreeMap<Box<str>, IdentStats>,
}

impl IdentTable {
    /// Reads every line of `text`.
    pub fn build(text: &str, rules: &LanguageRules) -> IdentTable {
        let mut table = IdentTable::default();
        scan(text, rules, |name, stats| table.add(name, stats));
        table
    }

    /// Adds counts for `name`.
    pub fn add(&mut self, name: &str, stats: IdentStats) {
        match self.names.get_mut(name) {
            Some(entry) => *entry = entry.plus(stats),
            None => {
                self.names.insert(name.into(), stats);
            }
        }
    }

    /// Removes counts for `name`, dropping the entry once nothing is left.
    pub fn subtract(&mut self, name: &str, stats: IdentStats) {
        if let Some(entry) = self.names.get_mut(name) {
            *entry = entry.minus(stats);
            if entry.is_empty() {
                self.names.remove(name);
            }
        }
    }

    /// Adds every count of `other`.
    pub fn add_table(&mut self, other: &IdentTable) {
        for (name, &stats) in &other.names {
            self.add(name, stats);
        }
    }

    /// Removes every count of `other`.
    pub fn subtract_table(&mut self, other: &IdentTable) {
        for (name, &stats) in &other.names {
            self.subtract(name, stats);
        }
    }

    /// The counts for `name` (all zero when it never occurs).
    pub fn get(&self, name: &str) -> IdentStats {
        self.names.get(name).copied().unwrap_or_default()
    }

    /// Names starting with `prefix`, in order.
    pub fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, IdentStats)> + 's {
        self.names
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(name, &stats)| (&**name, stats))
            .take_while(move |(name, _)| name.starts_with(prefix))
    }
}

/// Reports every indexed identifier occurrence in `text`, with its definition kind when
/// the occurrence defines the name.
pub(crate) fn scan<'t>(
    text: &'t str,
    rules: &LanguageRules,
    mut report: impl FnMut(&'t str, IdentStats),
) {
    let mut line: Vec<Token<'t>> = Vec::new();
    lex(
        text,
        &rules.syntax,
        LexState::Code,
        true,
        |token| match token {
            Token::Newline(_) => {
                line_facts(&line, &rules.keywords, &mut report);
                line.clear();
            }
            other => line.push(other),
        },
    );
    line_facts(&line, &rules.keywords, &mut report);
}

/// Whether a name is worth indexing: one-char names are never completed (the prefix
/// would already be the whole name) and reserved words are not names.
pub(crate) fn is_indexed(name: &str, keywords: &Keywords) -> bool {
    name.chars().nth(1).is_some()
        && name.len() <= MAX_NAME_BYTES
        && !keywords.reserved.contains(&name)
}

fn line_facts<'t>(
    tokens: &[Token<'t>],
    keywords: &Keywords,
    report: &mut impl FnMut(&'t str, IdentStats),
) {
    let starts_with_function = tokens
        .iter()
        .find_map(|t| match t {
            Token::Ident(word, _) if !keywords.modifiers.contains(word) => Some(*word),
            _ => None,
        })
        .is_some_and(|word| keywords.define_function.contains(&word));
    let mut function_named = false;
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident(name, _) = *token else {
            continue;
        };
        if !is_indexed(name, keywords) {
            continue;
        }
        let mut kind = definition_kind(tokens, i, keywords);
        // A Go method, `func (r *Repo) Save(`, names itself after the receiver list.
        if kind.is_none()
            && starts_with_function
            && !function_named
            && punct_at(tokens, i.wrapping_sub(1)) == Some(')')
            && punct_at(tokens, i + 1) == Some('(')
        {
            kind = Some(DefKind::Function);
        }
        if kind == Some(DefKind::Function) {
            function_named = true;
        }
        report(name, IdentStats::occurrence(kind));
    }
}

fn ident_at<'t>(tokens: &[Token<'t>], i: usize) -> Option<&'t str> {
    match tokens.get(i) {
        Some(Token::Ident(word, _)) => Some(word),
        _ => None,
    }
}

fn punct_at(tokens: &[Token<'_>], i: usize) -> Option<char> {
    match tokens.get(i) {
        Some(Token::Punct(c, _)) => Some(*c),
        _ => None,
    }
}

/// Decides whether the identifier at `i` is being defined, and as what.
fn definition_kind(tokens: &[Token<'_>], i: usize, keywords: &Keywords) -> Option<DefKind> {
    // `def name`, `let mut name`, `class Name`: a defining word before the name.
    let mut before = i.checked_sub(1);
    while let Some(j) = before {
        match ident_at(tokens, j) {
            Some(word) if keywords.skip_before_name.contains(&word) => before = j.checked_sub(1),
            _ => break,
        }
    }
    if let Some(word) = before.and_then(|j| ident_at(tokens, j)) {
        if keywords.define_function.contains(&word) {
            return Some(DefKind::Function);
        }
        if keywords.define_type.contains(&word) {
            return Some(DefKind::Type);
        }
        if keywords.define_variable.contains(&word) {
            return Some(DefKind::Variable);
        }
    }
    let next = punct_at(tokens, i + 1);
    // `name = value`, but not `==`, `=>` (an arrow) or a comparison.
    if next == Some('=') && !matches!(punct_at(tokens, i + 2), Some('=' | '>')) {
        return Some(DefKind::Variable);
    }
    // `name := value` (Go, Python's walrus).
    if next == Some(':') && punct_at(tokens, i + 2) == Some('=') {
        return Some(DefKind::Variable);
    }
    if keywords.typed_declarations && follows_a_type(tokens, i, keywords) {
        return match next {
            Some('(') => Some(DefKind::Function),
            Some('=' | ';' | ',' | '[') => Some(DefKind::Variable),
            _ => None,
        };
    }
    None
}

/// Whether the identifier at `i` follows a type, as in `int count`, `char *name`,
/// `String[] args` or `List<String> names`. Only statement-level declarations count:
/// anything after a `(` or `=` on the line is an expression or a parameter.
fn follows_a_type(tokens: &[Token<'_>], i: usize, keywords: &Keywords) -> bool {
    if tokens[..i]
        .iter()
        .any(|t| matches!(t, Token::Punct('(' | '=', _)))
    {
        return false;
    }
    let mut j = i;
    let mut generic = false;
    while let Some(prev) = j.checked_sub(1) {
        match punct_at(tokens, prev) {
            Some('*' | '&' | '[' | ']') => j = prev,
            Some('>') => {
                generic = true;
                j = prev;
            }
            _ => break,
        }
    }
    if generic
        && !tokens[..j]
            .iter()
            .any(|t| matches!(t, Token::Punct('<', _)))
    {
        return false;
    }
    match j.checked_sub(1).and_then(|k| ident_at(tokens, k)) {
        Some(word) => !keywords.reserved.contains(&word),
        None => false,
    }
}
