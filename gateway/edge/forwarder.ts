import { headers } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { backoffDelay } from "../core/backoff.ts";
import { type ErrorCode, errorMessage } from "../core/errors.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import { edgeDeadLetterSubject } from "../io/jetstream.ts";
import type { Buffer, BufferedEvent, DeadLetter } from "./buffer.ts";
import { EdgeMetrics } from "./edge_metrics.ts";

/** Larger dead letters are forwarded truncated (NATS refuses payloads over its max_payload, 1 MB by default). */
export const MAX_FORWARDED_DEAD_LETTER_BYTES = 512 * 1024;

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  plantId: string;
  /** Publishes awaiting their ack at once. Default 1000. */
  maxInFlight?: number;
  /** Wait for one ack. Default 5000 ms. */
  publishTimeoutMs?: number;
  /** Retry backoff. Default 200 ms doubling to 30 s, jittered. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Poll for rows written by other processes (CLI requeue/replay). Default 250 ms. */
  pollMs?: number;
  log?: Logger;
  metrics?: EdgeMetrics;
  now?: () => number;
}

function classify(error: unknown): ErrorCode {
  return /no responders|stream not found|503/i.test(errorMessage(error))
    ? "stream_not_found"
    : "forward_failed";
}

/**
 * Forwards buffered events to JetStream: pipelined (up to maxInFlight), `Nats-Msg-Id` =
 * eventId, at most one event per lot in flight so per-lot order in the stream is the buffer
 * order, rows deleted only after the ack. On failure it backs off and probes with one event
 * until the centre answers again; it never blocks ingest. Dead letters go to
 * `dlq.edge.<plant>` and stay kept locally, marked forwarded.
 */
export class Forwarder {
  readonly #buffer: Buffer;
  readonly #js: JetStreamClient;
  readonly #plantId: string;
  readonly #maxInFlight: number;
  readonly #timeout: number;
  readonly #backoff: { initialMs?: number; maxMs?: number };
  readonly #pollMs: number;
  readonly #log: Logger;
  readonly #metrics: EdgeMetrics;
  readonly #now: () => number;

  /** Unacked events read from the buffer, in buffer order. */
  readonly #queue = new Map<number, BufferedEvent & { inFlight: boolean }>();
  readonly #lotsInFlight = new Set<string>();
  readonly #toDelete: number[] = [];
  #lastReadSeq = 0;
  #inFlight = 0;
  #failures = 0;
  #pausedUntil = 0;
  #lastAckAt: number | null = null;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pumpQueued = false;
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  #deadLetters: Promise<void> | undefined;
  readonly #deadLetterAttempts = new Map<number, number>();
  readonly #deadLetterRetryAt = new Map<number, number>();
  #idle: Promise<void> = Promise.resolve();
  #settleIdle: (() => void) | undefined;

  constructor(buffer: Buffer, js: JetStreamClient, options: ForwarderOptions) {
    this.#buffer = buffer;
    this.#js = js;
    this.#plantId = options.plantId;
    this.#maxInFlight = options.maxInFlight ?? 1000;
    this.#timeout = options.publishTimeoutMs ?? 5000;
    this.#backoff = { initialMs: 200, maxMs: 30_000, ...options.backoff };
    this.#pollMs = options.pollMs ?? 250;
    this.#log = (options.log ?? silentLogger).child({ component: "forwarder" });
    this.#metrics = options.metrics ?? new EdgeMetrics();
    this.#now = options.now ?? Date.now;
  }

  /** False from a failed publish until the next successful one. */
  get publishing(): boolean {
    return this.#failures === 0;
  }

  /** Time of the last JetStream ack (ms since epoch), or null. */
  get lastAckAt(): number | null {
    return this.#lastAckAt;
  }

  /** Publishes awaiting their ack. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Starts forwarding. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Wakes the forwarder: new events were committed. */
  notify(): void {
    if (this.#running && this.#inFlight < this.#maxInFlight) this.#schedule(0);
  }

  /** Stops: no new publishes; waits for the in-flight ones and deletes what was acked. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#idle;
    await this.#deadLetters;
    this.#flushDeletes();
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    if (delayMs <= 0) {
      // A 0 ms timer fires ~1 ms later: a microtask is the low-latency path after a commit or
      // an ack; one queued pump serves every ack resolved before it runs.
      if (this.#pumpQueued) return;
      this.#pumpQueued = true;
      queueMicrotask(() => {
        this.#pumpQueued = false;
        this.#pump();
      });
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delayMs);
  }

  #pump(): void {
    if (!this.#running) return;
    const now = this.#now();
    if (now < this.#pausedUntil) return this.#schedule(this.#pausedUntil - now);
    this.#refill();
    // After a failure only one probe is in flight until the centre answers again.
    const window = this.#failures === 0 ? this.#maxInFlight : 1;
    const blocked = new Set<string>();
    for (const entry of this.#queue.values()) {
      if (this.#inFlight >= window) break;
      if (entry.inFlight || blocked.has(entry.lotKey) || this.#lotsInFlight.has(entry.lotKey)) {
        blocked.add(entry.lotKey);
        continue;
      }
      this.#publish(entry);
    }
    this.#forwardDeadLetters();
    this.#schedule(this.#pollMs);
  }

  #refill(): void {
    const room = this.#maxInFlight * 2 - this.#queue.size;
    if (room <= 0) return;
    for (const row of this.#buffer.peek(this.#lastReadSeq, room)) {
      this.#queue.set(row.seq, { ...row, inFlight: false });
      this.#lastReadSeq = row.seq;
    }
  }

  #publish(entry: BufferedEvent & { inFlight: boolean }): void {
    entry.inFlight = true;
    this.#lotsInFlight.add(entry.lotKey);
    if (this.#inFlight++ === 0) {
      this.#idle = new Promise((resolve) => this.#settleIdle = resolve);
    }
    this.#js.publish(entry.subject, entry.body, {
      msgID: entry.eventId,
      timeout: this.#timeout,
      retries: 0,
    }).then(
      (ack) => {
        this.#queue.delete(entry.seq);
        this.#toDelete.push(entry.seq);
        this.#lastAckAt = this.#now();
        this.#metrics.forwarded.inc();
        if (ack.duplicate) this.#metrics.duplicates.inc({ where: "jetstream" });
        this.#metrics.forwardLatency.observe((this.#lastAckAt - entry.receivedAt) / 1000);
        if (this.#failures > 0) {
          this.#log.info("Forwarding resumed", { afterFailures: this.#failures });
        }
        this.#failures = 0;
      },
      (error) => {
        entry.inFlight = false;
        if (this.#failures === 0) {
          const code = classify(error);
          this.#metrics.error(
            this.#log,
            code,
            "forward",
            `Cannot forward event: ${errorMessage(error)}`,
            {
              subject: entry.subject,
              eventId: entry.eventId,
            },
          );
        }
        this.#pausedUntil = this.#now() + backoffDelay(this.#failures++, this.#backoff);
      },
    ).finally(() => {
      this.#lotsInFlight.delete(entry.lotKey);
      if (--this.#inFlight === 0) this.#settleIdle?.();
      if (this.#toDelete.length >= 1000) this.#flushDeletes();
      else this.#deleteTimer ??= setTimeout(() => this.#flushDeletes(), 50);
      this.#schedule(this.#pausedUntil > this.#now() ? this.#pausedUntil - this.#now() : 0);
    });
  }

  /** Deletes acked rows in batches (every 50 ms or 1000 rows): fewer, larger transactions. */
  #flushDeletes(): void {
    clearTimeout(this.#deleteTimer);
    this.#deleteTimer = undefined;
    if (this.#toDelete.length === 0) return;
    const seqs = this.#toDelete.splice(0);
    try {
      this.#buffer.remove(seqs);
    } catch (error) {
      // Not fatal: the rows are re-published later and JetStream drops them as duplicates.
      this.#metrics.error(this.#log, "buffer_write_failed", "forward", errorMessage(error));
    }
  }

  #forwardDeadLetters(): void {
    if (this.#deadLetters || this.#failures > 0) return;
    const now = this.#now();
    const letters = this.#buffer.deadLetters({ unforwardedOnly: true, limit: 100 })
      .filter((dl) => (this.#deadLetterRetryAt.get(dl.id) ?? 0) <= now);
    if (letters.length === 0) return;
    const subject = edgeDeadLetterSubject(this.#plantId);
    this.#deadLetters = Promise.allSettled(
      letters.map((dl) => this.#publishDeadLetter(subject, dl)),
    )
      .then((results) => {
        const sent: number[] = [];
        results.forEach((r, i) => {
          const id = letters[i].id;
          if (r.status === "fulfilled") {
            sent.push(id);
            this.#deadLetterRetryAt.delete(id);
            return;
          }
          const attempt = (this.#deadLetterAttempts.get(id) ?? 0) + 1;
          this.#deadLetterAttempts.set(id, attempt);
          this.#deadLetterRetryAt.set(id, this.#now() + backoffDelay(attempt, this.#backoff));
          if (attempt === 1) {
            this.#metrics.error(
              this.#log,
              classify(r.reason),
              "forward",
              `Cannot forward dead letter ${id}: ${errorMessage(r.reason)}`,
            );
          }
        });
        if (sent.length > 0) this.#buffer.markDeadLettersForwarded(sent);
      })
      .catch((error) =>
        this.#metrics.error(this.#log, "buffer_write_failed", "forward", errorMessage(error))
      )
      .finally(() => this.#deadLetters = undefined);
  }

  /**
   * One dead letter to `dlq.edge.<plant>`: the original bytes (the first 512 KiB of larger ones,
   * which NATS would refuse; the full bytes stay in the local buffer) with stage, code, message,
   * size and SHA-256 in headers.
   */
  async #publishDeadLetter(subject: string, dl: DeadLetter): Promise<void> {
    const h = headers();
    h.set("Plantgate-Stage", dl.stage);
    h.set("Plantgate-Code", dl.code);
    h.set("Plantgate-Message", dl.message.slice(0, 1000).replaceAll(/[\r\n]/g, " "));
    h.set("Plantgate-Topic", dl.topic);
    h.set("Plantgate-Received-At", new Date(dl.receivedAt).toISOString());
    h.set("Plantgate-Raw-Size", String(dl.rawSize));
    h.set("Plantgate-Raw-Sha256", dl.rawSha256);
    if (dl.field) h.set("Plantgate-Field", dl.field);
    const body = dl.raw.subarray(0, MAX_FORWARDED_DEAD_LETTER_BYTES);
    if (body.byteLength < dl.rawSize) h.set("Plantgate-Raw-Truncated", "true");
    await this.#js.publish(subject, body, {
      msgID: dl.deadLetterId,
      headers: h,
      timeout: this.#timeout,
      retries: 0,
    });
  }
}
