/**
 * REPORT_LOTS -> the OData query of D365's on-hand inventory entity that the plant bridge runs:
 * `GET /data/WarehousesOnHandV2` (entity InventWarehouseOnHandV2Entity), restricted to the
 * command's item and batch, batch stock only, with `$count` so the report can be checked for
 * completeness. The standard entity has no batch dimension and no unit: the site extends it with
 * `ItemBatchNumber` and `InventoryUnitSymbol` (see README "Stock reports").
 *
 * @module
 */
import { type EncodedCommand, type LotCommand, PluginError } from "../../gateway/mod.ts";
import type { CommandOptions } from "./options.ts";

/** Public collection name of the on-hand entity the query reads. */
export const ONHAND_ENTITY_SET = "WarehousesOnHandV2";

/** The fields the report needs, in entity order; the last two are the site's extension. */
const SELECT = [
  "dataAreaId",
  "ItemNumber",
  "InventorySiteId",
  "InventoryWarehouseId",
  "OnHandQuantity",
  "ItemBatchNumber",
  "InventoryUnitSymbol",
];

/** OData string literal: single quotes doubled. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function refuse(message: string, field: string): never {
  throw new PluginError(`Cannot encode command for Dynamics 365: ${message}`, {
    code: "command_unsupported",
    field,
  });
}

/**
 * The encoded REPORT_LOTS: the selection ("*" = all) and the one GET request. With a legal
 * entity (the command's `payload.legalEntity`, else `commands.legalEntity`) the query runs
 * cross-company filtered on `dataAreaId`; without, in the integration user's company.
 */
export function encodeStockRequest(command: LotCommand, options: CommandOptions): EncodedCommand {
  for (const field of ["lotId", "material"] as const) {
    if (!command[field]) refuse(`REPORT_LOTS needs a ${field} ("*" for all)`, field);
  }
  const entity = command.payload?.legalEntity;
  const legalEntity = typeof entity === "string" && entity !== "" ? entity : options.legalEntity;
  const filters = [
    ...(legalEntity ? [`dataAreaId eq ${literal(legalEntity)}`] : []),
    ...(command.material !== "*" ? [`ItemNumber eq ${literal(command.material)}`] : []),
    ...(command.lotId !== "*" ? [`ItemBatchNumber eq ${literal(command.lotId)}`] : []),
    "ItemBatchNumber ne ''",
    "OnHandQuantity ne 0",
  ];
  return {
    body: {
      commandId: command.commandId,
      commandType: command.commandType,
      selection: { ItemNumber: command.material, ItemBatchNumber: command.lotId },
      requests: [{
        method: "GET",
        entitySet: ONHAND_ENTITY_SET,
        query: {
          ...(legalEntity ? { "cross-company": "true" } : {}),
          $filter: filters.join(" and "),
          $select: SELECT.join(","),
          $count: "true",
        },
      }],
    },
  };
}
