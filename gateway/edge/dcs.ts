/**
 * The edge's DCS path (`dcs.enabled`): job events from `plant/<plant>/dcs/<scope>/jobs/events`
 * into the same fsync'd buffer as lot events (subject `jobs.events.<plant>.<scope>`, ordered per
 * job), and commands from JOB_COMMANDS (durable consumer `edge-<plant>`, filter
 * `jobs.commands.<plant>.>`) out to `plant/<plant>/dcs/<scope>/jobs/commands`. Message formats:
 * `gateway/central/jobs/DCS.md`.
 *
 * @module
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { DcsMessageError, parseDcsCommand, parseDcsEvent } from "../central/jobs/dcs_message.ts";
import type { EdgeConfig } from "../core/edge_config.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Counter, RoleMetrics } from "../core/metrics.ts";
import { ensureDurableConsumer, jobEventsSubject } from "../io/jetstream.ts";
import type { InboundMessage } from "../io/mqtt_subscriber.ts";
import type { MqttPublisher } from "../io/mqtt_publisher.ts";
import type { Intake } from "./buffer.ts";
import { CommandRelay, type Delivery, Undeliverable } from "./command_relay.ts";
import { downlinkConsumer } from "./downlink.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The topic a scope's DCS reports job events on (`+` for every scope). */
export function dcsEventsTopic(plantId: string, scope: string): string {
  return `plant/${plantId}/dcs/${scope}/jobs/events`;
}

/** The topic a scope's DCS takes commands on. */
export function dcsCommandsTopic(plantId: string, scope: string): string {
  return `plant/${plantId}/dcs/${scope}/jobs/commands`;
}

/** The per-job ordering key of DCS events in the buffer. */
export function jobKey(scope: string, jobOrderId: string): string {
  return `job:${scope}:${jobOrderId}`;
}

/** What the edge subscribes to for `dcs`: one topic per scope, or the wildcard. */
export function dcsTopics(plantId: string, dcs: EdgeConfig["dcs"]): string[] {
  return dcs.scopes.length === 0
    ? [dcsEventsTopic(plantId, "+")]
    : dcs.scopes.map((s) => dcsEventsTopic(plantId, s));
}

/** The scope of a DCS events topic of this plant, or undefined for any other topic. */
export function dcsScopeOf(plantId: string, topic: string): string | undefined {
  const parts = topic.split("/");
  return parts.length === 6 && parts[0] === "plant" && parts[1] === plantId &&
      parts[2] === "dcs" && parts[4] === "jobs" && parts[5] === "events"
    ? parts[3]
    : undefined;
}

/**
 * Validates a DCS event message into a buffer intake; an invalid one becomes a dead letter
 * (stage `validate`, the field named) like a lot message the plugin refuses.
 */
export function decodeDcsMessage(
  plantId: string,
  scope: string,
  message: InboundMessage,
): Intake {
  let failure: { code: "invalid_utf8" | "invalid_json" | "event_invalid"; text: string };
  let field: string | undefined;
  try {
    const text = utf8.decode(message.payload);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw Object.assign(new Error(errorMessage(error)), { code: "invalid_json" as const });
    }
    const event = parseDcsEvent(value);
    if (event.scope !== scope) {
      throw new DcsMessageError("scope", `"${event.scope}" differs from the topic's "${scope}"`);
    }
    return {
      kind: "records",
      subject: jobEventsSubject(plantId, scope),
      records: [{
        eventId: event.eventId,
        lotKey: jobKey(scope, event.jobOrderId),
        body: event,
        receivedAt: message.receivedAt.getTime(),
      }],
    };
  } catch (error) {
    const code = error instanceof TypeError
      ? "invalid_utf8"
      : (error as { code?: string }).code === "invalid_json"
      ? "invalid_json"
      : "event_invalid";
    if (error instanceof DcsMessageError) field = error.field;
    failure = { code, text: `DCS event: ${errorMessage(error)}` };
  }
  return {
    kind: "dead",
    topic: message.topic,
    stage: failure.code === "event_invalid" ? "validate" : "decode",
    code: failure.code,
    message: failure.text,
    ...(field ? { field } : {}),
    raw: message.payload,
    rawSize: message.payload.byteLength,
    receivedAt: message.receivedAt.getTime(),
  };
}

/** Creates the plant's durable consumer on JOB_COMMANDS if missing. */
export async function ensureDcsConsumer(
  jsm: JetStreamManager,
  plantId: string,
  ackWaitSeconds: number,
): Promise<void> {
  await ensureDurableConsumer(jsm, {
    stream: "JOB_COMMANDS",
    name: downlinkConsumer(plantId),
    filterSubject: `jobs.commands.${plantId}.>`,
    ackWaitSeconds,
  });
}

/** Options of {@linkcode dcsDownlink}. */
export interface DcsDownlinkOptions {
  plantId: string;
  /** Scopes served by this edge; empty = all. */
  scopes: string[];
  backoff: { initialMs: number; maxMs: number };
  log: Logger;
  metrics: RoleMetrics & { commandsDelivered: Counter };
}

/** The DCS downlink: JOB_COMMANDS -> `plant/<plant>/dcs/<scope>/jobs/commands`, QoS 1. */
export function dcsDownlink(
  js: JetStreamClient,
  mqtt: MqttPublisher,
  options: DcsDownlinkOptions,
): CommandRelay {
  return new CommandRelay(js, mqtt, {
    stream: "JOB_COMMANDS",
    consumer: downlinkConsumer(options.plantId),
    plantId: options.plantId,
    deadLetterIdPrefix: "downlink-jobs",
    backoff: options.backoff,
    log: options.log,
    metrics: options.metrics,
    route: (message) => routeDcsCommand(message, options),
  });
}

function routeDcsCommand(message: JsMsg, options: DcsDownlinkOptions): Delivery {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(message.data));
  } catch (error) {
    throw new Undeliverable("invalid_json", `Command is not JSON: ${errorMessage(error)}`);
  }
  let command;
  try {
    command = parseDcsCommand(value);
  } catch (error) {
    throw new Undeliverable("command_unsupported", `Invalid DCS command: ${errorMessage(error)}`);
  }
  const scope = message.subject.split(".")[3];
  if (command.scope !== scope) {
    throw new Undeliverable(
      "command_unsupported",
      `Command scope "${command.scope}" differs from the subject's "${scope}"`,
    );
  }
  if (options.scopes.length > 0 && !options.scopes.includes(scope)) {
    throw new Undeliverable(
      "command_unsupported",
      `Scope "${scope}" is not served by this edge (dcs.scopes)`,
    );
  }
  return {
    topic: dcsCommandsTopic(options.plantId, scope),
    body: JSON.stringify(command),
    userProperties: {
      "plantgate-command-id": command.commandId,
      "plantgate-command-type": command.action,
      "plantgate-scope": scope,
    },
    labels: { system: "dcs" },
    logFields: {
      commandId: command.commandId,
      action: command.action,
      scope,
      jobOrderId: command.jobOrderId,
    },
  };
}
