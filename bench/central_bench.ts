/**
 * Central benchmark, on private NATS and PostgreSQL, in one run:
 *
 * 1. raw baseline: the same events as plain rows, batched INSERTs (64 per statement, one
 *    transaction each, 4 at once) into a table without constraints beyond a primary key;
 * 2. the orchestrator with 1 and with 2 replicas (in process, default settings), pulling the
 *    events from LOT_EVENTS until each is applied: events/s and the ratio to the baseline
 *    measured just before it. Rounds of 1 and 2 alternate; the medians are reported;
 * 3. trace query latency on a 1,000,000-edge genealogy (bulk-loaded: 200,000 five-level
 *    chains), back and forward, depth 5: p50/p99 over 500 random lots.
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type CentralConfig, centralDefaults } from "../gateway/core/central_config.ts";
import type { CanonicalLotEvent } from "../gateway/core/canonical_event.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import { Central } from "../gateway/central/central.ts";
import { migrate } from "../gateway/central/schema.ts";
import { traceLot } from "../gateway/central/trace.ts";
import { connectNats, ensureStreams, lotEventsSubject } from "../gateway/io/jetstream.ts";
import type { Sql } from "../gateway/io/postgres.ts";
import { simulatedLotEvents } from "../gateway/sim/lot_history.ts";
import {
  createDatabase,
  type PrivateServer,
  startNats,
  startPostgres,
} from "../gateway/sim/servers.ts";

const encoder = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(encoder.encode(s + "\n"));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Options of {@linkcode runCentralBench}. */
export interface CentralBenchOptions {
  /** Simulated documents per plant (3 plants). Default 6,000 (~21,600 events). */
  perPlant?: number;
  /** Rounds of baseline + 1 replica + 2 replicas. Default 3. */
  rounds?: number;
  /** Orchestrator settings to try instead of the config defaults (batchSize, concurrency). */
  orchestrator?: Partial<CentralConfig["orchestrator"]>;
  /** Measure trace latency too. Default true. */
  trace?: boolean;
}

/** Runs the central benchmark and prints its table. */
export async function runCentralBench(options: CentralBenchOptions = {}): Promise<void> {
  const events = simulatedLotEvents(options.perPlant ?? 6_000, 21);
  say(`central bench: ${events.length} events from 3 plants; trace on 1,000,000 edges`);
  await using nats = await startNats();
  await using pg = await startPostgres();
  await publish(nats, events);
  const rounds: { raw: number; replicas: Record<number, number> }[] = [];
  for (let round = 1; round <= (options.rounds ?? 3); round++) {
    const raw = await rawRate(pg, events, `raw${round}`);
    const replicas: Record<number, number> = {};
    for (const n of [1, 2]) {
      replicas[n] = await orchestratorRate(pg, nats, events, `orch${round}r${n}`, n, options);
    }
    rounds.push({ raw, replicas });
    say(
      `  round ${round}: raw ${raw.toFixed(0)}, 1 replica ${replicas[1].toFixed(0)} ` +
        `(${(replicas[1] / raw).toFixed(2)}x), 2 replicas ${replicas[2].toFixed(0)} ` +
        `(${(replicas[2] / raw).toFixed(2)}x) events/s`,
    );
  }
  const latencies = options.trace === false ? undefined : await traceLatencies(pg);

  const median = (xs: number[]) => percentile(xs, 50);
  const orchestrator = (n: number) => {
    const rate = median(rounds.map((r) => r.replicas[n]));
    const ratio = median(rounds.map((r) => r.replicas[n] / r.raw));
    return `${rate.toFixed(0)} (${ratio.toFixed(2)}x)`;
  };
  say("\n| metric (median of rounds) | value | target |");
  say("|---|---:|---|");
  say(`| raw batched INSERT, events/s | ${median(rounds.map((r) => r.raw)).toFixed(0)} | - |`);
  say(`| orchestrator, 1 replica, events/s (ratio) | ${orchestrator(1)} | >= 0.3x, >= 3,000 |`);
  say(`| orchestrator, 2 replicas, events/s (ratio) | ${orchestrator(2)} | >= 0.3x, >= 3,000 |`);
  for (const [direction, ms] of Object.entries(latencies ?? {})) {
    say(
      `| trace ${direction}, depth 5, 1,000,000 edges: p50 / p99 ms | ${
        percentile(ms, 50).toFixed(2)
      } / ${percentile(ms, 99).toFixed(2)} | - |`,
    );
  }
}

/** Puts the events into LOT_EVENTS, as the plants' edges would. */
async function publish(nats: PrivateServer, events: CanonicalLotEvent[]): Promise<void> {
  const nc = await connectNats({ servers: [nats.url], name: "bench" });
  await ensureStreams(await jetstreamManager(nc));
  const js = jetstream(nc);
  for (let i = 0; i < events.length; i += 500) {
    await Promise.all(
      events.slice(i, i + 500).map((e) =>
        js.publish(lotEventsSubject(e.plantId, e.sourceSystem), encoder.encode(JSON.stringify(e)), {
          msgID: e.eventId,
        })
      ),
    );
  }
  await nc.close();
}

/** The baseline: the events as plain rows, 64 per INSERT and transaction, 4 at once. */
async function rawRate(pg: PrivateServer, events: CanonicalLotEvent[], name: string) {
  const raw = await createDatabase(pg, name);
  await raw`CREATE TABLE events (event_id uuid PRIMARY KEY, plant_id text, source_system text,
    lot_id text, event_type text, event_time timestamptz, event jsonb)`;
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < events.length) {
      const batch = events.slice(next, next + 64);
      next += batch.length;
      const rows = batch.map((e) => ({
        event_id: e.eventId,
        plant_id: e.plantId,
        source_system: e.sourceSystem,
        lot_id: e.lotId,
        event_type: e.eventType,
        event_time: e.timestamp,
        event: JSON.stringify(e),
      }));
      await raw.begin((tx) => tx`INSERT INTO events ${tx(rows)}`);
    }
  }));
  const rate = events.length / ((performance.now() - started) / 1000);
  await raw.end();
  return rate;
}

/**
 * `replicas` orchestrators (in process) with the default settings, a fresh database and
 * consumer: events/s from the moment they pull until the last event is applied.
 */
async function orchestratorRate(
  pg: PrivateServer,
  nats: PrivateServer,
  events: CanonicalLotEvent[],
  name: string,
  replicas: number,
  options: CentralBenchOptions,
): Promise<number> {
  const sql = await createDatabase(pg, name, 2);
  await migrate(sql);
  const defaults = centralDefaults();
  const config: CentralConfig = {
    ...defaults,
    nats: { servers: [nats.url], name: `bench-${name}` },
    postgres: { ...defaults.postgres, port: pg.port, database: name, user: "postgres" },
    orchestrator: {
      ...defaults.orchestrator,
      consumer: name,
      sourcePriority: { sap: 3, dynamics: 2, infor: 1 },
      ...options.orchestrator,
    },
    http: { listen: false },
    log: { level: "error" },
  };
  const centrals = Array.from({ length: replicas }, () => new Central(config, silentLogger));
  await Promise.all(centrals.map((c) => c.start()));
  const started = performance.now();
  await waitForCount(sql, events.length);
  const rate = events.length / ((performance.now() - started) / 1000);
  await Promise.all(centrals.map((c) => c.stop()));
  await sql.end();
  return rate;
}

/** Waits until `n` events are audited (the chain heads' sequence numbers: no table scan). */
async function waitForCount(sql: Sql, n: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Number((await sql`SELECT sum(seq) AS n FROM audit_chain_heads`)[0].n ?? 0) < n) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for the orchestrator");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Trace latencies (ms) on a bulk-loaded genealogy of 200,000 chains of 5 edges, back and forward. */
async function traceLatencies(pg: PrivateServer): Promise<Record<string, number[]>> {
  const big = await createDatabase(pg, "trace", 2);
  await migrate(big);
  await big.unsafe(`
    INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder,
      event_type, material, quantity, uom, state_version, state_priority)
    SELECT 'A', 'sap', 'L' || c || '-' || l, gen_random_uuid(), false, 'LOT_CREATED', 'M' || (c % 100),
      100, 'KGM', 0, 0
    FROM generate_series(1, 200000) c, generate_series(0, 5) l;
    INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
      child_system, child_lot, kind, quantity, uom, event_id)
    SELECT 'A', 'sap', 'L' || c || '-' || l, 'A', 'sap', 'L' || c || '-' || (l + 1), 'split', 10,
      'KGM', gen_random_uuid()
    FROM generate_series(1, 200000) c, generate_series(0, 4) l;
    ANALYZE;`);
  const latencies: Record<string, number[]> = { back: [], forward: [] };
  for (let i = 0; i < 500; i++) {
    const chain = 1 + Math.floor(Math.random() * 200_000);
    for (const direction of ["back", "forward"] as const) {
      const lot = direction === "back" ? `L${chain}-5` : `L${chain}-0`;
      const [row] = await big`SELECT canonical_lot_id FROM system_lots WHERE plant_id = 'A'
        AND source_system = 'sap' AND lot_id = ${lot}`;
      const t = performance.now();
      const steps = await traceLot(big, String(row.canonical_lot_id), { direction, depth: 5 });
      latencies[direction].push(performance.now() - t);
      if (steps.length !== 5) {
        throw new Error(`trace ${direction} of ${lot}: ${steps.length} steps`);
      }
    }
  }
  await big.end();
  return latencies;
}
