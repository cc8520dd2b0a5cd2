import assert from "node:assert/strict";
import { PluginError } from "./errors.ts";
import { isoToUtc, msJsonDateToIso, sapDateTimeToIso, zonedToUtc } from "./time.ts";

Deno.test("SAP local date/time converts with the plant's zone, summer and winter", () => {
  assert.equal(
    sapDateTimeToIso("20260315", "102203", "Europe/Berlin", "BUDAT"),
    "2026-03-15T09:22:03.000Z",
  );
  assert.equal(
    sapDateTimeToIso("20260715", "102203", "Europe/Berlin", "BUDAT"),
    "2026-07-15T08:22:03.000Z",
  );
  assert.equal(
    sapDateTimeToIso("20260715", "102203", "America/Chicago", "BUDAT"),
    "2026-07-15T15:22:03.000Z",
  );
});

Deno.test("the autumn overlap takes the earlier instant, the spring gap moves forward", () => {
  const overlap = { year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 };
  assert.equal(zonedToUtc(overlap, "Europe/Berlin").toISOString(), "2026-10-25T00:30:00.000Z");
  const gap = { year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0 };
  assert.equal(zonedToUtc(gap, "Europe/Berlin").toISOString(), "2026-03-29T01:30:00.000Z");
});

Deno.test("bad SAP dates name the field", () => {
  assert.throws(() => sapDateTimeToIso("2026-03-15", "102203", "UTC", "CPUDT"), PluginError);
  assert.throws(() => sapDateTimeToIso("20261315", "102203", "UTC", "CPUDT"), /not a real date/);
});

Deno.test("Microsoft JSON dates and 7-digit ISO fractions parse", () => {
  assert.equal(msJsonDateToIso("/Date(1773566523000)/", "EventTime"), "2026-03-15T09:22:03.000Z");
  assert.equal(
    isoToUtc("2026-03-15T09:22:03.1234567Z", "EventTimeIso8601"),
    "2026-03-15T09:22:03.123Z",
  );
  assert.equal(isoToUtc("2026-03-15T10:22:03+01:00", "t"), "2026-03-15T09:22:03.000Z");
  assert.throws(() => isoToUtc("2026-03-15 10:22", "t"), /ISO 8601/);
});
