import assert from "node:assert/strict";
import { PlantgateError } from "../core/errors.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { Buffer, type BufferOptions } from "./buffer.ts";
import { DurableCommitter, type DurableCommitterOptions, fsyncPath } from "./durable_commit.ts";

const intake = (...ns: number[]) => ({
  kind: "events" as const,
  subject: "lots.events.A.sap",
  events: ns.map((n) => sampleEvent(n)),
});

async function open(options: BufferOptions = {}, committer: DurableCommitterOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-commit-" });
  const buffer = Buffer.open(`${dir}/buffer.db`, { ...options, syncCommits: false });
  return { dir, buffer, committer: await DurableCommitter.open(buffer, committer) };
}

/** An fsync that waits until released, recording the paths it was asked for. */
function gatedFsync() {
  const calls: string[] = [];
  const gates: (() => void)[] = [];
  return {
    calls,
    release: () => gates.shift()?.(),
    fsync: async (path: string) => {
      calls.push(path);
      if (path.endsWith("-wal")) await new Promise<void>((resolve) => gates.push(resolve));
    },
  };
}

const settled = async (p: Promise<unknown>) => {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 10));
  return done;
};

Deno.test("a batch is stored at once and durable only after the WAL's fsync", async () => {
  const gate = gatedFsync();
  let stored = 0;
  const { dir, buffer, committer } = await open({}, {
    fsync: gate.fsync,
    onStored: () => stored++,
  });
  assert.deepEqual(gate.calls, [dir], "the folder is fsync'd once at open");
  const { result, durable } = committer.commit([intake(1, 2), intake(2)]);
  assert.deepEqual([result.stored, result.duplicates], [2, 1]);
  assert.equal(buffer.stats().backlog, 2, "readable (and forwardable) before the fsync");
  assert.equal(stored, 1, "the forwarder is woken before the fsync");
  assert.equal(await settled(durable), false, "not durable while the fsync runs");
  assert.deepEqual(gate.calls, [dir, `${dir}/buffer.db-wal`]);
  gate.release();
  await durable;
  buffer.close();
});

Deno.test("commits made during an fsync share the next one, never the running one", async () => {
  const gate = gatedFsync();
  const { buffer, committer } = await open({}, { fsync: gate.fsync });
  const first = committer.commit([intake(1)]).durable;
  const second = committer.commit([intake(2)]).durable;
  const third = committer.commit([intake(3)]).durable;
  assert.equal(gate.calls.length, 2, "one WAL fsync running");
  gate.release();
  await first;
  assert.equal(await settled(second), false, "the second waits for an fsync started after it");
  assert.equal(gate.calls.length, 3, "one more fsync for both later commits");
  gate.release();
  await Promise.all([second, third]);
  assert.equal(gate.calls.length, 3);
  buffer.close();
});

Deno.test("a failed fsync is reported and retried until the batch is durable", async () => {
  let failures = 2;
  const reported: number[] = [];
  const { buffer, committer } = await open({}, {
    fsync: async (path) => {
      if (path.endsWith("-wal") && failures-- > 0) throw new Error("EIO");
      await fsyncPath(path);
    },
    onFsyncError: (error, attempt) => {
      assert.ok(error.code === "buffer_write_failed" && /EIO/.test(error.message));
      reported.push(attempt);
    },
    backoff: { initialMs: 1, maxMs: 2 },
  });
  await committer.commit([intake(1)]).durable;
  assert.deepEqual(reported, [1, 2]);
  buffer.close();
});

Deno.test("after close a failing fsync is not retried: the batch is not durable", async () => {
  const { buffer, committer } = await open({}, {
    fsync: (path) => path.endsWith("-wal") ? Promise.reject(new Error("EIO")) : fsyncPath(path),
    backoff: { initialMs: 1, maxMs: 2 },
  });
  const { durable } = committer.commit([intake(1)]);
  await committer.close();
  await assert.rejects(durable, (e: unknown) => e instanceof PlantgateError);
  buffer.close();
});

Deno.test("a full buffer refuses the next batch until forwarded rows make room", async () => {
  const { buffer, committer } = await open({ maxBytes: 1000 });
  await committer.commit([intake(1, 2, 3)]).durable;
  assert.throws(
    () => committer.commit([intake(4)]),
    (e: unknown) => e instanceof PlantgateError && e.code === "buffer_full",
  );
  buffer.remove(buffer.peek(0, 10).map((e) => e.seq));
  assert.equal(committer.commit([intake(4)]).result.stored, 1);
  await committer.close();
  buffer.close();
});

Deno.test("a full disk comes back as a retryable disk_full", async () => {
  const { buffer, committer } = await open({ hardLimitBytes: 128 * 1024 });
  let failure: unknown;
  for (let n = 0; n < 5000 && !failure; n++) {
    try {
      await committer.commit([intake(n)]).durable;
    } catch (e) {
      failure = e;
    }
  }
  assert.ok(failure instanceof PlantgateError && failure.code === "disk_full" && failure.retryable);
  buffer.close();
});
