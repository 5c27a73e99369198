//! `ScriptedEditor`: a `pairprog-lsp` process driven the way a real editor drives it.
//!
//! Each editor spawns its own server, speaks LSP over the server's stdio and keeps an
//! exact copy of its buffer. It models one of six clients (VS Code, Neovim 0.11,
//! Helix 25.07, Eglot, Vim + vim-lsp, and a Neovim-like client without `clientInfo`), as
//! `/work/shared/lsp-clients.md` describes them: the position
//! encodings offered, the version numbering, the debouncing of `didChange`, the answer
//! to a stale `workspace/applyEdit` and the order of the edit's echo and its reply.
//!
//! Concurrency model: the editor's state sits behind one `std::sync::Mutex`, never held
//! across an `.await`. Every buffer change and the message reporting it are made under
//! that lock, and outgoing messages go through one FIFO channel to a writer task, so the
//! order of messages on the pipe is the order of the buffer's changes, as in a real
//! editor's single UI thread. Incoming messages pass through a delay line that adds a
//! random (seeded) latency to each while keeping their order.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use pairprog_protocol::position::{
    offset_to_position, position_to_offset, splits_crlf, PositionEncoding, Range,
};
use ropey::Rope;
use serde_json::{json, Value};
use tokio::io::BufReader;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use super::jsonrpc;
use super::rng::Rng;
use super::typing::Edit;

/// How long any single request may take before the test fails instead of hanging.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Neovim's default `debounce_text_changes`.
const NEOVIM_DEBOUNCE: Duration = Duration::from_millis(150);
/// Eglot's default `eglot-send-changes-idle-time`.
const EGLOT_IDLE: Duration = Duration::from_millis(500);
/// vim-lsp reports typing on `TextChanged`/`InsertLeave`: modelled as this idle delay.
const VIM_TEXT_CHANGED: Duration = Duration::from_millis(100);
/// vim-lsp reports an applied edit only with the next change, or on `CursorHold` (4 s
/// after the last key by default; shortened here to keep the tests fast).
const VIM_CURSOR_HOLD: Duration = Duration::from_millis(1500);
/// The most trace lines kept per editor for failure reports.
const TRACE_LINES: usize = 300;

/// The client an editor imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    VsCode,
    Neovim,
    Helix,
    Eglot,
    /// Vim + vim-lsp (`lsp-clients.md` §7): never reads the version, applies every edit at
    /// the positions given and answers `applied: true` at once; reports changes as the
    /// whole text, typing on `TextChanged`, an applied edit only with the next change or
    /// on `CursorHold`.
    VimLsp,
    /// A client that sends no `clientInfo` and otherwise behaves like stock Neovim (opens
    /// at 0, applies version 0 unchecked, skips stale edits yet answers `applied: true`):
    /// the proxy cannot recognise it, so convergence must not depend on recognising it.
    Unnamed,
}

impl Behaviour {
    pub const ALL: [Behaviour; 6] = [
        Behaviour::VsCode,
        Behaviour::Neovim,
        Behaviour::Helix,
        Behaviour::Eglot,
        Behaviour::VimLsp,
        Behaviour::Unnamed,
    ];

    /// Whether the editor's buffer keeps its final line break outside the text, so its
    /// user can never delete it (Vim and Neovim).
    fn keeps_final_line_break(self) -> bool {
        matches!(
            self,
            Behaviour::Neovim | Behaviour::Unnamed | Behaviour::VimLsp
        )
    }

    /// Stock Neovim's edit handling and debouncing (whatever it calls itself).
    fn neovim_like(self) -> bool {
        matches!(self, Behaviour::Neovim | Behaviour::Unnamed)
    }

    /// `general.positionEncodings`, in the client's order of preference.
    pub fn encodings(self) -> &'static [&'static str] {
        match self {
            Behaviour::VsCode => &["utf-16"],
            Behaviour::Neovim => &["utf-8", "utf-16", "utf-32"],
            Behaviour::Helix => &["utf-8", "utf-32", "utf-16"],
            Behaviour::Eglot => &["utf-32", "utf-8", "utf-16"],
            Behaviour::VimLsp => &["utf-16"],
            Behaviour::Unnamed => &["utf-8", "utf-16", "utf-32"],
        }
    }

    /// The version sent with `didOpen`.
    pub fn open_version(self) -> i64 {
        match self {
            Behaviour::VsCode | Behaviour::VimLsp => 1,
            _ => 0,
        }
    }

    fn client_name(self) -> Option<&'static str> {
        match self {
            Behaviour::VsCode => Some("Visual Studio Code"),
            Behaviour::Neovim => Some("Neovim"),
            Behaviour::Helix => Some("helix"),
            Behaviour::Eglot => Some("Eglot"),
            Behaviour::VimLsp => Some("vim-lsp"),
            Behaviour::Unnamed => None,
        }
    }

    /// Helix 25.07 implements neither `window/showMessageRequest` nor
    /// `window/showDocument` (the latter is on master only).
    fn has_window_requests(self) -> bool {
        self != Behaviour::Helix
    }

    fn inlay_hint_refresh(self) -> bool {
        matches!(self, Behaviour::VsCode) || self.neovim_like()
    }

    /// Neovim 0.11 processes versioned `documentChanges` without advertising them.
    fn advertises_document_changes(self) -> bool {
        !self.neovim_like()
    }

    /// Whether the capabilities promise a version check (`documentChanges`; no model
    /// here plays our plugin's `exactVersionCheck`): the server sends the others only
    /// unversioned edits.
    fn checks_versions(self) -> bool {
        self.advertises_document_changes()
    }

    /// Neovim, Eglot and Vim send their pending changes before any request of their own.
    fn debounces(self) -> bool {
        matches!(self, Behaviour::Eglot | Behaviour::VimLsp) || self.neovim_like()
    }
}

/// How to start a scripted editor.
#[derive(Clone, Debug)]
pub struct EditorOptions {
    pub behaviour: Behaviour,
    /// The participant name (`initializationOptions.name`).
    pub name: String,
    /// `ws://127.0.0.1:PORT`.
    pub relay: String,
    /// Join this room at start (`initializationOptions.room`).
    pub room: Option<String>,
    /// Files written into the editor's workspace and opened with `didOpen`, as
    /// (relative path, text).
    pub files: Vec<(String, String)>,
    pub snippets: bool,
    /// Seeds the editor's own choices: latency, minimised echoes, Neovim's tick jumps.
    pub seed: u64,
    /// The largest latency added to an incoming message; zero disables the delay line.
    pub max_latency: Duration,
    /// Extra certificate authorities for a `wss://` relay (`initializationOptions.caFile`).
    pub ca_file: Option<std::path::PathBuf>,
    /// Neovim's `debounce_text_changes` (150 ms unless a user set it otherwise).
    pub neovim_debounce: Duration,
}

impl EditorOptions {
    pub fn new(behaviour: Behaviour, name: &str, relay: &str, seed: u64) -> EditorOptions {
        EditorOptions {
            behaviour,
            name: name.to_owned(),
            relay: relay.to_owned(),
            room: None,
            files: Vec::new(),
            snippets: true,
            seed,
            max_latency: Duration::from_millis(15),
            ca_file: None,
            neovim_debounce: NEOVIM_DEBOUNCE,
        }
    }

    /// A Neovim whose user set `debounce_text_changes` to `debounce`.
    pub fn neovim_debounce(mut self, debounce: Duration) -> EditorOptions {
        self.neovim_debounce = debounce;
        self
    }

    pub fn ca_file(mut self, path: &Path) -> EditorOptions {
        self.ca_file = Some(path.to_owned());
        self
    }

    pub fn file(mut self, path: &str, text: &str) -> EditorOptions {
        self.files.push((path.to_owned(), text.to_owned()));
        self
    }

    pub fn room(mut self, room: &str) -> EditorOptions {
        self.room = Some(room.to_owned());
        self
    }

    pub fn snippets(mut self, snippets: bool) -> EditorOptions {
        self.snippets = snippets;
        self
    }
}

/// What happened to the `workspace/applyEdit` requests an editor received.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyStats {
    pub applied: usize,
    /// Refused for a version mismatch (`applied:false` or a JSON-RPC error).
    pub refused: usize,
    /// Neovim's silent skip: answered `applied:true`, nothing changed.
    pub skipped: usize,
}

/// One open document in the editor.
struct Doc {
    path: String,
    uri: String,
    text: Rope,
    /// The buffer's version: VS Code's, Helix's and Eglot's counter, Neovim's
    /// `b:changedtick`. It moves with every change, sent or not.
    version: i64,
    /// Every version reported to the server (`didOpen`, `didChange`).
    reported: BTreeSet<i64>,
    /// Debounced changes not sent yet (Neovim, Eglot), in order.
    pending: Vec<Value>,
    /// vim-lsp: the buffer changed since its last report (typing or an applied edit);
    /// the next report is the whole text.
    unreported: bool,
    /// When the pending changes are due.
    due: Option<Instant>,
    /// Neovim's `last_flush`: its debounce is a rate limit since the previous send.
    last_flush: Option<Instant>,
}

type Reply = Result<Value, Value>;

/// An applyEdit's one document: its uri, its version (`None` when null or absent) and
/// its edits as (range, new text).
type ParsedEdit = (String, Option<i64>, Vec<(Range, String)>);

struct State {
    behaviour: Behaviour,
    /// Neovim's `debounce_text_changes`.
    neovim_debounce: Duration,
    name: String,
    encoding: PositionEncoding,
    docs: BTreeMap<String, Doc>,
    next_id: i64,
    waiting: HashMap<i64, oneshot::Sender<Reply>>,
    notifications: Vec<(String, Value)>,
    requests: Vec<(String, Value)>,
    /// Broken promises of the interface, seen from the editor's side.
    violations: Vec<String>,
    stats: ApplyStats,
    rng: Rng,
    out: mpsc::UnboundedSender<Value>,
    /// Incoming messages read from the pipe and still in the delay line.
    queued_incoming: usize,
    exited: bool,
    trace: VecDeque<String>,
    /// Every message in and out, in full, with its time since start: `trace.log` in the
    /// editor's folder, which a failing test keeps.
    trace_file: Option<std::fs::File>,
    started: Instant,
    timer_wake: Arc<Notify>,
    events: watch::Sender<u64>,
}

/// A handle to one scripted editor; clones share the editor.
#[derive(Clone)]
pub struct ScriptedEditor {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    behaviour: Behaviour,
    state: Arc<Mutex<State>>,
    events: watch::Sender<u64>,
    timer_wake: Arc<Notify>,
    child: tokio::sync::Mutex<Option<Child>>,
    dir: PathBuf,
    root: PathBuf,
    stderr_path: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wakes the debounce task so it sees the state is gone and ends.
        self.timer_wake.notify_one();
        // A failing test keeps the workspace and the server's log for inspection.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn unique_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn language_of(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("py") => "python",
        Some("rs") => "rust",
        Some("md") => "markdown",
        Some("js") => "javascript",
        Some("ts") => "typescript",
        _ => "plaintext",
    }
}

/// A `file://` URI for an absolute path. The test folders hold only characters that
/// need no percent-encoding, which is checked.
pub fn file_uri(path: &Path) -> String {
    let s = path.to_str().expect("a UTF-8 path");
    assert!(
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c)),
        "test paths need no percent-encoding: {s}"
    );
    format!("file://{s}")
}

impl ScriptedEditor {
    /// Spawns the server, initializes it as the chosen client would and opens every
    /// file of the options.
    pub async fn start(options: EditorOptions) -> ScriptedEditor {
        let behaviour = options.behaviour;
        let dir = std::env::temp_dir().join(format!(
            "pairprog-lsp-test-{}-{}",
            options.name,
            unique_suffix()
        ));
        let root = dir.join("workspace");
        std::fs::create_dir_all(&root).expect("create the workspace");
        for (path, text) in &options.files {
            let file = root.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).expect("create the file's folder");
            }
            std::fs::write(&file, text).expect("write the workspace file");
        }
        let stderr_path = dir.join("server.stderr.log");
        let stderr = if std::env::var_os("PAIRPROG_TEST_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::from(std::fs::File::create(&stderr_path).expect("create the stderr log"))
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_pairprog-lsp"))
            .current_dir(&root)
            .env_remove("PAIRPROG_RELAY")
            .env_remove("PAIRPROG_NAME")
            .env_remove("PAIRPROG_ROOM")
            .env_remove("PAIRPROG_CA_FILE")
            // Recovered copies (join with differing text) stay in the test's folder.
            .env("XDG_STATE_HOME", dir.join("state"))
            .env_remove("PAIRPROG_DATA_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("pairprog-lsp starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");

        let (out_tx, out_rx) = mpsc::unbounded_channel::<Value>();
        let (events, _) = watch::channel(0u64);
        let timer_wake = Arc::new(Notify::new());
        let mut rng = Rng::new(options.seed ^ 0x5eed_ed17_0000_0000);
        let latency_rng = Rng::new(rng.next_u64());
        let state = Arc::new(Mutex::new(State {
            behaviour,
            neovim_debounce: options.neovim_debounce,
            name: options.name.clone(),
            encoding: PositionEncoding::Utf16,
            docs: BTreeMap::new(),
            next_id: 1,
            waiting: HashMap::new(),
            notifications: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            stats: ApplyStats::default(),
            rng,
            out: out_tx,
            queued_incoming: 0,
            exited: false,
            trace: VecDeque::new(),
            trace_file: std::fs::File::create(dir.join("trace.log")).ok(),
            started: Instant::now(),
            timer_wake: timer_wake.clone(),
            events: events.clone(),
        }));

        tokio::spawn(writer_task(stdin, out_rx));
        let (delay_tx, delay_rx) = mpsc::unbounded_channel();
        tokio::spawn(reader_task(
            stdout,
            state.clone(),
            delay_tx,
            latency_rng,
            options.max_latency,
        ));
        tokio::spawn(delivery_task(state.clone(), delay_rx));
        tokio::spawn(debounce_task(Arc::downgrade(&state), timer_wake.clone()));

        let editor = ScriptedEditor {
            inner: Arc::new(Inner {
                name: options.name.clone(),
                behaviour,
                state,
                events,
                timer_wake,
                child: tokio::sync::Mutex::new(Some(child)),
                dir,
                root: root.clone(),
                stderr_path,
            }),
        };
        editor.initialize(&options).await;
        editor
    }

    async fn initialize(&self, options: &EditorOptions) {
        let behaviour = options.behaviour;
        let root_uri = file_uri(&self.inner.root);
        let mut init_options = json!({"relay": options.relay, "name": options.name});
        if let Some(room) = &options.room {
            init_options["room"] = json!(room);
        }
        if let Some(ca_file) = &options.ca_file {
            init_options["caFile"] = json!(ca_file);
        }
        let mut window = json!({"workDoneProgress": true});
        if behaviour.has_window_requests() {
            window["showMessage"] =
                json!({"messageActionItem": {"additionalPropertiesSupport": false}});
            window["showDocument"] = json!({"support": true});
        }
        let mut params = json!({
            "processId": std::process::id(),
            "rootUri": root_uri,
            "rootPath": self.inner.root.to_str(),
            "workspaceFolders": [{"uri": root_uri, "name": "workspace"}],
            "initializationOptions": init_options,
            "capabilities": {
                "general": {"positionEncodings": behaviour.encodings()},
                "workspace": {
                    "applyEdit": true,
                    "workspaceEdit": {"documentChanges": behaviour.advertises_document_changes()},
                    "executeCommand": {"dynamicRegistration": false},
                    "inlayHint": {"refreshSupport": behaviour.inlay_hint_refresh()},
                    "workspaceFolders": true,
                    "configuration": true,
                },
                "textDocument": {
                    "synchronization": {"dynamicRegistration": false, "didSave": true},
                    "completion": {"completionItem": {"snippetSupport": options.snippets}},
                    "inlayHint": {"dynamicRegistration": false},
                },
                "window": window,
            },
        });
        if let Some(name) = behaviour.client_name() {
            params["clientInfo"] = json!({"name": name, "version": "test"});
        }
        let result = self
            .request("initialize", params)
            .await
            .unwrap_or_else(|e| panic!("{}: initialize failed: {e}", self.name()));
        let encoding = match result["capabilities"]["positionEncoding"].as_str() {
            None => PositionEncoding::Utf16,
            Some(name) => PositionEncoding::from_lsp_name(name)
                .unwrap_or_else(|| panic!("unknown positionEncoding {name:?}")),
        };
        // The interface promises the first supported encoding of the client's list.
        assert_eq!(
            encoding.lsp_name(),
            behaviour.encodings()[0],
            "{}: the server must pick the client's first encoding",
            self.name()
        );
        let mut st = self.state();
        st.encoding = encoding;
        st.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        for (path, text) in &options.files {
            let uri = file_uri(&self.inner.root.join(path));
            let version = behaviour.open_version();
            st.send(json!({
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {
                    "uri": uri, "languageId": language_of(path), "version": version, "text": text,
                }},
            }));
            st.docs.insert(
                uri.clone(),
                Doc {
                    path: path.clone(),
                    uri,
                    text: Rope::from_str(text),
                    version,
                    reported: BTreeSet::from([version]),
                    pending: Vec::new(),
                    unreported: false,
                    due: None,
                    last_flush: None,
                },
            );
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().expect("editor state lock")
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn behaviour(&self) -> Behaviour {
        self.inner.behaviour
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.state().encoding
    }

    /// The editor's folder: its workspace, `trace.log` and the server's stderr log.
    pub fn folder(&self) -> &Path {
        &self.inner.dir
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn uri(&self, path: &str) -> String {
        file_uri(&self.inner.root.join(path))
    }

    /// The editor's buffer text of a document.
    pub fn text(&self, path: &str) -> String {
        let uri = self.uri(path);
        self.state().docs[&uri].text.to_string()
    }

    /// The buffer as a rope, for computing positions in tests.
    pub fn rope(&self, path: &str) -> Rope {
        let uri = self.uri(path);
        self.state().docs[&uri].text.clone()
    }

    pub fn version(&self, path: &str) -> i64 {
        let uri = self.uri(path);
        self.state().docs[&uri].version
    }

    /// True when no change waits in a debounce queue and no incoming message waits in
    /// the delay line.
    pub fn idle(&self) -> bool {
        let st = self.state();
        st.queued_incoming == 0
            && st
                .docs
                .values()
                .all(|d| d.pending.is_empty() && !d.unreported)
    }

    pub fn stats(&self) -> ApplyStats {
        self.state().stats
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Every notification received with this method, in order.
    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.state()
            .notifications
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Every server request received with this method, in order.
    pub fn server_requests(&self, method: &str) -> Vec<Value> {
        self.state()
            .requests
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The last messages in and out, and the server's stderr tail, for failure reports.
    pub fn diagnostics(&self) -> String {
        let st = self.state();
        let trace: Vec<&str> = st
            .trace
            .iter()
            .rev()
            .take(60)
            .rev()
            .map(String::as_str)
            .collect();
        let stderr = std::fs::read_to_string(&self.inner.stderr_path).unwrap_or_default();
        let stderr_tail: Vec<&str> = stderr.lines().rev().take(30).collect::<Vec<_>>();
        let stderr_tail: Vec<&str> = stderr_tail.into_iter().rev().collect();
        format!(
            "--- {} ({:?}, {}) stats {:?}, violations {:?}\n  last messages (all in {}):\n    {}\n  server stderr ({}):\n    {}",
            st.name,
            st.behaviour,
            st.encoding.lsp_name(),
            st.stats,
            st.violations,
            self.inner.dir.join("trace.log").display(),
            trace.join("\n    "),
            self.inner.stderr_path.display(),
            stderr_tail.join("\n    "),
        )
    }

    /// Sends a request and waits for its answer: `Ok(result)` or `Err(error object)`.
    /// Panics when the server exits or takes longer than [`REQUEST_TIMEOUT`].
    pub async fn request(&self, method: &str, params: Value) -> Reply {
        match self.try_request(method, params, REQUEST_TIMEOUT).await {
            Some(reply) => reply,
            None => panic!(
                "{}: no answer to {method} within {REQUEST_TIMEOUT:?} (or the server exited)\n{}",
                self.name(),
                self.diagnostics()
            ),
        }
    }

    /// Like [`Self::request`], but `None` instead of a panic on timeout or exit.
    pub async fn try_request(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Option<Reply> {
        let rx = {
            let mut st = self.state();
            if st.exited {
                return None;
            }
            // Neovim and Eglot flush their pending changes before any request.
            if st.behaviour.debounces() {
                st.flush_all();
            }
            let id = st.next_id;
            st.next_id += 1;
            let (tx, rx) = oneshot::channel();
            st.waiting.insert(id, tx);
            st.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Some(reply),
            _ => None,
        }
    }

    pub fn notify(&self, method: &str, params: Value) {
        self.state()
            .send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// `workspace/executeCommand`; panics on an error answer.
    pub async fn execute(&self, command: &str, arguments: Value) -> Value {
        self.request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": arguments}),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{}: {command} failed: {e}\n{}",
                self.name(),
                self.diagnostics()
            )
        })
    }

    pub async fn create_room(&self) -> String {
        let result = self.execute("pairprog.createRoom", json!([])).await;
        result["roomId"]
            .as_str()
            .unwrap_or_else(|| panic!("createRoom answered {result}"))
            .to_owned()
    }

    pub async fn join_room(&self, room: &str) {
        let result = self.execute("pairprog.joinRoom", json!([room])).await;
        assert_eq!(result["roomId"], json!(room), "joinRoom answered {result}");
    }

    pub async fn status(&self) -> Value {
        self.execute("pairprog.status", json!([])).await
    }

    /// Waits (on status answers) until the editor is connected to `room` and the relay
    /// has every open document in sync.
    pub async fn wait_in_room(&self, room: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let status = self.status().await;
            let docs_ok = status["documents"].as_array().is_some_and(|docs| {
                self.state().docs.values().all(|d| {
                    docs.iter()
                        .any(|s| s["path"] == json!(d.path) && s["synced"] == json!(true))
                })
            });
            if status["room"] == json!(room) && status["connection"] == "connected" && docs_ok {
                return;
            }
            last = status;
            // Polling the server's own status is the only way to observe this state.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} did not join {room} within 30 s; last status {last}\n{}",
            self.name(),
            self.diagnostics()
        );
    }

    /// One user action: `count` changes, each made by `edit` against the buffer as the
    /// previous ones left it, reported as the client would (one `didChange` with
    /// several changes for VS Code and Helix; one debounced change each for Neovim and
    /// Eglot). `edit` returning `None` skips that change. Returns how many changes
    /// were made.
    pub fn type_changes(
        &self,
        path: &str,
        count: usize,
        mut edit: impl FnMut(&Rope) -> Option<Edit>,
    ) -> usize {
        let uri = self.uri(path);
        let mut st = self.state();
        let st = &mut *st;
        let encoding = st.encoding;
        let behaviour = st.behaviour;
        let mut changes = Vec::new();
        let mut made = 0;
        for _ in 0..count {
            let doc = st.docs.get_mut(&uri).expect("the document is open");
            let Some(mut e) = edit(&doc.text) else {
                continue;
            };
            if behaviour.keeps_final_line_break() {
                keep_final_line_break(&doc.text, &mut e);
            }
            if e.start == e.end && e.text.is_empty() {
                continue;
            }
            made += 1;
            let change = apply_change(doc, encoding, &e, behaviour == Behaviour::VsCode);
            match behaviour {
                Behaviour::VsCode | Behaviour::Helix => changes.push(change),
                Behaviour::Neovim | Behaviour::Unnamed => {
                    let step = neovim_tick(&mut st.rng, doc.version);
                    doc.version += step;
                    st.queue_change(&uri, change);
                }
                Behaviour::Eglot => {
                    doc.version += 1;
                    st.queue_change(&uri, change);
                }
                Behaviour::VimLsp => {
                    doc.unreported = true;
                    st.queue_change(&uri, change);
                }
            }
        }
        if !changes.is_empty() {
            st.docs.get_mut(&uri).expect("open").version += 1;
            st.send_changes(&uri, changes);
        }
        st.bump();
        made
    }

    /// Re-evaluates `check` after every message the editor receives (and at once)
    /// until it gives a value; `None` after `timeout`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let mut events = self.inner.events.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return Some(value);
            }
            match tokio::time::timeout_at(deadline, events.changed()).await {
                Ok(Ok(())) => {}
                _ => return check(),
            }
        }
    }

    /// Waits for a notification of `method` whose params satisfy `pred` (one already
    /// received counts).
    pub async fn wait_notification(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_recorded(method, timeout, pred, false).await
    }

    /// Waits for a server request of `method` whose params satisfy `pred`.
    pub async fn wait_server_request(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_recorded(method, timeout, pred, true).await
    }

    async fn wait_recorded(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
        requests: bool,
    ) -> Value {
        let mut events = self.inner.events.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            {
                let st = self.state();
                let list = if requests {
                    &st.requests
                } else {
                    &st.notifications
                };
                if let Some((_, p)) = list.iter().find(|(m, p)| m == method && pred(p)) {
                    return p.clone();
                }
            }
            match tokio::time::timeout_at(deadline, events.changed()).await {
                Ok(Ok(())) => {}
                _ => panic!(
                    "{}: no matching {method} within {timeout:?}; received: {:?}\n{}",
                    self.name(),
                    if requests {
                        self.server_requests(method)
                    } else {
                        self.notifications(method)
                    },
                    self.diagnostics()
                ),
            }
        }
    }

    /// `shutdown` then `exit`, as an editor closing; kills the server if it lingers.
    pub async fn shutdown(&self) {
        let answered = self
            .try_request("shutdown", Value::Null, Duration::from_secs(5))
            .await
            .is_some();
        if answered {
            self.notify("exit", Value::Null);
        }
        let mut child = self.inner.child.lock().await;
        if let Some(mut c) = child.take() {
            if tokio::time::timeout(Duration::from_secs(5), c.wait())
                .await
                .is_err()
            {
                eprintln!(
                    "{}: the server did not exit after `exit`; killing it",
                    self.name()
                );
                let _ = c.start_kill();
                let _ = c.wait().await;
            }
        }
    }
}

/// Neovim's `b:changedtick` moves by one per change, sometimes more; the first change
/// after `didOpen` (sent as version 0) lands on the real tick, a few above 0.
fn neovim_tick(rng: &mut Rng, version: i64) -> i64 {
    if version == 0 {
        1 + rng.below(4) as i64
    } else if rng.chance(10) {
        2
    } else {
        1
    }
}

/// Applies one change (char offsets on the current text) to the buffer and returns its
/// LSP form, with the range computed on the text before the change.
fn apply_change(
    doc: &mut Doc,
    encoding: PositionEncoding,
    edit: &Edit,
    range_length: bool,
) -> Value {
    let len = doc.text.len_chars();
    assert!(
        edit.start <= edit.end && edit.end <= len,
        "harness bug: edit {edit:?} outside 0..={len}"
    );
    assert!(
        !splits_crlf(&doc.text, edit.start) && !splits_crlf(&doc.text, edit.end),
        "harness bug: edit {edit:?} splits a CRLF, which LSP cannot express"
    );
    let range = Range {
        start: offset_to_position(&doc.text, edit.start, encoding),
        end: offset_to_position(&doc.text, edit.end, encoding),
    };
    let mut change = json!({"range": range, "text": edit.text});
    if range_length {
        // VS Code still sends the deprecated rangeLength, in UTF-16 units.
        let units = doc.text.char_to_utf16_cu(edit.end) - doc.text.char_to_utf16_cu(edit.start);
        change["rangeLength"] = json!(units);
    }
    doc.text.remove(edit.start..edit.end);
    doc.text.insert(edit.start, &edit.text);
    change
}

/// Vim and Neovim keep a buffer's final line break outside the text ('eol'): their users
/// cannot delete it nor type after it. A typed edit that would leave a text that ended
/// with a line break without one ends with that line break instead, as `Go`, `dd` or `D`
/// on the last line do.
fn keep_final_line_break(rope: &Rope, edit: &mut Edit) {
    let text = rope.to_string();
    let eol = if text.ends_with("\r\n") {
        "\r\n"
    } else if text.ends_with('\n') {
        "\n"
    } else {
        return;
    };
    let len = rope.len_chars();
    if edit.end == len && !edit.text.ends_with('\n') {
        edit.text.push_str(eol);
        if rope.slice(edit.start..edit.end) == edit.text.as_str() {
            // Only the line break itself was deleted: the keys did nothing.
            edit.end = edit.start;
            edit.text.clear();
        }
    }
}

/// Where Neovim 0.11's `apply_text_edits` really applies an edit (`lsp/util.lua`). Its
/// buffer has one line fewer than LSP counts when the text ends with a line break (the
/// empty "line" after it is not one): a range starting at or past the last line appends
/// the new text as lines, which adds a line break; an end past the last line is clamped
/// to that line's end, and an empty last line is removed afterwards.
fn neovim_clamp(rope: &Rope, range: &Range, span: Edit) -> Edit {
    let len = rope.len_chars();
    if len == 0 || rope.char(len - 1) != '\n' {
        return span;
    }
    // The buffer's line break, as the file has it (`fileformat=dos` keeps CRLF). With
    // the default 'fileformats' (unix,dos), Neovim picks dos only when every line ends
    // in CRLF; one bare LF makes the buffer unix, a stray CR then being part of its line.
    let text = rope.to_string();
    let dos = text.matches('\n').count() == text.matches("\r\n").count();
    let eol = if dos { "\r\n" } else { "\n" };
    let lines = rope.len_lines() - 1;
    if range.start.line as usize >= lines {
        return Edit {
            start: len,
            end: len,
            text: format!("{}{eol}", span.text),
        };
    }
    if range.end.line as usize >= lines {
        let end = len - eol.chars().count();
        if span.start > end {
            return span;
        }
        let mut text = format!("{}{eol}", span.text);
        let kept_before = rope.slice(..span.start).to_string();
        let whole = format!("{kept_before}{text}");
        if whole.ends_with(&format!("{eol}{eol}")) {
            text.truncate(text.len() - eol.len());
        }
        return Edit {
            start: span.start,
            end: len,
            text,
        };
    }
    span
}

/// Trims what an edit's old and new text have in common at both ends, as VS Code's
/// minimal edits and Emacs' `replace-buffer-contents` do. With `whole_lines` the
/// comparison spans the whole lines the edit touches, as Neovim's `compute_diff` does,
/// so the result can even move outside the edit's range. Never leaves an end between
/// the `\r` and `\n` of a CRLF.
fn minimise(rope: &Rope, edit: &Edit, whole_lines: bool) -> Edit {
    let (ws, we) = if whole_lines {
        let first = rope.char_to_line(edit.start);
        let last = rope.char_to_line(edit.end);
        let we = if last + 1 < rope.len_lines() {
            rope.line_to_char(last + 1)
        } else {
            rope.len_chars()
        };
        (rope.line_to_char(first), we)
    } else {
        (edit.start, edit.end)
    };
    let old: Vec<char> = rope.slice(ws..we).chars().collect();
    let new: Vec<char> = rope
        .slice(ws..edit.start)
        .chars()
        .chain(edit.text.chars())
        .chain(rope.slice(edit.end..we).chars())
        .collect();
    let mut p = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let mut s = old[p..]
        .iter()
        .rev()
        .zip(new[p..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    loop {
        if p > 0 && splits_crlf(rope, ws + p) {
            p -= 1;
        } else if s > 0 && splits_crlf(rope, we - s) {
            s -= 1;
        } else {
            break;
        }
    }
    Edit {
        start: ws + p,
        end: we - s,
        text: new[p..new.len() - s].iter().collect(),
    }
}

impl State {
    fn bump(&self) {
        self.events.send_modify(|n| *n += 1);
    }

    fn trace(&mut self, direction: &str, message: &Value) {
        use std::io::Write;
        let mut text = message.to_string();
        if let Some(file) = &mut self.trace_file {
            let ms = self.started.elapsed().as_secs_f64() * 1000.0;
            let _ = writeln!(file, "{ms:10.1} {direction} {text}");
        }
        if text.len() > 400 {
            let mut cut = 400;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{direction} {text}"));
    }

    /// Counts an applyEdit's fate and notes it in the trace file (`==` lines), so a
    /// trace can be replayed knowing which edits the editor really applied.
    fn outcome(&mut self, id: &Value, what: &str) {
        use std::io::Write;
        match what {
            "applied" => self.stats.applied += 1,
            "refused" => self.stats.refused += 1,
            _ => self.stats.skipped += 1,
        }
        if let Some(file) = &mut self.trace_file {
            let ms = self.started.elapsed().as_secs_f64() * 1000.0;
            let _ = writeln!(
                file,
                "{ms:10.1} == {{\"applyEdit\":{id},\"outcome\":\"{what}\"}}"
            );
        }
    }

    fn send(&mut self, message: Value) {
        self.trace("->", &message);
        // A closed channel means the server is gone; the next request reports it.
        let _ = self.out.send(message);
    }

    fn reply(&mut self, id: Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn reply_error(&mut self, id: Value, code: i64, message: &str) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}));
    }

    /// Sends one `didChange` at the document's current version.
    fn send_changes(&mut self, uri: &str, changes: Vec<Value>) {
        let doc = self.docs.get_mut(uri).expect("open document");
        let version = doc.version;
        doc.reported.insert(version);
        self.send(json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        }));
    }

    /// Records a change in the debounce queue (Neovim, Eglot) and (re)arms its timer.
    fn queue_change(&mut self, uri: &str, change: Value) {
        let now = Instant::now();
        let behaviour = self.behaviour;
        let doc = self.docs.get_mut(uri).expect("open document");
        doc.pending.push(change);
        let delay = match behaviour {
            // Neovim's `next_debounce`: the timer restarts on each change, but only
            // for what remains of 150 ms since the last send; zero sends at once.
            Behaviour::Neovim | Behaviour::Unnamed => match doc.last_flush {
                None => self.neovim_debounce,
                Some(t) => self.neovim_debounce.saturating_sub(now - t),
            },
            // Eglot's idle timer restarts on each change.
            Behaviour::Eglot => EGLOT_IDLE,
            Behaviour::VimLsp => VIM_TEXT_CHANGED,
            _ => Duration::ZERO,
        };
        if delay.is_zero() {
            self.flush(uri);
        } else {
            doc.due = Some(now + delay);
            self.timer_wake.notify_one();
        }
    }

    /// Sends the pending changes of one document as one `didChange`.
    fn flush(&mut self, uri: &str) {
        let behaviour = self.behaviour;
        let doc = self.docs.get_mut(uri).expect("open document");
        doc.due = None;
        if behaviour == Behaviour::VimLsp {
            // The whole text, whatever changed it, one version up.
            doc.pending.clear();
            if !doc.unreported {
                return;
            }
            doc.unreported = false;
            doc.version += 1;
            let text = doc.text.to_string();
            self.send_changes(uri, vec![json!({ "text": text })]);
            return;
        }
        if doc.pending.is_empty() {
            return;
        }
        doc.last_flush = Some(Instant::now());
        let changes = std::mem::take(&mut doc.pending);
        self.send_changes(uri, changes);
    }

    fn flush_all(&mut self) {
        let uris: Vec<String> = self.docs.keys().cloned().collect();
        for uri in uris {
            self.flush(&uri);
        }
        self.bump();
    }

    fn violation(&mut self, what: String) {
        eprintln!("{}: interface violation: {what}", self.name);
        self.violations.push(what);
    }

    fn handle_incoming(&mut self, message: Value) {
        self.trace("<-", &message);
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = message.get("id").cloned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        match (method, id) {
            (Some(method), Some(id)) => {
                self.requests.push((method.clone(), params.clone()));
                self.handle_request(&method, id, &params);
            }
            (Some(method), None) => self.notifications.push((method, params)),
            (None, Some(id)) => {
                let reply = match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                match id.as_i64().and_then(|id| self.waiting.remove(&id)) {
                    Some(tx) => {
                        let _ = tx.send(reply);
                    }
                    None => self.violation(format!("a response to no request: {message}")),
                }
            }
            (None, None) => self.violation(format!("neither request nor response: {message}")),
        }
        self.bump();
    }

    fn handle_request(&mut self, method: &str, id: Value, params: &Value) {
        let behaviour = self.behaviour;
        match method {
            "workspace/applyEdit" => self.apply_edit(id, params),
            "window/showMessageRequest" if behaviour.has_window_requests() => {
                let first = params["actions"]
                    .as_array()
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or(Value::Null);
                self.reply(id, first);
            }
            "window/showDocument" if behaviour.has_window_requests() => {
                self.reply(id, json!({"success": true}));
            }
            "workspace/inlayHint/refresh" if behaviour.inlay_hint_refresh() => {
                self.reply(id, Value::Null);
            }
            "client/registerCapability"
            | "client/unregisterCapability"
            | "window/workDoneProgress/create" => self.reply(id, Value::Null),
            "workspace/configuration" => {
                let n = params["items"].as_array().map_or(0, Vec::len);
                self.reply(id, Value::Array(vec![Value::Null; n]));
            }
            _ => self.reply_error(id, -32601, &format!("Method not found: {method}")),
        }
    }

    /// `workspace/applyEdit`, the heart of each client's model.
    fn apply_edit(&mut self, id: Value, params: &Value) {
        let Some((uri, version, edits)) = self.parse_edit(params) else {
            self.reply(
                id,
                json!({"applied": false, "failureReason": "unsupported edit"}),
            );
            return;
        };
        if !self.docs.contains_key(&uri) {
            self.violation(format!("applyEdit for a document not open: {uri}"));
            self.reply(id, json!({"applied": false, "failureReason": "not open"}));
            return;
        }
        let encoding = self.encoding;
        let behaviour = self.behaviour;
        let doc = self.docs.get_mut(&uri).expect("open");
        let current = doc.version;
        // A null version is allowed only for a client that promises no version check.
        let reported_ok = match version {
            Some(v) => doc.reported.contains(&v),
            None => !behaviour.checks_versions(),
        };
        // Edits in one TextDocumentEdit all refer to the text before any of them;
        // applied bottom-up, each range stays valid.
        let mut spans = Vec::new();
        let mut bad_ranges = Vec::new();
        for (range, text) in &edits {
            let start = position_to_offset(&doc.text, range.start, encoding);
            let end = position_to_offset(&doc.text, range.end, encoding);
            for p in [range.start, range.end] {
                let exact = offset_to_position(
                    &doc.text,
                    position_to_offset(&doc.text, p, encoding),
                    encoding,
                );
                // vim-lsp's version does not move with unreported typing, so its
                // "current" version says nothing about the text the server saw.
                if exact != p && version == Some(current) && behaviour != Behaviour::VimLsp {
                    bad_ranges.push(format!(
                        "{p:?} is not a position of the text (nearest {exact:?})"
                    ));
                }
            }
            if start > end && version == Some(current) && behaviour != Behaviour::VimLsp {
                bad_ranges.push(format!("range {range:?} ends before it starts"));
            }
            spans.push(Edit {
                start: start.min(end),
                end: start.max(end),
                text: text.clone(),
            });
        }
        // The edits in the order they are applied (bottom-up), each with its span.
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(spans[i].start));
        let edits_by_start: Vec<(Range, String)> =
            order.iter().map(|&i| edits[i].clone()).collect();
        spans = order.iter().map(|&i| spans[i].clone()).collect();
        if !reported_ok {
            self.violation(format!(
                "applyEdit version {version:?} is not a version this editor reported (buffer at {current})"
            ));
        }
        for bad in bad_ranges {
            self.violation(format!("applyEdit at the current version: {bad}"));
        }
        match behaviour {
            Behaviour::VsCode => {
                // vscode-languageclient: exact match, or a null version skips the check.
                if version.is_some_and(|v| v != current) {
                    self.outcome(&id, "refused");
                    self.reply(id, json!({"applied": false}));
                    return;
                }
                let mut changes = Vec::new();
                let doc = self.docs.get_mut(&uri).expect("open");
                for span in spans {
                    // VS Code may rewrite an edit into a smaller one for the active editor.
                    let span = if self.rng.chance(50) {
                        minimise(&doc.text, &span, false)
                    } else {
                        span
                    };
                    if span.start == span.end && span.text.is_empty() {
                        continue;
                    }
                    changes.push(apply_change(doc, encoding, &span, true));
                }
                if !changes.is_empty() {
                    doc.version += 1;
                    self.send_changes(&uri, changes);
                }
                self.outcome(&id, "applied");
                self.reply(id, json!({"applied": true}));
            }
            Behaviour::Neovim | Behaviour::Unnamed => {
                // util.lua: only a version > 0 is checked, and only a newer buffer
                // rejects, silently; the handler still answers applied = true.
                if version.is_some_and(|v| v > 0 && current > v) {
                    self.outcome(&id, "skipped");
                    self.reply(id, json!({"applied": true}));
                    return;
                }
                for (span, (range, _)) in spans.into_iter().zip(&edits_by_start) {
                    let doc = self.docs.get_mut(&uri).expect("open");
                    let span = neovim_clamp(&doc.text, range, span);
                    let span = minimise(&doc.text, &span, true);
                    if span.start == span.end && span.text.is_empty() {
                        continue;
                    }
                    let change = apply_change(doc, encoding, &span, false);
                    let step = neovim_tick(&mut self.rng, doc.version);
                    doc.version += step;
                    self.queue_change(&uri, change);
                }
                self.outcome(&id, "applied");
                self.reply(id, json!({"applied": true}));
            }
            Behaviour::VimLsp => {
                // workspace_edit.vim: the version is never read; every edit lands at the
                // positions given, and no change is reported for it until the next one.
                let doc = self.docs.get_mut(&uri).expect("open");
                for span in spans {
                    doc.text.remove(span.start..span.end);
                    doc.text.insert(span.start, &span.text);
                }
                doc.unreported = true;
                if doc.due.is_none() {
                    doc.due = Some(Instant::now() + VIM_CURSOR_HOLD);
                    self.timer_wake.notify_one();
                }
                self.outcome(&id, "applied");
                self.reply(id, json!({"applied": true}));
            }
            Behaviour::Helix => {
                if version.is_some_and(|v| v != current) {
                    self.outcome(&id, "refused");
                    self.reply(
                        id,
                        json!({"applied": false, "failureReason": "document has changed", "failedChange": 0}),
                    );
                    return;
                }
                // One transaction, its didChange sent before the reply.
                let doc = self.docs.get_mut(&uri).expect("open");
                let changes: Vec<Value> = spans
                    .iter()
                    .filter(|s| !(s.start == s.end && s.text.is_empty()))
                    .map(|s| apply_change(doc, encoding, s, false))
                    .collect();
                if !changes.is_empty() {
                    doc.version += 1;
                    self.send_changes(&uri, changes);
                }
                self.outcome(&id, "applied");
                self.reply(id, json!({"applied": true}));
            }
            Behaviour::Eglot => {
                if version.is_some_and(|v| v != current) {
                    self.outcome(&id, "refused");
                    self.reply_error(
                        id,
                        -32603,
                        &format!(
                            "Edits on `{uri}' require version {}, you have {current}",
                            version.unwrap_or(0)
                        ),
                    );
                    return;
                }
                for span in spans {
                    // replace-buffer-contents changes only what differs, sometimes as a
                    // deletion and an insertion (two buffer changes, two versions).
                    let doc = self.docs.get_mut(&uri).expect("open");
                    let span = minimise(&doc.text, &span, false);
                    if span.start == span.end && span.text.is_empty() {
                        continue;
                    }
                    let split =
                        span.start < span.end && !span.text.is_empty() && self.rng.chance(50);
                    let parts = if split {
                        vec![
                            Edit {
                                start: span.start,
                                end: span.end,
                                text: String::new(),
                            },
                            Edit {
                                start: span.start,
                                end: span.start,
                                text: span.text.clone(),
                            },
                        ]
                    } else {
                        vec![span]
                    };
                    for part in parts {
                        let doc = self.docs.get_mut(&uri).expect("open");
                        if splits_crlf(&doc.text, part.start) {
                            // The deletion joined a `\r` and a `\n`: no LSP position lies
                            // between them, so insert the remaining text after the pair.
                            let moved = Edit {
                                start: part.start + 1,
                                end: part.start + 1,
                                text: part.text,
                            };
                            let change = apply_change(doc, encoding, &moved, false);
                            doc.version += 1;
                            self.queue_change(&uri, change);
                            continue;
                        }
                        let change = apply_change(doc, encoding, &part, false);
                        doc.version += 1;
                        self.queue_change(&uri, change);
                    }
                }
                self.outcome(&id, "applied");
                self.reply(id, json!({"applied": true}));
            }
        }
    }

    /// Reads the applyEdit params into (uri, version, edits), recording every way the
    /// message departs from the interface (exactly one versioned document, one edit).
    fn parse_edit(&mut self, params: &Value) -> Option<ParsedEdit> {
        let edit = &params["edit"];
        let (uri, version, edits) = if let Some(changes) = edit["documentChanges"].as_array() {
            if changes.len() != 1 {
                self.violation(format!(
                    "applyEdit with {} documentChanges: {params}",
                    changes.len()
                ));
            }
            let first = changes.first()?;
            let uri = first["textDocument"]["uri"].as_str()?.to_owned();
            let version = first["textDocument"]["version"].as_i64();
            // Null exactly for the clients that promise no version check (stock Neovim
            // and its unnamed twin: they skip a stale edit yet answer `applied: true`, so
            // only an unversioned edit, always applied, gives an answer that is true).
            // Everyone else gets the version it reported, never a negative one.
            let unversioned = !self.behaviour.checks_versions();
            if version.map_or(!unversioned, |v| unversioned || v < 0) {
                self.violation(format!(
                    "applyEdit with version {}: {params}",
                    first["textDocument"]["version"]
                ));
            }
            (uri, version, first["edits"].as_array()?.clone())
        } else if let Some(map) = edit["changes"].as_object() {
            self.violation(format!(
                "applyEdit with `changes` instead of `documentChanges`: {params}"
            ));
            let (uri, edits) = map.iter().next()?;
            (uri.clone(), None, edits.as_array()?.clone())
        } else {
            self.violation(format!("applyEdit without changes: {params}"));
            return None;
        };
        if edits.len() != 1 {
            self.violation(format!(
                "applyEdit with {} TextEdits: {params}",
                edits.len()
            ));
        }
        let mut parsed = Vec::new();
        for e in edits {
            let range: Range = match serde_json::from_value(e["range"].clone()) {
                Ok(r) => r,
                Err(err) => {
                    self.violation(format!("a TextEdit without a valid range ({err}): {e}"));
                    return None;
                }
            };
            let Some(text) = e["newText"].as_str() else {
                self.violation(format!("a TextEdit without newText: {e}"));
                return None;
            };
            parsed.push((range, text.to_owned()));
        }
        Some((uri, version, parsed))
    }
}

/// Frames and writes outgoing messages; batches whatever is queued into one write.
async fn writer_task(
    mut stdin: tokio::process::ChildStdin,
    mut rx: mpsc::UnboundedReceiver<Value>,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(first) = rx.recv().await {
        let mut buf = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            let body = serde_json::to_vec(&message).expect("JSON serialises");
            buf.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            buf.extend_from_slice(&body);
            next = if buf.len() < 1 << 20 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if stdin.write_all(&buf).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Reads the server's messages and stamps each with its delivery time: now plus a
/// random latency, but never before the previous message's, so order is kept.
async fn reader_task(
    stdout: tokio::process::ChildStdout,
    state: Arc<Mutex<State>>,
    delay: mpsc::UnboundedSender<(Instant, Value)>,
    mut rng: Rng,
    max_latency: Duration,
) {
    let mut reader = BufReader::new(stdout);
    let mut last = Instant::now();
    loop {
        let message = match jsonrpc::read_message(&mut reader).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                let mut st = state.lock().expect("lock");
                st.violation(format!("unreadable output from the server: {e}"));
                break;
            }
        };
        let max_ms = max_latency.as_millis() as usize;
        let latency = if max_ms == 0 || rng.chance(60) {
            Duration::ZERO
        } else if rng.chance(75) {
            Duration::from_millis(1 + rng.below(5.min(max_ms)) as u64)
        } else {
            Duration::from_millis(1 + rng.below(max_ms) as u64)
        };
        let at = (Instant::now() + latency).max(last);
        last = at;
        state.lock().expect("lock").queued_incoming += 1;
        if delay.send((at, message)).is_err() {
            break;
        }
    }
}

/// Hands each message to the editor at its delivery time. When the server's output
/// ends, every request still waiting fails.
async fn delivery_task(
    state: Arc<Mutex<State>>,
    mut rx: mpsc::UnboundedReceiver<(Instant, Value)>,
) {
    while let Some((at, message)) = rx.recv().await {
        // The modelled network and UI latency.
        tokio::time::sleep_until(at).await;
        let mut st = state.lock().expect("lock");
        st.queued_incoming -= 1;
        st.handle_incoming(message);
    }
    let mut st = state.lock().expect("lock");
    st.exited = true;
    st.waiting.clear();
    st.bump();
}

/// Sends debounced changes when they fall due (Neovim's timer, Eglot's idle timer).
async fn debounce_task(state: Weak<Mutex<State>>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(state) = state.upgrade() else { return };
            let mut st = state.lock().expect("lock");
            let now = Instant::now();
            let due: Vec<String> = st
                .docs
                .values()
                .filter(|d| d.due.is_some_and(|t| t <= now))
                .map(|d| d.uri.clone())
                .collect();
            for uri in due {
                st.flush(&uri);
            }
            st.bump();
            st.docs.values().filter_map(|d| d.due).min()
        };
        match next {
            // The debounce delay itself is the behaviour being modelled.
            Some(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}
