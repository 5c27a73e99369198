import { strict as assert } from "node:assert";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { ServerNotFound, checkServerRuns, resolveServerPath } from "../../src/serverPath";

function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test("the setting wins over PATH, and ~/ is expanded", () => {
  const home = mkdtempSync(path.join(tmpdir(), "pairprog-home-"));
  const server = script(home, "my-lsp", "true");
  assert.equal(resolveServerPath("~/my-lsp", "/nonexistent", home), server);
  assert.equal(resolveServerPath(server, "/nonexistent", home), server);
});

test("a setting that is not an executable file is an actionable error", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pairprog-"));
  writeFileSync(path.join(dir, "plain"), "not executable");
  for (const bad of [path.join(dir, "missing"), path.join(dir, "plain"), dir]) {
    assert.throws(() => resolveServerPath(bad, undefined, dir), (e: unknown) => {
      assert.ok(e instanceof ServerNotFound);
      assert.match(e.message, /pairprog\.serverPath/);
      return true;
    });
  }
});

test("without a setting the first pairprog-lsp on PATH is used", () => {
  const first = mkdtempSync(path.join(tmpdir(), "pairprog-a-"));
  const second = mkdtempSync(path.join(tmpdir(), "pairprog-b-"));
  const found = script(second, "pairprog-lsp", "true");
  assert.equal(resolveServerPath("  ", `${first}${path.delimiter}${second}`, first), found);
  assert.throws(() => resolveServerPath("", first, first), /not on PATH/);
});

test("the server check accepts pairprog-lsp and refuses other programs and failures", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pairprog-"));
  const good = script(dir, "good", "echo 'pairprog-lsp 0.1.0'");
  const other = script(dir, "other", "echo 'rust-analyzer 1.0'");
  const failing = script(dir, "failing", "echo broken >&2; exit 3");
  const hanging = script(dir, "hanging", "sleep 30");
  assert.equal(await checkServerRuns(good), "pairprog-lsp 0.1.0");
  await assert.rejects(checkServerRuns(other), /is not pairprog-lsp/);
  await assert.rejects(checkServerRuns(failing), /broken/);
  await assert.rejects(checkServerRuns(hanging, 200), ServerNotFound);
});
