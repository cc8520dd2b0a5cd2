import assert from "node:assert/strict";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import { checkSimulatorContract } from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin } from "../../gateway/core/plugin_runtime.ts";
import { PluginError } from "../../gateway/mod.ts";
import infor from "./mod.ts";

Deno.test("every Infor golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(infor, new URL("./fixtures", import.meta.url).pathname);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("the Infor simulator's BODs decode to the contracted events", () => {
  checkSimulatorContract(infor, { plantId: "C", system: "infor", timeZone: "Asia/Shanghai" });
});

Deno.test("Infor encodes lot commands as Process BODs and refuses unknown ones", () => {
  const { ctx } = bindPlugin(infor, { plantId: "C", system: "infor", timeZone: "UTC" });
  const command = {
    commandId: "0b5e7a1c-0000-4000-8000-000000000003",
    commandType: "RECEIVE_LOT" as const,
    plantId: "C",
    targetSystem: "infor",
    lotId: "R2503150001",
    material: "RM-10022",
    quantity: 820,
    uom: "KGM",
    issuedAt: "2026-03-15T09:00:00Z",
  };
  const { body } = infor.encode!(command, ctx) as {
    body: {
      ProcessReceiveDelivery: {
        DataArea: { ReceiveDelivery: { ReceiveDeliveryItem: Record<string, never> } };
      };
    };
  };
  const item = body.ProcessReceiveDelivery.DataArea.ReceiveDelivery.ReceiveDeliveryItem as Record<
    string,
    unknown
  >;
  assert.deepEqual(item.ReceivedQuantity, { "@unitCode": "KGM", "#text": "820" });
  assert.deepEqual(item.ItemInstance, { Lot: { LotIDs: { ID: "R2503150001" } } });
  assert.throws(
    () => infor.encode!({ ...command, commandType: "EXPLODE" as never }, ctx),
    PluginError,
  );
});
