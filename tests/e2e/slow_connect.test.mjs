// fenix-only: a slow `connect` (conformance app: slow_connect_ms=N sleeps
// N ms in the user socket's connect) holds up only its own client.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setupServer, openSocket, makeSocket, connectSocket, join, ping } from "./helpers.mjs";

const server = setupServer();

describe("slow connect", { timeout: 30000 }, () => {
  test("a 200 ms connect does not delay a joined client's heartbeat reply by more than 50 ms", async () => {
    const fast = await openSocket(server, { user_id: "quick" });
    await join(fast.channel("room:lobby"));
    await ping(fast); // warm
    // Several slow connects at once: on a shared thread they would queue
    // up behind each other.
    const slow = [];
    const started = Date.now();
    for (let i = 0; i < 4; i++)
      slow.push(connectSocket(makeSocket(server, { user_id: `slow${i}`, slow_connect_ms: 200 }), 10000));
    const rtts = [];
    let pending = true;
    const all = Promise.all(slow).finally(() => (pending = false));
    while (pending) rtts.push(await ping(fast));
    const sockets = await all;
    const took = Date.now() - started;
    assert.ok(took >= 200, `the slow connects took ${took} ms`);
    assert.ok(rtts.length >= 3, `only ${rtts.length} heartbeats during the slow connects`);
    const worst = Math.max(...rtts);
    assert.ok(worst <= 50, `a heartbeat took ${worst} ms while slow connects ran (${rtts.join(", ")})`);
    // The slow clients work once connected.
    for (const s of sockets) {
      await join(s.channel("room:lobby"));
      await ping(s);
    }
  });
});
