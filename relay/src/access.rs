//! Room secrets: making them, checking them, and the one refusal every failed check
//! gets.
//!
//! A room created with secrets has two: the join secret (full access) and the
//! read-only secret (watch and show cursors). Each is 256 random bits, base64url; the
//! relay keeps only their SHA-256, which for secrets of that entropy needs no salt or
//! slow hash. Hashes are compared in constant time.
//!
//! A client presents a secret as `Authorization: Bearer <secret>` (editors, curl) or as
//! a `secret` query parameter (browsers, whose WebSocket API cannot set headers). The
//! header is preferred: query strings end up in proxy and access logs.

use axum::http::{header, HeaderMap, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::store::{RoomRecord, SecretHashes};

/// What a participant may do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Edit, create documents, delete the room.
    Write,
    /// Join, receive everything and send cursors; no operations, no new documents.
    ReadOnly,
}

/// A room's two secrets, as handed out once at creation.
pub struct NewSecrets {
    pub join: String,
    pub read_only: String,
    pub hashes: SecretHashes,
}

impl NewSecrets {
    pub fn generate() -> NewSecrets {
        let join = random_secret();
        let read_only = random_secret();
        let hashes = SecretHashes {
            join: hash(&join),
            read_only: hash(&read_only),
        };
        NewSecrets {
            join,
            read_only,
            hashes,
        }
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing means the machine cannot run safely at all.
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The refusal for a wrong or missing secret, and for an unknown room whenever a
/// secret is required: the same status and body, so it tells nothing about the room.
pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "wrong or missing room secret",
    )
}

/// The secret a request carries: the bearer token, else the `secret` query parameter.
pub fn presented_secret(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    bearer.or_else(|| {
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == "secret")
            // Secrets are base64url, which needs no percent-decoding.
            .map(|(_, value)| value.to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// Decides what `secret` grants in `room` (`None`: no such room).
///
/// - A room with secrets: the join secret grants [`Role::Write`], the read-only secret
///   [`Role::ReadOnly`], anything else is refused.
/// - A room without secrets: open to anyone ([`Role::Write`]) unless `require` (the
///   relay's `--require-room-secret`), in which case nobody can enter it this way.
/// - No room: refused with the same answer as a wrong secret when a secret is required
///   or was presented, else `not_found` (the relay's answer before secrets existed).
pub fn check(
    room: Option<&RoomRecord>,
    secret: Option<&str>,
    require: bool,
    not_found: ApiError,
) -> Result<Role, ApiError> {
    let Some(room) = room else {
        return Err(if require || secret.is_some() {
            forbidden()
        } else {
            not_found
        });
    };
    match (&room.secrets, secret) {
        (None, _) if require => Err(forbidden()),
        (None, _) => Ok(Role::Write),
        (Some(_), None) => Err(forbidden()),
        (Some(hashes), Some(secret)) => {
            let presented = hash(secret);
            // Both comparisons always run, so the time taken says nothing about which
            // secret (if any) matched.
            let join = presented.ct_eq(&hashes.join);
            let read_only = presented.ct_eq(&hashes.read_only);
            if bool::from(join) {
                Ok(Role::Write)
            } else if bool::from(read_only) {
                Ok(Role::ReadOnly)
            } else {
                Err(forbidden())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn room(secrets: Option<SecretHashes>) -> RoomRecord {
        RoomRecord {
            id: "r".into(),
            created_at_ms: 0,
            secrets,
        }
    }

    fn not_found() -> ApiError {
        ApiError::room_not_found()
    }

    #[test]
    fn each_secret_grants_its_role() {
        let new = NewSecrets::generate();
        assert_eq!(new.join.len(), 43);
        assert_ne!(new.join, new.read_only);
        let r = room(Some(new.hashes.clone()));
        assert_eq!(
            check(Some(&r), Some(&new.join), false, not_found()).unwrap(),
            Role::Write
        );
        assert_eq!(
            check(Some(&r), Some(&new.read_only), true, not_found()).unwrap(),
            Role::ReadOnly
        );
        let wrong = check(Some(&r), Some("nope"), false, not_found()).unwrap_err();
        let missing = check(Some(&r), None, false, not_found()).unwrap_err();
        let unknown = check(None, Some("nope"), false, not_found()).unwrap_err();
        for e in [&wrong, &missing, &unknown] {
            assert_eq!(e.status, StatusCode::FORBIDDEN);
            assert_eq!(e.message, wrong.message);
        }
    }

    #[test]
    fn rooms_without_secrets_are_open_unless_secrets_are_required() {
        let r = room(None);
        assert_eq!(
            check(Some(&r), None, false, not_found()).unwrap(),
            Role::Write
        );
        assert_eq!(
            check(Some(&r), None, true, not_found()).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            check(None, None, false, not_found()).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            check(None, None, true, not_found()).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn the_secret_comes_from_the_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_secret(&headers, Some("a=1&secret=xyz")),
            Some("xyz".into())
        );
        assert_eq!(presented_secret(&headers, Some("secret=")), None);
        assert_eq!(presented_secret(&headers, None), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(
            presented_secret(&headers, Some("secret=xyz")),
            Some("abc".into())
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_secret(&headers, None), None);
    }
}
