import assert from "node:assert/strict";
import { PlantgateError } from "../core/errors.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { Buffer, type BufferOptions } from "./buffer.ts";
import { DurableCommitter, fsyncPath } from "./durable_commit.ts";

const intake = (...ns: number[]) => ({
  kind: "events" as const,
  subject: "lots.events.A.sap",
  events: ns.map((n) => sampleEvent(n)),
});

async function open(
  options: BufferOptions = {},
  fsync: (path: string) => Promise<void> = fsyncPath,
  onStored?: () => void,
) {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-commit-" });
  const buffer = Buffer.open(`${dir}/buffer.db`, { ...options, syncCommits: false });
  return { dir, buffer, committer: await DurableCommitter.open(buffer, { fsync, onStored }) };
}

Deno.test("a commit resolves only after the buffer's WAL is fsync'd", async () => {
  const synced: string[] = [];
  let release: () => void = () => {};
  const gate = async (path: string) => {
    synced.push(path);
    if (path.endsWith("-wal")) await new Promise<void>((resolve) => release = resolve);
  };
  let storedBeforeFsync = 0;
  const { dir, buffer, committer } = await open({}, gate, () => {
    storedBeforeFsync++;
    assert.equal(buffer.stats().backlog, 2, "the forwarder is woken once the rows are readable");
  });
  assert.deepEqual(synced, [dir], "the folder is fsync'd once at open");
  let settled = false;
  const commit = committer.commit([intake(1, 2), intake(2)]).then((r) => {
    settled = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, "not acknowledged while the fsync runs");
  assert.equal(storedBeforeFsync, 1, "the forwarder may publish before the fsync");
  assert.deepEqual(synced, [dir, `${dir}/buffer.db-wal`]);
  release();
  const result = await commit;
  assert.deepEqual([result.stored, result.duplicates], [2, 1]);
  assert.equal(buffer.stats().backlog, 2);
  buffer.close();
});

Deno.test("a failed fsync refuses the batch; its re-delivery is absorbed by the dedupe", async () => {
  let fail = true;
  const { buffer, committer } = await open({}, async (path) => {
    if (fail && path.endsWith("-wal")) throw new Error("EIO");
    await fsyncPath(path);
  });
  await assert.rejects(
    committer.commit([intake(1)]),
    (e: unknown) =>
      e instanceof PlantgateError && e.code === "buffer_write_failed" && /EIO/.test(e.message),
  );
  fail = false;
  const again = await committer.commit([intake(1)]);
  assert.deepEqual([again.stored, again.duplicates], [0, 1]);
  assert.equal(buffer.stats().backlog, 1, "the event is kept once");
  buffer.close();
});

Deno.test("a full buffer refuses the next batch until forwarded rows make room", async () => {
  const { buffer, committer } = await open({ maxBytes: 1000 });
  await committer.commit([intake(1, 2, 3)]);
  await assert.rejects(
    committer.commit([intake(4)]),
    (e: unknown) => e instanceof PlantgateError && e.code === "buffer_full",
  );
  buffer.remove(buffer.peek(0, 10).map((e) => e.seq));
  assert.equal((await committer.commit([intake(4)])).stored, 1);
  buffer.close();
});

Deno.test("a full disk comes back as a retryable disk_full", async () => {
  const { buffer, committer } = await open({ hardLimitBytes: 128 * 1024 });
  let failure: unknown;
  for (let n = 0; n < 5000 && !failure; n++) {
    await committer.commit([intake(n)]).catch((e) => failure = e);
  }
  assert.ok(failure instanceof PlantgateError && failure.code === "disk_full" && failure.retryable);
  buffer.close();
});
