//! `pairprog-protocol`: what the relay and the editor proxy share.
//!
//! - [`Operation`]: the text operation (retain / insert / delete, in chars) with apply,
//!   compose, transform, offset transform, invert, diff and its compact JSON form.
//! - [`OtClient`] and [`Sequencer`]: the two halves of server-sequenced OT.
//! - [`position`]: LSP positions (UTF-8 / UTF-16 / UTF-32) to and from char offsets.
//! - [`messages`]: the WebSocket protocol between clients and the relay.
//! - [`identity`]: a client's public id, derived from the secret key it picks.
//! - [`bus`]: what relays sharing one database tell each other (Postgres `NOTIFY`).

pub mod bus;
pub mod checked;
mod client;
mod diff;
pub mod editor;
mod error;
pub mod identity;
mod json;
pub mod messages;
mod operation;
pub mod position;
mod sequencer;

pub use client::{ClientStateError, OtClient};
pub use error::OperationError;
pub use operation::{Bias, Component, Operation};
pub use position::{Position, PositionEncoding, Range};
pub use sequencer::{Checkpoint, SequenceError, Sequencer};
