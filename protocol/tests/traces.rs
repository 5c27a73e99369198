//! Replays of real editing traces: the sequential ones as operations on a rope, and the
//! concurrent one through a server-style sequencer with one client per agent.

mod common;

use std::collections::VecDeque;

use common::traces::{load, Patch, Trace, Txn};
use pairprog_protocol::{Operation, Sequencer};
use ropey::Rope;

/// One trace patch (`Array.splice` semantics) as an operation on a document of `len`.
fn patch_op(len: usize, Patch(pos, del, ins): &Patch) -> Operation {
    Operation::splice(len, *pos, *del, ins).expect("patch fits the document")
}

/// The patches of one txn, applied in sequence, as a single operation on `doc`.
fn txn_op(doc: &Rope, txn: &Txn) -> Operation {
    let mut scratch = doc.clone();
    let mut op = Operation::identity(doc.len_chars());
    for patch in &txn.patches {
        let step = patch_op(scratch.len_chars(), patch);
        step.apply(&mut scratch).expect("patch fits the document");
        op = op.compose(&step).expect("steps chain");
    }
    op
}

fn replay_sequential(trace: &Trace) -> String {
    let mut rope = Rope::new();
    for txn in &trace.txns {
        for patch in &txn.patches {
            patch_op(rope.len_chars(), patch)
                .apply(&mut rope)
                .expect("patch fits the document");
        }
    }
    rope.to_string()
}

#[test]
fn automerge_paper_replays_to_its_end_content() {
    let trace = load("automerge-paper.json.gz");
    assert_eq!(replay_sequential(&trace), trace.end_content);
}

#[test]
fn rustcode_replays_to_its_end_content() {
    let trace = load("rustcode.json.gz");
    assert_eq!(replay_sequential(&trace), trace.end_content);
}

#[test]
fn rustcode_replays_with_multi_patch_txns_composed() {
    // Multi-cursor edits arrive as one txn of many patches: composing them into one
    // operation per txn must give the same text.
    let trace = load("rustcode.json.gz");
    let mut rope = Rope::new();
    for txn in &trace.txns {
        txn_op(&rope, txn).apply(&mut rope).expect("txn fits");
    }
    assert_eq!(rope.to_string(), trace.end_content);
}

/// A message from the server to one agent's client.
struct Remote {
    op: Operation,
    /// The trace txn it carries, to decide when the agent has "seen" it.
    txn: usize,
    /// How many of this agent's own operations the server had sequenced when it sent this.
    own_seen: usize,
}

/// One agent's editor: its text, its operations the server had not yet reflected in the
/// messages still queued for it, and its inbox.
struct Agent {
    doc: Rope,
    /// Own operations, `own[k]` being operation number `own_start + k`.
    own: VecDeque<Operation>,
    own_start: usize,
    sent: usize,
    received: usize,
    inbox: VecDeque<Remote>,
}

/// The server's view of one agent: sequenced operations not yet seen by that agent,
/// expressed against the agent's own context (the two-party Jupiter protocol).
struct Connection {
    unseen: VecDeque<Operation>,
    unseen_start: usize,
    received: usize,
}

struct Server {
    seq: Sequencer,
    connections: Vec<Connection>,
    /// Operations that arrived with unseen concurrent operations to transform against.
    concurrent: usize,
}

impl Server {
    /// Sequences `op`, made by `agent` after it had received `seen` broadcasts, and
    /// broadcasts the result. The operation is transformed against everything committed
    /// since its base that the agent had not seen.
    fn receive(
        &mut self,
        agents: &mut [Agent],
        agent: usize,
        mut op: Operation,
        seen: usize,
        txn: usize,
    ) {
        let conn = &mut self.connections[agent];
        while conn.unseen_start < seen {
            conn.unseen.pop_front();
            conn.unseen_start += 1;
        }
        if !conn.unseen.is_empty() {
            self.concurrent += 1;
        }
        for committed in conn.unseen.iter_mut() {
            let (mine, theirs) = Operation::transform(&op, committed).expect("same base");
            op = mine;
            *committed = theirs;
        }
        conn.received += 1;
        let rebased = self.seq.rebase(&op, self.seq.revision()).expect("op fits");
        self.seq.commit(rebased.clone()).expect("op applies");
        for (other, peer) in agents.iter_mut().enumerate() {
            if other == agent {
                continue;
            }
            let conn = &mut self.connections[other];
            conn.unseen.push_back(rebased.clone());
            peer.inbox.push_back(Remote {
                op: rebased.clone(),
                txn,
                own_seen: conn.received,
            });
        }
    }
}

impl Agent {
    fn deliver_one(&mut self) {
        let Remote {
            mut op, own_seen, ..
        } = self.inbox.pop_front().expect("message queued");
        while self.own_start < own_seen {
            self.own.pop_front();
            self.own_start += 1;
        }
        for mine in self.own.iter_mut() {
            let (m, r) = Operation::transform(mine, &op).expect("same base");
            *mine = m;
            op = r;
        }
        op.apply(&mut self.doc).expect("remote op fits");
        self.received += 1;
    }
}

#[test]
fn friendsforever_converges_through_a_sequencer() {
    let trace = load("friendsforever.json.gz");
    let agents_n = trace.num_agents.max(1);
    // known[i][a]: the highest txn of agent `a` contained in the version after txn i.
    let mut known: Vec<Vec<Option<usize>>> = Vec::with_capacity(trace.txns.len());
    for (i, txn) in trace.txns.iter().enumerate() {
        let mut clock = vec![None; agents_n];
        for &p in &txn.parents {
            for (a, k) in known[p].iter().enumerate() {
                clock[a] = clock[a].max(*k);
            }
        }
        clock[txn.agent] = Some(i);
        known.push(clock);
    }

    let mut agents: Vec<Agent> = (0..agents_n)
        .map(|_| Agent {
            doc: Rope::new(),
            own: VecDeque::new(),
            own_start: 0,
            sent: 0,
            received: 0,
            inbox: VecDeque::new(),
        })
        .collect();
    let mut server = Server {
        seq: Sequencer::new(Rope::new(), 0, usize::MAX),
        connections: (0..agents_n)
            .map(|_| Connection {
                unseen: VecDeque::new(),
                unseen_start: 0,
                received: 0,
            })
            .collect(),
        concurrent: 0,
    };

    for (i, txn) in trace.txns.iter().enumerate() {
        let a = txn.agent;
        // The agent sees exactly the other agents' txns its parents contain.
        let parents_clock = {
            let mut clock = vec![None; agents_n];
            for &p in &txn.parents {
                for (b, k) in known[p].iter().enumerate() {
                    clock[b] = clock[b].max(*k);
                }
            }
            clock
        };
        let agent = &mut agents[a];
        while let Some(next) = agent.inbox.front() {
            let origin = trace.txns[next.txn].agent;
            if parents_clock[origin].is_some_and(|k| next.txn <= k) {
                agent.deliver_one();
            } else {
                break;
            }
        }
        let op = txn_op(&agent.doc, txn);
        op.apply(&mut agent.doc).expect("txn fits the agent's view");
        agent.own.push_back(op.clone());
        agent.sent += 1;
        let seen = agent.received;
        server.receive(&mut agents, a, op, seen, i);
    }
    for agent in &mut agents {
        while !agent.inbox.is_empty() {
            agent.deliver_one();
        }
    }
    // The replay must really be concurrent, or it proves nothing about transform.
    assert!(
        server.concurrent > 1000,
        "only {} concurrent operations",
        server.concurrent
    );
    assert_eq!(server.seq.text().to_string(), trace.end_content);
    for (a, agent) in agents.iter().enumerate() {
        assert_eq!(agent.doc.to_string(), trace.end_content, "agent {a}");
        assert_eq!(agent.sent, server.connections[a].received);
    }
}
