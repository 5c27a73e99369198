//! Table-driven tests: for each language, an input with a cursor and the first
//! suggestion's plain text.

mod common;

use common::{check_table, first};
use pairprog_autocomplete::SuggestionKind;

#[test]
fn python() {
    check_table(
        "python",
        &[
            // The old REST contract's patterns.
            ("def <|>", "name():\n    pass"),
            ("for <|>", "item in items:\n    pass"),
            ("class <|>", "Name:\n    def __init__(self):\n        pass"),
            ("if <|>", "condition:\n    pass"),
            // Keyword prefixes, indented: continuation lines one level deeper.
            ("class A:\n    de<|>", "f name():\n        pass"),
            ("wh<|>", "ile condition:\n    pass"),
            (
                "tr<|>",
                "y:\n    pass\nexcept Exception as error:\n    raise",
            ),
            ("if _<|>", "_name__ == \"__main__\":\n    main()"),
            ("from <|>", "module import name"),
            ("print(<|>", "f\"\")"),
            ("with <|>", "open(path) as f:\n    pass"),
            // Closing the construct being typed.
            ("def area(width, height)<|>", ":\n    "),
            ("def area(width, height<|>", "):\n    "),
            ("if total > 10<|>", ":\n    "),
            ("    for x in [1, 2<|>", "]:\n        "),
            ("else<|>", ":\n    pass"),
            ("print(\"done\"<|>", ")"),
        ],
    );
}

#[test]
fn javascript() {
    check_table(
        "javascript",
        &[
            ("function <|>", "name() {\n  \n}"),
            ("for <|>", "(let i = 0; i < array.length; i++) {\n  \n}"),
            ("if <|>", "(condition) {\n  \n}"),
            ("class <|>", "Name {\n  constructor() {\n    \n  }\n}"),
            ("console.<|>", "log();"),
            ("  cons<|>", "ole.log();"),
            ("try<|>", " {\n  \n} catch (error) {\n  \n}"),
            ("import <|>", "{ name } from 'module';"),
            ("function add(a, b<|>", ") {\n  \n}"),
            ("function add(a, b) {<|>", "\n  \n}"),
            ("if (x > 0)<|>", " {\n  \n}"),
            ("} else<|>", " {\n  \n}"),
            ("console.log(\"hi\"<|>", ");"),
            ("items.forEach((item) => {<|>", "\n  \n});"),
            ("const add = (a, b) => {<|>", "\n  \n};"),
        ],
    );
}

#[test]
fn typescript() {
    check_table(
        "typescript",
        &[
            ("function <|>", "name(): void {\n  \n}"),
            ("interface <|>", "Name {\n  field: string;\n}"),
            ("type <|>", "Name = string;"),
            ("for <|>", "(let i = 0; i < array.length; i++) {\n  \n}"),
            ("console.<|>", "log();"),
            ("while (queue.length > 0)<|>", " {\n  \n}"),
        ],
    );
}

#[test]
fn rust() {
    check_table(
        "rust",
        &[
            ("fn <|>", "name() {\n    \n}"),
            ("fn m<|>", "ain() {\n    \n}"),
            ("struct <|>", "Name {\n    \n}"),
            ("impl Parser {\n    fn <|>", "name() {\n        \n    }"),
            ("for <|>", "item in items {\n    \n}"),
            ("mat<|>", "ch value {\n    pattern => todo!(),\n}"),
            ("use <|>", "std::item;"),
            ("print<|>", "ln!(\"{}\", );"),
            ("pub fn parse(input: &str) -> u32<|>", " {\n    \n}"),
            ("    if count > 3<|>", " {\n        \n    }"),
            ("    let v = vec![1, 2<|>", "];"),
            ("fn longest<'a>(x: &'a str<|>", ") {\n    \n}"),
        ],
    );
}

#[test]
fn go() {
    check_table(
        "go",
        &[
            ("func <|>", "name() {\n\t\n}"),
            ("func m<|>", "ain() {\n\t\n}"),
            ("for <|>", "i := 0; i < n; i++ {\n\t\n}"),
            ("\tif err<|>", " != nil {\n\t\treturn err\n\t}"),
            ("type <|>", "Name struct {\n\t\n}"),
            ("fmt.<|>", "Println()"),
            ("func (s *Server) Start(<|>", ") {\n\t\n}"),
            ("\tif n > 0<|>", " {\n\t\t\n\t}"),
        ],
    );
}

#[test]
fn java() {
    check_table(
        "java",
        &[
            ("class <|>", "Name {\n    \n}"),
            ("public static<|>", " void main(String[] args) {\n    \n}"),
            ("for <|>", "(int i = 0; i < n; i++) {\n    \n}"),
            ("try <|>", "{\n    \n} catch (Exception e) {\n    \n}"),
            ("    System.<|>", "out.println();"),
            ("import <|>", "java.util.List;"),
            ("    public int size()<|>", " {\n        \n    }"),
            (
                "        if (items.isEmpty()<|>",
                ") {\n            \n        }",
            ),
        ],
    );
}

#[test]
fn c() {
    check_table(
        "c",
        &[
            ("for <|>", "(int i = 0; i < n; i++) {\n    \n}"),
            ("int m<|>", "ain(void) {\n    \n    return 0;\n}"),
            ("#inc<|>", "lude <stdio.h>"),
            ("    printf(<|>", "\"\\n\");"),
            ("struct <|>", "name {\n    \n};"),
            ("int add(int a, int b)<|>", " {\n    \n}"),
            ("    while (left < right<|>", ") {\n        \n    }"),
        ],
    );
}

#[test]
fn cpp() {
    check_table(
        "cpp",
        &[
            ("class <|>", "Name {\npublic:\n    Name();\n    \n};"),
            ("for (const<|>", " auto& item : items) {\n    \n}"),
            ("for (int<|>", " i = 0; i < n; i++) {\n    \n}"),
            ("std::<|>", "cout <<  << std::endl;"),
            (
                "try<|>",
                " {\n    \n} catch (const std::exception& e) {\n    \n}",
            ),
            ("int main() {<|>", "\n    \n}"),
            ("struct Point {<|>", "\n    \n};"),
        ],
    );
}

#[test]
fn template_snippets_have_tab_stops_and_plain_text_has_none() {
    let def = first("python", "def <|>").expect("a def template");
    assert_eq!(def.kind, SuggestionKind::Template);
    assert_eq!(
        def.snippet.as_deref(),
        Some("${1:name}(${2}):\n    ${0:pass}")
    );
    assert_eq!(def.typed_chars, 4);
    let c_loop = first("c", "for <|>").expect("a for template");
    assert_eq!(
        c_loop.snippet.as_deref(),
        Some("(int ${1:i} = 0; $1 < ${2:n}; $1++) {\n    $0\n}")
    );
}

#[test]
fn full_keywords_rank_above_partial_ones() {
    let full = first("python", "def <|>").expect("def").confidence;
    let partial = first("python", "de<|>").expect("def").confidence;
    let barely = first("python", "d<|>").expect("def").confidence;
    assert!(
        full > partial && partial > barely,
        "{full} {partial} {barely}"
    );
}
