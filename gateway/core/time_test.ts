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

Deno.test("an impossible calendar day is refused, not rolled into the next month", () => {
  assert.throws(() => sapDateTimeToIso("20250230", "080000", "UTC", "CREDAT"), /not a real date/);
  assert.equal(sapDateTimeToIso("20240229", "080000", "UTC", "CREDAT"), "2024-02-29T08:00:00.000Z");
});

Deno.test("cached zone offsets follow both transitions of a whole year", () => {
  const wallClock = new Intl.DateTimeFormat("en-CA", {
    timeZone: "America/Chicago",
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  for (let hours = 0; hours < 366 * 24; hours++) {
    const at = new Date(Date.UTC(2026, 0, 1) + hours * 3600_000 + 30 * 60_000);
    const w = Object.fromEntries(wallClock.formatToParts(at).map((p) => [p.type, p.value]));
    const back = sapDateTimeToIso(
      `${w.year}${w.month}${w.day}`,
      `${w.hour}${w.minute}00`,
      "America/Chicago",
      "t",
    );
    // In the autumn overlap a wall time maps to the earlier instant; everything else round-trips.
    const overlapSecondPass = w.month === "11" && w.hour === "01" && back !== at.toISOString();
    if (!overlapSecondPass) assert.equal(back, at.toISOString());
  }
});
