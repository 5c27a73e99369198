//! JavaScript: brace blocks with parenthesised conditions, template literals, `$` in names.

use super::{BlockStyle, Keywords, LanguageRules, Template};
use crate::indent::IndentUnit;
use crate::lexer::Syntax;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: SYNTAX,
    default_indent: IndentUnit::Spaces(2),
    blocks: BlockStyle::Braces {
        parenthesized: true,
    },
    keywords: KEYWORDS,
    templates: &[FUNCTIONS, SHARED],
};

/// Shared with TypeScript, which writes strings and comments the same way.
pub(crate) const SYNTAX: Syntax = Syntax {
    line_comment: Some("//"),
    block_comment: Some(("/*", "*/")),
    quotes: "\"'",
    multiline_quotes: "`",
    raw_quotes: "",
    triple_quotes: "",
    rust_chars: false,
    dollar_identifiers: true,
};

pub(crate) const KEYWORDS: Keywords = Keywords {
    modifiers: &[
        "export", "default", "async", "static", "abstract", "declare",
    ],
    conditions: &["if", "for", "while", "switch", "catch"],
    named: &["function", "class", "interface", "enum", "namespace"],
    bare: &["else", "try", "finally", "do"],
    semicolon_blocks: &[],
    semicolons: true,
    define_function: &["function"],
    define_type: &["class", "interface", "type", "enum", "namespace"],
    define_variable: &["let", "const", "var"],
    skip_before_name: &[],
    typed_declarations: false,
    reserved: &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "let",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "async",
        "await",
        "of",
        "undefined",
        "interface",
        "type",
        "enum",
        "implements",
    ],
};

const FUNCTIONS: &[Template] = &[
    Template {
        label: "function",
        body: "function ${1:name}(${2}) {\n\t$0\n}",
        description: "Function declaration",
        confidence: 0.9,
    },
    Template {
        label: "async function",
        body: "async function ${1:name}(${2}) {\n\t$0\n}",
        description: "Async function declaration",
        confidence: 0.8,
    },
];

/// Templates JavaScript and TypeScript share.
pub(crate) const SHARED: &[Template] = &[
    Template {
        label: "class",
        body: "class ${1:Name} {\n\tconstructor(${2}) {\n\t\t$0\n\t}\n}",
        description: "Class with a constructor",
        confidence: 0.9,
    },
    Template {
        label: "for (let i = 0; …)",
        body: "for (let ${1:i} = 0; $1 < ${2:array}.length; $1++) {\n\t$0\n}",
        description: "Counting for loop",
        confidence: 0.9,
    },
    Template {
        label: "for … of",
        body: "for (const ${1:item} of ${2:items}) {\n\t$0\n}",
        description: "Loop over an iterable",
        confidence: 0.8,
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
        label: "try",
        body: "try {\n\t$1\n} catch (${2:error}) {\n\t$0\n}",
        description: "Try/catch block",
        confidence: 0.85,
    },
    Template {
        label: "import … from",
        body: "import { ${2:name} } from '${1:module}';",
        description: "Import named exports",
        confidence: 0.8,
    },
    Template {
        label: "import default",
        body: "import ${2:name} from '${1:module}';",
        description: "Import a default export",
        confidence: 0.75,
    },
    Template {
        label: "console.log",
        body: "console.log(${1});",
        description: "Log to the console",
        confidence: 0.85,
    },
    Template {
        label: "const",
        body: "const ${1:name} = ${0:value};",
        description: "Constant declaration",
        confidence: 0.75,
    },
    Template {
        label: "const arrow function",
        body: "const ${1:name} = (${2}) => {\n\t$0\n};",
        description: "Arrow function bound to a constant",
        confidence: 0.7,
    },
    Template {
        label: "switch",
        body: "switch (${1:value}) {\n\tcase ${2:value}:\n\t\t$0\n\t\tbreak;\n\tdefault:\n\t\tbreak;\n}",
        description: "Switch statement",
        confidence: 0.75,
    },
    Template {
        label: "return",
        body: "return ${0:value};",
        description: "Return a value",
        confidence: 0.7,
    },
];
