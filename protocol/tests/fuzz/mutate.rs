//! The random source and the mutations of the bounded fuzz harness.
//!
//! Everything random comes from [`Rng`], seeded per iteration from the run's seed and
//! the iteration number, so one printed `(seed, iteration)` pair replays one failure
//! exactly, however long the run that found it was.

use serde_json::Value;

/// SplitMix64: tiny, fast and good enough to drive mutations; no dependency needed.
pub struct Rng(u64);

impl Rng {
    pub fn for_iteration(seed: u64, iteration: u64) -> Self {
        let mut rng = Rng(seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers at the edges of every integer type the decoder and the algebra meet.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "255",
    "65536",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1.5",
    "1e3",
    "-1e308",
    "1e999",
    "123456789012345678901234567890123456789012345678901234567890",
];

/// Strings with the characters that count differently in chars, UTF-16 units and bytes.
pub const STRINGS: &[&str] = &[
    "",
    "x",
    "😀",
    "é",
    "e\u{301}",
    "\r\n",
    "\r",
    "\n",
    "\u{0}",
    "\u{2028}",
    "\u{feff}",
    "\u{10ffff}",
    "a😀b\r\nc",
];

/// Fragments that stress the JSON reader: escapes, lone surrogates, bad tokens.
const TOKENS: &[&str] = &[
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
    "\"\\u0000\"",
    "\"\\uD83D\\uDE00\"",
    "\"\\x\"",
    "null",
    "true",
    "false",
    "[]",
    "{}",
    ",",
    ":",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\"type\":\"op\"",
    "\"type\":\"hello\"",
    "\"type\":\"open\"",
    "\"type\":\"cursor\"",
    "\"type\":\"close\"",
    "\"op\":",
    "\"base\":",
    "\"seq\":",
    "\"path\":",
    "\"selections\":",
    "\"unknown\":1",
];

pub const MESSAGE_TYPES: &[&str] = &["hello", "open", "close", "op", "cursor", "welcome", "x"];

/// One random mutation of `input`, sometimes crossed with `other` (another corpus entry).
pub fn mutate_bytes(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let len = input.len();
    // Cases 11 and above (a third) are JSON-aware, so most inputs stay close enough to
    // a message to reach the protocol's own checks instead of the JSON syntax errors.
    match rng.below(16) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.next() as u8;
        }
        2 => {
            let i = rng.below(len + 1);
            input.insert(i, rng.next() as u8);
        }
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(8)).min(len);
            input.drain(start..end);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(16)).min(len);
            let copy = input[start..end].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, copy);
        }
        5 if !other.is_empty() => {
            // Splice: our head with the other input's tail.
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        6 | 7 => {
            let tokens = if rng.chance(2) { NUMBERS } else { TOKENS };
            let token = *rng.pick(tokens);
            let at = char_boundary_near(input, rng.below(len + 1));
            input.splice(at..at, token.bytes());
        }
        8 => replace_a_number(rng, input),
        9 => {
            // Deep nesting around everything or at a random point.
            let depth = *rng.pick(&[2usize, 64, 127, 128, 129, 200, 5_000, 100_000]);
            let (open, close) = if rng.chance(2) {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            let at = char_boundary_near(input, rng.below(len + 1));
            let mut nested = open.repeat(depth).into_bytes();
            if rng.chance(2) {
                nested.extend(close.repeat(depth).bytes());
            }
            input.splice(at..at, nested);
        }
        10 => {
            // A huge string or a huge array of small things, still under the relay's
            // message limit: the decoder must hold them in memory proportional to them.
            let most = if rng.chance(8) { 200_000 } else { 64 };
            let n = 1 + rng.below(most);
            let filler = if rng.chance(2) { "😀" } else { "1," };
            let at = char_boundary_near(input, rng.below(len + 1));
            input.splice(at..at, filler.repeat(n).into_bytes());
        }
        _ => {
            if let Ok(mut value) = serde_json::from_slice::<Value>(input) {
                mutate_value(rng, &mut value, 0);
                *input = serde_json::to_vec(&value).unwrap_or_default();
            } else if len > 0 {
                input.truncate(rng.below(len));
            }
        }
    }
}

/// Replaces the digits of one number in the text with an edge-case number.
fn replace_a_number(rng: &mut Rng, input: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..input.len())
        .filter(|&i| input[i].is_ascii_digit() && (i == 0 || !input[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = *rng.pick(&starts);
    let mut end = start;
    while end < input.len() && input[end].is_ascii_digit() {
        end += 1;
    }
    let start = if start > 0 && input[start - 1] == b'-' {
        start - 1
    } else {
        start
    };
    input.splice(start..end, rng.pick(NUMBERS).bytes());
}

fn char_boundary_near(input: &[u8], mut at: usize) -> usize {
    // Inserting ASCII inside a multi-byte character only makes invalid UTF-8, which the
    // WebSocket layer already refuses; keep most insertions on character boundaries.
    while at < input.len() && (input[at] & 0xC0) == 0x80 {
        at += 1;
    }
    at
}

/// A JSON-aware mutation: change one node of the tree.
pub fn mutate_value(rng: &mut Rng, value: &mut Value, depth: usize) {
    let descend = depth < 8 && rng.below(3) != 0;
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned();
            if let Some(child) = key.and_then(|k| map.get_mut(&k)) {
                return mutate_value(rng, child, depth + 1);
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            return mutate_value(rng, &mut items[i], depth + 1);
        }
        _ => {}
    }
    let choice = rng.below(9);
    match (choice, &mut *value) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned();
            if let Some(key) = key {
                map.remove(&key);
            }
        }
        (1, Value::Object(map)) => {
            map.insert("extra".into(), Value::from(1));
        }
        (2, Value::Object(map)) => {
            map.insert("type".into(), Value::from(*rng.pick(MESSAGE_TYPES)));
        }
        (3, Value::Array(items)) if !items.is_empty() => {
            let i = rng.below(items.len());
            let copy = items[i].clone();
            items.insert(rng.below(items.len() + 1), copy);
        }
        (4, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.below(items.len()));
        }
        (5, Value::Array(items)) => {
            items.insert(rng.below(items.len() + 1), random_component(rng));
        }
        (6, Value::Number(n)) => {
            let x = n.as_i64().unwrap_or(1);
            let delta = *rng.pick(&[-2i64, -1, 1, 2]);
            *value = Value::from(x.saturating_add(delta));
        }
        _ => *value = random_scalar(rng),
    }
}

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => {
            let number = *rng.pick(NUMBERS);
            serde_json::from_str(number).unwrap_or(Value::Null)
        }
        1 => Value::from(*rng.pick(STRINGS)),
        2 => Value::Array(vec![]),
        _ => Value::Null,
    }
}

/// A wire operation component, often an invalid one.
pub fn random_component(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => Value::from(1 + rng.below(8) as u64),
        1 => Value::from(-(1 + rng.below(8) as i64)),
        2 => Value::from(*rng.pick(STRINGS)),
        _ => random_scalar(rng),
    }
}
