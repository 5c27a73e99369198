import { strict as assert } from "node:assert";
import { test } from "node:test";
import { participantList } from "../../src/participants";
import { NO_PRESENCE, type PresenceParams } from "../../src/protocol";
import { statusView } from "../../src/statusText";

const inRoom: PresenceParams = {
  room: "k3x9",
  connection: "connected",
  you: { id: "me", name: "Me", color: "#ffffff" },
  participants: [{ id: "a", name: "Alice", color: "#e6194b" }],
  cursors: [
    {
      participantId: "a",
      name: "Alice",
      color: "#e6194b",
      uri: "file:///w/src/main.rs",
      path: "src/main.rs",
      selections: [{ anchor: { line: 9, character: 0 }, head: { line: 9, character: 4 } }],
    },
  ],
};

test("the status bar shows room, everyone counted, and the connection when it is not up", () => {
  assert.equal(statusView(inRoom, true).text, "$(broadcast) k3x9 · 2");
  const reconnecting = statusView({ ...inRoom, connection: "reconnecting" }, true);
  assert.equal(reconnecting.text, "$(sync~spin) k3x9 · 2 · reconnecting");
  assert.match(reconnecting.tooltip, /2 participants, reconnecting/);
});

test("the status bar says when there is no room or no server", () => {
  assert.match(statusView(NO_PRESENCE, true).tooltip, /Not in a room/);
  assert.match(statusView(inRoom, false).text, /error/);
});

test("participants: you first, others with where their cursor is, then room actions", () => {
  const items = participantList(inRoom, true);
  assert.deepEqual(
    items.map((i) => [i.label, i.description]),
    [
      ["$(account) Me", "you"],
      ["$(person) Alice", "src/main.rs:10:5"],
      ["$(copy) Copy Room ID", "k3x9"],
      ["$(sign-out) Leave Room", undefined],
    ],
  );
  assert.deepEqual(items[1]?.reveal, { uri: "file:///w/src/main.rs", line: 9, character: 4 });
});

test("participants without a room offer to create or join one", () => {
  assert.deepEqual(
    participantList(NO_PRESENCE, true).map((i) => i.command),
    ["pairprog.create", "pairprog.join"],
  );
  assert.deepEqual(
    participantList(NO_PRESENCE, false).map((i) => i.command),
    ["pairprog.restart"],
  );
});
