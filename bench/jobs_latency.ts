/**
 * DCS path latency benchmark (issue 4), on private Mosquitto (plant and central topics on one
 * broker), NATS and Redis, with a real edge child process (`dcs.enabled`): the end-to-end
 * latency from a DCS event at the plant to the retained topic at the centre.
 *
 * Per round, `jobs` jobs are stored and started in the store (AllowedToStart, so the DCS events
 * are allowed), in a scope of their own (every round's state index holds the same number of
 * jobs). Then, at a steady rate, each job's `FromAllowedToStartToRunning` event and, half a period
 * later, its `FromRunningToEnded` event with its JobResponse are published QoS 1 at
 * `plant/<plant>/dcs/<scope>/jobs/events`. Measured per job on one clock (this process):
 *
 * 1. **result**: from the publish call of the terminal event to the arrival of the retained
 *    `<prefix>/<scope>/result/<id>` at a subscriber on the central broker: the edge's validation
 *    and fsync'd buffer, JetStream, the DCS event consumer (ledger, response, transition in
 *    Redis), the publisher (change stream, GET, publish) and the broker;
 * 2. **Running**: from the publish call of the Running event to the first
 *    `<prefix>/<scope>/state-index` showing the job Running (or later);
 * 3. **baseline**, in the same round: plain MQTT publish -> delivery on the same broker, the
 *    terminal events' payloads published QoS 1 by the same client at the same rate to a topic
 *    the same subscriber has.
 *
 * Rounds run after a warm-up; the table gives the medians of the rounds' p50/p90/p99 and the
 * median of the rounds' ratios to the baseline's same percentile.
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { RedisJobStore } from "../gateway/central/jobs/dao.ts";
import {
  DcsEventConsumer,
  type DcsOutcome,
  ensureDcsEventsConsumer,
  redisEventLedger,
} from "../gateway/central/jobs/dcs_events.ts";
import { dcsEventId } from "../gateway/central/jobs/dcs_message.ts";
import { applyMethod, type Job } from "../gateway/central/jobs/mod.ts";
import { PublisherRole } from "../gateway/central/jobs/publish_role.ts";
import { JOB_TOPICS } from "../gateway/central/jobs/store.ts";
import { centralDefaults } from "../gateway/core/central_config.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import { dcsEventsTopic } from "../gateway/edge/dcs.ts";
import { ensureStreams } from "../gateway/io/jetstream.ts";
import { connectRedis } from "../gateway/io/redis.ts";
import { startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { startMosquitto, startNats, startRedis } from "../gateway/sim/servers.ts";

const encoder = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(encoder.encode(s + "\n"));
const PLANT = "A";
const PLAIN = "bench/plain";
const TIMEOUT_MS = 60_000;

/** Options of {@linkcode runJobsLatencyBench}. */
export interface JobsLatencyOptions {
  /** Jobs measured per round. Default 200. */
  jobs?: number;
  /** Jobs run once before the rounds, not measured. Default 50. */
  warmup?: number;
  /** Rounds. Default 3. */
  rounds?: number;
  /** Jobs per second; each job is two events, so twice as many events/s. Default 50. */
  rate?: number;
}

/** Latencies of one round, ms, one per job (baseline: one per message). */
interface Round {
  result: number[];
  running: number[];
  plain: number[];
}

/** The central side of the path, in this process: the DCS event consumer and the publisher. */
interface Central extends AsyncDisposable {
  store: RedisJobStore;
  prefix: string;
  outcomes: Map<DcsOutcome, number>;
}

/** Runs the latency benchmark and prints its table. */
export async function runJobsLatencyBench(options: JobsLatencyOptions = {}): Promise<void> {
  const jobs = options.jobs ?? 200;
  const rate = options.rate ?? 50;
  say(
    `\njobs latency bench: DCS event at the plant -> retained topic at the centre, ${jobs} jobs ` +
      `per round at ${rate} jobs/s (${2 * rate} events/s)`,
  );
  const dir = await Deno.makeTempDir({ prefix: "plantgate-bench-dcs-" });
  try {
    await using broker = await startMosquitto();
    await using natsServer = await startNats();
    await using redisServer = await startRedis();
    await using central = await startCentral(natsServer.url, redisServer.url, broker.url);
    await using _edge = await startEdgeProcess({
      dir: `${dir}/edge`,
      plantId: PLANT,
      timeZone: "UTC",
      erp: "sap",
      mqttUrl: broker.url,
      natsUrl: natsServer.url,
      extra: { dcs: { enabled: true } },
    });
    await using probe = await Probe.connect(broker.url, central.prefix);
    await runRound(central, probe, "lat-warmup", options.warmup ?? 50, rate);
    const rounds: Round[] = [];
    for (let round = 1; round <= (options.rounds ?? 3); round++) {
      const result = await runRound(central, probe, `lat-${round}`, jobs, rate);
      rounds.push(result);
      say(
        `  round ${round}: p50 result ${fmt(pct(result.result, 50))} ms, Running ` +
          `${fmt(pct(result.running, 50))} ms, plain MQTT ${fmt(pct(result.plain, 50))} ms`,
      );
    }
    const refused = [...central.outcomes].filter(([o]) => o !== "applied");
    if (refused.length > 0) throw new Error(`DCS events not applied: ${JSON.stringify(refused)}`);
    printTable(rounds);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** JetStream streams and the `jobs` consumer, the DCS event consumer and the publisher role. */
async function startCentral(natsUrl: string, redisUrl: string, mqttUrl: string): Promise<Central> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
  await ensureDcsEventsConsumer(jsm, 30);
  const redis = await connectRedis({ url: redisUrl, log: silentLogger });
  const store = new RedisJobStore(redis);
  const settings = {
    ...centralDefaults().jobs,
    redis: { url: redisUrl },
    mqtt: { url: mqttUrl, clientId: "bench-publisher" },
  };
  const publisher = new PublisherRole(settings, silentLogger);
  const outcomes = new Map<DcsOutcome, number>();
  const consumer = new DcsEventConsumer(jetstream(nc), {
    store,
    ledger: redisEventLedger(redis, { ttlSeconds: 3600, claimSeconds: 30 }),
  }, {
    backoff: { initialMs: 100, maxMs: 1000 },
    log: silentLogger,
    onOutcome: (outcome) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1),
  });
  const dispose = async () => {
    await consumer.stop();
    await publisher.stop();
    redis.disconnect();
    await nc.close();
  };
  try {
    await publisher.start();
    consumer.start();
  } catch (error) {
    await dispose();
    throw error;
  }
  return { store, prefix: settings.prefix, outcomes, [Symbol.asyncDispose]: dispose };
}

/**
 * The plant's DCS (a publisher on the plant topics) and the MES (a subscriber on the central
 * topics and the baseline's topic), one MQTT v5 client each; records arrival times.
 */
class Probe implements AsyncDisposable {
  readonly #plant: mqtt.MqttClient;
  readonly #mes: mqtt.MqttClient;
  readonly #prefix: string;
  /** Topic -> first arrival (performance.now()). */
  readonly arrived = new Map<string, number>();
  /** Job id -> arrival of the first state-index showing it Running or later. */
  readonly running = new Map<string, number>();
  /** Job ids whose Running is awaited, with the state-index marker that shows it. */
  readonly #awaiting = new Map<string, string[]>();
  /** Scope -> latest state-index payload. */
  readonly indexes = new Map<string, string>();

  private constructor(plant: mqtt.MqttClient, mes: mqtt.MqttClient, prefix: string) {
    this.#plant = plant;
    this.#mes = mes;
    this.#prefix = prefix;
    mes.on("message", (topic, payload) => this.#onMessage(topic, payload));
  }

  static async connect(url: string, prefix: string): Promise<Probe> {
    const options = { protocolVersion: 5 as const, reconnectPeriod: 0 };
    const plant = await mqtt.connectAsync(url, { ...options, clientId: "bench-dcs" });
    const mes = await mqtt.connectAsync(url, { ...options, clientId: "bench-mes" });
    const probe = new Probe(plant, mes, prefix);
    await mes.subscribeAsync([`${prefix}/+/result/+`, `${prefix}/+/state-index`, `${PLAIN}/#`], {
      qos: 1,
    });
    return probe;
  }

  /** Publishes QoS 1 and returns the time of the call (the PUBACK is not waited for). */
  publish(topic: string, payload: string, failures: unknown[]): number {
    const at = performance.now();
    this.#plant.publishAsync(topic, payload, { qos: 1 }).catch((e) => failures.push(e));
    return at;
  }

  /** Watches the state indexes for the job showing Running (or later, if coalesced). */
  awaitRunning(id: string): void {
    const entry = `"job_order_id":${JSON.stringify(id)},"state":[{"state_text":{"text":`;
    this.#awaiting.set(id, [`${entry}"Running"`, `${entry}"Ended"`]);
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    const at = performance.now();
    if (topic.endsWith("/state-index")) {
      const text = new TextDecoder().decode(payload);
      this.indexes.set(topic.slice(this.#prefix.length + 1, -"/state-index".length), text);
      for (const [id, markers] of this.#awaiting) {
        if (!markers.some((m) => text.includes(m))) continue;
        this.running.set(id, at);
        this.#awaiting.delete(id);
      }
      return;
    }
    if (!this.arrived.has(topic)) this.arrived.set(topic, at);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#plant.endAsync();
    await this.#mes.endAsync();
  }
}

/**
 * One round in a fresh scope: the jobs stored and started; their events at the steady rate
 * (Running at i·period, the terminal event at (i+½)·period); then the baseline's plain publishes
 * at the same event rate.
 */
async function runRound(
  central: Central,
  probe: Probe,
  scope: string,
  count: number,
  rate: number,
): Promise<Round> {
  const ids = await allowJobs(central, probe, scope, count);
  const half = 1000 / rate / 2;
  const failures: unknown[] = [];
  const topic = dcsEventsTopic(PLANT, scope);
  const payloads = ids.map((id) => JSON.stringify(dcsEvent(scope, id, "FromRunningToEnded")));
  const runningSent: number[] = [], resultSent: number[] = [];
  const start = performance.now();
  for (const [i, id] of ids.entries()) {
    await sleepUntil(start + 2 * i * half);
    probe.awaitRunning(id);
    runningSent.push(
      probe.publish(
        topic,
        JSON.stringify(dcsEvent(scope, id, "FromAllowedToStartToRunning")),
        failures,
      ),
    );
    await sleepUntil(start + (2 * i + 1) * half);
    resultSent.push(probe.publish(topic, payloads[i], failures));
  }
  const results = ids.map((id) => JOB_TOPICS.result(central.prefix, scope, id));
  await waitFor(() => results.every((t) => probe.arrived.has(t)), `${scope}: retained results`);
  await waitFor(() => ids.every((id) => probe.running.has(id)), `${scope}: Running indexes`);

  const plain = [...payloads, ...payloads].map((_, k) => `${PLAIN}/${scope}/${k}`);
  const plainSent: number[] = [];
  const plainStart = performance.now();
  for (const [k, t] of plain.entries()) {
    await sleepUntil(plainStart + k * half);
    plainSent.push(probe.publish(t, payloads[k % count], failures));
  }
  await waitFor(() => plain.every((t) => probe.arrived.has(t)), `${scope}: plain deliveries`);
  if (failures.length > 0) throw new Error(`Cannot publish: ${failures[0]}`);
  return {
    result: results.map((t, i) => probe.arrived.get(t)! - resultSent[i]),
    running: ids.map((id, i) => probe.running.get(id)! - runningSent[i]),
    plain: plain.map((t, k) => probe.arrived.get(t)! - plainSent[k]),
  };
}

/**
 * Stores and starts `count` jobs in the scope (AllowedToStart) and waits until the publisher has
 * published a state index showing the last one so: then every one is (one connection, one order).
 */
async function allowJobs(
  central: Central,
  probe: Probe,
  scope: string,
  count: number,
): Promise<string[]> {
  const now = new Date();
  const ids: string[] = [];
  const saves: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const id = `JO-${scope}-${String(i).padStart(5, "0")}`;
    const stored = applyMethod(undefined, "Store", {
      JobOrder: { JobOrderID: id, Priority: i % 10 },
    }, now);
    if (!stored.ok) throw new Error(stored.reason);
    const started = applyMethod(stored.job, "Start", { JobOrderID: id }, now);
    if (!started.ok) throw new Error(started.reason);
    saves.push(central.store.save(scope, stored.job, "Store"));
    saves.push(central.store.save(scope, started.job as Job, "Start"));
    ids.push(id);
  }
  await Promise.all(saves);
  const last = `"job_order_id":${JSON.stringify(ids.at(-1))},"state":[{"state_text":{"text":` +
    `"AllowedToStart"`;
  await waitFor(() => probe.indexes.get(scope)?.includes(last) ?? false, `${scope}: jobs allowed`);
  return ids;
}

/** A DCS event as the simulator sends it; the terminal one carries the JobResponse. */
function dcsEvent(scope: string, id: string, transition: string): Record<string, unknown> {
  const response = transition === "FromRunningToEnded"
    ? {
      response: {
        JobResponseID: `JR-${id}`,
        JobOrderID: id,
        JobState: [{ StateText: { Text: "Ended", Locale: "en" }, StateNumber: 5 }],
        JobResponseData: [
          { ID: "SerialNumber", Value: `SN-${id}` },
          { ID: "TorqueActual", Value: [41.8, 42.1, 41.9], EngineeringUnits: "N.m" },
        ],
      },
    }
    : {};
  return {
    eventId: dcsEventId(PLANT, scope, { jobOrderId: id, transition, run: "bench" }),
    scope,
    jobOrderId: id,
    transition,
    ...response,
    at: new Date().toISOString(),
  };
}

async function sleepUntil(at: number): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The p-th percentile (nearest rank). */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

/** Medians of the rounds' p50/p90/p99, and of their ratios to the baseline's same percentile. */
function printTable(rounds: Round[]): void {
  const ps = [50, 90, 99];
  const cell = (kind: keyof Round, p: number) => {
    const value = median(rounds.map((r) => pct(r[kind], p)));
    const ratio = median(rounds.map((r) => pct(r[kind], p) / pct(r.plain, p)));
    return `${fmt(value)} (${ratio.toFixed(1)}x)`;
  };
  say(`\n| latency, ms (ratio to plain MQTT) | p50 | p90 | p99 |`);
  say("|---|---:|---:|---:|");
  const rows: [string, keyof Round][] = [
    ["baseline: plain MQTT publish -> delivery, same broker", "plain"],
    ["terminal DCS event -> retained result at the centre", "result"],
    ["Running DCS event -> state-index showing it", "running"],
  ];
  for (const [label, kind] of rows) {
    say(`| ${label} | ${ps.map((p) => cell(kind, p)).join(" | ")} |`);
  }
  say(
    `\nRounds (p50/p90/p99 ms): ${
      rounds.map((r, i) =>
        `${i + 1}: result ${ps.map((p) => fmt(pct(r.result, p))).join("/")}, Running ${
          ps.map((p) => fmt(pct(r.running, p))).join("/")
        }, plain ${ps.map((p) => fmt(pct(r.plain, p))).join("/")}`
      ).join("; ")
    }`,
  );
}
