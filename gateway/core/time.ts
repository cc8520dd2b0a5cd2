import { PluginError } from "./errors.ts";

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock fields (zero-padded strings) of an instant in an IANA time zone. */
export function zonedParts(
  at: Date,
  timeZone: string,
): { year: string; month: string; day: string; hour: string; minute: string; second: string } {
  const parts = Object.fromEntries(
    formatter(timeZone).formatToParts(at).map((p) => [p.type, p.value]),
  );
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    hour: parts.hour,
    minute: parts.minute,
    second: parts.second,
  };
}

const QUARTER_HOUR = 15 * 60_000;
const offsets = new Map<string, Map<number, number>>();

/**
 * Offset of `timeZone` from UTC at instant `utcMs`, in milliseconds. Zones change offset only
 * on quarter-hour boundaries, so one lookup per zone and quarter hour is cached (Intl's
 * formatToParts is the costliest step of decoding an ERP timestamp).
 */
function offsetMs(utcMs: number, timeZone: string): number {
  let zone = offsets.get(timeZone);
  if (!zone) offsets.set(timeZone, zone = new Map());
  const bucket = Math.floor(utcMs / QUARTER_HOUR);
  let offset = zone.get(bucket);
  if (offset === undefined) {
    if (zone.size > 50_000) zone.clear();
    offset = computeOffsetMs(bucket * QUARTER_HOUR, timeZone);
    zone.set(bucket, offset);
  }
  return offset;
}

function computeOffsetMs(utcMs: number, timeZone: string): number {
  const parts = zonedParts(new Date(utcMs), timeZone);
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** True when `timeZone` is an IANA zone name this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * Converts a wall-clock time in an IANA time zone to a UTC instant. In the autumn overlap the
 * earlier instant wins; a time inside the spring gap is moved forward by the gap, as ERPs do.
 */
export function zonedToUtc(
  local: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  timeZone: string,
): Date {
  const wall = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
    local.second,
  );
  const halfDay = 12 * 3600_000;
  const before = wall - offsetMs(wall - halfDay, timeZone);
  const after = wall - offsetMs(wall + halfDay, timeZone);
  const valid = [before, after].filter((c) => wall - c === offsetMs(c, timeZone));
  // No valid candidate = the spring gap: keep the pre-transition offset, which moves forward.
  return new Date(valid.length > 0 ? Math.min(...valid) : before);
}

/**
 * Parses SAP's `YYYYMMDD` date and `HHMMSS` time (plant-local, no zone) into UTC ISO 8601.
 * `field` names the date field in errors.
 */
export function sapDateTimeToIso(
  date: unknown,
  time: unknown,
  timeZone: string,
  field: string,
): string {
  const d = typeof date === "string" ? /^(\d{4})(\d{2})(\d{2})$/.exec(date) : null;
  const t = time === undefined || time === ""
    ? ["", "00", "00", "00"]
    : typeof time === "string"
    ? /^(\d{2})(\d{2})(\d{2})$/.exec(time)
    : null;
  if (!d) {
    throw new PluginError(`field "${field}" must be a date YYYYMMDD, got ${JSON.stringify(date)}`, {
      field,
    });
  }
  if (!t) {
    throw new PluginError(`time next to "${field}" must be HHMMSS, got ${JSON.stringify(time)}`, {
      field,
    });
  }
  const [year, month, day, hour, minute, second] = [d[1], d[2], d[3], t[1], t[2], t[3]].map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const realDay = calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  if (month < 1 || month > 12 || !realDay || hour > 23 || minute > 59 || second > 59) {
    throw new PluginError(`field "${field}" is not a real date/time: ${date} ${time ?? ""}`, {
      field,
    });
  }
  return zonedToUtc({ year, month, day, hour, minute, second }, timeZone).toISOString();
}

/** Parses a Microsoft JSON date `/Date(1710494523000)/` (optionally with `+0100`) into UTC ISO 8601. */
export function msJsonDateToIso(value: unknown, field: string): string {
  const m = typeof value === "string" ? /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value) : null;
  if (!m) {
    throw new PluginError(`field "${field}" must be /Date(ms)/, got ${JSON.stringify(value)}`, {
      field,
    });
  }
  return new Date(Number(m[1])).toISOString();
}

/** Parses an ISO 8601 timestamp with a zone (`Z` or `+hh:mm`, up to 9 fraction digits) into UTC ISO 8601. */
export function isoToUtc(value: unknown, field: string): string {
  const m = typeof value === "string"
    ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(value)
    : null;
  if (!m) {
    throw new PluginError(
      `field "${field}" must be ISO 8601 with a zone, got ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  const ms = m[2] ? m[2].slice(0, 4).padEnd(4, "0") : "";
  const date = new Date(`${m[1]}${ms}${m[3]}`);
  if (Number.isNaN(date.getTime())) {
    throw new PluginError(`field "${field}" is not a real date: ${value}`, { field });
  }
  return date.toISOString();
}
