/**
 * Edge benchmark: a naive lossy forwarder (bench/naive_forwarder.ts) against the plantgate edge
 * at full durability, on private Mosquitto and NATS servers, in one run.
 *
 * 1. sustained throughput: N native SAP documents published as fast as the broker takes them;
 *    events/s until the last one is in LOT_EVENTS (median of rounds), ratio to the baseline;
 * 2. latency at 1,000 events/s: local MQTT publish -> message seen on the JetStream subject
 *    (a core NATS subscriber sees it when the stream does); p50/p99;
 * 3. drain: 100,000 events buffered while NATS is down, then drained: events/s and the edge's
 *    peak RSS while draining.
 *
 * @module
 */
import mqtt from "mqtt";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BUILTIN_PLUGINS } from "../plugins/mod.ts";
import { bindPlugin, decodeNative } from "../gateway/core/plugin_runtime.ts";
import { connectNats, ensureStreams } from "../gateway/io/jetstream.ts";
import { startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { planTraffic, publishTraffic, type SentMessage } from "../gateway/sim/erp_simulator.ts";
import { type PrivateServer, startMosquitto, startNats } from "../gateway/sim/servers.ts";

const TOPIC = "plant/A/erp/sap/lot/events";
const SUBJECT = "lots.events.A.sap";
const encoder = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(encoder.encode(s + "\n"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function plan(count: number, seed: number, firstNumber: number): SentMessage[] {
  return planTraffic({
    plugin: BUILTIN_PLUGINS.get("sap")!,
    context: { plantId: "A", system: "sap", timeZone: "Europe/Berlin" },
    count,
    seed,
    resendRatio: 0,
    malformedRatio: 0,
    firstNumber,
  });
}

/** Events per native message of a plan (splits give several), per the plugin. */
function eventCount(messages: SentMessage[]): number {
  const bound = bindPlugin(BUILTIN_PLUGINS.get("sap")!, {
    plantId: "A",
    system: "sap",
    timeZone: "Europe/Berlin",
  });
  let n = 0;
  for (const m of messages) {
    const o = decodeNative(bound, { topic: m.topic, payload: m.payload, observedAt: new Date() });
    if (o.ok) n += o.events.length;
  }
  return n;
}

async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info("LOT_EVENTS")).state.messages;
}

async function resetStream(nc: NatsConnection): Promise<void> {
  await (await jetstreamManager(nc)).streams.purge("LOT_EVENTS");
}

async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Forwarder extends AsyncDisposable {
  pid(): number | undefined;
  stop(): Promise<void>;
}

async function startNaive(mosquitto: PrivateServer, nats: PrivateServer): Promise<Forwarder> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./naive_forwarder.ts", import.meta.url).pathname,
      mosquitto.url,
      nats.url,
      TOPIC,
      SUBJECT,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  child.stdout.cancel();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
  return { pid: () => child.pid, stop, [Symbol.asyncDispose]: stop };
}

async function startPlantgate(
  dir: string,
  mosquitto: PrivateServer,
  nats: PrivateServer,
): Promise<Forwarder> {
  const options = edgeOptions(dir, mosquitto, nats);
  const edge = await startEdgeProcess(options);
  await waitFor(async () => (await edge.health()).mqttConnected, 10_000, "edge MQTT");
  const stop = async () => {
    await edge.stop();
    await dropSession(mosquitto.url, options.extra.mqtt.clientId);
  };
  return { pid: () => edge.pid, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Ends a stopped bench edge's persistent session, so the broker does not keep queueing every
 * later phase's messages for it (that would load the broker and skew later measurements).
 */
async function dropSession(url: string, clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId,
    clean: true,
    properties: { sessionExpiryInterval: 0 },
  });
  await client.endAsync();
}

/** Every bench edge gets its own MQTT session, so no run inherits another's queued messages. */
function edgeOptions(dir: string, mosquitto: PrivateServer, nats: PrivateServer) {
  return {
    dir,
    plantId: "A",
    timeZone: "Europe/Berlin",
    erp: "sap",
    mqttUrl: mosquitto.url,
    natsUrl: nats.url,
    extra: {
      log: { level: "warn" },
      mqtt: { url: mosquitto.url, clientId: `bench-edge-${crypto.randomUUID().slice(0, 8)}` },
      buffer: { path: "buffer.db", maxBytes: "2GiB" },
    },
  };
}

async function throughputRound(
  messages: SentMessage[],
  events: number,
  nc: NatsConnection,
  url: string,
): Promise<number> {
  await resetStream(nc);
  const started = performance.now();
  await publishTraffic(messages, { url, rate: 0, maxInFlight: 2000 });
  await waitFor(async () => (await streamCount(nc)) >= events, 120_000, "all events in the stream");
  return events / ((performance.now() - started) / 1000);
}

async function latencyRun(
  messages: SentMessage[],
  nc: NatsConnection,
  url: string,
  keyOf: (data: Uint8Array) => string,
  keysOfSent: (m: SentMessage) => string[],
): Promise<number[]> {
  const keys = messages.map(keysOfSent);
  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  const sub = nc.subscribe(SUBJECT, {
    callback: (_err, msg) => {
      const t = publishedAt.get(keyOf(msg.data));
      if (t !== undefined) latencies.push(performance.now() - t);
    },
  });
  await publishTraffic(messages, {
    url,
    rate: 1000,
    onPublish: (i) => {
      const now = performance.now();
      for (const k of keys[i]) publishedAt.set(k, now);
    },
  });
  await sleep(1000);
  sub.unsubscribe();
  return latencies;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Runs the edge benchmark and prints its table. */
export async function runEdgeBench(
  options: { rounds?: number; count?: number; drain?: number } = {},
) {
  const rounds = options.rounds ?? 3;
  const count = options.count ?? 20_000;
  const drainCount = options.drain ?? 100_000;
  const root = await Deno.makeTempDir({ prefix: "plantgate-bench-" });
  await using mosquitto = await startMosquitto({ dir: `${root}/mosquitto` });
  await using nats = await startNats({ dir: `${root}/nats` });
  const nc = await connectNats({ servers: [nats.url], name: "bench" });
  await ensureStreams(await jetstreamManager(nc));
  say(`edge bench: ${rounds} rounds of ${count} SAP documents, drain of ${drainCount}`);

  const results: Record<string, number[]> = { naive: [], plantgate: [] };
  for (let r = 0; r < rounds; r++) {
    const messages = plan(count, 100 + r, 1 + r * 1_000_000);
    const events = eventCount(messages);
    {
      await using _naive = await startNaive(mosquitto, nats);
      const nativeMessages = messages.length; // the baseline forwards raw documents 1:1
      results.naive.push(await throughputRound(messages, nativeMessages, nc, mosquitto.url));
    }
    {
      await using _edge = await startPlantgate(`${root}/edge-tp-${r}`, mosquitto, nats);
      results.plantgate.push(await throughputRound(messages, events, nc, mosquitto.url));
    }
    say(
      `  round ${r + 1}: naive ${results.naive[r].toFixed(0)}/s, plantgate ${
        results.plantgate[r].toFixed(0)
      }/s`,
    );
  }

  // Latency at 1,000 events/s.
  const latencyMessages = plan(5_000, 900, 50_000_000);
  const bound = bindPlugin(BUILTIN_PLUGINS.get("sap")!, {
    plantId: "A",
    system: "sap",
    timeZone: "Europe/Berlin",
  });
  const idsOf = (m: SentMessage) => {
    const o = decodeNative(bound, { topic: m.topic, payload: m.payload, observedAt: new Date() });
    return o.ok ? o.events.map((e) => e.eventId) : [];
  };
  const decoder = new TextDecoder();
  let naiveLatency: number[];
  {
    await using _naive = await startNaive(mosquitto, nats);
    naiveLatency = await latencyRun(
      latencyMessages,
      nc,
      mosquitto.url,
      (d) => decoder.decode(d),
      (m) => [decoder.decode(m.payload)],
    );
  }
  let edgeLatency: number[];
  {
    await using _edge = await startPlantgate(`${root}/edge-latency`, mosquitto, nats);
    edgeLatency = await latencyRun(
      latencyMessages,
      nc,
      mosquitto.url,
      (d) => JSON.parse(decoder.decode(d)).eventId,
      idsOf,
    );
  }

  // Drain of a 100,000-event backlog.
  const drainMessages = plan(drainCount, 700, 80_000_000);
  const drainEvents = eventCount(drainMessages);
  await resetStream(nc);
  const edge = await startEdgeProcess(edgeOptions(`${root}/edge-drain`, mosquitto, nats));
  let drainRate = 0, peakRss = 0;
  try {
    await waitFor(async () => (await edge.health()).mqttConnected, 10_000, "edge MQTT");
    await nats.stop();
    await publishTraffic(drainMessages, { url: mosquitto.url, rate: 0, maxInFlight: 2000 });
    await waitFor(
      async () => (await edge.health()).backlog >= drainEvents,
      300_000,
      "backlog buffered",
    );
    const pid = edge.pid!;
    peakRss = rssMb(pid);
    await nats.start();
    let started = 0;
    await waitFor(
      async () => {
        peakRss = Math.max(peakRss, rssMb(pid));
        const backlog = (await edge.health()).backlog;
        if (!started && backlog < drainEvents) started = performance.now();
        return backlog === 0;
      },
      300_000,
      "drain",
    );
    drainRate = drainEvents / ((performance.now() - started) / 1000);
  } finally {
    await edge.stop();
  }
  await nc.close();
  await Deno.remove(root, { recursive: true }).catch(() => {});

  const naiveTp = median(results.naive), edgeTp = median(results.plantgate);
  const rows: [string, string, string, string, string][] = [
    [
      "sustained events/s (median)",
      naiveTp.toFixed(0),
      edgeTp.toFixed(0),
      (edgeTp / naiveTp).toFixed(2) + "x",
      ">= 0.5x",
    ],
    [
      "p50 latency @1,000/s (ms)",
      percentile(naiveLatency, 50).toFixed(2),
      percentile(edgeLatency, 50).toFixed(2),
      (percentile(edgeLatency, 50) / percentile(naiveLatency, 50)).toFixed(2) + "x",
      "-",
    ],
    [
      "p99 latency @1,000/s (ms)",
      percentile(naiveLatency, 99).toFixed(2),
      percentile(edgeLatency, 99).toFixed(2),
      (percentile(edgeLatency, 99) / percentile(naiveLatency, 99)).toFixed(2) + "x",
      "< 20 ms",
    ],
    [`drain of ${drainEvents} events (events/s)`, "-", drainRate.toFixed(0), "-", ">= 10,000"],
    ["peak RSS while draining (MB)", "-", peakRss.toFixed(0), "-", "< 150"],
  ];
  say("\n| metric | naive lossy baseline | plantgate durable | ratio | target |");
  say("|---|---:|---:|---:|---|");
  for (const r of rows) say(`| ${r.join(" | ")} |`);
  say(
    `\nrounds: naive ${results.naive.map((x) => x.toFixed(0)).join(", ")}; plantgate ${
      results.plantgate.map((x) => x.toFixed(0)).join(", ")
    }`,
  );
  say(`latency samples: naive ${naiveLatency.length}, plantgate ${edgeLatency.length}`);
}
