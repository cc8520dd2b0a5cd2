import { isoToUtc, msJsonDateToIso, PluginError, stringAt, toRec20 } from "../../gateway/mod.ts";

/**
 * Typed readers for D365 business event fields: each throws a PluginError naming the field path.
 *
 * @module
 */

/** A JSON object from a business event. */
export type Doc = Record<string, unknown>;

/** D365 writes an empty date as 1900-01-01. */
const NULL_DATE = "1900-01-01";

/** A value for an error message, cut to 40 characters. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** `path.key`, or `key` at the top level. */
export function fieldName(key: string, path: string): string {
  return path ? `${path}.${key}` : key;
}

/** D365 serializes reals as JSON numbers: a string quantity is a producer bug, not a format. */
export function numberAt(record: Doc, key: string, path = ""): number {
  const value = record[key];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  const field = fieldName(key, path);
  throw new PluginError(
    value === undefined
      ? `field "${field}" is missing`
      : `field "${field}" must be a JSON number, got ${show(value)}`,
    { field },
  );
}

/** A JSON number above zero. */
export function positiveAt(record: Doc, key: string, path = ""): number {
  const value = numberAt(record, key, path);
  if (value > 0) return value;
  const field = fieldName(key, path);
  throw new PluginError(`field "${field}" must be positive, got ${value}`, { field });
}

/** A batch number (inventBatchId): missing or empty means the lot is unknown. */
export function batchAt(record: Doc, key: string, path = ""): string {
  const value = record[key];
  if (value === undefined || value === null || value === "") {
    const field = fieldName(key, path);
    throw new PluginError(
      `field "${field}" is ${
        value === undefined ? "missing" : "empty"
      }: a lot event needs the batch number (inventBatchId; InventoryLotId is not the batch)`,
      { field },
    );
  }
  return stringAt(record, key, path);
}

/** A Microsoft JSON date, also when its number is out of range. */
export function msDate(value: unknown, field: string): string {
  try {
    return msJsonDateToIso(value, field);
  } catch (error) {
    if (error instanceof PluginError) throw error;
    throw new PluginError(`field "${field}" is not a real date: ${show(value)}`, {
      field,
      cause: error,
    });
  }
}

/** A contract date (`/Date(ms)/` or ISO) as `YYYY-MM-DD`; D365's empty date gives undefined. */
export function businessDate(doc: Doc, field: string): string | undefined {
  const value = doc[field];
  if (value === undefined || value === null || value === "") return undefined;
  const iso = typeof value === "string" && value.startsWith("/Date(")
    ? msDate(value, field)
    : isoToUtc(value, field);
  return iso.startsWith(NULL_DATE) ? undefined : iso.slice(0, 10);
}

/** The record without its undefined fields. */
export function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** A unit symbol field as sent and as its Rec 20 code (site `unitAliases` first). */
export function unitAt(
  doc: Doc,
  field: string,
  aliases: Readonly<Record<string, string>> = {},
): { unit: string; uom: string } {
  const unit = stringAt(doc, field);
  return { unit, uom: toRec20(unit, field, aliases) };
}
