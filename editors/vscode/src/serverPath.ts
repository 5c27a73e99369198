// Finds the pairprog-lsp executable and checks that it runs, so a wrong path is reported
// with what to do about it instead of as a language client that silently never starts.

import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";

export const SERVER_NAME = "pairprog-lsp";

export class ServerNotFound extends Error {}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The configured path when set (a `~/` prefix expanded), else the first on `PATH`. */
export function resolveServerPath(configured: string, envPath: string | undefined, home: string): string {
  const setting = configured.trim();
  if (setting) {
    const expanded = setting.startsWith("~/") ? path.join(home, setting.slice(2)) : setting;
    if (!isExecutable(expanded)) {
      throw new ServerNotFound(
        `pairprog.serverPath is "${setting}", which is not an executable file. ` +
          `Build it with "cargo build --release -p pairprog-lsp" and point the setting at target/release/${SERVER_NAME}.`,
      );
    }
    return expanded;
  }
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, SERVER_NAME))) {
      return path.join(dir, SERVER_NAME);
    }
  }
  throw new ServerNotFound(
    `${SERVER_NAME} is not on PATH. Install it ("cargo install --path lsp" in the pairprog ` +
      `repository) or set pairprog.serverPath to the executable.`,
  );
}

/** Runs `server --version` with a timeout; resolves to what it printed. */
export function checkServerRuns(server: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(server, ["--version"], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim() || error.message;
        reject(new ServerNotFound(`${server} --version failed: ${detail}`));
        return;
      }
      const version = stdout.trim();
      if (!version.startsWith(SERVER_NAME)) {
        reject(new ServerNotFound(`${server} is not ${SERVER_NAME}: its --version printed "${version}".`));
        return;
      }
      resolve(version);
    });
  });
}
