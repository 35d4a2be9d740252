// The chat demo in a real browser: two (then three) headless chromium pages
// on fenix_chat, through the page's own UI (login form, composer, presence
// list, typing line, history).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startChat, launchBrowser, openPage, joinRoom, artifactPath } from "./harness.mjs";

let server;
let browser;
const opened = [];

before(async () => {
  server = await startChat();
  browser = await launchBrowser();
});

after(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function person(name, room) {
  const p = await openPage(browser, server.url);
  opened.push(p);
  await joinRoom(p.page, name, room);
  return p;
}

const user = (page, name) => page.locator(`#users li[data-user="${name}"]`);
const message = (page, text) => page.locator("#messages .msg .body", { hasText: text });

test("two people chat, see each other online, typing, history, and one leaving", async () => {
  const room = `lobby${Date.now() % 100000}`;
  const ada = await person("ada", room);
  const grace = await person("grace", room);

  // Presence: both pages list both users.
  for (const { page } of [ada, grace]) {
    await user(page, "ada").waitFor();
    await user(page, "grace").waitFor();
    assert.equal(await page.locator("#online-count").textContent(), "2");
  }

  // Typing: ada types, grace sees the indicator (a presence update).
  await ada.page.fill("#body", "hello from ada");
  await grace.page.locator("#typing", { hasText: "ada is typing" }).waitFor();
  await grace.page.locator('#users li[data-user="ada"] .typing-dot').waitFor();
  await grace.page.screenshot({ path: artifactPath("chat-typing.png") });

  // A message typed in one page appears in the other; sending clears typing.
  await ada.page.press("#body", "Enter");
  await message(grace.page, "hello from ada").waitFor();
  await message(ada.page, "hello from ada").waitFor();
  await grace.page.locator('#users li[data-user="ada"] .typing-dot').waitFor({ state: "detached" });
  assert.equal((await grace.page.locator("#typing").textContent()).trim(), "");

  await grace.page.fill("#body", "hi ada, grace here");
  await grace.page.click("#send");
  await message(ada.page, "hi ada, grace here").waitFor();
  assert.equal(await ada.page.locator("#body").inputValue(), "");

  // A newcomer gets the history on join, in order, once each.
  const linus = await person("linus", room);
  await message(linus.page, "hello from ada").waitFor();
  await message(linus.page, "hi ada, grace here").waitFor();
  const bodies = await linus.page.locator("#messages .msg .body").allTextContents();
  assert.deepEqual(bodies, ["hello from ada", "hi ada, grace here"]);
  await user(ada.page, "linus").waitFor();
  assert.equal(await ada.page.locator("#online-count").textContent(), "3");

  // Screenshot while three are online (the artifact to look at).
  await ada.page.screenshot({ path: artifactPath("chat-ada.png") });
  await grace.page.screenshot({ path: artifactPath("chat-grace.png") });

  // Leaving through the button: the others see grace go.
  await grace.page.click("#leave");
  await grace.page.locator("#login-view").waitFor({ state: "visible" });
  await user(ada.page, "grace").waitFor({ state: "detached" });
  await user(linus.page, "grace").waitFor({ state: "detached" });
  await ada.page.locator("#messages .notice", { hasText: "grace left" }).waitFor();

  // Closing the tab (no leave sent): the socket closes and linus goes too.
  await linus.context.close();
  await user(ada.page, "linus").waitFor({ state: "detached" });
  assert.equal(await ada.page.locator("#online-count").textContent(), "1");
  await user(ada.page, "ada").waitFor();

  await ada.page.screenshot({ path: artifactPath("chat-after-leave.png") });
  for (const p of [ada, grace]) assert.deepEqual(p.errors, [], `browser errors: ${p.errors.join("\n")}`);
});

test("the same name in two tabs is one user with two tabs; a refused join shows the reason", async () => {
  const room = `tabs${Date.now() % 100000}`;
  const tab1 = await person("sam", room);
  const tab2 = await person("sam", room);
  await tab1.page.locator('#users li[data-user="sam"] .tabs', { hasText: "×2" }).waitFor();
  assert.equal(await tab2.page.locator("#online-count").textContent(), "1");
  await tab2.context.close();
  await tab1.page.locator('#users li[data-user="sam"] .tabs').waitFor({ state: "detached" });
  await user(tab1.page, "sam").waitFor();

  // The server refuses a name that is too long (the form's maxlength is
  // bypassed on purpose); the page shows why and stays on the login form.
  const p = await openPage(browser, server.url);
  opened.push(p);
  await p.page.evaluate(() => document.querySelector("#name").removeAttribute("maxlength"));
  await p.page.fill("#name", "x".repeat(40));
  await p.page.fill("#room", room);
  await p.page.click("#join");
  await p.page.locator("#login-error", { hasText: "invalid name" }).waitFor();
  assert.equal(await p.page.locator("#chat-view").isHidden(), true);
});
