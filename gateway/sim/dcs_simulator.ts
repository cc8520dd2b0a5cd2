/**
 * A DCS simulator for one machine (scope): takes commands on
 * `plant/<plant>/dcs/<scope>/jobs/commands` and reports job events on `.../jobs/events` (QoS 1,
 * MQTT v5), in the formats of `gateway/central/jobs/DCS.md`. On `Run` it reports
 * FromAllowedToStartToRunning, then after `cycleMs` a JobResponse with process data (serial
 * number, torque actuals) together with FromRunningToEnded. Event ids derive from the command id,
 * so a re-delivered command yields the same events (deduplicated downstream).
 *
 * @module
 */
import mqtt from "mqtt";
import {
  type DcsCommand,
  type DcsEvent,
  dcsEventId,
  parseDcsCommand,
} from "../central/jobs/dcs_message.ts";
import type { JobResponse } from "../central/jobs/store.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { dcsCommandsTopic, dcsEventsTopic } from "../edge/dcs.ts";

/** Options of {@linkcode DcsSimulator}. */
export interface DcsSimulatorOptions {
  /** Plant broker, `mqtt://host:port`. */
  url: string;
  plantId: string;
  scope: string;
  /** Time a job runs. Default 1000 ms. */
  cycleMs?: number;
  log: Logger;
  /** Told of every event published (tests, the CLI's progress). */
  onEvent?: (event: DcsEvent) => void;
}

/** A running simulated DCS; `stop()` ends it (jobs still running are left as they are). */
export class DcsSimulator {
  readonly #options: DcsSimulatorOptions;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #client: mqtt.MqttClient | undefined;
  #serial = 0;

  constructor(options: DcsSimulatorOptions) {
    this.#options = options;
  }

  /** Connects (persistent session, QoS 1) and subscribes to the scope's commands. */
  async start(): Promise<void> {
    const { url, plantId, scope, log } = this.#options;
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: `dcs-sim-${plantId}-${scope}`,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 500,
    });
    this.#client = client;
    client.on("message", (_topic, payload) => {
      this.#onCommand(payload.toString()).catch((error) =>
        log.warn("DCS simulator cannot handle a command", { error: errorMessage(error) })
      );
    });
    await client.subscribeAsync(dcsCommandsTopic(plantId, scope), { qos: 1 });
    log.info("DCS simulator listening", { topic: dcsCommandsTopic(plantId, scope) });
  }

  /** Disconnects; pending cycle ends are dropped. */
  async stop(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#client?.endAsync();
  }

  async #onCommand(text: string): Promise<void> {
    const command = parseDcsCommand(JSON.parse(text));
    const id = command.jobOrderId;
    this.#options.log.info("DCS command", { action: command.action, jobOrderId: id });
    if (command.action === "Run") {
      await this.#report(command, "FromAllowedToStartToRunning");
      this.#schedule(command);
    } else if (command.action === "Abort") {
      clearTimeout(this.#timers.get(id));
      this.#timers.delete(id);
      await this.#report(command, "Abort");
    } else if (command.action === "Pause") {
      clearTimeout(this.#timers.get(id));
      this.#timers.delete(id);
      await this.#report(command, "Pause");
    } else {
      await this.#report(command, "Resume");
      this.#schedule(command);
    }
  }

  #schedule(command: DcsCommand): void {
    const timer = setTimeout(() => {
      this.#timers.delete(command.jobOrderId);
      this.#report(command, "FromRunningToEnded", this.#response(command)).catch((error) =>
        this.#options.log.warn("DCS simulator cannot report", { error: errorMessage(error) })
      );
    }, this.#options.cycleMs ?? 1000);
    this.#timers.set(command.jobOrderId, timer);
  }

  /** Process data of a finished job: serial number and torque actuals. */
  #response(command: DcsCommand): JobResponse {
    const serial = `SN-${this.#options.scope}-${String(++this.#serial).padStart(6, "0")}`;
    const torque = [41.8, 42.1, 41.9].map((t) => t + (this.#serial % 7) / 10);
    return {
      JobResponseID: `JR-${command.jobOrderId}-${command.commandId.slice(0, 8)}`,
      JobOrderID: command.jobOrderId,
      StartTime: command.issuedAt,
      EndTime: new Date().toISOString(),
      JobState: [{ StateText: { Text: "Ended", Locale: "en" }, StateNumber: 5 }],
      JobResponseData: [
        { ID: "SerialNumber", Value: serial },
        { ID: "TorqueActual", Value: torque, EngineeringUnits: "N.m" },
      ],
    };
  }

  async #report(command: DcsCommand, transition: string, response?: JobResponse): Promise<void> {
    const { plantId, scope } = this.#options;
    const event = {
      eventId: dcsEventId(plantId, scope, {
        jobOrderId: command.jobOrderId,
        transition,
        run: command.commandId,
      }),
      scope,
      jobOrderId: command.jobOrderId,
      transition,
      ...(response ? { response } : {}),
      at: new Date().toISOString(),
    } as DcsEvent;
    await this.#client!.publishAsync(dcsEventsTopic(plantId, scope), JSON.stringify(event), {
      qos: 1,
    });
    this.#options.onEvent?.(event);
  }
}
