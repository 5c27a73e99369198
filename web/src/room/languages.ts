// Syntax highlighting for the eight languages the autocomplete engine knows
// (autocomplete/src/rules/): C and C++ share one grammar, as do JavaScript and
// TypeScript. Everything else is plain text.

import { cpp } from "@codemirror/lang-cpp";
import { go } from "@codemirror/lang-go";
import { java } from "@codemirror/lang-java";
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { rust } from "@codemirror/lang-rust";
import type { Extension } from "@codemirror/state";

export { LANGUAGE_CHOICES as LANGUAGES } from "../choices.js";

export function languageSupport(id: string): Extension {
  switch (id) {
    case "c":
    case "cpp":
      return cpp();
    case "go":
      return go();
    case "java":
      return java();
    case "javascript":
      return javascript({ jsx: true });
    case "typescript":
      return javascript({ typescript: true });
    case "python":
      return python();
    case "rust":
      return rust();
    default:
      return [];
  }
}

/** A language id from a file name, for files added in the page. */
export function languageOfPath(path: string): string {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  const byExt: Record<string, string> = {
    c: "c",
    h: "c",
    cc: "cpp",
    cpp: "cpp",
    cxx: "cpp",
    hpp: "cpp",
    go: "go",
    java: "java",
    js: "javascript",
    mjs: "javascript",
    jsx: "javascript",
    ts: "typescript",
    tsx: "typescript",
    py: "python",
    rs: "rust",
  };
  return byExt[ext] ?? "plaintext";
}
