/**
 * The MES lot feed: the canonical state of every lot as a retained MQTT v5 message on
 * `<topicPrefix>/<canonicalLotId>` (default `trace/lots/...`) with a Message Expiry Interval.
 * The orchestrator marks the canonical lots a batch touched in `lot_feed` (same transaction);
 * the publisher publishes their current state and removes a mark only if it did not change
 * meanwhile. A lot that no longer exists under an id (it was linked to a shipped lot) gets a
 * zero-byte retained publish, which deletes the topic. One replica publishes at a time, so a
 * newer state is never overwritten by an older one.
 *
 * @module
 */
import { ANSWER_EVENT_TYPES, type CanonicalLotEvent } from "../core/canonical_event.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import { Poller } from "../core/poller.ts";
import type { MqttPublisher } from "../io/mqtt_publisher.ts";
import type { Sql, TransactionSql } from "../io/postgres.ts";
import { ownCanonicalId } from "./lots.ts";
import { lotView } from "./trace.ts";

/** Marks the canonical lots of applied events (and their parents) for publishing. */
export async function markLotFeed(
  tx: TransactionSql,
  applied: readonly CanonicalLotEvent[],
): Promise<void> {
  const plants: string[] = [];
  const systems: string[] = [];
  const lots: string[] = [];
  const formerIds: string[] = [];
  for (const event of applied) {
    if (ANSWER_EVENT_TYPES.has(event.eventType)) continue;
    for (const lotId of [event.lotId, ...event.parents.map((p) => p.lotId)]) {
      plants.push(event.plantId);
      systems.push(event.sourceSystem);
      lots.push(lotId);
    }
    // A received lot may have just been linked away from its own id.
    if (event.eventType === "LOT_RECEIVED") {
      formerIds.push(
        ownCanonicalId({ plantId: event.plantId, system: event.sourceSystem, lotId: event.lotId }),
      );
    }
  }
  await tx`
    INSERT INTO lot_feed (canonical_lot_id)
    SELECT canonical_lot_id FROM system_lots s
      JOIN unnest(${plants}::text[], ${systems}::text[], ${lots}::text[]) AS k(p, y, l)
        ON s.plant_id = k.p AND s.source_system = k.y AND s.lot_id = k.l
    UNION SELECT unnest(${formerIds}::uuid[])
    ON CONFLICT (canonical_lot_id) DO UPDATE SET changed_at = clock_timestamp()`;
}

/** Options of {@linkcode lotFeedPublisher}. */
export interface LotFeedOptions {
  topicPrefix: string;
  expirySeconds: number;
  pollMs: number;
  /** Lots published per round at most. */
  batchSize: number;
  log: Logger;
  metrics: RoleMetrics & { lotsPublished: Counter };
}

/**
 * The lot feed publisher: a {@linkcode Poller} (`start`, `notify` after a commit that marked
 * lots, `stop`) publishing marked lots until stopped.
 */
export function lotFeedPublisher(sql: Sql, mqtt: MqttPublisher, options: LotFeedOptions): Poller {
  const { log, metrics } = options;

  /** Publishes one batch of marked lots; returns how many. */
  const round = async (): Promise<number> => {
    const published = await sql.begin(async (tx) => {
      const [leader] = await tx`SELECT pg_try_advisory_xact_lock(hashtext('plantgate:lot-feed'))
        AS ok`;
      if (!leader.ok) return 0;
      // changed_at as text: microseconds, which a JavaScript Date would round away.
      const marks = await tx`SELECT canonical_lot_id, changed_at::text AS changed_at FROM lot_feed
        ORDER BY lot_feed.changed_at LIMIT ${options.batchSize}`;
      await Promise.all(marks.map(async (mark) => {
        const id = String(mark.canonical_lot_id);
        const lot = await lotView(tx as unknown as Sql, id);
        await mqtt.publish(
          `${options.topicPrefix}/${id}`,
          lot ? JSON.stringify({ ...lot, publishedAt: new Date().toISOString() }) : "",
          { retain: true, expirySeconds: options.expirySeconds },
        );
      }));
      if (marks.length > 0) {
        await tx`DELETE FROM lot_feed f USING unnest(
            ${marks.map((m) => String(m.canonical_lot_id))}::uuid[],
            ${marks.map((m) => String(m.changed_at))}::text[]) AS m(id, at)
          WHERE f.canonical_lot_id = m.id AND f.changed_at = m.at::timestamptz`;
      }
      return marks.length;
    });
    metrics.lotsPublished.inc({}, published);
    return published;
  };

  return new Poller(async () => await round() === options.batchSize, {
    pollMs: options.pollMs,
    onError: (error, failures) => {
      if (failures === 1) {
        metrics.error(log, "mqtt_connection", "downlink", `Lot feed: ${errorMessage(error)}`);
      }
    },
  });
}
