/**
 * What the batch driver (`lots.ts`) and the shipment links (`shipments.ts`) both use: system lot
 * identity and own canonical ids, picking one winner per key within a batch, and the rule for
 * genealogy edges given twice.
 *
 * @module
 */
import { uuidV5 } from "../core/uuid.ts";

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

/** Rows handed to one statement as a jsonb array (`jsonb_to_recordset`). */
export type Rows = Record<string, string | number | null>[];

/**
 * Of the items with one key, the one applying them one by one leaves: the first, replaced by
 * a later one only when `beats(later, kept)`.
 */
export function winners<T>(
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

/** Edges only grow; of two events giving one edge, the smaller event id's quantity stays. */
export const EDGE_CONFLICT = `
  ON CONFLICT (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
  DO UPDATE SET quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, event_id = EXCLUDED.event_id
  WHERE EXCLUDED.event_id < genealogy_edges.event_id`;
