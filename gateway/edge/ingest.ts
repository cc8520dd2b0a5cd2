import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type BoundPlugin, decodeNative } from "../core/plugin_runtime.ts";
import type { InboundMessage } from "../io/mqtt_subscriber.ts";
import type { CommitResult, Intake } from "./buffer.ts";
import { dcsScopeOf, decodeDcsMessage } from "./dcs.ts";
import type { EdgeMetrics } from "./edge_metrics.ts";

/**
 * Where ingest commits (a `DurableCommitter` in the edge): stores a batch at once or
 * throws; `durable` resolves when it is on disk.
 */
export interface Committer {
  commit(intakes: Intake[]): { result: CommitResult; durable: Promise<void> };
  readonly usedBytes: number;
  readonly maxBytes: number;
}

/** One configured source: a topic, the plugin bound to it and the JetStream subject. */
export interface Source {
  topic: string;
  subject: string;
  bound: BoundPlugin;
}

/** Options of {@linkcode Ingest}. */
export interface IngestOptions {
  /** Larger payloads are dead-lettered (first bytes kept). Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Fractions of the buffer's maxBytes at which a warning is logged. Default [0.5, 0.8]. */
  warnAt?: number[];
  /** DCS job events of this plant (`dcs.enabled`): validated and buffered, not decoded. */
  dcs?: { plantId: string };
  log: Logger;
  metrics: EdgeMetrics;
}

/**
 * Turns a batch of MQTT messages into one buffer commit: decode each with its source's plugin,
 * keep failures as dead letters, commit all in one fsync'd transaction. Resolves only after the
 * commit, so the subscriber acknowledges only what is on disk; throws (and so withholds every
 * ack of the batch) when the buffer cannot take it.
 */
export class Ingest {
  readonly #buffer: Committer;
  readonly #sources: Map<string, Source>;
  readonly #options: IngestOptions;
  readonly #maxPayload: number;
  #warnedLevel = 0;
  #lastFailure: PlantgateError | undefined;

  constructor(buffer: Committer, sources: Source[], options: IngestOptions) {
    this.#buffer = buffer;
    this.#sources = new Map(sources.map((s) => [s.topic, s]));
    this.#options = options;
    this.#maxPayload = options.maxPayloadBytes ?? 1024 * 1024;
  }

  /** The error of the last failed commit, cleared by the next successful one. */
  get lastFailure(): PlantgateError | undefined {
    return this.#lastFailure;
  }

  /**
   * Decodes a message as it arrives (the subscriber's `prepare`): decoding overlaps the commit
   * of the batch before it, and only the intake (the raw bytes only of a dead letter) waits.
   */
  prepare = (message: InboundMessage): Intake => this.#decode(message);

  /**
   * The batch handler for the MQTT subscriber: stores prepared intakes; the subscriber
   * acknowledges them when `durable` resolves.
   */
  handle = (intakes: Intake[]): Promise<{ durable: Promise<void> }> => {
    const { metrics, log } = this.#options;
    try {
      const { result, durable } = this.#buffer.commit(intakes);
      this.#lastFailure = undefined;
      metrics.buffered.inc({}, result.stored);
      if (result.duplicates) metrics.duplicates.inc({ where: "buffer" }, result.duplicates);
      const dead = intakes.filter((i) => i.kind === "dead");
      dead.forEach((intake, i) => {
        // A broker re-delivery of a message already dead-lettered is absorbed, not counted again.
        if (!result.deadLettersKept[i]) return;
        metrics.deadLettered.inc({ code: intake.code, stage: intake.stage });
        metrics.error(log, intake.code, intake.stage, `Dead-lettered message: ${intake.message}`, {
          topic: intake.topic,
          field: intake.field,
        });
      });
      this.#warnIfFilling();
      return Promise.resolve({ durable });
    } catch (error) {
      const failure = error instanceof PlantgateError
        ? error
        : new PlantgateError("buffer_write_failed", errorMessage(error), { cause: error });
      if (this.#lastFailure?.code !== failure.code) {
        metrics.error(log, failure.code, "buffer", failure.message, { messages: intakes.length });
      } else {
        metrics.errors.inc({ code: failure.code, stage: "buffer" });
      }
      this.#lastFailure = failure;
      return Promise.reject(failure);
    }
  };

  #decode(message: InboundMessage): Intake {
    this.#options.metrics.received.inc();
    const receivedAt = message.receivedAt.getTime();
    const source = this.#sources.get(message.topic);
    const scope = this.#options.dcs && dcsScopeOf(this.#options.dcs.plantId, message.topic);
    if (!source && scope) {
      if (message.payload.byteLength > this.#maxPayload) {
        return {
          kind: "dead",
          topic: message.topic,
          stage: "ingest",
          code: "payload_too_large",
          message: `DCS event of ${message.payload.byteLength} bytes (ingest.maxPayloadBytes)`,
          raw: message.payload.subarray(0, this.#maxPayload),
          rawSize: message.payload.byteLength,
          receivedAt,
        };
      }
      const intake = decodeDcsMessage(this.#options.dcs!.plantId, scope, message);
      if (intake.kind === "records") this.#options.metrics.decoded.inc({}, intake.records.length);
      return intake;
    }
    if (!source) {
      return {
        kind: "dead",
        topic: message.topic,
        stage: "ingest",
        code: "no_source_for_topic",
        message: `no source configured for topic "${message.topic}"`,
        raw: message.payload.subarray(0, this.#maxPayload),
        rawSize: message.payload.byteLength,
        receivedAt,
      };
    }
    const outcome = decodeNative(source.bound, {
      topic: message.topic,
      payload: message.payload,
      observedAt: message.receivedAt,
    }, { maxPayloadBytes: this.#maxPayload });
    if (outcome.ok) {
      this.#options.metrics.decoded.inc({}, outcome.events.length);
      if (outcome.events.length === 0) this.#options.metrics.ignored.inc();
      return { kind: "events", subject: source.subject, events: outcome.events };
    }
    return {
      kind: "dead",
      topic: message.topic,
      stage: outcome.stage,
      code: outcome.code,
      message: outcome.message,
      ...(outcome.field ? { field: outcome.field } : {}),
      raw: message.payload.subarray(0, this.#maxPayload),
      rawSize: message.payload.byteLength,
      receivedAt,
    };
  }

  #warnIfFilling(): void {
    const levels = this.#options.warnAt ?? [0.5, 0.8];
    const ratio = this.#buffer.usedBytes / this.#buffer.maxBytes;
    const level = levels.filter((l) => ratio >= l).length;
    if (level > this.#warnedLevel) {
      this.#options.log.warn("Buffer is filling up", {
        usedBytes: this.#buffer.usedBytes,
        maxBytes: this.#buffer.maxBytes,
        ratio: Number(ratio.toFixed(3)),
      });
    }
    this.#warnedLevel = level;
  }
}
