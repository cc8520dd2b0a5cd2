import assert from "node:assert/strict";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import { checkSimulatorContract } from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin } from "../../gateway/core/plugin_runtime.ts";
import { PluginError } from "../../gateway/mod.ts";
import dynamics from "./mod.ts";

Deno.test("every Dynamics golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(dynamics, new URL("./fixtures", import.meta.url).pathname);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("the Dynamics simulator's business events decode to the contracted events", () => {
  checkSimulatorContract(dynamics, {
    plantId: "B",
    system: "dynamics",
    timeZone: "America/Chicago",
  });
});

Deno.test("Dynamics encodes lot commands as journal lines and refuses unknown ones", () => {
  const { ctx } = bindPlugin(dynamics, { plantId: "B", system: "dynamics", timeZone: "UTC" });
  const command = {
    commandId: "0b5e7a1c-0000-4000-8000-000000000002",
    commandType: "CREATE_LOT" as const,
    plantId: "B",
    targetSystem: "dynamics",
    lotId: "B26-0315-001",
    material: "FG-40017",
    quantity: 12.5,
    uom: "KGM",
    issuedAt: "2026-03-15T09:00:00Z",
  };
  const { body } = dynamics.encode!(command, ctx) as { body: Record<string, unknown> };
  assert.deepEqual(
    [
      body.ItemBatchNumber,
      body.ItemNumber,
      body.InventoryQuantity,
      body.UnitSymbol,
      body.dataAreaId,
    ],
    ["B26-0315-001", "FG-40017", 12.5, "kg", "b01"],
  );
  assert.throws(
    () => dynamics.encode!({ ...command, commandType: "EXPLODE" as never }, ctx),
    PluginError,
  );
});
