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
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { EdgeConfig } from "../core/edge_config.ts";
import { errorMessage, PluginError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import type { LotCommand } from "../core/plugin.ts";
import type { BoundPlugin } from "../core/plugin_runtime.ts";
import { ensureDurableConsumer } from "../io/jetstream.ts";
import type { MqttPublisher } from "../io/mqtt_publisher.ts";
import { CommandRelay, type Delivery, Undeliverable } from "./command_relay.ts";

/** Options of {@linkcode Downlink}. */
export type DownlinkOptions = EdgeConfig["downlink"] & {
  plantId: string;
  /** Plugin per source system. */
  plugins: ReadonlyMap<string, BoundPlugin>;
  log: Logger;
  metrics: RoleMetrics & { commandsDelivered: Counter };
};

/**
 * The consumer name of a plant's downlink (consumer names are per stream: the DCS downlink's
 * consumer on JOB_COMMANDS has the same name).
 */
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
  await ensureDurableConsumer(jsm, {
    stream: "LOT_COMMANDS",
    name: downlinkConsumer(plantId),
    filterSubject: `lots.commands.${plantId}.>`,
    ackWaitSeconds,
  });
}

/** Delivers commands one at a time, in stream order, until stopped. */
export class Downlink {
  readonly #options: DownlinkOptions;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #relay: CommandRelay;

  constructor(js: JetStreamClient, mqtt: MqttPublisher, options: DownlinkOptions) {
    this.#options = options;
    this.#relay = new CommandRelay(js, mqtt, {
      stream: "LOT_COMMANDS",
      consumer: downlinkConsumer(options.plantId),
      plantId: options.plantId,
      deadLetterIdPrefix: "downlink",
      backoff: options.backoff,
      log: options.log,
      metrics: options.metrics,
      route: (message) => this.#route(message),
    });
  }

  /** Starts consuming (the consumer must exist: {@linkcode ensureDownlinkConsumer}). */
  start(): void {
    this.#relay.start();
  }

  /** Stops after the command in progress. */
  async stop(): Promise<void> {
    await this.#relay.stop();
  }

  #route(message: JsMsg): Delivery {
    const command = this.#parse(message);
    return {
      topic: commandTopic(this.#options.plantId),
      body: this.#encode(command, message.subject),
      userProperties: {
        "plantgate-command-id": command.commandId,
        "plantgate-command-type": command.commandType,
        "plantgate-system": command.targetSystem,
        "plantgate-lot-id": String(command.lotId),
      },
      labels: { system: command.targetSystem },
      logFields: {
        commandId: command.commandId,
        commandType: command.commandType,
        system: command.targetSystem,
        lotId: command.lotId,
      },
    };
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
}
