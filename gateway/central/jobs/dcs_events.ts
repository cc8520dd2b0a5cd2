/**
 * DCS job events into the job store: a durable pull consumer `jobs` on JOB_EVENTS applies each
 * event (from the edges' buffers) with one store write per part — the response first
 * (`saveResponse`), then the transition (`applyMethod` + `save`) — and acks after the writes.
 *
 * - Duplicates are harmless: each applied eventId is kept in Redis (`SET NX EX`,
 *   `dcsevent:<eventId>`); a re-delivered or re-sent event is acked without a write.
 * - A transition the state machine refuses (the DCS reported something the record does not
 *   allow) is logged, kept in the Redis list `jobs:refused` for review, and acked.
 * - A store failure naks the event with backoff (the claim is released first).
 *
 * @module
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { backoffDelay, type BackoffOptions } from "../../core/backoff.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { ConsumerLoop, ensureDurableConsumer } from "../../io/jetstream.ts";
import type { Redis } from "../../io/redis.ts";
import { type DcsEvent, parseDcsEvent } from "./dcs_message.ts";
import { applyMethod } from "./mod.ts";
import type { JobStore } from "./store.ts";

/** The durable consumer of DCS events (shared by every central replica). */
export const DCS_EVENTS_CONSUMER = "jobs";

/** Redis keys of the DCS event consumer. */
export const DCS_KEYS = {
  /** String: "pending" while an event is applied, "done" after; SET NX EX. */
  event: (eventId: string) => `dcsevent:${eventId}`,
  /** List: refused DCS events as JSON `{event, reason, at}`, newest first. */
  refused: "jobs:refused",
} as const;

/** What became of one event. */
export type DcsOutcome = "applied" | "duplicate" | "busy" | "refused" | "invalid";

/** Which events were applied (Redis in production). */
export interface EventLedger {
  /** Claims an event: "claimed", "done" (applied before) or "busy" (another replica is on it). */
  claim(eventId: string): Promise<"claimed" | "done" | "busy">;
  /** Marks a claimed event applied. */
  done(eventId: string): Promise<void>;
  /** Releases a claim after a failure, so the re-delivery applies it. */
  release(eventId: string): Promise<void>;
  /** Keeps a refused event for review. */
  refused(event: DcsEvent, reason: string): Promise<void>;
}

/** The ledger on Redis: claims and applied ids with SET NX EX, refusals in `jobs:refused`. */
export function redisEventLedger(
  redis: Redis,
  options: { ttlSeconds: number; claimSeconds: number },
): EventLedger {
  return {
    async claim(eventId) {
      const key = DCS_KEYS.event(eventId);
      const set = await redis.set(key, "pending", "EX", options.claimSeconds, "NX");
      if (set === "OK") return "claimed";
      return (await redis.get(key)) === "done" ? "done" : "busy";
    },
    async done(eventId) {
      await redis.set(DCS_KEYS.event(eventId), "done", "EX", options.ttlSeconds);
    },
    async release(eventId) {
      await redis.del(DCS_KEYS.event(eventId));
    },
    async refused(event, reason) {
      const entry = JSON.stringify({ event, reason, at: new Date().toISOString() });
      await redis.multi().lpush(DCS_KEYS.refused, entry).ltrim(DCS_KEYS.refused, 0, 9999).exec();
    },
  };
}

/**
 * Applies one DCS event to the store; throws when the store fails (nothing is marked applied,
 * so the re-delivery tries again).
 */
export async function applyDcsEvent(
  store: JobStore,
  ledger: EventLedger,
  event: DcsEvent,
  log: Logger,
): Promise<DcsOutcome> {
  const claim = await ledger.claim(event.eventId);
  if (claim === "done") return "duplicate";
  if (claim === "busy") return "busy";
  try {
    const job = await store.get(event.scope, event.jobOrderId);
    const result = applyMethod(
      job,
      event.transition,
      { JobOrderID: event.jobOrderId },
      new Date(event.at),
    );
    // The response of a known job is kept even when the transition is refused: it is data.
    if (event.response && job) await store.saveResponse(event.scope, event.response);
    if (result.ok) await store.save(event.scope, result.job, result.transition.event);
    else {
      log.warn("DCS event refused by the state machine; kept in jobs:refused", {
        code: "job_transition_refused",
        scope: event.scope,
        jobOrderId: event.jobOrderId,
        transition: event.transition,
        eventId: event.eventId,
        reason: result.reason,
      });
      await ledger.refused(event, result.reason);
    }
    await ledger.done(event.eventId);
    return result.ok ? "applied" : "refused";
  } catch (error) {
    await ledger.release(event.eventId).catch(() => {});
    throw error;
  }
}

/** Creates the `jobs` consumer on JOB_EVENTS, or updates its ack wait (idempotent). */
export async function ensureDcsEventsConsumer(
  jsm: JetStreamManager,
  ackWaitSeconds: number,
): Promise<void> {
  await ensureDurableConsumer(jsm, {
    stream: "JOB_EVENTS",
    name: DCS_EVENTS_CONSUMER,
    filterSubject: "jobs.events.>",
    ackWaitSeconds,
  });
}

/** Options of {@linkcode DcsEventConsumer}. */
export interface DcsEventConsumerOptions {
  backoff: BackoffOptions;
  log: Logger;
  /** Told after each event (tests, metrics). */
  onOutcome?: (outcome: DcsOutcome, event: DcsEvent | undefined) => void;
}

/** Pulls JOB_EVENTS and applies each event until stopped. */
export class DcsEventConsumer {
  readonly #store: JobStore;
  readonly #ledger: EventLedger;
  readonly #options: DcsEventConsumerOptions;
  readonly #loop: ConsumerLoop;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(
    js: JetStreamClient,
    deps: { store: JobStore; ledger: EventLedger },
    options: DcsEventConsumerOptions,
  ) {
    this.#store = deps.store;
    this.#ledger = deps.ledger;
    this.#options = options;
    this.#loop = new ConsumerLoop(js, {
      stream: "JOB_EVENTS",
      consumer: DCS_EVENTS_CONSUMER,
      maxMessages: 64,
      backoff: options.backoff,
      what: "DCS job events",
      log: options.log,
    }, (message) => this.#handle(message));
  }

  /** Starts pulling (the consumer must exist: {@linkcode ensureDcsEventsConsumer}). */
  start(): void {
    this.#loop.start();
  }

  /** Stops after the event in progress. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  async #handle(message: JsMsg): Promise<void> {
    const { log, onOutcome } = this.#options;
    let event: DcsEvent;
    try {
      event = parseDcsEvent(JSON.parse(this.#decoder.decode(message.data)));
    } catch (error) {
      // The edge validated it: only a foreign publisher gets here. Kept in the stream's history.
      log.error("Invalid DCS event dropped", {
        code: "event_invalid",
        subject: message.subject,
        seq: message.seq,
        error: errorMessage(error),
      });
      message.term("invalid DCS event");
      onOutcome?.("invalid", undefined);
      return;
    }
    let outcome: DcsOutcome;
    try {
      outcome = await applyDcsEvent(this.#store, this.#ledger, event, log);
    } catch (error) {
      const deliveries = message.info.deliveryCount;
      if (deliveries === 1) {
        log.error("Cannot apply DCS event; retrying", {
          code: "redis_connection",
          eventId: event.eventId,
          error: errorMessage(error),
        });
      }
      message.nak(backoffDelay(deliveries - 1, this.#options.backoff));
      return;
    }
    if (outcome === "busy") {
      message.nak(backoffDelay(message.info.deliveryCount - 1, this.#options.backoff));
      return;
    }
    message.ack();
    onOutcome?.(outcome, event);
    log.info("DCS event", {
      outcome,
      scope: event.scope,
      jobOrderId: event.jobOrderId,
      transition: event.transition,
    });
  }
}
