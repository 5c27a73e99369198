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

/// Checks a workspace-relative document path: non-empty, at most 1024 bytes, relative,
/// with `/` separators and no `.`/`..` segments or control characters.
pub fn validate_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > 1024 {
        return Err("a document path must be 1 to 1024 bytes long");
    }
    if path.starts_with('/') || path.contains('\\') {
        return Err("a document path is relative to the workspace root and uses '/'");
    }
    if path.chars().any(char::is_control) {
        return Err("a document path must not contain control characters");
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err("a document path must not contain empty, '.' or '..' segments");
    }
    Ok(())
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
        assert!(validate_path("src/main.rs").is_ok());
        assert!(validate_path("README.md").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }
}
