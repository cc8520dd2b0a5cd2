/**
 * Applies canonical lot events to the central database, one transaction per event or batch:
 * the audit row (event id unique = idempotency; per-plant hash chain), the system lot's mapping
 * to its canonical lot and its last-writer-wins state, genealogy edges, and cross-plant links.
 * Everything is a function of the set of events applied, not of their order: placeholders
 * stand in for parents not seen yet, canonical ids are derived (UUIDv5) from the lot a chain of
 * shipments starts at, and ties between events are broken by event id.
 *
 * A batch costs a handful of statements whatever its size, sent pipelined, each giving what
 * applying the events one by one would: the hash chain is computed row by row in SQL, and
 * where several events of the batch touch one row (a lot, an edge, an order or shipment link)
 * only the one that would win one by one is sent. Relinking runs only for shipments.
 *
 * @module
 */
import { ANSWER_EVENT_TYPES, type CanonicalLotEvent } from "../core/canonical_event.ts";
import { uuidV5 } from "../core/uuid.ts";
import { isRetryableTransactionError, type Sql, type TransactionSql } from "../io/postgres.ts";

/** Options of {@linkcode applyLotEvent}. */
export interface ApplyOptions {
  /** Source priority for last-writer-wins ties on version (higher wins). Default 0 each. */
  sourcePriority?: Readonly<Record<string, number>>;
  /**
   * Runs in the same transaction after the lots are updated, with the events applied (not the
   * duplicates), in order: the transfer sagas and the outbox ride on the lots' commit.
   */
  onApplied?: (tx: TransactionSql, applied: readonly CanonicalLotEvent[]) => Promise<void>;
}

/** What {@linkcode applyLotEvent} did. */
export type ApplyOutcome = "applied" | "duplicate";

/** A lot of one system at one plant. */
export interface SystemLot {
  plantId: string;
  system: string;
  lotId: string;
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
 * Applies events in one transaction, with the result of applying them one by one in the given
 * order, and returns each one's outcome; all or nothing. Retries on deadlocks and
 * serialization failures.
 */
export async function applyLotEvents(
  sql: Sql,
  events: readonly CanonicalLotEvent[],
  options: ApplyOptions = {},
): Promise<ApplyOutcome[]> {
  if (events.length === 0) return [];
  let stepwise = false;
  for (let attempt = 1;; attempt++) {
    try {
      return await sql.begin((tx) => applyIn(tx, events, options, stepwise)) as ApplyOutcome[];
    } catch (error) {
      if (error instanceof AmbiguousShipments && !stepwise) stepwise = true;
      else if (!isRetryableTransactionError(error) || attempt >= MAX_ATTEMPTS) throw error;
      else await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

/**
 * Several shipment events in a batch around a lot received from two lots, or a cycle of
 * shipments: one by one, canonical ids then depend on the order, so the batch is applied one
 * event after the other (in one transaction still).
 */
class AmbiguousShipments extends Error {}

async function applyIn(
  tx: TransactionSql,
  events: readonly CanonicalLotEvent[],
  options: ApplyOptions,
  stepwise: boolean,
): Promise<ApplyOutcome[]> {
  const [, audited] = await Promise.all([
    lock(tx, events),
    tx`SELECT event_id FROM audit_events WHERE event_id = ANY(${ids(events)}::uuid[])`,
  ]);
  const done = new Set(audited.map((r) => String(r.event_id)));
  const outcomes = events.map((e): ApplyOutcome => {
    if (done.has(e.eventId)) return "duplicate";
    done.add(e.eventId);
    return "applied";
  });
  const applied = events.filter((_, i) => outcomes[i] === "applied");
  if (applied.length === 0) return outcomes;
  if (!stepwise) await write(tx, applied, options);
  else for (const event of applied) await write(tx, [event], options);
  await options.onApplied?.(tx, applied);
  return outcomes;
}

const ids = (events: readonly CanonicalLotEvent[]) => events.map((e) => e.eventId);

const isShipment = (e: CanonicalLotEvent) =>
  e.correlationId !== undefined &&
  (e.eventType === "LOT_SHIPPED" || e.eventType === "LOT_RECEIVED");

/**
 * Appends to one plant's chain are serialized. So are the two sides of a shipment, usually
 * applied by different plants' transactions: without that each could miss the other's
 * uncommitted row and neither would link them. Receipts under one correlation id need not
 * wait for each other (plants often share purchase order numbers): a batch with only receipts
 * under it takes that lock shared. All locks in one order: no deadlock between replicas.
 */
function lock(tx: TransactionSql, events: readonly CanonicalLotEvent[]) {
  const shipments = Map.groupBy(events.filter(isShipment), (e) => e.correlationId!);
  const keys = [
    ...[...new Set(events.map((e) => e.plantId))].sort()
      .map((p) => ({ key: `plantgate:audit:${p}`, shared: false })),
    ...[...shipments.keys()].sort().map((c) => ({
      key: `plantgate:shipment:${c}`,
      shared: shipments.get(c)!.every((e) => e.eventType === "LOT_RECEIVED"),
    })),
  ];
  return tx`
    SELECT count(CASE WHEN shared THEN pg_advisory_xact_lock_shared(hashtext(key))
      ELSE pg_advisory_xact_lock(hashtext(key)) END)
    FROM jsonb_to_recordset(${tx.json(keys)}::jsonb) AS l(key text, shared boolean)`;
}

/** Every table's statement for the batch, pipelined in dependency order, then relinking. */
async function write(
  tx: TransactionSql,
  applied: readonly CanonicalLotEvent[],
  options: ApplyOptions,
): Promise<void> {
  // An answer to a command (a rejection, a stock report) is audited only: no lot changes.
  const lots = applied.filter((e) => !ANSWER_EVENT_TYPES.has(e.eventType));
  const shipped = lots.filter(isShipment);
  const shipments = [...new Set(shipped.map((e) => e.correlationId!))];
  const roots = shipments.length > 0 ? shipmentRoots(tx, shipments) : undefined;
  await Promise.all([
    auditAndLots(tx, applied, lots, options),
    ...parentEdges(tx, lots),
    ...orderLinks(tx, lots),
    ...shipmentLinks(tx, shipped, shipments),
    ...(roots ? [roots] : []),
  ]);
  if (!roots) return;
  const found = await roots;
  if (shipped.length > 1 && found.some((r) => r.ambiguous)) throw new AmbiguousShipments();
  await relink(tx, found);
}

/**
 * The audit rows with their hash chain, and the lots' state, in one statement. The hash covers
 * the event as stored (jsonb's canonical text), chained to the previous row (`plantgate_chain`,
 * migration 3). Of a lot's events only the last writer (version, source priority, event id)
 * is given a canonical id, that is, applied to the lot.
 */
function auditAndLots(
  tx: TransactionSql,
  applied: readonly CanonicalLotEvent[],
  lots: readonly CanonicalLotEvent[],
  options: ApplyOptions,
) {
  const sources = options.sourcePriority ?? {};
  const priority = (e: CanonicalLotEvent) =>
    (Object.hasOwn(sources, e.sourceSystem) ? sources[e.sourceSystem] : undefined) ?? 0;
  const state = (e: CanonicalLotEvent) => [e.version ?? 0, priority(e), e.eventId.toLowerCase()];
  const latest = winners(
    lots,
    (e) => [e.plantId, e.sourceSystem, e.lotId],
    (a, b) => compare(state(a), state(b)) > 0,
  );
  const own = (e: CanonicalLotEvent) =>
    ownCanonicalId({ plantId: e.plantId, system: e.sourceSystem, lotId: e.lotId });
  const events = tx.json(applied as unknown as Parameters<typeof tx.json>[0]);
  return tx`
    WITH input AS (
      SELECT * FROM ROWS FROM (
        jsonb_array_elements(${events}::jsonb),
        unnest(${applied.map((e) => latest.has(e) ? own(e) : null)}::uuid[]),
        unnest(${applied.map(priority)}::integer[])
      ) WITH ORDINALITY AS i(e, canonical_lot_id, priority, n)
    ), heads AS (
      SELECT p.plant_id, coalesce(h.seq, 0) AS seq, coalesce(h.hash, ${GENESIS}::bytea) AS hash
      FROM (SELECT DISTINCT e->>'plantId' AS plant_id FROM input) AS p
      LEFT JOIN audit_chain_heads h USING (plant_id)
    ), chained AS (
      SELECT i.e, h.plant_id, h.seq + row_number() OVER w AS plant_seq, h.hash AS head,
        plantgate_chain(h.hash, convert_to(i.e::text, 'UTF8')) OVER w AS hash
      FROM input i JOIN heads h ON h.plant_id = i.e->>'plantId'
      WINDOW w AS (PARTITION BY h.plant_id ORDER BY i.n ROWS UNBOUNDED PRECEDING)
    ), linked AS (
      SELECT *, coalesce(lag(hash) OVER (PARTITION BY plant_id ORDER BY plant_seq), head) AS prev
      FROM chained
    ), appended AS (
      INSERT INTO audit_events (plant_id, plant_seq, event_id, event_type, source_system, lot_id,
        event_time, event, prev_hash, hash)
      SELECT plant_id, plant_seq, (e->>'eventId')::uuid, e->>'eventType', e->>'sourceSystem',
        e->>'lotId', (e->>'timestamp')::timestamptz, e, prev, hash
      FROM linked ORDER BY plant_id, plant_seq
    ), upserted AS (
      INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder,
        event_type, material, quantity, uom, event_time, state_version, state_priority,
        state_event_id)
      SELECT e->>'plantId', e->>'sourceSystem', e->>'lotId', canonical_lot_id, false,
        e->>'eventType', e->>'material', (e->>'quantity')::numeric, e->>'uom',
        (e->>'timestamp')::timestamptz, coalesce((e->>'version')::bigint, 0), priority,
        (e->>'eventId')::uuid
      FROM input WHERE canonical_lot_id IS NOT NULL
      ON CONFLICT (plant_id, source_system, lot_id) DO UPDATE SET
        placeholder = false, event_type = EXCLUDED.event_type, material = EXCLUDED.material,
        quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_time = EXCLUDED.event_time,
        state_version = EXCLUDED.state_version, state_priority = EXCLUDED.state_priority,
        state_event_id = EXCLUDED.state_event_id
      WHERE (EXCLUDED.state_version, EXCLUDED.state_priority, EXCLUDED.state_event_id) >
        (system_lots.state_version, system_lots.state_priority,
         coalesce(system_lots.state_event_id, '00000000-0000-0000-0000-000000000000'))
    )
    INSERT INTO audit_chain_heads (plant_id, seq, hash)
    SELECT DISTINCT ON (plant_id) plant_id, plant_seq, hash FROM linked
    ORDER BY plant_id, plant_seq DESC
    ON CONFLICT (plant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`;
}

/** Edges only grow; of two events giving one edge, the smaller event id's quantity stays. */
const EDGE_CONFLICT = `
  ON CONFLICT (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
  DO UPDATE SET quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
  WHERE EXCLUDED.event_id < genealogy_edges.event_id`;

const EDGE_KINDS: Readonly<Record<string, string>> = {
  LOT_SPLIT: "split",
  LOT_MERGED: "merge",
  LOT_RECEIVED: "transfer",
};

/** Rows handed to one statement as a jsonb array (`jsonb_to_recordset`). */
type Rows = Record<string, string | number | null>[];

const smallerId = (a: CanonicalLotEvent, b: CanonicalLotEvent) =>
  a.eventId.toLowerCase() < b.eventId.toLowerCase();

/**
 * Parents not seen yet become placeholders, completed by their own events later (a new row
 * always has its own canonical id: only a lot's own LOT_RECEIVED can link it elsewhere, and
 * that event creates its row first). One edge per parent.
 */
function parentEdges(tx: TransactionSql, lots: readonly CanonicalLotEvent[]) {
  const parents = lots.flatMap((event) => event.parents.map((parent) => ({ event, parent })));
  if (parents.length === 0) return [];
  const kind = (e: CanonicalLotEvent) =>
    Object.hasOwn(EDGE_KINDS, e.eventType) ? EDGE_KINDS[e.eventType] : "consume";
  const placeholders: Rows = [
    ...winners(parents, ({ event, parent }) => [event.plantId, event.sourceSystem, parent.lotId]),
  ].map(({ event, parent }) => ({
    plant_id: event.plantId,
    source_system: event.sourceSystem,
    lot_id: parent.lotId,
    canonical_lot_id: ownCanonicalId({
      plantId: event.plantId,
      system: event.sourceSystem,
      lotId: parent.lotId,
    }),
  }));
  const edges: Rows = [
    ...winners(
      parents,
      ({ event: e, parent }) => [e.plantId, e.sourceSystem, parent.lotId, e.lotId, kind(e)],
      (a, b) => smallerId(a.event, b.event),
    ),
  ].map(({ event, parent }) => ({
    plant_id: event.plantId,
    source_system: event.sourceSystem,
    parent_lot: parent.lotId,
    lot_id: event.lotId,
    kind: kind(event),
    quantity: parent.quantity ?? null,
    uom: parent.uom ?? null,
    event_id: event.eventId,
  }));
  return [
    tx`
      INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder)
      SELECT plant_id, source_system, lot_id, canonical_lot_id, true
      FROM jsonb_to_recordset(${tx.json(placeholders)}::jsonb)
        AS r(plant_id text, source_system text, lot_id text, canonical_lot_id uuid)
      ON CONFLICT DO NOTHING`,
    tx`
      INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
        child_system, child_lot, kind, quantity, uom, event_id)
      SELECT plant_id, source_system, parent_lot, plant_id, source_system, lot_id, kind,
        quantity, uom, event_id
      FROM jsonb_to_recordset(${tx.json(edges)}::jsonb) AS r(plant_id text, source_system text,
        parent_lot text, lot_id text, kind text, quantity numeric, uom text, event_id uuid)
      ${tx.unsafe(EDGE_CONFLICT)}`,
  ];
}

/**
 * Production orders: the lots consumed (input) and produced (output) under an order, then
 * consume edges between each of them and every lot on the other side of its order (pairs of
 * two other lots were made when the later of them arrived; both sides' lot rows exist, an
 * order row comes only from its lot's own event).
 */
function orderLinks(tx: TransactionSql, lots: readonly CanonicalLotEvent[]) {
  const role = (e: CanonicalLotEvent) => e.eventType === "LOT_CONSUMED" ? "input" : "output";
  const orders = lots.filter((e) =>
    e.correlationId !== undefined &&
    (e.eventType === "LOT_CONSUMED" || e.eventType === "LOT_CREATED")
  );
  if (orders.length === 0) return [];
  const rows: Rows = [
    ...winners(
      orders,
      (e) => [e.plantId, e.sourceSystem, e.correlationId!, e.lotId, role(e)],
      smallerId,
    ),
  ].map((e) => ({
    plant_id: e.plantId,
    source_system: e.sourceSystem,
    order_id: e.correlationId!,
    lot_id: e.lotId,
    role: role(e),
    quantity: e.quantity,
    uom: e.uom,
    event_id: e.eventId,
  }));
  const json = tx.json(rows);
  return [
    tx`
      INSERT INTO order_lots (plant_id, source_system, order_id, lot_id, role, quantity, uom,
        event_id)
      SELECT * FROM jsonb_to_recordset(${json}::jsonb) AS r(plant_id text, source_system text,
        order_id text, lot_id text, role text, quantity numeric, uom text, event_id uuid)
      ON CONFLICT (plant_id, source_system, order_id, lot_id, role) DO UPDATE SET
        quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
      WHERE EXCLUDED.event_id < order_lots.event_id`,
    // One edge may come from several orders: the smallest event id's, as one by one.
    tx`
      INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
        child_system, child_lot, kind, quantity, uom, event_id)
      SELECT DISTINCT ON (i.plant_id, i.source_system, i.lot_id, o.lot_id) i.plant_id,
        i.source_system, i.lot_id, o.plant_id, o.source_system, o.lot_id, 'consume',
        i.quantity, i.uom, i.event_id
      FROM jsonb_to_recordset(${json}::jsonb)
        AS m(plant_id text, source_system text, order_id text, lot_id text, role text)
      JOIN order_lots i ON i.plant_id = m.plant_id AND i.source_system = m.source_system
        AND i.order_id = m.order_id AND i.role = 'input'
      JOIN order_lots o ON o.plant_id = m.plant_id AND o.source_system = m.source_system
        AND o.order_id = m.order_id AND o.role = 'output'
      WHERE CASE m.role WHEN 'input' THEN i.lot_id ELSE o.lot_id END = m.lot_id
      ORDER BY i.plant_id, i.source_system, i.lot_id, o.lot_id, i.event_id
      ${tx.unsafe(EDGE_CONFLICT)}`,
  ];
}

/**
 * Shipments: a lot received under the correlation id of a lot shipped elsewhere is that lot.
 * The first event of a lot's side of a shipment is kept; transfer edges for every pair under
 * the batch's correlation ids (both sides' lot rows exist: a shipment row comes only from its
 * lot's own event).
 */
function shipmentLinks(
  tx: TransactionSql,
  shipped: readonly CanonicalLotEvent[],
  shipments: readonly string[],
) {
  if (shipments.length === 0) return [];
  const role = (e: CanonicalLotEvent) => e.eventType === "LOT_SHIPPED" ? "shipped" : "received";
  const rows: Rows = [
    ...winners(shipped, (e) => [e.correlationId!, role(e), e.plantId, e.sourceSystem, e.lotId]),
  ].map((e) => ({
    correlation_id: e.correlationId!,
    role: role(e),
    plant_id: e.plantId,
    source_system: e.sourceSystem,
    lot_id: e.lotId,
    event_id: e.eventId,
  }));
  return [
    tx`
      INSERT INTO shipment_lots (correlation_id, role, plant_id, source_system, lot_id, event_id)
      SELECT * FROM jsonb_to_recordset(${tx.json(rows)}::jsonb) AS r(correlation_id text,
        role text, plant_id text, source_system text, lot_id text, event_id uuid)
      ON CONFLICT DO NOTHING`,
    tx`
      INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
        child_system, child_lot, kind, quantity, uom, event_id)
      SELECT DISTINCT ON (s.plant_id, s.source_system, s.lot_id, r.plant_id, r.source_system,
        r.lot_id) s.plant_id, s.source_system, s.lot_id, r.plant_id, r.source_system, r.lot_id,
        'transfer', NULL::numeric, NULL, s.event_id
      FROM shipment_lots s JOIN shipment_lots r USING (correlation_id)
      WHERE s.role = 'shipped' AND r.role = 'received'
        AND correlation_id = ANY(${shipments}::text[])
      ORDER BY s.plant_id, s.source_system, s.lot_id, r.plant_id, r.source_system, r.lot_id,
        s.event_id
      ${tx.unsafe(EDGE_CONFLICT)}`,
  ];
}

/**
 * What relinking the lots received under `shipments` sets: for each of them and every lot
 * shipped on from it (`plant_id`, `source_system`, `lot_id`), the lot its chain of shipments
 * starts at (`root_*`: follow the first shipper by sort order up, stop where a cycle closes).
 * `ambiguous`: a lot on the way has several shippers, or the shipments make a cycle.
 */
function shipmentRoots(tx: TransactionSql, shipments: readonly string[]) {
  return tx`
    WITH RECURSIVE received AS (
      SELECT DISTINCT r.plant_id, r.source_system, r.lot_id
      FROM shipment_lots r JOIN shipment_lots s USING (correlation_id)
      WHERE r.role = 'received' AND s.role = 'shipped'
        AND correlation_id = ANY(${shipments}::text[])
    ), up AS (
      SELECT plant_id AS s_plant, source_system AS s_system, lot_id AS s_lot, plant_id,
        source_system, lot_id, 0 AS depth
      FROM received
      UNION ALL
      SELECT u.s_plant, u.s_system, u.s_lot, f.plant_id, f.source_system, f.lot_id, u.depth + 1
      FROM up u CROSS JOIN LATERAL (
        SELECT s.plant_id, s.source_system, s.lot_id
        FROM shipment_lots r JOIN shipment_lots s USING (correlation_id)
        WHERE r.role = 'received' AND s.role = 'shipped' AND r.plant_id = u.plant_id
          AND r.source_system = u.source_system AND r.lot_id = u.lot_id
        ORDER BY s.plant_id, s.source_system, s.lot_id LIMIT 1
      ) AS f
    ) CYCLE plant_id, source_system, lot_id SET closed USING path,
    onward AS (
      SELECT plant_id AS s_plant, source_system AS s_system, lot_id AS s_lot, plant_id,
        source_system, lot_id
      FROM received
      UNION
      SELECT d.s_plant, d.s_system, d.s_lot, r.plant_id, r.source_system, r.lot_id
      FROM onward d
      JOIN shipment_lots s ON s.plant_id = d.plant_id AND s.source_system = d.source_system
        AND s.lot_id = d.lot_id AND s.role = 'shipped'
      JOIN shipment_lots r ON r.correlation_id = s.correlation_id AND r.role = 'received'
    ), shippers AS (
      SELECT count(DISTINCT (s.plant_id, s.source_system, s.lot_id)) AS n
      FROM (SELECT plant_id, source_system, lot_id FROM up
        UNION SELECT plant_id, source_system, lot_id FROM onward) AS l
      JOIN shipment_lots r ON r.plant_id = l.plant_id AND r.source_system = l.source_system
        AND r.lot_id = l.lot_id AND r.role = 'received'
      JOIN shipment_lots s ON s.correlation_id = r.correlation_id AND s.role = 'shipped'
      GROUP BY l.plant_id, l.source_system, l.lot_id
    ), roots AS (
      SELECT DISTINCT ON (s_plant, s_system, s_lot) * FROM up
      ORDER BY s_plant, s_system, s_lot, depth DESC
    )
    SELECT DISTINCT ON (o.plant_id, o.source_system, o.lot_id) o.plant_id, o.source_system,
      o.lot_id, t.plant_id AS root_plant, t.source_system AS root_system, t.lot_id AS root_lot,
      (SELECT bool_or(closed) FROM up) OR EXISTS (SELECT FROM shippers WHERE n > 1) AS ambiguous
    FROM onward o JOIN roots t USING (s_plant, s_system, s_lot)
    ORDER BY o.plant_id, o.source_system, o.lot_id, s_plant DESC, s_system DESC, s_lot DESC`;
}

/** Sets the canonical ids {@linkcode shipmentRoots} found: the own id of each lot's root. */
async function relink(tx: TransactionSql, found: readonly Record<string, unknown>[]) {
  if (found.length === 0) return;
  const rows: Rows = found.map((r) => ({
    plant_id: String(r.plant_id),
    source_system: String(r.source_system),
    lot_id: String(r.lot_id),
    canonical: ownCanonicalId({
      plantId: String(r.root_plant),
      system: String(r.root_system),
      lotId: String(r.root_lot),
    }),
  }));
  await tx`
    UPDATE system_lots l SET canonical_lot_id = x.canonical
    FROM jsonb_to_recordset(${tx.json(rows)}::jsonb)
      AS x(plant_id text, source_system text, lot_id text, canonical uuid)
    WHERE l.plant_id = x.plant_id AND l.source_system = x.source_system AND l.lot_id = x.lot_id
      AND l.canonical_lot_id <> x.canonical`;
}

/**
 * Of the items with one key, the one applying them one by one leaves: the first, replaced by
 * a later one only when `beats(later, kept)`.
 */
function winners<T>(
  items: readonly T[],
  key: (item: T) => string[],
  beats: (later: T, kept: T) => boolean = () => false,
): Set<T> {
  const kept = new Map<string, T>();
  for (const item of items) {
    const k = key(item).join("\u0000");
    const current = kept.get(k);
    if (current === undefined || beats(item, current)) kept.set(k, item);
  }
  return new Set(kept.values());
}

/** Compares tuples of numbers or strings element by element. */
function compare(a: (number | string)[], b: (number | string)[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
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
