// The languages offered when creating a room or a file, without the editor's grammars
// (the home page does not load CodeMirror).

export const LANGUAGE_CHOICES: readonly (readonly [string, string])[] = [
  ["plaintext", "Plain text"],
  ["c", "C"],
  ["cpp", "C++"],
  ["go", "Go"],
  ["java", "Java"],
  ["javascript", "JavaScript"],
  ["python", "Python"],
  ["rust", "Rust"],
  ["typescript", "TypeScript"],
];

const EXTENSIONS: Record<string, string> = {
  c: "c",
  cpp: "cpp",
  go: "go",
  java: "java",
  javascript: "js",
  python: "py",
  rust: "rs",
  typescript: "ts",
  plaintext: "txt",
};

export function pathFor(language: string): string {
  return `main.${EXTENSIONS[language] ?? "txt"}`;
}
