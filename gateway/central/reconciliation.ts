/**
 * Reconciliation: asks each ERP for its current lots and reports where it and the centre
 * differ. A run is one REPORT_LOTS command to one plant/system (run id = command id) through the
 * outbox and the plant's edge; the ERP's stock report comes back as LOT_STOCK_REPORTED events
 * (one per line, each saying how many lines the report has) through the same fsync'd path as
 * every other event. When the last line is in, the run compares, in the same transaction:
 *
 * - `unknown_to_centre`: the ERP holds a lot the centre has no event of (a lost event);
 * - `missing_in_erp`: the centre expects stock of a lot the ERP does not list — a lot whose
 *   last event leaves stock (created, received, split, merged, adjusted, staged) and that went
 *   into no other lot (a parent of a split, merge or order may be used up);
 * - `material_differs`: both know the lot, under different materials;
 * - `quantity_differs`: the centre's state holds the lot's full quantity (its last event created,
 *   received, split or merged it and nothing was taken from it) and the ERP's on-hand differs.
 *
 * The centre's lot state is the last event's, not an on-hand balance, so quantities are only
 * compared where that is the same thing. Corrective commands are opt-in per kind
 * (`reconciliation.correct`): for `missing_in_erp`, a CREATE_LOT with the centre's state.
 *
 * @module
 */
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import type { CentralConfig } from "../core/central_config.ts";
import type { Logger } from "../core/logger.ts";
import { uuidV5 } from "../core/uuid.ts";
import type { Sql, TransactionSql } from "../io/postgres.ts";
import { enqueueCommand } from "./saga.ts";

/** How an ERP and the centre differ about one lot. */
export type DriftKind =
  | "unknown_to_centre"
  | "missing_in_erp"
  | "material_differs"
  | "quantity_differs";

/** The `reconciliation` config section. */
export type ReconciliationSettings = CentralConfig["reconciliation"];

/** One difference found by a run. */
export interface Drift {
  lotId: string;
  kind: DriftKind;
  erp: { material: string; quantity: number } | null;
  centre: { material: string | null; quantity: number | null } | null;
  uom: string | null;
}

/** A run as the report shows it. */
export interface RunView {
  runId: string;
  plantId: string;
  system: string;
  lotFilter: string;
  materialFilter: string;
  state: "requested" | "done" | "rejected" | "incomplete";
  expectedLines: number | null;
  receivedLines: number;
  reason: string | null;
  requestedAt: string;
  finishedAt: string | null;
  drift: Drift[];
}

/** What to reconcile: every plant/system the centre has lots of, or the ones named. */
export interface ReconcileRequest {
  plantId?: string;
  system?: string;
  /** One lot, or "*" (default). */
  lotId?: string;
  /** One material, or "*" (default). */
  material?: string;
  /** Skip a plant/system asked less than this many seconds ago. Default: always ask. */
  minAgeSeconds?: number;
}

/**
 * Starts runs (REPORT_LOTS commands in the outbox, published by the relay); returns their ids.
 * One replica at a time decides (advisory lock), so a schedule on every replica asks once.
 */
export async function requestReconciliation(
  sql: Sql,
  request: ReconcileRequest = {},
): Promise<string[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('plantgate:reconcile'))`;
    const targets = await tx`
      SELECT DISTINCT s.plant_id, s.source_system FROM system_lots s
      WHERE ${request.plantId === undefined ? tx`true` : tx`s.plant_id = ${request.plantId}`}
        AND ${request.system === undefined ? tx`true` : tx`s.source_system = ${request.system}`}
        AND NOT EXISTS (SELECT 1 FROM reconciliation_runs r
          WHERE r.plant_id = s.plant_id AND r.source_system = s.source_system
            AND r.requested_at > now() - make_interval(secs => ${request.minAgeSeconds ?? 0}))
      ORDER BY 1, 2`;
    const runs: string[] = [];
    for (const target of targets) {
      const runId = crypto.randomUUID();
      const plantId = String(target.plant_id), system = String(target.source_system);
      await tx`INSERT INTO reconciliation_runs (run_id, plant_id, source_system, lot_filter,
          material_filter, state)
        VALUES (${runId}, ${plantId}, ${system}, ${request.lotId ?? "*"},
          ${request.material ?? "*"}, 'requested')`;
      await enqueueCommand(tx, {
        commandId: runId,
        commandType: "REPORT_LOTS",
        plantId,
        targetSystem: system,
        lotId: request.lotId ?? "*",
        material: request.material ?? "*",
        quantity: 0,
        uom: "H87",
        issuedAt: new Date().toISOString(),
      });
      runs.push(runId);
    }
    return runs;
  });
}

/** Marks runs whose report did not complete in time `incomplete`; returns how many. */
export async function expireReconciliations(sql: Sql, timeoutSeconds: number): Promise<number> {
  const rows = await sql`
    UPDATE reconciliation_runs SET state = 'incomplete', finished_at = now(),
      reason = 'the stock report did not arrive complete in time'
    WHERE state = 'requested' AND requested_at < now() - make_interval(secs => ${timeoutSeconds})
    RETURNING run_id`;
  return rows.length;
}

/**
 * The reconciliation steps of a batch of applied events, for `ApplyOptions.onApplied`: report
 * lines are collected, a run finishes when its last line is in, and a rejected REPORT_LOTS
 * ends its run.
 */
export function reconciliationSteps(
  settings: ReconciliationSettings,
  log: Logger,
): (tx: TransactionSql, applied: readonly CanonicalLotEvent[]) => Promise<void> {
  return async (tx, applied) => {
    const reports = applied.filter((e) =>
      e.eventType === "LOT_STOCK_REPORTED" && e.correlationId !== undefined
    );
    const rejections = applied.filter((e) =>
      e.eventType === "COMMAND_REJECTED" && e.correlationId !== undefined
    );
    for (const event of rejections) {
      await tx`UPDATE reconciliation_runs SET state = 'rejected', finished_at = now(),
          reason = ${String(event.payload?.reason ?? "rejected by the ERP")}
        WHERE run_id::text = ${event.correlationId!} AND state = 'requested'`;
    }
    if (reports.length === 0) return;
    const runIds = [...new Set(reports.map((e) => e.correlationId!))];
    const open = new Set(
      (await tx`SELECT run_id FROM reconciliation_runs
        WHERE run_id::text = ANY(${runIds}) AND state = 'requested' ORDER BY run_id FOR UPDATE`)
        .map((r) => String(r.run_id)),
    );
    const lines = reports.filter((e) => open.has(e.correlationId!));
    for (const event of reports.filter((e) => !open.has(e.correlationId!))) {
      log.warn("Stock report line for no open reconciliation run: ignored", {
        eventId: event.eventId,
        runId: event.correlationId,
      });
    }
    // Every line of a report says how many lines it has.
    await tx`UPDATE reconciliation_runs r SET expected_lines = l.lines
      FROM unnest(${lines.map((e) => e.correlationId!)}::uuid[],
        ${lines.map((e) => Number(e.payload?.lines ?? 0))}::int[]) AS l(run_id, lines)
      WHERE r.run_id = l.run_id`;
    const stock = lines.filter((e) => e.lotId !== "*" && Number(e.payload?.lines ?? 0) > 0);
    await tx`INSERT INTO reconciliation_lines (run_id, line, lot_id, material, quantity, uom)
      SELECT * FROM unnest(${stock.map((e) => e.correlationId!)}::uuid[],
        ${stock.map((e) => Number(e.payload?.line ?? 0))}::int[],
        ${stock.map((e) => e.lotId)}::text[], ${stock.map((e) => e.material)}::text[],
        ${stock.map((e) => e.quantity)}::numeric[], ${stock.map((e) => e.uom)}::text[])
      ON CONFLICT DO NOTHING`;
    for (const runId of open) await finishIfComplete(tx, runId, settings);
  };
}

/** Last event types after which a lot still has stock. */
const HOLDS_STOCK = [
  "LOT_CREATED",
  "LOT_RECEIVED",
  "LOT_SPLIT",
  "LOT_MERGED",
  "LOT_ADJUSTED",
  "LOT_STAGED",
];
/** Last event types whose quantity is the lot's whole quantity. */
const FULL_QUANTITY = ["LOT_CREATED", "LOT_RECEIVED", "LOT_SPLIT", "LOT_MERGED"];

async function finishIfComplete(
  tx: TransactionSql,
  runId: string,
  settings: ReconciliationSettings,
): Promise<void> {
  const [run] = await tx`SELECT r.*, (SELECT count(*) FROM reconciliation_lines l
      WHERE l.run_id = r.run_id) AS received
    FROM reconciliation_runs r WHERE run_id = ${runId}`;
  if (run.expected_lines === null || Number(run.received) < Number(run.expected_lines)) return;
  const drift = await tx`
    WITH erp AS (
      SELECT lot_id, min(material) AS material, sum(quantity) AS quantity, min(uom) AS uom
      FROM reconciliation_lines WHERE run_id = ${runId} GROUP BY lot_id
    ), centre AS (
      SELECT s.lot_id, s.material, s.quantity, s.uom, s.event_type, s.placeholder,
        EXISTS (SELECT 1 FROM genealogy_edges g WHERE g.parent_plant = s.plant_id
          AND g.parent_system = s.source_system AND g.parent_lot = s.lot_id) AS used
      FROM system_lots s
      WHERE s.plant_id = ${run.plant_id} AND s.source_system = ${run.source_system}
        AND (${run.lot_filter} = '*' OR s.lot_id = ${run.lot_filter})
        AND (${run.material_filter} = '*' OR s.material = ${run.material_filter})
    )
    INSERT INTO reconciliation_drift (run_id, lot_id, kind, erp_material, erp_quantity,
      centre_material, centre_quantity, uom)
    SELECT ${runId}::uuid, e.lot_id, 'unknown_to_centre', e.material, e.quantity, NULL, NULL, e.uom
      FROM erp e LEFT JOIN centre c USING (lot_id) WHERE c.lot_id IS NULL OR c.placeholder
    UNION ALL
    SELECT ${runId}::uuid, c.lot_id, 'missing_in_erp', NULL, NULL, c.material, c.quantity, c.uom
      FROM centre c LEFT JOIN erp e USING (lot_id)
      WHERE e.lot_id IS NULL AND NOT c.placeholder AND NOT c.used
        AND c.event_type = ANY(${HOLDS_STOCK})
    UNION ALL
    SELECT ${runId}::uuid, c.lot_id, 'material_differs', e.material, e.quantity, c.material,
        c.quantity, e.uom
      FROM centre c JOIN erp e USING (lot_id) WHERE NOT c.placeholder AND c.material <> e.material
    UNION ALL
    SELECT ${runId}::uuid, c.lot_id, 'quantity_differs', e.material, e.quantity, c.material,
        c.quantity, e.uom
      FROM centre c JOIN erp e USING (lot_id)
      WHERE NOT c.placeholder AND NOT c.used AND c.event_type = ANY(${FULL_QUANTITY})
        AND c.uom = e.uom AND c.quantity <> e.quantity
    RETURNING lot_id, kind, centre_material, centre_quantity, uom`;
  await tx`UPDATE reconciliation_runs SET state = 'done', finished_at = now(),
      drift = ${drift.length}
    WHERE run_id = ${runId}`;
  if (!settings.correct.includes("missing_in_erp")) return;
  for (const row of drift.filter((d) => d.kind === "missing_in_erp")) {
    await enqueueCommand(tx, {
      commandId: uuidV5(`reconcile:${runId}:${row.lot_id}`),
      commandType: "CREATE_LOT",
      plantId: String(run.plant_id),
      targetSystem: String(run.source_system),
      lotId: String(row.lot_id),
      material: String(row.centre_material),
      quantity: Number(row.centre_quantity),
      uom: String(row.uom),
      issuedAt: new Date().toISOString(),
      payload: { reason: "reconciliation", runId },
    });
  }
}

function runView(row: Record<string, unknown>, drift: Drift[]): RunView {
  const time = (v: unknown) => v === null ? null : (v as Date).toISOString();
  return {
    runId: String(row.run_id),
    plantId: String(row.plant_id),
    system: String(row.source_system),
    lotFilter: String(row.lot_filter),
    materialFilter: String(row.material_filter),
    state: row.state as RunView["state"],
    expectedLines: row.expected_lines === null ? null : Number(row.expected_lines),
    receivedLines: Number(row.received),
    reason: row.reason === null ? null : String(row.reason),
    requestedAt: time(row.requested_at)!,
    finishedAt: time(row.finished_at),
    drift,
  };
}

/** The latest run of each plant/system (or of the ones named), with its drift. */
export async function latestRuns(
  sql: Sql,
  filter: { plantId?: string; system?: string } = {},
): Promise<RunView[]> {
  const runs = await sql`
    SELECT DISTINCT ON (plant_id, source_system) r.*,
      (SELECT count(*) FROM reconciliation_lines l WHERE l.run_id = r.run_id) AS received
    FROM reconciliation_runs r
    WHERE ${filter.plantId === undefined ? sql`true` : sql`plant_id = ${filter.plantId}`}
      AND ${filter.system === undefined ? sql`true` : sql`source_system = ${filter.system}`}
    ORDER BY plant_id, source_system, requested_at DESC`;
  const ids = runs.map((r) => String(r.run_id));
  const drift = await sql`SELECT * FROM reconciliation_drift WHERE run_id = ANY(${ids}::uuid[])
    ORDER BY lot_id, kind`;
  const number = (v: unknown) => v === null ? null : Number(v);
  return runs.map((run) =>
    runView(
      run,
      drift.filter((d) => String(d.run_id) === String(run.run_id)).map((d) => ({
        lotId: String(d.lot_id),
        kind: d.kind as DriftKind,
        erp: d.erp_material === null && d.erp_quantity === null
          ? null
          : { material: String(d.erp_material), quantity: Number(d.erp_quantity) },
        centre: d.centre_material === null && d.centre_quantity === null
          ? null
          : { material: d.centre_material, quantity: number(d.centre_quantity) },
        uom: d.uom === null ? null : String(d.uom),
      })),
    )
  );
}

/** Drifting lots per plant in the latest finished run of each plant/system (the metric). */
export async function driftByPlant(sql: Sql): Promise<Map<string, number>> {
  const rows = await sql`
    SELECT plant_id, sum(drift) AS drift FROM (
      SELECT DISTINCT ON (plant_id, source_system) plant_id, drift FROM reconciliation_runs
      WHERE state = 'done' ORDER BY plant_id, source_system, requested_at DESC) latest
    GROUP BY plant_id`;
  return new Map(rows.map((r) => [String(r.plant_id), Number(r.drift)]));
}
