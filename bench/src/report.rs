//! Results as a markdown table (to paste into docs/BENCHMARKS.md) or as JSON.

use serde_json::{json, Map, Value};

pub struct Report {
    pub scenario: &'static str,
    pub title: String,
    /// Metric, human-readable value, machine-readable value.
    rows: Vec<(String, String, Value)>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str, title: impl Into<String>) -> Self {
        Self {
            scenario,
            title: title.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, metric: &str, shown: impl Into<String>, value: impl Into<Value>) {
        self.rows
            .push((metric.to_owned(), shown.into(), value.into()));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn markdown(&self, command: &str, context: &[(String, String)]) -> String {
        let mut out = format!("### {}\n\n```\n{command}\n```\n\n", self.title);
        for (k, v) in context {
            out.push_str(&format!("- {k}: {v}\n"));
        }
        out.push_str("\n| metric | value |\n| --- | --- |\n");
        for (metric, shown, _) in &self.rows {
            out.push_str(&format!("| {metric} | {shown} |\n"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out
    }

    pub fn json(&self, command: &str, context: &[(String, String)]) -> Value {
        let metrics: Map<String, Value> = self
            .rows
            .iter()
            .map(|(k, _, v)| (k.clone(), v.clone()))
            .collect();
        let ctx: Map<String, Value> = context
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "scenario": self.scenario,
            "command": command,
            "context": ctx,
            "metrics": metrics,
            "notes": self.notes,
        })
    }
}

/// The value at quantile `q` (0..=1) of sorted samples, nearest-rank.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Seconds with millisecond precision, for CPU times.
pub fn secs(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
