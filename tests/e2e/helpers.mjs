// Shared harness for the end-to-end tests.
//
// - startServer(): runs the conformance app (binary from $FENIX_CONFORMANCE)
//   on a free port, waits until it accepts TCP connections, and stops it
//   after the test file (and on process exit). With $FENIX_URL set
//   (e.g. http://127.0.0.1:4000) it uses that running server instead.
//   `adminToken` turns on the inspection endpoint (/_fenix, docs/inspect.md),
//   which the restart tests use to find and kill actors; with $FENIX_URL the
//   token comes from $FENIX_ADMIN_TOKEN.
// - Inbox: a queue of received items with bounded waits, used for phoenix
//   channel events and for raw frames alike.
// - Phoenix client helpers (the official `phoenix` npm package, driven as a
//   browser would, with `ws` as the WebSocket implementation).
// - RawWs: a raw WebSocket client (`ws`) for wire-level checks the phoenix
//   client hides, plus V2 binary frame encode/decode.
//
// Long-poll in Node: phoenix's Ajax module picks XDomainRequest, then
// XMLHttpRequest, then `fetch` + `AbortController`. Node 20 has no
// XMLHttpRequest but has global fetch and AbortController, so the LongPoll
// transport works unmodified through fetch; no polyfill is needed. (The
// fetch path parses the JSON body, aborts on the client's long-poll timeout
// and reports network errors as a null response, exactly like the XHR path.)

import { spawn } from "node:child_process";
import { before, after, afterEach } from "node:test";
import net from "node:net";
import http from "node:http";
import fs from "node:fs";
import { Buffer } from "node:buffer";
import { Socket, LongPoll } from "phoenix";
import WebSocket from "ws";

export { Socket, LongPoll, WebSocket };

// ---------------------------------------------------------------------------
// small promise utilities

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a descriptive error if `promise` does not settle in `ms`. */
export function withTimeout(promise, ms, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for one event from an EventEmitter-like object (`on`/`once`) or a
 * phoenix Channel/Socket-like callback registrar. Resolves with the event's
 * arguments (first argument if there is only one).
 */
export function waitFor(emitter, event, timeoutMs = 5000) {
  return withTimeout(
    new Promise((resolve) => {
      emitter.once(event, (...args) => resolve(args.length > 1 ? args : args[0]));
    }),
    timeoutMs,
    `event "${event}"`,
  );
}

function show(x) {
  if (Buffer.isBuffer(x)) return `<binary ${x.toString("hex")}>`;
  if (x instanceof ArrayBuffer) return `<binary ${Buffer.from(x).toString("hex")}>`;
  try {
    return JSON.stringify(x, (_k, v) =>
      v instanceof ArrayBuffer ? `<binary ${Buffer.from(v).toString("hex")}>` : v,
    );
  } catch {
    return String(x);
  }
}

/**
 * A queue of received items. take() returns (and removes) the first item
 * matching a predicate, waiting up to a timeout; none() asserts that no
 * matching item is present or arrives within a short window. Timeout errors
 * list everything received so far, which is what a failure report needs.
 */
export class Inbox {
  constructor(name = "inbox") {
    this.name = name;
    this.items = [];
    this.seen = [];
    this.waiters = [];
  }

  push(item) {
    this.seen.push(item);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (w.pred(item)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(item);
        return;
      }
    }
    this.items.push(item);
  }

  take(pred = () => true, timeoutMs = 5000, what = "a matching item") {
    const idx = this.items.findIndex(pred);
    if (idx >= 0) return Promise.resolve(this.items.splice(idx, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(
          new Error(
            `${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; ` +
              `received so far: [${this.seen.map(show).join(", ")}]`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Throws if an item matching `pred` is queued or arrives within windowMs. */
  async none(pred = () => true, windowMs = 300, what = "unexpected item") {
    const early = this.items.find(pred);
    if (early !== undefined) {
      throw new Error(`${this.name}: got ${what}: ${show(early)}`);
    }
    let got;
    try {
      got = await this.take(pred, windowMs, what);
    } catch {
      return; // nothing arrived: good
    }
    throw new Error(`${this.name}: got ${what}: ${show(got)}`);
  }
}

// ---------------------------------------------------------------------------
// server lifecycle

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
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

/** Polls until host:port accepts a TCP connection or the deadline passes. */
export async function waitForPort(host, port, deadlineMs = 10000, isDead = () => null) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    if (await tryConnect(host, port)) return;
    if (Date.now() > until) {
      throw new Error(`server did not accept connections on ${host}:${port} within ${deadlineMs} ms`);
    }
    await sleep(50);
  }
}

const liveServers = new Set();

// The server runs in its own process group (spawned detached), so a wrapper
// script and its children go down together.
function killServer(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

process.on("exit", () => {
  for (const child of liveServers) killServer(child, "SIGKILL");
});

/**
 * Starts the server under test. Returns
 *   { host, port, httpUrl, socketUrl, wsUrl(query), adminToken, stop(), output() }.
 * With FENIX_URL set, returns the same shape for that server and stop() is a
 * no-op. Otherwise FENIX_CONFORMANCE must name the fenix_conformance binary.
 */
export async function startServer({ readyTimeoutMs = 10000, adminToken = null } = {}) {
  if (process.env.FENIX_URL) {
    const u = new URL(process.env.FENIX_URL);
    const host = u.hostname;
    const port = Number(u.port || 80);
    await waitForPort(host, port, readyTimeoutMs);
    const token = adminToken ? process.env.FENIX_ADMIN_TOKEN ?? null : null;
    return describeServer(host, port, null, () => "", async () => {}, token);
  }

  const bin = process.env.FENIX_CONFORMANCE;
  if (!bin) {
    throw new Error(
      "FENIX_CONFORMANCE is not set: point it at the fenix_conformance binary " +
        "(e.g. FENIX_CONFORMANCE=build/apps/conformance/fenix_conformance), " +
        "or set FENIX_URL=http://127.0.0.1:4000 to use a running server",
    );
  }
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`FENIX_CONFORMANCE=${bin}: no such executable file`);
  }

  const host = "127.0.0.1";
  const port = await freePort();
  const verbose = !!process.env.FENIX_E2E_VERBOSE;
  // "--opt=value": CAF 0.17's command line parser (fenix::boot) rejects the
  // space-separated "--port 4000" form with missing_argument; "=" works with
  // CAF and with GNU-style parsers alike.
  const args = [`--host=${host}`, `--port=${port}`];
  if (adminToken) args.push(`--admin-token=${adminToken}`);
  const child = spawn(bin, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  liveServers.add(child);

  // keep the tail of the server's output for failure messages
  let out = "";
  const keep = (chunk) => {
    out += chunk.toString();
    if (out.length > 20000) out = out.slice(-20000);
    if (verbose) process.stderr.write(chunk);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);

  let exited = null;
  let spawnError = null;
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      liveServers.delete(child);
      resolve(exited);
    });
  });
  child.once("error", (e) => {
    spawnError = e;
  });

  const isDead = () => {
    if (spawnError) return `could not start ${bin}: ${spawnError.message}`;
    if (exited) {
      return (
        `${bin} exited before accepting connections ` +
        `(code ${exited.code}, signal ${exited.signal}); output:\n${out}`
      );
    }
    return null;
  };

  const release = () => {
    // a grandchild holding the pipes must not keep this process alive
    child.stdout.destroy();
    child.stderr.destroy();
  };

  try {
    await waitForPort(host, port, readyTimeoutMs, isDead);
  } catch (e) {
    killServer(child, "SIGKILL");
    release();
    throw e;
  }

  const stop = async () => {
    if (!exited) {
      killServer(child, "SIGTERM");
      let t;
      const r = await Promise.race([
        exitPromise,
        new Promise((resolve) => (t = setTimeout(() => resolve(null), 3000))),
      ]);
      clearTimeout(t);
      if (!r) {
        killServer(child, "SIGKILL");
        await exitPromise;
      }
    }
    release();
    return exited;
  };
  return describeServer(host, port, child, () => out, stop, adminToken);
}

function describeServer(host, port, child, output, stop, adminToken = null) {
  const httpUrl = `http://${host}:${port}`;
  return {
    host,
    port,
    child,
    httpUrl,
    adminToken,
    // what the phoenix client is given (it appends /websocket or /longpoll)
    socketUrl: `ws://${host}:${port}/socket`,
    wsUrl: (query) => `ws://${host}:${port}/socket/websocket${query ? "?" + query : ""}`,
    output,
    stop,
  };
}

/**
 * Registers before/afterEach/after hooks for a test file: one server per
 * file, every socket and raw connection closed after each test. Returns an
 * object that holds the server's fields once `before` ran. `options` go to
 * startServer.
 */
export function setupServer(options = {}) {
  const server = {};
  before(async () => {
    Object.assign(server, await startServer(options));
  });
  afterEach(async () => {
    await disconnectAll();
    RawWs.closeAll();
  });
  after(async () => {
    await disconnectAll();
    RawWs.closeAll();
    if (server.stop) await server.stop();
  });
  return server;
}

// ---------------------------------------------------------------------------
// the inspection endpoint (docs/inspect.md): find actors, kill them

/** A request under /_fenix with the server's admin token; resolves {status, json}. */
export async function adminRequest(server, method, path) {
  if (!server.adminToken) {
    throw new Error("no admin token: start the server with setupServer({adminToken}) (or set FENIX_ADMIN_TOKEN)");
  }
  const res = await httpRequest(`${server.httpUrl}/_fenix${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, "content-length": "0" },
  });
  let json = null;
  try {
    json = JSON.parse(res.body);
  } catch {
    /* reported through the status */
  }
  return { status: res.status, json };
}

/** The live actor tree (`GET /_fenix/tree`). */
export async function actorTree(server) {
  const res = await adminRequest(server, "GET", "/tree");
  if (res.status !== 200) throw new Error(`GET /_fenix/tree: HTTP ${res.status} ${show(res.json)}`);
  return res.json;
}

/** Every node of `tree` (depth first) for which `pred(node)` holds. */
export function findActors(tree, pred) {
  const out = [];
  const walk = (n) => {
    if (pred(n)) out.push(n);
    for (const c of n.children ?? []) walk(c);
  };
  walk(tree);
  return out;
}

/** Kills one actor (`POST /_fenix/actors/<id>/kill`); resolves once it is gone. */
export async function killActor(server, id) {
  const res = await adminRequest(server, "POST", `/actors/${id}/kill`);
  if (res.status !== 200 || !res.json?.killed) {
    throw new Error(`kill #${id}: HTTP ${res.status} ${show(res.json)}`);
  }
  return res.json;
}

/**
 * Polls the tree until `pred(tree)` returns something truthy and resolves
 * with it; rejects after `timeoutMs`.
 */
export async function waitForTree(server, pred, what, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const tree = await actorTree(server);
    const v = pred(tree);
    if (v) return v;
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for the actor tree to show ${what}`);
    }
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------
// phoenix client helpers

const openSockets = new Set();

/**
 * A phoenix Socket as a browser would build it, with `ws` as transport.
 * The default push/join timeout is lowered from phoenix's 10 s to 3 s so
 * that pushes nobody answers (shout, crash) do not keep the test process
 * alive long after its tests finished.
 */
export function makeSocket(server, params = {}, opts = {}) {
  const socket = new Socket(server.socketUrl, {
    transport: WebSocket,
    params,
    timeout: 3000,
    ...opts,
  });
  openSockets.add(socket);
  return socket;
}

/** Connects and resolves once open; rejects on error/close before open. */
export function connectSocket(socket, timeoutMs = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const refs = [];
      const done = (fn, v) => {
        socket.off(refs);
        fn(v);
      };
      refs.push(socket.onOpen(() => done(resolve, socket)));
      refs.push(
        socket.onError((e) => done(reject, new Error(`socket error before open: ${show(e && (e.message || e.type || e))}`))),
      );
      refs.push(socket.onClose((e) => done(reject, new Error(`socket closed before open: code ${e && e.code}`))));
      socket.connect();
    }),
    timeoutMs,
    "the socket to open",
  );
}

export async function openSocket(server, params = {}, opts = {}) {
  return connectSocket(makeSocket(server, params, opts));
}

/** Disconnects every socket made by makeSocket (call from afterEach). */
export async function disconnectAll() {
  const all = [...openSockets];
  openSockets.clear();
  await Promise.all(
    all.map((s) =>
      withTimeout(new Promise((resolve) => s.disconnect(resolve)), 3000, "disconnect").catch(() => {}),
    ),
  );
}

export class PushError extends Error {
  constructor(status, response, what) {
    super(`${what}: got ${status} ${show(response)}`);
    this.status = status;
    this.response = response;
  }
}

/**
 * Resolves with {status, response} for any reply status ("ok", "error",
 * ...), rejects on the client's push timeout.
 */
export function pushReply(channel, event, payload = {}, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const push = channel.push(event, payload, timeoutMs);
    push.receive("ok", (response) => resolve({ status: "ok", response }));
    push.receive("error", (response) => resolve({ status: "error", response }));
    push.receive("timeout", () =>
      reject(new Error(`no reply to "${event}" on ${channel.topic} within ${timeoutMs} ms`)),
    );
  });
}

/**
 * Joins and resolves with {status, response} of the first join reply
 * (ok or error); rejects on timeout.
 */
export function joinReply(channel, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const push = channel.join(timeoutMs);
    let settled = false;
    const once = (v) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    push.receive("ok", (response) => once({ status: "ok", response }));
    push.receive("error", (response) => once({ status: "error", response }));
    push.receive("timeout", () => {
      if (!settled) {
        settled = true;
        reject(new Error(`no join reply for ${channel.topic} within ${timeoutMs} ms`));
      }
    });
  });
}

/** Joins; resolves with the ok response, rejects on error or timeout. */
export async function join(channel, timeoutMs = 5000) {
  const r = await joinReply(channel, timeoutMs);
  if (r.status !== "ok") throw new PushError(r.status, r.response, `join ${channel.topic}`);
  return r.response;
}

/**
 * An Inbox of {event, payload, ref, joinRef} for the given channel events.
 * Fed through the channel's public onMessage hook, which sees the frame's
 * join_ref as it came off the wire (null for fastlane broadcasts); the
 * bindings of channel.on() get the channel's own join_ref filled in instead.
 */
export function channelInbox(channel, events) {
  const inbox = new Inbox(`channel ${channel.topic}`);
  const prev = channel.onMessage;
  channel.onMessage = function (event, payload, ref, joinRef) {
    const handled = prev.call(this, event, payload, ref, joinRef);
    if (events.includes(event)) inbox.push({ event, payload: handled, ref: ref ?? null, joinRef: joinRef ?? null });
    return handled;
  };
  return inbox;
}

/** An Inbox fed by the socket's lifecycle callbacks: {type:"open"|"close"|"error", ...}. */
export function socketInbox(socket) {
  const inbox = new Inbox("socket");
  socket.onOpen(() => inbox.push({ type: "open" }));
  socket.onClose((e) => inbox.push({ type: "close", code: e && e.code, reason: e && e.reason }));
  socket.onError((e) => inbox.push({ type: "error", error: e }));
  return inbox;
}

/** Heartbeat through the client's socket.ping(); resolves with the round-trip ms. */
export function ping(socket, timeoutMs = 3000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      if (!socket.ping((rtt) => resolve(rtt))) reject(new Error("socket.ping(): not connected"));
    }),
    timeoutMs,
    "the heartbeat reply",
  );
}

export function bytes(...xs) {
  return new Uint8Array(xs).buffer;
}

export function abToHex(ab) {
  return Buffer.from(ab instanceof ArrayBuffer ? new Uint8Array(ab) : ab).toString("hex");
}

// ---------------------------------------------------------------------------
// raw WebSocket client

/**
 * Resolves with the HTTP status of a WebSocket upgrade attempt at `url`:
 * 101 if it upgraded, otherwise the refusal status (e.g. 403).
 */
export function upgradeStatus(url, timeoutMs = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on("upgrade", () => {
        resolve(101);
        ws.terminate();
      });
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode);
        res.resume();
        ws.terminate();
      });
      ws.on("error", (e) => reject(e));
    }),
    timeoutMs,
    `the upgrade answer from ${url}`,
  );
}

/** Plain HTTP request; resolves {status, headers, body}. */
export function httpRequest(url, { method = "GET", headers = {}, body = null } = {}, timeoutMs = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: false }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
      });
      req.on("error", reject);
      if (body) req.write(body);
      req.end();
    }),
    timeoutMs,
    `${method} ${url}`,
  );
}

/**
 * A raw WebSocket connection. Text frames are JSON-parsed (unparsable text is
 * kept as {text}); binary frames become {binary: Buffer}. All go into
 * `frames` (an Inbox). `closed` resolves with {code, reason} on close.
 */
export class RawWs {
  static open(url, timeoutMs = 5000) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on("unexpected-response", (_req, res) => {
          res.resume();
          reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
          ws.terminate();
        });
        ws.once("error", reject);
        ws.once("open", () => {
          ws.off("error", reject);
          resolve(new RawWs(ws, url));
        });
      }),
      timeoutMs,
      `raw WebSocket open ${url}`,
    );
  }

  constructor(ws, url) {
    this.ws = ws;
    this.url = url;
    this.frames = new Inbox(`raw ${url}`);
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on("error", () => {}); // reported through close
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        this.frames.push({ binary: Buffer.from(data) });
      } else {
        const text = data.toString();
        try {
          this.frames.push(JSON.parse(text));
        } catch {
          this.frames.push({ text });
        }
      }
    });
    RawWs.all.add(this);
  }

  send(frame) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  sendBinary(buf) {
    this.ws.send(buf, { binary: true });
  }

  /** V2: next frame [jr, ref, topic, "phx_reply", ...] with this ref. */
  reply(ref, timeoutMs = 5000) {
    return this.frames.take(
      (f) => Array.isArray(f) && f[1] === ref && f[3] === "phx_reply",
      timeoutMs,
      `phx_reply with ref ${show(ref)}`,
    );
  }

  /** V2: next frame on topic with this event (and join_ref, if given). */
  event(topic, event, timeoutMs = 5000, pred = () => true) {
    return this.frames.take(
      (f) => Array.isArray(f) && f[2] === topic && f[3] === event && pred(f),
      timeoutMs,
      `"${event}" on ${topic}`,
    );
  }

  /** V2 join; returns the reply frame. */
  async join(topic, payload, joinRef, ref = joinRef) {
    this.send([joinRef, ref, topic, "phx_join", payload]);
    return this.reply(ref);
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }

  static closeAll() {
    for (const r of RawWs.all) r.close();
    RawWs.all.clear();
  }
}
RawWs.all = new Set();

// V2 binary frames (protocol.md 1.4)

/** Client -> server kind 0 push. */
export function encodeBinaryPush({ joinRef = "", ref = "", topic, event, payload }) {
  const parts = [joinRef ?? "", ref ?? "", topic, event].map((s) => Buffer.from(s, "utf8"));
  const head = Buffer.from([0, ...parts.map((p) => p.length)]);
  return Buffer.concat([head, ...parts, Buffer.from(payload)]);
}

/** Server -> client: kind 0 push, 1 reply, 2 broadcast. */
export function decodeBinary(buf) {
  const kind = buf[0];
  const str = (off, len) => buf.subarray(off, off + len).toString("utf8");
  if (kind === 0) {
    const [j, t, e] = [buf[1], buf[2], buf[3]];
    let o = 4;
    const joinRef = str(o, j); o += j;
    const topic = str(o, t); o += t;
    const event = str(o, e); o += e;
    return { kind, joinRef, topic, event, payload: buf.subarray(o) };
  }
  if (kind === 1) {
    const [j, r, t, s] = [buf[1], buf[2], buf[3], buf[4]];
    let o = 5;
    const joinRef = str(o, j); o += j;
    const ref = str(o, r); o += r;
    const topic = str(o, t); o += t;
    const status = str(o, s); o += s;
    return { kind, joinRef, ref, topic, status, payload: buf.subarray(o) };
  }
  if (kind === 2) {
    const [t, e] = [buf[1], buf[2]];
    let o = 3;
    const topic = str(o, t); o += t;
    const event = str(o, e); o += e;
    return { kind, topic, event, payload: buf.subarray(o) };
  }
  return { kind, raw: buf };
}
