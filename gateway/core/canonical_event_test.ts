import assert from "node:assert/strict";
import { type CanonicalLotEvent, checkCanonicalEvent } from "./canonical_event.ts";

const good: CanonicalLotEvent = {
  schemaVersion: 1,
  eventId: "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  eventType: "LOT_CREATED",
  timestamp: "2026-03-15T09:22:03Z",
  observedAt: "2026-03-15T09:22:03.412Z",
  plantId: "A",
  sourceSystem: "sap",
  lotId: "0000012345",
  material: "100200",
  quantity: 1200,
  uom: "KGM",
  parents: [],
  source: { documentId: "4900001234/2026/0001", plugin: "sap", pluginVersion: "1.0.0" },
};

Deno.test("a complete canonical event passes the schema", () => {
  assert.deepEqual(checkCanonicalEvent(good), { ok: true });
});

Deno.test("a missing required field is named", () => {
  const { lotId: _, ...rest } = good;
  assert.deepEqual(checkCanonicalEvent(rest), {
    ok: false,
    field: "lotId",
    message: 'missing required field "lotId"',
  });
});

Deno.test("an unknown eventType lists the allowed ones", () => {
  const result = checkCanonicalEvent({ ...good, eventType: "LOT_EXPLODED" });
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.message : "", /"eventType" must be one of LOT_CREATED, /);
});

Deno.test("a nested wrong type names the nested path", () => {
  const result = checkCanonicalEvent({ ...good, parents: [{ lotId: "P1", quantity: "5" }] });
  assert.equal(!result.ok && result.field, "parents.0.quantity");
});

Deno.test("a non-Rec-20 unit is rejected", () => {
  assert.equal(checkCanonicalEvent({ ...good, uom: "kg" }).ok, false);
});
