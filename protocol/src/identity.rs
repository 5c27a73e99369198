//! Who a client is to the relay. A client picks a secret `clientKey` and keeps it for its
//! whole life (across reconnects); the relay derives the client's public `clientId` from
//! it with [`client_id`] and deduplicates operations by `(clientId, seq)`. The public id
//! is shown to the room (in history entries), but the key is never sent back to anyone,
//! and the hash is one-way, so no other member can speak as that client: before this, a
//! member could send `(another's clientId, their next seq)` first and the other's real
//! operation was then acknowledged as a resend and dropped (issue 15, defect 5).

use sha2::{Digest, Sha256};

/// The fewest characters a `clientKey` may have: 32 hex digits carry 128 bits.
pub const CLIENT_KEY_MIN_CHARS: usize = 32;
/// The most characters a `clientKey` may have.
pub const CLIENT_KEY_MAX_CHARS: usize = 128;

/// Separates this use of SHA-256 from every other, so a client id is never the hash of
/// the same bytes in some other context (a room secret's hash, for one).
const DOMAIN: &[u8] = b"pairprog client id v1\0";

/// The public client id of the client holding `key`: the first 128 bits of
/// SHA-256(domain ‖ key), as 32 lowercase hex digits. Finding another key with the same
/// id is a second-preimage attack on truncated SHA-256 (about 2^128 hashes).
pub fn client_id(key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(key.as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `key` has the form of a client key: 32 to 128 characters, each an ASCII
/// letter, digit, `-` or `_` (hex and unpadded base64url both fit). The relay cannot
/// see whether it is random; a client must draw it from a secure random source.
pub fn check_client_key(key: &str) -> Result<(), String> {
    let len = key.chars().count();
    if !(CLIENT_KEY_MIN_CHARS..=CLIENT_KEY_MAX_CHARS).contains(&len) {
        return Err(format!(
            "clientKey must have {CLIENT_KEY_MIN_CHARS} to {CLIENT_KEY_MAX_CHARS} characters (at least 128 random bits); it has {len}"
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("clientKey may hold only ASCII letters, digits, '-' and '_'".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_stable_distinct_and_does_not_reveal_the_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let id = client_id(key);
        assert_eq!(id, client_id(key));
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, client_id("0123456789abcdef0123456789abcdee"));
        assert!(!id.contains(key) && !key.contains(&id));
        // Using someone's public id as one's own key gives yet another id.
        assert_ne!(client_id(&id), id);
    }

    /// A fixed vector (computed with `printf 'pairprog client id v1\x00KEY' | sha256sum`),
    /// so a refactor or another implementation derives the same id from the same key:
    /// stored operations are deduplicated by it.
    #[test]
    fn the_derivation_matches_its_vector() {
        assert_eq!(
            client_id("0123456789abcdef0123456789abcdef"),
            "75da420bed463778fc690414bc22a50a"
        );
    }

    #[test]
    fn keys_are_checked_for_length_and_characters() {
        assert!(check_client_key(&"a".repeat(32)).is_ok());
        assert!(check_client_key(&"A_-9".repeat(32)).is_ok());
        assert!(check_client_key(&"a".repeat(31)).is_err());
        assert!(check_client_key(&"a".repeat(129)).is_err());
        assert!(check_client_key(&format!("{}é", "a".repeat(32))).is_err());
        assert!(check_client_key(&format!("{} ", "a".repeat(32))).is_err());
    }
}
