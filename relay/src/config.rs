//! Command-line flags, each with an environment variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// pairprog-relay: holds pair-programming rooms, sequences everyone's edits, stores them
/// durably and relays them to the room.
///
/// With no flags it listens on 127.0.0.1:8787 and keeps its data in an SQLite file,
/// pairprog.db, in the working directory. Point --database-url at PostgreSQL to deploy.
#[derive(Clone, Debug, Parser)]
#[command(name = "pairprog-relay", version)]
pub struct Config {
    /// Address to listen on. Use 127.0.0.1 (or ::1) unless a TLS-terminating proxy fronts it.
    #[arg(long, env = "PAIRPROG_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// PEM certificate chain to serve HTTPS and WSS with (give --tls-key too). Without
    /// it the relay speaks plain HTTP, for loopback or behind a TLS-terminating proxy.
    #[arg(long, env = "PAIRPROG_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert's certificate.
    #[arg(long, env = "PAIRPROG_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,

    /// Database: postgres://user@host/db for deployment, or sqlite:PATH. Default: an SQLite
    /// file pairprog.db in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Folder for the default SQLite database (ignored when --database-url is given).
    #[arg(long, env = "PAIRPROG_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,

    /// Log filter, in tracing's EnvFilter syntax: error, warn, info, debug, trace, or
    /// per-module such as "pairprog_relay=debug,sqlx=warn".
    #[arg(long, env = "PAIRPROG_LOG", default_value = "info")]
    pub log_level: String,

    /// Log format: "text" for people, "json" for log collectors.
    #[arg(long, env = "PAIRPROG_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Largest WebSocket message or REST body accepted, in bytes.
    #[arg(long, env = "PAIRPROG_MAX_MESSAGE_BYTES", default_value_t = 1 << 20)]
    pub max_message_bytes: usize,

    /// Largest document, in bytes of UTF-8.
    #[arg(long, env = "PAIRPROG_MAX_DOCUMENT_BYTES", default_value_t = 8 << 20)]
    pub max_document_bytes: usize,

    /// Most documents one room may hold.
    #[arg(long, env = "PAIRPROG_MAX_DOCUMENTS_PER_ROOM", default_value_t = 1000)]
    pub max_documents_per_room: u64,

    /// A snapshot of a document is written after this many operations.
    #[arg(long, env = "PAIRPROG_SNAPSHOT_EVERY", default_value_t = 200)]
    pub snapshot_every: u64,

    /// Seconds a document with no subscribers stays in memory.
    #[arg(long, env = "PAIRPROG_IDLE_UNLOAD_SECS", default_value_t = 30)]
    pub idle_unload_secs: u64,

    /// Messages queued toward one connection before it is dropped as too slow.
    #[arg(long, env = "PAIRPROG_OUTBOX_CAPACITY", default_value_t = 1024)]
    pub outbox_capacity: usize,

    /// Every room must have secrets: rooms are always created with them, and joining
    /// over WebSocket or reading over REST needs one. Without this flag, rooms created
    /// with secrets still require them and rooms created without stay open.
    #[arg(long, env = "PAIRPROG_REQUIRE_ROOM_SECRET", default_value_t = false)]
    pub require_room_secret: bool,

    /// Rooms one client IP may create per minute (a burst of this size, then refilled
    /// evenly). 0 turns the limit off.
    #[arg(long, env = "PAIRPROG_ROOM_CREATES_PER_MINUTE", default_value_t = 30)]
    pub room_creates_per_minute: u32,

    /// WebSocket connections one client IP may open per minute (a burst of this size,
    /// then refilled evenly). 0 turns the limit off.
    #[arg(long, env = "PAIRPROG_CONNECTS_PER_MINUTE", default_value_t = 120)]
    pub connects_per_minute: u32,

    /// Most WebSocket connections in one room.
    #[arg(long, env = "PAIRPROG_MAX_CONNECTIONS_PER_ROOM", default_value_t = 50)]
    pub max_connections_per_room: usize,

    /// Most WebSocket connections to this relay in total.
    #[arg(long, env = "PAIRPROG_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most HTTP connections served at once (requests in progress and idle keep-alive
    /// connections; an upgraded WebSocket counts under --max-connections instead).
    /// Beyond it the relay stops accepting until one ends.
    #[arg(long, env = "PAIRPROG_MAX_HTTP_CONNECTIONS", default_value_t = 1024)]
    pub max_http_connections: usize,

    /// Time a client has to send a request's headers (after connecting, and between
    /// keep-alive requests) and, once they came, the request body; a silent or
    /// half-sent request is closed after it (such as 10s or 500ms).
    #[arg(long, env = "PAIRPROG_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub http_header_timeout: Duration,

    /// WebSocket messages one connection may send per second, on average; a client
    /// above it is read more slowly (nothing is refused). 0 turns the limit off.
    #[arg(long, env = "PAIRPROG_WS_MESSAGES_PER_SECOND", default_value_t = 200)]
    pub ws_messages_per_second: u32,

    /// WebSocket messages one connection may send in a burst above that rate (a
    /// reconnect reopening every document sends many at once).
    #[arg(long, env = "PAIRPROG_WS_MESSAGE_BURST", default_value_t = 1000)]
    pub ws_message_burst: u32,

    /// Cursor updates one connection passes on per document, at most one per this
    /// interval: the latest replaces any not yet passed on (such as 50ms).
    #[arg(long, env = "PAIRPROG_CURSOR_INTERVAL", default_value = "50ms", value_parser = parse_duration)]
    pub cursor_interval: Duration,

    /// A browser Origin allowed to call the relay (repeat the flag, or separate with
    /// commas in the variable). When any is given, a request whose Origin header is not
    /// listed is refused with 403; requests without an Origin (editors, curl) pass.
    #[arg(
        long = "allowed-origin",
        env = "PAIRPROG_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Take the client IP for rate limits from the last X-Forwarded-For entry. Only
    /// behind a proxy that sets it: otherwise clients choose their own IP.
    #[arg(long, env = "PAIRPROG_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Rooms with no connection and no operation for this long are deleted with their
    /// documents: a number with a unit s, m, h or d (such as 30d). 0 keeps rooms forever.
    #[arg(long, env = "PAIRPROG_ROOM_TTL", default_value = "30d", value_parser = parse_duration)]
    pub room_ttl: Duration,

    /// Logged operations older than this are folded into their document's snapshot and
    /// deleted, so the history endpoint starts later (such as 90d). 0, the default,
    /// keeps the whole history.
    #[arg(long, env = "PAIRPROG_HISTORY_TTL", default_value = "0", value_parser = parse_duration)]
    pub history_ttl: Duration,

    /// Time between two runs of the retention job that applies --room-ttl and
    /// --history-ttl.
    #[arg(long, env = "PAIRPROG_RETENTION_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub retention_interval: Duration,

    /// With PostgreSQL, several relays may share the database. Each says it is alive this
    /// often (such as 2s), and takes another for dead, dropping its participants from
    /// the rooms, after five of these intervals without word from it.
    #[arg(long, env = "PAIRPROG_PEER_HEARTBEAT", default_value = "2s", value_parser = parse_duration)]
    pub peer_heartbeat: Duration,
}

impl Config {
    /// The configuration with every default, for tests and embedding.
    pub fn defaults() -> Self {
        Self::parse_from(["pairprog-relay"])
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("pairprog.db").display()),
        }
    }

    pub fn idle_unload(&self) -> Duration {
        Duration::from_secs(self.idle_unload_secs)
    }
}

/// Reads a duration such as `30d`, `12h`, `15m`, `90s`, `500ms` or a bare number of
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30d, 12h, 15m or 90s"))?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    value
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("d").is_err());
    }
}
