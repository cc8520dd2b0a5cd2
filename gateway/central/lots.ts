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
import { isRetryableTransactionError, type Sql, type TransactionSql } from "../io/postgres.ts";
import { EDGE_CONFLICT, ownCanonicalId, type Rows, winners } from "./batch_rows.ts";
import { AmbiguousShipments, linkShipments, shipmentLocks } from "./shipments.ts";

export { ownCanonicalId, type SystemLot } from "./batch_rows.ts";

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

/**
 * Appends to one plant's chain are serialized, and so are the two sides of a shipment
 * ({@linkcode shipmentLocks}). All locks in one order: no deadlock between replicas.
 */
function lock(tx: TransactionSql, events: readonly CanonicalLotEvent[]) {
  const keys = [
    ...[...new Set(events.map((e) => e.plantId))].sort()
      .map((p) => ({ key: `plantgate:audit:${p}`, shared: false })),
    ...shipmentLocks(events),
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
  const shipments = linkShipments(tx, lots);
  await Promise.all([
    auditAndLots(tx, applied, lots, options),
    ...parentEdges(tx, lots),
    ...orderLinks(tx, lots),
    ...shipments.statements,
  ]);
  await shipments.relink();
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

const EDGE_KINDS: Readonly<Record<string, string>> = {
  LOT_SPLIT: "split",
  LOT_MERGED: "merge",
  LOT_RECEIVED: "transfer",
};

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
