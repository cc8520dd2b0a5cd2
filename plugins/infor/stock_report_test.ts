import assert from "node:assert/strict";
import {
  checkAnswerContract,
  SAMPLE_REPORT_COMMANDS,
  SAMPLE_STOCK,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import type { LotCommand } from "../../gateway/mod.ts";
import infor from "./mod.ts";

const context = { plantId: "C", system: "infor", timeZone: "Asia/Shanghai" };
const [ALL, ONE_LOT, , LOT_OF_MATERIAL] = SAMPLE_REPORT_COMMANDS;
const AT = new Date("2026-07-15T09:00:05.250Z");

type Obj = Record<string, unknown>;
type Show = {
  ShowInventoryBalance: { DataArea: { Show: Obj; InventoryBalance?: Obj | Obj[] } };
};

function encode(command: LotCommand): Obj {
  const { ctx } = bindPlugin(infor, { ...context, options: { tenant: "ACME_PRD" } });
  return infor.encode!({ ...command, plantId: "C" }, ctx).body as Obj;
}

function answer(command: LotCommand, accept = true): Show {
  const decision = accept ? { accept } as const : { accept, reason: "Warehouse is counting" };
  const ctx = { ...context, docNo: 7, at: AT, stock: SAMPLE_STOCK };
  return infor.simulator!.answer!(encode(command), decision, ctx) as Show;
}

function decode(body: unknown) {
  return decodeNative(bindPlugin(infor, context), {
    topic: "plant/C/erp/infor/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(body)),
    observedAt: new Date(),
  });
}

Deno.test("REPORT_LOTS is a GetInventoryBalance selecting the item and lot, its BODID the command's", () => {
  const get = encode(LOT_OF_MATERIAL).GetInventoryBalance as Obj & {
    ApplicationArea: Obj;
    DataArea: Obj;
  };
  assert.equal(
    get.ApplicationArea.BODID,
    `infor-nid:ACME_PRD:::${LOT_OF_MATERIAL.commandId}:1?InventoryBalance&verb=Get&variationID=1`,
  );
  assert.deepEqual(get.DataArea, {
    Get: { TenantID: "ACME_PRD" },
    InventoryBalance: {
      Item: { ItemID: { ID: "100200" } },
      Lot: { LotIDs: { ID: "L000000099" } },
    },
  });
  const all = encode(ALL).GetInventoryBalance as { DataArea: Obj };
  assert.deepEqual(all.DataArea.InventoryBalance, {}, '"*" selects nothing: every balance');
});

Deno.test("LN reports its stock in a Show, and rejects a Get with the selection it was asked", () => {
  checkAnswerContract(infor, { ...context, timeZone: "America/Chicago" }, [
    ...SAMPLE_REPORT_COMMANDS,
  ]);
  const outcome = decode(answer(ONE_LOT, false));
  assert.ok(outcome.ok);
  const [event] = outcome.events;
  assert.deepEqual(
    [event.eventType, event.lotId, event.material, event.correlationId, event.payload?.reason],
    ["COMMAND_REJECTED", "L000000042", "*", ONE_LOT.commandId, "Warehouse is counting"],
  );
});

Deno.test("a Show in pages, or without the BODID it answers, is refused naming the field", () => {
  const path = "ShowInventoryBalance.DataArea.Show";
  const paged = answer(ALL);
  paged.ShowInventoryBalance.DataArea.Show["@recordSetCompleteIndicator"] = "false";
  const short = answer(ALL);
  short.ShowInventoryBalance.DataArea.Show["@recordSetTotal"] = "4";
  const orphan = answer(ALL);
  delete orphan.ShowInventoryBalance.DataArea.Show.OriginalApplicationArea;
  for (
    const [doc, field, code] of [
      [paged, `${path}.@recordSetCompleteIndicator`, "plugin_unsupported"],
      [short, `${path}.@recordSetTotal`, "plugin_invalid_payload"],
      [orphan, `${path}.OriginalApplicationArea.BODID`, "plugin_invalid_payload"],
    ] as const
  ) {
    const outcome = decode(doc);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, code, field);
    assert.equal(outcome.field, field);
  }
});

Deno.test("a Show of another noun answers no plantgate request", () => {
  const { ShowInventoryBalance: bod } = answer(ALL);
  const outcome = decode({ ShowItemMaster: bod });
  assert.ok(!outcome.ok);
  assert.equal(outcome.code, "plugin_unsupported");
  assert.equal(outcome.field, "(root)");
});
