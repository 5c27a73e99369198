// Collaborators' cursors and selections in the editor: a caret with the person's name
// and a tinted selection, in the person's colour. Positions are kept in the editor's
// UTF-16 offsets and mapped through every change, so they move with the text.

import { RangeSetBuilder, StateEffect, StateField, type EditorState } from "@codemirror/state";
import { Decoration, EditorView, WidgetType, type DecorationSet } from "@codemirror/view";

export interface RemoteCursor {
  id: string;
  name: string;
  color: string;
  /** UTF-16 offsets in the current document. */
  ranges: { from: number; to: number; head: number }[];
}

/**
 * A class that tints a selection in `color`. The rule goes into a constructed style
 * sheet: the page's CSP forbids inline style attributes, not the CSS object model.
 */
const tints = new Map<string, string>();
let sheet: CSSStyleSheet | null = null;

function colorClass(color: string): string {
  const known = tints.get(color);
  if (known !== undefined) return known;
  const hex = /^#[0-9a-fA-F]{6}$/.test(color) ? color.slice(1).toLowerCase() : "888888";
  const name = `pp-tint-${hex}`;
  if (sheet === null) {
    sheet = new CSSStyleSheet();
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  }
  sheet.insertRule(`.${name} { background-color: #${hex}40; }`);
  tints.set(color, name);
  return name;
}

export const setRemoteCursors = StateEffect.define<RemoteCursor[]>();

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: string,
  ) {
    super();
  }

  eq(other: CaretWidget): boolean {
    return other.name === this.name && other.color === this.color;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = "pp-caret";
    caret.style.borderColor = this.color;
    const label = document.createElement("span");
    label.className = "pp-caret-name";
    label.style.backgroundColor = this.color;
    label.textContent = this.name;
    caret.appendChild(label);
    caret.setAttribute("aria-hidden", "true");
    return caret;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

interface Cursors {
  list: RemoteCursor[];
  decorations: DecorationSet;
}

function build(list: RemoteCursor[], state: EditorState): DecorationSet {
  const len = state.doc.length;
  const items: { from: number; to: number; deco: Decoration }[] = [];
  for (const c of list) {
    for (const r of c.ranges) {
      const from = Math.min(r.from, len);
      const to = Math.min(r.to, len);
      if (to > from) {
        items.push({
          from,
          to,
          deco: Decoration.mark({ class: `pp-selection ${colorClass(c.color)}` }),
        });
      }
      const head = Math.min(r.head, len);
      items.push({ from: head, to: head, deco: Decoration.widget({ widget: new CaretWidget(c.name, c.color), side: -1 }) });
    }
  }
  items.sort((a, b) => a.from - b.from || a.to - b.to);
  const builder = new RangeSetBuilder<Decoration>();
  for (const i of items) builder.add(i.from, i.to, i.deco);
  return builder.finish();
}

export const remoteCursors = StateField.define<Cursors>({
  create: () => ({ list: [], decorations: Decoration.none }),
  update(value, tr) {
    let list = value.list;
    if (tr.docChanged) {
      list = list.map((c) => ({
        ...c,
        ranges: c.ranges.map((r) => ({
          from: tr.changes.mapPos(r.from, -1),
          to: tr.changes.mapPos(r.to, -1),
          head: tr.changes.mapPos(r.head, -1),
        })),
      }));
    }
    for (const e of tr.effects) if (e.is(setRemoteCursors)) list = e.value;
    if (list === value.list) return value;
    return { list, decorations: build(list, tr.state) };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.decorations),
});
