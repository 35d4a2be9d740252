// Binary payloads through the official phoenix client: a push whose payload
// is an ArrayBuffer travels as a V2 binary frame (protocol.md 1.4, 5).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, openSocket, join, pushReply, channelInbox, abToHex, bytes } from "./helpers.mjs";

const server = setupServer();

describe("binary", { timeout: 30000 }, () => {
  test("binary ping is echoed as a binary reply with the same bytes", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:bin1");
    await join(ch);
    const payload = bytes(0, 1, 2, 3, 0xfe, 0xff, 0x7b, 0x22); // includes '{"'
    const r = await pushReply(ch, "ping", payload);
    assert.equal(r.status, "ok");
    assert.ok(r.response instanceof ArrayBuffer, `response is an ArrayBuffer, got ${typeof r.response}`);
    assert.equal(abToHex(r.response), abToHex(payload));
  });

  test("binary ping with an empty payload and a large payload", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:bin2");
    await join(ch);
    const empty = await pushReply(ch, "ping", new ArrayBuffer(0));
    assert.equal(empty.status, "ok");
    assert.ok(empty.response instanceof ArrayBuffer);
    assert.equal(empty.response.byteLength, 0);

    const big = new Uint8Array(256 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const r = await pushReply(ch, "ping", big.buffer);
    assert.equal(r.status, "ok");
    assert.equal(r.response.byteLength, big.length);
    assert.equal(abToHex(r.response), abToHex(big.buffer));
  });

  test("binary shout arrives as a binary broadcast at sender and others", async () => {
    const s1 = await openSocket(server, { user_id: "alice" });
    const s2 = await openSocket(server, { user_id: "carol" });
    const c1 = s1.channel("room:bin3");
    const c2 = s2.channel("room:bin3");
    const in1 = channelInbox(c1, ["shout"]);
    const in2 = channelInbox(c2, ["shout"]);
    await join(c1);
    await join(c2);
    const payload = bytes(9, 8, 7, 0, 255);
    c1.push("shout", payload);
    for (const inbox of [in1, in2]) {
      const got = await inbox.take(() => true, 3000, "binary shout");
      assert.ok(got.payload instanceof ArrayBuffer, "payload is an ArrayBuffer");
      assert.equal(abToHex(got.payload), abToHex(payload));
    }
  });

  test("JSON and binary messages interleave on one channel", async () => {
    const socket = await openSocket(server, { user_id: "alice" });
    const ch = socket.channel("room:bin4");
    await join(ch);
    const replies = await Promise.all([
      pushReply(ch, "ping", { a: 1 }),
      pushReply(ch, "ping", bytes(1, 2, 3)),
      pushReply(ch, "ping", { b: 2 }),
    ]);
    assert.deepEqual(replies[0], { status: "ok", response: { a: 1 } });
    assert.equal(abToHex(replies[1].response), "010203");
    assert.deepEqual(replies[2], { status: "ok", response: { b: 2 } });
  });
});
