//! Context decides what is offered: nothing from templates inside strings, comments or
//! expressions; indentation and line breaks follow the file.

mod common;

use common::{first, suggestions};
use pairprog_autocomplete::SuggestionKind;

/// Inputs where no keyword template or closing may appear.
const NO_TEMPLATES: &[(&str, &str)] = &[
    ("python", "# def <|>"),
    ("python", "x = \"def <|>"),
    ("python", "'''\nclass <|>"),
    ("python", "\"\"\"Docs.\n\nfor <|>"),
    ("python", "x = de<|>"),
    ("python", "total = compute(\n    de<|>"),
    ("python", "print(\"(\"<|>  # trailing"),
    ("python", "de<|>f"),
    ("javascript", "// function <|>"),
    ("javascript", "/* for <|>"),
    ("javascript", "const s = `\nif <|>"),
    ("javascript", "const f = fun<|>"),
    ("javascript", "call(a,\n  cons<|>"),
    ("typescript", "let x: string = \"interface <|>"),
    ("rust", "// fn <|>"),
    ("rust", "/// struct <|>"),
    ("rust", "let s = \"fn <|>"),
    ("rust", "let s = \"multi\nline fn <|>"),
    ("go", "s := `raw\nfunc <|>"),
    ("go", "x := fun<|>"),
    ("java", "String s = \"class <|>"),
    ("java", "/** Docs\n * for <|>"),
    ("c", "/* int m<|>"),
    ("c", "char c = '{'; // for <|>"),
    ("cpp", "auto s = \"class <|>"),
];

#[test]
fn no_templates_in_strings_comments_or_expressions() {
    let mut failures = Vec::new();
    for (language, marked) in NO_TEMPLATES {
        let offending: Vec<_> = suggestions(language, marked)
            .into_iter()
            .filter(|s| s.kind != SuggestionKind::Identifier)
            .map(|s| s.label)
            .collect();
        if !offending.is_empty() {
            failures.push(format!("{language} {marked:?}: {offending:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn code_after_a_closed_string_or_comment_gets_templates_again() {
    // The same keywords as above, once the string or comment has ended.
    let cases = [
        ("python", "x = \"def\"\ndef <|>"),
        ("javascript", "/* for */\nfor <|>"),
        ("rust", "let s = \"fn\";\nfn <|>"),
        ("c", "char c = '\"';\nfor <|>"),
        ("rust", "fn f<'a>(x: &'a str) {}\nfn <|>"),
    ];
    for (language, marked) in cases {
        let top = first(language, marked).unwrap_or_else(|| panic!("{marked:?}: nothing"));
        assert_eq!(top.kind, SuggestionKind::Template, "{marked:?}: {top:?}");
    }
}

#[test]
fn indentation_follows_the_file_style() {
    // Tabs in the file: the body is one tab deeper than the current line.
    let tabbed = first("python", "class A:\n\tdef f(self):\n\t\tpass\n\tde<|>").expect("def");
    assert_eq!(tabbed.text, "f name():\n\t\tpass");
    // Two-space JavaScript stays two-space; four-space stays four-space.
    let two = first("javascript", "if (a) {\n  b();\n}\nif (c) {<|>").expect("block");
    assert_eq!(two.text, "\n  \n}");
    let four = first("javascript", "if (a) {\n    b();\n}\nif (c) {<|>").expect("block");
    assert_eq!(four.text, "\n    \n}");
}

#[test]
fn crlf_files_get_crlf_insertions() {
    let top = first("python", "import os\r\n\r\ndef <|>").expect("def");
    assert_eq!(top.text, "name():\r\n    pass");
}

#[test]
fn closing_is_only_offered_at_the_end_of_a_line() {
    let labels: Vec<_> = suggestions("javascript", "console.log(\"hi\"<|> + x")
        .into_iter()
        .map(|s| s.kind)
        .collect();
    assert!(!labels.contains(&SuggestionKind::Closing), "{labels:?}");
}

#[test]
fn a_new_name_being_defined_gets_no_identifier_suggestions() {
    let code = "def compute_total(x):\n    pass\n\ndef comp<|>";
    assert!(suggestions("python", code)
        .iter()
        .all(|s| s.kind != SuggestionKind::Identifier));
    let code = "let counter = 1;\nlet mut cou<|>";
    assert!(suggestions("rust", code)
        .iter()
        .all(|s| s.kind != SuggestionKind::Identifier));
}

#[test]
fn identifiers_in_comments_are_offered_with_lower_confidence() {
    let in_code = first("python", "def compute_total():\n    pass\n\ncomp<|>").expect("name");
    let in_comment =
        first("python", "def compute_total():\n    pass\n\n# see comp<|>").expect("name");
    assert_eq!(in_code.label, "compute_total");
    assert_eq!(in_comment.label, "compute_total");
    assert!(in_comment.confidence < in_code.confidence);
}
