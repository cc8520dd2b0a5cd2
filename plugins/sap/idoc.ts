import { listAt, objectAt, PluginError, quantityAt } from "../../gateway/mod.ts";

/** The two goods-movement IDoc families the plugin reads. */
export type IdocKind = "WMMBXY" | "MBGMCR";

/**
 * Field names the plugin reads, in MSEG/MKPF spelling whatever the IDoc type: MBGMCR's BAPI
 * names are mapped to them (MATERIAL -> MATNR, MOVE_BATCH -> UMCHA, ...), so the decoder and
 * the audit payload see one vocabulary.
 */
export type FieldName =
  | (typeof ITEM_FIELDS)[number]
  | (typeof HEADER_FIELDS)[number]
  | "MBLNR"
  | "MJAHR";

/** Item fields, in the order the audit payload lists them. */
export const ITEM_FIELDS = [
  "ZEILE",
  "BWART",
  "MATNR",
  "WERKS",
  "LGORT",
  "CHARG",
  "UMMAT",
  "UMWRK",
  "UMLGO",
  "UMCHA",
  "KZBEW",
  "SHKZG",
  "ERFMG",
  "ERFME",
  "MENGE",
  "MEINS",
  "AUFNR",
  "RSNUM",
  "RSPOS",
  "EBELN",
  "EBELP",
  "LIFNR",
  "LICHA",
  "SMBLN",
  "SJAHR",
  "SMBLP",
  "GRUND",
  "SGTXT",
  "HSDAT",
  "VFDAT",
  "XAUTO",
] as const;

/** Header fields, in the order the audit payload lists them. */
export const HEADER_FIELDS = [
  "BUDAT",
  "BLDAT",
  "CPUDT",
  "CPUTM",
  "USNAM",
  "TCODE",
  "XBLNR",
  "FRBNR",
  "BKTXT",
] as const;

/** Fields whose all-zero value is SAP's "initial" (empty) value, e.g. `AUFNR "000000000000"`. */
const ZERO_IS_EMPTY = new Set<FieldName>([
  "AUFNR",
  "RSNUM",
  "RSPOS",
  "EBELN",
  "EBELP",
  "LIFNR",
  "SMBLN",
  "SJAHR",
  "SMBLP",
  "GRUND",
  "HSDAT",
  "VFDAT",
  "MBLNR",
  "MJAHR",
  "BUDAT",
  "BLDAT",
  "CPUDT",
]);

type KeyMap = Partial<Record<FieldName, readonly string[]>>;

function same(names: readonly FieldName[]): KeyMap {
  return Object.fromEntries(names.map((n) => [n, [n]]));
}

/** E1MBXYI carries MSEG names; its child E1MBXYJ the posted document's key and base quantity. */
const WMMBXY_ITEM = same(ITEM_FIELDS.filter((n) => !["ZEILE", "MENGE", "MEINS"].includes(n)));
const WMMBXY_HEADER = same(HEADER_FIELDS);
const WMMBXY_RESULT: KeyMap = {
  MBLNR: ["MBLNR"],
  MJAHR: ["MJAHR"],
  ZEILE: ["MBLPO"],
  MENGE: ["MENGE"],
  MEINS: ["MEINS"],
};

/** E1BP2017_GM_ITEM_CREATE -> MSEG (SAP's generated mapper MAP2I_B2017_GM_ITEM_TO_IMSEG). */
const MBGMCR_ITEM: KeyMap = {
  BWART: ["MOVE_TYPE"],
  MATNR: ["MATERIAL", "MATERIAL_LONG"],
  WERKS: ["PLANT"],
  LGORT: ["STGE_LOC"],
  CHARG: ["BATCH"],
  UMMAT: ["MOVE_MAT", "MOVE_MAT_LONG"],
  UMWRK: ["MOVE_PLANT"],
  UMLGO: ["MOVE_STLOC"],
  UMCHA: ["MOVE_BATCH"],
  KZBEW: ["MVT_IND"],
  ERFMG: ["ENTRY_QNT"],
  ERFME: ["ENTRY_UOM", "ENTRY_UOM_ISO"],
  MENGE: ["QUANTITY"],
  MEINS: ["BASE_UOM", "BASE_UOM_ISO"],
  AUFNR: ["ORDERID"],
  RSNUM: ["RESERV_NO"],
  RSPOS: ["RES_ITEM"],
  EBELN: ["PO_NUMBER"],
  EBELP: ["PO_ITEM"],
  LIFNR: ["VENDOR"],
  LICHA: ["VENDRBATCH"],
  SMBLN: ["REF_DOC"],
  SJAHR: ["REF_DOC_YR"],
  SMBLP: ["REF_DOC_IT"],
  GRUND: ["MOVE_REAS"],
  SGTXT: ["ITEM_TEXT"],
  HSDAT: ["PROD_DATE"],
  VFDAT: ["EXPIRYDATE"],
};
const MBGMCR_RESULT: KeyMap = { MBLNR: ["MAT_DOC"], MJAHR: ["DOC_YEAR"] };
const MBGMCR_HEADER: KeyMap = {
  BUDAT: ["PSTNG_DATE"],
  BLDAT: ["DOC_DATE"],
  USNAM: ["PR_UNAME"],
  XBLNR: ["REF_DOC_NO"],
  FRBNR: ["BILL_OF_LADING"],
  BKTXT: ["HEADER_TXT"],
};

/** One segment a view reads from, with its path and the keys it carries. */
interface Source {
  record: Record<string, unknown>;
  /** Path of the segment, e.g. `E1MBXYH.E1MBXYI[1]`. */
  path: string;
  keys: KeyMap;
}

/** A segment (or item with its child segments) read through MSEG field names. */
export interface View {
  /** Path of the main segment, for messages. */
  path: string;
  sources: Source[];
}

/** One IDoc of a message, its segments located. */
export interface GoodsMovementIdoc {
  kind: IdocKind;
  /** Path prefix of its segments: `""`, or `IDOC[1].` when a message holds several IDocs. */
  prefix: string;
  control?: Record<string, unknown>;
  header: View;
  items: View[];
  /** MBGMCR `TESTRUN = X`: a simulation that posted nothing. */
  testRun: boolean;
  /** Status records (`EDI_DS40`) a bridge passes on with an inbound IDoc, oldest first. */
  statusRecords: { record: Record<string, unknown>; path: string }[];
}

/**
 * Some bridges lower-case the whole IDoc; field names are matched case-insensitively. Parts
 * already in upper case are returned as they are (the common case costs no copy).
 */
export function upperKeys(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = upperKeys(value[i]);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const item = upperKeys(record[key]);
    const upper = key.toUpperCase();
    if (copy === undefined && (item === record[key]) && upper === key) continue;
    if (copy === undefined) {
      copy = {};
      for (const earlier in record) {
        if (earlier === key) break;
        copy[earlier] = record[earlier];
      }
    }
    copy[upper] = item;
  }
  return copy ?? record;
}

const SEGMENT_ROOTS = ["E1MBXYH", "E1MBGMCR"];

/**
 * Finds the goods-movement IDocs in a message: `{ <basic type>: { IDOC } }`, `{ IDOC }` (one or
 * an array), or the segments themselves. Throws `plugin_unsupported` for other documents.
 */
export function locateIdocs(body: unknown): GoodsMovementIdoc[] {
  let doc = objectAt(upperKeys(body), "(document)");
  const keys = Object.keys(doc);
  const isIdoc = (d: Record<string, unknown>) => "IDOC" in d || SEGMENT_ROOTS.some((s) => s in d);
  const only = keys.length === 1 ? doc[keys[0]] : undefined;
  // The bridge's root element is the basic type (WMMBID02, MBGMCR03, ...): look inside it.
  if (!isIdoc(doc) && typeof only === "object" && only !== null && !Array.isArray(only)) {
    doc = only as Record<string, unknown>;
  }
  if (!("IDOC" in doc)) return [readIdoc(doc, "")];
  const several = Array.isArray(doc.IDOC);
  return listAt(doc.IDOC, "IDOC").map((idoc, i) => readIdoc(idoc, several ? `IDOC[${i}].` : ""));
}

function readIdoc(idoc: Record<string, unknown>, prefix: string): GoodsMovementIdoc {
  const control = idoc.EDI_DC40 === undefined
    ? undefined
    : objectAt(idoc.EDI_DC40, `${prefix}EDI_DC40`);
  const ds = idoc.EDI_DS40;
  const statusRecords = ds === undefined ? [] : listAt(ds, `${prefix}EDI_DS40`)
    .map((record, i) => ({ record, path: itemPath(ds, `${prefix}EDI_DS40`, i) }));
  if ("E1MBXYH" in idoc) return { ...readWmmbxy(idoc, prefix), control, statusRecords };
  if ("E1MBGMCR" in idoc) return { ...readMbgmcr(idoc, prefix), control, statusRecords };
  const type = [control?.IDOCTYP, control?.MESTYP].filter((v) => typeof v === "string");
  throw new PluginError(
    `not an SAP goods movement: expected a WMMBXY (E1MBXYH) or MBGMCR (E1MBGMCR) IDoc, got ${
      type.length
        ? `IDoc ${type.join("/")}`
        : `segments ${Object.keys(idoc).slice(0, 5).join(", ")}`
    }`,
    {
      field: `${prefix}${control?.MESTYP ? "EDI_DC40.MESTYP" : "E1MBXYH"}`,
      code: "plugin_unsupported",
    },
  );
}

function itemPath(list: unknown, path: string, i: number): string {
  return Array.isArray(list) ? `${path}[${i}]` : path;
}

function readWmmbxy(idoc: Record<string, unknown>, prefix: string) {
  const headerPath = `${prefix}E1MBXYH`;
  const header = objectAt(idoc.E1MBXYH, headerPath);
  const listPath = `${headerPath}.E1MBXYI`;
  const items = listAt(header.E1MBXYI, listPath).map((item, i): View => {
    const path = itemPath(header.E1MBXYI, listPath, i);
    const sources: Source[] = [{ record: item, path, keys: WMMBXY_ITEM }];
    if (item.E1MBXYJ !== undefined) {
      const [result] = listAt(item.E1MBXYJ, `${path}.E1MBXYJ`);
      const resultPath = `${path}.E1MBXYJ${Array.isArray(item.E1MBXYJ) ? "[0]" : ""}`;
      sources.push({ record: result, path: resultPath, keys: WMMBXY_RESULT });
    }
    return { path, sources };
  });
  const headerView = {
    path: headerPath,
    sources: [{ record: header, path: headerPath, keys: WMMBXY_HEADER }],
  };
  return { kind: "WMMBXY" as const, prefix, header: headerView, items, testRun: false };
}

/** A child segment as a source, if present. */
function segment(
  parent: Source,
  { key, keys }: { key: string; keys: KeyMap },
): Source | undefined {
  const path = `${parent.path}.${key}`;
  const value = parent.record[key];
  return value === undefined ? undefined : { record: objectAt(value, path), path, keys };
}

function readMbgmcr(idoc: Record<string, unknown>, prefix: string) {
  const mainPath = `${prefix}E1MBGMCR`;
  const main = objectAt(idoc.E1MBGMCR, mainPath);
  const parent = { record: main, path: mainPath, keys: {} };
  const headPath = `${mainPath}.E1BP2017_GM_HEAD_01`;
  // Without a header segment the view still knows the BAPI names, so errors name PSTNG_DATE.
  const head = segment(parent, { key: "E1BP2017_GM_HEAD_01", keys: MBGMCR_HEADER }) ??
    { record: {}, path: headPath, keys: MBGMCR_HEADER };
  // Not a standard MBGMCR segment: bridges that post the IDoc and pass on the result add it.
  const result = segment(parent, { key: "E1BP2017_GM_HEAD_RET", keys: MBGMCR_RESULT });
  const listPath = `${mainPath}.E1BP2017_GM_ITEM_CREATE`;
  const list = main.E1BP2017_GM_ITEM_CREATE;
  const items = listAt(list, listPath).map((item, i): View => {
    const path = itemPath(list, listPath, i);
    const sources = [{ record: item, path, keys: MBGMCR_ITEM }, ...(result ? [result] : [])];
    return { path, sources };
  });
  const testRun = typeof main.TESTRUN === "string" && main.TESTRUN.trim().toUpperCase() === "X";
  return {
    kind: "MBGMCR" as const,
    prefix,
    header: { path: headPath, sources: [head] },
    items,
    testRun,
  };
}

/**
 * Where a field is (or would be): its value, and the segment and key holding it (the path is
 * built only when a message needs it: this runs for every field of every item).
 */
interface Located {
  value: unknown;
  /** The segment holding the key (`undefined`: none of the view's segments maps the field). */
  source?: Source;
  key: string;
}

function locate(view: View, name: FieldName): Located {
  let missing: Located | undefined;
  for (const source of view.sources) {
    const keys = source.keys[name];
    if (!keys) continue;
    for (const key of keys) {
      const value = source.record[key];
      if (value !== undefined && value !== null && value !== "") return { value, source, key };
    }
    missing ??= { value: undefined, source, key: keys[0] };
  }
  return missing ?? { value: undefined, key: name };
}

function locatedPath(view: View, { source, key }: Located): string {
  return `${source?.path ?? view.path}.${key}`;
}

/** Path of a field in the native document (where it is, or where it belongs). */
export function pathOf(view: View, name: FieldName): string {
  return locatedPath(view, locate(view, name));
}

/** A field's value: the first non-empty one of its keys (as {@linkcode locate}, allocating nothing). */
function valueOf(view: View, name: FieldName): unknown {
  for (const source of view.sources) {
    const keys = source.keys[name];
    if (!keys) continue;
    for (const key of keys) {
      const value = source.record[key];
      if (value !== undefined && value !== null && value !== "") return value;
    }
  }
  return undefined;
}

/** A field as trimmed text; `undefined` when absent, empty or SAP-initial (all zeros). */
export function text(view: View, name: FieldName): string | undefined {
  const value = valueOf(view, name);
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") {
    const path = pathOf(view, name);
    throw new PluginError(`field "${path}" must be a string, got ${JSON.stringify(value)}`, {
      field: path,
    });
  }
  const trimmed = value.trim();
  return trimmed === "" || (ZERO_IS_EMPTY.has(name) && /^0+$/.test(trimmed)) ? undefined : trimmed;
}

/** A field as text, or a `plugin_invalid_payload` error naming its path. */
export function required(view: View, name: FieldName): string {
  const value = text(view, name);
  if (value === undefined) {
    const path = pathOf(view, name);
    throw new PluginError(`field "${path}" is missing`, { field: path });
  }
  return value;
}

/** A quantity field (`"500.000"`, `"302.35-"`, a JSON number), `undefined` when absent. */
export function quantity(view: View, name: FieldName): number | undefined {
  const { value, source, key } = locate(view, name);
  if (value === undefined || source === undefined) return undefined;
  return quantityAt(source.record, key, source.path);
}

/** A field for the audit payload: text as sent, or `undefined` (never throws). */
function auditText(view: View, name: FieldName): string | undefined {
  try {
    return text(view, name);
  } catch {
    return undefined;
  }
}

/** The fields of `names` that have a value, as {@linkcode auditText} reads them. */
export function auditFields(view: View, names: readonly FieldName[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const name of names) {
    const value = auditText(view, name);
    if (value !== undefined) fields[name] = value;
  }
  return fields;
}
