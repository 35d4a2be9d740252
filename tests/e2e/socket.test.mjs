// Socket-level behaviour through the official phoenix client: connect,
// refused connect, heartbeat, forced disconnect by socket id, and the HTTP
// answers of the WebSocket endpoint (protocol.md 1.7, 2.2, 2.3, 2.13).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  setupServer,
  makeSocket,
  openSocket,
  connectSocket,
  socketInbox,
  join,
  pushReply,
  ping,
  upgradeStatus,
  httpRequest,
  Inbox,
} from "./helpers.mjs";

const server = setupServer();

describe("socket", { timeout: 30000 }, () => {
  test("connects over WebSocket with vsn=2.0.0", async () => {
    const socket = await openSocket(server, { user_id: "alice", token: "ok" });
    assert.equal(socket.isConnected(), true);
    assert.equal(socket.connectionState(), "open");
    assert.match(socket.endPointURL(), /\/socket\/websocket\?user_id=alice&token=ok&vsn=2\.0\.0$/);
  });

  test("connects without params (anonymous socket)", async () => {
    const socket = await openSocket(server, {});
    assert.equal(socket.isConnected(), true);
    const ch = socket.channel("room:lobby");
    assert.deepEqual(await join(ch), { joined: "room:lobby" });
  });

  test("refused connect (token=bad): the client errors and never opens", async () => {
    // no reconnect noise while we watch
    const socket = makeSocket(server, { user_id: "mallory", token: "bad" }, { reconnectAfterMs: () => 60000 });
    const events = socketInbox(socket);
    await assert.rejects(connectSocket(socket), /socket (error|closed) before open/);
    // the browser sees an error, then a close (1006 for a refused upgrade)
    const close = await events.take((e) => e.type === "close", 5000, "the close event");
    assert.notEqual(close.code, 1000, "a refused upgrade must not look like a normal close");
    await events.none((e) => e.type === "open", 300, "an open event");
    assert.equal(socket.isConnected(), false);
  });

  test("refused connect answers the upgrade with HTTP 403", async () => {
    assert.equal(await upgradeStatus(server.wsUrl("token=bad&vsn=2.0.0")), 403);
    assert.equal(await upgradeStatus(server.wsUrl("user_id=x&token=bad&vsn=2.0.0")), 403);
    // control: the same request with another token upgrades
    assert.equal(await upgradeStatus(server.wsUrl("token=good&vsn=2.0.0")), 101);
  });

  test("serializer negotiation: unsupported vsn is refused with 403", async () => {
    assert.equal(await upgradeStatus(server.wsUrl("vsn=3.0.0")), 403);
    assert.equal(await upgradeStatus(server.wsUrl("vsn=2.1.0")), 403);
    assert.equal(await upgradeStatus(server.wsUrl("vsn=2")), 403);
    assert.equal(await upgradeStatus(server.wsUrl("vsn=2.0.0")), 101);
    assert.equal(await upgradeStatus(server.wsUrl("vsn=1.0.0")), 101);
    assert.equal(await upgradeStatus(server.wsUrl("")), 101);
  });

  test("a plain GET (no upgrade) on /socket/websocket is HTTP 400", async () => {
    const res = await httpRequest(`${server.httpUrl}/socket/websocket?vsn=2.0.0`);
    assert.equal(res.status, 400);
  });

  test("heartbeat: socket.ping() gets a reply", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const rtt = await ping(socket);
    assert.equal(typeof rtt, "number");
    assert.ok(rtt >= 0);
    // works with a channel joined too, and repeatedly
    await join(socket.channel("room:lobby"));
    await ping(socket);
    await ping(socket);
  });

  test("disconnect_user closes every socket of that user with 1001, others stay", async () => {
    const a1 = makeSocket(server, { user_id: "dave" }, { reconnectAfterMs: () => 60000 });
    const a2 = makeSocket(server, { user_id: "dave" }, { reconnectAfterMs: () => 60000 });
    const other = makeSocket(server, { user_id: "erin" });
    const ev1 = socketInbox(a1);
    const ev2 = socketInbox(a2);
    const evOther = socketInbox(other);
    await Promise.all([connectSocket(a1), connectSocket(a2), connectSocket(other)]);
    // dave is joined somewhere too: the channel must error, not close
    const daveChan = a1.channel("room:lobby");
    await join(daveChan);
    const daveErrors = [];
    daveChan.onError((r) => daveErrors.push(r));

    const ch = other.channel("room:lobby");
    await join(ch);
    const r = await pushReply(ch, "disconnect_user", { user_id: "dave" });
    assert.deepEqual(r, { status: "ok", response: {} });

    const c1 = await ev1.take((e) => e.type === "close", 5000, "close of dave #1");
    const c2 = await ev2.take((e) => e.type === "close", 5000, "close of dave #2");
    assert.equal(c1.code, 1001);
    assert.equal(c2.code, 1001);
    assert.equal(daveErrors.length, 1, "dave's channel errors (transport close)");

    await evOther.none((e) => e.type === "close" || e.type === "error", 300, "a close/error of erin's socket");
    assert.equal(other.isConnected(), true);
    await ping(other);
    assert.deepEqual(await pushReply(ch, "ping", { still: "here" }), { status: "ok", response: { still: "here" } });
  });

  test("disconnect_user for a user without sockets is harmless", async () => {
    const socket = await openSocket(server, { user_id: "frank" });
    const events = socketInbox(socket);
    const ch = socket.channel("room:lobby");
    await join(ch);
    assert.deepEqual(await pushReply(ch, "disconnect_user", { user_id: "nobody-has-this-id" }), {
      status: "ok",
      response: {},
    });
    await events.none((e) => e.type === "close", 300, "a close");
    await ping(socket);
  });

  test("the client reconnects after a forced disconnect (1001) and rejoins", async () => {
    const socket = makeSocket(server, { user_id: "gina" });
    const events = socketInbox(socket);
    await connectSocket(socket);
    const ch = socket.channel("room:lobby");
    const oks = new Inbox("join oks");
    ch.join().receive("ok", (r) => oks.push(r));
    await oks.take(() => true, 5000, "the first join ok");
    await events.take((e) => e.type === "open", 1000, "the first open");
    const admin = await openSocket(server, { user_id: "admin" });
    const adminCh = admin.channel("room:lobby");
    await join(adminCh);
    await pushReply(adminCh, "disconnect_user", { user_id: "gina" });
    const close = await events.take((e) => e.type === "close", 5000, "the close");
    assert.equal(close.code, 1001);
    await events.take((e) => e.type === "open", 5000, "the reopen (reconnect backoff starts at 10 ms)");
    // errored channels rejoin right on open
    assert.deepEqual(await oks.take(() => true, 5000, "the join ok after reconnect"), { joined: "room:lobby" });
    assert.deepEqual(await pushReply(ch, "ping", { back: true }), { status: "ok", response: { back: true } });
  });
});
