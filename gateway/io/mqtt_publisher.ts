/**
 * An MQTT v5 publisher for QoS 1 messages that must arrive: each publish resolves on the
 * broker's PUBACK and rejects after a timeout (the caller keeps the message and tries again).
 * Reconnects by itself.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/** Options of {@linkcode MqttPublisher}. */
export interface MqttPublisherOptions {
  /** `mqtt://host:port`. */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** A publish not acknowledged in this time fails. Default 10,000 ms. */
  timeoutMs?: number;
  log: Logger;
}

/** How one message is published. */
export interface PublishSettings {
  retain?: boolean;
  /** MQTT v5 Message Expiry Interval. */
  expirySeconds?: number;
  userProperties?: Record<string, string>;
}

/** A connected publisher. */
export class MqttPublisher {
  readonly #client: mqtt.MqttClient;
  readonly #timeoutMs: number;

  constructor(options: MqttPublisherOptions) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#client = mqtt.connect(options.url, {
      protocolVersion: 5,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    let up = false;
    this.#client.on("connect", () => {
      up = true;
      options.log.info("MQTT publisher connected", { url: options.url });
    });
    this.#client.on("close", () => {
      if (up) options.log.warn("MQTT publisher disconnected; reconnecting", { url: options.url });
      up = false;
    });
    this.#client.on("error", (error) => {
      options.log.debug("MQTT publisher error", { error: errorMessage(error) });
    });
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /** Publishes at QoS 1; resolves on PUBACK. A zero-length payload deletes a retained topic. */
  async publish(
    topic: string,
    payload: Uint8Array | string,
    settings: PublishSettings = {},
  ): Promise<void> {
    const properties: mqtt.IClientPublishOptions["properties"] = {};
    if (settings.expirySeconds !== undefined) {
      properties.messageExpiryInterval = settings.expirySeconds;
    }
    if (settings.userProperties) properties.userProperties = settings.userProperties;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() =>
        reject(
          new PlantgateError(
            "mqtt_connection",
            `No PUBACK for ${topic} within ${this.#timeoutMs} ms`,
          ),
        ), this.#timeoutMs);
    });
    try {
      await Promise.race([
        this.#client.publishAsync(
          topic,
          typeof payload === "string" ? payload : Buffer.from(payload),
          { qos: 1, retain: settings.retain ?? false, properties },
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Disconnects (messages not acknowledged yet are dropped: their callers were told). */
  async close(): Promise<void> {
    await this.#client.endAsync(true);
  }
}
