//! The languages the engine knows, named by their LSP language ids.

use serde::{Deserialize, Serialize};

/// A language with its own rules. Anything else is [`Language::Other`], which still gets
/// identifier completion from the room but no keyword templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `python`
    Python,
    /// `javascript` (and `javascriptreact`)
    JavaScript,
    /// `typescript` (and `typescriptreact`)
    TypeScript,
    /// `rust`
    Rust,
    /// `go`
    Go,
    /// `java`
    Java,
    /// `c`
    C,
    /// `cpp`
    Cpp,
    /// Any language without rules of its own.
    Other,
}

impl Language {
    /// Maps an LSP language id (case-insensitive, with a few common aliases such as `py`,
    /// `js`, `ts`, `c++`) to a language. Unknown ids give [`Language::Other`] rather than an
    /// error, because the old REST contract answered unknown languages with generic
    /// suggestions.
    pub fn from_id(id: &str) -> Language {
        match id.trim().to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Language::Python,
            "javascript" | "javascriptreact" | "js" | "jsx" | "node" => Language::JavaScript,
            "typescript" | "typescriptreact" | "ts" | "tsx" => Language::TypeScript,
            "rust" | "rs" => Language::Rust,
            "go" | "golang" => Language::Go,
            "java" => Language::Java,
            "c" => Language::C,
            "cpp" | "c++" | "cxx" | "cc" => Language::Cpp,
            _ => Language::Other,
        }
    }

    /// The canonical LSP language id, or `plaintext` for [`Language::Other`].
    pub fn id(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Other => "plaintext",
        }
    }
}
