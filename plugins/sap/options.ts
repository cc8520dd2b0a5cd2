import { plantIdsOption, UNIT_ALIASES_OPTION } from "../../gateway/mod.ts";

/** Options of the SAP plugin (`sources[].options` in the edge config). */
export interface SapOptions {
  /**
   * Site unit spellings (T006 internal or ISO codes) -> UN/ECE Rec 20 codes, e.g. `{ FAS: "XDR" }`.
   * They win over the built-in aliases, and `encode` uses them to spell Rec 20 codes back.
   * Default `{}`.
   */
  unitAliases: Record<string, string>;
  /**
   * IANA zone of the SAP application server, whose clock stamps CPUDT/CPUTM and the IDoc's
   * CREDAT/CRETIM. Default: the plant's time zone (`ctx.timeZone`).
   */
  serverTimeZone?: string;
  /**
   * Receiving storage locations (UMLGO) that are production supply areas. When set, a 311 of the
   * same batch into any other storage location is a plain move and decodes to no event.
   * Default `[]`: every same-batch 311 is staging.
   */
  stagingStorageLocations: string[];
  /**
   * Movement types the site sends but that carry no lot meaning (e.g. `601`, `321`): their items
   * decode to no event instead of a `plugin_unsupported` dead letter. Default `[]`.
   */
  ignoreMovementTypes: string[];
  /**
   * SAP plant codes (WERKS, the receiving plant UMWRK of a stock transfer) -> plantgate plant ids,
   * e.g. `{ DE20: "hamburg" }`: where a shipment goes. Default `{}`: the code is the plant id.
   */
  plantIds: Record<string, string>;
  /** Defaults for the goods-movement requests `encode` builds. */
  commands: CommandOptions;
}

/** Defaults for encoded commands; a command's `payload` fields of the same name win. */
export interface CommandOptions {
  /** SAP plant (WERKS). Default: the plantgate plant id, when it has at most 4 characters. */
  plant?: string;
  /** Storage location (LGORT) receipts go to. Default: none (SAP's own default applies). */
  storageLocation?: string;
  /** Cost center charged by a downward ADJUST_LOT (movement type 551). Default: none. */
  costCenter?: string;
  /**
   * Logical system (partner) the stock reports of REPORT_LOTS are sent to: RMCPAMRP's OPT_SYS.
   * Default: `EDGE_<plant>` (upper case, 10 characters).
   */
  logicalSystem?: string;
}

/** JSON Schema of {@linkcode SapOptions}; the runtime applies the defaults. */
export const OPTIONS_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: false,
  properties: {
    unitAliases: UNIT_ALIASES_OPTION,
    serverTimeZone: {
      type: "string",
      minLength: 1,
      description: "IANA zone of the SAP server clock (CPUDT/CPUTM, CREDAT/CRETIM).",
    },
    stagingStorageLocations: {
      type: "array",
      items: { type: "string", minLength: 1, maxLength: 4 },
      default: [],
      description: "Production supply storage locations; empty = every same-batch 311 stages.",
    },
    ignoreMovementTypes: {
      type: "array",
      items: { type: "string", pattern: "^[0-9A-Z]{3}$" },
      default: [],
      description: "Movement types that decode to no event instead of a dead letter.",
    },
    plantIds: plantIdsOption("SAP plant code (UMWRK of a stock transfer)", 4),
    commands: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        plant: { type: "string", minLength: 1, maxLength: 4 },
        storageLocation: { type: "string", minLength: 1, maxLength: 4 },
        costCenter: { type: "string", minLength: 1, maxLength: 10 },
        logicalSystem: { type: "string", minLength: 1, maxLength: 10 },
      },
    },
  },
};
