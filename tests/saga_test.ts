/**
 * The transfer saga end to end across two plants with different ERPs: SAP at plant A ships lots
 * to plant B (Dynamics); the centre commands the receipt; B's edge delivers it to the plant
 * broker; the simulated Dynamics posts it (or rejects it, or never answers); the answer comes
 * back through B's edge; rejected and timed-out transfers send SAP a compensation, which A's
 * edge delivers and the simulated SAP posts. Then a reconciliation asks Dynamics for its lots and
 * finds the one the centre never heard of. Real Mosquitto, NATS, PostgreSQL and edge processes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import mqtt from "mqtt";
import { BUILTIN_PLUGINS } from "../plugins/mod.ts";
import { Central } from "../gateway/central/central.ts";
import { requestReconciliation, type RunView } from "../gateway/central/reconciliation.ts";
import type { SagaView } from "../gateway/central/saga.ts";
import { type CentralConfig, centralDefaults } from "../gateway/core/central_config.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import type { ShipOperation, StockLine } from "../gateway/core/simulation.ts";
import { connectNats } from "../gateway/io/jetstream.ts";
import { metricValue, startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { answerCommands } from "../gateway/sim/erp_answers.ts";
import {
  createDatabase,
  freePort,
  startMosquitto,
  startNats,
  startPostgres,
} from "../gateway/sim/servers.ts";
import { integrationTest, waitFor } from "./_integration.ts";
import { readStream } from "./_stream.ts";

const until = <T>(check: () => Promise<T | undefined | false>, what: string, ms = 90_000) =>
  waitFor(check, what, ms);

const A = { plantId: "A", system: "sap", timeZone: "Europe/Berlin" };
const B = { plantId: "B", system: "dynamics", timeZone: "America/Chicago" };

integrationTest(
  "transfer saga: completes across SAP and Dynamics; rejected and timed-out transfers compensate; reconciliation finds drift",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "plantgate-saga-" });
    await using mosquitto = await startMosquitto({ dir: `${dir}/mosquitto` });
    await using nats = await startNats({ dir: `${dir}/nats` });
    await using pg = await startPostgres();
    const sql = await createDatabase(pg, "central");
    const defaults = centralDefaults();
    const config: CentralConfig = {
      ...defaults,
      nats: { servers: [nats.url], name: "test-central" },
      postgres: { ...defaults.postgres, port: pg.port, database: "central", user: "postgres" },
      transfers: { targets: { A: "sap", B: "dynamics" }, timeoutSeconds: 4 },
      outbox: { pollMs: 100, batchSize: 100 },
      mes: {
        ...defaults.mes,
        url: mosquitto.url,
        lotFeed: { ...defaults.mes.lotFeed, expirySeconds: 600, pollMs: 100 },
      },
      http: { listen: `127.0.0.1:${freePort()}` },
      log: { level: "error" },
    };
    const central = new Central(config, silentLogger);
    await central.start();
    const api = `http://127.0.0.1:${central.httpAddress!.port}`;
    const get = async (path: string) => {
      const response = await fetch(api + path);
      return { status: response.status, body: await response.json() };
    };
    const edges = await Promise.all([A, B].map((p) =>
      startEdgeProcess({
        dir: `${dir}/edge-${p.plantId}`,
        plantId: p.plantId,
        timeZone: p.timeZone,
        erp: p.system,
        mqttUrl: mosquitto.url,
        natsUrl: nats.url,
      })
    ));
    // What Dynamics at B holds, for its stock report (set once the transfers are in).
    let stockB: StockLine[] = [];
    const dynamics = await answerCommands({
      url: mosquitto.url,
      plugin: BUILTIN_PLUGINS.get("dynamics")!,
      context: B,
      stock: () => stockB,
      decide: (c) =>
        c.lotId === "L-REJ"
          ? { accept: false, reason: "Batch number L-REJ already exists" }
          : c.lotId === "L-SILENT"
          ? "ignore"
          : { accept: true },
      log: silentLogger,
    });
    const sap = await answerCommands({
      url: mosquitto.url,
      plugin: BUILTIN_PLUGINS.get("sap")!,
      context: A,
      log: silentLogger,
    });
    const erp = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
    const nc = await connectNats({ servers: [nats.url], name: "test" });
    try {
      // SAP at plant A posts three stock transfers to plant B.
      const sapPlugin = BUILTIN_PLUGINS.get("sap")!;
      const ships: ShipOperation[] = ["L-OK", "L-REJ", "L-SILENT"].map((lot, i) => ({
        kind: "ship",
        docNo: 500 + i,
        at: new Date("2026-11-30T08:00:00Z"),
        material: "100200",
        uom: "KGM",
        lot,
        quantity: 40 + i,
        shipment: `45000000${i + 1}`,
        toPlant: "B",
      }));
      for (const op of ships) {
        await erp.publishAsync(
          "plant/A/erp/sap/lot/events",
          JSON.stringify(sapPlugin.simulator!.render(op, A)),
          { qos: 1 },
        );
      }
      const saga = (reference: string, done: (s: SagaView) => boolean) =>
        until(async () => {
          const { status, body } = await get(`/sagas/${reference}`);
          return status === 200 && done(body.sagas[0]) ? body.sagas[0] as SagaView : undefined;
        }, `saga ${reference}`);

      const ok = await saga("450000001", (s) => s.state === "completed");
      assert.equal(ok.outcome, "received");
      assert.deepEqual(ok.target, { plantId: "B", system: "dynamics" });
      // The lot received at B is the canonical lot shipped from A.
      const shipped = await get("/lots/A:sap:L-OK");
      const received = await get("/lots/B:dynamics:L-OK");
      assert.equal(received.body.canonicalLotId, shipped.body.canonicalLotId);
      assert.deepEqual(
        received.body.systemLots.map((l: { plantId: string }) => l.plantId).sort(),
        ["A", "B"],
      );

      const rejected = await saga("450000002", (s) => s.state === "compensated");
      assert.equal(rejected.outcome, "rejected");
      assert.match(rejected.reason ?? "", /already exists/);
      const silent = await saga("450000003", (s) => s.state === "compensated");
      assert.equal(silent.outcome, "timed_out");
      assert.equal(dynamics.counts.ignored, 1);

      // SAP posted both compensations; they came back to the centre as adjustments at A.
      for (const lot of ["L-REJ", "L-SILENT"]) {
        await until(async () => {
          const [row] = await sql`SELECT count(*) AS n FROM audit_events
            WHERE plant_id = 'A' AND lot_id = ${lot} AND event_type = 'LOT_ADJUSTED'`;
          return Number(row.n) === 1 ? true : undefined;
        }, `compensation of ${lot} posted by SAP`);
      }
      await until(
        () => Promise.resolve(sap.counts.accepted === 2 ? true : undefined),
        "SAP counted both postings",
      );
      const listed = await get("/sagas?state=compensated");
      assert.equal(listed.body.sagas.length, 2);
      assert.equal((await get("/sagas?state=nonsense")).status, 400);

      const [metricsA, metricsB] = await Promise.all(edges.map((e) => e.metrics()));
      assert.equal(metricValue(metricsA, "plantgate_edge_commands_delivered_total"), 2);
      assert.equal(metricValue(metricsB, "plantgate_edge_commands_delivered_total"), 3);

      // The MES sees the transferred lot retained, with both plants' lots and an expiry.
      const mes = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
      const retained = new Promise<mqtt.IPublishPacket>((resolve) =>
        mes.on("message", (_t, _p, packet) => resolve(packet))
      );
      await mes.subscribeAsync(`trace/lots/${shipped.body.canonicalLotId}`, { qos: 1 });
      const packet = await retained;
      await mes.endAsync();
      assert.equal(packet.retain, true);
      const expiry = packet.properties?.messageExpiryInterval ?? 0;
      assert.ok(expiry > 0 && expiry <= 600, `expiry ${expiry}`);
      await until(async () => {
        const [row] = await sql`SELECT count(*) AS n FROM lot_feed`;
        return Number(row.n) === 0 ? true : undefined;
      }, "every lot change published to the MES");
      assert.ok(central.metrics.lotsPublished.total() > 0);
      assert.equal(central.metrics.errors.total(), 0, central.metrics.registry.render());
      const state = JSON.parse(packet.payload.toString());
      assert.deepEqual(
        state.systemLots.map((l: { plantId: string }) => l.plantId).sort(),
        ["A", "B"],
      );

      // A command no source at B can encode is dead-lettered by B's edge, not lost or retried.
      await jetstream(nc).publish(
        "lots.commands.B.nosuch",
        new TextEncoder().encode(JSON.stringify({
          commandId: crypto.randomUUID(),
          commandType: "RECEIVE_LOT",
          plantId: "B",
          targetSystem: "nosuch",
          lotId: "X",
          material: "M",
          quantity: 1,
          uom: "KGM",
          issuedAt: new Date().toISOString(),
        })),
      );
      const letter = await until(async () => {
        const letters = await readStream(nc, "DEAD_LETTERS");
        return letters.find((l) => l.subject === "dlq.edge.B");
      }, "the undeliverable command dead-lettered");
      assert.ok(letter);

      // Reconciliation: Dynamics reports the received lot and one the centre never heard of.
      const material = String(received.body.material);
      stockB = [
        { lotId: "L-OK", material, quantity: 40, uom: "KGM" },
        { lotId: "B-UNSENT", material, quantity: 5, uom: "KGM" },
      ];
      const [runId] = await requestReconciliation(sql, { plantId: "B" });
      const run = await until(async () => {
        const { body } = await get("/reconciliation?plant=B");
        return body.runs[0]?.state === "done" ? body.runs[0] as RunView : undefined;
      }, "the reconciliation of plant B");
      assert.equal(run.runId, runId);
      assert.deepEqual(run.drift.map((d) => [d.lotId, d.kind]), [[
        "B-UNSENT",
        "unknown_to_centre",
      ]]);
      await until(async () => {
        const text = await (await fetch(`${api}/metrics`)).text();
        return text.includes('plantgate_central_drift_lots{plant="B"} 1') ? true : undefined;
      }, "the drift metric");
    } finally {
      await erp.endAsync();
      await nc.close();
      await dynamics.close();
      await sap.close();
      for (const edge of edges) await edge.stop();
      await central.stop();
      await sql.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
