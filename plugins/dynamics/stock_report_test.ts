import assert from "node:assert/strict";
import {
  checkAnswerContract,
  SAMPLE_REPORT_COMMANDS,
  SAMPLE_STOCK,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import type { LotCommand, SimulationContext } from "../../gateway/mod.ts";
import dynamics from "./mod.ts";

const BERLIN: SimulationContext = { plantId: "B", system: "dynamics", timeZone: "Europe/Berlin" };
const [ALL, ONE_LOT] = SAMPLE_REPORT_COMMANDS;
const AT = new Date("2026-07-15T09:00:05Z");

type Obj = Record<string, unknown>;
type Encoded = { selection: Obj; requests: { method: string; entitySet: string; query: Obj }[] };

function encode(command: LotCommand, options: Obj = {}): Encoded {
  const { ctx } = bindPlugin(dynamics, { ...BERLIN, options });
  return dynamics.encode!({ ...command, plantId: "B" }, ctx).body as Encoded;
}

function answer(command: LotCommand, accept = true): Obj {
  const decision = accept ? { accept } as const : { accept, reason: "Company b01 is locked" };
  const ctx = { ...BERLIN, docNo: 7, at: AT, stock: SAMPLE_STOCK };
  return dynamics.simulator!.answer!(encode(command), decision, ctx) as Obj;
}

function decode(body: unknown) {
  return decodeNative(bindPlugin(dynamics, BERLIN), {
    topic: "plant/B/erp/dynamics/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(body)),
    observedAt: new Date(),
  });
}

Deno.test("REPORT_LOTS is one OData query of WarehousesOnHandV2 for the batch stock asked", () => {
  const all = encode(ALL);
  assert.deepEqual(all.selection, { ItemNumber: "*", ItemBatchNumber: "*" });
  assert.deepEqual(all.requests, [{
    method: "GET",
    entitySet: "WarehousesOnHandV2",
    query: {
      $filter: "ItemBatchNumber ne '' and OnHandQuantity ne 0",
      $select: "dataAreaId,ItemNumber,InventorySiteId,InventoryWarehouseId,OnHandQuantity," +
        "ItemBatchNumber,InventoryUnitSymbol",
      $count: "true",
    },
  }]);
  const quoted = encode({ ...ONE_LOT, lotId: "O'BRIEN-1" }, { commands: { legalEntity: "b01" } });
  assert.deepEqual(quoted.requests[0].query["cross-company"], "true");
  assert.equal(
    quoted.requests[0].query.$filter,
    "dataAreaId eq 'b01' and ItemBatchNumber eq 'O''BRIEN-1' and ItemBatchNumber ne '' " +
      "and OnHandQuantity ne 0",
  );
});

Deno.test("D365 reports its batch stock per on-hand row, in the unit of each item", () => {
  checkAnswerContract(dynamics, { plantId: "C", system: "d365", timeZone: "America/Chicago" }, [
    ...SAMPLE_REPORT_COMMANDS,
  ]);
  const outcome = decode(answer(ALL));
  assert.ok(outcome.ok);
  assert.deepEqual(
    outcome.events.map((e) => [e.lotId, e.uom, e.payload?.d365Unit, e.payload?.line]),
    [["L000000011", "KGM", "kg", 1], ["L000000042", "H87", "pcs", 2], [
      "L000000017",
      "KGM",
      "kg",
      3,
    ]],
  );
  assert.equal(outcome.events[0].timestamp, AT.toISOString(), "the response's HTTP Date");
});

Deno.test("an OData error is COMMAND_REJECTED for the batch asked, with D365's inner message", () => {
  const outcome = decode(answer(ONE_LOT, false));
  assert.ok(outcome.ok);
  const [event] = outcome.events;
  assert.deepEqual(
    [event.eventType, event.lotId, event.material, event.quantity, event.correlationId],
    ["COMMAND_REJECTED", "L000000042", "*", 0, ONE_LOT.commandId],
  );
  assert.equal(event.payload?.reason, "Company b01 is locked");
});

Deno.test("an on-hand report that is paged, miscounted, undated or without rows is refused", () => {
  const broken = (change: (doc: Obj) => void) => {
    const doc = answer(ALL);
    change(doc);
    return doc;
  };
  const cases: [Obj, string][] = [
    [
      broken((d) => d["@odata.nextLink"] = "https://x/data/WarehousesOnHandV2?$skiptoken=3"),
      "@odata.nextLink",
    ],
    [broken((d) => d["@odata.count"] = 4), "@odata.count"],
    [broken((d) => d["@plantgate.date"] = "2026-07-15T09:00:05Z"), "@plantgate.date"],
    [broken((d) => delete d.value), "value"],
    [broken((d) => delete (d.value as Obj[])[1].ItemBatchNumber), "value[1].ItemBatchNumber"],
    [broken((d) => (d.value as Obj[])[0].OnHandQuantity = "130"), "value[0].OnHandQuantity"],
  ];
  for (const [doc, field] of cases) {
    const outcome = decode(doc);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload", field);
    assert.equal(outcome.field, field);
  }
});
