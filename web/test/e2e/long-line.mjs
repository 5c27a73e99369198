// regression_fast_typing_at_the_end_of_a_long_unwrapped_line: with wrapping off, typing
// fast at the end of a line wider than the editor (so it scrolls horizontally) put
// characters in the wrong place in Chromium: CodeMirror read the DOM selection from
// before the browser's insertion and left the cursor in front of the typed character
// (see typedTextKeepsCursorAfter in src/room/editor.ts). Another page watches, and both
// must end with exactly what was typed.

import { assert, joined, log, newPage, settle, text, waitFor } from "./lib.mjs";

export async function regressionFastTypingAtTheEndOfALongUnwrappedLine({ browser, origin, problems }) {
  const res = await fetch(`${origin}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ secrets: true, path: "wide.txt", language: "plaintext", code: "first line\n" }),
    signal: AbortSignal.timeout(5000),
  });
  const room = await res.json();
  const link = `${origin}/r/${room.roomId}#${room.joinSecret}`;
  const [typist, watcher] = [await newPage(browser, origin, problems, "Wide"), await newPage(browser, origin, problems, "Watcher")];
  for (const p of [typist, watcher]) {
    await p.goto(link);
    await joined(p);
  }
  const wrap = typist.getByRole("checkbox", { name: "Wrap long lines" });
  assert(await wrap.isChecked(), "long lines wrap by default");
  await wrap.uncheck();
  await typist.locator(".cm-content").click();
  await typist.keyboard.press("Control+End");
  let typed = "";
  for (let i = 0; i < 60; i++) {
    const token = `<w${String(i).padStart(2, "0")}>`;
    typed += token;
    await typist.keyboard.type(token);
  }
  const scrolled = await typist.locator(".cm-scroller").evaluate((el) => el.scrollLeft);
  assert(scrolled > 0, "the line is wider than the editor: it scrolled horizontally");
  const want = `first line\n${typed}`;
  await waitFor("the typist's own text to be what was typed", async () => {
    const seen = await text(typist);
    if (seen !== want) throw new Error(`typed ${JSON.stringify(typed)}, the page has ${JSON.stringify(seen)}`);
    return true;
  });
  const final = await settle([typist, watcher], origin, room.roomId, room.joinSecret, "wide.txt");
  assert(final === want, `the relay has what was typed: ${JSON.stringify(final)}`);
  log(`fast typing at the end of an unwrapped line (scrolled ${scrolled} px) lands in order on both pages and the relay`);
  await Promise.all([typist.context().close(), watcher.context().close()]);
}
