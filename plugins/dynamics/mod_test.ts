import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../../gateway/core/canonical_event.ts";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import {
  checkAnswerContract,
  checkSimulatorContract,
  contractView,
  expectedEvents,
  SAMPLE_COMMANDS,
  SAMPLE_OPERATIONS,
  UNREFERENCED_COMMANDS,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import { planTraffic } from "../../gateway/sim/erp_simulator.ts";
import type { LotCommand, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { PluginError } from "../../gateway/mod.ts";
import dynamics from "./mod.ts";
import { MALFORMED_KINDS } from "./simulator.ts";

const BERLIN: SimulationContext = { plantId: "B", system: "dynamics", timeZone: "Europe/Berlin" };
const CHICAGO: SimulationContext = { plantId: "C", system: "d365", timeZone: "America/Chicago" };

/** The sample operations plus the same kinds in count and volume units. */
const OPERATIONS: LotOperation[] = [
  ...SAMPLE_OPERATIONS,
  ...SAMPLE_OPERATIONS.filter((op) => op.kind !== "reverse").map((op, i) => ({
    ...op,
    docNo: 100 + op.docNo,
    uom: i % 2 === 0 ? "H87" : "LTR",
    at: new Date("2026-01-05T23:30:00.125Z"),
  })),
];

function decoder(context: SimulationContext) {
  const bound = bindPlugin(dynamics, context);
  return (body: unknown) =>
    decodeNative(bound, {
      topic: `plant/${context.plantId}/erp/${context.system}/lot/events`,
      payload: new TextEncoder().encode(JSON.stringify(body)),
      observedAt: new Date(),
    });
}

function decodeOk(context: SimulationContext, body: unknown): CanonicalLotEvent[] {
  const outcome = decoder(context)(body);
  assert.ok(outcome.ok, !outcome.ok ? `${outcome.code} ${outcome.field}: ${outcome.message}` : "");
  return outcome.events;
}

Deno.test("every Dynamics golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(dynamics, new URL("./fixtures", import.meta.url).pathname);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("each lot operation renders as one business event that decodes to the contracted events", () => {
  for (const context of [BERLIN, CHICAGO]) {
    for (const op of OPERATIONS) {
      const doc = dynamics.simulator!.render(op, context) as Record<string, unknown>;
      assert.equal(typeof doc.BusinessEventId, "string", `${op.kind}: one business event`);
      assert.equal(doc.EventTime, `/Date(${op.at.getTime()})/`);
      assert.match(String(doc.EventTimeIso8601), /\.\d{7}Z$/);
      assert.deepEqual(Object.keys(doc), Object.keys(doc).toSorted(), "keys in DataContract order");
      const events = decodeOk(context, doc);
      assert.deepEqual(events.map(contractView), expectedEvents(op), `${op.kind} in ${op.uom}`);
      for (const e of events) {
        assert.equal(e.timestamp, op.at.toISOString());
        assert.equal(e.version, doc.ControlNumber, "ControlNumber is the version");
      }
    }
  }
});

Deno.test("re-rendering an operation (an ERP re-send) keeps its event ids; other documents get other ids", () => {
  const ids = OPERATIONS.map((op) => {
    const first = decodeOk(BERLIN, dynamics.simulator!.render(op, BERLIN)).map((e) => e.eventId);
    const again = decodeOk(BERLIN, dynamics.simulator!.render(op, BERLIN)).map((e) => e.eventId);
    assert.deepEqual(again, first, `${op.kind} re-send`);
    return first;
  }).flat();
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("a posting raised again by D365 with a new EventId and ControlNumber keeps its event id", () => {
  const op = SAMPLE_OPERATIONS[1];
  const doc = dynamics.simulator!.render(op, BERLIN) as Record<string, unknown>;
  const raisedAgain = {
    ...doc,
    EventId: "{11111111-2222-4333-8444-555555555555}",
    ControlNumber: (doc.ControlNumber as number) + 977,
  };
  const [first] = decodeOk(BERLIN, doc);
  const [second] = decodeOk(BERLIN, raisedAgain);
  assert.equal(second.eventId, first.eventId);
  assert.equal(second.version, (doc.ControlNumber as number) + 977);
  assert.notEqual(second.payload?.d365EventId, first.payload?.d365EventId);
});

Deno.test("every malformed document is rejected with a dead-letter code naming the field, never a crash", () => {
  const decode = decoder(CHICAGO);
  const seen = new Set<string>();
  for (let i = 0; i < MALFORMED_KINDS; i++) {
    const doc = dynamics.simulator!.malformed((i + 0.5) / MALFORMED_KINDS, CHICAGO);
    seen.add(JSON.stringify(doc));
    const outcome = decode(doc);
    assert.ok(!outcome.ok, `malformed kind ${i} is rejected`);
    assert.ok(
      ["plugin_invalid_payload", "plugin_unsupported"].includes(outcome.code),
      `kind ${i}: ${outcome.code} ${outcome.message}`,
    );
    assert.equal(outcome.stage, "decode");
    assert.ok(outcome.field, `kind ${i} names the field: ${outcome.message}`);
  }
  assert.equal(seen.size, MALFORMED_KINDS, "each pick range gives a different document");
});

Deno.test("the Dynamics simulator passes the shared conformance check in Berlin and Chicago time", () => {
  checkSimulatorContract(dynamics, BERLIN);
  checkSimulatorContract(dynamics, CHICAGO);
});

Deno.test("options with an unknown business event kind are refused at start-up", () => {
  assert.throws(
    () =>
      bindPlugin(dynamics, {
        ...BERLIN,
        options: { businessEvents: { FabrikamOutputBusinessEvent: "produce" } },
      }),
    /businessEvents/,
  );
});

const COMMAND: LotCommand = {
  commandId: "0b5e7a1c-0000-4000-8000-000000000002",
  commandType: "CREATE_LOT",
  plantId: "B",
  targetSystem: "dynamics",
  lotId: "B26-0315-001",
  material: "FG-40017",
  quantity: 12.5,
  uom: "KGM",
  correlationId: "P00045121",
  issuedAt: "2026-03-15T09:00:00Z",
};

interface Encoded {
  commandId: string;
  unitSymbol: string;
  requests: { method: string; entitySet: string; body: Record<string, unknown> }[];
}

function encode(command: LotCommand, options: Record<string, unknown> = {}): Encoded {
  const { ctx } = bindPlugin(dynamics, { ...BERLIN, options });
  return dynamics.encode!(command, ctx).body as Encoded;
}

Deno.test("CREATE_LOT encodes as the batch, an adjustment journal and its line with the batch", () => {
  const body = encode(COMMAND, { commands: { legalEntity: "eu01", warehouseId: "11" } });
  assert.equal(body.unitSymbol, "kg");
  assert.deepEqual(body.requests.map((r) => r.entitySet), [
    "ItemBatches",
    "InventoryAdjustmentJournalHeaders",
    "InventoryAdjustmentJournalEntriesV2",
  ]);
  assert.deepEqual(body.requests[0].body, {
    dataAreaId: "eu01",
    ItemNumber: "FG-40017",
    BatchNumber: "B26-0315-001",
    BatchDescription: "plantgate CREATE_LOT 0b5e7a1c-0000-4000-8000-000000000002",
  });
  assert.equal(body.requests[1].body.JournalNameId, "IAdj");
  assert.deepEqual(body.requests[2].body, {
    dataAreaId: "eu01",
    LineNumber: 1,
    ItemNumber: "FG-40017",
    ItemBatchNumber: "B26-0315-001",
    InventoryQuantity: 12.5,
    TransactionDate: "2026-03-15T09:00:00Z",
    InventoryWarehouseId: "11",
  });
});

Deno.test("RECEIVE_LOT and ADJUST_LOT post only the journal; the command payload picks the site", () => {
  const received = encode(
    { ...COMMAND, commandType: "RECEIVE_LOT", uom: "H87", payload: { siteId: "2" } },
    { commands: { journalName: "PGAdj", siteId: "1" } },
  );
  assert.equal(received.unitSymbol, "pcs");
  assert.equal(received.requests.length, 2);
  assert.equal(received.requests[0].body.JournalNameId, "PGAdj");
  assert.equal(received.requests[1].body.InventorySiteId, "2");
  assert.equal("dataAreaId" in received.requests[1].body, false, "default company when unset");
  const adjusted = encode({ ...COMMAND, commandType: "ADJUST_LOT", quantity: -3 });
  assert.equal(adjusted.requests[1].body.InventoryQuantity, -3);
});

Deno.test("commands Dynamics cannot take are refused with command_unsupported", () => {
  const refused = [
    { ...COMMAND, commandType: "EXPLODE_LOT" as never },
    { ...COMMAND, quantity: 0 },
    { ...COMMAND, commandType: "ADJUST_LOT" as const, quantity: 0 },
    { ...COMMAND, uom: "BUCKET" },
  ];
  for (const command of refused) {
    assert.throws(
      () => encode(command),
      (e) => e instanceof PluginError && e.code === "command_unsupported",
      JSON.stringify(command),
    );
  }
});

Deno.test("the journal description names the command: type, id and, when it fits, correlationId", () => {
  const header = (command: LotCommand) => encode(command).requests.at(-2)!.body;
  assert.equal(
    header(COMMAND).Description,
    "CREATE_LOT 0b5e7a1c-0000-4000-8000-000000000002 P00045121",
  );
  const long = { ...COMMAND, correlationId: "PRODUCTION-ORDER-000045121" };
  assert.equal(header(long).Description, "CREATE_LOT 0b5e7a1c-0000-4000-8000-000000000002");
  for (const command of SAMPLE_COMMANDS) {
    const description = String(header({ ...command, plantId: "B" }).Description);
    assert.ok(description.length <= 60, description);
    assert.ok(description.includes(command.commandId), description);
  }
  assert.throws(
    () => encode({ ...COMMAND, commandId: "x".repeat(60) }),
    (e) => e instanceof PluginError && e.code === "command_unsupported" && e.field === "commandId",
  );
});

type Ship = Extract<LotOperation, { kind: "ship" }>;
const SHIP = SAMPLE_OPERATIONS.find((op) => op.kind === "ship") as Ship;

Deno.test("a transfer order shipment ships the batch to the plant of its receiving warehouse", () => {
  const doc = dynamics.simulator!.render(SHIP, BERLIN) as Record<string, unknown>;
  assert.equal(doc.BusinessEventId, "ContosoInventTransferShipmentPostedBusinessEvent");
  const [event] = decodeOk(BERLIN, doc);
  assert.deepEqual(
    [event.eventType, event.lotId, event.quantity, event.correlationId, event.destination],
    ["LOT_SHIPPED", "L000000012", 300, "4600000022", { plantId: "DE20" }],
  );
  assert.equal(event.payload?.receivingWarehouseId, "DE20");
  const mapped = bindPlugin(dynamics, { ...BERLIN, options: { plantIds: { DE20: "hamburg" } } });
  const outcome = decodeNative(mapped, {
    topic: "plant/B/erp/dynamics/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(doc)),
    observedAt: new Date(),
  });
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.events[0].destination, { plantId: "hamburg" });
  const missing = { ...doc };
  delete missing.ReceivingWarehouseId;
  const refused = decoder(BERLIN)(missing);
  assert.ok(!refused.ok);
  assert.equal(refused.field, "ReceivingWarehouseId");
});

Deno.test("D365 answers each command with its journal's posted or posting-failed event, a REPORT_LOTS with its on-hand rows", () => {
  checkAnswerContract(dynamics, BERLIN);
  checkAnswerContract(dynamics, CHICAGO, UNREFERENCED_COMMANDS);
});

function journalEvent(accept: boolean): Record<string, unknown> {
  const [, receive] = SAMPLE_COMMANDS;
  const { body } = dynamics.encode!({ ...receive, plantId: "B" }, bindPlugin(dynamics, BERLIN).ctx);
  const decision = accept ? { accept } as const : { accept, reason: "Batch number is blocked" };
  const at = new Date("2026-07-15T09:00:07Z");
  return dynamics.simulator!.answer!(body, decision, { ...BERLIN, docNo: 801, at }) as Record<
    string,
    unknown
  >;
}

Deno.test("a failed journal posting is COMMAND_REJECTED for the command its description names", () => {
  const [event] = decodeOk(BERLIN, journalEvent(false));
  assert.equal(event.eventType, "COMMAND_REJECTED");
  assert.equal(event.correlationId, SAMPLE_COMMANDS[1].commandId);
  assert.equal(event.payload?.reason, "Batch number is blocked");
  assert.equal(event.payload?.commandType, "RECEIVE_LOT");
  for (const field of ["JournalDescription", "ErrorMessage"]) {
    const broken = journalEvent(false);
    delete broken[field];
    const outcome = decoder(BERLIN)(broken);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload");
    assert.equal(outcome.field, field);
    assert.match(outcome.message, /missing/);
  }
});

Deno.test("a posted journal that no command made is a plain LOT_ADJUSTED", () => {
  const manual = { ...journalEvent(true), JournalDescription: "Cycle count aisle 4" };
  const [event] = decodeOk(BERLIN, manual);
  assert.equal(event.eventType, "LOT_ADJUSTED");
  assert.equal(event.correlationId, undefined);
  assert.equal(event.payload?.journalDescription, "Cycle count aisle 4");
});

Deno.test("planned traffic with shipTo mixes in transfer shipments that decode to their targets", () => {
  const plan = planTraffic({
    plugin: dynamics,
    context: BERLIN,
    count: 400,
    seed: 5,
    shipTo: ["B", "C"],
    malformedRatio: 0,
  });
  const shipped = plan.filter((m) => m.op?.kind === "ship");
  assert.ok(shipped.length > 0);
  for (const m of shipped) {
    const [event] = decodeOk(BERLIN, JSON.parse(new TextDecoder().decode(m.payload)));
    assert.deepEqual(contractView(event), expectedEvents(m.op!)[0]);
    assert.deepEqual(event.destination, { plantId: "C" }, "B is the plant itself");
  }
});
