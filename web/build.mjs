// Builds the pages into dist/, which is committed and embedded in pairprog-relay
// (relay/src/web.rs), so the relay serves them with no npm step. The build is
// deterministic: the same sources and lockfile give the same bytes, and
// tests/run.sh checks the committed dist/ against a fresh build.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = process.argv[2] ?? "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: { home: "src/home.ts", room: "src/room/main.ts", docs: "src/docs.ts" },
  bundle: true,
  outdir: out,
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});

for (const file of ["index.html", "room.html", "docs.html", "app.css"]) {
  copyFileSync(`static/${file}`, `${out}/${file}`);
}
