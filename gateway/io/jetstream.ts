import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  type StreamConfig,
} from "@nats-io/jetstream";
import { backoffDelay, type BackoffOptions } from "../core/backoff.ts";
import { type ErrorCode, errorMessage, PlantgateError, type Stage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

const SECOND_NS = 1_000_000_000;

/**
 * The JetStream streams of the design. The central role creates or updates them at start-up;
 * the edge only checks that they exist (least privilege).
 */
export const STREAMS: readonly (Partial<StreamConfig> & { name: string })[] = [
  { name: "LOT_EVENTS", subjects: ["lots.events.>"] },
  { name: "LOT_COMMANDS", subjects: ["lots.commands.>"] },
  { name: "JOB_EVENTS", subjects: ["jobs.events.>"] },
  { name: "JOB_COMMANDS", subjects: ["jobs.commands.>"] },
  { name: "DEAD_LETTERS", subjects: ["dlq.>"] },
].map((s) => ({
  ...s,
  // Dedupe of Nats-Msg-Id: covers forwarder retries across outages up to an hour; the centre
  // is idempotent by event id beyond that.
  duplicate_window: 3600 * SECOND_NS,
}));

/** Subject of a plant/system's lot events. */
export function lotEventsSubject(plantId: string, system: string): string {
  return `lots.events.${plantId}.${system}`;
}

/** Subject of a plant/scope's DCS job events (stream JOB_EVENTS). */
export function jobEventsSubject(plantId: string, scope: string): string {
  return `jobs.events.${plantId}.${scope}`;
}

/** Subject of the commands for a plant/scope's DCS (stream JOB_COMMANDS). */
export function jobCommandsSubject(plantId: string, scope: string): string {
  return `jobs.commands.${plantId}.${scope}`;
}

/** Subject of an edge's dead letters. */
export function edgeDeadLetterSubject(plantId: string): string {
  return `dlq.edge.${plantId}`;
}

/** Connection options shared by edge and centre. */
export interface NatsConnectOptions {
  servers: string[];
  name: string;
  token?: string;
  user?: string;
  password?: string;
  log?: Logger;
  /** Stops the first-connect retries. */
  signal?: AbortSignal;
  /** Told when the connection goes down (false) and comes back (true). */
  onStatus?: (connected: boolean) => void;
}

/**
 * Connects to NATS, retrying the first connect with backoff until it succeeds or `signal`
 * aborts (so a role can start while the centre is down), then reconnecting forever. Logs each
 * status change once.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const log = options.log;
  for (let attempt = 0;; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const nc = await connect({
        servers: options.servers,
        name: options.name,
        token: options.token,
        user: options.user,
        pass: options.password,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        reconnectJitter: 250,
        pingInterval: 10_000,
        // An Error (with its stack) per request for async traces cost ~8% of the edge's CPU.
        noAsyncTraces: true,
      });
      watchStatus(nc, options);
      return nc;
    } catch (error) {
      if (attempt === 0) {
        log?.warn("Cannot connect to NATS yet; retrying", {
          code: "nats_connection",
          error: errorMessage(error),
        });
      }
      await abortableDelay(
        backoffDelay(attempt, { initialMs: 250, maxMs: 10_000 }),
        options.signal,
      );
    }
  }
}

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", done);
      clearTimeout(timer);
      if (signal?.aborted) reject(signal.reason);
      else resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function watchStatus(nc: NatsConnection, options: NatsConnectOptions): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") {
      options.log?.warn("NATS connection lost", { code: "nats_connection" });
      options.onStatus?.(false);
    } else if (s.type === "reconnect") {
      options.log?.info("NATS connection restored", { server: s.server });
      options.onStatus?.(true);
    }
  }
}

/** Creates or updates every stream of {@linkcode STREAMS} (idempotent). */
export async function ensureStreams(jsm: JetStreamManager): Promise<void> {
  for (const config of STREAMS) {
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!/stream not found/i.test(String(error))) throw error;
      await jsm.streams.add(config);
    }
  }
}

/** A durable pull consumer with explicit acks that never gives up re-delivering. */
export interface DurableConsumer {
  stream: string;
  name: string;
  filterSubject: string;
  ackWaitSeconds: number;
  /** Unacknowledged messages in flight at most. Default: the server's. */
  maxAckPending?: number;
}

/**
 * Creates the durable consumer if it does not exist, or updates its ack wait and max ack
 * pending (idempotent). Re-delivery is unlimited: dead-lettering, with the reason, is ours.
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  consumer: DurableConsumer,
): Promise<void> {
  const tunable = {
    ack_wait: consumer.ackWaitSeconds * SECOND_NS,
    ...(consumer.maxAckPending === undefined ? {} : { max_ack_pending: consumer.maxAckPending }),
  };
  try {
    await jsm.consumers.info(consumer.stream, consumer.name);
    await jsm.consumers.update(consumer.stream, consumer.name, tunable);
  } catch {
    await jsm.consumers.add(consumer.stream, {
      durable_name: consumer.name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: consumer.filterSubject,
      max_deliver: -1,
      ...tunable,
    });
  }
}

/** Throws `stream_not_found` naming the first missing stream. */
export async function checkStreams(nc: NatsConnection, names: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of names) {
    try {
      await jsm.streams.info(name);
    } catch (error) {
      throw new PlantgateError(
        "stream_not_found",
        `Stream "${name}" is not available (the central role creates it): ${error}`,
        { cause: error },
      );
    }
  }
}

/**
 * Headers of a dead letter made of a JetStream message: stage, code, message (one line, at most
 * 1,000 characters), the original subject, delivery count and stream sequence.
 */
export function deadLetterHeaders(
  message: JsMsg,
  stage: Stage,
  code: ErrorCode,
  reason: string,
): MsgHdrs {
  const h = headers();
  h.set("Plantgate-Stage", stage);
  h.set("Plantgate-Code", code);
  h.set("Plantgate-Message", reason.slice(0, 1000).replaceAll(/[\r\n]/g, " "));
  h.set("Plantgate-Subject", message.subject);
  h.set("Plantgate-Deliveries", String(message.info.deliveryCount));
  h.set("Plantgate-Stream-Seq", String(message.seq));
  return h;
}

/** Options of {@linkcode ConsumerLoop}. */
export interface ConsumerLoopOptions {
  stream: string;
  /** Durable consumer name (it must exist). */
  consumer: string;
  /** Messages pulled ahead. */
  maxMessages: number;
  /** Delay between attempts while the consumer cannot be reached. */
  backoff: BackoffOptions;
  /** What is pulled, for the log line ("lot events", "commands"). */
  what: string;
  log: Logger;
}

/**
 * Pulls a durable consumer until stopped and hands each message to `handle` (awaited: it may
 * hold the loop back); reconnects with backoff when the consumer cannot be reached.
 */
export class ConsumerLoop {
  readonly #js: JetStreamClient;
  readonly #options: ConsumerLoopOptions;
  readonly #handle: (message: JsMsg) => Promise<void> | void;
  #running = true;
  #loop: Promise<void> | undefined;
  #stopMessages: (() => void) | undefined;

  constructor(
    js: JetStreamClient,
    options: ConsumerLoopOptions,
    handle: (message: JsMsg) => Promise<void> | void,
  ) {
    this.#js = js;
    this.#options = options;
    this.#handle = handle;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops pulling; resolves after the message being handled. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopMessages?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { log, stream, consumer: name } = this.#options;
    for (let attempt = 0; this.#running; attempt++) {
      try {
        const consumer = await this.#js.consumers.get(stream, name);
        const messages = await consumer.consume({ max_messages: this.#options.maxMessages });
        this.#stopMessages = () => messages.stop();
        if (!this.#running) messages.stop();
        attempt = 0;
        for await (const message of messages) await this.#handle(message);
      } catch (error) {
        if (!this.#running) break;
        if (attempt === 0) {
          log.warn(`Cannot pull ${this.#options.what}; retrying`, { error: errorMessage(error) });
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.#options.backoff)));
      }
    }
  }
}
