// The home page (/): create a room (optionally with secrets and a first file in a
// chosen language) or join one by id or link.

import { byId, displayName, saveName } from "./shared.js";
import { LANGUAGE_CHOICES, pathFor } from "./choices.js";

interface CreatedRoom {
  roomId: string;
  joinSecret?: string;
  readOnlySecret?: string;
}

const nameInput = byId("name") as HTMLInputElement;
const languageSelect = byId("language") as HTMLSelectElement;
const errorEl = byId("home-error");

nameInput.value = localStorage.getItem("pairprog.name") ?? "";
nameInput.placeholder = displayName();
for (const [id, label] of LANGUAGE_CHOICES) languageSelect.add(new Option(label, id));
languageSelect.value = "python";

byId("create-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void create();
});
byId("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  join();
});

async function create(): Promise<void> {
  saveName(nameInput.value);
  const language = languageSelect.value;
  const code = (byId("code") as HTMLTextAreaElement).value;
  const secrets = (byId("secrets") as HTMLInputElement).checked;
  const body: Record<string, unknown> = { secrets };
  if ((byId("first-file") as HTMLInputElement).checked) {
    body.code = code;
    body.language = language;
    body.path = (byId("path") as HTMLInputElement).value.trim() || pathFor(language);
  }
  try {
    const res = await fetch("/api/rooms", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as CreatedRoom & { error?: { message: string } };
    if (!res.ok) throw new Error(json.error?.message ?? res.statusText);
    if (json.readOnlySecret !== undefined) {
      // Shown as "Copy read-only link" in the room; kept for this tab only.
      sessionStorage.setItem(`pairprog.readOnly.${json.roomId}`, json.readOnlySecret);
    }
    const hash = json.joinSecret === undefined ? "" : `#${json.joinSecret}`;
    location.assign(`/r/${encodeURIComponent(json.roomId)}${hash}`);
  } catch (err) {
    errorEl.textContent = `Could not create the room: ${err instanceof Error ? err.message : String(err)}`;
    errorEl.hidden = false;
  }
}

/** Accepts `roomId`, `roomId#secret` or any link ending in either. */
export function parseJoin(input: string): { roomId: string; secret: string } | null {
  const trimmed = input.trim();
  if (trimmed === "") return null;
  const hashAt = trimmed.indexOf("#");
  const before = hashAt < 0 ? trimmed : trimmed.slice(0, hashAt);
  const secret = hashAt < 0 ? "" : trimmed.slice(hashAt + 1);
  const roomId = before.replace(/\/+$/, "").split("/").pop() ?? "";
  return roomId === "" ? null : { roomId, secret };
}

function join(): void {
  saveName(nameInput.value);
  const parsed = parseJoin((byId("join-id") as HTMLInputElement).value);
  if (parsed === null) {
    errorEl.textContent = "Enter a room id or a link.";
    errorEl.hidden = false;
    return;
  }
  location.assign(`/r/${encodeURIComponent(parsed.roomId)}${parsed.secret === "" ? "" : `#${parsed.secret}`}`);
}
