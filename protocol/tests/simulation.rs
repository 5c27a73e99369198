//! Randomized multi-client runs of the two OT halves together: `OtClient`s typing into
//! their own copies while a `Sequencer` orders their operations, with messages delayed
//! and interleaved at random. Each run uses a fixed seed printed on failure; replay one
//! with `PAIRPROG_SEED=n cargo test -p pairprog-protocol --test simulation`.

mod common;

use std::collections::VecDeque;

use common::rng::{seeds, Rng};
use pairprog_protocol::{Operation, OtClient, Sequencer};
use ropey::Rope;

enum Down {
    Ack,
    Remote(Operation),
}

struct Client {
    ot: OtClient,
    doc: Rope,
    /// Messages on the wire toward the server: (operation, base revision).
    up: VecDeque<(Operation, u64)>,
    down: VecDeque<Down>,
}

const PIECES: &[&str] = &["a", "é", "中", "😀", "\r\n", "\n", "\r", "xy"];

fn random_edit(rng: &mut Rng, doc: &Rope, unique: Option<String>) -> Operation {
    let len = doc.len_chars();
    let pos = rng.below(len + 1);
    if let Some(token) = unique {
        return Operation::new()
            .retain(pos)
            .insert(&token)
            .retain(len - pos);
    }
    let del = if rng.chance(40) {
        rng.below(len - pos + 1).min(4)
    } else {
        0
    };
    let mut text = String::new();
    for _ in 0..rng.below(3) {
        let piece: &&str = rng.pick(PIECES);
        text.push_str(piece);
    }
    Operation::new()
        .retain(pos)
        .delete(del)
        .insert(&text)
        .retain(len - pos - del)
}

fn send(client: &mut Client, op: Option<Operation>) {
    if let Some(op) = op {
        client.up.push_back((op, client.ot.revision()));
    }
}

/// Runs one seed and returns the final text, or a description of the divergence.
fn run(seed: u64, unique_tokens: bool) -> Result<String, String> {
    let mut rng = Rng::new(seed);
    let n = 2 + rng.below(4);
    let mut server = Sequencer::new(Rope::from_str("start\r\n"), 0, 10_000);
    let mut clients: Vec<Client> = (0..n)
        .map(|_| Client {
            ot: OtClient::new(0),
            doc: server.text().clone(),
            up: VecDeque::new(),
            down: VecDeque::new(),
        })
        .collect();
    let mut tokens = Vec::new();
    for step in 0..400u32 {
        let c = rng.below(n);
        match rng.below(3) {
            0 => {
                // A token is one private-use char, so a concurrent insert can never land
                // inside it and hide it from the count below.
                let token = unique_tokens.then(|| {
                    char::from_u32(0xE000 + step)
                        .map(String::from)
                        .unwrap_or_default()
                });
                if let Some(t) = &token {
                    tokens.push(t.clone());
                }
                let client = &mut clients[c];
                let op = random_edit(&mut rng, &client.doc, token);
                op.apply(&mut client.doc).map_err(|e| e.to_string())?;
                let out = client.ot.apply_local(op).map_err(|e| e.to_string())?;
                send(client, out);
            }
            1 => {
                if let Some((op, base)) = clients[c].up.pop_front() {
                    let (sequenced, _) = server.submit(&op, base).map_err(|e| e.to_string())?;
                    for (i, other) in clients.iter_mut().enumerate() {
                        other.down.push_back(if i == c {
                            Down::Ack
                        } else {
                            Down::Remote(sequenced.clone())
                        });
                    }
                }
            }
            _ => deliver(&mut clients[c])?,
        }
    }
    // Quiescence: keep delivering until every queue is empty.
    loop {
        let mut moved = false;
        for c in 0..n {
            while let Some((op, base)) = clients[c].up.pop_front() {
                moved = true;
                let (sequenced, _) = server.submit(&op, base).map_err(|e| e.to_string())?;
                for (i, other) in clients.iter_mut().enumerate() {
                    other.down.push_back(if i == c {
                        Down::Ack
                    } else {
                        Down::Remote(sequenced.clone())
                    });
                }
            }
            while !clients[c].down.is_empty() {
                moved = true;
                deliver(&mut clients[c])?;
            }
        }
        if !moved {
            break;
        }
    }
    let text = server.text().to_string();
    for (i, client) in clients.iter().enumerate() {
        if client.doc != text.as_str() {
            return Err(format!(
                "client {i} diverged: {:?} vs server {text:?}",
                client.doc
            ));
        }
        if !client.ot.is_synchronized() {
            return Err(format!("client {i} still has an operation in flight"));
        }
    }
    for t in &tokens {
        if text.matches(t.as_str()).count() != 1 {
            return Err(format!(
                "token {t} appears {} times",
                text.matches(t.as_str()).count()
            ));
        }
    }
    Ok(text)
}

fn deliver(client: &mut Client) -> Result<(), String> {
    match client.down.pop_front() {
        None => Ok(()),
        Some(Down::Ack) => {
            let next = client.ot.server_ack().map_err(|e| e.to_string())?;
            send(client, next);
            Ok(())
        }
        Some(Down::Remote(op)) => {
            let local = client.ot.apply_remote(&op).map_err(|e| e.to_string())?;
            local.apply(&mut client.doc).map_err(|e| e.to_string())
        }
    }
}

#[test]
fn random_clients_converge() {
    for seed in seeds(300) {
        if let Err(e) = run(seed, false) {
            panic!("seed {seed}: {e}\nreplay: PAIRPROG_SEED={seed} cargo test -p pairprog-protocol --test simulation");
        }
    }
}

#[test]
fn every_unique_token_survives_exactly_once() {
    for seed in seeds(300) {
        if let Err(e) = run(seed, true) {
            panic!("seed {seed}: {e}\nreplay: PAIRPROG_SEED={seed} cargo test -p pairprog-protocol --test simulation");
        }
    }
}
