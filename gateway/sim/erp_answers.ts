/**
 * A simulated ERP answering the centre's commands the way the real one would: it subscribes to
 * `plant/<plant>/commands/lot`, takes the commands addressed to its system, and publishes the
 * native posting (or error report) its plugin's `simulator.answer` renders to
 * `plant/<plant>/erp/<system>/lot/events`, where the edge picks it up like any other document.
 * A command delivered twice is answered twice with the same document (same document number,
 * so the same event id): an ERP does not post one inbound IDoc/message twice.
 *
 * @module
 */
import mqtt from "mqtt";
import type { Logger } from "../core/logger.ts";
import type { Plugin } from "../core/plugin.ts";
import type { CommandDecision, SimulationContext, StockLine } from "../core/simulation.ts";

/** What the answering ERP knows about a command before deciding. */
export interface CommandSeen {
  commandId: string;
  commandType: string;
  lotId: string;
  /** The native command as the plugin encoded it. */
  body: unknown;
}

/** Options of {@linkcode answerCommands}. */
export interface AnswerOptions {
  /** Plant broker, `mqtt://host:port`. */
  url: string;
  plugin: Plugin;
  context: SimulationContext;
  /** Accept, reject, or `"ignore"` (never answer: the centre's timeout compensates). Default accept. */
  decide?: (command: CommandSeen) => CommandDecision | "ignore";
  /** First document number of the answers (keep apart from the traffic's). Default 900,000,000. */
  firstNumber?: number;
  /** The lots the ERP holds, for its answers to REPORT_LOTS. Default none. */
  stock?: () => readonly StockLine[];
  /** Delay before answering, like an ERP's inbound queue. Default 0. */
  delayMs?: number;
  clientId?: string;
  log: Logger;
}

/** A running answering ERP. */
export interface AnsweringErp {
  /** Commands answered (accepted + rejected), ignored, and not understood. */
  readonly counts: { accepted: number; rejected: number; ignored: number; unreadable: number };
  close(): Promise<void>;
}

/** Starts answering; resolves once subscribed. */
export async function answerCommands(options: AnswerOptions): Promise<AnsweringErp> {
  const { plugin, context, log } = options;
  const answer = plugin.simulator?.answer;
  if (!answer) throw new TypeError(`Plugin "${plugin.name}" cannot simulate answers`);
  const commands = `plant/${context.plantId}/commands/lot`;
  const events = `plant/${context.plantId}/erp/${context.system}/lot/events`;
  const counts = { accepted: 0, rejected: 0, ignored: 0, unreadable: 0 };
  const answered = new Map<string, number>();
  let next = options.firstNumber ?? 900_000_000;
  const client = await mqtt.connectAsync(options.url, {
    protocolVersion: 5,
    clientId: options.clientId ?? `plantgate-erp-${context.plantId}-${context.system}`,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 500,
  });
  client.on("message", async (_topic, payload, packet) => {
    const props = packet.properties?.userProperties ?? {};
    const prop = (name: string) => String(props[name] ?? "");
    if (prop("plantgate-system") !== "" && prop("plantgate-system") !== context.system) return;
    let seen: CommandSeen;
    try {
      seen = {
        commandId: prop("plantgate-command-id"),
        commandType: prop("plantgate-command-type"),
        lotId: prop("plantgate-lot-id"),
        body: JSON.parse(payload.toString()),
      };
    } catch {
      counts.unreadable++;
      return;
    }
    const decision = options.decide?.(seen) ?? { accept: true };
    if (decision === "ignore") {
      counts.ignored++;
      return;
    }
    const docNo = answered.get(seen.commandId) ?? next++;
    answered.set(seen.commandId, docNo);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    try {
      const document = answer(seen.body, decision, {
        ...context,
        docNo,
        at: new Date(),
        stock: options.stock?.() ?? [],
      });
      await client.publishAsync(events, JSON.stringify(document), { qos: 1 });
      counts[decision.accept ? "accepted" : "rejected"]++;
      log.info(decision.accept ? "ERP posted command" : "ERP rejected command", {
        commandId: seen.commandId,
        docNo,
      });
    } catch (error) {
      counts.unreadable++;
      log.warn("ERP could not answer command", { commandId: seen.commandId, error: String(error) });
    }
  });
  await client.subscribeAsync(commands, { qos: 1 });
  return {
    counts,
    close: async () => {
      await client.endAsync();
    },
  };
}
