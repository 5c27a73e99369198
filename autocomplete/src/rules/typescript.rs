//! TypeScript: JavaScript's rules plus typed functions, interfaces and type aliases.

use super::{javascript, BlockStyle, LanguageRules, Template};
use crate::indent::IndentUnit;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: javascript::SYNTAX,
    default_indent: IndentUnit::Spaces(2),
    blocks: BlockStyle::Braces {
        parenthesized: true,
    },
    keywords: javascript::KEYWORDS,
    templates: &[TYPED, javascript::SHARED],
};

const TYPED: &[Template] = &[
    Template {
        label: "function",
        body: "function ${1:name}(${2}): ${3:void} {\n\t$0\n}",
        description: "Function declaration with a return type",
        confidence: 0.9,
    },
    Template {
        label: "async function",
        body: "async function ${1:name}(${2}): Promise<${3:void}> {\n\t$0\n}",
        description: "Async function declaration",
        confidence: 0.8,
    },
    Template {
        label: "interface",
        body: "interface ${1:Name} {\n\t${2:field}: ${3:string};\n}",
        description: "Interface declaration",
        confidence: 0.85,
    },
    Template {
        label: "type",
        body: "type ${1:Name} = ${0:string};",
        description: "Type alias",
        confidence: 0.8,
    },
    Template {
        label: "enum",
        body: "enum ${1:Name} {\n\t$0\n}",
        description: "Enum declaration",
        confidence: 0.75,
    },
];
