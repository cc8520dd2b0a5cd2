/**
 * Applies canonical lot events to the central database, one transaction per event or batch:
 * the audit row (event id unique = idempotency; per-plant hash chain), the system lot's mapping to its
 * canonical lot and its last-writer-wins state, genealogy edges, and cross-plant links.
 * Everything is a function of the set of events applied, not of their order: placeholders
 * stand in for parents not seen yet, canonical ids are derived (UUIDv5) from the lot a chain of
 * shipments starts at, and ties between events are broken by event id.
 *
 * @module
 */
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { uuidV5 } from "../core/uuid.ts";
import { isRetryableTransactionError, type Sql, type TransactionSql } from "../io/postgres.ts";

/** Options of {@linkcode applyLotEvent}. */
export interface ApplyOptions {
  /** Source priority for last-writer-wins ties on version (higher wins). Default 0 each. */
  sourcePriority?: Readonly<Record<string, number>>;
}

/** What {@linkcode applyLotEvent} did. */
export type ApplyOutcome = "applied" | "duplicate";

/** A lot of one system at one plant. */
export interface SystemLot {
  plantId: string;
  system: string;
  lotId: string;
}

/** A system lot as a map key. */
function lotKey(lot: SystemLot): string {
  return `${lot.plantId}\u0000${lot.system}\u0000${lot.lotId}`;
}

/** The system lot of a row with `plant_id`, `source_system` and `lot_id` columns. */
function lotOfRow(row: Record<string, unknown>): SystemLot {
  return {
    plantId: String(row.plant_id),
    system: String(row.source_system),
    lotId: String(row.lot_id),
  };
}

/** The canonical lot id a system lot has when no shipment links it to another lot. */
export function ownCanonicalId(lot: SystemLot): string {
  return uuidV5(`lot:${lot.plantId}:${lot.system}:${lot.lotId}`);
}

const GENESIS = new Uint8Array(32);
const MAX_ATTEMPTS = 30;

/**
 * Applies one event in one transaction, retrying on deadlocks and serialization failures
 * (replicas apply concurrently). A duplicate (event id already audited) changes nothing.
 */
export async function applyLotEvent(
  sql: Sql,
  event: CanonicalLotEvent,
  options: ApplyOptions = {},
): Promise<ApplyOutcome> {
  return (await applyLotEvents(sql, [event], options))[0];
}

/**
 * Applies events in one transaction, in the given order, and returns each one's outcome; all
 * or nothing. Retries on deadlocks and serialization failures.
 */
export async function applyLotEvents(
  sql: Sql,
  events: readonly CanonicalLotEvent[],
  options: ApplyOptions = {},
): Promise<ApplyOutcome[]> {
  for (let attempt = 1;; attempt++) {
    try {
      return await sql.begin((tx) => applyIn(tx, events, options)) as ApplyOutcome[];
    } catch (error) {
      if (!isRetryableTransactionError(error) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

/** A plant's audit chain head while a transaction appends to it. */
interface ChainHead {
  seq: number;
  hash: Uint8Array;
}

async function applyIn(
  tx: TransactionSql,
  events: readonly CanonicalLotEvent[],
  options: ApplyOptions,
): Promise<ApplyOutcome[]> {
  // Appends to one plant's chain are serialized, the locks taken in one order (no deadlock
  // between replicas); other plants' proceed in parallel.
  for (const plant of [...new Set(events.map((e) => e.plantId))].sort()) {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${"plantgate:audit:" + plant}))`;
  }
  const ids = events.map((e) => e.eventId);
  const done = new Set(
    (await tx`SELECT event_id FROM audit_events WHERE event_id = ANY(${ids}::uuid[])`)
      .map((r) => String(r.event_id)),
  );
  const heads = new Map<string, ChainHead>();
  const outcomes: ApplyOutcome[] = [];
  for (const event of events) {
    if (done.has(event.eventId)) {
      outcomes.push("duplicate");
      continue;
    }
    done.add(event.eventId);
    await applyOne(tx, event, options, heads);
    outcomes.push("applied");
  }
  for (const [plant, head] of heads) {
    await tx`
      INSERT INTO audit_chain_heads (plant_id, seq, hash) VALUES (${plant}, ${head.seq}, ${head.hash})
      ON CONFLICT (plant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`;
  }
  return outcomes;
}

async function applyOne(
  tx: TransactionSql,
  event: CanonicalLotEvent,
  options: ApplyOptions,
  heads: Map<string, ChainHead>,
): Promise<void> {
  const plant = event.plantId;
  await appendAudit(tx, event, heads);
  const lot: SystemLot = { plantId: plant, system: event.sourceSystem, lotId: event.lotId };
  const priority = options.sourcePriority?.[event.sourceSystem] ?? 0;
  await tx`
    INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder,
      event_type, material, quantity, uom, event_time, state_version, state_priority, state_event_id)
    VALUES (${plant}, ${lot.system}, ${lot.lotId}, ${ownCanonicalId(lot)}, false,
      ${event.eventType}, ${event.material}, ${event.quantity}, ${event.uom}, ${event.timestamp},
      ${event.version ?? 0}, ${priority}, ${event.eventId})
    ON CONFLICT (plant_id, source_system, lot_id) DO UPDATE SET
      placeholder = false, event_type = EXCLUDED.event_type, material = EXCLUDED.material,
      quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_time = EXCLUDED.event_time,
      state_version = EXCLUDED.state_version, state_priority = EXCLUDED.state_priority,
      state_event_id = EXCLUDED.state_event_id
    WHERE (EXCLUDED.state_version, EXCLUDED.state_priority, EXCLUDED.state_event_id) >
      (system_lots.state_version, system_lots.state_priority,
       coalesce(system_lots.state_event_id, '00000000-0000-0000-0000-000000000000'))`;
  const kind = event.eventType === "LOT_SPLIT"
    ? "split"
    : event.eventType === "LOT_MERGED"
    ? "merge"
    : event.eventType === "LOT_RECEIVED"
    ? "transfer"
    : "consume";
  for (const parent of event.parents) {
    const from: SystemLot = { plantId: plant, system: lot.system, lotId: parent.lotId };
    await ensureLot(tx, from);
    await addEdge(tx, from, lot, {
      kind,
      quantity: parent.quantity ?? null,
      uom: parent.uom ?? null,
      eventId: event.eventId,
    });
  }
  if (event.correlationId !== undefined) {
    if (event.eventType === "LOT_CONSUMED" || event.eventType === "LOT_CREATED") {
      await linkOrder(tx, event, lot);
    } else if (event.eventType === "LOT_SHIPPED" || event.eventType === "LOT_RECEIVED") {
      await linkShipment(tx, event, lot);
    }
  }
}

async function appendAudit(
  tx: TransactionSql,
  event: CanonicalLotEvent,
  heads: Map<string, ChainHead>,
): Promise<void> {
  let head = heads.get(event.plantId);
  if (!head) {
    const [row] =
      await tx`SELECT seq, hash FROM audit_chain_heads WHERE plant_id = ${event.plantId}`;
    head = row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS };
  }
  const seq = head.seq + 1;
  // The hash covers the event as stored (jsonb's canonical text), chained to the previous row.
  const [row] = await tx`
    INSERT INTO audit_events (plant_id, plant_seq, event_id, event_type, source_system, lot_id,
      event_time, event, prev_hash, hash)
    SELECT ${event.plantId}, ${seq}, ${event.eventId}, ${event.eventType}, ${event.sourceSystem},
      ${event.lotId}, ${event.timestamp}, e, ${head.hash},
      sha256(${head.hash}::bytea || convert_to(e::text, 'UTF8'))
    FROM (SELECT ${tx.json(event as unknown as Parameters<typeof tx.json>[0])}::jsonb AS e) AS s
    RETURNING hash`;
  heads.set(event.plantId, { seq, hash: row.hash });
}

/**
 * A lot seen only as a parent so far: a placeholder, completed by its own events later. (A new
 * row always has its own canonical id: only a lot's own LOT_RECEIVED can link it elsewhere,
 * and that event creates its row first.)
 */
async function ensureLot(tx: TransactionSql, lot: SystemLot): Promise<void> {
  await tx`
    INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder)
    VALUES (${lot.plantId}, ${lot.system}, ${lot.lotId}, ${ownCanonicalId(lot)}, true)
    ON CONFLICT DO NOTHING`;
}

async function addEdge(
  tx: TransactionSql,
  from: SystemLot,
  to: SystemLot,
  edge: { kind: string; quantity: number | string | null; uom: string | null; eventId: string },
): Promise<void> {
  await tx`
    INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
      child_system, child_lot, kind, quantity, uom, event_id)
    VALUES (${from.plantId}, ${from.system}, ${from.lotId}, ${to.plantId}, ${to.system},
      ${to.lotId}, ${edge.kind}, ${edge.quantity}, ${edge.uom}, ${edge.eventId})
    ON CONFLICT (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
    DO UPDATE SET quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
    WHERE EXCLUDED.event_id < genealogy_edges.event_id`;
}

/** Consume edges from every input of a production order to every output of it. */
async function linkOrder(tx: TransactionSql, event: CanonicalLotEvent, lot: SystemLot) {
  const role = event.eventType === "LOT_CONSUMED" ? "input" : "output";
  await tx`
    INSERT INTO order_lots (plant_id, source_system, order_id, lot_id, role, quantity, uom, event_id)
    VALUES (${lot.plantId}, ${lot.system}, ${event.correlationId!}, ${lot.lotId}, ${role},
      ${event.quantity}, ${event.uom}, ${event.eventId})
    ON CONFLICT (plant_id, source_system, order_id, lot_id, role) DO UPDATE SET
      quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
    WHERE EXCLUDED.event_id < order_lots.event_id`;
  // Edges between this lot and the other side of the order, in one statement: pairs of two
  // other lots were made when the later of them arrived, and both sides' lot rows exist (an
  // order row comes only from its lot's own event).
  const mine = role === "input" ? "i" : "o";
  await tx.unsafe(
    `INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
       child_system, child_lot, kind, quantity, uom, event_id)
     SELECT i.plant_id, i.source_system, i.lot_id, o.plant_id, o.source_system, o.lot_id,
       'consume', i.quantity, i.uom, i.event_id
     FROM order_lots i JOIN order_lots o USING (plant_id, source_system, order_id)
     WHERE i.role = 'input' AND o.role = 'output' AND ${mine}.plant_id = $1
       AND ${mine}.source_system = $2 AND ${mine}.order_id = $3 AND ${mine}.lot_id = $4
     ON CONFLICT (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
     DO UPDATE SET quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
     WHERE EXCLUDED.event_id < genealogy_edges.event_id`,
    [lot.plantId, lot.system, event.correlationId!, lot.lotId],
  );
}

/** A lot received under the correlation id of a lot shipped elsewhere is that lot. */
async function linkShipment(tx: TransactionSql, event: CanonicalLotEvent, lot: SystemLot) {
  const role = event.eventType === "LOT_SHIPPED" ? "shipped" : "received";
  // The two sides of a shipment are usually applied by different plants' transactions: without
  // this lock each could miss the other's uncommitted row and neither would link them.
  await tx`SELECT pg_advisory_xact_lock(hashtext(${"plantgate:shipment:" + event.correlationId}))`;
  await tx`
    INSERT INTO shipment_lots (correlation_id, role, plant_id, source_system, lot_id, event_id)
    VALUES (${event.correlationId!}, ${role}, ${lot.plantId}, ${lot.system}, ${lot.lotId},
      ${event.eventId})
    ON CONFLICT DO NOTHING`;
  const pairs = await tx`
    SELECT s.plant_id, s.source_system, s.lot_id, s.event_id,
      r.plant_id AS to_plant, r.source_system AS to_system, r.lot_id AS to_lot
    FROM shipment_lots s JOIN shipment_lots r USING (correlation_id)
    WHERE s.role = 'shipped' AND r.role = 'received' AND correlation_id = ${event.correlationId!}`;
  // Both sides' lot rows exist: a shipment row comes only from its lot's own event.
  for (const p of pairs) {
    const to = {
      plantId: String(p.to_plant),
      system: String(p.to_system),
      lotId: String(p.to_lot),
    };
    await addEdge(tx, lotOfRow(p), to, {
      kind: "transfer",
      quantity: null,
      uom: null,
      eventId: String(p.event_id),
    });
    await relink(tx, to);
  }
}

/**
 * Sets the canonical id of `lot` and of every lot shipped on from it: the own id of the lot
 * its chain of shipments starts at (the first shipper, by sort order, when several lots were
 * shipped under one correlation id).
 */
async function relink(tx: TransactionSql, lot: SystemLot): Promise<void> {
  const root = await shipmentRoot(tx, lot);
  const canonical = ownCanonicalId(root);
  const seen = new Set<string>();
  const queue = [lot];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (seen.has(lotKey(current))) continue;
    seen.add(lotKey(current));
    await tx`
      UPDATE system_lots SET canonical_lot_id = ${canonical}
      WHERE plant_id = ${current.plantId} AND source_system = ${current.system}
        AND lot_id = ${current.lotId} AND canonical_lot_id <> ${canonical}`;
    const onward = await tx`
      SELECT r.plant_id, r.source_system, r.lot_id
      FROM shipment_lots s JOIN shipment_lots r USING (correlation_id)
      WHERE s.role = 'shipped' AND r.role = 'received' AND s.plant_id = ${current.plantId}
        AND s.source_system = ${current.system} AND s.lot_id = ${current.lotId}`;
    queue.push(...onward.map(lotOfRow));
  }
}

async function shipmentRoot(tx: TransactionSql, lot: SystemLot): Promise<SystemLot> {
  let current = lot;
  const seen = new Set<string>();
  for (;;) {
    if (seen.has(lotKey(current))) return current; // a cycle of shipments: stop where it closes
    seen.add(lotKey(current));
    const [from] = await tx`
      SELECT s.plant_id, s.source_system, s.lot_id
      FROM shipment_lots r JOIN shipment_lots s USING (correlation_id)
      WHERE r.role = 'received' AND s.role = 'shipped' AND r.plant_id = ${current.plantId}
        AND r.source_system = ${current.system} AND r.lot_id = ${current.lotId}
      ORDER BY s.plant_id, s.source_system, s.lot_id LIMIT 1`;
    if (!from) return current;
    current = lotOfRow(from);
  }
}

/** Where {@linkcode verifyAuditChain} found the chain broken, if it did. */
export interface ChainCheck {
  plantId: string;
  rows: number;
  /** The first row whose hash or link does not match, or undefined when all match. */
  brokenAt?: number;
}

/** Recomputes a plant's audit hash chain in the database; reports the first broken row. */
export async function verifyAuditChain(sql: Sql, plantId: string): Promise<ChainCheck> {
  const rows = await sql`
    SELECT plant_seq,
      hash = sha256(prev_hash || convert_to(event::text, 'UTF8')) AS hash_ok,
      prev_hash = coalesce(lag(hash) OVER (ORDER BY plant_seq), ${GENESIS}::bytea) AS link_ok,
      plant_seq = row_number() OVER (ORDER BY plant_seq) AS seq_ok
    FROM audit_events WHERE plant_id = ${plantId} ORDER BY plant_seq`;
  const broken = rows.find((r) => !r.hash_ok || !r.link_ok || !r.seq_ok);
  return {
    plantId,
    rows: rows.length,
    ...(broken ? { brokenAt: Number(broken.plant_seq) } : {}),
  };
}
