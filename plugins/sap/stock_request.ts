/**
 * REPORT_LOTS -> a request for the plant's RFC bridge to run report RMCPAMRP ("Transfer
 * Stock/Requirements List") in a background job: it sends one LOISTD01 IDoc per material and
 * plant to the edge's logical system. The selection is the report's own (plant, material);
 * RMCPAMRP selects no batch, so a lot filter is the bridge's to apply. See README "Stock reports".
 *
 * @module
 */
import {
  type EncodedCommand,
  type LotCommand,
  type PluginContext,
  PluginError,
} from "../../gateway/mod.ts";
import { pad } from "./idoc_render.ts";
import type { SapOptions } from "./options.ts";

function refuse(message: string, field: string): never {
  throw new PluginError(`Cannot encode command for SAP: ${message}`, {
    code: "command_unsupported",
    field,
  });
}

/** A select-option row (SIGN/OPTION/LOW), as RMCPAMRP's MATNR_ST and WERKS_ST take them. */
function equals(value: string): { SIGN: "I"; OPTION: "EQ"; LOW: string } {
  return { SIGN: "I", OPTION: "EQ", LOW: value };
}

/**
 * The job's name: the command id (36 characters with its dashes) without dashes fits the 32
 * characters of TBTCO-JOBNAME, so the job is findable by command in SM37.
 */
function jobName(commandId: string): string {
  const name = commandId.replaceAll("-", "");
  return name.length <= 32
    ? name
    : refuse(`commandId "${commandId}" does not fit a job name`, "commandId");
}

/**
 * The encoded REPORT_LOTS: RMCPAMRP's selection for the bridge, and the command (id, lot and
 * material filter) the bridge echoes with the job it ran.
 */
export function encodeStockRequest(
  command: LotCommand,
  ctx: PluginContext<SapOptions>,
): EncodedCommand {
  const defaults = ctx.options?.commands ?? {};
  const plant = typeof command.payload?.plant === "string"
    ? command.payload.plant
    : defaults.plant ?? ctx.plantId;
  if (plant.length > 4) {
    refuse(`plant "${plant}" is not an SAP plant code: set options.commands.plant`, "plant");
  }
  if (!command.lotId || (command.lotId !== "*" && command.lotId.length > 10)) {
    refuse(`lotId "${command.lotId}" is not "*" or an SAP batch`, "lotId");
  }
  if (!command.material || command.material.length > 40) {
    refuse(`material "${command.material}" is not "*" or an SAP material number`, "material");
  }
  const logicalSystem = defaults.logicalSystem ??
    `EDGE_${ctx.plantId}`.toUpperCase().slice(0, 10);
  return {
    body: {
      RMCPAMRP: {
        JOBNAME: jobName(command.commandId),
        MESTYP: "LOISTD",
        OPT_SYS: logicalSystem,
        WERKS_ST: [equals(plant)],
        ...(command.material !== "*" ? { MATNR_ST: [equals(pad(command.material, 18))] } : {}),
      },
      plantgate: {
        commandId: command.commandId,
        commandType: command.commandType,
        lotId: command.lotId,
        material: command.material,
      },
    },
  };
}
