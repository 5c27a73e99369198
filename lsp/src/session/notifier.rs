//! Notifications to the editor, sent in order by tasks of their own so the session never
//! waits on the editor's output. Presence is coalesced (only the latest state matters);
//! messages are queued, up to a bound, and dropped beyond it.

use pairprog_protocol::editor::PresenceParams;
use tokio::sync::{mpsc, watch};
use tower_lsp_server::ls_types::MessageType;
use tower_lsp_server::Client;

use super::presence::PresenceNotification;

/// Messages for the user that may wait to be written before newer ones are dropped.
const MESSAGE_CAPACITY: usize = 64;

pub struct Notifier {
    presence: watch::Sender<Option<PresenceParams>>,
    messages: mpsc::Sender<(MessageType, String)>,
}

impl Notifier {
    pub fn spawn(client: Client) -> Notifier {
        let (presence, mut presence_rx) = watch::channel(None::<PresenceParams>);
        let presence_client = client.clone();
        tokio::spawn(async move {
            while presence_rx.changed().await.is_ok() {
                let latest = presence_rx.borrow_and_update().clone();
                if let Some(params) = latest {
                    presence_client
                        .send_notification::<PresenceNotification>(params)
                        .await;
                }
            }
        });
        let (messages, mut messages_rx) = mpsc::channel::<(MessageType, String)>(MESSAGE_CAPACITY);
        tokio::spawn(async move {
            while let Some((typ, message)) = messages_rx.recv().await {
                client.show_message(typ, message).await;
            }
        });
        Notifier { presence, messages }
    }

    pub fn presence(&self, params: PresenceParams) {
        self.presence.send_replace(Some(params));
    }

    pub fn message(&self, typ: MessageType, message: String) {
        if self.messages.try_send((typ, message)).is_err() {
            tracing::warn!("too many messages for the editor; one dropped");
        }
    }
}
