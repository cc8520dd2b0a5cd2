import assert from "node:assert/strict";
import { Poller } from "./poller.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a poller repeats while there is more work, then waits until notified or the poll", async () => {
  let work = 3;
  const poller = new Poller(() => Promise.resolve(--work > 0), {
    pollMs: 60_000,
    onError: () => assert.fail("no error expected"),
  });
  poller.start();
  await tick(20);
  assert.equal(work, 0, "three rounds back to back, then it waits");
  work = 2;
  poller.notify();
  await tick(20);
  assert.equal(work, 0, "notify ran rounds at once instead of after a minute");
  await poller.stop();
});

Deno.test("a failing round is reported with its count and retried after a backoff", async () => {
  const failures: number[] = [];
  let calls = 0;
  const poller = new Poller(() => {
    calls++;
    return calls <= 2 ? Promise.reject(new Error("down")) : Promise.resolve(false);
  }, { pollMs: 60_000, onError: (_, n) => failures.push(n) });
  poller.start();
  await tick(500);
  assert.deepEqual(failures, [1, 2]);
  assert.equal(calls, 3, "recovered on the third round");
  await poller.stop();
});
