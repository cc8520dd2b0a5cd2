/**
 * Applies canonical lot events to the central database, one transaction per event or batch:
 * the audit row (event id unique = idempotency; per-plant hash chain), the system lot's mapping to its
 * canonical lot and its last-writer-wins state, genealogy edges, and cross-plant links.
 * Everything is a function of the set of events applied, not of their order: placeholders
 * stand in for parents not seen yet, canonical ids are derived (UUIDv5) from the lot a chain of
 * shipments starts at, and ties between events are broken by event id.
 *
 * A batch costs a handful of statements whatever its size, sent pipelined: one per table, each
 * resolving within the batch what applying the events one by one would give (the hash chain
 * computed row by row in SQL, the last writer per lot, the smallest event id per edge and
 * order link). Relinking canonical ids runs only when a batch has shipments.
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

/** The system lot of a row with `plant_id`, `source_system` and `lot_id` columns. */
function lotOfRow(row: Record<string, unknown>): SystemLot {
  return {
    plantId: String(row.plant_id),
    system: String(row.source_system),
    lotId: String(row.lot_id),
  };
}

/**
 * The item kept per key, as applying them one by one keeps it: a later item replaces the kept
 * one only when `beats(later, kept)`.
 */
function winners<T>(
  items: readonly T[],
  key: (item: T) => string[],
  beats: (later: T, kept: T) => boolean,
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

/** The canonical lot id a system lot has when no shipment links it to another lot. */
export function ownCanonicalId(lot: SystemLot): string {
  return uuidV5(`lot:${lot.plantId}:${lot.system}:${lot.lotId}`);
}

const GENESIS = new Uint8Array(32);
const MAX_ATTEMPTS = 30;

/** Rows handed to one statement as a jsonb array (`jsonb_to_recordset`). */
type Rows = Record<string, string | number | null>[];
type Json = Parameters<TransactionSql["json"]>[0];

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
 * Several shipment events in a batch, around a lot shipped to from two lots or a cycle of
 * shipments: one by one, canonical ids depend on their order, so they are applied one by one.
 */
class AmbiguousShipments extends Error {}

const isShipment = (e: CanonicalLotEvent) =>
  e.correlationId !== undefined &&
  (e.eventType === "LOT_SHIPPED" || e.eventType === "LOT_RECEIVED");

async function applyIn(
  tx: TransactionSql,
  events: readonly CanonicalLotEvent[],
  options: ApplyOptions,
  stepwise: boolean,
): Promise<ApplyOutcome[]> {
  const [, audited] = await Promise.all([
    lock(tx, events),
    tx`SELECT event_id FROM audit_events WHERE event_id = ANY(${
      events.map((e) => e.eventId)
    }::uuid[])`,
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

/**
 * Appends to one plant's chain are serialized. So are the two sides of a shipment, usually
 * applied by different plants' transactions: without that each could miss the other's
 * uncommitted row and neither would link them. Receipts under one correlation id need not
 * wait for each other (plants often share purchase order numbers), so a batch with only
 * receipts for it takes that lock shared. All locks in one order: no deadlock between
 * replicas; other plants' batches proceed in parallel.
 */
function lock(tx: TransactionSql, events: readonly CanonicalLotEvent[]) {
  const shipments = Map.groupBy(events.filter(isShipment), (e) => e.correlationId!);
  const keys = [
    ...[...new Set(events.map((e) => e.plantId))].sort().map((p) => ({
      key: `plantgate:audit:${p}`,
      shared: false,
    })),
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
  // A rejected command is an answer to a command, not a lot change: audited only.
  const lots = applied.filter((e) => !ANSWER_EVENT_TYPES.has(e.eventType));
  const shipments = [...new Set(lots.filter(isShipment).map((e) => e.correlationId!))];
  const shipmentEvents = lots.filter(isShipment).length;
  const roots = shipments.length > 0 ? shipmentRoots(tx, shipments) : undefined;
  await Promise.all([
    auditAndLots(tx, applied, options),
    ...parentEdges(tx, lots),
    ...orderLinks(tx, lots),
    ...shipmentLinks(tx, lots, shipments),
    ...(roots ? [roots] : []),
  ]);
  if (!roots) return;
  const found = await roots;
  if (shipmentEvents > 1 && found.some((r) => r.ambiguous)) throw new AmbiguousShipments();
  await relink(tx, found);
}

/**
 * The audit rows with their hash chain, and each lot's state, in one statement. The hash
 * covers the event as stored (jsonb's canonical text), chained to the previous row
 * (`plantgate_chain`, migration 3). Of several events for one lot, the one that would win one
 * by one is the only one applied; an answer to a command changes no lot.
 */
function auditAndLots(
  tx: TransactionSql,
  applied: readonly CanonicalLotEvent[],
  options: ApplyOptions,
) {
  const priority = (e: CanonicalLotEvent) =>
    Object.hasOwn(options.sourcePriority ?? {}, e.sourceSystem)
      ? options.sourcePriority![e.sourceSystem]
      : 0;
  const state = (e: CanonicalLotEvent) => [e.version ?? 0, priority(e), e.eventId.toLowerCase()];
  const latest = winners(
    applied.filter((e) => !ANSWER_EVENT_TYPES.has(e.eventType)),
    (e) => [e.plantId, e.sourceSystem, e.lotId],
    (a, b) => compare(state(a), state(b)) > 0,
  );
  // Only the winning event of each lot has a canonical id here: one row per lot.
  const canonical = applied.map((e) =>
    latest.has(e)
      ? ownCanonicalId({ plantId: e.plantId, system: e.sourceSystem, lotId: e.lotId })
      : null
  );
  return tx`
    WITH input AS (
      SELECT e, n, c AS canonical_lot_id
      FROM ROWS FROM (
        jsonb_array_elements(${tx.json(applied as unknown as Json)}::jsonb),
        unnest(${canonical}::uuid[])
      ) WITH ORDINALITY AS i(e, c, n)
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
    ), lots AS (
      SELECT e->>'plantId' AS plant_id, e->>'sourceSystem' AS source_system,
        e->>'lotId' AS lot_id, canonical_lot_id, e->>'eventType' AS event_type,
        e->>'material' AS material, (e->>'quantity')::numeric AS quantity, e->>'uom' AS uom,
        (e->>'timestamp')::timestamptz AS event_time,
        coalesce((e->>'version')::bigint, 0) AS version,
        coalesce((${tx.json(options.sourcePriority ?? {})}::jsonb->>(e->>'sourceSystem'))::integer,
          0) AS priority,
        (e->>'eventId')::uuid AS event_id
      FROM input WHERE canonical_lot_id IS NOT NULL
    ), upserted AS (
      INSERT INTO system_lots (plant_id, source_system, lot_id, canonical_lot_id, placeholder,
        event_type, material, quantity, uom, event_time, state_version, state_priority,
        state_event_id)
      SELECT plant_id, source_system, lot_id, canonical_lot_id, false, event_type, material,
        quantity, uom, event_time, version, priority, event_id
      FROM lots
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

const EDGE_CONFLICT = `
  ON CONFLICT (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
  DO UPDATE SET quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
  WHERE EXCLUDED.event_id < genealogy_edges.event_id`;

/**
 * Parents not seen yet become placeholders, completed by their own events later (a new row
 * always has its own canonical id: only a lot's own LOT_RECEIVED can link it elsewhere, and
 * that event creates its row first). One edge per parent; when several events give the same
 * edge, the smallest event id's wins (the first of them on a tie), as one by one.
 */
function parentEdges(tx: TransactionSql, lots: CanonicalLotEvent[]) {
  const edges = lots.flatMap((event) => event.parents.map((parent) => ({ event, parent })));
  if (edges.length === 0) return [];
  const lot = ({ event, parent }: typeof edges[number]) => ({
    plant_id: event.plantId,
    source_system: event.sourceSystem,
    lot_id: parent.lotId,
  });
  const placeholders: Rows = [...winners(edges, (p) => Object.values(lot(p)), () => false)]
    .map((p) => ({ ...lot(p), canonical_lot_id: ownCanonicalId(lotOfRow(lot(p))) }));
  const kind = (e: CanonicalLotEvent) => EDGE_KINDS[e.eventType] ?? "consume";
  const rows: Rows = [
    ...winners(
      edges,
      (
        { event, parent },
      ) => [event.plantId, event.sourceSystem, parent.lotId, event.lotId, kind(event)],
      (a, b) => a.event.eventId.toLowerCase() < b.event.eventId.toLowerCase(),
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
      FROM jsonb_to_recordset(${tx.json(rows)}::jsonb) AS r(plant_id text, source_system text,
        parent_lot text, lot_id text, kind text, quantity numeric, uom text, event_id uuid)
      ${tx.unsafe(EDGE_CONFLICT)}`,
  ];
}

const EDGE_KINDS: Partial<Record<string, string>> = {
  LOT_SPLIT: "split",
  LOT_MERGED: "merge",
  LOT_RECEIVED: "transfer",
};

/**
 * Production orders: the batch's lots consumed (input) or produced (output) under an order,
 * then consume edges between each of them and every lot on the other side of its order (pairs
 * of two other lots were made when the later of them arrived; both sides' lot rows exist, an
 * order row comes only from its lot's own event).
 */
function orderLinks(tx: TransactionSql, lots: CanonicalLotEvent[]) {
  const role = (e: CanonicalLotEvent) => e.eventType === "LOT_CONSUMED" ? "input" : "output";
  const orders = lots.filter((e) =>
    e.correlationId !== undefined &&
    (e.eventType === "LOT_CONSUMED" || e.eventType === "LOT_CREATED")
  );
  const rows: Rows = [
    ...winners(
      orders,
      (e) => [e.plantId, e.sourceSystem, e.correlationId!, e.lotId, role(e)],
      (a, b) => a.eventId.toLowerCase() < b.eventId.toLowerCase(),
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
  if (rows.length === 0) return [];
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
    tx`
      WITH mine AS (
        SELECT * FROM jsonb_to_recordset(${json}::jsonb)
          AS r(plant_id text, source_system text, order_id text, lot_id text, role text)
      )
      INSERT INTO genealogy_edges (parent_plant, parent_system, parent_lot, child_plant,
        child_system, child_lot, kind, quantity, uom, event_id)
      SELECT DISTINCT ON (i.plant_id, i.source_system, i.lot_id, o.lot_id) i.plant_id,
        i.source_system, i.lot_id, o.plant_id, o.source_system, o.lot_id, 'consume',
        i.quantity, i.uom, i.event_id
      FROM mine m
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
 * Shipments: a lot received under the correlation id of a lot shipped elsewhere is that lot;
 * transfer edges for every pair under the batch's correlation ids (both sides' lot rows exist:
 * a shipment row comes only from its lot's own event).
 */
function shipmentLinks(tx: TransactionSql, lots: CanonicalLotEvent[], shipments: string[]) {
  if (shipments.length === 0) return [];
  const role = (e: CanonicalLotEvent) => e.eventType === "LOT_SHIPPED" ? "shipped" : "received";
  const rows: Rows = [
    ...winners(
      lots.filter(isShipment),
      (e) => [e.correlationId!, role(e), e.plantId, e.sourceSystem, e.lotId],
      () => false,
    ),
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
 * Where the chain of shipments of each lot received under `shipments` starts: follow the
 * first shipper (by sort order) of each received lot up, stopping where a cycle closes.
 * `ambiguous`: a lot on the way up or shipped on from a received lot has several shippers, or
 * the shipments make a cycle (then the result one by one depends on the order of events).
 */
function shipmentRoots(tx: TransactionSql, shipments: string[]) {
  return tx`
    WITH RECURSIVE received AS (
      SELECT DISTINCT r.plant_id, r.source_system, r.lot_id
      FROM shipment_lots r JOIN shipment_lots s USING (correlation_id)
      WHERE r.role = 'received' AND s.role = 'shipped'
        AND correlation_id = ANY(${shipments}::text[])
    ), up AS (
      SELECT plant_id AS to_plant, source_system AS to_system, lot_id AS to_lot, plant_id,
        source_system, lot_id, 0 AS depth
      FROM received
      UNION ALL
      SELECT u.to_plant, u.to_system, u.to_lot, f.plant_id, f.source_system, f.lot_id,
        u.depth + 1
      FROM up u CROSS JOIN LATERAL (
        SELECT s.plant_id, s.source_system, s.lot_id
        FROM shipment_lots r JOIN shipment_lots s USING (correlation_id)
        WHERE r.role = 'received' AND s.role = 'shipped' AND r.plant_id = u.plant_id
          AND r.source_system = u.source_system AND r.lot_id = u.lot_id
        ORDER BY s.plant_id, s.source_system, s.lot_id LIMIT 1
      ) AS f
    ) CYCLE plant_id, source_system, lot_id SET closed USING path,
    onward AS (
      SELECT * FROM received
      UNION
      SELECT r.plant_id, r.source_system, r.lot_id
      FROM onward d
      JOIN shipment_lots s ON s.plant_id = d.plant_id AND s.source_system = d.source_system
        AND s.lot_id = d.lot_id AND s.role = 'shipped'
      JOIN shipment_lots r ON r.correlation_id = s.correlation_id AND r.role = 'received'
    ), shippers AS (
      SELECT count(DISTINCT (s.plant_id, s.source_system, s.lot_id)) AS n
      FROM (SELECT plant_id, source_system, lot_id FROM up UNION SELECT * FROM onward) AS l
      JOIN shipment_lots r ON r.plant_id = l.plant_id AND r.source_system = l.source_system
        AND r.lot_id = l.lot_id AND r.role = 'received'
      JOIN shipment_lots s ON s.correlation_id = r.correlation_id AND s.role = 'shipped'
      GROUP BY l.plant_id, l.source_system, l.lot_id
    )
    SELECT DISTINCT ON (to_plant, to_system, to_lot) to_plant, to_system, to_lot, plant_id,
      source_system, lot_id,
      (SELECT bool_or(closed) FROM up) OR EXISTS (SELECT FROM shippers WHERE n > 1) AS ambiguous
    FROM up ORDER BY to_plant, to_system, to_lot, depth DESC`;
}

/**
 * Sets the canonical id of each received lot and of every lot shipped on from it: the own id
 * of the lot its chain of shipments starts at.
 */
async function relink(tx: TransactionSql, roots: readonly Record<string, unknown>[]) {
  if (roots.length === 0) return;
  const rows: Rows = roots.map((r, n) => ({
    n,
    canonical: ownCanonicalId(lotOfRow(r)),
    plant_id: String(r.to_plant),
    source_system: String(r.to_system),
    lot_id: String(r.to_lot),
  }));
  await tx`
    WITH RECURSIVE onward AS (
      SELECT * FROM jsonb_to_recordset(${tx.json(rows)}::jsonb) AS t(n integer, canonical uuid,
        plant_id text, source_system text, lot_id text)
      UNION
      SELECT d.n, d.canonical, r.plant_id, r.source_system, r.lot_id
      FROM onward d
      JOIN shipment_lots s ON s.plant_id = d.plant_id AND s.source_system = d.source_system
        AND s.lot_id = d.lot_id AND s.role = 'shipped'
      JOIN shipment_lots r ON r.correlation_id = s.correlation_id AND r.role = 'received'
    )
    UPDATE system_lots l SET canonical_lot_id = x.canonical
    FROM (SELECT DISTINCT ON (plant_id, source_system, lot_id) * FROM onward
      ORDER BY plant_id, source_system, lot_id, n DESC) AS x
    WHERE l.plant_id = x.plant_id AND l.source_system = x.source_system AND l.lot_id = x.lot_id
      AND l.canonical_lot_id <> x.canonical`;
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
