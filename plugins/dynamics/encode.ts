import {
  type EncodedCommand,
  type LotCommand,
  PluginError,
  REC20_UNITS,
} from "../../gateway/mod.ts";
import { commandDescription } from "./command_reference.ts";
import type { CommandOptions } from "./options.ts";
import { encodeStockRequest } from "./stock_request.ts";
import { d365UnitSymbol } from "./unit_symbols.ts";

/** One OData request of an encoded command, in the order the bridge must send them. */
interface ODataRequest {
  method: "POST";
  /** Public collection name under `/data/`. */
  entitySet: string;
  body: Record<string, unknown>;
}

function refuse(message: string, field: string): never {
  throw new PluginError(`Cannot encode command for Dynamics 365: ${message}`, {
    code: "command_unsupported",
    field,
  });
}

function payloadString(command: LotCommand, key: string): string | undefined {
  const value = command.payload?.[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Drops unset optional fields, so D365 applies its defaults instead of empty strings. */
function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

function checkQuantity(command: LotCommand): void {
  const { quantity, commandType } = command;
  if (typeof quantity !== "number" || !Number.isFinite(quantity)) {
    refuse(`quantity must be a number, got ${JSON.stringify(quantity)}`, "quantity");
  }
  if (commandType === "ADJUST_LOT" ? quantity === 0 : quantity <= 0) {
    refuse(
      `${commandType} needs a ${
        commandType === "ADJUST_LOT" ? "non-zero" : "positive"
      } quantity, got ${quantity}`,
      "quantity",
    );
  }
}

/**
 * Lot command -> the OData requests that post it in D365 F&O: for CREATE_LOT the batch
 * (`ItemBatches`), then an inventory adjustment journal header, whose `Description` names the
 * command, and one line with the batch. The bridge sends them in order and copies the header's
 * `JournalNumber` from its response into the line. REPORT_LOTS is a query of the on-hand
 * entity (`stock_request.ts`). See README "Commands".
 */
export function encodeDynamics(command: LotCommand, options: CommandOptions = {}): EncodedCommand {
  const { commandType } = command;
  if (commandType === "REPORT_LOTS") return encodeStockRequest(command, options);
  if (!["CREATE_LOT", "RECEIVE_LOT", "ADJUST_LOT"].includes(commandType)) {
    refuse(`command type "${commandType}" is not supported`, "commandType");
  }
  if (!command.lotId) refuse("lotId is empty", "lotId");
  if (!command.material) refuse("material is empty", "material");
  if (!(command.uom in REC20_UNITS)) refuse(`uom "${command.uom}" is not a Rec 20 code`, "uom");
  checkQuantity(command);
  const dataAreaId = payloadString(command, "legalEntity") ?? options.legalEntity;
  const siteId = payloadString(command, "siteId") ?? options.siteId;
  const warehouseId = payloadString(command, "warehouseId") ?? options.warehouseId;
  // The journal description names the command (type, id, correlationId): a bridge finds an
  // earlier try of the same command by it, and D365's answer about the journal carries it back.
  const description = commandDescription(command) ??
    refuse(`commandId "${command.commandId}" does not fit a journal description`, "commandId");
  const requests: ODataRequest[] = [];
  if (commandType === "CREATE_LOT") {
    requests.push({
      method: "POST",
      entitySet: "ItemBatches",
      body: defined({
        dataAreaId,
        ItemNumber: command.material,
        BatchNumber: command.lotId,
        BatchDescription: `plantgate ${commandType} ${command.commandId}`.slice(0, 60),
      }),
    });
  }
  requests.push({
    method: "POST",
    entitySet: "InventoryAdjustmentJournalHeaders",
    body: defined({
      dataAreaId,
      JournalNameId: options.journalName ?? "IAdj",
      Description: description,
      DefaultInventorySiteId: siteId,
      DefaultWarehouseId: warehouseId,
    }),
  }, {
    method: "POST",
    entitySet: "InventoryAdjustmentJournalEntriesV2",
    body: defined({
      dataAreaId,
      LineNumber: 1,
      ItemNumber: command.material,
      ItemBatchNumber: command.lotId,
      InventoryQuantity: command.quantity,
      TransactionDate: command.issuedAt,
      InventorySiteId: siteId,
      InventoryWarehouseId: warehouseId,
    }),
  });
  return {
    body: defined({
      commandId: command.commandId,
      commandType,
      correlationId: command.correlationId,
      // InventoryQuantity is in the item's inventory unit: the bridge checks it is this one.
      unitSymbol: d365UnitSymbol(command.uom),
      requests,
    }),
  };
}
