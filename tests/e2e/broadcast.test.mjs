// Broadcasts between clients through the official phoenix client:
// broadcast, broadcast_from, intercept/handle_out, ordering, topic isolation
// (protocol.md 2.9, 2.10, 2.17).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, openSocket, join, pushReply, channelInbox } from "./helpers.mjs";

const server = setupServer();

async function member(userId, topic) {
  const socket = await openSocket(server, { user_id: userId });
  const channel = socket.channel(topic);
  const inbox = channelInbox(channel, ["shout", "shout_others"]);
  await join(channel);
  return { socket, channel, inbox };
}

describe("broadcast", { timeout: 30000 }, () => {
  test("shout reaches the sender and another client", async () => {
    const a = await member("alice", "room:b1");
    const b = await member("carol", "room:b1");
    a.channel.push("shout", { msg: "hi all" });
    const atA = await a.inbox.take((e) => e.event === "shout", 3000, "shout at sender");
    const atB = await b.inbox.take((e) => e.event === "shout", 3000, "shout at other");
    assert.deepEqual(atA.payload, { msg: "hi all" });
    assert.deepEqual(atB.payload, { msg: "hi all" });
    // "shout" is intercepted: each client gets a push with its own join_ref
    assert.equal(atA.joinRef, a.channel.joinRef());
    assert.equal(atB.joinRef, b.channel.joinRef());
  });

  test("shout has no reply (the push times out on the client)", async () => {
    const a = await member("alice", "room:b2");
    await assert.rejects(pushReply(a.channel, "shout", { n: 1 }, 500), /no reply/);
    // but the broadcast itself was delivered
    await a.inbox.take((e) => e.event === "shout", 3000, "shout at sender");
  });

  test("shout_others reaches the other client but not the sender", async () => {
    const a = await member("alice", "room:b3");
    const b = await member("carol", "room:b3");
    a.channel.push("shout_others", { msg: "not me" });
    const atB = await b.inbox.take((e) => e.event === "shout_others", 3000, "shout_others at other");
    assert.deepEqual(atB.payload, { msg: "not me" });
    // not intercepted: a fastlane broadcast with null join_ref
    assert.equal(atB.joinRef, null);
    await a.inbox.none((e) => e.event === "shout_others", 300, "shout_others at the sender");
  });

  test("intercept: a secret shout skips bob, reaches others; a normal shout reaches bob", async () => {
    const alice = await member("alice", "room:b4");
    const bob = await member("bob", "room:b4");
    const carol = await member("carol", "room:b4");
    alice.channel.push("shout", { secret: true, n: 1 });
    alice.channel.push("shout", { secret: false, n: 2 });
    alice.channel.push("shout", { n: 3 });
    for (const m of [alice, carol]) {
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await m.inbox.take((e) => e.event === "shout", 3000, "shout")).payload);
      assert.deepEqual(got, [{ secret: true, n: 1 }, { secret: false, n: 2 }, { n: 3 }]);
    }
    // one publisher, one path (handle_out): bob's first shout must be n=2
    const first = await bob.inbox.take((e) => e.event === "shout", 3000, "bob's first shout");
    assert.deepEqual(first.payload, { secret: false, n: 2 });
    const second = await bob.inbox.take((e) => e.event === "shout", 3000, "bob's second shout");
    assert.deepEqual(second.payload, { n: 3 });
    await bob.inbox.none((e) => e.event === "shout", 300, "a secret shout at bob");
  });

  test("a secret shout from bob reaches the others, not bob himself", async () => {
    const bob = await member("bob", "room:b5");
    const carol = await member("carol", "room:b5");
    bob.channel.push("shout", { secret: true, from: "bob" });
    const atC = await carol.inbox.take((e) => e.event === "shout", 3000, "shout at carol");
    assert.deepEqual(atC.payload, { secret: true, from: "bob" });
    await bob.inbox.none((e) => e.event === "shout", 300, "the secret shout at bob");
  });

  test("broadcasts stay on their topic", async () => {
    const a = await member("alice", "room:b6-x");
    const b = await member("carol", "room:b6-y");
    a.channel.push("shout", { only: "x" });
    a.channel.push("shout_others", { only: "x" });
    await a.inbox.take((e) => e.event === "shout", 3000, "shout at sender");
    await b.inbox.none(() => true, 300, "a broadcast from another topic");
  });

  test("broadcasts from one publisher arrive in order", async () => {
    const a = await member("alice", "room:b7");
    const b = await member("carol", "room:b7");
    const N = 30;
    for (let i = 0; i < N; i++) {
      a.channel.push("shout", { i });
    }
    for (const m of [a, b]) {
      const got = [];
      for (let i = 0; i < N; i++) got.push((await m.inbox.take((e) => e.event === "shout", 3000, `shout #${i}`)).payload.i);
      assert.deepEqual(got, [...Array(N).keys()]);
    }
    // shout_others keep their order too
    for (let i = 0; i < N; i++) a.channel.push("shout_others", { i });
    const got = [];
    for (let i = 0; i < N; i++) got.push((await b.inbox.take((e) => e.event === "shout_others", 3000, `shout_others #${i}`)).payload.i);
    assert.deepEqual(got, [...Array(N).keys()]);
  });

  test("a client that joined later does not get earlier broadcasts (at-most-once, no replay)", async () => {
    const a = await member("alice", "room:b8");
    a.channel.push("shout", { early: true });
    await a.inbox.take((e) => e.event === "shout", 3000, "shout at sender");
    const b = await member("carol", "room:b8");
    a.channel.push("shout", { late: true });
    const first = await b.inbox.take((e) => e.event === "shout", 3000, "shout at late joiner");
    assert.deepEqual(first.payload, { late: true });
  });
});
