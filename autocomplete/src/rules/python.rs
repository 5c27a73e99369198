//! Python: colon blocks, `#` comments, triple-quoted strings.

use super::{BlockStyle, Keywords, LanguageRules, Template};
use crate::indent::IndentUnit;
use crate::lexer::Syntax;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: Syntax {
        line_comment: Some("#"),
        block_comment: None,
        quotes: "\"'",
        multiline_quotes: "",
        raw_quotes: "",
        triple_quotes: "\"'",
        rust_chars: false,
        dollar_identifiers: false,
    },
    default_indent: IndentUnit::Spaces(4),
    blocks: BlockStyle::Colon,
    keywords: Keywords {
        modifiers: &["async"],
        conditions: &["if", "elif", "while", "for", "with", "match", "case"],
        named: &["def", "class"],
        bare: &["else", "try", "finally", "except"],
        semicolon_blocks: &[],
        semicolons: false,
        define_function: &["def"],
        define_type: &["class"],
        define_variable: &["for", "as", "import", "global", "nonlocal"],
        skip_before_name: &[],
        typed_declarations: false,
        reserved: &[
            "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
            "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
            "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
            "return", "try", "while", "with", "yield", "self",
        ],
    },
    templates: &[TEMPLATES],
};

const TEMPLATES: &[Template] = &[
    Template {
        label: "def",
        body: "def ${1:name}(${2}):\n\t${0:pass}",
        description: "Function definition",
        confidence: 0.9,
    },
    Template {
        label: "def main",
        body: "def main():\n\t${0:pass}",
        description: "Main function",
        confidence: 0.7,
    },
    Template {
        label: "async def",
        body: "async def ${1:name}(${2}):\n\t${0:pass}",
        description: "Coroutine definition",
        confidence: 0.8,
    },
    Template {
        label: "class",
        body: "class ${1:Name}:\n\tdef __init__(self${2}):\n\t\t${0:pass}",
        description: "Class definition with a constructor",
        confidence: 0.9,
    },
    Template {
        label: "for",
        body: "for ${1:item} in ${2:items}:\n\t${0:pass}",
        description: "For loop over an iterable",
        confidence: 0.9,
    },
    Template {
        label: "for … in range",
        body: "for ${1:i} in range(${2:10}):\n\t${0:pass}",
        description: "For loop over a range",
        confidence: 0.8,
    },
    Template {
        label: "if",
        body: "if ${1:condition}:\n\t${0:pass}",
        description: "Conditional",
        confidence: 0.9,
    },
    Template {
        label: "if __name__ == \"__main__\"",
        body: "if __name__ == \"__main__\":\n\t${0:main()}",
        description: "Run only when executed as a script",
        confidence: 0.75,
    },
    Template {
        label: "elif",
        body: "elif ${1:condition}:\n\t${0:pass}",
        description: "Further condition",
        confidence: 0.85,
    },
    Template {
        label: "else",
        body: "else:\n\t${0:pass}",
        description: "Alternative branch",
        confidence: 0.8,
    },
    Template {
        label: "while",
        body: "while ${1:condition}:\n\t${0:pass}",
        description: "While loop",
        confidence: 0.85,
    },
    Template {
        label: "try",
        body: "try:\n\t${1:pass}\nexcept ${2:Exception} as ${3:error}:\n\t${0:raise}",
        description: "Try/except block",
        confidence: 0.85,
    },
    Template {
        label: "with",
        body: "with ${1:open(path)} as ${2:f}:\n\t${0:pass}",
        description: "Context manager",
        confidence: 0.8,
    },
    Template {
        label: "import",
        body: "import ${1:module}",
        description: "Import a module",
        confidence: 0.8,
    },
    Template {
        label: "from … import",
        body: "from ${1:module} import ${2:name}",
        description: "Import names from a module",
        confidence: 0.8,
    },
    Template {
        label: "print(f\"…\")",
        body: "print(f\"${1}\")",
        description: "Print a formatted string",
        confidence: 0.8,
    },
    Template {
        label: "return",
        body: "return ${0:value}",
        description: "Return a value",
        confidence: 0.7,
    },
];
