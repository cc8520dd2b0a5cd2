/**
 * The outbox relay: publishes the commands the orchestrator committed to the outbox to
 * `lots.commands.<plant>.<system>` (msgID = command id, so a re-publish after a crash is
 * dropped by JetStream), marks them published, compensates transfer sagas whose deadline
 * passed, and starts and expires reconciliation runs on schedule. Any number of replicas may
 * run it: each outbox row, due saga and scheduled run is taken by one.
 *
 * @module
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import { Poller } from "../core/poller.ts";
import type { Sql } from "../io/postgres.ts";
import {
  expireReconciliations,
  type ReconciliationSettings,
  requestReconciliation,
} from "./reconciliation.ts";
import { expireTransfers } from "./saga.ts";

/** How often the relay looks at the reconciliation schedule. */
const SCHEDULE_MS = 5000;

/** Options of {@linkcode outboxRelay}. */
export interface RelayOptions {
  /** How often to look for work committed by other replicas and for due sagas. */
  pollMs: number;
  /** Commands published per transaction at most. */
  batchSize: number;
  reconciliation: ReconciliationSettings;
  log: Logger;
  metrics: RoleMetrics & { commandsPublished: Counter; transfersTimedOut: Counter };
}

/**
 * The relay: a {@linkcode Poller} (`start`, `notify` after a commit that may have queued
 * commands, `stop`) publishing the outbox until stopped.
 */
export function outboxRelay(sql: Sql, js: JetStreamClient, options: RelayOptions): Poller {
  const { log, metrics } = options;
  const encoder = new TextEncoder();
  let nextSchedule = 0;

  /** Publishes up to batchSize unpublished commands in one transaction; returns how many. */
  const publishBatch = async (): Promise<number> => {
    const published = await sql.begin(async (tx) => {
      const rows = await tx`
        SELECT command_id, subject, command FROM outbox WHERE published_at IS NULL
        ORDER BY created_at, command_id LIMIT ${options.batchSize} FOR UPDATE SKIP LOCKED`;
      if (rows.length === 0) return 0;
      // All or nothing: a failed publish rolls the batch back, and the ones that did go out
      // are dropped as duplicates (same msgID) when the batch is published again.
      await Promise.all(
        rows.map((row) =>
          js.publish(row.subject, encoder.encode(JSON.stringify(row.command)), {
            msgID: String(row.command_id),
          })
        ),
      );
      const ids = rows.map((r) => String(r.command_id));
      await tx`UPDATE outbox SET published_at = now() WHERE command_id = ANY(${ids}::uuid[])`;
      return rows.length;
    });
    metrics.commandsPublished.inc({}, published);
    return published;
  };

  /** Expires overdue reconciliation runs and starts the due ones; true when it started some. */
  const schedule = async (): Promise<boolean> => {
    const { intervalSeconds, timeoutSeconds } = options.reconciliation;
    const incomplete = await expireReconciliations(sql, timeoutSeconds);
    if (incomplete > 0) {
      log.warn("Reconciliation runs incomplete: no full stock report in time", {
        runs: incomplete,
      });
    }
    if (intervalSeconds === 0) return false;
    const runs = await requestReconciliation(sql, { minAgeSeconds: intervalSeconds });
    if (runs.length > 0) log.info("Reconciliation requested", { runs: runs.length });
    return runs.length > 0;
  };

  /** Publishes a batch, compensates due sagas, runs the schedule; true when there is more. */
  const round = async (): Promise<boolean> => {
    let more = await publishBatch() === options.batchSize;
    const expired = await expireTransfers(sql);
    if (expired > 0) {
      metrics.transfersTimedOut.inc({}, expired);
      log.warn("Transfers timed out: compensation commands sent", { sagas: expired });
      more = true;
    }
    if (Date.now() >= nextSchedule) {
      nextSchedule = Date.now() + SCHEDULE_MS;
      if (await schedule()) more = true;
    }
    return more;
  };

  return new Poller(round, {
    pollMs: options.pollMs,
    onError: (error, failures) => {
      if (failures === 1) {
        metrics.error(log, "forward_failed", "downlink", `Outbox relay: ${errorMessage(error)}`);
      }
    },
  });
}
