/**
 * Transfer sagas. A lot shipped to another plant starts one: a RECEIVE_LOT command for the
 * target plant's ERP goes into the outbox in the same transaction as the shipment. The saga
 * completes when the target plant reports the receipt (a LOT_RECEIVED there whose correlation id
 * is the shipment's reference or the command id). It compensates when the target ERP rejects the
 * command (COMMAND_REJECTED, correlation id = command id) or does not answer before the
 * deadline: an ADJUST_LOT command tells the source ERP to put the quantity back into stock. If
 * the source ERP rejects that too, the saga ends `compensation_failed` for a person to resolve.
 *
 * Every step is a row change in the transaction that caused it, so replicas and crashes cannot
 * start a saga twice, lose a command or compensate a completed transfer.
 *
 * @module
 */
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import type { CentralConfig } from "../core/central_config.ts";
import type { Logger } from "../core/logger.ts";
import type { LotCommand } from "../core/plugin.ts";
import { isUuid, UUID_PATTERN, uuidV5 } from "../core/uuid.ts";
import type { Sql, TransactionSql } from "../io/postgres.ts";

/** Where a saga is. */
export type SagaState = "commanded" | "completed" | "compensated" | "compensation_failed";

/** Why a saga ended the way it did. */
export type SagaOutcome = "received" | "rejected" | "timed_out";

/** The `transfers` config section. */
export type TransferSettings = CentralConfig["transfers"];

/** A saga as the API and the CLI show it. */
export interface SagaView {
  sagaId: string;
  state: SagaState;
  outcome: SagaOutcome | null;
  reason: string | null;
  correlationId: string;
  lot: { plantId: string; system: string; lotId: string };
  material: string;
  quantity: number;
  uom: string;
  target: { plantId: string; system: string };
  shipmentEventId: string;
  answerEventId: string | null;
  compensationCommandId: string | null;
  lateAnswerEventId: string | null;
  deadline: string;
  createdAt: string;
  updatedAt: string;
}

/** JetStream subject of commands for one system at one plant. */
export function commandSubject(plantId: string, system: string): string {
  return `lots.commands.${plantId}.${system}`;
}

/** Writes a command to the outbox (published after commit by the relay); once per command id. */
export async function enqueueCommand(tx: TransactionSql, command: LotCommand): Promise<void> {
  await tx`
    INSERT INTO outbox (command_id, subject, command)
    VALUES (${command.commandId}, ${commandSubject(command.plantId, command.targetSystem)},
      ${tx.json(command as unknown as Parameters<typeof tx.json>[0])})
    ON CONFLICT (command_id) DO NOTHING`;
}

/**
 * The saga steps of a batch of applied events, for `ApplyOptions.onApplied`: shipments to other
 * plants start sagas, receipts complete them, rejections compensate them.
 */
export function transferSteps(
  settings: TransferSettings,
  log: Logger,
): (tx: TransactionSql, applied: readonly CanonicalLotEvent[]) => Promise<void> {
  return async (tx, applied) => {
    for (const event of applied) {
      if (event.eventType === "LOT_SHIPPED") await start(tx, event, settings, log);
      else if (event.eventType === "COMMAND_REJECTED") await rejected(tx, event, log);
    }
    const receipts = applied.filter((e) =>
      e.eventType === "LOT_RECEIVED" && e.correlationId !== undefined
    );
    if (receipts.length > 0) await received(tx, receipts, log);
  };
}

async function start(
  tx: TransactionSql,
  event: CanonicalLotEvent,
  settings: TransferSettings,
  log: Logger,
): Promise<void> {
  const target = event.destination;
  if (!target || target.plantId === event.plantId || event.correlationId === undefined) return;
  const system = target.system ?? settings.targets[target.plantId];
  if (system === undefined) {
    log.warn("No target system for a transfer: no receive command sent", {
      plant: target.plantId,
      eventId: event.eventId,
      hint: `set transfers.targets.${target.plantId} in the central config`,
    });
    return;
  }
  const sagaId = uuidV5(`transfer:${event.eventId}`);
  // The target may have reported the receipt before the shipment reached the centre.
  const [receipt] = await tx`
    SELECT event_id FROM shipment_lots
    WHERE correlation_id = ${event.correlationId} AND role = 'received'
      AND plant_id = ${target.plantId}
    ORDER BY event_id LIMIT 1`;
  const inserted = await tx`
    INSERT INTO transfer_sagas (saga_id, shipment_event_id, correlation_id, source_plant,
      source_system, lot_id, material, quantity, uom, target_plant, target_system, state,
      outcome, deadline, answer_event_id)
    VALUES (${sagaId}, ${event.eventId}, ${event.correlationId}, ${event.plantId},
      ${event.sourceSystem}, ${event.lotId}, ${event.material}, ${event.quantity}, ${event.uom},
      ${target.plantId}, ${system}, ${receipt ? "completed" : "commanded"},
      ${receipt ? "received" : null},
      now() + make_interval(secs => ${settings.timeoutSeconds}), ${receipt?.event_id ?? null})
    ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id`;
  if (inserted.length === 0 || receipt) return;
  await enqueueCommand(tx, {
    commandId: sagaId,
    commandType: "RECEIVE_LOT",
    plantId: target.plantId,
    targetSystem: system,
    lotId: event.lotId,
    material: event.material,
    quantity: event.quantity,
    uom: event.uom,
    correlationId: event.correlationId,
    issuedAt: new Date().toISOString(),
    payload: {
      sourcePlant: event.plantId,
      sourceSystem: event.sourceSystem,
      shipmentEventId: event.eventId,
    },
  });
}

/**
 * Receipts complete the sagas they answer, in one statement per batch: matched at the target
 * plant by the shipment's reference or the command id; when several answer one saga, the
 * smallest event id. A receipt for a saga that already compensated is kept for review.
 */
async function received(
  tx: TransactionSql,
  receipts: readonly CanonicalLotEvent[],
  log: Logger,
): Promise<void> {
  const rows = await tx`
    WITH r AS (
      SELECT * FROM unnest(${receipts.map((e) => e.plantId)}::text[],
        ${receipts.map((e) => e.correlationId!)}::text[],
        ${receipts.map((e) => e.eventId)}::uuid[]) AS r(plant, reference, event_id)
    ), answers AS (
      SELECT s.saga_id, r.event_id FROM r JOIN transfer_sagas s
        ON s.target_plant = r.plant AND s.correlation_id = r.reference
      UNION ALL
      SELECT s.saga_id, r.event_id FROM r JOIN transfer_sagas s
        ON s.saga_id = CASE WHEN r.reference ~* ${UUID_PATTERN} THEN r.reference::uuid END
          AND s.target_plant = r.plant
    ), first AS (
      SELECT DISTINCT ON (a.saga_id) a.saga_id, a.event_id FROM answers a
        JOIN transfer_sagas s USING (saga_id)
      WHERE s.state = 'commanded' OR (s.state <> 'completed' AND s.late_answer_event_id IS NULL)
      ORDER BY a.saga_id, a.event_id
    )
    UPDATE transfer_sagas t SET
      state = CASE WHEN t.state = 'commanded' THEN 'completed' ELSE t.state END,
      outcome = CASE WHEN t.state = 'commanded' THEN 'received' ELSE t.outcome END,
      answer_event_id = CASE WHEN t.state = 'commanded' THEN f.event_id
        ELSE t.answer_event_id END,
      late_answer_event_id = CASE WHEN t.state = 'commanded' THEN t.late_answer_event_id
        ELSE f.event_id END,
      updated_at = now()
    FROM first f WHERE t.saga_id = f.saga_id
    RETURNING t.saga_id, t.state, f.event_id`;
  for (const row of rows) {
    if (row.state !== "completed") {
      log.warn("Transfer received after the saga compensated: check the source stock", {
        sagaId: row.saga_id,
        eventId: row.event_id,
      });
    }
  }
}

async function rejected(tx: TransactionSql, event: CanonicalLotEvent, log: Logger) {
  const commandId = event.correlationId;
  if (commandId === undefined) return;
  const reason = String(event.payload?.reason ?? "rejected by the ERP");
  const due = await tx`
    SELECT * FROM transfer_sagas
    WHERE saga_id::text = ${commandId} AND state = 'commanded' FOR UPDATE`;
  await compensate(tx, due, "rejected", reason);
  const failed = await tx`
    UPDATE transfer_sagas SET state = 'compensation_failed', reason = ${reason}, updated_at = now()
    WHERE compensation_id::text = ${commandId} AND state = 'compensated'
    RETURNING saga_id`;
  for (const row of failed) {
    log.error("The source ERP rejected a transfer's compensation: resolve by hand", {
      code: "command_unsupported",
      sagaId: row.saga_id,
      reason,
    });
  }
}

/** Marks sagas compensated and sends each source ERP an ADJUST_LOT putting the lot back. */
async function compensate(
  tx: TransactionSql,
  sagas: readonly Record<string, unknown>[],
  outcome: SagaOutcome,
  reason: string,
): Promise<void> {
  for (const saga of sagas) {
    const compensationId = uuidV5(`compensate:${saga.saga_id}`);
    await tx`
      UPDATE transfer_sagas SET state = 'compensated', outcome = ${outcome}, reason = ${reason},
        compensation_id = ${compensationId}, updated_at = now()
      WHERE saga_id = ${String(saga.saga_id)}`;
    await enqueueCommand(tx, {
      commandId: compensationId,
      commandType: "ADJUST_LOT",
      plantId: String(saga.source_plant),
      targetSystem: String(saga.source_system),
      lotId: String(saga.lot_id),
      material: String(saga.material),
      quantity: Number(saga.quantity),
      uom: String(saga.uom),
      correlationId: String(saga.correlation_id),
      issuedAt: new Date().toISOString(),
      payload: { reasonCode: "TRANSFER_FAILED", compensates: String(saga.saga_id), reason },
    });
  }
}

/**
 * Compensates the sagas whose deadline passed without an answer; returns how many. Safe with
 * any number of replicas (each saga is taken by one).
 */
export async function expireTransfers(sql: Sql, limit = 100): Promise<number> {
  return await sql.begin(async (tx) => {
    const due = await tx`
      SELECT * FROM transfer_sagas WHERE state = 'commanded' AND deadline < now()
      ORDER BY deadline LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
    for (const saga of due) {
      await compensate(tx, [saga], "timed_out", `no answer from ${saga.target_plant} in time`);
    }
    return due.length;
  });
}

function view(row: Record<string, unknown>): SagaView {
  const text = (v: unknown) => v === null ? null : String(v);
  const time = (v: unknown) => (v as Date).toISOString();
  return {
    sagaId: String(row.saga_id),
    state: row.state as SagaState,
    outcome: row.outcome as SagaOutcome | null,
    reason: text(row.reason),
    correlationId: String(row.correlation_id),
    lot: {
      plantId: String(row.source_plant),
      system: String(row.source_system),
      lotId: String(row.lot_id),
    },
    material: String(row.material),
    quantity: Number(row.quantity),
    uom: String(row.uom),
    target: { plantId: String(row.target_plant), system: String(row.target_system) },
    shipmentEventId: String(row.shipment_event_id),
    answerEventId: text(row.answer_event_id),
    compensationCommandId: text(row.compensation_id),
    lateAnswerEventId: text(row.late_answer_event_id),
    deadline: time(row.deadline),
    createdAt: time(row.created_at),
    updatedAt: time(row.updated_at),
  };
}

/** One saga by its id (= the receive command's id) or the shipment's reference. */
export async function findSagas(sql: Sql, id: string): Promise<SagaView[]> {
  const rows = isUuid(id)
    ? await sql`SELECT * FROM transfer_sagas WHERE saga_id = ${id}`
    : await sql`SELECT * FROM transfer_sagas WHERE correlation_id = ${id} ORDER BY created_at`;
  return rows.map(view);
}

/** Sagas, newest change first, optionally in one state. */
export async function listSagas(
  sql: Sql,
  filter: { state?: SagaState; limit?: number } = {},
): Promise<SagaView[]> {
  const rows = await sql`
    SELECT * FROM transfer_sagas
    WHERE ${filter.state === undefined ? sql`true` : sql`state = ${filter.state}`}
    ORDER BY updated_at DESC, saga_id LIMIT ${filter.limit ?? 100}`;
  return rows.map(view);
}

/** Sagas per state, for the metrics. */
export async function countSagas(sql: Sql): Promise<Record<SagaState, number>> {
  const counts = { commanded: 0, completed: 0, compensated: 0, compensation_failed: 0 };
  for (const row of await sql`SELECT state, count(*) AS n FROM transfer_sagas GROUP BY state`) {
    counts[row.state as SagaState] = Number(row.n);
  }
  return counts;
}
