/**
 * SAP plugin: goods movements (IDoc WMMBXY and MBGMCR rendered as JSON, stock transport orders
 * included) -> canonical lot events, an MBGMCR SAP could not post (status 51) -> the command's
 * rejection, and lot commands -> BAPI_GOODSMVT_CREATE requests; REPORT_LOTS -> a run of report
 * RMCPAMRP, whose LOISTD01 IDocs decode to the stock report. Mapping, keys and time handling:
 * README.md.
 *
 * @module
 */
import { definePlugin } from "../../gateway/mod.ts";
import { decodeSap } from "./decode.ts";
import { encodeSap } from "./encode.ts";
import { OPTIONS_SCHEMA, type SapOptions } from "./options.ts";
import { sapSimulator } from "./simulator.ts";

/** The option types, for site configs and tests. */
export type { CommandOptions, SapOptions } from "./options.ts";

/** The SAP plugin (`sources[].plugin: sap`). */
export default definePlugin<SapOptions>({
  name: "sap",
  version: "1.0.0",
  description: "SAP ECC/S/4HANA goods movements (IDoc WMMBXY, MBGMCR as JSON) and BAPI commands",
  optionsSchema: OPTIONS_SCHEMA,
  decode: (message, ctx) => decodeSap(message.body, ctx),
  encode: (command, ctx) => encodeSap(command, ctx),
  simulator: sapSimulator,
});
