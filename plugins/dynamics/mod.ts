/**
 * Microsoft Dynamics 365 plugin: F&O business events (inventory and production) -> canonical
 * lot events, and lot commands -> inventory journal line requests. See README.md.
 *
 * @module
 */
import { definePlugin, type LotCommand, PluginError } from "../../gateway/mod.ts";
import { decodeDynamics, type DynamicsOptions } from "./decode.ts";
import { dynamicsSimulator } from "./simulator.ts";

const TO_D365_UNIT: Record<string, string> = { KGM: "kg", LTR: "L", H87: "pcs", EA: "ea" };

function encodeDynamics(command: LotCommand): { body: unknown } {
  const journal =
    { CREATE_LOT: "IMov", RECEIVE_LOT: "IMov", ADJUST_LOT: "IAdj" }[command.commandType];
  if (!journal) {
    throw new PluginError(`command type "${command.commandType}" cannot be sent to Dynamics 365`, {
      code: "command_unsupported",
      field: "commandType",
    });
  }
  // An OData InventoryMovementJournalEntries / InventoryAdjustmentJournalEntries line with a batch.
  return {
    body: {
      "@odata.type": journal === "IMov"
        ? "#Microsoft.Dynamics.DataEntities.InventoryMovementJournalEntry"
        : "#Microsoft.Dynamics.DataEntities.InventoryAdjustmentJournalEntry",
      dataAreaId: command.plantId.toLowerCase() + "01",
      JournalNameId: journal,
      ItemNumber: command.material,
      ItemBatchNumber: command.lotId,
      InventoryQuantity: command.quantity,
      UnitSymbol: TO_D365_UNIT[command.uom] ?? command.uom,
      TransactionDate: command.issuedAt.slice(0, 10) + "T12:00:00Z",
      ExternalReference: command.commandId,
      Description: `plantgate ${command.commandType} ${command.correlationId ?? ""}`.trim(),
    },
  };
}

const KINDS = ["finished", "received", "picked", "staged", "merged", "split", "reversed"];

export default definePlugin<DynamicsOptions>({
  name: "dynamics",
  version: "1.0.0",
  description:
    "Microsoft Dynamics 365 F&O business events (production, inventory, batch merge/split)",
  optionsSchema: {
    type: "object",
    additionalProperties: false,
    properties: {
      unitAliases: {
        type: "object",
        additionalProperties: { type: "string", pattern: "^[A-Z0-9]{2,3}$" },
        default: {},
        description: "Tenant unit symbols to UN/ECE Rec 20 codes, e.g. { drum: XDR }.",
      },
      businessEvents: {
        type: "object",
        additionalProperties: { enum: KINDS },
        default: {},
        description: `BusinessEventId -> one of ${KINDS.join(", ")}, for custom event names.`,
      },
    },
  },
  decode: (message, ctx) => decodeDynamics(message.body, ctx),
  encode: (command) => encodeDynamics(command),
  simulator: dynamicsSimulator,
});
