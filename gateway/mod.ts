/**
 * The public plugin API. Plugins import from this file only.
 *
 * @module
 */
export { definePlugin } from "./core/plugin.ts";
export type {
  EncodedCommand,
  LotCommand,
  LotEventDraft,
  NativeMessage,
  Plugin,
  PluginContext,
} from "./core/plugin.ts";
export type { CanonicalLotEvent, LotEventType, ParentLot } from "./core/canonical_event.ts";
export { PluginError } from "./core/errors.ts";
export { REC20_UNITS, toRec20, UNIT_ALIASES_OPTION } from "./core/units.ts";
export {
  isoToUtc,
  msJsonDateToIso,
  sapDateTimeToIso,
  zonedParts,
  zonedToUtc,
} from "./core/time.ts";
export type { Logger } from "./core/logger.ts";
export type {
  CommandDecision,
  ConsumeOperation,
  ErpSimulator,
  LotOperation,
  MergeOperation,
  ProduceOperation,
  ReceiveOperation,
  ReverseOperation,
  ShipOperation,
  SimulationContext,
  SplitOperation,
  StageOperation,
  StockLine,
} from "./core/simulation.ts";
export {
  listAt,
  objectAt,
  optionalStringAt,
  plantIdsOption,
  quantityAt,
  stringAt,
  unpad,
} from "./core/native.ts";
