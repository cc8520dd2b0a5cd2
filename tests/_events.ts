import type { CanonicalLotEvent } from "../gateway/core/canonical_event.ts";
import { uuidV5 } from "../gateway/core/uuid.ts";

/** A valid canonical event for tests; `n` makes the id and document unique. */
export function sampleEvent(
  n: number,
  overrides: Partial<CanonicalLotEvent> = {},
): CanonicalLotEvent {
  return {
    schemaVersion: 1,
    eventId: uuidV5(`test|${n}`),
    eventType: "LOT_CREATED",
    timestamp: "2026-03-15T09:22:03.000Z",
    observedAt: new Date(1_773_566_523_000 + n).toISOString(),
    plantId: "A",
    sourceSystem: "sap",
    lotId: `LOT-${n % 97}`,
    material: "100200",
    quantity: n,
    uom: "KGM",
    parents: [],
    source: { documentId: `DOC-${n}`, plugin: "sap", pluginVersion: "1.0.0" },
    ...overrides,
  };
}
