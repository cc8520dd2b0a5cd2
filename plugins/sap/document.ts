import { type PluginContext, PluginError, sapDateTimeToIso } from "../../gateway/mod.ts";
import { auditFields, type GoodsMovementIdoc, HEADER_FIELDS, pathOf, text } from "./idoc.ts";
import type { SapOptions } from "./options.ts";

/** What every event of one IDoc shares. */
export interface DocumentFacts {
  /** Event time, ISO 8601 UTC. */
  timestamp: string;
  /** EDI_DC40.DOCNUM as a number, when the IDoc has a control record. */
  version?: number;
  /** Control record and header fields for the audit payload. */
  payload: Record<string, unknown>;
  /** Bill of lading (FRBNR): the external reference of movements that name no order. */
  billOfLading?: string;
}

const CONTROL_AUDIT = ["DOCNUM", "IDOCTYP", "MESTYP", "SNDPRN", "CREDAT", "CRETIM"];

/** Time, version and audit fields of one IDoc. */
export function documentFacts(
  idoc: GoodsMovementIdoc,
  ctx: PluginContext<SapOptions>,
): DocumentFacts {
  const { timestamp, from } = eventTime(idoc, ctx);
  const version = docnumVersion(controlText(idoc.control, "DOCNUM"));
  const idocAudit = pick(CONTROL_AUDIT, (key) => controlText(idoc.control, key));
  const headerAudit = auditFields(idoc.header, HEADER_FIELDS);
  const billOfLading = text(idoc.header, "FRBNR");
  return {
    timestamp,
    ...(version !== undefined ? { version } : {}),
    ...(billOfLading !== undefined ? { billOfLading } : {}),
    payload: {
      ...(Object.keys(idocAudit).length ? { idoc: idocAudit } : {}),
      ...(Object.keys(headerAudit).length ? { header: headerAudit } : {}),
      timestampFrom: from,
    },
  };
}

function pick<K extends string>(
  keys: readonly K[],
  read: (key: K) => string | undefined,
): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const key of keys) {
    const value = read(key);
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

/**
 * The entry time CPUDT/CPUTM when the header carries it, else the IDoc's creation CREDAT/CRETIM
 * (both on the SAP server clock), else the posting date BUDAT at 00:00 plant time. The posting
 * date is always checked, as the payload keeps it. Why this order: README "Time".
 */
function eventTime(
  { header, control, prefix }: GoodsMovementIdoc,
  ctx: PluginContext<SapOptions>,
): { timestamp: string; from: string } {
  const budat = text(header, "BUDAT");
  const budatPath = pathOf(header, "BUDAT");
  const postingDate = budat === undefined
    ? undefined
    : sapInstant(budat, undefined, { timeZone: ctx.timeZone, datePath: budatPath });
  const cpudt = text(header, "CPUDT");
  const credat = controlText(control, "CREDAT");
  if (cpudt !== undefined) {
    const timestamp = sapInstant(cpudt, text(header, "CPUTM"), {
      timeZone: serverTimeZone(ctx),
      datePath: pathOf(header, "CPUDT"),
      timePath: pathOf(header, "CPUTM"),
    });
    return { timestamp, from: "CPUDT/CPUTM" };
  }
  if (credat !== undefined) {
    const timestamp = sapInstant(credat, controlText(control, "CRETIM"), {
      timeZone: serverTimeZone(ctx),
      datePath: `${prefix}EDI_DC40.CREDAT`,
      timePath: `${prefix}EDI_DC40.CRETIM`,
    });
    return { timestamp, from: "EDI_DC40.CREDAT/CRETIM" };
  }
  if (postingDate !== undefined) return { timestamp: postingDate, from: "BUDAT" };
  throw new PluginError(
    `field "${budatPath}" is missing, and so are the entry time (CPUDT) and ` +
      "EDI_DC40.CREDAT: the goods movement has no time",
    { field: budatPath },
  );
}

/**
 * The IDoc number comes from one number range per SAP client: it grows with every IDoc, so a
 * re-sent document carries a higher one, and IDocs written at posting follow posting order.
 */
function docnumVersion(docnum: string | undefined): number | undefined {
  if (docnum === undefined || !/^\d+$/.test(docnum)) return undefined;
  const n = Number(docnum);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The zone of the SAP server clock: the `serverTimeZone` option, else the plant's. */
export function serverTimeZone(ctx: PluginContext<SapOptions>): string {
  const zone = ctx.options?.serverTimeZone;
  if (zone === undefined) return ctx.timeZone;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new PluginError(`option "serverTimeZone" is not an IANA time zone: "${zone}"`, {
      field: "options.serverTimeZone",
    });
  }
  return zone;
}

/** A control or status record field as trimmed text; `undefined` when absent or empty. */
export function controlText(control: Record<string, unknown> | undefined, key: string) {
  const value = control?.[key];
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * `sapDateTimeToIso` with stricter checks: the time field is named in its own errors, and a day
 * the month does not have (20250230) is refused instead of rolling over into the next month.
 */
export function sapInstant(
  date: string,
  time: string | undefined,
  { timeZone, datePath, timePath = datePath }: {
    timeZone: string;
    datePath: string;
    timePath?: string;
  },
): string {
  if (time !== undefined && !/^([01]\d|2[0-3])[0-5]\d[0-5]\d$/.test(time)) {
    throw new PluginError(`field "${timePath}" must be a time HHMMSS, got "${time}"`, {
      field: timePath,
    });
  }
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (m) {
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const probe = new Date(Date.UTC(year, month - 1, day));
    if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) {
      throw new PluginError(`field "${datePath}" is not a calendar date: "${date}"`, {
        field: datePath,
      });
    }
  }
  return sapDateTimeToIso(date, time, timeZone, datePath);
}
