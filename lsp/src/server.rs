//! The LSP front: a `tower-lsp-server` service whose handlers only translate LSP types
//! and hand each message to the session task through one bounded channel.
//!
//! Order matters (a `didChange` applied out of order corrupts the editor text we
//! rebuild), and tower-lsp-server runs handlers concurrently unless told otherwise, so
//! the server runs with `concurrency_level(1)`: each handler finishes (its message is in
//! the session's queue) before the next message is read. No handler ever waits on the
//! editor; requests that need an answer wait only on the session, which never waits on
//! the editor either.

use std::time::Duration;

use pairprog_protocol::editor::{CursorParams, CURSOR_METHOD};
use pairprog_protocol::{Position, PositionEncoding, Range};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::commands::COMMANDS;
use crate::edit_convert::ContentChange;
use crate::session::{ClientCaps, Event, Init, Session};
use crate::settings::Settings;

/// Events the handlers may queue before they wait for the session.
const EVENT_CAPACITY: usize = 1_024;
/// How long a request waits for the session's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Backend {
    events: mpsc::Sender<Event>,
}

/// Serves LSP on stdin/stdout until the editor exits.
pub async fn serve_stdio() {
    let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
    let (service, socket) = LspService::build(|client: Client| {
        Session::spawn(client, events_tx.clone(), events_rx);
        Backend { events: events_tx }
    })
    .custom_method(CURSOR_METHOD, Backend::cursor)
    .custom_method("textDocument/inlineCompletion", Backend::inline_completion)
    .finish();
    Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
        .concurrency_level(1)
        .serve(service)
        .await;
}

fn lsp_position(p: ls_types::Position) -> Position {
    Position::new(p.line, p.character)
}

fn lsp_range(r: ls_types::Range) -> Range {
    Range::new(lsp_position(r.start), lsp_position(r.end))
}

fn internal(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: message.into().into(),
        data: None,
    }
}

impl Backend {
    async fn queue(&self, event: Event) {
        // A closed channel means the session ended (shutdown); nothing is left to do.
        let _ = self.events.send(event).await;
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Event) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.queue(make(tx)).await;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(internal("the pairprog session has ended")),
            Err(_) => Err(internal("the pairprog session did not answer in time")),
        }
    }

    async fn cursor(&self, params: CursorParams) {
        let Ok(uri) = params.uri.parse::<Uri>() else {
            tracing::warn!(uri = params.uri, "$/pairprog/cursor with an unreadable uri");
            return;
        };
        let selections = params
            .selections
            .iter()
            .map(|s| (s.anchor, s.head))
            .collect();
        self.queue(Event::Cursor { uri, selections }).await;
    }

    async fn inline_completion(&self, params: InlineCompletionParams) -> Result<Value> {
        let position = params.text_document_position;
        let items = self
            .ask(|reply| Event::InlineCompletion {
                uri: position.text_document.uri,
                position: lsp_position(position.position),
                reply,
            })
            .await?;
        Ok(items)
    }
}

fn client_caps(params: &InitializeParams) -> ClientCaps {
    let caps = &params.capabilities;
    let text = caps.text_document.as_ref();
    ClientCaps {
        snippets: text
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|i| i.snippet_support)
            .unwrap_or(false),
        inlay_refresh: caps
            .workspace
            .as_ref()
            .and_then(|w| w.inlay_hint.as_ref())
            .and_then(|i| i.refresh_support)
            .unwrap_or(false),
        show_message_request: caps
            .window
            .as_ref()
            .and_then(|w| w.show_message.as_ref())
            .is_some(),
        show_document: caps
            .window
            .as_ref()
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|d| d.support),
        inline_completion: text.and_then(|t| t.inline_completion.as_ref()).is_some(),
        client_name: params
            .client_info
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        exact_version_check: caps
            .experimental
            .as_ref()
            .and_then(|e| e.pointer("/pairprog/exactVersionCheck"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        document_changes: caps
            .workspace
            .as_ref()
            .and_then(|w| w.workspace_edit.as_ref())
            .and_then(|e| e.document_changes)
            .unwrap_or(false),
    }
}

fn workspace_root(params: &InitializeParams) -> Option<std::path::PathBuf> {
    #[allow(deprecated)] // rootUri is deprecated but still the only root some clients send.
    let uri = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| &f.uri)
        .or(params.root_uri.as_ref())?;
    uri.to_file_path().map(|p| p.into_owned())
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let settings = Settings::from_options(params.initialization_options.as_ref(), |k| {
            std::env::var(k).ok()
        })
        .map_err(|e| Error::invalid_params(e.to_string()))?;
        let offered = params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref())
            .map(|list| {
                list.iter()
                    .map(|k| k.as_str().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let encoding = PositionEncoding::negotiate(offered.iter().map(String::as_str));
        let caps = client_caps(&params);
        let inline = caps.inline_completion;
        self.queue(Event::Initialize(Box::new(Init {
            settings,
            root: workspace_root(&params),
            encoding,
            caps,
        })))
        .await;
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::from(encoding.lsp_name())),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), " ".into(), "(".into()]),
                    ..CompletionOptions::default()
                }),
                inlay_hint_provider: Some(OneOf::Left(true)),
                inline_completion_provider: inline.then_some(OneOf::Left(true)),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: COMMANDS.iter().map(|c| (*c).to_owned()).collect(),
                    ..ExecuteCommandOptions::default()
                }),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "pairprog-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.queue(Event::Initialized).await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.queue(Event::Shutdown).await;
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.queue(Event::Opened {
            uri: doc.uri,
            language: doc.language_id,
            version: doc.version,
            text: doc.text,
        })
        .await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let changes = params
            .content_changes
            .into_iter()
            .map(|c| ContentChange {
                range: c.range.map(lsp_range),
                text: c.text,
            })
            .collect();
        self.queue(Event::Changed {
            uri: params.text_document.uri,
            version: params.text_document.version,
            changes,
        })
        .await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.queue(Event::Closed {
            uri: params.text_document.uri,
        })
        .await;
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let answer = self
            .ask(|reply| Event::Command {
                name: params.command,
                arguments: params.arguments,
                reply,
            })
            .await?;
        answer.map(Some).map_err(|e| Error {
            code: ErrorCode::InvalidParams,
            message: e.into(),
            data: None,
        })
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let position = params.text_document_position;
        let items = self
            .ask(|reply| Event::Completion {
                uri: position.text_document.uri,
                position: lsp_position(position.position),
                reply,
            })
            .await?;
        Ok(Some(CompletionResponse::Array(items)))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let hints = self
            .ask(|reply| Event::InlayHints {
                uri: params.text_document.uri,
                range: lsp_range(params.range),
                reply,
            })
            .await?;
        Ok(Some(hints))
    }
}
