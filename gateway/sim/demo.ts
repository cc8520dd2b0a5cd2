import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import mqtt from "mqtt";
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";
import { Central } from "../central/central.ts";
import { latestRuns, requestReconciliation } from "../central/reconciliation.ts";
import { countSagas } from "../central/saga.ts";
import { resolveLot, traceLot } from "../central/trace.ts";
import { centralDefaults } from "../core/central_config.ts";
import { silentLogger } from "../core/logger.ts";
import type { LotOperation, ShipOperation } from "../core/simulation.ts";
import { connectNats } from "../io/jetstream.ts";
import type { Sql } from "../io/postgres.ts";
import { type EdgeProcess, metricValue, startEdgeProcess } from "./edge_process.ts";
import { answerCommands } from "./erp_answers.ts";
import { planTraffic, publishTraffic } from "./erp_simulator.ts";
import { createDatabase, freePort, startMosquitto, startNats, startPostgres } from "./servers.ts";
import { stockOf } from "./stock.ts";

const USAGE = `Usage: main.ts demo [--count N] [--rate N] [--outage-seconds N] [--state-dir DIR]

Starts private Mosquitto, NATS (JetStream) and PostgreSQL servers under the state folder, the
central role (streams, lot orchestrator, outbox relay, MES lot feed), three edges (plant A: SAP,
plant B: Dynamics, plant C: Infor) with ERP simulators that also answer the centre's commands,
cuts the NATS link for a while to show store-and-forward, then ships lots between the plants
(transfer sagas: command, receipt, link) and ends with a summary and a cross-plant genealogy.
Shows live progress; Ctrl-C stops everything cleanly.

Options:
  --count <n>            messages per plant (default 3000)
  --rate <n>             messages per second per plant (default 300)
  --outage-seconds <n>   how long NATS is down (default 5)
  --state-dir <dir>      where servers and edges keep their files (default .state/demo)`;

const PLANTS = [
  { plantId: "A", erp: "sap", timeZone: "Europe/Berlin" },
  { plantId: "B", erp: "dynamics", timeZone: "America/Chicago" },
  { plantId: "C", erp: "infor", timeZone: "Asia/Shanghai" },
] as const;

/**
 * A lot plant C's ERP holds whose posting never reached the centre (its message was lost before
 * the plant broker): reconciliation finds it.
 */
const UNPOSTED = {
  plantId: "C",
  line: { lotId: "C-UNSENT-1", material: "900100", quantity: 12, uom: "KGM" },
};

const encoder = new TextEncoder();
function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

interface PlantRun {
  plantId: string;
  erp: string;
  edge: EdgeProcess;
  sent: number;
  planned: number;
}

async function progressLine(runs: PlantRun[], natsUp: boolean): Promise<string> {
  const parts = await Promise.all(runs.map(async (r) => {
    try {
      const h = await r.edge.health();
      return `${r.plantId}/${r.erp}: sent ${r.sent}/${r.planned} backlog ${h.backlog} dlq ${h.deadLettersUnforwarded}`;
    } catch {
      return `${r.plantId}/${r.erp}: (edge not answering)`;
    }
  }));
  return `${natsUp ? "NATS up  " : "NATS DOWN"} | ${parts.join(" | ")}`;
}

/** `main.ts demo`. */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      count: { type: "string", default: "3000" },
      rate: { type: "string", default: "300" },
      "outage-seconds": { type: "string", default: "5" },
      "state-dir": { type: "string", default: ".state/demo" },
    },
  });
  if (values.help) {
    say(USAGE);
    return 0;
  }
  const count = Number(values.count), rate = Number(values.rate);
  const outage = Number(values["outage-seconds"]);
  if (![count, rate, outage].every((n) => Number.isFinite(n) && n >= 0) || count < 1) {
    Deno.stderr.writeSync(
      encoder.encode(`--count, --rate and --outage-seconds must be numbers\n\n${USAGE}\n`),
    );
    return 2;
  }
  const dir = values["state-dir"];
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const abort = new AbortController();
  const onSignal = () => {
    say("\nStopping (Ctrl-C)...");
    abort.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const cleanup: (() => Promise<void>)[] = [];
  try {
    say(`plantgate demo — state in ${dir}`);
    const mosquitto = await startMosquitto({ dir: `${dir}/mosquitto` });
    cleanup.push(() => mosquitto.stop());
    const nats = await startNats({ dir: `${dir}/nats` });
    cleanup.push(() => nats.stop());
    say(
      `  Mosquitto ${mosquitto.url} (pid ${mosquitto.pid}), NATS JetStream ${nats.url} (pid ${nats.pid})`,
    );
    const pg = await startPostgres({ dir: `${dir}/postgres` });
    cleanup.push(() => pg.stop());
    const sql = await createDatabase(pg, "plantgate");
    cleanup.push(() => sql.end());
    say(`  PostgreSQL 127.0.0.1:${pg.port} (pid ${pg.pid})`);
    const defaults = centralDefaults();
    const central = new Central({
      ...defaults,
      nats: { servers: [nats.url], name: "plantgate-demo-central" },
      postgres: { ...defaults.postgres, port: pg.port, user: "postgres" },
      transfers: {
        targets: Object.fromEntries(PLANTS.map((p) => [p.plantId, p.erp])),
        timeoutSeconds: 120,
      },
      outbox: { ...defaults.outbox, pollMs: 200 },
      mes: { ...defaults.mes, url: mosquitto.url },
      http: { listen: `127.0.0.1:${freePort()}` },
    }, silentLogger);
    await central.start();
    cleanup.push(() => central.stop());
    say(
      `  Central role: streams, orchestrator, outbox relay, MES lot feed (trace/lots/#); http :${
        central.httpAddress!.port
      }`,
    );
    const nc = await connectNats({ servers: [nats.url], name: "plantgate-demo" });
    cleanup.push(() => nc.close());
    const runs: PlantRun[] = [];
    // What each simulated ERP posted, for its stock report (reconciliation).
    const ledgers = new Map<string, LotOperation[]>(PLANTS.map((p) => [p.plantId, []]));
    for (const plant of PLANTS) {
      const edge = await startEdgeProcess({
        dir: `${dir}/edge-${plant.plantId}`,
        ...plant,
        mqttUrl: mosquitto.url,
        natsUrl: nats.url,
      });
      cleanup.push(() => edge.stop());
      runs.push({ plantId: plant.plantId, erp: plant.erp, edge, sent: 0, planned: count });
      say(
        `  Edge plant ${plant.plantId} (${plant.erp}, ${plant.timeZone}) pid ${edge.pid}, http :${edge.httpPort}`,
      );
      const erp = await answerCommands({
        url: mosquitto.url,
        plugin: BUILTIN_PLUGINS.get(plant.erp)!,
        context: { plantId: plant.plantId, system: plant.erp, timeZone: plant.timeZone },
        stock: () => [
          ...stockOf(ledgers.get(plant.plantId)!),
          ...(plant.plantId === UNPOSTED.plantId ? [UNPOSTED.line] : []),
        ],
        log: silentLogger,
      });
      cleanup.push(() => erp.close());
    }
    const plans = PLANTS.map((p, i) =>
      planTraffic({
        plugin: BUILTIN_PLUGINS.get(p.erp)!,
        context: { plantId: p.plantId, system: p.erp, timeZone: p.timeZone },
        count,
        seed: i + 1,
        firstNumber: 1 + i * 10_000_000,
      })
    );
    plans.forEach((plan, i) => {
      const ledger = ledgers.get(PLANTS[i].plantId)!;
      for (const m of plan) if (m.kind === "document") ledger.push(m.op!);
    });
    say(`\nSimulating ${count} native messages per plant at ${rate}/s...`);
    const publishing = Promise.all(plans.map((plan, i) =>
      publishTraffic(plan, {
        url: mosquitto.url,
        rate,
        signal: abort.signal,
        onProgress: (sent) => runs[i].sent = sent,
      })
    ));
    let natsUp = true;
    const outageAt = (count / Math.max(rate, 1)) * 0.3 * 1000;
    const outageTimer = setTimeout(async () => {
      say(`\n>>> Cutting the NATS link for ${outage} s: edges keep accepting and buffer on disk\n`);
      natsUp = false;
      await nats.stop();
      setTimeout(async () => {
        await nats.start();
        natsUp = true;
        say("\n>>> NATS is back: edges drain their backlog in order\n");
      }, outage * 1000);
    }, outageAt);
    cleanup.push(() => Promise.resolve(clearTimeout(outageTimer)));
    const ticker = setInterval(async () => say(await progressLine(runs, natsUp)), 1000);
    cleanup.push(() => Promise.resolve(clearInterval(ticker)));
    await publishing;
    while (!abort.signal.aborted) {
      const healths = await Promise.all(runs.map((r) => r.edge.health().catch(() => undefined)));
      if (natsUp && healths.every((h) => h && h.backlog === 0 && h.deadLettersUnforwarded === 0)) {
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await caughtUp(central, nc, abort.signal);
    const transfers = await shipBetweenPlants(sql, mosquitto.url);
    say(`\n>>> Shipping ${transfers.length} lots between plants: transfer sagas start\n`);
    while (!abort.signal.aborted) {
      const sagas = await countSagas(sql);
      if (sagas.completed + sagas.compensated + sagas.compensation_failed >= transfers.length) {
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await caughtUp(central, nc, abort.signal);
    for (const t of transfers) {
      ledgers.get(t.from.plantId)!.push(t.ship);
      ledgers.get(t.to.plantId)!.push({
        ...t.ship,
        kind: "receive",
        supplier: "",
        purchaseOrder: "",
      });
    }
    const reconciling = await requestReconciliation(sql);
    say(`>>> Reconciliation: asking ${reconciling.length} ERPs for their lots\n`);
    while (!abort.signal.aborted) {
      if ((await latestRuns(sql)).every((r) => r.state !== "requested")) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await caughtUp(central, nc, abort.signal);
    clearInterval(ticker);
    if (abort.signal.aborted) return 130;
    await summary(runs, plans.map((p) => p.length), nc);
    await centralSummary(central, sql, transfers);
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

async function summary(
  runs: PlantRun[],
  sent: number[],
  nc: Awaited<ReturnType<typeof connectNats>>,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const lots = await jsm.streams.info("LOT_EVENTS", { subjects_filter: ">" });
  const dlq = await jsm.streams.info("DEAD_LETTERS", { subjects_filter: ">" });
  say("\nSummary");
  say("  plant  erp       sent   stream events   dead letters   duplicates absorbed");
  for (const [i, r] of runs.entries()) {
    const m = await r.edge.metrics();
    const events = lots.state.subjects?.[`lots.events.${r.plantId}.${r.erp}`] ?? 0;
    const dead = dlq.state.subjects?.[`dlq.edge.${r.plantId}`] ?? 0;
    const dups = metricValue(m, "plantgate_edge_duplicates_total");
    say(
      `  ${r.plantId.padEnd(6)} ${r.erp.padEnd(9)} ${String(sent[i]).padStart(5)}   ${
        String(events).padStart(13)
      }   ${String(dead).padStart(12)}   ${String(dups).padStart(19)}`,
    );
  }
  say(`  LOT_EVENTS holds ${lots.state.messages} events; DEAD_LETTERS ${dlq.state.messages}.`);
  say(
    "  Every event was fsync'd at the edge before the broker got its PUBACK, and survived the outage.",
  );
}

/** Waits until the orchestrator has handled every event in LOT_EVENTS. */
async function caughtUp(
  central: Central,
  nc: Awaited<ReturnType<typeof connectNats>>,
  signal: AbortSignal,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const m = central.metrics;
  while (!signal.aborted) {
    const stored = (await jsm.streams.info("LOT_EVENTS")).state.messages;
    const handled = m.applied.total() + m.duplicates.total() + m.deadLettered.total();
    if (handled >= stored) return;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A lot one plant's ERP ships to another. */
interface Transfer {
  from: (typeof PLANTS)[number];
  to: (typeof PLANTS)[number];
  lot: string;
  ship: ShipOperation;
}

/**
 * Each plant's ERP ships two lots to the next plant (A -> B -> C -> A), posted as native stock
 * transfers: lots with the deepest genealogy at the centre, so the trace has something to show.
 */
async function shipBetweenPlants(sql: Sql, url: string): Promise<Transfer[]> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId: "plantgate-demo-ship",
  });
  const shipped: Transfer[] = [];
  try {
    for (const [i, plant] of PLANTS.entries()) {
      const to = PLANTS[(i + 1) % PLANTS.length];
      const lots = await sql`
        SELECT s.lot_id, s.material, s.quantity, s.uom,
          (SELECT count(*) FROM genealogy_edges e JOIN genealogy_edges g
             ON g.child_plant = e.parent_plant AND g.child_system = e.parent_system
               AND g.child_lot = e.parent_lot
           WHERE e.child_plant = s.plant_id AND e.child_system = s.source_system
             AND e.child_lot = s.lot_id) AS depth2
        FROM system_lots s
        WHERE s.plant_id = ${plant.plantId} AND NOT s.placeholder AND s.quantity > 0
        ORDER BY depth2 DESC, s.lot_id LIMIT 2`;
      for (const [k, lot] of lots.entries()) {
        const ship: ShipOperation = {
          kind: "ship",
          docNo: 9_000_000 + i * 100 + k,
          at: new Date(),
          material: String(lot.material),
          uom: String(lot.uom),
          lot: String(lot.lot_id),
          quantity: Number(lot.quantity),
          shipment: `${8_000_000 + i * 100 + k}`,
          toPlant: to.plantId,
        };
        const plugin = BUILTIN_PLUGINS.get(plant.erp)!;
        const context = { plantId: plant.plantId, system: plant.erp, timeZone: plant.timeZone };
        await client.publishAsync(
          `plant/${plant.plantId}/erp/${plant.erp}/lot/events`,
          JSON.stringify(plugin.simulator!.render(ship, context)),
          { qos: 1 },
        );
        shipped.push({ from: plant, to, lot: ship.lot, ship });
      }
    }
  } finally {
    await client.endAsync();
  }
  return shipped;
}

async function centralSummary(
  central: Central,
  sql: Sql,
  transfers: Transfer[],
): Promise<void> {
  const m = central.metrics;
  const sagas = await countSagas(sql);
  const [lots] = await sql`SELECT count(DISTINCT canonical_lot_id) AS n FROM system_lots`;
  const [edges] = await sql`SELECT count(*) AS n FROM genealogy_edges`;
  say("\nCentral");
  say(
    `  applied ${m.applied.total()} events (${m.duplicates.total()} duplicates absorbed, ${m.deadLettered.total()} dead letters); ${lots.n} canonical lots, ${edges.n} genealogy edges`,
  );
  say(
    `  transfers: ${sagas.completed} completed, ${sagas.compensated} compensated, ${sagas.commanded} open; ${m.commandsPublished.total()} commands sent, ${m.lotsPublished.total()} retained lot states published`,
  );
  for (const run of await latestRuns(sql)) {
    const kinds = Map.groupBy(run.drift, (d) => d.kind);
    const detail = [...kinds].map(([kind, list]) => `${list.length} ${kind}`).join(", ");
    say(
      `  reconciliation ${run.plantId}/${run.system}: ${run.state}, ${run.receivedLines} lots reported, ${
        run.drift.length === 0 ? "no drift" : `drift: ${detail}`
      }`,
    );
    for (const d of run.drift.slice(0, 3)) {
      say(
        `    ${d.kind} ${d.lotId} (erp ${d.erp?.quantity ?? "-"}, centre ${
          d.centre?.quantity ?? "-"
        })`,
      );
    }
  }
  const first = transfers[0];
  if (!first) return;
  const canonical = await resolveLot(sql, `${first.to.plantId}:${first.to.erp}:${first.lot}`);
  if (!canonical) return;
  say(
    `\nGenealogy of lot ${first.lot}, received at plant ${first.to.plantId} (${first.to.erp}) from plant ${first.from.plantId} (${first.from.erp}), canonical ${canonical}:`,
  );
  const steps = await traceLot(sql, canonical, { direction: "back", depth: 4 });
  for (const step of steps.slice(0, 20)) {
    const lot = (l: typeof step.from) => `${l.plantId}/${l.system} ${l.lotId}`;
    const amount = step.quantity === null ? "" : ` ${step.quantity} ${step.uom ?? ""}`;
    say(
      `  ${"  ".repeat(step.depth - 1)}<- ${step.kind}${amount} from ${lot(step.from)} (into ${
        lot(step.to)
      })`,
    );
  }
  if (steps.length > 20) say(`  ... ${steps.length - 20} more steps (main.ts trace)`);
}
