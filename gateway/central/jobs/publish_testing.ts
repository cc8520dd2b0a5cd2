/**
 * Helpers of the job publisher's tests (`publisher_test.ts`): private Redis and Mosquitto, jobs
 * written through the store and the state machine, and the retained topics read back as a fresh
 * MES subscriber gets them.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { silentLogger } from "../../core/logger.ts";
import { MqttPublisher } from "../../io/mqtt_publisher.ts";
import { connectRedis, type Redis } from "../../io/redis.ts";
import { type PrivateServer, startMosquitto, startRedis } from "../../sim/servers.ts";
import { RedisJobStore } from "./dao.ts";
import { applyMethod, isClearable, isListed, type Job, type MethodArgs } from "./mod.ts";
import { RedisChangeFeed } from "./publish_feed.ts";
import { ScopeIndex, type StateIndexPayload } from "./publish_index.ts";
import { JobPublisher, type JobPublisherOptions } from "./publisher.ts";
import { KEYS } from "./store.ts";

/** The topic prefix the tests publish under (the default). */
export const PREFIX = "app/jobs";
/** The clock of the state machine in the tests. */
export const NOW = new Date("2026-05-01T10:00:00Z");

/** What the publisher publishes through (an MqttPublisher, or a wrapper injecting faults). */
export type Sink = Pick<MqttPublisher, "publish">;

/** A retained message as a fresh subscriber receives it. */
export interface Retained {
  payload: string;
  expiry: number | undefined;
}

/** Private Redis and Mosquitto, a store on them and a way to run publishers. */
export async function setup() {
  const broker = await startMosquitto();
  const redisServer = await startRedis();
  const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
  const store = new RedisJobStore(redis);
  const running: { publisher: JobPublisher; mqtt: MqttPublisher }[] = [];
  let clients = 0;
  return {
    broker,
    redisServer,
    redis,
    store,
    /** Starts a publisher in this process (stopped by the disposal at the latest). */
    async publisher(
      options: Partial<JobPublisherOptions> = {},
      wrap: (mqtt: Sink) => Sink = (mqtt) => mqtt,
    ) {
      const mqtt = new MqttPublisher({
        url: broker.url,
        clientId: `test-publisher-${++clients}`,
        log: silentLogger,
      });
      const publisher = new JobPublisher(
        { store, feed: new RedisChangeFeed(redis), mqtt: wrap(mqtt) },
        { retainedTtlSeconds: 600, streamBlockMs: 50, log: silentLogger, ...options },
      );
      running.push({ publisher, mqtt });
      await publisher.start();
      return {
        publisher,
        async stop() {
          await publisher.stop();
          await mqtt.close();
        },
      };
    },
    async [Symbol.asyncDispose]() {
      for (const { publisher, mqtt } of running) {
        await publisher.stop();
        await mqtt.close();
      }
      redis.disconnect();
      await redisServer[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
    },
  };
}

/** What {@linkcode setup} gives. */
export type Setup = Awaited<ReturnType<typeof setup>>;

/** Applies a method or DCS transition through the state machine and saves it. */
export async function apply(
  env: Setup,
  scope: string,
  id: string,
  method: string,
  args: MethodArgs = { JobOrderID: id },
): Promise<Job> {
  const result = applyMethod(await env.store.get(scope, id), method, args, NOW);
  assert.ok(result.ok, `${method} ${id}: ${!result.ok && result.reason}`);
  await env.store.save(scope, result.job, result.transition.event);
  return result.job;
}

/** Stores a new job order (Store by default) with extra JobOrder fields. */
export const store = (env: Setup, scope: string, id: string, method = "Store", extra = {}) =>
  apply(env, scope, id, method, { JobOrder: { JobOrderID: id, ...extra } });

/** Polls `probe` until it gives a value; fails naming `what` after `ms`. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the publisher's cursor of each scope is at its stream's last entry. */
export async function caughtUp(redis: Redis, scopes: string[]): Promise<void> {
  for (const scope of scopes) {
    await until(async () => {
      const [last] = await redis.xrevrange(KEYS.changes(scope), "+", "-", "COUNT", 1);
      const cursor = await redis.hget(KEYS.publisherCursors, KEYS.changes(scope));
      return last && cursor === last[0] ? true : undefined;
    }, `the publisher to handle every change of ${scope}`);
  }
}

/** Whether the publisher's cursor is behind the stream of one of the scopes. */
export async function lagging(redis: Redis, scopes: string[]): Promise<boolean> {
  for (const scope of scopes) {
    const [last] = await redis.xrevrange(KEYS.changes(scope), "+", "-", "COUNT", 1);
    const cursor = await redis.hget(KEYS.publisherCursors, KEYS.changes(scope));
    if (last && cursor && cursor !== last[0]) return true;
  }
  return false;
}

/** Every retained message under `<prefix>/<scope>/`, as a new subscriber gets them. */
export async function retained(
  broker: PrivateServer,
  scope: string,
): Promise<Map<string, Retained>> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  const messages = new Map<string, Retained>();
  let last = Date.now();
  client.on("message", (topic, payload, packet) => {
    last = Date.now();
    messages.set(topic.slice(`${PREFIX}/${scope}/`.length), {
      payload: payload.toString(),
      expiry: packet.properties?.messageExpiryInterval,
    });
  });
  await client.subscribeAsync(`${PREFIX}/${scope}/#`, { qos: 1 });
  while (Date.now() - last < 300) await new Promise((r) => setTimeout(r, 50));
  await client.endAsync();
  return messages;
}

/** The retained state-index among a scope's topics, parsed. */
export function stateIndex(topics: Map<string, Retained>): StateIndexPayload {
  const message = topics.get("state-index");
  assert.ok(message, "no retained state-index");
  return JSON.parse(message.payload);
}

/** [job id, state numbers, has_result] of each job in a state index. */
export function summary(index: StateIndexPayload): [string, number[], boolean][] {
  return index.jobs.map((j) => [j.job_order_id, j.state.map((s) => s.state_number), j.has_result]);
}

/** The retained topics of the scope are exactly what the store says they should be. */
export async function assertMatchesStore(env: Setup, scope: string): Promise<void> {
  const topics = await retained(env.broker, scope);
  const expected = new Map<string, string>();
  const listed: [string, number[], boolean][] = [];
  for (const job of await env.store.list(scope)) {
    const id = job.order.JobOrderID;
    if (!isListed(job)) continue;
    expected.set(`order/${id}`, JSON.stringify(job.order));
    const response = isClearable(job) ? await env.store.getResponse(scope, id) : undefined;
    if (response) expected.set(`result/${id}`, JSON.stringify(response));
    const index = new ScopeIndex(scope);
    index.set(job, response !== undefined);
    listed.push(summary(JSON.parse(index.payload(0, NOW)))[0]);
  }
  assert.deepEqual(summary(stateIndex(topics)), listed, `state-index of ${scope}`);
  topics.delete("state-index");
  assert.deepEqual(
    new Map([...topics].map(([topic, m]) => [topic, m.payload])),
    expected,
    `order and result topics of ${scope}`,
  );
}
