/**
 * Acceptance (central role, against private NATS and PostgreSQL): events from JetStream are
 * applied exactly once, invalid ones are dead-lettered with their reason, and an orchestrator
 * SIGKILLed again and again during 20,000 events leaves the same state as a clean run.
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { stringify } from "yaml";
import type { CanonicalLotEvent } from "../gateway/core/canonical_event.ts";
import { type CentralConfig, centralDefaults } from "../gateway/core/central_config.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import { Central } from "../gateway/central/central.ts";
import { applyLotEvent } from "../gateway/central/lots.ts";
import { migrate } from "../gateway/central/schema.ts";
import { connectNats, ensureStreams, lotEventsSubject } from "../gateway/io/jetstream.ts";
import type { Sql } from "../gateway/io/postgres.ts";
import { simulatedLotEvents } from "../gateway/sim/lot_history.ts";
import {
  ChildSlot,
  createDatabase,
  freePort,
  type PrivateServer,
  startNats,
  startPostgres,
} from "../gateway/sim/servers.ts";
import { integrationTest, waitFor } from "./_integration.ts";
import { readStream } from "./_stream.ts";

const until = <T>(check: () => Promise<T | undefined | false>, what: string, ms = 120_000) =>
  waitFor(check, what, ms);

function centralConfig(nats: PrivateServer, pg: PrivateServer, database: string): CentralConfig {
  const defaults = centralDefaults();
  return {
    ...defaults,
    nats: { servers: [nats.url], name: "test-central" },
    postgres: { host: "127.0.0.1", port: pg.port, database, user: "postgres", maxConnections: 8 },
    orchestrator: {
      ...defaults.orchestrator,
      concurrency: 4,
      batchSize: 32,
      maxDeliver: 3,
      ackWaitSeconds: 5,
      backoff: { initialMs: 50, maxMs: 200 },
      sourcePriority: { sap: 3, dynamics: 2, infor: 1 },
    },
    http: { listen: `127.0.0.1:${freePort()}` },
    log: { level: "warn" },
  };
}

async function publishEvents(nc: NatsConnection, events: CanonicalLotEvent[]): Promise<void> {
  const js = jetstream(nc);
  const encoder = new TextEncoder();
  for (let i = 0; i < events.length; i += 500) {
    await Promise.all(
      events.slice(i, i + 500).map((e) =>
        js.publish(lotEventsSubject(e.plantId, e.sourceSystem), encoder.encode(JSON.stringify(e)), {
          msgID: e.eventId,
        })
      ),
    );
  }
}

const count = async (sql: Sql, table: string) =>
  Number((await sql.unsafe(`SELECT count(*) FROM ${table}`))[0].count);

/** Everything the orchestrator derives, in a comparable form. */
async function state(sql: Sql): Promise<string> {
  return JSON.stringify({
    audit: await sql`SELECT event_id FROM audit_events ORDER BY event_id`,
    lots: await sql`SELECT * FROM canonical_lots ORDER BY canonical_lot_id`,
    mappings: await sql`SELECT * FROM lot_mappings ORDER BY plant_id, source_system, system_lot_id`,
    edges: await sql`SELECT * FROM genealogy_edges ORDER BY parent_plant, parent_system,
      parent_lot, child_plant, child_system, child_lot, kind`,
  });
}

integrationTest(
  "events from JetStream are applied once; invalid ones are dead-lettered with the reason",
  async () => {
    await using nats = await startNats();
    await using pg = await startPostgres();
    const events = simulatedLotEvents(100, 5);
    const sql = await createDatabase(pg, "central");
    const central = new Central(centralConfig(nats, pg, "central"), silentLogger);
    await central.start();
    const nc = await connectNats({ servers: [nats.url], name: "test" });
    try {
      await publishEvents(nc, events);
      // A re-send with another message id gets past JetStream's dedupe: the database absorbs it.
      const js = jetstream(nc);
      const encoder = new TextEncoder();
      await js.publish(lotEventsSubject("A", "sap"), encoder.encode(JSON.stringify(events[0])), {
        msgID: "resend-1",
      });
      await js.publish(lotEventsSubject("A", "sap"), encoder.encode("{not json"), {
        msgID: "bad-1",
      });
      const { eventType: _, ...noType } = events[1];
      await js.publish(lotEventsSubject("B", "dynamics"), encoder.encode(JSON.stringify(noType)), {
        msgID: "bad-2",
      });
      await until(
        async () =>
          (await count(sql, "audit_events")) === events.length &&
          central.metrics.deadLettered.total() === 2,
        "all applied, 2 dead letters",
      );
      await until(
        () => Promise.resolve(central.metrics.duplicates.total() === 1),
        "the re-send absorbed",
      );
      const letters = await readStream(nc, "DEAD_LETTERS");
      const byCode = Object.fromEntries(letters.map((l) => [l.subject, l]));
      assert.deepEqual(letters.map((l) => l.subject).sort(), ["dlq.central.A", "dlq.central.B"]);
      assert.equal(new TextDecoder().decode(byCode["dlq.central.A"].data), "{not json");
      const jsm = await jetstreamManager(nc);
      const stored = (await jsm.streams.getMessage("DEAD_LETTERS", {
        seq: byCode["dlq.central.B"].seq,
      }))!;
      assert.equal(stored.header.get("Plantgate-Code"), "event_invalid");
      assert.equal(stored.header.get("Plantgate-Stage"), "validate");
      assert.match(stored.header.get("Plantgate-Message"), /eventType/);
      const health = await (await fetch(
        `http://${central.httpAddress!.hostname}:${central.httpAddress!.port}/readyz`,
      )).json();
      assert.equal(health.ready, true);
      const lot = events.find((e) => e.eventType === "LOT_SPLIT")!;
      const trace = await fetch(
        `http://127.0.0.1:${central.httpAddress!.port}/lots/${lot.plantId}:${lot.sourceSystem}:${
          encodeURIComponent(lot.lotId)
        }/trace?direction=back&depth=1`,
      );
      const body = await trace.json();
      assert.equal(trace.status, 200);
      assert.ok(body.steps.some((s: { kind: string }) => s.kind === "split"), JSON.stringify(body));
    } finally {
      await nc.close();
      await central.stop();
      await sql.end();
    }
  },
);

integrationTest(
  "an orchestrator SIGKILLed repeatedly during 20,000 events ends where a clean run does",
  async () => {
    await using nats = await startNats();
    await using pg = await startPostgres();
    const events = simulatedLotEvents(5_700, 11);
    assert.ok(events.length >= 20_000, `${events.length} events`);
    // The clean run: every event applied once, in order, in process.
    const clean = await createDatabase(pg, "clean");
    await migrate(clean);
    for (let i = 0; i < events.length; i += 16) {
      await Promise.all(
        events.slice(i, i + 16).map((e) =>
          applyLotEvent(clean, e, { sourcePriority: { sap: 3, dynamics: 2, infor: 1 } })
        ),
      );
    }
    const expected = await state(clean);
    await clean.end();

    const sql = await createDatabase(pg, "crashy");
    const dir = await Deno.makeTempDir({ prefix: "plantgate-central-" });
    const configPath = `${dir}/central.yaml`;
    await Deno.writeTextFile(configPath, stringify(centralConfig(nats, pg, "crashy")));
    const nc = await connectNats({ servers: [nats.url], name: "test" });
    await ensureStreams(await jetstreamManager(nc));
    const slot = new ChildSlot();
    const start = () =>
      slot.spawn(
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../main.ts", import.meta.url).pathname,
            "central",
            "-c",
            configPath,
          ],
          stdout: "null",
          stderr: "null",
        }),
      );
    try {
      start();
      const publishing = publishEvents(nc, events);
      for (let kill = 0; kill < 4; kill++) {
        const before = await count(sql, "audit_events").catch(() => 0);
        await until(
          async () => (await count(sql, "audit_events").catch(() => 0)) > before + 1500,
          "progress before a kill",
        );
        await slot.halt("SIGKILL");
        start();
      }
      await publishing;
      await until(
        async () => (await count(sql, "audit_events")) >= events.length,
        "every event applied",
        300_000,
      );
      await slot.halt("SIGTERM");
      assert.equal(
        await count(sql, "audit_events"),
        events.length,
        "each event audited exactly once",
      );
      assert.equal(
        await state(sql),
        expected,
        "the same lots, mappings and genealogy as a clean run",
      );
    } finally {
      await slot.halt("SIGKILL");
      await nc.close();
      await sql.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
