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
