import assert from "node:assert/strict";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import { checkSimulatorContract } from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin } from "../../gateway/core/plugin_runtime.ts";
import { PluginError } from "../../gateway/mod.ts";
import sap from "./mod.ts";

Deno.test("every SAP golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(sap, new URL("./fixtures", import.meta.url).pathname);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("the SAP simulator's documents decode to the contracted events, in Berlin and Chicago time", () => {
  checkSimulatorContract(sap, { plantId: "A", system: "sap", timeZone: "Europe/Berlin" });
  checkSimulatorContract(sap, { plantId: "A", system: "sap", timeZone: "America/Chicago" });
});

Deno.test("SAP encodes lot commands as goods-movement requests and refuses unknown ones", () => {
  const { ctx } = bindPlugin(sap, { plantId: "B", system: "sap", timeZone: "UTC" });
  const command = {
    commandId: "0b5e7a1c-0000-4000-8000-000000000001",
    commandType: "RECEIVE_LOT" as const,
    plantId: "B",
    targetSystem: "sap",
    lotId: "L000000042",
    material: "100200",
    quantity: 250,
    uom: "KGM",
    issuedAt: "2026-03-15T09:00:00Z",
  };
  const { body } = sap.encode!(command, ctx as never) as {
    body: { BAPI_GOODSMVT_CREATE: { GOODSMVT_ITEM: Record<string, string>[] } };
  };
  const item = body.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM[0];
  assert.deepEqual([item.BATCH, item.MATERIAL, item.ENTRY_QNT, item.ENTRY_UOM], [
    "L000000042",
    "000000000000100200",
    "250.000",
    "KG",
  ]);
  assert.throws(
    () => sap.encode!({ ...command, commandType: "EXPLODE" as never }, ctx as never),
    PluginError,
  );
});
