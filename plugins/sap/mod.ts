/**
 * SAP plugin: goods movements (IDoc WMMBXY / MBGMCR rendered as JSON) -> canonical lot events,
 * and lot commands -> BAPI_GOODSMVT_CREATE requests. See README.md.
 *
 * @module
 */
import {
  definePlugin,
  type LotCommand,
  PluginError,
  UNIT_ALIASES_OPTION,
} from "../../gateway/mod.ts";
import { decodeSap, type SapOptions } from "./decode.ts";
import { sapSimulator } from "./simulator.ts";

const TO_SAP_UNIT: Record<string, string> = { KGM: "KG", LTR: "L", H87: "ST", GRM: "G" };

function encodeSap(command: LotCommand): { body: unknown } {
  const moveType =
    { CREATE_LOT: "501", RECEIVE_LOT: "501", ADJUST_LOT: "701" }[command.commandType];
  if (!moveType) {
    throw new PluginError(`command type "${command.commandType}" cannot be sent to SAP`, {
      code: "command_unsupported",
      field: "commandType",
    });
  }
  return {
    body: {
      BAPI_GOODSMVT_CREATE: {
        GOODSMVT_HEADER: {
          PSTNG_DATE: command.issuedAt.slice(0, 10).replaceAll("-", ""),
          DOC_DATE: command.issuedAt.slice(0, 10).replaceAll("-", ""),
          REF_DOC_NO: command.commandId.replaceAll("-", "").slice(0, 16).toUpperCase(),
          HEADER_TXT: `plantgate ${command.commandType}`.slice(0, 25),
        },
        GOODSMVT_CODE: { GM_CODE: "05" },
        GOODSMVT_ITEM: [{
          MATERIAL: /^\d+$/.test(command.material)
            ? command.material.padStart(18, "0")
            : command.material,
          BATCH: command.lotId,
          MOVE_TYPE: moveType,
          ENTRY_QNT: command.quantity.toFixed(3),
          ENTRY_UOM_ISO: command.uom,
          ENTRY_UOM: TO_SAP_UNIT[command.uom] ?? command.uom,
          ITEM_TEXT: (command.correlationId ?? "").slice(0, 50),
        }],
      },
    },
  };
}

export default definePlugin<SapOptions>({
  name: "sap",
  version: "1.0.0",
  description: "SAP ECC/S4 goods movements (IDoc WMMBXY, MBGMCR as JSON)",
  optionsSchema: {
    type: "object",
    additionalProperties: false,
    properties: {
      unitAliases: UNIT_ALIASES_OPTION,
    },
  },
  decode: (message, ctx) => decodeSap(message.body, ctx),
  encode: (command) => encodeSap(command),
  simulator: sapSimulator,
});
