// Small helpers the pages share.

export function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

const NAME_KEY = "pairprog.name";

/** The name collaborators see: the one typed on the home page, else a guest name. */
export function displayName(): string {
  const saved = localStorage.getItem(NAME_KEY);
  if (saved !== null && saved.trim() !== "") return saved.trim();
  return `Guest ${Math.floor(1000 + Math.random() * 9000)}`;
}

export function saveName(name: string): void {
  if (name.trim() !== "") localStorage.setItem(NAME_KEY, name.trim());
}

/** The link others join with: the secret, if any, after `#`, which browsers never send. */
export function roomLink(roomId: string, secret: string): string {
  const base = `${location.origin}/r/${encodeURIComponent(roomId)}`;
  return secret === "" ? base : `${base}#${secret}`;
}

/** The nonce the relay put in this page's CSP, for the `<style>` element CodeMirror writes. */
export function cspNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
}
