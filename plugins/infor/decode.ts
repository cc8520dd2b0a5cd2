import {
  isoToUtc,
  listAt,
  type LotEventDraft,
  objectAt,
  type PluginContext,
  PluginError,
  quantityAt,
  stringAt,
  toRec20,
} from "../../gateway/mod.ts";

/** What an InventoryAdjustment with a given reason code means for lots. */
export type AdjustmentKind = "consume" | "stage" | "produce" | "transfer";

/** Options of the Infor plugin. */
export interface InforOptions {
  /** Extra unitCode spellings -> Rec 20 codes. */
  unitAliases: Record<string, string>;
  /** InventoryAdjustment ReasonCode -> meaning, added to (and overriding) the defaults. */
  reasonCodes: Record<string, AdjustmentKind>;
}

/** Default reason codes (M3 transaction types and plain mnemonics). */
export const DEFAULT_REASON_CODES: Readonly<Record<string, AdjustmentKind>> = {
  "11": "consume",
  ISS: "consume",
  STG: "stage",
  "10": "produce",
  PRD: "produce",
  LOT: "transfer",
};

const NOUNS = ["InventoryAdjustment", "ReceiveDelivery"] as const;

/** The text of an element rendered as `{"@attr": ..., "#text": ...}` or as a plain value. */
function text(value: unknown, field: string): string {
  const raw = typeof value === "object" && value !== null && "#text" in value
    ? (value as Record<string, unknown>)["#text"]
    : value;
  if ((typeof raw === "string" && raw.trim() !== "") || typeof raw === "number") {
    return String(raw).trim();
  }
  throw new PluginError(
    raw === undefined
      ? `field "${field}" is missing`
      : `field "${field}" must be text, got ${JSON.stringify(raw)}`,
    { field },
  );
}

/** `<Quantity unitCode="KGM">-820</Quantity>` -> { quantity, unit }. */
function quantity(value: unknown, field: string): { quantity: number; unit: string } {
  const q = objectAt(value, field);
  return {
    quantity: quantityAt(q, "#text", field),
    unit: stringAt(q, "@unitCode", field),
  };
}

interface Line {
  path: string;
  lineNumber: string;
  lot: string;
  material: string;
  quantity: number;
  uom: string;
  unit: string;
  order?: string;
}

function lot(line: Record<string, unknown>, path: string): string {
  const instance = objectAt(line.ItemInstance, `${path}.ItemInstance`);
  const lotNode = objectAt(instance.Lot, `${path}.ItemInstance.Lot`);
  const ids = objectAt(lotNode.LotIDs, `${path}.ItemInstance.Lot.LotIDs`);
  return text(ids.ID, `${path}.ItemInstance.Lot.LotIDs.ID`);
}

function material(line: Record<string, unknown>, path: string): string {
  return text(
    objectAt(objectAt(line.Item, `${path}.Item`).ItemID, `${path}.Item.ItemID`).ID,
    `${path}.Item.ItemID.ID`,
  );
}

function reference(node: unknown): string | undefined {
  const ref = node as { DocumentID?: { ID?: unknown } } | undefined;
  const id = ref?.DocumentID?.ID;
  return id === undefined ? undefined : text(id, "DocumentReference.DocumentID.ID");
}

function lines(
  items: unknown,
  path: string,
  qtyKey: string,
  aliases: Record<string, string>,
  orderOf: (item: Record<string, unknown>) => string | undefined,
): Line[] {
  return listAt(items, path).map((item, i, all) => {
    const p = all.length > 1 ? `${path}[${i}]` : path;
    const q = quantity(item[qtyKey], `${p}.${qtyKey}`);
    const order = orderOf(item);
    return {
      path: p,
      lineNumber: item.LineNumber === undefined
        ? String(i + 1)
        : text(item.LineNumber, `${p}.LineNumber`),
      lot: lot(item, p),
      material: material(item, p),
      quantity: q.quantity,
      unit: q.unit,
      uom: toRec20(q.unit, `${p}.${qtyKey}.@unitCode`, aliases),
      ...(order ? { order } : {}),
    };
  });
}

/**
 * Infor ION BOD (Sync/Process InventoryAdjustment or ReceiveDelivery, rendered as JSON) ->
 * canonical events. See plugins/infor/README.md.
 */
export function decodeInfor(body: unknown, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  const doc = objectAt(body, "(document)");
  const rootName = Object.keys(doc).find((k) => /^(Sync|Process)[A-Z]/.test(k));
  const noun = rootName &&
    NOUNS.find((n) =>
      rootName.endsWith(n) && rootName.length === n.length + (rootName.startsWith("Sync") ? 4 : 7)
    );
  if (!rootName || !noun) {
    throw new PluginError(
      `not a lot-bearing BOD: expected Sync/Process + ${NOUNS.join(" or ")} at the top, got ${
        Object.keys(doc).slice(0, 5).join(", ") || "nothing"
      }`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const root = objectAt(doc[rootName], rootName);
  const area = objectAt(root.ApplicationArea, "ApplicationArea");
  const bodId = stringAt(area, "BODID", "ApplicationArea");
  const timestamp = isoToUtc(area.CreationDateTime, "ApplicationArea.CreationDateTime");
  const logicalId = (area.Sender as { LogicalID?: string } | undefined)?.LogicalID;
  const data = objectAt(root.DataArea, "DataArea");
  const verb = objectAt(data[rootName.startsWith("Sync") ? "Sync" : "Process"], "DataArea.Sync");
  const action =
    ((verb.ActionCriteria as { ActionExpression?: Record<string, unknown> } | undefined)
      ?.ActionExpression?.["@actionCode"] ?? "Add") as string;
  if (!["Add", "Change", "Replace", "Delete"].includes(action)) {
    throw new PluginError(`actionCode "${action}" is not one of Add, Change, Replace, Delete`, {
      field: "DataArea.Sync.ActionCriteria.ActionExpression.@actionCode",
      code: "plugin_unsupported",
    });
  }
  const variation = /[?&]variationID=(\d+)/.exec(bodId)?.[1];
  const nounNode = objectAt(data[noun], `DataArea.${noun}`);
  const aliases = ctx.options.unitAliases ?? {};
  const header = objectAt(nounNode[`${noun}Header`], `DataArea.${noun}.${noun}Header`);
  const documentId = text(
    objectAt(header.DocumentID, `DataArea.${noun}.${noun}Header.DocumentID`).ID,
    `DataArea.${noun}.${noun}Header.DocumentID.ID`,
  );
  const payloadBase = Object.fromEntries(
    Object.entries({
      bodId,
      noun,
      actionCode: action,
      logicalId,
      tenantId: verb.TenantID,
      accountingEntity: verb.AccountingEntityID,
      location: verb.LocationID,
      reasonCode: header.ReasonCode,
    }).filter(([, v]) => v !== undefined),
  );
  const event = (
    line: Line,
    eventType: LotEventDraft["eventType"],
    extra: Partial<LotEventDraft> = {},
  ): LotEventDraft => ({
    eventId: ctx.eventId(bodId, line.lineNumber),
    eventType,
    timestamp,
    lotId: line.lot,
    material: line.material,
    quantity: Math.abs(line.quantity),
    uom: line.uom,
    parents: [],
    ...(line.order ? { correlationId: line.order } : {}),
    ...(variation ? { version: Number(variation) } : {}),
    source: { documentId: `${documentId}/${line.lineNumber}` },
    payload: { ...payloadBase, inforUnit: line.unit },
    ...extra,
  });
  if (noun === "ReceiveDelivery") {
    const items = lines(
      nounNode.ReceiveDeliveryItem,
      "DataArea.ReceiveDelivery.ReceiveDeliveryItem",
      "ReceivedQuantity",
      aliases,
      (item) => reference(item.PurchaseOrderReference),
    );
    return items.map((l) => event(l, action === "Delete" ? "LOT_REVERSED" : "LOT_RECEIVED"));
  }
  const items = lines(
    nounNode.InventoryAdjustmentLine,
    "DataArea.InventoryAdjustment.InventoryAdjustmentLine",
    "Quantity",
    aliases,
    (item) => reference(item.DocumentReference),
  );
  if (action === "Delete") return items.map((l) => event(l, "LOT_REVERSED"));
  const reasonField = "DataArea.InventoryAdjustment.InventoryAdjustmentHeader.ReasonCode";
  const reason = text(header.ReasonCode, reasonField);
  const kind = ctx.options.reasonCodes?.[reason] ?? DEFAULT_REASON_CODES[reason];
  if (!kind) {
    throw new PluginError(
      `reason code "${reason}" is not mapped (defaults: ${
        Object.keys(DEFAULT_REASON_CODES).join(", ")
      }; map it with the reasonCodes option)`,
      { field: reasonField, code: "plugin_unsupported" },
    );
  }
  if (kind === "consume") return items.map((l) => event(l, "LOT_CONSUMED"));
  if (kind === "stage") return items.map((l) => event(l, "LOT_STAGED"));
  if (kind === "produce") return items.map((l) => event(l, "LOT_CREATED"));
  const issues = items.filter((l) => l.quantity < 0);
  const receipts = items.filter((l) => l.quantity > 0);
  if (issues.length === 0 || receipts.length === 0 || (issues.length > 1 && receipts.length > 1)) {
    throw new PluginError(
      `a lot transfer needs one issue line and several receipt lines (split) or several issue lines and one receipt line (merge); got ${issues.length} issue(s) and ${receipts.length} receipt(s)`,
      { field: "DataArea.InventoryAdjustment.InventoryAdjustmentLine" },
    );
  }
  if (issues.length === 1) {
    return receipts.map((r) =>
      event(r, "LOT_SPLIT", {
        parents: [{ lotId: issues[0].lot, quantity: r.quantity, uom: r.uom }],
      })
    );
  }
  return [event(receipts[0], "LOT_MERGED", {
    parents: issues.map((i) => ({ lotId: i.lot, quantity: Math.abs(i.quantity), uom: i.uom })),
  })];
}
