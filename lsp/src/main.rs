//! `pairprog-lsp`: stdio language server. Logs go to stderr (stdout is the LSP channel),
//! filtered by `PAIRPROG_LOG` or `RUST_LOG` (default `warn`).

use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("pairprog-lsp {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
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
