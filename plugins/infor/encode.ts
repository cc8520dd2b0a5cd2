import {
  type EncodedCommand,
  type LotCommand,
  type PluginContext,
  PluginError,
  REC20_UNITS,
} from "../../gateway/mod.ts";
import type { InforOptions } from "./options.ts";

/** Which noun carries which posting command, and whether its quantity may be negative. */
const NOUNS: Record<string, { noun: string; signed: boolean }> = {
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
        [...Object.keys(NOUNS), "REPORT_LOTS"].join(", ")
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
  // An adjustment's correlationId (a transfer's shipment, for the centre's compensations) goes
  // in a DocumentReference that is not an order, so the posted adjustment carries it back.
  const reference = command.commandType === "ADJUST_LOT" && command.correlationId;
  return {
    LineNumber: "1",
    Item: { ItemID: { ID: command.material } },
    [noun === "ReceiveDelivery" ? "ReceivedQuantity" : "Quantity"]: quantity,
    ItemInstance: { Lot: { LotIDs: { ID: command.lotId } } },
    ...(order
      ? { DocumentReference: { "@type": "ProductionOrder", DocumentID: { ID: order } } }
      : {}),
    ...(po ? { PurchaseOrderReference: { DocumentID: { ID: po } } } : {}),
    ...(reference
      ? { DocumentReference: { "@type": "Reference", DocumentID: { ID: reference } } }
      : {}),
  };
}

/** The ApplicationArea and verb element of a BOD plantgate sends; its document id is the command id. */
function envelope(command: LotCommand, ctx: PluginContext<InforOptions>, bod: BodName) {
  const { tenant = ctx.plantId, accountingEntity = "", locationId = "" } = ctx.options;
  return {
    "@xmlns": "http://schema.infor.com/InforOAGIS/2",
    "@releaseID": "9.2",
    ApplicationArea: {
      Sender: {
        LogicalID: ctx.options.logicalId ?? `lid://plantgate.${ctx.plantId.toLowerCase()}`,
        ComponentID: "plantgate",
        ConfirmationCode: "OnError",
      },
      CreationDateTime: command.issuedAt,
      BODID: `infor-nid:${tenant}:${accountingEntity}:${locationId}:${command.commandId}:1` +
        `?${bod.noun}&verb=${bod.verb}&variationID=1`,
    },
    verb: {
      TenantID: tenant,
      ...(accountingEntity ? { AccountingEntityID: accountingEntity } : {}),
      ...(locationId ? { LocationID: locationId } : {}),
    },
  };
}

interface BodName {
  verb: "Process" | "Get";
  noun: string;
}

/**
 * REPORT_LOTS -> GetInventoryBalance: the noun instance is the selection (OAGIS field-based
 * selection), naming the item and lot unless the command says "*". Infor answers with a
 * ShowInventoryBalance whose OriginalApplicationArea carries this BODID, so the command id.
 */
function encodeReport(command: LotCommand, ctx: PluginContext<InforOptions>): EncodedCommand {
  for (const field of ["lotId", "material"] as const) {
    if (!command[field]) refuse(`REPORT_LOTS needs a ${field} ("*" for all)`, field);
  }
  const { verb, ...bod } = envelope(command, ctx, { verb: "Get", noun: "InventoryBalance" });
  const selection = {
    ...(command.material !== "*" ? { Item: { ItemID: { ID: command.material } } } : {}),
    ...(command.lotId !== "*" ? { Lot: { LotIDs: { ID: command.lotId } } } : {}),
  };
  return {
    body: { GetInventoryBalance: { ...bod, DataArea: { Get: verb, InventoryBalance: selection } } },
  };
}

/**
 * A lot command -> a BOD for the plant's Infor system: RECEIVE_LOT as ProcessReceiveDelivery,
 * CREATE_LOT and ADJUST_LOT as ProcessInventoryAdjustment, REPORT_LOTS as GetInventoryBalance.
 * The document id is the command id and the BODID is derived from it (revision 1, variationID
 * 1), so a redelivered command yields the same BOD and Infor can recognise the duplicate.
 */
export function encodeInfor(command: LotCommand, ctx: PluginContext<InforOptions>): EncodedCommand {
  if (command.commandType === "REPORT_LOTS") return encodeReport(command, ctx);
  const { noun } = check(command);
  const { verb, ...bod } = envelope(command, ctx, { verb: "Process", noun });
  const reasonCode = command.payload?.reasonCode;
  const note = ["plantgate", command.commandType, command.correlationId].filter(Boolean).join(" ");
  return {
    body: {
      [`Process${noun}`]: {
        ...bod,
        DataArea: {
          Process: { ...verb, ActionCriteria: { ActionExpression: { "@actionCode": "Add" } } },
          [noun]: {
            [`${noun}Header`]: {
              DocumentID: { ID: command.commandId },
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
