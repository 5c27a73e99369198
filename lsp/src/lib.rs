//! `pairprog-lsp`: the language server that runs beside an editor's others and makes
//! the editor a participant of a pairprog room. See `ARCHITECTURE.md` for the map.

pub mod bridge;
pub mod commands;
pub mod completion;
pub mod edit_convert;
pub mod recovery;
pub mod relay_link;
pub mod server;
pub mod session;
pub mod settings;
pub mod text_diff;
pub mod tls;
