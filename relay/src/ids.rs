//! Identifiers handed to clients.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A room id: 128 random bits from the OS, base64url without padding (22 chars), so it
/// can be pasted into a URL and not guessed.
pub fn room_id() -> String {
    random_token::<16>()
}

/// A participant or client id: 96 random bits, unique enough within a room's lifetime.
pub fn short_id() -> String {
    random_token::<12>()
}

fn random_token<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // The OS random source failing means the machine cannot run safely at all.
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// True for strings that could be a room id we issued: bounded length, base64url chars.
/// Anything else is answered "not found" without touching the database.
pub fn plausible_room_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a workspace-relative document path and returns it in Unicode NFC, the one
/// form the room keys documents by: non-empty, at most 1024 bytes, relative, with `/`
/// separators and no `.`/`..` segments, control characters, invisible characters
/// (zero-width, bidirectional controls, a byte-order mark, unusual spaces) or
/// characters that look like a slash. Without this, names that look the same (`café`
/// in NFC and NFD, `a\u{2215}b` and `a/b`, a hidden U+202E) were different documents.
pub fn validate_path(path: &str) -> Result<String, &'static str> {
    use unicode_normalization::UnicodeNormalization;

    if path.chars().any(char::is_control) {
        return Err("a document path must not contain control characters");
    }
    if path.chars().any(invisible) {
        return Err(
            "a document path must not contain invisible characters (zero-width, bidirectional \
             controls, a byte-order mark, spaces other than U+0020)",
        );
    }
    if path.chars().any(slash_like) {
        return Err("a document path must not contain characters that look like a slash");
    }
    let path: String = path.nfc().collect();
    if path.is_empty() || path.len() > 1024 {
        return Err("a document path must be 1 to 1024 bytes long");
    }
    if path.starts_with('/') || path.contains('\\') {
        return Err("a document path is relative to the workspace root and uses '/'");
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err("a document path must not contain empty, '.' or '..' segments");
    }
    Ok(path)
}

/// Characters that show nothing (or only a space) but make a name different: format
/// characters (zero-width, joiners, bidirectional controls, the byte-order mark, tags),
/// fillers, and every space but U+0020.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00A0}' | '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
        | '\u{1680}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{2000}'..='\u{200F}' | '\u{2028}'..='\u{202F}' | '\u{205F}'..='\u{206F}'
        | '\u{3000}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Characters drawn like `/` or `\`, which would let a name pose as a folder.
fn slash_like(c: char) -> bool {
    matches!(
        c,
        '\u{2044}'
            | '\u{2215}'
            | '\u{2216}'
            | '\u{2571}'
            | '\u{2572}'
            | '\u{29F5}'
            | '\u{29F8}'
            | '\u{29F9}'
            | '\u{3033}'
            | '\u{FE68}'
            | '\u{FF0F}'
            | '\u{FF3C}'
            | '\u{1735}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_long_random_and_url_safe() {
        let a = room_id();
        let b = room_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(plausible_room_id(&a));
    }

    #[test]
    fn paths_are_checked() {
        assert_eq!(validate_path("src/main.rs").as_deref(), Ok("src/main.rs"));
        assert!(validate_path("README.md").is_ok());
        assert!(validate_path("my notes/日本語 😀.md").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }

    /// Names that look the same were different documents: NFC and NFD spellings, a
    /// right-to-left override, a zero-width space, fullwidth or division slashes, a
    /// leading byte-order mark.
    #[test]
    fn regression_look_alike_paths_were_separate_documents() {
        let nfc = "caf\u{e9}.txt";
        let nfd = "cafe\u{301}.txt";
        assert_eq!(validate_path(nfd).as_deref(), Ok(nfc));
        assert_eq!(validate_path(nfc).as_deref(), Ok(nfc));
        for bad in [
            "\u{202E}txt.exe",
            "a\u{200B}.txt",
            "\u{FEFF}a.txt",
            "src\u{FF0F}main.rs",
            "src\u{2215}main.rs",
            "src\u{2044}main.rs",
            "a\u{00A0}b.txt",
            "a\u{2066}b.txt",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }
}
