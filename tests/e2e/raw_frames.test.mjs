// Wire-level checks with a raw WebSocket (`ws`), where the phoenix client
// hides details: exact V2 and V1 frame shapes, join_ref rules, ordering,
// malformed frames, binary frames (protocol.md 1.2-1.6, 2.4-2.8, 2.17).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, RawWs, encodeBinaryPush, decodeBinary, upgradeStatus, withTimeout } from "./helpers.mjs";

const server = setupServer();

const v2 = (q = "") => server.wsUrl(`${q ? q + "&" : ""}vsn=2.0.0`);
const ok = (response) => ({ status: "ok", response });
const err = (response) => ({ status: "error", response });
const UNMATCHED = err({ reason: "unmatched topic" });
const isReplyTo = (ref) => (f) => Array.isArray(f) && f[1] === ref && f[3] === "phx_reply";

describe("raw V2 text frames", { timeout: 30000 }, () => {
  test("join reply has the exact shape; join_ref and ref are independent", async () => {
    const c = await RawWs.open(v2("user_id=raw1"));
    c.send(["11", "1", "room:lobby", "phx_join", {}]);
    const reply = await c.reply("1");
    assert.deepEqual(reply, ["11", "1", "room:lobby", "phx_reply", ok({ joined: "room:lobby" })]);
    // the join reply is the first frame of the join instance
    assert.deepEqual(c.frames.seen[0], reply);
  });

  test("presence_state is a push with the join_ref and a null ref", async () => {
    const c = await RawWs.open(v2("user_id=raw_pres"));
    await c.join("room:rawpres", {}, "11", "1");
    const f = await c.event("room:rawpres", "presence_state");
    assert.equal(f.length, 5);
    assert.equal(f[0], "11");
    assert.equal(f[1], null);
    assert.ok(f[4].raw_pres && Array.isArray(f[4].raw_pres.metas), JSON.stringify(f));
  });

  test("ping reply, push_me push, error_reply", async () => {
    const c = await RawWs.open(v2("user_id=raw2"));
    await c.join("room:r2", {}, "11", "1");
    c.send(["11", "2", "room:r2", "ping", { x: [1, 2], y: "z" }]);
    assert.deepEqual(await c.reply("2"), ["11", "2", "room:r2", "phx_reply", ok({ x: [1, 2], y: "z" })]);
    c.send(["11", "3", "room:r2", "push_me", { p: 1 }]);
    assert.deepEqual(await c.event("room:r2", "pushed"), ["11", null, "room:r2", "pushed", { p: 1 }]);
    c.send(["11", "4", "room:r2", "error_reply", {}]);
    assert.deepEqual(await c.reply("4"), ["11", "4", "room:r2", "phx_reply", err({ reason: "nope" })]);
  });

  test("refs are opaque: any string (and extra array elements are ignored)", async () => {
    const c = await RawWs.open(v2("user_id=raw3"));
    const jr = "join-ref-ü-😀";
    await c.join("room:r3", {}, jr, "9999999999999999999999");
    c.send([jr, "ref with spaces", "room:r3", "ping", { a: 1 }, "extra", 42]);
    assert.deepEqual(await c.reply("ref with spaces"), [jr, "ref with spaces", "room:r3", "phx_reply", ok({ a: 1 })]);
  });

  test("heartbeat reply is [null, ref, 'phoenix', 'phx_reply', ok {}]", async () => {
    const c = await RawWs.open(v2());
    c.send([null, "5", "phoenix", "heartbeat", {}]);
    assert.deepEqual(await c.reply("5"), [null, "5", "phoenix", "phx_reply", ok({})]);
    // join_ref in a heartbeat is ignored
    c.send(["77", "6", "phoenix", "heartbeat", {}]);
    assert.deepEqual(await c.reply("6"), [null, "6", "phoenix", "phx_reply", ok({})]);
  });

  test("unmatched topic: join and push get an error reply with null join_ref", async () => {
    const c = await RawWs.open(v2());
    c.send(["2", "2", "other:x", "phx_join", {}]);
    assert.deepEqual(await c.reply("2"), [null, "2", "other:x", "phx_reply", UNMATCHED]);
    // an event for a routable but not joined topic
    c.send(["3", "3", "room:notjoined", "ping", {}]);
    assert.deepEqual(await c.reply("3"), [null, "3", "room:notjoined", "phx_reply", UNMATCHED]);
    // any other event on topic "phoenix" is routed like a normal topic
    c.send([null, "4", "phoenix", "ping", {}]);
    assert.deepEqual(await c.reply("4"), [null, "4", "phoenix", "phx_reply", UNMATCHED]);
  });

  test("refused join: error reply, the topic is not joined", async () => {
    const c = await RawWs.open(v2());
    c.send(["21", "21", "room:private", "phx_join", { password: "nope" }]);
    assert.deepEqual(await c.reply("21"), ["21", "21", "room:private", "phx_reply", err({ reason: "unauthorized" })]);
    c.send(["21", "22", "room:private", "ping", {}]);
    assert.deepEqual(await c.reply("22"), [null, "22", "room:private", "phx_reply", UNMATCHED]);
    c.send(["23", "23", "room:private", "phx_join", { password: "secret" }]);
    assert.deepEqual(await c.reply("23"), ["23", "23", "room:private", "phx_reply", ok({ joined: "room:private" })]);
  });

  test("crash: phx_error with the join_ref in both ref slots; no reply; topic gone", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rcrash", {}, "31", "30");
    c.send(["31", "32", "room:rcrash", "crash", {}]);
    const e = await c.event("room:rcrash", "phx_error");
    assert.deepEqual(e, ["31", "31", "room:rcrash", "phx_error", { reason: "channel_crash" }]);
    c.send(["31", "33", "room:rcrash", "ping", {}]);
    assert.deepEqual(await c.reply("33"), [null, "33", "room:rcrash", "phx_reply", UNMATCHED]);
    assert.ok(!c.frames.seen.some(isReplyTo("32")), "no reply to the crashing message");
    // the connection survives
    c.send([null, "34", "phoenix", "heartbeat", {}]);
    await c.reply("34");
  });

  test("stop: reply ok {} before phx_close", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rstop", {}, "41", "41");
    c.send(["41", "42", "room:rstop", "stop", {}]);
    const close = await c.event("room:rstop", "phx_close");
    assert.deepEqual(close, ["41", "41", "room:rstop", "phx_close", {}]);
    const reply = c.frames.seen.find(isReplyTo("42"));
    assert.deepEqual(reply, ["41", "42", "room:rstop", "phx_reply", ok({})], "the reply arrived before phx_close");
    assert.ok(c.frames.seen.indexOf(reply) < c.frames.seen.indexOf(close));
    assert.ok(!c.frames.seen.some((f) => Array.isArray(f) && f[3] === "phx_error"));
  });

  test("leave: reply ok before phx_close; then the topic is not joined", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rleave", {}, "51", "50");
    c.send(["51", "52", "room:rleave", "phx_leave", {}]);
    const close = await c.event("room:rleave", "phx_close");
    assert.deepEqual(close, ["51", "51", "room:rleave", "phx_close", {}]);
    const reply = c.frames.seen.find(isReplyTo("52"));
    assert.deepEqual(reply, ["51", "52", "room:rleave", "phx_reply", ok({})], "the reply arrived before phx_close");
    assert.ok(c.frames.seen.indexOf(reply) < c.frames.seen.indexOf(close));
    c.send(["51", "53", "room:rleave", "ping", {}]);
    assert.deepEqual(await c.reply("53"), [null, "53", "room:rleave", "phx_reply", UNMATCHED]);
  });

  test("leave of a topic never joined: ok {}, join_ref echoed", async () => {
    const c = await RawWs.open(v2());
    c.send(["90", "91", "room:never", "phx_leave", {}]);
    assert.deepEqual(await c.reply("91"), ["90", "91", "room:never", "phx_reply", ok({})]);
  });

  test("duplicate join: new reply, then phx_close for the old join_ref; old join_ref is stale", async () => {
    const c = await RawWs.open(v2("user_id=dup"));
    await c.join("room:rdup", {}, "1", "1");
    c.send(["2", "2", "room:rdup", "phx_join", {}]);
    const reply = await c.reply("2");
    assert.deepEqual(reply, ["2", "2", "room:rdup", "phx_reply", ok({ joined: "room:rdup" })]);
    const close = await c.event("room:rdup", "phx_close");
    assert.deepEqual(close, ["1", "1", "room:rdup", "phx_close", {}]);
    assert.ok(c.frames.seen.indexOf(reply) < c.frames.seen.indexOf(close), "new reply precedes the old phx_close");
    // old join_ref: dropped; new join_ref: answered (inbound order is kept)
    c.send(["1", "3", "room:rdup", "ping", { old: true }]);
    c.send(["2", "4", "room:rdup", "ping", { new: true }]);
    assert.deepEqual(await c.reply("4"), ["2", "4", "room:rdup", "phx_reply", ok({ new: true })]);
    await c.frames.none(isReplyTo("3"), 300, "a reply to the stale-join_ref message");
  });

  test("stale join_ref: message and leave are silently dropped", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rstale", {}, "61", "61");
    c.send(["999", "62", "room:rstale", "ping", {}]);
    c.send(["999", "63", "room:rstale", "phx_leave", {}]);
    c.send(["61", "64", "room:rstale", "ping", { still: "joined" }]);
    assert.deepEqual(await c.reply("64"), ["61", "64", "room:rstale", "phx_reply", ok({ still: "joined" })]);
    await c.frames.none((f) => isReplyTo("62")(f) || isReplyTo("63")(f), 300, "a reply to a stale message");
    await c.frames.none((f) => Array.isArray(f) && f[3] === "phx_close", 0, "phx_close after a stale leave");
  });

  test("null join_ref is accepted on non-join messages (reply carries the channel's join_ref)", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rnull", {}, "71", "70");
    c.send([null, "72", "room:rnull", "ping", { n: 1 }]);
    assert.deepEqual(await c.reply("72"), ["71", "72", "room:rnull", "phx_reply", ok({ n: 1 })]);
    c.send([null, "73", "room:rnull", "phx_leave", {}]);
    assert.deepEqual(await c.reply("73"), ["71", "73", "room:rnull", "phx_reply", ok({})]);
    assert.deepEqual(await c.event("room:rnull", "phx_close"), ["71", "71", "room:rnull", "phx_close", {}]);
  });

  test("per-channel FIFO: 50 pipelined pings are answered in order", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rfifo", {}, "1", "1");
    const N = 50;
    for (let i = 0; i < N; i++) c.send(["1", `p${i}`, "room:rfifo", "ping", { i }]);
    const replies = [];
    for (let i = 0; i < N; i++) {
      replies.push(await c.frames.take((f) => Array.isArray(f) && f[3] === "phx_reply" && String(f[1]).startsWith("p"), 5000, `reply #${i}`));
    }
    assert.deepEqual(
      replies.map((f) => f[1]),
      [...Array(N).keys()].map((i) => `p${i}`),
    );
    replies.forEach((f, i) => assert.deepEqual(f, ["1", `p${i}`, "room:rfifo", "phx_reply", ok({ i })]));
  });

  test("pipelined join then push: the push is handled after the join", async () => {
    const c = await RawWs.open(v2());
    c.send(["1", "1", "room:rpipe", "phx_join", {}]);
    c.send(["1", "2", "room:rpipe", "ping", { right: "after" }]);
    const first = await c.reply("1");
    assert.equal(first[4].status, "ok");
    assert.deepEqual(await c.reply("2"), ["1", "2", "room:rpipe", "phx_reply", ok({ right: "after" })]);
  });

  test("broadcast frames: intercepted shout is a push with own join_ref, shout_others is fastlane", async () => {
    const a = await RawWs.open(v2("user_id=ra"));
    const b = await RawWs.open(v2("user_id=rb"));
    await a.join("room:rbc", {}, "a1", "a1");
    await b.join("room:rbc", {}, "b1", "b1");
    a.send(["a1", "2", "room:rbc", "shout", { s: 1 }]);
    assert.deepEqual(await a.event("room:rbc", "shout"), ["a1", null, "room:rbc", "shout", { s: 1 }]);
    assert.deepEqual(await b.event("room:rbc", "shout"), ["b1", null, "room:rbc", "shout", { s: 1 }]);
    a.send(["a1", "3", "room:rbc", "shout_others", { o: 1 }]);
    assert.deepEqual(await b.event("room:rbc", "shout_others"), [null, null, "room:rbc", "shout_others", { o: 1 }]);
    await a.frames.none((f) => Array.isArray(f) && (isReplyTo("2")(f) || isReplyTo("3")(f) || f[3] === "shout_others"), 300, "a reply to shout or shout_others at the sender");
  });
});

describe("malformed V2 frames drop the connection", { timeout: 30000 }, () => {
  for (const [name, frame] of [
    ["a JSON object", JSON.stringify({ topic: "room:lobby", event: "phx_join", payload: {}, ref: "1" })],
    ["text that is not JSON", "hello"],
    ["an array of fewer than five elements", JSON.stringify(["1", "1", "room:lobby"])],
  ]) {
    test(name, async () => {
      const c = await RawWs.open(v2());
      c.send(frame);
      const closed = await withTimeout(c.closed, 3000, "the server to drop the connection").catch(() => null);
      assert.ok(closed, `the server did not drop the connection; frames: ${JSON.stringify(c.frames.seen)}`);
      assert.ok(!c.frames.seen.some((f) => Array.isArray(f) && f[3] === "phx_reply"), "no reply");
    });
  }

  test("the server keeps serving after a dropped connection", async () => {
    const c = await RawWs.open(v2());
    c.send([null, "1", "phoenix", "heartbeat", {}]);
    await c.reply("1");
  });
});

describe("raw V2 binary frames", { timeout: 30000 }, () => {
  test("binary ping gets a binary reply (kind 1) with the same bytes", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rbin", {}, "12", "12");
    const payload = Buffer.from([101, 102, 103, 0, 255]);
    c.sendBinary(encodeBinaryPush({ joinRef: "12", ref: "123", topic: "room:rbin", event: "ping", payload }));
    const f = await c.frames.take((x) => x.binary, 3000, "a binary frame");
    const expected = Buffer.concat([
      Buffer.from([1, 2, 3, "room:rbin".length, 2]),
      Buffer.from("12" + "123" + "room:rbin" + "ok"),
      payload,
    ]);
    assert.equal(f.binary.toString("hex"), expected.toString("hex"));
  });

  test("binary push with an empty join_ref (null) is accepted", async () => {
    const c = await RawWs.open(v2());
    await c.join("room:rbin2", {}, "7", "7");
    c.sendBinary(encodeBinaryPush({ joinRef: "", ref: "8", topic: "room:rbin2", event: "ping", payload: Buffer.from("xyz") }));
    const f = decodeBinary((await c.frames.take((x) => x.binary, 3000, "a binary frame")).binary);
    assert.deepEqual(
      { kind: f.kind, joinRef: f.joinRef, ref: f.ref, topic: f.topic, status: f.status, payload: f.payload.toString() },
      { kind: 1, joinRef: "7", ref: "8", topic: "room:rbin2", status: "ok", payload: "xyz" },
    );
  });

  test("binary shout arrives as a binary frame at both clients", async () => {
    const a = await RawWs.open(v2("user_id=ba"));
    const b = await RawWs.open(v2("user_id=bb"));
    await a.join("room:rbin3", {}, "a1", "a1");
    await b.join("room:rbin3", {}, "b1", "b1");
    const payload = Buffer.from([1, 2, 3, 4]);
    a.sendBinary(encodeBinaryPush({ joinRef: "a1", ref: "2", topic: "room:rbin3", event: "shout", payload }));
    for (const [c, jr] of [[a, "a1"], [b, "b1"]]) {
      const f = decodeBinary((await c.frames.take((x) => x.binary, 3000, "a binary shout")).binary);
      assert.equal(f.topic, "room:rbin3");
      assert.equal(f.event, "shout");
      assert.equal(f.payload.toString("hex"), "01020304");
      // "shout" is intercepted (handle_out pushes it unchanged): a kind-0 push with the recipient's join_ref
      assert.deepEqual({ kind: f.kind, joinRef: f.joinRef }, { kind: 0, joinRef: jr });
    }
  });

  test("a binary frame of an unknown kind drops the connection", async () => {
    const c = await RawWs.open(v2());
    const frame = encodeBinaryPush({ joinRef: "1", ref: "1", topic: "room:x", event: "ping", payload: Buffer.from("a") });
    frame[0] = 1; // kind 1 (reply) is not decoded from clients
    c.sendBinary(frame);
    const closed = await withTimeout(c.closed, 3000, "the server to drop the connection").catch(() => null);
    assert.ok(closed, "the server did not drop the connection");
  });
});

describe("raw V1 frames", { timeout: 30000 }, () => {
  const V1_KEYS = ["event", "payload", "ref", "topic"];
  const assertV1 = (f) => {
    assert.ok(f && typeof f === "object" && !Array.isArray(f), `a V1 object: ${JSON.stringify(f)}`);
    assert.deepEqual(Object.keys(f).sort(), V1_KEYS, `exactly topic/event/payload/ref: ${JSON.stringify(f)}`);
  };

  for (const [label, query] of [
    ["vsn=1.0.0", "vsn=1.0.0"],
    ["no vsn", ""],
  ]) {
    test(`join reply (${label}) is an object without join_ref`, async () => {
      const c = await RawWs.open(server.wsUrl(query ? `user_id=v1&${query}` : "user_id=v1"));
      c.send(JSON.stringify({ topic: "room:lobby", event: "phx_join", payload: {}, ref: "1" }));
      const reply = await c.frames.take((f) => f.ref === "1", 3000, "the V1 join reply");
      assertV1(reply);
      assert.deepEqual(reply, { topic: "room:lobby", event: "phx_reply", payload: ok({ joined: "room:lobby" }), ref: "1" });
    });
  }

  test("V1 presence_state push: V1 shape, ref null", async () => {
    const c = await RawWs.open(server.wsUrl("user_id=v1p&vsn=1.0.0"));
    c.send({ topic: "room:v1pres", event: "phx_join", payload: {}, ref: "1" });
    await c.frames.take((f) => f.ref === "1", 3000, "the V1 join reply");
    const ps = await c.frames.take((f) => f.event === "presence_state", 3000, "the V1 presence_state");
    assertV1(ps);
    assert.equal(ps.ref, null);
    assert.ok(ps.payload.v1p && Array.isArray(ps.payload.v1p.metas), JSON.stringify(ps));
  });

  test("V1 ping, push_me, heartbeat, stop (phx_close with ref null)", async () => {
    const c = await RawWs.open(server.wsUrl("vsn=1.0.0"));
    c.send({ topic: "room:v1", event: "phx_join", payload: {}, ref: "1" });
    await c.frames.take((f) => f.ref === "1", 3000, "join reply");
    c.send({ topic: "room:v1", event: "ping", payload: { a: 1 }, ref: "2" });
    assert.deepEqual(await c.frames.take((f) => f.ref === "2", 3000, "ping reply"), {
      topic: "room:v1", event: "phx_reply", payload: ok({ a: 1 }), ref: "2",
    });
    c.send({ topic: "room:v1", event: "push_me", payload: { b: 2 }, ref: "3" });
    assert.deepEqual(await c.frames.take((f) => f.event === "pushed", 3000, "pushed"), {
      topic: "room:v1", event: "pushed", payload: { b: 2 }, ref: null,
    });
    c.send({ topic: "phoenix", event: "heartbeat", payload: {}, ref: "4" });
    assert.deepEqual(await c.frames.take((f) => f.ref === "4", 3000, "heartbeat reply"), {
      topic: "phoenix", event: "phx_reply", payload: ok({}), ref: "4",
    });
    c.send({ topic: "room:v1", event: "stop", payload: {}, ref: "5" });
    assert.deepEqual(await c.frames.take((f) => f.ref === "5", 3000, "stop reply"), {
      topic: "room:v1", event: "phx_reply", payload: ok({}), ref: "5",
    });
    assert.deepEqual(await c.frames.take((f) => f.event === "phx_close", 3000, "phx_close"), {
      topic: "room:v1", event: "phx_close", payload: {}, ref: null,
    });
    c.frames.seen.forEach(assertV1);
  });

  test("V1 crash: phx_error with ref null", async () => {
    const c = await RawWs.open(server.wsUrl("vsn=1.0.0"));
    c.send({ topic: "room:v1crash", event: "phx_join", payload: {}, ref: "1" });
    await c.frames.take((f) => f.ref === "1", 3000, "join reply");
    c.send({ topic: "room:v1crash", event: "crash", payload: {}, ref: "2" });
    assert.deepEqual(await c.frames.take((f) => f.event === "phx_error", 3000, "phx_error"), {
      topic: "room:v1crash", event: "phx_error", payload: { reason: "channel_crash" }, ref: null,
    });
  });

  test("broadcasts reach V1 and V2 clients each in their own format", async () => {
    const v1 = await RawWs.open(server.wsUrl("user_id=v1b&vsn=1.0.0"));
    const v2c = await RawWs.open(v2("user_id=v2b"));
    v1.send({ topic: "room:mixed", event: "phx_join", payload: {}, ref: "1" });
    await v1.frames.take((f) => f.ref === "1", 3000, "V1 join reply");
    await v2c.join("room:mixed", {}, "1", "1");
    v2c.send(["1", "2", "room:mixed", "shout_others", { m: 1 }]);
    assert.deepEqual(await v1.frames.take((f) => f.event === "shout_others", 3000, "V1 shout_others"), {
      topic: "room:mixed", event: "shout_others", payload: { m: 1 }, ref: null,
    });
    v2c.send(["1", "3", "room:mixed", "shout", { m: 2 }]);
    assert.deepEqual(await v1.frames.take((f) => f.event === "shout", 3000, "V1 shout"), {
      topic: "room:mixed", event: "shout", payload: { m: 2 }, ref: null,
    });
    assert.deepEqual(await v2c.event("room:mixed", "shout"), ["1", null, "room:mixed", "shout", { m: 2 }]);
  });

  test("V1 message missing a required key drops the connection", async () => {
    const c = await RawWs.open(server.wsUrl("vsn=1.0.0"));
    c.send({ topic: "room:lobby", event: "phx_join", payload: {} }); // no ref
    const closed = await withTimeout(c.closed, 3000, "the server to drop the connection").catch(() => null);
    assert.ok(closed, `the server did not drop the connection; frames: ${JSON.stringify(c.frames.seen)}`);
  });
});

describe("vsn negotiation (raw)", { timeout: 30000 }, () => {
  test("vsn=3.0.0 is refused with HTTP 403", async () => {
    assert.equal(await upgradeStatus(server.wsUrl("vsn=3.0.0")), 403);
  });
});
