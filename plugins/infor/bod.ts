import {
  isoToUtc,
  objectAt,
  PluginError,
  quantityAt,
  toRec20,
  zonedToUtc,
} from "../../gateway/mod.ts";

/**
 * Reading ION BODs rendered as JSON by a bridge (element -> key, attribute -> `@attr`, text next
 * to attributes -> `#text`, repeated element -> array, one occurrence -> object): the envelope
 * (root Verb+Noun, ApplicationArea, the verb's ActionCriteria) and the parts every lot-bearing
 * noun shares (item, lot, quantity with `@unitCode`, document ids).
 *
 * @module
 */

/** OAGIS verbs, to split a root element name like `SyncInventoryAdjustment` into verb and noun. */
const VERBS = [
  "Acknowledge",
  "Cancel",
  "Change",
  "Confirm",
  "Get",
  "List",
  "Load",
  "Notify",
  "Post",
  "Process",
  "Respond",
  "Show",
  "Sync",
  "Update",
];

/**
 * What a BOD's actionCode does: to the document (Sync), or to the command it answers
 * (Acknowledge, Show).
 */
export type BodAction = "add" | "replace" | "delete" | "accepted" | "rejected";

/**
 * The verbs decoded, where each keeps its actionCode, and what the codes mean: Sync publishes a
 * fact of the system of record; Acknowledge answers a Process BOD (plantgate's commands); Show
 * answers a Get BOD (plantgate's stock reports), accepting unless it says otherwise.
 */
const VERB_ACTIONS: Record<
  string,
  { criteria: [string, string]; fallback?: string; codes: Record<string, BodAction> }
> = {
  Sync: {
    criteria: ["ActionCriteria", "ActionExpression"],
    fallback: "Add",
    codes: { add: "add", change: "replace", replace: "replace", delete: "delete" },
  },
  Acknowledge: {
    criteria: ["ResponseCriteria", "ResponseExpression"],
    codes: { accepted: "accepted", modified: "accepted", rejected: "rejected" },
  },
  Show: {
    criteria: ["ResponseCriteria", "ResponseExpression"],
    fallback: "Accepted",
    codes: { accepted: "accepted", modified: "accepted", rejected: "rejected" },
  },
};

/** The envelope of one BOD. */
export interface Bod {
  /** Root element name without namespace prefix, e.g. `SyncInventoryAdjustment`. */
  root: string;
  verb: string;
  noun: string;
  /** `DataArea`, with namespace prefixes removed from every key. */
  dataArea: Record<string, unknown>;
  /** `ApplicationArea.BODID` as sent: the identity of this message. */
  bodId: string;
  /** `CreationDateTime` as sent. */
  creationDateTime: string;
  /** `CreationDateTime` in UTC ISO 8601. */
  timestamp: string;
  /** `actionCode` as sent (`Add` when the BOD has none). */
  actionCode: string;
  /**
   * What the actionCode does: add, replace (correction) or delete (reversal) for a Sync;
   * accepted or rejected for an Acknowledge or a Show.
   */
  action: BodAction;
  /** `variationID` from the BODID: the document's sequence counter, used as event `version`. */
  variationId?: number;
  /** Native details for the audit payload (undefined values left out). */
  audit: Record<string, unknown>;
}

/** Drops `prefix:` from element and attribute names (`ns0:Sync` -> `Sync`) and `@xmlns` attributes. */
export function stripNamespaces(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNamespaces);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (/^@xmlns(:|$)/.test(key)) continue;
    out[key.replace(/^(@?)[A-Za-z_][\w.-]*:(?=[A-Za-z_])/, "$1")] = stripNamespaces(child);
  }
  return out;
}

/**
 * Text of an element rendered as a string, a number or `{ "#text": ... }` (an element with
 * attributes); the first occurrence of a repeated element. Undefined when absent or empty.
 */
export function textOf(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return textOf(value[0], `${path}[0]`);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  if (typeof value === "object" && !Array.isArray(value)) {
    return textOf((value as Record<string, unknown>)["#text"], `${path}.#text`);
  }
  throw new PluginError(`field "${path}" must be text, got ${JSON.stringify(value)}`, {
    field: path,
  });
}

/** Like {@linkcode textOf}, but throws naming `path` when the text is absent. */
export function requiredText(value: unknown, path: string): string {
  const text = textOf(value, path);
  if (text === undefined) throw new PluginError(`field "${path}" is missing`, { field: path });
  return text;
}

/**
 * Follows element names from `value` (first occurrence of repeated elements). Returns the value
 * found (undefined when an element on the way is absent) and the path walked, for errors.
 */
export function walk(
  value: unknown,
  path: string,
  keys: string[],
): { value: unknown; path: string } {
  let current = value;
  let at = path;
  for (const [i, key] of keys.entries()) {
    if (current === undefined || current === null) {
      return { value: undefined, path: [at, ...keys.slice(i)].join(".") };
    }
    if (Array.isArray(current)) {
      current = current[0];
      at = `${at}[0]`;
    }
    current = objectAt(current, at)[key];
    at = `${at}.${key}`;
  }
  return { value: current, path: at };
}

/** Text at the end of `keys` below `value`, or undefined. */
export function textAt(value: unknown, path: string, keys: string[]): string | undefined {
  const found = walk(value, path, keys);
  return textOf(found.value, found.path);
}

/** Text at the end of `keys` below `value`, or throws naming the full path. */
export function requiredTextAt(value: unknown, path: string, keys: string[]): string {
  const found = walk(value, path, keys);
  return requiredText(found.value, found.path);
}

/** The repeated element `key` of `record` as (object, path) pairs, at least one; throws when absent. */
export function elements(
  record: Record<string, unknown>,
  key: string,
  path: string,
): { node: Record<string, unknown>; path: string }[] {
  const value = record[key];
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    throw new PluginError(`field "${path}.${key}" is missing`, { field: `${path}.${key}` });
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((node, i) => {
    const at = Array.isArray(value) ? `${path}.${key}[${i}]` : `${path}.${key}`;
    return { node: objectAt(node, at), path: at };
  });
}

/** A quantity element (`{ "@unitCode": "KGM", "#text": "-820" }`) as number, Rec 20 unit and the original unit. */
export function quantityOf(
  line: Record<string, unknown>,
  key: string,
  path: string,
  unitAliases: Readonly<Record<string, string>>,
): { quantity: number; uom: string; unitCode: string } {
  const at = `${path}.${key}`;
  const node = line[key];
  if (typeof node !== "object" || node === null || Array.isArray(node)) {
    // No attributes, so no unitCode: still report a bad number first.
    quantityAt(line, key, path);
    return quantityOf({ [key]: { "#text": node } }, key, path, unitAliases);
  }
  const element = node as Record<string, unknown>;
  const quantity = quantityAt(element, "#text", at);
  const unitCode = element["@unitCode"];
  const uom = toRec20(unitCode, `${at}.@unitCode`, unitAliases);
  return { quantity, uom, unitCode: String(unitCode).trim() };
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?$/;

/**
 * `CreationDateTime` in UTC. Infor sends ISO 8601 UTC (`Z`); a zone-less value (some bridges drop
 * the zone) is read as plant-local time in `timeZone`.
 */
export function creationTime(value: unknown, timeZone: string, field: string): string {
  const local = typeof value === "string" ? LOCAL_DATE_TIME.exec(value.trim()) : null;
  if (!local) return isoToUtc(typeof value === "string" ? value.trim() : value, field);
  const [year, month, day, hour, minute, second] = local.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new PluginError(`field "${field}" is not a real date/time: ${value}`, { field });
  }
  const at = zonedToUtc({ year, month, day, hour, minute, second }, timeZone);
  const ms = local[7] ? Math.floor(Number(`0${local[7]}`) * 1000) : 0;
  return new Date(at.getTime() + ms).toISOString();
}

/** The parts of an `infor-nid:<tenant>:<entity>:<location>:<document>:<revision>?<Noun>&verb=..&variationID=..` BODID. */
export function parseBodId(bodId: string): Record<string, string> {
  const m = /^infor-nid:([^:]*):([^:]*):([^:]*):(.+):([^:?]*)(?:\?(.*))?$/.exec(bodId);
  if (!m) return {};
  const query = new URLSearchParams((m[6] ?? "").replaceAll("&amp;", "&"));
  const parts: Record<string, string | undefined> = {
    tenant: m[1],
    accountingEntity: m[2],
    location: m[3],
    documentId: m[4],
    revision: m[5],
    verb: query.get("verb") ?? undefined,
    variationId: query.get("variationID") ?? undefined,
  };
  return defined(parts) as Record<string, string>;
}

/** `record` without undefined and empty-string values. */
export function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== undefined && v !== ""),
  );
}

function splitRoot(doc: Record<string, unknown>): { root: string; verb: string; noun: string } {
  const keys = Object.keys(doc).filter((k) => !/^[_@#?]/.test(k));
  if (keys.length !== 1) {
    throw new PluginError(
      `not an ION BOD: expected one root element like "SyncInventoryAdjustment", got ${
        keys.length ? keys.slice(0, 5).map((k) => `"${k}"`).join(", ") : "none"
      }`,
      { field: "(root)", code: keys.length ? "plugin_unsupported" : "plugin_invalid_payload" },
    );
  }
  const root = keys[0];
  const verb = VERBS.find((v) => root.startsWith(v) && /^[A-Z]/.test(root.slice(v.length)));
  if (!verb) {
    throw new PluginError(`root element "${root}" is not a BOD name (Verb + Noun)`, {
      field: "(root)",
      code: "plugin_unsupported",
    });
  }
  return { root, verb, noun: root.slice(verb.length) };
}

/**
 * The verb's actionCode. A Sync without one adds (`Add`); an Acknowledge must say whether it
 * accepts or rejects.
 */
function actionOf(
  verbElement: unknown,
  path: string,
  { criteria, fallback }: { criteria: [string, string]; fallback?: string },
): { actionCode: string; at: string } {
  const found = walk(verbElement, path, criteria);
  let expression = found.value;
  let at = found.path;
  if (Array.isArray(expression)) {
    expression = expression[0];
    at = `${at}[0]`;
  }
  const field = `${at}.@actionCode`;
  const code = expression === undefined || expression === null || expression === ""
    ? undefined
    : textOf(objectAt(expression, at)["@actionCode"], field);
  if (code !== undefined) return { actionCode: code, at: field };
  if (fallback === undefined) {
    throw new PluginError(`field "${field}" is missing`, { field });
  }
  return { actionCode: fallback, at: field };
}

/**
 * Reads the envelope of a BOD: root name, ApplicationArea (BODID, CreationDateTime, Sender) and
 * the verb's actionCode. Throws a {@linkcode PluginError} naming the field for anything missing
 * or mistyped, `plugin_unsupported` for a verb other than `Sync` or an unknown actionCode.
 */
export function readBod(body: unknown, timeZone: string): Bod {
  const doc = objectAt(stripNamespaces(body), "(document)");
  const { root, verb, noun } = splitRoot(doc);
  const verbActions = Object.hasOwn(VERB_ACTIONS, verb) ? VERB_ACTIONS[verb] : undefined;
  if (!verbActions) {
    throw new PluginError(
      `verb "${verb}" of "${root}" is not mapped: lot events come as Sync BODs from the system of record, answers to commands as Acknowledge BODs, stock reports as Show BODs`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const bod = objectAt(doc[root], root);
  const app = objectAt(bod.ApplicationArea, `${root}.ApplicationArea`);
  const appPath = `${root}.ApplicationArea`;
  const bodId = requiredText(app.BODID, `${appPath}.BODID`);
  const creationField = `${appPath}.CreationDateTime`;
  const creationDateTime = requiredText(app.CreationDateTime, creationField);
  const timestamp = creationTime(creationDateTime, timeZone, creationField);
  const dataArea = objectAt(bod.DataArea, `${root}.DataArea`);
  const verbPath = `${root}.DataArea.${verb}`;
  // An empty verb element (`<Sync/>`) comes as "" or null from most bridges.
  const verbElement = objectAt(
    dataArea[verb] === undefined || dataArea[verb] === null || dataArea[verb] === ""
      ? {}
      : dataArea[verb],
    verbPath,
  );
  const { actionCode, at } = actionOf(verbElement, verbPath, verbActions);
  const { codes } = verbActions;
  const action = Object.hasOwn(codes, actionCode.toLowerCase())
    ? codes[actionCode.toLowerCase()]
    : undefined;
  if (!action) {
    const known = Object.keys(codes).map((c) => c[0].toUpperCase() + c.slice(1)).join(", ");
    throw new PluginError(
      `actionCode "${actionCode}" is not mapped (supported for ${verb}: ${known})`,
      { field: at, code: "plugin_unsupported" },
    );
  }
  const nid = parseBodId(bodId);
  const variation = /^\d{1,15}$/.test(nid.variationId ?? "") ? Number(nid.variationId) : NaN;
  return {
    root,
    verb,
    noun,
    dataArea,
    bodId,
    creationDateTime,
    timestamp,
    actionCode,
    action,
    ...(Number.isNaN(variation) ? {} : { variationId: variation }),
    audit: defined({
      bodId,
      bodType: `${verb}.${noun}`,
      releaseId: textOf(bod["@releaseID"], `${root}.@releaseID`),
      logicalId: textAt(app, appPath, ["Sender", "LogicalID"]),
      componentId: textAt(app, appPath, ["Sender", "ComponentID"]),
      creationDateTime,
      tenantId: textAt(verbElement, verbPath, ["TenantID"]) ?? nid.tenant,
      accountingEntityId: textAt(verbElement, verbPath, ["AccountingEntityID"]) ??
        nid.accountingEntity,
      locationId: textAt(verbElement, verbPath, ["LocationID"]) ?? nid.location,
      variationId: nid.variationId,
      actionCode,
    }),
  };
}
