//! Random typing. Edits are made in chars on the editor's current text, so a position
//! can never fall inside a surrogate pair or a multi-byte UTF-8 sequence in any
//! encoding; no end is ever placed between the `\r` and `\n` of a CRLF, which LSP
//! cannot address (the server would widen such a range, but the model stays simpler).

use pairprog_protocol::position::splits_crlf;
use ropey::Rope;

use super::rng::Rng;

/// One change in chars on the text it applies to: replace `start..end` by `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What random typing inserts: ASCII, an accented letter (2 UTF-8 bytes), CJK (3
/// bytes, 1 UTF-16 unit), an emoji (4 bytes, a surrogate pair), CRLF and a lone LF.
pub const PIECES: &[&str] = &[
    "a", "b", "z", "fn ", "x = 1;", " ", "é", "漢字", "漢", "🎉", "\r\n", "\n",
];

/// Above this many chars, typing deletes more than it inserts, so documents stay small.
const SOFT_LIMIT: usize = 1500;

/// A random char offset that does not split a CRLF.
pub fn random_offset(rng: &mut Rng, rope: &Rope) -> usize {
    loop {
        let offset = rng.below(rope.len_chars() + 1);
        if !splits_crlf(rope, offset) {
            return offset;
        }
    }
}

fn random_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..1 + rng.below(3) {
        let piece: &&str = rng.pick(PIECES);
        text.push_str(piece);
    }
    text
}

/// An insert, a deletion or a replacement at a random place.
pub fn random_edit(rng: &mut Rng, rope: &Rope) -> Option<Edit> {
    let len = rope.len_chars();
    let insert_percent = if len > SOFT_LIMIT { 20 } else { 55 };
    let roll = rng.below(100);
    let start = random_offset(rng, rope);
    if roll < insert_percent || len == 0 {
        return Some(Edit {
            start,
            end: start,
            text: random_text(rng),
        });
    }
    let mut end = (start + 1 + rng.below(if len > SOFT_LIMIT { 40 } else { 5 })).min(len);
    if splits_crlf(rope, end) {
        end += 1;
    }
    if start == end {
        return None;
    }
    let text = if roll < insert_percent + 25 {
        String::new()
    } else {
        random_text(rng)
    };
    Some(Edit { start, end, text })
}

/// Unique tokens such as `<a17>`, some with multi-byte chars or line breaks inside so
/// insert-only runs still exercise every encoding and line counting.
pub struct Tokens {
    prefix: String,
    next: usize,
    /// Every token made, in order.
    pub made: Vec<String>,
}

const DECOR: &[&str] = &["", "", "", "é", "漢字", "🎉", "\r\n", "\n", " "];

impl Tokens {
    pub fn new(prefix: &str) -> Tokens {
        Tokens {
            prefix: prefix.to_owned(),
            next: 0,
            made: Vec::new(),
        }
    }

    pub fn next(&mut self, rng: &mut Rng) -> String {
        self.next += 1;
        let token = format!("<{}{}{}>", self.prefix, self.next, rng.pick(DECOR));
        self.made.push(token.clone());
        token
    }
}

/// A random place between two tokens (the start, or just after a `>`).
pub fn token_boundary(rng: &mut Rng, rope: &Rope) -> usize {
    let mut boundaries = vec![0];
    boundaries.extend(
        rope.chars()
            .enumerate()
            .filter(|(_, c)| *c == '>')
            .map(|(i, _)| i + 1),
    );
    *rng.pick(&boundaries)
}

/// An insert of the next token at a random token boundary.
pub fn token_insert(rng: &mut Rng, tokens: &mut Tokens, rope: &Rope) -> Edit {
    let at = token_boundary(rng, rope);
    Edit {
        start: at,
        end: at,
        text: tokens.next(rng),
    }
}

/// What [`check_tokens`] found wrong.
#[derive(Debug, Default)]
pub struct TokenProblems {
    /// The text is not a sequence of whole tokens: where it breaks.
    pub malformed: Option<String>,
    pub lost: Vec<String>,
    pub doubled: Vec<(String, usize)>,
    pub unexpected: Vec<String>,
}

impl TokenProblems {
    /// Every token concerned, for looking them up in the relay's log.
    pub fn tokens(&self) -> Vec<String> {
        let mut all = self.lost.clone();
        all.extend(self.doubled.iter().map(|(t, _)| t.clone()));
        all.extend(self.unexpected.iter().cloned());
        all
    }
}

impl std::fmt::Display for TokenProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(m) = &self.malformed {
            writeln!(f, "malformed text: {m}")?;
        }
        if !self.lost.is_empty() {
            writeln!(f, "lost: {:?}", self.lost)?;
        }
        if !self.doubled.is_empty() {
            writeln!(f, "present more than once: {:?}", self.doubled)?;
        }
        if !self.unexpected.is_empty() {
            writeln!(f, "never typed: {:?}", self.unexpected)?;
        }
        Ok(())
    }
}

/// Checks that `text` is exactly a concatenation of the `expected` tokens, each once,
/// in any order.
pub fn check_tokens(text: &str, expected: &[String]) -> Result<(), TokenProblems> {
    let mut problems = TokenProblems::default();
    let mut found: Vec<&str> = Vec::new();
    let mut rest = text;
    let mut fragments = Vec::new();
    while !rest.is_empty() {
        // Text outside any token (a broken token) is recorded and skipped, so the
        // tokens after it are still counted.
        if !rest.starts_with('<') {
            let cut = rest.find('<').unwrap_or(rest.len());
            fragments.push(rest[..cut].to_owned());
            rest = &rest[cut..];
            continue;
        }
        let end = match (rest.find('>'), rest[1..].find('<')) {
            (Some(end), Some(next)) if next + 1 < end => {
                // `<` again before the `>`: the first token lost its end.
                fragments.push(rest[..next + 1].to_owned());
                rest = &rest[next + 1..];
                continue;
            }
            (Some(end), _) => end,
            (None, _) => {
                fragments.push(rest.to_owned());
                break;
            }
        };
        found.push(&rest[..=end]);
        rest = &rest[end + 1..];
    }
    if !fragments.is_empty() {
        problems.malformed = Some(format!("text outside any whole token: {fragments:?}"));
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for t in &found {
        *counts.entry(t).or_default() += 1;
    }
    for t in expected {
        match counts.get(t.as_str()) {
            None => problems.lost.push(t.clone()),
            Some(1) => {}
            Some(&n) => problems.doubled.push((t.clone(), n)),
        }
    }
    for t in counts.keys() {
        if !expected.iter().any(|e| e == t) {
            problems.unexpected.push((*t).to_owned());
        }
    }
    let fine = problems.malformed.is_none()
        && problems.lost.is_empty()
        && problems.doubled.is_empty()
        && problems.unexpected.is_empty();
    if fine {
        Ok(())
    } else {
        Err(problems)
    }
}
