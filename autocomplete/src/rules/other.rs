//! Languages without rules of their own: no templates, only identifiers from the room.
//!
//! The syntax treats quotes as strings so that words inside them are not counted as
//! code, and the only way to define a name is `name = value`, which most languages share.

use super::{BlockStyle, Keywords, LanguageRules};
use crate::indent::IndentUnit;
use crate::lexer::Syntax;

pub(crate) static RULES: LanguageRules = LanguageRules {
    syntax: Syntax {
        line_comment: None,
        block_comment: None,
        quotes: "\"'",
        multiline_quotes: "",
        raw_quotes: "",
        triple_quotes: "",
        rust_chars: false,
        dollar_identifiers: false,
    },
    default_indent: IndentUnit::Spaces(4),
    blocks: BlockStyle::Braces {
        parenthesized: false,
    },
    keywords: Keywords {
        modifiers: &[],
        conditions: &[],
        named: &[],
        bare: &[],
        semicolon_blocks: &[],
        semicolons: false,
        define_function: &[],
        define_type: &[],
        define_variable: &[],
        skip_before_name: &[],
        typed_declarations: false,
        reserved: &[],
    },
    templates: &[],
};
