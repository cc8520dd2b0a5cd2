import assert from "node:assert/strict";
import { PluginError } from "./errors.ts";
import { toRec20 } from "./units.ts";

Deno.test("ERP unit spellings normalize to Rec 20", () => {
  assert.equal(toRec20("KG", "u"), "KGM");
  assert.equal(toRec20("kg", "u"), "KGM");
  assert.equal(toRec20("ST", "u"), "H87");
  assert.equal(toRec20("PCE", "u"), "H87");
  assert.equal(toRec20("L", "u"), "LTR");
  assert.equal(toRec20("KGM", "u"), "KGM");
});

Deno.test("site aliases win over the built-in table", () => {
  assert.equal(toRec20("FASS", "u", { FASS: "XDR" }), "XDR");
});

Deno.test("an unknown unit names the field and the unit", () => {
  assert.throws(() => toRec20("BUCKET", "ITEM.ENTRY_UOM"), (error: unknown) => {
    assert.ok(error instanceof PluginError);
    assert.equal(error.field, "ITEM.ENTRY_UOM");
    assert.equal(error.code, "plugin_unsupported");
    assert.match(error.message, /"BUCKET"/);
    return true;
  });
});
