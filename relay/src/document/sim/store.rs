//! The simulated store: a snapshot and a log in memory, with the checks the real ones
//! make (a revision taken twice is a conflict; a sequence number SQL cannot hold and a
//! value the database refuses are rejected) and nothing else.

use crate::document::{CommitOutcome, CommitRequest, Failure, Loaded, LogEntry};

/// A character the simulated database refuses to store, like NUL on Postgres.
pub const POISON: char = '\u{1}';

pub struct SimStore {
    pub id: i64,
    snapshot: String,
    snapshot_revision: u64,
    /// Every committed operation; `log[i].revision == i + 1`.
    pub log: Vec<LogEntry>,
    /// The text at the last revision, kept up to date.
    pub text: String,
}

impl SimStore {
    pub fn new(text: &str) -> Self {
        Self {
            id: 7,
            snapshot: text.to_owned(),
            snapshot_revision: 0,
            log: Vec::new(),
            text: text.to_owned(),
        }
    }

    pub fn revision(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn load(&self) -> Loaded {
        Loaded {
            id: self.id,
            language: "plaintext".to_owned(),
            snapshot: self.snapshot.clone(),
            snapshot_revision: self.snapshot_revision,
            operations: self.log[self.snapshot_revision as usize..].to_vec(),
        }
    }

    pub fn since(&self, since: u64) -> Vec<LogEntry> {
        self.log
            .get(since as usize..)
            .map(<[LogEntry]>::to_vec)
            .unwrap_or_default()
    }

    pub fn find(&self, client_id: &str, seq: u64) -> Option<u64> {
        self.log
            .iter()
            .find(|e| e.client_id == client_id && e.client_seq == seq)
            .map(|e| e.revision)
    }

    /// Whether the rows would be refused: what a real store checks before writing.
    pub fn check(&self, request: &CommitRequest) -> Result<(), CommitOutcome> {
        let first = request.ops.first().map_or(0, |e| e.revision);
        if first != self.revision() + 1 {
            return Err(CommitOutcome::FailedBeforeCommit(Failure::Conflict));
        }
        for (i, e) in request.ops.iter().enumerate() {
            if e.revision != first + i as u64 {
                return Err(CommitOutcome::FailedBeforeCommit(Failure::Conflict));
            }
            let poisoned = e.operation.components().iter().any(
                |c| matches!(c, pairprog_protocol::Component::Insert(s) if s.contains(POISON)),
            );
            if e.client_seq > i64::MAX as u64 || poisoned {
                return Err(CommitOutcome::FailedBeforeCommit(Failure::Rejected(
                    "the database refused a value".to_owned(),
                )));
            }
        }
        Ok(())
    }

    /// Appends rows already checked.
    pub fn append(&mut self, ops: &[LogEntry]) {
        for e in ops {
            self.text = e
                .operation
                .apply_str(&self.text)
                .expect("the core only commits operations that apply");
            self.log.push(e.clone());
        }
    }

    /// A foreign write: an operation another relay committed.
    pub fn append_foreign(&mut self, entry: LogEntry) {
        self.append(std::slice::from_ref(&entry));
    }

    pub fn write_snapshot(&mut self, text: String, revision: u64) {
        if revision > self.snapshot_revision && revision <= self.revision() {
            self.snapshot = text;
            self.snapshot_revision = revision;
        }
    }
}
