//! The editor bridge against each client behaviour of `lsp-clients.md`, one step at a
//! time. `Pair` plays the proxy's text; the test plays the editor.

use super::editor_side::{EditReply, EditorSide};
use pairprog_protocol::Operation;
use ropey::Rope;

struct Pair {
    side: EditorSide,
    /// The proxy's text: the relay's plus the user's edits.
    proxy: String,
    /// Every user edit the bridge reported, in order.
    users: Vec<Operation>,
}

impl Pair {
    fn new(text: &str, version: i32) -> Pair {
        Pair {
            side: EditorSide::new(Rope::from_str(text), version),
            proxy: text.to_owned(),
            users: Vec::new(),
        }
    }

    fn remote(&mut self, op: Operation) {
        self.proxy = op.apply_str(&self.proxy).unwrap();
        self.side.remote(&op).unwrap();
    }

    fn take(&mut self, users: Vec<Operation>) {
        for user in users {
            self.proxy = user.apply_str(&self.proxy).unwrap();
            self.users.push(user);
        }
    }

    /// The editor reports a change (over its current text).
    fn change(&mut self, version: i32, op: Operation) {
        self.changes(version, vec![op]);
    }

    /// A `didChange` with several content changes, each over the previous one's text.
    fn changes(&mut self, version: i32, ops: Vec<Operation>) {
        let mut text = self.side.text().clone();
        for op in &ops {
            op.apply(&mut text).unwrap();
        }
        let users = self.side.editor_change(version, &ops, text).unwrap();
        self.take(users);
    }

    fn reply(&mut self, id: u64, reply: EditReply) {
        let users = self.side.edit_reply(id, reply).unwrap();
        self.take(users);
    }

    fn editor(&self) -> String {
        self.side.text().to_string()
    }

    /// The edit the bridge wants applied, as an operation over the editor's text.
    fn next(&mut self) -> Option<(u64, i32, Operation)> {
        let edit = self.side.next_edit().unwrap()?;
        let op = edit
            .splice
            .to_operation(self.side.text().len_chars())
            .unwrap();
        Some((edit.id, edit.version, op))
    }

    fn assert_converged(&self) {
        assert!(self.side.is_settled(), "bridge settled");
        assert_eq!(self.editor(), self.proxy);
    }
}

fn insert(len: usize, at: usize, text: &str) -> Operation {
    Operation::splice(len, at, 0, text).unwrap()
}

#[test]
fn vscode_echo_then_reply_applied() {
    let mut p = Pair::new("hello", 1);
    p.remote(insert(5, 5, " world"));
    let (id, version, edit) = p.next().unwrap();
    assert_eq!(version, 1);
    p.change(2, edit);
    p.reply(id, EditReply::Applied);
    assert!(p.users.is_empty(), "an echo is not a user edit");
    p.assert_converged();
}

#[test]
fn helix_echo_arrives_before_the_reply() {
    let mut p = Pair::new("abc", 3);
    p.remote(insert(3, 0, "X"));
    let (id, _, edit) = p.next().unwrap();
    p.change(4, edit);
    assert!(p.users.is_empty());
    p.reply(id, EditReply::Applied);
    assert!(p.users.is_empty());
    p.assert_converged();
}

#[test]
fn vscode_rejects_a_stale_edit_and_the_bridge_sends_it_again() {
    let mut p = Pair::new("abc", 1);
    p.remote(insert(3, 0, "R"));
    let (id, _, _) = p.next().unwrap();
    // The user typed before the editor saw our edit: it is rejected.
    p.change(2, insert(3, 3, "u"));
    p.reply(id, EditReply::Rejected);
    assert_eq!(p.users.len(), 1, "the keystroke reaches the room");
    assert_eq!(p.proxy, "Rabcu");
    let (id, version, edit) = p.next().unwrap();
    assert_eq!(version, 2);
    p.change(3, edit);
    p.reply(id, EditReply::Applied);
    p.assert_converged();
}

#[test]
fn eglot_error_waits_for_the_newer_version_before_resending() {
    let mut p = Pair::new("abc", 5);
    p.remote(insert(3, 1, "R"));
    let (id, _, _) = p.next().unwrap();
    // Eglot answers with an error at once; its pending change comes 0.5 s later.
    p.reply(id, EditReply::Rejected);
    assert!(
        p.next().is_none(),
        "resending at the same version would fail again"
    );
    p.change(6, insert(3, 0, "u"));
    let (id, version, edit) = p.next().unwrap();
    assert_eq!(version, 6);
    p.change(7, edit);
    p.reply(id, EditReply::Applied);
    p.assert_converged();
    assert_eq!(p.proxy, "uaRbc");
}

#[test]
fn stock_neovim_skips_a_stale_edit_but_answers_applied() {
    let mut p = Pair::new("abcdef", 10);
    // Stock Neovim: version-0 edits held, and `applied: true` may mean skipped.
    p.side.hold_at_version_zero();
    p.remote(insert(6, 0, "REMOTE"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    // The debounced change holds only the user's typing: the edit was skipped.
    p.change(11, insert(6, 6, "z"));
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.editor(), "abcdefz");
    let (id, version, edit) = p.next().unwrap();
    assert_eq!(version, 11);
    p.reply(id, EditReply::Applied);
    p.change(12, edit);
    p.assert_converged();
    assert_eq!(p.proxy, "REMOTEabcdefz");
}

#[test]
fn stock_neovim_merges_the_echo_and_typing_in_one_change() {
    let mut p = Pair::new("abc", 4);
    // Stock Neovim: version-0 edits held, and `applied: true` may mean skipped.
    p.side.hold_at_version_zero();
    p.remote(insert(3, 3, "<r>"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    // Applied edit then typing, reported together 150 ms later.
    p.changes(7, vec![insert(3, 3, "<r>"), insert(6, 0, "x")]);
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.proxy, "xabc<r>");
    p.assert_converged();
}

#[test]
fn remote_edits_during_an_outstanding_edit_follow_it() {
    let mut p = Pair::new("0123456789", 1);
    p.remote(insert(10, 0, "A"));
    let (id, _, edit) = p.next().unwrap();
    p.remote(insert(11, 11, "B"));
    assert!(p.next().is_none(), "one edit outstanding at a time");
    p.change(2, edit);
    p.reply(id, EditReply::Applied);
    let (id, version, edit) = p.next().unwrap();
    assert_eq!(version, 2);
    p.change(3, edit);
    p.reply(id, EditReply::Applied);
    p.assert_converged();
    assert_eq!(p.proxy, "A0123456789B");
}

#[test]
fn version_0_is_used_with_clients_that_check_it() {
    let mut p = Pair::new("abc", 0);
    p.remote(insert(3, 0, "R"));
    let (_, version, _) = p.next().unwrap();
    assert_eq!(version, 0);
}

#[test]
fn nothing_goes_to_neovim_still_at_version_0() {
    let mut p = Pair::new("abc", 0);
    p.side.hold_at_version_zero();
    p.remote(insert(3, 0, "R"));
    assert!(p.next().is_none());
    p.change(3, insert(3, 3, "u"));
    let (_, version, _) = p.next().unwrap();
    assert_eq!(version, 3);
}

#[test]
fn an_unanswered_edit_is_judged_by_text() {
    let mut p = Pair::new("abc", 1);
    p.remote(insert(3, 0, "R"));
    let (id, _, edit) = p.next().unwrap();
    p.change(2, edit);
    p.reply(id, EditReply::Unknown);
    assert!(p.users.is_empty());
    p.assert_converged();
}

#[test]
fn regression_applied_edit_that_never_echoes_is_sent_again() {
    let mut p = Pair::new("abc", 1);
    p.remote(insert(3, 0, "R"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    p.side.echo_overdue(id).unwrap();
    let (_, version, edit) = p.next().unwrap();
    assert_eq!(version, 1);
    assert_eq!(edit.apply_str("abc").unwrap(), "Rabc");
}

#[test]
fn typing_queued_behind_an_echo_keeps_its_order() {
    let mut p = Pair::new("ab", 1);
    p.remote(insert(2, 1, "R"));
    let (id, _, edit) = p.next().unwrap();
    p.change(2, edit);
    p.change(3, insert(3, 3, "1"));
    p.change(4, insert(4, 4, "2"));
    p.reply(id, EditReply::Applied);
    assert_eq!(p.users.len(), 2);
    assert_eq!(p.proxy, "aRb12");
    p.assert_converged();
}

/// Real VS Code (seen in the code-server end-to-end test): the version check passes in
/// the extension host, the user types in the window, then the window applies the edit.
/// The answer `applied: true` comes first, then the typing, then the echo.
#[test]
fn regression_vscode_echo_after_typing_was_taken_for_typing() {
    let mut p = Pair::new("abc\nxyz", 1);
    p.remote(insert(7, 1, "RR"));
    let (id, _, edit) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    // Typing at the end of the document, after the edit's place.
    p.change(2, insert(7, 7, "u"));
    // The echo, at the position the edit was given.
    assert_eq!(edit.apply_str("abc\nxyz").unwrap(), "aRRbc\nxyz");
    p.change(3, insert(8, 1, "RR"));
    assert_eq!(p.editor(), "aRRbc\nxyzu");
    assert_eq!(
        p.users.len(),
        1,
        "only the typing is the user's: {:?}",
        p.users
    );
    p.assert_converged();
}

#[test]
fn a_late_echo_behind_typing_before_the_edit_is_still_recognised() {
    let mut p = Pair::new("abc", 1);
    p.remote(insert(3, 2, "R"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    // The user types in front of the edit's place; the editor moved the edit with it.
    p.change(2, insert(3, 0, "u"));
    p.change(3, insert(4, 3, "R"));
    assert_eq!(p.editor(), "uabRc");
    assert_eq!(p.users.len(), 1);
    p.assert_converged();
}

#[test]
fn stock_neovim_applied_without_echo_still_means_skipped() {
    let mut p = Pair::new("abc", 1);
    p.side.hold_at_version_zero();
    p.remote(insert(3, 0, "R"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    p.change(2, insert(3, 3, "u"));
    assert_eq!(p.users.len(), 1);
    // Skipped: the edit goes out again, over the new text.
    let (_, version, edit) = p.next().unwrap();
    assert_eq!(version, 2);
    assert_eq!(edit.apply_str("abcu").unwrap(), "Rabcu");
}

#[test]
fn a_late_echo_that_never_comes_gives_up_after_a_bound() {
    let mut p = Pair::new("", 1);
    p.remote(insert(0, 0, "R"));
    let (id, _, _) = p.next().unwrap();
    p.reply(id, EditReply::Applied);
    for v in 0..80 {
        let len = p.side.text().len_chars();
        p.change(2 + v, insert(len, len, "u"));
    }
    // The edit was given up on and goes out again.
    let (_, _, edit) = p.next().unwrap();
    assert_eq!(edit.apply_str(&p.editor()).unwrap(), p.proxy);
}
