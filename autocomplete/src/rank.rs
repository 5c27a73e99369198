//! Ranking the room's names for the word being typed.
//!
//! A name is offered when some document of the room defines it and it extends the typed
//! prefix. Its confidence grows with proximity (seen near the cursor, then anywhere in the
//! same document, then elsewhere in the room) and with how often the room uses it.

use crate::identifiers::{IdentStats, IdentTable};
use crate::suggestion::{Suggestion, SuggestionKind};

/// How many names one request offers at most.
const MAX_IDENTIFIERS: usize = 15;
/// How many of the room's names with the typed prefix one request considers, in
/// alphabetical order. This bounds the cost of a one-letter prefix in a room with tens of
/// thousands of names; what it trades away is that, past this many, far-away names later
/// in the alphabet are not offered until a second letter narrows the range. Names seen
/// near the cursor are always considered, whatever their place in the alphabet.
const MAX_CANDIDATES: usize = 1024;
/// The floor every offered name starts from, below templates the user clearly asked for.
const BASE: f64 = 0.3;
/// Weight of proximity (0..1) in the confidence.
const PROXIMITY_WEIGHT: f64 = 0.35;
/// Weight of frequency (0..1) in the confidence.
const FREQUENCY_WEIGHT: f64 = 0.2;
/// Occurrences at which frequency counts in full; the scale is logarithmic below it.
const FREQUENT: f64 = 64.0;

/// The room's counts as one table, seen through up to three tables so that callers never
/// copy one: `base` (usually the whole room), minus `minus` (a stale copy of the current
/// document), plus `plus` (the current text when it is not in `base`).
#[derive(Clone, Copy)]
pub(crate) struct Totals<'a> {
    pub base: &'a IdentTable,
    pub minus: Option<&'a IdentTable>,
    pub plus: Option<&'a IdentTable>,
}

impl Totals<'_> {
    fn get(&self, name: &str) -> IdentStats {
        let mut stats = self.base.get(name);
        if let Some(minus) = self.minus {
            let gone = minus.get(name);
            stats.occurrences = stats.occurrences.saturating_sub(gone.occurrences);
            for (mine, theirs) in stats.definitions.iter_mut().zip(gone.definitions) {
                *mine = mine.saturating_sub(theirs);
            }
        }
        if let Some(plus) = self.plus {
            let more = plus.get(name);
            stats.occurrences = stats.occurrences.saturating_add(more.occurrences);
            for (mine, theirs) in stats.definitions.iter_mut().zip(more.definitions) {
                *mine = mine.saturating_add(theirs);
            }
        }
        stats
    }

    /// Names with the prefix that some document defines, each once, in order, with their
    /// room-wide counts. In the common case (no `minus`, no `plus`) this is one pass over a
    /// range of the room table with no further lookups.
    fn candidates<'s>(&'s self, prefix: &'s str) -> Vec<(&'s str, IdentStats)> {
        if self.minus.is_none() && self.plus.is_none() {
            return self
                .base
                .with_prefix(prefix)
                .filter(|(_, stats)| stats.is_defined())
                .take(MAX_CANDIDATES)
                .collect();
        }
        let mut names: Vec<&str> = self
            .base
            .with_prefix(prefix)
            .map(|(name, _)| name)
            .collect();
        if let Some(plus) = self.plus {
            names.extend(plus.with_prefix(prefix).map(|(name, _)| name));
            names.sort_unstable();
            names.dedup();
        }
        names
            .into_iter()
            .map(|name| (name, self.get(name)))
            .filter(|(_, stats)| stats.is_defined())
            .take(MAX_CANDIDATES)
            .collect()
    }
}

/// What the ranking needs to know about one request.
pub(crate) struct Query<'a> {
    /// The word being typed.
    pub prefix: &'a str,
    /// Names seen in the window around the cursor with their distance from it in bytes,
    /// sorted by name.
    pub near: &'a [(&'a str, usize)],
    /// The largest distance `near` can hold, to scale distances into 0..1.
    pub near_span: usize,
    /// The current document's own counts.
    pub current: &'a IdentTable,
    /// The whole room's counts.
    pub totals: Totals<'a>,
    /// Names another document of the room defines it, for descriptions.
    pub locate: &'a dyn Fn(&str) -> Option<String>,
    /// Scales every confidence (lower inside strings and comments).
    pub scale: f64,
}

/// The best names for the query, unordered (the caller sorts all suggestions together).
pub(crate) fn rank(query: &Query<'_>) -> Vec<Suggestion> {
    let typed_chars = query.prefix.chars().count();
    // Candidates and the current document's names with the prefix are both sorted, so
    // walking them side by side tells which candidates occur in this document without a
    // lookup per candidate.
    // Candidates, the current document's names and the names near the cursor are all
    // sorted, so walking them side by side finds each candidate's proximity without a
    // lookup per candidate.
    let mut here = query.current.with_prefix(query.prefix).peekable();
    let mut near = query.near.iter().peekable();
    let candidates = query.totals.candidates(query.prefix);
    let mut scored: Vec<(f64, &str, IdentStats)> = candidates
        .iter()
        .filter(|&&(name, _)| name != query.prefix)
        .map(|&(name, stats)| {
            while here.next_if(|&(other, _)| other < name).is_some() {}
            while near.next_if(|&&(other, _)| other < name).is_some() {}
            let in_this_document = here
                .peek()
                .is_some_and(|&(other, s)| other == name && s.occurrences > 0);
            let distance = near
                .peek()
                .and_then(|&&(other, d)| (other == name).then_some(d));
            (score(query, stats, in_this_document, distance), name, stats)
        })
        .collect();
    // Names near the cursor that the candidate bound cut off still compete.
    for &(name, distance) in query.near {
        if candidates.binary_search_by(|(c, _)| (*c).cmp(name)).is_ok() {
            continue;
        }
        let stats = query.totals.get(name);
        if stats.is_defined() {
            scored.push((score(query, stats, true, Some(distance)), name, stats));
        }
    }
    let by_rank = |a: &(f64, &str, IdentStats), b: &(f64, &str, IdentStats)| {
        b.0.total_cmp(&a.0).then(a.1.cmp(b.1))
    };
    if scored.len() > MAX_IDENTIFIERS {
        scored.select_nth_unstable_by(MAX_IDENTIFIERS - 1, by_rank);
        scored.truncate(MAX_IDENTIFIERS);
    }
    scored.sort_by(by_rank);
    scored
        .into_iter()
        .map(|(confidence, name, stats)| Suggestion {
            label: name.to_owned(),
            text: name
                .get(query.prefix.len()..)
                .unwrap_or_default()
                .to_owned(),
            snippet: None,
            confidence: confidence * query.scale,
            description: describe(query, name, stats),
            kind: SuggestionKind::Identifier,
            typed_chars,
        })
        .collect()
}

fn score(
    query: &Query<'_>,
    stats: IdentStats,
    in_this_document: bool,
    distance: Option<usize>,
) -> f64 {
    let proximity = match distance {
        Some(distance) => {
            let span = query.near_span.max(1) as f64;
            0.6 + 0.4 * (1.0 - (distance as f64 / span).min(1.0))
        }
        None if in_this_document => 0.3,
        None => 0.0,
    };
    let frequency = ((1.0 + f64::from(stats.occurrences)).ln() / (1.0 + FREQUENT).ln()).min(1.0);
    BASE + PROXIMITY_WEIGHT * proximity + FREQUENCY_WEIGHT * frequency
}

fn describe(query: &Query<'_>, name: &str, stats: IdentStats) -> String {
    let noun = stats.kind().map_or("name", |k| k.noun());
    if query.current.get(name).is_defined() {
        format!("{noun} defined in this document")
    } else if let Some(document) = (query.locate)(name) {
        format!("{noun} defined in {document}")
    } else {
        format!("{noun} defined in the room")
    }
}
