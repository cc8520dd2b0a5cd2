/**
 * Genealogy queries: from a lot (canonical id, or plant:system:lot) back to what went into it,
 * or forward to what it went into, step by step across plants and ERPs.
 *
 * @module
 */
import { isUuid } from "../core/uuid.ts";
import type { Sql } from "../io/postgres.ts";

/** Which way to walk the genealogy. */
export type Direction = "back" | "forward";

/** One genealogy edge reached by a trace, `depth` steps from the start. */
export interface TraceStep {
  depth: number;
  kind: string;
  quantity: number | null;
  uom: string | null;
  from: TracedLot;
  to: TracedLot;
}

/** A lot as a trace shows it. */
export interface TracedLot {
  canonicalLotId: string;
  plantId: string;
  system: string;
  lotId: string;
  material: string | null;
  placeholder: boolean;
}

/** A canonical lot with the system lots it maps to. */
export interface LotView {
  canonicalLotId: string;
  material: string | null;
  quantity: number | null;
  uom: string | null;
  lastEventType: string | null;
  placeholder: boolean;
  systemLots: { plantId: string; system: string; lotId: string }[];
}

/**
 * The canonical id of `id`: a canonical UUID as it is, or `plant:system:lot` looked up in the
 * mapping. Undefined when the lot is unknown.
 */
export async function resolveLot(sql: Sql, id: string): Promise<string | undefined> {
  if (isUuid(id)) {
    const rows = await sql`SELECT 1 FROM system_lots WHERE canonical_lot_id = ${id} LIMIT 1`;
    return rows.length > 0 ? id.toLowerCase() : undefined;
  }
  const [plant, system, ...lot] = id.split(":");
  if (!plant || !system || lot.length === 0) return undefined;
  const [row] = await sql`SELECT canonical_lot_id FROM system_lots WHERE plant_id = ${plant}
    AND source_system = ${system} AND lot_id = ${lot.join(":")}`;
  return row ? String(row.canonical_lot_id) : undefined;
}

/** A canonical lot and its system lots, or undefined. */
export async function lotView(sql: Sql, canonicalLotId: string): Promise<LotView | undefined> {
  const [lot] = await sql`SELECT * FROM canonical_lots WHERE canonical_lot_id = ${canonicalLotId}`;
  if (!lot) return undefined;
  const systemLots = await sql`SELECT plant_id, source_system, lot_id FROM system_lots
    WHERE canonical_lot_id = ${canonicalLotId} ORDER BY plant_id, source_system, lot_id`;
  return {
    canonicalLotId,
    material: lot.material,
    quantity: lot.quantity === null ? null : Number(lot.quantity),
    uom: lot.uom,
    lastEventType: lot.event_type,
    placeholder: lot.placeholder,
    systemLots: systemLots.map((r) => ({
      plantId: r.plant_id,
      system: r.source_system,
      lotId: r.lot_id,
    })),
  };
}

/**
 * Walks the genealogy from every system lot of a canonical lot, up to `depth` steps, `back`
 * (parents) or `forward` (children). Each edge is reported once, at its smallest depth.
 */
export async function traceLot(
  sql: Sql,
  canonicalLotId: string,
  options: { direction: Direction; depth: number },
): Promise<TraceStep[]> {
  const back = options.direction === "back";
  // Walk on system lots ("near" = the side already reached, "far" = the side reached next).
  const [near, far] = back ? ["child", "parent"] : ["parent", "child"];
  const rows = await sql.unsafe(
    `WITH RECURSIVE walk(plant, system, lot, depth) AS (
       SELECT plant_id, source_system, lot_id, 0 FROM system_lots WHERE canonical_lot_id = $1
       UNION
       SELECT e.${far}_plant, e.${far}_system, e.${far}_lot, w.depth + 1
       FROM genealogy_edges e JOIN walk w
         ON e.${near}_plant = w.plant AND e.${near}_system = w.system AND e.${near}_lot = w.lot
       WHERE w.depth < $2
     ),
     reached AS (
       SELECT e.*, min(w.depth) + 1 AS depth
       FROM genealogy_edges e JOIN walk w
         ON e.${near}_plant = w.plant AND e.${near}_system = w.system AND e.${near}_lot = w.lot
       WHERE w.depth < $2
       GROUP BY e.parent_plant, e.parent_system, e.parent_lot, e.child_plant, e.child_system,
         e.child_lot, e.kind
     )
     SELECT r.depth, r.kind, r.quantity, r.uom,
       p.canonical_lot_id AS p_canonical, r.parent_plant, r.parent_system, r.parent_lot,
       p.material AS p_material, p.placeholder AS p_placeholder,
       c.canonical_lot_id AS c_canonical, r.child_plant, r.child_system, r.child_lot,
       c.material AS c_material, c.placeholder AS c_placeholder
     FROM reached r
     JOIN system_lots p ON p.plant_id = r.parent_plant AND p.source_system = r.parent_system
       AND p.lot_id = r.parent_lot
     JOIN system_lots c ON c.plant_id = r.child_plant AND c.source_system = r.child_system
       AND c.lot_id = r.child_lot
     ORDER BY r.depth, r.parent_plant, r.parent_system, r.parent_lot, r.child_plant,
       r.child_system, r.child_lot, r.kind`,
    [canonicalLotId, options.depth],
  );
  return rows.map((r) => ({
    depth: Number(r.depth),
    kind: r.kind,
    quantity: r.quantity === null ? null : Number(r.quantity),
    uom: r.uom,
    from: {
      canonicalLotId: String(r.p_canonical),
      plantId: r.parent_plant,
      system: r.parent_system,
      lotId: r.parent_lot,
      material: r.p_material,
      placeholder: r.p_placeholder,
    },
    to: {
      canonicalLotId: String(r.c_canonical),
      plantId: r.child_plant,
      system: r.child_system,
      lotId: r.child_lot,
      material: r.c_material,
      placeholder: r.c_placeholder,
    },
  }));
}

const CSV_COLUMNS = [
  "depth",
  "kind",
  "quantity",
  "uom",
  "from_canonical_lot_id",
  "from_plant",
  "from_system",
  "from_lot",
  "from_material",
  "to_canonical_lot_id",
  "to_plant",
  "to_system",
  "to_lot",
  "to_material",
];

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A trace as CSV (RFC 4180, header row), for a sortable spreadsheet. */
export function traceCsv(steps: TraceStep[]): string {
  const rows = steps.map((s) =>
    [
      s.depth,
      s.kind,
      s.quantity,
      s.uom,
      s.from.canonicalLotId,
      s.from.plantId,
      s.from.system,
      s.from.lotId,
      s.from.material,
      s.to.canonicalLotId,
      s.to.plantId,
      s.to.system,
      s.to.lotId,
      s.to.material,
    ].map(csvField).join(",")
  );
  return [CSV_COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}
