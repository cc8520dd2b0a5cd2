import {
  type EncodedCommand,
  type LotCommand,
  type PluginContext,
  PluginError,
  REC20_UNITS,
} from "../../gateway/mod.ts";
import type { SapOptions } from "./options.ts";
import { sapLocal, sapUnit } from "./sap_format.ts";
import { encodeStockRequest } from "./stock_request.ts";

/** Movement type, GM_CODE (T158G) and item fields of one command. */
interface Movement {
  moveType: string;
  gmCode: string;
  fields: Record<string, string>;
}

function refuse(message: string, field: string): never {
  throw new PluginError(`Cannot encode command for SAP: ${message}`, {
    code: "command_unsupported",
    field,
  });
}

function payloadText(command: LotCommand, key: string): string | undefined {
  const value = command.payload?.[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function pad(value: string, width: number): string {
  return /^\d+$/.test(value) ? value.padStart(width, "0") : value;
}

/**
 * Which goods movement posts a command: a receipt against the order or purchase order named by
 * `correlationId` (101), else a receipt without production order (521, CREATE_LOT) or without
 * purchase order (501, RECEIVE_LOT); ADJUST_LOT is a withdrawal for scrapping (551) down and its
 * cancellation (552) up. Inventory differences (701/702) cannot be posted through
 * BAPI_GOODSMVT_CREATE: SAP reserves them for physical inventory. Each command type thus has its
 * own movement types, so the posting SAP reports back decodes to the event the command asked for.
 */
function movementFor(command: LotCommand, costCenter: string | undefined): Movement {
  const reference = command.correlationId?.trim();
  switch (command.commandType) {
    case "CREATE_LOT":
      return reference
        ? { moveType: "101", gmCode: "02", fields: { ORDERID: pad(reference, 12), MVT_IND: "F" } }
        : { moveType: "521", gmCode: "05", fields: {} };
    case "RECEIVE_LOT":
      return reference
        ? {
          moveType: "101",
          gmCode: "01",
          fields: {
            PO_NUMBER: pad(reference, 10),
            PO_ITEM: pad(payloadText(command, "purchaseOrderItem") ?? "10", 5),
            MVT_IND: "B",
          },
        }
        : { moveType: "501", gmCode: "05", fields: {} };
    case "ADJUST_LOT": {
      const reason = payloadText(command, "reasonCode");
      return {
        moveType: command.quantity > 0 ? "552" : "551",
        gmCode: "03",
        fields: {
          ...(costCenter ? { COSTCENTER: pad(costCenter, 10) } : {}),
          ...(reason && /^\d{1,4}$/.test(reason) ? { MOVE_REAS: pad(reason, 4) } : {}),
        },
      };
    }
    default:
      return refuse(
        `command type "${command.commandType}" is not supported ` +
          "(CREATE_LOT, RECEIVE_LOT, ADJUST_LOT, REPORT_LOTS)",
        "commandType",
      );
  }
}

function check(command: LotCommand): void {
  const q = command.quantity;
  if (typeof q !== "number" || !Number.isFinite(q)) {
    refuse(`quantity must be a number, got ${JSON.stringify(q)}`, "quantity");
  }
  if (command.commandType === "ADJUST_LOT" ? q === 0 : q <= 0) {
    refuse(`${command.commandType} quantity ${q} cannot be posted`, "quantity");
  }
  if (Math.abs(Math.round(q * 1000) / 1000 - q) > 1e-9) {
    refuse(`quantity ${q} has more than the 3 decimals SAP quantities carry`, "quantity");
  }
  if (!command.lotId || command.lotId.length > 10) {
    refuse(`lotId "${command.lotId}" is not an SAP batch (1 to 10 characters)`, "lotId");
  }
  if (!command.material || command.material.length > 40) {
    refuse(`material "${command.material}" is not an SAP material number`, "material");
  }
  if (!Object.hasOwn(REC20_UNITS, command.uom)) {
    refuse(`uom "${command.uom}" is not a UN/ECE Rec 20 code plantgate knows`, "uom");
  }
  if (Number.isNaN(new Date(command.issuedAt).getTime())) {
    refuse(`issuedAt "${command.issuedAt}" is not a timestamp`, "issuedAt");
  }
}

/**
 * The command's reference for movements that have no order or purchase order field for it
 * (521, 501, 551, 552): the bill of lading (MKPF-FRBNR, 16 characters), which SAP copies into
 * the material document, so the posting it reports back carries it.
 */
function billOfLading(command: LotCommand, movement: Movement): Record<string, string> {
  const reference = command.correlationId?.trim();
  const referenced = "ORDERID" in movement.fields || "PO_NUMBER" in movement.fields;
  return reference && !referenced && reference.length <= 16 ? { BILL_OF_LADING: reference } : {};
}

/**
 * A lot command -> a BAPI_GOODSMVT_CREATE request (JSON, BAPI parameter names) for the plant's
 * RFC bridge. Dates are the plant's local date. REF_DOC_NO (MKPF-XBLNR) carries the command id
 * in 16 characters so the bridge can find an earlier post of the same command before posting
 * again; ITEM_TEXT (MSEG-SGTXT) carries it whole, so SAP's answer (the posted document, or the
 * IDoc it could not post) names the command.
 */
export function encodeSap(command: LotCommand, ctx: PluginContext<SapOptions>): EncodedCommand {
  if (command.commandType === "REPORT_LOTS") return encodeStockRequest(command, ctx);
  const defaults = ctx.options?.commands ?? {};
  const movement = movementFor(command, payloadText(command, "costCenter") ?? defaults.costCenter);
  check(command);
  const plant = payloadText(command, "plant") ?? defaults.plant ?? ctx.plantId;
  if (plant.length > 4) {
    refuse(`plant "${plant}" is not an SAP plant code: set options.commands.plant`, "plant");
  }
  const storageLocation = payloadText(command, "storageLocation") ?? defaults.storageLocation;
  const day = sapLocal(new Date(command.issuedAt), ctx.timeZone).date;
  const material = pad(command.material, 18);
  const item = {
    ...(material.length > 18 ? { MATERIAL_LONG: material } : { MATERIAL: material }),
    PLANT: plant,
    ...(storageLocation ? { STGE_LOC: storageLocation } : {}),
    BATCH: command.lotId,
    MOVE_TYPE: movement.moveType,
    ENTRY_QNT: Math.abs(command.quantity).toFixed(3),
    ENTRY_UOM: sapUnit(command.uom, ctx.options?.unitAliases),
    ENTRY_UOM_ISO: command.uom,
    ...movement.fields,
    ITEM_TEXT: command.commandId.slice(0, 50),
  };
  return {
    body: {
      BAPI_GOODSMVT_CREATE: {
        GOODSMVT_HEADER: {
          PSTNG_DATE: day,
          DOC_DATE: day,
          REF_DOC_NO: command.commandId.replaceAll("-", "").slice(0, 16).toUpperCase(),
          HEADER_TXT: `plantgate ${command.commandType}`.slice(0, 25),
          ...billOfLading(command, movement),
        },
        GOODSMVT_CODE: { GM_CODE: movement.gmCode },
        GOODSMVT_ITEM: [item],
        TESTRUN: "",
      },
      plantgate: {
        commandId: command.commandId,
        commandType: command.commandType,
        ...(command.correlationId ? { correlationId: command.correlationId } : {}),
      },
    },
  };
}
