// fenix-only: transient channels (conformance app "transient:*", restart
// intensity 3 in 5 s) through the official client.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, openSocket, join, pushReply } from "./helpers.mjs";

const server = setupServer();

/**
 * Pings until the channel answers: an event that reached the crashing
 * channel is lost (at-most-once, like anything in flight); the ones sent
 * once the connection knows of the crash wait for the restarted channel.
 */
async function pingUntilAnswered(ch, tries = 20) {
  for (let i = 0; i < tries; i++) {
    try {
      return await pushReply(ch, "ping", { i }, 250);
    } catch {
      // lost in flight: try again
    }
  }
  throw new Error(`${ch.topic}: no ping answered in ${tries} tries`);
}

describe("transient channels", { timeout: 30000 }, () => {
  test("a crash is restarted server-side: no phx_error within the intensity, then phx_error", async () => {
    const socket = await openSocket(server, { user_id: "tina" });
    const ch = socket.channel("transient:a");
    assert.deepEqual(await join(ch), { joined: "transient:a" });
    const errors = [];
    ch.onError((r) => errors.push(r));
    for (let n = 1; n <= 3; n++) {
      ch.push("crash", {});
      assert.deepEqual((await pingUntilAnswered(ch)).status, "ok");
      assert.deepEqual(errors, [], `after crash ${n}`);
      assert.equal(ch.state, "joined");
    }
    // The fourth crash within 5 s exceeds the intensity.
    const errored = new Promise((resolve) => ch.onError(resolve));
    ch.push("crash", {});
    await errored;
    assert.equal(errors.length, 1);
  });

  test("the restarted channel is subscribed again", async () => {
    const socket = await openSocket(server, { user_id: "tom" });
    const ch = socket.channel("transient:private", { password: "secret" });
    await join(ch);
    ch.push("crash", {});
    await pingUntilAnswered(ch);
    // Its broadcasts still reach us (it subscribed again).
    const shout = new Promise((resolve) => ch.on("shout", resolve));
    ch.push("shout", { hi: 1 });
    assert.deepEqual(await shout, { hi: 1 });
  });
});
