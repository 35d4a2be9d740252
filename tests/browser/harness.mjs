// Harness for the browser tests: starts fenix_chat on a free port and
// headless Debian chromium through playwright-core.
//
// - FENIX_CHAT: the fenix_chat binary (set by CTest), or FENIX_URL to use a
//   running server instead.
// - FENIX_CHROMIUM: the browser (default /usr/bin/chromium).
// - FENIX_ARTIFACTS: where screenshots go (CTest: <build>/tests/browser/artifacts).

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => {
      s.removeAllListeners();
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/**
 * Starts fenix_chat; resolves {url, stop(), output()} once it accepts TCP
 * connections (at most `readyMs`).
 */
export async function startChat({ readyMs = 10000 } = {}) {
  if (process.env.FENIX_URL) {
    return { url: process.env.FENIX_URL.replace(/\/$/, ""), stop: async () => {}, output: () => "" };
  }
  const bin = process.env.FENIX_CHAT;
  if (!bin) throw new Error("FENIX_CHAT is not set (path of fenix_chat), nor FENIX_URL");
  fs.accessSync(bin, fs.constants.X_OK);
  const host = "127.0.0.1";
  const port = await freePort();
  const child = spawn(bin, [`--host=${host}`, `--port=${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (chunk) => {
    out = (out + chunk.toString()).slice(-20000);
    if (process.env.FENIX_E2E_VERBOSE) process.stderr.write(chunk);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  const exit = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve((exited = { code, signal }))),
  );
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      /* gone */
    }
  };
  process.once("exit", kill);

  const until = Date.now() + readyMs;
  while (!(await tryConnect(host, port))) {
    if (exited) throw new Error(`fenix_chat exited (${JSON.stringify(exited)}) before listening:\n${out}`);
    if (Date.now() > until) {
      kill();
      throw new Error(`fenix_chat did not listen on ${port} within ${readyMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://${host}:${port}`,
    output: () => out,
    stop: async () => {
      if (!exited) {
        child.kill("SIGTERM");
        let t;
        const r = await Promise.race([exit, new Promise((res) => (t = setTimeout(() => res(null), 5000)))]);
        clearTimeout(t);
        if (!r) {
          kill();
          await exit;
        }
      }
      child.stdout.destroy();
      child.stderr.destroy();
      return exited;
    },
  };
}

/** Headless chromium as the brief asks (root, closed network). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.FENIX_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export function artifactPath(name) {
  const dir = process.env.FENIX_ARTIFACTS || path.resolve("artifacts");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/**
 * A fresh browser context and page (own localStorage, like another
 * person's browser), with console errors and page errors collected.
 */
export async function openPage(browser, url, { timeoutMs = 10000 } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  context.setDefaultTimeout(timeoutMs);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { context, page, errors };
}

/** Fills the login form and waits for the chat view. */
export async function joinRoom(page, name, room) {
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join");
  await page.locator("#chat-view").waitFor({ state: "visible" });
}
