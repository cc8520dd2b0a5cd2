import { type PluginContext, PluginError, toRec20, unpad } from "../../gateway/mod.ts";
import {
  auditFields,
  type GoodsMovementIdoc,
  ITEM_FIELDS,
  pathOf,
  quantity,
  required,
  text,
  type View,
} from "./idoc.ts";
import type { SapOptions } from "./options.ts";

/** Reversal movement types (movement type + 1) and what they reverse. */
export const REVERSALS: Readonly<Record<string, string>> = {
  "102": "101",
  "262": "261",
  "310": "309",
  "312": "311",
  "352": "351",
  "502": "501",
  "522": "521",
  "642": "641",
};

/** Goods issues for a stock transport order: the lot leaves for the receiving plant (UMWRK). */
export const SHIPMENTS: ReadonlySet<string> = new Set(["351", "641"]);

/**
 * Receipts and issues that name no order: what they mean for the lot and the sign of the
 * quantity. 552 (scrapping cancelled) puts stock back, so it is an adjustment up, not a
 * reversal of an event.
 */
export const UNREFERENCED: Readonly<
  Record<string, { eventType: "LOT_RECEIVED" | "LOT_CREATED" | "LOT_ADJUSTED"; sign: 1 | -1 }>
> = {
  "501": { eventType: "LOT_RECEIVED", sign: 1 },
  "521": { eventType: "LOT_CREATED", sign: 1 },
  "551": { eventType: "LOT_ADJUSTED", sign: -1 },
  "552": { eventType: "LOT_ADJUSTED", sign: 1 },
};

/** Movement types with a lot meaning; anything else is `plugin_unsupported` unless ignored. */
const MAPPED = new Set([
  "101",
  "261",
  "309",
  "311",
  ...SHIPMENTS,
  ...Object.keys(UNREFERENCED),
  ...Object.keys(REVERSALS),
]);

/** Options as decode uses them, defaults applied. */
export interface Settings {
  aliases: Readonly<Record<string, string>>;
  staging: ReadonlySet<string>;
  ignore: ReadonlySet<string>;
  plantIds: Readonly<Record<string, string>>;
}

/** One goods-movement item, read and normalized. */
export interface Line {
  view: View;
  moveType: string;
  /** `ctx.eventId` keys: material document number, year, item (or the IDoc's). */
  keys: string[];
  documentId: string;
  material: string;
  batch: string;
  /** UMMAT/UMCHA, or the item's own material/batch when the movement does not change them. */
  receivingMaterial: string;
  receivingBatch: string;
  receivingStorageLocation?: string;
  quantity: number;
  uom: string;
  unitPath: string;
  order?: string;
  purchaseOrder?: string;
  audit: Record<string, string>;
}

/** Decode settings from the plugin options, defaults applied. */
export function settingsOf(ctx: PluginContext<SapOptions>): Settings {
  const options: Partial<SapOptions> = ctx.options ?? {};
  return {
    aliases: options.unitAliases ?? {},
    staging: new Set(options.stagingStorageLocations ?? []),
    ignore: new Set(options.ignoreMovementTypes ?? []),
    plantIds: options.plantIds ?? {},
  };
}

/**
 * One item read and normalized, or `undefined` for an item that carries no movement of its
 * own (an ignored movement type, a transfer's generated counter line).
 */
export function readLine(
  view: View,
  { index, idoc, settings }: { index: number; idoc: GoodsMovementIdoc; settings: Settings },
): Line | undefined {
  const moveType = required(view, "BWART").toUpperCase();
  if (settings.ignore.has(moveType)) return undefined;
  if (!MAPPED.has(moveType)) {
    throw new PluginError(
      `movement type "${moveType}" has no lot meaning in plantgate (mapped: ${
        [...MAPPED].sort().join(", ")
      }; list it in the ignoreMovementTypes option to skip it)`,
      { field: pathOf(view, "BWART"), code: "plugin_unsupported" },
    );
  }
  if (isCounterLine(view, moveType)) return undefined;
  const material = unpad(required(view, "MATNR")).toUpperCase();
  const batch = required(view, "CHARG").toUpperCase();
  const receivingMaterial = text(view, "UMMAT");
  const amount = amountOf(view, settings);
  const order = text(view, "AUFNR");
  const purchaseOrder = text(view, "EBELN");
  return {
    view,
    moveType,
    ...documentKey(view, { index, idoc }),
    material,
    batch,
    receivingMaterial: receivingMaterial ? unpad(receivingMaterial).toUpperCase() : material,
    receivingBatch: text(view, "UMCHA")?.toUpperCase() ?? batch,
    receivingStorageLocation: text(view, "UMLGO"),
    ...amount,
    ...(order ? { order: unpad(order) } : {}),
    ...(purchaseOrder ? { purchaseOrder: unpad(purchaseOrder) } : {}),
    audit: auditFields(view, ITEM_FIELDS),
  };
}

/**
 * A transfer posting writes two MSEG lines per item: the issuing line (H) and a generated
 * receiving line (S, XAUTO = X) mirroring it. Only the first carries the movement; a feed
 * that sends both must not count it twice. A reversal swaps the sides.
 */
function isCounterLine(view: View, moveType: string): boolean {
  if (text(view, "XAUTO")?.toUpperCase() === "X") return true;
  const side = text(view, "SHKZG")?.toUpperCase();
  if (moveType === "309" || moveType === "311") return side === "S";
  if (moveType === "310" || moveType === "312") return side === "H";
  return false;
}

function documentKey(
  view: View,
  { index, idoc }: { index: number; idoc: GoodsMovementIdoc },
): { keys: string[]; documentId: string } {
  const number = text(view, "MBLNR");
  if (number !== undefined) {
    const year = required(view, "MJAHR");
    if (!/^\d{4}$/.test(year)) {
      const path = pathOf(view, "MJAHR");
      throw new PluginError(`field "${path}" must be a year YYYY, got "${year}"`, { field: path });
    }
    const mblnr = /^\d+$/.test(number) ? number.padStart(10, "0") : number;
    const item = (text(view, "ZEILE") ?? String(index + 1)).padStart(4, "0");
    return { keys: [mblnr, year, item], documentId: `${mblnr}/${year}/${item}` };
  }
  const docnum = idoc.control?.DOCNUM;
  const item = String(index + 1).padStart(4, "0");
  if ((typeof docnum === "string" && docnum.trim() !== "") || typeof docnum === "number") {
    const id = String(docnum).trim();
    return { keys: ["IDOC", id, item], documentId: `IDOC ${id}/${item}` };
  }
  const path = `${idoc.prefix}EDI_DC40.DOCNUM`;
  throw new PluginError(
    `no document key for "${view.path}": it has no material document number (${
      idoc.kind === "WMMBXY" ? "E1MBXYJ.MBLNR" : "E1BP2017_GM_HEAD_RET.MAT_DOC"
    }) and field "${path}" is missing`,
    { field: path },
  );
}

/**
 * The quantity in the material's base unit (MENGE/MEINS) when the IDoc carries it, so every
 * event of a lot is in one unit; else the quantity of entry (ERFMG/ERFME). Both are checked.
 */
function amountOf(
  view: View,
  settings: Settings,
): { quantity: number; uom: string; unitPath: string } {
  const entry = quantity(view, "ERFMG");
  const base = quantity(view, "MENGE");
  const baseUnit = text(view, "MEINS");
  const useBase = base !== undefined && base !== 0 && baseUnit !== undefined;
  const [amount, quantityName, unitName] = useBase
    ? [base, "MENGE", "MEINS"] as const
    : [entry, "ERFMG", "ERFME"] as const;
  const quantityPath = pathOf(view, quantityName);
  if (amount === undefined) {
    throw new PluginError(`field "${quantityPath}" is missing`, { field: quantityPath });
  }
  if (amount === 0) {
    throw new PluginError(`field "${quantityPath}" must not be zero`, { field: quantityPath });
  }
  const unitPath = pathOf(view, unitName);
  const uom = toRec20(required(view, unitName), unitPath, settings.aliases);
  return { quantity: Math.abs(amount), uom, unitPath };
}
