import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { backoffDelay } from "../core/backoff.ts";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import { decodePublish, FrameReader, isPublish, type PublishFrame } from "./mqtt_frames.ts";

/** A message received from the broker. */
export interface InboundMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  /** Set by the broker on a re-delivery. */
  dup: boolean;
  receivedAt: Date;
}

/** Options of {@linkcode MqttSubscriber}. */
export interface MqttSubscriberOptions<T = InboundMessage> {
  /** `mqtt://host:port` (port default 1883). */
  url: string;
  /** Stable client id: the broker keeps the session (and queues messages) under it. */
  clientId: string;
  /** Subscribed with QoS 1. */
  topics: string[];
  username?: string;
  password?: string;
  /** Session expiry; clean start is always off. Default 604800 (7 days). */
  sessionExpirySeconds?: number;
  /** MQTT v5 Receive Maximum: unacknowledged QoS 1 messages the broker may send. Default 1000. */
  receiveMaximum?: number;
  /** Default 30. A missing PINGRESP drops and re-opens the connection. */
  keepaliveSeconds?: number;
  /** Messages per handler call at most. Default 500. */
  maxBatch?: number;
  /** Reconnect and retry backoff. Default 100 ms to 10 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Turns a message into what the handler gets, once, as it arrives: work done here (decoding)
   * overlaps the commit of the batch before it, and only the result (not the raw message)
   * waits for the batch. Default: the message itself.
   */
  prepare?: (message: InboundMessage) => T;
  log?: Logger;
}

/**
 * Handles a batch. Resolve = accepted: the next batch may be handed over, and the batch is
 * acknowledged at once, or when the returned `durable` resolves (in receive order either way).
 * Reject = not accepted: the batch stays unacknowledged and is handed over again after a
 * backoff.
 */
export type BatchHandler<T = InboundMessage> = (
  batch: T[],
) => Promise<void | { durable: Promise<void> }>;

interface Pending<T> {
  item: T;
  packetId: number | undefined;
  generation: number;
}

const OPTS = { protocolVersion: 5 };

/**
 * A pipelined MQTT v5 subscriber for ack-after-commit. It keeps reading while the previous batch
 * is being committed, hands the next batch over when the handler is free (at most one call in
 * flight: group commit), and sends that batch's PUBACKs in receive order once the handler
 * resolved (MQTT v5 §4.6). A rejected batch is retried after a backoff and stays unacknowledged
 * meanwhile; the broker stops sending at `receiveMaximum` unacknowledged messages, which bounds
 * memory. On a lost connection nothing of it is acknowledged on the next one: the broker
 * re-delivers (DUP) and the caller dedupes. Reconnects forever until stop().
 */
export class MqttSubscriber<T = InboundMessage> {
  readonly #options:
    & Required<
      Omit<MqttSubscriberOptions, "username" | "password" | "log" | "backoff" | "prepare">
    >
    & {
      username?: string;
      password?: string;
      backoff: { initialMs?: number; maxMs?: number };
    };
  readonly #handler: BatchHandler<T>;
  readonly #prepare: (message: InboundMessage) => T;
  readonly #log: Logger;
  readonly #host: string;
  readonly #port: number;
  #conn: Deno.TcpConn | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #generation = 0;
  #pending: Pending<T>[] = [];
  #handling: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryAttempt = 0;
  #connected = false;
  #hadSession = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #readyWaiters: (() => void)[] = [];
  readonly #stats = { received: 0, acked: 0, batches: 0, reconnects: 0 };
  #inHandler = 0;
  /** Messages accepted by the handler, their acknowledgement waiting for `durable`. */
  #awaitingDurable = 0;
  /** The acknowledgements in flight, in receive order. */
  #acking: Promise<void> = Promise.resolve();
  #resumeReading: (() => void) | undefined;

  constructor(options: MqttSubscriberOptions<T>, handler: BatchHandler<T>) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new PlantgateError(
        "config_invalid",
        `MQTT url "${options.url}" is not a URL (expected mqtt://host:port)`,
      );
    }
    if (url.protocol !== "mqtt:") {
      throw new PlantgateError(
        "config_invalid",
        `MQTT url "${options.url}" must start with mqtt:// (got ${url.protocol}//)`,
      );
    }
    this.#host = url.hostname.replace(/^\[|\]$/g, "");
    this.#port = url.port ? Number(url.port) : 1883;
    this.#options = {
      url: options.url,
      clientId: options.clientId,
      topics: options.topics,
      username: options.username,
      password: options.password,
      sessionExpirySeconds: options.sessionExpirySeconds ?? 604_800,
      receiveMaximum: options.receiveMaximum ?? 1000,
      keepaliveSeconds: options.keepaliveSeconds ?? 30,
      maxBatch: options.maxBatch ?? 500,
      backoff: { initialMs: 100, maxMs: 10_000, ...options.backoff },
    };
    this.#handler = handler;
    this.#prepare = options.prepare ?? ((message) => message as T);
    this.#log = options.log ?? silentLogger;
  }

  /** True while connected and subscribed. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Counters since construction, and `held`: messages in memory not yet acknowledged. */
  get stats(): Readonly<{
    received: number;
    acked: number;
    batches: number;
    reconnects: number;
    held: number;
  }> {
    return { ...this.#stats, held: this.#pending.length + this.#inHandler };
  }

  /**
   * Brokers do not all honour Receive Maximum once messages queue up (Mosquitto 2.0 sends
   * more), so reading pauses while this many messages are held: TCP backpressure bounds memory.
   */
  get #holdingTooMany(): boolean {
    return this.#pending.length + this.#inHandler + this.#awaitingDurable >=
      this.#options.receiveMaximum;
  }

  /** Resolves when subscribed (at once if already). */
  ready(): Promise<void> {
    if (this.#connected) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Connects in the background and keeps reconnecting until stop(). */
  start(): void {
    if (this.#loop || this.#stopped) return;
    this.#loop = this.#run();
  }

  /** Waits for the batch being handled, acknowledges it, disconnects keeping the session. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#wake?.();
    await this.#handling;
    await this.#acking;
    if (this.#writer) {
      await this.#send({ cmd: "disconnect", reasonCode: 0 }).catch(() => {});
    }
    this.#closeConnection();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      let subscribed = false;
      try {
        subscribed = await this.#session();
      } catch (error) {
        if (!this.#stopped && attempt === 0) {
          this.#log.warn("MQTT connection failed", {
            code: "mqtt_connection",
            error: errorMessage(error),
          });
        }
      }
      if (this.#stopped) break;
      attempt = subscribed ? 0 : attempt + 1;
      this.#stats.reconnects++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, backoffDelay(attempt, this.#options.backoff));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  /** One connection's life. Resolves true if it got subscribed before it ended. */
  async #session(): Promise<boolean> {
    const generation = ++this.#generation;
    this.#pending = this.#pending.filter((p) => p.generation === generation);
    const conn = await Deno.connect({ hostname: this.#host, port: this.#port });
    if (this.#stopped) {
      conn.close();
      return false;
    }
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    let subscribed = false;
    let lastPong = Date.now();
    // While reading is paused, PINGRESPs wait unread in the socket: no timeout then.
    let paused = false;
    const parser = mqttPacket.parser(OPTS);
    let failure: Error | undefined;
    parser.on("packet", (packet: Packet) => {
      try {
        if (this.#onPacket(packet)) subscribed = true;
        if (packet.cmd === "pingresp") lastPong = Date.now();
      } catch (error) {
        failure = error as Error;
        this.#closeConnection();
      }
    });
    parser.on("error", (error: Error) => {
      failure = error;
      this.#closeConnection();
    });
    const keepaliveMs = this.#options.keepaliveSeconds * 1000;
    const pinger = setInterval(() => {
      if (!paused && Date.now() - lastPong > keepaliveMs * 2) {
        this.#log.warn("MQTT broker stopped answering pings; reconnecting", {
          code: "mqtt_connection",
        });
        this.#closeConnection();
        return;
      }
      this.#send({ cmd: "pingreq" }).catch(() => {});
    }, Math.max(250, keepaliveMs * 0.75));
    const connackTimer = setTimeout(() => {
      if (!subscribed) {
        failure = new Error("no CONNACK/SUBACK within 10 s");
        this.#closeConnection();
      }
    }, 10_000);
    try {
      await this.#send({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 5,
        clientId: this.#options.clientId,
        clean: false,
        keepalive: this.#options.keepaliveSeconds,
        ...(this.#options.username !== undefined ? { username: this.#options.username } : {}),
        ...(this.#options.password !== undefined
          ? { password: Buffer.from(this.#options.password) }
          : {}),
        properties: {
          sessionExpiryInterval: this.#options.sessionExpirySeconds,
          receiveMaximum: this.#options.receiveMaximum,
        },
      });
      // One receive buffer for the connection's life (conn.readable allocates a 64 KiB chunk
      // per read); PUBLISH packets are decoded here, the rare others by mqtt-packet.
      const frames = new FrameReader();
      for (;;) {
        const n = await conn.read(frames.space());
        if (n === null) break;
        frames.wrote(n);
        for (let packet = frames.next(); packet && !failure; packet = frames.next()) {
          if (isPublish(packet)) this.#onPublish(decodePublish(packet), generation);
          else parser.parse(Buffer.from(packet));
        }
        if (failure) break;
        while (this.#holdingTooMany && !this.#stopped && this.#conn === conn) {
          paused = true;
          await new Promise<void>((resolve) => this.#resumeReading = resolve);
          this.#resumeReading = undefined;
          lastPong = Date.now();
          paused = false;
        }
      }
    } catch (error) {
      failure ??= error as Error;
    } finally {
      clearInterval(pinger);
      clearTimeout(connackTimer);
      this.#closeConnection();
      const wasConnected = this.#connected;
      this.#connected = false;
      if (this.#generation === generation) this.#generation++;
      if (wasConnected && !this.#stopped) {
        this.#log.warn("MQTT connection lost; reconnecting", {
          code: "mqtt_connection",
          ...(failure ? { error: errorMessage(failure) } : {}),
        });
      }
    }
    if (failure && !subscribed) throw failure;
    return subscribed;
  }

  /** Handles one packet; returns true when the subscription is confirmed. */
  #onPacket(packet: Packet): boolean {
    switch (packet.cmd) {
      case "connack": {
        if (packet.reasonCode) {
          throw new Error(`broker refused the connection: reason code ${packet.reasonCode}`);
        }
        if (!packet.sessionPresent && this.#hadSession) {
          this.#log.warn(
            "The broker lost this client's session; messages it queued for us are gone",
            {
              code: "mqtt_connection",
              clientId: this.#options.clientId,
            },
          );
        }
        this.#hadSession = true;
        this.#send({
          cmd: "subscribe",
          messageId: 1,
          subscriptions: this.#options.topics.map((topic) => ({ topic, qos: 1 as const })),
        }).catch(() => {});
        return false;
      }
      case "suback": {
        const codes = packet.granted as number[];
        const refused = codes.map((c, i) => [this.#options.topics[i], c] as const).filter(([, c]) =>
          c >= 0x80
        );
        if (refused.length > 0) {
          throw new Error(
            `broker refused subscriptions: ${refused.map(([t, c]) => `${t} (${c})`).join(", ")}`,
          );
        }
        this.#connected = true;
        this.#log.info("MQTT subscribed", {
          topics: this.#options.topics,
          clientId: this.#options.clientId,
        });
        this.#readyWaiters.splice(0).forEach((resolve) => resolve());
        this.#kick();
        return true;
      }
      case "disconnect":
        throw new Error(`broker disconnected us: reason code ${packet.reasonCode ?? 0}`);
      default:
        return false;
    }
  }

  /** Queues a received PUBLISH for the next batch. */
  #onPublish(frame: PublishFrame, generation: number): void {
    if (frame.topicAlias !== undefined && !frame.topic) {
      throw new Error("broker sent a topic alias although none was allowed");
    }
    this.#stats.received++;
    const message: InboundMessage = {
      topic: frame.topic,
      payload: frame.payload,
      qos: frame.qos === 0 ? 0 : 1,
      dup: frame.dup,
      receivedAt: new Date(),
    };
    this.#pending.push({ item: this.#prepare(message), packetId: frame.packetId, generation });
    this.#kick();
  }

  /** Hands the next batch to the handler if it is free. */
  #kick(): void {
    if (this.#handling || this.#retryTimer || this.#stopped) return;
    this.#pending = this.#pending.filter((p) => p.generation === this.#generation);
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, this.#options.maxBatch);
    this.#inHandler = batch.length;
    this.#handling = this.#handle(batch).finally(() => {
      this.#inHandler = 0;
      this.#handling = undefined;
      if (!this.#holdingTooMany) this.#resumeReading?.();
      if (this.#pending.length > 0) queueMicrotask(() => this.#kick());
    });
  }

  async #handle(batch: Pending<T>[]): Promise<void> {
    let accepted: void | { durable: Promise<void> };
    try {
      accepted = await this.#handler(batch.map((p) => p.item));
    } catch (error) {
      const delay = backoffDelay(this.#retryAttempt++, this.#options.backoff);
      if (this.#retryAttempt === 1) {
        this.#log.warn("Batch not accepted; holding its acknowledgements and retrying", {
          messages: batch.length,
          retryInMs: Math.round(delay),
          error: errorMessage(error),
        });
      }
      this.#pending.unshift(...batch);
      if (!this.#stopped) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#kick();
        }, delay);
      }
      return;
    }
    this.#retryAttempt = 0;
    this.#stats.batches++;
    const durable = accepted?.durable;
    this.#awaitingDurable += batch.length;
    this.#acking = this.#acking.then(async () => {
      let isDurable = true;
      try {
        await durable;
      } catch {
        // Not on disk: left unacknowledged, the broker re-delivers it on the next session.
        isDurable = false;
      }
      this.#awaitingDurable -= batch.length;
      if (isDurable) await this.#acknowledge(batch);
      if (!this.#holdingTooMany) this.#resumeReading?.();
    });
  }

  /** PUBACKs of a batch, if its connection is still the current one. */
  async #acknowledge(batch: Pending<T>[]): Promise<void> {
    const acks = batch.filter((p) => p.packetId !== undefined && p.generation === this.#generation);
    if (acks.length === 0 || !this.#writer) return;
    const bytes = Buffer.concat(
      acks.map((p) =>
        mqttPacket.generate({ cmd: "puback", messageId: p.packetId, reasonCode: 0 }, OPTS)
      ),
    );
    try {
      await this.#writer.write(bytes);
      this.#stats.acked += acks.length;
    } catch {
      // The connection died: the broker re-delivers these and the buffer absorbs them.
    }
  }

  #send(packet: Packet): Promise<void> {
    if (!this.#writer) return Promise.reject(new Error("not connected"));
    return this.#writer.write(mqttPacket.generate(packet, OPTS));
  }

  #closeConnection(): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = undefined;
    this.#resumeReading?.();
    this.#writer?.releaseLock();
    this.#writer = undefined;
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}
