//! The session: one task that owns every open document's bridge, the room connection and
//! the presence state. Everything reaches it as an [`Event`] on one bounded channel, in
//! the order it happened: LSP messages (queued by the handlers in the order the editor
//! sent them), relay messages (from the link task), and the answers to our own requests
//! to the editor (from small tasks that wait for them with a timeout). So no state is
//! shared, no lock is taken, and the session never waits on the editor.

mod documents;
mod notifier;
mod presence;
mod room;

use std::collections::HashMap;
use std::path::PathBuf;

use pairprog_autocomplete::RoomIndex;
use pairprog_protocol::messages::Selection;
use pairprog_protocol::{Position, PositionEncoding, Range};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::ls_types::{CompletionItem, InlayHint, MessageType, Uri};
use tower_lsp_server::Client;

use crate::bridge::{Document, EditReply};
use crate::edit_convert::ContentChange;
use crate::relay_link::LinkEvent;
use crate::settings::Settings;

pub use room::RoomState;

/// What the client can do, read once from `initialize`.
#[derive(Clone, Debug, Default)]
pub struct ClientCaps {
    pub snippets: bool,
    pub inlay_refresh: bool,
    pub show_message_request: bool,
    pub show_document: bool,
    pub inline_completion: bool,
    /// `clientInfo.name`, for the log only.
    pub client_name: String,
    /// `capabilities.experimental.pairprog.exactVersionCheck`: a plugin (ours for
    /// Neovim) promises to apply an edit only at exactly the version it is stamped with.
    pub exact_version_check: bool,
    /// `capabilities.workspace.workspaceEdit.documentChanges`: the client takes
    /// versioned document edits.
    pub document_changes: bool,
}

impl ClientCaps {
    /// Whether edits to this client carry a version. A client that advertises
    /// versioned document edits checks them (VS Code, Helix and Eglot refuse a stale
    /// one), and so does our plugin. Stock Neovim advertises neither: it skips a stale
    /// edit yet answers `applied: true` (and checks nothing at version 0), so its
    /// answers would not say whether an edit was applied; it gets every edit unversioned
    /// and applies each (`lsp-clients.md` §1). Decided from capabilities only: a client
    /// that sends no `clientInfo` converges the same way.
    pub fn versioned_edits(&self) -> bool {
        self.exact_version_check || self.document_changes
    }
}

#[derive(Debug)]
pub struct Init {
    pub settings: Settings,
    pub root: Option<PathBuf>,
    pub encoding: PositionEncoding,
    pub caps: ClientCaps,
}

pub type Reply<T> = oneshot::Sender<T>;

#[derive(Debug)]
pub enum Event {
    Initialize(Box<Init>),
    Initialized,
    Shutdown,
    Opened {
        uri: Uri,
        language: String,
        version: i32,
        text: String,
    },
    Changed {
        uri: Uri,
        version: i32,
        changes: Vec<ContentChange>,
    },
    Closed {
        uri: Uri,
    },
    Command {
        name: String,
        arguments: Vec<Value>,
        reply: Reply<Result<Value, String>>,
    },
    Completion {
        uri: Uri,
        position: Position,
        reply: Reply<Vec<CompletionItem>>,
    },
    InlineCompletion {
        uri: Uri,
        position: Position,
        reply: Reply<Value>,
    },
    InlayHints {
        uri: Uri,
        range: Range,
        reply: Reply<Vec<InlayHint>>,
    },
    /// `$/pairprog/cursor` from a plugin: anchor and head of each selection.
    Cursor {
        uri: Uri,
        selections: Vec<(Position, Position)>,
    },
    /// The editor answered (or did not answer) one of our `workspace/applyEdit`s.
    EditReply {
        uri: Uri,
        id: u64,
        reply: EditReply,
    },
    /// An edit answered long ago still has no change behind it.
    EchoOverdue {
        uri: Uri,
        id: u64,
    },
    /// `POST /api/rooms` finished.
    RoomCreated {
        result: Result<CreatedRoom, String>,
        reply: Reply<Result<Value, String>>,
    },
    /// A link event stamped with the join it belongs to. Every join starts a new link
    /// whose connection generations start over, so after leaving and rejoining a room
    /// an event of the old link could pass for one of the new: the epoch tells them
    /// apart.
    RoomLink {
        epoch: u64,
        event: LinkEvent,
    },
}

/// One open document.
pub struct OpenDocument {
    pub doc: Document,
    /// Its identity in a room: the path relative to the workspace root, `None` for a
    /// document outside the workspace (never shared).
    pub path: Option<String>,
    /// Our latest cursor while our edits await the relay, in the relay's text at the
    /// revision we hold; sent once they are all acknowledged (see `own_cursor`).
    pub cursor_waiting: Option<Vec<Selection>>,
}

pub struct Session {
    client: Client,
    notifier: notifier::Notifier,
    /// For the small tasks that report back.
    events: mpsc::Sender<Event>,
    settings: Settings,
    root: Option<PathBuf>,
    encoding: PositionEncoding,
    caps: ClientCaps,
    /// The secret the relay derives our public client id from
    /// (`pairprog_protocol::identity`), stable for the life of a join, so the relay
    /// recognises our resends and nobody else can speak as us.
    client_key: String,
    docs: HashMap<Uri, OpenDocument>,
    /// The completion index: the editor's text of every open document.
    index: RoomIndex,
    room: Option<RoomState>,
    /// A plugin sends cursors itself; without one, cursors follow the user's edits.
    plugin_cursors: bool,
    /// Counts joins, to stamp each link's events (see [`Event::RoomLink`]).
    link_epoch: u64,
}

/// A client key: 32 random bytes (256 bits) in hex.
fn random_key() -> String {
    let mut bytes = [0u8; 32];
    // Without a random source (not seen on any system we support) the key at least
    // differs between this process's runs, though another member could guess it.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Session {
    /// Starts the session task; it runs until every event sender is gone.
    pub fn spawn(client: Client, events: mpsc::Sender<Event>, mut rx: mpsc::Receiver<Event>) {
        tokio::spawn(async move {
            let mut session = Session {
                notifier: notifier::Notifier::spawn(client.clone()),
                client,
                events,
                settings: Settings::from_options(None, |k| std::env::var(k).ok()).unwrap_or_else(
                    |_| Settings {
                        relay: crate::settings::DEFAULT_RELAY.to_owned(),
                        name: "anonymous".to_owned(),
                        room: None,
                        ca_file: None,
                        room_secrets: false,
                    },
                ),
                root: None,
                encoding: PositionEncoding::Utf16,
                caps: ClientCaps::default(),
                client_key: random_key(),
                docs: HashMap::new(),
                index: RoomIndex::new(),
                room: None,
                plugin_cursors: false,
                link_epoch: 0,
            };
            while let Some(event) = rx.recv().await {
                session.handle(event).await;
            }
        });
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Initialize(init) => {
                let Init {
                    settings,
                    root,
                    encoding,
                    caps,
                } = *init;
                self.settings = settings;
                self.root = root;
                self.encoding = encoding;
                // The client's name is for the log only: nothing may depend on it, since
                // a client need not send one.
                tracing::info!(
                    client = caps.client_name,
                    versioned_edits = caps.versioned_edits(),
                    "initialized"
                );
                self.caps = caps;
            }
            Event::Initialized => {
                if let Some(room) = self.settings.room.clone() {
                    match crate::commands::RoomLink::parse(&room) {
                        Ok(link) => self.join(link, None).await,
                        Err(e) => self.show(
                            MessageType::ERROR,
                            format!("pairprog: the room setting: {e}"),
                        ),
                    }
                }
            }
            Event::Shutdown => self.leave().await,
            Event::Opened {
                uri,
                language,
                version,
                text,
            } => self.did_open(uri, language, version, text).await,
            Event::Changed {
                uri,
                version,
                changes,
            } => self.did_change(uri, version, changes).await,
            Event::Closed { uri } => self.did_close(uri).await,
            Event::Command {
                name,
                arguments,
                reply,
            } => self.command(&name, &arguments, reply).await,
            Event::Completion {
                uri,
                position,
                reply,
            } => {
                let _ = reply.send(self.completion(&uri, position));
            }
            Event::InlineCompletion {
                uri,
                position,
                reply,
            } => {
                let _ = reply.send(self.inline_completion(&uri, position));
            }
            Event::InlayHints { uri, range, reply } => {
                let _ = reply.send(self.inlay_hints(&uri, range));
            }
            Event::Cursor { uri, selections } => {
                self.plugin_cursors = true;
                self.local_cursor(&uri, &selections).await;
            }
            Event::EditReply { uri, id, reply } => self.edit_reply(uri, id, reply).await,
            Event::EchoOverdue { uri, id } => self.echo_overdue(uri, id).await,
            Event::RoomCreated { result, reply } => match result {
                Ok(room) => {
                    let message = match (&room.join_secret, &room.read_only_secret) {
                        (Some(join), Some(read_only)) => format!(
                            "pairprog: room {id} created. Others join it with {id}#{join} \
                             (read-only: {id}#{read_only}). Keep these secret: the relay \
                             cannot show them again.",
                            id = room.id
                        ),
                        _ => format!(
                            "pairprog: room {} created. Others join it with this id.",
                            room.id
                        ),
                    };
                    self.show(MessageType::INFO, message);
                    let link = crate::commands::RoomLink {
                        id: room.id,
                        secret: room.join_secret,
                    };
                    self.join_created(link, room.read_only_secret, reply).await;
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Event::RoomLink { epoch, event } => {
                if self.room.as_ref().is_some_and(|r| r.epoch == epoch) {
                    self.link_event(event).await;
                }
            }
        }
    }

    /// Shows a message without waiting for the editor.
    /// Always one line: Neovim raises a hit-enter prompt for a multi-line message, and
    /// while it is up, no edit of a collaborator's is applied.
    fn show(&self, typ: MessageType, message: String) {
        let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
        self.notifier.message(typ, line);
    }

    async fn command(
        &mut self,
        name: &str,
        arguments: &[Value],
        reply: Reply<Result<Value, String>>,
    ) {
        use crate::commands::Command;
        match Command::parse(name, arguments) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(Command::CreateRoom) => {
                let url = format!("{}/api/rooms", self.settings.http_base());
                let ca_file = self.settings.ca_file.clone();
                let secrets = self.settings.room_secrets;
                let events = self.events.clone();
                tokio::spawn(async move {
                    let result = create_room(&url, ca_file.as_deref(), secrets).await;
                    let _ = events.send(Event::RoomCreated { result, reply }).await;
                });
            }
            Ok(Command::JoinRoom(room)) => self.join(room, Some(reply)).await,
            Ok(Command::LeaveRoom) => {
                self.leave().await;
                let _ = reply.send(Ok(Value::Null));
            }
            Ok(Command::Status) => {
                let status = serde_json::to_value(self.status()).map_err(|e| e.to_string());
                let _ = reply.send(status);
            }
        }
    }
}

/// A room `POST /api/rooms` made, with its secrets when the relay gave some.
#[derive(Debug)]
pub struct CreatedRoom {
    pub id: String,
    pub join_secret: Option<String>,
    pub read_only_secret: Option<String>,
}

/// `POST /api/rooms` with a timeout (asking for secrets with `roomSecrets`); the new
/// room, with its secrets when the relay gave some.
async fn create_room(
    url: &str,
    ca_file: Option<&std::path::Path>,
    secrets: bool,
) -> Result<CreatedRoom, String> {
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    // The same trust as the WebSocket link's, so both reach a relay or neither does.
    if url.starts_with("https://") {
        let tls = crate::tls::client_config(ca_file).map_err(|e| e.to_string())?;
        builder = builder.use_preconfigured_tls((*tls).clone());
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    // Without `roomSecrets` the request is the one relays before secrets know; a relay
    // that requires secrets answers it with them all the same.
    let body = if secrets {
        serde_json::json!({"secrets": true})
    } else {
        serde_json::json!({})
    };
    let response = post_room(&client, url, body).await?;
    if !response.status().is_success() {
        return Err(format!(
            "the relay refused to create a room: {}",
            response.status()
        ));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("unreadable answer from the relay: {e}"))?;
    let field = |name: &str| body[name].as_str().map(str::to_owned);
    Ok(CreatedRoom {
        id: field("roomId").ok_or_else(|| "the relay's answer has no roomId".to_owned())?,
        join_secret: field("joinSecret"),
        read_only_secret: field("readOnlySecret"),
    })
}

async fn post_room(
    client: &reqwest::Client,
    url: &str,
    body: Value,
) -> Result<reqwest::Response, String> {
    client.post(url).json(&body).send().await.map_err(|e| {
        match crate::tls::certificate_failure(&e) {
            Some(tls) => format!("could not reach the relay at {url}: {tls}"),
            None => {
                let chain = crate::tls::error_chain(&e);
                // reqwest does not always expose the rustls error as a source; its
                // message still says "certificate".
                let hint = if chain.contains("certificate") {
                    "; if the relay's certificate comes from a private CA or is \
                     self-signed, point the caFile setting (or PAIRPROG_CA_FILE) at that CA"
                } else {
                    ""
                };
                format!("could not reach the relay at {url}: {chain}{hint}")
            }
        }
    })
}
