/**
 * Relays commands from a durable JetStream consumer to the plant broker, one at a time in
 * stream order: publish at QoS 1, acknowledge JetStream only after the broker's PUBACK, nak with
 * backoff when the publish fails, and dead-letter (`dlq.edge.<plant>`, stage `downlink`) what can
 * never be delivered. The lot downlink and the DCS downlink differ only in their `route`.
 *
 * @module
 */
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { backoffDelay, type BackoffOptions } from "../core/backoff.ts";
import { type ErrorCode, errorMessage, PlantgateError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import { ConsumerLoop, deadLetterHeaders, edgeDeadLetterSubject } from "../io/jetstream.ts";
import type { MqttPublisher } from "../io/mqtt_publisher.ts";

/** A command that will never be deliverable: dead-lettered with `code`. */
export class Undeliverable extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** Where and what to publish for one command. */
export interface Delivery {
  topic: string;
  body: string;
  userProperties: Record<string, string>;
  /** Labels of `commandsDelivered` (e.g. `{ system: "sap" }`). */
  labels: Record<string, string>;
  /** Fields of the "Command delivered" log line, and of the failure line. */
  logFields: Record<string, unknown>;
}

/** Options of {@linkcode CommandRelay}. */
export interface CommandRelayOptions {
  stream: string;
  /** Durable consumer (it must exist). */
  consumer: string;
  plantId: string;
  /** Dead letter ids are `<prefix>:<plant>:<stream seq>` (unique per stream). */
  deadLetterIdPrefix: string;
  /** Re-delivery delay after a failed publish. */
  backoff: BackoffOptions;
  log: Logger;
  metrics: RoleMetrics & { commandsDelivered: Counter };
}

/**
 * Turns a JetStream message into a delivery; throws {@linkcode Undeliverable} or a
 * PlantgateError (its code is kept) for commands that can never be delivered.
 */
export type Route = (message: JsMsg) => Delivery;

/** Delivers commands until stopped. */
export class CommandRelay {
  readonly #js: JetStreamClient;
  readonly #mqtt: MqttPublisher;
  readonly #options: CommandRelayOptions;
  readonly #route: Route;
  readonly #consumer: ConsumerLoop;

  constructor(
    js: JetStreamClient,
    mqtt: MqttPublisher,
    options: CommandRelayOptions & { route: Route },
  ) {
    this.#js = js;
    this.#mqtt = mqtt;
    this.#options = options;
    this.#route = options.route;
    this.#consumer = new ConsumerLoop(js, {
      stream: options.stream,
      consumer: options.consumer,
      maxMessages: 16,
      backoff: options.backoff,
      what: `commands of ${options.stream}`,
      log: options.log,
    }, (message) => this.#deliver(message));
  }

  /** Starts consuming. */
  start(): void {
    this.#consumer.start();
  }

  /** Stops after the command in progress. */
  async stop(): Promise<void> {
    await this.#consumer.stop();
  }

  async #deliver(message: JsMsg): Promise<void> {
    const { metrics, log } = this.#options;
    let delivery: Delivery;
    try {
      delivery = this.#route(message);
    } catch (error) {
      const code = error instanceof Undeliverable || error instanceof PlantgateError
        ? error.code
        : "command_unsupported";
      return await this.#deadLetter(message, code, errorMessage(error));
    }
    try {
      await this.#mqtt.publish(delivery.topic, delivery.body, {
        userProperties: delivery.userProperties,
      });
    } catch (error) {
      const deliveries = message.info.deliveryCount;
      if (deliveries === 1) {
        metrics.error(
          log,
          "mqtt_connection",
          "downlink",
          `Cannot publish command: ${errorMessage(error)}`,
          delivery.logFields,
        );
      }
      message.nak(backoffDelay(deliveries - 1, this.#options.backoff));
      return;
    }
    message.ack();
    metrics.commandsDelivered.inc(delivery.labels);
    log.info("Command delivered", delivery.logFields);
  }

  /** Publishes the command to dlq.edge.<plant> with the reason, then terminates it. */
  async #deadLetter(message: JsMsg, code: ErrorCode, reason: string): Promise<void> {
    const { metrics, log, plantId } = this.#options;
    try {
      await this.#js.publish(edgeDeadLetterSubject(plantId), message.data, {
        msgID: `${this.#options.deadLetterIdPrefix}:${plantId}:${message.seq}`,
        headers: deadLetterHeaders(message, "downlink", code, reason),
      });
    } catch (error) {
      metrics.error(
        log,
        "forward_failed",
        "downlink",
        `Cannot dead-letter: ${errorMessage(error)}`,
      );
      message.nak(backoffDelay(message.info.deliveryCount - 1, this.#options.backoff));
      return;
    }
    message.term(reason.slice(0, 200));
    metrics.error(log, code, "downlink", `Dead-lettered command: ${reason}`, {
      subject: message.subject,
    });
  }
}
