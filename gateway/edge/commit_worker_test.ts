import assert from "node:assert/strict";
import { PlantgateError } from "../core/errors.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { Buffer } from "./buffer.ts";
import { CommitWorker } from "./commit_worker.ts";

const intake = (...ns: number[]) => ({
  kind: "events" as const,
  subject: "lots.events.A.sap",
  events: ns.map((n) => sampleEvent(n)),
});

async function open(options: { maxBytes?: number; hardLimitBytes?: number } = {}) {
  const path = `${await Deno.makeTempDir({ prefix: "plantgate-commit-" })}/buffer.db`;
  const main = Buffer.open(path, options);
  return { main, worker: CommitWorker.start(main, options) };
}

Deno.test("the commit worker stores durably and the main thread's counters follow", async () => {
  const { main, worker } = await open();
  const result = await worker.commit([intake(1, 2), intake(2)]);
  assert.deepEqual([result.stored, result.duplicates], [2, 1]);
  assert.equal(main.stats().backlog, 2);
  assert.deepEqual(
    main.peek(0, 10).map((e) => e.eventId),
    [1, 2].map((n) => sampleEvent(n).eventId),
  );
  worker.close();
  main.close();
});

Deno.test("a full buffer refuses the next batch before it reaches the worker", async () => {
  const { main, worker } = await open({ maxBytes: 1000 });
  await worker.commit([intake(1, 2, 3)]);
  await assert.rejects(
    worker.commit([intake(4)]),
    (e: unknown) => e instanceof PlantgateError && e.code === "buffer_full",
  );
  main.remove(main.peek(0, 10).map((e) => e.seq));
  assert.equal((await worker.commit([intake(4)])).stored, 1, "forwarded rows make room again");
  worker.close();
  main.close();
});

Deno.test("a full disk in the worker comes back as a retryable disk_full", async () => {
  const { main, worker } = await open({ hardLimitBytes: 128 * 1024 });
  let failure: unknown;
  for (let n = 0; n < 5000 && !failure; n++) {
    await worker.commit([intake(n)]).catch((e) => failure = e);
  }
  assert.ok(failure instanceof PlantgateError && failure.code === "disk_full" && failure.retryable);
  worker.close();
  main.close();
});
