// Keyboard-only use and autocomplete, end to end: a person who never touches the mouse
// creates a room, types, accepts a suggestion from the engine with Tab, adds a file,
// copies the link, and a second person joins with it; every control they pass has an
// accessible name (found by playwright's role and name locators).

import { assert, joined, log, newPage, restText, settle, tabTo, text, waitFor, WAIT_MS } from "./lib.mjs";

/** Lines of the page's accessibility tree that name a control without a name. */
async function unnamedControls(page) {
  const tree = await page.locator("body").ariaSnapshot();
  return tree.split("\n").filter((line) => /^\s*- (button|textbox|combobox|checkbox|link|listbox)( \[[^\]]*\])?:?$/.test(line));
}

export async function keyboardOnly({ browser, origin, problems }) {
  const kim = await newPage(browser, origin, problems, "Kim", { permissions: ["clipboard-read", "clipboard-write"] });
  await kim.goto(origin + "/");
  assert((await unnamedControls(kim)).length === 0, `every control of the home page has a name: ${await unnamedControls(kim)}`);

  // Create a room with a Python file, by keyboard.
  await tabTo(kim, kim.getByRole("textbox", { name: "Your name" }), "the name field");
  await kim.keyboard.press("Control+A");
  await kim.keyboard.type("Kim K");
  await tabTo(kim, kim.getByRole("checkbox", { name: /Protect it with a secret/ }), "the secret checkbox");
  await tabTo(kim, kim.getByRole("combobox", { name: "Language" }), "the language list");
  assert((await kim.getByRole("combobox", { name: "Language" }).inputValue()) === "python", "Python is the default language");
  await tabTo(kim, kim.getByRole("textbox", { name: "Its first text" }), "the first text");
  await kim.keyboard.type("import os");
  await tabTo(kim, kim.getByRole("button", { name: "Create room" }), "the create button");
  await kim.keyboard.press("Enter");
  await kim.waitForURL(/\/r\/[^#]+#.+/, { timeout: WAIT_MS });
  await joined(kim);
  const link = kim.url();
  const roomId = new URL(link).pathname.split("/").pop();
  const secret = new URL(link).hash.slice(1);
  assert((await unnamedControls(kim)).length === 0, `every control of the room page has a name: ${await unnamedControls(kim)}`);
  await waitFor("Kim's own name in the list", async () => (await kim.locator("#people").textContent()).includes("Kim K (you)"));

  // Type, and accept the engine's suggestion with Tab.
  const editor = kim.getByRole("textbox", { name: "Shared document" });
  await tabTo(kim, editor, "the editor");
  await kim.keyboard.press("Control+End");
  await kim.keyboard.press("Enter");
  await kim.keyboard.type("def ");
  const suggestion = kim.getByRole("status", { name: /^Suggestion: / });
  await waitFor("a suggestion after 'def '", () => suggestion.isVisible());
  assert((await kim.locator(".pp-ghost-text").textContent()) === "name():\n    pass", "the engine suggests a function");
  await kim.keyboard.press("Tab");
  await waitFor("the suggestion accepted", async () => (await text(kim)) === "import os\ndef name():\n    pass");
  assert(await editor.evaluate((el) => el === document.activeElement), "Tab with a suggestion stays in the editor");
  await settle([kim], origin, roomId, secret, "main.py");

  // Escape dismisses a suggestion; then Tab leaves the editor and changes nothing.
  await kim.keyboard.press("Control+End");
  await kim.keyboard.press("Enter");
  await kim.keyboard.type("def ");
  await waitFor("a second suggestion", () => suggestion.isVisible());
  await kim.keyboard.press("Escape");
  await waitFor("the suggestion dismissed", async () => !(await suggestion.isVisible()));
  const before = await text(kim);
  await kim.keyboard.press("Tab");
  assert(!(await editor.evaluate((el) => el === document.activeElement)), "Tab without a suggestion moves the focus out");
  assert((await text(kim)) === before, "Tab without a suggestion inserts nothing");
  log("autocomplete: the engine's suggestion shows beside the cursor, Tab accepts it, Escape dismisses it");

  // Add a file and type in it.
  await tabTo(kim, kim.getByRole("textbox", { name: "New file" }), "the new-file field");
  await kim.keyboard.type("kb.go");
  assert((await kim.getByRole("combobox", { name: "Language" }).inputValue()) === "go", "the language follows the file name");
  await tabTo(kim, kim.getByRole("button", { name: "Add file" }), "the add button");
  await kim.keyboard.press("Enter");
  await waitFor("kb.go shown", async () => (await kim.evaluate(() => window.pairprog.active())) === "kb.go" && (await editor.isVisible()));
  await tabTo(kim, editor, "the editor of kb.go");
  await kim.keyboard.type("package main");
  await settle([kim], origin, roomId, secret, "kb.go");

  // Back to main.py with the file list.
  await tabTo(kim, kim.getByRole("button", { name: "Open main.py" }), "the file list");
  await kim.keyboard.press("Enter");
  await waitFor("main.py shown", async () => (await kim.evaluate(() => window.pairprog.active())) === "main.py");

  // Copy the link.
  await tabTo(kim, kim.getByRole("button", { name: "Copy link" }), "the copy button");
  await kim.keyboard.press("Enter");
  await waitFor("the link copied", async () => (await kim.evaluate(() => navigator.clipboard.readText())) === link);

  // Lee joins with the link, by keyboard.
  const lee = await newPage(browser, origin, problems, "Lee");
  await lee.goto(origin + "/");
  await tabTo(lee, lee.getByRole("textbox", { name: "Room id or link" }), "the join field");
  await lee.keyboard.type(link);
  await lee.keyboard.press("Enter");
  await lee.waitForURL(link, { timeout: WAIT_MS });
  await joined(lee);
  await waitFor("Lee to see Kim's text", async () => (await text(lee)) === (await restText(origin, roomId, secret, "main.py")));
  await waitFor("both listed", async () => (await kim.locator("#count").textContent()) === "2");

  // Lee renames themself in the room (a reconnect under the new name: no rename message).
  await tabTo(lee, lee.getByRole("textbox", { name: "Your name" }), "the rename field");
  await lee.keyboard.press("Control+A");
  await lee.keyboard.type("Lee R");
  await lee.keyboard.press("Enter");
  await waitFor("Kim to see the new name", async () => {
    const list = await kim.locator("#people").textContent();
    return list.includes("Lee R") && !/Lee(?! R)/.test(list) && (await kim.locator("#count").textContent()) === "2";
  });
  await waitFor("Lee to see their new name", async () => (await lee.locator("#people").textContent()).includes("Lee R (you)"));
  log("keyboard only: created a room, typed, accepted a suggestion, added a file, copied the link, joined with it, renamed; every control has a name");
  await Promise.all([kim.context().close(), lee.context().close()]);
}
