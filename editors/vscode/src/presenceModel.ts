// Turns `$/pairprog/presence` into what one editor should draw, with no VS Code types so
// the rules can be unit-tested: which collaborators have a cursor in this document, where
// each cursor and selection is, and in which colour.

import { participantColor } from "./colors";
import type { EditorSelection, Position, PresenceParams } from "./protocol";

export interface Span {
  start: Position;
  end: Position;
}

/** One collaborator's marks in one document. */
export interface CursorMarks {
  participantId: string;
  name: string;
  color: string;
  /** Where each selection's head is: the caret, labelled with the name at the first. */
  carets: Position[];
  /** The non-empty selections, ordered start ≤ end. */
  selections: Span[];
}

function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

function isPosition(value: unknown): value is Position {
  const p = value as Position | null;
  return (
    typeof p === "object" &&
    p !== null &&
    Number.isInteger(p.line) &&
    Number.isInteger(p.character) &&
    p.line >= 0 &&
    p.character >= 0
  );
}

/**
 * The marks to draw in the document `uri`. `sameDocument` compares the server's URI
 * with the editor's (VS Code normalises URIs, so plain string equality is not enough).
 * Malformed selections are skipped rather than failing the whole update: presence is
 * advisory and a bad entry must not hide everyone else's cursor.
 */
export function marksForDocument(
  presence: PresenceParams,
  sameDocument: (serverUri: string) => boolean,
): CursorMarks[] {
  const marks = new Map<string, CursorMarks>();
  for (const cursor of presence.cursors) {
    if (!sameDocument(cursor.uri)) {
      continue;
    }
    const participant = presence.participants.find((p) => p.id === cursor.participantId);
    const color = participantColor({
      id: cursor.participantId,
      color: participant?.color ?? cursor.color,
    });
    let entry = marks.get(cursor.participantId);
    if (!entry) {
      entry = {
        participantId: cursor.participantId,
        name: participant?.name ?? cursor.name,
        color,
        carets: [],
        selections: [],
      };
      marks.set(cursor.participantId, entry);
    }
    // The types say what a well-behaved server sends; the checks are for one that is not.
    for (const selection of cursor.selections as (EditorSelection | null | undefined)[]) {
      if (!selection || !isPosition(selection.anchor) || !isPosition(selection.head)) {
        continue;
      }
      entry.carets.push(selection.head);
      const { anchor, head } = selection;
      if (anchor.line !== head.line || anchor.character !== head.character) {
        entry.selections.push(before(anchor, head) ? { start: anchor, end: head } : { start: head, end: anchor });
      }
    }
  }
  return [...marks.values()].filter((m) => m.carets.length > 0);
}

/** Every colour in use, so decoration types of colours nobody uses any more can go. */
export function colorsInUse(presence: PresenceParams): Set<string> {
  const colors = new Set<string>();
  for (const p of presence.participants) {
    colors.add(participantColor(p));
  }
  for (const c of presence.cursors) {
    const participant = presence.participants.find((p) => p.id === c.participantId);
    colors.add(participantColor({ id: c.participantId, color: participant?.color ?? c.color }));
  }
  return colors;
}
