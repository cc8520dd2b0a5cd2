import { PluginError } from "./errors.ts";

/**
 * Small readers for native documents that throw a {@linkcode PluginError} naming the field
 * path when a value is missing or has the wrong type. For plugin authors.
 *
 * @module
 */

/** A JSON object, or throws naming `path`. */
export function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PluginError(`field "${path}" must be an object, got ${describe(value)}`, {
      field: path,
    });
  }
  return value as Record<string, unknown>;
}

/** XML-to-JSON bridges render one repeated element as an object and several as an array: both become an array. */
export function listAt(value: unknown, path: string): Record<string, unknown>[] {
  if (value === undefined || value === null) {
    throw new PluginError(`field "${path}" is missing`, { field: path });
  }
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => objectAt(item, Array.isArray(value) ? `${path}[${i}]` : path));
}

/** A non-empty string (numbers are accepted and turned into strings), or throws naming `path`. */
export function stringAt(record: Record<string, unknown>, key: string, path = ""): string {
  const value = record[key];
  const field = path ? `${path}.${key}` : key;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string" || value.trim() === "") {
    throw new PluginError(
      value === undefined
        ? `field "${field}" is missing`
        : `field "${field}" must be a non-empty string, got ${describe(value)}`,
      { field },
    );
  }
  return value.trim();
}

/** A string if present and non-empty, else undefined (wrong types still throw). */
export function optionalStringAt(
  record: Record<string, unknown>,
  key: string,
  path = "",
): string | undefined {
  const value = record[key];
  if (value === undefined || value === null || value === "") return undefined;
  return stringAt(record, key, path);
}

/**
 * A finite number from a JSON number or a decimal string (`"500.000"`, SAP's trailing-minus
 * `"302.35-"`, `"-820"`), or throws naming `path`.
 */
export function quantityAt(record: Record<string, unknown>, key: string, path = ""): number {
  const value = record[key];
  const field = path ? `${path}.${key}` : key;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const m = /^\s*([+-]?)(\d+(?:\.\d+)?)(-?)\s*$/.exec(value);
    if (m) return Number(m[2]) * (m[1] === "-" || m[3] === "-" ? -1 : 1);
  }
  throw new PluginError(
    value === undefined
      ? `field "${field}" is missing`
      : `field "${field}" must be a number, got ${describe(value)}`,
    { field },
  );
}

/** SAP-style zero-padded numbers lose their padding (`000000000040017731` -> `40017731`); others stay. */
export function unpad(value: string): string {
  return /^0+\d/.test(value) ? value.replace(/^0+(?=\d)/, "") : value;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * JSON Schema of a plugin's `plantIds` option: the ERP's codes for plants (plant, warehouse,
 * ship-to location, ...) -> plantgate plant ids, for plugins to put in their optionsSchema.
 * `what` names the ERP code, `maxCodeLength` its length limit in that ERP.
 */
export function plantIdsOption(what: string, maxCodeLength?: number): Record<string, unknown> {
  return {
    type: "object",
    propertyNames: { minLength: 1, ...(maxCodeLength ? { maxLength: maxCodeLength } : {}) },
    additionalProperties: {
      type: "string",
      minLength: 1,
      maxLength: 64,
      pattern: "^[A-Za-z0-9_-]+$",
    },
    default: {},
    description: `${what} -> plantgate plant id; default: the code itself.`,
  };
}
