import assert from "node:assert/strict";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { sampleEvent } from "../../tests/_events.ts";
import { Buffer } from "./buffer.ts";
import { Forwarder } from "./forwarder.ts";

interface Call {
  subject: string;
  msgID: string;
  headers?: MsgHdrs;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A JetStream client whose publishes the test settles by hand; `stored` is the "stream". */
function fakeJetStream() {
  const calls: Call[] = [];
  const stored: string[] = [];
  const js = {
    publish(subject: string, _data: Uint8Array, opts: { msgID: string; headers?: MsgHdrs }) {
      return new Promise<PubAck>((resolve, reject) => {
        let settled = false;
        calls.push({
          subject,
          msgID: opts.msgID,
          headers: opts.headers,
          resolve: () => {
            if (settled) return;
            settled = true;
            stored.push(opts.msgID);
            resolve({ stream: "S", seq: stored.length, duplicate: false, domain: "" } as PubAck);
          },
          reject,
        });
      });
    },
  } as unknown as JetStreamClient;
  return { js, calls, stored };
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function bufferWith(lots: string[]): Promise<{ buffer: Buffer; ids: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-forwarder-" });
  const buffer = Buffer.open(`${dir}/buffer.db`);
  const events = lots.map((lotId, n) => sampleEvent(n, { lotId }));
  buffer.commit([{ kind: "events", subject: "lots.events.A.sap", events }]);
  return { buffer, ids: events.map((e) => e.eventId) };
}

Deno.test("forwarder pipelines different lots but never has two events of one lot in flight", async () => {
  const { buffer, ids } = await bufferWith(["L1", "L2", "L1", "L3"]);
  const { js, calls, stored } = fakeJetStream();
  const forwarder = new Forwarder(buffer, js, { plantId: "A", pollMs: 5 });
  forwarder.start();
  await tick();
  assert.deepEqual(calls.map((c) => c.msgID), [ids[0], ids[1], ids[3]], "L1's second event waits");
  calls[0].resolve();
  await tick();
  assert.deepEqual(calls.map((c) => c.msgID), [ids[0], ids[1], ids[3], ids[2]]);
  calls.slice(1).forEach((c) => c.resolve());
  await tick(20);
  assert.deepEqual(stored, [ids[0], ids[1], ids[3], ids[2]]);
  await forwarder.stop();
  assert.equal(buffer.stats().backlog, 0, "acked events are deleted");
  buffer.close();
});

Deno.test("a failed publish is retried before the lot's next event, with one probe at a time", async () => {
  const { buffer, ids } = await bufferWith(["L1", "L1", "L2", "L3"]);
  const { js, calls, stored } = fakeJetStream();
  const forwarder = new Forwarder(buffer, js, {
    plantId: "A",
    pollMs: 5,
    backoff: { initialMs: 10, maxMs: 10 },
  });
  forwarder.start();
  await tick();
  calls[0].reject(new Error("timeout")); // L1 #1 is lost
  calls[1].resolve(); // L2 gets through
  calls[2].reject(new Error("timeout")); // L3 is lost
  await tick(40);
  const retries = calls.slice(3);
  assert.equal(retries.length, 1, "after a failure a single probe goes out");
  assert.equal(retries[0].msgID, ids[0], "the probe is the oldest unsent event");
  assert.equal(forwarder.publishing, false);
  retries[0].resolve();
  await tick(20);
  for (let round = 0; round < 5; round++) {
    for (const c of calls.slice(4)) c.resolve();
    await tick(20);
  }
  assert.equal(forwarder.publishing, true);
  assert.deepEqual(
    stored.filter((id) => id === ids[0] || id === ids[1]),
    [ids[0], ids[1]],
    "L1 stays in order",
  );
  assert.equal(new Set(stored).size, 4, "everything arrives");
  await forwarder.stop();
  buffer.close();
});

Deno.test("dead letters are forwarded with their code and stage and marked, not deleted", async () => {
  const { buffer } = await bufferWith([]);
  buffer.commit([{
    kind: "dead",
    topic: "plant/A/erp/sap/lot/events",
    stage: "decode",
    code: "invalid_json",
    message: "payload is not JSON",
    raw: new TextEncoder().encode("{oops"),
    receivedAt: 0,
  }]);
  const { js, calls } = fakeJetStream();
  const forwarder = new Forwarder(buffer, js, { plantId: "A", pollMs: 5 });
  forwarder.start();
  await tick(20);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].subject, "dlq.edge.A");
  assert.equal(calls[0].headers?.get("Plantgate-Code"), "invalid_json");
  assert.equal(calls[0].headers?.get("Plantgate-Stage"), "decode");
  calls[0].resolve();
  await tick(20);
  await forwarder.stop();
  const stats = buffer.stats();
  assert.deepEqual([stats.deadLetters, stats.deadLettersUnforwarded], [1, 0]);
  buffer.close();
});

Deno.test("a dead letter the centre refuses does not hold back the others", async () => {
  const { buffer } = await bufferWith([]);
  const dead = (text: string) => ({
    kind: "dead" as const,
    topic: "plant/A/erp/sap/lot/events",
    stage: "decode" as const,
    code: "invalid_json" as const,
    message: "payload is not JSON",
    raw: new TextEncoder().encode(text),
    receivedAt: 0,
  });
  buffer.commit([dead("{first"), dead("{second")]);
  const { js, calls } = fakeJetStream();
  const forwarder = new Forwarder(buffer, js, {
    plantId: "A",
    pollMs: 5,
    backoff: { initialMs: 1000 },
  });
  forwarder.start();
  await tick(20);
  assert.equal(calls.length, 2);
  calls[0].reject(new Error("maximum payload exceeded"));
  calls[1].resolve();
  await tick(20);
  await forwarder.stop();
  const [first, second] = buffer.deadLetters();
  assert.equal(first.forwardedAt, null, "the refused one stays unforwarded, to be retried");
  assert.notEqual(second.forwardedAt, null, "the other one went through");
  buffer.close();
});
