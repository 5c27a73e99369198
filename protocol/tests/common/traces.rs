//! Loading the editing traces in `shared/data/traces` (josephg/editing-traces, CC BY 4.0).
//! Set `PAIRPROG_TRACES` to read them from somewhere else.
#![allow(dead_code)] // Shared by tests and the benchmark, each reading a subset.

use std::io::Read;
use std::path::PathBuf;

use serde::Deserialize;

/// `[pos, numDeleted, "inserted"]`, positions and counts in chars.
#[derive(Debug, Deserialize)]
pub struct Patch(pub usize, pub usize, pub String);

#[derive(Debug, Deserialize)]
pub struct Txn {
    #[serde(default)]
    pub parents: Vec<usize>,
    #[serde(default)]
    pub agent: usize,
    pub patches: Vec<Patch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    pub end_content: String,
    #[serde(default)]
    pub num_agents: usize,
    pub txns: Vec<Txn>,
}

pub fn traces_dir() -> PathBuf {
    std::env::var_os("PAIRPROG_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traces")
        })
}

pub fn load(name: &str) -> Trace {
    let path = traces_dir().join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "cannot open trace {}: {e}. The traces live in shared/data/traces beside the \
             repository; set PAIRPROG_TRACES to their folder.",
            path.display()
        )
    });
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("trace is valid gzip");
    serde_json::from_str(&json).expect("trace has the documented format")
}
