//! A small, forgiving lexer that knows just enough about each language to tell code
//! from strings and comments and to pick out identifiers and brackets.
//!
//! It never fails: malformed input (an unterminated string, a stray quote) simply leaves
//! the lexer in some state, which is the best guess the engine can make anyway.

/// The lexical shape of a language: how comments and strings are written.
#[derive(Debug)]
pub(crate) struct Syntax {
    /// The marker that starts a comment running to the end of the line.
    pub line_comment: Option<&'static str>,
    /// The markers that open and close a block comment.
    pub block_comment: Option<(&'static str, &'static str)>,
    /// Quote chars whose strings end at the end of the line at the latest.
    pub quotes: &'static str,
    /// Quote chars whose strings may span lines (JavaScript templates, Rust strings).
    pub multiline_quotes: &'static str,
    /// Quote chars whose strings have no backslash escapes (Go raw strings).
    pub raw_quotes: &'static str,
    /// Quote chars whose tripled form opens a multi-line string (Python, Java).
    pub triple_quotes: &'static str,
    /// Rust uses `'` both for char literals and lifetimes, so it needs a lookahead.
    pub rust_chars: bool,
    /// JavaScript and TypeScript allow `$` in identifiers.
    pub dollar_identifiers: bool,
}

impl Syntax {
    /// Whether `c` can start an identifier.
    pub fn is_ident_start(&self, c: char) -> bool {
        c == '_' || c.is_alphabetic() || (self.dollar_identifiers && c == '$')
    }

    /// Whether `c` can continue an identifier.
    pub fn is_ident_char(&self, c: char) -> bool {
        self.is_ident_start(c) || c.is_alphanumeric()
    }
}

/// Where the lexer is: in code, in a comment or in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexState {
    Code,
    LineComment,
    BlockComment,
    Str {
        quote: char,
        triple: bool,
        multiline: bool,
        raw: bool,
    },
}

/// What the lexer reports from code (strings and comments report nothing but line ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// An identifier or keyword and its byte offset.
    Ident(&'a str, usize),
    /// Any other non-space char of code and its byte offset.
    Punct(char, usize),
    /// A line break (LF, CR or CRLF, as LSP and ropey count them); the byte offset is
    /// where the next line starts.
    Newline(usize),
}

/// Returns the byte length of the line break at `i`, if there is one.
fn newline_len(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i) {
        Some(b'\n') => Some(1),
        Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => Some(2),
        Some(b'\r') => Some(1),
        _ => None,
    }
}

/// The char at byte `i`, read without building an iterator for ASCII, which is nearly
/// all of any source file.
fn char_at(text: &str, bytes: &[u8], i: usize) -> Option<char> {
    match bytes.get(i) {
        Some(&b) if b.is_ascii() => Some(char::from(b)),
        Some(_) => text.get(i..).and_then(|rest| rest.chars().next()),
        None => None,
    }
}

/// The end of the identifier starting at `i`.
fn ident_end(text: &str, bytes: &[u8], syntax: &Syntax, mut i: usize) -> usize {
    while let Some(c) = char_at(text, bytes, i) {
        if !syntax.is_ident_char(c) {
            break;
        }
        i += c.len_utf8();
    }
    i
}

/// Lexes `text` starting in `state`, reports tokens to `sink` and returns the state at
/// the end.
///
/// With `line_local`, every line starts again in code. The identifier index relies on
/// that so that a line's facts depend on the line alone and an edit only needs the
/// lines it touches re-read; the price is that lines inside block comments and
/// multi-line strings are read as code there.
pub(crate) fn lex<'a>(
    text: &'a str,
    syntax: &Syntax,
    mut state: LexState,
    line_local: bool,
    mut sink: impl FnMut(Token<'a>),
) -> LexState {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(c) = char_at(text, bytes, i) {
        if let Some(len) = newline_len(bytes, i) {
            i += len;
            sink(Token::Newline(i));
            let ends_here = match state {
                LexState::LineComment => true,
                LexState::Str { multiline, .. } => !multiline,
                LexState::Code | LexState::BlockComment => false,
            };
            if ends_here || line_local {
                state = LexState::Code;
            }
            continue;
        }
        match state {
            LexState::Code => {
                let rest = &bytes[i..];
                if let Some(marker) = syntax
                    .line_comment
                    .filter(|m| rest.starts_with(m.as_bytes()))
                {
                    state = LexState::LineComment;
                    i += marker.len();
                } else if let Some((open, _)) = syntax
                    .block_comment
                    .filter(|(open, _)| rest.starts_with(open.as_bytes()))
                {
                    state = LexState::BlockComment;
                    i += open.len();
                } else if syntax.is_ident_start(c) {
                    let end = ident_end(text, bytes, syntax, i);
                    sink(Token::Ident(&text[i..end], i));
                    i = end;
                } else if c.is_numeric() {
                    // Number literals (`0x1F`, `1e9`, `10u8`) are skipped whole so that their
                    // letters are not mistaken for identifiers.
                    i = ident_end(text, bytes, syntax, i + c.len_utf8());
                } else if !matches!(c, '"' | '\'' | '`') {
                    // Everything else that is not a quote is punctuation or space; checked
                    // first because it is by far the most common case.
                    if !c.is_whitespace() {
                        sink(Token::Punct(c, i));
                    }
                    i += c.len_utf8();
                } else if syntax.rust_chars && c == '\'' {
                    i += rust_quote_len(&text[i..], &mut state);
                } else if syntax.triple_quotes.contains(c) && starts_with_triple(&text[i..], c) {
                    state = LexState::Str {
                        quote: c,
                        triple: true,
                        multiline: true,
                        raw: false,
                    };
                    i += 3 * c.len_utf8();
                } else if syntax.quotes.contains(c) || syntax.multiline_quotes.contains(c) {
                    state = LexState::Str {
                        quote: c,
                        triple: false,
                        multiline: syntax.multiline_quotes.contains(c),
                        raw: syntax.raw_quotes.contains(c),
                    };
                    i += c.len_utf8();
                } else {
                    if !c.is_whitespace() {
                        sink(Token::Punct(c, i));
                    }
                    i += c.len_utf8();
                }
            }
            // Comments and strings end only at ASCII bytes (line breaks, quotes, the
            // comment's closing marker), so they are skipped byte by byte: UTF-8 never
            // puts an ASCII byte inside a multi-byte char.
            LexState::LineComment => i = skip_to(bytes, i, |b| b == b'\n' || b == b'\r'),
            LexState::BlockComment => match syntax.block_comment {
                Some((_, close)) if bytes[i..].starts_with(close.as_bytes()) => {
                    state = LexState::Code;
                    i += close.len();
                }
                Some((_, close)) => {
                    let first = close.as_bytes().first().copied().unwrap_or(b'\n');
                    i = skip_to(bytes, i + 1, |b| b == first || b == b'\n' || b == b'\r');
                }
                None => state = LexState::Code,
            },
            LexState::Str {
                quote, triple, raw, ..
            } => {
                if c == '\\' && !raw {
                    // The escaped char is skipped unless it is a line break, which the
                    // loop must still see to keep line starts right.
                    i += 1;
                    if let Some(next) = char_at(text, bytes, i) {
                        if newline_len(bytes, i).is_none() {
                            i += next.len_utf8();
                        }
                    }
                } else if c == quote {
                    if !triple {
                        state = LexState::Code;
                        i += c.len_utf8();
                    } else if starts_with_triple(&text[i..], quote) {
                        state = LexState::Code;
                        i += 3 * c.len_utf8();
                    } else {
                        i += c.len_utf8();
                    }
                } else if quote.is_ascii() {
                    let q = quote as u8;
                    i = skip_to(bytes, i + c.len_utf8(), |b| {
                        b == q || b == b'\\' || b == b'\n' || b == b'\r'
                    });
                } else {
                    i += c.len_utf8();
                }
            }
        }
    }
    state
}

/// The first index at or after `from` whose byte matches, or the end.
fn skip_to(bytes: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| stop(b)))
        .map_or(bytes.len(), |at| from + at)
}

fn starts_with_triple(rest: &str, quote: char) -> bool {
    let mut chars = rest.chars();
    (0..3).all(|_| chars.next() == Some(quote))
}

/// Decides what a `'` in Rust code is. `'x'` and `'\n'` are char literals; anything else
/// (`'a` in `&'a str`, `'outer:`) is a lifetime or label, which is code.
fn rust_quote_len(rest: &str, state: &mut LexState) -> usize {
    let mut chars = rest.chars();
    chars.next();
    match (chars.next(), chars.next()) {
        (Some('\\'), _) => {
            *state = LexState::Str {
                quote: '\'',
                triple: false,
                multiline: false,
                raw: false,
            };
            1
        }
        (Some(c), Some('\'')) if c != '\n' && c != '\r' => 2 + c.len_utf8(),
        _ => 1,
    }
}
