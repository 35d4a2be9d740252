// PubSub shards killed under live sockets (through the inspection endpoint,
// docs/inspect.md): the subscribers renew their subscriptions with the
// restarted shards, so broadcasts on a joined topic and `disconnect` by
// socket id keep working (docs/channels.md, "Restarts and what survives
// them").
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  setupServer,
  makeSocket,
  openSocket,
  connectSocket,
  socketInbox,
  channelInbox,
  join,
  pushReply,
  ping,
  actorTree,
  findActors,
  killActor,
  waitForTree,
} from "./helpers.mjs";

const server = setupServer({ adminToken: "e2e-pubsub-restart" });

const shardsOf = (tree) => findActors(tree, (n) => n.kind === "pubsub_shard");

describe("PubSub shard restarts", { timeout: 60000 }, () => {
  test("after every shard was killed and restarted, shouts reach both clients and disconnect_user closes with 1001", async () => {
    const topic = `room:pubsub-restart-${process.pid}`;
    // no reconnect: the close we wait for must be the last one
    const dave = makeSocket(server, { user_id: "dave" }, { reconnectAfterMs: () => 60000 });
    const daveEvents = socketInbox(dave);
    await connectSocket(dave);
    const erin = await openSocket(server, { user_id: "erin" });
    const daveCh = dave.channel(topic);
    const erinCh = erin.channel(topic);
    const atDave = channelInbox(daveCh, ["shout"]);
    const atErin = channelInbox(erinCh, ["shout"]);
    await join(daveCh);
    await join(erinCh);

    // One by one: under one_for_all each kill restarts every shard, so the
    // second kill hits a shard that is itself a restart.
    const initial = shardsOf(await actorTree(server));
    assert.ok(initial.length >= 2, `the conformance app runs several shards: ${JSON.stringify(initial)}`);
    let current = initial;
    for (const { name } of initial) {
      const victim = current.find((n) => n.name === name);
      await killActor(server, victim.id);
      const dead = new Set(current.map((n) => n.id));
      current = await waitForTree(
        server,
        (t) => {
          const now = shardsOf(t);
          const ok = now.length === initial.length && now.every((n) => !dead.has(n.id) && n.state === "running");
          return ok ? now : null;
        },
        `every PubSub shard restarted after killing ${name} (#${victim.id})`,
      );
    }

    // A running shard has told its waiting subscribers (or they saw it up
    // when they asked): what reaches a channel or a socket from now on is
    // handled after its renewed subscription. One round trip each makes
    // sure both channels and dave's socket got that far.
    await pushReply(daveCh, "ping", {});
    await pushReply(erinCh, "ping", {});
    await ping(dave);

    erinCh.push("shout", { n: 1 });
    await atDave.take((f) => f.payload.n === 1, 3000, "erin's shout at dave");
    await atErin.take((f) => f.payload.n === 1, 3000, "erin's shout back at erin");
    daveCh.push("shout", { n: 2 });
    await atErin.take((f) => f.payload.n === 2, 3000, "dave's shout at erin");
    await atDave.take((f) => f.payload.n === 2, 3000, "dave's shout back at dave");

    assert.deepEqual(await pushReply(erinCh, "disconnect_user", { user_id: "dave" }), {
      status: "ok",
      response: {},
    });
    const close = await daveEvents.take((e) => e.type === "close", 3000, "dave's socket closing");
    assert.equal(close.code, 1001);
    assert.equal(erin.isConnected(), true);
    await ping(erin);
  });
});
