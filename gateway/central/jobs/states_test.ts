import assert from "node:assert/strict";
import { applyMethod, jobStateArray, LEAF_STATES, toStateArray } from "./mod.ts";

// [leaf, top-level StateNumber, substate machine, local substate number] from jobs-anchors.md §1.2.
const NUMBERS: Array<[string, number, string | null, number | null]> = [
  ["NotAllowedToStart/Waiting", 1, "NotAllowedToStartSubstates", 1],
  ["NotAllowedToStart/Ready", 1, "NotAllowedToStartSubstates", 2],
  ["NotAllowedToStart/Loaded", 1, "NotAllowedToStartSubstates", 3],
  ["AllowedToStart/Waiting", 2, "AllowedToStartSubstates", 1],
  ["AllowedToStart/Ready", 2, "AllowedToStartSubstates", 2],
  ["AllowedToStart/Loaded", 2, "AllowedToStartSubstates", 3],
  ["Running", 3, null, null],
  ["Interrupted/Held", 4, "InterruptedSubstates", 1],
  ["Interrupted/Suspended", 4, "InterruptedSubstates", 2],
  ["Ended/Completed", 5, "EndedSubstates", 1],
  ["Ended/Closed", 5, "EndedSubstates", 2],
  ["Aborted", 6, null, null],
  ["EndState", 7, null, null],
];

Deno.test("every leaf has the spec's state and local substate numbers", () => {
  assert.equal(LEAF_STATES.length, NUMBERS.length);
  for (const [leaf, number, machine, subNumber] of NUMBERS) {
    const [state, substate] = leaf.split("/");
    const entries = toStateArray({ state, substate: substate ?? null } as never);
    assert.equal(entries[0].BrowsePath, null, leaf);
    assert.deepEqual(entries[0].StateText, { Locale: "en", Text: state });
    assert.equal(entries[0].StateNumber, number, leaf);
    if (machine === null) {
      assert.equal(entries.length, 1, leaf);
      continue;
    }
    assert.equal(entries.length, 2, leaf);
    assert.deepEqual(entries[1].StateText, { Locale: "en", Text: substate });
    assert.equal(entries[1].StateNumber, subNumber, leaf);
    const [element] = entries[1].BrowsePath!.Elements;
    assert.equal(element.TargetName.Name, machine);
    assert.equal(element.TargetName.Uri, "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/");
  }
});

Deno.test("a substate that does not belong to its state is rejected", () => {
  assert.throws(() => toStateArray({ state: "Running", substate: "Ready" }), RangeError);
  assert.throws(() => toStateArray({ state: "Ended", substate: "Held" }), RangeError);
  assert.throws(() => toStateArray({ state: "Interrupted", substate: null }), RangeError);
});

Deno.test("a stored job order reports NotAllowedToStart 1 and Ready 2, not Ready 11", () => {
  const now = new Date("2026-05-01T00:00:00Z");
  const result = applyMethod(undefined, "Store", { JobOrder: { JobOrderID: "JO-1" } }, now);
  assert.ok(result.ok);
  const entries = jobStateArray(result.job, "de");
  assert.deepEqual(entries.map((entry) => [entry.StateText.Text, entry.StateNumber]), [
    ["NotAllowedToStart", 1],
    ["Ready", 2],
  ]);
  assert.equal(entries[1].StateText.Locale, "de");
});
