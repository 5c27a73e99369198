//! Who a client is to the relay: a public id derived from a secret key only that client
//! holds (issue 15, defect 5), and a colour that follows the id across reconnects
//! (issue 14, item 8).

mod common;

use std::collections::HashSet;

use common::client::{new_client_key, refusal_with_messages};
use common::{raw, TestClient, TestDb, TestRelay};
use futures_util::SinkExt;
use pairprog_protocol::identity;
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage};
use pairprog_protocol::Operation;
use tokio_tungstenite::tungstenite::Message;

const PATH: &str = "notes.txt";

/// Appends `text` to the client's copy of the document.
async fn append(client: &mut TestClient, text: &str) {
    let len = client.text(PATH).chars().count();
    client
        .edit(PATH, Operation::new().retain(len).insert(text))
        .await;
}

/// Waits for the acknowledgement of `seq`, keeping the client's OT state in step.
async fn acked_revision(client: &mut TestClient, seq: u64) -> u64 {
    loop {
        let m = client.next().await;
        if let ServerMessage::Ack {
            seq: got, revision, ..
        } = &m
        {
            if *got == seq {
                client.handle(&m).await;
                return *revision;
            }
        }
        if let ServerMessage::Error { .. } = m {
            panic!("{}: {m:?}", client.name);
        }
        client.handle(&m).await;
    }
}

/// `hello` used to name the `clientId`, and the relay deduplicated operations by
/// `(clientId, seq)`. A member that read another's id in the history could commit
/// `(their id, their next seq)` first; the victim's real operation was then
/// acknowledged as a resend of it and dropped. Now a `hello` naming an id is refused,
/// and the id is derived from a secret key: the attacker's best try, the victim's
/// public id used as its key, gets an id of its own, and both operations are stored.
#[tokio::test]
async fn regression_spoofed_client_id_drops_the_victims_op() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let room = relay.create_room().await;
    let url = relay.ws_url(&room);
    let mut victim = TestClient::join(&url, "victim", None).await;
    assert_eq!(victim.client_id, identity::client_id(victim.client_key()));
    victim.open(PATH, Some("")).await;
    append(&mut victim, "v1 ").await;
    assert_eq!(acked_revision(&mut victim, 1).await, 1);

    // Any member reads the victim's public id in the history.
    let mut attacker = TestClient::join(&url, "attacker", None).await;
    attacker
        .send(&ClientMessage::Open {
            path: PATH.into(),
            language: None,
            text: None,
            revision: Some(0),
        })
        .await;
    let opened = attacker
        .wait_for(|m| matches!(m, ServerMessage::Opened { .. }))
        .await;
    let ServerMessage::Opened {
        operations: Some(history),
        ..
    } = opened
    else {
        panic!("a reopen within history gets the operations: {opened:?}")
    };
    let victims_id = history[0].client_id.clone();
    assert_eq!(victims_id, victim.client_id);
    assert_ne!(victims_id, victim.client_key(), "the key is never shown");

    // Naming the victim's id in a hello is refused, with a reason.
    let mut ws = raw(&relay, &room).await;
    let hello = format!(r#"{{"type":"hello","protocol":1,"name":"a","clientId":"{victims_id}"}}"#);
    ws.send(Message::text(hello)).await.expect("send");
    let (errors, close) = refusal_with_messages(&mut ws).await;
    assert_eq!(close, Some(1008));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, ErrorCode::BadMessage);
    assert!(errors[0].1.contains("clientKey"), "{}", errors[0].1);

    // The victim's public id as a key gives the attacker an id of its own.
    let mut spoofer = TestClient::join(&url, "attacker", Some(&victims_id)).await;
    assert_ne!(spoofer.client_id, victims_id);
    let (text, revision) = spoofer.open(PATH, None).await;
    spoofer
        .send(&ClientMessage::Op {
            path: PATH.into(),
            base: revision,
            seq: 2,
            op: Operation::new()
                .retain(text.chars().count())
                .insert("attack "),
        })
        .await;
    let attack_revision = match spoofer
        .wait_for(|m| matches!(m, ServerMessage::Ack { .. } | ServerMessage::Error { .. }))
        .await
    {
        ServerMessage::Ack { revision, seq, .. } => {
            assert_eq!(seq, 2);
            revision
        }
        other => panic!("the attacker's operation is an ordinary one: {other:?}"),
    };

    // The victim's own seq 2 is a new operation, stored at a revision of its own.
    append(&mut victim, "v2 ").await;
    let victim_revision = acked_revision(&mut victim, 2).await;
    assert_ne!(victim_revision, attack_revision);
    victim.settle(PATH, 3).await;
    let (stored, stored_revision) = relay.document(&room, PATH).await;
    assert_eq!(stored_revision, 3);
    assert!(
        stored.contains("v1 ") && stored.contains("v2 ") && stored.contains("attack "),
        "{stored:?}"
    );
    assert_eq!(victim.text(PATH), stored);
    drop(attacker);
    relay.stop().await;
}

/// A client that says hello without a key gets one the relay picks, for that
/// connection only; a key of the wrong form is refused.
#[tokio::test]
async fn keys_are_optional_and_checked() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let room = relay.create_room().await;
    let mut ws = raw(&relay, &room).await;
    ws.send(Message::text(r#"{"type":"hello","protocol":1,"name":"a"}"#))
        .await
        .expect("send");
    let welcome = common::client::next_message(&mut ws).await;
    assert!(
        matches!(&welcome, ServerMessage::Welcome { client_id, .. } if client_id.len() == 32),
        "{welcome:?}"
    );
    for key in ["short", &"k".repeat(129), &format!("{}!", "k".repeat(40))] {
        let mut ws = raw(&relay, &room).await;
        let hello = format!(r#"{{"type":"hello","protocol":1,"name":"a","clientKey":"{key}"}}"#);
        ws.send(Message::text(hello)).await.expect("send");
        let (errors, close) = refusal_with_messages(&mut ws).await;
        assert_eq!(close, Some(1008), "{key}");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, ErrorCode::BadMessage);
        assert!(errors[0].1.contains("clientKey"), "{}", errors[0].1);
    }
    relay.stop().await;
}

/// Colours used to be handed out in join order, so a participant who reconnected came
/// back in another colour. Now the colour follows the client id: the same after a
/// reconnect (and while the relay still holds the old connection), distinct from the
/// others' while the palette lasts.
#[tokio::test]
async fn a_participant_keeps_its_colour_across_reconnects() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let room = relay.create_room().await;
    let url = relay.ws_url(&room);
    let key = new_client_key();
    let ada = TestClient::join(&url, "ada", Some(&key)).await;
    let mut others = Vec::new();
    for name in ["bob", "cy", "dee", "eve"] {
        others.push(TestClient::join(&url, name, None).await);
    }
    let colours: HashSet<&str> = std::iter::once(ada.color.as_str())
        .chain(others.iter().map(|c| c.color.as_str()))
        .collect();
    assert_eq!(colours.len(), 5, "distinct colours while the palette lasts");

    // A reconnect before the relay noticed the old connection is gone.
    let again = TestClient::join(&url, "ada", Some(&key)).await;
    assert_eq!(again.color, ada.color);
    assert_eq!(again.client_id, ada.client_id);

    // And one after both connections left, once the others heard of it.
    let (colour, participants) = (
        ada.color.clone(),
        [ada.participant_id.clone(), again.participant_id.clone()],
    );
    ada.close().await;
    again.close().await;
    for gone in participants {
        others[0]
            .wait_for(|m| matches!(m, ServerMessage::Left { participant_id, .. } if *participant_id == gone))
            .await;
    }
    let back = TestClient::join(&url, "ada", Some(&key)).await;
    assert_eq!(back.color, colour);
    relay.stop().await;
}
