// The room page (/r/{roomId}#secret): joins the room over the WebSocket, keeps one
// CodeMirror state per open document, and wires files, people, presence, connection
// state and links to the DOM. The OT bookkeeping lives in ../ot/sync.ts.

import { connection, handleConnection, name, roomId, secret } from "./early.js";
import { EditorState, Transaction, type StateEffect } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import type { ConnectionState } from "../connection.js";
import { Bias, Operation } from "../ot/operation.js";
import { DocSync, type Outgoing } from "../ot/sync.js";
import { docCharOffset, docUtf16Offset, operationToChanges } from "../ot/doc.js";
import type { CursorInfo, DocumentInfo, Participant, ServerMessage } from "../protocol.js";
import { byId, roomLink, saveName } from "../shared.js";
import { setRemoteCursors, type RemoteCursor } from "./cursors.js";
import { editorExtensions, remoteEdit, wrapCompartment, wrapping } from "./editor.js";
import { LANGUAGES, languageOfPath, languageSupport } from "./languages.js";
import { languageCompartment } from "./editor.js";

interface Doc {
  info: DocumentInfo;
  sync: DocSync | null;
  /** The document's editor state while it is not the one shown. */
  state: EditorState | null;
  /** Opened on the current connection: ops may be sent. */
  ready: boolean;
  /** An `open` is on its way; another would restart the subscription for nothing. */
  opening: boolean;
  /** The language and wrapping its state was made or last shown with. */
  configured: { language: string; wrap: boolean };
  /**
   * Collaborators' cursors in chars of the relay's text at the revision we hold (what
   * `presence` states), moved with every revision; shown through our pending edits.
   */
  cursors: Map<string, CursorInfo>;
  /**
   * Our latest cursor while our edits await the relay, in the relay's text at the
   * revision we hold; sent once they are all acknowledged (see `sendOwnCursor`).
   */
  cursorWaiting: Selection[] | null;
}

interface Selection {
  anchor: number;
  head: number;
}

/** At most one cursor update per this many milliseconds. */
const CURSOR_THROTTLE_MS = 50;
const WRAP_KEY = "pairprog.wrap";

const docs = new Map<string, Doc>();
const people = new Map<string, Participant>();
let me: Participant | null = null;
let active: string | null = null;
let readOnly = false;
let cursorTimer: ReturnType<typeof setTimeout> | null = null;
let readyAt: number | null = null;
/** Whether long lines wrap: a choice kept in this browser. */
let wrap = localStorage.getItem(WRAP_KEY) !== "0";

const statusEl = byId("status");
const messageEl = byId("message");
const filesEl = byId("files");
const peopleEl = byId("people");
const countEl = byId("count");
const pathEl = byId("editor-path");

/**
 * The editor, made when the first document is shown, with that document's state: made
 * empty up front, CodeMirror would build its DOM twice before anything is editable.
 */
let view: EditorView | null = null;

handleConnection({ message: onMessage, state: onState });

byId("room-title").textContent = `Room ${roomId}`;
document.title = `${roomId} · pairprog`;
setupLinks();
setupAddFile();
setupWrap();
setupRename();

// A read-only handle for tests and for debugging from the console.
(window as unknown as { pairprog: object }).pairprog = {
  text: (path?: string) => docText(path ?? active ?? ""),
  active: () => active,
  synced: () => [...docs.values()].every((d) => d.sync === null || d.sync.isSynchronized()),
  /** Milliseconds from navigation to the first editable document (measured by web/bench/). */
  readyAt: () => readyAt,
};

function onState(state: ConnectionState): void {
  statusEl.dataset.state = state.kind;
  switch (state.kind) {
    case "connecting":
      statusEl.textContent = "Connecting…";
      break;
    case "connected":
      performance.mark("pairprog:welcome");
      statusEl.textContent = state.reconnected ? "Reconnected" : "Connected";
      break;
    case "reconnecting": {
      for (const d of docs.values()) d.ready = false;
      const pending = [...docs.values()].reduce((n, d) => n + (d.sync?.pendingOps() ?? 0), 0);
      const kept = pending > 0 ? " Your edits are kept and will be sent." : "";
      statusEl.textContent = `Offline: reconnecting (attempt ${state.attempt}).${kept}`;
      break;
    }
    case "failed":
      statusEl.textContent = "Not connected";
      showMessage(state.message);
      break;
  }
}

function onMessage(msg: ServerMessage): void {
  switch (msg.type) {
    case "welcome":
      me = msg.you;
      readOnly = msg.you.readOnly === true;
      byId("readonly-badge").hidden = !readOnly;
      people.clear();
      for (const p of msg.participants) people.set(p.id, p);
      people.set(me.id, me);
      for (const info of msg.documents) addDocument(info);
      renderPeople();
      renderFiles();
      // Reopen what we had, from the revision we know; or open the first document.
      for (const d of docs.values()) {
        d.opening = false;
        if (d.sync !== null) connection.send({ type: "open", path: d.info.path, revision: d.sync.revision });
      }
      if (active === null && msg.documents.length > 0) activate(msg.documents[0].path);
      else if (active !== null && docs.get(active)?.sync === null) activate(active);
      if (msg.documents.length === 0) pathEl.textContent = readOnly ? "The room has no files yet." : "The room has no files yet: add one.";
      break;
    case "opened":
      onOpened(msg);
      break;
    case "ack": {
      const d = docs.get(msg.path);
      const committed = d?.sync?.inFlightOp(msg.seq);
      if (d && committed) moveCursors(d, committed, me?.id ?? "");
      if (d?.sync) send(d, d.sync.ack(msg.seq));
      if (d) releaseOwnCursor(d);
      updateSyncedFlag();
      break;
    }
    case "remote": {
      const d = docs.get(msg.path);
      if (d?.sync) {
        const op = Operation.fromJSON(msg.op);
        moveCursors(d, op, msg.author);
        applyRemote(d, d.sync.remote(op));
        // The author's cursor moves past their own insert, which mapping the shown
        // cursors through the change (CodeMirror keeps them in front) would not do.
        if (active === d.info.path && d.cursors.has(msg.author)) refreshCursors();
      }
      break;
    }
    case "joined":
      people.set(msg.participant.id, msg.participant);
      renderPeople(msg.count);
      break;
    case "left":
      people.delete(msg.participantId);
      for (const d of docs.values()) d.cursors.delete(msg.participantId);
      renderPeople(msg.count);
      refreshCursors();
      break;
    case "presence": {
      const d = docs.get(msg.path);
      for (const other of docs.values()) other.cursors.delete(msg.participantId);
      if (d && msg.selections.length > 0) d.cursors.set(msg.participantId, msg);
      refreshCursors();
      break;
    }
    case "documentAdded":
      addDocument({ path: msg.path, language: msg.language, revision: msg.revision });
      renderFiles();
      break;
    case "error":
      onError(msg.code, msg.message, msg.path);
      break;
  }
}

function onOpened(msg: Extract<ServerMessage, { type: "opened" }>): void {
  performance.mark("pairprog:opened");
  let d = docs.get(msg.path);
  if (d === undefined) {
    d = addDocument({ path: msg.path, language: msg.language, revision: msg.revision });
    renderFiles();
  }
  d.info.language = msg.language;
  d.opening = false;
  d.cursors.clear();
  // A waiting cursor was in the text of the revision we held; the catch-up moves on
  // without it, and the next cursor the user makes goes instead.
  d.cursorWaiting = null;
  for (const c of msg.cursors) if (c.selections.length > 0) d.cursors.set(c.participantId, c);
  if (d.sync === null) {
    const text = msg.text ?? "";
    d.sync = new DocSync(text, msg.revision);
    d.state = EditorState.create({ doc: text, extensions: extensionsFor(msg.language) });
    d.configured = { language: msg.language, wrap };
    d.ready = true;
    if (active === msg.path) show(d);
  } else {
    const { remote, out } = d.sync.reopened(msg.operations, msg.text, msg.revision, connection.clientId ?? "");
    for (const op of remote) applyRemote(d, op);
    d.ready = true;
    send(d, out);
  }
  refreshCursors();
}

/** `data-synced` on the status says whether every edit of ours is committed. */
function updateSyncedFlag(): void {
  statusEl.dataset.synced = String([...docs.values()].every((d) => d.sync === null || d.sync.isSynchronized()));
}

function onError(code: string, message: string, path: string | undefined): void {
  const d = path === undefined ? undefined : docs.get(path);
  if (code === "unavailable" && d?.sync) {
    // The relay could not commit; the operation was not applied. Send it again.
    send(d, d.sync.resend());
    return;
  }
  if (code === "read_only") {
    showMessage("This link is read-only: your changes are not shared.");
    return;
  }
  if (code === "not_open" && d?.sync) {
    // The relay does not count us as subscribed (a message overtook our reopen, or it
    // let the document go): reopen from the revision we know, which keeps and resends
    // the pending edits as after a reconnect. Starting over from the relay's text would
    // drop them (the e2e relay-restart test lost 30 typed tokens that way).
    if (d.ready) {
      d.ready = false;
      d.opening = connection.send({ type: "open", path: d.info.path, revision: d.sync.revision });
    }
    return;
  }
  if (d && ["invalid_operation", "future_revision", "stale_revision", "not_open"].includes(code)) {
    // Our view of the document and the relay's disagree: start it over from the relay's.
    showMessage(`The document ${d.info.path} was reloaded from the relay (${message}).`);
    d.sync = null;
    d.ready = false;
    d.opening = connection.send({ type: "open", path: d.info.path });
    return;
  }
  showMessage(message);
}

function addDocument(info: DocumentInfo): Doc {
  const known = docs.get(info.path);
  if (known) return known;
  const d: Doc = { info, sync: null, state: null, ready: false, opening: false, configured: { language: info.language, wrap }, cursors: new Map(), cursorWaiting: null };
  docs.set(info.path, d);
  return d;
}

function extensionsFor(language: string) {
  return editorExtensions(
    {
      localEdit,
      selectionChanged: scheduleCursor,
      language: () => (active === null ? "plaintext" : (docs.get(active)?.info.language ?? "plaintext")),
      autocompleteEnabled: () => !readOnly,
    },
    language,
    readOnly,
    wrap,
  );
}

function localEdit(op: Operation): void {
  const d = active === null ? undefined : docs.get(active);
  if (!d?.sync) return;
  send(d, d.sync.local(op));
  updateSyncedFlag();
}

function send(d: Doc, out: Outgoing | null): void {
  // Not opened on this connection yet: the operation stays in flight and goes out as a
  // resend once the reopen is answered.
  if (out === null || !d.ready) return;
  connection.send({ type: "op", path: d.info.path, base: out.base, seq: out.seq, op: out.op.toJSON() });
}

function applyRemote(d: Doc, op: Operation): void {
  if (op.isNoop()) return;
  const annotations = [remoteEdit.of(true), Transaction.addToHistory.of(false)];
  const shown = shownView();
  if (active === d.info.path && shown !== null) {
    shown.dispatch({ changes: operationToChanges(op, shown.state.doc), annotations });
  } else if (d.state !== null) {
    d.state = d.state.update({ changes: operationToChanges(op, d.state.doc), annotations }).state;
  }
  if (active === d.info.path) refreshCursors();
  // Lets a measurement (web/bench/measure.mjs) time arrivals without polling.
  window.dispatchEvent(new Event("pairprog:remote"));
}

/** The editor, when it shows a document. */
function shownView(): EditorView | null {
  return view !== null && !view.dom.hidden ? view : null;
}

function docText(path: string): string | null {
  const shown = shownView();
  if (path === active && shown !== null) return shown.state.doc.toString();
  return docs.get(path)?.state?.doc.toString() ?? null;
}

/** Shows a document: its state if it is open, else opens it first. */
function activate(path: string): void {
  if (active !== null && active !== path) {
    const prev = docs.get(active);
    const shown = shownView();
    if (prev && shown !== null) prev.state = shown.state;
    sendCursor(active, []);
  }
  active = path;
  const d = docs.get(path);
  renderFiles();
  if (d === undefined) return;
  if (d.state !== null) show(d);
  else {
    if (view !== null) view.dom.hidden = true;
    pathEl.textContent = `Opening ${path}…`;
    if (d.sync === null && !d.opening) d.opening = connection.send({ type: "open", path });
  }
}

function show(d: Doc): void {
  if (d.state === null) return;
  if (view === null) view = new EditorView({ state: d.state, parent: byId("editor") });
  else view.setState(d.state);
  // Only what changed since the state was made: each reconfiguration parses again.
  const effects: StateEffect<unknown>[] = [];
  if (d.configured.language !== d.info.language) effects.push(languageCompartment.reconfigure(languageSupport(d.info.language)));
  if (d.configured.wrap !== wrap) effects.push(wrapCompartment.reconfigure(wrapping(wrap)));
  if (effects.length > 0) view.dispatch({ effects });
  d.configured = { language: d.info.language, wrap };
  view.dom.hidden = false;
  if (readyAt === null) {
    readyAt = performance.now();
    performance.mark("pairprog:shown");
  }
  pathEl.textContent = `${d.info.path} (${d.info.language})`;
  refreshCursors();
  scheduleCursor();
}

function scheduleCursor(): void {
  if (cursorTimer !== null) return;
  cursorTimer = setTimeout(() => {
    cursorTimer = null;
    const shown = shownView();
    if (active === null || shown === null) return;
    const doc = shown.state.doc;
    const d = docs.get(active);
    if (!d) return;
    // The relay reads offsets against its own text, which lacks our unacknowledged
    // edits: sent now, a cursor after them would be clamped and drawn behind us. So it
    // waits, in the relay's text at our revision, until they are all acknowledged;
    // meanwhile the relay and the others move our last cursor past each insert of ours.
    const server = (offset: number) => d.sync?.toServer(offset) ?? offset;
    d.cursorWaiting = shown.state.selection.ranges.map((r) => ({
      anchor: server(docCharOffset(doc, r.anchor)),
      head: server(docCharOffset(doc, r.head)),
    }));
    releaseOwnCursor(d);
  }, CURSOR_THROTTLE_MS);
}

/** Sends our waiting cursor once nothing of ours awaits the relay. */
function releaseOwnCursor(d: Doc): void {
  if (d.cursorWaiting === null || (d.sync !== null && !d.sync.isSynchronized())) return;
  sendCursor(d.info.path, d.cursorWaiting);
  d.cursorWaiting = null;
}

function sendCursor(path: string, selections: Selection[]): void {
  // Only where the relay counts us as subscribed: a cursor that overtakes a reopen after
  // a reconnect is answered `not_open`.
  const d = docs.get(path);
  if (d?.ready !== true) return;
  // An undefined revision is left out of the JSON: the relay then reads the offsets as before.
  connection.send({ type: "cursor", path, selections, revision: d.sync?.revision });
}

/** Shows the collaborators' cursors of the shown document. */
function refreshCursors(): void {
  const shown = shownView();
  if (active === null || shown === null) return;
  const d = docs.get(active);
  if (!d) return;
  const doc = shown.state.doc;
  const list: RemoteCursor[] = [];
  for (const c of d.cursors.values()) {
    const p = people.get(c.participantId);
    if (!p || p.id === me?.id) continue;
    list.push({
      id: p.id,
      name: p.name,
      color: p.color,
      ranges: c.selections.map((s) => {
        const anchor = docUtf16Offset(doc, d.sync?.fromServer(s.anchor) ?? s.anchor);
        const head = docUtf16Offset(doc, d.sync?.fromServer(s.head) ?? s.head);
        return { from: Math.min(anchor, head), to: Math.max(anchor, head), head };
      }),
    });
  }
  shown.dispatch({ effects: setRemoteCursors.of(list) });
}

/**
 * Moves collaborators' cursors over a revision of the relay's text, as the relay does:
 * the author's own cursor goes past their insert, the others stay in front of it.
 */
function moveCursors(d: Doc, op: Operation, author: string): void {
  const move = (selections: Selection[], bias: Bias) =>
    selections.map((s) => ({ anchor: op.transformOffset(s.anchor, bias), head: op.transformOffset(s.head, bias) }));
  for (const c of d.cursors.values()) {
    c.selections = move(c.selections, c.participantId === author ? Bias.After : Bias.Before);
  }
  if (d.cursorWaiting !== null) d.cursorWaiting = move(d.cursorWaiting, author === me?.id ? Bias.After : Bias.Before);
}

function renderFiles(): void {
  filesEl.replaceChildren(
    ...[...docs.values()]
      .sort((a, b) => a.info.path.localeCompare(b.info.path))
      .map((d) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = d.info.path;
        button.setAttribute("aria-label", `Open ${d.info.path}`);
        if (d.info.path === active) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => {
          activate(d.info.path);
          view?.focus();
        });
        li.appendChild(button);
        return li;
      }),
  );
}

function renderPeople(count?: number): void {
  countEl.textContent = String(count ?? people.size);
  peopleEl.replaceChildren(
    ...[...people.values()].map((p) => {
      const li = document.createElement("li");
      const dot = document.createElement("span");
      dot.className = "pp-dot";
      dot.style.backgroundColor = p.color;
      dot.setAttribute("aria-hidden", "true");
      li.append(dot, p.name + (p.id === me?.id ? " (you)" : "") + (p.readOnly === true ? " (read-only)" : ""));
      return li;
    }),
  );
}

function setupLinks(): void {
  const copy = async (link: string, button: HTMLElement) => {
    const field = byId("link-field") as HTMLInputElement;
    field.value = link;
    field.hidden = false;
    try {
      await navigator.clipboard.writeText(link);
      button.textContent = "Copied";
    } catch {
      // Without clipboard access, the link is selected for the person to copy.
      field.select();
      button.textContent = "Select and copy the link";
    }
    setTimeout(() => (button.textContent = button.dataset.label ?? ""), 2000);
  };
  const copyButton = byId("copy-link");
  copyButton.addEventListener("click", () => void copy(roomLink(roomId, secret), copyButton));
  const readOnlySecret = sessionStorage.getItem(`pairprog.readOnly.${roomId}`);
  const roButton = byId("copy-ro-link");
  if (readOnlySecret !== null) {
    roButton.hidden = false;
    roButton.addEventListener("click", () => void copy(roomLink(roomId, readOnlySecret), roButton));
  }
}

function setupAddFile(): void {
  const form = byId("add-file") as HTMLFormElement;
  const pathInput = byId("new-path") as HTMLInputElement;
  const select = byId("new-language") as HTMLSelectElement;
  for (const [id, label] of LANGUAGES) select.add(new Option(label, id));
  pathInput.addEventListener("input", () => (select.value = languageOfPath(pathInput.value)));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const path = pathInput.value.trim();
    if (path === "") return;
    if (readOnly) {
      showMessage("This link is read-only: you cannot add files.");
      return;
    }
    if (!docs.has(path)) {
      const d = addDocument({ path, language: select.value, revision: 0 });
      d.opening = connection.send({ type: "open", path, language: select.value, text: "" });
      renderFiles();
    }
    pathInput.value = "";
    activate(path);
  });
}

function setupRename(): void {
  const input = byId("my-name") as HTMLInputElement;
  input.value = name;
  byId("rename-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const next = input.value.trim();
    if (next === "" || next === me?.name) return;
    saveName(next);
    connection.rename(next);
  });
}

function setupWrap(): void {
  const box = byId("wrap") as HTMLInputElement;
  box.checked = wrap;
  box.addEventListener("change", () => {
    wrap = box.checked;
    localStorage.setItem(WRAP_KEY, wrap ? "1" : "0");
    // The shown document now; the others when they are shown (see `show`).
    const shown = shownView();
    const d = active === null ? undefined : docs.get(active);
    if (shown !== null && d !== undefined) {
      shown.dispatch({ effects: wrapCompartment.reconfigure(wrapping(wrap)) });
      d.configured.wrap = wrap;
    }
  });
}

function showMessage(text: string): void {
  messageEl.textContent = text;
  messageEl.hidden = false;
}
