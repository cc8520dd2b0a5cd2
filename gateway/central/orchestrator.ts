/**
 * The lot orchestrator: one durable pull consumer of `LOT_EVENTS` shared by every replica.
 * Each event is validated, applied in one PostgreSQL transaction and acknowledged only after
 * the commit. Invalid events and events that keep failing go to `dlq.central.<plant>` with
 * their stage, code, message and delivery count, and are terminated; retryable failures are
 * re-delivered after an exponential, jittered delay.
 *
 * @module
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { ConsumerLoop, deadLetterHeaders, ensureDurableConsumer } from "../io/jetstream.ts";
import { backoffDelay } from "../core/backoff.ts";
import { type CanonicalLotEvent, checkCanonicalEvent } from "../core/canonical_event.ts";
import type { CentralConfig } from "../core/central_config.ts";
import { type ErrorCode, errorMessage, type Stage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type Counter, RoleMetrics } from "../core/metrics.ts";
import type { Sql } from "../io/postgres.ts";
import { applyLotEvents, type ApplyOptions, type ApplyOutcome } from "./lots.ts";

/** A pulled message and its event. */
interface Delivery {
  message: JsMsg;
  event: CanonicalLotEvent;
}

/** Options of {@linkcode Orchestrator}: the `orchestrator` config section, a logger, metrics. */
export type OrchestratorOptions = CentralConfig["orchestrator"] & {
  log: Logger;
  metrics: OrchestratorMetrics;
  /** Runs in each batch's transaction (sagas, outbox, lot feed): `ApplyOptions.onApplied`. */
  onApplied?: ApplyOptions["onApplied"];
  /** Called with a batch's applied events after its commit (wakes the outbox relay). */
  afterCommit?: (applied: readonly CanonicalLotEvent[]) => void;
};

/** The orchestrator's metrics; every error is one log line plus one `errors_total{code,stage}`. */
export class OrchestratorMetrics extends RoleMetrics {
  constructor() {
    super("plantgate_central");
  }

  readonly applied: Counter = this.registry.counter(
    "plantgate_central_events_applied_total",
    "Events applied to the central database.",
  );
  readonly duplicates: Counter = this.registry.counter(
    "plantgate_central_duplicates_total",
    "Events already applied (re-deliveries, re-sends beyond JetStream's duplicate window).",
  );
  readonly retries: Counter = this.registry.counter(
    "plantgate_central_retries_total",
    "Events handed back for re-delivery after a retryable failure.",
  );
  readonly deadLettered: Counter = this.registry.counter(
    "plantgate_central_dead_lettered_total",
    "Events sent to dlq.central.<plant>, by code and stage.",
  );
  readonly commandsPublished: Counter = this.registry.counter(
    "plantgate_central_commands_published_total",
    "Commands the outbox relay published to lots.commands.<plant>.<system>.",
  );
  readonly transfersTimedOut: Counter = this.registry.counter(
    "plantgate_central_transfers_timed_out_total",
    "Transfer sagas compensated because the target ERP did not answer in time.",
  );
  readonly lotsPublished: Counter = this.registry.counter(
    "plantgate_central_lot_feed_published_total",
    "Retained lot states published to the MES broker.",
  );
}

/** Subject of the centre's dead letters for a plant. */
export function centralDeadLetterSubject(plantId: string): string {
  return `dlq.central.${plantId}`;
}

/** Creates or updates the durable consumer every replica pulls from. */
export async function ensureOrchestratorConsumer(
  jsm: JetStreamManager,
  options: Pick<OrchestratorOptions, "consumer" | "ackWaitSeconds" | "concurrency" | "batchSize">,
): Promise<void> {
  await ensureDurableConsumer(jsm, {
    stream: "LOT_EVENTS",
    name: options.consumer,
    filterSubject: "lots.events.>",
    ackWaitSeconds: options.ackWaitSeconds,
    maxAckPending: Math.max(1000, options.concurrency * options.batchSize * 4),
  });
}

/** Pulls and applies lot events until stopped. */
export class Orchestrator {
  readonly #sql: Sql;
  readonly #js: JetStreamClient;
  readonly #options: OrchestratorOptions;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #consumer: ConsumerLoop;
  #inFlight = new Set<Promise<void>>();
  /** Messages pulled and not yet handed to a transaction, by plant, in arrival order. */
  #pending = new Map<string, JsMsg[]>();
  #pendingCount = 0;
  /** Plants with a transaction in flight (at most one each: a plant's chain is a line). */
  #busy = new Set<string>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(sql: Sql, js: JetStreamClient, options: OrchestratorOptions) {
    this.#sql = sql;
    this.#js = js;
    this.#options = options;
    this.#consumer = new ConsumerLoop(js, {
      stream: "LOT_EVENTS",
      consumer: options.consumer,
      maxMessages: options.concurrency * options.batchSize,
      backoff: options.backoff,
      what: "lot events",
      log: options.log,
    }, (message) => this.#receive(message));
  }

  /** Starts pulling (the consumer must exist: {@linkcode ensureOrchestratorConsumer}). */
  start(): void {
    this.#consumer.start();
  }

  /** Stops pulling and waits for the events being applied (their acks are sent). */
  async stop(): Promise<void> {
    await this.#consumer.stop();
    this.#flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Queues a pulled message; holds the pull back while a full window is queued. */
  async #receive(message: JsMsg): Promise<void> {
    this.#enqueue(message);
    while (this.#pendingCount >= this.#options.concurrency * this.#options.batchSize) {
      if (this.#inFlight.size === 0) this.#flush();
      await Promise.race(this.#inFlight);
    }
  }

  #track(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** The event of a message, or undefined when it is not one (then it is dead-lettered). */
  #parse(message: JsMsg): CanonicalLotEvent | undefined {
    let event: CanonicalLotEvent;
    try {
      event = JSON.parse(this.#decoder.decode(message.data));
    } catch (error) {
      this.#track(this.#deadLetter(message, "decode", "invalid_json", errorMessage(error)));
      return undefined;
    }
    const check = checkCanonicalEvent(event);
    if (!check.ok) {
      this.#track(this.#deadLetter(message, "validate", "event_invalid", check.message));
      return undefined;
    }
    return event;
  }

  /**
   * Queues a message for its plant's next transaction (the plant of its subject; it is parsed
   * when its batch starts, which spreads that work between the transactions in flight).
   */
  #enqueue(message: JsMsg): void {
    const plant = message.subject.split(".")[2] ?? "";
    const queue = this.#pending.get(plant) ?? [];
    if (queue.length === 0) this.#pending.set(plant, queue);
    queue.push(message);
    this.#pendingCount++;
    // Whatever arrives within a millisecond, or while the plant's transaction runs, shares
    // the next one.
    if (queue.length >= this.#options.batchSize) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), 1);
  }

  /**
   * Starts a transaction for each plant with events waiting and none in flight, up to
   * `concurrency` at once. One plant per transaction, one transaction per plant at a time:
   * a plant's batches are applied in turn anyway (its audit chain is a line), and a batch
   * mixing plants would hold every plant's lock at once.
   */
  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const [plant, queue] of this.#pending) {
      if (this.#busy.size >= this.#options.concurrency) break;
      if (this.#busy.has(plant)) continue;
      const batch = this.#take(plant, queue);
      if (batch.length === 0) continue;
      this.#busy.add(plant);
      this.#track(
        this.#applyBatch(batch).finally(() => {
          this.#busy.delete(plant);
          this.#flush();
        }),
      );
    }
  }

  /** A plant's next batch: up to `batchSize` messages, the invalid ones dead-lettered. */
  #take(plant: string, queue: JsMsg[]): Delivery[] {
    const batch: Delivery[] = [];
    while (batch.length === 0 && queue.length > 0) {
      const messages = queue.splice(0, this.#options.batchSize);
      this.#pendingCount -= messages.length;
      for (const message of messages) {
        const event = this.#parse(message);
        if (event) batch.push({ message, event });
      }
    }
    if (queue.length === 0) this.#pending.delete(plant);
    return batch;
  }

  /** One transaction for the batch; if it fails, each event alone (isolates a bad one). */
  async #applyBatch(batch: Delivery[]): Promise<void> {
    const { metrics } = this.#options;
    let outcomes: ApplyOutcome[];
    try {
      outcomes = await applyLotEvents(this.#sql, batch.map((d) => d.event), {
        sourcePriority: this.#options.sourcePriority,
        onApplied: this.#options.onApplied,
      });
    } catch (error) {
      if (batch.length === 1) return await this.#failed(batch[0], error);
      for (const delivery of batch) await this.#applyBatch([delivery]);
      return;
    }
    batch.forEach(({ message }, i) => {
      message.ack();
      (outcomes[i] === "applied" ? metrics.applied : metrics.duplicates).inc();
    });
    const applied = batch.filter((_, i) => outcomes[i] === "applied").map((d) => d.event);
    if (applied.length > 0) this.#options.afterCommit?.(applied);
  }

  /** A failed event: re-delivered after a delay, or dead-lettered after maxDeliver. */
  async #failed({ message, event }: Delivery, error: unknown): Promise<void> {
    const { metrics, log } = this.#options;
    const deliveries = message.info.deliveryCount;
    if (deliveries >= this.#options.maxDeliver) {
      return await this.#deadLetter(message, "apply", "apply_failed", errorMessage(error));
    }
    metrics.retries.inc();
    if (deliveries === 1) {
      metrics.error(log, "apply_failed", "apply", `Cannot apply event: ${errorMessage(error)}`, {
        eventId: event.eventId,
        deliveries,
      });
    }
    message.nak(backoffDelay(deliveries - 1, this.#options.backoff));
  }

  /** Publishes to dlq.central.<plant> with the reason, then terminates the delivery. */
  async #deadLetter(message: JsMsg, stage: Stage, code: ErrorCode, reason: string): Promise<void> {
    const { metrics, log } = this.#options;
    const plant = message.subject.split(".")[2] ?? "unknown";
    try {
      await this.#js.publish(centralDeadLetterSubject(plant), message.data, {
        msgID: `central:${message.info.stream}:${message.seq}`,
        headers: deadLetterHeaders(message, stage, code, reason),
      });
    } catch (error) {
      // Not dead-lettered yet: keep it, try again on the next delivery.
      metrics.error(log, "forward_failed", stage, `Cannot dead-letter: ${errorMessage(error)}`);
      message.nak(backoffDelay(message.info.deliveryCount - 1, this.#options.backoff));
      return;
    }
    message.term(reason.slice(0, 200));
    metrics.deadLettered.inc({ code, stage });
    metrics.error(log, code, stage, `Dead-lettered event: ${reason}`, {
      subject: message.subject,
      deliveries: message.info.deliveryCount,
    });
  }
}
