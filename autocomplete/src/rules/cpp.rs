//! C++: the C-family tables plus classes, `std::cout`, range loops and try/catch.

use super::{c, BlockStyle, LanguageRules, Template, C_FAMILY_SYNTAX, C_FAMILY_TEMPLATES};
use crate::indent::IndentUnit;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: C_FAMILY_SYNTAX,
    default_indent: IndentUnit::Spaces(4),
    blocks: BlockStyle::Braces {
        parenthesized: true,
    },
    keywords: c::KEYWORDS,
    templates: &[TEMPLATES, C_FAMILY_TEMPLATES],
};

const TEMPLATES: &[Template] = &[
    Template {
        label: "int main",
        body: "int main() {\n\t$0\n\treturn 0;\n}",
        description: "Program entry point",
        confidence: 0.8,
    },
    Template {
        label: "class",
        body: "class ${1:Name} {\npublic:\n\t$1();\n\t$0\n};",
        description: "Class with a constructor",
        confidence: 0.9,
    },
    Template {
        label: "for (const auto& … : …)",
        body: "for (const auto& ${1:item} : ${2:items}) {\n\t$0\n}",
        description: "Range-based for loop",
        confidence: 0.8,
    },
    Template {
        label: "try",
        body: "try {\n\t$1\n} catch (const ${2:std::exception}& ${3:e}) {\n\t$0\n}",
        description: "Try/catch block",
        confidence: 0.85,
    },
    Template {
        label: "#include <…>",
        body: "#include <${1:iostream}>",
        description: "Include a standard header",
        confidence: 0.85,
    },
    Template {
        label: "#include \"…\"",
        body: "#include \"${1:header.hpp}\"",
        description: "Include a local header",
        confidence: 0.75,
    },
    Template {
        label: "std::cout",
        body: "std::cout << ${1} << std::endl;",
        description: "Print a line",
        confidence: 0.8,
    },
    Template {
        label: "namespace",
        body: "namespace ${1:name} {\n\n$0\n\n}",
        description: "Namespace",
        confidence: 0.75,
    },
];
