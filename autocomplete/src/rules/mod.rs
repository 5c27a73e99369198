//! Per-language rule tables and the generic code that applies them.
//!
//! Each language file is data only: its syntax, its templates and the keywords that
//! define names or open blocks. [`templates`] and [`closing`] turn that data into
//! suggestions, so adding a language means adding a table, not logic.

pub(crate) mod closing;
pub(crate) mod templates;

mod c;
mod cpp;
mod go;
mod java;
mod javascript;
mod other;
mod python;
mod rust;
mod typescript;

use crate::indent::IndentUnit;
use crate::language::Language;
use crate::lexer::Syntax;

/// A keyword template or idiom.
#[derive(Debug)]
pub(crate) struct Template {
    /// The menu label.
    pub label: &'static str,
    /// The whole construct in snippet syntax, newline for a line break and tab for one
    /// level of indentation (see [`crate::snippet`]).
    pub body: &'static str,
    /// One short sentence for the suggestion's description.
    pub description: &'static str,
    /// The confidence once the keyword is fully typed.
    pub confidence: f64,
}

/// How a language opens a block after a header such as `if x > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockStyle {
    /// `if x > 0:` followed by an indented body (Python).
    Colon,
    /// `if (x > 0) { … }`; `parenthesized` languages require the condition in parentheses.
    Braces { parenthesized: bool },
}

/// The keywords that tell the engine what a line is.
#[derive(Debug)]
pub(crate) struct Keywords {
    /// Words that may precede a header keyword (`pub`, `public static`, `async`, `export`).
    pub modifiers: &'static [&'static str],
    /// Headers followed by a condition (`if`, `while`, `for`, `switch`, `catch`).
    pub conditions: &'static [&'static str],
    /// Headers followed by a name (`def`, `class`, `fn`, `struct`, `func`, `function`).
    pub named: &'static [&'static str],
    /// Headers that stand alone (`else`, `try`, `finally`, `do`, `loop`).
    pub bare: &'static [&'static str],
    /// Named headers whose block ends with `;` (C and C++ `struct`, `class`).
    pub semicolon_blocks: &'static [&'static str],
    /// Whether a statement ends with `;`, so a closed call is followed by one.
    pub semicolons: bool,
    /// Words that introduce a function name.
    pub define_function: &'static [&'static str],
    /// Words that introduce a class or type name.
    pub define_type: &'static [&'static str],
    /// Words that introduce a variable name.
    pub define_variable: &'static [&'static str],
    /// Words allowed between a defining word and the name (`let mut x`).
    pub skip_before_name: &'static [&'static str],
    /// Whether `Type name(` and `Type name =` declare names (C, C++, Java).
    pub typed_declarations: bool,
    /// Reserved words: never offered as identifiers and never read as a declaration's type.
    pub reserved: &'static [&'static str],
}

/// Everything the engine knows about one language.
#[derive(Debug)]
pub(crate) struct LanguageRules {
    pub syntax: Syntax,
    pub default_indent: IndentUnit,
    pub blocks: BlockStyle,
    pub keywords: Keywords,
    /// Template tables, searched in order; several languages share tables.
    pub templates: &'static [&'static [Template]],
}

/// The rules for `language`.
pub(crate) fn rules_for(language: Language) -> &'static LanguageRules {
    match language {
        Language::Python => &python::RULES,
        Language::JavaScript => &javascript::RULES,
        Language::TypeScript => &typescript::RULES,
        Language::Rust => &rust::RULES,
        Language::Go => &go::RULES,
        Language::Java => &java::RULES,
        Language::C => &c::RULES,
        Language::Cpp => &cpp::RULES,
        Language::Other => &other::RULES,
    }
}

/// Syntax shared by the C family (C, C++, Java): `//` and `/* */` comments, `"` strings
/// and `'` chars that end with the line.
pub(crate) const C_FAMILY_SYNTAX: Syntax = Syntax {
    line_comment: Some("//"),
    block_comment: Some(("/*", "*/")),
    quotes: "\"'",
    multiline_quotes: "",
    raw_quotes: "",
    triple_quotes: "",
    rust_chars: false,
    dollar_identifiers: false,
};

/// Templates shared by C and C++, whose loops and conditionals are written alike.
pub(crate) const C_FAMILY_TEMPLATES: &[Template] = &[
    Template {
        label: "for (int i = 0; …)",
        body: "for (int ${1:i} = 0; $1 < ${2:n}; $1++) {\n\t$0\n}",
        description: "Counting for loop",
        confidence: 0.9,
    },
    Template {
        label: "if",
        body: "if (${1:condition}) {\n\t$0\n}",
        description: "Conditional",
        confidence: 0.9,
    },
    Template {
        label: "while",
        body: "while (${1:condition}) {\n\t$0\n}",
        description: "While loop",
        confidence: 0.85,
    },
    Template {
        label: "switch",
        body: "switch (${1:value}) {\ncase ${2:0}:\n\t$0\n\tbreak;\ndefault:\n\tbreak;\n}",
        description: "Switch statement",
        confidence: 0.75,
    },
    Template {
        label: "struct",
        body: "struct ${1:name} {\n\t$0\n};",
        description: "Struct definition",
        confidence: 0.85,
    },
    Template {
        label: "void function",
        body: "void ${1:name}(${2}) {\n\t$0\n}",
        description: "Function returning nothing",
        confidence: 0.8,
    },
    Template {
        label: "int function",
        body: "int ${1:name}(${2}) {\n\t$0\n}",
        description: "Function returning int",
        confidence: 0.6,
    },
];
