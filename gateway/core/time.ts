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
  const beforeValid = wall - before === offsetMs(before, timeZone);
  const afterValid = wall - after === offsetMs(after, timeZone);
  // Neither valid = the spring gap: keep the pre-transition offset, which moves forward.
  return new Date(
    beforeValid && afterValid ? Math.min(before, after) : afterValid ? after : before,
  );
}

/** The number in `text[from, to)` when it is all ASCII digits, else NaN (no allocation). */
function digitsAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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
  // Parsed digit by digit: this runs for every SAP document, so it allocates nothing.
  const dateOk = typeof date === "string" && date.length === 8;
  const year = dateOk ? digitsAt(date, 0, 4) : NaN;
  const month = dateOk ? digitsAt(date, 4, 6) : NaN;
  const day = dateOk ? digitsAt(date, 6, 8) : NaN;
  if (Number.isNaN(year + month + day)) {
    throw new PluginError(`field "${field}" must be a date YYYYMMDD, got ${JSON.stringify(date)}`, {
      field,
    });
  }
  const noTime = time === undefined || time === "";
  const timeOk = noTime || (typeof time === "string" && time.length === 6);
  const hour = noTime ? 0 : timeOk ? digitsAt(time as string, 0, 2) : NaN;
  const minute = noTime ? 0 : timeOk ? digitsAt(time as string, 2, 4) : NaN;
  const second = noTime ? 0 : timeOk ? digitsAt(time as string, 4, 6) : NaN;
  if (Number.isNaN(hour + minute + second)) {
    throw new PluginError(`time next to "${field}" must be HHMMSS, got ${JSON.stringify(time)}`, {
      field,
    });
  }
  const realDay = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
  if (!realDay || hour > 23 || minute > 59 || second > 59) {
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
