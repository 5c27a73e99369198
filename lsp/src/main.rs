//! `pairprog-lsp`: stdio language server. Logs go to stderr (stdout is the LSP channel),
//! filtered by `PAIRPROG_LOG` or `RUST_LOG` (default `warn`).

use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
pairprog-lsp: the pairprog language server. An editor starts it and speaks LSP over
its stdin and stdout; it is not meant to be run by hand.

Usage: pairprog-lsp [--help | --version]

Settings come from the editor (initializationOptions or workspace/configuration):
relay, name, room, caFile. Logs go to stderr, filtered by PAIRPROG_LOG or RUST_LOG
(default warn).
";

fn main() -> anyhow::Result<()> {
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--version" | "-V" => {
                println!("pairprog-lsp {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            // Clients add arguments of their own (`--stdio`, `--clientProcessId=N`):
            // stdio is what we speak anyway, so anything else is ignored, not refused.
            _ => {}
        }
    }
    let filter = std::env::var("PAIRPROG_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // Two worker threads: the proxy is light, and the editor's machine has other work.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(pairprog_lsp::server::serve_stdio());
    Ok(())
}
