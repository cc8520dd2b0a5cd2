import assert from "node:assert/strict";
import { PlantgateError } from "../core/errors.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { Buffer, type Intake } from "./buffer.ts";

const SUBJECT = "lots.events.A.sap";

function eventsIntake(...ns: number[]): Intake {
  return { kind: "events", subject: SUBJECT, events: ns.map((n) => sampleEvent(n)) };
}

function deadIntake(text: string): Intake {
  return {
    kind: "dead",
    topic: "plant/A/erp/sap/lot/events",
    stage: "decode",
    code: "invalid_json",
    message: "payload is not JSON",
    raw: new TextEncoder().encode(text),
    receivedAt: 1,
  };
}

async function tempPath(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "plantgate-buffer-" })}/buffer.db`;
}

Deno.test("buffer keeps committed events in order across a reopen", async () => {
  const path = await tempPath();
  const first = Buffer.open(path);
  first.commit([eventsIntake(1, 2), eventsIntake(3)]);
  first.close();
  const again = Buffer.open(path);
  assert.deepEqual(
    again.peek(0, 10).map((e) => e.eventId),
    [1, 2, 3].map((n) => sampleEvent(n).eventId),
  );
  assert.equal(again.stats().backlog, 3);
  again.close();
});

Deno.test("buffer absorbs an event id it has already seen, even after forwarding", async () => {
  const buffer = Buffer.open(await tempPath());
  assert.equal(buffer.commit([eventsIntake(1)]).stored, 1);
  buffer.remove(buffer.peek(0, 10).map((e) => e.seq));
  const again = buffer.commit([eventsIntake(1, 2)]);
  assert.deepEqual([again.stored, again.duplicates], [1, 1]);
  buffer.close();
});

Deno.test("buffer keeps one dead letter per distinct bytes and topic", async () => {
  const buffer = Buffer.open(await tempPath());
  const result = buffer.commit([deadIntake("{oops"), deadIntake("{oops"), deadIntake("{other")]);
  assert.deepEqual([result.deadLettered, result.duplicateDeadLetters], [2, 1]);
  const [first] = buffer.deadLetters();
  assert.equal(new TextDecoder().decode(first.raw), "{oops");
  assert.equal(first.code, "invalid_json");
  assert.equal(buffer.stats().deadLettersUnforwarded, 2);
  buffer.markDeadLettersForwarded([first.id]);
  assert.equal(buffer.stats().deadLettersUnforwarded, 1);
  buffer.close();
});

Deno.test("a full buffer refuses the whole batch and writes nothing", async () => {
  const buffer = Buffer.open(await tempPath(), { maxBytes: 2_000 });
  buffer.commit([eventsIntake(1)]);
  const before = buffer.stats();
  assert.throws(
    () => buffer.commit([eventsIntake(2, 3, 4, 5, 6)]),
    (e: unknown) => e instanceof PlantgateError && e.code === "buffer_full" && e.retryable,
  );
  assert.equal(buffer.stats().backlog, before.backlog);
  buffer.remove(buffer.peek(0, 10).map((e) => e.seq));
  assert.equal(buffer.commit([eventsIntake(2)]).stored, 1, "space freed by forwarding is reused");
  buffer.close();
});

Deno.test("a full disk (quota) fails the commit retryably and keeps every earlier event", async () => {
  const buffer = Buffer.open(await tempPath(), { maxBytes: 1024 ** 3, hardLimitBytes: 256 * 1024 });
  let committed = 0;
  let failure: unknown;
  for (let n = 0; n < 10_000 && !failure; n++) {
    try {
      committed += buffer.commit([eventsIntake(n)]).stored;
    } catch (error) {
      failure = error;
    }
  }
  assert.ok(failure instanceof PlantgateError, "the quota is reached");
  assert.equal(failure.code, "disk_full");
  assert.ok(failure.retryable);
  assert.equal(buffer.stats().backlog, committed, "nothing acknowledged was lost");
  buffer.remove(buffer.peek(0, 200).map((e) => e.seq));
  buffer.pruneSeen();
  assert.equal(buffer.commit([eventsIntake(999_999)]).stored, 1, "writes resume once space frees");
  buffer.close();
});

Deno.test("removing forwarded events frees their bytes", async () => {
  const buffer = Buffer.open(await tempPath());
  buffer.commit([eventsIntake(1, 2, 3)]);
  const used = buffer.usedBytes;
  assert.ok(used > 0);
  buffer.remove(buffer.peek(0, 10).map((e) => e.seq));
  assert.equal(buffer.usedBytes, 0);
  assert.equal(buffer.recount(), 0);
  assert.deepEqual(buffer.integrityProblems(), []);
  buffer.close();
});

Deno.test("seen event ids are forgotten after the dedupe window", async () => {
  let now = 1_000_000;
  const buffer = Buffer.open(await tempPath(), { dedupeWindowMs: 1_000, now: () => now });
  buffer.commit([eventsIntake(1)]);
  now += 5_000;
  assert.equal(buffer.pruneSeen(), 1);
  buffer.close();
});

Deno.test("a commit says which dead letters were kept and which were absorbed as duplicates", async () => {
  const buffer = Buffer.open(await tempPath());
  const result = buffer.commit([
    deadIntake("{a"),
    eventsIntake(1),
    deadIntake("{a"),
    deadIntake("{b"),
  ]);
  assert.deepEqual(result.deadLettersKept, [true, false, true]);
  buffer.close();
});
