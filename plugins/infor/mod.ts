/**
 * Infor plugin: ION BODs (Sync InventoryAdjustment / ReceiveDelivery, JSON rendering) ->
 * canonical lot events, and lot commands -> Process BODs. See README.md.
 *
 * @module
 */
import { definePlugin, type LotCommand, PluginError } from "../../gateway/mod.ts";
import { decodeInfor, type InforOptions } from "./decode.ts";
import { inforSimulator } from "./simulator.ts";

function encodeInfor(command: LotCommand): { body: unknown } {
  const noun = {
    CREATE_LOT: "InventoryAdjustment",
    RECEIVE_LOT: "ReceiveDelivery",
    ADJUST_LOT: "InventoryAdjustment",
  }[
    command.commandType
  ];
  if (!noun) {
    throw new PluginError(`command type "${command.commandType}" cannot be sent to Infor`, {
      code: "command_unsupported",
      field: "commandType",
    });
  }
  const line = {
    LineNumber: "1",
    Item: { ItemID: { ID: command.material } },
    [noun === "ReceiveDelivery" ? "ReceivedQuantity" : "Quantity"]: {
      "@unitCode": command.uom,
      "#text": String(command.quantity),
    },
    ItemInstance: { Lot: { LotIDs: { ID: command.lotId } } },
  };
  return {
    body: {
      [`Process${noun}`]: {
        "@releaseID": "9.2",
        ApplicationArea: {
          Sender: {
            LogicalID: "lid://plantgate",
            ComponentID: "plantgate",
            ConfirmationCode: "OnError",
          },
          CreationDateTime: command.issuedAt,
          BODID:
            `infor-nid:plantgate:${command.plantId}:${command.commandId}:1?${noun}&verb=Process`,
        },
        DataArea: {
          Process: { ActionCriteria: { ActionExpression: { "@actionCode": "Add" } } },
          [noun]: {
            [`${noun}Header`]: {
              DocumentID: { ID: command.commandId },
              ...(noun === "InventoryAdjustment"
                ? { ReasonCode: command.commandType === "ADJUST_LOT" ? "ADJ" : "PRD" }
                : {}),
            },
            [noun === "ReceiveDelivery" ? "ReceiveDeliveryItem" : "InventoryAdjustmentLine"]: line,
          },
        },
      },
    },
  };
}

export default definePlugin<InforOptions>({
  name: "infor",
  version: "1.0.0",
  description: "Infor M3/LN/CSI ION BODs (InventoryAdjustment, ReceiveDelivery as JSON)",
  optionsSchema: {
    type: "object",
    additionalProperties: false,
    properties: {
      unitAliases: {
        type: "object",
        additionalProperties: { type: "string", pattern: "^[A-Z0-9]{2,3}$" },
        default: {},
        description: "unitCode spellings to UN/ECE Rec 20 codes.",
      },
      reasonCodes: {
        type: "object",
        additionalProperties: { enum: ["consume", "stage", "produce", "transfer"] },
        default: {},
        description: "InventoryAdjustment ReasonCode -> consume | stage | produce | transfer.",
      },
    },
  },
  decode: (message, ctx) => decodeInfor(message.body, ctx),
  encode: (command) => encodeInfor(command),
  simulator: inforSimulator,
});
