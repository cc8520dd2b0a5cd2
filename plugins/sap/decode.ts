import {
  listAt,
  type LotEventDraft,
  objectAt,
  optionalStringAt,
  type PluginContext,
  PluginError,
  quantityAt,
  sapDateTimeToIso,
  stringAt,
  toRec20,
  unpad,
} from "../../gateway/mod.ts";

/** Options of the SAP plugin. */
export interface SapOptions {
  /** Extra unit spellings -> Rec 20 codes (site T006 entries). */
  unitAliases: Record<string, string>;
}

/** One goods-movement item, whatever the IDoc type. */
interface Item {
  path: string;
  /** Material document key parts: number, year, item (or IDoc number and item index). */
  documentId: string;
  keys: string[];
  material: string;
  batch: string;
  moveType: string;
  quantity: number;
  uom: string;
  unit: string;
  order?: string;
  purchaseOrder?: string;
  movementIndicator?: string;
  receivingBatch?: string;
  storageLocation?: string;
  receivingStorageLocation?: string;
  reversed?: string;
  plant?: string;
}

const IDOC_ROOTS = ["WMMBID02", "WMMBID01", "MBGMCR04", "MBGMCR03", "MBGMCR02"];

function wmmbxyItems(idoc: Record<string, unknown>, unitAliases: Record<string, string>): Item[] {
  const header = objectAt(idoc.E1MBXYH, "IDOC.E1MBXYH");
  return listAt(header.E1MBXYI, "IDOC.E1MBXYH.E1MBXYI").map((item, i, all) => {
    const path = `IDOC.E1MBXYH.E1MBXYI${all.length > 1 ? `[${i}]` : ""}`;
    const result = objectAt(item.E1MBXYJ, `${path}.E1MBXYJ`);
    const mblnr = stringAt(result, "MBLNR", `${path}.E1MBXYJ`);
    const mjahr = stringAt(result, "MJAHR", `${path}.E1MBXYJ`);
    const mblpo = stringAt(result, "MBLPO", `${path}.E1MBXYJ`);
    const unit = stringAt(item, "ERFME", path);
    const smbln = optionalStringAt(item, "SMBLN", path);
    return {
      path,
      documentId: `${mblnr}/${mjahr}/${mblpo}`,
      keys: [mblnr, mjahr, mblpo],
      material: unpad(stringAt(item, "MATNR", path)),
      batch: stringAt(item, "CHARG", path),
      moveType: stringAt(item, "BWART", path),
      quantity: quantityAt(item, "ERFMG", path),
      unit,
      uom: toRec20(unit, `${path}.ERFME`, unitAliases),
      order: mapOptional(optionalStringAt(item, "AUFNR", path), unpad),
      purchaseOrder: optionalStringAt(item, "EBELN", path),
      movementIndicator: optionalStringAt(item, "KZBEW", path),
      receivingBatch: optionalStringAt(item, "UMCHA", path),
      storageLocation: optionalStringAt(item, "LGORT", path),
      receivingStorageLocation: optionalStringAt(item, "UMLGO", path),
      reversed: smbln &&
        [smbln, optionalStringAt(item, "SJAHR", path), optionalStringAt(item, "SMBLP", path)]
          .filter(Boolean).join("/"),
      plant: optionalStringAt(item, "WERKS", path),
    };
  });
}

function mbgmcrItems(
  idoc: Record<string, unknown>,
  docnum: string,
  unitAliases: Record<string, string>,
): Item[] {
  const body = objectAt(idoc.E1MBGMCR, "IDOC.E1MBGMCR");
  return listAt(body.E1BP2017_GM_ITEM_CREATE, "IDOC.E1MBGMCR.E1BP2017_GM_ITEM_CREATE").map(
    (item, i, all) => {
      const path = `IDOC.E1MBGMCR.E1BP2017_GM_ITEM_CREATE${all.length > 1 ? `[${i}]` : ""}`;
      const unit = optionalStringAt(item, "ENTRY_UOM", path) ??
        stringAt(item, "ENTRY_UOM_ISO", path);
      const index = String(i + 1).padStart(4, "0");
      return {
        path,
        documentId: `IDOC ${docnum}/${index}`,
        keys: ["IDOC", docnum, index],
        material: unpad(stringAt(item, "MATERIAL", path)),
        batch: stringAt(item, "BATCH", path),
        moveType: stringAt(item, "MOVE_TYPE", path),
        quantity: quantityAt(item, "ENTRY_QNT", path),
        unit,
        uom: toRec20(unit, `${path}.ENTRY_UOM`, unitAliases),
        order: mapOptional(optionalStringAt(item, "ORDERID", path), unpad),
        purchaseOrder: optionalStringAt(item, "PO_NUMBER", path),
        movementIndicator: optionalStringAt(item, "MVT_IND", path),
        receivingBatch: optionalStringAt(item, "MOVE_BATCH", path),
        storageLocation: optionalStringAt(item, "STGE_LOC", path),
        receivingStorageLocation: optionalStringAt(item, "MOVE_STLOC", path),
        plant: optionalStringAt(item, "PLANT", path),
      };
    },
  );
}

function mapOptional<T, U>(value: T | undefined, fn: (v: T) => U): U | undefined {
  return value === undefined ? undefined : fn(value);
}

function audit(item: Item): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({
      movementType: item.moveType,
      plant: item.plant,
      storageLocation: item.storageLocation,
      receivingStorageLocation: item.receivingStorageLocation,
      movementIndicator: item.movementIndicator,
      purchaseOrder: item.purchaseOrder,
      reversedDocument: item.reversed,
      sapUnit: item.unit,
    }).filter(([, v]) => v !== undefined),
  );
}

const REVERSALS = new Set(["102", "262", "310", "312"]);

/**
 * SAP goods movement (IDoc WMMBXY or MBGMCR rendered as JSON) -> canonical events.
 * See plugins/sap/README.md for the mapping.
 */
export function decodeSap(body: unknown, ctx: PluginContext<SapOptions>): LotEventDraft[] {
  const doc = objectAt(body, "(document)");
  const rootName = IDOC_ROOTS.find((r) => r in doc);
  if (!rootName) {
    throw new PluginError(
      `not an SAP goods-movement IDoc: expected one of ${IDOC_ROOTS.join(", ")} at the top, got ${
        Object.keys(doc).slice(0, 5).join(", ") || "nothing"
      }`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const idoc = objectAt(objectAt(doc[rootName], rootName).IDOC, `${rootName}.IDOC`);
  const control = objectAt(idoc.EDI_DC40, "IDOC.EDI_DC40");
  const docnum = stringAt(control, "DOCNUM", "IDOC.EDI_DC40");
  const timestamp = sapDateTimeToIso(
    control.CREDAT,
    control.CRETIM,
    ctx.timeZone,
    "IDOC.EDI_DC40.CREDAT",
  );
  const aliases = ctx.options.unitAliases ?? {};
  const items = rootName.startsWith("WMMB")
    ? wmmbxyItems(idoc, aliases)
    : mbgmcrItems(idoc, docnum, aliases);
  const base = (item: Item) => ({ timestamp, material: item.material, uom: item.uom });
  const events: LotEventDraft[] = [];
  const batchTransfers = new Map<string, Item[]>();
  for (const item of items) {
    const payload = { ...audit(item), idoc: docnum, idocType: rootName };
    const simple = (
      eventType: LotEventDraft["eventType"],
      correlationId?: string,
    ): LotEventDraft => ({
      ...base(item),
      eventId: ctx.eventId(...item.keys),
      eventType,
      lotId: item.batch,
      quantity: Math.abs(item.quantity),
      parents: [],
      ...(correlationId ? { correlationId } : {}),
      source: { documentId: item.documentId },
      payload,
    });
    const moveField = `${item.path}.${rootName.startsWith("WMMB") ? "BWART" : "MOVE_TYPE"}`;
    if (item.moveType === "101") {
      const fromPurchase = item.movementIndicator === "B" || (item.purchaseOrder && !item.order);
      events.push(
        fromPurchase
          ? simple("LOT_RECEIVED", item.purchaseOrder)
          : simple("LOT_CREATED", item.order),
      );
    } else if (item.moveType === "261") {
      events.push(simple("LOT_CONSUMED", item.order));
    } else if (REVERSALS.has(item.moveType)) {
      events.push(simple("LOT_REVERSED", item.order));
    } else if (item.moveType === "311" || item.moveType === "309") {
      if (item.receivingBatch && item.receivingBatch !== item.batch) {
        const group = batchTransfers.get(item.receivingBatch) ?? [];
        group.push(item);
        batchTransfers.set(item.receivingBatch, group);
      } else {
        events.push(simple("LOT_STAGED", item.order));
      }
    } else {
      throw new PluginError(
        `movement type "${item.moveType}" is not mapped (supported: 101, 261, 309, 311 and reversals 102, 262, 310, 312)`,
        { field: moveField, code: "plugin_unsupported" },
      );
    }
  }
  for (const [receiving, group] of batchTransfers) {
    const first = group[0];
    const sources = new Set(group.map((i) => i.batch));
    const quantity = group.reduce((sum, i) => sum + Math.abs(i.quantity), 0);
    events.push({
      ...base(first),
      eventId: ctx.eventId(...first.keys.slice(0, -1), "to", receiving),
      eventType: sources.size > 1 ? "LOT_MERGED" : "LOT_SPLIT",
      lotId: receiving,
      quantity,
      parents: group.map((i) => ({ lotId: i.batch, quantity: Math.abs(i.quantity), uom: i.uom })),
      ...(first.order ? { correlationId: first.order } : {}),
      source: { documentId: `${first.keys.slice(0, -1).join("/")}->${receiving}` },
      payload: {
        ...audit(first),
        idoc: docnum,
        idocType: rootName,
        items: group.map((i) => i.documentId),
      },
    });
  }
  return events;
}
