//! Rust: brace blocks without parentheses, lifetimes, `let mut`.

use super::{BlockStyle, Keywords, LanguageRules, Template};
use crate::indent::IndentUnit;
use crate::lexer::Syntax;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: Syntax {
        line_comment: Some("//"),
        block_comment: Some(("/*", "*/")),
        quotes: "",
        multiline_quotes: "\"",
        raw_quotes: "",
        triple_quotes: "",
        rust_chars: true,
        dollar_identifiers: false,
    },
    default_indent: IndentUnit::Spaces(4),
    blocks: BlockStyle::Braces {
        parenthesized: false,
    },
    keywords: Keywords {
        modifiers: &["pub", "pub(crate)", "async", "unsafe", "const", "extern"],
        conditions: &["if", "while", "for", "match"],
        named: &["fn", "struct", "enum", "impl", "trait", "mod", "union"],
        bare: &["else", "loop", "unsafe"],
        semicolon_blocks: &[],
        semicolons: true,
        define_function: &["fn"],
        define_type: &["struct", "enum", "trait", "type", "union", "mod"],
        define_variable: &["let", "const", "static", "for"],
        skip_before_name: &["mut", "ref"],
        typed_declarations: false,
        reserved: &[
            "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
            "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod",
            "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
            "trait", "true", "type", "unsafe", "use", "where", "while",
        ],
    },
    templates: &[TEMPLATES],
};

const TEMPLATES: &[Template] = &[
    Template {
        label: "fn",
        body: "fn ${1:name}(${2}) {\n\t$0\n}",
        description: "Function definition",
        confidence: 0.9,
    },
    Template {
        label: "fn main",
        body: "fn main() {\n\t$0\n}",
        description: "Program entry point",
        confidence: 0.8,
    },
    Template {
        label: "struct",
        body: "struct ${1:Name} {\n\t$0\n}",
        description: "Struct definition",
        confidence: 0.9,
    },
    Template {
        label: "enum",
        body: "enum ${1:Name} {\n\t$0\n}",
        description: "Enum definition",
        confidence: 0.85,
    },
    Template {
        label: "impl",
        body: "impl ${1:Type} {\n\t$0\n}",
        description: "Implementation block",
        confidence: 0.85,
    },
    Template {
        label: "trait",
        body: "trait ${1:Name} {\n\t$0\n}",
        description: "Trait definition",
        confidence: 0.8,
    },
    Template {
        label: "for",
        body: "for ${1:item} in ${2:items} {\n\t$0\n}",
        description: "For loop over an iterator",
        confidence: 0.9,
    },
    Template {
        label: "if",
        body: "if ${1:condition} {\n\t$0\n}",
        description: "Conditional",
        confidence: 0.9,
    },
    Template {
        label: "if let Some",
        body: "if let Some(${1:value}) = ${2:option} {\n\t$0\n}",
        description: "Conditional on an Option holding a value",
        confidence: 0.75,
    },
    Template {
        label: "while",
        body: "while ${1:condition} {\n\t$0\n}",
        description: "While loop",
        confidence: 0.85,
    },
    Template {
        label: "loop",
        body: "loop {\n\t$0\n}",
        description: "Endless loop",
        confidence: 0.8,
    },
    Template {
        label: "match",
        body: "match ${1:value} {\n\t${2:pattern} => ${0:todo!()},\n}",
        description: "Match expression",
        confidence: 0.85,
    },
    Template {
        label: "match Result",
        body: "match ${1:result} {\n\tOk(${2:value}) => ${3:value},\n\tErr(${4:error}) => ${0:return Err(error.into())},\n}",
        description: "Handle both arms of a Result",
        confidence: 0.7,
    },
    Template {
        label: "use",
        body: "use ${1:std}::${2:item};",
        description: "Bring a path into scope",
        confidence: 0.8,
    },
    Template {
        label: "let",
        body: "let ${1:name} = ${0:value};",
        description: "Variable binding",
        confidence: 0.75,
    },
    Template {
        label: "println!",
        body: "println!(\"{}\", ${1});",
        description: "Print a formatted line",
        confidence: 0.8,
    },
    Template {
        label: "#[test]",
        body: "#[test]\nfn ${1:name}() {\n\t$0\n}",
        description: "Test function",
        confidence: 0.75,
    },
    Template {
        label: "#[cfg(test)] mod tests",
        body: "#[cfg(test)]\nmod tests {\n\tuse super::*;\n\n\t#[test]\n\tfn ${1:it_works}() {\n\t\t$0\n\t}\n}",
        description: "Unit test module",
        confidence: 0.7,
    },
];
