import {
  isoToUtc,
  listAt,
  type LotEventDraft,
  msJsonDateToIso,
  objectAt,
  optionalStringAt,
  type PluginContext,
  PluginError,
  quantityAt,
  stringAt,
  toRec20,
} from "../../gateway/mod.ts";

/** What a business event means for lots. */
export type DynamicsKind =
  | "finished"
  | "received"
  | "picked"
  | "staged"
  | "merged"
  | "split"
  | "reversed";

/** Options of the Dynamics plugin. */
export interface DynamicsOptions {
  /** Extra unit symbols -> Rec 20 codes. */
  unitAliases: Record<string, string>;
  /** BusinessEventId -> kind, for events whose names do not end in the standard suffixes. */
  businessEvents: Record<string, DynamicsKind>;
}

/** Business event class-name endings (after the customer prefix, e.g. "Contoso") and their kind. */
const SUFFIXES: [string, DynamicsKind][] = [
  ["ProdReportedFinishedBusinessEvent", "finished"],
  ["PurchProductReceiptPostedBusinessEvent", "received"],
  ["ProdPickingListPostedBusinessEvent", "picked"],
  ["ProdInputStagedBusinessEvent", "staged"],
  ["InventBatchMergePostedBusinessEvent", "merged"],
  ["InventBatchSplitPostedBusinessEvent", "split"],
  ["InventJournalReversedBusinessEvent", "reversed"],
];

function kindOf(id: string, options: DynamicsOptions): DynamicsKind {
  const kind = options.businessEvents?.[id] ??
    SUFFIXES.find(([suffix]) => id.endsWith(suffix))?.[1];
  if (!kind) {
    throw new PluginError(
      `business event "${id}" is not mapped (names ending in ${
        SUFFIXES.map(([s]) => s).join(", ")
      }; or map it with the businessEvents option)`,
      { field: "BusinessEventId", code: "plugin_unsupported" },
    );
  }
  return kind;
}

/** D365 GUIDs come with or without braces and in any case: one form for ids. */
function guid(value: string): string {
  return value.replace(/^\{|\}$/g, "").toUpperCase();
}

/**
 * D365 F&O business event (standard envelope + inventory/production contract fields) ->
 * canonical events. See plugins/dynamics/README.md.
 */
export function decodeDynamics(
  body: unknown,
  ctx: PluginContext<DynamicsOptions>,
): LotEventDraft[] {
  const e = objectAt(body, "(event)");
  const businessEventId = stringAt(e, "BusinessEventId");
  const kind = kindOf(businessEventId, ctx.options);
  const legalEntity = stringAt(e, "BusinessEventLegalEntity").toLowerCase();
  const eventGuid = guid(stringAt(e, "EventId"));
  const control = e.ControlNumber;
  if (
    control !== undefined &&
    (typeof control !== "number" || !Number.isSafeInteger(control) || control < 0)
  ) {
    throw new PluginError(
      `field "ControlNumber" must be a non-negative integer, got ${JSON.stringify(control)}`,
      {
        field: "ControlNumber",
      },
    );
  }
  const timestamp = e.EventTimeIso8601 !== undefined
    ? isoToUtc(e.EventTimeIso8601, "EventTimeIso8601")
    : msJsonDateToIso(e.EventTime, "EventTime");
  const unitField = kind === "picked" && e.BOMUnitSymbol !== undefined
    ? "BOMUnitSymbol"
    : "UnitSymbol";
  const unit = stringAt(e, unitField);
  const uom = toRec20(unit, unitField, ctx.options.unitAliases ?? {});
  const material = stringAt(e, "ItemNumber");
  const documentId = optionalStringAt(e, "VoucherNumber") ??
    optionalStringAt(e, "JournalNumber") ??
    optionalStringAt(e, "InventoryJournalNumber") ?? eventGuid;
  const payload = Object.fromEntries(
    Object.entries({
      businessEventId,
      legalEntity,
      d365EventId: eventGuid,
      controlNumber: control,
      voucherNumber: e.VoucherNumber,
      journalNumber: e.JournalNumber ?? e.InventoryJournalNumber,
      siteId: e.ProductionSiteId ?? e.SiteId,
      warehouseId: e.WarehouseId,
      toWarehouseId: e.ToWarehouseId,
      reversedVoucherNumber: e.ReversedVoucherNumber,
      initiatingUser: typeof e.InitiatingUserAADObjectId === "string"
        ? guid(e.InitiatingUserAADObjectId)
        : undefined,
      d365Unit: unit,
    }).filter(([, v]) => v !== undefined && v !== ""),
  );
  const common = {
    timestamp,
    material,
    uom,
    ...(control !== undefined ? { version: control as number } : {}),
    source: { documentId },
    payload,
  };
  const one = (
    eventType: LotEventDraft["eventType"],
    quantityKey: string,
    correlationKey?: string,
  ): LotEventDraft[] => {
    const correlationId = correlationKey ? optionalStringAt(e, correlationKey) : undefined;
    return [{
      ...common,
      eventId: ctx.eventId(legalEntity, eventGuid),
      eventType,
      lotId: stringAt(e, "ItemBatchNumber"),
      quantity: Math.abs(quantityAt(e, quantityKey)),
      parents: [],
      ...(correlationId ? { correlationId } : {}),
    }];
  };
  switch (kind) {
    case "finished":
      return one("LOT_CREATED", "ReportedGoodInventoryQuantity", "ProductionOrderNumber");
    case "received":
      return one("LOT_RECEIVED", "ReceivedInventoryQuantity", "PurchaseOrderNumber");
    case "picked":
      return one("LOT_CONSUMED", "ConsumptionInventoryQuantity", "ProductionOrderNumber");
    case "staged":
      return one("LOT_STAGED", "Quantity", "ProductionOrderNumber");
    case "reversed":
      return one("LOT_REVERSED", "Quantity", "ProductionOrderNumber");
    case "merged": {
      const sources = listAt(e.SourceBatches, "SourceBatches");
      return [{
        ...common,
        eventId: ctx.eventId(legalEntity, eventGuid),
        eventType: "LOT_MERGED",
        lotId: stringAt(e, "MergedBatchNumber"),
        quantity: quantityAt(e, "MergedQuantity"),
        parents: sources.map((s, i) => ({
          lotId: stringAt(s, "BatchNumber", `SourceBatches[${i}]`),
          quantity: quantityAt(s, "Quantity", `SourceBatches[${i}]`),
          uom,
        })),
      }];
    }
    case "split": {
      const parent = stringAt(e, "SourceBatchNumber");
      return listAt(e.TargetBatches, "TargetBatches").map((t, i) => {
        const lotId = stringAt(t, "BatchNumber", `TargetBatches[${i}]`);
        const quantity = quantityAt(t, "Quantity", `TargetBatches[${i}]`);
        return {
          ...common,
          eventId: ctx.eventId(legalEntity, eventGuid, lotId),
          eventType: "LOT_SPLIT" as const,
          lotId,
          quantity,
          parents: [{ lotId: parent, quantity, uom }],
        };
      });
    }
  }
}
