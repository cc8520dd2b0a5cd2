/**
 * The edge downlink: commands from the centre to the plant's ERPs. A durable JetStream consumer
 * `edge-<plant>` on `lots.commands.<plant>.>` hands each command to the plugin of the target
 * system (the subject's last segment), publishes the native message to
 * `plant/<plant>/commands/lot` at QoS 1 and acknowledges JetStream only after the broker's
 * PUBACK: a command is never lost between the centre and the plant broker. A command that cannot
 * be delivered for good (not JSON, no plugin for the system, the plugin refuses it) goes to
 * `dlq.edge.<plant>` with stage `downlink`; a failed publish is re-delivered after a backoff.
 *
 * @module
 */
import {
  AckPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { backoffDelay } from "../core/backoff.ts";
import type { EdgeConfig } from "../core/edge_config.ts";
import { type ErrorCode, errorMessage, PlantgateError, PluginError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import type { LotCommand } from "../core/plugin.ts";
import type { BoundPlugin } from "../core/plugin_runtime.ts";
import { ConsumerLoop, deadLetterHeaders, edgeDeadLetterSubject } from "../io/jetstream.ts";
import type { MqttPublisher } from "../io/mqtt_publisher.ts";

/** Options of {@linkcode Downlink}. */
export type DownlinkOptions = EdgeConfig["downlink"] & {
  plantId: string;
  /** Plugin per source system. */
  plugins: ReadonlyMap<string, BoundPlugin>;
  log: Logger;
  metrics: RoleMetrics & { commandsDelivered: Counter };
};

/** The consumer name of a plant's downlink. */
export function downlinkConsumer(plantId: string): string {
  return `edge-${plantId}`;
}

/** The plant-broker topic commands are published to. */
export function commandTopic(plantId: string): string {
  return `plant/${plantId}/commands/lot`;
}

/** Creates the plant's durable consumer if it does not exist, or updates its ack wait. */
export async function ensureDownlinkConsumer(
  jsm: JetStreamManager,
  plantId: string,
  ackWaitSeconds: number,
): Promise<void> {
  const name = downlinkConsumer(plantId);
  const ackWait = ackWaitSeconds * 1_000_000_000;
  try {
    await jsm.consumers.info("LOT_COMMANDS", name);
    await jsm.consumers.update("LOT_COMMANDS", name, { ack_wait: ackWait });
  } catch {
    await jsm.consumers.add("LOT_COMMANDS", {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `lots.commands.${plantId}.>`,
      ack_wait: ackWait,
      max_deliver: -1,
    });
  }
}

/** A command that will never be deliverable. */
class Undeliverable extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** Delivers commands one at a time, in stream order, until stopped. */
export class Downlink {
  readonly #js: JetStreamClient;
  readonly #mqtt: MqttPublisher;
  readonly #options: DownlinkOptions;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #consumer: ConsumerLoop;

  constructor(js: JetStreamClient, mqtt: MqttPublisher, options: DownlinkOptions) {
    this.#js = js;
    this.#mqtt = mqtt;
    this.#options = options;
    this.#consumer = new ConsumerLoop(js, {
      stream: "LOT_COMMANDS",
      consumer: downlinkConsumer(options.plantId),
      maxMessages: 16,
      backoff: options.backoff,
      what: "commands",
      log: options.log,
    }, (message) => this.#deliver(message));
  }

  /** Starts consuming (the consumer must exist: {@linkcode ensureDownlinkConsumer}). */
  start(): void {
    this.#consumer.start();
  }

  /** Stops after the command in progress. */
  async stop(): Promise<void> {
    await this.#consumer.stop();
  }

  async #deliver(message: JsMsg): Promise<void> {
    const { metrics, log } = this.#options;
    let command: LotCommand;
    let body: string;
    try {
      command = this.#parse(message);
      body = this.#encode(command, message.subject);
    } catch (error) {
      const code = error instanceof Undeliverable || error instanceof PlantgateError
        ? error.code
        : "command_unsupported";
      return await this.#deadLetter(message, code, errorMessage(error));
    }
    try {
      await this.#mqtt.publish(commandTopic(this.#options.plantId), body, {
        userProperties: {
          "plantgate-command-id": command.commandId,
          "plantgate-command-type": command.commandType,
          "plantgate-system": command.targetSystem,
          "plantgate-lot-id": String(command.lotId),
        },
      });
    } catch (error) {
      const deliveries = message.info.deliveryCount;
      if (deliveries === 1) {
        metrics.error(
          log,
          "mqtt_connection",
          "downlink",
          `Cannot publish command: ${errorMessage(error)}`,
          { commandId: command.commandId },
        );
      }
      message.nak(backoffDelay(deliveries - 1, this.#options.backoff));
      return;
    }
    message.ack();
    metrics.commandsDelivered.inc({ system: command.targetSystem });
    log.info("Command delivered", {
      commandId: command.commandId,
      commandType: command.commandType,
      system: command.targetSystem,
      lotId: command.lotId,
    });
  }

  #parse(message: JsMsg): LotCommand {
    let command: LotCommand;
    try {
      command = JSON.parse(this.#decoder.decode(message.data));
    } catch (error) {
      throw new Undeliverable("invalid_json", `Command is not JSON: ${errorMessage(error)}`);
    }
    if (
      typeof command !== "object" || command === null || typeof command.commandId !== "string" ||
      typeof command.commandType !== "string" || typeof command.targetSystem !== "string"
    ) {
      throw new Undeliverable(
        "command_unsupported",
        "Command lacks commandId, commandType or targetSystem",
      );
    }
    return command;
  }

  /** The native message body; throws Undeliverable or the plugin's PluginError. */
  #encode(command: LotCommand, subject: string): string {
    const system = subject.split(".")[3] ?? command.targetSystem;
    const bound = this.#options.plugins.get(system);
    if (!bound?.plugin.encode) {
      throw new Undeliverable(
        "command_unsupported",
        bound
          ? `Plugin "${bound.plugin.name}" of system "${system}" cannot encode commands`
          : `No source for system "${system}" at this edge (sources[].system)`,
      );
    }
    try {
      return JSON.stringify(bound.plugin.encode(command, bound.ctx).body);
    } catch (error) {
      if (error instanceof PluginError) throw error;
      throw new Undeliverable(
        "plugin_crashed",
        `Plugin "${bound.plugin.name}" crashed: ${errorMessage(error)}`,
      );
    }
  }

  /** Publishes the command to dlq.edge.<plant> with the reason, then terminates it. */
  async #deadLetter(message: JsMsg, code: ErrorCode, reason: string): Promise<void> {
    const { metrics, log, plantId } = this.#options;
    try {
      await this.#js.publish(edgeDeadLetterSubject(plantId), message.data, {
        msgID: `downlink:${plantId}:${message.seq}`,
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
