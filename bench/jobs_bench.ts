/**
 * Job publisher benchmark, on private Redis and Mosquitto, in one run: state-index publishes/s
 * with 10, 100 and 1,000 active jobs in the scope, each a change stream entry (a Start or
 * RevokeStart written through the store) handled until its publishes are acknowledged and its
 * cursor saved:
 *
 * 1. the publisher (`JobPublisher`, in process): in-memory index, updated from the changed job;
 * 2. the naive baseline, the seed's algorithm: the same stream loop, but each state-index is
 *    rebuilt from the store (list of the scope + one response read per job, the reads issued
 *    concurrently) before INCR and publish;
 * 3. the control: the state-index payload of the same jobs built from memory and published, the
 *    same number of times, with no Redis at all: what the seed's payload format costs by itself
 *    (every state-index lists every job, so its bytes grow with N).
 *
 * Rounds of all three alternate; the first table gives medians, the ratio of each size to the
 * 10-job case of the same round (flat cost = ratio ~1) and the publisher's speed-up over the
 * baseline; the second the time per publish beyond the control: the store reads and the loop,
 * which the in-memory index is about.
 *
 * Then, on servers of its own, the DCS path's end-to-end latency (`jobs_latency.ts`): DCS event
 * at the plant -> retained result at the centre, against a plain MQTT publish -> delivery.
 *
 * @module
 */
import { silentLogger } from "../gateway/core/logger.ts";
import { MqttPublisher } from "../gateway/io/mqtt_publisher.ts";
import { connectRedis, type Redis } from "../gateway/io/redis.ts";
import { startMosquitto, startRedis } from "../gateway/sim/servers.ts";
import { RedisJobStore } from "../gateway/central/jobs/dao.ts";
import { applyMethod, isListed, type Job, jobStateArray } from "../gateway/central/jobs/mod.ts";
import { RedisChangeFeed } from "../gateway/central/jobs/publish_feed.ts";
import { ScopeIndex } from "../gateway/central/jobs/publish_index.ts";
import { JobPublisher } from "../gateway/central/jobs/publisher.ts";
import { JOB_TOPICS, KEYS } from "../gateway/central/jobs/store.ts";
import { type JobsLatencyOptions, runJobsLatencyBench } from "./jobs_latency.ts";

const encoder = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(encoder.encode(s + "\n"));
const SCOPE = "bench";
const PREFIX = "app/jobs";
const NOW = new Date("2026-05-01T10:00:00Z");

/** Options of {@linkcode runJobsBench}. */
export interface JobsBenchOptions {
  /** Active jobs per scope. Default [10, 100, 1000]. */
  sizes?: number[];
  /** Rounds of both variants at every size. Default 3. */
  rounds?: number;
  /** Changes handled by the publisher per measurement. Default 1,000. */
  changes?: number;
  /** Changes handled by the naive baseline per measurement. Default 200. */
  naiveChanges?: number;
  /** Options of the DCS path latency benchmark that follows. */
  latency?: JobsLatencyOptions;
}

interface Env {
  redis: Redis;
  store: RedisJobStore;
  mqtt: MqttPublisher;
}

/** Runs the jobs benchmarks (state index, then DCS path latency) and prints their tables. */
export async function runJobsBench(options: JobsBenchOptions = {}): Promise<void> {
  await runStateIndexBench(options);
  await runJobsLatencyBench(options.latency);
}

/** The state-index benchmark, on its own Redis and Mosquitto (stopped before it returns). */
async function runStateIndexBench(options: JobsBenchOptions): Promise<void> {
  const sizes = options.sizes ?? [10, 100, 1000];
  const changes = options.changes ?? 1000;
  const naiveChanges = options.naiveChanges ?? 200;
  say(`jobs bench: state-index publishes/s, ${sizes.join(" / ")} active jobs in the scope`);
  await using redisServer = await startRedis();
  await using broker = await startMosquitto();
  const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
  const mqtt = new MqttPublisher({ url: broker.url, clientId: "bench-jobs", log: silentLogger });
  const env: Env = { redis, store: new RedisJobStore(redis), mqtt };
  const rounds: Round[] = [];
  const bytes: number[] = [];
  try {
    for (let round = 1; round <= (options.rounds ?? 3); round++) {
      const result: Round = { publisher: [], naive: [], payload: [] };
      for (const [i, size] of sizes.entries()) {
        result.publisher.push(await publisherRate(env, size, changes));
        const naive = await naiveRate(env, size, naiveChanges);
        result.naive.push(naive.rate);
        bytes[i] = naive.bytes;
        result.payload.push(await payloadRate(env, size, changes));
      }
      rounds.push(result);
      say(
        `  round ${round}: ${
          sizes.map((n, i) =>
            `${n} jobs: ${KINDS.map((k) => `${k} ${result[k][i].toFixed(0)}`).join(", ")}`
          ).join("; ")
        } publishes/s`,
      );
    }
  } finally {
    await mqtt.close();
    redis.disconnect();
  }
  printTable(sizes, rounds, bytes);
}

/** Publishes/s per size: the publisher, the naive baseline, the control. */
interface Round {
  publisher: number[];
  naive: number[];
  payload: number[];
}

const KINDS = ["publisher", "naive", "payload"] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Two tables: publishes/s with ratios to the smallest size; then µs per publish beyond the
 * control (the payload built and published alone), i.e. what the Redis reads and the loop add.
 */
function printTable(sizes: number[], rounds: Round[], bytes: number[]): void {
  const base = sizes[0];
  const rate = (kind: keyof Round, i: number) => {
    const value = median(rounds.map((r) => r[kind][i]));
    const ratio = median(rounds.map((r) => r[kind][i] / r[kind][0]));
    return `${value.toFixed(0)} (${ratio.toFixed(2)}x)`;
  };
  say(
    `\n| active jobs per scope | state-index payload | publisher, publishes/s (ratio to ${base}) ` +
      `| naive rebuild (ratio to ${base}) | publisher / naive | control: payload + publish ` +
      `alone (ratio to ${base}) |`,
  );
  say("|---:|---:|---:|---:|---:|---:|");
  sizes.forEach((size, i) => {
    const speedup = median(rounds.map((r) => r.publisher[i] / r.naive[i]));
    say(
      `| ${size.toLocaleString("en")} | ${(bytes[i] / 1000).toFixed(1)} kB | ` +
        `${rate("publisher", i)} | ${rate("naive", i)} | ${speedup.toFixed(1)}x | ` +
        `${rate("payload", i)} |`,
    );
  });
  // µs per publish that the payload does not explain: the store reads, INCR, cursor, loop.
  const beyond = (kind: "publisher" | "naive", r: Round, i: number) =>
    1e6 / r[kind][i] - 1e6 / r.payload[i];
  const extra = (kind: "publisher" | "naive", i: number) => {
    const value = median(rounds.map((r) => beyond(kind, r, i)));
    const ratio = median(rounds.map((r) => beyond(kind, r, i) / beyond(kind, r, 0)));
    return `${value.toFixed(0)} (${ratio.toFixed(2)}x)`;
  };
  say(
    `\n| active jobs per scope | publisher: µs per publish beyond the control (ratio to ${base}) ` +
      `| naive rebuild: µs beyond the control (ratio to ${base}) |`,
  );
  say("|---:|---:|---:|");
  sizes.forEach((size, i) => {
    say(`| ${size.toLocaleString("en")} | ${extra("publisher", i)} | ${extra("naive", i)} |`);
  });
}

/** Empties Redis and stores `size` jobs (NotAllowedToStart/Ready) in the scope. */
async function populate(env: Env, size: number): Promise<Job[]> {
  await env.redis.flushall();
  const jobs: Job[] = [];
  for (let i = 0; i < size; i++) {
    const result = applyMethod(undefined, "Store", {
      JobOrder: { JobOrderID: `JO-${String(i).padStart(5, "0")}`, Priority: i % 10 },
    }, NOW);
    if (!result.ok) throw new Error(result.reason);
    jobs.push(result.job);
  }
  await Promise.all(jobs.map((job) => env.store.save(SCOPE, job, "Store")));
  return jobs;
}

/** Writes `count` transitions, round-robin over the jobs: Start, then RevokeStart, and so on. */
async function writeChanges(env: Env, jobs: Job[], count: number): Promise<void> {
  const saves: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const job = jobs[i % jobs.length];
    const method = job.state === "NotAllowedToStart" ? "Start" : "RevokeStart";
    const result = applyMethod(job, method, { JobOrderID: job.order.JobOrderID }, NOW);
    if (!result.ok) throw new Error(result.reason);
    jobs[i % jobs.length] = result.job;
    // One connection: the saves reach Redis in this order.
    saves.push(env.store.save(SCOPE, result.job, method));
  }
  await Promise.all(saves);
}

/**
 * The publisher: a first run synchronizes the scope and leaves its cursor; the changes are
 * written while none runs; a second one is timed from the end of its start-up to the last
 * change handled.
 */
async function publisherRate(env: Env, size: number, changes: number): Promise<number> {
  const jobs = await populate(env, size);
  const make = () =>
    new JobPublisher(
      { store: env.store, feed: new RedisChangeFeed(env.redis), mqtt: env.mqtt },
      { prefix: PREFIX, streamBlockMs: 20, log: silentLogger },
    );
  const first = make();
  await first.start();
  await first.stop();
  await writeChanges(env, jobs, changes);
  const publisher = make();
  await publisher.start();
  const started = performance.now();
  while (publisher.metrics.entries.total() < changes) await new Promise((r) => setTimeout(r, 1));
  const rate = changes / ((performance.now() - started) / 1000);
  await publisher.stop();
  if (publisher.metrics.errors.total() > 0) throw new Error(publisher.metrics.registry.render());
  return rate;
}

/** The seed's loop: per entry, rebuild the state index from the store, INCR, publish, cursor. */
async function naiveRate(
  env: Env,
  size: number,
  changes: number,
): Promise<{ rate: number; bytes: number }> {
  const jobs = await populate(env, size);
  const stream = KEYS.changes(SCOPE);
  const feed = new RedisChangeFeed(env.redis);
  const after = new Map([[stream, (await feed.lastId(stream)) ?? "0"]]);
  await writeChanges(env, jobs, changes);
  const started = performance.now();
  let handled = 0, bytes = 0;
  while (handled < changes) {
    for (const batch of await feed.read(after, { count: 50, blockMs: 20 })) {
      for (const entry of batch.entries) {
        await env.store.get(SCOPE, entry.fields.job_order_id);
        bytes = await naiveStateIndex(env, feed);
        await feed.saveCursor(stream, entry.id);
        after.set(stream, entry.id);
        handled++;
      }
    }
  }
  return { rate: changes / ((performance.now() - started) / 1000), bytes };
}

/** list + one response read per job (N+1), INCR, publish: the reference's `_publish_state_index`. */
async function naiveStateIndex(env: Env, feed: RedisChangeFeed): Promise<number> {
  const listed = (await env.store.list(SCOPE)).filter(isListed);
  const responses = await Promise.all(
    listed.map((job) => env.store.getResponse(SCOPE, job.order.JobOrderID)),
  );
  const seq = await feed.nextSeq(SCOPE);
  const payload = JSON.stringify({
    seq,
    scope: SCOPE,
    published_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    jobs: listed.map((job, i) => ({
      job_order_id: job.order.JobOrderID,
      state: jobStateArray(job).map((s) => ({
        state_text: { text: s.StateText.Text, locale: s.StateText.Locale },
        state_number: s.StateNumber,
      })),
      has_result: responses[i] !== undefined,
    })),
  });
  await env.mqtt.publish(JOB_TOPICS.stateIndex(PREFIX, SCOPE), payload, {
    retain: true,
    expirySeconds: 172_800,
  });
  return payload.length;
}

/**
 * The control: a state index of `size` jobs in memory, its payload built and published (retained,
 * QoS 1) `count` times, one at a time, and nothing else: no Redis. What the seed's payload format
 * costs by itself, since every state-index lists every job.
 */
async function payloadRate(env: Env, size: number, count: number): Promise<number> {
  const index = new ScopeIndex(SCOPE);
  for (const job of await populate(env, size)) index.set(job, false);
  const topic = JOB_TOPICS.stateIndex(PREFIX, SCOPE);
  const started = performance.now();
  for (let seq = 1; seq <= count; seq++) {
    const payload = index.payload(seq, new Date());
    await env.mqtt.publish(topic, payload, { retain: true, expirySeconds: 172_800 });
  }
  return count / ((performance.now() - started) / 1000);
}
