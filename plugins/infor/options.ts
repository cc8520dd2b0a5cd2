/**
 * Options of the Infor plugin: the type the plugin sees and the JSON Schema the runtime validates
 * the config against (unknown keys rejected, defaults applied).
 *
 * @module
 */
import { plantIdsOption, UNIT_ALIASES_OPTION } from "../../gateway/mod.ts";

/** Options of the Infor plugin (defaults applied by the runtime from `optionsSchema`). */
export interface InforOptions {
  /** Extra unitCode spellings -> UN/ECE Rec 20 codes (they win over the built-in aliases). */
  unitAliases: Record<string, string>;
  /** Warehouse locations that are production staging areas: a MoveInventory there is LOT_STAGED. */
  stagingLocations: string[];
  /**
   * Ship-to locations of a Shipment (`ShipToParty/Location/ID`: the receiving site or warehouse)
   * -> plantgate plant ids: where a shipment goes. Default `{}`: the location id is the plant id.
   */
  plantIds: Record<string, string>;
  /** Encode: tenant in the BODID. Default: the plant id. */
  tenant?: string;
  /** Encode: accounting entity in the BODID and the verb element. */
  accountingEntity?: string;
  /** Encode: ION location (site) in the BODID and the verb element. */
  locationId?: string;
  /** Encode: `Sender/LogicalID`. Default `lid://plantgate.<plant>`. */
  logicalId?: string;
}

/** JSON Schema of {@linkcode InforOptions}. */
export const INFOR_OPTIONS_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: false,
  properties: {
    unitAliases: UNIT_ALIASES_OPTION,
    stagingLocations: {
      type: "array",
      items: { type: "string", minLength: 1 },
      default: [],
      description:
        "Warehouse locations that are production staging areas: a MoveInventory line to one " +
        "of them is LOT_STAGED even without a production-order reference.",
    },
    plantIds: plantIdsOption("Ship-to location of a Shipment"),
    tenant: {
      type: "string",
      minLength: 1,
      description: "Encode: ION tenant in the BODID and TenantID. Default: the plant id.",
    },
    accountingEntity: {
      type: "string",
      minLength: 1,
      description: "Encode: AccountingEntityID of the Process BODs. Default: none.",
    },
    locationId: {
      type: "string",
      minLength: 1,
      description: "Encode: LocationID (site) of the Process BODs. Default: none.",
    },
    logicalId: {
      type: "string",
      pattern: "^lid://",
      description: "Encode: Sender LogicalID. Default: lid://plantgate.<plant>.",
    },
  },
};
