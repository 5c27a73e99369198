// Autocomplete: after a pause in typing the page asks the relay's engine
// (POST /api/autocomplete) for a suggestion at the cursor and shows it in a small popup
// under the cursor. Tab accepts it, Escape or any other key dismisses it. Tab keeps moving focus
// out of the editor whenever no suggestion is shown, so keyboard-only use still works.

import { Prec, StateEffect, StateField, type Extension } from "@codemirror/state";
import { EditorView, keymap, showTooltip, ViewPlugin, type Tooltip, type ViewUpdate } from "@codemirror/view";
import { docCharOffset } from "../ot/doc.js";

interface Ghost {
  pos: number;
  text: string;
}

const setGhost = StateEffect.define<Ghost | null>();

function suggestionTooltip(g: Ghost): Tooltip {
  return {
    pos: g.pos,
    above: false,
    strictSide: false,
    create: () => {
      const dom = document.createElement("div");
      dom.className = "pp-ghost";
      const text = document.createElement("span");
      text.className = "pp-ghost-text";
      text.textContent = g.text;
      const hint = document.createElement("span");
      hint.className = "pp-ghost-hint";
      hint.textContent = "Tab";
      dom.append(text, hint);
      dom.setAttribute("role", "status");
      dom.setAttribute("aria-label", `Suggestion: ${g.text}. Press Tab to accept, Escape to dismiss.`);
      return { dom };
    },
  };
}

// The suggestion is a tooltip beside the cursor, outside the editable content, so showing
// it never changes the DOM the browser is typing into.
const ghostField = StateField.define<Ghost | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setGhost)) return e.value;
    // Any edit or cursor move makes the suggestion stale.
    if (tr.docChanged || tr.selection) return null;
    return value;
  },
  provide: (f) => showTooltip.from(f, (g) => (g === null ? null : suggestionTooltip(g))),
});

const DEBOUNCE_MS = 150;
const REQUEST_TIMEOUT_MS = 2000;

export function ghostText(language: () => string, enabled: () => boolean): Extension {
  const fetcher = ViewPlugin.fromClass(
    class {
      private timer: ReturnType<typeof setTimeout> | null = null;
      private generation = 0;

      constructor(readonly view: EditorView) {}

      update(u: ViewUpdate): void {
        if (!u.docChanged || !u.transactions.some((t) => t.isUserEvent("input.type"))) return;
        if (this.timer !== null) clearTimeout(this.timer);
        this.generation += 1;
        const generation = this.generation;
        this.timer = setTimeout(() => void this.ask(generation), DEBOUNCE_MS);
      }

      async ask(generation: number): Promise<void> {
        this.timer = null;
        if (!enabled()) return;
        const state = this.view.state;
        const sel = state.selection.main;
        if (!sel.empty) return;
        const code = state.doc.toString();
        try {
          const res = await fetch("/api/autocomplete", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ code, cursorPosition: docCharOffset(state.doc, sel.head), language: language() }),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          if (!res.ok) return;
          const body = (await res.json()) as { suggestion?: string };
          // Only if nothing changed while the request was out.
          if (generation !== this.generation || this.view.state.doc !== state.doc || !this.view.state.selection.eq(state.selection)) return;
          const text = body.suggestion ?? "";
          if (text !== "") this.view.dispatch({ effects: setGhost.of({ pos: sel.head, text }) });
        } catch {
          // No suggestion this time; typing goes on regardless.
        }
      }

      /**
       * A key press makes any answer still on its way stale (its text may not be read
       * into the editor's state yet), and removes a shown suggestion.
       */
      keydown(event: KeyboardEvent): void {
        if (event.key === "Tab" || event.key === "Escape") return;
        this.generation += 1;
        if (this.view.state.field(ghostField) !== null) this.view.dispatch({ effects: setGhost.of(null) });
      }

      destroy(): void {
        if (this.timer !== null) clearTimeout(this.timer);
      }
    },
    {
      eventHandlers: {
        keydown(event) {
          this.keydown(event);
          return false;
        },
      },
    },
  );
  const keys = Prec.highest(
    keymap.of([
      {
        key: "Tab",
        run: (view) => {
          const g = view.state.field(ghostField);
          if (g === null) return false;
          view.dispatch({
            changes: { from: g.pos, insert: g.text },
            selection: { anchor: g.pos + g.text.length },
            userEvent: "input.complete",
          });
          return true;
        },
      },
      {
        key: "Escape",
        run: (view) => {
          if (view.state.field(ghostField) === null) return false;
          view.dispatch({ effects: setGhost.of(null) });
          return true;
        },
      },
    ]),
  );
  return [ghostField, fetcher, keys];
}
