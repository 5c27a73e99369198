//! Templates in LSP snippet syntax: rendering them at a line's indentation and turning
//! them into plain text for clients without snippet support.
//!
//! Template bodies are written with a newline for a line break and a tab char for "one
//! level deeper than the line the template starts on"; rendering replaces both with the
//! document's own line break and indentation.

use crate::indent::IndentUnit;

/// Renders a template body: every line after the first starts at `base` indentation and
/// every tab char becomes one `unit`. Empty lines get no trailing whitespace.
pub(crate) fn render(body: &str, base: &str, unit: IndentUnit, newline: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    let mut lines = body.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(&first.replace('\t', unit.as_str()));
    }
    for line in lines {
        out.push_str(newline);
        if !line.is_empty() {
            out.push_str(base);
            out.push_str(&line.replace('\t', unit.as_str()));
        }
    }
    out
}

/// The literal start of a template: everything before its first tab stop, line break or
/// indentation marker. A template is offered while what the user typed is a prefix of it.
pub(crate) fn head(body: &str) -> &str {
    let end = body.find(['$', '\n', '\t', '\\']).unwrap_or(body.len());
    &body[..end]
}

/// Turns a snippet into the text a client without snippet support inserts: placeholders
/// become their default text, mirrored tab stops (`$1` after `${1:i}`) repeat that default,
/// bare tab stops vanish and escapes are undone.
pub(crate) fn to_plain(snippet: &str) -> String {
    let chars: Vec<char> = snippet.chars().collect();
    let defaults = placeholder_defaults(&chars);
    let mut out = String::with_capacity(snippet.len());
    expand(&chars, &defaults, &mut out);
    out
}

/// Collects the default text of every `${n:default}` placeholder, by tab-stop number.
fn placeholder_defaults(chars: &[char]) -> Vec<(u32, String)> {
    let mut defaults = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let (number, after) = read_number(chars, i + 2);
            if let (Some(number), Some(':')) = (number, chars.get(after)) {
                let end = placeholder_end(chars, after + 1);
                let mut text = String::new();
                expand(&chars[after + 1..end], &[], &mut text);
                defaults.push((number, text));
            }
        }
        i += 1;
    }
    defaults
}

fn read_number(chars: &[char], start: usize) -> (Option<u32>, usize) {
    let mut end = start;
    let mut value: Option<u32> = None;
    while let Some(digit) = chars.get(end).and_then(|c| c.to_digit(10)) {
        value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(digit));
        end += 1;
    }
    (value, end)
}

/// Finds the `}` that closes a placeholder whose text starts at `start`, allowing nested
/// placeholders; returns `chars.len()` when there is none.
fn placeholder_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

fn expand(chars: &[char], defaults: &[(u32, String)], out: &mut String) {
    let default_of = |n: u32| {
        defaults
            .iter()
            .find(|(number, _)| *number == n)
            .map_or("", |(_, text)| text.as_str())
    };
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if matches!(chars.get(i + 1), Some('$' | '}' | '\\')) => {
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                let (number, after) = read_number(chars, i + 2);
                match (number, chars.get(after)) {
                    (Some(_), Some(':')) => {
                        let end = placeholder_end(chars, after + 1);
                        expand(&chars[after + 1..end], defaults, out);
                        i = end + 1;
                    }
                    (Some(n), Some('}')) => {
                        out.push_str(default_of(n));
                        i = after + 1;
                    }
                    _ => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
            '$' => {
                let (number, after) = read_number(chars, i + 1);
                match number {
                    Some(n) => {
                        out.push_str(default_of(n));
                        i = after;
                    }
                    None => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_takes_placeholder_defaults_and_mirrors() {
        let cases = [
            ("def ${1:name}(${2}):\n\t${0:pass}", "def name():\n\tpass"),
            (
                "for (int ${1:i} = 0; $1 < ${2:n}; $1++) {",
                "for (int i = 0; i < n; i++) {",
            ),
            ("println!(\"{}\", ${1});", "println!(\"{}\", );"),
            ("printf(\"${1}\\\\n\");", "printf(\"\\n\");"),
            ("a \\} b \\$ c $0", "a } b $ c "),
            ("${1:outer ${2:inner}} $", "outer inner $"),
        ];
        for (snippet, plain) in cases {
            assert_eq!(to_plain(snippet), plain, "snippet {snippet:?}");
        }
    }

    #[test]
    fn render_indents_continuation_lines_from_the_base() {
        let body = "if x:\n\tpass\n\nend";
        assert_eq!(
            render(body, "  ", IndentUnit::Spaces(4), "\r\n"),
            "if x:\r\n      pass\r\n\r\n  end"
        );
    }
}
