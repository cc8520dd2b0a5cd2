/**
 * Canonical lot events as three plants' edges would forward them: simulated native documents
 * (SAP at A, Dynamics at B, Infor at C), decoded by the built-in plugins. For the central
 * tests and benchmarks.
 *
 * @module
 */
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { bindPlugin, decodeNative } from "../core/plugin_runtime.ts";
import { planTraffic } from "./erp_simulator.ts";

/** The plants of the simulated history. */
export const HISTORY_PLANTS = [
  { plantId: "A", system: "sap", timeZone: "Europe/Berlin" },
  { plantId: "B", system: "dynamics", timeZone: "America/Chicago" },
  { plantId: "C", system: "infor", timeZone: "Asia/Shanghai" },
] as const;

/** `perPlant` documents per plant, decoded; each event once, in document order per plant. */
export function simulatedLotEvents(perPlant: number, seed: number): CanonicalLotEvent[] {
  const events: CanonicalLotEvent[] = [];
  for (const plant of HISTORY_PLANTS) {
    const plugin = BUILTIN_PLUGINS.get(plant.system)!;
    const bound = bindPlugin(plugin, plant);
    const seen = new Set<string>();
    const plan = planTraffic({
      plugin,
      context: plant,
      count: perPlant,
      seed,
      resendRatio: 0,
      malformedRatio: 0,
    });
    for (const m of plan) {
      const outcome = decodeNative(bound, {
        topic: m.topic,
        payload: m.payload,
        observedAt: new Date(0),
      });
      if (!outcome.ok) continue;
      for (const e of outcome.events) {
        if (!seen.has(e.eventId)) events.push(e);
        seen.add(e.eventId);
      }
    }
  }
  return events;
}
