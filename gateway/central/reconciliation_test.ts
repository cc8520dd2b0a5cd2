import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { silentLogger } from "../core/logger.ts";
import type { LotCommand } from "../core/plugin.ts";
import type { Sql } from "../io/postgres.ts";
import { createDatabase, type PrivateServer, startPostgres } from "../sim/servers.ts";
import { integrationTest } from "../../tests/_integration.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { applyLotEvents } from "./lots.ts";
import {
  driftByPlant,
  expireReconciliations,
  latestRuns,
  type ReconciliationSettings,
  reconciliationSteps,
  requestReconciliation,
} from "./reconciliation.ts";
import { migrate } from "./schema.ts";

let databases = 0;
let n = 0;
const event = (overrides: Partial<CanonicalLotEvent>) =>
  sampleEvent(++n, { plantId: "A", sourceSystem: "sap", ...overrides });

const REPORT_ONLY: ReconciliationSettings = {
  intervalSeconds: 0,
  timeoutSeconds: 900,
  correct: [],
};

async function freshDatabase(server: PrivateServer): Promise<Sql> {
  const sql = await createDatabase(server, `r${++databases}`, 4);
  await migrate(sql);
  return sql;
}

async function apply(sql: Sql, events: CanonicalLotEvent[], settings = REPORT_ONLY) {
  await applyLotEvents(sql, events, { onApplied: reconciliationSteps(settings, silentLogger) });
}

/** The stock report lines an ERP's answer decodes to. */
function report(runId: string, lines: [string, string, number][]): CanonicalLotEvent[] {
  if (lines.length === 0) {
    return [event({
      eventType: "LOT_STOCK_REPORTED",
      lotId: "*",
      material: "*",
      quantity: 0,
      correlationId: runId,
      payload: { lines: 0 },
    })];
  }
  return lines.map(([lotId, material, quantity], i) =>
    event({
      eventType: "LOT_STOCK_REPORTED",
      lotId,
      material,
      quantity,
      correlationId: runId,
      payload: { line: i + 1, lines: lines.length },
    })
  );
}

/** Plant A's lots as the centre knows them. */
const history = () => [
  event({ lotId: "L1", material: "M1", quantity: 10 }),
  event({ lotId: "L2", material: "M1", quantity: 20 }),
  event({ lotId: "L3", material: "M2", quantity: 30 }),
  event({ lotId: "L4", material: "M3", quantity: 40 }),
  // L5 was split into L6: L5 may be used up, L6 holds the stock.
  event({ lotId: "L5", material: "M1", quantity: 50 }),
  event({
    eventType: "LOT_SPLIT",
    lotId: "L6",
    material: "M1",
    quantity: 50,
    parents: [{ lotId: "L5", quantity: 50 }],
  }),
  // L7 was consumed: no stock expected.
  event({ lotId: "L7", material: "M1", quantity: 5 }),
  event({ eventType: "LOT_CONSUMED", lotId: "L7", material: "M1", quantity: 5, version: 1 }),
  event({ plantId: "B", sourceSystem: "dynamics", lotId: "B1", quantity: 1 }),
];

const commands = async (sql: Sql) =>
  (await sql`SELECT subject, command FROM outbox ORDER BY created_at, command_id`)
    .map((r) => ({ subject: String(r.subject), command: r.command as LotCommand }));

integrationTest(
  "reconciliation asks the ERP for its lots and reports each kind of drift",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    await apply(sql, history());
    const [runId] = await requestReconciliation(sql, { plantId: "A" });
    const [request] = await commands(sql);
    assert.equal(request.subject, "lots.commands.A.sap");
    assert.equal(request.command.commandType, "REPORT_LOTS");
    assert.equal(request.command.commandId, runId);
    assert.equal(request.command.lotId, "*");

    const lines = report(runId, [
      ["L1", "M1", 10], // agrees
      ["L2", "M1", 25], // quantity differs
      ["L4", "M9", 40], // material differs
      ["L6", "M1", 50], // agrees (L5 is not expected: it went into L6)
      ["L9", "M1", 7], // the centre never heard of it
    ]);
    // Lines arrive in two batches; the run finishes with the last one.
    await apply(sql, lines.slice(0, 2));
    assert.equal((await latestRuns(sql, { plantId: "A" }))[0].state, "requested");
    await apply(sql, lines.slice(2));
    const [run] = await latestRuns(sql, { plantId: "A" });
    assert.equal(run.state, "done");
    assert.equal(run.receivedLines, 5);
    assert.deepEqual(
      run.drift.map((d) => [d.lotId, d.kind]),
      [
        ["L2", "quantity_differs"],
        ["L3", "missing_in_erp"],
        ["L4", "material_differs"],
        ["L9", "unknown_to_centre"],
      ],
    );
    const l2 = run.drift.find((d) => d.lotId === "L2")!;
    assert.deepEqual([l2.erp?.quantity, l2.centre?.quantity], [25, 20]);
    assert.deepEqual(await driftByPlant(sql), new Map([["A", 4]]));
    // Report only by default: no corrective command.
    assert.equal((await commands(sql)).length, 1);
    await sql.end();
  },
);

integrationTest(
  "reconciliation corrects missing lots when configured; empty, rejected and late runs",
  async () => {
    await using pg = await startPostgres();
    const sql = await freshDatabase(pg);
    const correct: ReconciliationSettings = { ...REPORT_ONLY, correct: ["missing_in_erp"] };
    await apply(sql, history());
    const runs = await requestReconciliation(sql);
    assert.equal(runs.length, 2, "one run per plant/system the centre has lots of");
    const [runA, runB] = (await latestRuns(sql)).map((r) => r.runId);
    // Plant A's ERP reports nothing at all: every lot with expected stock is missing.
    await apply(sql, report(runA, []), correct);
    const [a] = await latestRuns(sql, { plantId: "A" });
    assert.equal(a.state, "done");
    assert.deepEqual(a.drift.map((d) => d.lotId), ["L1", "L2", "L3", "L4", "L6"]);
    const creates = (await commands(sql)).filter((c) => c.command.commandType === "CREATE_LOT");
    assert.deepEqual(creates.map((c) => c.command.lotId).sort(), ["L1", "L2", "L3", "L4", "L6"]);
    assert.equal(creates[0].subject, "lots.commands.A.sap");
    // Plant B's ERP refuses the request.
    await apply(sql, [event({
      eventType: "COMMAND_REJECTED",
      plantId: "B",
      sourceSystem: "dynamics",
      lotId: "*",
      correlationId: runB,
      payload: { reason: "not authorised" },
    })]);
    const [b] = await latestRuns(sql, { plantId: "B" });
    assert.deepEqual([b.state, b.reason], ["rejected", "not authorised"]);
    // A run whose report never completes ends incomplete; a line after that is ignored.
    const [late] = await requestReconciliation(sql, { plantId: "A" });
    assert.equal(await expireReconciliations(sql, 3600), 0);
    await sql`UPDATE reconciliation_runs SET requested_at = now() - interval '2 hours'
    WHERE run_id = ${late}`;
    assert.equal(await expireReconciliations(sql, 3600), 1);
    await apply(sql, report(late, [["L1", "M1", 10]]));
    const [after] = await sql`SELECT state, (SELECT count(*) FROM reconciliation_lines
      WHERE run_id = ${late}) AS lines FROM reconciliation_runs WHERE run_id = ${late}`;
    assert.deepEqual([after.state, Number(after.lines)], ["incomplete", 0]);
    // A schedule does not ask a plant/system asked recently.
    assert.deepEqual(await requestReconciliation(sql, { minAgeSeconds: 3600 }), []);
    await sql.end();
  },
);
