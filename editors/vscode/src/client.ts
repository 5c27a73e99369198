// Owns the language client's lifetime, apart from the extension's: the extension lives
// from activation to deactivation, a client from start to stop, and Restart replaces the
// client while commands, the status bar and decorations stay.

import * as os from "node:os";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  MessageType,
  ShowMessageNotification,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import { NO_PRESENCE, PRESENCE_METHOD, CURSOR_METHOD, type CursorParams, type PresenceParams } from "./protocol";
import { checkServerRuns, resolveServerPath } from "./serverPath";

/** Requests to the server wait at most this long; createRoom itself waits 10 s on the relay. */
const REQUEST_TIMEOUT_MS = 15_000;

export class ClientController implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the presence or whether the server runs changes. */
  readonly onDidChange = this.changed.event;
  presence: PresenceParams = NO_PRESENCE;

  constructor(private readonly output: vscode.OutputChannel) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** The running client, for converting URIs; undefined when the server is not running. */
  get languageClient(): LanguageClient | undefined {
    return this.running ? this.client : undefined;
  }

  /** Starts the server; a failure is shown to the user with what to do, then rethrown. */
  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.presence = NO_PRESENCE;
    this.changed.fire();
    if (client && client.state !== State.Stopped) {
      await client.stop(5000).catch((e: unknown) => this.output.appendLine(`stopping pairprog-lsp: ${String(e)}`));
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** `workspace/executeCommand` with a timeout; the server's error message on failure. */
  async executeCommand<T>(command: string, args: unknown[] = []): Promise<T> {
    const client = this.languageClient;
    if (!client) {
      throw new Error("pairprog-lsp is not running: run “Pairprog: Restart Server” or check the pairprog output.");
    }
    const source = new vscode.CancellationTokenSource();
    const timer = setTimeout(() => source.cancel(), REQUEST_TIMEOUT_MS);
    try {
      return (await client.sendRequest(
        ExecuteCommandRequest.type,
        { command, arguments: args },
        source.token,
      )) as T;
    } catch (e) {
      if (source.token.isCancellationRequested) {
        throw new Error(`pairprog-lsp did not answer ${command} within ${REQUEST_TIMEOUT_MS / 1000} s.`);
      }
      throw e;
    } finally {
      clearTimeout(timer);
      source.dispose();
    }
  }

  sendCursor(params: CursorParams): void {
    const client = this.languageClient;
    if (client) {
      client.sendNotification(CURSOR_METHOD, params).catch((e: unknown) => {
        this.output.appendLine(`sending the cursor failed: ${String(e)}`);
      });
    }
  }

  dispose(): void {
    void this.stop();
    this.changed.dispose();
  }

  private async doStart(): Promise<void> {
    if (this.client) {
      return;
    }
    const config = vscode.workspace.getConfiguration("pairprog");
    try {
      const command = resolveServerPath(config.get<string>("serverPath", ""), process.env.PATH, os.homedir());
      const version = await checkServerRuns(command);
      this.output.appendLine(`starting ${version} (${command})`);
      const serverOptions: ServerOptions = { command, transport: TransportKind.stdio };
      const clientOptions: LanguageClientOptions = {
        documentSelector: [{ scheme: "file" }],
        outputChannel: this.output,
        middleware: {
          // The server labels collaborators' cursors with inlay hints for editors with no
          // plugin; this extension draws them as decorations, so the hints would be doubles.
          provideInlayHints: () => [],
        },
        initializationOptions: {
          relay: config.get<string>("relayUrl", "").trim() || undefined,
          name: config.get<string>("userName", "").trim() || userName(),
        },
      };
      const client = new LanguageClient("pairprog", "pairprog", serverOptions, clientOptions);
      client.onNotification(PRESENCE_METHOD, (params: PresenceParams) => {
        if (this.client === client) {
          this.presence = params;
          this.changed.fire();
        }
      });
      // pairprog-lsp says what happened (room created, joined, reconnected) for editors
      // with no plugin; here the commands and the status bar say it already, so its
      // information goes to the log and, for a moment, the status bar: one action, one
      // notification. Warnings and errors still pop up.
      client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
        if (type === MessageType.Error) {
          void vscode.window.showErrorMessage(message);
        } else if (type === MessageType.Warning) {
          void vscode.window.showWarningMessage(message);
        } else {
          this.output.appendLine(message);
          vscode.window.setStatusBarMessage(message, 5000);
        }
      });
      client.onDidChangeState(() => this.changed.fire());
      this.client = client;
      await client.start();
      this.changed.fire();
    } catch (e) {
      this.client = undefined;
      this.changed.fire();
      const message = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`pairprog-lsp could not start: ${message}`);
      void vscode.window
        .showErrorMessage(`pairprog could not start its language server: ${message}`, "Open Settings", "Show Log")
        .then((choice) => {
          if (choice === "Open Settings") {
            void vscode.commands.executeCommand("workbench.action.openSettings", "pairprog.serverPath");
          } else if (choice === "Show Log") {
            this.output.show();
          }
        });
      throw e;
    }
  }
}

/** The operating-system user name, which is what collaborators see by default. */
function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "anonymous";
  }
}
