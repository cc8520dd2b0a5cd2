/**
 * Infor plugin: ION BODs from M3, LN or CloudSuite Industrial (Sync InventoryAdjustment,
 * ReceiveDelivery, MoveInventory, Shipment, Acknowledge answers to commands and
 * ShowInventoryBalance stock reports, rendered as JSON by an ION-to-MQTT bridge) -> canonical lot
 * events, and lot commands -> Process BODs (REPORT_LOTS -> GetInventoryBalance). See README.md.
 *
 * @module
 */
import { definePlugin } from "../../gateway/mod.ts";
import { decodeInfor } from "./decode.ts";
import { encodeInfor } from "./encode.ts";
import { INFOR_OPTIONS_SCHEMA, type InforOptions } from "./options.ts";
import { inforSimulator } from "./simulator.ts";

export type { InforOptions } from "./options.ts";

/** The Infor (ION BOD) plugin. */
export default definePlugin<InforOptions>({
  name: "infor",
  version: "1.0.0",
  description:
    "Infor M3/LN/CSI ION BODs as JSON (Sync InventoryAdjustment, ReceiveDelivery, MoveInventory, Shipment; Acknowledge; Show InventoryBalance)",
  optionsSchema: INFOR_OPTIONS_SCHEMA,
  decode: (message, ctx) => decodeInfor(message.body, ctx),
  encode: (command, ctx) => encodeInfor(command, ctx),
  simulator: inforSimulator,
});
