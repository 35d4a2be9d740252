// Presence through the official phoenix client's `Presence` class
// (protocol.md 4.2-4.5): RoomChannel of the conformance app tracks
// user_id with meta {online_at} after join and pushes presence_state; the
// tracker broadcasts presence_diff on every join, leave, crash and
// disconnect, and carries on after its shard is killed (through the
// inspection endpoint). (`update` with phx_ref_prev is not reachable
// through the conformance spec; tests/presence covers it in C++.)
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Presence } from "phoenix";
import {
  setupServer,
  openSocket,
  join,
  pushReply,
  channelInbox,
  Inbox,
  RawWs,
  withTimeout,
  actorTree,
  findActors,
  killActor,
  waitForTree,
} from "./helpers.mjs";

const server = setupServer({ adminToken: "e2e-presence" });

// the client's rejoin backoff after phx_error starts at 1000 ms
const REJOIN_WAIT_MS = 5000;

let topics = 0;
function freshTopic(what) {
  return `room:presence-${what}-${process.pid}-${++topics}`;
}

/**
 * A client on `topic` as user `user`: a socket, the channel, a phoenix
 * Presence on it, and an Inbox of the Presence callbacks
 * ({type: "join"|"leave", key, current, changed}).
 */
async function member(user, topic) {
  const socket = await openSocket(server, { user_id: user });
  const channel = socket.channel(topic);
  const presence = new Presence(channel);
  const events = new Inbox(`presence events of ${user}`);
  presence.onJoin((key, current, changed) => events.push({ type: "join", key, current, changed }));
  presence.onLeave((key, current, changed) => events.push({ type: "leave", key, current, changed }));
  let notify = () => {};
  presence.onSync(() => notify());
  const m = {
    user,
    socket,
    channel,
    presence,
    events,
    /** {key: [phx_ref, ...]} of the client's current presence list. */
    refs() {
      const out = {};
      presence.list((key, { metas }) => (out[key] = metas.map((x) => x.phx_ref)));
      return out;
    },
    keys() {
      return presence.list((key) => key).sort();
    },
    metas(key) {
      let found = [];
      presence.list((k, { metas }) => {
        if (k === key) found = metas;
      });
      return found;
    },
    /** Resolves once the synced list satisfies `pred` (checked now and on every sync). */
    until(pred, what, timeoutMs = 5000) {
      if (presence.joinRef && pred(m)) return Promise.resolve();
      return withTimeout(
        new Promise((resolve) => {
          const prev = notify;
          notify = () => {
            prev();
            if (pred(m)) {
              notify = prev;
              resolve();
            }
          };
        }),
        timeoutMs,
        `${user}'s presence list to show ${what} (now ${JSON.stringify(m.refs())})`,
      );
    },
  };
  await join(channel);
  // the first presence_state for this join has been applied
  await m.until(() => true, "its first presence_state");
  return m;
}

const sameKeys = (...keys) => (m) => JSON.stringify(m.keys()) === JSON.stringify([...keys].sort());

describe("presence", { timeout: 60000 }, () => {
  test("two clients: each sees both, with one meta each {online_at, phx_ref}", async () => {
    const topic = freshTopic("two");
    const alice = await member("alice", topic);
    const bob = await member("bob", topic);
    await alice.until(sameKeys("alice", "bob"), "alice and bob");
    await bob.until(sameKeys("alice", "bob"), "alice and bob");

    const now = Math.floor(Date.now() / 1000);
    for (const m of [alice, bob]) {
      for (const key of ["alice", "bob"]) {
        const metas = m.metas(key);
        assert.equal(metas.length, 1, `${m.user} sees one meta for ${key}`);
        assert.equal(typeof metas[0].phx_ref, "string");
        assert.ok(metas[0].phx_ref.length > 0);
        assert.equal(typeof metas[0].online_at, "number");
        assert.ok(Math.abs(metas[0].online_at - now) < 60, `online_at ${metas[0].online_at} is about now (${now})`);
        assert.equal(metas[0].phx_ref_prev, undefined);
      }
    }
    // Both clients agree on the refs.
    assert.deepEqual(alice.refs(), bob.refs());
    // alice's Presence saw bob join (as a new key).
    const j = await alice.events.take((e) => e.type === "join" && e.key === "bob", 3000, "onJoin bob");
    assert.equal(j.current, undefined);
    assert.deepEqual(
      j.changed.metas.map((x) => x.phx_ref),
      bob.refs().bob,
    );
  });

  test("presence_diff on the wire: both joins and leaves keys, leaves carry the phx_ref", async () => {
    const topic = freshTopic("wire");
    const alice = await member("alice", topic);
    const inbox = channelInbox(alice.channel, ["presence_diff"]);
    const bob = await member("bob", topic);
    const joinDiff = await inbox.take((f) => f.payload.joins.bob, 3000, "the diff with bob's join");
    assert.deepEqual(Object.keys(joinDiff.payload).sort(), ["joins", "leaves"]);
    assert.deepEqual(joinDiff.payload.leaves, {});
    assert.equal(joinDiff.joinRef, null, "presence_diff is a broadcast (join_ref null)");
    const bobRef = joinDiff.payload.joins.bob.metas[0].phx_ref;
    assert.deepEqual(bob.refs().bob, [bobRef]);

    bob.channel.leave();
    const leaveDiff = await inbox.take((f) => f.payload.leaves.bob, 3000, "the diff with bob's leave");
    assert.deepEqual(leaveDiff.payload.joins, {});
    assert.deepEqual(leaveDiff.payload.leaves.bob.metas.map((x) => x.phx_ref), [bobRef]);
  });

  test("three clients: a leave, a crash and a disconnect each remove that client everywhere", async () => {
    const topic = freshTopic("three");
    const alice = await member("alice", topic);
    const bob = await member("bob", topic);
    const carol = await member("carol", topic);
    for (const m of [alice, bob, carol]) await m.until(sameKeys("alice", "bob", "carol"), "all three");

    // carol leaves the channel: the two others see her go.
    carol.channel.leave();
    for (const m of [alice, bob]) await m.until(sameKeys("alice", "bob"), "carol gone after leave");
    const left = await alice.events.take((e) => e.type === "leave" && e.key === "carol", 3000, "onLeave carol");
    assert.deepEqual(left.current.metas, []);

    // bob's channel crashes: his presence goes with the channel actor; the
    // client rejoins by itself and is tracked again with a new phx_ref.
    const bobRef = bob.refs().bob[0];
    bob.channel.push("crash", {});
    await alice.events.take(
      (e) => e.type === "leave" && e.key === "bob" && e.changed.metas.some((x) => x.phx_ref === bobRef),
      3000,
      "onLeave of bob's crashed channel",
    );
    await alice.until(
      (m) => m.keys().includes("bob") && !m.refs().bob.includes(bobRef),
      "bob back with a new phx_ref after his rejoin",
      REJOIN_WAIT_MS,
    );
    await bob.until(
      (m) => sameKeys("alice", "bob")(m) && !m.refs().bob.includes(bobRef),
      "bob's own list after the rejoin",
      REJOIN_WAIT_MS,
    );
    assert.deepEqual(alice.refs(), bob.refs());

    // bob's socket disconnects: alice sees him leave.
    await new Promise((resolve) => bob.socket.disconnect(resolve));
    await alice.until(sameKeys("alice"), "only alice after bob's disconnect");
  });

  test("a dropped TCP connection (no close handshake) removes the presence", async () => {
    const topic = freshTopic("drop");
    const alice = await member("alice", topic);
    const raw = await RawWs.open(server.wsUrl("vsn=2.0.0&user_id=mallory"));
    const reply = await raw.join(topic, {}, "1");
    assert.equal(reply[4].status, "ok");
    await alice.until(sameKeys("alice", "mallory"), "mallory (raw client)");
    raw.ws.terminate();
    await alice.until(sameKeys("alice"), "mallory gone after the drop");
  });

  test("the same user on two sockets is two metas under one key", async () => {
    const topic = freshTopic("tabs");
    const alice = await member("alice", topic);
    const dave1 = await member("dave", topic);
    const dave2 = await member("dave", topic);
    const twoMetas = (m) => sameKeys("alice", "dave")(m) && m.metas("dave").length === 2;
    for (const m of [alice, dave1, dave2]) await m.until(twoMetas, "dave with two metas");
    const refs = alice.refs().dave;
    assert.equal(new Set(refs).size, 2, `distinct phx_refs: ${refs}`);
    assert.deepEqual(new Set(dave1.refs().dave), new Set(refs));

    // the first alice heard of dave was a new key, the second a new meta
    const joins = [];
    for (let i = 0; i < 2; i++) {
      joins.push(await alice.events.take((e) => e.type === "join" && e.key === "dave", 3000, `onJoin dave #${i + 1}`));
    }
    assert.equal(joins[0].current, undefined);
    assert.equal(joins[1].current.metas.length, 1);

    // one of dave's sockets goes: the key stays with the other meta
    await new Promise((resolve) => dave2.socket.disconnect(resolve));
    await alice.until((m) => sameKeys("alice", "dave")(m) && m.metas("dave").length === 1, "dave with one meta");
    await dave1.until((m) => m.metas("dave").length === 1, "dave with one meta");
    const leave = await alice.events.take((e) => e.type === "leave" && e.key === "dave", 3000, "onLeave of one dave meta");
    assert.equal(leave.current.metas.length, 1, "the key remains with one meta");
    assert.equal(leave.changed.metas.length, 1);
    const [goneRef] = leave.changed.metas.map((x) => x.phx_ref);
    assert.ok(refs.includes(goneRef));
    assert.deepEqual(alice.refs().dave, refs.filter((r) => r !== goneRef));
    assert.deepEqual(alice.refs(), dave1.refs());

    dave1.channel.leave();
    await alice.until(sameKeys("alice"), "dave gone altogether");
  });

  test("a late joiner gets everyone in presence_state, in sync with the others", async () => {
    const topic = freshTopic("late");
    const early = [];
    for (const user of ["u1", "u2", "u3"]) early.push(await member(user, topic));
    await early[0].until(sameKeys("u1", "u2", "u3"), "u1..u3");
    const late = await member("u4", topic);
    await late.until(sameKeys("u1", "u2", "u3", "u4"), "u1..u4");
    for (const m of early) await m.until(sameKeys("u1", "u2", "u3", "u4"), "u1..u4");
    for (const m of early) assert.deepEqual(m.refs(), late.refs());
  });

  test("presence is per topic: another room does not see these users", async () => {
    const a = freshTopic("iso-a");
    const b = freshTopic("iso-b");
    const alice = await member("alice", a);
    const bob = await member("bob", b);
    await alice.until(sameKeys("alice"), "only alice in room a");
    await bob.until(sameKeys("bob"), "only bob in room b");
    // give a stray diff time to show up: a round trip on each channel
    await pushReply(alice.channel, "ping", {});
    await pushReply(bob.channel, "ping", {});
    assert.deepEqual(alice.keys(), ["alice"]);
    assert.deepEqual(bob.keys(), ["bob"]);
  });

  test("a killed presence tracker comes back: lists stay right, a newcomer sees everyone, leaves still reach", async () => {
    const topic = freshTopic("restart");
    const alice = await member("alice", topic);
    const bob = await member("bob", topic);
    for (const m of [alice, bob]) await m.until(sameKeys("alice", "bob"), "alice and bob");
    const refs = alice.refs();
    assert.deepEqual(bob.refs(), refs);

    const trackers = (tree) => findActors(tree, (n) => n.kind === "presence_shard");
    const [old] = trackers(await actorTree(server));
    assert.ok(old, "the tree shows a presence tracker");
    await killActor(server, old.id);
    const successor = await waitForTree(
      server,
      (t) => trackers(t).find((n) => n.name === old.name && n.id !== old.id && n.state === "running"),
      `a tracker in place of #${old.id}`,
    );
    assert.equal(successor.restarts, old.restarts + 1);

    // The restarted tracker holds what the clients hold: same keys, same refs.
    for (const m of [alice, bob]) await m.until(sameKeys("alice", "bob"), "alice and bob after the restart", 2000);
    assert.deepEqual(alice.refs(), refs);
    assert.deepEqual(bob.refs(), refs);

    // A newcomer's presence_state (its first sync) lists everyone.
    const carol = await member("carol", topic);
    assert.ok(carol.keys().includes("alice") && carol.keys().includes("bob"), `carol's first list: ${carol.keys()}`);
    for (const m of [alice, bob, carol]) await m.until(sameKeys("alice", "bob", "carol"), "all three", 2000);
    assert.deepEqual(carol.refs().alice, refs.alice);

    // The restarted tracker monitors the channels it restored: bob's leave reaches.
    bob.channel.leave();
    for (const m of [alice, carol]) await m.until(sameKeys("alice", "carol"), "bob gone after his leave", 2000);
    assert.deepEqual(alice.refs(), carol.refs());
  });
});
