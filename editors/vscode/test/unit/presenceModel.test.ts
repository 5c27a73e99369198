import { strict as assert } from "node:assert";
import { test } from "node:test";
import { colorsInUse, marksForDocument } from "../../src/presenceModel";
import type { PresenceParams, RemoteCursor } from "../../src/protocol";

const A = "file:///work/a.rs";
const B = "file:///work/b.rs";

function cursor(participantId: string, uri: string, ...selections: [number, number, number, number][]): RemoteCursor {
  return {
    participantId,
    name: `name-${participantId}`,
    color: "#000000",
    uri,
    path: uri.slice("file:///work/".length),
    selections: selections.map(([al, ac, hl, hc]) => ({
      anchor: { line: al, character: ac },
      head: { line: hl, character: hc },
    })),
  };
}

function presence(cursors: RemoteCursor[]): PresenceParams {
  return {
    room: "r1",
    connection: "connected",
    you: { id: "me", name: "me", color: "#ffffff" },
    participants: [
      { id: "alice", name: "Alice", color: "#E6194B" },
      { id: "bob", name: "Bob", color: "#3cb44b" },
    ],
    cursors,
  };
}

const inA = (uri: string): boolean => uri === A;

test("only cursors in this document are drawn", () => {
  const marks = marksForDocument(presence([cursor("alice", A, [0, 1, 0, 1]), cursor("bob", B, [2, 0, 2, 0])]), inA);
  assert.deepEqual(
    marks.map((m) => m.participantId),
    ["alice"],
  );
});

test("name and colour come from the participant list", () => {
  const [alice] = marksForDocument(presence([cursor("alice", A, [0, 1, 0, 1])]), inA);
  assert.equal(alice?.name, "Alice");
  assert.equal(alice?.color, "#e6194b");
});

test("a cursor without a participant entry keeps its own name and colour", () => {
  const stray = { ...cursor("carol", A, [1, 1, 1, 1]), color: "#4363D8" };
  const [carol] = marksForDocument(presence([stray]), inA);
  assert.equal(carol?.name, "name-carol");
  assert.equal(carol?.color, "#4363d8");
});

test("an empty selection is a caret only; a backward selection is ordered start to end", () => {
  const [alice] = marksForDocument(presence([cursor("alice", A, [0, 4, 0, 4], [3, 9, 1, 2])]), inA);
  assert.deepEqual(alice?.carets, [
    { line: 0, character: 4 },
    { line: 1, character: 2 },
  ]);
  assert.deepEqual(alice?.selections, [{ start: { line: 1, character: 2 }, end: { line: 3, character: 9 } }]);
});

test("a forward selection on one line keeps its order", () => {
  const [bob] = marksForDocument(presence([cursor("bob", A, [2, 1, 2, 5])]), inA);
  assert.deepEqual(bob?.selections, [{ start: { line: 2, character: 1 }, end: { line: 2, character: 5 } }]);
});

test("malformed selections are skipped and do not hide other cursors", () => {
  const bad = cursor("alice", A, [0, 0, 0, 0]);
  bad.selections = [
    { anchor: { line: -1, character: 0 }, head: { line: 0, character: 0 } },
    { anchor: { line: 0, character: 1.5 }, head: { line: 0, character: 0 } },
    null as unknown as RemoteCursor["selections"][number],
  ];
  const marks = marksForDocument(presence([bad, cursor("bob", A, [5, 0, 5, 0])]), inA);
  assert.deepEqual(
    marks.map((m) => m.participantId),
    ["bob"],
  );
});

test("a participant with cursors in two entries for one document gets one set of marks", () => {
  const marks = marksForDocument(presence([cursor("alice", A, [0, 0, 0, 0]), cursor("alice", A, [1, 0, 1, 0])]), inA);
  assert.equal(marks.length, 1);
  assert.equal(marks[0]?.carets.length, 2);
});

test("colours in use cover participants and cursors", () => {
  const used = colorsInUse(presence([{ ...cursor("carol", A, [0, 0, 0, 0]), color: "#911EB4" }]));
  assert.deepEqual([...used].sort(), ["#3cb44b", "#911eb4", "#e6194b"]);
});
