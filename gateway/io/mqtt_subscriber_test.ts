import assert from "node:assert/strict";
import mqtt from "mqtt";
import { PlantgateError } from "../core/errors.ts";
import { startMosquitto } from "../sim/servers.ts";
import { type InboundMessage, MqttSubscriber } from "./mqtt_subscriber.ts";

const text = (m: InboundMessage) => new TextDecoder().decode(m.payload);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publish(url: string, topic: string, from: number, to: number): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100 });
  const sends = [];
  for (let i = from; i < to; i++) sends.push(client.publishAsync(topic, String(i), { qos: 1 }));
  await Promise.all(sends);
  await client.endAsync();
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** First occurrences in arrival order. */
function firsts(values: string[]): string[] {
  return [...new Set(values)];
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

// mqtt.js (the publisher in these tests) closes its socket asynchronously after endAsync.
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

test("5,000 messages arrive once each, in order, in batches while the handler commits", async () => {
  await using broker = await startMosquitto();
  const got: string[] = [];
  const sub = new MqttSubscriber(
    { url: broker.url, clientId: "t1", topics: ["plant/A/#"] },
    async (batch) => {
      await sleep(2);
      got.push(...batch.map(text));
    },
  );
  sub.start();
  await sub.ready();
  await publish(broker.url, "plant/A/x", 0, 5000);
  await until(() => got.length >= 5000, "all messages");
  await sub.stop();
  assert.deepEqual(got, range(0, 5000));
  assert.ok(sub.stats.batches < 5000 / 4, `batches grow under load (${sub.stats.batches} batches)`);
  assert.equal(sub.stats.acked, 5000);
});

test("a rejected batch is retried unacknowledged and nothing is lost or reordered", async () => {
  await using broker = await startMosquitto();
  const got: string[] = [];
  let rejections = 0;
  const sub = new MqttSubscriber(
    { url: broker.url, clientId: "t2", topics: ["t"], backoff: { initialMs: 10, maxMs: 20 } },
    (batch) => {
      if (rejections < 3) {
        rejections++;
        return Promise.reject(new Error("buffer full"));
      }
      got.push(...batch.map(text));
      return Promise.resolve();
    },
  );
  sub.start();
  await sub.ready();
  await publish(broker.url, "t", 0, 300);
  await until(() => got.length >= 300, "all messages");
  await sub.stop();
  assert.equal(rejections, 3);
  assert.deepEqual(got, range(0, 300));
  assert.equal(sub.stats.acked, 300);
});

test("a subscriber whose process died gets its unacknowledged messages re-delivered", async () => {
  await using broker = await startMosquitto();
  let firstSeen = 0;
  let release!: () => void;
  const first = new MqttSubscriber(
    { url: broker.url, clientId: "t4", topics: ["t"] },
    async (batch) => {
      firstSeen += batch.length;
      await new Promise<void>((resolve) => release = resolve);
      throw new Error("died before commit");
    },
  );
  first.start();
  await first.ready();
  await publish(broker.url, "t", 0, 20);
  await until(() => firstSeen > 0, "first batch");
  const stopping = first.stop();
  release();
  await stopping;
  const got: InboundMessage[] = [];
  const second = new MqttSubscriber({ url: broker.url, clientId: "t4", topics: ["t"] }, (batch) => {
    got.push(...batch);
    return Promise.resolve();
  });
  second.start();
  await second.ready();
  await until(() => firsts(got.map(text)).length >= 20, "re-delivery");
  await second.stop();
  assert.deepEqual(firsts(got.map(text)), range(0, 20));
  assert.ok(got.some((m) => m.dup), "re-deliveries carry the DUP flag");
});

test("a broker restart mid-stream is survived without losing a message", async () => {
  await using broker = await startMosquitto();
  const got: string[] = [];
  const sub = new MqttSubscriber(
    { url: broker.url, clientId: "t5", topics: ["t"], backoff: { initialMs: 50, maxMs: 200 } },
    (batch) => {
      got.push(...batch.map(text));
      return Promise.resolve();
    },
  );
  sub.start();
  await sub.ready();
  await publish(broker.url, "t", 0, 500);
  await broker.stop();
  await broker.start();
  await until(() => sub.connected, "reconnect");
  await publish(broker.url, "t", 500, 1000);
  await until(() => new Set(got).size >= 1000, "all messages");
  await sub.stop();
  assert.deepEqual(firsts(got), range(0, 1000));
  assert.ok(sub.stats.reconnects >= 1);
});

test("a stuck handler stops the reading: memory stays bounded near receiveMaximum", async () => {
  await using broker = await startMosquitto();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let total = 0;
  const sub = new MqttSubscriber(
    { url: broker.url, clientId: "t6", topics: ["t"], receiveMaximum: 50, keepaliveSeconds: 1 },
    async (batch) => {
      await gate;
      total += batch.length;
    },
  );
  sub.start();
  await sub.ready();
  await publish(broker.url, "t", 0, 3000);
  await sleep(2500); // longer than two keepalives: a paused reader must not be taken for dead
  assert.ok(sub.stats.held < 50 + 500, `held ${sub.stats.held} of 3000 published`);
  assert.equal(sub.stats.reconnects, 0, "pausing does not trip the keepalive");
  release();
  await until(() => total >= 3000, "all messages after the handler recovers");
  await sub.stop();
});

Deno.test("a URL that is not mqtt:// is refused at construction with a clear error", () => {
  assert.throws(
    () =>
      new MqttSubscriber(
        { url: "http://127.0.0.1:1883", clientId: "x", topics: ["t"] },
        () => Promise.resolve(),
      ),
    (e: unknown) => e instanceof PlantgateError && /must start with mqtt:\/\//.test(e.message),
  );
});

test("the next batch is handed over while acknowledgements wait, in order, for durability", async () => {
  await using broker = await startMosquitto();
  const batches: string[][] = [];
  const durable: (() => void)[] = [];
  const sub = new MqttSubscriber(
    { url: broker.url, clientId: "t7", topics: ["t"], maxBatch: 1 },
    (batch) => {
      batches.push(batch.map(text));
      return Promise.resolve({ durable: new Promise<void>((resolve) => durable.push(resolve)) });
    },
  );
  sub.start();
  await sub.ready();
  await publish(broker.url, "t", 0, 3);
  await until(() => batches.length === 3, "three batches handed over before any is durable");
  assert.deepEqual(batches, [["0"], ["1"], ["2"]]);
  durable[2]();
  durable[1]();
  await sleep(50);
  assert.equal(sub.stats.acked, 0, "no acknowledgement overtakes the first batch's");
  durable[0]();
  await until(() => sub.stats.acked === 3, "all acknowledged once the first is durable");
  await sub.stop();
});
