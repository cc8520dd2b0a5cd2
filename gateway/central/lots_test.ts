import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { connectPostgres, type Sql } from "../io/postgres.ts";
import { createDatabase, type PrivateServer, startPostgres } from "../sim/servers.ts";
import { integrationTest } from "../../tests/_integration.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { applyLotEvent, applyLotEvents, ownCanonicalId, verifyAuditChain } from "./lots.ts";
import { migrate, MIGRATIONS } from "./schema.ts";
import { lotView, resolveLot, traceCsv, traceLot, type TraceStep } from "./trace.ts";

let databases = 0;

/** A fresh, migrated database on `server`. */
async function freshDatabase(server: PrivateServer, max = 4): Promise<Sql> {
  const sql = await createDatabase(server, `t${++databases}`, max);
  await migrate(sql);
  return sql;
}

const where = (server: PrivateServer) => ({
  host: "127.0.0.1",
  port: server.port,
  user: "postgres",
});

let n = 0;
const event = (overrides: Partial<CanonicalLotEvent>) => sampleEvent(++n, overrides);

integrationTest("migrations apply once even when three replicas start together", async () => {
  await using pg = await startPostgres();
  await (await createDatabase(pg, "m", 1)).end();
  const replicas = [1, 2, 3].map(() => connectPostgres({ ...where(pg), database: "m", max: 1 }));
  const applied = await Promise.all(replicas.map((sql) => migrate(sql)));
  assert.deepEqual(
    applied.flat(),
    MIGRATIONS.map((m) => m.version),
    "each version applied by exactly one replica",
  );
  assert.deepEqual(await migrate(replicas[0]), [], "nothing left on the next start");
  await Promise.all(replicas.map((sql) => sql.end()));
});

integrationTest("the audit table refuses UPDATE, DELETE and TRUNCATE", async () => {
  await using pg = await startPostgres();
  const sql = await freshDatabase(pg);
  await applyLotEvent(sql, event({}));
  for (
    const statement of [
      "UPDATE audit_events SET lot_id = 'X'",
      "DELETE FROM audit_events",
      "TRUNCATE audit_events",
    ]
  ) {
    await assert.rejects(sql.unsafe(statement), /append-only/, statement);
  }
  assert.equal(Number((await sql`SELECT count(*) FROM audit_events`)[0].count), 1);
  await sql.end();
});

integrationTest("the per-plant hash chain verifies, and names the first tampered row", async () => {
  await using pg = await startPostgres();
  const sql = await freshDatabase(pg);
  for (let i = 0; i < 5; i++) await applyLotEvent(sql, event({ plantId: "A" }));
  await applyLotEvent(sql, event({ plantId: "B" }));
  assert.deepEqual(await verifyAuditChain(sql, "A"), { plantId: "A", rows: 5 });
  assert.deepEqual(await verifyAuditChain(sql, "B"), { plantId: "B", rows: 1 });
  // A superuser can switch the trigger off: the chain still shows the edit.
  await sql.unsafe(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
    UPDATE audit_events SET event = jsonb_set(event, '{quantity}', '999') WHERE plant_id = 'A' AND plant_seq = 3;
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;`);
  assert.deepEqual(await verifyAuditChain(sql, "A"), { plantId: "A", rows: 5, brokenAt: 3 });
  await sql.end();
});

integrationTest("a re-delivered event is a duplicate and changes nothing", async () => {
  await using pg = await startPostgres();
  const sql = await freshDatabase(pg);
  const e = event({ lotId: "L1" });
  assert.equal(await applyLotEvent(sql, e), "applied");
  assert.equal(await applyLotEvent(sql, { ...e, quantity: 1 }), "duplicate");
  const [row] = await sql`SELECT quantity FROM system_lots WHERE lot_id = 'L1'`;
  assert.equal(Number(row.quantity), e.quantity);
  assert.equal(Number((await sql`SELECT count(*) FROM audit_events`)[0].count), 1);
  await sql.end();
});

integrationTest(
  "a child before its parent creates a placeholder that the parent completes",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    await applyLotEvent(
      sql,
      event({
        eventType: "LOT_SPLIT",
        lotId: "C1",
        parents: [{ lotId: "P1", quantity: 5, uom: "KGM" }],
      }),
    );
    const placeholder = async () =>
      (await sql`SELECT placeholder FROM system_lots WHERE lot_id = 'P1'`)[0].placeholder;
    assert.equal(await placeholder(), true);
    await applyLotEvent(sql, event({ lotId: "P1" }));
    assert.equal(await placeholder(), false);
    const [edge] = await sql`SELECT parent_lot, child_lot, kind, quantity FROM genealogy_edges`;
    assert.deepEqual({ ...edge, quantity: Number(edge.quantity) }, {
      parent_lot: "P1",
      child_lot: "C1",
      kind: "split",
      quantity: 5,
    });
    await sql.end();
  },
);

integrationTest(
  "a lot received at B before its shipment from A is known becomes A's canonical lot",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    const a = { plantId: "A", system: "sap", lotId: "L-A" };
    const b = { plantId: "B", system: "dynamics", lotId: "L-B" };
    const canonicalOf = async (lot: typeof a) =>
      (await sql`SELECT canonical_lot_id FROM lot_mappings WHERE plant_id = ${lot.plantId}
      AND source_system = ${lot.system} AND system_lot_id = ${lot.lotId}`)[0].canonical_lot_id;
    await applyLotEvent(
      sql,
      event({
        eventType: "LOT_RECEIVED",
        plantId: "B",
        sourceSystem: "dynamics",
        lotId: "L-B",
        correlationId: "SHIP-1",
      }),
    );
    assert.equal(await canonicalOf(b), ownCanonicalId(b));
    await applyLotEvent(
      sql,
      event({ eventType: "LOT_SHIPPED", plantId: "A", lotId: "L-A", correlationId: "SHIP-1" }),
    );
    assert.equal(await canonicalOf(b), ownCanonicalId(a));
    assert.equal(await canonicalOf(a), ownCanonicalId(a));
    await sql.end();
  },
);

/** A cross-plant history: production, splits, merges, consumption, a shipment A -> B, updates. */
function history(): CanonicalLotEvent[] {
  const events: CanonicalLotEvent[] = [];
  let k = 10_000;
  const add = (o: Partial<CanonicalLotEvent>) => events.push(sampleEvent(++k, o));
  for (let i = 0; i < 6; i++) add({ lotId: `RAW-${i}`, quantity: 100 + i, version: 1 });
  add({
    eventType: "LOT_SPLIT",
    lotId: "RAW-0a",
    quantity: 40,
    parents: [{ lotId: "RAW-0", quantity: 40, uom: "KGM" }],
  });
  add({
    eventType: "LOT_SPLIT",
    lotId: "RAW-0b",
    quantity: 60,
    parents: [{ lotId: "RAW-0", quantity: 60, uom: "KGM" }],
  });
  add({
    eventType: "LOT_MERGED",
    lotId: "MIX-1",
    quantity: 203,
    parents: [{ lotId: "RAW-1", quantity: 101 }, { lotId: "RAW-2", quantity: 102 }],
  });
  add({ eventType: "LOT_CONSUMED", lotId: "MIX-1", quantity: 203, correlationId: "ORD-1" });
  add({ eventType: "LOT_CONSUMED", lotId: "RAW-0a", quantity: 40, correlationId: "ORD-1" });
  add({ eventType: "LOT_CREATED", lotId: "FG-1", quantity: 240, correlationId: "ORD-1" });
  add({
    eventType: "LOT_SHIPPED",
    lotId: "FG-1",
    quantity: 240,
    correlationId: "SHIP-9",
    version: 2,
  });
  add({
    eventType: "LOT_RECEIVED",
    plantId: "B",
    sourceSystem: "dynamics",
    lotId: "B-7",
    quantity: 240,
    correlationId: "SHIP-9",
  });
  add({
    eventType: "LOT_CONSUMED",
    plantId: "B",
    sourceSystem: "dynamics",
    lotId: "B-7",
    quantity: 240,
    correlationId: "PO-B",
  });
  add({
    eventType: "LOT_CREATED",
    plantId: "B",
    sourceSystem: "dynamics",
    lotId: "B-FG",
    quantity: 230,
    correlationId: "PO-B",
  });
  // Competing updates of one lot: the higher version wins, then the higher source priority.
  add({ eventType: "LOT_ADJUSTED", lotId: "RAW-3", quantity: 90, version: 3 });
  add({ eventType: "LOT_ADJUSTED", lotId: "RAW-3", quantity: 95, version: 2 });
  add({ eventType: "LOT_ADJUSTED", lotId: "RAW-4", quantity: 1, version: 5 });
  add({ eventType: "LOT_ADJUSTED", lotId: "RAW-4", quantity: 2, version: 5 });
  return events;
}

/** Seeded shuffle with duplicates mixed in. */
function deliveries(events: CanonicalLotEvent[], seed: number): CanonicalLotEvent[] {
  let s = seed;
  const random = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out = [...events, ...events.filter(() => random() < 0.3)];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function snapshot(sql: Sql): Promise<string> {
  const tables = {
    mappings: await sql`SELECT * FROM lot_mappings ORDER BY plant_id, source_system, system_lot_id`,
    lots: await sql`SELECT * FROM canonical_lots ORDER BY canonical_lot_id`,
    edges:
      await sql`SELECT * FROM genealogy_edges ORDER BY parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind`,
    audit: await sql`SELECT count(*) FROM audit_events`,
  };
  return JSON.stringify(tables);
}

integrationTest(
  "any order, any duplicates, 1 or 3 replicas: the same lots, mappings and genealogy",
  async () => {
    await using pg = await startPostgres();
    const events = history();
    let reference: string | undefined;
    for (let run = 0; run < 16; run++) {
      const replicas = run % 2 === 0 ? 1 : 3;
      const sql = await freshDatabase(pg, 3);
      const order = deliveries(events, 7 + run);
      // Replicas take deliveries from one queue, as they do from one durable consumer, one
      // event or a batch (duplicates inside a batch too) per transaction.
      let next = 0;
      const priority = { sourcePriority: { sap: 2, dynamics: 1 } };
      await Promise.all(
        Array.from({ length: replicas }, async (_, r) => {
          while (next < order.length) {
            const size = run < 2 ? 1 : 1 + ((next * 7 + r) % 9);
            const batch = order.slice(next, next + size);
            next += batch.length;
            if (batch.length === 1) await applyLotEvent(sql, batch[0], priority);
            else await applyLotEvents(sql, batch, priority);
          }
        }),
      );
      const state = await snapshot(sql);
      reference ??= state;
      assert.equal(state, reference, `run ${run} (${replicas} replica(s)) converged differently`);
      await sql.end();
    }
    const final = JSON.parse(reference!);
    const byLot = new Map(
      final.mappings.map((m: Record<string, string>) => [m.system_lot_id, m.canonical_lot_id]),
    );
    assert.equal(
      byLot.get("B-7"),
      byLot.get("FG-1"),
      "the shipped lot is one canonical lot at both plants",
    );
    assert.equal(final.audit[0].count, String(events.length), "every event audited exactly once");
    const raw3 = final.lots.find((l: Record<string, string>) => l.lot_id === "RAW-3");
    assert.equal(Number(raw3.quantity), 90, "the higher version wins");
    const edgeKinds = final.edges.map((e: Record<string, string>) =>
      `${e.parent_lot}>${e.child_lot}:${e.kind}`
    );
    for (
      const expected of [
        "RAW-0>RAW-0a:split",
        "RAW-1>MIX-1:merge",
        "MIX-1>FG-1:consume",
        "RAW-0a>FG-1:consume",
        "FG-1>B-7:transfer",
        "B-7>B-FG:consume",
      ]
    ) {
      assert.ok(edgeKinds.includes(expected), `edge ${expected} in ${edgeKinds.join(", ")}`);
    }
  },
);

integrationTest("trace walks a 5-level cross-plant genealogy back and forward", async () => {
  await using pg = await startPostgres();
  const sql = await freshDatabase(pg);
  const B = { plantId: "B", sourceSystem: "dynamics" };
  const chain: Partial<CanonicalLotEvent>[] = [
    { lotId: "R0" },
    { eventType: "LOT_SPLIT", lotId: "S1", parents: [{ lotId: "R0", quantity: 10 }] },
    { eventType: "LOT_MERGED", lotId: "M2", parents: [{ lotId: "S1" }, { lotId: "X" }] },
    { eventType: "LOT_CONSUMED", lotId: "M2", correlationId: "ORD-1" },
    { lotId: "F3", correlationId: "ORD-1" },
    { eventType: "LOT_SHIPPED", lotId: "F3", correlationId: "SHIP-1" },
    { ...B, eventType: "LOT_RECEIVED", lotId: "G4", correlationId: "SHIP-1" },
    { ...B, eventType: "LOT_CONSUMED", lotId: "G4", correlationId: "PO-B" },
    { ...B, lotId: "H5", correlationId: "PO-B" },
  ];
  // Applied newest first: the trace must not depend on arrival order either.
  for (const e of [...chain].reverse()) await applyLotEvent(sql, event(e));
  const h5 = (await resolveLot(sql, "B:dynamics:H5"))!;
  const path = (steps: TraceStep[]) => steps.map((s) => `${s.depth}:${s.from.lotId}>${s.to.lotId}`);
  assert.deepEqual(path(await traceLot(sql, h5, { direction: "back", depth: 5 })), [
    "1:G4>H5",
    "2:F3>G4",
    "3:M2>F3",
    "4:S1>M2",
    "4:X>M2",
    "5:R0>S1",
  ]);
  assert.deepEqual(path(await traceLot(sql, h5, { direction: "back", depth: 2 })), [
    "1:G4>H5",
    "2:F3>G4",
  ]);
  const r0 = (await resolveLot(sql, "A:sap:R0"))!;
  const forward = await traceLot(sql, r0, { direction: "forward", depth: 10 });
  assert.deepEqual(path(forward), ["1:R0>S1", "2:S1>M2", "3:M2>F3", "4:F3>G4", "5:G4>H5"]);
  assert.equal(forward[3].from.canonicalLotId, forward[3].to.canonicalLotId, "one lot, two plants");
  const csv = traceCsv(forward).split("\r\n");
  assert.equal(csv[0].split(",")[0], "depth");
  assert.equal(csv.length, 7, "header, five edges, final newline");
  const view = (await lotView(sql, forward[3].to.canonicalLotId))!;
  assert.deepEqual(view.systemLots.map((l) => `${l.plantId}:${l.lotId}`), ["A:F3", "B:G4"]);
  await sql.end();
});

/** Every table the application writes, every column, in a comparable form. */
async function tables(sql: Sql): Promise<Record<string, unknown[]>> {
  const rows = async (query: string) => [...await sql.unsafe(query)].map((r) => ({ ...r }));
  return {
    audit: await rows(`SELECT plant_id, plant_seq, event_id, event_type, source_system, lot_id,
      event_time, event::text, prev_hash, hash FROM audit_events ORDER BY plant_id, plant_seq`),
    heads: await rows("SELECT * FROM audit_chain_heads ORDER BY plant_id"),
    lots: await rows("SELECT * FROM system_lots ORDER BY plant_id, source_system, lot_id"),
    edges: await rows("SELECT * FROM genealogy_edges ORDER BY 1, 2, 3, 4, 5, 6, 7"),
    orders: await rows("SELECT * FROM order_lots ORDER BY 1, 2, 3, 4, 5"),
    shipments: await rows("SELECT * FROM shipment_lots ORDER BY 1, 2, 3, 4, 5"),
  };
}

/**
 * Applies `before` one event per transaction to two fresh databases, then `batches` as
 * batches to one and one event per transaction to the other: same outcomes, same tables.
 */
async function assertBatchesAsOneByOne(
  pg: PrivateServer,
  before: CanonicalLotEvent[],
  batches: CanonicalLotEvent[][],
): Promise<void> {
  const options = { sourcePriority: { sap: 2, dynamics: 1 } };
  const [batched, single] = [await freshDatabase(pg, 2), await freshDatabase(pg, 2)];
  for (const e of before) for (const sql of [batched, single]) await applyLotEvent(sql, e, options);
  const outcomes = { batched: [] as string[], single: [] as string[] };
  for (const batch of batches) {
    outcomes.batched.push(...await applyLotEvents(batched, batch, options));
    for (const e of batch) outcomes.single.push(await applyLotEvent(single, e, options));
  }
  assert.deepEqual(outcomes.batched, outcomes.single);
  assert.deepEqual(await tables(batched), await tables(single));
  for (const plant of ["A", "B", "C"]) {
    assert.equal((await verifyAuditChain(batched, plant)).brokenAt, undefined, `chain ${plant}`);
  }
  await Promise.all([batched.end(), single.end()]);
}

integrationTest(
  "a batch leaves exactly the tables that its events one per transaction leave",
  async () => {
    await using pg = await startPostgres();
    const B = { plantId: "B", sourceSystem: "dynamics" };
    const C = { plantId: "C", sourceSystem: "infor" };
    // Where several events meet in one row, ids set so that neither the first nor the last
    // of them is the one that wins one by one.
    const id = (k: number) => `00000000-0000-4000-8000-${String(k).padStart(12, "0")}`;
    const seen = event({ lotId: "OLD", version: 4 });
    const batch = [
      // One lot updated five times: the highest version wins, a tie goes to the larger id.
      event({ eventType: "LOT_ADJUSTED", lotId: "U", quantity: 1, version: 1 }),
      event({ eventType: "LOT_ADJUSTED", lotId: "U", quantity: 3, version: 3, eventId: id(2) }),
      event({ eventType: "LOT_ADJUSTED", lotId: "U", quantity: 4, version: 3, eventId: id(3) }),
      event({ eventType: "LOT_ADJUSTED", lotId: "U", quantity: 5, version: 3, eventId: id(1) }),
      event({ eventType: "LOT_ADJUSTED", lotId: "U", quantity: 2, version: 2 }),
      // Updates losing to and beating a lot applied before the batch.
      event({ eventType: "LOT_ADJUSTED", lotId: "OLD", quantity: 5, version: 3 }),
      event({ eventType: "LOT_ADJUSTED", lotId: "OLD", quantity: 6, version: 5 }),
      // Parents inside the batch, after and before their child; one parent twice in an event;
      // one edge given by three events; a parent never seen (a placeholder).
      event({ eventType: "LOT_SPLIT", lotId: "C1", parents: [{ lotId: "P1", quantity: 7 }] }),
      event({ lotId: "P1", quantity: 70 }),
      event({ lotId: "P2", quantity: 80 }),
      event({
        eventType: "LOT_MERGED",
        lotId: "M1",
        parents: [{ lotId: "P2", quantity: 1 }, { lotId: "P2", quantity: 2 }, { lotId: "P3" }],
      }),
      ...[22, 21, 23].map((k) =>
        event({ eventType: "LOT_SPLIT", lotId: "C2", eventId: id(k), parents: [{ lotId: "P1" }] })
      ),
      // An order: an output before its inputs, one input consumed three times.
      event({ lotId: "FG", correlationId: "ORD-1" }),
      event({ eventType: "LOT_CONSUMED", lotId: "M1", quantity: 11, correlationId: "ORD-1" }),
      ...[32, 31, 33].map((k) =>
        event({ eventType: "LOT_CONSUMED", lotId: "P1", eventId: id(k), correlationId: "ORD-1" })
      ),
      // A chain of shipments A -> B -> C, received before shipped at B, one receipt twice.
      event({ ...B, eventType: "LOT_RECEIVED", lotId: "R", correlationId: "S-1" }),
      event({ ...C, eventType: "LOT_RECEIVED", lotId: "Q", correlationId: "S-2" }),
      event({ ...B, eventType: "LOT_SHIPPED", lotId: "R", correlationId: "S-2" }),
      event({ ...B, eventType: "LOT_RECEIVED", lotId: "R", correlationId: "S-1", version: 1 }),
      event({ eventType: "LOT_SHIPPED", lotId: "FG", correlationId: "S-1" }),
      event({ eventType: "COMMAND_REJECTED", lotId: "FG", correlationId: "CMD-1" }),
    ];
    // Duplicates: one inside the batch, one applied before it.
    await assertBatchesAsOneByOne(pg, [seen], [[...batch, batch[3], seen]]);
    await assertBatchesAsOneByOne(pg, [], [batch.slice(0, 9), batch.slice(9)]);
  },
);

/** A random history of few lots at three plants; `tangled`: lots received from several. */
function randomHistory(seed: number, tangled: boolean): CanonicalLotEvent[] {
  let s = seed;
  const random = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const plants = [
    { plantId: "A", sourceSystem: "sap" },
    { plantId: "B", sourceSystem: "dynamics" },
    { plantId: "C", sourceSystem: "infor" },
  ];
  const lot = () => `L${Math.floor(random() * 8)}`;
  const events: CanonicalLotEvent[] = [];
  const add = (o: Partial<CanonicalLotEvent>) =>
    events.push(event({ version: Math.floor(random() * 3), quantity: events.length, ...o }));
  for (let i = 0; i < 80; i++) {
    const p = pick(plants);
    const order = { correlationId: `ORD-${Math.floor(random() * 3)}` };
    const r = random();
    if (r < 0.2) add({ ...p, eventType: "LOT_ADJUSTED", lotId: lot() });
    else if (r < 0.4) {
      add({
        ...p,
        eventType: pick(["LOT_SPLIT", "LOT_MERGED"] as const),
        lotId: lot(),
        parents: [
          { lotId: lot(), quantity: i },
          { lotId: lot() },
        ],
      });
    } else if (r < 0.55) add({ ...p, eventType: "LOT_CONSUMED", lotId: lot(), ...order });
    else if (r < 0.65) add({ ...p, lotId: lot(), ...order });
    else if (r < 0.9) {
      const shipment = { correlationId: `S-${tangled ? Math.floor(random() * 3) : i}` };
      add({ ...p, eventType: "LOT_SHIPPED", lotId: lot(), ...shipment });
      const to = pick(plants.filter((q) => q !== p));
      add({ ...to, eventType: "LOT_RECEIVED", lotId: tangled ? lot() : `R${i}`, ...shipment });
    } else add({ ...p, eventType: "COMMAND_REJECTED", lotId: lot(), correlationId: `C${i}` });
  }
  return deliveries(events, seed);
}

integrationTest(
  "random histories in random batches: the same tables as one event per transaction",
  async () => {
    await using pg = await startPostgres();
    for (let seed = 1; seed <= 6; seed++) {
      // Tangled shipments (a lot received from several lots, cycles) are applied one by one.
      const events = randomHistory(seed, seed % 3 === 0);
      const batches: CanonicalLotEvent[][] = [];
      for (let i = 0; i < events.length; i += batches.length % 4 * 15 + 1) {
        batches.push(events.slice(i, i + batches.length % 4 * 15 + 1));
      }
      await assertBatchesAsOneByOne(pg, [], batches);
    }
  },
);
