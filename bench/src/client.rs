//! A lean WebSocket client for the collaboration protocol: one document, the ot.js client
//! state machine, and a count of the bytes it puts on and takes off the wire.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ClientMessage, ServerMessage, PROTOCOL_VERSION};
use pairprog_protocol::{Operation, OtClient};
use ropey::Rope;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait for the relay may take before the bench gives up on it.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A client key as the real clients make one: 32 random bytes in hex.
fn client_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Size of a WebSocket frame header (RFC 6455 section 5.2) for a payload of `len` bytes.
/// Frames from a client are masked, which adds the 4-byte masking key.
pub fn frame_header_len(len: usize, masked: bool) -> usize {
    let base = match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    base + if masked { 4 } else { 0 }
}

/// Bytes this client exchanged: payloads, and payloads plus frame headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByteCounts {
    pub sent_payload: u64,
    pub sent_wire: u64,
    pub recv_payload: u64,
    pub recv_wire: u64,
}

/// The client's copy of its one open document.
pub struct Doc {
    pub path: String,
    pub text: Rope,
    pub ot: OtClient,
    pub next_seq: u64,
}

/// What a message from the relay did to this client's document.
#[derive(Debug)]
pub enum Event {
    /// Our in-flight operation was committed; `sent` says whether the buffer went out next.
    Ack { sent: bool },
    /// Someone else's operation arrived and was applied.
    Remote { revision: u64 },
    /// Presence, join/leave and other messages the bench does not act on.
    Other,
}

pub struct BenchClient {
    ws: Ws,
    pub doc: Option<Doc>,
    pub bytes: ByteCounts,
    /// When set, the last text frame sent and received are kept, to show samples.
    pub keep_last: bool,
    pub last_sent: String,
    pub last_received: String,
}

/// Small socket buffers, as the relay uses: the idle scenario holds 10,000 of these
/// clients in the bench process, and tungstenite's 128 KiB default would waste memory.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

impl BenchClient {
    /// Connects to a room and completes the `hello` / `welcome` handshake.
    pub async fn join(url: &str, name: &str) -> anyhow::Result<Self> {
        let (ws, _) = tokio::time::timeout(
            RECV_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true),
        )
        .await
        .map_err(|_| anyhow!("connecting to {url} timed out"))?
        .with_context(|| format!("connecting to {url}"))?;
        let mut client = Self {
            ws,
            doc: None,
            bytes: ByteCounts::default(),
            keep_last: false,
            last_sent: String::new(),
            last_received: String::new(),
        };
        client
            .send(&ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                name: name.to_owned(),
                // As real clients do, so joins pay the relay's id derivation too.
                client_key: Some(client_key()),
            })
            .await?;
        match client.recv().await? {
            ServerMessage::Welcome { .. } => Ok(client),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        let text = serde_json::to_string(msg).expect("client messages serialize");
        self.bytes.sent_payload += text.len() as u64;
        self.bytes.sent_wire += (text.len() + frame_header_len(text.len(), true)) as u64;
        if self.keep_last {
            self.last_sent.clone_from(&text);
        }
        self.ws
            .send(Message::text(text))
            .await
            .context("sending to the relay")
    }

    /// The next protocol message; an error when the connection closed or stayed silent
    /// for [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> anyhow::Result<ServerMessage> {
        let deadline = Instant::now() + RECV_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(deadline.into(), self.ws.next())
                .await
                .map_err(|_| anyhow!("the relay sent nothing for {RECV_TIMEOUT:?}"))?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    self.bytes.recv_payload += text.len() as u64;
                    self.bytes.recv_wire +=
                        (text.len() + frame_header_len(text.len(), false)) as u64;
                    if self.keep_last {
                        self.last_received = text.to_string();
                    }
                    return serde_json::from_str(&text).with_context(|| {
                        format!("the relay sent a message the bench cannot parse: {text}")
                    });
                }
                Some(Ok(Message::Close(frame))) => {
                    bail!("the relay closed the connection: {frame:?}")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading from the relay"),
                None => bail!("the connection ended"),
            }
        }
    }

    /// Reads and discards one frame with no time limit, for connections that sit idle.
    /// Returns false once the connection is closed.
    pub async fn discard_one(&mut self) -> bool {
        match self.ws.next().await {
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => false,
            Some(Ok(msg)) => {
                self.bytes.recv_payload += msg.len() as u64;
                true
            }
        }
    }

    /// Opens (or creates with `text`) a document and waits for `opened`.
    pub async fn open(&mut self, path: &str, text: &str) -> anyhow::Result<()> {
        self.send(&ClientMessage::Open {
            path: path.to_owned(),
            language: Some("rust".to_owned()),
            text: Some(text.to_owned()),
            revision: None,
        })
        .await?;
        // Join and presence messages of other participants may come first.
        for _ in 0..10_000 {
            match self.recv().await? {
                ServerMessage::Opened {
                    path: p,
                    revision,
                    text: Some(text),
                    ..
                } if p == path => {
                    self.doc = Some(Doc {
                        path: p,
                        text: Rope::from_str(&text),
                        ot: OtClient::new(revision),
                        next_seq: 1,
                    });
                    return Ok(());
                }
                ServerMessage::Error { code, message, .. } => {
                    bail!("open {path} refused: {code:?}: {message}")
                }
                _ => {}
            }
        }
        bail!("no `opened` for {path} among 10,000 messages")
    }

    pub fn doc(&self) -> &Doc {
        self.doc.as_ref().expect("a document is open")
    }

    /// Sends what the OT client wants sent, numbering it.
    async fn send_op(&mut self, op: Operation) -> anyhow::Result<()> {
        let doc = self.doc.as_mut().expect("a document is open");
        let seq = doc.next_seq;
        doc.next_seq += 1;
        let msg = ClientMessage::Op {
            path: doc.path.clone(),
            base: doc.ot.revision(),
            seq,
            op,
        };
        self.send(&msg).await
    }

    /// Applies a local edit and sends it at once when nothing is in flight (otherwise it
    /// is composed into the buffer). Returns whether it went out.
    pub async fn edit(&mut self, op: Operation) -> anyhow::Result<bool> {
        let doc = self.doc.as_mut().expect("a document is open");
        op.apply(&mut doc.text)
            .context("a generated edit does not fit the local text")?;
        match doc.ot.apply_local(op).context("composing a local edit")? {
            Some(out) => {
                self.send_op(out).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Feeds one relay message to the OT state. An error message from the relay is an
    /// error: the bench never sends anything the relay should refuse.
    pub async fn handle(&mut self, msg: ServerMessage) -> anyhow::Result<Event> {
        match msg {
            ServerMessage::Ack { revision, .. } => {
                let doc = self
                    .doc
                    .as_mut()
                    .ok_or_else(|| anyhow!("ack with no document open"))?;
                let next = doc
                    .ot
                    .server_ack()
                    .map_err(|e| anyhow!("unexpected ack for revision {revision}: {e}"))?;
                if doc.ot.revision() != revision {
                    bail!(
                        "ack for revision {revision}, but the client expected {}",
                        doc.ot.revision()
                    );
                }
                let sent = next.is_some();
                if let Some(op) = next {
                    self.send_op(op).await?;
                }
                Ok(Event::Ack { sent })
            }
            ServerMessage::Remote { revision, op, .. } => {
                let doc = self
                    .doc
                    .as_mut()
                    .ok_or_else(|| anyhow!("remote with no document open"))?;
                if doc.ot.revision() + 1 != revision {
                    bail!(
                        "remote revision {revision} out of order (client at {})",
                        doc.ot.revision()
                    );
                }
                let local = doc
                    .ot
                    .apply_remote(&op)
                    .context("a remote operation does not transform")?;
                local
                    .apply(&mut doc.text)
                    .context("a remote operation does not fit the local text")?;
                Ok(Event::Remote { revision })
            }
            ServerMessage::Error { code, message, .. } => {
                bail!("the relay refused a message: {code:?}: {message}")
            }
            _ => Ok(Event::Other),
        }
    }

    /// Receives and handles one message.
    pub async fn step(&mut self) -> anyhow::Result<Event> {
        let msg = self.recv().await?;
        self.handle(msg).await
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A small, fast pseudo-random generator (xorshift64*), seeded per client so runs repeat.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Zero is a fixed point of xorshift; any other odd constant works.
        Self((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One random keystroke on a document of `len` chars: usually a letter typed at a random
/// place, sometimes a backspace.
pub fn random_keystroke(rng: &mut Rng, len: usize) -> Operation {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz_ (){};\n";
    if len > 0 && rng.below(5) == 0 {
        let at = rng.below(len);
        return Operation::splice(len, at, 1, "").expect("delete within the document");
    }
    let at = rng.below(len + 1);
    let c = LETTERS[rng.below(LETTERS.len())] as char;
    let mut buf = [0u8; 4];
    Operation::splice(len, at, 0, c.encode_utf8(&mut buf)).expect("insert within the document")
}
