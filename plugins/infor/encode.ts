import {
  type EncodedCommand,
  type LotCommand,
  type PluginContext,
  PluginError,
  REC20_UNITS,
} from "../../gateway/mod.ts";
import type { InforOptions } from "./options.ts";

/** Which noun carries which command, and whether its quantity may be negative. */
const NOUNS: Record<LotCommand["commandType"], { noun: string; signed: boolean }> = {
  RECEIVE_LOT: { noun: "ReceiveDelivery", signed: false },
  CREATE_LOT: { noun: "InventoryAdjustment", signed: false },
  ADJUST_LOT: { noun: "InventoryAdjustment", signed: true },
};

function refuse(message: string, field: string): never {
  throw new PluginError(message, { field, code: "command_unsupported" });
}

function check(command: LotCommand): { noun: string } {
  const target = Object.hasOwn(NOUNS, command.commandType) ? NOUNS[command.commandType] : null;
  if (!target) {
    refuse(
      `command type "${command.commandType}" cannot be sent to Infor (supported: ${
        Object.keys(NOUNS).join(", ")
      })`,
      "commandType",
    );
  }
  const q = command.quantity;
  if (!Number.isFinite(q) || q === 0 || (!target.signed && q < 0)) {
    refuse(`${command.commandType} quantity ${q} cannot be sent to Infor`, "quantity");
  }
  if (!Object.hasOwn(REC20_UNITS, command.uom)) {
    refuse(`uom "${command.uom}" is not a UN/ECE Rec 20 code plantgate knows`, "uom");
  }
  return target;
}

function line(command: LotCommand, noun: string): Record<string, unknown> {
  const quantity = { "@unitCode": command.uom, "#text": String(command.quantity) };
  const order = command.commandType === "CREATE_LOT" && command.correlationId;
  const po = command.commandType === "RECEIVE_LOT" && command.correlationId;
  return {
    LineNumber: "1",
    Item: { ItemID: { ID: command.material } },
    [noun === "ReceiveDelivery" ? "ReceivedQuantity" : "Quantity"]: quantity,
    ItemInstance: { Lot: { LotIDs: { ID: command.lotId } } },
    ...(order
      ? { DocumentReference: { "@type": "ProductionOrder", DocumentID: { ID: order } } }
      : {}),
    ...(po ? { PurchaseOrderReference: { DocumentID: { ID: po } } } : {}),
  };
}

/**
 * A lot command -> a Process BOD for the plant's Infor system: RECEIVE_LOT as
 * ProcessReceiveDelivery, CREATE_LOT and ADJUST_LOT as ProcessInventoryAdjustment. The document
 * id is the command id and the BODID is derived from it (revision 1, variationID 1), so a
 * redelivered command yields the same BOD and Infor can recognise the duplicate.
 */
export function encodeInfor(command: LotCommand, ctx: PluginContext<InforOptions>): EncodedCommand {
  const { noun } = check(command);
  const { tenant = ctx.plantId, accountingEntity = "", locationId = "" } = ctx.options;
  const documentId = command.commandId;
  const reasonCode = command.payload?.reasonCode;
  const note = ["plantgate", command.commandType, command.correlationId].filter(Boolean).join(" ");
  return {
    body: {
      [`Process${noun}`]: {
        "@xmlns": "http://schema.infor.com/InforOAGIS/2",
        "@releaseID": "9.2",
        ApplicationArea: {
          Sender: {
            LogicalID: ctx.options.logicalId ?? `lid://plantgate.${ctx.plantId.toLowerCase()}`,
            ComponentID: "plantgate",
            ConfirmationCode: "OnError",
          },
          CreationDateTime: command.issuedAt,
          BODID: `infor-nid:${tenant}:${accountingEntity}:${locationId}:${documentId}:1` +
            `?${noun}&verb=Process&variationID=1`,
        },
        DataArea: {
          Process: {
            TenantID: tenant,
            ...(accountingEntity ? { AccountingEntityID: accountingEntity } : {}),
            ...(locationId ? { LocationID: locationId } : {}),
            ActionCriteria: { ActionExpression: { "@actionCode": "Add" } },
          },
          [noun]: {
            [`${noun}Header`]: {
              DocumentID: { ID: documentId },
              DocumentDateTime: command.issuedAt,
              ...(typeof reasonCode === "string" ? { ReasonCode: reasonCode } : {}),
              Note: note,
            },
            [noun === "ReceiveDelivery" ? "ReceiveDeliveryItem" : "InventoryAdjustmentLine"]: line(
              command,
              noun,
            ),
          },
        },
      },
    },
  };
}
