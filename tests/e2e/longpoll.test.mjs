// Long-poll through the official client's LongPoll transport (which uses
// fetch in Node, see helpers.mjs), plus raw HTTP checks of the envelope
// (protocol.md 1.8, 5).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  setupServer,
  makeSocket,
  connectSocket,
  openSocket,
  socketInbox,
  join,
  joinReply,
  pushReply,
  channelInbox,
  httpRequest,
  LongPoll,
  Inbox,
} from "./helpers.mjs";

const server = setupServer();

function lpSocket(params, opts = {}) {
  return makeSocket(server, params, { transport: LongPoll, ...opts });
}

describe("long-poll", { timeout: 40000 }, () => {
  test("raw handshake: GET without a session token answers status 410 with a token", async () => {
    const res = await httpRequest(`${server.httpUrl}/socket/longpoll?user_id=lp&vsn=2.0.0`, {
      headers: { accept: "application/json" },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"] || "", /^application\/json/);
    const body = JSON.parse(res.body);
    assert.equal(body.status, 410);
    assert.equal(typeof body.token, "string");
    assert.ok(body.token.length > 0);
    assert.deepEqual(body.messages, []);
  });

  test("raw: refused connect answers {status: 403}", async () => {
    const res = await httpRequest(`${server.httpUrl}/socket/longpoll?token=bad&vsn=2.0.0`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 403 });
    const bad = await httpRequest(`${server.httpUrl}/socket/longpoll?vsn=3.0.0`);
    assert.deepEqual(JSON.parse(bad.body), { status: 403 });
  });

  test("raw: POST with an unknown session token answers {status: 410}", async () => {
    const res = await httpRequest(`${server.httpUrl}/socket/longpoll?token=not-a-session&vsn=2.0.0`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: JSON.stringify([null, "1", "phoenix", "heartbeat", {}]),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 410 });
  });

  test("the LongPoll client connects", async () => {
    const socket = await connectSocket(lpSocket({ user_id: "lp1" }), 10000);
    assert.equal(socket.isConnected(), true);
    assert.equal(socket.transport, LongPoll);
  });

  test("refused LongPoll connect: error 403 and close 1008, never open", async () => {
    const socket = lpSocket({ user_id: "lpbad", token: "bad" }, { reconnectAfterMs: () => 60000 });
    const events = socketInbox(socket);
    await assert.rejects(connectSocket(socket, 10000), /socket (error|closed) before open/);
    const error = await events.take((e) => e.type === "error", 3000, "the error event");
    assert.equal(error.error, 403);
    const close = await events.take((e) => e.type === "close", 3000, "the close event");
    assert.equal(close.code, 1008);
    await events.none((e) => e.type === "open", 300, "an open event");
  });

  test("join, ping/reply, push_me, error_reply over long-poll", async () => {
    const socket = await connectSocket(lpSocket({ user_id: "lp2" }), 10000);
    const ch = socket.channel("room:lp");
    const pushed = channelInbox(ch, ["pushed"]);
    assert.deepEqual(await joinReply(ch, 10000), { status: "ok", response: { joined: "room:lp" } });
    assert.deepEqual(await pushReply(ch, "ping", { via: "longpoll" }, 10000), { status: "ok", response: { via: "longpoll" } });
    ch.push("push_me", { lp: true });
    assert.deepEqual((await pushed.take(() => true, 10000, "pushed")).payload, { lp: true });
    assert.deepEqual(await pushReply(ch, "error_reply", {}, 10000), { status: "error", response: { reason: "nope" } });
  });

  test("many pushes in one tick (one ndjson batch) are all answered in order", async () => {
    const socket = await connectSocket(lpSocket({ user_id: "lp3" }), 10000);
    const ch = socket.channel("room:lpbatch");
    await join(ch, 10000);
    const order = [];
    const all = [];
    for (let i = 0; i < 20; i++) {
      all.push(pushReply(ch, "ping", { i }, 10000).then((r) => order.push(r.response.i)));
    }
    await Promise.all(all);
    assert.deepEqual(order, [...Array(20).keys()]);
  });

  test("shout between a long-poll client and a WebSocket client, both ways", async () => {
    const lp = await connectSocket(lpSocket({ user_id: "lp4" }), 10000);
    const ws = await openSocket(server, { user_id: "ws4" });
    const lpCh = lp.channel("room:lpmix");
    const wsCh = ws.channel("room:lpmix");
    const lpIn = channelInbox(lpCh, ["shout", "shout_others"]);
    const wsIn = channelInbox(wsCh, ["shout", "shout_others"]);
    await join(lpCh, 10000);
    await join(wsCh);

    wsCh.push("shout", { from: "ws" });
    assert.deepEqual((await lpIn.take((e) => e.event === "shout", 10000, "ws shout at lp")).payload, { from: "ws" });
    assert.deepEqual((await wsIn.take((e) => e.event === "shout", 3000, "ws shout at ws")).payload, { from: "ws" });

    lpCh.push("shout", { from: "lp" });
    assert.deepEqual((await wsIn.take((e) => e.event === "shout", 10000, "lp shout at ws")).payload, { from: "lp" });
    assert.deepEqual((await lpIn.take((e) => e.event === "shout", 10000, "lp shout at lp")).payload, { from: "lp" });

    lpCh.push("shout_others", { from: "lp" });
    assert.deepEqual((await wsIn.take((e) => e.event === "shout_others", 10000, "lp shout_others at ws")).payload, { from: "lp" });
    wsCh.push("shout_others", { from: "ws" });
    assert.deepEqual((await lpIn.take((e) => e.event === "shout_others", 10000, "ws shout_others at lp")).payload, { from: "ws" });
    await wsIn.none((e) => e.event === "shout_others" && e.payload.from === "ws", 300, "own shout_others at ws");
  });

  test("crash over long-poll: the channel errors and rejoins", async () => {
    const socket = await connectSocket(lpSocket({ user_id: "lp5" }), 10000);
    const ch = socket.channel("room:lpcrash");
    const oks = new Inbox("join oks");
    const errors = new Inbox("channel errors");
    ch.onError((r) => errors.push(r));
    ch.join(10000).receive("ok", (r) => oks.push(r));
    await oks.take(() => true, 10000, "the first join ok");
    ch.push("crash", {}, 2000);
    assert.deepEqual(await errors.take(() => true, 10000, "onError"), { reason: "channel_crash" });
    // rejoin after the client's 1 s backoff
    assert.deepEqual(await oks.take(() => true, 5000, "the rejoin ok"), { joined: "room:lpcrash" });
    assert.deepEqual(await pushReply(ch, "ping", { ok: 1 }, 10000), { status: "ok", response: { ok: 1 } });
  });
});
