/**
 * Shipments between plants: a lot received under the correlation id of a lot shipped elsewhere
 * is that lot. Links the two sides (`shipment_lots`, transfer edges) under correlation locks
 * and relinks canonical ids to the lot a chain of shipments starts at, telling the batch
 * driver (`lots.ts`) when its shipments are too tangled to apply at once.
 *
 * @module
 */
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import type { TransactionSql } from "../io/postgres.ts";
import { EDGE_CONFLICT, ownCanonicalId, type Rows, winners } from "./batch_rows.ts";

const isShipment = (e: CanonicalLotEvent) =>
  e.correlationId !== undefined &&
  (e.eventType === "LOT_SHIPPED" || e.eventType === "LOT_RECEIVED");

/**
 * The advisory locks of the events' shipments, in sort order. The two sides of a shipment are
 * usually applied by different plants' transactions: without the lock each could miss the
 * other's uncommitted row and neither would link them. Receipts under one correlation id need
 * not wait for each other (plants often share purchase order numbers): a batch with only
 * receipts under it takes that lock shared.
 */
export function shipmentLocks(
  events: readonly CanonicalLotEvent[],
): { key: string; shared: boolean }[] {
  const shipments = Map.groupBy(events.filter(isShipment), (e) => e.correlationId!);
  return [...shipments.keys()].sort().map((c) => ({
    key: `plantgate:shipment:${c}`,
    shared: shipments.get(c)!.every((e) => e.eventType === "LOT_RECEIVED"),
  }));
}

/**
 * Several shipment events in a batch around a lot received from two lots, or a cycle of
 * shipments: one by one, canonical ids then depend on the order, so the batch is applied one
 * event after the other (in one transaction still).
 */
export class AmbiguousShipments extends Error {}

/**
 * The statements linking the batch's shipments, to be pipelined after its lots' statements,
 * and the relinking to run once all are done; it throws {@linkcode AmbiguousShipments} when
 * the batch's shipments are tangled.
 */
export function linkShipments(
  tx: TransactionSql,
  lots: readonly CanonicalLotEvent[],
): { statements: Promise<unknown>[]; relink: () => Promise<void> } {
  const shipped = lots.filter(isShipment);
  const shipments = [...new Set(shipped.map((e) => e.correlationId!))];
  if (shipments.length === 0) return { statements: [], relink: async () => {} };
  const roots = shipmentRoots(tx, shipments);
  return {
    statements: [...shipmentLinks(tx, shipped, shipments), roots],
    relink: async () => {
      const found = await roots;
      if (shipped.length > 1 && found.some((r) => r.ambiguous)) throw new AmbiguousShipments();
      await relink(tx, found);
    },
  };
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
