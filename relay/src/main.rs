//! The `pairprog-relay` binary: flags, logging, signals.

use anyhow::Context;
use clap::Parser;
use pairprog_relay::{Config, Relay};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("invalid --log-level {:?}", config.log_level))?;
    // Logs go to stderr; stdout carries only the "listening on" line scripts read.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let relay = Relay::start(config)
        .await
        .context("pairprog-relay could not start")?;
    // One line on stdout with the bound address, for scripts and tests that ask for
    // port 0 and need to learn which port they got.
    println!("pairprog-relay listening on {}", relay.base_url());
    wait_for_signal().await?;
    tracing::info!("shutting down: finishing commits and closing connections");
    relay.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
