//! The cross-document group commit. Every document owner hands its batch of operations
//! here and waits; everything that queued meanwhile, across all documents, is written as
//! one group in a single statement. With hundreds of active documents that turns
//! hundreds of commits (and disk syncs) into one, which is what lets the relay sustain
//! tens of thousands of operations per second on two cores. On Postgres a second group
//! forms and commits while the first waits for its sync (see [`POSTGRES_WORKERS`]).
//!
//! A failed group must not fail everyone in it, nor stall everyone behind it. When the
//! store refused a group's rows (a revision another relay took, a value it rejects), the
//! group is split in halves and each half committed again, recursively: one bad batch
//! among `n` costs about `2·log2(n)` transactions, not `n` (retrying each batch alone
//! serialised every document behind the one at fault). When the store could not be
//! reached, or the commit's outcome is unknown, nobody is at fault and splitting would
//! only add load: every owner gets the answer at once and settles it from its own log.
//!
//! Owners are pipelined: one hands its next batch while the previous one still commits.
//! The store cannot keep a document's order across groups in flight (two statements on
//! two connections commit in either order, and nothing in the log's keys forbids a gap),
//! so the committer keeps it, by [`Chains`]: a batch names the one it follows. While
//! that one still waits for a group, the batch joins it in a [`Unit`]: one statement,
//! all or nothing, which halving never splits (so both typists of a document share a
//! commit). Once that one is in a group in flight, the batch waits here until it
//! committed, so no two statements in flight ever hold the same document. If the batch
//! it follows did not commit (refused, failed, or its outcome unknown) it is answered as
//! not written without being tried, and so is everything after it: the owner has taken
//! all of them back. This is decided before the owner hears of the first failure, so
//! nothing of a document is written behind a hole. (The batches of a unit share its
//! outcome; after an unknown one the owner settles them all from the log.)

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::document::types::{CommitOutcome, Failure};
use crate::metrics::Metrics;
use crate::store::{AppendBatch, DocumentId, Store, StoreError};

/// Batches waiting for the committer before owners are made to wait for a place.
const QUEUE: usize = 8192;
/// Most operations in one transaction.
const MAX_ROWS: usize = 8192;
/// Groups in flight at once on Postgres. While one waits for its disk sync, the next
/// group forms and commits; the server merges the syncs of concurrent commits. Two groups
/// in flight never hold the same document: [`Chains`] holds a document's next batch back
/// until the previous one committed. SQLite has one writer connection, so a second group
/// there would only wait for it, smaller.
const POSTGRES_WORKERS: usize = 2;

struct CommitRequest {
    batch: AppendBatch,
    /// This batch's number, unique in the process.
    id: u64,
    /// The batch of the same document it was sequenced on top of, if that one's answer
    /// had not reached the owner when it handed this one.
    after: Option<u64>,
    reply: oneshot::Sender<CommitOutcome>,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<CommitRequest>,
    ids: Arc<AtomicU64>,
}

/// A batch handed to the committer: its number (for the next batch's `after`) and the
/// answer to come.
pub struct Handed {
    pub id: u64,
    answer: oneshot::Receiver<CommitOutcome>,
}

impl Handed {
    /// How the batch's commit ended.
    pub async fn outcome(&mut self) -> CommitOutcome {
        // The committer may have stopped after writing and before answering.
        (&mut self.answer)
            .await
            .unwrap_or_else(|_| CommitOutcome::OutcomeUnknown("the committer stopped".to_owned()))
    }
}

impl Committer {
    /// Starts the committer task; it ends when every `Committer` handle is dropped (the
    /// groups in flight still finish and answer).
    pub fn start(store: Store, metrics: Arc<Metrics>) -> Committer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let workers = match store {
            Store::Postgres(_) => POSTGRES_WORKERS,
            Store::Sqlite(_) => 1,
        };
        tokio::spawn(run(store, metrics, rx, workers));
        Committer {
            tx,
            ids: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Hands one document's batch over to be committed durably (with its notice),
    /// together with whatever else is queued, after the batch `after` of the same
    /// document committed; the answer comes through [`Handed::outcome`].
    pub async fn hand(&self, batch: AppendBatch, after: Option<u64>) -> Handed {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let request = CommitRequest {
            batch,
            id,
            after,
            reply,
        };
        if let Err(refused) = self.tx.send(request).await {
            let _ = refused
                .0
                .reply
                .send(CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                    "the committer stopped".to_owned(),
                )));
        }
        Handed { id, answer }
    }

    /// Commits one document's batch, with nothing of it in flight before, and says how
    /// that ended.
    pub async fn commit(&self, batch: AppendBatch) -> CommitOutcome {
        self.hand(batch, None).await.outcome().await
    }
}

/// What a failed append means for its rows.
///
/// A conflict, and an error the database reported for a statement (or for COMMIT),
/// wrote nothing. Of those, data errors (SQLSTATE class 22 and 23 on Postgres;
/// constraint, type and size errors on SQLite) are the rows' fault; the rest (the
/// server shutting down, a lock timeout...) are the store's. A lost connection or I/O
/// error may have happened after the COMMIT reached the server: the outcome is unknown.
pub fn outcome_of(error: &StoreError) -> CommitOutcome {
    if error.is_conflict() {
        return CommitOutcome::FailedBeforeCommit(Failure::Conflict);
    }
    let why = error.to_string();
    let failure = match error {
        StoreError::Corrupt { .. } => Failure::Rejected(why),
        StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => {
            Failure::Unavailable(why)
        }
        StoreError::Database(e) => match e.as_database_error() {
            Some(db) if db.code().is_some_and(|c| rows_at_fault(&c)) => Failure::Rejected(why),
            Some(_) => Failure::Unavailable(why),
            None => return CommitOutcome::OutcomeUnknown(why),
        },
        _ => Failure::Unavailable(why),
    };
    CommitOutcome::FailedBeforeCommit(failure)
}

/// Whether a database error code blames the rows written (see [`outcome_of`]).
fn rows_at_fault(code: &str) -> bool {
    match code.parse::<i64>() {
        // SQLite: TOOBIG, CONSTRAINT, MISMATCH, RANGE (primary code in the low byte).
        Ok(sqlite) => matches!(sqlite & 0xff, 18 | 19 | 20 | 25),
        Err(_) => code.starts_with("22") || code.starts_with("23"),
    }
}

/// One document's consecutive batches, committed together in one group and one
/// statement, so all or none of them (a group refused is halved between units, never
/// inside one).
struct Unit {
    requests: Vec<CommitRequest>,
}

/// Each document's order across groups (see the module comment).
#[derive(Default)]
struct Chains {
    /// Batches taken in and not answered yet, with the batch that follows each and
    /// waits for its outcome (a document's batches form one chain).
    open: HashMap<u64, Vec<CommitRequest>>,
    /// Units ready for the next group, oldest first; `first_unit` numbers the front one.
    ready: VecDeque<Unit>,
    first_unit: u64,
    /// The unit each ready unit's last batch is in, so the batch that follows it joins
    /// it (same group, same statement) instead of waiting for a whole commit cycle.
    tails: HashMap<u64, u64>,
    /// Per document, the last batch answered as not committed, for a batch that follows
    /// it and reaches the committer only afterwards.
    failed: HashMap<DocumentId, u64>,
}

impl Chains {
    /// Takes in a request: joins the ready unit of the batch it follows, waits for that
    /// batch's commit, is answered at once if that one did not commit, or starts a unit.
    fn admit(&mut self, request: CommitRequest) {
        let document = request.batch.document;
        self.open.insert(request.id, Vec::new());
        match request.after {
            Some(after) if self.tails.contains_key(&after) => {
                if let Some(unit) = self.tails.remove(&after) {
                    self.tails.insert(request.id, unit);
                    let index = (unit - self.first_unit) as usize;
                    self.ready[index].requests.push(request);
                }
            }
            Some(after) if self.open.contains_key(&after) => {
                if let Some(waiting) = self.open.get_mut(&after) {
                    waiting.push(request);
                }
            }
            Some(after) if self.failed.get(&document) == Some(&after) => self.abandon(request),
            after => {
                if after.is_none() {
                    self.failed.remove(&document);
                }
                self.start_unit(request);
            }
        }
    }

    /// Makes `request` a new ready unit, with the batches already waiting behind it.
    fn start_unit(&mut self, request: CommitRequest) {
        let unit = self.first_unit + self.ready.len() as u64;
        let mut requests = vec![request];
        while let Some(waiting) = requests
            .last()
            .and_then(|last| self.open.get_mut(&last.id))
            .and_then(|waiting| waiting.pop())
        {
            requests.push(waiting);
        }
        if let Some(last) = requests.last() {
            self.tails.insert(last.id, unit);
        }
        self.ready.push_back(Unit { requests });
    }

    /// The next group: ready units, oldest first, up to [`MAX_ROWS`] (at least one).
    fn next_group(&mut self) -> Vec<Unit> {
        let mut rows = 0;
        let mut group = Vec::new();
        while let Some(unit) = self.ready.front() {
            let size: usize = unit.requests.iter().map(|r| r.batch.ops.len()).sum();
            if rows > 0 && rows + size > MAX_ROWS {
                break;
            }
            rows += size;
            self.first_unit += 1;
            if let Some(unit) = self.ready.pop_front() {
                if let Some(last) = unit.requests.last() {
                    self.tails.remove(&last.id);
                }
                group.push(unit);
            }
        }
        group
    }

    /// A batch's commit ended: what waited for it is ready (or abandoned), then its owner
    /// is answered.
    fn finish(&mut self, done: Done, outcome: CommitOutcome) {
        let waiting = self.open.remove(&done.id).unwrap_or_default();
        if outcome == CommitOutcome::Committed {
            for request in waiting {
                self.start_unit(request);
            }
        } else {
            self.failed.insert(done.document, done.id);
            for request in waiting {
                self.abandon(request);
            }
        }
        let _ = done.reply.send(outcome);
    }

    /// Answers a batch (and everything waiting for it) as not written: the batch it
    /// follows did not commit, so writing it would leave a hole in the log.
    fn abandon(&mut self, request: CommitRequest) {
        let mut stack = vec![request];
        while let Some(request) = stack.pop() {
            stack.extend(self.open.remove(&request.id).unwrap_or_default());
            self.failed.insert(request.batch.document, request.id);
            let _ = request
                .reply
                .send(CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                    "an earlier batch of the document was not committed".to_owned(),
                )));
        }
    }
}

/// A batch whose commit ended, as the group task hands it back.
struct Done {
    id: u64,
    document: DocumentId,
    reply: oneshot::Sender<CommitOutcome>,
}

/// Forms groups and commits each on a task of its own, at most `workers` at once. A
/// group is formed only when a slot is free, so while every slot is busy the requests
/// keep queueing and the next group takes all of them. Outcomes come back here, so the
/// chains are updated before any owner is answered.
async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<CommitRequest>,
    workers: usize,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Vec<(Done, CommitOutcome)>>();
    let mut chains = Chains::default();
    let mut busy = 0;
    let mut closed = false;
    loop {
        while busy < workers && !chains.ready.is_empty() {
            while let Ok(next) = rx.try_recv() {
                chains.admit(next);
            }
            let group = chains.next_group();
            busy += 1;
            let (store, metrics, done_tx) = (store.clone(), metrics.clone(), done_tx.clone());
            tokio::spawn(async move {
                let _ = done_tx.send(commit_group(&store, &metrics, group).await);
            });
        }
        if closed && busy == 0 && chains.ready.is_empty() {
            return;
        }
        tokio::select! {
            Some(done) = done_rx.recv() => {
                busy -= 1;
                for (done, outcome) in done {
                    chains.finish(done, outcome);
                }
            }
            next = rx.recv(), if !closed => match next {
                Some(next) => chains.admit(next),
                None => closed = true,
            },
        }
    }
}

/// Commits a group; on a failure that blames its rows, commits each half again (see the
/// module comment), so the unit at fault is found in O(log n) transactions. Returns
/// each batch's outcome; the caller answers the owners.
async fn commit_group(
    store: &Store,
    metrics: &Metrics,
    units: Vec<Unit>,
) -> Vec<(Done, CommitOutcome)> {
    // The batches in one flat list (what the store takes), and per unit the answers due.
    let mut batches = Vec::new();
    let mut dones: Vec<Vec<Done>> = Vec::with_capacity(units.len());
    for unit in units {
        let mut unit_dones = Vec::with_capacity(unit.requests.len());
        for r in unit.requests {
            unit_dones.push(Done {
                id: r.id,
                document: r.batch.document,
                reply: r.reply,
            });
            batches.push(r.batch);
        }
        dones.push(unit_dones);
    }
    let mut answered = Vec::with_capacity(batches.len());
    // Each entry: batches, their answers by unit, and whether they are the rest of a
    // unit whose head was just tried alone (then only tried if that head committed).
    let mut groups = vec![(batches, dones, false)];
    let mut head_committed = true;
    while let Some((mut batches, mut dones, rest_of_unit)) = groups.pop() {
        if rest_of_unit && !head_committed {
            let outcome = CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                "an earlier batch of the document was not committed".to_owned(),
            ));
            answered.extend(dones.into_iter().flatten().map(|d| (d, outcome.clone())));
            continue;
        }
        let started = Instant::now();
        metrics.commit_groups.fetch_add(1, Ordering::Relaxed);
        let result = match (batches.as_slice(), dones.len()) {
            ([one], _) => store.append_batch(one).await,
            // One document's batches alone: a taken revision must still read as a
            // conflict (a lost race), not as rows the store refused.
            (chain, 1) => store.append_chain(chain).await,
            (many, _) => store.append_many(many).await,
        };
        let outcome = match result {
            Ok(()) => {
                tracing::trace!(units = dones.len(), took = ?started.elapsed(), "group commit");
                CommitOutcome::Committed
            }
            Err(e) => outcome_of(&e),
        };
        let blames_rows = matches!(
            outcome,
            CommitOutcome::FailedBeforeCommit(Failure::Conflict | Failure::Rejected(_))
        );
        if blames_rows && dones.len() > 1 {
            tracing::debug!(
                units = dones.len(),
                "group commit refused; committing each half"
            );
            let half = dones.len() / 2;
            let second = dones.split_off(half);
            let at: usize = dones.iter().map(Vec::len).sum();
            groups.push((batches.split_off(at), second, false));
            groups.push((batches, dones, false));
            continue;
        }
        if matches!(
            outcome,
            CommitOutcome::FailedBeforeCommit(Failure::Rejected(_))
        ) && batches.len() > 1
        {
            // One unit whose rows were refused: its head alone, then (only if that
            // committed) the rest, so the refusal reaches the batch at fault and not the
            // batches before it (the owner refuses the operation a refusal names when it
            // stands alone). A unit holds at most the owner's pipeline of batches.
            let mut head = dones.pop().unwrap_or_default();
            let rest = head.split_off(1);
            let rest_batches = batches.split_off(1);
            groups.push((rest_batches, vec![rest], true));
            groups.push((batches, vec![head], false));
            continue;
        }
        head_committed = outcome == CommitOutcome::Committed;
        answered.extend(dones.into_iter().flatten().map(|d| (d, outcome.clone())));
    }
    answered
}
