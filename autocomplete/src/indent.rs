//! Indentation: which unit a file indents with, and how deep a line is.

/// One level of indentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndentUnit {
    Tabs,
    Spaces(u8),
}

impl IndentUnit {
    /// The whitespace of one level.
    pub fn as_str(self) -> &'static str {
        const SPACES: &str = "        ";
        match self {
            IndentUnit::Tabs => "\t",
            IndentUnit::Spaces(n) => &SPACES[..usize::from(n.clamp(1, 8))],
        }
    }
}

/// Guesses the indentation unit from the lines of `text`, or `None` when no line is
/// indented. Tabs win when most indented lines start with one; otherwise the unit is the
/// most common step by which a line is indented deeper than the line before it, which
/// ignores the absolute depth and so works on any excerpt of a file. Tab lines also reset
/// the step baseline, since a mixed file gives no meaningful step across them.
pub(crate) fn detect(text: &str) -> Option<IndentUnit> {
    let mut tab_lines = 0usize;
    let mut space_lines = 0usize;
    let mut steps = [0usize; 9];
    // The first line's depth is not a step: the text may start in the middle of a file.
    let mut previous: Option<usize> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            tab_lines += 1;
            previous = None;
            continue;
        }
        let width = line.len() - line.trim_start_matches(' ').len();
        if width > 0 {
            space_lines += 1;
        }
        if let Some(step) = previous.and_then(|p| width.checked_sub(p)) {
            if (1..=8).contains(&step) {
                steps[step] += 1;
            }
        }
        previous = Some(width);
    }
    if tab_lines == 0 && space_lines == 0 {
        return None;
    }
    if tab_lines >= space_lines {
        return Some(IndentUnit::Tabs);
    }
    // Ties go to the smaller step, which keeps the result deterministic and is the safer
    // guess (a file indented by 2 also shows steps of 4 where two levels open at once).
    let (best, count) =
        steps
            .iter()
            .enumerate()
            .skip(1)
            .fold(
                (0, 0),
                |(best, most), (step, &n)| {
                    if n > most {
                        (step, n)
                    } else {
                        (best, most)
                    }
                },
            );
    match u8::try_from(best) {
        Ok(step) if count > 0 => Some(IndentUnit::Spaces(step)),
        _ => None,
    }
}

/// The leading spaces and tabs of `line`.
pub(crate) fn leading_whitespace(line: &str) -> &str {
    let end = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..end]
}
