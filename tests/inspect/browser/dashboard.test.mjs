// The /_fenix dashboard in a real browser (Debian's chromium, driven by
// playwright-core): it shows the conformance app's tree, a kill click
// makes the killed actor's supervisor restart it, and the supervisor's
// restart count changes on screen. Leaves dashboard.png (and, on failure,
// dashboard-failure.png) in $FENIX_ARTIFACTS (the build dir under CTest).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { chromium } from "playwright-core";

const bin = process.env.FENIX_CONFORMANCE;
const artifacts = process.env.FENIX_ARTIFACTS || process.cwd();
const token = "dash-" + Math.random().toString(36).slice(2);
let server;
let base;
let browser;

/** Starts fenix_conformance on a free port; resolves with its URL. */
function startServer() {
  return new Promise((resolve, reject) => {
    if (!bin) return reject(new Error("FENIX_CONFORMANCE is not set"));
    server = spawn(bin, ["--port=0", "--admin-token=" + token],
                   { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start: " + out)), 15000);
    const onData = (d) => {
      out += d;
      const m = /fenix_conformance listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    server.stdout.on("data", onData);
    server.stderr.on("data", (d) => { out += d; });
    server.on("exit", (code) => reject(new Error("server exited " + code + ": " + out)));
  });
}

before(async () => {
  base = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const gone = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
    if (server.exitCode === null) server.kill("SIGKILL");
  }
});

/** A page that joins room:lobby over a raw Phoenix V2 WebSocket. */
async function joinedClient(ctx) {
  const page = await ctx.newPage();
  await page.goto(base + "/_fenix/dashboard"); // any same-origin page will do
  const reply = await page.evaluate((url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    window.__ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(["1", "1", "room:lobby", "phx_join", {}]));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f[3] === "phx_reply") resolve(f[4].status);
    };
    ws.onerror = () => reject(new Error("websocket error"));
    setTimeout(() => reject(new Error("no join reply")), 5000);
  }), base.replace(/^http/, "ws") + "/socket/websocket?vsn=2.0.0&user_id=dash");
  assert.equal(reply, "ok");
  return page;
}

test("the page asks for the token and refuses a wrong one", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(base + "/_fenix/dashboard");
  await page.waitForSelector("#login:not([hidden])", { timeout: 5000 });
  await page.fill("#token", "wrong");
  await page.click("#login button");
  await page.waitForFunction(
    () => document.querySelector("#login-error").textContent === "wrong token",
    null, { timeout: 5000 });
  await page.fill("#token", token);
  await page.click("#login button");
  await page.waitForSelector('.row[data-name="ConformanceEndpoint"]', { timeout: 5000 });
  await ctx.close();
});

test("shows the tree live and a kill click shows the restart", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const client = await joinedClient(ctx);
  const page = await ctx.newPage();
  page.on("dialog", (d) => d.accept());
  try {
    await page.goto(base + "/_fenix/dashboard#token=" + token);
    // The token left the address bar at once.
    assert.ok(!page.url().includes(token), page.url());
    for (const name of ["pubsub:conformance", "presence:conformance",
                        "ConformanceEndpoint", "listener", "connections"])
      await page.waitForSelector(`.row[data-name="${name}"]`, { timeout: 5000 });
    await page.waitForSelector('.row[data-kind="connection"]', { timeout: 5000 });
    await page.waitForSelector('.row[data-kind="channel"][data-name="room:lobby"]', { timeout: 5000 });
    const conn = await page.textContent('.row[data-kind="connection"] .info');
    assert.match(conn, /topics room:lobby/);

    const sup = '.row[data-name="pubsub:conformance"]';
    const before = Number(await page.textContent(`${sup} .child-restarts`));
    const shard = '.row[data-name="shard 0"]';
    const oldId = await page.getAttribute(shard, "data-id");
    await page.hover(shard);
    await page.click(`${shard} .kill`);
    // The supervisor's count changes on screen, the row flashes, the log says why.
    await page.waitForFunction(
      ([sel, b]) => Number(document.querySelector(sel)?.textContent) > b,
      [`${sup} .child-restarts`, before], { timeout: 10000 });
    assert.ok((await page.getAttribute(sup, "class")).includes("flash"));
    await page.waitForFunction(
      () => /restarted a child/.test(document.querySelector("#events").textContent),
      null, { timeout: 5000 });
    const newId = await page.getAttribute(shard, "data-id");
    assert.notEqual(newId, oldId);
    const restarts = Number(await page.textContent(`${shard} .restarts`));
    assert.ok(restarts >= 1);
    const statRestarts = await page.textContent('[data-stat="restarts"] b');
    assert.ok(Number(statRestarts) >= 1, statRestarts);
    await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
  } catch (e) {
    await page.screenshot({ path: path.join(artifacts, "dashboard-failure.png"), fullPage: true })
      .catch(() => {});
    throw e;
  } finally {
    await client.close();
    await ctx.close();
  }
});
