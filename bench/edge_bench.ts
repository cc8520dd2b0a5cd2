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
 * The edge is measured in its default and its low-memory profile (bench/README.md).
 *
 * @module
 */
import mqtt from "mqtt";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BUILTIN_PLUGINS } from "../plugins/mod.ts";
import { bindPlugin, decodeNative } from "../gateway/core/plugin_runtime.ts";
import { connectNats, ensureStreams } from "../gateway/io/jetstream.ts";
import { LOW_MEMORY_DENO_FLAGS, startEdgeProcess } from "../gateway/sim/edge_process.ts";
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

/** An edge configuration measured by the bench. */
interface Profile {
  name: string;
  denoFlags: readonly string[];
}

const PROFILES: Profile[] = [
  { name: "plantgate", denoFlags: [] },
  { name: "plantgate low-memory", denoFlags: LOW_MEMORY_DENO_FLAGS },
];

async function startPlantgate(
  dir: string,
  mosquitto: PrivateServer,
  nats: PrivateServer,
  profile: Profile,
): Promise<Forwarder> {
  const options = { ...edgeOptions(dir, mosquitto, nats), denoFlags: profile.denoFlags };
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

/**
 * Latency of `messages` published at 1,000/s, after `warmup` more at the same rate that are
 * not measured (a fresh process compiles its hot paths during its first second of traffic;
 * the benchmark measures the steady state, for the baseline and plantgate alike).
 */
async function latencyRun(
  { warmup, messages }: { warmup: SentMessage[]; messages: SentMessage[] },
  nc: NatsConnection,
  url: string,
  keyOf: (data: Uint8Array) => string,
  keysOfSent: (m: SentMessage) => string[],
): Promise<number[]> {
  await publishTraffic(warmup, { url, rate: 1000 });
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

  const names = ["naive", ...PROFILES.map((p) => p.name)];
  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const messages = plan(count, 100 + r, 1 + r * 1_000_000);
    {
      await using _naive = await startNaive(mosquitto, nats);
      const nativeMessages = messages.length; // the baseline forwards raw documents 1:1
      results.naive.push(await throughputRound(messages, nativeMessages, nc, mosquitto.url));
    }
    for (const [i, profile] of PROFILES.entries()) {
      // Other document numbers per profile: JetStream would drop the same event ids as
      // duplicates (its duplicate window outlives a purge).
      const own = plan(count, 100 + r, 1 + r * 1_000_000 + (i + 1) * 100_000);
      await using _edge = await startPlantgate(
        `${root}/edge-tp-${r}-${i}`,
        mosquitto,
        nats,
        profile,
      );
      results[profile.name].push(await throughputRound(own, eventCount(own), nc, mosquitto.url));
    }
    say(`  round ${r + 1}: ${names.map((n) => `${n} ${results[n][r].toFixed(0)}/s`).join(", ")}`);
  }

  // Latency at 1,000 events/s, after a second of warm-up traffic.
  const latencyMessages = (i: number) => ({
    warmup: plan(1_000, 899, 40_000_000 + i * 1_000_000),
    messages: plan(5_000, 900, 50_000_000 + i * 1_000_000),
  });
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
  const latency: Record<string, number[]> = {};
  {
    await using _naive = await startNaive(mosquitto, nats);
    latency.naive = await latencyRun(
      latencyMessages(0),
      nc,
      mosquitto.url,
      (d) => decoder.decode(d),
      (m) => [decoder.decode(m.payload)],
    );
  }
  for (const [i, profile] of PROFILES.entries()) {
    await using _edge = await startPlantgate(`${root}/edge-latency-${i}`, mosquitto, nats, profile);
    latency[profile.name] = await latencyRun(
      latencyMessages(i + 1),
      nc,
      mosquitto.url,
      (d) => JSON.parse(decoder.decode(d)).eventId,
      idsOf,
    );
  }

  // Drain of a 100,000-document backlog.
  const drain: Record<string, { events: number; rate: number; peakRss: number }> = {};
  for (const [i, profile] of PROFILES.entries()) {
    const messages = plan(drainCount, 700, 80_000_000 + i * 1_000_000);
    drain[profile.name] = await drainRun({
      dir: `${root}/edge-drain-${i}`,
      profile,
      mosquitto,
      nats,
      nc,
      messages,
      events: eventCount(messages),
    });
  }
  await nc.close();
  await Deno.remove(root, { recursive: true }).catch(() => {});

  const naiveTp = median(results.naive);
  const p = (name: string, q: number) => percentile(latency[name], q);
  const row = (metric: string, naive: string, cells: (name: string) => string, target: string) =>
    `| ${metric} | ${naive} | ${PROFILES.map((pr) => cells(pr.name)).join(" | ")} | ${target} |`;
  say(
    `\n| metric | naive lossy baseline | ${PROFILES.map((pr) => pr.name).join(" | ")} | target |`,
  );
  say(`|---|---:|${PROFILES.map(() => "---:").join("|")}|---|`);
  say(row(
    "sustained events/s (median; ratio to baseline)",
    naiveTp.toFixed(0),
    (n) => `${median(results[n]).toFixed(0)} (${(median(results[n]) / naiveTp).toFixed(2)}x)`,
    ">= 0.5x (stretch 1.0x)",
  ));
  say(row(
    "p50 latency @1,000/s, ms",
    p("naive", 50).toFixed(2),
    (n) => p(n, 50).toFixed(2),
    "-",
  ));
  say(row(
    "p99 latency @1,000/s, ms",
    p("naive", 99).toFixed(2),
    (n) => p(n, 99).toFixed(2),
    "< 20",
  ));
  say(row(
    `drain of a ${drainCount}-document backlog, events/s`,
    "-",
    (n) => `${drain[n].rate.toFixed(0)} (${drain[n].events} events)`,
    ">= 10,000",
  ));
  say(row("peak RSS while draining, MB", "-", (n) => drain[n].peakRss.toFixed(0), "< 150"));
  say(
    `\nrounds (events/s): ${
      names.map((n) => `${n} ${results[n].map((x) => x.toFixed(0)).join(", ")}`).join("; ")
    }`,
  );
  say(`latency samples: ${names.map((n) => `${n} ${latency[n].length}`).join(", ")}`);
}

/** Buffers `messages` while NATS is down, then drains: events/s and the edge's peak RSS. */
async function drainRun(
  o: {
    dir: string;
    profile: Profile;
    mosquitto: PrivateServer;
    nats: PrivateServer;
    nc: NatsConnection;
    messages: SentMessage[];
    events: number;
  },
): Promise<{ events: number; rate: number; peakRss: number }> {
  await resetStream(o.nc);
  const options = { ...edgeOptions(o.dir, o.mosquitto, o.nats), denoFlags: o.profile.denoFlags };
  const edge = await startEdgeProcess(options);
  try {
    await waitFor(async () => (await edge.health()).mqttConnected, 10_000, "edge MQTT");
    await o.nats.stop();
    await publishTraffic(o.messages, { url: o.mosquitto.url, rate: 0, maxInFlight: 2000 });
    await waitFor(
      async () => (await edge.health()).backlog >= o.events,
      300_000,
      "backlog buffered",
    );
    const pid = edge.pid!;
    let peakRss = rssMb(pid);
    await o.nats.start();
    let started = 0;
    await waitFor(
      async () => {
        peakRss = Math.max(peakRss, rssMb(pid));
        const backlog = (await edge.health()).backlog;
        if (!started && backlog < o.events) started = performance.now();
        return backlog === 0;
      },
      300_000,
      "drain",
    );
    return { events: o.events, rate: o.events / ((performance.now() - started) / 1000), peakRss };
  } finally {
    await edge.stop();
    await dropSession(o.mosquitto.url, options.extra.mqtt.clientId);
  }
}
