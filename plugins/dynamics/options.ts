/**
 * What the Dynamics plugin knows about business events, and its options.
 *
 * @module
 */
import { plantIdsOption, UNIT_ALIASES_OPTION } from "../../gateway/mod.ts";

/** The lot meaning of a D365 business event, named after the D365 function that posts it. */
export type DynamicsKind =
  | "report-as-finished"
  | "product-receipt"
  | "picking-list"
  | "staging"
  | "batch-merge"
  | "batch-split"
  | "transfer-shipment"
  | "adjustment-journal"
  | "adjustment-journal-failed";

/**
 * How a `BusinessEventId` is recognised: the X++ class name ends in one of these (custom events
 * carry the customer's prefix, e.g. `ContosoProdReportedFinishedBusinessEvent`).
 */
export const BUSINESS_EVENT_SUFFIXES: Readonly<Record<DynamicsKind, string>> = {
  "report-as-finished": "ProdReportedFinishedBusinessEvent",
  "product-receipt": "PurchProductReceiptPostedBusinessEvent",
  "picking-list": "ProdPickingListPostedBusinessEvent",
  "staging": "ProdMaterialStagedBusinessEvent",
  "batch-merge": "InventBatchMergePostedBusinessEvent",
  "batch-split": "InventBatchSplitPostedBusinessEvent",
  "transfer-shipment": "InventTransferShipmentPostedBusinessEvent",
  "adjustment-journal": "InventAdjustmentJournalPostedBusinessEvent",
  "adjustment-journal-failed": "InventAdjustmentJournalPostingFailedBusinessEvent",
};

/** Where lot commands go in D365 (see README "Commands"). */
export interface CommandOptions {
  /** `dataAreaId` of the journals; default: the integration user's default company. */
  legalEntity?: string;
  /** Inventory adjustment journal name. Default `IAdj`. */
  journalName?: string;
  /** Default site when the command's payload has no `siteId`. */
  siteId?: string;
  /** Default warehouse when the command's payload has no `warehouseId`. */
  warehouseId?: string;
}

/** Options of the Dynamics plugin, as validated by {@linkcode OPTIONS_SCHEMA}. */
export interface DynamicsOptions {
  /** Site unit symbols -> UN/ECE Rec 20 codes (they win over the built-in table). Default `{}`. */
  unitAliases?: Record<string, string>;
  /** Exact `BusinessEventId`s -> kind, for class names without a standard ending. Default `{}`. */
  businessEvents?: Record<string, DynamicsKind>;
  /**
   * Receiving warehouses (`ReceivingWarehouseId` of a transfer order) -> plantgate plant ids, e.g.
   * `{ "21": "hamburg" }`: where a shipment goes. Default `{}`: the warehouse id is the plant id.
   */
  plantIds?: Record<string, string>;
  /** Downlink settings. Default `{}`. */
  commands?: CommandOptions;
}

/** JSON Schema of {@linkcode DynamicsOptions}. */
export const OPTIONS_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: false,
  properties: {
    unitAliases: UNIT_ALIASES_OPTION,
    businessEvents: {
      type: "object",
      additionalProperties: { enum: Object.keys(BUSINESS_EVENT_SUFFIXES) },
      default: {},
      description: "BusinessEventId -> kind for custom events whose class names do not end in " +
        'a standard suffix, e.g. { "FabrikamProdOutputBusinessEvent": "report-as-finished" }.',
    },
    plantIds: plantIdsOption("Receiving warehouse of a transfer order", 10),
    commands: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        legalEntity: { type: "string", minLength: 1, maxLength: 4 },
        journalName: { type: "string", minLength: 1, default: "IAdj" },
        siteId: { type: "string", minLength: 1 },
        warehouseId: { type: "string", minLength: 1 },
      },
    },
  },
};
