//! The bridge against a client that reports every change as the whole text and applies
//! every edit at the positions given, stale or not (Vim's vim-lsp): the echo comes merged
//! with typing, and the judge must tell the two apart (`merged.rs`, `text_diff.rs`).

use super::*;

/// The editor reports `now` as a whole text, as vim-lsp does: the change is the smallest
/// edit that makes it, as the bridge computes it.
fn whole_text(p: &mut Pair, version: i32, now: &str) {
    let old = p.side.text().clone();
    let op = crate::text_diff::minimal_diff(&old, &Rope::from_str(now));
    p.change(version, op);
}

/// Editors test, vim-lsp (seed 2): vim-lsp applied `<c1>` at the end of `<init>` on a
/// text where the user had typed `<a1>` in front of it, so at the wrong place; then the
/// user typed `<a2>` at the top, and vim-lsp reported it all as one whole text. The
/// edit's text was where no single position could have put it, so the whole change was
/// taken for typing and `<c1>` came out doubled.
#[test]
fn regression_vim_lsp_echo_behind_typing_on_both_sides_was_taken_for_typing() {
    let mut p = Pair::new("<init>", 1);
    p.side.reports_whole_texts();
    p.remote(insert(6, 6, "<c1>"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    whole_text(&mut p, 2, "<a2><a1><c1><init>");
    assert_eq!(p.proxy.matches("<c1>").count(), 1, "{:?}", p.proxy);
    assert_eq!(p.proxy, "<a2><a1><init><c1>");
    p.apply_every_edit_and_converge();
    assert_eq!(p.proxy, "<a2><a1><init><c1>");
}

/// Editors test, vim-lsp: the user typed `<a1>` between two of the collaborator's words
/// vim-lsp had just inserted. vim-lsp reports an applied edit with its very next change,
/// so that change holds the echo for certain; judged by size alone, typing inside the
/// edit's text looked like no echo at all, and both words came out doubled.
#[test]
fn regression_vim_lsp_typing_inside_an_echo_doubled_it() {
    let mut p = Pair::new("<init>", 1);
    p.side.reports_whole_texts();
    p.remote(insert(6, 6, "<c1><c2>"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    whole_text(&mut p, 2, "<init><c1><a1><c2>");
    assert_eq!(p.users.len(), 1, "{:?}", p.users);
    assert_eq!(p.proxy, "<init><c1><a1><c2>");
    p.assert_converged();
}

/// A whole-text change that came before the answer may still be typing only: vim-lsp
/// reports an edit after answering. Nothing of the edit's text in it, it is the user's,
/// and the echo is looked for in the next one.
#[test]
fn vim_lsp_typing_reported_before_the_answer_is_the_users() {
    let mut p = Pair::new("<init>", 1);
    p.side.reports_whole_texts();
    p.remote(insert(6, 6, "<c1>"));
    let (id, _, _) = p.next().unwrap();
    whole_text(&mut p, 2, "<a1><init>");
    p.reply(id, EditReply::Applied);
    whole_text(&mut p, 3, "<a1><init><c1><a2>");
    assert_eq!(p.proxy, "<a1><init><c1><a2>");
    p.assert_converged();
}

/// Editors test, vim-lsp: two of a collaborator's words close together went out as one
/// replacement, the text between rewritten with itself; vim-lsp applied it over a token
/// its user had typed there and not reported yet, and the token was lost. A client
/// reporting whole texts gets each region alone.
#[test]
fn regression_a_merged_edit_wiped_out_unreported_typing() {
    let mut p = Pair::new("<x><y>", 0);
    p.side.reports_whole_texts();
    p.remote(
        Operation::new()
            .retain(3)
            .insert("<r>")
            .retain(3)
            .insert("<s>"),
    );
    let (_, _, edit) = p.next().unwrap();
    assert_eq!(edit, insert(6, 3, "<r>"), "only the first region");
}
