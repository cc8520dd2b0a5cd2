import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { silentLogger } from "../core/logger.ts";
import type { LotCommand } from "../core/plugin.ts";
import type { Sql } from "../io/postgres.ts";
import { createDatabase, type PrivateServer, startPostgres } from "../sim/servers.ts";
import { integrationTest } from "../../tests/_integration.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { markLotFeed } from "./lot_feed.ts";
import { applyLotEvents, ownCanonicalId } from "./lots.ts";
import { expireTransfers, findSagas, listSagas, transferSteps } from "./saga.ts";
import { migrate } from "./schema.ts";

let databases = 0;
let n = 0;
const event = (overrides: Partial<CanonicalLotEvent>) => sampleEvent(++n, overrides);

const SETTINGS = { targets: { B: "dynamics" }, timeoutSeconds: 3600 };

async function freshDatabase(server: PrivateServer): Promise<Sql> {
  const sql = await createDatabase(server, `s${++databases}`, 4);
  await migrate(sql);
  return sql;
}

/** Applies events the way the central role does: sagas and lot feed in the same transaction. */
async function apply(sql: Sql, events: CanonicalLotEvent[], settings = SETTINGS): Promise<void> {
  const steps = transferSteps(settings, silentLogger);
  await applyLotEvents(sql, events, {
    onApplied: async (tx, applied) => {
      await steps(tx, applied);
      await markLotFeed(tx, applied);
    },
  });
}

const outbox = async (sql: Sql) =>
  (await sql`SELECT subject, command FROM outbox ORDER BY created_at, command_id`)
    .map((r) => ({ subject: String(r.subject), command: r.command as LotCommand }));

const shipment = (lotId: string, reference: string) =>
  event({
    eventType: "LOT_SHIPPED",
    plantId: "A",
    sourceSystem: "sap",
    lotId,
    quantity: 40,
    correlationId: reference,
    destination: { plantId: "B" },
  });

const receipt = (lotId: string, reference: string) =>
  event({
    eventType: "LOT_RECEIVED",
    plantId: "B",
    sourceSystem: "dynamics",
    lotId,
    quantity: 40,
    correlationId: reference,
  });

const rejection = (commandId: string, plantId = "B", sourceSystem = "dynamics") =>
  event({
    eventType: "COMMAND_REJECTED",
    plantId,
    sourceSystem,
    lotId: "L1",
    correlationId: commandId,
    payload: { reason: "batch number exists" },
  });

integrationTest(
  "a shipment to another plant commands the receipt; the receipt completes the saga",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    await apply(sql, [shipment("L1", "STO-1")]);
    const [command] = await outbox(sql);
    assert.equal(command.subject, "lots.commands.B.dynamics");
    assert.equal(command.command.commandType, "RECEIVE_LOT");
    assert.equal(command.command.lotId, "L1");
    assert.equal(command.command.correlationId, "STO-1");
    assert.equal(command.command.quantity, 40);
    const [saga] = await findSagas(sql, "STO-1");
    assert.equal(saga.sagaId, command.command.commandId);
    assert.equal(saga.state, "commanded");

    // Re-applying the shipment (a re-send) starts nothing new.
    await apply(sql, [{ ...shipment("L1", "STO-1"), eventId: saga.shipmentEventId }]);
    assert.equal((await outbox(sql)).length, 1);

    const answer = receipt("L1-B", "STO-1");
    await apply(sql, [answer]);
    const [done] = await findSagas(sql, saga.sagaId);
    assert.equal(done.state, "completed");
    assert.equal(done.outcome, "received");
    assert.equal(done.answerEventId, answer.eventId);
    // The receipt is the same canonical lot as the shipped one.
    const lots = await sql`SELECT DISTINCT canonical_lot_id FROM system_lots
    WHERE (plant_id, lot_id) IN (('A', 'L1'), ('B', 'L1-B'))`;
    assert.equal(lots.length, 1);
    // Both lots, and the receipt's own former id, are marked for the MES feed.
    const marked = (await sql`SELECT canonical_lot_id FROM lot_feed`).map((r) =>
      String(r.canonical_lot_id)
    );
    assert.ok(marked.includes(String(lots[0].canonical_lot_id)));
    assert.ok(marked.includes(ownCanonicalId({ plantId: "B", system: "dynamics", lotId: "L1-B" })));
    await sql.end();
  },
);

integrationTest(
  "a rejected transfer compensates with an ADJUST_LOT to the source ERP",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    await apply(sql, [shipment("L1", "STO-2")]);
    const [{ sagaId }] = await findSagas(sql, "STO-2");
    await apply(sql, [rejection(sagaId)]);
    const [saga] = await findSagas(sql, sagaId);
    assert.equal(saga.state, "compensated");
    assert.equal(saga.outcome, "rejected");
    assert.equal(saga.reason, "batch number exists");
    const commands = await outbox(sql);
    assert.equal(commands.length, 2);
    const compensation = commands[1];
    assert.equal(compensation.subject, "lots.commands.A.sap");
    assert.equal(compensation.command.commandType, "ADJUST_LOT");
    assert.equal(compensation.command.commandId, saga.compensationCommandId);
    assert.equal(compensation.command.quantity, 40);
    assert.equal(compensation.command.payload?.compensates, sagaId);
    // A receipt after the compensation is recorded for review, and does not reopen the saga.
    const late = receipt("L1-B", "STO-2");
    await apply(sql, [late]);
    const [after] = await findSagas(sql, sagaId);
    assert.equal(after.state, "compensated");
    assert.equal(after.lateAnswerEventId, late.eventId);
    // The source ERP refusing the compensation leaves it to a person.
    await apply(sql, [rejection(saga.compensationCommandId!, "A", "sap")]);
    assert.equal((await findSagas(sql, sagaId))[0].state, "compensation_failed");
    assert.deepEqual(
      (await listSagas(sql, { state: "compensation_failed" })).map((s) => s.sagaId),
      [sagaId],
    );
    await sql.end();
  },
);

integrationTest("a transfer without an answer before the deadline compensates once", async () => {
  await using pg = await startPostgres();
  const sql = await freshDatabase(pg);
  await apply(sql, [shipment("L1", "STO-3")], { ...SETTINGS, timeoutSeconds: 1 });
  assert.equal(await expireTransfers(sql), 0, "not due yet");
  await new Promise((r) => setTimeout(r, 1100));
  // Two replicas looking at once: each due saga is taken by one of them.
  const expired = await Promise.all([expireTransfers(sql), expireTransfers(sql)]);
  assert.equal(expired[0] + expired[1], 1);
  const [saga] = await findSagas(sql, "STO-3");
  assert.equal(saga.state, "compensated");
  assert.equal(saga.outcome, "timed_out");
  assert.equal((await outbox(sql)).filter((c) => c.command.commandType === "ADJUST_LOT").length, 1);
  assert.equal(await expireTransfers(sql), 0);
  await sql.end();
});

integrationTest(
  "a receipt reported before its shipment completes the saga without a command",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    await apply(sql, [receipt("L1-B", "STO-4")]);
    await apply(sql, [shipment("L1", "STO-4")]);
    const [saga] = await findSagas(sql, "STO-4");
    assert.equal(saga.state, "completed");
    assert.equal(await outbox(sql).then((c) => c.length), 0);
    // A shipment to a plant without a configured target system starts no saga.
    await apply(sql, [{ ...shipment("L2", "STO-5"), destination: { plantId: "Z" } }]);
    assert.deepEqual(await findSagas(sql, "STO-5"), []);
    // ... unless the shipment names the system itself.
    await apply(sql, [{
      ...shipment("L3", "STO-6"),
      destination: { plantId: "Z", system: "infor" },
    }]);
    assert.equal((await findSagas(sql, "STO-6"))[0].target.system, "infor");
    await sql.end();
  },
);
