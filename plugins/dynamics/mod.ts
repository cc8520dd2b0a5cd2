/**
 * Microsoft Dynamics 365 plugin: F&O business events for inventory and production (report as
 * finished, product receipt, picking list, staging, batch merge and split, transfer order
 * shipment, and their reversals; adjustment journals posted or failed, the answers to commands)
 * -> canonical lot events, and lot commands -> inventory adjustment journal requests (OData);
 * REPORT_LOTS -> the on-hand query, whose response decodes to LOT_STOCK_REPORTED. See README.md.
 *
 * @module
 */
import { definePlugin } from "../../gateway/mod.ts";
import { decodeDynamics } from "./decode.ts";
import { encodeDynamics } from "./encode.ts";
import { type DynamicsOptions, OPTIONS_SCHEMA } from "./options.ts";
import { dynamicsSimulator } from "./simulator.ts";

export type { CommandOptions, DynamicsKind, DynamicsOptions } from "./options.ts";

/** The Dynamics 365 plugin (`sources[].plugin: dynamics`). */
export default definePlugin<DynamicsOptions>({
  name: "dynamics",
  version: "1.0.0",
  description:
    "Microsoft Dynamics 365 F&O business events (production, inventory, batch merge/split)",
  optionsSchema: OPTIONS_SCHEMA,
  decode: (message, ctx) => decodeDynamics(message.body, ctx),
  encode: (command, ctx) => encodeDynamics(command, ctx.options.commands),
  simulator: dynamicsSimulator,
});
