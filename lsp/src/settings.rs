//! Settings from `initializationOptions` `{relay, name, room, caFile}`, with the
//! environment (`PAIRPROG_RELAY`, `PAIRPROG_NAME`, `PAIRPROG_ROOM`, `PAIRPROG_CA_FILE`) as
//! fallback.

use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;

/// Where a relay listens when nothing says otherwise (the relay's own default).
pub const DEFAULT_RELAY: &str = "ws://127.0.0.1:8787";

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The relay's base URL, `ws://` or `wss://` (an `http(s)://` one is accepted too).
    pub relay: String,
    pub name: String,
    pub room: Option<String>,
    /// A PEM file of certificate authorities to trust for a `wss://`/`https://` relay, on
    /// top of the system's and the built-in ones (for a private CA or a self-signed relay).
    pub ca_file: Option<PathBuf>,
    /// `pairprog.createRoom` asks the relay for a room with secrets (`roomSecrets`,
    /// `PAIRPROG_ROOM_SECRETS=1`). A relay run with `--require-room-secret` gives every
    /// room secrets anyway.
    pub room_secrets: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Options {
    relay: Option<String>,
    name: Option<String>,
    room: Option<String>,
    ca_file: Option<String>,
    room_secrets: Option<bool>,
}

#[derive(Debug, Error, PartialEq)]
pub enum SettingsError {
    #[error("initializationOptions: {0}")]
    Malformed(String),
    #[error("the relay URL {0:?} must start with ws://, wss://, http:// or https://")]
    BadRelayUrl(String),
}

impl Settings {
    /// Reads the options, falling back to `env` (a lookup, so tests need not touch the
    /// process environment) and then to defaults.
    pub fn from_options(
        options: Option<&serde_json::Value>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let options: Options = match options {
            None | Some(serde_json::Value::Null) => Options::default(),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| SettingsError::Malformed(e.to_string()))?,
        };
        let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let relay = non_empty(options.relay)
            .or_else(|| non_empty(env("PAIRPROG_RELAY")))
            .unwrap_or_else(|| DEFAULT_RELAY.to_owned());
        let relay = relay.trim_end_matches('/').to_owned();
        if !["ws://", "wss://", "http://", "https://"]
            .iter()
            .any(|p| relay.starts_with(p))
        {
            return Err(SettingsError::BadRelayUrl(relay));
        }
        let name = non_empty(options.name)
            .or_else(|| non_empty(env("PAIRPROG_NAME")))
            .or_else(|| non_empty(env("USER")))
            .unwrap_or_else(|| "anonymous".to_owned());
        let room = non_empty(options.room).or_else(|| non_empty(env("PAIRPROG_ROOM")));
        let ca_file = non_empty(options.ca_file)
            .or_else(|| non_empty(env("PAIRPROG_CA_FILE")))
            .map(PathBuf::from);
        let room_secrets = options.room_secrets.unwrap_or_else(|| {
            env("PAIRPROG_ROOM_SECRETS").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
        });
        Ok(Settings {
            relay,
            name,
            room,
            ca_file,
            room_secrets,
        })
    }

    /// The WebSocket URL of a room.
    pub fn room_url(&self, room: &str) -> String {
        let base = if let Some(rest) = self.relay.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = self.relay.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            self.relay.clone()
        };
        format!("{base}/ws/{room}")
    }

    /// The base URL for REST calls.
    pub fn http_base(&self) -> String {
        if let Some(rest) = self.relay.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = self.relay.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            self.relay.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn options_win_over_the_environment() {
        let env = |k: &str| Some(format!("env-{k}"));
        let s = Settings::from_options(
            Some(&json!({"relay": "ws://h:1/", "name": "ana", "room": "r1"})),
            env,
        )
        .unwrap();
        assert_eq!(s.relay, "ws://h:1");
        assert_eq!(s.name, "ana");
        assert_eq!(s.room.as_deref(), Some("r1"));
    }

    #[test]
    fn the_environment_fills_what_options_leave_out() {
        let env = |k: &str| match k {
            "PAIRPROG_RELAY" => Some("wss://relay.example".to_owned()),
            "PAIRPROG_NAME" => Some("bo".to_owned()),
            _ => None,
        };
        let s = Settings::from_options(Some(&json!({"room": ""})), env).unwrap();
        assert_eq!(s.relay, "wss://relay.example");
        assert_eq!(s.name, "bo");
        assert_eq!(s.room, None);
        assert_eq!(s.room_url("abc"), "wss://relay.example/ws/abc");
        assert_eq!(s.http_base(), "https://relay.example");
    }

    #[test]
    fn defaults_apply_with_nothing_given() {
        let s = Settings::from_options(None, no_env).unwrap();
        assert_eq!(s.relay, DEFAULT_RELAY);
        assert_eq!(s.name, "anonymous");
        assert_eq!(s.http_base(), "http://127.0.0.1:8787");
    }

    #[test]
    fn ca_file_comes_from_options_then_the_environment() {
        let env = |k: &str| (k == "PAIRPROG_CA_FILE").then(|| "/env/ca.pem".to_owned());
        let s = Settings::from_options(Some(&json!({"caFile": "/opts/ca.pem"})), env).unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/opts/ca.pem")));
        let s = Settings::from_options(Some(&json!({"caFile": " "})), env).unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/env/ca.pem")));
        let s = Settings::from_options(None, env).unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/env/ca.pem")));
        let s = Settings::from_options(Some(&json!({"relay": "wss://r"})), no_env).unwrap();
        assert_eq!(s.ca_file, None);
    }

    #[test]
    fn a_ca_file_that_is_not_a_string_is_reported() {
        assert!(matches!(
            Settings::from_options(Some(&json!({"caFile": ["/a.pem"]})), no_env),
            Err(SettingsError::Malformed(_))
        ));
    }

    #[test]
    fn room_secrets_are_asked_for_only_when_set() {
        let s = Settings::from_options(None, no_env).unwrap();
        assert!(!s.room_secrets);
        let env = |k: &str| (k == "PAIRPROG_ROOM_SECRETS").then(|| "1".to_owned());
        assert!(Settings::from_options(None, env).unwrap().room_secrets);
        let s = Settings::from_options(Some(&json!({"roomSecrets": false})), env).unwrap();
        assert!(!s.room_secrets, "the option wins over the environment");
    }

    #[test]
    fn bad_options_are_reported() {
        assert!(matches!(
            Settings::from_options(Some(&json!({"relay": 5})), no_env),
            Err(SettingsError::Malformed(_))
        ));
        assert_eq!(
            Settings::from_options(Some(&json!({"relay": "ftp://x"})), no_env),
            Err(SettingsError::BadRelayUrl("ftp://x".into()))
        );
    }
}
