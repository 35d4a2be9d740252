// Channel behaviour through the official phoenix client (RoomChannel of the
// conformance app; protocol.md 2.4-2.8, 2.12, 5).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  setupServer,
  openSocket,
  join,
  joinReply,
  pushReply,
  channelInbox,
  ping,
  Inbox,
  withTimeout,
} from "./helpers.mjs";

const server = setupServer();

// the client's rejoin backoff starts at 1000 ms (protocol.md 5)
const REJOIN_MS = 1000;
const MARGIN_MS = 2000;

describe("channels", { timeout: 30000 }, () => {
  test("join room:lobby replies ok {joined: topic}", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:lobby");
    assert.deepEqual(await joinReply(ch), { status: "ok", response: { joined: "room:lobby" } });
    assert.equal(ch.state, "joined");
  });

  test("join of any room:* topic echoes that topic", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:some/odd topic ü");
    assert.deepEqual(await join(ch), { joined: "room:some/odd topic ü" });
  });

  test("join room:private with a wrong password is refused", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:private", { password: "guess" });
    assert.deepEqual(await joinReply(ch), { status: "error", response: { reason: "unauthorized" } });
    assert.notEqual(ch.state, "joined");
    // the client retries rejected joins; stop it
    ch.leave();
  });

  test("join room:private without a password is refused", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:private");
    assert.deepEqual(await joinReply(ch), { status: "error", response: { reason: "unauthorized" } });
    ch.leave();
  });

  test("join room:private with the right password is ok", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:private", { password: "secret" });
    assert.deepEqual(await joinReply(ch), { status: "ok", response: { joined: "room:private" } });
    assert.deepEqual(await pushReply(ch, "ping", { in: "private" }), { status: "ok", response: { in: "private" } });
  });

  test("join of an unmatched topic: error {reason: 'unmatched topic'}", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("other:x");
    assert.deepEqual(await joinReply(ch), { status: "error", response: { reason: "unmatched topic" } });
    ch.leave();
  });

  test("bench:* routes to BenchChannel: join ok {} and ping echo", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("bench:1");
    assert.deepEqual(await joinReply(ch), { status: "ok", response: {} });
    assert.deepEqual(await pushReply(ch, "ping", { n: 7 }), { status: "ok", response: { n: 7 } });
  });

  test("ping replies ok with the payload (echo)", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:lobby");
    await join(ch);
    const payload = { hello: "world", n: 42, f: 1.5, t: true, nil: null, list: [1, "two", { three: 3 }], s: "ü€😀\"\\" };
    assert.deepEqual(await pushReply(ch, "ping", payload), { status: "ok", response: payload });
    assert.deepEqual(await pushReply(ch, "ping", {}), { status: "ok", response: {} });
  });

  test("push_me: the server pushes 'pushed' with the payload to this client", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:lobby");
    await join(ch);
    const inbox = channelInbox(ch, ["pushed"]);
    ch.push("push_me", { x: 1, y: ["a"] });
    const got = await inbox.take(() => true, 3000, "the 'pushed' event");
    assert.deepEqual(got.payload, { x: 1, y: ["a"] });
    assert.equal(got.ref, null);
    assert.equal(got.joinRef, ch.joinRef(), "a push carries the channel's join_ref");
  });

  test("error_reply replies error {reason: 'nope'}", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:lobby");
    await join(ch);
    assert.deepEqual(await pushReply(ch, "error_reply", { whatever: 1 }), { status: "error", response: { reason: "nope" } });
    // the channel is still fine
    assert.deepEqual(await pushReply(ch, "ping", { a: 1 }), { status: "ok", response: { a: 1 } });
  });

  test("presence_state is pushed after join and lists this user", async () => {
    const socket = await openSocket(server, { user_id: "pres_user" });
    const ch = socket.channel("room:presence-check");
    const inbox = channelInbox(ch, ["presence_state"]);
    await join(ch);
    const { payload } = await inbox.take(() => true, 3000, "presence_state");
    assert.ok(payload.pres_user, `presence_state has key pres_user: ${JSON.stringify(payload)}`);
    assert.ok(Array.isArray(payload.pres_user.metas) && payload.pres_user.metas.length >= 1);
    const meta = payload.pres_user.metas[0];
    assert.equal(typeof meta.phx_ref, "string");
    assert.equal(typeof meta.online_at, "number");
  });

  test("crash: the channel errors and the client rejoins automatically", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:crashy");
    const oks = new Inbox("join oks");
    const errors = new Inbox("channel errors");
    ch.onError((reason) => errors.push(reason));
    ch.join().receive("ok", (r) => oks.push(r));
    assert.deepEqual(await oks.take(() => true, 5000, "the first join ok"), { joined: "room:crashy" });
    const firstJoinRef = ch.joinRef();

    ch.push("crash", {}, 2000);
    const reason = await errors.take(() => true, 3000, "onError after crash");
    assert.deepEqual(reason, { reason: "channel_crash" });
    assert.equal(ch.state, "errored");

    assert.deepEqual(
      await oks.take(() => true, REJOIN_MS + MARGIN_MS, "the rejoin ok"),
      { joined: "room:crashy" },
    );
    assert.equal(ch.state, "joined");
    assert.notEqual(ch.joinRef(), firstJoinRef, "a rejoin uses a new join_ref");
    assert.deepEqual(await pushReply(ch, "ping", { after: "crash" }), { status: "ok", response: { after: "crash" } });
  });

  test("an event without a handler crashes the channel (phx_error)", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:nohandler");
    const errors = new Inbox("channel errors");
    ch.onError((reason) => errors.push(reason));
    await join(ch);
    ch.push("no_such_event", {}, 2000);
    assert.deepEqual(await errors.take(() => true, 3000, "onError"), { reason: "channel_crash" });
  });

  test("a crash is isolated: other channels and the socket keep working", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const a = socket.channel("room:iso-a");
    const b = socket.channel("room:iso-b");
    await Promise.all([join(a), join(b)]);
    const errorsA = new Inbox("errors a");
    const errorsB = new Inbox("errors b");
    a.onError((r) => errorsA.push(r));
    b.onError((r) => errorsB.push(r));
    a.push("crash", {}, 2000);
    await errorsA.take(() => true, 3000, "onError of a");
    assert.deepEqual(await pushReply(b, "ping", { b: 1 }), { status: "ok", response: { b: 1 } });
    await ping(socket);
    await errorsB.none(() => true, 100, "an error on b");
    assert.equal(socket.isConnected(), true);
  });

  test("stop: reply ok, then the channel is closed and not rejoined", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:stoppable");
    await join(ch);
    const closes = new Inbox("channel closes");
    const errors = new Inbox("channel errors");
    ch.onClose((p) => closes.push(p ?? null));
    ch.onError((r) => errors.push(r));
    const reply = pushReply(ch, "stop", {});
    assert.deepEqual(await reply, { status: "ok", response: {} });
    await closes.take(() => true, 3000, "onClose");
    assert.equal(ch.state, "closed");
    assert.ok(!socket.channels.includes(ch), "the client removed the channel");
    await errors.none(() => true, 300, "onError (phx_error instead of phx_close would trigger a rejoin)");
    // the socket stays usable, and a new join of the topic works
    const again = socket.channel("room:stoppable");
    assert.deepEqual(await join(again), { joined: "room:stoppable" });
  });

  test("slow handle_in delays only its channel; heartbeats and other topics go on", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const slow = socket.channel("room:slow");
    const fast = socket.channel("room:fast");
    await Promise.all([join(slow), join(fast)]);
    const order = [];
    const slowReply = pushReply(slow, "slow", { ms: 800 }).then((r) => {
      order.push("slow");
      return r;
    });
    await ping(socket).then(() => order.push("heartbeat"));
    await pushReply(fast, "ping", {}).then(() => order.push("other topic"));
    assert.deepEqual(await withTimeout(slowReply, 5000, "the slow reply"), { status: "ok", response: {} });
    assert.deepEqual(order, ["heartbeat", "other topic", "slow"]);
    // same-channel messages queue behind it (FIFO)
    const r1 = pushReply(slow, "slow", { ms: 300 }).then(() => "slow");
    const r2 = pushReply(slow, "ping", { n: 2 }).then(() => "ping");
    const first = await Promise.race([r1, r2]);
    assert.equal(first, "slow");
    await Promise.all([r1, r2]);
  });

  test("leave: server replies ok {} then phx_close; later pushes to the topic get 'unmatched topic'", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:leavable");
    await join(ch);
    const joinRef = ch.joinRef();
    const closes = new Inbox("channel closes");
    ch.onClose(() => closes.push(true));
    // phoenix.js 1.8 fires the leave's "ok" (and onClose) locally at once,
    // so the server's answer is watched on the socket's message stream.
    const messages = new Inbox("socket messages");
    socket.onMessage((m) => messages.push(m));
    const leavePush = ch.leave(3000);
    const leaveRef = leavePush.ref;
    await closes.take(() => true, 3000, "onClose after leave");
    assert.equal(ch.state, "closed");
    const reply = await messages.take((m) => m.ref === leaveRef, 3000, `the leave reply (ref ${leaveRef})`);
    assert.deepEqual(reply, {
      join_ref: joinRef, ref: leaveRef, topic: "room:leavable", event: "phx_reply",
      payload: { status: "ok", response: {} },
    });
    const close = await messages.take((m) => m.event === "phx_close", 3000, "the server's phx_close");
    assert.deepEqual(close, { join_ref: joinRef, ref: joinRef, topic: "room:leavable", event: "phx_close", payload: {} });
    assert.ok(messages.seen.indexOf(reply) < messages.seen.indexOf(close), "leave reply before phx_close");

    // A push to the topic after leaving, through the client's socket.push
    // (the Channel object refuses to send once closed).
    const ref = socket.makeRef();
    socket.push({ topic: "room:leavable", event: "ping", payload: {}, ref, join_ref: null });
    const unmatched = await messages.take((m) => m.ref === ref, 3000, `the reply to ref ${ref}`);
    assert.deepEqual(unmatched, {
      join_ref: null, ref, topic: "room:leavable", event: "phx_reply",
      payload: { status: "error", response: { reason: "unmatched topic" } },
    });
    // and with the old join_ref as well
    const ref2 = socket.makeRef();
    socket.push({ topic: "room:leavable", event: "ping", payload: {}, ref: ref2, join_ref: joinRef });
    const unmatched2 = await messages.take((m) => m.ref === ref2, 3000, `the reply to ref ${ref2}`);
    assert.deepEqual(unmatched2.payload, { status: "error", response: { reason: "unmatched topic" } });
  });

  test("joining the same topic from two Channel objects: the client leaves the first", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const first = socket.channel("room:dup");
    await join(first);
    const closes = new Inbox("first closes");
    first.onClose(() => closes.push(true));
    const second = socket.channel("room:dup");
    assert.deepEqual(await join(second), { joined: "room:dup" });
    await closes.take(() => true, 3000, "the first channel's close");
    assert.deepEqual(await pushReply(second, "ping", { n: 1 }), { status: "ok", response: { n: 1 } });
  });
});
