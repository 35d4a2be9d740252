// Phoenix's ordering guarantees (protocol.md 2.17) as the official client
// sees them, a thousand rounds each.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, openSocket, join, withTimeout } from "./helpers.mjs";

const server = setupServer();
const ROUNDS = 1000;

describe("ordering", { timeout: 90000 }, () => {
  test("bench:* shout then ping: the shout copy arrives before the ping reply", async () => {
    const socket = await openSocket(server);
    const ch = socket.channel("bench:order");
    await join(ch);
    const seen = [];
    ch.on("shout", (p) => seen.push(`shout ${p.i}`));
    for (let i = 0; i < ROUNDS; i++) {
      ch.push("shout", { i });
      await withTimeout(
        new Promise((resolve, reject) => {
          ch.push("ping", { i })
            .receive("ok", () => {
              seen.push(`reply ${i}`);
              resolve();
            })
            .receive("error", reject)
            .receive("timeout", () => reject(new Error(`ping ${i} timed out`)));
        }),
        5000,
        `round ${i}`,
      );
      assert.deepEqual(seen.slice(-2), [`shout ${i}`, `reply ${i}`], `round ${i}`);
    }
  });

  test("the join reply precedes every broadcast of a topic shouted at without pause", async () => {
    const shouter = await openSocket(server);
    const hot = shouter.channel("bench:hot");
    await join(hot);
    // Keep the topic busy: a shout after every echo of the previous one.
    let shouting = true;
    let n = 0;
    hot.on("shout", () => {
      if (shouting) hot.push("shout", { n: ++n });
    });
    hot.push("shout", { n: ++n });
    const socket = await openSocket(server);
    for (let i = 0; i < ROUNDS; i++) {
      const ch = socket.channel("bench:hot");
      const events = [];
      ch.on("shout", () => events.push("shout"));
      await withTimeout(
        new Promise((resolve, reject) => {
          ch.join()
            .receive("ok", () => {
              events.push("joined");
              resolve();
            })
            .receive("error", reject)
            .receive("timeout", () => reject(new Error("join timed out")));
        }),
        5000,
        `join ${i}`,
      );
      // Broadcasts keep coming after the reply.
      await withTimeout(
        new Promise((resolve) => ch.on("shout", resolve)),
        5000,
        `a shout after join ${i}`,
      );
      assert.equal(events[0], "joined", `round ${i}: ${events.slice(0, 3)}`);
      // phoenix.js drops a leaving channel at once, before the server's
      // reply: broadcasts still on their way to the old join would be
      // taken for the next one's. Wait for the server's phx_close.
      const joinRef = ch.joinRef();
      await withTimeout(
        new Promise((resolve) => {
          const ref = socket.onMessage((m) => {
            if (m.event === "phx_close" && m.join_ref === joinRef) {
              socket.off([ref]);
              resolve();
            }
          });
          ch.leave();
        }),
        5000,
        `leave ${i}`,
      );
    }
    shouting = false;
  });
});
