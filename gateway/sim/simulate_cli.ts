import { parseArgs } from "node:util";
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";
import { isTimeZone } from "../core/time.ts";
import { createLogger } from "../core/logger.ts";
import type { Plugin } from "../core/plugin.ts";
import type { SimulationContext } from "../core/simulation.ts";
import { dcsCommandsTopic } from "../edge/dcs.ts";
import { DcsSimulator } from "./dcs_simulator.ts";
import { answerCommands } from "./erp_answers.ts";
import { planTraffic, publishTraffic, type SentMessage } from "./erp_simulator.ts";
import { stockOf } from "./stock.ts";

const USAGE = `Usage: main.ts simulate --erp <sap|dynamics|infor> [options]
       main.ts simulate --dcs --plant <id> --scope <scope> [--cycle-ms <n>] [--url <mqtt://h:p>]

Publishes realistic native ERP traffic for one plant to its broker (MQTT v5, QoS 1) on
plant/<plant>/erp/<system>/lot/events: lot receipts, production, splits, merges, stagings,
consumptions and reversals, with occasional unchanged re-sends and malformed messages.
Prints progress and what it sent.

Options:
  --erp <name>          plugin whose native format to speak (required)
  --plant <id>          plant id (default A)
  --system <name>       topic <system> segment (default: the ERP name)
  --url <mqtt://h:p>    plant broker (default mqtt://127.0.0.1:1883)
  --count <n>           messages to send (default 1000)
  --rate <n>            messages per second, 0 = as fast as acknowledged (default 100)
  --seed <n>            scenario seed; the same seed sends the same traffic (default 1)
  --time-zone <iana>    plant time zone for ERP-local times (default UTC)
  --resend <ratio>      share of unchanged re-sends (default 0.02)
  --malformed <ratio>   share of malformed messages (default 0.01)
  --first-number <n>    first lot/document number (default 1)
  --ship-to <ids>       comma-separated plant ids the ERP also ships lots to (stock transfers)
  --answer-commands     then keep running and answer the centre's commands on
                        plant/<plant>/commands/lot like this ERP would (post them; report the
                        stock of the lots sent for REPORT_LOTS) until Ctrl-C
  --reject <lot,...>    with --answer-commands: refuse commands for these lots

DCS mode (--dcs): a simulated machine for one scope. It takes commands on
plant/<plant>/dcs/<scope>/jobs/commands; on Run it reports FromAllowedToStartToRunning, then
after --cycle-ms (default 1000) a JobResponse (serial number, torque actuals) with
FromRunningToEnded, on plant/<plant>/dcs/<scope>/jobs/events. Runs until Ctrl-C.`;

function number(value: unknown, name: string, min: number, max = Infinity): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new RangeError(`--${name} must be a number between ${min} and ${max}, got "${value}"`);
  }
  return n;
}

function write(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
}

/** Counts of what was sent, by kind, operation and defect. */
export function summarize(messages: SentMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) {
    const key = m.kind === "document"
      ? `document:${m.op!.kind}`
      : m.kind === "malformed"
      ? `malformed:${m.defect}`
      : "resend";
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort());
}

/** `main.ts simulate`. */
export async function runSimulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      erp: { type: "string" },
      plant: { type: "string", default: "A" },
      system: { type: "string" },
      url: { type: "string", default: "mqtt://127.0.0.1:1883" },
      count: { type: "string", default: "1000" },
      rate: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      "time-zone": { type: "string", default: "UTC" },
      resend: { type: "string", default: "0.02" },
      malformed: { type: "string", default: "0.01" },
      "first-number": { type: "string", default: "1" },
      "ship-to": { type: "string" },
      "answer-commands": { type: "boolean" },
      reject: { type: "string" },
      dcs: { type: "boolean" },
      scope: { type: "string" },
      "cycle-ms": { type: "string", default: "1000" },
    },
  });
  const fail = (text: string) => {
    Deno.stderr.writeSync(new TextEncoder().encode(`${text}\n\n${USAGE}\n`));
    return 2;
  };
  if (values.help) {
    write(USAGE);
    return 0;
  }
  if (values.dcs) {
    if (!values.scope || !/^[A-Za-z0-9_-]{1,64}$/.test(values.scope)) {
      return fail(`--scope must be 1-64 letters, digits, _ or -, got "${values.scope ?? ""}"`);
    }
    let cycleMs;
    try {
      cycleMs = number(values["cycle-ms"], "cycle-ms", 0);
    } catch (error) {
      return fail((error as Error).message);
    }
    return await runDcs(values.url, values.plant, values.scope, cycleMs);
  }
  const plugin = BUILTIN_PLUGINS.get(values.erp ?? "");
  if (!plugin) {
    return fail(
      `--erp must be one of ${[...BUILTIN_PLUGINS.keys()].join(", ")}, got "${values.erp ?? ""}"`,
    );
  }
  if (!isTimeZone(values["time-zone"])) {
    return fail(`--time-zone "${values["time-zone"]}" is not an IANA time zone`);
  }
  let count, rate, seed, resendRatio, malformedRatio, firstNumber;
  try {
    count = number(values.count, "count", 1);
    rate = number(values.rate, "rate", 0);
    seed = number(values.seed, "seed", 0);
    resendRatio = number(values.resend, "resend", 0, 1);
    malformedRatio = number(values.malformed, "malformed", 0, 1);
    firstNumber = number(values["first-number"], "first-number", 1);
  } catch (error) {
    return fail((error as Error).message);
  }
  const context = {
    plantId: values.plant,
    system: values.system ?? plugin.name,
    timeZone: values["time-zone"],
  };
  const messages = planTraffic({
    plugin,
    context,
    count,
    seed,
    resendRatio,
    malformedRatio,
    firstNumber,
    shipTo: values["ship-to"]?.split(",").map((p) => p.trim()).filter((p) => p !== ""),
  });
  const started = performance.now();
  write(`Sending ${count} ${plugin.name} message(s) to ${values.url} on ${messages[0].topic}`);
  await publishTraffic(messages, {
    url: values.url,
    rate,
    onProgress: (sent) => {
      const seconds = (performance.now() - started) / 1000;
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `\r  sent ${sent}/${count} (${Math.round(sent / Math.max(seconds, 0.001))}/s)   `,
        ),
      );
    },
  });
  Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  write(`Sent ${count} message(s) in ${((performance.now() - started) / 1000).toFixed(1)} s:`);
  for (const [kind, n] of Object.entries(summarize(messages))) write(`  ${kind.padEnd(36)} ${n}`);
  if (!values["answer-commands"]) return 0;
  return await answerUntilStopped(values.url, plugin, context, messages, values.reject);
}

/** Answers commands like the ERP until SIGINT/SIGTERM; prints what it answered. */
async function answerUntilStopped(
  url: string,
  plugin: Plugin,
  context: SimulationContext,
  sent: SentMessage[],
  reject: string | undefined,
): Promise<number> {
  const refused = new Set(reject?.split(",").map((l) => l.trim()));
  const ops = sent.filter((m) => m.kind === "document").map((m) => m.op!);
  const erp = await answerCommands({
    url,
    plugin,
    context,
    stock: () => stockOf(ops),
    decide: (c) =>
      refused.has(c.lotId)
        ? { accept: false, reason: `lot ${c.lotId} is blocked` }
        : { accept: true },
    log: createLogger({ level: "info" }),
  });
  const topic = `plant/${context.plantId}/commands/lot`;
  write(`Answering commands on ${topic} as ${plugin.name}; Ctrl-C stops`);
  const { promise, resolve } = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
  await promise;
  await erp.close();
  write(`Answered: ${JSON.stringify(erp.counts)}`);
  return 0;
}

/** Runs the DCS simulator until SIGINT/SIGTERM; prints each event it reports. */
async function runDcs(url: string, plantId: string, scope: string, cycleMs: number) {
  const dcs = new DcsSimulator({
    url,
    plantId,
    scope,
    cycleMs,
    log: createLogger({ level: "warn" }),
    onEvent: (e) =>
      write(`${e.at} ${e.jobOrderId} ${e.transition}${e.response ? " +response" : ""}`),
  });
  await dcs.start();
  write(
    `DCS ${scope} of plant ${plantId} listening on ${
      dcsCommandsTopic(plantId, scope)
    }; Ctrl-C stops`,
  );
  const { promise, resolve } = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
  await promise;
  await dcs.stop();
  return 0;
}
